use thiserror::Error;

/// What stops a check before it starts: bad input from the command line or
/// files. Problems found on endpoints are [`crate::Finding`]s, not errors.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CheckError {
    #[error("'{input}' is not an endpoint: {reason}")]
    BadEndpoint { input: String, reason: String },
    #[error("--connect '{input}': {reason}")]
    BadConnect { input: String, reason: String },
    #[error("'{name}' is not a name a client can check (--name): use a DNS name or an IP address")]
    BadName { name: String },
    #[error("{what}: not a usable trust anchor: {reason}")]
    BadAnchor { what: String, reason: String },
    #[error("{what}: {reason}")]
    BadInput { what: String, reason: String },
    #[error("could not start the network runtime: {0}")]
    Runtime(#[source] std::io::Error),
}
