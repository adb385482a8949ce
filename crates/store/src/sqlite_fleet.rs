//! The SQLite side of what a fleet needs from every store: node
//! heartbeats, and the whole content read or written at once for
//! `mailcert store copy`.

use rusqlite::{params, OptionalExtension, TransactionBehavior};

use crate::dump::{DumpedBinding, DumpedCertificate, DumpedPending, DumpedValue, StoreDump};
use crate::error::{Result, StoreError};
use crate::model::{AnchorRecord, NewCertificate, NodeRecord};
use crate::sqlite::{
    audit_from_row, binding_from_columns, cert_from_row, insert_certificate, insert_pending,
    pending_from_row, SqliteStore, CERT_COLUMNS, PENDING_COLUMNS,
};
use crate::Store;

impl SqliteStore {
    pub(crate) fn raw_record_node(&mut self, node: &NodeRecord) -> Result<()> {
        let listeners =
            serde_json::to_string(&node.listeners).map_err(|e| StoreError::Corrupt {
                what: format!("heartbeat of node {}", node.node),
                reason: e.to_string(),
            })?;
        self.conn.execute(
            "INSERT INTO nodes (node, last_seen, version, heartbeat_secs, generation, listeners) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(node) DO UPDATE SET \
             last_seen = excluded.last_seen, version = excluded.version, \
             heartbeat_secs = excluded.heartbeat_secs, generation = excluded.generation, \
             listeners = excluded.listeners",
            params![
                node.node,
                node.last_seen,
                node.version,
                node.heartbeat_secs,
                node.generation,
                listeners
            ],
        )?;
        Ok(())
    }

    pub(crate) fn raw_nodes(&self) -> Result<Vec<NodeRecord>> {
        let mut stmt = self.conn.prepare(
            "SELECT node, last_seen, version, heartbeat_secs, generation, listeners FROM nodes ORDER BY node",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, u32>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, String>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (node, last_seen, version, heartbeat_secs, generation, listeners) = row?;
            out.push(node_record(
                node,
                last_seen,
                version,
                heartbeat_secs,
                generation,
                &listeners,
            )?);
        }
        Ok(out)
    }

    pub(crate) fn raw_dump(&self) -> Result<StoreDump> {
        let tx = self.conn.unchecked_transaction()?;
        let mut dump = StoreDump::default();
        {
            let sql = format!("SELECT {CERT_COLUMNS} FROM certificates ORDER BY rowid");
            let mut stmt = tx.prepare(&sql)?;
            let records = stmt
                .query_map([], cert_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            for record in records {
                let private_key = self.private_key(&record.summary.thumbprint)?;
                dump.certificates.push(DumpedCertificate {
                    record,
                    private_key,
                });
            }
            let mut stmt =
                tx.prepare("SELECT thumbprint, der FROM chain_certs ORDER BY thumbprint")?;
            dump.chain_certs = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let sql =
                format!("SELECT {PENDING_COLUMNS} FROM pending_requests ORDER BY created_at, id");
            let mut stmt = tx.prepare(&sql)?;
            let pending = stmt
                .query_map([], pending_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            for record in pending {
                let private_key = self.pending_key(&record.id)?.unwrap_or_default();
                dump.pending.push(DumpedPending {
                    record,
                    private_key,
                });
            }
            let mut stmt = tx.prepare(
                "SELECT thumbprint, service, listener, node, created_at FROM bindings ORDER BY rowid",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, i64>(4)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            for (thumbprint, service, listener, node, created_at) in rows {
                dump.bindings.push(DumpedBinding {
                    binding: binding_from_columns(thumbprint, &service, listener, node)?,
                    created_at,
                });
            }
            dump.anchors = self.anchors()?;
            let mut stmt = tx.prepare("SELECT key, secret FROM named_values ORDER BY key")?;
            let keys = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            for (key, secret) in keys {
                let value = self.value(&key)?.unwrap_or_default();
                dump.values.push(DumpedValue { key, value, secret });
            }
            let mut stmt =
                tx.prepare("SELECT id, at, user, action, detail, node FROM audit_log ORDER BY id")?;
            dump.audit = stmt
                .query_map([], audit_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            dump.generation = self.generation()?;
        }
        tx.commit()?;
        Ok(dump)
    }

    pub(crate) fn raw_restore(&mut self, dump: &StoreDump, replace: bool) -> Result<()> {
        let db = self.location().db.display().to_string();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        if replace {
            tx.execute_batch(
                "DELETE FROM bindings; DELETE FROM certificates; DELETE FROM chain_certs; \
                 DELETE FROM pending_requests; DELETE FROM trust_anchors; \
                 DELETE FROM named_values; DELETE FROM audit_log;",
            )?;
        } else {
            let held: i64 = tx.query_row(
                "SELECT (SELECT count(*) FROM certificates) + (SELECT count(*) FROM pending_requests) \
                 + (SELECT count(*) FROM trust_anchors) + (SELECT count(*) FROM named_values) \
                 + (SELECT count(*) FROM audit_log)",
                [],
                |r| r.get(0),
            )?;
            if held > 0 {
                return Err(StoreError::NotEmpty { db });
            }
        }
        for (thumbprint, der) in &dump.chain_certs {
            tx.execute(
                "INSERT OR IGNORE INTO chain_certs (thumbprint, der) VALUES (?1, ?2)",
                params![thumbprint, der],
            )?;
        }
        for cert in &dump.certificates {
            let new = as_new_certificate(cert, &dump.chain_certs)?;
            insert_certificate(
                &tx,
                &self.key,
                &new,
                cert.record.created_at.unix_timestamp(),
            )?;
        }
        for p in &dump.pending {
            insert_pending(
                &tx,
                &self.key,
                &p.record,
                &p.private_key,
                p.record.created_at.unix_timestamp(),
            )?;
        }
        for b in &dump.bindings {
            tx.execute(
                "INSERT INTO bindings (thumbprint, service, listener, node, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    b.binding.thumbprint,
                    b.binding.service.as_str(),
                    b.binding.listener.as_deref().unwrap_or(""),
                    b.binding.node.as_deref().unwrap_or(""),
                    b.created_at
                ],
            )?;
        }
        for a in &dump.anchors {
            insert_anchor(&tx, a)?;
        }
        for v in &dump.values {
            let stored = if v.secret {
                self.key.seal(&v.value)
            } else {
                v.value.clone()
            };
            tx.execute(
                "INSERT INTO named_values (key, value, secret) VALUES (?1, ?2, ?3)",
                params![v.key, stored, v.secret],
            )?;
        }
        for e in &dump.audit {
            tx.execute(
                "INSERT INTO audit_log (id, at, user, action, detail, node) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![e.id, e.at.unix_timestamp(), e.user, e.action, e.detail, e.node],
            )?;
        }
        let current: i64 = tx
            .query_row("SELECT value FROM meta WHERE key = 'generation'", [], |r| {
                r.get(0)
            })
            .optional()?
            .unwrap_or(0);
        tx.execute(
            "UPDATE meta SET value = ?1 WHERE key = 'generation'",
            [current.max(dump.generation) + 1],
        )?;
        tx.commit()?;
        Ok(())
    }
}

fn insert_anchor(tx: &rusqlite::Transaction<'_>, a: &AnchorRecord) -> Result<()> {
    tx.execute(
        "INSERT INTO trust_anchors (thumbprint, subject, der, source, added_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![a.thumbprint, a.subject, a.der, a.source, a.added_at.unix_timestamp()],
    )?;
    Ok(())
}

/// A dumped certificate as the insert takes it, with the DER of its chain.
pub(crate) fn as_new_certificate(
    cert: &DumpedCertificate,
    chain_certs: &[(String, Vec<u8>)],
) -> Result<NewCertificate> {
    let mut chain = Vec::new();
    for link in &cert.record.chain {
        let der = chain_certs
            .iter()
            .find(|(t, _)| t == link)
            .map(|(_, der)| der.clone())
            .ok_or_else(|| StoreError::Corrupt {
                what: format!("chain of {}", cert.record.summary.thumbprint),
                reason: format!("chain certificate {link} is missing"),
            })?;
        chain.push(der);
    }
    Ok(NewCertificate {
        summary: cert.record.summary.clone(),
        der: cert.record.der.clone(),
        chain,
        private_key: cert.private_key.clone(),
        exportable: cert.record.exportable,
        friendly_name: cert.record.friendly_name.clone(),
        origin: cert.record.origin,
        trust: cert.record.trust.clone(),
    })
}

/// A node's heartbeat from its columns.
pub(crate) fn node_record(
    node: String,
    last_seen: i64,
    version: String,
    heartbeat_secs: u32,
    generation: i64,
    listeners: &str,
) -> Result<NodeRecord> {
    let listeners = serde_json::from_str(listeners).map_err(|e| StoreError::Corrupt {
        what: format!("heartbeat of node {node}"),
        reason: e.to_string(),
    })?;
    Ok(NodeRecord {
        node,
        last_seen,
        version,
        heartbeat_secs,
        generation,
        listeners,
    })
}
