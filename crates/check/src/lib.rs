//! The client side of mailcert: connect to an endpoint exactly as a mail
//! client would (implicit TLS, or STARTTLS/STLS after the greeting),
//! capture what the server presents, and explain in plain words what a
//! client will complain about and how to fix it.
//!
//! - [`Endpoint`]: `imaps://host`, `submission://host:587`, bare hosts.
//! - [`validate`]: the validation core, also used offline by `verify`:
//!   rustls-webpki gives the verdict, the diagnosis adds [`Finding`]s with
//!   stable [`Code`]s, a client's symptom and a fix.
//! - [`TrustStore`]: system roots (public) plus roots given for the run.
//!
//! Not here: the store (callers pass what it binds through
//! [`BoundLookup`]), printing, and any trust decision of our own making.
#![forbid(unsafe_code)]

mod caa;
mod capture;
mod dane;
mod endpoint;
mod error;
mod finding;
mod legacy;
mod limits;
mod mta_sts;
mod planned;
mod probe;
mod profile;
mod report;
mod run;
mod trust;
mod validate;

pub use caa::{add_caa_findings, caa_check, caa_lookup, resolve_plan_caa};
pub use dane::DaneReport;
pub use endpoint::{host_port, ConnectTo, Endpoint, Protocol, Scheme, TlsMode};
pub use error::CheckError;
pub use finding::{has_errors, tidy, Code, Finding, Severity, Source};
pub use limits::public_max_validity_days;
pub use mta_sts::{check_mta_sts, check_mta_sts_domains};
pub use planned::plan_endpoints;
pub use report::{EndpointReport, MtaStsReport, MxReport, Report, StartTlsReport};
pub use run::{
    check_all, check_endpoints, check_one, BoundCertificate, BoundLookup, Progress, Settings,
};
pub use trust::{Anchor, Origin, TrustStore};
pub use validate::{
    ca_issuers_url, validate, ChainEntry, Request, Validation, EXPIRY_WARNING_DAYS,
};

/// Refuses a `--name` no client could ask for.
pub fn check_name(name: &str) -> Result<(), CheckError> {
    rustls_pki_types::ServerName::try_from(name.to_string())
        .map(|_| ())
        .map_err(|_| CheckError::BadName {
            name: name.to_string(),
        })
}
