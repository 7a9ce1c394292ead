//! `POST /api.php`: the SkinsBack API (reference §1-§5).
//!
//! Order of checks for every request: faults that act before the server (latency, 5xx, hang, buy
//! delay) → verb (-1) → rate limit (-7) → authentication (-2/-3) → project active (-4) → method
//! (-5) → market switch (-6, `market_*` only) → an error-answer fault → the method's own checks.
//!
//! A request runs to completion once it has arrived, as on a PHP server: its processing is a task
//! of its own, which a client that hangs up (and so drops the handler) does not cancel.
//!
//! Authentication: if either `X-CLIENT-ID` or `X-CLIENT-SECRET` is present, the headers alone decide
//! (both must be right; a body `shopid`/`sign` is then ignored, right or wrong). Otherwise `shopid`
//! must be the Client ID and `sign` must verify over the scalar parameters as PHP sees them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use rand::Rng;

use super::error::{self, ApiError};
use super::faults::{ErrorAnswer, FaultKind, Probability};
use super::methods::{self, Reply};
use super::php::Params;
use super::render::{self, obj, Render};
use super::shared::Shared;
use super::state::{Outcome, RequestRecord, State as Sb};
use crate::domain::Usd;
use crate::signature;

/// Methods that spend money.
const BUY_METHODS: &[&str] = &["market_buy", "market_batch_buy"];

/// Methods whose answers carry `custom_id`s.
const CUSTOM_ID_METHODS: &[&str] = &["market_buy", "market_batch_buy", "market_getinfo", "market_history"];

pub async fn handle(State(app): State<Arc<Shared>>, verb: Method, headers: HeaderMap, body: Bytes) -> Response {
    // When the client hangs up, axum drops this future; the spawned task goes on, so a buy that
    // arrived is processed (money debited, purchase made) whether or not anyone hears the answer.
    match tokio::spawn(process(app, verb, headers, body)).await {
        Ok(response) => response,
        Err(e) => {
            tracing::error!(target: "sandbox", error = %e, "request task failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn process(app: Arc<Shared>, verb: Method, headers: HeaderMap, body: Bytes) -> Response {
    let now = app.clock.now();
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let params = Params::parse(content_type, &body);
    let method = params.str("method").map(str::to_string);
    let header_auth = headers.contains_key("x-client-id") || headers.contains_key("x-client-secret");

    let (mut rec, plan) = {
        let mut st = app.lock();
        let seq = st.next_request_seq();
        let rec = RequestRecord {
            seq,
            at_ms: u64::try_from(now.as_millis()).unwrap_or(u64::MAX),
            http_method: verb.to_string(),
            method: method.clone(),
            params: params
                .scalars()
                .filter(|(k, _)| *k != "sign")
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            header_auth,
            outcome: Outcome::Success,
            faults: Vec::new(),
        };
        (rec, FaultPlan::draw(&mut st, method.as_deref()))
    };
    app.note_arrival(rec.method.clone(), rec.params.clone());

    if !plan.latency.is_zero() {
        tracing::info!(target: "sandbox", seq = rec.seq, ms = plan.latency.as_millis(), "fault: latency");
        rec.faults.push(FaultKind::Latency { ms: u64::try_from(plan.latency.as_millis()).unwrap_or(u64::MAX) });
        app.sleep(plan.latency).await;
    }
    if let Some(status) = plan.http_error {
        tracing::warn!(target: "sandbox", seq = rec.seq, status, "fault: HTTP error");
        rec.faults.push(FaultKind::HttpError { status });
        rec.outcome = Outcome::Http { status };
        app.lock().record(rec);
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return (code, [(header::CONTENT_TYPE, "text/html")], format!("<html><body><h1>{status}</h1></body></html>"))
            .into_response();
    }
    if plan.hang {
        tracing::warn!(target: "sandbox", seq = rec.seq, "fault: hang");
        rec.faults.push(FaultKind::Hang);
        rec.outcome = Outcome::Hung;
        let hang_for = {
            let mut st = app.lock();
            let d = st.faults.hang_for;
            st.record(rec);
            d
        };
        app.sleep(hang_for).await;
        return (StatusCode::GATEWAY_TIMEOUT, "gateway timeout").into_response();
    }
    if !plan.buy_delay.is_zero() {
        tracing::warn!(target: "sandbox", seq = rec.seq, ms = plan.buy_delay.as_millis(), "fault: buy held back");
        rec.faults.push(FaultKind::BuyDelay { ms: u64::try_from(plan.buy_delay.as_millis()).unwrap_or(u64::MAX) });
        app.sleep(plan.buy_delay).await;
    }

    let (reply, committed) = if verb != Method::POST {
        (Reply::Err(error::PLEASE_USE_POST), false)
    } else {
        let mut st = app.lock();
        // Processed now, under the lock: a request held back by a fault is dated when it lands, and
        // purchases stay in time order.
        let now = app.clock.now();
        st.process_until(now);
        let limiter_now = app.clock.limiter_now();
        dispatch(&mut st, app.render, &params, &headers, (now, limiter_now), &plan, &mut rec.faults)
    };

    if committed && plan.drop_after_commit {
        tracing::warn!(target: "sandbox", seq = rec.seq, "fault: connection dropped after commit");
        rec.faults.push(FaultKind::DropAfterCommit);
        rec.outcome = Outcome::Dropped;
        app.lock().record(rec);
        return dropped_connection();
    }

    let body = match reply {
        Reply::Err(e) => {
            rec.outcome = Outcome::ApiError { code: e.code, message: e.message.to_string() };
            e.body().to_json().into_bytes()
        }
        Reply::Fault(e) => {
            rec.outcome = Outcome::ApiError { code: e.code, message: e.message.clone() };
            obj([("status", "error".into()), ("error_code", e.code.into()), ("error_message", e.message.into())])
                .to_json()
                .into_bytes()
        }
        Reply::Ok(mut v) => {
            if plan.malformed {
                tracing::warn!(target: "sandbox", seq = rec.seq, "fault: malformed answer");
                rec.faults.push(FaultKind::Malformed);
                render::corrupt(&mut v);
            }
            if plan.omit_custom_id {
                tracing::warn!(target: "sandbox", seq = rec.seq, "fault: custom_id left out");
                rec.faults.push(FaultKind::OmitCustomId);
                render::remove_field(&mut v, "custom_id");
            }
            v.to_json().into_bytes()
        }
        Reply::Raw(bytes) => {
            if plan.malformed {
                tracing::warn!(target: "sandbox", seq = rec.seq, "fault: malformed answer");
                rec.faults.push(FaultKind::Malformed);
            }
            bytes
        }
    };
    tracing::debug!(target: "sandbox", seq = rec.seq, method = ?rec.method, outcome = ?rec.outcome, "request");
    app.lock().record(rec);
    ([(header::CONTENT_TYPE, "application/json; charset=utf-8")], body).into_response()
}

/// The faults that apply to one request, drawn before it is processed.
#[derive(Default)]
struct FaultPlan {
    latency: Duration,
    http_error: Option<u16>,
    hang: bool,
    drop_after_commit: bool,
    malformed: bool,
    /// Buys only.
    buy_delay: Duration,
    /// Buys only; zero = none.
    over_debit: Usd,
    /// Methods whose answers carry `custom_id` only.
    omit_custom_id: bool,
    error_answer: Option<ErrorAnswer>,
    /// `currencies` only.
    rate_override: BTreeMap<String, String>,
}

impl FaultPlan {
    fn draw(st: &mut Sb, method: Option<&str>) -> FaultPlan {
        let f = st.faults.clone();
        if !f.targets(method) {
            return FaultPlan::default();
        }
        let is = |set: &[&str]| method.is_some_and(|m| set.contains(&m));
        let buys = is(BUY_METHODS);
        let rng = &mut st.fault_rng;
        let mut chance = |rate: Probability| -> bool {
            if rate >= 1.0 {
                true
            } else if rate > 0.0 {
                rng.random_bool(rate)
            } else {
                false
            }
        };
        let http_error = chance(f.http_error_rate).then_some(());
        let hang = chance(f.hang_rate);
        let drop_after_commit = chance(f.drop_after_commit_rate);
        let malformed = chance(f.malformed_rate);
        let http_error = http_error.map(|()| if st.fault_rng.random_bool(0.5) { 500 } else { 502 });
        FaultPlan {
            latency: f.latency,
            http_error,
            hang,
            drop_after_commit,
            malformed,
            buy_delay: if buys { f.buy_delay } else { Duration::ZERO },
            over_debit: f.over_debit.filter(|_| buys).unwrap_or(Usd::ZERO),
            omit_custom_id: f.omit_custom_id && is(CUSTOM_ID_METHODS),
            error_answer: f.error_answer,
            rate_override: if method == Some("currencies") { f.rate_override } else { BTreeMap::new() },
        }
    }
}

/// A response whose body fails at once: hyper closes the connection without sending the head, so
/// the client sees a dropped connection, not an answer.
fn dropped_connection() -> Response {
    let stream = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("sandbox fault: connection dropped after commit"))
    });
    Response::new(Body::from_stream(stream))
}

/// Runs one authenticated-or-not request against the state and renders the answer with `r`; `true`
/// when money was spent. `times`: sandbox now and limiter now; `plan`: the faults that act inside
/// the server (the price list writes bad prices itself when malformed: it is pre-serialized, so it
/// cannot be corrupted afterwards).
fn dispatch(
    st: &mut Sb,
    r: Render,
    params: &Params,
    headers: &HeaderMap,
    times: (Duration, Duration),
    plan: &FaultPlan,
    faults: &mut Vec<FaultKind>,
) -> (Reply, bool) {
    let (now, limiter_now) = times;
    if let Some(limit) = st.faults.rate_limit {
        if !st.limiter.admit(&limit, limiter_now) {
            tracing::warn!(target: "sandbox", "rate limit: -7");
            faults.push(FaultKind::RateLimited);
            return (Reply::Err(error::REQUEST_LIMIT), false);
        }
    }
    if let Err(e) = authenticate(st, params, headers) {
        return (Reply::Err(e), false);
    }
    if st.faults.shop_inactive {
        tracing::warn!(target: "sandbox", "fault: shop not active (-4)");
        faults.push(FaultKind::ShopInactive);
        return (Reply::Err(error::SHOP_NOT_ACTIVE), false);
    }
    let method = params.str("method").unwrap_or("");
    let known = matches!(
        method,
        "market_pricelist"
            | "market_search"
            | "market_buy"
            | "market_batch_buy"
            | "market_getinfo"
            | "market_history"
            | "balance"
            | "currencies"
            | "status"
    );
    if !known {
        return (Reply::Err(error::INVALID_METHOD), false);
    }
    if method.starts_with("market_") && st.faults.market_disabled {
        tracing::warn!(target: "sandbox", method, "fault: market disabled (-6)");
        faults.push(FaultKind::MarketDisabled);
        return (Reply::Err(error::MARKET_DISABLED), false);
    }
    if let Some(e) = &plan.error_answer {
        tracing::warn!(target: "sandbox", method, code = e.code, message = %e.message, "fault: error answer");
        faults.push(FaultKind::ErrorAnswer { code: e.code });
        return (Reply::Fault(e.clone()), false);
    }
    let over_debit = plan.over_debit;
    match method {
        "market_pricelist" => (methods::pricelist(st, r, params, plan.malformed), false),
        "market_search" => (methods::search(st, r, params), false),
        "market_buy" => match methods::buy(st, r, params, now, over_debit) {
            Ok(v) => {
                if over_debit > Usd::ZERO {
                    faults.push(FaultKind::OverDebit);
                }
                (Reply::Ok(v), true)
            }
            Err(e) => (Reply::Err(e), false),
        },
        "market_batch_buy" => {
            let (reply, committed) = methods::batch_buy(st, r, params, now, over_debit);
            if committed && over_debit > Usd::ZERO {
                faults.push(FaultKind::OverDebit);
            }
            (reply, committed)
        }
        "market_getinfo" => (methods::getinfo(st, r, params), false),
        "market_history" => (methods::history(st, r, params), false),
        "balance" => (Reply::Ok(methods::balance(st, r)), false),
        "currencies" => {
            if !plan.rate_override.is_empty() {
                tracing::warn!(target: "sandbox", rates = ?plan.rate_override, "fault: currency rates overridden");
                faults.push(FaultKind::RateOverride);
            }
            (Reply::Ok(methods::currencies(&plan.rate_override)), false)
        }
        _ => {
            if st.faults.unavailable.is_some() {
                tracing::warn!(target: "sandbox", "fault: status unavailable");
                faults.push(FaultKind::Unavailable);
            }
            (Reply::Ok(methods::status(st)), false)
        }
    }
}

fn authenticate(st: &Sb, params: &Params, headers: &HeaderMap) -> Result<(), ApiError> {
    let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap_or("\u{0}"));
    let (hid, hsecret) = (header("x-client-id"), header("x-client-secret"));
    if hid.is_some() || hsecret.is_some() {
        if hid.map(str::trim) != Some(st.shop_id.as_str()) {
            return Err(error::INVALID_SHOPID);
        }
        return match hsecret {
            Some(s) if constant_time_eq(s.trim().as_bytes(), st.secret.as_bytes()) => Ok(()),
            _ => Err(error::INVALID_SIGNATURE),
        };
    }
    if params.str("shopid").map(str::trim) != Some(st.shop_id.as_str()) {
        return Err(error::INVALID_SHOPID);
    }
    match params.str("sign") {
        // PHP's rendering, or another a public client signs (numbers as written, JS booleans).
        Some(s) if params.signed_renderings().into_iter().any(|r| signature::verify(r, &st.secret, s)) => Ok(()),
        _ => Err(error::INVALID_SIGNATURE),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
