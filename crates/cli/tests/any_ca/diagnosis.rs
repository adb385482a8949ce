//! What the status says about certificates that are unusual rather than
//! broken, all made by OpenSSL (which accepts every one of them): a
//! client-only EKU, SHA-1 and RSASSA-PSS signatures, RSA-1024 keys,
//! X.509 version 1, expired leaves and CA certificates. Trust is judged on
//! its own; everything else is a warning in a client's words, and only a
//! signature that does not match is called altered.

use mailcert_testkit::pki::server_extensions;
use mailcert_testkit::SignRequest;

use super::harness::{concat, Env};

/// Signs `csr` with `issuer` (`issuer.pem`/`issuer.key`) using `ext`
/// (extension file contents; none makes a version 1 certificate) and
/// extra `openssl x509` arguments; writes `out`.
fn sign(env: &Env, issuer: &str, csr: &str, ext: Option<&str>, extra: &[&str], out: &str) {
    let mut sign = SignRequest::by(issuer, csr, 200, out);
    if let Some(ext) = ext {
        env.write("sign.ext", ext);
        sign = sign.with(&["-extfile", "sign.ext"]);
    }
    env.openssl(&sign.with(extra).args());
}

/// The extensions of a server certificate for mail.contoso.com.
fn server_ext() -> String {
    server_extensions("DNS:mail.contoso.com")
}

/// An RSA root made by OpenSSL: rsaroot.pem / rsaroot.key ("RSA CA").
fn rsa_ca(env: &Env) {
    env.openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "rsaroot.key",
        "-out",
        "rsaroot.pem",
        "-days",
        "3650",
        "-subj",
        "/CN=RSA CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
}

/// A key and a CSR: `newkey` as `openssl req -newkey` takes it.
fn key_and_csr(env: &Env, name: &str, newkey: &[&str]) {
    let (key, csr, subj) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        "/CN=mail.contoso.com".to_string(),
    );
    let mut args = vec!["req", "-new"];
    args.extend(newkey);
    args.extend(["-nodes", "-keyout", &key, "-out", &csr, "-subj", &subj]);
    env.openssl(&args);
}

const EC: &[&str] = &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];

fn thumb_of(text: &str) -> String {
    text.lines().next().unwrap_or_default().trim().to_string()
}

fn warnings(env: &Env, thumb: &str) -> String {
    env.view(thumb)["warnings"].to_string()
}

/// Words that give away an internal error instead of a sentence.
fn assert_plain(text: &str) {
    for code in [
        "Context",
        "Unsupported",
        "CaUsedAsEndEntity",
        "UnsupportedCertVersion",
        "1.2.840.",
        "{",
    ] {
        assert!(!text.contains(code), "'{code}' in: {text}");
    }
    // The stored form of a verdict ("invalid:the signature…").
    for stored in ["invalid:", "untrusted:"] {
        for (at, _) in text.match_indices(stored) {
            let next = text[at + stored.len()..].chars().next();
            assert_eq!(next, Some(' '), "stored verdict in: {text}");
        }
    }
}

#[test]
fn trust_is_judged_whatever_the_extended_key_usage() {
    let env = Env::new();
    rsa_ca(&env);
    key_and_csr(&env, "cauth", EC);
    sign(
        &env,
        "rsaroot",
        "cauth.csr",
        Some("basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\nsubjectAltName=DNS:mail.contoso.com\n"),
        &[],
        "cauth.pem",
    );
    env.openssl(&[
        "x509",
        "-in",
        "cauth.pem",
        "-outform",
        "DER",
        "-out",
        "cauth.der",
    ]);
    // Its issuer is trusted nowhere: Untrusted, whatever the EKU.
    let text = env.ok_all(&["import", &env.p("cauth.der"), "--key", &env.p("cauth.key")]);
    let thumb = thumb_of(&text);
    assert!(text.contains("status Untrusted"), "{text}");
    assert!(!text.contains("status Valid"), "{text}");
    assert_eq!(env.status(&thumb), "Untrusted");
    let w = warnings(&env, &thumb);
    assert!(w.contains("'RSA CA'"), "{w}");
    assert!(
        w.contains(
            "no serverAuth extended key usage: it will not work as a TLS server certificate"
        ),
        "{w}"
    );
    // Once its root is trusted, the chain is; the EKU stays a warning and
    // the pre-flight of enable names it.
    env.ok(&["trust", "add", &env.p("rsaroot.pem")]);
    assert_eq!(env.status(&thumb), "Valid");
    assert!(warnings(&env, &thumb).contains("no serverAuth"));
    let err = env.refused(&["enable", &thumb, "--services", "imap", "--strict"]);
    assert!(err.contains("no-server-auth-eku"), "{err}");
}

#[test]
fn sha1_and_pss_signatures_are_checked_and_named_not_called_tampering() {
    let env = Env::new();
    env.openssl_ca();
    rsa_ca(&env);

    // ECDSA with SHA-1, sent with its intermediate.
    key_and_csr(&env, "es1", EC);
    sign(
        &env,
        "testint",
        "es1.csr",
        Some(server_ext().as_str()),
        &["-sha1"],
        "es1.pem",
    );
    let bundle = concat(&env, &["es1.pem", "testint.pem"], "es1.bundle");
    let text = env.ok_all(&["import", &bundle, "--key", &env.p("es1.key")]);
    assert_plain(&text);
    assert!(text.contains("chain of 1 certificate"), "{text}");
    assert!(!text.contains("altered"), "{text}");
    let es1 = thumb_of(&text);
    env.ok(&["trust", "add", &env.p("testroot.pem")]);
    let view = env.view(&es1);
    assert_eq!(view["status"], "Valid", "{view}");
    assert_eq!(view["signature_algorithm"], "ecdsa-with-SHA1", "{view}");
    assert_eq!(view["chain"].as_array().map(Vec::len), Some(1), "{view}");
    assert!(
        view["warnings"]
            .to_string()
            .contains("signed with SHA-1: modern clients reject it; get it reissued with SHA-256"),
        "{view}"
    );
    // enable binds it with the warning; --strict refuses.
    let text = env.ok_all(&["enable", &es1, "--services", "imap"]);
    assert!(text.contains("signed with SHA-1"), "{text}");
    let err = env.refused(&["enable", &es1, "--services", "pop", "--strict"]);
    assert!(err.contains("sha1-signature"), "{err}");

    // RSA with SHA-1.
    key_and_csr(&env, "rs1", &["-newkey", "rsa:2048"]);
    sign(
        &env,
        "rsaroot",
        "rs1.csr",
        Some(server_ext().as_str()),
        &["-sha1"],
        "rs1.pem",
    );
    let text = env.ok_all(&["import", &env.p("rs1.pem"), "--key", &env.p("rs1.key")]);
    assert_plain(&text);
    let rs1 = thumb_of(&text);
    assert_eq!(env.status(&rs1), "Untrusted");
    assert_plain(&warnings(&env, &rs1));
    env.ok(&["trust", "add", &env.p("rsaroot.pem")]);
    let view = env.view(&rs1);
    assert_eq!(view["status"], "Valid", "{view}");
    assert_eq!(view["signature_algorithm"], "sha1WithRSAEncryption");
    assert!(view["warnings"].to_string().contains("signed with SHA-1"));

    // RSASSA-PSS, as Windows CAs issue with "alternate signature format"
    // (salt = hash length) and as OpenSSL does by default (largest salt),
    // each sent with its CA.
    key_and_csr(&env, "pss", &["-newkey", "rsa:2048"]);
    for (salt, out) in [("digest", "pss32.pem"), ("max", "pssmax.pem")] {
        let saltopt = format!("rsa_pss_saltlen:{salt}");
        sign(
            &env,
            "rsaroot",
            "pss.csr",
            Some(server_ext().as_str()),
            &["-sigopt", "rsa_padding_mode:pss", "-sigopt", &saltopt],
            out,
        );
        env.openssl(&["verify", "-CAfile", "rsaroot.pem", out]);
        let bundle = concat(&env, &[out, "rsaroot.pem"], "pss.bundle");
        let text = env.ok_all(&["import", &bundle, "--key", &env.p("pss.key")]);
        assert_plain(&text);
        assert!(text.contains("trusted (status Valid)"), "{text}");
        let view = env.view(&thumb_of(&text));
        assert_eq!(view["status"], "Valid", "{view}");
        let name = view["signature_algorithm"].as_str().unwrap_or_default();
        assert!(name.starts_with("rsassa-pss (SHA-256, salt "), "{name}");
    }

    // A SHA-1 certificate whose signature was altered is still Invalid.
    env.openssl(&[
        "x509", "-in", "es1.pem", "-outform", "DER", "-out", "es1.der",
    ]);
    let mut der = env.read("es1.der");
    let last = der.len() - 1;
    der[last] ^= 0x01;
    env.write("bad.der", der);
    let text = env.ok_all(&["import", &env.p("bad.der")]);
    let bad = thumb_of(&text);
    assert_eq!(env.status(&bad), "Invalid");
    assert!(text.contains("altered or damaged"), "{text}");
}

#[test]
fn rsa_1024_imports_with_a_warning_and_is_refused_where_it_cannot_serve() {
    let env = Env::new();
    env.openssl_ca();
    env.ok(&["trust", "add", &env.p("testroot.pem")]);
    key_and_csr(&env, "weak", &["-newkey", "rsa:1024"]);
    sign(
        &env,
        "testint",
        "weak.csr",
        Some(server_ext().as_str()),
        &[],
        "weak.pem",
    );
    let bundle = concat(&env, &["weak.pem", "testint.pem"], "weak.bundle");

    // PEM with its key: imported, status from its chain, a warning.
    let text = env.ok_all(&["import", &bundle, "--key", &env.p("weak.key")]);
    assert!(!text.contains("not a usable private key"), "{text}");
    assert!(text.contains("RSA-1024 key: too weak"), "{text}");
    let thumb = thumb_of(&text);
    let view = env.view(&thumb);
    assert_eq!(view["status"], "Valid", "{view}");
    assert_eq!(view["has_private_key"], true);
    assert_eq!(view["key_algorithm"], "rsa-1024");

    // enable: refused with the true reason.
    let err = env.refused(&["enable", &thumb, "--services", "imap"]);
    assert!(
        err.contains("RSA-1024 is too weak; use 2048 bits or more"),
        "{err}"
    );

    // The same as an OpenSSL PFX, into another store: the key belongs.
    let other = Env::new();
    other.ok(&["trust", "add", &env.p("testroot.pem")]);
    env.openssl(&[
        "pkcs12",
        "-export",
        "-in",
        "weak.pem",
        "-inkey",
        "weak.key",
        "-certfile",
        "testint.pem",
        "-out",
        "o-weak.pfx",
        "-passout",
        "pass:pw",
    ]);
    let text = other.ok_all_with(
        &["import", &env.p("o-weak.pfx")],
        &[("MAILCERT_PASSWORD", "pw")],
    );
    assert!(!text.contains("does not belong"), "{text}");
    assert_eq!(other.view(&thumb)["has_private_key"], true);
    // and it leaves again with its key, as OpenSSL reads it.
    other.ok_all_with(
        &["export", &thumb, "--out", &env.p("back.pfx")],
        &[("MAILCERT_PASSWORD", "pw2")],
    );
    let key = env.openssl(&[
        "pkcs12", "-in", "back.pfx", "-passin", "pass:pw2", "-nocerts", "-nodes",
    ]);
    assert!(key.contains("PRIVATE KEY"), "{key}");

    // The private CA refuses to certify an RSA-1024 request, saying why.
    env.ok(&["ca", "init", "--name", "Contoso Root CA"]);
    let err = env.refused(&["ca", "sign", &env.p("weak.csr")]);
    assert!(err.contains("RSA-1024, which is too weak"), "{err}");
    assert!(!err.contains("altered"), "{err}");
}

#[test]
fn a_version_1_answer_is_refused_and_the_request_kept() {
    let env = Env::new();
    env.openssl_ca();
    env.ok(&["trust", "add", &env.p("testroot.pem")]);
    let id = env.request(&["mail.contoso.com"], "r.csr");
    sign(&env, "testroot", "r.csr", None, &[], "v1.pem");
    let text = env.openssl(&["x509", "-in", "v1.pem", "-noout", "-text"]);
    assert!(text.contains("Version: 1"), "{text}");
    env.openssl(&["verify", "-CAfile", "testroot.pem", "v1.pem"]);

    let err = env.refused(&["complete", &env.p("v1.pem")]);
    assert!(err.contains("X.509 version 1"), "{err}");
    assert!(err.contains("subjectAltName"), "{err}");
    assert!(
        err.contains(&format!("pending request {id} is kept")),
        "{err}"
    );
    assert_plain(&err);
    assert_eq!(env.status(&id), "PendingRequest");
    let err = env.refused(&["import", &env.p("v1.pem")]);
    assert!(err.contains("X.509 version 1"), "{err}");

    // The CA answers again, properly: the same request completes.
    sign(
        &env,
        "testint",
        "r.csr",
        Some(server_ext().as_str()),
        &[],
        "v3.pem",
    );
    let text = env.ok_all(&[
        "complete",
        &env.p("v3.pem"),
        "--chain",
        &env.p("testint.pem"),
    ]);
    assert!(text.contains("trusted (status Valid)"), "{text}");
}

#[test]
fn status_texts_say_what_happened_in_plain_words() {
    let env = Env::new();
    env.openssl_ca();
    env.ok(&["trust", "add", &env.p("testroot.pem")]);
    env.write("leaf.ext", server_ext());

    // Expired, under an intermediate that was valid all along: the chain
    // is trusted, the certificate expired on its date.
    env.openssl_sign_at(
        "-1000d",
        "testroot",
        "testint.csr",
        3000,
        "int.ext",
        "longint.pem",
    );
    env.request(&["mail.contoso.com"], "old.csr");
    env.openssl_at(
        "-400d",
        &SignRequest::new("old.csr", "longint.pem", "testint.key", 100, "old.pem")
            .with(&["-extfile", "leaf.ext"])
            .args(),
    );
    let not_after = env.openssl(&["x509", "-in", "old.pem", "-noout", "-enddate"]);
    let text = env.ok_all(&[
        "complete",
        &env.p("old.pem"),
        "--chain",
        &env.p("longint.pem"),
    ]);
    assert_plain(&text);
    assert!(
        text.contains("its chain is trusted, but it expired on")
            && text.contains("(status DateInvalid)"),
        "{text}"
    );
    assert!(
        !text.contains("not valid yet") && !text.contains("not trusted"),
        "{text}"
    );
    let thumb = thumb_of(&text);
    let w = warnings(&env, &thumb);
    assert!(w.contains("expired on "), "{w}");
    assert!(!w.contains("not valid yet"), "{w} ({not_after})");

    // Expired, issued by an intermediate made only today: said as it is.
    env.request(&["mail.contoso.com"], "older.csr");
    env.openssl_sign_at(
        "-400d",
        "testint",
        "older.csr",
        100,
        "leaf.ext",
        "older.pem",
    );
    let text = env.ok_all(&[
        "complete",
        &env.p("older.pem"),
        "--chain",
        &env.p("testint.pem"),
    ]);
    assert_plain(&text);
    assert!(text.contains("it expired on"), "{text}");
    assert!(
        !text.contains("not valid yet") && !text.contains("not trusted yet"),
        "{text}"
    );

    // A certificate made with `openssl req -x509` is a CA certificate.
    env.openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "nokey.key",
        "-out",
        "nokey.pem",
        "-days",
        "100",
        "-subj",
        "/CN=mail.contoso.com",
        "-addext",
        "subjectAltName=DNS:mail.contoso.com",
    ]);
    let text = env.ok_all(&["import", &env.p("nokey.pem")]);
    assert_plain(&text);
    assert!(
        text.contains("it is a CA certificate (basicConstraints CA:TRUE): clients reject it as a server certificate"),
        "{text}"
    );
    assert_plain(&warnings(&env, &thumb_of(&text)));

    // enable on an Invalid certificate: the reason, not its storage form.
    key_and_csr(&env, "good", EC);
    sign(
        &env,
        "testint",
        "good.csr",
        Some(server_ext().as_str()),
        &[],
        "good.pem",
    );
    env.openssl(&[
        "x509", "-in", "good.pem", "-outform", "DER", "-out", "good.der",
    ]);
    let mut der = env.read("good.der");
    let last = der.len() - 1;
    der[last] ^= 0x01;
    env.write("bad.der", der);
    env.openssl(&[
        "x509", "-inform", "DER", "-in", "bad.der", "-out", "bad.pem",
    ]);
    let bundle = concat(&env, &["bad.pem", "testint.pem"], "bad.bundle");
    let text = env.ok_all(&["import", &bundle, "--key", &env.p("good.key")]);
    let bad = thumb_of(&text);
    assert_eq!(env.status(&bad), "Invalid");
    let err = env.refused(&["enable", &bad, "--services", "imap"]);
    assert!(
        err.contains(&format!(
            "{bad} is invalid: the signature on 'mail.contoso.com' does not verify"
        )),
        "{err}"
    );
    assert_plain(&err);
}
