//! Typed bodies of audit entries (serialized as canonical JSON, see the
//! parent module) and the records callers hand to the store.

use super::hex32;
use sealbuild_common::api::{Reason, Verdict};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Body of an [`AuditKind::Appraisal`](super::AuditKind::Appraisal) entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppraisalBody {
    /// The agent the evidence claims to come from (as sent; may be unknown).
    pub agent_id: String,
    /// SHA-256 of the evidence as received, lower-case hex (64 characters;
    /// [`Store::record_decision`](crate::store::Store::record_decision) refuses other text).
    pub evidence_digest: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Why (empty when accepted).
    pub reasons: Vec<Reason>,
    /// Policy in force: its id.
    pub policy_id: String,
    /// Its version.
    pub policy_version: u32,
    /// SHA-256 (hex) of its document.
    pub policy_sha256: String,
    /// SHA-256 of the signed EAR returned to the agent, lower-case hex (64 characters).
    pub result_digest: String,
}

/// The agent and ephemeral key a key was sealed to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipient {
    /// The agent.
    pub agent_id: String,
    /// SHA-256 of the serialized ephemeral HPKE public key (hex in JSON).
    #[serde(with = "hex32")]
    pub ephemeral_key_digest: [u8; 32],
}

/// Body of an [`AuditKind::Release`](super::AuditKind::Release) entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseBody {
    /// The released key.
    pub key_id: String,
    /// Who it was sealed to.
    pub recipient: Recipient,
    /// SHA-256 of the EAR (also the HPKE AAD of the sealed key; hex in JSON).
    #[serde(with = "hex32")]
    pub result_digest: [u8; 32],
    /// Seq of the appraisal entry that granted it.
    pub appraisal_seq: u64,
}

/// Body of an [`AuditKind::PolicyUpdate`](super::AuditKind::PolicyUpdate) entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyUpdateBody {
    /// Policy id.
    pub policy_id: String,
    /// The new version.
    pub version: u32,
    /// SHA-256 (hex) of the document.
    pub sha256: String,
    /// Whether it became the current policy.
    pub current: bool,
}

/// A policy version reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRef {
    /// Policy id.
    pub policy_id: String,
    /// Version.
    pub version: u32,
}

/// Body of an [`AuditKind::PolicyCurrent`](super::AuditKind::PolicyCurrent) entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyCurrentBody {
    /// Policy id now current.
    pub policy_id: String,
    /// Its version.
    pub version: u32,
    /// SHA-256 (hex) of its document.
    pub sha256: String,
    /// The policy current before, if any.
    pub previous: Option<PolicyRef>,
}

/// Body of [`AuditKind::KeyCreated`](super::AuditKind::KeyCreated) and [`AuditKind::KeyImported`](super::AuditKind::KeyImported) entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyBody {
    /// Key id.
    pub key_id: String,
    /// Algorithm name.
    pub algorithm: String,
    /// SHA-256 (hex) of the SPKI DER.
    pub fingerprint: String,
}

/// Body of [`AuditKind::KeyDisabled`](super::AuditKind::KeyDisabled) and [`AuditKind::KeyEnabled`](super::AuditKind::KeyEnabled) entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyStateBody {
    /// Key id.
    pub key_id: String,
    /// Its new state.
    pub disabled: bool,
}

/// Body of an [`AuditKind::AgentRegistered`](super::AuditKind::AgentRegistered) entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentRegisteredBody {
    /// The agent.
    pub agent_id: String,
    /// AK Name (hex).
    pub ak_name: String,
    /// SHA-256 (hex) of the EK TPM2B_PUBLIC.
    pub ek_public_sha256: String,
    /// EK certificate issuer, when there was a certificate.
    pub ek_issuer: Option<String>,
}

/// Body of an [`AuditKind::AgentActivated`](super::AuditKind::AgentActivated) entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentActivatedBody {
    /// The agent.
    pub agent_id: String,
    /// The challenge it answered.
    pub challenge_id: String,
}

/// Body of an [`AuditKind::Notice`](super::AuditKind::Notice) entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoticeBody {
    /// What happened, for people.
    pub message: String,
    /// Structured details.
    pub details: Value,
}

/// A [`AuditKind::Notice`](super::AuditKind::Notice) entry to append with
/// [`Store::append_notice`](crate::store::Store::append_notice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeRecord {
    /// Unix seconds.
    pub time: u64,
    /// The body.
    pub body: NoticeBody,
}

/// The appraisal half of [`Store::record_decision`](crate::store::Store::record_decision).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppraisalRecord {
    /// Unix seconds of the decision (also the time of its release entries).
    pub time: u64,
    /// How the attester is known: releases to a
    /// [`crate::store::Enrolment::Registration`] attester need it registered
    /// and active at commit time.
    pub enrolment: crate::store::Enrolment,
    /// The body.
    pub body: AppraisalBody,
}

/// One key release of a decision. The recipient agent and the time are the
/// appraisal's; `result_digest` must equal the appraisal's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseRecord {
    /// The key released.
    pub key_id: String,
    /// SHA-256 of the agent's serialized ephemeral HPKE public key.
    pub ephemeral_key_digest: [u8; 32],
    /// SHA-256 of the EAR (the HPKE AAD the key was sealed with).
    pub result_digest: [u8; 32],
}

/// Most reasons an appraisal entry keeps (the rest are counted in a final
/// reason): with the bounded request fields (`sealbuild_common::api::bounds`)
/// this bounds an entry's size, whoever sends the evidence.
pub const MAX_AUDIT_REASONS: usize = 16;
/// Longest reason message kept in an entry (characters).
pub const MAX_REASON_MESSAGE: usize = 512;
/// Longest expected/observed value kept in an entry (characters).
pub const MAX_REASON_VALUE: usize = 256;

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max).collect();
    out.push('…');
    out
}

/// The reasons as an audit entry keeps them: at most
/// [`MAX_AUDIT_REASONS`], texts cut to [`MAX_REASON_MESSAGE`] /
/// [`MAX_REASON_VALUE`] characters (marked with `…`).
pub fn bounded_reasons(reasons: &[Reason]) -> Vec<Reason> {
    let mut out: Vec<Reason> = reasons
        .iter()
        .take(MAX_AUDIT_REASONS)
        .map(|r| Reason {
            check: cut(&r.check, 64),
            expected: r.expected.as_deref().map(|v| cut(v, MAX_REASON_VALUE)),
            observed: r.observed.as_deref().map(|v| cut(v, MAX_REASON_VALUE)),
            message: cut(&r.message, MAX_REASON_MESSAGE),
            key: r.key.as_deref().map(|k| cut(k, 64)),
        })
        .collect();
    if reasons.len() > MAX_AUDIT_REASONS {
        out.push(Reason::new(
            "audit",
            None,
            None,
            format!(
                "{} more reasons not kept in the audit entry",
                reasons.len() - MAX_AUDIT_REASONS
            ),
        ));
    }
    out
}

#[cfg(test)]
mod bounded_tests {
    use super::*;

    #[test]
    fn reasons_are_cut_and_counted() {
        let long = Reason::new("c", Some("e".repeat(1000)), None, "m".repeat(5000));
        let many = vec![long; 40];
        let b = bounded_reasons(&many);
        assert_eq!(b.len(), MAX_AUDIT_REASONS + 1);
        assert_eq!(b[0].message.chars().count(), MAX_REASON_MESSAGE + 1);
        assert!(b[0].message.ends_with('…'));
        assert_eq!(
            b[0].expected.as_ref().unwrap().chars().count(),
            MAX_REASON_VALUE + 1
        );
        assert!(b[MAX_AUDIT_REASONS].message.starts_with("24 more"));
    }
}
