//! Fuzzes the SEV-SNP ATTESTATION_REPORT parser: no panic on any input, and
//! every accepted input re-serialises to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealbuild_common::snp::AttestationReport;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = AttestationReport::parse(data) {
        assert_eq!(r.to_bytes(), data);
        assert_eq!(r.signed_bytes(), data.get(..0x2A0).unwrap_or_default());
    }
});
