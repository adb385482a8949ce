//! Answering challenges through a running `serve` from another process
//! (`mailcert acme order`, `mailcert acme renew` from cron) when `serve`
//! holds the challenge ports.
//!
//! The front end reads HTTP-01 answers from the store's named values
//! `acme.http-01.<token>` (the key authorization) at each store change,
//! within about a second. [`StoreResponder`] writes them there, checks
//! through the front end's own listener that the answer is served before
//! telling the CA, and removes them afterwards. TLS-ALPN-01 answers carry
//! a private key and are only handed over in process (see
//! [`crate::serve`]).

use std::net::SocketAddr;
use std::time::Duration;

use mailcert_store::{Change, Op, SqliteStore, Store, StoreLocation};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::challenge::{
    BoxFuture, ChallengeAnswer, ChallengeKind, ChallengeResponder, HTTP01_PREFIX,
};
use crate::error::{AcmeError, Result};

/// Named-value prefix the front end reads HTTP-01 answers from.
pub const STORE_HTTP01_PREFIX: &str = "acme.http-01.";

/// How long to wait for the front end to serve a published answer.
pub const PICKUP_TIMEOUT: Duration = Duration::from_secs(15);

/// Publishes HTTP-01 answers in the store for a running `serve`.
pub struct StoreResponder {
    pub location: StoreLocation,
    pub user: String,
    /// The front end's plain HTTP listener, to check the answer is served.
    pub probe: SocketAddr,
}

impl StoreResponder {
    fn apply(&self, action: &str, line: String, op: Op) -> Result<()> {
        let mut store = SqliteStore::open(&self.location)?;
        let mut change = Change::new(action, self.user.clone());
        change.describe(line);
        change.push(op);
        store.apply(change)?;
        Ok(())
    }

    async fn wait_until_served(&self, answer: &ChallengeAnswer) -> Result<()> {
        let deadline = tokio::time::Instant::now() + PICKUP_TIMEOUT;
        let mut last = String::new();
        while tokio::time::Instant::now() < deadline {
            match probe(self.probe, &answer.token).await {
                Ok(body) if body.trim() == answer.key_authorization => return Ok(()),
                Ok(body) => {
                    last = format!(
                        "it answered {:?}",
                        body.chars().take(80).collect::<String>()
                    )
                }
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(AcmeError::Listen {
            addr: self.probe.to_string(),
            kind: "http-01",
            option: "--http-bind",
            reason: format!(
                "the port is taken, and the front end there did not serve the answer published in the store within {} s ({last}); is `mailcert serve` running on this store with a plain HTTP listener on that port?",
                PICKUP_TIMEOUT.as_secs()
            ),
            in_use: true,
        })
    }
}

impl ChallengeResponder for StoreResponder {
    fn kind(&self) -> ChallengeKind {
        ChallengeKind::Http01
    }

    fn publish<'a>(&'a self, answer: &'a ChallengeAnswer) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if answer.kind != ChallengeKind::Http01 {
                return Err(AcmeError::BadInput(format!(
                    "{} answers cannot be handed to a running serve from another process; use http-01 or dns-01",
                    answer.kind
                )));
            }
            self.apply(
                "acme challenge",
                format!(
                    "published the http-01 answer for {} for the front end",
                    answer.name
                ),
                Op::SetValue {
                    key: format!("{STORE_HTTP01_PREFIX}{}", answer.token),
                    value: Some(answer.key_authorization.clone().into_bytes()),
                    secret: false,
                },
            )?;
            self.wait_until_served(answer).await
        })
    }

    fn withdraw<'a>(&'a self, answer: &'a ChallengeAnswer) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.apply(
                "acme challenge",
                format!("withdrew the http-01 answer for {}", answer.name),
                Op::SetValue {
                    key: format!("{STORE_HTTP01_PREFIX}{}", answer.token),
                    value: None,
                    secret: false,
                },
            )
        })
    }
}

/// GETs our own challenge path from the front end, as the CA will.
async fn probe(addr: SocketAddr, token: &str) -> std::io::Result<String> {
    let mut stream =
        tokio::time::timeout(Duration::from_secs(3), tokio::net::TcpStream::connect(addr))
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out")
            })??;
    let request =
        format!("GET {HTTP01_PREFIX}{token} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    tokio::time::timeout(
        Duration::from_secs(3),
        (&mut stream).take(64 * 1024).read_to_end(&mut response),
    )
    .await
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer"))??;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        let status = head.lines().next().unwrap_or("").to_string();
        return Err(std::io::Error::other(format!("it answered {status}")));
    }
    Ok(body.to_string())
}

/// The address to probe for a bind address: a wildcard becomes loopback.
pub fn probe_address(bind: SocketAddr) -> SocketAddr {
    let ip = match bind.ip() {
        std::net::IpAddr::V4(v4) if v4.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(v6) if v6.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        other => other,
    };
    SocketAddr::new(ip, bind.port())
}
