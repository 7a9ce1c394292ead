//! Live delivery events: the engine subscribed to the sandbox's project websocket applies offer
//! status changes, purchases and balance changes as they arrive, polls offers less often while the
//! socket is up, falls back to polling and reconnects when it is lost, and says clearly when the
//! signature is refused. Also the two sandbox gaps public clients hit: JSON booleans signed the
//! JavaScript way, and the websocket at `/`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use rust_decimal_macros::dec;
use secrecy::SecretString;
use serde_json::{json, Value};
use skinbot::domain::{OfferStatus, PurchaseRecord, PurchaseState, Usd};
use skinbot::engine::events::{self, EventsError, EventsStatus, Frame};
use skinbot::engine::{Deps, Engine};
use skinbot::ledger::Ledger;
use skinbot::sandbox::{Faults, OfferConfig, Sandbox};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use crate::engine::{config, engine_for, example};
use crate::helpers::{client, client_with, requests_for, sandbox, sandbox_with, ManualClock};

/// The engine's websocket task, as `Engine::run` starts it, without the scheduled jobs: nothing
/// polls unless the test calls `poll`.
struct Events {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

fn subscribe(engine: &Arc<Engine>) -> Events {
    let (stop, rx) = watch::channel(false);
    Events { stop, task: tokio::spawn(events::run(Arc::clone(engine), rx)) }
}

impl Events {
    async fn stop(self) {
        self.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(10), self.task).await.expect("the events task stops").unwrap();
    }
}

/// Waits until `done` holds, waking at every change of the engine's websocket status (every
/// connection, loss and event applied or not); fails after a bounded time.
async fn until(engine: &Engine, what: &str, mut done: impl FnMut(&EventsStatus) -> bool) {
    let mut rx = engine.events();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let status = rx.borrow_and_update().clone();
        if done(&status) {
            return;
        }
        if !matches!(tokio::time::timeout_at(deadline, rx.changed()).await, Ok(Ok(()))) {
            panic!("timed out waiting for {what}; websocket status {status:?}");
        }
    }
}

fn offers(engine: &Engine) -> Vec<OfferStatus> {
    engine
        .ledger()
        .list()
        .unwrap()
        .into_iter()
        .filter_map(|r| match r.state {
            PurchaseState::Bought { offer, .. } => Some(offer),
            _ => None,
        })
        .collect()
}

fn all_at(engine: &Engine, n: usize, status: OfferStatus) -> bool {
    let o = offers(engine);
    o.len() == n && o.iter().all(|s| *s == status)
}

fn last_detail(r: &PurchaseRecord) -> &str {
    r.transitions.last().map_or("", |t| t.detail.as_str())
}

fn getinfo(sb: &Sandbox) -> usize {
    requests_for(sb, "market_getinfo")
}

#[tokio::test]
async fn offer_status_changes_and_a_rollback_reach_the_ledger_from_the_websocket_without_a_poll() {
    // Every offer is accepted, then rolled back by the user an hour later.
    let sb = sandbox_with(|c| c.offers = OfferConfig { p_rollback_user: 1.0, ..OfferConfig::always_accept() }).await;
    let engine = engine_for(&sb, "", example("shopping-list.toml"));
    let events = subscribe(&engine);
    until(&engine, "the websocket", |s| s.live).await;

    // The buy_item events of this tick come while it holds the trade lock: by the time they are
    // looked at, the buy's own answer is recorded, and they change nothing.
    engine.tick().await;
    assert!(all_at(&engine, 4, OfferStatus::CreatingTrade), "{:?}", offers(&engine));
    let polled = getinfo(&sb);
    sb.advance(Duration::from_secs(5));
    until(&engine, "waiting_accept", |_| all_at(&engine, 4, OfferStatus::WaitingAccept)).await;
    sb.advance(Duration::from_secs(60));
    until(&engine, "accepted", |_| all_at(&engine, 4, OfferStatus::Accepted)).await;
    sb.advance(Duration::from_secs(3600));
    until(&engine, "rollback_user", |_| all_at(&engine, 4, OfferStatus::RollbackUser)).await;

    assert_eq!(getinfo(&sb), polled, "nothing was polled: the websocket brought every change");
    for r in engine.ledger().list().unwrap() {
        assert_eq!(last_detail(&r), "offer accepted → rollback_user, by websocket", "{r:?}");
        match &r.state {
            PurchaseState::Bought { tradeofferid, .. } => assert!(tradeofferid.is_some()),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(engine.stats.bought.load(Ordering::Relaxed), 4, "each purchase counted once");
    events.stop().await;
}

#[tokio::test]
async fn a_buy_item_event_resolves_a_buy_whose_answer_was_lost() {
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    // Every buy is made, then its connection is cut before the answer.
    sb.set_faults(Faults {
        drop_after_commit_rate: 1.0,
        only_methods: vec!["market_buy".into(), "market_batch_buy".into()],
        ..Faults::none()
    });
    let engine = engine_for(&sb, "", example("shopping-list.toml"));
    let events = subscribe(&engine);
    until(&engine, "the websocket", |s| s.live).await;
    engine.tick().await;
    // The tick recorded four unknown outcomes; the buy_item events, waiting for its trade lock,
    // then resolve them as reconciliation would: bought, with the debit the exchange reports.
    until(&engine, "four bought", |_| offers(&engine).len() == 4).await;
    assert_eq!(getinfo(&sb), 0, "resolved without market_getinfo");
    let debited: Usd = engine
        .ledger()
        .list()
        .unwrap()
        .iter()
        .map(|r| match &r.state {
            PurchaseState::Bought { debited, .. } => *debited,
            other => panic!("{other:?}"),
        })
        .sum();
    let sandbox_debited: Usd = sb.purchases().iter().map(|p| p.debited).sum();
    assert_eq!(debited, sandbox_debited);
    for r in engine.ledger().list().unwrap() {
        assert!(last_detail(&r).starts_with("bought (the websocket's buy_item)"), "{r:?}");
    }
    assert_eq!(engine.stats.unknown.load(Ordering::Relaxed), 4);
    assert_eq!(engine.stats.bought.load(Ordering::Relaxed), 4);
    events.stop().await;
}

#[tokio::test]
async fn a_buy_that_lands_after_its_order_was_released_is_recorded_from_its_buy_item_event() {
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    // A slow proxy holds every buy 5 s, long after the client's 0.3 s timeout and the 1 s after
    // which an order the exchange has not heard of is released.
    sb.set_faults(Faults {
        buy_delay: Duration::from_secs(5),
        only_methods: vec!["market_buy".into(), "market_batch_buy".into()],
        ..Faults::none()
    });
    let clock = ManualClock::new();
    let client = client_with(&sb, |c| c.timeout = Duration::from_millis(300));
    let deps = Deps { client, ledger: Ledger::temporary().unwrap(), clock: clock.clone() };
    let cfg = config("[exchange]\ntimeout_ms = 300\n[orders]\nresolve_after_secs = 1\n");
    let engine = Engine::new(Arc::new(cfg), example("shopping-list.toml"), deps);
    let events = subscribe(&engine);
    until(&engine, "the websocket", |s| s.live).await;
    engine.tick().await;
    clock.advance(Duration::from_secs(2));
    engine.poll().await;
    let released = engine.ledger().list().unwrap();
    assert_eq!(released.len(), 4);
    assert!(released.iter().all(|r| matches!(r.state, PurchaseState::NotBought { .. })), "{released:?}");
    let polled = getinfo(&sb);
    // The held buys land; their buy_item events put them in the ledger without another poll.
    until(&engine, "four bought", |_| offers(&engine).len() == 4).await;
    assert_eq!(getinfo(&sb), polled);
    for r in engine.ledger().list().unwrap() {
        assert!(last_detail(&r).starts_with("bought (the websocket's buy_item, after it was released)"), "{r:?}");
    }
    let debited: Usd = sb.purchases().iter().map(|p| p.debited).sum();
    assert_eq!(engine.ledger().list().unwrap().iter().map(|r| r.committed()).sum::<Usd>(), debited);
    events.stop().await;
}

#[tokio::test]
async fn offers_are_polled_slowly_while_the_socket_is_up_and_at_full_pace_after_it_is_killed_until_it_reconnects() {
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    let clock = ManualClock::new();
    let deps = Deps { client: client(&sb), ledger: Ledger::temporary().unwrap(), clock: clock.clone() };
    let engine = Engine::new(Arc::new(config("")), example("shopping-list.toml"), deps);
    let events = subscribe(&engine);
    until(&engine, "the websocket", |s| s.live).await;
    engine.tick().await;

    // Up: the first poll after connecting follows every offer (what the socket may have missed),
    // then only every 30 s.
    engine.poll().await;
    assert_eq!(getinfo(&sb), 1);
    engine.poll().await;
    assert_eq!(getinfo(&sb), 1, "socket up: offers are not polled again within 30 s");
    clock.advance(Duration::from_secs(30));
    engine.poll().await;
    assert_eq!(getinfo(&sb), 2);

    // Killed: polling at every run again, and it brings the changes.
    sb.set_websocket_up(false);
    until(&engine, "the socket lost", |s| !s.live).await;
    assert!(engine.events().borrow().last_error.as_deref().is_some_and(|e| e.contains("websocket was lost")));
    engine.poll().await;
    engine.poll().await;
    assert_eq!(getinfo(&sb), 4, "socket down: offers polled at every run");
    sb.advance(Duration::from_secs(5));
    engine.poll().await;
    assert!(all_at(&engine, 4, OfferStatus::WaitingAccept), "{:?}", offers(&engine));
    let r = &engine.ledger().list().unwrap()[0];
    assert_eq!(last_detail(r), "offer creating_trade → waiting_accept");

    // Back: the engine reconnects by itself (backoff), and events flow again without a poll.
    sb.set_websocket_up(true);
    until(&engine, "a reconnection", |s| s.live && s.connects == 2).await;
    let polled = getinfo(&sb);
    sb.advance(Duration::from_secs(60));
    until(&engine, "accepted", |_| all_at(&engine, 4, OfferStatus::Accepted)).await;
    assert_eq!(getinfo(&sb), polled);
    events.stop().await;
}

#[tokio::test]
async fn a_refused_signature_is_an_auth_failed_error_that_says_so_and_is_not_retried_in_a_loop() {
    let sb = sandbox().await;
    let url = events::ws_url(&sb.api_url()).unwrap();
    let e = events::connect(&url, sb.shop_id(), "not-the-secret").await.unwrap_err();
    assert_eq!(e, EventsError::AuthFailed);
    let msg = e.to_string();
    assert!(msg.contains("auth_failed") && msg.contains("secret"), "{msg}");
    assert!(!msg.contains("not-the-secret"));

    // `skinbot events` says the same.
    let args = skinbot::cli::events::EventsArgs {
        url: sb.ws_url(),
        shop_id: sb.shop_id().to_string(),
        secret: "not-the-secret".into(),
        count: Some(1),
    };
    let e = skinbot::cli::events::run(args).await.unwrap_err();
    assert!(format!("{e:#}").contains("auth_failed"), "{e:#}");

    // The engine: an error in its status, polling goes on, and the next try is minutes away.
    let wrong = client_with(&sb, |c| c.secret = SecretString::from("not-the-secret".to_string()));
    let deps = Deps { client: wrong, ledger: Ledger::temporary().unwrap(), clock: ManualClock::new() };
    let engine = Engine::new(Arc::new(config("")), vec![], deps);
    let events = subscribe(&engine);
    until(&engine, "auth_failed", |s| s.last_error.is_some()).await;
    let status = engine.events().borrow().clone();
    assert_eq!((status.live, status.connects, status.attempts), (false, 0, 1));
    assert!(status.last_error.unwrap().contains("auth_failed"));
    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(120)).await;
    tokio::task::yield_now().await;
    assert_eq!(engine.events().borrow().attempts, 1, "no retry within two minutes");
    tokio::time::resume();
    events.stop().await;
}

#[tokio::test]
async fn a_lower_pushed_balance_applies_at_once_and_a_higher_one_is_confirmed_by_a_fetch() {
    let sb = sandbox().await;
    let engine = engine_for(&sb, "", vec![]);
    engine.refresh_balance().await;
    assert_eq!(engine.last_balance(), Some(sb.balance()));
    let events = subscribe(&engine);
    until(&engine, "the websocket", |s| s.live).await;

    sb.set_balance(Usd::new(dec!(250.00)));
    until(&engine, "the lower balance", |_| engine.last_balance() == Some(Usd::new(dec!(250.00)))).await;
    assert_eq!(requests_for(&sb, "balance"), 1, "taken from the event");

    // Higher may predate a debit noted since: fetched before it is believed.
    sb.set_balance(Usd::new(dec!(900.00)));
    until(&engine, "the higher balance", |_| engine.last_balance() == Some(Usd::new(dec!(900.00)))).await;
    assert_eq!(requests_for(&sb, "balance"), 2);
    events.stop().await;
}

#[test]
fn the_events_section_is_optional_and_on_by_default() {
    assert!(config("").events.enabled);
    assert!(config("[events]\nenabled = true\n").events.enabled);
    assert!(!config("[events]\nenabled = false\n").events.enabled);
    let e = skinbot::config::Config::parse(
        std::path::Path::new("t.toml"),
        "[events]\nenable = false\n",
        &skinbot::config::ProcessEnv,
    )
    .unwrap_err();
    assert!(e.to_string().contains("enable"), "{e}");
}

#[tokio::test(start_paused = true)]
async fn with_events_turned_off_or_in_a_dry_run_nothing_connects() {
    let sb = sandbox().await;
    for cfg in ["[events]\nenabled = false\n", "mode = \"dry-run\"\n"] {
        let engine = engine_for(&sb, cfg, vec![]);
        let events = subscribe(&engine);
        tokio::time::sleep(Duration::from_secs(300)).await;
        assert_eq!(engine.events().borrow().attempts, 0, "{cfg}");
        events.stop().await;
    }
}

#[tokio::test]
async fn a_json_boolean_signed_as_javascript_renders_it_is_accepted_as_well_as_php_rendering() {
    let sb = sandbox().await;
    let http = reqwest::Client::new();
    let call = |sign_full: &'static str| {
        let scalars = [("method", "market_pricelist"), ("shopid", sb.shop_id()), ("game", "cs2"), ("full", sign_full)];
        let sign = skinbot::signature::sign(scalars, sb.secret());
        let body =
            json!({"method": "market_pricelist", "shopid": sb.shop_id(), "game": "cs2", "full": true, "sign": sign});
        let req = http.post(sb.api_url()).json(&body);
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    for signed in ["true", "1"] {
        let answer = call(signed).await;
        assert_eq!(answer["status"], "success", "full:{signed}; → {answer}");
        // `full` was read as set: individual listings, each with its id.
        assert!(answer["items"].as_array().is_some_and(|i| !i.is_empty() && i[0].get("id").is_some()), "{answer}");
    }
    let answer = call("yes").await;
    assert_eq!(
        (answer["error_code"].as_i64(), answer["error_message"].as_str()),
        (Some(-3), Some("invalid_signature"))
    );
}

#[tokio::test]
async fn the_websocket_also_answers_at_the_root_where_older_sdks_connect() {
    let sb = sandbox().await;
    let root = url::Url::parse(&format!("{}/", sb.base_url().replacen("http", "ws", 1))).unwrap();
    let mut ws = events::connect(&root, sb.shop_id(), sb.secret()).await.expect("auth_success at /");
    sb.set_balance(Usd::new(dec!(321.00)));
    let frame = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => break Frame::parse(&t),
                Some(Ok(_)) => continue,
                other => panic!("{other:?}"),
            }
        }
    })
    .await
    .expect("an event within 10 s");
    assert_eq!(frame, Frame::BalanceChange(Usd::new(dec!(321.00))));
    // And at `/ws/` as documented.
    assert!(events::connect(&events::ws_url(&sb.api_url()).unwrap(), sb.shop_id(), sb.secret()).await.is_ok());
}
