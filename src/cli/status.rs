//! `skinbot status`: is the bot running, is buying halted or paused and why, the balance, the
//! budget windows, open purchases, the last tick.

use anyhow::Context;

use super::plan::PlanFormat;
use crate::engine::status::StatusReport;
use crate::ledger::{remote, HaltEvent, Ledger, LedgerError};

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    state: super::brake::StateArgs,
    /// `table` for a person, `json` for a program (the raw report, with the rate-limit headroom
    /// and what each strategy has left).
    #[arg(long, value_enum, default_value_t = PlanFormat::Table)]
    format: PlanFormat,
}

pub async fn run(args: StatusArgs) -> anyhow::Result<()> {
    let dir = args.state.dir()?;
    let running = remote::read_control(&dir).filter(|c| std::path::Path::new(&format!("/proc/{}", c.pid)).exists());
    // `skinbot dashboard` holds the ledger (and answers for it) but buys nothing: not a running bot.
    let served_by_dashboard = running.as_ref().filter(|c| c.holder == "dashboard").map(|c| c.pid);
    let bot = running.as_ref().filter(|c| c.holder != "dashboard").map(|c| c.pid);
    let running = running.map(|c| c.pid);
    let report = StatusReport::read(&dir).context("cannot read status.json")?;
    // The halt in force, from the ledger itself (a halt said a moment ago is not in status.json yet).
    let halt: Option<HaltEvent> = if running.is_some() {
        remote::ask(&dir, "/brake").await?
    } else {
        let ledger_dir = dir.join("ledger");
        if ledger_dir.is_dir() {
            match tokio::task::spawn_blocking(move || Ledger::open(&ledger_dir).and_then(|l| l.current_halt())).await? {
                Ok(h) => h,
                Err(LedgerError::Locked { .. }) => None,
                Err(e) => return Err(e.into()),
            }
        } else {
            None
        }
    };
    if args.format == PlanFormat::Json {
        // The headroom and what is left per strategy, worked out as the table does.
        let headroom = report.as_ref().map(|r| {
            serde_json::json!({
                "per_minute": r.rate_limit_per_minute,
                "sent_last_minute": r.rate_limit_sent_last_minute,
                "left": r.rate_limit_per_minute.saturating_sub(r.rate_limit_sent_last_minute),
                "background_per_minute": r.rate_limit_background_per_minute,
                "background_sent_last_minute": r.rate_limit_background_sent_last_minute,
                "background_left": r.rate_limit_background_per_minute.saturating_sub(r.rate_limit_background_sent_last_minute),
            })
        });
        let strategies: Vec<serde_json::Value> = report
            .iter()
            .flat_map(|r| &r.strategies)
            .map(|s| {
                let mut v = serde_json::to_value(s).unwrap_or_default();
                v["left"] = serde_json::json!(s.left());
                v
            })
            .collect();
        let v = serde_json::json!({
            "running": bot.is_some(),
            "pid": bot,
            "ledger_held_by_dashboard": served_by_dashboard,
            "halt": halt,
            "rate_limit": headroom,
            "strategies": strategies,
            "last_report": report
        });
        out!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    match (bot, served_by_dashboard) {
        (Some(pid), _) => out!("running     yes (pid {pid})"),
        (None, Some(pid)) => out!("running     no: `skinbot dashboard` (pid {pid}) holds the ledger and buys nothing"),
        (None, None) => out!(
            "running     no{}",
            report
                .as_ref()
                .and_then(|r| r.written_at)
                .map(|t| format!(" (last seen {})", t.format("%Y-%m-%d %H:%M:%S UTC")))
                .unwrap_or_default()
        ),
    }
    match &halt {
        Some(h) => out!(
            "buying      HALTED: {} ({}, by {} at {}); `skinbot resume` to go on",
            h.reason,
            h.kind,
            h.by,
            h.at.format("%Y-%m-%d %H:%M:%S UTC")
        ),
        None => match report.as_ref().and_then(|r| r.paused.clone()) {
            Some(p) => out!("buying      paused: {p}"),
            None => out!("buying      on"),
        },
    }
    let Some(r) = report else {
        out!("(no status.json in {} yet: the bot writes it after every tick)", dir.display());
        return Ok(());
    };
    out!("mode        {}", r.mode);
    let age = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| format!(" ({} s ago)", (chrono::Utc::now() - t).num_seconds())).unwrap_or_default()
    };
    out!("balance     {}{}", r.balance.as_deref().unwrap_or("unknown"), age(r.balance_at));
    for w in &r.windows {
        out!("{:<11} {} used of {} ({} left; spent or reserved)", w.name, w.used, w.limit_text(), w.left_text());
    }
    for st in &r.strategies {
        let of = |used: u32, limit: Option<u32>, what: &str| {
            limit.map(|l| format!("{used} of {l} {what} ({} left)", l.saturating_sub(used)))
        };
        let counts: Vec<String> =
            [of(st.day, st.per_day, "today"), of(st.total, st.total_limit, "in all")].into_iter().flatten().collect();
        out!(
            "strategy    {}: purchases {}; {} spent or reserved today",
            st.strategy,
            counts.join(", "),
            st.spent_today
        );
    }
    let open: Vec<String> = r.open.iter().map(|(k, n)| format!("{k} {n}")).collect();
    out!("open        {}", if open.is_empty() { "none".into() } else { open.join(", ") });
    out!(
        "rate limit  {} of {}/min used in the last minute ({} left); background {} of {}/min ({} left){}",
        r.rate_limit_sent_last_minute,
        r.rate_limit_per_minute,
        r.rate_limit_per_minute.saturating_sub(r.rate_limit_sent_last_minute),
        r.rate_limit_background_sent_last_minute,
        r.rate_limit_background_per_minute,
        r.rate_limit_background_per_minute.saturating_sub(r.rate_limit_background_sent_last_minute),
        if r.rate_limited { "; backing off after -7" } else { "" }
    );
    if let Some(t) = &r.last_tick {
        let refused: Vec<String> = t.refused.iter().map(|(k, n)| format!("{k} {n}")).collect();
        out!(
            "last tick   {}{}: {} listings, {} candidates, {} approved, refused {}; {} exchange errors since start",
            t.game,
            age(t.at),
            t.listings,
            t.candidates,
            t.approved,
            if refused.is_empty() { "none".into() } else { refused.join(", ") },
            t.api_errors_total
        );
    }
    Ok(())
}
