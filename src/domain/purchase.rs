//! A purchase from the moment a strategy wants it until its trade offer is final.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{BuyId, CustomId, Game, ItemId, OfferStatus, Rates, Usd};

/// What a strategy wants bought, after the guard approved it. Its `custom_id` is the ledger key and
/// the `custom_id` sent to the exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    pub custom_id: CustomId,
    pub strategy: String,
    pub rule: String,
    pub game: Game,
    pub name: String,
    /// The listing chosen from the price list; `None` buys the cheapest listing of `name`.
    pub item_id: Option<ItemId>,
    /// The price seen in the snapshot the decision was made on.
    pub price_seen: Usd,
    /// The ceiling sent as `max_price`, and the amount reserved against the budget until the
    /// exchange says what was really debited.
    pub max_price: Usd,
}

/// Where a purchase stands. "In flight" and "unknown" are states of their own so that
/// reconciliation has something concrete to resolve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PurchaseState {
    /// Recorded and reserved; the request may leave at any moment (or may have, before a crash).
    Pending,
    /// Sent; the exchange's answer was lost (timeout, dropped connection, 5xx). Resolved with
    /// `market_getinfo(custom_ids)`, never by buying again.
    Unknown { reason: String },
    /// The exchange said nothing was bought; the reservation is released.
    NotBought { code: i64, reason: String },
    /// Bought: the balance was debited and a trade offer is on its way.
    Bought { buy_id: BuyId, item_id: ItemId, debited: Usd, offer: OfferStatus, tradeofferid: Option<String> },
}

impl PurchaseState {
    pub fn label(&self) -> &str {
        match self {
            PurchaseState::Pending => "pending",
            PurchaseState::Unknown { .. } => "unknown",
            PurchaseState::NotBought { .. } => "not_bought",
            PurchaseState::Bought { offer, .. } => offer.as_str(),
        }
    }

    /// The exchange has not told us yet whether anything was bought (pending or unknown).
    pub fn is_unresolved(&self) -> bool {
        matches!(self, PurchaseState::Pending | PurchaseState::Unknown { .. })
    }

    /// Nothing more will happen to it.
    pub fn is_final(&self) -> bool {
        match self {
            PurchaseState::Pending | PurchaseState::Unknown { .. } => false,
            PurchaseState::NotBought { .. } => true,
            PurchaseState::Bought { offer, .. } => offer.is_final(),
        }
    }
}

/// One entry of a purchase's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub at: DateTime<Utc>,
    pub state: String,
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
}

impl PurchaseRecord {
    pub fn new(intent: Intent, at: DateTime<Utc>, rates: Rates, config_hash: String) -> Self {
        let transitions =
            vec![Transition { at, state: "pending".into(), detail: format!("reserved {}", intent.max_price) }];
        PurchaseRecord { intent, created_at: at, rates, config_hash, state: PurchaseState::Pending, transitions }
    }

    /// What this purchase counts against the budget: the reservation while the outcome is open,
    /// the debited amount once bought, nothing when nothing was bought.
    pub fn committed(&self) -> Usd {
        match &self.state {
            PurchaseState::Pending | PurchaseState::Unknown { .. } => self.intent.max_price,
            PurchaseState::NotBought { .. } => Usd::ZERO,
            PurchaseState::Bought { debited, .. } => *debited,
        }
    }

    /// Moves to `state`, recording the transition.
    pub fn transition(&mut self, state: PurchaseState, at: DateTime<Utc>, detail: impl Into<String>) {
        self.transitions.push(Transition { at, state: state.label().to_string(), detail: detail.into() });
        self.state = state;
    }
}
