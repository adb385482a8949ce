//! How to try each listener `serve` opened: the name a client would ask
//! for, and the file to hold the certificate it gets, for the commands
//! [`describe`](crate::describe) prints at the start.

use std::collections::{BTreeSet, HashMap};

use mailcert_config::Config;
use mailcert_lifecycle::{ListenerScope, Manager};

use crate::defaults::TryWith;
use crate::server::Bound;

/// The file every listener's certificate goes to when they all serve the
/// same one.
const ONE_FILE: &str = "server.pem";

/// What to try each listener with, and how to write the certificate files
/// the commands name.
#[derive(Debug, Clone)]
pub struct TryWithPlan {
    listeners: HashMap<String, TryWith>,
    fallback: TryWith,
    /// One `FILE: mailcert --store … show THUMB --pem > FILE` per file.
    pub hints: Vec<String>,
}

impl TryWithPlan {
    /// Each bound listener is tried with its `hostname` (else the first
    /// listener's that has one, else this host's name), or with a name its
    /// certificate carries when it does not carry that one; `manager` is
    /// `None` when the store could not be opened, and then every listener
    /// gets the fallback. `store` is how commands name the store.
    pub fn new(
        manager: Option<&Manager>,
        config: &Config,
        bound: &[Bound],
        store: &str,
    ) -> TryWithPlan {
        let default_hostname = config
            .listeners
            .iter()
            .find_map(|l| l.hostname.clone())
            .unwrap_or_else(|| mailcert_lifecycle::host::host_names().0);
        let fallback = TryWith {
            hostname: default_hostname.clone(),
            pem_file: ONE_FILE.into(),
        };
        let Some(manager) = manager else {
            return TryWithPlan {
                listeners: HashMap::new(),
                fallback,
                hints: Vec::new(),
            };
        };
        let mut chosen = HashMap::new();
        for b in bound {
            let Some(listener) = config.listener(&b.name) else {
                continue;
            };
            let hostname = listener.hostname.as_deref().unwrap_or(&default_hostname);
            let scope = ListenerScope {
                name: Some(&b.name),
                pin: listener.certificate.as_deref(),
            };
            if let Some(choice) = manager.name_to_try(listener.protocol.service(), scope, hostname)
            {
                chosen.insert(b.name.clone(), choice);
            }
        }
        let (listeners, hints) = files(&chosen, store);
        TryWithPlan {
            listeners,
            fallback,
            hints,
        }
    }

    /// What to try this listener with.
    pub fn for_listener(&self, bound: &Bound) -> TryWith {
        self.listeners
            .get(&bound.name)
            .cloned()
            .unwrap_or_else(|| self.fallback.clone())
    }
}

/// One file per certificate: `server.pem` when every listener serves the
/// same one, else `server-<first 8 digits of the thumbprint>.pem`; and the
/// command that writes each file. `chosen` maps a listener to its name
/// and thumbprint.
fn files(
    chosen: &HashMap<String, (String, String)>,
    store: &str,
) -> (HashMap<String, TryWith>, Vec<String>) {
    let thumbs: BTreeSet<&String> = chosen.values().map(|(_, t)| t).collect();
    let file_of = |thumb: &str| {
        if thumbs.len() == 1 {
            ONE_FILE.to_string()
        } else {
            format!("server-{}.pem", &thumb[..thumb.len().min(8)])
        }
    };
    let hints = thumbs
        .iter()
        .map(|t| {
            format!(
                "{}: mailcert --store {store} show {t} --pem > {0}",
                file_of(t)
            )
        })
        .collect();
    let files = chosen
        .iter()
        .map(|(name, (hostname, thumb))| {
            (
                name.clone(),
                TryWith {
                    hostname: hostname.clone(),
                    pem_file: file_of(thumb),
                },
            )
        })
        .collect();
    (files, hints)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chosen(entries: &[(&str, &str, &str)]) -> HashMap<String, (String, String)> {
        entries
            .iter()
            .map(|(l, h, t)| (l.to_string(), (h.to_string(), t.to_string())))
            .collect()
    }

    #[test]
    fn one_certificate_is_one_file() {
        let (files, hints) = files(
            &chosen(&[
                ("imaps", "mail.contoso.com", "ABCDEF0123456789"),
                ("smtps", "smtp.contoso.com", "ABCDEF0123456789"),
            ]),
            "/var/lib/mailcert/store.db",
        );
        assert_eq!(files["imaps"].pem_file, "server.pem");
        assert_eq!(files["smtps"].pem_file, "server.pem");
        assert_eq!(files["smtps"].hostname, "smtp.contoso.com");
        assert_eq!(
            hints,
            ["server.pem: mailcert --store /var/lib/mailcert/store.db show ABCDEF0123456789 --pem > server.pem"]
        );
    }

    #[test]
    fn several_certificates_are_a_file_each_named_by_thumbprint() {
        let (files, hints) = files(
            &chosen(&[
                ("imaps", "mail.contoso.com", "BBBBBBBB99"),
                ("https", "www.contoso.com", "AAAAAAAA11"),
            ]),
            "store.db",
        );
        assert_eq!(files["imaps"].pem_file, "server-BBBBBBBB.pem");
        assert_eq!(files["https"].pem_file, "server-AAAAAAAA.pem");
        assert_eq!(
            hints,
            [
                "server-AAAAAAAA.pem: mailcert --store store.db show AAAAAAAA11 --pem > server-AAAAAAAA.pem",
                "server-BBBBBBBB.pem: mailcert --store store.db show BBBBBBBB99 --pem > server-BBBBBBBB.pem",
            ]
        );
    }

    #[test]
    fn without_a_store_every_listener_gets_the_fallback() {
        let config = Config::parse(
            "[[listener]]\nname = \"imaps\"\nprotocol = \"imap\"\ntls = \"implicit\"\nbind = \"127.0.0.1:993\"\nbackend = \"127.0.0.1:143\"\nhostname = \"mail.contoso.com\"\n",
            std::path::Path::new("mailcert.toml"),
        )
        .expect("configuration");
        let plan = TryWithPlan::new(None, &config, &[], "store.db");
        let bound = Bound {
            name: "imaps".into(),
            protocol: None,
            tls: None,
            addr: std::net::SocketAddr::from(([127, 0, 0, 1], 993)),
            backend: None,
        };
        let tried = plan.for_listener(&bound);
        assert_eq!(
            (tried.hostname.as_str(), tried.pem_file.as_str()),
            ("mail.contoso.com", "server.pem")
        );
        assert!(plan.hints.is_empty());
    }
}
