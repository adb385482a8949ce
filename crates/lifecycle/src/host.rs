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

/// Who is making a change, for the audit log.
pub fn os_user() -> String {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
    let name = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|n| !n.is_empty());
    match (name, uid) {
        (Some(name), Some(uid)) => format!("{name} (uid {uid})"),
        (Some(name), None) => name,
        (None, Some(uid)) => format!("uid {uid}"),
        (None, None) => "unknown".into(),
    }
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
}
