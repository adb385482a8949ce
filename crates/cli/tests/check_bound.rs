//! `check --store` against the project's own front end: a listener with
//! its own binding, a listener with a pin, and a configuration that no
//! longer matches what is served. The served certificate must be one the
//! store would serve on that port, as `which` and `serve` choose it.

use std::path::Path;
use std::time::Duration;

use mailcert_testkit::{listener_toml, Cli, Serve};

use crate::cli;
use mailcert_testkit::{free_port, wait_until};

const NAME: &str = "mail.contoso.com";

fn listener(name: &str, port: u16, pin: Option<&str>) -> String {
    let mut extra = format!("hostname = \"{NAME}\"\n");
    if let Some(pin) = pin {
        extra.push_str(&format!("certificate = \"{pin}\"\n"));
    }
    listener_toml(name, "imap", "implicit", port, 1, &extra)
}

fn serve(env: &Cli, config: &Path) -> Serve {
    env.serve(&["--config", &config.display().to_string()])
}

/// `check` of the port, trusting `ca_file`; returns (exit code, codes, served thumbprint).
fn check(env: &Cli, port: u16, ca_file: &Path, extra: &[&str]) -> (i32, Vec<String>, String) {
    let mut args = vec![
        "check".to_string(),
        format!("imaps://{NAME}"),
        "--connect".into(),
        format!("127.0.0.1:{port}"),
        "--ca-file".into(),
        ca_file.display().to_string(),
        "--no-system-roots".into(),
        "--no-legacy-probe".into(),
        "--json".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = env.run(&args);
    let v = run.json();
    let e = &v["endpoints"][0];
    let codes = e["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| f["code"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();
    let served = e["chain"][0]["thumbprint"]
        .as_str()
        .unwrap_or("")
        .to_string();
    (run.code, codes, served)
}

#[test]
fn listener_bindings_and_pins_are_what_the_store_serves() {
    let env = cli();
    let default = env.init("mail.contoso.com");
    let own = env.new_self_signed(&["--name", NAME]);
    let pinned = env.new_self_signed(&["--name", NAME]);
    let (p_own, p_pinned) = (free_port(), free_port());
    let config = env.write(
        "fe.toml",
        listener("imaps", p_own, None) + &listener("pinned", p_pinned, Some(&pinned[..8])),
    );
    let cfg = config.display().to_string();
    env.run(&[
        "enable",
        &own,
        "--services",
        "imap",
        "--listener",
        "imaps",
        "--config",
        &cfg,
    ])
    .ok();
    // Every certificate involved, trusted as itself: only the binding
    // comparison is left to judge.
    let mut pems = String::new();
    for t in [&default, &own, &pinned] {
        pems.push_str(&env.run(&["show", t, "--pem"]).ok().stdout);
    }
    let trusted = env.write("trusted.pem", pems);
    let _serve = serve(&env, &config);
    wait_until("the listeners answer", Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", p_pinned)).is_ok()
    });

    // The listener's own binding; `which` agrees with what is served.
    let which = env
        .run(&[
            "which",
            "imap",
            "--listener",
            "imaps",
            "--name",
            NAME,
            "--config",
            &cfg,
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(which["thumbprint"], own.as_str());
    let (code, codes, served) = check(&env, p_own, &trusted, &["--config", &cfg]);
    assert_eq!(served, own);
    assert_eq!((code, codes), (0, Vec::<String>::new()));
    // Without a configuration the store's listener binding still counts.
    let (code, codes, _) = check(&env, p_own, &trusted, &[]);
    assert_eq!((code, codes), (0, Vec::<String>::new()));

    // The pin: from --config, or from MAILCERT_CONFIG.
    let (code, codes, served) = check(&env, p_pinned, &trusted, &["--config", &cfg]);
    assert_eq!(served, pinned);
    assert_eq!((code, codes), (0, Vec::<String>::new()));
    let out = env
        .command(&[
            "check",
            &format!("imaps://{NAME}"),
            "--connect",
            &format!("127.0.0.1:{p_pinned}"),
            "--ca-file",
            &trusted.display().to_string(),
            "--no-system-roots",
            "--no-legacy-probe",
        ])
        .env("MAILCERT_CONFIG", &config)
        .output()
        .expect("check");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Without the configuration nothing names the pinned certificate.
    let (code, codes, _) = check(&env, p_pinned, &trusted, &[]);
    assert_eq!(
        (code, codes),
        (1, vec!["not-bound-certificate".to_string()])
    );

    // A configuration that says this port is listener "imaps" (changed, and
    // the front end not told): that listener would serve another one.
    let stale = env.write("stale.toml", listener("imaps", p_pinned, None));
    let stale = stale.display().to_string();
    let (code, codes, _) = check(&env, p_pinned, &trusted, &["--config", &stale]);
    assert_eq!(
        (code, codes),
        (1, vec!["not-bound-certificate".to_string()])
    );

    // A configuration that cannot be read is bad usage.
    let missing = env.path("missing.toml").display().to_string();
    let run = env.run(&[
        "check",
        &format!("imaps://{NAME}"),
        "--connect",
        &format!("127.0.0.1:{p_own}"),
        "--config",
        &missing,
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("missing.toml"), "{}", run.stderr);
}
