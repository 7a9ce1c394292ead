//! The hot path of a tick over the whole CS2 market, measured by criterion, then summed up in one
//! table with every time also as a ratio to a plain serde_json parse of the same bytes (the floor):
//!
//! - `plain_parse`: the sandbox's `market_pricelist full=1` answer into owned structs, nothing else;
//! - `ingest`: the same bytes through skinbot's decoder (checked fields, names interned);
//! - `snapshot`: the decoded table into a snapshot (sorted, parsed names);
//! - `decide_*`: the example strategies, and generated sets of 10, 100 and 1,000 rules;
//! - `total_1000`: ingest + snapshot + decide at 1,000 rules;
//! - `grouped`: the grouped price list (one line per name);
//! - tick latency against an in-process sandbox: price list received → first buy request sent.
//!
//! Run: `cargo bench --bench tick`. Needs `../shared/data/cs2-market-names.txt` (34k real names);
//! without it the market benchmarks are skipped with a note. Targets: total at 1,000 rules ≤ 1.5× the
//! plain parse; grouped ≤ 15 ms.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{black_box, BatchSize, Criterion};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use skinbot::domain::{market_name, Game, Rates};
use skinbot::exchange::{decode_pricelist_grouped, decode_pricelist_table};
use skinbot::sandbox::{self, Catalog, Faults, OfferConfig, SandboxConfig};
use skinbot::strategy::decide::{NoHistory, Snapshot, Tally};
use skinbot::strategy::file::{load_all, Strategy};
use skinbot::strategy::matcher::Matcher;

/// The grouped list's floor, likewise.
#[derive(Deserialize)]
#[allow(dead_code)]
struct PlainGroups {
    status: String,
    last_update: String,
    items: Vec<PlainGroup>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct PlainGroup {
    name: String,
    price: String,
    classid: String,
    count: String,
}

/// The floor: the same bytes into plain owned structs (the sandbox sends numbers as strings).
#[derive(Deserialize)]
#[allow(dead_code)]
struct PlainList {
    status: String,
    last_update: String,
    items: Vec<PlainListing>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct PlainListing {
    id: String,
    name: String,
    price: String,
    classid: String,
}

fn names() -> Option<Vec<String>> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/cs2-market-names.txt");
    match std::fs::read_to_string(&p) {
        Ok(text) => Some(text.lines().map(str::to_string).collect()),
        Err(e) => {
            println!("note: {} not readable ({e}): market benchmarks skipped", p.display());
            None
        }
    }
}

fn criterion_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("criterion")
}

/// Strategy files with `count` rules in a realistic mix: about half exact-name lists of 1–5
/// names, a quarter globs, the rest attribute selects and regexes; each with a `max_price`.
fn generated(count: usize, names: &[String], dir: &Path, per_day: Option<u32>) -> Vec<Strategy> {
    let mut rng = StdRng::seed_from_u64(count as u64);
    let parsed: Vec<_> = names.iter().filter_map(|n| market_name::parse(n).ok()).collect();
    let weapons: Vec<_> = parsed.iter().filter(|p| p.finish().is_some() && p.wear().is_some()).collect();
    let q = |s: &str| format!("{s:?}");
    let mut rules = Vec::new();
    for i in 0..count {
        let price = format!("{}.{:02}", rng.random_range(1..400), rng.random_range(0..100));
        let select = match i % 8 {
            0..=3 => {
                let n: Vec<String> =
                    (0..rng.random_range(1..=5)).map(|_| q(&names[rng.random_range(0..names.len())])).collect();
                format!("names = [{}]", n.join(", "))
            }
            4 | 5 => {
                let w = weapons[rng.random_range(0..weapons.len())];
                match rng.random_range(0..3) {
                    0 => format!("globs = [{}]", q(&format!("{} | *", w.base()))),
                    1 => format!("globs = [{}]", q(&format!("* | {} (*)", w.finish().unwrap_or("*")))),
                    _ => format!("globs = [{}]", q(&format!("*{}*", w.finish().unwrap_or("Case")))),
                }
            }
            6 => {
                let w = weapons[rng.random_range(0..weapons.len())];
                let wear = ["FN", "MW", "FT", "WW", "BS"][rng.random_range(0..5)];
                match rng.random_range(0..3) {
                    0 => format!("kind = \"knife\", finish = {}, stattrak = false", q(w.finish().unwrap_or("Fade"))),
                    1 => format!("base = {}, wear = \"{wear}\", souvenir = false", q(w.base())),
                    _ => format!("kind = [\"gloves\", \"knife\"], wear = \"{wear}\""),
                }
            }
            _ => {
                let w = weapons[rng.random_range(0..weapons.len())];
                let base = regex::escape(w.base());
                format!("regexes = [{}]", q(&format!("^{base} \\| .+ \\((Factory New|Minimal Wear)\\)$")))
            }
        };
        rules.push(format!(
            "[[rules]]\nname = \"r{i}\"\nselect = {{ {select} }}\nmax_price = \"{price} usd\"\nper_item_total = 1\n"
        ));
    }
    let limits = per_day.map(|d| format!("[limits]\nper_day = {d}\n")).unwrap_or_default();
    let sub = dir.join(format!("gen-{count}-{}", per_day.unwrap_or(0)));
    std::fs::create_dir_all(&sub).expect("strategy folder");
    for (k, chunk) in rules.chunks(10).enumerate() {
        let text = format!("name = \"gen-{k}\"\npriority = {}\n{limits}{}", k % 3, chunk.concat());
        std::fs::write(sub.join(format!("s{k:04}.toml")), text).expect("strategy file");
    }
    load_all(&[sub]).expect("generated strategies load")
}

fn examples() -> Vec<Strategy> {
    load_all(&[Path::new(env!("CARGO_MANIFEST_DIR")).join("strategies")]).expect("example strategies load")
}

/// An in-process sandbox selling every name (about six listings each).
async fn market_sandbox(names: &[String]) -> sandbox::Sandbox {
    let mut cfg = SandboxConfig::manual();
    cfg.faults = Faults::none();
    cfg.offers = OfferConfig::always_accept();
    cfg.catalog = Catalog::from_names(names.iter().map(String::as_str), Game::Cs2);
    sandbox::start(cfg, "127.0.0.1:0".parse().expect("address")).await.expect("sandbox starts")
}

/// The raw bytes of a `market_pricelist` answer.
async fn raw(sb: &sandbox::Sandbox, full: bool) -> Vec<u8> {
    let mut body = serde_json::json!({"method": "market_pricelist", "game": "cs2"});
    if full {
        body["full"] = 1.into();
    }
    let resp = reqwest::Client::new()
        .post(sb.api_url())
        .header("X-CLIENT-ID", sb.shop_id())
        .header("X-CLIENT-SECRET", sb.secret())
        .json(&body)
        .send()
        .await
        .expect("price list");
    resp.bytes().await.expect("body").to_vec()
}

fn main() {
    let mut c = Criterion::default()
        .output_directory(&criterion_dir())
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .configure_from_args();
    let Some(names) = names() else { return };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let sb = rt.block_on(market_sandbox(&names));
    let full = rt.block_on(raw(&sb, true));
    let grouped = rt.block_on(raw(&sb, false));
    let dir = tempfile::tempdir().expect("temp dir");
    let sets: Vec<(String, Vec<Strategy>)> = std::iter::once(("examples".to_string(), examples()))
        .chain([10, 100, 1000].map(|n| (n.to_string(), generated(n, &names, dir.path(), None))))
        .collect();

    let (_, table) = decode_pricelist_table(&full).expect("the sandbox's list decodes");
    let snapshot = Snapshot::from_table(Game::Cs2, chrono::Utc::now(), table.clone());
    let rates = {
        let mut r = Rates::new();
        r.insert("eur".parse().expect("code"), rust_decimal::Decimal::new(92, 2)).expect("rate");
        r
    };
    let tally = Tally::default();
    println!(
        "market: {} names, {} listings, full list {:.1} MB, grouped list {:.1} MB",
        snapshot.name_count(),
        snapshot.listing_count(),
        full.len() as f64 / 1e6,
        grouped.len() as f64 / 1e6
    );

    let mut g = c.benchmark_group("market");
    g.bench_function("plain_parse", |b| {
        b.iter(|| black_box(serde_json::from_slice::<PlainList>(&full).expect("parse")))
    });
    g.bench_function("ingest", |b| b.iter(|| black_box(decode_pricelist_table(&full).expect("decode"))));
    g.bench_function("snapshot", |b| {
        b.iter_batched(
            || table.clone(),
            |t| black_box(Snapshot::from_table(Game::Cs2, chrono::Utc::now(), t)),
            BatchSize::LargeInput,
        )
    });
    let mut compiled = Vec::new();
    for (label, set) in &sets {
        let t = Instant::now();
        let matcher = Matcher::compile(Arc::new(set.clone()));
        let compile = t.elapsed();
        let found = matcher.decide(&snapshot, &rates, &tally, &NoHistory).candidates.len();
        let rules: usize = set.iter().map(|s| s.rules.len()).sum();
        println!("decide_{label}: {rules} rules, compiled in {compile:?}, {found} candidates");
        g.bench_function(format!("decide_{label}"), |b| {
            b.iter(|| black_box(matcher.decide(&snapshot, &rates, &tally, &NoHistory)))
        });
        compiled.push((label.clone(), matcher));
    }
    let thousand = &compiled.last().expect("the 1,000-rule set").1;
    g.bench_function("total_1000", |b| {
        b.iter(|| {
            let (_, table) = decode_pricelist_table(&full).expect("decode");
            let snapshot = Snapshot::from_table(Game::Cs2, chrono::Utc::now(), table);
            black_box(thousand.decide(&snapshot, &rates, &tally, &NoHistory))
        })
    });
    g.bench_function("grouped", |b| b.iter(|| black_box(decode_pricelist_grouped(&grouped).expect("grouped"))));
    g.bench_function("grouped_plain_parse", |b| {
        b.iter(|| black_box(serde_json::from_slice::<PlainGroups>(&grouped).expect("parse")))
    });
    g.finish();
    c.final_summary();
    drop(compiled);

    report(&[
        "plain_parse",
        "ingest",
        "snapshot",
        "decide_examples",
        "decide_10",
        "decide_100",
        "decide_1000",
        "total_1000",
        "grouped",
        "grouped_plain_parse",
    ]);

    // `SKINBOT_BENCH_TICKS=0` leaves the tick latency out (e.g. while profiling one benchmark).
    let ticks: usize = std::env::var("SKINBOT_BENCH_TICKS").ok().and_then(|v| v.parse().ok()).unwrap_or(40);
    for rules in [100, 1000].into_iter().filter(|_| ticks > 0) {
        // Each generated strategy buys at most two a day here: the ticks measured read a realistic
        // day of the ledger, not the 20k purchases 1,000 rules want on the first tick.
        let set = generated(rules, &names, dir.path(), Some(2));
        rt.block_on(tick_latency(&sb, set, rules, ticks));
    }
    rt.block_on(sb.shutdown());
}

/// Medians from criterion's estimates, as a table with each time over the plain parse's.
fn report(ids: &[&str]) {
    let median = |id: &str| -> Option<f64> {
        let p = criterion_dir().join("market").join(id).join("new").join("estimates.json");
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).ok()?).ok()?;
        v["median"]["point_estimate"].as_f64()
    };
    let floor = median("plain_parse");
    println!("\n| step | median | × plain parse |\n|---|---:|---:|");
    for id in ids {
        match (median(id), floor) {
            (Some(t), Some(f)) => println!("| {id} | {:.1} ms | {:.2} |", t / 1e6, t / f),
            (Some(t), None) => println!("| {id} | {:.1} ms | – |", t / 1e6),
            _ => println!("| {id} | – | – |"),
        }
    }
}

/// Ticks of an engine against the in-process sandbox; for each, the time from the price list's
/// answer received to the first buy request sent, read from the client's trace events.
async fn tick_latency(sb: &sandbox::Sandbox, strategies: Vec<Strategy>, rules: usize, ticks: usize) {
    use skinbot::engine::clock::TokioClock;
    use skinbot::engine::{Deps, Engine};
    use tracing_subscriber::layer::SubscriberExt;

    let events: Arc<Mutex<Vec<(Instant, String, String)>>> = Arc::default();
    let subscriber = tracing_subscriber::registry().with(Recorder(Arc::clone(&events)));
    let _guard = tracing::subscriber::set_default(subscriber);
    sb.set_balance(skinbot::domain::Usd::new(rust_decimal::Decimal::new(100_000_000, 0)));
    // A rule that buys on every tick, beside the set under test: each tick lists one more of it.
    let mut strategies = strategies;
    let always =
        "name = \"always\"\npriority = -1\n[[rules]]\nselect = { names = \"Bench Crate\" }\nmax_price = \"0.05\"\n";
    strategies.extend(Strategy::parse(Path::new("always.toml"), always).expect("parses"));
    let config =
        "[budget]\nper_order = \"100000\"\nper_hour = \"10000000\"\nper_day = \"10000000\"\nbalance_floor = \"0\"\n";
    let config = skinbot::config::Config::parse(Path::new("bench.toml"), config, &NoEnv).expect("config");
    let mut client_cfg = skinbot::exchange::ClientConfig::new(
        sb.api_url(),
        sb.shop_id(),
        secrecy::SecretString::from(sb.secret().to_string()),
    );
    client_cfg.timeout = Duration::from_secs(60);
    let client = skinbot::exchange::Client::new(client_cfg).expect("client");
    let ledger = skinbot::ledger::Ledger::temporary().expect("ledger");
    let deps = Deps { client, ledger, clock: Arc::new(TokioClock::new()) };
    let engine = Engine::new(Arc::new(config), strategies, deps);
    let mut latencies = Vec::new();
    for _ in 0..ticks {
        sb.add_listing("Bench Crate", Game::Cs2, skinbot::domain::Usd::new(rust_decimal::Decimal::new(1, 2)));
        events.lock().expect("events").clear();
        engine.tick().await;
        let ev = events.lock().expect("events").clone();
        let received = ev.iter().find(|(_, m, msg)| m == "market_pricelist" && msg == "answer received");
        let sent = ev.iter().find(|(_, m, msg)| m.contains("buy") && msg == "api call");
        if let (Some(r), Some(s)) = (received, sent) {
            latencies.push(s.0.duration_since(r.0));
        }
    }
    latencies.sort();
    if latencies.is_empty() {
        return println!("tick latency, {rules} rules: no tick bought anything");
    }
    let pct = |p: usize| latencies[(latencies.len() * p / 100).min(latencies.len() - 1)];
    println!(
        "tick latency, {rules} rules (+1 that always buys): price list received → first buy sent: p50 {:?}, p99 {:?} over {} ticks",
        pct(50),
        pct(99),
        latencies.len()
    );
}

struct NoEnv;

impl skinbot::config::SecretSource for NoEnv {
    fn var(&self, _: &str) -> Option<String> {
        None
    }
}

/// Keeps (time, method, message) of every event that has a `method` field.
struct Recorder(Arc<Mutex<Vec<(Instant, String, String)>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Recorder {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        #[derive(Default)]
        struct Fields {
            method: String,
            message: String,
        }
        impl tracing::field::Visit for Fields {
            fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                if field.name() == "method" {
                    self.method = value.to_string();
                }
            }
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                match field.name() {
                    "message" => self.message = format!("{value:?}"),
                    "method" => self.method = format!("{value:?}").trim_matches('"').to_string(),
                    _ => {}
                }
            }
        }
        let mut f = Fields::default();
        event.record(&mut f);
        if !f.method.is_empty() {
            if let Ok(mut v) = self.0.lock() {
                v.push((Instant::now(), f.method, f.message));
            }
        }
    }
}
