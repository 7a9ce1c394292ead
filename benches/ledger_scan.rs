//! What a tick reads from a ledger that has grown for months: 100k purchases, most of them final.
//! Run with `cargo bench --bench ledger_scan`. Target: the per-tick reads (today's purchases, the
//! open ones, the new events) stay in milliseconds however long the history is.

use std::time::Instant;

use chrono::{Duration, Utc};
use skinbot::domain::{BuyId, Candidate, Game, Intent, ItemId, OfferStatus, PurchaseRecord, PurchaseState, Rates, Usd};
use skinbot::ledger::Ledger;
use skinbot::strategy::decide::Totals;

fn main() {
    let ledger = Ledger::temporary().expect("temporary ledger");
    let start = Utc::now() - Duration::days(90);
    let price = Usd::parse("0.31").expect("price");
    let n = 100_000i64;
    for batch in 0..(n / 1000) {
        let records: Vec<PurchaseRecord> = (0..1000)
            .map(|i| {
                let k = batch * 1000 + i;
                let at = start + Duration::seconds(k * 77);
                let intent = Intent {
                    custom_id: ledger.next_custom_id(at).expect("id"),
                    candidate: Candidate {
                        strategy: "restock-cases".into(),
                        rule: "cheap cases".into(),
                        priority: 0,
                        game: Game::Cs2,
                        name: format!("Item {}", k % 300),
                        item_id: Some(ItemId::new(k as u64)),
                        price_seen: price,
                        max_price: price,
                    },
                };
                PurchaseRecord::new(intent, at, Rates::new(), "hash".into())
            })
            .collect();
        ledger.record_intents(&records).expect("record");
        // All but the last few hundred are bought and accepted.
        if batch < n / 1000 - 1 {
            for r in &records {
                let state = PurchaseState::Bought {
                    buy_id: BuyId::new(1),
                    item_id: ItemId::new(1),
                    debited: price,
                    offer: OfferStatus::Accepted,
                    tradeofferid: None,
                };
                ledger.transition(&r.intent.custom_id, state, r.created_at, "bought").expect("transition");
            }
        }
    }
    let now = Utc::now();
    let day_start = now - Duration::hours(12);

    let t = Instant::now();
    let all = ledger.list().expect("list");
    println!("read every purchase ({}), as a tick did before: {:?}", all.len(), t.elapsed());

    let t = Instant::now();
    let today = ledger.list_since(day_start).expect("today");
    let open = ledger.open_purchases().expect("open");
    println!("read today's ({}) and the open ({}) purchases: {:?}", today.len(), open.len(), t.elapsed());

    let t = Instant::now();
    let mut totals = Totals::default();
    let mut weights = std::collections::HashMap::new();
    let mut next = 0;
    for e in ledger.events_from(0) {
        let e = e.expect("event");
        let after = e.record.state.weight();
        let before = weights.insert(e.custom_id.clone(), after).unwrap_or_default();
        totals.apply(&e.record.intent, before, after);
        next = e.seq + 1;
    }
    assert_eq!(totals, Totals::from_records(&all), "the incremental totals equal a full recount");
    println!("first catch-up over every event (once per start): {:?}", t.elapsed());
    let t = Instant::now();
    let newer = ledger.events_from(next).count();
    println!("catch-up when nothing happened ({newer} new events): {:?}", t.elapsed());
}
