//! The secure-by-default lifecycle, judged from outside: the real binary,
//! a fresh store per test, OpenSSL reading what mailcert wrote.

use std::os::unix::fs::PermissionsExt;

use mailcert_testkit::{openssl, services_of};

use crate::cli;

fn names(cert: &serde_json::Value) -> Vec<String> {
    cert["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn init_creates_a_bound_self_signed_certificate_once() {
    let env = cli();
    let first = env.run(&["init", "--hostname", "ex1.contoso.com"]).ok();
    assert!(first.stderr.contains("created"), "{}", first.stderr);
    let list = env.list();
    assert_eq!(list.len(), 1);
    let cert = &list[0];
    assert_eq!(cert["subject"], "CN=ex1.contoso.com");
    assert_eq!(names(cert), ["ex1.contoso.com", "ex1"]);
    assert_eq!(services_of(cert), ["https", "imap", "pop", "smtp"]);
    assert_eq!(cert["status"], "Valid");
    assert_eq!(cert["is_self_signed"], true);
    assert_eq!(cert["has_private_key"], true);
    assert_eq!(cert["key_algorithm"], "ec-p256");
    assert_eq!(cert["key_size"], 256);
    assert_eq!(cert["signature_algorithm"], "ecdsa-with-SHA256");
    let days = cert["days_left"].as_i64().unwrap();
    assert!((1824..=1827).contains(&days), "5 years, got {days} days");
    assert!(cert["warnings"].to_string().contains("self-signed"));

    let before = env.snapshot();
    let again = env.run(&["init", "--hostname", "other.contoso.com"]).ok();
    assert!(
        again.stderr.contains("already initialised"),
        "{}",
        again.stderr
    );
    assert_eq!(env.snapshot(), before, "a second init must change nothing");

    for file in [env.store(), env.path("store.db.key")] {
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} must be 0600", file.display());
    }
}

#[test]
fn openssl_agrees_with_what_mailcert_wrote() {
    let env = cli();
    let thumb = env.init("mail.contoso.com");
    let pem = env.run(&["show", &thumb, "--pem"]).ok().stdout;
    let file = env.write("cert.pem", &pem);
    let file = file.to_str().unwrap();
    let text = openssl(env.dir(), &["x509", "-in", file, "-noout", "-text"]);
    assert!(text.contains("DNS:mail.contoso.com, DNS:mail"), "{text}");
    assert!(text.contains("TLS Web Server Authentication"), "{text}");
    assert!(
        text.contains("prime256v1") || text.contains("P-256"),
        "{text}"
    );
    let sha1 = openssl(
        env.dir(),
        &["x509", "-in", file, "-noout", "-fingerprint", "-sha1"],
    );
    assert_eq!(
        sha1.trim().rsplit('=').next().unwrap().replace(':', ""),
        thumb
    );
    let sha256 = openssl(
        env.dir(),
        &["x509", "-in", file, "-noout", "-fingerprint", "-sha256"],
    );
    assert_eq!(
        sha256.trim().rsplit('=').next().unwrap().replace(':', ""),
        env.show(&thumb)["sha256"]
    );
    // Self-signed and correctly so: OpenSSL verifies it against itself.
    let verified = openssl(env.dir(), &["verify", "-CAfile", file, file]);
    assert!(verified.contains("OK"), "{verified}");
}

#[test]
fn every_key_type_is_what_it_says() {
    let env = cli();
    env.init("mail.contoso.com");
    for (key, algo, bits) in [
        ("ec-p384", "ec-p384", 384),
        ("rsa-2048", "rsa-2048", 2048),
        ("rsa-3072", "rsa-3072", 3072),
        ("rsa-4096", "rsa-4096", 4096),
    ] {
        let thumb = env.new_self_signed(&["--name", &format!("{key}.contoso.com"), "--key", key]);
        let cert = env.show(&thumb);
        assert_eq!(cert["key_algorithm"], algo);
        assert_eq!(cert["key_size"], bits);
        let pem = env.run(&["show", &thumb, "--pem"]).ok().stdout;
        let file = env.write("k.pem", pem);
        let text = openssl(
            env.dir(),
            &["x509", "-in", file.to_str().unwrap(), "-noout", "-text"],
        );
        let expect = if key.starts_with("rsa") {
            format!("Public-Key: ({bits} bit)")
        } else {
            "384 bit".to_string()
        };
        assert!(text.contains(&expect), "{key}: {text}");
    }
    env.run(&[
        "new",
        "--self-signed",
        "--name",
        "x.contoso.com",
        "--key",
        "dsa-1024",
    ])
    .fails_with(2);
}

#[test]
fn names_are_validated_and_normalised() {
    let env = cli();
    env.init("mail.contoso.com");
    let thumb = env.new_self_signed(&[
        "--name",
        "Mail.Contoso.COM",
        "--name",
        "bücher.example",
        "--name",
        "*.contoso.com",
        "--name",
        "192.0.2.10",
        "--name",
        "2001:db8::5",
        "--days",
        "90",
        "--friendly-name",
        "test",
    ]);
    let cert = env.show(&thumb);
    assert_eq!(
        names(&cert),
        ["mail.contoso.com", "xn--bcher-kva.example", "*.contoso.com"]
    );
    assert_eq!(
        cert["ip_addresses"],
        serde_json::json!(["192.0.2.10", "2001:db8::5"])
    );
    let days = cert["days_left"].as_i64().unwrap();
    assert!(
        (89..=90).contains(&days),
        "90 days of validity, {days} left"
    );
    assert_eq!(cert["friendly_name"], "test");

    let before = env.snapshot();
    for bad in [
        "mail*.contoso.com",
        "a.*.contoso.com",
        "bad_label-.com",
        "two..dots.com",
        "*.com",
        "",
    ] {
        let run = env
            .run(&["new", "--self-signed", "--name", bad])
            .fails_with(2);
        assert!(
            run.stderr.contains("not a valid name") || run.stderr.contains("--name"),
            "{bad}: {}",
            run.stderr
        );
    }
    assert_eq!(
        env.snapshot(),
        before,
        "refused names must not change the store"
    );
}

#[test]
fn thumbprint_prefixes_select_or_list_candidates() {
    let env = cli();
    env.init("mail.contoso.com");
    let mut thumbs = vec![];
    for i in 0..17 {
        thumbs.push(env.new_self_signed(&["--name", &format!("n{i}.contoso.com")]));
    }
    // 18 certificates and 16 hex digits: two share a first digit.
    let all: Vec<String> = env
        .list()
        .iter()
        .map(|c| c["thumbprint"].as_str().unwrap().to_string())
        .collect();
    let shared = all
        .iter()
        .find(|t| all.iter().filter(|u| u[..1] == t[..1]).count() > 1)
        .unwrap();
    let run = env.run(&["show", &shared[..1]]).fails_with(2);
    assert!(run.stderr.contains("matches several"), "{}", run.stderr);
    let expected: Vec<&String> = all.iter().filter(|t| t[..1] == shared[..1]).collect();
    for candidate in expected {
        assert!(
            run.stderr.contains(candidate.as_str()),
            "candidate {candidate} not listed: {}",
            run.stderr
        );
    }
    // A unique prefix, in lower case with colons as Windows dialogs show it.
    let t = &thumbs[3];
    let unique = (4..40)
        .map(|n| &t[..n])
        .find(|p| all.iter().filter(|u| u.starts_with(p)).count() == 1)
        .unwrap();
    let typed: String = unique.to_lowercase();
    assert_eq!(env.show(&typed)["thumbprint"], t.as_str());
    env.run(&["show", "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF0"])
        .fails_with(2);
    let bad = env.run(&["show", "not-hex"]).fails_with(2);
    assert!(bad.stderr.contains("not a thumbprint"), "{}", bad.stderr);
}

#[test]
fn enable_follows_exchange_rules() {
    let env = cli();
    let default = env.init("mail.contoso.com");
    // Every name of the init certificate (the FQDN and the short name),
    // and one more: for HTTPS it takes the init certificate's place.
    let newer = env.new_self_signed(&[
        "--name",
        "mail.contoso.com",
        "--name",
        "mail",
        "--name",
        "autodiscover.contoso.com",
    ]);

    let https = env.run(&["enable", &newer[..10], "--services", "IIS"]).ok();
    assert!(
        https.stderr.contains(&format!("replaces {default}")),
        "{}",
        https.stderr
    );
    assert!(
        https.stderr.contains(&format!(
            "https: clients asking for mail, mail.contoso.com now get {newer} instead of {default}"
        )),
        "the names that moved are named: {}",
        https.stderr
    );
    assert_eq!(services_of(&env.show(&newer)), ["https"]);
    assert_eq!(services_of(&env.show(&default)), ["imap", "pop", "smtp"]);

    let smtp = env.run(&["enable", &newer, "--services", "smtp"]).ok();
    assert!(
        smtp.stderr
            .contains("smtp: clients without SNI now get this certificate"),
        "{}",
        smtp.stderr
    );
    assert!(
        services_of(&env.show(&default)).contains(&"smtp".to_string()),
        "the previous smtp certificate stays enabled"
    );

    let which = env.run(&["which", "smtp", "--json"]).ok().json();
    assert_eq!(which["thumbprint"], newer.as_str());
    assert_eq!(which["selection"]["rule"], "no-sni");
    let by_name = env
        .run(&["which", "smtp", "--name", "mail.contoso.com", "--json"])
        .ok()
        .json();
    assert_eq!(by_name["selection"]["rule"], "exact-name");
    let other = env
        .run(&["which", "imap", "--name", "unknown.example", "--json"])
        .ok()
        .json();
    assert_eq!(other["selection"]["rule"], "no-match");
    assert_eq!(other["thumbprint"], default.as_str());

    let again = env.run(&["enable", &newer, "--services", "smtp"]).ok();
    assert!(again.stderr.contains("already enabled"), "{}", again.stderr);

    // The Services column reads as in Get-ExchangeCertificate:
    // I = IMAP, P = POP, W = IIS (https), S = SMTP.
    let table = env.run(&["list"]).ok().stdout;
    let row = |thumb: &str| {
        table
            .lines()
            .find(|l| l.starts_with(thumb))
            .unwrap_or_else(|| panic!("{thumb} not listed:\n{table}"))
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string()
    };
    assert_eq!(row(&newer), "..WS", "{table}");
    assert_eq!(row(&default), "IP.S", "{table}");

    let before = env.snapshot();
    let unknown = env
        .run(&["enable", &newer, "--services", "ftp"])
        .fails_with(2);
    assert!(
        unknown.stderr.contains("unknown service 'ftp'"),
        "{}",
        unknown.stderr
    );
    env.run(&["enable", "ABCDEF0123", "--services", "smtp"])
        .fails_with(2);
    assert_eq!(env.snapshot(), before);
}

#[test]
fn enable_preflight_warns_and_strict_refuses() {
    let env = cli();
    env.init("mail.contoso.com");
    let config = env.write(
        "mailcert.toml",
        "[[listener]]\nname = \"smtp\"\nprotocol = \"smtp\"\ntls = \"starttls\"\nbind = \"127.0.0.1:2525\"\nbackend = \"127.0.0.1:10025\"\nhostname = \"smtp.contoso.com\"\n",
    );
    let cfg = config.to_str().unwrap();
    let weak = env.new_self_signed(&["--name", "mail.contoso.com", "--days", "10"]);
    let warned = env
        .run(&["enable", &weak, "--services", "smtp", "--config", cfg])
        .ok();
    assert!(
        warned.stderr.contains("'smtp.contoso.com'"),
        "{}",
        warned.stderr
    );
    assert!(warned.stderr.contains("expires in"), "{}", warned.stderr);

    let strict_cert = env.new_self_signed(&["--name", "mail.contoso.com", "--days", "10"]);
    let before = env.snapshot();
    let refused = env
        .run(&[
            "enable",
            &strict_cert,
            "--services",
            "smtp",
            "--config",
            cfg,
            "--strict",
        ])
        .fails_with(2);
    assert!(
        refused.stderr.contains("name-mismatch") && refused.stderr.contains("expiring-soon"),
        "{}",
        refused.stderr
    );
    assert_eq!(env.snapshot(), before);

    let good = env.new_self_signed(&["--name", "smtp.contoso.com"]);
    let clean = env
        .run(&[
            "enable",
            &good,
            "--services",
            "smtp",
            "--config",
            cfg,
            "--strict",
        ])
        .ok();
    assert!(!clean.stderr.contains("warning"), "{}", clean.stderr);
    let listener = env
        .run(&[
            "which",
            "smtp",
            "--listener",
            "smtp",
            "--config",
            cfg,
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(listener["thumbprint"], good.as_str());
}

#[test]
fn remove_refuses_bound_certificates_unless_forced() {
    let env = cli();
    let default = env.init("mail.contoso.com");
    let before = env.snapshot();
    let refused = env.run(&["remove", &default]).fails_with(2);
    assert!(
        refused.stderr.contains("https, imap, pop, smtp"),
        "{}",
        refused.stderr
    );
    assert_eq!(env.snapshot(), before);

    let spare = env.new_self_signed(&["--name", "spare.contoso.com"]);
    env.run(&["remove", &spare]).ok();
    assert!(env.list().iter().all(|c| c["thumbprint"] != spare.as_str()));

    let forced = env.run(&["remove", &default, "--force"]).ok();
    assert!(
        forced.stderr.contains("now has no certificate"),
        "{}",
        forced.stderr
    );
    assert!(env.list().is_empty());
    // Nothing bound is an answer, not a finding (exit 1 is for check,
    // verify and plan): said plainly, with the fix.
    let which = env.run(&["which", "imap"]).ok();
    assert!(
        which
            .stdout
            .contains("no certificate would be served for imap")
            && which.stdout.contains("fail the TLS handshake")
            && which
                .stdout
                .contains("mailcert enable THUMBPRINT --services imap"),
        "{}",
        which.stdout
    );
    let json = env.run(&["which", "imap", "--json"]).ok().json();
    assert!(json["thumbprint"].is_null(), "{json}");
    assert_eq!(json["selection"]["rule"], "nothing");
    assert!(json["fix"].as_str().unwrap().contains("mailcert enable"));
}

#[test]
fn disable_and_remove_say_what_happened_and_speak_json() {
    let env = cli();
    env.init("mail.contoso.com");
    let spare = env.new_self_signed(&["--name", "spare.contoso.com"]);
    let before = env.snapshot();
    let noop = env.run(&["disable", &spare, "--services", "imap"]).ok();
    assert!(
        noop.stderr
            .contains(&format!("{spare} was not bound to imap; nothing changed")),
        "{}",
        noop.stderr
    );
    let json = env
        .run(&["disable", &spare, "--services", "imap,pop", "--json"])
        .ok()
        .json();
    assert_eq!(json["changed"], false);
    assert_eq!(json["thumbprint"], spare.as_str());
    assert!(json["messages"][0].as_str().unwrap().contains("imap, pop"));
    assert_eq!(env.snapshot(), before, "a no-op changes nothing");

    env.run(&["enable", &spare, "--services", "imap"]).ok();
    let json = env
        .run(&["disable", &spare, "--services", "imap,pop", "--json"])
        .ok()
        .json();
    assert_eq!(json["changed"], true, "{json}");
    assert!(
        json["messages"].to_string().contains("not bound to pop"),
        "{json}"
    );

    let removed = env.run(&["remove", &spare]).ok();
    assert!(
        removed
            .stderr
            .contains(&format!("removed {spare} (CN=spare.contoso.com)")),
        "{}",
        removed.stderr
    );
    let other = env.new_self_signed(&["--name", "other.contoso.com"]);
    let json = env.run(&["remove", &other, "--json"]).ok().json();
    assert_eq!(json["changed"], true);
    assert_eq!(json["thumbprint"], other.as_str());
    assert!(env.list().iter().all(|c| c["thumbprint"] != other.as_str()));
}

#[test]
fn list_shows_is_self_signed_and_warns_about_bound_certificates_that_expire() {
    let env = cli();
    env.init("mail.contoso.com");
    let soon = env.new_self_signed(&["--name", "soon.contoso.com", "--days", "4"]);
    let idle = env.new_self_signed(&["--name", "idle.contoso.com", "--days", "4"]);
    env.run(&["enable", &soon, "--services", "https,smtp"]).ok();
    let list = env.run(&["list"]).ok();
    let header = list.stdout.lines().next().unwrap();
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        [
            "Thumbprint",
            "Services",
            "Subject",
            "Status",
            "NotAfter",
            "IsSelfSigned"
        ]
    );
    let row = list.stdout.lines().find(|l| l.starts_with(&soon)).unwrap();
    assert!(row.trim_end().ends_with("true"), "{row}");
    // Like Exchange's "thumbprint XXXXX is going to expire": thumbprint,
    // subject, services, days left; after the table, on stderr, plain
    // text when stderr is no terminal.
    // Made a moment ago for 4 days: 3 whole days left, or 4 within the second.
    let expected = format!(
        "warning: certificate {soon} (CN=soon.contoso.com) used by https, smtp expires in "
    );
    assert!(
        list.stderr.contains(&format!("{expected}3 days"))
            || list.stderr.contains(&format!("{expected}4 days")),
        "{}",
        list.stderr
    );
    assert!(!list.stderr.contains('\x1b'), "no colour in a pipe");
    assert!(!list.stderr.contains(&idle), "unbound: {}", list.stderr);
    assert!(!list.stdout.contains("warning"), "stdout stays data");
    let show = env.run(&["show", &soon[..8]]).ok();
    assert!(show.stderr.contains(&expected), "{}", show.stderr);
    let json = env.run(&["list", "--json"]).ok();
    assert!(json.stderr.is_empty(), "{}", json.stderr);
}

#[test]
fn enable_refuses_a_listener_it_cannot_check() {
    let env = cli();
    let thumb = env.init("mail.contoso.com");
    let before = env.snapshot();
    let refused = env
        .run(&[
            "enable",
            &thumb,
            "--services",
            "smtp",
            "--listener",
            "nosuch",
        ])
        .fails_with(2);
    assert!(
        refused
            .stderr
            .contains("no front-end configuration to check listener 'nosuch' against")
            && refused.stderr.contains("--config"),
        "{}",
        refused.stderr
    );
    let which = env
        .run(&["which", "smtp", "--listener", "nosuch"])
        .fails_with(2);
    assert!(
        which.stderr.contains("listener 'nosuch'"),
        "{}",
        which.stderr
    );
    let config = env.write(
        "mailcert.toml",
        "[[listener]]\nname = \"submission\"\nprotocol = \"smtp\"\ntls = \"starttls\"\nbind = \"127.0.0.1:2587\"\nbackend = \"127.0.0.1:10587\"\n",
    );
    let cfg = config.to_str().unwrap();
    let unknown = env
        .run(&[
            "enable",
            &thumb,
            "--services",
            "smtp",
            "--listener",
            "nosuch",
            "--config",
            cfg,
        ])
        .fails_with(2);
    assert!(
        unknown.stderr.contains("no listener named 'nosuch'")
            && unknown.stderr.contains("submission"),
        "{}",
        unknown.stderr
    );
    let wrong = env
        .run(&[
            "enable",
            &thumb,
            "--services",
            "https",
            "--listener",
            "submission",
            "--config",
            cfg,
        ])
        .fails_with(2);
    assert!(
        wrong.stderr.contains("serves smtp, not https"),
        "{}",
        wrong.stderr
    );
    // disable takes the same --config and checks the listener against it.
    let unknown = env
        .run(&[
            "disable",
            &thumb,
            "--services",
            "smtp",
            "--listener",
            "nosuch",
            "--config",
            cfg,
        ])
        .fails_with(2);
    assert!(
        unknown.stderr.contains("no listener named 'nosuch'"),
        "{}",
        unknown.stderr
    );
    assert_eq!(env.snapshot(), before);
    env.run(&[
        "enable",
        &thumb,
        "--services",
        "smtp",
        "--listener",
        "submission",
        "--config",
        cfg,
    ])
    .ok();
    let which = env
        .run(&[
            "which",
            "smtp",
            "--listener",
            "submission",
            "--config",
            cfg,
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(which["thumbprint"], thumb.as_str());
}

#[test]
fn renew_self_signed_moves_bindings_and_keeps_the_old_one() {
    let env = cli();
    let old = env.init("mail.contoso.com");
    env.run(&["disable", &old, "--services", "pop"]).ok();
    let renewed = env.run(&["renew", &old]).ok().stdout.trim().to_string();
    assert_ne!(renewed, old);
    let new_cert = env.show(&renewed);
    let old_cert = env.show(&old);
    assert_eq!(names(&new_cert), names(&old_cert));
    assert_eq!(new_cert["key_algorithm"], old_cert["key_algorithm"]);
    assert_eq!(services_of(&new_cert), ["https", "imap", "smtp"]);
    assert!(
        services_of(&old_cert).is_empty(),
        "old one stays listed, unbound"
    );
    let old_days = old_cert["days_left"].as_i64().unwrap();
    let new_days = new_cert["days_left"].as_i64().unwrap();
    assert!((new_days - old_days).abs() <= 1, "same validity length");
    let again = env.run(&["init"]).ok();
    assert!(
        again.stderr.contains(&renewed),
        "init follows the renewal: {}",
        again.stderr
    );
}

#[test]
fn audit_log_records_every_change_with_the_user() {
    let env = cli();
    let thumb = env.init("mail.contoso.com");
    let extra = env.new_self_signed(&["--name", "x.contoso.com"]);
    env.run(&["enable", &extra, "--services", "imap"]).ok();
    env.run(&["disable", &extra, "--services", "imap"]).ok();
    env.run(&["remove", &extra]).ok();
    env.run(&["renew", &thumb]).ok();
    let log = env.run(&["log", "--json"]).ok().json();
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["init", "new", "enable", "disable", "remove", "renew"]
    );
    for entry in log.as_array().unwrap() {
        assert!(entry["user"].as_str().unwrap().contains("uid"), "{entry}");
        assert!(!entry["detail"].as_str().unwrap().is_empty());
    }
    // The OS user by name, from the passwd database, not from $USER.
    let id = |flag: &str| {
        let out = std::process::Command::new("id").arg(flag).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let expected = format!("{} (uid {})", id("-un"), id("-u"));
    let out = env
        .command(&["new", "--self-signed", "--name", "y.contoso.com"])
        .env_remove("USER")
        .env_remove("LOGNAME")
        .env_remove("SUDO_USER")
        .output()
        .unwrap();
    assert!(out.status.success());
    let log = env.run(&["log", "--json"]).ok().json();
    let last = log.as_array().unwrap().last().unwrap();
    assert_eq!(last["user"], expected.as_str(), "{last}");
    let shown = env.run(&["log"]).ok().stdout;
    assert!(shown.contains(&expected), "{shown}");
    assert!(log[4]["detail"].as_str().unwrap().contains(&extra));
}

#[test]
fn a_missing_or_wrong_key_file_is_named_and_nothing_changes() {
    let env = cli();
    env.init("mail.contoso.com");
    let key = env.path("store.db.key");
    let saved = std::fs::read(&key).unwrap();
    let db_before = std::fs::read(env.store()).unwrap();
    std::fs::remove_file(&key).unwrap();
    let missing = env.run(&["list"]).fails_with(2);
    assert!(
        missing.stderr.contains("key file") && missing.stderr.contains("missing"),
        "{}",
        missing.stderr
    );
    assert!(!key.exists(), "a missing key file must not be recreated");

    std::fs::write(&key, "00".repeat(32)).unwrap();
    let wrong = env
        .run(&["new", "--self-signed", "--name", "a.contoso.com"])
        .fails_with(2);
    assert!(
        wrong.stderr.contains("does not open the store"),
        "{}",
        wrong.stderr
    );

    std::fs::write(&key, "garbage").unwrap();
    let damaged = env.run(&["list"]).fails_with(2);
    assert!(damaged.stderr.contains("damaged"), "{}", damaged.stderr);

    let other = env.path("elsewhere.key");
    std::fs::write(&other, &saved).unwrap();
    std::fs::write(&key, "garbage").unwrap();
    let moved = env
        .command(&["list", "--json"])
        .env("MAILCERT_STORE_KEY_FILE", &other)
        .output()
        .unwrap();
    assert!(
        moved.status.success(),
        "{}",
        String::from_utf8_lossy(&moved.stderr)
    );
    let db_after = std::fs::read(env.store()).unwrap();
    assert_eq!(db_before.len(), db_after.len());
}

#[test]
fn corrupt_or_foreign_databases_are_never_overwritten() {
    let env = cli();
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7 + 3) as u8).collect();
    std::fs::write(env.store(), &garbage).unwrap();
    let run = env.run(&["init"]).fails_with(2);
    assert!(
        run.stderr.contains("not a mailcert store"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read(env.store()).unwrap(), garbage);

    let other = cli();
    let status = std::process::Command::new("/usr/bin/python3")
        .args(["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('create table mail(x)'); c.commit()"])
        .arg(other.store())
        .status()
        .unwrap();
    assert!(status.success());
    let foreign = std::fs::read(other.store()).unwrap();
    let run = other.run(&["list"]).fails_with(2);
    assert!(run.stderr.contains("another application"), "{}", run.stderr);
    assert_eq!(std::fs::read(other.store()).unwrap(), foreign);

    let truncated = cli();
    truncated.init("mail.contoso.com");
    let db = std::fs::read(truncated.store()).unwrap();
    std::fs::write(truncated.store(), &db[..100]).unwrap();
    let run = truncated.run(&["list"]).fails_with(2);
    assert!(run.stderr.contains("store"), "{}", run.stderr);
    assert_eq!(std::fs::read(truncated.store()).unwrap(), &db[..100]);
}

#[test]
fn store_file_problems_are_named_with_their_fix() {
    let env = cli();
    env.init("mail.contoso.com");
    let key = env.path("store.db.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let warned = env.run(&["list"]).ok();
    assert!(
        warned.stderr.contains(&format!(
            "the store key file {} has mode 0644",
            key.display()
        )) && warned
            .stderr
            .contains(&format!("chmod 600 {}", key.display())),
        "{}",
        warned.stderr
    );
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(env.run(&["list"]).ok().stderr.is_empty());

    // Damage inside the certificates table: found by a query, not at
    // open. Named, with what to do; the file is left as it was.
    for n in 0..4 {
        env.new_self_signed(&["--name", &format!("n{n}.contoso.com")]);
    }
    let root_page = std::process::Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"select rootpage from sqlite_master where name='certificates'\").fetchone()[0])",
        ])
        .arg(env.store())
        .output()
        .unwrap();
    let page: usize = String::from_utf8_lossy(&root_page.stdout)
        .trim()
        .parse()
        .unwrap();
    let mut db = std::fs::read(env.store()).unwrap();
    for (i, byte) in db[(page - 1) * 4096..page * 4096].iter_mut().enumerate() {
        *byte = (i * 7 + 3) as u8;
    }
    std::fs::write(env.store(), &db).unwrap();
    let damaged = env.run(&["list"]).fails_with(2);
    let store = env.store().display().to_string();
    assert!(
        damaged
            .stderr
            .contains(&format!("the store database {store} is damaged"))
            && damaged.stderr.contains("backup")
            && damaged
                .stderr
                .contains("never writes to or replaces a damaged store"),
        "{}",
        damaged.stderr
    );
    assert!(!damaged.stderr.contains("Error code"), "{}", damaged.stderr);
    assert_eq!(std::fs::read(env.store()).unwrap(), db);

    // An empty file holds nothing to lose: a command that creates stores
    // makes it the store, and says so; one that only reads finds none.
    let empty = cli();
    std::fs::write(empty.store(), b"").unwrap();
    let run = empty.run(&["list"]).fails_with(2);
    assert!(
        run.stderr.contains("there is no store at"),
        "{}",
        run.stderr
    );
    let run = empty
        .run(&["new", "--self-signed", "--name", "mail.contoso.com"])
        .ok();
    assert!(
        run.stderr.contains(&format!(
            "{} was an empty file: initialised it as a new store",
            empty.store().display()
        )),
        "{}",
        run.stderr
    );
    assert_eq!(empty.list().len(), 2, "init's certificate and the new one");
}

#[test]
fn bad_usage_exits_2() {
    let env = cli();
    env.run(&["enable"]).fails_with(2);
    env.run(&["frobnicate"]).fails_with(2);
    env.run(&[
        "new",
        "--self-signed",
        "--name",
        "a.contoso.com",
        "--days",
        "0",
    ])
    .fails_with(2);
    env.run(&["which", "gopher"]).fails_with(2);
    assert!(
        !env.store().exists(),
        "usage errors must not create a store"
    );
    let help = env.run(&["enable", "--help"]).ok();
    assert!(help.stdout.contains("--services"));
}

#[test]
fn request_from_a_plan_uses_the_planned_names() {
    let env = cli();
    env.init("mail.contoso.com");
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/plan");
    let minimum = examples.join("minimum.toml");
    let out = env.path("req.csr");
    env.run(&[
        "request",
        "--plan",
        minimum.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
    .ok();
    let pending: Vec<_> = env
        .list()
        .into_iter()
        .filter(|c| c["status"] == "PendingRequest")
        .collect();
    assert_eq!(pending.len(), 1);
    assert_eq!(
        names(&pending[0]),
        [
            "mail.contoso.com",
            "autodiscover.contoso.com",
            "autodiscover.fabrikam.com",
            "legacy.contoso.com"
        ]
    );
    let text = openssl(
        env.dir(),
        &[
            "req",
            "-in",
            out.to_str().unwrap(),
            "-verify",
            "-noout",
            "-text",
        ],
    );
    assert!(text.contains("DNS:autodiscover.fabrikam.com"), "{text}");

    let before = env.snapshot();
    let with_errors = examples.join("split-names.toml");
    let refused = env
        .run(&["request", "--plan", with_errors.to_str().unwrap()])
        .fails_with(2);
    assert!(
        refused.stderr.contains("internal-name"),
        "{}",
        refused.stderr
    );
    assert_eq!(env.snapshot(), before);
}

#[test]
fn per_site_and_per_server_requests_have_subjects_of_their_own() {
    let env = cli();
    env.init("mail.contoso.com");
    let cases =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crates/plan/tests/cases");
    // (organisation, common names of the pending requests, in plan order)
    let table: &[(&str, &[&str])] = &[
        (
            "per-site-shared.toml",
            &[
                "paris.mail.contoso.com",
                "berlin.mail.contoso.com",
                "mail.contoso.com",
            ],
        ),
        ("per-server.toml", &["ex1.contoso.com", "ex2.contoso.com"]),
    ];
    for (org, common_names) in table {
        let before: Vec<String> = env
            .list()
            .iter()
            .filter_map(|c| c["thumbprint"].as_str().map(str::to_string))
            .collect();
        let out = env.path(&format!("{org}.csr"));
        env.run(&[
            "request",
            "--plan",
            cases.join(org).to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .ok();
        let new: Vec<serde_json::Value> = env
            .list()
            .into_iter()
            .filter(|c| c["status"] == "PendingRequest")
            .filter(|c| {
                c["thumbprint"]
                    .as_str()
                    .is_none_or(|id| !before.iter().any(|b| b == id))
            })
            .collect();
        let mut subjects: Vec<String> = new
            .iter()
            .map(|c| c["subject"].as_str().unwrap_or_default().to_string())
            .collect();
        let mut expected: Vec<String> = common_names.iter().map(|n| format!("CN={n}")).collect();
        subjects.sort();
        expected.sort();
        assert_eq!(subjects, expected, "{org}");
        for cert in &new {
            let cn = cert["subject"]
                .as_str()
                .unwrap_or_default()
                .trim_start_matches("CN=");
            assert!(
                names(cert).iter().any(|n| n == cn),
                "{org}: {cn} is not among {:?}",
                names(cert)
            );
        }
        // The CSRs carry those subjects too: what the CA will put in the certificates.
        for (i, cn) in common_names.iter().enumerate() {
            let csr = env.path(&format!("{}-{}.csr", org, i + 1));
            let subject = openssl(
                env.dir(),
                &[
                    "req",
                    "-in",
                    csr.to_str().unwrap(),
                    "-noout",
                    "-subject",
                    "-nameopt",
                    "RFC2253",
                ],
            );
            assert_eq!(subject.trim(), format!("subject=CN={cn}"), "{org}");
        }
    }
    // The table that administrators read tells them apart as well.
    let shown = env.run(&["list"]).ok().stdout;
    for cn in [
        "paris.mail.contoso.com",
        "berlin.mail.contoso.com",
        "ex1.contoso.com",
        "ex2.contoso.com",
    ] {
        assert!(shown.contains(&format!("CN={cn}")), "{cn} not in:\n{shown}");
    }
}

#[test]
fn subjects_are_written_as_rfc_5280_wants_them() {
    let env = cli();
    env.init("mail.contoso.com");
    let out = env.path("req.csr");
    env.run(&[
        "request",
        "--name",
        "mail.contoso.com",
        "--subject",
        "CN=mail.contoso.com,O=Contoso,C=US",
        "--out",
        out.to_str().unwrap(),
    ])
    .ok();
    let der = openssl(
        env.dir(),
        &[
            "req",
            "-in",
            out.to_str().unwrap(),
            "-outform",
            "DER",
            "-out",
            "req.der",
        ],
    );
    drop(der);
    let parsed = openssl(
        env.dir(),
        &["asn1parse", "-inform", "DER", "-in", "req.der"],
    );
    let country = parsed
        .lines()
        .skip_while(|l| !l.contains("countryName"))
        .nth(1)
        .unwrap_or_default();
    assert!(
        country.contains("PRINTABLESTRING") && country.contains(":US"),
        "{parsed}"
    );
    let before = env.snapshot();
    let bad = env
        .run(&[
            "request",
            "--name",
            "a.contoso.com",
            "--subject",
            "CN=a,C=USA",
        ])
        .fails_with(2);
    assert!(bad.stderr.contains("two-letter"), "{}", bad.stderr);
    assert_eq!(env.snapshot(), before);

    // RFC 4514: an escaped comma, or a quoted value, stays in the value.
    for (i, subject) in [
        r"CN=a.contoso.com,O=Contoso\, Inc.",
        r#"CN=a.contoso.com,O="Contoso, Inc.""#,
    ]
    .into_iter()
    .enumerate()
    {
        let out = env.path(&format!("escaped-{i}.csr"));
        env.run(&[
            "request",
            "--name",
            "a.contoso.com",
            "--subject",
            subject,
            "--out",
            out.to_str().unwrap(),
        ])
        .ok();
        let shown = openssl(
            env.dir(),
            &[
                "req",
                "-in",
                out.to_str().unwrap(),
                "-noout",
                "-subject",
                "-nameopt",
                "RFC2253",
            ],
        );
        assert_eq!(
            shown.trim(),
            r"subject=O=Contoso\, Inc.,CN=a.contoso.com",
            "{subject}"
        );
    }

    // The CN must be among the names, as CAs require: a host name that
    // --name lacks is added (first), anything else is refused.
    let out = env.path("cn.csr");
    let added = env
        .run(&[
            "request",
            "--name",
            "a.contoso.com",
            "--subject",
            "CN=B.contoso.com,O=Contoso",
            "--out",
            out.to_str().unwrap(),
        ])
        .ok();
    assert!(
        added
            .stderr
            .contains("CN b.contoso.com was not among --name: added it"),
        "{}",
        added.stderr
    );
    let text = openssl(
        env.dir(),
        &["req", "-in", out.to_str().unwrap(), "-noout", "-text"],
    );
    assert!(
        text.contains("DNS:b.contoso.com, DNS:a.contoso.com")
            && text.contains("Subject: CN = b.contoso.com"),
        "{text}"
    );
    let before = env.snapshot();
    let out = env.path("never.csr");
    let refused = env
        .run(&[
            "request",
            "--name",
            "a.contoso.com",
            "--subject",
            "CN=Contoso Mail Server,O=Contoso",
            "--out",
            out.to_str().unwrap(),
        ])
        .fails_with(2);
    assert!(
        refused
            .stderr
            .contains("the CN must be one of the certificate's names"),
        "{}",
        refused.stderr
    );
    assert!(!out.exists(), "no request file for refused input");
    assert_eq!(env.snapshot(), before);
}

#[test]
fn init_says_when_its_hostname_was_not_used() {
    let env = cli();
    env.init("mail.contoso.com");
    let again = env.run(&["init", "--hostname", "other.contoso.com"]).ok();
    assert!(
        again
            .stderr
            .contains("--hostname other.contoso.com was not used"),
        "{}",
        again.stderr
    );
    let same = env.run(&["init", "--hostname", "mail.contoso.com"]).ok();
    assert!(!same.stderr.contains("was not used"), "{}", same.stderr);
}
