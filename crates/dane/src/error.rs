use std::net::SocketAddr;
use std::path::PathBuf;

/// What went wrong, with the thing it went wrong with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DaneError {
    #[error("{path}: cannot read the TSIG key file: {source}")]
    KeyFileUnreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {problem}. Fix: give a key file as `tsig-keygen NAME` (BIND), `keymgr -t NAME` (Knot) or a line `hmac-sha256:NAME:BASE64SECRET` writes it")]
    KeyFile { path: PathBuf, problem: String },
    #[error("'{name}' is not a DNS name: {problem}")]
    BadName { name: String, problem: String },
    #[error("DNS server {server}: {problem}")]
    Transport { server: SocketAddr, problem: String },
    #[error("DNS server {server} answered {rcode} to the update of zone {zone}{hint}")]
    UpdateRefused {
        server: SocketAddr,
        zone: String,
        rcode: String,
        hint: String,
    },
    #[error("DNS server {server}: the answer's TSIG signature does not verify ({problem}): someone else answered, or the key differs")]
    BadAnswerSignature { server: SocketAddr, problem: String },
    #[error("no resolver: {0}")]
    NoResolver(String),
    #[error("{0}")]
    Message(String),
}
