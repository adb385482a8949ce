//! The systemd units of `dist/systemd`, as an administrator installs
//! them: `systemd-analyze verify` accepts each one (no unknown key, no
//! missing binary: they point at the binary under test), and the
//! `mailcert` command lines they start are ones the binary accepts — the
//! probe service starts and answers, the scheduled check runs.

use std::path::PathBuf;
use std::process::Command;

use mailcert_testkit::prometheus::http_get;
use mailcert_testkit::Cli;

use crate::probe::Probe;
use crate::{cli, MAILCERT};

fn dist_systemd() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../dist/systemd")
}

/// The arguments of the unit's `ExecStart=/usr/bin/mailcert …` line.
fn exec_start_args(unit: &str) -> Vec<String> {
    let text = std::fs::read_to_string(dist_systemd().join(unit)).unwrap();
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart=/usr/bin/mailcert "))
        .unwrap_or_else(|| panic!("{unit}: no ExecStart=/usr/bin/mailcert"));
    line.split_whitespace().map(str::to_string).collect()
}

#[test]
fn systemd_accepts_every_unit() {
    let cli = cli();
    let mut units = Vec::new();
    for entry in std::fs::read_dir(dist_systemd()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("/usr/bin/mailcert", MAILCERT);
        cli.write(&name, text);
        units.push(name);
    }
    units.sort();
    assert_eq!(
        units,
        [
            "mailcert-check.service",
            "mailcert-check.timer",
            "mailcert-probe.service",
            "mailcert.service",
            "mailcert.socket"
        ]
    );
    for unit in &units {
        let out = Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(format!("./{unit}"))
            .current_dir(cli.dir())
            .output()
            .expect("systemd-analyze (scripts/install-peers.sh)");
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && said.trim().is_empty(),
            "{unit}: {said}"
        );
    }
    let timer = std::fs::read_to_string(dist_systemd().join("mailcert-check.timer")).unwrap();
    assert!(timer.contains("Persistent=true"), "{timer}");
}

#[test]
fn the_units_command_lines_are_accepted() {
    let cli = Cli::new(MAILCERT).without_store();
    // The probe service, on a port of the test's instead of 9465.
    let mut args = exec_start_args("mailcert-probe.service");
    assert_eq!(args[..3], ["check", "--listen", "127.0.0.1:9465"]);
    args.drain(..3);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let probe = Probe::start(&cli, &args);
    let (status, body) = probe.probe("target=imaps://mail.example.net");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("*.contoso.com"), "{body}");
    let root = http_get(probe.port, "/", &[]).unwrap();
    assert_eq!(root.status, 200);
    drop(probe);

    // The scheduled check: whatever the endpoints answer here (nothing
    // resolves them offline), the command line is not refused as usage.
    let mut args = exec_start_args("mailcert-check.service");
    args.extend(["--timeout".to_string(), "2".to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = cli.run(&args);
    assert!(run.code == 0 || run.code == 1, "{args:?}: {}", run.all());
}
