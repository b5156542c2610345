//! Fuzzes the DCAP collateral readers: the JSON bundle, the signed TCB Info
//! and QE Identity documents, and the PCK certificate's SGX extensions.
//! Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealbuild_verifier_core::tdx::tcbinfo::{QeIdentity, TcbInfo};
use sealbuild_verifier_core::tdx::{PckExtensions, SignedJson, TdxCollateral};

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = TdxCollateral::from_bundle_json(data) {
        let _ = c.tcb_info.parse::<TcbInfo>("TCB Info");
        let _ = c.qe_identity.parse::<QeIdentity>("QE Identity");
    }
    let doc = SignedJson {
        body: data.to_vec(),
        signature: [0; 64],
        issuer_chain: Vec::new(),
    };
    let _ = doc.parse::<TcbInfo>("TCB Info");
    let _ = doc.parse::<QeIdentity>("QE Identity");
    let _ = PckExtensions::from_der(data);
});
