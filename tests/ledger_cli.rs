//! `skinbot ledger` on a fixed ledger: golden output for every subcommand and format, and the same
//! commands while a bot holds the ledger (read through its endpoint).

use std::path::Path;
use std::process::Command;

use chrono::{TimeZone, Utc};
use rust_decimal_macros::dec;
use skinbot::domain::{BuyId, Candidate, Game, Intent, ItemId, OfferStatus, PurchaseRecord, PurchaseState, Rates, Usd};
use skinbot::ledger::Ledger;

/// Three purchases on 2026-11-26: a Redline delivered, a case whose offer was canceled (refunded),
/// a knife the exchange did not have.
pub(crate) fn fixed_ledger(state: &Path) -> Ledger {
    let ledger = Ledger::open(&state.join("ledger")).unwrap();
    let mut rates = Rates::new();
    rates.insert("eur".parse().unwrap(), dec!(0.5)).unwrap();
    let items = [
        ("shopping-list", "rifles", "AK-47 | Redline (Field-Tested)", dec!(12.40), 10),
        ("restock", "cases", "Recoil Case", dec!(0.31), 11),
        ("sniper", "knives", "★ Karambit | Doppler (Factory New)", dec!(400), 12),
    ];
    for (i, (strategy, rule, name, price, hour)) in items.into_iter().enumerate() {
        let at = Utc.with_ymd_and_hms(2026, 11, 26, hour, 0, 0).unwrap();
        let candidate = Candidate {
            strategy: strategy.into(),
            rule: rule.into(),
            priority: 0,
            game: Game::Cs2,
            name: name.into(),
            item_id: Some(ItemId::new(100 + i as u64)),
            price_seen: Usd::new(price),
            max_price: Usd::new(price),
        };
        let intent = Intent { custom_id: ledger.next_custom_id(at).unwrap(), candidate };
        let id = intent.custom_id.clone();
        let mut record = PurchaseRecord::new(intent, at, rates.clone(), "c0ffee".into());
        record.recipient = Some("main".into());
        ledger.record_intents(&[record]).unwrap();
        let later = at + chrono::Duration::minutes(1);
        let bought = |offer| PurchaseState::Bought {
            buy_id: BuyId::new(900 + i as u64),
            item_id: ItemId::new(100 + i as u64),
            debited: Usd::new(price),
            offer,
            tradeofferid: Some(format!("70{i}")),
        };
        match i {
            0 => {
                ledger.transition(&id, bought(OfferStatus::CreatingTrade), later, "bought").unwrap();
                ledger
                    .transition(
                        &id,
                        bought(OfferStatus::Accepted),
                        later + chrono::Duration::minutes(5),
                        "offer accepted",
                    )
                    .unwrap();
            }
            1 => {
                ledger.transition(&id, bought(OfferStatus::CreatingTrade), later, "bought").unwrap();
                ledger
                    .transition(
                        &id,
                        bought(OfferStatus::Canceled),
                        later + chrono::Duration::minutes(5),
                        "offer canceled",
                    )
                    .unwrap();
            }
            _ => {
                ledger
                    .transition(
                        &id,
                        PurchaseState::NotBought { code: 5, reason: "skin_unavailable".into() },
                        later,
                        "rejected",
                    )
                    .unwrap();
            }
        }
    }
    ledger
}

fn ledger_cmd(state: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_skinbot"))
        .args(["ledger"])
        .args(args)
        .args(["--state-dir", state.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

const LIST: &str = "\
time (UTC)           custom_id                   strategy/rule         item                                    price seen         max    debited  state       recipient
2026-11-26 12:00:00  sb-20261126T120000Z-000001  sniper/knives         cs2 ★ Karambit | Doppler (Factory New)  400.00 USD  400.00 USD          -  not_bought  main
2026-11-26 11:00:00  sb-20261126T110000Z-000001  restock/cases         cs2 Recoil Case                           0.31 USD    0.31 USD   0.31 USD  canceled    main
2026-11-26 10:00:00  sb-20261126T100000Z-000001  shopping-list/rifles  cs2 AK-47 | Redline (Field-Tested)       12.40 USD   12.40 USD  12.40 USD  accepted    main
";

const SUMMARY_EUR: &str = "\
day         count     spent  refunded       net  avg price  delivered  failed  rolled back  pending  not bought
2026-11-26      3  6.36 EUR  0.16 EUR  6.20 EUR   3.18 EUR          1       1            0        0           1
spent: every debit; refunded: debits of offers that failed before delivery; net = spent − refunded
";

const SHOW: &str = "\
purchase   sb-20261126T100000Z-000001
created    2026-11-26 10:00:00.000 UTC
strategy   shopping-list / rule rifles (priority 0)
item       cs2 AK-47 | Redline (Field-Tested) (listing 100)
price seen 12.40 USD; max_price sent 12.40 USD
recipient  main
state      accepted: bought, buy_id 900, listing 100, debited 12.40 USD
trade offer 700
rates      EUR 0.5 (per 1 USD, when decided)
config     c0ffee
history
  2026-11-26 10:00:00.000  pending              reserved 12.40 USD
  2026-11-26 10:01:00.000  creating_trade       bought
  2026-11-26 10:06:00.000  accepted             offer accepted
";

#[test]
fn every_ledger_subcommand_prints_what_the_golden_output_says() {
    let state = tempfile::tempdir().unwrap();
    drop(fixed_ledger(state.path()));
    let s = state.path();
    assert_eq!(ledger_cmd(s, &["list"]), LIST);
    assert_eq!(ledger_cmd(s, &["summary", "--currency", "eur"]), SUMMARY_EUR);
    assert_eq!(ledger_cmd(s, &["show", "sb-20261126T100000Z-000001"]), SHOW);
    assert_eq!(ledger_cmd(s, &["show", "900"]), SHOW, "found by buy_id too");
    // Filters narrow it.
    let only_cases = ledger_cmd(s, &["list", "--item", "*case", "--format", "ndjson"]);
    assert_eq!(only_cases.lines().count(), 1);
    assert!(only_cases.contains("Recoil Case"));
    assert_eq!(
        ledger_cmd(s, &["list", "--state", "bought", "--oldest-first", "--limit", "1", "--format", "csv"])
            .lines()
            .count(),
        2
    );
    assert_eq!(ledger_cmd(s, &["list", "--min", "1", "--max", "100", "--format", "ndjson"]).lines().count(), 1);
    assert_eq!(
        ledger_cmd(
            s,
            &["list", "--since", "2026-11-26T10:30:00Z", "--until", "2026-11-26T11:30:00Z", "--format", "ndjson"]
        )
        .lines()
        .count(),
        1
    );
    // JSON is the records themselves.
    let json: Vec<PurchaseRecord> = serde_json::from_str(&ledger_cmd(s, &["list", "--format", "json"])).unwrap();
    assert_eq!(json.len(), 3);
    // The export has the documented columns, one row per purchase.
    let csv = ledger_cmd(s, &["export", "--format", "csv"]);
    let mut lines = csv.lines();
    assert_eq!(lines.next().unwrap(), skinbot::ledger::query::EXPORT_COLUMNS.join(","));
    assert_eq!(lines.count(), 3);
    let summary: serde_json::Value =
        serde_json::from_str(&ledger_cmd(s, &["summary", "--by", "strategy", "--format", "json"])).unwrap();
    assert_eq!(summary.as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn the_ledger_commands_work_while_a_bot_holds_the_ledger() {
    let state = tempfile::tempdir().unwrap();
    let ledger = fixed_ledger(state.path());
    let (_stop, rx) = tokio::sync::watch::channel(false);
    let _endpoint = skinbot::ledger::remote::serve(ledger, state.path(), rx).await.unwrap();
    let dir = state.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        assert_eq!(ledger_cmd(&dir, &["list"]), LIST);
        assert_eq!(ledger_cmd(&dir, &["summary", "--currency", "eur"]), SUMMARY_EUR);
        assert_eq!(ledger_cmd(&dir, &["show", "900"]), SHOW);
        assert_eq!(ledger_cmd(&dir, &["export", "--format", "ndjson"]).lines().count(), 3);
        assert!(ledger_cmd(&dir, &["verify"]).contains("hash chain intact"));
    })
    .await
    .unwrap();
}

/// A value the ledger commands cannot use is a usage error (exit code 2, clap's message naming the
/// flag), checked before any ledger is read; a mistyped `--state` is one too, rather than a filter
/// that silently matches nothing.
#[test]
fn a_bad_filter_value_is_a_usage_error_naming_its_flag() {
    let state = tempfile::tempdir().unwrap();
    drop(fixed_ledger(state.path()));
    let s = state.path().to_str().unwrap();
    for (args, flag) in [
        (&["ledger", "list", "--since", "yesterday"][..], "--since"),
        (&["ledger", "list", "--until", "2026-13-01"][..], "--until"),
        (&["ledger", "list", "--min", "abc"][..], "--min"),
        (&["ledger", "list", "--max", "1,5"][..], "--max"),
        (&["ledger", "list", "--state", "acepted"][..], "--state"),
        (&["ledger", "list", "--item", "["][..], "--item"),
        (&["ledger", "summary", "--tz", "Mars/Olympus"][..], "--tz"),
        (&["ledger", "summary", "--currency", "xyz"][..], "--currency"),
        (&["ledger", "summary", "--since", "soon"][..], "--since"),
        (&["status", "--format", "csv"][..], "--format"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_skinbot")).args(args).args(["--state-dir", s]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("invalid value") && stderr.contains(flag), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?} printed something");
    }
    // The valid forms still filter.
    assert_eq!(ledger_cmd(state.path(), &["list", "--state", "accepted", "--format", "ndjson"]).lines().count(), 1);
    assert_eq!(ledger_cmd(state.path(), &["list", "--state", "not_bought", "--format", "ndjson"]).lines().count(), 1);
}
