//! Fuzzes EAR decoding: the claims-set parser (common::ear, the agent's and
//! the verifier's), the unverified COSE_Sign1 payload reader the agent uses,
//! and COSE_Sign1 verification with a fixed key. No panic on any input; an
//! accepted claims set re-encodes to something that parses to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealbuild_verifier_core::ear::Ear;

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = Ear::from_cbor(data) {
        if let Ok(again) = e.to_cbor() {
            assert_eq!(Ear::from_cbor(&again).ok(), Some(e));
        }
    }
    let _ = sealbuild_common::ear::Ear::from_cose_unverified(data);
    if let Ok(key) = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]) {
        let _ = Ear::verify(data, key.verifying_key());
    }
});
