//! [`Store`] operations of [`SqliteStore`]: every write in one
//! `BEGIN IMMEDIATE` transaction together with its audit entry.

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
use crate::store::{
    validate_policy_id, AgentRecord, AgentStatus, ChallengeRecord, Enrolment, KeyRecord, NewAgent,
    NewChallenge, NewKey, NewPolicy, NonceRecord, NonceUse, PolicyRecord, PurgeReport,
    Registration, Store, StoreError, Take, MAX_AUDIT_PAGE,
};
use rusqlite::{params, OptionalExtension};

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
        let d = db("registering an agent");
        self.write("registering an agent", |tx| {
            let existing = get_agent(tx, &agent.agent_id)?;
            let new_agent = match &existing {
                Some(a) => {
                    audit_body::check_same_agent(a, agent)?;
                    false
                }
                None => {
                    tx.prepare_cached(
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
                    .map_err(d)?;
                    let (kind, body) = audit_body::agent_registered(agent);
                    append(tx, now, kind, &body)?;
                    true
                }
            };
            tx.prepare_cached(
                "INSERT INTO challenges (challenge_id, agent_id, secret_digest, created_at, expires_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    challenge.challenge_id,
                    agent.agent_id,
                    challenge.secret_digest,
                    now,
                    challenge.expires_at
                ])
            })
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::AlreadyExists {
                        what: "challenge",
                        id: challenge.challenge_id.clone(),
                    }
                } else {
                    d(e)
                }
            })?;
            let agent = get_agent(tx, &agent.agent_id)?.ok_or_else(|| StoreError::NotFound {
                what: "agent",
                id: agent.agent_id.clone(),
            })?;
            Ok(Registration { agent, new_agent })
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
        let d = db("activating an agent");
        self.write("activating an agent", |tx| {
            let agent = get_agent(tx, agent_id)?.ok_or_else(|| StoreError::NotFound {
                what: "agent",
                id: agent_id.to_string(),
            })?;
            let challenge = tx
                .prepare_cached(&format!(
                    "SELECT {CHALLENGE_COLS} FROM challenges WHERE challenge_id = ?1"
                ))
                .and_then(|mut s| s.query_row([challenge_id], challenge_row).optional())
                .map_err(d)?
                .ok_or_else(|| StoreError::NotFound {
                    what: "challenge",
                    id: challenge_id.to_string(),
                })?;
            audit_body::check_activation(&challenge, agent_id, challenge_id)?;
            if agent.status == AgentStatus::Active {
                return Ok(agent);
            }
            tx.prepare_cached(
                "UPDATE agents SET status = 'active', activated_at = ?2 \
                 WHERE agent_id = ?1 AND status = 'pending'",
            )
            .and_then(|mut s| s.execute(params![agent_id, now]))
            .map_err(d)?;
            let (kind, body) = audit_body::agent_activated(agent_id, challenge_id);
            append(tx, now, kind, &body)?;
            get_agent(tx, agent_id)?.ok_or_else(|| StoreError::NotFound {
                what: "agent",
                id: agent_id.to_string(),
            })
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
        let d = db("storing a policy");
        self.write("storing a policy", |tx| {
            let last: u32 = tx
                .prepare_cached(
                    "SELECT COALESCE(MAX(version), 0) FROM policies WHERE policy_id = ?1",
                )
                .and_then(|mut s| s.query_row([&policy.policy_id], |r| r.get(0)))
                .map_err(d)?;
            let version = audit_body::next_policy_version(policy, last)?;
            tx.prepare_cached(
                "INSERT INTO policies (policy_id, version, document, sha256, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    policy.policy_id,
                    version,
                    policy.document,
                    sha256,
                    now
                ])
            })
            .map_err(d)?;
            if policy.make_current {
                set_current(tx, &policy.policy_id, version)?;
            }
            let (kind, body) = audit_body::policy_update(policy, version, &sha256);
            append(tx, now, kind, &body)?;
            get_policy(tx, &policy.policy_id, version)?.ok_or_else(|| StoreError::NotFound {
                what: "policy",
                id: format!("{} v{version}", policy.policy_id),
            })
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
        self.write("switching the current policy", |tx| {
            let target =
                get_policy(tx, policy_id, version)?.ok_or_else(|| StoreError::NotFound {
                    what: "policy",
                    id: format!("{policy_id} v{version}"),
                })?;
            if target.current {
                return Ok(target);
            }
            let previous = get_current_policy(tx)?;
            set_current(tx, policy_id, version)?;
            let (kind, body) = audit_body::policy_current(&target, previous);
            append(tx, now, kind, &body)?;
            Ok(PolicyRecord {
                current: true,
                ..target
            })
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
        let d = db("storing a key");
        let p = &key.public;
        self.write("storing a key", |tx| {
            let same_public: Option<String> = tx
                .prepare_cached("SELECT key_id FROM keys WHERE fingerprint = ?1")
                .and_then(|mut s| s.query_row([&p.fingerprint], |r| r.get(0)).optional())
                .map_err(d)?;
            if let Some(existing) = same_public {
                return Err(StoreError::AlreadyExists {
                    what: "key with this public key",
                    id: existing,
                });
            }
            tx.prepare_cached(
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
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::AlreadyExists {
                        what: "key",
                        id: p.key_id.clone(),
                    }
                } else {
                    d(e)
                }
            })?;
            let (kind, body) = audit_body::key_stored(key);
            append(tx, now, kind, &body)?;
            get_key(tx, &p.key_id)?.ok_or_else(|| StoreError::NotFound {
                what: "key",
                id: p.key_id.clone(),
            })
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
        self.write("changing a key's state", |tx| {
            let key = get_key(tx, key_id)?.ok_or_else(|| StoreError::NotFound {
                what: "key",
                id: key_id.to_string(),
            })?;
            if key.disabled == disabled {
                return Ok(key);
            }
            tx.prepare_cached("UPDATE keys SET disabled = ?2 WHERE key_id = ?1")
                .and_then(|mut s| s.execute(params![key_id, disabled]))
                .map_err(db("changing a key's state"))?;
            let (kind, body) = audit_body::key_state(key_id, disabled);
            append(tx, now, kind, &body)?;
            Ok(KeyRecord { disabled, ..key })
        })
    }

    fn record_decision(
        &self,
        appraisal: AppraisalRecord,
        releases: Vec<ReleaseRecord>,
    ) -> Result<AuditHead, StoreError> {
        let body = &appraisal.body;
        audit_body::check_decision(&appraisal, &releases)?;
        let op = "recording a decision";
        self.write(op, |tx| {
            if !releases.is_empty() && appraisal.enrolment == Enrolment::Registration {
                let agent = get_agent(tx, &body.agent_id)?;
                audit_body::check_release_agent(agent, &body.agent_id)?;
            }
            let appraisal_entry = append(tx, appraisal.time, AuditKind::Appraisal, body)?;
            let mut last = appraisal_entry.head();
            for r in &releases {
                // Checked inside the transaction, so a key disabled
                // concurrently is either disabled before or after this
                // decision, never during it.
                let disabled: Option<bool> = tx
                    .prepare_cached("SELECT disabled FROM keys WHERE key_id = ?1")
                    .and_then(|mut s| s.query_row([&r.key_id], |row| row.get(0)).optional())
                    .map_err(db(op))?;
                audit_body::check_key_enabled(&r.key_id, disabled)?;
                let (kind, release) = audit_body::release(r, &body.agent_id, appraisal_entry.seq);
                let entry = append(tx, appraisal.time, kind, &release)?;
                tx.prepare_cached(
                    "INSERT INTO releases (audit_seq, appraisal_seq, key_id, agent_id, \
                     ephemeral_key_digest, released_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        entry.seq,
                        appraisal_entry.seq,
                        r.key_id,
                        body.agent_id,
                        r.ephemeral_key_digest,
                        appraisal.time
                    ])
                })
                .map_err(|e| audit_body::release_row_error(&r.key_id, db(op)(e)))?;
                last = entry.head();
            }
            Ok(last)
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
