//! DNS peers: Knot DNS as the authoritative server of made-up zones
//! (DNSSEC-signed by Knot itself, dynamic updates allowed with a TSIG key,
//! optionally a secondary that follows the primary by NOTIFY and IXFR) and
//! Unbound as a validating resolver that holds the signed zones' trust
//! anchors — the setup a DANE or MTA-STS deployment sees, offline, on
//! loopback.
//!
//! DNS clients other than ours (Postfix, glibc) only speak to port 53 and
//! find their resolver in `/etc/resolv.conf`, so every server here listens
//! on port 53 of a loopback address of its own (`127.A.B.1` the primary,
//! `.2` the secondary, `.3` the resolver, `A.B` chosen per testbed), and
//! [`DnsPeers::command_with_resolver`] runs a program in a private mount
//! namespace where `/etc/resolv.conf` names this resolver. Binding port 53
//! needs root, as the rest of the suite does.
//!
//! Records are changed with `knotc` zone transactions on the primary (the
//! administrator's way, not the one under test) and read back with `kdig`.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use crate::{random_seed, stop_child, wait_until};

/// Where Debian puts the peers' programs (knot, knot-dnsutils, unbound).
pub const KNOTD: &str = "/usr/sbin/knotd";
pub const KNOTC: &str = "/usr/sbin/knotc";
pub const KDIG: &str = "/usr/bin/kdig";
pub const UNBOUND: &str = "/usr/sbin/unbound";
pub const UNBOUND_CONTROL: &str = "/usr/sbin/unbound-control";

/// The name of the TSIG key that may update every zone.
pub const TSIG_KEY_NAME: &str = "mailcert-update";

/// One zone of the testbed.
#[derive(Debug, Clone)]
pub struct ZoneOptions {
    /// The zone's apex, without the final dot (`example.test`).
    pub name: String,
    /// Signed by the primary with DNSSEC (ECDSA P-256, NSEC), and its
    /// key-signing key a trust anchor of the resolver. Unsigned zones are
    /// answered by the resolver without the AD bit.
    pub signed: bool,
    /// Default TTL of the zone's records, seconds.
    pub ttl: u32,
    /// More records, as zone-file lines relative to the apex
    /// (`mx1 IN A 127.0.0.1`, `@ IN MX 10 mx1`).
    pub records: Vec<String>,
}

impl ZoneOptions {
    pub fn signed(name: &str) -> ZoneOptions {
        ZoneOptions {
            name: name.trim_end_matches('.').to_string(),
            signed: true,
            ttl: 60,
            records: Vec::new(),
        }
    }

    pub fn unsigned(name: &str) -> ZoneOptions {
        ZoneOptions {
            signed: false,
            ..ZoneOptions::signed(name)
        }
    }

    pub fn record(mut self, line: &str) -> ZoneOptions {
        self.records.push(line.to_string());
        self
    }
}

/// What to start.
#[derive(Debug, Clone)]
pub struct DnsOptions {
    pub zones: Vec<ZoneOptions>,
    /// Start a secondary authoritative server (`ns2`) beside the primary.
    pub secondary: bool,
}

impl DnsOptions {
    /// One signed zone, a primary and a secondary.
    pub fn signed_zone(name: &str) -> DnsOptions {
        DnsOptions {
            zones: vec![ZoneOptions::signed(name)],
            secondary: true,
        }
    }
}

/// An answer of the validating resolver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// `NOERROR`, `NXDOMAIN`, `SERVFAIL`, …
    pub status: String,
    /// The data of the answer's records of the asked type (`+short` form).
    pub data: Vec<String>,
    /// The AD bit: the resolver validated the answer with DNSSEC.
    pub authenticated: bool,
}

/// A running testbed: authoritative primary, maybe a secondary, and the
/// validating resolver. Stopped and removed when dropped.
pub struct DnsPeers {
    dir: tempfile::TempDir,
    net: [u8; 3],
    options: DnsOptions,
    tsig_secret: String,
    primary: Child,
    secondary: Option<Child>,
    resolver: Child,
}

impl DnsPeers {
    pub fn start(options: DnsOptions) -> DnsPeers {
        assert!(!options.zones.is_empty(), "a DNS testbed needs a zone");
        let dir = tempfile::Builder::new()
            .prefix("mailcert-dns-")
            .tempdir()
            .expect("creating a temporary directory");
        crate::set_mode(dir.path(), 0o755);
        let net = loopback_net();
        let tsig_secret = base64_secret();
        let peers_dir = |name: &str| {
            let path = dir.path().join(name);
            std::fs::create_dir_all(&path).expect("creating a peer's folder");
            path
        };
        let primary_dir = peers_dir("primary");
        let secondary_dir = peers_dir("secondary");
        let resolver_dir = peers_dir("resolver");

        let ip = |host: u8| Ipv4Addr::new(net[0], net[1], net[2], host);
        for zone in &options.zones {
            std::fs::write(
                primary_dir.join(format!("{}.zone", zone.name)),
                zone_file(zone, ip(1), options.secondary.then(|| ip(2))),
            )
            .expect("writing a zone file");
        }
        std::fs::write(
            primary_dir.join("knot.conf"),
            primary_config(&primary_dir, ip(1), &options, &tsig_secret),
        )
        .expect("writing the primary's configuration");
        let primary = start_knot(&primary_dir);
        let mut peers = DnsPeers {
            net,
            tsig_secret,
            primary,
            secondary: None,
            // Replaced below, once the zones' keys exist.
            resolver: Command::new("true").spawn().expect("running true"),
            options,
            dir,
        };
        for zone in &peers.options.zones {
            let name = zone.name.clone();
            let server = peers.primary_addr();
            wait_until(
                &format!("the primary serving {name} (log: {})", peers.primary_log()),
                Duration::from_secs(20),
                || !query_at(server, &name, "SOA").is_empty(),
            );
        }
        if peers.options.secondary {
            std::fs::write(
                secondary_dir.join("knot.conf"),
                secondary_config(&secondary_dir, ip(2), ip(1), &peers.options),
            )
            .expect("writing the secondary's configuration");
            peers.secondary = Some(start_knot(&secondary_dir));
            peers.wait_for_secondary();
        }

        let mut anchors = Vec::new();
        for zone in peers.options.zones.iter().filter(|zone| zone.signed) {
            let keys = query_at(peers.primary_addr(), &zone.name, "DNSKEY");
            let ksk = keys
                .iter()
                .find(|key| key.starts_with("257 "))
                .unwrap_or_else(|| panic!("no key-signing key in {}: {keys:?}", zone.name));
            anchors.push(format!("{}. DNSKEY {ksk}", zone.name));
        }
        std::fs::write(
            resolver_dir.join("unbound.conf"),
            resolver_config(&resolver_dir, &peers, &anchors),
        )
        .expect("writing the resolver's configuration");
        let _ = peers.resolver.wait();
        peers.resolver = spawn_logged(
            Command::new(UNBOUND)
                .args(["-d", "-c"])
                .arg(resolver_dir.join("unbound.conf")),
            &resolver_dir.join("unbound.log"),
        );
        let resolver = peers.resolver_addr();
        let first = peers.options.zones[0].name.clone();
        wait_until(
            &format!(
                "the resolver answering for {first} (log: {})",
                read(&resolver_dir.join("unbound.log"))
            ),
            Duration::from_secs(20),
            || {
                let answer = resolve_at(resolver, &first, "SOA");
                answer.status == "NOERROR" && !answer.data.is_empty()
            },
        );
        peers
    }

    fn ip(&self, host: u8) -> Ipv4Addr {
        Ipv4Addr::new(self.net[0], self.net[1], self.net[2], host)
    }

    /// The primary authoritative server (`ns1.ZONE`), port 53.
    pub fn primary_addr(&self) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(self.ip(1), 53))
    }

    /// The secondary (`ns2.ZONE`), when started.
    pub fn secondary_addr(&self) -> Option<SocketAddr> {
        self.options
            .secondary
            .then(|| SocketAddr::V4(SocketAddrV4::new(self.ip(2), 53)))
    }

    /// The validating resolver, port 53.
    pub fn resolver_addr(&self) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(self.ip(3), 53))
    }

    /// A free loopback address of this testbed's own (`127.A.B.HOST`,
    /// HOST from 10 up), for a server that a zone's records point at.
    pub fn host_ip(&self, host: u8) -> Ipv4Addr {
        assert!(host >= 10, "hosts 1 to 9 are the testbed's own servers");
        self.ip(host)
    }

    pub fn tsig_key_name(&self) -> &str {
        TSIG_KEY_NAME
    }

    /// The TSIG secret (base64), HMAC-SHA256.
    pub fn tsig_secret(&self) -> &str {
        &self.tsig_secret
    }

    /// The key as BIND's `tsig-keygen` writes it.
    pub fn tsig_key_file_bind(&self) -> PathBuf {
        let path = self.dir.path().join("update.key");
        std::fs::write(
            &path,
            format!(
                "key \"{TSIG_KEY_NAME}\" {{\n\talgorithm hmac-sha256;\n\tsecret \"{}\";\n}};\n",
                self.tsig_secret
            ),
        )
        .expect("writing the TSIG key file");
        path
    }

    /// The key as Knot's `keymgr -t` writes it.
    pub fn tsig_key_file_knot(&self) -> PathBuf {
        let path = self.dir.path().join("update.knot.key");
        std::fs::write(
            &path,
            format!(
                "# hmac-sha256:{TSIG_KEY_NAME}:{secret}\nkey:\n  - id: {TSIG_KEY_NAME}\n    algorithm: hmac-sha256\n    secret: {secret}\n",
                secret = self.tsig_secret
            ),
        )
        .expect("writing the TSIG key file");
        path
    }

    /// The key on one line, `hmac-sha256:NAME:SECRET`, as `kdig -y`,
    /// `knsupdate -k` and `nsupdate -y` take it.
    pub fn tsig_key_file_line(&self) -> PathBuf {
        let path = self.dir.path().join("update.line.key");
        std::fs::write(
            &path,
            format!("hmac-sha256:{TSIG_KEY_NAME}:{}\n", self.tsig_secret),
        )
        .expect("writing the TSIG key file");
        path
    }

    /// A `resolv.conf` naming only the testbed's resolver.
    pub fn resolv_conf(&self) -> PathBuf {
        let path = self.dir.path().join("resolv.conf");
        std::fs::write(
            &path,
            format!("nameserver {}\noptions edns0 trust-ad\n", self.ip(3)),
        )
        .expect("writing resolv.conf");
        path
    }

    /// `program` run in a mount namespace of its own where
    /// `/etc/resolv.conf` is [`DnsPeers::resolv_conf`], so that programs
    /// that read only that file (Postfix, anything on glibc's resolver)
    /// ask this testbed's resolver. The rest of the machine is untouched.
    pub fn command_with_resolver(&self, program: &str) -> Command {
        let mut command = Command::new("unshare");
        command
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(format!(
                "mount --bind '{}' /etc/resolv.conf && exec \"$@\"",
                self.resolv_conf().display()
            ))
            .args(["sh", program]);
        command
    }

    /// Adds a record at the primary (`name` absolute or relative to the
    /// zone, `data` in zone-file form); the zone is re-signed and the
    /// secondary follows by NOTIFY.
    pub fn add_record(&self, zone: &str, name: &str, ttl: u32, rtype: &str, data: &str) {
        self.transaction(
            zone,
            &["zone-set", zone, name, &ttl.to_string(), rtype, data],
        );
    }

    /// Replaces every record of `name` and `rtype` by one.
    pub fn set_record(&self, zone: &str, name: &str, ttl: u32, rtype: &str, data: &str) {
        self.remove_records(zone, name, rtype);
        self.add_record(zone, name, ttl, rtype, data);
    }

    /// Removes every record of `name` and `rtype` (none is fine).
    pub fn remove_records(&self, zone: &str, name: &str, rtype: &str) {
        if self.query_primary(&absolute(name, zone), rtype).is_empty() {
            return;
        }
        self.transaction(zone, &["zone-unset", zone, name, rtype]);
    }

    fn transaction(&self, zone: &str, change: &[&str]) {
        self.knotc(&["zone-begin", zone]);
        let out = self.knotc_output(change);
        if !out.status.success() || String::from_utf8_lossy(&out.stdout).contains("error") {
            self.knotc(&["zone-abort", zone]);
            panic!(
                "knotc {change:?} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        self.knotc(&["zone-commit", zone]);
    }

    fn knotc(&self, args: &[&str]) {
        let out = self.knotc_output(args);
        assert!(
            out.status.success(),
            "knotc {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn knotc_output(&self, args: &[&str]) -> std::process::Output {
        Command::new(KNOTC)
            .arg("-s")
            .arg(self.dir.path().join("primary/knot.sock"))
            .args(args)
            .output()
            .expect("running knotc (run scripts/install-peers.sh)")
    }

    /// The records of `name` and `rtype` at the primary (`+short` form).
    pub fn query_primary(&self, name: &str, rtype: &str) -> Vec<String> {
        query_at(self.primary_addr(), name, rtype)
    }

    /// The records of `name` and `rtype` at the secondary.
    pub fn query_secondary(&self, name: &str, rtype: &str) -> Vec<String> {
        let server = self.secondary_addr().expect("the testbed has no secondary");
        query_at(server, name, rtype)
    }

    /// Asks the validating resolver, as a sender would.
    pub fn resolve(&self, name: &str, rtype: &str) -> Resolved {
        resolve_at(self.resolver_addr(), name, rtype)
    }

    /// Drops what the resolver has cached for `name` and below (every
    /// type: `flush` alone leaves TLSA and TXT records).
    pub fn flush(&self, name: &str) {
        let out = Command::new(UNBOUND_CONTROL)
            .arg("-c")
            .arg(self.dir.path().join("resolver/unbound.conf"))
            .args(["flush_zone", name])
            .output()
            .expect("running unbound-control");
        assert!(
            out.status.success(),
            "unbound-control flush {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Stops the secondary: it answers nothing until
    /// [`DnsPeers::start_secondary`], and then catches up.
    pub fn stop_secondary(&mut self) {
        if let Some(mut child) = self.secondary.take() {
            stop_child(&mut child);
        }
    }

    pub fn start_secondary(&mut self) {
        assert!(self.options.secondary, "the testbed has no secondary");
        if self.secondary.is_none() {
            self.secondary = Some(start_knot(&self.dir.path().join("secondary")));
            self.wait_for_secondary();
        }
    }

    /// Stops the primary (updates fail) until [`DnsPeers::start_primary`].
    pub fn stop_primary(&mut self) {
        stop_child(&mut self.primary);
    }

    pub fn start_primary(&mut self) {
        if matches!(self.primary.try_wait(), Ok(None)) {
            return;
        }
        self.primary = start_knot(&self.dir.path().join("primary"));
        let server = self.primary_addr();
        let zone = self.options.zones[0].name.clone();
        wait_until("the primary serving again", Duration::from_secs(20), || {
            !query_at(server, &zone, "SOA").is_empty()
        });
    }

    /// Waits until the secondary serves every zone at the primary's serial.
    pub fn wait_for_secondary(&self) {
        let Some(secondary) = self.secondary_addr() else {
            return;
        };
        for zone in &self.options.zones {
            let primary = self.primary_addr();
            wait_until(
                &format!(
                    "the secondary serving {} at the primary's serial (log: {})",
                    zone.name,
                    self.secondary_log()
                ),
                Duration::from_secs(20),
                || {
                    let serial = query_at(primary, &zone.name, "SOA");
                    !serial.is_empty() && query_at(secondary, &zone.name, "SOA") == serial
                },
            );
        }
    }

    pub fn primary_log(&self) -> String {
        read(&self.dir.path().join("primary/knot.log"))
    }

    pub fn secondary_log(&self) -> String {
        read(&self.dir.path().join("secondary/knot.log"))
    }

    pub fn resolver_log(&self) -> String {
        read(&self.dir.path().join("resolver/unbound.log"))
    }
}

impl Drop for DnsPeers {
    fn drop(&mut self) {
        stop_child(&mut self.resolver);
        if let Some(mut child) = self.secondary.take() {
            stop_child(&mut child);
        }
        stop_child(&mut self.primary);
    }
}

fn absolute(name: &str, zone: &str) -> String {
    if name.ends_with('.') {
        name.to_string()
    } else if name == "@" {
        format!("{zone}.")
    } else {
        format!("{name}.{zone}.")
    }
}

/// `dig +short`-style answers of one server, asked directly without
/// recursion.
pub fn query_at(server: SocketAddr, name: &str, rtype: &str) -> Vec<String> {
    let out = Command::new(KDIG)
        .arg(format!("@{}", server.ip()))
        .args(["-p", &server.port().to_string()])
        .args([name, rtype, "+short", "+norecurse", "+time=2", "+retry=1"])
        .output()
        .expect("running kdig (run scripts/install-peers.sh)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|line| !line.starts_with(";;") && !line.trim().is_empty())
        .map(|line| line.trim().to_string())
        .collect()
}

/// Asks a recursive resolver with the DO bit and reads status, AD and the
/// answer's records of `rtype`.
pub fn resolve_at(server: SocketAddr, name: &str, rtype: &str) -> Resolved {
    let out = Command::new(KDIG)
        .arg(format!("@{}", server.ip()))
        .args(["-p", &server.port().to_string()])
        .args([name, rtype, "+dnssec", "+time=3", "+retry=1", "+nocomments"])
        .arg("+header")
        .output()
        .expect("running kdig (run scripts/install-peers.sh)");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut resolved = Resolved {
        status: "no answer".into(),
        data: Vec::new(),
        authenticated: false,
    };
    for line in text.lines() {
        if let Some(rest) = line.split("status: ").nth(1) {
            resolved.status = rest.split(';').next().unwrap_or("").trim().to_string();
        }
        if let Some(flags) = line.strip_prefix(";; Flags: ") {
            let flags = flags.split(';').next().unwrap_or("");
            resolved.authenticated = flags.split_whitespace().any(|flag| flag == "ad");
        }
        if line.starts_with(';') || line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        // owner TTL class type data…
        if fields.len() > 4 && fields[3].eq_ignore_ascii_case(rtype) {
            resolved.data.push(fields[4..].join(" "));
        }
    }
    resolved
}

/// A `127.A.B.0/24` whose `.1`, `.2` and `.3` have port 53 free, not
/// handed to another testbed of this process.
fn loopback_net() -> [u8; 3] {
    static GIVEN: Mutex<Option<HashSet<[u8; 3]>>> = Mutex::new(None);
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let given = given.get_or_insert_with(HashSet::new);
    let mut seed = random_seed();
    for _ in 0..2000 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        // 127.0.x.x holds 127.0.0.1 and what other suites use; stay above.
        let net = [
            127,
            1 + ((seed >> 33) % 250) as u8,
            1 + ((seed >> 45) % 250) as u8,
        ];
        if given.contains(&net) {
            continue;
        }
        let free = (1..=3).all(|host| {
            let addr = SocketAddr::from(([net[0], net[1], net[2], host], 53));
            match (UdpSocket::bind(addr), TcpListener::bind(addr)) {
                (Ok(_), Ok(_)) => true,
                (Err(e), _) | (_, Err(e)) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                    panic!("binding port 53 needs root (the DNS peers listen where Postfix and glibc look): {e}")
                }
                _ => false,
            }
        });
        if free {
            given.insert(net);
            return net;
        }
    }
    panic!("no loopback /24 with port 53 free")
}

fn base64_secret() -> String {
    use base64::Engine;
    let mut secret = [0u8; 32];
    let mut file = std::fs::File::open("/dev/urandom").expect("opening /dev/urandom");
    std::io::Read::read_exact(&mut file, &mut secret).expect("reading /dev/urandom");
    base64::engine::general_purpose::STANDARD.encode(secret)
}

fn zone_file(zone: &ZoneOptions, primary: Ipv4Addr, secondary: Option<Ipv4Addr>) -> String {
    // SOA minimum 1: a name a test adds is not hidden for long by a
    // negative answer cached just before.
    let mut text = format!(
        "$ORIGIN {name}.\n$TTL {ttl}\n@ IN SOA ns1 hostmaster 1 60 10 3600 1\n@ IN NS ns1\nns1 IN A {primary}\n",
        name = zone.name,
        ttl = zone.ttl,
    );
    if let Some(secondary) = secondary {
        text.push_str(&format!("@ IN NS ns2\nns2 IN A {secondary}\n"));
    }
    for record in &zone.records {
        text.push_str(record);
        text.push('\n');
    }
    text
}

/// What every Knot DNS server of the testbed starts its configuration
/// with: its folder (run files, database, pid) and address, and logging
/// to stderr (the peer's log file).
fn knot_config_head(dir: &Path, ip: Ipv4Addr) -> String {
    let dir = dir.display();
    format!(
        r#"server:
    rundir: "{dir}"
    listen: {ip}@53
    pidfile: "{dir}/knot.pid"
log:
  - target: stderr
    any: info
database:
    storage: "{dir}"
"#
    )
}

fn primary_config(dir: &Path, ip: Ipv4Addr, options: &DnsOptions, secret: &str) -> String {
    let mut text = knot_config_head(dir, ip);
    let dir = dir.display();
    text.push_str(&format!(
        r#"key:
  - id: {TSIG_KEY_NAME}
    algorithm: hmac-sha256
    secret: {secret}
acl:
  - id: update
    key: {TSIG_KEY_NAME}
    action: update
  - id: transfer
    address: 127.0.0.0/8
    action: transfer
policy:
  - id: test
    algorithm: ecdsap256sha256
    ksk-lifetime: 0
    zsk-lifetime: 0
    nsec3: off
template:
  - id: default
    storage: "{dir}"
    zonefile-sync: -1
    zonefile-load: difference-no-serial
    journal-content: all
"#
    ));
    if options.secondary {
        text.push_str(&format!(
            "remote:\n  - id: secondary\n    address: {}.{}.{}.2@53\n",
            ip.octets()[0],
            ip.octets()[1],
            ip.octets()[2]
        ));
    }
    text.push_str("zone:\n");
    for zone in &options.zones {
        text.push_str(&format!(
            "  - domain: {name}\n    file: {name}.zone\n    acl: [update, transfer]\n",
            name = zone.name
        ));
        if zone.signed {
            text.push_str("    dnssec-signing: on\n    dnssec-policy: test\n");
        }
        if options.secondary {
            text.push_str("    notify: secondary\n");
        }
    }
    text
}

fn secondary_config(dir: &Path, ip: Ipv4Addr, primary: Ipv4Addr, options: &DnsOptions) -> String {
    let mut text = knot_config_head(dir, ip);
    let dir = dir.display();
    text.push_str(&format!(
        r#"remote:
  - id: primary
    address: {primary}@53
acl:
  - id: notify
    address: 127.0.0.0/8
    action: notify
template:
  - id: default
    storage: "{dir}"
    zonefile-sync: -1
    journal-content: all
zone:
"#
    ));
    for zone in &options.zones {
        text.push_str(&format!(
            "  - domain: {}\n    master: primary\n    acl: notify\n",
            zone.name
        ));
    }
    text
}

fn resolver_config(dir: &Path, peers: &DnsPeers, anchors: &[String]) -> String {
    let dir_text = dir.display();
    let mut text = format!(
        r#"server:
    interface: {resolver}@53
    do-not-query-localhost: no
    chroot: ""
    username: ""
    directory: "{dir_text}"
    pidfile: "{dir_text}/unbound.pid"
    use-syslog: no
    logfile: ""
    verbosity: 1
    val-log-level: 2
    access-control: 127.0.0.0/8 allow
    module-config: "validator iterator"
    cache-max-negative-ttl: 1
    aggressive-nsec: no
    local-zone: "test." nodefault
    local-zone: "invalid." nodefault
"#,
        resolver = peers.ip(3)
    );
    for anchor in anchors {
        text.push_str(&format!("    trust-anchor: \"{anchor}\"\n"));
    }
    text.push_str(&format!(
        "remote-control:\n    control-enable: yes\n    control-interface: \"{dir_text}/control.sock\"\n    control-use-cert: no\n"
    ));
    for zone in &peers.options.zones {
        text.push_str(&format!(
            "stub-zone:\n    name: \"{}\"\n    stub-addr: {}@53\n",
            zone.name,
            peers.ip(1)
        ));
        if peers.options.secondary {
            text.push_str(&format!("    stub-addr: {}@53\n", peers.ip(2)));
        }
    }
    text
}

fn start_knot(dir: &Path) -> Child {
    let _ = std::fs::remove_file(dir.join("knot.sock"));
    let child = spawn_logged(
        Command::new(KNOTD).arg("-c").arg(dir.join("knot.conf")),
        &dir.join("knot.log"),
    );
    let socket = dir.join("knot.sock");
    wait_until(
        &format!(
            "knotd's control socket (log: {})",
            read(&dir.join("knot.log"))
        ),
        Duration::from_secs(20),
        || socket.exists(),
    );
    child
}

fn spawn_logged(command: &mut Command, log: &Path) -> Child {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("opening a log file");
    let err = file.try_clone().expect("cloning a log file");
    command
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e} (run scripts/install-peers.sh)"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}
