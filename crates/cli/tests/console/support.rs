//! A store with a console user, `mailcert serve` with `[console]`, and
//! curl as the client (trusting the store's self-signed certificate for
//! mail.example.test, as an administrator would after importing it).

use mailcert_testkit::{free_port, Curl, HttpReply};

use std::path::PathBuf;
use std::process::Command;

use crate::common::{serve, to_run, Env, Run, Serve};

pub const HOST: &str = "mail.example.test";
pub const USER: &str = "alice";
pub const PASSWORD: &str = "correct horse battery staple";
pub const COOKIE: &str = "__Host-mailcert-session";

pub struct Console {
    pub env: Env,
    /// A PostgreSQL store (URL, key file) instead of the Env's file.
    pub store: Option<(String, PathBuf)>,
    pub curl: Curl,
    _serve: Serve,
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

    /// A `mailcert` command on this console's store.
    pub fn command(env: &Env, store: &Option<(String, PathBuf)>, args: &[&str]) -> Command {
        let mut command = env.command(args);
        // One node: on a shared store, each node has its own
        // secure-by-default certificate.
        command.env("MAILCERT_NODE", "node1");
        if let Some((url, key)) = store {
            command
                .env("MAILCERT_STORE", url)
                .env("MAILCERT_STORE_KEY_FILE", key);
        }
        command
    }

    pub fn run(&self, args: &[&str]) -> Run {
        to_run(
            Console::command(&self.env, &self.store, args)
                .output()
                .expect("run mailcert"),
        )
    }

    /// Serves a fresh store (`store`: a PostgreSQL URL and key file
    /// instead of the Env's file); `extra` goes into `[console]`.
    pub fn start_on(store: Option<(String, PathBuf)>, extra: &str) -> Console {
        let env = Env::new();
        let run = |args: &[&str]| {
            to_run(
                Console::command(&env, &store, args)
                    .output()
                    .expect("run mailcert"),
            )
        };
        run(&["init", "--hostname", HOST]).ok();
        let pw = env.write("pw", format!("{PASSWORD}\n"));
        let pw = pw.to_str().unwrap();
        run(&["console", "user", "add", USER, "--password-file", pw]).ok();
        let list = run(&["list", "--json"]).ok().json();
        let thumb = list[0]["thumbprint"].as_str().unwrap().to_string();
        let pem = run(&["show", &thumb, "--pem"]).ok().stdout;
        let ca = env.write("console-ca.pem", pem);
        let port = free_port();
        let redirect = free_port();
        let config = env.write(
            "mailcert.toml",
            format!(
                "[[redirect]]\nname = \"http\"\nbind = \"127.0.0.1:{redirect}\"\n\n[console]\nbind = \"127.0.0.1:{port}\"\n{extra}\n"
            ),
        );
        let served = serve(Console::command(
            &env,
            &store,
            &["serve", "--config", config.to_str().unwrap()],
        ));
        let curl = Curl::new(HOST, port, &ca, env.dir.path());
        Console {
            env,
            store,
            curl,
            _serve: served,
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
