//! The runtime measurement log of a sealed build, in the JSON encoding of the
//! TCG Canonical Event Log (CEL).
//!
//! Specification: TCG "Canonical Event Log Format", Version 1.0, Revision
//! 0.41: the information model (a record is `recnum`, a handle — PCR or NV
//! index —, `digests`, `content_type` and `content`) and its JSON encoding
//! (CEL-JSON), whose member names this module uses:
//!
//! ```text
//! [ {"recnum": 0, "pcr": 23,
//!    "digests": [{"hashAlg": "sha256", "digest": "<lower-case hex>"}],
//!    "content_type": "sealbuild",
//!    "content": {"kind": "source", "data": "<source identity>"}},
//!   … ]
//! ```
//!
//! The log is a JSON array of records, written compactly ([`CelLog::to_json`]).
//! `hashAlg` uses the TPM algorithm names (`sha1`, `sha256`, `sha384`,
//! `sha512`; [`HashAlg::name`]).
//!
//! # Content type
//! CEL defines the content types `cel` (CEL management), `pcclient_std`,
//! `ima_template` and `ima_tlv`, and keeps the record layer independent of
//! them: a consumer that does not know a content type can still replay the
//! record's digests. It reserves no name for applications in the material we
//! could check, and other producers extend it the same way (systemd writes
//! `"content_type": "systemd"` records; go-tpm-tools' Confidential Space uses
//! an own numeric type for the TLV encoding). sealbuild's records therefore
//! carry `"content_type": "sealbuild"` ([`CONTENT_TYPE`]), a name no TCG
//! content type uses; the content layer is defined here.
//!
//! # Events and their digest
//! `content` is `{"kind": K, "data": D}` with three kinds:
//!
//! | kind | data |
//! |---|---|
//! | `source` | the source identity string (non-empty) |
//! | `command` | the argv as a compact JSON array of strings (non-empty), exactly as [`RuntimeEvent::command`] writes it |
//! | `statement` | the statement digest ([`crate::intoto::statement_digest`]), 64 lower-case hex digits; only as the last record |
//!
//! The digest of an event in bank H is
//! `H("sealbuild-cel-v1\0" || K || "\0" || D)` over the UTF-8 bytes of K
//! and D. K never contains NUL, so the encoding is injective. The PCR is
//! extended with that digest (`PCR := H(PCR || digest)`, starting from zero).
//!
//! # The handle on TDX
//! In TDX evidence (`TdxEvidence::runtime_log`) the handle `"pcr": 3` names
//! RTMR3, the records carry SHA-384 digests (the RTMRs' algorithm) and the
//! register is extended the same way (`RTMR3 := SHA-384(RTMR3 || digest)`,
//! from zero). In TPM evidence the handle is a PCR (PCR 23 by default).
//!
//! # Parsing rules
//! At most [`MAX_CEL_JSON_LEN`] bytes and [`MAX_RECORDS`] records; no unknown
//! members or duplicate names; `recnum` counts from 0 without gaps; PCR 0–23;
//! at least one digest per record, one per algorithm, each equal to the
//! digest recomputed from the content (a mismatch names the record); event
//! data at most [`MAX_EVENT_DATA_LEN`] bytes; a `statement` event only as the
//! last record.

use crate::error::FormatError;
use crate::hash::HashAlg;
use crate::intoto::strict_json;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `content_type` of sealbuild's records.
pub const CONTENT_TYPE: &str = "sealbuild";

/// Domain separation prefix of an event's digest input, NUL included.
pub const DIGEST_DOMAIN: &[u8; 17] = b"sealbuild-cel-v1\0";

/// Largest CEL-JSON document accepted, in bytes.
pub const MAX_CEL_JSON_LEN: usize = 1024 * 1024;

/// Most records a log may have.
pub const MAX_RECORDS: usize = 1024;

/// Largest event `data`, in bytes.
pub const MAX_EVENT_DATA_LEN: usize = 64 * 1024;

/// Highest PCR index (a PC Client TPM has PCRs 0–23).
pub const MAX_PCR: u32 = 23;

/// What a runtime event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeEventKind {
    /// The identity of the source being built.
    Source,
    /// The build command's argv.
    Command,
    /// The digest of the statement describing the build's outputs.
    Statement,
}

impl RuntimeEventKind {
    /// The name used in `content.kind` and in the digest input.
    pub fn name(self) -> &'static str {
        match self {
            Self::Source => "source",
            Self::Command => "command",
            Self::Statement => "statement",
        }
    }
}

/// One runtime event: the `content` of a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeEvent {
    /// The kind.
    pub kind: RuntimeEventKind,
    /// The data, as the module docs define per kind.
    pub data: String,
}

impl RuntimeEvent {
    /// A `source` event.
    pub fn source(identity: &str) -> Self {
        Self {
            kind: RuntimeEventKind::Source,
            data: identity.to_string(),
        }
    }

    /// A `command` event: `argv` as a compact JSON array of strings.
    pub fn command(argv: &[String]) -> Self {
        Self {
            kind: RuntimeEventKind::Command,
            // A list of strings always serializes.
            data: serde_json::to_string(argv).unwrap_or_default(),
        }
    }

    /// A `statement` event carrying the statement digest.
    pub fn statement(digest: &[u8; 32]) -> Self {
        Self {
            kind: RuntimeEventKind::Statement,
            data: hex::encode(digest),
        }
    }

    /// The digest input: `"sealbuild-cel-v1\0" || kind || "\0" || data`.
    pub fn encoding(&self) -> Vec<u8> {
        let kind = self.kind.name().as_bytes();
        let mut v = Vec::with_capacity(DIGEST_DOMAIN.len() + kind.len() + 1 + self.data.len());
        v.extend_from_slice(DIGEST_DOMAIN);
        v.extend_from_slice(kind);
        v.push(0);
        v.extend_from_slice(self.data.as_bytes());
        v
    }

    /// The event's digest in bank `alg`: what the PCR is extended with.
    pub fn digest(&self, alg: HashAlg) -> Vec<u8> {
        alg.digest(&self.encoding())
    }

    /// The argv of a `command` event.
    pub fn command_argv(&self) -> Option<Vec<String>> {
        match self.kind {
            RuntimeEventKind::Command => serde_json::from_str(&self.data).ok(),
            _ => None,
        }
    }

    /// The digest of a `statement` event.
    pub fn statement_digest(&self) -> Option<[u8; 32]> {
        match self.kind {
            RuntimeEventKind::Statement if is_lower_hex(&self.data) => {
                hex::decode(&self.data).ok()?.try_into().ok()
            }
            _ => None,
        }
    }

    /// Checks the data rules of the module docs.
    pub fn check(&self) -> Result<(), FormatError> {
        if self.data.len() > MAX_EVENT_DATA_LEN {
            return Err(FormatError::TooLarge {
                field: "CEL content.data",
                size: self.data.len(),
                max: MAX_EVENT_DATA_LEN,
            });
        }
        match self.kind {
            RuntimeEventKind::Source => {
                if self.data.is_empty() {
                    return Err(FormatError::unexpected(
                        "CEL source event",
                        "a source identity",
                        "an empty string",
                    ));
                }
            }
            RuntimeEventKind::Command => {
                let argv = self.command_argv().ok_or_else(|| {
                    FormatError::unexpected(
                        "CEL command event",
                        "a JSON array of strings",
                        format!("{:?}", self.data),
                    )
                })?;
                if argv.is_empty() {
                    return Err(FormatError::unexpected(
                        "CEL command event",
                        "a non-empty argv",
                        "[]",
                    ));
                }
                let canonical = Self::command(&argv).data;
                if canonical != self.data {
                    return Err(FormatError::unexpected(
                        "CEL command event",
                        format!("the compact encoding {canonical:?}"),
                        format!("{:?}", self.data),
                    ));
                }
            }
            RuntimeEventKind::Statement => {
                if self.statement_digest().is_none() {
                    return Err(FormatError::unexpected(
                        "CEL statement event",
                        "64 lower-case hex digits (SHA-256 of the statement)",
                        format!("{:?}", self.data),
                    ));
                }
            }
        }
        Ok(())
    }
}

fn is_lower_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// One CEL record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CelRecord {
    /// Position in the log, from 0.
    pub recnum: u64,
    /// The PCR the event was extended into.
    pub pcr: u32,
    /// The event's digest per bank it was extended into.
    pub digests: BTreeMap<HashAlg, Vec<u8>>,
    /// The event.
    pub event: RuntimeEvent,
}

impl CelRecord {
    /// The digests as `(bank, digest)` pairs, the shape a PCR extend takes.
    pub fn digest_list(&self) -> Vec<(HashAlg, &[u8])> {
        self.digests
            .iter()
            .map(|(a, d)| (*a, d.as_slice()))
            .collect()
    }
}

/// A runtime measurement log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CelLog {
    /// The records, `recnum` order.
    pub records: Vec<CelRecord>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireDigest {
    #[serde(rename = "hashAlg")]
    hash_alg: String,
    digest: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireRecord {
    recnum: u64,
    pcr: u32,
    digests: Vec<WireDigest>,
    content_type: String,
    content: RuntimeEvent,
}

impl CelLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `event` for `pcr`, with its digest in each of `banks`, and
    /// returns the record (whose [`CelRecord::digest_list`] is what to extend
    /// the PCR with). Refuses what [`CelLog::parse`] would refuse.
    pub fn push(
        &mut self,
        pcr: u32,
        event: &RuntimeEvent,
        banks: &[HashAlg],
    ) -> Result<&CelRecord, FormatError> {
        event.check()?;
        if pcr > MAX_PCR {
            return Err(FormatError::unexpected(
                "CEL pcr",
                format!("0..={MAX_PCR}"),
                pcr,
            ));
        }
        if banks.is_empty() {
            return Err(FormatError::unexpected(
                "CEL digests",
                "at least one PCR bank",
                "none",
            ));
        }
        if self.records.len() >= MAX_RECORDS {
            return Err(FormatError::TooLarge {
                field: "CEL records",
                size: self.records.len() + 1,
                max: MAX_RECORDS,
            });
        }
        if let Some(last) = self.records.last() {
            if last.event.kind == RuntimeEventKind::Statement {
                return Err(FormatError::unexpected(
                    "CEL record order",
                    "no record after the statement event",
                    format!("a {} event after it", event.kind.name()),
                ));
            }
        }
        let digests = banks.iter().map(|a| (*a, event.digest(*a))).collect();
        let recnum = self.records.len() as u64;
        self.records.push(CelRecord {
            recnum,
            pcr,
            digests,
            event: event.clone(),
        });
        self.records.last().ok_or(FormatError::Unexpected {
            field: "CEL records",
            expected: "the record just appended".to_string(),
            got: "an empty log".to_string(),
        })
    }

    /// The log as compact CEL-JSON.
    pub fn to_json(&self) -> Vec<u8> {
        let wire: Vec<WireRecord> = self
            .records
            .iter()
            .map(|r| WireRecord {
                recnum: r.recnum,
                pcr: r.pcr,
                digests: r
                    .digests
                    .iter()
                    .map(|(a, d)| WireDigest {
                        hash_alg: a.name().to_string(),
                        digest: hex::encode(d),
                    })
                    .collect(),
                content_type: CONTENT_TYPE.to_string(),
                content: r.event.clone(),
            })
            .collect();
        // Only strings, integers and lists: serialization cannot fail.
        serde_json::to_vec(&wire).unwrap_or_default()
    }

    /// Parses and checks a log (see the module docs for the rules).
    pub fn parse(bytes: &[u8]) -> Result<CelLog, FormatError> {
        let wire: Vec<WireRecord> = strict_json::parse(bytes, "CEL-JSON log", MAX_CEL_JSON_LEN)?;
        if wire.len() > MAX_RECORDS {
            return Err(FormatError::TooLarge {
                field: "CEL records",
                size: wire.len(),
                max: MAX_RECORDS,
            });
        }
        let count = wire.len();
        let mut records = Vec::with_capacity(count);
        for (i, w) in wire.into_iter().enumerate() {
            let at = |detail: String| format!("{detail} (recnum {i})");
            if w.recnum != i as u64 {
                return Err(FormatError::unexpected(
                    "CEL recnum",
                    format!("{i} (records numbered from 0 without gaps)"),
                    w.recnum,
                ));
            }
            if w.pcr > MAX_PCR {
                return Err(FormatError::unexpected(
                    "CEL pcr",
                    format!("0..={MAX_PCR}"),
                    at(w.pcr.to_string()),
                ));
            }
            if w.content_type != CONTENT_TYPE {
                return Err(FormatError::unexpected(
                    "CEL content_type",
                    CONTENT_TYPE,
                    at(format!("{:?}", w.content_type)),
                ));
            }
            let event = w.content;
            event.check().map_err(|e| match e {
                FormatError::Unexpected {
                    field,
                    expected,
                    got,
                } => FormatError::Unexpected {
                    field,
                    expected,
                    got: at(got),
                },
                other => other,
            })?;
            if event.kind == RuntimeEventKind::Statement && i + 1 != count {
                return Err(FormatError::unexpected(
                    "CEL record order",
                    "the statement event as the last record",
                    at(format!("it is followed by {} more", count - i - 1)),
                ));
            }
            if w.digests.is_empty() {
                return Err(FormatError::unexpected(
                    "CEL digests",
                    "at least one digest",
                    at("none".to_string()),
                ));
            }
            let mut digests = BTreeMap::new();
            for d in &w.digests {
                let alg = HashAlg::from_name(&d.hash_alg).ok_or_else(|| {
                    FormatError::unexpected(
                        "CEL digests hashAlg",
                        "sha1, sha256, sha384 or sha512",
                        at(format!("{:?}", d.hash_alg)),
                    )
                })?;
                if !is_lower_hex(&d.digest) || d.digest.len() != alg.size() * 2 {
                    return Err(FormatError::unexpected(
                        "CEL digests digest",
                        format!("{} lower-case hex digits for {alg}", alg.size() * 2),
                        at(format!("{:?}", d.digest)),
                    ));
                }
                let expected = hex::encode(event.digest(alg));
                if d.digest != expected {
                    return Err(FormatError::unexpected(
                        "CEL digests digest",
                        format!("{alg} {expected} (recomputed from the content)"),
                        at(format!("{} for a {} event", d.digest, event.kind.name())),
                    ));
                }
                if digests.insert(alg, event.digest(alg)).is_some() {
                    return Err(FormatError::unexpected(
                        "CEL digests",
                        "one digest per algorithm",
                        at(format!("{alg} twice")),
                    ));
                }
            }
            records.push(CelRecord {
                recnum: w.recnum,
                pcr: w.pcr,
                digests,
                event,
            });
        }
        Ok(CelLog { records })
    }

    /// Replays bank `bank`: every PCR named by a record that has a `bank`
    /// digest starts at zero and is extended with each such digest in order.
    /// Records without a digest for `bank` were not extended into it and are
    /// skipped.
    pub fn replay(&self, bank: HashAlg) -> BTreeMap<u32, Vec<u8>> {
        let mut pcrs: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
        for r in &self.records {
            if let Some(d) = r.digests.get(&bank) {
                let old = pcrs
                    .remove(&r.pcr)
                    .unwrap_or_else(|| vec![0u8; bank.size()]);
                pcrs.insert(r.pcr, bank.extend(&old, d));
            }
        }
        pcrs
    }

    /// The statement digest of the final `statement` event, when the log
    /// ends with one.
    pub fn statement_digest(&self) -> Option<[u8; 32]> {
        self.records.last()?.event.statement_digest()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_is_as_documented() {
        let e = RuntimeEvent::source("git+https://example.invalid/r@abc");
        let mut want = b"sealbuild-cel-v1\0source\0".to_vec();
        want.extend_from_slice(b"git+https://example.invalid/r@abc");
        assert_eq!(e.encoding(), want);
    }

    #[test]
    fn command_data_is_compact_json() {
        let e = RuntimeEvent::command(&["make".into(), "a b".into(), "\"q\"".into()]);
        assert_eq!(e.data, r#"["make","a b","\"q\""]"#);
        assert!(e.check().is_ok());
        let spaced = RuntimeEvent {
            kind: RuntimeEventKind::Command,
            data: r#"["make", "x"]"#.into(),
        };
        assert!(spaced.check().is_err());
    }
}
