use super::harness::Env;

#[test]
fn private_ca_loop_verified_by_openssl() {
    for intermediate in [true, false] {
        let env = Env::new();
        let mut args = vec!["ca", "init", "--name", "Contoso Root CA"];
        if intermediate {
            args.push("--intermediate");
        }
        env.ok(&args);
        let root = env.ok(&["ca", "root"]);
        assert!(root.starts_with("-----BEGIN CERTIFICATE-----"));
        env.ok(&["ca", "root", "--out", &env.p("root.pem")]);
        env.ok(&["ca", "root", "--der", "--out", &env.p("root.cer")]);
        env.openssl(&["x509", "-in", "root.cer", "-inform", "DER", "-noout"]);
        // The root is a trust anchor of the store.
        let anchors = env.json(&["trust", "list", "--json"]);
        assert_eq!(anchors[0]["subject"], "CN=Contoso Root CA", "{anchors}");

        env.request(&["mail.contoso.com", "autodiscover.contoso.com"], "req.csr");
        env.ok(&[
            "ca",
            "sign",
            &env.p("req.csr"),
            "--days",
            "90",
            "--out",
            &env.p("signed.pem"),
        ]);
        let text = env.openssl(&["x509", "-in", "signed.pem", "-noout", "-text"]);
        for needle in [
            "DNS:mail.contoso.com, DNS:autodiscover.contoso.com",
            "TLS Web Server Authentication",
            "Digital Signature",
            "X509v3 Subject Key Identifier",
            "X509v3 Authority Key Identifier",
            "CA:FALSE",
        ] {
            assert!(text.contains(needle), "missing {needle}:\n{text}");
        }
        let dates = env.openssl(&[
            "x509",
            "-in",
            "signed.pem",
            "-noout",
            "-startdate",
            "-enddate",
        ]);
        assert!(
            !dates.contains("1975") && !dates.contains("4096"),
            "{dates}"
        );
        let verify = env.openssl(&[
            "verify",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "signed.pem",
            "signed.pem",
        ]);
        assert!(verify.contains("signed.pem: OK"), "{verify}");

        // What a server sends: the certificate and the intermediate, never
        // the root (clients have it from `mailcert ca root`).
        let sent = String::from_utf8_lossy(&env.read("signed.pem"))
            .matches("BEGIN CERTIFICATE")
            .count();
        assert_eq!(sent, if intermediate { 2 } else { 1 });
        let thumb = env.ok(&["complete", &env.p("signed.pem")]);
        assert_eq!(env.status(&thumb), "Valid");
        let expected_chain = if intermediate { 1 } else { 0 };
        assert_eq!(
            env.view(&thumb)["chain"].as_array().unwrap().len(),
            expected_chain
        );
        env.ok(&["export", &thumb, "--pem", "--out", &env.p("chain.pem")]);
        let verify = env.openssl(&[
            "verify",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "chain.pem",
            "chain.pem",
        ]);
        assert!(verify.contains("chain.pem: OK"), "{verify}");
        // Two signatures of the same request never share a serial.
        env.ok(&[
            "ca",
            "sign",
            &env.p("req.csr"),
            "--out",
            &env.p("again.pem"),
        ]);
        let s1 = env.openssl(&["x509", "-in", "signed.pem", "-noout", "-serial"]);
        let s2 = env.openssl(&["x509", "-in", "again.pem", "-noout", "-serial"]);
        assert_ne!(s1, s2);
        // The signatures are in the audit log.
        assert!(env.ok(&["log"]).contains("ca sign"));
        // A second init changes nothing.
        let err = env.refused(&["ca", "init"]);
        assert!(err.contains("already exists"), "{err}");
    }
}

#[test]
fn private_ca_signs_openssl_requests_with_extra_extensions() {
    let env = Env::new();
    env.ok(&["ca", "init", "--intermediate"]);
    env.ok(&["ca", "root", "--out", &env.p("root.pem")]);
    // OpenSSL and Windows requests often carry SKI and other extensions.
    env.openssl(&[
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "web.key",
        "-out",
        "web.csr",
        "-subj",
        "/CN=web.contoso.com/O=Contoso",
        "-addext",
        "subjectAltName=DNS:web.contoso.com,DNS:www.contoso.com,IP:192.0.2.10",
        "-addext",
        "subjectKeyIdentifier=hash",
        "-addext",
        "keyUsage=digitalSignature",
        "-addext",
        "nsComment=from a template",
    ]);
    env.ok(&["ca", "sign", &env.p("web.csr"), "--out", &env.p("web.pem")]);
    let text = env.openssl(&["x509", "-in", "web.pem", "-noout", "-text"]);
    assert!(
        text.contains("DNS:web.contoso.com, DNS:www.contoso.com, IP Address:192.0.2.10"),
        "{text}"
    );
    assert!(
        !text.contains("from a template"),
        "copied an extension it should not: {text}"
    );
    let verify = env.openssl(&[
        "verify",
        "-CAfile",
        "root.pem",
        "-untrusted",
        "web.pem",
        "web.pem",
    ]);
    assert!(verify.contains("OK"), "{verify}");
    // The certificate carries the request's key.
    let k1 = env.openssl(&["x509", "-in", "web.pem", "-noout", "-pubkey"]);
    let k2 = env.openssl(&["pkey", "-in", "web.key", "-pubout"]);
    assert_eq!(k1, k2);
}

#[test]
fn private_ca_refuses_bad_requests() {
    let env = Env::new();
    let err = env.refused(&["ca", "sign", &env.p("none.csr")]);
    assert!(err.contains("none.csr"), "{err}");
    env.request(&["mail.contoso.com"], "req.csr");
    let err = env.refused(&["ca", "sign", &env.p("req.csr")]);
    assert!(err.contains("ca init"), "{err}");
    env.ok(&["ca", "init"]);
    // Truncated.
    let pem = env.read("req.csr");
    let cut = env.write("cut.csr", &pem[..pem.len() - 60]);
    let err = env.refused(&["ca", "sign", &cut]);
    assert!(err.contains("cut.csr"), "{err}");
    // Altered: the signature no longer verifies.
    env.openssl(&[
        "req", "-in", "req.csr", "-outform", "DER", "-out", "req.der",
    ]);
    let mut der = env.read("req.der");
    let n = der.len();
    der[n - 10] ^= 0x55;
    let bad = env.write("bad.der", &der);
    let err = env.refused(&["ca", "sign", &bad]);
    assert!(
        err.contains("bad.der") && err.contains("signature"),
        "{err}"
    );
    // Longer than the CA lives.
    let err = env.refused(&["ca", "sign", &env.p("req.csr"), "--days", "30000"]);
    assert!(err.contains("--days"), "{err}");
    let err = env.refused(&["ca", "root", "--der"]);
    assert!(err.contains("--out"), "{err}");
}

#[test]
fn signing_for_longer_than_apple_accepts_warns_as_the_planner_does() {
    let env = Env::new();
    env.ok(&["ca", "init"]);
    env.request(&["mail.contoso.com"], "req.csr");
    let text = env.ok_all(&[
        "ca",
        "sign",
        &env.p("req.csr"),
        "--days",
        "900",
        "--out",
        &env.p("long.pem"),
    ]);
    assert!(
        text.contains("warning: 900 days")
            && text.contains("825")
            && text.contains("Apple")
            && text.contains("--days 825"),
        "{text}"
    );
    // Signed all the same, for the days asked (OpenSSL reads the dates).
    let dates = env.openssl(&["x509", "-in", "long.pem", "-noout", "-checkend", "77000000"]);
    assert!(dates.contains("will not expire"), "{dates}");
    let json = env.json(&["ca", "sign", &env.p("req.csr"), "--days", "826", "--json"]);
    let messages = json["messages"].to_string();
    assert!(messages.contains("warning: 826 days"), "{messages}");
    // At the limit: no warning.
    let text = env.ok_all(&[
        "ca",
        "sign",
        &env.p("req.csr"),
        "--days",
        "825",
        "--out",
        &env.p("ok.pem"),
    ]);
    assert!(!text.contains("warning"), "{text}");
}
