//! The TLS scanners administrators and auditors point at a server:
//! testssl (its JSON findings) and sslscan (its XML, read with Debian's
//! Python), run against a port on 127.0.0.1.

use std::collections::BTreeMap;
use std::path::Path;

use crate::run;

/// One finding of testssl: its severity (`OK`, `INFO`, `LOW`, `MEDIUM`,
/// `HIGH`, `CRITICAL`, `WARN`) and the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestsslFinding {
    pub severity: String,
    pub finding: String,
}

/// testssl's server-preference checks (`-P`: is there a server cipher
/// order, and which) on 127.0.0.1:`port`, by finding id (`cipher_order`,
/// `cipherorder_TLSv1_2`, …). `starttls` is testssl's protocol name
/// (`imap`, `pop3`, `smtp`) for a STARTTLS port. testssl's exit code says
/// nothing about the findings, so only its JSON file is read.
pub fn testssl_preferences(
    port: u16,
    starttls: Option<&str>,
    dir: &Path,
) -> BTreeMap<String, TestsslFinding> {
    let json = dir.join(format!("testssl-{port}.json"));
    let _ = std::fs::remove_file(&json);
    let json_arg = json.display().to_string();
    let target = format!("127.0.0.1:{port}");
    let mut args = vec![
        "--quiet",
        "--color",
        "0",
        "--warnings",
        "off",
        "-P",
        "--jsonfile-pretty",
        &json_arg,
    ];
    if let Some(protocol) = starttls {
        args.extend(["--starttls", protocol]);
    }
    args.push(&target);
    let out = run("testssl", &args, b"");
    let text = std::fs::read_to_string(&json).unwrap_or_else(|e| {
        panic!(
            "testssl wrote no {} ({e}):\n{}\n{}",
            json.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let value: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("testssl's JSON does not parse ({e}):\n{text}"));
    let mut findings = BTreeMap::new();
    let results = value["scanResult"].as_array().cloned().unwrap_or_default();
    for section in results.iter().filter_map(|r| r.as_object()) {
        for entries in section.values().filter_map(|v| v.as_array()) {
            for entry in entries {
                let (Some(id), Some(severity), Some(finding)) = (
                    entry["id"].as_str(),
                    entry["severity"].as_str(),
                    entry["finding"].as_str(),
                ) else {
                    continue;
                };
                findings.insert(
                    id.to_string(),
                    TestsslFinding {
                        severity: severity.to_string(),
                        finding: finding.to_string(),
                    },
                );
            }
        }
    }
    assert!(
        !findings.is_empty(),
        "testssl found nothing at all on {target}:\n{text}"
    );
    findings
}

/// What sslscan saw on a port.
#[derive(Debug, Clone, Default)]
pub struct SslScan {
    /// `SSLv2`, `SSLv3`, `TLSv1.0` … with whether it is enabled.
    pub protocols: Vec<(String, bool)>,
    /// Every accepted cipher suite, in the order sslscan lists them.
    pub ciphers: Vec<ScannedCipher>,
}

/// One cipher suite a server accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedCipher {
    /// `preferred` (what the server chose from sslscan's whole list) or
    /// `accepted`.
    pub status: String,
    /// `TLSv1.2`, `TLSv1.3`.
    pub version: String,
    /// OpenSSL's name: `ECDHE-ECDSA-AES256-GCM-SHA384`, `TLS_AES_256_GCM_SHA384`.
    pub cipher: String,
}

/// Reads sslscan's XML into JSON with the standard library of Debian's
/// Python, as the rest of the peers here do.
const SSLSCAN_XML: &str = r#"
import json, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
protocols = [["%s%s" % ("SSLv" if p.get("type") == "ssl" else "TLSv", p.get("version")), p.get("enabled") == "1"]
             for p in root.iter("protocol")]
ciphers = [{"status": c.get("status"), "version": c.get("sslversion"), "cipher": c.get("cipher")}
           for c in root.iter("cipher")]
print(json.dumps({"protocols": protocols, "ciphers": ciphers}))
"#;

/// sslscan on 127.0.0.1:`port`; `starttls` is `imap`, `pop3` or `smtp`
/// for a STARTTLS port.
pub fn sslscan(port: u16, starttls: Option<&str>, dir: &Path) -> SslScan {
    let xml = dir.join(format!("sslscan-{port}.xml"));
    let _ = std::fs::remove_file(&xml);
    let xml_arg = format!("--xml={}", xml.display());
    let target = format!("127.0.0.1:{port}");
    let starttls_arg = starttls.map(|p| format!("--starttls-{p}"));
    let mut args = vec!["--no-colour", &xml_arg];
    if let Some(arg) = &starttls_arg {
        args.push(arg);
    }
    args.push(&target);
    let out = run("sslscan", &args, b"");
    assert!(
        xml.exists(),
        "sslscan wrote no {}:\n{}\n{}",
        xml.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let parsed = crate::python(SSLSCAN_XML, &[&xml.display().to_string()]);
    let value: serde_json::Value = serde_json::from_str(&parsed)
        .unwrap_or_else(|e| panic!("sslscan's XML as JSON ({e}): {parsed}"));
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    SslScan {
        protocols: value["protocols"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| (text(&p[0]), p[1].as_bool().unwrap_or(false)))
            .collect(),
        ciphers: value["ciphers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| ScannedCipher {
                status: text(&c["status"]),
                version: text(&c["version"]),
                cipher: text(&c["cipher"]),
            })
            .collect(),
    }
}
