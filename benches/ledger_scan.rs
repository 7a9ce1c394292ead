//! The ledger after months of trading: a million purchases (`SKINBOT_BENCH_PURCHASES` to change it),
//! almost all of them bought and accepted. Measures what `ledger list` with a filter, `summary` and
//! `export` will scan (streamed, never collected), a tick's reads, a start's catch-up of the
//! purchase counts with and without the book's checkpoint, and how fast intents are recorded with
//! durable flushes. Run with `cargo bench --bench ledger_scan`.
//!
//! Targets: summary over 1M ≤ 1 s; a start's catch-up ≤ 2 s.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

use chrono::Utc;
use skinbot::domain::{BuyId, Candidate, Game, Intent, ItemId, OfferStatus, PurchaseRecord, PurchaseState, Rates, Usd};
use skinbot::engine::book::Book;
use skinbot::ledger::Ledger;
use skinbot::strategy::decide::Totals;
use std::hint::black_box;

fn intent(ledger: &Ledger, k: u64, at: chrono::DateTime<Utc>, price: Usd) -> PurchaseRecord {
    let intent = Intent {
        custom_id: ledger.next_custom_id(at).expect("id"),
        candidate: Candidate {
            strategy: ["restock-cases", "shopping-list", "discount-sniper"][(k % 3) as usize].into(),
            rule: format!("rule {}", k % 7),
            priority: 0,
            game: Game::Cs2,
            name: format!("Item {}", k % 3000),
            item_id: Some(ItemId::new(k)),
            price_seen: price,
            max_price: price,
        },
    };
    PurchaseRecord::new(intent, at, Rates::new(), "hash".into())
}

/// What `summary` shows: purchases and money by state, summed without dropping a term.
fn summary(ledger: &Ledger) -> BTreeMap<String, (u64, Usd)> {
    let mut by_state: BTreeMap<String, (u64, Usd)> = BTreeMap::new();
    ledger
        .scan_briefs(|b| {
            let label = b.state.label();
            let e = match by_state.get_mut(label) {
                Some(e) => e,
                None => by_state.entry(label.to_string()).or_insert((0, Usd::ZERO)),
            };
            e.0 += 1;
            e.1 = e.1.saturating_add(b.committed());
        })
        .expect("scan");
    by_state
}

fn main() {
    let n: u64 = std::env::var("SKINBOT_BENCH_PURCHASES").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    // Built in sled's temporary mode: a million flushes to a real disk take many minutes, and the
    // flushes are measured apart, below.
    let ledger = Ledger::temporary().expect("ledger");
    let start = Utc::now() - chrono::Duration::days(90);
    let price = Usd::parse("0.31").expect("price");
    let step = (90 * 86_400 / n.max(1)).max(1) as i64;
    let t = Instant::now();
    let batch = 1000;
    for b in 0..n.div_ceil(batch) {
        let records: Vec<PurchaseRecord> = (b * batch..((b + 1) * batch).min(n))
            .map(|k| intent(&ledger, k, start + chrono::Duration::seconds(k as i64 * step), price))
            .collect();
        ledger.record_intents(&records).expect("record");
        // All but the last batch are bought and accepted.
        if (b + 1) * batch < n {
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
    println!("built {n} purchases ({} events) in {:?}", ledger.chain_head().expect("head").0, t.elapsed());

    // Each scan takes seconds at a million records: the median of three plain runs says as much
    // as criterion's ten samples would, in a third of the time.
    let time = |what: &str, f: &mut dyn FnMut()| {
        let mut runs: Vec<Duration> = (0..3)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect();
        runs.sort();
        println!("{what}: {:?} (median of 3)", runs[1]);
    };
    time("list with a filter (strategy and name), streamed", &mut || {
        let mut hits = 0;
        ledger
            .scan_briefs(|b| {
                if b.strategy == "shopping-list" && b.name.ends_with(" 7") {
                    hits += 1;
                }
            })
            .expect("scan");
        black_box(hits);
    });
    time("summary (count and money by state), streamed", &mut || {
        black_box(summary(&ledger));
    });
    time("export NDJSON (the stored JSON of every record), streamed", &mut || {
        let mut out = std::io::BufWriter::new(std::io::sink());
        for v in ledger.record_bytes() {
            out.write_all(&v.expect("record")).expect("write");
            out.write_all(b"\n").expect("write");
        }
        out.flush().expect("flush");
        black_box(out);
    });
    let day_start = Utc::now() - chrono::Duration::hours(12);
    time("a tick's reads (today's and the open purchases)", &mut || {
        let today = ledger.list_since(day_start).expect("today");
        let open = ledger.open_purchases().expect("open");
        black_box((today.len(), open.len()));
    });
    println!("summary: {:?}", summary(&ledger));

    // A start without a checkpoint replays every event; with one, only those after it.
    let t = Instant::now();
    let mut book = Book::default();
    book.catch_up(&ledger).expect("catch up");
    println!("start-up catch-up, no checkpoint (every event): {:?}", t.elapsed());
    book.save(&ledger).expect("checkpoint");
    let t = Instant::now();
    let mut resumed = Book::default();
    resumed.catch_up(&ledger).expect("catch up");
    println!("start-up catch-up from the checkpoint of a clean stop: {:?}", t.elapsed());
    assert_eq!(resumed.totals(), book.totals());
    assert_eq!(book.totals(), &Totals::from_records(&ledger.list().expect("list")), "equals a full recount");
    // The worst case after a crash: the last checkpoint is up to CHECKPOINT_EVERY events back.
    let extra = skinbot::engine::book::CHECKPOINT_EVERY / 2;
    for k in 0..extra / 2 {
        let r = intent(&ledger, n + k, Utc::now(), price);
        let id = r.intent.custom_id.clone();
        ledger.record_intents(&[r]).expect("record");
        ledger.transition(&id, PurchaseState::NotBought { code: 5, reason: "gone".into() }, Utc::now(), "").expect("t");
    }
    let t = Instant::now();
    let mut after_crash = Book::default();
    after_crash.catch_up(&ledger).expect("catch up");
    println!("start-up catch-up with {extra} events since the checkpoint: {:?}", t.elapsed());
    drop(ledger);

    // Intent before send: each intent recorded and flushed to disk on its own.
    let dir = tempfile::tempdir().expect("temp dir");
    let ledger = Ledger::open(&dir.path().join("ledger")).expect("ledger");
    let count = 10_000u64;
    let t = Instant::now();
    for k in 0..count {
        ledger.record_intents(&[intent(&ledger, k, Utc::now(), price)]).expect("record");
    }
    let took = t.elapsed();
    println!("recorded {count} intents, each flushed: {took:?} ({:.0} purchases/s)", count as f64 / took.as_secs_f64());
}
