//! RFC 5280 rules one certificate breaks on its own (keyCertSign without
//! cA, a critical extension nobody processes, an empty subjectAltName, …):
//! certificates made with `openssl ca` and an extension file, each run
//! through the validation core of `verify` and `check`, and where OpenSSL
//! has a check of its own (`openssl verify`, by default or with
//! `-x509_strict`), its verdict beside ours.

use std::process::Command;

use crate::common::*;
use mailcert_check::{validate, Code, Request, Severity, Source, Validation};
use mailcert_testkit::SignRequest;
use time::OffsetDateTime;

const NAME: &str = "mail.example.test";
const SAN: &str = "subjectAltName=DNS:mail.example.test\n";
const LEAF_USAGE: &str =
    "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n";

fn leaf_with(pki: &Pki, issuer: &Cert, file: &str, extensions: String) -> Cert {
    let spec = Spec {
        extensions: Some(extensions),
        ..Spec::leaf(NAME, &[NAME])
    };
    pki.issue(issuer, file, &spec)
}

fn verify(chain: &[&Cert], root: &Cert) -> Validation {
    let certificates: Vec<Vec<u8>> = chain.iter().map(|c| c.der.clone()).collect();
    validate(&Request {
        certificates: &certificates,
        name: Some(NAME),
        at: OffsetDateTime::now_utc(),
        trust: &trust(&[root]),
        source: Source::Files,
    })
}

/// `openssl verify` of the first certificate with the others as the chain:
/// the error line, or `None` when it accepts.
fn openssl_error(pki: &Pki, chain: &[&Cert], root: &Cert, strict: bool) -> Option<String> {
    let mut cmd = Command::new("openssl");
    cmd.args(["verify", "-no-CApath", "-CAfile"]).arg(&root.pem);
    if strict {
        cmd.arg("-x509_strict");
    }
    if chain.len() > 1 {
        cmd.arg("-untrusted")
            .arg(pki.bundle("profile-chain.pem", &chain[1..]));
    }
    let out = cmd
        .arg(&chain[0].pem)
        .output()
        .expect("openssl verify runs");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (!out.status.success()).then_some(text)
}

/// The file, its extensions, the code expected, and what OpenSSL says:
/// (only with -x509_strict?, its words), or nothing when it has no check.
type Case = (&'static str, String, Code, Option<(bool, &'static str)>);

fn error_codes(v: &Validation) -> Vec<Code> {
    v.findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| f.code)
        .collect()
}

#[test]
fn each_rule_is_an_error_named_after_it_where_openssl_strict_agrees() {
    let pki = Pki::new();
    let root = pki.root("root", "Profile Test Root");
    let int = pki.issue(&root, "int", &Spec::intermediate("Profile Issuing CA"));
    let good = pki.issue(&int, "good", &Spec::leaf(NAME, &[NAME]));
    let v = verify(&[&good, &int], &root);
    assert!(v.findings.is_empty(), "{:?}", v.findings);

    let cases: Vec<Case> = vec![
        (
            "key-cert-sign",
            format!("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyCertSign\n{SAN}"),
            Code::KeyCertSignWithoutCa,
            Some((true, "keyCertSign invalid for non-CA")),
        ),
        (
            "path-length",
            format!("2.5.29.19=critical,DER:30:03:02:01:00\nkeyUsage=critical,digitalSignature\n{SAN}"),
            Code::PathLengthWithoutCa,
            Some((true, "Path length invalid for non-CA")),
        ),
        (
            "empty-san",
            format!("{LEAF_USAGE}2.5.29.17=DER:30:00\n"),
            Code::EmptySan,
            Some((true, "Empty Subject Alternative Name")),
        ),
        (
            "unknown-critical",
            format!("{LEAF_USAGE}{SAN}1.3.6.1.4.1.55738.666.1=critical,DER:05:00\n"),
            Code::UnknownCriticalExtension,
            Some((false, "unhandled critical extension")),
        ),
        (
            "critical-aia",
            format!("{LEAF_USAGE}{SAN}authorityInfoAccess=critical,caIssuers;URI:http://ca.example.test/ca.cer\n"),
            Code::CriticalNotAllowed,
            Some((false, "unhandled critical extension")),
        ),
        (
            "critical-aki",
            format!("{LEAF_USAGE}{SAN}authorityKeyIdentifier=critical,keyid\n"),
            Code::CriticalNotAllowed,
            Some((false, "unhandled critical extension")),
        ),
        (
            "nc-on-leaf",
            format!("{LEAF_USAGE}{SAN}nameConstraints=critical,permitted;DNS:example.test\n"),
            Code::NameConstraintsNotCa,
            None,
        ),
    ];
    for (file, extensions, code, openssl) in cases {
        let leaf = leaf_with(&pki, &int, file, extensions);
        let v = verify(&[&leaf, &int], &root);
        let errors = error_codes(&v);
        assert!(errors.contains(&code), "{file}: {:?}", v.findings);
        // One finding says it, with the rule and a fix; webpki's generic
        // "rejected by path validation" does not repeat it.
        let finding = v
            .findings
            .iter()
            .find(|f| f.code == code)
            .expect("found above");
        assert!(
            finding.message.contains("RFC 5280"),
            "{file}: {}",
            finding.message
        );
        assert!(
            finding.message.contains(&format!("\"{NAME}\"")),
            "{file}: {}",
            finding.message
        );
        assert!(
            !errors.contains(&Code::InvalidCertificate),
            "{file}: {:?}",
            v.findings
        );
        match openssl {
            Some((strict_only, words)) => {
                if strict_only {
                    assert_eq!(
                        openssl_error(&pki, &[&leaf, &int], &root, false),
                        None,
                        "{file}"
                    );
                }
                let said = openssl_error(&pki, &[&leaf, &int], &root, true)
                    .unwrap_or_else(|| panic!("{file}: openssl -x509_strict accepts it"));
                assert!(said.contains(words), "{file}: {said}");
            }
            // OpenSSL has no check for it; the rule is RFC 5280's alone.
            None => assert_eq!(
                openssl_error(&pki, &[&leaf, &int], &root, true),
                None,
                "{file}"
            ),
        }
    }
}

#[test]
fn a_ca_that_may_not_sign_certificates_and_one_with_empty_constraints() {
    let pki = Pki::new();
    let root = pki.root("root", "Profile Test Root");
    // cA:TRUE, pathlen 0, keyUsage without keyCertSign.
    let no_sign = pki.issue(
        &root,
        "no-sign",
        &Spec {
            extensions: Some(
                "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,digitalSignature,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n".into(),
            ),
            ..Spec::intermediate("Cannot Sign CA")
        },
    );
    let leaf = pki.issue(&no_sign, "leaf", &Spec::leaf(NAME, &[NAME]));
    let v = verify(&[&leaf, &no_sign], &root);
    assert!(
        error_codes(&v).contains(&Code::CaWithoutKeyCertSign),
        "{:?}",
        v.findings
    );
    let said = openssl_error(&pki, &[&leaf, &no_sign], &root, false).expect("openssl refuses");
    assert!(said.contains("error"), "{said}");
    let finding = v
        .findings
        .iter()
        .find(|f| f.code == Code::CaWithoutKeyCertSign)
        .expect("found above");
    assert!(
        finding
            .message
            .contains("The intermediate \"Cannot Sign CA\"")
            && finding.message.contains("pathLenConstraint 0"),
        "{}",
        finding.message
    );

    // Name constraints that permit and exclude nothing.
    let empty_nc = pki.issue(
        &root,
        "empty-nc",
        &Spec {
            extensions: Some(
                "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nnameConstraints=critical,DER:30:00\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n".into(),
            ),
            ..Spec::intermediate("Empty Constraints CA")
        },
    );
    let leaf = pki.issue(&empty_nc, "leaf2", &Spec::leaf(NAME, &[NAME]));
    let v = verify(&[&leaf, &empty_nc], &root);
    assert!(
        error_codes(&v).contains(&Code::MalformedNameConstraints),
        "{:?}",
        v.findings
    );
}

#[test]
fn an_empty_subject_needs_a_critical_san() {
    let pki = Pki::new();
    let root = pki.root("root", "Profile Test Root");
    let int = pki.issue(&root, "int", &Spec::intermediate("Profile Issuing CA"));
    // `openssl ca` insists on a CN; `openssl x509 -req` signs an empty
    // subject as the request has it.
    let dir = pki.dir();
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "empty.key",
            "-subj",
            "/",
            "-out",
            "empty.csr",
        ],
    );
    for (file, critical) in [("empty-noncritical", ""), ("empty-critical", "critical,")] {
        std::fs::write(
            pki.path(&format!("{file}.ext")),
            format!("{LEAF_USAGE}subjectAltName={critical}DNS:{NAME}\n"),
        )
        .expect("ext file");
        let pem = format!("{file}.pem");
        let ext = format!("{file}.ext");
        let int_pem = int.pem.to_string_lossy().to_string();
        let int_key = int.key.to_string_lossy().to_string();
        let sign = SignRequest::new("empty.csr", &int_pem, &int_key, 90, &pem);
        openssl(dir, &sign.with(&["-extfile", &ext]).args());
        let leaf = pki.load(file, "");
        let v = verify(&[&leaf, &int], &root);
        let strict = openssl_error(&pki, &[&leaf, &int], &root, true);
        if critical.is_empty() {
            assert!(
                error_codes(&v).contains(&Code::EmptySubject),
                "{:?}",
                v.findings
            );
            let said = strict.expect("openssl -x509_strict refuses it");
            assert!(said.contains("Subject empty"), "{said}");
        } else {
            assert!(v.findings.is_empty(), "{:?}", v.findings);
            assert_eq!(strict, None);
        }
    }
}
