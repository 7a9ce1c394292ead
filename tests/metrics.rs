//! The metrics endpoint against a sandbox: a purchase scraped from `/metrics` and read back with a
//! Prometheus text parser; `/health` following a halt (pulled through the ledger, as `skinbot halt`
//! does) and a stale tick.

use std::sync::Arc;
use std::time::Duration;

use skinbot::engine::{Deps, Engine};
use skinbot::ledger::{HaltEvent, Ledger};
use skinbot::sandbox::OfferConfig;

use crate::engine::{config, setup, strategy};
use crate::helpers::{client, sandbox_with, ManualClock};

const ONE_CASE: &str = "[[rules]]\nselect = { names = [\"Recoil Case\"] }\nmax_price = \"1 usd\"\nper_item_total = 1\n";

async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let r = reqwest::get(format!("http://{addr}{path}")).await.expect("the endpoint answers");
    (r.status().as_u16(), r.text().await.unwrap())
}

fn scrape(text: &str) -> prometheus_parse::Scrape {
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("parses as Prometheus text")
}

/// The value of the sample `name` whose labels include `labels` (counters written the OpenMetrics
/// way, `_total`, read as untyped by the parser).
fn value(s: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    s.samples.iter().filter(|x| x.metric == name && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v))).find_map(
        |x| match x.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => Some(v),
            _ => None,
        },
    )
}

#[tokio::test]
async fn a_purchase_is_scraped_from_metrics_and_health_turns_503_with_the_reason_on_a_halt() {
    let (sb, engine) = setup("", strategy(ONE_CASE)).await;
    let (_stop, rx) = tokio::sync::watch::channel(false);
    let (addr, _server) =
        skinbot::metrics::server::serve(Arc::clone(&engine), "127.0.0.1:0".parse().unwrap(), rx).await.unwrap();
    let (status, body) = get(addr, "/health").await;
    assert_eq!(status, 200, "starting, within the staleness bound: {body}");

    engine.refresh_rates().await;
    engine.refresh_balance().await;
    engine.tick().await;
    assert_eq!(sb.purchases().len(), 1, "the sandbox sold one case");

    let (status, text) = get(addr, "/metrics").await;
    assert_eq!(status, 200);
    let s = scrape(&text);
    assert_eq!(value(&s, "skinbot_orders_total", &[("outcome", "bought")]), Some(1.0), "{text}");
    let spent = value(&s, "skinbot_spent_total", &[("currency", "USD")]).unwrap_or(0.0);
    assert!(spent > 0.0 && spent <= 1.0, "spent {spent} USD:\n{text}");
    let buys = s
        .samples
        .iter()
        .find(|x| x.metric == "skinbot_api_request_duration_seconds" && x.labels.get("method") == Some("market_buy"))
        .unwrap_or_else(|| panic!("no market_buy latency:\n{text}"));
    let prometheus_parse::Value::Histogram(buckets) = &buys.value else { panic!("not a histogram: {buys:?}") };
    let all = buckets.iter().find(|b| b.less_than.is_infinite()).expect("+Inf bucket");
    assert_eq!(all.count, 1.0, "one market_buy observed: {buckets:?}");
    assert_eq!(value(&s, "skinbot_halted", &[]), Some(0.0), "{text}");
    let last = value(&s, "skinbot_last_successful_tick_timestamp_seconds", &[]).unwrap_or(0.0);
    assert!((last - chrono::Utc::now().timestamp() as f64).abs() < 60.0, "last tick at {last}:\n{text}");
    let (status, body) = get(addr, "/health").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("ok: last successful tick"), "{body}");

    // A halt from outside (what `skinbot halt` writes), noticed when scraped.
    let halt = HaltEvent {
        at: chrono::Utc::now(),
        halted: true,
        kind: "operator".into(),
        reason: "checking the metrics".into(),
        by: "test".into(),
    };
    engine.ledger().record_halt(&halt).unwrap();
    let (status, body) = get(addr, "/health").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("halted: checking the metrics"), "{body}");
    let s = scrape(&get(addr, "/metrics").await.1);
    assert_eq!(value(&s, "skinbot_halted", &[]), Some(1.0));
}

#[tokio::test]
async fn health_is_503_once_the_last_successful_tick_is_older_than_stale_after() {
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    let clock = ManualClock::new();
    let deps = Deps { client: client(&sb), ledger: Ledger::temporary().unwrap(), clock: clock.clone() };
    let engine = Engine::new(Arc::new(config("[metrics]\nstale_after_secs = 30\n")), strategy(ONE_CASE), deps);
    engine.refresh_rates().await;
    engine.tick().await;
    assert!(engine.health().is_ok(), "{:?}", engine.health());
    clock.advance(Duration::from_secs(31));
    let why = engine.health().unwrap_err();
    assert!(why.starts_with("stale: the last successful tick was 31 s ago (more than 30 s)"), "{why}");
    engine.tick().await;
    assert!(engine.health().is_ok(), "a tick makes it healthy again: {:?}", engine.health());

    // A tick that cannot read its price list is not a successful one.
    sb.set_faults(skinbot::sandbox::Faults {
        http_error_rate: 1.0,
        only_methods: vec!["market_pricelist".into()],
        ..skinbot::sandbox::Faults::none()
    });
    clock.advance(Duration::from_secs(31));
    engine.tick().await;
    assert!(engine.health().unwrap_err().starts_with("stale"), "{:?}", engine.health());
}

#[tokio::test]
async fn without_a_tick_since_start_health_turns_stale_after_the_bound() {
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    let clock = ManualClock::new();
    let deps = Deps { client: client(&sb), ledger: Ledger::temporary().unwrap(), clock: clock.clone() };
    let engine = Engine::new(Arc::new(config("")), strategy(ONE_CASE), deps);
    assert_eq!(engine.health(), Ok("starting: no tick yet".to_string()));
    // Default bound: three intervals of the 3-second price-list schedule, at least 30 s.
    clock.advance(Duration::from_secs(31));
    assert_eq!(engine.health(), Err("stale: no successful tick in the 30 s since start".to_string()));
}

#[tokio::test]
async fn a_tick_that_cannot_convert_its_limits_to_usd_is_not_a_successful_one() {
    let sb = sandbox_with(|c| c.offers = OfferConfig::always_accept()).await;
    let clock = ManualClock::new();
    let deps = Deps { client: client(&sb), ledger: Ledger::temporary().unwrap(), clock: clock.clone() };
    let cfg = "[budget]\ncurrency = \"eur\"\nrates_max_age_secs = 60\n[metrics]\nstale_after_secs = 30\n";
    let engine = Engine::new(Arc::new(config(cfg)), strategy(ONE_CASE), deps);
    engine.refresh_rates().await;
    engine.tick().await;
    assert!(engine.health().is_ok(), "fresh rates: {:?}", engine.health());
    // The rates go stale (their job keeps failing): EUR limits cannot be checked, nothing is bought.
    clock.advance(Duration::from_secs(61));
    engine.tick().await;
    let why = engine.health().unwrap_err();
    assert!(why.starts_with("stale: the last successful tick was 61 s ago"), "{why}");
}

#[tokio::test]
async fn health_is_503_paused_while_the_exchange_says_it_is_down() {
    let (sb, engine) = setup("", strategy(ONE_CASE)).await;
    let (_stop, rx) = tokio::sync::watch::channel(false);
    let (addr, _server) =
        skinbot::metrics::server::serve(Arc::clone(&engine), "127.0.0.1:0".parse().unwrap(), rx).await.unwrap();
    engine.refresh_rates().await;
    engine.tick().await;
    assert_eq!(get(addr, "/health").await.0, 200);
    sb.set_faults(skinbot::sandbox::Faults {
        unavailable: Some("site_off".into()),
        ..skinbot::sandbox::Faults::none()
    });
    engine.check_status().await;
    engine.tick().await;
    let (status, body) = get(addr, "/health").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("paused: "), "{body}");
    sb.set_faults(skinbot::sandbox::Faults::none());
    engine.check_status().await;
    assert_eq!(get(addr, "/health").await.0, 200, "back when the exchange is");
}

#[tokio::test]
async fn a_dry_runs_simulated_fills_are_not_counted_as_bought_or_spent() {
    let (sb, engine) = setup("mode = \"dry-run\"\n", strategy(ONE_CASE)).await;
    engine.refresh_rates().await;
    engine.refresh_balance().await;
    engine.tick().await;
    assert!(sb.purchases().is_empty(), "a dry run sends nothing");
    let records = engine.ledger().list().unwrap();
    assert!(
        records.iter().any(|r| matches!(r.state, skinbot::domain::PurchaseState::Bought { .. })),
        "a simulated fill: {records:?}"
    );
    let text = engine.metrics_text();
    let s = scrape(&text);
    assert_eq!(value(&s, "skinbot_orders_total", &[("outcome", "bought")]), None, "{text}");
    assert_eq!(value(&s, "skinbot_spent_total", &[("currency", "USD")]), None, "{text}");
    assert_eq!(value(&s, "skinbot_halted", &[]), Some(0.0), "the rest is exported: {text}");
}
