//! The dashboard over a ledger of 100,000 purchases (`SKINBOT_BENCH_PURCHASES` to change it),
//! almost all bought and accepted over 90 days: how long each section takes to answer over HTTP,
//! the first time (the purchase rows are read from the ledger) and then from the rows kept until
//! the ledger changes. Run with `cargo bench --bench dashboard`.
//!
//! Target: a page of the purchase table (filtered, sorted, any page) ≤ 100 ms at 100k purchases
//! once the rows are read; the browser only ever receives one page (50 rows).

use std::time::{Duration, Instant};

use chrono::Utc;
use skinbot::dashboard::{self, Source};
use skinbot::domain::{BuyId, Candidate, Game, Intent, ItemId, OfferStatus, PurchaseRecord, PurchaseState, Rates, Usd};
use skinbot::ledger::remote::Token;
use skinbot::ledger::Ledger;

fn record(ledger: &Ledger, k: u64, at: chrono::DateTime<Utc>, price: Usd) -> PurchaseRecord {
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

#[tokio::main]
async fn main() {
    let n: u64 = std::env::var("SKINBOT_BENCH_PURCHASES").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let ledger = Ledger::temporary().expect("ledger");
    let start = Utc::now() - chrono::Duration::days(90);
    let step = (90 * 86_400 / n.max(1)).max(1) as i64;
    let t = Instant::now();
    let batch = 1000;
    for b in 0..n.div_ceil(batch) {
        let records: Vec<PurchaseRecord> = (b * batch..((b + 1) * batch).min(n))
            .map(|k| {
                let price = Usd::new(rust_decimal::Decimal::new(31 + (k % 500) as i64, 2));
                record(&ledger, k, start + chrono::Duration::seconds(k as i64 * step), price)
            })
            .collect();
        ledger.record_intents(&records).expect("record");
        // All but the last batch are bought and accepted.
        if (b + 1) * batch < n {
            for r in &records {
                let state = PurchaseState::Bought {
                    buy_id: BuyId::new(1),
                    item_id: ItemId::new(1),
                    debited: r.intent.candidate.price_seen,
                    offer: OfferStatus::Accepted,
                    tradeofferid: None,
                };
                ledger.transition(&r.intent.custom_id, state, r.created_at, "bought").expect("transition");
            }
        }
    }
    for h in 0..200 {
        let at = Utc::now() - chrono::Duration::hours(200 - h);
        ledger.record_price(Game::Cs2, "Item 7", at, Usd::new(rust_decimal::Decimal::new(300 + h, 2))).expect("price");
    }
    println!("built {n} purchases in {:?}", t.elapsed());

    let (_stop, rx) = tokio::sync::watch::channel(false);
    let source = Source { ledger: ledger.clone(), engine: None, state_dir: None, config: None };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("port");
    let token = Token::random();
    let d = dashboard::serve(listener, token.clone(), source, rx, false).await.expect("dashboard");
    let http = reqwest::Client::new();
    let get = |path: &str| {
        let req = http.get(format!("http://{}{path}", d.addr())).header("x-skinbot-token", token.as_str());
        async move {
            let t = Instant::now();
            let resp = req.send().await.expect("answer");
            assert!(resp.status().is_success(), "{}", resp.status());
            let body = resp.bytes().await.expect("body");
            (t.elapsed(), body.len())
        }
    };
    let (cold, size) = get("/frag/purchases").await;
    println!("purchases, first page, rows read from the ledger: {cold:?} ({size} bytes)");
    for path in [
        "/frag/purchases",
        "/frag/purchases?page=1000",
        "/frag/purchases?sort=price&dir=asc",
        "/frag/purchases?item=Item%2017*&strategy=shopping-list",
        "/frag/purchases?since=30d&min=1&max=2&sort=item",
        "/frag/spend?days=90",
        "/frag/item?name=Item%207",
        "/frag/now",
        "/",
    ] {
        let mut runs: Vec<Duration> = Vec::new();
        let mut size = 0;
        for _ in 0..5 {
            let (t, s) = get(path).await;
            runs.push(t);
            size = s;
        }
        runs.sort();
        println!("{path}: {:?} (median of 5, {size} bytes)", runs[2]);
    }
    // A tick's worth of change: ten new purchases. The rows catch up by the event log.
    let now = Utc::now();
    let records: Vec<PurchaseRecord> =
        (n..n + 10).map(|k| record(&ledger, k, now, Usd::new(rust_decimal::Decimal::new(99, 2)))).collect();
    ledger.record_intents(&records).expect("record");
    let (t, _) = get("/frag/purchases").await;
    println!("purchases after 10 new purchases (caught up by the event log): {t:?}");
}
