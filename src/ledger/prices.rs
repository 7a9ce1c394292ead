//! Recorded prices: a step function per item, stored only where it changes.
//!
//! A tick records ~34k names. Almost none change, so the comparison with the last stored price must not
//! touch the disk: the last price of each item is cached in memory, loaded from the tree the first time
//! the item is seen (one reverse seek), and kept current by every write.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};

use super::keys::{price_key, price_key_second, price_prefix, unix_second};
use super::{Ledger, LedgerError};
use crate::domain::{Game, Usd};

fn decode_price(prefix_len: usize, key: &[u8], value: &[u8]) -> Result<(u64, Usd), LedgerError> {
    let second = price_key_second(key, prefix_len)?;
    let price =
        std::str::from_utf8(value).ok().and_then(|text| Usd::parse(text).ok()).ok_or_else(|| LedgerError::Corrupt {
            tree: "prices",
            key: String::from_utf8_lossy(key).replace('\0', "\\0"),
            reason: "the value is not a decimal price".into(),
        })?;
    Ok((second, price))
}

fn at_second(second: u64) -> Result<DateTime<Utc>, LedgerError> {
    i64::try_from(second)
        .ok()
        .and_then(|s| DateTime::<Utc>::from_timestamp(s, 0))
        .ok_or_else(|| LedgerError::TimeOutOfRange { at: format!("unix second {second}") })
}

impl Ledger {
    /// Records `price` for one item at `at`; true if it was stored (it differs from the last one).
    pub fn record_price(&self, game: Game, name: &str, at: DateTime<Utc>, price: Usd) -> Result<bool, LedgerError> {
        Ok(self.record_prices(game, [(name, price)], at)? > 0)
    }

    /// Records a whole price list seen at `at` in one sled batch; returns how many prices changed (and were
    /// stored). Refuses the whole batch, writing nothing, if an item already has a price recorded after
    /// `at`. Within one second the later price replaces the earlier. Not flushed: losing the last
    /// half-second of prices in a crash costs nothing but history (sled flushes every 500 ms anyway).
    pub(crate) fn record_prices<'a>(
        &self,
        game: Game,
        prices: impl IntoIterator<Item = (&'a str, Usd)>,
        at: DateTime<Utc>,
    ) -> Result<usize, LedgerError> {
        let second = unix_second(at)?;
        // A name listed twice: the later price wins, as a sled batch would have it.
        let prices: HashMap<&str, Usd> = prices.into_iter().collect();
        // The cache is only an accelerator: after a panic elsewhere, rebuild it rather than trust it.
        let mut cache = self.price_cache.lock().unwrap_or_else(|poisoned| {
            let mut guard = poisoned.into_inner();
            guard.clear();
            guard
        });
        let items = cache.entry(game).or_default();
        let mut batch = sled::Batch::default();
        let mut updates = Vec::new();
        for (name, price) in prices {
            let prefix = price_prefix(game, name)?;
            let last = match items.get(name) {
                Some(last) => *last,
                None => {
                    let last = self.last_price_stored(&prefix)?;
                    items.insert(name.to_string(), last);
                    last
                }
            };
            match last {
                Some((_, last_price)) if last_price == price => {}
                Some((last_second, _)) if second < last_second => {
                    let at = at.timestamp();
                    return Err(LedgerError::PriceOutOfOrder { game, name: name.into(), at, last: last_second });
                }
                Some((last_second, _)) if second == last_second => {
                    // The price changed twice within a second: keep the later one, and drop the entry
                    // altogether if that brings back the price before it (only changes are stored).
                    let before = self.price_stored_before(&prefix, last_second)?;
                    if before.is_some_and(|(_, p)| p == price) {
                        batch.remove(price_key(&prefix, last_second));
                        updates.push((name, before));
                    } else {
                        batch.insert(price_key(&prefix, second), price.amount().to_string().as_bytes());
                        updates.push((name, Some((second, price))));
                    }
                }
                _ => {
                    batch.insert(price_key(&prefix, second), price.amount().to_string().as_bytes());
                    updates.push((name, Some((second, price))));
                }
            }
        }
        self.prices.apply_batch(batch).map_err(|e| self.storage(e))?;
        for (name, last) in &updates {
            if let Some(entry) = items.get_mut(*name) {
                *entry = *last;
            }
        }
        Ok(updates.len())
    }

    fn last_price_stored(&self, prefix: &[u8]) -> Result<Option<(u64, Usd)>, LedgerError> {
        match self.prices.scan_prefix(prefix).next_back() {
            None => Ok(None),
            Some(entry) => {
                let (key, value) = entry.map_err(|e| self.storage(e))?;
                decode_price(prefix.len(), &key, &value).map(Some)
            }
        }
    }

    fn price_stored_before(&self, prefix: &[u8], second: u64) -> Result<Option<(u64, Usd)>, LedgerError> {
        match self.prices.range(prefix.to_vec()..price_key(prefix, second)).next_back() {
            None => Ok(None),
            Some(entry) => {
                let (key, value) = entry.map_err(|e| self.storage(e))?;
                decode_price(prefix.len(), &key, &value).map(Some)
            }
        }
    }

    /// The recorded price changes of an item from `since` on, oldest first, starting with the one in force
    /// at `since` (the last change at or before it), if any.
    pub fn price_history(
        &self,
        game: Game,
        name: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, Usd)>, LedgerError> {
        let prefix = price_prefix(game, name)?;
        // Keys hold whole seconds: a change at second s is in force at `since` when s <= floor(since).
        let floor = u64::try_from(since.timestamp()).ok();
        let mut out = Vec::new();
        let rest = match floor {
            Some(floor) => {
                let upto = price_key(&prefix, floor);
                if let Some(entry) = self.prices.range(prefix.clone()..=upto).next_back() {
                    let (key, value) = entry.map_err(|e| self.storage(e))?;
                    out.push(decode_price(prefix.len(), &key, &value)?);
                }
                match floor.checked_add(1) {
                    Some(next) => self.prices.range(price_key(&prefix, next)..),
                    None => return self.to_times(out),
                }
            }
            None => self.prices.range(prefix.clone()..),
        };
        for entry in rest {
            let (key, value) = entry.map_err(|e| self.storage(e))?;
            if !key.starts_with(&prefix) {
                break;
            }
            out.push(decode_price(prefix.len(), &key, &value)?);
        }
        self.to_times(out)
    }

    fn to_times(&self, entries: Vec<(u64, Usd)>) -> Result<Vec<(DateTime<Utc>, Usd)>, LedgerError> {
        entries.into_iter().map(|(second, price)| Ok((at_second(second)?, price))).collect()
    }

    /// The time-weighted median price of an item over [`since`, `now`] (see [`weighted_median`]); `None`
    /// when no price was recorded at or before `now`.
    pub fn median_price(
        &self,
        game: Game,
        name: &str,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<Usd>, LedgerError> {
        let history = self.price_history(game, name, since)?;
        Ok(weighted_median(&history, since, now))
    }
}

/// The time-weighted median of a step function: `steps` (oldest first) each hold their price until the
/// next one. Over [`since`, `now`], where the function is defined (from its first step on), it returns the
/// lowest price p such that the price was at most p for at least half of that time. An empty interval gives
/// the price in force at `now`; no step at or before `now` gives `None`.
pub fn weighted_median(steps: &[(DateTime<Utc>, Usd)], since: DateTime<Utc>, now: DateTime<Utc>) -> Option<Usd> {
    let mut segments: Vec<(Usd, TimeDelta)> = Vec::new();
    let mut in_force = None;
    for (i, (start, price)) in steps.iter().enumerate() {
        if *start > now {
            break;
        }
        in_force = Some(*price);
        let end = steps.get(i + 1).map_or(now, |(next, _)| (*next).min(now));
        let start = (*start).max(since);
        if end > start {
            segments.push((*price, end - start));
        }
    }
    let total = segments.iter().try_fold(TimeDelta::zero(), |sum, (_, d)| sum.checked_add(d))?;
    if total.is_zero() {
        return in_force;
    }
    segments.sort_by_key(|(price, _)| *price);
    let mut covered = TimeDelta::zero();
    for (price, duration) in segments {
        covered = covered.checked_add(&duration)?;
        // covered >= total / 2, without the rounding of a division.
        if covered.checked_add(&covered)? >= total {
            return Some(price);
        }
    }
    in_force
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rust_decimal_macros::dec;

    fn t(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, hour, 0, 0).unwrap()
    }

    fn usd(d: rust_decimal::Decimal) -> Usd {
        Usd::new(d)
    }

    #[test]
    fn the_median_weighs_each_price_by_how_long_it_held() {
        // 10 for 1h, 20 for 2h, 30 for 1h: 20 held the middle of the four hours.
        let steps = [(t(0), usd(dec!(10))), (t(1), usd(dec!(30))), (t(2), usd(dec!(20))), (t(4), usd(dec!(30)))];
        assert_eq!(weighted_median(&steps, t(0), t(5)), Some(usd(dec!(20))));
        // 30 held for 2h of the 4 from 1h to 5h; 20 for 2h: the lower of the two halves.
        assert_eq!(weighted_median(&steps, t(1), t(5)), Some(usd(dec!(20))));
        // A long-held cheap price outweighs many brief expensive ones.
        let spiky = [(t(0), usd(dec!(5))), (t(10), usd(dec!(100))), (t(11), usd(dec!(5)))];
        assert_eq!(weighted_median(&spiky, t(0), t(12)), Some(usd(dec!(5))));
    }

    #[test]
    fn the_median_starts_with_the_price_in_force_at_since() {
        let steps = [(t(0), usd(dec!(50))), (t(3), usd(dec!(10)))];
        // From 2h: 50 for 1h (it was in force at 2h), then 10 for 3h.
        assert_eq!(weighted_median(&steps, t(2), t(6)), Some(usd(dec!(10))));
        assert_eq!(weighted_median(&steps, t(2), t(3)), Some(usd(dec!(50))));
    }

    #[test]
    fn the_median_of_nothing_is_none_and_of_an_instant_is_the_price_then() {
        assert_eq!(weighted_median(&[], t(0), t(1)), None);
        let later = [(t(5), usd(dec!(1)))];
        assert_eq!(weighted_median(&later, t(0), t(1)), None);
        let steps = [(t(0), usd(dec!(7)))];
        assert_eq!(weighted_median(&steps, t(3), t(3)), Some(usd(dec!(7))));
    }
}
