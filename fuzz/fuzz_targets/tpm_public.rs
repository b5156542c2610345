//! Fuzzes the TPMT_PUBLIC and TPM2B_PUBLIC parsers: no panic on any input,
//! every accepted input re-serialises to the same bytes, and the Name and
//! public-key helpers do not panic on what was accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealbuild_common::tpm::Public;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Public::parse(data) {
        assert_eq!(p.to_bytes(), data);
        let _ = p.name();
        let _ = p.public_key();
    }
    if let Ok(p) = Public::parse_tpm2b(data) {
        assert_eq!(p.to_tpm2b_bytes(), data);
    }
});
