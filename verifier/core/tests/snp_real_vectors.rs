//! SEV-SNP report + VCEK/VLEK chain verification against real vectors
//! (see tests/data/NOTICE.md and the test-data MANIFEST §1).
// Test code: a failed unwrap, expect or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sealbuild_common::snp::{
    AttestationReport, SigningKey, SnpProduct, TcbLayout, TcbVersion, SIGNED_LEN,
};
use sealbuild_common::FormatError;
use sealbuild_verifier_core::ekcert::EkCertError;
use sealbuild_verifier_core::snp::{
    p384_key, verify_report, verify_report_signature, AmdCertExtensions, AmdChain, SnpCertError,
    SnpError,
};

macro_rules! vector {
    ($p:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/sev-snp/",
            $p
        ))
    };
}

/// 2026-11-23T00:00:00Z, the collection date.
const NOW: u64 = 1_795_392_000;
/// 2025-06-01T00:00:00Z, inside the VLEK's validity.
const JUNE_2025: u64 = 1_748_736_000;

/// Every PEM certificate in `pem`, as DER.
fn pem_certs(pem: &[u8]) -> Vec<Vec<u8>> {
    let text = std::str::from_utf8(pem).unwrap();
    let end = "-----END CERTIFICATE-----";
    let certs: Vec<Vec<u8>> = text
        .split_inclusive(end)
        .filter(|c| c.contains(end))
        .map(|c| {
            let (label, der) = der::pem::decode_vec(c.trim().as_bytes()).unwrap();
            assert_eq!(label, "CERTIFICATE");
            der
        })
        .collect();
    assert!(!certs.is_empty());
    certs
}

fn one_pem(pem: &[u8]) -> Vec<u8> {
    let mut v = pem_certs(pem);
    assert_eq!(v.len(), 1);
    v.remove(0)
}

struct Roots {
    ark: Vec<u8>,
    ask: Vec<u8>,
}

impl Roots {
    fn milan() -> Self {
        Self {
            ark: one_pem(vector!("amd-roots/milan/ark.pem")),
            ask: one_pem(vector!("amd-roots/milan/ask.pem")),
        }
    }
    fn genoa() -> Self {
        Self {
            ark: one_pem(vector!("amd-roots/genoa/ark.pem")),
            ask: one_pem(vector!("amd-roots/genoa/ask.pem")),
        }
    }
    /// KDS cert_chain order: ASVK first, then ARK.
    fn milan_vlek() -> Self {
        let mut v = pem_certs(vector!("amd-roots/milan/cert_chain_vlek.pem"));
        assert_eq!(v.len(), 2);
        let ark = v.remove(1);
        let ask = v.remove(0);
        Self { ark, ask }
    }
    fn chain(&self) -> AmdChain<'_> {
        AmdChain {
            ark_der: &self.ark,
            ask_der: &self.ask,
        }
    }
}

fn hex(s: &str) -> Vec<u8> {
    ::hex::decode(s).unwrap()
}

const MILAN_REPORT: &[u8] = vector!("virtee-sev/report_milan.bin");
const MILAN_VCEK: &[u8] = vector!("virtee-sev/vcek_milan.der");
const GO_REPORT: &[u8] = vector!("go-sev-guest/attestation.bin");
const GO_VCEK: &[u8] = vector!("go-sev-guest/vcek.der");
const TRUSTEE_REPORT: &[u8] = vector!("trustee/test-report.bin");
const TRUSTEE_VCEK: &[u8] = vector!("trustee/test-vcek.der");
const VLEK_REPORT: &[u8] = vector!("trustee/test-vlek-report.bin");
const VLEK_CERT: &[u8] = vector!("trustee/test-vlek.der");
const GENOA_REPORT: &[u8] = vector!("trustee/e2e-genoa-report.bin");
const GENOA_VCEK: &[u8] = vector!("trustee/e2e-genoa-vcek.der");

#[test]
fn virtee_milan_report_is_valid_with_stated_claims() {
    let roots = Roots::milan();
    let v = verify_report(MILAN_REPORT, MILAN_VCEK, roots.chain(), None, NOW).unwrap();
    let r = &v.report;
    assert_eq!(v.product, None, "a version 2 report carries no CPUID");
    assert_eq!(v.signer.serial, vec![0u8], "VCEK serial number is 0");
    assert_eq!(
        v.signer.chain.len(),
        3,
        "VCEK -> ASK -> ARK: {:?}",
        v.signer.chain
    );
    assert!(
        v.signer.chain[1].contains("SEV-Milan"),
        "{:?}",
        v.signer.chain
    );
    assert!(
        v.signer.chain[2].contains("ARK-Milan"),
        "{:?}",
        v.signer.chain
    );
    assert_eq!(r.version, 2);
    assert_eq!(r.policy.0, 0x30000);
    assert!(!r.policy.debug_allowed());
    assert_eq!(r.key_info.signing_key, SigningKey::Vcek);
    assert_eq!(
        r.measurement.to_vec(),
        hex("7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f")
    );
    assert_eq!(
        r.report_data.to_vec(),
        hex("d447b55d197491bfe15cf298f9de9986b7a7c4be2468b4f6e2d53b71d7c645810b0f2cdfca0040433be063fc1a8293f0f3f8dae7b79fecb3d1cd82bd6a93ebfd")
    );
    assert_eq!(
        r.chip_id.to_vec(),
        hex("d49554ec717f4e5b0fe6b143bcf0405bd7ae304727edf46603f2a76aef6a3abc15d7af38db757039029f0efacfd08e244324884738c72b082e2f87a44d541eb6")
    );
    assert_eq!(r.reported_tcb, TcbVersion(0x7308_0000_0000_0003));
    let p = r.reported_tcb.parts(TcbLayout::MilanGenoa);
    assert_eq!((p.boot_loader, p.tee, p.snp, p.microcode), (3, 0, 8, 115));
}

#[test]
fn virtee_milan_stated_negatives() {
    let roots = Roots::milan();
    // report[21] ^= 0x80 (FAMILY_ID, offset 0x15): the signature fails.
    let mut report = MILAN_REPORT.to_vec();
    report[21] ^= 0x80;
    assert!(matches!(
        verify_report(&report, MILAN_VCEK, roots.chain(), None, NOW),
        Err(SnpError::BadSignature { signer: "VCEK", .. })
    ));
    // vcek_der[40] ^= 0xff: the chain fails.
    let mut vcek = MILAN_VCEK.to_vec();
    vcek[40] ^= 0xff;
    let err = verify_report(MILAN_REPORT, &vcek, roots.chain(), None, NOW).unwrap_err();
    assert!(matches!(err, SnpError::Chain(_)), "{err}");
}

#[test]
fn milan_vcek_outside_validity_is_refused() {
    let roots = Roots::milan();
    // VCEK valid 2023-04-03 -> 2030-04-03.
    for (t, want_expired) in [(1_680_393_600u64, false), (1_901_491_200, true)] {
        let err = verify_report(MILAN_REPORT, MILAN_VCEK, roots.chain(), None, t).unwrap_err();
        match (err, want_expired) {
            (SnpError::Chain(EkCertError::Expired { .. }), true)
            | (SnpError::Chain(EkCertError::NotYetValid { .. }), false) => {}
            (e, _) => panic!("unexpected error at {t}: {e}"),
        }
    }
}

#[test]
fn milan_report_refused_under_genoa_roots() {
    let err =
        verify_report(MILAN_REPORT, MILAN_VCEK, Roots::genoa().chain(), None, NOW).unwrap_err();
    assert!(matches!(err, SnpError::Chain(_)), "{err}");
}

#[test]
fn go_sev_guest_report_signature_debug_and_tcb() {
    let roots = Roots::milan();
    let v = verify_report(GO_REPORT, GO_VCEK, roots.chain(), None, NOW).unwrap();
    let r = &v.report;
    assert!(
        r.policy.debug_allowed(),
        "DEBUG policy bit must be reported"
    );
    assert_eq!(r.policy.0, 0xb0000);
    for t in [r.current_tcb, r.committed_tcb, r.reported_tcb, r.launch_tcb] {
        assert_eq!(t.0, 4_901_323_769_462_652_930);
    }
    let p = r.reported_tcb.parts(TcbLayout::MilanGenoa);
    assert_eq!((p.boot_loader, p.tee, p.snp, p.microcode), (2, 0, 5, 68));
    assert_eq!(r.current_version.to_string(), "1.49.3");
    assert_eq!(
        r.measurement.to_vec(),
        hex("b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01")
    );
    // The signature alone, with the VCEK's key.
    let key = p384_key(&v.signer.public_key).unwrap();
    verify_report_signature(GO_REPORT, &key, "go-sev-guest VCEK").unwrap();
    // Another chip's VCEK does not verify it.
    let other = verify_report(MILAN_REPORT, MILAN_VCEK, roots.chain(), None, NOW).unwrap();
    let other_key = p384_key(&other.signer.public_key).unwrap();
    assert!(matches!(
        verify_report_signature(GO_REPORT, &other_key, "virtee VCEK"),
        Err(SnpError::BadSignature { .. })
    ));
}

#[test]
fn trustee_milan_report_with_id_block_is_valid() {
    let v = verify_report(
        TRUSTEE_REPORT,
        TRUSTEE_VCEK,
        Roots::milan().chain(),
        None,
        NOW,
    )
    .unwrap();
    assert_eq!(v.report.guest_svn, 4);
    assert_eq!(v.report.current_tcb.0, 0xce08_0000_0000_0003);
    // report[42] += 1: signature fails.
    let mut report = TRUSTEE_REPORT.to_vec();
    report[42] = report[42].wrapping_add(1);
    assert!(matches!(
        verify_report(&report, TRUSTEE_VCEK, Roots::milan().chain(), None, NOW),
        Err(SnpError::BadSignature { .. })
    ));
    // Issuer ASVK instead of ASK: the chain fails.
    let vlek_roots = Roots::milan_vlek();
    assert!(matches!(
        verify_report(TRUSTEE_REPORT, TRUSTEE_VCEK, vlek_roots.chain(), None, NOW),
        Err(SnpError::Chain(_))
    ));
}

#[test]
fn genoa_v3_report_is_valid_and_product_detected() {
    let roots = Roots::genoa();
    let v = verify_report(
        GENOA_REPORT,
        GENOA_VCEK,
        roots.chain(),
        Some(SnpProduct::Genoa),
        NOW,
    )
    .unwrap();
    assert_eq!(v.product, Some(SnpProduct::Genoa));
    assert_eq!(v.report.version, 3);
    assert_eq!(v.report.reported_tcb.0, 0x1917_0000_0000_000a);
    assert!(
        v.signer.chain[2].contains("ARK-Genoa"),
        "{:?}",
        v.signer.chain
    );
    assert_eq!(
        v.report.report_data.to_vec(),
        hex("7e7320889600c7ac133aea7b896c51f41026002982292a7369559796999c1bf929eef3ff23c46e858f0b1982f9a92b17c51b578d958cde6b0c92978f150cf9b0")
    );
    // Expecting Milan: refused with expected/observed.
    let err = verify_report(
        GENOA_REPORT,
        GENOA_VCEK,
        roots.chain(),
        Some(SnpProduct::Milan),
        NOW,
    )
    .unwrap_err();
    assert_eq!(
        err,
        SnpError::ProductMismatch {
            expected: SnpProduct::Milan,
            got: "Genoa".to_string(),
            family: 0x19,
            model: 0xA0
        }
    );
    assert!(err
        .to_string()
        .contains("expected product Milan, got Genoa"));
    // Milan roots do not accept the Genoa VCEK.
    assert!(matches!(
        verify_report(GENOA_REPORT, GENOA_VCEK, Roots::milan().chain(), None, NOW),
        Err(SnpError::Chain(_))
    ));
}

#[test]
fn vlek_report_valid_in_2025_expired_now() {
    let roots = Roots::milan_vlek();
    let v = verify_report(
        VLEK_REPORT,
        VLEK_CERT,
        roots.chain(),
        Some(SnpProduct::Milan),
        JUNE_2025,
    )
    .unwrap();
    assert_eq!(v.report.key_info.signing_key, SigningKey::Vlek);
    assert_eq!(v.report.vmpl, 1);
    assert_eq!(v.report.chip_id, [0; 64]);
    assert_eq!(v.product, Some(SnpProduct::Milan));
    assert!(matches!(
        verify_report(VLEK_REPORT, VLEK_CERT, roots.chain(), None, NOW),
        Err(SnpError::Chain(EkCertError::Expired { .. }))
    ));
    // The VCEK chain (ASK) does not certify a VLEK.
    assert!(matches!(
        verify_report(
            VLEK_REPORT,
            VLEK_CERT,
            Roots::milan().chain(),
            None,
            JUNE_2025
        ),
        Err(SnpError::Chain(_))
    ));
}

/// Flipping a single byte anywhere in the signed region or in R/S must make
/// verification fail: either the parser refuses (reserved byte, unknown
/// version, …) or the signature check does. Milan: every byte (mask 0x01);
/// Genoa: every third byte (mask 0x80), to bound the debug-build run time.
#[test]
fn single_byte_flips_fail() {
    type Case = (&'static [u8], &'static [u8], Roots, usize, u8);
    let cases: [Case; 2] = [
        (MILAN_REPORT, MILAN_VCEK, Roots::milan(), 1, 0x01),
        (GENOA_REPORT, GENOA_VCEK, Roots::genoa(), 3, 0x80),
    ];
    for (report, vcek, roots, step, mask) in &cases {
        let v = verify_report(report, vcek, roots.chain(), None, NOW).unwrap();
        let key = p384_key(&v.signer.public_key).unwrap();
        let offsets = (0..SIGNED_LEN)
            .chain(0x2A0..0x2A0 + 48)
            .chain(0x2E8..0x2E8 + 48)
            .step_by(*step);
        let (mut tried, mut sig_failures) = (0, 0);
        for off in offsets {
            tried += 1;
            let mut m = report.to_vec();
            m[off] ^= mask;
            match verify_report_signature(&m, &key, "sweep") {
                Ok(_) => panic!("flip {mask:#x} at {off:#x} accepted"),
                Err(SnpError::BadSignature { .. }) => sig_failures += 1,
                Err(SnpError::Format(_)) => {}
                Err(e) => panic!("flip at {off:#x}: unexpected error {e}"),
            }
        }
        // Most of the region is not parser-checked: the signature must be
        // what refuses it.
        assert!(
            sig_failures * 10 > tried * 7,
            "only {sig_failures} of {tried} flips refused by the signature"
        );
    }
}

#[test]
fn truncated_extended_and_unknown_version_refused() {
    let roots = Roots::milan();
    for len in [0usize, 100, SIGNED_LEN, 1183] {
        let err =
            verify_report(&MILAN_REPORT[..len], MILAN_VCEK, roots.chain(), None, NOW).unwrap_err();
        assert!(
            matches!(err, SnpError::Format(FormatError::Unexpected { .. })),
            "{err}"
        );
    }
    let mut long = MILAN_REPORT.to_vec();
    long.extend_from_slice(&[0; 16]);
    assert!(matches!(
        verify_report(&long, MILAN_VCEK, roots.chain(), None, NOW),
        Err(SnpError::Format(_))
    ));
    let mut v6 = MILAN_REPORT.to_vec();
    v6[0] = 6;
    assert_eq!(
        verify_report(&v6, MILAN_VCEK, roots.chain(), None, NOW).unwrap_err(),
        SnpError::Format(FormatError::Unsupported {
            field: "ATTESTATION_REPORT VERSION",
            value: 6
        })
    );
}

#[test]
fn unsigned_report_refused() {
    let roots = Roots::milan();
    let v = verify_report(MILAN_REPORT, MILAN_VCEK, roots.chain(), None, NOW).unwrap();
    let key = p384_key(&v.signer.public_key).unwrap();
    let mut m = MILAN_REPORT.to_vec();
    m[0x48] = 7 << 2;
    assert_eq!(
        verify_report_signature(&m, &key, "x").unwrap_err(),
        SnpError::Unsigned
    );
}

#[test]
fn vcek_extensions_match_report() {
    let milan = AmdCertExtensions::from_der(MILAN_VCEK).unwrap();
    assert_eq!(milan.product_name, "Milan-B0");
    assert_eq!(milan.product(), Some(SnpProduct::Milan));
    assert_eq!(
        (milan.bl_spl, milan.tee_spl, milan.snp_spl, milan.ucode_spl),
        (3, 0, 8, 115)
    );
    let report = AttestationReport::parse(MILAN_REPORT).unwrap();
    assert_eq!(milan.hw_id.as_deref(), Some(&report.chip_id[..]));
    milan.check_against(&report, None).unwrap();

    // trustee: report[384] += 1 (REPORTED_TCB boot loader) -> TCB check fails.
    let trustee = AmdCertExtensions::from_der(TRUSTEE_VCEK).unwrap();
    let mut bytes = TRUSTEE_REPORT.to_vec();
    bytes[384] = bytes[384].wrapping_add(1);
    let bumped = AttestationReport::parse(&bytes).unwrap();
    assert_eq!(
        trustee.check_against(&bumped, None).unwrap_err(),
        SnpCertError::TcbMismatch {
            component: "bl",
            cert: 3,
            report: 4
        }
    );
    // Another chip's VCEK: hwID differs from CHIP_ID.
    let go = AttestationReport::parse(GO_REPORT).unwrap();
    let go_ext = AmdCertExtensions::from_der(GO_VCEK).unwrap();
    go_ext.check_against(&go, Some(SnpProduct::Milan)).unwrap();
    let mut other_chip = go.clone();
    other_chip.chip_id[63] ^= 1;
    assert!(matches!(
        go_ext.check_against(&other_chip, None),
        Err(SnpCertError::ChipIdMismatch { .. })
    ));
    // A Milan VCEK claimed for Genoa.
    assert_eq!(
        go_ext
            .check_against(&go, Some(SnpProduct::Genoa))
            .unwrap_err(),
        SnpCertError::Product {
            expected: "Genoa".to_string(),
            got: "Milan-B0".to_string()
        }
    );
}

#[test]
fn vlek_extensions() {
    let e = AmdCertExtensions::from_der(VLEK_CERT).unwrap();
    assert_eq!(e.product_name, "Milan");
    assert_eq!(
        (e.bl_spl, e.tee_spl, e.snp_spl, e.ucode_spl),
        (4, 0, 24, 217)
    );
    assert_eq!(e.hw_id, None);
    // The VLEK report checks; the same report claiming VCEK does not.
    let mut r = AttestationReport::parse(VLEK_REPORT).unwrap();
    e.check_against(&r, None).unwrap();
    r.key_info.signing_key = SigningKey::Vcek;
    assert!(matches!(
        e.check_against(&r, None),
        Err(SnpCertError::SignerKind {
            report: "VCEK",
            cert: "VLEK",
            ..
        })
    ));
    // A VCEK for a report that says VLEK.
    let milan = AmdCertExtensions::from_der(MILAN_VCEK).unwrap();
    let mut m = AttestationReport::parse(MILAN_REPORT).unwrap();
    m.key_info.signing_key = SigningKey::Vlek;
    assert!(matches!(
        milan.check_against(&m, None),
        Err(SnpCertError::SignerKind {
            report: "VLEK",
            cert: "VCEK",
            ..
        })
    ));
    // The IA5String is literally "CN=cc-us-east-2.amazonaws.com" (DER 16 1d
    // 434e3d…, checked with `openssl asn1parse`); MANIFEST §1.5 quotes only
    // the host name.
    assert_eq!(e.csp_id.as_deref(), Some("CN=cc-us-east-2.amazonaws.com"));
}

#[test]
fn hwid_encodings_and_turin() {
    let expected: Vec<u8> = (0u8..64).collect();
    for der in [
        &vector!("trustee/test-vcek-invalid-legacy.der")[..],
        &vector!("trustee/test-vcek-invalid-new.der")[..],
    ] {
        let e = AmdCertExtensions::from_der(der).unwrap();
        assert_eq!(e.hw_id.as_deref(), Some(&expected[..]));
        // Their signature is invalid against the Milan ASK.
        assert!(matches!(
            verify_report(TRUSTEE_REPORT, der, Roots::milan().chain(), None, NOW),
            Err(SnpError::Chain(_))
        ));
    }
    let legacy =
        AmdCertExtensions::from_der(vector!("trustee/test-vcek-invalid-legacy.der")).unwrap();
    assert_eq!(legacy.ucode_spl, 0xa9);
    let new = AmdCertExtensions::from_der(vector!("trustee/test-vcek-invalid-new.der")).unwrap();
    assert_eq!((new.snp_spl, new.ucode_spl), (0, 30));

    let turin = AmdCertExtensions::from_der(vector!("virtee-sev/vcek_turin.der")).unwrap();
    assert_eq!(turin.product(), Some(SnpProduct::Turin));
    assert_eq!(turin.hw_id, Some(hex("1e550a8ee5cf9f4d")));
    assert_eq!(turin.fmc_spl, Some(0));
    assert_eq!(
        (turin.bl_spl, turin.tee_spl, turin.snp_spl, turin.ucode_spl),
        (0, 0, 0, 9)
    );
}
