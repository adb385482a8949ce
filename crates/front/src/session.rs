//! One client connection: implicit TLS, or the STARTTLS dialogue spoken
//! by the front end itself (and SMTP's plaintext passthrough), then the
//! backend and the pipe.

use std::net::SocketAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use mailcert_config::{Listener, Protocol, TlsMode};
use mailcert_dialect::relay::{ImapRelay, Phase, Pop3Relay, Relay, SmtpRelay};
use mailcert_dialect::{
    self as dialect, Limits, PlainServer, ServerConfig, ServerEvent, ServerMode,
};
use rustls::ServerConnection;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use crate::backend::{self, BackendError};
use crate::challenges::ACME_TLS_ALPN;
use crate::metrics::{HandshakeFailure, ListenerMetrics};
use crate::mta_sts::PolicyHosts;
use crate::pipe::{pipe, PipeEnd};
use crate::proxy::TlsInfo;

/// What a listener needs at run time; rebuilt whole on SIGHUP.
pub struct ListenerRuntime {
    pub listener: Listener,
    pub acceptor: TlsAcceptor,
    /// Greeting FQDN: the listener's `hostname`, else this host's name.
    pub hostname: String,
    /// SMTP: the backend's EHLO extensions, refreshed in the background.
    pub smtp_extensions: Arc<ArcSwap<Vec<String>>>,
    /// HTTPS: the MTA-STS policy hosts answered by the front end itself.
    pub policies: Arc<PolicyHosts>,
    /// HTTPS: the TLS settings for a policy host when the listener offers
    /// more than HTTP/1.1 (h2): the policy is served over HTTP/1.1, so
    /// those clients must not negotiate anything else.
    pub policy_acceptor: Option<TlsAcceptor>,
    /// The listener's counters (`/metrics`).
    pub metrics: ListenerMetrics,
}

/// The dialect of a mail protocol; `None` for HTTPS.
pub fn dialect_protocol(protocol: Protocol) -> Option<dialect::Protocol> {
    match protocol {
        Protocol::Imap => Some(dialect::Protocol::Imap),
        Protocol::Pop3 => Some(dialect::Protocol::Pop3),
        Protocol::Smtp => Some(dialect::Protocol::Smtp),
        Protocol::Https => None,
    }
}

/// Serves one accepted connection to its end.
pub async fn handle(stream: TcpStream, client: SocketAddr, rt: Arc<ListenerRuntime>) {
    let _ = stream.set_nodelay(true);
    let local = match stream.local_addr() {
        Ok(a) => a,
        Err(_) => return,
    };
    let name = rt.listener.name.clone();
    let _open = rt.metrics.connection();
    let result = match (dialect_protocol(rt.listener.protocol), rt.listener.tls) {
        (proto, TlsMode::Implicit) => implicit(stream, client, local, &rt, proto).await,
        (Some(proto), mode) => starttls(stream, client, local, &rt, proto, mode).await,
        (None, _) => Err("https listeners only take implicit TLS".into()),
    };
    match result {
        Ok(end) => tracing::debug!(listener = %name, %client, "connection ended: {end}"),
        Err(why) => tracing::info!(listener = %name, %client, "connection ended: {why}"),
    }
}

fn tls_info(conn: &ServerConnection) -> TlsInfo {
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2",
        _ => "TLS",
    };
    let cipher = conn
        .negotiated_cipher_suite()
        .and_then(|s| s.suite().as_str())
        .unwrap_or("unknown");
    TlsInfo {
        version: version.into(),
        cipher: cipher.into(),
        alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
        sni: conn.server_name().map(str::to_string),
    }
}

type Outcome = Result<String, String>;

async fn handshake(
    stream: TcpStream,
    rt: &ListenerRuntime,
) -> Result<tokio_rustls::server::TlsStream<TcpStream>, String> {
    let deadline = tokio::time::Instant::now() + rt.listener.limits.handshake_timeout;
    // A client that closes before sending a byte (a TCP health check, a
    // port scan) attempted no handshake: it is not counted as a failed one.
    let mut first = [0u8; 1];
    match tokio::time::timeout_at(deadline, stream.peek(&mut first)).await {
        Ok(Ok(0)) | Ok(Err(_)) => return Err("client closed before the TLS handshake".into()),
        Ok(Ok(_)) => {}
        Err(_) => {
            rt.metrics.handshake_failed(HandshakeFailure::Timeout);
            return Err("TLS handshake timed out: the client sent nothing".into());
        }
    }
    match tokio::time::timeout_at(deadline, rt.acceptor.accept(stream)).await {
        Ok(Ok(tls)) => {
            rt.metrics.handshake_ok();
            Ok(tls)
        }
        Ok(Err(e)) => {
            let reason = HandshakeFailure::of_io(&e);
            rt.metrics.handshake_failed(reason);
            Err(format!("TLS handshake failed ({}): {e}", reason.as_str()))
        }
        Err(_) => {
            rt.metrics.handshake_failed(HandshakeFailure::Timeout);
            Err("TLS handshake timed out".into())
        }
    }
}

/// The HTTPS handshake: the listener's settings, or the policy hosts'
/// (HTTP/1.1 only) for a client asking for one of them by SNI.
async fn https_handshake(
    stream: TcpStream,
    rt: &ListenerRuntime,
) -> Result<tokio_rustls::server::TlsStream<TcpStream>, String> {
    let Some(policy_acceptor) = &rt.policy_acceptor else {
        return handshake(stream, rt).await;
    };
    let accepted = async {
        let start =
            tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream)
                .await?;
        let for_policy = start
            .client_hello()
            .server_name()
            .is_some_and(|sni| rt.policies.serves(sni));
        let config = if for_policy {
            policy_acceptor.config().clone()
        } else {
            rt.acceptor.config().clone()
        };
        start.into_stream(config).await
    };
    match tokio::time::timeout(rt.listener.limits.handshake_timeout, accepted).await {
        Ok(Ok(tls)) => Ok(tls),
        Ok(Err(e)) => Err(format!("TLS handshake failed: {e}")),
        Err(_) => Err("TLS handshake timed out".into()),
    }
}

/// The answer a client gets when the backend cannot serve it.
fn unavailable(
    rt: &ListenerRuntime,
    proto: Option<dialect::Protocol>,
    error: &BackendError,
) -> Vec<u8> {
    if let BackendError::Refused(bytes) = error {
        return bytes.clone();
    }
    match proto {
        Some(p) => dialect::unavailable_reply(p, &rt.hostname),
        None => crate::closing::plain(
            502,
            "Bad Gateway",
            "The web server behind this front end is not available; try again later.\n",
        )
        .into_bytes(),
    }
}

/// The backend could not serve the client: it gets the protocol's own
/// answer, and the connection ends with the reason for the log.
async fn backend_failed<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    rt: &ListenerRuntime,
    proto: Option<dialect::Protocol>,
    e: BackendError,
) -> Outcome {
    rt.metrics.backend_error();
    refuse(stream, &unavailable(rt, proto, &e)).await;
    Err(format!(
        "backend {}: {e}",
        rt.listener.backend.as_deref().unwrap_or("(none)")
    ))
}

async fn refuse<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, answer: &[u8]) {
    let _ = stream.write_all(answer).await;
    let _ = stream.flush().await;
    let _ = stream.shutdown().await;
    crate::closing::linger(&mut stream).await;
}

async fn implicit(
    stream: TcpStream,
    client: SocketAddr,
    local: SocketAddr,
    rt: &ListenerRuntime,
    proto: Option<dialect::Protocol>,
) -> Outcome {
    let mut tls = match proto {
        None => https_handshake(stream, rt).await?,
        Some(_) => handshake(stream, rt).await?,
    };
    let info = tls_info(tls.get_ref().1);
    if info.alpn.as_deref() == Some(ACME_TLS_ALPN) {
        let _ = tls.shutdown().await;
        return Ok("TLS-ALPN-01 challenge answered".into());
    }
    if proto.is_none()
        && (rt.listener.backend.is_none()
            || info
                .sni
                .as_deref()
                .is_some_and(|sni| rt.policies.serves(sni)))
    {
        return crate::mta_sts::serve(tls, &rt.policies, info.sni.as_deref()).await;
    }
    let mut backend = match backend::connect(&rt.listener, client, local, Some(&info)).await {
        Ok(b) => b,
        Err(e) => {
            return backend_failed(tls, rt, proto, e).await;
        }
    };
    let Some(proto) = proto else {
        return finish(tls, backend, rt).await;
    };
    // Mail servers speak first: wait for the greeting so a slow or dead
    // backend gets the protocol's own answer, not silence.
    let mut first = vec![0u8; 4096];
    let read =
        tokio::time::timeout(rt.listener.limits.backend_timeout, backend.read(&mut first)).await;
    match read {
        Ok(Ok(n)) if n > 0 => {
            let mut relay = mail_relay(proto, Phase::Tls, rt);
            relay.receive_from_backend(&first[..n]);
            finish_relay(tls, backend, rt, relay).await
        }
        other => {
            let e = match other {
                Err(_) => BackendError::Timeout,
                Ok(Err(e)) => BackendError::Connect(e),
                _ => BackendError::Connect(std::io::ErrorKind::UnexpectedEof.into()),
            };
            backend_failed(tls, rt, Some(proto), e).await
        }
    }
}

/// The relay that carries a mail session after the dialogue.
fn mail_relay(proto: dialect::Protocol, phase: Phase, rt: &ListenerRuntime) -> Box<dyn Relay> {
    let max_line = rt.listener.limits.max_line;
    match proto {
        dialect::Protocol::Smtp => Box::new(SmtpRelay::new(phase, max_line)),
        dialect::Protocol::Imap => Box::new(ImapRelay::new(phase, max_line)),
        dialect::Protocol::Pop3 => Box::new(Pop3Relay::new(phase, max_line)),
    }
}

async fn finish_relay<C: AsyncRead + AsyncWrite + Unpin>(
    client: C,
    backend: TcpStream,
    rt: &ListenerRuntime,
    relay: Box<dyn Relay>,
) -> Outcome {
    let idle = rt.listener.limits.idle_timeout;
    let (end, up, down, answered) = crate::relay::relay(client, backend, relay, idle).await;
    let answered = if answered.is_empty() {
        String::new()
    } else {
        format!(
            "; answered by the front end, not relayed: {}",
            answered.join(", ")
        )
    };
    match end {
        PipeEnd::Closed => Ok(format!("closed ({up} bytes up, {down} down){answered}")),
        PipeEnd::Idle => Err(format!("idle for {idle:?}, closed{answered}")),
        PipeEnd::Error => Ok(format!("reset ({up} bytes up, {down} down){answered}")),
    }
}

async fn finish<C: AsyncRead + AsyncWrite + Unpin>(
    client: C,
    backend: TcpStream,
    rt: &ListenerRuntime,
) -> Outcome {
    let (end, up, down) = pipe(client, backend, rt.listener.limits.idle_timeout).await;
    match end {
        PipeEnd::Closed => Ok(format!("closed ({up} bytes up, {down} down)")),
        PipeEnd::Idle => Err(format!(
            "idle for {:?}, closed",
            rt.listener.limits.idle_timeout
        )),
        PipeEnd::Error => Ok(format!("reset ({up} bytes up, {down} down)")),
    }
}

async fn starttls(
    mut stream: TcpStream,
    client: SocketAddr,
    local: SocketAddr,
    rt: &ListenerRuntime,
    proto: dialect::Protocol,
    mode: TlsMode,
) -> Outcome {
    let limits = &rt.listener.limits;
    let mut config = ServerConfig::new(
        proto,
        rt.hostname.clone(),
        if mode == TlsMode::StarttlsRequired {
            ServerMode::Require
        } else {
            ServerMode::Offer
        },
    );
    config.limits = Limits {
        max_line: limits.max_line,
        max_commands: limits.max_commands,
    };
    if proto == dialect::Protocol::Smtp {
        config.smtp_extensions = rt.smtp_extensions.load().as_ref().clone();
    }
    let mut server = PlainServer::new(config);
    let gone = |_| "client went away".to_string();
    stream.write_all(&server.greeting()).await.map_err(gone)?;
    let mut buf = vec![0u8; 2048];
    // Idle time is bounded per read, and the whole dialogue by three times
    // that: a client trickling one byte at a time cannot stay forever.
    let dialogue_deadline = tokio::time::Instant::now() + limits.pre_tls_timeout * 3;
    let plaintext = loop {
        let mut upgrade = false;
        let mut passthrough = false;
        while let Some(event) = server.next_event() {
            match event {
                ServerEvent::Reply(bytes) => stream.write_all(&bytes).await.map_err(gone)?,
                ServerEvent::Close(bytes, reason) => {
                    refuse(stream, &bytes).await;
                    return Ok(format!("closed before TLS: {reason:?}"));
                }
                ServerEvent::StartTls(bytes) => {
                    stream.write_all(&bytes).await.map_err(gone)?;
                    upgrade = true;
                }
                ServerEvent::Plaintext => passthrough = true,
            }
        }
        if upgrade {
            break false;
        }
        if passthrough {
            break true;
        }
        let until = (tokio::time::Instant::now() + limits.pre_tls_timeout).min(dialogue_deadline);
        let read = tokio::time::timeout_at(until, stream.read(&mut buf)).await;
        match read {
            Ok(Ok(0)) | Ok(Err(_)) => return Ok("client closed before TLS".into()),
            Ok(Ok(n)) => server.receive(&buf[..n]),
            Err(_) => {
                refuse(stream, &server.timeout_reply()).await;
                return Err("idle before TLS, closed".into());
            }
        }
    };
    if plaintext {
        return passthrough(stream, server, client, local, rt).await;
    }
    let upgrade = server.start_tls();
    if upgrade.discarded > 0 {
        tracing::warn!(
            listener = %rt.listener.name, %client,
            "discarded {} bytes the client sent after {} before the TLS handshake (pipelining or command injection)",
            upgrade.discarded, proto.starttls_command()
        );
    }
    let tls = handshake(stream, rt).await?;
    let info = tls_info(tls.get_ref().1);
    let mut backend = match backend::connect(&rt.listener, client, local, Some(&info)).await {
        Ok(b) => b,
        Err(e) => {
            return backend_failed(tls, rt, Some(proto), e).await;
        }
    };
    let rest = match backend::consume_greeting(&mut backend, proto, limits.backend_timeout).await {
        Ok(rest) => rest,
        Err(e) => {
            return backend_failed(tls, rt, Some(proto), e).await;
        }
    };
    let mut relay = mail_relay(proto, Phase::Tls, rt);
    relay.receive_from_backend(&rest);
    finish_relay(tls, backend, rt, relay).await
}

/// SMTP without TLS (port 25, `starttls`): the backend gets the client's
/// EHLO replayed, then everything else as is.
async fn passthrough(
    stream: TcpStream,
    server: PlainServer,
    client: SocketAddr,
    local: SocketAddr,
    rt: &ListenerRuntime,
) -> Outcome {
    let pass = server.into_plaintext();
    let timeout = rt.listener.limits.backend_timeout;
    let proto = Some(dialect::Protocol::Smtp);
    let mut backend = match backend::connect(&rt.listener, client, local, None).await {
        Ok(b) => b,
        Err(e) => {
            return backend_failed(stream, rt, proto, e).await;
        }
    };
    let prepared = async {
        backend::consume_greeting(&mut backend, dialect::Protocol::Smtp, timeout).await?;
        match &pass.replay {
            Some(replay) => backend::smtp_command(&mut backend, replay, timeout)
                .await
                .map(|(_, rest)| rest),
            None => Ok(Vec::new()),
        }
    }
    .await;
    let rest = match prepared {
        Ok(rest) => rest,
        Err(e) => return backend_failed(stream, rt, proto, e).await,
    };
    // Without TLS the relay answers AUTH and STARTTLS itself, whatever
    // comes before them: credentials never reach the backend in plaintext.
    let mut relay = mail_relay(dialect::Protocol::Smtp, Phase::Plaintext, rt);
    relay.receive_from_backend(&rest);
    relay.receive_from_client(&pass.forward);
    finish_relay(stream, backend, rt, relay)
        .await
        .map(|s| format!("plaintext SMTP {s}"))
}
