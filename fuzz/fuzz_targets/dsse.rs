//! Fuzz target for DSSE envelopes (`sealbuild_common::dsse`): parsing must
//! never panic; an accepted envelope serializes to one JSON line that
//! reparses to the same value; verification with a fixed Ed25519 key never
//! panics, and bytes that also parse as a public key never make it panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealbuild_common::dsse::{DsseSigner, DsseVerifier, Envelope};

/// PKCS#8 v1 Ed25519 private key (RFC 8410 §7) with the seed 07…07.
const ED25519_PKCS8: [u8; 48] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
];

fuzz_target!(|data: &[u8]| {
    if let Ok(env) = Envelope::from_json(data) {
        let line = env.to_json_line();
        assert!(!line.contains('\n'));
        let again = Envelope::from_json(line.as_bytes()).expect("serialized envelope reparses");
        assert_eq!(again, env);
        let key = DsseSigner::from_pkcs8_der(&ED25519_PKCS8).expect("fixed key loads");
        let _ = key.verifier().verify(&env).map_err(|e| e.to_string());
        let _ = env.pae();
    }
    if let Ok(v) = DsseVerifier::from_spki_der(data) {
        let _ = v.keyid();
    }
    let _ = DsseSigner::from_pkcs8_der(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = DsseVerifier::from_spki_pem(text);
    }
});
