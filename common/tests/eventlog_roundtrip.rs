//! parse → to_bytes gives the input back, for every real log and for the
//! documented trailing-zero-padding rule.

// Integration-test crate: its helper functions are test code too (the
// workspace lints allow these only inside #[test] functions).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod eventlog_support;

use eventlog_support::*;
use sealbuild_common::eventlog::{EventLog, LogFormat};

#[test]
fn every_real_log_round_trips_byte_exact() {
    let logs = all_real_logs();
    assert_eq!(
        logs.len(),
        GO_TPM_TOOLS_LOGS.len() + GO_ATTESTATION_LOGS.len() + 2
    );
    for (name, bytes) in logs {
        let log = EventLog::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(log.trailing_zero_padding(), 0, "{name}");
        assert!(
            log.to_bytes() == bytes,
            "{name}: to_bytes differs from the input"
        );
        assert_eq!(EventLog::parse(&log.to_bytes()).unwrap(), log, "{name}");
        // Indices follow file positions (Spec ID header = 0 in agile logs).
        let first = if matches!(log.format(), LogFormat::CryptoAgile { .. }) {
            1
        } else {
            0
        };
        for (i, e) in log.events().iter().enumerate() {
            assert_eq!(e.index as usize, i + first, "{name}");
        }
    }
}

#[test]
fn trailing_zero_padding_is_recorded_and_reproduced() {
    for (name, bytes) in [
        (
            "ubuntu-2404-amd-sevsnp.bin",
            go_tpm_tools_log("ubuntu-2404-amd-sevsnp.bin"),
        ),
        ("debian-10.bin", go_tpm_tools_log("debian-10.bin")),
    ] {
        let plain = EventLog::parse(&bytes).unwrap();
        for pad in [1usize, 7, 32, 4096] {
            let mut padded = bytes.clone();
            padded.resize(bytes.len() + pad, 0);
            let log = EventLog::parse(&padded).unwrap_or_else(|e| panic!("{name} + {pad}: {e}"));
            assert_eq!(log.trailing_zero_padding(), pad, "{name}");
            assert_eq!(
                log.events(),
                plain.events(),
                "{name}: padding must not add events"
            );
            assert_eq!(log.to_bytes(), padded, "{name}");
            assert_eq!(log.replay(), plain.replay());
        }
        // Zero bytes followed by anything non-zero are not padding: in an
        // agile log the zero record fails at once (digest count 0); in a legacy
        // log each 32 zero bytes read as an EV_PREBOOT_CERT record until the
        // record holding the non-zero byte fails.
        let mut bad = bytes.clone();
        bad.extend_from_slice(&[0; 40]);
        bad.push(1);
        let err = EventLog::parse(&bad).unwrap_err();
        let next_index = plain.events().last().unwrap().index + 1;
        if plain.spec_id().is_some() {
            assert_eq!(
                (err.event, err.offset),
                (next_index, bytes.len()),
                "{name}: {err}"
            );
            assert!(
                err.to_string().contains("TPML_DIGEST_VALUES.count"),
                "{err}"
            );
        } else {
            assert_eq!(
                (err.event, err.offset),
                (next_index + 1, bytes.len() + 32),
                "{name}: {err}"
            );
            assert!(err.to_string().contains("truncated"), "{err}");
        }
    }
}

#[test]
fn empty_and_all_zero_inputs_are_rejected() {
    for input in [vec![], vec![0u8; 1], vec![0u8; 32], vec![0u8; 5000]] {
        let err = EventLog::parse(&input).unwrap_err();
        assert_eq!((err.event, err.offset), (0, 0));
        assert!(err.to_string().contains("at least one event"), "{err}");
    }
}
