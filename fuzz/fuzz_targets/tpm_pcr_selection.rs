//! Fuzzes the PCR selection parsers (TPML_PCR_SELECTION, the tpm2-tools text
//! form) and the tpm2-tools PCR files: no panic on any input, and every
//! accepted input re-serialises to the same bytes (text: to an equal value).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealbuild_common::tpm::{parse_tools_pcr_values, PcrSelectionList, ToolsPcrFile};

fuzz_target!(|data: &[u8]| {
    if let Ok(l) = PcrSelectionList::parse(data) {
        assert_eq!(l.to_bytes(), data);
        let _ = l.pcrs().count();
        // The -F values reader with a selection taken from the input.
        let _ = parse_tools_pcr_values(data, &l);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(l) = PcrSelectionList::parse_tools_spec(text) {
            assert_eq!(
                PcrSelectionList::parse_tools_spec(&l.to_string()).ok(),
                Some(l)
            );
        }
    }
    if let Ok(f) = ToolsPcrFile::parse(data) {
        assert_eq!(f.to_bytes(), data);
    }
});
