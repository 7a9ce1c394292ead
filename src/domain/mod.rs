//! Pure domain types: money, ids, games, trade links, offer statuses, market names.

pub mod game;
pub mod ids;
pub mod market_name;
pub mod money;
pub mod offer;
pub mod purchase;
pub mod trade_link;

pub use game::Game;
pub use ids::{BuyId, CustomId, ItemId};
pub use market_name::{ItemKind, MarketName, MarketNameError, Wear};
pub use money::{CurrencyCode, Money, Rates, Usd};
pub use offer::OfferStatus;
pub use purchase::{Intent, PurchaseRecord, PurchaseState, Transition};
pub use trade_link::TradeLink;
