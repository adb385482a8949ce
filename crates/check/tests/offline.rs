//! The validation core on files (what `mailcert verify` runs): chains built
//! with OpenSSL, one per finding, and the verdict compared with `openssl
//! verify` run as a client would (server purpose, host name, security
//! level 2, roots only).

use std::path::PathBuf;
use std::process::Command;

use crate::common::*;
use mailcert_check::{validate, Code, Origin, Request, Severity, Source, TrustStore, Validation};
use time::OffsetDateTime;

const NAME: &str = "mail.example.test";

struct Case<'a> {
    what: &'a str,
    leaf: &'a Cert,
    chain: Vec<&'a Cert>,
    roots: Vec<&'a Cert>,
    name: Option<&'a str>,
    at: Option<OffsetDateTime>,
    expected: Vec<Code>,
}

fn run(case: &Case<'_>) -> Validation {
    let mut certificates = vec![case.leaf.der.clone()];
    certificates.extend(case.chain.iter().map(|c| c.der.clone()));
    validate(&Request {
        certificates: &certificates,
        name: case.name,
        at: case.at.unwrap_or_else(OffsetDateTime::now_utc),
        trust: &trust(&case.roots),
        source: Source::Files,
    })
}

/// `openssl verify` as a TLS client at security level 2 sees it.
fn openssl_accepts(pki: &Pki, case: &Case<'_>) -> bool {
    let roots = pki.bundle("verify-roots.pem", &case.roots);
    let mut cmd = Command::new("openssl");
    cmd.args([
        "verify",
        "-no-CApath",
        "-purpose",
        "sslserver",
        "-auth_level",
        "2",
    ])
    .arg("-CAfile")
    .arg(&roots);
    if case.roots.is_empty() {
        // An empty CA file is an error for OpenSSL; use an unrelated root.
        let other = pki.root("unrelated", "Unrelated Root");
        cmd.arg("-CAfile").arg(&other.pem);
    }
    if !case.chain.is_empty() {
        let chain: PathBuf = pki.bundle("verify-chain.pem", &case.chain);
        cmd.arg("-untrusted").arg(chain);
    }
    if let Some(name) = case.name {
        cmd.args(["-verify_hostname", name]);
    }
    if let Some(at) = case.at {
        cmd.args(["-attime", &at.unix_timestamp().to_string()]);
    }
    cmd.arg(&case.leaf.pem);
    cmd.output().map(|o| o.status.success()).unwrap_or(false)
}

#[test]
fn each_finding_from_files_and_the_verdict_agrees_with_openssl_verify() {
    let pki = Pki::new();
    let root = pki.root("root", "Offline Test Root");
    let other_root = pki.root("other-root", "Another Root");
    let int = pki.issue(&root, "int", &Spec::intermediate("Offline Issuing CA"));
    let good = pki.issue(&int, "good", &Spec::leaf(NAME, &[NAME]));
    let self_signed = pki.self_signed("self", NAME, &[NAME]);

    let mut with_aia = Spec::leaf(NAME, &[NAME]);
    with_aia.aia = Some("http://ca.example.test/offline-issuing.crt");
    let aia_leaf = pki.issue(&int, "aia", &with_aia);

    let mut expired = Spec::leaf(NAME, &[NAME]);
    expired.start_days = -100;
    expired.end_days = -1;
    let expired = pki.issue(&int, "expired", &expired);

    let mut future = Spec::leaf(NAME, &[NAME]);
    future.start_days = 3;
    future.end_days = 93;
    let future = pki.issue(&int, "future", &future);

    let mut soon = Spec::leaf(NAME, &[NAME]);
    soon.end_days = 20;
    let soon = pki.issue(&int, "soon", &soon);

    let mut client = Spec::leaf(NAME, &[NAME]);
    client.eku = Some("clientAuth");
    let client = pki.issue(&int, "client", &client);

    let mut weak = Spec::leaf(NAME, &[NAME]);
    weak.key = Key::Rsa(1024);
    let weak = pki.issue(&int, "weak", &weak);

    let mut sha1 = Spec::leaf(NAME, &[NAME]);
    sha1.md = "sha1";
    let sha1 = pki.issue(&int, "sha1", &sha1);

    // pathlen:0 on the issuing CA, and one more CA below it.
    let mut sub = Spec::intermediate("Offline Sub CA");
    sub.pathlen = None;
    let sub = pki.issue(&int, "sub", &sub);
    let too_deep = pki.issue(&sub, "deep", &Spec::leaf(NAME, &[NAME]));

    let mut constrained = Spec::intermediate("Constrained CA");
    constrained.name_constraints = Some("permitted;DNS:.example.org");
    let constrained = pki.issue(&root, "constrained", &constrained);
    let outside = pki.issue(&constrained, "outside", &Spec::leaf(NAME, &[NAME]));

    let wrong_name = pki.issue(
        &int,
        "wrongname",
        &Spec::leaf("www.example.test", &["www.example.test"]),
    );
    let later = OffsetDateTime::now_utc() + time::Duration::days(120);

    // A root that expired 10 days ago, and a leaf it issued.
    let old_root = pki.root_dated("old-root", "Expired Root", -400, -10);
    let under_old = pki.issue(&old_root, "under-old", &Spec::leaf(NAME, &[NAME]));
    // A self-signed certificate that has nothing to do with the chain.
    let stray = pki.self_signed("stray", "stray.example.test", &["stray.example.test"]);

    let mut crl_only = Spec::leaf(NAME, &[NAME]);
    crl_only.key_usage = Some("cRLSign");
    let crl_only = pki.issue(&int, "crl-only", &crl_only);
    let mut signing = Spec::leaf(NAME, &[NAME]);
    signing.key_usage = Some("digitalSignature");
    let signing = pki.issue(&int, "signing", &signing);

    let cases = vec![
        Case {
            what: "a correct chain",
            leaf: &good,
            chain: vec![&int],
            roots: vec![&root],
            name: Some(NAME),
            at: None,
            expected: vec![],
        },
        Case {
            what: "self-signed",
            leaf: &self_signed,
            chain: vec![],
            roots: vec![&root],
            name: Some(NAME),
            at: None,
            expected: vec![Code::SelfSigned],
        },
        Case {
            what: "intermediate missing, AIA present",
            leaf: &aia_leaf,
            chain: vec![],
            roots: vec![&root],
            name: Some(NAME),
            at: None,
            expected: vec![Code::IncompleteChain],
        },
        Case {
            what: "intermediate missing, no AIA, the client's root given",
            leaf: &good,
            chain: vec![],
            roots: vec![&root],
            name: Some(NAME),
            at: None,
            expected: vec![Code::IncompleteChain],
        },
        Case {
            what: "another root",
            leaf: &good,
            chain: vec![&int],
            roots: vec![&other_root],
            name: Some(NAME),
            at: None,
            expected: vec![Code::UntrustedIssuer],
        },
        Case {
            what: "expired",
            leaf: &expired,
            chain: vec![&int],
            roots: vec![&root],
            name: Some(NAME),
            at: None,
            expected: vec![Code::Expired],
        },
        Case {
            what: "not yet valid",
            leaf: &future,
            chain: vec![&int],
            roots: vec![&root],
            name: Some(NAME),
            at: None,
            expected: vec![Code::NotYetValid],
        },
        Case {
            what: "expiring soon",
            leaf: &soon,
            chain: vec![&int],
            roots: vec![&root],
            name: Some(NAME),
            at: None,
            expected: vec![Code::ExpiringSoon],
        },
        Case {
            what: "--at after expiry",
            leaf: &good,
            chain: vec![&int],
            roots: vec![&root],
            name: Some(NAME),
            at: Some(later),
            expected: vec![Code::Expired],
        },
        Case {
            what: "wrong name",
            leaf: &wrong_name,
            chain: vec![&int],
            roots: vec![&root],
            name: Some(NAME),
            at: None,
            expected: vec![Code::NameMismatch],
        },
        Case {
            what: "clientAuth only",
            leaf: &client,
            chain: vec![&int],
            roots: vec![&root],
            name: Some(NAME),
            at: None,
            expected: vec![Code::NoServerAuthEku],
        },
        Case {
            what: "RSA-1024",
            leaf: &weak,
            chain: vec![&int],
            roots: vec![&root],
            name: Some(NAME),
            at: None,
            expected: vec![Code::WeakKey],
        },
        Case {
            what: "SHA-1",
            leaf: &sha1,
            chain: vec![&int],
            roots: vec![&root],
            name: Some(NAME),
            at: None,
            expected: vec![Code::Sha1Signature],
        },
        Case {
            what: "path length",
            leaf: &too_deep,
            chain: vec![&sub, &int],
            roots: vec![&root],
            name: Some(NAME),
            at: None,
            expected: vec![Code::PathLengthExceeded],
        },
        Case {
            what: "name constraints",
            leaf: &outside,
            chain: vec![&constrained],
            roots: vec![&root],
            name: Some(NAME),
            at: None,
            expected: vec![Code::NameConstraintViolation],
        },
        Case {
            what: "root sent, wrong order",
            leaf: &good,
            chain: vec![&root, &int],
            roots: vec![&root],
            name: Some(NAME),
            at: None,
            expected: sorted(vec![Code::ChainOrder, Code::UnneededRoot]),
        },
        Case {
            what: "the root expired, not sent",
            leaf: &under_old,
            chain: vec![],
            roots: vec![&old_root],
            name: Some(NAME),
            at: None,
            expected: vec![Code::Expired],
        },
        Case {
            what: "the root expired, and sent too",
            leaf: &under_old,
            chain: vec![&old_root],
            roots: vec![&old_root],
            name: Some(NAME),
            at: None,
            expected: sorted(vec![Code::Expired, Code::UnneededRoot]),
        },
        Case {
            what: "an unrelated self-signed certificate sent",
            leaf: &good,
            chain: vec![&int, &stray],
            roots: vec![&root],
            name: Some(NAME),
            at: None,
            expected: vec![Code::ChainOrder],
        },
        Case {
            what: "the intermediate among the anchors, the root sent",
            leaf: &good,
            chain: vec![&int, &root],
            roots: vec![&root, &int],
            name: Some(NAME),
            at: None,
            expected: vec![Code::UnneededRoot],
        },
        Case {
            what: "keyUsage cRLSign only",
            leaf: &crl_only,
            chain: vec![&int],
            roots: vec![&root],
            name: Some(NAME),
            at: None,
            expected: vec![Code::InvalidCertificate],
        },
        Case {
            what: "keyUsage digitalSignature only",
            leaf: &signing,
            chain: vec![&int],
            roots: vec![&root],
            name: Some(NAME),
            at: None,
            expected: vec![],
        },
        Case {
            what: "no name given",
            leaf: &wrong_name,
            chain: vec![&int],
            roots: vec![&root],
            name: None,
            at: None,
            expected: vec![],
        },
    ];
    let mut agreements = 0;
    for case in &cases {
        let validation = run(case);
        let mut got: Vec<Code> = validation.findings.iter().map(|f| f.code).collect();
        got.sort();
        eqnice!(
            case.expected.clone(),
            got,
            format!("{}: {:#?}", case.what, validation.findings)
        );
        let ours = !validation.has_errors();
        let theirs = openssl_accepts(&pki, case);
        assert_eq!(
            ours,
            theirs,
            "{}: verify says {}, openssl verify says {}",
            case.what,
            if ours { "valid" } else { "invalid" },
            if theirs { "valid" } else { "invalid" }
        );
        agreements += 1;
    }
    assert_eq!(agreements, cases.len());
}

#[test]
fn validity_longer_than_public_cas_may_issue() {
    let pki = Pki::new();
    let root = pki.root("root", "Public-Like Root");
    let int = pki.issue(&root, "int", &Spec::intermediate("Public-Like CA"));
    let mut long = Spec::leaf(NAME, &[NAME]);
    long.end_days = 499;
    let long = pki.issue(&int, "long", &long);
    let certificates = vec![long.der.clone(), int.der.clone()];

    // A chain to a public root: the limit applies.
    let mut public = TrustStore::empty();
    public
        .add(&root.der, Origin::Public, "test root")
        .expect("anchor");
    let v = validate(&Request {
        certificates: &certificates,
        name: Some(NAME),
        at: OffsetDateTime::now_utc(),
        trust: &public,
        source: Source::Files,
    });
    assert!(v.publicly_trusted);
    let f = v
        .findings
        .iter()
        .find(|f| f.code == Code::ValidityTooLong)
        .expect("validity-too-long");
    assert_eq!(f.severity, Severity::Error, "{f:?}");

    // A private CA may issue what it likes.
    let v = validate(&Request {
        certificates: &certificates,
        name: Some(NAME),
        at: OffsetDateTime::now_utc(),
        trust: &trust(&[&root]),
        source: Source::Files,
    });
    assert!(!v.publicly_trusted);
    assert!(v.findings.is_empty(), "{:?}", v.findings);

    // Issued under the old 398-day limit, checked under a lower one: a
    // warning that the renewal will be shorter.
    let mut older = Spec::leaf(NAME, &[NAME]);
    older.start_days = -300;
    older.end_days = 50;
    let older = pki.issue(&int, "older", &older);
    let now = OffsetDateTime::now_utc();
    let issued = now - time::Duration::days(300);
    if mailcert_check::public_max_validity_days(issued) >= 350
        && mailcert_check::public_max_validity_days(now) < 350
    {
        let v = validate(&Request {
            certificates: &[older.der.clone(), int.der.clone()],
            name: Some(NAME),
            at: now,
            trust: &public,
            source: Source::Files,
        });
        let codes: Vec<(Code, Severity)> =
            v.findings.iter().map(|f| (f.code, f.severity)).collect();
        eqnice!(
            vec![(Code::ValidityTooLong, Severity::Warning)],
            codes,
            format!("{:#?}", v.findings)
        );
    }
}

#[test]
fn a_home_made_ca_certificate_trusted_as_itself_passes_with_a_warning() {
    let pki = Pki::new();
    // `openssl req -x509` marks the certificate CA:TRUE by default.
    openssl(
        pki.dir(),
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "home.key",
            "-out",
            "home.pem",
            "-days",
            "90",
            "-subj",
            &format!("/CN={NAME}"),
            "-addext",
            &format!("subjectAltName=DNS:{NAME}"),
        ],
    );
    let home = pki.load("home", NAME);
    let trusted = Case {
        what: "CA:TRUE self-signed, trusted as itself",
        leaf: &home,
        chain: vec![],
        roots: vec![&home],
        name: Some(NAME),
        at: None,
        expected: vec![Code::InvalidCertificate],
    };
    let verdict = run(&trusted);
    assert!(
        verdict.trusted && !verdict.has_errors(),
        "{:#?}",
        verdict.findings
    );
    assert!(
        verdict
            .findings
            .iter()
            .any(|f| f.code == Code::InvalidCertificate && f.severity == Severity::Warning),
        "{:#?}",
        verdict.findings
    );
    assert!(
        openssl_accepts(&pki, &trusted),
        "openssl verify accepts it too"
    );
    // Its dates still count.
    let later = Case {
        at: Some(OffsetDateTime::now_utc() + time::Duration::days(120)),
        ..trusted
    };
    let verdict = run(&later);
    assert!(!verdict.trusted, "{:#?}", verdict.findings);
    assert!(verdict.findings.iter().any(|f| f.code == Code::Expired));
    // Not trusted: self-signed, as ever.
    let untrusted = Case {
        roots: vec![],
        at: None,
        ..later
    };
    let verdict = run(&untrusted);
    assert!(!verdict.trusted);
    assert!(verdict.findings.iter().any(|f| f.code == Code::SelfSigned));
}

#[test]
fn the_findings_name_what_was_sent() {
    let pki = Pki::new();
    let root = pki.root("root", "Offline Test Root");
    let int = pki.issue(&root, "int", &Spec::intermediate("Offline Issuing CA"));
    let good = pki.issue(&int, "good", &Spec::leaf(NAME, &[NAME]));
    let stray = pki.self_signed("stray", "stray.example.test", &["stray.example.test"]);
    let v = run(&Case {
        what: "stray",
        leaf: &good,
        chain: vec![&int, &stray],
        roots: vec![&root],
        name: Some(NAME),
        at: None,
        expected: vec![],
    });
    let order = v
        .findings
        .iter()
        .find(|f| f.code == Code::ChainOrder)
        .expect("chain-order");
    assert!(
        order.message.contains("stray.example.test") && order.message.contains("not part"),
        "{order:?}"
    );

    let old_root = pki.root_dated("old-root", "Expired Root", -400, -10);
    let under_old = pki.issue(&old_root, "under-old", &Spec::leaf(NAME, &[NAME]));
    let v = run(&Case {
        what: "expired root sent",
        leaf: &under_old,
        chain: vec![&old_root],
        roots: vec![&old_root],
        name: Some(NAME),
        at: None,
        expected: vec![],
    });
    let expired = v
        .findings
        .iter()
        .find(|f| f.code == Code::Expired)
        .expect("expired");
    assert!(
        expired.message.contains("root \"Expired Root\""),
        "{expired:?}"
    );
    assert_eq!(expired.severity, Severity::Error);
}

/// An RSA certificate whose key usage allows keyEncipherment but not
/// digitalSignature. `openssl verify -purpose sslserver` accepts it: it
/// judges the certificate alone, and keyEncipherment is enough for the RSA
/// key exchange of TLS 1.2. No handshake a current client negotiates uses
/// that exchange (TLS 1.3 dropped it; ECDHE is preferred everywhere), and
/// in a signing handshake clients that enforce key usage refuse it, so the
/// checker reports it. A deliberate difference from `openssl verify`.
#[test]
fn rsa_key_for_encipherment_only_is_refused_for_signing_handshakes() {
    let pki = Pki::new();
    let root = pki.root("root", "Offline Test Root");
    let int = pki.issue(&root, "int", &Spec::intermediate("Offline Issuing CA"));
    let mut spec = Spec::leaf(NAME, &[NAME]);
    spec.key = Key::Rsa(2048);
    spec.key_usage = Some("keyEncipherment");
    let leaf = pki.issue(&int, "ke-only", &spec);
    let case = Case {
        what: "RSA, keyEncipherment only",
        leaf: &leaf,
        chain: vec![&int],
        roots: vec![&root],
        name: Some(NAME),
        at: None,
        expected: vec![Code::InvalidCertificate],
    };
    let v = run(&case);
    let codes: Vec<(Code, Severity)> = v.findings.iter().map(|f| (f.code, f.severity)).collect();
    eqnice!(
        vec![(Code::InvalidCertificate, Severity::Error)],
        codes,
        format!("{:#?}", v.findings)
    );
    assert!(
        v.findings[0].message.contains("TLS 1.3"),
        "{:?}",
        v.findings
    );
    // webpki's verdict is unchanged: the finding is the diagnosis.
    assert!(v.trusted);
    assert!(
        openssl_accepts(&pki, &case),
        "openssl verify judges keyEncipherment enough (RSA key exchange)"
    );

    // The same key allowed to sign as well: nothing to report.
    spec.key_usage = Some("digitalSignature,keyEncipherment");
    let both = pki.issue(&int, "ds-ke", &spec);
    let v = run(&Case {
        leaf: &both,
        ..case
    });
    assert!(v.findings.is_empty(), "{:#?}", v.findings);
}
