//! Response types of the withdraw-side methods, as the reference describes them.
//!
//! SkinsBack sends ids, prices, counts and sums as JSON strings in its examples and as numbers in some
//! clients' types, so every numeric field here accepts either; money always lands in `Decimal`
//! newtypes. Anything else (a missing field, `true` where a price belongs, `"12,5"`) is an error
//! naming the field — never a silent zero.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::domain::money::parse_decimal;
use crate::domain::{BuyId, CurrencyCode, ItemId, OfferStatus, Rates, Usd};

/// Deserializers that take a JSON string or a JSON number.
pub(crate) mod lenient {
    use super::*;
    use serde::de::Error;

    fn scalar_text<'de, D: Deserializer<'de>>(d: D, what: &str) -> Result<String, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(s),
            // serde_json renders a number as its shortest round-trip text ("11.87"), so a decimal
            // written as a JSON number reaches `Decimal` without a binary-float detour.
            Value::Number(n) => Ok(n.to_string()),
            other => Err(D::Error::custom(format!("expected {what} as a JSON string or number, got {}", kind(&other)))),
        }
    }

    fn kind(v: &Value) -> String {
        match v {
            Value::Null => "null".into(),
            Value::Bool(b) => b.to_string(),
            Value::Array(_) => "an array".into(),
            Value::Object(_) => "an object".into(),
            Value::String(s) => format!("\"{s}\""),
            Value::Number(n) => n.to_string(),
        }
    }

    pub fn decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        let text = scalar_text(d, "a decimal number")?;
        parse_decimal(&text).map_err(|_| D::Error::custom(format!("expected a decimal number, got \"{text}\"")))
    }

    pub fn usd<'de, D: Deserializer<'de>>(d: D) -> Result<Usd, D::Error> {
        let v = decimal(d)?;
        if v.is_sign_negative() && !v.is_zero() {
            return Err(D::Error::custom(format!("expected an amount of zero or more, got {v}")));
        }
        Ok(Usd::new(v))
    }

    pub fn opt_usd<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Usd>, D::Error> {
        #[derive(Deserialize)]
        struct W(#[serde(deserialize_with = "usd")] Usd);
        Ok(Option::<W>::deserialize(d)?.map(|w| w.0))
    }

    pub fn u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let text = scalar_text(d, "a non-negative integer")?;
        text.trim()
            .parse::<u64>()
            .map_err(|_| D::Error::custom(format!("expected a non-negative integer, got \"{text}\"")))
    }

    pub fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        #[derive(Deserialize)]
        struct W(#[serde(deserialize_with = "u64")] u64);
        Ok(Option::<W>::deserialize(d)?.map(|w| w.0))
    }

    pub fn item_id<'de, D: Deserializer<'de>>(d: D) -> Result<ItemId, D::Error> {
        u64(d).map(ItemId::new)
    }

    pub fn i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        let text = scalar_text(d, "an integer")?;
        text.trim().parse::<i64>().map_err(|_| D::Error::custom(format!("expected an integer, got \"{text}\"")))
    }

    pub fn buy_id<'de, D: Deserializer<'de>>(d: D) -> Result<BuyId, D::Error> {
        u64(d).map(BuyId::new)
    }

    /// An id-like text field that some clients type as a number (`tradeofferid`, `steamid`, `classid`).
    pub fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        match Value::deserialize(d)? {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s)),
            Value::Number(n) => Ok(Some(n.to_string())),
            other => Err(D::Error::custom(format!("expected a string or number, got {}", kind(&other)))),
        }
    }

    /// A boolean that PHP may render as `true`, `1`, `"1"`, `"true"` (and the opposites).
    pub fn bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        match Value::deserialize(d)? {
            Value::Bool(b) => Ok(b),
            Value::Number(n) if n.as_u64() == Some(1) => Ok(true),
            Value::Number(n) if n.as_u64() == Some(0) => Ok(false),
            Value::String(s) if s == "1" || s == "true" => Ok(true),
            Value::String(s) if s.is_empty() || s == "0" || s == "false" => Ok(false),
            other => Err(D::Error::custom(format!("expected a boolean, got {}", kind(&other)))),
        }
    }
}

/// An individual listing (`market_pricelist` with `full=1`, `market_search`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Listing {
    #[serde(deserialize_with = "lenient::item_id")]
    pub id: ItemId,
    pub name: String,
    #[serde(deserialize_with = "lenient::usd")]
    pub price: Usd,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub classid: Option<String>,
}

/// The exchange's edge: a decoded listing becomes the domain's (its `classid` is not used by decisions).
impl From<Listing> for crate::domain::Listing {
    fn from(l: Listing) -> Self {
        crate::domain::Listing { id: l.id, name: l.name, price: l.price }
    }
}

/// One line of the grouped price list: the lowest price of a name and how many are on sale.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PriceGroup {
    pub name: String,
    #[serde(deserialize_with = "lenient::usd")]
    pub price: Usd,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub classid: Option<String>,
    #[serde(deserialize_with = "lenient::u64")]
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PriceList<T> {
    /// When the list was built (unix seconds as text, format not documented: kept as received).
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub last_update: Option<String>,
    pub items: Vec<T>,
}

impl<T> PriceList<T> {
    /// The same list with each item converted.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> PriceList<U> {
        PriceList { last_update: self.last_update, items: self.items.into_iter().map(f).collect() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct Items<T> {
    pub items: Vec<T>,
}

/// The item part of a purchase: the listing that was bought.
pub type PurchasedItem = Listing;

/// A successful buy (`market_buy`, and each `purchased[]` element of `market_batch_buy`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Purchase {
    pub item: PurchasedItem,
    #[serde(deserialize_with = "lenient::buy_id")]
    pub buy_id: BuyId,
    pub offer_status: OfferStatus,
    #[serde(deserialize_with = "lenient::usd")]
    pub balance_debited_sum: Usd,
    #[serde(default)]
    pub custom_id: Option<String>,
}

/// An item of a batch that was not bought.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Unavailable {
    #[serde(deserialize_with = "lenient::item_id")]
    pub id: ItemId,
    #[serde(default)]
    pub custom_id: Option<String>,
    #[serde(deserialize_with = "lenient::i64")]
    pub error_code: i64,
    pub error_message: String,
}

impl Unavailable {
    pub fn reason(&self) -> super::Rejection {
        super::Rejection::from_token(self.error_code, &self.error_message)
    }
}

/// `market_batch_buy`: partial success is normal.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BatchResult {
    #[serde(default)]
    pub purchased: Vec<Purchase>,
    #[serde(default)]
    pub unavailable: Vec<Unavailable>,
}

/// A purchase as `market_getinfo` and `market_history` report it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PurchaseInfo {
    pub item: PurchasedItem,
    #[serde(deserialize_with = "lenient::buy_id")]
    pub buy_id: BuyId,
    pub offer_status: OfferStatus,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub steamid: Option<String>,
    /// Unix seconds.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub date: Option<u64>,
    #[serde(default, deserialize_with = "lenient::opt_usd")]
    pub balance_debited_sum: Option<Usd>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub tradeofferid: Option<String>,
    #[serde(default)]
    pub custom_id: Option<String>,
    #[serde(default)]
    pub error_reason: Option<String>,
}

/// One page of `market_history`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct HistoryPage {
    #[serde(deserialize_with = "lenient::u64")]
    pub total_count: u64,
    #[serde(deserialize_with = "lenient::bool")]
    pub has_more: bool,
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub start_from: Option<u64>,
    pub items: Vec<PurchaseInfo>,
}

/// The project balance (USD) and its totals.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Balance {
    #[serde(deserialize_with = "lenient::usd")]
    pub balance: Usd,
    #[serde(default, deserialize_with = "decimal_map")]
    pub balance_in_currencies: BTreeMap<String, Decimal>,
    #[serde(default, deserialize_with = "lenient::opt_usd")]
    pub deals_sum: Option<Usd>,
    #[serde(default, deserialize_with = "lenient::opt_usd")]
    pub withdraw_sum: Option<Usd>,
}

fn decimal_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, Decimal>, D::Error> {
    #[derive(Deserialize)]
    struct W(#[serde(deserialize_with = "lenient::decimal")] Decimal);
    let raw: Option<BTreeMap<String, W>> = Option::deserialize(d)?;
    Ok(raw.unwrap_or_default().into_iter().map(|(k, v)| (k, v.0)).collect())
}

/// One currency of the `currencies` method: `rate` units per 1 USD.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CurrencyRate {
    pub code: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(deserialize_with = "lenient::decimal")]
    pub rate: Decimal,
}

/// Builds [`Rates`] from the `currencies` list; a bad code or a non-positive rate is an error naming it.
pub fn rates_from(items: &[CurrencyRate]) -> Result<Rates, String> {
    let mut rates = Rates::new();
    for (i, c) in items.iter().enumerate() {
        let code: CurrencyCode = c.code.parse().map_err(|e| format!("items[{i}].code: {e}"))?;
        rates.insert(code, c.rate).map_err(|e| format!("items[{i}].rate: {e}"))?;
    }
    Ok(rates)
}

/// `status`: whether the market can sell now.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ServerStatus {
    #[serde(deserialize_with = "lenient::bool")]
    pub available: bool,
    #[serde(default)]
    pub reason: Option<String>,
}

/// The envelope: `status` plus, on errors, `error_code` and `error_message`.
#[derive(Debug, Deserialize)]
pub(crate) struct Envelope {
    pub status: Option<Value>,
    #[serde(default)]
    pub error_code: Option<Value>,
    #[serde(default)]
    pub error_message: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn parse<T: for<'de> Deserialize<'de>>(json: &str) -> Result<T, String> {
        let de = &mut serde_json::Deserializer::from_str(json);
        serde_path_to_error::deserialize(de).map_err(|e| format!("{} | {}", e.path(), e.inner()))
    }

    #[test]
    fn numbers_are_accepted_as_strings_or_numbers() {
        let s: PriceGroup = parse(r#"{"name":"A","price":"11.87","classid":"310777185","count":"14"}"#).unwrap();
        let n: PriceGroup = parse(r#"{"name":"A","price":11.87,"classid":310777185,"count":14}"#).unwrap();
        assert_eq!(s, n);
        assert_eq!(s.price.amount(), dec!(11.87));
    }

    #[test]
    fn a_bad_price_is_an_error_naming_the_field_not_a_zero() {
        let e = parse::<PriceList<PriceGroup>>(
            r#"{"items":[{"name":"A","price":"1.00","count":1},{"name":"B","price":true,"count":1}]}"#,
        )
        .unwrap_err();
        assert!(e.starts_with("items[1].price |"), "{e}");
        let e = parse::<PriceGroup>(r#"{"name":"A","price":"12,50","count":1}"#).unwrap_err();
        assert!(e.contains("price"), "{e}");
        let e = parse::<PriceGroup>(r#"{"name":"A","price":"-1","count":1}"#).unwrap_err();
        assert!(e.contains("zero or more"), "{e}");
        let e = parse::<PriceGroup>(r#"{"name":"A","price":"1"}"#).unwrap_err();
        assert!(e.contains("count"), "{e}");
    }

    #[test]
    fn history_page_reads_the_reference_example() {
        let page: HistoryPage = parse(
            r#"{"status":"success","total_count":"2","has_more":false,"start_from":"0","items":[
 {"item":{"id":"48151","name":"AK-47 | Redline (Field-Tested)","price":"11.87","classid":"310777185"},
  "buy_id":"903112","offer_status":"accepted","steamid":"76561198000000001","date":"1718000123",
  "tradeofferid":"7012345678","balance_debited_sum":"11.87","custom_id":"order-42"}]}"#,
        )
        .unwrap();
        assert_eq!(page.total_count, 2);
        assert_eq!(page.items[0].offer_status, OfferStatus::Accepted);
        assert_eq!(page.items[0].date, Some(1718000123));
    }

    #[test]
    fn balance_keeps_three_decimals() {
        let b: Balance = parse(r#"{"status":"success","balance":"1520.375","balance_in_currencies":{"usd":"1520.375","eur":1401.2},"deals_sum":"9800.000","withdraw_sum":"8279.625"}"#).unwrap();
        assert_eq!(b.balance.amount(), dec!(1520.375));
        assert_eq!(b.balance_in_currencies["eur"], dec!(1401.2));
    }

    #[test]
    fn currencies_become_rates() {
        let c: Items<CurrencyRate> = parse(
            r#"{"items":[{"code":"usd","name":"US Dollar","rate":"1"},{"code":"eur","name":"Euro","rate":"0.92"}]}"#,
        )
        .unwrap();
        let r = rates_from(&c.items).unwrap();
        assert_eq!(r.get(&"eur".parse().unwrap()), Some(dec!(0.92)));
        let bad: Items<CurrencyRate> = parse(r#"{"items":[{"code":"eur","rate":"0"}]}"#).unwrap();
        assert!(rates_from(&bad.items).unwrap_err().starts_with("items[0].rate"));
    }
}
