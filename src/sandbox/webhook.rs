//! Event webhooks (reference §6.2): each event is POSTed as the JSON body `{"event":…,"data":…}`
//! with `Signature: hex(HMAC-SHA256(secret, body))` and `X-SIGN: md5(id + secret)`. One at a time,
//! in event order; a failed delivery is logged and not retried (upstream retry rules are unknown).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::shared::stopped;
use crate::signature::{webhook_signature, websocket_signature};

pub fn spawn(
    url: String,
    shop_id: String,
    secret: String,
    mut rx: mpsc::UnboundedReceiver<Arc<str>>,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let client = match reqwest::Client::builder().timeout(Duration::from_secs(5)).build() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(target: "sandbox", error = %e, "webhook client could not be built; webhooks are off");
                return;
            }
        };
        let x_sign = websocket_signature(&shop_id, &secret);
        loop {
            let frame = tokio::select! {
                f = rx.recv() => match f { Some(f) => f, None => break },
                _ = stopped(shutdown.clone()) => break,
            };
            let body = frame.as_bytes().to_vec();
            let signature = webhook_signature(&body, &secret);
            let sent = client
                .post(&url)
                .header("Content-Type", "application/json")
                .header("Signature", signature)
                .header("X-SIGN", &x_sign)
                .body(body)
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => {
                    tracing::debug!(target: "sandbox", status = %r.status(), "webhook delivered")
                }
                Ok(r) => tracing::warn!(target: "sandbox", status = %r.status(), "webhook refused"),
                Err(e) => tracing::warn!(target: "sandbox", error = %e, "webhook failed"),
            }
        }
    })
}
