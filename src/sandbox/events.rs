//! Market events (`buy_item`, `status_change`, `balance_change`, reference §6) fan out to every
//! authenticated websocket and, when configured, to the webhook sender — one serialized frame each,
//! so both channels carry byte-identical JSON in the same order.

use std::sync::Arc;

use tokio::sync::{broadcast, mpsc};

use super::render::{obj, J};

#[derive(Debug, Clone)]
pub struct Hub {
    ws: broadcast::Sender<Arc<str>>,
    webhook: Option<mpsc::UnboundedSender<Arc<str>>>,
}

impl Hub {
    pub fn new(webhook: Option<mpsc::UnboundedSender<Arc<str>>>) -> Hub {
        // Room for a burst (a batch buy of 50 emits ~100 frames); a slower socket skips ahead.
        let (ws, _) = broadcast::channel(4096);
        Hub { ws, webhook }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.ws.subscribe()
    }

    /// Never blocks: callers hold the state lock.
    pub fn emit(&self, event: &'static str, data: J) {
        let frame: Arc<str> = obj([("event", event.into()), ("data", data)]).to_json().into();
        tracing::debug!(target: "sandbox", event, "event");
        // No subscriber is normal (nobody listens yet).
        let _ = self.ws.send(frame.clone());
        if let Some(tx) = &self.webhook {
            let _ = tx.send(frame);
        }
    }
}
