//! Building a chain leaf → intermediates → root from an unordered pool of
//! certificates, by issuer name and key identifiers, confirmed by the
//! signature. File order never matters (PKCS#7 returns SET order).

use x509_parser::prelude::{FromDer, X509Certificate};

use crate::cert::CertSummary;
use crate::error::CertError;
use crate::sigalg::{check_certificate, Check};

/// Where the chain built from a pool stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainEnd {
    /// The last certificate is a self-signed root (included in the chain).
    Root,
    /// The issuer of the last certificate is not in the pool. `issuer` is
    /// its distinguished name, `issuer_cn` its common name.
    MissingIssuer { issuer: String, issuer_cn: String },
    /// The issuer is in the pool (same name and key identifier) but its key
    /// does not verify the signature: the certificate was altered or damaged.
    BadSignature {
        subject_cn: String,
        issuer_cn: String,
    },
}

/// The chain above a leaf, issuer first, and where it stopped.
#[derive(Debug, Clone)]
pub struct BuiltChain {
    pub chain: Vec<Vec<u8>>,
    pub end: ChainEnd,
}

impl BuiltChain {
    /// The common name of the missing issuer, when the chain stops short.
    pub fn missing(&self) -> Option<&str> {
        match &self.end {
            ChainEnd::MissingIssuer { issuer_cn, .. } => Some(issuer_cn),
            ChainEnd::Root | ChainEnd::BadSignature { .. } => None,
        }
    }
}

/// Does `issuer_der`'s key verify the signature on `cert_der`? A signature
/// that cannot be checked (see [`crate::sigalg`]) is told apart from one
/// that does not match.
pub fn signed_by(cert_der: &[u8], issuer_der: &[u8]) -> Check {
    match X509Certificate::from_der(issuer_der) {
        Ok((_, issuer)) => check_certificate(cert_der, issuer.public_key().raw),
        Err(_) => Check::Unsupported("an issuer certificate that cannot be parsed".into()),
    }
}

/// Builds the chain above `leaf` from `pool` (any order, duplicates and
/// unrelated certificates allowed; the leaf itself may be in it).
pub fn build_chain(leaf_der: &[u8], pool: &[Vec<u8>]) -> BuiltChain {
    let parsed: Vec<(CertSummary, &Vec<u8>)> = pool
        .iter()
        .filter(|der| der.as_slice() != leaf_der)
        .filter_map(|der| CertSummary::from_der(der).ok().map(|s| (s, der)))
        .collect();
    let mut chain: Vec<Vec<u8>> = Vec::new();
    let Ok(mut current) = CertSummary::from_der(leaf_der) else {
        return BuiltChain {
            chain,
            end: ChainEnd::MissingIssuer {
                issuer: String::new(),
                issuer_cn: String::new(),
            },
        };
    };
    let mut current_der = leaf_der.to_vec();
    loop {
        if current.is_self_signed {
            return BuiltChain {
                chain,
                end: ChainEnd::Root,
            };
        }
        // An issuer whose signature verifies; failing that, one whose
        // signature cannot be checked (an old algorithm): names and key
        // identifiers agree, and the verdict will say why it is unchecked.
        let candidates: Vec<(&(CertSummary, &Vec<u8>), Check)> = parsed
            .iter()
            .filter(|(candidate, der)| {
                current.issued_by(candidate) && !chain.iter().any(|c| c == *der)
            })
            .map(|entry| (entry, signed_by(&current_der, entry.1)))
            .collect();
        let next = candidates
            .iter()
            .find(|(_, check)| *check == Check::Verified)
            .or_else(|| {
                candidates
                    .iter()
                    .find(|(_, check)| matches!(check, Check::Unsupported(_)))
            })
            .map(|(entry, _)| *entry);
        match next {
            Some((summary, der)) if chain.len() < 10 => {
                chain.push((*der).clone());
                current = summary.clone();
                current_der = (*der).clone();
            }
            _ => {
                // Name and key identifier agree, yet the key does not verify:
                // not a missing issuer (a CA that changed keys under the same
                // name has another key identifier).
                let forged = parsed.iter().find(|(candidate, _)| {
                    current.issued_by(candidate)
                        && current.authority_key_id.is_some()
                        && current.authority_key_id == candidate.subject_key_id
                });
                if let Some((issuer, _)) = forged {
                    return BuiltChain {
                        chain,
                        end: ChainEnd::BadSignature {
                            subject_cn: current.subject_cn(),
                            issuer_cn: issuer.subject_cn(),
                        },
                    };
                }
                return BuiltChain {
                    chain,
                    end: ChainEnd::MissingIssuer {
                        issuer_cn: current.issuer_cn(),
                        issuer: current.issuer.clone(),
                    },
                };
            }
        }
    }
}

/// The chain as a server sends it and as the store keeps it: without
/// self-signed certificates. A root is useless on the wire (a client
/// trusts it already or will not trust it because it was sent, RFC 8446
/// §4.4.2), costs bytes in every handshake, and scanners flag it. A
/// certificate that cannot be parsed is kept: nothing can be said of it.
pub fn without_roots(chain: &[Vec<u8>]) -> Vec<Vec<u8>> {
    chain.iter().filter(|der| !is_root(der)).cloned().collect()
}

/// Is this a self-signed certificate (subject = issuer, and its own key
/// verifies its signature)?
pub fn is_root(der: &[u8]) -> bool {
    CertSummary::from_der(der).is_ok_and(|s| s.is_self_signed)
}

/// The server certificate first, then its chain in issuer order, from a
/// set whose order means nothing (PKCS#7): the server certificate is the
/// one that issued none of the others (among several, the one that is not
/// a CA). `what` names the file in the error.
pub fn leaf_first(set: Vec<Vec<u8>>, what: &str) -> Result<Vec<Vec<u8>>, CertError> {
    let summaries: Vec<CertSummary> = set
        .iter()
        .map(|d| CertSummary::from_der(d))
        .collect::<Result<_, _>>()?;
    let issues_none = |i: usize| {
        !summaries
            .iter()
            .enumerate()
            .any(|(j, s)| j != i && s.issued_by(&summaries[i]))
    };
    let mut leaves: Vec<usize> = (0..set.len()).filter(|&i| issues_none(i)).collect();
    if leaves.len() > 1 {
        // Among several, CA certificates are not server certificates.
        leaves.retain(|&i| !summaries[i].is_ca);
    }
    let [leaf] = leaves[..] else {
        return Err(CertError::NoOrder {
            what: what.to_string(),
            candidates: (0..set.len())
                .filter(|&i| issues_none(i))
                .map(|i| summaries[i].subject_cn())
                .collect(),
        });
    };
    let leaf_der = set[leaf].clone();
    let mut rest = set;
    rest.remove(leaf);
    let mut ordered = vec![leaf_der];
    let chain = issuer_order(&ordered, rest);
    ordered.extend(chain);
    Ok(ordered)
}

/// A set put in the order a server should send it: each issuer after the
/// certificate it issued, starting above the highest certificate already
/// read (`before`) that the set continues; what is left keeps the set's
/// order. Certificates already read are left out: a CA's .p7b usually
/// holds the server certificate too.
pub fn issuer_order(before: &[Vec<u8>], mut set: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    set.retain(|der| !before.contains(der));
    let mut ordered: Vec<Vec<u8>> = before
        .iter()
        .rev()
        .map(|start| build_chain(start, &set).chain)
        .find(|chain| !chain.is_empty())
        .unwrap_or_default();
    for der in set {
        if !ordered.contains(&der) {
            ordered.push(der);
        }
    }
    ordered
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::keys::KeyType;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

    /// root → intermediate → leaf, made with rcgen: (DER, key) each.
    pub(crate) fn pki() -> Vec<(Vec<u8>, KeyPair)> {
        let ca = |name: &str| {
            let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
            p.distinguished_name = rcgen::DistinguishedName::new();
            p.distinguished_name.push(rcgen::DnType::CommonName, name);
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.use_authority_key_identifier_extension = true;
            p
        };
        let root_key = KeyType::EcP256.generate().unwrap();
        let root_params = ca("Unit Root");
        let root = root_params.self_signed(&root_key).unwrap();
        let int_key = KeyType::EcP256.generate().unwrap();
        let root_issuer = Issuer::from_ca_cert_der(root.der(), &root_key).unwrap();
        let int = ca("Unit Intermediate")
            .signed_by(&int_key, &root_issuer)
            .unwrap();
        let leaf_key = KeyType::EcP256.generate().unwrap();
        let int_issuer = Issuer::from_ca_cert_der(int.der(), &int_key).unwrap();
        let mut leaf_params = CertificateParams::new(vec!["mail.contoso.com".to_string()]).unwrap();
        leaf_params.use_authority_key_identifier_extension = true;
        let leaf = leaf_params.signed_by(&leaf_key, &int_issuer).unwrap();
        vec![
            (leaf.der().to_vec(), leaf_key),
            (int.der().to_vec(), int_key),
            (root.der().to_vec(), root_key),
        ]
    }

    #[test]
    fn chain_is_built_by_issuer_whatever_the_order() {
        let pki = pki();
        let (leaf, int, root) = (&pki[0].0, &pki[1].0, &pki[2].0);
        let built = build_chain(leaf, &[root.clone(), leaf.clone(), int.clone()]);
        assert_eq!(built.chain, vec![int.clone(), root.clone()]);
        assert_eq!(built.end, ChainEnd::Root);

        let built = build_chain(leaf, std::slice::from_ref(root));
        assert!(built.chain.is_empty());
        assert_eq!(built.missing(), Some("Unit Intermediate"));

        let built = build_chain(leaf, std::slice::from_ref(int));
        assert_eq!(built.chain, vec![int.clone()]);
        assert_eq!(built.missing(), Some("Unit Root"));
    }

    #[test]
    fn roots_are_left_out_of_what_is_sent() {
        let pki = pki();
        let (leaf, int, root) = (&pki[0].0, &pki[1].0, &pki[2].0);
        assert_eq!(
            without_roots(&[int.clone(), root.clone()]),
            vec![int.clone()]
        );
        assert_eq!(without_roots(std::slice::from_ref(int)), vec![int.clone()]);
        assert!(is_root(root) && !is_root(int) && !is_root(leaf));
        // What cannot be judged is kept, not silently dropped.
        assert_eq!(without_roots(&[vec![1, 2, 3]]), vec![vec![1, 2, 3]]);
    }

    #[test]
    fn an_unordered_set_is_put_leaf_first_then_by_issuer() {
        let pki = pki();
        let (leaf, int, root) = (&pki[0].0, &pki[1].0, &pki[2].0);
        let ordered = leaf_first(vec![root.clone(), leaf.clone(), int.clone()], "chain.p7b")
            .expect("one server certificate");
        assert_eq!(ordered, vec![leaf.clone(), int.clone(), root.clone()]);
        // A CA certificate that issued nothing here is no server certificate.
        let ordered = leaf_first(vec![int.clone(), leaf.clone()], "chain.p7b").expect("one leaf");
        assert_eq!(ordered, vec![leaf.clone(), int.clone()]);
    }

    #[test]
    fn two_possible_server_certificates_are_named() {
        let (first, second) = (pki(), pki());
        let err = leaf_first(vec![first[0].0.clone(), second[0].0.clone()], "both.p7b")
            .expect_err("two leaves");
        assert!(matches!(&err, CertError::NoOrder { candidates, .. } if candidates.len() == 2));
        assert_eq!(
            err.to_string(),
            "both.p7b: this PKCS#7 file keeps no order and 2 of its certificates could be the server certificate (\"rcgen self signed cert\", \"rcgen self signed cert\"); give the server certificate alone as CERT and this file with --chain"
        );
    }

    #[test]
    fn a_set_after_certificates_read_continues_their_chain() {
        let (pki, other) = (pki(), pki());
        let (leaf, int, root) = (&pki[0].0, &pki[1].0, &pki[2].0);
        // The leaf again in the set is left out; its issuers follow in order.
        assert_eq!(
            issuer_order(
                std::slice::from_ref(leaf),
                vec![root.clone(), leaf.clone(), int.clone()]
            ),
            vec![int.clone(), root.clone()]
        );
        // Unrelated certificates keep the set's order after the chain.
        assert_eq!(
            issuer_order(
                std::slice::from_ref(int),
                vec![other[1].0.clone(), root.clone()]
            ),
            vec![root.clone(), other[1].0.clone()]
        );
    }
}
