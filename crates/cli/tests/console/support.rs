//! A store with a console user, `mailcert serve` with `[console]`, and
//! curl as the client (trusting the store's self-signed certificate for
//! mail.example.test, as an administrator would after importing it).

use mailcert_testkit::{free_port, Cli, Curl, HttpReply, Run, Serve};

use std::path::PathBuf;

use crate::{cli, MAILCERT};

pub const HOST: &str = "mail.example.test";
pub const USER: &str = "alice";
pub const PASSWORD: &str = "correct horse battery staple";
pub const COOKIE: &str = "__Host-mailcert-session";

pub struct Console {
    /// The test's directory and its file store.
    pub env: Cli,
    /// The store the console serves (the env's, or a PostgreSQL store),
    /// as node1 runs commands on it.
    pub node: Cli,
    pub curl: Curl,
    /// The console's port.
    pub port: u16,
    /// serve's configuration file and its `[[redirect]]` port.
    pub config: PathBuf,
    pub redirect: u16,
    pub serve: Serve,
}

/// A logged-in session: its cookie and CSRF token.
#[derive(Debug, Clone)]
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

impl Console {
    /// Serves a fresh store; `extra` goes into `[console]`.
    pub fn start(extra: &str) -> Console {
        Console::start_on(None, extra)
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.node.run(args)
    }

    /// Serves a fresh store (`store`: a PostgreSQL URL and key file
    /// instead of the Env's file); `extra` goes into `[console]`.
    pub fn start_on(store: Option<(String, PathBuf)>, extra: &str) -> Console {
        let env = cli();
        // One node: on a shared store, each node has its own
        // secure-by-default certificate.
        let mut node = Cli::in_dir(MAILCERT, env.dir()).with_env("MAILCERT_NODE", "node1");
        if let Some((url, key)) = &store {
            node = node.with_store(url, Some(key));
        }
        node.ok(&["init", "--hostname", HOST]);
        let pw = env.write("pw", format!("{PASSWORD}\n"));
        let pw = pw.to_str().unwrap();
        node.ok(&["console", "user", "add", USER, "--password-file", pw]);
        let list = node.ok(&["list", "--json"]).json();
        let thumb = list[0]["thumbprint"].as_str().unwrap().to_string();
        let pem = node.ok(&["show", &thumb, "--pem"]).stdout;
        let ca = env.write("console-ca.pem", pem);
        let port = free_port();
        let redirect = free_port();
        let config = env.write(
            "mailcert.toml",
            format!(
                "[[redirect]]\nname = \"http\"\nbind = \"127.0.0.1:{redirect}\"\n\n[console]\nbind = \"127.0.0.1:{port}\"\n{extra}\n"
            ),
        );
        let served = node.serve(&["--config", config.to_str().unwrap()]);
        let curl = Curl::new(HOST, port, &ca, env.dir());
        Console {
            env,
            node,
            curl,
            port,
            config,
            redirect,
            serve: served,
        }
    }

    pub fn login_as(&self, user: &str, password: &str) -> HttpReply {
        let body = serde_json::json!({"user": user, "password": password}).to_string();
        self.curl.request(
            "POST",
            "/api/v1/login",
            &[("Content-Type", "application/json")],
            Some(body.as_bytes()),
        )
    }

    #[track_caller]
    pub fn login(&self) -> Session {
        let reply = self.login_as(USER, PASSWORD);
        assert_eq!(reply.status, 200, "{}", reply.text());
        Session {
            cookie: reply.cookie(COOKIE).expect("a session cookie"),
            csrf: reply.json()["csrf_token"].as_str().unwrap().to_string(),
        }
    }

    /// A request with the session's cookie and (for changes) its token.
    pub fn call(
        &self,
        session: &Session,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> HttpReply {
        let cookie = format!("{COOKIE}={}", session.cookie);
        let mut headers = vec![("Cookie", cookie.as_str())];
        if method != "GET" {
            headers.push(("X-CSRF-Token", session.csrf.as_str()));
            headers.push(("Content-Type", "application/json"));
        }
        let body = body.map(|b| b.to_string());
        self.curl
            .request(method, path, &headers, body.as_deref().map(str::as_bytes))
    }
}
