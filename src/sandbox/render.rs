//! How values go on the wire. By default ids, prices, counts and sums are JSON strings, as in every
//! documented example; in numbers mode they are JSON numbers (reference §8.1). Identifiers that do
//! not fit a double (`steamid`, `tradeofferid`) and `classid` stay strings in both modes.

use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{json, Map, Number, Value};

use super::market::ListingView;
use super::state::SandboxPurchase;
use crate::domain::Usd;

#[derive(Debug, Clone, Copy)]
pub struct Render {
    pub numbers: bool,
}

impl Render {
    /// A numeric text as a string, or as a JSON number in numbers mode.
    pub fn num_text(&self, text: String) -> Value {
        if self.numbers {
            if let Ok(n) = Number::from_str(&text) {
                return Value::Number(n);
            }
        }
        Value::String(text)
    }

    /// A price or debited sum: always two decimals.
    pub fn money(&self, u: Usd) -> Value {
        self.num_text(u.wire())
    }

    /// A balance: three decimals (observed upstream).
    pub fn balance(&self, d: Decimal) -> Value {
        self.num_text(balance_text(d))
    }

    pub fn int(&self, n: u64) -> Value {
        if self.numbers {
            Value::Number(n.into())
        } else {
            Value::String(n.to_string())
        }
    }

    pub fn listing(&self, l: &ListingView<'_>) -> Value {
        json!({ "id": self.int(l.id.get()), "name": l.name, "price": self.money(l.price), "classid": l.classid })
    }

    fn purchase_item(&self, p: &SandboxPurchase) -> Value {
        json!({ "id": self.int(p.id.get()), "name": p.name, "price": self.money(p.price), "classid": p.classid })
    }

    /// The success body of `market_buy` without `status`; also a `purchased[]` element and the
    /// `buy_item` event's data.
    pub fn bought(&self, p: &SandboxPurchase) -> Value {
        json!({
            "item": self.purchase_item(p),
            "buy_id": self.int(p.buy_id.get()),
            "offer_status": p.offer_status.as_str(),
            "balance_debited_sum": self.money(p.debited),
            "custom_id": p.custom_id,
        })
    }

    /// A purchase as `market_getinfo` / `market_history` show it.
    pub fn info(&self, p: &SandboxPurchase) -> Value {
        json!({
            "item": self.purchase_item(p),
            "buy_id": self.int(p.buy_id.get()),
            "offer_status": p.offer_status.as_str(),
            "steamid": p.steamid,
            "date": self.int(p.date),
            "balance_debited_sum": self.money(p.debited),
            "tradeofferid": p.tradeofferid,
            "custom_id": p.custom_id,
            "error_reason": Value::Null,
        })
    }

    pub fn status_change(&self, p: &SandboxPurchase) -> Value {
        json!({
            "item": { "id": self.int(p.id.get()) },
            "buy_id": self.int(p.buy_id.get()),
            "offer_status": p.offer_status.as_str(),
            "error_reason": Value::Null,
            "tradeofferid": p.tradeofferid,
            "custom_id": p.custom_id,
        })
    }
}

pub fn balance_text(d: Decimal) -> String {
    format!("{:.3}", d.round_dp_with_strategy(3, RoundingStrategy::MidpointAwayFromZero))
}

/// `{"status":"success", …fields}`.
pub fn success(fields: Map<String, Value>) -> Value {
    let mut m = Map::with_capacity(fields.len() + 1);
    m.insert("status".into(), Value::String("success".into()));
    m.extend(fields);
    Value::Object(m)
}

/// The malformed-response fault: every money field becomes text that is not a number, which a
/// careful client must reject rather than read as zero.
pub fn corrupt(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, val) in m.iter_mut() {
                if matches!(k.as_str(), "price" | "balance" | "balance_debited_sum" | "balance_value") {
                    *val = Value::String("12,34 USD".into());
                } else {
                    corrupt(val);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(corrupt),
        _ => {}
    }
}

/// Writes a JSON string literal (escaped) into a byte buffer; used for the big price list.
pub fn push_json_str(out: &mut Vec<u8>, s: &str) {
    // serde_json's escaping; writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

pub fn push_value(out: &mut Vec<u8>, v: &Value) {
    let _ = serde_json::to_writer(&mut *out, v);
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn strings_by_default_numbers_on_request() {
        let s = Render { numbers: false };
        let n = Render { numbers: true };
        assert_eq!(s.money(Usd::new(dec!(11.5))), json!("11.50"));
        assert_eq!(n.money(Usd::new(dec!(11.5))).to_string(), "11.5");
        assert_eq!(n.int(7), json!(7));
        assert_eq!(s.balance(dec!(1520.375)), json!("1520.375"));
        assert_eq!(s.balance(dec!(1000)), json!("1000.000"));
    }

    #[test]
    fn corrupt_replaces_money_fields_only() {
        let mut v = json!({"status":"success","items":[{"name":"x","price":"1.00","count":"2"}],"balance":"3.000"});
        corrupt(&mut v);
        assert_eq!(v["items"][0]["price"], json!("12,34 USD"));
        assert_eq!(v["items"][0]["count"], json!("2"));
        assert_eq!(v["balance"], json!("12,34 USD"));
    }
}
