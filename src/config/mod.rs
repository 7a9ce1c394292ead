//! Configuration in two stages: [`RawConfig`] is what the user wrote (with positions for error
//! messages), [`Config`] is validated once, with every derived object built. A config that fails
//! validation is never half-applied: the caller keeps the old one.
//!
//! With no file at all, [`Config::embedded_default`] trades against an in-process sandbox.

mod budget_limits;
pub mod error;
pub mod schedule;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;
use secrecy::SecretString;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::Spanned;

pub use error::FileError;
pub use schedule::Cron;

use crate::domain::{Game, Money, TradeLink, Usd};
use crate::exchange::{AuthMode, BodyEncoding};

/// The sandbox's trade link in the embedded default: any well-formed link works there.
pub const SANDBOX_TRADE_URL: &str = "https://steamcommunity.com/tradeoffer/new/?partner=123456789&token=SandBox1";

// ---------------------------------------------------------------------------------------------
// Raw: what the user wrote.

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub exchange: RawExchange,
    #[serde(default)]
    pub trade_link: Option<RawTradeLink>,
    #[serde(default)]
    pub schedule: RawSchedule,
    #[serde(default)]
    pub budget: RawBudget,
    #[serde(default)]
    pub orders: RawOrders,
    #[serde(default)]
    pub strategies: RawStrategies,
    #[serde(default)]
    pub state: RawState,
    #[serde(default)]
    pub sandbox: RawSandbox,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExchange {
    /// `"sandbox"` (default) or the live endpoint, `https://skinsback.com/api.php`.
    pub api_url: Option<Spanned<String>>,
    pub shop_id: Option<Spanned<String>>,
    /// Name of the environment variable holding the secret (default `SKINBOT_SECRET`).
    pub secret_env: Option<String>,
    /// A file whose first line is the secret (takes precedence over `secret_env`).
    pub secret_file: Option<Spanned<String>>,
    /// Guard against a secret pasted into a committed file: named here only to refuse it clearly.
    pub secret: Option<Spanned<toml::Value>>,
    pub timeout_ms: Option<u64>,
    pub connect_timeout_ms: Option<u64>,
    pub encoding: Option<BodyEncoding>,
    pub auth: Option<AuthMode>,
    pub requests_per_minute: Option<Spanned<u32>>,
    pub background_share_percent: Option<Spanned<u8>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTradeLink {
    pub url: Option<Spanned<String>>,
    pub partner: Option<Spanned<String>>,
    pub token: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchedule {
    pub timezone: Option<Spanned<String>>,
    pub pricelist: Option<Spanned<String>>,
    pub currencies: Option<Spanned<String>>,
    pub balance: Option<Spanned<String>>,
    pub poll: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBudget {
    /// Currency limits are written in when they carry none (default usd).
    pub currency: Option<Spanned<String>>,
    pub per_order: Option<Spanned<String>>,
    pub per_item_per_day: Option<Spanned<String>>,
    pub per_hour: Option<Spanned<String>>,
    pub per_day: Option<Spanned<String>>,
    pub balance_floor: Option<Spanned<String>>,
    pub balance_max_age_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOrders {
    pub batch_size: Option<Spanned<usize>>,
    pub games: Option<Vec<Spanned<String>>>,
    /// How long after sending an unanswered buy may be declared "not bought" when the exchange
    /// does not know its custom_id.
    pub resolve_after_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStrategies {
    pub dir: Option<String>,
    pub files: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawState {
    pub dir: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSandbox {
    pub seed: Option<u64>,
    pub balance: Option<Spanned<String>>,
    /// How much faster than real time the sandbox's trade offers resolve.
    pub time_scale: Option<u32>,
    pub catalog: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Validated.

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
    pub trade_link: TradeLink,
    pub schedule: Schedules,
    pub budget: BudgetSettings,
    pub orders: OrderSettings,
    pub strategy_paths: Vec<PathBuf>,
    pub state_dir: PathBuf,
    pub sandbox: SandboxSettings,
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
    /// The configuration used when no file is given: in-process sandbox, example strategies, a
    /// fast schedule, state under `state/`.
    pub fn embedded_default() -> Config {
        let (cfg, _) = Self::from_raw(Path::new("<embedded default>"), "", RawConfig::default(), &ProcessEnv)
            .unwrap_or_else(|e| panic!("the embedded default config is invalid: {e}"));
        cfg
    }

    /// Reads and validates a config file. Relative paths inside it are relative to its folder.
    pub fn load(path: &Path) -> Result<Config, FileError> {
        let source = std::fs::read_to_string(path).map_err(|e| FileError::new(path, format!("cannot read: {e}")))?;
        Self::parse(path, &source, &ProcessEnv)
    }

    pub fn parse(path: &Path, source: &str, env: &dyn SecretSource) -> Result<Config, FileError> {
        let raw: RawConfig = toml::from_str(source).map_err(|e| FileError::from_toml(path, source, &e))?;
        let (mut cfg, base) = Self::from_raw(path, source, raw, env)?;
        cfg.source = Some(path.to_path_buf());
        let _ = base;
        Ok(cfg)
    }

    fn from_raw(
        path: &Path,
        source: &str,
        raw: RawConfig,
        env: &dyn SecretSource,
    ) -> Result<(Config, PathBuf), FileError> {
        let err =
            |span: std::ops::Range<usize>, field: &str, msg: String| FileError::at(path, source, span, field, msg);
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let resolve = |p: &str| -> PathBuf {
            let p = PathBuf::from(p);
            if p.is_absolute() || base.as_os_str().is_empty() {
                p
            } else {
                base.join(p)
            }
        };

        // exchange
        let ex = raw.exchange;
        if let Some(s) = &ex.secret {
            return Err(err(
                s.span(),
                "exchange.secret",
                "a secret does not belong in a config file; set exchange.secret_env (an environment variable name) or exchange.secret_file".into(),
            ));
        }
        let endpoint = match &ex.api_url {
            None => Endpoint::Sandbox,
            Some(u) if u.get_ref() == "sandbox" => Endpoint::Sandbox,
            Some(u) => {
                let text = u.get_ref();
                if !(text.starts_with("https://") || text.starts_with("http://")) {
                    return Err(err(
                        u.span(),
                        "exchange.api_url",
                        format!("`{text}` is neither \"sandbox\" nor an http(s) URL"),
                    ));
                }
                let host = text.split("://").nth(1).unwrap_or("").split(['/', '?']).next().unwrap_or("");
                let host = host
                    .rsplit_once(':')
                    .map(|(h, p)| if p.chars().all(|c| c.is_ascii_digit()) { h } else { host })
                    .unwrap_or(host);
                let loopback = matches!(host, "localhost" | "127.0.0.1" | "[::1]") || host.starts_with("127.");
                if text.starts_with("http://") && !loopback {
                    // Signatures and header secrets must not cross a network in clear text.
                    return Err(err(
                        u.span(),
                        "exchange.api_url",
                        format!("`{text}` is plain http; use https (http is only for a sandbox on this machine)"),
                    ));
                }
                Endpoint::Url(text.clone())
            }
        };
        let shop_id = match &ex.shop_id {
            Some(s) if s.get_ref().trim().is_empty() => {
                return Err(err(s.span(), "exchange.shop_id", "is empty".into()));
            }
            Some(s) => s.get_ref().trim().to_string(),
            None if endpoint == Endpoint::Sandbox => String::new(),
            None => {
                return Err(FileError {
                    field: Some("exchange.shop_id".into()),
                    ..FileError::new(path, "is required with a live api_url")
                })
            }
        };
        let secret = if endpoint == Endpoint::Sandbox {
            None
        } else if let Some(file) = &ex.secret_file {
            let p = resolve(file.get_ref());
            let text = std::fs::read_to_string(&p)
                .map_err(|e| err(file.span(), "exchange.secret_file", format!("cannot read {}: {e}", p.display())))?;
            let first = text.lines().next().unwrap_or("").trim().to_string();
            if first.is_empty() {
                return Err(err(file.span(), "exchange.secret_file", format!("{} is empty", p.display())));
            }
            Some(SecretString::from(first))
        } else {
            let var = ex.secret_env.clone().unwrap_or_else(|| "SKINBOT_SECRET".into());
            if var.is_empty() || !var.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_') {
                // Not echoed: a user may have pasted the secret itself here.
                return Err(FileError {
                    field: Some("exchange.secret_env".into()),
                    ..FileError::new(path, "must name an environment variable (A-Z, 0-9 and _), not hold the secret")
                });
            }
            match env.var(&var) {
                Some(v) if !v.trim().is_empty() => Some(SecretString::from(v.trim().to_string())),
                _ => {
                    return Err(FileError {
                        field: Some("exchange.secret_env".into()),
                        ..FileError::new(
                            path,
                            format!("the secret is read from the environment variable {var}, which is not set"),
                        )
                    })
                }
            }
        };
        let rpm = match &ex.requests_per_minute {
            Some(r) if *r.get_ref() == 0 || *r.get_ref() > 500 => {
                return Err(err(
                    r.span(),
                    "exchange.requests_per_minute",
                    format!("{} is outside 1..=500 (SkinsBack allows 500 a minute)", r.get_ref()),
                ));
            }
            Some(r) => *r.get_ref(),
            None => 400,
        };
        let share = match &ex.background_share_percent {
            Some(s) if *s.get_ref() == 0 || *s.get_ref() > 100 => {
                return Err(err(
                    s.span(),
                    "exchange.background_share_percent",
                    format!("{} is outside 1..=100", s.get_ref()),
                ));
            }
            Some(s) => *s.get_ref(),
            None => 60,
        };
        let exchange = ExchangeSettings {
            endpoint: endpoint.clone(),
            shop_id,
            secret,
            timeout: Duration::from_millis(ex.timeout_ms.unwrap_or(15_000).max(100)),
            connect_timeout: Duration::from_millis(ex.connect_timeout_ms.unwrap_or(5_000).max(100)),
            encoding: ex.encoding.unwrap_or_default(),
            auth: ex.auth.unwrap_or_default(),
            requests_per_minute: std::num::NonZeroU32::new(rpm).unwrap_or(std::num::NonZeroU32::MIN),
            background_share_percent: share,
        };

        // trade link
        let trade_link = match raw.trade_link {
            None if endpoint == Endpoint::Sandbox => {
                TradeLink::parse_url(SANDBOX_TRADE_URL).map_err(|e| FileError::new(path, e.to_string()))?
            }
            None => return Err(FileError {
                field: Some("trade_link".into()),
                ..FileError::new(
                    path,
                    "is required with a live api_url: set trade_link.url, or trade_link.partner and trade_link.token",
                )
            }),
            Some(t) => match (t.url, t.partner, t.token) {
                (Some(url), None, None) => {
                    TradeLink::parse_url(url.get_ref()).map_err(|e| err(url.span(), "trade_link.url", e.to_string()))?
                }
                (None, Some(p), Some(tok)) => TradeLink::new(p.get_ref(), tok.get_ref())
                    .map_err(|e| err(p.span(), "trade_link", e.to_string()))?,
                _ => {
                    return Err(FileError {
                        field: Some("trade_link".into()),
                        ..FileError::new(path, "give either `url`, or both `partner` and `token`")
                    })
                }
            },
        };

        // schedule
        let s = raw.schedule;
        let timezone: Tz = match &s.timezone {
            Some(t) => t.get_ref().parse().map_err(|_| {
                err(
                    t.span(),
                    "schedule.timezone",
                    format!("`{}` is not an IANA timezone (e.g. Europe/Berlin, UTC)", t.get_ref()),
                )
            })?,
            None => Tz::UTC,
        };
        let cron = |v: &Option<Spanned<String>>, field: &str, default: &str| -> Result<Cron, FileError> {
            match v {
                Some(text) => Cron::parse(text.get_ref()).map_err(|m| err(text.span(), field, m)),
                None => Cron::parse(default).map_err(|m| FileError::new(path, m)),
            }
        };
        let schedule = Schedules {
            timezone,
            pricelist: cron(&s.pricelist, "schedule.pricelist", "*/3 * * * * *")?,
            currencies: cron(&s.currencies, "schedule.currencies", "0 * * * * *")?,
            balance: cron(&s.balance, "schedule.balance", "*/10 * * * * *")?,
            poll: cron(&s.poll, "schedule.poll", "*/2 * * * * *")?,
        };

        // budget
        let b = raw.budget;
        let currency = match &b.currency {
            Some(c) => c
                .get_ref()
                .parse()
                .map_err(|e: crate::domain::money::MoneyError| err(c.span(), "budget.currency", e.to_string()))?,
            None => crate::domain::CurrencyCode::usd(),
        };
        let money = |v: &Option<Spanned<String>>, field: &str| -> Result<Option<Money>, FileError> {
            let Some(text) = v else { return Ok(None) };
            let t = text.get_ref().trim();
            let with_currency =
                if t.split_whitespace().count() == 1 { format!("{t} {}", currency.as_str()) } else { t.to_string() };
            with_currency.parse::<Money>().map(Some).map_err(|e| err(text.span(), field, e.to_string()))
        };
        let budget = BudgetSettings {
            per_order: money(&b.per_order, "budget.per_order")?.or_else(|| default_money("50", &currency)),
            per_item_per_day: money(&b.per_item_per_day, "budget.per_item_per_day")?,
            per_hour: money(&b.per_hour, "budget.per_hour")?.or_else(|| default_money("200", &currency)),
            per_day: money(&b.per_day, "budget.per_day")?.or_else(|| default_money("500", &currency)),
            balance_floor: money(&b.balance_floor, "budget.balance_floor")?
                .or_else(|| default_money("100", &currency))
                .unwrap_or_else(|| Money::usd(Usd::ZERO)),
            balance_max_age: Duration::from_secs(b.balance_max_age_secs.unwrap_or(30).max(1)),
        };

        // orders
        let o = raw.orders;
        let batch_size = match &o.batch_size {
            Some(n) if *n.get_ref() == 0 || *n.get_ref() > 100 => {
                return Err(err(n.span(), "orders.batch_size", format!("{} is outside 1..=100", n.get_ref())));
            }
            Some(n) => *n.get_ref(),
            None => 10,
        };
        let games = match &o.games {
            None => vec![Game::Cs2],
            Some(list) => {
                let mut games = Vec::new();
                for g in list {
                    let game: Game = g
                        .get_ref()
                        .parse()
                        .map_err(|e: crate::domain::game::UnknownGame| err(g.span(), "orders.games", e.to_string()))?;
                    if !games.contains(&game) {
                        games.push(game);
                    }
                }
                games
            }
        };
        let resolve_after = Duration::from_secs(o.resolve_after_secs.unwrap_or(60));
        if resolve_after < exchange.timeout * 2 {
            // Sooner, a request still in flight could land after its reservation was released.
            return Err(FileError {
                field: Some("orders.resolve_after_secs".into()),
                ..FileError::new(
                    path,
                    format!(
                        "{} s is less than twice the request timeout ({} ms)",
                        resolve_after.as_secs(),
                        exchange.timeout.as_millis()
                    ),
                )
            });
        }
        let orders = OrderSettings { batch_size, games, resolve_after };

        // strategies and state
        let strategy_paths = match (raw.strategies.files, raw.strategies.dir) {
            (Some(files), _) => files.iter().map(|f| resolve(f)).collect(),
            (None, dir) => vec![resolve(dir.as_deref().unwrap_or("strategies"))],
        };
        let state_dir = resolve(raw.state.dir.as_deref().unwrap_or("state"));

        let sb = raw.sandbox;
        let sandbox = SandboxSettings {
            seed: sb.seed.unwrap_or(1),
            balance: match &sb.balance {
                Some(t) => Usd::parse(t.get_ref()).map_err(|e| err(t.span(), "sandbox.balance", e.to_string()))?,
                None => Usd::new(rust_decimal::Decimal::new(100_000, 2)),
            },
            time_scale: sb.time_scale.unwrap_or(30).max(1),
            catalog: sb.catalog.as_deref().map(resolve),
        };

        let hash = hex::encode(Sha256::digest(source.as_bytes()));
        Ok((
            Config {
                source: None,
                hash,
                exchange,
                trade_link,
                schedule,
                budget,
                orders,
                strategy_paths,
                state_dir,
                sandbox,
            },
            base,
        ))
    }
}

fn default_money(amount: &str, currency: &crate::domain::CurrencyCode) -> Option<Money> {
    format!("{amount} {}", currency.as_str()).parse().ok()
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
            [s.pricelist.as_str(), s.currencies.as_str(), s.balance.as_str(), s.poll.as_str()].map(str::to_string)
        };
        assert_eq!(crons(&c), crons(&d));
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
        assert_eq!(c.trade_link.partner(), "1");
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
