//! One module per command; each parses its own arguments and calls the
//! libraries.

pub mod acme;
pub mod ca;
pub mod check;
pub mod complete;
pub mod console;
pub mod dane;
pub mod disable;
pub mod enable;
pub mod export;
pub mod fleet;
pub mod import;
pub mod init;
pub mod list;
pub mod log;
pub mod mta_sts;
pub mod new;
pub mod plan;
pub mod remove;
pub mod renew;
pub mod replace;
pub mod request;
pub mod schedule;
pub mod serve;
pub mod show;
pub mod store;
pub mod trust;
pub mod verify;
pub mod which;

use crate::{Cli, Command, Result};

pub fn run(cli: &Cli) -> Result {
    match &cli.command {
        Command::Init(args) => init::run(cli, args),
        Command::List(args) => list::run(cli, args),
        Command::Show(args) => show::run(cli, args),
        Command::New(args) => new::run(cli, args),
        Command::Enable(args) => enable::run(cli, args),
        Command::Disable(args) => disable::run(cli, args),
        Command::Remove(args) => remove::run(cli, args),
        Command::Renew(args) => renew::run(cli, args),
        Command::Which(args) => which::run(cli, args),
        Command::Log(args) => log::run(cli, args),
        Command::Serve(args) => serve::run(cli, args),
        Command::Check(args) => check::run(cli, args),
        Command::Verify(args) => verify::run(cli, args),
        Command::Plan(args) => plan::run(cli, args),
        Command::Request(args) => request::run(cli, args),
        Command::Complete(args) => complete::run(cli, args),
        Command::Replace(args) => replace::run(cli, args),
        Command::Import(args) => import::run(cli, args),
        Command::Export(args) => export::run(cli, args),
        Command::Trust(args) => trust::run(cli, args),
        Command::Ca(args) => ca::run(cli, args),
        Command::Acme(args) => acme::run(cli, args),
        Command::Fleet(args) => fleet::run(cli, args),
        Command::Store(args) => store::run(cli, args),
        Command::Console(args) => console::run(cli, args),
        Command::Dane(args) => dane::run(cli, args),
        Command::MtaSts(args) => mta_sts::run(cli, args),
        Command::Schedule(args) => schedule::run(cli, args),
    }
}

/// `--at`: a date (`2027-06-01`) or an RFC 3339 time.
pub fn parse_at(text: &str) -> std::result::Result<time::OffsetDateTime, String> {
    mailcert_x509::time::parse_at(text).map_err(|e| e.to_string())
}

/// `--node NAME` as node names are kept: trimmed, lower-case.
pub fn node_arg(node: Option<&str>) -> Option<String> {
    node.map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
}

/// Parses `--key`.
pub fn key_type(text: &str) -> std::result::Result<mailcert_x509::KeyType, String> {
    text.parse()
}

/// Parses `--services`.
pub fn services(text: &str) -> std::result::Result<Vec<mailcert_x509::Service>, String> {
    mailcert_x509::Service::parse_list(text)
}

/// Merges repeated `--services` lists.
pub fn flatten(lists: &[Vec<mailcert_x509::Service>]) -> Vec<mailcert_x509::Service> {
    let mut out: Vec<_> = lists.iter().flatten().copied().collect();
    out.sort();
    out.dedup();
    out
}

/// Prints a report's lines as notes.
pub fn report(report: &mailcert_lifecycle::Report) {
    for line in &report.lines {
        crate::output::note(line);
    }
}

/// A mutating command's ending: its report as lines, or as JSON.
pub fn print_report(report: &mailcert_lifecycle::Report, json: bool) -> crate::Result {
    if json {
        report_json(report)?;
    } else {
        self::report(report);
    }
    Ok(crate::exit::Exit::Success)
}

/// Prints a report as JSON: the shape `enable --json` also prints.
pub fn report_json(report: &mailcert_lifecycle::Report) -> anyhow::Result<()> {
    let all: Vec<&String> = report.thumbprint.iter().chain(&report.also).collect();
    crate::output::json(&serde_json::json!({
        "thumbprint": report.thumbprint,
        "thumbprints": all,
        "changed": report.changed,
        "messages": report.lines,
    }))
}

/// Prints what an operation did: JSON with `--json`, else its thumbprint
/// on stdout (for scripts) and its sentences on stderr.
pub fn print_outcome(report: &mailcert_lifecycle::Report, json: bool) -> anyhow::Result<()> {
    if json {
        return report_json(report);
    }
    for thumb in report.thumbprint.iter().chain(&report.also) {
        crate::output::line(thumb)?;
    }
    self::report(report);
    Ok(())
}

/// Writes or prints a new request and tells where it went.
pub fn print_request(
    report: &mailcert_lifecycle::Report,
    pending: &mailcert_store::PendingRecord,
    out: Option<(std::path::PathBuf, std::fs::File)>,
    json: bool,
) -> crate::Result {
    use std::io::Write as _;
    let pem = mailcert_x509::pem::to_pem("CERTIFICATE REQUEST", &pending.csr_der);
    let out = match out {
        Some((path, mut file)) => {
            file.write_all(pem.as_bytes()).map_err(|e| {
                anyhow::Error::from(e).context(format!(
                "the request is stored as pending request {}; print it again with `mailcert show {} --pem`",
                    pending.id, pending.id
                ))
            })?;
            Some(path)
        }
        None => None,
    };
    let out = out.as_deref();
    if json {
        let mut value = serde_json::to_value(mailcert_lifecycle::CertView::of_pending(pending))?;
        value["csr_pem"] = serde_json::Value::from(pem);
        value["out"] = serde_json::json!(out);
        value["messages"] = serde_json::json!(report.lines);
        crate::output::json(&value)?;
        return Ok(crate::exit::Exit::Success);
    }
    match out {
        Some(path) => {
            crate::output::line(&pending.id)?;
            self::report(report);
            crate::output::note(format!("the request is in {}", path.display()));
        }
        None => {
            crate::output::line(pem.trim_end())?;
            self::report(report);
        }
    }
    Ok(crate::exit::Exit::Success)
}
