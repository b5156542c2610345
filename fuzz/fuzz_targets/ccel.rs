//! Fuzz target for the TDX CC event log (`sealbuild_common::eventlog::ccel`):
//! neither the log-area parser nor the ACPI CCEL table parser may panic; an
//! accepted area or table must serialize back to the input and reparse to the
//! same value; replay, comparison with quoted RTMRs, rendering and the
//! description of every event must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealbuild_common::eventlog::ccel::{all_rtmrs, describe, CcelLog, CcelTable, Rtmr};

fuzz_target!(|data: &[u8]| {
    if let Ok(table) = CcelTable::parse(data) {
        assert_eq!(table.to_bytes(), data, "table to_bytes reproduces the input");
        let _ = table.to_string();
        let _ = CcelLog::parse_with_table(&table, data);
    }
    let Ok(log) = CcelLog::parse(data) else {
        return;
    };
    let bytes = log.to_bytes();
    assert_eq!(bytes, data, "to_bytes must reproduce the accepted area");
    let again = CcelLog::parse(&bytes).expect("serialized area reparses");
    assert_eq!(again, log);

    let replay = log.replay();
    let _ = replay.to_json_map();
    let _ = replay.render_text();
    for m in log.compare_rtmrs(&all_rtmrs([[0u8; 48]; 4])) {
        let _ = m.to_string();
    }
    for r in Rtmr::ALL {
        for e in &replay.register(r).extended_by {
            assert_eq!(log.event_log().event(e.index).map(|ev| ev.pcr), Some(r.mr_index()));
        }
    }
    for event in log.events() {
        let _ = describe(event);
        let _ = event.data_binding();
    }
    let _ = log.render_text();
});
