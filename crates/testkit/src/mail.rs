//! Dovecot and Postfix as backends, per the project's peer runbook: their
//! own directories, ports and logs; PROXY-protocol listeners beside the
//! plain ones; stopped when dropped. Postfix also as a sending server
//! ([`PostfixSender`]), for DANE.

use std::os::unix::fs::chown;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use std::time::Duration;

use crate::{free_port, set_mode, stop_child, wait_for_port, wait_until};

/// The one mail user of the test backends.
pub const USER: &str = "test";
pub const PASSWORD: &str = "secret";
/// Mail belongs to this uid/gid (Dovecot and Postfix refuse root).
const MAIL_ID: u32 = 65534;

/// How Dovecot is set up.
#[derive(Debug, Clone, Default)]
pub struct DovecotOptions {
    /// `disable_plaintext_auth = yes`: logins only on secured sessions
    /// (TLS, or PROXY v2 with the SSL TLV, or from the local address).
    pub disable_plaintext_auth: bool,
    /// The address it listens on (`None`: 127.0.0.1). Dovecot counts a
    /// connection whose local and remote addresses are equal as secured;
    /// 127.0.0.2 shows what a client on the network sees.
    pub listen: Option<&'static str>,
    /// TLS of its own: the certificate chain (PEM, leaf first) and key;
    /// STARTTLS is then offered, and IMAPS and POP3S listen.
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// A running Dovecot (IMAP and POP3; TLS only when asked for).
pub struct Dovecot {
    child: Child,
    /// The address it listens on.
    pub listen: &'static str,
    pub imap: u16,
    /// Implicit-TLS IMAP (0 without TLS).
    pub imaps: u16,
    /// IMAP listener that expects a PROXY header (`haproxy = yes`).
    pub imap_proxy: u16,
    pub pop3: u16,
    /// Implicit-TLS POP3 (0 without TLS).
    pub pop3s: u16,
    pub pop3_proxy: u16,
    pub log: PathBuf,
    /// `<mail_root>/<user>/Maildir`.
    pub mail_root: PathBuf,
}

impl Dovecot {
    /// Starts Dovecot under `dir` (created), and waits for its ports.
    pub fn start(dir: &Path, options: DovecotOptions) -> Dovecot {
        let root = dir.join("dovecot");
        let mail_root = root.join("mail");
        std::fs::create_dir_all(&mail_root).expect("dovecot dirs");
        set_mode(dir, 0o755);
        set_mode(&root, 0o755);
        chown(&mail_root, Some(MAIL_ID), Some(MAIL_ID))
            .expect("chown mail root (run tests as root)");
        let r = root.display();
        let (imap, imap_proxy, pop3, pop3_proxy) =
            (free_port(), free_port(), free_port(), free_port());
        let listen = options.listen.unwrap_or("127.0.0.1");
        let (ssl, imaps, pop3s) = match &options.tls {
            Some((chain, key)) => (
                format!(
                    "ssl = yes\nssl_cert = <{}\nssl_key = <{}\n",
                    chain.display(),
                    key.display()
                ),
                free_port(),
                free_port(),
            ),
            None => ("ssl = no\n".to_string(), 0, 0),
        };
        let log = root.join("dovecot.log");
        let users = root.join("users");
        std::fs::write(&users, format!("{USER}:{{PLAIN}}{PASSWORD}::::::\n")).expect("users");
        let config = format!(
            "base_dir = {r}/run\nstate_dir = {r}/state\nlog_path = {r}/dovecot.log\ninfo_log_path = {r}/dovecot.log\n\
             protocols = imap pop3\nlisten = {listen}\n{ssl}\
             disable_plaintext_auth = {dpa}\nauth_mechanisms = plain login\n\
             haproxy_trusted_networks = 127.0.0.0/8 ::1\nauth_verbose = yes\n\
             passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {users}\n}}\n\
             userdb {{\n  driver = static\n  args = uid={MAIL_ID} gid={MAIL_ID} home={r}/mail/%u\n}}\n\
             mail_location = maildir:~/Maildir\n\
             service imap-login {{\n  chroot =\n  inet_listener imap {{\n    port = {imap}\n  }}\n  inet_listener imap_haproxy {{\n    port = {imap_proxy}\n    haproxy = yes\n  }}\n  inet_listener imaps {{\n    port = {imaps}\n  }}\n}}\n\
             service pop3-login {{\n  chroot =\n  inet_listener pop3 {{\n    port = {pop3}\n  }}\n  inet_listener pop3_haproxy {{\n    port = {pop3_proxy}\n    haproxy = yes\n  }}\n  inet_listener pop3s {{\n    port = {pop3s}\n  }}\n}}\n",
            dpa = if options.disable_plaintext_auth { "yes" } else { "no" },
            users = users.display(),
        );
        let conf = root.join("dovecot.conf");
        std::fs::write(&conf, config).expect("dovecot.conf");
        let child = Command::new("dovecot")
            .arg("-F")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting dovecot (run scripts/install-peers.sh)");
        // Dovecot forks its login processes after it starts: the
        // plaintext ports are ready when they greet; the others (TLS, or
        // PROXY, which greet only after a handshake or a header) when
        // they accept.
        for port in [imap, pop3] {
            wait_for_greeting(listen, port, &log);
        }
        for port in [imap_proxy, pop3_proxy, imaps, pop3s] {
            if port == 0 {
                continue;
            }
            wait_until(
                &format!("dovecot listening on {listen}:{port}"),
                Duration::from_secs(20),
                || std::net::TcpStream::connect((listen, port)).is_ok(),
            );
        }
        Dovecot {
            child,
            listen,
            imap,
            imaps,
            pop3s,
            imap_proxy,
            pop3,
            pop3_proxy,
            log,
            mail_root,
        }
    }

    /// Dovecot's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The user's new-mail directory.
    pub fn new_mail_dir(&self) -> PathBuf {
        self.mail_root.join(USER).join("Maildir").join("new")
    }

    /// Puts a message straight into the user's INBOX.
    pub fn deliver(&self, name: &str, message: &str) {
        let maildir = self.mail_root.join(USER).join("Maildir");
        for sub in ["", "new", "cur", "tmp"] {
            let d = maildir.join(sub);
            std::fs::create_dir_all(&d).expect("maildir");
            chown(&d, Some(MAIL_ID), Some(MAIL_ID)).expect("chown maildir");
        }
        chown(self.mail_root.join(USER), Some(MAIL_ID), Some(MAIL_ID)).expect("chown home");
        let file = maildir.join("new").join(name);
        std::fs::write(&file, message.replace('\n', "\r\n")).expect("message");
        chown(&file, Some(MAIL_ID), Some(MAIL_ID)).expect("chown message");
    }
}

/// Waits until `host:port` greets; panics with the log after a while.
fn wait_for_greeting(host: &str, port: u16, log: &Path) {
    use std::io::BufRead;
    let greeted = || {
        let Ok(stream) = std::net::TcpStream::connect((host, port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let mut line = String::new();
        std::io::BufReader::new(stream).read_line(&mut line).is_ok() && !line.is_empty()
    };
    let start = std::time::Instant::now();
    while !greeted() {
        if start.elapsed() > Duration::from_secs(20) {
            panic!(
                "dovecot does not answer on {host}:{port}; its log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        stop_child(&mut self.child);
    }
}

/// A running Postfix that delivers `test@example.test` into a Dovecot's
/// maildir.
pub struct Postfix {
    process: PostfixProcess,
    pub smtp: u16,
    /// SMTP listener that expects a PROXY header.
    pub smtp_proxy: u16,
    pub log: PathBuf,
}

const SERVICES: &str = "\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
";

impl Postfix {
    /// Starts Postfix under `dir`, delivering into `dovecot`'s maildirs.
    pub fn start(dir: &Path, dovecot: &Dovecot) -> Postfix {
        let root = dir.join("postfix");
        let (smtp, smtp_proxy) = (free_port(), free_port());
        let main = format!(
            "{}virtual_mailbox_domains = example.test\nvirtual_mailbox_base = {mail}\n\
             virtual_mailbox_maps = inline:{{ {USER}@example.test={USER}/Maildir/ }}\n\
             virtual_uid_maps = static:{MAIL_ID}\nvirtual_gid_maps = static:{MAIL_ID}\n",
            main_cf_head(&root, "backend.example.test", "all"),
            mail = dovecot.mail_root.display(),
        );
        let master = format!(
            "{smtp}     inet  n       -       n       -       -       smtpd\n\
             {smtp_proxy}     inet  n       -       n       -       -       smtpd\n  -o smtpd_upstream_proxy_protocol=haproxy\n{SERVICES}"
        );
        let process = PostfixProcess::start(&root, Command::new("postfix"), &main, &master);
        wait_for_port(smtp);
        wait_for_port(smtp_proxy);
        Postfix {
            log: process.log.clone(),
            process,
            smtp,
            smtp_proxy,
        }
    }

    pub fn log(&self) -> String {
        self.process.log()
    }
}

/// A Postfix that sends: it takes mail by SMTP on `submit` (from
/// 127.0.0.0/8) and relays what is for `example.test` to `relay`
/// (`[host]:port`), with `main_extra` added to its `main.cf` (DANE:
/// `smtp_tls_security_level = dane`, …). `launcher` runs `postfix` (e.g.
/// in the DNS testbed's resolver namespace); it is given `-c CONF
/// start-fg`.
pub struct PostfixSender {
    process: PostfixProcess,
    pub submit: u16,
    pub log: PathBuf,
}

impl PostfixSender {
    pub fn start(dir: &Path, launcher: Command, relay: &str, main_extra: &str) -> PostfixSender {
        let root = dir.join("postfix-sender");
        let submit = free_port();
        let main = format!(
            "{}transport_maps = inline:{{ example.test=smtp:{relay} }}\n\
             smtp_tls_loglevel = 1\n{main_extra}\n",
            main_cf_head(&root, "sender.example.net", "ipv4"),
        );
        let master =
            format!("{submit}     inet  n       -       n       -       -       smtpd\n{SERVICES}");
        let process = PostfixProcess::start(&root, launcher, &main, &master);
        wait_for_port(submit);
        PostfixSender {
            log: process.log.clone(),
            process,
            submit,
        }
    }

    /// Hands one message for `to` to this Postfix by SMTP (Python's
    /// smtplib); it is queued for delivery when this returns.
    pub fn send(&self, to: &str, subject: &str) {
        let script = format!(
            "import smtplib\ns = smtplib.SMTP('127.0.0.1', {})\ns.sendmail('sender@sender.example.net', ['{to}'], 'From: sender@sender.example.net\\r\\nTo: {to}\\r\\nSubject: {subject}\\r\\n\\r\\n{subject}\\r\\n')\ns.quit()\n",
            self.submit
        );
        let out = Command::new("/usr/bin/python3")
            .args(["-c", &script])
            .output()
            .expect("running python3");
        assert!(
            out.status.success(),
            "handing a message to Postfix: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The queue as `postqueue -p` shows it (empty when all is delivered).
    pub fn queue(&self) -> String {
        let out = Command::new("postqueue")
            .arg("-c")
            .arg(&self.process.conf)
            .arg("-p")
            .output()
            .expect("postqueue");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn log(&self) -> String {
        self.process.log()
    }
}

/// One Postfix instance of either kind: its configuration directory, its
/// log, and the `start-fg` process; stopped (`postfix stop`, then the
/// process) when dropped.
struct PostfixProcess {
    child: Child,
    conf: PathBuf,
    log: PathBuf,
}

impl PostfixProcess {
    /// Writes `main` and `master` into `root`'s configuration directory
    /// (made by [`postfix_dirs`]) and runs `launcher -c CONF start-fg`.
    fn start(root: &Path, mut launcher: Command, main: &str, master: &str) -> PostfixProcess {
        let conf = postfix_dirs(root);
        std::fs::write(conf.join("main.cf"), main).expect("main.cf");
        std::fs::write(conf.join("master.cf"), master).expect("master.cf");
        let child = launcher
            .arg("-c")
            .arg(&conf)
            .arg("start-fg")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting postfix (run scripts/install-peers.sh)");
        PostfixProcess {
            child,
            conf,
            log: root.join("postfix.log"),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for PostfixProcess {
    fn drop(&mut self) {
        let _ = Command::new("postfix")
            .arg("-c")
            .arg(&self.conf)
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        stop_child(&mut self.child);
    }
}

/// The first lines of a `main.cf` under `root`, per the runbook: its own
/// spool, data directory and log; `hostname`; loopback only; no local
/// delivery.
fn main_cf_head(root: &Path, hostname: &str, inet_protocols: &str) -> String {
    let r = root.display();
    format!(
        "compatibility_level = 3.6\nqueue_directory = {r}/spool\ndata_directory = {r}/data\n\
         maillog_file = {r}/postfix.log\nmaillog_file_prefixes = {r}, /var, /dev/stdout\n\
         myhostname = {hostname}\nmyorigin = $myhostname\nmydestination =\n\
         inet_interfaces = 127.0.0.1\ninet_protocols = {inet_protocols}\nmynetworks = 127.0.0.0/8\n\
         alias_maps =\nalias_database =\nlocal_recipient_maps =\n"
    )
}

/// `root` with `conf/`, `data/` (owned by postfix) and `spool/`; returns
/// `conf`.
fn postfix_dirs(root: &Path) -> PathBuf {
    let conf = root.join("conf");
    let data = root.join("data");
    for d in [&conf, &data, &root.join("spool")] {
        std::fs::create_dir_all(d).expect("postfix dirs");
    }
    set_mode(root, 0o755);
    let postfix_ids = Command::new("id").args(["-u", "postfix"]).output().ok();
    let uid = postfix_ids
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<u32>()
                .ok()
        })
        .expect("the postfix user exists (install postfix)");
    chown(&data, Some(uid), None).expect("chown data_directory");
    conf
}
