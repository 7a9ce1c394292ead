//! A purchase from the moment a strategy wants it until its trade offer is final.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Intent, PurchaseState, Rates, Stage, Usd};

/// One entry of a purchase's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub at: DateTime<Utc>,
    pub state: Stage,
    pub detail: String,
}

/// The ledger's record of one purchase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchaseRecord {
    pub intent: Intent,
    pub created_at: DateTime<Utc>,
    /// Currency rates in force when it was decided (per 1 USD).
    pub rates: Rates,
    /// Hash of the configuration and strategies it was decided under.
    pub config_hash: String,
    pub state: PurchaseState,
    /// Every state it went through, oldest first.
    pub transitions: Vec<Transition>,
    /// Recorded by a version that marks each request `sent` just before it leaves, so a `pending`
    /// record was never sent. Records written before that (false) may have been sent while pending.
    #[serde(default)]
    pub sends_marked: bool,
    /// The recipient (by name, see `[[recipients]]`) its items were sent to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
}

impl PurchaseRecord {
    pub fn new(intent: Intent, at: DateTime<Utc>, rates: Rates, config_hash: String) -> Self {
        let transitions =
            vec![Transition { at, state: Stage::Pending, detail: format!("reserved {}", intent.max_price) }];
        PurchaseRecord {
            intent,
            created_at: at,
            rates,
            config_hash,
            state: PurchaseState::Pending,
            transitions,
            sends_marked: true,
            recipient: None,
        }
    }

    /// What this purchase counts against the budget: the reservation while the outcome is open,
    /// the debited amount once bought, nothing when nothing was bought.
    pub fn committed(&self) -> Usd {
        self.state.holds(self.intent.max_price)
    }

    /// When the exchange may last have received its request: the last transition (the `sent` mark,
    /// or a later answer), never before it was recorded.
    pub(crate) fn last_attempt(&self) -> DateTime<Utc> {
        self.transitions.last().map(|t| t.at).unwrap_or(self.created_at).max(self.created_at)
    }

    /// Recorded and never sent: pending, by a version that marks every request before it leaves.
    pub(crate) fn never_sent(&self) -> bool {
        self.sends_marked && self.state == PurchaseState::Pending
    }

    /// Moves to `state`, recording the transition.
    pub fn transition(&mut self, state: PurchaseState, at: DateTime<Utc>, detail: impl Into<String>) {
        self.transitions.push(Transition { at, state: state.stage(), detail: detail.into() });
        self.state = state;
    }
}
