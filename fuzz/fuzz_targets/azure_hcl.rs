//! Fuzzes the Azure HCL report parsers (SEV-SNP and TDX), its runtime-claims
//! JSON and the Azure SEV-SNP and TDX evidence JSON: no panic on any input,
//! and every accepted HCL report re-serialises to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealbuild_verifier_core::azure::{
    AnyHclReport, AzureSnpEvidence, AzureTdxEvidence, HclReport, HclTdxReport, RuntimeClaims,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = HclReport::parse(data) {
        assert_eq!(r.to_bytes(), data);
        assert_eq!(
            r.snp_report_bytes(),
            data.get(0x20..0x4C0).unwrap_or_default()
        );
        if let Ok(claims) = r.runtime_claims() {
            let _ = claims.ak_pub();
            let _ = claims.ek_pub();
            let _ = claims.user_data_bytes();
        }
    }
    if let Ok(r) = HclTdxReport::parse(data) {
        assert_eq!(r.to_bytes(), data);
        assert_eq!(
            r.td_report_bytes(),
            data.get(0x20..0x420).unwrap_or_default()
        );
        assert_eq!(r.td_report.to_bytes(), r.td_report_bytes());
        let _ = r.ak_pub();
    }
    if let Ok(any) = AnyHclReport::parse(data) {
        let _ = any.var_data();
    }
    if let Ok(claims) = RuntimeClaims::parse(data) {
        let _ = claims.ak_pub();
        let _ = claims.user_data_bytes();
    }
    let _ = AzureSnpEvidence::from_json(data);
    let _ = AzureTdxEvidence::from_json(data);
});
