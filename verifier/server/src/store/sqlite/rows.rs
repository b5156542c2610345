//! Row mapping and the statements shared by several operations: reading
//! agents, keys and policies, the audit head and the audit append.

use super::{check_time, db};
use crate::audit::{canonical_json, AuditEntry, AuditHead, AuditKind};
use crate::keyrecord::{KeyAlgorithm, KeyOrigin, PublicKeyInfo, SealedPrivateKey};
use crate::store::{
    AgentRecord, AgentStatus, ChallengeRecord, KeyRecord, NonceRecord, PolicyRecord, StoreError,
};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ValueRef};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

fn conversion(e: impl std::error::Error + Send + Sync + 'static) -> FromSqlError {
    FromSqlError::Other(Box::new(e))
}

fn text(v: ValueRef<'_>) -> FromSqlResult<&str> {
    v.as_str()
}

#[derive(Debug, thiserror::Error)]
#[error("unknown {what} '{value}'")]
struct UnknownName {
    what: &'static str,
    value: String,
}

impl FromSql for AgentStatus {
    fn column_result(v: ValueRef<'_>) -> FromSqlResult<Self> {
        let s = text(v)?;
        AgentStatus::from_name(s).ok_or_else(|| {
            conversion(UnknownName {
                what: "agent status",
                value: s.into(),
            })
        })
    }
}

impl FromSql for KeyAlgorithm {
    fn column_result(v: ValueRef<'_>) -> FromSqlResult<Self> {
        let name = text(v)?;
        KeyAlgorithm::from_name(name)
            .ok_or_else(|| FromSqlError::Other(format!("unknown key algorithm {name:?}").into()))
    }
}

impl FromSql for KeyOrigin {
    fn column_result(v: ValueRef<'_>) -> FromSqlResult<Self> {
        let s = text(v)?;
        KeyOrigin::from_name(s).ok_or_else(|| {
            conversion(UnknownName {
                what: "key origin",
                value: s.into(),
            })
        })
    }
}

impl FromSql for SealedPrivateKey {
    fn column_result(v: ValueRef<'_>) -> FromSqlResult<Self> {
        SealedPrivateKey::parse(v.as_blob()?).map_err(conversion)
    }
}

pub(super) const AGENT_COLS: &str =
    "agent_id, ek_public, ek_certificate, ek_issuer, ak_public, ak_name, \
                          status, created_at, activated_at";

pub(super) fn agent_row(r: &Row<'_>) -> rusqlite::Result<AgentRecord> {
    Ok(AgentRecord {
        agent_id: r.get(0)?,
        ek_public: r.get(1)?,
        ek_certificate: r.get(2)?,
        ek_issuer: r.get(3)?,
        ak_public: r.get(4)?,
        ak_name: r.get(5)?,
        status: r.get(6)?,
        created_at: r.get(7)?,
        activated_at: r.get(8)?,
    })
}

pub(super) const CHALLENGE_COLS: &str =
    "challenge_id, agent_id, secret_digest, created_at, expires_at, used_at";

pub(super) fn challenge_row(r: &Row<'_>) -> rusqlite::Result<ChallengeRecord> {
    Ok(ChallengeRecord {
        challenge_id: r.get(0)?,
        agent_id: r.get(1)?,
        secret_digest: r.get(2)?,
        created_at: r.get(3)?,
        expires_at: r.get(4)?,
        used_at: r.get(5)?,
    })
}

pub(super) const NONCE_COLS: &str = "nonce, agent_id, created_at, expires_at, used_at";

pub(super) fn nonce_row(r: &Row<'_>) -> rusqlite::Result<NonceRecord> {
    Ok(NonceRecord {
        nonce: r.get(0)?,
        agent_id: r.get(1)?,
        created_at: r.get(2)?,
        expires_at: r.get(3)?,
        used_at: r.get(4)?,
    })
}

pub(super) const POLICY_SELECT: &str =
    "SELECT p.policy_id, p.version, p.document, p.sha256, p.created_at, \
     c.singleton IS NOT NULL \
     FROM policies p LEFT JOIN current_policy c \
     ON c.policy_id = p.policy_id AND c.version = p.version";

pub(super) fn policy_row(r: &Row<'_>) -> rusqlite::Result<PolicyRecord> {
    Ok(PolicyRecord {
        policy_id: r.get(0)?,
        version: r.get(1)?,
        document: r.get(2)?,
        sha256: r.get(3)?,
        created_at: r.get(4)?,
        current: r.get(5)?,
    })
}

pub(super) const KEY_COLS: &str =
    "key_id, algorithm, public_key_pem, fingerprint, sealed_private_key, \
                        origin, created_at, disabled";

pub(super) fn key_row(r: &Row<'_>) -> rusqlite::Result<KeyRecord> {
    Ok(KeyRecord {
        public: PublicKeyInfo {
            key_id: r.get(0)?,
            algorithm: r.get(1)?,
            public_key_pem: r.get(2)?,
            fingerprint: r.get(3)?,
        },
        sealed: r.get(4)?,
        origin: r.get(5)?,
        created_at: r.get(6)?,
        disabled: r.get(7)?,
    })
}

pub(super) const AUDIT_COLS: &str = "seq, time, kind, body, prev_hash, entry_hash";

pub(super) fn audit_row(r: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        seq: r.get(0)?,
        time: r.get(1)?,
        kind: r.get(2)?,
        body: r.get(3)?,
        prev_hash: r.get(4)?,
        entry_hash: r.get(5)?,
    })
}

pub(super) fn get_agent(c: &Connection, agent_id: &str) -> Result<Option<AgentRecord>, StoreError> {
    c.prepare_cached(&format!(
        "SELECT {AGENT_COLS} FROM agents WHERE agent_id = ?1"
    ))
    .and_then(|mut s| s.query_row([agent_id], agent_row).optional())
    .map_err(db("reading an agent"))
}

pub(super) fn get_key(c: &Connection, key_id: &str) -> Result<Option<KeyRecord>, StoreError> {
    c.prepare_cached(&format!("SELECT {KEY_COLS} FROM keys WHERE key_id = ?1"))
        .and_then(|mut s| s.query_row([key_id], key_row).optional())
        .map_err(db("reading a key"))
}

pub(super) fn get_policy(
    c: &Connection,
    policy_id: &str,
    version: u32,
) -> Result<Option<PolicyRecord>, StoreError> {
    c.prepare_cached(&format!(
        "{POLICY_SELECT} WHERE p.policy_id = ?1 AND p.version = ?2"
    ))
    .and_then(|mut s| {
        s.query_row(params![policy_id, version], policy_row)
            .optional()
    })
    .map_err(db("reading a policy"))
}

pub(super) fn get_current_policy(c: &Connection) -> Result<Option<PolicyRecord>, StoreError> {
    c.prepare_cached(&format!("{POLICY_SELECT} WHERE c.singleton = 1"))
        .and_then(|mut s| s.query_row([], policy_row).optional())
        .map_err(db("reading the current policy"))
}

pub(super) fn head(c: &Connection) -> Result<AuditHead, StoreError> {
    c.prepare_cached("SELECT seq, entry_hash FROM audit ORDER BY seq DESC LIMIT 1")
        .and_then(|mut s| {
            s.query_row([], |r| {
                Ok(AuditHead {
                    seq: r.get(0)?,
                    hash: r.get(1)?,
                })
            })
            .optional()
        })
        .map(|h| h.unwrap_or(AuditHead::GENESIS))
        .map_err(db("reading the audit head"))
}

/// Appends one entry after the current head. Call only inside a write
/// transaction (the head read and the insert must not interleave with
/// another writer).
pub(super) fn append(
    c: &Connection,
    time: u64,
    kind: AuditKind,
    body: &impl Serialize,
) -> Result<AuditEntry, StoreError> {
    check_time("audit time", time)?;
    let entry = AuditEntry::next(head(c)?, time, kind.as_str(), canonical_json(body)?)?;
    c.prepare_cached(
        "INSERT INTO audit (seq, time, kind, body, prev_hash, entry_hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut s| {
        s.execute(params![
            entry.seq,
            entry.time,
            entry.kind,
            entry.body,
            entry.prev_hash,
            entry.entry_hash
        ])
    })
    .map_err(db("appending to the audit log"))?;
    Ok(entry)
}

pub(super) fn set_current(c: &Connection, policy_id: &str, version: u32) -> Result<(), StoreError> {
    c.prepare_cached(
        "INSERT INTO current_policy (singleton, policy_id, version) VALUES (1, ?1, ?2) \
         ON CONFLICT (singleton) DO UPDATE SET policy_id = excluded.policy_id, version = excluded.version",
    )
    .and_then(|mut s| s.execute(params![policy_id, version]))
    .map_err(db("switching the current policy"))?;
    Ok(())
}
