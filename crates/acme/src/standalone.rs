//! Temporary listeners for orders placed without a running front end:
//! a plain HTTP listener for HTTP-01 and a TLS listener that speaks only
//! `acme-tls/1` for TLS-ALPN-01. Both serve a [`ChallengeBoard`] and stop
//! when dropped.

use std::net::SocketAddr;
use std::time::Duration;

use mailcert_challenge::{acme_only_server_config, read_head, HeadRead};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::challenge::{
    BoxFuture, ChallengeAnswer, ChallengeBoard, ChallengeKind, ChallengeResponder, ChallengeSink,
};
use crate::error::{AcmeError, Result};

/// Default address of the temporary HTTP-01 listener.
pub const DEFAULT_HTTP_BIND: &str = "0.0.0.0:80";
/// Default address of the temporary TLS-ALPN-01 listener.
pub const DEFAULT_TLS_BIND: &str = "0.0.0.0:443";

/// How long a validator may take for its TLS-ALPN-01 handshake.
const HANDSHAKE_TIMEOUT: Duration = mailcert_challenge::http::HEAD_TIMEOUT;

/// A temporary listener answering one challenge type from its board.
pub struct Standalone {
    kind: ChallengeKind,
    board: ChallengeBoard,
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Standalone {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn parse_bind(bind: &str, kind: &'static str, option: &'static str) -> Result<SocketAddr> {
    bind.parse().map_err(|_| {
        AcmeError::BadInput(format!(
            "{option} '{bind}' is not an address with a port, such as 0.0.0.0:80 or [::]:80 ({kind})"
        ))
    })
}

async fn bind_listener(
    addr: SocketAddr,
    kind: &'static str,
    option: &'static str,
) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| AcmeError::Listen {
            addr: addr.to_string(),
            kind,
            option,
            reason: e.to_string(),
            in_use: e.kind() == std::io::ErrorKind::AddrInUse,
        })
}

impl Standalone {
    /// Starts the HTTP-01 listener on `bind` (e.g. `0.0.0.0:80`).
    pub async fn http01(bind: &str) -> Result<Standalone> {
        let addr = parse_bind(bind, "http-01", "--http-bind")?;
        let listener = bind_listener(addr, "http-01", "--http-bind").await?;
        let addr = listener.local_addr().unwrap_or(addr);
        let board = ChallengeBoard::new();
        let served = board.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let board = served.clone();
                tokio::spawn(async move {
                    let _ = serve_http01(stream, &board).await;
                });
            }
        });
        Ok(Standalone {
            kind: ChallengeKind::Http01,
            board,
            addr,
            task,
        })
    }

    /// Starts the TLS-ALPN-01 listener on `bind` (e.g. `0.0.0.0:443`).
    pub async fn tls_alpn01(bind: &str) -> Result<Standalone> {
        let addr = parse_bind(bind, "tls-alpn-01", "--tls-bind")?;
        let listener = bind_listener(addr, "tls-alpn-01", "--tls-bind").await?;
        let addr = listener.local_addr().unwrap_or(addr);
        let board = ChallengeBoard::new();
        let config = acme_only_server_config(board.clone())?;
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let accepted =
                        tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await;
                    if let Ok(Ok(mut tls)) = accepted {
                        // The validator only needs the handshake.
                        let _ = tls.shutdown().await;
                    }
                });
            }
        });
        Ok(Standalone {
            kind: ChallengeKind::TlsAlpn01,
            board,
            addr,
            task,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn board(&self) -> &ChallengeBoard {
        &self.board
    }
}

impl ChallengeResponder for Standalone {
    fn kind(&self) -> ChallengeKind {
        self.kind
    }

    fn publish<'a>(&'a self, answer: &'a ChallengeAnswer) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move { self.board.publish(answer) })
    }

    fn withdraw<'a>(&'a self, answer: &'a ChallengeAnswer) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.board.withdraw(answer);
            Ok(())
        })
    }
}

/// Answers one HTTP request: the key authorization for a known token,
/// 404 for anything else. The head is read as the front end's plain HTTP
/// listener reads it.
async fn serve_http01(mut stream: TcpStream, board: &ChallengeBoard) -> std::io::Result<()> {
    let HeadRead::Complete(head) = read_head(&mut stream).await else {
        return write_response(&mut stream, "400 Bad Request", "").await;
    };
    let method = head.method.as_str();
    if method != "GET" && method != "HEAD" {
        return write_response(&mut stream, "405 Method Not Allowed", "").await;
    }
    match head.http01(board) {
        Some(body) if method == "GET" => write_response(&mut stream, "200 OK", &body).await,
        Some(_) => write_response(&mut stream, "200 OK", "").await,
        None => write_response(&mut stream, "404 Not Found", "").await,
    }
}

async fn write_response(stream: &mut TcpStream, status: &str, body: &str) -> std::io::Result<()> {
    let text = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(text.as_bytes()).await?;
    stream.shutdown().await
}
