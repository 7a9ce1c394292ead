//! The engine: scheduled jobs that fetch the market, decide, guard, record, send, and follow every
//! purchase to a final offer status.
//!
//! Jobs (each on its own cron schedule, never stacked):
//! - **tick**: price list → snapshot → strategies → guard → ledger (intent + reservation, flushed) →
//!   `market_buy` / `market_batch_buy` → ledger (result);
//! - **rates**: `currencies`;
//! - **balance**: `balance`;
//! - **poll**: resolves purchases whose outcome is open and follows offers until final.
//!
//! The trade lock serialises everything that reads or moves the budget (tick, balance, resolving
//! open outcomes), so a reservation is always visible to the next decision.

pub mod clock;
pub mod executor;
pub mod reconcile;
pub mod reload;
pub mod scheduler;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use tokio::sync::watch;

use crate::config::Config;
use crate::domain::{Game, PurchaseRecord, PurchaseState, Rates, Usd};
use crate::exchange::{wire, Client, ExchangeError};
use crate::guard::{self, Committed, Limits};
use crate::ledger::Ledger;
use crate::strategy::decide::{decide, weight, References, Snapshot, Tally, Totals};
use crate::strategy::file::Strategy;
use clock::Clock;
use scheduler::JobStats;

/// What the engine is given; tests pass a sandbox client, a temporary ledger and a paused clock.
pub struct Deps {
    pub client: Client,
    pub ledger: Ledger,
    pub clock: Arc<dyn Clock>,
}

/// Counters for the summary and for tests.
#[derive(Debug, Default)]
pub struct Stats {
    pub ticks: Arc<JobStats>,
    pub polls: Arc<JobStats>,
    pub candidates: AtomicU64,
    pub approved: AtomicU64,
    pub refused: AtomicU64,
    pub bought: AtomicU64,
    pub not_bought: AtomicU64,
    pub unknown: AtomicU64,
    pub api_errors: AtomicU64,
    refusals: Mutex<HashMap<&'static str, u64>>,
}

impl Stats {
    pub fn refusals(&self) -> HashMap<&'static str, u64> {
        self.refusals.lock().map(|m| m.clone()).unwrap_or_default()
    }

    fn refused(&self, kind: &'static str) {
        self.refused.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut m) = self.refusals.lock() {
            *m.entry(kind).or_default() += 1;
        }
    }
}

/// All-time purchase counts, caught up from the ledger's event log before each decision instead of
/// recounted from every purchase (a ledger grows for months; a tick runs every few seconds).
#[derive(Debug, Default)]
struct Book {
    next_seq: u64,
    weights: HashMap<crate::domain::CustomId, (bool, bool)>,
    totals: Totals,
}

impl Book {
    fn catch_up(&mut self, ledger: &Ledger) -> Result<(), crate::ledger::LedgerError> {
        for event in ledger.events_from(self.next_seq) {
            let event = event?;
            let after = weight(&event.record.state);
            let before = self.weights.insert(event.custom_id.clone(), after).unwrap_or((false, false));
            self.totals.apply(&event.record.intent, before, after);
            self.next_seq = event.seq + 1;
        }
        Ok(())
    }
}

#[derive(Debug, Default)]
struct Shared {
    rates: Option<Rates>,
    /// Last fetched project balance and when.
    balance: Option<(Usd, DateTime<Utc>)>,
    /// Debited by purchases since that balance was fetched.
    debited_since_balance: Usd,
    /// Set after a fatal exchange error: nothing is bought until restart.
    halt: Option<String>,
    /// When accepted offers were last checked for rollbacks.
    last_rollback_sweep: Option<DateTime<Utc>>,
}

pub struct Engine {
    /// The configuration and strategies in force, swapped whole on a reload (never half-applied).
    live: std::sync::RwLock<(Arc<Config>, Arc<Vec<Strategy>>)>,
    client: Client,
    ledger: Ledger,
    clock: Arc<dyn Clock>,
    shared: Mutex<Shared>,
    trade_lock: tokio::sync::Mutex<()>,
    book: Mutex<Book>,
    /// Set once shutdown is requested: orders already recorded but not yet sent are released.
    stopping: std::sync::atomic::AtomicBool,
    pub stats: Stats,
}

impl Engine {
    pub fn new(config: Arc<Config>, strategies: Vec<Strategy>, deps: Deps) -> Arc<Engine> {
        Arc::new(Engine {
            live: std::sync::RwLock::new((config, Arc::new(strategies))),
            client: deps.client,
            ledger: deps.ledger,
            clock: deps.clock,
            shared: Mutex::new(Shared::default()),
            trade_lock: tokio::sync::Mutex::new(()),
            book: Mutex::new(Book::default()),
            stopping: std::sync::atomic::AtomicBool::new(false),
            stats: Stats::default(),
        })
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The configuration in force now.
    pub fn config(&self) -> Arc<Config> {
        Arc::clone(&self.live.read().unwrap_or_else(|p| p.into_inner()).0)
    }

    /// The strategies in force now.
    pub fn strategies(&self) -> Arc<Vec<Strategy>> {
        Arc::clone(&self.live.read().unwrap_or_else(|p| p.into_inner()).1)
    }

    /// Puts a new, already validated configuration and strategy set in force for the next tick.
    /// Settings that only take effect at start (exchange connection, schedules, state folder,
    /// sandbox) keep their running values; the returned notes say which ones changed and wait for
    /// a restart.
    pub fn reload(&self, mut config: Config, strategies: Vec<Strategy>) -> Vec<String> {
        let old = self.config();
        let mut notes = Vec::new();
        let ex = (&old.exchange, &config.exchange);
        if ex.0.endpoint != ex.1.endpoint
            || ex.0.shop_id != ex.1.shop_id
            || ex.0.timeout != ex.1.timeout
            || ex.0.encoding != ex.1.encoding
            || ex.0.auth != ex.1.auth
            || ex.0.requests_per_minute != ex.1.requests_per_minute
            || ex.0.background_share_percent != ex.1.background_share_percent
        {
            notes.push("[exchange] changed: restart skinbot to apply".to_string());
        }
        let crons = |c: &Config| {
            let s = &c.schedule;
            let exprs = [s.pricelist.as_str(), s.currencies.as_str(), s.balance.as_str(), s.poll.as_str()];
            (s.timezone, exprs.map(str::to_string))
        };
        if crons(&old) != crons(&config) {
            notes.push("[schedule] changed: restart skinbot to apply".to_string());
        }
        if old.state_dir != config.state_dir {
            notes.push("[state] changed: restart skinbot to apply".to_string());
        }
        if config.orders.resolve_after < old.exchange.timeout * 2 {
            // Checked against the running timeout: the new one waits for a restart.
            notes.push(format!(
                "orders.resolve_after_secs kept at {} s: it must be at least twice the running request timeout",
                old.orders.resolve_after.as_secs()
            ));
            config.orders.resolve_after = old.orders.resolve_after;
        }
        if old.exchange.connect_timeout != config.exchange.connect_timeout {
            notes.push("[exchange] connect_timeout_ms changed: restart skinbot to apply".to_string());
        }
        config.exchange = old.exchange.clone();
        config.schedule = old.schedule.clone();
        config.state_dir = old.state_dir.clone();
        config.sandbox = old.sandbox.clone();
        tracing::info!(
            from = %old.hash, to = %config.hash, strategies = strategies.len(),
            "configuration reloaded; in force from the next tick"
        );
        *self.live.write().unwrap_or_else(|p| p.into_inner()) = (Arc::new(config), Arc::new(strategies));
        for n in &notes {
            tracing::warn!("{n}");
        }
        notes
    }

    fn shared(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Why trading is halted, if it is.
    pub fn halted(&self) -> Option<String> {
        self.shared().halt.clone()
    }

    fn halt(&self, why: String) {
        tracing::error!(reason = %why, "trading halted: no order will be sent until skinbot is restarted");
        self.shared().halt = Some(why);
    }

    /// Notes an exchange error; a fatal one halts trading.
    fn api_error(&self, what: &str, e: &ExchangeError) {
        self.stats.api_errors.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(error = %e, "{what} failed");
        if let ExchangeError::Fatal { .. } = e {
            self.halt(e.to_string());
        }
    }

    /// Runs every job until `shutdown` turns true; a job in progress finishes first (an order and its
    /// ledger record are never cut in half).
    pub async fn run(self: &Arc<Self>, shutdown: watch::Receiver<bool>) {
        let config = self.config();
        let s = &config.schedule;
        let tz = s.timezone;
        let mut tasks = Vec::new();
        macro_rules! job {
            ($name:literal, $cron:expr, $stats:expr, $method:ident) => {{
                let e = Arc::clone(self);
                let stats = $stats;
                tasks.push(tokio::spawn(scheduler::run_job(
                    $name,
                    $cron.clone(),
                    tz,
                    Arc::clone(&self.clock),
                    shutdown.clone(),
                    stats,
                    move || {
                        let e = Arc::clone(&e);
                        async move {
                            // A bug must not silently kill a job while the others go on trading.
                            let run = std::panic::AssertUnwindSafe(e.$method());
                            if futures_util::FutureExt::catch_unwind(run).await.is_err() {
                                e.halt(format!("the {} job failed unexpectedly (a bug); see the log", $name));
                            }
                        }
                    },
                )));
            }};
        }
        let watcher = {
            let e = Arc::clone(self);
            let mut rx = shutdown.clone();
            tokio::spawn(async move {
                while !*rx.borrow() {
                    if rx.changed().await.is_err() {
                        return;
                    }
                }
                e.stopping.store(true, Ordering::SeqCst);
            })
        };
        // Fresh rates and balance before the first decision.
        self.refresh_rates().await;
        self.refresh_balance().await;
        job!("tick", s.pricelist, Arc::clone(&self.stats.ticks), tick);
        job!("rates", s.currencies, Arc::new(JobStats::default()), refresh_rates);
        job!("balance", s.balance, Arc::new(JobStats::default()), refresh_balance);
        job!("poll", s.poll, Arc::clone(&self.stats.polls), poll);
        for t in tasks {
            let _ = t.await;
        }
        watcher.abort();
    }

    /// `currencies` → rates.
    pub async fn refresh_rates(&self) {
        match self.client.currencies().await {
            Ok(items) => match wire::rates_from(&items) {
                Ok(rates) => {
                    let mut s = self.shared();
                    match s.rates.as_ref().and_then(|old| implausible_move(old, &rates)) {
                        Some(why) => tracing::warn!("currency rates ignored, keeping the previous ones: {why}"),
                        None => s.rates = Some(rates),
                    }
                }
                Err(e) => self.api_error(
                    "currencies",
                    &ExchangeError::Malformed { method: "currencies", field: e.clone(), detail: e },
                ),
            },
            Err(e) => self.api_error("currencies", &e),
        }
    }

    /// `balance`, under the trade lock so no debit is in flight while it is read.
    pub async fn refresh_balance(&self) {
        let _g = self.trade_lock.lock().await;
        self.fetch_balance().await;
    }

    async fn fetch_balance(&self) {
        match self.client.balance().await {
            Ok(b) => {
                let now = self.clock.now();
                let mut s = self.shared();
                s.balance = Some((b.balance, now));
                s.debited_since_balance = Usd::ZERO;
                tracing::debug!(balance = %b.balance, "balance");
            }
            Err(e) => self.api_error("balance", &e),
        }
    }

    /// Start of the current hour and day in the configured timezone, in UTC.
    pub fn windows(&self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        window_starts(now, self.config().schedule.timezone)
    }

    /// One decision round for every configured game.
    pub async fn tick(&self) {
        if self.shared().rates.is_none() {
            // Without rates only USD limits and prices can be checked; the guard refuses the rest.
            self.refresh_rates().await;
        }
        let _g = self.trade_lock.lock().await;
        if let Some(why) = self.halted() {
            tracing::warn!(reason = %why, "tick skipped: trading is halted");
            return;
        }
        let stale = {
            let s = self.shared();
            let max_age =
                chrono::Duration::from_std(self.config().budget.balance_max_age).unwrap_or(chrono::Duration::MAX);
            s.balance.is_none_or(|(_, at)| self.clock.now() - at > max_age)
        };
        if stale {
            self.fetch_balance().await;
        }
        for game in self.config().orders.games.clone() {
            self.tick_game(game).await;
        }
    }

    async fn tick_game(&self, game: Game) {
        // One configuration for the whole round, even if a reload lands meanwhile.
        let (config, strategies) = (self.config(), self.strategies());
        let listings = match self.client.pricelist_full(game).await {
            Ok(list) => list.items,
            Err(e) => return self.api_error("market_pricelist", &e),
        };
        let now = self.clock.now();
        let snapshot = Snapshot::new(game, now, listings);
        if let Err(e) = self.ledger.record_prices(game, snapshot.lowest_prices(), now) {
            tracing::warn!(error = %e, "could not record prices");
        }
        let observed_since = match self.ledger.observe(game, now, OBSERVATION_GAP) {
            Ok(since) => since,
            Err(e) => {
                tracing::warn!(error = %e, "could not record the observation");
                now
            }
        };
        let (hour_start, day_start) = self.windows(now);
        // Only today's purchases and the open ones matter here; all-time counts come from the book.
        let records = match self.recent_records(day_start) {
            Ok(r) => r,
            Err(e) => return tracing::error!(error = %e, "cannot read the ledger; no decision this tick"),
        };
        let totals = {
            let mut book = self.book.lock().unwrap_or_else(|p| p.into_inner());
            if let Err(e) = book.catch_up(&self.ledger) {
                return tracing::error!(error = %e, "cannot read the ledger's event log; no decision this tick");
            }
            book.totals.clone()
        };
        let tally = Tally::from_parts(totals, &records, day_start);
        let rates = self.shared().rates.clone().unwrap_or_default();
        let refs = LedgerReferences { ledger: &self.ledger, now, observed_since };
        let decision = decide(&strategies, &snapshot, &rates, &tally, &refs);
        for note in &decision.notes {
            tracing::warn!("{note}");
        }
        self.stats.candidates.fetch_add(decision.candidates.len() as u64, Ordering::Relaxed);
        let limits = match Limits::from_settings(&config.budget, &rates) {
            Ok(l) => l,
            Err(e) => {
                for _ in &decision.candidates {
                    self.stats.refused("no_rate");
                }
                return tracing::warn!("no order this tick: cannot convert a limit to USD: {e}");
            }
        };
        let committed = self.committed(&records, hour_start, day_start);
        let halt = self.halted();
        let verdicts = guard::check(decision.candidates, &limits, &committed, halt.as_deref());
        for r in &verdicts.refused {
            self.stats.refused(r.reason.kind());
            tracing::info!(strategy = %r.candidate.strategy, rule = %r.candidate.rule, item = %r.candidate.name, "refused: {}", r.reason);
        }
        tracing::info!(
            game = %game,
            listings = snapshot.listing_count(),
            approved = verdicts.approved.len(),
            refused = verdicts.refused.len(),
            "tick"
        );
        if verdicts.approved.is_empty() {
            return;
        }
        self.stats.approved.fetch_add(verdicts.approved.len() as u64, Ordering::Relaxed);
        executor::execute(self, &config, verdicts.approved, &rates).await;
    }

    /// Purchases created since `day_start`, and every purchase still open.
    fn recent_records(&self, day_start: DateTime<Utc>) -> Result<Vec<PurchaseRecord>, crate::ledger::LedgerError> {
        let mut records = self.ledger.list_since(day_start)?;
        let seen: std::collections::HashSet<_> = records.iter().map(|r| r.intent.custom_id.clone()).collect();
        records.extend(self.ledger.open_purchases()?.into_iter().filter(|r| !seen.contains(&r.intent.custom_id)));
        Ok(records)
    }

    /// What the guard needs from the ledger (today's and open purchases) and the last balance.
    fn committed(&self, records: &[PurchaseRecord], hour_start: DateTime<Utc>, day_start: DateTime<Utc>) -> Committed {
        let mut c = Committed::default();
        for r in records {
            let amount = r.committed();
            if amount == Usd::ZERO {
                continue;
            }
            if r.created_at >= hour_start {
                c.hour = c.hour.checked_add(amount).unwrap_or(c.hour);
            }
            if r.created_at >= day_start {
                c.day = c.day.checked_add(amount).unwrap_or(c.day);
                let e = c.item_day.entry((r.intent.game, r.intent.name.clone())).or_default();
                *e = e.checked_add(amount).unwrap_or(*e);
            }
            if r.state.is_unresolved() {
                c.open_reservations = c.open_reservations.checked_add(amount).unwrap_or(c.open_reservations);
            }
        }
        let s = self.shared();
        let max_age = chrono::Duration::from_std(self.config().budget.balance_max_age).unwrap_or(chrono::Duration::MAX);
        let now = self.clock.now();
        // A balance too old to trust is no balance: the guard then refuses every order.
        c.balance =
            s.balance.filter(|(_, at)| now - *at <= max_age).map(|(b, _)| b.saturating_sub(s.debited_since_balance));
        c
    }

    /// Why orders recorded but not yet sent must not go out now, if they must not.
    pub(crate) fn hold_back(&self) -> Option<String> {
        if self.stopping.load(Ordering::SeqCst) {
            return Some("skinbot is stopping".into());
        }
        self.halted().map(|h| format!("trading halted: {h}"))
    }

    /// True at most every ten minutes: time to check accepted offers for rollbacks.
    pub(crate) fn rollback_sweep_due(&self, now: DateTime<Utc>) -> bool {
        let mut s = self.shared();
        let due = s.last_rollback_sweep.is_none_or(|t| now - t >= chrono::Duration::minutes(10));
        if due {
            s.last_rollback_sweep = Some(now);
        }
        due
    }

    pub(crate) fn note_debit(&self, amount: Usd) {
        let mut s = self.shared();
        s.debited_since_balance = s.debited_since_balance.checked_add(amount).unwrap_or(s.debited_since_balance);
    }

    /// Resolves open outcomes (under the trade lock) and follows offers.
    pub async fn poll(&self) {
        {
            let _g = self.trade_lock.lock().await;
            reconcile::resolve_open(self).await;
        }
        reconcile::follow_offers(self).await;
    }

    /// A one-screen account of a run.
    pub fn summary(&self) -> String {
        let st = &self.stats;
        let records = self.ledger.list().unwrap_or_default();
        let spent: Usd =
            records.iter().filter(|r| matches!(r.state, PurchaseState::Bought { .. })).map(|r| r.committed()).sum();
        let open = records.iter().filter(|r| !r.state.is_final()).count();
        let mut by_state: std::collections::BTreeMap<String, usize> = Default::default();
        for r in &records {
            *by_state.entry(r.state.label().to_string()).or_default() += 1;
        }
        let mut refusals: Vec<_> = st.refusals().into_iter().collect();
        refusals.sort();
        let balance = self.shared().balance.map(|(b, _)| b.to_string()).unwrap_or_else(|| "unknown".into());
        let mut out = String::new();
        out.push_str("── skinbot summary ──────────────────────────────\n");
        out.push_str(&format!(
            "ticks {} (missed {})   polls {}   api errors {}\n",
            st.ticks.runs.load(Ordering::Relaxed),
            st.ticks.missed.load(Ordering::Relaxed),
            st.polls.runs.load(Ordering::Relaxed),
            st.api_errors.load(Ordering::Relaxed)
        ));
        out.push_str(&format!(
            "this run: candidates {}   approved {}   refused {}   bought {}   not bought {}   unknown {}\n",
            st.candidates.load(Ordering::Relaxed),
            st.approved.load(Ordering::Relaxed),
            st.refused.load(Ordering::Relaxed),
            st.bought.load(Ordering::Relaxed),
            st.not_bought.load(Ordering::Relaxed),
            st.unknown.load(Ordering::Relaxed)
        ));
        if !refusals.is_empty() {
            let list: Vec<String> = refusals.iter().map(|(k, n)| format!("{k} {n}")).collect();
            out.push_str(&format!("refusals: {}\n", list.join(", ")));
        }
        out.push_str(&format!("ledger: {} purchases, {} still open, bought for {spent}\n", records.len(), open));
        if !by_state.is_empty() {
            let list: Vec<String> = by_state.iter().map(|(k, n)| format!("{k} {n}")).collect();
            out.push_str(&format!("states: {}\n", list.join(", ")));
        }
        out.push_str(&format!("balance (last fetched): {balance}\n"));
        if let Some(h) = self.halted() {
            out.push_str(&format!("HALTED: {h}\n"));
        }
        out
    }
}

/// A rate that moved by more than half (or doubled) since the last accepted list is more likely a
/// bad answer than a market move; limits written in that currency would be off by as much.
fn implausible_move(old: &Rates, new: &Rates) -> Option<String> {
    for (code, rate) in new.iter() {
        if let Some(prev) = old.get(code) {
            let two = rust_decimal::Decimal::TWO;
            if *rate > prev * two || *rate * two < prev {
                return Some(format!("{code} moved from {prev} to {rate} per USD"));
            }
        }
    }
    None
}

/// Start of the current hour and of the current day in `tz`, as UTC instants.
pub fn window_starts(now: DateTime<Utc>, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    let local = now.with_timezone(&tz);
    let hour = local
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now);
    // The first instant of the local date: midnight, or the first hour after a DST gap that skips it.
    let day = (0..=3)
        .find_map(|h| tz.with_ymd_and_hms(local.year(), local.month(), local.day(), h, 0, 0).earliest())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(hour);
    (hour, day)
}

/// Longest break between two price-list observations that still counts as watching the market
/// continuously; after a longer one, the recorded history starts over as a reference.
pub const OBSERVATION_GAP: chrono::Duration = chrono::Duration::minutes(10);

/// Reference prices from the ledger's recorded price history, trusted only over the time the market
/// was really watched: a price recorded before downtime says nothing about the downtime.
struct LedgerReferences<'a> {
    ledger: &'a Ledger,
    now: DateTime<Utc>,
    observed_since: DateTime<Utc>,
}

impl References for LedgerReferences<'_> {
    fn history_median(&self, game: Game, name: &str, window_hours: u32) -> Option<Usd> {
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
    fn the_book_caught_up_step_by_step_equals_a_full_recount() {
        use crate::domain::{BuyId, Intent, ItemId, OfferStatus};
        let ledger = Ledger::temporary().unwrap();
        let mut book = Book::default();
        let now = Utc::now();
        let price = Usd::parse("1.00").unwrap();
        let mut ids = Vec::new();
        for i in 0..6 {
            let intent = Intent {
                custom_id: ledger.next_custom_id(now).unwrap(),
                strategy: "s".into(),
                rule: format!("r{}", i % 2),
                game: Game::Cs2,
                name: format!("item {}", i % 3),
                item_id: Some(ItemId::new(i)),
                price_seen: price,
                max_price: price,
            };
            ids.push(intent.custom_id.clone());
            ledger.record_intents(&[PurchaseRecord::new(intent, now, Rates::new(), "h".into())]).unwrap();
        }
        book.catch_up(&ledger).unwrap();
        let bought = |offer| PurchaseState::Bought {
            buy_id: BuyId::new(1),
            item_id: ItemId::new(1),
            debited: price,
            offer,
            tradeofferid: None,
        };
        ledger.transition(&ids[0], PurchaseState::NotBought { code: 5, reason: "gone".into() }, now, "").unwrap();
        ledger.transition(&ids[1], bought(OfferStatus::CreatingTrade), now, "").unwrap();
        book.catch_up(&ledger).unwrap();
        ledger.transition(&ids[1], bought(OfferStatus::Canceled), now, "").unwrap();
        ledger.transition(&ids[2], bought(OfferStatus::Accepted), now, "").unwrap();
        ledger.transition(&ids[2], bought(OfferStatus::RollbackUser), now, "").unwrap();
        ledger.transition(&ids[3], PurchaseState::Unknown { reason: "timeout".into() }, now, "").unwrap();
        book.catch_up(&ledger).unwrap();
        book.catch_up(&ledger).unwrap(); // nothing new: no change
        assert_eq!(book.totals, Totals::from_records(&ledger.list().unwrap()));
    }

    #[test]
    fn a_day_whose_midnight_does_not_exist_starts_at_its_first_hour() {
        // Chile skipped 00:00-01:00 on 2024-09-08.
        let tz: Tz = "America/Santiago".parse().unwrap();
        let now = Utc.with_ymd_and_hms(2024, 9, 8, 18, 0, 0).unwrap(); // 15:00 local
        let (_, day) = window_starts(now, tz);
        assert_eq!(day, Utc.with_ymd_and_hms(2024, 9, 8, 4, 0, 0).unwrap()); // 01:00 local (UTC-3)
    }

    #[test]
    fn a_rate_that_halves_or_doubles_is_not_believed() {
        let rates = |eur: &str| {
            let mut r = Rates::new();
            r.insert("eur".parse().unwrap(), eur.parse().unwrap()).unwrap();
            r
        };
        assert!(implausible_move(&rates("0.92"), &rates("0.95")).is_none());
        assert!(implausible_move(&rates("0.92"), &rates("0.0001")).unwrap().contains("EUR moved from 0.92"));
        assert!(implausible_move(&rates("0.92"), &rates("2")).is_some());
    }

    #[test]
    fn windows_follow_the_configured_timezone() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 26, 23, 30, 0).unwrap(); // 00:30 on the 27th in Berlin
        let (hour, day) = window_starts(now, tz);
        assert_eq!(hour, Utc.with_ymd_and_hms(2026, 11, 26, 23, 0, 0).unwrap());
        assert_eq!(day, Utc.with_ymd_and_hms(2026, 11, 26, 23, 0, 0).unwrap());
        let (_, day_utc) = window_starts(now, Tz::UTC);
        assert_eq!(day_utc, Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap());
    }
}
