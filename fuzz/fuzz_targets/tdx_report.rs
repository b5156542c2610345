//! Fuzzes the TDREPORT_STRUCT parser (the TD report of Azure TDX HCL
//! reports): no panic on any input, every accepted input re-serialises to
//! the same bytes, and its hashes and quote-body projection are computable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealbuild_common::tdx::{TdReportStruct, TDREPORT_SIZE};

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = TdReportStruct::parse(data) {
        assert_eq!(data.len(), TDREPORT_SIZE);
        assert_eq!(r.to_bytes(), data);
        let _ = r.computed_tee_tcb_info_hash();
        let _ = r.computed_tee_info_hash();
        let body = r.to_quote_body(true);
        assert_eq!(body.report_data, r.report_data);
    }
});
