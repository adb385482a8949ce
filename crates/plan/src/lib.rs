//! The planner of mailcert: from a description of the organisation (TOML)
//! and a date to the certificates it needs — each name with the reason it
//! is there — and findings: what a public CA will refuse, what will break
//! clients, and what to do about it.
//!
//! ```
//! let text = r#"
//! [organization]
//! accepted_domains = ["contoso.com"]
//! issuer = "public"
//! [namespaces]
//! client_access = ["mail.contoso.com"]
//! "#;
//! let org = mailcert_plan::Organization::from_toml(text, "org.toml").unwrap();
//! let at = time::macros::datetime!(2026-06-01 0:00 UTC);
//! let plan = mailcert_plan::plan(&org, at);
//! let names: Vec<&str> = plan.certificates[0].names.iter().map(|n| n.name.as_str()).collect();
//! assert_eq!(names, ["mail.contoso.com", "autodiscover.contoso.com"]);
//! assert_eq!(plan.certificates[0].max_validity_days, 200);
//! ```
//!
//! Pure: no I/O, no clock. The caller reads the file and passes the time.
//! Not here: requesting or issuing certificates (the store and issuers do),
//! DNS look-ups (the plan says what DNS should hold; the MX hosts come
//! from the description, and `plan --resolve` looks CAA up and hands the
//! answers to [`caa_findings`]).
#![forbid(unsafe_code)]

mod caa;
mod classify;
mod error;
mod input;
mod mx;
mod output;
mod planner;
mod request;
pub mod validity;

pub use caa::{allows, caa_findings, climb, CaaLookup, CaaRecord, Refused, LETS_ENCRYPT};
pub use error::PlanError;
pub use input::{
    AutodiscoverMode, CertificateSplit, Coexistence, IssuerKind, MxHost, Organization, Policy,
    Role, Server, Site,
};
pub use output::{
    Finding, FindingCode, Plan, PlannedCertificate, PlannedName, RequestNames, Severity,
};
pub use planner::{plan, MANY_NAMES};
pub use request::RequestRefused;

/// Reads an organisation description and plans it as of `at`: the usual
/// entry point. `source` names the file in error messages.
pub fn plan_toml(text: &str, source: &str, at: time::OffsetDateTime) -> Result<Plan, PlanError> {
    Organization::from_toml(text, source).map(|org| plan(&org, at))
}
