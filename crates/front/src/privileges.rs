//! Running without root: `serve` binds its listeners (ports below 1024
//! need root) and then becomes the `[process]` user and group for good,
//! before it opens the store or reads a key — as nginx's workers and
//! Postfix's daemons do. Under systemd the unit can instead start it as
//! that user with `CAP_NET_BIND_SERVICE`, or hand it the sockets
//! (`dist/systemd/`); then there is nothing to drop.
//!
//! What the user must be able to use is checked first, so that a store
//! or configuration it cannot read is refused at start with the `chown`
//! that fixes it, instead of failing at the first renewal or reload.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use mailcert_config::Process;
use nix::unistd::{getegid, geteuid, setgid, setgroups, setuid, Gid, Group, Uid, User};

use crate::error::FrontError;

/// The user and group `serve` runs as after binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    pub user: String,
    pub uid: u32,
    pub group: String,
    pub gid: u32,
}

/// What the user needs to do with a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Read,
    ReadWrite,
    /// A directory it creates files in.
    WriteDir,
}

impl RunAs {
    /// The `[process]` table resolved against the system's users and
    /// groups; `None` when it names no user.
    pub fn resolve(process: &Process) -> Result<Option<RunAs>, FrontError> {
        let Some(user_text) = process.user.as_deref() else {
            return Ok(None);
        };
        let lookup = |e: nix::Error| {
            FrontError::Privileges(format!("looking up [process] user = \"{user_text}\": {e}"))
        };
        let user = match user_text.parse::<u32>() {
            Ok(uid) => User::from_uid(Uid::from_raw(uid)).map_err(lookup)?,
            Err(_) => User::from_name(user_text).map_err(lookup)?,
        };
        let Some(user) = user else {
            return Err(FrontError::Privileges(format!(
                "[process] user = \"{user_text}\": there is no such user on this system; create it (useradd --system --home-dir /var/lib/mailcert --shell /usr/sbin/nologin {user_text}) or remove the key"
            )));
        };
        let group = match process.group.as_deref() {
            None => Group::from_gid(user.gid).ok().flatten(),
            Some(text) => {
                let found = match text.parse::<u32>() {
                    Ok(gid) => Group::from_gid(Gid::from_raw(gid)),
                    Err(_) => Group::from_name(text),
                };
                match found {
                    Ok(Some(group)) => Some(group),
                    _ => {
                        return Err(FrontError::Privileges(format!(
                            "[process] group = \"{text}\": there is no such group on this system; create it (groupadd --system {text}) or remove the key to use {}'s own group",
                            user.name
                        )))
                    }
                }
            }
        };
        let gid = group.as_ref().map_or(user.gid, |g| g.gid);
        Ok(Some(RunAs {
            user: user.name.clone(),
            uid: user.uid.as_raw(),
            group: group.map_or_else(|| gid.to_string(), |g| g.name),
            gid: gid.as_raw(),
        }))
    }

    /// Whether this process is already that user and group (systemd's
    /// `User=`), so that there is nothing to drop.
    pub fn is_current(&self) -> bool {
        geteuid().as_raw() == self.uid && getegid().as_raw() == self.gid
    }

    /// The paths this user cannot use as needed, each with the fix.
    pub fn problems(&self, paths: &[(PathBuf, Need)]) -> Vec<String> {
        let mut out = Vec::new();
        for (path, need) in paths {
            let Ok(meta) = std::fs::metadata(path) else {
                continue;
            };
            if self.uid == 0 || self.allows(&meta, *need) {
                continue;
            }
            let what = match need {
                Need::Read => "read",
                Need::ReadWrite => "read and write",
                Need::WriteDir => "create files in",
            };
            out.push(format!(
                "{} cannot {what} {} (owner uid {}, group gid {}, mode {:04o}); fix: chown {}:{} {}",
                self.describe(),
                path.display(),
                meta.uid(),
                meta.gid(),
                meta.mode() & 0o7777,
                self.user,
                self.group,
                path.display()
            ));
        }
        out
    }

    fn allows(&self, meta: &std::fs::Metadata, need: Need) -> bool {
        let mode = meta.mode();
        let shift = if meta.uid() == self.uid {
            6
        } else if meta.gid() == self.gid {
            3
        } else {
            0
        };
        let bits = (mode >> shift) & 0o7;
        match need {
            Need::Read => bits & 0o4 != 0,
            Need::ReadWrite => bits & 0o6 == 0o6,
            Need::WriteDir => bits & 0o3 == 0o3,
        }
    }

    /// `user mailcert (uid 998, group mailcert, gid 998)`.
    pub fn describe(&self) -> String {
        format!(
            "user {} (uid {}, group {}, gid {})",
            self.user, self.uid, self.group, self.gid
        )
    }

    /// Becomes this user and group for good: the supplementary groups are
    /// reduced to the one group, then the group, then the user (in that
    /// order: after `setuid` nothing else may change). glibc applies each
    /// call to every thread of the process.
    pub fn drop_privileges(&self) -> Result<(), FrontError> {
        if self.is_current() {
            return Ok(());
        }
        if !geteuid().is_root() {
            return Err(FrontError::Privileges(format!(
                "[process] user = \"{}\": mailcert serve runs as uid {} and can only become another user when started as root; start it as root, or as {} itself and remove [process]",
                self.user,
                geteuid(),
                self.user
            )));
        }
        let gid = Gid::from_raw(self.gid);
        let failed = |what: &str, e: nix::Error| {
            FrontError::Privileges(format!("becoming {}: {what} failed: {e}", self.describe()))
        };
        setgroups(&[gid]).map_err(|e| failed("setgroups", e))?;
        setgid(gid).map_err(|e| failed("setgid", e))?;
        setuid(Uid::from_raw(self.uid)).map_err(|e| failed("setuid", e))?;
        if self.uid != 0 && setuid(Uid::from_raw(0)).is_ok() {
            return Err(FrontError::Privileges(format!(
                "becoming {}: root could be regained afterwards; refusing to serve",
                self.describe()
            )));
        }
        Ok(())
    }
}

/// The store's files and directory, and the configuration, with what
/// `serve` does with each after the drop: reloads read the configuration,
/// and the store is read, written by ACME renewals, and SQLite creates its
/// `-wal` and `-shm` files beside the database.
pub fn paths_needed(db: &Path, key: &Path, config: &Path) -> Vec<(PathBuf, Need)> {
    let mut paths = vec![(config.to_path_buf(), Need::Read)];
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        paths.push((dir.to_path_buf(), Need::WriteDir));
    }
    paths.push((db.to_path_buf(), Need::ReadWrite));
    for suffix in ["-wal", "-shm"] {
        let mut name = db.as_os_str().to_os_string();
        name.push(suffix);
        paths.push((PathBuf::from(name), Need::ReadWrite));
    }
    paths.push((key.to_path_buf(), Need::Read));
    paths
}
