//! TPMS_ATTEST: real quotes and creation attestations round-trip exactly,
//! their fields decode to the values their producers state, and every
//! mutation class the parser guards against is refused.
// Test code: a failed unwrap, expect or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod tpm_support;

use sealbuild_common::tpm::{Attest, Attested, Name, Public};
use sealbuild_common::{FormatError, HashAlg};
use tpm_support::*;

#[test]
fn real_attests_round_trip() {
    let all = real_attests();
    assert_eq!(all.len(), 12);
    for (label, bytes) in all {
        let a = Attest::parse(&bytes).unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_eq!(a.to_bytes(), bytes, "{label}: round trip");
        assert_prefixes_and_trailing_rejected(&label, &bytes, Attest::parse);
    }
}

#[test]
fn gce_quotes_decode_as_stated() {
    // MANIFEST §3.2: three quotes (SHA-1, SHA-256, SHA-384 banks) of PCR 0–23,
    // each signed RSASSA-SHA256, so each pcrDigest is a SHA-256 digest.
    for (which, nonce) in [("nonce9009", vec![0x90, 0x09]), ("no-nonce", vec![])] {
        for q in gce(which)["quotes"].as_array().unwrap() {
            let bank = HashAlg::from_name(q["pcr_bank"].as_str().unwrap()).unwrap();
            let a = Attest::parse(&hexf(&q["attest_tpms_attest"])).unwrap();
            assert_eq!(a.extra_data(), nonce.as_slice());
            assert!(
                matches!(a.qualified_signer(), Name::Digest { alg: HashAlg::Sha256, digest } if digest.len() == 32)
            );
            assert!(a.clock_info().safe);
            let quote = a.quote().expect("a quote");
            assert_eq!(
                quote.pcr_select().to_string(),
                format!(
                    "{bank}:{}",
                    (0..24).map(|i| i.to_string()).collect::<Vec<_>>().join(",")
                )
            );
            assert_eq!(quote.pcr_digest().len(), 32);
        }
    }
}

#[test]
fn windows_creation_attestation_names_the_ak() {
    // MANIFEST §3.3: the AK's TPMS_CREATION_INFO attestation. Its objectName must
    // be the AK's Name (Part 1 §16) and its creationHash H(TPMS_CREATION_DATA).
    let w = windows();
    let ak = Public::parse(&b64f(&w["AK"]["Public"])).unwrap();
    let a = Attest::parse(&b64f(&w["AK"]["CreateAttestation"])).unwrap();
    let Attested::Creation(c) = a.attested() else {
        panic!(
            "expected TPM_ST_ATTEST_CREATION, got {}",
            a.attested().tag_name()
        )
    };
    assert_eq!(c.object_name.to_bytes(), ak.name());
    assert_eq!(
        c.creation_hash(),
        HashAlg::Sha256
            .digest(&b64f(&w["AK"]["CreateData"]))
            .as_slice()
    );
    // And the Windows quote: empty nonce, SHA-1 bank 0–23, SHA-1 pcrDigest.
    let q = Attest::parse(&b64f(&w["Quote"]["Quote"])).unwrap();
    assert_eq!(q.extra_data(), b"");
    assert_eq!(
        hex::encode(q.quote().unwrap().pcr_digest()),
        "a610f27bc687ce906243287d832706036e79f6e1"
    );
    assert_eq!(
        q.quote().unwrap().pcr_select().banks()[0].hash(),
        HashAlg::Sha1
    );
}

/// Offsets inside the GCE nonce9009 SHA-256 quote.
struct Layout {
    bytes: Vec<u8>,
    signer_size: usize,
    extra_size: usize,
    safe: usize,
    sel_count: usize,
}

fn gce_quote() -> Layout {
    let bytes = hexf(&gce("nonce9009")["quotes"][1]["attest_tpms_attest"]);
    let signer_size = 6;
    let name_len = usize::from(u16::from_be_bytes([bytes[6], bytes[7]]));
    let extra_size = 8 + name_len;
    let extra_len = usize::from(u16::from_be_bytes([
        bytes[extra_size],
        bytes[extra_size + 1],
    ]));
    let safe = extra_size + 2 + extra_len + 16;
    let sel_count = safe + 1 + 8;
    Layout {
        bytes,
        signer_size,
        extra_size,
        safe,
        sel_count,
    }
}

#[test]
fn layout_matches_spec_order() {
    let l = gce_quote();
    assert_eq!(
        &l.bytes[l.extra_size..l.extra_size + 4],
        &[0x00, 0x02, 0x90, 0x09]
    );
    assert_eq!(l.bytes[l.safe], 1);
    assert_eq!(
        &l.bytes[l.sel_count..l.sel_count + 10],
        &[0, 0, 0, 1, 0x00, 0x0b, 3, 0xff, 0xff, 0xff]
    );
}

#[test]
fn magic_and_type_mutations_rejected() {
    let l = gce_quote();
    for i in 0..4 {
        let mut m = l.bytes.clone();
        m[i] ^= 0x01;
        assert!(
            matches!(
                Attest::parse(&m),
                Err(FormatError::Unexpected {
                    field: "TPMS_ATTEST.magic",
                    ..
                })
            ),
            "magic byte {i}"
        );
    }
    // NV, command audit, session audit, time, NV digest, a command tag, zero.
    for tag in [0x8014u16, 0x8015, 0x8016, 0x8019, 0x801C, 0x8001, 0x0000] {
        let m = patched(&l.bytes, 4, &tag.to_be_bytes());
        assert_eq!(
            Attest::parse(&m),
            Err(FormatError::Unsupported {
                field: "TPMS_ATTEST.type",
                value: u64::from(tag)
            })
        );
    }
    // A quote body read as a certify body does not parse.
    assert!(Attest::parse(&patched(&l.bytes, 4, &0x8017u16.to_be_bytes())).is_err());
    assert!(Attest::parse(&patched(&l.bytes, 4, &0x801Au16.to_be_bytes())).is_err());
}

#[test]
fn field_mutations_rejected() {
    let l = gce_quote();
    let b = &l.bytes;
    // safe is a TPMI_YES_NO.
    for v in [2u8, 0x80, 0xff] {
        assert!(matches!(
            Attest::parse(&patched(b, l.safe, &[v])),
            Err(FormatError::Unexpected {
                field: "TPMS_CLOCK_INFO.safe",
                ..
            })
        ));
    }
    // safe = 0 is valid and round-trips.
    let unsafe_clock = patched(b, l.safe, &[0]);
    let a = Attest::parse(&unsafe_clock).unwrap();
    assert!(!a.clock_info().safe);
    assert_eq!(a.to_bytes(), unsafe_clock);
    // qualifiedSigner: unsupported name algorithm, wrong digest length for the algorithm.
    assert!(matches!(
        Attest::parse(&patched(b, l.signer_size + 2, &[0x00, 0x12])),
        Err(FormatError::Unsupported {
            field: "TPMS_ATTEST.qualifiedSigner",
            value: 0x12
        })
    ));
    assert!(Attest::parse(&patched(b, l.signer_size + 2, &[0x00, 0x04])).is_err());
    assert!(Attest::parse(&patched(b, l.signer_size, &[0x00, 0x43])).is_err());
    // extraData larger than TPM2B_DATA allows (66).
    let mut big = b[..l.extra_size].to_vec();
    big.extend_from_slice(&67u16.to_be_bytes());
    big.extend_from_slice(&[0u8; 67]);
    big.extend_from_slice(&b[l.extra_size + 4..]);
    assert_eq!(
        Attest::parse(&big),
        Err(FormatError::TooLarge {
            field: "TPMS_ATTEST.extraData",
            size: 67,
            max: 66
        })
    );
    // PCR selection: too many banks, bad sizeofSelect, unknown bank.
    assert!(matches!(
        Attest::parse(&patched(b, l.sel_count, &17u32.to_be_bytes())),
        Err(FormatError::TooLarge {
            field: "TPML_PCR_SELECTION.count",
            size: 17,
            ..
        })
    ));
    for size in [0u8, 2, 5, 0xff] {
        assert!(
            Attest::parse(&patched(b, l.sel_count + 6, &[size])).is_err(),
            "sizeofSelect {size}"
        );
    }
    assert!(matches!(
        Attest::parse(&patched(b, l.sel_count + 4, &[0x00, 0x12])),
        Err(FormatError::Unsupported {
            field: "TPMS_PCR_SELECTION.hash",
            ..
        })
    ));
    // pcrDigest of a size no supported hash has.
    let digest_size = l.sel_count + 4 + 6;
    let mut odd = b[..digest_size].to_vec();
    odd.extend_from_slice(&31u16.to_be_bytes());
    odd.extend_from_slice(&b[digest_size + 2..digest_size + 2 + 31]);
    assert!(matches!(
        Attest::parse(&odd),
        Err(FormatError::Unexpected {
            field: "TPMS_QUOTE_INFO.pcrDigest",
            ..
        })
    ));
}

#[test]
fn duplicate_bank_rejected() {
    let l = gce_quote();
    let b = &l.bytes;
    let mut m = b[..l.sel_count].to_vec();
    m.extend_from_slice(&2u32.to_be_bytes());
    m.extend_from_slice(&b[l.sel_count + 4..l.sel_count + 10]);
    m.extend_from_slice(&b[l.sel_count + 4..l.sel_count + 10]);
    m.extend_from_slice(&b[l.sel_count + 10..]);
    assert!(matches!(
        Attest::parse(&m),
        Err(FormatError::Unexpected {
            field: "TPML_PCR_SELECTION",
            ..
        })
    ));
}

#[test]
fn certify_attestation_round_trips() {
    // A TPM_ST_ATTEST_CERTIFY built from the GCE header: name of an object,
    // and a qualified name; both SHA-256 names.
    let l = gce_quote();
    let mut m = l.bytes[..l.sel_count].to_vec();
    m[4..6].copy_from_slice(&0x8017u16.to_be_bytes());
    let name = [&[0x00u8, 0x0b][..], &[0xab; 32]].concat();
    let qname = [&[0x00u8, 0x0b][..], &[0xcd; 32]].concat();
    for n in [&name, &qname] {
        m.extend_from_slice(&34u16.to_be_bytes());
        m.extend_from_slice(n);
    }
    let a = Attest::parse(&m).unwrap();
    let Attested::Certify(c) = a.attested() else {
        panic!("certify expected")
    };
    assert_eq!(c.name.to_bytes(), name);
    assert_eq!(c.qualified_name.to_bytes(), qname);
    assert!(a.quote().is_none());
    assert_eq!(a.to_bytes(), m);
    assert_prefixes_and_trailing_rejected("certify", &m, Attest::parse);
    // Names may also be a 4-byte handle or empty.
    let mut h = l.bytes[..l.sel_count].to_vec();
    h[4..6].copy_from_slice(&0x8017u16.to_be_bytes());
    h.extend_from_slice(&[0, 4, 0x40, 0, 0, 7, 0, 0]);
    let a = Attest::parse(&h).unwrap();
    let Attested::Certify(c) = a.attested() else {
        panic!("certify expected")
    };
    assert_eq!(c.name, Name::Handle(0x4000_0007));
    assert_eq!(c.qualified_name, Name::Empty);
    assert_eq!(a.to_bytes(), h);
}
