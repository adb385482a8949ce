//! The validation and diagnosis core of `check` and `verify` on whatever
//! chain a server sends: the input is DER certificates one after the
//! other (as on the wire), the first byte chooses the trust, the name and
//! the time. Every verdict that is not trusted says why (an error-level
//! finding), and the diagnosis never contradicts a trusted verdict's dates.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailcert_check::{validate, Origin, Request, Source, TrustStore};

/// Splits concatenated DER elements (tag, length, content); what does not
/// parse as one stays as the last piece, as a broken certificate would.
fn elements(mut data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while !data.is_empty() && out.len() < 8 {
        let len = match data.get(1) {
            Some(&b) if b < 0x80 => Some((2, usize::from(b))),
            Some(&0x81) => data.get(2).map(|&l| (3, usize::from(l))),
            Some(&0x82) => data
                .get(2..4)
                .map(|l| (4, usize::from(u16::from_be_bytes([l[0], l[1]])))),
            _ => None,
        };
        match len.and_then(|(header, len)| data.get(..header + len)) {
            Some(element) => {
                out.push(element.to_vec());
                data = &data[element.len()..];
            }
            None => {
                out.push(data.to_vec());
                break;
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let certificates = elements(rest);
    let mut trust = TrustStore::empty();
    if selector & 1 == 1 {
        if let Some(last) = certificates.last() {
            let _ = trust.add(last, Origin::Private, "fuzz");
        }
    }
    if selector & 2 == 2 {
        if let Some(first) = certificates.first() {
            let _ = trust.add(first, Origin::Public, "fuzz");
        }
    }
    let name = match selector >> 2 & 3 {
        0 => None,
        1 => Some("mail.example.com"),
        2 => Some("127.0.0.1"),
        _ => Some("a.b.example.com"),
    };
    // Times around the seeds' validity, and the far past and future.
    let at = match selector >> 4 {
        0 => time::macros::datetime!(1960-01-01 0:00 UTC),
        1 => time::macros::datetime!(9999-12-31 23:59:59 UTC),
        n => {
            time::macros::datetime!(2026-01-01 0:00 UTC) + time::Duration::days(i64::from(n) * 200)
        }
    };
    let validation = validate(&Request {
        certificates: &certificates,
        name,
        at,
        trust: &trust,
        source: if selector & 0x80 == 0 {
            Source::Served
        } else {
            Source::Files
        },
    });
    if !validation.trusted {
        assert!(
            validation.has_errors(),
            "an untrusted chain without an error finding"
        );
    }
    for finding in &validation.findings {
        assert!(!finding.message.is_empty() && !finding.fix.is_empty());
    }
});
