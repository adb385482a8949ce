//! CAA look-ups for `plan --resolve` and `check --caa-issuer`: for each
//! name, the relevant record set (RFC 8659 §3: the name itself, then each
//! parent until one has CAA records), asked of the resolver given, with
//! the DNS client the DANE checks use (one DNS stack in the program). The
//! judging is the planner's ([`mailcert_plan::caa_findings`]), pure.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};
use mailcert_dane::Resolver;
use mailcert_plan::{climb, CaaLookup, CaaRecord, FindingCode, Plan};

use crate::finding::{Code, Finding, Severity};
use crate::report::Report;

/// What the CAA records of `name` say of the CA whose issuer domain is
/// `issuer`, as the checker's findings (`caa-forbids`, `caa-none`,
/// `caa-lookup-failed`), judged by the planner's rules.
pub fn caa_check(resolver: &Resolver, name: &str, issuer: &str) -> Vec<Finding> {
    let lookup = caa_lookup(resolver, name);
    mailcert_plan::caa_findings(&[lookup], issuer)
        .into_iter()
        .map(|f| {
            let code = match f.code {
                FindingCode::CaaForbids => Code::CaaForbids,
                FindingCode::CaaNone => Code::CaaNone,
                _ => Code::CaaLookupFailed,
            };
            let severity = match f.severity {
                mailcert_plan::Severity::Error => Severity::Error,
                mailcert_plan::Severity::Warning => Severity::Warning,
                mailcert_plan::Severity::Info => Severity::Info,
            };
            Finding::new(severity, code, f.message, f.fix)
        })
        .collect()
}

/// `plan --resolve`: what the CAA records of every name `plan` holds say
/// of the CA whose issuer domain is `issuer`, added to the plan's
/// findings. IP addresses have no CAA records and are not looked up.
pub fn resolve_plan_caa(resolver: &Resolver, plan: &mut Plan, issuer: &str) {
    let lookups: Vec<CaaLookup> = names_with_caa(plan)
        .iter()
        .map(|name| caa_lookup(resolver, name))
        .collect();
    plan.add_findings(mailcert_plan::caa_findings(&lookups, issuer));
}

/// The names of a plan that CAA can speak for: each once, no IP address.
fn names_with_caa(plan: &Plan) -> Vec<String> {
    plan.distinct_names()
        .into_iter()
        .filter(|name| has_caa(name))
        .collect()
}

/// `check --caa-issuer`: what the CAA records of each endpoint's name say
/// of the CA whose issuer domain is `issuer`, added to that endpoint's
/// findings. Each name is looked up once however many endpoints carry
/// it; IP addresses have no CAA records and are not looked up.
pub fn add_caa_findings(resolver: &Resolver, report: &mut Report, issuer: &str) {
    add_findings_by_name(report, |name| caa_check(resolver, name, issuer));
}

/// Whether CAA records can speak for `name`: an IP address has none.
fn has_caa(name: &str) -> bool {
    name.parse::<std::net::IpAddr>().is_err()
}

/// Adds `lookup(name)` to the findings of each endpoint checked under a
/// DNS name, asking once per name.
fn add_findings_by_name(report: &mut Report, mut lookup: impl FnMut(&str) -> Vec<Finding>) {
    let mut looked_up: Vec<(String, Vec<Finding>)> = Vec::new();
    for endpoint in &mut report.endpoints {
        let Some(name) = endpoint.name.clone() else {
            continue;
        };
        if !has_caa(&name) {
            continue;
        }
        let findings = match looked_up.iter().find(|(n, _)| *n == name) {
            Some((_, findings)) => findings.clone(),
            None => {
                let findings = lookup(&name);
                looked_up.push((name, findings.clone()));
                findings
            }
        };
        endpoint.findings.extend(findings);
        crate::finding::tidy(&mut endpoint.findings);
    }
}

/// The relevant CAA record set of `name` (a wildcard is looked up without
/// its `*.`), or why there is none.
pub fn caa_lookup(resolver: &Resolver, name: &str) -> CaaLookup {
    for candidate in climb(name) {
        let answer = match resolver.query(&candidate, RecordType::CAA, true) {
            Ok(answer) => answer,
            Err(e) => {
                return CaaLookup::Failed {
                    name: name.to_string(),
                    reason: e.to_string(),
                }
            }
        };
        if !matches!(answer.rcode, ResponseCode::NoError | ResponseCode::NXDomain) {
            return CaaLookup::Failed {
                name: name.to_string(),
                reason: format!(
                    "{candidate}: {}",
                    mailcert_dane::resolver::rcode_text(answer.rcode)
                ),
            };
        }
        let records: Vec<CaaRecord> = answer
            .records
            .iter()
            .filter_map(|(_, _, data)| match data {
                RData::CAA(caa) => Some(CaaRecord {
                    critical: caa.issuer_critical,
                    tag: caa.tag.clone(),
                    value: String::from_utf8_lossy(&caa.value).into_owned(),
                }),
                _ => None,
            })
            .collect();
        if !records.is_empty() {
            return CaaLookup::Found {
                name: name.to_string(),
                at: candidate,
                records,
            };
        }
    }
    CaaLookup::None {
        name: name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use mailcert_plan::{IssuerKind, PlannedCertificate, PlannedName};

    use super::*;
    use crate::report::EndpointReport;

    fn certificate(names: &[&str]) -> PlannedCertificate {
        PlannedCertificate {
            subject: format!("CN={}", names[0]),
            issuer: IssuerKind::Public,
            max_validity_days: 200,
            names: names
                .iter()
                .map(|name| PlannedName {
                    name: name.to_string(),
                    reason: "test".into(),
                    unicode: None,
                })
                .collect(),
            servers: Vec::new(),
        }
    }

    #[test]
    fn each_dns_name_of_a_plan_is_looked_up_once_and_no_ip_address() {
        let plan = Plan {
            at: "2026-12-07T00:00:00Z".into(),
            certificates: vec![
                certificate(&["mail.contoso.com", "192.0.2.25", "*.contoso.com"]),
                certificate(&["mail.contoso.com", "2001:db8::25", "smtp.contoso.com"]),
            ],
            findings: Vec::new(),
        };
        assert_eq!(
            names_with_caa(&plan),
            ["mail.contoso.com", "*.contoso.com", "smtp.contoso.com"]
        );
    }

    fn endpoint(name: Option<&str>) -> EndpointReport {
        EndpointReport {
            endpoint: format!("imaps://{}:993", name.unwrap_or("file")),
            name: name.map(str::to_string),
            ..EndpointReport::default()
        }
    }

    #[test]
    fn each_endpoint_name_is_looked_up_once_and_no_ip_address() {
        let mut report = Report {
            endpoints: vec![
                endpoint(Some("mail.contoso.com")),
                endpoint(Some("192.0.2.25")),
                endpoint(None),
                endpoint(Some("mail.contoso.com")),
                endpoint(Some("smtp.contoso.com")),
            ],
            ..Report::default()
        };
        let mut asked = Vec::new();
        add_findings_by_name(&mut report, |name| {
            asked.push(name.to_string());
            vec![Finding::warning(
                Code::CaaNone,
                format!("no CAA for {name}"),
                "add one",
            )]
        });
        assert_eq!(asked, ["mail.contoso.com", "smtp.contoso.com"]);
        let messages: Vec<Vec<&str>> = report
            .endpoints
            .iter()
            .map(|e| e.findings.iter().map(|f| f.message.as_str()).collect())
            .collect();
        assert_eq!(
            messages,
            [
                vec!["no CAA for mail.contoso.com"],
                vec![],
                vec![],
                vec!["no CAA for mail.contoso.com"],
                vec!["no CAA for smtp.contoso.com"],
            ]
        );
    }
}
