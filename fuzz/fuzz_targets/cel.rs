//! Fuzz target for the runtime measurement log (`sealbuild_common::cel`):
//! parsing must never panic; an accepted log serializes to CEL-JSON that
//! reparses to the same value, and replay and the statement digest never
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealbuild_common::cel::CelLog;
use sealbuild_common::HashAlg;

fuzz_target!(|data: &[u8]| {
    let Ok(log) = CelLog::parse(data) else {
        return;
    };
    let json = log.to_json();
    let again = CelLog::parse(&json).expect("serialized log reparses");
    assert_eq!(again, log);
    assert_eq!(again.to_json(), json, "serialization is deterministic");
    for bank in HashAlg::ALL {
        let _ = log.replay(bank);
    }
    let _ = log.statement_digest();
});
