//! Everything a sandbox can be told at start. All of it has a default that behaves like a calm,
//! healthy SkinsBack; tests and the CLI change only what they need.

use std::time::Duration;

use rust_decimal_macros::dec;
use serde::{Deserialize, Serialize};

use super::catalog::Catalog;
use super::clock::ClockMode;
use super::faults::{Faults, Probability};
use crate::domain::Usd;

#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// The project's Client ID (`shopid`).
    pub shop_id: String,
    /// The project's Client Secret.
    pub secret: String,
    /// Project balance at start.
    pub balance: Usd,
    /// Emit ids, prices, counts and sums as JSON numbers instead of strings (reference §8.1).
    pub numbers_as_json: bool,
    /// Seeds every random choice (market moves, offer outcomes, which requests a fault hits).
    pub seed: u64,
    pub catalog: Catalog,
    pub market: MarketDynamics,
    pub offers: OfferConfig,
    /// Faults active from the start (change them later with `Sandbox::set_faults`).
    pub faults: Faults,
    /// Largest `items` list `market_batch_buy` accepts (the real limit is unknown).
    pub batch_max: usize,
    /// Rows per `market_history` page (1000 on SkinsBack).
    pub history_page: usize,
    /// POST every event here as JSON with a `Signature` header (reference §6.2).
    pub webhook_url: Option<String>,
    pub clock: ClockMode,
    /// Sandbox time at start, Unix seconds; the wall clock when `None`.
    pub start_time: Option<u64>,
    /// What the websocket answers to the text `ping`; `None` = no answer (undocumented upstream, so
    /// clients must not rely on one).
    pub ws_ping_reply: Option<String>,
    /// Close a websocket after this much real time without a frame from the client (`None` = never;
    /// upstream behaviour is unknown, reference §8.13).
    pub ws_idle_timeout: Option<Duration>,
    /// Oldest request records are dropped beyond this many (keeps a long standalone run bounded).
    pub request_log_cap: usize,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            shop_id: "1490".into(),
            secret: "sandbox-secret".into(),
            balance: Usd::new(dec!(1000.00)),
            numbers_as_json: false,
            seed: 1,
            catalog: Catalog::shipped(),
            market: MarketDynamics::default(),
            offers: OfferConfig::default(),
            faults: Faults::default(),
            batch_max: 50,
            history_page: 1000,
            webhook_url: None,
            clock: ClockMode::default(),
            start_time: None,
            ws_ping_reply: None,
            ws_idle_timeout: None,
            request_log_cap: 100_000,
        }
    }
}

impl SandboxConfig {
    /// The default with a manual clock and a still market: nothing changes unless the test says so.
    pub fn manual() -> Self {
        SandboxConfig { clock: ClockMode::Manual, market: MarketDynamics::frozen(), ..SandboxConfig::default() }
    }
}

/// How the market moves on its own. One step happens every `step` of sandbox time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MarketDynamics {
    /// Sandbox time between steps; zero = the market never moves by itself.
    #[serde(with = "super::faults::millis", rename = "step_ms")]
    pub step: Duration,
    /// Names whose price moves per step (a random walk of up to `max_drift_bp`).
    pub drifts_per_step: u32,
    /// Largest move of one drift, in basis points (100 = 1 %).
    pub max_drift_bp: u32,
    /// Listings bought by other buyers per step (always the cheapest of a random name).
    pub sales_per_step: u32,
    /// New listings per step, near a random name's current price.
    pub listings_per_step: u32,
    /// Units of one name are spread from its catalog price up to this much above it, in basis points.
    pub spread_bp: u32,
}

impl Default for MarketDynamics {
    fn default() -> Self {
        MarketDynamics {
            step: Duration::from_secs(30),
            drifts_per_step: 5,
            max_drift_bp: 200,
            sales_per_step: 2,
            listings_per_step: 2,
            spread_bp: 1500,
        }
    }
}

impl MarketDynamics {
    pub(crate) fn frozen() -> Self {
        MarketDynamics { step: Duration::ZERO, ..MarketDynamics::default() }
    }
}

/// How trade offers resolve. Durations are sandbox time from the previous status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OfferConfig {
    /// `creating_trade` → `waiting_accept` (or one of the creation errors).
    #[serde(with = "super::faults::millis", rename = "create_after_ms")]
    pub create_after: Duration,
    /// `waiting_accept` → `accepted` / `canceled`.
    #[serde(with = "super::faults::millis", rename = "accept_after_ms")]
    pub accept_after: Duration,
    /// `waiting_accept` → `timeout` (10 minutes on SkinsBack).
    #[serde(with = "super::faults::millis", rename = "timeout_after_ms")]
    pub timeout_after: Duration,
    /// `accepted` → `rollback_*`.
    #[serde(with = "super::faults::millis", rename = "rollback_after_ms")]
    pub rollback_after: Duration,
    /// Chances at creation; a malformed trade token always gives `invalid_trade_token`. These two
    /// describe the account, not one offer: by default they come only from `dead_partners` (a
    /// random one would pause a healthy recipient).
    pub p_invalid_trade_token: Probability,
    pub p_user_not_tradable: Probability,
    pub p_trade_create_error: Probability,
    /// Chances once the offer waits; the rest times out.
    pub p_accept: Probability,
    pub p_cancel: Probability,
    /// Chances after acceptance.
    pub p_rollback_user: Probability,
    pub p_rollback_supplier: Probability,
    /// Return the debited sum when an offer fails (canceled, timeout, invalid_trade_token,
    /// user_not_tradable, trade_create_error).
    pub refund_failed: bool,
    /// Return it after a rollback too.
    pub refund_rollbacks: bool,
    /// Steam accounts (the `partner` of a trade link) that cannot receive items: every offer to
    /// them ends `invalid_trade_token`.
    #[serde(default)]
    pub dead_partners: Vec<String>,
}

impl Default for OfferConfig {
    fn default() -> Self {
        OfferConfig {
            create_after: Duration::from_secs(5),
            accept_after: Duration::from_secs(60),
            timeout_after: Duration::from_secs(600),
            rollback_after: Duration::from_secs(3600),
            p_invalid_trade_token: 0.0,
            p_user_not_tradable: 0.0,
            p_trade_create_error: 0.02,
            p_accept: 0.9,
            p_cancel: 0.05,
            p_rollback_user: 0.005,
            p_rollback_supplier: 0.005,
            refund_failed: true,
            refund_rollbacks: false,
            dead_partners: Vec::new(),
        }
    }
}

impl OfferConfig {
    /// Every offer is created and accepted, never rolled back.
    pub fn always_accept() -> Self {
        OfferConfig {
            p_user_not_tradable: 0.0,
            p_trade_create_error: 0.0,
            p_accept: 1.0,
            p_cancel: 0.0,
            p_rollback_user: 0.0,
            p_rollback_supplier: 0.0,
            ..OfferConfig::default()
        }
    }
}
