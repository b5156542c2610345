//! Fuzzes EK certificate path building and checking: the first byte picks
//! how the input splits into leaf, one intermediate and one anchor (all
//! untrusted DER). No panic, bounded work, on any input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealbuild_verifier_core::ekcert::{verify_ek_cert_chain, TrustAnchors};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let a = rest.len() * usize::from(sel & 0x0f) / 16;
    let b = a + (rest.len() - a) * usize::from(sel >> 4) / 16;
    let (leaf, tail) = rest.split_at(a);
    let (inter, anchor) = tail.split_at(b - a);
    if let Ok(anchors) = TrustAnchors::from_der([anchor]) {
        let _ = verify_ek_cert_chain(leaf, &[inter], &anchors, 1_795_000_000);
    }
    let _ = TrustAnchors::from_der([rest]);
});
