//! Services and which certificate each one serves.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use time::OffsetDateTime;

use crate::names::{best_match, name_covers, NameMatch};

/// The services a certificate can be bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    Https,
    Imap,
    Pop,
    Smtp,
}

impl Service {
    pub const ALL: [Service; 4] = [Service::Https, Service::Imap, Service::Pop, Service::Smtp];

    pub fn as_str(self) -> &'static str {
        match self {
            Service::Https => "https",
            Service::Imap => "imap",
            Service::Pop => "pop",
            Service::Smtp => "smtp",
        }
    }

    /// What enabling a certificate for this service does to the ones
    /// already bound to it (see [`OnEnable`]).
    pub fn on_enable(self) -> OnEnable {
        match self {
            Service::Https => OnEnable::ReplaceCovered,
            Service::Imap | Service::Pop | Service::Smtp => OnEnable::KeepBeside,
        }
    }

    /// Parses a comma-separated list such as `imap,pop,https,smtp` (or
    /// `IIS,SMTP` as Exchange writes it). Duplicates are merged.
    pub fn parse_list(input: &str) -> Result<Vec<Service>, String> {
        let mut out = Vec::new();
        for part in input.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let service: Service = part.parse()?;
            if !out.contains(&service) {
                out.push(service);
            }
        }
        if out.is_empty() {
            return Err("no service given: use a list such as imap,pop,https,smtp".into());
        }
        out.sort();
        Ok(out)
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Service {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "https" | "iis" | "http" => Ok(Service::Https),
            "imap" | "imaps" => Ok(Service::Imap),
            "pop" | "pop3" | "pop3s" => Ok(Service::Pop),
            "smtp" | "smtps" | "submission" => Ok(Service::Smtp),
            other => Err(format!(
                "unknown service '{other}': use https (or iis), imap, pop or smtp"
            )),
        }
    }
}

/// What enabling a certificate does to the certificates already bound to
/// the same service in the same scope (the whole service, or one
/// listener). Every service serves several certificates side by side,
/// chosen per handshake by SNI ([`select`]); they differ in what a new one
/// takes over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnEnable {
    /// HTTPS: as Exchange replaces the IIS certificate, the new one takes
    /// the place of every certificate whose names it all covers ([`covers`]):
    /// a renewal or a bigger SAN certificate replaces, a certificate for
    /// other names is added beside.
    ReplaceCovered,
    /// SMTP, IMAP, POP: the previous certificates stay bound (Exchange
    /// keeps the previous SMTP default enabled); the newcomer may become
    /// the default by the rule of [`DEFAULT_RULE`].
    KeepBeside,
}

/// The certificates among `bound` (bound to one service in one scope)
/// that enabling `new` takes the place of, by `rule`. `new` itself, if it
/// is already among them, is never displaced.
pub fn displaced<'a>(
    rule: OnEnable,
    new: &Candidate,
    bound: &'a [Candidate],
) -> Vec<&'a Candidate> {
    match rule {
        OnEnable::KeepBeside => Vec::new(),
        OnEnable::ReplaceCovered => bound
            .iter()
            .filter(|old| old.thumbprint != new.thumbprint && covers(new, old))
            .collect(),
    }
}

/// Does `new` carry every name `old` carries (exactly, or by a wildcard
/// one label up), so that no client asking for one of `old`'s names would
/// ever need `old` again? Two certificates with no DNS name at all cannot
/// be told apart by SNI, so the one covers the other.
pub fn covers(new: &Candidate, old: &Candidate) -> bool {
    if old.names.is_empty() {
        return new.names.is_empty();
    }
    old.names
        .iter()
        .all(|name| new.names.iter().any(|pattern| name_covers(pattern, name)))
}

/// A certificate that may be served, as the selection sees it.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub thumbprint: String,
    pub subject: String,
    pub names: Vec<String>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// Has a private key and is neither `Invalid` nor revoked by the store.
    pub usable: bool,
    /// Its chain reaches a trust anchor: issued by a CA that clients
    /// trust, as opposed to self-signed (even by this store) or untrusted.
    pub trusted: bool,
    /// Bound to the listener itself rather than to the whole service.
    pub listener_specific: bool,
    /// Bound to this node of the fleet rather than to every node.
    pub node_specific: bool,
    /// Insertion order: the later of two certificates issued in the same
    /// second is the newer.
    pub seq: i64,
}

impl Candidate {
    fn valid_at(&self, now: OffsetDateTime) -> bool {
        self.usable
            && crate::time::validity(self.not_before, self.not_after, now)
                == crate::time::Validity::Valid
    }

    /// The default's order, best last: valid before expired, then issued
    /// by a trusted CA before self-signed or untrusted (as Exchange
    /// prefers a CA-issued certificate), then bound to this node before
    /// bound to the whole fleet, then the newest. An imported certificate
    /// is often older than the self-signed one `init` made, so newest
    /// alone would serve the one clients refuse; and a node's own
    /// self-signed certificate must not win over the fleet's CA-issued
    /// one, so the node comes after trust.
    fn rank(&self, now: OffsetDateTime) -> (bool, bool, bool, OffsetDateTime, i64) {
        let valid = self.valid_at(now);
        (
            valid,
            valid && self.trusted,
            self.node_specific,
            self.not_before,
            self.seq,
        )
    }
}

/// Why `winner` is served by default rather than `other` (both bound to
/// the same service), in words; `None` when `other` would win.
pub fn preferred_because(
    winner: &Candidate,
    other: &Candidate,
    now: OffsetDateTime,
) -> Option<&'static str> {
    let (w, o) = (winner.rank(now), other.rank(now));
    if w <= o {
        return None;
    }
    Some(if w.0 != o.0 {
        "the one not chosen is not valid now"
    } else if w.1 != o.1 {
        "a certificate issued by a trusted CA wins over a self-signed or untrusted one"
    } else if w.2 != o.2 {
        "it is bound to this node, the other to the whole fleet"
    } else {
        "it is newer"
    })
}

/// The rule for clients that send no SNI (or a name no certificate has).
pub const DEFAULT_RULE: &str = "the service's default: among the certificates bound to it, a valid one issued by a trusted CA before a self-signed or untrusted one, then one bound to this node before one bound to the whole fleet, then the newest";

/// The same rule where certificates are bound to the listener itself.
pub const LISTENER_RULE: &str = "the listener's default: among the certificates bound to this listener (they come before those bound to the whole service), a valid one issued by a trusted CA before a self-signed or untrusted one, then one bound to this node before one bound to the whole fleet, then the newest";

/// Which certificate a handshake gets, and the rule that chose it.
/// `mailcert which` prints exactly this; the front end acts on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "rule", rename_all = "kebab-case")]
pub enum Selection {
    /// The listener names a certificate explicitly (`certificate = ...`).
    Pinned { thumbprint: String, pin: String },
    /// A certificate bound to the service carries the SNI name exactly.
    ExactName { thumbprint: String, name: String },
    /// A wildcard on a bound certificate covers the SNI name.
    Wildcard { thumbprint: String, name: String },
    /// The client sent no SNI: the service's default ([`DEFAULT_RULE`]),
    /// or the listener's when certificates are bound to it ([`LISTENER_RULE`]).
    NoSni {
        thumbprint: String,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        listener_bound: bool,
    },
    /// SNI matched no bound certificate: the default, as for `NoSni`.
    NoMatch {
        thumbprint: String,
        name: String,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        listener_bound: bool,
    },
    /// Nothing usable is bound to the service.
    Nothing { reason: String },
}

impl Selection {
    pub fn thumbprint(&self) -> Option<&str> {
        match self {
            Selection::Pinned { thumbprint, .. }
            | Selection::ExactName { thumbprint, .. }
            | Selection::Wildcard { thumbprint, .. }
            | Selection::NoSni { thumbprint, .. }
            | Selection::NoMatch { thumbprint, .. } => Some(thumbprint),
            Selection::Nothing { .. } => None,
        }
    }

    /// The rule in plain words.
    pub fn explain(&self) -> String {
        match self {
            Selection::Pinned { pin, .. } => {
                format!("the listener names this certificate explicitly (certificate = \"{pin}\")")
            }
            Selection::ExactName { name, .. } => {
                format!("the client asked for '{name}' (SNI) and this certificate carries that exact name")
            }
            Selection::Wildcard { name, .. } => {
                format!("the client asked for '{name}' (SNI) and a wildcard on this certificate covers it")
            }
            Selection::NoSni { listener_bound, .. } => format!(
                "no SNI from the client (most mail servers send none): {}",
                default_rule(*listener_bound)
            ),
            Selection::NoMatch {
                name,
                listener_bound,
                ..
            } => format!(
                "no certificate bound to the {} carries '{name}': {} (clients will see a name mismatch)",
                if *listener_bound { "listener" } else { "service" },
                default_rule(*listener_bound)
            ),
            Selection::Nothing { reason } => reason.clone(),
        }
    }
}

/// Chooses the certificate for one handshake.
///
/// `pinned`: the certificates the listener's `certificate = ...` matches
/// (already resolved by thumbprint prefix or subject), with the pin text.
/// `bound`: certificates bound to the listener's service. Listener-specific
/// bindings take precedence over service-wide ones. Among equals, valid
/// before expired, then issued by a trusted CA before self-signed or
/// untrusted, then newest (latest NotBefore) first.
pub fn select(
    pinned: Option<(&str, &[Candidate])>,
    bound: &[Candidate],
    sni: Option<&str>,
    now: OffsetDateTime,
) -> Selection {
    if let Some((pin, matches)) = pinned {
        return match newest(matches.iter(), now) {
            Some(c) => Selection::Pinned {
                thumbprint: c.thumbprint.clone(),
                pin: pin.to_string(),
            },
            None => Selection::Nothing {
                reason: format!("the listener names certificate \"{pin}\", but no usable certificate in the store matches it"),
            },
        };
    }
    let (pool, listener_bound) = pool(bound);
    let Some(default) = newest(pool.iter().copied(), now) else {
        return Selection::Nothing {
            reason: "no usable certificate (with a private key) is bound to this service; bind one with `mailcert enable`".into(),
        };
    };
    let Some(name) = sni.map(|s| s.trim_end_matches('.').to_ascii_lowercase()) else {
        return Selection::NoSni {
            thumbprint: default.thumbprint.clone(),
            listener_bound,
        };
    };
    let by_match = |wanted: NameMatch| {
        newest(
            pool.iter()
                .copied()
                .filter(|c| best_match(c.names.iter().map(String::as_str), &name) == Some(wanted)),
            now,
        )
    };
    if let Some(c) = by_match(NameMatch::Exact) {
        return Selection::ExactName {
            thumbprint: c.thumbprint.clone(),
            name,
        };
    }
    if let Some(c) = by_match(NameMatch::Wildcard) {
        return Selection::Wildcard {
            thumbprint: c.thumbprint.clone(),
            name,
        };
    }
    Selection::NoMatch {
        thumbprint: default.thumbprint.clone(),
        name,
        listener_bound,
    }
}

/// The certificates a listener chooses among, and whether they are its
/// own: usable certificates bound to the listener itself hide those bound
/// to the whole service; without any, the service's are used.
fn pool(bound: &[Candidate]) -> (Vec<&Candidate>, bool) {
    let specific: Vec<&Candidate> = bound
        .iter()
        .filter(|c| c.listener_specific && c.usable)
        .collect();
    if specific.is_empty() {
        (bound.iter().filter(|c| c.usable).collect(), false)
    } else {
        (specific, true)
    }
}

/// The certificates bound to the whole service that a listener never
/// serves because certificates are bound to the listener itself (`bound`:
/// as for [`select`]). Empty when the listener has none of its own.
pub fn hidden(bound: &[Candidate]) -> Vec<&Candidate> {
    let (pool, listener_bound) = pool(bound);
    if !listener_bound {
        return Vec::new();
    }
    bound
        .iter()
        .filter(|c| !c.listener_specific && c.usable)
        .filter(|c| !pool.iter().any(|p| p.thumbprint == c.thumbprint))
        .collect()
}

fn default_rule(listener_bound: bool) -> &'static str {
    if listener_bound {
        LISTENER_RULE
    } else {
        DEFAULT_RULE
    }
}

fn newest<'a>(
    candidates: impl Iterator<Item = &'a Candidate>,
    now: OffsetDateTime,
) -> Option<&'a Candidate> {
    candidates.max_by(|a, b| a.rank(now).cmp(&b.rank(now)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn cand(thumb: &str, names: &[&str], year: i32) -> Candidate {
        Candidate {
            thumbprint: thumb.into(),
            subject: format!("CN={}", names[0]),
            names: names.iter().map(|s| s.to_string()).collect(),
            not_before: datetime!(2020-01-01 0:00 UTC).replace_year(year).unwrap(),
            not_after: datetime!(2030-01-01 0:00 UTC),
            usable: true,
            trusted: false,
            listener_specific: false,
            node_specific: false,
            seq: 0,
        }
    }

    #[test]
    fn a_listener_binding_is_explained_as_the_listener_s_default() {
        let now = datetime!(2026-06-01 0:00 UTC);
        let mut own = cand("OWN", &["mail.contoso.com"], 2020);
        own.listener_specific = true;
        let mut service = cand("SERVICE", &["mail.contoso.com"], 2025);
        service.trusted = true;
        let chosen = select(None, &[own, service.clone()], None, now);
        assert_eq!(chosen.thumbprint(), Some("OWN"));
        assert!(
            chosen.explain().contains("bound to this listener"),
            "{}",
            chosen.explain()
        );
        let chosen = select(None, &[service], None, now);
        assert!(
            chosen.explain().contains("the service's default"),
            "{}",
            chosen.explain()
        );
    }

    #[test]
    fn https_replaces_only_what_the_new_certificate_covers() {
        let rule = Service::Https.on_enable();
        let mail = cand(
            "MAIL",
            &["mail.contoso.com", "autodiscover.contoso.com"],
            2024,
        );
        let web = cand("WEB", &["www.fabrikam.com"], 2024);
        let wild = cand("WILD", &["*.contoso.com"], 2024);
        let bound = vec![mail.clone(), web.clone(), wild.clone()];
        let thumbs =
            |v: Vec<&Candidate>| v.iter().map(|c| c.thumbprint.clone()).collect::<Vec<_>>();

        // A renewal with one more name replaces the old one only.
        let bigger = cand(
            "BIG",
            &[
                "owa.contoso.com",
                "mail.contoso.com",
                "AutoDiscover.contoso.com.",
            ],
            2025,
        );
        assert_eq!(thumbs(displaced(rule, &bigger, &bound)), ["MAIL"]);
        // Part of the names: the old one keeps serving the rest.
        let part = cand("PART", &["mail.contoso.com"], 2025);
        assert!(displaced(rule, &part, &bound).is_empty());
        // Other names: added beside.
        let other = cand("OTHER", &["www.northwind.com"], 2025);
        assert!(displaced(rule, &other, &bound).is_empty());
        // A wildcard covers the host names one label under it, and only
        // the same wildcard covers a wildcard.
        let new_wild = cand("WILD2", &["*.contoso.com"], 2025);
        assert_eq!(thumbs(displaced(rule, &new_wild, &bound)), ["MAIL", "WILD"]);
        // The same certificate again displaces nothing.
        assert!(displaced(rule, &web, &bound).is_empty());
        // Mail services keep every previous certificate.
        assert!(displaced(Service::Smtp.on_enable(), &new_wild, &bound).is_empty());
        // No DNS names on either side: SNI cannot tell them apart.
        let mut bare = cand("BARE", &["x"], 2024);
        bare.names.clear();
        let mut bare2 = bare.clone();
        bare2.thumbprint = "BARE2".into();
        assert!(covers(&bare2, &bare));
        assert!(!covers(&web, &bare));
        assert!(!covers(&bare, &web));
    }

    #[test]
    fn a_listener_s_own_certificates_hide_the_service_s() {
        let now = datetime!(2026-06-01 0:00 UTC);
        let service = cand("SERVICE", &["mail.contoso.com"], 2025);
        let mut own = cand("OWN", &["www.fabrikam.com"], 2020);
        own.listener_specific = true;
        assert!(hidden(std::slice::from_ref(&service)).is_empty());
        let bound = [service.clone(), own.clone()];
        let hid: Vec<&str> = hidden(&bound)
            .iter()
            .map(|c| c.thumbprint.as_str())
            .collect();
        assert_eq!(hid, ["SERVICE"]);
        // Hidden means never served, even for its own name.
        assert!(matches!(
            select(None, &bound, Some("mail.contoso.com"), now),
            Selection::NoMatch { ref thumbprint, listener_bound: true, .. } if thumbprint == "OWN"
        ));
        // Bound both ways: served, so not hidden.
        let mut service_here = service.clone();
        service_here.listener_specific = true;
        assert!(hidden(&[service.clone(), own.clone(), service_here]).is_empty());
        // A listener binding nobody can use hides nothing.
        own.usable = false;
        assert!(hidden(&[service, own]).is_empty());
    }

    #[test]
    fn rules_in_order() {
        let now = datetime!(2026-06-01 0:00 UTC);
        let bound = vec![
            cand("OLD", &["mail.contoso.com"], 2024),
            cand("NEW", &["*.contoso.com"], 2025),
        ];
        assert_eq!(select(None, &bound, None, now).thumbprint(), Some("NEW"));
        assert!(matches!(
            select(None, &bound, Some("mail.contoso.com"), now),
            Selection::ExactName { ref thumbprint, .. } if thumbprint == "OLD"
        ));
        assert!(matches!(
            select(None, &bound, Some("owa.contoso.com"), now),
            Selection::Wildcard { ref thumbprint, .. } if thumbprint == "NEW"
        ));
        assert!(matches!(
            select(None, &bound, Some("a.b.contoso.com"), now),
            Selection::NoMatch { ref thumbprint, .. } if thumbprint == "NEW"
        ));
        let pinned = [cand("PIN", &["x.contoso.com"], 2020)];
        assert!(matches!(
            select(
                Some(("PIN", &pinned)),
                &bound,
                Some("mail.contoso.com"),
                now
            ),
            Selection::Pinned { .. }
        ));
        let mut expired = cand("EXP", &["mail.contoso.com"], 2026);
        expired.not_after = datetime!(2026-02-01 0:00 UTC);
        let with_expired = vec![expired, cand("OK", &["mail.contoso.com"], 2021)];
        assert_eq!(
            select(None, &with_expired, None, now).thumbprint(),
            Some("OK")
        );
        assert!(matches!(
            select(None, &[], None, now),
            Selection::Nothing { .. }
        ));
    }

    #[test]
    fn a_trusted_certificate_beats_a_newer_self_signed_one() {
        let now = datetime!(2026-06-01 0:00 UTC);
        // The imported CA-issued certificate predates the init certificate.
        let mut imported = cand("CA", &["mail.contoso.com"], 2025);
        imported.trusted = true;
        let init = cand("SELF", &["ex1.contoso.com", "mail.contoso.com"], 2026);
        let bound = vec![init.clone(), imported.clone()];
        assert_eq!(select(None, &bound, None, now).thumbprint(), Some("CA"));
        assert_eq!(
            select(None, &bound, Some("mail.contoso.com"), now).thumbprint(),
            Some("CA")
        );
        assert_eq!(
            select(None, &bound, Some("ex1.contoso.com"), now).thumbprint(),
            Some("SELF"),
            "a name only the self-signed one carries still picks it"
        );
        assert_eq!(
            preferred_because(&imported, &init, now),
            Some("a certificate issued by a trusted CA wins over a self-signed or untrusted one")
        );
        assert_eq!(preferred_because(&init, &imported, now), None);

        // Expired, trust does not save it.
        let mut expired = imported.clone();
        expired.not_after = datetime!(2026-05-01 0:00 UTC);
        let bound = vec![init.clone(), expired];
        assert_eq!(select(None, &bound, None, now).thumbprint(), Some("SELF"));

        // Two trusted ones: the newer.
        let mut newer = cand("CA2", &["mail.contoso.com"], 2026);
        newer.trusted = true;
        let bound = vec![imported.clone(), newer.clone(), init];
        assert_eq!(select(None, &bound, None, now).thumbprint(), Some("CA2"));
        assert_eq!(
            preferred_because(&newer, &imported, now),
            Some("it is newer")
        );
    }
}
