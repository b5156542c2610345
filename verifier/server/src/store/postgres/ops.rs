//! [`Store`] operations of [`PgStore`]: every audited write in one
//! transaction holding the audit lock, together with its audit entry. The
//! audited writes' logic is `store::audited`'s; here are its statements
//! (`Txn` for [`Db`]) and the reads.

use super::rows::{
    agent_row, audit_row, challenge_row, get, get_32, get_u32, get_u64, key_row, nonce_row,
    policy_row, AGENT_COLS, AUDIT_COLS, CHALLENGE_COLS, KEY_COLS, NONCE_COLS, POLICY_SELECT,
};
use super::{is_unique_violation, to_i64, Db, PgStore, Write};
use crate::audit::{
    canonical_json, AppraisalRecord, AuditEntry, AuditHead, AuditKind, NoticeRecord, ReleaseRecord,
};
use crate::store::audit_body;
use crate::store::audited::{self, ReleaseRow, TxResult, Txn};
use crate::store::{
    validate_policy_id, AgentRecord, ChallengeRecord, KeyRecord, NewAgent, NewChallenge, NewKey,
    NewPolicy, NonceRecord, NonceUse, PolicyRecord, PurgeReport, Registration, Store, StoreError,
    Take, MAX_AUDIT_PAGE,
};
use serde::Serialize;

fn get_agent(db: &mut Db<'_>, agent_id: &str) -> Result<Option<AgentRecord>, StoreError> {
    db.query_opt(
        &format!("SELECT {AGENT_COLS} FROM agents WHERE agent_id = $1"),
        &[&agent_id],
    )?
    .map(|r| agent_row(&r))
    .transpose()
}

fn get_key(db: &mut Db<'_>, key_id: &str) -> Result<Option<KeyRecord>, StoreError> {
    db.query_opt(
        &format!("SELECT {KEY_COLS} FROM keys WHERE key_id = $1"),
        &[&key_id],
    )?
    .map(|r| key_row(&r))
    .transpose()
}

fn get_policy(
    db: &mut Db<'_>,
    policy_id: &str,
    version: u32,
) -> Result<Option<PolicyRecord>, StoreError> {
    db.query_opt(
        &format!("{POLICY_SELECT} WHERE p.policy_id = $1 AND p.version = $2"),
        &[&policy_id, &i64::from(version)],
    )?
    .map(|r| policy_row(&r))
    .transpose()
}

fn get_current_policy(db: &mut Db<'_>) -> Result<Option<PolicyRecord>, StoreError> {
    db.query_opt(&format!("{POLICY_SELECT} WHERE c.singleton = 1"), &[])?
        .map(|r| policy_row(&r))
        .transpose()
}

fn head(db: &mut Db<'_>) -> Result<AuditHead, StoreError> {
    match db.query_opt(
        "SELECT seq, entry_hash FROM audit ORDER BY seq DESC LIMIT 1",
        &[],
    )? {
        Some(r) => Ok(AuditHead {
            seq: get_u64(&r, 0, "audit head")?,
            hash: get_32(&r, 1, "audit head")?,
        }),
        None => Ok(AuditHead::GENESIS),
    }
}

/// Appends one entry after the current head. Call only inside a
/// [`Write::Audited`] transaction (it holds the audit lock, so the head read
/// and the insert do not interleave with another replica's append).
fn append(
    db: &mut Db<'_>,
    time: u64,
    kind: AuditKind,
    body: &impl Serialize,
) -> Result<AuditEntry, StoreError> {
    let t = to_i64("audit time", time)?;
    let entry = AuditEntry::next(head(db)?, time, kind.as_str(), canonical_json(body)?)?;
    db.execute(
        "INSERT INTO audit (seq, time, kind, body, prev_hash, entry_hash) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &to_i64("audit seq", entry.seq)?,
            &t,
            &entry.kind,
            &entry.body,
            &entry.prev_hash.as_slice(),
            &entry.entry_hash.as_slice(),
        ],
    )?;
    Ok(entry)
}

fn set_current(db: &mut Db<'_>, policy_id: &str, version: u32) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO current_policy (singleton, policy_id, version) VALUES (1, $1, $2) \
         ON CONFLICT (singleton) DO UPDATE SET policy_id = excluded.policy_id, \
         version = excluded.version",
        &[&policy_id, &i64::from(version)],
    )?;
    Ok(())
}

/// The statements of the audited operations ([`audited`]) on PostgreSQL.
impl Txn for Db<'_> {
    fn agent(&mut self, agent_id: &str) -> TxResult<Option<AgentRecord>> {
        get_agent(self, agent_id)
    }

    fn insert_agent(&mut self, agent: &NewAgent, now: u64) -> TxResult<()> {
        self.execute(
            "INSERT INTO agents (agent_id, ek_public, ek_certificate, ek_issuer, \
             ak_public, ak_name, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7)",
            &[
                &agent.agent_id,
                &agent.ek_public,
                &agent.ek_certificate,
                &agent.ek_issuer,
                &agent.ak_public,
                &agent.ak_name,
                &to_i64("now", now)?,
            ],
        )?;
        Ok(())
    }

    fn insert_challenge(&mut self, agent_id: &str, ch: &NewChallenge, now: u64) -> TxResult<()> {
        let exists = || StoreError::AlreadyExists {
            what: "challenge",
            id: ch.challenge_id.clone(),
        };
        // The challenge id is checked first: a failed INSERT would abort the
        // transaction (the audit lock makes check and insert one step across
        // replicas).
        if self
            .query_opt(
                "SELECT 1 FROM challenges WHERE challenge_id = $1",
                &[&ch.challenge_id],
            )?
            .is_some()
        {
            return Err(exists());
        }
        self.execute(
            "INSERT INTO challenges (challenge_id, agent_id, secret_digest, created_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5)",
            &[
                &ch.challenge_id,
                &agent_id,
                &ch.secret_digest.as_slice(),
                &to_i64("now", now)?,
                &to_i64("challenge expires_at", ch.expires_at)?,
            ],
        )
        .map_err(|e| if is_unique_violation(&e) { exists() } else { e })?;
        Ok(())
    }

    fn challenge(&mut self, challenge_id: &str) -> TxResult<Option<ChallengeRecord>> {
        self.query_opt(
            &format!("SELECT {CHALLENGE_COLS} FROM challenges WHERE challenge_id = $1"),
            &[&challenge_id],
        )?
        .map(|r| challenge_row(&r))
        .transpose()
    }

    fn activate_agent(&mut self, agent_id: &str, now: u64) -> TxResult<()> {
        self.execute(
            "UPDATE agents SET status = 'active', activated_at = $2 \
             WHERE agent_id = $1 AND status = 'pending'",
            &[&agent_id, &to_i64("now", now)?],
        )?;
        Ok(())
    }

    fn policy(&mut self, policy_id: &str, version: u32) -> TxResult<Option<PolicyRecord>> {
        get_policy(self, policy_id, version)
    }

    fn current_policy(&mut self) -> TxResult<Option<PolicyRecord>> {
        get_current_policy(self)
    }

    fn last_policy_version(&mut self, policy_id: &str) -> TxResult<u32> {
        let row = self.query_one(
            "SELECT COALESCE(MAX(version), 0) FROM policies WHERE policy_id = $1",
            &[&policy_id],
        )?;
        get_u32(&row, 0, "policy version")
    }

    fn insert_policy(&mut self, p: &NewPolicy, v: u32, sha256: &str, now: u64) -> TxResult<()> {
        self.execute(
            "INSERT INTO policies (policy_id, version, document, sha256, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &p.policy_id,
                &i64::from(v),
                &p.document,
                &sha256,
                &to_i64("now", now)?,
            ],
        )?;
        Ok(())
    }

    fn set_current(&mut self, policy_id: &str, version: u32) -> TxResult<()> {
        set_current(self, policy_id, version)
    }

    fn key(&mut self, key_id: &str) -> TxResult<Option<KeyRecord>> {
        get_key(self, key_id)
    }

    fn insert_key(&mut self, key: &NewKey, now: u64) -> TxResult<()> {
        let p = &key.public;
        if let Some(r) = self.query_opt(
            "SELECT key_id FROM keys WHERE fingerprint = $1",
            &[&p.fingerprint],
        )? {
            return Err(StoreError::AlreadyExists {
                what: "key with this public key",
                id: get(&r, 0, "key id")?,
            });
        }
        if self
            .query_opt("SELECT 1 FROM keys WHERE key_id = $1", &[&p.key_id])?
            .is_some()
        {
            return Err(StoreError::AlreadyExists {
                what: "key",
                id: p.key_id.clone(),
            });
        }
        self.execute(
            "INSERT INTO keys (key_id, algorithm, public_key_pem, fingerprint, \
             sealed_private_key, origin, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &p.key_id,
                &p.algorithm.as_str(),
                &p.public_key_pem,
                &p.fingerprint,
                &key.sealed.to_bytes(),
                &key.origin.as_str(),
                &to_i64("now", now)?,
            ],
        )?;
        Ok(())
    }

    fn set_key_disabled(&mut self, key_id: &str, disabled: bool) -> TxResult<()> {
        self.execute(
            "UPDATE keys SET disabled = $2 WHERE key_id = $1",
            &[&key_id, &disabled],
        )?;
        Ok(())
    }

    fn key_disabled(&mut self, key_id: &str) -> TxResult<Option<bool>> {
        self.query_opt("SELECT disabled FROM keys WHERE key_id = $1", &[&key_id])?
            .map(|row| get::<bool>(&row, 0, "key state"))
            .transpose()
    }

    fn insert_release(&mut self, row: &ReleaseRow<'_>) -> TxResult<()> {
        self.execute(
            "INSERT INTO releases (audit_seq, appraisal_seq, key_id, agent_id, \
             ephemeral_key_digest, released_at) VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &to_i64("audit seq", row.audit_seq)?,
                &to_i64("audit seq", row.appraisal_seq)?,
                &row.release.key_id,
                &row.agent_id,
                &row.release.ephemeral_key_digest.as_slice(),
                &to_i64("appraisal time", row.time)?,
            ],
        )?;
        Ok(())
    }

    fn append(&mut self, at: u64, kind: AuditKind, body: &impl Serialize) -> TxResult<AuditEntry> {
        append(self, at, kind, body)
    }
}

impl Store for PgStore {
    fn register_agent(
        &self,
        agent: &NewAgent,
        challenge: &NewChallenge,
        now: u64,
    ) -> Result<Registration, StoreError> {
        to_i64("now", now)?;
        to_i64("challenge expires_at", challenge.expires_at)?;
        audit_body::check_challenge_expiry(challenge, now)?;
        self.write("registering an agent", Write::Audited, |db| {
            audited::register_agent(db, agent, challenge, now)
        })
    }

    fn agent(&self, agent_id: &str) -> Result<Option<AgentRecord>, StoreError> {
        self.read("reading an agent", |db| get_agent(db, agent_id))
    }

    fn list_agents(&self) -> Result<Vec<AgentRecord>, StoreError> {
        self.read("listing agents", |db| {
            db.query(
                &format!("SELECT {AGENT_COLS} FROM agents ORDER BY agent_id"),
                &[],
            )?
            .iter()
            .map(agent_row)
            .collect()
        })
    }

    fn take_challenge(
        &self,
        challenge_id: &str,
        now: u64,
    ) -> Result<Take<ChallengeRecord>, StoreError> {
        let t = to_i64("now", now)?;
        // One statement: a concurrent second UPDATE waits for the first and
        // then finds used_at set.
        let taken = self.read("taking a challenge", |db| {
            db.query_opt(
                &format!(
                    "UPDATE challenges SET used_at = $2 \
                     WHERE challenge_id = $1 AND used_at IS NULL RETURNING {CHALLENGE_COLS}"
                ),
                &[&challenge_id, &t],
            )?
            .map(|r| challenge_row(&r))
            .transpose()
        })?;
        if let Some(rec) = taken {
            return Ok(if now > rec.expires_at {
                Take::Expired(rec)
            } else {
                Take::Taken(rec)
            });
        }
        let old = self.read("taking a challenge", |db| {
            db.query_opt(
                &format!("SELECT {CHALLENGE_COLS} FROM challenges WHERE challenge_id = $1"),
                &[&challenge_id],
            )?
            .map(|r| challenge_row(&r))
            .transpose()
        })?;
        Ok(old.map_or(Take::NotFound, Take::AlreadyUsed))
    }

    fn activate_agent(
        &self,
        agent_id: &str,
        challenge_id: &str,
        now: u64,
    ) -> Result<AgentRecord, StoreError> {
        to_i64("now", now)?;
        self.write("activating an agent", Write::Audited, |db| {
            audited::activate_agent(db, agent_id, challenge_id, now)
        })
    }

    fn take_nonce(&self, nonce: &NonceUse, now: u64) -> Result<Take<NonceRecord>, StoreError> {
        let t = to_i64("now", now)?;
        let issued = to_i64("nonce issued_at", nonce.issued_at)?;
        let expires = to_i64("nonce expires_at", nonce.expires_at)?;
        audit_body::check_nonce(nonce)?;
        // The one atomic step: only the caller whose INSERT adds the row gets
        // `Taken`; on any replica, a concurrent second INSERT waits for the
        // first one's transaction and then does nothing.
        let inserted = self.write("recording a nonce's use", Write::Lazy, |db| {
            db.query_opt(
                &format!(
                    "INSERT INTO nonces (nonce, agent_id, created_at, expires_at, used_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (nonce) DO NOTHING \
                     RETURNING {NONCE_COLS}"
                ),
                &[&nonce.nonce, &nonce.agent_id, &issued, &expires, &t],
            )?
            .map(|r| nonce_row(&r))
            .transpose()
        })?;
        if let Some(rec) = inserted {
            return Ok(Take::Taken(rec));
        }
        // A new statement sees the row the winner committed.
        let old = self.read("recording a nonce's use", |db| {
            db.query_opt(
                &format!("SELECT {NONCE_COLS} FROM nonces WHERE nonce = $1"),
                &[&nonce.nonce],
            )?
            .map(|r| nonce_row(&r))
            .transpose()
        })?;
        match old {
            Some(rec) => Ok(Take::AlreadyUsed(rec)),
            // Purged between the two statements: it was used all the same.
            None => Err(StoreError::Conflict(
                "the nonce's use was recorded and purged concurrently".into(),
            )),
        }
    }

    fn put_policy(&self, policy: &NewPolicy, now: u64) -> Result<PolicyRecord, StoreError> {
        to_i64("now", now)?;
        validate_policy_id(&policy.policy_id)?;
        let sha256 = audit_body::policy_sha256(policy);
        self.write("storing a policy", Write::Audited, |db| {
            audited::put_policy(db, policy, &sha256, now)
        })
    }

    fn policy(&self, policy_id: &str, version: u32) -> Result<Option<PolicyRecord>, StoreError> {
        self.read("reading a policy", |db| get_policy(db, policy_id, version))
    }

    fn current_policy(&self) -> Result<Option<PolicyRecord>, StoreError> {
        self.read("reading the current policy", get_current_policy)
    }

    fn set_current_policy(
        &self,
        policy_id: &str,
        version: u32,
        now: u64,
    ) -> Result<PolicyRecord, StoreError> {
        to_i64("now", now)?;
        self.write("switching the current policy", Write::Audited, |db| {
            audited::set_current_policy(db, policy_id, version, now)
        })
    }

    fn list_policies(&self) -> Result<Vec<PolicyRecord>, StoreError> {
        self.read("listing policies", |db| {
            db.query(
                &format!("{POLICY_SELECT} ORDER BY p.policy_id, p.version"),
                &[],
            )?
            .iter()
            .map(policy_row)
            .collect()
        })
    }

    fn insert_key(&self, key: &NewKey, now: u64) -> Result<KeyRecord, StoreError> {
        to_i64("now", now)?;
        self.write("storing a key", Write::Audited, |db| {
            audited::insert_key(db, key, now)
        })
    }

    fn key(&self, key_id: &str) -> Result<Option<KeyRecord>, StoreError> {
        self.read("reading a key", |db| get_key(db, key_id))
    }

    fn list_keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        self.read("listing keys", |db| {
            db.query(&format!("SELECT {KEY_COLS} FROM keys ORDER BY key_id"), &[])?
                .iter()
                .map(key_row)
                .collect()
        })
    }

    fn set_key_disabled(
        &self,
        key_id: &str,
        disabled: bool,
        now: u64,
    ) -> Result<KeyRecord, StoreError> {
        to_i64("now", now)?;
        self.write("changing a key's state", Write::Audited, |db| {
            audited::set_key_disabled(db, key_id, disabled, now)
        })
    }

    fn record_decision(
        &self,
        appraisal: AppraisalRecord,
        releases: Vec<ReleaseRecord>,
    ) -> Result<AuditHead, StoreError> {
        to_i64("appraisal time", appraisal.time)?;
        audit_body::check_decision(&appraisal, &releases)?;
        self.write("recording a decision", Write::Audited, |db| {
            audited::record_decision(db, &appraisal, &releases)
        })
    }

    fn append_notice(&self, notice: NoticeRecord) -> Result<AuditEntry, StoreError> {
        self.write("appending a notice", Write::Audited, |db| {
            append(db, notice.time, AuditKind::Notice, &notice.body)
        })
    }

    fn audit_entries(&self, from_seq: u64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let from = to_i64("from_seq", from_seq)?;
        let limit = i64::from(limit.min(MAX_AUDIT_PAGE));
        self.read("reading the audit log", |db| {
            db.query(
                &format!("SELECT {AUDIT_COLS} FROM audit WHERE seq >= $1 ORDER BY seq LIMIT $2"),
                &[&from, &limit],
            )?
            .iter()
            .map(audit_row)
            .collect()
        })
    }

    fn audit_head(&self) -> Result<AuditHead, StoreError> {
        self.read("reading the audit head", head)
    }

    fn purge_used_nonces(&self, before: u64) -> Result<u64, StoreError> {
        let b = to_i64("before", before)?;
        self.write("purging used nonces", Write::Lazy, |db| {
            db.execute("DELETE FROM nonces WHERE expires_at < $1", &[&b])
        })
    }

    fn purge_expired(&self, before: u64) -> Result<PurgeReport, StoreError> {
        let b = to_i64("before", before)?;
        self.write("purging expired rows", Write::Plain, |db| {
            let nonces = db.execute("DELETE FROM nonces WHERE expires_at < $1", &[&b])?;
            let challenges = db.execute("DELETE FROM challenges WHERE expires_at < $1", &[&b])?;
            let pending_agents = db.execute(
                "DELETE FROM agents WHERE status = 'pending' AND created_at < $1 \
                 AND NOT EXISTS (SELECT 1 FROM challenges c WHERE c.agent_id = agents.agent_id)",
                &[&b],
            )?;
            Ok(PurgeReport {
                nonces,
                challenges,
                pending_agents,
            })
        })
    }
}
