//! Fuzz target for the TCG PC Client firmware event log
//! (`sealbuild_common::eventlog`): parsing must never panic; an accepted log
//! must serialize back to the input and reparse to the same value; replay,
//! comparison, decoding and descriptions of every event must never panic.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use sealbuild_common::eventlog::EventLog;

fuzz_target!(|data: &[u8]| {
    let Ok(log) = EventLog::parse(data) else {
        return;
    };
    let bytes = log.to_bytes();
    assert_eq!(bytes, data, "to_bytes must reproduce the accepted input");
    let again = EventLog::parse(&bytes).expect("serialized log reparses");
    assert_eq!(again, log);

    let replay = log.replay();
    let _ = replay.to_json_map();
    let _ = replay.render_text();
    for bank in log.banks() {
        let quoted: BTreeMap<u32, Vec<u8>> = (0..24).map(|p| (p, vec![0u8; bank.size()])).collect();
        for m in replay.compare(bank, &quoted) {
            let _ = m.to_string();
        }
    }
    for event in log.events() {
        let _ = event.decode();
        let _ = event.describe();
        let _ = event.data_binding();
    }
    let _ = log.render_text();
});
