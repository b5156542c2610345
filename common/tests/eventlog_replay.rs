//! Replay of real firmware event logs against the PCR values their source
//! projects assert (MANIFEST §3.1–§3.4).

// Integration-test crate: its helper functions are test code too (the
// workspace lints allow these only inside #[test] functions).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod eventlog_support;

use std::collections::BTreeMap;

use eventlog_support::*;
use sealbuild_common::eventlog::{EventLog, EventType, LogFormat};
use sealbuild_common::HashAlg;

#[test]
fn go_tpm_tools_logs_replay_to_every_expected_pcr() {
    let mut checked = 0;
    for name in GO_TPM_TOOLS_LOGS {
        let log =
            EventLog::parse(&go_tpm_tools_log(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let replay = log.replay();
        let expected = expected_pcrs("tpm/go-tpm-tools/eventlogs/expected_pcrs.json", name);
        for (bank, pcrs) in &expected {
            let mismatches = replay.compare(*bank, pcrs);
            assert!(
                mismatches.is_empty(),
                "{name}: {}",
                mismatches
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            // compare() checks untouched PCRs against reset values; make sure
            // the listed PCRs really come from the replay.
            for pcr in pcrs.keys() {
                assert!(
                    !replay.pcr(*bank, *pcr).unwrap().extended_by.is_empty(),
                    "{name}: PCR {pcr} listed but not in the log"
                );
            }
            checked += pcrs.len();
        }
    }
    // Every value of expected_pcrs.json (245 in all, counted independently).
    assert_eq!(checked, 245);
}

#[test]
fn formats_and_startup_locality_as_the_manifest_describes() {
    let debian = EventLog::parse(&go_tpm_tools_log("debian-10.bin")).unwrap();
    assert_eq!(debian.format(), &LogFormat::LegacySha1);
    // The first legacy event is an ordinary event and is extended.
    let first = &debian.events()[0];
    assert_eq!(
        (first.index, first.event_type),
        (0, EventType::S_CRTM_VERSION)
    );
    let r = debian.replay();
    assert_eq!(r.pcr(HashAlg::Sha1, 0).unwrap().extended_by[0].index, 0);

    let gdc = EventLog::parse(&go_tpm_tools_log("gdc-host.bin")).unwrap();
    assert_eq!(gdc.banks(), vec![HashAlg::Sha256]);
    let r = gdc.replay();
    assert_eq!(
        r.startup_locality(),
        Some((1, 3)),
        "gdc-host starts PCR 0 at locality 3"
    );
    assert!(r.warnings().is_empty());
    assert_eq!(r.banks().collect::<Vec<_>>(), vec![HashAlg::Sha256]);

    // Without the locality rule PCR 0 would not match: replaying a copy whose
    // StartupLocality byte is 0 gives a PCR 0 mismatch naming the last PCR 0 event.
    let mut bytes = go_tpm_tools_log("gdc-host.bin");
    let needle = b"StartupLocality\0\x03";
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap();
    bytes[at + 16] = 0;
    let zero = EventLog::parse(&bytes).unwrap().replay();
    let expected = expected_pcrs(
        "tpm/go-tpm-tools/eventlogs/expected_pcrs.json",
        "gdc-host.bin",
    );
    let m = zero.compare(HashAlg::Sha256, &expected[&HashAlg::Sha256]);
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0].pcr, 0);
}

#[test]
fn sb_cert_log_every_pcr_but_ima() {
    let log = EventLog::parse(&go_attestation_log("sb_cert_eventlog")).unwrap();
    let replay = log.replay();
    let expected = expected_pcrs("tpm/go-attestation/expected_pcrs.json", "sb_cert_eventlog");
    assert_eq!(expected.len(), 2);
    for (bank, pcrs) in &expected {
        assert_eq!(pcrs.len(), 24);
        // All 24 PCRs: only PCR 10 (IMA, not a firmware measurement) is not
        // explained; PCRs 17-22 are all-ff reset values, the others zero.
        let m = replay.compare(*bank, pcrs);
        assert_eq!(m.len(), 1, "{bank}: {m:?}");
        assert_eq!(
            (m[0].pcr, m[0].last_event, m[0].bank_in_log),
            (10, None, true)
        );
        assert!(
            m[0].to_string()
                .contains("no event in the log extends PCR 10"),
            "{}",
            m[0]
        );
        // The verifier's policy excludes PCR 10: then everything matches.
        let firmware: BTreeMap<u32, Vec<u8>> = pcrs
            .iter()
            .filter(|(p, _)| **p != 10)
            .map(|(p, v)| (*p, v.clone()))
            .collect();
        assert!(replay.compare(*bank, &firmware).is_empty());
        assert_eq!(
            replay.untouched(*bank, pcrs.keys().copied()),
            vec![1, 2, 3, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23]
        );
    }
}

#[test]
fn option_rom_legacy_log() {
    let log = EventLog::parse(&go_attestation_log("option_rom_eventlog")).unwrap();
    assert_eq!(log.format(), &LogFormat::LegacySha1);
    // The Windows trailer event on PCR 0xFFFFFFFF (EV_NO_ACTION) is accepted.
    assert!(log
        .events()
        .iter()
        .any(|e| e.pcr == u32::MAX && e.event_type == EventType::NO_ACTION));
    let expected = expected_pcrs(
        "tpm/go-attestation/expected_pcrs.json",
        "option_rom_eventlog",
    );
    let pcrs = &expected[&HashAlg::Sha1];
    assert_eq!(pcrs.len(), 8);
    assert!(log.replay().compare(HashAlg::Sha1, pcrs).is_empty());
}

#[test]
fn windows_log_matches_all_24_quoted_pcrs() {
    let log = EventLog::parse(&windows_log()).unwrap();
    assert_eq!(log.format(), &LogFormat::LegacySha1);
    let pcrs = windows_pcrs();
    assert_eq!(pcrs.len(), 24);
    let replay = log.replay();
    let m = replay.compare(HashAlg::Sha1, &pcrs);
    assert!(m.is_empty(), "{m:?}");
    // MANIFEST §3.3 values.
    assert_eq!(
        hex::encode(replay.value(HashAlg::Sha1, 0).unwrap()),
        "51c323de0c0c694f4601cdd02beb58ff13629f74"
    );
    assert_eq!(
        hex::encode(replay.value(HashAlg::Sha1, 7).unwrap()),
        "859a5877266b5c909613468091a73380a5386786"
    );
    // PCRs 11-14 are Windows boot PCRs, extended by the log.
    for p in 11..=14 {
        assert!(
            !replay.pcr(HashAlg::Sha1, p).unwrap().extended_by.is_empty(),
            "PCR {p}"
        );
    }
}

/// Strict decision (MANIFEST §3.4): the firmware of this log omitted the
/// "Exit Boot Services" EV_EFI_ACTION events; sealbuild does not add them, so
/// PCR 5 must be reported as not explained by the log.
#[test]
fn ebs_event_missing_reports_pcr5_only() {
    let bytes = go_attestation_log("ebs_event_missing_eventlog");
    let log = EventLog::parse(&bytes).unwrap();
    // MANIFEST calls it a SHA-1-only agile log; its first event is
    // EV_S_CRTM_VERSION, so it is the legacy SHA-1 format.
    assert_eq!(log.format(), &LogFormat::LegacySha1);
    let expected = expected_pcrs(
        "tpm/go-attestation/expected_pcrs.json",
        "ebs_event_missing_eventlog",
    );
    let replay = log.replay();
    let m = replay.compare(HashAlg::Sha1, &expected[&HashAlg::Sha1]);
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0].pcr, 5);
    assert!(
        hex::encode(&m[0].replayed).starts_with("e5781a2f"),
        "{}",
        m[0]
    );
    assert!(hex::encode(&m[0].replayed).ends_with("d43c"));
    let last = m[0].last_event.expect("PCR 5 is extended");
    // The last PCR 5 event present is the GPT measurement; the Exit Boot
    // Services actions that should follow it are missing.
    assert_eq!(last.event_type, EventType::EFI_GPT_EVENT);
    let text = m[0].to_string();
    assert!(
        text.starts_with("PCR 5 (sha1): quoted 31245808d6d35849bc394f6343f2b3ff908ed5e3, event-log replay gives e5781a2f"),
        "{text}"
    );
    assert!(
        text.ends_with(&format!("(last event {}: EV_EFI_GPT_EVENT)", last.index)),
        "{text}"
    );
    // Every other PCR the log extends has no quoted value to compare with;
    // the SHA-256 value cannot be checked: the log has no SHA-256 digests.
    let m256 = replay.compare(HashAlg::Sha256, &expected[&HashAlg::Sha256]);
    assert_eq!(m256.len(), 1);
    assert!(!m256[0].bank_in_log);
    assert!(m256[0]
        .to_string()
        .contains("the event log has no sha256 digests"));

    // The cause is exactly the two missing events: appending them (what
    // go-attestation's lenient workaround does) makes PCR 5 match.
    let mut patched = bytes.clone();
    for s in [
        "Exit Boot Services Invocation",
        "Exit Boot Services Returned with Success",
    ] {
        patched.extend_from_slice(&5u32.to_le_bytes());
        patched.extend_from_slice(&EventType::EFI_ACTION.0.to_le_bytes());
        patched.extend_from_slice(&HashAlg::Sha1.digest(s.as_bytes()));
        patched.extend_from_slice(&u32::try_from(s.len()).unwrap().to_le_bytes());
        patched.extend_from_slice(s.as_bytes());
    }
    let patched = EventLog::parse(&patched).unwrap();
    assert!(patched
        .replay()
        .compare(HashAlg::Sha1, &expected[&HashAlg::Sha1])
        .is_empty());
}

#[test]
fn logs_without_expected_values_parse_and_replay() {
    let agile = EventLog::parse(&go_attestation_log("crypto_agile_eventlog")).unwrap();
    assert_eq!(agile.banks(), vec![HashAlg::Sha256]);
    // MANIFEST: 27 events including the Spec ID header.
    assert_eq!(agile.events().len() + 1, 27);
    assert!(agile.replay().value(HashAlg::Sha256, 0).is_some());
    let coreos = EventLog::parse(&go_attestation_log(
        "coreos_36_shielded_vm_no_secure_boot_eventlog",
    ))
    .unwrap();
    assert_eq!(
        coreos.banks(),
        vec![HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha384]
    );
    let r = coreos.replay();
    assert_eq!(r.banks().count(), 3);
    for bank in [HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha384] {
        assert!(!r.pcr(bank, 4).unwrap().extended_by.is_empty());
    }
}

/// The GCE attestation (MANIFEST §3.2): the log reproduces the quoted PCR 0-9
/// of all three banks; PCR 10 (IMA) is not explained by a firmware log; the
/// dynamic PCRs 17-22 hold their all-ff reset value.
#[test]
fn gce_attestation_quote_pcrs() {
    let log = EventLog::parse(&read(
        "tpm/go-tpm-tools/attestations/gce-cos-85-nonce9009.eventlog.bin",
    ))
    .unwrap();
    let replay = log.replay();
    let json: serde_json::Value = serde_json::from_slice(&read(
        "tpm/go-tpm-tools/attestations/gce-cos-85-nonce9009.extracted.json",
    ))
    .unwrap();
    let quotes = json["quotes"].as_array().unwrap();
    assert_eq!(quotes.len(), 3);
    for q in quotes {
        let bank = HashAlg::from_name(q["pcr_bank"].as_str().unwrap()).unwrap();
        let all: BTreeMap<u32, Vec<u8>> = q["pcrs"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                (
                    k.parse().unwrap(),
                    hex::decode(v.as_str().unwrap()).unwrap(),
                )
            })
            .collect();
        assert_eq!(all.len(), 24);
        let m = replay.compare(bank, &all);
        let pcrs: Vec<u32> = m.iter().map(|m| m.pcr).collect();
        // PCR 10 holds IMA measurements (and GCE extends PCR 14/15+ only at runtime if at all).
        assert!(
            pcrs.iter().all(|p| *p >= 10 && !(17..=22).contains(p)),
            "{bank}: {m:?}"
        );
        assert!(
            pcrs.contains(&10),
            "{bank}: PCR 10 should not be explained by the firmware log"
        );
        let firmware: BTreeMap<u32, Vec<u8>> = all
            .iter()
            .filter(|(p, _)| **p <= 9)
            .map(|(p, v)| (*p, v.clone()))
            .collect();
        assert_eq!(firmware.len(), 10);
        assert!(replay.compare(bank, &firmware).is_empty(), "{bank}");
    }
    assert_eq!(
        hex::encode(replay.value(HashAlg::Sha256, 4).unwrap()),
        "d690bdac2aa8b73a1d718cb91990df07d0747b07ea57b3b2d0f0d511f0d90491"
    );
}

#[test]
fn json_view_and_text() {
    let log = EventLog::parse(&go_tpm_tools_log("ubuntu-2404-amd-sevsnp.bin")).unwrap();
    let replay = log.replay();
    let json = serde_json::to_value(replay.to_json_map()).unwrap();
    let expected = expected_pcrs(
        "tpm/go-tpm-tools/eventlogs/expected_pcrs.json",
        "ubuntu-2404-amd-sevsnp.bin",
    );
    let obj = json.as_object().unwrap();
    assert_eq!(
        obj.keys().collect::<Vec<_>>(),
        vec!["sha1", "sha256", "sha384"]
    );
    for (bank, pcrs) in &expected {
        for (pcr, v) in pcrs {
            assert_eq!(json[bank.name()][pcr.to_string()], hex::encode(v));
        }
    }
    // Only PCRs the log extends appear.
    let sha256 = obj["sha256"].as_object().unwrap();
    let keys: Vec<u32> = sha256.keys().map(|k| k.parse().unwrap()).collect();
    let extended: Vec<u32> = (0..24)
        .filter(|p| {
            !replay
                .pcr(HashAlg::Sha256, *p)
                .unwrap()
                .extended_by
                .is_empty()
        })
        .collect();
    let mut keys_sorted = keys.clone();
    keys_sorted.sort_unstable();
    assert_eq!(keys_sorted, extended);
    assert!(!keys.contains(&10));
    let text = replay.render_text();
    assert!(text.contains("sha256:\n"));
    assert!(
        text.contains(&format!(
            "  PCR  9: {}",
            hex::encode(&expected[&HashAlg::Sha256][&9])
        )),
        "{text}"
    );
}
