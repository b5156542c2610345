//! TDX evidence through the platform seam (`platform::TdxVerifier`) on the
//! real vectors of tests/data/tdx (test-data MANIFEST §2.1, §2.7): DCAP
//! verification at the vector's time, the REPORT_DATA binding, the CCEL
//! replay against RTMR0–2 and the runtime log against RTMR3.
// Test code: a failed unwrap, expect or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sealbuild_common::api::{Evidence, Reason, TdxEvidence};
use sealbuild_common::cel::{CelLog, RuntimeEvent};
use sealbuild_common::tdx::Quote;
use sealbuild_common::{HashAlg, Platform};
use sealbuild_verifier_core::claims::PlatformClaims;
use sealbuild_verifier_core::platform::{
    tdx_ccel_reasons, tdx_runtime_log_reasons, Anchors, Collateral, CollateralNeed, Enrolment,
    Registry, VerifyContext,
};
use sealbuild_verifier_core::tdx::{PckCa, TdClaims, TdxCollateral};

fn data(p: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../../tests/data/tdx/{p}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// 2025-07-19T10:00:34Z: dcap-qvl's time for its v4 sample.
const DCAP_V4_AT: u64 = 1_752_919_234;

fn evidence(quote: Vec<u8>) -> Evidence {
    Evidence::Tdx(TdxEvidence {
        quote,
        ccel: None,
        runtime_log: None,
    })
}

fn collateral() -> Collateral {
    Collateral {
        tdx: Some(Box::new(
            TdxCollateral::from_bundle_json(&data("dcap-qvl/tdx_quote_collateral.json")).unwrap(),
        )),
        ..Collateral::default()
    }
}

fn verify(ev: &Evidence, col: &Collateral, now: u64) -> Result<PlatformClaims, Vec<Reason>> {
    let registry = Registry::new(&Anchors::default());
    registry.get(Platform::Tdx).unwrap().verify(
        ev,
        &VerifyContext {
            agent_id: "tdx:test",
            registered: None,
            binding: &[7u8; 32],
            statement_digest: None,
            now,
            collateral: col,
        },
    )
}

fn checks(r: &[Reason]) -> Vec<&str> {
    r.iter().map(|r| r.check.as_str()).collect()
}

fn td_claims(quote: &[u8]) -> TdClaims {
    Quote::parse(quote).unwrap().td_report().unwrap().into()
}

#[test]
fn tdx_is_a_hardware_attester() {
    let registry = Registry::new(&Anchors::default());
    let v = registry.get(Platform::Tdx).unwrap();
    assert_eq!(v.enrolment(), Enrolment::Hardware);
    assert_eq!(registry.hardware_attester("tdx:vm"), Some(Platform::Tdx));
    let ev = evidence(data("dcap-qvl/tdx_quote"));
    assert_eq!(
        v.collateral_need(&ev),
        CollateralNeed::TdxDcap {
            fmspc: [0xb0, 0xc0, 0x6f, 0, 0, 0],
            ca: PckCa::Platform
        }
    );
    assert_eq!(
        v.collateral_need(&evidence(vec![1, 2])),
        CollateralNeed::None
    );
}

#[test]
fn dcap_qvl_v4_verifies_up_to_the_binding() {
    let q = data("dcap-qvl/tdx_quote");
    let err = verify(&evidence(q.clone()), &collateral(), DCAP_V4_AT).unwrap_err();
    assert_eq!(checks(&err), ["tdx_binding"], "{err:?}");
    let mut want = [0u8; 64];
    want[..32].copy_from_slice(&[7u8; 32]);
    assert_eq!(err[0].expected.as_deref(), Some(hex::encode(want).as_str()));
    assert_eq!(
        err[0].observed.as_deref(),
        Some(hex::encode(td_claims(&q).report_data).as_str())
    );
}

#[test]
fn dcap_qvl_v4_refused_after_its_collateral_expired() {
    let err = verify(
        &evidence(data("dcap-qvl/tdx_quote")),
        &collateral(),
        DCAP_V4_AT + 2,
    )
    .unwrap_err();
    assert_eq!(err.len(), 1, "{err:?}");
    assert!(
        ["tdx_crl", "tdx_collateral"].contains(&err[0].check.as_str()),
        "{err:?}"
    );
}

#[test]
fn missing_collateral_and_malformed_quotes_are_named() {
    let err = verify(
        &evidence(data("dcap-qvl/tdx_quote")),
        &Collateral::default(),
        DCAP_V4_AT,
    )
    .unwrap_err();
    assert_eq!(checks(&err), ["tdx_collateral"], "{err:?}");
    assert!(err[0].message.contains("b0c06f000000"), "{err:?}");
    let mut q = data("dcap-qvl/tdx_quote");
    q.truncate(600);
    let err = verify(&evidence(q.clone()), &Collateral::default(), DCAP_V4_AT).unwrap_err();
    assert_eq!(checks(&err), ["tdx_quote"], "{err:?}");
    let err = verify(&evidence(q), &collateral(), DCAP_V4_AT).unwrap_err();
    assert_eq!(checks(&err), ["tdx_quote"], "{err:?}");
}

#[test]
fn dcap_qvl_v5_outdated_has_no_matching_tcb_level() {
    let col = Collateral {
        tdx: Some(Box::new(
            TdxCollateral::from_bundle_json(&data("dcap-qvl/tdx_quote_outdated_collateral.json"))
                .unwrap(),
        )),
        ..Collateral::default()
    };
    // 2026-03-01T00:00:00Z.
    let err = verify(
        &evidence(data("dcap-qvl/tdx_quote_outdated")),
        &col,
        1_772_323_200,
    )
    .unwrap_err();
    assert_eq!(checks(&err), ["tdx_tcb"], "{err:?}");
    assert!(err[0].message.contains("no SGX platform"), "{err:?}");
    assert!(err[0].observed.is_some() && err[0].expected.is_some());
}

#[test]
fn go_tdx_guest_ccel_replays_to_its_quotes_rtmrs() {
    let td = td_claims(&data("go-tdx-guest/ccel/cos-113-tdx-quote.dat"));
    let area = data("go-tdx-guest/ccel/ccel_data.dat");
    assert!(tdx_ccel_reasons(&area, &td).is_empty());
}

#[test]
fn a_flipped_ccel_digest_names_the_rtmr_and_the_event() {
    let td = td_claims(&data("go-tdx-guest/ccel/cos-113-tdx-quote.dat"));
    let mut area = data("go-tdx-guest/ccel/ccel_data.dat");
    let log = sealbuild_common::eventlog::ccel::CcelLog::parse(&area).unwrap();
    // The last RTMR1 event's SHA-384 digest, found by its bytes.
    let ev = log.events().iter().rev().find(|e| e.pcr == 2).unwrap();
    let digest = ev.digest(HashAlg::Sha384).unwrap().to_vec();
    let at = area
        .windows(digest.len())
        .rposition(|w| w == digest.as_slice())
        .unwrap();
    area[at] ^= 1;
    let r = tdx_ccel_reasons(&area, &td);
    // The replay differs, and the event (an EV_EFI_ACTION, whose digest is
    // the hash of its data) no longer matches its own data.
    assert_eq!(checks(&r), ["tdx_ccel", "tdx_ccel"], "{r:?}");
    assert!(r[0].message.contains("RTMR1"), "{r:?}");
    assert!(r[0].message.contains("(event "), "{r:?}");
    assert!(
        r[1].message
            .contains("(EV_EFI_ACTION, RTMR1): the sha384 digest is not the hash"),
        "{r:?}"
    );
    assert_eq!(
        r[0].expected.as_deref(),
        Some(hex::encode(td.rtmr1).as_str())
    );
    // Not a CCEL at all.
    let r = tdx_ccel_reasons(&[1, 2, 3], &td);
    assert_eq!(checks(&r), ["tdx_ccel"], "{r:?}");
}

#[test]
fn runtime_log_replays_into_rtmr3() {
    let statement = [9u8; 32];
    let mut log = CelLog::new();
    log.push(
        3,
        &RuntimeEvent::source("git+https://example.invalid/r@abc"),
        &[HashAlg::Sha384],
    )
    .unwrap();
    log.push(3, &RuntimeEvent::statement(&statement), &[HashAlg::Sha384])
        .unwrap();
    let rtmr3: [u8; 48] = log.replay(HashAlg::Sha384)[&3].clone().try_into().unwrap();
    let json = log.to_json();
    assert!(tdx_runtime_log_reasons(Some(&json), &rtmr3, Some(statement)).is_empty());
    // Another statement bound, a different RTMR3, no log for a statement.
    let r = tdx_runtime_log_reasons(Some(&json), &rtmr3, Some([1; 32]));
    assert_eq!(checks(&r), ["tdx_runtime_log"]);
    let r = tdx_runtime_log_reasons(Some(&json), &[0; 48], Some(statement));
    assert_eq!(checks(&r), ["tdx_runtime_log"]);
    assert_eq!(r[0].observed.as_deref(), Some(hex::encode(rtmr3).as_str()));
    let r = tdx_runtime_log_reasons(None, &[0; 48], Some(statement));
    assert_eq!(checks(&r), ["tdx_runtime_log"]);
    assert!(tdx_runtime_log_reasons(None, &[0; 48], None).is_empty());
    // A record for another register.
    let mut other = CelLog::new();
    other
        .push(23, &RuntimeEvent::source("x"), &[HashAlg::Sha384])
        .unwrap();
    let r = tdx_runtime_log_reasons(Some(&other.to_json()), &[0; 48], None);
    assert!(checks(&r).iter().all(|c| *c == "tdx_runtime_log") && !r.is_empty());
}
