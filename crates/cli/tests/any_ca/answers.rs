//! The CA's answer, however it reaches the store, ends up with the key of
//! the request it answers; and no message ever advises an action that
//! would lose a private key.

use super::harness::{concat, Env};

/// A pending request answered by the OpenSSL CA: (request id, answer
/// with its intermediate).
fn answered(env: &Env) -> (String, String) {
    env.openssl_ca();
    env.ok(&["trust", "add", &env.p("testroot.pem")]);
    let id = env.request(&["mail.contoso.com"], "req.csr");
    env.openssl_sign("req.csr", "DNS:mail.contoso.com", "leaf.pem");
    let answer = concat(env, &["leaf.pem", "testint.pem"], "answer.pem");
    (id, answer)
}

/// The public key of a certificate and of a key, as OpenSSL writes them.
fn same_key(env: &Env, cert: &str, key: &str) -> bool {
    let a = env.openssl(&["x509", "-in", cert, "-noout", "-pubkey"]);
    let b = env.openssl(&["pkey", "-in", key, "-pubout"]);
    a == b
}

/// The certificate with its key, out of the store as PEM (via a .pfx and
/// OpenSSL), to prove the key is the request's.
fn exported_key(env: &Env, thumb: &str) -> String {
    env.write("pw", "S3cret!\n");
    env.ok(&[
        "export",
        thumb,
        "--out",
        &env.p("out.pfx"),
        "--password-file",
        &env.p("pw"),
    ]);
    env.openssl(&[
        "pkcs12",
        "-in",
        "out.pfx",
        "-passin",
        "pass:S3cret!",
        "-nocerts",
        "-nodes",
        "-out",
        "out.key",
    ]);
    "out.key".into()
}

#[test]
fn importing_the_answer_completes_its_pending_request() {
    let env = Env::new();
    let (id, answer) = answered(&env);
    let text = env.ok_all(&["import", &answer]);
    let thumb = text.lines().next().unwrap().trim().to_string();
    assert!(
        text.contains(&format!("answer to pending request {id}")),
        "{text}"
    );
    let view = env.view(&thumb);
    assert_eq!(view["has_private_key"], true, "{view}");
    assert_eq!(view["status"], "Valid", "{view}");
    assert_eq!(view["origin"], "issued", "{view}");
    // The request is answered: gone, and its key is the certificate's.
    assert_eq!(env.run(&["show", &id]).status.code(), Some(2));
    let key = exported_key(&env, &thumb);
    assert!(same_key(&env, "leaf.pem", &key));
    // It can serve.
    env.ok(&["enable", &thumb, "--services", "imap"]);
}

#[test]
fn complete_replaces_a_copy_stored_without_its_key() {
    let env = Env::new();
    let (id, answer) = answered(&env);
    // What older versions did with `import` of the answer: the certificate
    // stored alone (here: imported into another store, whose row is
    // copied into this one), the request still pending.
    let other = Env::new();
    let thumb = other.ok(&["import", &env.p("leaf.pem")]);
    assert_eq!(other.view(&thumb)["has_private_key"], false);
    mailcert_testkit::python(
        "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('attach ? as o', (sys.argv[2],)); c.execute('insert into certificates select * from o.certificates where thumbprint = ?', (sys.argv[3],)); c.commit()",
        &[&env.p("store.db"), &other.p("store.db"), &thumb],
    );
    assert_eq!(env.view(&thumb)["has_private_key"], false);
    // enable says why it cannot, and points at what keeps the key.
    let out = env.run(&["enable", &thumb, "--services", "imap"]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("complete the pending request"), "{err}");

    let text = env.ok_all(&["complete", &answer]);
    assert!(
        text.contains("without its private key") && text.contains(&id),
        "{text}"
    );
    assert!(!text.contains("mailcert remove"), "{text}");
    let view = env.view(&thumb);
    assert_eq!(view["has_private_key"], true, "{view}");
    assert_eq!(view["status"], "Valid", "{view}");
    assert_eq!(view["chain"].as_array().map(Vec::len), Some(1), "{view}");
    assert_eq!(env.run(&["show", &id]).status.code(), Some(2));
    let list = env.json(&["list", "--json"]);
    let copies = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["thumbprint"] == thumb.as_str())
        .count();
    assert_eq!(copies, 1, "{list}");
    let key = exported_key(&env, &thumb);
    assert!(same_key(&env, "leaf.pem", &key));
    // The same through `import`: it completes too.
    let again = Env::new();
    let (_, answer) = answered(&again);
    let thumb = other.ok(&["import", &again.p("leaf.pem")]);
    mailcert_testkit::python(
        "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('attach ? as o', (sys.argv[2],)); c.execute('insert into certificates select * from o.certificates where thumbprint = ?', (sys.argv[3],)); c.commit()",
        &[&again.p("store.db"), &other.p("store.db"), &thumb],
    );
    again.ok(&["import", &answer]);
    assert_eq!(again.view(&thumb)["has_private_key"], true);
}

#[test]
fn an_old_answer_never_consumes_a_renewal_request() {
    let env = Env::new();
    let (_, answer) = answered(&env);
    let thumb = env.ok(&["complete", &answer]);
    // A renewal that keeps the key: the old answer carries that key too.
    env.ok(&["renew", &thumb, "--reuse-key", "--out", &env.p("renew.csr")]);
    let pending: Vec<String> = env
        .json(&["list", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "PendingRequest")
        .map(|c| c["thumbprint"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(pending.len(), 1);
    for args in [&["complete", &answer][..], &["import", &env.p("leaf.pem")]] {
        let out = env.run(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // Refused or a no-op, but never advice to remove the request.
        assert!(!text.contains("mailcert remove"), "{args:?}: {text}");
        assert!(env.run(&["show", &pending[0]]).status.success(), "{text}");
    }
    let err = env.refused(&["complete", &answer]);
    assert!(
        err.contains("already in the store with its private key")
            && err.contains(&pending[0])
            && err.contains("stays pending"),
        "{err}"
    );
    // The CA's real answer to the renewal completes it.
    env.openssl_sign("renew.csr", "DNS:mail.contoso.com", "renewed.pem");
    let renewed = concat(&env, &["renewed.pem", "testint.pem"], "renewed-answer.pem");
    let new = env.ok(&["complete", &renewed]);
    assert_ne!(new, thumb);
    assert_eq!(env.view(&new)["has_private_key"], true);
}
