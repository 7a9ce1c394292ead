//! `skinbot halt` and `skinbot resume`: the brake, from outside. Through the running bot's loopback
//! endpoint when it runs (it reads the halt before every order), else on the ledger directly (a
//! halt survives restarts).

use std::path::PathBuf;

use anyhow::Context;

use crate::config::Config;
use crate::ledger::{remote, HaltEvent, Ledger, LedgerError};

#[derive(Debug, clap::Args)]
pub struct HaltArgs {
    /// Why (kept in the ledger and shown until someone resumes).
    #[arg(long, default_value = "halted by the operator")]
    reason: String,
    #[command(flatten)]
    state: StateArgs,
}

#[derive(Debug, clap::Args)]
pub struct ResumeArgs {
    #[command(flatten)]
    state: StateArgs,
}

/// Where the bot's state is: the config's `[state] dir`, or a folder.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct StateArgs {
    /// The config file whose `[state] dir` holds the ledger.
    #[arg(long, global = true, conflicts_with = "state_dir")]
    config: Option<PathBuf>,
    /// The bot's state directory (default `state`, as `skinbot run` without a config).
    #[arg(long, global = true)]
    state_dir: Option<PathBuf>,
}

impl StateArgs {
    pub fn dir(&self) -> anyhow::Result<PathBuf> {
        match (&self.config, &self.state_dir) {
            (Some(c), _) => Ok(Config::load(c)?.state_dir),
            (None, Some(d)) => Ok(d.clone()),
            (None, None) => Ok(PathBuf::from("state")),
        }
    }
}

pub async fn halt(args: HaltArgs) -> anyhow::Result<()> {
    let event = HaltEvent {
        at: chrono::Utc::now(),
        halted: true,
        kind: "operator".into(),
        reason: args.reason,
        by: "cli".into(),
    };
    let how = record(&args.state, event).await?;
    eprintln!("buying halted ({how}); `skinbot resume` lets it buy again");
    Ok(())
}

pub async fn resume(args: ResumeArgs) -> anyhow::Result<()> {
    let event = HaltEvent {
        at: chrono::Utc::now(),
        halted: false,
        kind: "operator".into(),
        reason: "resumed".into(),
        by: "cli".into(),
    };
    let how = record(&args.state, event).await?;
    eprintln!("buying resumed ({how})");
    Ok(())
}

/// Records `event` through the running bot, else in the ledger directly; says which.
async fn record(state: &StateArgs, event: HaltEvent) -> anyhow::Result<&'static str> {
    let dir = state.dir()?;
    let ledger_dir = dir.join("ledger");
    if !ledger_dir.is_dir() {
        anyhow::bail!("no ledger at {} (wrong --state-dir or --config?)", ledger_dir.display());
    }
    let local = {
        let event = event.clone();
        tokio::task::spawn_blocking(move || Ledger::open(&ledger_dir).and_then(|l| l.record_halt(&event)))
            .await
            .context("the ledger task failed")?
    };
    match local {
        Ok(()) => Ok("the bot is not running: recorded in the ledger, in force at its next start"),
        Err(LedgerError::Locked { .. }) => {
            let _: HaltEvent = remote::tell(&dir, "/brake", &event).await?;
            Ok("through the running bot: in force before its next order")
        }
        Err(e) => Err(e.into()),
    }
}
