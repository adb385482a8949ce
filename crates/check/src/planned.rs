//! The endpoints of an organisation plan: what `check --plan` connects to.

use std::collections::BTreeSet;

use crate::endpoint::{Endpoint, Scheme};

/// Every name of the planned certificates, on every scheme (HTTPS only for
/// autodiscover names); wildcards are skipped. Like a bare host, ports that
/// do not answer are left out of the report.
pub fn plan_endpoints(plan: &mailcert_plan::Plan) -> Vec<Endpoint> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for cert in &plan.certificates {
        for planned in &cert.names {
            let name = planned.name.as_str();
            if name.contains('*') || !seen.insert(name.to_string()) {
                continue;
            }
            let schemes: &[Scheme] = if name.starts_with("autodiscover.") {
                &[Scheme::Https]
            } else {
                &Scheme::ALL
            };
            for &scheme in schemes {
                out.push(Endpoint {
                    expanded: true,
                    ..Endpoint::new(scheme, name, None)
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_namespaces_on_every_protocol() {
        let text = r#"
[organization]
accepted_domains = ["contoso.com"]
issuer = "public"
[namespaces]
client_access = ["mail.contoso.com"]
autodiscover = "names"
"#;
        let at = mailcert_x509::time::parse_at("2026-06-01").expect("date");
        let plan = mailcert_plan::plan_toml(text, "org.toml", at).expect("plan");
        let urls: Vec<String> = plan_endpoints(&plan).iter().map(Endpoint::url).collect();
        assert!(urls.contains(&"https://autodiscover.contoso.com:443".to_string()));
        assert!(!urls.iter().any(|u| u.starts_with("imaps://autodiscover.")));
        for scheme in Scheme::ALL {
            let url = format!("{scheme}://mail.contoso.com:{}", scheme.default_port());
            assert!(urls.contains(&url), "{url} in {urls:?}");
        }
        assert!(plan_endpoints(&plan).iter().all(|e| e.expanded));
    }
}
