//! `GET /ws/?shopid=…&signature=md5(id+secret)` (reference §6.1): `auth_success` or `auth_failed`
//! first (a failed socket is then closed), the text `ping` is accepted (answered only when
//! configured), and every market event is pushed to every authenticated socket.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::Response;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use super::shared::{stopped, Shared};
use crate::signature::websocket_signature;

pub async fn handle(
    ws: WebSocketUpgrade,
    Query(q): Query<HashMap<String, String>>,
    State(app): State<Arc<Shared>>,
) -> Response {
    ws.on_upgrade(move |socket| run(socket, app, q))
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
        }
    }
    let _ = socket.send(Message::Close(None)).await;
}
