//! What a port of this machine would serve, by the store's bindings and
//! the front end's configuration: what `check --store` compares a served
//! certificate with, chosen exactly as `serve` and `which` choose.

use std::net::SocketAddr;

use mailcert_check::{BoundCertificate, BoundLookup};
use mailcert_config::{Config, Listener};
use mailcert_store::Store;
use mailcert_x509::Service;
use time::OffsetDateTime;

use super::{ListenerScope, ServingSet};
use crate::error::Result;

/// The store's choices per service and listener, and the configuration
/// that says which listener is on which address.
pub struct AddressServing {
    serving: ServingSet,
    /// Listener names of the store's listener-specific bindings, per service.
    bound_listeners: Vec<(Service, String)>,
    config: Option<Config>,
}

/// One way a port of a service may be chosen for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Scope<'a> {
    service: Service,
    listener: Option<&'a str>,
    pin: Option<&'a str>,
}

impl AddressServing {
    /// What `store` binds, as `node` would serve it, with the front end's
    /// `config` (its listeners' own bindings and pins) if there is one.
    pub fn load(store: &dyn Store, config: Option<Config>, node: &str) -> Result<AddressServing> {
        let serving = ServingSet::load(store, false)?.on_node(Some(node));
        let bound_listeners = store
            .bindings()?
            .into_iter()
            .filter_map(|b| b.listener.map(|l| (b.service, l)))
            .collect();
        Ok(AddressServing {
            serving,
            bound_listeners,
            config,
        })
    }

    /// The configuration's listener on `address`, when there is one.
    fn listener_on(&self, address: SocketAddr) -> Option<&Listener> {
        self.config.as_ref()?.listeners.iter().find(|l| {
            l.bind.port() == address.port()
                && (l.bind.ip().is_unspecified() || l.bind.ip() == address.ip())
        })
    }

    /// The choices a port may stand for: the listener bound to the
    /// address, when the configuration has one; otherwise the service's
    /// own choice and that of each of its listeners, configured or named
    /// by a binding, since any of them may be on the port.
    fn scopes(&self, service: Service, address: SocketAddr) -> Vec<Scope<'_>> {
        if let Some(l) = self.listener_on(address) {
            return vec![Scope {
                service: l.protocol.service(),
                listener: Some(&l.name),
                pin: l.certificate.as_deref(),
            }];
        }
        let mut scopes = vec![Scope {
            service,
            listener: None,
            pin: None,
        }];
        let configured = self.config.iter().flat_map(|c| &c.listeners);
        for l in configured.filter(|l| l.protocol.service() == service) {
            scopes.push(Scope {
                service,
                listener: Some(&l.name),
                pin: l.certificate.as_deref(),
            });
        }
        for (s, name) in &self.bound_listeners {
            if *s == service && !scopes.iter().any(|sc| sc.listener == Some(name.as_str())) {
                scopes.push(Scope {
                    service,
                    listener: Some(name),
                    pin: None,
                });
            }
        }
        scopes
    }

    /// The certificates a client asking for `name` may get on `service`
    /// through `address` at `now`, one per distinct choice. A client
    /// asking for an IP address sends no SNI.
    pub fn expected_at(
        &self,
        service: Service,
        name: Option<&str>,
        address: SocketAddr,
        now: OffsetDateTime,
    ) -> Vec<BoundCertificate> {
        let sni = name.filter(|n| n.parse::<std::net::IpAddr>().is_err());
        let mut out: Vec<BoundCertificate> = Vec::new();
        for scope in self.scopes(service, address) {
            let listener = ListenerScope {
                name: scope.listener,
                pin: scope.pin,
            };
            let selection = self.serving.select(scope.service, listener, sni, now);
            let Some(thumbprint) = selection.thumbprint() else {
                continue;
            };
            if out.iter().any(|b| b.thumbprint == thumbprint) {
                continue;
            }
            let subject = self
                .serving
                .get(thumbprint)
                .map(|c| c.record.summary.subject_cn())
                .unwrap_or_default();
            out.push(BoundCertificate {
                thumbprint: thumbprint.to_string(),
                subject,
                rule: selection.explain(),
                listener: scope.listener.map(str::to_string),
            });
        }
        out
    }
}

impl BoundLookup for AddressServing {
    /// What the server chooses now, whatever time the check evaluates.
    fn expected(
        &self,
        service: Service,
        name: Option<&str>,
        address: SocketAddr,
    ) -> Vec<BoundCertificate> {
        self.expected_at(service, name, address, OffsetDateTime::now_utc())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use mailcert_store::{SqliteStore, StoreLocation};
    use mailcert_x509::KeyType;

    use super::*;
    use crate::Manager;

    const NODE: &str = "ex1.contoso.com";

    /// A store with a default certificate for imap and one bound to the
    /// `imaps` listener alone; returns the manager and both thumbprints.
    fn store(dir: &Path) -> (Manager, String, String) {
        let location = StoreLocation::resolve(Some(&dir.join("store.db")), None);
        let (store, _) = SqliteStore::open_or_create(&location).expect("store");
        let mut manager = Manager::new(Box::new(store), "test");
        let mut make = |name: &str| {
            manager
                .new_self_signed(&[name.into()], KeyType::EcP256, 30, None, true)
                .expect("certificate")
                .thumbprint
                .expect("a thumbprint")
        };
        let (default, own) = (make("mail.contoso.com"), make("imaps.contoso.com"));
        manager
            .enable(&default, &[Service::Imap], None, &[], false)
            .expect("enable");
        manager
            .enable_scoped(&own, &[Service::Imap], Some("imaps"), None, &[], false)
            .expect("enable for a listener");
        (manager, default, own)
    }

    fn config(pin: &str) -> Config {
        Config::parse(
            &format!("[[listener]]\nname = \"imaps\"\nprotocol = \"imap\"\ntls = \"implicit\"\nbind = \"0.0.0.0:993\"\nbackend = \"127.0.0.1:143\"\n\n[[listener]]\nname = \"pinned\"\nprotocol = \"imap\"\ntls = \"implicit\"\nbind = \"127.0.0.1:994\"\nbackend = \"127.0.0.1:143\"\n{pin}\n"),
            Path::new("mailcert.toml"),
        )
        .expect("configuration")
    }

    fn thumbprints(expected: &[BoundCertificate]) -> Vec<(&str, Option<&str>)> {
        expected
            .iter()
            .map(|b| (b.thumbprint.as_str(), b.listener.as_deref()))
            .collect()
    }

    fn address(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn a_configured_address_is_its_listeners_choice_alone() {
        let dir = tempfile::tempdir().expect("dir");
        let (manager, default, own) = store(dir.path());
        let pin = format!("certificate = \"{}\"", &default[..8]);
        let serving =
            AddressServing::load(manager.store.as_ref(), Some(config(&pin)), NODE).expect("load");
        // 0.0.0.0:993 covers 127.0.0.1:993: the listener's own binding.
        assert_eq!(
            thumbprints(&serving.expected_at(Service::Imap, None, address(993), now())),
            [(own.as_str(), Some("imaps"))]
        );
        // The pinned listener serves its pin.
        assert_eq!(
            thumbprints(&serving.expected_at(Service::Imap, None, address(994), now())),
            [(default.as_str(), Some("pinned"))]
        );
    }

    #[test]
    fn an_unknown_address_may_be_any_listener_of_the_service() {
        let dir = tempfile::tempdir().expect("dir");
        let (manager, default, own) = store(dir.path());
        // Without a configuration: the service's choice, and the listener
        // a binding names.
        let serving = AddressServing::load(manager.store.as_ref(), None, NODE).expect("load");
        assert_eq!(
            thumbprints(&serving.expected_at(Service::Imap, None, address(1143), now())),
            [(default.as_str(), None), (own.as_str(), Some("imaps"))]
        );
        // Nothing bound to smtp: nothing expected.
        assert!(serving
            .expected_at(Service::Smtp, None, address(25), now())
            .is_empty());
    }

    #[test]
    fn an_ip_address_is_no_sni() {
        let dir = tempfile::tempdir().expect("dir");
        let (manager, default, _) = store(dir.path());
        let serving = AddressServing::load(manager.store.as_ref(), None, NODE).expect("load");
        let by_ip = serving.expected_at(Service::Imap, Some("127.0.0.1"), address(1143), now());
        let without = serving.expected_at(Service::Imap, None, address(1143), now());
        assert_eq!(by_ip, without);
        assert_eq!(by_ip[0].thumbprint, default);
        assert_eq!(by_ip[0].subject, "mail.contoso.com");
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}
