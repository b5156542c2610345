//! `db copy`: moves an embedded (SQLite) installation into an empty
//! PostgreSQL database, row for row, so the audit chain (seq, hashes and
//! bodies), keys (sealed blobs: the master key stays outside the database
//! and is shared), agents, challenges, used nonces, policy versions and the
//! current policy, and releases are the same on both sides.

use super::{to_i64, PgStore, Write};
use crate::audit::{verify_store, AuditHead, NoticeBody, NoticeRecord};
use crate::store::{SqliteStore, Store, StoreError};
use postgres::types::ToSql;
use serde::Serialize;
use std::path::Path;

/// What [`PgStore::copy_from_sqlite`] copied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CopyReport {
    /// Agents.
    pub agents: u64,
    /// Challenges.
    pub challenges: u64,
    /// Used nonces (still unexpired ones keep refusing replays).
    pub nonces: u64,
    /// Policy versions.
    pub policies: u64,
    /// Keys.
    pub keys: u64,
    /// Audit entries.
    pub audit_entries: u64,
    /// Release rows.
    pub releases: u64,
    /// The audit head both sides verified to (before the copy's own notice).
    pub head: AuditHead,
}

/// One SQLite value carried over as the PostgreSQL parameter it becomes.
enum Val {
    Int(Option<i64>),
    Int4(i32),
    Text(Option<String>),
    Blob(Option<Vec<u8>>),
    Bool(bool),
}

impl Val {
    fn param(&self) -> &(dyn ToSql + Sync) {
        match self {
            Self::Int(v) => v,
            Self::Int4(v) => v,
            Self::Text(v) => v,
            Self::Blob(v) => v,
            Self::Bool(v) => v,
        }
    }
}

#[derive(Clone, Copy)]
enum Col {
    Int,
    /// PostgreSQL INTEGER (the singleton column).
    Int4,
    Text,
    Blob,
    Bool,
}

/// The tables in foreign-key order, with their columns.
const TABLES: &[(&str, &[(&str, Col)])] = &[
    (
        "agents",
        &[
            ("agent_id", Col::Text),
            ("ek_public", Col::Blob),
            ("ek_certificate", Col::Blob),
            ("ek_issuer", Col::Text),
            ("ak_public", Col::Blob),
            ("ak_name", Col::Blob),
            ("status", Col::Text),
            ("created_at", Col::Int),
            ("activated_at", Col::Int),
        ],
    ),
    (
        "challenges",
        &[
            ("challenge_id", Col::Text),
            ("agent_id", Col::Text),
            ("secret_digest", Col::Blob),
            ("created_at", Col::Int),
            ("expires_at", Col::Int),
            ("used_at", Col::Int),
        ],
    ),
    (
        "nonces",
        &[
            ("nonce", Col::Blob),
            ("agent_id", Col::Text),
            ("created_at", Col::Int),
            ("expires_at", Col::Int),
            ("used_at", Col::Int),
        ],
    ),
    (
        "policies",
        &[
            ("policy_id", Col::Text),
            ("version", Col::Int),
            ("document", Col::Text),
            ("sha256", Col::Text),
            ("created_at", Col::Int),
        ],
    ),
    (
        "current_policy",
        &[
            ("singleton", Col::Int4),
            ("policy_id", Col::Text),
            ("version", Col::Int),
        ],
    ),
    (
        "keys",
        &[
            ("key_id", Col::Text),
            ("algorithm", Col::Text),
            ("public_key_pem", Col::Text),
            ("fingerprint", Col::Text),
            ("sealed_private_key", Col::Blob),
            ("origin", Col::Text),
            ("created_at", Col::Int),
            ("disabled", Col::Bool),
        ],
    ),
    (
        "audit",
        &[
            ("seq", Col::Int),
            ("time", Col::Int),
            ("kind", Col::Text),
            ("body", Col::Text),
            ("prev_hash", Col::Blob),
            ("entry_hash", Col::Blob),
        ],
    ),
    (
        "releases",
        &[
            ("audit_seq", Col::Int),
            ("appraisal_seq", Col::Int),
            ("key_id", Col::Text),
            ("agent_id", Col::Text),
            ("ephemeral_key_digest", Col::Blob),
            ("released_at", Col::Int),
        ],
    ),
];

/// Rows read from SQLite per batch (bounded memory for large logs).
const BATCH: i64 = 1000;

fn sqlite_err(op: &'static str) -> impl Fn(rusqlite::Error) -> StoreError + Copy {
    move |e| StoreError::Backend {
        op,
        source: Box::new(e),
    }
}

fn read_value(row: &rusqlite::Row<'_>, i: usize, col: Col) -> rusqlite::Result<Val> {
    Ok(match col {
        Col::Int => Val::Int(row.get(i)?),
        Col::Int4 => Val::Int4(row.get(i)?),
        Col::Text => Val::Text(row.get(i)?),
        Col::Blob => Val::Blob(row.get(i)?),
        Col::Bool => Val::Bool(row.get::<_, i64>(i)? != 0),
    })
}

impl PgStore {
    /// Copies the SQLite database at `src` into this (empty) database in one
    /// transaction holding the audit lock, after verifying the source's
    /// audit chain; then verifies this side's chain to the same head and
    /// appends a `notice` recording the copy. Refused when this database
    /// already holds agents, keys, policies or audit entries.
    pub fn copy_from_sqlite(&self, src: &Path, now: u64) -> Result<CopyReport, StoreError> {
        let op = "copying from SQLite";
        if !src.is_file() {
            return Err(StoreError::Open {
                path: src.display().to_string(),
                reason: "no such database file".into(),
            });
        }
        // Opening migrates an older file to the current SQLite schema.
        let source = SqliteStore::open(src)?;
        let src_head = verify_store(&source, None)
            .map_err(|e| {
                StoreError::Conflict(format!(
                    "the source's audit log does not verify, nothing copied: {e}"
                ))
            })?
            .head;
        drop(source);
        let conn = rusqlite::Connection::open_with_flags(
            src,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| StoreError::Open {
            path: src.display().to_string(),
            reason: e.to_string(),
        })?;
        // One read transaction: a consistent snapshot of the file.
        conn.execute_batch("BEGIN").map_err(sqlite_err(op))?;
        let mut report = CopyReport {
            agents: 0,
            challenges: 0,
            nonces: 0,
            policies: 0,
            keys: 0,
            audit_entries: 0,
            releases: 0,
            head: src_head,
        };
        self.write(op, Write::Audited, |db| {
            for table in ["agents", "keys", "policies", "audit"] {
                let row = db.query_one(&format!("SELECT count(*) FROM {table}"), &[])?;
                let n: i64 = row.try_get(0).map_err(super::corrupt("row count"))?;
                if n > 0 {
                    return Err(StoreError::Conflict(format!(
                        "the destination database is not empty ({n} rows in {table}); \
                         db copy fills a new database only"
                    )));
                }
            }
            for (table, cols) in TABLES {
                let names: Vec<&str> = cols.iter().map(|(n, _)| *n).collect();
                let placeholders: Vec<String> = (1..=cols.len()).map(|i| format!("${i}")).collect();
                let insert = format!(
                    "INSERT INTO {table} ({}) VALUES ({})",
                    names.join(", "),
                    placeholders.join(", ")
                );
                let select = format!(
                    "SELECT {} FROM {table} ORDER BY rowid LIMIT ?1 OFFSET ?2",
                    names.join(", ")
                );
                let mut stmt = conn.prepare(&select).map_err(sqlite_err(op))?;
                let mut offset = 0i64;
                let mut copied = 0u64;
                loop {
                    let rows: Vec<Vec<Val>> = stmt
                        .query_map([BATCH, offset], |r| {
                            cols.iter()
                                .enumerate()
                                .map(|(i, (_, c))| read_value(r, i, *c))
                                .collect()
                        })
                        .and_then(|rows| rows.collect())
                        .map_err(sqlite_err(op))?;
                    for row in &rows {
                        let params: Vec<&(dyn ToSql + Sync)> = row.iter().map(Val::param).collect();
                        db.execute(&insert, &params)?;
                    }
                    copied += rows.len() as u64;
                    if (rows.len() as i64) < BATCH {
                        break;
                    }
                    offset += BATCH;
                }
                match *table {
                    "agents" => report.agents = copied,
                    "challenges" => report.challenges = copied,
                    "nonces" => report.nonces = copied,
                    "policies" => report.policies = copied,
                    "keys" => report.keys = copied,
                    "audit" => report.audit_entries = copied,
                    "releases" => report.releases = copied,
                    _ => {}
                }
            }
            Ok(())
        })?;
        let _ = conn.execute_batch("COMMIT");
        let dst_head = verify_store(self, None)
            .map_err(|e| {
                StoreError::Conflict(format!("the copy's audit log does not verify: {e}"))
            })?
            .head;
        if dst_head != src_head {
            return Err(StoreError::Conflict(format!(
                "the copy's audit head {dst_head} differs from the source's {src_head}"
            )));
        }
        to_i64("now", now)?;
        self.append_notice(NoticeRecord {
            time: now,
            body: NoticeBody {
                message: "database copied from SQLite".into(),
                details: serde_json::json!({
                    "source_head": src_head.to_string(),
                    "audit_entries": report.audit_entries,
                    "keys": report.keys,
                    "agents": report.agents,
                    "policies": report.policies,
                    "releases": report.releases,
                }),
            },
        })?;
        Ok(report)
    }
}
