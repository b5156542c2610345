//! The one crypto provider (`sealbuild_common::crypto`, AWS-LC) against the
//! pure-Rust implementations it replaced: signatures made by `rsa`, `p256`,
//! `p384` and `ed25519-dalek` verify, and their one-bit-flipped twins (in
//! the message, the signature, the key) do not; OAEP ciphertexts decrypt
//! with `rsa`; HMAC and hashes agree with `hmac` / `sha2`.
// Test code: a failed unwrap, expect or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use sealbuild_common::crypto::{
    self, ecdsa_der, CryptoError, Curve, PssSalt, Scheme, VerifyingKey,
};
use sealbuild_common::HashAlg;
use sha2::Digest;

fn rsa_key() -> rsa::RsaPrivateKey {
    let pem = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/data/keys/openssl/rsa2048.pem"
    ))
    .unwrap();
    rsa::RsaPrivateKey::from_pkcs8_pem(&pem).unwrap()
}

fn flipped(b: &[u8], i: usize) -> Vec<u8> {
    let mut v = b.to_vec();
    let at = i % v.len();
    v[at] ^= 1;
    v
}

#[test]
fn rsa_pkcs1_and_pss_signatures_of_the_rsa_crate_verify() {
    let key = rsa_key();
    let (n, e) = (key.n().to_bytes_be(), key.e().to_bytes_be());
    let msg = b"TPMS_ATTEST stand-in";
    let mut rng = rand::thread_rng();
    for hash in [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512] {
        let digest = hash.digest(msg);
        let pkcs1 = match hash {
            HashAlg::Sha256 => rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
            HashAlg::Sha384 => rsa::Pkcs1v15Sign::new::<sha2::Sha384>(),
            _ => rsa::Pkcs1v15Sign::new::<sha2::Sha512>(),
        };
        let sig = key.sign(pkcs1, &digest).unwrap();
        let k = VerifyingKey::rsa(&n, &e, Scheme::RsaPkcs1v15(hash)).unwrap();
        k.verify(msg, &sig).unwrap();
        k.verify_digest(&digest, &sig).unwrap();
        assert_eq!(
            k.verify(&flipped(msg, 3), &sig),
            Err(CryptoError::BadSignature)
        );
        assert_eq!(
            k.verify(msg, &flipped(&sig, 100)),
            Err(CryptoError::BadSignature)
        );
        // Salt = digest length, the maximum, and an explicit 20 bytes.
        let max = 256 - hash.size() - 2;
        for (salt, scheme) in [
            (hash.size(), PssSalt::DigestLength),
            (max, PssSalt::Maximum),
            (20, PssSalt::Bytes(20)),
        ] {
            let pss = match hash {
                HashAlg::Sha256 => rsa::Pss::new_with_salt::<sha2::Sha256>(salt),
                HashAlg::Sha384 => rsa::Pss::new_with_salt::<sha2::Sha384>(salt),
                _ => rsa::Pss::new_with_salt::<sha2::Sha512>(salt),
            };
            let sig = key.sign_with_rng(&mut rng, pss, &digest).unwrap();
            let k = VerifyingKey::rsa(&n, &e, Scheme::RsaPss(hash, scheme)).unwrap();
            k.verify(msg, &sig)
                .unwrap_or_else(|e| panic!("{hash} salt {salt}: {e}"));
            assert!(k.verify(&flipped(msg, 0), &sig).is_err());
            // The same signature under another salt length does not verify.
            let other = if scheme == PssSalt::DigestLength {
                PssSalt::Bytes(0)
            } else {
                PssSalt::DigestLength
            };
            let k2 = VerifyingKey::rsa(&n, &e, Scheme::RsaPss(hash, other)).unwrap();
            assert!(
                k2.verify(msg, &sig).is_err(),
                "{hash} salt {salt} as {other:?}"
            );
        }
    }
    // Another modulus (one bit flipped) refuses a valid signature.
    let sig = key
        .sign(
            rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
            &HashAlg::Sha256.digest(msg),
        )
        .unwrap();
    let bad_n = flipped(&n, 200);
    if let Ok(k) = VerifyingKey::rsa(&bad_n, &e, Scheme::RsaPkcs1v15(HashAlg::Sha256)) {
        assert!(k.verify(msg, &sig).is_err());
    }
}

#[test]
fn ecdsa_signatures_of_p256_and_p384_verify_in_der_and_fixed_form() {
    use p256::ecdsa::signature::Signer;
    let msg = b"sealbuild ECDSA cross-check";
    let k256 = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
    let s: p256::ecdsa::Signature = k256.sign(msg);
    let point = k256.verifying_key().to_encoded_point(false);
    let v = VerifyingKey::ecdsa(Curve::P256, point.as_bytes(), HashAlg::Sha256).unwrap();
    v.verify(msg, s.to_der().as_bytes()).unwrap();
    let fixed = s.to_bytes();
    v.verify_ecdsa_rs(msg, &fixed[..32], &fixed[32..]).unwrap();
    assert!(v
        .verify_ecdsa_rs(&flipped(msg, 1), &fixed[..32], &fixed[32..])
        .is_err());
    assert!(v.verify(msg, &flipped(s.to_der().as_bytes(), 10)).is_err());
    // Our DER encoding of (r, s) is the p256 crate's.
    assert_eq!(
        ecdsa_der(Curve::P256, &fixed[..32], &fixed[32..]).unwrap(),
        s.to_der().as_bytes()
    );

    let k384 = p384::ecdsa::SigningKey::from_slice(&[9u8; 48]).unwrap();
    let s: p384::ecdsa::Signature = k384.sign(msg);
    let p = k384.verifying_key().to_encoded_point(false);
    let v = VerifyingKey::ecdsa_xy(Curve::P384, p.x().unwrap(), p.y().unwrap(), HashAlg::Sha384)
        .unwrap();
    v.verify(msg, s.to_der().as_bytes()).unwrap();
    let fixed = s.to_bytes();
    v.verify_ecdsa_rs(msg, &fixed[..48], &fixed[48..]).unwrap();
    assert!(v
        .verify_ecdsa_rs(msg, &flipped(&fixed[..48], 5), &fixed[48..])
        .is_err());
    // A point off the curve is refused as a key.
    let mut off = p.as_bytes().to_vec();
    off[60] ^= 1;
    assert!(matches!(
        VerifyingKey::ecdsa(Curve::P384, &off, HashAlg::Sha384),
        Err(CryptoError::BadKey(_))
    ));
}

#[test]
fn ed25519_signatures_of_ed25519_dalek_verify() {
    use ed25519_dalek::Signer;
    let k = ed25519_dalek::SigningKey::from_bytes(&[3u8; 32]);
    let msg = b"DSSE PAE stand-in";
    let sig = k.sign(msg).to_bytes();
    let v = VerifyingKey::ed25519(k.verifying_key().as_bytes()).unwrap();
    v.verify(msg, &sig).unwrap();
    assert!(v.verify(&flipped(msg, 2), &sig).is_err());
    assert!(v.verify(msg, &flipped(&sig, 40)).is_err());
}

#[test]
fn oaep_ciphertexts_decrypt_with_the_rsa_crate() {
    let key = rsa_key();
    let (n, e) = (key.n().to_bytes_be(), key.e().to_bytes_be());
    let seed = [0x5au8; 32];
    for hash in [HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha384] {
        let ct = crypto::rsa_oaep_encrypt(&n, &e, hash, b"IDENTITY\0", &seed).unwrap();
        assert_eq!(ct.len(), 256);
        let padding = match hash {
            HashAlg::Sha1 => rsa::Oaep::new_with_label::<sha1::Sha1, _>("IDENTITY\0"),
            HashAlg::Sha256 => rsa::Oaep::new_with_label::<sha2::Sha256, _>("IDENTITY\0"),
            _ => rsa::Oaep::new_with_label::<sha2::Sha384, _>("IDENTITY\0"),
        };
        assert_eq!(key.decrypt(padding, &ct).unwrap(), seed);
        // Another label does not decrypt.
        let wrong = rsa::Oaep::new_with_label::<sha2::Sha256, _>("OTHER\0");
        if hash == HashAlg::Sha256 {
            assert!(key.decrypt(wrong, &ct).is_err());
        }
    }
    assert!(matches!(
        crypto::rsa_oaep_encrypt(&[0xff; 128], &e, HashAlg::Sha256, b"", &seed),
        Err(CryptoError::BadKey(_))
    ));
}

#[test]
fn hmac_and_hashes_agree_with_the_rustcrypto_crates() {
    use hmac::Mac;
    let key = b"kdfa key";
    let parts: [&[u8]; 3] = [b"IDENTITY\0", b"name", b"seed"];
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    for p in parts {
        m.update(p);
    }
    assert_eq!(
        crypto::hmac(HashAlg::Sha256, key, &parts),
        m.finalize().into_bytes().to_vec()
    );
    let data = vec![0xa5u8; 100_003];
    assert_eq!(
        HashAlg::Sha384.digest(&data),
        sha2::Sha384::digest(&data).to_vec()
    );
    assert_eq!(HashAlg::Sha1.digest(&data), {
        use sha1::Digest as _;
        sha1::Sha1::digest(&data).to_vec()
    });
}
