//! The front end's own counters and gauges, kept by
//! metrics-exporter-prometheus's recorder (not installed as the process's
//! global recorder: each [`crate::Front`] has its own, so that tests can
//! run several in one process) and rendered in the Prometheus text format
//! by [`FrontMetrics::render`].
//!
//! Each listener gets its handles once, when its runtime is built (start
//! and SIGHUP): on the handshake path a counter is one atomic add, with
//! no name look-up and no lock.

use std::sync::Arc;

use metrics::{Counter, Gauge, Key, Label, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

/// `mailcert_tls_handshakes_total{listener, result="ok|failed"}`.
pub const HANDSHAKES: &str = "mailcert_tls_handshakes_total";
/// `mailcert_tls_handshake_failures_total{listener, reason}`.
pub const HANDSHAKE_FAILURES: &str = "mailcert_tls_handshake_failures_total";
/// `mailcert_connections{listener}`: open now.
pub const CONNECTIONS: &str = "mailcert_connections";
/// `mailcert_backend_errors_total{listener}`.
pub const BACKEND_ERRORS: &str = "mailcert_backend_errors_total";

/// Why a TLS handshake failed, as the `reason` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HandshakeFailure {
    /// The client refused the certificate: its issuer is not one it
    /// trusts (alert `unknown_ca`; OpenSSL and Python send it for an
    /// untrusted chain or a missing intermediate).
    UnknownCa,
    /// The client refused the certificate (alert `bad_certificate`).
    BadCertificate,
    /// The client says the certificate is expired (alert `certificate_expired`).
    CertificateExpired,
    /// The client refused the certificate for another reason, such as a
    /// name mismatch (alert `certificate_unknown`, what Java and Go send).
    CertificateUnknown,
    /// Another alert from the client.
    OtherAlert,
    /// The client offered no cipher suite, key exchange group or
    /// signature scheme the front end accepts.
    NoSharedCipher,
    /// The client offered no version the front end accepts (TLS 1.2+).
    NoSharedVersion,
    /// The client did not finish within the listener's handshake_timeout.
    Timeout,
    /// The client closed the connection in the middle of the handshake.
    Closed,
    /// Anything else (not TLS at all, a broken message).
    Other,
}

impl HandshakeFailure {
    pub const ALL: [HandshakeFailure; 10] = [
        HandshakeFailure::UnknownCa,
        HandshakeFailure::BadCertificate,
        HandshakeFailure::CertificateExpired,
        HandshakeFailure::CertificateUnknown,
        HandshakeFailure::OtherAlert,
        HandshakeFailure::NoSharedCipher,
        HandshakeFailure::NoSharedVersion,
        HandshakeFailure::Timeout,
        HandshakeFailure::Closed,
        HandshakeFailure::Other,
    ];

    /// The `reason` label.
    pub fn as_str(self) -> &'static str {
        match self {
            HandshakeFailure::UnknownCa => "unknown_ca",
            HandshakeFailure::BadCertificate => "bad_certificate",
            HandshakeFailure::CertificateExpired => "certificate_expired",
            HandshakeFailure::CertificateUnknown => "certificate_unknown",
            HandshakeFailure::OtherAlert => "other_alert",
            HandshakeFailure::NoSharedCipher => "no_shared_cipher",
            HandshakeFailure::NoSharedVersion => "no_shared_version",
            HandshakeFailure::Timeout => "timeout",
            HandshakeFailure::Closed => "closed",
            HandshakeFailure::Other => "other",
        }
    }

    /// The reason behind an error of tokio-rustls's acceptor: rustls's
    /// error travels inside the `io::Error`.
    pub fn of_io(error: &std::io::Error) -> HandshakeFailure {
        if let Some(tls) = error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return HandshakeFailure::of_tls(tls);
        }
        match error.kind() {
            std::io::ErrorKind::UnexpectedEof
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::BrokenPipe => HandshakeFailure::Closed,
            std::io::ErrorKind::TimedOut => HandshakeFailure::Timeout,
            _ => HandshakeFailure::Other,
        }
    }

    pub fn of_tls(error: &rustls::Error) -> HandshakeFailure {
        use rustls::{AlertDescription as Alert, PeerIncompatible as Peer};
        match error {
            rustls::Error::AlertReceived(alert) => match alert {
                Alert::UnknownCA => HandshakeFailure::UnknownCa,
                Alert::BadCertificate | Alert::UnsupportedCertificate => {
                    HandshakeFailure::BadCertificate
                }
                Alert::CertificateExpired => HandshakeFailure::CertificateExpired,
                Alert::CertificateUnknown | Alert::CertificateRevoked => {
                    HandshakeFailure::CertificateUnknown
                }
                Alert::ProtocolVersion => HandshakeFailure::NoSharedVersion,
                _ => HandshakeFailure::OtherAlert,
            },
            rustls::Error::PeerIncompatible(why) => match why {
                Peer::NoCipherSuitesInCommon
                | Peer::NoKxGroupsInCommon
                | Peer::NoSignatureSchemesInCommon
                | Peer::NoEcPointFormatsInCommon => HandshakeFailure::NoSharedCipher,
                // signature_algorithms is required from TLS 1.2 on: a
                // hello without it comes from a TLS 1.0/1.1 client.
                Peer::SupportedVersionsExtensionRequired
                | Peer::SignatureAlgorithmsExtensionRequired
                | Peer::Tls12NotOffered
                | Peer::Tls12NotOfferedOrEnabled => HandshakeFailure::NoSharedVersion,
                _ => HandshakeFailure::Other,
            },
            _ => HandshakeFailure::Other,
        }
    }
}

/// The handles of one listener.
#[derive(Clone)]
pub struct ListenerMetrics {
    handshakes_ok: Counter,
    handshakes_failed: Counter,
    failures: Arc<[Counter; HandshakeFailure::ALL.len()]>,
    connections: Gauge,
    backend_errors: Counter,
}

impl ListenerMetrics {
    pub fn handshake_ok(&self) {
        self.handshakes_ok.increment(1);
    }

    pub fn handshake_failed(&self, reason: HandshakeFailure) {
        self.handshakes_failed.increment(1);
        let index = HandshakeFailure::ALL
            .iter()
            .position(|r| *r == reason)
            .unwrap_or(HandshakeFailure::ALL.len() - 1);
        self.failures[index].increment(1);
    }

    pub fn backend_error(&self) {
        self.backend_errors.increment(1);
    }

    /// Counts the connection as open until the guard is dropped.
    pub fn connection(&self) -> OpenConnection {
        self.connections.increment(1.0);
        OpenConnection(self.connections.clone())
    }
}

/// An open connection in `mailcert_connections`.
pub struct OpenConnection(Gauge);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// The front end's metrics.
pub struct FrontMetrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

impl std::fmt::Debug for FrontMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FrontMetrics")
    }
}

impl Default for FrontMetrics {
    fn default() -> Self {
        FrontMetrics::new()
    }
}

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

impl FrontMetrics {
    pub fn new() -> FrontMetrics {
        let recorder = PrometheusBuilder::new().build_recorder();
        let describe = |name: &'static str, unit: Option<Unit>, text: &'static str| {
            recorder.describe_counter(name.into(), unit, SharedString::const_str(text));
        };
        describe(
            HANDSHAKES,
            None,
            "TLS handshakes by listener and result (ok, failed).",
        );
        describe(
            HANDSHAKE_FAILURES,
            None,
            "Failed TLS handshakes by listener and reason (the client's alert, no shared cipher or version, timeout, closed, other).",
        );
        recorder.describe_gauge(
            CONNECTIONS.into(),
            None,
            SharedString::const_str("Client connections open now, by listener."),
        );
        describe(
            BACKEND_ERRORS,
            None,
            "Connections whose backend could not be reached or did not answer, by listener.",
        );
        let handle = recorder.handle();
        FrontMetrics { recorder, handle }
    }

    /// The handles of listener `name`; the same counters every time for
    /// the same name (a SIGHUP keeps the counts). Every series of the
    /// listener exists from now on, at zero, so that `rate()` has a start.
    pub fn listener(&self, name: &str) -> ListenerMetrics {
        let counter = |metric: &'static str, labels: Vec<Label>| {
            self.recorder
                .register_counter(&Key::from_parts(metric, labels), &METADATA)
        };
        let listener = || Label::new("listener", name.to_string());
        let result = |value: &'static str| vec![listener(), Label::new("result", value)];
        let failures = HandshakeFailure::ALL.map(|reason| {
            counter(
                HANDSHAKE_FAILURES,
                vec![listener(), Label::new("reason", reason.as_str())],
            )
        });
        ListenerMetrics {
            handshakes_ok: counter(HANDSHAKES, result("ok")),
            handshakes_failed: counter(HANDSHAKES, result("failed")),
            failures: Arc::new(failures),
            connections: self
                .recorder
                .register_gauge(&Key::from_parts(CONNECTIONS, vec![listener()]), &METADATA),
            backend_errors: counter(BACKEND_ERRORS, vec![listener()]),
        }
    }

    /// The counters and gauges in the Prometheus text format.
    pub fn render(&self) -> String {
        self.handle.render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_render_with_their_labels() {
        let metrics = FrontMetrics::new();
        let imaps = metrics.listener("imaps");
        imaps.handshake_ok();
        imaps.handshake_ok();
        imaps.handshake_failed(HandshakeFailure::UnknownCa);
        let open = imaps.connection();
        // A second handle for the same listener shares the counts.
        metrics.listener("imaps").backend_error();
        let text = metrics.render();
        for line in [
            "mailcert_tls_handshakes_total{listener=\"imaps\",result=\"ok\"} 2",
            "mailcert_tls_handshakes_total{listener=\"imaps\",result=\"failed\"} 1",
            "mailcert_tls_handshake_failures_total{listener=\"imaps\",reason=\"unknown_ca\"} 1",
            "mailcert_tls_handshake_failures_total{listener=\"imaps\",reason=\"timeout\"} 0",
            "mailcert_connections{listener=\"imaps\"} 1",
            "mailcert_backend_errors_total{listener=\"imaps\"} 1",
            "# TYPE mailcert_tls_handshakes_total counter",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        drop(open);
        assert!(metrics
            .render()
            .contains("mailcert_connections{listener=\"imaps\"} 0"));
    }

    #[test]
    fn client_alerts_and_incompatibilities_have_their_reason() {
        use rustls::{AlertDescription, Error, PeerIncompatible};
        let io = |e: Error| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
        let cases = [
            (
                io(Error::AlertReceived(AlertDescription::UnknownCA)),
                "unknown_ca",
            ),
            (
                io(Error::AlertReceived(AlertDescription::BadCertificate)),
                "bad_certificate",
            ),
            (
                io(Error::PeerIncompatible(
                    PeerIncompatible::NoCipherSuitesInCommon,
                )),
                "no_shared_cipher",
            ),
            (
                io(Error::PeerIncompatible(PeerIncompatible::Tls12NotOffered)),
                "no_shared_version",
            ),
            (
                std::io::Error::from(std::io::ErrorKind::UnexpectedEof),
                "closed",
            ),
            (io(Error::General("x".into())), "other"),
        ];
        for (error, reason) in cases {
            assert_eq!(HandshakeFailure::of_io(&error).as_str(), reason, "{error}");
        }
    }
}
