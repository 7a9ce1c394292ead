//! The brakes: a halt kept in the ledger (pulled by an operator from outside, or by the engine on
//! an anomaly) stops every order until someone resumes; a pause (the exchange says it is down)
//! stops orders until the exchange is back. Both are checked before every order leaves, and each is
//! logged once when it starts and once when it ends.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};

use super::Engine;
use crate::config::{Config, Recipient};
use crate::domain::{Game, OfferStatus, PurchaseRecord, TradeLink, Usd};
use crate::exchange::ExchangeError;
use crate::ledger::HaltEvent;

/// What the brakes remember between jobs (in memory; the halt itself is in the ledger).
#[derive(Debug, Default)]
pub(super) struct BrakeState {
    /// The halt reason last logged, so a halt is logged once on entry and once on exit.
    halt_seen: Option<String>,
    /// Why buying is paused by the exchange's status, if it is.
    paused: Option<String>,
    /// Failed deliveries in a row.
    failed_in_row: u32,
    /// When recent exchange errors happened, for the error storm.
    errors: VecDeque<DateTime<Utc>>,
    /// The size of each game's last price list.
    list_sizes: std::collections::HashMap<Game, usize>,
    /// Recipients that cannot receive items, with the trade link they had then: a changed link is
    /// tried again.
    dead: std::collections::HashMap<String, TradeLink>,
    /// Where the rotation over recipients stands.
    next_recipient: usize,
}

impl super::Shared {
    /// Why buying is paused by the exchange's status, if it is.
    pub(super) fn brakes_paused(&self) -> Option<String> {
        self.brakes.paused.clone()
    }
}

impl Engine {
    /// Why buying is halted, if it is: the halt in force in the ledger. A ledger that cannot be
    /// read counts as halted.
    pub fn halted(&self) -> Option<String> {
        let now = match self.ledger.current_halt() {
            Ok(h) => {
                h.map(|h| format!("{} ({}, by {} at {})", h.reason, h.kind, h.by, h.at.format("%Y-%m-%d %H:%M:%S UTC")))
            }
            Err(e) => Some(format!("cannot read the halt state from the ledger: {e}")),
        };
        self.stats.metrics.set_halted(now.is_some());
        let mut s = self.shared();
        if s.brakes.halt_seen != now {
            // Whoever pulled it (the engine, or `skinbot halt` through the ledger), it is noticed
            // here: logged and told to the webhook once on entry and once on exit.
            let at = self.clock.now();
            match (&s.brakes.halt_seen, &now) {
                (_, Some(why)) => {
                    tracing::error!(reason = %why, "buying halted: no order is sent until `skinbot resume`");
                    self.notifier().send(crate::notify::Event::halt(at, why));
                }
                (Some(_), None) => {
                    tracing::warn!("buying resumed");
                    self.notifier().send(crate::notify::Event::resume(at));
                }
                (None, None) => {}
            }
            s.brakes.halt_seen = now.clone();
        }
        now
    }

    /// Pulls the brake: records a halt of `kind` in the ledger (unless one is in force already; the
    /// first reason stays).
    pub(crate) fn halt(&self, kind: &str, reason: String) {
        if let Ok(Some(_)) = self.ledger.current_halt() {
            return tracing::error!(kind, reason = %reason, "another reason to halt, while halted");
        }
        let event = HaltEvent { at: self.clock.now(), halted: true, kind: kind.into(), reason, by: "engine".into() };
        if let Err(e) = self.ledger.record_halt(&event) {
            tracing::error!(error = %e, reason = %event.reason, "cannot record the halt in the ledger");
        }
        self.halted();
    }

    /// Why orders must not go out now, if they must not: stopping, halted, or paused.
    pub(crate) fn hold_back(&self) -> Option<String> {
        if self.stopping.load(std::sync::atomic::Ordering::SeqCst) {
            return Some("skinbot is stopping".into());
        }
        if let Some(h) = self.halted() {
            return Some(format!("buying halted: {h}"));
        }
        self.shared().brakes.paused.clone()
    }

    /// Notes an exchange error: bad credentials halt; too many errors too fast halt.
    pub(crate) fn api_error(&self, what: &str, e: &ExchangeError) {
        self.stats.api_errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::warn!(error = %e, "{what} failed");
        let settings = self.config().halt.clone();
        if let ExchangeError::Fatal { .. } = e {
            if settings.on_bad_credentials {
                return self.halt("bad_credentials", e.to_string());
            }
        }
        let Some((limit, within)) = settings.error_storm else { return };
        let now = self.clock.now();
        let window = chrono::Duration::from_std(within).unwrap_or(chrono::Duration::MAX);
        let storm = {
            let mut s = self.shared();
            let errors = &mut s.brakes.errors;
            errors.push_back(now);
            while errors.front().is_some_and(|t| now - *t > window) {
                errors.pop_front();
            }
            errors.len() >= limit as usize
        };
        if storm {
            self.halt(
                "error_storm",
                format!("{limit} exchange errors within {} min (the last: {e})", window.num_minutes()),
            );
        }
    }

    /// Notes a delivery that ended: `limit` failures in a row halt.
    pub(crate) fn delivery_ended(&self, offer: &OfferStatus) {
        let Some(limit) = self.config().halt.failed_deliveries else { return };
        let failed = matches!(offer, OfferStatus::TradeCreateError | OfferStatus::Canceled | OfferStatus::Timeout);
        let n = {
            let mut s = self.shared();
            // A delivered item ends the run; a dead recipient is its own brake and counts neither way.
            if failed {
                s.brakes.failed_in_row += 1;
            } else if *offer == OfferStatus::Accepted {
                s.brakes.failed_in_row = 0;
            }
            s.brakes.failed_in_row
        };
        if failed && n >= limit {
            self.halt("failed_deliveries", format!("{n} deliveries failed in a row (the last: {offer})"));
        }
    }

    /// The next recipient in rotation among `allowed` (empty: all) that can receive items. With no
    /// recipient left at all, buying halts.
    pub(crate) fn next_recipient(&self, config: &Config, allowed: &[String]) -> Option<Recipient> {
        let (pick, none_alive) = {
            let mut s = self.shared();
            let alive = |r: &Recipient| s.brakes.dead.get(&r.name) != Some(&r.link);
            let none_alive = !config.recipients.iter().any(alive);
            let candidates: Vec<&Recipient> = config
                .recipients
                .iter()
                .filter(|r| allowed.is_empty() || allowed.contains(&r.name))
                .filter(|r| alive(r))
                .collect();
            let pick = (!candidates.is_empty()).then(|| candidates[s.brakes.next_recipient % candidates.len()].clone());
            s.brakes.next_recipient = s.brakes.next_recipient.wrapping_add(1);
            (pick, none_alive)
        };
        if none_alive {
            self.halt("recipients", "no recipient can receive items: fix their trade links in the config".into());
        }
        pick
    }

    /// An offer ended `invalid_trade_token` or `user_not_tradable`: its recipient cannot receive
    /// items. It is paused (the others keep receiving) until its link changes.
    pub(crate) fn recipient_failed(&self, name: Option<&str>, offer: &OfferStatus) {
        if !matches!(offer, OfferStatus::InvalidTradeToken | OfferStatus::UserNotTradable) {
            return;
        }
        let config = self.config();
        let Some(r) = config.recipients.iter().find(|r| Some(r.name.as_str()) == name).or(config.recipients.first())
        else {
            return;
        };
        let newly = self.shared().brakes.dead.insert(r.name.clone(), r.link.clone()).as_ref() != Some(&r.link);
        if newly {
            tracing::error!(
                recipient = %r.name,
                "recipient {} cannot receive items ({offer}): paused; fix its trade link in the config (a changed link is tried again), the others keep receiving",
                r.name
            );
        }
        if !config.recipients.iter().any(|r| self.shared().brakes.dead.get(&r.name) != Some(&r.link)) {
            self.halt("recipients", "no recipient can receive items: fix their trade links in the config".into());
        }
    }

    /// `status`: while the exchange says it is unavailable (or does not answer), buying pauses.
    pub async fn check_status(&self) {
        let why = match self.client.status().await {
            Ok(st) if st.available => None,
            Ok(st) => Some(format!(
                "the exchange says it is unavailable ({})",
                st.reason.as_deref().unwrap_or("no reason given")
            )),
            Err(e) => Some(format!("the exchange's status cannot be read: {e}")),
        };
        let mut s = self.shared();
        if s.brakes.paused != why {
            match &why {
                Some(w) => tracing::warn!("buying paused: {w}"),
                None => tracing::info!("buying resumed: the exchange is available again"),
            }
            s.brakes.paused = why;
        }
    }

    /// Spend velocity, a second line of defence beside the budget windows: halts when what was
    /// spent or reserved in the last minutes plus `orders` would exceed the configured amount.
    pub(crate) fn too_fast(&self, orders: Usd, rates: &crate::domain::Rates, now: DateTime<Utc>) -> bool {
        let Some((limit, within)) = self.config().halt.velocity.clone() else { return false };
        let Ok(limit) = limit.to_usd(rates) else {
            // Unconvertible: the guard refuses every order on the same grounds.
            return false;
        };
        let since = now - chrono::Duration::from_std(within).unwrap_or(chrono::Duration::MAX);
        let spent: Usd = match self.ledger.list_since(since) {
            Ok(recent) => recent.iter().map(PurchaseRecord::committed).sum(),
            Err(e) => {
                self.halt("velocity", format!("cannot read the ledger to check the spend velocity: {e}"));
                return true;
            }
        };
        if let Some(why) = velocity_over(spent, orders, limit, within) {
            self.halt("velocity", why);
            return true;
        }
        false
    }

    /// Price-list sanity: why this list must not be bought from, if it must not (too old, or
    /// shrunk by more than the configured share since the last one).
    pub(crate) fn list_insane(
        &self,
        game: Game,
        last_update: Option<&str>,
        size: usize,
        now: DateTime<Utc>,
    ) -> Option<String> {
        let sanity = self.config().sanity.clone();
        let previous = self.shared().brakes.list_sizes.insert(game, size);
        if let Some(why) = list_too_old(game, last_update, sanity.pricelist_max_age, now) {
            return Some(why);
        }
        match (sanity.list_drop_percent, previous) {
            (Some(percent), Some(before)) if shrank(before, size, percent) => {
                Some(format!("the {game} price list shrank from {before} to {size} listings (more than {percent}%)"))
            }
            _ => None,
        }
    }
}

/// Why a price list with this `last_update` (Unix seconds) is too old to buy from at `now`, if it is.
pub(crate) fn list_too_old(
    game: Game,
    last_update: Option<&str>,
    max_age: Option<std::time::Duration>,
    now: DateTime<Utc>,
) -> Option<String> {
    let (max_age, at) = (max_age?, last_update.and_then(|t| t.trim().parse::<i64>().ok())?);
    let age = now.timestamp().saturating_sub(at);
    (age > i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX))
        .then(|| format!("the {game} price list is {age} s old (last_update {at}; max {} s)", max_age.as_secs()))
}

/// The spend-velocity brake's verdict (shared with `skinbot plan`): why `orders` more on top of
/// `spent` in the last `within` would cross `limit`, if they would.
pub(crate) fn velocity_over(spent: Usd, orders: Usd, limit: Usd, within: std::time::Duration) -> Option<String> {
    (spent.saturating_add(orders) > limit).then(|| {
        format!(
            "{spent} spent or reserved in the last {} min, and {orders} more wanted: over the {limit} velocity limit",
            within.as_secs() / 60
        )
    })
}

/// A list of `size` listings after one of `before`: shrunk by more than `percent`?
fn shrank(before: usize, size: usize, percent: u8) -> bool {
    size.saturating_mul(100) < before.saturating_mul(100 - usize::from(percent.min(100)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_list_that_shrank_by_more_than_the_share_is_suspect() {
        assert!(!super::shrank(1000, 500, 50), "exactly half: not more than 50%");
        assert!(super::shrank(1000, 499, 50));
        assert!(!super::shrank(1000, 1200, 50), "growth is fine");
        assert!(!super::shrank(0, 0, 50));
    }
}
