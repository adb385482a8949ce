//! File descriptors: each proxied session holds two (client and backend),
//! so `limits.max_connections` is only kept if the process may open that
//! many. At start the soft `RLIMIT_NOFILE` is raised to the hard one (what
//! nginx's `worker_rlimit_nofile` and systemd's `LimitNOFILE=` are for);
//! the connection limit in force is then what the descriptors allow, so
//! that clients over it still get the protocol's "unavailable" answer
//! rather than hanging in the kernel's queue.

use nix::sys::resource::{getrlimit, setrlimit, Resource, RLIM_INFINITY};

/// Descriptors kept for everything but sessions: the listening sockets
/// are counted apart; this covers the store (database, WAL, shared memory,
/// per reader), logs, the runtime's own, and refusals being written.
pub const RESERVED: u64 = 64;

/// The descriptor limits in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdLimit {
    /// What the process may open now.
    pub soft: u64,
    pub hard: u64,
    /// The soft limit before [`raise`], when it was lower.
    pub raised_from: Option<u64>,
}

impl FdLimit {
    /// Sessions the descriptors allow beside `sockets` listening sockets.
    pub fn sessions(&self, sockets: usize) -> usize {
        let left = self.soft.saturating_sub(RESERVED + sockets as u64) / 2;
        usize::try_from(left).unwrap_or(usize::MAX).max(1)
    }

    /// The connection limit in force, and a warning when the configured
    /// one cannot be reached.
    pub fn connections(&self, configured: usize, sockets: usize) -> (usize, Option<String>) {
        let allowed = self.sessions(sockets);
        if configured <= allowed {
            return (configured, None);
        }
        let needed = configured as u64 * 2 + RESERVED + sockets as u64;
        let warning = format!(
            "limits.max_connections = {configured} needs about {needed} file descriptors (two per proxied connection), but this process may open {} (RLIMIT_NOFILE; hard limit {}): from {allowed} connections on, clients get the protocol's \"unavailable\" answer; raise the limit (LimitNOFILE= in the systemd unit, `ulimit -n` where mailcert starts; only root raises a hard limit) or lower limits.max_connections",
            self.soft,
            if self.hard == RLIM_INFINITY {
                "unlimited".to_string()
            } else {
                self.hard.to_string()
            },
        );
        (allowed, Some(warning))
    }
}

/// The largest number of descriptors a process can have on this system
/// when the hard limit says "unlimited".
fn system_maximum() -> u64 {
    std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1 << 20)
}

/// Raises the soft limit to the hard one; reports what is in force.
pub fn raise() -> FdLimit {
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        // Unknown: assume the usual default rather than nothing.
        return FdLimit {
            soft: 1024,
            hard: 1024,
            raised_from: None,
        };
    };
    let target = if hard == RLIM_INFINITY {
        system_maximum()
    } else {
        hard
    };
    if soft != RLIM_INFINITY
        && soft < target
        && setrlimit(Resource::RLIMIT_NOFILE, target, hard).is_ok()
    {
        return FdLimit {
            soft: target,
            hard,
            raised_from: Some(soft),
        };
    }
    FdLimit {
        soft: if soft == RLIM_INFINITY { target } else { soft },
        hard,
        raised_from: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_limit_follows_the_descriptors() {
        let limit = FdLimit {
            soft: 1024,
            hard: 1024,
            raised_from: None,
        };
        assert_eq!(limit.sessions(8), (1024 - 64 - 8) / 2);
        let (max, warning) = limit.connections(10_000, 8);
        assert_eq!(max, 476);
        let warning = warning.expect("a warning");
        assert!(
            warning.contains("10000") && warning.contains("LimitNOFILE"),
            "{warning}"
        );
        assert_eq!(limit.connections(100, 8), (100, None));
        let tiny = FdLimit {
            soft: 10,
            hard: 10,
            raised_from: None,
        };
        assert_eq!(tiny.sessions(8), 1);
    }
}
