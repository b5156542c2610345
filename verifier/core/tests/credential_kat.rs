//! Known answers for KDFa/KDFe and the input checks of MakeCredential.
//!
//! The expected KDF outputs were computed once, independently, with Python
//! 3.11's `hmac`/`hashlib` straight from TPM 2.0 Library Part 1 rev 1.59
//! §11.4.10.2/§11.4.10.3:
//!
//! ```text
//! def kdfa(h, key, label, u, v, bits):   # HMAC(key, [i]32 || label || 00 || u || v || [bits]32)
//!     out = b''; i = 1
//!     while len(out) * 8 < bits:
//!         out += hmac.new(key, i.to_bytes(4, 'big') + label + b'\0' + u + v + bits.to_bytes(4, 'big'), h).digest(); i += 1
//!     return out[:bits // 8]
//! def kdfe(h, z, label, u, v, bits):     # H([i]32 || Z || label || 00 || u || v)
//!     out = b''; i = 1
//!     while len(out) * 8 < bits:
//!         out += h(i.to_bytes(4, 'big') + z + label + b'\0' + u + v).digest(); i += 1
//!     return out[:bits // 8]
//! ```

// Test code: failures are meant to panic with a message (clippy.toml allows
// this inside #[test] functions; the helpers here need it too).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use rand_core::OsRng;
use sealbuild_common::HashAlg;
use sealbuild_verifier_core::credential::{
    kdfa, kdfe, make_credential, CredentialError, EkCurve, EkKey, EkPublicKey, MadeCredential,
};

fn name_sha256() -> Vec<u8> {
    let mut n = vec![0x00, 0x0b];
    n.extend([0xaa; 32]);
    n
}

#[test]
fn kdfa_known_answers() {
    let key: Vec<u8> = (0u8..32).collect();
    // kdfa(sha256, bytes(range(32)), b'STORAGE', 000b || aa*32, b'', 128)
    assert_eq!(
        hex::encode(kdfa(
            HashAlg::Sha256,
            &key,
            b"STORAGE",
            &name_sha256(),
            &[],
            128
        )),
        "0415b32b6f43896a87e7b29be8f2ac14"
    );
    // The label's NUL may also be passed explicitly: same result.
    assert_eq!(
        kdfa(
            HashAlg::Sha256,
            &key,
            b"STORAGE\0",
            &name_sha256(),
            &[],
            128
        ),
        kdfa(HashAlg::Sha256, &key, b"STORAGE", &name_sha256(), &[], 128)
    );
    // kdfa(sha256, bytes(range(32)), b'INTEGRITY', b'', b'', 256)
    assert_eq!(
        hex::encode(kdfa(HashAlg::Sha256, &key, b"INTEGRITY", &[], &[], 256)),
        "bacf689f634ece301e1f1b15b072d9c87db6a69585db42b1a0cb8f73ebe2692e"
    );
    // Four SHA-1 blocks, truncated: kdfa(sha1, bytes(range(20)), b'XYZ', 0102, 03, 520)
    let key20: Vec<u8> = (0u8..20).collect();
    assert_eq!(
        hex::encode(kdfa(HashAlg::Sha1, &key20, b"XYZ", &[1, 2], &[3], 520)),
        "3c28793d24e52fd8e2ca98001a6db1f15730d32b87e104e68f318344c68bb1036ba9584ccabd839d5c7d70ac6348b2d7eb5e7bf70695d74b9b578682ed9c704f58"
    );
    // Two SHA-384 blocks: kdfa(sha384, bytes(range(48)), b'STORAGE', 000b || aa*32, b'', 512)
    let key48: Vec<u8> = (0u8..48).collect();
    assert_eq!(
        hex::encode(kdfa(HashAlg::Sha384, &key48, b"STORAGE", &name_sha256(), &[], 512)),
        "96e778272d4cf7d0b16348ba920a1817958acb8ec987b4c5a0e22563da0ad697dd29694b32eecd92f749df82a3edd79e694ec54a3ee1f34354655e795bc8adbc"
    );
}

#[test]
fn kdfa_odd_bit_count_masks_the_first_octet() {
    // Python: d = hmac.new(07*32, [1]32 || b'L\0' || [12]32, sha256).digest()[:2]
    // = ecd5; the 4 unused high bits of the first octet are cleared -> 0cd5.
    let odd = kdfa(HashAlg::Sha256, &[7u8; 32], b"L", &[], &[], 12);
    assert_eq!(hex::encode(odd), "0cd5");
    assert!(kdfa(HashAlg::Sha256, &[7u8; 32], b"L", &[], &[], 0).is_empty());
}

#[test]
fn kdfe_known_answers() {
    // kdfe(sha256, 11*32, b'IDENTITY', 22*32, 33*32, 256)
    assert_eq!(
        hex::encode(kdfe(
            HashAlg::Sha256,
            &[0x11; 32],
            b"IDENTITY",
            &[0x22; 32],
            &[0x33; 32],
            256
        )),
        "349308f14b258cab5f67a14bfd8329ea42365fcdca2f9e7e658bc7504d5d0cb3"
    );
    // kdfe(sha384, 11*48, b'IDENTITY', 22*48, 33*48, 384)
    assert_eq!(
        hex::encode(kdfe(HashAlg::Sha384, &[0x11; 48], b"IDENTITY", &[0x22; 48], &[0x33; 48], 384)),
        "7d7147b0a398348c9b609c86403d4e69a591f729202069dbc3b399dbc22c9dd444d17b52415e1d02c1e55cc401266433"
    );
}

fn p256_ek() -> EkPublicKey {
    // 0x1234567890abcdef · G on P-256 (computed with Python `cryptography`).
    EkPublicKey {
        name_alg: HashAlg::Sha256,
        sym_key_bits: 128,
        key: EkKey::Ecc {
            curve: EkCurve::P256,
            x: hex::decode("9fad84aeae08bbef7f010014d82cef6a09de2b0cf871b5ce0c4f1d13a59a5934")
                .unwrap(),
            y: hex::decode("07cb45769f1070e2c2470fe5b1bfe63133c0b0cdc64ea4bf3791a8ec2a07fd4f")
                .unwrap(),
        },
    }
}

#[test]
fn ecc_blob_layout() {
    let made = make_credential(&p256_ek(), &name_sha256(), b"0123456789", &mut OsRng).unwrap();
    // TPM2B_ID_OBJECT: size, TPM2B_DIGEST(32-byte HMAC), encIdentity (2 + 10).
    assert_eq!(made.id_object.len(), 2 + 2 + 32 + 12);
    assert_eq!(made.id_object[..4], [0x00, 0x2e, 0x00, 0x20]);
    // TPM2B_ENCRYPTED_SECRET holding TPMS_ECC_POINT(32-byte x, 32-byte y).
    assert_eq!(made.encrypted_secret.len(), 2 + 2 + 32 + 2 + 32);
    assert_eq!(made.encrypted_secret[..4], [0x00, 0x44, 0x00, 0x20]);
    assert_eq!(made.encrypted_secret[36..38], [0x00, 0x20]);
    let file = made.to_tpm2_tools_file();
    assert_eq!(file[..8], [0xba, 0xdc, 0xc0, 0xde, 0, 0, 0, 1]);
    assert_eq!(
        file[8..],
        [made.id_object.clone(), made.encrypted_secret.clone()].concat()[..]
    );
    // Fresh ephemeral key each time.
    let again = make_credential(&p256_ek(), &name_sha256(), b"0123456789", &mut OsRng).unwrap();
    assert_ne!(again, made);
}

#[test]
fn credential_size_limits() {
    let ek = p256_ek();
    let err = make_credential(&ek, &name_sha256(), &[0; 33], &mut OsRng).unwrap_err();
    assert_eq!(
        err,
        CredentialError::CredentialSize {
            name_alg: HashAlg::Sha256,
            max: 32,
            got: 33
        }
    );
    assert!(err.to_string().contains("expected 1 to 32 bytes"), "{err}");
    assert!(make_credential(&ek, &name_sha256(), &[], &mut OsRng).is_err());
    assert!(make_credential(&ek, &name_sha256(), &[0; 32], &mut OsRng).is_ok());
}

#[test]
fn bad_names_refused() {
    let ek = p256_ek();
    let mut long = name_sha256();
    long.push(0);
    let mut short = name_sha256();
    short.pop();
    let mut sm3 = name_sha256();
    sm3[1] = 0x12; // TPM_ALG_SM3_256: not supported
    let handle = vec![0x40, 0, 0, 0x0b];
    for (what, name) in [
        ("trailing", long),
        ("short", short),
        ("alg", sm3),
        ("handle", handle),
        ("empty", vec![]),
    ] {
        let err = make_credential(&ek, &name, b"x", &mut OsRng).unwrap_err();
        assert!(
            matches!(err, CredentialError::BadName { .. }),
            "{what}: {err}"
        );
    }
}

#[test]
fn bad_keys_refused() {
    let mut ek = p256_ek();
    ek.sym_key_bits = 64;
    assert_eq!(
        make_credential(&ek, &name_sha256(), b"x", &mut OsRng).unwrap_err(),
        CredentialError::SymKeyBits(64)
    );
    let mut ek = p256_ek();
    if let EkKey::Ecc { y, .. } = &mut ek.key {
        y[31] ^= 1;
    }
    let err = make_credential(&ek, &name_sha256(), b"x", &mut OsRng).unwrap_err();
    assert!(err.to_string().contains("not on the curve"), "{err}");
    let small = EkPublicKey {
        name_alg: HashAlg::Sha256,
        sym_key_bits: 128,
        key: EkKey::Rsa {
            n: vec![0xc5; 128],
            e: 0,
        },
    };
    let err = make_credential(&small, &name_sha256(), b"x", &mut OsRng).unwrap_err();
    assert!(matches!(err, CredentialError::BadRsaKey(_)), "{err}");
}

#[test]
fn made_credential_file_is_header_plus_blobs() {
    let m = MadeCredential {
        id_object: vec![0, 1, 9],
        encrypted_secret: vec![0, 2, 7, 7],
    };
    assert_eq!(
        m.to_tpm2_tools_file(),
        [0xba, 0xdc, 0xc0, 0xde, 0, 0, 0, 1, 0, 1, 9, 0, 2, 7, 7]
    );
}
