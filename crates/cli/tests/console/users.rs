//! `mailcert console user add|list|remove|passwd`.

use crate::cli;

const PASSWORD: &str = "correct horse battery staple";

#[test]
fn accounts_are_added_listed_changed_and_removed() {
    let env = cli();
    env.init("mail.contoso.com");
    let pw = env.write("pw", format!("{PASSWORD}\n"));
    let pw = pw.to_str().unwrap();
    env.run(&["console", "user", "add", "Alice", "--password-file", pw])
        .ok();
    let users = env.run(&["console", "user", "list", "--json"]).ok().json();
    assert_eq!(users[0]["name"], "alice", "{users}");
    assert_eq!(users[0]["last_login"], serde_json::Value::Null);
    // The store holds a hash, never the password (and the value is
    // encrypted at rest like every secret).
    let db = std::fs::read(env.store()).unwrap();
    assert!(
        !db.windows(PASSWORD.len()).any(|w| w == PASSWORD.as_bytes()),
        "the password is in the store file"
    );
    assert!(
        !db.windows(9).any(|w| w == b"$argon2id"),
        "the hash is not encrypted"
    );

    let again = env
        .run(&["console", "user", "add", "alice", "--password-file", pw])
        .fails_with(2);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);

    env.run(&["console", "user", "passwd", "alice", "--password-file", pw])
        .ok();
    let log = env.run(&["log", "--json"]).ok().json();
    let details: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["detail"].as_str().unwrap())
        .collect();
    assert!(details.contains(&"added console user alice"), "{details:?}");
    assert!(
        details
            .iter()
            .any(|d| d.starts_with("changed the password of console user alice")),
        "{details:?}"
    );

    env.run(&["console", "user", "remove", "ALICE"]).ok();
    let users = env.run(&["console", "user", "list", "--json"]).ok().json();
    assert_eq!(users, serde_json::json!([]));
    let gone = env
        .run(&["console", "user", "remove", "alice"])
        .fails_with(2);
    assert!(
        gone.stderr.contains("there is no console user 'alice'"),
        "{}",
        gone.stderr
    );
}

#[test]
fn bad_names_and_passwords_are_refused_and_change_nothing() {
    let env = cli();
    env.init("mail.contoso.com");
    let before = env.snapshot();
    let short = env.write("short", "tooshort\n");
    let good = env.write("good", format!("{PASSWORD}\n"));
    let cases: [(&str, &std::path::Path, &str); 3] = [
        ("bob", &short, "the password is too short (8 characters)"),
        ("<script>", &good, "is not a usable console user name"),
        ("a b", &good, "contains a space"),
    ];
    for (name, pw, expected) in cases {
        let run = env
            .run(&[
                "console",
                "user",
                "add",
                name,
                "--password-file",
                pw.to_str().unwrap(),
            ])
            .fails_with(2);
        assert!(run.stderr.contains(expected), "{name}: {}", run.stderr);
    }
    assert_eq!(
        env.snapshot(),
        before,
        "a refused account changed the store"
    );
    // No store is created for an account whose password is refused.
    let fresh = cli();
    fresh
        .run(&[
            "console",
            "user",
            "add",
            "bob",
            "--password-file",
            short.to_str().unwrap(),
        ])
        .fails_with(2);
    assert!(!fresh.store().exists());
}
