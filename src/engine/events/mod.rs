//! Live delivery events: the project websocket (reference §6.1) — `buy_item`, `status_change` and
//! `balance_change` are applied to the ledger and the balance as they arrive, so a trade offer's
//! moves (a rollback after acceptance included) reach the ledger in seconds, not at the next sweep.
//!
//! The socket is the fast path, never the only one. Events are applied through the functions that
//! polling uses (`reconcile::record_offer`, `reconcile::resolve_bought`), so both record the same
//! transitions. While the socket is up, [`reconcile::follow_offers`] asks about offers only every
//! [`FOLLOW_EVERY_WHILE_LIVE`]; while it is down, at the poll schedule's pace, and once more at
//! every (re)connection for what the socket missed meanwhile. Unknown outcomes are resolved at the
//! normal pace either way. A lost socket is reconnected with exponential backoff and jitter; a
//! refused signature (`auth_failed`) is an error that is retried only every few minutes.
//!
//! The `skinbot events` command shares [`connect`] and [`Frame::parse`] with the engine.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use secrecy::ExposeSecret;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::reconcile::{self, OfferNews};
use super::Engine;
use crate::domain::{CustomId, PurchaseRecord, PurchaseState, Usd};
use crate::exchange::wire::PurchaseInfo;
use crate::guard::LastBalance;

/// The documented keep-alive: the text frame `ping`, every 30 s (reference §6.1).
pub(crate) const PING: &str = "ping";
pub(crate) const PING_EVERY: Duration = Duration::from_secs(30);
/// Nothing at all for this long — no event, no pong to our protocol-level ping, which every
/// websocket server answers — and the socket is taken for dead.
const SILENT_FOR: Duration = Duration::from_secs(75);
/// How long connecting and authenticating may take.
const CONNECT_WITHIN: Duration = Duration::from_secs(15);
/// Reconnection delays: doubling from the first to the last, each drawn between half and all of
/// it (jitter, so many bots do not reconnect in step).
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
const BACKOFF_LAST: Duration = Duration::from_secs(60);
/// A connection that lasted this long starts the backoff over.
const STABLE_AFTER: Duration = Duration::from_secs(60);
/// After `auth_failed`: the credentials will not fix themselves; no tight loop.
const AUTH_FAILED_RETRY: Duration = Duration::from_secs(300);
/// With `[events] enabled = false`, how often the setting is read again (a reload may turn it on).
const DISABLED_RECHECK: Duration = Duration::from_secs(30);
/// While the socket is up, offers are still polled this often: a safety net for a lost event.
pub(crate) const FOLLOW_EVERY_WHILE_LIVE: chrono::Duration = chrono::Duration::seconds(30);

mod protocol;

pub(crate) use protocol::Socket;
pub use protocol::{connect, ws_url, EventsError, Frame, ItemRef, StatusChange};

/// What the engine's websocket is doing, for logs, the summary and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventsStatus {
    /// Connected and authenticated: offers are followed by events (and polled only every
    /// [`FOLLOW_EVERY_WHILE_LIVE`]).
    pub live: bool,
    /// Connection attempts so far.
    pub attempts: u64,
    /// Successful connections (authenticated) so far.
    pub connects: u64,
    /// Events that changed the ledger or the balance.
    pub applied: u64,
    /// Events read that changed nothing (not ours, already recorded, unreadable).
    pub ignored: u64,
    /// Why the last connection failed or ended.
    pub last_error: Option<String>,
}

/// The engine's side of the websocket: its status and the pace of offer polling.
#[derive(Debug)]
pub(crate) struct Link {
    status: watch::Sender<EventsStatus>,
    /// When offers were last followed by polling; `None` = at the next poll.
    last_follow: Mutex<Option<DateTime<Utc>>>,
    /// A balance fetch asked for by a `balance_change` is under way.
    refreshing: Arc<AtomicBool>,
}

impl Default for Link {
    fn default() -> Self {
        Link {
            status: watch::Sender::new(EventsStatus::default()),
            last_follow: Mutex::new(None),
            refreshing: Arc::default(),
        }
    }
}

impl Link {
    /// Whether polling should follow offers now: always while the socket is down, every
    /// [`FOLLOW_EVERY_WHILE_LIVE`] while it is up.
    pub(crate) fn follow_due(&self, now: DateTime<Utc>) -> bool {
        let live = self.status.borrow().live;
        let mut last = self.last_follow.lock().unwrap_or_else(|p| p.into_inner());
        if live && last.is_some_and(|t| now - t < FOLLOW_EVERY_WHILE_LIVE) {
            return false;
        }
        *last = Some(now);
        true
    }

    /// The next poll follows every offer (what the socket may have missed).
    fn catch_up(&self) {
        *self.last_follow.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    fn up(&self) {
        self.catch_up();
        self.status.send_modify(|s| {
            s.live = true;
            s.connects += 1;
            s.last_error = None;
        });
    }

    fn down(&self, why: Option<String>) {
        self.status.send_modify(|s| {
            s.live = false;
            if why.is_some() {
                s.last_error = why;
            }
        });
    }

    fn count(&self, applied: bool) {
        self.status.send_modify(|s| match applied {
            true => s.applied += 1,
            false => s.ignored += 1,
        });
    }
}

impl Engine {
    /// The websocket's status; `changed()` wakes on every connection, loss and event.
    pub fn events(&self) -> watch::Receiver<EventsStatus> {
        self.events.status.subscribe()
    }

    /// A `balance_change` the exchange pushed. Applied at once when it is at or below the balance
    /// held (as fetched, less the debits noted since): lower is the safe side. A higher one is not
    /// taken as it is — the socket and the HTTP answers are not ordered, so it may predate a debit
    /// noted since — and `false` says to confirm it by fetching the balance.
    pub(crate) fn note_pushed_balance(&self, value: Usd) -> bool {
        let now = self.clock.now();
        let mut s = self.shared();
        if s.balance.is_some_and(|b| value > b.amount.saturating_sub(b.debited_since)) {
            return false;
        }
        s.balance = Some(LastBalance { amount: value, fetched_at: now, debited_since: Usd::ZERO });
        true
    }
}

/// Keeps the engine subscribed to the project websocket until `shutdown` turns true: connects,
/// applies events, reconnects with backoff. Reads `[events] enabled` before each connection (and
/// stays off in a dry run).
pub async fn run(engine: Arc<Engine>, shutdown: watch::Receiver<bool>) {
    let config = engine.client.config().clone();
    let url = match ws_url(&config.api_url) {
        Ok(u) => u,
        Err(e) => {
            tracing::error!("{e}: live delivery events are off; offers are polled");
            return engine.events.down(Some(e.to_string()));
        }
    };
    let mut backoff = BACKOFF_FIRST;
    loop {
        if *shutdown.borrow() {
            return;
        }
        // A dry run's purchases are made up: nothing on the socket is about them.
        let wanted = |c: &crate::config::Config| c.events.enabled && !c.dry_run;
        if !wanted(&engine.config()) {
            if !wait(DISABLED_RECHECK, &shutdown).await {
                return;
            }
            continue;
        }
        let mut lasted = Duration::ZERO;
        engine.events.status.send_modify(|s| s.attempts += 1);
        let connecting = tokio::select! {
            r = connect(&url, &config.client_id, config.secret.expose_secret()) => r,
            _ = stopped(shutdown.clone()) => return,
        };
        let ended = match connecting {
            Ok(ws) => {
                tracing::info!(
                    %url, "websocket connected: delivery events are applied as they arrive; offers polled every {} s",
                    FOLLOW_EVERY_WHILE_LIVE.num_seconds()
                );
                engine.events.up();
                let since = Instant::now();
                let r = session(&engine, ws, &shutdown).await;
                lasted = since.elapsed();
                r
            }
            Err(e) => Err(e),
        };
        let delay = match ended {
            Ok(()) => {
                engine.events.down(None);
                continue; // shutdown, or turned off: the loop's checks decide
            }
            Err(EventsError::AuthFailed) => {
                tracing::error!(
                    "{}; live delivery events are off (offers are polled), next try in {} min",
                    EventsError::AuthFailed,
                    AUTH_FAILED_RETRY.as_secs() / 60
                );
                engine.events.down(Some(EventsError::AuthFailed.to_string()));
                backoff = BACKOFF_FIRST;
                jitter(AUTH_FAILED_RETRY)
            }
            Err(e) => {
                if lasted >= STABLE_AFTER {
                    backoff = BACKOFF_FIRST;
                }
                let delay = jitter(backoff);
                backoff = (backoff * 2).min(BACKOFF_LAST);
                tracing::warn!(
                    "{e}; offers are polled at the schedule's pace; reconnecting in {:.1} s",
                    delay.as_secs_f64()
                );
                engine.events.down(Some(e.to_string()));
                delay
            }
        };
        if !wait(delay, &shutdown).await {
            return;
        }
    }
}

/// Between half and all of `d`.
fn jitter(d: Duration) -> Duration {
    d.mul_f64(rand::rng().random_range(0.5..=1.0))
}

/// Sleeps `d`; `false` when shutdown came first.
async fn wait(d: Duration, shutdown: &watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => true,
        _ = stopped(shutdown.clone()) => false,
    }
}

/// Resolves once shutdown is requested; returns `()` so no watch guard lives across an await.
async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// Reads and applies events until the socket is lost (`Err`), or shutdown or `enabled = false`
/// ends it (`Ok`). An event being applied is finished first.
async fn session(engine: &Arc<Engine>, mut ws: Socket, shutdown: &watch::Receiver<bool>) -> Result<(), EventsError> {
    let stop = stopped(shutdown.clone());
    tokio::pin!(stop);
    let mut ping = tokio::time::interval_at(Instant::now() + PING_EVERY, PING_EVERY);
    let mut heard = Instant::now();
    loop {
        tokio::select! {
            msg = ws.next() => {
                heard = Instant::now();
                match msg {
                    Some(Ok(Message::Text(text))) => apply(engine, Frame::parse(&text)).await?,
                    Some(Ok(Message::Close(_))) | None => return Err(EventsError::Lost("closed by the server".into())),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(EventsError::Lost(e.to_string())),
                }
            }
            _ = ping.tick() => {
                if !engine.config().events.enabled || engine.config().dry_run {
                    tracing::info!("[events] turned off: websocket closed; offers are polled");
                    let _ = ws.close(None).await;
                    return Ok(());
                }
                if heard.elapsed() >= SILENT_FOR {
                    return Err(EventsError::Lost(format!("nothing heard for {} s", heard.elapsed().as_secs())));
                }
                let sent = async {
                    ws.send(Message::Text(PING.into())).await?;
                    ws.send(Message::Ping(Default::default())).await
                };
                sent.await.map_err(|e| EventsError::Lost(format!("cannot send the keep-alive ping: {e}")))?;
            }
            _ = &mut stop => {
                let _ = ws.close(None).await;
                return Ok(());
            }
        }
    }
}

/// Applies one frame. Only `auth_failed` ends the session.
async fn apply(engine: &Arc<Engine>, frame: Frame) -> Result<(), EventsError> {
    let applied = match frame {
        Frame::StatusChange(sc) => status_change(engine, &sc).await,
        Frame::BuyItem(info) => buy_item(engine, &info).await,
        Frame::BalanceChange(value) => balance_change(engine, value),
        Frame::AuthFailed => return Err(EventsError::AuthFailed),
        Frame::AuthSuccess => return Ok(()),
        Frame::Unreadable { event, error } => {
            tracing::warn!("unreadable {event} event ({error}); the next poll follows every offer");
            engine.events.catch_up();
            false
        }
        Frame::Other(what) => {
            tracing::debug!(frame = %what, "websocket frame ignored");
            return Ok(());
        }
    };
    engine.events.count(applied);
    Ok(())
}

/// `status_change` → the transition `follow_offers` would record for that buy_id.
async fn status_change(engine: &Engine, sc: &StatusChange) -> bool {
    let Some(record) = ours(engine, sc) else {
        tracing::debug!(buy_id = %sc.buy_id, custom_id = ?sc.custom_id, "status_change for a purchase the ledger does not hold: not applied");
        return false;
    };
    let cid = record.intent.custom_id.clone();
    if record.state.is_unresolved() {
        // Its buy is being recorded (the tick holds the trade lock) or resolved: wait for that.
        let _g = engine.trade_lock.lock().await;
        if !matches!(engine.ledger.get(&cid), Ok(Some(PurchaseRecord { state: PurchaseState::Bought { .. }, .. }))) {
            tracing::debug!(custom_id = %cid, "status_change for a purchase not yet recorded as bought: the next poll follows it");
            engine.events.catch_up();
            return false;
        }
    }
    let news = OfferNews {
        buy_id: sc.buy_id,
        item_id: sc.item.as_ref().map(|i| i.id),
        offer: &sc.offer_status,
        tradeofferid: sc.tradeofferid.as_deref(),
        error_reason: sc.error_reason.as_deref(),
    };
    reconcile::record_offer(engine, &cid, &news, Some("websocket"))
}

/// The ledger's purchase a `status_change` is about: by its `custom_id` when it carries one the
/// ledger holds under that buy_id (or not yet bought); else by buy_id among open purchases and
/// those accepted within the rollback window.
fn ours(engine: &Engine, sc: &StatusChange) -> Option<PurchaseRecord> {
    let has_buy_id =
        |r: &PurchaseRecord| matches!(r.state, PurchaseState::Bought { buy_id, .. } if buy_id == sc.buy_id);
    if let Some(cid) = sc.custom_id.as_deref().and_then(|c| c.parse::<CustomId>().ok()) {
        match engine.ledger.get(&cid) {
            Ok(Some(r)) if has_buy_id(&r) || r.state.is_unresolved() => return Some(r),
            Ok(Some(r)) => {
                tracing::warn!(custom_id = %cid, buy_id = %sc.buy_id, state = r.state.label(), "status_change does not match the ledger's purchase: not applied");
                return None;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(custom_id = %cid, error = %e, "cannot read the ledger"),
        }
    }
    let open = engine.ledger.open_purchases().unwrap_or_else(|e| {
        tracing::warn!(error = %e, "cannot read the ledger");
        Vec::new()
    });
    if let Some(r) = open.into_iter().find(|r| has_buy_id(r)) {
        return Some(r);
    }
    let since = engine.clock.now() - reconcile::ROLLBACK_WATCH;
    engine.ledger.list_since(since).ok()?.into_iter().find(|r| has_buy_id(r))
}

/// `buy_item` for a purchase the ledger holds as pending, sent or unknown → resolved as bought,
/// the way reconciliation resolves it (the debit checked against max_price). One released for want
/// of news landed late: recorded as bought after all, loudly, as `recheck_released` would.
async fn buy_item(engine: &Engine, info: &PurchaseInfo) -> bool {
    let Some(cid) = info.custom_id.as_deref().and_then(|c| c.parse::<CustomId>().ok()) else {
        tracing::debug!(buy_id = %info.buy_id, "buy_item without a custom_id of ours: not applied");
        return false;
    };
    let open = |e: &Engine| match e.ledger.get(&cid) {
        Ok(Some(r)) if r.state.is_unresolved() || reconcile::released_unheard(&r.state) => Some(r),
        Ok(Some(r)) => {
            tracing::debug!(custom_id = %cid, state = r.state.label(), "buy_item for a purchase already resolved: nothing to do");
            None
        }
        Ok(None) => {
            tracing::debug!(custom_id = %cid, "buy_item for a custom_id the ledger does not hold: not applied");
            None
        }
        Err(e) => {
            tracing::warn!(custom_id = %cid, error = %e, "cannot read the ledger");
            None
        }
    };
    if open(engine).is_none() {
        return false;
    }
    // Under the trade lock, as resolving open outcomes is: the buy's own answer may be on its way
    // (the tick holds the lock until it is recorded), and then there is nothing left to do.
    let _g = engine.trade_lock.lock().await;
    let Some(record) = open(engine) else { return false };
    if record.state.is_unresolved() {
        reconcile::resolve_bought(engine, &record, info, "the websocket's buy_item");
    } else {
        tracing::error!(
            custom_id = %cid, buy_id = %info.buy_id,
            "the exchange completed a purchase after it was released as not bought; recording it as bought"
        );
        reconcile::resolve_bought(engine, &record, info, "the websocket's buy_item, after it was released");
    }
    true
}

/// `balance_change` → the engine's last balance (see [`Engine::note_pushed_balance`]).
fn balance_change(engine: &Arc<Engine>, value: Usd) -> bool {
    if engine.note_pushed_balance(value) {
        tracing::debug!(balance = %value, "balance pushed by the exchange");
        return true;
    }
    // Higher than held: fetched (under the trade lock), once at a time.
    if !engine.events.refreshing.swap(true, Ordering::SeqCst) {
        let e = Arc::clone(engine);
        tokio::spawn(async move {
            e.refresh_balance().await;
            e.events.refreshing.store(false, Ordering::SeqCst);
            e.events.count(true);
        });
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::OfferStatus;

    #[test]
    fn the_websocket_is_beside_the_api_script() {
        assert_eq!(ws_url("https://skinsback.com/api.php").unwrap().as_str(), "wss://skinsback.com/ws/");
        assert_eq!(ws_url("http://127.0.0.1:8790/api.php").unwrap().as_str(), "ws://127.0.0.1:8790/ws/");
        assert_eq!(ws_url("http://[::1]:9/x/api.php?a=1").unwrap().as_str(), "ws://[::1]:9/x/ws/");
        assert!(ws_url("sandbox").is_err());
        assert!(ws_url("ftp://example.com/api.php").is_err());
    }

    #[test]
    fn frames_of_the_reference_examples_parse() {
        assert_eq!(Frame::parse(r#"{"event":"auth_success"}"#), Frame::AuthSuccess);
        assert_eq!(Frame::parse(r#"{"event":"auth_failed"}"#), Frame::AuthFailed);
        assert_eq!(Frame::parse("pong"), Frame::Other("pong".into()));
        match Frame::parse(
            r#"{"event":"buy_item","data":{"item":{"id":"48151","name":"AK-47 | Redline (Field-Tested)","price":"11.87","classid":"310777185"},"buy_id":"903112","offer_status":"creating_trade","balance_debited_sum":"11.87","custom_id":"order-42"}}"#,
        ) {
            Frame::BuyItem(p) => {
                assert_eq!((p.buy_id.get(), p.custom_id.as_deref()), (903112, Some("order-42")));
                assert_eq!(p.balance_debited_sum, Some(Usd::new(rust_decimal::Decimal::new(1187, 2))));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            Frame::parse(r#"{"event":"balance_change","data":{"balance_value":"1508.505"}}"#),
            Frame::BalanceChange(Usd::new(rust_decimal::Decimal::new(1_508_505, 3)))
        );
        // KN types it as a number.
        assert_eq!(
            Frame::parse(r#"{"event":"balance_change","data":{"balance_value":12.5}}"#),
            Frame::BalanceChange(Usd::new(rust_decimal::Decimal::new(125, 1)))
        );
        match Frame::parse(
            r#"{"event":"status_change","data":{"item":{"id":"48151"},"buy_id":"903112","offer_status":"waiting_accept","error_reason":null,"tradeofferid":"7012345678","custom_id":"order-42"}}"#,
        ) {
            Frame::StatusChange(sc) => {
                assert_eq!(sc.offer_status, OfferStatus::WaitingAccept);
                assert_eq!(sc.tradeofferid.as_deref(), Some("7012345678"));
                assert_eq!(sc.item.map(|i| i.id.get()), Some(48151));
            }
            other => panic!("{other:?}"),
        }
        match Frame::parse(r#"{"event":"status_change","data":{"buy_id":"x"}}"#) {
            Frame::Unreadable { event, error } => {
                assert!(event == "status_change" && error.contains("buy_id"), "{error}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn offers_are_polled_every_time_while_down_and_every_30_s_while_live() {
        let link = Link::default();
        let t0 = Utc::now();
        assert!(link.follow_due(t0) && link.follow_due(t0));
        link.up();
        assert!(link.follow_due(t0), "a (re)connection catches up once");
        assert!(!link.follow_due(t0 + chrono::Duration::seconds(29)));
        assert!(link.follow_due(t0 + chrono::Duration::seconds(30)));
        link.down(Some("lost".into()));
        assert!(link.follow_due(t0 + chrono::Duration::seconds(31)));
    }
}
