//! Signing on the same provider: the verifier's attestation results.
//!
//! Verification is what this module's parent exists for; the verifier also
//! signs one thing per attestation, its EAR (ES256, RFC 9052 §4.4 over
//! COSE_Sign1; ECDSA P-256 with SHA-256, FIPS 186-4 §6.4). Signing it with
//! the pure-Rust `p256` crate cost 12 % of the verifier's CPU under load
//! (perf, 1,000 simulated agents); AWS-LC signs the same in a fraction of
//! that. Keys are still created, stored and printed by the caller (PKCS#8
//! PEM); this type only holds the loaded key for signing.

use super::CryptoError;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as lc, KeyPair as _};

/// An ECDSA P-256 / SHA-256 signing key.
pub struct P256Signer {
    pair: lc::EcdsaKeyPair,
    rng: SystemRandom,
}

impl std::fmt::Debug for P256Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("P256Signer")
            .field("public", &hex::encode(self.public_point()))
            .finish_non_exhaustive()
    }
}

impl P256Signer {
    /// From the private scalar (32 bytes, big-endian) and the public point
    /// (SEC1 uncompressed, 65 bytes); refused unless they belong together.
    pub fn from_scalar_and_point(scalar: &[u8], point: &[u8]) -> Result<Self, CryptoError> {
        let pair = lc::EcdsaKeyPair::from_private_key_and_public_key(
            &lc::ECDSA_P256_SHA256_FIXED_SIGNING,
            scalar,
            point,
        )
        .map_err(|e| CryptoError::BadKey(format!("P-256 signing key rejected: {e}")))?;
        Ok(Self {
            pair,
            rng: SystemRandom::new(),
        })
    }

    /// The same key as a `p256` signing key (how the verifier loads and
    /// creates its result key).
    pub fn from_p256(key: &p256::ecdsa::SigningKey) -> Result<Self, CryptoError> {
        let point = key.verifying_key().to_encoded_point(false);
        Self::from_scalar_and_point(&key.to_bytes(), point.as_bytes())
    }

    /// Signs `msg` (hashed here with SHA-256); the signature as the fixed
    /// `r || s` (64 bytes), the form COSE uses (RFC 9053 §2.1).
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let sig = self
            .pair
            .sign(&self.rng, msg)
            .map_err(|_| CryptoError::Unsupported("P-256 signing failed".into()))?;
        Ok(sig.as_ref().to_vec())
    }

    /// The public key as a SEC1 uncompressed point (65 bytes).
    pub fn public_point(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use p256::ecdsa::signature::Verifier as _;

    fn key(b: u8) -> p256::ecdsa::SigningKey {
        p256::ecdsa::SigningKey::from_slice(&[b; 32]).unwrap()
    }

    #[test]
    fn signatures_verify_with_the_p256_crate_and_with_the_provider() {
        let k = key(7);
        let s = P256Signer::from_p256(&k).unwrap();
        assert_eq!(
            s.public_point(),
            k.verifying_key().to_encoded_point(false).as_bytes()
        );
        let sig = s.sign(b"message").unwrap();
        assert_eq!(sig.len(), 64);
        let parsed = p256::ecdsa::Signature::from_slice(&sig).unwrap();
        k.verifying_key().verify(b"message", &parsed).unwrap();
        let v = super::super::VerifyingKey::ecdsa(
            super::super::Curve::P256,
            s.public_point(),
            crate::HashAlg::Sha256,
        )
        .unwrap();
        let (r, rest) = sig.split_at(32);
        v.verify_ecdsa_rs(b"message", r, rest).unwrap();
        // Its twins fail: another message, a flipped signature byte.
        assert!(k.verifying_key().verify(b"messagf", &parsed).is_err());
        let mut flipped = sig.clone();
        flipped[40] ^= 1;
        let (r, s2) = flipped.split_at(32);
        assert!(v.verify_ecdsa_rs(b"message", r, s2).is_err());
    }

    #[test]
    fn a_scalar_with_another_point_is_refused() {
        let a = key(7);
        let b = key(8);
        let point = b.verifying_key().to_encoded_point(false);
        assert!(P256Signer::from_scalar_and_point(&a.to_bytes(), point.as_bytes()).is_err());
        assert!(P256Signer::from_scalar_and_point(&[0u8; 32], point.as_bytes()).is_err());
    }
}
