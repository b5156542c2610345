//! What the key store keeps of a key: its algorithm, origin, public half
//! and the sealed private half. A leaf module: the store (`crate::store`)
//! persists these, the key manager (`crate::keys`, which re-exports them)
//! makes and opens them, and neither module needs the other's internals.

use schemars::JsonSchema;
use sealbuild_common::reader::Reader;
use sealbuild_common::FormatError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A key algorithm sealbuild can hold and release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum KeyAlgorithm {
    /// Ed25519 (RFC 8032).
    #[serde(rename = "ed25519")]
    Ed25519,
    /// ECDSA over P-256.
    #[serde(rename = "ecdsa-p256")]
    EcdsaP256,
    /// ECDSA over P-384.
    #[serde(rename = "ecdsa-p384")]
    EcdsaP384,
}

impl KeyAlgorithm {
    /// Every algorithm.
    pub const ALL: [KeyAlgorithm; 3] = [Self::Ed25519, Self::EcdsaP256, Self::EcdsaP384];

    /// Name in the API, the database and the AAD.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ed25519 => "ed25519",
            Self::EcdsaP256 => "ecdsa-p256",
            Self::EcdsaP384 => "ecdsa-p384",
        }
    }

    /// Parses [`KeyAlgorithm::as_str`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyOrigin {
    /// Generated inside the verifier.
    Generated,
    /// Imported from PKCS#8.
    Imported,
}

impl KeyOrigin {
    /// Name in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Generated => "generated",
            Self::Imported => "imported",
        }
    }

    /// Parses [`KeyOrigin::as_str`].
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Generated, Self::Imported]
            .into_iter()
            .find(|o| o.as_str() == name)
    }
}

/// The public half of a key, for listings and the admin API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct PublicKeyInfo {
    /// Key id.
    pub key_id: String,
    /// Algorithm.
    pub algorithm: KeyAlgorithm,
    /// SPKI PEM.
    pub public_key_pem: String,
    /// SHA-256 (hex) of the SPKI DER.
    pub fingerprint: String,
}

/// A private key encrypted under the master key (the stored blob).
#[derive(Clone, PartialEq, Eq)]
pub struct SealedPrivateKey {
    pub(crate) nonce: [u8; 12],
    pub(crate) ciphertext: Vec<u8>,
}

impl fmt::Debug for SealedPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedPrivateKey({} bytes)", self.ciphertext.len())
    }
}

impl SealedPrivateKey {
    /// The blob format version.
    pub const VERSION: u8 = 1;
    /// AES-GCM tag length.
    const TAG: usize = 16;
    /// Largest ciphertext accepted (a PKCS#8 of the supported curves is < 200 bytes).
    const MAX_CIPHERTEXT: usize = 4096;

    /// Parses a stored blob.
    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        let mut r = Reader::new(bytes);
        let version = r.u8("sealed key version")?;
        if version != Self::VERSION {
            return Err(FormatError::Unsupported {
                field: "sealed key version",
                value: u64::from(version),
            });
        }
        let nonce = r.array::<12>("sealed key nonce")?;
        let rest = r.remaining();
        if rest <= Self::TAG {
            return Err(FormatError::unexpected(
                "sealed key ciphertext",
                format!("more than {} bytes (ciphertext and tag)", Self::TAG),
                format!("{rest} bytes"),
            ));
        }
        if rest > Self::MAX_CIPHERTEXT {
            return Err(FormatError::TooLarge {
                field: "sealed key ciphertext",
                size: rest,
                max: Self::MAX_CIPHERTEXT,
            });
        }
        let ciphertext = r.take(rest, "sealed key ciphertext")?.to_vec();
        r.finish("sealed private key")?;
        Ok(Self { nonce, ciphertext })
    }

    /// The stored blob.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(13 + self.ciphertext.len());
        out.push(Self::VERSION);
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.ciphertext);
        out
    }
}
