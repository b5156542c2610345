//! EventLogBuilder: built logs parse, round-trip and replay to values computed
//! here independently (SHA-256/SHA-1 of the data, then PCR extends by hand).

// Integration-test crate: its helper functions are test code too (the
// workspace lints allow these only inside #[test] functions).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sealbuild_common::eventlog::{EventDigest, EventLog, EventLogBuilder, EventType, LogFormat};
use sealbuild_common::HashAlg;
use sha2::{Digest, Sha256};

fn sha256(parts: &[&[u8]]) -> Vec<u8> {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().to_vec()
}

fn sha1(parts: &[&[u8]]) -> Vec<u8> {
    let mut h = sha1::Sha1::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().to_vec()
}

#[test]
fn built_log_parses_round_trips_and_replays() {
    let mut b = EventLogBuilder::new(&[HashAlg::Sha256, HashAlg::Sha1]).unwrap();
    b.push_startup_locality(3).unwrap();
    b.push_hashed(
        0,
        EventType::S_CRTM_VERSION,
        "sealbuild test\0"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect::<Vec<_>>()
            .as_slice(),
    )
    .unwrap();
    let kernel = b"pretend kernel image".to_vec();
    b.push_payload(
        4,
        EventType::EFI_BOOT_SERVICES_APPLICATION,
        &[0u8; 32],
        &kernel,
    )
    .unwrap();
    b.push_hashed(8, EventType::IPL, b"kernel_cmdline: console=ttyS0\0")
        .unwrap();
    for pcr in 0..=7 {
        b.push_hashed(pcr, EventType::SEPARATOR, &[0, 0, 0, 0])
            .unwrap();
    }
    b.push_no_action(0, b"SP800-155 Event3\0 not really")
        .unwrap();
    let precomputed = EventDigest {
        alg_id: HashAlg::Sha1.alg_id(),
        digest: vec![0x11; 20],
    };
    let precomputed256 = EventDigest {
        alg_id: HashAlg::Sha256.alg_id(),
        digest: vec![0x22; 32],
    };
    b.push_digests(
        9,
        EventType::IPL,
        b"(hd0)/grub.cfg\0",
        vec![precomputed, precomputed256],
    )
    .unwrap();
    assert_eq!(b.len(), 14);
    let log = b.build();

    let bytes = log.to_bytes();
    let parsed = EventLog::parse(&bytes).unwrap();
    assert_eq!(parsed, log);
    assert_eq!(parsed.to_bytes(), bytes);
    let LogFormat::CryptoAgile { spec_id } = parsed.format() else {
        panic!()
    };
    assert_eq!(
        spec_id
            .algorithms
            .iter()
            .map(|a| (a.alg_id, a.digest_size))
            .collect::<Vec<_>>(),
        vec![(0x000B, 32), (0x0004, 20)]
    );
    assert_eq!(parsed.events()[0].index, 1);

    // Independent replay of SHA-256 PCR 0, 4, 8, 9 and SHA-1 PCR 4.
    let sep = [0u8, 0, 0, 0];
    let mut pcr0 = vec![0u8; 32];
    pcr0[31] = 3;
    let crtm: Vec<u8> = "sealbuild test\0"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let pcr0 = sha256(&[&pcr0, &sha256(&[&crtm])]);
    let pcr0 = sha256(&[&pcr0, &sha256(&[&sep])]);
    let pcr4 = sha256(&[
        &sha256(&[&[0u8; 32], &sha256(&[&kernel])]),
        &sha256(&[&sep]),
    ]);
    let pcr8 = sha256(&[&[0u8; 32], &sha256(&[b"kernel_cmdline: console=ttyS0\0"])]);
    let pcr9 = sha256(&[&[0u8; 32], &[0x22; 32]]);
    let pcr4_sha1 = sha1(&[&sha1(&[&[0u8; 20], &sha1(&[&kernel])]), &sha1(&[&sep])]);

    let r = parsed.replay();
    assert_eq!(r.startup_locality(), Some((1, 3)));
    assert_eq!(r.value(HashAlg::Sha256, 0).unwrap(), pcr0.as_slice());
    assert_eq!(r.value(HashAlg::Sha256, 4).unwrap(), pcr4.as_slice());
    assert_eq!(r.value(HashAlg::Sha256, 8).unwrap(), pcr8.as_slice());
    assert_eq!(r.value(HashAlg::Sha256, 9).unwrap(), pcr9.as_slice());
    assert_eq!(r.value(HashAlg::Sha1, 4).unwrap(), pcr4_sha1.as_slice());
    // PCR 0 in SHA-1 also starts at locality 3.
    let mut p0 = vec![0u8; 20];
    p0[19] = 3;
    let p0 = sha1(&[&sha1(&[&p0, &sha1(&[&crtm])]), &sha1(&[&sep])]);
    assert_eq!(r.value(HashAlg::Sha1, 0).unwrap(), p0.as_slice());
    // Untouched PCRs keep their reset values.
    assert_eq!(r.value(HashAlg::Sha256, 10).unwrap(), &[0u8; 32]);
    assert_eq!(r.value(HashAlg::Sha256, 17).unwrap(), &[0xffu8; 32]);
    // The EV_NO_ACTION event extended nothing; PCR 0 events are 2 and 5.
    let p0_events: Vec<u32> = r
        .pcr(HashAlg::Sha256, 0)
        .unwrap()
        .extended_by
        .iter()
        .map(|e| e.index)
        .collect();
    assert_eq!(p0_events, vec![2, 5]);

    let json = r.to_json_map();
    assert_eq!(json["sha256"]["4"], hex::encode(&pcr4));
    assert_eq!(json["sha1"].len(), 10); // PCR 0-7, 8, 9
}

#[test]
fn late_startup_locality_is_ignored_with_a_warning() {
    let mut b = EventLogBuilder::new(&[HashAlg::Sha256]).unwrap();
    b.push_hashed(1, EventType::SEPARATOR, &[0; 4]).unwrap();
    b.push_startup_locality(3).unwrap();
    b.push_startup_locality(4).unwrap();
    let r = b.build().replay();
    assert_eq!(r.startup_locality(), Some((2, 3)));
    assert_eq!(r.warnings().len(), 1);
    assert_eq!(
        r.warnings()[0].to_string(),
        "event 3: second StartupLocality event (locality 4); ignored"
    );

    // A locality event after PCR 0 was extended cannot come from the builder;
    // build the bytes by hand from a log with the events in the other order.
    let mut b = EventLogBuilder::new(&[HashAlg::Sha256]).unwrap();
    b.push_startup_locality(3).unwrap();
    b.push_hashed(0, EventType::SEPARATOR, &[0; 4]).unwrap();
    let bytes = b.build().to_bytes();
    let header = 32 + u32::from_le_bytes(bytes[28..32].try_into().unwrap()) as usize;
    let first_len = 12 + 34 + 4 + 17;
    let mut swapped = bytes[..header].to_vec();
    swapped.extend_from_slice(&bytes[header + first_len..]);
    swapped.extend_from_slice(&bytes[header..header + first_len]);
    let r = EventLog::parse(&swapped).unwrap().replay();
    assert_eq!(r.startup_locality(), None);
    assert_eq!(
        r.warnings()[0].to_string(),
        "event 2: StartupLocality 3 after PCR 0 was extended; ignored"
    );
    assert_eq!(
        r.value(HashAlg::Sha256, 0).unwrap(),
        sha256(&[&[0u8; 32], &sha256(&[&[0u8; 4]])]).as_slice()
    );
}
