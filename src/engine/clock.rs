//! Domain time as a dependency. The engine reads UTC time through [`Clock`]; [`TokioClock`] follows
//! tokio's clock, so a test with `tokio::time::pause` moves the engine's calendar too.

use chrono::{DateTime, Utc};
use tokio::time::Instant;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// UTC time anchored once to the system clock, then advanced by tokio's monotonic clock.
#[derive(Debug, Clone)]
pub struct TokioClock {
    base_utc: DateTime<Utc>,
    base: Instant,
}

impl TokioClock {
    pub fn new() -> Self {
        Self::starting_at(Utc::now())
    }

    /// A clock that reads `at` now (tests pick a calendar instant, e.g. just before midnight).
    pub fn starting_at(at: DateTime<Utc>) -> Self {
        TokioClock { base_utc: at, base: Instant::now() }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = Instant::now().saturating_duration_since(self.base);
        self.base_utc + chrono::Duration::from_std(elapsed).unwrap_or(chrono::Duration::MAX)
    }
}
