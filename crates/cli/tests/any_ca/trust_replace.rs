use mailcert_testkit::SignRequest;

use super::harness::Env;

#[test]
fn trust_changes_recompute_the_verdicts_in_the_same_change() {
    let env = Env::new();
    env.openssl_ca();
    env.request(&["mail.contoso.com"], "req.csr");
    env.openssl_sign("req.csr", "DNS:mail.contoso.com", "leaf.pem");
    let thumb = env.ok(&[
        "complete",
        &env.p("leaf.pem"),
        "--chain",
        &env.p("testint.pem"),
    ]);
    assert_eq!(env.status(&thumb), "Untrusted");
    let warnings = env.view(&thumb)["warnings"].to_string();
    assert!(
        warnings.contains("Test Root") && warnings.contains("trust add"),
        "{warnings}"
    );

    let text = env.ok_all(&["trust", "add", &env.p("testroot.pem")]);
    assert!(text.contains(&thumb) && text.contains("trusted"), "{text}");
    assert_eq!(env.status(&thumb), "Valid");
    let anchors = env.json(&["trust", "list", "--json"]);
    let root_thumb = anchors[0]["thumbprint"].as_str().unwrap().to_string();
    assert_eq!(anchors[0]["subject"], "CN=Test Root");
    // Adding it again changes nothing.
    let before = env.snapshot();
    assert!(env
        .ok_all(&["trust", "add", &env.p("testroot.pem")])
        .contains("already"));
    assert_eq!(before, env.snapshot());

    env.ok(&["trust", "remove", &root_thumb[..8]]);
    assert_eq!(env.status(&thumb), "Untrusted");
    let log = env.json(&["log", "--json"]);
    let last = log.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "trust remove");
    assert!(last["detail"].as_str().unwrap().contains(&thumb), "{last}");

    // Bad input: a server certificate is no anchor; unknown thumbprints; truncated files.
    let err = env.refused(&["trust", "add", &env.p("leaf.pem")]);
    assert!(err.contains("not a CA certificate"), "{err}");
    let err = env.refused(&["trust", "remove", "ABCDEF"]);
    assert!(err.contains("ABCDEF"), "{err}");
    let root = env.read("testroot.pem");
    let cut = env.write("cut.pem", &root[..root.len() - 20]);
    let err = env.refused(&["trust", "add", &cut]);
    assert!(err.contains("cut.pem"), "{err}");
}

#[test]
fn replace_moves_every_binding_and_every_pinned_listener() {
    let env = Env::new();
    env.openssl_ca();
    env.ok(&["trust", "add", &env.p("testroot.pem")]);
    let list = env.json(&["list", "--json"]);
    let old = list[0]["thumbprint"].as_str().unwrap().to_string();
    assert_eq!(list[0]["services"].as_array().unwrap().len(), 4);
    env.request(&["ex1.contoso.com", "mail.contoso.com"], "req.csr");
    env.openssl_sign(
        "req.csr",
        "DNS:ex1.contoso.com,DNS:mail.contoso.com",
        "leaf.pem",
    );
    let new = env.ok(&[
        "complete",
        &env.p("leaf.pem"),
        "--chain",
        &env.p("testint.pem"),
    ]);

    let config = format!(
        "# the front end of ex1\n[[listener]]\nname = \"imaps\"\nprotocol = \"imap\"\ntls = \"implicit\"\nbind = \"127.0.0.1:10993\"\nbackend = \"127.0.0.1:10143\"\nhostname = \"mail.contoso.com\"\ncertificate = \"{}\"   # pinned while the connector moves\n\n[[listener]]\nname = \"smtp\"\nprotocol = \"smtp\"\ntls = \"starttls\"\nbind = \"127.0.0.1:10025\"\nbackend = \"127.0.0.1:10026\"\nhostname = \"mail.contoso.com\"\n",
        &old[..8]
    );
    let config_path = env.write("mailcert.toml", &config);
    let text = env.ok_all(&["replace", &old, &new, "--config", &config_path]);
    assert!(
        text.contains("listener 'imaps'")
            && text.contains(&format!("certificate = \"{new}\""))
            && text.contains("SIGHUP"),
        "{text}"
    );
    // The pin moved with the bindings; the rest of the file, comments
    // included, is as the administrator wrote it.
    assert_eq!(
        String::from_utf8_lossy(&env.read("mailcert.toml")),
        config.replace(&format!("\"{}\"", &old[..8]), &format!("\"{new}\""))
    );
    let which = env.json(&[
        "which",
        "imap",
        "--listener",
        "imaps",
        "--config",
        &config_path,
        "--json",
    ]);
    assert_eq!(which["thumbprint"], new.as_str(), "{which}");
    assert_eq!(which["selection"]["rule"], "pinned", "{which}");
    let old_view = env.view(&old);
    assert_eq!(
        old_view["services"].as_array().unwrap().len(),
        0,
        "{old_view}"
    );
    assert_eq!(
        env.view(&new)["services"],
        serde_json::json!(["https", "imap", "pop", "smtp"])
    );
    let log = env.json(&["log", "--json"]);
    let last = log.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "replace");

    // Nothing left to move: refused, nothing changes.
    let err = env.refused(&["replace", &old, &new]);
    assert!(err.contains("nothing to replace"), "{err}");
    let err = env.refused(&["replace", &new, &new]);
    assert!(err.contains("same certificate"), "{err}");
    // --strict refuses a certificate that lacks the listeners' names.
    env.request(&["other.contoso.com"], "o.csr");
    env.openssl_sign("o.csr", "DNS:other.contoso.com", "o.pem");
    let other = env.ok(&[
        "complete",
        &env.p("o.pem"),
        "--chain",
        &env.p("testint.pem"),
    ]);
    let config_now = env.read("mailcert.toml");
    let err = env.refused(&[
        "replace",
        &new,
        &other,
        "--strict",
        "--config",
        &config_path,
    ]);
    assert!(err.contains("mail.contoso.com"), "{err}");
    // Refused: the configuration is as it was, with no half-written
    // file beside it.
    assert_eq!(env.read("mailcert.toml"), config_now);
    let leftovers: Vec<_> = std::fs::read_dir(env.dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".new"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn dates_are_told_apart_from_trust_on_complete() {
    let env = Env::new();
    env.openssl_ca();
    env.ok(&["trust", "add", &env.p("testroot.pem")]);
    env.write(
        "leaf.ext",
        "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nauthorityKeyIdentifier=keyid\nsubjectAltName=DNS:mail.contoso.com\n",
    );

    // A certificate from a trusted CA that starts in 400 days: the outcome
    // says DateInvalid, as `list` does, not "Valid".
    env.request(&["mail.contoso.com"], "future.csr");
    env.openssl_sign_at(
        "+400d",
        "testint",
        "future.csr",
        100,
        "leaf.ext",
        "future.pem",
    );
    let text = env.ok_all(&[
        "complete",
        &env.p("future.pem"),
        "--chain",
        &env.p("testint.pem"),
    ]);
    assert!(
        text.contains("status DateInvalid") && !text.contains("status Valid"),
        "{text}"
    );
    let thumb = text.lines().next().unwrap().trim().to_string();
    assert_eq!(env.status(&thumb), "DateInvalid");

    // An intermediate that expired long ago under a trusted root: the
    // warning must not blame the root, which is trusted.
    env.openssl_sign_at(
        "-3000d",
        "testroot",
        "testint.csr",
        30,
        "int.ext",
        "oldint.pem",
    );
    env.request(&["mail.contoso.com"], "old.csr");
    env.openssl(
        &SignRequest::new("old.csr", "oldint.pem", "testint.key", 100, "old.pem")
            .with(&["-extfile", "leaf.ext"])
            .args(),
    );
    // The CA sends its whole chain, root included.
    let chain = super::harness::concat(&env, &["oldint.pem", "testroot.pem"], "oldchain.pem");
    let text = env.ok_all(&["complete", &env.p("old.pem"), "--chain", &chain]);
    let thumb = text.lines().next().unwrap().trim().to_string();
    assert_eq!(env.status(&thumb), "Untrusted");
    let warnings = env.view(&thumb)["warnings"].to_string();
    assert!(warnings.contains("expired"), "{warnings}");
    assert!(
        !warnings.contains("is not trusted on this machine"),
        "{warnings}"
    );
}
