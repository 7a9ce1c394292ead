//! `GET /ws/?shopid=…&signature=md5(id+secret)` (reference §6.1), and the same at `/`, where older
//! SDKs connect (they build `<host>/?shopid=…`): `auth_success` or `auth_failed` first (a failed
//! socket is then closed), the text `ping` is accepted (answered only when configured), and every
//! market event is pushed to every authenticated socket.
//!
//! A switch takes the socket server down (`Sandbox::set_websocket_up`, `POST /sandbox/websocket
//! {"up":false}`): every socket is cut without a closing handshake and new ones are refused with
//! 503 until it is up again — what a client sees when the upstream socket server dies.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;
use tokio::time::Instant;

use super::shared::{stopped, Shared};
use crate::signature::websocket_signature;

/// Whether the socket server is up (the admin switch); sessions watch it.
#[derive(Debug)]
pub(crate) struct Gate(watch::Sender<bool>);

impl Gate {
    pub(crate) fn new() -> Gate {
        Gate(watch::Sender::new(true))
    }

    pub(crate) fn set(&self, up: bool) {
        tracing::info!(target: "sandbox", up, "websocket server switched");
        self.0.send_replace(up);
    }

    pub(crate) fn is_up(&self) -> bool {
        *self.0.borrow()
    }

    fn down(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.0.subscribe();
        async move {
            let _ = rx.wait_for(|up| !*up).await;
        }
    }
}

pub async fn handle(
    ws: WebSocketUpgrade,
    Query(q): Query<HashMap<String, String>>,
    State(app): State<Arc<Shared>>,
) -> Response {
    if !app.ws_gate.is_up() {
        return (StatusCode::SERVICE_UNAVAILABLE, "websocket server down (sandbox switch)").into_response();
    }
    ws.on_upgrade(move |socket| run(socket, app, q))
}

/// `GET /sandbox/websocket` → `{"up":true}`; `POST` the same to switch.
pub(crate) async fn gate(State(app): State<Arc<Shared>>) -> Json<Value> {
    Json(json!({ "up": app.ws_gate.is_up() }))
}

#[derive(serde::Deserialize)]
pub(crate) struct SetGate {
    up: bool,
}

pub(crate) async fn set_gate(State(app): State<Arc<Shared>>, Json(req): Json<SetGate>) -> Json<Value> {
    app.ws_gate.set(req.up);
    Json(json!({ "up": app.ws_gate.is_up() }))
}

async fn run(mut socket: WebSocket, app: Arc<Shared>, q: HashMap<String, String>) {
    let (authorized, ping_reply, idle_timeout, mut events) = {
        let st = app.lock();
        let expected = websocket_signature(&st.shop_id, &st.secret);
        let ok = q.get("shopid").map(|s| s.trim()) == Some(st.shop_id.as_str())
            && q.get("signature").is_some_and(|s| s.trim().eq_ignore_ascii_case(&expected));
        // Subscribe before saying auth_success, so no event after it can be missed.
        (ok, st.ws_ping_reply.clone(), st.ws_idle_timeout, st.hub.subscribe())
    };
    if !authorized {
        tracing::info!(target: "sandbox", "websocket auth failed");
        let _ = socket.send(Message::Text(r#"{"event":"auth_failed"}"#.into())).await;
        let _ = socket.send(Message::Close(None)).await;
        return;
    }
    tracing::info!(target: "sandbox", "websocket connected");
    if socket.send(Message::Text(r#"{"event":"auth_success"}"#.into())).await.is_err() {
        return;
    }
    let idle = tokio::time::sleep(idle_timeout.unwrap_or(Duration::from_secs(86_400)));
    tokio::pin!(idle);
    let killed = app.ws_gate.down();
    tokio::pin!(killed);
    loop {
        tokio::select! {
            msg = socket.recv() => {
                if let (Some(t), Some(Ok(_))) = (idle_timeout, &msg) {
                    idle.as_mut().reset(Instant::now() + t);
                }
                match msg {
                Some(Ok(Message::Text(t))) if t.trim() == "ping" => {
                    if let Some(reply) = &ping_reply {
                        if socket.send(Message::Text(reply.as_str().into())).await.is_err() {
                            break;
                        }
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
                }
            },
            _ = &mut idle, if idle_timeout.is_some() => {
                tracing::info!(target: "sandbox", "websocket idle, closing");
                break;
            }
            ev = events.recv() => match ev {
                Ok(frame) => {
                    if socket.send(Message::Text(frame.as_ref().into())).await.is_err() {
                        break;
                    }
                }
                Err(RecvError::Lagged(n)) => tracing::warn!(target: "sandbox", skipped = n, "websocket client too slow, events skipped"),
                Err(RecvError::Closed) => break,
            },
            _ = stopped(app.shutdown.clone()) => break,
            _ = &mut killed => {
                // Cut, not closed: no closing handshake, as when the server process dies.
                tracing::info!(target: "sandbox", "websocket cut (server switched down)");
                return;
            }
        }
    }
    let _ = socket.send(Message::Close(None)).await;
}
