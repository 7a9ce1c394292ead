//! # skinbot
//!
//! Buys game skins on the SkinsBack market for a SkinsBack project, by rules the user writes, inside a
//! budget the user sets, and follows every purchase until its Steam trade offer is final.
//!
//! ## Data flow (one tick)
//!
//! ```text
//!  cron schedule ──> tick                                                           engine::tick
//!                     │ fetch price list (+ rates, balance when stale)              exchange
//!                     │ wire::Listing ──> domain::Listing at the client's edge
//!                     ▼
//!             Snapshot ──> decide (pure: snapshot + tally + references in,          strategy
//!                     │           Vec<domain::Candidate> out)
//!                     ▼
//!             guard::committed (ledger records + windows + last balance)            guard
//!             guard::check (pure: caps, budget windows, floor; price sanity)
//!                     │   Approved(Candidate) | Refusal { candidate, reason }
//!                     ▼
//!             ledger: per chunk, record Intent { custom_id, candidate } +           ledger
//!                     reservation, flushed
//!                     ▼
//!             rate limiter (one governor for every API call); mark "sent",          exchange
//!                     flushed, just before the request leaves
//!                     ▼
//!             market_buy / market_batch_buy (custom_id = ledger key)               engine::executor
//!                     ▼
//!             ledger: result checked against the order; the lifecycle               domain::lifecycle
//!             (domain::PurchaseState) follows offer_status to a final state        engine::reconcile
//! ```
//!
//! Brakes (`engine::brakes`): a halt kept in the ledger, automatic halts on anomalies, a pause while
//! the exchange says it is down. Around it: [`config`] (validated whole, hot-reloaded), [`sandbox`],
//! a faithful local SkinsBack (the embedded default and the test double), [`signature`] and
//! [`net`], shared by the client, the sandbox and the ledger endpoint, and [`cli`], the
//! subcommands of the `skinbot` binary.
//!
//! Who imports whom (each arrow points down the pipeline or to a shared leaf): `domain` and
//! `signature` import nothing of the crate; `exchange` → domain, signature, metrics; `strategy` → domain,
//! config (file errors); `guard` → domain; `ledger` → domain, net; `sandbox` → domain, signature,
//! net; `config` → domain, exchange, guard, sandbox (it builds their settings); `engine` → all of
//! the above but sandbox; `metrics` (the engine's registry, which the client records into, and its
//! endpoint) → domain, exchange, net, engine; `notify` → domain, config; `cli` → everything.

/// The subcommands of the `skinbot` binary.
pub mod cli;
/// Configuration: typed settings read from TOML, validated whole, errors with file and line.
pub mod config;
/// The dashboard: the ledger and the bot's state in the browser (server-rendered HTML and SVG,
/// live by server-sent events), with halt and resume.
pub mod dashboard;
/// Pure domain types: money, ids, games, trade links, market names, orders (listing, candidate,
/// intent) and the purchase lifecycle.
pub mod domain;
/// The engine: scheduler, tick, executor, reconciliation, brakes, hot reload.
pub mod engine;
/// The SkinsBack client: signing, wire types, errors grouped by the reaction they need.
pub mod exchange;
/// The guard: what is committed, budget windows, per-order and per-item caps, the balance floor,
/// price sanity.
pub mod guard;
/// The ledger: purchases, their history as a hash-chained event log, recorded prices, halts (sled).
pub mod ledger;
/// Prometheus metrics of the engine (`prometheus-client`), and the opt-in `/metrics` and `/health` endpoint.
pub mod metrics;
/// Serving HTTP within bounds: connections, time to send a request, request size (ledger endpoint, sandbox).
pub mod net;
/// The webhook: purchases, failed deliveries, rollbacks, halts, resumes and reloads, sent from a bounded queue that trading never waits on.
pub mod notify;
/// The simulated SkinsBack server: same API, in-process or standalone.
pub mod sandbox;
/// The request signature and websocket/webhook hashes, shared by client and sandbox so neither depends on the other.
pub mod signature;
/// Strategy files: rules that turn a market snapshot into candidates.
pub mod strategy;
