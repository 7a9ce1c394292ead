//! A purchase as the sandbox keeps it: the typed record the state produces, and that `render` turns
//! into the JSON of `market_buy`, `market_getinfo`, `market_history` and the market events.

use serde::Serialize;

use crate::domain::{BuyId, Game, ItemId, OfferStatus, Usd};

/// A purchase as the sandbox keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SandboxPurchase {
    /// The listing that was bought.
    pub id: ItemId,
    pub buy_id: BuyId,
    pub custom_id: Option<String>,
    pub name: String,
    pub game: Game,
    pub classid: String,
    pub price: Usd,
    /// Taken from the balance at purchase (the price, unless an over-debit fault added to it).
    pub debited: Usd,
    /// The project balance right after this debit: what a balance floor is checked against.
    pub balance_after: Usd,
    /// Given back after a failed offer (zero otherwise).
    pub refunded: Usd,
    pub offer_status: OfferStatus,
    /// Every status with the sandbox time (Unix seconds) it was reached, in order.
    pub history: Vec<(u64, OfferStatus)>,
    pub steamid: String,
    /// Set once the offer exists (`waiting_accept`).
    pub tradeofferid: Option<String>,
    /// Purchase time, Unix seconds.
    pub date: u64,
}
