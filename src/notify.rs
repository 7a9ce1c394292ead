//! The webhook (`[notify]`): purchases (one by one, or one message per tick with `batch`), failed
//! deliveries, rollbacks, halts and resumes, configuration reloaded or refused.
//!
//! Trading never waits on it: the engine only puts a message in a bounded queue
//! ([`Notifier::send`] is `try_send`, never an await). When the queue is full the new message is
//! dropped and counted (logged when it first happens, then with the count at most once an hour
//! while drops go on; `skinbot_notifications_dropped_total`). One background task sends them in order: a POST with
//! a 10 s timeout, retried on a transport error, 429 or 5xx after 1 s, 2 s, 4 s, 8 s (doubling, at
//! most 60 s), then given up. A dead endpoint is logged when it fails first, then at most once an
//! hour with how many messages were lost, and once when it answers again. Redirects are not
//! followed (a webhook answers itself).
//!
//! The URL is a secret (Slack's and Discord's carry the token that lets anyone post): it is kept in
//! a `SecretString`, and what is logged names only its host and a fixed description of the error,
//! never the URL (reqwest's own error text ends with it).
//!
//! Bodies: `format = "json"` posts an [`Event`] as it serializes (`event`, `time`, `text`, and the
//! fields of its kind: `custom_id`, `buy_id`, `item`, `game`, `strategy`, `rule`, `recipient`,
//! `price` as `{"amount": "12.50", "currency": "USD"}`, `offer`, `reason`, `changes`, or
//! `purchases` and `total` for a batch); `"slack"` posts `{"text": …}`; `"discord"` posts
//! `{"content": …}` (at most 2,000 characters). Every amount in a text names its currency.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::config::NotifySettings;
use crate::domain::Usd;

/// The body a webhook receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The structured [`Event`].
    Json,
    /// `{"text": …}` (Slack incoming webhooks, Mattermost, Rocket.Chat).
    Slack,
    /// `{"content": …}` (Discord webhooks).
    Discord,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(Format::Json),
            "slack" => Ok(Format::Slack),
            "discord" => Ok(Format::Discord),
            _ => Err(format!("`{s}` is not a format: json, slack or discord")),
        }
    }
}

/// What a message is about (the `event` field, and the names `[notify] events` filters by).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Purchase,
    DeliveryFailed,
    Rollback,
    Halt,
    Resume,
    ConfigReloaded,
    ConfigRefused,
}

impl EventKind {
    pub const ALL: [EventKind; 7] = [
        EventKind::Purchase,
        EventKind::DeliveryFailed,
        EventKind::Rollback,
        EventKind::Halt,
        EventKind::Resume,
        EventKind::ConfigReloaded,
        EventKind::ConfigRefused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Purchase => "purchase",
            EventKind::DeliveryFailed => "delivery_failed",
            EventKind::Rollback => "rollback",
            EventKind::Halt => "halt",
            EventKind::Resume => "resume",
            EventKind::ConfigReloaded => "config_reloaded",
            EventKind::ConfigRefused => "config_refused",
        }
    }
}

impl std::str::FromStr for EventKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s.trim()).ok_or_else(|| {
            let known: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
            format!("`{s}` is not an event: {}", known.join(", "))
        })
    }
}

/// An amount and its currency, exact (the amount is decimal text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Price {
    pub amount: rust_decimal::Decimal,
    pub currency: String,
}

impl From<Usd> for Price {
    fn from(u: Usd) -> Self {
        Price { amount: u.amount(), currency: "USD".into() }
    }
}

/// One purchase as a message tells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PurchaseNote {
    pub custom_id: String,
    pub buy_id: u64,
    pub item: String,
    pub game: String,
    pub strategy: String,
    pub rule: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
    /// What was debited (counted against the budget).
    pub price: Price,
    /// A dry run's simulated fill: nothing was sent, nothing was debited.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub simulated: bool,
}

/// One webhook message (`format = "json"` posts it as it serializes).
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub event: EventKind,
    pub time: DateTime<Utc>,
    /// One line for a person (what Slack and Discord show).
    pub text: String,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub purchase: Option<PurchaseNote>,
    /// A batch: the purchases of one tick, and their sum.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub purchases: Vec<PurchaseNote>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<Price>,
    /// A trade offer's status (delivery failed, rollback).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A reload: the effective values that changed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
}

impl Event {
    fn new(event: EventKind, time: DateTime<Utc>, text: String) -> Event {
        Event {
            event,
            time,
            text,
            purchase: None,
            purchases: Vec::new(),
            total: None,
            offer: None,
            reason: None,
            changes: Vec::new(),
        }
    }

    pub fn purchase(time: DateTime<Utc>, p: PurchaseNote) -> Event {
        let text = format!(
            "skinbot {} {} for {} {} (strategy {}, rule {}; custom_id {}, buy_id {})",
            if p.simulated { "(dry run) would have bought" } else { "bought" },
            p.item,
            p.price.amount,
            p.price.currency,
            p.strategy,
            p.rule,
            p.custom_id,
            p.buy_id
        );
        Event { purchase: Some(p), ..Event::new(EventKind::Purchase, time, text) }
    }

    /// The purchases of one tick as one message.
    pub fn purchases(time: DateTime<Utc>, list: Vec<PurchaseNote>) -> Event {
        let total: rust_decimal::Decimal = list.iter().map(|p| p.price.amount).sum();
        let items: Vec<String> =
            list.iter().map(|p| format!("{} {} {}", p.item, p.price.amount, p.price.currency)).collect();
        let verb = if list.iter().any(|p| p.simulated) { "(dry run) would have bought" } else { "bought" };
        let text = format!("skinbot {verb} {} items for {total} USD: {}", list.len(), items.join(", "));
        Event {
            purchases: list,
            total: Some(Price { amount: total, currency: "USD".into() }),
            ..Event::new(EventKind::Purchase, time, text)
        }
    }

    /// A bought item's offer ended without delivery (`rollback` false) or was rolled back after
    /// acceptance (`rollback` true).
    pub fn offer_failed(time: DateTime<Utc>, p: PurchaseNote, offer: &str, rollback: bool) -> Event {
        let (kind, text) = if rollback {
            (
                EventKind::Rollback,
                format!(
                    "skinbot: {} ({}, {} {}) was rolled back after acceptance ({offer})",
                    p.item, p.custom_id, p.price.amount, p.price.currency
                ),
            )
        } else {
            (
                EventKind::DeliveryFailed,
                format!(
                    "skinbot: the trade offer for {} ({}, {} {}) ended {offer}; the exchange refunds the debit",
                    p.item, p.custom_id, p.price.amount, p.price.currency
                ),
            )
        };
        Event { purchase: Some(p), offer: Some(offer.to_string()), ..Event::new(kind, time, text) }
    }

    pub fn halt(time: DateTime<Utc>, reason: &str) -> Event {
        let text = format!("skinbot halted buying: {reason}");
        Event { reason: Some(reason.to_string()), ..Event::new(EventKind::Halt, time, text) }
    }

    pub fn resume(time: DateTime<Utc>) -> Event {
        Event::new(EventKind::Resume, time, "skinbot resumed buying".into())
    }

    pub fn reloaded(time: DateTime<Utc>, changes: Vec<String>) -> Event {
        let text = if changes.is_empty() {
            "skinbot configuration reloaded".to_string()
        } else {
            format!("skinbot configuration reloaded: {}", changes.join("; "))
        };
        Event { changes, ..Event::new(EventKind::ConfigReloaded, time, text) }
    }

    pub fn refused(time: DateTime<Utc>, error: &str) -> Event {
        let text = format!("skinbot configuration change refused; the one in force stays: {error}");
        Event { reason: Some(error.to_string()), ..Event::new(EventKind::ConfigRefused, time, text) }
    }

    /// The body for `format`.
    pub fn body(&self, format: Format) -> serde_json::Value {
        match format {
            Format::Json => serde_json::to_value(self).unwrap_or(serde_json::Value::Null),
            Format::Slack => serde_json::json!({ "text": self.text }),
            Format::Discord => serde_json::json!({ "content": self.text.chars().take(2000).collect::<String>() }),
        }
    }
}

/// How the sending task retries: [`Tuning::default`] in `skinbot run`; tests change it.
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// Tries per message (1 = no retry).
    pub attempts: u32,
    /// The wait before the first retry, doubling after each.
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// One POST's timeout, connecting included.
    pub timeout: Duration,
    /// A dead endpoint is logged at most this often.
    pub log_every: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            attempts: 5,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
            log_every: Duration::from_secs(3600),
        }
    }
}

/// The engine's handle on the webhook; a disabled one (no `url`) does nothing. Cheap to clone.
#[derive(Clone, Default)]
pub struct Notifier {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    tx: mpsc::Sender<Event>,
    events: Option<Vec<EventKind>>,
    batch: bool,
    /// A tick's purchases, with `batch`.
    pending: Mutex<Vec<PurchaseNote>>,
    dropped: AtomicU64,
    /// When drops were last logged, and how many since.
    full: Mutex<Outage>,
    /// Drops are logged at most this often.
    log_every: Duration,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier").field("enabled", &self.inner.is_some()).finish()
    }
}

impl Notifier {
    /// One that sends nothing.
    pub const fn disabled() -> Notifier {
        Notifier { inner: None }
    }

    /// Starts the sending task for `settings` (on the current tokio runtime); disabled without a
    /// `url`.
    pub fn start(settings: &NotifySettings) -> Notifier {
        Self::start_tuned(settings, Tuning::default())
    }

    /// [`Notifier::start`] with other retries and timeouts than the defaults.
    pub fn start_tuned(settings: &NotifySettings, tuning: Tuning) -> Notifier {
        // Validated when the config was read; never logged (it holds the token).
        let Some(url) = settings.url.as_ref().and_then(|u| url::Url::parse(u.expose_secret()).ok()) else {
            return Notifier::default();
        };
        let (notifier, rx) = Self::with_queue(settings, tuning.log_every);
        tokio::spawn(deliver(rx, url, settings.format, tuning));
        notifier
    }

    /// A notifier and the receiving end of its queue (the task's, or a test's); drops are logged
    /// at most every `log_every`.
    pub(crate) fn with_queue(settings: &NotifySettings, log_every: Duration) -> (Notifier, mpsc::Receiver<Event>) {
        let (tx, rx) = mpsc::channel(settings.queue.max(1));
        let inner = Inner {
            tx,
            events: settings.events.clone(),
            batch: settings.batch,
            pending: Mutex::new(Vec::new()),
            dropped: AtomicU64::new(0),
            full: Mutex::new(Outage::default()),
            log_every,
        };
        (Notifier { inner: Some(Arc::new(inner)) }, rx)
    }

    pub fn enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Queues `event` unless its kind is filtered out; never waits. A full queue drops it.
    pub fn send(&self, event: Event) {
        let Some(inner) = &self.inner else { return };
        if inner.events.as_ref().is_some_and(|e| !e.contains(&event.event)) {
            return;
        }
        if let Err(e) = inner.tx.try_send(event) {
            let total = inner.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            let logged = inner.full.lock().unwrap_or_else(|p| p.into_inner()).failed(Instant::now(), inner.log_every);
            if let Some(n) = logged {
                let why = match e {
                    mpsc::error::TrySendError::Full(_) => "the queue is full (the endpoint is slow or down)",
                    mpsc::error::TrySendError::Closed(_) => "the sending task has stopped",
                };
                tracing::warn!(
                    dropped = total,
                    "webhook messages dropped: {why}; {n} dropped so far; logged again at most once an hour while it goes on"
                );
            }
        }
    }

    /// A purchase: sent now, or with `batch` kept for [`Notifier::end_tick`].
    pub fn purchase(&self, time: DateTime<Utc>, note: PurchaseNote) {
        let Some(inner) = &self.inner else { return };
        if inner.batch {
            inner.pending.lock().unwrap_or_else(|p| p.into_inner()).push(note);
        } else {
            self.send(Event::purchase(time, note));
        }
    }

    /// The end of a tick: with `batch`, its purchases go out as one message.
    pub fn end_tick(&self, time: DateTime<Utc>) {
        let Some(inner) = &self.inner else { return };
        let list = std::mem::take(&mut *inner.pending.lock().unwrap_or_else(|p| p.into_inner()));
        match list.len() {
            0 => {}
            1 => self.send(Event::purchase(time, list.into_iter().next().expect("one"))),
            _ => self.send(Event::purchases(time, list)),
        }
    }

    /// Messages dropped because the queue was full, since start.
    pub fn dropped(&self) -> u64 {
        self.inner.as_ref().map_or(0, |i| i.dropped.load(Ordering::Relaxed))
    }
}

/// The sending task: one message at a time, in order, each retried with backoff, until the
/// notifier is dropped.
async fn deliver(mut rx: mpsc::Receiver<Event>, url: url::Url, format: Format, tuning: Tuning) {
    let host = url.host_str().unwrap_or("?").to_string();
    let http = match reqwest::Client::builder()
        // A redirect would be followed with the body to wherever it points.
        .redirect(reqwest::redirect::Policy::none())
        .timeout(tuning.timeout)
        .connect_timeout(tuning.timeout.min(Duration::from_secs(5)))
        .user_agent(concat!("skinbot/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            return tracing::error!(error = %e.without_url(), "cannot build the webhook's HTTP client; no notification is sent")
        }
    };
    let mut outage = Outage::default();
    while let Some(event) = rx.recv().await {
        let body = event.body(format);
        let mut delay = tuning.first_delay;
        let mut failure = None;
        for attempt in 1..=tuning.attempts {
            match post(&http, &url, &body).await {
                Ok(()) => {
                    failure = None;
                    break;
                }
                Err((why, retry)) => {
                    failure = Some(why);
                    if !retry || attempt == tuning.attempts {
                        break;
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(tuning.max_delay);
                }
            }
        }
        match failure {
            None => {
                if let Some(lost) = outage.answered() {
                    tracing::info!(host = %host, lost, "the webhook answers again");
                }
            }
            Some(why) => match outage.failed(Instant::now(), tuning.log_every) {
                Some(1) => tracing::warn!(
                    host = %host, event = event.event.as_str(),
                    "webhook failed after {} attempts ({why}); the message is lost; logged again at most once an hour while it fails",
                    tuning.attempts
                ),
                Some(lost) => {
                    tracing::warn!(host = %host, lost, "webhook still failing ({why}); {lost} messages lost so far")
                }
                None => {}
            },
        }
    }
}

/// What the sending task says about a failing endpoint: its first failure, then at most once per
/// `every` however many messages fail, and once when it answers again.
#[derive(Debug, Default)]
struct Outage {
    /// While failing: when it was last logged.
    logged: Option<Instant>,
    /// Messages given up since the outage began.
    lost: u64,
}

impl Outage {
    /// A message given up at `now`: `Some(messages lost so far)` when that is to be logged.
    fn failed(&mut self, now: Instant, every: Duration) -> Option<u64> {
        self.lost += 1;
        match self.logged {
            Some(at) if now.saturating_duration_since(at) < every => None,
            _ => {
                self.logged = Some(now);
                Some(self.lost)
            }
        }
    }

    /// A message delivered: `Some(messages lost)` when it ends an outage.
    fn answered(&mut self) -> Option<u64> {
        let was = self.logged.take().map(|_| self.lost);
        self.lost = 0;
        was
    }
}

/// One POST: `Err((why, worth retrying))`.
async fn post(http: &reqwest::Client, url: &url::Url, body: &serde_json::Value) -> Result<(), (String, bool)> {
    match http.post(url.clone()).json(body).send().await {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => {
            let s = r.status();
            Err((format!("HTTP {s}"), s.is_server_error() || s == reqwest::StatusCode::TOO_MANY_REQUESTS))
        }
        Err(e) => Err((describe(e), true)),
    }
}

/// What went wrong with a request, for the log: never the URL (reqwest's text ends with
/// ` for url (…)`, the whole URL, token included), and nothing of the error's sources either, which
/// may repeat it.
fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        "no answer in time".into()
    } else if e.is_connect() {
        "cannot connect".into()
    } else if e.is_redirect() {
        "redirected".into()
    } else if e.is_body() || e.is_decode() {
        "the answer could not be read".into()
    } else if e.is_request() {
        "the request failed (the connection closed or broke)".into()
    } else {
        // `without_url` leaves reqwest's own kind ("error sending request", "builder error").
        e.without_url().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    const HOUR: Duration = Duration::from_secs(3600);

    fn settings(queue: usize) -> NotifySettings {
        NotifySettings {
            url: Some(secrecy::SecretString::from("http://127.0.0.1:9/".to_string())),
            queue,
            ..NotifySettings::default()
        }
    }

    /// Everything logged while the guard lives (this thread only: a current-thread runtime).
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn start() -> (Captured, tracing::subscriber::DefaultGuard) {
            let c = Captured::default();
            let w = c.clone();
            let sub = tracing_subscriber::fmt().with_ansi(false).with_writer(move || w.clone()).finish();
            (c.clone(), tracing::subscriber::set_default(sub))
        }

        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
        }
    }

    /// Runs the sending task on `url` for one message, one attempt, to its end.
    async fn deliver_one(url: &str) {
        let (tx, rx) = mpsc::channel(1);
        tx.send(Event::resume(Utc::now())).await.unwrap();
        drop(tx);
        let tuning = Tuning { attempts: 1, timeout: Duration::from_secs(5), ..Tuning::default() };
        deliver(rx, url.parse().unwrap(), Format::Slack, tuning).await;
    }

    #[tokio::test(flavor = "current_thread")]
    async fn what_is_logged_of_a_failing_webhook_never_holds_its_url_and_redirects_are_not_followed() {
        use axum::routing::post as route_post;
        // A Slack-like URL: the path is the token.
        const SECRET: &str = "services/T0KEN/B0KEN/XyZsecret";
        let followed = Arc::new(AtomicU64::new(0));
        let hits = Arc::clone(&followed);
        let app = axum::Router::new()
            .route(
                &format!("/{SECRET}"),
                route_post(|| async { (axum::http::StatusCode::FOUND, [("location", "/elsewhere")]) }),
            )
            .route(
                "/elsewhere",
                route_post(move || async move {
                    hits.fetch_add(1, Ordering::SeqCst);
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        // Accepts a connection and closes it at once: reqwest's error for it ends with the URL.
        let closer = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let closer_addr = closer.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((socket, _)) = closer.accept().await {
                drop(socket);
            }
        });

        let (log, _guard) = Captured::start();
        deliver_one(&format!("http://{addr}/{SECRET}")).await;
        deliver_one(&format!("http://{closer_addr}/{SECRET}")).await;
        deliver_one(&format!("http://127.0.0.1:9/{SECRET}")).await;
        let text = log.text();
        assert_eq!(text.matches("webhook failed").count(), 3, "{text}");
        assert!(text.contains("HTTP 302"), "the redirect is an answer, not followed: {text}");
        assert_eq!(followed.load(Ordering::SeqCst), 0, "the redirect was followed");
        for secret in ["T0KEN", "XyZsecret", "services/", "for url"] {
            assert!(!text.contains(secret), "`{secret}` logged:\n{text}");
        }
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn dropped_messages_are_logged_again_with_the_count_at_most_once_an_hour() {
        let (log, _guard) = Captured::start();
        let (n, _rx) = Notifier::with_queue(&settings(1), HOUR);
        let lines = || log.text().matches("webhook messages dropped").count();
        n.send(Event::resume(Utc::now()));
        n.send(Event::resume(Utc::now()));
        assert_eq!(lines(), 1, "the first drop is logged");
        for _ in 0..10 {
            n.send(Event::resume(Utc::now()));
        }
        assert_eq!(lines(), 1, "not each drop");
        tokio::time::advance(HOUR).await;
        n.send(Event::resume(Utc::now()));
        assert_eq!(lines(), 2, "an hour later, again: {}", log.text());
        assert!(log.text().contains("12 dropped so far"), "{}", log.text());
        assert_eq!(n.dropped(), 12);
    }

    fn note(item: &str) -> PurchaseNote {
        PurchaseNote {
            custom_id: "sb-1".into(),
            buy_id: 7,
            item: item.into(),
            game: "cs2".into(),
            strategy: "s".into(),
            rule: "r".into(),
            recipient: None,
            price: Usd::new(dec!(0.42)).into(),
            simulated: false,
        }
    }

    #[test]
    fn a_full_queue_drops_new_messages_and_counts_them_without_waiting() {
        let (n, mut rx) = Notifier::with_queue(&settings(4), HOUR);
        for _ in 0..10 {
            n.send(Event::resume(Utc::now()));
        }
        assert_eq!(n.dropped(), 6);
        let mut queued = 0;
        while rx.try_recv().is_ok() {
            queued += 1;
        }
        assert_eq!(queued, 4);
    }

    #[test]
    fn the_event_filter_and_the_batch_apply() {
        let mut s = settings(8);
        s.events = Some(vec![EventKind::Purchase]);
        s.batch = true;
        let (n, mut rx) = Notifier::with_queue(&s, HOUR);
        n.send(Event::resume(Utc::now()));
        n.purchase(Utc::now(), note("A"));
        n.purchase(Utc::now(), note("B"));
        assert!(rx.try_recv().is_err(), "filtered out, and purchases wait for the end of the tick");
        n.end_tick(Utc::now());
        let e = rx.try_recv().unwrap();
        assert_eq!(e.purchases.len(), 2);
        assert_eq!(e.total.as_ref().unwrap().amount, dec!(0.84));
        assert!(e.text.contains("2 items for 0.84 USD"), "{}", e.text);
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn a_dead_endpoint_is_logged_once_an_hour_not_per_message() {
        let hour = HOUR;
        let t0 = Instant::now();
        let mut o = Outage::default();
        assert_eq!(o.answered(), None, "no outage: nothing to say");
        assert_eq!(o.failed(t0, hour), Some(1), "the first failure is logged");
        let logged: Vec<u64> = (1..=120).filter_map(|m| o.failed(t0 + Duration::from_secs(60 * m), hour)).collect();
        assert_eq!(logged, vec![61, 121], "two hours of a message a minute: logged at 60 min and at 120 min");
        assert_eq!(o.answered(), Some(121), "the recovery is logged with the count");
        assert_eq!(o.failed(t0 + 2 * hour + Duration::from_secs(1), hour), Some(1), "a new outage starts over");
    }

    #[test]
    fn bodies_per_format() {
        let e = Event::purchase(Utc::now(), note("Recoil Case"));
        let json = e.body(Format::Json);
        assert_eq!(json["event"], "purchase");
        assert_eq!(json["item"], "Recoil Case");
        assert_eq!(json["price"]["amount"], "0.42");
        assert_eq!(json["price"]["currency"], "USD");
        let slack = e.body(Format::Slack);
        assert!(slack["text"].as_str().unwrap().contains("for 0.42 USD"));
        assert_eq!(e.body(Format::Discord)["content"], slack["text"]);
    }
}
