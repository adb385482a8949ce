//! `enable` and `replace` pre-flight: a self-signed or untrusted
//! certificate taking the place of one clients trust is a problem
//! (refused with --strict, warned without), and so is every name the
//! trusted one served that the new one lacks — with no `hostname` set
//! anywhere. OpenSSL is the CA; curl is the client that must keep working.

use mailcert_testkit::Cli;

use crate::cli;
use mailcert_testkit::{free_port, run, Pki};

const MAIL: &str = "mail.contoso.com";
const AUTODISCOVER: &str = "autodiscover.contoso.com";

/// A certificate from the OpenSSL CA for `names`, completed in the store.
fn ca_issued(env: &Cli, pki: &Pki, label: &str, names: &[&str]) -> String {
    let csr = env.path(&format!("{label}.csr"));
    let mut args = vec!["request".to_string()];
    for n in names {
        args.push("--name".into());
        args.push(n.to_string());
    }
    args.push("--out".into());
    args.push(csr.display().to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    env.run(&args).ok();
    let signed = env.path(&format!("{label}.pem"));
    pki.sign(&csr, names, &signed);
    let mut answer = std::fs::read_to_string(&signed).unwrap();
    answer.push_str(&std::fs::read_to_string(&pki.intermediate).unwrap());
    let answer = env.write(&format!("{label}-answer.pem"), answer);
    env.run(&["complete", &answer.display().to_string()])
        .ok()
        .stdout
        .trim()
        .to_string()
}

fn which(env: &Cli, service: &str) -> String {
    env.run(&["which", service, "--json"]).ok().json()["thumbprint"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// curl to the HTTPS listener as `name`, trusting only the test root.
fn curl_ok(port: u16, name: &str, root: &str) -> bool {
    let resolve = format!("{name}:{port}:127.0.0.1");
    let url = format!("https://{name}:{port}/");
    let out = run(
        "curl",
        &[
            "--silent",
            "--show-error",
            "--output",
            "/dev/null",
            "--cacert",
            root,
            "--resolve",
            &resolve,
            &url,
        ],
        b"",
    );
    // The backend is absent: what counts is that TLS and the name check
    // passed. curl says otherwise with 35 (handshake), 51 or 60
    // (certificate not trusted, or not for that name).
    !matches!(out.status.code(), Some(35 | 51 | 60) | None)
}

#[test]
fn a_self_signed_or_narrower_certificate_never_silently_replaces_a_trusted_one() {
    let env = cli();
    env.init("mail.contoso.com");
    let pki = Pki::new(&env.path("pki"));
    let root = pki.root.display().to_string();
    env.run(&["trust", "add", &root]).ok();
    let trusted = ca_issued(&env, &pki, "trusted", &[MAIL, AUTODISCOVER]);
    env.run(&["enable", &trusted, "--services", "https,imap"])
        .ok();
    assert_eq!(which(&env, "https"), trusted);

    // The front end serves it; curl trusts it under both names.
    let port = free_port();
    let config = env.write(
        "serve.toml",
        format!("[[listener]]\nname = \"https\"\nprotocol = \"https\"\ntls = \"implicit\"\nbind = \"127.0.0.1:{port}\"\nbackend = \"127.0.0.1:1\"\n"),
    );
    let cfg = config.display().to_string();
    let _serve = env.serve(&["--config", &cfg]);
    assert!(curl_ok(port, MAIL, &root) && curl_ok(port, AUTODISCOVER, &root));

    // Self-signed, another name, for the service: HTTPS chooses by SNI,
    // so it is added beside the trusted one, which keeps its names and
    // stays the default. Nothing is taken away: --strict has nothing to say.
    let wrong = env.new_self_signed(&["--name", "other.contoso.com"]);
    env.run(&["enable", &wrong, "--services", "https", "--strict"])
        .ok();
    assert_eq!(which(&env, "https"), trusted);
    env.run(&["disable", &wrong, "--services", "https"]).ok();

    // For the listener itself, whose own bindings hide the service's: it
    // would take every name. Refused with --strict, for both reasons, with
    // no hostname configured anywhere; nothing changes.
    let before = env.snapshot();
    let on_listener = [
        "--services",
        "https",
        "--listener",
        "https",
        "--config",
        &cfg,
        "--strict",
    ];
    let mut args = vec!["enable", &wrong];
    args.extend_from_slice(&on_listener);
    let refused = env.run(&args).fails_with(2);
    for needle in [
        "[untrusted-replaces-trusted]",
        "self-signed",
        &format!("'{MAIL}'"),
        &format!("'{AUTODISCOVER}'"),
        "[name-mismatch]",
    ] {
        assert!(
            refused.stderr.contains(needle),
            "{needle}: {}",
            refused.stderr
        );
    }
    assert_eq!(env.snapshot(), before);
    assert!(curl_ok(port, MAIL, &root), "still the trusted certificate");

    // Self-signed with the right names: it replaces the trusted one (it
    // carries all its names), so trust is still a problem.
    let same_names = env.new_self_signed(&["--name", MAIL, "--name", AUTODISCOVER]);
    let before = env.snapshot();
    let refused = env
        .run(&["enable", &same_names, "--services", "https", "--strict"])
        .fails_with(2);
    assert!(
        refused.stderr.contains("[untrusted-replaces-trusted]")
            && !refused.stderr.contains("[name-mismatch]"),
        "{}",
        refused.stderr
    );
    // And `replace` says the same.
    let refused = env
        .run(&["replace", &trusted, &same_names, "--strict"])
        .fails_with(2);
    assert!(
        refused.stderr.contains("[untrusted-replaces-trusted]"),
        "{}",
        refused.stderr
    );
    // replace moves every binding whatever the names: a narrower one loses
    // the names the trusted one served.
    let refused = env
        .run(&["replace", &trusted, &wrong, "--strict"])
        .fails_with(2);
    assert!(
        refused.stderr.contains(&format!("'{AUTODISCOVER}'"))
            && refused.stderr.contains("[name-mismatch]"),
        "{}",
        refused.stderr
    );
    assert_eq!(env.snapshot(), before);

    // Trusted, but without autodiscover, for the listener: that name is
    // lost, and only that one (the test CA's certificates live 20 days,
    // so expiring-soon is said too).
    let narrower = ca_issued(&env, &pki, "narrower", &[MAIL]);
    let before = env.snapshot();
    let mut args = vec!["enable", &narrower];
    args.extend_from_slice(&on_listener);
    let refused = env.run(&args).fails_with(2);
    assert!(
        refused.stderr.contains(&format!("'{AUTODISCOVER}'"))
            && refused.stderr.contains("[name-mismatch]")
            && !refused.stderr.contains(&format!("'{MAIL}'"))
            && !refused.stderr.contains("untrusted-replaces-trusted"),
        "{}",
        refused.stderr
    );
    assert_eq!(env.snapshot(), before);

    // On a mail service the trusted certificate stays the default and
    // keeps its names (SNI): adding a self-signed one takes nothing away.
    env.run(&["enable", &same_names, "--services", "imap", "--strict"])
        .ok();
    assert_eq!(which(&env, "imap"), trusted);

    // Without --strict: done, with the same warnings, and clients see it.
    let mut args = vec!["enable", &wrong];
    args.extend_from_slice(&on_listener[..6]);
    let done = env.run(&args).ok();
    assert!(
        done.stderr.contains("warning:") && done.stderr.contains("which they trust"),
        "{}",
        done.stderr
    );
    mailcert_testkit::wait_until(
        "the front end serves the new binding",
        std::time::Duration::from_secs(20),
        || !curl_ok(port, MAIL, &root),
    );
    // Giving the listener the trusted one back takes nothing away.
    let mut args = vec!["enable", &trusted];
    args.extend_from_slice(&on_listener[..6]);
    let back = env.run(&args).ok();
    assert!(
        !back.stderr.contains("which they trust") && !back.stderr.contains("does not match"),
        "{}",
        back.stderr
    );
    mailcert_testkit::wait_until(
        "the front end serves the trusted certificate again",
        std::time::Duration::from_secs(20),
        || curl_ok(port, MAIL, &root),
    );
}
