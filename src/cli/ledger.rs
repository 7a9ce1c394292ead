//! `skinbot ledger`: review the purchases in the ledger and check its hash chain.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Utc};

use crate::domain::{CurrencyCode, PurchaseRecord, PurchaseState, Usd};
use crate::ledger::query::{self, Filter, GroupBy};
use crate::ledger::{remote, Ledger, LedgerError};

#[derive(Debug, clap::Args)]
pub struct LedgerArgs {
    #[command(flatten)]
    state: super::brake::StateArgs,
    /// A dry run's ledger (`<state>/ledger-dry-run`): simulated purchases.
    #[arg(long, global = true)]
    dry_run: bool,
    #[command(subcommand)]
    cmd: LedgerCmd,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub(crate) enum LedgerCmd {
    /// Purchases, newest first: time (UTC), custom_id, strategy/rule, item, price seen, max price
    /// sent, debited, state, recipient.
    List(ListArgs),
    /// One purchase, found by custom_id or buy_id: every field, every transition with its time, the
    /// rates and config hash in force, the trade offer id.
    Show {
        /// A custom_id (`sb-…`) or a buy_id (digits).
        id: String,
        /// `table` for a person; `json`, `ndjson` or `csv` (the export's columns) for a program.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Totals per day, week, item, strategy or rule: count, spent, refunded, net, average price;
    /// delivered, failed, rolled back, pending. Converted with the rates recorded at purchase time.
    Summary(SummaryArgs),
    /// Every purchase with every field, in stable columns (see the README).
    Export {
        /// `csv` (a header row, then one row per purchase) or `ndjson` (one object per line).
        #[arg(long, value_enum, default_value_t = ExportFormat::Csv)]
        format: ExportFormat,
        /// Write here instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check the hash chain of the event log and that every purchase matches its history.
    Verify,
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ListArgs {
    /// Created at or after: a duration back (30m, 24h, 7d), a date (2026-11-27) or an RFC 3339 time.
    #[arg(long, value_parser = parse_when)]
    since: Option<DateTime<Utc>>,
    /// Created before (same forms as --since).
    #[arg(long, value_parser = parse_when)]
    until: Option<DateTime<Utc>>,
    /// A glob over the item name (`"*Case"`, case-insensitive).
    #[arg(long, value_parser = parse_item_glob)]
    item: Option<globset::GlobSet>,
    /// A strategy's name (exactly).
    #[arg(long)]
    strategy: Option<String>,
    /// A rule's name (exactly).
    #[arg(long)]
    rule: Option<String>,
    /// A state (`pending`, `sent`, `unknown`, `not_bought`, an offer status like `accepted`), or
    /// `open` / `bought`.
    #[arg(long, value_parser = parse_state)]
    state: Option<String>,
    /// Price seen at least (USD).
    #[arg(long, value_parser = parse_usd)]
    min: Option<Usd>,
    /// Price seen at most (USD).
    #[arg(long, value_parser = parse_usd)]
    max: Option<Usd>,
    /// At most this many.
    #[arg(long)]
    limit: Option<usize>,
    /// Oldest first (default: newest first).
    #[arg(long)]
    oldest_first: bool,
    /// `table` for a person; `json`, `ndjson` or `csv` (the export's columns) for a program.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct SummaryArgs {
    /// One row per day or week (in --tz), item, strategy or rule.
    #[arg(long, value_enum, default_value_t = GroupBy::Day)]
    by: GroupBy,
    /// The timezone days and weeks begin in (IANA name; default UTC).
    #[arg(long, default_value = "UTC", value_parser = parse_tz)]
    tz: chrono_tz::Tz,
    /// The currency amounts are shown in (any the API lists).
    #[arg(long, default_value = "usd", value_parser = parse_currency)]
    currency: CurrencyCode,
    /// Only purchases created since (as `list --since`).
    #[arg(long, value_parser = parse_when)]
    since: Option<DateTime<Utc>>,
    /// `table` for a person; `json`, `ndjson` or `csv` for a program.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Ndjson,
    Csv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ExportFormat {
    Csv,
    Ndjson,
}

pub async fn run(args: LedgerArgs) -> anyhow::Result<()> {
    let state_dir = args.state.dir()?;
    let dir = state_dir.join(if args.dry_run { "ledger-dry-run" } else { "ledger" });
    if !dir.is_dir() {
        anyhow::bail!("no ledger at {} (wrong --state-dir or --config, or nothing recorded yet)", dir.display());
    }
    // sled is blocking I/O; keep it off the async workers.
    let read = {
        let dir = dir.clone();
        let verify = matches!(args.cmd, LedgerCmd::Verify);
        tokio::task::spawn_blocking(move || read_local(&dir, verify)).await.context("the ledger task failed")?
    };
    let (records, chain, identity) = match read {
        Ok(r) => r,
        // The bot is running and holds the database: ask it instead.
        Err(e) if matches!(e.downcast_ref::<LedgerError>(), Some(LedgerError::Locked { .. })) => {
            let records: Vec<PurchaseRecord> = remote::ask(&state_dir, "/ledger/records").await?;
            let chain = match args.cmd {
                LedgerCmd::Verify => {
                    let r: remote::ChainReport = remote::ask(&state_dir, "/ledger/verify").await?;
                    Some(Ok((r.events, r.head)))
                }
                _ => None,
            };
            (records, chain, None)
        }
        Err(e) => return Err(e),
    };
    if args.dry_run || identity.as_deref().is_some_and(|i| i.starts_with(super::run::DRY_RUN)) {
        eprintln!("SIMULATED: this is a dry run's ledger; nothing in it was bought");
    }
    match args.cmd {
        LedgerCmd::List(a) => list(&records, &a),
        LedgerCmd::Show { id, format } => show(&records, &id, format),
        LedgerCmd::Summary(a) => summary(&records, &a),
        LedgerCmd::Export { format, out } => export(&records, format, out.as_deref()),
        LedgerCmd::Verify => match chain {
            Some(Ok((events, head))) => {
                out!("ledger at {}: {events} events, hash chain intact, head {head}", dir.display());
                Ok(())
            }
            Some(Err(e)) => Err(e),
            None => Err(anyhow::anyhow!("the chain was not checked")),
        },
    }
}

type ChainCheck = Option<anyhow::Result<(u64, String)>>;

/// Every record, the chain check (for `verify`; done here, where the database is open) and the
/// ledger's identity.
fn read_local(dir: &Path, verify: bool) -> anyhow::Result<(Vec<PurchaseRecord>, ChainCheck, Option<String>)> {
    let ledger = Ledger::open(dir)?;
    let records = ledger.list().context("failed to read the purchases")?;
    let chain = verify.then(|| {
        ledger.verify_chain().map_err(anyhow::Error::from).and_then(|events| {
            let (_, head) = ledger.chain_head()?;
            Ok((events, head))
        })
    });
    Ok((records, chain, ledger.identity()?))
}

/// `--since` / `--until`, checked by clap (a bad value is a usage error, exit code 2).
fn parse_when(text: &str) -> Result<DateTime<Utc>, String> {
    query::parse_time(text, Utc::now())
}

fn parse_item_glob(text: &str) -> Result<globset::GlobSet, String> {
    query::item_glob(text)
}

fn parse_usd(text: &str) -> Result<Usd, String> {
    Usd::parse(text).map_err(|e| e.to_string())
}

fn parse_tz(text: &str) -> Result<chrono_tz::Tz, String> {
    text.parse().map_err(|_| format!("`{text}` is not an IANA timezone (e.g. Europe/Berlin)"))
}

fn parse_currency(text: &str) -> Result<CurrencyCode, String> {
    text.parse().and_then(CurrencyCode::listed).map_err(|e| e.to_string())
}

/// `--state`: a lifecycle state, an offer status this build knows, `open` or `bought` (a typo
/// would otherwise match nothing and look like an empty ledger).
fn parse_state(text: &str) -> Result<String, String> {
    let known: Vec<&str> = ["open", "bought", "pending", "sent", "unknown", "not_bought"]
        .into_iter()
        .chain(crate::domain::OfferStatus::ALL_KNOWN.iter().map(|o| o.as_str()))
        .collect();
    if known.contains(&text) {
        Ok(text.to_string())
    } else {
        Err(format!("`{text}` is not a state; one of {}", known.join(", ")))
    }
}

fn list(records: &[PurchaseRecord], a: &ListArgs) -> anyhow::Result<()> {
    let filter = Filter {
        since: a.since,
        until: a.until,
        item: a.item.clone(),
        strategy: a.strategy.clone(),
        rule: a.rule.clone(),
        state: a.state.clone(),
        min: a.min,
        max: a.max,
    };
    let mut chosen: Vec<&PurchaseRecord> = records.iter().filter(|r| filter.matches(r)).collect();
    if !a.oldest_first {
        chosen.reverse();
    }
    chosen.truncate(a.limit.unwrap_or(usize::MAX));
    write_records(&chosen, a.format)
}

fn write_records(records: &[&PurchaseRecord], format: Format) -> anyhow::Result<()> {
    match format {
        Format::Table => {
            for line in format_list(records) {
                out!("{line}");
            }
        }
        Format::Json => out!("{}", serde_json::to_string_pretty(records)?),
        Format::Ndjson => {
            for r in records {
                out!("{}", serde_json::to_string(r)?);
            }
        }
        Format::Csv => {
            out!("{}", csv_line(query::EXPORT_COLUMNS.iter().map(|c| c.to_string())));
            for r in records {
                out!("{}", csv_line(query::export_row(r)));
            }
        }
    }
    Ok(())
}

fn show(records: &[PurchaseRecord], id: &str, format: Format) -> anyhow::Result<()> {
    let found = records.iter().find(|r| {
        r.intent.custom_id.as_str() == id
            || matches!(&r.state, PurchaseState::Bought { buy_id, .. } if buy_id.to_string() == id)
    });
    let Some(r) = found else { anyhow::bail!("no purchase with custom_id or buy_id `{id}`") };
    if format != Format::Table {
        return write_records(&[r], format);
    }
    let i = &r.intent;
    out!("purchase   {}", i.custom_id);
    out!("created    {} UTC", r.created_at.format("%Y-%m-%d %H:%M:%S%.3f"));
    out!("strategy   {} / rule {} (priority {})", i.strategy, i.rule, i.priority);
    out!("item       {} {}{}", i.game, i.name, i.item_id.map(|id| format!(" (listing {id})")).unwrap_or_default());
    out!("price seen {}; max_price sent {}", i.price_seen, i.max_price);
    out!("recipient  {}", r.recipient.as_deref().unwrap_or("-"));
    match &r.state {
        PurchaseState::Bought { buy_id, item_id, debited, offer, tradeofferid } => {
            out!("state      {offer}: bought, buy_id {buy_id}, listing {item_id}, debited {debited}");
            out!("trade offer {}", tradeofferid.as_deref().unwrap_or("- (not created yet)"));
        }
        other => out!("state      {}", other.label()),
    }
    let rates: Vec<String> = r.rates.iter().map(|(c, v)| format!("{c} {v}")).collect();
    out!("rates      {} (per 1 USD, when decided)", if rates.is_empty() { "-".into() } else { rates.join(", ") });
    out!("config     {}", r.config_hash);
    out!("history");
    for t in &r.transitions {
        out!("  {}  {:<20} {}", t.at.format("%Y-%m-%d %H:%M:%S%.3f"), t.state.as_str(), t.detail);
    }
    Ok(())
}

fn summary(records: &[PurchaseRecord], a: &SummaryArgs) -> anyhow::Result<()> {
    let (tz, currency, since) = (a.tz, a.currency.clone(), a.since);
    let chosen = records.iter().filter(|r| since.is_none_or(|s| r.created_at >= s));
    let (totals, unconverted) = query::summarize(chosen, a.by, tz, &currency);
    if !unconverted.is_empty() {
        eprintln!(
            "warning: {} purchases have no recorded {currency} rate; their money is left out (e.g. {})",
            unconverted.len(),
            unconverted[0]
        );
    }
    match a.format {
        Format::Json => out!("{}", serde_json::to_string_pretty(&totals)?),
        Format::Ndjson => {
            for t in &totals {
                out!("{}", serde_json::to_string(t)?);
            }
        }
        Format::Csv => {
            let head = [
                "key",
                "count",
                "bought",
                "spent",
                "refunded",
                "net",
                "average_price",
                "delivered",
                "failed",
                "rolled_back",
                "pending",
                "not_bought",
                "currency",
            ];
            out!("{}", csv_line(head.iter().map(|s| s.to_string())));
            for t in &totals {
                let avg = t.average_price.map(|a| a.to_string()).unwrap_or_default();
                out!(
                    "{}",
                    csv_line([
                        t.key.clone(),
                        t.count.to_string(),
                        t.bought.to_string(),
                        t.spent.to_string(),
                        t.refunded.to_string(),
                        t.net.to_string(),
                        avg,
                        t.delivered.to_string(),
                        t.failed.to_string(),
                        t.rolled_back.to_string(),
                        t.pending.to_string(),
                        t.not_bought.to_string(),
                        t.currency.clone()
                    ])
                );
            }
        }
        Format::Table => {
            let cur = currency.as_str().to_uppercase();
            let money = |d: rust_decimal::Decimal| {
                let d = d.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
                format!("{d:.2} {cur}")
            };
            let mut rows = vec![[
                "",
                "count",
                "spent",
                "refunded",
                "net",
                "avg price",
                "delivered",
                "failed",
                "rolled back",
                "pending",
                "not bought",
            ]
            .map(String::from)
            .to_vec()];
            rows[0][0] = format!("{:?}", a.by).to_lowercase();
            for t in &totals {
                rows.push(vec![
                    t.key.clone(),
                    t.count.to_string(),
                    money(t.spent),
                    money(t.refunded),
                    money(t.net),
                    t.average_price.map(money).unwrap_or_else(|| "-".into()),
                    t.delivered.to_string(),
                    t.failed.to_string(),
                    t.rolled_back.to_string(),
                    t.pending.to_string(),
                    t.not_bought.to_string(),
                ]);
            }
            for line in align(&rows, |i| i > 0) {
                out!("{line}");
            }
            out!("spent: every debit; refunded: debits of offers that failed before delivery; net = spent − refunded");
        }
    }
    Ok(())
}

fn export(records: &[PurchaseRecord], format: ExportFormat, out_file: Option<&Path>) -> anyhow::Result<()> {
    let mut text = String::new();
    match format {
        ExportFormat::Csv => {
            text.push_str(&csv_line(query::EXPORT_COLUMNS.iter().map(|c| c.to_string())));
            text.push('\n');
            for r in records {
                text.push_str(&csv_line(query::export_row(r)));
                text.push('\n');
            }
        }
        ExportFormat::Ndjson => {
            for r in records {
                let row: serde_json::Map<String, serde_json::Value> = query::EXPORT_COLUMNS
                    .iter()
                    .zip(query::export_row(r))
                    .map(|(k, v)| (k.to_string(), serde_json::Value::String(v)))
                    .collect();
                text.push_str(&serde_json::to_string(&row)?);
                text.push('\n');
            }
        }
    }
    match out_file {
        Some(p) => std::fs::write(p, text).with_context(|| format!("failed to write {}", p.display()))?,
        None => {
            use std::io::Write as _;
            if let Err(e) = std::io::stdout().lock().write_all(text.as_bytes()) {
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    return Err(e.into());
                }
            }
        }
    }
    Ok(())
}

/// One CSV line (RFC 4180 quoting where needed).
fn csv_line(cells: impl IntoIterator<Item = String>) -> String {
    cells
        .into_iter()
        .map(|c| if c.contains([',', '"', '\n', '\r']) { format!("\"{}\"", c.replace('"', "\"\"")) } else { c })
        .collect::<Vec<_>>()
        .join(",")
}

/// Aligned columns; `right(i)` right-aligns column i.
fn align(rows: &[Vec<String>], right: impl Fn(usize) -> bool) -> Vec<String> {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; n];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    rows.iter()
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(i, (cell, &w))| if right(i) { format!("{cell:>w$}") } else { format!("{cell:<w$}") })
                .collect();
            cells.join("  ").trim_end().to_string()
        })
        .collect()
}

/// The `list` table: a header, then one aligned line per record.
pub(crate) fn format_list(records: &[&PurchaseRecord]) -> Vec<String> {
    let header =
        ["time (UTC)", "custom_id", "strategy/rule", "item", "price seen", "max", "debited", "state", "recipient"];
    let mut rows = vec![header.map(String::from).to_vec()];
    for r in records {
        let debited = match &r.state {
            PurchaseState::Bought { debited, .. } => debited.to_string(),
            _ => "-".to_string(),
        };
        rows.push(vec![
            r.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            r.intent.custom_id.to_string(),
            format!("{}/{}", r.intent.strategy, r.intent.rule),
            format!("{} {}", r.intent.game, r.intent.name),
            r.intent.price_seen.to_string(),
            r.intent.max_price.to_string(),
            debited,
            r.state.label().to_string(),
            r.recipient.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    // Amounts right-aligned so the decimal points line up; text left-aligned.
    align(&rows, |i| (4..=6).contains(&i))
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
        let lines = format_list(&[&record]);
        assert!(lines[1].ends_with("  -  pending  -"), "{}", lines[1]);
        let state = PurchaseState::Bought {
            buy_id: BuyId::new(1),
            item_id: ItemId::new(2),
            debited: Usd::new(dec!(12.4)),
            offer: OfferStatus::Accepted,
            tradeofferid: None,
        };
        record.transition(state, at, "");
        let lines = format_list(&[&record]);
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
