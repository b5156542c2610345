//! Fuzzes the Intel DCAP quote parser (v3 SGX, v4, v5): no panic on any
//! input, every accepted input re-serialises to the same bytes, and the
//! signed part is its prefix.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealbuild_common::tdx::Quote;

fuzz_target!(|data: &[u8]| {
    if let Ok(q) = Quote::parse(data) {
        assert_eq!(q.to_bytes(), data);
        let signed = q.signed_bytes();
        assert_eq!(data.get(..signed.len()), Some(signed.as_slice()));
        assert!(data.iter().skip(data.len() - q.padding).all(|&b| b == 0));
    }
});
