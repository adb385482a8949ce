//! The console's HTTPS server: TLS through rustls with the certificate the
//! front end chooses for an HTTPS listener called `console`, HTTP/1.1
//! through hyper, and in front of every API call the checks that make it
//! safe on a management network — session, CSRF token, body size.
//!
//! Routing is a `match` over a dozen paths (see `api`): no framework sits
//! in the path every request takes through these checks.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use mailcert_store::Change;
use serde::Deserialize;
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::app::{actor, blocking, App, ConsoleSettings};
use crate::reply::{self, ApiError, Body, Reply};
use crate::sessions::{self, Policy, Session, COOKIE_NAME};
use crate::{accounts, api, assets, throttle};

/// Connections served at once; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 256;
/// For the TLS handshake, and for each request's headers.
const READ_TIMEOUT: Duration = Duration::from_secs(15);
/// The largest request head hyper buffers.
const MAX_HEAD: usize = 16 * 1024;

/// Starts serving on `listener` (bound by the caller, before privileges
/// are dropped) on the runtime of `handle`. Returns the address served.
pub fn start(
    handle: &tokio::runtime::Handle,
    listener: std::net::TcpListener,
    resolver: Arc<dyn rustls::server::ResolvesServerCert>,
    settings: ConsoleSettings,
) -> crate::Result<SocketAddr> {
    let mut store = mailcert_store::open(&settings.store)?;
    let cookie_key = sessions::cookie_key(store.as_mut())?;
    drop(store);
    let bind = settings.console.bind.to_string();
    let io = |source: std::io::Error| crate::ConsoleError::Io {
        addr: bind.clone(),
        source,
    };
    let addr = listener.local_addr().map_err(io)?;
    listener.set_nonblocking(true).map_err(io)?;
    let mut tls = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
    .with_no_client_auth()
    .with_cert_resolver(resolver);
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    tls.ignore_client_order = true;
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    let app = Arc::new(App {
        settings,
        cookie_key,
        login_lock: tokio::sync::Mutex::new(()),
    });
    let _guard = handle.enter();
    let listener = TcpListener::from_std(listener).map_err(io)?;
    handle.spawn(accept_loop(listener, acceptor, app));
    Ok(addr)
}

/// The console on the shared HTTP accept loop: each connection's TLS
/// handshake within [`READ_TIMEOUT`], then its requests through [`handle`].
async fn accept_loop(listener: TcpListener, acceptor: TlsAcceptor, app: Arc<App>) {
    let limits = mailcert_httpd::Limits {
        max_connections: MAX_CONNECTIONS,
        head_timeout: READ_TIMEOUT,
        max_head: MAX_HEAD,
    };
    let handshake = move |tcp, peer| {
        let acceptor = acceptor.clone();
        async move {
            match tokio::time::timeout(READ_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => Some(tls),
                Ok(Err(e)) => {
                    tracing::debug!("console: TLS handshake with {peer} failed: {e}");
                    None
                }
                Err(_) => None,
            }
        }
    };
    let respond = move |request, peer| handle(app.clone(), request, peer);
    mailcert_httpd::serve(listener, "console", limits, handshake, respond).await;
}

pub(crate) fn now_secs() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

async fn handle(app: Arc<App>, request: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    if !path.starts_with("/api/") {
        return assets::serve(&method, &path);
    }
    let address = peer.ip().to_string();
    if path == "/api/v1/login" {
        if method != Method::POST {
            return method_not_allowed("POST");
        }
        return match read_json_body(&app, request).await {
            Ok(body) => login(&app, body, address).await,
            Err(e) => reply::error_response(&e),
        };
    }
    let cookie = cookie_of(&request);
    let session = match authenticate(&app, cookie.clone()).await {
        Ok(session) => session,
        Err(e) => {
            let mut response = reply::error_response(&e);
            if cookie.is_some() {
                reply::clear_cookie(&mut response);
            }
            return response;
        }
    };
    let changes = !matches!(method, Method::GET | Method::HEAD);
    if changes {
        if let Err(e) = ensure_csrf(&request, &session) {
            tracing::warn!(
                "console: {} {path} by {} from {address} refused: {}",
                method,
                session.record.user,
                e.error
            );
            return reply::error_response(&e);
        }
    }
    let query = request.uri().query().unwrap_or("").to_string();
    let body = match read_body(&app, request).await {
        Ok(body) => body,
        Err(e) => return reply::error_response(&e),
    };
    if path == "/api/v1/logout" {
        if method != Method::POST {
            return method_not_allowed("POST");
        }
        return logout(&app, session, address).await;
    }
    let context = api::Call {
        method,
        path: path.clone(),
        query,
        body,
        user: session.record.user.clone(),
        csrf: session.record.csrf.clone(),
        address,
    };
    let mut response = match api::dispatch(app.clone(), context).await {
        Ok(reply) => reply::reply_response(reply),
        Err(e) => reply::error_response(&e),
    };
    // Activity: a fresh cookie with this request's time.
    reply::set_cookie(
        &mut response,
        &sessions::cookie_value(&app.cookie_key, &session.token, now_secs()),
    );
    response
}

fn method_not_allowed(allowed: &'static str) -> Response<Body> {
    let mut response = reply::error_response(&ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this method is not allowed here",
        format!("use {allowed}"),
    ));
    response
        .headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static(allowed));
    response
}

fn cookie_of(request: &Request<Incoming>) -> Option<String> {
    request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.to_string())
}

async fn authenticate(app: &Arc<App>, cookie: Option<String>) -> Result<Session, ApiError> {
    let app = app.clone();
    blocking(move || {
        let store = mailcert_store::open(&app.settings.store)?;
        let policy = Policy {
            idle: app.settings.console.idle_timeout.as_secs() as i64,
            lifetime: app.settings.console.session_lifetime.as_secs() as i64,
        };
        match sessions::check(
            store.as_ref(),
            &app.cookie_key,
            cookie.as_deref(),
            now_secs(),
            policy,
        )? {
            Ok(session) => Ok(session),
            Err(refusal) => Err(ApiError::unauthorized(refusal.words())),
        }
    })
    .await
}

/// A state-changing request must carry the session's CSRF token in
/// `X-CSRF-Token` (a page of another site can make the browser send the
/// cookie, never this header), and a browser's `Origin`, when sent, must
/// be this console.
fn ensure_csrf(request: &Request<Incoming>, session: &Session) -> Result<(), ApiError> {
    let forbidden = |why: &str| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            format!("{why}; nothing was changed"),
            "send the csrf_token that the login answered (also at GET /api/v1/session) in the X-CSRF-Token header",
        )
    };
    let sent = request
        .headers()
        .get("x-csrf-token")
        .map(|v| v.as_bytes())
        .ok_or_else(|| forbidden("the request has no X-CSRF-Token header"))?;
    if !bool::from(sent.ct_eq(session.record.csrf.as_bytes())) {
        return Err(forbidden(
            "the X-CSRF-Token header does not match this session's token",
        ));
    }
    if let Some(origin) = request.headers().get(header::ORIGIN) {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        if origin.to_str().ok() != Some(&format!("https://{host}")) {
            return Err(forbidden("the request comes from a page of another site"));
        }
    }
    Ok(())
}

async fn read_body(app: &Arc<App>, request: Request<Incoming>) -> Result<Bytes, ApiError> {
    let limit = app.settings.console.max_upload;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request is larger than the console accepts ({limit} bytes, [console] max_upload; uploaded files count base64-encoded)"),
            "upload a smaller file, or raise max_upload in the [console] table of the configuration and restart mailcert serve",
        )
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    match Limited::new(request.into_body(), limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(e) => Err(ApiError::bad_input(format!(
            "the request body could not be read: {e}"
        ))),
    }
}

async fn read_json_body(
    app: &Arc<App>,
    request: Request<Incoming>,
) -> Result<serde_json::Value, ApiError> {
    // A cross-site form cannot send JSON without a CORS preflight, which
    // this server never grants: the login cannot be forged (login CSRF).
    let json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next() == Some("application/json"));
    if !json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the login must be sent as JSON (Content-Type: application/json)",
            "send {\"user\": \"…\", \"password\": \"…\"} with Content-Type: application/json",
        ));
    }
    let body = read_body(app, request).await?;
    serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_input(format!("the request is not valid JSON: {e}")))
}

#[derive(Deserialize)]
struct Login {
    user: String,
    password: String,
}

async fn login(app: &Arc<App>, body: serde_json::Value, address: String) -> Response<Body> {
    let Ok(Login { user, password }) = serde_json::from_value::<Login>(body) else {
        return reply::error_response(&ApiError::bad_input(
            "the login needs {\"user\", \"password\"}; fix: send both as JSON strings",
        ));
    };
    let _one_at_a_time = app.login_lock.lock().await;
    let work_app = app.clone();
    let outcome = blocking(move || login_blocking(&work_app, &user, &password, &address)).await;
    match outcome {
        Ok((name, token, csrf)) => {
            let mut response = reply::json_response(
                StatusCode::OK,
                &serde_json::json!({
                    "user": name,
                    "csrf_token": csrf,
                    "idle_timeout": app.settings.console.idle_timeout.as_secs(),
                }),
            );
            reply::set_cookie(
                &mut response,
                &sessions::cookie_value(&app.cookie_key, &token, now_secs()),
            );
            response
        }
        Err(e) => reply::error_response(&e),
    }
}

fn login_blocking(
    app: &App,
    user: &str,
    password: &str,
    address: &str,
) -> Result<(String, String, String), ApiError> {
    let mut store = mailcert_store::open(&app.settings.store)?;
    let now = now_ms();
    let max = app.settings.console.max_login_delay.as_millis() as i64;
    let account = accounts::canonical_name(user)
        .ok()
        .map(|name| accounts::user(store.as_ref(), &name).map(|r| r.map(|_| name)))
        .transpose()?
        .flatten();
    // Shown in the audit log as text; bounded so a flood of long names
    // cannot bloat it.
    let shown: String = user.chars().filter(|c| !c.is_control()).take(64).collect();
    if let Some((which, wait_ms)) =
        throttle::must_wait(store.as_ref(), account.as_deref(), address, now, max)?
    {
        let seconds = (wait_ms + 999) / 1000;
        let whose = match which {
            throttle::Throttled::Account => format!("for the account '{shown}'"),
            throttle::Throttled::Address => format!("from {address}"),
        };
        tracing::warn!(
            "console: login as '{shown}' from {address} refused: too many failed logins {whose}"
        );
        let mut error = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many failed logins {whose}: the password was not checked"),
            format!("wait {seconds} seconds, then log in again (an administrator can set a new password with `mailcert console user passwd NAME`)"),
        );
        error.retry_after = Some(seconds as u64);
        return Err(error);
    }
    let good = accounts::verify_password(store.as_ref(), user, password)?;
    let Some(name) = account.clone().filter(|_| good) else {
        let mut change = Change::bookkeeping("console-login-failed", actor(&shown, address));
        let count = throttle::record_failure(
            store.as_ref(),
            account.as_deref(),
            address,
            now,
            &mut change,
        )?;
        change.describe(format!(
            "failed console login as '{shown}' from {address} ({count} in a row)"
        ));
        store.apply(change)?;
        tracing::warn!("console: failed login as '{shown}' from {address} ({count} in a row)");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "wrong user name or password",
            format!(
                "check the user name and the password; after {} failures in a row each attempt waits longer",
                throttle::FREE_FAILURES
            ),
        ));
    };
    let mut change = Change::bookkeeping("console-login", actor(&name, address));
    let (token, csrf) = sessions::open(&name, address, now / 1000, &mut change);
    throttle::record_success(&name, address, &mut change);
    accounts::record_login(store.as_ref(), &name, address, now / 1000, &mut change)?;
    sessions::sweep(
        store.as_ref(),
        now / 1000,
        app.settings.console.session_lifetime.as_secs() as i64,
        &mut change,
    )?;
    change.describe(format!("{name} logged in to the console from {address}"));
    store.apply(change)?;
    Ok((name, token, csrf))
}

async fn logout(app: &Arc<App>, session: Session, address: String) -> Response<Body> {
    let work_app = app.clone();
    let result = blocking(move || {
        let mut store = mailcert_store::open(&work_app.settings.store)?;
        let mut change =
            Change::bookkeeping("console-logout", actor(&session.record.user, &address));
        sessions::close(&session.key, &mut change);
        change.describe(format!("{} logged out of the console", session.record.user));
        store.apply(change)?;
        Ok(Reply::json(serde_json::json!({"logged_out": true})))
    })
    .await;
    let mut response = match result {
        Ok(reply) => reply::reply_response(reply),
        Err(e) => reply::error_response(&e),
    };
    reply::clear_cookie(&mut response);
    response
}
