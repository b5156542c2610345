//! The append-only, hash-chained audit log.
//!
//! Every security decision of the verifier (appraisals, key releases, policy
//! and key changes, agent registration and activation) becomes one entry.
//! Entries are numbered `seq = 1, 2, …` without gaps and each one commits to
//! its predecessor:
//!
//! ```text
//! entry_hash = SHA-256( "sealbuild/audit/v1\0"
//!                     || u64be(seq) || u64be(time)
//!                     || u16be(len(kind)) || kind
//!                     || u32be(len(body)) || body
//!                     || prev_hash )
//! ```
//!
//! `prev_hash` of entry 1 is 32 zero bytes ([`GENESIS_HASH`]); `prev_hash` of
//! entry `n` is `entry_hash` of entry `n - 1`. SHA-256 is FIPS 180-4. `time`
//! is the caller's Unix seconds and is recorded, not ordered: replicas' clocks
//! may disagree, the order of the log is `seq`.
//!
//! The body is **canonical JSON** ([`canonical_json`]): UTF-8, no
//! insignificant whitespace, object members sorted by the UTF-8 bytes of their
//! names (RFC 8785 sorts by UTF-16 code units; the two orders agree on the
//! ASCII names sealbuild writes), strings escaped as `serde_json` escapes them,
//! integers only (no floating-point numbers, so every number has one
//! spelling). [`ChainVerifier`] re-derives the canonical form of every stored
//! body and refuses one that differs.
//!
//! What the chain proves: any change to a stored entry, a deleted entry or a
//! re-ordering is found by [`verify_chain`] and names the first bad `seq`.
//! What it cannot prove alone: that the newest entries were not cut off, or
//! that someone with write access did not rewrite the whole tail and
//! recompute every hash. For that, record the head ([`AuditHead`], printed by
//! `sealbuild-verifier audit verify`) outside the verifier from time to time
//! and verify against it ([`ChainVerifier::with_checkpoint`]).

mod bodies;
mod report;

pub use bodies::{
    bounded_reasons, AgentActivatedBody, AgentRegisteredBody, AppraisalBody, AppraisalRecord,
    KeyBody, KeyStateBody, NoticeBody, NoticeRecord, PolicyCurrentBody, PolicyRef,
    PolicyUpdateBody, Recipient, ReleaseBody, ReleaseRecord, MAX_AUDIT_REASONS, MAX_REASON_MESSAGE,
    MAX_REASON_VALUE,
};
pub use report::{list_json, verify_store, AuditVerifyError, AuditVerifyReport, VERIFY_BATCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::fmt;
use thiserror::Error;

/// Domain separation prefix of [`entry_hash`].
pub const DOMAIN: &[u8] = b"sealbuild/audit/v1\0";

/// `prev_hash` of the first entry, and the hash of the empty log's head.
pub const GENESIS_HASH: [u8; 32] = [0u8; 32];

/// Why an audit chain does not verify, or an entry cannot be formed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuditError {
    /// An entry's `seq` is not the successor of the previous entry's.
    #[error("{}", seq_gap_message(*.expected, *.found))]
    SeqGap {
        /// The seq the chain needed next.
        expected: u64,
        /// The seq found instead.
        found: u64,
    },
    /// An entry's `prev_hash` is not the hash of the entry before it.
    #[error("audit entry {seq}: prev_hash {stored} does not equal the entry_hash of entry {prev_seq} ({expected}): the link to the previous entry is broken", prev_seq = .seq.saturating_sub(1))]
    PrevLinkBroken {
        /// The entry whose link is wrong.
        seq: u64,
        /// Its stored prev_hash (hex).
        stored: String,
        /// The hash it should hold (hex).
        expected: String,
    },
    /// The stored `entry_hash` is not the hash of the stored fields.
    #[error("audit entry {seq}: stored entry_hash {stored} does not match the recomputed {recomputed}: its time, kind, body or prev_hash was changed after it was written")]
    HashMismatch {
        /// The entry that changed.
        seq: u64,
        /// The stored entry_hash (hex).
        stored: String,
        /// SHA-256 over the stored fields (hex).
        recomputed: String,
    },
    /// A body is not in canonical JSON form.
    #[error("audit entry {seq}: body is not canonical JSON: {reason}")]
    NonCanonicalBody {
        /// The entry.
        seq: u64,
        /// What is wrong.
        reason: String,
    },
    /// The entry at the checkpoint's seq has another hash.
    #[error("audit entry {seq}: entry_hash {found} differs from the checkpoint {expected}: the log was rewritten after the checkpoint was taken")]
    CheckpointMismatch {
        /// The checkpoint's seq.
        seq: u64,
        /// The checkpoint's hash (hex).
        expected: String,
        /// The stored entry's hash (hex).
        found: String,
    },
    /// The log ends before the checkpoint.
    #[error("audit log ends at seq {last_seq} but the checkpoint is at seq {checkpoint_seq}: entries were removed from the end")]
    Truncated {
        /// Last seq present.
        last_seq: u64,
        /// The checkpoint's seq.
        checkpoint_seq: u64,
    },
    /// A field is longer than its length prefix can express.
    #[error("audit {field}: {len} bytes exceed the maximum {max}")]
    FieldTooLong {
        /// `kind` or `body`.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// A body could not be turned into canonical JSON.
    #[error("audit body: {0}")]
    Body(String),
    /// The log holds `u64::MAX` entries.
    #[error("audit log is full: seq would exceed {}", u64::MAX)]
    SeqOverflow,
    /// A head or checkpoint string does not parse.
    #[error("audit head '{text}': {reason}")]
    HeadSyntax {
        /// The text given.
        text: String,
        /// What is wrong.
        reason: String,
    },
}

fn seq_gap_message(expected: u64, found: u64) -> String {
    if found > expected {
        let missing = if found - expected == 1 {
            format!("entry {expected} is missing")
        } else {
            format!("entries {expected}..={} are missing", found - 1)
        };
        format!(
            "audit entry {found}: sequence gap: expected seq {expected}, found {found} ({missing})"
        )
    } else {
        format!("audit entry {found}: out of order: expected seq {expected}, found {found} (duplicate or re-ordered entry)")
    }
}

/// What an entry records. The stored text is [`AuditKind::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    /// An attestation was appraised ([`AppraisalBody`]).
    Appraisal,
    /// A key was released to an agent ([`ReleaseBody`]).
    Release,
    /// A policy version was stored ([`PolicyUpdateBody`]).
    PolicyUpdate,
    /// The current policy was switched to a stored version ([`PolicyCurrentBody`]).
    PolicyCurrent,
    /// A key was generated in the verifier ([`KeyBody`]).
    KeyCreated,
    /// A key was imported ([`KeyBody`]).
    KeyImported,
    /// A key was disabled ([`KeyStateBody`]).
    KeyDisabled,
    /// A key was enabled again ([`KeyStateBody`]).
    KeyEnabled,
    /// A new agent registered ([`AgentRegisteredBody`]).
    AgentRegistered,
    /// An agent proved EK/AK residency ([`AgentActivatedBody`]).
    AgentActivated,
    /// A service event written by the verifier itself ([`NoticeBody`]).
    Notice,
}

impl AuditKind {
    /// Every kind, in declaration order.
    pub const ALL: [AuditKind; 11] = [
        Self::Appraisal,
        Self::Release,
        Self::PolicyUpdate,
        Self::PolicyCurrent,
        Self::KeyCreated,
        Self::KeyImported,
        Self::KeyDisabled,
        Self::KeyEnabled,
        Self::AgentRegistered,
        Self::AgentActivated,
        Self::Notice,
    ];

    /// The stored and hashed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Appraisal => "appraisal",
            Self::Release => "release",
            Self::PolicyUpdate => "policy_update",
            Self::PolicyCurrent => "policy_current",
            Self::KeyCreated => "key_created",
            Self::KeyImported => "key_imported",
            Self::KeyDisabled => "key_disabled",
            Self::KeyEnabled => "key_enabled",
            Self::AgentRegistered => "agent_registered",
            Self::AgentActivated => "agent_activated",
            Self::Notice => "notice",
        }
    }

    /// The kind with this stored name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for AuditKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Serde adapter: `[u8; 32]` as lower-case hex.
pub mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes 32 bytes as hex.
    pub fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    /// Deserializes 64 hex characters.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        super::parse_hash(&s).map_err(serde::de::Error::custom)
    }

    /// JSON Schema: 64 lower-case hex digits.
    pub fn schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "pattern": "^[0-9a-f]{64}$" })
    }
}

fn parse_hash(s: &str) -> Result<[u8; 32], String> {
    let bytes = hex::decode(s).map_err(|e| format!("'{s}' is not hex: {e}"))?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| format!("expected 32 bytes (64 hex characters), got {}", bytes.len()))
}

/// The last entry of a chain: its seq and entry_hash. The empty log's head is
/// seq 0 with [`GENESIS_HASH`]. Text form: `<seq>:<hex hash>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditHead {
    /// Seq of the last entry (0: empty log).
    pub seq: u64,
    /// Its entry_hash.
    #[serde(with = "hex32")]
    pub hash: [u8; 32],
}

impl AuditHead {
    /// The head of the empty log.
    pub const GENESIS: AuditHead = AuditHead {
        seq: 0,
        hash: GENESIS_HASH,
    };

    /// Parses the text form `<seq>:<64 hex characters>`.
    pub fn parse(text: &str) -> Result<Self, AuditError> {
        let err = |reason: String| AuditError::HeadSyntax {
            text: text.to_string(),
            reason,
        };
        let (seq, hash) = text
            .trim()
            .split_once(':')
            .ok_or_else(|| err("expected <seq>:<hex sha-256>".into()))?;
        let seq = seq
            .parse::<u64>()
            .map_err(|e| err(format!("seq '{seq}': {e}")))?;
        let hash = parse_hash(hash).map_err(err)?;
        Ok(Self { seq, hash })
    }
}

impl fmt::Display for AuditHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.seq, hex::encode(self.hash))
    }
}

/// One stored entry, exactly as read from the store (`kind` and `body` stay
/// text so that entries of kinds unknown to this build still verify).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// 1, 2, …
    pub seq: u64,
    /// Unix seconds given by the writer.
    pub time: u64,
    /// [`AuditKind::as_str`] of the kind.
    pub kind: String,
    /// Canonical JSON.
    pub body: String,
    /// entry_hash of entry `seq - 1` (or [`GENESIS_HASH`]).
    pub prev_hash: [u8; 32],
    /// [`entry_hash`] of this entry.
    pub entry_hash: [u8; 32],
}

impl AuditEntry {
    /// Computes the entry that follows `prev` (the head of the chain).
    pub fn next(prev: AuditHead, time: u64, kind: &str, body: String) -> Result<Self, AuditError> {
        let seq = prev.seq.checked_add(1).ok_or(AuditError::SeqOverflow)?;
        let entry_hash = entry_hash(seq, time, kind, &body, &prev.hash)?;
        Ok(Self {
            seq,
            time,
            kind: kind.to_string(),
            body,
            prev_hash: prev.hash,
            entry_hash,
        })
    }

    /// This entry as the head of its chain.
    pub fn head(&self) -> AuditHead {
        AuditHead {
            seq: self.seq,
            hash: self.entry_hash,
        }
    }

    /// The `audit list --json` form of this entry.
    pub fn to_json(&self) -> AuditEntryJson {
        AuditEntryJson {
            seq: self.seq,
            time: self.time,
            kind: self.kind.clone(),
            // A body that is not JSON (only possible after tampering) is
            // shown as the string it is.
            body: serde_json::from_str(&self.body)
                .unwrap_or_else(|_| Value::String(self.body.clone())),
            prev_hash: self.prev_hash,
            entry_hash: self.entry_hash,
        }
    }
}

impl fmt::Display for AuditEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:>8} {:>10} {:<16} {}",
            self.seq, self.time, self.kind, self.body
        )
    }
}

/// One entry as `sealbuild-verifier audit list --json` prints it (one JSON
/// object per entry; hashes in hex, the body as a JSON value).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct AuditEntryJson {
    /// Seq.
    pub seq: u64,
    /// Unix seconds.
    pub time: u64,
    /// Kind name.
    pub kind: String,
    /// The body.
    pub body: Value,
    /// Previous entry's hash.
    #[serde(with = "hex32")]
    #[schemars(schema_with = "hex32::schema")]
    pub prev_hash: [u8; 32],
    /// This entry's hash.
    #[serde(with = "hex32")]
    #[schemars(schema_with = "hex32::schema")]
    pub entry_hash: [u8; 32],
}

/// `entry_hash` of the module documentation.
pub fn entry_hash(
    seq: u64,
    time: u64,
    kind: &str,
    body: &str,
    prev_hash: &[u8; 32],
) -> Result<[u8; 32], AuditError> {
    let kind_len = u16::try_from(kind.len()).map_err(|_| AuditError::FieldTooLong {
        field: "kind",
        len: kind.len(),
        max: usize::from(u16::MAX),
    })?;
    let body_len = u32::try_from(body.len()).map_err(|_| AuditError::FieldTooLong {
        field: "body",
        len: body.len(),
        max: u32::MAX as usize,
    })?;
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update(seq.to_be_bytes());
    h.update(time.to_be_bytes());
    h.update(kind_len.to_be_bytes());
    h.update(kind.as_bytes());
    h.update(body_len.to_be_bytes());
    h.update(body.as_bytes());
    h.update(prev_hash);
    Ok(h.finalize().into())
}

/// Serializes `value` as canonical JSON (see the module documentation).
pub fn canonical_json<T: Serialize + ?Sized>(value: &T) -> Result<String, AuditError> {
    let v = serde_json::to_value(value).map_err(|e| AuditError::Body(e.to_string()))?;
    canonical_value(&v)
}

/// The canonical text of a JSON value.
pub fn canonical_value(v: &Value) -> Result<String, AuditError> {
    let mut out = String::new();
    write_canonical(v, &mut out)?;
    Ok(out)
}

fn json_string(s: &str, out: &mut String) -> Result<(), AuditError> {
    let quoted = serde_json::to_string(s).map_err(|e| AuditError::Body(e.to_string()))?;
    out.push_str(&quoted);
    Ok(())
}

fn write_canonical(v: &Value, out: &mut String) -> Result<(), AuditError> {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_u64() {
                out.push_str(&i.to_string());
            } else if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else {
                return Err(AuditError::Body(format!(
                    "number {n}: audit bodies hold integers only"
                )));
            }
        }
        Value::String(s) => json_string(s, out)?,
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            // Sorted here, whatever order the map keeps.
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (k, item)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(k, out)?;
                out.push(':');
                write_canonical(item, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

/// Checks a chain entry by entry, from genesis or from a trusted head.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    head: AuditHead,
    checkpoint: Option<AuditHead>,
    checked: u64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self::new()
    }
}

impl ChainVerifier {
    /// Verifies a chain from its first entry (seq 1, prev = zeros).
    pub fn new() -> Self {
        Self {
            head: AuditHead::GENESIS,
            checkpoint: None,
            checked: 0,
        }
    }

    /// Verifies the entries that follow a head already verified (e.g. the
    /// last checkpoint), so the next entry must be `head.seq + 1`.
    pub fn resume(head: AuditHead) -> Self {
        Self {
            head,
            checkpoint: None,
            checked: 0,
        }
    }

    /// Also requires the entry at `checkpoint.seq` to have `checkpoint.hash`
    /// and the chain to reach it ([`ChainVerifier::finish`]).
    pub fn with_checkpoint(mut self, checkpoint: AuditHead) -> Self {
        self.checkpoint = Some(checkpoint);
        self
    }

    /// The head verified so far.
    pub fn head(&self) -> AuditHead {
        self.head
    }

    /// Number of entries checked.
    pub fn checked(&self) -> u64 {
        self.checked
    }

    /// Checks the next entry: its seq, its link, its hash, its body's form.
    pub fn push(&mut self, e: &AuditEntry) -> Result<(), AuditError> {
        let expected = self.head.seq.saturating_add(1);
        if e.seq != expected {
            return Err(AuditError::SeqGap {
                expected,
                found: e.seq,
            });
        }
        if e.prev_hash != self.head.hash {
            return Err(AuditError::PrevLinkBroken {
                seq: e.seq,
                stored: hex::encode(e.prev_hash),
                expected: hex::encode(self.head.hash),
            });
        }
        let recomputed = entry_hash(e.seq, e.time, &e.kind, &e.body, &e.prev_hash)?;
        if recomputed != e.entry_hash {
            return Err(AuditError::HashMismatch {
                seq: e.seq,
                stored: hex::encode(e.entry_hash),
                recomputed: hex::encode(recomputed),
            });
        }
        let parsed: Value =
            serde_json::from_str(&e.body).map_err(|err| AuditError::NonCanonicalBody {
                seq: e.seq,
                reason: format!("not JSON: {err}"),
            })?;
        let canonical = canonical_value(&parsed).map_err(|err| AuditError::NonCanonicalBody {
            seq: e.seq,
            reason: err.to_string(),
        })?;
        if canonical != e.body {
            return Err(AuditError::NonCanonicalBody {
                seq: e.seq,
                reason: format!("canonical form is {canonical}"),
            });
        }
        if let Some(cp) = self.checkpoint {
            if cp.seq == e.seq && cp.hash != e.entry_hash {
                return Err(AuditError::CheckpointMismatch {
                    seq: e.seq,
                    expected: hex::encode(cp.hash),
                    found: hex::encode(e.entry_hash),
                });
            }
        }
        self.head = e.head();
        self.checked = self.checked.saturating_add(1);
        Ok(())
    }

    /// Ends verification: the head, after checking that the checkpoint (if
    /// any) was reached.
    pub fn finish(self) -> Result<AuditHead, AuditError> {
        if let Some(cp) = self.checkpoint {
            if cp.seq > self.head.seq {
                return Err(AuditError::Truncated {
                    last_seq: self.head.seq,
                    checkpoint_seq: cp.seq,
                });
            }
            if cp.seq == self.head.seq && cp.hash != self.head.hash {
                return Err(AuditError::CheckpointMismatch {
                    seq: cp.seq,
                    expected: hex::encode(cp.hash),
                    found: hex::encode(self.head.hash),
                });
            }
        }
        Ok(self.head)
    }
}

/// Verifies a whole chain from genesis and returns its head; the error names
/// the first bad entry.
pub fn verify_chain(entries: &[AuditEntry]) -> Result<AuditHead, AuditError> {
    let mut v = ChainVerifier::new();
    for e in entries {
        v.push(e)?;
    }
    v.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<AuditEntry> {
        let mut head = AuditHead::GENESIS;
        let mut out = Vec::new();
        for i in 1..=n {
            let body = canonical_json(&serde_json::json!({"i": i, "a": "x"})).unwrap();
            let e = AuditEntry::next(head, 1_700_000_000 + i, "notice", body).unwrap();
            head = e.head();
            out.push(e);
        }
        out
    }

    #[test]
    fn canonical_json_sorts_keys_and_has_no_spaces() {
        let v = serde_json::json!({"b": 1, "a": {"z": [true, null, "é\n"], "y": -3}});
        assert_eq!(
            canonical_json(&v).unwrap(),
            r#"{"a":{"y":-3,"z":[true,null,"é\n"]},"b":1}"#
        );
        assert!(canonical_json(&serde_json::json!({"f": 1.5})).is_err());
    }

    #[test]
    fn entry_hash_matches_the_documented_layout() {
        let prev = [7u8; 32];
        let mut pre = Vec::new();
        pre.extend_from_slice(b"sealbuild/audit/v1\0");
        pre.extend_from_slice(&5u64.to_be_bytes());
        pre.extend_from_slice(&9u64.to_be_bytes());
        pre.extend_from_slice(&[0, 6]);
        pre.extend_from_slice(b"notice");
        pre.extend_from_slice(&[0, 0, 0, 2]);
        pre.extend_from_slice(b"{}");
        pre.extend_from_slice(&prev);
        let want: [u8; 32] = Sha256::digest(&pre).into();
        assert_eq!(entry_hash(5, 9, "notice", "{}", &prev).unwrap(), want);
    }

    #[test]
    fn valid_chain_verifies_and_every_field_change_is_named() {
        let c = chain(10);
        let head = verify_chain(&c).unwrap();
        assert_eq!(head, c[9].head());
        assert_eq!(verify_chain(&[]).unwrap(), AuditHead::GENESIS);

        let mut t = c.clone();
        t[4].time += 1;
        assert!(matches!(
            verify_chain(&t),
            Err(AuditError::HashMismatch { seq: 5, .. })
        ));
        let mut t = c.clone();
        t[4].kind = "release".into();
        assert!(matches!(
            verify_chain(&t),
            Err(AuditError::HashMismatch { seq: 5, .. })
        ));
        let mut t = c.clone();
        t[4].prev_hash[0] ^= 1;
        assert!(matches!(
            verify_chain(&t),
            Err(AuditError::PrevLinkBroken { seq: 5, .. })
        ));
        let mut t = c.clone();
        t.remove(0);
        assert_eq!(
            verify_chain(&t),
            Err(AuditError::SeqGap {
                expected: 1,
                found: 2
            })
        );
        let mut t = c.clone();
        t.swap(3, 4);
        assert_eq!(
            verify_chain(&t),
            Err(AuditError::SeqGap {
                expected: 4,
                found: 5
            })
        );
        // A non-canonical body with a recomputed hash is still refused.
        let mut t = c[..1].to_vec();
        t[0] =
            AuditEntry::next(AuditHead::GENESIS, 1, "notice", "{\"b\":1, \"a\":2}".into()).unwrap();
        assert!(matches!(
            verify_chain(&t),
            Err(AuditError::NonCanonicalBody { seq: 1, .. })
        ));
    }

    #[test]
    fn checkpoints_detect_truncation_and_rewrites() {
        let c = chain(10);
        let cp = c[7].head();
        let mut v = ChainVerifier::new().with_checkpoint(cp);
        for e in &c[..6] {
            v.push(e).unwrap();
        }
        assert_eq!(
            v.finish(),
            Err(AuditError::Truncated {
                last_seq: 6,
                checkpoint_seq: 8
            })
        );
        let bad = AuditHead {
            seq: 8,
            hash: [1; 32],
        };
        let mut v = ChainVerifier::new().with_checkpoint(bad);
        let err = c.iter().try_for_each(|e| v.push(e)).unwrap_err();
        assert!(matches!(err, AuditError::CheckpointMismatch { seq: 8, .. }));
        let mut v = ChainVerifier::resume(c[4].head());
        for e in &c[5..] {
            v.push(e).unwrap();
        }
        assert_eq!(v.finish().unwrap(), c[9].head());
    }

    #[test]
    fn head_text_round_trips() {
        let h = AuditHead {
            seq: 42,
            hash: [0xab; 32],
        };
        assert_eq!(AuditHead::parse(&h.to_string()).unwrap(), h);
        assert!(AuditHead::parse("42").is_err());
        assert!(AuditHead::parse("x:00").is_err());
        assert!(AuditHead::parse("1:abcd").is_err());
    }

    #[test]
    fn kind_names_round_trip() {
        for k in AuditKind::ALL {
            assert_eq!(AuditKind::from_name(k.as_str()), Some(k));
            assert_eq!(
                serde_json::to_string(&k).unwrap(),
                format!("\"{}\"", k.as_str())
            );
        }
        assert_eq!(AuditKind::from_name("bogus"), None);
    }
}
