//! Node heartbeats, and the whole content at once (`store copy`), on
//! PostgreSQL.

use postgres::Client;

use super::ops::{
    anchors, audit_from_row, bump_generation, cert_from_row, generation, insert_certificate,
    insert_pending, pending_from_row, read_value, CERT_COLUMNS, PENDING_COLUMNS,
};
use super::WRITE_LOCK;
use crate::crypto::StoreKey;
use crate::dump::{DumpedBinding, DumpedCertificate, DumpedPending, DumpedValue, StoreDump};
use crate::error::{Result, StoreError};
use crate::model::NodeRecord;
use crate::sqlite::binding_from_columns;
use crate::sqlite_fleet::{as_new_certificate, node_record};

pub(crate) fn record_node(c: &mut Client, node: &NodeRecord) -> Result<()> {
    let listeners = serde_json::to_string(&node.listeners).map_err(|e| StoreError::Corrupt {
        what: format!("heartbeat of node {}", node.node),
        reason: e.to_string(),
    })?;
    c.execute(
        "INSERT INTO nodes (node, last_seen, version, heartbeat_secs, generation, listeners) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (node) DO UPDATE SET \
         last_seen = excluded.last_seen, version = excluded.version, \
         heartbeat_secs = excluded.heartbeat_secs, generation = excluded.generation, \
         listeners = excluded.listeners",
        &[
            &node.node,
            &node.last_seen,
            &node.version,
            &i32::try_from(node.heartbeat_secs).unwrap_or(i32::MAX),
            &node.generation,
            &listeners,
        ],
    )?;
    Ok(())
}

pub(crate) fn nodes(c: &mut Client) -> Result<Vec<NodeRecord>> {
    let rows = c.query(
        "SELECT node, last_seen, version, heartbeat_secs, generation, listeners FROM nodes ORDER BY node",
        &[],
    )?;
    rows.iter()
        .map(|r| {
            let secs: i32 = r.try_get(3)?;
            let listeners: String = r.try_get(5)?;
            node_record(
                r.try_get(0)?,
                r.try_get(1)?,
                r.try_get(2)?,
                u32::try_from(secs).unwrap_or(0),
                r.try_get(4)?,
                &listeners,
            )
        })
        .collect()
}

/// Everything, read in one repeatable-read transaction so that the copy
/// is one moment of the store.
pub(crate) fn dump(c: &mut Client, key: &StoreKey) -> Result<StoreDump> {
    let mut tx = c
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()?;
    let mut out = StoreDump::default();
    let sql = format!("SELECT {CERT_COLUMNS}, private_key FROM certificates ORDER BY seq");
    for row in tx.query(&sql, &[])? {
        let record = cert_from_row(&row)?;
        let sealed: Option<Vec<u8>> = row.try_get(30)?;
        let private_key = sealed
            .map(|s| {
                key.open(&s).ok_or_else(|| StoreError::Decrypt {
                    thumbprint: record.summary.thumbprint.clone(),
                })
            })
            .transpose()?;
        out.certificates.push(DumpedCertificate {
            record,
            private_key,
        });
    }
    for row in tx.query(
        "SELECT thumbprint, der FROM chain_certs ORDER BY thumbprint",
        &[],
    )? {
        out.chain_certs.push((row.try_get(0)?, row.try_get(1)?));
    }
    let sql = format!(
        "SELECT {PENDING_COLUMNS}, private_key FROM pending_requests ORDER BY created_at, id"
    );
    for row in tx.query(&sql, &[])? {
        let record = pending_from_row(&row)?;
        let sealed: Vec<u8> = row.try_get(10)?;
        let private_key = key.open(&sealed).ok_or_else(|| StoreError::Decrypt {
            thumbprint: record.id.clone(),
        })?;
        out.pending.push(DumpedPending {
            record,
            private_key,
        });
    }
    for row in tx.query(
        "SELECT thumbprint, service, listener, node, created_at FROM bindings ORDER BY created_at, thumbprint, service, listener, node",
        &[],
    )? {
        let service: String = row.try_get(1)?;
        out.bindings.push(DumpedBinding {
            binding: binding_from_columns(
                row.try_get(0)?,
                &service,
                row.try_get(2)?,
                row.try_get(3)?,
            )?,
            created_at: row.try_get(4)?,
        });
    }
    out.anchors = anchors(&mut tx)?;
    let names: Vec<(String, bool)> = tx
        .query("SELECT key, secret FROM named_values ORDER BY key", &[])?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<_>>()?;
    for (name, secret) in names {
        let value = read_value(&mut tx, key, &name)?.unwrap_or_default();
        out.values.push(DumpedValue {
            key: name,
            value,
            secret,
        });
    }
    for row in tx.query(
        "SELECT id, at, \"user\", action, detail, node FROM audit_log ORDER BY id",
        &[],
    )? {
        out.audit.push(audit_from_row(&row)?);
    }
    out.generation = generation(&mut tx)?;
    tx.commit()?;
    Ok(out)
}

pub(crate) fn restore(
    c: &mut Client,
    key: &StoreKey,
    dump: &StoreDump,
    replace: bool,
    url: &str,
) -> Result<()> {
    let mut tx = c.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
    if replace {
        tx.batch_execute(
            "DELETE FROM bindings; DELETE FROM certificates; DELETE FROM chain_certs; \
             DELETE FROM pending_requests; DELETE FROM trust_anchors; \
             DELETE FROM named_values; DELETE FROM audit_log;",
        )?;
    } else {
        let held: i64 = tx
            .query_one(
                "SELECT (SELECT count(*) FROM certificates) + (SELECT count(*) FROM pending_requests) \
                 + (SELECT count(*) FROM trust_anchors) + (SELECT count(*) FROM named_values) \
                 + (SELECT count(*) FROM audit_log)",
                &[],
            )?
            .try_get(0)?;
        if held > 0 {
            return Err(StoreError::NotEmpty {
                db: url.to_string(),
            });
        }
    }
    for (thumbprint, der) in &dump.chain_certs {
        tx.execute(
            "INSERT INTO chain_certs (thumbprint, der) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[thumbprint, der],
        )?;
    }
    for cert in &dump.certificates {
        let new = as_new_certificate(cert, &dump.chain_certs)?;
        insert_certificate(&mut tx, key, &new, cert.record.created_at.unix_timestamp())?;
    }
    for p in &dump.pending {
        insert_pending(
            &mut tx,
            key,
            &p.record,
            &p.private_key,
            p.record.created_at.unix_timestamp(),
        )?;
    }
    for b in &dump.bindings {
        tx.execute(
            "INSERT INTO bindings (thumbprint, service, listener, node, created_at) VALUES ($1, $2, $3, $4, $5)",
            &[
                &b.binding.thumbprint,
                &b.binding.service.as_str(),
                &b.binding.listener.as_deref().unwrap_or(""),
                &b.binding.node.as_deref().unwrap_or(""),
                &b.created_at,
            ],
        )?;
    }
    for a in &dump.anchors {
        tx.execute(
            "INSERT INTO trust_anchors (thumbprint, subject, der, source, added_at) VALUES ($1, $2, $3, $4, $5)",
            &[&a.thumbprint, &a.subject, &a.der, &a.source, &a.added_at.unix_timestamp()],
        )?;
    }
    for v in &dump.values {
        let stored = if v.secret {
            key.seal(&v.value)
        } else {
            v.value.clone()
        };
        tx.execute(
            "INSERT INTO named_values (key, value, secret) VALUES ($1, $2, $3)",
            &[&v.key, &stored, &v.secret],
        )?;
    }
    for e in &dump.audit {
        tx.execute(
            "INSERT INTO audit_log (id, at, \"user\", action, detail, node) VALUES ($1, $2, $3, $4, $5, $6)",
            &[&e.id, &e.at.unix_timestamp(), &e.user, &e.action, &e.detail, &e.node],
        )?;
    }
    // The next audit entry follows the copied ones.
    tx.execute(
        "SELECT setval(pg_get_serial_sequence('audit_log', 'id'), GREATEST((SELECT max(id) FROM audit_log), 1))",
        &[],
    )?;
    bump_generation(&mut tx, Some(dump.generation))?;
    tx.commit()?;
    Ok(())
}
