//! Fuzzes the TPMT_SIGNATURE parser: no panic on any input, and every
//! accepted input re-serialises to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealbuild_common::tpm::Signature;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = Signature::parse(data) {
        assert_eq!(s.to_bytes(), data);
    }
});
