//! Mutated twins of real CCEL areas and crafted malformed ones: every change
//! is caught by the parser (naming the record, offset and field) or by the
//! RTMR comparison (naming the register and its last event).

// Integration-test crate: its helper functions are test code too (the
// workspace lints allow these only inside #[test] functions).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod eventlog_support;

use eventlog_support::read;
use sealbuild_common::eventlog::ccel::{all_rtmrs, CcelError, CcelLog, CcelTable, Rtmr, RTMR_SIZE};
use sealbuild_common::eventlog::{EventDigest, EventLogBuilder, EventType};
use sealbuild_common::{FormatError, HashAlg};

fn go_tdx_guest() -> Vec<u8> {
    read("tdx/go-tdx-guest/ccel/ccel_data.dat")
}

/// Start offset of every record after the Spec ID header, from the record
/// layout (independently of the parser).
fn record_offsets(area: &[u8], log: &CcelLog) -> Vec<usize> {
    let mut at = 32 + u32::from_le_bytes(area[28..32].try_into().unwrap()) as usize;
    let mut offsets = Vec::new();
    for e in log.events() {
        offsets.push(at);
        at += 12 + e.digests.iter().map(|d| 2 + d.digest.len()).sum::<usize>() + 4 + e.data.len();
    }
    offsets.push(at);
    offsets
}

fn log_error(r: Result<CcelLog, CcelError>) -> (u32, usize, FormatError) {
    match r {
        Err(CcelError::Log {
            event,
            offset,
            cause,
        }) => (event, offset, cause),
        other => panic!("expected a log error, got {other:?}"),
    }
}

/// A synthetic CCEL area: SHA-384 (and optionally SHA-256) digests, events
/// on RTMR0–2, then `pad` bytes of `pad_byte`.
fn synthetic(banks: &[HashAlg], pad_byte: u8, pad: usize) -> Vec<u8> {
    let mut b = EventLogBuilder::new(banks).unwrap();
    b.push_no_action(0, b"SP800-155 Event3").unwrap();
    b.push_hashed(1, EventType::EFI_ACTION, b"first").unwrap();
    b.push_hashed(2, EventType::EFI_ACTION, b"second").unwrap();
    b.push_hashed(1, EventType::SEPARATOR, &[0, 0, 0, 0])
        .unwrap();
    b.push_hashed(3, EventType::IPL, b"grub_cmd linux /vmlinuz\0")
        .unwrap();
    let mut area = b.build().to_bytes();
    area.resize(area.len() + pad, pad_byte);
    area
}

#[test]
fn flipped_digests_change_exactly_their_register() {
    let area = go_tdx_guest();
    let log = CcelLog::parse(&area).unwrap();
    let truth = log.replay();
    let quoted = all_rtmrs(truth.values());
    let offsets = record_offsets(&area, &log);
    let mut named_exactly = 0;
    for (i, e) in log.events().iter().enumerate() {
        // MR index, type, count, then the one SHA-384 TPMT_HA: alg + digest.
        let at = offsets[i] + 12 + 2 + 17;
        let mut twin = area.clone();
        twin[at] ^= 0x01;
        let twin_log = CcelLog::parse(&twin).unwrap();
        let m = twin_log.compare_rtmrs(&quoted);
        let rtmr = Rtmr::from_mr_index(e.pcr).unwrap();
        assert_eq!(m.len(), 1, "event {}: {m:?}", e.index);
        assert_eq!(m[0].rtmr, rtmr, "event {}", e.index);
        assert_eq!(&m[0].expected, truth.value(rtmr));
        let last = truth.register(rtmr).extended_by.last().copied().unwrap();
        let named = m[0].last_event.as_ref().unwrap();
        assert_eq!(
            (named.index, named.event_type),
            (last.index, last.event_type)
        );
        if last.index == e.index {
            named_exactly += 1;
        }
    }
    // One per register the log extends (RTMR0, 1, 2).
    assert_eq!(named_exactly, 3);
}

#[test]
fn every_truncation_inside_an_event_is_an_error() {
    let area = read("tdx/trustee/ccel/CCEL_data_ovmf");
    let log = CcelLog::parse(&area).unwrap();
    let offsets = record_offsets(&area, &log);
    let end = *offsets.last().unwrap();
    assert_eq!(log.padding().unwrap().offset, end);
    for cut in 1..end {
        let r = CcelLog::parse(&area[..cut]);
        match offsets.iter().position(|&o| o == cut) {
            // At a record boundary: a shorter, valid log.
            Some(n) => assert_eq!(r.unwrap().events().len(), n, "cut at {cut}"),
            None => {
                let (event, offset, cause) = log_error(r);
                if cut < offsets[0] {
                    // Inside the Spec ID header.
                    assert_eq!((event, offset), (0, 0), "cut {cut}");
                    continue;
                }
                let n = offsets.iter().rposition(|&o| o < cut).unwrap();
                assert_eq!((event as usize, offset), (n + 1, offsets[n]), "cut {cut}");
                assert!(
                    matches!(cause, FormatError::Truncated { .. }),
                    "cut {cut}: {cause}"
                );
            }
        }
    }
    // Cutting the padding short is still the same log.
    let short = CcelLog::parse(&area[..end + 5]).unwrap();
    assert_eq!(short.events(), log.events());
    assert_eq!(short.padding().unwrap().len, 5);
}

#[test]
fn bytes_after_the_padding_are_refused() {
    for (name, area) in [
        ("go-tdx-guest (0xff)", go_tdx_guest()),
        ("CCEL_data (0x00)", read("tdx/trustee/ccel/CCEL_data")),
    ] {
        let log = CcelLog::parse(&area).unwrap();
        let p = log.padding().unwrap();
        for at in [p.offset + 8, p.offset + 1000, area.len() - 1] {
            let mut twin = area.clone();
            twin[at] ^= 0x42;
            let (event, offset, cause) = log_error(CcelLog::parse(&twin));
            assert_eq!(event as usize, log.events().len() + 1, "{name}");
            assert_eq!(offset, p.offset, "{name}");
            let text = cause.to_string();
            assert!(text.starts_with("CCEL log area padding"), "{name}: {text}");
            assert!(text.contains(&format!("at offset {at}")), "{name}: {text}");
        }
    }
    // A change within the first 8 bytes of the padding makes them a record,
    // which does not parse either.
    let area = go_tdx_guest();
    let p = CcelLog::parse(&area).unwrap().padding().unwrap();
    let mut twin = area.clone();
    twin[p.offset + 3] = 0x01;
    assert!(CcelLog::parse(&twin).is_err());
    // Mixed padding (0xff then 0x00) is refused too.
    let mut area = synthetic(&[HashAlg::Sha384], 0xff, 64);
    let n = area.len();
    area[n - 10..].fill(0);
    assert!(CcelLog::parse(&area).is_err());
}

#[test]
fn synthetic_logs_round_trip_and_replay_from_their_sha384_digests() {
    for banks in [
        vec![HashAlg::Sha384],
        vec![HashAlg::Sha256, HashAlg::Sha384],
    ] {
        for (pad_byte, pad) in [(0xff, 100), (0x00, 3), (0xff, 0)] {
            let area = synthetic(&banks, pad_byte, pad);
            let log = CcelLog::parse(&area).unwrap();
            assert!(log.to_bytes() == area);
            assert_eq!(log.padding().map(|p| p.len), (pad > 0).then_some(pad));
            assert_eq!(log.events().len(), 5);
            assert_eq!(log.spec_id().unwrap().hash_algs().len(), banks.len());
            let h = |d: &[u8]| HashAlg::Sha384.digest(d);
            let ext = |r: &[u8], d: &[u8]| HashAlg::Sha384.extend(r, &h(d));
            let rtmr0 = ext(&ext(&[0u8; 48], b"first"), &[0, 0, 0, 0]);
            let rtmr1 = ext(&[0u8; 48], b"second");
            let rtmr2 = ext(&[0u8; 48], b"grub_cmd linux /vmlinuz\0");
            let replay = log.replay();
            assert_eq!(replay.value(Rtmr::Rtmr0).as_slice(), rtmr0);
            assert_eq!(replay.value(Rtmr::Rtmr1).as_slice(), rtmr1);
            assert_eq!(replay.value(Rtmr::Rtmr2).as_slice(), rtmr2);
            assert_eq!(replay.value(Rtmr::Rtmr3), &[0u8; RTMR_SIZE]);
            assert_eq!(
                replay.register(Rtmr::Rtmr0).extended_by.len(),
                2,
                "EV_NO_ACTION is not extended"
            );
        }
    }
}

#[test]
fn a_wrong_spec_id_event_is_refused() {
    let good = synthetic(&[HashAlg::Sha384], 0xff, 16);
    // Spec ID header: PCRIndex 0, EV_NO_ACTION, 20 zero bytes, size, data.
    // (what, byte offset, new value, the field the error names)
    let cases: [(&str, usize, u8, &str); 5] = [
        ("signature", 32 + 14, b'2', "CCEL first event"),
        ("event type", 4, 4, "CCEL first event"),
        ("PCR index", 0, 2, "Spec ID event PCRIndex"),
        ("digest", 8, 1, "Spec ID event Digest"),
        ("spec version", 32 + 21, 1, "TCG_EfiSpecIdEvent.specVersion"),
    ];
    for (what, at, value, field) in cases {
        let mut twin = good.clone();
        twin[at] = value;
        let (event, offset, cause) = log_error(CcelLog::parse(&twin));
        assert_eq!((event, offset), (0, 0), "{what}");
        assert!(cause.to_string().starts_with(field), "{what}: {cause}");
    }
    // A header without SHA-384: no RTMR can be replayed.
    let sha256_only = synthetic(&[HashAlg::Sha256], 0xff, 16);
    let (_, _, cause) = log_error(CcelLog::parse(&sha256_only));
    assert!(
        cause
            .to_string()
            .contains("SHA-384 (0x000c) among the algorithms"),
        "{cause}"
    );
    // Only padding, or nothing at all.
    for area in [vec![0xffu8; 4096], vec![0u8; 64], Vec::new()] {
        let (_, _, cause) = log_error(CcelLog::parse(&area));
        assert!(cause.to_string().starts_with("CCEL log area:"), "{cause}");
    }
}

#[test]
fn mr_index_zero_or_above_four_is_refused_for_extended_events() {
    let mut b = EventLogBuilder::new(&[HashAlg::Sha384]).unwrap();
    b.push_hashed(1, EventType::SEPARATOR, &[0; 4]).unwrap();
    let base = b.build().to_bytes();
    let rec = base.len() - (12 + 2 + 48 + 4 + 4);
    for (mr, ok) in [
        (0u32, false),
        (1, true),
        (4, true),
        (5, false),
        (0xffff_fffe, false),
    ] {
        let mut area = base.clone();
        area[rec..rec + 4].copy_from_slice(&mr.to_le_bytes());
        match CcelLog::parse(&area) {
            Ok(log) => {
                assert!(ok, "MR index {mr} accepted");
                assert_eq!(log.events()[0].pcr, mr);
            }
            Err(e) => {
                assert!(!ok, "MR index {mr}: {e}");
                let (event, offset, cause) = log_error(Err(e));
                assert_eq!((event, offset), (1, rec));
                assert!(
                    cause
                        .to_string()
                        .starts_with("TCG_PCR_EVENT2.PCRIndex (CC MR index): expected 1..=4"),
                    "{cause}"
                );
            }
        }
    }
}

#[test]
fn digest_lists_must_follow_the_spec_id_event() {
    let mut b = EventLogBuilder::new(&[HashAlg::Sha256, HashAlg::Sha384]).unwrap();
    b.push_digests(
        2,
        EventType::EFI_ACTION,
        b"x",
        vec![
            EventDigest {
                alg_id: HashAlg::Sha384.alg_id(),
                digest: vec![7; 48],
            },
            EventDigest {
                alg_id: HashAlg::Sha256.alg_id(),
                digest: vec![9; 32],
            },
        ],
    )
    .unwrap();
    let area = b.build().to_bytes();
    // Digests in another order than the header's are fine.
    let log = CcelLog::parse(&area).unwrap();
    assert_eq!(
        log.replay().value(Rtmr::Rtmr1).as_slice(),
        HashAlg::Sha384.extend(&[0; 48], &[7; 48])
    );
    let rec = area.len() - (12 + 2 + 48 + 2 + 32 + 4 + 1);
    // count 1 instead of 2
    let mut twin = area.clone();
    twin[rec + 8] = 1;
    let (_, _, cause) = log_error(CcelLog::parse(&twin));
    assert!(
        cause.to_string().starts_with("TPML_DIGEST_VALUES.count"),
        "{cause}"
    );
    // SHA-1 instead of SHA-384
    let mut twin = area.clone();
    twin[rec + 12] = 0x04;
    let (_, _, cause) = log_error(CcelLog::parse(&twin));
    assert!(cause.to_string().starts_with("TPMT_HA.hashAlg"), "{cause}");
}

#[test]
fn a_table_and_an_area_that_do_not_belong_together_are_refused() {
    let table_bytes = read("tdx/go-tdx-guest/ccel/ccel_table.dat");
    let table = CcelTable::parse(&table_bytes).unwrap();
    let area = go_tdx_guest();
    let short = &area[..area.len() - 1];
    assert!(matches!(
        CcelLog::parse_with_table(&table, short),
        Err(CcelError::Mismatch(_))
    ));
    assert!(CcelLog::parse(short).is_ok());

    let mut sev = table.clone();
    sev.cc_type = sealbuild_common::eventlog::ccel::CcType::SEV;
    let e = CcelLog::parse_with_table(&sev, &area).unwrap_err();
    assert!(matches!(e, CcelError::Table(_)));
    assert!(e.to_string().contains("CC Type"), "{e}");

    // The checksum catches every single-byte change of the real table.
    for i in 0..table_bytes.len() {
        let mut twin = table_bytes.clone();
        twin[i] ^= 0x10;
        assert!(CcelTable::parse(&twin).is_err(), "byte {i}");
    }
}
