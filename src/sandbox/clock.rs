//! The sandbox's own clock. Market steps, offer transitions and every `date` it reports read this
//! clock, never the wall clock directly, so tests can drive time by hand and demos can run fast.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// How sandbox time moves.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockMode {
    /// Wall-clock time multiplied by `scale` (1.0 = real time; 60.0 makes the 10-minute offer
    /// timeout take 10 seconds). `advance` still adds on top.
    Real { scale: f64 }, // sandbox seconds per wall-clock second
    /// Time moves only when `Sandbox::advance` is called. For tests: no sleeps, fully reproducible.
    Manual,
}

impl Default for ClockMode {
    fn default() -> Self {
        ClockMode::Real { scale: 1.0 }
    }
}

#[derive(Debug)]
pub struct Clock {
    mode: ClockMode,
    /// Sandbox time at start, as a duration since the Unix epoch.
    origin: Duration,
    started: Instant,
    /// Time added by `advance`.
    offset: Mutex<Duration>,
}

impl Clock {
    /// `start_unix`: the sandbox time at start in Unix seconds (the wall clock when `None`).
    pub fn new(mode: ClockMode, start_unix: Option<u64>) -> Clock {
        let origin = match start_unix {
            Some(s) => Duration::from_secs(s),
            None => SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default(),
        };
        Clock { mode, origin, started: Instant::now(), offset: Mutex::new(Duration::ZERO) }
    }

    pub fn mode(&self) -> ClockMode {
        self.mode
    }

    pub(crate) fn is_manual(&self) -> bool {
        matches!(self.mode, ClockMode::Manual)
    }

    /// Sandbox time since the Unix epoch.
    pub fn now(&self) -> Duration {
        let offset = *self.offset.lock().unwrap_or_else(|e| e.into_inner());
        let run = match self.mode {
            ClockMode::Manual => Duration::ZERO,
            ClockMode::Real { scale } => {
                let scale = if scale.is_finite() && scale > 0.0 { scale } else { 1.0 };
                Duration::try_from_secs_f64(self.started.elapsed().as_secs_f64() * scale).unwrap_or(Duration::MAX)
            }
        };
        self.origin.saturating_add(run).saturating_add(offset)
    }

    pub fn now_unix(&self) -> u64 {
        self.now().as_secs()
    }

    /// Time for windows that protect the server (the rate limit): unscaled wall time in real mode,
    /// so a fast-forwarded demo keeps the real 500 requests/minute; sandbox time in manual mode, so
    /// tests can end a block with `advance`.
    pub(crate) fn limiter_now(&self) -> Duration {
        match self.mode {
            ClockMode::Manual => self.now(),
            ClockMode::Real { .. } => {
                let offset = *self.offset.lock().unwrap_or_else(|e| e.into_inner());
                self.started.elapsed().saturating_add(offset)
            }
        }
    }

    pub fn advance(&self, d: Duration) {
        let mut offset = self.offset.lock().unwrap_or_else(|e| e.into_inner());
        *offset = offset.saturating_add(d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let c = Clock::new(ClockMode::Manual, Some(1_700_000_000));
        assert_eq!(c.now_unix(), 1_700_000_000);
        c.advance(Duration::from_secs(90));
        assert_eq!(c.now_unix(), 1_700_000_090);
        assert_eq!(c.limiter_now(), c.now());
    }
}
