//! The live feed: server-sent events telling the page which sections changed.

use super::*;

/// At most this many live feeds (`/events`) at once; more are answered 503. A browser allows 6
/// connections per host and port across its tabs, and each open feed holds one, so the page closes
/// its feed while its tab is hidden; the cap keeps a runaway client from holding the rest.
pub(super) const MAX_EVENT_STREAMS: usize = 16;
/// How often the live feed checks the ledger and the status for changes (one key read each).
pub(super) const CHANGE_CHECK: Duration = Duration::from_millis(400);

/// The live feed: one event per change (`purchases`, `halt`, `status`); the page fetches the
/// sections it concerns again. Ends when the dashboard stops. Beyond [`MAX_EVENT_STREAMS`] open
/// feeds: 503 (the page's `EventSource` gives up; the page still works, without live updates).
pub(super) async fn events(State(app): State<App>) -> Response {
    let Ok(permit) = Arc::clone(&app.0.streams).try_acquire_owned() else {
        tracing::warn!("a live feed was refused: {MAX_EVENT_STREAMS} are open already");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!(
                "503 Service Unavailable: {MAX_EVENT_STREAMS} live feeds are open already; close a dashboard tab\n"
            ),
        )
            .into_response();
    };
    let rx = app.0.live.subscribe();
    let stop = app.0.shutdown.clone();
    let hello = futures_util::stream::once(async {
        Ok::<_, std::convert::Infallible>(Event::default().event("hello").data("live"))
    });
    // The permit lives as long as the stream.
    let changes = futures_util::stream::unfold((rx, stop, permit), |(mut rx, mut stop, permit)| async move {
        loop {
            if *stop.borrow() {
                return None;
            }
            tokio::select! {
                got = rx.recv() => match got {
                    Ok(what) => return Some((Ok(Event::default().event(what).data(what)), (rx, stop, permit))),
                    // Fell behind: everything may have changed.
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        return Some((Ok(Event::default().event("purchases").data("purchases")), (rx, stop, permit)))
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                changed = stop.changed() => if changed.is_err() { return None },
            }
        }
    });
    use futures_util::StreamExt;
    Sse::new(hello.chain(changes)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
}

/// Feeds the live events: every [`CHANGE_CHECK`], while anyone listens, compares the ledger's event
/// sequence number, its halt count and the bot's status with what they were. (sled's own
/// `watch_prefix` would push changes, but a subscriber that falls 1,024 events behind blocks the
/// writer: the engine must never wait on a browser.)
///
/// The state compared with is kept while nobody listens (no work is done then), and taken once at
/// start: a change made after a page subscribed is always told, even one made before the first
/// check that follows the subscription.
pub(super) async fn watch_changes(app: App, mut shutdown: watch::Receiver<bool>) {
    let mut last: Option<(u64, u64, String)> = observe_changes(&app).await;
    let mut timer = tokio::time::interval(CHANGE_CHECK);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = timer.tick() => {}
            changed = shutdown.changed() => if changed.is_err() || *shutdown.borrow() { return },
        }
        if app.0.live.receiver_count() == 0 {
            continue;
        }
        let Some(now) = observe_changes(&app).await else {
            continue;
        };
        if let Some(before) = &last {
            if before.0 != now.0 {
                let _ = app.0.live.send("purchases");
            }
            if before.1 != now.1 {
                let _ = app.0.live.send("halt");
            }
            if before.2 != now.2 {
                let _ = app.0.live.send("status");
            }
        }
        last = Some(now);
    }
}

/// What [`watch_changes`] compares: the ledger's event sequence number, its halt count and the
/// bot's status (without its time).
pub(super) async fn observe_changes(app: &App) -> Option<(u64, u64, String)> {
    let source = app.0.source.clone();
    blocking(move || {
        let seq = source.ledger.chain_head()?.0;
        let halts = source.ledger.halt_count()?;
        Ok((seq, halts, view::status_fingerprint(&source)))
    })
    .await
    .ok()
}
