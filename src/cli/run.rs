//! `skinbot run`: the main job. With no config it trades against an in-process sandbox.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::watch;

use crate::config::Endpoint;
use crate::engine::clock::TokioClock;
use crate::engine::reload::{self, Sources};
use crate::engine::{Deps, Engine};
use crate::exchange::{Client, ClientConfig, Limiter};
use crate::ledger::Ledger;
use crate::sandbox::{self, ClockMode, SandboxConfig};

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Config file (TOML; see skinbot.example.toml). Without one: in-process sandbox, example
    /// strategies from strategies/, state under state/.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Strategy files or folders, instead of the config's.
    #[arg(long = "strategy")]
    pub strategies: Vec<PathBuf>,
    /// Stop by itself after this many seconds (demos and smoke tests); otherwise Ctrl-C / SIGTERM.
    #[arg(long)]
    pub duration_secs: Option<u64>,
}

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let sources = Sources { config: args.config.clone(), strategies: args.strategies.clone() };
    let (config, strategies) = sources.load()?;
    let fingerprint = sources.fingerprint(&config);
    std::fs::create_dir_all(&config.state_dir)
        .with_context(|| format!("failed to create the state folder {}", config.state_dir.display()))?;
    let ledger = Ledger::open(&config.state_dir.join("ledger"))?;

    // The embedded default: an in-process sandbox whose offers resolve `time_scale` times faster.
    let mut embedded = None;
    let client_config = match &config.exchange.endpoint {
        Endpoint::Sandbox => {
            let mut sb = SandboxConfig {
                seed: config.sandbox.seed,
                balance: config.sandbox.balance,
                // Sandbox seconds per real second.
                clock: ClockMode::Real { scale: f64::from(config.sandbox.time_scale) }, // seconds ratio
                ..SandboxConfig::default()
            };
            if let Some(path) = &config.sandbox.catalog {
                sb.catalog = sandbox::Catalog::load(path)
                    .with_context(|| format!("failed to load the sandbox catalog {}", path.display()))?;
            }
            let sandbox =
                sandbox::start(sb, "127.0.0.1:0".parse()?).await.context("failed to start the in-process sandbox")?;
            tracing::info!(api = %sandbox.api_url(), "trading against the in-process sandbox (no real money)");
            let cfg = ClientConfig::new(
                sandbox.api_url(),
                sandbox.shop_id(),
                SecretString::from(sandbox.secret().to_string()),
            );
            embedded = Some(sandbox);
            cfg
        }
        Endpoint::Url(url) => {
            let secret = config.exchange.secret.clone().context("no secret configured")?;
            tracing::info!(api = %url, shop_id = %config.exchange.shop_id, "trading against {url}");
            ClientConfig::new(
                url.clone(),
                config.exchange.shop_id.clone(),
                SecretString::from(secret.expose_secret().to_string()),
            )
        }
    };
    let client_config = ClientConfig {
        timeout: config.exchange.timeout,
        connect_timeout: config.exchange.connect_timeout,
        encoding: config.exchange.encoding,
        auth: config.exchange.auth,
        ..client_config
    };
    let limiter = Arc::new(Limiter::new(config.exchange.requests_per_minute, config.exchange.background_share_percent));
    let client = Client::new(client_config)?.with_limiter(limiter);
    tracing::info!(
        strategies = strategies.len(),
        rules = strategies.iter().map(|s| s.rules.len()).sum::<usize>(),
        ledger = %config.state_dir.join("ledger").display(),
        "starting"
    );

    let state_dir = config.state_dir.clone();
    let (tx, rx) = watch::channel(false);
    // `skinbot ledger …` reads through the running bot (sled allows one process per database).
    let ledger_endpoint = crate::ledger::remote::serve(ledger.clone(), &state_dir, rx.clone()).await?;
    let engine = Engine::new(Arc::new(config), strategies, Deps { client, ledger, clock: Arc::new(TokioClock::new()) });
    // Limits and strategies can change while it runs: edit the files, they are picked up in seconds.
    tokio::spawn(reload::watch(sources, Arc::clone(&engine), Duration::from_secs(2), fingerprint, rx.clone()));
    let duration = args.duration_secs;
    tokio::spawn(async move {
        wait_for_stop(duration).await;
        tracing::info!("stopping: finishing the order in flight, then a summary (a second Ctrl-C exits at once)");
        let _ = tx.send(true);
        wait_for_stop(None).await;
        // Intents are on disk before their orders leave: whatever was in flight is resolved next start.
        eprintln!("second stop signal: exiting now; orders in flight are resolved at the next start");
        std::process::exit(130);
    });
    engine.run(rx).await;
    let _ = ledger_endpoint.await;
    engine.ledger().flush()?;
    println!("{}", engine.summary());
    if let Some(sb) = embedded {
        sb.shutdown().await;
    }
    Ok(())
}

async fn wait_for_stop(duration: Option<u64>) {
    let timer = async {
        match duration {
            Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
            None => std::future::pending().await,
        }
    };
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; Ctrl-C still works");
                tokio::select! { _ = tokio::signal::ctrl_c() => {}, _ = timer => {} }
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
            _ = timer => {}
        }
    }
    #[cfg(not(unix))]
    tokio::select! { _ = tokio::signal::ctrl_c() => {}, _ = timer => {} }
}
