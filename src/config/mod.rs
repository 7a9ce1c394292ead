//! Configuration in two stages: `raw.rs` holds what the user wrote (with positions for error
//! messages); [`Config`] is validated once, one validator per section (`validate.rs`), with every
//! derived object built. A config that fails validation is never half-applied: the caller keeps the
//! old one.
//!
//! From the validated settings, `build.rs` makes what the rest of the program runs with (the client's
//! and the sandbox's settings, the guard's limits), and `reload.rs` keeps what only a restart may
//! change.
//!
//! With no file at all, [`Config::embedded_default`] trades against an in-process sandbox.

mod build;
pub mod error;
mod raw;
pub(crate) mod reload;
pub mod schedule;
mod validate;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;
use secrecy::SecretString;
use sha2::{Digest, Sha256};

pub use error::FileError;
pub use schedule::Cron;

use crate::domain::{Game, Money, TradeLink, Usd};
use crate::exchange::{AuthMode, BodyEncoding};
use raw::RawConfig;
use validate::Ctx;

/// The sandbox's trade link in the embedded default: any well-formed link works there.
pub(crate) const SANDBOX_TRADE_URL: &str =
    "https://steamcommunity.com/tradeoffer/new/?partner=123456789&token=SandBox1";

/// Where orders go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// An in-process sandbox started by `skinbot run`.
    Sandbox,
    /// A SkinsBack API URL (the live one, or a standalone sandbox).
    Url(String),
}

#[derive(Debug, Clone)]
pub struct ExchangeSettings {
    pub endpoint: Endpoint,
    pub shop_id: String,
    /// `None` only for the in-process sandbox, which has its own.
    pub secret: Option<SecretString>,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub encoding: BodyEncoding,
    pub auth: AuthMode,
    pub requests_per_minute: std::num::NonZeroU32,
    pub background_share_percent: u8,
}

#[derive(Debug, Clone)]
pub struct Schedules {
    pub timezone: Tz,
    pub pricelist: Cron,
    pub currencies: Cron,
    pub balance: Cron,
    pub poll: Cron,
    /// Asks the exchange's `status`; buying pauses while it says unavailable.
    pub status: Cron,
}

/// A Steam account purchases are sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub name: String,
    pub link: TradeLink,
}

/// `[halt]`: anomalies that halt buying until someone resumes (`None` = that brake is off).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HaltSettings {
    /// A purchase the exchange reports differently from the order (debit above max_price, another
    /// listing, no debit).
    pub on_disagreement: bool,
    /// This many failed deliveries in a row (`trade_create_error`, `canceled`, `timeout`).
    pub failed_deliveries: Option<u32>,
    /// This many exchange errors within this long.
    pub error_storm: Option<(u32, Duration)>,
    /// The exchange refuses the credentials or the project (`-2`, `-3`, `-4`).
    pub on_bad_credentials: bool,
    /// More than this spent or reserved within this long, whatever the budget windows say.
    pub velocity: Option<(Money, Duration)>,
}

/// `[sanity]`: what is too strange to buy from (`None` = that check is off).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SanitySettings {
    /// No buying from a price list whose `last_update` is older than this.
    pub pricelist_max_age: Option<Duration>,
    /// A candidate priced more than this factor away (above or below) from its item's recorded
    /// median is refused.
    pub price_jump_factor: Option<rust_decimal::Decimal>,
    /// The window of that median.
    pub median_hours: u32,
    /// A price list that shrank by more than this share (percent) since the last one pauses buying
    /// for that tick.
    pub list_drop_percent: Option<u8>,
}

/// `[events]`: live delivery events from the project websocket (reference §6.1). While the socket
/// is up, offers are polled less often; while it is down, at the poll schedule's pace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsSettings {
    /// Subscribe to the websocket (default on). Read before each connection, so a reload applies.
    pub enabled: bool,
}

/// `[metrics]`: Prometheus metrics at `/metrics` and a health check at `/health`, served only when
/// `listen` is set. Bound at start: a change waits for a restart.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetricsSettings {
    pub listen: Option<std::net::SocketAddr>,
    /// `/health` answers 503 when the last successful tick is older than this; `None`: three times
    /// the price-list interval, at least 30 s.
    pub stale_after: Option<Duration>,
}

/// `[notify]`: a webhook told of purchases, failed deliveries, rollbacks, halts and resumes, and
/// reloads, when a URL is set (`url`, `url_env` or `url_file`). Started once: a change waits for a
/// restart.
#[derive(Debug, Clone)]
pub struct NotifySettings {
    /// The webhook's URL, checked to be http(s). A secret: Slack and Discord URLs carry the token
    /// that lets anyone post; never in `Debug`, never logged (only its host is).
    pub url: Option<SecretString>,
    pub format: crate::notify::Format,
    /// Purchases of one tick go out as one message.
    pub batch: bool,
    /// The kinds of event sent; `None`: all.
    pub events: Option<Vec<crate::notify::EventKind>>,
    /// Messages waiting to be sent at most; more are dropped (and counted).
    pub queue: usize,
}

impl NotifySettings {
    /// The webhook's host, the one part of its URL that may be logged.
    pub fn host(&self) -> Option<String> {
        use secrecy::ExposeSecret;
        let url = url::Url::parse(self.url.as_ref()?.expose_secret()).ok()?;
        url.host_str().map(str::to_string)
    }
}

impl PartialEq for NotifySettings {
    fn eq(&self, other: &Self) -> bool {
        use secrecy::ExposeSecret;
        self.url.as_ref().map(|u| u.expose_secret()) == other.url.as_ref().map(|u| u.expose_secret())
            && (self.format, self.batch, &self.events, self.queue)
                == (other.format, other.batch, &other.events, other.queue)
    }
}

impl Eq for NotifySettings {}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings { url: None, format: crate::notify::Format::Json, batch: false, events: None, queue: 256 }
    }
}

/// Budget limits as written (any currency the API lists); converted to USD with the latest rates
/// when checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetSettings {
    pub per_order: Option<Money>,
    pub per_item_per_day: Option<Money>,
    pub per_hour: Option<Money>,
    pub per_day: Option<Money>,
    pub balance_floor: Money,
    pub balance_max_age: Duration,
    /// Currency rates older than this are not used: limits and prices in other currencies than
    /// USD refuse orders until fresh rates arrive.
    pub rates_max_age: Duration,
    /// The currency of amounts written without one.
    pub currency: crate::domain::CurrencyCode,
}

/// `[dashboard]`: where the web view is served (see [`crate::dashboard`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardSettings {
    pub listen: std::net::SocketAddr,
    /// A non-loopback `listen` was explicitly allowed.
    pub allow_remote: bool,
    /// When `listen` is taken, serve on any free loopback port instead of failing (the embedded
    /// demo's default: two demos at once must both start).
    pub fall_back_to_any_port: bool,
}

impl DashboardSettings {
    /// The embedded sandbox demo's dashboard.
    pub const DEMO_LISTEN: &'static str = "127.0.0.1:8787";
}

#[derive(Debug, Clone)]
pub struct OrderSettings {
    pub batch_size: usize,
    pub games: Vec<Game>,
    pub resolve_after: Duration,
}

#[derive(Debug, Clone)]
pub struct SandboxSettings {
    pub seed: u64,
    pub balance: Usd,
    pub time_scale: u32,
    pub catalog: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from; `None` for the embedded default.
    pub source: Option<PathBuf>,
    /// SHA-256 of the config text (and, once loaded, of the strategy files): stamped on every purchase.
    pub hash: String,
    pub exchange: ExchangeSettings,
    /// Where bought items go: `[[recipients]]`, or `[trade_link]` as one recipient named
    /// `default`. Never empty.
    pub recipients: Vec<Recipient>,
    pub schedule: Schedules,
    pub budget: BudgetSettings,
    pub orders: OrderSettings,
    pub strategy_paths: Vec<PathBuf>,
    pub state_dir: PathBuf,
    pub sandbox: SandboxSettings,
    pub halt: HaltSettings,
    pub sanity: SanitySettings,
    /// Dry-run: decides and guards as live, reads real prices, rates and balance, never sends a
    /// buy; fills are simulated against the price list and kept in a ledger of their own.
    pub dry_run: bool,
    pub events: EventsSettings,
    /// `[dashboard]`: off unless configured; on in the embedded sandbox demo.
    pub dashboard: Option<DashboardSettings>,
    pub metrics: MetricsSettings,
    pub notify: NotifySettings,
}

/// How to find secrets: the process environment in production, a map in tests.
pub trait SecretSource {
    fn var(&self, name: &str) -> Option<String>;
}

pub struct ProcessEnv;

impl SecretSource for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Config {
    /// `dry-run`, `sandbox` or `live`: what `status`, `plan` and the dashboard say of it.
    pub(crate) fn mode(&self) -> &'static str {
        if self.dry_run {
            "dry-run"
        } else if self.exchange.endpoint == Endpoint::Sandbox {
            "sandbox"
        } else {
            "live"
        }
    }

    /// Where the ledger lives: `<state>/ledger`, or `<state>/ledger-dry-run` for a dry run (its
    /// simulated purchases never mix with real ones).
    pub(crate) fn ledger_dir(&self) -> PathBuf {
        self.state_dir.join(if self.dry_run { "ledger-dry-run" } else { "ledger" })
    }

    /// The configuration used when no file is given: in-process sandbox, example strategies, a
    /// fast schedule, state under `state/`.
    pub(crate) fn embedded_default() -> Config {
        let mut config = Self::from_raw(Path::new("<embedded default>"), "", RawConfig::default(), &ProcessEnv)
            .unwrap_or_else(|e| panic!("the embedded default config is invalid: {e}"));
        config.dashboard = DashboardSettings::DEMO_LISTEN.parse().ok().map(|listen| DashboardSettings {
            listen,
            allow_remote: false,
            fall_back_to_any_port: true,
        });
        config
    }

    /// Reads and validates a config file. Relative paths inside it are relative to its folder.
    pub fn load(path: &Path) -> Result<Config, FileError> {
        let source = std::fs::read_to_string(path).map_err(|e| FileError::new(path, format!("cannot read: {e}")))?;
        Self::parse(path, &source, &ProcessEnv)
    }

    pub fn parse(path: &Path, source: &str, env: &dyn SecretSource) -> Result<Config, FileError> {
        let raw: RawConfig = toml::from_str(source).map_err(|e| FileError::from_toml(path, source, &e))?;
        let mut cfg = Self::from_raw(path, source, raw, env)?;
        cfg.source = Some(path.to_path_buf());
        Ok(cfg)
    }

    /// Validates each section in the order of the file; the first error wins.
    fn from_raw(path: &Path, source: &str, raw: RawConfig, env: &dyn SecretSource) -> Result<Config, FileError> {
        let ctx = Ctx::new(path, source, env);
        let exchange = validate::exchange(&raw.exchange, &ctx)?;
        let recipients = validate::recipients(raw.trade_link.as_ref(), &raw.recipients, &exchange.endpoint, &ctx)?;
        let schedule = validate::schedule(&raw.schedule, &ctx)?;
        let budget = validate::budget(&raw.budget, &ctx)?;
        let orders = validate::orders(&raw.orders, &exchange, &ctx)?;
        let strategy_paths = validate::strategies(&raw.strategies, &ctx);
        let state_dir = validate::state(&raw.state, &ctx);
        let sandbox = validate::sandbox(&raw.sandbox, &ctx)?;
        let halt = validate::halt(&raw.halt, &budget, &ctx)?;
        let sanity = validate::sanity(&raw.sanity, &ctx)?;
        let dry_run = validate::mode(raw.mode.as_ref(), &ctx)?;
        let events = validate::events(&raw.events);
        let dashboard = validate::dashboard(&raw.dashboard, &ctx)?;
        let metrics = validate::metrics(&raw.metrics, &ctx)?;
        let notify = validate::notify(&raw.notify, &ctx)?;
        Ok(Config {
            source: None,
            hash: hex::encode(Sha256::digest(source.as_bytes())),
            exchange,
            recipients,
            schedule,
            budget,
            orders,
            strategy_paths,
            state_dir,
            sandbox,
            halt,
            sanity,
            dry_run,
            events,
            dashboard,
            metrics,
            notify,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Env(HashMap<&'static str, &'static str>);
    impl SecretSource for Env {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|s| s.to_string())
        }
    }

    fn parse(src: &str) -> Result<Config, FileError> {
        Config::parse(Path::new("skinbot.toml"), src, &Env(HashMap::from([("SKINBOT_SECRET", "s3cr3t")])))
    }

    #[test]
    fn a_limit_may_be_a_whole_number_but_not_a_float() {
        let c = parse("[budget]\nper_order = 50\nper_day = \"500\"\n").unwrap();
        assert_eq!(c.budget.per_order.unwrap().to_string(), "50.00 USD");
        let e = parse("[budget]\nper_order = 12.5\n").unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (Some(2), Some("budget.per_order")), "{e}");
        assert!(e.to_string().contains("\"12.5\""), "{e}");
    }

    #[test]
    fn a_limit_in_a_currency_the_api_does_not_list_is_refused_at_load() {
        let e = parse("[budget]\nper_order = \"50 btc\"\n").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("budget.per_order"), "{e}");
        assert!(e.to_string().contains("BTC is not a currency the SkinsBack API lists"), "{e}");
        let e = parse("[budget]\ncurrency = \"xyz\"\n").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("budget.currency"), "{e}");
        assert!(parse("[budget]\nper_order = \"50 eur\"\n").is_ok());
    }

    #[test]
    fn the_example_file_parses_and_shows_the_defaults() {
        let example = include_str!("../../skinbot.example.toml");
        let c = Config::parse(Path::new("skinbot.example.toml"), example, &Env(HashMap::new())).unwrap();
        let d = Config::embedded_default();
        assert_eq!(c.budget, d.budget);
        assert_eq!(c.exchange.endpoint, d.exchange.endpoint);
        assert_eq!(
            (
                c.exchange.timeout,
                c.exchange.connect_timeout,
                c.exchange.requests_per_minute,
                c.exchange.background_share_percent
            ),
            (
                d.exchange.timeout,
                d.exchange.connect_timeout,
                d.exchange.requests_per_minute,
                d.exchange.background_share_percent
            )
        );
        let crons = |c: &Config| {
            let s = &c.schedule;
            [s.pricelist.as_str(), s.currencies.as_str(), s.balance.as_str(), s.poll.as_str(), s.status.as_str()]
                .map(str::to_string)
        };
        assert_eq!(crons(&c), crons(&d));
        assert_eq!((&c.halt, &c.sanity, c.dry_run), (&d.halt, &d.sanity, d.dry_run));
        assert_eq!(
            (c.orders.batch_size, &c.orders.games, c.orders.resolve_after),
            (d.orders.batch_size, &d.orders.games, d.orders.resolve_after)
        );
        assert_eq!(
            (c.sandbox.seed, c.sandbox.balance, c.sandbox.time_scale),
            (d.sandbox.seed, d.sandbox.balance, d.sandbox.time_scale)
        );
    }

    #[test]
    fn the_embedded_default_trades_on_the_sandbox() {
        let c = Config::embedded_default();
        assert_eq!(c.exchange.endpoint, Endpoint::Sandbox);
        assert_eq!(c.strategy_paths, vec![PathBuf::from("strategies")]);
        assert_eq!(c.budget.per_order.as_ref().unwrap().to_string(), "50.00 USD");
    }

    #[test]
    fn a_live_config_reads_the_secret_from_the_environment() {
        let c = parse(
            "[exchange]\napi_url = \"https://skinsback.com/api.php\"\nshop_id = \"1490\"\n[trade_link]\nurl = \"https://steamcommunity.com/tradeoffer/new/?partner=1&token=AbCd1234\"\n",
        )
        .unwrap();
        assert!(c.exchange.secret.is_some());
        assert_eq!(c.recipients[0].link.partner(), "1");
        assert_eq!(c.recipients[0].name, "default");
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let e = parse("[budget]\nper_order = \"40\"\nper_dya = \"3\"\n").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.to_string().starts_with("skinbot.toml:3"), "{e}");
        assert!(e.to_string().contains("per_dya"), "{e}");

        let e = parse("[schedule]\ntimezone = \"UTC\"\npricelist = \"every minute\"\n").unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (Some(3), Some("schedule.pricelist")), "{e}");

        let e = parse("[budget]\nper_day = \"lots\"\n").unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (Some(2), Some("budget.per_day")), "{e}");

        let e = parse("[exchange]\nsecret = \"oops\"\n").unwrap_err();
        assert!(e.to_string().contains("does not belong"), "{e}");
        assert!(!e.to_string().contains("oops"));
    }

    #[test]
    fn a_live_url_must_be_https_and_secret_env_must_be_a_name() {
        let base = "[trade_link]\npartner = \"1\"\ntoken = \"AbCd1234\"\n[exchange]\nshop_id = \"1\"\n";
        let e = parse(&format!("{base}api_url = \"http://skinsback.com/api.php\"\n")).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("exchange.api_url"), "{e}");
        assert!(parse(&format!("{base}api_url = \"http://127.0.0.1:8790/api.php\"\n")).is_ok());
        assert!(parse(&format!("{base}api_url = \"http://localhost:8790/api.php\"\n")).is_ok());
        assert!(parse(&format!("{base}api_url = \"http://[::1]:8790/api.php\"\n")).is_ok());
        // Hosts that only look like loopback: the secret would cross the network in clear text.
        for url in
            ["http://127.0.0.1@example.com/api.php", "http://127.0.0.1.nip.io/api.php", "http://localhost.example.com/"]
        {
            let e = parse(&format!("{base}api_url = \"{url}\"\n")).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("exchange.api_url"), "{url}: {e}");
        }
        let e =
            parse(&format!("{base}api_url = \"https://skinsback.com/api.php\"\nsecret_env = \"a1b2-c3d4-secret\"\n"))
                .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("exchange.secret_env"), "{e}");
        assert!(!e.to_string().contains("a1b2"), "{e}");
    }

    #[test]
    fn unknown_outcomes_wait_at_least_twice_the_timeout() {
        let e = parse("[exchange]\ntimeout_ms = 15000\n[orders]\nresolve_after_secs = 20\n").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("orders.resolve_after_secs"), "{e}");
        assert!(parse("[exchange]\ntimeout_ms = 1000\n[orders]\nresolve_after_secs = 2\n").is_ok());
    }

    #[test]
    fn limits_take_the_budget_currency_unless_they_name_one() {
        let c = parse("[budget]\ncurrency = \"eur\"\nper_day = \"100\"\nper_order = \"20 usd\"\n").unwrap();
        assert_eq!(c.budget.per_day.unwrap().to_string(), "100.00 EUR");
        assert_eq!(c.budget.per_order.unwrap().to_string(), "20.00 USD");
    }

    #[test]
    fn the_dashboard_is_off_unless_configured_and_stays_on_loopback_unless_allowed() {
        assert_eq!(parse("").unwrap().dashboard, None);
        assert!(Config::embedded_default().dashboard.is_some_and(|d| d.listen.ip().is_loopback()));
        let d = parse("[dashboard]\nlisten = \"127.0.0.1:8787\"\n").unwrap().dashboard.unwrap();
        assert_eq!(d.listen.to_string(), "127.0.0.1:8787");
        let e = parse("[budget]\n[dashboard]\nlisten = \"0.0.0.0:8787\"\n").unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (Some(3), Some("dashboard.listen")), "{e}");
        assert!(e.to_string().contains("allow_remote"), "{e}");
        assert!(parse("[dashboard]\nlisten = \"0.0.0.0:8787\"\nallow_remote = true\n").is_ok());
        let e = parse("[dashboard]\nlisten = \"localhost\"\n").unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (Some(2), Some("dashboard.listen")), "{e}");
    }

    #[test]
    fn metrics_listen_on_loopback_unless_remote_is_allowed() {
        assert_eq!(Config::embedded_default().metrics, MetricsSettings::default(), "off by default");
        let c = parse("[metrics]\nlisten = \"127.0.0.1:9898\"\nstale_after_secs = 20\n").unwrap();
        assert_eq!(c.metrics.listen, Some("127.0.0.1:9898".parse().unwrap()));
        assert_eq!(c.metrics.stale_after, Some(Duration::from_secs(20)));
        let e = parse("[budget]\nper_day = \"5\"\n[metrics]\nlisten = \"0.0.0.0:9898\"\n").unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (Some(4), Some("metrics.listen")), "{e}");
        assert!(e.to_string().contains("allow_remote = true"), "{e}");
        assert!(parse("[metrics]\nlisten = \"0.0.0.0:9898\"\nallow_remote = true\n").is_ok());
        let e = parse("[metrics]\nlisten = \"localhost\"\n").unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (Some(2), Some("metrics.listen")), "{e}");
        let e = parse("[metrics]\nstale_after_secs = 0\n").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("metrics.stale_after_secs"), "{e}");
        // Default staleness: three price-list intervals, at least 30 s.
        let c = parse("[schedule]\npricelist = \"0 */5 * * * *\"\n").unwrap();
        assert_eq!(c.metrics.stale_after(&c.schedule, chrono::Utc::now()), Duration::from_secs(900));
        let c = parse("").unwrap();
        assert_eq!(c.metrics.stale_after(&c.schedule, chrono::Utc::now()), Duration::from_secs(30));
    }

    #[test]
    fn notify_needs_a_url_a_known_format_and_known_events() {
        assert!(Config::embedded_default().notify.url.is_none(), "off by default");
        let c = parse("[notify]\nurl = \"https://hooks.example.com/x\"\nformat = \"discord\"\nbatch = true\nevents = [\"purchase\", \"halt\"]\n").unwrap();
        assert_eq!(c.notify.format, crate::notify::Format::Discord);
        assert!(c.notify.batch);
        assert_eq!(c.notify.events, Some(vec![crate::notify::EventKind::Purchase, crate::notify::EventKind::Halt]));
        let e = parse("[notify]\nurl = \"ftp://x\"\n").unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (Some(2), Some("notify.url")), "{e}");
        let e = parse("[notify]\nurl = \"http://127.0.0.1:1/\"\nformat = \"teams\"\n").unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (Some(3), Some("notify.format")), "{e}");
        let e = parse("[notify]\nurl = \"http://127.0.0.1:1/\"\nevents = [\n  \"purchase\",\n  \"purchased\",\n]\n")
            .unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (Some(5), Some("notify.events")), "{e}");
        assert!(e.to_string().contains("`purchased` is not an event: purchase, delivery_failed"), "{e}");
        let e = parse("[notify]\nqueue = 0\n").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("notify.queue"), "{e}");
        // An empty list would silently send nothing.
        let e = parse("[notify]\nurl = \"http://127.0.0.1:1/\"\nevents = []\n").unwrap_err();
        assert_eq!(
            (e.file.as_str(), e.line, e.field.as_deref()),
            ("skinbot.toml", Some(3), Some("notify.events")),
            "{e}"
        );
        assert!(e.to_string().contains("is empty"), "{e}");
    }

    #[test]
    fn the_webhook_url_may_come_from_the_environment_or_a_file_and_is_never_shown() {
        use secrecy::ExposeSecret;
        const HOOK: &str = "https://hooks.slack.com/services/T0KEN/B0KEN/XyZsecret";
        let env = Env(HashMap::from([("SLACK_HOOK", HOOK), ("BAD_HOOK", "hooks.slack.com/T0KEN")]));
        let parse_env = |src: &str| Config::parse(Path::new("skinbot.toml"), src, &env);
        let c = parse_env("[notify]\nurl_env = \"SLACK_HOOK\"\nformat = \"slack\"\n").unwrap();
        assert_eq!(c.notify.url.as_ref().unwrap().expose_secret(), HOOK);
        assert_eq!(c.notify.host().as_deref(), Some("hooks.slack.com"));
        let shown = format!("{:?}", c.notify);
        assert!(!shown.contains("T0KEN") && !shown.contains("hooks.slack"), "{shown}");

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("hook.url"), format!("{HOOK}\n")).unwrap();
        let cfg = dir.path().join("skinbot.toml");
        let c = Config::parse(&cfg, "[notify]\nurl_file = \"hook.url\"\n", &env).unwrap();
        assert_eq!(c.notify.url.as_ref().unwrap().expose_secret(), HOOK, "relative to the config's folder");

        // Errors name file, line and field, and never echo the URL.
        let e = parse_env("[budget]\nper_day = \"5\"\n[notify]\nurl_env = \"NOT_SET\"\n").unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (Some(4), Some("notify.url_env")), "{e}");
        assert!(e.to_string().starts_with("skinbot.toml:4: field `notify.url_env`"), "{e}");
        let e = parse_env("[notify]\nurl_env = \"BAD_HOOK\"\n").unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (Some(2), Some("notify.url_env")), "{e}");
        assert!(!e.to_string().contains("T0KEN"), "{e}");
        let e = parse_env(&format!("[notify]\nurl_env = \"{HOOK}\"\n")).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("notify.url_env"), "{e}");
        assert!(!e.to_string().contains("T0KEN"), "a URL pasted in url_env is not echoed: {e}");
        let e = Config::parse(&cfg, "[notify]\nurl_file = \"missing.url\"\n", &env).unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (Some(2), Some("notify.url_file")), "{e}");
        assert!(e.to_string().contains("missing.url"), "{e}");
        std::fs::write(dir.path().join("bad.url"), "not a url\n").unwrap();
        let e = Config::parse(&cfg, "[notify]\nurl_file = \"bad.url\"\n", &env).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("notify.url_file"), "{e}");
        let e = parse_env("[notify]\nurl = \"https://x.example/\"\nurl_env = \"SLACK_HOOK\"\n").unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (Some(3), Some("notify.url_env")), "{e}");
        assert!(e.to_string().contains("give one of"), "{e}");
    }

    #[test]
    fn a_live_url_without_secret_is_refused() {
        let e = Config::parse(
            Path::new("c.toml"),
            "[exchange]\napi_url = \"https://skinsback.com/api.php\"\nshop_id = \"1\"\nsecret_env = \"NOPE\"\n[trade_link]\npartner = \"1\"\ntoken = \"AbCd1234\"\n",
            &Env(HashMap::new()),
        )
        .unwrap_err();
        assert!(e.to_string().contains("NOPE"), "{e}");
    }
}
