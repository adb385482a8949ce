//! The rules: from an [`Organization`] and a date to a [`Plan`].
//!
//! The steps, in order:
//! 1. gather every name the organisation needs, each with its reason and
//!    the site or server it belongs to (candidates);
//! 2. validate them (invalid names and IDNs), merge duplicates;
//! 3. judge them against the issuer (internal names, reserved IPs);
//! 4. cut them into certificates (one, unless the policy asks otherwise),
//!    apply wildcards, count;
//! 5. validity and issuer advice.

use std::collections::{BTreeMap, HashMap};

use mailcert_x509::names::{name_matches, parse_name, NameMatch, SubjectName};
use time::{Date, OffsetDateTime, UtcOffset};

use crate::classify::{refusal, Refusal};
use crate::input::{AutodiscoverMode, CertificateSplit, IssuerKind, Organization, Role};
use crate::output::{Finding, FindingCode, Plan, PlannedCertificate, PlannedName, Severity};
use crate::validity::{max_validity_days, next_public_step};

/// Names per certificate above which handshakes and management get heavy.
pub const MANY_NAMES: usize = 50;

/// Plans the certificates of `org` as of `at`.
pub fn plan(org: &Organization, at: OffsetDateTime) -> Plan {
    let at = at.to_offset(UtcOffset::UTC);
    Planner::new(org, at.date()).run(mailcert_x509::time::rfc3339(at))
}

/// Where a name belongs: which certificates need it when there are several.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Everywhere,
    Site(usize),
    Server(usize),
}

/// Why a name is wanted.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Origin {
    ClientAccess,
    Internal,
    Autodiscover { domain: String },
    Legacy,
    ServerFqdn { server: String },
    EdgeFqdn { server: String },
    MtaSts { domain: String },
}

impl Origin {
    fn describe(&self) -> String {
        match self {
            Origin::ClientAccess => "a client-access name".into(),
            Origin::Internal => "an internal name".into(),
            Origin::Autodiscover { domain } => format!("the autodiscover name of {domain}"),
            Origin::Legacy => "the legacy name".into(),
            Origin::ServerFqdn { server } | Origin::EdgeFqdn { server } => {
                format!("the FQDN of server {server}")
            }
            Origin::MtaSts { domain } => format!("the MTA-STS policy host of {domain}"),
        }
    }
}

struct Candidate {
    typed: String,
    origin: Origin,
    reason: String,
    scope: Scope,
}

/// A distinct valid name, after merging duplicates.
struct Entry {
    text: String,
    unicode: Option<String>,
    reasons: Vec<String>,
    origins: Vec<Origin>,
    scopes: Vec<Scope>,
    refusal: Option<Refusal>,
}

impl Entry {
    fn has_origin(&self, f: impl Fn(&Origin) -> bool) -> bool {
        self.origins.iter().any(f)
    }
}

/// One name on one certificate while it is being built.
#[derive(Clone)]
struct Slot {
    text: String,
    reason: String,
    unicode: Option<String>,
    /// The entry it came from; `None` for a wildcard the planner made up.
    entry: Option<usize>,
}

/// Which names a certificate takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    /// All of them: the one SAN certificate.
    Whole,
    /// Per-site certificate of site `n`.
    Site(usize),
    /// Per-site certificate of the servers that are in no site.
    Unsited,
    /// Per-server certificate of server `n`.
    Server(usize),
}

/// A certificate being built: which names, which servers.
struct Draft {
    cut: Cut,
    servers: Vec<usize>,
}

struct Planner<'a> {
    org: &'a Organization,
    date: Date,
    findings: Vec<Finding>,
    /// Servers that get the certificate(s).
    cert_servers: Vec<usize>,
}

fn list(names: &[String]) -> String {
    match names.len() {
        0 => String::new(),
        1 => names[0].clone(),
        n => format!("{} and {}", names[..n - 1].join(", "), names[n - 1]),
    }
}

impl<'a> Planner<'a> {
    fn new(org: &'a Organization, date: Date) -> Self {
        let clients: Vec<usize> = (0..org.servers.len())
            .filter(|&i| org.servers[i].role != Role::Backend)
            .collect();
        let facing: Vec<usize> = clients
            .iter()
            .copied()
            .filter(|&i| org.servers[i].internet_facing)
            .collect();
        let cert_servers = if facing.is_empty() { clients } else { facing };
        Planner {
            org,
            date,
            findings: Vec::new(),
            cert_servers,
        }
    }

    /// The first client-access name, where SRV records should point.
    fn first_client_access(&self) -> String {
        let org = self.org;
        org.client_access
            .iter()
            .chain(org.sites.iter().flat_map(|s| &s.client_access))
            .filter_map(|n| parse_name(n).ok().map(|p| p.name.to_string()))
            // An SRV record points at a host, never at a wildcard.
            .map(|n| match n.strip_prefix("*.") {
                Some(domain) => format!("mail.{domain}"),
                None => n,
            })
            .next()
            .unwrap_or_else(|| "mail.contoso.com".into())
    }

    fn find(
        &mut self,
        severity: Severity,
        code: FindingCode,
        names: Vec<String>,
        message: String,
        fix: String,
    ) {
        self.findings.push(Finding {
            severity,
            code,
            names,
            message,
            fix,
        });
    }

    fn run(mut self, at: String) -> Plan {
        let candidates = self.candidates();
        let entries = self.entries(candidates);
        self.judge(&entries);
        self.split_namespace(&entries);
        let max_validity_days = max_validity_days(self.org.issuer, self.date);
        let mut certificates = Vec::new();
        for draft in self.drafts() {
            if let Some(cert) = self.build(&draft, &entries, max_validity_days) {
                certificates.push(cert);
            }
        }
        self.same_subjects(&certificates);
        let mail = crate::mx::mx_findings(self.org, &self.cert_servers, &certificates);
        self.findings.extend(mail);
        self.validity(max_validity_days);
        self.issuer_advice();
        self.backend_servers();

        let mut findings: Vec<Finding> = Vec::with_capacity(self.findings.len());
        for f in self.findings {
            if !findings.contains(&f) {
                findings.push(f);
            }
        }
        findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
        Plan {
            at,
            certificates,
            findings,
        }
    }

    // ---- 1. candidates -------------------------------------------------

    fn candidates(&mut self) -> Vec<Candidate> {
        let org = self.org;
        let mut out = Vec::new();
        const CLIENTS: &str =
            "OWA, ActiveSync, MAPI over HTTP and Outlook Anywhere, EWS, OAB, ECP, IMAP, POP and SMTP clients connect to it";

        for name in &org.client_access {
            out.push(Candidate {
                typed: name.clone(),
                origin: Origin::ClientAccess,
                reason: format!("client-access namespace: {CLIENTS}"),
                scope: Scope::Everywhere,
            });
        }
        for (i, site) in org.sites.iter().enumerate() {
            for name in &site.client_access {
                out.push(Candidate {
                    typed: name.clone(),
                    origin: Origin::ClientAccess,
                    reason: format!("client-access namespace of site {}: {CLIENTS}", site.name),
                    scope: Scope::Site(i),
                });
            }
        }

        self.autodiscover(&mut out);
        self.mta_sts_hosts(&mut out);
        self.legacy(&mut out);

        for name in &org.internal {
            out.push(Candidate {
                typed: name.clone(),
                origin: Origin::Internal,
                reason: "internal name: clients inside the network connect to it".into(),
                scope: Scope::Everywhere,
            });
        }
        for (i, site) in org.sites.iter().enumerate() {
            for name in &site.internal {
                out.push(Candidate {
                    typed: name.clone(),
                    origin: Origin::Internal,
                    reason: format!(
                        "internal name of site {}: clients inside the network connect to it",
                        site.name
                    ),
                    scope: Scope::Site(i),
                });
            }
        }

        self.server_fqdns(&mut out);
        out
    }

    fn autodiscover(&mut self, out: &mut Vec<Candidate>) {
        let org = self.org;
        let mut srv = Vec::new();
        let mut off = Vec::new();
        for typed in &org.accepted_domains {
            let (subdomains, bare) = match typed.strip_prefix("*.") {
                Some(rest) => (true, rest),
                None => (false, typed.as_str()),
            };
            let domain = match parse_name(bare) {
                Ok(parsed) => match parsed.name {
                    SubjectName::Dns(d) => d,
                    SubjectName::Ip(_) => {
                        self.find(
                            Severity::Error,
                            FindingCode::InvalidName,
                            vec![typed.clone()],
                            format!("accepted domain {typed} is an IP address, not a domain: no mail can be addressed to it, and it gets no autodiscover name."),
                            "List the SMTP domains of your users' addresses in organization.accepted_domains.".into(),
                        );
                        continue;
                    }
                },
                Err(e) => {
                    self.find(
                        Severity::Error,
                        FindingCode::InvalidName,
                        vec![typed.clone()],
                        format!("accepted domain {e}; it gets no autodiscover name."),
                        "Correct the domain in organization.accepted_domains.".into(),
                    );
                    continue;
                }
            };
            match org.autodiscover_for(&domain) {
                AutodiscoverMode::Names => {
                    let with_sub = if subdomains {
                        " (the domain is accepted with its subdomains; their users need autodiscover.<subdomain> names of their own)"
                    } else {
                        ""
                    };
                    out.push(Candidate {
                        typed: format!("autodiscover.{bare}"),
                        origin: Origin::Autodiscover {
                            domain: domain.clone(),
                        },
                        reason: format!(
                            "autodiscover for users of {bare}: Outlook and phones look up autodiscover.{bare} by name{with_sub}"
                        ),
                        scope: Scope::Everywhere,
                    });
                }
                AutodiscoverMode::Srv => srv.push(domain),
                AutodiscoverMode::None => off.push(domain),
            }
        }
        let target = self.first_client_access();
        if !srv.is_empty() {
            let records: Vec<String> = srv
                .iter()
                .map(|d| format!("_autodiscover._tcp.{d} SRV 0 0 443 {target}."))
                .collect();
            self.find(
                Severity::Info,
                FindingCode::AutodiscoverSrv,
                srv.iter().map(|d| format!("_autodiscover._tcp.{d}")).collect(),
                format!(
                    "Autodiscover for {} uses SRV records, so no autodiscover name goes on the certificate. Outlook asks the user once whether {target} may configure the account, and some phone clients ignore SRV records.",
                    list(&srv)
                ),
                format!("Publish: {}", records.join("; ")),
            );
        }
        if !off.is_empty() {
            self.find(
                Severity::Info,
                FindingCode::AutodiscoverOff,
                off.clone(),
                format!(
                    "{} {} no autodiscover: Outlook 2016 and later cannot set up an Exchange account without it, and users set up every other client by hand.",
                    list(&off),
                    if off.len() == 1 { "has" } else { "have" }
                ),
                "Nothing, if no user has an address in these domains; otherwise use autodiscover = \"names\" or \"srv\" for them (namespaces.autodiscover_by_domain).".into(),
            );
        }
    }

    /// `mta-sts.<domain>` for every accepted domain, with
    /// `[policy] mta_sts`: senders fetch the policy there over HTTPS and
    /// validate the certificate before trusting it (RFC 8461 §3.3).
    fn mta_sts_hosts(&mut self, out: &mut Vec<Candidate>) {
        if !self.org.policy.mta_sts {
            return;
        }
        for domain in crate::mx::policy_domains(self.org) {
            out.push(Candidate {
                typed: mailcert_mtasts::policy_host(&domain),
                origin: Origin::MtaSts {
                    domain: domain.clone(),
                },
                reason: format!(
                    "MTA-STS policy host of {domain} (policy.mta_sts): sending mail servers fetch {} and validate this certificate before they trust the policy",
                    mailcert_mtasts::policy_url(&domain)
                ),
                scope: Scope::Everywhere,
            });
        }
    }

    fn legacy(&mut self, out: &mut Vec<Candidate>) {
        let org = self.org;
        match (&org.coexistence, org.legacy.is_empty()) {
            (Some(c), false) => {
                for name in &org.legacy {
                    out.push(Candidate {
                        typed: name.clone(),
                        origin: Origin::Legacy,
                        reason: format!(
                            "legacy namespace: users still on {} during coexistence",
                            c.older_version
                        ),
                        scope: Scope::Everywhere,
                    });
                }
                let ended = c.until.filter(|until| *until < self.date);
                if let Some(until) = ended {
                    self.find(
                        Severity::Warning,
                        FindingCode::LegacyName,
                        org.legacy.clone(),
                        format!(
                            "Coexistence with {} was planned to end on {until}, before the planning date: {} may no longer be needed.",
                            c.older_version,
                            list(&org.legacy)
                        ),
                        "If the older servers are gone, remove namespaces.legacy and [coexistence], and leave the legacy name out of the next certificate; otherwise move coexistence.until.".into(),
                    );
                } else {
                    let v = c.older_version.to_ascii_lowercase();
                    let proxied = if v.contains("2010") {
                        " Note that Exchange 2013 and later proxy Exchange 2010 users through the new namespace: check that the legacy name is really needed."
                    } else {
                        ""
                    };
                    self.find(
                        Severity::Info,
                        FindingCode::LegacyName,
                        org.legacy.clone(),
                        format!(
                            "{} is on the certificate only for coexistence with {}.{proxied}",
                            list(&org.legacy),
                            c.older_version
                        ),
                        "Once the last older server is gone, remove namespaces.legacy and [coexistence]: the next certificate then goes without the legacy name.".into(),
                    );
                }
            }
            (None, false) => {
                for name in &org.legacy {
                    out.push(Candidate {
                        typed: name.clone(),
                        origin: Origin::Legacy,
                        reason: "legacy namespace for coexistence with an older version".into(),
                        scope: Scope::Everywhere,
                    });
                }
                self.find(
                    Severity::Warning,
                    FindingCode::LegacyName,
                    org.legacy.clone(),
                    format!(
                        "{} is a legacy namespace, but no [coexistence] section says an older version still serves mailboxes. A legacy name belongs on the certificate only during coexistence.",
                        list(&org.legacy)
                    ),
                    "If the migration is over, remove namespaces.legacy; otherwise describe it: [coexistence] older_version = \"exchange-2010\" (and until = a date).".into(),
                );
            }
            (Some(c), true) if c.needs_legacy_namespace() => {
                let domain = org
                    .accepted_domains
                    .first()
                    .map(|d| d.trim_start_matches("*.").to_string())
                    .unwrap_or_else(|| "contoso.com".into());
                self.find(
                    Severity::Warning,
                    FindingCode::LegacyName,
                    Vec::new(),
                    format!(
                        "Coexistence with {}: newer client-access servers cannot proxy to that version, so its users need a legacy namespace of their own, and none is given.",
                        c.older_version
                    ),
                    format!("Add namespaces.legacy = \"legacy.{domain}\", point it at the older servers, and keep it until they are gone."),
                );
            }
            _ => {}
        }
    }

    fn server_fqdns(&mut self, out: &mut Vec<Candidate>) {
        let org = self.org;
        let policy_included = org.policy.include_server_fqdns;
        let named: Vec<String> = org
            .client_access
            .iter()
            .chain(&org.internal)
            .chain(&org.legacy)
            .chain(
                org.sites
                    .iter()
                    .flat_map(|s| s.client_access.iter().chain(&s.internal)),
            )
            .map(|n| n.trim().trim_end_matches('.').to_lowercase())
            .collect();
        let is_named = |fqdn: &str| named.contains(&fqdn.trim_end_matches('.').to_lowercase());
        let mut edge = Vec::new();
        let mut per_server = Vec::new();
        for &i in &self.cert_servers {
            let server = &org.servers[i];
            if policy_included {
                out.push(Candidate {
                    typed: server.fqdn.clone(),
                    origin: Origin::ServerFqdn {
                        server: server.name.clone(),
                    },
                    reason: format!(
                        "FQDN of server {} (policy.include_server_fqdns)",
                        server.name
                    ),
                    scope: Scope::Server(i),
                });
            } else if server.role == Role::Edge && server.internet_facing {
                edge.push(i);
                out.push(Candidate {
                    typed: server.fqdn.clone(),
                    origin: Origin::EdgeFqdn {
                        server: server.name.clone(),
                    },
                    reason: format!(
                        "FQDN of edge server {}: the MX host sending servers connect to, and validate with MTA-STS or DANE",
                        server.name
                    ),
                    scope: Scope::Server(i),
                });
            } else if org.policy.certificates == CertificateSplit::PerServer
                && !is_named(&server.fqdn)
                && self.acceptable_to_issuer(&server.fqdn)
            {
                // Per-server certificates share their other names: the
                // server's own name is what tells them (and their pending
                // requests) apart, as their common name.
                per_server.push(i);
                out.push(Candidate {
                    typed: server.fqdn.clone(),
                    origin: Origin::ServerFqdn {
                        server: server.name.clone(),
                    },
                    reason: format!(
                        "FQDN of server {}: the common name of its own certificate (policy.certificates = \"per-server\")",
                        server.name
                    ),
                    scope: Scope::Server(i),
                });
            }
        }
        if !org.policy.include_server_fqdns {
            let omitted: Vec<String> = self
                .cert_servers
                .iter()
                .filter(|i| !per_server.contains(*i))
                .map(|&i| &org.servers[i])
                .filter(|s| !(s.role == Role::Edge && s.internet_facing))
                .filter(|s| !is_named(&s.fqdn))
                .map(|s| s.fqdn.trim_end_matches('.').to_lowercase())
                .collect();
            if !omitted.is_empty() {
                let internal: Vec<String> = omitted
                    .iter()
                    .filter(|n| parse_name(n).is_ok_and(|p| refusal(&p.name).is_some()))
                    .cloned()
                    .collect();
                let refused = if org.issuer == IssuerKind::Public && !internal.is_empty() {
                    format!(" A public CA would refuse {} anyway.", list(&internal))
                } else {
                    String::new()
                };
                self.find(
                    Severity::Info,
                    FindingCode::ServerFqdnOmitted,
                    omitted.clone(),
                    format!(
                        "Server FQDNs are not on the certificate ({}): clients connect to the namespaces, so the certificate need not change when a server is added, renamed or removed.{refused}",
                        list(&omitted)
                    ),
                    "Nothing to do. Include them (policy.include_server_fqdns = true) only if something connects by server name: Exchange Unified Messaging with Lync or Skype for Business, or servers that validate each other's SMTP names.".into(),
                );
            }
        }
        if policy_included && !self.cert_servers.is_empty() {
            let names: Vec<String> = self
                .cert_servers
                .iter()
                .map(|&i| org.servers[i].fqdn.clone())
                .collect();
            self.find(
                Severity::Warning,
                FindingCode::ServerFqdnIncluded,
                names.clone(),
                format!(
                    "policy.include_server_fqdns asks for the server FQDNs ({}) on the certificate (those a public CA refuses or a wildcard covers are left out; see the other findings): clients should never use them, every server added or renamed means a new certificate, and internal FQDNs are refused by public CAs.",
                    list(&names)
                ),
                "Point clients and URLs at the namespaces and set policy.include_server_fqdns = false, unless something really connects by server name (Exchange Unified Messaging with Lync or Skype for Business, servers that validate each other's SMTP names).".into(),
            );
        }
        if !edge.is_empty() {
            let names: Vec<String> = edge.iter().map(|&i| org.servers[i].fqdn.clone()).collect();
            self.find(
                Severity::Info,
                FindingCode::ServerFqdnIncluded,
                names.clone(),
                format!(
                    "{} {} on the certificate because edge servers answer SMTP under their own FQDN, which is what MX records name and what MTA-STS and DANE validate.",
                    list(&names),
                    if names.len() == 1 { "is" } else { "are" }
                ),
                "Nothing to do; make sure the MX records name exactly these hosts.".into(),
            );
        }
    }

    /// Whether a name is valid and, for a public issuer, one a public CA
    /// accepts: a name the planner adds on its own must not bring errors.
    fn acceptable_to_issuer(&self, typed: &str) -> bool {
        parse_name(typed)
            .is_ok_and(|p| self.org.issuer != IssuerKind::Public || refusal(&p.name).is_none())
    }

    // ---- 2. validate and merge ------------------------------------------

    fn entries(&mut self, candidates: Vec<Candidate>) -> Vec<Entry> {
        let mut entries: Vec<Entry> = Vec::new();
        let mut index: HashMap<SubjectName, usize> = HashMap::new();
        // per entry: how each duplicate was written and where
        let mut seen: Vec<Vec<(String, String)>> = Vec::new();
        for c in candidates {
            let parsed = match parse_name(&c.typed) {
                Ok(p) => p,
                Err(e) => {
                    self.find(
                        Severity::Error,
                        FindingCode::InvalidName,
                        vec![c.typed.clone()],
                        format!("{e} (it is {}); it is left out of the certificate.", c.origin.describe()),
                        "Correct the name: letters, digits and hyphens in labels of 1 to 63 characters separated by dots, a wildcard only as the whole first label (*.contoso.com).".into(),
                    );
                    continue;
                }
            };
            match index.get(&parsed.name) {
                Some(&i) => {
                    let entry = &mut entries[i];
                    if !entry.origins.contains(&c.origin) {
                        entry.reasons.push(c.reason);
                        entry.origins.push(c.origin.clone());
                    }
                    if !entry.scopes.contains(&c.scope) {
                        entry.scopes.push(c.scope);
                    }
                    seen[i].push((c.typed, c.origin.describe()));
                }
                None => {
                    let text = parsed.name.to_string();
                    index.insert(parsed.name.clone(), entries.len());
                    seen.push(vec![(c.typed, c.origin.describe())]);
                    entries.push(Entry {
                        refusal: refusal(&parsed.name),
                        text,
                        unicode: parsed.unicode,
                        reasons: vec![c.reason],
                        origins: vec![c.origin],
                        scopes: vec![c.scope],
                    });
                }
            }
        }
        for (entry, seen) in entries.iter().zip(&seen) {
            if let Some(unicode) = &entry.unicode {
                self.find(
                    Severity::Info,
                    FindingCode::IdnConverted,
                    vec![entry.text.clone()],
                    format!(
                        "{unicode} is an internationalised name: it goes on the certificate as {} (punycode), the form clients compare.",
                        entry.text
                    ),
                    format!("Nothing to do; make sure DNS holds {} too.", entry.text),
                );
            }
            if seen.len() > 1 {
                let how: Vec<String> = seen
                    .iter()
                    .map(|(typed, origin)| format!("\"{typed}\" as {origin}"))
                    .collect();
                self.find(
                    Severity::Info,
                    FindingCode::DuplicateName,
                    vec![entry.text.clone()],
                    format!(
                        "{} is listed {} times ({}): it goes on the certificate once (names are not case-sensitive).",
                        entry.text,
                        seen.len(),
                        how.join(", ")
                    ),
                    "Nothing to do; list each name once to keep the description readable.".into(),
                );
            }
        }
        entries
    }

    // ---- 3. judge against the issuer ------------------------------------

    fn judge(&mut self, entries: &[Entry]) {
        let issuer = self.org.issuer;
        let mut internal: Vec<(String, String)> = Vec::new();
        let mut single = Vec::new();
        let mut ips: Vec<(String, &'static str)> = Vec::new();
        let mut server_names = false;
        for e in entries {
            match &e.refusal {
                None => continue,
                Some(Refusal::InternalTld(tld)) => internal.push((e.text.clone(), tld.clone())),
                Some(Refusal::SingleLabel) => single.push(e.text.clone()),
                Some(Refusal::ReservedIp(range)) => ips.push((e.text.clone(), range)),
            }
            server_names |=
                e.has_origin(|o| matches!(o, Origin::ServerFqdn { .. } | Origin::EdgeFqdn { .. }));
        }
        let public = issuer == IssuerKind::Public;
        let severity = if public {
            Severity::Error
        } else {
            Severity::Info
        };
        let trust_note = match issuer {
            IssuerKind::SelfSigned => "Fine on a self-signed certificate, which every client must trust by hand anyway.",
            _ => "Fine with a private CA, which only your own clients need to trust. Domain-joined Windows computers get the root by group policy; phones, Macs, home computers and partners must import it.",
        };
        let server_fix = if server_names {
            " For server FQDNs: leave them out (policy.include_server_fqdns = false)."
        } else {
            ""
        };
        let public_fix = format!(
            "Have clients use a name in a domain you own (mail.contoso.com) and publish it in split DNS, so it resolves to the internal address inside and the public one outside; set the internal URLs to it. Or take a certificate from your private CA for these names (issuer = \"private\").{server_fix}"
        );

        if !internal.is_empty() {
            let names: Vec<String> = internal.iter().map(|(n, _)| n.clone()).collect();
            let mut tlds: Vec<String> = internal.iter().map(|(_, t)| t.clone()).collect();
            tlds.sort();
            tlds.dedup();
            let (message, fix) = if public {
                (
                    format!(
                        "{} {} under {}, which {}: public CAs refuse internal names since 1 November 2015, so {} left out of this certificate.",
                        list(&names),
                        if names.len() == 1 { "is" } else { "are" },
                        list(&tlds),
                        if tlds.len() == 1 { "is not a public domain" } else { "are not public domains" },
                        if names.len() == 1 { "it is" } else { "they are" }
                    ),
                    public_fix.clone(),
                )
            } else {
                (
                    format!(
                        "{} {} internal top-level domains ({}). {trust_note}",
                        list(&names),
                        if names.len() == 1 { "uses" } else { "use" },
                        list(&tlds)
                    ),
                    "Nothing to do for domain members; distribute the root to the other clients."
                        .into(),
                )
            };
            self.find(severity, FindingCode::InternalName, names, message, fix);
        }
        if !single.is_empty() {
            let message = if public {
                format!(
                    "{} {} no domain at all (a single label): public CAs refuse such names, so {} left out of this certificate. Clients reach single-label names only through a DNS search suffix.",
                    list(&single),
                    if single.len() == 1 { "has" } else { "have" },
                    if single.len() == 1 { "it is" } else { "they are" }
                )
            } else {
                format!(
                    "{} {} single-label (no domain): clients reach {} only through a DNS search suffix. {trust_note}",
                    list(&single),
                    if single.len() == 1 { "is" } else { "are" },
                    if single.len() == 1 { "it" } else { "them" }
                )
            };
            let fix = if public {
                public_fix.clone()
            } else {
                "Prefer fully qualified names (mail.contoso.com) so clients outside the search domain work too.".into()
            };
            self.find(severity, FindingCode::SingleLabelName, single, message, fix);
        }
        if !ips.is_empty() {
            let names: Vec<String> = ips.iter().map(|(n, _)| n.clone()).collect();
            let ranges: Vec<String> = ips.iter().map(|(n, r)| format!("{n} is in {r}")).collect();
            let message = if public {
                format!(
                    "Private or reserved IP addresses cannot be on a certificate from a public CA ({}); they are left out.",
                    ranges.join("; ")
                )
            } else {
                format!("{}. {trust_note}", ranges.join("; "))
            };
            let fix = if public {
                "Have clients connect by a DNS name you own (mail.contoso.com), never by address."
                    .to_string()
            } else {
                "Prefer DNS names: addresses change, and clients connecting by address rarely check them.".to_string()
            };
            self.find(severity, FindingCode::PrivateIp, names, message, fix);
        }
    }

    fn split_namespace(&mut self, entries: &[Entry]) {
        let internal_only: Vec<&Entry> = entries
            .iter()
            .filter(|e| {
                e.has_origin(|o| *o == Origin::Internal)
                    && !e.has_origin(|o| *o == Origin::ClientAccess)
            })
            .collect();
        if internal_only.is_empty() {
            return;
        }
        let names: Vec<String> = internal_only.iter().map(|e| e.text.clone()).collect();
        let external: Vec<String> = entries
            .iter()
            .filter(|e| e.has_origin(|o| *o == Origin::ClientAccess))
            .map(|e| e.text.clone())
            .collect();
        let public = self.org.issuer == IssuerKind::Public;
        let refused = public && internal_only.iter().any(|e| e.refusal.is_some());
        self.find(
            if public { Severity::Warning } else { Severity::Info },
            FindingCode::SplitNamespace,
            names.clone(),
            format!(
                "Clients inside use other names ({}) than outside ({}): every extra name is one more on the certificate and one more URL to keep right{}.",
                list(&names),
                list(&external),
                if refused { ", and a public CA refuses the internal ones" } else { "" }
            ),
            format!(
                "Use one namespace inside and out (split DNS): on the internal DNS servers, add a zone for {} (a zone for just that name is enough) that resolves to the internal load balancer or server, set the internal URLs to the same names, then remove namespaces.internal.",
                external.first().cloned().unwrap_or_else(|| "the client-access name".into())
            ),
        );
    }

    // ---- 4. certificates ------------------------------------------------

    fn drafts(&self) -> Vec<Draft> {
        let org = self.org;
        let whole = || Draft {
            cut: Cut::Whole,
            servers: self.cert_servers.clone(),
        };
        match org.policy.certificates {
            CertificateSplit::Single => vec![whole()],
            CertificateSplit::PerSite => {
                let mut drafts: Vec<Draft> = (0..org.sites.len())
                    .map(|s| Draft {
                        cut: Cut::Site(s),
                        servers: self
                            .cert_servers
                            .iter()
                            .copied()
                            .filter(|&i| self.site_of(i) == Some(s))
                            .collect(),
                    })
                    .collect();
                let unsited: Vec<usize> = self
                    .cert_servers
                    .iter()
                    .copied()
                    .filter(|&i| self.site_of(i).is_none())
                    .collect();
                if !unsited.is_empty() {
                    drafts.push(Draft {
                        cut: Cut::Unsited,
                        servers: unsited,
                    });
                }
                drafts
            }
            CertificateSplit::PerServer if self.cert_servers.is_empty() => vec![whole()],
            CertificateSplit::PerServer => self
                .cert_servers
                .iter()
                .map(|&i| Draft {
                    cut: Cut::Server(i),
                    servers: vec![i],
                })
                .collect(),
        }
    }

    /// The index of the site server `i` is in.
    fn site_of(&self, i: usize) -> Option<usize> {
        let site = self.org.servers[i].site.as_deref()?;
        self.org.sites.iter().position(|s| s.name == site)
    }

    fn in_draft(&self, scope: Scope, draft: &Draft) -> bool {
        match (draft.cut, scope) {
            (Cut::Whole, _) | (_, Scope::Everywhere) => true,
            (Cut::Site(s), Scope::Site(t)) => s == t,
            (Cut::Site(s), Scope::Server(i)) => self.site_of(i) == Some(s),
            (Cut::Unsited, Scope::Site(_)) => false,
            (Cut::Unsited, Scope::Server(i)) => self.site_of(i).is_none(),
            (Cut::Server(j), Scope::Site(t)) => self.site_of(j) == Some(t),
            (Cut::Server(j), Scope::Server(i)) => i == j,
        }
    }

    fn build(
        &mut self,
        draft: &Draft,
        entries: &[Entry],
        max_validity_days: u32,
    ) -> Option<PlannedCertificate> {
        let public = self.org.issuer == IssuerKind::Public;
        let mut slots: Vec<Slot> = entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.scopes.iter().any(|s| self.in_draft(*s, draft)))
            .filter(|(_, e)| !(public && e.refusal.is_some()))
            .map(|(i, e)| Slot {
                text: e.text.clone(),
                reason: e.reasons.join("; also "),
                unicode: e.unicode.clone(),
                entry: Some(i),
            })
            .collect();

        self.wildcards(&mut slots, entries);

        if slots.is_empty() {
            return None;
        }
        if let Some(own) = self.own_name(draft, &slots, entries) {
            let slot = slots.remove(own);
            slots.insert(0, slot);
        }
        let subject = format!("CN={}", slots[0].text);
        let count = slots.len();
        if count > MANY_NAMES {
            self.find(
                Severity::Warning,
                FindingCode::TooManyNames,
                Vec::new(),
                format!(
                    "The certificate {subject} has {count} names (more than {MANY_NAMES}): every handshake carries them all, some clients and devices choke on large certificates, and every change to any name means replacing it."
                ),
                "Drop what clients do not use: server FQDNs, internal names (split DNS), the legacy name after coexistence; use autodiscover SRV records for domains with few users; or prefer_wildcard where names share a domain.".into(),
            );
        }
        if let Some(max) = self.org.policy.max_names {
            if count > max as usize {
                self.find(
                    Severity::Error,
                    FindingCode::OverCaLimit,
                    // The names past the limit: the last in order, the least needed.
                    slots[(max as usize).min(count)..].iter().map(|s| s.text.clone()).collect(),
                    format!("The certificate {subject} needs {count} names, but the CA product allows {max} (policy.max_names): the CA will refuse the request."),
                    format!("Remove {} names (server FQDNs, internal names, unused autodiscover names first), buy a product with more names, or split with policy.certificates = \"per-site\".", count - max as usize),
                );
            }
        }

        let servers = draft
            .servers
            .iter()
            .map(|&i| self.org.servers[i].name.clone())
            .collect();
        Some(PlannedCertificate {
            subject,
            issuer: self.org.issuer,
            max_validity_days,
            names: slots
                .into_iter()
                .map(|s| PlannedName {
                    name: s.text,
                    reason: s.reason,
                    unicode: s.unicode,
                })
                .collect(),
            servers,
        })
    }

    /// The name that tells a per-site or per-server certificate from its
    /// siblings, which share the other names: the server's own FQDN, else
    /// the site's own client-access name, else its own internal name. It
    /// becomes the common name, so `list` shows each pending request under
    /// a subject of its own. `None` for the one certificate of `single`
    /// and when the draft has no name of its own.
    fn own_name(&self, draft: &Draft, slots: &[Slot], entries: &[Entry]) -> Option<usize> {
        let own_to = |slot: &Slot, scope: Scope, origin: fn(&Origin) -> bool| {
            slot.entry.is_some_and(|e| {
                let entry = &entries[e];
                entry.scopes.iter().all(|s| *s == scope) && entry.has_origin(origin)
            })
        };
        let site_name = |site: usize| {
            let scope = Scope::Site(site);
            slots
                .iter()
                .position(|s| own_to(s, scope, |o| *o == Origin::ClientAccess))
                .or_else(|| {
                    slots
                        .iter()
                        .position(|s| own_to(s, scope, |o| *o == Origin::Internal))
                })
        };
        match draft.cut {
            Cut::Whole | Cut::Unsited => None,
            Cut::Site(site) => site_name(site),
            Cut::Server(server) => slots
                .iter()
                .position(|s| {
                    own_to(s, Scope::Server(server), |o| {
                        matches!(o, Origin::ServerFqdn { .. } | Origin::EdgeFqdn { .. })
                    })
                })
                .or_else(|| self.site_of(server).and_then(site_name)),
        }
    }

    /// Certificates that would still share a subject: `list` cannot tell
    /// their pending requests apart, and they carry the same names.
    fn same_subjects(&mut self, certificates: &[PlannedCertificate]) {
        let mut by_subject: BTreeMap<&str, Vec<&PlannedCertificate>> = BTreeMap::new();
        for c in certificates {
            by_subject.entry(c.subject.as_str()).or_default().push(c);
        }
        let per_server = self.org.policy.certificates == CertificateSplit::PerServer;
        for (subject, same) in by_subject {
            if same.len() < 2 {
                continue;
            }
            let servers: Vec<String> = same.iter().flat_map(|c| c.servers.clone()).collect();
            let fix = if per_server {
                "Give each server an FQDN the issuer accepts (a public CA refuses internal names), or use certificates = \"single\": one SAN certificate for all servers is the advice."
            } else {
                "Give each [[site]] a client_access name of its own (its common name), or use certificates = \"single\": one SAN certificate for all servers is the advice."
            };
            self.find(
                Severity::Warning,
                FindingCode::SameSubject,
                vec![same[0].common_name().to_string()],
                format!(
                    "{} certificates would have the same subject {subject} (for {}): nothing of their own tells them apart, so `mailcert list` shows their pending requests alike.",
                    same.len(),
                    list(&servers)
                ),
                fix.into(),
            );
        }
    }

    /// Applies wildcards on one certificate: those the administrator wrote,
    /// and with `prefer_wildcard` one per parent domain that would replace at
    /// least two names. Names a wildcard covers are replaced by it.
    fn wildcards(&mut self, slots: &mut Vec<Slot>, entries: &[Entry]) {
        let prefer = self.org.policy.prefer_wildcard;
        if prefer {
            let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
            for (i, slot) in slots.iter().enumerate() {
                if slot.text.starts_with("*.") || slot.text.parse::<std::net::IpAddr>().is_ok() {
                    continue;
                }
                if let Some((_, parent)) = slot.text.split_once('.') {
                    if parent.contains('.') {
                        groups.entry(parent.to_string()).or_default().push(i);
                    }
                }
            }
            let mut made = Vec::new();
            for (parent, members) in &groups {
                let wildcard = format!("*.{parent}");
                if members.len() < 2 || slots.iter().any(|s| s.text == wildcard) {
                    continue;
                }
                let replaced: Vec<String> =
                    members.iter().map(|&i| slots[i].text.clone()).collect();
                made.push((
                    members[0],
                    Slot {
                        text: wildcard,
                        reason: format!(
                            "wildcard (policy.prefer_wildcard) for {}",
                            list(&replaced)
                        ),
                        unicode: None,
                        entry: None,
                    },
                ));
            }
            // Insert each wildcard just before the first name it replaces.
            made.sort_by_key(|m| std::cmp::Reverse(m.0));
            for (at, slot) in made {
                slots.insert(at, slot);
            }
        }

        let wildcards: Vec<String> = slots
            .iter()
            .filter(|s| s.text.starts_with("*."))
            .map(|s| s.text.clone())
            .collect();
        if wildcards.is_empty() {
            if prefer {
                self.find(
                    Severity::Info,
                    FindingCode::WildcardScope,
                    Vec::new(),
                    "policy.prefer_wildcard is set, but no two names share a parent domain: a wildcard would replace a single name, so the plan keeps exact names.".into(),
                    "Nothing to do.".into(),
                );
            }
            return;
        }

        let mut replaced: HashMap<String, Vec<String>> = HashMap::new();
        slots.retain(|s| {
            if s.text.starts_with("*.") {
                return true;
            }
            match wildcards
                .iter()
                .find(|w| name_matches(w, &s.text) == Some(NameMatch::Wildcard))
            {
                Some(w) => {
                    replaced.entry(w.clone()).or_default().push(s.text.clone());
                    false
                }
                None => true,
            }
        });

        for w in &wildcards {
            let parent = w.trim_start_matches("*.");
            let covered = replaced.get(w).cloned().unwrap_or_default();
            let outside: Vec<String> = slots
                .iter()
                .filter(|s| !s.text.starts_with("*."))
                .filter(|s| s.text == parent || s.text.ends_with(&format!(".{parent}")))
                .map(|s| s.text.clone())
                .collect();
            if let Some(slot) = slots.iter_mut().find(|s| &s.text == w) {
                if slot.entry.is_some() && !covered.is_empty() {
                    slot.reason
                        .push_str(&format!("; replaces {}", list(&covered)));
                }
            }
            let replaces = if covered.is_empty() {
                "it replaces no other name on this certificate".to_string()
            } else {
                format!("it replaces {}", list(&covered))
            };
            let stays = if outside.is_empty() {
                String::new()
            } else {
                format!(
                    " {} {} on the certificate as names of their own.",
                    list(&outside),
                    if outside.len() == 1 { "stays" } else { "stay" }
                )
            };
            let mut names = vec![w.clone()];
            names.extend(covered);
            self.find(
                Severity::Warning,
                FindingCode::WildcardScope,
                names,
                format!(
                    "{w} covers exactly one label under {parent}: {replaces}. It does not cover {parent} itself, nor names further down such as a.b.{parent}, nor any other domain.{stays}"
                ),
                format!(
                    "For Outlook Anywhere and MAPI over HTTP, set the certificate principal name to msstd:{w} (Exchange: Set-OutlookProvider EXPR -CertPrincipalName \"msstd:{w}\"). Outlook 2007, early Outlook 2010 builds, Windows Mobile and some older ActiveSync devices mishandle wildcards, and Exchange Unified Messaging cannot use one: if those clients matter, list exact names instead of a wildcard (and prefer_wildcard = false)."
                ),
            );
        }

        let uncovered: Vec<String> = slots
            .iter()
            .filter(|s| {
                s.entry.is_some_and(|i| {
                    entries[i].has_origin(|o| matches!(o, Origin::Autodiscover { .. }))
                })
            })
            .map(|s| s.text.clone())
            .collect();
        if !uncovered.is_empty() {
            let domains: Vec<String> = uncovered
                .iter()
                .map(|n| n.strip_prefix("autodiscover.").unwrap_or(n).to_string())
                .collect();
            let target = self.first_client_access();
            self.find(
                Severity::Warning,
                FindingCode::WildcardAutodiscover,
                uncovered.clone(),
                format!(
                    "{} {} not cover {}: a wildcard covers one label of one domain, and each accepted domain needs its own autodiscover name. {} on the certificate as {}.",
                    list(&wildcards),
                    if wildcards.len() == 1 { "does" } else { "do" },
                    list(&uncovered),
                    if uncovered.len() == 1 { "It stays" } else { "They stay" },
                    if uncovered.len() == 1 { "a name of its own" } else { "names of their own" },
                ),
                format!(
                    "Keep them (this plan does), or publish SRV records for {} (_autodiscover._tcp.<domain> pointing at {target}) and set namespaces.autodiscover_by_domain to \"srv\" for them.",
                    list(&domains)
                ),
            );
        }
    }

    // ---- 5. validity and issuer -----------------------------------------

    fn validity(&mut self, max: u32) {
        let org = self.org;
        let date = self.date;
        let (message, severity, fix) = match org.issuer {
            IssuerKind::Public => {
                let next = match next_public_step(date) {
                    Some((d, days)) => format!(" From {d} the limit is {days} days."),
                    None => String::new(),
                };
                (
                    format!("A public CA issues certificates valid for at most {max} days on {date} (CA/Browser Forum).{next}"),
                    Severity::Info,
                    "Plan renewals accordingly.".to_string(),
                )
            }
            IssuerKind::Private => (
                format!("This plan caps private-CA certificates at {max} days: Apple devices (iOS 13, macOS 10.15 and later) refuse TLS server certificates valid for longer, even from a root they trust."),
                Severity::Info,
                "Nothing to do; a shorter validity is fine if your CA renews easily.".to_string(),
            ),
            IssuerKind::SelfSigned => (
                format!("A self-signed certificate is made for {max} days (5 years): it is meant to be replaced by a CA-issued one, not renewed."),
                Severity::Info,
                "Nothing to do.".to_string(),
            ),
        };
        let (message, severity, fix) = match org.policy.validity_days {
            Some(asked) if asked > max => (
                format!("policy.validity_days asks for {asked} days, but the longest allowed is {max}. {message}"),
                Severity::Warning,
                format!("Set policy.validity_days to {max} or less, or remove it to get the longest allowed."),
            ),
            _ => (message, severity, fix),
        };
        self.find(
            severity,
            FindingCode::ValidityLimit,
            Vec::new(),
            message,
            fix,
        );

        if org.issuer == IssuerKind::Public && !org.policy.acme && max <= 200 {
            let per_year = 365_u32.div_ceil(max.saturating_sub(max / 6).max(1));
            let reuse = if max <= 47 {
                " Domain validation is reused for only 10 days at that point, so nearly every renewal also means proving the domains again."
            } else {
                ""
            };
            self.find(
                if max <= 100 { Severity::Warning } else { Severity::Info },
                FindingCode::AutomationRecommended,
                Vec::new(),
                format!("With {max}-day certificates, renewing in time means replacing the certificate about {per_year} times a year on every server.{reuse}"),
                "Automate with ACME (mailcert acme), which renews and rebinds by itself; then set policy.acme = true.".into(),
            );
        }
    }

    fn issuer_advice(&mut self) {
        let org = self.org;
        match org.issuer {
            IssuerKind::Public => {}
            IssuerKind::Private => {
                let facing: Vec<String> = self
                    .cert_servers
                    .iter()
                    .filter(|&&i| org.servers[i].internet_facing)
                    .map(|&i| org.servers[i].name.clone())
                    .collect();
                if facing.is_empty() {
                    self.find(
                        Severity::Info,
                        FindingCode::PrivateCaTrust,
                        Vec::new(),
                        "Clients trust a private CA only once its root is installed: domain-joined Windows computers get it by group policy; phones, Macs and home computers must import it, or they warn on every connection.".into(),
                        "Distribute the root certificate (group policy, an MDM profile for phones) before binding the certificate.".into(),
                    );
                } else {
                    self.find(
                        Severity::Warning,
                        FindingCode::PrivateCaTrust,
                        facing.clone(),
                        format!(
                            "{} {} internet-facing, but a private CA is trusted only by clients that imported its root: phones, home computers and other organisations' mail servers will warn or refuse.",
                            list(&facing),
                            if facing.len() == 1 { "is" } else { "are" }
                        ),
                        "Use a public CA (issuer = \"public\") for the names internet clients use; keep the private CA for servers only domain members reach.".into(),
                    );
                }
            }
            IssuerKind::SelfSigned => self.find(
                Severity::Warning,
                FindingCode::SelfSigned,
                Vec::new(),
                "A self-signed certificate is trusted by no client until someone installs it on that client: Outlook shows a security alert, phones refuse or ask, and other mail servers cannot validate it. It is the secure-by-default stopgap, not a plan.".into(),
                "Get a certificate from a public CA (issuer = \"public\", ACME makes it free and automatic), or from your private CA for servers only domain members reach.".into(),
            ),
        }
    }

    fn backend_servers(&mut self) {
        let org = self.org;
        let others: Vec<String> = (0..org.servers.len())
            .filter(|i| !self.cert_servers.contains(i))
            .map(|i| org.servers[i].name.clone())
            .collect();
        if others.is_empty() {
            return;
        }
        let fqdns = (0..org.servers.len())
            .filter(|i| !self.cert_servers.contains(i))
            .map(|i| org.servers[i].fqdn.clone())
            .collect();
        self.find(
            Severity::Info,
            FindingCode::BackendServers,
            fqdns,
            format!(
                "{} {} not get this certificate: {} backend or not internet-facing. Servers that only other servers reach keep their own self-signed certificate; servers that domain members reach directly can use a certificate from your private CA.",
                list(&others),
                if others.len() == 1 { "does" } else { "do" },
                if others.len() == 1 { "it is" } else { "they are" }
            ),
            "Nothing to do, unless clients connect to these servers directly: then mark them internet_facing = true, or point the clients at the namespace.".into(),
        );
    }
}
