//! Socket activation as systemd does it, without systemd: a launcher
//! (Debian's Python) binds listening TCP sockets, places them at file
//! descriptors 3, 4, … in the order given, sets `LISTEN_FDS`,
//! `LISTEN_PID` (its own pid, which `exec` keeps) and `LISTEN_FDNAMES`,
//! then executes the program in its place — the protocol of
//! sd_listen_fds(3).

use std::net::SocketAddr;
use std::process::Command;

const LAUNCHER: &str = r#"
import fcntl, os, socket, sys
addresses = [a for a in sys.argv[1].split(",") if a]
held = []
for address in addresses:
    host, port = address.rsplit(":", 1)
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, int(port)))
    s.listen(128)
    # Out of the way of 3, 4, ... first, so that placing one never
    # closes another.
    high = fcntl.fcntl(s.fileno(), fcntl.F_DUPFD, 100)
    s.close()
    held.append(high)
for index, fd in enumerate(held):
    os.dup2(fd, 3 + index, inheritable=True)
    os.close(fd)
os.environ["LISTEN_FDS"] = str(len(held))
os.environ["LISTEN_PID"] = str(os.getpid())
os.environ["LISTEN_FDNAMES"] = ":".join("socket%d" % i for i in range(len(held)))
os.execvp(sys.argv[2], sys.argv[2:])
"#;

/// `command` started as systemd starts a service with sockets: the same
/// program, arguments, environment and directory, behind a launcher that
/// binds `sockets` (at descriptors 3, 4, … in this order) and passes them.
/// Spawn the returned command as the original one.
pub fn socket_activated(command: &Command, sockets: &[SocketAddr]) -> Command {
    let addresses: Vec<String> = sockets.iter().map(SocketAddr::to_string).collect();
    let mut launcher = Command::new("/usr/bin/python3");
    launcher
        .arg("-c")
        .arg(LAUNCHER)
        .arg(addresses.join(","))
        .arg(command.get_program())
        .args(command.get_args());
    for (name, value) in command.get_envs() {
        match value {
            Some(value) => launcher.env(name, value),
            None => launcher.env_remove(name),
        };
    }
    if let Some(dir) = command.get_current_dir() {
        launcher.current_dir(dir);
    }
    launcher
}

/// The inode of the socket listening on 127.0.0.1:`port`, from
/// `/proc/net/tcp` (state 0A is LISTEN).
pub fn listening_inode(port: u16) -> Option<u64> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let wanted = format!("0100007F:{port:04X}");
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields.get(1) == Some(&wanted.as_str()) && fields.get(3) == Some(&"0A"))
            .then(|| fields.get(9)?.parse().ok())
            .flatten()
    })
}

/// The inode of the socket at descriptor `fd` of process `pid`.
pub fn socket_inode(pid: u32, fd: u32) -> Option<u64> {
    let link = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok()?;
    link.to_str()?
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}
