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

pub mod book;
pub mod clock;
pub mod executor;
pub mod reconcile;
pub mod reload;
pub mod scheduler;
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

#[derive(Debug, Default)]
struct Shared {
    rates: Option<Rates>,
    /// Last fetched project balance, when, and what purchases debited since.
    balance: Option<LastBalance>,
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
    /// The compiled strategies and the last price list of each game, kept from tick to tick.
    memo: Mutex<Memo>,
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
            memo: Mutex::new(Memo::default()),
            stopping: std::sync::atomic::AtomicBool::new(false),
            stats: Stats::default(),
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

    /// The project balance as last fetched, if any.
    pub fn last_balance(&self) -> Option<Usd> {
        self.shared().balance.map(|b| b.amount)
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
        // A clean stop checkpoints the all-time counts: the next start reads no old event.
        if let Err(e) = self.book.lock().unwrap_or_else(|p| p.into_inner()).save(&self.ledger) {
            tracing::warn!(error = %e, "could not checkpoint the purchase counts");
        }
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
                s.balance = Some(LastBalance { amount: b.balance, fetched_at: now, debited_since: Usd::ZERO });
                tracing::debug!(balance = %b.balance, "balance");
            }
            Err(e) => self.api_error("balance", &e),
        }
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
        if let Some(b) = &mut s.balance {
            b.debited_since = b.debited_since.saturating_add(amount);
        }
    }

    /// Resolves open outcomes (under the trade lock) and follows offers.
    pub async fn poll(&self) {
        {
            let _g = self.trade_lock.lock().await;
            reconcile::resolve_open(self).await;
        }
        reconcile::follow_offers(self).await;
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
