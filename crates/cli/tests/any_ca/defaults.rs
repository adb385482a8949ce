//! The certificate a client without SNI gets when a CA-issued certificate
//! sits beside the self-signed one `init` made, and `init` after the
//! administrator took that one away.

use mailcert_testkit::pki::server_extensions;

use super::harness::Env;

/// A certificate for mail.contoso.com that the OpenSSL CA (trusted by the
/// store) issued two days ago on another server, exported there as a PFX
/// and imported here: older than the certificate `init` just made.
fn import_older_ca_certificate(env: &Env) -> String {
    env.openssl_ca();
    env.ok(&["trust", "add", &env.p("testroot.pem")]);
    env.openssl(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "mail.key",
        "-out",
        "mail.csr",
        "-subj",
        "/CN=mail.contoso.com",
    ]);
    env.write(
        "leaf.ext",
        server_extensions("DNS:mail.contoso.com,DNS:autodiscover.contoso.com"),
    );
    env.openssl_sign_at("-2d", "testint", "mail.csr", 200, "leaf.ext", "mail.pem");
    env.openssl(&[
        "pkcs12",
        "-export",
        "-in",
        "mail.pem",
        "-inkey",
        "mail.key",
        "-certfile",
        "testint.pem",
        "-out",
        "mail.pfx",
        "-passout",
        "pass:secret",
    ]);
    let password = env.write("password.txt", "secret\n");
    let thumb = env.ok(&["import", &env.p("mail.pfx"), "--password-file", &password]);
    assert_eq!(env.status(&thumb), "Valid");
    assert_eq!(env.view(&thumb)["is_self_signed"], false);
    thumb
}

fn which(env: &Env, service: &str) -> serde_json::Value {
    env.json(&["which", service, "--json"])
}

#[test]
fn a_trusted_ca_certificate_is_the_default_over_a_newer_self_signed_one() {
    let env = Env::new();
    let init = env.json(&["list", "--json"])[0]["thumbprint"]
        .as_str()
        .unwrap()
        .to_string();
    let imported = import_older_ca_certificate(&env);

    let text = env.ok_all(&["enable", &imported, "--services", "smtp,imap"]);
    for service in ["smtp", "imap"] {
        assert!(
            text.contains(&format!(
                "{service}: clients without SNI now get this certificate"
            )),
            "{text}"
        );
        let chosen = which(&env, service);
        assert_eq!(chosen["thumbprint"], imported.as_str(), "{chosen}");
        assert_eq!(chosen["selection"]["rule"], "no-sni");
        assert!(
            chosen["explanation"]
                .as_str()
                .unwrap()
                .contains("issued by a trusted CA before a self-signed"),
            "{chosen}"
        );
    }
    // The init certificate stays bound to smtp; a client asking for its
    // own name still gets it.
    let by_name = env.json(&["which", "smtp", "--name", "ex1.contoso.com", "--json"]);
    assert_eq!(by_name["thumbprint"], init.as_str(), "{by_name}");

    // A self-signed certificate made now is newer, and still not the default.
    let newer = env.ok(&["new", "--self-signed", "--name", "mail.contoso.com"]);
    let text = env.ok_all(&["enable", &newer, "--services", "smtp"]);
    assert!(
        text.contains(&format!(
            "smtp: clients without SNI still get {imported}, not this certificate, because a certificate issued by a trusted CA wins"
        )),
        "{text}"
    );
    assert_eq!(which(&env, "smtp")["thumbprint"], imported.as_str());
    // With an exact name both carry, the trusted one wins too.
    let by_name = env.json(&["which", "smtp", "--name", "mail.contoso.com", "--json"]);
    assert_eq!(by_name["thumbprint"], imported.as_str(), "{by_name}");
}

#[test]
fn init_after_its_certificate_was_removed_changes_nothing() {
    let env = Env::new();
    let init = env.json(&["list", "--json"])[0]["thumbprint"]
        .as_str()
        .unwrap()
        .to_string();
    let imported = import_older_ca_certificate(&env);
    env.ok(&["enable", &imported, "--services", "https,smtp,imap,pop"]);
    env.ok(&["remove", &init, "--force"]);
    assert_eq!(
        env.view(&imported)["services"],
        serde_json::json!(["https", "imap", "pop", "smtp"])
    );

    let before = env.snapshot();
    let text = env.ok_all(&["init"]);
    assert!(
        text.contains("already initialised") && text.contains("nothing changed"),
        "{text}"
    );
    let text = env.ok_all(&["init", "--key", "ec-p384", "--hostname", "ex1.contoso.com"]);
    assert!(
        text.contains("--hostname ex1.contoso.com and --key ec-p384 were not used"),
        "{text}"
    );
    assert_eq!(env.snapshot(), before, "init must change nothing");
    let https = which(&env, "https");
    assert_eq!(https["thumbprint"], imported.as_str(), "{https}");

    // A service left without any certificate stays so: neither `init`
    // nor the next command brings a self-signed certificate back.
    env.ok(&["disable", &imported, "--services", "pop"]);
    let before = env.snapshot();
    let text = env.ok_all(&["init"]);
    assert!(
        text.contains("pop has no certificate") && text.contains("--services pop"),
        "{text}"
    );
    env.ok(&["list"]);
    assert_eq!(env.snapshot(), before);
    let pop = which(&env, "pop");
    assert!(pop["thumbprint"].is_null(), "{pop}");
    let log = env.json(&["log", "--json"]);
    let inits = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "init")
        .count();
    assert_eq!(inits, 1, "{log}");
}
