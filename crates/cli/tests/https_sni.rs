//! HTTPS certificates chosen by SNI, like the mail services: `enable`
//! replaces only the certificates whose names the new one all carries and
//! adds the others beside it; a listener's own bindings are never silent
//! (`list`, `which`, `enable`); and what `which` says is what curl,
//! `openssl s_client` and `check --store` get from a running `serve`.

use std::path::Path;

use mailcert_testkit::Cli;

use crate::cli;
use mailcert_testkit::{
    free_port, listener_toml, openssl_view, run, served_chain, Curl, HttpBackend, Pki,
};

const MAIL: &str = "mail.example.test";
const WWW: &str = "www.example.org";

fn https_listener(name: &str, port: u16, backend: u16) -> String {
    listener_toml(name, "https", "implicit", port, backend, "")
}

fn which(env: &Cli, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["which", "https", "--json"];
    all.extend_from_slice(args);
    env.run(&all).ok().json()
}

#[test]
fn enable_for_https_replaces_the_names_it_covers_and_adds_the_others_beside() {
    let env = cli();
    // The init certificate carries mail.contoso.com and the short name.
    let init = env.init("mail.contoso.com");

    // Other names: added beside, each name keeps its certificate.
    let web = env.new_self_signed(&["--name", "www.fabrikam.com"]);
    let added = env.run(&["enable", &web, "--services", "https"]).ok();
    assert!(
        added.stderr.contains(&format!(
            "{web} is added beside {init}, which keeps serving mail, mail.contoso.com"
        )),
        "{}",
        added.stderr
    );
    assert!(!added.stderr.contains("replaces"), "{}", added.stderr);
    assert_eq!(env.services(&init), ["https", "imap", "pop", "smtp"]);
    assert_eq!(
        which(&env, &["--name", "www.fabrikam.com"])["thumbprint"],
        web.as_str()
    );
    assert_eq!(
        which(&env, &["--name", "mail.contoso.com"])["thumbprint"],
        init.as_str()
    );

    // Part of the names: those move, the old one keeps the rest.
    let part = env.new_self_signed(&["--name", "mail.contoso.com", "--name", "owa.contoso.com"]);
    let moved = env.run(&["enable", &part, "--services", "https"]).ok();
    assert!(
        moved.stderr.contains(&format!(
            "https: clients asking for mail.contoso.com now get {part} instead of {init}"
        )),
        "{}",
        moved.stderr
    );
    assert!(
        moved.stderr.contains(&format!(
            "https: clients asking for owa.contoso.com now get {part} (no certificate here carried that name)"
        )),
        "{}",
        moved.stderr
    );
    assert!(
        moved.stderr.contains(&format!(
            "is added beside {init}, which keeps serving mail (a name"
        )),
        "{}",
        moved.stderr
    );
    assert!(env.services(&init).contains(&"https".to_string()));

    // Every name of the init and of the partial certificate, by a
    // wildcard for the contoso names: both are replaced, fabrikam stays.
    let wide = env.new_self_signed(&["--name", "*.contoso.com", "--name", "mail"]);
    let replaced = env.run(&["enable", &wide, "--services", "https"]).ok();
    for old in [&init, &part] {
        assert!(
            replaced
                .stderr
                .contains(&format!("https: {wide} replaces {old}")),
            "{}",
            replaced.stderr
        );
        assert!(!env.services(old).contains(&"https".to_string()));
    }
    assert!(
        replaced.stderr.contains(&format!(
            "https: clients asking for mail.contoso.com, owa.contoso.com now get {wide} instead of {part}"
        )),
        "the names that moved are named: {}",
        replaced.stderr
    );
    assert_eq!(env.services(&web), ["https"]);
    assert_eq!(
        which(&env, &["--name", "owa.contoso.com"])["selection"]["rule"],
        "wildcard"
    );
    // Clients without SNI: one default, by the rule the mail services use.
    let default = which(&env, &[]);
    assert_eq!(default["selection"]["rule"], "no-sni");
    assert_eq!(default["thumbprint"], wide.as_str());
    assert!(
        replaced
            .stderr
            .contains("https: clients without SNI now get this certificate"),
        "{}",
        replaced.stderr
    );
}

#[test]
fn a_listener_binding_hiding_the_service_binding_is_said() {
    let env = cli();
    let init = env.init("mail.contoso.com");
    let config = env.write("fe.toml", https_listener("web2", free_port(), 1));
    let cfg = config.display().to_string();
    let own = env.new_self_signed(&["--name", "www.fabrikam.com"]);
    // Nothing bound to a listener by name yet: no note below the table.
    let before = env.run(&["list"]).ok().stdout;
    assert!(
        before.contains(&init) && !before.contains("Bound to listeners by name"),
        "{before}"
    );
    let enabled = env
        .run(&[
            "enable",
            &own,
            "--services",
            "https",
            "--listener",
            "web2",
            "--config",
            &cfg,
        ])
        .ok();
    assert!(
        enabled.stderr.contains(&format!(
            "https on listener web2: this listener now serves only the certificates bound to it alone; {init} (bound to https for every listener) is no longer served there"
        )),
        "{}",
        enabled.stderr
    );

    // list: the JSON names the listener, every earlier field is kept; the
    // text marks the listener-only binding and names what it hides.
    let listed = env.list();
    let own_view = listed
        .iter()
        .find(|c| c["thumbprint"] == own.as_str())
        .expect("listed");
    assert_eq!(own_view["listeners"], serde_json::json!(["web2"]));
    assert_eq!(own_view["services"], serde_json::json!(["https"]));
    assert_eq!(
        own_view["bindings"],
        serde_json::json!([{"service": "https", "listener": "web2", "node": null}])
    );
    let init_view = listed
        .iter()
        .find(|c| c["thumbprint"] == init.as_str())
        .expect("listed");
    assert_eq!(init_view["listeners"], serde_json::json!([]));
    let text = env.run(&["list"]).ok().stdout;
    let column = |thumb: &str| {
        text.lines()
            .find(|l| l.starts_with(thumb))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or_else(|| panic!("{thumb} not listed:\n{text}"))
            .to_string()
    };
    assert_eq!(column(&own), "..w.", "{text}");
    assert_eq!(column(&init), "IPWS", "{text}");
    assert!(
        text.contains(&format!(
            "https on listener web2: {own} (not {init}, bound to https for every listener)"
        )),
        "{text}"
    );

    // which: on the listener, the hidden certificate is named even for
    // its own name; without the listener, the listener is pointed at.
    let on_listener = which(
        &env,
        &[
            "--listener",
            "web2",
            "--name",
            "mail.contoso.com",
            "--config",
            &cfg,
        ],
    );
    assert_eq!(on_listener["thumbprint"], own.as_str());
    assert_eq!(on_listener["selection"]["rule"], "no-match");
    assert_eq!(on_listener["hidden_by_listener"], serde_json::json!([init]));
    let text = env
        .run(&[
            "which",
            "https",
            "--listener",
            "web2",
            "--name",
            "mail.contoso.com",
            "--config",
            &cfg,
        ])
        .ok()
        .stdout;
    assert!(
        text.contains(&format!("so it never serves {init}")),
        "{text}"
    );
    let elsewhere = which(&env, &["--name", "mail.contoso.com", "--config", &cfg]);
    assert_eq!(elsewhere["thumbprint"], init.as_str());
    assert_eq!(elsewhere["listeners_with_own"], serde_json::json!(["web2"]));

    // Enabling for the whole service says the listener keeps it away.
    let other = env.new_self_signed(&["--name", "autodiscover.contoso.com"]);
    let wide = env.run(&["enable", &other, "--services", "https"]).ok();
    assert!(
        wide.stderr.contains(&format!(
            "https: listener 'web2' has certificates bound to it alone ({own}), so it serves those and not {other}"
        )),
        "{}",
        wide.stderr
    );
}

/// A leaf of the throwaway PKI imported with its chain; its thumbprint.
fn import(env: &Cli, pki: &Pki, label: &str, names: &[&str]) -> String {
    env.import_leaf(&pki.leaf(label, names, "ec"))
}

/// curl to `name` on the listener, validating against `root`: the body,
/// or the error curl gives.
fn curl(env: &Cli, port: u16, name: &str, root: &Path) -> Result<String, String> {
    Curl::new(name, port, root, env.dir())
        .try_request("GET", "/", &[], None)
        .map(|reply| reply.text())
}

/// The thumbprint of the certificate `openssl s_client` gets with no SNI.
fn served_without_sni(port: u16) -> String {
    let address = format!("127.0.0.1:{port}");
    let out = run(
        "openssl",
        &["s_client", "-connect", &address, "-noservername"],
        b"",
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let pem = mailcert_testkit::pem_blocks(&text)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no certificate without SNI:\n{text}"));
    openssl_view(&pem).thumbprint
}

#[test]
fn two_https_names_on_one_listener_each_get_their_certificate() {
    let env = cli();
    env.run(&["init", "--hostname", MAIL]).ok();
    let pki = Pki::new(&env.path("pki"));
    env.run(&["trust", "add", &pki.root.display().to_string()])
        .ok();
    // The mail name (and the init certificate's short name): replaces the
    // init certificate; the web name: beside it.
    let mail = import(&env, &pki, "mail", &[MAIL, "mail"]);
    let www = import(&env, &pki, "www", &[WWW]);
    let first = env.run(&["enable", &mail, "--services", "https"]).ok();
    assert!(first.stderr.contains("replaces"), "{}", first.stderr);
    let second = env.run(&["enable", &www, "--services", "https"]).ok();
    assert!(
        second
            .stderr
            .contains(&format!("{www} is added beside {mail}")),
        "{}",
        second.stderr
    );

    let backend = HttpBackend::start();
    let port = free_port();
    let config = env.write("fe.toml", https_listener("web", port, backend.port));
    let cfg = config.display().to_string();
    let _serve = env.serve(&["--config", &cfg]);

    for (name, thumb) in [(MAIL, &mail), (WWW, &www)] {
        // curl validates the name: neither certificate carries the other.
        let body = curl(&env, port, name, &pki.root)
            .unwrap_or_else(|e| panic!("curl https://{name}: {e}"));
        assert!(body.contains("hello from the backend"), "{body}");
        let served = openssl_view(&served_chain(port, name, None)[0]).thumbprint;
        assert_eq!(&served, thumb, "openssl s_client -servername {name}");
        let said = which(
            &env,
            &["--name", name, "--listener", "web", "--config", &cfg],
        );
        assert_eq!(
            said["thumbprint"],
            served.as_str(),
            "which agrees for {name}"
        );
        assert_eq!(said["selection"]["rule"], "exact-name");
        // check, with the store, finds the port serving what it should.
        let check = env.run(&[
            "check",
            &format!("https://{name}"),
            "--connect",
            &format!("127.0.0.1:{port}"),
            "--ca-file",
            &pki.root.display().to_string(),
            "--no-system-roots",
            "--no-legacy-probe",
            "--config",
            &cfg,
            "--json",
        ]);
        assert_eq!(check.code, 0, "{}", check.stdout);
        assert_eq!(
            check.json()["endpoints"][0]["chain"][0]["thumbprint"],
            thumb.as_str()
        );
    }
    // A name neither carries: the listener's default, which curl refuses.
    let unknown =
        curl(&env, port, "other.example.net", &pki.root).expect_err("no certificate names it");
    assert!(
        unknown.contains("other.example.net") || unknown.contains("SSL"),
        "{unknown}"
    );

    // No SNI: the one default of the listener, as `which` says.
    let default = which(&env, &["--listener", "web", "--config", &cfg]);
    assert_eq!(default["selection"]["rule"], "no-sni");
    assert_eq!(
        default["thumbprint"],
        served_without_sni(port).as_str(),
        "which and serve agree on the default"
    );

    // A certificate for the mail name alone bound to the listener now
    // hides both service bindings there, for every client.
    let own = import(&env, &pki, "own", &[MAIL]);
    env.run(&[
        "enable",
        &own,
        "--services",
        "https",
        "--listener",
        "web",
        "--config",
        &cfg,
    ])
    .ok();
    mailcert_testkit::wait_until(
        "serve picks up the listener binding",
        std::time::Duration::from_secs(20),
        || openssl_view(&served_chain(port, WWW, None)[0]).thumbprint == own,
    );
    assert_eq!(
        which(
            &env,
            &["--name", WWW, "--listener", "web", "--config", &cfg]
        )["thumbprint"],
        own.as_str()
    );
    assert!(
        curl(&env, port, WWW, &pki.root).is_err(),
        "www now gets the mail certificate"
    );
}
