//! DSSE: the Dead Simple Signing Envelope that carries the signed build
//! statement.
//!
//! Specification: DSSE v1.0 (secure-systems-lab/dsse), `protocol.md`
//! (signature over the Pre-Authentication Encoding, PAE) and `envelope.md`
//! (the JSON envelope).
//!
//! ```text
//! PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body
//!   LEN = length in bytes, ASCII decimal without leading zeros; SP = 0x20
//! envelope = {"payload": Base64(body), "payloadType": type,
//!             "signatures": [{"keyid": KEYID, "sig": Base64(SIGNATURE)}]}
//! ```
//!
//! # Decisions
//! * **Signature encodings** follow securesystemslib's schemes (checked by the
//!   peer tests against securesystemslib itself): `ed25519`: the 64-byte
//!   RFC 8032 signature over the PAE; `ecdsa-sha2-nistp256` /
//!   `ecdsa-sha2-nistp384`: ECDSA over SHA-256 / SHA-384 of the PAE, the
//!   signature DER-encoded (`Ecdsa-Sig-Value`, RFC 3279 §2.2.3). ECDSA signing
//!   is deterministic (RFC 6979). Verification also accepts the fixed-size
//!   `r || s` form (IEEE P1363) that the DSSE specification's own test vector
//!   uses (exactly 64 or 96 bytes); a string that reads both ways is tried both
//!   ways.
//! * **keyid** = lower-case hex SHA-256 of the key's SubjectPublicKeyInfo DER
//!   (RFC 5280 §4.1.2.7; EC points uncompressed), the same value as
//!   `openssl pkey -pubin -outform DER | sha256sum`. DSSE leaves the keyid's
//!   meaning to the application and does not authenticate it; it only selects
//!   which signatures to try. A signature with an empty keyid is tried too.
//! * **Base64**: written as standard padded base64 (RFC 4648 §4); read as
//!   standard or URL-safe (§5), padded or not, as DSSE allows.
//! * **Strict envelope**: unknown members and duplicate names are refused,
//!   the envelope is at most [`MAX_ENVELOPE_LEN`] bytes with at most
//!   [`MAX_SIGNATURES`] signatures. A verifier is bound to one payload type
//!   (in-toto by default) and reports a different one before any signature
//!   work.
//! * **Private keys** are held in the `ed25519-dalek` / `ecdsa` signing-key
//!   types, which zeroize their secret scalar on drop.

use crate::error::FormatError;
use crate::intoto::strict_json;
use crate::HashAlg;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine as _};
use pkcs8::DecodePrivateKey as _;
use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

/// The payload type of an in-toto Statement (in-toto Attestation Framework
/// v1.0, `spec/v1/envelope.md`).
pub const PAYLOAD_TYPE_INTOTO: &str = "application/vnd.in-toto+json";

/// Largest envelope JSON accepted, in bytes.
pub const MAX_ENVELOPE_LEN: usize = 8 * 1024 * 1024;

/// Most signatures an envelope may carry.
pub const MAX_SIGNATURES: usize = 16;

/// The Pre-Authentication Encoding of DSSE v1: what is actually signed.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload_type.len() + payload.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

/// Why signing or verifying with DSSE failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DsseError {
    /// The envelope JSON is malformed.
    #[error("DSSE envelope: {0}")]
    Format(#[from] FormatError),
    /// The key material is not a usable Ed25519, P-256 or P-384 key.
    #[error("DSSE key: {0}")]
    Key(String),
    /// The envelope carries another kind of payload.
    #[error("DSSE payloadType: expected {expected:?}, got {got:?}")]
    WrongPayloadType {
        /// What the verifier accepts.
        expected: String,
        /// What the envelope says.
        got: String,
    },
    /// The envelope has no signatures at all.
    #[error("DSSE envelope has no signatures")]
    NoSignatures,
    /// No signature names the verifier's key (and none has an empty keyid).
    #[error(
        "no signature by key sha256:{keyid}; the envelope's signatures name {}",
        present.iter().map(|k| format!("sha256:{k}")).collect::<Vec<_>>().join(", ")
    )]
    NoSignatureByKey {
        /// The verifier's keyid.
        keyid: String,
        /// The keyids the envelope's signatures carry.
        present: Vec<String>,
    },
    /// Signatures for the key were present, and none verified.
    #[error("signature by key sha256:{keyid} does not verify over the payload ({tried} tried: {reason})")]
    SignatureDoesNotVerify {
        /// The verifier's keyid.
        keyid: String,
        /// How many signatures were tried.
        tried: usize,
        /// Why the last one failed.
        reason: String,
    },
}

/// A DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// The serialized body (for in-toto: the Statement payload bytes).
    #[serde(with = "b64_any")]
    pub payload: Vec<u8>,
    /// How to interpret `payload`.
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// Signatures over `pae(payload_type, payload)`.
    pub signatures: Vec<EnvelopeSignature>,
}

/// One signature of an [`Envelope`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeSignature {
    /// Unauthenticated hint naming the key (sealbuild: hex SHA-256 of the SPKI
    /// DER); may be empty. Always written, since some readers require it.
    #[serde(default)]
    pub keyid: String,
    /// The signature bytes.
    #[serde(with = "b64_any")]
    pub sig: Vec<u8>,
}

impl Envelope {
    /// The envelope as one line of compact JSON (no newline anywhere).
    pub fn to_json_line(&self) -> String {
        // Cannot fail: only strings, byte strings (as base64) and lists.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses envelope JSON (see the module docs for the rules).
    pub fn from_json(bytes: &[u8]) -> Result<Envelope, FormatError> {
        let env: Envelope = strict_json::parse(bytes, "DSSE envelope", MAX_ENVELOPE_LEN)?;
        if env.signatures.len() > MAX_SIGNATURES {
            return Err(FormatError::TooLarge {
                field: "DSSE envelope signatures",
                size: env.signatures.len(),
                max: MAX_SIGNATURES,
            });
        }
        Ok(env)
    }

    /// The bytes the signatures cover.
    pub fn pae(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }
}

/// Base64 for envelope fields: standard on output, either alphabet and
/// optional padding on input.
mod b64_any {
    use super::*;
    use serde::{Deserializer, Serializer};

    const LENIENT_STANDARD: GeneralPurpose = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    const LENIENT_URL_SAFE: GeneralPurpose = GeneralPurpose::new(
        &alphabet::URL_SAFE,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        decode(&s).map_err(serde::de::Error::custom)
    }

    pub(super) fn decode(s: &str) -> Result<Vec<u8>, String> {
        LENIENT_STANDARD
            .decode(s)
            .or_else(|_| LENIENT_URL_SAFE.decode(s))
            .map_err(|e| format!("not base64 (standard or URL-safe): {e}"))
    }
}

// SubjectPublicKeyInfo DER prefixes (RFC 5280 §4.1.2.7): the AlgorithmIdentifier
// (RFC 8410 §3 for Ed25519; RFC 5480 §2.1.1 id-ecPublicKey with the named
// curve) and the BIT STRING header; the raw public key follows.
const SPKI_ED25519: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
const SPKI_P256: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
const SPKI_P384: [u8; 23] = [
    0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b,
    0x81, 0x04, 0x00, 0x22, 0x03, 0x62, 0x00,
];

fn spki(prefix: &[u8], key: &[u8]) -> Vec<u8> {
    let mut v = prefix.to_vec();
    v.extend_from_slice(key);
    v
}

fn keyid_of(spki_der: &[u8]) -> String {
    hex::encode(crate::crypto::sha256(spki_der))
}

fn pem_of(spki_der: &[u8]) -> String {
    let b64 = STANDARD.encode(spki_der);
    let mut out = String::from("-----BEGIN PUBLIC KEY-----\n");
    for (i, c) in b64.chars().enumerate() {
        if i > 0 && i % 64 == 0 {
            out.push('\n');
        }
        out.push(c);
    }
    out.push_str("\n-----END PUBLIC KEY-----\n");
    out
}

/// A signing key for DSSE envelopes.
pub enum DsseSigner {
    /// Ed25519 (RFC 8032), securesystemslib scheme `ed25519`.
    Ed25519(ed25519_dalek::SigningKey),
    /// ECDSA P-256 with SHA-256, scheme `ecdsa-sha2-nistp256`.
    EcdsaP256(p256::ecdsa::SigningKey),
    /// ECDSA P-384 with SHA-384, scheme `ecdsa-sha2-nistp384`.
    EcdsaP384(p384::ecdsa::SigningKey),
}

impl fmt::Debug for DsseSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DsseSigner")
            .field("algorithm", &self.algorithm())
            .field("keyid", &self.keyid())
            .finish_non_exhaustive()
    }
}

impl DsseSigner {
    /// Loads a PKCS#8 (RFC 5208 / RFC 5958) DER private key: Ed25519
    /// (RFC 8410), or EC (RFC 5915 inside PKCS#8) on P-256 or P-384.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, DsseError> {
        let info = pkcs8::PrivateKeyInfo::try_from(der)
            .map_err(|e| DsseError::Key(format!("not a PKCS#8 private key: {e}")))?;
        let oid = info.algorithm.oid;
        let curve = info
            .algorithm
            .parameters_oid()
            .ok()
            .map(|c| c.to_string())
            .unwrap_or_default();
        let bad = |e: pkcs8::Error| DsseError::Key(format!("PKCS#8 {oid}: {e}"));
        match (oid.to_string().as_str(), curve.as_str()) {
            ("1.3.101.112", _) => Ok(Self::Ed25519(
                ed25519_dalek::SigningKey::from_pkcs8_der(der).map_err(bad)?,
            )),
            ("1.2.840.10045.2.1", "1.2.840.10045.3.1.7") => Ok(Self::EcdsaP256(
                p256::ecdsa::SigningKey::from_pkcs8_der(der).map_err(bad)?,
            )),
            ("1.2.840.10045.2.1", "1.3.132.0.34") => Ok(Self::EcdsaP384(
                p384::ecdsa::SigningKey::from_pkcs8_der(der).map_err(bad)?,
            )),
            (alg, curve) => Err(DsseError::Key(format!(
                "unsupported key algorithm {alg}{}{curve}: expected Ed25519 (1.3.101.112) \
                 or EC (1.2.840.10045.2.1) on P-256 (1.2.840.10045.3.1.7) or P-384 (1.3.132.0.34)",
                if curve.is_empty() { "" } else { " curve " }
            ))),
        }
    }

    /// `ed25519`, `ecdsa-p256` or `ecdsa-p384` (the names of [`crate::api::SealedKey::algorithm`]).
    pub fn algorithm(&self) -> &'static str {
        match self {
            Self::Ed25519(_) => "ed25519",
            Self::EcdsaP256(_) => "ecdsa-p256",
            Self::EcdsaP384(_) => "ecdsa-p384",
        }
    }

    /// The SubjectPublicKeyInfo DER of the public key (EC points uncompressed).
    pub fn spki_der(&self) -> Vec<u8> {
        match self {
            Self::Ed25519(k) => spki(&SPKI_ED25519, k.verifying_key().as_bytes()),
            Self::EcdsaP256(k) => spki(
                &SPKI_P256,
                k.verifying_key().to_encoded_point(false).as_bytes(),
            ),
            Self::EcdsaP384(k) => spki(
                &SPKI_P384,
                k.verifying_key().to_encoded_point(false).as_bytes(),
            ),
        }
    }

    /// The public key as PEM (`-----BEGIN PUBLIC KEY-----`, LF line ends).
    pub fn public_key_pem(&self) -> String {
        pem_of(&self.spki_der())
    }

    /// Lower-case hex SHA-256 of [`DsseSigner::spki_der`].
    pub fn keyid(&self) -> String {
        keyid_of(&self.spki_der())
    }

    /// The verifier for this key (accepting in-toto payloads).
    pub fn verifier(&self) -> DsseVerifier {
        let (kind, raw) = match self {
            Self::Ed25519(k) => (KeyKind::Ed25519, k.verifying_key().as_bytes().to_vec()),
            Self::EcdsaP256(k) => (
                KeyKind::EcdsaP256,
                k.verifying_key()
                    .to_encoded_point(false)
                    .as_bytes()
                    .to_vec(),
            ),
            Self::EcdsaP384(k) => (
                KeyKind::EcdsaP384,
                k.verifying_key()
                    .to_encoded_point(false)
                    .as_bytes()
                    .to_vec(),
            ),
        };
        // A key we hold is a valid key: the provider accepts its public half.
        match DsseVerifier::from_raw(kind, &raw) {
            Ok(v) => v,
            Err(e) => unreachable!("a signing key's own public key was refused: {e}"),
        }
    }

    /// The raw signature over `pae(payload_type, payload)`.
    pub fn sign_pae(&self, payload_type: &str, payload: &[u8]) -> Vec<u8> {
        use signature::Signer as _;
        let m = pae(payload_type, payload);
        // `Signer::sign` only fails where RFC 6979 nonce generation fails,
        // which for these curves needs a hash output equal to the group
        // order or zero (probability about 2^-256).
        match self {
            Self::Ed25519(k) => k.sign(&m).to_bytes().to_vec(),
            Self::EcdsaP256(k) => {
                let s: p256::ecdsa::Signature = k.sign(&m);
                s.to_der().as_bytes().to_vec()
            }
            Self::EcdsaP384(k) => {
                let s: p384::ecdsa::Signature = k.sign(&m);
                s.to_der().as_bytes().to_vec()
            }
        }
    }

    /// Signs `payload` into an envelope with one signature carrying this key's keyid.
    pub fn sign(&self, payload_type: &str, payload: &[u8]) -> Envelope {
        Envelope {
            payload: payload.to_vec(),
            payload_type: payload_type.to_string(),
            signatures: vec![EnvelopeSignature {
                keyid: self.keyid(),
                sig: self.sign_pae(payload_type, payload),
            }],
        }
    }
}

/// The key of a [`DsseVerifier`], checked through the one crypto provider
/// (`crate::crypto`); shared so that a verifier stays cheap to clone.
#[derive(Debug, Clone)]
struct VerifierKey {
    key: std::sync::Arc<crate::crypto::VerifyingKey>,
    kind: KeyKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Ed25519,
    EcdsaP256,
    EcdsaP384,
}

/// Verifies DSSE envelopes signed by one public key.
#[derive(Debug, Clone)]
pub struct DsseVerifier {
    key: VerifierKey,
    spki_der: Vec<u8>,
    keyid: String,
    payload_type: String,
}

impl DsseVerifier {
    /// `raw` is the 32-byte Ed25519 key or the uncompressed EC point.
    fn from_raw(kind: KeyKind, raw: &[u8]) -> Result<Self, DsseError> {
        use crate::crypto::{Curve, VerifyingKey};
        let bad = |e: crate::crypto::CryptoError| DsseError::Key(e.to_string());
        let (key, spki_der) = match kind {
            KeyKind::Ed25519 => (
                VerifyingKey::ed25519(raw).map_err(bad)?,
                spki(&SPKI_ED25519, raw),
            ),
            KeyKind::EcdsaP256 => (
                VerifyingKey::ecdsa(Curve::P256, raw, HashAlg::Sha256).map_err(bad)?,
                spki(&SPKI_P256, raw),
            ),
            KeyKind::EcdsaP384 => (
                VerifyingKey::ecdsa(Curve::P384, raw, HashAlg::Sha384).map_err(bad)?,
                spki(&SPKI_P384, raw),
            ),
        };
        Ok(Self {
            keyid: keyid_of(&spki_der),
            spki_der,
            key: VerifierKey {
                key: std::sync::Arc::new(key),
                kind,
            },
            payload_type: PAYLOAD_TYPE_INTOTO.to_string(),
        })
    }

    /// Loads a SubjectPublicKeyInfo DER (Ed25519, or EC on P-256/P-384 with a
    /// compressed or uncompressed point). Trailing bytes are refused.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, DsseError> {
        let info = spki::SubjectPublicKeyInfoRef::try_from(der)
            .map_err(|e| DsseError::Key(format!("not a SubjectPublicKeyInfo: {e}")))?;
        let oid = info.algorithm.oid.to_string();
        let curve = info
            .algorithm
            .parameters_oid()
            .ok()
            .map(|c| c.to_string())
            .unwrap_or_default();
        let point = info
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| DsseError::Key("public key BIT STRING has unused bits".to_string()))?;
        let (kind, raw) = match (oid.as_str(), curve.as_str()) {
            ("1.3.101.112", _) => {
                if info.algorithm.parameters.is_some() {
                    return Err(DsseError::Key(
                        "Ed25519 AlgorithmIdentifier must have no parameters (RFC 8410 §3)"
                            .to_string(),
                    ));
                }
                if point.len() != 32 {
                    return Err(DsseError::Key(format!(
                        "Ed25519 public key must be 32 bytes, got {}",
                        point.len()
                    )));
                }
                (KeyKind::Ed25519, point.to_vec())
            }
            // Compressed points are expanded (and checked to be on the
            // curve) here; the provider verifies with the uncompressed form.
            ("1.2.840.10045.2.1", "1.2.840.10045.3.1.7") => (
                KeyKind::EcdsaP256,
                p256::ecdsa::VerifyingKey::from_sec1_bytes(point)
                    .map_err(|_| DsseError::Key("not a point on P-256".to_string()))?
                    .to_encoded_point(false)
                    .as_bytes()
                    .to_vec(),
            ),
            ("1.2.840.10045.2.1", "1.3.132.0.34") => (
                KeyKind::EcdsaP384,
                p384::ecdsa::VerifyingKey::from_sec1_bytes(point)
                    .map_err(|_| DsseError::Key("not a point on P-384".to_string()))?
                    .to_encoded_point(false)
                    .as_bytes()
                    .to_vec(),
            ),
            (alg, curve) => {
                return Err(DsseError::Key(format!(
                    "unsupported public key algorithm {alg}{}{curve}: expected Ed25519, \
                     ECDSA P-256 or ECDSA P-384",
                    if curve.is_empty() { "" } else { " curve " }
                )))
            }
        };
        Self::from_raw(kind, &raw)
    }

    /// Loads a PEM `PUBLIC KEY` (SubjectPublicKeyInfo, RFC 7468 §13).
    pub fn from_spki_pem(pem: &str) -> Result<Self, DsseError> {
        let (label, der) = pkcs8::der::pem::decode_vec(pem.trim().as_bytes())
            .map_err(|e| DsseError::Key(format!("not PEM: {e}")))?;
        if label != "PUBLIC KEY" {
            return Err(DsseError::Key(format!(
                "PEM label: expected PUBLIC KEY, got {label}"
            )));
        }
        Self::from_spki_der(&der)
    }

    /// Accepts envelopes of `payload_type` instead of in-toto statements.
    pub fn with_payload_type(mut self, payload_type: &str) -> Self {
        self.payload_type = payload_type.to_string();
        self
    }

    /// Lower-case hex SHA-256 of the key's SPKI DER (EC points uncompressed).
    pub fn keyid(&self) -> String {
        self.keyid.clone()
    }

    /// The key's SubjectPublicKeyInfo DER (EC points uncompressed).
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// Checks one raw signature over `pae(payload_type, payload)`.
    pub fn verify_pae_signature(
        &self,
        payload_type: &str,
        payload: &[u8],
        sig: &[u8],
    ) -> Result<(), String> {
        let m = pae(payload_type, payload);
        let key = &self.key.key;
        match self.key.kind {
            KeyKind::Ed25519 => {
                if sig.len() != 64 {
                    return Err(format!(
                        "Ed25519 signature must be 64 bytes, got {}",
                        sig.len()
                    ));
                }
                key.verify(&m, sig)
                    .map_err(|_| "Ed25519 signature does not verify".to_string())
            }
            KeyKind::EcdsaP256 | KeyKind::EcdsaP384 => {
                let (name, size) = if self.key.kind == KeyKind::EcdsaP256 {
                    ("P-256/SHA-256", 32)
                } else {
                    ("P-384/SHA-384", 48)
                };
                // securesystemslib writes DER; some signers write r || s.
                let fixed = (sig.len() == 2 * size).then(|| sig.split_at(size));
                let ok = key.verify(&m, sig).is_ok()
                    || fixed.is_some_and(|(r, s)| key.verify_ecdsa_rs(&m, r, s).is_ok());
                if ok {
                    Ok(())
                } else {
                    Err(format!("ECDSA {name} signature does not verify"))
                }
            }
        }
    }

    /// Verifies `env` and returns its payload: the payload type must be the
    /// verifier's, and at least one signature whose keyid is this key's (or
    /// empty) must verify over the PAE.
    pub fn verify<'e>(&self, env: &'e Envelope) -> Result<&'e [u8], DsseError> {
        if env.payload_type != self.payload_type {
            return Err(DsseError::WrongPayloadType {
                expected: self.payload_type.clone(),
                got: env.payload_type.clone(),
            });
        }
        if env.signatures.is_empty() {
            return Err(DsseError::NoSignatures);
        }
        let mut tried = 0;
        let mut reason = String::new();
        for s in &env.signatures {
            if !(s.keyid.is_empty() || s.keyid == self.keyid) {
                continue;
            }
            tried += 1;
            match self.verify_pae_signature(&env.payload_type, &env.payload, &s.sig) {
                Ok(()) => return Ok(&env.payload),
                Err(r) => reason = r,
            }
        }
        if tried == 0 {
            return Err(DsseError::NoSignatureByKey {
                keyid: self.keyid.clone(),
                present: env.signatures.iter().map(|s| s.keyid.clone()).collect(),
            });
        }
        Err(DsseError::SignatureDoesNotVerify {
            keyid: self.keyid.clone(),
            tried,
            reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_spec_example() {
        // DSSE protocol.md, "Test Vectors": PAE of payloadType
        // "http://example.com/HelloWorld" and payload "hello world".
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
    }

    #[test]
    fn base64_either_alphabet() {
        assert_eq!(b64_any::decode("+/8=").unwrap(), vec![0xfb, 0xff]);
        assert_eq!(b64_any::decode("-_8").unwrap(), vec![0xfb, 0xff]);
        assert!(b64_any::decode("+_8=").is_err());
        assert!(b64_any::decode("a").is_err());
    }
}
