//! Attestation results as EAR (EAT Attestation Results,
//! draft-ietf-rats-ear-04, §3 "Information Model" and §4.2 "CBOR
//! serialisation") carried in a COSE_Sign1 (RFC 9052 §4.2) signed with ES256
//! (ECDSA P-256 / SHA-256, RFC 9053 §2.1).
//!
//! CBOR labels (draft-ietf-rats-ear-04 §4.2, RFC 8392, RFC 9711):
//!
//! | claim | label |
//! |---|---|
//! | iat | 6 |
//! | eat_nonce | 10 |
//! | eat_profile | 265 |
//! | submods | 266 |
//! | ear.status | 1000 |
//! | ear.trustworthiness-vector | 1001 |
//! | ear.appraisal-policy-id | 1003 |
//! | ear.verifier-id | 1004 (build = 0, developer = 1) |
//!
//! Status tiers (draft-ietf-rats-ar4si): none 0, affirming 2, warning 32,
//! contraindicated 96. Trustworthiness-vector claims: instance-identity 0,
//! configuration 1, executables 2, file-system 3, hardware 4,
//! runtime-opaque 5, storage-opaque 6, sourced-data 7.
//!
//! sealbuild adds text-labelled claims in each submodule:
//! `sealbuild.agent-id`, `sealbuild.binding` (the 32-byte binding digest),
//! `sealbuild.references` (matched reference sets), `sealbuild.evidence-digest`
//! and, for builds, `sealbuild.statement-digest`.

use ciborium::value::{Integer, Value};
use coset::{
    iana, CborSerializable, CoseSign1, CoseSign1Builder, HeaderBuilder, TaggedCborSerializable,
};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use sealbuild_common::crypto::{self, Curve};
use sealbuild_common::HashAlg;
use std::collections::BTreeMap;
use thiserror::Error;

/// The EAT profile of EAR.
pub const EAR_PROFILE: &str = "tag:github.com,2023:veraison/ear";

/// Why an EAR could not be made or checked.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EarError {
    /// CBOR/COSE encoding or decoding failed.
    #[error("EAR encoding: {0}")]
    Encoding(String),
    /// The COSE_Sign1 is not ES256 or lacks a payload.
    #[error("EAR structure: {0}")]
    Structure(String),
    /// The signature does not verify with the given key.
    #[error("EAR signature does not verify with the verifier's result key")]
    Signature,
    /// A claim is missing or has the wrong type.
    #[error("EAR claim {claim}: {reason}")]
    Claim { claim: &'static str, reason: String },
}

/// AR4SI trust tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// No claim.
    None,
    /// Evidence verified and matched policy.
    Affirming,
    /// Verified with reservations.
    Warning,
    /// Evidence contradicts policy or failed verification.
    Contraindicated,
}

impl Status {
    /// CBOR value.
    pub fn code(self) -> i64 {
        match self {
            Self::None => 0,
            Self::Affirming => 2,
            Self::Warning => 32,
            Self::Contraindicated => 96,
        }
    }

    /// From the CBOR value.
    pub fn from_code(c: i64) -> Option<Self> {
        match c {
            0 => Some(Self::None),
            2 => Some(Self::Affirming),
            32 => Some(Self::Warning),
            96 => Some(Self::Contraindicated),
            _ => None,
        }
    }

    /// Name in JSON renderings.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Affirming => "affirming",
            Self::Warning => "warning",
            Self::Contraindicated => "contraindicated",
        }
    }
}

/// One attester's appraisal (an EAR submodule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submodule {
    /// Overall tier.
    pub status: Status,
    /// Trustworthiness vector: claim index (0..=7) → AR4SI value.
    pub trust_vector: BTreeMap<u8, i8>,
    /// Policy id.
    pub policy_id: String,
    /// Agent identifier.
    pub agent_id: String,
    /// Binding digest the evidence carried.
    pub binding: Vec<u8>,
    /// SHA-256 of the evidence as received.
    pub evidence_digest: Vec<u8>,
    /// Matched reference sets.
    pub references: Vec<String>,
    /// Statement digest, for builds.
    pub statement_digest: Option<Vec<u8>>,
}

/// The whole attestation result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ear {
    /// Issued-at, Unix seconds.
    pub iat: u64,
    /// The verifier nonce the evidence answered.
    pub nonce: Vec<u8>,
    /// Verifier software build.
    pub verifier_build: String,
    /// Verifier developer.
    pub verifier_developer: String,
    /// Submodules by name (`tpm`, …).
    pub submods: BTreeMap<String, Submodule>,
}

fn int(i: i64) -> Value {
    Value::Integer(Integer::from(i))
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

impl Submodule {
    fn to_value(&self) -> Value {
        let tv = self
            .trust_vector
            .iter()
            .map(|(k, v)| (int(i64::from(*k)), int(i64::from(*v))))
            .collect();
        let mut m = vec![
            (int(1000), int(self.status.code())),
            (int(1001), Value::Map(tv)),
            (int(1003), text(&self.policy_id)),
            (text("sealbuild.agent-id"), text(&self.agent_id)),
            (
                text("sealbuild.binding"),
                Value::Bytes(self.binding.clone()),
            ),
            (
                text("sealbuild.evidence-digest"),
                Value::Bytes(self.evidence_digest.clone()),
            ),
            (
                text("sealbuild.references"),
                Value::Array(self.references.iter().map(|r| text(r)).collect()),
            ),
        ];
        if let Some(d) = &self.statement_digest {
            m.push((text("sealbuild.statement-digest"), Value::Bytes(d.clone())));
        }
        Value::Map(m)
    }

    fn from_value(v: &Value) -> Result<Self, EarError> {
        let m = as_map(v, "submodule")?;
        let status_code = get_int(m, &int(1000), "ear.status")?;
        let status = Status::from_code(status_code).ok_or(EarError::Claim {
            claim: "ear.status",
            reason: format!("unknown tier {status_code}"),
        })?;
        let mut trust_vector = BTreeMap::new();
        if let Some(tv) = lookup(m, &int(1001)) {
            for (k, v) in as_map(tv, "ear.trustworthiness-vector")? {
                let k = value_int(k, "ear.trustworthiness-vector")?;
                let v = value_int(v, "ear.trustworthiness-vector")?;
                let k = u8::try_from(k).map_err(|_| EarError::Claim {
                    claim: "ear.trustworthiness-vector",
                    reason: format!("claim index {k} out of range"),
                })?;
                let v = i8::try_from(v).map_err(|_| EarError::Claim {
                    claim: "ear.trustworthiness-vector",
                    reason: format!("value {v} out of range"),
                })?;
                trust_vector.insert(k, v);
            }
        }
        let references = match lookup(m, &text("sealbuild.references")) {
            Some(Value::Array(a)) => a
                .iter()
                .map(|x| match x {
                    Value::Text(s) => Ok(s.clone()),
                    _ => Err(EarError::Claim {
                        claim: "sealbuild.references",
                        reason: "not text".into(),
                    }),
                })
                .collect::<Result<_, _>>()?,
            _ => Vec::new(),
        };
        Ok(Self {
            status,
            trust_vector,
            policy_id: get_text(m, &int(1003), "ear.appraisal-policy-id")?,
            agent_id: get_text(m, &text("sealbuild.agent-id"), "sealbuild.agent-id")?,
            binding: get_bytes(m, &text("sealbuild.binding"), "sealbuild.binding")?,
            evidence_digest: get_bytes(
                m,
                &text("sealbuild.evidence-digest"),
                "sealbuild.evidence-digest",
            )?,
            references,
            statement_digest: match lookup(m, &text("sealbuild.statement-digest")) {
                Some(Value::Bytes(b)) => Some(b.clone()),
                Some(_) => {
                    return Err(EarError::Claim {
                        claim: "sealbuild.statement-digest",
                        reason: "not a byte string".into(),
                    })
                }
                None => None,
            },
        })
    }
}

fn lookup<'a>(m: &'a [(Value, Value)], key: &Value) -> Option<&'a Value> {
    m.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn as_map<'a>(v: &'a Value, claim: &'static str) -> Result<&'a [(Value, Value)], EarError> {
    match v {
        Value::Map(m) => Ok(m),
        _ => Err(EarError::Claim {
            claim,
            reason: "not a map".into(),
        }),
    }
}

fn value_int(v: &Value, claim: &'static str) -> Result<i64, EarError> {
    match v {
        Value::Integer(i) => i64::try_from(*i).map_err(|_| EarError::Claim {
            claim,
            reason: "integer out of range".into(),
        }),
        _ => Err(EarError::Claim {
            claim,
            reason: "not an integer".into(),
        }),
    }
}

fn get_int(m: &[(Value, Value)], key: &Value, claim: &'static str) -> Result<i64, EarError> {
    value_int(
        lookup(m, key).ok_or(EarError::Claim {
            claim,
            reason: "missing".into(),
        })?,
        claim,
    )
}

fn get_text(m: &[(Value, Value)], key: &Value, claim: &'static str) -> Result<String, EarError> {
    match lookup(m, key) {
        Some(Value::Text(s)) => Ok(s.clone()),
        Some(_) => Err(EarError::Claim {
            claim,
            reason: "not text".into(),
        }),
        None => Err(EarError::Claim {
            claim,
            reason: "missing".into(),
        }),
    }
}

fn get_bytes(m: &[(Value, Value)], key: &Value, claim: &'static str) -> Result<Vec<u8>, EarError> {
    match lookup(m, key) {
        Some(Value::Bytes(b)) => Ok(b.clone()),
        Some(_) => Err(EarError::Claim {
            claim,
            reason: "not a byte string".into(),
        }),
        None => Err(EarError::Claim {
            claim,
            reason: "missing".into(),
        }),
    }
}

impl Ear {
    /// The claims set as CBOR.
    pub fn to_cbor(&self) -> Result<Vec<u8>, EarError> {
        let iat = i64::try_from(self.iat).map_err(|_| EarError::Claim {
            claim: "iat",
            reason: "out of range".into(),
        })?;
        let claims = Value::Map(vec![
            (int(265), text(EAR_PROFILE)),
            (int(6), int(iat)),
            (int(10), Value::Bytes(self.nonce.clone())),
            (
                int(1004),
                Value::Map(vec![
                    (int(0), text(&self.verifier_build)),
                    (int(1), text(&self.verifier_developer)),
                ]),
            ),
            (
                int(266),
                Value::Map(
                    self.submods
                        .iter()
                        .map(|(k, v)| (text(k), v.to_value()))
                        .collect(),
                ),
            ),
        ]);
        let mut out = Vec::new();
        ciborium::into_writer(&claims, &mut out).map_err(|e| EarError::Encoding(e.to_string()))?;
        Ok(out)
    }

    /// Parses the claims set.
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, EarError> {
        let v: Value =
            ciborium::from_reader(bytes).map_err(|e| EarError::Encoding(e.to_string()))?;
        let m = as_map(&v, "claims-set")?;
        let profile = get_text(m, &int(265), "eat_profile")?;
        if profile != EAR_PROFILE {
            return Err(EarError::Claim {
                claim: "eat_profile",
                reason: format!("expected {EAR_PROFILE}, got {profile}"),
            });
        }
        let iat = u64::try_from(get_int(m, &int(6), "iat")?).map_err(|_| EarError::Claim {
            claim: "iat",
            reason: "negative".into(),
        })?;
        let vid = as_map(
            lookup(m, &int(1004)).ok_or(EarError::Claim {
                claim: "ear.verifier-id",
                reason: "missing".into(),
            })?,
            "ear.verifier-id",
        )?;
        let mut submods = BTreeMap::new();
        if let Some(s) = lookup(m, &int(266)) {
            for (k, v) in as_map(s, "submods")? {
                let name = match k {
                    Value::Text(t) => t.clone(),
                    _ => {
                        return Err(EarError::Claim {
                            claim: "submods",
                            reason: "submodule name is not text".into(),
                        })
                    }
                };
                submods.insert(name, Submodule::from_value(v)?);
            }
        }
        Ok(Self {
            iat,
            nonce: get_bytes(m, &int(10), "eat_nonce")?,
            verifier_build: get_text(vid, &int(0), "ear.verifier-id.build")?,
            verifier_developer: get_text(vid, &int(1), "ear.verifier-id.developer")?,
            submods,
        })
    }

    /// Signs as a tagged COSE_Sign1 with ES256; `key_id` goes in the protected header.
    pub fn sign(&self, key: &SigningKey, key_id: &[u8]) -> Result<Vec<u8>, EarError> {
        let payload = self.to_cbor()?;
        let protected = HeaderBuilder::new()
            .algorithm(iana::Algorithm::ES256)
            .content_type("application/eat+cwt".to_string())
            .key_id(key_id.to_vec())
            .build();
        let sign1 = CoseSign1Builder::new()
            .protected(protected)
            .payload(payload)
            .create_signature(b"", |tbs| {
                let sig: Signature = key.sign(tbs);
                sig.to_bytes().to_vec()
            })
            .build();
        sign1
            .to_tagged_vec()
            .map_err(|e| EarError::Encoding(e.to_string()))
    }

    /// Verifies a COSE_Sign1 (tagged or untagged) with `key` and returns its claims.
    pub fn verify(bytes: &[u8], key: &VerifyingKey) -> Result<Self, EarError> {
        let sign1 = CoseSign1::from_tagged_slice(bytes)
            .or_else(|_| CoseSign1::from_slice(bytes))
            .map_err(|e| EarError::Encoding(e.to_string()))?;
        let alg = sign1.protected.header.alg.clone();
        if alg
            != Some(coset::RegisteredLabelWithPrivate::Assigned(
                iana::Algorithm::ES256,
            ))
        {
            return Err(EarError::Structure(format!(
                "algorithm must be ES256, got {alg:?}"
            )));
        }
        // RFC 9053 §2.1: ES256 signatures are r || s, 32 bytes each.
        let point = key.to_encoded_point(false);
        let provider_key =
            crypto::VerifyingKey::ecdsa(Curve::P256, point.as_bytes(), HashAlg::Sha256)
                .map_err(|_| EarError::Signature)?;
        sign1.verify_signature(b"", |sig, tbs| {
            if sig.len() != 64 {
                return Err(EarError::Signature);
            }
            let (r, s) = sig.split_at(32);
            provider_key
                .verify_ecdsa_rs(tbs, r, s)
                .map_err(|_| EarError::Signature)
        })?;
        let payload = sign1
            .payload
            .as_deref()
            .ok_or_else(|| EarError::Structure("no payload".into()))?;
        Self::from_cbor(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Ear {
        let mut tv = BTreeMap::new();
        tv.insert(0u8, 2i8);
        tv.insert(4u8, 2i8);
        let mut submods = BTreeMap::new();
        submods.insert(
            "tpm".to_string(),
            Submodule {
                status: Status::Affirming,
                trust_vector: tv,
                policy_id: "sha256:00".into(),
                agent_id: "000b11".into(),
                binding: vec![1; 32],
                evidence_digest: vec![2; 32],
                references: vec!["ref".into()],
                statement_digest: Some(vec![3; 32]),
            },
        );
        Ear {
            iat: 1_795_000_000,
            nonce: vec![9; 32],
            verifier_build: "sealbuild-verifier 0.1.0".into(),
            verifier_developer: "sealbuild".into(),
            submods,
        }
    }

    #[test]
    fn sign_verify_round_trip() {
        let key = SigningKey::from_slice(&[7u8; 32]).unwrap();
        let bytes = sample().sign(&key, b"kid").unwrap();
        let back = Ear::verify(&bytes, key.verifying_key()).unwrap();
        assert_eq!(back, sample());
    }

    #[test]
    fn tampered_or_wrong_key_fails() {
        let key = SigningKey::from_slice(&[7u8; 32]).unwrap();
        let other = SigningKey::from_slice(&[8u8; 32]).unwrap();
        let bytes = sample().sign(&key, b"kid").unwrap();
        assert_eq!(
            Ear::verify(&bytes, other.verifying_key()),
            Err(EarError::Signature)
        );
        let mut failures = 0;
        for i in (0..bytes.len()).step_by(7) {
            let mut b = bytes.clone();
            b[i] ^= 0x01;
            if Ear::verify(&b, key.verifying_key()).is_err() {
                failures += 1;
            }
        }
        // Every flipped byte must be caught.
        assert_eq!(failures, bytes.len().div_ceil(7));
    }
}
