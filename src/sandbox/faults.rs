//! Faults on demand: what can go wrong between a client and SkinsBack, switched on by flags at start
//! or at run time (`Sandbox::set_faults`, `POST /sandbox/faults`). Which request a fractional fault
//! hits is drawn from a seeded generator, so a run is reproducible; `1.0` hits every request.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::domain::Usd;

/// A probability or a fraction of requests, in `0.0..=1.0`. Never money: amounts are `Usd`.
pub type Probability = f64;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Added before every API request is answered.
    #[serde(with = "millis", rename = "latency_ms")]
    pub latency: Duration,
    /// Fraction answered with HTTP 500 or 502 and an HTML body, without being processed.
    pub http_error_rate: Probability,
    /// Fraction that get no answer for `hang_for` (then 504), without being processed: longer than
    /// any sane client timeout.
    pub hang_rate: Probability,
    #[serde(with = "millis", rename = "hang_for_ms")]
    pub hang_for: Duration,
    /// Fraction of *committed* buys (`market_buy`, `market_batch_buy`) whose connection is closed
    /// before the answer: the money is spent, the client cannot know.
    pub drop_after_commit_rate: Probability,
    /// Fraction of successful answers whose money fields are replaced by text that is not a number.
    pub malformed_rate: Probability,
    /// Market methods answer `-6 market_disabled`.
    pub market_disabled: bool,
    /// `status` answers `available: false` with this reason (`site_off`, `no_bots`).
    pub unavailable: Option<String>,
    /// Every call answers `-4 shop_not_active`.
    pub shop_inactive: bool,
    /// Restrict the fractional faults above and the ones below (`buy_delay`, `over_debit`,
    /// `omit_custom_id`, `error_answer`, `rate_override`) to these `method`s (empty = every method).
    pub only_methods: Vec<String>,
    /// `-7 request_limit_reached`; `None` = unlimited.
    pub rate_limit: Option<RateLimit>,
    /// `market_buy` / `market_batch_buy` wait this long *before* they are processed, then are
    /// processed whether or not the client is still there: a slow proxy that holds each buy and
    /// then forwards it. A client that gave up meanwhile never hears of the purchase.
    #[serde(with = "millis", rename = "buy_delay_ms")]
    pub buy_delay: Duration,
    /// A committed buy debits its price plus this, and reports that sum as `balance_debited_sum`,
    /// even above the order's `max_price`.
    pub over_debit: Option<Usd>,
    /// Buy answers (`market_buy`, the `purchased[]` and `unavailable[]` of `market_batch_buy`) and
    /// the items of `market_getinfo` and `market_history` leave out `custom_id`; the purchase still
    /// keeps it (a lookup by `custom_ids` still finds it).
    pub omit_custom_id: bool,
    /// The targeted methods (use `only_methods`) answer this error with HTTP 200 and are not
    /// processed: an error code the client has never seen, or a known code with a new message.
    pub error_answer: Option<ErrorAnswer>,
    /// `currencies` answers these rates (code → units per USD, as text, e.g. `"eur": "0.0092"`)
    /// instead of its usual ones; a code it does not list is added.
    pub rate_override: BTreeMap<String, String>,
}

/// An API error answer chosen by the test: `{"status":"error","error_code":code,"error_message":message}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorAnswer {
    pub code: i32,
    pub message: String,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            latency: Duration::ZERO,
            http_error_rate: 0.0,
            hang_rate: 0.0,
            hang_for: Duration::from_secs(30),
            drop_after_commit_rate: 0.0,
            malformed_rate: 0.0,
            market_disabled: false,
            unavailable: None,
            shop_inactive: false,
            only_methods: Vec::new(),
            rate_limit: Some(RateLimit::default()),
            buy_delay: Duration::ZERO,
            over_debit: None,
            omit_custom_id: false,
            error_answer: None,
            rate_override: BTreeMap::new(),
        }
    }
}

impl Faults {
    /// No faults at all, not even the rate limit.
    pub fn none() -> Self {
        Faults { rate_limit: None, ..Faults::default() }
    }

    pub fn targets(&self, method: Option<&str>) -> bool {
        self.only_methods.is_empty() || method.is_some_and(|m| self.only_methods.iter().any(|o| o == m))
    }
}

/// 500 requests per minute on SkinsBack (a sliding one-minute window); the block length is not
/// documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RateLimit {
    pub per_minute: u32,
    /// Once over the limit, every call answers -7 for this long.
    #[serde(with = "millis", rename = "block_ms")]
    pub block: Duration,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit { per_minute: 500, block: Duration::from_secs(60) }
    }
}

/// A fault that was applied to one request, as recorded in the request log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum FaultKind {
    Latency { ms: u64 },
    HttpError { status: u16 },
    Hang,
    DropAfterCommit,
    Malformed,
    RateLimited,
    MarketDisabled,
    ShopInactive,
    Unavailable,
    BuyDelay { ms: u64 },
    OverDebit,
    OmitCustomId,
    ErrorAnswer { code: i32 },
    RateOverride,
}

const WINDOW: Duration = Duration::from_secs(60);

/// Sliding-window limiter over every `/api.php` call (the sandbox has one project, so per project
/// and per IP are the same thing here).
#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    recent: VecDeque<Duration>,
    blocked_until: Option<Duration>,
}

impl RateLimiter {
    /// Counts a request at `now`; `false` = answer -7. Requests refused during a block do not count.
    pub(crate) fn admit(&mut self, limit: &RateLimit, now: Duration) -> bool {
        if let Some(until) = self.blocked_until {
            if now < until {
                return false;
            }
            self.blocked_until = None;
            self.recent.clear();
        }
        while self.recent.front().is_some_and(|t| now.saturating_sub(*t) >= WINDOW) {
            self.recent.pop_front();
        }
        if self.recent.len() >= limit.per_minute as usize {
            self.blocked_until = Some(now.saturating_add(limit.block));
            return false;
        }
        self.recent.push_back(now);
        true
    }
}

/// Durations as integer milliseconds in JSON (`"latency_ms": 250`).
pub(crate) mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_blocks_after_the_limit_and_releases_after_the_block() {
        let limit = RateLimit { per_minute: 3, block: Duration::from_secs(10) };
        let mut l = RateLimiter::default();
        let t = Duration::from_secs(1000);
        assert!(l.admit(&limit, t));
        assert!(l.admit(&limit, t));
        assert!(l.admit(&limit, t));
        assert!(!l.admit(&limit, t));
        assert!(!l.admit(&limit, t + Duration::from_secs(9)));
        assert!(l.admit(&limit, t + Duration::from_secs(10)));
    }

    #[test]
    fn faults_deserialize_from_partial_json() {
        let f: Faults =
            serde_json::from_str(r#"{"latency_ms":250,"market_disabled":true,"rate_limit":null}"#).expect("parses");
        assert_eq!(f.latency, Duration::from_millis(250));
        assert!(f.market_disabled);
        assert!(f.rate_limit.is_none());
        assert_eq!(f.hang_for, Duration::from_secs(30));
        assert!(f.buy_delay.is_zero() && f.over_debit.is_none() && !f.omit_custom_id);
        assert!(f.error_answer.is_none() && f.rate_override.is_empty());
    }

    #[test]
    fn the_money_safety_faults_read_from_json() {
        let f: Faults = serde_json::from_str(
            r#"{"buy_delay_ms":8000,"over_debit":"0.50","omit_custom_id":true,
                "error_answer":{"code":99,"message":"brand_new_error"},"rate_override":{"eur":"0.0092"}}"#,
        )
        .expect("parses");
        assert_eq!(f.buy_delay, Duration::from_secs(8));
        assert_eq!(f.over_debit, Some(Usd::new(rust_decimal_macros::dec!(0.50))));
        assert!(f.omit_custom_id);
        assert_eq!(f.error_answer, Some(ErrorAnswer { code: 99, message: "brand_new_error".into() }));
        assert_eq!(f.rate_override.get("eur").map(String::as_str), Some("0.0092"));
        let back: Faults = serde_json::from_str(&serde_json::to_string(&f).expect("serializes")).expect("parses");
        assert_eq!(back, f);
    }
}
