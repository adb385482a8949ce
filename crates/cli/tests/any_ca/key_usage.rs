//! Key usage follows the key: keyEncipherment only for RSA (RFC 5480
//! forbids it for EC keys), in everything mailcert makes — self-signed
//! certificates, requests, and what the private CA signs — as OpenSSL
//! reads them.

use super::harness::Env;

/// The "X509v3 Key Usage" line of `openssl x509|req -text` for a file.
fn key_usage(env: &Env, kind: &str, file: &str) -> String {
    let text = env.openssl(&[kind, "-in", file, "-noout", "-text"]);
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.contains("X509v3 Key Usage") {
            return lines.next().unwrap_or("").trim().to_string();
        }
    }
    panic!("no key usage in {file}:\n{text}")
}

const EC_ONLY: &str = "Digital Signature";
const RSA: &str = "Digital Signature, Key Encipherment";

#[test]
fn only_rsa_keys_are_for_key_encipherment() {
    let env = Env::new();
    env.ok(&["ca", "init"]);
    for (key, expected) in [
        ("ec-p256", EC_ONLY),
        ("ec-p384", EC_ONLY),
        ("rsa-2048", RSA),
    ] {
        let thumb = env.ok(&[
            "new",
            "--self-signed",
            "--name",
            "mail.contoso.com",
            "--key",
            key,
        ]);
        let pem = env.ok(&["show", &thumb, "--pem"]);
        env.write("self.pem", pem);
        assert_eq!(
            key_usage(&env, "x509", "self.pem"),
            expected,
            "self-signed {key}"
        );

        env.ok(&[
            "request",
            "--name",
            "mail.contoso.com",
            "--key",
            key,
            "--out",
            &env.p("req.csr"),
        ]);
        assert_eq!(key_usage(&env, "req", "req.csr"), expected, "request {key}");

        env.ok(&[
            "ca",
            "sign",
            &env.p("req.csr"),
            "--out",
            &env.p("signed.pem"),
        ]);
        assert_eq!(
            key_usage(&env, "x509", "signed.pem"),
            expected,
            "CA-signed {key}"
        );
    }
    // The secure-by-default certificate (EC by default).
    let init = env.json(&["list", "--json"]);
    let init = init
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["origin"] == "self-signed" && c["services"].as_array().is_some_and(|s| !s.is_empty())
        })
        .unwrap()["thumbprint"]
        .as_str()
        .unwrap()
        .to_string();
    env.write("init.pem", env.ok(&["show", &init, "--pem"]));
    assert_eq!(key_usage(&env, "x509", "init.pem"), EC_ONLY);

    // A request made elsewhere that asks keyEncipherment for an EC key:
    // the CA certifies the key for what it can do, not what was asked.
    env.openssl(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "asks.key",
        "-subj",
        "/CN=mail.contoso.com",
        "-addext",
        "subjectAltName=DNS:mail.contoso.com",
        "-addext",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        "-out",
        "asks.csr",
    ]);
    assert_eq!(
        key_usage(&env, "req", "asks.csr"),
        RSA,
        "the request asks it"
    );
    env.ok(&[
        "ca",
        "sign",
        &env.p("asks.csr"),
        "--out",
        &env.p("asks.pem"),
    ]);
    assert_eq!(key_usage(&env, "x509", "asks.pem"), EC_ONLY);
}
