//! TPM_ALG_ID hash algorithms (TCG TPM 2.0 Library, Part 2: Structures,
//! rev. 1.59, Table 9 "TPM_ALG_ID Constants") and digest helpers.

use crate::error::FormatError;
use serde::{Deserialize, Serialize};

/// A hash algorithm as used in PCR banks, names and event-log digests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HashAlg {
    /// TPM_ALG_SHA1 (0x0004).
    Sha1,
    /// TPM_ALG_SHA256 (0x000B).
    Sha256,
    /// TPM_ALG_SHA384 (0x000C).
    Sha384,
    /// TPM_ALG_SHA512 (0x000D).
    Sha512,
}

impl HashAlg {
    /// All supported algorithms, in TPM_ALG_ID order.
    pub const ALL: [HashAlg; 4] = [Self::Sha1, Self::Sha256, Self::Sha384, Self::Sha512];

    /// The TPM_ALG_ID.
    pub fn alg_id(self) -> u16 {
        match self {
            Self::Sha1 => 0x0004,
            Self::Sha256 => 0x000B,
            Self::Sha384 => 0x000C,
            Self::Sha512 => 0x000D,
        }
    }

    /// Parses a TPM_ALG_ID that must name a supported hash.
    pub fn from_alg_id(id: u16, field: &'static str) -> Result<Self, FormatError> {
        match id {
            0x0004 => Ok(Self::Sha1),
            0x000B => Ok(Self::Sha256),
            0x000C => Ok(Self::Sha384),
            0x000D => Ok(Self::Sha512),
            other => Err(FormatError::Unsupported {
                field,
                value: u64::from(other),
            }),
        }
    }

    /// Digest size in bytes.
    pub fn size(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// Lower-case name as tpm2-tools prints it (`sha1`, `sha256`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
        }
    }

    /// Parses a name as tpm2-tools writes it.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Hashes the concatenation of `parts`.
    pub fn digest_parts(self, parts: &[&[u8]]) -> Vec<u8> {
        crate::crypto::digest(self, parts)
    }

    /// Hashes `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        self.digest_parts(&[data])
    }

    /// PCR extend: `H(old || digest)`.
    pub fn extend(self, old: &[u8], digest: &[u8]) -> Vec<u8> {
        self.digest_parts(&[old, digest])
    }

    /// PCR extend in place: `pcr = H(pcr || digest)`, reusing `pcr`'s
    /// allocation (event-log replay extends hundreds of times).
    pub fn extend_in_place(self, pcr: &mut Vec<u8>, digest: &[u8]) {
        crate::crypto::extend_into(self, pcr, digest);
    }
}

impl std::fmt::Display for HashAlg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for a in HashAlg::ALL {
            assert_eq!(HashAlg::from_alg_id(a.alg_id(), "t").unwrap(), a);
            assert_eq!(HashAlg::from_name(a.name()), Some(a));
            assert_eq!(a.digest(b"").len(), a.size());
        }
        assert!(HashAlg::from_alg_id(0x0012, "t").is_err());
    }

    #[test]
    fn extend_in_place_equals_extend() {
        for a in HashAlg::ALL {
            let mut pcr = vec![0u8; a.size()];
            let d = a.digest(b"event");
            let want = a.extend(&pcr, &d);
            a.extend_in_place(&mut pcr, &d);
            assert_eq!(pcr, want);
        }
    }

    #[test]
    fn extend_known_value() {
        // SHA-256(32 zero bytes || SHA-256("")), computed with Python's hashlib.
        let e = HashAlg::Sha256.extend(&[0u8; 32], &HashAlg::Sha256.digest(b""));
        assert_eq!(
            hex::encode(e),
            "1c9ecec90e28d2461650418635878a5c91e49f47586ecf75f2b0cbb94e897112"
        );
    }
}
