//! # skinbot
//!
//! Buys game skins on the SkinsBack market for a SkinsBack project, by rules the user writes, inside a
//! budget the user sets, and follows every purchase until its Steam trade offer is final.
//!
//! ## Data flow (one tick)
//!
//! ```text
//!  cron schedule ──> tick
//!                     │ fetch price list (+ rates, balance when stale)          exchange
//!                     ▼
//!             MarketSnapshot ──> strategies (pure: snapshot + history in,       strategy
//!                     │          OrderIntents out)
//!                     ▼
//!             guard (pure: budget windows, caps, balance floor)                 guard
//!                     ▼
//!             ledger: record intent + reserve budget, flush to disk             ledger
//!                     ▼
//!             rate limiter (one governor for every API call)                    exchange
//!                     ▼
//!             market_buy / market_batch_buy (custom_id = ledger key)
//!                     ▼
//!             ledger: record result; delivery follows offer_status to a final state
//! ```
//!
//! Around it: [`sandbox`], a faithful local SkinsBack (the embedded default and the test double), and
//! [`cli`], the subcommands of the `skinbot` binary.

/// The subcommands of the `skinbot` binary.
pub mod cli;
/// Configuration: typed settings read from TOML, validated whole, errors with file and line.
pub mod config;
/// Pure domain types: money, ids, games, trade links, offer statuses, market names.
pub mod domain;
/// The engine: scheduler, tick, executor, reconciliation.
pub mod engine;
/// The SkinsBack client: signing, wire types, errors grouped by the reaction they need.
pub mod exchange;
/// The guard: budget windows, per-order and per-item caps, the balance floor.
pub mod guard;
/// The ledger: purchases, their history as a hash-chained event log, recorded prices (sled).
pub mod ledger;
/// Serving HTTP within bounds: connections, time to send a request, request size (ledger endpoint, sandbox).
pub mod net;
/// The simulated SkinsBack server: same API, in-process or standalone.
pub mod sandbox;
/// The request signature and websocket/webhook hashes, shared by client and sandbox so neither depends on the other.
pub mod signature;
/// Strategy files: rules that turn a market snapshot into buy intents.
pub mod strategy;
