//! Fuzzes the policy v1 parser (TOML and JSON) and appraisal of empty
//! claims: no panic on any document.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealbuild_verifier_core::claims::{PlatformClaims, TpmClaims};
use sealbuild_verifier_core::policy::{Appraiser, Policy};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = Policy::parse(text) {
        let _ = p.appraise(&PlatformClaims::Tpm(TpmClaims::default()), None);
    }
});
