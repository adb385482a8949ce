//! The accept loop of mailcert's small HTTP/1.1 servers — the web console
//! (over TLS) and the `/metrics` and `/probe` endpoints (plain): hyper on
//! tokio, a bound on the connections served at once (more wait in the
//! kernel's backlog), and bounds on the time and the size of a request
//! head, so that a slow or silent client cannot hold a server.
//!
//! It does no routing and holds no TLS of its own: the caller gives the
//! handshake that turns an accepted TCP stream into the connection HTTP
//! is spoken on ([`plain`] for none) and the function that answers each
//! request.
//!
//! ```no_run
//! # async fn run(listener: tokio::net::TcpListener) {
//! use std::time::Duration;
//! let limits = mailcert_httpd::Limits {
//!     max_connections: 64,
//!     head_timeout: Duration::from_secs(10),
//!     max_head: 16 * 1024,
//! };
//! mailcert_httpd::serve(listener, "metrics", limits, mailcert_httpd::plain, |_request, _peer| async {
//!     http::Response::new(String::from("ok\n"))
//! })
//! .await;
//! # }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::convert::Infallible;
use std::error::Error;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::{Body, Incoming};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// How much a server gives its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
    /// For each request's head (the handshake's own bound is the caller's).
    pub head_timeout: Duration,
    /// The largest request head buffered, bytes.
    pub max_head: usize,
}

/// The handshake of a server without TLS: the TCP stream as it is.
pub async fn plain(tcp: TcpStream, _peer: SocketAddr) -> Option<TcpStream> {
    Some(tcp)
}

/// Serves HTTP/1.1 on `listener` until the runtime stops: each accepted
/// connection goes through `handshake` (`None`: closed, the handshake has
/// said why if it matters), then every request on it is answered by
/// `respond`, which is given the client's address. `what` names the
/// server in the log ("console: accept failed: …").
pub async fn serve<Handshake, Shaking, Io, Respond, Responding, ResponseBody>(
    listener: TcpListener,
    what: &'static str,
    limits: Limits,
    handshake: Handshake,
    respond: Respond,
) where
    Handshake: Fn(TcpStream, SocketAddr) -> Shaking + Clone + Send + 'static,
    Shaking: Future<Output = Option<Io>> + Send + 'static,
    Io: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    Respond: Fn(Request<Incoming>, SocketAddr) -> Responding + Clone + Send + 'static,
    Responding: Future<Output = Response<ResponseBody>> + Send + 'static,
    ResponseBody: Body + Send + 'static,
    ResponseBody::Data: Send,
    ResponseBody::Error: Into<Box<dyn Error + Send + Sync>>,
{
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!("{what}: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let handshake = handshake.clone();
        let respond = respond.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let Some(io) = handshake(tcp, peer).await else {
                return;
            };
            let service = hyper::service::service_fn(move |request| {
                let responding = respond(request, peer);
                async move { Ok::<_, Infallible>(responding.await) }
            });
            let served = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.head_timeout)
                .max_buf_size(limits.max_head)
                .serve_connection(TokioIo::new(io), service)
                .await;
            if let Err(e) = served {
                tracing::debug!("{what}: connection from {peer}: {e}");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const LIMITS: Limits = Limits {
        max_connections: 4,
        head_timeout: Duration::from_secs(10),
        max_head: 16 * 1024,
    };

    /// A plain server answering with the client's address; returns its
    /// address.
    async fn echo_peer() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local address");
        tokio::spawn(serve(
            listener,
            "test",
            LIMITS,
            plain,
            |_request, peer| async move {
                Response::new(http_body_util::Full::new(bytes::Bytes::from(
                    peer.to_string(),
                )))
            },
        ));
        addr
    }

    /// Sends `request` and reads until the server closes (a reset after
    /// a refusal ends the answer too).
    async fn exchange(addr: SocketAddr, request: &[u8]) -> (SocketAddr, String) {
        let mut tcp = TcpStream::connect(addr).await.expect("connect");
        let local = tcp.local_addr().expect("local address");
        tcp.write_all(request).await.expect("write");
        let mut answer = Vec::new();
        let _ = tcp.read_to_end(&mut answer).await;
        (local, String::from_utf8_lossy(&answer).into_owned())
    }

    #[tokio::test]
    async fn each_request_is_answered_with_the_client_address() {
        let addr = echo_peer().await;
        let (client, answer) = exchange(
            addr,
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.ends_with(&client.to_string()), "{answer}");
    }

    #[tokio::test]
    async fn a_head_larger_than_the_limit_is_refused() {
        let addr = echo_peer().await;
        let mut request = b"GET / HTTP/1.1\r\nHost: x\r\nX-Padding: ".to_vec();
        request.extend(std::iter::repeat_n(b'a', 2 * LIMITS.max_head));
        request.extend_from_slice(b"\r\n\r\n");
        let (_, answer) = exchange(addr, &request).await;
        assert!(!answer.contains("200 OK"), "{answer}");
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 431"),
            "{answer}"
        );
    }
}
