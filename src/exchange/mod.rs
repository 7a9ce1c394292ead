//! The SkinsBack client: signing, wire types, errors grouped by the reaction they need, and the one
//! rate limiter every call goes through.

pub mod client;
mod decode;
pub mod error;
pub mod limiter;
pub mod wire;

pub use client::{decode_pricelist_grouped, decode_pricelist_table};
pub use client::{AuthMode, BatchItem, BodyEncoding, BuyOrder, BuyTarget, Client, ClientConfig, FullList, ListStamp};
pub use error::{ExchangeError, Rejection};
pub use limiter::{Limiter, Priority};
pub use wire::{
    Balance, BatchResult, CurrencyRate, HistoryPage, Listing, PriceGroup, PriceList, Purchase, PurchaseInfo,
    ServerStatus, Unavailable,
};
