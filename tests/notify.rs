//! The webhook against a sandbox: a local receiver gets the purchase with its fields, a halt and a
//! resume pulled through the ledger (as `skinbot halt` does) in Slack's body; a webhook that
//! accepts connections and never answers slows no tick, and its queue stays bounded.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::Value;
use skinbot::domain::PurchaseState;
use skinbot::engine::Engine;
use skinbot::ledger::HaltEvent;
use skinbot::notify::{Notifier, Tuning};
use skinbot::sandbox::{OfferConfig, Sandbox};
use tokio::sync::mpsc;

use crate::engine::{config, engine_for, strategy};
use crate::helpers::sandbox_with;

const ONE_CASE: &str = "[[rules]]\nselect = { names = [\"Recoil Case\"] }\nmax_price = \"1 usd\"\nper_item_total = 1\n";

/// Every case under 1 USD, as many as listed: several purchases per tick.
const ALL_CASES: &str = "[[rules]]\nselect = { globs = [\"* Case\"] }\nmax_price = \"1 usd\"\n";

/// A webhook receiver on a free port: every body it gets goes to the returned channel.
async fn receiver() -> (String, mpsc::UnboundedReceiver<Value>) {
    let (tx, rx) = mpsc::unbounded_channel();
    async fn hook(State(tx): State<mpsc::UnboundedSender<Value>>, Json(body): Json<Value>) {
        let _ = tx.send(body);
    }
    let app = Router::new().route("/hook", post(hook)).with_state(tx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), rx)
}

/// The next body, within a deadline.
async fn next(rx: &mut mpsc::UnboundedReceiver<Value>) -> Value {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a webhook message within 10 s")
        .expect("the receiver is running")
}

async fn engine_notifying(sb: &Sandbox, notify: &str, rules: &str) -> Arc<Engine> {
    let engine = engine_for(sb, notify, strategy(rules));
    engine.notify_to(Notifier::start(&engine.config().notify));
    engine.refresh_rates().await;
    engine.refresh_balance().await;
    engine
}

#[tokio::test]
async fn the_webhook_receives_a_purchase_with_its_fields() {
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    let (url, mut rx) = receiver().await;
    let engine = engine_notifying(&sb, &format!("[notify]\nurl = \"{url}\"\n"), ONE_CASE).await;
    engine.tick().await;

    let body = next(&mut rx).await;
    let record = engine.ledger().list().unwrap().pop().expect("one purchase");
    let PurchaseState::Bought { buy_id, debited, .. } = record.state else { panic!("not bought: {record:?}") };
    assert_eq!(body["event"], "purchase", "{body}");
    assert_eq!(body["item"], "Recoil Case", "{body}");
    assert_eq!(body["game"], "cs2", "{body}");
    assert_eq!(body["strategy"], "inline", "{body}");
    assert_eq!(body["custom_id"], record.intent.custom_id.to_string(), "{body}");
    // The recipient the purchase was sent to, as the ledger holds it.
    let recipient = record.recipient.as_deref().expect("the record names its recipient");
    assert_eq!(body["recipient"], recipient, "{body}");
    assert_eq!(body["buy_id"], buy_id.get(), "{body}");
    assert_eq!(body["price"]["amount"], debited.amount().to_string(), "{body}");
    assert_eq!(body["price"]["currency"], "USD", "{body}");
    assert!(body["time"].as_str().is_some_and(|t| t.parse::<chrono::DateTime<chrono::Utc>>().is_ok()), "{body}");
    let text = body["text"].as_str().unwrap();
    assert!(text.contains(&format!("for {} USD", debited.amount())), "{text}");
}

#[tokio::test]
async fn a_halt_and_a_resume_pulled_from_outside_reach_a_slack_webhook() {
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    let (url, mut rx) = receiver().await;
    let notify = format!("[notify]\nurl = \"{url}\"\nformat = \"slack\"\nevents = [\"halt\", \"resume\"]\n");
    let engine = engine_notifying(&sb, &notify, ONE_CASE).await;
    let event = |halted: bool| HaltEvent {
        at: chrono::Utc::now(),
        halted,
        kind: "operator".into(),
        reason: "lunch".into(),
        by: "test".into(),
    };
    engine.ledger().record_halt(&event(true)).unwrap();
    engine.tick().await;
    let body = next(&mut rx).await;
    let text = body["text"].as_str().unwrap_or_else(|| panic!("a Slack body: {body}"));
    assert!(text.starts_with("skinbot halted buying: lunch"), "{text}");
    assert_eq!(body.as_object().unwrap().len(), 1, "only `text`: {body}");

    engine.ledger().record_halt(&event(false)).unwrap();
    engine.tick().await;
    assert_eq!(next(&mut rx).await["text"], "skinbot resumed buying");
    // The purchase after the resume is filtered out: nothing more arrives.
    assert!(!engine.ledger().list().unwrap().is_empty(), "it bought after the resume");
    engine.tick().await;
    // Messages go out in order: a halt recorded after that tick is the next one to arrive, so no
    // purchase message was sent in between.
    engine.ledger().record_halt(&event(true)).unwrap();
    engine.tick().await;
    let text = next(&mut rx).await["text"].as_str().unwrap_or_default().to_string();
    assert!(text.starts_with("skinbot halted buying"), "purchases are not in `events`: {text}");
}

/// Accepts connections and never answers (nor reads): the worst webhook.
async fn black_hole() -> (String, mpsc::UnboundedReceiver<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
            let _ = tx.send(());
        }
    });
    (format!("http://{addr}/hook"), rx)
}

async fn five_ticks(engine: &Engine) -> Duration {
    let started = Instant::now();
    let ticks = async {
        for _ in 0..5 {
            engine.tick().await;
        }
    };
    // Far longer than five ticks take (a few seconds in a debug build), far shorter than forever.
    tokio::time::timeout(Duration::from_secs(60), ticks).await.expect("five ticks end while the webhook hangs");
    started.elapsed()
}

#[tokio::test]
async fn a_webhook_that_never_answers_slows_no_tick_and_its_queue_stays_bounded() {
    // Without notifications, for comparison.
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    let plain = engine_for(&sb, "", strategy(ALL_CASES));
    plain.refresh_rates().await;
    plain.refresh_balance().await;
    let baseline = five_ticks(&plain).await;

    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    let (url, mut accepted) = black_hole().await;
    let engine = engine_for(&sb, &format!("[notify]\nurl = \"{url}\"\nqueue = 2\n"), strategy(ALL_CASES));
    // A request that is never answered and never times out: a tick that awaited the network for
    // any message would never end.
    let forever = Tuning { attempts: 1, timeout: Duration::from_secs(24 * 3600), ..Tuning::default() };
    engine.notify_to(Notifier::start_tuned(&engine.config().notify, forever));
    engine.refresh_rates().await;
    engine.refresh_balance().await;
    let took = five_ticks(&engine).await;
    let bought =
        engine.ledger().list().unwrap().iter().filter(|r| matches!(r.state, PurchaseState::Bought { .. })).count();
    assert!(bought >= 4, "enough purchases to fill the queue: {bought}");
    // The webhook was really tried (and is hanging on the first message).
    tokio::time::timeout(Duration::from_secs(10), accepted.recv()).await.expect("the webhook was called");
    eprintln!("5 ticks took {took:?} with a webhook that never answers, {baseline:?} without");
    assert!(took < baseline * 4 + Duration::from_secs(5), "ticks slowed by the webhook: {took:?} against {baseline:?}");
    // One message in flight, two queued, the rest dropped and counted.
    let text = engine.metrics_text();
    let dropped: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("skinbot_notifications_dropped_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no drop counter:\n{text}"));
    let bought = bought as u64;
    assert!(dropped + 3 >= bought && dropped + 2 <= bought, "{bought} purchases, {dropped} dropped");
}

#[test]
fn a_disabled_notifier_sends_nothing() {
    let n = Notifier::start(&config("").notify);
    assert!(!n.enabled());
    n.send(skinbot::notify::Event::resume(chrono::Utc::now()));
    assert_eq!(n.dropped(), 0);
}

#[tokio::test]
async fn a_reload_and_a_refused_edit_reach_the_webhook_with_what_changed_and_where_it_failed() {
    use skinbot::engine::reload::{watch, Reloader, Sources};
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    let (url, mut rx) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = dir.path().join("skinbot.toml");
    std::fs::write(dir.path().join("cases.toml"), ONE_CASE).unwrap();
    let cfg = |per_day: &str| {
        format!("[strategies]\nfiles = [\"cases.toml\"]\n[budget]\nper_day = {per_day}\n[notify]\nurl = \"{url}\"\n")
    };
    std::fs::write(&cfg_path, cfg("\"500\"")).unwrap();
    let sources = Sources { config: Some(cfg_path.clone()), strategies: vec![], dry_run: false };
    let (config, strategies) = sources.load().unwrap();
    let loaded = sources.fingerprint(&config);
    let deps = skinbot::engine::Deps {
        client: crate::helpers::client(&sb),
        ledger: skinbot::ledger::Ledger::temporary().unwrap(),
        clock: Arc::new(skinbot::engine::clock::TokioClock::new()),
    };
    let engine = Engine::new(Arc::new(config), strategies, deps);
    engine.notify_to(Notifier::start(&engine.config().notify));
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(watch(
        Arc::new(Reloader::new(sources, loaded)),
        engine.clone(),
        Duration::from_millis(50),
        shutdown,
    ));

    std::fs::write(&cfg_path, cfg("\"36\"")).unwrap();
    let body = next(&mut rx).await;
    assert_eq!(body["event"], "config_reloaded", "{body}");
    assert_eq!(body["changes"], serde_json::json!(["budget.per_day 500.00 USD → 36.00 USD"]), "{body}");

    std::fs::write(&cfg_path, cfg("\"lots\"")).unwrap();
    let body = next(&mut rx).await;
    assert_eq!(body["event"], "config_refused", "{body}");
    let reason = body["reason"].as_str().unwrap();
    assert!(reason.contains("skinbot.toml:4: field `budget.per_day`"), "{reason}");
    assert_eq!(engine.config().budget.per_day.as_ref().unwrap().to_string(), "36.00 USD", "the old one stays");
    stop.send(true).unwrap();
    task.await.unwrap();
}

#[tokio::test]
async fn a_failed_delivery_and_a_rollback_reach_the_webhook_and_only_the_failure_counts_as_refunded() {
    for (offers, event, status) in [
        (OfferConfig { p_accept: 0.0, p_cancel: 1.0, ..OfferConfig::always_accept() }, "delivery_failed", "canceled"),
        (OfferConfig { p_rollback_supplier: 1.0, ..OfferConfig::always_accept() }, "rollback", "rollback_supplier"),
    ] {
        let sb = sandbox_with(|c| c.offers = offers).await;
        let (url, mut rx) = receiver().await;
        let notify = format!("[notify]\nurl = \"{url}\"\nevents = [\"delivery_failed\", \"rollback\"]\n");
        let engine = engine_notifying(&sb, &notify, ONE_CASE).await;
        engine.tick().await;
        sb.advance(Duration::from_secs(3 * 3600));
        engine.poll().await;

        let body = next(&mut rx).await;
        let record = engine.ledger().list().unwrap().pop().expect("one purchase");
        let PurchaseState::Bought { debited, .. } = record.state else { panic!("not bought: {record:?}") };
        assert_eq!(body["event"], event, "{body}");
        assert_eq!(body["offer"], status, "{body}");
        assert_eq!(body["custom_id"], record.intent.custom_id.to_string(), "{body}");
        assert_eq!(body["price"]["amount"], debited.amount().to_string(), "{body}");
        assert!(body["text"].as_str().unwrap().contains(&format!("{} USD", debited.amount())), "{body}");
        let text = engine.metrics_text();
        let refunded: Option<f64> = text
            .lines()
            .find_map(|l| l.strip_prefix("skinbot_refunded_total{currency=\"USD\"} "))
            .map(|v| v.parse().unwrap());
        if event == "delivery_failed" {
            assert_eq!(refunded, Some(debited.amount().to_string().parse::<f64>().unwrap()), "{text}");
        } else {
            assert_eq!(refunded, None, "a rollback is not assumed refunded:\n{text}");
        }
    }
}

#[tokio::test]
async fn a_message_answered_503_is_retried_with_backoff_until_it_is_taken() {
    use std::sync::atomic::{AtomicU32, Ordering};
    let (tx, mut rx) = mpsc::unbounded_channel::<(u32, Instant, Value)>();
    let calls = Arc::new(AtomicU32::new(0));
    let app = Router::new().route(
        "/hook",
        post(move |Json(body): Json<Value>| {
            let (calls, tx) = (calls.clone(), tx.clone());
            async move {
                let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
                let _ = tx.send((n, Instant::now(), body));
                if n < 3 {
                    axum::http::StatusCode::SERVICE_UNAVAILABLE
                } else {
                    axum::http::StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let settings = config(&format!("[notify]\nurl = \"http://{addr}/hook\"\n")).notify;
    let tuning = Tuning { first_delay: Duration::from_millis(50), ..Tuning::default() };
    let n = Notifier::start_tuned(&settings, tuning);
    n.send(skinbot::notify::Event::resume(chrono::Utc::now()));
    n.send(skinbot::notify::Event::halt(chrono::Utc::now(), "after the resume"));
    let mut seen = Vec::new();
    while seen.len() < 4 {
        let got = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.expect("a call within 10 s");
        seen.push(got.expect("the receiver runs"));
    }
    let events: Vec<(u32, &str)> = seen.iter().map(|(n, _, b)| (*n, b["event"].as_str().unwrap())).collect();
    assert_eq!(events, vec![(1, "resume"), (2, "resume"), (3, "resume"), (4, "halt")], "in order, each until taken");
    // 50 ms, then 100 ms: the wait doubles.
    assert!(seen[1].1 - seen[0].1 >= Duration::from_millis(50));
    assert!(seen[2].1 - seen[1].1 >= Duration::from_millis(100));
}

#[tokio::test]
async fn a_strategy_edit_saved_with_a_restart_only_change_is_still_reported() {
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    let (url, mut rx) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cases.toml");
    std::fs::write(&file, ONE_CASE).unwrap();
    let load = || vec![skinbot::strategy::file::Strategy::load(&file).unwrap().unwrap()];
    let notify = format!("[notify]\nurl = \"{url}\"\n");
    let engine = engine_for(&sb, &notify, load());
    engine.notify_to(Notifier::start(&engine.config().notify));

    std::fs::write(&file, ONE_CASE.replace("\"1 usd\"", "\"0.80 usd\"")).unwrap();
    let notes = engine.reload(config(&format!("{notify}[metrics]\nlisten = \"127.0.0.1:9898\"\n")), load());
    assert_eq!(notes, vec!["[metrics] changed: restart skinbot to apply".to_string()]);
    let body = next(&mut rx).await;
    assert_eq!(body["event"], "config_reloaded", "{body}");
    assert_eq!(body["changes"], serde_json::json!(["a strategy file changed"]), "{body}");
}
