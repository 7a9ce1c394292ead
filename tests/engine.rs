//! The engine against a sandbox: the example strategies, the guard's limits with proof that a
//! refused order sends nothing, batch and single buys in the ledger, unknown outcomes resolved.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use rust_decimal_macros::dec;
use skinbot::config::{Config, SecretSource};
use skinbot::domain::{Candidate, Game, OfferStatus, PurchaseState, Usd};
use skinbot::engine::clock::TokioClock;
use skinbot::engine::{Deps, Engine};
use skinbot::ledger::Ledger;
use skinbot::sandbox::{Faults, OfferConfig, Sandbox};
use skinbot::strategy::file::{load_all, Strategy};

use crate::helpers::{client, requests_for, sandbox_with, seed_history, ManualClock};

struct NoEnv;
impl SecretSource for NoEnv {
    fn var(&self, _: &str) -> Option<String> {
        None
    }
}

pub(crate) fn config(extra: &str) -> Config {
    Config::parse(Path::new("test.toml"), extra, &NoEnv).unwrap()
}

pub(crate) fn example(file: &str) -> Vec<Strategy> {
    load_all(&[Path::new(env!("CARGO_MANIFEST_DIR")).join("strategies").join(file)]).unwrap()
}

pub(crate) fn strategy(text: &str) -> Vec<Strategy> {
    vec![Strategy::parse(Path::new("inline.toml"), text).unwrap().unwrap()]
}

pub(crate) async fn setup(extra: &str, strategies: Vec<Strategy>) -> (Sandbox, Arc<Engine>) {
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    let engine = engine_for(&sb, extra, strategies);
    (sb, engine)
}

pub(crate) fn engine_for(sb: &Sandbox, extra: &str, strategies: Vec<Strategy>) -> Arc<Engine> {
    let deps = Deps { client: client(sb), ledger: Ledger::temporary().unwrap(), clock: Arc::new(TokioClock::new()) };
    Engine::new(Arc::new(config(extra)), strategies, deps)
}

pub(crate) fn engine_with_ledger(sb: &Sandbox, ledger: Ledger, strategies: Vec<Strategy>) -> Arc<Engine> {
    let deps = Deps { client: client(sb), ledger, clock: Arc::new(TokioClock::new()) };
    Engine::new(Arc::new(config("")), strategies, deps)
}

pub(crate) fn engine_with_config(sb: &Sandbox, ledger: Ledger, extra: &str, strategies: Vec<Strategy>) -> Arc<Engine> {
    let deps = Deps { client: client(sb), ledger, clock: Arc::new(TokioClock::new()) };
    Engine::new(Arc::new(config(extra)), strategies, deps)
}

pub(crate) fn buy_requests(sb: &Sandbox) -> usize {
    requests_for(sb, "market_buy") + requests_for(sb, "market_batch_buy")
}

pub(crate) fn bought_names(engine: &Engine) -> Vec<String> {
    let mut names: Vec<String> = engine
        .ledger()
        .list()
        .unwrap()
        .into_iter()
        .filter(|r| matches!(r.state, PurchaseState::Bought { .. }))
        .map(|r| r.intent.candidate.name)
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn the_shopping_list_buys_each_item_once_and_nothing_else() {
    let (sb, engine) = setup("", example("shopping-list.toml")).await;
    engine.tick().await;
    engine.tick().await;
    assert_eq!(
        bought_names(&engine),
        vec![
            "AK-47 | Redline (Field-Tested)",
            "AWP | Atheris (Field-Tested)",
            "M4A1-S | Basilisk (Field-Tested)",
            "Operation Breakout Weapon Case"
        ]
    );
    let mut sandbox_names: Vec<String> = sb.purchases().into_iter().map(|p| p.name).collect();
    sandbox_names.sort();
    assert_eq!(sandbox_names, bought_names(&engine));
    // Four orders in one tick travel as one batch.
    assert_eq!((requests_for(&sb, "market_batch_buy"), requests_for(&sb, "market_buy")), (1, 0));
}

#[tokio::test]
async fn restocking_keeps_n_of_each_and_replaces_failed_offers() {
    // Every offer of the first round is canceled by the user.
    let sb =
        sandbox_with(|c| c.offers = OfferConfig { p_accept: 0.0, p_cancel: 1.0, ..OfferConfig::always_accept() }).await;
    // Twelve failed deliveries in a row would halt buying: that brake has its own test.
    let engine = engine_for(&sb, "[orders]\nbatch_size = 5\n[halt]\nfailed_deliveries = 0\n", example("restock.toml"));
    engine.tick().await;
    let names = bought_names(&engine);
    assert_eq!(names.len(), 12, "{names:?}");
    for case in ["Fracture Case", "Kilowatt Case", "Recoil Case"] {
        assert_eq!(names.iter().filter(|n| *n == case).count(), 4, "{case}");
    }
    assert_eq!(requests_for(&sb, "market_batch_buy"), 3, "12 orders in chunks of 5");
    engine.tick().await;
    assert_eq!(bought_names(&engine).len(), 12, "stock is full while the offers are on their way");

    sb.set_offer_config(OfferConfig::always_accept());
    sb.advance(Duration::from_secs(3600));
    engine.poll().await;
    let failed = engine
        .ledger()
        .list()
        .unwrap()
        .into_iter()
        .filter(|r| matches!(&r.state, PurchaseState::Bought { offer, .. } if *offer == OfferStatus::Canceled))
        .count();
    assert_eq!(failed, 12, "every first-round offer was canceled and the ledger knows");
    engine.tick().await;
    assert_eq!(bought_names(&engine).len(), 24, "one replacement per failed offer");
    engine.tick().await;
    assert_eq!(bought_names(&engine).len(), 24, "and then no more");
}

#[tokio::test]
async fn the_discount_sniper_buys_only_well_under_the_recorded_median() {
    let (sb, engine) = setup("", strategy(
        "name = \"sniper\"\n[[rules]]\nname = \"ak\"\nselect = { base = \"AK-47\", finish = \"Slate\", wear = \"MW\" }\nmax_price = \"40 usd\"\ndiscount = { percent = \"10\", window_hours = 1 }\n",
    ))
    .await;
    let name = "AK-47 | Slate (Minimal Wear)"; // not in the shipped catalog: only our listings
    let first = sb.add_listing(name, Game::Cs2, Usd::new(dec!(4.60)));
    // No history yet: no reference price, no purchase.
    engine.tick().await;
    assert!(bought_names(&engine).is_empty());
    // The recorded history says 5.00 USD for the last hour (a test writes it directly).
    let ledger = Ledger::temporary().unwrap();
    seed_history(&ledger, Game::Cs2, name, Usd::new(dec!(5.00)));
    let engine = engine_with_ledger(&sb, ledger, strategy(
        "name = \"sniper\"\n[[rules]]\nname = \"ak\"\nselect = { base = \"AK-47\", finish = \"Slate\", wear = \"MW\" }\nmax_price = \"40 usd\"\ndiscount = { percent = \"10\", window_hours = 1 }\n",
    ));
    engine.tick().await;
    assert!(bought_names(&engine).is_empty(), "4.60 is only 8 % under the median");
    let cheap = sb.add_listing(name, Game::Cs2, Usd::new(dec!(4.40)));
    engine.tick().await;
    let ids: Vec<_> = engine.ledger().list().unwrap().iter().filter_map(|r| r.intent.item_id).collect();
    assert_eq!(ids, vec![cheap], "only the 12 % discount is bought, not {first}");
}

#[tokio::test]
async fn an_order_over_the_per_order_cap_is_refused_and_no_request_is_sent() {
    let (sb, engine) = setup("[budget]\nper_order = \"5 usd\"\n", example("shopping-list.toml")).await;
    engine.tick().await;
    assert_eq!(bought_names(&engine), vec!["AWP | Atheris (Field-Tested)", "Operation Breakout Weapon Case"]);
    assert_eq!(engine.stats.refusals().get("per_order_cap"), Some(&2));

    let (sb2, engine2) = setup("[budget]\nper_order = \"1 usd\"\n", example("shopping-list.toml")).await;
    engine2.tick().await;
    assert_eq!(buy_requests(&sb2), 0, "every order refused: not one buy request reached the exchange");
    assert!(engine2.ledger().list().unwrap().is_empty());
    drop(sb);
}

#[tokio::test]
async fn the_balance_floor_is_never_crossed() {
    let sb = sandbox_with(|c| {
        c.offers = OfferConfig::always_accept();
        c.balance = Usd::new(dec!(103.00));
    })
    .await;
    // The balance is fetched once (its age limit is an hour): the floor must hold on the debits
    // the bot counted itself, not on a fresh balance before every tick.
    let engine = engine_for(
        &sb,
        "[budget]\nbalance_floor = \"100 usd\"\nbalance_max_age_secs = 3600\n[orders]\nbatch_size = 2\n",
        example("restock.toml"),
    );
    for _ in 0..3 {
        engine.tick().await;
    }
    assert_eq!(requests_for(&sb, "balance"), 1, "one balance fetch for three ticks");
    assert!(sb.balance() >= Usd::new(dec!(100)), "balance {}", sb.balance());
    assert!(!bought_names(&engine).is_empty(), "it bought what fitted above the floor");
    assert!(engine.stats.refusals().get("balance_floor").copied().unwrap_or(0) > 0);
}

#[tokio::test]
async fn the_daily_budget_holds_across_ticks() {
    let (sb, engine) = setup("[budget]\nper_day = \"3 usd\"\nper_hour = \"100 usd\"\n", example("restock.toml")).await;
    for _ in 0..3 {
        engine.tick().await;
    }
    let spent: Usd = sb.purchases().iter().map(|p| p.debited).sum();
    assert!(spent <= Usd::new(dec!(3)), "spent {spent}");
    assert!(engine.stats.refusals().get("daily_budget").copied().unwrap_or(0) > 0);
}

#[tokio::test]
async fn a_single_order_goes_out_as_market_buy_and_lands_in_the_ledger() {
    let (sb, engine) = setup("", strategy(
        "[[rules]]\nselect = { names = \"AK-47 | Redline (Field-Tested)\" }\nmax_price = \"20\"\nper_item_total = 1\n",
    ))
    .await;
    engine.tick().await;
    assert_eq!((requests_for(&sb, "market_buy"), requests_for(&sb, "market_batch_buy")), (1, 0));
    let r = &engine.ledger().list().unwrap()[0];
    assert!(matches!(r.state, PurchaseState::Bought { .. }));
    assert_eq!(r.transitions.first().map(|t| t.state.as_str()), Some("pending"));
    assert_eq!(r.config_hash, engine.config().hash);
}

#[tokio::test]
async fn an_answer_lost_after_the_buy_is_resolved_by_custom_id_not_bought_again() {
    let (sb, engine) = setup("", strategy(
        "[[rules]]\nselect = { names = \"AK-47 | Redline (Field-Tested)\" }\nmax_price = \"20\"\nper_item_total = 1\n",
    ))
    .await;
    sb.set_faults(Faults { drop_after_commit_rate: 1.0, ..Faults::none() });
    engine.tick().await;
    let r = &engine.ledger().list().unwrap()[0];
    assert!(matches!(r.state, PurchaseState::Unknown { .. }), "{:?}", r.state);
    sb.set_faults(Faults::none());
    engine.tick().await;
    assert_eq!(buy_requests(&sb), 1, "an open outcome blocks a second buy of the same item");
    engine.poll().await;
    let r = &engine.ledger().list().unwrap()[0];
    assert!(matches!(r.state, PurchaseState::Bought { .. }), "{:?}", r.state);
    assert_eq!(sb.purchases().len(), 1);
}

#[tokio::test]
async fn a_lost_buy_the_exchange_never_saw_is_released_only_after_the_wait_and_a_history_search() {
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    let clock = ManualClock::new();
    let deps = Deps { client: client(&sb), ledger: Ledger::temporary().unwrap(), clock: clock.clone() };
    let rule =
        "[[rules]]\nselect = { names = \"AK-47 | Redline (Field-Tested)\" }\nmax_price = \"20\"\nper_item_total = 1\n";
    let engine = Engine::new(Arc::new(config("")), strategy(rule), deps);
    // A 500 before processing: the outcome is unknown to the bot, though nothing happened.
    sb.set_faults(Faults { http_error_rate: 1.0, only_methods: vec!["market_buy".into()], ..Faults::none() });
    engine.tick().await;
    assert!(matches!(engine.ledger().list().unwrap()[0].state, PurchaseState::Unknown { .. }));
    sb.set_faults(Faults::none());
    engine.poll().await;
    assert!(matches!(engine.ledger().list().unwrap()[0].state, PurchaseState::Unknown { .. }), "too early to release");
    assert_eq!(requests_for(&sb, "market_history"), 0);
    clock.advance(Duration::from_secs(61));
    engine.poll().await;
    assert!(matches!(engine.ledger().list().unwrap()[0].state, PurchaseState::NotBought { .. }));
    assert_eq!(requests_for(&sb, "market_history"), 1, "history was searched before releasing");
    assert!(sb.purchases().is_empty());
}

#[tokio::test]
async fn bad_credentials_halt_trading() {
    let sb = sandbox_with(|_| {}).await;
    let bad = crate::helpers::client_with(&sb, |c| c.secret = secrecy::SecretString::from("wrong".to_string()));
    let deps = Deps { client: bad, ledger: Ledger::temporary().unwrap(), clock: Arc::new(TokioClock::new()) };
    let engine = Engine::new(Arc::new(config("")), example("shopping-list.toml"), deps);
    engine.refresh_balance().await;
    assert!(engine.halted().is_some());
    engine.tick().await;
    assert_eq!(buy_requests(&sb), 0);
}

#[tokio::test]
async fn offers_are_followed_until_final() {
    let (sb, engine) = setup("", example("shopping-list.toml")).await;
    engine.tick().await;
    sb.advance(Duration::from_secs(3600));
    engine.poll().await;
    assert_eq!(engine.ledger().list().unwrap().len(), 4);
    for r in engine.ledger().list().unwrap() {
        match r.state {
            PurchaseState::Bought { offer, .. } => assert_eq!(offer, OfferStatus::Accepted),
            other => panic!("{other:?}"),
        }
        assert!(r.transitions.len() >= 3, "pending → bought → … recorded: {:?}", r.transitions);
    }
    assert!(engine.stats.api_errors.load(Ordering::Relaxed) == 0);
}

#[tokio::test(start_paused = true)]
async fn the_scheduler_runs_ticks_and_stops_cleanly_with_a_summary() {
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    let engine = engine_for(
        &sb,
        "[schedule]\npricelist = \"*/5 * * * * *\"\npoll = \"*/5 * * * * *\"\n",
        example("shopping-list.toml"),
    );
    let (tx, rx) = tokio::sync::watch::channel(false);
    let e2 = engine.clone();
    let run = tokio::spawn(async move { e2.run(rx).await });
    tokio::time::sleep(Duration::from_secs(21)).await;
    tx.send(true).unwrap();
    run.await.unwrap();
    let ticks = engine.stats.ticks.runs.load(Ordering::Relaxed);
    assert!((4..=5).contains(&ticks), "ticks {ticks}");
    assert_eq!(bought_names(&engine).len(), 4);
    assert!(skinbot::cli::summary::summary(&engine).contains("bought 4"));
}

#[tokio::test]
async fn the_example_discount_sniper_buys_one_rifle_under_its_median_and_nothing_else() {
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    let name = "AK-47 | Redline (Field-Tested)";
    let lowest = sb.listings_named(name).into_iter().map(|l| l.1).min().unwrap();
    // An hour in which the Redline cost 10 % more than its cheapest listing does now.
    let ledger = Ledger::temporary().unwrap();
    seed_history(&ledger, Game::Cs2, name, Usd::new(lowest.amount() * dec!(1.10)));
    let engine = engine_with_ledger(&sb, ledger, example("discount-sniper.toml"));
    engine.tick().await;
    engine.tick().await;
    // Every other rifle and knife has only the price just recorded as history: no discount.
    assert_eq!(bought_names(&engine), vec![name], "one a day of the item that is 4 % under its median");
    let r = &engine.ledger().list().unwrap()[0];
    assert_eq!(
        (r.intent.strategy.as_str(), r.intent.rule.as_str()),
        ("discount-sniper", "rifles 4% under their 1h median")
    );
}

#[tokio::test]
async fn pending_intents_left_by_a_crash_are_resolved_by_custom_id() {
    use skinbot::domain::{Intent, PurchaseRecord, Rates};
    use skinbot::exchange::{BuyOrder, BuyTarget};
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    let ledger = Ledger::temporary().unwrap();
    let now = chrono::Utc::now() - chrono::Duration::minutes(5);
    let intent = |cid: skinbot::domain::CustomId| Intent {
        custom_id: cid,
        candidate: Candidate {
            strategy: "shopping-list".into(),
            rule: "rifles for the team".into(),
            priority: 0,
            game: Game::Cs2,
            name: "AK-47 | Redline (Field-Tested)".into(),
            item_id: None,
            price_seen: Usd::new(dec!(11.87)),
            max_price: Usd::new(dec!(25)),
        },
    };
    // Two intents were flushed, then the process died: one request had reached the exchange, one had not.
    let sent = ledger.next_custom_id(now).unwrap();
    let unsent = ledger.next_custom_id(now).unwrap();
    let records: Vec<PurchaseRecord> = [&sent, &unsent]
        .iter()
        .map(|c| PurchaseRecord::new(intent((*c).clone()), now, Rates::new(), "h".into()))
        .collect();
    ledger.record_intents(&records).unwrap();
    let order = BuyOrder {
        target: BuyTarget::Name { name: "AK-47 | Redline (Field-Tested)".into(), game: Game::Cs2 },
        max_price: Some(Usd::new(dec!(25))),
        custom_id: Some(sent.clone()),
    };
    client(&sb).buy(&crate::helpers::link(), &order).await.unwrap();

    // The restarted engine resolves both before deciding anything.
    let engine = engine_with_ledger(&sb, ledger, example("shopping-list.toml"));
    engine.poll().await;
    let get = |c: &skinbot::domain::CustomId| engine.ledger().get(c).unwrap().unwrap().state;
    assert!(matches!(get(&sent), PurchaseState::Bought { .. }), "{:?}", get(&sent));
    assert!(matches!(get(&unsent), PurchaseState::NotBought { .. }), "{:?}", get(&unsent));
    // The Redline the crashed run bought counts: the shopping list does not buy it again.
    engine.tick().await;
    let redlines = sb.purchases().iter().filter(|p| p.name == "AK-47 | Redline (Field-Tested)").count();
    assert_eq!(redlines, 1);
}

#[tokio::test(start_paused = true)]
async fn stopping_mid_order_finishes_and_records_it_first() {
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    // Buys take 4 s to answer; the stop request comes 1 s into that.
    sb.set_faults(Faults {
        latency: Duration::from_secs(4),
        only_methods: vec!["market_batch_buy".into()],
        ..Faults::none()
    });
    let start = chrono::DateTime::parse_from_rfc3339("2026-11-26T00:00:00Z").unwrap().to_utc();
    let deps = Deps {
        client: client(&sb),
        ledger: Ledger::temporary().unwrap(),
        clock: Arc::new(TokioClock::starting_at(start)),
    };
    let engine = Engine::new(
        Arc::new(config("[schedule]\npricelist = \"*/5 * * * * *\"\npoll = \"0 0 * * * *\"\n")),
        example("shopping-list.toml"),
        deps,
    );
    let (tx, rx) = tokio::sync::watch::channel(false);
    let e2 = engine.clone();
    let run = tokio::spawn(async move { e2.run(rx).await });
    tokio::time::sleep(Duration::from_secs(6)).await; // the first tick fired at 5 s; its batch is in flight
    tx.send(true).unwrap();
    run.await.unwrap();
    let records = engine.ledger().list().unwrap();
    assert_eq!(records.len(), 4);
    assert!(records.iter().all(|r| matches!(r.state, PurchaseState::Bought { .. })), "no order left pending");
    assert_eq!(sb.purchases().len(), 4);
}

#[tokio::test]
async fn a_balance_too_old_to_trust_refuses_every_order() {
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    let clock = ManualClock::new();
    let deps = Deps { client: client(&sb), ledger: Ledger::temporary().unwrap(), clock: clock.clone() };
    let engine =
        Engine::new(Arc::new(config("[budget]\nbalance_max_age_secs = 30\n")), example("shopping-list.toml"), deps);
    engine.refresh_balance().await;
    // The balance call starts failing; half a minute later the last balance is too old.
    sb.set_faults(Faults { http_error_rate: 1.0, only_methods: vec!["balance".into()], ..Faults::none() });
    clock.advance(Duration::from_secs(31));
    engine.tick().await;
    assert_eq!(buy_requests(&sb), 0);
    assert_eq!(engine.stats.refusals().get("no_balance"), Some(&4));
}

#[tokio::test]
async fn a_reloaded_limit_applies_at_the_next_tick_and_start_only_settings_wait_for_a_restart() {
    let (sb, engine) = setup("", example("shopping-list.toml")).await;
    let tighter = config("[budget]\nper_order = \"5 usd\"\n[exchange]\ntimeout_ms = 9000\n");
    let notes = engine.reload(tighter, example("shopping-list.toml"));
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].starts_with("[exchange] changed (exchange.") && notes[0].ends_with("restart skinbot to apply"),
        "{notes:?}"
    );
    assert_eq!(engine.config().exchange.timeout, Duration::from_secs(15), "the running connection keeps its settings");
    engine.tick().await;
    assert_eq!(bought_names(&engine), vec!["AWP | Atheris (Field-Tested)", "Operation Breakout Weapon Case"]);
    assert_eq!(engine.stats.refusals().get("per_order_cap"), Some(&2));
    drop(sb);
}

#[tokio::test(start_paused = true)]
async fn edited_files_are_picked_up_and_a_broken_edit_keeps_the_old_config() {
    use skinbot::engine::reload::{watch, Reloader, Sources};
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = dir.path().join("skinbot.toml");
    std::fs::create_dir(dir.path().join("strategies")).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("strategies/restock.toml"),
        dir.path().join("strategies/restock.toml"),
    )
    .unwrap();
    std::fs::write(&cfg_path, "[budget]\nper_order = \"50\"\n").unwrap();
    let sources = Sources { config: Some(cfg_path.clone()), strategies: vec![], dry_run: false };
    let (config, strategies) = sources.load().unwrap();
    let loaded = sources.fingerprint(&config);
    // No request is made in this test: the client points nowhere.
    let cfg = skinbot::exchange::ClientConfig::new(
        "http://127.0.0.1:9/api.php",
        "1",
        secrecy::SecretString::from("x".to_string()),
    );
    let deps = Deps {
        client: skinbot::exchange::Client::new(cfg).unwrap(),
        ledger: Ledger::temporary().unwrap(),
        clock: Arc::new(TokioClock::new()),
    };
    let engine = Engine::new(Arc::new(config), strategies, deps);
    let (tx, rx) = tokio::sync::watch::channel(false);
    let reloader = Arc::new(Reloader::new(sources, loaded));
    let task = tokio::spawn(watch(reloader, engine.clone(), Duration::from_secs(1), rx));
    let per_order = |e: &Engine| e.config().budget.per_order.as_ref().unwrap().to_string();

    std::fs::write(&cfg_path, "[budget]\nper_order = \"20\"\n").unwrap();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(per_order(&engine), "20.00 USD");
    let good_hash = engine.config().hash.clone();

    std::fs::write(&cfg_path, "[budget]\nper_order = \"twenty\"\n").unwrap();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(per_order(&engine), "20.00 USD", "an invalid file changes nothing");
    assert_eq!(engine.config().hash, good_hash);

    // A valid strategy edit while the config is still broken: nothing changes either.
    std::fs::write(
        dir.path().join("strategies/restock.toml"),
        "[[rules]]\nselect = { kind = \"case\" }\nmax_price = \"0.50\"\n",
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(engine.strategies()[0].rules[0].name, "cheap cases");
    // Config fixed: both are picked up together.
    std::fs::write(&cfg_path, "[budget]\nper_order = \"10\"\n").unwrap();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(per_order(&engine), "10.00 USD");
    assert_eq!(engine.strategies()[0].rules[0].name, "rule-1");
    assert_ne!(engine.config().hash, good_hash);
    tx.send(true).unwrap();
    task.await.unwrap();
}

#[tokio::test]
async fn a_limit_lowered_and_saved_between_two_ticks_applies_to_the_second() {
    use chrono::TimeZone;
    use skinbot::engine::reload::{Reloader, Sources};
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = dir.path().join("skinbot.toml");
    std::fs::create_dir(dir.path().join("strategies")).unwrap();
    let rules = "[[rules]]\nselect = { names = [\"Recoil Case\"] }\nmax_price = \"1\"\nper_day = 100\n";
    std::fs::write(dir.path().join("strategies/cases.toml"), rules).unwrap();
    let cfg = |per_hour: &str| format!("[budget]\nper_hour = \"{per_hour} usd\"\nbalance_max_age_secs = 3600\n");
    std::fs::write(&cfg_path, cfg("1")).unwrap();
    let sources = Sources { config: Some(cfg_path.clone()), strategies: vec![], dry_run: false };
    let (config, strategies) = sources.load().unwrap();
    let loaded = sources.fingerprint(&config);
    // 10:59:30, then a second later 11:00:30: a new hour, where the old limit would buy again.
    let clock = ManualClock::at(chrono::Utc.with_ymd_and_hms(2026, 11, 27, 10, 59, 30).unwrap());
    let deps = Deps { client: client(&sb), ledger: Ledger::temporary().unwrap(), clock: clock.clone() };
    let engine = Engine::new(Arc::new(config), strategies, deps);
    engine.reload_before_ticks(Arc::new(Reloader::new(sources, loaded)));
    engine.tick().await;
    let first: Usd = sb.purchases().iter().map(|p| p.debited).sum();
    assert!(first > Usd::new(dec!(0.5)), "{first}");
    // Lowered and saved between the two ticks.
    std::fs::write(&cfg_path, cfg("0.10")).unwrap();
    clock.advance(Duration::from_secs(60));
    engine.tick().await;
    let spent: Usd = sb.purchases().iter().map(|p| p.debited).sum();
    assert_eq!(spent, first, "the second tick obeys the lowered hourly budget");
    assert!(engine.stats.refusals().get("hourly_budget").copied().unwrap_or(0) > 0);
}

/// The log lines written while `f` runs on this thread (a current-thread runtime keeps the engine's
/// work on it).
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn a_rule_that_matches_nothing_for_an_hour_is_warned_about_once() {
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    let clock = ManualClock::new();
    let deps = Deps { client: client(&sb), ledger: Ledger::temporary().unwrap(), clock: clock.clone() };
    let rules = strategy(
        "name = \"s\"\n[[rules]]\nname = \"ghost\"\nselect = { names = [\"Not On This Market\"] }\nmax_price = \"1 usd\"\n\
         [[rules]]\nname = \"cases\"\nselect = { globs = [\"Recoil Case\"] }\nmax_price = \"0.01 usd\"\n",
    );
    // The sandbox's price list is dated by its own clock; a list check on age would compare it
    // with the manual calendar.
    let engine = Engine::new(Arc::new(config("[sanity]\npricelist_max_age_secs = 0\n")), rules, deps);
    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let warnings = |log: &Captured| log.text().matches("has matched no cs2 listing").count();
    engine.tick().await;
    clock.advance(Duration::from_secs(59 * 60));
    engine.tick().await;
    assert_eq!(warnings(&log), 0, "not before the hour:\n{}", log.text());
    clock.advance(Duration::from_secs(60));
    engine.tick().await;
    assert_eq!(warnings(&log), 1, "{}", log.text());
    assert!(log.text().contains("rule s/ghost has matched no cs2 listing for 60 min"), "{}", log.text());
    assert!(!log.text().contains("s/cases"), "a rule that matches (even too dear) is not quiet");
    clock.advance(Duration::from_secs(3 * 3600));
    engine.tick().await;
    assert_eq!(warnings(&log), 1, "once per quiet spell:\n{}", log.text());
}
