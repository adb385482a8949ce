//! What `which` says beside its answer: the listeners where the answer
//! does not hold, the certificates a listener hides, and what to do when
//! nothing would be served.

use mailcert_x509::{Selection, Service};

use super::ListenerBindings;

/// What the answer does not show by itself: bindings to named listeners.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ListenerNotes {
    /// With `--listener`: certificates bound to the whole service that
    /// this listener never serves, because it has certificates of its own.
    pub hidden: Vec<String>,
    /// Without `--listener`: the listeners of this service that serve
    /// certificates of their own, where this answer does not hold.
    pub listeners_with_own: Vec<String>,
    /// The notes in words, for people.
    pub sentences: Vec<String>,
}

/// The notes of an answer of `which` for `service` (on `listener`), from
/// every listener's own bindings (`all`).
pub fn listener_notes(
    all: &[ListenerBindings],
    service: Service,
    listener: Option<&str>,
) -> ListenerNotes {
    let mut notes = ListenerNotes::default();
    let of_service = all.iter().filter(|l| l.service == service);
    match listener {
        Some(name) => {
            for l in of_service.filter(|l| l.listener == name && !l.hidden.is_empty()) {
                notes.hidden.extend(l.hidden.iter().cloned());
                notes.sentences.push(format!(
                    "listener '{name}' has certificates bound to it alone ({}), so it never serves {} (bound to {service} for every listener), whatever name a client asks for; to serve one here too: `mailcert enable THUMBPRINT --services {service} --listener {name}`",
                    l.own.join(", "),
                    l.hidden.join(", ")
                ));
            }
        }
        None => {
            for l in of_service {
                notes.listeners_with_own.push(l.listener.clone());
                notes.sentences.push(format!(
                    "this is the answer for {service} listeners without certificates of their own; listener '{}' serves only those bound to it ({}): see `mailcert which {service} --listener {}`",
                    l.listener,
                    l.own.join(", "),
                    l.listener
                ));
            }
        }
    }
    notes
}

/// What to do when nothing would be served (`None` when something is).
pub fn nothing_fix(
    selection: &Selection,
    service: Service,
    listener: Option<&str>,
    pin: Option<&str>,
) -> Option<String> {
    let Selection::Nothing { .. } = selection else {
        return None;
    };
    if let (Some(l), Some(pin)) = (listener, pin) {
        return Some(format!(
            "import or complete the certificate that listener '{l}' names (certificate = \"{pin}\"), or change that line in the configuration and send `mailcert serve` SIGHUP"
        ));
    }
    let scope = listener
        .map(|l| format!(" --listener {l}"))
        .unwrap_or_default();
    Some(format!(
        "bind a certificate with `mailcert enable THUMBPRINT --services {service}{scope}` (thumbprints: `mailcert list`; none yet? `mailcert new --self-signed --name HOST` or `mailcert request`)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bindings() -> Vec<ListenerBindings> {
        vec![ListenerBindings {
            service: Service::Imap,
            listener: "imaps".into(),
            own: vec!["AAAA".into()],
            hidden: vec!["BBBB".into()],
        }]
    }

    #[test]
    fn on_a_listener_the_hidden_certificates_are_named_with_the_fix() {
        let notes = listener_notes(&bindings(), Service::Imap, Some("imaps"));
        assert_eq!(notes.hidden, ["BBBB"]);
        assert!(notes.listeners_with_own.is_empty());
        assert_eq!(notes.sentences.len(), 1);
        assert!(
            notes.sentences[0].contains("(AAAA)")
                && notes.sentences[0].contains("never serves BBBB")
                && notes.sentences[0]
                    .contains("`mailcert enable THUMBPRINT --services imap --listener imaps`"),
            "{notes:?}"
        );
        // Another listener, another service: nothing to say.
        assert_eq!(
            listener_notes(&bindings(), Service::Imap, Some("imap")),
            ListenerNotes::default()
        );
        assert_eq!(
            listener_notes(&bindings(), Service::Smtp, None),
            ListenerNotes::default()
        );
    }

    #[test]
    fn for_the_service_the_listeners_with_their_own_are_named() {
        let notes = listener_notes(&bindings(), Service::Imap, None);
        assert!(notes.hidden.is_empty());
        assert_eq!(notes.listeners_with_own, ["imaps"]);
        assert!(
            notes.sentences[0].contains("`mailcert which imap --listener imaps`"),
            "{notes:?}"
        );
    }

    #[test]
    fn the_fix_for_nothing_names_the_pin_or_the_binding_to_make() {
        let nothing = Selection::Nothing {
            reason: "nothing bound".into(),
        };
        let pinned =
            nothing_fix(&nothing, Service::Imap, Some("imaps"), Some("9F1C")).expect("a fix");
        assert!(pinned.contains("(certificate = \"9F1C\")"), "{pinned}");
        let bind = nothing_fix(&nothing, Service::Smtp, Some("submission"), None).expect("a fix");
        assert!(
            bind.contains("`mailcert enable THUMBPRINT --services smtp --listener submission`"),
            "{bind}"
        );
        let served = Selection::NoSni {
            thumbprint: "9F1C".into(),
            listener_bound: false,
        };
        assert_eq!(nothing_fix(&served, Service::Smtp, None, None), None);
    }
}
