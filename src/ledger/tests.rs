//! Unit tests of the ledger's methods, on temporary databases.

use chrono::{DateTime, Duration, TimeZone, Utc};
use rust_decimal_macros::dec;

use super::*;
use crate::domain::{BuyId, Candidate, Intent, ItemId, OfferStatus, Rates};

fn t(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap() + Duration::minutes(minute)
}

/// What purchases created at or after `since` count against the budget, summed from the records.
fn committed_since(ledger: &Ledger, since: DateTime<Utc>) -> Usd {
    ledger.list_since(since).unwrap().iter().map(PurchaseRecord::committed).sum()
}

fn usd(d: rust_decimal::Decimal) -> Usd {
    Usd::new(d)
}

fn record(ledger: &Ledger, at: DateTime<Utc>, strategy: &str, name: &str, max: Usd) -> PurchaseRecord {
    let intent = Intent {
        custom_id: ledger.next_custom_id(at).unwrap(),
        candidate: Candidate {
            strategy: strategy.into(),
            rule: "r1".into(),
            priority: 0,
            game: Game::Cs2,
            name: name.into(),
            item_id: None,
            price_seen: max,
            max_price: max,
        },
    };
    PurchaseRecord::new(intent, at, Rates::new(), "cfg".into())
}

fn bought(debited: Usd, offer: OfferStatus) -> PurchaseState {
    PurchaseState::Bought { buy_id: BuyId::new(9), item_id: ItemId::new(77), debited, offer, tradeofferid: None }
}

#[test]
fn custom_ids_increase_within_a_second_across_seconds_and_when_the_clock_goes_back() {
    let ledger = Ledger::temporary().unwrap();
    let a = ledger.next_custom_id(t(0)).unwrap();
    let b = ledger.next_custom_id(t(0)).unwrap();
    let c = ledger.next_custom_id(t(1)).unwrap();
    let d = ledger.next_custom_id(t(-5)).unwrap();
    assert_eq!(a.as_str(), "sb-20261126T120000Z-000001");
    assert_eq!(b.as_str(), "sb-20261126T120000Z-000002");
    assert_eq!(c.as_str(), "sb-20261126T120100Z-000001");
    assert_eq!(d.as_str(), "sb-20261126T120100Z-000002");
}

#[test]
fn recorded_intents_can_be_read_back_and_are_pending() {
    let ledger = Ledger::temporary().unwrap();
    let r1 = record(&ledger, t(0), "s", "AK", usd(dec!(10)));
    let r2 = record(&ledger, t(1), "s", "M4", usd(dec!(5.5)));
    ledger.record_intents(&[r1.clone(), r2.clone()]).unwrap();
    assert_eq!(ledger.get(&r1.intent.custom_id).unwrap(), Some(r1.clone()));
    assert_eq!(ledger.list().unwrap(), vec![r1.clone(), r2.clone()]);
    assert_eq!(ledger.open_purchases().unwrap(), vec![r1, r2]);
    assert_eq!(ledger.verify_chain().unwrap(), 2);
    assert_eq!(ledger.get(&"nope".parse().unwrap()).unwrap(), None);
    ledger.record_intents(&[]).unwrap();
}

#[test]
fn record_intents_writes_nothing_when_an_id_exists_or_repeats() {
    let ledger = Ledger::temporary().unwrap();
    let r1 = record(&ledger, t(0), "s", "AK", usd(dec!(10)));
    ledger.record_intents(std::slice::from_ref(&r1)).unwrap();
    let r2 = record(&ledger, t(1), "s", "M4", usd(dec!(5)));
    let err = ledger.record_intents(&[r2.clone(), r1.clone()]).unwrap_err();
    assert!(matches!(&err, LedgerError::DuplicateId { custom_id } if *custom_id == r1.intent.custom_id), "{err}");
    assert!(err.to_string().contains(r1.intent.custom_id.as_str()));
    let err = ledger.record_intents(&[r2.clone(), r2.clone()]).unwrap_err();
    assert!(matches!(err, LedgerError::DuplicateId { .. }));
    assert_eq!(ledger.get(&r2.intent.custom_id).unwrap(), None);
    assert_eq!(ledger.list().unwrap(), vec![r1]);
    assert_eq!(ledger.verify_chain().unwrap(), 1);
}

#[test]
fn record_intents_refuses_records_that_are_not_pending_intents() {
    let ledger = Ledger::temporary().unwrap();
    let mut r = record(&ledger, t(0), "s", "AK", usd(dec!(10)));
    r.transition(PurchaseState::Unknown { reason: "x".into() }, t(0), "");
    assert!(matches!(ledger.record_intents(&[r]), Err(LedgerError::InvalidRecord { .. })));
    let negative = record(&ledger, t(0), "s", "AK", usd(dec!(-1)));
    assert!(matches!(ledger.record_intents(&[negative]), Err(LedgerError::InvalidRecord { .. })));
    assert!(ledger.list().unwrap().is_empty());
}

#[test]
fn transitions_are_recorded_in_order_with_their_events() {
    let ledger = Ledger::temporary().unwrap();
    let r = record(&ledger, t(0), "s", "AK", usd(dec!(10)));
    let id = r.intent.custom_id.clone();
    ledger.record_intents(&[r]).unwrap();
    ledger.transition(&id, PurchaseState::Unknown { reason: "timeout".into() }, t(1), "no answer").unwrap();
    ledger.transition(&id, bought(usd(dec!(9.5)), OfferStatus::WaitingAccept), t(2), "getinfo").unwrap();
    let done = ledger.transition(&id, bought(usd(dec!(9.5)), OfferStatus::Accepted), t(3), "ws").unwrap();
    let states: Vec<_> = done.transitions.iter().map(|tr| tr.state.as_str()).collect();
    assert_eq!(states, ["pending", "unknown", "waiting_accept", "accepted"]);
    assert_eq!(ledger.get(&id).unwrap(), Some(done));
    assert!(ledger.open_purchases().unwrap().is_empty());
    assert_eq!(ledger.verify_chain().unwrap(), 4);
}

#[test]
fn final_states_do_not_change_except_accepted_to_rollback_and_a_late_purchase() {
    let ledger = Ledger::temporary().unwrap();
    let a = record(&ledger, t(0), "s", "AK", usd(dec!(10)));
    let b = record(&ledger, t(0), "s", "AK", usd(dec!(10)));
    ledger.record_intents(&[a.clone(), b.clone()]).unwrap();
    let (a, b) = (a.intent.custom_id, b.intent.custom_id);
    let not_bought = PurchaseState::NotBought { code: 5, reason: "no item".into() };
    ledger.transition(&a, not_bought.clone(), t(1), "").unwrap();
    let err = ledger.transition(&a, PurchaseState::Sent, t(2), "").unwrap_err();
    assert!(matches!(err, LedgerError::FinalState { .. }), "{err}");
    assert!(err.to_string().contains(a.as_str()));
    // Repeating the final state itself is a no-op, not an error.
    assert_eq!(ledger.transition(&a, not_bought, t(3), "").unwrap().transitions.len(), 2);

    ledger.transition(&b, bought(usd(dec!(9)), OfferStatus::Accepted), t(1), "").unwrap();
    let err = ledger.transition(&b, bought(usd(dec!(9)), OfferStatus::Canceled), t(2), "").unwrap_err();
    assert!(matches!(err, LedgerError::FinalState { .. }));
    assert!(ledger.transition(&b, PurchaseState::Pending, t(2), "").is_err());
    let rolled = ledger.transition(&b, bought(usd(dec!(9)), OfferStatus::RollbackUser), t(2), "").unwrap();
    assert_eq!(rolled.state.label(), "rollback_user");
    assert!(ledger.transition(&b, bought(usd(dec!(9)), OfferStatus::RollbackSupplier), t(3), "").is_err());
    assert_eq!(ledger.verify_chain().unwrap(), 5);
}

#[test]
fn the_same_offer_status_again_is_a_no_op_and_a_different_debit_is_refused() {
    let ledger = Ledger::temporary().unwrap();
    let r = record(&ledger, t(0), "s", "AK", usd(dec!(10)));
    let id = r.intent.custom_id.clone();
    ledger.record_intents(&[r]).unwrap();
    let first = ledger.transition(&id, bought(usd(dec!(9)), OfferStatus::WaitingAccept), t(1), "").unwrap();
    let again = ledger.transition(&id, bought(usd(dec!(9)), OfferStatus::WaitingAccept), t(2), "").unwrap();
    assert_eq!(first, again);
    // Learning the trade offer id is an update; a different one afterwards is a conflict.
    let with_offer = PurchaseState::Bought {
        buy_id: BuyId::new(9),
        item_id: ItemId::new(77),
        debited: usd(dec!(9)),
        offer: OfferStatus::WaitingAccept,
        tradeofferid: Some("555".into()),
    };
    assert_eq!(ledger.transition(&id, with_offer, t(3), "").unwrap().transitions.len(), 3);
    let err = ledger.transition(&id, bought(usd(dec!(8)), OfferStatus::Accepted), t(4), "").unwrap_err();
    assert!(matches!(err, LedgerError::Conflict { .. }), "{err}");
    let missing = "sb-x".parse().unwrap();
    assert!(matches!(ledger.transition(&missing, PurchaseState::Pending, t(5), ""), Err(LedgerError::NotFound { .. })));
    assert_eq!(ledger.verify_chain().unwrap(), 3);
}

#[test]
fn list_since_uses_created_at_even_when_ids_sort_differently() {
    let ledger = Ledger::temporary().unwrap();
    let mut late = record(&ledger, t(0), "s", "AK", usd(dec!(1)));
    // Recorded a little after its id was issued, across a second boundary.
    late.created_at = t(0) + Duration::milliseconds(1500);
    let mut early: PurchaseRecord = record(&ledger, t(0), "s", "AK", usd(dec!(2)));
    early.intent.custom_id = "manual-1".parse().unwrap();
    early.created_at = t(-1);
    ledger.record_intents(&[late.clone(), early.clone()]).unwrap();
    assert_eq!(ledger.list().unwrap(), vec![early.clone(), late.clone()]);
    assert_eq!(ledger.list_since(t(0) + Duration::milliseconds(1200)).unwrap(), vec![late.clone()]);
    assert_eq!(ledger.list_since(late.created_at).unwrap(), vec![late]);
    assert!(ledger.list_since(t(0) + Duration::milliseconds(1501)).unwrap().is_empty());
}

#[test]
fn only_price_changes_are_stored() {
    let ledger = Ledger::temporary().unwrap();
    assert!(ledger.record_price(Game::Cs2, "AK", t(0), usd(dec!(10))).unwrap());
    assert!(!ledger.record_price(Game::Cs2, "AK", t(1), usd(dec!(10.00))).unwrap());
    assert!(ledger.record_price(Game::Cs2, "AK", t(2), usd(dec!(11))).unwrap());
    assert!(ledger.record_price(Game::Dota2, "AK", t(2), usd(dec!(10))).unwrap());
    let history = ledger.price_history(Game::Cs2, "AK", t(0)).unwrap();
    assert_eq!(history, vec![(t(0), usd(dec!(10))), (t(2), usd(dec!(11)))]);
    // The change before `since` is included: it was still the price then.
    assert_eq!(ledger.price_history(Game::Cs2, "AK", t(1)).unwrap(), history);
    assert_eq!(ledger.price_history(Game::Cs2, "AK", t(2)).unwrap(), vec![(t(2), usd(dec!(11)))]);
    assert!(ledger.price_history(Game::Rust, "AK", t(0)).unwrap().is_empty());
    let err = ledger.record_price(Game::Cs2, "AK", t(1), usd(dec!(12))).unwrap_err();
    assert!(matches!(err, LedgerError::PriceOutOfOrder { .. }), "{err}");
}

#[test]
fn two_prices_in_one_second_keep_the_later_and_drop_a_return_to_the_former() {
    let ledger = Ledger::temporary().unwrap();
    let s = t(0);
    ledger.record_price(Game::Cs2, "AK", s, usd(dec!(10))).unwrap();
    ledger.record_price(Game::Cs2, "AK", t(1), usd(dec!(11))).unwrap();
    assert!(ledger.record_price(Game::Cs2, "AK", t(1) + Duration::milliseconds(300), usd(dec!(12))).unwrap());
    assert_eq!(ledger.price_history(Game::Cs2, "AK", s).unwrap(), vec![(s, usd(dec!(10))), (t(1), usd(dec!(12)))]);
    assert!(ledger.record_price(Game::Cs2, "AK", t(1) + Duration::milliseconds(600), usd(dec!(10))).unwrap());
    assert_eq!(ledger.price_history(Game::Cs2, "AK", s).unwrap(), vec![(s, usd(dec!(10)))]);
    assert!(!ledger.record_price(Game::Cs2, "AK", t(2), usd(dec!(10))).unwrap());
}

#[test]
fn a_tick_of_34k_prices_is_one_batch_and_unchanged_prices_write_nothing() {
    let ledger = Ledger::temporary().unwrap();
    let names: Vec<String> = (0..34_000).map(|i| format!("Item {i}")).collect();
    let prices = |bump: usize| {
        names
            .iter()
            .enumerate()
            .map(move |(i, n)| (n.as_str(), usd(rust_decimal::Decimal::from(i % 97 + usize::from(i < bump)))))
    };
    assert_eq!(ledger.record_prices(Game::Cs2, prices(0), t(0)).unwrap(), 34_000);
    let started = std::time::Instant::now();
    assert_eq!(ledger.record_prices(Game::Cs2, prices(0), t(1)).unwrap(), 0);
    assert_eq!(ledger.record_prices(Game::Cs2, prices(100), t(2)).unwrap(), 100);
    // Generous, for a debug build on a busy CI machine; the cached path is a hash lookup per name.
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    assert_eq!(ledger.price_history(Game::Cs2, "Item 5", t(0)).unwrap().len(), 2);
    assert_eq!(ledger.price_history(Game::Cs2, "Item 500", t(0)).unwrap().len(), 1);
}

#[test]
fn the_median_price_reads_the_recorded_history() {
    let ledger = Ledger::temporary().unwrap();
    assert_eq!(ledger.median_price(Game::Cs2, "AK", t(0), t(60)).unwrap(), None);
    ledger.record_price(Game::Cs2, "AK", t(0), usd(dec!(10))).unwrap();
    ledger.record_price(Game::Cs2, "AK", t(60), usd(dec!(30))).unwrap();
    ledger.record_price(Game::Cs2, "AK", t(70), usd(dec!(20))).unwrap();
    // From t(30): 10 for 30 min, 30 for 10, 20 for 50.
    assert_eq!(ledger.median_price(Game::Cs2, "AK", t(30), t(120)).unwrap(), Some(usd(dec!(20))));
    assert_eq!(ledger.median_price(Game::Cs2, "AK", t(0), t(80)).unwrap(), Some(usd(dec!(10))));
}

#[test]
fn item_names_with_nul_bytes_are_refused() {
    let ledger = Ledger::temporary().unwrap();
    assert!(matches!(ledger.record_price(Game::Cs2, "a\0b", t(0), usd(dec!(1))), Err(LedgerError::BadItemName { .. })));
}

#[test]
fn the_lifecycle_allows_anything_from_open_states() {
    let ledger = Ledger::temporary().unwrap();
    let mut r = record(&ledger, t(0), "s", "AK", usd(dec!(1)));
    assert_eq!(check_transition(&r, &PurchaseState::Unknown { reason: "x".into() }).unwrap(), Change::Apply);
    assert_eq!(check_transition(&r, &PurchaseState::Pending).unwrap(), Change::NoOp);
    r.transition(PurchaseState::Unknown { reason: "x".into() }, t(1), "");
    assert_eq!(check_transition(&r, &bought(usd(dec!(1)), OfferStatus::Other("new".into()))).unwrap(), Change::Apply);
    assert_eq!(check_transition(&r, &PurchaseState::Pending).unwrap(), Change::Apply);
}

#[test]
fn a_purchase_edited_behind_the_ledgers_back_fails_verification() {
    let ledger = Ledger::temporary().unwrap();
    let r = record(&ledger, t(0), "s", "AK", usd(dec!(10)));
    ledger.record_intents(std::slice::from_ref(&r)).unwrap();
    let mut edited = r.clone();
    edited.intent.candidate.max_price = usd(dec!(1));
    ledger.purchases.insert(r.intent.custom_id.as_str(), serde_json::to_vec(&edited).unwrap()).unwrap();
    assert!(matches!(ledger.verify_chain(), Err(LedgerError::RecordMismatch { .. })));
}

#[test]
fn a_removed_last_event_fails_verification() {
    let ledger = Ledger::temporary().unwrap();
    let r = record(&ledger, t(0), "s", "AK", usd(dec!(10)));
    ledger.record_intents(&[r]).unwrap();
    ledger.events.remove(keys::event_key(1)).unwrap();
    assert!(matches!(ledger.verify_chain(), Err(LedgerError::ChainBroken { seq: 0, .. })));
}

#[test]
fn a_corrupt_record_is_an_error_naming_its_key() {
    let ledger = Ledger::temporary().unwrap();
    ledger.purchases.insert("sb-broken", b"{not json".as_slice()).unwrap();
    let err = ledger.get(&"sb-broken".parse().unwrap()).unwrap_err();
    assert!(matches!(err, LedgerError::Corrupt { tree: "purchases", .. }));
    assert!(err.to_string().contains("sb-broken"), "{err}");
}

#[test]
fn a_bought_purchase_never_goes_back_to_a_reservation_or_to_nothing() {
    let ledger = Ledger::temporary().unwrap();
    let r = record(&ledger, t(0), "s", "AK", usd(dec!(10)));
    let id = r.intent.custom_id.clone();
    ledger.record_intents(&[r]).unwrap();
    ledger.transition(&id, bought(usd(dec!(9)), OfferStatus::CreatingTrade), t(1), "").unwrap();
    for to in [
        PurchaseState::Pending,
        PurchaseState::Unknown { reason: "poll timed out".into() },
        PurchaseState::NotBought { code: 5, reason: "x".into() },
    ] {
        let err = ledger.transition(&id, to, t(2), "").unwrap_err();
        assert!(matches!(err, LedgerError::Conflict { .. }), "{err}");
    }
    assert_eq!(committed_since(&ledger, t(0)), usd(dec!(9)));
}

#[test]
fn events_read_back_in_order_with_their_snapshots() {
    let ledger = Ledger::temporary().unwrap();
    let r = record(&ledger, t(0), "s", "AK", usd(dec!(10)));
    let id = r.intent.custom_id.clone();
    ledger.record_intents(&[r]).unwrap();
    let after = ledger.transition(&id, PurchaseState::Unknown { reason: "timeout".into() }, t(1), "lost").unwrap();
    let events: Vec<Event> = ledger.events().collect::<Result<_, _>>().unwrap();
    assert_eq!(
        events.iter().map(|e| (e.seq, e.kind, e.state.as_str())).collect::<Vec<_>>(),
        [(1, EventKind::Intent, "pending"), (2, EventKind::Transition, "unknown")]
    );
    assert_eq!(events[1].record, after);
    assert_eq!(events[1].detail, "lost");
    assert_eq!(events[0].prev_hash, events::GENESIS_HASH);
    assert_eq!(events[1].prev_hash, events[0].hash);
    assert_eq!(ledger.chain_head().unwrap(), (2, events[1].hash.clone()));
}
