//! The `skinbot` command line: one subcommand per file.

use clap::{Parser, Subcommand};

/// Prints a line on stdout. A reader that went away (`skinbot ledger list | head`) ends the command
/// quietly, as a closed pipe ends other tools, instead of a panic.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout().lock(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            eprintln!("error: cannot write to stdout: {e}");
        }
    }};
}

pub mod brake;
pub mod dashboard;
pub mod events;
pub mod ledger;
pub mod plan;
pub mod run;
pub mod sandbox;
pub mod status;
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
    /// Log format on stderr: `text` (colour only on a terminal, never with NO_COLOR) or `json`
    /// (one object per line).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
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
    /// Running or not, halted or paused and why, balance, budget windows, open purchases, the last
    /// tick.
    Status(status::StatusArgs),
    /// Serve the dashboard (the ledger and the bot's state in the browser) for a ledger whose bot
    /// is not running; a running bot serves its own (`[dashboard] listen`).
    Dashboard(dashboard::DashboardArgs),
    /// What would be bought now, rule by rule (matched names, cheapest price, limit, "would buy"
    /// or the refusal and its reason) and the total. Never sends a buy.
    Plan(plan::PlanArgs),
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
            Command::Run(_) | Command::Plan(_) if verbose == 0 => {
                format!("{default},skinbot::sandbox=warn,sandbox=warn")
            }
            _ => default.to_string(),
        };
        tracing_subscriber::EnvFilter::new(filter)
    });
    // Logs go to stderr: stdout is for what a command prints (lists, summaries), so it can be piped.
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_writer(std::io::stderr);
    let _ = match cli.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => {
            use std::io::IsTerminal;
            let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            builder.with_ansi(colour).try_init()
        }
    };
}

pub async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run(args) => run::run(args).await,
        Command::Ledger(args) => ledger::run(args).await,
        Command::Events(args) => events::run(args).await,
        Command::Sandbox(args) => sandbox::run(args).await,
        Command::Halt(args) => brake::halt(args).await,
        Command::Resume(args) => brake::resume(args).await,
        Command::Status(args) => status::run(args).await,
        Command::Dashboard(args) => dashboard::run(args).await,
        Command::Plan(args) => plan::run(args).await,
    }
}
