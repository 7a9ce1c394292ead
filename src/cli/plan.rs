//! `skinbot plan`: what would be bought now, rule by rule, and why not the rest. Never sends a buy
//! and writes nothing to the ledger.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;

use super::run::{ledger_fit, LedgerFit};
use crate::config::Endpoint;
use crate::engine::plan::{self, LedgerView, Plan};
use crate::engine::reload::Sources;
use crate::exchange::Client;
use crate::ledger::{remote, HaltEvent, Ledger, LedgerError};

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// Config file (as `skinbot run --config`). Without one: a fresh in-process sandbox market (as
    /// `skinbot run` starts), the example strategies, state under state/.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Strategy files or folders to evaluate instead of the config's (check a new strategy file
    /// before it goes live); repeatable.
    #[arg(long = "strategy")]
    pub strategies: Vec<PathBuf>,
    /// Plan as a dry run would (`<state>/ledger-dry-run` holds the budget used).
    #[arg(long)]
    pub dry_run: bool,
    /// `table` for a person, `json` for a program (the same fields).
    #[arg(long, value_enum, default_value_t = PlanFormat::Table)]
    pub format: PlanFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanFormat {
    Table,
    Json,
}

pub async fn run(args: PlanArgs) -> anyhow::Result<()> {
    let sources = Sources { config: args.config.clone(), strategies: args.strategies.clone(), dry_run: args.dry_run };
    let (config, strategies) = sources.load()?;
    let embedded = if config.exchange.endpoint == Endpoint::Sandbox {
        let sb = config.sandbox.sandbox_config()?;
        Some(
            crate::sandbox::start(sb, "127.0.0.1:0".parse()?)
                .await
                .context("failed to start the in-process sandbox")?,
        )
    } else {
        None
    };
    let client = Client::new(config.exchange.client_config(embedded.as_ref())?)?
        .with_limiter(Arc::new(config.exchange.limiter()));

    // Everything from the network first (status, rates, balance, price lists): the ledger is opened
    // only afterwards, so a `skinbot run` starting meanwhile does not find it locked.
    let market = plan::fetch(&config, &client, chrono::Utc::now()).await;

    // The budget used so far, from the ledger: opened here, or through the running bot that holds it.
    let ledger_dir = config.ledger_dir();
    let mut notes = Vec::new();
    let (local, records, halt) = if !ledger_dir.is_dir() {
        notes.push(format!("no ledger at {} yet: nothing bought so far", ledger_dir.display()));
        (None, Vec::new(), None)
    } else {
        let dir = ledger_dir.clone();
        let opened = tokio::task::spawn_blocking(move || -> Result<_, LedgerError> {
            let ledger = Ledger::open(&dir)?;
            let identity = ledger.identity()?;
            let records = ledger.list()?;
            let halt = ledger.current_halt()?;
            Ok((ledger, identity, records, halt))
        })
        .await
        .context("the ledger task failed")?;
        match opened {
            Ok((ledger, identity, records, halt)) => {
                // The same check as `skinbot run`: never a plan on another exchange's purchases.
                match ledger_fit(&config, identity.as_deref(), records.is_empty())? {
                    LedgerFit::Same | LedgerFit::Unmarked => (Some(ledger), records, halt),
                    LedgerFit::SetAside => {
                        notes.push(format!(
                            "the ledger at {} is an earlier embedded sandbox's: the next `skinbot run` sets it aside \
                             and starts with an empty market, so this plan is made against an empty ledger",
                            ledger_dir.display()
                        ));
                        (None, Vec::new(), None)
                    }
                }
            }
            Err(LedgerError::Locked { .. }) => {
                let state = &config.state_dir;
                let unanswered = || {
                    format!(
                        "the ledger at {} is held by a running skinbot that did not answer, so the budget used \
                         so far is unknown and no plan is made",
                        ledger_dir.display()
                    )
                };
                match remote::ask::<Option<String>>(state, "/ledger/identity").await {
                    // A running embedded sandbox has set the earlier ledger aside already: this one
                    // is its own, and what the next tick counts.
                    Ok(identity) => {
                        ledger_fit(&config, identity.as_deref(), false)?;
                    }
                    Err(e) => notes.push(format!(
                        "the running bot does not say which exchange its ledger belongs to ({e:#}): not checked"
                    )),
                }
                let records: Vec<crate::domain::PurchaseRecord> =
                    remote::ask(state, "/ledger/records").await.with_context(unanswered)?;
                let halt: Option<HaltEvent> = remote::ask(state, "/brake").await?;
                notes.push("the ledger was read through the running bot".to_string());
                notes.push(
                    "recorded prices are not readable while the bot runs: discounts from the price history and \
                     the price-jump check are left out of this plan"
                        .to_string(),
                );
                (None, records, halt)
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read the ledger at {}", ledger_dir.display())),
        }
    };
    if embedded.is_some() {
        notes.push("against a fresh in-process sandbox market (no real money)".to_string());
    }
    let view = LedgerView { records, halt, history: local.as_ref() };
    let mut plan = plan::decide(&config, &strategies, &market, &view);
    // Done with the ledger before anything is printed (a slow reader of stdout holds no lock).
    drop(view);
    drop(local);
    plan.notes.splice(0..0, notes);
    match args.format {
        PlanFormat::Json => out!("{}", serde_json::to_string_pretty(&plan)?),
        PlanFormat::Table => {
            for line in render_table(&plan) {
                out!("{line}");
            }
        }
    }
    if let Some(sb) = embedded {
        sb.shutdown().await;
    }
    Ok(())
}

/// The plan as a person reads it: a header (budget windows, balance), one block per rule, the total.
pub fn render_table(plan: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    out.push(format!("plan at {} ({}); nothing is sent", plan.at.format("%Y-%m-%d %H:%M:%S UTC"), plan.mode));
    out.push(format!("balance   {}", plan.balance.as_deref().unwrap_or("unknown")));
    for w in &plan.windows {
        out.push(format!(
            "{:<9} {} used of {} ({} left; spent or reserved)",
            w.name,
            w.used,
            w.limit_text(),
            w.left_text()
        ));
    }
    if let Some(why) = &plan.stopped {
        out.push(format!("stopped   {why}: every candidate is refused"));
    }
    for n in &plan.notes {
        out.push(format!("note      {n}"));
    }
    for r in &plan.rules {
        out.push(String::new());
        out.push(format!("{} / {}  ({}, priority {})", r.strategy, r.rule, r.game, r.priority));
        let examples = if r.examples.is_empty() {
            String::new()
        } else {
            let more = if r.matched > r.examples.len() { ", …" } else { "" };
            format!(": {}{more}", r.examples.join(", "))
        };
        let names = if r.matched == 1 { "name" } else { "names" };
        out.push(format!("  matched   {} {names}{examples}", r.matched));
        if let Some(c) = &r.cheapest {
            out.push(format!("  cheapest  {} at {}", c.price, c.name));
        }
        let counts = r.counts.as_ref().map(|c| format!("; {c}")).unwrap_or_default();
        out.push(format!("  limit     {}{counts}", r.limit));
        let width = r.candidates.iter().map(|c| c.item.chars().count()).max().unwrap_or(0);
        let pwidth = r.candidates.iter().map(|c| c.price.len()).max().unwrap_or(0);
        for c in &r.candidates {
            let tail = match &c.reason {
                Some(why) => format!("  {}: {why}", c.reason_kind.as_deref().unwrap_or("refused")),
                None => String::new(),
            };
            out.push(format!("  {:<9} {:<width$}  {:>pwidth$}{tail}", c.verdict, c.item, c.price));
        }
        if let Some(n) = &r.note {
            out.push(format!("  nothing   {n}"));
        }
    }
    out.push(String::new());
    out.push(format!(
        "total     {} would buy for {} (max_price sent, what the budget reserves); {} refused",
        plan.would_buy, plan.total, plan.refused
    ));
    out
}
