//! The engine: scheduled jobs that fetch the market, decide, guard, record, send, and follow every
//! purchase to a final offer status.
//!
//! Jobs (each on its own cron schedule, never stacked):
//! - **tick**: price list → snapshot → strategies → guard → ledger (intent + reservation, flushed) →
//!   `market_buy` / `market_batch_buy` → ledger (result);
//! - **rates**: `currencies`;
//! - **balance**: `balance`;
//! - **poll**: resolves purchases whose outcome is open and follows offers until final;
//! - **events** (not scheduled): the project websocket's delivery events, applied as they arrive
//!   (`events.rs`); offers are polled less often while it is up.
//!
//! The trade lock serialises everything that reads or moves the budget (tick, balance, resolving
//! open outcomes), so a reservation is always visible to the next decision.

pub mod book;
mod brakes;
pub mod clock;
pub mod events;
pub(crate) mod executor;
pub mod plan;
mod quiet;
pub mod reconcile;
pub mod reload;
pub(crate) mod scheduler;
pub mod status;
pub mod tick;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::config::Config;
use crate::domain::{Rates, Usd};
use crate::exchange::{wire, Client, ExchangeError};
use crate::guard::LastBalance;
use crate::ledger::Ledger;
use crate::strategy::file::Strategy;
use book::Book;
use clock::Clock;
use scheduler::JobStats;
use tick::Memo;
pub use tick::{window_starts, OBSERVATION_GAP};

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
    /// The Prometheus metrics (served when `[metrics] listen` is set); the client records into
    /// them too.
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl Stats {
    pub fn refusals(&self) -> HashMap<&'static str, u64> {
        self.refusals.lock().map(|m| m.clone()).unwrap_or_default()
    }

    fn refused(&self, kind: &'static str) {
        self.refused.fetch_add(1, Ordering::Relaxed);
        self.metrics.refusal(kind);
        if let Ok(mut m) = self.refusals.lock() {
            *m.entry(kind).or_default() += 1;
        }
    }
}

#[derive(Debug, Default)]
struct Shared {
    /// The currency rates in force and when they were fetched.
    rates: Option<(Rates, DateTime<Utc>)>,
    /// A list that moved implausibly far from the rates in force, and how many lists in a row
    /// agreed with it: after [`BELIEVE_AFTER`] it is believed.
    doubted: Option<(Rates, u32)>,
    /// The rates in force are past their maximum age (logged once when they become so).
    rates_stale: bool,
    /// Last fetched project balance, when, and what purchases debited since.
    balance: Option<LastBalance>,
    /// A dry run's simulated spend since start: the real balance never shows it.
    simulated_spent: Usd,
    /// The next made-up buy id of a dry run.
    simulated_buy_id: u64,
    /// The last tick, and the budget windows as it saw them, for `skinbot status`.
    last_tick: Option<status::TickReport>,
    windows: Vec<status::Window>,
    strategy_windows: Vec<status::StrategyWindow>,
    /// Each game's refusals of the last tick, as logged (logged again only when they change).
    last_refusals: HashMap<crate::domain::Game, String>,
    /// Rules that match nothing now, for the "matched nothing for an hour" warning.
    quiet: quiet::QuietRules,
    /// Pauses, counters and what was last logged about the brakes.
    brakes: brakes::BrakeState,
    /// When accepted offers were last checked for rollbacks.
    last_rollback_sweep: Option<DateTime<Utc>>,
    /// When market_history was last searched for purchases completed after their release.
    last_history_sweep: Option<DateTime<Utc>>,
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
    /// Checks the config and strategy files at the start of every tick (set by `skinbot run`).
    reloader: std::sync::OnceLock<Arc<reload::Reloader>>,
    /// Where `status.json` is written after every tick (set by `skinbot run`; tests leave it unset).
    status_dir: std::sync::OnceLock<std::path::PathBuf>,
    /// The compiled strategies and the last price list of each game, kept from tick to tick.
    memo: Mutex<Memo>,
    /// Set once shutdown is requested: orders already recorded but not yet sent are released.
    stopping: std::sync::atomic::AtomicBool,
    pub stats: Stats,
    /// The project websocket's state, and the pace of offer polling it sets (events.rs).
    events: events::Link,
    /// The webhook (set by `skinbot run` when `[notify] url` is; a disabled one otherwise).
    notifier: std::sync::OnceLock<crate::notify::Notifier>,
    /// A digest of the strategy files in force (their paths and text), to tell a reload whether
    /// they changed whatever else changed with them.
    strategy_digest: Mutex<String>,
}

impl Engine {
    pub fn new(config: Arc<Config>, strategies: Vec<Strategy>, deps: Deps) -> Arc<Engine> {
        let stats = Stats::default();
        stats.metrics.started(deps.clock.now());
        let strategy_digest = Mutex::new(reload::combined_hash("", &strategies));
        Arc::new(Engine {
            live: std::sync::RwLock::new((config, Arc::new(strategies))),
            client: deps.client.with_metrics(Arc::clone(&stats.metrics)),
            ledger: deps.ledger,
            clock: deps.clock,
            shared: Mutex::new(Shared::default()),
            trade_lock: tokio::sync::Mutex::new(()),
            book: Mutex::new(Book::default()),
            status_dir: std::sync::OnceLock::new(),
            reloader: std::sync::OnceLock::new(),
            memo: Mutex::new(Memo::default()),
            stopping: std::sync::atomic::AtomicBool::new(false),
            stats,
            events: events::Link::default(),
            notifier: std::sync::OnceLock::new(),
            strategy_digest,
        })
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The configuration and the strategies in force now, read together (a reload swaps both).
    pub fn live(&self) -> (Arc<Config>, Arc<Vec<Strategy>>) {
        let live = self.live.read().unwrap_or_else(|p| p.into_inner());
        (Arc::clone(&live.0), Arc::clone(&live.1))
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
        let notes = crate::config::reload::keep_restart_only(&old, &mut config);
        let changed = crate::config::reload::changes(&old, &config);
        let old_strategies = self.strategies();
        let names =
            |s: &[Strategy]| s.iter().map(|s| format!("{} ({} rules)", s.name, s.rules.len())).collect::<Vec<_>>();
        // The strategy files themselves, not the combined hash: an edit saved together with a
        // setting change (restart-only or not) is still reported.
        let strategies_changed = {
            let digest = reload::combined_hash("", &strategies);
            let mut held = self.strategy_digest.lock().unwrap_or_else(|p| p.into_inner());
            let was = std::mem::replace(&mut *held, digest);
            was != *held
        };
        if names(&old_strategies) != names(&strategies) {
            tracing::info!("strategies now: {}", names(&strategies).join(", "));
        } else if strategies_changed {
            tracing::info!("a strategy file changed; in force from the next tick");
        }
        for c in &changed {
            tracing::info!("configuration reloaded: {c}");
        }
        if !changed.is_empty() || strategies_changed || names(&old_strategies) != names(&strategies) {
            let mut told = changed.clone();
            if names(&old_strategies) != names(&strategies) {
                told.push(format!("strategies now: {}", names(&strategies).join(", ")));
            } else if strategies_changed {
                told.push("a strategy file changed".into());
            }
            self.notifier().send(crate::notify::Event::reloaded(self.clock.now(), told));
        }
        *self.live.write().unwrap_or_else(|p| p.into_inner()) = (Arc::new(config), Arc::new(strategies));
        for n in &notes {
            tracing::warn!("{n}");
        }
        notes
    }

    fn shared(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Checks the files `reloader` watches at the start of every tick, so no order leaves under a
    /// limit the user has already lowered and saved.
    pub fn reload_before_ticks(&self, reloader: Arc<reload::Reloader>) {
        let _ = self.reloader.set(reloader);
    }

    /// Sends webhook messages through `notifier` (set once, by `skinbot run` or a test).
    pub fn notify_to(&self, notifier: crate::notify::Notifier) {
        let _ = self.notifier.set(notifier);
    }

    /// The webhook: a disabled one unless [`Engine::notify_to`] gave one.
    pub(crate) fn notifier(&self) -> &crate::notify::Notifier {
        static DISABLED: crate::notify::Notifier = crate::notify::Notifier::disabled();
        self.notifier.get().unwrap_or(&DISABLED)
    }

    /// The metrics as scraped: open purchases and the halt read now.
    pub fn metrics_text(&self) -> String {
        let m = &self.stats.metrics;
        m.set_open(&self.ledger.open_by_state().unwrap_or_default());
        // halted() also notices a halt or resume pulled from outside, and tells the webhook.
        self.halted();
        m.notifications_dropped(self.notifier().dropped());
        m.encode()
    }

    /// `Ok(what is fine)` while ticks succeed; `Err(why not)` when halted, while paused (the
    /// exchange says it is down), or when the last successful tick (or the start, before the first)
    /// is older than `[metrics] stale_after_secs` (default three price-list intervals, at least
    /// 30 s). A tick that cannot convert the limits to USD (no or stale rates) is not successful.
    pub fn health(&self) -> Result<String, String> {
        if let Some(why) = self.halted() {
            return Err(format!("halted: {why}"));
        }
        if let Some(why) = self.shared().brakes_paused() {
            return Err(format!("paused: {why}"));
        }
        let config = self.config();
        let bound = config.metrics.stale_after(&config.schedule, self.clock.now());
        let now = self.clock.now();
        let (last, started) = self.stats.metrics.last_ok();
        let age = |t: DateTime<Utc>| (now - t).to_std().unwrap_or_default();
        match (last, started) {
            (Some(t), _) if age(t) <= bound => Ok(format!("last successful tick {} s ago", age(t).as_secs())),
            (Some(t), _) => Err(format!(
                "stale: the last successful tick was {} s ago (more than {} s)",
                age(t).as_secs(),
                bound.as_secs()
            )),
            (None, Some(s)) if age(s) <= bound => Ok("starting: no tick yet".into()),
            (None, _) => Err(format!("stale: no successful tick in the {} s since start", bound.as_secs())),
        }
    }

    /// Writes `status.json` in `dir` after every tick, for `skinbot status`.
    pub(crate) fn report_status_to(&self, dir: std::path::PathBuf) {
        let _ = self.status_dir.set(dir);
    }

    /// What `skinbot status` shows, now.
    pub fn status(&self) -> status::StatusReport {
        let config = self.config();
        let mode = config.mode();
        let open = self.ledger.open_by_state().unwrap_or_default();
        let halted = self.halted();
        let limiter = self.client.limiter();
        let sent = limiter.map_or((0, 0), |l| l.sent_last_minute());
        let s = self.shared();
        status::StatusReport {
            pid: std::process::id(),
            written_at: Some(self.clock.now()),
            mode: mode.into(),
            halted,
            paused: s.brakes_paused(),
            balance: s.balance.map(|b| b.amount.saturating_sub(b.debited_since).to_string()),
            balance_at: s.balance.map(|b| b.fetched_at),
            windows: s.windows.clone(),
            open,
            last_tick: s.last_tick.clone(),
            rate_limit_per_minute: limiter.map_or(0, |l| l.per_minute().get()),
            rate_limit_background_per_minute: limiter.map_or(0, |l| l.background_per_minute().get()),
            rate_limited: limiter.and_then(|l| l.blocked_until()).is_some_and(|t| t > tokio::time::Instant::now()),
            rate_limit_sent_last_minute: sent.0,
            rate_limit_background_sent_last_minute: sent.1,
            strategies: s.strategy_windows.clone(),
        }
    }

    /// The project balance as last fetched, if any.
    pub fn last_balance(&self) -> Option<Usd> {
        self.shared().balance.map(|b| b.amount)
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
                                e.halt("bug", format!("the {} job failed unexpectedly (a bug); see the log", $name));
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
        // Fresh rates, balance and exchange status before the first decision.
        self.check_status().await;
        self.refresh_rates().await;
        self.refresh_balance().await;
        job!("tick", s.pricelist, Arc::clone(&self.stats.ticks), tick);
        job!("rates", s.currencies, Arc::new(JobStats::default()), refresh_rates);
        job!("balance", s.balance, Arc::new(JobStats::default()), refresh_balance);
        job!("poll", s.poll, Arc::clone(&self.stats.polls), poll);
        job!("status", s.status, Arc::new(JobStats::default()), check_status);
        // Live delivery events (events.rs): offer polling slows down while the socket is up.
        tasks.push(tokio::spawn(events::run(Arc::clone(self), shutdown.clone())));
        for t in tasks {
            let _ = t.await;
        }
        watcher.abort();
        // A clean stop checkpoints the all-time counts: the next start reads no old event.
        if let Err(e) = self.book.lock().unwrap_or_else(|p| p.into_inner()).save(&self.ledger) {
            tracing::warn!(error = %e, "could not checkpoint the purchase counts");
        }
    }

    /// `currencies` → rates, checked against the rates in force, or at start against the last ones
    /// the ledger recorded: a rate that halves or doubles is more likely a bad answer than a market
    /// move. A list that repeats itself [`BELIEVE_AFTER`] times in a row is believed all the same.
    pub async fn refresh_rates(&self) {
        let rates = match self.client.currencies().await.and_then(|items| {
            wire::rates_from(&items).map_err(|e| ExchangeError::Malformed {
                method: "currencies",
                field: e.clone(),
                detail: e,
            })
        }) {
            Ok(rates) => rates,
            Err(e) => return self.api_error("currencies", &e),
        };
        let now = self.clock.now();
        let mut s = self.shared();
        let reference = match &s.rates {
            Some((held, _)) => Some(held.clone()),
            None => self.ledger.last_rates().unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot read the last recorded rates");
                None
            }),
        };
        if let Some(why) = reference.and_then(|old| implausible_move(&old, &rates)) {
            let repeats = match &s.doubted {
                Some((doubted, n)) if implausible_move(doubted, &rates).is_none() => n + 1,
                _ => 1,
            };
            if repeats < BELIEVE_AFTER {
                tracing::warn!("currency rates ignored ({repeats} of {BELIEVE_AFTER} lists in a row like it): {why}");
                s.doubted = Some((rates, repeats));
                return;
            }
            tracing::warn!("currency rates accepted after {repeats} lists in a row agreed: {why}");
        }
        if let Err(e) = self.ledger.set_last_rates(&rates) {
            tracing::warn!(error = %e, "cannot record the rates");
        }
        if s.rates_stale {
            tracing::info!("fresh currency rates: limits and prices in every currency are checked again");
            s.rates_stale = false;
        }
        s.rates = Some((rates, now));
        s.doubted = None;
    }

    /// The rates to decide with at `now`: those in force while younger than `max_age`, else none
    /// (only USD amounts can be checked then; the rest refuse, with `why`).
    pub(crate) fn rates_in_force(&self, now: DateTime<Utc>, max_age: std::time::Duration) -> (Rates, Option<String>) {
        let mut s = self.shared();
        let max_age = chrono::Duration::from_std(max_age).unwrap_or(chrono::Duration::MAX);
        match s.rates.clone() {
            Some((rates, at)) if now - at <= max_age => (rates, None),
            held => {
                let why = match held {
                    Some((_, at)) => format!(
                        "the currency rates are {} min old (max {} min)",
                        (now - at).num_minutes(),
                        max_age.num_minutes()
                    ),
                    None => "no currency rates yet".to_string(),
                };
                if !s.rates_stale {
                    tracing::warn!(
                        "{why}: limits and prices in other currencies than USD refuse orders until fresh rates arrive"
                    );
                    s.rates_stale = true;
                }
                (Rates::new(), Some(why))
            }
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
                // A dry run's purchases never reach the real balance: they stay subtracted.
                let debited_since = if self.config().dry_run { s.simulated_spent } else { Usd::ZERO };
                s.balance = Some(LastBalance { amount: b.balance, fetched_at: now, debited_since });
                tracing::debug!(balance = %b.balance, "balance");
            }
            Err(e) => self.api_error("balance", &e),
        }
    }

    /// True at most every ten minutes: time to check accepted offers for rollbacks.
    pub(crate) fn rollback_sweep_due(&self, now: DateTime<Utc>) -> bool {
        Self::due(&mut self.shared().last_rollback_sweep, now)
    }

    /// True every ten minutes, the first time ten minutes after the first ask: time to search
    /// market_history for purchases completed after their release.
    pub(crate) fn history_sweep_due(&self, now: DateTime<Utc>) -> bool {
        let mut s = self.shared();
        let last = *s.last_history_sweep.get_or_insert(now);
        let due = now - last >= chrono::Duration::minutes(10);
        if due {
            s.last_history_sweep = Some(now);
        }
        due
    }

    fn due(last: &mut Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
        let due = last.is_none_or(|t| now - t >= chrono::Duration::minutes(10));
        if due {
            *last = Some(now);
        }
        due
    }

    pub(crate) fn note_debit(&self, amount: Usd) {
        let dry_run = self.config().dry_run;
        let mut s = self.shared();
        if dry_run {
            s.simulated_spent = s.simulated_spent.saturating_add(amount);
        }
        if let Some(b) = &mut s.balance {
            b.debited_since = b.debited_since.saturating_add(amount);
        }
    }

    /// A unique made-up buy id for a dry run's simulated purchase (time-based, so runs differ).
    pub(crate) fn next_simulated_buy_id(&self) -> u64 {
        let now = u64::try_from(self.clock.now().timestamp_micros()).unwrap_or(0);
        let mut s = self.shared();
        s.simulated_buy_id = s.simulated_buy_id.max(now) + 1;
        s.simulated_buy_id
    }

    /// Resolves open outcomes (under the trade lock) and follows offers.
    pub async fn poll(&self) {
        {
            let _g = self.trade_lock.lock().await;
            reconcile::resolve_open(self).await;
        }
        // A dry run's offers are made up: there is nothing to ask the exchange about.
        if !self.config().dry_run {
            reconcile::follow_offers(self).await;
        }
    }
}

/// How many currency lists in a row must agree before an implausible move is believed.
const BELIEVE_AFTER: u32 = 3;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
