//! Where the store is — `--store` > `MAILCERT_STORE` > the configuration's
//! `[store]` > the default — for every command and for `serve` alike; and
//! commands that only read (or act on what a store holds) never create
//! one: a mistyped path is an error that names it.

use std::path::Path;
use std::process::Command;

use mailcert_testkit::{Cli, Run, Serve};

use crate::cli;
use mailcert_testkit::{free_port, openssl_view, served_chain};

const NAME: &str = "mail.contoso.com";

/// `mailcert` with nothing naming a store: no `--store`, no
/// `MAILCERT_STORE`, no `MAILCERT_CONFIG`; runs in `cwd`.
fn bare(env: &Cli, cwd: &Path, args: &[&str]) -> Command {
    let mut cmd = env.command(args);
    cmd.env_remove("MAILCERT_STORE").current_dir(cwd);
    cmd
}

fn run(mut cmd: Command) -> Run {
    Run::from(cmd.output().expect("run mailcert"))
}

/// Every file under `dir`, relative to it, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

fn default_store_exists() -> bool {
    Path::new("/var/lib/mailcert/store.db").exists()
}

#[test]
fn commands_that_take_a_configuration_serve_from_its_store() {
    let env = cli();
    let data = env.path("data");
    let conf = env.path("conf");
    let elsewhere = env.path("elsewhere");
    for d in [&data, &conf, &elsewhere] {
        std::fs::create_dir(d).unwrap();
    }
    let served = data.join("served.db");
    let served_arg = served.display().to_string();
    let init = env
        .run(&["--store", &served_arg, "init", "--hostname", NAME, "--json"])
        .ok()
        .json();
    let first = init["thumbprint"].as_str().unwrap().to_string();
    let second = env
        .run(&[
            "--store",
            &served_arg,
            "new",
            "--self-signed",
            "--name",
            NAME,
        ])
        .ok()
        .stdout
        .trim()
        .to_string();
    let port = free_port();
    // A relative path: the configuration file's directory is its base,
    // wherever the command runs.
    let config = env.write(
        "conf/serve.toml",
        format!(
            "[store]\npath = \"../data/served.db\"\n\n[[listener]]\nname = \"imaps\"\nprotocol = \"imap\"\ntls = \"implicit\"\nbind = \"127.0.0.1:{port}\"\nbackend = \"127.0.0.1:1\"\n"
        ),
    );
    let cfg = config.display().to_string();
    let default_before = default_store_exists();
    let before = files(env.dir());

    let which = |listener: &[&str]| {
        let mut args = vec!["which", "imap", "--config", &cfg, "--json"];
        args.extend_from_slice(listener);
        run(bare(&env, &elsewhere, &args)).ok().json()["thumbprint"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(which(&[]), first, "init's certificate is the default");
    run(bare(
        &env,
        &elsewhere,
        &[
            "enable",
            &second,
            "--services",
            "imap",
            "--listener",
            "imaps",
            "--config",
            &cfg,
        ],
    ))
    .ok();
    assert_eq!(which(&["--listener", "imaps"]), second);

    // `serve` with the same file serves what `which` says.
    // Its log outside the folder whose files are counted below.
    let logs = mailcert_testkit::temp_dir();
    let _serve = Serve::start(
        bare(&env, &elsewhere, &["serve", "--config", &cfg]),
        &logs.path().join("serve.log"),
    );
    let chain = served_chain(port, NAME, None);
    assert_eq!(openssl_view(&chain[0]).thumbprint, second);

    // `check` with the same file compares with that store: the served
    // certificate is the one it binds to the listener.
    let trusted = env.write(
        "trusted.pem",
        env.run(&["--store", &served_arg, "show", &second, "--pem"])
            .ok()
            .stdout,
    );
    let check = |config: &str| {
        let args = [
            "check".to_string(),
            format!("imaps://{NAME}"),
            "--connect".into(),
            format!("127.0.0.1:{port}"),
            "--ca-file".into(),
            trusted.display().to_string(),
            "--no-system-roots".into(),
            "--no-legacy-probe".into(),
            "--config".into(),
            config.to_string(),
        ];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(bare(&env, &elsewhere, &args))
    };
    let compared = check(&cfg);
    assert_eq!(compared.code, 0, "{}{}", compared.stdout, compared.stderr);
    // A configuration naming another store, which binds another
    // certificate: what is served is not what that store would serve.
    let other = data.join("other.db").display().to_string();
    env.run(&["--store", &other, "init", "--hostname", NAME])
        .ok();
    let other_config = env.write(
        "conf/other.toml",
        std::fs::read_to_string(&config)
            .unwrap()
            .replace("served.db", "other.db"),
    );
    let stale = check(&other_config.display().to_string());
    assert_eq!(stale.code, 1, "{}{}", stale.stdout, stale.stderr);
    assert!(
        stale.stdout.contains("not-bound-certificate"),
        "{}",
        stale.stdout
    );

    // `replace` moves init's bindings in that store.
    run(bare(
        &env,
        &elsewhere,
        &["replace", &first, &second, "--config", &cfg],
    ))
    .ok();
    let list = env
        .run(&["--store", &served_arg, "list", "--json"])
        .ok()
        .json();
    let services = |thumb: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|c| c["thumbprint"] == thumb)
            .map(|c| c["services"].clone())
            .unwrap()
    };
    assert_eq!(
        services(&second),
        serde_json::json!(["https", "imap", "pop", "smtp"])
    );
    assert_eq!(services(&first), serde_json::json!([]));

    // Nothing else was created: no store beside the commands, none at
    // the default path.
    let made_here = |f: &String| {
        f.starts_with("data/served.db")
            || f.starts_with("data/other.db")
            || f == "trusted.pem"
            || f == "conf/other.toml"
    };
    let mut after = files(env.dir());
    after.retain(|f| !made_here(f));
    let mut expected = before.clone();
    expected.retain(|f| !made_here(f));
    assert_eq!(after, expected);
    assert_eq!(default_store_exists(), default_before);
}

#[test]
fn the_command_line_beats_the_environment_beats_the_configuration() {
    let env = cli();
    let mut thumbs = Vec::new();
    for (store, host) in [
        ("flag.db", "flag.contoso.com"),
        ("env.db", "env.contoso.com"),
        ("conf.db", "conf.contoso.com"),
    ] {
        let path = env.path(store).display().to_string();
        let out = env
            .run(&["--store", &path, "init", "--hostname", host, "--json"])
            .ok()
            .json();
        thumbs.push(out["thumbprint"].as_str().unwrap().to_string());
    }
    // The configuration's store keeps its key file elsewhere.
    std::fs::create_dir(env.path("keys")).unwrap();
    std::fs::rename(env.path("conf.db.key"), env.path("keys/conf.key")).unwrap();
    let config = env.write(
        "serve.toml",
        "[store]\npath = \"conf.db\"\nkey_file = \"keys/conf.key\"\n",
    );
    let listed = |cmd: Command| -> String {
        run(cmd).ok().json()[0]["thumbprint"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let dir = env.dir();
    let mut with_config = bare(&env, dir, &["list", "--json"]);
    with_config.env("MAILCERT_CONFIG", &config);
    assert_eq!(listed(with_config), thumbs[2], "the configuration's store");

    let mut with_env = bare(&env, dir, &["list", "--json"]);
    with_env
        .env("MAILCERT_CONFIG", &config)
        .env("MAILCERT_STORE", env.path("env.db"));
    assert_eq!(
        listed(with_env),
        thumbs[1],
        "MAILCERT_STORE over the configuration"
    );

    let flag = env.path("flag.db").display().to_string();
    let mut with_flag = bare(&env, dir, &["--store", &flag, "list", "--json"]);
    with_flag
        .env("MAILCERT_CONFIG", &config)
        .env("MAILCERT_STORE", env.path("env.db"));
    assert_eq!(listed(with_flag), thumbs[0], "--store over MAILCERT_STORE");

    // The same for a command with --config of its own.
    let which = bare(
        &env,
        dir,
        &[
            "which",
            "smtp",
            "--config",
            &config.display().to_string(),
            "--json",
        ],
    );
    assert_eq!(
        run(which).ok().json()["thumbprint"].as_str().unwrap(),
        thumbs[2]
    );

    // Without the configuration's key_file, its database's key is not
    // beside it: named, not replaced by a new one.
    let no_key = env.write("nokey.toml", "[store]\npath = \"conf.db\"\n");
    let mut cmd = bare(&env, dir, &["list"]);
    cmd.env("MAILCERT_CONFIG", &no_key);
    let failed = run(cmd).fails_with(2);
    assert!(failed.stderr.contains("conf.db.key"), "{}", failed.stderr);
    assert!(!env.path("conf.db.key").exists());
}

#[test]
fn commands_that_need_a_store_never_create_one() {
    let env = cli();
    let csr = env.path("req.csr");
    mailcert_testkit::run(
        "openssl",
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &env.path("req.key").display().to_string(),
            "-subj",
            "/CN=mail.contoso.com",
            "-out",
            &csr.display().to_string(),
        ],
        b"",
    );
    let csr = csr.display().to_string();
    let typo = env.path("stroe.db").display().to_string();
    let before = files(env.dir());
    let default_before = default_store_exists();
    for args in [
        &["list"][..],
        &["show", "ABCD"],
        &["which", "imap"],
        &["log"],
        &["trust", "list"],
        &["ca", "root"],
        &["ca", "sign", &csr],
        &["export", "ABCD", "--pem", "--out", "out.pem"],
        &["acme", "status"],
        &["acme", "renew"],
        &["enable", "ABCD", "--services", "imap"],
        &["disable", "ABCD", "--services", "imap"],
        &["remove", "ABCD"],
        &["renew", "ABCD"],
        &["replace", "ABCD", "EF01"],
        &["complete", &csr],
        &["trust", "remove", "ABCD"],
    ] {
        let mut all = vec!["--store", &typo];
        all.extend_from_slice(args);
        let failed = env.run(&all).fails_with(2);
        assert!(
            failed
                .stderr
                .contains(&format!("there is no store at {typo} (named by --store)"))
                && failed
                    .stderr
                    .contains(&format!("mailcert --store {typo} init")),
            "{args:?}: {}",
            failed.stderr
        );
        // The same through MAILCERT_STORE, which says so.
        let mut cmd = env.command(args);
        cmd.env("MAILCERT_STORE", &typo);
        let failed = run(cmd).fails_with(2);
        assert!(
            failed.stderr.contains("(named by MAILCERT_STORE)"),
            "{args:?}: {}",
            failed.stderr
        );
    }
    assert_eq!(files(env.dir()), before, "no file was created");
    assert_eq!(default_store_exists(), default_before);

    // Commands that add to a store create it, as before.
    env.run(&["--store", &typo, "new", "--self-signed", "--name", NAME])
        .ok();
    assert!(env.path("stroe.db").exists());
}

#[test]
fn verify_and_check_need_no_store() {
    let env = cli();
    // A certificate to verify and serve: from a store of its own.
    let source = env.path("source.db").display().to_string();
    env.run(&["--store", &source, "init", "--hostname", NAME])
        .ok();
    let thumb = env.run(&["--store", &source, "list", "--json"]).ok().json()[0]["thumbprint"]
        .as_str()
        .unwrap()
        .to_string();
    let pem = env.write(
        "cert.pem",
        env.run(&["--store", &source, "show", &thumb, "--pem"])
            .ok()
            .stdout,
    );
    let pem = pem.display().to_string();
    let missing = env.path("missing.db").display().to_string();
    let verify = [
        "verify",
        &pem,
        "--name",
        NAME,
        "--ca-file",
        &pem,
        "--no-system-roots",
    ];
    // MAILCERT_STORE naming nothing (a profile set for another machine):
    // verify works, and says it goes on without a store.
    let mut cmd = env.command(&verify);
    cmd.env("MAILCERT_STORE", &missing);
    let ok = run(cmd);
    assert_eq!(ok.code, 0, "{}{}", ok.stdout, ok.stderr);
    assert!(ok.stderr.contains("there is no store at"), "{}", ok.stderr);
    // --store typed on the command line is meant: its absence is an error.
    let mut all = vec!["--store", &missing];
    all.extend_from_slice(&verify);
    let failed = env.run(&all).fails_with(2);
    assert!(
        failed.stderr.contains("there is no store at"),
        "{}",
        failed.stderr
    );
    assert!(!env.path("missing.db").exists());

    // check, against a real server (OpenSSL) serving that certificate.
    let pfx = env.path("cert.pfx").display().to_string();
    let password = env.write("pw", "secret\n").display().to_string();
    env.run(&[
        "--store",
        &source,
        "export",
        &thumb,
        "--out",
        &pfx,
        "--password-file",
        &password,
    ])
    .ok();
    let key = env.path("server.key").display().to_string();
    let out = mailcert_testkit::run(
        "openssl",
        &[
            "pkcs12",
            "-in",
            &pfx,
            "-nocerts",
            "-nodes",
            "-passin",
            "pass:secret",
            "-out",
            &key,
        ],
        b"",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let port = free_port();
    let mut server = Command::new("openssl")
        .args([
            "s_server",
            "-accept",
            &port.to_string(),
            "-cert",
            &pem,
            "-key",
            &key,
            "-www",
            "-quiet",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("openssl s_server");
    mailcert_testkit::wait_for_port(port);
    let url = format!("https://{NAME}");
    let connect = format!("127.0.0.1:{port}");
    let check = [
        "check",
        &url,
        "--connect",
        &connect,
        "--ca-file",
        &pem,
        "--no-system-roots",
        "--no-legacy-probe",
    ];
    let mut cmd = env.command(&check);
    cmd.env("MAILCERT_STORE", &missing);
    let checked = run(cmd);
    let mut all = vec!["--store", &missing];
    all.extend_from_slice(&check);
    let refused = env.run(&all);
    mailcert_testkit::stop_child(&mut server);
    assert_eq!(checked.code, 0, "{}{}", checked.stdout, checked.stderr);
    assert!(
        checked.stderr.contains("there is no store at"),
        "{}",
        checked.stderr
    );
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(!env.path("missing.db").exists());
}
