//! TPMT_PUBLIC / TPM2B_PUBLIC: real AK public areas round-trip exactly,
//! decode as their producers state, and our Names equal the ones the TPM
//! computed; unsupported types, reserved attributes and inconsistent sizes
//! are refused.
// Test code: a failed unwrap, expect or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod tpm_support;

use sealbuild_common::tpm::{
    AsymScheme, EccCurve, KdfScheme, ObjectAttribute, ObjectAttributes, Public, PublicBody,
    PublicKey, RsaPublic, SymDefObject,
};
use sealbuild_common::{FormatError, HashAlg};
use tpm_support::*;

#[test]
fn real_publics_round_trip() {
    let all = real_publics();
    assert_eq!(all.len(), 6);
    for (label, bytes) in all {
        let p = Public::parse(&bytes).unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_eq!(p.to_bytes(), bytes, "{label}: round trip");
        assert_prefixes_and_trailing_rejected(&label, &bytes, Public::parse);
    }
}

#[test]
fn tpm2b_files_from_tpm2_createak() {
    // `tpm2_createak -u` writes a TPM2B_PUBLIC; `-n` writes the Name the TPM
    // computed. Our Name must be byte-identical.
    for f in ["rsa", "ecc", "pss"] {
        let file = data(&format!("tpm2-tools-5.4-swtpm/ak-{f}.pub"));
        let p = Public::parse_tpm2b(&file).unwrap();
        assert_eq!(p.to_tpm2b_bytes(), file, "ak-{f}.pub round trip");
        assert_eq!(
            p.name(),
            data(&format!("tpm2-tools-5.4-swtpm/ak-{f}.name")),
            "ak-{f} Name"
        );
        assert_prefixes_and_trailing_rejected(&format!("ak-{f}.pub"), &file, Public::parse_tpm2b);
        // The size must match the structure exactly: a larger size with one
        // extra byte inside, or a smaller size, is refused.
        let size = u16::from_be_bytes([file[0], file[1]]);
        let mut bigger = patched(&file, 0, &(size + 1).to_be_bytes());
        bigger.push(0);
        assert!(matches!(
            Public::parse_tpm2b(&bigger),
            Err(FormatError::TrailingBytes {
                structure: "TPMT_PUBLIC",
                ..
            })
        ));
        assert!(Public::parse_tpm2b(&patched(&file, 0, &(size - 1).to_be_bytes())).is_err());
    }
    assert!(Public::parse_tpm2b(&[0, 0]).is_err());
}

#[test]
fn gce_ak_decodes_as_stated() {
    // MANIFEST §3.2: RSA-2048, nameAlg SHA-256, scheme RSASSA-SHA256.
    let p = Public::parse(&hexf(&gce("nonce9009")["ak_pub_tpmt_public"])).unwrap();
    assert_eq!(p.name_alg(), HashAlg::Sha256);
    assert_eq!(p.scheme(), AsymScheme::RsaSsa(HashAlg::Sha256));
    assert_eq!(p.symmetric(), SymDefObject::Null);
    assert!(p.auth_policy().is_empty());
    let a = p.attributes();
    assert!(a.fixed_tpm() && a.fixed_parent() && a.sensitive_data_origin() && a.user_with_auth());
    assert!(a.restricted() && a.sign_encrypt());
    assert!(!a.decrypt() && !a.st_clear() && !a.admin_with_policy() && !a.no_da());
    assert!(!a.encrypted_duplication() && !a.x509_sign());
    let PublicBody::Rsa(k) = p.body() else {
        panic!("RSA expected")
    };
    assert_eq!(
        (k.key_bits(), k.raw_exponent(), k.exponent()),
        (2048, 0, 65537)
    );
    let PublicKey::Rsa { modulus, exponent } = p.public_key().unwrap() else {
        panic!("RSA expected")
    };
    assert_eq!((modulus.len(), exponent), (256, 65537));
    assert!(
        modulus[0] & 0x80 != 0,
        "a 2048-bit modulus has its top bit set"
    );
}

#[test]
fn windows_ak_decodes_as_stated() {
    // MANIFEST §3.3: RSA-2048, nameAlg SHA-256, scheme RSASSA-SHA1; it also has
    // an authPolicy and noDA.
    let p = Public::parse(&b64f(&windows()["AK"]["Public"])).unwrap();
    assert_eq!(p.scheme(), AsymScheme::RsaSsa(HashAlg::Sha1));
    assert_eq!(p.auth_policy().len(), 32);
    assert!(p.attributes().no_da());
    assert_eq!(
        p.attributes().to_string(),
        "fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth|noDA|restricted|sign"
    );
}

#[test]
fn ecc_ak_decodes() {
    let p = Public::parse_tpm2b(&data("tpm2-tools-5.4-swtpm/ak-ecc.pub")).unwrap();
    let PublicBody::Ecc(k) = p.body() else {
        panic!("ECC expected")
    };
    assert_eq!(k.curve(), EccCurve::NistP256);
    assert_eq!(k.scheme(), AsymScheme::Ecdsa(HashAlg::Sha256));
    assert_eq!(k.kdf(), KdfScheme::Null);
    let PublicKey::Ecc { curve, x, y } = p.public_key().unwrap() else {
        panic!("ECC expected")
    };
    assert_eq!(
        (curve, x.as_slice(), y.as_slice()),
        (EccCurve::NistP256, k.x(), k.y())
    );
    assert_eq!(x.len(), 32);
}

#[test]
fn ecc_coordinates_are_left_padded() {
    // A coordinate with its leading zero byte dropped is accepted and padded.
    let p = Public::parse_tpm2b(&data("tpm2-tools-5.4-swtpm/ak-ecc.pub")).unwrap();
    let PublicBody::Ecc(k) = p.body() else {
        panic!()
    };
    let short = sealbuild_common::tpm::EccPublic::new(
        k.symmetric(),
        k.scheme(),
        k.curve(),
        k.kdf(),
        &k.x()[1..],
        k.y(),
    )
    .unwrap();
    let q = Public::new(
        p.name_alg(),
        p.attributes(),
        p.auth_policy(),
        PublicBody::Ecc(short),
    )
    .unwrap();
    let PublicKey::Ecc { x, .. } = q.public_key().unwrap() else {
        panic!()
    };
    assert_eq!(x[0], 0);
    assert_eq!(&x[1..], &k.x()[1..]);
    assert_eq!(Public::parse(&q.to_bytes()).unwrap(), q);
}

#[test]
fn type_name_alg_and_attribute_mutations_rejected() {
    let gce = hexf(&gce("nonce9009")["ak_pub_tpmt_public"]);
    // keyedHash and symcipher objects are not supported; nor unknown types.
    for t in [0x0008u16, 0x0025, 0x0000, 0x0014] {
        assert_eq!(
            Public::parse(&patched(&gce, 0, &t.to_be_bytes())),
            Err(FormatError::Unsupported {
                field: "TPMT_PUBLIC.type",
                value: u64::from(t)
            })
        );
    }
    // nameAlg TPM_ALG_NULL / SM3 are refused.
    for h in [0x0010u16, 0x0012] {
        assert!(matches!(
            Public::parse(&patched(&gce, 2, &h.to_be_bytes())),
            Err(FormatError::Unsupported {
                field: "TPMT_PUBLIC.nameAlg",
                ..
            })
        ));
    }
    // Every reserved TPMA_OBJECT bit is refused; every named bit is accepted.
    let attrs = u32::from_be_bytes([gce[4], gce[5], gce[6], gce[7]]);
    for bit in 0..32 {
        let m = patched(&gce, 4, &(attrs | 1 << bit).to_be_bytes());
        let reserved = (1u32 << bit) & ObjectAttributes::RESERVED_MASK != 0;
        assert_eq!(Public::parse(&m).is_err(), reserved, "bit {bit}");
    }
}

#[test]
fn parameter_mutations_rejected() {
    let gce = hexf(&gce("nonce9009")["ak_pub_tpmt_public"]);
    // RSA offsets: authPolicy size 8 (empty), symmetric 10, scheme 12, hash 14, keyBits 16, exponent 18, modulus 22.
    assert_eq!(
        &gce[10..18],
        &[0x00, 0x10, 0x00, 0x14, 0x00, 0x0b, 0x08, 0x00]
    );
    // An ECC scheme on an RSA key, an unknown scheme, a NULL scheme hash.
    for s in [0x0018u16, 0x0019, 0x001A, 0x0005] {
        assert!(matches!(
            Public::parse(&patched(&gce, 12, &s.to_be_bytes())),
            Err(FormatError::Unsupported {
                field: "TPMT_RSA_SCHEME.scheme",
                ..
            })
        ));
    }
    assert!(Public::parse(&patched(&gce, 14, &[0x00, 0x10])).is_err());
    // keyBits that is not an RSA size, or that disagrees with the modulus.
    for bits in [0u16, 2047, 3072, 4096, 1024] {
        assert!(
            Public::parse(&patched(&gce, 16, &bits.to_be_bytes())).is_err(),
            "keyBits {bits}"
        );
    }
    // Symmetric: unknown algorithm.
    let mut sym = gce[..10].to_vec();
    sym.extend_from_slice(&[0x00, 0x06, 0x00, 0x80, 0x00, 0x44]); // AES-128 in ECB mode (TPM_ALG_ECB)
    sym.extend_from_slice(&gce[12..]);
    assert!(matches!(
        Public::parse(&sym),
        Err(FormatError::Unsupported {
            field: "TPMT_SYM_DEF_OBJECT.mode",
            value: 0x44
        })
    ));
    let aes_cfb = patched(&sym, 14, &[0x00, 0x43]);
    let p = Public::parse(&aes_cfb).unwrap();
    assert_eq!(p.symmetric(), SymDefObject::AesCfb { key_bits: 128 });
    assert_eq!(p.to_bytes(), aes_cfb);
    assert!(
        Public::parse(&patched(&aes_cfb, 12, &[0x00, 0x64])).is_err(),
        "AES-100"
    );
    assert!(matches!(
        Public::parse(&patched(&gce, 10, &[0x00, 0x0a])),
        Err(FormatError::Unsupported {
            field: "TPMT_SYM_DEF_OBJECT.algorithm",
            value: 0x0a
        })
    ));
    // authPolicy that is not a nameAlg digest.
    let mut pol = gce[..8].to_vec();
    pol.extend_from_slice(&[0x00, 0x14]);
    pol.extend_from_slice(&[0u8; 20]);
    pol.extend_from_slice(&gce[10..]);
    assert!(matches!(
        Public::parse(&pol),
        Err(FormatError::Unexpected {
            field: "TPMT_PUBLIC.authPolicy",
            ..
        })
    ));
}

#[test]
fn ecc_mutations_rejected() {
    let file = data("tpm2-tools-5.4-swtpm/ak-ecc.pub");
    let ecc = file[2..].to_vec();
    // ECC offsets: scheme 12, hash 14, curve 16, kdf 18, x 20.
    assert_eq!(
        &ecc[12..20],
        &[0x00, 0x18, 0x00, 0x0b, 0x00, 0x03, 0x00, 0x10]
    );
    // BN P-256, SM2 P-256, P-192 curves unsupported; P-384 with 32-byte coordinates is fine.
    for c in [0x0010u16, 0x0020, 0x0001] {
        assert!(matches!(
            Public::parse(&patched(&ecc, 16, &c.to_be_bytes())),
            Err(FormatError::Unsupported {
                field: "TPMS_ECC_PARMS.curveID",
                ..
            })
        ));
    }
    assert!(Public::parse(&patched(&ecc, 16, &[0x00, 0x04])).is_ok());
    // RSA schemes on an ECC key.
    assert!(Public::parse(&patched(&ecc, 12, &[0x00, 0x14])).is_err());
    // KDF: MGF1-SHA256 parses and round-trips; an unknown KDF does not.
    let mut kdf = ecc[..18].to_vec();
    kdf.extend_from_slice(&[0x00, 0x07, 0x00, 0x0b]);
    kdf.extend_from_slice(&ecc[20..]);
    let p = Public::parse(&kdf).unwrap();
    let PublicBody::Ecc(k) = p.body() else {
        panic!()
    };
    assert_eq!(k.kdf(), KdfScheme::Mgf1(HashAlg::Sha256));
    assert_eq!(p.to_bytes(), kdf);
    assert!(Public::parse(&patched(&kdf, 18, &[0x00, 0x99])).is_err());
    // Coordinates longer than the curve allows.
    let mut long = ecc[..20].to_vec();
    long.extend_from_slice(&[0x00, 0x21, 0x00]);
    long.extend_from_slice(&ecc[22..]);
    assert!(matches!(
        Public::parse(&long),
        Err(FormatError::Unexpected {
            field: "TPMS_ECC_POINT.x",
            ..
        })
    ));
}

#[test]
fn templates_parse_but_have_no_key() {
    let t = Public::new(
        HashAlg::Sha256,
        ObjectAttributes::from_attributes(&[
            ObjectAttribute::Restricted,
            ObjectAttribute::SignEncrypt,
        ]),
        &[],
        PublicBody::Rsa(
            RsaPublic::new(
                SymDefObject::Null,
                AsymScheme::RsaPss(HashAlg::Sha384),
                3072,
                3,
                &[],
            )
            .unwrap(),
        ),
    )
    .unwrap();
    let bytes = t.to_bytes();
    let p = Public::parse(&bytes).unwrap();
    assert_eq!(p, t);
    assert!(p.public_key().is_err());
    assert_eq!(Public::parse_tpm2b(&t.to_tpm2b_bytes()).unwrap(), t);
    // Constructors apply the parser's checks.
    assert!(RsaPublic::new(
        SymDefObject::Null,
        AsymScheme::Ecdsa(HashAlg::Sha256),
        2048,
        0,
        &[]
    )
    .is_err());
    assert!(RsaPublic::new(SymDefObject::Null, AsymScheme::Null, 2048, 0, &[1; 255]).is_err());
    assert!(ObjectAttributes::from_bits(1).is_err());
}
