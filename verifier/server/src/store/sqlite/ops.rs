//! [`Store`] operations of [`SqliteStore`]: every write in one
//! `BEGIN IMMEDIATE` transaction together with its audit entry. The
//! audited writes' logic is `store::audited`'s; here are its statements
//! (`Txn` for `SqliteTx`) and the reads.

use super::rows::{
    agent_row, append, audit_row, challenge_row, get_agent, get_current_policy, get_key,
    get_policy, head, key_row, nonce_row, policy_row, set_current, AGENT_COLS, AUDIT_COLS,
    CHALLENGE_COLS, KEY_COLS, NONCE_COLS, POLICY_SELECT,
};
use super::{check_time, db, is_unique_violation, SqliteStore};
use crate::audit::{
    AppraisalRecord, AuditEntry, AuditHead, AuditKind, NoticeRecord, ReleaseRecord,
};
use crate::store::audit_body;
use crate::store::audited::{self, ReleaseRow, TxResult, Txn};
use crate::store::{
    validate_policy_id, AgentRecord, ChallengeRecord, KeyRecord, NewAgent, NewChallenge, NewKey,
    NewPolicy, NonceRecord, NonceUse, PolicyRecord, PurgeReport, Registration, Store, StoreError,
    Take, MAX_AUDIT_PAGE,
};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

/// [`StoreError::AlreadyExists`] (`what`, `id`) for a unique violation,
/// else the error of operation `op`.
fn exists_or<'a>(
    op: &'static str,
    what: &'static str,
    id: &'a str,
) -> impl FnOnce(rusqlite::Error) -> StoreError + 'a {
    move |e| {
        if is_unique_violation(&e) {
            StoreError::AlreadyExists {
                what,
                id: id.to_string(),
            }
        } else {
            db(op)(e)
        }
    }
}

/// One write of an audited operation on SQLite: the connection inside the
/// writer's transaction and the operation's name (for its errors).
struct SqliteTx<'a> {
    c: &'a Connection,
    op: &'static str,
}

/// The statements of the audited operations ([`audited`]) on SQLite.
impl Txn for SqliteTx<'_> {
    fn agent(&mut self, agent_id: &str) -> TxResult<Option<AgentRecord>> {
        get_agent(self.c, agent_id)
    }

    fn insert_agent(&mut self, agent: &NewAgent, now: u64) -> TxResult<()> {
        self.c
            .prepare_cached(
                "INSERT INTO agents (agent_id, ek_public, ek_certificate, ek_issuer, \
                 ak_public, ak_name, status, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    agent.agent_id,
                    agent.ek_public,
                    agent.ek_certificate,
                    agent.ek_issuer,
                    agent.ak_public,
                    agent.ak_name,
                    now
                ])
            })
            .map_err(db(self.op))?;
        Ok(())
    }

    fn insert_challenge(&mut self, agent_id: &str, ch: &NewChallenge, now: u64) -> TxResult<()> {
        self.c
            .prepare_cached(
                "INSERT INTO challenges (challenge_id, agent_id, secret_digest, created_at, \
                 expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    ch.challenge_id,
                    agent_id,
                    ch.secret_digest,
                    now,
                    ch.expires_at
                ])
            })
            .map_err(exists_or(self.op, "challenge", &ch.challenge_id))?;
        Ok(())
    }

    fn challenge(&mut self, challenge_id: &str) -> TxResult<Option<ChallengeRecord>> {
        self.c
            .prepare_cached(&format!(
                "SELECT {CHALLENGE_COLS} FROM challenges WHERE challenge_id = ?1"
            ))
            .and_then(|mut s| s.query_row([challenge_id], challenge_row).optional())
            .map_err(db(self.op))
    }

    fn activate_agent(&mut self, agent_id: &str, now: u64) -> TxResult<()> {
        self.c
            .prepare_cached(
                "UPDATE agents SET status = 'active', activated_at = ?2 \
                 WHERE agent_id = ?1 AND status = 'pending'",
            )
            .and_then(|mut s| s.execute(params![agent_id, now]))
            .map_err(db(self.op))?;
        Ok(())
    }

    fn policy(&mut self, policy_id: &str, version: u32) -> TxResult<Option<PolicyRecord>> {
        get_policy(self.c, policy_id, version)
    }

    fn current_policy(&mut self) -> TxResult<Option<PolicyRecord>> {
        get_current_policy(self.c)
    }

    fn last_policy_version(&mut self, policy_id: &str) -> TxResult<u32> {
        self.c
            .prepare_cached("SELECT COALESCE(MAX(version), 0) FROM policies WHERE policy_id = ?1")
            .and_then(|mut s| s.query_row([policy_id], |r| r.get(0)))
            .map_err(db(self.op))
    }

    fn insert_policy(&mut self, p: &NewPolicy, v: u32, sha256: &str, now: u64) -> TxResult<()> {
        self.c
            .prepare_cached(
                "INSERT INTO policies (policy_id, version, document, sha256, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| s.execute(params![p.policy_id, v, p.document, sha256, now]))
            .map_err(db(self.op))?;
        Ok(())
    }

    fn set_current(&mut self, policy_id: &str, version: u32) -> TxResult<()> {
        set_current(self.c, policy_id, version)
    }

    fn key(&mut self, key_id: &str) -> TxResult<Option<KeyRecord>> {
        get_key(self.c, key_id)
    }

    fn insert_key(&mut self, key: &NewKey, now: u64) -> TxResult<()> {
        let p = &key.public;
        let same_public: Option<String> = self
            .c
            .prepare_cached("SELECT key_id FROM keys WHERE fingerprint = ?1")
            .and_then(|mut s| s.query_row([&p.fingerprint], |r| r.get(0)).optional())
            .map_err(db(self.op))?;
        if let Some(existing) = same_public {
            return Err(StoreError::AlreadyExists {
                what: "key with this public key",
                id: existing,
            });
        }
        self.c
            .prepare_cached(
                "INSERT INTO keys (key_id, algorithm, public_key_pem, fingerprint, \
                 sealed_private_key, origin, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    p.key_id,
                    p.algorithm.as_str(),
                    p.public_key_pem,
                    p.fingerprint,
                    key.sealed.to_bytes(),
                    key.origin.as_str(),
                    now
                ])
            })
            .map_err(exists_or(self.op, "key", &p.key_id))?;
        Ok(())
    }

    fn set_key_disabled(&mut self, key_id: &str, disabled: bool) -> TxResult<()> {
        self.c
            .prepare_cached("UPDATE keys SET disabled = ?2 WHERE key_id = ?1")
            .and_then(|mut s| s.execute(params![key_id, disabled]))
            .map_err(db(self.op))?;
        Ok(())
    }

    fn key_disabled(&mut self, key_id: &str) -> TxResult<Option<bool>> {
        self.c
            .prepare_cached("SELECT disabled FROM keys WHERE key_id = ?1")
            .and_then(|mut s| s.query_row([key_id], |row| row.get(0)).optional())
            .map_err(db(self.op))
    }

    fn insert_release(&mut self, row: &ReleaseRow<'_>) -> TxResult<()> {
        self.c
            .prepare_cached(
                "INSERT INTO releases (audit_seq, appraisal_seq, key_id, agent_id, \
                 ephemeral_key_digest, released_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    row.audit_seq,
                    row.appraisal_seq,
                    row.release.key_id,
                    row.agent_id,
                    row.release.ephemeral_key_digest,
                    row.time
                ])
            })
            .map_err(db(self.op))?;
        Ok(())
    }

    fn append(&mut self, at: u64, kind: AuditKind, body: &impl Serialize) -> TxResult<AuditEntry> {
        append(self.c, at, kind, body)
    }
}

impl Store for SqliteStore {
    fn register_agent(
        &self,
        agent: &NewAgent,
        challenge: &NewChallenge,
        now: u64,
    ) -> Result<Registration, StoreError> {
        check_time("now", now)?;
        check_time("challenge expires_at", challenge.expires_at)?;
        audit_body::check_challenge_expiry(challenge, now)?;
        let op = "registering an agent";
        self.write(op, |c| {
            audited::register_agent(&mut SqliteTx { c, op }, agent, challenge, now)
        })
    }

    fn agent(&self, agent_id: &str) -> Result<Option<AgentRecord>, StoreError> {
        self.read(|c| get_agent(c, agent_id))
    }

    fn list_agents(&self) -> Result<Vec<AgentRecord>, StoreError> {
        self.read(|c| {
            let d = db("listing agents");
            let mut s = c
                .prepare_cached(&format!(
                    "SELECT {AGENT_COLS} FROM agents ORDER BY agent_id"
                ))
                .map_err(d)?;
            let rows = s.query_map([], agent_row).map_err(d)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(d)
        })
    }

    fn take_challenge(
        &self,
        challenge_id: &str,
        now: u64,
    ) -> Result<Take<ChallengeRecord>, StoreError> {
        check_time("now", now)?;
        let d = db("taking a challenge");
        self.write("taking a challenge", |tx| {
            let taken = tx
                .prepare_cached(&format!(
                    "UPDATE challenges SET used_at = ?2 \
                     WHERE challenge_id = ?1 AND used_at IS NULL RETURNING {CHALLENGE_COLS}"
                ))
                .and_then(|mut s| {
                    s.query_row(params![challenge_id, now], challenge_row)
                        .optional()
                })
                .map_err(d)?;
            if let Some(rec) = taken {
                return Ok(if now > rec.expires_at {
                    Take::Expired(rec)
                } else {
                    Take::Taken(rec)
                });
            }
            let old = tx
                .prepare_cached(&format!(
                    "SELECT {CHALLENGE_COLS} FROM challenges WHERE challenge_id = ?1"
                ))
                .and_then(|mut s| s.query_row([challenge_id], challenge_row).optional())
                .map_err(d)?;
            Ok(old.map_or(Take::NotFound, Take::AlreadyUsed))
        })
    }

    fn activate_agent(
        &self,
        agent_id: &str,
        challenge_id: &str,
        now: u64,
    ) -> Result<AgentRecord, StoreError> {
        check_time("now", now)?;
        let op = "activating an agent";
        self.write(op, |c| {
            audited::activate_agent(&mut SqliteTx { c, op }, agent_id, challenge_id, now)
        })
    }

    fn take_nonce(&self, nonce: &NonceUse, now: u64) -> Result<Take<NonceRecord>, StoreError> {
        check_time("now", now)?;
        check_time("nonce issued_at", nonce.issued_at)?;
        check_time("nonce expires_at", nonce.expires_at)?;
        audit_body::check_nonce(nonce)?;
        let d = db("recording a nonce's use");
        // Lazy: no fsync of its own (see `Store::take_nonce`).
        self.write_lazy("recording a nonce's use", |tx| {
            // The one atomic step: only the caller whose INSERT adds the row
            // gets `Taken`; the primary key turns every other into a no-op.
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO nonces (nonce, agent_id, created_at, expires_at, used_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (nonce) DO NOTHING",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        nonce.nonce,
                        nonce.agent_id,
                        nonce.issued_at,
                        nonce.expires_at,
                        now
                    ])
                })
                .map_err(d)?;
            if inserted == 1 {
                return Ok(Take::Taken(NonceRecord {
                    nonce: nonce.nonce.clone(),
                    agent_id: nonce.agent_id.clone(),
                    created_at: nonce.issued_at,
                    expires_at: nonce.expires_at,
                    used_at: Some(now),
                }));
            }
            let old = tx
                .prepare_cached(&format!("SELECT {NONCE_COLS} FROM nonces WHERE nonce = ?1"))
                .and_then(|mut s| s.query_row([&nonce.nonce], nonce_row))
                .map_err(d)?;
            Ok(Take::AlreadyUsed(old))
        })
    }

    fn put_policy(&self, policy: &NewPolicy, now: u64) -> Result<PolicyRecord, StoreError> {
        check_time("now", now)?;
        validate_policy_id(&policy.policy_id)?;
        let sha256 = audit_body::policy_sha256(policy);
        let op = "storing a policy";
        self.write(op, |c| {
            audited::put_policy(&mut SqliteTx { c, op }, policy, &sha256, now)
        })
    }

    fn policy(&self, policy_id: &str, version: u32) -> Result<Option<PolicyRecord>, StoreError> {
        self.read(|c| get_policy(c, policy_id, version))
    }

    fn current_policy(&self) -> Result<Option<PolicyRecord>, StoreError> {
        self.read(get_current_policy)
    }

    fn set_current_policy(
        &self,
        policy_id: &str,
        version: u32,
        now: u64,
    ) -> Result<PolicyRecord, StoreError> {
        check_time("now", now)?;
        let op = "switching the current policy";
        self.write(op, |c| {
            audited::set_current_policy(&mut SqliteTx { c, op }, policy_id, version, now)
        })
    }

    fn list_policies(&self) -> Result<Vec<PolicyRecord>, StoreError> {
        self.read(|c| {
            let d = db("listing policies");
            let mut s = c
                .prepare_cached(&format!("{POLICY_SELECT} ORDER BY p.policy_id, p.version"))
                .map_err(d)?;
            let rows = s.query_map([], policy_row).map_err(d)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(d)
        })
    }

    fn insert_key(&self, key: &NewKey, now: u64) -> Result<KeyRecord, StoreError> {
        check_time("now", now)?;
        let op = "storing a key";
        self.write(op, |c| {
            audited::insert_key(&mut SqliteTx { c, op }, key, now)
        })
    }

    fn key(&self, key_id: &str) -> Result<Option<KeyRecord>, StoreError> {
        self.read(|c| get_key(c, key_id))
    }

    fn list_keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        self.read(|c| {
            let d = db("listing keys");
            let mut s = c
                .prepare_cached(&format!("SELECT {KEY_COLS} FROM keys ORDER BY key_id"))
                .map_err(d)?;
            let rows = s.query_map([], key_row).map_err(d)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(d)
        })
    }

    fn set_key_disabled(
        &self,
        key_id: &str,
        disabled: bool,
        now: u64,
    ) -> Result<KeyRecord, StoreError> {
        check_time("now", now)?;
        let op = "changing a key's state";
        self.write(op, |c| {
            audited::set_key_disabled(&mut SqliteTx { c, op }, key_id, disabled, now)
        })
    }

    fn record_decision(
        &self,
        appraisal: AppraisalRecord,
        releases: Vec<ReleaseRecord>,
    ) -> Result<AuditHead, StoreError> {
        audit_body::check_decision(&appraisal, &releases)?;
        let op = "recording a decision";
        self.write(op, |c| {
            audited::record_decision(&mut SqliteTx { c, op }, &appraisal, &releases)
        })
    }

    fn append_notice(&self, notice: NoticeRecord) -> Result<AuditEntry, StoreError> {
        self.write("appending a notice", |tx| {
            append(tx, notice.time, AuditKind::Notice, &notice.body)
        })
    }

    fn audit_entries(&self, from_seq: u64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        check_time("from_seq", from_seq)?;
        let limit = limit.min(MAX_AUDIT_PAGE);
        self.read(|c| {
            let d = db("reading the audit log");
            let mut s = c
                .prepare_cached(&format!(
                    "SELECT {AUDIT_COLS} FROM audit WHERE seq >= ?1 ORDER BY seq LIMIT ?2"
                ))
                .map_err(d)?;
            let rows = s
                .query_map(params![from_seq, limit], audit_row)
                .map_err(d)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(d)
        })
    }

    fn audit_head(&self) -> Result<AuditHead, StoreError> {
        self.read(head)
    }

    fn purge_used_nonces(&self, before: u64) -> Result<u64, StoreError> {
        check_time("before", before)?;
        let d = db("purging used nonces");
        self.write_lazy("purging used nonces", |tx| {
            let n = tx
                .execute("DELETE FROM nonces WHERE expires_at < ?1", [before])
                .map_err(d)?;
            Ok(n as u64)
        })
    }

    fn release_memory(&self) -> Result<(), StoreError> {
        self.shrink_caches()
    }

    fn purge_expired(&self, before: u64) -> Result<PurgeReport, StoreError> {
        check_time("before", before)?;
        let d = db("purging expired rows");
        self.write("purging expired rows", |tx| {
            let run = |sql: &str| -> Result<u64, StoreError> {
                let n = tx.execute(sql, [before]).map_err(d)?;
                Ok(n as u64)
            };
            let nonces = run("DELETE FROM nonces WHERE expires_at < ?1")?;
            let challenges = run("DELETE FROM challenges WHERE expires_at < ?1")?;
            let pending_agents = run(
                "DELETE FROM agents WHERE status = 'pending' AND created_at < ?1 \
                 AND NOT EXISTS (SELECT 1 FROM challenges c WHERE c.agent_id = agents.agent_id)",
            )?;
            Ok(PurgeReport {
                nonces,
                challenges,
                pending_agents,
            })
        })
    }
}
