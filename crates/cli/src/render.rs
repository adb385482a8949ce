//! Text output of `check` and `verify`: one block per endpoint, the chain
//! as served, then each finding with the client's symptom and the fix.

use std::fmt::Write as _;

use mailcert_check::{EndpointReport, Finding, Report, Severity};

pub fn report_text(report: &Report) -> String {
    let mut out = String::new();
    for (i, endpoint) in report.endpoints.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        endpoint_text(&mut out, endpoint);
    }
    out
}

fn endpoint_text(out: &mut String, e: &EndpointReport) {
    let _ = write!(out, "{}", shown(&e.endpoint));
    if let Some(address) = &e.address {
        if !e.endpoint.contains(address.as_str()) {
            let _ = write!(out, "  (via {address})");
        }
    }
    out.push('\n');
    if let Some(name) = &e.name {
        let _ = writeln!(out, "  name checked: {}", shown(name));
    }
    if let Some(version) = &e.tls_version {
        let _ = writeln!(
            out,
            "  negotiated: {version}, {}{}",
            e.cipher.as_deref().unwrap_or("?"),
            e.alpn
                .as_deref()
                .map(|a| format!(", ALPN {a}"))
                .unwrap_or_default()
        );
    }
    if let Some(st) = &e.starttls {
        let _ = writeln!(out, "  greeting: {}", shown(&st.greeting));
        if !st.capabilities.is_empty() {
            let _ = writeln!(out, "  capabilities: {}", shown(&st.capabilities.join(" ")));
        }
    }
    if let Some(legacy) = &e.legacy_versions {
        if !legacy.is_empty() {
            let _ = writeln!(out, "  also accepts: {}", legacy.join(", "));
        }
    }
    if !e.chain.is_empty() {
        let _ = writeln!(
            out,
            "  chain as {}:",
            if e.connected { "served" } else { "given" }
        );
        for (i, c) in e.chain.iter().enumerate() {
            let _ = writeln!(
                out,
                "    {i}  {}  [{} {}, {}]",
                shown(&c.subject),
                c.key_algorithm,
                c.key_size,
                c.signature_algorithm
            );
            let _ = writeln!(out, "       issuer: {}", shown(&c.issuer));
            let mut names = c.names.clone();
            names.extend(c.ip_addresses.iter().cloned());
            if !names.is_empty() {
                let _ = writeln!(out, "       names: {}", shown(&names.join(", ")));
            }
            let _ = writeln!(out, "       valid: {} .. {}", c.not_before, c.not_after);
        }
    }
    if let Some(trusted) = e.trusted {
        let _ = writeln!(
            out,
            "  verdict: {}",
            if trusted { "trusted" } else { "NOT trusted" }
        );
    }
    if let Some(dane) = &e.dane {
        let verdict = match (&dane.error, dane.records.len()) {
            (Some(error), _) => format!("not looked up ({})", shown(error)),
            (None, 0) => format!(
                "no TLSA records ({}) at {}: DANE not published",
                dane.rcode.as_deref().unwrap_or("?"),
                dane.resolver
            ),
            (None, n) => format!(
                "{n} TLSA record(s), {}, {} matching what is served",
                if dane.authenticated {
                    "DNSSEC-validated (AD)"
                } else {
                    "not DNSSEC-validated"
                },
                dane.matching.len()
            ),
        };
        let _ = writeln!(out, "  dane: {}: {verdict}", dane.name);
        for record in &dane.records {
            let _ = writeln!(out, "       {}", shown(record));
        }
    }
    if e.findings.is_empty() {
        let _ = writeln!(out, "  ok: nothing a client would complain about");
    }
    findings_text(out, &e.findings);
}

/// `check --mta-sts`: one domain as a sending MTA sees it.
pub fn mta_sts_text(report: &mailcert_check::MtaStsReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "MTA-STS {} (DNS from {})",
        shown(&report.domain),
        report.resolver
    );
    let _ = writeln!(
        out,
        "  {}: {}",
        report.txt_name,
        report
            .txt
            .as_deref()
            .map(shown)
            .unwrap_or("no valid record".into())
    );
    match (&report.policy, &report.mode) {
        (Some(_), Some(mode)) => {
            let _ = writeln!(out, "  policy at {}: mode {mode}", report.policy_url);
        }
        _ => {
            let _ = writeln!(out, "  policy at {}: not available", report.policy_url);
        }
    }
    if let Some(policy) = &report.policy {
        for line in policy.lines() {
            let _ = writeln!(out, "    {}", shown(line.trim_end_matches('\r')));
        }
    }
    if let Some(host) = &report.policy_host {
        out.push('\n');
        endpoint_text(&mut out, host);
    }
    for mx in &report.mx {
        out.push('\n');
        let _ = writeln!(
            out,
            "MX {} {}: policy line {}",
            mx.preference,
            shown(&mx.host),
            mx.pattern.as_deref().map(shown).unwrap_or("none".into())
        );
        if let Some(endpoint) = &mx.endpoint {
            endpoint_text(&mut out, endpoint);
        }
    }
    out.push('\n');
    if report.findings.is_empty() {
        let _ = writeln!(
            out,
            "  ok: a sending MTA applying MTA-STS delivers to every MX"
        );
    }
    findings_text(&mut out, &report.findings);
    out
}

/// Each finding: its severity, code and message, then the fix.
fn findings_text(out: &mut String, findings: &[Finding]) {
    for f in findings {
        let label = match f.severity {
            Severity::Error => "ERROR",
            Severity::Warning => "WARNING",
            Severity::Info => "info",
        };
        let _ = writeln!(out, "  {label} [{}] {}", f.code, shown(&f.message));
        let _ = writeln!(out, "      fix: {}", shown(&f.fix));
    }
}

/// Text that may come from the peer (greetings, certificate names, the
/// lines quoted in findings) with control characters made visible, so
/// that a hostile server cannot send escape sequences to the terminal or
/// forge lines of the report.
fn shown(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}
