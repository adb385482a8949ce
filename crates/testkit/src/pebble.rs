//! pebble (Let's Encrypt's test ACME server) and pebble-challtestsrv
//! (its DNS), started on free loopback ports in a temporary directory and
//! killed when dropped. Offline, every name resolves to 127.0.0.1 through
//! challtestsrv.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::pki::{san, Key, OpensslPki};
use crate::{free_port, wait_for_port_of, TempDir};

#[derive(Default)]
pub struct PebbleOptions {
    /// Seconds of validity of issued certificates (pebble's default is 5 years).
    pub validity_secs: Option<u64>,
    /// Keep pebble's default 5 % nonce rejection (proves retries).
    pub reject_nonces: bool,
    /// `PEBBLE_AUTHZREUSE`: how often (percent) pebble hands an order a
    /// valid authorization the account already holds for a name. Default
    /// 0, which is not never: pebble makes a new authorization only when
    /// `rand.Intn(100) > percent`, so 1 % of orders still get a reused
    /// one. 100 reuses every time a valid one exists, which is how a test
    /// proves that mailcert leaves none behind.
    pub authz_reuse: u8,
    /// The resolver pebble's validator asks (DNS-01 through a real zone,
    /// e.g. the DNS testbed's Unbound) instead of challtestsrv.
    pub dns_server: Option<std::net::SocketAddr>,
}

pub struct Pebble {
    pub dir: TempDir,
    /// `https://127.0.0.1:PORT/dir`
    pub directory: String,
    /// CA file that trusts pebble's own HTTPS listener.
    pub listener_ca: PathBuf,
    /// pebble's issuing root (fetched from `/roots/0` after start).
    pub root: PathBuf,
    /// Ports pebble's validator connects to for HTTP-01 and TLS-ALPN-01.
    pub http_port: u16,
    pub tls_port: u16,
    /// challtestsrv management port (`/set-txt`, `/clear-txt`).
    pub challtest_port: u16,
    children: Vec<Child>,
}

impl Drop for Pebble {
    fn drop(&mut self) {
        for child in &mut self.children {
            crate::kill_child(child);
        }
    }
}

/// The log a peer appends to, from stdout and stderr alike.
fn log_file(path: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("a peer's log file")
}

impl Pebble {
    /// Starts pebble and challtestsrv; a start that fails (a port taken
    /// between choosing and binding it) is retried on fresh ports.
    pub fn start(options: PebbleOptions) -> Pebble {
        let mut failures = Vec::new();
        for _ in 0..3 {
            match Pebble::try_start(&options) {
                Ok(pebble) => return pebble,
                Err(failure) => failures.push(failure),
            }
        }
        panic!(
            "pebble did not start three times:\n{}",
            failures.join("\n---\n")
        );
    }

    fn try_start(options: &PebbleOptions) -> Result<Pebble, String> {
        for tool in ["pebble", "pebble-challtestsrv", "curl"] {
            assert!(
                Command::new("sh")
                    .arg("-c")
                    .arg(format!("command -v {tool}"))
                    .stdout(Stdio::null())
                    .status()
                    .map(|s| s.success())
                    .unwrap_or(false),
                "{tool} is not installed: run scripts/install-peers.sh"
            );
        }
        let dir = crate::temp_dir();
        let path = |name: &str| dir.path().join(name);

        // pebble's own HTTPS certificate, from a throwaway CA.
        let pki = OpensslPki::in_dir(dir.path());
        let ca = pki.root("listener-ca", "pebble listener test CA");
        let csr = pki.request("listener", "localhost", Key::EcP256);
        pki.sign_request(
            &ca,
            &csr,
            &format!(
                "basicConstraints=CA:FALSE\nsubjectAltName={}\n",
                san(&["localhost", "127.0.0.1"])
            ),
            3650,
            &path("listener.pem"),
        );

        let dir_port = free_port();
        let mgmt_port = free_port();
        let dns_port = free_port();
        let challtest_port = free_port();
        let http_port = free_port();
        let tls_port = free_port();
        let mut pebble = serde_json::json!({
            "listenAddress": format!("127.0.0.1:{dir_port}"),
            "managementListenAddress": format!("127.0.0.1:{mgmt_port}"),
            "certificate": path("listener.pem"),
            "privateKey": path("listener.key"),
            "httpPort": http_port,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        });
        if let Some(secs) = options.validity_secs {
            pebble["certificateValidityPeriod"] = secs.into();
        }
        std::fs::write(
            path("pebble.json"),
            serde_json::to_vec_pretty(&serde_json::json!({ "pebble": pebble })).unwrap(),
        )
        .unwrap();

        let mut children = Vec::new();
        let challtest_log = path("challtestsrv.log");
        children.push(
            Command::new("pebble-challtestsrv")
                .args(["-management", &format!("127.0.0.1:{challtest_port}")])
                .args(["-dns01", &format!("127.0.0.1:{dns_port}")])
                .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
                .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
                .stdout(log_file(&challtest_log))
                .stderr(log_file(&challtest_log))
                .spawn()
                .expect("start pebble-challtestsrv"),
        );
        let pebble_log = path("pebble.log");
        let mut command = Command::new("pebble");
        command
            .arg("-config")
            .arg(path("pebble.json"))
            .args([
                "-dnsserver",
                &options
                    .dns_server
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| format!("127.0.0.1:{dns_port}")),
            ])
            .arg("-strict=false")
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_AUTHZREUSE", options.authz_reuse.to_string())
            .stdout(log_file(&pebble_log))
            // Go's log package writes to stderr: a bind failure lands here.
            .stderr(log_file(&pebble_log));
        if !options.reject_nonces {
            command.env("PEBBLE_WFE_NONCEREJECT", "0");
        }
        children.push(command.spawn().expect("start pebble"));
        let mut me = Pebble {
            directory: format!("https://127.0.0.1:{dir_port}/dir"),
            listener_ca: path("listener-ca.pem"),
            root: path("root.pem"),
            http_port,
            tls_port,
            challtest_port,
            children,
            dir,
        };
        wait_for_port_of(
            challtest_port,
            "pebble-challtestsrv",
            &challtest_log,
            &mut me.children,
        )?;
        wait_for_port_of(dir_port, "pebble", &pebble_log, &mut me.children)?;
        wait_for_port_of(
            mgmt_port,
            "pebble (management)",
            &pebble_log,
            &mut me.children,
        )?;
        let root = me.curl(&format!("https://127.0.0.1:{mgmt_port}/roots/0"));
        assert!(root.contains("BEGIN CERTIFICATE"), "pebble's root: {root}");
        std::fs::write(&me.root, root).unwrap();
        me.children.shrink_to_fit();
        Ok(me)
    }

    fn curl(&self, url: &str) -> String {
        let out = Command::new("curl")
            .args(["-sSf", "--max-time", "10", "--cacert"])
            .arg(&self.listener_ca)
            .arg(url)
            .output()
            .expect("run curl");
        assert!(
            out.status.success(),
            "curl {url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn listener_ca_pem(&self) -> String {
        std::fs::read_to_string(&self.listener_ca).unwrap()
    }

    pub fn http_bind(&self) -> String {
        format!("127.0.0.1:{}", self.http_port)
    }

    pub fn tls_bind(&self) -> String {
        format!("127.0.0.1:{}", self.tls_port)
    }

    /// A DNS-01 hook script that publishes through challtestsrv; with
    /// `working: false` it succeeds without publishing anything.
    pub fn dns_hook(&self, working: bool) -> PathBuf {
        let path = self
            .dir
            .path()
            .join(if working { "hook.sh" } else { "lazy-hook.sh" });
        let port = self.challtest_port;
        let body = if working {
            format!(
                r#"#!/bin/sh
set -eu
action=$1; fqdn=$2; value=$3
[ "$MAILCERT_ACME_FQDN" = "$fqdn" ] || {{ echo "env and argument disagree" >&2; exit 3; }}
case "$action" in
  set) curl -sSf -X POST -d "{{\"host\":\"$fqdn.\",\"value\":\"$value\"}}" http://127.0.0.1:{port}/set-txt ;;
  clear) curl -sSf -X POST -d "{{\"host\":\"$fqdn.\"}}" http://127.0.0.1:{port}/clear-txt ;;
  *) echo "unknown action $action" >&2; exit 2 ;;
esac
echo "$action $fqdn $MAILCERT_ACME_NAME" >> "$(dirname "$0")/hook.log"
"#
            )
        } else {
            "#!/bin/sh\nexit 0\n".to_string()
        };
        std::fs::write(&path, body).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }
}
