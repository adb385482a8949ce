//! A change is one transaction: killing the process at any moment leaves
//! the old state or the new one, never half of it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mailcert_testkit::Cli;

use crate::cli;

/// A pseudo-random point in `0..=max`, so kills land everywhere: before
/// the store opens, during key generation, inside the transaction, after it.
fn jitter(max: Duration) -> Duration {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let micros = max.as_micros().max(1) as u64;
    Duration::from_micros(u64::from(nanos).wrapping_mul(2_654_435_761) % micros)
}

/// How long one uninterrupted run takes here, to spread the kills over it.
fn full_run(env: &Cli, args: &[&str]) -> Duration {
    let start = std::time::Instant::now();
    env.run(args).ok();
    start.elapsed()
}

fn bound_certificates(env: &Cli) -> Vec<serde_json::Value> {
    env.list()
        .into_iter()
        .filter(|c| !c["services"].as_array().unwrap().is_empty())
        .collect()
}

#[test]
fn kill_during_renew_leaves_a_whole_state() {
    let env = cli();
    let first = env.init("mail.contoso.com");
    let span = full_run(&env, &["renew", &first]).mul_f32(1.2);
    let (mut killed, mut completed) = (0, 0);
    for round in 0..40 {
        let bound = bound_certificates(&env);
        assert_eq!(
            bound.len(),
            1,
            "round {round}: exactly one certificate holds the bindings"
        );
        assert_eq!(
            bound[0]["services"],
            serde_json::json!(["https", "imap", "pop", "smtp"]),
            "round {round}"
        );
        let thumb = bound[0]["thumbprint"].as_str().unwrap().to_string();

        let mut child = env
            .command(&["renew", &thumb])
            .spawn()
            .expect("spawn renew");
        std::thread::sleep(jitter(span));
        if child.try_wait().expect("poll child").is_none() {
            child.kill().expect("SIGKILL");
            killed += 1;
        } else {
            completed += 1;
        }
        let _ = child.wait();

        let list = env.list();
        let renewals = env
            .run(&["log", "--json", "--limit", "1000"])
            .ok()
            .json()
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "renew")
            .count();
        assert_eq!(
            list.len(),
            renewals + 1,
            "round {round}: a certificate without its audit entry, or the reverse"
        );
        for cert in &list {
            assert_eq!(cert["has_private_key"], true, "round {round}: {cert}");
            let pem = env
                .run(&["show", cert["thumbprint"].as_str().unwrap(), "--pem"])
                .ok()
                .stdout;
            assert!(pem.contains("BEGIN CERTIFICATE"));
        }
    }
    eprintln!("killed {killed} of 40 renewals mid-way, {completed} finished first");
    assert!(
        killed > 0,
        "no renewal was interrupted: the test proved nothing"
    );
}

#[test]
fn kill_during_new_never_leaves_half_a_certificate() {
    let env = cli();
    env.init("mail.contoso.com");
    let span = full_run(
        &env,
        &[
            "new",
            "--self-signed",
            "--name",
            "probe.contoso.com",
            "--key",
            "rsa-2048",
        ],
    )
    .mul_f32(1.2);
    let mut interrupted_commits = 0;
    for round in 0..30 {
        let before = env.list().len();
        let name = format!("n{round}.contoso.com");
        let mut child = env
            .command(&["new", "--self-signed", "--name", &name, "--key", "rsa-2048"])
            .spawn()
            .expect("spawn new");
        std::thread::sleep(jitter(span));
        mailcert_testkit::kill_child(&mut child);
        let list = env.list();
        assert!(
            list.len() == before || list.len() == before + 1,
            "round {round}"
        );
        if list.len() == before + 1 {
            let cert = list
                .iter()
                .find(|c| c["subject"] == format!("CN={name}"))
                .expect("the new certificate");
            assert_eq!(cert["has_private_key"], true);
            assert_eq!(cert["key_algorithm"], "rsa-2048");
            interrupted_commits += 1;
        }
    }
    eprintln!("{interrupted_commits} of 30 runs committed before the kill");
}

/// The first start makes the database, the key file and the self-signed
/// certificate. Killed anywhere in that, the next `init` (or `serve`)
/// finishes the store instead of asking for a backup that cannot exist.
#[test]
fn kill_during_the_first_start_leaves_a_store_the_next_start_finishes() {
    let probe = cli();
    let span = full_run(&probe, &["init", "--hostname", "mail.contoso.com"]).mul_f32(1.2);
    let (mut killed, mut rounds) = (0, 0);
    while rounds < 30 {
        rounds += 1;
        let env = cli();
        let mut child = env
            .command(&["init", "--hostname", "mail.contoso.com"])
            .spawn()
            .expect("spawn init");
        std::thread::sleep(jitter(span));
        if child.try_wait().expect("poll child").is_none() {
            child.kill().expect("SIGKILL");
            killed += 1;
        }
        let _ = child.wait();
        env.run(&["init", "--hostname", "mail.contoso.com"]).ok();
        let list = env.list();
        assert_eq!(list.len(), 1, "round {rounds}: {list:?}");
        assert_eq!(list[0]["has_private_key"], true, "round {rounds}");
        assert_eq!(
            list[0]["services"],
            serde_json::json!(["https", "imap", "pop", "smtp"]),
            "round {rounds}"
        );
    }
    eprintln!("killed {killed} of {rounds} first starts mid-way");
    assert!(
        killed > 0,
        "no first start was interrupted: the test proved nothing"
    );
}

/// What an interrupted first start of an older version left: a key file
/// of zero bytes, and no database or an empty one.
#[test]
fn an_empty_key_file_left_by_an_interrupted_start_is_not_a_lost_key() {
    for database in [None, Some("")] {
        let env = cli();
        env.write("store.db.key", "");
        if let Some(content) = database {
            env.write("store.db", content);
        }
        let run = env.run(&["init", "--hostname", "mail.contoso.com"]).ok();
        assert!(!run.stderr.contains("backup"), "{}", run.stderr);
        assert_eq!(env.list().len(), 1);
        let key = std::fs::read_to_string(env.path("store.db.key")).unwrap();
        assert_eq!(key.trim().len(), 64);
    }
}
