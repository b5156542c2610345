//! What both backends write to the audit log, built once: one function per
//! audited operation returns the entry's [`AuditKind`] and body, and the
//! checks that decide whether a write (and so its entry) happens at all are
//! here too. Each backend (`sqlite`, `postgres`) keeps only its SQL, so the
//! audit bytes and the refusals are the same on both.

use crate::audit::{
    AgentActivatedBody, AgentRegisteredBody, AppraisalRecord, AuditKind, KeyBody, KeyStateBody,
    PolicyCurrentBody, PolicyRef, PolicyUpdateBody, Recipient, ReleaseBody, ReleaseRecord,
};
use crate::keyrecord::KeyOrigin;
use crate::store::{
    AgentRecord, AgentStatus, ChallengeRecord, NewAgent, NewChallenge, NewKey, NewPolicy, NonceUse,
    PolicyRecord, StoreError,
};
use sealbuild_common::api::Verdict;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

/// Refuses a challenge that expires before `now`.
pub(super) fn check_challenge_expiry(challenge: &NewChallenge, now: u64) -> Result<(), StoreError> {
    if challenge.expires_at < now {
        return Err(StoreError::InvalidInput(format!(
            "challenge '{}' expires at {} before now ({now})",
            challenge.challenge_id, challenge.expires_at
        )));
    }
    Ok(())
}

/// Refuses to register `agent` again under an id already registered with a
/// different EK or AK.
pub(super) fn check_same_agent(existing: &AgentRecord, agent: &NewAgent) -> Result<(), StoreError> {
    if existing.ek_public != agent.ek_public
        || existing.ak_public != agent.ak_public
        || existing.ak_name != agent.ak_name
    {
        return Err(StoreError::Conflict(format!(
            "agent '{}' is already registered with a different EK or AK",
            agent.agent_id
        )));
    }
    Ok(())
}

/// The entry of a new agent's registration.
pub(super) fn agent_registered(agent: &NewAgent) -> (AuditKind, AgentRegisteredBody) {
    (
        AuditKind::AgentRegistered,
        AgentRegisteredBody {
            agent_id: agent.agent_id.clone(),
            ak_name: hex::encode(&agent.ak_name),
            ek_public_sha256: hex::encode(Sha256::digest(&agent.ek_public)),
            ek_issuer: agent.ek_issuer.clone(),
        },
    )
}

/// Refuses to activate `agent_id` with a challenge issued to another agent
/// or not taken yet.
pub(super) fn check_activation(
    challenge: &ChallengeRecord,
    agent_id: &str,
    challenge_id: &str,
) -> Result<(), StoreError> {
    if challenge.agent_id != agent_id {
        return Err(StoreError::Conflict(format!(
            "challenge '{challenge_id}' was issued to agent '{}', not '{agent_id}'",
            challenge.agent_id
        )));
    }
    if challenge.used_at.is_none() {
        return Err(StoreError::Conflict(format!(
            "challenge '{challenge_id}' has not been taken; take it before activating"
        )));
    }
    Ok(())
}

/// The entry of an agent's activation.
pub(super) fn agent_activated(
    agent_id: &str,
    challenge_id: &str,
) -> (AuditKind, AgentActivatedBody) {
    (
        AuditKind::AgentActivated,
        AgentActivatedBody {
            agent_id: agent_id.to_string(),
            challenge_id: challenge_id.to_string(),
        },
    )
}

/// Refuses a nonce of no or more than 64 bytes.
pub(super) fn check_nonce(nonce: &NonceUse) -> Result<(), StoreError> {
    if nonce.nonce.is_empty() || nonce.nonce.len() > 64 {
        return Err(StoreError::InvalidInput(format!(
            "a nonce has 1 to 64 bytes, got {}",
            nonce.nonce.len()
        )));
    }
    Ok(())
}

/// SHA-256 (lower-case hex) of a policy document, as stored and audited.
pub(super) fn policy_sha256(policy: &NewPolicy) -> String {
    hex::encode(Sha256::digest(policy.document.as_bytes()))
}

/// The version after `last`, refused when there is none.
pub(super) fn next_policy_version(policy: &NewPolicy, last: u32) -> Result<u32, StoreError> {
    last.checked_add(1).ok_or_else(|| {
        StoreError::InvalidInput(format!(
            "policy '{}' has no versions left",
            policy.policy_id
        ))
    })
}

/// The entry of a stored policy version (`sha256` from [`policy_sha256`]).
pub(super) fn policy_update(
    policy: &NewPolicy,
    version: u32,
    sha256: &str,
) -> (AuditKind, PolicyUpdateBody) {
    (
        AuditKind::PolicyUpdate,
        PolicyUpdateBody {
            policy_id: policy.policy_id.clone(),
            version,
            sha256: sha256.to_string(),
            current: policy.make_current,
        },
    )
}

/// The entry of a switch of the current policy to `target`, from
/// `previous` (the current one before, if any).
pub(super) fn policy_current(
    target: &PolicyRecord,
    previous: Option<PolicyRecord>,
) -> (AuditKind, PolicyCurrentBody) {
    (
        AuditKind::PolicyCurrent,
        PolicyCurrentBody {
            policy_id: target.policy_id.clone(),
            version: target.version,
            sha256: target.sha256.clone(),
            previous: previous.map(|p| PolicyRef {
                policy_id: p.policy_id,
                version: p.version,
            }),
        },
    )
}

/// The entry of a stored key: created or imported, after its origin.
pub(super) fn key_stored(key: &NewKey) -> (AuditKind, KeyBody) {
    let p = &key.public;
    let kind = match key.origin {
        KeyOrigin::Generated => AuditKind::KeyCreated,
        KeyOrigin::Imported => AuditKind::KeyImported,
    };
    (
        kind,
        KeyBody {
            key_id: p.key_id.clone(),
            algorithm: p.algorithm.as_str().to_string(),
            fingerprint: p.fingerprint.clone(),
        },
    )
}

/// The entry of a key disabled or enabled again.
pub(super) fn key_state(key_id: &str, disabled: bool) -> (AuditKind, KeyStateBody) {
    let kind = if disabled {
        AuditKind::KeyDisabled
    } else {
        AuditKind::KeyEnabled
    };
    (
        kind,
        KeyStateBody {
            key_id: key_id.to_string(),
            disabled,
        },
    )
}

/// Checks a decision before anything is written: releases only with an
/// accepted verdict, both digests 64 lower-case hex characters, every
/// release naming the appraisal's result digest, no key released twice.
pub(super) fn check_decision(
    appraisal: &AppraisalRecord,
    releases: &[ReleaseRecord],
) -> Result<(), StoreError> {
    let body = &appraisal.body;
    if !releases.is_empty() && body.verdict != Verdict::Accepted {
        return Err(StoreError::InvalidInput(format!(
            "{} key release(s) with a rejected verdict for agent '{}'",
            releases.len(),
            body.agent_id
        )));
    }
    for (what, digest) in [
        ("evidence_digest", &body.evidence_digest),
        ("result_digest", &body.result_digest),
    ] {
        if digest.len() != 64
            || !digest
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(StoreError::InvalidInput(format!(
                "appraisal {what} must be 64 lower-case hex characters, got '{digest}'"
            )));
        }
    }
    if let Some(r) = releases
        .iter()
        .find(|r| hex::encode(r.result_digest) != body.result_digest)
    {
        return Err(StoreError::InvalidInput(format!(
            "release of key '{}' names result digest {}, the appraisal {}",
            r.key_id,
            hex::encode(r.result_digest),
            body.result_digest
        )));
    }
    let mut seen = BTreeSet::new();
    if let Some(dup) = releases.iter().find(|r| !seen.insert(r.key_id.as_str())) {
        return Err(StoreError::InvalidInput(format!(
            "key '{}' is released twice in one decision",
            dup.key_id
        )));
    }
    Ok(())
}

/// Refuses releases to a registered agent that is missing or not active
/// (called only when a decision releases keys to a registered attester).
pub(super) fn check_release_agent(
    agent: Option<AgentRecord>,
    agent_id: &str,
) -> Result<(), StoreError> {
    let agent = agent.ok_or_else(|| StoreError::NotFound {
        what: "agent",
        id: agent_id.to_string(),
    })?;
    if agent.status != AgentStatus::Active {
        return Err(StoreError::Conflict(format!(
            "agent '{agent_id}' is {}: keys are released only to active agents",
            agent.status
        )));
    }
    Ok(())
}

/// Refuses to release a key found disabled inside the decision's
/// transaction (`None`: no such key; the release row's constraint decides).
pub(super) fn check_key_enabled(key_id: &str, disabled: Option<bool>) -> Result<(), StoreError> {
    if disabled == Some(true) {
        return Err(StoreError::Conflict(format!(
            "key '{key_id}' is disabled and cannot be released"
        )));
    }
    Ok(())
}

/// The entry of one key release of a decision whose appraisal entry has
/// `appraisal_seq`.
pub(super) fn release(
    r: &ReleaseRecord,
    agent_id: &str,
    appraisal_seq: u64,
) -> (AuditKind, ReleaseBody) {
    (
        AuditKind::Release,
        ReleaseBody {
            key_id: r.key_id.clone(),
            recipient: Recipient {
                agent_id: agent_id.to_string(),
                ephemeral_key_digest: r.ephemeral_key_digest,
            },
            result_digest: r.result_digest,
            appraisal_seq,
        },
    )
}

/// Adds the key's name to a constraint error of its release row.
pub(super) fn release_row_error(key_id: &str, e: StoreError) -> StoreError {
    match e {
        StoreError::Constraint { op, message } => StoreError::Constraint {
            op,
            message: format!("release of key '{key_id}': {message}"),
        },
        other => other,
    }
}
