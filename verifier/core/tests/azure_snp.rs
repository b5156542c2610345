//! Azure SEV-SNP confidential-VM evidence (HCL report + vTPM quote) against
//! the real vectors of the test-data MANIFEST §1.9 (trustee's
//! az-snp-vtpm test data; see tests/data/NOTICE.md).
//!
//! Verification time: 2025-06-01T00:00:00Z, inside the validity of every
//! certificate involved (VCEK of hcl-report.bin 2023-05-02 → 2030-05-02,
//! VCEKs of evidence-v0/v1/v2 2025-01-28 → 2032-01-28, Genoa VCEK
//! 2025-01-24 → 2032-01-24, AMD roots 2020/2022 → 2045/2047).
// Test code: a failed unwrap, expect or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sealbuild_common::snp::{SnpProduct, TcbVersion};
use sealbuild_common::FormatError;
use sealbuild_verifier_core::azure::evidence::pem_certificate;
use sealbuild_verifier_core::azure::{
    verify_azure_snp, AzureError, AzureSnpClaims, AzureSnpEvidence, AzureSnpInput, EvidenceVersion,
    HclHashType, HclReport, TpmQuote,
};
use sealbuild_verifier_core::ekcert::EkCertError;
use sealbuild_verifier_core::snp::{AmdChain, SnpCertError, SnpError};
use sha2::{Digest, Sha256};

macro_rules! data {
    ($p:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/",
            $p
        ))
    };
}

/// 2025-06-01T00:00:00Z.
const JUNE_2025: u64 = 1_748_736_000;
/// 2025-01-01T00:00:00Z: before the evidence-v1 VCEK's notBefore.
const JANUARY_2025: u64 = 1_735_689_600;

const HCL: &[u8] = data!("azure/az-snp-vtpm/hcl-report.bin");
const VCEK_PEM: &[u8] = data!("azure/az-snp-vtpm/vcek.pem");
const QUOTE_JSON: &[u8] = data!("azure/az-snp-vtpm/tpm-quote-v1.json");
const EVIDENCE_V0: &[u8] = data!("azure/az-snp-vtpm/evidence-v0.json");
const EVIDENCE_V1: &[u8] = data!("azure/az-snp-vtpm/evidence-v1.json");
const EVIDENCE_V2: &[u8] = data!("azure/az-snp-vtpm/evidence-v2.json");
const EVIDENCE_GENOA: &[u8] = data!("azure/az-snp-vtpm/evidence-genoa.json");
const VCEK_GENOA_PEM: &[u8] = data!("azure/az-snp-vtpm/vcek-genoa.pem");
const TDX_HCL: &[u8] = data!("azure/az-tdx-vtpm/hcl-report.bin");

const V2_NONCE: &str = "982f5c6e45df0ed3f10b6f60b02f0c8390e281300f3805e2279c16168cd6ae9aa398f647caa2338748cd0fd9f5f819ef";
const GENOA_NONCE: &str = "0218488bae25d2509232bf676f1a66a30d7372add909109b36016ef136f2938ca05475f8b46094de6b64270ea35d950f";

fn hex(s: &str) -> Vec<u8> {
    ::hex::decode(s).unwrap()
}

/// Every PEM certificate in `pem`, as DER.
fn pem_certs(pem: &[u8]) -> Vec<Vec<u8>> {
    let text = std::str::from_utf8(pem).unwrap();
    let end = "-----END CERTIFICATE-----";
    let certs: Vec<Vec<u8>> = text
        .split_inclusive(end)
        .filter(|c| c.contains(end))
        .map(|c| pem_certificate(c).unwrap())
        .collect();
    assert!(!certs.is_empty());
    certs
}

struct Roots {
    ark: Vec<u8>,
    ask: Vec<u8>,
}

impl Roots {
    fn milan() -> Self {
        Self {
            ark: pem_certificate(include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../tests/data/sev-snp/amd-roots/milan/ark.pem"
            )))
            .unwrap(),
            ask: pem_certificate(include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../tests/data/sev-snp/amd-roots/milan/ask.pem"
            )))
            .unwrap(),
        }
    }
    fn genoa() -> Self {
        Self {
            ark: pem_certificate(include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../tests/data/sev-snp/amd-roots/genoa/ark.pem"
            )))
            .unwrap(),
            ask: pem_certificate(include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../tests/data/sev-snp/amd-roots/genoa/ask.pem"
            )))
            .unwrap(),
        }
    }
    fn chain(&self) -> AmdChain<'_> {
        AmdChain {
            ark_der: &self.ark,
            ask_der: &self.ask,
        }
    }
}

/// The MANIFEST §1.9 first vector: hcl-report.bin + vcek.pem (its first
/// certificate; the file also holds ASK and ARK) + tpm-quote-v1.json.
struct Vector {
    hcl: Vec<u8>,
    vcek: Vec<u8>,
    quote: TpmQuote,
    nonce: Vec<u8>,
    roots: Roots,
}

impl Vector {
    fn new() -> Self {
        let certs = pem_certs(VCEK_PEM);
        assert_eq!(certs.len(), 3, "vcek.pem: VCEK, ASK, ARK");
        let roots = Roots::milan();
        assert_eq!(certs[1], roots.ask, "vcek.pem carries the pinned Milan ASK");
        assert_eq!(certs[2], roots.ark, "vcek.pem carries the pinned Milan ARK");
        Self {
            hcl: HCL.to_vec(),
            vcek: certs[0].clone(),
            quote: TpmQuote::from_json(QUOTE_JSON).unwrap(),
            nonce: b"challenge".to_vec(),
            roots,
        }
    }

    fn input(&self) -> AzureSnpInput<'_> {
        AzureSnpInput {
            hcl_report: &self.hcl,
            vcek_der: &self.vcek,
            chain: self.roots.chain(),
            quote: &self.quote.message,
            quote_signature: &self.quote.signature,
            pcrs: &self.quote.pcrs,
            expected_nonce: &self.nonce,
            expected_user_data: None,
            expected_product: Some(SnpProduct::Milan),
            at_unix_secs: JUNE_2025,
        }
    }

    fn verify(&self) -> Result<AzureSnpClaims, AzureError> {
        verify_azure_snp(&self.input())
    }
}

#[test]
fn hcl_report_layout_and_round_trip() {
    let r = HclReport::parse(HCL).unwrap();
    assert_eq!(r.to_bytes(), HCL, "parse -> serialize must give the input");
    assert_eq!(r.version, 1);
    assert_eq!(r.report_size(), 0x92a);
    assert_eq!(r.padding_len(), 2600 - 0x92a);
    assert_eq!(r.hash_type, HclHashType::Sha256);
    assert_eq!(r.var_data().len(), 1110);
    assert_eq!(r.snp_report_bytes(), &HCL[0x20..0x4C0]);
    assert_eq!(r.snp_report.version, 2);
    assert!(r.var_data().starts_with(br#"{"keys":[{"kid":"HCLAkPub""#));
    let runtime = r.runtime_claims().unwrap();
    assert_eq!(runtime.vm_configuration.secure_boot, Some(true));
    assert_eq!(runtime.vm_configuration.tpm_enabled, Some(true));
    assert_eq!(
        runtime.vm_configuration.vm_unique_id.as_deref(),
        Some("911B0EF8-9DBA-48B0-B275-4E4DF2D39252")
    );
    assert_eq!(runtime.user_data_bytes().unwrap(), Some(vec![0u8; 64]));
    assert_eq!(r.ak_pub().unwrap().bits(), 2048);

    // The Genoa evidence has header version 2 and a longer report.
    let genoa = AzureSnpEvidence::from_json(EVIDENCE_GENOA).unwrap();
    let g = HclReport::parse(&genoa.hcl_report).unwrap();
    assert_eq!((g.version, g.report_size()), (2, 0x984));
    assert_eq!(g.to_bytes(), genoa.hcl_report);
}

#[test]
fn tdx_hcl_report_is_refused_by_the_snp_verifier() {
    assert_eq!(
        HclReport::parse(TDX_HCL).unwrap_err(),
        AzureError::ReportType {
            expected: "2 (SNP_VM_REPORT)",
            got: 4,
            name: "TDX_VM_REPORT"
        }
    );
}

#[test]
fn hcl_vector_is_valid_with_stated_claims() {
    let v = Vector::new();
    for expected_product in [Some(SnpProduct::Milan), None] {
        let input = AzureSnpInput {
            expected_product,
            ..v.input()
        };
        let c = verify_azure_snp(&input).unwrap();
        let r = c.report();
        assert_eq!(c.snp.signer_ext.product(), Some(SnpProduct::Milan));
        assert_eq!(r.policy.0, 0x3001f);
        assert_eq!(r.reported_tcb, TcbVersion(0x7308000000000003));
        assert_eq!(r.vmpl, 0);
        assert_eq!(
            r.measurement.to_vec(),
            hex("9ac48fcac8a2d88aeeff8d427ad4f2be0e3917c748a18bdf52cc317e7fe20308b459d5ef1a12e0c22944eb386d17c315")
        );
        let mut report_data =
            hex("b3fbad6514c83caeb0380882145e49f794229ef37c421b91fc47ff93556bafac");
        report_data.resize(64, 0);
        assert_eq!(r.report_data.to_vec(), report_data);
        assert_eq!(
            Sha256::digest(c.hcl.var_data()).to_vec(),
            report_data[..32].to_vec()
        );
        assert_eq!(c.nonce, b"challenge");
        let pcr0 = ::hex::encode(c.pcr(0).unwrap());
        assert!(
            pcr0.starts_with("f3a7e99a") && pcr0.ends_with("99be"),
            "{pcr0}"
        );
        assert_eq!(c.pcr(24), None);
        assert_eq!(c.quote.selection.pcr_count(), 24);
        assert_eq!(c.ak.bits(), 2048);
        assert_eq!(c.ak.e, vec![1, 0, 1]);
        assert_eq!(c.ek.as_ref().map(|k| k.bits()), Some(2048));
        assert_eq!(c.user_data, Some(vec![0u8; 64]));
    }
}

#[test]
fn tampered_reported_tcb_is_an_snp_version_mismatch() {
    let mut v = Vector::new();
    v.hcl[0x1a6] = 0; // REPORTED_TCB byte 6: SNP SVN 8 -> 0
    assert_eq!(
        v.verify().unwrap_err(),
        AzureError::Snp(SnpError::Cert(SnpCertError::TcbMismatch {
            component: "snp",
            cert: 8,
            report: 0
        }))
    );
}

#[test]
fn tampered_var_data_does_not_match_report_data() {
    let mut v = Vector::new();
    v.hcl[0x6e0] += 1;
    let var = HclReport::parse(&v.hcl).unwrap().var_data().to_vec();
    match v.verify().unwrap_err() {
        AzureError::VarDataDigest {
            expected, got, len, ..
        } => {
            assert_eq!(expected, ::hex::encode(Sha256::digest(&var)));
            assert_eq!(
                got,
                "b3fbad6514c83caeb0380882145e49f794229ef37c421b91fc47ff93556bafac"
            );
            assert_eq!(len, 1110);
        }
        other => panic!("expected VarDataDigest, got {other:?}"),
    }
}

#[test]
fn broken_ak_in_var_data_cannot_be_obtained() {
    let mut v = Vector::new();
    v.hcl[0x540] = 0; // a NUL inside HCLAkPub's "n"
    let hcl = HclReport::parse(&v.hcl).unwrap();
    match hcl.ak_pub().unwrap_err() {
        AzureError::AkPub { reason } => assert!(reason.contains("control character"), "{reason}"),
        other => panic!("expected AkPub, got {other:?}"),
    }
    // End to end, the binding to REPORT_DATA breaks first.
    assert!(matches!(
        v.verify().unwrap_err(),
        AzureError::VarDataDigest { .. }
    ));
}

#[test]
fn flipped_quote_signature_is_invalid() {
    let mut v = Vector::new();
    v.quote.signature[0] ^= 1;
    assert!(matches!(
        v.verify().unwrap_err(),
        AzureError::QuoteSignature { .. }
    ));
}

#[test]
fn reversed_nonce_is_refused() {
    let mut v = Vector::new();
    v.nonce.reverse();
    assert_eq!(
        v.verify().unwrap_err(),
        AzureError::Nonce {
            expected: ::hex::encode(b"egnellahc"),
            got: ::hex::encode(b"challenge"),
        }
    );
}

#[test]
fn flipped_pcr_is_a_pcr_digest_mismatch() {
    let mut v = Vector::new();
    v.quote.pcrs[0][0] ^= 1;
    match v.verify().unwrap_err() {
        AzureError::PcrDigest { quoted, computed } => {
            assert_eq!(
                quoted,
                "0daff74c2fca14910b1e9b54a384707434c3365db9f163cc73a39a9f7500833f"
            );
            assert_ne!(quoted, computed);
        }
        other => panic!("expected PcrDigest, got {other:?}"),
    }
}

#[test]
fn wrong_roots_product_or_time_are_refused() {
    let v = Vector::new();
    let genoa = Roots::genoa();
    let err = verify_azure_snp(&AzureSnpInput {
        chain: genoa.chain(),
        ..v.input()
    })
    .unwrap_err();
    assert!(
        matches!(err, AzureError::Snp(SnpError::Chain(_))),
        "{err:?}"
    );
    let err = verify_azure_snp(&AzureSnpInput {
        expected_product: Some(SnpProduct::Genoa),
        ..v.input()
    })
    .unwrap_err();
    assert!(
        matches!(
            err,
            AzureError::Snp(SnpError::Cert(SnpCertError::Product { .. }))
        ),
        "{err:?}"
    );
    // The v1 evidence's VCEK is not yet valid on 2025-01-01.
    let e = AzureSnpEvidence::from_json(EVIDENCE_V1).unwrap();
    let err = e
        .verify(v.roots.chain(), b"challenge", None, JANUARY_2025)
        .unwrap_err();
    assert!(
        matches!(
            err,
            AzureError::Snp(SnpError::Chain(EkCertError::NotYetValid { .. }))
        ),
        "{err:?}"
    );
}

#[test]
fn quote_of_another_length_or_selection_is_refused() {
    let v = Vector::new();
    let mut short = v.quote.message.clone();
    short.pop();
    let err = verify_azure_snp(&AzureSnpInput {
        quote: &short,
        ..v.input()
    })
    .unwrap_err();
    assert!(matches!(err, AzureError::QuoteSignature { .. }), "{err:?}");
    let err = verify_azure_snp(&AzureSnpInput {
        quote_signature: &v.quote.signature[1..],
        ..v.input()
    })
    .unwrap_err();
    assert!(matches!(err, AzureError::QuoteSignature { .. }), "{err:?}");
}

#[test]
fn evidence_v0_and_v1_are_the_same_valid_evidence() {
    let v0 = AzureSnpEvidence::from_json(EVIDENCE_V0).unwrap();
    let v1 = AzureSnpEvidence::from_json(EVIDENCE_V1).unwrap();
    assert_eq!(v0.version, EvidenceVersion::V0);
    assert_eq!(v1.version, EvidenceVersion::V1);
    // The same report body signed twice (ECDSA signatures differ), and two
    // quotes of the same PCRs at different TPM clock values.
    assert_eq!(v0.hcl_report[..0x2C0], v1.hcl_report[..0x2C0]);
    assert_ne!(v0.hcl_report[0x2C0..0x4C0], v1.hcl_report[0x2C0..0x4C0]);
    assert_eq!(v0.hcl_report[0x4C0..], v1.hcl_report[0x4C0..]);
    assert_eq!(v0.vcek_der, v1.vcek_der, "PEM and base64url-DER VCEK");
    assert_eq!(v0.tpm_quote.pcrs, v1.tpm_quote.pcrs);
    let roots = Roots::milan();
    for e in [&v0, &v1] {
        let c = e
            .verify(
                roots.chain(),
                b"challenge",
                Some(SnpProduct::Milan),
                JUNE_2025,
            )
            .unwrap();
        assert_eq!(::hex::encode(&c.nonce), "6368616c6c656e6765");
        assert_eq!(
            ::hex::encode(c.pcr(0).unwrap()),
            "e15c44796beabf46abcec7c57e590942041e47497e4ec27571c8b7664f48dced"
        );
        let r = c.report();
        assert_eq!(r.version, 3);
        assert_eq!(c.snp.product, Some(SnpProduct::Milan));
        assert_eq!(
            r.measurement.to_vec(),
            hex("6a063be9dd79f6371c842e480f8dc3b5c725961344e57130e88c5adf49e8f7f6c79b75a5eb77fc769959f4aeb2f9401e")
        );
        assert_eq!(r.reported_tcb, TcbVersion(0xdb18000000000004));
        assert_eq!(
            c.runtime.vm_configuration.vm_unique_id.as_deref(),
            Some("26F8BC30-774E-4290-8E7A-535F3B672AEE")
        );
        // Versions 0 and 1 do not bind the nonce into user-data.
        assert_eq!(c.user_data, Some(vec![0u8; 64]));
    }
}

#[test]
fn evidence_v2_binds_the_nonce_into_user_data() {
    let e = AzureSnpEvidence::from_json(EVIDENCE_V2).unwrap();
    assert_eq!(e.version, EvidenceVersion::V2);
    let roots = Roots::milan();
    let nonce = hex(V2_NONCE);
    assert_eq!(nonce.len(), 48);
    let c = e
        .verify(roots.chain(), &nonce, Some(SnpProduct::Milan), JUNE_2025)
        .unwrap();
    assert_eq!(::hex::encode(&c.nonce), V2_NONCE);
    assert_eq!(
        ::hex::encode(c.pcr(0).unwrap()),
        "84275b2f4312cd4fc6cbe6b152ad3c3683e513d9f1e23c34fca160c8cca7a6a7"
    );
    let user_data = c.user_data.clone().unwrap();
    assert_eq!(&user_data[..48], nonce.as_slice());
    assert_eq!(&user_data[48..], &[0u8; 16]);

    // user-data `123abc` (the nonce still right) must fail.
    let wrong = hex("123abc");
    let err = verify_azure_snp(&AzureSnpInput {
        expected_user_data: Some(&wrong),
        ..e.input(roots.chain(), &nonce, None, JUNE_2025)
    })
    .unwrap_err();
    assert_eq!(
        err,
        AzureError::UserData {
            expected: "123abc".into(),
            got: ::hex::encode(&user_data),
        }
    );
    // Another nonce fails at the quote already.
    let err = e
        .verify(roots.chain(), b"challenge", None, JUNE_2025)
        .unwrap_err();
    assert!(matches!(err, AzureError::Nonce { .. }), "{err:?}");
}

#[test]
fn evidence_genoa_is_valid_on_the_genoa_chain() {
    let e = AzureSnpEvidence::from_json(EVIDENCE_GENOA).unwrap();
    assert_eq!(e.version, EvidenceVersion::V0);
    assert_eq!(
        e.vcek_der,
        pem_certificate(std::str::from_utf8(VCEK_GENOA_PEM).unwrap()).unwrap()
    );
    let nonce = hex(GENOA_NONCE);
    let roots = Roots::genoa();
    let c = e
        .verify(roots.chain(), &nonce, Some(SnpProduct::Genoa), JUNE_2025)
        .unwrap();
    assert_eq!(c.snp.product, Some(SnpProduct::Genoa));
    assert_eq!(c.snp.signer_ext.product(), Some(SnpProduct::Genoa));
    assert_eq!(c.report().reported_tcb, TcbVersion(0x541700000000000a));
    assert_eq!(c.nonce, nonce);
    assert_eq!(
        ::hex::encode(c.pcr(0).unwrap()),
        "afd689d0bb1c5f36f023fbaf574135f555a28a10c1f6b938d2a25e70c7783338"
    );
    // The Milan chain and the Milan product are refused.
    let milan = Roots::milan();
    let err = e
        .verify(milan.chain(), &nonce, None, JUNE_2025)
        .unwrap_err();
    assert!(
        matches!(err, AzureError::Snp(SnpError::Chain(_))),
        "{err:?}"
    );
    let err = e
        .verify(roots.chain(), &nonce, Some(SnpProduct::Milan), JUNE_2025)
        .unwrap_err();
    assert!(
        matches!(err, AzureError::Snp(SnpError::ProductMismatch { .. })),
        "{err:?}"
    );
}

#[test]
fn malformed_evidence_json_is_refused() {
    let mut v1: serde_json::Value = serde_json::from_slice(EVIDENCE_V1).unwrap();
    v1["unknown"] = serde_json::json!(1);
    let err = AzureSnpEvidence::from_json(v1.to_string().as_bytes()).unwrap_err();
    assert!(
        matches!(err, AzureError::Format(FormatError::Encoding { .. })),
        "{err:?}"
    );
    let mut v0: serde_json::Value = serde_json::from_slice(EVIDENCE_V0).unwrap();
    v0["vcek"] = serde_json::json!("not PEM");
    assert!(matches!(
        AzureSnpEvidence::from_json(v0.to_string().as_bytes()),
        Err(AzureError::Format(FormatError::Encoding { .. }))
    ));
}

/// Single-byte changes all over the HCL report are refused without a panic:
/// every header byte, every third byte of the SNP signed region plus all of
/// VMPL, REPORT_DATA and REPORTED_TCB, and a stride over the signature, the
/// request data, the variable data and the padding. (Each accepted parse
/// costs a full chain verification, hence the strides.)
#[test]
fn hcl_byte_flips_all_fail() {
    let v = Vector::new();
    v.verify().unwrap();
    let snp = |o: usize| 0x20 + o;
    let mut offsets: Vec<usize> = (0..0x20).collect();
    offsets.extend((snp(0)..snp(0x2A0)).step_by(3));
    offsets.extend(snp(0x30)..snp(0x34)); // VMPL
    offsets.extend(snp(0x50)..snp(0x90)); // REPORT_DATA
    offsets.extend(snp(0x180)..snp(0x188)); // REPORTED_TCB
    offsets.extend((snp(0x2A0)..snp(0x4A0)).step_by(11)); // signature + reserved
    offsets.extend(0x4C0..0x4D4); // request data
    offsets.extend((0x4D4..0x92A).step_by(17)); // variable data
    offsets.extend((0x92A..HCL.len()).step_by(31)); // padding
    offsets.push(HCL.len() - 1);
    offsets.sort_unstable();
    offsets.dedup();
    assert!(offsets.len() > 400, "{} offsets", offsets.len());
    for offset in offsets {
        let mask = if offset % 2 == 0 { 0x01 } else { 0x80 };
        let mut bad = Vector::new();
        bad.hcl[offset] ^= mask;
        assert!(
            bad.verify().is_err(),
            "flipping HCL byte {offset:#x} with {mask:#04x} was accepted"
        );
    }
}

/// Every single-byte change of the quote and of its signature is refused.
#[test]
fn quote_byte_flips_all_fail() {
    let v = Vector::new();
    for offset in 0..v.quote.message.len() {
        let mut bad = Vector::new();
        bad.quote.message[offset] ^= 0x01;
        let err = bad.verify().unwrap_err();
        assert!(
            matches!(err, AzureError::QuoteSignature { .. }),
            "quote byte {offset:#x}: {err:?}"
        );
    }
    for offset in (0..v.quote.signature.len()).step_by(5) {
        let mut bad = Vector::new();
        bad.quote.signature[offset] ^= 0x40;
        assert!(
            matches!(bad.verify(), Err(AzureError::QuoteSignature { .. })),
            "signature byte {offset:#x}"
        );
    }
    for index in 0..24 {
        let mut bad = Vector::new();
        bad.quote.pcrs[index][31] ^= 0x01;
        assert!(
            matches!(bad.verify(), Err(AzureError::PcrDigest { .. })),
            "PCR {index}"
        );
    }
}
