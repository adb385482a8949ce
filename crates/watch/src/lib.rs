//! What mailcert tells monitoring, in the formats it already reads:
//!
//! - [`ServeMetrics`]: `GET /metrics` of `serve` (`[metrics] bind`), the
//!   store's certificates with x509-certificate-exporter's names and
//!   labels (`x509_cert_not_after{thumbprint, subject_CN, issuer_CN,
//!   serial_number, services, status}` …), what each listener serves,
//!   the fleet's drift, ACME renewal state and the front end's counters.
//! - The probe service of `check --listen`: `GET /probe?target=URL` runs
//!   the checker and answers in ssl_exporter's and blackbox_exporter's
//!   names (`ssl_probe_success`, `probe_ssl_earliest_cert_expiry` …),
//!   for hosts on an allow-list only.
//! - The expiry watch of `serve`: at the start and hourly, an event per
//!   certificate in use that nears its end, has ended, or failed to
//!   renew (through `mailcert-events`).
//!
//! Not here: the counters themselves (`mailcert_front::metrics`, on the
//! handshake path), Prometheus rules (`dist/prometheus`).
#![forbid(unsafe_code)]

mod allow;
pub mod expiry;
pub mod exposition;
pub mod http;
pub mod probe;
mod serve_metrics;

use std::net::SocketAddr;
use std::sync::Arc;

pub use allow::AllowList;
pub use probe::ProbeService;
pub use serve_metrics::ServeMetrics;

/// Starts `GET /metrics` on `listener` (bound by the caller, before
/// privileges are dropped) on the runtime of `handle`; returns the
/// address it serves.
pub fn start_metrics(
    handle: &tokio::runtime::Handle,
    listener: std::net::TcpListener,
    metrics: Arc<ServeMetrics>,
) -> std::io::Result<SocketAddr> {
    let addr = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    let _guard = handle.enter();
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let handler: http::Handler = Arc::new(move |asked: http::Asked| {
        let metrics = metrics.clone();
        Box::pin(async move {
            match asked.path.as_str() {
                "/metrics" => {
                    let rendered = tokio::task::spawn_blocking(move || {
                        metrics.render(mailcert_x509::build::now_utc())
                    })
                    .await;
                    match rendered {
                        Ok(text) => http::Answer::metrics(text),
                        Err(e) => http::Answer::text(
                            ::http::StatusCode::INTERNAL_SERVER_ERROR,
                            format!("the scrape failed: {e}"),
                        ),
                    }
                }
                "/" => http::Answer::text(
                    ::http::StatusCode::OK,
                    "mailcert: metrics at /metrics (Prometheus text format)",
                ),
                other => http::Answer::text(
                    ::http::StatusCode::NOT_FOUND,
                    format!("nothing at {other}: the metrics are at /metrics"),
                ),
            }
        })
    });
    handle.spawn(http::serve(listener, "metrics", handler));
    Ok(addr)
}
