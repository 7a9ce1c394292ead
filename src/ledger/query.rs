//! Reviewing the ledger: which purchases (a [`Filter`]), and what they add up to ([`summarize`]).
//! Pure functions over records, shared by `skinbot ledger` and any other view of the ledger.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::domain::{CurrencyCode, OfferStatus, PurchaseRecord, PurchaseState, Usd};

/// Which purchases; every part is optional.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filter {
    /// Created at or after.
    pub since: Option<DateTime<Utc>>,
    /// Created before.
    pub until: Option<DateTime<Utc>>,
    /// A glob over the item's market name (case-insensitive): see [`item_glob`].
    pub item: Option<globset::GlobSet>,
    pub strategy: Option<String>,
    pub rule: Option<String>,
    /// A state label (`pending`, `sent`, `unknown`, `not_bought`, an offer status), or `open`
    /// (not final) or `bought`.
    pub state: Option<String>,
    /// The price seen, at least / at most.
    pub min: Option<Usd>,
    pub max: Option<Usd>,
}

impl Filter {
    pub fn matches(&self, r: &PurchaseRecord) -> bool {
        let i = &r.intent;
        self.matches_fields(r.created_at, &i.name, &i.strategy, &i.rule, &r.state, i.price_seen)
    }

    /// [`Filter::matches`] on the fields it reads (the dashboard keeps only these of each purchase).
    pub fn matches_fields(
        &self,
        created_at: DateTime<Utc>,
        name: &str,
        strategy: &str,
        rule: &str,
        state: &PurchaseState,
        price_seen: Usd,
    ) -> bool {
        self.since.is_none_or(|t| created_at >= t)
            && self.until.is_none_or(|t| created_at < t)
            && self.item.as_ref().is_none_or(|g| g.is_match(name))
            && self.strategy.as_ref().is_none_or(|s| s == strategy)
            && self.rule.as_ref().is_none_or(|s| s == rule)
            && self.state.as_ref().is_none_or(|s| match s.as_str() {
                "open" => !state.is_final(),
                "bought" => matches!(state, PurchaseState::Bought { .. }),
                label => state.label() == label,
            })
            && self.min.is_none_or(|m| price_seen >= m)
            && self.max.is_none_or(|m| price_seen <= m)
    }
}

/// Parses `--since`/`--until`: a duration back from `now` (`30m`, `24h`, `7d`, `2w`), a date
/// (`2026-11-27`, midnight UTC) or an RFC 3339 time.
pub(crate) fn parse_time(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let t = text.trim();
    let bad = || format!("`{text}` is neither a duration (30m, 24h, 7d, 2w), a date (2026-11-27) nor an RFC 3339 time");
    if let Some(unit) = t.chars().last().filter(|c| c.is_ascii_alphabetic()) {
        if let Ok(n) = t[..t.len() - 1].parse::<i64>() {
            let d = match unit {
                'm' => chrono::Duration::try_minutes(n),
                'h' => chrono::Duration::try_hours(n),
                'd' => chrono::Duration::try_days(n),
                'w' => chrono::Duration::try_weeks(n),
                _ => None,
            };
            return d.and_then(|d| now.checked_sub_signed(d)).ok_or_else(bad);
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()).ok_or_else(bad);
    }
    DateTime::parse_from_rfc3339(t).map(|t| t.to_utc()).map_err(|_| bad())
}

/// How a summary groups purchases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum GroupBy {
    Day,
    Week,
    Item,
    Strategy,
    Rule,
}

/// One group's totals. Money in the summary's currency, converted with the rates recorded with
/// each purchase. `spent` is every debit; `refunded` the debits of offers that failed before
/// delivery (the exchange returns those); `net` = spent − refunded. Rolled-back items are counted
/// but their money is not assumed returned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub key: String,
    /// Purchases recorded (every state).
    pub count: u64,
    /// Bought (debited).
    pub bought: u64,
    pub spent: rust_decimal::Decimal,
    pub refunded: rust_decimal::Decimal,
    pub net: rust_decimal::Decimal,
    /// spent / bought.
    pub average_price: Option<rust_decimal::Decimal>,
    pub delivered: u64,
    pub failed: u64,
    pub rolled_back: u64,
    /// Not final yet (pending, sent, unknown, or an offer still moving).
    pub pending: u64,
    /// Released: nothing was bought.
    pub not_bought: u64,
    pub currency: String,
}

/// Groups `records` by `by` (days and weeks in `tz`) and adds them up in `currency`. A purchase
/// whose recorded rates lack `currency` is counted but its money is left out, and its custom id is
/// returned in the second list.
pub(crate) fn summarize<'a>(
    records: impl IntoIterator<Item = &'a PurchaseRecord>,
    by: GroupBy,
    tz: Tz,
    currency: &CurrencyCode,
) -> (Vec<Totals>, Vec<String>) {
    let mut groups: BTreeMap<String, Totals> = BTreeMap::new();
    let mut unconverted = Vec::new();
    for r in records {
        let local = r.created_at.with_timezone(&tz);
        let key = match by {
            GroupBy::Day => local.format("%Y-%m-%d").to_string(),
            GroupBy::Week => format!("{}-W{:02}", local.iso_week().year(), local.iso_week().week()),
            GroupBy::Item => format!("{} {}", r.intent.game, r.intent.name),
            GroupBy::Strategy => r.intent.strategy.clone(),
            GroupBy::Rule => format!("{}/{}", r.intent.strategy, r.intent.rule),
        };
        let t = groups.entry(key.clone()).or_insert_with(|| Totals {
            key,
            currency: currency.to_string(),
            ..Totals::default()
        });
        t.count += 1;
        match &r.state {
            PurchaseState::NotBought { .. } => t.not_bought += 1,
            PurchaseState::Pending | PurchaseState::Sent | PurchaseState::Unknown { .. } => t.pending += 1,
            PurchaseState::Bought { debited, offer, .. } => {
                t.bought += 1;
                let amount = match convert(*debited, r, currency) {
                    Some(a) => a,
                    None => {
                        unconverted.push(r.intent.custom_id.to_string());
                        rust_decimal::Decimal::ZERO
                    }
                };
                t.spent = t.spent.saturating_add(amount);
                match offer {
                    OfferStatus::Accepted => t.delivered += 1,
                    OfferStatus::RollbackUser | OfferStatus::RollbackSupplier => t.rolled_back += 1,
                    o if o.is_failure() => {
                        t.failed += 1;
                        t.refunded = t.refunded.saturating_add(amount);
                    }
                    _ => t.pending += 1,
                }
            }
        }
    }
    let totals = groups
        .into_values()
        .map(|mut t| {
            t.net = t.spent.saturating_sub(t.refunded);
            t.average_price = (t.bought > 0).then(|| (t.spent / rust_decimal::Decimal::from(t.bought)).round_dp(2));
            t
        })
        .collect();
    (totals, unconverted)
}

/// `amount` in `currency` with the rates in force when `r` was decided.
fn convert(amount: Usd, r: &PurchaseRecord, currency: &CurrencyCode) -> Option<rust_decimal::Decimal> {
    if currency.is_usd() {
        return Some(amount.amount());
    }
    r.rates.from_usd(amount, currency).ok()
}

/// The stable export columns, in order (documented in the README).
pub const EXPORT_COLUMNS: [&str; 20] = [
    "custom_id",
    "created_at",
    "strategy",
    "rule",
    "priority",
    "game",
    "item",
    "item_id",
    "price_seen",
    "max_price",
    "state",
    "debited",
    "buy_id",
    "tradeofferid",
    "recipient",
    "config_hash",
    "last_change_at",
    "last_change",
    "transitions",
    "rates",
];

/// One record as export cells, in [`EXPORT_COLUMNS`] order. Amounts are plain USD decimals.
pub(crate) fn export_row(r: &PurchaseRecord) -> Vec<String> {
    let (debited, buy_id, tradeofferid) = match &r.state {
        PurchaseState::Bought { debited, buy_id, tradeofferid, .. } => {
            (debited.amount().to_string(), buy_id.to_string(), tradeofferid.clone().unwrap_or_default())
        }
        _ => Default::default(),
    };
    let last = r.transitions.last();
    vec![
        r.intent.custom_id.to_string(),
        r.created_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        r.intent.strategy.clone(),
        r.intent.rule.clone(),
        r.intent.priority.to_string(),
        r.intent.game.to_string(),
        r.intent.name.clone(),
        r.intent.item_id.map(|i| i.to_string()).unwrap_or_default(),
        r.intent.price_seen.amount().to_string(),
        r.intent.max_price.amount().to_string(),
        r.state.label().to_string(),
        debited,
        buy_id,
        tradeofferid,
        r.recipient.clone().unwrap_or_default(),
        r.config_hash.clone(),
        last.map(|t| t.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)).unwrap_or_default(),
        last.map(|t| t.detail.clone()).unwrap_or_default(),
        r.transitions.len().to_string(),
        serde_json::to_string(&r.rates).unwrap_or_default(),
    ]
}

/// The longest item glob a filter takes.
pub(crate) const MAX_ITEM_GLOB: usize = 200;

/// The case-insensitive glob `glob` over item names, compiled as a set: a pattern too long or too
/// complex for the regex engine is an error, not a panic (`Glob::compile_matcher` panics).
pub(crate) fn item_glob(glob: &str) -> Result<globset::GlobSet, String> {
    if glob.chars().count() > MAX_ITEM_GLOB {
        return Err(format!("at most {MAX_ITEM_GLOB} characters"));
    }
    let glob = globset::GlobBuilder::new(glob).case_insensitive(true).build().map_err(|e| e.to_string())?;
    globset::GlobSetBuilder::new().add(glob).build().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn times_are_durations_dates_or_rfc3339() {
        let now = Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap();
        assert_eq!(parse_time("24h", now).unwrap(), now - chrono::Duration::hours(24));
        assert_eq!(parse_time("2w", now).unwrap(), now - chrono::Duration::weeks(2));
        assert_eq!(parse_time("2026-11-20", now).unwrap(), Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap());
        assert_eq!(
            parse_time("2026-11-20T10:00:00+01:00", now).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap()
        );
        assert!(parse_time("yesterday", now).unwrap_err().contains("`yesterday`"));
    }
}
