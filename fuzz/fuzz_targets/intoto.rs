//! Fuzz target for the build statement (`sealbuild_common::intoto`): parsing
//! must never panic; an accepted statement serializes to a payload that
//! reparses to the same value, and reading its provenance never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealbuild_common::intoto::Statement;

fuzz_target!(|data: &[u8]| {
    let Ok(st) = Statement::parse(data) else {
        return;
    };
    let payload = st.to_payload();
    let again = Statement::parse(&payload).expect("serialized statement reparses");
    assert_eq!(again, st);
    assert_eq!(
        again.to_payload(),
        payload,
        "serialization is deterministic"
    );
    let _ = st.provenance().map_err(|e| e.to_string());
    let _ = st.subject_digests();
});
