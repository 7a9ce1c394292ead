//! `skinbot plan`: what the next tick would buy, rule by rule, on a fixed market — its table and
//! JSON, a refusal with its reason, no buy sent, the engine's next tick buying exactly what it
//! said, and a malformed strategy file refused with its file, line and field.

use std::process::Command;

use skinbot::cli::plan::render_table;
use skinbot::engine::plan::{plan, LedgerView, Plan};
use skinbot::ledger::{HaltEvent, Ledger};
use skinbot::sandbox::catalog::Format;
use skinbot::sandbox::{Catalog, OfferConfig, Sandbox};

use crate::engine::{bought_names, buy_requests, config, engine_with_config, strategy};
use crate::helpers::{client, sandbox_with};

const CATALOG: &str = "name,price,count
AK-47 | Redline (Field-Tested),4.00,1
AK-47 | Slate (Field-Tested),7.50,1
AK-47 | Asiimov (Field-Tested),30.00,1
AWP | Atheris (Field-Tested),3.00,1
★ Sport Gloves | Vice (Field-Tested),900.00,1
";

const STRATEGY: &str = r#"
name = "team"
priority = 20
[limits]
per_day = 5

[[rules]]
name = "rifles"
select = { globs = ["AK-47 | *"] }
max_price = "10 usd"
per_item_total = 1

[[rules]]
name = "gloves"
select = { kind = "gloves" }
max_price = "5 usd"

[[rules]]
name = "ghost"
select = { names = ["Not On This Market"] }
max_price = "1 usd"
"#;

/// A tight daily budget: the first rifle fits, the second does not.
const BUDGET: &str = "[budget]\nper_day = \"10 usd\"\n";

async fn market() -> Sandbox {
    sandbox_with(|c| {
        c.catalog = Catalog::parse(CATALOG, Format::Csv).unwrap();
        c.offers = OfferConfig::always_accept();
    })
    .await
}

async fn make_plan(sb: &Sandbox, ledger: &Ledger, halt: Option<HaltEvent>) -> Plan {
    let view = LedgerView { records: ledger.list().unwrap(), halt, history: Some(ledger) };
    let mut p = plan(&config(BUDGET), &strategy(STRATEGY), &client(sb), &view, chrono::Utc::now()).await;
    p.at = "2026-11-27T12:00:00Z".parse().unwrap();
    p
}

#[tokio::test]
async fn the_plan_shows_each_rule_its_matches_limit_and_verdicts_and_sends_nothing() {
    let sb = market().await;
    let ledger = Ledger::temporary().unwrap();
    let p = make_plan(&sb, &ledger, None).await;
    let table = render_table(&p).join("\n");
    let want = "\
plan at 2026-11-27 12:00:00 UTC (sandbox); nothing is sent
balance   1000.00 USD
hour      0.00 USD used of 200.00 USD (200.00 USD left; spent or reserved)
day       0.00 USD used of 10.00 USD (10.00 USD left; spent or reserved)

team / rifles  (cs2, priority 20)
  matched   3 names: AK-47 | Redline (Field-Tested), AK-47 | Slate (Field-Tested), AK-47 | Asiimov (Field-Tested)
  cheapest  4.00 USD at AK-47 | Redline (Field-Tested)
  limit     max 10.00 USD; per_item_total 1, strategy per_day 5
  would buy AK-47 | Redline (Field-Tested)  4.00 USD
  refused   AK-47 | Slate (Field-Tested)    7.50 USD  daily_budget: order 7.50 USD + 4.00 USD already today > daily budget 10.00 USD

team / gloves  (cs2, priority 20)
  matched   1 name: ★ Sport Gloves | Vice (Field-Tested)
  cheapest  900.00 USD at ★ Sport Gloves | Vice (Field-Tested)
  limit     max 5.00 USD; strategy per_day 5
  nothing   no listing at or under its limit

team / ghost  (cs2, priority 20)
  matched   0 names
  limit     max 1.00 USD; strategy per_day 5
  nothing   no listing on the market matches its select

total     1 would buy for 4.00 USD (max_price sent, what the budget reserves); 1 refused";
    assert_eq!(table, want, "\n--- got ---\n{table}\n--- want ---\n{want}");

    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(json["total"], "4.00 USD");
    assert_eq!((json["would_buy"].as_u64(), json["refused"].as_u64()), (Some(1), Some(1)));
    assert_eq!(
        json["windows"][1],
        serde_json::json!({"name": "day", "used": "0.00 USD", "limit": "10.00 USD", "left": "10.00 USD"})
    );
    let rifles = &json["rules"][0];
    assert_eq!(rifles["matched"], 3);
    assert_eq!(rifles["cheapest"], serde_json::json!({"name": "AK-47 | Redline (Field-Tested)", "price": "4.00 USD"}));
    assert_eq!(rifles["candidates"][0]["verdict"], "would buy");
    assert_eq!(rifles["candidates"][1]["verdict"], "refused");
    assert_eq!(rifles["candidates"][1]["reason_kind"], "daily_budget");
    assert!(rifles["candidates"][0]["listing"].is_u64());
    assert_eq!(json["rules"][2]["note"], "no listing on the market matches its select");

    // Nothing left for the exchange, nothing written to the ledger.
    assert_eq!(buy_requests(&sb), 0);
    assert!(ledger.list().unwrap().is_empty());
}

#[tokio::test]
async fn the_next_tick_buys_exactly_what_the_plan_said() {
    let sb = market().await;
    let ledger = Ledger::temporary().unwrap();
    let p = make_plan(&sb, &ledger, None).await;
    let mut would: Vec<String> = p
        .rules
        .iter()
        .flat_map(|r| &r.candidates)
        .filter(|c| c.verdict == "would buy")
        .map(|c| c.item.clone())
        .collect();
    would.sort();
    assert_eq!(would, vec!["AK-47 | Redline (Field-Tested)"]);

    let engine = engine_with_config(&sb, ledger.clone(), BUDGET, strategy(STRATEGY));
    engine.tick().await;
    assert_eq!(bought_names(&engine), would);
    assert_eq!(buy_requests(&sb), 1);
    let spent: skinbot::domain::Usd = sb.purchases().iter().map(|p| p.price).sum();
    assert_eq!(spent.to_string(), p.total);

    // Planned again on the ledger the tick wrote: the day's 4.00 USD is used, the Slate still does
    // not fit, the Redline is bought already (per_item_total 1).
    let again = make_plan(&sb, &ledger, None).await;
    assert_eq!(again.windows[1].used, "4.00 USD");
    assert_eq!(again.would_buy, 0);
    let reasons: Vec<&str> = again.rules[0].candidates.iter().filter_map(|c| c.reason_kind.as_deref()).collect();
    assert_eq!(reasons, vec!["daily_budget"]);
    assert_eq!(buy_requests(&sb), 1, "planning sent nothing");
}

#[tokio::test]
async fn a_halt_refuses_every_candidate_with_its_reason() {
    let sb = market().await;
    let ledger = Ledger::temporary().unwrap();
    let halt = HaltEvent {
        at: chrono::Utc::now(),
        halted: true,
        kind: "operator".into(),
        reason: "lunch".into(),
        by: "cli".into(),
    };
    let p = make_plan(&sb, &ledger, Some(halt)).await;
    assert!(p.stopped.as_deref().is_some_and(|s| s.starts_with("buying halted: lunch")), "{:?}", p.stopped);
    assert_eq!(p.would_buy, 0);
    let c = &p.rules[0].candidates;
    assert_eq!(c.len(), 2);
    assert!(c.iter().all(|c| c.reason_kind.as_deref() == Some("halted")), "{c:?}");
    assert!(c[0].reason.as_deref().is_some_and(|r| r.contains("lunch")));
    assert_eq!(p.total, "0.00 USD");
}

fn skinbot(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_skinbot"));
    c.current_dir(dir).env_remove("RUST_LOG");
    c
}

#[test]
fn a_malformed_strategy_file_is_refused_with_its_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("new.toml");
    std::fs::write(
        &bad,
        "name = \"new\"\n\n[[rules]]\nname = \"r\"\nselect = { names = [\"X\"] }\nmax_price = \"ten usd\"\n",
    )
    .unwrap();
    let out = skinbot(dir.path()).args(["plan", "--strategy"]).arg(&bad).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("new.toml:6"), "{stderr}");
    assert!(stderr.contains("max_price"), "{stderr}");
    assert!(out.stdout.is_empty(), "no plan on a bad file");
}

#[test]
fn plan_on_the_embedded_sandbox_prints_a_table_or_json() {
    let dir = tempfile::tempdir().unwrap();
    let strategies = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("strategies");
    let out = skinbot(dir.path()).args(["plan", "--strategy"]).arg(&strategies).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    for part in ["shopping-list / rifles for the team", "would buy", "total     ", "no ledger at state/ledger yet"] {
        assert!(text.contains(part), "{part} missing from:\n{text}");
    }
    let out = skinbot(dir.path()).args(["plan", "--format", "json", "--strategy"]).arg(&strategies).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["mode"], "sandbox");
    assert!(json["would_buy"].as_u64().is_some_and(|n| n > 0), "{json}");
    assert!(json["total"].as_str().is_some_and(|t| t.ends_with(" USD")));
    // Nothing was written: no ledger appears.
    assert!(!dir.path().join("state/ledger").exists());
}

const TWO_GAMES: &str = "name,price,count,game
AK-47 | Redline (Field-Tested),4.00,1,cs2
AK-47 | Slate (Field-Tested),7.50,1,cs2
Inscribed Fractal Horns of Insight,5.00,1,dota2
Genuine Weather Rain,2.00,1,dota2
";

const TWO_GAME_STRATEGY: &str = r#"
name = "both"
priority = 20

[[rules]]
name = "rifles"
select = { globs = ["AK-47 | *"] }
max_price = "10 usd"

[[rules]]
name = "dota"
select = { game = "dota2" }
max_price = "10 usd"
"#;

/// cs2 is decided first and takes 4.00 of the 10.00 USD day; dota2 then has 6.00 USD left, not 10.
const TWO_GAME_CONFIG: &str = "[budget]\nper_day = \"10 usd\"\n[orders]\ngames = [\"cs2\", \"dota2\"]\n";

#[tokio::test]
async fn with_two_games_the_second_is_planned_after_the_first_games_orders_as_the_tick_does() {
    let sb = sandbox_with(|c| {
        c.catalog = Catalog::parse(TWO_GAMES, Format::Csv).unwrap();
        c.offers = OfferConfig::always_accept();
    })
    .await;
    let ledger = Ledger::temporary().unwrap();
    let view = LedgerView { records: ledger.list().unwrap(), halt: None, history: Some(&ledger) };
    let config = config(TWO_GAME_CONFIG);
    let p = plan(&config, &strategy(TWO_GAME_STRATEGY), &client(&sb), &view, chrono::Utc::now()).await;
    let verdicts: Vec<(String, String, Option<String>)> = p
        .rules
        .iter()
        .flat_map(|r| &r.candidates)
        .map(|c| (c.item.clone(), c.verdict.clone(), c.reason_kind.clone()))
        .collect();
    let daily = Some("daily_budget".to_string());
    assert_eq!(
        verdicts,
        vec![
            ("AK-47 | Redline (Field-Tested)".into(), "would buy".into(), None),
            ("AK-47 | Slate (Field-Tested)".into(), "refused".into(), daily.clone()),
            ("Genuine Weather Rain".into(), "would buy".into(), None),
            ("Inscribed Fractal Horns of Insight".into(), "refused".into(), daily),
        ],
        "{:#?}",
        p.rules
    );
    let horns = p.rules.iter().flat_map(|r| &r.candidates).find(|c| c.item.starts_with("Inscribed")).unwrap();
    assert!(horns.reason.as_deref().is_some_and(|r| r.contains("+ 6.00 USD already today")), "{horns:?}");
    assert_eq!((p.would_buy, p.total.as_str()), (2, "6.00 USD"));

    // The next tick buys exactly that, game after game.
    let engine = engine_with_config(&sb, ledger.clone(), TWO_GAME_CONFIG, strategy(TWO_GAME_STRATEGY));
    engine.tick().await;
    assert_eq!(bought_names(&engine), vec!["AK-47 | Redline (Field-Tested)", "Genuine Weather Rain"]);
    assert_eq!(buy_requests(&sb), 2);
    let spent: skinbot::domain::Usd = sb.purchases().iter().map(|p| p.price).sum();
    assert_eq!(spent.to_string(), p.total);
}

/// A config for `skinbot plan --config` against `sb` over HTTP, its state in `dir/state`.
fn http_config(dir: &std::path::Path, sb: &Sandbox) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("strategies")).unwrap();
    std::fs::write(dir.join("strategies/team.toml"), STRATEGY).unwrap();
    std::fs::write(dir.join("secret.txt"), format!("{}\n", sb.secret())).unwrap();
    let path = dir.join("skinbot.toml");
    std::fs::write(
        &path,
        format!(
            "[exchange]\napi_url = \"{}\"\nshop_id = \"{}\"\nsecret_file = \"secret.txt\"\n\
             [trade_link]\npartner = \"123456789\"\ntoken = \"AbCd1234\"\n\
             [strategies]\ndir = \"strategies\"\n[state]\ndir = \"state\"\n",
            sb.api_url(),
            sb.shop_id()
        ),
    )
    .unwrap();
    path
}

#[tokio::test]
async fn plan_does_not_hold_the_ledger_while_it_waits_on_the_exchange() {
    use skinbot::sandbox::Faults;
    let sb = market().await;
    // The price list takes long to come: the plan is waiting on the network.
    sb.set_faults(Faults {
        hang_rate: 1.0,
        hang_for: std::time::Duration::from_secs(30),
        only_methods: vec!["market_pricelist".into()],
        ..Faults::none()
    });
    let dir = tempfile::tempdir().unwrap();
    let config = http_config(dir.path(), &sb);
    std::fs::create_dir(dir.path().join("state")).unwrap();
    let ledger_dir = dir.path().join("state/ledger");
    drop(Ledger::open(&ledger_dir).unwrap());
    let mut child = skinbot(dir.path())
        .args(["plan", "--config"])
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let arrived = sb.wait_for_arrival("market_pricelist", std::time::Duration::from_secs(20)).await;
    // Meanwhile the ledger is free for a `skinbot run` to open. (This process let go of it above; sled
    // releases its lock from a background thread shortly after, hence the bounded retry.)
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    let opened = loop {
        match Ledger::open(&ledger_dir) {
            Err(skinbot::ledger::LedgerError::Locked { .. }) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await
            }
            other => break other,
        }
    };
    let still_waiting = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(arrived.is_some(), "the plan asked for the price list");
    assert!(still_waiting, "the plan was still waiting on the price list");
    assert!(opened.is_ok(), "the ledger was locked while the plan waited on the network: {:?}", opened.err());
}

// Multi-threaded: the sandbox must answer while this thread waits on the `skinbot` child.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_refuses_a_ledger_of_another_exchange_and_plans_on_an_empty_one_where_run_would_start_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let strategies = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("strategies");
    // An embedded sandbox run leaves its ledger in state/ledger.
    let out =
        skinbot(dir.path()).args(["run", "--duration-secs", "2", "--strategy"]).arg(&strategies).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ledger_dir = dir.path().join("state/ledger");
    assert!(ledger_dir.is_dir());

    // The next `run` sets it aside and starts empty: so does the plan, and says so.
    let out = skinbot(dir.path()).args(["plan", "--format", "json", "--strategy"]).arg(&strategies).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let notes = json["notes"].to_string();
    assert!(notes.contains("is an earlier embedded sandbox's") && notes.contains("against an empty ledger"), "{notes}");
    assert!(notes.contains("sets it aside and starts with an empty market"), "one sentence, no run of spaces: {notes}");
    assert_eq!(json["windows"][1]["used"], "0.00 USD", "{json}");
    assert!(ledger_dir.is_dir(), "the plan set nothing aside");

    // A live configuration with the same state folder: refused, naming both exchanges.
    let sb = market().await;
    let config = http_config(dir.path(), &sb);
    let out = skinbot(dir.path()).args(["plan", "--config"]).arg(&config).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let want = format!("holds purchases made on embedded sandbox, not on {} shop {}", sb.api_url(), sb.shop_id());
    assert!(stderr.contains(&want), "{stderr}");
    assert!(out.stdout.is_empty(), "no plan on another exchange's ledger");
}

#[tokio::test]
async fn a_limit_without_a_usable_rate_is_shown_as_unknown_with_its_reason_not_as_no_limit() {
    use skinbot::sandbox::Faults;
    let sb = market().await;
    sb.set_faults(Faults { http_error_rate: 1.0, only_methods: vec!["currencies".into()], ..Faults::none() });
    let ledger = Ledger::temporary().unwrap();
    let view = LedgerView { records: Vec::new(), halt: None, history: Some(&ledger) };
    let config = config("[budget]\nper_day = \"10 eur\"\n");
    let p = plan(&config, &strategy(STRATEGY), &client(&sb), &view, chrono::Utc::now()).await;
    let day = &p.windows[1];
    assert_eq!(day.limit, None);
    let why = day.limit_unknown.as_deref().unwrap_or_default();
    assert!(why.starts_with("no usable EUR rate: the currency rates cannot be read"), "{day:?}");
    let table = render_table(&p).join("\n");
    assert!(table.contains("used of unknown (no usable EUR rate"), "{table}");
    assert!(!table.contains("no limit"), "{table}");
    assert_eq!(p.would_buy, 0, "the guard refuses every order meanwhile");
}
