//! Every kind of renewal of a certificate that serves SMTP takes DANE's
//! next key (whose record is already published) and leaves a fresh next
//! key for the new certificate: an ACME order at pebble, the private CA
//! answering a request, and `renew --reuse-key` still keeping the key.

use mailcert_testkit::{Cli, Pebble, PebbleOptions};

use crate::dane::{records, MX};

/// The current key's record and the next key's (if any) of `thumb`, at
/// `_25._tcp.MX.`.
fn keys_of(env: &Cli, thumb: &str) -> (String, Option<String>) {
    let owner = format!("_25._tcp.{MX}.");
    let listed = records(env, 25, &[thumb]);
    let of = |role: &str| {
        listed
            .iter()
            .find(|(name, _, key)| name == &owner && key == role)
            .map(|(_, rdata, _)| rdata.clone())
    };
    (of("current").expect("a current record"), of("next"))
}

#[test]
fn an_acme_renewal_certifies_the_next_key() {
    let pebble = Pebble::start(PebbleOptions {
        validity_secs: Some(600),
        ..PebbleOptions::default()
    });
    let env = crate::cli();
    env.init(MX);
    crate::acme::register_at(&env, &pebble, &["--email", "admin@example.test"]);
    let http = pebble.http_bind();
    let ordered = env
        .ok(&[
            "acme",
            "order",
            "--name",
            MX,
            "--http-bind",
            &http,
            "--enable",
            "smtp",
            "--json",
        ])
        .json();
    let old = ordered["thumbprint"]
        .as_str()
        .expect("thumbprint")
        .to_string();
    env.ok(&["dane", "enable"]);
    let (_, next) = keys_of(&env, &old);
    let next = next.expect("dane enable made a next key");

    let shown = env.show(&old);
    let at = mailcert_x509::time::parse_at(shown["not_before"].as_str().expect("not_before"))
        .expect("a time")
        + time::Duration::seconds(450);
    let renewed = env
        .ok(&[
            "acme",
            "renew",
            "--at",
            &mailcert_x509::time::rfc3339(at),
            "--json",
        ])
        .json();
    assert_eq!(renewed[0]["result"], "renewed", "{renewed}");
    let new = renewed[0]["new_thumbprint"]
        .as_str()
        .expect("new")
        .to_string();
    let (current, new_next) = keys_of(&env, &new);
    assert_eq!(current, next, "the CA certified the published next key");
    let new_next = new_next.expect("the renewed certificate has a next key");
    assert_ne!(new_next, next);
    assert_eq!(
        keys_of(&env, &old).1,
        None,
        "the old certificate's next key is retired"
    );
}

#[test]
fn a_request_answered_by_the_private_ca_certifies_the_next_key() {
    let env = crate::cli();
    env.init(MX);
    env.ok(&["ca", "init"]);
    env.ok(&["request", "--name", MX, "--out", &env.p("first.csr")]);
    env.ok(&[
        "ca",
        "sign",
        &env.p("first.csr"),
        "--out",
        &env.p("first.pem"),
    ]);
    let first = env.ok(&["complete", &env.p("first.pem")]).first_line();
    env.ok(&["enable", &first, "--services", "smtp"]);
    env.ok(&["dane", "enable"]);
    let (first_current, next) = keys_of(&env, &first);
    let next = next.expect("dane enable made a next key");

    // While the CA has not answered, and until the answer serves SMTP,
    // the requested key stays the next one: its record must stay.
    env.ok(&["renew", &first, "--out", &env.p("renew.csr")]);
    assert_eq!(
        keys_of(&env, &first),
        (first_current.clone(), Some(next.clone()))
    );
    env.ok(&[
        "ca",
        "sign",
        &env.p("renew.csr"),
        "--out",
        &env.p("renew.pem"),
    ]);
    let renewed = env.ok(&["complete", &env.p("renew.pem")]).first_line();
    assert_eq!(keys_of(&env, &first).1.as_deref(), Some(next.as_str()));

    let said = env.ok(&["replace", &first, &renewed]).all();
    assert!(said.contains("DANE: made the next key"), "{said}");
    let (current, new_next) = keys_of(&env, &renewed);
    assert_eq!(current, next, "the request carried the published next key");
    let new_next = new_next.expect("the new certificate has a next key");
    assert_ne!(new_next, next);
    assert_eq!(
        keys_of(&env, &first).1,
        None,
        "the replaced certificate's next key is retired"
    );

    // --reuse-key keeps the current key and leaves the next one alone.
    env.ok(&[
        "renew",
        &renewed,
        "--reuse-key",
        "--out",
        &env.p("same.csr"),
    ]);
    assert_eq!(keys_of(&env, &renewed), (current, Some(new_next.clone())));
    env.ok(&[
        "ca",
        "sign",
        &env.p("same.csr"),
        "--out",
        &env.p("same.pem"),
    ]);
    let same = env.ok(&["complete", &env.p("same.pem")]).first_line();
    env.ok(&["replace", &renewed, &same]);
    assert_eq!(
        keys_of(&env, &same).1,
        Some(new_next),
        "a renewal that kept the key keeps the next key, whose record is published"
    );
}
