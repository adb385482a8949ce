use super::harness::{concat, Env};

/// request → openssl req -verify → openssl signs with an intermediate.
fn requested_and_signed(env: &Env) -> (String, String) {
    let id = env.request(&["mail.contoso.com", "autodiscover.contoso.com"], "req.csr");
    let text = env.openssl(&["req", "-in", "req.csr", "-verify", "-noout", "-text"]);
    assert!(
        text.contains("verify OK") || text.contains("self-signature ok"),
        "{text}"
    );
    assert!(
        text.contains("DNS:mail.contoso.com, DNS:autodiscover.contoso.com"),
        "the SANs are not in the request:\n{text}"
    );
    assert!(
        text.contains("CN = mail.contoso.com") || text.contains("CN=mail.contoso.com"),
        "{text}"
    );
    let view = env.view(&id);
    assert_eq!(view["status"], "PendingRequest");
    env.openssl_sign(
        "req.csr",
        "DNS:mail.contoso.com,DNS:autodiscover.contoso.com",
        "leaf.pem",
    );
    (id, "leaf.pem".to_string())
}

fn assert_exported_chain_verifies(env: &Env, thumb: &str) {
    let out = env.p("exported.pem");
    env.ok(&["export", thumb, "--pem", "--out", &out]);
    let text = env.openssl(&[
        "verify",
        "-CAfile",
        "testroot.pem",
        "-untrusted",
        "exported.pem",
        "exported.pem",
    ]);
    assert!(text.contains("exported.pem: OK"), "{text}");
}

#[test]
fn request_shows_as_pending_and_show_prints_the_csr() {
    let env = Env::new();
    let id = env.request(&["mail.contoso.com"], "req.csr");
    let list = env.json(&["list", "--json"]);
    let pending: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["status"] == "PendingRequest")
        .collect();
    assert_eq!(pending.len(), 1, "{list}");
    assert_eq!(pending[0]["thumbprint"], id.as_str());
    let shown = env.ok(&["show", &id]);
    assert!(shown.contains("BEGIN CERTIFICATE REQUEST"), "{shown}");
    let pem = env.ok(&["show", &id, "--pem"]);
    assert_eq!(
        pem.trim(),
        String::from_utf8_lossy(&env.read("req.csr")).trim()
    );
    // Without --out the request goes to standard output.
    let out = env.ok(&[
        "request",
        "--name",
        "owa.contoso.com",
        "--subject",
        "CN=owa.contoso.com,O=Contoso,C=US",
        "--key",
        "rsa-2048",
    ]);
    assert!(
        out.starts_with("-----BEGIN CERTIFICATE REQUEST-----"),
        "{out}"
    );
    env.write("owa.csr", &out);
    let text = env.openssl(&["req", "-in", "owa.csr", "-noout", "-subject"]);
    assert!(
        text.contains("O = Contoso") && text.contains("C = US"),
        "{text}"
    );
    // An output path that cannot be written: refused before anything is stored.
    let err = env.refused(&[
        "request",
        "--name",
        "x.contoso.com",
        "--out",
        &env.p("no/such/dir/req.csr"),
    ]);
    assert!(err.contains("req.csr"), "{err}");
    // A request is cancelled with remove.
    env.ok(&["remove", &id]);
    assert!(env.run(&["show", &id]).status.code() == Some(2));
}

#[test]
fn complete_leaf_only_plus_chain() {
    let env = Env::new();
    env.openssl_ca();
    env.ok(&["trust", "add", &env.p("testroot.pem")]);
    let (id, leaf) = requested_and_signed(&env);
    let thumb = env.ok(&["complete", &env.p(&leaf), "--chain", &env.p("testint.pem")]);
    assert_eq!(env.status(&thumb), "Valid");
    let view = env.view(&thumb);
    assert_eq!(view["chain"].as_array().unwrap().len(), 1);
    assert_eq!(view["has_private_key"], true);
    assert_eq!(
        view["names"],
        serde_json::json!(["mail.contoso.com", "autodiscover.contoso.com"])
    );
    // The pending request is gone.
    assert!(env.run(&["show", &id]).status.code() == Some(2));
    assert_exported_chain_verifies(&env, &thumb);
}

#[test]
fn complete_shuffled_pem_bundle() {
    let env = Env::new();
    env.openssl_ca();
    env.ok(&["trust", "add", &env.p("testroot.pem")]);
    let (_, leaf) = requested_and_signed(&env);
    let bundle = concat(&env, &["testint.pem", "testroot.pem", &leaf], "bundle.pem");
    let thumb = env.ok(&["complete", &bundle]);
    assert_eq!(env.status(&thumb), "Valid");
    // Built by issuer: the intermediate; the root the bundle carried is
    // not kept (servers do not send it).
    let chain = env.view(&thumb)["chain"].clone();
    assert_eq!(chain.as_array().unwrap().len(), 1, "{chain}");
    let int = env.openssl(&[
        "x509",
        "-in",
        "testint.pem",
        "-noout",
        "-fingerprint",
        "-sha1",
    ]);
    let int = int.split('=').nth(1).unwrap().trim().replace(':', "");
    assert_eq!(chain[0], int.as_str());
    assert_exported_chain_verifies(&env, &thumb);
}

#[test]
fn complete_p7b_der_and_pem_with_and_without_root() {
    let env = Env::new();
    env.openssl_ca();
    env.ok(&["trust", "add", &env.p("testroot.pem")]);
    let (_, leaf) = requested_and_signed(&env);
    env.openssl(&[
        "crl2pkcs7",
        "-nocrl",
        "-certfile",
        &leaf,
        "-certfile",
        "testint.pem",
        "-certfile",
        "testroot.pem",
        "-outform",
        "DER",
        "-out",
        "answer.p7b",
    ]);
    let thumb = env.ok(&["complete", &env.p("answer.p7b")]);
    assert_eq!(env.status(&thumb), "Valid");
    assert_exported_chain_verifies(&env, &thumb);

    // PEM PKCS#7 without the root, in a store that never saw the root's
    // certificate (only as an anchor).
    let env = Env::new();
    env.openssl_ca();
    env.ok(&["trust", "add", &env.p("testroot.pem")]);
    env.request(&["owa.contoso.com"], "owa.csr");
    env.openssl_sign("owa.csr", "DNS:owa.contoso.com", "owa.pem");
    env.openssl(&[
        "crl2pkcs7",
        "-nocrl",
        "-certfile",
        "owa.pem",
        "-certfile",
        "testint.pem",
        "-out",
        "owa.p7c",
    ]);
    let thumb = env.ok(&["complete", &env.p("owa.p7c")]);
    assert_eq!(env.status(&thumb), "Valid");
    assert_eq!(env.view(&thumb)["chain"].as_array().unwrap().len(), 1);
}

#[test]
fn der_answer_completes() {
    let env = Env::new();
    env.openssl_ca();
    env.ok(&["trust", "add", &env.p("testroot.pem")]);
    let (_, leaf) = requested_and_signed(&env);
    env.openssl(&["x509", "-in", &leaf, "-outform", "DER", "-out", "leaf.cer"]);
    env.openssl(&[
        "x509",
        "-in",
        "testint.pem",
        "-outform",
        "DER",
        "-out",
        "int.cer",
    ]);
    let thumb = env.ok(&["complete", &env.p("leaf.cer"), "--chain", &env.p("int.cer")]);
    assert_eq!(env.status(&thumb), "Valid");
}

#[test]
fn incomplete_chain_is_stored_untrusted_until_the_intermediate_comes() {
    let env = Env::new();
    env.openssl_ca();
    env.ok(&["trust", "add", &env.p("testroot.pem")]);
    let (_, leaf) = requested_and_signed(&env);
    let out = env.run(&["complete", &env.p(&leaf)]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("intermediate 'Test Intermediate' is not in the chain")
            && stderr.contains("--chain"),
        "{stderr}"
    );
    let thumb = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(env.status(&thumb), "Untrusted");
    let warnings = env.view(&thumb)["warnings"].to_string();
    assert!(warnings.contains("Test Intermediate"), "{warnings}");
    // A later complete with the chain supplies it.
    let text = env.ok_all(&["complete", &env.p(&leaf), "--chain", &env.p("testint.pem")]);
    assert!(text.contains("already in the store"), "{text}");
    assert_eq!(env.status(&thumb), "Valid");
    // Once more: nothing to add, nothing changes.
    let before = env.snapshot();
    let text = env.ok_all(&["complete", &env.p(&leaf), "--chain", &env.p("testint.pem")]);
    assert!(text.contains("nothing changed"), "{text}");
    assert_eq!(before, env.snapshot());
}

#[test]
fn an_unrelated_answer_is_refused_and_nothing_is_stored() {
    let env = Env::new();
    env.openssl_ca();
    env.request(&["mail.contoso.com"], "req.csr");
    // A request made elsewhere (by OpenSSL), answered by the same CA.
    env.openssl(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "elsewhere.key",
        "-out",
        "elsewhere.csr",
        "-subj",
        "/CN=mail.contoso.com",
    ]);
    env.openssl_sign("elsewhere.csr", "DNS:mail.contoso.com", "elsewhere.pem");
    let err = env.refused(&[
        "complete",
        &env.p("elsewhere.pem"),
        "--chain",
        &env.p("testint.pem"),
    ]);
    assert!(
        err.contains("matches no pending request") && err.contains("Nothing was stored"),
        "{err}"
    );
    // Only CA certificates.
    let err = env.refused(&["complete", &env.p("testint.pem")]);
    assert!(err.contains("only CA certificates"), "{err}");
}

#[test]
fn truncated_and_garbage_answers_are_refused() {
    let env = Env::new();
    env.openssl_ca();
    env.request(&["mail.contoso.com"], "req.csr");
    env.openssl_sign("req.csr", "DNS:mail.contoso.com", "leaf.pem");
    let pem = env.read("leaf.pem");
    let cut = env.write("cut.pem", &pem[..pem.len() / 2]);
    let err = env.refused(&["complete", &cut]);
    assert!(
        err.contains("cut.pem") && err.contains("truncated"),
        "{err}"
    );
    env.openssl(&[
        "x509", "-in", "leaf.pem", "-outform", "DER", "-out", "leaf.der",
    ]);
    let der = env.read("leaf.der");
    let cut = env.write("cut.der", &der[..der.len() - 40]);
    let err = env.refused(&["complete", &cut]);
    assert!(
        err.contains("cut.der") && err.contains("truncated"),
        "{err}"
    );
    let junk = env.write("junk.p7b", b"this is not a certificate");
    let err = env.refused(&["complete", &junk]);
    assert!(err.contains("junk.p7b"), "{err}");
    let err = env.refused(&["complete", &env.p("missing.pem")]);
    assert!(err.contains("missing.pem"), "{err}");
    // A truncated chain file refuses the whole command.
    let int = env.read("testint.pem");
    let cut = env.write("cutint.pem", &int[..int.len() - 30]);
    let err = env.refused(&["complete", &env.p("leaf.pem"), "--chain", &cut]);
    assert!(err.contains("cutint.pem"), "{err}");
}

#[test]
fn renew_ca_issued_makes_a_new_request_with_the_same_names() {
    let env = Env::new();
    env.openssl_ca();
    env.ok(&["trust", "add", &env.p("testroot.pem")]);
    let (_, leaf) = requested_and_signed(&env);
    let thumb = env.ok(&["complete", &env.p(&leaf), "--chain", &env.p("testint.pem")]);
    let renew = env.json(&["renew", &thumb, "--out", &env.p("renew.csr"), "--json"]);
    assert_eq!(renew["status"], "PendingRequest");
    assert_eq!(
        renew["names"],
        serde_json::json!(["mail.contoso.com", "autodiscover.contoso.com"])
    );
    assert_eq!(renew["key_algorithm"], "ec-p256");
    let text = env.openssl(&["req", "-in", "renew.csr", "-verify", "-noout", "-text"]);
    assert!(
        text.contains("DNS:mail.contoso.com, DNS:autodiscover.contoso.com"),
        "{text}"
    );
    // A new key by default, the same with --reuse-key.
    let cert_key = env.openssl(&["x509", "-in", &leaf, "-noout", "-pubkey"]);
    let new_key = env.openssl(&["req", "-in", "renew.csr", "-noout", "-pubkey"]);
    assert_ne!(cert_key, new_key);
    env.ok(&["renew", &thumb, "--reuse-key", "--out", &env.p("same.csr")]);
    let same_key = env.openssl(&["req", "-in", "same.csr", "-noout", "-pubkey"]);
    assert_eq!(cert_key, same_key);
    // The renewal completes and points at replace.
    env.openssl_sign(
        "renew.csr",
        "DNS:mail.contoso.com,DNS:autodiscover.contoso.com",
        "renewed.pem",
    );
    env.ok(&["enable", &thumb, "--services", "imap"]);
    let text = env.ok_all(&[
        "complete",
        &env.p("renewed.pem"),
        "--chain",
        &env.p("testint.pem"),
    ]);
    assert!(text.contains("mailcert replace"), "{text}");
}

#[test]
fn a_pending_request_lists_ip_addresses_and_key_size_like_a_certificate() {
    let env = Env::new();
    let id = env.ok(&[
        "request",
        "--name",
        "mail.contoso.com",
        "--name",
        "10.0.0.5",
        "--key",
        "rsa-3072",
        "--out",
        &env.p("req.csr"),
    ]);
    let id = id.lines().next().unwrap().trim().to_string();
    let view = env.view(&id);
    assert_eq!(view["status"], "PendingRequest");
    assert_eq!(
        view["names"],
        serde_json::json!(["mail.contoso.com"]),
        "{view}"
    );
    assert_eq!(
        view["ip_addresses"],
        serde_json::json!(["10.0.0.5"]),
        "{view}"
    );
    assert_eq!(view["key_algorithm"], "rsa-3072", "{view}");
    assert_eq!(view["key_size"], 3072, "{view}");
}

#[test]
fn a_full_chain_to_an_untrusted_root_blames_the_root_not_a_missing_intermediate() {
    let env = Env::new();
    env.openssl_ca();
    // The root is not trusted here; the answer carries the intermediate
    // and the root, as a CA's full bundle does.
    let (_, leaf) = requested_and_signed(&env);
    let bundle = concat(&env, &["testint.pem", "testroot.pem"], "bundle.pem");
    let thumb = env.ok(&["complete", &env.p(&leaf), "--chain", &bundle]);
    assert_eq!(env.status(&thumb), "Untrusted");
    let out = env.run(&["enable", &thumb, "--services", "imap"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("root 'Test Root'")
            && !text.contains("is not in the chain")
            && !text.contains("add the intermediate"),
        "{text}"
    );
    // The root is not kept in the chain, yet later judgements do not
    // forget it: an unrelated anchor (which recomputes every verdict),
    // then the root trusted and distrusted again, still name the root.
    assert_eq!(env.view(&thumb)["chain"].as_array().map(Vec::len), Some(1));
    env.openssl_ca_named("Other");
    env.ok(&["trust", "add", &env.p("otherroot.pem")]);
    env.ok(&["trust", "add", &env.p("testroot.pem")]);
    assert_eq!(env.status(&thumb), "Valid");
    let anchors = env.json(&["trust", "list", "--json"]);
    let anchor = |subject: &str| {
        anchors
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["subject"] == subject)
            .map(|a| a["thumbprint"].as_str().unwrap().to_string())
            .unwrap()
    };
    let (test_root, other_root) = (anchor("CN=Test Root"), anchor("CN=Other Root"));
    env.ok(&["trust", "remove", &test_root]);
    assert_eq!(env.status(&thumb), "Untrusted");
    for _ in 0..2 {
        let out = env.run(&["enable", &thumb, "--services", "pop"]);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("root 'Test Root'") && !text.contains("is not in the chain"),
            "{text}"
        );
        // An unrelated change that refreshes every verdict.
        env.ok(&["trust", "remove", &other_root]);
        env.ok(&["trust", "add", &env.p("otherroot.pem")]);
    }
}

#[test]
fn a_damaged_signature_is_invalid_not_a_missing_intermediate() {
    let env = Env::new();
    env.openssl_ca();
    let (_, leaf) = requested_and_signed(&env);
    env.openssl(&["x509", "-in", &leaf, "-outform", "DER", "-out", "leaf.der"]);
    let mut der = env.read("leaf.der");
    let last = der.len() - 1;
    der[last] ^= 0x01;
    env.write("bad.der", der);
    env.openssl(&[
        "x509", "-inform", "DER", "-in", "bad.der", "-out", "bad.pem",
    ]);
    env.ok(&["trust", "add", &env.p("testroot.pem")]);
    // A damaged answer does not consume the request: the CA can send it
    // again.
    let err = env.refused(&[
        "complete",
        &env.p("bad.pem"),
        "--chain",
        &env.p("testint.pem"),
    ]);
    assert!(
        err.contains("does not verify") && err.contains("is kept"),
        "{err}"
    );
    let list = env.json(&["list", "--json"]);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|c| c["status"] == "PendingRequest"),
        "{list}"
    );
    // Imported here, it is the answer to that request: refused alike.
    let bundle = super::harness::concat(&env, &["bad.pem", "testint.pem"], "bad.bundle");
    let err = env.refused(&["import", &bundle]);
    assert!(
        err.contains("does not verify") && err.contains("is kept"),
        "{err}"
    );
    // Imported where no request waits for it, it is listed Invalid with
    // the reason.
    let other = Env::new();
    other.ok(&["trust", "add", &env.p("testroot.pem")]);
    let text = other.ok_all(&["import", &bundle]);
    assert!(text.contains("status Invalid"), "{text}");
    let thumb = text.lines().next().unwrap().trim();
    let view = other.view(thumb);
    assert_eq!(view["status"], "Invalid", "{view}");
    assert!(
        view["warnings"].to_string().contains("does not verify"),
        "{view}"
    );
}

#[test]
fn one_answer_for_two_requests_completes_both_in_one_change() {
    let env = Env::new();
    env.openssl_ca();
    env.ok(&["trust", "add", &env.p("testroot.pem")]);
    let a = env.request(&["a.contoso.com"], "a.csr");
    let b = env.request(&["b.contoso.com"], "b.csr");
    env.openssl_sign("a.csr", "DNS:a.contoso.com", "a.pem");
    env.openssl_sign("b.csr", "DNS:b.contoso.com", "b.pem");
    let bundle = concat(
        &env,
        &["testint.pem", "a.pem", "testroot.pem", "b.pem"],
        "both.pem",
    );
    let log_before = env.json(&["log", "--json"]).as_array().unwrap().len();

    let json = env.json(&["complete", &bundle, "--json"]);
    let thumbs: Vec<String> = json["thumbprints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    assert_eq!(thumbs.len(), 2, "{json}");
    assert_eq!(json["thumbprint"], thumbs[0].as_str());
    assert!(
        json["messages"]
            .to_string()
            .contains("all were completed together"),
        "{json}"
    );
    for (thumb, name, request) in [
        (&thumbs[0], "a.contoso.com", &a),
        (&thumbs[1], "b.contoso.com", &b),
    ] {
        let view = env.view(thumb);
        assert_eq!(view["names"], serde_json::json!([name]), "{view}");
        assert_eq!(view["status"], "Valid", "{view}");
        assert_exported_chain_verifies(&env, thumb);
        std::fs::remove_file(env.path("exported.pem")).unwrap();
        let gone = env.run(&["show", request]);
        assert_eq!(
            gone.status.code(),
            Some(2),
            "pending request {request} is gone"
        );
    }
    let log = env.json(&["log", "--json"]);
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), log_before + 1, "one change for both");
    assert_eq!(log.last().unwrap()["action"], "complete");
}
