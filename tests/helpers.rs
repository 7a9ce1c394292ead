//! Test helpers: a sandbox on port 0 with a manual clock, and a client pointed at it.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use skinbot::domain::TradeLink;
use skinbot::exchange::{Client, ClientConfig};
use skinbot::sandbox::{self, Faults, Sandbox, SandboxConfig};

/// A sandbox with a manual clock, a still market, no faults (not even the rate limit).
pub async fn sandbox() -> Sandbox {
    sandbox_with(|_| {}).await
}

pub async fn sandbox_with(edit: impl FnOnce(&mut SandboxConfig)) -> Sandbox {
    let mut cfg = SandboxConfig::manual();
    cfg.faults = Faults::none();
    edit(&mut cfg);
    sandbox::start(cfg, "127.0.0.1:0".parse().unwrap()).await.expect("sandbox starts")
}

pub fn client_config(sb: &Sandbox) -> ClientConfig {
    let mut cfg = ClientConfig::new(sb.api_url(), sb.shop_id(), SecretString::from(sb.secret().to_string()));
    cfg.timeout = Duration::from_secs(5);
    cfg
}

pub fn client(sb: &Sandbox) -> Client {
    Client::new(client_config(sb)).unwrap()
}

pub fn client_with(sb: &Sandbox, edit: impl FnOnce(&mut ClientConfig)) -> Client {
    let mut cfg = client_config(sb);
    edit(&mut cfg);
    Client::new(cfg).unwrap()
}

pub fn link() -> TradeLink {
    TradeLink::new("123456789", "AbCd1234").unwrap()
}

/// `../shared/data/<file>` when it exists (it does not on a user's fresh clone).
pub fn shared_data(file: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data").join(file);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipped: {} is absent (it ships only beside the project, not in it)", p.display());
        None
    }
}

/// Counts the sandbox's recorded requests for `method`.
pub fn requests_for(sb: &Sandbox, method: &str) -> usize {
    sb.requests().iter().filter(|r| r.method.as_deref() == Some(method)).count()
}

/// A calendar the test moves by hand (the engine's domain time), for waits measured in minutes.
pub struct ManualClock(std::sync::Mutex<chrono::DateTime<chrono::Utc>>);

impl ManualClock {
    pub fn new() -> std::sync::Arc<ManualClock> {
        std::sync::Arc::new(ManualClock(std::sync::Mutex::new(chrono::Utc::now())))
    }

    /// A clock standing at `t`.
    pub fn at(t: chrono::DateTime<chrono::Utc>) -> std::sync::Arc<ManualClock> {
        std::sync::Arc::new(ManualClock(std::sync::Mutex::new(t)))
    }

    pub fn advance(&self, d: Duration) {
        let mut t = self.0.lock().unwrap();
        *t += chrono::Duration::from_std(d).unwrap();
    }
}

impl skinbot::engine::clock::Clock for ManualClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        *self.0.lock().unwrap()
    }
}

/// An hour of recorded history: `name` cost `price` for the last hour, and the market was watched
/// all along (an observation every five minutes).
pub fn seed_history(
    ledger: &skinbot::ledger::Ledger,
    game: skinbot::domain::Game,
    name: &str,
    price: skinbot::domain::Usd,
) {
    let now = chrono::Utc::now();
    ledger.record_price(game, name, now - chrono::Duration::minutes(59), price).unwrap();
    for m in (5..=60).rev().step_by(5) {
        ledger.observe(game, now - chrono::Duration::minutes(m), skinbot::engine::OBSERVATION_GAP).unwrap();
    }
}
