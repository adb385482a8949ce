//! Dates are compared at the granularity certificates encode them: whole
//! seconds, both ends inclusive (RFC 5280 §4.1.2.5). A certificate is
//! valid during the whole second of its notAfter and expired from the
//! next one; `--at` with a fraction of a second is judged in the second it
//! falls in, as rustls-webpki (the verdict) and `openssl verify -attime`
//! count it, and the diagnosis never says otherwise than the verdict.

use std::process::Command;

use crate::common::*;
use mailcert_check::{validate, Code, Request, Source, Validation};
use mailcert_x509::status::{evaluate, Status};
use mailcert_x509::{CertSummary, Trust};
use time::{Duration, OffsetDateTime};

const NAME: &str = "mail.example.test";

fn at(leaf: &Cert, int: &Cert, root: &Cert, when: OffsetDateTime) -> Validation {
    validate(&Request {
        certificates: &[leaf.der.clone(), int.der.clone()],
        name: Some(NAME),
        at: when,
        trust: &trust(&[root]),
        source: Source::Files,
    })
}

fn openssl_at(pki: &Pki, leaf: &Cert, int: &Cert, root: &Cert, unix: i64) -> bool {
    Command::new("openssl")
        .args([
            "verify",
            "-no-CApath",
            "-attime",
            &unix.to_string(),
            "-CAfile",
        ])
        .arg(&root.pem)
        .arg("-untrusted")
        .arg(pki.bundle("seconds-chain.pem", &[int]))
        .arg(&leaf.pem)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
fn valid_through_the_second_of_not_after_and_from_the_second_of_not_before() {
    let pki = Pki::new();
    let root = pki.root("root", "Seconds Root");
    let int = pki.issue(&root, "int", &Spec::intermediate("Seconds CA"));
    // From now, so that the root (made a moment ago) is valid at the
    // leaf's first second too: OpenSSL checks the root's dates.
    let spec = Spec {
        start_days: 0,
        ..Spec::leaf(NAME, &[NAME])
    };
    let leaf = pki.issue(&int, "leaf", &spec);
    let summary = CertSummary::from_der(&leaf.der).expect("leaf");
    let (not_before, not_after) = (summary.not_before, summary.not_after);
    assert_eq!(
        not_after.nanosecond(),
        0,
        "certificates carry whole seconds"
    );

    let just = Duration::nanoseconds(1);
    let cases = [
        (not_before - just, Some(Code::NotYetValid)),
        (not_before, None),
        (not_after, None),
        (not_after + Duration::milliseconds(999), None),
        (not_after + Duration::nanoseconds(999_999_999), None),
        (not_after + Duration::seconds(1), Some(Code::Expired)),
    ];
    for (when, problem) in cases {
        let v = at(&leaf, &int, &root, when);
        let codes: Vec<Code> = v.findings.iter().map(|f| f.code).collect();
        match problem {
            None => {
                assert!(v.trusted, "{when}: {:?}", v.findings);
                assert!(
                    !codes.contains(&Code::Expired) && !codes.contains(&Code::NotYetValid),
                    "{when}: {codes:?}"
                );
            }
            Some(code) => {
                assert!(!v.trusted, "{when}");
                assert!(codes.contains(&code), "{when}: {codes:?}");
            }
        }
        // The verdict of `list` (status) says the same at the same time.
        let status = evaluate(&summary, &Trust::Trusted, when, 0).status;
        assert_eq!(
            status == Status::Valid,
            problem.is_none(),
            "{when}: {status:?}"
        );
        // And OpenSSL, which takes whole seconds, at the second `when` is
        // in; except the second of notAfter itself, which OpenSSL counts as
        // expired (X509_cmp_time takes "equal" for "earlier"), one second
        // short of RFC 5280 and of x509-limbo's notafter-exact case.
        let second = when.unix_timestamp();
        if second == not_after.unix_timestamp() {
            continue;
        }
        assert_eq!(
            openssl_at(&pki, &leaf, &int, &root, second),
            problem.is_none(),
            "openssl verify -attime {second} ({when})"
        );
    }
}

/// Found by the validate_chain fuzz target: a certificate whose notAfter
/// is before its notBefore (`openssl ca` makes one when asked) made the
/// diagnosis panic while looking for a moment inside its dates. It is an
/// error at any time, as webpki and OpenSSL say.
#[test]
fn a_certificate_that_ends_before_it_begins_is_refused_at_any_time() {
    let pki = Pki::new();
    let root = pki.root("root", "Seconds Root");
    let int = pki.issue(&root, "int", &Spec::intermediate("Seconds CA"));
    let spec = Spec {
        start_days: 100,
        end_days: -100,
        ..Spec::leaf(NAME, &[NAME])
    };
    let leaf = pki.issue(&int, "inverted", &spec);
    for days in [-200, 0, 200] {
        let when = OffsetDateTime::now_utc() + Duration::days(days);
        let v = at(&leaf, &int, &root, when);
        assert!(!v.trusted && v.has_errors(), "{when}: {:?}", v.findings);
        assert!(!openssl_at(&pki, &leaf, &int, &root, when.unix_timestamp()));
    }
}
