//! `skinbot events`: prints the websocket events of a SkinsBack project (the sandbox's or the live
//! one's) as they arrive — purchases, offer status changes, balance changes.

use std::time::Duration;

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::signature::websocket_signature;

#[derive(Debug, clap::Args)]
pub struct EventsArgs {
    /// Websocket URL, as `skinbot sandbox` prints it (live: wss://skinsback.com/ws/).
    #[arg(long, default_value = "ws://127.0.0.1:8790/ws/")]
    pub url: String,
    /// The project's Client ID.
    #[arg(long, default_value = "1490")]
    pub shop_id: String,
    /// The project's secret (default: the sandbox's).
    #[arg(
        long,
        env = "SKINBOT_SECRET",
        default_value = "sandbox-secret",
        hide_env_values = true,
        hide_default_value = true
    )]
    pub secret: String,
    /// Stop after this many events (default: until Ctrl-C).
    #[arg(long)]
    pub count: Option<usize>,
}

pub async fn run(args: EventsArgs) -> anyhow::Result<()> {
    let signature = websocket_signature(&args.shop_id, &args.secret);
    let sep = if args.url.contains('?') { '&' } else { '?' };
    let url = format!("{}{sep}shopid={}&signature={signature}", args.url, args.shop_id);
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .with_context(|| format!("failed to connect to {}", args.url))?;
    let mut keepalive = tokio::time::interval(Duration::from_secs(30));
    keepalive.tick().await;
    let mut seen = 0usize;
    loop {
        tokio::select! {
            msg = ws.next() => match msg {
                Some(Ok(Message::Text(text))) => {
                    out!("{text}");
                    if text.contains("\"auth_failed\"") {
                        anyhow::bail!("the server refused the signature (check --shop-id and the secret)");
                    }
                    seen += 1;
                    if args.count.is_some_and(|n| seen >= n) {
                        return Ok(());
                    }
                }
                Some(Ok(Message::Close(_))) | None => {
                    out!("connection closed by the server");
                    return Ok(());
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e).context("websocket error"),
            },
            _ = keepalive.tick() => {
                // The documented keep-alive: a text frame `ping` every 30 s.
                ws.send(Message::Text("ping".into())).await.context("failed to send the keep-alive ping")?;
            }
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}
