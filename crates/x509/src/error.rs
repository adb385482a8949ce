use thiserror::Error;

/// A name an administrator typed that cannot go on a certificate.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameError {
    #[error("'{name}' is not a valid name: {reason}")]
    Invalid { name: String, reason: String },
}

/// Errors of the certificate model.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CertError {
    #[error(transparent)]
    Name(#[from] NameError),
    #[error("{what} is not a valid X.509 certificate: {reason}")]
    BadCertificate { what: String, reason: String },
    #[error("{what}: {reason}")]
    BadInput { what: String, reason: String },
    #[error(
        "{what} holds no certificate (expected PEM 'BEGIN CERTIFICATE' blocks, DER, or PKCS#7): {found}"
    )]
    NoCertificate {
        what: String,
        /// What the file looks like instead.
        found: crate::sniff::FileKind,
    },
    #[error("{what} is not a usable private key: {reason}")]
    BadKey { what: String, reason: String },
    #[error("{what}: RSA-{bits} is too weak to sign with; use 2048 bits or more (clients refuse smaller keys and this server's TLS library cannot use them)")]
    WeakKey { what: String, bits: u32 },
    #[error("{what} is an X.509 version {version} certificate: it has no extensions, so no subjectAltName (clients match the server name only there and ignore the CN) and clients built on rustls refuse it outright; ask the CA to issue a version 3 certificate with the names in subjectAltName (with openssl: `openssl x509 -req ... -extfile FILE`, FILE holding subjectAltName=DNS:your.name)")]
    NotVersion3 { what: String, version: u32 },
    #[error("could not generate {what}: {reason}")]
    Generate { what: String, reason: String },
    #[error("'{input}' is not a date or time: use 2027-06-01 or 2027-06-01T12:00:00Z")]
    BadTime { input: String },
    #[error("{what}: the password is wrong (the file's integrity check does not match); check the password file or MAILCERT_PASSWORD")]
    WrongPassword { what: String },
    #[error("{what} is truncated or damaged ({reason}); copy the whole file again")]
    Truncated { what: String, reason: String },
    #[error("{what}: the private key does not belong to the certificate {thumbprint} (their public keys differ); use the key that was generated with this certificate's request")]
    KeyMismatch { what: String, thumbprint: String },
    #[error("{what}: this PKCS#7 file keeps no order and {} of its certificates could be the server certificate ({}); give the server certificate alone as CERT and this file with --chain", .candidates.len(), quoted(.candidates))]
    NoOrder {
        what: String,
        /// The common names of the certificates that issued none of the others.
        candidates: Vec<String>,
    },
    #[error("{what} is not a valid certificate request: {reason}")]
    BadRequest { what: String, reason: String },
}

/// `"a", "b"`: names as an error lists them.
fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}
