//! Connection hygiene: at most [`MAX_CONNECTIONS`](crate::limits::MAX_CONNECTIONS) served
//! at once with a clear refusal beyond it, a header-read timeout that also closes idle
//! keep-alive connections, bounded read buffers, and HTTP/2 keep-alive and stream limits.
//!
//! A connection holds one permit of a semaphore for as long as it is open; the acceptor
//! takes it before hyper sees the socket. Without a permit the socket gets a fixed `503`
//! answer (an RFC 6749 `temporarily_unavailable` JSON, `Retry-After: 1`, `Connection:
//! close`) and is closed; over TLS it is closed at once, since a plain-text answer would
//! mean nothing to a TLS client.

use std::future::{ready, Ready};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum_server::accept::Accept;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::limits::{
    H1_MAX_BUF_BYTES, H2_KEEP_ALIVE, H2_MAX_STREAMS, HEADER_READ_TIMEOUT, MAX_CONNECTIONS,
};

/// Refused connections answered at once; beyond it a refused socket is just closed.
const REFUSALS_IN_FLIGHT: usize = 64;
/// How long a refused socket is drained before it closes (so the client reads the answer
/// instead of a reset).
const REFUSAL_LINGER: Duration = Duration::from_secs(1);

/// The connection settings of one mock (builder options, defaults from [`crate::limits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConnSettings {
    pub(crate) max_connections: usize,
    pub(crate) header_read_timeout: Duration,
}

impl Default for ConnSettings {
    fn default() -> Self {
        ConnSettings {
            max_connections: MAX_CONNECTIONS,
            header_read_timeout: HEADER_READ_TIMEOUT,
        }
    }
}

impl ConnSettings {
    /// Applies the timeouts and buffer limits to hyper's connection builder.
    pub(crate) fn configure(&self, b: &mut Builder<TokioExecutor>) {
        b.http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout)
            .max_buf_size(H1_MAX_BUF_BYTES);
        b.http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(H2_KEEP_ALIVE)
            .keep_alive_timeout(H2_KEEP_ALIVE)
            .max_concurrent_streams(H2_MAX_STREAMS);
    }

    /// The acceptor that enforces the connection cap. `plain`: answer refusals in HTTP/1.1.
    pub(crate) fn acceptor(&self, plain: bool) -> LimitAcceptor {
        LimitAcceptor {
            permits: Arc::new(Semaphore::new(self.max_connections)),
            refusals: Arc::new(Semaphore::new(REFUSALS_IN_FLIGHT)),
            max: self.max_connections,
            plain,
        }
    }
}

/// Takes a connection permit for each accepted socket, or refuses the socket.
#[derive(Debug, Clone)]
pub(crate) struct LimitAcceptor {
    permits: Arc<Semaphore>,
    refusals: Arc<Semaphore>,
    max: usize,
    plain: bool,
}

impl<S> Accept<TcpStream, S> for LimitAcceptor {
    type Stream = Counted<TcpStream>;
    type Service = S;
    type Future = Ready<io::Result<(Self::Stream, Self::Service)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        match self.permits.clone().try_acquire_owned() {
            Ok(permit) => {
                // Answers go out in one write; don't hold them back for Nagle.
                let _ = stream.set_nodelay(true);
                ready(Ok((
                    Counted {
                        inner: stream,
                        _permit: permit,
                    },
                    service,
                )))
            }
            Err(_) => {
                self.refuse(stream);
                ready(Err(io::Error::other("connection limit reached")))
            }
        }
    }
}

impl LimitAcceptor {
    fn refuse(&self, mut stream: TcpStream) {
        if !self.plain {
            return;
        }
        let Ok(slot) = self.refusals.clone().try_acquire_owned() else {
            return;
        };
        let answer = refusal(self.max);
        tokio::spawn(async move {
            let _slot = slot;
            // Wait for the request head first (briefly): an answer that arrives before the
            // request is written is an unexpected message to most HTTP clients.
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            let _ = tokio::time::timeout(REFUSAL_LINGER, async {
                while head.len() < 16 * 1024 && !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(n) if n > 0 => head.extend_from_slice(&buf[..n]),
                        _ => return,
                    }
                }
            })
            .await;
            if stream.write_all(answer.as_bytes()).await.is_err() {
                return;
            }
            let _ = stream.shutdown().await;
            // Drain what else the client sent, briefly: closing with unread data would reset
            // the connection and could discard the answer before the client reads it.
            let _ = tokio::time::timeout(REFUSAL_LINGER, async {
                while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
            })
            .await;
        });
    }
}

/// The fixed answer to a connection over the cap.
fn refusal(max: usize) -> String {
    let body = serde_json::json!({
        "error": "temporarily_unavailable",
        "error_description": format!("too many connections: this mock serves at most {max} at once; retry shortly"),
    })
    .to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncache-control: no-store\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// A socket holding its connection permit until it is dropped.
#[derive(Debug)]
pub(crate) struct Counted<T> {
    inner: T,
    _permit: OwnedSemaphorePermit,
}

impl<T: AsyncRead + Unpin> AsyncRead for Counted<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Counted<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_is_a_complete_http_answer_with_an_error_json() {
        let r = refusal(7);
        let (head, body) = r.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["error"], "temporarily_unavailable");
        assert!(v["error_description"]
            .as_str()
            .unwrap()
            .contains("at most 7"));
    }
}
