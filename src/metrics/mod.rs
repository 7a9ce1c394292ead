//! Prometheus metrics of one running engine (`prometheus-client`, the Prometheus project's own
//! Rust client), and their endpoint (`server.rs`: `/metrics` and `/health`, opt-in with
//! `[metrics] listen`).
//!
//! Every engine has its own registry (tests run several engines in one process); the exchange
//! client records its calls into the engine's registry at one place (`Client::call_with`).
//! Counters and gauges are updated where things happen; open purchases by state and the halt
//! are read when scraped.
//!
//! Money: the Prometheus format carries numbers as 64-bit floats. `skinbot_spent_total` and
//! `skinbot_refunded_total` are kept as exact `Decimal` running totals (a custom collector,
//! [`MoneyTotals`]) and converted to a float once per scrape, with the currency as a label: still
//! counters, and the scraped value is the exact total rounded once (no float drift from summing
//! increments). The ledger is the record of money; these are for graphs and alerts.
//!
//! A dry run's simulated fills are not counted in `skinbot_orders_total{outcome="bought"}` nor in
//! `skinbot_spent_total` (nor their failed offers in `skinbot_refunded_total`): nothing was bought
//! or debited. Its ledger (`ledger-dry-run`) and `skinbot ledger summary` show them.

pub mod server;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use crate::domain::Usd;
use crate::exchange::ExchangeError;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CurrencyLabel {
    currency: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabel {
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabel {
    method: &'static str,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PriorityLabel {
    priority: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

/// The names as scraped (counters get `_total`, units their suffix, from the registry).
pub const METRIC_NAMES: &[&str] = &[
    "skinbot_orders_total",
    "skinbot_spent_total",
    "skinbot_refunded_total",
    "skinbot_api_request_duration_seconds",
    "skinbot_api_errors_total",
    "skinbot_rate_limiter_waits_total",
    "skinbot_rate_limiter_wait_seconds_total",
    "skinbot_guard_refusals_total",
    "skinbot_open_purchases",
    "skinbot_halted",
    "skinbot_last_successful_tick_timestamp_seconds",
    "skinbot_notifications_dropped_total",
];

/// The last successful tick, and when counting began.
type Since = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// One engine's metrics.
pub struct Metrics {
    registry: Registry,
    orders: Family<OutcomeLabel, Counter>,
    money: Arc<MoneyTotals>,
    api_latency: Family<MethodLabel, Histogram>,
    api_errors: Family<ErrorLabel, Counter>,
    limiter_waits: Family<PriorityLabel, Counter>,
    limiter_wait_seconds: Family<PriorityLabel, Counter<f64, AtomicU64>>,
    refusals: Family<ReasonLabel, Counter>,
    open: Family<StateLabel, Gauge>,
    halted: Gauge,
    last_tick: Gauge,
    notify_dropped: Counter,
    /// When the last tick that read a price list and reached a decision ended, and when counting
    /// began (the staleness of `/health` counts from there until the first tick).
    last_ok: Mutex<Since>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Latency buckets: 5 ms to about 41 s (a full price list can take seconds).
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("skinbot");
        let m = Metrics {
            orders: Family::default(),
            money: Arc::default(),
            api_latency: Family::new_with_constructor(latency_histogram),
            api_errors: Family::default(),
            limiter_waits: Family::default(),
            limiter_wait_seconds: Family::default(),
            refusals: Family::default(),
            open: Family::default(),
            halted: Gauge::default(),
            last_tick: Gauge::default(),
            notify_dropped: Counter::default(),
            last_ok: Mutex::new((None, None)),
            registry: Registry::default(),
        };
        registry.register(
            "orders",
            "Orders by recorded outcome (bought, not_bought, unknown; an unknown outcome resolved later counts again under its resolution)",
            m.orders.clone(),
        );
        registry.register_collector(Box::new(Arc::clone(&m.money)));
        registry.register_with_unit(
            "api_request_duration",
            "Exchange API call latency (after the rate limiter), by method",
            Unit::Seconds,
            m.api_latency.clone(),
        );
        registry.register("api_errors", "Exchange API errors by method and code", m.api_errors.clone());
        registry.register("rate_limiter_waits", "Calls that waited for the rate limiter", m.limiter_waits.clone());
        registry.register_with_unit(
            "rate_limiter_wait",
            "Time spent waiting for the rate limiter",
            Unit::Seconds,
            m.limiter_wait_seconds.clone(),
        );
        registry.register("guard_refusals", "Candidates refused, by reason", m.refusals.clone());
        registry.register("open_purchases", "Purchases not final yet, by state", m.open.clone());
        registry.register("halted", "1 while buying is halted, else 0", m.halted.clone());
        registry.register_with_unit(
            "last_successful_tick_timestamp",
            "When the last tick that read a price list and reached a decision ended (unix time)",
            Unit::Seconds,
            m.last_tick.clone(),
        );
        registry.register(
            "notifications_dropped",
            "Webhook messages dropped because the queue was full",
            m.notify_dropped.clone(),
        );
        Metrics { registry, ..m }
    }

    /// An order's recorded outcome.
    pub(crate) fn order(&self, outcome: &'static str) {
        self.orders.get_or_create(&OutcomeLabel { outcome }).inc();
    }

    /// A purchase's debit (the exchange debits USD).
    pub(crate) fn spent(&self, amount: Usd) {
        MoneyTotals::add(&self.money.spent, amount);
    }

    /// A failed offer's debit, which the exchange returns.
    pub(crate) fn refunded(&self, amount: Usd) {
        MoneyTotals::add(&self.money.refunded, amount);
    }

    /// One API call: its latency, and its error code if it failed.
    pub(crate) fn api_call<T>(&self, method: &'static str, took: Duration, result: &Result<T, ExchangeError>) {
        self.api_latency.get_or_create(&MethodLabel { method }).observe(took.as_secs_f64());
        if let Err(e) = result {
            self.api_errors.get_or_create(&ErrorLabel { method, code: error_code(e) }).inc();
        }
    }

    /// A call held back by the rate limiter for `waited` (counted when it waited at all).
    pub(crate) fn limiter_wait(&self, priority: &'static str, waited: Duration) {
        if waited >= Duration::from_millis(1) {
            let label = PriorityLabel { priority };
            self.limiter_waits.get_or_create(&label).inc();
            self.limiter_wait_seconds.get_or_create(&label).inc_by(waited.as_secs_f64());
        }
    }

    pub(crate) fn refusal(&self, reason: &'static str) {
        self.refusals.get_or_create(&ReasonLabel { reason }).inc();
    }

    /// Open purchases by state, as read from the ledger now (states no longer present drop out).
    pub(crate) fn set_open(&self, counts: &std::collections::BTreeMap<String, u64>) {
        self.open.clear();
        for (state, n) in counts {
            self.open.get_or_create(&StateLabel { state: state.clone() }).set(i64::try_from(*n).unwrap_or(i64::MAX));
        }
    }

    pub(crate) fn set_halted(&self, halted: bool) {
        self.halted.set(i64::from(halted));
    }

    /// A tick read its price list and reached a decision at `at`.
    pub(crate) fn tick_succeeded(&self, at: DateTime<Utc>) {
        self.last_tick.set(at.timestamp());
        self.last_ok.lock().unwrap_or_else(|p| p.into_inner()).0 = Some(at);
    }

    /// Counting begins (the engine starts): until the first tick, staleness counts from here.
    pub(crate) fn started(&self, at: DateTime<Utc>) {
        let mut g = self.last_ok.lock().unwrap_or_else(|p| p.into_inner());
        g.1.get_or_insert(at);
    }

    /// The last successful tick, else when counting began.
    pub(crate) fn last_ok(&self) -> Since {
        *self.last_ok.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Brings the dropped-notifications counter up to `total` (the notifier counts them).
    pub(crate) fn notifications_dropped(&self, total: u64) {
        let have = self.notify_dropped.get();
        if total > have {
            self.notify_dropped.inc_by(total - have);
        }
    }

    /// The text exposition (OpenMetrics, which Prometheus scrapes natively).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Exact running totals of money by currency (the exchange debits USD), encoded as counters when
/// scraped: the one place an amount becomes a float.
#[derive(Debug, Default)]
struct MoneyTotals {
    spent: Mutex<BTreeMap<&'static str, Decimal>>,
    refunded: Mutex<BTreeMap<&'static str, Decimal>>,
}

impl MoneyTotals {
    fn add(totals: &Mutex<BTreeMap<&'static str, Decimal>>, amount: Usd) {
        let mut t = totals.lock().unwrap_or_else(|p| p.into_inner());
        let sum = t.entry("USD").or_default();
        *sum = sum.saturating_add(amount.amount());
    }
}

impl Collector for MoneyTotals {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let families = [
            ("spent", "Debits of purchases, by currency", &self.spent),
            ("refunded", "Debits of offers that failed before delivery, by currency", &self.refunded),
        ];
        for (name, help, totals) in families {
            let totals = totals.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for (currency, total) in totals {
                let label = CurrencyLabel { currency };
                // The export edge: the exact total as the float the format carries.
                ConstCounter::new(total.to_f64().unwrap_or(0.0)).encode(family.encode_family(&label)?)?;
            }
        }
        Ok(())
    }
}

/// An error's `code` label: the exchange's own code when it answered one, else what happened.
fn error_code(e: &ExchangeError) -> String {
    match e {
        ExchangeError::Rejected { code, .. } | ExchangeError::Fatal { code, .. } => code.to_string(),
        ExchangeError::RateLimited { .. } => "-7".into(),
        ExchangeError::NotSent { .. } => "not_sent".into(),
        ExchangeError::OutcomeUnknown { timed_out: true, .. } => "timeout".into(),
        ExchangeError::OutcomeUnknown { .. } => "outcome_unknown".into(),
        ExchangeError::Malformed { .. } => "malformed".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn money_totals_are_summed_exactly_and_converted_once() {
        let m = Metrics::new();
        // Ten thousand debits of 0.10 USD: a float sum drifts (1000.0000000001588), the Decimal one
        // does not.
        for _ in 0..10_000 {
            m.spent(Usd::new(dec!(0.10)));
        }
        m.refunded(Usd::new(dec!(0.10)));
        m.refunded(Usd::new(dec!(0.20)));
        let text = m.encode();
        assert!(text.lines().any(|l| l == "skinbot_spent_total{currency=\"USD\"} 1000.0"), "{text}");
        assert!(text.lines().any(|l| l == "skinbot_refunded_total{currency=\"USD\"} 0.3"), "{text}");
    }

    #[test]
    fn every_documented_name_is_in_the_exposition() {
        let m = Metrics::new();
        m.order("bought");
        m.spent(Usd::new(dec!(1.25)));
        m.refunded(Usd::new(dec!(0.5)));
        m.api_call::<()>("market_buy", Duration::from_millis(12), &Ok(()));
        m.api_call::<()>("balance", Duration::ZERO, &Err(ExchangeError::RateLimited { method: "balance" }));
        m.limiter_wait("trade", Duration::from_millis(5));
        m.refusal("per_day");
        m.set_open(&[("sent".to_string(), 2)].into_iter().collect());
        m.tick_succeeded(Utc::now());
        m.notifications_dropped(3);
        let text = m.encode();
        for name in METRIC_NAMES {
            assert!(text.contains(&format!("\n{name}")), "{name} missing:\n{text}");
        }
        assert!(text.contains("skinbot_spent_total{currency=\"USD\"} 1.25"), "{text}");
        assert!(text.contains("# TYPE skinbot_spent counter"), "{text}");
        assert!(text.contains("skinbot_api_errors_total{method=\"balance\",code=\"-7\"} 1"), "{text}");
    }
}
