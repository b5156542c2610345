//! Rows of the PostgreSQL store decoded into the store's records: every
//! column read through one checked accessor, so a value out of range or of
//! the wrong type is a typed corruption error, never a panic.

use super::corrupt;
use crate::audit::AuditEntry;
use crate::keyrecord::{KeyAlgorithm, KeyOrigin, PublicKeyInfo, SealedPrivateKey};
use crate::store::{
    AgentRecord, AgentStatus, ChallengeRecord, KeyRecord, NonceRecord, PolicyRecord, StoreError,
};
use postgres::Row;

pub(super) fn get<'a, T: postgres::types::FromSql<'a>>(
    r: &'a Row,
    i: usize,
    what: &'static str,
) -> Result<T, StoreError> {
    r.try_get(i).map_err(corrupt(what))
}

pub(super) fn get_u64(r: &Row, i: usize, what: &'static str) -> Result<u64, StoreError> {
    let v: i64 = get(r, i, what)?;
    u64::try_from(v).map_err(|_| StoreError::Corrupt {
        what,
        reason: format!("{v} is negative"),
    })
}

pub(super) fn get_opt_u64(
    r: &Row,
    i: usize,
    what: &'static str,
) -> Result<Option<u64>, StoreError> {
    let v: Option<i64> = get(r, i, what)?;
    v.map(|v| {
        u64::try_from(v).map_err(|_| StoreError::Corrupt {
            what,
            reason: format!("{v} is negative"),
        })
    })
    .transpose()
}

pub(super) fn get_u32(r: &Row, i: usize, what: &'static str) -> Result<u32, StoreError> {
    let v: i64 = get(r, i, what)?;
    u32::try_from(v).map_err(|_| StoreError::Corrupt {
        what,
        reason: format!("{v} is not a version number"),
    })
}

pub(super) fn get_32(r: &Row, i: usize, what: &'static str) -> Result<[u8; 32], StoreError> {
    let v: Vec<u8> = get(r, i, what)?;
    <[u8; 32]>::try_from(v.as_slice()).map_err(|_| StoreError::Corrupt {
        what,
        reason: format!("{} bytes, not 32", v.len()),
    })
}

pub(super) const AGENT_COLS: &str =
    "agent_id, ek_public, ek_certificate, ek_issuer, ak_public, ak_name, \
                          status, created_at, activated_at";

pub(super) fn agent_row(r: &Row) -> Result<AgentRecord, StoreError> {
    let w = "agent";
    let status: String = get(r, 6, w)?;
    Ok(AgentRecord {
        agent_id: get(r, 0, w)?,
        ek_public: get(r, 1, w)?,
        ek_certificate: get(r, 2, w)?,
        ek_issuer: get(r, 3, w)?,
        ak_public: get(r, 4, w)?,
        ak_name: get(r, 5, w)?,
        status: AgentStatus::from_name(&status).ok_or_else(|| StoreError::Corrupt {
            what: "agent status",
            reason: format!("unknown agent status '{status}'"),
        })?,
        created_at: get_u64(r, 7, w)?,
        activated_at: get_opt_u64(r, 8, w)?,
    })
}

pub(super) const CHALLENGE_COLS: &str =
    "challenge_id, agent_id, secret_digest, created_at, expires_at, used_at";

pub(super) fn challenge_row(r: &Row) -> Result<ChallengeRecord, StoreError> {
    let w = "challenge";
    Ok(ChallengeRecord {
        challenge_id: get(r, 0, w)?,
        agent_id: get(r, 1, w)?,
        secret_digest: get_32(r, 2, w)?,
        created_at: get_u64(r, 3, w)?,
        expires_at: get_u64(r, 4, w)?,
        used_at: get_opt_u64(r, 5, w)?,
    })
}

pub(super) const NONCE_COLS: &str = "nonce, agent_id, created_at, expires_at, used_at";

pub(super) fn nonce_row(r: &Row) -> Result<NonceRecord, StoreError> {
    let w = "nonce";
    Ok(NonceRecord {
        nonce: get(r, 0, w)?,
        agent_id: get(r, 1, w)?,
        created_at: get_u64(r, 2, w)?,
        expires_at: get_u64(r, 3, w)?,
        used_at: get_opt_u64(r, 4, w)?,
    })
}

pub(super) const POLICY_SELECT: &str =
    "SELECT p.policy_id, p.version, p.document, p.sha256, p.created_at, \
     c.singleton IS NOT NULL \
     FROM policies p LEFT JOIN current_policy c \
     ON c.policy_id = p.policy_id AND c.version = p.version";

pub(super) fn policy_row(r: &Row) -> Result<PolicyRecord, StoreError> {
    let w = "policy";
    Ok(PolicyRecord {
        policy_id: get(r, 0, w)?,
        version: get_u32(r, 1, w)?,
        document: get(r, 2, w)?,
        sha256: get(r, 3, w)?,
        created_at: get_u64(r, 4, w)?,
        current: get(r, 5, w)?,
    })
}

pub(super) const KEY_COLS: &str =
    "key_id, algorithm, public_key_pem, fingerprint, sealed_private_key, \
                        origin, created_at, disabled";

pub(super) fn key_row(r: &Row) -> Result<KeyRecord, StoreError> {
    let w = "key";
    let algorithm: String = get(r, 1, w)?;
    let origin: String = get(r, 5, w)?;
    let sealed: Vec<u8> = get(r, 4, w)?;
    Ok(KeyRecord {
        public: PublicKeyInfo {
            key_id: get(r, 0, w)?,
            algorithm: KeyAlgorithm::from_name(&algorithm).ok_or_else(|| StoreError::Corrupt {
                what: "key algorithm",
                reason: format!("unknown key algorithm {algorithm:?}"),
            })?,
            public_key_pem: get(r, 2, w)?,
            fingerprint: get(r, 3, w)?,
        },
        sealed: SealedPrivateKey::parse(&sealed).map_err(|e| StoreError::Corrupt {
            what: "sealed private key",
            reason: e.to_string(),
        })?,
        origin: KeyOrigin::from_name(&origin).ok_or_else(|| StoreError::Corrupt {
            what: "key origin",
            reason: format!("unknown key origin '{origin}'"),
        })?,
        created_at: get_u64(r, 6, w)?,
        disabled: get(r, 7, w)?,
    })
}

pub(super) const AUDIT_COLS: &str = "seq, time, kind, body, prev_hash, entry_hash";

pub(super) fn audit_row(r: &Row) -> Result<AuditEntry, StoreError> {
    let w = "audit entry";
    Ok(AuditEntry {
        seq: get_u64(r, 0, w)?,
        time: get_u64(r, 1, w)?,
        kind: get(r, 2, w)?,
        body: get(r, 3, w)?,
        prev_hash: get_32(r, 4, w)?,
        entry_hash: get_32(r, 5, w)?,
    })
}
