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
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub name: String,
    pub used: String,
    pub limit: Option<String>,
    pub left: Option<String>,
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
