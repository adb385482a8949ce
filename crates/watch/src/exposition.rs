//! Writing the Prometheus text format (version 0.0.4) for the families
//! computed at each scrape from the store and the checker's reports.
//! Those are views of the moment, whose series come and go with the
//! certificates; a recorder that keeps every series it ever saw (what
//! metrics-exporter-prometheus does for counters) cannot drop them, so
//! they are written here, with that crate's own escaping of label values.

use std::fmt::Write as _;

use metrics_exporter_prometheus::formatting::{sanitize_description, sanitize_label_value};

/// The content type of the text format, as Prometheus asks for it.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A text-format document being written, one family at a time.
#[derive(Debug, Default)]
pub struct Exposition {
    text: String,
}

/// The kind a family is declared as (`# TYPE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    Counter,
}

impl Exposition {
    pub fn new() -> Exposition {
        Exposition::default()
    }

    /// Starts a family: its `# HELP` and `# TYPE` lines.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) -> &mut Self {
        let kind = match kind {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
        };
        let _ = writeln!(
            self.text,
            "# HELP {name} {}\n# TYPE {name} {kind}",
            sanitize_description(help)
        );
        self
    }

    /// One sample of the family started last.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) -> &mut Self {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (key, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{key}=\"{}\"", sanitize_label_value(value));
            }
            self.text.push('}');
        }
        self.text.push(' ');
        push_value(&mut self.text, value);
        self.text.push('\n');
        self
    }

    /// Text rendered elsewhere in the same format (the front end's counters).
    pub fn append(&mut self, rendered: &str) -> &mut Self {
        self.text.push_str(rendered);
        if !rendered.is_empty() && !rendered.ends_with('\n') {
            self.text.push('\n');
        }
        self
    }

    pub fn finish(self) -> String {
        self.text
    }
}

/// Integers without a fraction (timestamps, 0/1), as exporters write them.
fn push_value(text: &mut String, value: f64) {
    if value.is_nan() {
        text.push_str("NaN");
    } else if value.is_infinite() {
        text.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        let _ = write!(text, "{}", value as i64);
    } else {
        let _ = write!(text, "{value}");
    }
}

/// The common name of a distinguished name as mailcert prints it
/// (`CN=mail.contoso.com, O=Contoso`); empty when it has none, as
/// x509-certificate-exporter leaves the label.
pub fn common_name(dn: &str) -> String {
    let mut attributes = Vec::new();
    let mut current = String::new();
    let mut escaped = false;
    for c in dn.chars() {
        match c {
            '\\' if !escaped => escaped = true,
            ',' | '+' if !escaped => attributes.push(std::mem::take(&mut current)),
            _ => {
                escaped = false;
                current.push(c);
            }
        }
    }
    attributes.push(current);
    attributes
        .iter()
        .filter_map(|a| a.trim().split_once('='))
        .find(|(key, _)| key.trim().eq_ignore_ascii_case("CN"))
        .map(|(_, value)| value.trim().trim_matches('"').to_string())
        .unwrap_or_default()
}

/// A serial number written as upper-case hex, in decimal, as both
/// x509-certificate-exporter and ssl_exporter label it.
pub fn serial_decimal(hex: &str) -> String {
    x509_parser::num_bigint::BigUint::parse_bytes(hex.as_bytes(), 16)
        .map(|n| n.to_string())
        .unwrap_or_else(|| hex.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_escaped_and_integers_stay_integers() {
        let mut e = Exposition::new();
        e.family("x509_cert_not_after", Kind::Gauge, "end")
            .sample(
                "x509_cert_not_after",
                &[("subject_CN", "a\"b\\c\nd"), ("services", "https,imap")],
                1_900_000_000.0,
            )
            .sample("x509_cert_not_after", &[], 0.5);
        assert_eq!(
            e.finish(),
            "# HELP x509_cert_not_after end\n# TYPE x509_cert_not_after gauge\n\
             x509_cert_not_after{subject_CN=\"a\\\"b\\\\c\\nd\",services=\"https,imap\"} 1900000000\n\
             x509_cert_not_after 0.5\n"
        );
    }

    #[test]
    fn common_names_and_serials() {
        assert_eq!(
            common_name("CN=mail.contoso.com, O=Contoso, C=US"),
            "mail.contoso.com"
        );
        assert_eq!(common_name("O=Contoso\\, Inc., CN=x.test"), "x.test");
        assert_eq!(common_name("O=Contoso"), "");
        assert_eq!(serial_decimal("0100"), "256");
        assert_eq!(
            serial_decimal("7F3A9B2C4D5E6F708192A3B4C5D6E7F801234567"),
            "726348788595726854920602808693784360196300293479"
        );
    }
}
