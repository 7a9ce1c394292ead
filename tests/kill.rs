//! The kill campaign: the real `skinbot` binary trades against a standalone sandbox process and is
//! killed with SIGKILL at random moments (before its first tick, in the middle of a batch, while it
//! polls), again and again; then one clean run resolves what is open, and the bot's ledger is
//! checked against the sandbox's own record of what was bought (`GET /sandbox/purchases`):
//!
//! - every sandbox purchase is in the ledger as bought, with the same `buy_id` and debit;
//! - no `custom_id` bought twice, no two ledger records with one `buy_id`, no purchase the sandbox
//!   does not have;
//! - no strategy cap (`per_day`, `total`), budget window (`per_hour`, `per_day`, by the sandbox's
//!   debits, UTC) or balance floor crossed, and no debit above the order's `max_price`;
//! - the ledger's hash chain intact, nothing left pending or unknown.
//!
//! The same campaign runs under each sandbox fault, with fewer kills. `SKINBOT_KILLS` sets the kill
//! count (default 30; a fault campaign runs a sixth of it, at least 3), `SKINBOT_KILL_SEED` replays
//! a printed seed, `SKINBOT_KILL_KEEP=1` keeps the campaign's folder (a failing campaign always keeps
//! it). The random delay before each kill *is* the experiment; everything else waits for
//! what it needs (a port, an exit) in bounded loops.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::{json, Value};
use skinbot::domain::{PurchaseRecord, PurchaseState, Usd};
use skinbot::ledger::Ledger;
use tokio_tungstenite::tungstenite::Message;

const BIN: &str = env!("CARGO_BIN_EXE_skinbot");
const SECRET: &str = "kill-campaign-secret";
const SHOP_ID: &str = "1490";
/// Sandbox seconds per real second: offers are created in ~0.1 s and accepted in ~1 s.
const TIME_SCALE: u32 = 60;
/// Sandbox seconds between market steps (each lists two new items and sells two): with the time
/// scale, a dozen new listings a second, so every tick finds something to buy.
const MARKET_STEP_SECS: u32 = 10;
/// Shortest and longest wait before a kill: from before the first tick to well into polling.
const KILL_AFTER_MS: (u64, u64) = (50, 2500);
/// A tick-aligned kill lands this many ms after a whole second at most: the tick and the poll run
/// on every whole second (`* * * * * *`), and a tick's batches go out within a few tens of ms.
const TICK_WINDOW_MS: u64 = 120;
/// A mid-batch kill lands this many ms after the run's first purchase at most.
const MID_BATCH_MS: u64 = 8;
/// About how long the bot takes from spawn to its first possible tick (debug build: config, ledger,
/// rates and balance first).
const STARTUP_MS: u64 = 600;
/// The clean run: long enough for every open outcome to be resolved (`resolve_after_secs` is 4
/// unless a campaign says otherwise; then twice it, and a little).
const CLEAN_RUN_SECS: u64 = 10;

/// Cheap items in a small market, so that the bot buys all the time: cases for the batch strategy,
/// stickers and graffiti for the other. Listings come and go as the sandbox market moves.
const CATALOG: &str = "name,price,count,game
Recoil Case,0.31,6,cs2
Revolution Case,0.42,6,cs2
Clutch Case,0.49,6,cs2
Fracture Case,0.57,6,cs2
Prisma 2 Case,0.71,6,cs2
Kilowatt Case,0.88,6,cs2
Snakebite Case,0.35,6,cs2
Dreams & Nightmares Case,1.24,6,cs2
Sticker | Battle Scarred,0.35,6,cs2
Paris 2023 Legends Sticker Capsule,0.27,6,cs2
Sealed Graffiti | Lambda (Shark White),0.05,6,cs2
Nova | Hyper Beast (Field-Tested),0.92,6,cs2
";

/// The limits one campaign runs under. Money limits grow with the number of kills, so that buying
/// goes on through most of the campaign and the limits bind towards its end.
#[derive(Debug, Clone)]
struct Limits {
    balance: Decimal,
    balance_floor: Decimal,
    per_hour: Decimal,
    per_day: Decimal,
    /// Strategy `batches`: `[limits] total` and `per_day` (counts of purchases).
    batches_total: u32,
    batches_per_day: u32,
    /// Strategy `singles`: `[limits] per_day`.
    singles_per_day: u32,
}

impl Limits {
    /// `tight`: which money limit binds first (0: per_hour, 1: per_day, 2: the balance floor).
    fn for_kills(kills: usize, tight: usize) -> Limits {
        let kills = u32::try_from(kills).unwrap_or(u32::MAX).max(3);
        // The first run spends some 20 USD, each later one about one more.
        let money = Decimal::from(kills) * dec!(1.1) + dec!(25);
        let loose = money * dec!(3);
        let (per_hour, per_day, floor_room) = match tight % 3 {
            0 => (money, loose, loose),
            1 => (loose, money, loose),
            _ => (loose, loose, money),
        };
        Limits {
            balance: dec!(20) + floor_room,
            balance_floor: dec!(20),
            per_hour,
            per_day,
            // The first run buys some 45 items (a dozen of them singles); each later one two or three.
            batches_total: kills * 3 + 35,
            batches_per_day: kills * 4 + 40,
            singles_per_day: kills + 10,
        }
    }
}

/// When to kill one run of the bot.
enum KillAt {
    /// After this long.
    After(Duration),
    /// This long after the sandbox reports the run's first purchase (an order in flight, the rest
    /// of its batch not yet answered or recorded); at `within` if nothing is bought by then.
    AfterFirstBuy { then: Duration, within: Duration },
}

/// Two in five kills land anywhere in [`KILL_AFTER_MS`] (before the first tick, while polling),
/// one in five just after a whole second when a tick may be sending (the first of the three whole
/// seconds at least [`STARTUP_MS`] away from `spawned`), two in five right after the run's first
/// purchase, in the middle of its batches.
fn kill_at(rng: &mut StdRng, spawned: SystemTime) -> (KillAt, String) {
    match rng.random_range(0..5u8) {
        0 | 1 => {
            let ms = rng.random_range(KILL_AFTER_MS.0..=KILL_AFTER_MS.1);
            (KillAt::After(Duration::from_millis(ms)), format!("{ms} ms after the start"))
        }
        2 => {
            let into_second = u64::from(spawned.duration_since(UNIX_EPOCH).unwrap_or_default().subsec_millis());
            let first = if 1000 - into_second >= STARTUP_MS { 1 } else { 2 };
            let second = first + rng.random_range(0..3u64);
            let offset = rng.random_range(0..=TICK_WINDOW_MS);
            let ms = second * 1000 - into_second + offset;
            (KillAt::After(Duration::from_millis(ms)), format!("{ms} ms after the start, {offset} ms after a tick"))
        }
        _ => {
            let ms = rng.random_range(0..=MID_BATCH_MS);
            let within = Duration::from_millis(KILL_AFTER_MS.1 + 1000);
            (KillAt::AfterFirstBuy { then: Duration::from_millis(ms), within }, format!("{ms} ms after its first buy"))
        }
    }
}

fn kills_from_env() -> usize {
    std::env::var("SKINBOT_KILLS").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(30)
}

fn seed_from_env() -> u64 {
    match std::env::var("SKINBOT_KILL_SEED").ok().and_then(|s| s.trim().parse().ok()) {
        Some(s) => s,
        None => rand::rng().random(),
    }
}

// ---------------------------------------------------------------- processes

/// A child process killed (SIGKILL) and reaped when dropped, so a failing test leaves nothing behind.
struct Proc {
    child: Child,
    what: &'static str,
}

impl Proc {
    /// SIGKILL (what `Child::kill` sends on Unix), then reap.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the process to end by itself, up to `within`.
    fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                _ => return None,
            }
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            eprintln!("stopping the {} process", self.what);
        }
        self.kill();
    }
}

/// The last `n` bytes of a log file, for a failure message.
fn tail(path: &Path, n: u64) -> String {
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) => return format!("(cannot read {}: {e})", path.display()),
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(n)));
    let mut s = String::new();
    let _ = f.read_to_string(&mut s);
    s
}

/// A standalone sandbox (`skinbot sandbox --port 0 …`) and its admin endpoints.
struct SandboxProc {
    /// Kept for its `Drop`: the sandbox process ends with the campaign.
    _proc: Proc,
    base: String,
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
    log: PathBuf,
}

impl SandboxProc {
    fn start(dir: &Path, limits: &Limits, seed: u64, market_step: u32) -> SandboxProc {
        let catalog = dir.join("catalog.csv");
        std::fs::write(&catalog, CATALOG).expect("write the catalog");
        let log = dir.join("sandbox.log");
        let child = Command::new(BIN)
            .args(["sandbox", "--port", "0", "--shop-id", SHOP_ID, "--balance"])
            .arg(limits.balance.to_string())
            .arg("--seed")
            .arg(seed.to_string())
            .arg("--time-scale")
            .arg(TIME_SCALE.to_string())
            .arg("--market-step")
            .arg(market_step.to_string())
            .arg("--catalog")
            .arg(&catalog)
            .env("SKINBOT_SANDBOX_SECRET", SECRET)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(File::create(&log).expect("sandbox log"))
            .spawn()
            .expect("the sandbox starts");
        let mut proc = Proc { child, what: "sandbox" };
        let stdout = proc.child.stdout.take().expect("sandbox stdout");
        // The sandbox prints its address once it listens; the reader keeps draining after that.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let api = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(url) = line.trim().strip_prefix("api:") {
                        break url.trim().to_string();
                    }
                }
                Err(_) => panic!("the sandbox did not say where it listens: {}", tail(&log, 4000)),
            }
        };
        let base = api.strip_suffix("/api.php").expect("an /api.php url").to_string();
        // One worker: it also carries the websocket reader while the test thread waits.
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("http client");
        SandboxProc { _proc: proc, base, rt, http, log }
    }

    /// A message for every purchase the sandbox makes (its websocket's `buy_item` events), from now on.
    fn buy_events(&self) -> mpsc::Receiver<()> {
        let url = format!(
            "{}/ws/?shopid={SHOP_ID}&signature={}",
            self.base.replacen("http://", "ws://", 1),
            skinbot::signature::websocket_signature(SHOP_ID, SECRET)
        );
        let mut ws = self.rt.block_on(async {
            let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("the sandbox websocket connects");
            // Authenticated once it says so; only then are its events ours.
            let first = tokio::time::timeout(Duration::from_secs(10), ws.next()).await;
            let text = match first {
                Ok(Some(Ok(Message::Text(t)))) => t.to_string(),
                other => panic!("no auth answer from the sandbox websocket: {other:?}"),
            };
            assert!(text.contains("auth_success"), "{text}");
            ws
        });
        let (tx, rx) = mpsc::channel();
        self.rt.spawn(async move {
            while let Some(Ok(msg)) = ws.next().await {
                if let Message::Text(t) = msg {
                    if t.contains("\"event\":\"buy_item\"") && tx.send(()).is_err() {
                        return;
                    }
                }
            }
        });
        rx
    }

    fn api_url(&self) -> String {
        format!("{}/api.php", self.base)
    }

    fn get(&self, path: &str) -> Value {
        let url = format!("{}{path}", self.base);
        self.rt.block_on(async {
            let resp = self.http.get(&url).send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
            resp.json::<Value>().await.unwrap_or_else(|e| panic!("GET {url}: {e}"))
        })
    }

    fn set_faults(&self, faults: &Value) {
        let url = format!("{}/sandbox/faults", self.base);
        self.rt.block_on(async {
            let resp = self.http.post(&url).json(faults).send().await.unwrap_or_else(|e| panic!("POST {url}: {e}"));
            assert!(resp.status().is_success(), "POST {url} {faults}: {}", resp.status());
        });
    }
}

/// The campaign's folder: config, strategies, secret, state, logs.
struct BotFiles {
    dir: PathBuf,
    config: PathBuf,
    log: PathBuf,
}

impl BotFiles {
    fn write(dir: &Path, api_url: &str, limits: &Limits, c: &Campaign) -> BotFiles {
        let extra = c.extra_config;
        let resolve_after = c.resolve_after_secs;
        std::fs::create_dir_all(dir.join("strategies")).expect("strategies dir");
        std::fs::write(dir.join("secret.txt"), format!("{SECRET}\n")).expect("secret");
        let config = dir.join("skinbot.toml");
        std::fs::write(
            &config,
            format!(
                r#"[exchange]
api_url = "{api_url}"
shop_id = "{SHOP_ID}"
secret_file = "secret.txt"
timeout_ms = 1500
connect_timeout_ms = 500

[trade_link]
partner = "123456789"
token = "AbCd1234"

[schedule]
timezone = "UTC"
pricelist = "* * * * * *"
currencies = "*/5 * * * * *"
balance = "* * * * * *"
poll = "* * * * * *"

[budget]
currency = "usd"
per_order = "5"
per_hour = "{per_hour}"
per_day = "{per_day}"
balance_floor = "{floor}"
balance_max_age_secs = 5

[orders]
batch_size = {BATCH_SIZE}
games = ["cs2"]
resolve_after_secs = {resolve_after}

[strategies]
dir = "strategies"

[state]
dir = "state"
{extra}"#,
                per_hour = limits.per_hour,
                per_day = limits.per_day,
                floor = limits.balance_floor,
            ),
        )
        .expect("config");
        std::fs::write(
            dir.join("strategies/batches.toml"),
            format!(
                r#"name = "batches"
priority = 10

[limits]
total = {total}
per_day = {per_day}

[[rules]]
name = "cheap cases"
select = {{ globs = ["* Case"] }}
max_price = "0.80 usd"
"#,
                total = limits.batches_total,
                per_day = limits.batches_per_day,
            ),
        )
        .expect("strategy");
        std::fs::write(
            dir.join("strategies/singles.toml"),
            format!(
                r#"name = "singles"
priority = 5

[limits]
per_day = {per_day}

[[rules]]
name = "stickers and graffiti"
select = {{ globs = ["Sticker *", "Sealed Graffiti *", "* Sticker Capsule"] }}
max_price = "0.40 usd"
per_item_per_day = 40
"#,
                per_day = limits.singles_per_day,
            ),
        )
        .expect("strategy");
        BotFiles { dir: dir.to_path_buf(), config, log: dir.join("bot.log") }
    }

    fn spawn(&self, duration_secs: Option<u64>) -> Proc {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("bot log");
        let mut cmd = Command::new(BIN);
        cmd.arg("run").arg("--config").arg(&self.config);
        if let Some(s) = duration_secs {
            cmd.arg("--duration-secs").arg(s.to_string());
        }
        let child = cmd
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("skinbot run starts");
        Proc { child, what: "skinbot run" }
    }
}

// ---------------------------------------------------------------- the campaign

/// What one campaign does besides killing: the faults before each kill (`None` = leave them).
struct Campaign {
    name: &'static str,
    kills: usize,
    /// Which money limit binds first (see [`Limits::for_kills`]).
    tight: usize,
    faults: fn(usize) -> Option<Value>,
    /// Sandbox seconds between market steps; 0 = a still market (nothing drifts, nobody else buys).
    market_step: u32,
    /// The sandbox debits more than `max_price` on purpose (see `end_check`).
    over_debit: bool,
    /// More of the bot's config (e.g. a `[halt]` section).
    extra_config: &'static str,
    /// `[orders] resolve_after_secs`: how long an unanswered order waits before it may be released.
    resolve_after_secs: u64,
}

impl Campaign {
    fn new(name: &'static str, kills: usize, tight: usize, faults: fn(usize) -> Option<Value>) -> Campaign {
        Campaign {
            name,
            kills,
            tight,
            faults,
            market_step: MARKET_STEP_SECS,
            over_debit: false,
            extra_config: "",
            resolve_after_secs: 4,
        }
    }
}

/// The sandbox's record of one purchase.
#[derive(Debug)]
struct Bought {
    custom_id: Option<String>,
    buy_id: u64,
    debited: Usd,
    balance_after: Usd,
}

fn usd_field(v: &Value, key: &str) -> Usd {
    let text = v[key].as_str().unwrap_or_else(|| panic!("{key} is not a string in {v}"));
    Usd::parse(text).unwrap_or_else(|e| panic!("{key} `{text}`: {e}"))
}

fn sandbox_purchases(sb: &SandboxProc) -> Vec<Bought> {
    let rows = sb.get("/sandbox/purchases");
    rows.as_array()
        .expect("a list of purchases")
        .iter()
        .map(|p| Bought {
            custom_id: p["custom_id"].as_str().map(str::to_string),
            buy_id: p["buy_id"].as_u64().unwrap_or_else(|| panic!("buy_id in {p}")),
            debited: usd_field(p, "debited"),
            balance_after: usd_field(p, "balance_after"),
        })
        .collect()
}

/// What the end check found; each list holds one line per problem.
#[derive(Debug, Default)]
struct Findings {
    purchases: usize,
    duplicates: Vec<String>,
    missing: Vec<String>,
    budget: Vec<String>,
    caps: Vec<String>,
    floor: Vec<String>,
    over_max_price: Vec<String>,
    unresolved: Vec<String>,
    chain: Option<String>,
    /// Purchases the sandbox debited above their max_price.
    over_debited: usize,
    /// Orders a kill cut between intent and result, resolved after a restart: bought, not bought.
    cut: (usize, usize),
    /// Largest hourly and daily spend seen, for the summary.
    max_hour: Usd,
    max_day: Usd,
    min_balance: Option<Usd>,
}

impl Findings {
    fn problems(&self) -> Vec<&String> {
        self.duplicates
            .iter()
            .chain(&self.missing)
            .chain(&self.budget)
            .chain(&self.caps)
            .chain(&self.floor)
            .chain(&self.over_max_price)
            .chain(&self.unresolved)
            .chain(&self.chain)
            .collect()
    }
}

fn add(windows: &mut BTreeMap<String, Usd>, window: String, amount: Usd) {
    let sum = windows.entry(window).or_default();
    *sum = sum.saturating_add(amount);
}

fn hour_of(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:00").to_string()
}

fn day_of(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// Orders per `market_batch_buy` (`[orders] batch_size`).
const BATCH_SIZE: usize = 3;

/// Compares the ledger with the sandbox's own record. `over_debit`: the sandbox over-debits on
/// purpose. The bot cannot stop an exchange from taking more than `max_price`; what it owes is to
/// record the debit as reported, count it, and halt (invariant 9). So then a debit above
/// `max_price` is no finding by itself, the unforeseeable excess is left out of the budget and
/// floor sums, and a finding is a bot that kept buying: more over-debited purchases than one
/// batch per run of the bot (`runs`).
fn end_check(ledger: &Ledger, sandbox: &[Bought], limits: &Limits, over_debit: bool, runs: usize) -> Findings {
    let mut f = Findings { purchases: sandbox.len(), ..Findings::default() };
    let records = ledger.list().expect("the ledger lists its purchases");
    let by_cid: HashMap<&str, &PurchaseRecord> = records.iter().map(|r| (r.intent.custom_id.as_str(), r)).collect();

    // Twice bought: one custom_id with two sandbox purchases, one buy_id in two ledger records.
    let mut per_cid: HashMap<&str, Vec<u64>> = HashMap::new();
    for p in sandbox {
        if let Some(c) = &p.custom_id {
            per_cid.entry(c.as_str()).or_default().push(p.buy_id);
        }
    }
    for (cid, ids) in &per_cid {
        if ids.len() > 1 {
            f.duplicates.push(format!("custom_id {cid} bought {} times by the sandbox: buy_ids {ids:?}", ids.len()));
        }
    }
    let mut per_buy_id: HashMap<u64, Vec<&str>> = HashMap::new();
    for r in &records {
        if let PurchaseState::Bought { buy_id, .. } = &r.state {
            per_buy_id.entry(buy_id.get()).or_default().push(r.intent.custom_id.as_str());
        }
    }
    for (buy_id, cids) in &per_buy_id {
        if cids.len() > 1 {
            f.duplicates.push(format!("buy_id {buy_id} recorded by {} ledger records: {cids:?}", cids.len()));
        }
    }
    let sandbox_buy_ids: HashMap<u64, &Bought> = sandbox.iter().map(|p| (p.buy_id, p)).collect();
    for (buy_id, cids) in &per_buy_id {
        if !sandbox_buy_ids.contains_key(buy_id) {
            f.missing.push(format!(
                "ledger records {cids:?} say bought as buy_id {buy_id}, the sandbox has no such purchase"
            ));
        }
    }

    // Every sandbox purchase in the ledger, as bought, with its buy_id and debit; spend by window.
    let now = Utc::now();
    let mut hour: BTreeMap<String, Usd> = BTreeMap::new();
    let mut day: BTreeMap<String, Usd> = BTreeMap::new();
    let mut strategy_total: BTreeMap<String, u32> = BTreeMap::new();
    let mut strategy_day: BTreeMap<(String, String), u32> = BTreeMap::new();
    // What the sandbox took above max_price, by purchase (only with `over_debit`).
    let mut excess: HashMap<u64, Usd> = HashMap::new();
    for p in sandbox {
        let record = p.custom_id.as_deref().and_then(|c| by_cid.get(c).copied());
        let Some(r) = record else {
            f.missing.push(format!(
                "sandbox buy_id {} (custom_id {:?}, debited {}) is not in the ledger",
                p.buy_id, p.custom_id, p.debited
            ));
            // Counted in the current windows: a purchase the bot does not know still spent money.
            add(&mut hour, hour_of(now), p.debited);
            add(&mut day, day_of(now), p.debited);
            continue;
        };
        let cid = r.intent.custom_id.as_str();
        match &r.state {
            PurchaseState::Bought { buy_id, debited, .. } => {
                if buy_id.get() != p.buy_id {
                    f.missing.push(format!(
                        "{cid}: the sandbox bought it as buy_id {}, the ledger says buy_id {buy_id}",
                        p.buy_id
                    ));
                }
                if *debited != p.debited {
                    f.missing.push(format!("{cid}: the sandbox debited {}, the ledger says {debited}", p.debited));
                }
            }
            other => f.missing.push(format!(
                "{cid}: the sandbox bought it (buy_id {}, {}), the ledger says {} ({:?})",
                p.buy_id,
                p.debited,
                other.label(),
                r.transitions.iter().map(|t| format!("{} {}", t.state, t.detail)).collect::<Vec<_>>()
            )),
        }
        let mut counted = p.debited;
        if p.debited > r.intent.max_price {
            f.over_debited += 1;
            if over_debit {
                excess.insert(p.buy_id, p.debited.saturating_sub(r.intent.max_price));
                counted = r.intent.max_price;
            } else {
                f.over_max_price.push(format!(
                    "{cid}: debited {} above its max_price {} (buy_id {})",
                    p.debited, r.intent.max_price, p.buy_id
                ));
            }
        }
        // The guard counts a purchase in the windows of the moment it was decided.
        let d = day_of(r.created_at);
        add(&mut hour, hour_of(r.created_at), counted);
        add(&mut day, d.clone(), counted);
        *strategy_total.entry(r.intent.strategy.clone()).or_default() += 1;
        *strategy_day.entry((r.intent.strategy.clone(), d)).or_default() += 1;
    }
    let cap = |limit: Decimal| Usd::new(limit);
    for (h, spent) in &hour {
        f.max_hour = f.max_hour.max(*spent);
        if *spent > cap(limits.per_hour) {
            f.budget.push(format!("hour {h}: the sandbox debited {spent} > per_hour {}", limits.per_hour));
        }
    }
    for (d, spent) in &day {
        f.max_day = f.max_day.max(*spent);
        if *spent > cap(limits.per_day) {
            f.budget.push(format!("day {d}: the sandbox debited {spent} > per_day {}", limits.per_day));
        }
    }
    for (s, n) in &strategy_total {
        if s == "batches" && *n > limits.batches_total {
            f.caps.push(format!("strategy batches: {n} purchases > total {}", limits.batches_total));
        }
    }
    for ((s, d), n) in &strategy_day {
        let limit = match s.as_str() {
            "batches" => limits.batches_per_day,
            _ => limits.singles_per_day,
        };
        if *n > limit {
            f.caps.push(format!("strategy {s} on {d}: {n} purchases > per_day {limit}"));
        }
    }
    let mut excess_so_far = Usd::ZERO;
    for p in sandbox {
        f.min_balance = Some(f.min_balance.map_or(p.balance_after, |m| m.min(p.balance_after)));
        excess_so_far = excess_so_far.saturating_add(excess.get(&p.buy_id).copied().unwrap_or_default());
        if p.balance_after.saturating_add(excess_so_far) < cap(limits.balance_floor) {
            f.floor.push(format!(
                "buy_id {} (custom_id {:?}) left the balance at {} < floor {} ({} of it taken above max_price)",
                p.buy_id, p.custom_id, p.balance_after, limits.balance_floor, excess_so_far
            ));
        }
    }
    if over_debit && excess.len() > runs * BATCH_SIZE {
        f.over_max_price.push(format!(
            "{} purchases debited above their max_price in {runs} runs of the bot: it kept buying after \
             an over-debit (halted, it would stop after one batch of {BATCH_SIZE} per run)",
            excess.len()
        ));
    }
    for r in &records {
        // The step after `pending` came from reconciliation: a kill cut this order.
        let resumed = r
            .transitions
            .get(1)
            .is_some_and(|t| t.detail.starts_with("resolved by") || t.detail.starts_with("unknown to the exchange"));
        if resumed {
            if matches!(r.state, PurchaseState::Bought { .. }) {
                f.cut.0 += 1;
            } else {
                f.cut.1 += 1;
            }
        }
        if r.state.is_unresolved() {
            f.unresolved.push(format!(
                "{} still {} after the clean run: {:?}",
                r.intent.custom_id,
                r.state.label(),
                r.transitions.iter().map(|t| format!("{} {}", t.state, t.detail)).collect::<Vec<_>>()
            ));
        }
    }
    if let Err(e) = ledger.verify_chain() {
        f.chain = Some(format!("the hash chain is broken: {e}"));
    }
    f
}

fn run_campaign(c: &Campaign) -> Findings {
    let seed = seed_from_env();
    let limits = Limits::for_kills(c.kills, c.tight);
    eprintln!(
        "kill campaign {}: seed {seed} (replay with SKINBOT_KILL_SEED={seed}), {} kills, limits {limits:?}",
        c.name, c.kills
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let sandbox = SandboxProc::start(dir, &limits, seed, c.market_step);
    let files = BotFiles::write(dir, &sandbox.api_url(), &limits, c);
    let mut rng = StdRng::seed_from_u64(seed);
    let buys = sandbox.buy_events();
    let started = Instant::now();
    for i in 0..c.kills {
        if let Some(faults) = (c.faults)(i) {
            sandbox.set_faults(&faults);
        }
        // Purchase events of earlier runs are not this run's.
        while buys.try_recv().is_ok() {}
        let mut bot = files.spawn(None);
        let spawned = Instant::now();
        let (at, how) = kill_at(&mut rng, SystemTime::now());
        eprintln!("kill campaign {} seed {seed}: kill {}/{}: {how}", c.name, i + 1, c.kills);
        // The experiment: a SIGKILL at a random moment of the bot's life.
        match at {
            KillAt::After(delay) => std::thread::sleep(delay),
            KillAt::AfterFirstBuy { then, within } => match buys.recv_timeout(within) {
                Ok(()) => std::thread::sleep(then),
                Err(_) => eprintln!("  nothing bought within {} ms: killed then", within.as_millis()),
            },
        }
        let lived = spawned.elapsed();
        if let Ok(Some(status)) = bot.child.try_wait() {
            panic!("skinbot run exited by itself ({status}) before kill {}: {}", i + 1, tail(&files.log, 6000));
        }
        bot.kill();
        eprintln!("  killed after {} ms", lived.as_millis());
    }
    // The clean run: no faults (not even the rate limit, whose block may still be running), time to
    // resolve everything, then a graceful stop.
    sandbox.set_faults(&json!({"rate_limit": null}));
    let clean_secs = CLEAN_RUN_SECS.max(c.resolve_after_secs * 2 + 2);
    let mut clean = files.spawn(Some(clean_secs));
    let status = clean.wait_exit(Duration::from_secs(clean_secs + 60));
    assert!(
        status.is_some_and(|s| s.success()),
        "the clean run did not end well ({status:?}): {}",
        tail(&files.log, 6000)
    );
    let purchases = sandbox_purchases(&sandbox);
    let requests = sandbox.get("/sandbox/requests");
    // For a post-mortem of a kept folder: the exchange's side of the story.
    for (file, path) in
        [("sandbox-purchases.json", "/sandbox/purchases"), ("sandbox-requests.json", "/sandbox/requests")]
    {
        let body = serde_json::to_string_pretty(&sandbox.get(path)).unwrap_or_default();
        std::fs::write(dir.join(file), body).expect("write the sandbox's record");
    }
    let count = |m: &str| requests.as_array().map_or(0, |r| r.iter().filter(|x| x["method"] == m).count());
    let ledger = Ledger::open(&dir.join("state/ledger")).expect("the ledger opens after the bot exited");
    let f = end_check(&ledger, &purchases, &limits, c.over_debit, c.kills + 1);
    let ledger_records = ledger.list().map(|l| l.len()).unwrap_or(0);
    eprintln!(
        "kill campaign {} seed {seed}: kills {}, purchases {}, duplicates {}, missing {}, budget crossings {}, \
         cap crossings {}, floor crossings {}, debited above max_price {}, unresolved {}, chain {} | {} ledger records, \
         {} cut by a kill (then bought {}, not bought {}), {} market_batch_buy + {} market_buy requests, top hour {} / {}, top day {} / {}, lowest balance {} / floor {}, \
         {:.0?}",
        c.name,
        c.kills,
        f.purchases,
        f.duplicates.len(),
        f.missing.len(),
        f.budget.len(),
        f.caps.len(),
        f.floor.len(),
        f.over_debited,
        f.unresolved.len(),
        if f.chain.is_none() { "intact" } else { "BROKEN" },
        ledger_records,
        f.cut.0 + f.cut.1,
        f.cut.0,
        f.cut.1,
        count("market_batch_buy"),
        count("market_buy"),
        f.max_hour,
        limits.per_hour,
        f.max_day,
        limits.per_day,
        f.min_balance.map(|b| b.to_string()).unwrap_or_else(|| "-".into()),
        limits.balance_floor,
        started.elapsed(),
    );
    let problems = f.problems();
    if !problems.is_empty() {
        let shown: Vec<String> = problems.iter().take(30).map(|p| format!("  {p}")).collect();
        eprintln!(
            "kill campaign {} seed {seed} FAILED ({} problems):\n{}\nbot log tail:\n{}\nsandbox log tail:\n{}",
            c.name,
            problems.len(),
            shown.join("\n"),
            tail(&files.log, 3000),
            tail(&sandbox.log, 2000)
        );
    }
    drop(sandbox);
    if !problems.is_empty() || std::env::var_os("SKINBOT_KILL_KEEP").is_some() {
        // Kept for a post-mortem: the ledger, the config, both logs.
        eprintln!("kill campaign {}: files kept in {}", c.name, tmp.keep().display());
    }
    assert!(f.purchases > 0, "kill campaign {} seed {seed}: nothing was bought, nothing was tested", c.name);
    f
}

fn assert_clean(name: &str, f: &Findings) {
    let problems = f.problems();
    assert!(problems.is_empty(), "kill campaign {name}: {} problems, first: {}", problems.len(), problems[0]);
}

fn fault_kills() -> usize {
    (kills_from_env() / 6).max(3)
}

// ---------------------------------------------------------------- the campaigns

#[test]
fn sigkill_at_random_moments_loses_no_purchase_and_crosses_no_limit() {
    let c = Campaign::new("plain", kills_from_env(), 0, |_| None);
    assert_clean(c.name, &run_campaign(&c));
}

#[test]
fn kills_under_latency_lose_nothing() {
    let c = Campaign::new("latency", fault_kills(), 1, |_| Some(json!({"latency_ms": 300})));
    assert_clean(c.name, &run_campaign(&c));
}

#[test]
fn kills_under_5xx_answers_lose_nothing() {
    let c = Campaign::new("http_error", fault_kills(), 2, |_| Some(json!({"http_error_rate": 0.3})));
    assert_clean(c.name, &run_campaign(&c));
}

#[test]
fn kills_under_hanging_requests_lose_nothing() {
    // Hung requests are never processed; the bot's 1.5 s timeout makes them unknown.
    let c = Campaign::new("hang", fault_kills(), 0, |_| Some(json!({"hang_rate": 0.15, "hang_for_ms": 3000})));
    assert_clean(c.name, &run_campaign(&c));
}

#[test]
fn kills_under_connections_dropped_after_commit_lose_nothing() {
    let c = Campaign::new("drop_after_commit", fault_kills(), 1, |_| Some(json!({"drop_after_commit_rate": 0.5})));
    assert_clean(c.name, &run_campaign(&c));
}

#[test]
fn kills_while_the_market_is_switched_off_and_on_lose_nothing() {
    // -6 market_disabled for every other run of the bot.
    let c = Campaign::new("market_disabled", fault_kills(), 2, |i| Some(json!({"market_disabled": i % 2 == 1})));
    assert_clean(c.name, &run_campaign(&c));
}

#[test]
fn kills_under_the_rate_limit_lose_nothing() {
    let c = Campaign::new("rate_limit", fault_kills(), 0, |_| {
        Some(json!({"rate_limit": {"per_minute": 20, "block_ms": 2000}}))
    });
    assert_clean(c.name, &run_campaign(&c));
}

#[test]
fn kills_while_the_status_says_unavailable_lose_nothing() {
    let c = Campaign::new("unavailable", fault_kills(), 1, |_| Some(json!({"unavailable": "no_bots"})));
    assert_clean(c.name, &run_campaign(&c));
}

#[test]
fn kills_under_malformed_money_lose_nothing() {
    let c = Campaign::new("malformed", fault_kills(), 2, |_| Some(json!({"malformed_rate": 0.2})));
    assert_clean(c.name, &run_campaign(&c));
}

// ---------------------------------------------------------------- the money-safety faults

#[test]
fn kills_while_buys_are_held_back_past_the_client_timeout_lose_nothing() {
    // A slow proxy holds every buy 8 s, then forwards it: long after the bot's 1.5 s timeout, so
    // every answer is lost and every kill finds buys in the proxy's hands. A still market, so that
    // a held-back buy still succeeds when it lands (no drift past its max_price, no other buyer).
    let mut c = Campaign::new("buy_delay", fault_kills(), 0, |_| Some(json!({"buy_delay_ms": 8000})));
    c.market_step = 0;
    // An operator who knows the exchange can take 8 s waits longer than that before calling an
    // unanswered order absent (counted from when its request left, not from when it was decided).
    // Shorter, no bot can tell a slow purchase from none; the ledger still catches up when the
    // exchange shows it (see reconcile), but a replacement may have been bought meanwhile.
    c.resolve_after_secs = 10;
    assert_clean(c.name, &run_campaign(&c));
}

#[test]
fn kills_while_answers_leave_out_custom_id_lose_nothing() {
    let c = Campaign::new("omit_custom_id", fault_kills(), 1, |_| Some(json!({"omit_custom_id": true})));
    assert_clean(c.name, &run_campaign(&c));
}

#[test]
fn kills_while_buys_answer_an_unknown_error_code_lose_nothing() {
    // The sandbox answers without processing: nothing is bought, whatever the bot concludes.
    // Every one of these answers is an exchange error: the error-storm brake would halt the bot for
    // good after twenty (its own test is in tests/brakes.rs). Here it is off so buying goes on.
    let mut c = Campaign::new("error_answer", fault_kills(), 2, |i| {
        let buys = ["market_buy", "market_batch_buy"];
        Some(match i % 3 {
            0 => json!({"error_answer": {"code": 99, "message": "brand_new_error"}, "only_methods": buys}),
            1 => json!({"error_answer": {"code": 7, "message": "custom_id_exists"}, "only_methods": buys}),
            _ => json!({}),
        })
    });
    c.extra_config = "[halt]\nerrors = 0\n";
    assert_clean(c.name, &run_campaign(&c));
}

#[test]
fn kills_while_the_exchange_over_debits_lose_nothing() {
    let mut c = Campaign::new("over_debit", fault_kills(), 0, |_| Some(json!({"over_debit": "0.05"})));
    c.over_debit = true;
    assert_clean(c.name, &run_campaign(&c));
}
