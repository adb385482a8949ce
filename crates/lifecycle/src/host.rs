//! The machine's own name, for the secure-by-default certificate.

/// The host's FQDN and short name, as well as this machine can tell
/// without DNS: the kernel's host name, completed from /etc/hosts when it
/// has no domain.
pub fn host_names() -> (String, String) {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_else(|_| "localhost".into());
    let host = raw.trim().to_ascii_lowercase();
    let short = host.split('.').next().unwrap_or("localhost").to_string();
    if host.contains('.') {
        return (host, short);
    }
    let fqdn = std::fs::read_to_string("/etc/hosts")
        .ok()
        .and_then(|hosts| fqdn_from_hosts(&hosts, &short))
        .unwrap_or_else(|| short.clone());
    (fqdn, short)
}

/// The name of this node of a fleet: `MAILCERT_NODE`, else the host's
/// FQDN (as [`host_names`] finds it).
pub fn node_name() -> String {
    std::env::var("MAILCERT_NODE")
        .ok()
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| host_names().0)
}

fn fqdn_from_hosts(hosts: &str, short: &str) -> Option<String> {
    hosts
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .filter(|l| {
            l.split_whitespace()
                .skip(1)
                .any(|n| n.eq_ignore_ascii_case(short))
        })
        .flat_map(|l| {
            l.split_whitespace()
                .skip(1)
                .map(str::to_ascii_lowercase)
                .collect::<Vec<_>>()
        })
        .find(|n| n.starts_with(&format!("{short}.")))
}

/// Who is making a change, for the audit log: the name the passwd
/// database gives the process's uid, with the uid, e.g. `root (uid 0)`;
/// under sudo also who ran it (`root (uid 0, via sudo from alice)`).
/// `USER` and `LOGNAME` are only a fallback: they are whatever the
/// environment says, not who the process runs as.
pub fn os_user() -> String {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
    let name = uid.and_then(user_name);
    let sudo = std::env::var("SUDO_USER")
        .ok()
        .filter(|s| !s.is_empty() && Some(s) != name.as_ref())
        .map(|s| format!(", via sudo from {s}"))
        .unwrap_or_default();
    let claimed = || {
        std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .ok()
            .filter(|n| !n.is_empty())
    };
    match (name, uid) {
        (Some(name), Some(uid)) => format!("{name} (uid {uid}{sudo})"),
        (None, Some(uid)) => {
            let env = claimed().map(|e| format!("; USER={e}")).unwrap_or_default();
            format!("uid {uid} (not in the passwd database{env}{sudo})")
        }
        (_, None) => claimed().unwrap_or_else(|| "unknown".into()),
    }
}

/// The user name of `uid` from the passwd database: /etc/passwd first
/// (local accounts, no process to start), then `getent`, which asks the
/// system's name services (LDAP, SSSD) as getpwuid(3) does.
fn user_name(uid: u32) -> Option<String> {
    if let Some(name) = std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|text| name_in_passwd(&text, uid))
    {
        return Some(name);
    }
    let out = std::process::Command::new("getent")
        .arg("passwd")
        .arg(uid.to_string())
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    name_in_passwd(&String::from_utf8_lossy(&out.stdout), uid)
}

/// The first name with `uid` in passwd(5) lines (`name:x:uid:gid:...`).
fn name_in_passwd(text: &str, uid: u32) -> Option<String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let _password = fields.next()?;
            let found: u32 = fields.next()?.parse().ok()?;
            (found == uid && !name.is_empty()).then(|| name.to_string())
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_fqdn_in_hosts() {
        let hosts = "127.0.0.1 localhost\n192.0.2.5 ex1.contoso.com ex1 # main\n";
        assert_eq!(
            super::fqdn_from_hosts(hosts, "ex1").as_deref(),
            Some("ex1.contoso.com")
        );
        assert_eq!(super::fqdn_from_hosts(hosts, "ex2"), None);
    }

    #[test]
    fn finds_the_user_name_of_a_uid() {
        let passwd = "# local\nroot:x:0:0:root:/root:/bin/bash\nmail:x:8:8:mail:/var/mail:/usr/sbin/nologin\nbroken\n";
        assert_eq!(super::name_in_passwd(passwd, 0).as_deref(), Some("root"));
        assert_eq!(super::name_in_passwd(passwd, 8).as_deref(), Some("mail"));
        assert_eq!(super::name_in_passwd(passwd, 1000), None);
    }
}
