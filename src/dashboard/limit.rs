//! The Item chart's limit line: what each rule in force that selects the item would pay at most
//! for it, over the chart's time span, computed as a tick computes it ([`ceiling`], [`price_limit`]):
//! - a fixed `max_price`: one horizontal line, converted to USD with the last recorded rates;
//! - a discount under the recorded median: at each moment, the time-weighted median of the
//!   recorded prices over the rule's window before it ([`weighted_median`]) less the discount,
//!   capped by the rule's `max_price` if it has one: a step line;
//! - a discount under the strategy's reference file: a horizontal line.
//!
//! One difference with a tick: the bot also waits until it has watched half of a history window
//! itself before it prices from it; the chart uses whatever history the ledger holds.

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;

use crate::domain::{Game, MarketName, Rates, Usd};
use crate::ledger::weighted_median;
use crate::strategy::decide::{ceiling, price_limit, References};
use crate::strategy::file::{Reference, Rule, Strategy};

/// Evenly spaced moments at which a median limit is computed, besides the moments it can change
/// at (a price change entering or leaving the window), which are added while there are few.
const SAMPLES: i32 = 240;
const CHANGES_SAMPLED: usize = 500;

/// One rule's limit for one item.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RuleLimit {
    /// `strategy/rule`.
    pub rule: String,
    /// How the rule prices: `max_price 5.00 USD`, `15% under its 24 h median, at most 150.00 USD`.
    pub what: String,
    /// The limit in USD over time, oldest first, each in force until the next; `None` where the
    /// rule would not buy at any price (no recorded price to take a median of, say).
    pub steps: Vec<(DateTime<Utc>, Option<Decimal>)>,
    /// Why it cannot be drawn (a missing rate), if so.
    pub note: Option<String>,
}

/// The rules among `strategies` that select `name` in `game`, highest priority first (the order a
/// tick tries them in), each with its limit over [`from`, `to`]. `history` is the item's recorded
/// price steps, from at least the longest history window before `from`.
pub(crate) fn rule_limits(
    strategies: &[Strategy],
    game: Game,
    name: &str,
    history: &[(DateTime<Utc>, Usd)],
    rates: Option<&Rates>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<RuleLimit> {
    let Ok(parsed) = MarketName::parse(name) else { return Vec::new() };
    let mut rules: Vec<(&Strategy, &Rule)> = strategies
        .iter()
        .flat_map(|s| s.rules.iter().map(move |r| (s, r)))
        .filter(|(_, r)| r.game == game && r.selector.matches(game, name, &parsed))
        .collect();
    rules.sort_by_key(|(_, r)| std::cmp::Reverse(r.priority));
    let no_rates = Rates::new();
    let rates = rates.unwrap_or(&no_rates);
    rules.into_iter().map(|(s, r)| one(s, r, game, name, history, rates, from, to)).collect()
}

/// The longest history window of the rules that select `name` (what [`rule_limits`] needs before
/// its `from`).
pub(crate) fn longest_window(strategies: &[Strategy], game: Game, name: &str) -> Duration {
    let Ok(parsed) = MarketName::parse(name) else { return Duration::zero() };
    strategies
        .iter()
        .flat_map(|s| &s.rules)
        .filter(|r| r.game == game && r.selector.matches(game, name, &parsed))
        .filter_map(|r| match r.discount.as_ref().map(|d| &d.reference) {
            Some(Reference::History { window_hours }) => Some(Duration::hours(i64::from(*window_hours))),
            _ => None,
        })
        .max()
        .unwrap_or_else(Duration::zero)
}

/// The recorded median as a tick would read it at `at`.
struct MedianAt<'a> {
    history: &'a [(DateTime<Utc>, Usd)],
    at: DateTime<Utc>,
}

impl References for MedianAt<'_> {
    fn history_median(&self, _: Game, _: &str, window_hours: u32) -> Option<Usd> {
        let since = self.at.checked_sub_signed(Duration::try_hours(i64::from(window_hours))?)?;
        weighted_median(self.history, since, self.at)
    }
}

#[allow(clippy::too_many_arguments)]
fn one(
    s: &Strategy,
    rule: &Rule,
    game: Game,
    name: &str,
    history: &[(DateTime<Utc>, Usd)],
    rates: &Rates,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> RuleLimit {
    let cap = rule.max_price.as_ref().map(|m| m.to_string());
    let what = match (&rule.discount, &cap) {
        (None, Some(c)) => format!("max_price {c}"),
        (None, None) => "no limit".to_string(),
        (Some(d), cap) => {
            let under = match d.reference {
                Reference::History { window_hours } => format!("its recorded {window_hours} h median"),
                Reference::File => "its reference price".to_string(),
            };
            let cap = cap.as_ref().map(|c| format!(", at most {c}")).unwrap_or_default();
            format!("{}% under {under}{cap}", d.percent.normalize())
        }
    };
    let mut notes = Vec::new();
    let rule_name = format!("{}/{}", s.name, rule.name);
    let Some(ceiling) = ceiling(s, rule, rates, &mut notes) else {
        let why = rule
            .max_price
            .as_ref()
            .map(|m| match m.to_usd(rates) {
                Err(e) => format!("max_price {m} cannot be converted to USD: {e} in the recorded rates"),
                Ok(_) => String::new(),
            })
            .unwrap_or_default();
        return RuleLimit { rule: rule_name, what, steps: Vec::new(), note: Some(why) };
    };
    let at =
        |t: DateTime<Utc>| price_limit(s, rule, game, name, ceiling, &MedianAt { history, at: t }).map(|u| u.amount());
    let steps = match rule.discount.as_ref().map(|d| &d.reference) {
        Some(Reference::History { window_hours }) => {
            let window = Duration::hours(i64::from(*window_hours));
            let mut times: Vec<DateTime<Utc>> = (0..=SAMPLES).map(|i| from + (to - from) * i / SAMPLES).collect();
            if history.len() <= CHANGES_SAMPLED {
                for (t, _) in history {
                    times.extend([*t, *t + window].into_iter().filter(|t| *t > from && *t < to));
                }
            }
            times.sort();
            times.dedup();
            let mut steps: Vec<(DateTime<Utc>, Option<Decimal>)> = Vec::new();
            for t in times {
                let v = at(t);
                if steps.last().is_none_or(|(_, last)| *last != v) {
                    steps.push((t, v));
                }
            }
            steps
        }
        _ => vec![(from, at(from))],
    };
    let note = steps.iter().all(|(_, v)| v.is_none()).then(|| "no recorded price to price from".to_string());
    RuleLimit { rule: rule_name, what, steps, note }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rust_decimal_macros::dec;
    use std::path::Path;

    fn t(hour: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap() + Duration::hours(hour)
    }

    fn strategy(toml: &str) -> Strategy {
        Strategy::parse(Path::new("test.toml"), toml).unwrap().unwrap()
    }

    const KNIFE: &str = "★ Karambit | Doppler (Factory New)";

    #[test]
    fn a_fixed_limit_is_one_line_in_usd_at_the_recorded_rate() {
        let s = [strategy(&format!(
            "name = \"s\"\n[[rules]]\nname = \"usd\"\nselect = {{ names = [{KNIFE:?}] }}\nmax_price = \"150 usd\"\n\
             [[rules]]\nname = \"eur\"\npriority = 5\nselect = {{ names = [{KNIFE:?}] }}\nmax_price = \"100 eur\"\n\
             [[rules]]\nname = \"other\"\nselect = {{ names = [\"AK-47 | Redline (Field-Tested)\"] }}\nmax_price = \"1 usd\"\n"
        ))];
        let mut rates = Rates::new();
        rates.insert("eur".parse().unwrap(), dec!(0.8)).unwrap();
        let limits = rule_limits(&s, Game::Cs2, KNIFE, &[], Some(&rates), t(0), t(24));
        // Only the rules that select the item, highest priority first.
        assert_eq!(limits.iter().map(|l| l.rule.as_str()).collect::<Vec<_>>(), ["s/eur", "s/usd"]);
        assert_eq!(limits[0].steps, vec![(t(0), Some(dec!(125)))], "100 EUR at 0.8 EUR per USD");
        assert_eq!(limits[0].what, "max_price 100.00 EUR");
        assert_eq!(limits[1].steps, vec![(t(0), Some(dec!(150)))]);
        assert_eq!(limits[1].note, None);

        // No recorded rates: the EUR rule is not drawn, and the note says why.
        let limits = rule_limits(&s, Game::Cs2, KNIFE, &[], None, t(0), t(24));
        assert!(limits[0].steps.is_empty());
        let note = limits[0].note.as_deref().unwrap();
        assert!(note.contains("100.00 EUR") && note.contains("no exchange rate known for EUR"), "{note}");
        assert_eq!(limits[1].steps, vec![(t(0), Some(dec!(150)))]);
    }

    #[test]
    fn a_discount_limit_follows_the_recorded_median_capped_by_its_max_price() {
        let s = [strategy(&format!(
            "name = \"s\"\n[[rules]]\nname = \"dip\"\nselect = {{ names = [{KNIFE:?}] }}\nmax_price = \"90 usd\"\n\
             discount = {{ percent = \"10\", window_hours = 4 }}\n"
        ))];
        // 100 USD from hour 0, 200 USD from hour 10.
        let history = [(t(0), Usd::new(dec!(100))), (t(10), Usd::new(dec!(200))), (t(20), Usd::new(dec!(50)))];
        let limits = rule_limits(&s, Game::Cs2, KNIFE, &history, None, t(-2), t(24));
        assert_eq!(limits.len(), 1);
        let l = &limits[0];
        assert_eq!(l.what, "10% under its recorded 4 h median, at most 90.00 USD");
        let value_at = |at: DateTime<Utc>| l.steps.iter().rev().find(|(t, _)| *t <= at).and_then(|(_, v)| *v);
        // Before any recorded price: no limit (the rule buys nothing).
        assert_eq!(l.steps[0], (t(-2), None));
        // Median 100 → 90; capped at 90 anyway.
        assert_eq!(value_at(t(5)), Some(dec!(90)));
        // Median 200 → 180, capped by max_price 90.
        assert_eq!(value_at(t(15)), Some(dec!(90)));
        // After the drop to 50, once 50 held for half the window: median 50 → 45.
        assert_eq!(value_at(t(23)), Some(dec!(45)));
        // It changes when the median does, half the 4 h window after hour 20 (to within one of the
        // 240 samples, 6.5 min here).
        let drop = l.steps.iter().find(|(_, v)| *v == Some(dec!(45))).unwrap().0;
        assert!(drop >= t(22) && drop < t(22) + Duration::minutes(7), "{drop}");
        assert_eq!(l.note, None);
    }
}
