//! The DNS side: the `_mta-sts` TXT record that announces a policy and
//! its id (RFC 8461 §3.1), and the `_smtp._tls` TXT record that tells
//! senders where to report failures (TLS-RPT, RFC 8460 §3).

use serde::Serialize;

use crate::error::StsError;
use crate::policy::shorten;

/// The owner name of a domain's MTA-STS TXT record.
pub fn sts_record_name(domain: &str) -> String {
    format!(
        "_mta-sts.{}",
        domain.trim_end_matches('.').to_ascii_lowercase()
    )
}

/// The owner name of a domain's TLS-RPT TXT record.
pub fn tlsrpt_record_name(domain: &str) -> String {
    format!(
        "_smtp._tls.{}",
        domain.trim_end_matches('.').to_ascii_lowercase()
    )
}

/// The `_mta-sts` TXT record: `v=STSv1; id=…`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StsRecord {
    pub id: String,
}

impl StsRecord {
    /// The record's text, as it goes between the quotes of a TXT record.
    pub fn text(&self) -> String {
        format!("v=STSv1; id={}", self.id)
    }

    /// The one valid MTA-STS record among the TXT records at
    /// `_mta-sts.<domain>` (each given as its character-strings joined).
    /// RFC 8461 §3.1: records that do not start with `v=STSv1;` are
    /// discarded; when not exactly one is left, or it is invalid, the
    /// domain has no available policy.
    pub fn find(records: &[String]) -> Result<StsRecord, StsError> {
        let bad = |reason: String| StsError::BadRecord { reason };
        let candidates: Vec<&String> = records
            .iter()
            .filter(|r| {
                r.strip_prefix("v=STSv1")
                    .is_some_and(|rest| rest.trim_start_matches([' ', '\t']).starts_with(';'))
            })
            .collect();
        match candidates.as_slice() {
            [] if records.is_empty() => Err(bad("there is none".into())),
            [] => Err(bad(format!(
                "none of the {} TXT record(s) there starts with \"v=STSv1;\" ({})",
                records.len(),
                records
                    .iter()
                    .map(|r| format!("\"{}\"", shorten(r)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
            [one] => StsRecord::parse(one),
            many => Err(bad(format!(
                "there are {} records starting with \"v=STSv1;\"; senders then ignore them all (RFC 8461 §3.1): keep one",
                many.len()
            ))),
        }
    }

    /// Parses one record's text (`v=STSv1; id=20260101T000000;`).
    pub fn parse(text: &str) -> Result<StsRecord, StsError> {
        let bad = |reason: String| StsError::BadRecord { reason };
        let mut fields = text.split(';').map(|f| f.trim_matches([' ', '\t']));
        if fields.next() != Some("v=STSv1") {
            return Err(bad(format!(
                "\"{}\" does not start with \"v=STSv1;\"",
                shorten(text)
            )));
        }
        let mut id = None;
        for field in fields.filter(|f| !f.is_empty()) {
            let Some((key, value)) = field.split_once('=') else {
                return Err(bad(format!("field '{}' is not key=value", shorten(field))));
            };
            if key == "id" && id.is_none() {
                let valid = (1..=32).contains(&value.len())
                    && value.bytes().all(|b| b.is_ascii_alphanumeric());
                if !valid {
                    return Err(bad(format!(
                        "id '{}' is not 1 to 32 letters and digits",
                        shorten(value)
                    )));
                }
                id = Some(value.to_string());
            }
        }
        id.map(|id| StsRecord { id })
            .ok_or_else(|| bad(format!("\"{}\" has no id field", shorten(text))))
    }
}

/// Where TLS-RPT reports go: `mailto:` or `https:` URIs (RFC 8460 §3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Rua(String);

impl Rua {
    /// Validates one reporting address.
    pub fn parse(text: &str) -> Result<Rua, StsError> {
        let uri = text.trim();
        let bad = |reason: &str| StsError::BadRua {
            uri: text.to_string(),
            reason: reason.to_string(),
        };
        // Commas separate the URIs of the record and semicolons its fields:
        // inside a URI they must be percent-encoded (RFC 8460 §3).
        if uri
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == ',' || c == ';' || c == '"')
        {
            return Err(bad(
                "it holds a space, a quote, a comma or a semicolon (write them percent-encoded)",
            ));
        }
        if let Some(address) = uri.strip_prefix("mailto:") {
            let Some((local, domain)) = address.split_once('@') else {
                return Err(bad("a mailto: address needs local@domain"));
            };
            let domain = domain.split('?').next().unwrap_or(domain);
            if local.is_empty() || mailcert_x509::parse_name(domain).is_err() {
                return Err(bad("a mailto: address needs local@domain"));
            }
            return Ok(Rua(uri.to_string()));
        }
        if let Some(rest) = uri.strip_prefix("https://") {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
            if host.is_empty() || mailcert_x509::parse_name(host).is_err() {
                return Err(bad("an https: address needs a host name"));
            }
            return Ok(Rua(uri.to_string()));
        }
        Err(bad(
            "only mailto: and https: addresses are reporting addresses",
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The `_smtp._tls` TXT record: `v=TLSRPTv1; rua=…`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsRptRecord {
    pub rua: Vec<Rua>,
}

impl TlsRptRecord {
    pub fn text(&self) -> String {
        let uris: Vec<&str> = self.rua.iter().map(Rua::as_str).collect();
        format!("v=TLSRPTv1; rua={}", uris.join(","))
    }
}

/// A TXT record's text in zone-file form: quoted, split into strings of
/// at most 255 bytes (one TXT character-string), quotes and backslashes
/// escaped.
pub fn zone_quoted(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut parts = Vec::new();
    let mut start = 0;
    while start < bytes.len() {
        let mut end = (start + 255).min(bytes.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        parts.push(&text[start..end]);
        start = end;
    }
    if parts.is_empty() {
        parts.push("");
    }
    parts
        .iter()
        .map(|p| format!("\"{}\"", p.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sts_records_as_rfc_8461_section_3_1_reads_them() {
        let record = StsRecord::parse("v=STSv1; id=20160831085700Z;").unwrap();
        assert_eq!(record.id, "20160831085700Z");
        let ours = StsRecord {
            id: "abc123".into(),
        };
        assert_eq!(ours.text(), "v=STSv1; id=abc123");
        assert_eq!(StsRecord::parse(&ours.text()).unwrap(), ours);
        let found =
            StsRecord::find(&["v=spf1 -all".to_string(), "v=STSv1;id=x1".to_string()]).unwrap();
        assert_eq!(found.id, "x1");
        for (records, why) in [
            (vec![], "there is none"),
            (vec!["v=spf1 -all".to_string()], "none of the 1"),
            (
                vec!["v=STSv1; id=a".to_string(), "v=STSv1; id=b".to_string()],
                "there are 2",
            ),
            (vec!["v=STSv1; ida=1".to_string()], "no id"),
            (vec!["v=STSv1; id=a-b".to_string()], "letters and digits"),
            (vec![format!("v=STSv1; id={}", "a".repeat(33))], "1 to 32"),
        ] {
            let err = StsRecord::find(&records).unwrap_err().to_string();
            assert!(err.contains(why), "{records:?}: {err}");
        }
        // "v=STSv10" is not version 1.
        assert!(StsRecord::find(&["v=STSv10; id=1".to_string()]).is_err());
    }

    #[test]
    fn tlsrpt_addresses() {
        let record = TlsRptRecord {
            rua: vec![
                Rua::parse("mailto:tlsrpt@contoso.com").unwrap(),
                Rua::parse("https://reports.contoso.com/tlsrpt").unwrap(),
            ],
        };
        assert_eq!(
            record.text(),
            "v=TLSRPTv1; rua=mailto:tlsrpt@contoso.com,https://reports.contoso.com/tlsrpt"
        );
        for bad in [
            "tlsrpt@contoso.com",
            "mailto:contoso.com",
            "mailto:a@b.com,mailto:c@d.com",
            "http://reports.contoso.com/",
            "https:///x",
            "mailto:a b@contoso.com",
        ] {
            assert!(Rua::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(sts_record_name("Contoso.com."), "_mta-sts.contoso.com");
        assert_eq!(tlsrpt_record_name("contoso.com"), "_smtp._tls.contoso.com");
    }

    #[test]
    fn zone_form_splits_long_text() {
        assert_eq!(zone_quoted("v=STSv1; id=1"), "\"v=STSv1; id=1\"");
        let long = "a".repeat(300);
        let quoted = zone_quoted(&long);
        assert_eq!(
            quoted,
            format!("\"{}\" \"{}\"", "a".repeat(255), "a".repeat(45))
        );
        assert_eq!(zone_quoted("say \"hi\""), "\"say \\\"hi\\\"\"");
    }
}
