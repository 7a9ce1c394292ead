//! The ledger on disk: survives restarts, writes batches atomically, refuses to reopen final purchases,
//! detects tampering, stores only price changes — and matches a plain in-memory model over random
//! operation sequences with restarts.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use skinbot::domain::{
    BuyId, Candidate, CustomId, Game, Intent, ItemId, OfferStatus, PurchaseRecord, PurchaseState, Rates, Usd,
};
use skinbot::ledger::{Ledger, LedgerError};

fn t(second: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap() + Duration::seconds(second)
}

/// What purchases created at or after `since` count against the budget, summed from the records.
fn committed_since(ledger: &Ledger, since: DateTime<Utc>) -> Usd {
    ledger.list_since(since).unwrap().iter().map(PurchaseRecord::committed).sum()
}

fn usd(d: Decimal) -> Usd {
    Usd::new(d)
}

fn intent_record(ledger: &Ledger, at: DateTime<Utc>, strategy: &str, name: &str, max: Usd) -> PurchaseRecord {
    let intent = Intent {
        custom_id: ledger.next_custom_id(at).unwrap(),
        candidate: Candidate {
            strategy: strategy.into(),
            rule: "rule".into(),
            priority: 0,
            game: Game::Cs2,
            name: name.into(),
            item_id: None,
            price_seen: max,
            max_price: max,
        },
    };
    PurchaseRecord::new(intent, at, Rates::new(), "config-hash".into())
}

fn bought(buy_id: u64, debited: Usd, offer: OfferStatus) -> PurchaseState {
    PurchaseState::Bought {
        buy_id: BuyId::new(buy_id),
        item_id: ItemId::new(buy_id + 1000),
        debited,
        offer,
        tradeofferid: None,
    }
}

/// Opens the ledger in `dir`. A dropped sled database releases its file lock from a background thread, so
/// an immediate reopen in the same process can briefly see it held.
fn reopen(dir: &Path) -> Ledger {
    for _ in 0..100 {
        match Ledger::open(dir) {
            Ok(ledger) => return ledger,
            Err(LedgerError::Locked { .. }) => std::thread::sleep(std::time::Duration::from_millis(20)),
            Err(e) => panic!("reopen failed: {e}"),
        }
    }
    panic!("the ledger at {} stayed locked", dir.display())
}

#[test]
fn the_ledger_keeps_purchases_events_and_prices_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path()).unwrap();
    let a = intent_record(&ledger, t(0), "sniper", "AK", usd(dec!(12.50)));
    let b = intent_record(&ledger, t(1), "sniper", "M4", usd(dec!(3)));
    ledger.record_intents(&[a.clone(), b.clone()]).unwrap();
    let a_now = ledger
        .transition(&a.intent.custom_id, bought(1, usd(dec!(12.40)), OfferStatus::WaitingAccept), t(2), "")
        .unwrap();
    ledger.record_price(Game::Cs2, "AK", t(0), usd(dec!(12.40))).unwrap();
    ledger.record_price(Game::Cs2, "AK", t(5), usd(dec!(13))).unwrap();
    let last_id = ledger.next_custom_id(t(3)).unwrap();
    drop(ledger);

    let ledger = reopen(dir.path());
    assert_eq!(ledger.list().unwrap(), vec![a_now.clone(), b.clone()]);
    assert_eq!(ledger.get(&a.intent.custom_id).unwrap(), Some(a_now.clone()));
    assert_eq!(ledger.open_purchases().unwrap(), vec![a_now, b]);
    assert_eq!(committed_since(&ledger, t(0)), usd(dec!(15.40)));
    assert_eq!(ledger.verify_chain().unwrap(), 3);
    assert_eq!(
        ledger.price_history(Game::Cs2, "AK", t(1)).unwrap(),
        vec![(t(0), usd(dec!(12.40))), (t(5), usd(dec!(13)))]
    );
    // The price cache starts empty after a restart but still knows the stored price.
    assert!(!ledger.record_price(Game::Cs2, "AK", t(6), usd(dec!(13))).unwrap());
    assert!(ledger.next_custom_id(t(3)).unwrap() > last_id);
}

#[test]
fn a_second_open_of_the_same_ledger_says_it_is_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Ledger::open(dir.path()).unwrap();
    let err = Ledger::open(dir.path()).unwrap_err();
    assert!(matches!(err, LedgerError::Locked { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains(&dir.path().display().to_string()), "{message}");
    assert!(message.contains("in use by another skinbot process"), "{message}");
}

#[test]
fn a_batch_of_intents_with_a_duplicate_id_writes_nothing_even_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path()).unwrap();
    let first = intent_record(&ledger, t(0), "s", "AK", usd(dec!(10)));
    ledger.record_intents(std::slice::from_ref(&first)).unwrap();
    let fresh = intent_record(&ledger, t(1), "s", "M4", usd(dec!(20)));
    let err = ledger.record_intents(&[fresh.clone(), first.clone()]).unwrap_err();
    assert!(matches!(err, LedgerError::DuplicateId { .. }), "{err}");
    let err = ledger.record_intents(&[fresh.clone(), fresh.clone()]).unwrap_err();
    assert!(matches!(err, LedgerError::DuplicateId { .. }), "{err}");
    drop(ledger);

    let ledger = reopen(dir.path());
    assert_eq!(ledger.list().unwrap(), vec![first]);
    assert_eq!(committed_since(&ledger, t(0)), usd(dec!(10)));
    assert_eq!(ledger.verify_chain().unwrap(), 1);
}

#[test]
fn transitions_out_of_final_states_are_refused() {
    let ledger = Ledger::temporary().unwrap();
    let records: Vec<_> = (0..3).map(|i| intent_record(&ledger, t(i), "s", "AK", usd(dec!(10)))).collect();
    ledger.record_intents(&records).unwrap();
    let [nb, canceled, accepted] = [0, 1, 2].map(|i| records[i].intent.custom_id.clone());
    ledger.transition(&nb, PurchaseState::NotBought { code: 5, reason: "sold".into() }, t(5), "").unwrap();
    ledger.transition(&canceled, bought(2, usd(dec!(9)), OfferStatus::Canceled), t(5), "").unwrap();
    ledger.transition(&accepted, bought(3, usd(dec!(9)), OfferStatus::Accepted), t(5), "").unwrap();

    for (id, to) in [
        (&nb, PurchaseState::Pending),
        (&nb, PurchaseState::Sent),
        (&canceled, bought(2, usd(dec!(9)), OfferStatus::Accepted)),
        (&canceled, PurchaseState::Unknown { reason: "?".into() }),
        (&accepted, bought(3, usd(dec!(9)), OfferStatus::WaitingAccept)),
    ] {
        let err = ledger.transition(id, to, t(6), "").unwrap_err();
        assert!(matches!(err, LedgerError::FinalState { .. }), "{err}");
        assert!(err.to_string().contains(id.as_str()), "{err}");
    }
    // Not bought is final but no dead end: the exchange showing the purchase after all is recorded.
    let late = ledger.transition(&nb, bought(1, usd(dec!(9)), OfferStatus::WaitingAccept), t(7), "").unwrap();
    assert!(matches!(late.state, PurchaseState::Bought { .. }));
    assert_eq!(ledger.open_purchases().unwrap().len(), 1, "followed again until its offer is final");
    // The one way out of a final state: Steam Trade Protection rolls an accepted trade back.
    let rolled =
        ledger.transition(&accepted, bought(3, usd(dec!(9)), OfferStatus::RollbackSupplier), t(7), "").unwrap();
    assert_eq!(rolled.state.label(), "rollback_supplier");
    assert_eq!(ledger.verify_chain().unwrap(), 8);
}

#[test]
fn a_tampered_event_is_detected_by_chain_verification() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path()).unwrap();
    let r = intent_record(&ledger, t(0), "s", "AK", usd(dec!(10)));
    ledger.record_intents(std::slice::from_ref(&r)).unwrap();
    ledger.transition(&r.intent.custom_id, bought(1, usd(dec!(9.99)), OfferStatus::WaitingAccept), t(1), "").unwrap();
    ledger.transition(&r.intent.custom_id, bought(1, usd(dec!(9.99)), OfferStatus::Accepted), t(2), "").unwrap();
    assert_eq!(ledger.verify_chain().unwrap(), 3);
    drop(ledger);

    // Someone edits the debit in event 2 with sled directly.
    {
        let db = (0..100)
            .find_map(|_| {
                sled::open(dir.path()).ok().or_else(|| {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    None
                })
            })
            .unwrap();
        let events = db.open_tree("events").unwrap();
        let key = 2u64.to_be_bytes();
        let value = events.get(key).unwrap().unwrap();
        let text = String::from_utf8(value.to_vec()).unwrap();
        assert!(text.contains("\"9.99\""), "{text}");
        events.insert(key, text.replace("\"9.99\"", "\"0.99\"").as_bytes()).unwrap();
        db.flush().unwrap();
    }

    let ledger = reopen(dir.path());
    let err = ledger.verify_chain().unwrap_err();
    assert!(matches!(err, LedgerError::ChainBroken { seq: 2, .. }), "{err}");
}

#[test]
fn price_history_stores_only_changes_and_its_median_is_time_weighted() {
    let ledger = Ledger::temporary().unwrap();
    let ticks = [(0, dec!(10)), (60, dec!(10)), (120, dec!(30)), (180, dec!(30)), (240, dec!(20)), (300, dec!(20))];
    let stored: Vec<bool> =
        ticks.iter().map(|(s, p)| ledger.record_price(Game::Rust, "Door", t(*s), usd(*p)).unwrap()).collect();
    assert_eq!(stored, [true, false, true, false, true, false]);
    let history = ledger.price_history(Game::Rust, "Door", t(0)).unwrap();
    assert_eq!(history, vec![(t(0), usd(dec!(10))), (t(120), usd(dec!(30))), (t(240), usd(dec!(20)))]);
    // Over [0, 600]: 10 for 120 s, 30 for 120 s, 20 for 360 s. Sorted by price: 10 (120), 20 (480 ≥ 300).
    assert_eq!(ledger.median_price(Game::Rust, "Door", t(0), t(600)).unwrap(), Some(usd(dec!(20))));
    // Over [60, 300]: 10 for 60 s, 30 for 120 s, 20 for 60 s: 10 (60), 20 (120 ≥ 120).
    assert_eq!(ledger.median_price(Game::Rust, "Door", t(60), t(300)).unwrap(), Some(usd(dec!(20))));
    // Over [100, 250]: 10 for 20 s, 30 for 120 s, 20 for 10 s: the expensive spell is most of it.
    assert_eq!(ledger.median_price(Game::Rust, "Door", t(100), t(250)).unwrap(), Some(usd(dec!(30))));
    assert_eq!(ledger.median_price(Game::Rust, "Window", t(0), t(600)).unwrap(), None);
}

// ---------------------------------------------------------------------------------------------------------
// Model-based: random operations against a BTreeMap model, with restarts.

const NAMES: [&str; 3] = ["AK", "M4", "AWP"];
const STRATEGIES: [&str; 2] = ["a", "b"];

#[derive(Debug, Clone)]
struct NewIntent {
    max_cents: u32,
    strategy: usize,
    name: usize,
    /// Sub-second offset of `created_at` after the id's clock reading (ids and times need not agree).
    delay_ms: u16,
}

#[derive(Debug, Clone)]
enum Target {
    Sent,
    Unknown,
    NotBought,
    /// Offer status index into `OFFERS`; `other_debit` asks for a debit that contradicts a recorded one.
    Bought {
        offer: usize,
        other_debit: bool,
        trade: bool,
    },
    Pending,
}

const OFFERS: [OfferStatus; 6] = [
    OfferStatus::CreatingTrade,
    OfferStatus::WaitingAccept,
    OfferStatus::Accepted,
    OfferStatus::Canceled,
    OfferStatus::RollbackUser,
    OfferStatus::TradeCreateError,
];

#[derive(Debug, Clone)]
enum Op {
    Intents { new: Vec<NewIntent>, repeat_existing: Option<usize>, repeat_in_batch: bool },
    Transition { pick: usize, to: Target },
    Price { game: usize, name: usize, cents: u32 },
    Advance { seconds: u16 },
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    let new_intent = (1u32..5000, 0..STRATEGIES.len(), 0..NAMES.len(), 0u16..1500)
        .prop_map(|(max_cents, strategy, name, delay_ms)| NewIntent { max_cents, strategy, name, delay_ms });
    let target = prop_oneof![
        Just(Target::Sent),
        Just(Target::Unknown),
        Just(Target::NotBought),
        Just(Target::Pending),
        (0..OFFERS.len(), prop::bool::weighted(0.1), any::<bool>())
            .prop_map(|(offer, other_debit, trade)| Target::Bought { offer, other_debit, trade }),
    ];
    prop_oneof![
        3 => (prop::collection::vec(new_intent, 1..4), prop::option::weighted(0.15, 0usize..64), prop::bool::weighted(0.1))
            .prop_map(|(new, repeat_existing, repeat_in_batch)| Op::Intents { new, repeat_existing, repeat_in_batch }),
        4 => (0usize..64, target).prop_map(|(pick, to)| Op::Transition { pick, to }),
        // Few items and prices, so that changes within one second and returns to a former price happen.
        3 => (0..2usize, 0..2usize, 99u32..102).prop_map(|(game, name, cents)| Op::Price { game, name, cents }),
        2 => (0u16..90).prop_map(|seconds| Op::Advance { seconds }),
        1 => Just(Op::Reopen),
    ]
}

#[derive(Default)]
struct Model {
    records: BTreeMap<CustomId, PurchaseRecord>,
    events: u64,
    prices: BTreeMap<(Game, &'static str), Vec<(i64, Usd)>>,
}

/// The transition rules as the design states them, written independently of the ledger's.
fn model_allows(from: &PurchaseState, to: &PurchaseState) -> Option<bool> {
    use PurchaseState::*;
    if from == to {
        return Some(false); // no-op
    }
    match (from, to) {
        (Pending | Sent | Unknown { .. }, _) => Some(true),
        // Not bought, until the exchange shows it bought after all.
        (NotBought { .. }, Bought { .. }) => Some(true),
        (NotBought { .. }, _) => None,
        (
            Bought { buy_id: b1, item_id: i1, debited: d1, offer: o1, tradeofferid: t1 },
            Bought { buy_id: b2, item_id: i2, debited: d2, offer: o2, tradeofferid: t2 },
        ) => {
            if (b1, i1, d1) != (b2, i2, d2) {
                None
            } else if o1 == o2 {
                match (t1, t2) {
                    (_, None) => Some(false),
                    (None, Some(_)) => Some(true),
                    (Some(x), Some(y)) => (x == y).then_some(false),
                }
            } else if !o1.is_final() {
                Some(true)
            } else {
                (*o1 == OfferStatus::Accepted
                    && matches!(o2, OfferStatus::RollbackUser | OfferStatus::RollbackSupplier))
                .then_some(true)
            }
        }
        // Bought is bought: the debit never goes back to a reservation or to nothing.
        (Bought { .. }, _) => None,
    }
}

/// The lower time-weighted median by brute force: one sample per second of [since, now).
fn model_median(steps: &[(i64, Usd)], since: i64, now: i64) -> Option<Usd> {
    let mut samples: Vec<Usd> =
        (since..now).filter_map(|s| steps.iter().rev().find(|(at, _)| *at <= s).map(|(_, p)| *p)).collect();
    if samples.is_empty() {
        return steps.iter().rev().find(|(at, _)| *at <= now).map(|(_, p)| *p);
    }
    samples.sort();
    Some(samples[(samples.len() - 1) / 2])
}

fn check(ledger: &Ledger, model: &Model, now: i64) -> Result<(), TestCaseError> {
    let mut expected: Vec<&PurchaseRecord> = model.records.values().collect();
    expected.sort_by(|a, b| (a.created_at, &a.intent.custom_id).cmp(&(b.created_at, &b.intent.custom_id)));
    let listed = ledger.list().unwrap();
    prop_assert_eq!(listed.iter().collect::<Vec<_>>(), expected.clone());
    for (id, record) in &model.records {
        prop_assert_eq!(ledger.get(id).unwrap(), Some(record.clone()));
    }
    let open: Vec<_> = expected.iter().copied().filter(|r| !r.state.is_final()).cloned().collect();
    prop_assert_eq!(ledger.open_purchases().unwrap(), open);
    let mut sinces = vec![t(-10), t(now), t(now / 2) + Duration::milliseconds(500)];
    sinces.extend(expected.iter().map(|r| r.created_at));
    for since in sinces {
        let in_window = expected.iter().filter(|r| r.created_at >= since);
        let sum: Usd = in_window.clone().map(|r| r.committed()).sum();
        prop_assert_eq!(committed_since(ledger, since), sum, "since {}", since);
        let listed: Vec<_> = in_window.map(|r| (*r).clone()).collect();
        prop_assert_eq!(ledger.list_since(since).unwrap(), listed);
    }
    prop_assert_eq!(ledger.verify_chain().unwrap(), model.events);
    for ((game, name), steps) in &model.prices {
        let stored = ledger.price_history(*game, name, t(-10)).unwrap();
        let expected: Vec<_> = steps.iter().map(|(s, p)| (t(*s), *p)).collect();
        prop_assert_eq!(stored, expected);
        let median = ledger.median_price(*game, name, t(now / 3), t(now)).unwrap();
        prop_assert_eq!(median, model_median(steps, now / 3, now), "{} {}", game, name);
    }
    Ok(())
}

fn run_model(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Some(Ledger::open(dir.path()).unwrap());
    let mut model = Model::default();
    let mut now: i64 = 0;
    for op in ops {
        let l = ledger.as_ref().unwrap();
        match op {
            Op::Intents { new, repeat_existing, repeat_in_batch } => {
                let mut batch: Vec<PurchaseRecord> = new
                    .iter()
                    .map(|n| {
                        let mut r = intent_record(
                            l,
                            t(now),
                            STRATEGIES[n.strategy],
                            NAMES[n.name],
                            usd(Decimal::new(n.max_cents.into(), 2)),
                        );
                        r.created_at = t(now) + Duration::milliseconds(n.delay_ms.into());
                        r
                    })
                    .collect();
                let existing =
                    repeat_existing.and_then(|i| model.records.values().nth(i % model.records.len().max(1)).cloned());
                let mut duplicate = false;
                if let Some(mut old) = existing {
                    old.created_at = t(now);
                    old.transitions.truncate(1);
                    old.state = PurchaseState::Pending;
                    batch.push(old);
                    duplicate = true;
                }
                if repeat_in_batch {
                    batch.push(batch[0].clone());
                    duplicate = true;
                }
                let result = l.record_intents(&batch);
                if duplicate {
                    prop_assert!(matches!(result, Err(LedgerError::DuplicateId { .. })), "{:?}", result);
                } else {
                    result.unwrap();
                    model.events += batch.len() as u64;
                    for r in batch {
                        model.records.insert(r.intent.custom_id.clone(), r);
                    }
                }
            }
            Op::Transition { pick, to } => {
                let Some(record) = model.records.values().nth(pick % model.records.len().max(1)).cloned() else {
                    continue;
                };
                let id = record.intent.custom_id.clone();
                // The buy id and debit a bought purchase gets; `other_debit` contradicts them.
                let seq: u64 = id.as_str().rsplit('-').next().and_then(|s| s.parse().ok()).unwrap_or(0);
                let to = match to {
                    Target::Sent => PurchaseState::Sent,
                    Target::Unknown => PurchaseState::Unknown { reason: "timeout".into() },
                    Target::NotBought => PurchaseState::NotBought { code: 5, reason: "sold".into() },
                    Target::Pending => PurchaseState::Pending,
                    Target::Bought { offer, other_debit, trade } => PurchaseState::Bought {
                        buy_id: BuyId::new(seq),
                        item_id: ItemId::new(seq + 1),
                        debited: if other_debit { Usd::ZERO } else { record.intent.max_price },
                        offer: OFFERS[offer].clone(),
                        tradeofferid: trade.then(|| format!("offer-{seq}")),
                    },
                };
                let result = l.transition(&id, to.clone(), t(now), "model");
                match model_allows(&record.state, &to) {
                    Some(true) => {
                        let got = result.unwrap();
                        let mut want = record.clone();
                        want.transition(to, t(now), "model");
                        prop_assert_eq!(&got, &want);
                        model.records.insert(id, want);
                        model.events += 1;
                    }
                    Some(false) => prop_assert_eq!(result.unwrap(), record),
                    None => prop_assert!(
                        matches!(result, Err(LedgerError::FinalState { .. } | LedgerError::Conflict { .. })),
                        "{:?}",
                        result
                    ),
                }
            }
            Op::Price { game, name, cents } => {
                let (game, name, price) = (Game::ALL[game], NAMES[name], usd(Decimal::new(cents.into(), 2)));
                let stored = l.record_price(game, name, t(now), price).unwrap();
                let steps = model.prices.entry((game, name)).or_default();
                let changed = match steps.last().copied() {
                    Some((_, last)) if last == price => false,
                    Some((at, _)) if at == now => {
                        steps.pop();
                        if steps.last().is_none_or(|(_, before)| *before != price) {
                            steps.push((now, price));
                        }
                        true
                    }
                    _ => {
                        steps.push((now, price));
                        true
                    }
                };
                prop_assert_eq!(stored, changed);
            }
            Op::Advance { seconds } => now += i64::from(seconds),
            Op::Reopen => {
                drop(ledger.take());
                ledger = Some(reopen(dir.path()));
            }
        }
        check(ledger.as_ref().unwrap(), &model, now)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_ledger_matches_an_in_memory_model_across_restarts(ops in prop::collection::vec(op(), 1..40)) {
        run_model(ops)?;
    }
}

// Pinned sequences. Each was shrunk by the model test from a deliberately broken ledger (a mutation check
// that the model catches the bug), so each one fails if that bug ever comes back.

fn one_intent(delay_ms: u16) -> Op {
    Op::Intents {
        new: vec![NewIntent { max_cents: 100, strategy: 0, name: 0, delay_ms }],
        repeat_existing: None,
        repeat_in_batch: false,
    }
}

#[test]
fn regression_a_price_that_returns_within_the_second_leaves_no_entry() {
    run_model(vec![
        Op::Price { game: 0, name: 0, cents: 100 },
        Op::Advance { seconds: 1 },
        Op::Price { game: 0, name: 0, cents: 101 },
        Op::Price { game: 0, name: 0, cents: 100 },
    ])
    .unwrap();
}

#[test]
fn regression_a_purchase_created_a_second_after_its_id_still_counts_since_then() {
    run_model(vec![one_intent(1200)]).unwrap();
}

#[test]
fn regression_a_final_purchase_leaves_the_open_index_and_stays_out_after_a_restart() {
    run_model(vec![one_intent(0), Op::Transition { pick: 0, to: Target::NotBought }, Op::Reopen]).unwrap();
}

#[tokio::test]
async fn while_the_bot_holds_the_ledger_it_can_still_be_read_through_the_bot() {
    use skinbot::ledger::remote;
    let state = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(&state.path().join("ledger")).unwrap();
    let now = chrono::Utc::now();
    let id = ledger.next_custom_id(now).unwrap();
    let intent = skinbot::domain::Intent {
        custom_id: id.clone(),
        candidate: skinbot::domain::Candidate {
            strategy: "s".into(),
            rule: "r".into(),
            priority: 0,
            game: skinbot::domain::Game::Cs2,
            name: "Recoil Case".into(),
            item_id: None,
            price_seen: skinbot::domain::Usd::parse("0.31").unwrap(),
            max_price: skinbot::domain::Usd::parse("0.31").unwrap(),
        },
    };
    ledger
        .record_intents(&[skinbot::domain::PurchaseRecord::new(intent, now, Default::default(), "h".into())])
        .unwrap();
    let (tx, rx) = tokio::sync::watch::channel(false);
    let server = remote::serve(ledger.clone(), state.path(), rx).await.unwrap();

    // A second process could not open it…
    let dir = state.path().join("ledger");
    let locked = tokio::task::spawn_blocking(move || Ledger::open(&dir).map(drop)).await.unwrap();
    assert!(matches!(locked, Err(skinbot::ledger::LedgerError::Locked { .. })));
    // …but asks the running bot.
    let records: Vec<skinbot::domain::PurchaseRecord> = remote::ask(state.path(), "/ledger/records").await.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].intent.custom_id, id);
    let report: remote::ChainReport = remote::ask(state.path(), "/ledger/verify").await.unwrap();
    assert_eq!(report.events, 1);

    // Without the token it refuses.
    let control: remote::ControlFile =
        serde_json::from_str(&std::fs::read_to_string(remote::control_path(state.path())).unwrap()).unwrap();
    let status = reqwest::get(format!("http://{}/ledger/records", control.addr)).await.unwrap().status();
    assert_eq!(status, reqwest::StatusCode::UNAUTHORIZED);

    tx.send(true).unwrap();
    server.await.unwrap();
    assert!(!remote::control_path(state.path()).exists(), "the control file goes with the bot");
}
