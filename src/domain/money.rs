//! Money. Every amount is a `Decimal` inside a newtype that knows its currency; there is no float
//! anywhere near a price, a balance or a budget.

use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// An amount in US dollars: the currency of every price, balance and debit on SkinsBack.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Usd(Decimal);

impl Usd {
    pub const ZERO: Usd = Usd(Decimal::ZERO);

    pub fn new(amount: Decimal) -> Self {
        Usd(amount)
    }

    pub fn amount(self) -> Decimal {
        self.0
    }

    /// Parses a decimal text such as `12.50`; rejects anything that is not a plain decimal number.
    pub fn parse(text: &str) -> Result<Self, MoneyError> {
        parse_decimal(text).map(Usd)
    }

    pub(crate) fn is_negative(self) -> bool {
        self.0.is_sign_negative() && !self.0.is_zero()
    }

    pub fn checked_add(self, other: Usd) -> Option<Usd> {
        self.0.checked_add(other.0).map(Usd)
    }

    pub fn checked_sub(self, other: Usd) -> Option<Usd> {
        self.0.checked_sub(other.0).map(Usd)
    }

    /// Adds, saturating at the largest amount instead of failing: for running totals of what is
    /// spent or reserved, where an absurd sum must stay absurd (and so refuse every order) rather
    /// than drop a term.
    pub fn saturating_add(self, other: Usd) -> Usd {
        Usd(self.0.saturating_add(other.0))
    }

    pub fn saturating_sub(self, other: Usd) -> Usd {
        Usd(self.0.saturating_sub(other.0))
    }

    /// Rounded to cents, half away from zero: how prices travel on the wire.
    pub(crate) fn round_cents(self) -> Usd {
        Usd(self.0.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero))
    }

    /// Rounded down to cents: a ceiling that must never be exceeded (e.g. a `max_price`).
    pub(crate) fn floor_cents(self) -> Usd {
        Usd(self.0.round_dp_with_strategy(2, RoundingStrategy::ToNegativeInfinity))
    }

    /// Rounded up to cents: a reservation that covers a sub-cent price.
    pub(crate) fn ceil_cents(self) -> Usd {
        Usd(self.0.round_dp_with_strategy(2, RoundingStrategy::ToPositiveInfinity))
    }

    /// The fixed two-decimal text sent to the API (`12.50`, `80.00`).
    pub fn wire(self) -> String {
        format!("{:.2}", self.round_cents().0)
    }
}

impl fmt::Display for Usd {
    /// `12.50 USD`: at least two decimals, more only when the amount has them (`1520.375 USD`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scale = self.0.normalize().scale().max(2) as usize;
        write!(f, "{:.*} USD", scale, self.0)
    }
}

/// Saturates at `Decimal::MAX` (about 7.9·10²⁸) instead of panicking: no real sum gets there, and a
/// report must not crash on an absurd value from the exchange.
impl std::iter::Sum for Usd {
    fn sum<I: Iterator<Item = Usd>>(iter: I) -> Usd {
        Usd(iter.fold(Decimal::ZERO, |acc, u| acc.saturating_add(u.0)))
    }
}

/// A lowercase three-letter currency code as SkinsBack uses them (`usd`, `eur`, `rub`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CurrencyCode(String);

impl CurrencyCode {
    pub fn usd() -> Self {
        CurrencyCode("usd".into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn is_usd(&self) -> bool {
        self.0 == "usd"
    }

    /// The currencies the SkinsBack `currencies` method is documented to list. A limit or price
    /// written in another one could never be converted: it would block every order silently.
    pub(crate) const LISTED: [&'static str; 10] =
        ["usd", "rub", "uah", "eur", "cny", "kzt", "aud", "cad", "brl", "nzd"];

    /// This code, if the API lists it (for amounts a user writes; the API's own lists are taken
    /// as they come).
    pub fn listed(self) -> Result<Self, MoneyError> {
        if Self::LISTED.contains(&self.0.as_str()) {
            Ok(self)
        } else {
            Err(MoneyError::Unlisted(self))
        }
    }
}

impl FromStr for CurrencyCode {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        if lower.len() == 3 && lower.bytes().all(|b| b.is_ascii_lowercase()) {
            Ok(CurrencyCode(lower))
        } else {
            Err(MoneyError::BadCurrency(s.to_string()))
        }
    }
}

impl TryFrom<String> for CurrencyCode {
    type Error = MoneyError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<CurrencyCode> for String {
    fn from(c: CurrencyCode) -> String {
        c.0
    }
}

impl fmt::Display for CurrencyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_ascii_uppercase())
    }
}

/// An amount in any currency the API lists, as a user writes it in a config or strategy file
/// (`"40 EUR"`, `"12.50 usd"`, or a bare number meaning USD).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Money {
    amount: Decimal,
    currency: CurrencyCode,
}

impl Money {
    pub fn new(amount: Decimal, currency: CurrencyCode) -> Self {
        Money { amount, currency }
    }

    pub fn usd(amount: Usd) -> Self {
        Money { amount: amount.0, currency: CurrencyCode::usd() }
    }

    pub fn amount(&self) -> Decimal {
        self.amount
    }

    pub fn currency(&self) -> &CurrencyCode {
        &self.currency
    }

    /// This amount, if its currency is one the API lists (see [`CurrencyCode::listed`]).
    pub fn listed(self) -> Result<Self, MoneyError> {
        let currency = self.currency.listed()?;
        Ok(Money { currency, ..self })
    }

    /// Converts to USD with `rates` (units of a currency per 1 USD, as the `currencies` method lists them).
    pub(crate) fn to_usd(&self, rates: &Rates) -> Result<Usd, MoneyError> {
        rates.to_usd(self.amount, &self.currency)
    }
}

impl FromStr for Money {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.split_whitespace();
        let amount = parts.next().ok_or_else(|| MoneyError::BadAmount(s.to_string()))?;
        let currency = match parts.next() {
            Some(code) => code.parse()?,
            None => CurrencyCode::usd(),
        };
        if parts.next().is_some() {
            return Err(MoneyError::BadAmount(s.to_string()));
        }
        let amount = parse_decimal(amount)?;
        if amount.is_sign_negative() && !amount.is_zero() {
            return Err(MoneyError::Negative(s.to_string()));
        }
        Ok(Money { amount, currency })
    }
}

impl TryFrom<String> for Money {
    type Error = MoneyError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Money> for String {
    fn from(m: Money) -> String {
        m.to_string()
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scale = self.amount.normalize().scale().max(2) as usize;
        write!(f, "{:.*} {}", scale, self.amount, self.currency)
    }
}

/// Currency rates: units of each currency per 1 USD (`usd` is always 1).
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Rates {
    per_usd: std::collections::BTreeMap<CurrencyCode, Decimal>,
}

impl Rates {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, code: CurrencyCode, per_usd: Decimal) -> Result<(), MoneyError> {
        if per_usd <= Decimal::ZERO {
            return Err(MoneyError::BadRate(code, per_usd));
        }
        self.per_usd.insert(code, per_usd);
        Ok(())
    }

    pub fn get(&self, code: &CurrencyCode) -> Option<Decimal> {
        if code.is_usd() {
            return Some(Decimal::ONE);
        }
        self.per_usd.get(code).copied()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&CurrencyCode, &Decimal)> {
        self.per_usd.iter()
    }

    pub(crate) fn to_usd(&self, amount: Decimal, code: &CurrencyCode) -> Result<Usd, MoneyError> {
        let rate = self.get(code).ok_or_else(|| MoneyError::NoRate(code.clone()))?;
        amount.checked_div(rate).map(Usd).ok_or(MoneyError::Overflow)
    }

    pub fn from_usd(&self, usd: Usd, code: &CurrencyCode) -> Result<Decimal, MoneyError> {
        let rate = self.get(code).ok_or_else(|| MoneyError::NoRate(code.clone()))?;
        usd.0.checked_mul(rate).ok_or(MoneyError::Overflow)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("`{0}` is not an amount (expected a decimal number such as 12.50, optionally followed by a currency code such as EUR)")]
    BadAmount(String),
    #[error("`{0}` is negative; amounts must be zero or more")]
    Negative(String),
    #[error("`{0}` is not a currency code (expected three letters such as usd, eur, rub)")]
    BadCurrency(String),
    #[error("{0} is not a currency the SkinsBack API lists (usd, rub, uah, eur, cny, kzt, aud, cad, brl, nzd)")]
    Unlisted(CurrencyCode),
    #[error("no exchange rate known for {0}")]
    NoRate(CurrencyCode),
    #[error("rate {1} for {0} is not positive")]
    BadRate(CurrencyCode, Decimal),
    #[error("amount overflow")]
    Overflow,
}

/// Parses plain decimal text (`12`, `12.5`, `-0.25`); no exponents, no thousands separators.
pub(crate) fn parse_decimal(text: &str) -> Result<Decimal, MoneyError> {
    let t = text.trim();
    let plain = !t.is_empty()
        && t.trim_start_matches('-').chars().all(|c| c.is_ascii_digit() || c == '.')
        && t.matches('.').count() <= 1
        && t.chars().any(|c| c.is_ascii_digit());
    if !plain {
        return Err(MoneyError::BadAmount(text.to_string()));
    }
    Decimal::from_str(t).map_err(|_| MoneyError::BadAmount(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn usd_wire_text_has_exactly_two_decimals() {
        assert_eq!(Usd::new(dec!(80)).wire(), "80.00");
        assert_eq!(Usd::new(dec!(12.5)).wire(), "12.50");
        assert_eq!(Usd::new(dec!(0.125)).wire(), "0.13");
        assert_eq!(Usd::new(dec!(12.499)).floor_cents().wire(), "12.49");
    }

    #[test]
    fn usd_display_names_the_currency_and_keeps_precision() {
        assert_eq!(Usd::new(dec!(41.2)).to_string(), "41.20 USD");
        assert_eq!(Usd::new(dec!(1520.375)).to_string(), "1520.375 USD");
    }

    #[test]
    fn money_parses_amount_and_currency() {
        let m: Money = "40 eur".parse().unwrap();
        assert_eq!(m.amount(), dec!(40));
        assert_eq!(m.currency().as_str(), "eur");
        assert_eq!(m.to_string(), "40.00 EUR");
        let bare: Money = "12.5".parse().unwrap();
        assert!(bare.currency().is_usd());
        assert!("-3 usd".parse::<Money>().is_err());
        assert!("1e3".parse::<Money>().is_err());
        assert!("12 dollars".parse::<Money>().is_err());
    }

    #[test]
    fn rates_convert_both_ways() {
        let mut rates = Rates::new();
        rates.insert("eur".parse().unwrap(), dec!(0.92)).unwrap();
        let m: Money = "46 eur".parse().unwrap();
        assert_eq!(m.to_usd(&rates).unwrap(), Usd::new(dec!(50)));
        assert_eq!(rates.from_usd(Usd::new(dec!(50)), &"eur".parse().unwrap()).unwrap(), dec!(46.00));
        assert!(matches!("1 rub".parse::<Money>().unwrap().to_usd(&rates), Err(MoneyError::NoRate(_))));
    }
}
