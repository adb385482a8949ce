//! `init`, and the first start of anything that needs a store: the
//! secure-by-default certificate, made once per store. "Once" is a fact
//! about the store, not about the certificate: after the administrator
//! removed or replaced it, neither `init` nor a later start brings a
//! self-signed certificate back behind their back.
//!
//! On a store shared by a fleet (PostgreSQL) it is once per node, as each
//! Exchange server has its own: each node's certificate is for that
//! node's name and bound to that node only.

use mailcert_store::{Binding, Op};
use mailcert_x509::build::SELF_SIGNED_DAYS;
use mailcert_x509::{KeyType, Service};

use crate::error::Result;
use crate::manager::{parse_names, Manager, Report};

/// Named value that records which certificate `init` made (follows its
/// renewals; cleared when it is removed).
pub const INIT_KEY: &str = "init.thumbprint";
/// Named value that records that the store was initialised, and when.
pub const INIT_DONE: &str = "init.done";
/// On a shared store, the same two per node: `init.thumbprint.<node>`,
/// `init.done.<node>`.
pub const NODE_INIT_KEY_PREFIX: &str = "init.thumbprint.";
pub const NODE_INIT_DONE_PREFIX: &str = "init.done.";

impl Manager {
    /// The secure-by-default certificate: CN = FQDN, SANs = FQDN and short
    /// name, 5 years, bound to every service. On a store that was
    /// initialised before, it changes nothing and says so, naming what
    /// was asked for and not done.
    pub fn init(&mut self, hostname: Option<&str>, key: Option<KeyType>) -> Result<Report> {
        if self.is_initialised()? {
            return self.already_initialised(hostname, key);
        }
        let key = key.unwrap_or_default();
        let (fqdn, short) = match hostname {
            Some(h) => {
                let h = h.trim().to_ascii_lowercase();
                let short = h.split('.').next().unwrap_or(&h).to_string();
                (h, short)
            }
            // On a fleet's store the certificate is the node's own, for
            // the node's name (by default the host's FQDN, so the same).
            None if self.store.shared() && mailcert_x509::parse_name(&self.node).is_ok() => {
                let short = self.node.split('.').next().unwrap_or(&self.node);
                (self.node.clone(), short.to_string())
            }
            None => crate::host::host_names(),
        };
        let mut names = vec![fqdn.clone()];
        if short != fqdn && !short.is_empty() {
            names.push(short);
        }
        let names = parse_names(&names)?;
        let (new, thumb) = self.make_self_signed(&names, key, SELF_SIGNED_DAYS, None, true)?;
        let node = self.store.shared().then(|| self.node.clone());
        let on_node = node
            .as_deref()
            .map(|n| format!(" on node {n}"))
            .unwrap_or_default();
        let mut change = self.change("init");
        change.describe(format!(
            "created self-signed certificate {thumb} for {fqdn}, bound to https, imap, pop, smtp{on_node}"
        ));
        change.push(Op::InsertCertificate(Box::new(new)));
        for service in Service::ALL {
            change.push(Op::Bind(Binding {
                node: node.clone(),
                ..Binding::new(&thumb, service)
            }));
        }
        change.push(Op::SetValue {
            key: self.init_key(),
            value: Some(thumb.clone().into_bytes()),
            secret: false,
        });
        change.push(Op::SetValue {
            key: self.init_done_key(),
            value: Some(mailcert_x509::time::rfc3339(self.now()).into_bytes()),
            secret: false,
        });
        self.store.apply(change)?;
        let mut report = Report {
            changed: true,
            ..Report::default()
        };
        report.say(format!(
            "created a self-signed certificate {thumb} for {fqdn} (valid 5 years, {key}) and bound it to https, imap, pop and smtp{on_node}; it is temporary: clients will not trust it until you replace it with a CA-issued one"
        ));
        if let Some(warning) = not_fqdn_warning(&fqdn, hostname.is_some(), &thumb) {
            report.say(warning);
        }
        report.thumbprint = Some(thumb);
        Ok(report)
    }

    /// Initialises the store unless it was initialised before: the rule
    /// every first start follows (any command, `serve`). Returns what
    /// `init` did, if it ran.
    pub fn ensure_initialised(&mut self) -> Result<Option<Report>> {
        if self.is_initialised()? {
            return Ok(None);
        }
        self.init(None, None).map(Some)
    }

    /// Whether `init` ran on this store. Stores made before the marker
    /// existed count as initialised once anything was ever recorded in
    /// them: every change writes the audit log.
    /// On a shared store, whether `init` ran for this node.
    pub fn is_initialised(&self) -> Result<bool> {
        if self.store.shared() {
            return Ok(self.store.value(&self.init_done_key())?.is_some()
                || self.store.value(&self.init_key())?.is_some());
        }
        Ok(self.store.value(INIT_DONE)?.is_some()
            || self.store.value(INIT_KEY)?.is_some()
            || !self.store.audit_log(1)?.is_empty())
    }

    /// The thumbprint of the certificate `init` made (for this node, on a
    /// shared store), while it exists.
    pub fn initialized(&self) -> Result<Option<String>> {
        Ok(self
            .store
            .value(&self.init_key())?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// The named value that records the certificate `init` made.
    pub(crate) fn init_key(&self) -> String {
        if self.store.shared() {
            format!("{NODE_INIT_KEY_PREFIX}{}", self.node)
        } else {
            INIT_KEY.to_string()
        }
    }

    fn init_done_key(&self) -> String {
        if self.store.shared() {
            format!("{NODE_INIT_DONE_PREFIX}{}", self.node)
        } else {
            INIT_DONE.to_string()
        }
    }

    fn already_initialised(
        &mut self,
        hostname: Option<&str>,
        key: Option<KeyType>,
    ) -> Result<Report> {
        let mut report = Report::default();
        let made = match self.initialized()? {
            Some(thumb) => self.store.certificate(&thumb)?,
            None => None,
        };
        match &made {
            Some(cert) => {
                let thumb = &cert.summary.thumbprint;
                report.thumbprint = Some(thumb.clone());
                report.say(format!(
                    "already initialised: certificate {thumb} was created by init; nothing changed"
                ));
            }
            None => report.say(
                "already initialised: the certificate init made was removed since, and init never makes a second one; nothing changed",
            ),
        }
        let bindings = self.store.bindings()?;
        let bare: Vec<&str> = Service::ALL
            .iter()
            .filter(|s| !bindings.iter().any(|b| b.service == **s))
            .map(|s| s.as_str())
            .collect();
        let host = hostname
            .map(|h| h.trim().to_ascii_lowercase())
            .or_else(|| made.as_ref().map(|c| c.summary.subject_cn().to_string()))
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| crate::host::host_names().0);

        let mut unused = Vec::new();
        let mut reasons = Vec::new();
        if let Some(h) = hostname {
            let covered = made.as_ref().is_some_and(|c| {
                c.summary
                    .names
                    .iter()
                    .any(|n| n.eq_ignore_ascii_case(h.trim()))
            });
            if !covered {
                unused.push(format!("--hostname {h}"));
                if let Some(c) = &made {
                    reasons.push(format!(
                        "that certificate is not for {h} (it is for {})",
                        c.summary.names.join(", ")
                    ));
                }
            }
        }
        if let Some(k) = key {
            let same = made
                .as_ref()
                .is_some_and(|c| KeyType::from_description(&c.summary.key_algorithm) == Some(k));
            if !same {
                unused.push(format!("--key {k}"));
                if let Some(c) = &made {
                    reasons.push(format!("its key is {}", c.summary.key_algorithm));
                }
            }
        }
        if !unused.is_empty() {
            let reason = if reasons.is_empty() {
                "the store is already initialised".to_string()
            } else {
                reasons.join(" and ")
            };
            let key_arg = key.map(|k| format!(" --key {k}")).unwrap_or_default();
            let services = if bare.is_empty() {
                "https,imap,pop,smtp".to_string()
            } else {
                bare.join(",")
            };
            report.say(format!(
                "{} {} not used: {reason}; make such a certificate with `mailcert new --self-signed --name {host}{key_arg}` and bind it with `mailcert enable THUMBPRINT --services {services}`",
                unused.join(" and "),
                if unused.len() == 1 { "was" } else { "were" },
            ));
        }
        if !bare.is_empty() {
            report.say(format!(
                "warning: {} {} no certificate, so {} cannot complete a TLS handshake: bind one with `mailcert enable THUMBPRINT --services {}` (see `mailcert list`; make a self-signed one with `mailcert new --self-signed --name {host}` if you have none)",
                bare.join(", "),
                if bare.len() == 1 { "has" } else { "have" },
                if bare.len() == 1 { "its listeners" } else { "their listeners" },
                bare.join(",")
            ));
        }
        Ok(report)
    }
}

/// Clients connect to the server's full name (mail.contoso.com): a
/// certificate for a name without a domain never matches it. Says so, with
/// the fix, when `init` had nothing better than such a name.
fn not_fqdn_warning(name: &str, given: bool, thumb: &str) -> Option<String> {
    if is_fqdn(name) {
        return None;
    }
    let whose = if given {
        format!("'{name}' (--hostname)")
    } else {
        format!("this host's name '{name}'")
    };
    Some(format!(
        "warning: {whose} is not a fully qualified domain name, so the certificate is for '{name}' only and clients connecting to the server's full name will say the name does not match; fix: make one for the name clients use with `mailcert new --self-signed --name mail.example.com` and move the bindings to it with `mailcert replace {thumb} NEW` (on a new store, `mailcert init --hostname mail.example.com` does it at once; or give the host its full name in /etc/hostname or /etc/hosts)"
    ))
}

/// A DNS name with a domain: at least two labels, and not a name that
/// only this machine knows (localhost, *.localdomain).
fn is_fqdn(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if name.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    name.contains('.')
        && !name.starts_with("localhost")
        && !name.ends_with(".localdomain")
        && !name.ends_with(".localhost")
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_without_a_domain_are_not_fqdns() {
        for name in [
            "mail.contoso.com",
            "ex1.contoso.local",
            "192.0.2.1",
            "mail.contoso.com.",
        ] {
            assert!(super::is_fqdn(name), "{name}");
        }
        for name in [
            "vm",
            "mail",
            "localhost",
            "localhost.localdomain",
            "mx.localdomain",
            "a.localhost",
        ] {
            assert!(!super::is_fqdn(name), "{name}");
        }
    }
}
