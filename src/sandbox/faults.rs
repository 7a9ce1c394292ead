//! Faults on demand: what can go wrong between a client and SkinsBack, switched on by flags at start
//! or at run time (`Sandbox::set_faults`, `POST /sandbox/faults`). Which request a fractional fault
//! hits is drawn from a seeded generator, so a run is reproducible; `1.0` hits every request.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

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
    /// Restrict the fractional faults above to these `method`s (empty = every method).
    pub only_methods: Vec<String>,
    /// `-7 request_limit_reached`; `None` = unlimited.
    pub rate_limit: Option<RateLimit>,
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
}

const WINDOW: Duration = Duration::from_secs(60);

/// Sliding-window limiter over every `/api.php` call (the sandbox has one project, so per project
/// and per IP are the same thing here).
#[derive(Debug, Default)]
pub struct RateLimiter {
    recent: VecDeque<Duration>,
    blocked_until: Option<Duration>,
}

impl RateLimiter {
    /// Counts a request at `now`; `false` = answer -7. Requests refused during a block do not count.
    pub fn admit(&mut self, limit: &RateLimit, now: Duration) -> bool {
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
pub mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
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
    }
}
