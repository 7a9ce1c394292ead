//! How values go on the wire. By default ids, prices, counts and sums are JSON strings, as in every
//! documented example; in numbers mode they are JSON numbers (reference §8.1). Identifiers that do
//! not fit a double (`steamid`, `tradeofferid`) and `classid` stay strings in both modes.

use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::Number;

use super::market::ListingView;
use super::purchase::SandboxPurchase;
use crate::domain::Usd;

/// A JSON value whose objects keep their field order, as PHP's `json_encode` does (`status`
/// first, `id, name, price, classid` in that order). `serde_json::Value` would sort the keys.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum J {
    Null,
    Bool(bool),
    Num(Number),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(&'static str, J)>),
}

impl J {
    /// Appends the fields of another object (no-op for non-objects).
    pub fn extend(&mut self, other: J) {
        if let (J::Obj(mine), J::Obj(theirs)) = (self, other) {
            mine.extend(theirs);
        }
    }

    pub(crate) fn to_json(&self) -> String {
        // Serializing this type into a String cannot fail (no non-string keys, no I/O).
        serde_json::to_string(self).unwrap_or_default()
    }
}

pub(crate) fn obj<const N: usize>(fields: [(&'static str, J); N]) -> J {
    J::Obj(fields.into())
}

impl From<&str> for J {
    fn from(s: &str) -> J {
        J::Str(s.to_string())
    }
}

impl From<String> for J {
    fn from(s: String) -> J {
        J::Str(s)
    }
}

impl From<Option<String>> for J {
    fn from(s: Option<String>) -> J {
        s.map_or(J::Null, J::Str)
    }
}

impl From<bool> for J {
    fn from(b: bool) -> J {
        J::Bool(b)
    }
}

impl From<i32> for J {
    fn from(n: i32) -> J {
        J::Num(n.into())
    }
}

impl From<Vec<J>> for J {
    fn from(v: Vec<J>) -> J {
        J::Arr(v)
    }
}

impl Serialize for J {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            J::Null => s.serialize_unit(),
            J::Bool(b) => s.serialize_bool(*b),
            J::Num(n) => n.serialize(s),
            J::Str(t) => s.serialize_str(t),
            J::Arr(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for i in items {
                    seq.serialize_element(i)?;
                }
                seq.end()
            }
            J::Obj(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Render {
    pub numbers: bool,
}

impl Render {
    /// A numeric text as a string, or as a JSON number in numbers mode.
    pub(crate) fn num_text(&self, text: String) -> J {
        if self.numbers {
            if let Ok(n) = Number::from_str(&text) {
                return J::Num(n);
            }
        }
        J::Str(text)
    }

    /// A price or debited sum: always two decimals.
    pub fn money(&self, u: Usd) -> J {
        self.num_text(u.wire())
    }

    /// A balance: three decimals (observed upstream).
    pub fn balance(&self, d: Decimal) -> J {
        self.num_text(balance_text(d))
    }

    pub(crate) fn int(&self, n: u64) -> J {
        if self.numbers {
            J::Num(n.into())
        } else {
            J::Str(n.to_string())
        }
    }

    pub fn listing(&self, l: &ListingView<'_>) -> J {
        obj([
            ("id", self.int(l.id.get())),
            ("name", l.name.into()),
            ("price", self.money(l.price)),
            ("classid", l.classid.into()),
        ])
    }

    fn purchase_item(&self, p: &SandboxPurchase) -> J {
        obj([
            ("id", self.int(p.id.get())),
            ("name", p.name.as_str().into()),
            ("price", self.money(p.price)),
            ("classid", p.classid.as_str().into()),
        ])
    }

    /// The success body of `market_buy` without `status`; also a `purchased[]` element and the
    /// `buy_item` event's data.
    pub fn bought(&self, p: &SandboxPurchase) -> J {
        obj([
            ("item", self.purchase_item(p)),
            ("buy_id", self.int(p.buy_id.get())),
            ("offer_status", p.offer_status.as_str().into()),
            ("balance_debited_sum", self.money(p.debited)),
            ("custom_id", p.custom_id.clone().into()),
        ])
    }

    /// A purchase as `market_getinfo` / `market_history` show it.
    pub fn info(&self, p: &SandboxPurchase) -> J {
        obj([
            ("item", self.purchase_item(p)),
            ("buy_id", self.int(p.buy_id.get())),
            ("offer_status", p.offer_status.as_str().into()),
            ("steamid", p.steamid.as_str().into()),
            ("date", self.int(p.date)),
            ("balance_debited_sum", self.money(p.debited)),
            ("tradeofferid", p.tradeofferid.clone().into()),
            ("custom_id", p.custom_id.clone().into()),
            ("error_reason", J::Null),
        ])
    }

    /// The `balance_change` event's data.
    pub(crate) fn balance_change(&self, balance: Decimal) -> J {
        obj([("balance_value", self.balance(balance))])
    }

    pub fn status_change(&self, p: &SandboxPurchase) -> J {
        obj([
            ("item", obj([("id", self.int(p.id.get()))])),
            ("buy_id", self.int(p.buy_id.get())),
            ("offer_status", p.offer_status.as_str().into()),
            ("error_reason", J::Null),
            ("tradeofferid", p.tradeofferid.clone().into()),
            ("custom_id", p.custom_id.clone().into()),
        ])
    }
}

pub(crate) fn balance_text(d: Decimal) -> String {
    format!("{:.3}", d.round_dp_with_strategy(3, RoundingStrategy::MidpointAwayFromZero))
}

/// `{"status":"success", …fields}`.
pub fn success(fields: Vec<(&'static str, J)>) -> J {
    let mut all = Vec::with_capacity(fields.len() + 1);
    all.push(("status", J::Str("success".into())));
    all.extend(fields);
    J::Obj(all)
}

/// Text that is not a number, for the malformed-response fault.
pub(crate) const NOT_A_NUMBER: &str = "12,34 USD";

/// The malformed-response fault: every money field becomes text that is not a number, which a
/// careful client must reject rather than read as zero.
pub(crate) fn corrupt(v: &mut J) {
    match v {
        J::Obj(fields) => {
            for (k, val) in fields.iter_mut() {
                if matches!(*k, "price" | "balance" | "balance_debited_sum" | "balance_value") {
                    *val = J::Str(NOT_A_NUMBER.into());
                } else {
                    corrupt(val);
                }
            }
        }
        J::Arr(items) => items.iter_mut().for_each(corrupt),
        _ => {}
    }
}

/// The omitted-custom_id fault: removes every `key` field, at any depth.
pub(crate) fn remove_field(v: &mut J, key: &str) {
    match v {
        J::Obj(fields) => {
            fields.retain(|(k, _)| *k != key);
            fields.iter_mut().for_each(|(_, val)| remove_field(val, key));
        }
        J::Arr(items) => items.iter_mut().for_each(|i| remove_field(i, key)),
        _ => {}
    }
}

/// Writes a JSON string literal (escaped) into a byte buffer; used for the big price list.
pub(crate) fn push_json_str(out: &mut Vec<u8>, s: &str) {
    // serde_json's escaping; writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

pub(crate) fn push_value(out: &mut Vec<u8>, v: &J) {
    let _ = serde_json::to_writer(&mut *out, v);
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;
    use serde_json::json;

    fn v(j: &J) -> serde_json::Value {
        serde_json::from_str(&j.to_json()).unwrap_or_default()
    }

    #[test]
    fn strings_by_default_numbers_on_request() {
        let s = Render { numbers: false };
        let n = Render { numbers: true };
        assert_eq!(v(&s.money(Usd::new(dec!(11.5)))), json!("11.50"));
        assert_eq!(n.money(Usd::new(dec!(11.5))).to_json(), "11.5");
        assert_eq!(v(&n.int(7)), json!(7));
        assert_eq!(v(&s.balance(dec!(1520.375))), json!("1520.375"));
        assert_eq!(v(&s.balance(dec!(1000))), json!("1000.000"));
    }

    #[test]
    fn corrupt_replaces_money_fields_only() {
        let mut j = success(vec![
            ("items", J::Arr(vec![obj([("name", "x".into()), ("price", "1.00".into()), ("count", "2".into())])])),
            ("balance", "3.000".into()),
        ]);
        corrupt(&mut j);
        assert_eq!(
            j.to_json(),
            r#"{"status":"success","items":[{"name":"x","price":"12,34 USD","count":"2"}],"balance":"12,34 USD"}"#
        );
    }

    #[test]
    fn remove_field_takes_a_key_out_at_every_depth() {
        let mut j = success(vec![
            ("purchased", J::Arr(vec![obj([("buy_id", "1".into()), ("custom_id", "a".into())])])),
            ("custom_id", J::Null),
        ]);
        remove_field(&mut j, "custom_id");
        assert_eq!(j.to_json(), r#"{"status":"success","purchased":[{"buy_id":"1"}]}"#);
    }

    #[test]
    fn objects_keep_their_field_order() {
        let j = obj([
            ("status", "error".into()),
            ("error_code", (-3).into()),
            ("error_message", "invalid_signature".into()),
        ]);
        assert_eq!(j.to_json(), r#"{"status":"error","error_code":-3,"error_message":"invalid_signature"}"#);
    }
}
