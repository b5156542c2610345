//! Release keys: generation and PKCS#8 import (keys made by OpenSSL, the RFC
//! 8410 example), encryption at rest in a real database (SQLite file and
//! PostgreSQL), the AAD
//! binding to the row, wrong master keys and master key files.

// Test code: panicking on an unexpected result is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod store_support;

use sealbuild_verifier::keys::{
    derived_key_id, KeyAlgorithm, KeyError, KeyManager, KeyOrigin, MasterKey, MASTER_KEY_ENV,
};
use sealbuild_verifier::store::{KeyRecord, Store, StoreError};
use sha2::{Digest, Sha256};
use store_support::*;

fn data(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../tests/data/keys/openssl/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn text(name: &str) -> String {
    String::from_utf8(data(name)).unwrap()
}

fn spki_der_of_pem(pem: &str) -> Vec<u8> {
    let (label, doc) = pkcs8::Document::from_pem(pem).unwrap();
    assert_eq!(label, "PUBLIC KEY");
    doc.as_bytes().to_vec()
}

/// Signs with the unsealed private key and verifies with the stored public
/// key: the two halves in the row belong together.
fn assert_key_pair_works(record: &KeyRecord, pkcs8_der: &[u8]) {
    use pkcs8::{DecodePrivateKey, DecodePublicKey};
    let msg = b"sealbuild release key test";
    let pem = &record.public.public_key_pem;
    match record.public.algorithm {
        KeyAlgorithm::Ed25519 => {
            use ed25519_dalek::{Signer, Verifier};
            let sk = ed25519_dalek::SigningKey::from_pkcs8_der(pkcs8_der).unwrap();
            let vk = ed25519_dalek::VerifyingKey::from_public_key_pem(pem).unwrap();
            vk.verify(msg, &sk.sign(msg)).unwrap();
        }
        KeyAlgorithm::EcdsaP256 => {
            use p256::ecdsa::signature::{Signer, Verifier};
            let sk = p256::ecdsa::SigningKey::from_pkcs8_der(pkcs8_der).unwrap();
            let vk = p256::ecdsa::VerifyingKey::from_public_key_pem(pem).unwrap();
            let sig: p256::ecdsa::Signature = sk.sign(msg);
            vk.verify(msg, &sig).unwrap();
        }
        KeyAlgorithm::EcdsaP384 => {
            use p384::ecdsa::signature::{Signer, Verifier};
            let sk = p384::ecdsa::SigningKey::from_pkcs8_der(pkcs8_der).unwrap();
            let vk = p384::ecdsa::VerifyingKey::from_public_key_pem(pem).unwrap();
            let sig: p384::ecdsa::Signature = sk.sign(msg);
            vk.verify(msg, &sig).unwrap();
        }
    }
}

both_backends!(
    generated_keys_round_trip_through_the_database,
    openssl_keys_import_as_pem_and_der_with_identical_public_keys,
    a_wrong_master_key_fails_with_a_clear_message,
    blobs_moved_between_rows_do_not_decrypt,
);

fn generated_keys_round_trip_through_the_database(backend: Backend) {
    let db = TestDb::new(backend);
    let store = db.open();
    let km = KeyManager::new(MasterKey::from_bytes([0x42; 32]));
    for alg in KeyAlgorithm::ALL {
        let named = km.generate(alg, Some(&format!("key-{alg}"))).unwrap();
        let unnamed = km.generate(alg, None).unwrap();
        for new in [named, unnamed] {
            let spki = spki_der_of_pem(&new.public.public_key_pem);
            assert_eq!(new.public.fingerprint, hex::encode(Sha256::digest(&spki)));
            assert_eq!(new.public.algorithm, alg);
            assert_eq!(new.origin, KeyOrigin::Generated);
            let stored = store.insert_key(&new, NOW).unwrap();
            assert_eq!(stored.public, new.public);
            assert!(!stored.disabled);
            // Read back from the database through a second store.
            let again = db.open().key(&new.public.key_id).unwrap().unwrap();
            assert_eq!(again, stored);
            let pkcs8 = km.unseal(&again).unwrap();
            assert_key_pair_works(&again, &pkcs8);
        }
    }
    let ids: Vec<String> = store
        .list_keys()
        .unwrap()
        .into_iter()
        .map(|k| k.public.key_id)
        .collect();
    assert_eq!(ids.len(), 6);
    assert!(ids.contains(&"key-ecdsa-p384".to_string()));
    let derived: Vec<&String> = ids.iter().filter(|i| i.starts_with("sha256:")).collect();
    assert_eq!(derived.len(), 3);
    for id in derived {
        let k = store.key(id).unwrap().unwrap();
        assert_eq!(
            *id,
            derived_key_id(&spki_der_of_pem(&k.public.public_key_pem))
        );
        assert_eq!(id[7..], k.public.fingerprint[..16]);
    }
    // Each creation is audited.
    let kinds: Vec<String> = store
        .audit_entries(1, 100)
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, vec!["key_created"; 6]);
    // The stored blob is not the plaintext and Debug shows neither.
    let k = store.key("key-ed25519").unwrap().unwrap();
    let pkcs8 = km.unseal(&k).unwrap();
    let dbg = format!("{k:?} {km:?}");
    assert!(
        dbg.contains("SealedPrivateKey(") && dbg.contains("<redacted>"),
        "{dbg}"
    );
    assert!(!dbg.contains(&format!("{:?}", pkcs8.as_slice())));
}

fn openssl_keys_import_as_pem_and_der_with_identical_public_keys(backend: Backend) {
    let db = TestDb::new(backend);
    let store = db.open();
    let km = KeyManager::new(MasterKey::from_bytes([0x17; 32]));
    for (name, alg) in [
        ("ed25519", KeyAlgorithm::Ed25519),
        ("p256", KeyAlgorithm::EcdsaP256),
        ("p384", KeyAlgorithm::EcdsaP384),
    ] {
        let from_pem = km
            .import_pkcs8(&data(&format!("{name}.pem")), Some(name))
            .unwrap();
        let from_der = km
            .import_pkcs8(&data(&format!("{name}.der")), None)
            .unwrap();
        assert_eq!(from_pem.public.algorithm, alg, "{name}");
        assert_eq!(from_pem.origin, KeyOrigin::Imported);
        // Same SPKI PEM text as `openssl pkey -pubout`, same fingerprint.
        assert_eq!(
            from_pem.public.public_key_pem,
            text(&format!("{name}.pub.pem")),
            "{name}"
        );
        let want = text(&format!("{name}.pub.sha256"));
        assert_eq!(from_pem.public.fingerprint, want.trim(), "{name}");
        assert_eq!(from_der.public.fingerprint, from_pem.public.fingerprint);
        assert_eq!(from_der.public.key_id, format!("sha256:{}", &want[..16]));

        let stored = store.insert_key(&from_pem, NOW).unwrap();
        // The same key a second time (under another id) is refused.
        let err = store.insert_key(&from_der, NOW).unwrap_err();
        assert!(
            matches!(&err, StoreError::AlreadyExists { id, .. } if id == name),
            "{err}"
        );
        let pkcs8 = km.unseal(&stored).unwrap();
        assert_key_pair_works(&stored, &pkcs8);
        // What is released re-imports to the same public key.
        let again = km.import_pkcs8(&pkcs8, Some("again")).unwrap();
        assert_eq!(again.public.fingerprint, stored.public.fingerprint);
    }
    let err = store
        .insert_key(
            &km.import_pkcs8(&data("p256.pem"), Some("ed25519")).unwrap(),
            NOW,
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err}");
    let kinds: Vec<String> = store
        .audit_entries(1, 10)
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, vec!["key_imported"; 3]);
}

#[test]
fn the_rfc8410_example_key_imports() {
    // RFC 8410 §10.3 (private key) and §10.1 (its public key).
    let private = "-----BEGIN PRIVATE KEY-----\n\
                   MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n\
                   -----END PRIVATE KEY-----\n";
    let public = "-----BEGIN PUBLIC KEY-----\n\
                  MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n\
                  -----END PUBLIC KEY-----\n";
    let km = KeyManager::new(MasterKey::from_bytes([5; 32]));
    let k = km
        .import_pkcs8(private.as_bytes(), Some("rfc8410"))
        .unwrap();
    assert_eq!(k.public.algorithm, KeyAlgorithm::Ed25519);
    assert_eq!(k.public.public_key_pem, public);
}

#[test]
fn other_algorithms_and_malformed_keys_are_refused() {
    let km = KeyManager::new(MasterKey::from_bytes([5; 32]));
    let unsupported = |name: &str, oid: &str, curve: Option<&str>| {
        let err = km.import_pkcs8(&data(name), None).unwrap_err();
        match &err {
            KeyError::UnsupportedAlgorithm { oid: o, curve: c } => {
                assert_eq!(o, oid, "{name}");
                assert_eq!(c.as_deref(), curve, "{name}");
            }
            other => panic!("{name}: expected UnsupportedAlgorithm, got {other}"),
        }
        assert!(err.to_string().contains("supported are Ed25519"), "{err}");
    };
    unsupported("p521.pem", "1.2.840.10045.2.1", Some("1.3.132.0.35"));
    unsupported("secp256k1.pem", "1.2.840.10045.2.1", Some("1.3.132.0.10"));
    unsupported("x25519.pem", "1.3.101.110", None);
    unsupported("rsa2048.pem", "1.2.840.113549.1.1.1", None);

    let msg = km
        .import_pkcs8(&data("p256-encrypted.pem"), None)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("encrypted PKCS#8 is not accepted"), "{msg}");
    let msg = km
        .import_pkcs8(&data("p256-sec1.pem"), None)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("SEC1"), "{msg}");
    let msg = km
        .import_pkcs8(&data("p256-sec1.der"), None)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("not a DER PKCS#8 PrivateKeyInfo"), "{msg}");
    let err = km.import_pkcs8(b"not a key", None).unwrap_err();
    assert!(matches!(err, KeyError::Pkcs8(_)), "{err}");

    // Mutated twins of real OpenSSL keys.
    for name in ["ed25519.der", "p256.der", "p384.der"] {
        let good = data(name);
        km.import_pkcs8(&good, None).unwrap();
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(
            km.import_pkcs8(&trailing, None).is_err(),
            "{name}: trailing byte"
        );
        assert!(
            km.import_pkcs8(&good[..good.len() - 1], None).is_err(),
            "{name}: truncated"
        );
        // Last byte of the algorithm OID (at offset 11..13 in all three).
        let oid_at = good
            .windows(2)
            .position(|w| w == [0x06, if name.starts_with("ed") { 0x03 } else { 0x07 }])
            .unwrap();
        let mut bad_oid = good.clone();
        let last = oid_at + 1 + bad_oid[oid_at + 1] as usize;
        bad_oid[last] ^= 0x01;
        assert!(km.import_pkcs8(&bad_oid, None).is_err(), "{name}: OID");
    }
    // EC keys from OpenSSL carry their public key: changing the private
    // scalar makes them inconsistent, which is refused.
    for name in ["p256.der", "p384.der"] {
        let good = data(name);
        // ECPrivateKey: SEQUENCE { INTEGER 1, OCTET STRING d, ... }
        let d_at = good
            .windows(3)
            .position(|w| w == [0x02, 0x01, 0x01])
            .unwrap()
            + 5;
        let mut bad = good.clone();
        bad[d_at] ^= 0x01;
        let err = km.import_pkcs8(&bad, None).unwrap_err();
        assert!(matches!(err, KeyError::Pkcs8(_)), "{name}: {err}");
    }

    let err = km
        .generate(KeyAlgorithm::Ed25519, Some("bad name"))
        .unwrap_err();
    assert!(matches!(err, KeyError::InvalidKeyId { .. }), "{err}");
    assert!(KeyAlgorithm::from_name("rsa").is_none());
}

fn a_wrong_master_key_fails_with_a_clear_message(backend: Backend) {
    let db = TestDb::new(backend);
    let store = db.open();
    let km = KeyManager::new(MasterKey::from_bytes([1; 32]));
    store
        .insert_key(
            &km.generate(KeyAlgorithm::EcdsaP256, Some("build-signing"))
                .unwrap(),
            NOW,
        )
        .unwrap();
    let rec = store.key("build-signing").unwrap().unwrap();
    let other = KeyManager::new(MasterKey::from_bytes([2; 32]));
    let err = other.unseal(&rec).unwrap_err();
    assert!(matches!(err, KeyError::Unseal { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("master key does not decrypt key 'build-signing' (authentication failed)"),
        "{err}"
    );
    km.unseal(&rec).unwrap();
}

fn blobs_moved_between_rows_do_not_decrypt(backend: Backend) {
    let db = TestDb::new(backend);
    let store = db.open();
    let km = KeyManager::new(MasterKey::from_bytes([9; 32]));
    for id in ["alpha", "beta"] {
        store
            .insert_key(&km.generate(KeyAlgorithm::Ed25519, Some(id)).unwrap(), NOW)
            .unwrap();
    }
    store
        .insert_key(
            &km.generate(KeyAlgorithm::EcdsaP256, Some("gamma")).unwrap(),
            NOW,
        )
        .unwrap();
    // Same algorithm, other id: the key id in the AAD stops it.
    db.exec(
        "UPDATE keys SET sealed_private_key = \
         (SELECT sealed_private_key FROM keys WHERE key_id = 'alpha') WHERE key_id = 'beta'",
    )
    .unwrap();
    let beta = store.key("beta").unwrap().unwrap();
    let err = km.unseal(&beta).unwrap_err();
    assert!(
        matches!(&err, KeyError::Unseal { key_id } if key_id == "beta"),
        "{err}"
    );
    km.unseal(&store.key("alpha").unwrap().unwrap()).unwrap();

    // The algorithm in the AAD: gamma relabelled as Ed25519 does not decrypt.
    db.exec("UPDATE keys SET algorithm = 'ed25519' WHERE key_id = 'gamma'")
        .unwrap();
    let gamma = store.key("gamma").unwrap().unwrap();
    assert!(matches!(
        km.unseal(&gamma).unwrap_err(),
        KeyError::Unseal { .. }
    ));

    // A swapped public key column is found after decryption.
    db.exec(
        "UPDATE keys SET public_key_pem = \
         (SELECT public_key_pem FROM keys WHERE key_id = 'beta') WHERE key_id = 'alpha'",
    )
    .unwrap();
    let alpha = store.key("alpha").unwrap().unwrap();
    let err = km.unseal(&alpha).unwrap_err();
    assert!(
        matches!(
            err,
            KeyError::RecordMismatch {
                what: "public key",
                ..
            }
        ),
        "{err}"
    );

    // A blob that is not a sealed key at all is reported as corrupt.
    db.exec(&format!(
        "UPDATE keys SET sealed_private_key = {} WHERE key_id = 'alpha'",
        db.blob(&[0x02])
    ))
    .unwrap();
    let err = store.key("alpha").unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
}

#[test]
fn master_key_files_and_environment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("master.key");
    let generated = MasterKey::generate_to_file(&path).unwrap();
    let content = std::fs::read_to_string(&path).unwrap();
    assert_eq!(content.len(), 65);
    assert!(content.trim().chars().all(|c| c.is_ascii_hexdigit()));
    let err = MasterKey::generate_to_file(&path).unwrap_err();
    assert!(matches!(err, KeyError::MasterKeyExists { .. }), "{err}");

    // What one instance seals, the key loaded from the file unseals.
    let (_dbdir, db) = temp_db();
    let store = open(&db);
    let km = KeyManager::new(generated);
    store
        .insert_key(
            &km.generate(KeyAlgorithm::EcdsaP384, Some("k")).unwrap(),
            NOW,
        )
        .unwrap();
    let rec = store.key("k").unwrap().unwrap();
    KeyManager::new(MasterKey::from_file(&path).unwrap())
        .unseal(&rec)
        .unwrap();

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let err = MasterKey::from_file(&path).unwrap_err();
        assert!(
            matches!(err, KeyError::MasterKeyPermissions { mode: 0o640, .. }),
            "{err}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("group or others") && msg.contains("chmod 600"),
            "{msg}"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    // 32 raw bytes are accepted from a file.
    let raw_path = dir.path().join("raw.key");
    {
        use std::io::Write;
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        o.open(&raw_path).unwrap().write_all(&[0xab; 32]).unwrap();
    }
    let from_raw = KeyManager::new(MasterKey::from_file(&raw_path).unwrap());
    let sealed = from_raw.generate(KeyAlgorithm::Ed25519, Some("r")).unwrap();

    // The environment variable (hex). This is the only test touching it.
    std::env::remove_var(MASTER_KEY_ENV);
    assert!(MasterKey::from_env().unwrap().is_none());
    std::env::set_var(MASTER_KEY_ENV, "ab".repeat(32));
    let from_env = KeyManager::new(MasterKey::from_env().unwrap().unwrap());
    let (_d2, db2) = temp_db();
    let store2 = open(&db2);
    let rec = store2.insert_key(&sealed, NOW).unwrap();
    from_env.unseal(&rec).unwrap();
    std::env::set_var(MASTER_KEY_ENV, "not hex");
    let err = MasterKey::from_env().unwrap_err();
    assert!(err.to_string().contains(MASTER_KEY_ENV), "{err}");
    std::env::remove_var(MASTER_KEY_ENV);
}
