//! The one integration-test binary: each module tests one part against a sandbox on port 0.

mod helpers;

mod brakes;
mod cli;
mod edges;
mod engine;
mod exchange;
mod guard;
mod kill;
mod ledger;
mod ledger_cli;
mod market_names;
mod metrics;
mod money_safety;
mod notify;
mod plan;
mod sandbox;
mod ws_events;
