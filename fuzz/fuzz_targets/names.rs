//! Names as administrators type them and as certificates carry them, and
//! the wildcard rule (RFC 6125) between the two.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailcert_x509::names::{best_match, name_matches, parse_name, NameMatch, SubjectName};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (pattern, host) = text.split_once('\n').unwrap_or((&text, ""));
    if let Ok(parsed) = parse_name(pattern) {
        // What parse_name accepts is stable: reading it again gives itself.
        let again = parse_name(&parsed.name.to_string()).expect("a parsed name parses again");
        assert_eq!(again.name, parsed.name);
        if let SubjectName::Dns(dns) = &parsed.name {
            assert!(dns.len() <= 255 && dns.is_ascii());
        }
    }
    match name_matches(pattern, host) {
        Some(NameMatch::Exact) => assert!(!pattern.contains('*')),
        Some(NameMatch::Wildcard) => {
            assert!(pattern.starts_with("*."));
            // Exactly one more label in the host than in the pattern's suffix.
            let host = host.trim_end_matches('.');
            let suffix = pattern.trim_end_matches('.');
            assert_eq!(host.split('.').count(), suffix.split('.').count());
        }
        None => {}
    }
    let _ = best_match([pattern, host], host);
    let _ = mailcert_x509::thumbprint::normalize_prefix(pattern);
    let _ = mailcert_x509::time::parse_at(pattern);
    let _ = mailcert_x509::build::parse_subject(pattern);
    let _ = mailcert_x509::Service::parse_list(pattern);
    let _ = mailcert_check::Endpoint::parse_all(pattern);
    let _ = mailcert_check::ConnectTo::parse(pattern);
});
