//! Mutated twins of real logs and crafted malformed logs: every change must be
//! detected (by the parser or by the replay comparison) and nothing panics.

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
use proptest::prelude::*;
use sealbuild_common::eventlog::{EventLog, EventLogBuilder, EventType, MAX_EVENT_DATA};
use sealbuild_common::{FormatError, HashAlg};

/// Flips one digest byte of every extended event in turn: the comparison with
/// the true PCR values reports exactly the event's PCR, and the report names
/// the last event of that PCR, which is the flipped one when it is the last.
fn flip_each_digest(name: &str, bytes: &[u8], bank: HashAlg) -> usize {
    let log = EventLog::parse(bytes).unwrap();
    let truth = log.replay();
    let quoted: BTreeMap<u32, Vec<u8>> = (0..24)
        .map(|p| (p, truth.value(bank, p).unwrap().to_vec()))
        .collect();
    let offsets = event_offsets(bytes, &log);
    let mut named_exactly = 0;
    for (i, e) in log.events().iter().enumerate() {
        if !e.is_extended() {
            continue;
        }
        let mut twin = bytes.to_vec();
        let at = digest_offset(&log, i, offsets[i], bank);
        twin[at + 3] ^= 0x40;
        let twin_log =
            EventLog::parse(&twin).unwrap_or_else(|err| panic!("{name} event {}: {err}", e.index));
        let m = twin_log.replay().compare(bank, &quoted);
        assert_eq!(m.len(), 1, "{name} event {}: {m:?}", e.index);
        let m = &m[0];
        assert_eq!(m.pcr, e.pcr, "{name} event {}", e.index);
        assert_eq!(m.quoted, quoted[&e.pcr]);
        let last = m.last_event.unwrap();
        let last_on_pcr = truth
            .pcr(bank, e.pcr)
            .unwrap()
            .extended_by
            .last()
            .copied()
            .unwrap();
        assert_eq!(last, last_on_pcr);
        if last.index == e.index {
            assert_eq!(last.event_type, e.event_type);
            assert!(
                m.to_string()
                    .ends_with(&format!("(last event {}: {})", e.index, e.event_type)),
                "{m}"
            );
            named_exactly += 1;
        }
    }
    named_exactly
}

#[test]
fn flipped_digests_are_reported_on_their_pcr() {
    let mut named = 0;
    named += flip_each_digest(
        "ubuntu-2404-amd-sevsnp.bin",
        &go_tpm_tools_log("ubuntu-2404-amd-sevsnp.bin"),
        HashAlg::Sha256,
    );
    named += flip_each_digest(
        "ubuntu-2404-amd-sevsnp.bin",
        &go_tpm_tools_log("ubuntu-2404-amd-sevsnp.bin"),
        HashAlg::Sha384,
    );
    named += flip_each_digest(
        "debian-10.bin",
        &go_tpm_tools_log("debian-10.bin"),
        HashAlg::Sha1,
    );
    named += flip_each_digest(
        "gdc-host.bin",
        &go_tpm_tools_log("gdc-host.bin"),
        HashAlg::Sha256,
    );
    named += flip_each_digest("windows", &windows_log(), HashAlg::Sha1);
    assert!(
        named >= 20,
        "only {named} flips hit the last event of a PCR"
    );
}

#[test]
fn flipped_digest_against_the_asserted_values() {
    // Against the upstream-asserted values (not our own replay): flip the
    // digest of ubuntu-2404's shim load event (EV_EFI_BOOT_SERVICES_APPLICATION, PCR 4).
    let bytes = go_tpm_tools_log("ubuntu-2404-amd-sevsnp.bin");
    let log = EventLog::parse(&bytes).unwrap();
    let expected = expected_pcrs(
        "tpm/go-tpm-tools/eventlogs/expected_pcrs.json",
        "ubuntu-2404-amd-sevsnp.bin",
    );
    let pos = log
        .events()
        .iter()
        .rposition(|e| e.pcr == 4 && e.event_type == EventType::EFI_BOOT_SERVICES_APPLICATION)
        .unwrap();
    let offsets = event_offsets(&bytes, &log);
    let mut twin = bytes.clone();
    twin[digest_offset(&log, pos, offsets[pos], HashAlg::Sha256)] ^= 1;
    let m = EventLog::parse(&twin)
        .unwrap()
        .replay()
        .compare(HashAlg::Sha256, &expected[&HashAlg::Sha256]);
    assert_eq!(m.len(), 1, "{m:?}");
    let text = m[0].to_string();
    let idx = log.events()[pos].index;
    assert!(text.starts_with("PCR 4 (sha256): quoted "), "{text}");
    assert!(
        text.ends_with(&format!(
            "(last event {idx}: EV_EFI_BOOT_SERVICES_APPLICATION)"
        )),
        "{text}"
    );
    // The SHA-1 and SHA-384 banks are untouched by the flip.
    assert!(EventLog::parse(&twin)
        .unwrap()
        .replay()
        .compare(HashAlg::Sha1, &expected[&HashAlg::Sha1])
        .is_empty());
}

/// Truncating a log anywhere either fails with an error naming the event that
/// was cut (offset = its start), or — at an event boundary, or where the cut
/// leaves only zero bytes of the next record, which the padding rule accepts —
/// yields exactly a prefix of the events.
fn truncations(name: &str, bytes: &[u8]) {
    let log = EventLog::parse(bytes).unwrap();
    let offsets = event_offsets(bytes, &log);
    let header_end = offsets.first().copied().unwrap_or(bytes.len());
    let mut cuts: Vec<usize> = (0..bytes.len().min(300)).collect();
    cuts.extend((300..bytes.len()).step_by(13));
    for &o in &offsets {
        cuts.extend([o.saturating_sub(1), o + 1, o + 4, o + 13]);
    }
    let mut errors = 0;
    for cut in cuts.into_iter().filter(|&c| c < bytes.len()) {
        match EventLog::parse(&bytes[..cut]) {
            Err(err) => {
                errors += 1;
                if bytes[..cut].iter().all(|b| *b == 0) {
                    assert!(
                        err.to_string().contains("at least one event"),
                        "{name} cut {cut}: {err}"
                    );
                } else if cut >= header_end {
                    // The error names the record that was cut.
                    let k = offsets.iter().rposition(|&o| o <= cut).unwrap();
                    assert_eq!(err.offset, offsets[k], "{name} cut {cut}: {err}");
                    assert_eq!(err.event, log.events()[k].index, "{name} cut {cut}: {err}");
                    assert!(
                        matches!(err.cause, FormatError::Truncated { .. }),
                        "{name} cut {cut}: {err}"
                    );
                } else {
                    assert_eq!((err.event, err.offset), (0, 0), "{name} cut {cut}: {err}");
                }
            }
            Ok(short) => {
                // A prefix of n complete events, then zero bytes of event n.
                let n = short.events().len();
                assert_eq!(short.events(), &log.events()[..n], "{name} cut {cut}");
                let boundary = offsets.get(n).copied().unwrap_or(bytes.len());
                let next = offsets.get(n + 1).copied().unwrap_or(bytes.len());
                assert!(boundary <= cut && cut < next, "{name} cut {cut}");
                assert_eq!(
                    short.trailing_zero_padding(),
                    cut - boundary,
                    "{name} cut {cut}"
                );
                assert!(
                    bytes[boundary..cut].iter().all(|b| *b == 0),
                    "{name} cut {cut}"
                );
                assert_eq!(short.to_bytes(), &bytes[..cut]);
            }
        }
    }
    assert!(errors > 500, "{name}: only {errors} truncations failed");
}

#[test]
fn truncation_never_panics_and_names_the_cut_event() {
    truncations(
        "ubuntu-2404-amd-sevsnp.bin",
        &go_tpm_tools_log("ubuntu-2404-amd-sevsnp.bin"),
    );
    truncations("debian-10.bin", &go_tpm_tools_log("debian-10.bin"));
    truncations(
        "crypto_agile_eventlog",
        &go_attestation_log("crypto_agile_eventlog"),
    );
    truncations(
        "option_rom_eventlog",
        &go_attestation_log("option_rom_eventlog"),
    );
}

/// A small agile log: Spec ID [sha256, SM3_256 (0x0012, 32 bytes)], then one
/// EV_SEPARATOR event; built by hand so single fields can be broken.
fn crafted(extra_alg_in_event: Option<u16>, count: u32, event_size: u32, pcr: u32) -> Vec<u8> {
    let mut spec = b"Spec ID Event03\0".to_vec();
    spec.extend_from_slice(&0u32.to_le_bytes()); // platformClass
    spec.extend_from_slice(&[0, 2, 0, 2]); // minor, major, errata, uintnSize
    spec.extend_from_slice(&2u32.to_le_bytes());
    spec.extend_from_slice(&0x000Bu16.to_le_bytes());
    spec.extend_from_slice(&32u16.to_le_bytes());
    spec.extend_from_slice(&0x0012u16.to_le_bytes());
    spec.extend_from_slice(&32u16.to_le_bytes());
    spec.push(0); // vendorInfoSize
    let mut b = Vec::new();
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&3u32.to_le_bytes());
    b.extend_from_slice(&[0; 20]);
    b.extend_from_slice(&u32::try_from(spec.len()).unwrap().to_le_bytes());
    b.extend_from_slice(&spec);
    // Event 1: EV_SEPARATOR on `pcr`.
    b.extend_from_slice(&pcr.to_le_bytes());
    b.extend_from_slice(&4u32.to_le_bytes());
    b.extend_from_slice(&count.to_le_bytes());
    b.extend_from_slice(&0x000Bu16.to_le_bytes());
    b.extend_from_slice(&HashAlg::Sha256.digest(&[0, 0, 0, 0]));
    b.extend_from_slice(&extra_alg_in_event.unwrap_or(0x0012).to_le_bytes());
    b.extend_from_slice(&[0x5a; 32]);
    b.extend_from_slice(&event_size.to_le_bytes());
    b.extend_from_slice(&[0, 0, 0, 0]);
    b
}

#[test]
fn unknown_algorithm_in_header_is_carried_and_skipped() {
    let bytes = crafted(None, 2, 4, 7);
    let log = EventLog::parse(&bytes).unwrap();
    assert_eq!(log.to_bytes(), bytes);
    assert_eq!(log.banks(), vec![HashAlg::Sha256]);
    let e = &log.events()[0];
    assert_eq!(e.digests[1].alg_id, 0x0012);
    assert_eq!(e.digests[1].digest, vec![0x5a; 32]);
    let replay = log.replay();
    assert_eq!(replay.banks().collect::<Vec<_>>(), vec![HashAlg::Sha256]);
    assert_eq!(
        replay.value(HashAlg::Sha256, 7).unwrap(),
        HashAlg::Sha256.extend(&[0; 32], &HashAlg::Sha256.digest(&[0; 4]))
    );
}

#[test]
fn malformed_events_name_event_and_offset() {
    let good = crafted(None, 2, 4, 7);
    let event1_offset = 32 + (good.len() - 32 - (12 + 34 + 34 + 4 + 4));
    let check = |bytes: Vec<u8>, needle: &str| {
        let err = EventLog::parse(&bytes).unwrap_err();
        assert_eq!((err.event, err.offset), (1, event1_offset), "{err}");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "TCG event log: event 1 at offset {event1_offset}: "
            )),
            "{text}"
        );
        assert!(text.contains(needle), "{text}");
    };
    // An algorithm the Spec ID event does not list (SHA-1).
    check(
        crafted(Some(0x0004), 2, 4, 7),
        "TPMT_HA.hashAlg: expected an algorithm of the Spec ID event (0x000b, 0x0012), got 0x0004",
    );
    // The same algorithm twice.
    check(
        crafted(Some(0x000B), 2, 4, 7),
        "each algorithm once per event",
    );
    // Digest count different from the header's.
    check(
        crafted(None, 3, 4, 7),
        "TPML_DIGEST_VALUES.count: expected 2",
    );
    check(
        crafted(None, 1, 4, 7),
        "TPML_DIGEST_VALUES.count: expected 2",
    );
    // Oversized event: refused before reading.
    check(
        crafted(None, 2, u32::try_from(MAX_EVENT_DATA + 1).unwrap(), 7),
        "exceeds the maximum 1048576",
    );
    check(crafted(None, 2, u32::MAX, 7), "exceeds the maximum");
    // EventSize larger than what is left.
    check(crafted(None, 2, 5, 7), "truncated");
    // PCR index outside 0..=23 on an extended event.
    check(crafted(None, 2, 4, 24), "PCRIndex: expected 0..=23");
    // ...but allowed on EV_NO_ACTION.
    let mut no_action = crafted(None, 2, 4, 0xFFFF_FFFF);
    no_action[event1_offset + 4] = 3;
    assert_eq!(
        EventLog::parse(&no_action).unwrap().events()[0].pcr,
        u32::MAX
    );
}

#[test]
fn malformed_spec_id_headers() {
    let good = crafted(None, 2, 4, 7);
    let broken = |at: usize, value: &[u8], needle: &str| {
        let mut b = good.clone();
        b[at..at + value.len()].copy_from_slice(value);
        let err = EventLog::parse(&b).unwrap_err();
        assert_eq!((err.event, err.offset), (0, 0), "{err}");
        assert!(err.to_string().contains(needle), "{needle}: {err}");
    };
    let spec = 32;
    broken(0, &[1], "Spec ID event PCRIndex: expected 0, got 1");
    broken(8, &[1], "Spec ID event Digest");
    broken(spec + 21, &[1], "specVersion: expected 2.0, got 1.0");
    broken(spec + 23, &[3], "uintnSize");
    broken(
        spec + 24,
        &[0, 0, 0, 0],
        "numberOfAlgorithms: expected 1..=16, got 0",
    );
    broken(spec + 24, &[17, 0, 0, 0], "numberOfAlgorithms");
    broken(
        spec + 30,
        &[20, 0],
        "digestSize: expected 32 for TPM_ALG_ID 0x000b, got 20",
    );
    broken(spec + 32, &[0x0B, 0x00], "each algorithm listed once");
    broken(spec + 34, &[0, 0], "digestSize: expected 1..=64, got 0");
    broken(spec + 34, &[65, 0], "digestSize: expected 1..=64, got 65");
    broken(spec + 36, &[1], "vendorInfo");
    // Event size of the header larger than the Spec ID structure.
    let mut b = good.clone();
    b[28] += 1;
    b.insert(32 + 37, 0);
    let err = EventLog::parse(&b).unwrap_err();
    assert!(
        err.to_string()
            .contains("TCG_EfiSpecIdEvent: 1 trailing bytes"),
        "{err}"
    );
}

#[test]
fn event_count_is_capped() {
    // 100 000 minimal legacy events (32 bytes each, PCR 1 so they are not padding).
    let mut b = Vec::with_capacity(100_001 * 32);
    for _ in 0..100_001 {
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&[0; 28]);
    }
    let err = EventLog::parse(&b).unwrap_err();
    assert_eq!(err.event, 100_000);
    assert!(
        err.to_string()
            .contains("number of events: size 100001 exceeds the maximum 100000"),
        "{err}"
    );
    assert!(EventLog::parse(&b[..100_000 * 32]).is_ok());
}

fn exercise(bytes: &[u8]) {
    if let Ok(log) = EventLog::parse(bytes) {
        assert_eq!(log.to_bytes(), bytes, "round trip of an accepted input");
        let replay = log.replay();
        let _ = replay.to_json_map();
        let _ = replay.render_text();
        for e in log.events() {
            let _ = e.decode();
            let _ = e.describe();
            let _ = e.data_binding();
        }
    }
}

fn seeds() -> Vec<Vec<u8>> {
    vec![
        go_attestation_log("crypto_agile_eventlog"),
        go_tpm_tools_log("debian-10.bin"),
        go_tpm_tools_log("glinux-alex.bin"),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        exercise(&bytes);
    }

    #[test]
    fn agile_header_with_random_tail(tail in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut b = crafted(None, 2, 4, 7);
        b.extend_from_slice(&tail);
        exercise(&b);
    }

    #[test]
    fn mutated_real_logs_never_panic(
        seed in 0usize..3,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut b = seeds().swap_remove(seed);
        for (i, v) in edits {
            let at = i.index(b.len());
            b[at] = v;
        }
        exercise(&b);
        let keep = cut.index(b.len());
        exercise(&b[..keep]);
    }
}

#[test]
fn builder_rejects_what_the_parser_would() {
    let mut b = EventLogBuilder::new(&[HashAlg::Sha256]).unwrap();
    assert!(b.push_hashed(24, EventType::SEPARATOR, &[0; 4]).is_err());
    assert!(b
        .push_hashed(0, EventType::IPL, &vec![0; MAX_EVENT_DATA + 1])
        .is_err());
    assert!(b.push_digests(0, EventType::IPL, b"x", vec![]).is_err());
    assert!(EventLogBuilder::new(&[]).is_err());
    assert!(EventLogBuilder::new(&[HashAlg::Sha1, HashAlg::Sha1]).is_err());
    b.push_hashed(0, EventType::S_CRTM_VERSION, b"v\0").unwrap();
    assert!(
        b.push_startup_locality(3).is_err(),
        "StartupLocality after a PCR 0 extension"
    );
}
