//! `skinbot run`: the main job. With no config it trades against an in-process sandbox.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;

use crate::config::{Config, Endpoint};
use crate::engine::clock::TokioClock;
use crate::engine::reload::{self, Sources};
use crate::engine::{Deps, Engine};
use crate::exchange::Client;
use crate::ledger::Ledger;
use crate::sandbox;

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
    /// Decide and guard exactly as live against the configured exchange, but never send a buy:
    /// fills are simulated and kept in `<state>/ledger-dry-run` (same as `mode = "dry-run"`).
    #[arg(long)]
    pub dry_run: bool,
}

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let sources = Sources { config: args.config.clone(), strategies: args.strategies.clone(), dry_run: args.dry_run };
    let (config, strategies) = sources.load()?;
    let fingerprint = sources.fingerprint(&config);
    create_state_dir(&config.state_dir)
        .with_context(|| format!("failed to create the state folder {}", config.state_dir.display()))?;
    // Before anything is opened or written there: the ledger and the endpoint's token.
    crate::ledger::remote::check_state_dir(&config.state_dir)?;
    let ledger = open_ledger(&config)?;

    // The embedded default: an in-process sandbox whose offers resolve `time_scale` times faster.
    let embedded = if config.exchange.endpoint == Endpoint::Sandbox {
        let sb = config.sandbox.sandbox_config()?;
        let sandbox =
            sandbox::start(sb, "127.0.0.1:0".parse()?).await.context("failed to start the in-process sandbox")?;
        tracing::info!(api = %sandbox.api_url(), "trading against the in-process sandbox (no real money)");
        Some(sandbox)
    } else {
        None
    };
    let client_config = config.exchange.client_config(embedded.as_ref())?;
    if let Endpoint::Url(url) = &config.exchange.endpoint {
        tracing::info!(api = %url, shop_id = %config.exchange.shop_id, "trading against {url}");
    }
    let limiter = Arc::new(config.exchange.limiter());
    let client = Client::new(client_config)?.with_limiter(limiter);
    tracing::info!(
        strategies = strategies.len(),
        rules = strategies.iter().map(|s| s.rules.len()).sum::<usize>(),
        ledger = %config.ledger_dir().display(),
        dry_run = config.dry_run,
        "starting"
    );

    let state_dir = config.state_dir.clone();
    let (tx, rx) = watch::channel(false);
    // One token for the control endpoint and the dashboard.
    let token = crate::ledger::remote::Token::random();
    let allow_remote = config.dashboard.as_ref().is_some_and(|d| d.allow_remote);
    let dashboard_port = match &config.dashboard {
        Some(settings) => Some(crate::dashboard::bind(settings).await?),
        None => None,
    };
    let dashboard_url = match &dashboard_port {
        Some(l) => Some(format!("http://{}/?token={}", l.local_addr()?, token.as_str())),
        None => None,
    };
    // `skinbot ledger …` reads through the running bot (sled allows one process per database).
    let ledger_endpoint = crate::ledger::remote::serve_with_token(
        ledger.clone(),
        &state_dir,
        token.clone(),
        dashboard_url.clone(),
        "run",
        rx.clone(),
        crate::net::ConnLimits::LEDGER,
    )
    .await?;
    let engine = Engine::new(Arc::new(config), strategies, Deps { client, ledger, clock: Arc::new(TokioClock::new()) });
    engine.report_status_to(state_dir.clone());
    let dashboard = match dashboard_port {
        Some(listener) => {
            let source = crate::dashboard::Source {
                ledger: engine.ledger().clone(),
                engine: Some(Arc::clone(&engine)),
                state_dir: Some(state_dir.clone()),
                config: None,
            };
            let d = crate::dashboard::serve(listener, token, source, rx.clone(), allow_remote).await?;
            tracing::info!("dashboard: {}", d.url_with_token());
            Some(d)
        }
        None => None,
    };
    // Opt-in: the webhook's sending task, and the metrics endpoint.
    let notify = &engine.config().notify;
    if let Some(host) = notify.host() {
        tracing::info!(host = %host, "notifications go to a webhook");
    }
    engine.notify_to(crate::notify::Notifier::start(notify));
    if let Some(listen) = engine.config().metrics.listen {
        let (addr, _) = crate::metrics::server::serve(Arc::clone(&engine), listen, rx.clone()).await?;
        tracing::info!("metrics at http://{addr}/metrics, health at http://{addr}/health");
    }
    // Limits and strategies can change while it runs: edit the files, they are picked up in seconds.
    let reloader = Arc::new(reload::Reloader::new(sources, fingerprint));
    engine.reload_before_ticks(Arc::clone(&reloader));
    tokio::spawn(reload::watch(reloader, Arc::clone(&engine), Duration::from_secs(2), rx.clone()));
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
    if let Some(d) = dashboard {
        d.stopped().await;
    }
    engine.ledger().flush()?;
    out!("{}", super::summary::summary(&engine));
    if let Some(sb) = embedded {
        sb.shutdown().await;
    }
    Ok(())
}

/// Creates the state folder (and missing parents) for this user only, so the check that follows
/// accepts what the bot made itself whatever the umask; an existing folder is left as it is.
fn create_state_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

pub(crate) async fn wait_for_stop(duration: Option<u64>) {
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

/// What a ledger's purchases belong to: the embedded sandbox (a new, empty market at every start) or
/// one project on one API.
fn identity(config: &Config) -> String {
    let exchange = match &config.exchange.endpoint {
        Endpoint::Sandbox => EMBEDDED.to_string(),
        Endpoint::Url(url) => format!("{url} shop {}", config.exchange.shop_id),
    };
    if config.dry_run {
        format!("{DRY_RUN}{exchange}")
    } else {
        exchange
    }
}

/// How a dry run's ledger identity begins: its purchases are simulated.
pub(crate) const DRY_RUN: &str = "dry run (simulated purchases) on ";

const EMBEDDED: &str = "embedded sandbox";

/// What `skinbot run` does with the ledger it finds, by the exchange its purchases belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LedgerFit {
    /// Its purchases are of this exchange: used as it is.
    Same,
    /// An earlier embedded sandbox's: set aside, and an empty ledger started (a new embedded sandbox
    /// is a new, empty market).
    SetAside,
    /// Empty and unmarked: marked as this exchange's and used.
    Unmarked,
}

/// Whether a ledger whose purchases were made on `have` (`None`: unmarked, `empty` or not) may be
/// used by `config`; an error naming both when it belongs to another exchange (sandbox or live,
/// dry run or live). `skinbot run` and `skinbot plan` decide through here.
pub(crate) fn ledger_fit(config: &Config, have: Option<&str>, empty: bool) -> anyhow::Result<LedgerFit> {
    let dir = config.ledger_dir();
    let want = identity(config);
    match have {
        Some(have) if have == want && want != EMBEDDED => Ok(LedgerFit::Same),
        Some(have) if have == EMBEDDED && want == EMBEDDED => Ok(LedgerFit::SetAside),
        Some(have) => anyhow::bail!(
            "the ledger at {} holds purchases made on {have}, not on {want}; give this configuration its own [state] dir",
            dir.display()
        ),
        None if empty => Ok(LedgerFit::Unmarked),
        None => anyhow::bail!("the ledger at {} does not say which exchange its purchases were made on; give this configuration its own [state] dir", dir.display()),
    }
}

/// Opens `<state>/ledger`, making sure it holds purchases of this exchange only. The embedded
/// sandbox starts empty every time, so an earlier sandbox ledger is set aside (renamed, not
/// deleted); a ledger of another exchange is never touched and the run is refused.
fn open_ledger(config: &Config) -> anyhow::Result<Ledger> {
    let dir = config.ledger_dir();
    let want = identity(config);
    let ledger = Ledger::open(&dir)?;
    let have = ledger.identity()?;
    // Only asked of an unmarked ledger.
    let empty = match have {
        Some(_) => false,
        None => ledger.list()?.is_empty(),
    };
    match ledger_fit(config, have.as_deref(), empty)? {
        LedgerFit::Same => Ok(ledger),
        LedgerFit::SetAside => {
            drop(ledger);
            // Millisecond names sort by time and do not collide between two runs in one second.
            let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string();
            let mut aside = config.state_dir.join(format!("ledger-sandbox-{stamp}"));
            let mut n = 1;
            while aside.exists() {
                n += 1;
                aside = config.state_dir.join(format!("ledger-sandbox-{stamp}-{n}"));
            }
            std::fs::rename(&dir, &aside)
                .with_context(|| format!("failed to set the previous sandbox ledger aside as {}", aside.display()))?;
            tracing::info!(previous = %aside.display(), "the embedded sandbox starts with an empty market; its previous ledger was set aside");
            prune_set_aside(&config.state_dir);
            let ledger = Ledger::open(&dir)?;
            ledger.set_identity(&want)?;
            Ok(ledger)
        }
        LedgerFit::Unmarked => {
            ledger.set_identity(&want)?;
            Ok(ledger)
        }
    }
}

/// How many set-aside sandbox ledgers `skinbot run` keeps (the newest); older ones are removed.
pub(crate) const KEEP_SET_ASIDE: usize = 3;

/// Removes all but the newest [`KEEP_SET_ASIDE`] `ledger-sandbox-*` folders in `state_dir` (their
/// names sort by time). Only sandbox ledgers: nothing here held real money.
fn prune_set_aside(state_dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(state_dir) else { return };
    let mut aside: Vec<std::path::PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("ledger-sandbox-")))
        .collect();
    aside.sort();
    let remove = aside.len().saturating_sub(KEEP_SET_ASIDE);
    for old in &aside[..remove] {
        match std::fs::remove_dir_all(old) {
            Ok(()) => tracing::info!(removed = %old.display(), "an old set-aside sandbox ledger was removed"),
            Err(e) => {
                tracing::warn!(folder = %old.display(), error = %e, "cannot remove an old set-aside sandbox ledger")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    struct Env;
    impl crate::config::SecretSource for Env {
        fn var(&self, _: &str) -> Option<String> {
            Some("s3cret".into())
        }
    }

    /// sled lets go of its file lock from a background thread shortly after the last handle is
    /// dropped; a reopen in the same process waits for that (bounded), as a new process would not.
    fn reopen(config: &Config) -> anyhow::Result<Ledger> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match open_ledger(config) {
                Err(e)
                    if std::time::Instant::now() < deadline
                        && matches!(
                            e.downcast_ref::<crate::ledger::LedgerError>(),
                            Some(crate::ledger::LedgerError::Locked { .. })
                        ) =>
                {
                    std::thread::yield_now()
                }
                other => return other,
            }
        }
    }

    #[test]
    fn sandbox_and_live_purchases_never_share_a_ledger() {
        let dir = tempfile::tempdir().unwrap();
        let mut sandbox = Config::embedded_default();
        sandbox.state_dir = dir.path().to_path_buf();
        let first = open_ledger(&sandbox).unwrap();
        let id = first.next_custom_id(chrono::Utc::now()).unwrap();
        drop(first);
        // A new embedded sandbox is a new, empty market: the old ledger is set aside, not deleted.
        let second = reopen(&sandbox).unwrap();
        assert!(second.list().unwrap().is_empty());
        drop(second);
        let aside: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("ledger-sandbox-"))
            .collect();
        assert_eq!(aside.len(), 1, "{id}");
        // Older set-aside ledgers are removed beyond the newest few.
        for i in 0..5 {
            std::fs::create_dir(dir.path().join(format!("ledger-sandbox-20200101T00000{i}Z"))).unwrap();
        }
        drop(reopen(&sandbox).unwrap());
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .filter(|n| n.starts_with("ledger-sandbox-"))
            .collect();
        left.sort();
        assert_eq!(left.len(), KEEP_SET_ASIDE, "{left:?}");
        // The two set aside by this test's runs and the newest of the five old ones.
        assert_eq!(left[0], "ledger-sandbox-20200101T000004Z", "{left:?}");
        assert!(left[1..].iter().all(|n| !n.starts_with("ledger-sandbox-2020")), "{left:?}");

        // A live configuration pointed at the same state dir is refused, naming both.
        let live_src = format!(
            "[exchange]\napi_url = \"https://skinsback.com/api.php\"\nshop_id = \"1490\"\n[trade_link]\npartner = \"1\"\ntoken = \"AbCd1234\"\n[state]\ndir = \"{}\"\n",
            dir.path().display()
        );
        let live = Config::parse(Path::new("live.toml"), &live_src, &Env).unwrap();
        let e = reopen(&live).unwrap_err().to_string();
        assert!(e.contains("embedded sandbox") && e.contains("https://skinsback.com/api.php shop 1490"), "{e}");
    }

    #[test]
    fn a_dry_run_and_a_live_run_never_share_a_ledger() {
        let dir = tempfile::tempdir().unwrap();
        let src = |mode: &str| {
            format!(
                "mode = \"{mode}\"\n[exchange]\napi_url = \"https://skinsback.com/api.php\"\nshop_id = \"1490\"\n[trade_link]\npartner = \"1\"\ntoken = \"AbCd1234\"\n[state]\ndir = \"{}\"\n",
                dir.path().display()
            )
        };
        let live = Config::parse(Path::new("live.toml"), &src("live"), &Env).unwrap();
        let dry = Config::parse(Path::new("dry.toml"), &src("dry-run"), &Env).unwrap();
        assert_ne!(live.ledger_dir(), dry.ledger_dir());
        drop(open_ledger(&live).unwrap());
        // A live ledger put where the dry run keeps its own is refused, and the other way round.
        std::fs::rename(live.ledger_dir(), dry.ledger_dir()).unwrap();
        let e = reopen(&dry).unwrap_err().to_string();
        assert!(e.contains("not on dry run (simulated purchases) on https://skinsback.com/api.php shop 1490"), "{e}");
        std::fs::rename(dry.ledger_dir(), live.ledger_dir()).unwrap();
        drop(reopen(&live).unwrap());
    }
}
