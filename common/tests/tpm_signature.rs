//! TPMT_SIGNATURE: real RSASSA, RSAPSS and ECDSA signatures round-trip
//! exactly and decode as their producers state; unsupported schemes, bad
//! hashes and bad sizes are refused.
// Test code: a failed unwrap, expect or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod tpm_support;

use sealbuild_common::tpm::{SigScheme, Signature, SignatureValue};
use sealbuild_common::{FormatError, HashAlg};
use tpm_support::*;

#[test]
fn real_signatures_round_trip() {
    let all = real_signatures();
    assert_eq!(all.len(), 12);
    for (label, bytes) in all {
        let s = Signature::parse(&bytes).unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_eq!(s.to_bytes(), bytes, "{label}: round trip");
        assert_prefixes_and_trailing_rejected(&label, &bytes, Signature::parse);
    }
}

#[test]
fn real_signatures_decode_as_stated() {
    // GCE: RSASSA-SHA256 with a 2048-bit AK (MANIFEST §3.2).
    let gce = Signature::parse(&hexf(
        &gce("nonce9009")["quotes"][1]["signature_tpmt_signature"],
    ))
    .unwrap();
    assert_eq!(
        (gce.scheme(), gce.hash()),
        (SigScheme::RsaSsa, HashAlg::Sha256)
    );
    assert!(matches!(gce.value(), SignatureValue::Rsa(s) if s.len() == 256));
    // Windows: RSASSA-SHA1 (MANIFEST §3.3).
    let win = Signature::parse(&b64f(&windows()["Quote"]["Signature"])).unwrap();
    assert_eq!(
        (win.scheme(), win.hash()),
        (SigScheme::RsaSsa, HashAlg::Sha1)
    );
    // tpm2-tools: ECDSA-SHA256 on P-256, RSAPSS-SHA256.
    let ecc = Signature::parse(&data("tpm2-tools-5.4-swtpm/ecc.sig")).unwrap();
    assert_eq!(
        (ecc.scheme(), ecc.hash()),
        (SigScheme::Ecdsa, HashAlg::Sha256)
    );
    assert!(
        matches!(ecc.value(), SignatureValue::Ecdsa { r, s } if r.len() == 32 && s.len() == 32)
    );
    let pss = Signature::parse(&data("tpm2-tools-5.4-swtpm/pss.sig")).unwrap();
    assert_eq!(
        (pss.scheme(), pss.hash()),
        (SigScheme::RsaPss, HashAlg::Sha256)
    );
}

#[test]
fn unsupported_schemes_and_hashes_rejected() {
    let rsa = data("tpm2-tools-5.4-swtpm/rsa.sig");
    // NULL (unsigned), HMAC, RSAES, OAEP, ECDAA, SM2, ECSCHNORR, unknown.
    for alg in [
        0x0010u16, 0x0005, 0x0015, 0x0017, 0x001A, 0x001B, 0x001C, 0xffff,
    ] {
        assert_eq!(
            Signature::parse(&patched(&rsa, 0, &alg.to_be_bytes())),
            Err(FormatError::Unsupported {
                field: "TPMT_SIGNATURE.sigAlg",
                value: u64::from(alg)
            })
        );
    }
    // Hash: TPM_ALG_NULL is not allowed in TPMS_SIGNATURE_RSA; SM3 and unknown ids unsupported.
    for h in [0x0010u16, 0x0012, 0x0000] {
        assert!(matches!(
            Signature::parse(&patched(&rsa, 2, &h.to_be_bytes())),
            Err(FormatError::Unsupported {
                field: "TPMS_SIGNATURE_RSA.hash",
                ..
            })
        ));
    }
    let ecc = data("tpm2-tools-5.4-swtpm/ecc.sig");
    assert!(matches!(
        Signature::parse(&patched(&ecc, 2, &[0x00, 0x10])),
        Err(FormatError::Unsupported {
            field: "TPMS_SIGNATURE_ECC.hash",
            ..
        })
    ));
    // An RSA body under the ECDSA tag and vice versa do not parse.
    assert!(Signature::parse(&patched(&rsa, 0, &[0x00, 0x18])).is_err());
    assert!(Signature::parse(&patched(&ecc, 0, &[0x00, 0x14])).is_err());
}

#[test]
fn sizes_checked() {
    // Empty RSA signature.
    assert!(matches!(
        Signature::parse(&[0x00, 0x14, 0x00, 0x0b, 0x00, 0x00]),
        Err(FormatError::Unexpected {
            field: "TPMS_SIGNATURE_RSA.sig",
            ..
        })
    ));
    // 513 bytes exceeds TPM2B_PUBLIC_KEY_RSA.
    let mut big = vec![0x00, 0x14, 0x00, 0x0b, 0x02, 0x01];
    big.extend_from_slice(&[1u8; 513]);
    assert_eq!(
        Signature::parse(&big),
        Err(FormatError::TooLarge {
            field: "TPMS_SIGNATURE_RSA.sig",
            size: 513,
            max: 512
        })
    );
    // A 512-byte (RSA-4096) signature is fine.
    let mut ok = vec![0x00, 0x16, 0x00, 0x0c, 0x02, 0x00];
    ok.extend_from_slice(&[1u8; 512]);
    assert_eq!(Signature::parse(&ok).unwrap().to_bytes(), ok);
    // ECDSA r of 67 bytes exceeds TPM2B_ECC_PARAMETER; an empty s is refused.
    let mut r67 = vec![0x00, 0x18, 0x00, 0x0b, 0x00, 0x43];
    r67.extend_from_slice(&[1u8; 67]);
    r67.extend_from_slice(&[0x00, 0x01, 0x05]);
    assert!(matches!(
        Signature::parse(&r67),
        Err(FormatError::TooLarge {
            size: 67,
            max: 66,
            ..
        })
    ));
    assert!(Signature::parse(&[0x00, 0x18, 0x00, 0x0b, 0x00, 0x01, 0x05, 0x00, 0x00]).is_err());
}

#[test]
fn constructors_validate_and_round_trip() {
    let s = Signature::new_ecdsa(HashAlg::Sha384, &[1; 48], &[2; 47]).unwrap();
    assert_eq!(Signature::parse(&s.to_bytes()).unwrap(), s);
    assert!(Signature::new_rsa(SigScheme::Ecdsa, HashAlg::Sha256, &[1; 256]).is_err());
    assert!(Signature::new_rsa(SigScheme::RsaSsa, HashAlg::Sha256, &[]).is_err());
    assert!(Signature::new_ecdsa(HashAlg::Sha256, &[], &[1]).is_err());
    let r = Signature::new_rsa(SigScheme::RsaPss, HashAlg::Sha512, &[7; 384]).unwrap();
    assert_eq!(Signature::parse(&r.to_bytes()).unwrap(), r);
}
