//! The platform seam (`sealbuild_verifier_core::platform`): the registry
//! maps every platform to its verifier and enrolment rule, and Azure
//! evidence (the real MANIFEST §1.9 vector: hcl-report.bin, vcek.pem,
//! tpm-quote-v1.json) goes through it like any other platform.
//!
//! The real quote's qualifying data is Azure's 9-byte "challenge", not a
//! sealbuild binding, so through the seam the whole chain (HCL report, AMD
//! roots, VCEK, variable-data binding, HCL AK, quote signature) must verify
//! and the quote then be refused at exactly the `binding` check; with
//! tampered parts it must fail earlier, at the check that names the part.
// Test code: a failed unwrap, expect or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use sealbuild_common::api::{
    AzureEvidence, Evidence, SnpCertKind, SnpCertificate, SnpEvidence, TpmEvidence,
};
use sealbuild_common::Platform;
use sealbuild_verifier_core::platform::{
    Anchors, Collateral, CollateralNeed, Enrolment, Registry, VerifyContext,
};
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

/// 2025-06-01T00:00:00Z, inside every certificate's validity (see
/// tests/azure_snp.rs).
const JUNE_2025: u64 = 1_748_736_000;

fn first_pem_cert(pem: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(pem).unwrap();
    let body: String = text
        .split("-----BEGIN CERTIFICATE-----")
        .nth(1)
        .unwrap()
        .split("-----END CERTIFICATE-----")
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

fn azure_evidence() -> AzureEvidence {
    let q: serde_json::Value =
        serde_json::from_slice(data!("azure/az-snp-vtpm/tpm-quote-v1.json")).unwrap();
    let raw_sig = hex::decode(q["signature"].as_str().unwrap()).unwrap();
    // TPMT_SIGNATURE: TPM_ALG_RSASSA, TPM_ALG_SHA256, TPM2B signature.
    let mut signature = vec![0x00, 0x14, 0x00, 0x0b];
    signature.extend_from_slice(&u16::try_from(raw_sig.len()).unwrap().to_be_bytes());
    signature.extend_from_slice(&raw_sig);
    let pcrs: BTreeMap<u32, String> = q["pcrs"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, v)| (u32::try_from(i).unwrap(), v.as_str().unwrap().to_string()))
        .collect();
    AzureEvidence {
        hcl_report: data!("azure/az-snp-vtpm/hcl-report.bin").to_vec(),
        certificates: vec![SnpCertificate {
            kind: SnpCertKind::Vcek,
            der: first_pem_cert(data!("azure/az-snp-vtpm/vcek.pem")),
        }],
        td_quote: None,
        tpm: TpmEvidence {
            quote: hex::decode(q["message"].as_str().unwrap()).unwrap(),
            signature,
            pcrs: BTreeMap::from([("sha256".to_string(), pcrs)]),
            event_log: None,
            runtime_log: None,
        },
    }
}

fn verify(ev: &Evidence, now: u64) -> Result<(), Vec<sealbuild_common::api::Reason>> {
    let registry = Registry::new(&Anchors::default());
    let v = registry.get(ev.platform()).map_err(|r| vec![r])?;
    v.verify(
        ev,
        &VerifyContext {
            agent_id: "azure:test",
            registered: None,
            binding: &[7u8; 32],
            statement_digest: None,
            now,
            collateral: &Collateral::default(),
        },
    )
    .map(|_| ())
}

fn checks(r: &[sealbuild_common::api::Reason]) -> Vec<&str> {
    r.iter().map(|r| r.check.as_str()).collect()
}

#[test]
fn every_platform_has_one_verifier_and_an_enrolment_rule() {
    let registry = Registry::new(&Anchors::default());
    for p in Platform::ALL {
        assert_eq!(registry.get(p).unwrap().platform(), p);
    }
    assert_eq!(
        registry.get(Platform::Tpm).unwrap().enrolment(),
        Enrolment::Registration
    );
    assert_eq!(
        registry.get(Platform::Snp).unwrap().enrolment(),
        Enrolment::Hardware
    );
    assert_eq!(
        registry.get(Platform::Azure).unwrap().enrolment(),
        Enrolment::Hardware
    );
    assert_eq!(
        registry.get(Platform::Tdx).unwrap().enrolment(),
        Enrolment::Hardware
    );
    assert_eq!(registry.hardware_attester("snp:vm"), Some(Platform::Snp));
    assert_eq!(registry.hardware_attester("tdx:vm"), Some(Platform::Tdx));
    assert_eq!(
        registry.hardware_attester("azure:vm"),
        Some(Platform::Azure)
    );
    // A TPM "tpm:x" id is not hardware-vouched: TPM attesters register.
    assert_eq!(registry.hardware_attester("tpm:x"), None);
    assert_eq!(registry.enrolment_of("000b12ab"), Enrolment::Registration);
    assert_eq!(registry.enrolment_of("azure:vm"), Enrolment::Hardware);
}

#[test]
fn evidence_of_another_platform_is_refused_by_name() {
    let registry = Registry::new(&Anchors::default());
    let snp = Evidence::Snp(SnpEvidence {
        report: vec![0; 16],
        certificates: vec![],
    });
    let err = registry
        .get(Platform::Azure)
        .unwrap()
        .verify(
            &snp,
            &VerifyContext {
                agent_id: "azure:x",
                registered: None,
                binding: &[0; 32],
                statement_digest: None,
                now: JUNE_2025,
                collateral: &Collateral::default(),
            },
        )
        .unwrap_err();
    assert_eq!(checks(&err), ["platform"]);
}

#[test]
fn tpm_evidence_without_a_registered_agent_is_refused() {
    let ev = Evidence::Tpm(azure_evidence().tpm);
    let err = verify(&ev, JUNE_2025).unwrap_err();
    assert_eq!(checks(&err), ["agent"], "{err:?}");
}

#[test]
fn real_azure_evidence_verifies_up_to_the_sealbuild_binding() {
    let ev = Evidence::Azure(azure_evidence());
    let registry = Registry::new(&Anchors::default());
    let v = registry.get(Platform::Azure).unwrap();
    // The edge is asked for the VCEK of the embedded report.
    assert!(matches!(
        v.collateral_need(&ev),
        CollateralNeed::SnpEndorsement(_)
    ));
    let err = verify(&ev, JUNE_2025).unwrap_err();
    assert_eq!(checks(&err), ["binding"], "{err:?}");
    // The quote carried Azure's nonce: the reason shows it.
    assert_eq!(
        err[0].observed.as_deref(),
        Some(hex::encode(b"challenge").as_str())
    );
}

#[test]
fn tampered_azure_evidence_fails_at_the_check_that_names_it() {
    // A byte of the SNP report's MEASUREMENT inside the HCL report (the
    // report starts at 0x20; MEASUREMENT at 0x90 of the report).
    let mut ev = azure_evidence();
    ev.hcl_report[0x20 + 0x90] ^= 1;
    let err = verify(&Evidence::Azure(ev), JUNE_2025).unwrap_err();
    assert_eq!(checks(&err), ["snp_signature"], "{err:?}");

    // The variable data (the AK), no longer what REPORT_DATA binds.
    let mut ev = azure_evidence();
    let last = ev.hcl_report.iter().rposition(|b| *b == b'}').unwrap();
    ev.hcl_report[last - 1] ^= 1;
    let err = verify(&Evidence::Azure(ev), JUNE_2025).unwrap_err();
    assert_eq!(checks(&err), ["azure_binding"], "{err:?}");

    // The quote: its signature by the HCL AK breaks.
    let mut ev = azure_evidence();
    let n = ev.tpm.quote.len();
    ev.tpm.quote[n - 1] ^= 1;
    let err = verify(&Evidence::Azure(ev), JUNE_2025).unwrap_err();
    assert_eq!(checks(&err), ["quote_signature"], "{err:?}");

    // No VCEK anywhere.
    let mut ev = azure_evidence();
    ev.certificates.clear();
    let err = verify(&Evidence::Azure(ev), JUNE_2025).unwrap_err();
    assert_eq!(checks(&err), ["snp_endorsement_key"], "{err:?}");

    // After the VCEK expired (2030-05-02; 1_950_000_000 is 2031-10-17).
    let err = verify(&Evidence::Azure(azure_evidence()), 1_950_000_000).unwrap_err();
    assert_eq!(checks(&err), ["snp_chain"], "{err:?}");

    // Not an HCL report.
    let mut ev = azure_evidence();
    ev.hcl_report.truncate(100);
    let err = verify(&Evidence::Azure(ev), JUNE_2025).unwrap_err();
    assert_eq!(checks(&err), ["azure_hcl"], "{err:?}");
}

/// An `azure` reference set is one rule with both halves: the paravisor's
/// SEV-SNP report and the vTPM's PCRs; each half alone can refuse.
#[test]
fn azure_reference_sets_appraise_both_halves() {
    use sealbuild_verifier_core::azure::HclReport;
    use sealbuild_verifier_core::claims::{AzureClaims, AzureTeeClaims, PlatformClaims, TpmClaims};
    use sealbuild_verifier_core::policy::{Appraiser, Policy, ReferenceRule};
    use sealbuild_verifier_core::snp::{verify_snp, AmdRoots, SnpInput};
    let ev = azure_evidence();
    let hcl = HclReport::parse(&ev.hcl_report).unwrap();
    let roots = AmdRoots::builtin();
    let snp = verify_snp(&SnpInput {
        report: hcl.snp_report_bytes(),
        endorsement_keys: &[&ev.certificates[0].der],
        roots: &roots,
        crls: &[],
        expected_product: None,
        expected_report_data: None,
        at_unix_secs: JUNE_2025,
    })
    .unwrap();
    let pcr0 = hex::decode(&ev.tpm.pcrs["sha256"][&0]).unwrap();
    let claims = PlatformClaims::Azure(Box::new(AzureClaims {
        tee: AzureTeeClaims::Snp(Box::new(snp.clone())),
        tpm: TpmClaims {
            pcrs: [(
                sealbuild_common::HashAlg::Sha256,
                [(0u32, pcr0.clone())].into(),
            )]
            .into(),
            ..TpmClaims::default()
        },
        ak_fingerprint: String::new(),
    }));
    let policy = |measurement: &str, pcr0: &str| {
        Policy::parse(&format!(
            "version = 1\n[[reference]]\nname = \"cvm\"\nplatform = \"azure\"\n\
             [reference.pcrs.sha256]\n\"0\" = [\"{pcr0}\"]\n\
             [reference.snp]\nmeasurements = [\"{measurement}\"]\n\
             [[key]]\nid = \"k\"\nreferences = [\"cvm\"]\n"
        ))
        .unwrap()
    };
    let m = hex::encode(snp.report.measurement);
    let good = policy(&m, &hex::encode(&pcr0));
    assert!(matches!(
        good.references[0].rule,
        ReferenceRule::Azure { .. }
    ));
    assert_eq!(good.appraise(&claims, None).granted_keys, ["k"]);
    let other_m = policy(&"00".repeat(48), &hex::encode(&pcr0)).appraise(&claims, None);
    assert!(other_m.granted_keys.is_empty());
    assert!(
        other_m.reasons.iter().any(|r| r.check == "snp_measurement"),
        "{:?}",
        other_m.reasons
    );
    let other_pcr = policy(&m, &"11".repeat(32)).appraise(&claims, None);
    assert!(other_pcr.granted_keys.is_empty());
    assert!(
        other_pcr.reasons.iter().any(|r| r.check == "pcr_policy"),
        "{:?}",
        other_pcr.reasons
    );
    // An azure set needs its snp table, and has no EK roots.
    assert!(
        Policy::parse("version = 1\n[[reference]]\nname = \"x\"\nplatform = \"azure\"\n").is_err()
    );
}
