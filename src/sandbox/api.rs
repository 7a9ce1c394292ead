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
use rust_decimal::Decimal;

use super::error::{self, ApiError};
use super::faults::{ErrorAnswer, FaultKind, Probability};
use super::php::{Params, Php};
use super::render::{self, balance_text, obj, success, Render, J};
use super::shared::Shared;
use super::state::{Ceiling, Outcome, RequestRecord, State as Sb, Terms};
use crate::domain::{Game, ItemId, Usd};
use crate::signature;

/// The rates `currencies` lists: units of each currency per 1 USD (reference §4.2, §8.14).
const CURRENCIES: &[(&str, &str, &str)] = &[
    ("usd", "US Dollar", "1"),
    ("eur", "Euro", "0.92"),
    ("rub", "Russian ruble", "89.5"),
    ("uah", "Ukrainian hryvnia", "41.2"),
    ("cny", "Chinese yuan", "7.25"),
    ("kzt", "Kazakhstani tenge", "478.3"),
    ("aud", "Australian dollar", "1.52"),
    ("cad", "Canadian dollar", "1.37"),
    ("brl", "Brazilian real", "5.45"),
    ("nzd", "New Zealand dollar", "1.66"),
];

/// Most rows one `market_search` by substring returns.
const SEARCH_CAP: usize = 1000;

enum Reply {
    Ok(J),
    /// Pre-serialized success body (the price list can be tens of megabytes).
    Raw(Vec<u8>),
    Err(ApiError),
    /// An error answer chosen by a fault (any code, any message).
    Fault(ErrorAnswer),
}

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
        "market_pricelist" => (pricelist(st, r, params, plan.malformed), false),
        "market_search" => (search(st, r, params), false),
        "market_buy" => match buy(st, r, params, now, over_debit) {
            Ok(v) => {
                if over_debit > Usd::ZERO {
                    faults.push(FaultKind::OverDebit);
                }
                (Reply::Ok(v), true)
            }
            Err(e) => (Reply::Err(e), false),
        },
        "market_batch_buy" => {
            let (reply, committed) = batch_buy(st, r, params, now, over_debit);
            if committed && over_debit > Usd::ZERO {
                faults.push(FaultKind::OverDebit);
            }
            (reply, committed)
        }
        "market_getinfo" => (getinfo(st, r, params), false),
        "market_history" => (history(st, r, params), false),
        "balance" => (Reply::Ok(balance(st, r)), false),
        "currencies" => {
            if !plan.rate_override.is_empty() {
                tracing::warn!(target: "sandbox", rates = ?plan.rate_override, "fault: currency rates overridden");
                faults.push(FaultKind::RateOverride);
            }
            (Reply::Ok(currencies(&plan.rate_override)), false)
        }
        _ => {
            if st.faults.unavailable.is_some() {
                tracing::warn!(target: "sandbox", "fault: status unavailable");
                faults.push(FaultKind::Unavailable);
            }
            (Reply::Ok(status(st)), false)
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

/// `game`: absent → cs2, `csgo` → cs2; anything else is a game with nothing on sale (`None`).
fn game(params: &Params) -> Option<Game> {
    match params.non_empty("game") {
        None => Some(Game::Cs2),
        Some(g) => g.parse().ok(),
    }
}

fn pricelist(st: &Sb, r: Render, params: &Params, malformed: bool) -> Reply {
    let price = |p| if malformed { J::Str(render::NOT_A_NUMBER.into()) } else { r.money(p) };
    let full = params.truthy("full");
    let mut out = Vec::with_capacity(if full { st.market.listing_count() * 100 } else { 4096 });
    out.extend_from_slice(b"{\"status\":\"success\",\"last_update\":");
    render::push_value(&mut out, &r.int(st.market.last_update()));
    out.extend_from_slice(b",\"items\":[");
    let mut first = true;
    let mut sep = |out: &mut Vec<u8>| {
        if !first {
            out.push(b',');
        }
        first = false;
    };
    if let Some(g) = game(params) {
        if full {
            for l in st.market.all(g) {
                sep(&mut out);
                out.extend_from_slice(b"{\"id\":");
                render::push_value(&mut out, &r.int(l.id.get()));
                out.extend_from_slice(b",\"name\":");
                render::push_json_str(&mut out, l.name);
                out.extend_from_slice(b",\"price\":");
                render::push_value(&mut out, &price(l.price));
                out.extend_from_slice(b",\"classid\":");
                render::push_json_str(&mut out, l.classid);
                out.push(b'}');
            }
        } else {
            for grp in st.market.groups(g) {
                sep(&mut out);
                out.extend_from_slice(b"{\"name\":");
                render::push_json_str(&mut out, grp.name);
                out.extend_from_slice(b",\"price\":");
                render::push_value(&mut out, &price(grp.price));
                out.extend_from_slice(b",\"classid\":");
                render::push_json_str(&mut out, grp.classid);
                out.extend_from_slice(b",\"count\":");
                render::push_value(&mut out, &r.int(u64::try_from(grp.count).unwrap_or(u64::MAX)));
                out.push(b'}');
            }
        }
    }
    out.extend_from_slice(b"]}");
    Reply::Raw(out)
}

/// `name`: listings whose name contains it (case-insensitive, like a search box); `names`: listings
/// of exactly those names. Both at least 3 characters.
fn search(st: &Sb, r: Render, params: &Params) -> Reply {
    let names: Vec<String> = match params.get("names") {
        Some(v) => v
            .values()
            .iter()
            .filter_map(|n| n.as_str())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        None => Vec::new(),
    };
    let name = params.non_empty("name");
    if name.is_none() && names.is_empty() {
        return Reply::Err(error::NAME_OR_NAMES_REQUIRED);
    }
    if name.iter().map(|s| s.to_string()).chain(names.iter().cloned()).any(|n| n.chars().count() < 3) {
        return Reply::Err(error::NAME_MIN_LENGTH);
    }
    let mut items = Vec::new();
    if let Some(g) = game(params) {
        if let Some(q) = name {
            items.extend(st.market.search(g, q, SEARCH_CAP).iter().map(|l| r.listing(l)));
        }
        for n in &names {
            items.extend(st.market.named(g, n).iter().map(|l| r.listing(l)));
        }
    }
    Reply::Ok(success(vec![("items", J::Arr(items))]))
}

/// Trade URL parts, required for any buy.
fn trade_link(params: &Params) -> Result<(&str, &str), ApiError> {
    match (params.non_empty("partner"), params.non_empty("token")) {
        (Some(p), Some(t)) => Ok((p, t)),
        _ => Err(error::MISSING_PARTNER_OR_TOKEN),
    }
}

fn buy(st: &mut Sb, r: Render, params: &Params, now: Duration, over_debit: Usd) -> Result<J, ApiError> {
    let id = params.non_empty("id");
    let name = params.non_empty("name");
    if id.is_none() && name.is_none() {
        return Err(error::MISSING_NAME_AND_ID);
    }
    if id.is_none() && name.is_some_and(|n| n.chars().count() < 3) {
        return Err(error::NAME_MIN_LENGTH);
    }
    let link = trade_link(params)?;
    let terms = Terms { link, now, over_debit };
    let custom_id = params.non_empty("custom_id");
    let ceiling = Ceiling::parse(params.str("max_price"));
    let idx = match (id, name) {
        (Some(id), _) => {
            if custom_id.is_some_and(|c| st.custom_id_taken(c)) {
                return Err(error::CUSTOM_ID_EXISTS);
            }
            let id: ItemId = id.parse().map_err(|_| error::SKIN_UNAVAILABLE)?;
            st.buy_listing(id, ceiling, custom_id, &terms)?
        }
        (None, Some(name)) => match game(params) {
            Some(g) => st.buy_by_name(g, name, ceiling, custom_id, &terms)?,
            None if custom_id.is_some_and(|c| st.custom_id_taken(c)) => return Err(error::CUSTOM_ID_EXISTS),
            None => return Err(error::SKIN_UNAVAILABLE),
        },
        (None, None) => return Err(error::MISSING_NAME_AND_ID),
    };
    let mut body = success(Vec::new());
    body.extend(r.bought(st.purchase_at(idx)));
    Ok(body)
}

fn batch_buy(st: &mut Sb, r: Render, params: &Params, now: Duration, over_debit: Usd) -> (Reply, bool) {
    let items: Vec<&Php> = match params.get("items") {
        Some(v @ Php::Arr(_)) => v.values(),
        _ => Vec::new(),
    };
    if items.is_empty() {
        return (Reply::Err(error::MISSING_ITEMS), false);
    }
    if items.len() > st.batch_max {
        return (Reply::Err(error::TOO_MANY_ITEMS), false);
    }
    let terms = match trade_link(params) {
        Ok(link) => Terms { link, now, over_debit },
        Err(e) => return (Reply::Err(e), false),
    };
    let mut purchased = Vec::new();
    let mut unavailable = Vec::new();
    for item in items {
        let text = |k: &str| item.get(k).and_then(Php::as_str).map(str::trim).filter(|s| !s.is_empty());
        let raw_id = text("id");
        let custom_id = text("custom_id");
        let parsed: Option<ItemId> = raw_id.and_then(|s| s.parse().ok());
        let result = match parsed {
            Some(id) => st.buy_listing(id, Ceiling::parse(text("max_price")), custom_id, &terms),
            None => Err(error::SKIN_UNAVAILABLE),
        };
        match result {
            Ok(idx) => purchased.push(r.bought(st.purchase_at(idx))),
            Err(e) => {
                let id = match parsed {
                    Some(id) => r.int(id.get()),
                    // Echo what was sent; "0" when nothing was.
                    None => J::Str(raw_id.unwrap_or("0").to_string()),
                };
                unavailable.push(obj([
                    ("id", id),
                    ("custom_id", custom_id.map(str::to_string).into()),
                    ("error_code", e.code.into()),
                    ("error_message", e.message.into()),
                ]));
            }
        }
    }
    let committed = !purchased.is_empty();
    (Reply::Ok(success(vec![("purchased", J::Arr(purchased)), ("unavailable", J::Arr(unavailable))])), committed)
}

/// `buy_id` → one purchase, flat; else `buy_ids` / `custom_ids` → `items` (unknown ones left out).
fn getinfo(st: &Sb, r: Render, params: &Params) -> Reply {
    if let Some(b) = params.non_empty("buy_id") {
        let found = b.parse::<u64>().ok().and_then(|id| st.purchase_by_buy_id(id));
        return match found {
            Some(p) => {
                let mut body = success(Vec::new());
                body.extend(r.info(p));
                Reply::Ok(body)
            }
            None => Reply::Err(error::OFFER_NOT_FOUND),
        };
    }
    let list = |key: &str| -> Vec<String> {
        params
            .get(key)
            .map(|v| {
                v.values()
                    .iter()
                    .filter_map(|x| x.as_str())
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    };
    let buy_ids = list("buy_ids");
    let custom_ids = list("custom_ids");
    let found: Vec<J> = if !buy_ids.is_empty() {
        buy_ids
            .iter()
            .filter_map(|b| b.parse::<u64>().ok())
            .filter_map(|id| st.purchase_by_buy_id(id))
            .map(|p| r.info(p))
            .collect()
    } else if !custom_ids.is_empty() {
        custom_ids.iter().filter_map(|c| st.purchase_by_custom_id(c)).map(|p| r.info(p)).collect()
    } else {
        return Reply::Err(error::MISSING_BUY_ID);
    };
    Reply::Ok(success(vec![("items", J::Arr(found))]))
}

fn history(st: &Sb, r: Render, params: &Params) -> Reply {
    let bound = |k: &str| params.non_empty(k).and_then(|s| s.parse::<u64>().ok());
    let (Some(starting), Some(ending)) = (bound("starting"), bound("ending")) else {
        return Reply::Err(error::MISSING_STARTING_OR_ENDING);
    };
    let start_from = params.non_empty("start_from").and_then(|s| s.parse::<usize>().ok()).unwrap_or(0);
    let rows = st.history(starting, ending);
    let total = rows.len();
    let from = start_from.min(total);
    let page: Vec<J> = rows[from..].iter().take(st.history_page).map(|p| r.info(p)).collect();
    let has_more = from + page.len() < total;
    // The cursor of the next page; 0 when there is none (as in the reference's example).
    let next = if has_more { from + page.len() } else { 0 };
    Reply::Ok(success(vec![
        ("total_count", r.int(u64::try_from(total).unwrap_or(u64::MAX))),
        ("has_more", has_more.into()),
        ("start_from", r.int(u64::try_from(next).unwrap_or(u64::MAX))),
        ("items", J::Arr(page)),
    ]))
}

fn in_currencies(r: Render, usd: Decimal) -> J {
    J::Obj(
        CURRENCIES
            .iter()
            .map(|(code, _, rate)| {
                let rate: Decimal = rate.parse().unwrap_or(Decimal::ONE);
                (*code, r.num_text(balance_text(usd * rate)))
            })
            .collect(),
    )
}

fn balance(st: &Sb, r: Render) -> J {
    success(vec![
        ("balance", r.balance(st.balance().amount())),
        ("balance_in_currencies", in_currencies(r, st.balance().amount())),
        ("deals_sum", r.balance(st.deals_sum())),
        ("deals_sum_in_currencies", in_currencies(r, st.deals_sum())),
        ("withdraw_sum", r.balance(st.withdraw_sum())),
        ("withdraw_sum_in_currencies", in_currencies(r, st.withdraw_sum())),
    ])
}

/// `overrides`: code → rate text that replaces the listed rate (a fault); unlisted codes are added
/// at the end, named by their code.
fn currencies(overrides: &BTreeMap<String, String>) -> J {
    let item =
        |code: &str, name: &str, rate: &str| obj([("code", code.into()), ("name", name.into()), ("rate", rate.into())]);
    let mut items: Vec<J> = CURRENCIES
        .iter()
        .map(|(code, name, rate)| item(code, name, overrides.get(*code).map_or(*rate, String::as_str)))
        .collect();
    for (code, rate) in overrides {
        if !CURRENCIES.iter().any(|(c, _, _)| c == code) {
            items.push(item(code, &code.to_uppercase(), rate));
        }
    }
    success(vec![("items", J::Arr(items))])
}

fn status(st: &Sb) -> J {
    match &st.faults.unavailable {
        None => success(vec![("available", true.into())]),
        Some(reason) => success(vec![("available", false.into()), ("reason", reason.clone().into())]),
    }
}
