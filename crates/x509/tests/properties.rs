//! The laws of names and thumbprints, as properties over generated input:
//! wildcard matching as RFC 6125 (section 6.4.3) states it and as
//! rustls-webpki applies it to a real certificate, and thumbprint
//! prefixes as administrators type them.

use mailcert_x509::names::{name_matches, parse_name, NameMatch, SubjectName};
use mailcert_x509::thumbprint::{normalize_prefix, thumbprint};
use proptest::prelude::*;
use rustls_pki_types::{CertificateDer, ServerName};

/// One DNS label: letters, digits and inner hyphens, 1 to 12 characters.
fn label() -> impl Strategy<Value = String> {
    "[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?"
}

/// A last label: never all digits (then it would be an IP address or
/// nothing, not a DNS name).
fn top_label() -> impl Strategy<Value = String> {
    "[a-z]([a-z0-9-]{0,6}[a-z0-9])?"
}

/// A base domain of two to four labels, as `*.` may stand before.
fn base() -> impl Strategy<Value = String> {
    (prop::collection::vec(label(), 1..=3), top_label())
        .prop_map(|(labels, top)| format!("{}.{top}", labels.join(".")))
}

fn mixed_case(name: &str, mask: u64) -> String {
    name.chars()
        .enumerate()
        .map(|(i, c)| {
            if mask >> (i % 64) & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

/// Does webpki accept `pattern` (on a certificate's SAN) for `host`?
fn webpki_matches(pattern: &str, host: &str) -> bool {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    let Ok(san) = pattern.to_string().try_into() else {
        return false;
    };
    params.subject_alt_names = vec![rcgen::SanType::DnsName(san)];
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("certificate");
    let der = CertificateDer::from(cert.der().to_vec());
    let ee = webpki::EndEntityCert::try_from(&der).expect("webpki reads it");
    let Ok(name) = ServerName::try_from(host.to_string()) else {
        return false;
    };
    ee.verify_is_valid_for_subject_name(&name).is_ok()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A name covers itself, whatever the case and a trailing dot.
    #[test]
    fn a_name_matches_itself_exactly(name in base(), mask in any::<u64>(), dot in any::<bool>()) {
        let host = if dot { format!("{name}.") } else { name.clone() };
        prop_assert_eq!(name_matches(&mixed_case(&name, mask), &host), Some(NameMatch::Exact));
    }

    /// `*.base` covers exactly one more label in front of `base`: not the
    /// base itself, not two labels, not another base.
    #[test]
    fn a_wildcard_covers_exactly_one_whole_label(
        base in base(),
        first in label(),
        second in label(),
        other in base(),
        mask in any::<u64>(),
    ) {
        let pattern = format!("*.{base}");
        prop_assert_eq!(
            name_matches(&pattern, &mixed_case(&format!("{first}.{base}"), mask)),
            Some(NameMatch::Wildcard)
        );
        prop_assert_eq!(name_matches(&pattern, &base), None);
        prop_assert_eq!(name_matches(&pattern, &format!("{first}.{second}.{base}")), None);
        if other != base && !other.ends_with(&format!(".{base}")) {
            prop_assert_eq!(name_matches(&pattern, &format!("{first}.{other}")), None);
        }
    }

    /// A wildcard that is not the whole left-most label never matches
    /// (`mail*.contoso.com`, `a.*.contoso.com`), nor one over a single
    /// label (`*.com`); and parse_name refuses to put them on a request.
    #[test]
    fn partial_and_top_level_wildcards_never_match(
        base in base(),
        before in "[a-z0-9]{0,3}",
        after in "[a-z0-9]{0,3}",
        host_label in label(),
        tld in top_label(),
    ) {
        prop_assume!(!(before.is_empty() && after.is_empty()));
        let partial = format!("{before}*{after}.{base}");
        let host = format!("{before}{host_label}{after}.{base}");
        prop_assert_eq!(name_matches(&partial, &host), None);
        let refused = parse_name(&partial).is_err();
        prop_assert!(refused);
        let inner = format!("{host_label}.*.{base}");
        prop_assert_eq!(name_matches(&inner, &format!("{host_label}.x.{base}")), None);
        let refused = parse_name(&inner).is_err();
        prop_assert!(refused);
        prop_assert_eq!(name_matches(&format!("*.{tld}"), &format!("{host_label}.{tld}")), None);
        let refused = parse_name(&format!("*.{tld}")).is_err();
        prop_assert!(refused);
    }

    /// The rule the planner and `which` apply is the one rustls-webpki
    /// applies to a real certificate: they agree on any pattern and host
    /// made of the same labels.
    #[test]
    fn name_matches_agrees_with_webpki(
        mut labels in prop::collection::vec(label(), 3..=4),
        top in top_label(),
        wildcard in any::<bool>(),
        host_pick in 0usize..4,
    ) {
        if let Some(last) = labels.last_mut() {
            *last = top;
        }
        let pattern_base = labels[1..].join(".");
        let pattern = if wildcard { format!("*.{pattern_base}") } else { labels.join(".") };
        let hosts = [
            labels.join("."),
            pattern_base.clone(),
            format!("x.{}", labels.join(".")),
            format!("{}.{}", labels[0], labels[2..].join(".")),
        ];
        let host = &hosts[host_pick];
        prop_assert_eq!(
            name_matches(&pattern, host).is_some(),
            webpki_matches(&pattern, host),
            "pattern {} host {}", pattern, host
        );
    }

    /// What parse_name accepts goes on a certificate as it is: parsing it
    /// again gives the same name.
    #[test]
    fn parsed_names_are_stable(name in base(), wildcard in any::<bool>(), mask in any::<u64>()) {
        let typed = mixed_case(&if wildcard { format!("*.{name}") } else { name }, mask);
        if let Ok(parsed) = parse_name(&typed) {
            let again = parse_name(&parsed.name.to_string()).expect("parses again");
            prop_assert_eq!(&again.name, &parsed.name);
            let SubjectName::Dns(dns) = parsed.name else { panic!("a DNS name") };
            prop_assert_eq!(dns.clone(), dns.to_ascii_lowercase());
        }
    }

    /// Any start of a thumbprint, however it is typed (lower case, with
    /// the spaces Windows shows or colons, around whitespace), selects by
    /// that start: the upper-case hex digits, nothing else.
    #[test]
    fn a_typed_thumbprint_prefix_is_its_hex_digits(
        der in prop::collection::vec(any::<u8>(), 1..64),
        len in 1usize..=40,
        separators in prop::collection::vec(prop_oneof![Just(""), Just(" "), Just(":")], 40),
        lower in any::<bool>(),
    ) {
        let thumb = thumbprint(&der);
        prop_assert_eq!(thumb.len(), 40);
        let prefix = &thumb[..len];
        let mut typed = String::from("  ");
        for (c, sep) in prefix.chars().zip(&separators) {
            typed.push(if lower { c.to_ascii_lowercase() } else { c });
            typed.push_str(sep);
        }
        typed.push('\t');
        let normalized = normalize_prefix(&typed).expect("a prefix");
        prop_assert_eq!(&normalized, prefix);
        prop_assert!(thumb.starts_with(&normalized));
        prop_assert_eq!(normalize_prefix(&normalized), Some(normalized.clone()));
    }

    /// Anything that is not hexadecimal (once separators are dropped) is
    /// no thumbprint.
    #[test]
    fn a_prefix_with_a_non_hex_character_is_refused(
        before in "[0-9a-fA-F]{0,8}",
        bad in "[g-zG-Z_.=/-]",
        after in "[0-9a-fA-F]{0,8}",
    ) {
        prop_assert_eq!(normalize_prefix(&format!("{before}{bad}{after}")), None);
        prop_assert_eq!(normalize_prefix(" : "), None);
    }
}
