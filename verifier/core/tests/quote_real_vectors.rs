//! Quote verification against real TPM evidence:
//! * GCE COS 85 (go-tpm-tools, MANIFEST §3.2): RSASSA-SHA256 quotes of the
//!   SHA-1/SHA-256/SHA-384 banks with nonce 0x9009 resp. an empty nonce;
//! * a Windows GCE Shielded VM (go-attestation, MANIFEST §3.3): an
//!   RSASSA-SHA1 quote of the SHA-1 bank and the AK's creation attestation.
//!
//! Each valid vector verifies; each mutated twin (nonce, quote byte, signature
//! byte, PCR value, hash policy) fails with the error naming the cause.
// Test code: a failed unwrap, expect or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod quote_support;

use quote_support::*;
use sealbuild_common::tpm::{Attest, Attested, Public, Signature};
use sealbuild_common::HashAlg;
use sealbuild_verifier_core::quote::{
    check_ak_attributes, check_quote, verify_quote, verify_quote_signature, QuoteError,
    QuoteOptions,
};

const STRICT: QuoteOptions = QuoteOptions { allow_sha1: false };
const SHA1_OK: QuoteOptions = QuoteOptions { allow_sha1: true };

fn gce_ak(which: &str) -> Public {
    Public::parse(&hexf(&gce(which)["ak_pub_tpmt_public"])).unwrap()
}

#[test]
fn gce_sha256_quote_verifies_with_nonce_9009() {
    let ak = gce_ak("nonce9009");
    check_ak_attributes(&ak).unwrap();
    let (attest, sig, pcrs) = gce_quote("nonce9009", "sha256");
    let sig = Signature::parse(&sig).unwrap();
    let a = verify_quote_signature(&ak, &attest, &sig, &STRICT).unwrap();
    assert_eq!(a.to_bytes(), attest);
    let checked = check_quote(&a, &[0x90, 0x09], &pcrs, &STRICT).unwrap();
    assert_eq!(checked.pcr_digest_alg, HashAlg::Sha256);
    assert_eq!(checked.pcrs, pcrs, "all 24 PCRs are covered");
    assert_eq!(
        hex::encode(checked.pcrs.get(HashAlg::Sha256, 0).unwrap()),
        "0f35c214608d93c7a6e68ae7359b4a8be5a0e99eea9107ece427c4dea4e439cf"
    );
    let full = verify_quote(&ak, &attest, &sig, &[0x90, 0x09], &pcrs, &STRICT).unwrap();
    assert_eq!(full, checked);
}

#[test]
fn gce_quote_fails_with_any_other_nonce() {
    let ak = gce_ak("nonce9009");
    let (attest, sig, pcrs) = gce_quote("nonce9009", "sha256");
    let sig = Signature::parse(&sig).unwrap();
    for nonce in [
        &[][..],
        &[0x90],
        &[0x09, 0x90],
        &[0x90, 0x08],
        &[0x90, 0x09, 0x00],
        &[0x00, 0x90, 0x09],
    ] {
        let err = verify_quote(&ak, &attest, &sig, nonce, &pcrs, &STRICT).unwrap_err();
        let QuoteError::QualifyingDataMismatch { expected, got } = &err else {
            panic!("nonce {nonce:02x?}: {err}")
        };
        assert_eq!(got, "9009");
        assert_eq!(
            expected,
            &if nonce.is_empty() {
                "(empty)".to_string()
            } else {
                hex::encode(nonce)
            }
        );
        assert!(
            err.to_string().contains("expected") && err.to_string().contains("9009"),
            "{err}"
        );
    }
}

#[test]
fn gce_no_nonce_quote_needs_the_empty_nonce() {
    let ak = gce_ak("no-nonce");
    let (attest, sig, pcrs) = gce_quote("no-nonce", "sha256");
    let sig = Signature::parse(&sig).unwrap();
    verify_quote(&ak, &attest, &sig, &[], &pcrs, &STRICT).unwrap();
    assert!(matches!(
        verify_quote(&ak, &attest, &sig, &[0x90, 0x09], &pcrs, &STRICT),
        Err(QuoteError::QualifyingDataMismatch { .. })
    ));
}

#[test]
fn every_flipped_quote_byte_fails_the_signature() {
    let ak = gce_ak("nonce9009");
    let (attest, sig, _) = gce_quote("nonce9009", "sha256");
    let sig = Signature::parse(&sig).unwrap();
    for i in 0..attest.len() {
        let mut m = attest.clone();
        m[i] ^= 0x01;
        let err = verify_quote_signature(&ak, &m, &sig, &STRICT).unwrap_err();
        assert!(
            matches!(err, QuoteError::BadSignature { .. }),
            "byte {i}: {err}"
        );
    }
    // The error names the scheme, the AK and the digest that was checked.
    let mut m = attest.clone();
    m[45] ^= 1;
    let msg = verify_quote_signature(&ak, &m, &sig, &STRICT)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("RSASSA-sha256") && msg.contains(&hex::encode(ak.name())),
        "{msg}"
    );
    assert!(
        msg.contains(&hex::encode(HashAlg::Sha256.digest(&m))),
        "{msg}"
    );
}

#[test]
fn every_flipped_signature_byte_fails() {
    let ak = gce_ak("nonce9009");
    let (attest, sig_bytes, _) = gce_quote("nonce9009", "sha256");
    for i in 0..sig_bytes.len() {
        let mut m = sig_bytes.clone();
        m[i] ^= 0x01;
        let res = Signature::parse(&m)
            .map_err(QuoteError::from)
            .and_then(|s| verify_quote_signature(&ak, &attest, &s, &STRICT));
        assert!(res.is_err(), "signature byte {i} flipped still verifies");
    }
    // Another quote's signature does not verify this quote.
    let (_, other_sig, _) = gce_quote("nonce9009", "sha384");
    let other = Signature::parse(&other_sig).unwrap();
    assert!(matches!(
        verify_quote_signature(&ak, &attest, &other, &STRICT),
        Err(QuoteError::BadSignature { .. })
    ));
    // Nor does the right signature with another AK (the no-nonce attestation's AK is the same key).
    assert_eq!(gce_ak("no-nonce"), ak);
    let win_ak = Public::parse(&b64f(&windows()["AK"]["Public"])).unwrap();
    let sig = Signature::parse(&sig_bytes).unwrap();
    assert!(verify_quote_signature(&win_ak, &attest, &sig, &SHA1_OK).is_err());
}

#[test]
fn altered_or_missing_pcr_values_fail() {
    let ak = gce_ak("nonce9009");
    let (attest, sig, pcrs) = gce_quote("nonce9009", "sha256");
    let sig = Signature::parse(&sig).unwrap();
    let quoted = hex::encode(
        Attest::parse(&attest)
            .unwrap()
            .quote()
            .unwrap()
            .pcr_digest(),
    );
    for idx in [0u32, 7, 23] {
        let mut v = pcrs.clone();
        let mut val = v.get(HashAlg::Sha256, idx).unwrap().to_vec();
        val[0] ^= 1;
        v.insert(HashAlg::Sha256, idx, &val).unwrap();
        let err = verify_quote(&ak, &attest, &sig, &[0x90, 0x09], &v, &STRICT).unwrap_err();
        let QuoteError::PcrDigestMismatch {
            selection,
            quoted: q,
            computed,
            ..
        } = &err
        else {
            panic!("{err}")
        };
        assert_eq!(q, &quoted);
        assert_ne!(computed, &quoted);
        assert!(selection.starts_with("sha256:0,1,2"), "{selection}");
        assert!(err.to_string().contains(&quoted), "{err}");
    }
    // Values of another bank do not stand in for the quoted bank.
    let (_, _, sha384) = gce_quote("nonce9009", "sha384");
    let err = verify_quote(&ak, &attest, &sig, &[0x90, 0x09], &sha384, &STRICT).unwrap_err();
    assert!(err.to_string().contains("sha256 PCR 0, 1, 2"), "{err}");
    let mut partial = sealbuild_common::tpm::PcrValues::new();
    for i in (0..24).filter(|i| *i != 10) {
        partial
            .insert(HashAlg::Sha256, i, pcrs.get(HashAlg::Sha256, i).unwrap())
            .unwrap();
    }
    let err = verify_quote(&ak, &attest, &sig, &[0x90, 0x09], &partial, &STRICT).unwrap_err();
    let QuoteError::MissingPcrs { missing, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(missing, "sha256 PCR 10");
}

#[test]
fn gce_sha1_bank_needs_sha1_allowed() {
    // go-tpm-tools refuses SHA-1-bank quotes unless SHA-1 is allowed (MANIFEST §3.2).
    let ak = gce_ak("nonce9009");
    let (attest, sig, pcrs) = gce_quote("nonce9009", "sha1");
    let sig = Signature::parse(&sig).unwrap();
    let err = verify_quote(&ak, &attest, &sig, &[0x90, 0x09], &pcrs, &STRICT).unwrap_err();
    assert!(
        matches!(&err, QuoteError::Sha1NotAllowed { what } if what.contains("sha1:0,1")),
        "{err}"
    );
    let ok = verify_quote(&ak, &attest, &sig, &[0x90, 0x09], &pcrs, &SHA1_OK).unwrap();
    assert_eq!(ok.pcr_digest_alg, HashAlg::Sha256);
    // The SHA-384 bank quote needs no exception.
    let (attest, sig, pcrs) = gce_quote("nonce9009", "sha384");
    verify_quote(
        &ak,
        &attest,
        &Signature::parse(&sig).unwrap(),
        &[0x90, 0x09],
        &pcrs,
        &STRICT,
    )
    .unwrap();
}

#[test]
fn windows_quote_verifies_only_with_sha1_allowed() {
    let w = windows();
    let ak = Public::parse(&b64f(&w["AK"]["Public"])).unwrap();
    check_ak_attributes(&ak).unwrap();
    let attest = b64f(&w["Quote"]["Quote"]);
    let sig = Signature::parse(&b64f(&w["Quote"]["Signature"])).unwrap();
    let pcrs = windows_pcrs(&w);
    let nonce = b64f(&w["Quote"]["Nonce"]);
    assert!(nonce.is_empty());

    let err = verify_quote(&ak, &attest, &sig, &nonce, &pcrs, &STRICT).unwrap_err();
    assert!(
        matches!(&err, QuoteError::Sha1NotAllowed { what } if what.contains("RSASSA-sha1")),
        "{err}"
    );
    assert!(err.to_string().contains("allow_sha1"), "{err}");

    let ok = verify_quote(&ak, &attest, &sig, &nonce, &pcrs, &SHA1_OK).unwrap();
    assert_eq!(ok.pcr_digest_alg, HashAlg::Sha1);
    assert_eq!(
        hex::encode(ok.pcrs.get(HashAlg::Sha1, 7).unwrap()),
        "859a5877266b5c909613468091a73380a5386786"
    );

    // Mutated twins.
    assert!(matches!(
        verify_quote(&ak, &attest, &sig, &[1], &pcrs, &SHA1_OK),
        Err(QuoteError::QualifyingDataMismatch { .. })
    ));
    let mut flipped = attest.clone();
    *flipped.last_mut().unwrap() ^= 0x80;
    assert!(matches!(
        verify_quote(&ak, &flipped, &sig, &nonce, &pcrs, &SHA1_OK),
        Err(QuoteError::BadSignature { .. })
    ));
    let mut bad = pcrs.clone();
    bad.insert(HashAlg::Sha1, 7, &[0; 20]).unwrap();
    assert!(matches!(
        verify_quote(&ak, &attest, &sig, &nonce, &bad, &SHA1_OK),
        Err(QuoteError::PcrDigestMismatch {
            hash: HashAlg::Sha1,
            ..
        })
    ));
}

#[test]
fn windows_ak_creation_attestation_is_signed_but_not_a_quote() {
    let w = windows();
    let ak = Public::parse(&b64f(&w["AK"]["Public"])).unwrap();
    let sig = Signature::parse(&b64f(&w["AK"]["CreateSignature"])).unwrap();
    let a =
        verify_quote_signature(&ak, &b64f(&w["AK"]["CreateAttestation"]), &sig, &SHA1_OK).unwrap();
    assert!(matches!(a.attested(), Attested::Creation(c) if c.object_name.to_bytes() == ak.name()));
    let err = check_quote(&a, &[], &windows_pcrs(&w), &SHA1_OK).unwrap_err();
    assert_eq!(
        err,
        QuoteError::NotAQuote {
            got: "TPM_ST_ATTEST_CREATION"
        }
    );
}
