//! What `skinbot status` shows of a running bot: written by the engine after every tick to
//! `<state>/status.json` (replaced whole, atomically), read by the command whether or not the bot
//! still runs (then it says how old it is).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A snapshot of the engine's state. Money in USD.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    pub pid: u32,
    pub written_at: Option<DateTime<Utc>>,
    /// `live`, `sandbox` or `dry-run`.
    pub mode: String,
    /// Why buying is halted (until `skinbot resume`), if it is.
    pub halted: Option<String>,
    /// Why buying is paused (the exchange is down), if it is.
    pub paused: Option<String>,
    pub balance: Option<String>,
    pub balance_at: Option<DateTime<Utc>>,
    /// Per budget window (`hour`, `day`, `per strategy today`): used (spent or reserved) and limit.
    pub windows: Vec<Window>,
    /// Purchases whose outcome or delivery is still open, by state.
    pub open: BTreeMap<String, u64>,
    pub last_tick: Option<TickReport>,
    /// Requests per minute the rate limiter allows (all, and the background share).
    pub rate_limit_per_minute: u32,
    pub rate_limit_background_per_minute: u32,
    /// Until when the exchange's `-7` backs every call off, if it does.
    pub rate_limited: bool,
    /// Calls the rate limiter let through in the last 60 s (all, and background ones): the
    /// headroom is the per-minute figure minus these.
    #[serde(default)]
    pub rate_limit_sent_last_minute: u32,
    #[serde(default)]
    pub rate_limit_background_sent_last_minute: u32,
    /// Each strategy's own count limits (`[limits] per_day`, `total`): purchases used and left, and
    /// what it spent or reserved today.
    #[serde(default)]
    pub strategies: Vec<StrategyWindow>,
}

/// One strategy's purchases against its `[limits]`, as of the last tick.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StrategyWindow {
    pub strategy: String,
    /// Purchases today (spent or reserved; configured timezone) and its `per_day`, if any.
    pub day: u32,
    pub per_day: Option<u32>,
    /// Purchases ever and its `total`, if any.
    pub total: u32,
    pub total_limit: Option<u32>,
    /// Spent or reserved today, in USD.
    pub spent_today: String,
}

impl StrategyWindow {
    /// Purchases left today under `per_day` and under `total`, whichever is fewer (`None`: no limit).
    pub fn left(&self) -> Option<u32> {
        let day = self.per_day.map(|l| l.saturating_sub(self.day));
        let total = self.total_limit.map(|l| l.saturating_sub(self.total));
        match (day, total) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub name: String,
    pub used: String,
    /// `None`: no limit configured, or (see `limit_unknown`) one that cannot be converted to USD.
    pub limit: Option<String>,
    pub left: Option<String>,
    /// Why the configured limit is not known in USD now (no usable rate for its currency); the
    /// guard refuses every order meanwhile. Absent in files written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_unknown: Option<String>,
}

impl Window {
    /// The limit as a person reads it: `10.00 USD`, `unknown (no usable EUR rate: …)` or `no limit`.
    pub fn limit_text(&self) -> String {
        match (&self.limit, &self.limit_unknown) {
            (Some(l), _) => l.clone(),
            (None, Some(why)) => format!("unknown ({why})"),
            (None, None) => "no limit".to_string(),
        }
    }

    /// What is left: an amount, `unknown` when the limit is, `-` when there is none.
    pub fn left_text(&self) -> String {
        match (&self.left, &self.limit_unknown) {
            (Some(l), _) => l.clone(),
            (None, Some(_)) => "unknown".to_string(),
            (None, None) => "-".to_string(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TickReport {
    pub at: Option<DateTime<Utc>>,
    pub game: String,
    pub listings: u64,
    pub candidates: u64,
    pub approved: u64,
    pub refused: BTreeMap<String, u64>,
    pub api_errors_total: u64,
}

pub(crate) fn status_path(state_dir: &Path) -> PathBuf {
    state_dir.join("status.json")
}

impl StatusReport {
    /// Replaces `<state>/status.json` whole (a reader never sees half a file).
    pub fn write(&self, state_dir: &Path) -> std::io::Result<()> {
        let path = status_path(state_dir);
        let tmp = state_dir.join(format!(".status.{}.tmp", std::process::id()));
        std::fs::write(&tmp, serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?)?;
        std::fs::rename(tmp, path)
    }

    pub fn read(state_dir: &Path) -> std::io::Result<Option<StatusReport>> {
        match std::fs::read(status_path(state_dir)) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(std::io::Error::other),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}
