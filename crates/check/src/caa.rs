//! CAA look-ups for `plan --resolve`: for each name, the relevant record
//! set (RFC 8659 §3: the name itself, then each parent until one has CAA
//! records), asked of the resolver given, with the DNS client the DANE
//! checks use (one DNS stack in the program). The judging is the
//! planner's ([`mailcert_plan::caa_findings`]), pure.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};
use mailcert_dane::Resolver;
use mailcert_plan::{climb, CaaLookup, CaaRecord};

/// The relevant CAA record set of `name` (a wildcard is looked up without
/// its `*.`), or why there is none.
pub fn caa_lookup(resolver: &Resolver, name: &str) -> CaaLookup {
    for candidate in climb(name) {
        let answer = match resolver.query(&candidate, RecordType::CAA, true) {
            Ok(answer) => answer,
            Err(e) => {
                return CaaLookup::Failed {
                    name: name.to_string(),
                    reason: e.to_string(),
                }
            }
        };
        if !matches!(answer.rcode, ResponseCode::NoError | ResponseCode::NXDomain) {
            return CaaLookup::Failed {
                name: name.to_string(),
                reason: format!(
                    "{candidate}: {}",
                    mailcert_dane::resolver::rcode_text(answer.rcode)
                ),
            };
        }
        let records: Vec<CaaRecord> = answer
            .records
            .iter()
            .filter_map(|(_, _, data)| match data {
                RData::CAA(caa) => Some(CaaRecord {
                    critical: caa.issuer_critical,
                    tag: caa.tag.clone(),
                    value: String::from_utf8_lossy(&caa.value).into_owned(),
                }),
                _ => None,
            })
            .collect();
        if !records.is_empty() {
            return CaaLookup::Found {
                name: name.to_string(),
                at: candidate,
                records,
            };
        }
    }
    CaaLookup::None {
        name: name.to_string(),
    }
}
