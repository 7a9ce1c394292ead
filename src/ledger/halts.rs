//! The brake's state: every halt and resume, with who, why and when. Kept in the ledger so a halt
//! survives restarts, works whether the bot runs or not (the running bot reads it before every
//! order), and its reason stays after a resume.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Ledger, LedgerError};

/// One halt or resume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HaltEvent {
    pub at: DateTime<Utc>,
    /// True for a halt, false for a resume.
    pub halted: bool,
    /// What pulled the brake: `operator`, or the automatic halt's name (`disagreement`,
    /// `failed_deliveries`, `error_storm`, `bad_credentials`, `velocity`, `bug`, …).
    pub kind: String,
    pub reason: String,
    /// Who: `cli`, `dashboard`, `engine`, a user name.
    pub by: String,
}

impl Ledger {
    /// Appends a halt or resume, flushed.
    pub fn record_halt(&self, event: &HaltEvent) -> Result<(), LedgerError> {
        let json = serde_json::to_vec(event).map_err(|e| LedgerError::Corrupt {
            tree: "halts",
            key: "new".into(),
            reason: e.to_string(),
        })?;
        let next = match self.halts.last().map_err(|e| self.storage(e))? {
            Some((k, _)) => super::keys::u64_from("halts", "last", &k)? + 1,
            None => 1,
        };
        self.halts.insert(next.to_be_bytes(), json).map_err(|e| self.storage(e))?;
        self.flush()
    }

    /// The halt in force, if the last event is a halt.
    pub fn current_halt(&self) -> Result<Option<HaltEvent>, LedgerError> {
        match self.halts.last().map_err(|e| self.storage(e))? {
            Some((_, v)) => Ok(Some(decode(&v)?).filter(|e| e.halted)),
            None => Ok(None),
        }
    }

    /// How many halts and resumes were ever recorded: changes with every one (for change checks).
    pub fn halt_count(&self) -> Result<u64, LedgerError> {
        match self.halts.last().map_err(|e| self.storage(e))? {
            Some((k, _)) => super::keys::u64_from("halts", "last", &k),
            None => Ok(0),
        }
    }

    /// Every halt and resume, oldest first.
    pub fn halt_history(&self) -> Result<Vec<HaltEvent>, LedgerError> {
        self.halts.iter().values().map(|v| decode(&v.map_err(|e| self.storage(e))?)).collect()
    }
}

fn decode(v: &[u8]) -> Result<HaltEvent, LedgerError> {
    serde_json::from_slice(v).map_err(|e| LedgerError::Corrupt {
        tree: "halts",
        key: "?".into(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(halted: bool, reason: &str) -> HaltEvent {
        HaltEvent { at: Utc::now(), halted, kind: "operator".into(), reason: reason.into(), by: "cli".into() }
    }

    #[test]
    fn the_last_event_says_whether_buying_is_halted_and_the_reasons_stay() {
        let ledger = Ledger::temporary().unwrap();
        assert_eq!(ledger.current_halt().unwrap(), None);
        ledger.record_halt(&event(true, "checking a strategy")).unwrap();
        assert_eq!(ledger.current_halt().unwrap().unwrap().reason, "checking a strategy");
        ledger.record_halt(&event(false, "")).unwrap();
        assert_eq!(ledger.current_halt().unwrap(), None);
        let history = ledger.halt_history().unwrap();
        assert_eq!(history.len(), 2);
        assert_eq!(history[0].reason, "checking a strategy");
    }
}
