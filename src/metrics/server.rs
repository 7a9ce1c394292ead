//! The `[metrics] listen` endpoint: `GET /metrics` (the text exposition) and `GET /health` (200
//! while ticks succeed; 503 with the reason when halted or when the last successful tick is too
//! old). Served within [`ConnLimits::METRICS`].

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::sync::watch;

use crate::engine::Engine;
use crate::net::ConnLimits;

/// The content type of the OpenMetrics text `prometheus-client` writes.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Serves `engine`'s metrics and health on `listen` until `shutdown` turns true. Returns the bound
/// address (port 0 picks one) and the server's task.
pub async fn serve(
    engine: Arc<Engine>,
    listen: SocketAddr,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let file = engine.config().source.as_ref().map_or_else(|| "<embedded default>".into(), |p| p.display().to_string());
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("{file}: field `metrics.listen`: cannot listen for metrics on {listen}"))?;
    let addr = listener.local_addr()?;
    let app = Router::new().route("/metrics", get(metrics)).route("/health", get(health)).with_state(engine);
    let task = tokio::spawn(async move {
        let stop = async move {
            while !*shutdown.borrow() {
                if shutdown.changed().await.is_err() {
                    break;
                }
            }
        };
        crate::net::serve_bounded(listener, app, ConnLimits::METRICS, stop).await;
    });
    Ok((addr, task))
}

async fn metrics(State(engine): State<Arc<Engine>>) -> impl IntoResponse {
    // Reads the ledger (open purchases, the halt): off the async workers.
    match tokio::task::spawn_blocking(move || engine.metrics_text()).await {
        Ok(text) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("metrics failed: {e}\n")).into_response(),
    }
}

async fn health(State(engine): State<Arc<Engine>>) -> impl IntoResponse {
    match tokio::task::spawn_blocking(move || engine.health()).await {
        Ok(Ok(ok)) => (StatusCode::OK, format!("ok: {ok}\n")),
        Ok(Err(why)) => (StatusCode::SERVICE_UNAVAILABLE, format!("unhealthy: {why}\n")),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("health check failed: {e}\n")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::engine::{clock::TokioClock, Deps};

    #[tokio::test]
    async fn a_failed_bind_names_the_config_file_and_the_field() {
        let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = taken.local_addr().unwrap();
        let mut config = Config::embedded_default();
        config.source = Some("/etc/skinbot/skinbot.toml".into());
        let cc = crate::exchange::ClientConfig::new(
            "http://127.0.0.1:9/api.php",
            "1",
            secrecy::SecretString::from("s".to_string()),
        );
        let deps = Deps {
            client: crate::exchange::Client::new(cc).unwrap(),
            ledger: crate::ledger::Ledger::temporary().unwrap(),
            clock: Arc::new(TokioClock::new()),
        };
        let engine = Engine::new(Arc::new(config), Vec::new(), deps);
        let (_stop, rx) = watch::channel(false);
        let e = serve(engine, addr, rx).await.expect_err("the port is taken");
        let text = format!("{e:#}");
        assert!(
            text.starts_with(&format!(
                "/etc/skinbot/skinbot.toml: field `metrics.listen`: cannot listen for metrics on {addr}"
            )),
            "{text}"
        );
    }
}
