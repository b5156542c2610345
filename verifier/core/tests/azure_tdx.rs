//! Azure TDX confidential-VM evidence (HCL report with a TD report, its TD
//! quote, and the vTPM quote) against the real vectors of the test-data
//! MANIFEST §2.10 (trustee's az-tdx-vtpm test data; see
//! tests/data/NOTICE.md).
//!
//! The DCAP collateral of that TD quote is not in the test data, so the
//! stated verdict is checked in two halves: the TD quote's signatures and
//! PCK chain without collateral (`verify_quote_signatures`), and everything
//! after DCAP (binding, HCL TD report, AK, vTPM quote) on the quote's TD
//! report (`check_azure_tdx`). `verify_azure_tdx` itself is shown to refuse
//! collateral of another platform.
//!
//! Times: 2025-06-01T00:00:00Z is inside the PCK certificate's validity
//! (2023-09-13 → 2030-09-13); 2025-07-19T10:00:34Z is dcap-qvl's time for
//! its own collateral (FMSPC B0C06F000000).
// Test code: a failed unwrap, expect or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sealbuild_common::tdx::{Quote, TdReportStruct, TDREPORT_SIZE};
use sealbuild_common::FormatError;
use sealbuild_verifier_core::azure::{
    check_azure_tdx, check_td_report, unverified_td_claims, verify_azure_tdx, AnyHclReport,
    AzureError, AzureTdxEvidence, AzureTdxInput, EvidenceVersion, HclHashType, HclReport,
    HclReportType, HclTdxReport, TpmQuote,
};
use sealbuild_verifier_core::tdx::pck::unverified_pck_identity;
use sealbuild_verifier_core::tdx::{
    verify_quote_signatures, IntelRoot, PckCa, TdClaims, TdxCollateral, TdxError,
};
use sha2::{Digest, Sha256, Sha384};

macro_rules! data {
    ($p:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/",
            $p
        ))
    };
}

const HCL: &[u8] = data!("azure/az-tdx-vtpm/hcl-report.bin");
const TD_QUOTE: &[u8] = data!("azure/az-tdx-vtpm/td-quote.bin");
const QUOTE_JSON: &[u8] = data!("azure/az-tdx-vtpm/tpm-quote-v1.json");
const EVIDENCE_V0: &[u8] = data!("azure/az-tdx-vtpm/evidence-v0.json");
const EVIDENCE_V1: &[u8] = data!("azure/az-tdx-vtpm/evidence-v1.json");
const SNP_HCL: &[u8] = data!("azure/az-snp-vtpm/hcl-report.bin");
const FOREIGN_COLLATERAL: &[u8] = data!("tdx/dcap-qvl/tdx_quote_collateral.json");

/// 2025-06-01T00:00:00Z.
const JUNE_2025: u64 = 1_748_736_000;
/// 2025-07-19T10:00:34Z.
const DCAP_QVL_AT: u64 = 1_752_919_234;

/// ASCII "challenge": the vTPM quote's nonce (MANIFEST: report_data
/// `6368616c6c656e6765`).
const CHALLENGE: &[u8] = b"challenge";
const PCR0: &str = "782b20b10f55cc46e2142cc2145d548698073e5beb82752c8d7f9279f0d8a273";
const MRTD: &str = "024a32b070383331181619fa387cb4d55d1e38879f989933055ccad5bc2db795d1737b66205949d15469dc8c1ba7ab7b";
const MR_SEAM: &str = "360304d34a16aace0a18e09ad2d07d2b9fd3c174378e5bf108388079827f89ff62acc5f8c473dd40706324834e202946";

/// Offset of the TD report in the HCL report, and of fields inside it.
const TD: usize = 0x20;
const TD_REPORTDATA: usize = TD + 0x80;
const TD_TEE_INFO_HASH: usize = TD + 0x50;
const TD_MRTD: usize = TD + 0x210;

fn quote_json() -> TpmQuote {
    TpmQuote::from_json(QUOTE_JSON).unwrap()
}

fn hcl() -> HclTdxReport {
    HclTdxReport::parse(HCL).unwrap()
}

fn quote_td() -> TdClaims {
    unverified_td_claims(TD_QUOTE).unwrap()
}

/// The collateral-free checks on `hcl` bytes, the real TD quote's report
/// and `quote`, with nonce `nonce`.
fn offline(
    hcl: &[u8],
    td: &TdClaims,
    quote: &TpmQuote,
    nonce: &[u8],
) -> Result<sealbuild_verifier_core::azure::AzureTdxOffline, AzureError> {
    let hcl = HclTdxReport::parse(hcl)?;
    check_azure_tdx(&hcl, td, &quote.input(nonce), None)
}

#[test]
fn hcl_report_parses_with_the_stated_fields_and_round_trips() {
    let h = hcl();
    // MANIFEST: header version 2, report type 4, SHA-256, 1201-byte var data.
    assert_eq!(h.version, 2);
    assert_eq!(h.hash_type, HclHashType::Sha256);
    assert_eq!(h.var_data().len(), 1201);
    assert_eq!(h.to_bytes(), HCL);
    assert_eq!(h.padding_len(), 2600 - 0x4D4 - 1201);
    assert_eq!(h.td_report_bytes(), &HCL[TD..TD + TDREPORT_SIZE]);
    let td = &h.td_report;
    assert_eq!(td.report_type.tee_type, 0x81);
    assert_eq!(hex::encode(td.td_info.mr_td), MRTD);
    assert_eq!(hex::encode(td.tee_tcb_info.mr_seam), MR_SEAM);
    assert_eq!(hex::encode(td.td_info.xfam), "e718060000000000");
    assert_eq!(td.td_info.attributes, [0; 8]);
    assert_eq!(
        hex::encode(td.tee_tcb_info.tee_tcb_svn),
        "02010600000000000000000000000000"
    );
    assert!(td.td_info.rtmr.iter().all(|r| r == &[0; 48]));
    // The report's own hashes cover its TEE_TCB_INFO and TDINFO.
    assert_eq!(td.computed_tee_tcb_info_hash(), td.tee_tcb_info_hash);
    assert_eq!(td.computed_tee_info_hash(), td.tee_info_hash);
    // REPORTDATA = SHA-256(var data) ‖ zeros.
    assert_eq!(
        &td.report_data[..32],
        Sha256::digest(h.var_data()).as_slice()
    );
    assert_eq!(td.report_data[32..], [0; 32]);
    // The TD report alone round-trips too.
    let alone = TdReportStruct::parse(h.td_report_bytes()).unwrap();
    assert_eq!(alone.to_bytes(), h.td_report_bytes());

    // Dispatch on the report type: TDX here, SEV-SNP for the SNP vector.
    let any = AnyHclReport::parse(HCL).unwrap();
    assert_eq!(any.report_type(), HclReportType::Tdx);
    assert_eq!(any.var_data(), h.var_data());
    assert_eq!(
        AnyHclReport::parse(SNP_HCL).unwrap().report_type(),
        HclReportType::Snp
    );
    assert_eq!(
        HclTdxReport::parse(SNP_HCL).unwrap_err(),
        AzureError::ReportType {
            expected: "4 (TDX_VM_REPORT)",
            got: 2,
            name: "SNP_VM_REPORT"
        }
    );
    assert!(matches!(
        HclReport::parse(HCL),
        Err(AzureError::ReportType { got: 4, .. })
    ));
    let mut vbs = HCL.to_vec();
    vbs[0x4C8] = 1;
    assert!(matches!(
        AnyHclReport::parse(&vbs),
        Err(AzureError::ReportType {
            got: 1,
            name: "VBS_VM_REPORT",
            ..
        })
    ));
}

/// Mutated twins of the HCL report: every reserved or padding byte of the
/// TD report area refused by the parser, naming the field.
#[test]
fn mutated_hcl_td_areas_are_refused_by_the_parser() {
    for (offset, field) in [
        (TD, "TDREPORT REPORTTYPE.TYPE"),
        (TD + 1, "TDREPORT REPORTTYPE.SUBTYPE"),
        (TD + 2, "TDREPORT REPORTTYPE.VERSION"),
        (TD + 3, "TDREPORT REPORTTYPE reserved"),
        (TD + 0x08, "REPORTMACSTRUCT reserved (offset 4)"),
        (TD + 0xD0, "REPORTMACSTRUCT reserved (offset 0xc0)"),
        (TD + 0x1A0, "TEE_TCB_INFO reserved"),
        (TD + 0x1F5, "TDREPORT reserved (offset 0x1ef)"),
        (TD + 0x3D0, "TDINFO reserved"),
        (
            TD + TDREPORT_SIZE,
            "HCL TEE-report area after the TD report",
        ),
        (0x4BF, "HCL TEE-report area after the TD report"),
    ] {
        let mut bad = HCL.to_vec();
        bad[offset] ^= 0x10;
        match HclTdxReport::parse(&bad) {
            Err(AzureError::Format(FormatError::Unexpected { field: f, .. })) => {
                assert_eq!(f, field, "offset {offset:#x}")
            }
            other => panic!("offset {offset:#x}: {other:?}"),
        }
    }
    let truncated = &HCL[..0x300];
    assert!(matches!(
        HclTdxReport::parse(truncated),
        Err(AzureError::Format(FormatError::Truncated { .. }))
    ));
}

#[test]
fn td_quote_has_the_stated_fields() {
    let q = Quote::parse(TD_QUOTE).unwrap();
    assert_eq!(q.header.version, 4);
    assert_eq!(q.padding, 70);
    let t = q.td_report().unwrap();
    assert_eq!(hex::encode(t.mr_td), MRTD);
    assert_eq!(hex::encode(t.mr_seam), MR_SEAM);
    assert_eq!(hex::encode(t.xfam), "e718060000000000");
    assert_eq!(t.td_attributes, [0; 8]);
    assert_eq!(hex::encode(&t.tee_tcb_svn[..4]), "02010600");
    assert!(t.rtmr.iter().all(|r| r == &[0; 48]));
    // The TD report the HCL carries is the one that was quoted.
    assert_eq!(&hcl().td_report.to_quote_body(false), t);
    // FMSPC from the PCK certificate, issued by the Platform CA.
    let (_, ca) = unverified_pck_identity(&q).unwrap();
    assert_eq!(ca, PckCa::Platform);
}

/// The collateral-free half of DCAP: quote signature, QE report signature
/// and binding, PCK chain to the built-in Intel SGX Root CA.
#[test]
fn td_quote_signatures_and_pck_chain_verify_without_collateral() {
    let v = verify_quote_signatures(TD_QUOTE, &IntelRoot::builtin(), JUNE_2025).unwrap();
    assert_eq!(v.pck_ca, PckCa::Platform);
    // A flipped MRTD byte breaks the quote signature.
    let mut bad = TD_QUOTE.to_vec();
    bad[48 + 136] ^= 1;
    assert!(matches!(
        verify_quote_signatures(&bad, &IntelRoot::builtin(), JUNE_2025),
        Err(TdxError::QuoteSignature { .. })
    ));
}

/// The stated verdict after DCAP: VALID, nonce "challenge", PCR0.
#[test]
fn stated_verdict_binding_hcl_and_vtpm_are_valid() {
    let c = offline(HCL, &quote_td(), &quote_json(), CHALLENGE).unwrap();
    assert_eq!(hex::encode(&c.nonce), "6368616c6c656e6765");
    assert_eq!(hex::encode(c.pcrs[0]), PCR0);
    assert_eq!(c.ak.bits(), 2048);
    assert_eq!(c.ak.kid, "HCLAkPub");
    assert!(c.ek.is_some());
    assert_eq!(c.runtime.vm_configuration.secure_boot, Some(true));
    assert_eq!(
        c.runtime.vm_configuration.vm_unique_id.as_deref(),
        Some("6332533D-5649-4D02-8AA7-8F64B7C3EE21")
    );
    assert_eq!(c.user_data, Some(vec![0; 64]));
}

/// MANIFEST §2.10 negatives, each at the check that names it.
#[test]
fn stated_negatives_are_refused() {
    // hcl[0x880] += 1 → "TDX Quote report data mismatch".
    let mut bad = HCL.to_vec();
    bad[0x880] = bad[0x880].wrapping_add(1);
    let e = offline(&bad, &quote_td(), &quote_json(), CHALLENGE).unwrap_err();
    let AzureError::VarDataDigest { expected, got, .. } = &e else {
        panic!("{e:?}");
    };
    assert_eq!(got, &hex::encode(&quote_td().report_data[..32]));
    assert_ne!(expected, got);
    assert!(e.to_string().contains("not bound by REPORT_DATA"), "{e}");

    // TPM signature[0] ^= 1 → INVALID.
    let mut q = quote_json();
    q.signature[0] ^= 1;
    assert!(matches!(
        offline(HCL, &quote_td(), &q, CHALLENGE),
        Err(AzureError::QuoteSignature { .. })
    ));

    // Nonce reversed → INVALID.
    let reversed: Vec<u8> = CHALLENGE.iter().rev().copied().collect();
    let e = offline(HCL, &quote_td(), &quote_json(), &reversed).unwrap_err();
    assert_eq!(
        e,
        AzureError::Nonce {
            expected: hex::encode(&reversed),
            got: hex::encode(CHALLENGE),
        }
    );

    // pcrs[0][0] ^= 1 → INVALID (pcrDigest).
    let mut q = quote_json();
    q.pcrs[0][0] ^= 1;
    assert!(matches!(
        offline(HCL, &quote_td(), &q, CHALLENGE),
        Err(AzureError::PcrDigest { .. })
    ));
}

/// The HCL's TD report must be the quoted one, and consistent in itself.
#[test]
fn td_report_mismatches_name_the_field() {
    // MRTD changed in the HCL: its TEE_INFO_HASH no longer covers TDINFO.
    let mut bad = HCL.to_vec();
    bad[TD_MRTD] ^= 1;
    let e = offline(&bad, &quote_td(), &quote_json(), CHALLENGE).unwrap_err();
    assert!(
        matches!(
            e,
            AzureError::TdReportHash {
                field: "TEE_INFO_HASH",
                ..
            }
        ),
        "{e:?}"
    );
    // … and with the hash recomputed, it differs from the quote's MRTD.
    let tdinfo = TD + 0x200;
    let hash = Sha384::digest(&bad[tdinfo..tdinfo + 512]);
    bad[TD_TEE_INFO_HASH..TD_TEE_INFO_HASH + 48].copy_from_slice(&hash);
    let e = offline(&bad, &quote_td(), &quote_json(), CHALLENGE).unwrap_err();
    let AzureError::TdReportMismatch {
        field,
        quote,
        hcl: seen,
    } = &e
    else {
        panic!("{e:?}");
    };
    assert_eq!(*field, "MRTD");
    assert_eq!(quote, MRTD);
    assert_ne!(seen, MRTD);

    // REPORTDATA of the HCL's TD report (covered only by the MAC).
    let mut bad = HCL.to_vec();
    bad[TD_REPORTDATA + 40] = 1;
    assert!(matches!(
        offline(&bad, &quote_td(), &quote_json(), CHALLENGE),
        Err(AzureError::TdReportMismatch {
            field: "REPORTDATA",
            ..
        })
    ));

    // A quote of another TD: every differing field is named.
    let mut other = quote_td();
    other.rtmr2[0] = 1;
    assert!(matches!(
        check_td_report(&hcl(), &other),
        Err(AzureError::TdReportMismatch { field: "RTMR2", .. })
    ));
    let mut other = quote_td();
    other.mr_service_td = Some([1; 48]);
    other.tee_tcb_svn2 = Some(hcl().td_report.tee_tcb_info.tee_tcb_svn2);
    assert!(matches!(
        check_td_report(&hcl(), &other),
        Err(AzureError::TdReportMismatch {
            field: "MRSERVICETD",
            ..
        })
    ));
    // REPORT_DATA beyond the digest must be zero.
    let mut other = quote_td();
    other.report_data[63] = 1;
    assert!(matches!(
        offline(HCL, &other, &quote_json(), CHALLENGE),
        Err(AzureError::ReportDataTail { from: 32, .. })
    ));
    // An SGX quote is not a TD quote.
    assert_eq!(
        unverified_td_claims(data!("tdx/dcap-qvl/sgx_quote")).unwrap_err(),
        AzureError::NotTdQuote
    );
}

#[test]
fn evidence_v0_and_v1_are_the_same_evidence_and_valid() {
    for (bytes, version) in [
        (EVIDENCE_V0, EvidenceVersion::V0),
        (EVIDENCE_V1, EvidenceVersion::V1),
    ] {
        let e = AzureTdxEvidence::from_json(bytes).unwrap();
        assert_eq!(e.version, version);
        assert_eq!(e.hcl_report, HCL);
        assert_eq!(e.td_quote, TD_QUOTE);
        assert_eq!(e.tpm_quote, quote_json());
        let input = e.input(CHALLENGE);
        let hcl = HclTdxReport::parse(input.hcl_report).unwrap();
        let td = unverified_td_claims(input.td_quote).unwrap();
        let c = check_azure_tdx(&hcl, &td, &input.vtpm, None).unwrap();
        assert_eq!(hex::encode(c.pcrs[0]), PCR0);
    }
}

/// `verify_azure_tdx` needs the quote's own collateral: dcap-qvl's (another
/// FMSPC) is refused, whatever the rest of the evidence says.
#[test]
fn dcap_with_collateral_of_another_platform_is_refused() {
    let collateral = TdxCollateral::from_bundle_json(FOREIGN_COLLATERAL).unwrap();
    let q = quote_json();
    let input = AzureTdxInput {
        hcl_report: HCL,
        td_quote: TD_QUOTE,
        vtpm: q.input(CHALLENGE),
        expected_user_data: None,
    };
    let e = verify_azure_tdx(&input, &collateral, &IntelRoot::builtin(), DCAP_QVL_AT).unwrap_err();
    let AzureError::Tdx(TdxError::Mismatch {
        check, expected, ..
    }) = &e
    else {
        panic!("{e:?}");
    };
    assert_eq!(*check, "TCB Info FMSPC");
    // The expected value is the quote's own FMSPC.
    let (fmspc, _) = unverified_pck_identity(&Quote::parse(TD_QUOTE).unwrap()).unwrap();
    assert_eq!(expected, &hex::encode(fmspc));
    // An HCL report of the other kind is refused before DCAP.
    let input = AzureTdxInput {
        hcl_report: SNP_HCL,
        ..input
    };
    assert!(matches!(
        verify_azure_tdx(&input, &collateral, &IntelRoot::builtin(), DCAP_QVL_AT),
        Err(AzureError::ReportType { got: 2, .. })
    ));
}
