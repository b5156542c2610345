//! PCR selections and PCR composite digests: TPML_PCR_SELECTION encoding,
//! the tpm2-tools text form, and digests that reproduce real quotes'
//! pcrDigest from their PCR values.
// Test code: a failed unwrap, expect or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod tpm_support;

use std::collections::BTreeMap;

use sealbuild_common::tpm::{pcr_digest, Attest, PcrSelection, PcrSelectionList, PcrValues};
use sealbuild_common::{FormatError, HashAlg};
use tpm_support::*;

#[test]
fn selection_list_encoding() {
    let l =
        PcrSelectionList::new(&[(HashAlg::Sha256, &[0, 1, 2]), (HashAlg::Sha1, &[0, 7])]).unwrap();
    let bytes = l.to_bytes();
    assert_eq!(hex::encode(&bytes), "00000002000b03070000000403810000");
    assert_eq!(PcrSelectionList::parse(&bytes).unwrap(), l);
    assert_eq!(
        PcrSelectionList::parse_tools_spec("sha256:0,1,2+sha1:0,7").unwrap(),
        l
    );
    assert_prefixes_and_trailing_rejected("TPML_PCR_SELECTION", &bytes, PcrSelectionList::parse);
    // A 4-byte bitmap (PCR 24–31) round-trips.
    let wide = PcrSelectionList::new(&[(HashAlg::Sha384, &[31, 0])]).unwrap();
    assert_eq!(hex::encode(wide.to_bytes()), "00000001000c0401000080");
    assert_eq!(PcrSelectionList::parse(&wide.to_bytes()).unwrap(), wide);
    assert_eq!(
        wide.pcrs().collect::<Vec<_>>(),
        vec![(HashAlg::Sha384, 0), (HashAlg::Sha384, 31)]
    );
    // An empty list and an empty bank are valid.
    assert_eq!(
        PcrSelectionList::parse(&[0, 0, 0, 0]).unwrap().pcr_count(),
        0
    );
    assert!(
        PcrSelectionList::parse(&hex::decode("00000001000403000000").unwrap())
            .unwrap()
            .banks()[0]
            .is_empty()
    );
}

#[test]
fn selection_list_mutations_rejected() {
    let ok = hex::decode("00000002000b03070000000403810000").unwrap();
    // 17 banks.
    let mut many = 17u32.to_be_bytes().to_vec();
    for alg in 0..17u16 {
        many.extend_from_slice(&[0x00, 0x0b]);
        many.extend_from_slice(&[3, alg as u8, 0, 0]);
    }
    assert!(matches!(
        PcrSelectionList::parse(&many),
        Err(FormatError::TooLarge {
            size: 17,
            max: 16,
            ..
        })
    ));
    // sizeofSelect outside 3..=4.
    for (size, extra) in [(0u8, 0usize), (1, 1), (2, 2), (5, 5), (255, 255)] {
        let mut m = hex::decode("00000001000b").unwrap();
        m.push(size);
        m.extend(std::iter::repeat_n(0, extra));
        assert!(
            matches!(
                PcrSelectionList::parse(&m),
                Err(FormatError::Unexpected {
                    field: "TPMS_PCR_SELECTION.sizeofSelect",
                    ..
                })
            ),
            "sizeofSelect {size}"
        );
    }
    // Unknown or NULL bank; a bank listed twice.
    assert!(PcrSelectionList::parse(&patched(&ok, 4, &[0x00, 0x12])).is_err());
    assert!(PcrSelectionList::parse(&patched(&ok, 4, &[0x00, 0x10])).is_err());
    assert!(PcrSelectionList::parse(&patched(&ok, 10, &[0x00, 0x0b])).is_err());
    assert!(PcrSelectionList::from_selections(vec![
        PcrSelection::new(HashAlg::Sha1, &[1]).unwrap(),
        PcrSelection::new(HashAlg::Sha1, &[2]).unwrap(),
    ])
    .is_err());
    assert!(PcrSelection::from_bitmap(HashAlg::Sha1, &[0xff; 5]).is_err());
}

#[test]
fn pcr_digest_known_answers() {
    // SHA-256 of 64 zero bytes (two all-zero SHA-256 PCRs).
    let z = [0u8; 32];
    assert_eq!(
        hex::encode(pcr_digest(HashAlg::Sha256, &[&z, &z])),
        "f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb4b"
    );
    // SHA-256 of nothing (an empty selection).
    assert_eq!(
        hex::encode(pcr_digest(HashAlg::Sha256, &[])),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

fn gce_values(q: &serde_json::Value) -> PcrValues {
    let bank = q["pcr_bank"].as_str().unwrap().to_string();
    let pcrs: BTreeMap<u32, String> = q["pcrs"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.parse().unwrap(), v.as_str().unwrap().to_string()))
        .collect();
    PcrValues::from_named_hex(&BTreeMap::from([(bank, pcrs)])).unwrap()
}

#[test]
fn gce_pcr_values_reproduce_pcr_digest() {
    // Each GCE quote's pcrDigest is SHA-256 (the signing hash) over PCR 0–23
    // of its bank, in ascending order.
    for which in ["nonce9009", "no-nonce"] {
        for q in gce(which)["quotes"].as_array().unwrap() {
            let a = Attest::parse(&hexf(&q["attest_tpms_attest"])).unwrap();
            let quote = a.quote().unwrap();
            let values = gce_values(q);
            assert_eq!(
                values.digest(quote.pcr_select(), HashAlg::Sha256).unwrap(),
                quote.pcr_digest(),
                "{which} {}",
                q["pcr_bank"]
            );
            // Values in the wrong order do not.
            let mut ordered = values.selected(quote.pcr_select()).unwrap();
            ordered.swap(0, 1);
            assert_ne!(pcr_digest(HashAlg::Sha256, &ordered), quote.pcr_digest());
        }
    }
}

#[test]
fn windows_pcr_values_reproduce_pcr_digest() {
    let w = windows();
    let mut values = PcrValues::new();
    for p in w["Log"]["PCRs"].as_array().unwrap() {
        assert_eq!(p["DigestAlg"], 3, "Go crypto.SHA1");
        values
            .insert(
                HashAlg::Sha1,
                p["Index"].as_u64().unwrap() as u32,
                &b64f(&p["Digest"]),
            )
            .unwrap();
    }
    let a = Attest::parse(&b64f(&w["Quote"]["Quote"])).unwrap();
    let quote = a.quote().unwrap();
    assert_eq!(
        values.digest(quote.pcr_select(), HashAlg::Sha1).unwrap(),
        quote.pcr_digest()
    );
    assert_eq!(
        hex::encode(values.get(HashAlg::Sha1, 0).unwrap()),
        "51c323de0c0c694f4601cdd02beb58ff13629f74"
    );
}

#[test]
fn missing_pcrs_are_named() {
    let sel = PcrSelectionList::parse_tools_spec("sha256:0,7,23+sha1:0,1").unwrap();
    let mut v = PcrValues::new();
    v.insert(HashAlg::Sha256, 0, &[1; 32]).unwrap();
    v.insert(HashAlg::Sha1, 1, &[1; 20]).unwrap();
    let err = v.digest(&sel, HashAlg::Sha256).unwrap_err().to_string();
    assert!(err.contains("sha256 PCR 7, 23; sha1 PCR 0"), "{err}");
    assert_eq!(
        v.missing(&sel),
        vec![
            (HashAlg::Sha256, 7),
            (HashAlg::Sha256, 23),
            (HashAlg::Sha1, 0)
        ]
    );
}

#[test]
fn bank_order_follows_the_selection() {
    let a = [0xaa; 32];
    let b = [0xbb; 20];
    let mut v = PcrValues::new();
    v.insert(HashAlg::Sha256, 3, &a).unwrap();
    v.insert(HashAlg::Sha1, 3, &b).unwrap();
    let sha1_first = PcrSelectionList::parse_tools_spec("sha1:3+sha256:3").unwrap();
    let sha256_first = PcrSelectionList::parse_tools_spec("sha256:3+sha1:3").unwrap();
    assert_eq!(
        v.digest(&sha1_first, HashAlg::Sha256).unwrap(),
        pcr_digest(HashAlg::Sha256, &[&b, &a])
    );
    assert_eq!(
        v.digest(&sha256_first, HashAlg::Sha256).unwrap(),
        pcr_digest(HashAlg::Sha256, &[&a, &b])
    );
}

#[test]
fn values_checked_and_named_hex_round_trip() {
    let mut v = PcrValues::new();
    assert!(
        v.insert(HashAlg::Sha256, 0, &[0; 20]).is_err(),
        "SHA-1-sized value in the SHA-256 bank"
    );
    assert!(v.insert(HashAlg::Sha1, 32, &[0; 20]).is_err(), "PCR 32");
    v.insert(HashAlg::Sha384, 17, &[0xff; 48]).unwrap();
    v.insert(HashAlg::Sha1, 0, &[0x01; 20]).unwrap();
    let named = v.to_named_hex();
    assert_eq!(named["sha384"][&17], "ff".repeat(48));
    assert_eq!(PcrValues::from_named_hex(&named).unwrap(), v);
    for (bank, value) in [("md5", "00"), ("sha1", "zz"), ("sha1", "00")] {
        let m = BTreeMap::from([(
            bank.to_string(),
            BTreeMap::from([(0u32, value.to_string())]),
        )]);
        assert!(PcrValues::from_named_hex(&m).is_err(), "{bank} {value}");
    }
    let sel = PcrSelectionList::parse_tools_spec("sha1:0").unwrap();
    let only = v.restricted_to(&sel);
    assert_eq!(only.get(HashAlg::Sha1, 0), Some(&[0x01; 20][..]));
    assert_eq!(only.get(HashAlg::Sha384, 17), None);
}
