//! Market events (`buy_item`, `status_change`, `balance_change`, reference §6) fan out to every
//! authenticated websocket and, when configured, to the webhook sender — one serialized frame each,
//! so both channels carry byte-identical JSON in the same order. The state reports typed [`Event`]s;
//! the hub has them rendered once.

use std::sync::Arc;

use rust_decimal::Decimal;
use tokio::sync::{broadcast, mpsc};

use super::purchase::SandboxPurchase;
use super::render::{obj, Render};

/// A market event as the state reports it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Event<'a> {
    /// `buy_item`: a purchase was made.
    BuyItem(&'a SandboxPurchase),
    /// `status_change`: a purchase's offer reached a new status.
    StatusChange(&'a SandboxPurchase),
    /// `balance_change`: the project balance is now this.
    BalanceChange(Decimal),
}

#[derive(Debug, Clone)]
pub(crate) struct Hub {
    render: Render,
    ws: broadcast::Sender<Arc<str>>,
    webhook: Option<mpsc::UnboundedSender<Arc<str>>>,
}

impl Hub {
    pub(crate) fn new(render: Render, webhook: Option<mpsc::UnboundedSender<Arc<str>>>) -> Hub {
        // Room for a burst (a batch buy of 50 emits ~100 frames); a slower socket skips ahead.
        let (ws, _) = broadcast::channel(4096);
        Hub { render, ws, webhook }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.ws.subscribe()
    }

    /// Never blocks: callers hold the state lock.
    pub(crate) fn emit(&self, event: Event<'_>) {
        let r = self.render;
        let (name, data) = match event {
            Event::BuyItem(p) => ("buy_item", r.bought(p)),
            Event::StatusChange(p) => ("status_change", r.status_change(p)),
            Event::BalanceChange(balance) => ("balance_change", r.balance_change(balance)),
        };
        let frame: Arc<str> = obj([("event", name.into()), ("data", data)]).to_json().into();
        tracing::debug!(target: "sandbox", event = name, "event");
        // No subscriber is normal (nobody listens yet).
        let _ = self.ws.send(frame.clone());
        if let Some(tx) = &self.webhook {
            let _ = tx.send(frame);
        }
    }
}
