//! What makes the console safe on a management network, tried with curl
//! against `mailcert serve`: sessions, CSRF tokens, cookie replays, a
//! login flood, upload limits, export names; and the API's answers are
//! the command line's (`list --json`, its error sentences).

use std::time::Duration;

use mailcert_testkit::without_the_clock;
use serde_json::json;

use super::support::{Console, Session, COOKIE, PASSWORD, USER};

/// Every API route, as (method, path, body).
fn routes(thumb: &str) -> Vec<(&'static str, String, Option<serde_json::Value>)> {
    let t = thumb;
    vec![
        ("GET", "/api/v1/session".into(), None),
        ("GET", "/api/v1/certificates".into(), None),
        ("GET", "/api/v1/listeners".into(), None),
        ("GET", "/api/v1/audit".into(), None),
        ("GET", format!("/api/v1/certificates/{t}"), None),
        ("GET", format!("/api/v1/certificates/{t}/pem"), None),
        ("POST", "/api/v1/logout".into(), Some(json!({}))),
        (
            "POST",
            "/api/v1/certificates".into(),
            Some(json!({"self_signed": true, "names": ["x.example.test"]})),
        ),
        (
            "POST",
            format!("/api/v1/certificates/{t}/preflight"),
            Some(json!({"services": ["imap"]})),
        ),
        (
            "POST",
            format!("/api/v1/certificates/{t}/enable"),
            Some(json!({"services": ["imap"]})),
        ),
        (
            "POST",
            format!("/api/v1/certificates/{t}/disable"),
            Some(json!({"services": ["imap"]})),
        ),
        (
            "POST",
            format!("/api/v1/certificates/{t}/renew"),
            Some(json!({})),
        ),
        (
            "POST",
            format!("/api/v1/certificates/{t}/remove"),
            Some(json!({"force": true})),
        ),
        (
            "POST",
            format!("/api/v1/certificates/{t}/export"),
            Some(json!({"password": "secret-secret"})),
        ),
        (
            "POST",
            "/api/v1/complete".into(),
            Some(json!({"file_name": "a.cer", "file": "AAAA"})),
        ),
        (
            "POST",
            "/api/v1/import".into(),
            Some(json!({"file_name": "a.pfx", "file": "AAAA"})),
        ),
        ("POST", "/api/v1/plan".into(), Some(json!({"plan": ""}))),
        (
            "POST",
            "/api/v1/check".into(),
            Some(json!({"endpoint": "imaps://127.0.0.1:1"})),
        ),
    ]
}

#[test]
fn every_route_refuses_without_a_session_and_changes_need_the_csrf_token() {
    let console = Console::start("");
    let before = console.env.snapshot();
    let thumb = console.env.list()[0]["thumbprint"]
        .as_str()
        .unwrap()
        .to_string();
    let session = console.login();
    let forged = Session {
        cookie: {
            // The token of a real session with the activity time moved:
            // the signature no longer matches.
            let mut parts: Vec<String> = session.cookie.split('.').map(String::from).collect();
            parts[1] = (parts[1].parse::<i64>().unwrap() + 3600).to_string();
            parts.join(".")
        },
        csrf: session.csrf.clone(),
    };
    for (method, path, body) in routes(&thumb) {
        let body_text = body.as_ref().map(|b| b.to_string());
        let bare = console.curl.request(
            method,
            &path,
            &[("Content-Type", "application/json")],
            body_text.as_deref().map(str::as_bytes),
        );
        assert_eq!(
            bare.status,
            401,
            "{method} {path} without a session: {}",
            bare.text()
        );
        let error = bare.json();
        assert!(
            error["error"].as_str().unwrap().contains("not logged in"),
            "{error}"
        );
        assert!(
            error["fix"].as_str().unwrap().contains("/api/v1/login"),
            "{error}"
        );

        let reply = console.call(&forged, method, &path, body.clone());
        assert_eq!(reply.status, 401, "{method} {path} with a forged cookie");

        if method == "POST" {
            let cookie = format!("{COOKIE}={}", session.cookie);
            let wrong = "0".repeat(64);
            for (headers, why) in [
                (vec![("Cookie", cookie.as_str())], "no token"),
                (
                    vec![
                        ("Cookie", cookie.as_str()),
                        ("X-CSRF-Token", wrong.as_str()),
                    ],
                    "a wrong token",
                ),
                (
                    vec![
                        ("Cookie", cookie.as_str()),
                        ("X-CSRF-Token", session.csrf.as_str()),
                        ("Origin", "https://evil.example"),
                    ],
                    "another site's page",
                ),
            ] {
                let mut headers = headers;
                headers.push(("Content-Type", "application/json"));
                let reply = console.curl.request(
                    method,
                    &path,
                    &headers,
                    body_text.as_deref().map(str::as_bytes),
                );
                assert_eq!(
                    reply.status,
                    403,
                    "{method} {path} with {why}: {}",
                    reply.text()
                );
                assert!(reply.json()["fix"]
                    .as_str()
                    .unwrap()
                    .contains("X-CSRF-Token"));
            }
        }
    }
    // Nothing above changed the store (the login is in the audit log, so
    // compare the certificates only).
    assert_eq!(console.env.snapshot().list, before.list);
    // The pages themselves carry no data and load without a session, with
    // a policy that allows only their own script.
    let page = console.curl.request("GET", "/", &[], None);
    assert_eq!(page.status, 200);
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
}

#[test]
fn the_cookie_is_secure_and_dies_with_logout_and_idleness() {
    let console = Console::start("idle_timeout = 2");
    let reply = console.login_as(USER, PASSWORD);
    let set = reply.set_cookies().join(" | ");
    for attribute in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(attribute), "{set}");
    }
    assert!(!set.contains("Domain="), "{set}");

    // Logout: the same cookie, replayed, opens nothing.
    let session = console.login();
    assert_eq!(
        console
            .call(&session, "GET", "/api/v1/certificates", None)
            .status,
        200
    );
    let out = console.call(&session, "POST", "/api/v1/logout", Some(json!({})));
    assert_eq!(out.status, 200, "{}", out.text());
    assert_eq!(
        out.cookie(COOKIE).as_deref(),
        Some(""),
        "the cookie is cleared"
    );
    let replay = console.call(&session, "GET", "/api/v1/certificates", None);
    assert_eq!(replay.status, 401);
    assert!(replay.text().contains("ended"), "{}", replay.text());

    // Idle: activity keeps the session (each answer renews the cookie),
    // a cookie unused for longer than idle_timeout opens nothing.
    let mut session = console.login();
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(1200));
        let reply = console.call(&session, "GET", "/api/v1/session", None);
        assert_eq!(
            reply.status,
            200,
            "an active session ended: {}",
            reply.text()
        );
        session.cookie = reply.cookie(COOKIE).expect("a renewed cookie");
    }
    std::thread::sleep(Duration::from_millis(3500));
    let replay = console.call(&session, "GET", "/api/v1/certificates", None);
    assert_eq!(replay.status, 401);
    assert!(replay.text().contains("idle"), "{}", replay.text());

    let log = console.env.run(&["log", "--json"]).ok().json();
    let text = log.to_string();
    assert!(
        text.contains("alice logged in to the console from 127.0.0.1"),
        "{text}"
    );
    assert!(text.contains("alice logged out of the console"), "{text}");
}

#[test]
fn a_login_flood_is_slowed_and_the_right_password_works_afterwards() {
    let console = Console::start("max_login_delay = 2");
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(console.login_as(USER, "wrong password here").status);
    }
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
    assert_eq!(
        statuses[..3],
        [401, 401, 401],
        "the first mistakes are free: {statuses:?}"
    );
    assert!(
        statuses.contains(&429),
        "the flood was never slowed: {statuses:?}"
    );
    // While the wait runs, even the right password is not looked at.
    let early = console.login_as(USER, PASSWORD);
    if early.status == 429 {
        let wait: u64 = early.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=2).contains(&wait), "{wait}");
        assert!(early.json()["fix"].as_str().unwrap().starts_with("wait "));
        std::thread::sleep(Duration::from_secs(wait) + Duration::from_millis(300));
    }
    let later = console.login_as(USER, PASSWORD);
    assert_eq!(later.status, 200, "{}", later.text());
    // Unknown users are refused in the same words, and counted by address.
    let unknown = console.login_as("mallory", "whatever whatever");
    assert!(unknown.status == 401 || unknown.status == 429);
    let log = console
        .env
        .run(&["log", "--json", "--limit", "500"])
        .ok()
        .json();
    let failures = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "console-login-failed")
        .count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(failures, 12 - refused + usize::from(unknown.status == 401));
}

#[test]
fn uploads_over_the_limit_and_path_traversal_export_names_are_refused() {
    let console = Console::start("max_upload = 16384");
    let session = console.login();
    let before = console.env.snapshot().list;
    let big = json!({"file_name": "big.pfx", "file": "A".repeat(20_000)});
    let reply = console.call(&session, "POST", "/api/v1/import", Some(big));
    assert_eq!(reply.status, 413, "{}", reply.text());
    assert!(reply.json()["error"]
        .as_str()
        .unwrap()
        .contains("16384 bytes"));
    assert_eq!(
        console.env.snapshot().list,
        before,
        "a refused upload changed the store"
    );

    let thumb = console.env.list()[0]["thumbprint"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/v1/certificates/{thumb}/export");
    for name in [
        "../../etc/cron.d/x.pfx",
        "..\\..\\x.pfx",
        "a/b.pfx",
        "x\"; y.pfx",
    ] {
        let reply = console.call(
            &session,
            "POST",
            &path,
            Some(json!({"password": "export-password", "file_name": name})),
        );
        assert_eq!(reply.status, 400, "{name}: {}", reply.text());
        assert!(reply.json()["fix"]
            .as_str()
            .unwrap()
            .contains("plain file name"));
    }
    // A good name: a PFX that OpenSSL opens with the password, and the
    // export is in the audit log with the user's name.
    let reply = console.call(
        &session,
        "POST",
        &path,
        Some(json!({"password": "export-password", "file_name": "mail.pfx"})),
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.header("content-disposition"),
        Some("attachment; filename=\"mail.pfx\"")
    );
    let pfx = console.env.write("mail.pfx", &reply.body);
    let text = mailcert_testkit::openssl(
        console.env.dir(),
        &[
            "pkcs12",
            "-in",
            pfx.to_str().unwrap(),
            "-nodes",
            "-passin",
            "pass:export-password",
        ],
    );
    assert!(
        text.contains("PRIVATE KEY") && text.contains("CERTIFICATE"),
        "{text}"
    );
    let log = console.env.run(&["log", "--json"]).ok().json().to_string();
    assert!(
        log.contains("alice (console from 127.0.0.1)")
            && log.contains("the console download 'mail.pfx'"),
        "{log}"
    );
}

#[test]
fn the_api_answers_what_the_command_line_prints() {
    let console = Console::start("");
    let session = console.login();
    // GET /certificates is `list --json`.
    let listed = console
        .call(&session, "GET", "/api/v1/certificates", None)
        .json();
    let cli: serde_json::Value =
        serde_json::from_str(&console.env.run(&["list", "--json"]).ok().stdout).unwrap();
    // Read at two moments: a day may end between them.
    assert_eq!(without_the_clock(listed), without_the_clock(cli.clone()));

    // Errors are the command's sentences.
    let thumb = cli[0]["thumbprint"].as_str().unwrap();
    let refused = console.call(
        &session,
        "POST",
        &format!("/api/v1/certificates/{thumb}/remove"),
        Some(json!({})),
    );
    assert_eq!(refused.status, 400);
    let stderr = console.env.run(&["remove", thumb]).fails_with(2).stderr;
    let error = refused.json();
    assert_eq!(
        format!("mailcert: {}", error["error"].as_str().unwrap()),
        stderr.trim_end()
    );
    assert!(
        error["fix"]
            .as_str()
            .unwrap()
            .starts_with("move its bindings to another certificate first"),
        "{error}"
    );

    // A self-signed certificate made in the console, then assigned, is
    // what the command line sees, and the audit log names the user.
    let made = console.call(
        &session,
        "POST",
        "/api/v1/certificates",
        Some(json!({"self_signed": true, "names": ["imap.example.test", "smtp.example.test"]})),
    );
    assert_eq!(made.status, 200, "{}", made.text());
    let new_thumb = made.json()["thumbprint"].as_str().unwrap().to_string();
    let pre = console.call(
        &session,
        "POST",
        &format!("/api/v1/certificates/{new_thumb}/preflight"),
        Some(json!({"services": ["imap", "smtp"]})),
    );
    assert_eq!(pre.status, 200, "{}", pre.text());
    let enabled = console.call(
        &session,
        "POST",
        &format!("/api/v1/certificates/{new_thumb}/enable"),
        Some(json!({"services": ["imap", "smtp"]})),
    );
    assert_eq!(enabled.status, 200, "{}", enabled.text());
    let shown = console.env.show(&new_thumb);
    assert_eq!(shown["services"], json!(["imap", "smtp"]));
    let log = console.env.run(&["log", "--json"]).ok().json();
    let entry = log
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "enable")
        .unwrap();
    assert_eq!(entry["user"], "alice (console from 127.0.0.1)");
}

/// Accounts, sessions and failed-login counters are named values of the
/// store: the console works the same on the PostgreSQL store a fleet
/// shares.
#[test]
fn the_console_works_on_a_postgresql_store() {
    let pg = mailcert_testkit::Postgres::shared();
    let db = pg.database("console");
    let key = tempfile::tempdir().unwrap();
    let key_file = key.path().join("store.key");
    let console = Console::start_on(Some((db.url.clone(), key_file)), "");
    assert_eq!(console.login_as(USER, "wrong password here").status, 401);
    let session = console.login();
    let made = console.call(
        &session,
        "POST",
        "/api/v1/certificates",
        Some(json!({"self_signed": true, "names": ["pg.example.test"]})),
    );
    assert_eq!(made.status, 200, "{}", made.text());
    let listed = console
        .call(&session, "GET", "/api/v1/certificates", None)
        .json();
    let cli: serde_json::Value =
        serde_json::from_str(&console.run(&["list", "--json"]).ok().stdout).unwrap();
    // Read at two moments: `days_left` of a certificate made a moment
    // ago can drop by one between them.
    assert_eq!(without_the_clock(listed), without_the_clock(cli));
    let users = console
        .run(&["console", "user", "list", "--json"])
        .ok()
        .json();
    assert_eq!(users[0]["sessions"], 1, "{users}");
    console.call(&session, "POST", "/api/v1/logout", Some(json!({})));
    assert_eq!(
        console
            .call(&session, "GET", "/api/v1/certificates", None)
            .status,
        401
    );
    let log = console.run(&["log", "--json"]).ok().stdout;
    assert!(log.contains("failed console login as 'alice'"), "{log}");
    assert!(log.contains("alice logged out of the console"), "{log}");
}

/// A `[console] certificate` pin that matches nothing would fail every
/// handshake: serve refuses to start, naming the line's value.
#[test]
fn a_console_pin_that_matches_nothing_stops_serve() {
    let env = crate::cli();
    env.init("mail.contoso.com");
    let port = mailcert_testkit::free_port();
    let redirect = mailcert_testkit::free_port();
    let config = env.write(
        "mailcert.toml",
        format!(
            "[[redirect]]\nname = \"http\"\nbind = \"127.0.0.1:{redirect}\"\n\n[console]\nbind = \"127.0.0.1:{port}\"\ncertificate = \"FFFF\"\n"
        ),
    );
    let run = env
        .run(&["serve", "--config", config.to_str().unwrap()])
        .fails_with(2);
    assert!(
        run.stderr.contains("[console] certificate = \"FFFF\"")
            && run
                .stderr
                .contains("no certificate in the store matches it"),
        "{}",
        run.stderr
    );
}
