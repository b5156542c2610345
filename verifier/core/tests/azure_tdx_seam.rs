//! Azure TDX evidence through the platform seam and the policy, on the real
//! vectors of the test-data MANIFEST §2.10 (tests/data/azure/az-tdx-vtpm).
//!
//! The TD quote's DCAP collateral is not in the test data: the seam must ask
//! the I/O edge for it (`CollateralNeed::TdxDcap` with the quote's FMSPC),
//! refuse without it by naming it, and refuse collateral of another
//! platform. The checks after DCAP are covered in `platform::azure`'s unit
//! tests and in tests/azure_tdx.rs.
// Test code: a failed unwrap, expect or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sealbuild_common::api::{AzureEvidence, Evidence, Reason, TpmEvidence};
use sealbuild_common::tdx::Quote;
use sealbuild_common::HashAlg;
use sealbuild_common::Platform;
use sealbuild_verifier_core::claims::{
    AzureClaims, AzureTeeClaims, PlatformClaims, TdxClaims, TpmClaims,
};
use sealbuild_verifier_core::platform::{
    Anchors, Collateral, CollateralNeed, Registry, VerifyContext,
};
use sealbuild_verifier_core::policy::{Appraiser, Policy, ReferenceRule};
use sealbuild_verifier_core::tdx::pck::unverified_pck_identity;
use sealbuild_verifier_core::tdx::{PckCa, TcbStatus, TcbVerdict, TdClaims, TdxCollateral};
use std::collections::BTreeMap;

macro_rules! data {
    ($p:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/",
            $p
        ))
    };
}

/// 2025-07-19T10:00:34Z: inside dcap-qvl's collateral window and the PCK's
/// validity.
const DCAP_QVL_AT: u64 = 1_752_919_234;
const MRTD: &str = "024a32b070383331181619fa387cb4d55d1e38879f989933055ccad5bc2db795d1737b66205949d15469dc8c1ba7ab7b";
const PCR0: &str = "782b20b10f55cc46e2142cc2145d548698073e5beb82752c8d7f9279f0d8a273";

fn evidence() -> AzureEvidence {
    let q: serde_json::Value =
        serde_json::from_slice(data!("azure/az-tdx-vtpm/tpm-quote-v1.json")).unwrap();
    let raw = hex::decode(q["signature"].as_str().unwrap()).unwrap();
    // TPMT_SIGNATURE: TPM_ALG_RSASSA, TPM_ALG_SHA256, TPM2B signature.
    let mut signature = vec![0x00, 0x14, 0x00, 0x0b];
    signature.extend_from_slice(&u16::try_from(raw.len()).unwrap().to_be_bytes());
    signature.extend_from_slice(&raw);
    let pcrs: BTreeMap<u32, String> = (0u32..)
        .zip(q["pcrs"].as_array().unwrap())
        .map(|(i, v)| (i, v.as_str().unwrap().to_string()))
        .collect();
    AzureEvidence {
        hcl_report: data!("azure/az-tdx-vtpm/hcl-report.bin").to_vec(),
        certificates: vec![],
        td_quote: Some(data!("azure/az-tdx-vtpm/td-quote.bin").to_vec()),
        tpm: TpmEvidence {
            quote: hex::decode(q["message"].as_str().unwrap()).unwrap(),
            signature,
            pcrs: BTreeMap::from([("sha256".to_string(), pcrs)]),
            event_log: None,
            runtime_log: None,
        },
    }
}

fn verify(ev: AzureEvidence, collateral: &Collateral) -> Vec<Reason> {
    let registry = Registry::new(&Anchors::default());
    let v = registry.get(Platform::Azure).unwrap();
    v.verify(
        &Evidence::Azure(ev),
        &VerifyContext {
            agent_id: "azure:tdx",
            registered: None,
            binding: &[7; 32],
            statement_digest: None,
            now: DCAP_QVL_AT,
            collateral,
        },
    )
    .unwrap_err()
}

fn checks(r: &[Reason]) -> Vec<&str> {
    r.iter().map(|r| r.check.as_str()).collect()
}

#[test]
fn the_edge_is_asked_for_the_quotes_dcap_collateral() {
    let ev = Evidence::Azure(evidence());
    let registry = Registry::new(&Anchors::default());
    let q = Quote::parse(data!("azure/az-tdx-vtpm/td-quote.bin")).unwrap();
    let (fmspc, ca) = unverified_pck_identity(&q).unwrap();
    assert_eq!(ca, PckCa::Platform);
    assert_eq!(
        registry.get(Platform::Azure).unwrap().collateral_need(&ev),
        CollateralNeed::TdxDcap { fmspc, ca }
    );
    // No quote: nothing to look up (verification names the missing quote).
    let mut az = evidence();
    az.td_quote = None;
    assert_eq!(
        registry
            .get(Platform::Azure)
            .unwrap()
            .collateral_need(&Evidence::Azure(az)),
        CollateralNeed::None
    );
}

#[test]
fn missing_or_foreign_collateral_is_named() {
    let r = verify(evidence(), &Collateral::default());
    assert_eq!(checks(&r), ["tdx_collateral"]);
    assert_eq!(r[0].observed.as_deref(), Some("none"));
    assert!(r[0].message.contains("no DCAP collateral"), "{r:?}");

    let foreign = Collateral {
        tdx: Some(Box::new(
            TdxCollateral::from_bundle_json(data!("tdx/dcap-qvl/tdx_quote_collateral.json"))
                .unwrap(),
        )),
        ..Collateral::default()
    };
    let r = verify(evidence(), &foreign);
    assert_eq!(checks(&r), ["tdx_collateral"], "{r:?}");
    assert!(r[0].message.contains("TCB Info FMSPC"), "{r:?}");
    assert_eq!(r[0].observed.as_deref(), Some("b0c06f000000"));
}

#[test]
fn evidence_of_the_wrong_shape_is_refused() {
    // A TDX HCL report without its TD quote.
    let mut az = evidence();
    az.td_quote = None;
    let r = verify(az, &Collateral::default());
    assert_eq!(checks(&r), ["azure_td_quote"]);
    assert_eq!(r[0].observed.as_deref(), Some("none"));
    // An SEV-SNP HCL report with a TD quote.
    let mut az = evidence();
    az.hcl_report = data!("azure/az-snp-vtpm/hcl-report.bin").to_vec();
    let r = verify(az, &Collateral::default());
    assert_eq!(checks(&r), ["azure_td_quote"]);
    // An HCL report of neither kind.
    let mut az = evidence();
    az.hcl_report[0x4C8] = 3;
    let r = verify(az, &Collateral::default());
    assert_eq!(checks(&r), ["azure_hcl"]);
    assert_eq!(r[0].observed.as_deref(), Some("3 (TVM_REPORT)"));
}

/// Claims as the seam makes them after DCAP (the TCB verdict is made up:
/// the real collateral is not available).
fn claims(status: TcbStatus) -> PlatformClaims {
    let q = Quote::parse(data!("azure/az-tdx-vtpm/td-quote.bin")).unwrap();
    let (fmspc, pck_ca) = unverified_pck_identity(&q).unwrap();
    let td = TdClaims::from(q.td_report().unwrap());
    PlatformClaims::Azure(Box::new(AzureClaims {
        tee: AzureTeeClaims::Tdx(Box::new(TdxClaims {
            version: 4,
            body_type: 2,
            td,
            fmspc,
            pce_id: [0; 2],
            pck_ca,
            pck_fingerprint: [0; 32],
            tcb: TcbVerdict {
                status,
                advisory_ids: vec![],
                platform_status: status,
                tcb_date: "2024-03-13T00:00:00Z".into(),
                tdx_module_status: None,
                qe_status: TcbStatus::UpToDate,
                tcb_evaluation_data_number: 17,
            },
            collateral_valid_until: 0,
            ccel_replayed: false,
            runtime_log_replayed: false,
        })),
        tpm: TpmClaims {
            pcrs: [(HashAlg::Sha256, [(0u32, hex::decode(PCR0).unwrap())].into())].into(),
            ..TpmClaims::default()
        },
        ak_fingerprint: String::new(),
    }))
}

fn policy(table: &str, pcr0: &str) -> Policy {
    Policy::parse(&format!(
        "version = 1\n[[reference]]\nname = \"cvm\"\nplatform = \"azure\"\n\
         [reference.pcrs.sha256]\n\"0\" = [\"{pcr0}\"]\n{table}\n\
         [[key]]\nid = \"k\"\nreferences = [\"cvm\"]\n"
    ))
    .unwrap()
}

/// An `azure` reference set with a `[reference.tdx]` table appraises the
/// TD quote's claims and the vTPM's PCRs; an SEV-SNP set never matches TDX
/// claims.
#[test]
fn azure_tdx_reference_sets_appraise_both_halves() {
    let tdx = format!("[reference.tdx]\nmrtd = [\"{MRTD}\"]");
    let good = policy(&tdx, PCR0);
    assert!(matches!(
        good.references[0].rule,
        ReferenceRule::AzureTdx { .. }
    ));
    assert_eq!(good.references[0].rule.platform(), Platform::Azure);
    assert_eq!(
        good.appraise(&claims(TcbStatus::UpToDate), None)
            .granted_keys,
        ["k"]
    );
    // The TCB status is judged by the tdx table (default UpToDate only).
    let a = good.appraise(&claims(TcbStatus::OutOfDate), None);
    assert!(a.granted_keys.is_empty());
    assert!(
        a.reasons.iter().any(|r| r.check == "tdx_tcb"),
        "{:?}",
        a.reasons
    );
    // Another MRTD, another PCR0.
    let a = policy(
        &format!("[reference.tdx]\nmrtd = [\"{}\"]", "00".repeat(48)),
        PCR0,
    )
    .appraise(&claims(TcbStatus::UpToDate), None);
    assert!(a.granted_keys.is_empty());
    assert!(
        a.reasons.iter().any(|r| r.check == "tdx_mrtd"),
        "{:?}",
        a.reasons
    );
    let a = policy(&tdx, &"11".repeat(32)).appraise(&claims(TcbStatus::UpToDate), None);
    assert!(
        a.reasons.iter().any(|r| r.check == "pcr_policy"),
        "{:?}",
        a.reasons
    );
    // An SEV-SNP azure set does not describe TDX hardware.
    let snp = Policy::parse(&format!(
        "version = 1\n[[reference]]\nname = \"cvm\"\nplatform = \"azure\"\n\
         [reference.snp]\nmeasurements = [\"{}\"]\n\
         [[key]]\nid = \"k\"\nreferences = [\"cvm\"]\n",
        "00".repeat(48)
    ))
    .unwrap()
    .appraise(&claims(TcbStatus::UpToDate), None);
    assert!(snp.granted_keys.is_empty());
    let r = snp.reasons.iter().find(|r| r.check == "azure_tee").unwrap();
    assert_eq!(r.expected.as_deref(), Some("SEV-SNP"));
    assert_eq!(r.observed.as_deref(), Some("TDX"));
    // Both tables, or none, is not a reference set.
    for bad in [
        format!(
            "{tdx}\n[reference.snp]\nmeasurements = [\"{}\"]",
            "00".repeat(48)
        ),
        String::new(),
    ] {
        let text =
            format!("version = 1\n[[reference]]\nname = \"cvm\"\nplatform = \"azure\"\n{bad}\n");
        assert!(Policy::parse(&text).is_err(), "{text}");
    }
}
