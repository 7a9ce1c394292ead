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
    use serde::de::{Error, IgnoredAny, MapAccess, SeqAccess, Visitor};
    use std::borrow::Cow;
    use std::fmt;

    /// One JSON scalar as met in the body: strings borrowed when they have no escapes, numbers as
    /// parsed. Reading it builds no `serde_json::Value`.
    pub(crate) enum Scalar<'a> {
        Str(Cow<'a, str>),
        U64(u64),
        I64(i64),
        F64(f64),
        Bool(bool),
        Null,
        Array,
        Object,
    }

    impl Scalar<'_> {
        /// The text of a string, or of a number as serde_json renders it: the shortest round-trip
        /// text ("11.87"), so a decimal written as a JSON number reaches `Decimal` without a
        /// binary-float detour.
        fn text(&self) -> Option<Cow<'_, str>> {
            match self {
                Scalar::Str(s) => Some(Cow::Borrowed(s.as_ref())),
                Scalar::U64(n) => Some(Cow::Owned(n.to_string())),
                Scalar::I64(n) => Some(Cow::Owned(n.to_string())),
                Scalar::F64(f) => serde_json::Number::from_f64(*f).map(|n| Cow::Owned(n.to_string())),
                _ => None,
            }
        }

        fn kind(&self) -> String {
            match self {
                Scalar::Null => "null".into(),
                Scalar::Bool(b) => b.to_string(),
                Scalar::Array => "an array".into(),
                Scalar::Object => "an object".into(),
                Scalar::Str(s) => format!("\"{s}\""),
                other => other.text().map(Cow::into_owned).unwrap_or_default(),
            }
        }
    }

    impl<'de> Deserialize<'de> for Scalar<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(ScalarVisitor)
        }
    }

    struct ScalarVisitor;

    impl<'de> Visitor<'de> for ScalarVisitor {
        type Value = Scalar<'de>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_borrowed_str<E: Error>(self, v: &'de str) -> Result<Scalar<'de>, E> {
            Ok(Scalar::Str(Cow::Borrowed(v)))
        }
        fn visit_str<E: Error>(self, v: &str) -> Result<Scalar<'de>, E> {
            Ok(Scalar::Str(Cow::Owned(v.to_string())))
        }
        fn visit_string<E: Error>(self, v: String) -> Result<Scalar<'de>, E> {
            Ok(Scalar::Str(Cow::Owned(v)))
        }
        fn visit_u64<E: Error>(self, v: u64) -> Result<Scalar<'de>, E> {
            Ok(Scalar::U64(v))
        }
        fn visit_i64<E: Error>(self, v: i64) -> Result<Scalar<'de>, E> {
            Ok(Scalar::I64(v))
        }
        fn visit_f64<E: Error>(self, v: f64) -> Result<Scalar<'de>, E> {
            Ok(Scalar::F64(v))
        }
        fn visit_bool<E: Error>(self, v: bool) -> Result<Scalar<'de>, E> {
            Ok(Scalar::Bool(v))
        }
        fn visit_unit<E: Error>(self) -> Result<Scalar<'de>, E> {
            Ok(Scalar::Null)
        }
        fn visit_none<E: Error>(self) -> Result<Scalar<'de>, E> {
            Ok(Scalar::Null)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Scalar<'de>, D::Error> {
            d.deserialize_any(self)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar<'de>, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(Scalar::Array)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar<'de>, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(Scalar::Object)
        }
    }

    /// Runs `f` on the text of a JSON string or number; anything else is an error saying what came.
    fn with_text<'de, D: Deserializer<'de>, T>(
        d: D,
        what: &str,
        f: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, D::Error> {
        let scalar = Scalar::deserialize(d)?;
        match scalar.text() {
            Some(text) => f(&text).map_err(D::Error::custom),
            None => Err(D::Error::custom(format!("expected {what} as a JSON string or number, got {}", scalar.kind()))),
        }
    }

    pub fn decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        with_text(d, "a decimal number", |text| {
            parse_decimal(text).map_err(|_| format!("expected a decimal number, got \"{text}\""))
        })
    }

    pub fn usd<'de, D: Deserializer<'de>>(d: D) -> Result<Usd, D::Error> {
        let v = decimal(d)?;
        if v.is_sign_negative() && !v.is_zero() {
            return Err(D::Error::custom(format!("expected an amount of zero or more, got {v}")));
        }
        Ok(Usd::new(v))
    }

    pub(crate) fn opt_usd<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Usd>, D::Error> {
        #[derive(Deserialize)]
        struct W(#[serde(deserialize_with = "usd")] Usd);
        Ok(Option::<W>::deserialize(d)?.map(|w| w.0))
    }

    pub fn u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        with_text(d, "a non-negative integer", |text| {
            text.trim().parse::<u64>().map_err(|_| format!("expected a non-negative integer, got \"{text}\""))
        })
    }

    pub(crate) fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        #[derive(Deserialize)]
        struct W(#[serde(deserialize_with = "u64")] u64);
        Ok(Option::<W>::deserialize(d)?.map(|w| w.0))
    }

    pub fn item_id<'de, D: Deserializer<'de>>(d: D) -> Result<ItemId, D::Error> {
        u64(d).map(ItemId::new)
    }

    pub fn i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        with_text(d, "an integer", |text| {
            text.trim().parse::<i64>().map_err(|_| format!("expected an integer, got \"{text}\""))
        })
    }

    pub fn buy_id<'de, D: Deserializer<'de>>(d: D) -> Result<BuyId, D::Error> {
        u64(d).map(BuyId::new)
    }

    /// An id-like text field that some clients type as a number (`tradeofferid`, `steamid`, `classid`).
    pub(crate) fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        checked_text(d).map(|t| t.map(Cow::into_owned))
    }

    /// [`opt_text`] without keeping the text (a field that is checked but not used).
    pub(crate) fn checked_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
        match Scalar::deserialize(d)? {
            Scalar::Null => Ok(None),
            Scalar::Str(s) => Ok(Some(s)),
            n @ (Scalar::U64(_) | Scalar::I64(_) | Scalar::F64(_)) => Ok(n.text().map(|t| Cow::Owned(t.into_owned()))),
            other => Err(D::Error::custom(format!("expected a string or number, got {}", other.kind()))),
        }
    }

    /// A boolean that PHP may render as `true`, `1`, `"1"`, `"true"` (and the opposites).
    pub fn bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        match Scalar::deserialize(d)? {
            Scalar::Bool(b) => Ok(b),
            Scalar::U64(1) => Ok(true),
            Scalar::U64(0) => Ok(false),
            Scalar::Str(s) if s == "1" || s == "true" => Ok(true),
            Scalar::Str(s) if s.is_empty() || s == "0" || s == "false" => Ok(false),
            other => Err(D::Error::custom(format!("expected a boolean, got {}", other.kind()))),
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

/// The full price list decoded straight into one table of listings, names interned: no `String`
/// per listing, no `classid` kept (it is checked, then dropped: decisions do not use it).
#[derive(Debug, Clone, Default)]
pub(crate) struct Table(pub crate::domain::ListingTable);

impl<'de> Deserialize<'de> for Table {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(TableVisitor)
    }
}

struct TableVisitor;

impl<'de> serde::de::Visitor<'de> for TableVisitor {
    type Value = Table;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a sequence of listings")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Table, A::Error> {
        let mut table = crate::domain::TableBuilder::new();
        while let Some(l) = seq.next_element::<TableListing<'de>>()? {
            table.push(l.id, &l.name, l.price).map_err(serde::de::Error::custom)?;
        }
        Ok(Table(table.finish()))
    }
}

/// `market_pricelist` with `full=1`, read into a [`Table`].
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TablePriceList {
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub last_update: Option<String>,
    pub items: Table,
}

/// A [`Listing`] as it is read into a [`Table`]: the same fields and the same checks, the name
/// borrowed from the body.
#[derive(Deserialize)]
struct TableListing<'a> {
    #[serde(deserialize_with = "lenient::item_id")]
    id: ItemId,
    #[serde(borrow)]
    name: std::borrow::Cow<'a, str>,
    #[serde(deserialize_with = "lenient::usd")]
    price: Usd,
    #[serde(default, borrow, deserialize_with = "lenient::checked_text")]
    #[allow(dead_code)]
    classid: Option<std::borrow::Cow<'a, str>>,
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
pub(crate) type PurchasedItem = Listing;

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
