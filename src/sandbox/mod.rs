//! The simulated SkinsBack server: the same HTTP API byte for byte (`POST /api.php`), the event
//! websocket (`/ws/`, and `/` for older SDKs), event webhooks, a living market, trade offers that resolve over time, faults
//! on demand, and inspection endpoints under `/sandbox/…`. Runs in-process (tests, the embedded
//! default) or standalone (`skinbot sandbox`).
//!
//! Time is the sandbox's own ([`ClockMode`]): real time × a scale factor, or manual, where
//! [`Sandbox::advance`] runs every due market step and offer transition before it returns — tests
//! never sleep to synchronise.
//!
//! Where the reference leaves a choice open (its §8) the sandbox decides, and documents where:
//! strings by default, numbers on request (`render`); header auth decides alone when present and
//! needs no `shopid` (`api`); an unknown `game` is a market with nothing in it; `custom_id` and
//! `tradeofferid` are `null` when absent; refunds and rollbacks are switches (`config`); the rate
//! limit is a sliding minute over every `/api.php` call with a block period (`faults`).

mod admin;
mod api;
pub mod catalog;
mod clock;
mod config;
mod error;
mod events;
pub mod faults;
mod market;
mod methods;
mod php;
mod purchase;
mod render;
mod shared;
mod state;
mod webhook;
mod ws;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use axum::routing::{any, get};
use axum::Router;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use catalog::{Catalog, CatalogEntry, CatalogError};
pub use clock::ClockMode;
pub use config::{MarketDynamics, OfferConfig, SandboxConfig};
pub use faults::{ErrorAnswer, FaultKind, Faults, Probability, RateLimit};
pub use php::{Params, Php};
pub use purchase::SandboxPurchase;
pub use state::{Outcome, RequestRecord};

use crate::domain::{Game, ItemId, Usd};
use crate::net::ConnLimits;

use clock::Clock;
use events::Hub;
use render::Render;
use shared::{stopped, Shared};
use state::State;

/// A running sandbox. Dropping it without [`Sandbox::shutdown`] leaves the server task running until
/// the runtime ends.
pub struct Sandbox {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Starts a sandbox on `addr` (port 0 picks a free port).
pub async fn start(config: SandboxConfig, addr: SocketAddr) -> anyhow::Result<Sandbox> {
    start_with_limits(config, addr, ConnLimits::SANDBOX).await
}

/// [`start`], with other bounds on connections and requests than [`ConnLimits::SANDBOX`].
pub async fn start_with_limits(config: SandboxConfig, addr: SocketAddr, limits: ConnLimits) -> anyhow::Result<Sandbox> {
    let (stop, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    let webhook_tx = match &config.webhook_url {
        Some(url) => {
            let (tx, rx) = mpsc::unbounded_channel();
            tasks.push(webhook::spawn(url.clone(), config.shop_id.clone(), config.secret.clone(), rx, stop_rx.clone()));
            Some(tx)
        }
        None => None,
    };
    let clock = Clock::new(config.clock, config.start_time);
    let render = Render { numbers: config.numbers_as_json };
    let state = State::new(&config, clock.now(), Hub::new(render, webhook_tx));
    let shared = Arc::new(Shared {
        state: Mutex::new(state),
        clock,
        shutdown: stop_rx.clone(),
        shop_id: config.shop_id.clone(),
        secret: config.secret.clone(),
        render,
        ws_gate: ws::Gate::new(),
        arrivals: Mutex::new(Vec::new()),
        arrived: tokio::sync::Notify::new(),
    });

    let app = Router::new()
        .route("/api.php", any(api::handle))
        .route("/ws", get(ws::handle))
        .route("/ws/", get(ws::handle))
        // Older SDKs connect at the root (`<host>/?shopid=…`).
        .route("/", get(ws::handle))
        .route("/sandbox/websocket", get(ws::gate).post(ws::set_gate))
        .merge(admin::routes())
        .with_state(shared.clone());
    let listener =
        tokio::net::TcpListener::bind(addr).await.with_context(|| format!("failed to bind the sandbox to {addr}"))?;
    let addr = listener.local_addr().context("failed to read the sandbox address")?;
    let server_stop = stop_rx.clone();
    tasks.push(tokio::spawn(async move {
        crate::net::serve_bounded(listener, app, limits, stopped(server_stop)).await;
    }));
    if !shared.clock.is_manual() {
        // Real time: offers and the market move even when nobody calls.
        let ticking = shared.clone();
        let tick_stop = stop_rx.clone();
        tasks.push(tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(50));
            loop {
                tokio::select! {
                    _ = every.tick() => drop(ticking.sync()),
                    _ = stopped(tick_stop.clone()) => break,
                }
            }
        }));
    }
    tracing::info!(target: "sandbox", %addr, listings = shared.lock().market.listing_count(), "sandbox listening");
    Ok(Sandbox { shared, addr, stop, tasks })
}

impl Sandbox {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn host(&self) -> String {
        let ip = if self.addr.ip().is_unspecified() { "127.0.0.1".to_string() } else { self.addr.ip().to_string() };
        if self.addr.is_ipv6() && !self.addr.ip().is_unspecified() {
            format!("[{ip}]:{}", self.addr.port())
        } else {
            format!("{ip}:{}", self.addr.port())
        }
    }

    /// `http://127.0.0.1:P/api.php`
    pub fn api_url(&self) -> String {
        format!("http://{}/api.php", self.host())
    }

    /// `ws://127.0.0.1:P/ws/` — append `?shopid=…&signature=…` as with the real server.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws/", self.host())
    }

    /// `http://127.0.0.1:P` — the `/sandbox/…` endpoints live under it.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.host())
    }

    pub fn shop_id(&self) -> &str {
        &self.shared.shop_id
    }

    pub fn secret(&self) -> &str {
        &self.shared.secret
    }

    pub fn balance(&self) -> Usd {
        self.shared.sync().balance()
    }

    /// Sets the project balance (emits `balance_change`).
    pub fn set_balance(&self, to: Usd) {
        self.shared.sync().set_balance(to);
    }

    pub fn purchases(&self) -> Vec<SandboxPurchase> {
        self.shared.sync().purchases().to_vec()
    }

    /// Every request to `/api.php` seen so far, oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.lock().requests()
    }

    /// Listings of that exact name (any game), cheapest first.
    pub fn listings_named(&self, name: &str) -> Vec<(ItemId, Usd)> {
        self.shared.sync().market.named_any_game(name)
    }

    pub fn add_listing(&self, name: &str, game: Game, price: Usd) -> ItemId {
        let now = self.shared.clock.now_unix();
        self.shared.sync().market.add_listing(name, game, price, now)
    }

    pub fn faults(&self) -> Faults {
        self.shared.lock().faults.clone()
    }

    pub fn set_faults(&self, faults: Faults) {
        tracing::info!(target: "sandbox", ?faults, "faults set");
        self.shared.lock().faults = faults;
    }

    /// Takes the websocket server down (every socket is cut, new ones get 503) or up again.
    pub fn set_websocket_up(&self, up: bool) {
        self.shared.ws_gate.set(up);
    }

    /// Changes how future offers resolve (offers already made keep their planned path).
    pub fn set_offer_config(&self, offers: OfferConfig) {
        self.shared.lock().offers = offers;
    }

    /// Moves sandbox time forward and, before returning, applies every market step and offer
    /// transition that became due, in time order.
    pub fn advance(&self, d: Duration) {
        self.shared.advance(d);
    }

    /// Sandbox time, Unix seconds.
    pub fn now_unix(&self) -> u64 {
        self.shared.clock.now_unix()
    }

    /// Stops the server, the websocket sessions, the clock ticker and the webhook sender.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            // Graceful first; a connection that will not close is cut after a moment.
            let abort = t.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), t).await.is_err() {
                abort.abort();
            }
        }
    }
}
