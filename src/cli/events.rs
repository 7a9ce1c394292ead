//! `skinbot events`: prints the websocket events of a SkinsBack project (the sandbox's or the live
//! one's) as they arrive — purchases, offer status changes, balance changes.

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::engine::events;

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
    let url = url::Url::parse(&args.url).with_context(|| format!("`{}` is not a websocket URL", args.url))?;
    // The engine's own handshake: the signature, then the server's auth_success (an auth_failed
    // is an error that says so).
    let mut ws = events::connect(&url, &args.shop_id, &args.secret).await?;
    out!(r#"{{"event":"auth_success"}}"#);
    let mut keepalive = tokio::time::interval(events::PING_EVERY);
    keepalive.tick().await;
    let mut seen = 1usize;
    if args.count.is_some_and(|n| seen >= n) {
        return Ok(());
    }
    loop {
        tokio::select! {
            msg = ws.next() => match msg {
                Some(Ok(Message::Text(text))) => {
                    out!("{text}");
                    if events::Frame::parse(&text) == events::Frame::AuthFailed {
                        anyhow::bail!("{}", events::EventsError::AuthFailed);
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
                ws.send(Message::Text(events::PING.into())).await.context("failed to send the keep-alive ping")?;
            }
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}
