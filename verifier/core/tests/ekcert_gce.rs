//! EK/AK certificate chains of real GCE vTPMs (tests/data/tpm/go-tpm-tools,
//! MANIFEST §3.5 and §3.2): the eight certificates chain exactly as stated,
//! and every mutated twin (no/wrong anchors, times outside the validity,
//! flipped bytes, leaf as anchor) is refused with the check that failed.

// Test code: failures are meant to panic with a message (clippy.toml allows
// this inside #[test] functions; the helpers here need it too).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sealbuild_common::HashAlg;
use sealbuild_verifier_core::credential::{EkCurve, EkKey, EkPublicKey};
use sealbuild_verifier_core::ekcert::{
    ek_public_matches_cert, verify_ek_cert_chain, EkCertError, EkCertKey, TrustAnchors,
    VerifiedEkCert,
};

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/tpm/go-tpm-tools"
);

/// 2026-11-23T00:00:00Z: inside every certificate's validity.
const T: u64 = 1_795_392_000;

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(format!("{DATA}/{rel}")).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The CA files are DER; the EK certificates PEM.
fn der(rel: &str) -> Vec<u8> {
    let bytes = read(rel);
    if bytes.starts_with(b"-----BEGIN") {
        let (label, der) = der::pem::decode_vec(&bytes).unwrap();
        assert_eq!(label, "CERTIFICATE");
        der
    } else {
        bytes
    }
}

const ROOT_1: &str = "gce-ca-certs/tpm_ek_root_1.cer";
const INTERMEDIATE_2: &str = "gce-ca-certs/tpm_ek_intermediate_2.crt";
const INTERMEDIATE_3: &str = "gce-ca-certs/tpm_ek_intermediate_3.crt";
const GCP_ROOT: &str = "gce-ca-certs/gcp_ek_ak_ca_root.crt";
const GCP_INTERMEDIATE: &str = "gce-ca-certs/gcp_ek_ak_ca_intermediate_v3.crt";

const UCA: [&str; 4] = [
    "ek-certs/uca_tpm_ecc_enc_cert.pem",
    "ek-certs/uca_tpm_ecc_sign_cert.pem",
    "ek-certs/uca_tpm_rsa_enc_cert.pem",
    "ek-certs/uca_tpm_rsa_sign_cert.pem",
];
const PCA: [&str; 4] = [
    "ek-certs/pca_tpm_ecc_enc_cert.pem",
    "ek-certs/pca_tpm_ecc_sign_cert.pem",
    "ek-certs/pca_tpm_rsa_enc_cert.pem",
    "ek-certs/pca_tpm_rsa_sign_cert.pem",
];

fn anchors(files: &[&str]) -> TrustAnchors {
    TrustAnchors::from_der(files.iter().map(|f| der(f))).unwrap()
}

fn verify(
    leaf: &str,
    inter: &[&str],
    roots: &[&str],
    t: u64,
) -> Result<VerifiedEkCert, EkCertError> {
    let inter: Vec<Vec<u8>> = inter.iter().map(|f| der(f)).collect();
    let inter: Vec<&[u8]> = inter.iter().map(Vec::as_slice).collect();
    verify_ek_cert_chain(&der(leaf), &inter, &anchors(roots), t)
}

fn check_key_kind(v: &VerifiedEkCert, file: &str) {
    match (&v.public_key, file.contains("_rsa_")) {
        (EkCertKey::Rsa { n, e }, true) => {
            assert_eq!(n.len(), 256, "{file}: RSA-2048");
            assert_eq!(*e, 65_537, "{file}");
        }
        (EkCertKey::Ecc { curve, x, y }, false) => {
            assert_eq!(*curve, EkCurve::P256, "{file}");
            assert_eq!((x.len(), y.len()), (32, 32), "{file}");
        }
        (k, _) => panic!("{file}: unexpected key {k:?}"),
    }
    let ku = v.key_usage;
    assert!(ku.present, "{file}");
    assert!(!ku.key_cert_sign, "{file}");
    match (file.contains("_enc_"), file.contains("_rsa_")) {
        (true, true) => assert!(
            ku.key_encipherment && !ku.digital_signature,
            "{file}: {ku:?}"
        ),
        (true, false) => assert!(ku.key_agreement && !ku.digital_signature, "{file}: {ku:?}"),
        (false, _) => assert!(
            ku.digital_signature && !ku.key_encipherment,
            "{file}: {ku:?}"
        ),
    }
}

#[test]
fn uca_certs_chain_to_tpm_ek_root_1_via_intermediate_3() {
    for leaf in UCA {
        let v =
            verify(leaf, &[INTERMEDIATE_3], &[ROOT_1], T).unwrap_or_else(|e| panic!("{leaf}: {e}"));
        assert_eq!(v.chain.len(), 3, "{leaf}");
        assert_eq!(
            v.chain[0], "",
            "{leaf}: EK certificates have an empty subject"
        );
        assert!(
            v.chain[1].contains("tpm_ek_v1_cloud_host-signer-0-2021-10-12T04:22:11-07:00"),
            "{v:?}"
        );
        assert!(
            v.chain[2].contains("tpm_ek_v1_cloud_host_root-signer-0-2018-04-06T10:58:26-07:00"),
            "{v:?}"
        );
        assert_eq!(v.issuer, v.chain[1]);
        assert_eq!(v.not_before, 1_665_174_530, "{leaf}: 2022-10-07T20:28:50Z");
        assert_eq!(v.not_after, 2_611_254_830, "{leaf}: 2052-09-29T20:33:50Z");
        // TCG attributes (critical SAN directoryName, SDA).
        let tpm = v.tpm.as_ref().expect("TCG SAN attributes");
        assert_eq!(tpm.manufacturer.as_deref(), Some("id:474F4F47"));
        assert_eq!(tpm.manufacturer_ascii().as_deref(), Some("GOOG"));
        assert_eq!(tpm.model.as_deref(), Some("vTPM"));
        assert_eq!(tpm.version.as_deref(), Some("id:20160511"));
        let spec = v.tpm_spec.as_ref().expect("tcg-at-tpmSpecification");
        assert_eq!(
            (spec.family.as_str(), spec.level, spec.revision),
            ("2.0", 0, 142)
        );
        // GCE puts the EK certificate EKU on its AK certificates too.
        assert!(v.is_ek_certificate(), "{leaf}: {:?}", v.ext_key_usage);
        check_key_kind(&v, leaf);
    }
}

#[test]
fn pca_certs_chain_to_gcp_root_via_intermediate_v3() {
    for leaf in PCA {
        let v = verify(leaf, &[GCP_INTERMEDIATE], &[GCP_ROOT], T)
            .unwrap_or_else(|e| panic!("{leaf}: {e}"));
        assert_eq!(v.chain.len(), 3, "{leaf}");
        assert!(v.chain[0].contains("CN=218557372616137117"), "{v:?}");
        assert!(v.chain[0].contains("O=Google Compute Engine"), "{v:?}");
        assert!(v.chain[1].starts_with("CN=EK/AK CA Intermediate,"), "{v:?}");
        assert!(v.chain[2].starts_with("CN=EK/AK CA Root,"), "{v:?}");
        assert_eq!(v.not_before, 1_669_228_423, "{leaf}: 2022-11-23T18:33:43Z");
        assert_eq!(v.not_after, 2_615_308_422, "{leaf}: 2052-11-15T18:33:42Z");
        assert!(
            v.tpm.is_none() && v.tpm_spec.is_none(),
            "{leaf}: no TCG attributes"
        );
        assert!(!v.is_ek_certificate());
        check_key_kind(&v, leaf);
    }
}

#[test]
fn with_every_gce_ca_each_leaf_finds_its_own_path() {
    let all_inter = [INTERMEDIATE_2, INTERMEDIATE_3, GCP_INTERMEDIATE];
    for leaf in UCA {
        let v = verify(leaf, &all_inter, &[GCP_ROOT, ROOT_1], T).unwrap();
        assert!(v.chain[1].contains("2021-10-12"), "{leaf}: {:?}", v.chain);
    }
    for leaf in PCA {
        let v = verify(leaf, &all_inter, &[ROOT_1, GCP_ROOT], T).unwrap();
        assert!(
            v.chain[1].starts_with("CN=EK/AK CA Intermediate"),
            "{leaf}: {:?}",
            v.chain
        );
    }
    // Trusting the intermediate itself also works (path of two).
    let v = verify(UCA[0], &[], &[INTERMEDIATE_3], T).unwrap();
    assert_eq!(v.chain.len(), 2);
}

#[test]
fn unknown_ca_is_refused() {
    for leaf in UCA.iter().chain(PCA.iter()) {
        let inter = if leaf.contains("uca") {
            INTERMEDIATE_3
        } else {
            GCP_INTERMEDIATE
        };
        let err = verify(leaf, &[inter], &[], T).unwrap_err();
        let EkCertError::NoIssuer {
            issuer, anchors, ..
        } = &err
        else {
            panic!("{leaf}: {err}");
        };
        assert_eq!(*anchors, 0);
        let root_cn = if leaf.contains("uca") {
            "tpm_ek_v1_cloud_host_root"
        } else {
            "CN=EK/AK CA Root"
        };
        assert!(issuer.contains(root_cn), "{leaf}: {err}");
        assert!(
            err.to_string().starts_with("no trust anchor for issuer '"),
            "{err}"
        );
        // Without the intermediate either: the leaf's own issuer is missing.
        let err = verify(leaf, &[], &[], T).unwrap_err();
        assert!(matches!(err, EkCertError::NoIssuer { .. }), "{leaf}: {err}");
    }
}

#[test]
fn wrong_root_or_intermediate_is_refused() {
    for leaf in UCA {
        // The other GCE hierarchy.
        let err = verify(leaf, &[GCP_INTERMEDIATE], &[GCP_ROOT], T).unwrap_err();
        assert!(matches!(err, EkCertError::NoIssuer { .. }), "{leaf}: {err}");
        // The right root, but the sibling intermediate (2020 signer).
        let err = verify(leaf, &[INTERMEDIATE_2], &[ROOT_1], T).unwrap_err();
        let EkCertError::NoIssuer { key_id, .. } = &err else {
            panic!("{leaf}: {err}")
        };
        assert_eq!(
            key_id.as_deref(),
            Some("6708c47711fdd58784d32c1d6b4d978360842580"),
            "{err}"
        );
    }
    for leaf in PCA {
        let err = verify(leaf, &[INTERMEDIATE_3], &[ROOT_1], T).unwrap_err();
        assert!(matches!(err, EkCertError::NoIssuer { .. }), "{leaf}: {err}");
    }
}

#[test]
fn outside_the_validity_window_is_refused() {
    // uca leaves: 2022-10-07T20:28:50Z .. 2052-09-29T20:33:50Z, both inclusive.
    let (nb, na) = (1_665_174_530, 2_611_254_830);
    for leaf in UCA {
        assert!(verify(leaf, &[INTERMEDIATE_3], &[ROOT_1], nb).is_ok());
        assert!(verify(leaf, &[INTERMEDIATE_3], &[ROOT_1], na).is_ok());
        let err = verify(leaf, &[INTERMEDIATE_3], &[ROOT_1], nb - 1).unwrap_err();
        assert!(matches!(err, EkCertError::NotYetValid { .. }), "{err}");
        assert!(
            err.to_string().contains(
                "is not valid before 2022-10-07T20:28:50Z; verification time 2022-10-07T20:28:49Z"
            ),
            "{err}"
        );
        let err = verify(leaf, &[INTERMEDIATE_3], &[ROOT_1], na + 1).unwrap_err();
        assert!(
            err.to_string().contains(
                "expired at 2052-09-29T20:33:50Z; verification time 2052-09-29T20:33:51Z"
            ),
            "{err}"
        );
        assert!(
            err.to_string()
                .starts_with("certificate (empty subject, serial "),
            "{err}"
        );
    }
    // The intermediates expire in 2121/2122: a leaf still valid then does
    // not exist here, but the anchor's own window is enforced too: before
    // the GCP root's notBefore (2022-07-08) the pca leaves fail first.
    let err = verify(PCA[0], &[GCP_INTERMEDIATE], &[GCP_ROOT], 1_669_228_422).unwrap_err();
    assert!(matches!(err, EkCertError::NotYetValid { .. }), "{err}");
}

/// Offsets of interesting bytes inside a certificate's DER.
struct Offsets {
    serial: usize,
    spki_key: usize,
    tbs_last: usize,
    sig_first: usize,
    sig_last: usize,
}

fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).position(|w| w == needle).unwrap()
}

fn offsets(d: &[u8]) -> Offsets {
    use der::{Decode, Encode};
    let c = x509_cert::Certificate::from_der(d).unwrap();
    let tbs_len = c.tbs_certificate.to_der().unwrap().len();
    let tbs_start = find(d, &c.tbs_certificate.to_der().unwrap());
    let sig = c.signature.raw_bytes();
    let key = c
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    Offsets {
        serial: find(d, c.tbs_certificate.serial_number.as_bytes()) + 3,
        spki_key: find(d, key) + key.len() / 2,
        tbs_last: tbs_start + tbs_len - 1,
        sig_first: find(d, sig),
        sig_last: d.len() - 1,
    }
}

fn flip(d: &[u8], at: usize) -> Vec<u8> {
    let mut d = d.to_vec();
    d[at] ^= 0x01;
    d
}

#[test]
fn flipped_bytes_in_leaf_are_refused() {
    let ta = anchors(&[ROOT_1, GCP_ROOT]);
    let inter = [der(INTERMEDIATE_3), der(GCP_INTERMEDIATE)];
    let inter: Vec<&[u8]> = inter.iter().map(Vec::as_slice).collect();
    for leaf in UCA.iter().chain(PCA.iter()) {
        let d = der(leaf);
        assert!(verify_ek_cert_chain(&d, &inter, &ta, T).is_ok());
        let o = offsets(&d);
        for (what, at) in [
            ("serial", o.serial),
            ("subjectPublicKey", o.spki_key),
            ("last TBS byte", o.tbs_last),
            ("first signature byte", o.sig_first),
            ("last signature byte", o.sig_last),
        ] {
            let err = verify_ek_cert_chain(&flip(&d, at), &inter, &ta, T)
                .expect_err(&format!("{leaf}: flipped {what} at {at} accepted"));
            match &err {
                EkCertError::BadSignature { issuer, .. } => {
                    assert!(
                        issuer.contains("signer-0-2021")
                            || issuer.contains("EK/AK CA Intermediate"),
                        "{err}"
                    );
                    assert!(
                        err.to_string()
                            .contains("does not verify (1.2.840.113549.1.1.11"),
                        "{err}"
                    );
                }
                // A flip inside an ECDSA signature's DER can break its
                // encoding; that is reported as a bad signature as well.
                other => {
                    panic!("{leaf}: flipped {what} at {at}: expected BadSignature, got {other}")
                }
            }
        }
        // Flips in the header or in structure bytes break the DER itself.
        let err = verify_ek_cert_chain(&flip(&d, 1), &inter, &ta, T).unwrap_err();
        assert!(matches!(err, EkCertError::Malformed { .. }), "{err}");
    }
}

#[test]
fn flipped_bytes_in_intermediate_are_refused() {
    let ta = anchors(&[ROOT_1]);
    let i3 = der(INTERMEDIATE_3);
    let o = offsets(&i3);
    for at in [o.serial, o.spki_key, o.tbs_last, o.sig_last] {
        let bad = flip(&i3, at);
        let err = verify_ek_cert_chain(&der(UCA[2]), &[&bad], &ta, T).unwrap_err();
        assert!(
            matches!(err, EkCertError::BadSignature { .. }),
            "offset {at}: {err}"
        );
    }
}

#[test]
fn leaf_as_anchor_for_another_leaf_is_refused() {
    for (a, b) in [(UCA[0], UCA[2]), (PCA[0], PCA[2]), (UCA[3], PCA[1])] {
        let err = verify(b, &[], &[a], T).unwrap_err();
        assert!(
            matches!(err, EkCertError::NoIssuer { .. }),
            "{a} as anchor for {b}: {err}"
        );
        // Even with the real intermediate available.
        let inter = if b.contains("uca") {
            INTERMEDIATE_3
        } else {
            GCP_INTERMEDIATE
        };
        let err = verify(b, &[inter], &[a], T).unwrap_err();
        assert!(
            matches!(err, EkCertError::NoIssuer { .. }),
            "{a} as anchor for {b}: {err}"
        );
    }
    // A CA certificate presented as the EK certificate.
    let err = verify(INTERMEDIATE_3, &[], &[ROOT_1], T).unwrap_err();
    assert!(matches!(err, EkCertError::LeafIsCa { .. }), "{err}");
}

#[test]
fn certificates_round_trip_through_the_decoder() {
    use der::{Decode, Encode};
    for f in UCA.iter().chain(PCA.iter()).chain(&[
        ROOT_1,
        INTERMEDIATE_2,
        INTERMEDIATE_3,
        GCP_ROOT,
        GCP_INTERMEDIATE,
    ]) {
        let d = der(f);
        let c = x509_cert::Certificate::from_der(&d).unwrap();
        assert_eq!(c.to_der().unwrap(), d, "{f}: re-encoding differs");
    }
}

#[test]
fn malformed_anchor_is_reported_by_position() {
    let good = der(ROOT_1);
    let err = TrustAnchors::from_der([good.as_slice(), &good[..100]]).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("trust anchor #1: not a DER-encoded X.509 certificate"),
        "{err}"
    );
    let err = TrustAnchors::from_der([[good.clone(), vec![0]].concat()]).unwrap_err();
    assert!(
        matches!(err, EkCertError::Malformed { .. }),
        "trailing byte: {err}"
    );
}

// --- MANIFEST §3.2: the AK certificate of the COS 85 attestation ---

fn attestation() -> serde_json::Value {
    serde_json::from_slice(&read("attestations/gce-cos-85-nonce9009.extracted.json")).unwrap()
}

/// The RSA modulus and exponent of a TPMT_PUBLIC (Part 2; test-only
/// reader for an RSA key with a non-NULL scheme and NULL symmetric).
fn tpmt_public_rsa(b: &[u8]) -> (HashAlg, Vec<u8>, u32) {
    let u16at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
    assert_eq!(u16at(0), 0x0001, "TPM_ALG_RSA");
    let name_alg = HashAlg::from_alg_id(u16at(2), "nameAlg").unwrap();
    let policy_len = usize::from(u16at(8));
    let mut i = 10 + policy_len;
    assert_eq!(u16at(i), 0x0010, "symmetric NULL");
    i += 2;
    let scheme = u16at(i);
    i += if scheme == 0x0010 { 2 } else { 4 };
    i += 2; // keyBits
    let e = u32::from_be_bytes(b[i..i + 4].try_into().unwrap());
    i += 4;
    let n_len = usize::from(u16at(i));
    let n = b[i + 2..i + 2 + n_len].to_vec();
    assert_eq!(i + 2 + n_len, b.len());
    (name_alg, n, e)
}

#[test]
fn cos85_ak_certificate_chains_to_intermediate_2_and_root_1() {
    let j = attestation();
    let ak_cert = hex::decode(j["ak_cert_der"].as_str().unwrap()).unwrap();
    let i2 = der(INTERMEDIATE_2);
    let v = verify_ek_cert_chain(&ak_cert, &[&i2], &anchors(&[ROOT_1]), T).unwrap();
    assert_eq!(v.chain.len(), 3);
    assert!(
        v.chain[1].contains("tpm_ek_v1_cloud_host-signer-0-2020-10-22T14:02:08-07:00"),
        "{:?}",
        v.chain
    );
    assert!(v.key_usage.digital_signature);
    // MANIFEST: valid 2021-08-31 → 2051-08-24.
    assert!(
        der::DateTime::from_unix_duration(std::time::Duration::from_secs(v.not_before))
            .unwrap()
            .to_string()
            .starts_with("2021-08-31")
    );
    assert!(
        der::DateTime::from_unix_duration(std::time::Duration::from_secs(v.not_after))
            .unwrap()
            .to_string()
            .starts_with("2051-08-24")
    );

    // The certified key is the attestation's ak_pub.
    let ak_pub = hex::decode(j["ak_pub_tpmt_public"].as_str().unwrap()).unwrap();
    let (name_alg, n, e) = tpmt_public_rsa(&ak_pub);
    assert_eq!(name_alg, HashAlg::Sha256);
    let tpm_key = EkPublicKey {
        name_alg,
        sym_key_bits: 128,
        key: EkKey::Rsa { n: n.clone(), e },
    };
    ek_public_matches_cert(&v.public_key, &tpm_key).unwrap();

    // Mismatches: modulus, exponent, key type.
    let mut n2 = n.clone();
    n2[100] ^= 1;
    let err = ek_public_matches_cert(
        &v.public_key,
        &EkPublicKey {
            key: EkKey::Rsa { n: n2, e },
            ..tpm_key.clone()
        },
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("EK public key does not match the certificate: RSA modulus"),
        "{err}"
    );
    let err = ek_public_matches_cert(
        &v.public_key,
        &EkPublicKey {
            key: EkKey::Rsa { n: n.clone(), e: 3 },
            ..tpm_key.clone()
        },
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("RSA exponent: certificate has 65537, TPM has 3"),
        "{err}"
    );
    let ecc = EkPublicKey {
        name_alg,
        sym_key_bits: 128,
        key: EkKey::Ecc {
            curve: EkCurve::P256,
            x: vec![1; 32],
            y: vec![2; 32],
        },
    };
    let err = ek_public_matches_cert(&v.public_key, &ecc).unwrap_err();
    assert!(
        err.to_string()
            .contains("key type: certificate has RSA-2048, TPM has ECC P-256"),
        "{err}"
    );
    // A leading zero octet on the TPM side changes nothing; TPM exponent 0
    // means 65537.
    let padded = EkPublicKey {
        key: EkKey::Rsa {
            n: [vec![0], n].concat(),
            e: 0,
        },
        ..tpm_key
    };
    ek_public_matches_cert(&v.public_key, &padded).unwrap();

    // Not via intermediate 3, and not at a time after the AK cert expired.
    let i3 = der(INTERMEDIATE_3);
    assert!(matches!(
        verify_ek_cert_chain(&ak_cert, &[&i3], &anchors(&[ROOT_1]), T),
        Err(EkCertError::NoIssuer { .. })
    ));
    assert!(matches!(
        verify_ek_cert_chain(&ak_cert, &[&i2], &anchors(&[ROOT_1]), v.not_after + 1),
        Err(EkCertError::Expired { .. })
    ));
}

#[test]
fn ecc_ek_cert_matches_its_point() {
    let v = verify(UCA[0], &[INTERMEDIATE_3], &[ROOT_1], T).unwrap();
    let EkCertKey::Ecc { curve, x, y } = v.public_key.clone() else {
        panic!()
    };
    let ek = EkPublicKey {
        name_alg: HashAlg::Sha256,
        sym_key_bits: 128,
        key: EkKey::Ecc {
            curve,
            x: x.clone(),
            y: y.clone(),
        },
    };
    ek_public_matches_cert(&v.public_key, &ek).unwrap();
    let mut y2 = y.clone();
    y2[0] ^= 0x80;
    let err = ek_public_matches_cert(
        &v.public_key,
        &EkPublicKey {
            key: EkKey::Ecc {
                curve,
                x: x.clone(),
                y: y2,
            },
            ..ek.clone()
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("ECC y"), "{err}");
    let err = ek_public_matches_cert(
        &v.public_key,
        &EkPublicKey {
            key: EkKey::Ecc {
                curve: EkCurve::P384,
                x,
                y,
            },
            ..ek
        },
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("ECC curve: certificate has P-256, TPM has P-384"),
        "{err}"
    );
}
