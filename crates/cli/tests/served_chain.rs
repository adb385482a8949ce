//! A CA's answer often carries its root. The root is never stored in the
//! chain and never sent: OpenSSL as the CA and as the client, and
//! `check` on the port, see the certificate and its intermediate only.

use crate::cli;
use mailcert_testkit::{free_port, listener_toml, openssl_view, pem_blocks, served_chain, Pki};

const NAME: &str = "mail.contoso.com";

fn listener(port: u16) -> String {
    let hostname = format!("hostname = \"{NAME}\"\n");
    listener_toml("imaps", "imap", "implicit", port, 1, &hostname)
}

#[test]
fn an_answer_with_the_root_is_stored_and_served_without_it() {
    let env = cli();
    let init = env.init("mail.contoso.com");
    let text = env.run(&["show", &init]).ok().stdout;
    assert!(
        text.lines()
            .any(|l| l == "Chain          - (self-signed: nothing is sent after it)"),
        "{text}"
    );
    let pki = Pki::new(&env.path("pki"));
    let root = pki.root.display().to_string();
    env.run(&["trust", "add", &root]).ok();
    let csr = env.path("req.csr");
    env.run(&[
        "request",
        "--name",
        NAME,
        "--out",
        &csr.display().to_string(),
    ])
    .ok();
    let signed = env.path("signed.pem");
    pki.sign(&csr, &[NAME], &signed);
    // The bundle as many CAs send it: certificate, intermediate, root.
    let mut bundle = std::fs::read_to_string(&signed).unwrap();
    bundle.push_str(&std::fs::read_to_string(&pki.intermediate).unwrap());
    bundle.push_str(&std::fs::read_to_string(&pki.root).unwrap());
    let bundle = env.write("bundle.pem", bundle);
    let completed = env.run(&["complete", &bundle.display().to_string()]).ok();
    let thumb = completed.stdout.trim().to_string();
    assert!(
        completed.stderr.contains("a chain of 1 certificate"),
        "{}",
        completed.stderr
    );
    let intermediate = openssl_view(&std::fs::read_to_string(&pki.intermediate).unwrap());
    let shown = env.show(&thumb);
    assert_eq!(shown["status"], "Valid", "{shown}");
    assert_eq!(shown["chain"], serde_json::json!([intermediate.thumbprint]));
    let exported = env.run(&["show", &thumb, "--pem"]).ok().stdout;
    assert_eq!(pem_blocks(&exported).len(), 2, "{exported}");
    // Read by a person: subjects, the root named as where it ends.
    let text = env.run(&["show", &thumb]).ok().stdout;
    let chain: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("Chain "))
        .take(2)
        .collect();
    assert_eq!(
        chain,
        [
            format!(
                "Chain          CN=mailcert test intermediate  (until {}, {})",
                intermediate_until(&pki),
                intermediate.thumbprint
            ),
            "               issued by CN=mailcert test root (not sent: clients must already have it)"
                .to_string()
        ],
        "{text}"
    );

    env.run(&["enable", &thumb, "--services", "imap"]).ok();
    let port = free_port();
    let config = env.write("serve.toml", listener(port));
    let cfg = config.display().to_string();
    let sent = {
        let _serve = env.serve(&["--config", &cfg]);
        let sent = served_chain(port, NAME, None);
        let check = env
            .run(&[
                "check",
                &format!("imaps://{NAME}"),
                "--connect",
                &format!("127.0.0.1:{port}"),
                "--ca-file",
                &root,
                "--no-system-roots",
                "--no-legacy-probe",
                "--json",
            ])
            .ok()
            .json();
        let codes: Vec<&str> = check["endpoints"][0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["code"].as_str().unwrap())
            .collect();
        // The test PKI's certificates live 20 days: expiring-soon is
        // theirs; anything else (unneeded-root above all) is a fault.
        assert_eq!(codes, ["expiring-soon"], "{check:#}");
        sent
    };
    let views: Vec<_> = sent.iter().map(|pem| openssl_view(pem)).collect();
    assert_eq!(views.len(), 2, "{views:#?}");
    assert_eq!(views[0].thumbprint, thumb);
    assert_eq!(views[1], intermediate);

    // A store where a chain still links the root (written by hand, or by a
    // version before this rule that was never opened since): the front
    // end still never sends a self-signed certificate after the leaf.
    let root_der = std::process::Command::new("openssl")
        .args(["x509", "-in", &root, "-outform", "DER"])
        .output()
        .expect("openssl")
        .stdout;
    let root_thumb = openssl_view(&std::fs::read_to_string(&pki.root).unwrap()).thumbprint;
    let hex: String = root_der.iter().map(|b| format!("{b:02X}")).collect();
    mailcert_testkit::python(
        "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()",
        &[
            &env.store().display().to_string(),
            &format!(
                "INSERT INTO chain_certs (thumbprint, der) VALUES ('{root_thumb}', X'{hex}'); UPDATE certificates SET chain = chain || ',{root_thumb}' WHERE thumbprint = '{thumb}';"
            ),
        ],
    );
    assert_eq!(
        env.show(&thumb)["chain"].as_array().map(Vec::len),
        Some(2),
        "the root is linked again"
    );
    let _serve = env.serve(&["--config", &cfg]);
    let sent = served_chain(port, NAME, None);
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert_eq!(openssl_view(&sent[1]), intermediate);
}

/// The intermediate's notAfter as mailcert writes times, from OpenSSL.
fn intermediate_until(pki: &Pki) -> String {
    let out = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-enddate", "-dateopt", "iso_8601", "-in"])
        .arg(&pki.intermediate)
        .output()
        .expect("openssl");
    let text = String::from_utf8_lossy(&out.stdout);
    // "notAfter=2026-12-27 06:51:02Z" -> "2026-12-27T06:51:02Z"
    text.trim()
        .trim_start_matches("notAfter=")
        .replacen(' ', "T", 1)
}
