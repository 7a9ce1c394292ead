//! Reading the ledger while the bot runs. sled lets one process open a database, so the running
//! bot serves read-only views of its ledger on loopback, and `skinbot ledger` asks it when the
//! database is locked. Where to ask (address and a random token) is in `<state>/control.json`,
//! readable by the bot's user only, in a state folder only that user can write to; the file is
//! removed when the bot stops. The endpoint is bounded ([`ConnLimits::LEDGER`]). The same token
//! opens the dashboard (see [`crate::dashboard`]): it is made once per run ([`Token::random`]) and
//! given to both.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use rand::Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::Ledger;
use crate::domain::PurchaseRecord;
use crate::net::ConnLimits;

/// The header a client of the control endpoint (or of the dashboard's API) sends the token in.
pub const TOKEN_HEADER: &str = "x-skinbot-token";

/// The random secret of one run: the control endpoint and the dashboard both ask for it.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// 128 random bits, as hex.
    pub fn random() -> Token {
        Token(hex::encode(rand::rng().random::<[u8; 16]>()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `given` is this token, compared in constant time.
    pub fn matches(&self, given: &str) -> bool {
        same_secret(given, &self.0)
    }
}

/// Whether two secrets are equal, compared in constant time (only their lengths, which are not
/// secret, can be told apart by timing).
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ControlFile {
    pub addr: SocketAddr,
    pub token: String,
    pub pid: u32,
    /// The running bot's dashboard (its URL with the token), if it serves one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dashboard: Option<String>,
    /// Who holds the ledger: `run` (the bot) or `dashboard` (`skinbot dashboard`, which buys nothing).
    /// Absent in files written before it existed: those were the bot's.
    #[serde(default = "ControlFile::bot")]
    pub holder: String,
}

impl ControlFile {
    fn bot() -> String {
        "run".into()
    }
}

/// The result of a chain check, as the running bot reports it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChainReport {
    pub events: u64,
    pub head: String,
}

pub fn control_path(state_dir: &Path) -> PathBuf {
    state_dir.join("control.json")
}

/// The control file of the process holding the ledger in `state_dir`, if there is a readable one
/// (it may be left over from a process that was killed: check its pid).
pub fn read_control(state_dir: &Path) -> Option<ControlFile> {
    let text = std::fs::read_to_string(control_path(state_dir)).ok()?;
    serde_json::from_str(&text).ok()
}

#[derive(Clone)]
struct App {
    ledger: Ledger,
    token: Token,
}

/// Serves the ledger on 127.0.0.1 until `shutdown`, and writes the control file.
pub async fn serve(
    ledger: Ledger,
    state_dir: &Path,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    serve_with_limits(ledger, state_dir, shutdown, ConnLimits::LEDGER).await
}

/// [`serve`], with other bounds on connections and requests than [`ConnLimits::LEDGER`].
pub async fn serve_with_limits(
    ledger: Ledger,
    state_dir: &Path,
    shutdown: watch::Receiver<bool>,
    limits: ConnLimits,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    serve_with_token(ledger, state_dir, Token::random(), None, "run", shutdown, limits).await
}

/// [`serve_with_limits`] with the run's `token` (shared with the dashboard) and the dashboard's
/// URL to note in the control file.
pub async fn serve_with_token(
    ledger: Ledger,
    state_dir: &Path,
    token: Token,
    dashboard: Option<String>,
    holder: &str,
    mut shutdown: watch::Receiver<bool>,
    limits: ConnLimits,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    check_state_dir(state_dir)?;
    let listener =
        tokio::net::TcpListener::bind("127.0.0.1:0").await.context("failed to open the ledger's loopback port")?;
    let addr = listener.local_addr()?;
    let path = control_path(state_dir);
    let control = ControlFile {
        addr,
        token: token.as_str().to_string(),
        pid: std::process::id(),
        dashboard,
        holder: holder.into(),
    };
    write_private(&path, &serde_json::to_vec_pretty(&control)?)
        .with_context(|| format!("failed to write {}", path.display()))?;
    let app = Router::new()
        .route("/ledger/records", get(records))
        .route("/ledger/verify", get(verify))
        .route("/ledger/identity", get(identity))
        .route("/brake", axum::routing::post(brake).get(current_brake))
        .with_state(App { ledger, token });
    Ok(tokio::spawn(async move {
        let stop = async move {
            while !*shutdown.borrow() {
                if shutdown.changed().await.is_err() {
                    break;
                }
            }
        };
        crate::net::serve_bounded(listener, app, limits, stop).await;
        let _ = std::fs::remove_file(&path);
    }))
}

/// Refuses a state folder that other users can write to: they could put their own control file
/// (address and token) or ledger there. Called before anything is opened or written in it.
pub fn check_state_dir(state_dir: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(state_dir)
            .with_context(|| format!("failed to read the state folder {}", state_dir.display()))?
            .permissions()
            .mode()
            & 0o7777;
        if mode & 0o022 != 0 {
            anyhow::bail!(
                "the state folder {dir} has mode {mode:04o}: other users can write into it (and so replace the \
                 ledger or the control file that holds its token); run `chmod go-w {dir}`",
                dir = state_dir.display()
            );
        }
    }
    Ok(())
}

/// Writes `bytes` to `path`, readable by this user only, whatever was there before: a new file
/// made 0600 from the start beside it, synced, then renamed over `path`. (Opening an existing file
/// with a mode keeps its old mode, and truncating it in place leaves a moment with half a file.)
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("control");
    let tmp = path.with_file_name(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        hex::encode(rand::rng().random::<[u8; 4]>())
    ));
    let mut opts = std::fs::OpenOptions::new();
    // create_new: never follow or reuse what someone else put at that name.
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let written = opts.open(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    match written.and_then(|()| std::fs::rename(&tmp, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn authorized(app: &App, headers: &HeaderMap) -> bool {
    app.token.matches(headers.get(TOKEN_HEADER).and_then(|v| v.to_str().ok()).unwrap_or(""))
}

async fn records(
    State(app): State<App>,
    headers: HeaderMap,
) -> Result<Json<Vec<PurchaseRecord>>, (StatusCode, String)> {
    if !authorized(&app, &headers) {
        return Err((StatusCode::UNAUTHORIZED, "bad token".into()));
    }
    let ledger = app.ledger.clone();
    let list = tokio::task::spawn_blocking(move || ledger.list()).await.map_err(internal)?.map_err(internal)?;
    Ok(Json(list))
}

/// Which exchange the ledger's purchases were made on (`skinbot plan` checks it as `run` does).
async fn identity(State(app): State<App>, headers: HeaderMap) -> Result<Json<Option<String>>, (StatusCode, String)> {
    if !authorized(&app, &headers) {
        return Err((StatusCode::UNAUTHORIZED, "bad token".into()));
    }
    let ledger = app.ledger.clone();
    let id = tokio::task::spawn_blocking(move || ledger.identity()).await.map_err(internal)?.map_err(internal)?;
    Ok(Json(id))
}

async fn verify(State(app): State<App>, headers: HeaderMap) -> Result<Json<ChainReport>, (StatusCode, String)> {
    if !authorized(&app, &headers) {
        return Err((StatusCode::UNAUTHORIZED, "bad token".into()));
    }
    let ledger = app.ledger.clone();
    let report = tokio::task::spawn_blocking(move || -> Result<ChainReport, super::LedgerError> {
        let events = ledger.verify_chain()?;
        let (_, head) = ledger.chain_head()?;
        Ok(ChainReport { events, head })
    })
    .await
    .map_err(internal)?
    .map_err(internal)?;
    Ok(Json(report))
}

/// Halts or resumes buying (a [`super::HaltEvent`] without its time): recorded in the ledger, which
/// the running engine reads before every order.
async fn brake(
    State(app): State<App>,
    headers: HeaderMap,
    Json(mut event): Json<super::HaltEvent>,
) -> Result<Json<super::HaltEvent>, (StatusCode, String)> {
    if !authorized(&app, &headers) {
        return Err((StatusCode::UNAUTHORIZED, "bad token".into()));
    }
    event.at = chrono::Utc::now();
    let ledger = app.ledger.clone();
    let stored = event.clone();
    tokio::task::spawn_blocking(move || ledger.record_halt(&stored)).await.map_err(internal)?.map_err(internal)?;
    Ok(Json(event))
}

/// The halt in force, if any.
async fn current_brake(
    State(app): State<App>,
    headers: HeaderMap,
) -> Result<Json<Option<super::HaltEvent>>, (StatusCode, String)> {
    if !authorized(&app, &headers) {
        return Err((StatusCode::UNAUTHORIZED, "bad token".into()));
    }
    let ledger = app.ledger.clone();
    let halt = tokio::task::spawn_blocking(move || ledger.current_halt()).await.map_err(internal)?.map_err(internal)?;
    Ok(Json(halt))
}

fn internal(e: impl std::fmt::Display) -> (StatusCode, String) {
    (StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// Asks the running bot (as its control file says) for `path`.
pub async fn ask<T: serde::de::DeserializeOwned>(state_dir: &Path, path: &str) -> anyhow::Result<T> {
    request(state_dir, reqwest::Method::GET, path, None::<&()>).await
}

/// Posts `body` to the running bot's `path`.
pub async fn tell<B: Serialize, T: serde::de::DeserializeOwned>(
    state_dir: &Path,
    path: &str,
    body: &B,
) -> anyhow::Result<T> {
    request(state_dir, reqwest::Method::POST, path, Some(body)).await
}

async fn request<B: Serialize, T: serde::de::DeserializeOwned>(
    state_dir: &Path,
    method: reqwest::Method,
    path: &str,
    body: Option<&B>,
) -> anyhow::Result<T> {
    let file = control_path(state_dir);
    let text = std::fs::read_to_string(&file).with_context(|| {
        format!(
            "the ledger is in use by another process, and {} (where a running skinbot says how to reach it) is missing",
            file.display()
        )
    })?;
    let control: ControlFile =
        serde_json::from_str(&text).with_context(|| format!("{} is not a control file", file.display()))?;
    let url = format!("http://{}{path}", control.addr);
    let mut req = reqwest::Client::new()
        .request(method, &url)
        .header(TOKEN_HEADER, &control.token)
        .timeout(std::time::Duration::from_secs(30));
    if let Some(b) = body {
        req = req.json(b);
    }
    let resp = req
        .send()
        .await
        .with_context(|| format!("the running skinbot (pid {}) did not answer at {}", control.pid, control.addr))?;
    let status = resp.status();
    if !status.is_success() {
        let body = resp.text().await.unwrap_or_default();
        anyhow::bail!("the running skinbot answered HTTP {status}: {body}");
    }
    resp.json().await.context("unreadable answer from the running skinbot")
}
