//! `skinbot ledger`: review the purchases in the ledger and check its hash chain.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::domain::{PurchaseRecord, PurchaseState};
use crate::ledger::{remote, Ledger, LedgerError};

#[derive(Debug, clap::Args)]
pub struct LedgerArgs {
    /// The bot's state directory; the ledger is its `ledger` subdirectory.
    #[arg(long, default_value = "state", global = true)]
    state_dir: PathBuf,
    /// A dry run's ledger (`<state>/ledger-dry-run`): simulated purchases.
    #[arg(long, global = true)]
    dry_run: bool,
    #[command(subcommand)]
    cmd: LedgerCmd,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum LedgerCmd {
    /// One line per purchase, oldest first: time (UTC), custom_id, strategy/rule, item, price seen,
    /// max price, debited, state.
    List,
    /// Check the hash chain of the event log and that every purchase matches its history.
    Verify,
}

pub async fn run(args: LedgerArgs) -> anyhow::Result<()> {
    let dir = args.state_dir.join(if args.dry_run { "ledger-dry-run" } else { "ledger" });
    // sled is blocking I/O; keep it off the async workers.
    let cmd = args.cmd.clone();
    let local =
        tokio::task::spawn_blocking(move || run_blocking(&dir, &cmd)).await.context("the ledger task failed")?;
    match local {
        // The bot is running and holds the database: ask it instead.
        Err(e) if matches!(e.downcast_ref::<LedgerError>(), Some(LedgerError::Locked { .. })) => {
            run_remote(&args.state_dir, &args.cmd).await
        }
        other => other,
    }
}

async fn run_remote(state_dir: &Path, cmd: &LedgerCmd) -> anyhow::Result<()> {
    match cmd {
        LedgerCmd::List => {
            let records: Vec<PurchaseRecord> = remote::ask(state_dir, "/ledger/records").await?;
            for line in format_list(&records) {
                out!("{line}");
            }
        }
        LedgerCmd::Verify => {
            let r: remote::ChainReport = remote::ask(state_dir, "/ledger/verify").await?;
            out!(
                "ledger at {} (read through the running skinbot): {} events, hash chain intact, head {}",
                state_dir.join("ledger").display(),
                r.events,
                r.head
            );
        }
    }
    Ok(())
}

fn run_blocking(dir: &Path, cmd: &LedgerCmd) -> anyhow::Result<()> {
    // Opening creates a database; a review command must not create an empty ledger somewhere by mistake.
    if !dir.is_dir() {
        anyhow::bail!("no ledger at {} (wrong --state-dir, or nothing recorded yet)", dir.display());
    }
    let ledger = Ledger::open(dir)?;
    if ledger.identity()?.is_some_and(|i| i.starts_with(super::run::DRY_RUN)) {
        eprintln!("SIMULATED: this is a dry run's ledger; nothing in it was bought");
    }
    match cmd {
        LedgerCmd::List => {
            let records = ledger.list().context("failed to read the purchases")?;
            for line in format_list(&records) {
                out!("{line}");
            }
        }
        LedgerCmd::Verify => {
            let events = ledger.verify_chain()?;
            let (_, head) = ledger.chain_head()?;
            out!("ledger at {}: {events} events, hash chain intact, head {head}", ledger.dir());
        }
    }
    Ok(())
}

/// The `list` table: a header, then one aligned line per record.
pub fn format_list(records: &[PurchaseRecord]) -> Vec<String> {
    let header = ["time (UTC)", "custom_id", "strategy/rule", "item", "price seen", "max", "debited", "state"];
    let mut rows = vec![header.map(String::from)];
    for r in records {
        let debited = match &r.state {
            PurchaseState::Bought { debited, .. } => debited.to_string(),
            _ => "-".to_string(),
        };
        rows.push([
            r.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            r.intent.custom_id.to_string(),
            format!("{}/{}", r.intent.strategy, r.intent.rule),
            format!("{} {}", r.intent.game, r.intent.name),
            r.intent.price_seen.to_string(),
            r.intent.max_price.to_string(),
            debited,
            r.state.label().to_string(),
        ]);
    }
    let mut widths = [0usize; 8];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    rows.iter()
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .zip(widths)
                .enumerate()
                // Amounts right-aligned so the decimal points line up; text left-aligned.
                .map(|(i, (cell, w))| if (4..=6).contains(&i) { format!("{cell:>w$}") } else { format!("{cell:<w$}") })
                .collect();
            cells.join("  ").trim_end().to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{BuyId, Candidate, Game, Intent, ItemId, OfferStatus, Rates, Usd};
    use chrono::{TimeZone, Utc};
    use rust_decimal_macros::dec;

    #[test]
    fn list_lines_show_amounts_with_their_currency() {
        let intent = Intent {
            custom_id: "sb-20261126T234100Z-000042".parse().unwrap(),
            candidate: Candidate {
                strategy: "sniper".into(),
                rule: "cheap-ak".into(),
                priority: 0,
                game: Game::Cs2,
                name: "AK-47 | Redline (Field-Tested)".into(),
                item_id: None,
                price_seen: Usd::new(dec!(12.5)),
                max_price: Usd::new(dec!(13)),
            },
        };
        let at = Utc.with_ymd_and_hms(2026, 11, 26, 23, 41, 0).unwrap();
        let mut record = PurchaseRecord::new(intent, at, Rates::new(), "h".into());
        let lines = format_list(std::slice::from_ref(&record));
        assert!(lines[1].ends_with("  -  pending"), "{}", lines[1]);
        let state = PurchaseState::Bought {
            buy_id: BuyId::new(1),
            item_id: ItemId::new(2),
            debited: Usd::new(dec!(12.4)),
            offer: OfferStatus::Accepted,
            tradeofferid: None,
        };
        record.transition(state, at, "");
        let lines = format_list(&[record]);
        assert_eq!(lines.len(), 2);
        let line = &lines[1];
        for part in [
            "2026-11-26 23:41:00",
            "sb-20261126T234100Z-000042",
            "sniper/cheap-ak",
            "cs2 AK-47 | Redline (Field-Tested)",
            "12.50 USD",
            "13.00 USD",
            "12.40 USD",
            "accepted",
        ] {
            assert!(line.contains(part), "{part} missing from {line}");
        }
    }
}
