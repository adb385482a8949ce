//! A plan as certificate requests: what `request --plan` and `acme order
//! --plan` ask a CA for, or why they ask for nothing.

use thiserror::Error;

use crate::output::{Finding, Plan, RequestNames, Severity};

/// Why a plan cannot become certificate requests: a CA would refuse them
/// too, or there is nothing to ask for.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestRefused {
    #[error("{file}: the plan has errors, so nothing was requested; fix them first (see `mailcert plan {file}`):\n{}", error_lines(.errors))]
    PlanHasErrors {
        file: String,
        /// The error-level findings.
        errors: Vec<Finding>,
    },
    #[error("{file}: the plan has no certificate to request")]
    NothingPlanned { file: String },
}

fn error_lines(errors: &[Finding]) -> String {
    errors
        .iter()
        .map(|f| format!("  - [{}] {}", f.code, f.message))
        .collect::<Vec<_>>()
        .join("\n")
}

impl Plan {
    /// [`Plan::request_names`] for `request --plan` and `acme order
    /// --plan`, refused when the plan has errors (a CA would refuse such a
    /// request too) or plans no certificate. `file` names the plan.
    pub fn names_to_request(&self, file: &str) -> Result<Vec<RequestNames>, RequestRefused> {
        if self.has_errors() {
            return Err(RequestRefused::PlanHasErrors {
                file: file.to_string(),
                errors: self
                    .findings
                    .iter()
                    .filter(|f| f.severity == Severity::Error)
                    .cloned()
                    .collect(),
            });
        }
        let wanted = self.request_names();
        if wanted.is_empty() {
            return Err(RequestRefused::NothingPlanned {
                file: file.to_string(),
            });
        }
        Ok(wanted)
    }

    /// Adds findings made outside the pure planner (`plan --resolve`):
    /// each once, errors first as always.
    pub fn add_findings(&mut self, more: Vec<Finding>) {
        for finding in more {
            if !self.findings.contains(&finding) {
                self.findings.push(finding);
            }
        }
        self.findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    }

    /// Every name of every planned certificate, once, in plan order.
    pub fn distinct_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for name in self.certificates.iter().flat_map(|c| &c.names) {
            if !names.contains(&name.name) {
                names.push(name.name.clone());
            }
        }
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(client_access: &str) -> Plan {
        let text = format!(
            "[organization]\naccepted_domains = [\"contoso.com\"]\nissuer = \"public\"\n\n[namespaces]\nclient_access = [{client_access}]\n"
        );
        let at = mailcert_x509::time::parse_at("2026-06-01").expect("date");
        crate::plan_toml(&text, "org.toml", at).expect("a plan")
    }

    #[test]
    fn a_plan_without_errors_gives_its_names_to_request() {
        let wanted = plan("\"mail.contoso.com\"")
            .names_to_request("org.toml")
            .expect("names");
        assert_eq!(wanted.len(), 1);
        assert_eq!(wanted[0].common_name, "mail.contoso.com");
        assert!(wanted[0]
            .names
            .contains(&"autodiscover.contoso.com".to_string()));
    }

    #[test]
    fn a_plan_with_errors_is_refused_naming_them() {
        let err = plan("\"mail.contoso.com\", \"mail.contoso.local\"")
            .names_to_request("org.toml")
            .expect_err("refused");
        assert!(
            matches!(&err, RequestRefused::PlanHasErrors { errors, .. } if errors.len() == 1),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.starts_with("org.toml: the plan has errors, so nothing was requested; fix them first (see `mailcert plan org.toml`):\n  - [internal-name] "),
            "{text}"
        );
    }
}
