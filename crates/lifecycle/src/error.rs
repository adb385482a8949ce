use mailcert_store::StoreError;
use mailcert_x509::{CertError, NameError};
use thiserror::Error;

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
    #[error("{0}")]
    BadInput(String),
    #[error("{0}")]
    Refused(String),
}

pub type Result<T> = std::result::Result<T, LifecycleError>;
