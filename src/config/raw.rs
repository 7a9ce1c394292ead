//! Stage one: what the user wrote, as serde reads it. Values that validation may reject keep their
//! position (`Spanned`), so the error can name the line.

use serde::Deserialize;
use toml::Spanned;

use crate::exchange::{AuthMode, BodyEncoding};

/// The whole file; every section may be left out.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    /// `"live"` (default) or `"dry-run"`.
    pub(crate) mode: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) exchange: RawExchange,
    #[serde(default)]
    pub(crate) trade_link: Option<RawTradeLink>,
    #[serde(default)]
    pub(crate) recipients: Vec<Spanned<RawRecipient>>,
    #[serde(default)]
    pub(crate) schedule: RawSchedule,
    #[serde(default)]
    pub(crate) budget: RawBudget,
    #[serde(default)]
    pub(crate) orders: RawOrders,
    #[serde(default)]
    pub(crate) strategies: RawStrategies,
    #[serde(default)]
    pub(crate) state: RawState,
    #[serde(default)]
    pub(crate) sandbox: RawSandbox,
    #[serde(default)]
    pub(crate) halt: RawHalt,
    #[serde(default)]
    pub(crate) sanity: RawSanity,
    #[serde(default)]
    pub(crate) events: RawEvents,
    #[serde(default)]
    pub(crate) metrics: RawMetrics,
    #[serde(default)]
    pub(crate) dashboard: RawDashboard,
    #[serde(default)]
    pub(crate) notify: RawNotify,
}

/// `[metrics]`: the Prometheus `/metrics` and `/health` endpoint (off unless `listen` is set).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMetrics {
    pub(crate) listen: Option<Spanned<String>>,
    /// Needed to listen on anything but a loopback address.
    pub(crate) allow_remote: Option<bool>,
    pub(crate) stale_after_secs: Option<Spanned<u64>>,
}

/// `[notify]`: the webhook (off unless `url`, `url_env` or `url_file` is set).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNotify {
    /// The URL written in the file (fine for a private endpoint; Slack's and Discord's carry a token).
    pub(crate) url: Option<Spanned<String>>,
    /// Name of the environment variable holding the URL.
    pub(crate) url_env: Option<Spanned<String>>,
    /// A file whose first line is the URL.
    pub(crate) url_file: Option<Spanned<String>>,
    pub(crate) format: Option<Spanned<String>>,
    pub(crate) batch: Option<bool>,
    pub(crate) events: Option<Spanned<Vec<Spanned<String>>>>,
    pub(crate) queue: Option<Spanned<usize>>,
}

/// `[dashboard]`: the web view of the ledger and the bot's state.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDashboard {
    /// `"127.0.0.1:8787"`: serve the dashboard there (off when absent).
    pub(crate) listen: Option<Spanned<String>>,
    /// Accept a `listen` address that is not loopback (the token then crosses the network).
    pub(crate) allow_remote: Option<bool>,
}

/// `[events]`: the project websocket.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEvents {
    pub(crate) enabled: Option<bool>,
}

/// `[halt]`: the brakes that pull themselves.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHalt {
    pub(crate) on_disagreement: Option<bool>,
    pub(crate) failed_deliveries: Option<u32>,
    pub(crate) errors: Option<u32>,
    pub(crate) errors_minutes: Option<u32>,
    pub(crate) on_bad_credentials: Option<bool>,
    pub(crate) velocity: Option<Spanned<Amount>>,
    pub(crate) velocity_minutes: Option<u32>,
}

/// `[sanity]`: price lists and prices too strange to buy from.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSanity {
    pub(crate) pricelist_max_age_secs: Option<u64>,
    pub(crate) price_jump_factor: Option<Spanned<String>>,
    pub(crate) median_hours: Option<u32>,
    pub(crate) list_drop_percent: Option<Spanned<u8>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExchange {
    /// `"sandbox"` (default) or the live endpoint, `https://skinsback.com/api.php`.
    pub(crate) api_url: Option<Spanned<String>>,
    pub(crate) shop_id: Option<Spanned<String>>,
    /// Name of the environment variable holding the secret (default `SKINBOT_SECRET`).
    pub(crate) secret_env: Option<String>,
    /// A file whose first line is the secret (takes precedence over `secret_env`).
    pub(crate) secret_file: Option<Spanned<String>>,
    /// Guard against a secret pasted into a committed file: named here only to refuse it clearly.
    pub(crate) secret: Option<Spanned<toml::Value>>,
    pub(crate) timeout_ms: Option<u64>,
    pub(crate) connect_timeout_ms: Option<u64>,
    pub(crate) encoding: Option<BodyEncoding>,
    pub(crate) auth: Option<AuthMode>,
    pub(crate) requests_per_minute: Option<Spanned<u32>>,
    pub(crate) background_share_percent: Option<Spanned<u8>>,
}

/// One `[[recipients]]`: a name and a trade link (`url`, or `partner` + `token`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRecipient {
    pub(crate) name: Spanned<String>,
    pub(crate) url: Option<Spanned<String>>,
    pub(crate) partner: Option<Spanned<String>>,
    pub(crate) token: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTradeLink {
    pub(crate) url: Option<Spanned<String>>,
    pub(crate) partner: Option<Spanned<String>>,
    pub(crate) token: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSchedule {
    pub(crate) timezone: Option<Spanned<String>>,
    pub(crate) pricelist: Option<Spanned<String>>,
    pub(crate) currencies: Option<Spanned<String>>,
    pub(crate) balance: Option<Spanned<String>>,
    pub(crate) poll: Option<Spanned<String>>,
    pub(crate) status: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBudget {
    /// Currency limits are written in when they carry none (default usd).
    pub(crate) currency: Option<Spanned<String>>,
    pub(crate) per_order: Option<Spanned<Amount>>,
    pub(crate) per_item_per_day: Option<Spanned<Amount>>,
    pub(crate) per_hour: Option<Spanned<Amount>>,
    pub(crate) per_day: Option<Spanned<Amount>>,
    pub(crate) balance_floor: Option<Spanned<Amount>>,
    pub(crate) balance_max_age_secs: Option<u64>,
    pub(crate) rates_max_age_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOrders {
    pub(crate) batch_size: Option<Spanned<usize>>,
    pub(crate) games: Option<Vec<Spanned<String>>>,
    /// How long after sending an unanswered buy may be declared "not bought" when the exchange
    /// does not know its custom_id.
    pub(crate) resolve_after_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStrategies {
    pub(crate) dir: Option<String>,
    pub(crate) files: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawState {
    pub(crate) dir: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSandbox {
    pub(crate) seed: Option<u64>,
    pub(crate) balance: Option<Spanned<String>>,
    /// How much faster than real time the sandbox's trade offers resolve.
    pub(crate) time_scale: Option<u32>,
    pub(crate) catalog: Option<String>,
}

/// An amount as written: text (`"40"`, `"40 eur"`) or a whole number (`40`). A TOML float is refused:
/// `12.5` would pass through a binary float on its way to a decimal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Amount(pub(crate) String);

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Amount;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an amount: a whole number (40) or text (\"12.50\", \"40 eur\")")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Amount, E> {
                Ok(Amount(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Amount, E> {
                Ok(Amount(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Amount, E> {
                Ok(Amount(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Amount, E> {
                Err(E::custom(format!(
                    "write {v} as text (\"{v}\"): amounts with decimals are read exactly only from text"
                )))
            }
        }
        d.deserialize_any(V)
    }
}
