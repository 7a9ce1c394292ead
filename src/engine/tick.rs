//! The tick: one decision round. Price list → snapshot → strategies → guard → executor, reading from
//! the ledger only what a decision needs (today's and the open purchases, all-time counts caught up
//! from the event log).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use super::{executor, Engine};
use crate::domain::Rates;
use crate::domain::{Game, PurchaseRecord};
use crate::exchange::{FullList, ListStamp};
use crate::guard::{self, Windows};
use crate::ledger::{Ledger, LedgerError};
use crate::strategy::decide::{Decision, References, Snapshot, Tally};
use crate::strategy::file::Strategy;
use crate::strategy::matcher::Matcher;

/// What one tick leaves for the next: the strategy set compiled into a [`Matcher`], and per game
/// the last price list and the decision made on it.
#[derive(Debug, Default)]
pub(super) struct Memo {
    /// Built for the strategy set it holds; a reload swaps the set (a new `Arc`), so a pointer
    /// comparison tells when to rebuild. Holding the `Arc` keeps the pointer from being reused.
    matcher: Option<Arc<Matcher>>,
    games: HashMap<Game, Market>,
}

/// The last price list of one game.
#[derive(Debug)]
struct Market {
    /// How the exchange can tell us it has not changed; `None`: it cannot, read it every time.
    stamp: Option<ListStamp>,
    snapshot: Arc<Snapshot>,
    /// Whether its prices reached the ledger (if not, they are offered again).
    prices_recorded: bool,
    decided: Option<Decided>,
}

/// A decision and everything it was made from besides the snapshot. Deciding is pure: the same
/// inputs give the same decision, so it is reused only when every input is the same — and never
/// for rules that price from the recorded history, whose reference moves with the clock.
#[derive(Debug)]
struct Decided {
    matcher: Arc<Matcher>,
    rates: Rates,
    tally: Tally,
    decision: Decision,
}

impl Decided {
    fn reusable(&self, matcher: &Arc<Matcher>, game: Game, rates: &Rates, tally: &Tally) -> bool {
        Arc::ptr_eq(&self.matcher, matcher)
            && !matcher.uses_history(game)
            && self.rates == *rates
            && self.tally == *tally
    }
}

impl Memo {
    /// The matcher of `strategies`, compiled on first use after each (re)load.
    fn matcher(&mut self, strategies: &Arc<Vec<Strategy>>) -> Arc<Matcher> {
        match &self.matcher {
            Some(m) if Arc::ptr_eq(m.strategies(), strategies) => Arc::clone(m),
            _ => {
                let m = Arc::new(Matcher::compile(Arc::clone(strategies)));
                self.matcher = Some(Arc::clone(&m));
                m
            }
        }
    }
}

impl Engine {
    /// One decision round for every configured game.
    pub async fn tick(&self) {
        if let Some(r) = self.reloader.get() {
            r.check_now(self);
        }
        if self.shared().rates.is_none() {
            // Without rates only USD limits and prices can be checked; the guard refuses the rest.
            self.refresh_rates().await;
        }
        let _g = self.trade_lock.lock().await;
        let stale = {
            let s = self.shared();
            let max_age =
                chrono::Duration::from_std(self.config().budget.balance_max_age).unwrap_or(chrono::Duration::MAX);
            s.balance.is_none_or(|b| self.clock.now() - b.fetched_at > max_age)
        };
        if stale {
            self.fetch_balance().await;
        }
        let mut ok = true;
        for game in self.config().orders.games.clone() {
            ok &= self.tick_game(game).await;
        }
        let now = self.clock.now();
        if ok {
            self.stats.metrics.tick_succeeded(now);
        }
        // With `[notify] batch`, this tick's purchases as one message.
        self.notifier().end_tick(now);
        // The windows as they stand after this tick's orders (of every game), not as its decisions
        // saw them: counted once per tick, here.
        self.refresh_windows();
        if let Some(dir) = self.status_dir.get() {
            if let Err(e) = self.status().write(dir) {
                tracing::debug!(error = %e, "cannot write status.json");
            }
        }
    }

    /// Whether the game's price list was read and a decision reached (for `/health`); not when the
    /// limits cannot be converted to USD (no or stale rates). Halted or paused it is: `/health`
    /// says so itself.
    async fn tick_game(&self, game: Game) -> bool {
        // One configuration for the whole round, even if a reload lands meanwhile.
        let (config, strategies) = self.live();
        let previous = self.memo().games.get(&game).and_then(|m| m.stamp.clone());
        let fetched = match self.client.pricelist_table(game, previous.as_ref()).await {
            Ok(f) => f,
            Err(e) => {
                self.api_error("market_pricelist", &e);
                return false;
            }
        };
        let now = self.clock.now();
        let (snapshot, record) = {
            let mut memo = self.memo();
            match (fetched, memo.games.remove(&game)) {
                (FullList::Unchanged, Some(market)) => {
                    tracing::debug!(%game, "price list unchanged since the last tick: not read again");
                    let record = !market.prices_recorded;
                    memo.games.insert(game, market);
                    (memo.games.get(&game).map(|m| Arc::clone(&m.snapshot)), record)
                }
                (FullList::Fresh { table, stamp, last_update }, previous) => {
                    if let Some(why) = self.list_insane(game, last_update.as_deref(), table.len(), now) {
                        // Neither bought from nor recorded as price history; the last sane list
                        // is kept for the next comparison.
                        if let Some(p) = previous {
                            memo.games.insert(game, p);
                        }
                        drop(memo);
                        tracing::warn!("no order this tick: {why}");
                        return false;
                    }
                    let snapshot = Arc::new(Snapshot::from_table(game, now, table));
                    let market =
                        Market { stamp, snapshot: Arc::clone(&snapshot), prices_recorded: false, decided: None };
                    memo.games.insert(game, market);
                    (Some(snapshot), true)
                }
                // Only answered to a stamp, which only a kept list has.
                (FullList::Unchanged, None) => (None, false),
            }
        };
        let Some(snapshot) = snapshot else {
            tracing::warn!(%game, "price list reported unchanged but none is kept; next tick reads it");
            return false;
        };
        if record {
            match self.ledger.record_prices(game, snapshot.lowest_prices(), now) {
                Ok(_) => {
                    if let Some(m) = self.memo().games.get_mut(&game) {
                        m.prices_recorded = Arc::ptr_eq(&m.snapshot, &snapshot);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not record prices"),
            }
        }
        let observed_since = match self.ledger.observe(game, now, OBSERVATION_GAP) {
            Ok(since) => since,
            Err(e) => {
                tracing::warn!(error = %e, "could not record the observation");
                now
            }
        };
        // Only today's purchases and the open ones matter here; all-time counts come from the book.
        let windows = window_starts(now, config.schedule.timezone);
        let records = match self.recent_records(windows.day_start) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the ledger; no decision this tick");
                return false;
            }
        };
        let totals = {
            let mut book = self.book.lock().unwrap_or_else(|p| p.into_inner());
            if let Err(e) = book.catch_up(&self.ledger) {
                tracing::error!(error = %e, "cannot read the ledger's event log; no decision this tick");
                return false;
            }
            book.totals.clone()
        };
        let tally = tally_for(&config, totals, &records, windows.day_start);
        let (rates, stale) = self.rates_in_force(now, config.budget.rates_max_age);
        let refs = LedgerReferences { ledger: &self.ledger, now, observed_since };
        let matcher = self.memo().matcher(&strategies);
        let decision = self.decide(&matcher, &snapshot, &rates, tally, &refs);
        for note in &decision.notes {
            tracing::warn!("{note}");
        }
        for q in self.shared().quiet.observe(game, &decision.matched, now, super::quiet::QUIET_AFTER) {
            tracing::warn!(
                strategy = %q.strategy,
                rule = %q.rule,
                "rule {}/{} has matched no {game} listing for {} min: check its select against the market",
                q.strategy,
                q.rule,
                (now - q.since).num_minutes()
            );
        }
        self.stats.candidates.fetch_add(decision.candidates.len() as u64, Ordering::Relaxed);
        let limits = match config.budget.limits(&rates) {
            Ok(l) => l,
            Err(e) => {
                for _ in &decision.candidates {
                    self.stats.refused("no_rate");
                }
                let why = stale.map(|w| format!(" ({w})")).unwrap_or_default();
                tracing::warn!("no order this tick: cannot convert a limit to USD: {e}{why}");
                // Nothing can be bought: not a successful tick (`/health` turns stale).
                return false;
            }
        };
        if let Some(why) = self.hold_back() {
            // Halted or paused: prices are still recorded and offers followed; nothing is ordered.
            tracing::debug!(candidates = decision.candidates.len(), "no order this tick: {why}");
            return true;
        }
        let balance = self.shared().balance;
        let median = |g: Game, name: &str, since, now| self.ledger.median_price(g, name, since, now).ok().flatten();
        let Round { verdicts, .. } =
            guard_round(&config, decision.candidates, &limits, &records, windows, balance, now, &median, None);
        let candidate_count = verdicts.approved.len() + verdicts.refused.len();
        let mut by_reason: std::collections::BTreeMap<&str, usize> = Default::default();
        for r in &verdicts.refused {
            self.stats.refused(r.reason.kind());
            *by_reason.entry(r.reason.kind()).or_default() += 1;
            tracing::debug!(strategy = %r.candidate.strategy, rule = %r.candidate.rule, item = %r.candidate.name, "refused: {}", r.reason);
        }
        self.note_tick(game, now, snapshot.listing_count(), candidate_count, verdicts.approved.len(), &by_reason);
        // One line per tick for the refusals, and only when they differ from the last tick's (the
        // details are at debug level): a budget used up does not fill the log.
        let summary = by_reason.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ");
        let changed = self.shared().last_refusals.insert(game, summary.clone()).as_ref() != Some(&summary);
        if changed && !summary.is_empty() {
            let first = verdicts.refused.first().map(|r| r.reason.to_string()).unwrap_or_default();
            tracing::info!(game = %game, "refused {} orders ({summary}); for example: {first}", verdicts.refused.len());
        }
        tracing::debug!(
            game = %game,
            listings = snapshot.listing_count(),
            approved = verdicts.approved.len(),
            refused = verdicts.refused.len(),
            "tick"
        );
        if verdicts.approved.is_empty() {
            return true;
        }
        let wanted: crate::domain::Usd = verdicts.approved.iter().map(|a| a.candidate().max_price).sum();
        if self.too_fast(wanted, &rates, now) {
            return true;
        }
        self.stats.approved.fetch_add(verdicts.approved.len() as u64, Ordering::Relaxed);
        executor::execute(self, &config, &strategies, verdicts.approved, &rates).await;
        true
    }

    /// Recounts the budget windows and each strategy's counts from the ledger, for `skinbot status`.
    fn refresh_windows(&self) {
        let (config, strategies) = self.live();
        let now = self.clock.now();
        let windows = window_starts(now, config.schedule.timezone);
        let Ok(records) = self.recent_records(windows.day_start) else { return };
        let totals = {
            let mut book = self.book.lock().unwrap_or_else(|p| p.into_inner());
            if book.catch_up(&self.ledger).is_err() {
                return;
            }
            book.totals.clone()
        };
        let tally = tally_for(&config, totals, &records, windows.day_start);
        let max_age = chrono::Duration::from_std(config.budget.balance_max_age).unwrap_or(chrono::Duration::MAX);
        // The rates the tick would use: none when they are older than `rates_max_age`.
        let (rates, stale) = self.rates_in_force(now, config.budget.rates_max_age);
        let mut s = self.shared();
        let committed = guard::committed(&records, windows, s.balance, now, max_age);
        s.windows = budget_windows(&committed, &config.budget, &rates, stale.as_deref());
        s.strategy_windows = strategy_windows(&strategies, &tally, &records, windows.day_start);
    }

    /// Keeps what `skinbot status` shows of this tick: its counts (the windows are recounted after
    /// every game's orders, by [`Self::refresh_windows`]).
    fn note_tick(
        &self,
        game: Game,
        now: DateTime<Utc>,
        listings: usize,
        candidates: usize,
        approved: usize,
        refused: &std::collections::BTreeMap<&str, usize>,
    ) {
        let refused = refused.iter().map(|(k, n)| (k.to_string(), *n as u64)).collect();
        self.shared().last_tick = Some(super::status::TickReport {
            at: Some(now),
            game: game.to_string(),
            listings: listings as u64,
            candidates: candidates as u64,
            approved: approved as u64,
            refused,
            api_errors_total: self.stats.api_errors.load(Ordering::Relaxed),
        });
    }

    fn memo(&self) -> std::sync::MutexGuard<'_, Memo> {
        // Only a cache: after a panic elsewhere its content is still a valid (if stale) cache.
        self.memo.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The decision on `snapshot`: the one made last tick when nothing it depends on changed.
    fn decide(
        &self,
        matcher: &Arc<Matcher>,
        snapshot: &Arc<Snapshot>,
        rates: &Rates,
        tally: Tally,
        refs: &dyn References,
    ) -> Decision {
        let game = snapshot.game;
        let reuse = |m: &Market| {
            let d = m.decided.as_ref()?;
            (Arc::ptr_eq(&m.snapshot, snapshot) && d.reusable(matcher, game, rates, &tally)).then(|| d.decision.clone())
        };
        if let Some(decision) = self.memo().games.get(&game).and_then(reuse) {
            tracing::debug!(%game, "nothing changed since the last decision: made again from memory");
            return decision;
        }
        let decision = matcher.decide(snapshot, rates, &tally, refs);
        if let Some(m) = self.memo().games.get_mut(&game) {
            if Arc::ptr_eq(&m.snapshot, snapshot) {
                let decided =
                    Decided { matcher: Arc::clone(matcher), rates: rates.clone(), tally, decision: decision.clone() };
                m.decided = Some(decided);
            }
        }
        decision
    }

    /// Purchases created since `day_start`, and every purchase still open.
    fn recent_records(&self, day_start: DateTime<Utc>) -> Result<Vec<PurchaseRecord>, LedgerError> {
        let mut records = self.ledger.list_since(day_start)?;
        let seen: std::collections::HashSet<_> = records.iter().map(|r| r.intent.custom_id.clone()).collect();
        records.extend(self.ledger.open_purchases()?.into_iter().filter(|r| !seen.contains(&r.intent.custom_id)));
        Ok(records)
    }
}

/// What the decision reads of what was already bought: the all-time `totals`, today's and the open
/// `records`; a dry run's simulated fills count as taken listings (the real list still shows them).
/// The tick and `skinbot plan` build it here.
pub(crate) fn tally_for(
    config: &crate::config::Config,
    totals: crate::strategy::decide::Totals,
    records: &[PurchaseRecord],
    day_start: DateTime<Utc>,
) -> Tally {
    let mut tally = Tally::from_parts(totals, records, day_start);
    if config.dry_run {
        tally.take_listings(
            records
                .iter()
                .filter(|r| matches!(r.state, crate::domain::PurchaseState::Bought { .. }))
                .filter_map(|r| r.intent.item_id),
        );
    }
    tally
}

/// An item's recorded median price over [since, now]: `(game, name, since, now)`.
pub(crate) type MedianFn<'a> = dyn Fn(Game, &str, DateTime<Utc>, DateTime<Utc>) -> Option<crate::domain::Usd> + 'a;

/// What [`guard_round`] found: what was committed before, and the verdicts.
pub(crate) struct Round {
    pub committed: guard::Committed,
    pub verdicts: guard::Verdicts,
}

/// The guard's side of one decision round, with no I/O and nothing sent: what is committed (from
/// today's and the open `records`, the windows and the last balance), price sanity against each
/// item's recorded median (`median(game, name, since, now)`), then the guard's caps, budget windows
/// and balance floor. The tick and `skinbot plan` both decide through here, so a plan says exactly
/// what the next tick would approve and refuse.
#[allow(clippy::too_many_arguments)]
pub(crate) fn guard_round(
    config: &crate::config::Config,
    candidates: Vec<crate::domain::Candidate>,
    limits: &guard::Limits,
    records: &[PurchaseRecord],
    windows: Windows,
    balance: Option<guard::LastBalance>,
    now: DateTime<Utc>,
    median: &MedianFn<'_>,
    halt: Option<&str>,
) -> Round {
    let max_age = chrono::Duration::from_std(config.budget.balance_max_age).unwrap_or(chrono::Duration::MAX);
    let committed = guard::committed(records, windows, balance, now, max_age);
    let (candidates, jumped) = match config.sanity.price_jump_factor {
        None => (candidates, Vec::new()),
        Some(factor) => {
            // Refuses candidates priced more than the factor away from their item's recorded median
            // (a mispriced bait, or a corrupted list); the rest go on to the guard.
            let since = now - chrono::Duration::hours(i64::from(config.sanity.median_hours));
            let mut medians = HashMap::new();
            for c in &candidates {
                if let Some(m) = median(c.game, &c.name, since, now) {
                    medians.insert((c.game, c.name.clone()), m);
                }
            }
            guard::sane_prices(candidates, &medians, factor)
        }
    };
    let mut verdicts = guard::check(candidates, limits, &committed, halt);
    verdicts.refused.extend(jumped);
    Round { committed, verdicts }
}

/// The hour and day windows: used (spent or reserved), limit, left. A limit configured in another
/// currency than USD with no usable rate for it is shown as unknown, with the reason
/// (`why_no_rates`: why the rates in force are empty, if they are), never as "no limit".
pub(crate) fn budget_windows(
    committed: &guard::Committed,
    budget: &crate::config::BudgetSettings,
    rates: &Rates,
    why_no_rates: Option<&str>,
) -> Vec<super::status::Window> {
    let window = |name: &str, used: crate::domain::Usd, limit: &Option<crate::domain::Money>| {
        let (limit, unknown) = match limit {
            None => (None, None),
            Some(m) => match m.to_usd(rates) {
                Ok(usd) => (Some(usd), None),
                Err(e) => {
                    let why = why_no_rates.map(String::from).unwrap_or_else(|| e.to_string());
                    (None, Some(format!("no usable {} rate: {why}", m.currency())))
                }
            },
        };
        super::status::Window {
            name: name.into(),
            used: used.to_string(),
            limit: limit.map(|l| l.to_string()),
            left: limit.map(|l| l.saturating_sub(used).max(crate::domain::Usd::ZERO).to_string()),
            limit_unknown: unknown,
        }
    };
    vec![window("hour", committed.hour, &budget.per_hour), window("day", committed.day, &budget.per_day)]
}

/// Each strategy with a `[limits]` count: its purchases today and ever, and what it spent or
/// reserved today, for `skinbot status`.
fn strategy_windows(
    strategies: &[Strategy],
    tally: &Tally,
    records: &[PurchaseRecord],
    day_start: DateTime<Utc>,
) -> Vec<super::status::StrategyWindow> {
    strategies
        .iter()
        .filter(|s| s.limits.per_day.is_some() || s.limits.total.is_some())
        .map(|s| {
            let (day, total) = tally.strategy_counts(&s.name);
            let spent: crate::domain::Usd = records
                .iter()
                .filter(|r| r.intent.strategy == s.name && r.created_at >= day_start)
                .map(PurchaseRecord::committed)
                .sum();
            super::status::StrategyWindow {
                strategy: s.name.clone(),
                day,
                per_day: s.limits.per_day,
                total,
                total_limit: s.limits.total,
                spent_today: spent.to_string(),
            }
        })
        .collect()
}

/// Start of the current hour and of the current day in `tz`, as UTC instants.
pub fn window_starts(now: DateTime<Utc>, tz: Tz) -> Windows {
    let local = now.with_timezone(&tz);
    // Counted back from `now` rather than rebuilt from a local date and time: in the repeated hour
    // of a DST change "02:00" names two instants, and chrono rightly answers neither.
    let into_hour = chrono::Duration::seconds(i64::from(local.minute() * 60 + local.second()))
        + chrono::Duration::nanoseconds(i64::from(local.nanosecond()));
    let hour = now - into_hour;
    // The first instant of the local date: midnight, or the first hour after a DST gap that skips it.
    let day = (0..=3)
        .find_map(|h| tz.with_ymd_and_hms(local.year(), local.month(), local.day(), h, 0, 0).earliest())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(hour);
    Windows { hour_start: hour, day_start: day }
}

/// Longest break between two price-list observations that still counts as watching the market
/// continuously; after a longer one, the recorded history starts over as a reference.
pub const OBSERVATION_GAP: chrono::Duration = chrono::Duration::minutes(10);

/// Reference prices from the ledger's recorded price history, trusted only over the time the market
/// was really watched: a price recorded before downtime says nothing about the downtime.
pub(crate) struct LedgerReferences<'a> {
    pub(crate) ledger: &'a Ledger,
    pub(crate) now: DateTime<Utc>,
    pub(crate) observed_since: DateTime<Utc>,
}

impl References for LedgerReferences<'_> {
    fn history_median(&self, game: Game, name: &str, window_hours: u32) -> Option<crate::domain::Usd> {
        let window = chrono::Duration::try_hours(i64::from(window_hours))?;
        // At least half the window must have been watched.
        if self.now - self.observed_since < window / 2 {
            return None;
        }
        let since = self.now.checked_sub_signed(window)?.max(self.observed_since);
        self.ledger.median_price(game, name, since, self.now).ok().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_whose_midnight_does_not_exist_starts_at_its_first_hour() {
        // Chile skipped 00:00-01:00 on 2024-09-08.
        let tz: Tz = "America/Santiago".parse().unwrap();
        let now = Utc.with_ymd_and_hms(2024, 9, 8, 18, 0, 0).unwrap(); // 15:00 local
        let day = window_starts(now, tz).day_start;
        assert_eq!(day, Utc.with_ymd_and_hms(2024, 9, 8, 4, 0, 0).unwrap()); // 01:00 local (UTC-3)
    }

    #[test]
    fn windows_follow_the_configured_timezone() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 26, 23, 30, 0).unwrap(); // 00:30 on the 27th in Berlin
        let Windows { hour_start: hour, day_start: day } = window_starts(now, tz);
        assert_eq!(hour, Utc.with_ymd_and_hms(2026, 11, 26, 23, 0, 0).unwrap());
        assert_eq!(day, Utc.with_ymd_and_hms(2026, 11, 26, 23, 0, 0).unwrap());
        let day_utc = window_starts(now, Tz::UTC).day_start;
        assert_eq!(day_utc, Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap());
    }

    #[test]
    fn the_repeated_hour_of_a_dst_change_starts_at_its_own_beginning() {
        // Berlin, 2026-10-25: 02:00-03:00 local happens twice (CEST, then CET). An ambiguous local
        // time has no single "02:00"; the window must still begin there, not at `now`.
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let first = Utc.with_ymd_and_hms(2026, 10, 25, 0, 30, 0).unwrap(); // 02:30 CEST
        assert_eq!(window_starts(first, tz).hour_start, Utc.with_ymd_and_hms(2026, 10, 25, 0, 0, 0).unwrap());
        let second = Utc.with_ymd_and_hms(2026, 10, 25, 1, 45, 10).unwrap(); // 02:45:10 CET
        assert_eq!(window_starts(second, tz).hour_start, Utc.with_ymd_and_hms(2026, 10, 25, 1, 0, 0).unwrap());
        assert_eq!(window_starts(second, tz).day_start, Utc.with_ymd_and_hms(2026, 10, 24, 22, 0, 0).unwrap());
    }
}
