//! The plaintext side: connecting to a backend, the PROXY v2 header, and
//! consuming the backend's greeting when the client already had ours.

use std::net::SocketAddr;
use std::time::Duration;

use mailcert_config::Listener;
use mailcert_dialect::{imap, pop3, smtp, LineReader, Protocol};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::proxy::{self, TlsInfo};

/// Why the backend could not take the connection.
#[derive(Debug)]
pub enum BackendError {
    /// Connection refused, unreachable, or a failing write.
    Connect(std::io::Error),
    /// No connection or no greeting within the backend timeout.
    Timeout,
    /// The backend greeted with a refusal: these bytes are its answer.
    Refused(Vec<u8>),
    /// The backend said something that is not the protocol.
    Protocol(String),
}

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BackendError::Connect(e) => write!(f, "cannot connect: {e}"),
            BackendError::Timeout => f.write_str("no answer within the backend timeout"),
            BackendError::Refused(b) => {
                write!(f, "refused: {}", String::from_utf8_lossy(b).trim_end())
            }
            BackendError::Protocol(e) => write!(f, "{e}"),
        }
    }
}

/// Connects to the listener's backend and sends the PROXY v2 header when
/// the listener asks for it.
pub async fn connect(
    listener: &Listener,
    client: SocketAddr,
    local: SocketAddr,
    tls: Option<&TlsInfo>,
) -> Result<TcpStream, BackendError> {
    let timeout = listener.limits.backend_timeout;
    let Some(address) = listener.backend.as_deref() else {
        return Err(BackendError::Connect(std::io::Error::new(
            std::io::ErrorKind::NotConnected,
            "the listener has no backend",
        )));
    };
    let stream = match tokio::time::timeout(timeout, TcpStream::connect(address)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(BackendError::Connect(e)),
        Err(_) => return Err(BackendError::Timeout),
    };
    let _ = stream.set_nodelay(true);
    let mut stream = stream;
    if listener.proxy_protocol {
        let header = proxy::header(client, local, tls);
        stream
            .write_all(&header)
            .await
            .map_err(BackendError::Connect)?;
    }
    Ok(stream)
}

/// Reads lines from the backend until `done` says the answer is complete.
/// Returns the raw bytes of the answer and anything after it.
async fn read_answer(
    stream: &mut TcpStream,
    timeout: Duration,
    mut done: impl FnMut(&str) -> Result<Option<bool>, String>,
) -> Result<(Vec<u8>, bool, Vec<u8>), BackendError> {
    let mut reader = LineReader::new(8192);
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        while let Some(line) = reader
            .next_line()
            .map_err(|e| BackendError::Protocol(e.to_string()))?
        {
            raw.extend_from_slice(&line);
            raw.extend_from_slice(b"\r\n");
            let text = String::from_utf8_lossy(&line);
            match done(&text).map_err(BackendError::Protocol)? {
                Some(ok) => return Ok((raw, ok, reader.into_rest())),
                None => continue,
            }
        }
        let n = match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) => {
                return Err(BackendError::Connect(
                    std::io::ErrorKind::UnexpectedEof.into(),
                ))
            }
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return Err(BackendError::Connect(e)),
            Err(_) => return Err(BackendError::Timeout),
        };
        reader.push(&buf[..n]);
    }
}

/// Reads and checks the backend's greeting; returns bytes that came after
/// it (to forward to the client).
pub async fn consume_greeting(
    stream: &mut TcpStream,
    protocol: Protocol,
    timeout: Duration,
) -> Result<Vec<u8>, BackendError> {
    let mut parser = smtp::ReplyParser::new();
    let (raw, ok, rest) = read_answer(stream, timeout, |line| match protocol {
        Protocol::Imap => match imap::parse_greeting(line) {
            Some(g) => Ok(Some(g.kind == imap::GreetingKind::Ok)),
            None => Err(format!("IMAP backend greeted with \"{line}\"")),
        },
        Protocol::Pop3 => match pop3::parse_status(line) {
            Some(s) => Ok(Some(s.ok)),
            None => Err(format!("POP3 backend greeted with \"{line}\"")),
        },
        Protocol::Smtp => match parser.push_line(line) {
            Ok(Some(reply)) => Ok(Some(reply.code == 220)),
            Ok(None) => Ok(None),
            Err(e) => Err(format!("SMTP backend: {e}")),
        },
    })
    .await?;
    if !ok {
        return Err(BackendError::Refused(raw));
    }
    Ok(rest)
}

/// Sends one SMTP command and reads its reply.
pub async fn smtp_command(
    stream: &mut TcpStream,
    command: &[u8],
    timeout: Duration,
) -> Result<(smtp::Reply, Vec<u8>), BackendError> {
    stream
        .write_all(command)
        .await
        .map_err(BackendError::Connect)?;
    let mut parser = smtp::ReplyParser::new();
    let mut reply = None;
    let (_, _, rest) = read_answer(stream, timeout, |line| match parser.push_line(line) {
        Ok(Some(r)) => {
            reply = Some(r);
            Ok(Some(true))
        }
        Ok(None) => Ok(None),
        Err(e) => Err(format!("SMTP backend: {e}")),
    })
    .await?;
    reply
        .map(|r| (r, rest))
        .ok_or_else(|| BackendError::Protocol("SMTP backend sent no reply".into()))
}

/// Asks an SMTP backend for its `EHLO` extensions, to offer them before
/// TLS. `None` when the backend cannot be asked now.
pub async fn probe_smtp_extensions(listener: &Listener, hostname: &str) -> Option<Vec<String>> {
    let local: SocketAddr = "127.0.0.1:0".parse().ok()?;
    let mut stream = connect(listener, local, local, None).await.ok()?;
    let timeout = listener.limits.backend_timeout;
    consume_greeting(&mut stream, Protocol::Smtp, timeout)
        .await
        .ok()?;
    let (reply, _) = smtp_command(
        &mut stream,
        format!("EHLO {hostname}\r\n").as_bytes(),
        timeout,
    )
    .await
    .ok()?;
    let _ = stream.write_all(b"QUIT\r\n").await;
    reply
        .is_positive()
        .then(|| smtp::Ehlo::from_reply(&reply).extensions)
}
