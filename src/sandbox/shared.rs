//! What the handlers (`api`, `admin`, `ws`, `webhook`) and the `Sandbox` handle share: the state
//! behind its lock, the clock, the shutdown signal and what is fixed at start.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;

use super::clock::Clock;
use super::render::Render;
use super::state::State;

/// A request as it arrived: its `method` and scalar parameters.
pub(crate) type Arrival = (Option<String>, Vec<(String, String)>);

/// What handlers share.
pub(crate) struct Shared {
    pub(super) state: Mutex<State>,
    pub(super) clock: Clock,
    pub(super) shutdown: watch::Receiver<bool>,
    /// Fixed at start; copies outside the lock for cheap reads.
    pub(super) shop_id: String,
    pub(super) secret: String,
    /// How values go on the wire (strings or numbers), fixed at start.
    pub(super) render: Render,
    /// The websocket server's on/off switch.
    pub(super) ws_gate: super::ws::Gate,
    /// Every API request as it arrives (its `method` and scalar parameters), before any fault or
    /// processing: tests see a request the moment it reached the exchange.
    pub(super) arrivals: Mutex<Vec<Arrival>>,
    pub(super) arrived: tokio::sync::Notify,
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave money half-moved (every method mutates after
        // its checks), so the state stays usable.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The state with everything due up to now applied.
    pub(super) fn sync(&self) -> MutexGuard<'_, State> {
        let now = self.clock.now();
        let mut st = self.lock();
        st.process_until(now);
        st
    }

    pub(super) fn advance(&self, d: Duration) {
        self.clock.advance(d);
        drop(self.sync());
    }

    /// Notes a request that just arrived.
    pub(super) fn note_arrival(&self, method: Option<String>, params: Vec<(String, String)>) {
        self.arrivals.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((method, params));
        self.arrived.notify_waiters();
    }

    /// Sleeps, but wakes early on shutdown (hung requests must not hold the server open).
    pub(super) async fn sleep(&self, d: Duration) {
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = stopped(self.shutdown.clone()) => {}
        }
    }
}

/// Resolves once shutdown was requested (or the sandbox is gone). Returns `()` so no watch guard
/// (not `Send`) lives across an await in the callers' `select!`.
pub(crate) async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}
