//! The money paths at their edges: each test here failed before its fix.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use rust_decimal_macros::dec;
use skinbot::domain::Usd;
use skinbot::engine::{Deps, Engine};
use skinbot::ledger::Ledger;
use skinbot::sandbox::OfferConfig;

use crate::engine::{config, strategy};
use crate::helpers::{client, sandbox_with, ManualClock};

const CHEAP_CASES: &str = "[[rules]]\nselect = { names = [\"Recoil Case\"] }\nmax_price = \"1 usd\"\n";

#[tokio::test]
async fn the_hourly_budget_holds_in_the_repeated_hour_of_a_dst_change() {
    // 02:30 CEST on 2026-10-25 in Berlin: the hour from 02:00 to 03:00 happens twice that night.
    let clock = ManualClock::at(chrono::Utc.with_ymd_and_hms(2026, 10, 25, 0, 30, 0).unwrap());
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    let deps = Deps { client: client(&sb), ledger: Ledger::temporary().unwrap(), clock: clock.clone() };
    let cfg = "[schedule]\ntimezone = \"Europe/Berlin\"\n[budget]\nper_hour = \"5 usd\"\nper_day = \"100 usd\"\n";
    let engine = Engine::new(Arc::new(config(cfg)), strategy(CHEAP_CASES), deps);
    engine.tick().await;
    let first: Usd = sb.purchases().iter().map(|p| p.debited).sum();
    assert!(first > Usd::new(dec!(4)), "the first tick buys up to the hourly budget: {first}");
    clock.advance(Duration::from_secs(15 * 60)); // 02:45 CEST: the same hour
    engine.tick().await;
    let spent: Usd = sb.purchases().iter().map(|p| p.debited).sum();
    assert!(spent <= Usd::new(dec!(5)), "spent {spent} in one hour against per_hour = 5 USD");
}

#[tokio::test]
async fn a_sent_order_the_exchange_is_still_processing_is_not_released_and_its_late_purchase_is_recorded() {
    use skinbot::domain::{Candidate, Game, Intent, PurchaseRecord, PurchaseState, Rates};
    use skinbot::exchange::{BuyOrder, BuyTarget};
    use skinbot::sandbox::Faults;
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    let ledger = Ledger::temporary().unwrap();
    // Recorded five minutes ago (a tick's later chunk waits behind earlier ones and the rate
    // limiter); its request leaves only now, and the exchange takes a second to process it.
    let created = chrono::Utc::now() - chrono::Duration::minutes(5);
    let cid = ledger.next_custom_id(created).unwrap();
    let candidate = Candidate {
        strategy: "s".into(),
        rule: "r".into(),
        priority: 0,
        game: Game::Cs2,
        name: "AK-47 | Redline (Field-Tested)".into(),
        item_id: None,
        price_seen: Usd::new(dec!(11.87)),
        max_price: Usd::new(dec!(25)),
    };
    let intent = Intent { custom_id: cid.clone(), candidate };
    ledger.record_intents(&[PurchaseRecord::new(intent, created, Rates::new(), "h".into())]).unwrap();
    sb.set_faults(Faults {
        latency: Duration::from_secs(1),
        only_methods: vec!["market_buy".into()],
        ..Faults::none()
    });
    let order = BuyOrder {
        target: BuyTarget::Name { name: "AK-47 | Redline (Field-Tested)".into(), game: Game::Cs2 },
        max_price: Some(Usd::new(dec!(25))),
        custom_id: Some(cid.clone()),
    };
    let (marked_tx, marked_rx) = tokio::sync::oneshot::channel();
    let buyer = {
        let (client, ledger, cid) = (client(&sb), ledger.clone(), cid.clone());
        tokio::spawn(async move {
            client
                .buy_marked(&crate::helpers::link(), &order, || {
                    ledger.transition(&cid, PurchaseState::Sent, chrono::Utc::now(), "request leaving").unwrap();
                    marked_tx.send(()).unwrap();
                    Ok(())
                })
                .await
        })
    };
    marked_rx.await.unwrap();
    // A restarted bot polls while the request is still in the exchange's hands.
    let engine = crate::engine::engine_with_ledger(&sb, ledger, vec![]);
    engine.poll().await;
    let state = engine.ledger().get(&cid).unwrap().unwrap().state;
    assert_eq!(state, PurchaseState::Sent, "an order whose request just left is not released");
    buyer.await.unwrap().unwrap();
    engine.poll().await;
    let state = engine.ledger().get(&cid).unwrap().unwrap().state;
    assert!(matches!(state, PurchaseState::Bought { .. }), "{state:?}");
}

#[tokio::test(start_paused = true)]
async fn a_stop_between_chunks_leaves_the_held_back_chunks_unrecorded_and_unsent() {
    use skinbot::domain::PurchaseState;
    use skinbot::engine::clock::TokioClock;
    use skinbot::sandbox::Faults;
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    // Each batch takes 4 s to answer; the stop comes during the first one.
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
    let cfg = "[schedule]\npricelist = \"*/5 * * * * *\"\npoll = \"0 0 * * * *\"\n[orders]\nbatch_size = 2\n";
    // The shopping list wants four items: two chunks of two.
    let engine = Engine::new(Arc::new(config(cfg)), crate::engine::example("shopping-list.toml"), deps);
    let (tx, rx) = tokio::sync::watch::channel(false);
    let e2 = engine.clone();
    let run = tokio::spawn(async move { e2.run(rx).await });
    tokio::time::sleep(Duration::from_secs(6)).await; // the first tick fired at 5 s; its first batch is in flight
    tx.send(true).unwrap();
    run.await.unwrap();
    let records = engine.ledger().list().unwrap();
    assert_eq!(records.len(), 2, "only the chunk that left is in the ledger: {records:?}");
    assert!(records.iter().all(|r| matches!(r.state, PurchaseState::Bought { .. })), "the chunk in flight finished");
    assert_eq!(crate::helpers::requests_for(&sb, "market_batch_buy"), 1, "the held-back chunk was not sent");
    assert_eq!(sb.purchases().len(), 2);
}

#[tokio::test]
async fn rates_past_their_maximum_age_refuse_orders_in_other_currencies() {
    use skinbot::sandbox::Faults;
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    let clock = ManualClock::new();
    let deps = Deps { client: client(&sb), ledger: Ledger::temporary().unwrap(), clock: clock.clone() };
    let cfg = "[budget]\nper_order = \"40 eur\"\nrates_max_age_secs = 60\nbalance_max_age_secs = 3600\n";
    let engine = Engine::new(Arc::new(config(cfg)), strategy(CHEAP_CASES), deps);
    engine.refresh_rates().await;
    // The currencies call starts failing; a minute later the rates in force are too old to use.
    sb.set_faults(Faults { http_error_rate: 1.0, only_methods: vec!["currencies".into()], ..Faults::none() });
    clock.advance(Duration::from_secs(61));
    engine.refresh_rates().await;
    engine.tick().await;
    assert_eq!(crate::engine::buy_requests(&sb), 0, "a limit in EUR cannot be checked with stale rates");
    assert!(engine.stats.refusals().get("no_rate").copied().unwrap_or(0) > 0, "{:?}", engine.stats.refusals());
    // Fresh rates: orders go out again.
    sb.set_faults(Faults::none());
    engine.refresh_rates().await;
    engine.tick().await;
    assert!(crate::engine::buy_requests(&sb) > 0);
}

#[tokio::test]
async fn a_first_currency_list_far_from_the_last_recorded_rates_is_not_believed_at_once() {
    use skinbot::domain::Rates;
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    let ledger = Ledger::temporary().unwrap();
    // The last accepted rates put EUR a hundred times lower than the sandbox's first answer says.
    let mut last = Rates::new();
    last.insert("eur".parse().unwrap(), dec!(0.0092)).unwrap();
    ledger.set_last_rates(&last).unwrap();
    let deps = Deps { client: client(&sb), ledger, clock: Arc::new(skinbot::engine::clock::TokioClock::new()) };
    let cfg = "[budget]\nper_order = \"40 eur\"\n";
    let engine = Engine::new(Arc::new(config(cfg)), strategy(CHEAP_CASES), deps);
    engine.refresh_rates().await;
    engine.tick().await;
    assert_eq!(crate::engine::buy_requests(&sb), 0, "no EUR limit is checked with a doubted list");
    // The same list twice more: believed (a real move, or a wrong record).
    engine.refresh_rates().await;
    engine.refresh_rates().await;
    engine.tick().await;
    assert!(crate::engine::buy_requests(&sb) > 0);
    assert_eq!(engine.ledger().last_rates().unwrap().unwrap().get(&"eur".parse().unwrap()), Some(dec!(0.92)));
}

/// One Redline bought by name, under a 20 USD ceiling, once.
const ONE_REDLINE: &str =
    "[[rules]]\nselect = { names = \"AK-47 | Redline (Field-Tested)\" }\nmax_price = \"20\"\nper_item_total = 1\n";

fn only_buys(mut f: skinbot::sandbox::Faults) -> skinbot::sandbox::Faults {
    f.only_methods = vec!["market_buy".into(), "market_batch_buy".into()];
    f
}

#[tokio::test]
async fn an_unknown_error_code_or_an_unexpected_message_is_an_unknown_outcome_not_a_release() {
    use skinbot::domain::PurchaseState;
    use skinbot::sandbox::{ErrorAnswer, Faults};
    for (code, message) in [(7, "custom_id_exists"), (99, "brand_new_error")] {
        let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
        let engine = crate::engine::engine_for(&sb, "", strategy(ONE_REDLINE));
        sb.set_faults(only_buys(Faults {
            error_answer: Some(ErrorAnswer { code, message: message.into() }),
            ..Faults::none()
        }));
        engine.tick().await;
        let state = engine.ledger().list().unwrap()[0].state.clone();
        assert!(matches!(state, PurchaseState::Unknown { .. }), "{code} {message}: {state:?}");
        // Its reservation holds: the rule's one Redline is not asked for again.
        sb.set_faults(Faults::none());
        engine.tick().await;
        assert_eq!(crate::engine::buy_requests(&sb), 1, "{code} {message}: no second buy");
    }
}

#[tokio::test]
async fn a_getinfo_answer_without_custom_id_after_a_lost_answer_buys_nothing_twice() {
    use skinbot::domain::PurchaseState;
    use skinbot::sandbox::Faults;
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    let rules = "[[rules]]\nselect = { names = [\"Recoil Case\"] }\nmax_price = \"1\"\nper_item_total = 1\n";
    let engine = crate::engine::engine_for(&sb, "", strategy(rules));
    // The buy goes through, its answer is lost; every later answer leaves custom_id out.
    sb.set_faults(only_buys(Faults { drop_after_commit_rate: 1.0, ..Faults::none() }));
    engine.tick().await;
    assert!(matches!(engine.ledger().list().unwrap()[0].state, PurchaseState::Unknown { .. }));
    sb.set_faults(Faults { omit_custom_id: true, ..Faults::none() });
    engine.poll().await;
    let state = engine.ledger().list().unwrap()[0].state.clone();
    assert!(!matches!(state, PurchaseState::NotBought { .. }), "not released: {state:?}");
    assert!(matches!(state, PurchaseState::Bought { .. }), "matched by its listing id: {state:?}");
    engine.tick().await;
    assert_eq!(sb.purchases().len(), 1, "no second buy");
}

#[tokio::test]
async fn an_over_debit_is_recorded_as_reported_counted_at_the_higher_amount_and_halts() {
    use skinbot::domain::PurchaseState;
    use skinbot::sandbox::Faults;
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    let engine = crate::engine::engine_for(&sb, "", strategy(ONE_REDLINE));
    sb.set_faults(only_buys(Faults { over_debit: Some(Usd::new(dec!(2.50))), ..Faults::none() }));
    engine.tick().await;
    let record = engine.ledger().list().unwrap().remove(0);
    let debit = sb.purchases()[0].debited;
    assert!(debit > record.intent.max_price, "the sandbox over-debited: {debit}");
    match &record.state {
        PurchaseState::Bought { debited, .. } => assert_eq!(*debited, debit, "recorded and counted as reported"),
        other => panic!("{other:?}"),
    }
    assert_eq!(record.committed(), debit, "the budget counts the higher amount");
    assert!(record.transitions.last().unwrap().detail.contains("above the order's max_price"));
    let halted = engine.halted().expect("halted");
    assert!(halted.contains("disagrees with its order"), "{halted}");
}

#[tokio::test]
async fn a_wrong_first_currency_list_after_a_restart_spends_nothing_in_that_currency() {
    use skinbot::sandbox::Faults;
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    let ledger = Ledger::temporary().unwrap();
    let cfg = "[budget]\nper_day = \"5 eur\"\nper_hour = \"5 eur\"\nper_order = \"5 eur\"\n";
    // A first run accepts the real rates (EUR 0.92 per USD) and records them.
    let first = crate::engine::engine_with_ledger(&sb, ledger.clone(), vec![]);
    first.refresh_rates().await;
    drop(first);
    // After a restart the exchange's first list says EUR is worth a hundred times more.
    sb.set_faults(Faults { rate_override: [("eur".to_string(), "0.0092".to_string())].into(), ..Faults::none() });
    let deps = Deps { client: client(&sb), ledger, clock: Arc::new(skinbot::engine::clock::TokioClock::new()) };
    let engine = Engine::new(Arc::new(config(cfg)), strategy(CHEAP_CASES), deps);
    engine.refresh_rates().await;
    engine.tick().await;
    let spent: Usd = sb.purchases().iter().map(|p| p.debited).sum();
    assert_eq!(spent, Usd::ZERO, "5 EUR read with the wrong rate would have been 543 USD");
}

#[tokio::test]
async fn a_purchase_that_lands_after_its_release_is_recorded_as_bought_at_the_next_poll() {
    use skinbot::domain::PurchaseState;
    use skinbot::sandbox::Faults;
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    // A slow proxy holds the buy 1.5 s; the bot gives up after 0.3 s.
    sb.set_faults(only_buys(Faults { buy_delay: Duration::from_millis(1500), ..Faults::none() }));
    let clock = ManualClock::new();
    let quick = crate::helpers::client_with(&sb, |c| c.timeout = Duration::from_millis(300));
    let deps = Deps { client: quick, ledger: Ledger::temporary().unwrap(), clock: clock.clone() };
    let engine = Engine::new(Arc::new(config("[budget]\nbalance_max_age_secs = 3600\n")), strategy(ONE_REDLINE), deps);
    engine.tick().await;
    // Long after the mark by the bot's clock, the exchange still has not processed it: released.
    clock.advance(Duration::from_secs(61));
    engine.poll().await;
    let cid = engine.ledger().list().unwrap()[0].intent.custom_id.clone();
    assert!(matches!(engine.ledger().get(&cid).unwrap().unwrap().state, PurchaseState::NotBought { .. }));
    // The proxy forwards it; the next poll finds it.
    sb.wait_for_purchases(1, Duration::from_secs(10)).await;
    engine.poll().await;
    let state = engine.ledger().get(&cid).unwrap().unwrap().state;
    assert!(matches!(state, PurchaseState::Bought { .. }), "{state:?}");
}

#[tokio::test]
async fn the_intent_is_on_disk_before_its_request_reaches_the_exchange() {
    use skinbot::domain::{CustomId, PurchaseState};
    use skinbot::sandbox::Faults;
    // The exchange holds every buy for a while: the request has arrived, nothing answers yet.
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    sb.set_faults(only_buys(Faults { buy_delay: Duration::from_secs(30), ..Faults::none() }));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("strategies")).unwrap();
    std::fs::write(d.join("strategies/one.toml"), ONE_REDLINE).unwrap();
    std::fs::write(d.join("secret.txt"), format!("{}\n", sb.secret())).unwrap();
    std::fs::write(
        d.join("skinbot.toml"),
        format!(
            "[exchange]\napi_url = \"{}\"\nshop_id = \"{}\"\nsecret_file = \"secret.txt\"\n\
             [trade_link]\npartner = \"123456789\"\ntoken = \"AbCd1234\"\n\
             [schedule]\npricelist = \"* * * * * *\"\n[strategies]\ndir = \"strategies\"\n[state]\ndir = \"state\"\n",
            sb.api_url(),
            sb.shop_id()
        ),
    )
    .unwrap();
    let mut bot = std::process::Command::new(env!("CARGO_BIN_EXE_skinbot"))
        .args(["run", "--config", d.join("skinbot.toml").to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let params = sb.wait_for_arrival("market_buy", Duration::from_secs(30)).await.expect("a buy request arrives");
    // The moment the request is in the exchange's hands, the process dies without a chance to
    // write anything more.
    bot.kill().unwrap();
    bot.wait().unwrap();
    let cid: CustomId = params.iter().find(|(k, _)| k == "custom_id").expect("custom_id sent").1.parse().unwrap();
    let ledger = Ledger::open(&d.join("state/ledger")).unwrap();
    let record = ledger.get(&cid).unwrap().expect("the intent was on disk before its request left");
    assert_eq!(record.state, PurchaseState::Sent, "recorded, reserved and marked sent, flushed");
}

#[tokio::test]
async fn a_batch_whose_answer_is_lost_or_says_custom_id_exists_is_resolved_not_bought_again() {
    use skinbot::domain::PurchaseState;
    use skinbot::sandbox::{ErrorAnswer, Faults};
    let rules = "[[rules]]\nselect = { names = [\"Recoil Case\"] }\nmax_price = \"1\"\nper_item_total = 4\n";
    // Dropped after the purchases were made: four unknown outcomes, all found by custom_id.
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    let engine = crate::engine::engine_for(&sb, "[orders]\nbatch_size = 4\n", strategy(rules));
    sb.set_faults(only_buys(Faults { drop_after_commit_rate: 1.0, ..Faults::none() }));
    engine.tick().await;
    let states: Vec<_> = engine.ledger().list().unwrap().into_iter().map(|r| r.state).collect();
    assert_eq!(states.len(), 4);
    assert!(states.iter().all(|s| matches!(s, PurchaseState::Unknown { .. })), "{states:?}");
    sb.set_faults(Faults::none());
    engine.poll().await;
    engine.tick().await;
    assert!(engine.ledger().list().unwrap().iter().all(|r| matches!(r.state, PurchaseState::Bought { .. })));
    assert_eq!(sb.purchases().len(), 4, "nothing bought twice");
    assert_eq!(crate::engine::buy_requests(&sb), 1);

    // A batch answered `7 custom_id_already_exists`: something may exist under those ids; the
    // reservations stay until the exchange says.
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    let engine = crate::engine::engine_for(&sb, "[orders]\nbatch_size = 4\n", strategy(rules));
    sb.set_faults(only_buys(Faults {
        error_answer: Some(ErrorAnswer { code: 7, message: "custom_id_already_exists".into() }),
        ..Faults::none()
    }));
    engine.tick().await;
    let records = engine.ledger().list().unwrap();
    assert!(!records.is_empty() && records.iter().all(|r| matches!(r.state, PurchaseState::Unknown { .. })));
    sb.set_faults(Faults::none());
    engine.tick().await;
    assert_eq!(crate::engine::buy_requests(&sb), 1, "their reservations hold: no second batch");
}
