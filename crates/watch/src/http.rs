//! The small plain-HTTP server behind `/metrics` and `/probe`: HTTP/1.1
//! through hyper, GET and HEAD only, a bound on connections served at
//! once and on the time a client takes to send its request head, so that
//! a slow or silent client cannot hold the endpoint.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use tokio::net::TcpListener;

/// Connections served at once; more wait in the kernel's backlog.
pub const MAX_CONNECTIONS: usize = 64;
/// For the request head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// A response: status, content type, body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: String,
}

impl Answer {
    pub fn text(status: StatusCode, body: impl Into<String>) -> Answer {
        let mut body = body.into();
        if !body.ends_with('\n') {
            body.push('\n');
        }
        Answer {
            status,
            content_type: "text/plain; charset=utf-8",
            body,
        }
    }

    pub fn metrics(body: String) -> Answer {
        Answer {
            status: StatusCode::OK,
            content_type: crate::exposition::CONTENT_TYPE,
            body,
        }
    }
}

/// What a request asks: its path, its query string, and the scrape
/// timeout Prometheus announces in `X-Prometheus-Scrape-Timeout-Seconds`.
#[derive(Debug, Clone)]
pub struct Asked {
    pub path: String,
    pub query: String,
    pub scrape_timeout: Option<f64>,
}

pub type Handler = Arc<dyn Fn(Asked) -> Pin<Box<dyn Future<Output = Answer> + Send>> + Send + Sync>;

/// Serves `handler` on `listener` until the runtime stops.
pub async fn serve(listener: TcpListener, what: &'static str, handler: Handler) {
    let limits = mailcert_httpd::Limits {
        max_connections: MAX_CONNECTIONS,
        head_timeout: HEAD_TIMEOUT,
        max_head: 16 * 1024,
    };
    let respond = move |request, _peer| respond(request, handler.clone());
    mailcert_httpd::serve(listener, what, limits, mailcert_httpd::plain, respond).await;
}

/// Binds `addr` for `what`, with the error people need.
pub fn bind(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

async fn respond(request: Request<Incoming>, handler: Handler) -> Response<Full<Bytes>> {
    let head = request.method() == Method::HEAD;
    let answer = if request.method() != Method::GET && !head {
        Answer::text(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET and HEAD are answered here",
        )
    } else {
        let scrape_timeout = request
            .headers()
            .get("x-prometheus-scrape-timeout-seconds")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v > 0.0);
        let asked = Asked {
            path: request.uri().path().to_string(),
            query: request.uri().query().unwrap_or_default().to_string(),
            scrape_timeout,
        };
        handler(asked).await
    };
    let length = answer.body.len();
    let body = if head {
        Bytes::new()
    } else {
        Bytes::from(answer.body)
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = answer.status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(answer.content_type),
    );
    headers.insert(header::CONTENT_LENGTH, header::HeaderValue::from(length));
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    if answer.status == StatusCode::METHOD_NOT_ALLOWED {
        headers.insert(header::ALLOW, header::HeaderValue::from_static("GET, HEAD"));
    }
    response
}
