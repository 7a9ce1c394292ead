//! The brakes: a halt from outside, automatic halts at their thresholds, the exchange's status,
//! price sanity. Each counts buy requests in the sandbox's request log.

use std::sync::Arc;
use std::time::Duration;

use rust_decimal_macros::dec;
use skinbot::domain::{Game, Usd};
use skinbot::engine::clock::TokioClock;
use skinbot::engine::{Deps, Engine};
use skinbot::ledger::Ledger;
use skinbot::sandbox::{Faults, OfferConfig, Sandbox};

use crate::engine::{buy_requests, config, example, strategy};
use crate::helpers::{client, sandbox_with, seed_history, ManualClock};

const CHEAP_CASES: &str = "[[rules]]\nselect = { names = [\"Recoil Case\"] }\nmax_price = \"1 usd\"\nper_day = 3\n";

fn engine_with(sb: &Sandbox, cfg: &str, rules: &str) -> Arc<Engine> {
    let deps = Deps { client: client(sb), ledger: Ledger::temporary().unwrap(), clock: Arc::new(TokioClock::new()) };
    Engine::new(Arc::new(config(cfg)), strategy(rules), deps)
}

fn skinbot(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_skinbot")).args(args).output().expect("skinbot runs")
}

#[tokio::test]
async fn a_halt_from_another_process_stops_the_next_order_of_a_running_bot_until_resumed() {
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    let state = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(&state.path().join("ledger")).unwrap();
    let (_stop, rx) = tokio::sync::watch::channel(false);
    let _endpoint = skinbot::ledger::remote::serve(ledger.clone(), state.path(), rx).await.unwrap();
    let deps = Deps { client: client(&sb), ledger, clock: Arc::new(TokioClock::new()) };
    let rules = "[[rules]]\nselect = { names = [\"Recoil Case\"] }\nmax_price = \"1 usd\"\nper_item_per_day = 1\n";
    let engine = Engine::new(Arc::new(config("")), strategy(rules), deps);
    let dir = state.path().to_str().unwrap().to_string();

    let out = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || skinbot(&["halt", "--state-dir", &dir, "--reason", "checking a new strategy"])
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("through the running bot"));
    engine.tick().await;
    assert_eq!(buy_requests(&sb), 0, "halted: no order left");
    assert!(engine.halted().unwrap().contains("checking a new strategy"));

    let out = tokio::task::spawn_blocking(move || skinbot(&["resume", "--state-dir", &dir])).await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    engine.tick().await;
    assert_eq!(buy_requests(&sb), 1, "resumed: it buys again");
    let history = engine.ledger().halt_history().unwrap();
    assert_eq!(history.len(), 2, "the halt and its reason stay in the ledger");
    assert_eq!(history[0].reason, "checking a new strategy");
}

#[test]
fn a_halt_without_a_running_bot_is_recorded_in_the_ledger() {
    let state = tempfile::tempdir().unwrap();
    drop(Ledger::open(&state.path().join("ledger")).unwrap());
    let dir = state.path().to_str().unwrap();
    let out = skinbot(&["halt", "--state-dir", dir, "--reason", "holiday"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ledger = Ledger::open(&state.path().join("ledger")).unwrap();
    assert_eq!(ledger.current_halt().unwrap().unwrap().reason, "holiday");
}

#[tokio::test]
async fn an_error_storm_halts_at_its_threshold_and_not_below() {
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    let engine = engine_with(&sb, "[halt]\nerrors = 3\nerrors_minutes = 5\n", CHEAP_CASES);
    engine.refresh_balance().await;
    sb.set_faults(Faults { http_error_rate: 1.0, only_methods: vec!["market_pricelist".into()], ..Faults::none() });
    engine.tick().await;
    engine.tick().await;
    assert_eq!(engine.halted(), None, "two errors: below the threshold");
    engine.tick().await;
    assert!(engine.halted().unwrap().contains("3 exchange errors within 5 min"), "{:?}", engine.halted());
    sb.set_faults(Faults::none());
    engine.tick().await;
    assert_eq!(buy_requests(&sb), 0);
}

async fn canceled_deliveries(threshold: u32) -> Arc<Engine> {
    let sb =
        sandbox_with(|c| c.offers = OfferConfig { p_accept: 0.0, p_cancel: 1.0, ..OfferConfig::always_accept() }).await;
    // The restock buys twelve cases; every offer is canceled.
    let engine =
        crate::engine::engine_for(&sb, &format!("[halt]\nfailed_deliveries = {threshold}\n"), example("restock.toml"));
    engine.tick().await;
    sb.advance(Duration::from_secs(3600));
    engine.poll().await;
    engine
}

#[tokio::test]
async fn failed_deliveries_in_a_row_halt_at_their_threshold_and_not_below() {
    assert_eq!(canceled_deliveries(13).await.halted(), None, "twelve failures, threshold thirteen");
    let halted = canceled_deliveries(12).await.halted().unwrap();
    assert!(halted.contains("12 deliveries failed in a row"), "{halted}");
}

#[tokio::test]
async fn spend_velocity_halts_before_the_order_that_would_cross_it() {
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    let fast = engine_with(&sb, "[halt]\nvelocity = \"0.50 usd\"\nvelocity_minutes = 10\n", CHEAP_CASES);
    fast.tick().await;
    assert_eq!(buy_requests(&sb), 0, "three cases at 0.31 USD would cross 0.50 USD in ten minutes");
    assert!(fast.halted().unwrap().contains("velocity"), "{:?}", fast.halted());
    let calm = engine_with(&sb, "[halt]\nvelocity = \"0.93 usd\"\n", CHEAP_CASES);
    calm.tick().await;
    assert_eq!(buy_requests(&sb), 1, "0.93 USD: not crossed");
    assert_eq!(calm.halted(), None);
}

#[tokio::test]
async fn the_exchange_saying_site_off_pauses_buying_and_its_return_resumes_it() {
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    let engine = engine_with(&sb, "", CHEAP_CASES);
    sb.set_faults(Faults { unavailable: Some("site_off".into()), ..Faults::none() });
    engine.check_status().await;
    engine.tick().await;
    assert_eq!(buy_requests(&sb), 0);
    assert_eq!(engine.halted(), None, "a pause is not a halt: it ends by itself");
    sb.set_faults(Faults::none());
    engine.check_status().await;
    engine.tick().await;
    assert_eq!(buy_requests(&sb), 1);
}

#[tokio::test]
async fn a_price_list_older_than_its_maximum_age_is_not_bought_from() {
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    // The bot's clock is an hour ahead of the exchange's: the list's last_update is an hour old.
    let clock = ManualClock::at(chrono::Utc::now() + chrono::Duration::hours(1));
    let deps = Deps { client: client(&sb), ledger: Ledger::temporary().unwrap(), clock: clock.clone() };
    let engine = Engine::new(Arc::new(config("[sanity]\npricelist_max_age_secs = 600\n")), strategy(CHEAP_CASES), deps);
    engine.tick().await;
    assert_eq!(buy_requests(&sb), 0);
    let engine = {
        let deps = Deps { client: client(&sb), ledger: Ledger::temporary().unwrap(), clock };
        Engine::new(Arc::new(config("[sanity]\npricelist_max_age_secs = 0\n")), strategy(CHEAP_CASES), deps)
    };
    engine.tick().await;
    assert_eq!(buy_requests(&sb), 1, "with the check off it buys");
}

#[tokio::test]
async fn a_price_far_below_the_recorded_median_is_refused_as_a_price_jump() {
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    let ledger = Ledger::temporary().unwrap();
    // The bot recorded Recoil Case at 2.00 USD for the last hour; it now lists at 0.31 USD.
    seed_history(&ledger, Game::Cs2, "Recoil Case", Usd::new(dec!(2.00)));
    let deps = Deps { client: client(&sb), ledger, clock: Arc::new(TokioClock::new()) };
    let engine = Engine::new(Arc::new(config("[sanity]\nprice_jump_factor = \"3\"\n")), strategy(CHEAP_CASES), deps);
    engine.tick().await;
    assert_eq!(buy_requests(&sb), 0);
    assert!(engine.stats.refusals().get("price_jump").copied().unwrap_or(0) > 0, "{:?}", engine.stats.refusals());
}

#[tokio::test]
async fn a_dry_run_decides_as_live_sends_no_buy_and_counts_its_simulated_fills() {
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    let balance_before = sb.balance();
    let rules = "[[rules]]\nselect = { names = [\"Recoil Case\"] }\nmax_price = \"1 usd\"\nper_item_total = 3\n";
    let engine = engine_with(&sb, "mode = \"dry-run\"\n[orders]\nbatch_size = 2\n", rules);
    engine.tick().await;
    engine.tick().await;
    assert_eq!(buy_requests(&sb), 0, "no market_buy or market_batch_buy reached the exchange");
    assert!(crate::helpers::requests_for(&sb, "market_pricelist") >= 2, "it read the real price list");
    assert!(sb.purchases().is_empty());
    assert_eq!(sb.balance(), balance_before);
    let records = engine.ledger().list().unwrap();
    assert_eq!(records.len(), 3, "the cap counts simulated fills: {records:?}");
    let ids: std::collections::HashSet<_> = records.iter().map(|r| r.intent.item_id).collect();
    assert_eq!(ids.len(), 3, "a simulated fill takes its listing");
    assert!(records.iter().all(|r| r.transitions.iter().any(|t| t.detail.contains("dry run: simulated"))));
}

#[test]
fn skinbot_run_dry_run_keeps_its_own_ledger_marked_as_simulated() {
    let state = tempfile::tempdir().unwrap();
    let cfg = state.path().join("dry.toml");
    let strategies = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("strategies");
    std::fs::write(
        &cfg,
        format!(
            "mode = \"dry-run\"\n[strategies]\ndir = \"{}\"\n[state]\ndir = \"{}\"\n[schedule]\npricelist = \"* * * * * *\"\n",
            strategies.display(),
            state.path().join("s").display()
        ),
    )
    .unwrap();
    let out = skinbot(&["run", "--config", cfg.to_str().unwrap(), "--duration-secs", "4"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!state.path().join("s/ledger").exists(), "a dry run never writes the live ledger");
    let ledger = Ledger::open(&state.path().join("s/ledger-dry-run")).unwrap();
    assert!(ledger.identity().unwrap().unwrap().starts_with("dry run (simulated purchases) on "));
    drop(ledger);
    let out = skinbot(&["ledger", "list", "--dry-run", "--state-dir", state.path().join("s").to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SIMULATED"));
}

const TWO_RECIPIENTS: &str = "[[recipients]]\nname = \"alice\"\npartner = \"111\"\ntoken = \"AliceTok1\"\n\
[[recipients]]\nname = \"bob\"\npartner = \"222\"\ntoken = \"BobToken2\"\n";

#[tokio::test]
async fn a_dead_recipient_is_paused_the_others_keep_receiving_and_the_last_one_halts() {
    use skinbot::domain::PurchaseState;
    // Bob's account cannot receive items: every offer to him ends invalid_trade_token.
    let sb = sandbox_with(|c| {
        c.offers = OfferConfig { dead_partners: vec!["222".into()], ..OfferConfig::always_accept() };
    })
    .await;
    let rules = "[[rules]]\nselect = { names = [\"Recoil Case\"] }\nmax_price = \"1 usd\"\nper_day = 2\n";
    let engine = engine_with(&sb, &format!("[orders]\nbatch_size = 1\n{TWO_RECIPIENTS}"), rules);
    engine.tick().await;
    let records = engine.ledger().list().unwrap();
    let to: Vec<_> = records.iter().map(|r| r.recipient.clone().unwrap()).collect();
    assert_eq!(to, vec!["alice", "bob"], "in rotation, and the ledger says who");
    sb.advance(Duration::from_secs(3600));
    engine.poll().await;
    let bob = engine.ledger().get(&records[1].intent.custom_id).unwrap().unwrap();
    assert!(matches!(&bob.state, PurchaseState::Bought { offer, .. } if offer.as_str() == "invalid_trade_token"));
    assert_eq!(engine.halted(), None, "Alice can still receive items");
    // The next day's orders all go to Alice.
    let more = "[[rules]]\nselect = { names = [\"Recoil Case\"] }\nmax_price = \"1 usd\"\nper_day = 5\n";
    engine.reload(config(&format!("[orders]\nbatch_size = 1\n{TWO_RECIPIENTS}")), strategy(more));
    engine.tick().await;
    let later: Vec<_> = engine.ledger().list().unwrap()[2..].iter().map(|r| r.recipient.clone().unwrap()).collect();
    assert_eq!(later, vec!["alice"; 3]);

    // With only dead recipients left, buying halts with that reason.
    let sb = sandbox_with(|c| {
        c.offers = OfferConfig { dead_partners: vec!["111".into(), "222".into()], ..OfferConfig::always_accept() };
    })
    .await;
    let last = engine_with(&sb, &format!("[orders]\nbatch_size = 1\n{TWO_RECIPIENTS}"), rules);
    last.tick().await;
    sb.advance(Duration::from_secs(3600));
    last.poll().await;
    let halted = last.halted().expect("halted");
    assert!(halted.contains("no recipient can receive items"), "{halted}");
}

#[tokio::test]
async fn a_strategy_sends_only_to_the_recipients_it_names_and_a_changed_link_is_tried_again() {
    let sb = sandbox_with(|c| {
        c.offers = OfferConfig { dead_partners: vec!["111".into()], ..OfferConfig::always_accept() };
    })
    .await;
    let rules = "recipients = [\"alice\"]\n[[rules]]\nselect = { names = [\"Recoil Case\"] }\nmax_price = \"1 usd\"\nper_day = 1\n";
    let engine = engine_with(&sb, TWO_RECIPIENTS, rules);
    engine.tick().await;
    sb.advance(Duration::from_secs(3600));
    engine.poll().await;
    assert!(engine.halted().is_none(), "Bob can still receive");
    // Alice is dead and the strategy sends only to her: nothing goes out.
    let more = rules.replace("per_day = 1", "per_day = 3");
    engine.reload(config(TWO_RECIPIENTS), strategy(&more));
    engine.tick().await;
    assert_eq!(engine.ledger().list().unwrap().len(), 1);
    // Her link is fixed in the config: she receives again.
    let fixed = TWO_RECIPIENTS.replace("partner = \"111\"", "partner = \"333\"");
    engine.reload(config(&fixed), strategy(&more));
    engine.tick().await;
    let records = engine.ledger().list().unwrap();
    assert!(records.len() > 1, "{records:?}");
    assert!(records.iter().all(|r| r.recipient.as_deref() == Some("alice")));
}
