//! The audited write operations of [`crate::store::Store`], once for both
//! backends: each runs inside the backend's write transaction over
//! [`Txn`], the few reads and writes a backend implements in its SQL
//! (`sqlite::ops`, `postgres::ops`), and appends its entry built by
//! [`super::audit_body`]. The order of the checks, statements and appends is
//! the contract's, so both backends refuse alike and write the same audit
//! bytes.

use super::audit_body;
use crate::audit::{AppraisalRecord, AuditEntry, AuditHead, AuditKind, ReleaseRecord};
use crate::store::{
    AgentRecord, AgentStatus, ChallengeRecord, Enrolment, KeyRecord, NewAgent, NewChallenge,
    NewKey, NewPolicy, PolicyRecord, Registration, StoreError,
};
use serde::Serialize;

/// What a [`Txn`] method returns.
pub(super) type TxResult<T> = Result<T, StoreError>;

/// The release row of one key release of a decision.
pub(super) struct ReleaseRow<'a> {
    /// Seq of the release's audit entry.
    pub(super) audit_seq: u64,
    /// Seq of the decision's appraisal entry.
    pub(super) appraisal_seq: u64,
    /// The release.
    pub(super) release: &'a ReleaseRecord,
    /// The agent the key was sealed to.
    pub(super) agent_id: &'a str,
    /// The decision's time.
    pub(super) time: u64,
}

/// One write transaction of a backend: its statements, inside the
/// transaction (for PostgreSQL, one holding the audit lock).
pub(super) trait Txn {
    /// The agent `agent_id`.
    fn agent(&mut self, agent_id: &str) -> TxResult<Option<AgentRecord>>;
    /// Inserts a new agent, pending, created `now`.
    fn insert_agent(&mut self, agent: &NewAgent, now: u64) -> TxResult<()>;
    /// Inserts challenge `ch` for `agent_id`, created `now`; an id already
    /// used is [`StoreError::AlreadyExists`].
    fn insert_challenge(&mut self, agent_id: &str, ch: &NewChallenge, now: u64) -> TxResult<()>;
    /// The challenge `challenge_id`.
    fn challenge(&mut self, challenge_id: &str) -> TxResult<Option<ChallengeRecord>>;
    /// Marks a pending agent active, `now`.
    fn activate_agent(&mut self, agent_id: &str, now: u64) -> TxResult<()>;
    /// Version `version` of policy `policy_id`.
    fn policy(&mut self, policy_id: &str, version: u32) -> TxResult<Option<PolicyRecord>>;
    /// The current policy.
    fn current_policy(&mut self) -> TxResult<Option<PolicyRecord>>;
    /// The highest version of policy `policy_id` (0 when none).
    fn last_policy_version(&mut self, policy_id: &str) -> TxResult<u32>;
    /// Inserts version `v` of policy `p` (document digest `sha256`).
    fn insert_policy(&mut self, p: &NewPolicy, v: u32, sha256: &str, now: u64) -> TxResult<()>;
    /// Makes version `version` of policy `policy_id` the current one.
    fn set_current(&mut self, policy_id: &str, version: u32) -> TxResult<()>;
    /// The key `key_id`.
    fn key(&mut self, key_id: &str) -> TxResult<Option<KeyRecord>>;
    /// Inserts `key`; a key with its public key or its id already stored is
    /// [`StoreError::AlreadyExists`].
    fn insert_key(&mut self, key: &NewKey, now: u64) -> TxResult<()>;
    /// Sets the key's disabled flag.
    fn set_key_disabled(&mut self, key_id: &str, disabled: bool) -> TxResult<()>;
    /// The key's disabled flag (`None`: no such key).
    fn key_disabled(&mut self, key_id: &str) -> TxResult<Option<bool>>;
    /// Inserts a release row.
    fn insert_release(&mut self, row: &ReleaseRow<'_>) -> TxResult<()>;
    /// Appends one audit entry, of time `at`, after the current head.
    fn append(&mut self, at: u64, kind: AuditKind, body: &impl Serialize) -> TxResult<AuditEntry>;
}

fn found<T>(what: &'static str, id: impl Into<String>, v: Option<T>) -> Result<T, StoreError> {
    v.ok_or_else(|| StoreError::NotFound {
        what,
        id: id.into(),
    })
}

/// [`crate::store::Store::register_agent`] after its input checks.
pub(super) fn register_agent(
    tx: &mut impl Txn,
    agent: &NewAgent,
    challenge: &NewChallenge,
    now: u64,
) -> Result<Registration, StoreError> {
    let new_agent = match tx.agent(&agent.agent_id)? {
        Some(a) => {
            audit_body::check_same_agent(&a, agent)?;
            false
        }
        None => {
            tx.insert_agent(agent, now)?;
            let (kind, body) = audit_body::agent_registered(agent);
            tx.append(now, kind, &body)?;
            true
        }
    };
    tx.insert_challenge(&agent.agent_id, challenge, now)?;
    let agent = found("agent", &agent.agent_id, tx.agent(&agent.agent_id)?)?;
    Ok(Registration { agent, new_agent })
}

/// [`crate::store::Store::activate_agent`] after its input checks.
pub(super) fn activate_agent(
    tx: &mut impl Txn,
    agent_id: &str,
    challenge_id: &str,
    now: u64,
) -> Result<AgentRecord, StoreError> {
    let agent = found("agent", agent_id, tx.agent(agent_id)?)?;
    let challenge = found("challenge", challenge_id, tx.challenge(challenge_id)?)?;
    audit_body::check_activation(&challenge, agent_id, challenge_id)?;
    if agent.status == AgentStatus::Active {
        return Ok(agent);
    }
    tx.activate_agent(agent_id, now)?;
    let (kind, body) = audit_body::agent_activated(agent_id, challenge_id);
    tx.append(now, kind, &body)?;
    found("agent", agent_id, tx.agent(agent_id)?)
}

/// [`crate::store::Store::put_policy`] after its input checks; `sha256`
/// from [`audit_body::policy_sha256`].
pub(super) fn put_policy(
    tx: &mut impl Txn,
    policy: &NewPolicy,
    sha256: &str,
    now: u64,
) -> Result<PolicyRecord, StoreError> {
    let last = tx.last_policy_version(&policy.policy_id)?;
    let version = audit_body::next_policy_version(policy, last)?;
    tx.insert_policy(policy, version, sha256, now)?;
    if policy.make_current {
        tx.set_current(&policy.policy_id, version)?;
    }
    let (kind, body) = audit_body::policy_update(policy, version, sha256);
    tx.append(now, kind, &body)?;
    let id = format!("{} v{version}", policy.policy_id);
    found("policy", id, tx.policy(&policy.policy_id, version)?)
}

/// [`crate::store::Store::set_current_policy`] after its input checks.
pub(super) fn set_current_policy(
    tx: &mut impl Txn,
    policy_id: &str,
    version: u32,
    now: u64,
) -> Result<PolicyRecord, StoreError> {
    let id = format!("{policy_id} v{version}");
    let target = found("policy", id, tx.policy(policy_id, version)?)?;
    if target.current {
        return Ok(target);
    }
    let previous = tx.current_policy()?;
    tx.set_current(policy_id, version)?;
    let (kind, body) = audit_body::policy_current(&target, previous);
    tx.append(now, kind, &body)?;
    Ok(PolicyRecord {
        current: true,
        ..target
    })
}

/// [`crate::store::Store::insert_key`] after its input checks.
pub(super) fn insert_key(
    tx: &mut impl Txn,
    key: &NewKey,
    now: u64,
) -> Result<KeyRecord, StoreError> {
    tx.insert_key(key, now)?;
    let (kind, body) = audit_body::key_stored(key);
    tx.append(now, kind, &body)?;
    let key_id = &key.public.key_id;
    found("key", key_id, tx.key(key_id)?)
}

/// [`crate::store::Store::set_key_disabled`] after its input checks.
pub(super) fn set_key_disabled(
    tx: &mut impl Txn,
    key_id: &str,
    disabled: bool,
    now: u64,
) -> Result<KeyRecord, StoreError> {
    let key = found("key", key_id, tx.key(key_id)?)?;
    if key.disabled == disabled {
        return Ok(key);
    }
    tx.set_key_disabled(key_id, disabled)?;
    let (kind, body) = audit_body::key_state(key_id, disabled);
    tx.append(now, kind, &body)?;
    Ok(KeyRecord { disabled, ..key })
}

/// [`crate::store::Store::record_decision`] after
/// [`audit_body::check_decision`]: the appraisal entry, then per release
/// its entry and row; the head after the last.
pub(super) fn record_decision(
    tx: &mut impl Txn,
    appraisal: &AppraisalRecord,
    releases: &[ReleaseRecord],
) -> Result<AuditHead, StoreError> {
    let body = &appraisal.body;
    if !releases.is_empty() && appraisal.enrolment == Enrolment::Registration {
        let agent = tx.agent(&body.agent_id)?;
        audit_body::check_release_agent(agent, &body.agent_id)?;
    }
    let appraisal_entry = tx.append(appraisal.time, AuditKind::Appraisal, body)?;
    let mut last = appraisal_entry.head();
    for r in releases {
        // Checked inside the transaction (PostgreSQL: under the audit lock,
        // which key state changes take too), so a key disabled concurrently
        // is disabled before or after this decision, never during it.
        let disabled = tx.key_disabled(&r.key_id)?;
        audit_body::check_key_enabled(&r.key_id, disabled)?;
        let (kind, release) = audit_body::release(r, &body.agent_id, appraisal_entry.seq);
        let entry = tx.append(appraisal.time, kind, &release)?;
        let row = ReleaseRow {
            audit_seq: entry.seq,
            appraisal_seq: appraisal_entry.seq,
            release: r,
            agent_id: &body.agent_id,
            time: appraisal.time,
        };
        tx.insert_release(&row)
            .map_err(|e| audit_body::release_row_error(&r.key_id, e))?;
        last = entry.head();
    }
    Ok(last)
}
