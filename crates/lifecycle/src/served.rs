//! What enabling a certificate changed for clients, told from the
//! serving sets before and after the change: the names that moved, the
//! certificates added beside, the default for clients without SNI, and
//! the listeners whose own certificates keep the new one away. Every
//! sentence comes from [`ServingSet::select`], the choice `serve` makes.

use std::collections::BTreeMap;

use mailcert_x509::names::name_covers;
use mailcert_x509::service::{OnEnable, DEFAULT_RULE, LISTENER_RULE};
use mailcert_x509::Selection;
use mailcert_x509::Service;
use time::OffsetDateTime;

use crate::report::{scope_words_on, Report};
use crate::serving::{ListenerScope, ServingSet};

/// One service's bindings in one scope (a listener, or every listener
/// without bindings of its own), before and after enabling `thumb`.
pub(crate) struct ServedChange<'a> {
    pub before: &'a ServingSet,
    pub after: &'a ServingSet,
    pub service: Service,
    pub listener: Option<&'a str>,
    pub node: Option<&'a str>,
    pub thumb: &'a str,
    pub now: OffsetDateTime,
}

impl ServedChange<'_> {
    pub fn report(&self, report: &mut Report) {
        self.names(report);
        self.default(report);
        self.hiding(report);
    }

    fn scope(&self) -> ListenerScope<'_> {
        ListenerScope {
            name: self.listener,
            pin: None,
        }
    }

    fn prefix(&self) -> String {
        format!(
            "{}{}",
            self.service,
            scope_words_on(self.listener, self.node)
        )
    }

    /// Which names moved to the new certificate and from which one, the
    /// names it carries that another certificate keeps (and why), and
    /// the certificates it was added beside.
    fn names(&self, report: &mut Report) {
        let (service, now) = (self.service, self.now);
        let before = self.before.served_names(service, self.listener, now);
        let after = self.after.served_names(service, self.listener, now);
        let mut moved: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let mut fresh = Vec::new();
        let mut kept: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (name, thumb) in &after {
            if thumb != self.thumb {
                if self.carried_by_new(name) {
                    kept.entry(thumb).or_default().push(name);
                }
                continue;
            }
            match before.get(name) {
                Some(old) if old == self.thumb => {}
                Some(old) => moved.entry(old).or_default().push(name),
                None => fresh.push(name.as_str()),
            }
        }
        // Names only a replaced certificate carried and that the new one
        // covers by a wildcard: they moved too.
        for (name, old) in before.iter().filter(|(n, _)| !after.contains_key(*n)) {
            let now_served = self
                .after
                .select(service, self.scope(), Some(name), now)
                .thumbprint()
                .map(str::to_string);
            if now_served.as_deref() == Some(self.thumb) && old != self.thumb {
                moved.entry(old).or_default().push(name);
            }
        }
        let prefix = self.prefix();
        for (old, names) in &moved {
            let (covered, mismatched): (Vec<&str>, Vec<&str>) =
                names.iter().partition(|n| self.covered_by_new(n));
            if !covered.is_empty() {
                report.say(format!(
                    "{prefix}: clients asking for {} now get {} instead of {old}",
                    covered.join(", "),
                    self.thumb
                ));
            }
            if !mismatched.is_empty() {
                report.say(format!(
                    "{prefix}: clients asking for {} now get {}, which does not carry {} (clients will see a name mismatch), instead of {old}",
                    mismatched.join(", "),
                    self.thumb,
                    if mismatched.len() == 1 { "that name" } else { "those names" }
                ));
            }
        }
        if !fresh.is_empty() && !before.is_empty() {
            report.say(format!(
                "{prefix}: clients asking for {} now get {} (no certificate here carried {})",
                fresh.join(", "),
                self.thumb,
                if fresh.len() == 1 {
                    "that name"
                } else {
                    "those names"
                }
            ));
        }
        for (other, names) in &kept {
            let why = self
                .after
                .preferred_because(other, self.thumb, now)
                .unwrap_or("it is bound to the listener itself");
            report.say(format!(
                "{prefix}: clients asking for {} still get {other}, not this certificate, because {why}",
                names.join(", "),
            ));
        }
        if self.service.on_enable() != OnEnable::ReplaceCovered {
            return;
        }
        // The certificates left beside the new one, with the names only
        // they serve: the administrator may not need them any more.
        let mut beside: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (name, thumb) in after.iter().filter(|(_, t)| t.as_str() != self.thumb) {
            if !self.carried_by_new(name) {
                beside.entry(thumb).or_default().push(name);
            }
        }
        for (other, names) in &beside {
            report.say(format!(
                "{prefix}: {} is added beside {other}, which keeps serving {} ({} {} does not carry); each client gets the certificate that carries the name it asks for (SNI). If no client needs {} any more: `mailcert disable {other} --services {}{}`",
                self.thumb,
                names.join(", "),
                if names.len() == 1 { "a name" } else { "names" },
                self.thumb,
                if names.len() == 1 { "it" } else { "them" },
                self.service,
                self.listener.map(|l| format!(" --listener {l}")).unwrap_or_default(),
            ));
        }
    }

    /// Does the new certificate cover `name`, exactly or by a wildcard?
    fn covered_by_new(&self, name: &str) -> bool {
        self.after.get(self.thumb).is_some_and(|c| {
            c.record
                .summary
                .names
                .iter()
                .any(|pattern| name_covers(pattern, name))
        })
    }

    fn carried_by_new(&self, name: &str) -> bool {
        self.after.get(self.thumb).is_some_and(|c| {
            c.record
                .summary
                .names
                .iter()
                .any(|n| n.trim_end_matches('.').eq_ignore_ascii_case(name))
        })
    }

    /// Which certificate clients without SNI now get, and why.
    fn default(&self, report: &mut Report) {
        let chosen = self
            .after
            .select(self.service, self.scope(), None, self.now);
        let Some(default) = chosen.thumbprint() else {
            return;
        };
        let prefix = self.prefix();
        if default == self.thumb {
            let rule = match chosen {
                Selection::NoSni {
                    listener_bound: true,
                    ..
                } => LISTENER_RULE,
                _ => DEFAULT_RULE,
            };
            report.say(format!(
                "{prefix}: clients without SNI now get this certificate ({rule})"
            ));
        } else {
            let why = self
                .after
                .preferred_because(default, self.thumb, self.now)
                .unwrap_or("it is bound to the listener itself");
            report.say(format!(
                "{prefix}: clients without SNI still get {default}, not this certificate, because {why}; clients that ask for a name only this certificate carries (SNI) get it; see `mailcert which {}`",
                self.service
            ));
        }
    }

    /// Listener bindings that keep the new certificate away: bound to the
    /// whole service, it is not served where a listener has certificates
    /// of its own; bound to a listener, it now hides the service's there.
    fn hiding(&self, report: &mut Report) {
        let service = self.service;
        let after = self.after.listener_bindings();
        let here = after.iter().filter(|l| l.service == service);
        match self.listener {
            None => {
                for l in here.filter(|l| l.hidden.iter().any(|t| t == self.thumb)) {
                    report.say(format!(
                        "{service}: listener '{}' has certificates bound to it alone ({}), so it serves those and not {}; to serve it there too: `mailcert enable {} --services {service} --listener {}`",
                        l.listener,
                        l.own.join(", "),
                        self.thumb,
                        self.thumb,
                        l.listener
                    ));
                }
            }
            Some(name) => {
                let was_hidden: Vec<String> = self
                    .before
                    .listener_bindings()
                    .into_iter()
                    .filter(|l| l.service == service && l.listener == name)
                    .flat_map(|l| l.hidden)
                    .collect();
                for l in here.filter(|l| l.listener == name) {
                    let newly: Vec<&str> = l
                        .hidden
                        .iter()
                        .filter(|t| !was_hidden.contains(t))
                        .map(String::as_str)
                        .collect();
                    if !newly.is_empty() {
                        report.say(format!(
                            "{service} on listener {name}: this listener now serves only the certificates bound to it alone; {} (bound to {service} for every listener) {} no longer served there: bind {} to the listener too if clients of '{name}' need {} names",
                            newly.join(", "),
                            if newly.len() == 1 { "is" } else { "are" },
                            if newly.len() == 1 { "it" } else { "them" },
                            if newly.len() == 1 { "its" } else { "their" },
                        ));
                    }
                }
            }
        }
    }
}
