//! `[[mta_sts]]`: the MTA-STS policies the front end's HTTPS listeners
//! serve at `https://mta-sts.<domain>/.well-known/mta-sts.txt`, and the
//! TLS-RPT address announced beside them. Validated like the rest of the
//! file: every problem with its line and field.

use std::collections::HashSet;
use std::fmt;

use mailcert_mtasts::{
    ensure_max_age, policy_domain, policy_host, Mode, MxPattern, Policy, Rua, StsError, StsRecord,
    TlsRptRecord, DEFAULT_MAX_AGE,
};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMtaSts {
    domain: Spanned<String>,
    mode: Spanned<Mode>,
    #[serde(default)]
    mx: Vec<Spanned<String>>,
    max_age: Option<Spanned<i64>>,
    rua: Option<Spanned<UriList>>,
}

/// `rua` written as one address or a list of them.
#[derive(Debug, Default)]
struct UriList(Vec<String>);

impl<'de> Deserialize<'de> for UriList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = UriList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an address (\"mailto:tlsrpt@contoso.com\") or a list of them")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<UriList, E> {
                Ok(UriList(vec![v.to_string()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<UriList, A::Error> {
                let mut out = Vec::new();
                while let Some(uri) = seq.next_element::<String>()? {
                    out.push(uri);
                }
                Ok(UriList(out))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// One validated `[[mta_sts]]` entry: a domain's policy and where its
/// TLS reports go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MtaSts {
    /// The mail domain, lower-case ASCII (`contoso.com`).
    pub domain: String,
    pub policy: Policy,
    /// TLS-RPT reporting addresses; none: no `_smtp._tls` record.
    pub rua: Vec<Rua>,
    /// The line of the entry's `domain`, for messages about it.
    pub line: usize,
}

impl MtaSts {
    /// The host the policy is served for: `mta-sts.<domain>`.
    pub fn policy_host(&self) -> String {
        policy_host(&self.domain)
    }

    /// The `_mta-sts` TXT record announcing this policy.
    pub fn sts_record(&self) -> StsRecord {
        StsRecord {
            id: self.policy.id(),
        }
    }

    /// The `_smtp._tls` TXT record, when reporting addresses are set.
    pub fn tlsrpt_record(&self) -> Option<TlsRptRecord> {
        (!self.rua.is_empty()).then(|| TlsRptRecord {
            rua: self.rua.clone(),
        })
    }
}

/// Validates the `[[mta_sts]]` entries; problems are pushed with their
/// line and field (`line 12: mta_sts[1] (contoso.com).max_age: ...`).
pub(crate) fn parse_mta_sts(
    raw: Vec<RawMtaSts>,
    at_line: &dyn Fn(std::ops::Range<usize>) -> usize,
    problems: &mut Vec<String>,
) -> Vec<MtaSts> {
    let mut domains = HashSet::new();
    let mut out = Vec::new();
    for (index, raw) in raw.into_iter().enumerate() {
        let written = raw.domain.get_ref().clone();
        let at = |span: std::ops::Range<usize>, field: &str| {
            format!(
                "line {}: mta_sts[{}] ({written}).{field}",
                at_line(span),
                index + 1
            )
        };
        // This entry's problems; a policy is built only when it has none.
        let mut wrong: Vec<String> = Vec::new();
        let fail = |wrong: &mut Vec<String>, place: String, error: &StsError| {
            wrong.push(format!("{place}: {error}"));
        };
        let domain = match policy_domain(&written) {
            Ok(domain) => {
                if !domains.insert(domain.clone()) {
                    wrong.push(format!(
                        "{}: {domain} has another [[mta_sts]] entry already; a domain has one policy: merge the two",
                        at(raw.domain.span(), "domain")
                    ));
                }
                domain
            }
            Err(e) => {
                fail(&mut wrong, at(raw.domain.span(), "domain"), &e);
                String::new()
            }
        };
        let mut mx = Vec::new();
        for pattern in &raw.mx {
            match MxPattern::parse(pattern.get_ref()) {
                Ok(p) => mx.push(p),
                Err(e) => fail(&mut wrong, at(pattern.span(), "mx"), &e),
            }
        }
        let max_age = match &raw.max_age {
            None => DEFAULT_MAX_AGE,
            Some(value) if *value.get_ref() < 0 => {
                wrong.push(format!(
                    "{}: {} is negative; give the seconds senders may keep the policy (604800 is a week)",
                    at(value.span(), "max_age"),
                    value.get_ref()
                ));
                DEFAULT_MAX_AGE
            }
            Some(value) => match ensure_max_age(value.get_ref().unsigned_abs()) {
                Ok(seconds) => seconds,
                Err(e) => {
                    fail(&mut wrong, at(value.span(), "max_age"), &e);
                    DEFAULT_MAX_AGE
                }
            },
        };
        let mut rua = Vec::new();
        if let Some(list) = &raw.rua {
            for uri in &list.get_ref().0 {
                match Rua::parse(uri) {
                    Ok(r) => rua.push(r),
                    Err(e) => fail(&mut wrong, at(list.span(), "rua"), &e),
                }
            }
        }
        let mode = *raw.mode.get_ref();
        if !wrong.is_empty() {
            problems.append(&mut wrong);
            continue;
        }
        match Policy::new(mode, mx, max_age) {
            Ok(policy) => out.push(MtaSts {
                domain,
                policy,
                rua,
                line: at_line(raw.domain.span()),
            }),
            Err(e) => problems.push(format!("{}: {e}", at(raw.mode.span(), "mx"))),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::Config;

    fn problems(text: &str) -> String {
        Config::parse(text, Path::new("m.toml"))
            .unwrap_err()
            .to_string()
    }

    const GOOD: &str = "[[mta_sts]]\ndomain = \"contoso.com\"\nmode = \"enforce\"\nmx = [\"mx1.contoso.com\", \"*.mx.contoso.com\"]\nmax_age = 86400\nrua = \"mailto:tlsrpt@contoso.com\"\n";

    #[test]
    fn a_policy_entry_is_read_and_its_records_derived() {
        let config = Config::parse(GOOD, Path::new("m.toml")).unwrap();
        let entry = &config.mta_sts[0];
        assert_eq!(entry.domain, "contoso.com");
        assert_eq!(entry.policy_host(), "mta-sts.contoso.com");
        assert_eq!(entry.policy.max_age, 86400);
        assert_eq!(entry.line, 2);
        assert_eq!(
            entry.tlsrpt_record().unwrap().text(),
            "v=TLSRPTv1; rua=mailto:tlsrpt@contoso.com"
        );
        assert_eq!(
            entry.sts_record().text(),
            format!("v=STSv1; id={}", entry.policy.id())
        );
        let default_age = GOOD.replace("max_age = 86400\n", "");
        let config = Config::parse(&default_age, Path::new("m.toml")).unwrap();
        assert_eq!(config.mta_sts[0].policy.max_age, 604800);
        assert!(config.mta_sts[0].tlsrpt_record().is_some());
    }

    #[test]
    fn bad_entries_name_their_line_and_field() {
        let err = problems(&GOOD.replace("\"enforce\"", "\"enforced\""));
        assert!(
            err.starts_with(
                "m.toml: line 3: mta_sts[1] (contoso.com).mode: unknown variant `enforced`"
            ),
            "{err}"
        );
        assert!(err.ends_with("did you mean \"enforce\"?"), "{err}");
        let err = problems(&GOOD.replace("86400", "31557601"));
        assert!(
            err.contains(
                "line 5: mta_sts[1] (contoso.com).max_age: max_age 31557601 is over a year"
            ),
            "{err}"
        );
        let err = problems(&GOOD.replace("86400", "-1"));
        assert!(
            err.contains("line 5: mta_sts[1] (contoso.com).max_age: -1 is negative"),
            "{err}"
        );
        let err = problems(&GOOD.replace("*.mx.contoso.com", "mx 2.contoso.com"));
        assert!(
            err.contains("line 4: mta_sts[1] (contoso.com).mx: mx pattern 'mx 2.contoso.com' is not a host name"),
            "{err}"
        );
        let err = problems(&GOOD.replace("*.mx.contoso.com", "192.0.2.25"));
        assert!(err.contains("is an IP address"), "{err}");
        let err = problems(&GOOD.replace("mailto:tlsrpt@contoso.com", "tlsrpt@contoso.com"));
        assert!(
            err.contains("line 6: mta_sts[1] (contoso.com).rua: rua 'tlsrpt@contoso.com'"),
            "{err}"
        );
        let err = problems(&GOOD.replace("domain = \"contoso.com\"", "domain = \"*.contoso.com\""));
        assert!(
            err.contains("line 2: mta_sts[1] (*.contoso.com).domain:"),
            "{err}"
        );
        let err = problems(&format!(
            "{GOOD}\n{}",
            GOOD.replace("contoso.com\"\nmode", "CONTOSO.com\"\nmode")
        ));
        assert!(
            err.contains("line 9: mta_sts[2] (CONTOSO.com).domain: contoso.com has another"),
            "{err}"
        );
        let err = problems(&GOOD.replace("mx = [\"mx1.contoso.com\", \"*.mx.contoso.com\"]\n", ""));
        assert!(
            err.contains("mta_sts[1] (contoso.com).mx: mode \"enforce\" with no mx pattern"),
            "{err}"
        );
        let err = problems(&GOOD.replace("max_age", "max_aeg"));
        assert!(
            err.contains("line 5: mta_sts[1] (contoso.com).max_aeg: unknown field")
                && err.ends_with("did you mean `max_age`?"),
            "{err}"
        );
    }

    #[test]
    fn only_an_https_listener_may_go_without_a_backend_and_only_to_serve_policies() {
        let https = "[[listener]]\nname = \"sts\"\nprotocol = \"https\"\ntls = \"implicit\"\nbind = \"127.0.0.1:8443\"\n";
        let config = Config::parse(&format!("{https}{GOOD}"), Path::new("m.toml")).unwrap();
        assert_eq!(config.listeners[0].backend, None);
        let err = problems(https);
        assert!(
            err.contains("line 2: listener[1] (sts).backend: missing; an https listener without a backend serves only MTA-STS policies"),
            "{err}"
        );
        let imap = https.replace("https", "imap");
        let err = problems(&format!("{imap}{GOOD}"));
        assert!(
            err.contains("listener[1] (sts).backend: missing; imap listeners pass the plaintext to a backend"),
            "{err}"
        );
    }
}
