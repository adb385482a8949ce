//! Mail transport security in the plan: the MX hosts sending servers
//! connect to on port 25, and the MTA-STS policy that names them.
//!
//! With `[policy] mta_sts = true` the planner puts `mta-sts.<domain>` on
//! the certificate for every accepted domain (senders fetch the policy
//! there over HTTPS and validate that certificate, RFC 8461 §3.3). Here the
//! MX hosts — `[[mx]]`, or else the internet-facing servers — are checked
//! against the planned certificates (`mx-not-covered`) and against the
//! policy's `mx` lines (`mta-sts-mx-mismatch`).

use mailcert_mtasts::{policy_url, MxPattern};
use mailcert_x509::names::{best_match, parse_name};

use crate::classify::refusal;
use crate::input::{IssuerKind, Organization, Role};
use crate::output::{Finding, FindingCode, PlannedCertificate, Severity};

/// Where the planner learnt the MX host names from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MxSource {
    /// `[[mx]]` entries.
    Listed,
    /// The FQDNs of the internet-facing servers (edge servers when some
    /// are), since no `[[mx]]` is written.
    Servers,
}

/// The MX host names and where they come from; none when the
/// description lists no `[[mx]]` and MTA-STS is not planned.
fn mx_hosts(org: &Organization, cert_servers: &[usize]) -> (Vec<String>, MxSource) {
    if !org.mx.is_empty() {
        return (
            org.mx.iter().map(|m| m.host.clone()).collect(),
            MxSource::Listed,
        );
    }
    if !org.policy.mta_sts {
        return (Vec::new(), MxSource::Listed);
    }
    let facing: Vec<usize> = cert_servers
        .iter()
        .copied()
        .filter(|&i| org.servers[i].internet_facing)
        .collect();
    let edge: Vec<usize> = facing
        .iter()
        .copied()
        .filter(|&i| org.servers[i].role == Role::Edge)
        .collect();
    let chosen = if edge.is_empty() { facing } else { edge };
    let mut hosts: Vec<String> = Vec::new();
    for i in chosen {
        let fqdn = org.servers[i].fqdn.trim().trim_end_matches('.');
        if let Ok(parsed) = parse_name(fqdn) {
            let host = parsed.name.to_string();
            if !hosts.contains(&host) {
                hosts.push(host);
            }
        }
    }
    (hosts, MxSource::Servers)
}

fn list(names: &[String]) -> String {
    match names.len() {
        0 => String::new(),
        1 => names[0].clone(),
        n => format!("{} and {}", names[..n - 1].join(", "), names[n - 1]),
    }
}

/// The accepted domains as MTA-STS policy domains (a `*.` accepted domain
/// is its bare domain); invalid ones are left out (the planner reports
/// them already).
pub(crate) fn policy_domains(org: &Organization) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for typed in &org.accepted_domains {
        let bare = typed.trim().trim_start_matches("*.").trim_end_matches('.');
        if let Ok(domain) = mailcert_mtasts::policy_domain(bare) {
            if !out.contains(&domain) {
                out.push(domain);
            }
        }
    }
    out
}

/// The findings about the MX hosts: covered by a planned certificate,
/// matched by the MTA-STS policy.
pub(crate) fn mx_findings(
    org: &Organization,
    cert_servers: &[usize],
    certificates: &[PlannedCertificate],
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let (hosts, source) = mx_hosts(org, cert_servers);
    if org.policy.mta_sts && hosts.is_empty() {
        findings.push(Finding {
            severity: Severity::Warning,
            code: FindingCode::MtaStsPolicy,
            names: Vec::new(),
            message: "MTA-STS is planned, but the description names no MX host: no [[mx]] entry and no internet-facing server, so the planner cannot tell whether the MX hosts are on the certificate or match the policy.".into(),
            fix: "List the hosts the domains' MX records name: [[mx]] host = \"mx1.contoso.com\" (one table per host), or mark the servers that receive mail from the internet internet_facing = true.".into(),
        });
        return findings;
    }
    let from = match source {
        MxSource::Listed => "[[mx]]",
        MxSource::Servers => {
            "an internet-facing server, taken as an MX host since no [[mx]] is listed"
        }
    };
    let public = org.issuer == IssuerKind::Public;
    let mut uncovered = Vec::new();
    let mut unpublishable = Vec::new();
    for host in &hosts {
        let covered = certificates
            .iter()
            .any(|c| best_match(c.names.iter().map(|n| n.name.as_str()), host).is_some());
        if covered {
            continue;
        }
        let refused = parse_name(host).is_ok_and(|p| refusal(&p.name).is_some());
        if public && refused {
            unpublishable.push(host.clone());
        } else {
            uncovered.push(host.clone());
        }
    }
    let validators = if org.policy.mta_sts {
        "sending servers that apply this domain's MTA-STS policy refuse to deliver to it in enforce mode (and report it in testing mode)"
    } else {
        "sending servers that validate MX certificates (MTA-STS, DANE with a name check) refuse to deliver to it"
    };
    if !uncovered.is_empty() {
        let many = uncovered.len() > 1;
        findings.push(Finding {
            severity: Severity::Warning,
            code: FindingCode::MxNotCovered,
            names: uncovered.clone(),
            message: format!(
                "MX host{} {} ({from}) {} on no planned certificate: {validators}.",
                if many { "s" } else { "" },
                list(&uncovered),
                if many { "are" } else { "is" },
            ),
            fix: format!(
                "Put {} on the certificate the SMTP service (port 25) presents: add {} to namespaces.client_access, or give its server role = \"edge\" (its FQDN then goes on the certificate), or point the MX records at a name already on it.",
                list(&uncovered),
                if many { "them" } else { "it" },
            ),
        });
    }
    if !unpublishable.is_empty() {
        findings.push(Finding {
            severity: Severity::Warning,
            code: FindingCode::MxNotCovered,
            names: unpublishable.clone(),
            message: format!(
                "MX host {} ({from}) is an internal name: a public CA will not put it on a certificate, so {validators}.",
                list(&unpublishable)
            ),
            fix: "Have the MX records name a host in a domain you own (mx1.contoso.com), list it in [[mx]], and put it on the certificate.".into(),
        });
    }
    if org.policy.mta_sts {
        findings.extend(policy_findings(org, &hosts));
    }
    findings
}

/// The policy's `mx` lines against the MX hosts: every MX must match a
/// line (or senders refuse it in enforce mode), and every line should
/// match an MX (or it is stale).
fn policy_findings(org: &Organization, hosts: &[String]) -> Vec<Finding> {
    let patterns = &org.policy.mta_sts_mx;
    let domains = policy_domains(org);
    let mut findings = Vec::new();
    if patterns.is_empty() {
        // The policy is to list exactly the MX hosts: nothing can disagree
        // yet; say what it will hold.
        let lines: Vec<String> = hosts.iter().map(|h| format!("\"{h}\"")).collect();
        findings.push(Finding {
            severity: Severity::Info,
            code: FindingCode::MtaStsPolicy,
            names: hosts.to_vec(),
            message: format!(
                "The MTA-STS policy of {} is planned to list the MX hosts themselves; senders fetch it from {}.",
                list(&domains),
                domains.first().map(|d| policy_url(d)).unwrap_or_default()
            ),
            fix: format!(
                "Serve it with [[mta_sts]] entries in the front end's configuration, mx = [{}], and check the real MX records with mailcert check --mta-sts <domain> once published.",
                lines.join(", ")
            ),
        });
        return findings;
    }
    let unmatched: Vec<String> = hosts
        .iter()
        .filter(|h| !patterns.iter().any(|p| p.matches(h)))
        .cloned()
        .collect();
    if !unmatched.is_empty() {
        let many = unmatched.len() > 1;
        findings.push(Finding {
            severity: Severity::Warning,
            code: FindingCode::MtaStsMxMismatch,
            names: unmatched.clone(),
            message: format!(
                "MX host{} {} {} not match any mx line of the MTA-STS policy ({}): in enforce mode sending servers refuse to deliver to {}, in testing mode they report it. A *. line matches exactly one more label (*.contoso.com matches mx1.contoso.com, not contoso.com nor a.mx1.contoso.com).",
                if many { "s" } else { "" },
                list(&unmatched),
                if many { "do" } else { "does" },
                patterns.iter().map(MxPattern::to_string).collect::<Vec<_>>().join(", "),
                if many { "them" } else { "it" },
            ),
            fix: format!(
                "Add {} to policy.mta_sts_mx and to the mx of the [[mta_sts]] entries, then publish the new policy id (mailcert mta-sts prints it).",
                unmatched.iter().map(|h| format!("\"{h}\"")).collect::<Vec<_>>().join(", ")
            ),
        });
    }
    let stale: Vec<String> = patterns
        .iter()
        .filter(|p| !hosts.iter().any(|h| p.matches(h)))
        .map(MxPattern::to_string)
        .collect();
    if !stale.is_empty() && !hosts.is_empty() {
        findings.push(Finding {
            severity: Severity::Warning,
            code: FindingCode::MtaStsMxMismatch,
            names: stale.clone(),
            message: format!(
                "The MTA-STS policy lists {} but no MX host matches: a stale line lets a host that is not your MX pass the policy.",
                list(&stale)
            ),
            fix: "Remove the line from policy.mta_sts_mx and from the [[mta_sts]] entries, or add the MX host it was meant for to [[mx]].".into(),
        });
    }
    findings
}
