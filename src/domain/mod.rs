//! Pure domain types: money, ids, games, trade links, market names, orders (listing → candidate →
//! intent) and the purchase lifecycle.

pub mod game;
pub mod ids;
pub(crate) mod lifecycle;
pub mod listings;
pub mod market_name;
pub mod money;
pub mod offer;
pub mod order;
pub mod purchase;
pub mod trade_link;

pub use game::Game;
pub use ids::{BuyId, CustomId, ItemId};
pub use lifecycle::{PurchaseState, Stage, Weight};
pub use listings::{ListingTable, TableBuilder};
pub use market_name::{ItemKind, MarketName, MarketNameError, Wear};
pub use money::{CurrencyCode, Money, Rates, Usd};
pub use offer::OfferStatus;
pub use order::{Candidate, Intent, Listing};
pub use purchase::{PurchaseRecord, Transition};
pub use trade_link::TradeLink;
