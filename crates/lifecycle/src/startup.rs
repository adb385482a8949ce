//! What a start decides about the store: the first start's
//! initialisation (any command that may create the store, and `serve`),
//! the certificate the web console will present, and the name to try a
//! listener with. The words are returned; printing them is the caller's.

use mailcert_store::{Opened, StoreLocation};
use mailcert_x509::names::best_match;
use mailcert_x509::Service;

use crate::{ListenerScope, Manager, Result};

/// What happened to the store file, for the administrator; `None` when
/// it was simply there.
pub fn opened_words(location: &StoreLocation, opened: Opened) -> Option<String> {
    match opened {
        Opened::Existing => None,
        Opened::Created => Some(format!("created the store {}", location.shown())),
        Opened::EmptyFileInitialised => Some(format!(
            "{} was an empty file: initialised it as a new store",
            location.shown()
        )),
        Opened::Finished => Some(format!(
            "the store {} was left unfinished by an interrupted start (its key file {} was missing or empty, and nothing was encrypted yet): gave it a new key",
            location.shown(),
            location.key.display()
        )),
    }
}

/// The certificate the web console would present: it takes its
/// certificate as an HTTPS listener named `console` would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsoleCertificate {
    /// A certificate would be served: this one.
    Chosen(String),
    /// `[console] certificate` names nothing in the store: every
    /// handshake would fail, so `serve` refuses to start.
    PinMatchesNothing(String),
    /// Nothing bound to HTTPS yet: the console starts, and says why it
    /// has no certificate (the selection's explanation).
    NoneYet(String),
}

impl Manager {
    /// The rule of every first start (any command, `serve`): `init` runs
    /// when the store was never initialised, and only then. `say` is given
    /// each sentence for the administrator as it happens, so that what was
    /// done before a failure is still told.
    pub fn first_start(
        &mut self,
        location: &StoreLocation,
        opened: Opened,
        say: &mut dyn FnMut(String),
    ) -> Result<()> {
        if let Some(words) = opened_words(location, opened) {
            say(words);
        }
        if let Some(report) = self.ensure_initialised()? {
            if !opened.is_new() && !self.store.shared() {
                say(format!(
                    "the store {} was never initialised: initialising it now",
                    location.shown()
                ));
            }
            for line in report.lines {
                say(line);
            }
        }
        Ok(())
    }

    /// The first use of a store by an administrator's command: as
    /// [`Manager::first_start`], except on a fleet's shared store, where
    /// each node's own certificate is made by that node's `serve` (or
    /// `init` run as it), never for the machine an administrator's
    /// command happens to run on, which may be no node at all.
    pub fn first_use(
        &mut self,
        location: &StoreLocation,
        opened: Opened,
        say: &mut dyn FnMut(String),
    ) -> Result<()> {
        if !self.store.shared() {
            return self.first_start(location, opened, say);
        }
        if let Some(words) = opened_words(location, opened) {
            say(format!(
                "{words} (key file {}); no self-signed certificate was made: each node's `mailcert serve` makes its own on its first start",
                location.key.display()
            ));
        }
        Ok(())
    }

    /// The certificate the console would present, chosen as for an HTTPS
    /// listener named `console` with the console's pin: a pin that matches
    /// nothing is told apart from there being no HTTPS certificate yet.
    pub fn console_certificate(
        &self,
        console: &mailcert_config::Console,
    ) -> Result<ConsoleCertificate> {
        let scope = ListenerScope {
            name: Some(mailcert_config::Console::LISTENER),
            pin: console.certificate.as_deref(),
        };
        let (selection, _) = self.which(Service::Https, scope, None)?;
        if let Some(thumbprint) = selection.thumbprint() {
            return Ok(ConsoleCertificate::Chosen(thumbprint.to_string()));
        }
        Ok(match &console.certificate {
            Some(pin) => ConsoleCertificate::PinMatchesNothing(pin.clone()),
            None => ConsoleCertificate::NoneYet(selection.explain()),
        })
    }

    /// The name to try a listener with, and the thumbprint of the
    /// certificate a client asking for that name gets (the choice of
    /// `which`, pins included); `None` when nothing would be served.
    /// `hostname` is the listener's name for itself; when the chosen
    /// certificate does not carry it, a client's name check would fail,
    /// so the first non-wildcard name the certificate carries is tried
    /// instead (and asking for that name may choose another certificate).
    pub fn name_to_try(
        &self,
        service: Service,
        scope: ListenerScope<'_>,
        hostname: &str,
    ) -> Option<(String, String)> {
        let Ok((selection, Some(record))) = self.which(service, scope, Some(hostname)) else {
            return None;
        };
        let chosen = selection.thumbprint()?.to_string();
        let names = &record.summary.names;
        let covered = best_match(names.iter().map(String::as_str), hostname);
        match (covered, names.iter().find(|n| !n.starts_with('*'))) {
            (None, Some(name)) => {
                let again = self.which(service, scope, Some(name)).ok();
                let thumbprint = again
                    .and_then(|(s, _)| s.thumbprint().map(str::to_string))
                    .unwrap_or(chosen);
                Some((name.clone(), thumbprint))
            }
            _ => Some((hostname.to_string(), chosen)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use mailcert_store::SqliteStore;
    use mailcert_x509::KeyType;

    use super::*;

    fn location(dir: &Path) -> StoreLocation {
        StoreLocation::resolve(Some(&dir.join("store.db")), None)
    }

    fn manager(dir: &Path) -> (Manager, Opened) {
        let (store, opened) = SqliteStore::open_or_create(&location(dir)).expect("store");
        (Manager::new(Box::new(store), "test"), opened)
    }

    fn self_signed(manager: &mut Manager, names: &[&str]) -> String {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        manager
            .new_self_signed(&names, KeyType::EcP256, 30, None, true)
            .expect("certificate")
            .thumbprint
            .expect("a thumbprint")
    }

    fn console(pin: Option<&str>) -> mailcert_config::Console {
        let pin = pin
            .map(|p| format!("certificate = \"{p}\"\n"))
            .unwrap_or_default();
        let text = format!("[console]\nbind = \"127.0.0.1:8444\"\n{pin}");
        mailcert_config::Config::parse(&text, Path::new("mailcert.toml"))
            .expect("configuration")
            .console
            .expect("a console")
    }

    #[test]
    fn the_first_start_initialises_once_and_says_so() {
        let dir = tempfile::tempdir().expect("dir");
        let (mut manager, opened) = manager(dir.path());
        assert_eq!(opened, Opened::Created);
        let mut said = Vec::new();
        manager
            .first_start(&location(dir.path()), opened, &mut |line| said.push(line))
            .expect("first start");
        assert!(said[0].starts_with("created the store "), "{said:?}");
        assert!(said.len() > 1, "init's report follows: {said:?}");
        assert!(manager.is_initialised().expect("initialised"));
        // A second start on the same store says and makes nothing.
        let (mut again, opened) = self::manager(dir.path());
        assert_eq!(opened, Opened::Existing);
        let mut said = Vec::new();
        again
            .first_start(&location(dir.path()), opened, &mut |line| said.push(line))
            .expect("second start");
        assert!(said.is_empty(), "{said:?}");
    }

    #[test]
    fn a_store_that_was_never_initialised_is_initialised_on_its_next_start() {
        let dir = tempfile::tempdir().expect("dir");
        drop(manager(dir.path()));
        let (mut manager, opened) = manager(dir.path());
        let mut said = Vec::new();
        manager
            .first_start(&location(dir.path()), opened, &mut |line| said.push(line))
            .expect("start");
        assert!(
            said[0].contains("was never initialised: initialising it now"),
            "{said:?}"
        );
    }

    #[test]
    fn opened_words_say_what_happened_to_the_file() {
        let location = location(Path::new("/var/lib/mailcert"));
        assert_eq!(opened_words(&location, Opened::Existing), None);
        let words = opened_words(&location, Opened::Finished).expect("words");
        assert!(words.contains("gave it a new key"), "{words}");
        assert!(
            words.contains(&location.key.display().to_string()),
            "{words}"
        );
    }

    #[test]
    fn the_console_tells_a_pin_matching_nothing_from_no_certificate_yet() {
        let dir = tempfile::tempdir().expect("dir");
        let (mut manager, _) = manager(dir.path());
        assert!(matches!(
            manager.console_certificate(&console(None)).expect("choice"),
            ConsoleCertificate::NoneYet(_)
        ));
        assert_eq!(
            manager
                .console_certificate(&console(Some("ABCDEF12")))
                .expect("choice"),
            ConsoleCertificate::PinMatchesNothing("ABCDEF12".into())
        );
        let thumb = self_signed(&mut manager, &["console.contoso.com"]);
        assert_eq!(
            manager
                .console_certificate(&console(Some(&thumb[..8])))
                .expect("choice"),
            ConsoleCertificate::Chosen(thumb.clone())
        );
        manager
            .enable(&thumb, &[Service::Https], None, &[], false)
            .expect("enable");
        assert_eq!(
            manager.console_certificate(&console(None)).expect("choice"),
            ConsoleCertificate::Chosen(thumb)
        );
    }

    #[test]
    fn a_listener_is_tried_with_a_name_its_certificate_carries() {
        let dir = tempfile::tempdir().expect("dir");
        let (mut manager, _) = manager(dir.path());
        let unscoped = ListenerScope {
            name: Some("imaps"),
            pin: None,
        };
        assert_eq!(
            manager.name_to_try(Service::Imap, unscoped, "mail.contoso.com"),
            None
        );
        let thumb = self_signed(&mut manager, &["*.contoso.com", "imap.contoso.com"]);
        manager
            .enable(&thumb, &[Service::Imap], None, &[], false)
            .expect("enable");
        // A name the certificate covers is tried as it is.
        assert_eq!(
            manager.name_to_try(Service::Imap, unscoped, "mail.contoso.com"),
            Some(("mail.contoso.com".into(), thumb.clone()))
        );
        // One it does not: its first name that is not a wildcard.
        assert_eq!(
            manager.name_to_try(Service::Imap, unscoped, "mail.fabrikam.com"),
            Some(("imap.contoso.com".into(), thumb))
        );
    }
}
