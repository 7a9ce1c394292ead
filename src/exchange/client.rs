//! The SkinsBack client: one `POST /api.php` per call, signed, timed out, rate limited, and parsed
//! into typed responses or an [`ExchangeError`] that says what to do next.

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::decode::{decode, scan_head};
use super::error::ExchangeError;
use super::limiter::{Limiter, Priority};
use super::wire::{
    Balance, BatchResult, CurrencyRate, HistoryPage, Items, Listing, PriceGroup, PriceList, Purchase, PurchaseInfo,
    ServerStatus, TablePriceList,
};
use std::hash::BuildHasher;

use crate::domain::{BuyId, CustomId, Game, ItemId, ListingTable, TradeLink, Usd};
use crate::signature as sign;

/// How request parameters travel. Both are what public clients use; the server reads either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyEncoding {
    #[default]
    Json,
    /// `application/x-www-form-urlencoded`, arrays in PHP bracket form (`custom_ids[]=a`).
    Form,
}

/// How the client proves who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// `shopid` + `sign` body parameters (reference §3); every public client uses this.
    #[default]
    Signature,
    /// `X-CLIENT-ID` / `X-CLIENT-SECRET` headers.
    Headers,
}

/// Everything the client needs. `Debug` never shows the secret.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `https://skinsback.com/api.php`, or a sandbox's `http://127.0.0.1:P/api.php`.
    pub api_url: String,
    /// The project's Client ID (`shopid`).
    pub client_id: String,
    pub secret: SecretString,
    /// Whole-request timeout, body included.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub encoding: BodyEncoding,
    pub auth: AuthMode,
}

impl ClientConfig {
    pub fn new(api_url: impl Into<String>, client_id: impl Into<String>, secret: SecretString) -> Self {
        ClientConfig {
            api_url: api_url.into(),
            client_id: client_id.into(),
            secret,
            timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(5),
            encoding: BodyEncoding::Json,
            auth: AuthMode::Signature,
        }
    }
}

/// A request parameter: only strings and integers go on the wire as scalars (never bools, nulls or
/// floats — reference §3.3); arrays and objects are sent but not signed.
#[derive(Debug, Clone)]
enum Param {
    Text(String),
    Int(u64),
    List(Vec<Param>),
    Map(Vec<(&'static str, Param)>),
}

impl Param {
    fn scalar_text(&self) -> Option<String> {
        match self {
            Param::Text(s) => Some(s.clone()),
            Param::Int(n) => Some(n.to_string()),
            Param::List(_) | Param::Map(_) => None,
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Param::Text(s) => Value::String(s.clone()),
            Param::Int(n) => Value::from(*n),
            Param::List(items) => Value::Array(items.iter().map(Param::to_json).collect()),
            Param::Map(fields) => Value::Object(fields.iter().map(|(k, v)| (k.to_string(), v.to_json())).collect()),
        }
    }

    /// PHP form encoding: `k=v`, `k[]=v` for lists of scalars, `k[0][f]=v` for lists of objects.
    fn to_form(&self, key: &str, out: &mut form_urlencoded::Serializer<'_, String>) {
        match self {
            Param::Text(_) | Param::Int(_) => {
                out.append_pair(key, &self.scalar_text().unwrap_or_default());
            }
            Param::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    let sub = match item {
                        Param::Text(_) | Param::Int(_) => format!("{key}[]"),
                        _ => format!("{key}[{i}]"),
                    };
                    item.to_form(&sub, out);
                }
            }
            Param::Map(fields) => {
                for (k, v) in fields {
                    v.to_form(&format!("{key}[{k}]"), out);
                }
            }
        }
    }
}

/// What to buy with `market_buy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuyTarget {
    /// The cheapest listing of this market name (at or under `max_price`).
    Name { name: String, game: Game },
    /// One listing.
    Id(ItemId),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuyOrder {
    pub target: BuyTarget,
    /// USD ceiling; sent rounded *down* to cents so it is never above what was approved.
    pub max_price: Option<Usd>,
    pub custom_id: Option<CustomId>,
}

/// One item of a `market_batch_buy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchItem {
    pub id: ItemId,
    pub max_price: Option<Usd>,
    pub custom_id: Option<CustomId>,
}

/// The SkinsBack client. Cheap to clone; clones share the connection pool and the rate limiter.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    config: Arc<ClientConfig>,
    limiter: Option<Arc<Limiter>>,
    /// Where every call's latency, error and rate-limiter wait are counted, if anywhere.
    metrics: Option<Arc<crate::metrics::Metrics>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Self, ExchangeError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("skinbot/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ExchangeError::NotSent {
                method: "client",
                reason: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(Client { http, config: Arc::new(config), limiter: None, metrics: None })
    }

    /// The rate limiter every call waits for, if any.
    pub(crate) fn limiter(&self) -> Option<&Arc<Limiter>> {
        self.limiter.as_ref()
    }

    /// Every call of this client (and its clones) waits for `limiter` first.
    pub(crate) fn with_limiter(mut self, limiter: Arc<Limiter>) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// Every call of this client (and its clones made after) is counted in `metrics`.
    pub(crate) fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// `market_pricelist`, grouped: the lowest price and the count of each name.
    pub async fn pricelist(&self, game: Game) -> Result<PriceList<PriceGroup>, ExchangeError> {
        let params = vec![("game", Param::Text(game.as_str().into()))];
        self.call("market_pricelist", params, Priority::Background).await
    }

    /// `market_pricelist` with `full=1`: every listing with its id, as domain listings.
    pub async fn pricelist_full(&self, game: Game) -> Result<PriceList<crate::domain::Listing>, ExchangeError> {
        let params = vec![("game", Param::Text(game.as_str().into())), ("full", Param::Int(1))];
        let list: PriceList<Listing> = self.call("market_pricelist", params, Priority::Background).await?;
        Ok(list.map(crate::domain::Listing::from))
    }

    /// `market_pricelist` with `full=1`, decoded into one table (names interned) — unless its
    /// `last_update` and its bytes are those of `previous`, in which case nothing is decoded.
    pub(crate) async fn pricelist_table(
        &self,
        game: Game,
        previous: Option<&ListStamp>,
    ) -> Result<FullList, ExchangeError> {
        let params = vec![("game", Param::Text(game.as_str().into())), ("full", Param::Int(1))];
        self.call_with(
            "market_pricelist",
            params,
            Priority::Background,
            || Ok(()),
            |status, body| {
                let head = scan_head(body);
                if let (Some(prev), Some(head)) = (previous, &head) {
                    // The stamp says "not moved"; the bytes must agree, or the list is read again.
                    if head.last_update.as_deref() == Some(prev.last_update.as_str()) && prev.same_bytes(body) {
                        return Ok(FullList::Unchanged);
                    }
                }
                let list: TablePriceList = decode("market_pricelist", status, body)?;
                let stamp = head.and_then(|h| h.last_update).map(|last_update| ListStamp::new(last_update, body));
                Ok(FullList::Fresh { last_update: list.last_update, table: list.items.0, stamp })
            },
        )
        .await
    }

    /// `market_search` by one name (`name`) or several (`names`).
    pub async fn search(&self, game: Game, names: &[&str]) -> Result<Vec<Listing>, ExchangeError> {
        let mut params = vec![("game", Param::Text(game.as_str().into()))];
        match names {
            [one] => params.push(("name", Param::Text((*one).into()))),
            many => params.push(("names", Param::List(many.iter().map(|n| Param::Text((*n).into())).collect()))),
        }
        let r: Items<Listing> = self.call("market_search", params, Priority::Background).await?;
        Ok(r.items)
    }

    /// `market_buy`. On [`ExchangeError::OutcomeUnknown`] do not buy again under a new id: ask
    /// [`Client::getinfo_custom_ids`] (re-sending with the same `custom_id` is also safe: error 7).
    pub async fn buy(&self, link: &TradeLink, order: &BuyOrder) -> Result<Purchase, ExchangeError> {
        self.buy_marked(link, order, || Ok(())).await
    }

    /// [`Client::buy`], calling `mark` after the rate limiter let the request through and just
    /// before it leaves (the ledger records "sent" there). If `mark` fails, nothing is sent:
    /// [`ExchangeError::NotSent`].
    pub async fn buy_marked(
        &self,
        link: &TradeLink,
        order: &BuyOrder,
        mark: impl FnOnce() -> Result<(), String>,
    ) -> Result<Purchase, ExchangeError> {
        let mut params = trade_params(link);
        match &order.target {
            BuyTarget::Name { name, game } => {
                params.push(("name", Param::Text(name.clone())));
                params.push(("game", Param::Text(game.as_str().into())));
            }
            BuyTarget::Id(id) => params.push(("id", Param::Int(id.get()))),
        }
        if let Some(max) = order.max_price {
            params.push(("max_price", Param::Text(max.floor_cents().wire())));
        }
        if let Some(cid) = &order.custom_id {
            params.push(("custom_id", Param::Text(cid.as_str().into())));
        }
        self.call_marked("market_buy", params, Priority::Trade, mark).await
    }

    /// `market_batch_buy`: one recipient, several listings; some may come back `unavailable`.
    pub async fn batch_buy(&self, link: &TradeLink, items: &[BatchItem]) -> Result<BatchResult, ExchangeError> {
        self.batch_buy_marked(link, items, || Ok(())).await
    }

    /// [`Client::batch_buy`], calling `mark` just before the request leaves (see [`Client::buy_marked`]).
    pub(crate) async fn batch_buy_marked(
        &self,
        link: &TradeLink,
        items: &[BatchItem],
        mark: impl FnOnce() -> Result<(), String>,
    ) -> Result<BatchResult, ExchangeError> {
        let mut params = trade_params(link);
        let list = items
            .iter()
            .map(|it| {
                let mut fields = vec![("id", Param::Int(it.id.get()))];
                if let Some(max) = it.max_price {
                    fields.push(("max_price", Param::Text(max.floor_cents().wire())));
                }
                if let Some(cid) = &it.custom_id {
                    fields.push(("custom_id", Param::Text(cid.as_str().into())));
                }
                Param::Map(fields)
            })
            .collect();
        params.push(("items", Param::List(list)));
        self.call_marked("market_batch_buy", params, Priority::Trade, mark).await
    }

    /// `market_getinfo` for one `buy_id`.
    pub async fn getinfo(&self, buy_id: BuyId) -> Result<PurchaseInfo, ExchangeError> {
        self.call("market_getinfo", vec![("buy_id", Param::Int(buy_id.get()))], Priority::Background).await
    }

    /// `market_getinfo` for several `buy_ids`; unknown ids are simply absent from the answer.
    pub async fn getinfo_buy_ids(&self, ids: &[BuyId]) -> Result<Vec<PurchaseInfo>, ExchangeError> {
        let list = Param::List(ids.iter().map(|b| Param::Int(b.get())).collect());
        let r: Items<PurchaseInfo> = self.call("market_getinfo", vec![("buy_ids", list)], Priority::Background).await?;
        Ok(r.items)
    }

    /// `market_getinfo` by our own ids: how an unknown outcome is resolved.
    pub async fn getinfo_custom_ids(&self, ids: &[CustomId]) -> Result<Vec<PurchaseInfo>, ExchangeError> {
        let list = Param::List(ids.iter().map(|c| Param::Text(c.as_str().into())).collect());
        let r: Items<PurchaseInfo> = self.call("market_getinfo", vec![("custom_ids", list)], Priority::Trade).await?;
        Ok(r.items)
    }

    /// One page of `market_history` between two unix times; `start_from` is the previous page's cursor.
    pub async fn history(
        &self,
        starting: u64,
        ending: u64,
        start_from: Option<u64>,
    ) -> Result<HistoryPage, ExchangeError> {
        let mut params = vec![("starting", Param::Int(starting)), ("ending", Param::Int(ending))];
        if let Some(cursor) = start_from {
            params.push(("start_from", Param::Int(cursor)));
        }
        self.call("market_history", params, Priority::Background).await
    }

    /// Every page of `market_history` between two unix times.
    pub async fn history_all(&self, starting: u64, ending: u64) -> Result<Vec<PurchaseInfo>, ExchangeError> {
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.history(starting, ending, cursor).await?;
            let got = page.items.len();
            out.extend(page.items);
            if !page.has_more {
                return Ok(out);
            }
            // A cursor that does not move would loop forever: treat it as a malformed answer.
            match page.start_from {
                Some(next) if got > 0 && Some(next) != cursor => cursor = Some(next),
                _ => {
                    return Err(ExchangeError::Malformed {
                        method: "market_history",
                        field: "start_from".into(),
                        detail: format!(
                            "has_more is true but the cursor does not advance ({:?} after {got} rows)",
                            page.start_from
                        ),
                    })
                }
            }
        }
    }

    /// `balance`: the project balance in USD.
    pub async fn balance(&self) -> Result<Balance, ExchangeError> {
        self.call("balance", vec![], Priority::Background).await
    }

    /// `currencies`: rates per 1 USD.
    pub async fn currencies(&self) -> Result<Vec<CurrencyRate>, ExchangeError> {
        let r: Items<CurrencyRate> = self.call("currencies", vec![], Priority::Background).await?;
        Ok(r.items)
    }

    /// `status`: whether the market sells right now.
    pub async fn status(&self) -> Result<ServerStatus, ExchangeError> {
        self.call("status", vec![], Priority::Background).await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: &'static str,
        params: Vec<(&'static str, Param)>,
        priority: Priority,
    ) -> Result<T, ExchangeError> {
        self.call_marked(method, params, priority, || Ok(())).await
    }

    async fn call_marked<T: DeserializeOwned>(
        &self,
        method: &'static str,
        params: Vec<(&'static str, Param)>,
        priority: Priority,
        mark: impl FnOnce() -> Result<(), String>,
    ) -> Result<T, ExchangeError> {
        self.call_with(method, params, priority, mark, |status, body| decode(method, status, body)).await
    }

    /// One call whose answer's bytes `read` turns into a result; `mark` runs just before it leaves.
    async fn call_with<T>(
        &self,
        method: &'static str,
        mut params: Vec<(&'static str, Param)>,
        priority: Priority,
        mark: impl FnOnce() -> Result<(), String>,
        read: impl FnOnce(reqwest::StatusCode, &[u8]) -> Result<T, ExchangeError>,
    ) -> Result<T, ExchangeError> {
        if let Some(limiter) = &self.limiter {
            let waiting = std::time::Instant::now();
            limiter.acquire(priority).await;
            if let Some(m) = &self.metrics {
                let label = if priority == Priority::Trade { "trade" } else { "background" };
                m.limiter_wait(label, waiting.elapsed());
            }
        }
        params.insert(0, ("method", Param::Text(method.into())));
        let cfg = &*self.config;
        let mut req = self.http.post(&cfg.api_url);
        match cfg.auth {
            AuthMode::Signature => {
                params.insert(1, ("shopid", Param::Text(cfg.client_id.clone())));
                let scalars: Vec<(&str, String)> =
                    params.iter().filter_map(|(k, v)| v.scalar_text().map(|t| (*k, t))).collect();
                let signature = sign::sign(scalars.iter().map(|(k, v)| (*k, v.as_str())), cfg.secret.expose_secret());
                params.push(("sign", Param::Text(signature)));
            }
            AuthMode::Headers => {
                req = req.header("X-CLIENT-ID", &cfg.client_id).header("X-CLIENT-SECRET", cfg.secret.expose_secret());
            }
        }
        req = match cfg.encoding {
            BodyEncoding::Json => {
                let body: serde_json::Map<String, Value> =
                    params.iter().map(|(k, v)| (k.to_string(), v.to_json())).collect();
                req.json(&body)
            }
            BodyEncoding::Form => {
                let mut ser = form_urlencoded::Serializer::new(String::new());
                for (k, v) in &params {
                    v.to_form(k, &mut ser);
                }
                req.header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded").body(ser.finish())
            }
        };
        // The last thing before the request leaves: after the limiter's wait, so the mark says
        // when the exchange may first have seen it.
        mark().map_err(|reason| ExchangeError::NotSent { method, reason })?;
        tracing::debug!(method, "api call");
        let started = std::time::Instant::now();
        let result = self.send(method, req, read).await;
        if let Some(m) = &self.metrics {
            m.api_call(method, started.elapsed(), &result);
        }
        if let (Err(ExchangeError::RateLimited { .. }), Some(limiter)) = (&result, &self.limiter) {
            limiter.penalize();
        } else if let (Ok(_), Some(limiter)) = (&result, &self.limiter) {
            limiter.forgive();
        }
        result
    }

    async fn send<T>(
        &self,
        method: &'static str,
        req: reqwest::RequestBuilder,
        read: impl FnOnce(reqwest::StatusCode, &[u8]) -> Result<T, ExchangeError>,
    ) -> Result<T, ExchangeError> {
        let timeout = self.config.timeout;
        let mut resp = req.send().await.map_err(|e| ExchangeError::from_transport(method, e, timeout))?;
        let status = resp.status();
        // Into one buffer sized by Content-Length (bounded, in case it lies): a 23 MB price list
        // is not assembled from chunks into a buffer that doubles as it grows.
        let expected = resp.content_length().and_then(|n| usize::try_from(n).ok()).unwrap_or(0);
        let mut body = Vec::with_capacity(expected.min(MAX_PREALLOCATED_BODY));
        while let Some(chunk) = resp.chunk().await.map_err(|e| ExchangeError::from_transport(method, e, timeout))? {
            body.extend_from_slice(&chunk);
        }
        tracing::debug!(method, bytes = body.len(), "answer received");
        if status.is_server_error() {
            // A 5xx may come from a proxy before or after the API ran: the outcome is unknown.
            return Err(ExchangeError::OutcomeUnknown { method, reason: format!("HTTP {status}"), timed_out: false });
        }
        read(status, &body)
    }
}

/// The most reserved up front for an answer's body (a full CS2 price list is about 23 MB).
const MAX_PREALLOCATED_BODY: usize = 64 << 20;

/// Decodes the bytes of a `market_pricelist` `full=1` answer (what [`Client::pricelist_table`] does
/// with them); for benchmarks and tools that hold an answer.
pub fn decode_pricelist_table(body: &[u8]) -> Result<(Option<String>, ListingTable), ExchangeError> {
    let list: TablePriceList = decode("market_pricelist", reqwest::StatusCode::OK, body)?;
    Ok((list.last_update, list.items.0))
}

/// Decodes the bytes of a grouped `market_pricelist` answer (what [`Client::pricelist`] does).
pub fn decode_pricelist_grouped(body: &[u8]) -> Result<PriceList<PriceGroup>, ExchangeError> {
    decode("market_pricelist", reqwest::StatusCode::OK, body)
}

/// A full price list, or word that it is the one seen last time.
#[derive(Debug)]
pub enum FullList {
    Unchanged,
    Fresh {
        last_update: Option<String>,
        table: ListingTable,
        /// What to pass next time; `None` when the answer had no `last_update` before its items.
        stamp: Option<ListStamp>,
    },
}

/// What identifies a price list's answer: its `last_update`, and a digest of its bytes (a list that
/// changed without a new `last_update` is still read again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListStamp {
    last_update: String,
    len: usize,
    digest: u64,
}

/// The digest's hasher: seeded once per process. Not cryptographic: the only party that could
/// aim for a collision is the exchange, which could as well resend an old list.
fn body_hasher() -> &'static foldhash::quality::RandomState {
    static STATE: std::sync::OnceLock<foldhash::quality::RandomState> = std::sync::OnceLock::new();
    STATE.get_or_init(Default::default)
}

impl ListStamp {
    fn new(last_update: String, body: &[u8]) -> ListStamp {
        ListStamp { last_update, len: body.len(), digest: body_hasher().hash_one(body) }
    }

    fn same_bytes(&self, body: &[u8]) -> bool {
        self.len == body.len() && self.digest == body_hasher().hash_one(body)
    }

    pub fn last_update(&self) -> &str {
        &self.last_update
    }
}

fn trade_params(link: &TradeLink) -> Vec<(&'static str, Param)> {
    vec![("partner", Param::Text(link.partner().into())), ("token", Param::Text(link.token().into()))]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_uses_php_brackets() {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        Param::List(vec![Param::Text("a".into()), Param::Text("b c".into())]).to_form("custom_ids", &mut ser);
        Param::List(vec![Param::Map(vec![("id", Param::Int(1)), ("max_price", Param::Text("2.50".into()))])])
            .to_form("items", &mut ser);
        assert_eq!(
            ser.finish(),
            "custom_ids%5B%5D=a&custom_ids%5B%5D=b+c&items%5B0%5D%5Bid%5D=1&items%5B0%5D%5Bmax_price%5D=2.50"
        );
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let cfg = ClientConfig::new("http://127.0.0.1:1/api.php", "1490", SecretString::from("hunter2-secret"));
        let client = Client::new(cfg).unwrap();
        assert!(!format!("{client:?}").contains("hunter2"));
    }
}
