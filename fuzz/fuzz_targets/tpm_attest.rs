//! Fuzzes the TPMS_ATTEST parser: no panic on any input, and every accepted
//! input re-serialises to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealbuild_common::tpm::Attest;

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = Attest::parse(data) {
        assert_eq!(a.to_bytes(), data);
        if let Some(q) = a.quote() {
            let _ = q.pcr_select().to_string();
        }
    }
});
