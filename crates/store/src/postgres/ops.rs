//! The queries behind [`crate::Store`] on PostgreSQL, the same records
//! and the same rules as the SQLite store's (`sqlite.rs`).

use mailcert_x509::{CertSummary, Trust};
use postgres::{Client, GenericClient, Row, Transaction};
use time::OffsetDateTime;

use super::{CHANGES_CHANNEL, WRITE_LOCK};
use crate::crypto::StoreKey;
use crate::error::{Result, StoreError};
use crate::model::*;
use crate::sqlite::{binding_from_columns, prefix_end, split_chain, split_lines, timestamp};

pub(crate) const CERT_COLUMNS: &str =
    "thumbprint, sha256, der, subject, issuer, serial, names, ip_addresses, \
    not_before, not_after, key_algorithm, key_size, signature_algorithm, is_self_signed, is_ca, \
    server_auth, has_eku, subject_key_id, authority_key_id, spki, subject_raw, issuer_raw, chain, \
    private_key IS NOT NULL, exportable, friendly_name, origin, trust, created_at, seq";

pub(crate) const PENDING_COLUMNS: &str =
    "id, csr, subject, names, key_type, spki, exportable, friendly_name, renews, created_at";

pub(crate) fn cert_from_row(row: &Row) -> Result<CertRecord> {
    let ips: String = row.try_get(7)?;
    let key_size: i64 = row.try_get(11)?;
    let summary = CertSummary {
        thumbprint: row.try_get(0)?,
        sha256: row.try_get(1)?,
        subject: row.try_get(3)?,
        issuer: row.try_get(4)?,
        serial: row.try_get(5)?,
        names: split_lines(row.try_get(6)?),
        ip_addresses: split_lines(ips)
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect(),
        not_before: timestamp(row.try_get(8)?),
        not_after: timestamp(row.try_get(9)?),
        key_algorithm: row.try_get(10)?,
        key_size: u32::try_from(key_size).unwrap_or(0),
        signature_algorithm: row.try_get(12)?,
        is_self_signed: row.try_get(13)?,
        is_ca: row.try_get(14)?,
        server_auth: row.try_get(15)?,
        has_eku: row.try_get(16)?,
        subject_key_id: row.try_get(17)?,
        authority_key_id: row.try_get(18)?,
        spki_der: row.try_get(19)?,
        subject_raw: row.try_get(20)?,
        issuer_raw: row.try_get(21)?,
    };
    let chain: String = row.try_get(22)?;
    let origin: String = row.try_get(26)?;
    let trust: String = row.try_get(27)?;
    Ok(CertRecord {
        summary,
        der: row.try_get(2)?,
        chain: split_chain(&chain),
        has_private_key: row.try_get(23)?,
        exportable: row.try_get(24)?,
        friendly_name: row.try_get(25)?,
        origin: Origin::parse(&origin).unwrap_or(Origin::Imported),
        trust: Trust::decode(&trust),
        created_at: timestamp(row.try_get(28)?),
        seq: row.try_get(29)?,
    })
}

pub(crate) fn pending_from_row(row: &Row) -> Result<PendingRecord> {
    Ok(PendingRecord {
        id: row.try_get(0)?,
        csr_der: row.try_get(1)?,
        subject: row.try_get(2)?,
        names: split_lines(row.try_get(3)?),
        key_type: row.try_get(4)?,
        spki_der: row.try_get(5)?,
        exportable: row.try_get(6)?,
        friendly_name: row.try_get(7)?,
        renews: row.try_get(8)?,
        created_at: timestamp(row.try_get(9)?),
    })
}

pub(crate) fn audit_from_row(r: &Row) -> Result<AuditEntry> {
    Ok(AuditEntry {
        id: r.try_get(0)?,
        at: timestamp(r.try_get(1)?),
        user: r.try_get(2)?,
        action: r.try_get(3)?,
        detail: r.try_get(4)?,
        node: r.try_get(5)?,
    })
}

fn collect<T>(rows: Vec<Row>, each: impl Fn(&Row) -> Result<T>) -> Result<Vec<T>> {
    rows.iter().map(each).collect()
}

pub(crate) fn certificates(c: &mut Client) -> Result<Vec<CertRecord>> {
    // Sorted here rather than by ORDER BY: the rows carry their DER, and
    // with the server's default work_mem a store of 10,000 certificates
    // made PostgreSQL sort on disk, a quarter of `list`'s time.
    let sql = format!("SELECT {CERT_COLUMNS} FROM certificates");
    let mut records = collect(c.query(&sql, &[])?, cert_from_row)?;
    records.sort_by_key(|record| std::cmp::Reverse((record.summary.not_before, record.seq)));
    Ok(records)
}

pub(crate) fn certificate(c: &mut Client, thumbprint: &str) -> Result<Option<CertRecord>> {
    let sql = format!("SELECT {CERT_COLUMNS} FROM certificates WHERE thumbprint = $1");
    c.query_opt(&sql, &[&thumbprint])?
        .as_ref()
        .map(cert_from_row)
        .transpose()
}

pub(crate) fn certificates_with_prefix(c: &mut Client, prefix: &str) -> Result<Vec<CertRecord>> {
    // A range over the primary key, as on SQLite ("C" collation so that
    // '~' sorts after the hex digits whatever the database's locale).
    let sql = format!(
        "SELECT {CERT_COLUMNS} FROM certificates WHERE thumbprint COLLATE \"C\" >= $1 AND thumbprint COLLATE \"C\" < $2"
    );
    collect(
        c.query(&sql, &[&prefix, &prefix_end(prefix)])?,
        cert_from_row,
    )
}

pub(crate) fn pending_with_prefix(c: &mut Client, prefix: &str) -> Result<Vec<PendingRecord>> {
    let sql = format!(
        "SELECT {PENDING_COLUMNS} FROM pending_requests WHERE id COLLATE \"C\" >= $1 AND id COLLATE \"C\" < $2"
    );
    collect(
        c.query(&sql, &[&prefix, &prefix_end(prefix)])?,
        pending_from_row,
    )
}

pub(crate) fn chain(c: &mut Client, thumbprint: &str) -> Result<Vec<Vec<u8>>> {
    let links: Option<String> = c
        .query_opt(
            "SELECT chain FROM certificates WHERE thumbprint = $1",
            &[&thumbprint],
        )?
        .map(|r| r.try_get(0))
        .transpose()?;
    let Some(links) = links else {
        return Ok(Vec::new());
    };
    let links = split_chain(&links);
    if links.is_empty() {
        return Ok(Vec::new());
    }
    let rows = c.query(
        "SELECT thumbprint, der FROM chain_certs WHERE thumbprint = ANY($1)",
        &[&links],
    )?;
    let mut found = std::collections::HashMap::new();
    for row in rows {
        let t: String = row.try_get(0)?;
        let der: Vec<u8> = row.try_get(1)?;
        found.insert(t, der);
    }
    links
        .iter()
        .map(|link| {
            found.remove(link).ok_or_else(|| StoreError::Corrupt {
                what: format!("chain of {thumbprint}"),
                reason: format!("chain certificate {link} is missing"),
            })
        })
        .collect()
}

fn open_sealed(key: &StoreKey, sealed: Vec<u8>, what: &str) -> Result<Vec<u8>> {
    key.open(&sealed).ok_or_else(|| StoreError::Decrypt {
        thumbprint: what.to_string(),
    })
}

pub(crate) fn private_key(
    c: &mut Client,
    key: &StoreKey,
    thumbprint: &str,
) -> Result<Option<Vec<u8>>> {
    let sealed: Option<Option<Vec<u8>>> = c
        .query_opt(
            "SELECT private_key FROM certificates WHERE thumbprint = $1",
            &[&thumbprint],
        )?
        .map(|r| r.try_get(0))
        .transpose()?;
    sealed
        .flatten()
        .map(|s| open_sealed(key, s, thumbprint))
        .transpose()
}

pub(crate) fn pending_requests(c: &mut Client) -> Result<Vec<PendingRecord>> {
    let sql =
        format!("SELECT {PENDING_COLUMNS} FROM pending_requests ORDER BY created_at DESC, id");
    collect(c.query(&sql, &[])?, pending_from_row)
}

pub(crate) fn pending_key(c: &mut Client, key: &StoreKey, id: &str) -> Result<Option<Vec<u8>>> {
    let sealed: Option<Vec<u8>> = c
        .query_opt(
            "SELECT private_key FROM pending_requests WHERE id = $1",
            &[&id],
        )?
        .map(|r| r.try_get(0))
        .transpose()?;
    sealed.map(|s| open_sealed(key, s, id)).transpose()
}

pub(crate) fn bindings(c: &mut Client) -> Result<Vec<Binding>> {
    let rows = c.query(
        "SELECT thumbprint, service, listener, node FROM bindings ORDER BY service, listener, node, created_at",
        &[],
    )?;
    collect(rows, |r| {
        let service: String = r.try_get(1)?;
        binding_from_columns(r.try_get(0)?, &service, r.try_get(2)?, r.try_get(3)?)
    })
}

pub(crate) fn anchors(c: &mut impl GenericClient) -> Result<Vec<AnchorRecord>> {
    let rows = c.query(
        "SELECT thumbprint, subject, der, source, added_at FROM trust_anchors ORDER BY added_at, thumbprint",
        &[],
    )?;
    collect(rows, |r| {
        Ok(AnchorRecord {
            thumbprint: r.try_get(0)?,
            subject: r.try_get(1)?,
            der: r.try_get(2)?,
            source: r.try_get(3)?,
            added_at: timestamp(r.try_get(4)?),
        })
    })
}

pub(crate) fn audit_log(c: &mut Client, limit: usize) -> Result<Vec<AuditEntry>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = c.query(
        "SELECT id, at, \"user\", action, detail, node FROM audit_log ORDER BY id DESC LIMIT $1",
        &[&limit],
    )?;
    let mut out = collect(rows, audit_from_row)?;
    out.reverse();
    Ok(out)
}

pub(crate) fn value_keys(c: &mut Client, prefix: &str) -> Result<Vec<String>> {
    let rows = c.query(
        "SELECT key FROM named_values WHERE left(key, length($1)) = $1 ORDER BY key",
        &[&prefix],
    )?;
    collect(rows, |r| Ok(r.try_get(0)?))
}

pub(crate) fn generation(c: &mut impl GenericClient) -> Result<i64> {
    Ok(
        c.query_one("SELECT value FROM generation WHERE id = 1", &[])?
            .try_get(0)?,
    )
}

/// A named value, opened when it is secret.
pub(crate) fn read_value(
    tx: &mut impl GenericClient,
    key: &StoreKey,
    name: &str,
) -> Result<Option<Vec<u8>>> {
    let row = tx.query_opt(
        "SELECT value, secret FROM named_values WHERE key = $1",
        &[&name],
    )?;
    let Some(row) = row else {
        return Ok(None);
    };
    let value: Vec<u8> = row.try_get(0)?;
    let secret: bool = row.try_get(1)?;
    if secret {
        open_sealed(key, value, name).map(Some)
    } else {
        Ok(Some(value))
    }
}

/// One change, one transaction, one notification (sent at commit).
pub(crate) fn apply(c: &mut Client, key: &StoreKey, change: &Change) -> Result<()> {
    change.ensure_consistent()?;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let mut tx = c.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
    for op in &change.ops {
        apply_op(&mut tx, key, op, now)?;
    }
    tx.execute(
        "INSERT INTO audit_log (at, \"user\", action, detail, node) VALUES ($1, $2, $3, $4, $5)",
        &[
            &now,
            &change.user,
            &change.action,
            &change.detail,
            &change.node,
        ],
    )?;
    if change.reloads {
        bump_generation(&mut tx, None)?;
    }
    tx.commit()?;
    Ok(())
}

/// Raises the generation (to at least `floor + 1`) and announces it.
pub(crate) fn bump_generation(tx: &mut Transaction<'_>, floor: Option<i64>) -> Result<i64> {
    let generation: i64 = tx
        .query_one(
            "UPDATE generation SET value = GREATEST(value, $1) + 1 WHERE id = 1 RETURNING value",
            &[&floor.unwrap_or(0)],
        )?
        .try_get(0)?;
    tx.execute(
        "SELECT pg_notify($1, $2)",
        &[&CHANGES_CHANNEL, &generation.to_string()],
    )?;
    Ok(generation)
}

fn apply_op(tx: &mut Transaction<'_>, key: &StoreKey, op: &Op, now: i64) -> Result<()> {
    match op {
        Op::InsertCertificate(new) => insert_certificate(tx, key, new, now)?,
        Op::DeleteCertificate(thumbprint) => {
            let bound: i64 = tx
                .query_one(
                    "SELECT count(*) FROM bindings WHERE thumbprint = $1",
                    &[thumbprint],
                )?
                .try_get(0)?;
            if bound > 0 {
                return Err(StoreError::Refused(format!(
                    "certificate {thumbprint} is still bound to {bound} service(s)"
                )));
            }
            tx.execute(
                "DELETE FROM certificates WHERE thumbprint = $1",
                &[thumbprint],
            )?;
            tx.execute(
                "DELETE FROM chain_certs WHERE NOT EXISTS (SELECT 1 FROM certificates \
                 WHERE ',' || chain || ',' LIKE '%,' || chain_certs.thumbprint || ',%')",
                &[],
            )?;
        }
        Op::SetChain {
            thumbprint,
            chain,
            trust,
        } => {
            let links = store_chain(tx, chain)?;
            expect_one(
                tx.execute(
                    "UPDATE certificates SET chain = $2, trust = $3 WHERE thumbprint = $1",
                    &[thumbprint, &links, &trust.encode()],
                )?,
                thumbprint,
            )?;
        }
        Op::SetTrust { thumbprint, trust } => {
            expect_one(
                tx.execute(
                    "UPDATE certificates SET trust = $2 WHERE thumbprint = $1",
                    &[thumbprint, &trust.encode()],
                )?,
                thumbprint,
            )?;
        }
        Op::SetPrivateKey {
            thumbprint,
            private_key,
            exportable,
        } => {
            expect_one(
                tx.execute(
                    "UPDATE certificates SET private_key = $2, exportable = $3 WHERE thumbprint = $1",
                    &[thumbprint, &key.seal(private_key), exportable],
                )?,
                thumbprint,
            )?;
        }
        Op::Bind(b) => {
            tx.execute(
                "INSERT INTO bindings (thumbprint, service, listener, node, created_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT DO NOTHING",
                &[
                    &b.thumbprint,
                    &b.service.as_str(),
                    &b.listener.as_deref().unwrap_or(""),
                    &b.node.as_deref().unwrap_or(""),
                    &now,
                ],
            )?;
        }
        Op::Unbind(b) => {
            tx.execute(
                "DELETE FROM bindings WHERE thumbprint = $1 AND service = $2 AND listener = $3 AND node = $4",
                &[
                    &b.thumbprint,
                    &b.service.as_str(),
                    &b.listener.as_deref().unwrap_or(""),
                    &b.node.as_deref().unwrap_or(""),
                ],
            )?;
        }
        Op::InsertPending(new) => insert_pending(tx, key, &new.record, &new.private_key, now)?,
        Op::DeletePending(id) => {
            expect_one(
                tx.execute("DELETE FROM pending_requests WHERE id = $1", &[id])?,
                id,
            )?;
        }
        Op::AddAnchor {
            der,
            subject,
            source,
        } => {
            tx.execute(
                "INSERT INTO trust_anchors (thumbprint, subject, der, source, added_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT DO NOTHING",
                &[&mailcert_x509::thumbprint(der), subject, der, source, &now],
            )?;
        }
        Op::RemoveAnchor(thumbprint) => {
            expect_one(
                tx.execute(
                    "DELETE FROM trust_anchors WHERE thumbprint = $1",
                    &[thumbprint],
                )?,
                thumbprint,
            )?;
        }
        Op::SetValue {
            key: name,
            value,
            secret,
        } => match value {
            Some(value) => {
                let stored = if *secret {
                    key.seal(value)
                } else {
                    value.clone()
                };
                tx.execute(
                    "INSERT INTO named_values (key, value, secret) VALUES ($1, $2, $3) \
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value, secret = excluded.secret",
                    &[name, &stored, secret],
                )?;
            }
            None => {
                tx.execute("DELETE FROM named_values WHERE key = $1", &[name])?;
            }
        },
        Op::ExpectValue {
            key: name,
            value: expected,
        } => {
            let current = read_value(tx, key, name)?;
            if current.as_ref() != expected.as_ref() {
                return Err(StoreError::Conflict { key: name.clone() });
            }
        }
    }
    Ok(())
}

fn expect_one(changed: u64, what: &str) -> Result<()> {
    if changed == 0 {
        return Err(StoreError::Refused(format!(
            "{what} is not in the store (changed meanwhile?)"
        )));
    }
    Ok(())
}

/// As on SQLite, a self-signed root is never stored in a chain.
fn store_chain(tx: &mut Transaction<'_>, chain: &[Vec<u8>]) -> Result<String> {
    let chain = mailcert_x509::chain::without_roots(chain);
    let mut links = Vec::with_capacity(chain.len());
    for der in &chain {
        let thumb = mailcert_x509::thumbprint(der);
        tx.execute(
            "INSERT INTO chain_certs (thumbprint, der) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&thumb, der],
        )?;
        links.push(thumb);
    }
    Ok(links.join(","))
}

pub(crate) fn insert_pending(
    tx: &mut Transaction<'_>,
    key: &StoreKey,
    r: &PendingRecord,
    private_key: &[u8],
    created_at: i64,
) -> Result<()> {
    tx.execute(
        "INSERT INTO pending_requests (id, csr, subject, names, key_type, spki, private_key, exportable, friendly_name, renews, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        &[
            &r.id,
            &r.csr_der,
            &r.subject,
            &r.names.join("\n"),
            &r.key_type,
            &r.spki_der,
            &key.seal(private_key),
            &r.exportable,
            &r.friendly_name,
            &r.renews,
            &created_at,
        ],
    )?;
    Ok(())
}

pub(crate) fn insert_certificate(
    tx: &mut Transaction<'_>,
    key: &StoreKey,
    new: &NewCertificate,
    created_at: i64,
) -> Result<()> {
    let s = &new.summary;
    let links = store_chain(tx, &new.chain)?;
    let ips: Vec<String> = s.ip_addresses.iter().map(|ip| ip.to_string()).collect();
    let columns = CERT_COLUMNS
        .replace("private_key IS NOT NULL", "private_key")
        .replace(", seq", "");
    let sql = format!(
        "INSERT INTO certificates ({columns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29)"
    );
    tx.execute(
        &sql,
        &[
            &s.thumbprint,
            &s.sha256,
            &new.der,
            &s.subject,
            &s.issuer,
            &s.serial,
            &s.names.join("\n"),
            &ips.join("\n"),
            &s.not_before.unix_timestamp(),
            &s.not_after.unix_timestamp(),
            &s.key_algorithm,
            &i64::from(s.key_size),
            &s.signature_algorithm,
            &s.is_self_signed,
            &s.is_ca,
            &s.server_auth,
            &s.has_eku,
            &s.subject_key_id,
            &s.authority_key_id,
            &s.spki_der,
            &s.subject_raw,
            &s.issuer_raw,
            &links,
            &new.private_key.as_ref().map(|k| key.seal(k)),
            &new.exportable,
            &new.friendly_name,
            &new.origin.as_str(),
            &new.trust.encode(),
            &created_at,
        ],
    )?;
    Ok(())
}
