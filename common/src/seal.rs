//! Sealing released keys to the attested agent's ephemeral key with HPKE
//! (RFC 9180), base mode, single shot:
//! KEM DHKEM(X25519, HKDF-SHA256) (0x0020), KDF HKDF-SHA256 (0x0001),
//! AEAD ChaCha20-Poly1305 (0x0003).
//!
//! * `info` = `"sealbuild/key-release/v1\0" || key_id` (binds the key id).
//! * `aad` = SHA-256 of the COSE_Sign1 attestation result the key is released
//!   under, so a sealed key cannot be presented under another result.
//!
//! The agent opens it with the private half it generated for this attestation;
//! the public half is inside the evidence binding, so only the attested TEE
//! can open it.

use crate::api::KEY_RELEASE_INFO;
use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};
use rand_core::{CryptoRng, RngCore};
use thiserror::Error;
use zeroize::Zeroizing;

/// Why sealing or opening failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SealError {
    /// The recipient key is not a 32-byte X25519 public key.
    #[error("ephemeral public key is not an X25519 key ({0} bytes, expected 32)")]
    BadPublicKey(usize),
    /// The private key is malformed.
    #[error("ephemeral private key is not an X25519 key")]
    BadPrivateKey,
    /// HPKE rejected the operation (wrong key, tampered ciphertext, other AAD).
    #[error("HPKE {0} failed (wrong key, altered ciphertext or another attestation result)")]
    Hpke(&'static str),
}

fn info(key_id: &str) -> Vec<u8> {
    let mut v = KEY_RELEASE_INFO.to_vec();
    v.extend_from_slice(key_id.as_bytes());
    v
}

/// Encapsulated key and ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// HPKE `enc`.
    pub enc: Vec<u8>,
    /// AEAD ciphertext.
    pub ciphertext: Vec<u8>,
}

/// Seals `secret` for `recipient_public` (serialized X25519 key).
pub fn seal<R: RngCore + CryptoRng>(
    recipient_public: &[u8],
    key_id: &str,
    secret: &[u8],
    aad: &[u8],
    rng: &mut R,
) -> Result<Sealed, SealError> {
    let pk = <X25519HkdfSha256 as hpke::Kem>::PublicKey::from_bytes(recipient_public)
        .map_err(|_| SealError::BadPublicKey(recipient_public.len()))?;
    let (enc, ciphertext) = hpke::single_shot_seal::<
        ChaCha20Poly1305,
        HkdfSha256,
        X25519HkdfSha256,
        _,
    >(&OpModeS::Base, &pk, &info(key_id), secret, aad, rng)
    .map_err(|_| SealError::Hpke("seal"))?;
    Ok(Sealed {
        enc: enc.to_bytes().to_vec(),
        ciphertext,
    })
}

/// Opens a sealed key with the serialized X25519 private key.
pub fn open(
    recipient_private: &[u8],
    key_id: &str,
    sealed: &Sealed,
    aad: &[u8],
) -> Result<Zeroizing<Vec<u8>>, SealError> {
    let sk = <X25519HkdfSha256 as hpke::Kem>::PrivateKey::from_bytes(recipient_private)
        .map_err(|_| SealError::BadPrivateKey)?;
    let enc = <X25519HkdfSha256 as hpke::Kem>::EncappedKey::from_bytes(&sealed.enc)
        .map_err(|_| SealError::Hpke("open"))?;
    hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
        &OpModeR::Base,
        &sk,
        &enc,
        &info(key_id),
        &sealed.ciphertext,
        aad,
    )
    .map(Zeroizing::new)
    .map_err(|_| SealError::Hpke("open"))
}

/// A fresh ephemeral key pair: (private, public), both serialized.
pub fn generate_keypair<R: RngCore + CryptoRng>(rng: &mut R) -> (Zeroizing<Vec<u8>>, Vec<u8>) {
    let (sk, pk) = X25519HkdfSha256::gen_keypair(rng);
    (
        Zeroizing::new(sk.to_bytes().to_vec()),
        pk.to_bytes().to_vec(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::OsRng;

    #[test]
    fn round_trip_and_binding() {
        let (sk, pk) = generate_keypair(&mut OsRng);
        let s = seal(&pk, "k1", b"secret", b"ear-digest", &mut OsRng).unwrap();
        assert_eq!(&*open(&sk, "k1", &s, b"ear-digest").unwrap(), b"secret");
        // Another key id, another AAD, another recipient: all refused.
        assert!(open(&sk, "k2", &s, b"ear-digest").is_err());
        assert!(open(&sk, "k1", &s, b"other").is_err());
        let (sk2, _) = generate_keypair(&mut OsRng);
        assert!(open(&sk2, "k1", &s, b"ear-digest").is_err());
        let mut t = s.clone();
        t.ciphertext[0] ^= 1;
        assert!(open(&sk, "k1", &t, b"ear-digest").is_err());
    }

    #[test]
    fn bad_public_key_named() {
        assert_eq!(
            seal(&[1, 2, 3], "k", b"s", b"", &mut OsRng),
            Err(SealError::BadPublicKey(3))
        );
    }
}
