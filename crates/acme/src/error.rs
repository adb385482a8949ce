use mailcert_lifecycle::LifecycleError;
use mailcert_store::StoreError;
use mailcert_x509::CertError;
use thiserror::Error;

/// Why an ACME operation did not happen. Errors of `order` and `register`
/// leave the store unchanged; a failed renewal only records its backoff.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AcmeError {
    /// Bad input from the administrator (names, options, files).
    #[error("{0}")]
    BadInput(String),
    /// No account for this directory in the store.
    #[error("no ACME account for {directory} in the store; create one with `mailcert acme register --directory {directory}`")]
    NoAccount { directory: String },
    /// The CA could not be reached or answered something unusable.
    #[error("the ACME server {directory}: {reason}")]
    Server { directory: String, reason: String },
    /// The CA refused a request (an RFC 7807 problem document).
    #[error("the ACME server refused {what}: {detail}")]
    Refused { what: String, detail: String },
    /// A challenge did not validate.
    #[error("validation failed:\n{}\n{hint}", .failures.join("\n"))]
    Validation { failures: Vec<String>, hint: String },
    /// A temporary challenge listener could not start.
    #[error("cannot listen on {addr} for the {kind} challenge: {reason}; free the port, choose another with {option} (the CA must still reach it on the standard port, e.g. through a port forward), or run `mailcert serve` and let the front end answer")]
    Listen {
        addr: String,
        kind: &'static str,
        option: &'static str,
        reason: String,
        /// Another process holds the port (e.g. a running `serve`).
        in_use: bool,
    },
    /// The DNS hook command failed.
    #[error("the DNS hook `{command}` failed to {action} the TXT record {fqdn}: {reason}")]
    Hook {
        command: String,
        action: &'static str,
        fqdn: String,
        reason: String,
    },
    /// An RFC 2136 update of a DNS-01 TXT record failed.
    #[error("the DNS update at {server} failed to {action} the TXT record {fqdn}: {reason}")]
    DnsUpdate {
        server: String,
        action: &'static str,
        fqdn: String,
        reason: String,
    },
    /// What the CA issued does not match what was asked for.
    #[error("the certificate the CA sent is unusable: {0}")]
    BadCertificate(String),
    /// The order was given up on request (Ctrl-C, SIGTERM) before the
    /// certificate was issued.
    #[error("interrupted before the certificate was issued; the challenge answers were withdrawn and nothing was stored")]
    Interrupted,
    /// Another process holds the renewal lease of this certificate.
    #[error(
        "certificate {thumbprint} is being renewed by {owner} until {until}; nothing to do here"
    )]
    Busy {
        thumbprint: String,
        owner: String,
        until: String,
    },
    /// A new certificate was stored, and enabling it as asked was refused.
    #[error("{thumbprint} is stored but could not be enabled; enable it with `mailcert enable {thumbprint} --services …`")]
    StoredNotEnabled {
        thumbprint: String,
        #[source]
        source: LifecycleError,
    },
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Cert(#[from] CertError),
    /// A challenge answer could not be made (the TLS-ALPN-01 certificate).
    #[error(transparent)]
    Challenge(#[from] mailcert_challenge::ChallengeError),
}

impl AcmeError {
    /// Is this the administrator's input (exit code 2) rather than the
    /// CA's or the network's doing?
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            AcmeError::BadInput(_)
                | AcmeError::NoAccount { .. }
                | AcmeError::Listen { .. }
                | AcmeError::Challenge(_)
        )
    }

    pub(crate) fn server(directory: &str, error: instant_acme::Error) -> AcmeError {
        match error {
            instant_acme::Error::Api(problem) => AcmeError::Refused {
                what: format!("the request to {directory}"),
                detail: describe_problem(&problem),
            },
            other => {
                let mut reason = describe_error(&other);
                if reason.contains("invalid peer certificate") {
                    reason.push_str("; if the ACME server's HTTPS uses a private or test CA, give its certificate with `mailcert acme register --ca-file FILE`");
                } else if reason.contains("Connection refused") || reason.contains("dns error") {
                    reason.push_str("; check the directory URL and that this machine can reach it");
                }
                AcmeError::Server {
                    directory: directory.to_string(),
                    reason,
                }
            }
        }
    }

    pub(crate) fn refused(what: impl Into<String>, error: instant_acme::Error) -> AcmeError {
        match error {
            instant_acme::Error::Api(problem) => AcmeError::Refused {
                what: what.into(),
                detail: describe_problem(&problem),
            },
            other => AcmeError::Refused {
                what: what.into(),
                detail: describe_error(&other),
            },
        }
    }
}

/// An error of the ACME client with its causes, one line.
pub(crate) fn describe_error(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// A problem document in words: detail, type and per-name subproblems.
pub(crate) fn describe_problem(problem: &instant_acme::Problem) -> String {
    let mut text = problem
        .detail
        .clone()
        .unwrap_or_else(|| "no detail given".into());
    if let Some(kind) = &problem.r#type {
        let short = kind
            .strip_prefix("urn:ietf:params:acme:error:")
            .unwrap_or(kind);
        text.push_str(&format!(" [{short}]"));
    }
    for sub in &problem.subproblems {
        text.push_str(&format!("; {sub}"));
    }
    text
}

pub type Result<T> = std::result::Result<T, AcmeError>;
