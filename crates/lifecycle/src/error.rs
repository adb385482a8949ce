use mailcert_store::StoreError;
use mailcert_x509::{CertError, NameError, Service};
use thiserror::Error;
use time::OffsetDateTime;

/// Why an operation did not happen. Nothing was changed in any case.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LifecycleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Cert(#[from] CertError),
    #[error(transparent)]
    Name(#[from] NameError),
    #[error(transparent)]
    Config(#[from] mailcert_config::ConfigError),
    #[error(
        "no certificate or pending request matches '{0}'; see `mailcert list` for thumbprints"
    )]
    NotFound(String),
    #[error("'{prefix}' matches several certificates; type more of the thumbprint:\n{}", candidates.join("\n"))]
    Ambiguous {
        prefix: String,
        candidates: Vec<String>,
    },
    /// No service could use the certificate: callers (the console's
    /// pre-flight, tests) tell why by [`Unservable`], not by the words.
    #[error("{thumbprint} {why}")]
    Unservable { thumbprint: String, why: Unservable },
    /// DANE's rollover rule: the key would serve SMTP before its TLSA
    /// record is ready. The ACME renewal waits on this case rather than
    /// failing, so it has a variant of its own.
    #[error("DANE: {thumbprint} cannot serve SMTP for {host} yet: the TLSA record of its key ({rdata}) must be seen at every authoritative server for twice its TTL first, and {waiting}. The current certificate keeps serving; the change can be made once the record is ready (`mailcert dane publish` shows each record's state)")]
    DaneNotReady {
        thumbprint: String,
        /// The first host name whose record is not ready.
        host: String,
        /// The record of the key, `3 1 1 HEX`.
        rdata: String,
        /// Boxed, so that this variant is no larger than the others: every
        /// `Result` of the crate, and `AcmeError`, carry this enum.
        waiting: Box<DaneWaiting>,
    },
    /// There are no TLSA records to give for what was asked: the DANE
    /// publisher then has nothing to publish, which is no failure.
    #[error(transparent)]
    NoTlsaRecords(#[from] NoTlsaRecords),
    #[error("{0}")]
    BadInput(String),
    #[error("{0}")]
    Refused(String),
}

pub type Result<T> = std::result::Result<T, LifecycleError>;

/// Why no service could use a certificate. The words follow the
/// thumbprint in [`LifecycleError::Unservable`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Unservable {
    #[error("has no private key, so no service can use it; import it with its key (a .pfx) or complete the pending request it belongs to")]
    NoPrivateKey,
    #[error("is outside its validity period ({not_before} to {not_after}): clients would reject it; renew it with `mailcert renew {thumbprint}`")]
    OutsideValidity {
        thumbprint: String,
        /// RFC 3339.
        not_before: String,
        not_after: String,
    },
    #[error("is invalid: {reason}; clients would reject it")]
    Invalid { reason: String },
    #[error("has an RSA-{bits} key: RSA-{bits} is too weak; use 2048 bits or more (modern clients refuse it and this server's TLS library cannot sign with it); request a new certificate with `mailcert request --name NAME --key rsa-2048`")]
    WeakRsa { bits: u32 },
    #[error("has an RSA-{bits} key, larger than this server's TLS library signs with (8192 bits at most); request a new certificate with `mailcert request --name NAME --key rsa-4096`")]
    LargeRsa { bits: u32 },
}

/// Where the TLSA record of a key stands when it may not serve yet (see
/// [`LifecycleError::DaneNotReady`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DaneWaiting {
    /// Seen everywhere, but twice its TTL has not passed yet. Unix seconds.
    #[error("it has been seen at every authoritative server since {}, and twice its TTL ends at {}", unix_rfc3339(*.seen_everywhere_at), unix_rfc3339(*.ready_at))]
    SeenEverywhere {
        seen_everywhere_at: i64,
        ready_at: i64,
    },
    #[error("it is published but not yet answered by every authoritative server of the zone")]
    NotAnsweredEverywhere,
    #[error("it is not published yet")]
    NotPublished,
}

/// Why there is no TLSA record to give (see
/// [`LifecycleError::NoTlsaRecords`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum NoTlsaRecords {
    #[error("no certificate is bound to {service}, so there are no TLSA records to publish. Fix: bind one (`mailcert enable THUMBPRINT --services {service}`) or name one: `mailcert dane THUMBPRINT`")]
    NothingBound { service: Service },
    #[error("no certificate bound to {service} carries a host name a TLSA record can be published for (wildcards and one-label names name no MX host). Fix: bind a certificate with the MX host names (`mailcert enable THUMBPRINT --services {service}`)")]
    NoBoundHostName { service: Service },
    #[error("certificate {thumbprint} carries no host name a TLSA record can be published for (wildcards name no host: TLSA records go at _PORT._tcp.HOST of each MX host). Fix: a certificate with the MX host names")]
    NoHostName { thumbprint: String },
    #[error("certificate {thumbprint} has no issuing CA in its chain ({}), so there is no CA key for a usage 2 record. Fix: use --usage 3 (the server's own key), or complete the chain (`mailcert complete CERT --chain intermediate.pem`)", if *.self_signed { "it is self-signed" } else { "the chain was not stored" })]
    NoIssuer {
        thumbprint: String,
        self_signed: bool,
    },
}

/// A time kept as Unix seconds, as messages show times (the number itself
/// when it is outside what a date can hold).
pub(crate) fn unix_rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .map(mailcert_x509::time::rfc3339)
        .unwrap_or_else(|_| unix.to_string())
}
