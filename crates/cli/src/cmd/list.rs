use clap::Parser;
use mailcert_lifecycle::view::BindingView;
use mailcert_lifecycle::{CertView, ListenerBindings};

use crate::exit::Exit;
use crate::{context, output, Cli, Result};

#[derive(Debug, Parser)]
pub struct Args {
    /// Print a JSON array, one object per certificate or pending request.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, args: &Args) -> Result {
    let manager = context::existing(cli, None)?;
    let views = mailcert_lifecycle::view::list(manager.store.as_ref(), manager.now())?;
    if args.json {
        output::json(&views)?;
        return Ok(Exit::Success);
    }
    let rows = views
        .iter()
        .map(|v| {
            vec![
                v.thumbprint.clone(),
                services_with_nodes(v),
                v.subject.clone(),
                v.status.as_str().to_string(),
                v.not_after
                    .as_deref()
                    .map(|d| d[..10].to_string())
                    .unwrap_or_else(|| "-".into()),
                if v.status == mailcert_x509::Status::PendingRequest {
                    "-".into()
                } else {
                    v.is_self_signed.to_string()
                },
            ]
        })
        .collect();
    let table = output::table(
        &[
            "Thumbprint",
            "Services",
            "Subject",
            "Status",
            "NotAfter",
            "IsSelfSigned",
        ],
        rows,
    );
    output::line(table.trim_end())?;
    let notes = listener_notes(&manager.listener_bindings(None)?);
    if !notes.is_empty() {
        output::line(notes.trim_end())?;
    }
    output::expiry_warnings(&views);
    Ok(Exit::Success)
}

/// Below the table: the listeners with certificates bound to them
/// alone, which serve only those and hide the ones bound to the whole
/// service (otherwise a binding the listener never serves would look as
/// served as any other).
fn listener_notes(listeners: &[ListenerBindings]) -> String {
    if listeners.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "Bound to listeners by name (lower-case in Services when that is the only binding for the service); such a listener serves only these:\n",
    );
    for l in listeners {
        out.push_str(&format!(
            "  {} on listener {}: {}",
            l.service,
            l.listener,
            l.own.join(", ")
        ));
        if !l.hidden.is_empty() {
            out.push_str(&format!(
                " (not {}, bound to {} for every listener)",
                l.hidden.join(", "),
                l.service
            ));
        }
        out.push('\n');
    }
    out
}

/// The service column; bindings made for one node of a fleet follow,
/// as `node:IP.WS`.
fn services_with_nodes(view: &CertView) -> String {
    let fleet: Vec<&BindingView> = view.bindings.iter().filter(|b| b.node.is_none()).collect();
    let mut nodes: Vec<&str> = view
        .bindings
        .iter()
        .filter_map(|b| b.node.as_deref())
        .collect();
    nodes.sort();
    nodes.dedup();
    let mut out = scoped_services_column(&fleet);
    if !nodes.is_empty() && fleet.is_empty() {
        out.clear();
    }
    for node in nodes {
        let bindings: Vec<&BindingView> = view
            .bindings
            .iter()
            .filter(|b| b.node.as_deref() == Some(node))
            .collect();
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&format!("{node}:{}", scoped_services_column(&bindings)));
    }
    out
}

/// [`services_column`] with the letter in lower case for a service the
/// certificate is bound to only through named listeners.
fn scoped_services_column(bindings: &[&BindingView]) -> String {
    let services: Vec<String> = bindings.iter().map(|b| b.service.clone()).collect();
    services_column(&services)
        .chars()
        .zip(["imap", "pop", "https", "smtp"])
        .map(|(letter, service)| {
            let listener_only = bindings
                .iter()
                .filter(|b| b.service == service)
                .all(|b| b.listener.is_some());
            if letter != '.' && listener_only {
                letter.to_ascii_lowercase()
            } else {
                letter
            }
        })
        .collect()
}

/// Exchange's one-letter service column, in its order: I(MAP) P(OP)
/// W(eb: IIS/HTTPS) S(MTP), as `Get-ExchangeCertificate` shows `IP.WS`.
fn services_column(services: &[String]) -> String {
    let mut out = String::new();
    for (letter, service) in [('I', "imap"), ('P', "pop"), ('W', "https"), ('S', "smtp")] {
        out.push(if services.iter().any(|s| s == service) {
            letter
        } else {
            '.'
        });
    }
    out
}
