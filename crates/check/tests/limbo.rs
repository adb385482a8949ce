//! x509-limbo: the public suite of path-validation and name-matching cases,
//! run through the same validation core as `mailcert verify`. A case
//! passes when the verdict (no error-level finding) matches the expected
//! result; every known difference is listed with its reason in
//! `data/x509-limbo/exceptions.json`, and an exception that no longer
//! differs fails the run too, so the list stays true.

use std::collections::BTreeMap;

use mailcert_check::{validate, Origin, Request, Source, TrustStore};
use serde_json::Value;
use time::OffsetDateTime;

const LIMBO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/x509-limbo/limbo.json"
);
const EXCEPTIONS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/x509-limbo/exceptions.json"
);

fn pems(value: &Value) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for pem in value.as_array().into_iter().flatten() {
        if let Some(text) = pem.as_str() {
            if let Ok(mut ders) = mailcert_x509::pem::decode_certificates(text.as_bytes(), "limbo")
            {
                out.append(&mut ders);
            }
        }
    }
    out
}

/// Runs one SERVER case; `true` when it validates.
fn run_case(case: &Value) -> bool {
    let mut trust = TrustStore::empty();
    for der in pems(&case["trusted_certs"]) {
        // An anchor webpki cannot use is simply not trusted.
        let _ = trust.add(&der, Origin::Private, "limbo trusted_certs");
    }
    let mut certificates = Vec::new();
    let peer = case["peer_certificate"].as_str().unwrap_or_default();
    match mailcert_x509::pem::decode_certificates(peer.as_bytes(), "limbo peer") {
        Ok(mut ders) => certificates.append(&mut ders),
        Err(_) => return false,
    }
    certificates.extend(pems(&case["untrusted_intermediates"]));
    let at = case["validation_time"]
        .as_str()
        .and_then(|t| mailcert_x509::time::parse_at(t).ok())
        .unwrap_or_else(OffsetDateTime::now_utc);
    let name = case["expected_peer_name"]["value"].as_str();
    let validation = validate(&Request {
        certificates: &certificates,
        name,
        at,
        trust: &trust,
        source: Source::Files,
    });
    !validation.has_errors()
}

#[test]
fn x509_limbo_server_cases() {
    let limbo: Value =
        serde_json::from_str(&std::fs::read_to_string(LIMBO).expect("limbo.json")).expect("JSON");
    let exceptions: BTreeMap<String, String> =
        serde_json::from_str(&std::fs::read_to_string(EXCEPTIONS).expect("exceptions.json"))
            .expect("exceptions JSON: {\"case id\": \"reason\"}");
    for (id, reason) in &exceptions {
        assert!(reason.trim().len() > 10, "exception {id} needs a reason");
    }
    let mut agree = 0;
    let mut known = 0;
    let mut unexpected = Vec::new();
    let mut stale = Vec::new();
    let mut total = 0;
    for case in limbo["testcases"].as_array().expect("testcases") {
        if case["validation_kind"] != "SERVER" {
            continue;
        }
        total += 1;
        let id = case["id"].as_str().unwrap_or_default().to_string();
        let expected = case["expected_result"] == "SUCCESS";
        let actual = run_case(case);
        let excepted = exceptions.contains_key(&id);
        match (actual == expected, excepted) {
            (true, false) => agree += 1,
            (true, true) => stale.push(id),
            (false, true) => known += 1,
            (false, false) => unexpected.push(format!(
                "{id}: expected {}, got {}",
                if expected { "SUCCESS" } else { "FAILURE" },
                if actual { "SUCCESS" } else { "FAILURE" }
            )),
        }
    }
    println!(
        "x509-limbo: {agree} of {total} server cases agree, {known} known differences (exceptions.json)"
    );
    assert!(
        unexpected.is_empty(),
        "{} unexpected results:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
    assert!(
        stale.is_empty(),
        "exceptions that now agree (remove them from exceptions.json):\n{}",
        stale.join("\n")
    );
}
