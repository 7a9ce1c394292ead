//! What the validated settings build for the rest of the program: the client's settings, the
//! in-process sandbox's settings, the guard's limits. Each field is copied here, once.

use std::path::PathBuf;

use secrecy::SecretString;

use super::{BudgetSettings, Endpoint, ExchangeSettings, MetricsSettings, SandboxSettings, Schedules};
use crate::domain::{Money, Rates, Usd};
use crate::exchange::{ClientConfig, Limiter};
use crate::guard::Limits;
use crate::sandbox::{Catalog, CatalogError, ClockMode, Sandbox, SandboxConfig};

/// Why the settings could not be built.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BuildError {
    /// A live endpoint without a secret (validation never lets one through).
    #[error("no secret configured")]
    NoSecret,
    /// The endpoint is the in-process sandbox, but none was given.
    #[error("the in-process sandbox is not running")]
    NoSandbox,
    #[error("failed to load the sandbox catalog {}", path.display())]
    Catalog {
        path: PathBuf,
        #[source]
        source: CatalogError,
    },
}

impl ExchangeSettings {
    /// The client's settings: the configured URL, shop id and secret — or, for
    /// [`Endpoint::Sandbox`], those of `sandbox`, the in-process sandbox started for this run (not
    /// used with a URL) — with timeouts, body encoding and auth from `[exchange]`.
    pub(crate) fn client_config(&self, sandbox: Option<&Sandbox>) -> Result<ClientConfig, BuildError> {
        let base = match (&self.endpoint, sandbox) {
            (Endpoint::Sandbox, Some(sb)) => {
                ClientConfig::new(sb.api_url(), sb.shop_id(), SecretString::from(sb.secret().to_string()))
            }
            (Endpoint::Sandbox, None) => return Err(BuildError::NoSandbox),
            (Endpoint::Url(url), _) => {
                let secret = self.secret.clone().ok_or(BuildError::NoSecret)?;
                ClientConfig::new(url.clone(), self.shop_id.clone(), secret)
            }
        };
        Ok(ClientConfig {
            timeout: self.timeout,
            connect_timeout: self.connect_timeout,
            encoding: self.encoding,
            auth: self.auth,
            ..base
        })
    }

    /// The one rate limiter every API call goes through.
    pub(crate) fn limiter(&self) -> Limiter {
        Limiter::new(self.requests_per_minute, self.background_share_percent)
    }
}

impl MetricsSettings {
    /// How old the last successful tick may be before `/health` says stale: `stale_after_secs`,
    /// else three times the price-list schedule's interval at `now` (at least 30 s).
    pub(crate) fn stale_after(&self, schedule: &Schedules, now: chrono::DateTime<chrono::Utc>) -> std::time::Duration {
        if let Some(d) = self.stale_after {
            return d;
        }
        let tz = schedule.timezone;
        let interval = schedule
            .pricelist
            .next_after(now, tz)
            .and_then(|a| schedule.pricelist.next_after(a, tz).map(|b| (b - a).to_std().unwrap_or_default()))
            .unwrap_or_default();
        (interval * 3).max(std::time::Duration::from_secs(30))
    }
}

impl SandboxSettings {
    /// The in-process sandbox's settings: seed, balance, catalog, and a real clock running
    /// `time_scale` times faster. Everything else is the sandbox's default.
    pub(crate) fn sandbox_config(&self) -> Result<SandboxConfig, BuildError> {
        let mut config = SandboxConfig {
            seed: self.seed,
            balance: self.balance,
            clock: ClockMode::Real { scale: f64::from(self.time_scale) }, // sandbox seconds per real second
            ..SandboxConfig::default()
        };
        if let Some(path) = &self.catalog {
            config.catalog =
                Catalog::load(path).map_err(|source| BuildError::Catalog { path: path.clone(), source })?;
        }
        Ok(config)
    }
}

impl BudgetSettings {
    /// The guard's limits in USD, converted from the configured currencies with `rates`; the error
    /// names the limit that cannot be converted.
    pub(crate) fn limits(&self, rates: &Rates) -> Result<Limits, String> {
        let conv = |m: &Option<Money>, what: &str| -> Result<Option<Usd>, String> {
            m.as_ref().map(|m| m.to_usd(rates).map_err(|e| format!("{what} {m}: {e}"))).transpose()
        };
        Ok(Limits {
            per_order: conv(&self.per_order, "per-order cap")?,
            per_item_per_day: conv(&self.per_item_per_day, "per-item cap")?,
            per_hour: conv(&self.per_hour, "hourly budget")?,
            per_day: conv(&self.per_day, "daily budget")?,
            balance_floor: self
                .balance_floor
                .to_usd(rates)
                .map_err(|e| format!("balance floor {}: {e}", self.balance_floor))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use rust_decimal_macros::dec;
    use secrecy::ExposeSecret;

    use super::*;
    use crate::config::{Config, SecretSource};
    use crate::domain::CurrencyCode;
    use crate::exchange::{AuthMode, BodyEncoding};

    struct Env;
    impl SecretSource for Env {
        fn var(&self, name: &str) -> Option<String> {
            (name == "SKINBOT_SECRET").then(|| "s3cr3t".to_string())
        }
    }

    fn config(src: &str) -> Config {
        Config::parse(Path::new("skinbot.toml"), src, &Env).unwrap()
    }

    const LIVE: &str = "[trade_link]\npartner = \"1\"\ntoken = \"AbCd1234\"\n[exchange]\napi_url = \"https://skinsback.com/api.php\"\nshop_id = \"1490\"\n";

    #[test]
    fn a_live_client_gets_every_exchange_setting() {
        let c = config(&format!(
            "{LIVE}timeout_ms = 9000\nconnect_timeout_ms = 700\nencoding = \"form\"\nauth = \"headers\"\n"
        ));
        let cc = c.exchange.client_config(None).unwrap();
        assert_eq!((cc.api_url.as_str(), cc.client_id.as_str()), ("https://skinsback.com/api.php", "1490"));
        assert_eq!(cc.secret.expose_secret(), "s3cr3t");
        assert_eq!((cc.timeout, cc.connect_timeout), (Duration::from_millis(9000), Duration::from_millis(700)));
        assert_eq!((cc.encoding, cc.auth), (BodyEncoding::Form, AuthMode::Headers));
    }

    #[test]
    fn a_live_endpoint_without_a_secret_builds_no_client() {
        let mut c = config(LIVE);
        c.exchange.secret = None;
        assert_eq!(c.exchange.client_config(None).unwrap_err().to_string(), "no secret configured");
    }

    #[tokio::test]
    async fn the_embedded_sandbox_client_talks_to_the_started_sandbox_with_the_configured_timeouts() {
        let c = config("[exchange]\ntimeout_ms = 4000\nconnect_timeout_ms = 300\n");
        assert!(matches!(c.exchange.client_config(None), Err(BuildError::NoSandbox)));
        let sb =
            crate::sandbox::start(c.sandbox.sandbox_config().unwrap(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let cc = c.exchange.client_config(Some(&sb)).unwrap();
        assert_eq!((cc.api_url, cc.client_id.as_str()), (sb.api_url(), sb.shop_id()));
        assert_eq!(cc.secret.expose_secret(), sb.secret());
        assert_eq!((cc.timeout, cc.connect_timeout), (Duration::from_millis(4000), Duration::from_millis(300)));
        sb.shutdown().await;
    }

    #[test]
    fn the_sandbox_gets_seed_balance_clock_and_catalog() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cat.txt"), "Recoil Case\nFracture Case\n").unwrap();
        let path = dir.path().join("skinbot.toml");
        let src = "[sandbox]\nseed = 7\nbalance = \"12.50\"\ntime_scale = 5\ncatalog = \"cat.txt\"\n";
        let c = Config::parse(&path, src, &Env).unwrap();
        let sb = c.sandbox.sandbox_config().unwrap();
        assert_eq!((sb.seed, sb.balance), (7, Usd::parse("12.50").unwrap()));
        assert_eq!(sb.clock, ClockMode::Real { scale: 5.0 });
        let names: Vec<_> = sb.catalog.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["Recoil Case", "Fracture Case"]);

        let mut c = c;
        c.sandbox.catalog = Some(dir.path().join("missing.txt"));
        let e = c.sandbox.sandbox_config().unwrap_err().to_string();
        assert!(e.starts_with("failed to load the sandbox catalog ") && e.ends_with("missing.txt"), "{e}");
    }

    #[test]
    fn the_embedded_sandbox_uses_the_shipped_catalog() {
        let sb = Config::embedded_default().sandbox.sandbox_config().unwrap();
        assert_eq!(sb.catalog, Catalog::shipped());
        assert_eq!(sb.clock, ClockMode::Real { scale: 30.0 });
    }

    #[test]
    fn limits_are_the_budget_in_usd_at_the_given_rates() {
        let c = config("[budget]\ncurrency = \"eur\"\nper_day = \"100\"\nper_item_per_day = \"3 usd\"\n");
        let mut rates = Rates::new();
        rates.insert("eur".parse::<CurrencyCode>().unwrap(), dec!(0.5)).unwrap();
        let l = c.budget.limits(&rates).unwrap();
        assert_eq!(l.per_day, Some(Usd::new(dec!(200))));
        assert_eq!(l.per_order, Some(Usd::new(dec!(100))));
        assert_eq!(l.per_hour, Some(Usd::new(dec!(400))));
        assert_eq!(l.per_item_per_day, Some(Usd::new(dec!(3))));
        assert_eq!(l.balance_floor, Usd::new(dec!(200)));

        let e = c.budget.limits(&Rates::new()).unwrap_err();
        assert_eq!(e, "per-order cap 50.00 EUR: no exchange rate known for EUR");
    }
}
