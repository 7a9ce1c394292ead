//! The dashboard: the ledger and the bot's state in the browser.
//!
//! Served by the running bot (`[dashboard] listen`, on in the embedded sandbox demo) or by
//! `skinbot dashboard` for a ledger whose bot is not running, through the bounded server of
//! [`crate::net`]. One page with four sections (Now, Purchases, Spend, Item); each section is also
//! a fragment (`/frag/…`) that the page's small script fetches again when the server says, over
//! server-sent events (`/events`), that purchases, halts or the status changed. Charts are SVG drawn
//! on the server; the stylesheet and script are embedded in the binary. Nothing is fetched from
//! elsewhere (the Content-Security-Policy says so to the browser too).
//!
//! Security: the token of the control endpoint ([`crate::ledger::remote::Token`]) is required. It
//! is given once in the printed URL (`/?token=…`), which sets an HttpOnly, SameSite=Strict cookie
//! `skinbot_dashboard_<port>` (`Secure` with `allow_remote`) holding a value derived from it and
//! redirects to `/`; every other request without that cookie (or the token in the
//! `x-skinbot-token` header) is answered 401. Unless `allow_remote` is set, a request whose `Host`
//! is not 127.0.0.1, localhost or [::1] with the dashboard's port is answered 421 (DNS rebinding).
//! Halt and resume are POSTs that need the page's CSRF token and, when the browser sends one, an
//! `Origin` among those names. Every value from the ledger goes through maud's escaping.

mod access;
mod limit;
mod live;
mod svg;
mod view;

use access::*;
use live::*;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use tokio::sync::{broadcast, watch};

use crate::config::DashboardSettings;
use crate::engine::Engine;
use crate::ledger::remote::{Token, TOKEN_HEADER};
use crate::ledger::{HaltEvent, Ledger};
use crate::net::ConnLimits;
use crate::strategy::file::Strategy;

/// The session cookie's name is this and the port: cookies are per host, not per port, so two
/// dashboards on 127.0.0.1 (the bot's and `skinbot dashboard`'s) keep one each.
const COOKIE_PREFIX: &str = "skinbot_dashboard_";
const CSRF_HEADER: &str = "x-csrf-token";

/// What the dashboard shows: a ledger, and the engine trading on it when it runs in this process.
#[derive(Clone)]
pub struct Source {
    pub ledger: Ledger,
    /// The engine of this process (`skinbot run`); `None` for `skinbot dashboard`, which shows the
    /// last `status.json` the bot wrote instead.
    pub engine: Option<Arc<Engine>>,
    /// Where `status.json` is.
    pub state_dir: Option<PathBuf>,
    /// The configuration (daily budget, timezone) when no engine runs, if one was given.
    pub config: Option<Arc<crate::config::Config>>,
}

/// A dashboard being served.
pub struct Dashboard {
    addr: SocketAddr,
    token: Token,
    task: tokio::task::JoinHandle<()>,
}

impl Dashboard {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL to open, with the token (it is exchanged for a cookie at once).
    pub fn url_with_token(&self) -> String {
        format!("http://{}/?token={}", self.addr, self.token.as_str())
    }

    /// Waits until the server has stopped (after the shutdown signal).
    pub async fn stopped(self) {
        let _ = self.task.await;
    }
}

/// Bounds of the dashboard's server: one person's browser (a few tabs, each with one event stream
/// and a few fetches at once). Bodies are halt forms.
pub(crate) const LIMITS: ConnLimits = ConnLimits {
    max_connections: 64,
    head_timeout: Duration::from_secs(10),
    body_timeout: Duration::from_secs(10),
    max_head_bytes: 16 * 1024,
    max_body_bytes: 4 * 1024,
};

/// Opens the dashboard's port as `settings` say: a taken port is an error, unless the settings
/// allow any free loopback port instead (the demo's default).
pub(crate) async fn bind(settings: &DashboardSettings) -> anyhow::Result<tokio::net::TcpListener> {
    match tokio::net::TcpListener::bind(settings.listen).await {
        Ok(l) => Ok(l),
        Err(e) if settings.fall_back_to_any_port && e.kind() == std::io::ErrorKind::AddrInUse => {
            tracing::warn!(listen = %settings.listen, "the dashboard's port is taken; serving it on another one");
            tokio::net::TcpListener::bind((settings.listen.ip(), 0))
                .await
                .context("failed to open a port for the dashboard")
        }
        Err(e) => Err(e).with_context(|| format!("failed to open the dashboard's address {}", settings.listen)),
    }
}

/// Serves the dashboard of `source` on `listener` until `shutdown` turns true. `allow_remote`
/// (`[dashboard] allow_remote`, behind the operator's own TLS proxy): any `Host` is accepted and
/// the session cookie is `Secure`; otherwise only the loopback names of this port are.
pub async fn serve(
    listener: tokio::net::TcpListener,
    token: Token,
    source: Source,
    shutdown: watch::Receiver<bool>,
    allow_remote: bool,
) -> anyhow::Result<Dashboard> {
    let addr = listener.local_addr()?;
    let port = addr.port();
    let hosts = if allow_remote {
        None
    } else {
        let mut hosts = vec![format!("127.0.0.1:{port}"), format!("localhost:{port}"), format!("[::1]:{port}")];
        if !hosts.contains(&addr.to_string()) {
            hosts.push(addr.to_string());
        }
        Some(hosts)
    };
    let (live, _) = broadcast::channel(64);
    let strategies = match (&source.engine, &source.config) {
        (Some(_), _) => Err(String::new()),
        (None, Some(c)) => {
            let paths = c.strategy_paths.clone();
            match tokio::task::spawn_blocking(move || crate::strategy::file::load_all(&paths)).await? {
                Ok(s) => Ok(Arc::new(s)),
                Err(e) => {
                    tracing::warn!("the Item chart draws no rule limits: {e}");
                    Err(format!("no rule limits: the strategy files cannot be read: {e}"))
                }
            }
        }
        (None, None) => {
            Err("no rule limits: no configuration given (start `skinbot dashboard` with --config)".to_string())
        }
    };
    let app = App(Arc::new(Inner {
        session: derive(&token, "dashboard session"),
        csrf: derive(&token, "dashboard csrf"),
        token: token.clone(),
        cookie_name: format!("{COOKIE_PREFIX}{port}"),
        hosts,
        source,
        strategies,
        rows: Mutex::new(None),
        live: live.clone(),
        streams: Arc::new(tokio::sync::Semaphore::new(MAX_EVENT_STREAMS)),
        shutdown: shutdown.clone(),
    }));
    tokio::spawn(watch_changes(app.clone(), shutdown.clone()));
    // Read the purchase rows now (about a second at 100,000 purchases), not when the first page asks.
    let warm = app.clone();
    tokio::spawn(async move {
        if let Err(e) = warm.rows().await {
            tracing::warn!("the dashboard could not read the purchases: {}", e.0);
        }
    });
    let protected = Router::new()
        .route("/frag/now", get(frag_now))
        .route("/frag/purchases", get(frag_purchases))
        .route("/frag/purchase/{id}", get(frag_purchase))
        .route("/frag/spend", get(frag_spend))
        .route("/frag/item", get(frag_item))
        .route("/events", get(events))
        .route("/halt", post(halt))
        .route("/resume", post(resume))
        .route("/assets/dashboard.css", get(css))
        .route("/assets/dashboard.js", get(js))
        .route_layer(middleware::from_fn_with_state(app.clone(), require_session));
    let router = Router::new()
        .route("/", get(index))
        .merge(protected)
        .layer(middleware::from_fn_with_state(app.clone(), require_host))
        .layer(middleware::from_fn(security_headers))
        .with_state(app);
    let mut stop = shutdown;
    let task = tokio::spawn(async move {
        let stop = async move {
            while !*stop.borrow() {
                if stop.changed().await.is_err() {
                    break;
                }
            }
        };
        crate::net::serve_bounded(listener, router, LIMITS, stop).await;
    });
    Ok(Dashboard { addr, token, task })
}

#[derive(Clone)]
struct App(Arc<Inner>);

struct Inner {
    token: Token,
    /// The cookie's value: derived from the token, so the cookie never holds the token itself.
    session: String,
    /// `skinbot_dashboard_<port>`.
    cookie_name: String,
    /// The `Host` values accepted (`host:port`, lower case); `None` with `allow_remote`: any.
    hosts: Option<Vec<String>>,
    /// The page's CSRF token, required with every POST from a browser.
    csrf: String,
    source: Source,
    /// Without an engine: the config's strategy files as read at start, or why there are none.
    strategies: Result<Arc<Vec<Strategy>>, String>,
    /// The purchase rows, as of the event sequence number they were read at.
    rows: Mutex<Option<RowCache>>,
    /// `purchases`, `halt` or `status`: what changed.
    live: broadcast::Sender<&'static str>,
    /// One permit per open live feed ([`MAX_EVENT_STREAMS`]).
    streams: Arc<tokio::sync::Semaphore>,
    shutdown: watch::Receiver<bool>,
}

impl App {
    /// The strategies whose limits the Item chart draws: the running bot's (reloads included), else
    /// the configuration's as read at start.
    fn rules(&self) -> view::Rules {
        match (&self.0.source.engine, &self.0.strategies) {
            (Some(engine), _) => {
                view::Rules::InForce(engine.strategies(), "limits of the bot's strategies in force".into())
            }
            (None, Ok(s)) => view::Rules::InForce(
                Arc::clone(s),
                "limits of the configuration's strategy files as read when the dashboard started".into(),
            ),
            (None, Err(why)) => view::Rules::Unknown(why.clone()),
        }
    }

    /// The session cookie, or the token in its header (a script or `curl`).
    fn authorized(&self, headers: &HeaderMap) -> bool {
        if headers.get(TOKEN_HEADER).and_then(|v| v.to_str().ok()).is_some_and(|t| self.0.token.matches(t)) {
            return true;
        }
        // Any cookie of that name: another local service may have set a decoy of the same name
        // first (cookies are shared by every port of a host), and the browser sends both.
        cookies(headers, &self.0.cookie_name).any(|v| same(v, &self.0.session))
    }

    /// Whether `host` (a `Host` header's value) names this dashboard.
    fn host_allowed(&self, host: &str) -> bool {
        match &self.0.hosts {
            None => true,
            Some(hosts) => hosts.iter().any(|h| h.eq_ignore_ascii_case(host)),
        }
    }

    /// The purchase rows, brought up to date from the ledger's event log when it has grown since
    /// they were read (each event holds its purchase's record): a tick's few changes cost a few
    /// events, not a read of every purchase.
    async fn rows(&self) -> Result<Arc<Vec<view::Row>>, AppError> {
        let app = self.clone();
        blocking(move || {
            let ledger = &app.0.source.ledger;
            let seq = ledger.chain_head()?.0;
            let mut cache = app.0.rows.lock().unwrap_or_else(|p| p.into_inner());
            match cache.as_mut() {
                Some(c) if c.seq == seq => return Ok(Arc::clone(&c.rows)),
                // Fewer new events than rows: catch up by the log.
                Some(c) if seq > c.seq && seq - c.seq < c.rows.len() as u64 => {
                    let rows = Arc::make_mut(&mut c.rows);
                    for event in ledger.events_from(c.seq + 1) {
                        let event = event?;
                        let row = view::Row::of(event.record);
                        match c.index.get(row.id()) {
                            Some(&i) => rows[i] = row,
                            None => {
                                c.index.insert(row.id().to_string(), rows.len());
                                rows.push(row);
                            }
                        }
                        c.seq = c.seq.max(event.seq);
                    }
                    return Ok(Arc::clone(&c.rows));
                }
                _ => {}
            }
            // Read the head first: events after it are applied at the next call (again, harmlessly,
            // if the read below already saw them).
            let rows = view::Row::read_all(ledger)?;
            let index = rows.iter().enumerate().map(|(i, r)| (r.id().to_string(), i)).collect();
            let rows = Arc::new(rows);
            *cache = Some(RowCache { seq, rows: Arc::clone(&rows), index });
            Ok(rows)
        })
        .await
    }
}

/// The purchase rows as of event `seq`, and where each custom id is among them.
struct RowCache {
    seq: u64,
    rows: Arc<Vec<view::Row>>,
    index: std::collections::HashMap<String, usize>,
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::ledger::LedgerError> + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| AppError(e.to_string()))?.map_err(|e| AppError(e.to_string()))
}

/// A failure reading the ledger: 500 with the reason, as text.
struct AppError(String);

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        (StatusCode::INTERNAL_SERVER_ERROR, format!("the dashboard could not read the ledger: {}\n", self.0))
            .into_response()
    }
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// `/?token=T` sets the session cookie and redirects to `/`: the token leaves the address bar, but
/// the URL with it stays in the browser's history (the token changes with every start of skinbot).
/// `/` with the cookie is the page.
async fn index(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
    Query(filters): Query<view::PurchaseQuery>,
) -> Result<Response, AppError> {
    if let Some(t) = q.token {
        if !app.0.token.matches(&t) {
            return Ok(unauthorized());
        }
        // `allow_remote` (any Host): behind the operator's TLS proxy.
        let secure = if app.0.hosts.is_none() { "; Secure" } else { "" };
        let cookie = format!("{}={}; HttpOnly; SameSite=Strict; Path=/{secure}", app.0.cookie_name, app.0.session);
        let mut resp = Redirect::to("/").into_response();
        resp.headers_mut()
            .insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).map_err(|e| AppError(e.to_string()))?);
        return Ok(resp);
    }
    if !app.authorized(&headers) {
        return Ok(unauthorized());
    }
    let now = now_view(&app).await?;
    let rows = app.rows().await?;
    let purchases = purchases_view(&rows, filters).await?;
    let spend = spend_view(&app, &rows, view::SpendQuery::default()).await?;
    let item = item_view(&app, &rows, &view::ItemQuery::default()).await?;
    Ok(Html(view::page(&app.0.csrf, now, purchases, spend, item).into_string()).into_response())
}

async fn now_view(app: &App) -> Result<maud::Markup, AppError> {
    let source = app.0.source.clone();
    let csrf = app.0.csrf.clone();
    blocking(move || view::now(&source, &csrf)).await
}

async fn frag_now(State(app): State<App>) -> Result<Html<String>, AppError> {
    Ok(Html(now_view(&app).await?.into_string()))
}

async fn frag_purchases(
    State(app): State<App>,
    Query(q): Query<view::PurchaseQuery>,
) -> Result<Html<String>, AppError> {
    let rows = app.rows().await?;
    Ok(Html(purchases_view(&rows, q).await?.into_string()))
}

/// Sorting and filtering 100,000 rows takes a while: on a blocking thread, not an async worker.
async fn purchases_view(rows: &Arc<Vec<view::Row>>, q: view::PurchaseQuery) -> Result<maud::Markup, AppError> {
    let rows = Arc::clone(rows);
    blocking(move || Ok(view::purchases(&rows, &q, chrono::Utc::now()))).await
}

/// On a blocking thread, as [`purchases_view`] (it also reads the last rates from the ledger).
async fn spend_view(app: &App, rows: &Arc<Vec<view::Row>>, q: view::SpendQuery) -> Result<maud::Markup, AppError> {
    let (app, rows) = (app.clone(), Arc::clone(rows));
    blocking(move || Ok(view::spend(&rows, &spend_context(&app), &q))).await
}

async fn frag_purchase(State(app): State<App>, Path(id): Path<String>) -> Result<Response, AppError> {
    let Ok(custom_id) = id.parse::<crate::domain::CustomId>() else {
        return Ok((StatusCode::NOT_FOUND, Html(view::not_found(&id).into_string())).into_response());
    };
    let ledger = app.0.source.ledger.clone();
    match blocking(move || ledger.get(&custom_id)).await? {
        Some(r) => Ok(Html(view::purchase(&r).into_string()).into_response()),
        None => Ok((StatusCode::NOT_FOUND, Html(view::not_found(&id).into_string())).into_response()),
    }
}

/// What the spend chart needs besides the purchases: the daily budget in USD and the timezone days
/// begin in.
fn spend_context(app: &App) -> view::SpendContext {
    let config = match (&app.0.source.engine, &app.0.source.config) {
        (Some(e), _) => Some(e.config()),
        (None, Some(c)) => Some(Arc::clone(c)),
        (None, None) => None,
    };
    let Some(config) = config else { return view::SpendContext { per_day: None, tz: chrono_tz::UTC } };
    let per_day = config.budget.per_day.as_ref().and_then(|m| {
        if m.currency().is_usd() {
            Some(crate::domain::Usd::new(m.amount()))
        } else {
            let rates = app.0.source.ledger.last_rates().ok().flatten()?;
            rates.to_usd(m.amount(), m.currency()).ok()
        }
    });
    view::SpendContext { per_day, tz: config.schedule.timezone }
}

async fn frag_spend(State(app): State<App>, Query(q): Query<view::SpendQuery>) -> Result<Html<String>, AppError> {
    let rows = app.rows().await?;
    Ok(Html(spend_view(&app, &rows, q).await?.into_string()))
}

async fn item_view(app: &App, rows: &Arc<Vec<view::Row>>, q: &view::ItemQuery) -> Result<maud::Markup, AppError> {
    let ledger = app.0.source.ledger.clone();
    let rows = Arc::clone(rows);
    let q = q.clone();
    let rules = app.rules();
    blocking(move || view::item(&ledger, &rows, &rules, &q, chrono::Utc::now())).await
}

async fn frag_item(State(app): State<App>, Query(q): Query<view::ItemQuery>) -> Result<Html<String>, AppError> {
    let rows = app.rows().await?;
    Ok(Html(item_view(&app, &rows, &q).await?.into_string()))
}

async fn css() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], include_str!("assets/dashboard.css"))
}

async fn js() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], include_str!("assets/dashboard.js"))
}
