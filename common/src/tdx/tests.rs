//! Parser tests against the real quotes of tests/data/tdx (MANIFEST §2).

use super::*;
use crate::error::FormatError;

macro_rules! vector {
    ($p:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/data/tdx/",
            $p
        ))
    };
}

const DCAP_V4: &[u8] = vector!("dcap-qvl/tdx_quote");
const DCAP_V5: &[u8] = vector!("dcap-qvl/tdx_quote_outdated");
const DCAP_SGX: &[u8] = vector!("dcap-qvl/sgx_quote");
const GO_SPR: &[u8] = vector!("go-tdx-guest/tdx_prod_quote_SPR_E4.dat");
const GO_V5: &[u8] = vector!("go-tdx-guest/quote_v5_sample.dat");
const TRUSTEE_4: &[u8] = vector!("trustee/tdx_quote_4.dat");
const TRUSTEE_5: &[u8] = vector!("trustee/tdx_quote_5.dat");
const TRUSTEE_6: &[u8] = vector!("trustee/tdx_quote_6.dat");
const OCCLUM: &[u8] = vector!("trustee/occlum_quote.dat");

fn hex_file(text: &[u8]) -> Vec<u8> {
    let t = std::str::from_utf8(text).unwrap().trim();
    hex::decode(t.strip_prefix("0x").unwrap_or(t)).unwrap()
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

/// The go-tdx-guest SPR quote without the 39 test bytes its authors
/// appended ("\nextra bytes(only for testing purpose)\n").
fn spr_quote() -> &'static [u8] {
    &GO_SPR[..4935]
}

fn all_valid() -> Vec<Vec<u8>> {
    vec![
        DCAP_V4.to_vec(),
        DCAP_V5.to_vec(),
        DCAP_SGX.to_vec(),
        hex_file(vector!("dcap-qvl/tdx-quote.hex")),
        hex_file(vector!("dcap-qvl/quote-from-tappd.hex")),
        spr_quote().to_vec(),
        GO_V5.to_vec(),
        TRUSTEE_4.to_vec(),
        TRUSTEE_5.to_vec(),
        TRUSTEE_6.to_vec(),
        OCCLUM.to_vec(),
    ]
}

#[test]
fn every_vector_parses_and_round_trips() {
    for v in all_valid() {
        let q = Quote::parse(&v).unwrap();
        assert_eq!(q.to_bytes(), v);
        let signed = q.signed_bytes();
        assert_eq!(&v[..signed.len()], signed.as_slice());
        assert_eq!(q.quote_len() + q.padding, v.len());
        assert_eq!(q.header.qe_vendor_id, INTEL_QE_VENDOR_ID);
        assert_eq!(
            q.signature_data.qe.pck_cert_data.cert_type,
            CERT_TYPE_PCK_CHAIN
        );
    }
}

#[test]
fn dcap_qvl_v4_fields() {
    let q = Quote::parse(DCAP_V4).unwrap();
    assert_eq!((q.header.version, q.header.tee_type), (4, TeeType::Tdx));
    assert_eq!(q.padding, 70);
    assert_eq!(q.quote_len(), 4936);
    let t = q.td_report().unwrap();
    assert_eq!(
        t.tee_tcb_svn.to_vec(),
        h("06010300000000000000000000000000")
    );
    assert_eq!(t.mr_td.to_vec(), h("91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7"));
    assert_eq!(t.rtmr[0].to_vec(), h("44c0197b39157fdd7a4dcc44767f9d6b0bb3977c7a8e347b8492f827fe9d9e5c48aca29b220b80b6a540cf994b9bc9c0"));
    assert_eq!(t.rtmr[1].to_vec(), h("0084452c01668329d4bc06acdf58a7205c26743304509973949e5619bf81a6a7aea8c323c173019b3093d54e579e9378"));
    assert_eq!(t.rtmr[2].to_vec(), h("d833feef2cd945148aa38ead2c53e9b7f138190aaaebfc551dccd829fc207aa3ba80b70870d7330733642e01d48c3132"));
    assert_eq!(t.rtmr[3], [0; 48]);
    assert_eq!(t.report_data.to_vec(), h("9a9d48e7f6799642d3d1b34e1e5e1742d4bb02dd6ddd551862c1211d35c304f9eca3efdbb481601c163cf52493d6e44aed55d51ec39b7e518fadb92c2b523f20"));
    assert_eq!(t.mr_seam.to_vec(), h("5b38e33a6487958b72c3c12a938eaa5e3fd4510c51aeeab58c7d5ecee41d7c436489d6c8e4f92f160b7cad34207b00c1"));
    assert_eq!(t.mr_signer_seam, [0; 48]);
    assert_eq!(t.td_attributes.to_vec(), h("0000001000000000"));
    assert!(!t.is_debug());
    assert_eq!(t.td_attributes_u64(), TD_ATTR_SEPT_VE_DISABLE);
    assert_eq!(t.xfam.to_vec(), h("e702060000000000"));
    assert_eq!(
        (t.mr_config_id, t.mr_owner, t.mr_owner_config),
        ([0; 48], [0; 48], [0; 48])
    );
    assert!(t.v15.is_none());
    assert_eq!(q.body.body_type(), 2);
}

#[test]
fn v5_tdx15_fields() {
    let q = Quote::parse(DCAP_V5).unwrap();
    assert_eq!((q.header.version, q.body.body_type(), q.padding), (5, 3, 0));
    let t = q.td_report().unwrap();
    assert_eq!(t.tee_tcb_svn[..3], [7, 1, 3]);
    let v15 = t.v15.as_ref().unwrap();
    assert_eq!(v15.tee_tcb_svn2[..3], [0x0d, 1, 3]);
    assert_eq!(v15.mr_service_td, [0; 48]);
    assert_eq!(t.mr_td.to_vec(), h("273828c46252fcbdd8ad2dd907130222b03466d52a2911d70c1a5950895d6bd1ae451d382d5a9b1b4c0ed0e5ae9a3dbd"));
    assert_eq!(t.rtmr, [[0; 48]; 4]);
    assert_eq!(
        t.report_data[..32].to_vec(),
        h("d2142b643598eb5fae2bc8529dd79a558b29f868ccbb6531cb28dab9dce47728")
    );
    assert_eq!(t.report_data[32..], [0; 32]);

    let q = Quote::parse(TRUSTEE_5).unwrap();
    let t = q.td_report().unwrap();
    assert_eq!(t.v15.as_ref().unwrap().mr_service_td.to_vec(), h("383c87d3bbb047b2d171eaca95312ede99f258088dc788f6ae2ccf8b6dd848fe8d47629e08b3f6cbd4a00dd47a5a033d"));
    assert_eq!(t.tee_tcb_svn[..3], [5, 1, 2]);
    assert_eq!(t.v15.as_ref().unwrap().tee_tcb_svn2[..3], [5, 1, 2]);

    let q = Quote::parse(GO_V5).unwrap();
    let t = q.td_report().unwrap();
    assert_eq!(q.body.body_type(), 3);
    assert_eq!(t.tee_tcb_svn[..3], [0x0b, 1, 4]);
    assert_eq!(t.v15.as_ref().unwrap().tee_tcb_svn2[..3], [0x0d, 1, 4]);
    assert_eq!(t.mr_td.to_vec(), h("7348651a34b2d2d3462822e3a750ec6110125f36757c78480bbfc69cc0d21fb001a1ced3ee19747dda8f750c3bc8f876"));
}

#[test]
fn sgx_v3_fields() {
    let q = Quote::parse(DCAP_SGX).unwrap();
    assert_eq!((q.header.version, q.header.tee_type), (3, TeeType::Sgx));
    assert_eq!((q.header.qe_svn, q.header.pce_svn), (10, 15));
    let e = q.enclave_report().unwrap();
    assert_eq!(
        e.mr_enclave.to_vec(),
        h("33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb")
    );
    assert_eq!(
        e.mr_signer.to_vec(),
        h("815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6")
    );
    assert_eq!((e.isv_prod_id, e.isv_svn), (0, 0));
    assert_eq!(&e.report_data[..13], b"Hello, world!");
    assert_eq!(e.report_data[13..], [0; 51]);
    assert_eq!(e.attributes.to_vec(), h("0500000000000000e700000000000000"));
    assert!(!e.is_debug());

    let q = Quote::parse(OCCLUM).unwrap();
    assert_eq!((q.header.qe_svn, q.header.pce_svn), (8, 13));
    let e = q.enclave_report().unwrap();
    assert_eq!(
        e.mr_enclave.to_vec(),
        h("8f173e4613ff05c52aaf04162d234edae8c9977eae47eb2299ae16a553011c68")
    );
    assert_eq!(e.misc_select, 1);
    assert_eq!(&e.report_data[..4], b"test");
}

#[test]
fn trustee_debug_td_and_config_id() {
    let t4 = Quote::parse(TRUSTEE_4).unwrap();
    let t = t4.td_report().unwrap();
    assert_eq!(t.td_attributes.to_vec(), h("0100001000000000"));
    assert!(t.is_debug());
    assert_eq!(t.td_attributes_u64() & TD_ATTR_DEBUG, TD_ATTR_DEBUG);
    let t6 = Quote::parse(TRUSTEE_6).unwrap();
    let t = t6.td_report().unwrap();
    assert!(!t.is_debug());
    assert_eq!(t.mr_config_id.to_vec(), h("889abf4718f037e38d74464c11e7c91a6e9890b5546409e1e7df9de7a51ca93152bf847bd2440328e90adb18b150ed67"));
    assert_eq!(t.tee_tcb_svn[..3], [5, 3, 2]);
}

#[test]
fn go_tdx_guest_spr_fields_and_its_test_trailer() {
    // The file carries 39 non-zero bytes after the declared signature data
    // (a test string its authors appended); only zero padding is accepted.
    let err = Quote::parse(GO_SPR).unwrap_err();
    assert!(
        matches!(&err, FormatError::Unexpected { field, got, .. }
            if *field == "bytes after the quote signature data" && got.starts_with("39 trailing bytes")),
        "{err}"
    );
    let q = Quote::parse(spr_quote()).unwrap();
    let t = q.td_report().unwrap();
    assert_eq!(t.tee_tcb_svn[..3], [3, 0, 4]);
    assert_eq!(t.td_attributes.to_vec(), h("0000004000000000"));
    assert_eq!(t.xfam.to_vec(), h("e71a060000000000"));
    assert_eq!(t.mr_td.to_vec(), h("6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb"));
    assert_eq!(t.report_data.to_vec(), h("6c62dec1b8191749a31dab490be532a35944dea47caef1f980863993d9899545eb7406a38d1eed313b987a467dacead6f0c87a6d766c66f6f29f8acb281f1113"));
}

#[test]
fn go_tdx_guest_negative_edits() {
    // [0x00] = 3: a version 3 quote cannot be a TDX quote.
    let mut v = spr_quote().to_vec();
    v[0] = 3;
    assert!(matches!(
        Quote::parse(&v),
        Err(FormatError::Unexpected {
            field: "quote header Reserved (version 3)",
            ..
        })
    ));
    // [0x278] = 0x10: the declared signature data length no longer matches.
    let mut v = spr_quote().to_vec();
    v[0x278] = 0x10;
    assert!(Quote::parse(&v).is_err());
}

#[test]
fn padding_accepted_other_trailing_bytes_refused() {
    let mut v = TRUSTEE_4.to_vec();
    v.extend_from_slice(&[0; 3000]);
    assert_eq!(Quote::parse(&v).unwrap().padding, 3000);
    *v.last_mut().unwrap() = 1;
    assert!(Quote::parse(&v).is_err());
}

#[test]
fn every_truncation_refused() {
    for v in [TRUSTEE_4, DCAP_V5, DCAP_SGX] {
        for len in (0..v.len()).step_by(7) {
            assert!(Quote::parse(&v[..len]).is_err(), "{len}");
        }
        assert!(Quote::parse(&v[..v.len() - 1]).is_err());
    }
}

#[test]
fn declared_lengths_must_be_exact() {
    // The v4 signature-data length (u32 at 632), the type-6 size (at
    // 632+4+128+2) and the inner PEM size: one more or one less is refused.
    let base = TRUSTEE_4.to_vec();
    let pem_size_at = {
        let q = Quote::parse(&base).unwrap();
        632 + 4 + 128 + 6 + 384 + 64 + 2 + q.signature_data.qe.qe_auth_data.len() + 2
    };
    for at in [632, 632 + 4 + 128 + 2, pem_size_at] {
        for delta in [1u32, u32::MAX] {
            let mut v = base.clone();
            let n = u32::from_le_bytes(v[at..at + 4].try_into().unwrap());
            v[at..at + 4].copy_from_slice(&n.wrapping_add(delta).to_le_bytes());
            if delta == 1 {
                v.push(0);
            }
            assert!(Quote::parse(&v).is_err(), "length at {at:#x} {delta:#x}");
        }
    }
}

#[test]
fn headers_and_descriptors_refused() {
    let cases: [(&[u8], usize, u8); 9] = [
        (TRUSTEE_4, 0, 6),             // version 6
        (TRUSTEE_4, 2, 3),             // attestation key type 3 (P-384)
        (TRUSTEE_4, 4, 0x80),          // unknown TEE type
        (TRUSTEE_4, 8, 1),             // reserved (v4)
        (DCAP_V5, 48, 1),              // body type 1 with TEE type TDX
        (DCAP_V5, 48, 4),              // body type 4
        (DCAP_V5, 50, 0x80),           // body size 0x280 ≠ 648
        (DCAP_SGX, 48 + 20, 1),        // enclave report reserved byte
        (TRUSTEE_4, 632 + 4 + 128, 5), // outer certification data type 5
    ];
    for (v, at, val) in cases {
        let mut v = v.to_vec();
        v[at] = val;
        assert!(
            Quote::parse(&v).is_err(),
            "byte {at:#x} = {val:#x} accepted"
        );
    }
}

#[test]
fn qe_report_reserved_bytes_checked() {
    let q = Quote::parse(TRUSTEE_4).unwrap();
    let qe_at = 632 + 4 + 128 + 6;
    assert_eq!(
        q.signature_data.qe.qe_report_bytes(),
        TRUSTEE_4[qe_at..qe_at + 384].to_vec()
    );
    for off in [20, 31, 96, 127, 160, 191, 262, 303] {
        let mut v = TRUSTEE_4.to_vec();
        v[qe_at + off] = 1;
        assert!(
            Quote::parse(&v).is_err(),
            "QE report reserved byte {off} accepted"
        );
    }
}

proptest::proptest! {
    /// Random byte patches of a real quote never panic, and whatever parses
    /// re-serialises to the same bytes.
    #[test]
    fn patched_quotes_never_panic_and_round_trip(
        patches in proptest::collection::vec((0usize..5006, proptest::num::u8::ANY), 1..8),
        cut in 0usize..5100,
    ) {
        let mut v = DCAP_V5.to_vec();
        for (off, val) in patches {
            v[off] = val;
        }
        v.resize(cut, 0);
        if let Ok(q) = Quote::parse(&v) {
            proptest::prop_assert_eq!(q.to_bytes(), v);
        }
    }
}
