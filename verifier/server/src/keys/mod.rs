//! Release keys: generation, PKCS#8 import and encryption at rest.
//!
//! The verifier holds signing keys (Ed25519, RFC 8032; ECDSA over NIST P-256
//! and P-384, FIPS 186-5) that it releases to attested agents. Formats:
//!
//! * private keys travel as PKCS#8 `PrivateKeyInfo`/`OneAsymmetricKey` DER
//!   (RFC 5208, RFC 5958) — Ed25519 per RFC 8410 §7 (OID 1.3.101.112, no
//!   parameters), EC per RFC 5915 with `id-ecPublicKey` (1.2.840.10045.2.1)
//!   and the named curve `prime256v1` (1.2.840.10045.3.1.7) or `secp384r1`
//!   (1.3.132.0.34) as parameters (RFC 5480 §2.1.1). Any other algorithm,
//!   encrypted PKCS#8 and SEC1 `EC PRIVATE KEY` are refused. Imported keys are
//!   re-encoded by the algorithm's own crate, so what is stored is canonical;
//! * public keys as SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) PEM;
//! * fingerprint: lower-case hex SHA-256 of the SPKI DER;
//! * key id: the caller's name (1–64 characters `[A-Za-z0-9._-]`, starting
//!   with a letter or digit) or, when none is given, `sha256:` followed by
//!   the first 16 hex characters of the fingerprint. Names cannot contain `:`,
//!   so they never look like derived ids.
//!
//! ## Encryption at rest
//!
//! Each private key is sealed with AES-256-GCM (NIST SP 800-38D) under the
//! 32-byte master key, with a fresh random 96-bit nonce per seal and
//!
//! ```text
//! AAD  = "sealbuild/key-seal/v1\0" || u16be(len id) || id || u16be(len alg) || alg
//! blob = 0x01 (format version) || nonce (12) || ciphertext || tag (16)
//! ```
//!
//! The AAD binds the blob to its row (key id and algorithm name), so a blob
//! copied into another row does not decrypt. After decryption the PKCS#8 is
//! parsed again and its public key must equal the row's public key and
//! fingerprint, so a swapped public-key column is found too.
//!
//! The master key comes from a file (32 raw bytes, or 64 hex characters and
//! optional surrounding whitespace) that must not be accessible to group or
//! others, or from the environment variable `SEALBUILD_MASTER_KEY` (hex).
//! Secret material lives in [`Zeroizing`] buffers and is never printed by
//! `Debug`.

mod master;

pub use master::{MasterKey, MASTER_KEY_ENV};

pub use crate::keyrecord::{KeyAlgorithm, KeyOrigin, PublicKeyInfo, SealedPrivateKey};
use crate::store::{KeyRecord, NewKey};
use aes_gcm::aead::{Aead, Payload};
use aes_gcm::Nonce;
use pkcs8::{
    AssociatedOid, DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding,
    ObjectIdentifier, PrivateKeyInfo, SecretDocument,
};
use rand_core::{OsRng, RngCore};
use sealbuild_common::FormatError;
use sha2::{Digest, Sha256};
use std::path::Path;
use thiserror::Error;
use zeroize::Zeroizing;

/// Domain separation prefix of the AES-GCM AAD.
pub const SEAL_AAD_DOMAIN: &[u8] = b"sealbuild/key-seal/v1\0";

/// RFC 8410 id-Ed25519.
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
/// RFC 5480 id-ecPublicKey.
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");

/// Longest caller-given key name.
pub const MAX_KEY_NAME: usize = 64;

/// Why a key or the master key could not be used.
#[derive(Debug, Error)]
pub enum KeyError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The master key file is accessible to group or others.
    #[error("master key file {path} has mode {mode:03o}: it must not be readable or writable by group or others; run `chmod 600 {path}`")]
    MasterKeyPermissions {
        /// The file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// The master key text is not 32 bytes.
    #[error(
        "master key from {source_name}: expected 32 raw bytes or 64 hex characters, got {got}"
    )]
    MasterKeyFormat {
        /// File path or environment variable.
        source_name: String,
        /// What was found (never the content).
        got: String,
    },
    /// `generate_to_file` refuses to overwrite.
    #[error("master key file {path} already exists; refusing to overwrite it")]
    MasterKeyExists {
        /// The file.
        path: String,
    },
    /// AES-GCM authentication failed.
    #[error("master key does not decrypt key '{key_id}' (authentication failed): wrong master key, or the blob was altered or belongs to another key")]
    Unseal {
        /// The key.
        key_id: String,
    },
    /// The sealed blob is malformed.
    #[error("sealed private key of '{key_id}': {source}")]
    SealedFormat {
        /// The key.
        key_id: String,
        /// What is wrong.
        #[source]
        source: FormatError,
    },
    /// The decrypted key does not match its row.
    #[error("key '{key_id}': the sealed private key does not match the stored {what}")]
    RecordMismatch {
        /// The key.
        key_id: String,
        /// `algorithm`, `public key` or `fingerprint`.
        what: &'static str,
    },
    /// PKCS#8 names an algorithm sealbuild does not release.
    #[error("unsupported key algorithm {oid}{}: supported are Ed25519 (1.3.101.112), ECDSA P-256 (1.2.840.10045.2.1 with 1.2.840.10045.3.1.7) and ECDSA P-384 (1.2.840.10045.2.1 with 1.3.132.0.34)", .curve.as_ref().map(|c| format!(" with parameters {c}")).unwrap_or_default())]
    UnsupportedAlgorithm {
        /// Algorithm OID.
        oid: String,
        /// Curve OID, for EC keys.
        curve: Option<String>,
    },
    /// The input is not an acceptable PKCS#8 private key.
    #[error("PKCS#8 private key: {0}")]
    Pkcs8(String),
    /// A key name is not allowed.
    #[error("key id '{id}': {reason}")]
    InvalidKeyId {
        /// The name given.
        id: String,
        /// Why not.
        reason: String,
    },
    /// An algorithm name is not known.
    #[error("key algorithm '{0}' is not one of ed25519, ecdsa-p256, ecdsa-p384")]
    UnknownAlgorithm(String),
    /// Encoding a key failed (should not happen for valid keys).
    #[error("encoding {what}: {reason}")]
    Encoding {
        /// What was being encoded.
        what: &'static str,
        /// The encoder's message.
        reason: String,
    },
}

pub(super) fn io_err(path: &Path, source: std::io::Error) -> KeyError {
    KeyError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The AES-GCM AAD for a key row.
pub fn seal_aad(key_id: &str, algorithm: KeyAlgorithm) -> Result<Vec<u8>, KeyError> {
    let alg = algorithm.as_str();
    let id_len = u16::try_from(key_id.len()).map_err(|_| KeyError::InvalidKeyId {
        id: key_id.to_string(),
        reason: "longer than 65535 bytes".into(),
    })?;
    let mut aad = Vec::with_capacity(SEAL_AAD_DOMAIN.len() + 4 + key_id.len() + alg.len());
    aad.extend_from_slice(SEAL_AAD_DOMAIN);
    aad.extend_from_slice(&id_len.to_be_bytes());
    aad.extend_from_slice(key_id.as_bytes());
    // Algorithm names are short constants.
    aad.extend_from_slice(&(alg.len() as u16).to_be_bytes());
    aad.extend_from_slice(alg.as_bytes());
    Ok(aad)
}

/// Checks a caller-given key name (see the module documentation).
pub fn validate_key_name(name: &str) -> Result<(), KeyError> {
    let bad = |reason: &str| KeyError::InvalidKeyId {
        id: name.to_string(),
        reason: reason.to_string(),
    };
    if name.is_empty() || name.len() > MAX_KEY_NAME {
        return Err(bad("must be 1 to 64 characters"));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(bad("must start with a letter or digit"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(bad(&format!(
            "character {c:?} is not allowed (only A-Z a-z 0-9 . _ -)"
        )));
    }
    Ok(())
}

/// Lower-case hex SHA-256 of an SPKI DER.
pub fn fingerprint(spki_der: &[u8]) -> String {
    hex::encode(Sha256::digest(spki_der))
}

/// The id of an unnamed key: `sha256:` and the first 16 hex characters of
/// its fingerprint.
pub fn derived_key_id(spki_der: &[u8]) -> String {
    let digest = Sha256::digest(spki_der);
    let prefix: Vec<u8> = digest.iter().take(8).copied().collect();
    format!("sha256:{}", hex::encode(prefix))
}

/// A private key decoded and re-encoded by its algorithm's crate.
struct ParsedKey {
    algorithm: KeyAlgorithm,
    pkcs8: Zeroizing<Vec<u8>>,
    spki_der: Vec<u8>,
    public_key_pem: String,
}

fn enc_err(what: &'static str) -> impl Fn(String) -> KeyError {
    move |reason| KeyError::Encoding { what, reason }
}

fn secret_to_vec(doc: SecretDocument) -> Zeroizing<Vec<u8>> {
    // `doc` zeroizes its own buffer when dropped.
    Zeroizing::new(doc.as_bytes().to_vec())
}

fn algorithm_of(info: &PrivateKeyInfo<'_>) -> Result<KeyAlgorithm, KeyError> {
    let oid = info.algorithm.oid;
    if oid == OID_ED25519 {
        if info.algorithm.parameters.is_some() {
            return Err(KeyError::Pkcs8(
                "Ed25519 AlgorithmIdentifier must have no parameters (RFC 8410 §3)".into(),
            ));
        }
        return Ok(KeyAlgorithm::Ed25519);
    }
    if oid == OID_EC_PUBLIC_KEY {
        let curve = info.algorithm.parameters_oid().map_err(|e| {
            KeyError::Pkcs8(format!(
                "EC key without a named-curve OID in its AlgorithmIdentifier: {e}"
            ))
        })?;
        if curve == p256::NistP256::OID {
            return Ok(KeyAlgorithm::EcdsaP256);
        }
        if curve == p384::NistP384::OID {
            return Ok(KeyAlgorithm::EcdsaP384);
        }
        return Err(KeyError::UnsupportedAlgorithm {
            oid: oid.to_string(),
            curve: Some(curve.to_string()),
        });
    }
    Err(KeyError::UnsupportedAlgorithm {
        oid: oid.to_string(),
        curve: None,
    })
}

fn parse_pkcs8_der(der: &[u8]) -> Result<ParsedKey, KeyError> {
    let info = PrivateKeyInfo::try_from(der).map_err(|e| {
        KeyError::Pkcs8(format!(
            "not a DER PKCS#8 PrivateKeyInfo ({e}); SEC1 or PKCS#1 keys must be converted first \
             (e.g. openssl pkcs8 -topk8 -nocrypt)"
        ))
    })?;
    let algorithm = algorithm_of(&info)?;
    let bad = |e: pkcs8::Error| KeyError::Pkcs8(format!("invalid {algorithm} key: {e}"));
    let (pkcs8, spki) = match algorithm {
        KeyAlgorithm::Ed25519 => {
            let sk = ed25519_dalek::SigningKey::from_pkcs8_der(der).map_err(bad)?;
            // Canonical form: PKCS#8 v1 (RFC 5208) without the embedded public
            // key; OpenSSL 3.0 does not read the RFC 5958 v2 form for Ed25519.
            let doc = ed25519_dalek::pkcs8::KeypairBytes {
                secret_key: sk.to_bytes(),
                public_key: None,
            }
            .to_pkcs8_der()
            .map_err(|e| enc_err("Ed25519 PKCS#8")(e.to_string()))?;
            let spki = sk
                .verifying_key()
                .to_public_key_der()
                .map_err(|e| enc_err("Ed25519 SPKI")(e.to_string()))?;
            (secret_to_vec(doc), spki)
        }
        KeyAlgorithm::EcdsaP256 => {
            let sk = p256::SecretKey::from_pkcs8_der(der).map_err(bad)?;
            let doc = sk
                .to_pkcs8_der()
                .map_err(|e| enc_err("P-256 PKCS#8")(e.to_string()))?;
            let spki = sk
                .public_key()
                .to_public_key_der()
                .map_err(|e| enc_err("P-256 SPKI")(e.to_string()))?;
            (secret_to_vec(doc), spki)
        }
        KeyAlgorithm::EcdsaP384 => {
            let sk = p384::SecretKey::from_pkcs8_der(der).map_err(bad)?;
            let doc = sk
                .to_pkcs8_der()
                .map_err(|e| enc_err("P-384 PKCS#8")(e.to_string()))?;
            let spki = sk
                .public_key()
                .to_public_key_der()
                .map_err(|e| enc_err("P-384 SPKI")(e.to_string()))?;
            (secret_to_vec(doc), spki)
        }
    };
    let public_key_pem = spki
        .to_pem("PUBLIC KEY", LineEnding::LF)
        .map_err(|e| enc_err("SPKI PEM")(e.to_string()))?;
    Ok(ParsedKey {
        algorithm,
        pkcs8,
        spki_der: spki.as_bytes().to_vec(),
        public_key_pem,
    })
}

/// Decodes PKCS#8 given as DER or as PEM (`-----BEGIN PRIVATE KEY-----`).
fn pkcs8_der_from_input(input: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    if !input.trim_ascii_start().starts_with(b"-----BEGIN") {
        return Ok(Zeroizing::new(input.to_vec()));
    }
    let text = std::str::from_utf8(input)
        .map_err(|_| KeyError::Pkcs8("PEM input is not UTF-8 text".into()))?;
    let (label, doc) = SecretDocument::from_pem(text.trim_ascii())
        .map_err(|e| KeyError::Pkcs8(format!("PEM does not decode: {e}")))?;
    match label {
        "PRIVATE KEY" => Ok(secret_to_vec(doc)),
        "ENCRYPTED PRIVATE KEY" => Err(KeyError::Pkcs8(
            "encrypted PKCS#8 is not accepted; decrypt it first (e.g. openssl pkcs8 -topk8 -nocrypt)"
                .into(),
        )),
        "EC PRIVATE KEY" => Err(KeyError::Pkcs8(
            "SEC1 'EC PRIVATE KEY' is not PKCS#8; convert it (e.g. openssl pkcs8 -topk8 -nocrypt)"
                .into(),
        )),
        other => Err(KeyError::Pkcs8(format!(
            "PEM label '{other}': expected 'PRIVATE KEY'"
        ))),
    }
}

/// Generates, imports and unseals release keys under one master key.
#[derive(Debug)]
pub struct KeyManager {
    master: MasterKey,
}

impl KeyManager {
    /// Uses `master` for every seal and unseal.
    pub fn new(master: MasterKey) -> Self {
        Self { master }
    }

    /// A key for one purpose derived from the master key ([`MasterKey::derive`]).
    pub fn derive(&self, label: &str) -> Zeroizing<[u8; 32]> {
        self.master.derive(label)
    }

    /// Generates a key with the operating system's random generator.
    /// `name`: the key id; `None` derives it from the public key.
    pub fn generate(
        &self,
        algorithm: KeyAlgorithm,
        name: Option<&str>,
    ) -> Result<NewKey, KeyError> {
        let doc = match algorithm {
            // Re-encoded to the canonical v1 form by parse_pkcs8_der below.
            KeyAlgorithm::Ed25519 => ed25519_dalek::SigningKey::generate(&mut OsRng).to_pkcs8_der(),
            KeyAlgorithm::EcdsaP256 => p256::SecretKey::random(&mut OsRng).to_pkcs8_der(),
            KeyAlgorithm::EcdsaP384 => p384::SecretKey::random(&mut OsRng).to_pkcs8_der(),
        }
        .map_err(|e| enc_err("a new key as PKCS#8")(e.to_string()))?;
        let parsed = parse_pkcs8_der(doc.as_bytes())?;
        self.seal_new(parsed, name, KeyOrigin::Generated)
    }

    /// Imports an unencrypted PKCS#8 private key (DER or PEM); the algorithm
    /// is taken from its OIDs. `name`: the key id; `None` derives it.
    pub fn import_pkcs8(&self, input: &[u8], name: Option<&str>) -> Result<NewKey, KeyError> {
        let der = pkcs8_der_from_input(input)?;
        let parsed = parse_pkcs8_der(&der)?;
        self.seal_new(parsed, name, KeyOrigin::Imported)
    }

    fn seal_new(
        &self,
        parsed: ParsedKey,
        name: Option<&str>,
        origin: KeyOrigin,
    ) -> Result<NewKey, KeyError> {
        let key_id = match name {
            Some(n) => {
                validate_key_name(n)?;
                n.to_string()
            }
            None => derived_key_id(&parsed.spki_der),
        };
        let sealed = self.seal(&key_id, parsed.algorithm, &parsed.pkcs8)?;
        Ok(NewKey {
            public: PublicKeyInfo {
                key_id,
                algorithm: parsed.algorithm,
                public_key_pem: parsed.public_key_pem,
                fingerprint: fingerprint(&parsed.spki_der),
            },
            sealed,
            origin,
        })
    }

    /// Encrypts PKCS#8 DER for the row (`key_id`, `algorithm`).
    pub fn seal(
        &self,
        key_id: &str,
        algorithm: KeyAlgorithm,
        pkcs8_der: &[u8],
    ) -> Result<SealedPrivateKey, KeyError> {
        let aad = seal_aad(key_id, algorithm)?;
        let mut nonce = [0u8; 12];
        OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .master
            .cipher()?
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: pkcs8_der,
                    aad: &aad,
                },
            )
            .map_err(|e| enc_err("the sealed private key")(e.to_string()))?;
        Ok(SealedPrivateKey { nonce, ciphertext })
    }

    /// Decrypts a stored key to its PKCS#8 DER, checking that it belongs to
    /// the row (AAD) and matches the row's public key.
    pub fn unseal(&self, record: &KeyRecord) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let key_id = &record.public.key_id;
        let aad = seal_aad(key_id, record.public.algorithm)?;
        let plain = self
            .master
            .cipher()?
            .decrypt(
                &Nonce::from(record.sealed.nonce),
                Payload {
                    msg: &record.sealed.ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| KeyError::Unseal {
                key_id: key_id.clone(),
            })?;
        let plain = Zeroizing::new(plain);
        let parsed = parse_pkcs8_der(&plain)?;
        let mismatch = |what| KeyError::RecordMismatch {
            key_id: key_id.clone(),
            what,
        };
        if parsed.algorithm != record.public.algorithm {
            return Err(mismatch("algorithm"));
        }
        if fingerprint(&parsed.spki_der) != record.public.fingerprint {
            return Err(mismatch("fingerprint"));
        }
        if parsed.public_key_pem != record.public.public_key_pem {
            return Err(mismatch("public key"));
        }
        Ok(parsed.pkcs8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_blob_round_trips_and_mutants_fail() {
        let km = KeyManager::new(MasterKey::from_bytes([9; 32]));
        let s = km.seal("k", KeyAlgorithm::Ed25519, b"secret").unwrap();
        let bytes = s.to_bytes();
        assert_eq!(SealedPrivateKey::parse(&bytes).unwrap().to_bytes(), bytes);
        let mut v2 = bytes.clone();
        v2[0] = 2;
        assert!(SealedPrivateKey::parse(&v2).is_err());
        assert!(SealedPrivateKey::parse(&bytes[..13 + 16]).is_err());
        assert!(SealedPrivateKey::parse(&bytes[..5]).is_err());
        assert!(SealedPrivateKey::parse(&[]).is_err());
        assert!(SealedPrivateKey::parse(&[1u8; 5000]).is_err());
    }

    #[test]
    fn aad_is_length_prefixed() {
        assert_ne!(
            seal_aad("ab", KeyAlgorithm::Ed25519).unwrap(),
            seal_aad("a", KeyAlgorithm::Ed25519).unwrap()
        );
        let aad = seal_aad("k1", KeyAlgorithm::EcdsaP256).unwrap();
        let mut want = b"sealbuild/key-seal/v1\0".to_vec();
        want.extend_from_slice(b"\x00\x02k1\x00\x0aecdsa-p256");
        assert_eq!(aad, want);
    }

    #[test]
    fn key_names() {
        for ok in ["build-signing", "a", "K.1_x-2"] {
            validate_key_name(ok).unwrap();
        }
        for bad in ["", "-a", "sha256:abc", "a b", "ä", &"x".repeat(65)] {
            assert!(validate_key_name(bad).is_err(), "{bad}");
        }
        assert_eq!(derived_key_id(b"x").len(), "sha256:".len() + 16);
    }
}
