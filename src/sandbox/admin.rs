//! `/sandbox/…`: inspection and control endpoints that only the sandbox has (no authentication —
//! the sandbox listens on loopback). JSON in, JSON out.
//!
//! * `GET  /sandbox/balance` · `POST /sandbox/balance {"balance":"250.00"}`
//! * `GET  /sandbox/purchases`: every purchase as the sandbox keeps it (`id` of the listing,
//!   `buy_id`, `custom_id`, `price`, `debited`, `balance_after`, `refunded`, `offer_status`,
//!   `history`, `date`, …), oldest first — the exchange's own record to check a client against
//! * `GET  /sandbox/offers` · `GET /sandbox/requests`
//! * `GET  /sandbox/faults` · `POST /sandbox/faults {…Faults…}` (missing fields take defaults)
//! * `POST /sandbox/advance {"seconds":600}` or `{"ms":1500}`
//! * `GET  /sandbox/clock`
//! * `GET  /sandbox/listings?name=…` · `POST /sandbox/listings {"name":"…","game":"cs2","price":"1.23"}`

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::faults::Faults;
use super::render::balance_text;
use super::shared::Shared;
use super::Sandbox;
use crate::domain::money::parse_decimal;
use crate::domain::{Game, Usd};

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/sandbox/balance", get(balance).post(set_balance))
        .route("/sandbox/purchases", get(purchases))
        .route("/sandbox/offers", get(offers))
        .route("/sandbox/requests", get(requests))
        .route("/sandbox/faults", get(faults).post(set_faults))
        .route("/sandbox/advance", post(advance))
        .route("/sandbox/clock", get(clock))
        .route("/sandbox/listings", get(listings).post(add_listing))
}

impl Sandbox {
    /// Waits until a request for `method` has arrived (before any fault or processing), or `within`
    /// has passed; returns the scalar parameters of the first one.
    pub async fn wait_for_arrival(&self, method: &str, within: Duration) -> Option<Vec<(String, String)>> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            // Registered before looking, so an arrival in between still wakes us.
            let notified = self.shared.arrived.notified();
            let found = self
                .shared
                .arrivals
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .iter()
                .find(|(m, _)| m.as_deref() == Some(method))
                .map(|(_, p)| p.clone());
            if found.is_some() {
                return found;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }

    /// Waits until the sandbox holds at least `n` purchases, or `within` has passed; says whether
    /// it does. Woken by the sandbox's own market events, so a test never sleeps to find out.
    pub async fn wait_for_purchases(&self, n: usize, within: Duration) -> bool {
        // Subscribed before looking, so a purchase made in between still wakes us.
        let mut events = self.shared.lock().hub.subscribe();
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if self.shared.lock().purchases().len() >= n {
                return true;
            }
            match tokio::time::timeout_at(deadline, events.recv()).await {
                // A frame, or frames missed: look again.
                Ok(Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
                Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) | Err(_) => {
                    return self.shared.lock().purchases().len() >= n;
                }
            }
        }
    }
}

fn bad_request(msg: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": msg.into() }))).into_response()
}

async fn balance(State(app): State<Arc<Shared>>) -> Json<Value> {
    let st = app.sync();
    Json(json!({ "balance": balance_text(st.balance().amount()) }))
}

#[derive(Deserialize)]
struct SetBalance {
    balance: Value,
}

async fn set_balance(State(app): State<Arc<Shared>>, Json(req): Json<SetBalance>) -> Response {
    let text = match &req.balance {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return bad_request("balance must be a decimal string such as \"250.00\""),
    };
    match parse_decimal(&text) {
        // Bounded far above any real balance, so sums and renderings can never overflow.
        Ok(d) if !d.is_sign_negative() && d <= rust_decimal::Decimal::from(1_000_000_000_000u64) => {
            let mut st = app.sync();
            st.set_balance(Usd::new(d));
            Json(json!({ "balance": balance_text(st.balance().amount()) })).into_response()
        }
        _ => bad_request(format!("`{text}` is not an amount between 0 and 1000000000000")),
    }
}

async fn purchases(State(app): State<Arc<Shared>>) -> Json<Value> {
    let st = app.sync();
    Json(json!(st.purchases()))
}

async fn offers(State(app): State<Arc<Shared>>) -> Json<Value> {
    let st = app.sync();
    let rows: Vec<Value> = st
        .purchases()
        .iter()
        .map(|p| json!({ "buy_id": p.buy_id, "custom_id": p.custom_id, "offer_status": p.offer_status, "tradeofferid": p.tradeofferid, "history": p.history, "refunded": p.refunded }))
        .collect();
    Json(Value::Array(rows))
}

async fn requests(State(app): State<Arc<Shared>>) -> Json<Value> {
    Json(json!(app.lock().requests()))
}

async fn faults(State(app): State<Arc<Shared>>) -> Json<Faults> {
    Json(app.lock().faults.clone())
}

async fn set_faults(State(app): State<Arc<Shared>>, Json(f): Json<Faults>) -> Json<Faults> {
    tracing::info!(target: "sandbox", faults = ?f, "faults set");
    app.lock().faults = f.clone();
    Json(f)
}

#[derive(Deserialize)]
struct Advance {
    #[serde(default)]
    seconds: u64,
    #[serde(default)]
    ms: u64,
}

async fn advance(State(app): State<Arc<Shared>>, Json(a): Json<Advance>) -> Json<Value> {
    app.advance(Duration::from_secs(a.seconds).saturating_add(Duration::from_millis(a.ms)));
    Json(json!({ "now": app.clock.now_unix() }))
}

async fn clock(State(app): State<Arc<Shared>>) -> Json<Value> {
    Json(json!({ "now": app.clock.now_unix(), "mode": app.clock.mode() }))
}

async fn listings(State(app): State<Arc<Shared>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let Some(name) = q.get("name") else {
        return bad_request("query parameter `name` is required");
    };
    let st = app.sync();
    let rows: Vec<Value> =
        st.market.named_any_game(name).into_iter().map(|(id, p)| json!({ "id": id, "price": p.wire() })).collect();
    Json(Value::Array(rows)).into_response()
}

#[derive(Deserialize)]
struct NewListing {
    name: String,
    #[serde(default)]
    game: Option<String>,
    price: Value,
}

async fn add_listing(State(app): State<Arc<Shared>>, Json(l): Json<NewListing>) -> Response {
    let game = match l.game.as_deref().map(str::parse::<Game>) {
        None => Game::Cs2,
        Some(Ok(g)) => g,
        Some(Err(e)) => return bad_request(e.to_string()),
    };
    let text = match &l.price {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return bad_request("price must be a decimal string"),
    };
    match parse_decimal(&text) {
        Ok(p) if p > rust_decimal::Decimal::ZERO && l.name.trim().chars().count() >= 3 => {
            let now = app.clock.now_unix();
            let id = app.sync().market.add_listing(l.name.trim(), game, Usd::new(p), now);
            Json(json!({ "id": id })).into_response()
        }
        _ => bad_request("need a name of 3+ characters and a price above zero"),
    }
}
