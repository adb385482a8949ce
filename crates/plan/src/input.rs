//! The organisation description: TOML read into raw structs (every unknown
//! key refused), then checked into an [`Organization`] whose errors name
//! the file, the line and the field.
//!
//! Names are kept as the administrator typed them: whether they can go on
//! a certificate is the planner's business, and it answers with findings,
//! not errors.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use toml::Spanned;

use mailcert_tomlplace::{closest, dotted, locate, OpenKind, Place, Unknown, UnknownKind};

use mailcert_mtasts::MxPattern;
use mailcert_x509::names::{parse_name, SubjectName};

use crate::error::PlanError;

/// Who signs the certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IssuerKind {
    /// A CA that clients trust out of the box (commercial or ACME).
    Public,
    /// A CA of the organisation: only clients that import its root trust it.
    Private,
    /// The certificate signs itself: secure by default, meant to be temporary.
    #[serde(alias = "selfsigned", alias = "self_signed")]
    SelfSigned,
}

impl IssuerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IssuerKind::Public => "public",
            IssuerKind::Private => "private",
            IssuerKind::SelfSigned => "self-signed",
        }
    }
}

impl fmt::Display for IssuerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How clients of a domain find their settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AutodiscoverMode {
    /// `autodiscover.<domain>`: the name must be on the certificate.
    Names,
    /// An SRV record `_autodiscover._tcp.<domain>` points at a client-access
    /// name: no autodiscover name on the certificate.
    Srv,
    /// No autodiscover: clients are set up by hand.
    None,
}

/// What a server does, as far as certificates are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Serves clients and mailboxes (the usual single role since Exchange 2016).
    #[default]
    Mailbox,
    /// Front end only: proxies clients to mailbox servers.
    #[serde(alias = "cas", alias = "frontend")]
    ClientAccess,
    /// Reached only by other servers: keeps its own self-signed certificate.
    Backend,
    /// SMTP at the edge of the network; its FQDN is the MX host name.
    Edge,
}

/// How many certificates to plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CertificateSplit {
    /// One SAN certificate for every server that clients reach (the advice).
    #[default]
    Single,
    /// One certificate per `[[site]]`.
    PerSite,
    /// One certificate per server that clients reach (only when asked).
    PerServer,
}

/// A list of names written either as one string or as an array.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct NameList(Vec<String>);

impl<'de> Deserialize<'de> for NameList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = NameList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a name (\"mail.contoso.com\") or a list of names")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<NameList, E> {
                Ok(NameList(vec![v.to_string()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NameList, A::Error> {
                let mut out = Vec::new();
                while let Some(name) = seq.next_element::<String>()? {
                    out.push(name);
                }
                Ok(NameList(out))
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrg {
    organization: RawOrganization,
    #[serde(default)]
    namespaces: RawNamespaces,
    #[serde(default, rename = "site")]
    sites: Vec<RawSite>,
    #[serde(default, rename = "server")]
    servers: Vec<RawServer>,
    coexistence: Option<RawCoexistence>,
    #[serde(default)]
    policy: RawPolicy,
    #[serde(default)]
    mx: Vec<RawMx>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMx {
    host: Spanned<String>,
    domains: Option<Spanned<NameList>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrganization {
    name: Option<String>,
    accepted_domains: Spanned<NameList>,
    issuer: IssuerKind,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNamespaces {
    #[serde(default)]
    client_access: NameList,
    autodiscover: Option<AutodiscoverMode>,
    autodiscover_by_domain: Option<Spanned<BTreeMap<String, AutodiscoverMode>>>,
    #[serde(default)]
    legacy: NameList,
    #[serde(default)]
    internal: NameList,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSite {
    name: Spanned<String>,
    #[serde(default)]
    client_access: NameList,
    #[serde(default)]
    internal: NameList,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    name: Spanned<String>,
    fqdn: String,
    #[serde(default)]
    internet_facing: bool,
    #[serde(default)]
    role: Role,
    site: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCoexistence {
    older_version: String,
    until: Option<Spanned<toml::value::Datetime>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    include_server_fqdns: bool,
    #[serde(default)]
    prefer_wildcard: bool,
    max_names: Option<Spanned<u32>>,
    validity_days: Option<Spanned<u32>>,
    #[serde(default)]
    acme: bool,
    #[serde(default)]
    certificates: CertificateSplit,
    #[serde(default)]
    mta_sts: bool,
    mta_sts_mx: Option<Spanned<NameList>>,
    caa_issuer: Option<Spanned<String>>,
}

/// A site whose clients use names of their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub name: String,
    pub client_access: Vec<String>,
    pub internal: Vec<String>,
}

/// A server of the organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub name: String,
    pub fqdn: String,
    pub internet_facing: bool,
    pub role: Role,
    pub site: Option<String>,
}

/// An older version still serving mailboxes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coexistence {
    /// As the administrator wrote it: `exchange-2010`, `2007`, `dovecot 2.2`.
    pub older_version: String,
    /// When the older servers are planned to be gone.
    pub until: Option<time::Date>,
}

impl Coexistence {
    /// Exchange 2007 and older cannot be proxied to by newer client-access
    /// servers: their users need a legacy namespace of their own.
    pub fn needs_legacy_namespace(&self) -> bool {
        let v = self.older_version.to_ascii_lowercase();
        v.contains("2007") || v.contains("2003")
    }
}

/// The policy knobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub include_server_fqdns: bool,
    pub prefer_wildcard: bool,
    /// The CA product's limit on names per certificate.
    pub max_names: Option<u32>,
    /// The validity the administrator wants, when it matters to them.
    pub validity_days: Option<u32>,
    /// Renewal is automated (ACME): short validities are no burden.
    pub acme: bool,
    pub certificates: CertificateSplit,
    /// MTA-STS: `mta-sts.<domain>` goes on the certificate for every
    /// accepted domain, and the MX hosts are checked against it.
    pub mta_sts: bool,
    /// The `mx` lines the MTA-STS policy lists (`[[mta_sts]] mx` of the
    /// front end); empty: the MX host names themselves.
    pub mta_sts_mx: Vec<MxPattern>,
    /// The CA's issuer domain for CAA (`digicert.com`), when written.
    pub caa_issuer: Option<String>,
}

/// An MX host of the organisation (`[[mx]]`): what sending servers
/// connect to on port 25 and validate under MTA-STS and DANE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxHost {
    /// Lower-case ASCII, no final dot.
    pub host: String,
    /// The accepted domains whose MX records name it (lower case); all of
    /// them when `[[mx]] domains` is not written.
    pub domains: Vec<String>,
}

/// A checked organisation description: what the planner works from.
/// Build it with [`Organization::from_toml`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    /// The file name (or other label) used in messages.
    pub source: String,
    pub name: Option<String>,
    pub accepted_domains: Vec<String>,
    pub issuer: IssuerKind,
    pub client_access: Vec<String>,
    pub internal: Vec<String>,
    pub autodiscover: AutodiscoverMode,
    /// Per-domain exceptions, keys lower case.
    pub autodiscover_by_domain: BTreeMap<String, AutodiscoverMode>,
    pub legacy: Vec<String>,
    pub sites: Vec<Site>,
    pub servers: Vec<Server>,
    pub coexistence: Option<Coexistence>,
    pub policy: Policy,
    /// `[[mx]]`: the MX hosts, when the description lists them.
    pub mx: Vec<MxHost>,
}

impl Organization {
    /// Reads and checks an organisation description. `source` names the
    /// file in error messages.
    pub fn from_toml(text: &str, source: &str) -> Result<Organization, PlanError> {
        let raw: RawOrg = toml::from_str(text).map_err(|e| read_error(text, source, &e))?;
        Checker { text, source }.check(raw)
    }

    /// The issuer domain CAA records must allow: `policy.caa_issuer`, else
    /// Let's Encrypt's for a public issuer with ACME; `None` when the CA
    /// is not known, or is not a public CA (CAA binds public CAs only).
    pub fn caa_issuer(&self) -> Option<String> {
        if self.issuer != IssuerKind::Public {
            return None;
        }
        self.policy.caa_issuer.clone().or_else(|| {
            self.policy
                .acme
                .then(|| crate::caa::LETS_ENCRYPT.to_string())
        })
    }

    /// The autodiscover mode for one accepted domain (lower case, ASCII or
    /// as written).
    pub fn autodiscover_for(&self, domain: &str) -> AutodiscoverMode {
        self.autodiscover_by_domain
            .get(&domain.to_lowercase())
            .copied()
            .unwrap_or(self.autodiscover)
    }
}

struct Checker<'a> {
    text: &'a str,
    source: &'a str,
}

impl Checker<'_> {
    fn invalid(
        &self,
        offset: Option<usize>,
        field: impl Into<String>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> PlanError {
        PlanError::Invalid {
            file: self.source.to_string(),
            line: offset.map(|o| locate(self.text, o).at.line),
            field: field.into(),
            message: message.into(),
            fix: fix.into(),
        }
    }

    fn check(&self, raw: RawOrg) -> Result<Organization, PlanError> {
        let organization = raw.organization;
        let domains_span = organization.accepted_domains.span();
        let accepted_domains: Vec<String> = organization
            .accepted_domains
            .into_inner()
            .0
            .into_iter()
            .map(|d| d.trim().to_string())
            .collect();
        if accepted_domains.is_empty() {
            return Err(self.invalid(
                Some(domains_span.start),
                "organization.accepted_domains",
                "no accepted domain is listed.",
                "list the SMTP domains your users have addresses in, e.g. accepted_domains = [\"contoso.com\"].",
            ));
        }

        let mut site_names = HashSet::new();
        let mut sites = Vec::new();
        for (i, s) in raw.sites.into_iter().enumerate() {
            let span = s.name.span();
            let name = s.name.into_inner();
            if name.trim().is_empty() {
                return Err(self.invalid(
                    Some(span.start),
                    format!("site[{}].name", i + 1),
                    "the site has an empty name.",
                    "give every [[site]] a name, e.g. name = \"London\".",
                ));
            }
            if !site_names.insert(name.to_lowercase()) {
                return Err(self.invalid(
                    Some(span.start),
                    format!("site[{}].name", i + 1),
                    format!("site \"{name}\" is described twice."),
                    "merge the two [[site]] tables, or rename one.",
                ));
            }
            sites.push(Site {
                name,
                client_access: s.client_access.0,
                internal: s.internal.0,
            });
        }

        let mut server_names = HashSet::new();
        let mut servers = Vec::new();
        for (i, s) in raw.servers.into_iter().enumerate() {
            let span = s.name.span();
            let name = s.name.into_inner();
            if name.trim().is_empty() {
                return Err(self.invalid(
                    Some(span.start),
                    format!("server[{}].name", i + 1),
                    "the server has an empty name.",
                    "give every [[server]] a name, e.g. name = \"EX1\".",
                ));
            }
            if !server_names.insert(name.to_lowercase()) {
                return Err(self.invalid(
                    Some(span.start),
                    format!("server[{}].name", i + 1),
                    format!("server \"{name}\" is described twice."),
                    "describe each server once; server names are not case-sensitive.",
                ));
            }
            let site = match s.site {
                None => None,
                Some(site) => {
                    let span = site.span();
                    let site = site.into_inner();
                    match sites
                        .iter()
                        .find(|known| known.name.eq_ignore_ascii_case(&site))
                    {
                        Some(known) => Some(known.name.clone()),
                        None => {
                            let known: Vec<&str> = sites.iter().map(|k| k.name.as_str()).collect();
                            let fix = if known.is_empty() {
                                format!("add a [[site]] table with name = \"{site}\", or remove the site key.")
                            } else {
                                format!(
                                    "use one of the described sites ({}), or add a [[site]] table with name = \"{site}\".",
                                    known.join(", ")
                                )
                            };
                            return Err(self.invalid(
                                Some(span.start),
                                format!("server[{}].site", i + 1),
                                format!("server \"{name}\" is in site \"{site}\", which no [[site]] table describes."),
                                fix,
                            ));
                        }
                    }
                }
            };
            servers.push(Server {
                name,
                fqdn: s.fqdn.trim().to_string(),
                internet_facing: s.internet_facing,
                role: s.role,
                site,
            });
        }

        let namespaces = raw.namespaces;
        let has_client_access = !namespaces.client_access.0.is_empty()
            || sites.iter().any(|s| !s.client_access.is_empty());
        if !has_client_access {
            return Err(self.invalid(
                None,
                "namespaces.client_access",
                "no client-access name is given: clients would have no name to connect to.",
                "add the name clients use, e.g. [namespaces] client_access = [\"mail.contoso.com\"] (or client_access in each [[site]]).",
            ));
        }

        let mut autodiscover_by_domain = BTreeMap::new();
        if let Some(map) = namespaces.autodiscover_by_domain {
            let span = map.span();
            for (domain, mode) in map.into_inner() {
                let key = domain.trim().trim_end_matches('.').to_lowercase();
                let accepted = accepted_domains.iter().any(|d| {
                    d.trim_end_matches('.').to_lowercase() == key
                        || d.trim_start_matches("*.").to_lowercase() == key
                });
                if !accepted {
                    return Err(self.invalid(
                        Some(span.start),
                        format!("namespaces.autodiscover_by_domain.\"{domain}\""),
                        format!("\"{domain}\" is not one of the accepted domains."),
                        format!(
                            "use a domain listed in organization.accepted_domains ({}), or add it there.",
                            accepted_domains.join(", ")
                        ),
                    ));
                }
                autodiscover_by_domain.insert(key, mode);
            }
        }

        let coexistence = match raw.coexistence {
            None => None,
            Some(c) => {
                let until = match c.until {
                    None => None,
                    Some(until) => {
                        let span = until.span();
                        let value = until.into_inner();
                        let date = value.date.and_then(|d| {
                            time::Month::try_from(d.month).ok().and_then(|m| {
                                time::Date::from_calendar_date(i32::from(d.year), m, d.day).ok()
                            })
                        });
                        match date {
                            Some(date) => Some(date),
                            None => {
                                return Err(self.invalid(
                                    Some(span.start),
                                    "coexistence.until",
                                    format!("{value} is not a date."),
                                    "write a bare TOML date, e.g. until = 2027-01-31.",
                                ))
                            }
                        }
                    }
                };
                Some(Coexistence {
                    older_version: c.older_version,
                    until,
                })
            }
        };

        let policy = raw.policy;
        if let Some(max) = &policy.max_names {
            if *max.get_ref() == 0 {
                return Err(self.invalid(
                    Some(max.span().start),
                    "policy.max_names",
                    "a certificate cannot have a limit of 0 names.",
                    "give the CA product's limit (often 100 or 250), or remove max_names when there is none.",
                ));
            }
        }
        if let Some(days) = &policy.validity_days {
            if *days.get_ref() == 0 {
                return Err(self.invalid(
                    Some(days.span().start),
                    "policy.validity_days",
                    "a validity of 0 days is not a certificate.",
                    "give the validity you want in days, or remove validity_days to get the longest allowed.",
                ));
            }
        }
        if policy.certificates == CertificateSplit::PerSite && sites.is_empty() {
            return Err(self.invalid(
                None,
                "policy.certificates",
                "one certificate per site is asked, but no [[site]] is described.",
                "describe the sites with [[site]] tables, or use certificates = \"single\" (the advice: one SAN certificate).",
            ));
        }

        let mx = self.mx_hosts(raw.mx, &accepted_domains)?;
        let mut mta_sts_mx = Vec::new();
        if let Some(list) = &policy.mta_sts_mx {
            for typed in &list.get_ref().0 {
                let pattern = MxPattern::parse(typed).map_err(|e| {
                    self.invalid(
                        Some(list.span().start),
                        "policy.mta_sts_mx",
                        format!("{e}."),
                        "list the mx lines of the MTA-STS policy as in [[mta_sts]] mx of the front end, e.g. mta_sts_mx = [\"mx1.contoso.com\", \"*.mx.contoso.com\"].",
                    )
                })?;
                mta_sts_mx.push(pattern);
            }
            if !policy.mta_sts {
                return Err(self.invalid(
                    Some(list.span().start),
                    "policy.mta_sts_mx",
                    "mta_sts_mx is given but policy.mta_sts is not true, so no MTA-STS policy is planned.",
                    "add mta_sts = true to [policy], or remove mta_sts_mx.",
                ));
            }
        }

        let caa_issuer = match &policy.caa_issuer {
            None => None,
            Some(typed) => {
                let text = typed.get_ref().trim().trim_end_matches('.');
                match parse_name(text).map(|p| p.name) {
                    Ok(SubjectName::Dns(domain)) if !domain.starts_with("*.") && domain.contains('.') => {
                        Some(domain)
                    }
                    _ => {
                        return Err(self.invalid(
                            Some(typed.span().start),
                            "policy.caa_issuer",
                            format!("\"{}\" is not an issuer domain.", typed.get_ref()),
                            "give the domain the CA documents for CAA records, e.g. caa_issuer = \"digicert.com\" (Let's Encrypt: letsencrypt.org, the default with acme = true).",
                        ))
                    }
                }
            }
        };

        Ok(Organization {
            source: self.source.to_string(),
            name: organization.name,
            accepted_domains,
            issuer: organization.issuer,
            client_access: namespaces.client_access.0,
            internal: namespaces.internal.0,
            autodiscover: namespaces.autodiscover.unwrap_or(AutodiscoverMode::Names),
            autodiscover_by_domain,
            legacy: namespaces.legacy.0,
            sites,
            servers,
            coexistence,
            policy: Policy {
                include_server_fqdns: policy.include_server_fqdns,
                prefer_wildcard: policy.prefer_wildcard,
                max_names: policy.max_names.map(|m| m.into_inner()),
                validity_days: policy.validity_days.map(|d| d.into_inner()),
                acme: policy.acme,
                certificates: policy.certificates,
                mta_sts: policy.mta_sts,
                mta_sts_mx,
                caa_issuer,
            },
            mx,
        })
    }

    /// `[[mx]]`: each host a valid host name (never a wildcard or an
    /// address: MX records name hosts), written once, for accepted domains.
    fn mx_hosts(
        &self,
        raw: Vec<RawMx>,
        accepted_domains: &[String],
    ) -> Result<Vec<MxHost>, PlanError> {
        let accepted: Vec<String> = accepted_domains
            .iter()
            .map(|d| {
                d.trim()
                    .trim_start_matches("*.")
                    .trim_end_matches('.')
                    .to_lowercase()
            })
            .collect();
        let mut out: Vec<MxHost> = Vec::new();
        for (i, entry) in raw.into_iter().enumerate() {
            let field = format!("mx[{}].host", i + 1);
            let span = entry.host.span();
            let typed = entry.host.into_inner();
            let host = match parse_name(typed.trim().trim_end_matches('.')) {
                Ok(parsed) => match parsed.name {
                    SubjectName::Dns(name) if !name.starts_with("*.") => name,
                    _ => {
                        return Err(self.invalid(
                            Some(span.start),
                            field,
                            format!("\"{typed}\" is not a host name: an MX record names one host, never a wildcard or an address."),
                            "write the host name the MX record points at, e.g. host = \"mx1.contoso.com\".",
                        ))
                    }
                },
                Err(e) => {
                    return Err(self.invalid(
                        Some(span.start),
                        field,
                        format!("{e}."),
                        "write the host name the MX record points at, e.g. host = \"mx1.contoso.com\".",
                    ))
                }
            };
            if out.iter().any(|m| m.host == host) {
                return Err(self.invalid(
                    Some(span.start),
                    field,
                    format!("MX host {host} is listed twice."),
                    "list each MX host once; give it every domain it serves in domains = [...].",
                ));
            }
            let domains = match entry.domains {
                None => accepted.clone(),
                Some(list) => {
                    let mut domains = Vec::new();
                    for d in &list.get_ref().0 {
                        let key = d.trim().trim_end_matches('.').to_lowercase();
                        if !accepted.contains(&key) {
                            return Err(self.invalid(
                                Some(list.span().start),
                                format!("mx[{}].domains", i + 1),
                                format!("\"{d}\" is not one of the accepted domains."),
                                format!(
                                    "use domains listed in organization.accepted_domains ({}), or add it there.",
                                    accepted_domains.join(", ")
                                ),
                            ));
                        }
                        domains.push(key);
                    }
                    domains
                }
            };
            out.push(MxHost { host, domains });
        }
        Ok(out)
    }
}

/// Turns a TOML error into one that names the line and the field, with
/// advice where the mistake is a usual one.
fn read_error(text: &str, source: &str, error: &toml::de::Error) -> PlanError {
    // A shape error comes from a file that parses, and its span points at
    // the key, value or table concerned. Broken TOML is told apart by
    // parsing again (only on this error path): its span is where the parser
    // gave up, which can be lines after the mistake.
    match text.parse::<toml::Table>() {
        Err(broken) => broken_toml(text, source, &broken),
        Ok(_) => shape_error(text, source, error),
    }
}

fn one_line(error: &toml::de::Error) -> String {
    error
        .message()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(": ")
}

fn field_of(path: &[mailcert_tomlplace::Segment]) -> Option<String> {
    (!path.is_empty()).then(|| dotted(path, 1))
}

fn shape_error(text: &str, source: &str, error: &toml::de::Error) -> PlanError {
    let message = one_line(error);
    let place = error.span().map(|span| locate(text, span.start));
    let (line, column, field) = match &place {
        Some(p) => (p.at.line, p.at.column, field_of(&p.path)),
        None => (1, 1, None),
    };
    let fix = advice(&message, field.as_deref().unwrap_or("the value"));
    PlanError::Syntax {
        file: source.to_string(),
        line,
        column,
        field,
        message,
        fix,
    }
}

/// Broken TOML is reported where the broken construct starts (the key of
/// an unclosed array, the quote of an unclosed string), not where the
/// parser noticed: that is often the next line, and another field.
fn broken_toml(text: &str, source: &str, error: &toml::de::Error) -> PlanError {
    let mut message = one_line(error);
    let Some(span) = error.span() else {
        return PlanError::Syntax {
            file: source.to_string(),
            line: 1,
            column: 1,
            field: None,
            fix: Some(GENERIC_SYNTAX_FIX.to_string()),
            message,
        };
    };
    let place = locate(text, span.start);
    let (start, path) = place.syntax();
    if place.at.line != start.line {
        message.push_str(&format!(
            " (noticed on line {}, column {})",
            place.at.line, place.at.column
        ));
    }
    let fix = syntax_advice(&message, &place, start.line);
    PlanError::Syntax {
        file: source.to_string(),
        line: start.line,
        column: start.column,
        field: field_of(path),
        message,
        fix: Some(fix),
    }
}

const GENERIC_SYNTAX_FIX: &str = "check the TOML syntax on that line: double quotes around text, [ ] around lists, commas between items, one key = value per line.";

fn syntax_advice(message: &str, place: &Place, line: usize) -> String {
    let kind = place.open.as_ref().map(|o| o.kind);
    if kind == Some(OpenKind::String) {
        return if message.contains("multiline") {
            format!("close the text that starts on line {line} with the same three quotes it opens with.")
        } else {
            format!("close the text that starts on line {line} with its quote on the same line (\" or ').")
        };
    }
    if message.starts_with("duplicate key") {
        return "each key is written once per table: remove one of the two, or merge them."
            .to_string();
    }
    if message.starts_with("invalid table header") {
        return if message.contains("duplicate key") {
            "each [table] is written once: merge the two tables into one (only [[tables]] of an array repeat).".to_string()
        } else {
            "write the header on a line of its own as [name], or [[name]] for one more entry of a list such as [[server]].".to_string()
        };
    }
    if message.starts_with("invalid array") {
        return format!(
            "check the list that starts on line {line}: each item in double quotes, a comma between items, and ] at its end."
        );
    }
    if message.starts_with("invalid inline table") {
        return format!(
            "close the {{ }} that starts on line {line} on the same line, with a comma between its key = value pairs."
        );
    }
    if message.starts_with("expected `.`, `=`") {
        return "write key = value, with = between the key and its value.".to_string();
    }
    GENERIC_SYNTAX_FIX.to_string()
}

fn advice(message: &str, field: &str) -> Option<String> {
    if let Some(unknown) = Unknown::from_message(message) {
        let guess = unknown.closest();
        return Some(match unknown.kind {
            UnknownKind::Key => {
                let expected = unknown.expected.join(", ");
                match guess {
                    Some(e) => format!("did you mean `{e}`? Valid keys here: {expected}."),
                    None if expected.is_empty() => format!("remove `{}`.", unknown.written),
                    None => format!("remove `{}`; valid keys here: {expected}.", unknown.written),
                }
            }
            UnknownKind::Value => {
                // Aliases are accepted but not advertised.
                const ALIASES: &[&str] = &["self_signed", "selfsigned", "cas", "frontend"];
                let expected: Vec<&str> = unknown
                    .expected
                    .iter()
                    .map(String::as_str)
                    .filter(|e| !ALIASES.contains(e))
                    .collect();
                let guess = closest(&unknown.written, expected.iter().copied(), 2)
                    .map(|e| format!("did you mean \"{e}\"? "))
                    .unwrap_or_default();
                format!(
                    "{guess}{field} takes one of: {}.",
                    expected
                        .iter()
                        .map(|e| format!("\"{e}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        });
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let (missing, _) = rest.split_once('`')?;
        let example = match missing {
            "issuer" => "issuer = \"public\" (or \"private\", \"self-signed\")",
            "accepted_domains" => "accepted_domains = [\"contoso.com\"]",
            "organization" => "an [organization] table with accepted_domains and issuer",
            "name" => "name = \"EX1\"",
            "fqdn" => "fqdn = \"ex1.contoso.com\"",
            "older_version" => "older_version = \"exchange-2010\"",
            "host" => "host = \"mx1.contoso.com\"",
            _ => "it",
        };
        return Some(format!("add {example}."));
    }
    let expected = message
        .rsplit_once("expected ")
        .map(|(_, e)| e)
        .unwrap_or("");
    Some(if expected.starts_with("a boolean") {
        format!("write {field} as true or false, without quotes.")
    } else if expected.starts_with("u32") || expected.contains("integer") {
        format!("write {field} as a whole number without quotes, e.g. 100.")
    } else if expected.starts_with("a string") {
        format!("put the value of {field} in double quotes.")
    } else if expected.starts_with("a name") || expected.starts_with("a sequence") {
        format!("write {field} as a list of names in double quotes, e.g. [\"mail.contoso.com\"].")
    } else if expected.contains("date") {
        format!("write {field} as a bare TOML date, e.g. 2027-01-31.")
    } else {
        GENERIC_SYNTAX_FIX.to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMUM: &str = r#"
[organization]
accepted_domains = ["contoso.com", "fabrikam.com"]
issuer = "public"                         # public | private | self-signed

[namespaces]
client_access = ["mail.contoso.com"]      # one per site where sites differ
autodiscover = "names"                    # names | srv | none
legacy = "legacy.contoso.com"             # only during coexistence with an older version

[[server]]
name = "EX1"
fqdn = "ex1.contoso.local"
internet_facing = true

[policy]
include_server_fqdns = false
prefer_wildcard = false
max_names = 100                           # the CA product's limit
"#;

    #[test]
    fn reads_the_minimum_shape() {
        let org = Organization::from_toml(MINIMUM, "org.toml").unwrap();
        assert_eq!(org.accepted_domains, ["contoso.com", "fabrikam.com"]);
        assert_eq!(org.issuer, IssuerKind::Public);
        assert_eq!(org.client_access, ["mail.contoso.com"]);
        assert_eq!(org.legacy, ["legacy.contoso.com"]);
        assert_eq!(org.servers[0].fqdn, "ex1.contoso.local");
        assert!(org.servers[0].internet_facing);
        assert_eq!(org.policy.max_names, Some(100));
    }

    #[test]
    fn unknown_keys_are_named_with_line_and_suggestion() {
        let text = MINIMUM.replace("internet_facing = true", "interent_facing = true");
        let err = Organization::from_toml(&text, "org.toml").unwrap_err();
        let shown = err.to_string();
        assert_eq!(err.field(), Some("server[1].interent_facing"), "{shown}");
        assert_eq!(err.line(), Some(14), "{shown}");
        assert!(shown.contains("org.toml"), "{shown}");
        assert!(shown.contains("did you mean `internet_facing`"), "{shown}");
    }

    #[test]
    fn wrong_values_point_at_the_field() {
        let text = MINIMUM.replace("issuer = \"public\"", "issuer = \"pubic\"");
        let err = Organization::from_toml(&text, "org.toml").unwrap_err();
        assert_eq!(err.field(), Some("organization.issuer"));
        assert!(err.to_string().contains("self-signed"), "{err}");
        let text = MINIMUM.replace("max_names = 100", "max_names = \"lots\"");
        let err = Organization::from_toml(&text, "org.toml").unwrap_err();
        assert_eq!(err.field(), Some("policy.max_names"));
    }

    #[test]
    fn unknown_site_is_refused_with_its_line() {
        let text = format!("{MINIMUM}\n[[site]]\nname = \"London\"\n\n[[server]]\nname = \"EX2\"\nfqdn = \"ex2.contoso.com\"\nsite = \"Paris\"\n");
        let err = Organization::from_toml(&text, "org.toml").unwrap_err();
        assert_eq!(err.field(), Some("server[2].site"));
        let line = text.lines().position(|l| l.contains("Paris")).unwrap() + 1;
        assert_eq!(err.line(), Some(line));
        assert!(err.to_string().contains("London"), "{err}");
    }
}
