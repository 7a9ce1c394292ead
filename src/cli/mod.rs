//! The `skinbot` command line: one subcommand per file.

use clap::{Parser, Subcommand};

pub mod brake;
pub mod events;
pub mod ledger;
pub mod run;
pub mod sandbox;
pub mod summary;

#[derive(Debug, Parser)]
#[command(
    name = "skinbot",
    version,
    about = "Buys game skins on SkinsBack by rules you write, within a budget you set."
)]
pub struct Cli {
    /// More log output (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the bot: fetch prices on schedule, decide, guard, buy, follow offers. With no config,
    /// trades against an in-process sandbox.
    Run(run::RunArgs),
    /// Print a project's websocket events as they arrive (purchases, offer statuses, balance).
    Events(events::EventsArgs),
    /// Review the purchases in the ledger (also while the bot runs).
    Ledger(ledger::LedgerArgs),
    /// Run a local SkinsBack sandbox server (same API as the real one) on loopback.
    Sandbox(sandbox::SandboxArgs),
    /// Stop buying (whether the bot runs or not) until `skinbot resume`; prices and offers are
    /// still followed.
    Halt(brake::HaltArgs),
    /// Let a halted bot buy again.
    Resume(brake::ResumeArgs),
}

pub fn init_tracing(cli: &Cli) {
    let verbose = cli.verbose;
    let default = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        // Under `run` the in-process sandbox is scenery: its own log would read like the bot's.
        let filter = match cli.command {
            Command::Run(_) if verbose == 0 => format!("{default},skinbot::sandbox=warn,sandbox=warn"),
            _ => default.to_string(),
        };
        tracing_subscriber::EnvFilter::new(filter)
    });
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).try_init();
}

pub async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run(args) => run::run(args).await,
        Command::Ledger(args) => ledger::run(args).await,
        Command::Events(args) => events::run(args).await,
        Command::Sandbox(args) => sandbox::run(args).await,
        Command::Halt(args) => brake::halt(args).await,
        Command::Resume(args) => brake::resume(args).await,
    }
}
