//! The project websocket's protocol (reference §6.1): its address, the signed handshake, and the
//! frames it sends, parsed into [`Frame`]s. Shared by the engine and `skinbot events`.

use futures_util::StreamExt;
use serde::Deserialize;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use url::Url;

use super::CONNECT_WITHIN;
use crate::domain::{BuyId, ItemId, OfferStatus, Usd};
use crate::exchange::wire::{lenient, PurchaseInfo};
use crate::signature::websocket_signature;

pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Why the websocket could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventsError {
    #[error(
        "the exchange refused the websocket signature (auth_failed): the shop id (Client ID) or the secret is wrong"
    )]
    AuthFailed,
    #[error("no websocket address can be derived from the api URL `{0}`")]
    Address(String),
    #[error("cannot connect to the websocket at {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("the websocket at {url} sent no auth_success within {} s", CONNECT_WITHIN.as_secs())]
    NoAuth { url: String },
    #[error("the websocket was lost: {0}")]
    Lost(String),
}

/// The websocket of the project whose API is at `api_url`: same host, `ws`/`wss` for
/// `http`/`https`, path `ws/` beside the API script — `https://skinsback.com/api.php` →
/// `wss://skinsback.com/ws/` (reference §6.1), a sandbox's `http://127.0.0.1:P/api.php` →
/// `ws://127.0.0.1:P/ws/`.
pub fn ws_url(api_url: &str) -> Result<Url, EventsError> {
    let bad = || EventsError::Address(api_url.to_string());
    let api = Url::parse(api_url).map_err(|_| bad())?;
    let scheme = match api.scheme() {
        "https" => "wss",
        "http" => "ws",
        _ => return Err(bad()),
    };
    let mut url = api.join("ws/").map_err(|_| bad())?;
    url.set_scheme(scheme).map_err(|_| bad())?;
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

/// Connects to `url` with `?shopid=…&signature=md5(id+secret)` and waits for the server's
/// `auth_success`. Errors name the URL without its query: the signature stands for the secret.
pub async fn connect(url: &Url, client_id: &str, secret: &str) -> Result<Socket, EventsError> {
    let shown = url.to_string();
    let mut full = url.clone();
    full.query_pairs_mut()
        .append_pair("shopid", client_id)
        .append_pair("signature", &websocket_signature(client_id, secret));
    let handshake = async {
        let (mut ws, _) = tokio_tungstenite::connect_async(full.as_str())
            .await
            .map_err(|e| EventsError::Connect { url: shown.clone(), reason: e.to_string() })?;
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => match Frame::parse(&text) {
                    Frame::AuthSuccess => return Ok(ws),
                    Frame::AuthFailed => return Err(EventsError::AuthFailed),
                    // Polling catches up on anything that came before the answer.
                    _ => tracing::debug!("websocket frame before auth_success skipped"),
                },
                Some(Ok(Message::Close(_))) | None => {
                    return Err(EventsError::Lost("closed before authenticating".into()));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(EventsError::Lost(e.to_string())),
            }
        }
    };
    match tokio::time::timeout(CONNECT_WITHIN, handshake).await {
        Ok(r) => r,
        Err(_) => Err(EventsError::NoAuth { url: shown }),
    }
}

/// One text frame from the websocket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    AuthSuccess,
    AuthFailed,
    /// A purchase was made.
    BuyItem(PurchaseInfo),
    /// A purchase's trade offer moved.
    StatusChange(StatusChange),
    /// The project balance is now this (USD).
    BalanceChange(Usd),
    /// A known event whose data could not be read.
    Unreadable {
        event: String,
        error: String,
    },
    /// Anything else: another event, or a text that is not JSON (an answer to `ping`).
    Other(String),
}

/// `status_change` data (reference §6.1).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StatusChange {
    #[serde(default)]
    pub item: Option<ItemRef>,
    #[serde(deserialize_with = "lenient::buy_id")]
    pub buy_id: BuyId,
    pub offer_status: OfferStatus,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub error_reason: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub tradeofferid: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub custom_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ItemRef {
    #[serde(deserialize_with = "lenient::item_id")]
    pub id: ItemId,
}

#[derive(Deserialize)]
struct BalanceValue {
    #[serde(deserialize_with = "lenient::usd")]
    balance_value: Usd,
}

impl Frame {
    pub fn parse(text: &str) -> Frame {
        #[derive(Deserialize)]
        struct Envelope {
            event: String,
            #[serde(default)]
            data: serde_json::Value,
        }
        let Ok(env) = serde_json::from_str::<Envelope>(text) else {
            return Frame::Other(text.to_string());
        };
        fn data<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T, String> {
            serde_path_to_error::deserialize(v).map_err(|e| e.to_string())
        }
        let parsed = match env.event.as_str() {
            "auth_success" => Ok(Frame::AuthSuccess),
            "auth_failed" => Ok(Frame::AuthFailed),
            "buy_item" => data(env.data).map(Frame::BuyItem),
            "status_change" => data(env.data).map(Frame::StatusChange),
            "balance_change" => data::<BalanceValue>(env.data).map(|b| Frame::BalanceChange(b.balance_value)),
            _ => Ok(Frame::Other(env.event.clone())),
        };
        parsed.unwrap_or_else(|error| Frame::Unreadable { event: env.event, error })
    }
}
