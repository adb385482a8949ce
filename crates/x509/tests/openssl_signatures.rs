//! Certificates and keys OpenSSL makes and accepts, but rustls-webpki's
//! TLS policy refuses: SHA-1, RSASSA-PSS with any salt, RSA-1024 keys, MD5.
//! The model must verify what can be verified, tell "cannot be checked"
//! from "does not match", and read the weak keys to match them.

use std::path::Path;

use mailcert_testkit::{openssl, SignRequest};
use mailcert_x509::chain::build_chain;
use mailcert_x509::keys::{key_matches_spki, load_key, read_key};
use mailcert_x509::rustls_pki_types::CertificateDer;
use mailcert_x509::sigalg::{check_certificate, Check};
use mailcert_x509::validate::validate_chain;
use mailcert_x509::{CertError, CertSummary, Trust};

fn der(dir: &Path, pem: &str) -> Vec<u8> {
    let out = format!("{pem}.der");
    openssl(dir, &["x509", "-in", pem, "-outform", "DER", "-out", &out]);
    std::fs::read(dir.join(out)).unwrap()
}

fn key_der(dir: &Path, pem: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(dir.join(pem)).unwrap();
    ::pem::parse(text).unwrap().into_contents()
}

fn root(dir: &Path, name: &str, newkey: &[&str]) {
    let (key, pem, subj) = (
        format!("{name}.key"),
        format!("{name}.pem"),
        format!("/CN={name}"),
    );
    let mut args = vec!["req", "-x509"];
    args.extend(newkey);
    args.extend([
        "-nodes",
        "-keyout",
        &key,
        "-out",
        &pem,
        "-days",
        "365",
        "-subj",
        &subj,
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(dir, &args);
}

/// A leaf for `newkey`, signed by `issuer` with extra `x509 -req` options.
fn leaf(dir: &Path, name: &str, newkey: &[&str], issuer: &str, options: &[&str]) {
    std::fs::write(
        dir.join("leaf.ext"),
        "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nauthorityKeyIdentifier=keyid\nsubjectAltName=DNS:mail.contoso.com\n",
    )
    .unwrap();
    let (key, csr, pem) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.pem"),
    );
    let mut args = vec!["req", "-new"];
    args.extend(newkey);
    args.extend([
        "-nodes",
        "-keyout",
        &key,
        "-out",
        &csr,
        "-subj",
        "/CN=mail.contoso.com",
    ]);
    openssl(dir, &args);
    let ca = format!("{issuer}.pem");
    let sign = SignRequest::by(issuer, &csr, 30, &pem).with(&["-extfile", "leaf.ext"]);
    openssl(dir, &sign.with(options).args());
    openssl(dir, &["verify", "-CAfile", &ca, &pem]);
}

fn spki(cert: &[u8]) -> Vec<u8> {
    CertSummary::from_der(cert).unwrap().spki_der
}

fn trust(cert: &[u8], root: &[u8]) -> Trust {
    let summary = CertSummary::from_der(cert).unwrap();
    let root_der = CertificateDer::from(root);
    let anchor = mailcert_x509::webpki::anchor_from_trusted_cert(&root_der)
        .unwrap()
        .to_owned();
    validate_chain(&summary, cert, &[], &[anchor], false, summary.not_before)
}

/// Leaf name, its key, its issuer, `x509 -req` options, expected name.
type Case = (
    &'static str,
    &'static [&'static str],
    &'static str,
    &'static [&'static str],
    &'static str,
);

const EC: &[&str] = &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
const RSA: &[&str] = &["-newkey", "rsa:2048"];

#[test]
fn legacy_signatures_verify_and_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    root(dir, "ecroot", EC);
    root(dir, "rsaroot", RSA);
    root(dir, "weakroot", &["-newkey", "rsa:1024"]);
    let cases: [Case; 6] = [
        ("es1", EC, "ecroot", &["-sha1"], "ecdsa-with-SHA1"),
        ("rs1", RSA, "rsaroot", &["-sha1"], "sha1WithRSAEncryption"),
        (
            "pss32",
            RSA,
            "rsaroot",
            &[
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                "rsa_pss_saltlen:digest",
            ],
            "rsassa-pss (SHA-256, salt 32)",
        ),
        (
            "pssmax",
            RSA,
            "rsaroot",
            &["-sigopt", "rsa_padding_mode:pss"],
            "rsassa-pss (SHA-256, salt 222)",
        ),
        (
            "byweak",
            EC,
            "weakroot",
            &["-sha256"],
            "sha256WithRSAEncryption",
        ),
        (
            "weakleaf",
            &["-newkey", "rsa:1024"],
            "ecroot",
            &[],
            "ecdsa-with-SHA256",
        ),
    ];
    for (name, newkey, issuer, options, algorithm) in cases {
        leaf(dir, name, newkey, issuer, options);
        let cert = der(dir, &format!("{name}.pem"));
        let root = der(dir, &format!("{issuer}.pem"));
        let summary = CertSummary::from_der(&cert).unwrap();
        assert_eq!(summary.signature_algorithm, algorithm, "{name}");
        assert_eq!(
            check_certificate(&cert, &spki(&root)),
            Check::Verified,
            "{name}"
        );
        assert_eq!(trust(&cert, &root), Trust::Trusted, "{name}");
        // The issuer found in a pool, by name and signature.
        let built = build_chain(&cert, std::slice::from_ref(&root));
        assert_eq!(built.chain, vec![root.clone()], "{name}");

        // One bit changed in the signature: a mismatch, not "unsupported".
        let mut bad = cert.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0x01;
        assert_eq!(
            check_certificate(&bad, &spki(&root)),
            Check::Mismatch,
            "{name}"
        );
        match trust(&bad, &root) {
            Trust::Invalid(reason) => assert!(reason.contains("altered or damaged"), "{reason}"),
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn md5_cannot_be_checked_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    root(dir, "rsaroot", RSA);
    leaf(dir, "md5", RSA, "rsaroot", &["-md5"]);
    let cert = der(dir, "md5.pem");
    let root = der(dir, "rsaroot.pem");
    assert_eq!(
        CertSummary::from_der(&cert).unwrap().signature_algorithm,
        "md5WithRSAEncryption"
    );
    match check_certificate(&cert, &spki(&root)) {
        Check::Unsupported(why) => assert!(why.contains("md5WithRSAEncryption"), "{why}"),
        other => panic!("{other:?}"),
    }
    match trust(&cert, &root) {
        Trust::Untrusted(reason) => {
            assert!(reason.contains("cannot be checked"), "{reason}");
            assert!(!reason.contains("altered"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn rsa_1024_keys_are_read_and_matched_but_not_loaded_for_signing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    root(dir, "ecroot", EC);
    leaf(dir, "weak", &["-newkey", "rsa:1024"], "ecroot", &[]);
    let cert = der(dir, "weak.pem");
    // PKCS#8 as `openssl req` writes it, and PKCS#1 ("RSA PRIVATE KEY").
    openssl(
        dir,
        &[
            "pkey",
            "-in",
            "weak.key",
            "-traditional",
            "-out",
            "weak1.key",
        ],
    );
    assert!(std::fs::read_to_string(dir.join("weak1.key"))
        .unwrap()
        .contains("BEGIN RSA PRIVATE KEY"));
    for file in ["weak.key", "weak1.key"] {
        let key = read_key(&key_der(dir, file)).unwrap();
        assert_eq!(key.spki, spki(&cert), "{file}");
        assert!(key_matches_spki(&key.pkcs8, &spki(&cert)), "{file}");
        // The PKCS#8 it is stored as is what OpenSSL reads back.
        std::fs::write(dir.join("stored.der"), &key.pkcs8).unwrap();
        openssl(
            dir,
            &[
                "pkey",
                "-inform",
                "DER",
                "-in",
                "stored.der",
                "-check",
                "-noout",
            ],
        );
        match load_key(&key.pkcs8) {
            Err(e @ CertError::WeakKey { bits: 1024, .. }) => assert!(
                e.to_string()
                    .contains("RSA-1024 is too weak to sign with; use 2048 bits or more"),
                "{e}"
            ),
            other => panic!("{file}: {other:?}"),
        }
    }
    // Another key of the same size does not match.
    openssl(dir, &["genrsa", "-out", "other.key", "1024"]);
    let other = read_key(&key_der(dir, "other.key")).unwrap();
    assert!(!key_matches_spki(&other.pkcs8, &spki(&cert)));
}
