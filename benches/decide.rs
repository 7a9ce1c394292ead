//! Benchmarks of the hot path of a tick: parsing market names, building a snapshot of a large market,
//! deciding with the example strategies, and guarding the result. Run with `cargo bench`.
//!
//! Uses `../shared/data/cs2-market-names.txt` when present (34k real names), otherwise synthetic names.
//! Prints the median of several runs; the targets are in the comments of each case.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use rust_decimal::Decimal;
use skinbot::domain::Listing;
use skinbot::domain::{market_name, Game, ItemId, Rates, Usd};
use skinbot::guard::{check, Committed, Limits};
use skinbot::strategy::decide::{decide, NoHistory, Snapshot, Tally};
use skinbot::strategy::file::load_all;

fn median_of<F: FnMut()>(runs: usize, mut f: F) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn names() -> Vec<String> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/cs2-market-names.txt");
    match std::fs::read_to_string(&p) {
        Ok(text) => text.lines().map(str::to_string).collect(),
        Err(_) => {
            eprintln!("note: {} absent; using synthetic names", p.display());
            (0..34_000).map(|i| format!("AK-47 | Finish {i} (Field-Tested)")).collect()
        }
    }
}

fn main() {
    let names = names();

    // Target: well under 100 ms for every CS2 name (a tick parses each name once).
    let t = median_of(5, || {
        for n in &names {
            black_box(market_name::parse(n).ok());
        }
    });
    println!("parse {} names: {:?} ({:.0} ns/name)", names.len(), t, t.as_nanos() as f64 / names.len() as f64);

    // A 200k-listing market: six listings per name.
    let listings: Vec<Listing> = names
        .iter()
        .enumerate()
        .flat_map(|(i, n)| {
            (0..6u64).map(move |k| Listing {
                id: ItemId::new(i as u64 * 10 + k),
                name: n.clone(),
                price: Usd::new(Decimal::new(100 + (i as i64 * 37 + k as i64 * 11) % 50_000, 2)),
            })
        })
        .collect();
    let count = listings.len();
    // Target: under 1 s, so a 3-second schedule has room for the price-list download.
    let t = median_of(3, || {
        black_box(Snapshot::new(Game::Cs2, Utc::now(), listings.clone()));
    });
    println!("snapshot of {count} listings: {t:?}");

    let strategies =
        load_all(&[Path::new(env!("CARGO_MANIFEST_DIR")).join("strategies")]).expect("example strategies load");
    let snapshot = Snapshot::new(Game::Cs2, Utc::now(), listings);
    let mut rates = Rates::new();
    rates.insert("eur".parse().unwrap(), Decimal::new(92, 2)).unwrap();
    let tally = Tally::default();
    // Target: under 200 ms for the example strategies over 200k listings.
    let mut found = 0;
    let t = median_of(5, || {
        let d = decide(&strategies, &snapshot, &rates, &tally, &NoHistory);
        found = d.candidates.len();
        black_box(d);
    });
    println!("decide ({} strategies) over {count} listings: {t:?} ({found} candidates)", strategies.len());

    let candidates = decide(&strategies, &snapshot, &rates, &tally, &NoHistory).candidates;
    let limits = Limits {
        per_order: Some(Usd::new(Decimal::new(50, 0))),
        balance_floor: Usd::new(Decimal::new(100, 0)),
        ..Default::default()
    };
    let committed = Committed { balance: Some(Usd::new(Decimal::new(1_000_000, 0))), ..Default::default() };
    let t = median_of(5, || {
        black_box(check(candidates.clone(), &limits, &committed, None));
    });
    println!("guard {} candidates: {t:?}", candidates.len());

    sandbox_price_lists(&names);
}

/// The sandbox holding a market of every name (about six listings each), answering both price lists
/// to the typed client over loopback. Target: the full list (200k listings) in well under a second.
fn sandbox_price_lists(names: &[String]) {
    use skinbot::sandbox::{self, Catalog, Faults, SandboxConfig};
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let mut cfg = SandboxConfig::manual();
        cfg.faults = Faults::none();
        cfg.catalog = Catalog::from_names(names.iter().map(String::as_str), Game::Cs2);
        let sb = sandbox::start(cfg, "127.0.0.1:0".parse().unwrap()).await.expect("sandbox starts");
        let mut client_cfg = skinbot::exchange::ClientConfig::new(
            sb.api_url(),
            sb.shop_id(),
            secrecy::SecretString::from(sb.secret().to_string()),
        );
        client_cfg.timeout = Duration::from_secs(60);
        let client = skinbot::exchange::Client::new(client_cfg).unwrap();
        let mut times = Vec::new();
        let mut count = 0;
        for _ in 0..3 {
            let t = Instant::now();
            count = client.pricelist_full(Game::Cs2).await.expect("full price list").items.len();
            times.push(t.elapsed());
        }
        times.sort();
        println!("sandbox market_pricelist full=1, {count} listings, fetched and parsed: {:?}", times[1]);
        let mut times = Vec::new();
        for _ in 0..3 {
            let t = Instant::now();
            count = client.pricelist(Game::Cs2).await.expect("grouped price list").items.len();
            times.push(t.elapsed());
        }
        times.sort();
        println!("sandbox market_pricelist grouped, {count} names, fetched and parsed: {:?}", times[1]);
        sb.shutdown().await;
    });
}
