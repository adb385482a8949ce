//! Files and secrets the commands read and write: input files named in
//! errors, output files with private material created 0600, passwords from
//! a file, the environment or a prompt (never from the command line).

use std::fs::OpenOptions;
use std::io::{IsTerminal, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::Context as _;
use mailcert_lifecycle::InputFile;

/// Reads a whole input file; the error names it.
pub fn input(path: &Path) -> anyhow::Result<InputFile> {
    let bytes =
        std::fs::read(path).with_context(|| format!("{}: cannot read the file", path.display()))?;
    if bytes.is_empty() {
        anyhow::bail!("{}: the file is empty", path.display());
    }
    Ok(InputFile {
        name: path.display().to_string(),
        bytes,
    })
}

/// Writes a file readable by its owner only (0600), even when it existed
/// with wider permissions.
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let io = || format!("{}: cannot write the file", path.display());
    // Written beside the target and renamed over it, so that a failed
    // write never leaves half a key file where a good one was.
    let mut partial = path.as_os_str().to_owned();
    partial.push(format!(".partial-{}", std::process::id()));
    let partial = std::path::PathBuf::from(partial);
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&partial)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&partial, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written.with_context(io)
}

/// Refuses to overwrite an existing file unless `force` says so.
pub fn ensure_new(path: &Path, force: bool) -> anyhow::Result<()> {
    if !force && path.symlink_metadata().is_ok() {
        anyhow::bail!(
            "{} already exists; choose another --out, or pass --force to overwrite it",
            path.display()
        );
    }
    Ok(())
}

/// Creates (or truncates) an output file for public content before the
/// command changes the store, so that a bad path fails with nothing done.
pub fn create_public(path: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::File::create(path)
        .with_context(|| format!("{}: cannot write the file", path.display()))
}

/// Writes a file with public content (requests, certificates).
pub fn write_public(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes)
        .with_context(|| format!("{}: cannot write the file", path.display()))
}

/// Where a password comes from, in order: `--password-file` (its first
/// line), `MAILCERT_PASSWORD`, a prompt when a terminal is attached.
pub fn password(file: Option<&Path>, purpose: &str, confirm: bool) -> anyhow::Result<String> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read the password file", path.display()))?;
        return Ok(text.lines().next().unwrap_or("").to_string());
    }
    if let Ok(value) = std::env::var("MAILCERT_PASSWORD") {
        return Ok(value);
    }
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("Password {purpose}: "))?;
        if confirm {
            let again = rpassword::prompt_password("Password again: ")?;
            if again != first {
                anyhow::bail!("the two passwords differ; nothing was done");
            }
        }
        return Ok(first);
    }
    anyhow::bail!(
        "a password is needed {purpose}: give --password-file FILE or set MAILCERT_PASSWORD (passwords are never taken on the command line)"
    )
}

/// The names of every certificate the organisation description at `org`
/// plans as of now, for `request --plan` and `acme order --plan`; a plan
/// with errors or without certificates is refused.
pub fn planned_names(org: &Path) -> anyhow::Result<Vec<mailcert_plan::RequestNames>> {
    let shown = org.display().to_string();
    let text = std::fs::read_to_string(org)
        .map_err(|e| anyhow::anyhow!("{shown}: cannot read the organisation description: {e}"))?;
    let plan = mailcert_plan::plan_toml(&text, &shown, time::OffsetDateTime::now_utc())?;
    Ok(plan.names_to_request(&shown)?)
}

/// Opens `--out` before anything changes; a bad path fails with nothing done.
pub fn open_out(
    path: Option<&std::path::Path>,
) -> anyhow::Result<Option<(std::path::PathBuf, std::fs::File)>> {
    path.map(|p| create_public(p).map(|f| (p.to_path_buf(), f)))
        .transpose()
}
