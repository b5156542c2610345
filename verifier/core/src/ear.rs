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
//!
//! The claim types and their CBOR decoding live in [`sealbuild_common::ear`]
//! (the agent reads its EAR with them too) and are re-exported here; this
//! module encodes the claims set, signs it and verifies signatures.

use ciborium::value::{Integer, Value};
use coset::{
    iana, CborSerializable, CoseSign1, CoseSign1Builder, HeaderBuilder, TaggedCborSerializable,
};
use p256::ecdsa::VerifyingKey;
use sealbuild_common::crypto::{self, Curve, P256Signer};
use sealbuild_common::ear as claims;
use sealbuild_common::{FormatError, HashAlg};
use std::collections::BTreeMap;
use thiserror::Error;

pub use sealbuild_common::ear::{Status, Submodule, EAR_PROFILE};

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

impl From<FormatError> for EarError {
    /// Decoding errors of [`sealbuild_common::ear`]: a claim of the wrong
    /// kind names the claim; anything else is an encoding error.
    fn from(e: FormatError) -> Self {
        match e {
            FormatError::Unexpected {
                field,
                expected,
                got,
            } => Self::Claim {
                claim: field,
                reason: format!("expected {expected}, got {got}"),
            },
            other => Self::Encoding(other.to_string()),
        }
    }
}

/// The whole attestation result. The same claims as
/// [`sealbuild_common::ear::Ear`] (which decodes them, for the agent too);
/// this type adds the verifier's side: encoding, ES256 signing and
/// signature verification.
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

impl From<claims::Ear> for Ear {
    fn from(e: claims::Ear) -> Self {
        Self {
            iat: e.iat,
            nonce: e.nonce,
            verifier_build: e.verifier_build,
            verifier_developer: e.verifier_developer,
            submods: e.submods,
        }
    }
}

impl From<Ear> for claims::Ear {
    fn from(e: Ear) -> Self {
        Self {
            iat: e.iat,
            nonce: e.nonce,
            verifier_build: e.verifier_build,
            verifier_developer: e.verifier_developer,
            submods: e.submods,
        }
    }
}

fn int(i: i64) -> Value {
    Value::Integer(Integer::from(i))
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn submodule_value(s: &Submodule) -> Value {
    let tv = s
        .trust_vector
        .iter()
        .map(|(k, v)| (int(i64::from(*k)), int(i64::from(*v))))
        .collect();
    let mut m = vec![
        (int(1000), int(s.status.code())),
        (int(1001), Value::Map(tv)),
        (int(1003), text(&s.policy_id)),
        (text("sealbuild.agent-id"), text(&s.agent_id)),
        (text("sealbuild.binding"), Value::Bytes(s.binding.clone())),
        (
            text("sealbuild.evidence-digest"),
            Value::Bytes(s.evidence_digest.clone()),
        ),
        (
            text("sealbuild.references"),
            Value::Array(s.references.iter().map(|r| text(r)).collect()),
        ),
    ];
    if let Some(d) = &s.statement_digest {
        m.push((text("sealbuild.statement-digest"), Value::Bytes(d.clone())));
    }
    Value::Map(m)
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
                        .map(|(k, v)| (text(k), submodule_value(v)))
                        .collect(),
                ),
            ),
        ]);
        let mut out = Vec::new();
        ciborium::into_writer(&claims, &mut out).map_err(|e| EarError::Encoding(e.to_string()))?;
        Ok(out)
    }

    /// Parses the claims set ([`sealbuild_common::ear::Ear::from_cbor`]).
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, EarError> {
        Ok(claims::Ear::from_cbor(bytes)?.into())
    }

    /// Signs as a tagged COSE_Sign1 with ES256; `key_id` goes in the protected header.
    pub fn sign(&self, key: &P256Signer, key_id: &[u8]) -> Result<Vec<u8>, EarError> {
        let payload = self.to_cbor()?;
        let protected = HeaderBuilder::new()
            .algorithm(iana::Algorithm::ES256)
            .content_type("application/eat+cwt".to_string())
            .key_id(key_id.to_vec())
            .build();
        let sign1 = CoseSign1Builder::new()
            .protected(protected)
            .payload(payload)
            .try_create_signature(b"", |tbs| key.sign(tbs))
            .map_err(|e| EarError::Encoding(format!("signing: {e}")))?
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
        let key = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        let bytes = sample()
            .sign(&P256Signer::from_p256(&key).unwrap(), b"kid")
            .unwrap();
        let back = Ear::verify(&bytes, key.verifying_key()).unwrap();
        assert_eq!(back, sample());
    }

    /// The agent decodes what the verifier signs with the common decoder,
    /// without the key.
    #[test]
    fn the_common_decoder_reads_what_the_verifier_signs() {
        let key = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        let bytes = sample()
            .sign(&P256Signer::from_p256(&key).unwrap(), b"kid")
            .unwrap();
        let claims = claims::Ear::from_cose_unverified(&bytes).unwrap();
        assert_eq!(claims.references(), vec!["ref".to_string()]);
        assert_eq!(Ear::from(claims.clone()), sample());
        assert_eq!(claims::Ear::from(sample()), claims);
    }

    #[test]
    fn decoding_errors_keep_their_kind() {
        assert_eq!(
            Ear::from_cbor(&[0xa0]),
            Err(EarError::Claim {
                claim: "eat_profile",
                reason: "expected the claim, got nothing".into()
            })
        );
        assert!(matches!(
            Ear::from_cbor(&[0xff]),
            Err(EarError::Encoding(_))
        ));
        assert!(matches!(Ear::from_cbor(&[]), Err(EarError::Encoding(_))));
    }

    #[test]
    fn tampered_or_wrong_key_fails() {
        let key = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        let other = p256::ecdsa::SigningKey::from_slice(&[8u8; 32]).unwrap();
        let bytes = sample()
            .sign(&P256Signer::from_p256(&key).unwrap(), b"kid")
            .unwrap();
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
