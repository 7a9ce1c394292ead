//! Serving HTTP within bounds. `axum::serve` accepts every connection, waits forever for a request
//! head (it reads the protocol preface with no timer) and lets a handler buffer any body at any pace:
//! 5,000 silent connections took the ledger endpoint from 17 to 125 MB, and 1,000 slow 1.9 MB bodies
//! took the sandbox to 2 GB. [`serve_bounded`] serves a router with hyper directly, bounded by
//! [`ConnLimits`]: connections at once, time to send a head (also the keep-alive idle time), time and
//! size of a body.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use futures_util::StreamExt;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

/// Bounds for one HTTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    /// Connections served at once (a websocket counts until it closes). Further connections wait in
    /// the kernel's accept queue until one ends; they cost no memory of ours meanwhile.
    pub max_connections: usize,
    /// Time to send a complete request head, counted from the connection's start or from the end of
    /// the previous response: a connection idle for this long is closed.
    pub head_timeout: Duration,
    /// Time to send a whole request body, counted from the end of its head: 408 and the connection
    /// closes. A total, not a per-read timeout, so a trickle cannot hold a connection forever.
    pub body_timeout: Duration,
    /// Largest request head (hyper's read buffer; at least 8 KiB).
    pub max_head_bytes: usize,
    /// Largest request body: a bigger `Content-Length` is refused (413) before any of it is read.
    pub max_body_bytes: usize,
}

impl ConnLimits {
    /// The bot's read-only ledger endpoint: one user's `skinbot ledger` commands, GETs without a
    /// body. Worst case held: 64 × (16 KiB + 4 KiB).
    pub const LEDGER: ConnLimits = ConnLimits {
        max_connections: 64,
        head_timeout: Duration::from_secs(10),
        body_timeout: Duration::from_secs(10),
        max_head_bytes: 16 * 1024,
        max_body_bytes: 4 * 1024,
    };

    /// The metrics endpoint: a Prometheus server or two and a health checker, GETs without a body.
    pub const METRICS: ConnLimits = ConnLimits {
        max_connections: 16,
        head_timeout: Duration::from_secs(10),
        body_timeout: Duration::from_secs(10),
        max_head_bytes: 16 * 1024,
        max_body_bytes: 1024,
    };

    /// The sandbox: the bot's client (a handful of connections), websockets, tests. The largest real
    /// API body (a 100-item batch buy or a 100-id `market_getinfo`) is about 30 KB. Worst case held:
    /// 512 × (64 KiB + 256 KiB) = 160 MiB.
    pub const SANDBOX: ConnLimits = ConnLimits {
        max_connections: 512,
        head_timeout: Duration::from_secs(10),
        body_timeout: Duration::from_secs(10),
        max_head_bytes: 64 * 1024,
        max_body_bytes: 256 * 1024,
    };
}

/// Serves `router` on `listener` within `limits` until `shutdown` resolves; then stops accepting,
/// lets requests in progress finish, closes idle connections, and returns once all have ended.
pub(crate) async fn serve_bounded(
    listener: TcpListener,
    router: Router,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()> + Send,
) {
    let app = router.layer(middleware::from_fn_with_state(limits, bounded_body));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.head_timeout)
        .max_buf_size(limits.max_head_bytes.max(8192));
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    // `true` asks every connection to finish; the sender learns when the last receiver is gone.
    let (stopping, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) if is_per_connection(&e) => continue,
                Err(e) => {
                    // Out of file descriptors or memory: wait rather than spin.
                    tracing::warn!(error = %e, "accept failed; retrying in a second");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                        () = &mut shutdown => break,
                    }
                }
            },
            () = &mut shutdown => break,
        };
        let io = TokioIo::new(Counted { stream, _slot: slot });
        let conn = http.serve_connection(io, TowerToHyperService::new(app.clone())).with_upgrades();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            tokio::pin!(conn);
            let stopped = tokio::select! {
                _ = conn.as_mut() => false,
                _ = stop.wait_for(|s| *s) => true,
            };
            if stopped {
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            }
            drop(stop);
        });
    }
    drop(listener);
    drop(stop_rx);
    let _ = stopping.send(true);
    stopping.closed().await;
}

/// Errors that concern one connection (it went away before we took it), not the listener.
fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionRefused
    )
}

/// Reads the whole body before the handler runs, within the size and time limits; the handler gets
/// it from memory. Buffering costs nothing more here: every handler of ours reads its whole body.
async fn bounded_body(State(limits): State<ConnLimits>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let max = u64::try_from(limits.max_body_bytes).unwrap_or(u64::MAX);
    if body.size_hint().lower() > max {
        return refuse(StatusCode::PAYLOAD_TOO_LARGE, limits);
    }
    let bytes = match tokio::time::timeout(limits.body_timeout, read_body(body, limits.max_body_bytes)).await {
        Err(_) => return refuse(StatusCode::REQUEST_TIMEOUT, limits),
        Ok(Err(status)) => return refuse(status, limits),
        Ok(Ok(bytes)) => bytes,
    };
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

async fn read_body(body: Body, max: usize) -> Result<Bytes, StatusCode> {
    let mut data = body.into_data_stream();
    let mut got = Vec::new();
    while let Some(chunk) = data.next().await {
        let chunk = chunk.map_err(|_| StatusCode::BAD_REQUEST)?;
        if got.len().saturating_add(chunk.len()) > max {
            return Err(StatusCode::PAYLOAD_TOO_LARGE);
        }
        got.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(got))
}

/// The body was not read to its end, so the connection cannot carry another request.
fn refuse(status: StatusCode, limits: ConnLimits) -> Response {
    let why = match status {
        StatusCode::PAYLOAD_TOO_LARGE => format!("request body over {} bytes\n", limits.max_body_bytes),
        StatusCode::REQUEST_TIMEOUT => format!("request body not received within {:?}\n", limits.body_timeout),
        _ => "unreadable request body\n".to_string(),
    };
    (status, [(header::CONNECTION, "close")], why).into_response()
}

/// A connection that holds its slot until the socket is dropped, including after an upgrade to a
/// websocket (hyper's connection future ends at the upgrade; the socket lives on).
struct Counted {
    stream: TcpStream,
    _slot: OwnedSemaphorePermit,
}

impl AsyncRead for Counted {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
