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
