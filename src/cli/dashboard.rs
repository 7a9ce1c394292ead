//! `skinbot dashboard`: the dashboard of a ledger whose bot is not running. It holds the ledger
//! while it serves (sled allows one process), so it also serves the control endpoint with the same
//! token: `skinbot ledger`, `halt` and `status` keep working meanwhile.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::watch;

use crate::config::{Config, DashboardSettings};
use crate::ledger::{remote, Ledger, LedgerError};

#[derive(Debug, clap::Args)]
pub struct DashboardArgs {
    /// The config file whose `[state] dir` holds the ledger (its `[dashboard] listen` is used
    /// unless --listen is given).
    #[arg(long, conflicts_with = "state_dir")]
    config: Option<PathBuf>,
    /// The bot's state directory (default `state`).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// A dry run's ledger (`<state>/ledger-dry-run`).
    #[arg(long)]
    dry_run: bool,
    /// Where to serve it (loopback only; default the config's, else 127.0.0.1:8787).
    #[arg(long)]
    listen: Option<SocketAddr>,
}

pub async fn run(args: DashboardArgs) -> anyhow::Result<()> {
    let config = args.config.as_deref().map(Config::load).transpose()?.map(Arc::new);
    let state_dir = match (&config, &args.state_dir) {
        (Some(c), _) => c.state_dir.clone(),
        (None, Some(d)) => d.clone(),
        (None, None) => PathBuf::from("state"),
    };
    let dry_run = args.dry_run || config.as_ref().is_some_and(|c| c.dry_run);
    let ledger_dir = state_dir.join(if dry_run { "ledger-dry-run" } else { "ledger" });
    if !ledger_dir.is_dir() {
        anyhow::bail!("no ledger at {} (wrong --state-dir or --config?)", ledger_dir.display());
    }
    remote::check_state_dir(&state_dir)?;
    let settings = match (args.listen, config.as_ref().and_then(|c| c.dashboard.clone())) {
        (Some(listen), configured) => {
            let allow_remote = configured.is_some_and(|c| c.allow_remote);
            if !listen.ip().is_loopback() && !allow_remote {
                anyhow::bail!(
                    "--listen {listen} is not a loopback address; the dashboard serves plain HTTP (set [dashboard] \
                     allow_remote = true in the config to allow it)"
                );
            }
            DashboardSettings { listen, allow_remote, fall_back_to_any_port: false }
        }
        (None, Some(configured)) => configured,
        (None, None) => DashboardSettings {
            listen: DashboardSettings::DEMO_LISTEN.parse()?,
            allow_remote: false,
            fall_back_to_any_port: true,
        },
    };
    let opened = {
        let dir = ledger_dir.clone();
        tokio::task::spawn_blocking(move || Ledger::open(&dir)).await.context("the ledger task failed")?
    };
    let ledger = match opened {
        Ok(l) => l,
        Err(LedgerError::Locked { .. }) => {
            let running = remote::read_control(&state_dir);
            match running {
                Some(c) => match c.dashboard {
                    // The address only: an error message ends up in terminals' scrollback and in
                    // logs, the token does not.
                    Some(url) => anyhow::bail!(
                        "skinbot (pid {}: the bot, or another `skinbot dashboard`) holds this ledger and serves its \
                         dashboard at {}/ (open the URL with the token from its startup log, or add ?token= and the \
                         `token` from {})",
                        c.pid,
                        url.split("/?token=").next().unwrap_or(&url),
                        remote::control_path(&state_dir).display()
                    ),
                    None => anyhow::bail!(
                        "the bot (pid {}) is running on this ledger without a dashboard; set [dashboard] listen in \
                         its config and restart it",
                        c.pid
                    ),
                },
                None => anyhow::bail!("another process holds the ledger at {}", ledger_dir.display()),
            }
        }
        Err(e) => return Err(e.into()),
    };
    let listener = crate::dashboard::bind(&settings).await?;
    let token = remote::Token::random();
    let (tx, rx) = watch::channel(false);
    let source =
        crate::dashboard::Source { ledger: ledger.clone(), engine: None, state_dir: Some(state_dir.clone()), config };
    let dashboard = crate::dashboard::serve(listener, token.clone(), source, rx.clone(), settings.allow_remote).await?;
    let endpoint = remote::serve_with_token(
        ledger,
        &state_dir,
        token,
        Some(dashboard.url_with_token()),
        "dashboard",
        rx,
        crate::net::ConnLimits::LEDGER,
    )
    .await?;
    tracing::info!("dashboard of {} (the bot is not running): {}", ledger_dir.display(), dashboard.url_with_token());
    // Ctrl-C or SIGTERM.
    super::run::wait_for_stop(None).await;
    let _ = tx.send(true);
    let _ = endpoint.await;
    dashboard.stopped().await;
    Ok(())
}
