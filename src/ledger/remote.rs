//! Reading the ledger while the bot runs. sled lets one process open a database, so the running
//! bot serves read-only views of its ledger on loopback, and `skinbot ledger` asks it when the
//! database is locked. Where to ask (address and a random token) is in `<state>/control.json`,
//! readable by the bot's user only; the file is removed when the bot stops.

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

const TOKEN_HEADER: &str = "x-skinbot-token";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ControlFile {
    pub addr: SocketAddr,
    pub token: String,
    pub pid: u32,
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

#[derive(Clone)]
struct App {
    ledger: Ledger,
    token: String,
}

/// Serves the ledger on 127.0.0.1 until `shutdown`, and writes the control file.
pub async fn serve(
    ledger: Ledger,
    state_dir: &Path,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let listener =
        tokio::net::TcpListener::bind("127.0.0.1:0").await.context("failed to open the ledger's loopback port")?;
    let addr = listener.local_addr()?;
    let token = hex::encode(rand::rng().random::<[u8; 16]>());
    let path = control_path(state_dir);
    write_private(
        &path,
        &serde_json::to_vec_pretty(&ControlFile { addr, token: token.clone(), pid: std::process::id() })?,
    )
    .with_context(|| format!("failed to write {}", path.display()))?;
    let app = Router::new()
        .route("/ledger/records", get(records))
        .route("/ledger/verify", get(verify))
        .with_state(App { ledger, token });
    Ok(tokio::spawn(async move {
        let stop = async move {
            while !*shutdown.borrow() {
                if shutdown.changed().await.is_err() {
                    break;
                }
            }
        };
        if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(stop).await {
            tracing::warn!(error = %e, "the ledger's loopback endpoint stopped");
        }
        let _ = std::fs::remove_file(&path);
    }))
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(bytes)
}

fn authorized(app: &App, headers: &HeaderMap) -> bool {
    let given = headers.get(TOKEN_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
    given.len() == app.token.len() && given.bytes().zip(app.token.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
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

fn internal(e: impl std::fmt::Display) -> (StatusCode, String) {
    (StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// Asks the running bot (as its control file says) for `path`.
pub async fn ask<T: serde::de::DeserializeOwned>(state_dir: &Path, path: &str) -> anyhow::Result<T> {
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
    let resp = reqwest::Client::new()
        .get(&url)
        .header(TOKEN_HEADER, &control.token)
        .timeout(std::time::Duration::from_secs(30))
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
