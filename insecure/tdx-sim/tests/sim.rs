//! The simulator's quotes and collateral run through the real DCAP
//! verification (`sealbuild_verifier_core::tdx`) with the test root, and are
//! refused by a verifier that trusts only Intel's root.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use sealbuild_common::eventlog::ccel::{all_rtmrs, CcelLog};
use sealbuild_common::tdx::{Quote, TD_ATTR_DEBUG};
use sealbuild_insecure_tdx_sim::collateral::{self, OUT_OF_DATE_ADVISORY, VALIDITY_SECS};
use sealbuild_insecure_tdx_sim::{
    InsecureSimulatedTdx, SimConfig, FMSPC, PCE_ID, PCE_SVN, PCK_DER, ROOT_DER, SGX_COMPONENTS,
    TEE_TCB_SVN_OUT_OF_DATE,
};
use sealbuild_verifier_core::tdx::{
    verify_quote, verify_quote_with_root, IntelRoot, PckCa, PckExtensions, PcsResponses,
    QuoteClaims, TcbStatus, TdxCollateral, TdxError,
};

/// 2026-12-01T00:00:00Z.
const NOW: u64 = 1_796_083_200;

fn root() -> IntelRoot {
    IntelRoot::insecure_test(ROOT_DER)
}

fn bundle(now: u64) -> TdxCollateral {
    let c = collateral::collateral(now).unwrap();
    TdxCollateral::from_bundle_json(&c.bundle_json()).unwrap()
}

fn rd(b: u8) -> [u8; 64] {
    [b; 64]
}

#[test]
fn quote_verifies_up_to_date_with_the_test_root() {
    let sim = InsecureSimulatedTdx::new(SimConfig::default()).unwrap();
    let rtmr3 = [7u8; 48];
    let quote = sim.quote(&rd(0xab), &rtmr3).unwrap();
    let v = verify_quote_with_root(&quote, &bundle(NOW), &root(), NOW).unwrap();
    assert_eq!(v.tcb.status, TcbStatus::UpToDate);
    assert!(v.tcb.advisory_ids.is_empty());
    assert_eq!(v.fmspc, FMSPC);
    assert_eq!(v.pce_id, PCE_ID);
    assert_eq!(v.pck_ca, PckCa::Platform);
    assert_eq!(v.version, 4);
    let QuoteClaims::Td(td) = &v.claims else {
        panic!("a TD quote")
    };
    assert_eq!(td.report_data, rd(0xab));
    assert_eq!(td.mrtd, sealbuild_insecure_tdx_sim::default_mrtd());
    assert_eq!(td.rtmr3, rtmr3);
    assert_eq!(td.mr_seam, sealbuild_insecure_tdx_sim::mr_seam());
    assert!(!td.debug);
    let [r0, r1, r2] = sim.boot_rtmrs();
    assert_eq!((td.rtmr0, td.rtmr1, td.rtmr2), (r0, r1, r2));
    // The collateral is good for 30 days from its issue.
    assert!(v.collateral_valid_until <= NOW + VALIDITY_SECS);
    assert!(v.collateral_valid_until > NOW + VALIDITY_SECS - 60);
}

#[test]
fn the_pcs_file_layout_verifies_as_well() {
    let sim = InsecureSimulatedTdx::new(SimConfig::default()).unwrap();
    let quote = sim.quote(&rd(1), &[0; 48]).unwrap();
    let files = collateral::collateral(NOW).unwrap().pcs_files();
    let get = |n: &str| files.iter().find(|(f, _)| *f == n).unwrap().1.as_slice();
    let col = TdxCollateral::from_pcs_responses(&PcsResponses {
        tcb_info: get("tcbinfo.json"),
        tcb_info_issuer_chain: get("tcbinfo-issuer-chain.pem"),
        qe_identity: get("qeidentity.json"),
        qe_identity_issuer_chain: get("qeidentity-issuer-chain.pem"),
        pck_crl: get("pckcrl.der"),
        pck_crl_issuer_chain: Some(get("pckcrl-issuer-chain.pem")),
        root_ca_crl: get("rootcrl.der"),
    })
    .unwrap();
    assert_eq!(col, bundle_from_same(&files));
    let v = verify_quote_with_root(&quote, &col, &root(), NOW).unwrap();
    assert_eq!(v.tcb.status, TcbStatus::UpToDate);
    assert_eq!(collateral::store_subdir(), "tdx/5ea1b1000000-platform");
}

/// The bundle form of the same signed documents (same bytes, same signatures).
fn bundle_from_same(files: &[(&str, Vec<u8>)]) -> TdxCollateral {
    let get = |n: &str| files.iter().find(|(f, _)| *f == n).unwrap().1.clone();
    let tcb: serde_json::Value = serde_json::from_slice(&get("tcbinfo.json")).unwrap();
    let qe: serde_json::Value = serde_json::from_slice(&get("qeidentity.json")).unwrap();
    let body = |v: &serde_json::Value, k: &str| {
        // serde_json keeps insertion order and the compact form the simulator signed.
        serde_json::to_string(&v[k]).unwrap()
    };
    let json = serde_json::json!({
        "pck_crl_issuer_chain": String::from_utf8(get("pckcrl-issuer-chain.pem")).unwrap(),
        "root_ca_crl": hex::encode(get("rootcrl.der")),
        "pck_crl": hex::encode(get("pckcrl.der")),
        "tcb_info_issuer_chain": String::from_utf8(get("tcbinfo-issuer-chain.pem")).unwrap(),
        "tcb_info": body(&tcb, "tcbInfo"),
        "tcb_info_signature": tcb["signature"],
        "qe_identity_issuer_chain": String::from_utf8(get("qeidentity-issuer-chain.pem")).unwrap(),
        "qe_identity": body(&qe, "enclaveIdentity"),
        "qe_identity_signature": qe["signature"],
    });
    TdxCollateral::from_bundle_json(json.to_string().as_bytes()).unwrap()
}

#[test]
fn intel_root_refuses_everything_simulated() {
    let sim = InsecureSimulatedTdx::new(SimConfig::default()).unwrap();
    let quote = sim.quote(&rd(2), &[0; 48]).unwrap();
    let e = verify_quote(&quote, &bundle(NOW), NOW).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("Intel SGX Root CA"), "{msg}");
    assert!(!IntelRoot::builtin().is_insecure_test());
    assert!(root().is_insecure_test());
}

#[test]
fn out_of_date_module_and_debug_td_are_what_they_claim() {
    let sim = InsecureSimulatedTdx::new(SimConfig {
        tee_tcb_svn: TEE_TCB_SVN_OUT_OF_DATE,
        td_attributes: TD_ATTR_DEBUG,
        ..SimConfig::default()
    })
    .unwrap();
    let quote = sim.quote(&rd(3), &[0; 48]).unwrap();
    let v = verify_quote_with_root(&quote, &bundle(NOW), &root(), NOW).unwrap();
    assert_eq!(v.tcb.status, TcbStatus::OutOfDate);
    assert_eq!(v.tcb.advisory_ids, vec![OUT_OF_DATE_ADVISORY.to_string()]);
    assert!(v.check_status(&[TcbStatus::UpToDate]).is_err());
    let QuoteClaims::Td(td) = &v.claims else {
        panic!("a TD quote")
    };
    assert!(td.debug);
}

#[test]
fn expired_or_future_collateral_is_refused() {
    let sim = InsecureSimulatedTdx::new(SimConfig::default()).unwrap();
    let quote = sim.quote(&rd(4), &[0; 48]).unwrap();
    let col = bundle(NOW);
    let late = NOW + VALIDITY_SECS + 1;
    assert!(verify_quote_with_root(&quote, &col, &root(), late).is_err());
    let early = NOW - 7200;
    assert!(verify_quote_with_root(&quote, &col, &root(), early).is_err());
}

#[test]
fn every_flipped_byte_of_the_signed_quote_or_its_signatures_fails() {
    let sim = InsecureSimulatedTdx::new(SimConfig::default()).unwrap();
    let quote = sim.quote(&rd(5), &[0; 48]).unwrap();
    let col = bundle(NOW);
    let parsed = Quote::parse(&quote).unwrap();
    let signed = parsed.signed_bytes().len();
    // Header and body, the quote signature, the attestation key, the QE
    // report and its signature, the QE authentication data.
    let mut offsets: Vec<usize> = (0..signed).step_by(7).collect();
    offsets.extend(signed + 4..signed + 4 + 128);
    offsets.extend((signed + 4 + 128 + 6..signed + 4 + 128 + 6 + 384 + 64 + 2 + 32).step_by(3));
    for off in offsets {
        let mut q = quote.clone();
        q[off] ^= 0x01;
        assert!(
            verify_quote_with_root(&q, &col, &root(), NOW).is_err(),
            "a flipped byte at {off} was accepted"
        );
    }
}

#[test]
fn forged_collateral_is_refused() {
    let sim = InsecureSimulatedTdx::new(SimConfig::default()).unwrap();
    let quote = sim.quote(&rd(6), &[0; 48]).unwrap();
    let c = collateral::collateral(NOW).unwrap();
    let mut forged = c.clone();
    forged.tcb_info = forged.tcb_info.replace("\"UpToDate\"", "\"UpToDate\" ");
    let col = TdxCollateral::from_bundle_json(&forged.bundle_json()).unwrap();
    let e = verify_quote_with_root(&quote, &col, &root(), NOW).unwrap_err();
    assert!(matches!(e, TdxError::CollateralSignature { .. }), "{e}");
}

#[test]
fn ccel_replays_to_the_quoted_rtmrs() {
    let sim = InsecureSimulatedTdx::new(SimConfig::default()).unwrap();
    let quote = Quote::parse(&sim.quote(&rd(7), &[9; 48]).unwrap()).unwrap();
    let td = quote.td_report().unwrap();
    let log = CcelLog::parse(sim.ccel()).unwrap();
    let mut quoted = all_rtmrs(td.rtmr);
    // RTMR3 is the runtime log's, not the firmware's.
    quoted.retain(|r, _| r.index() < 3);
    assert!(log.compare_rtmrs(&quoted).is_empty());
    assert_eq!(
        log.events().len(),
        4,
        "four events after the Spec ID header"
    );
}

#[test]
fn pck_certificate_carries_the_simulated_platform() {
    let ext = PckExtensions::from_der(PCK_DER).unwrap();
    assert_eq!(ext.fmspc, FMSPC);
    assert_eq!(ext.pce_id, PCE_ID);
    assert_eq!(ext.pce_svn, PCE_SVN);
    assert_eq!(ext.sgx_components, SGX_COMPONENTS);
}

#[test]
fn rfc3339_dates() {
    assert_eq!(collateral::rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(collateral::rfc3339(NOW), "2026-12-01T00:00:00Z");
    assert_eq!(collateral::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(collateral::rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
}

#[test]
fn the_dcap_cache_gives_the_full_paths_verdicts() {
    use sealbuild_verifier_core::tdx::DcapCache;
    let cache = DcapCache::default();
    let col = bundle(NOW);
    let sim = InsecureSimulatedTdx::new(SimConfig::default()).unwrap();
    for i in 0..4u8 {
        let q = sim.quote(&rd(i), &[i; 48]).unwrap();
        let cached = cache.verify(&q, &col, &root(), NOW + u64::from(i)).unwrap();
        let full = verify_quote_with_root(&q, &col, &root(), NOW + u64::from(i)).unwrap();
        assert_eq!(cached.claims, full.claims);
        assert_eq!(cached.tcb, full.tcb);
        assert_eq!(cached.collateral_valid_until, full.collateral_valid_until);
    }
    assert_eq!(cache.len(), (1, 1), "one collateral set, one PCK chain");

    // Another TD on the same platform shares the entries.
    let other = InsecureSimulatedTdx::new(SimConfig {
        tee_tcb_svn: TEE_TCB_SVN_OUT_OF_DATE,
        ..SimConfig::default()
    })
    .unwrap();
    let q = other.quote(&rd(9), &[0; 48]).unwrap();
    let v = cache.verify(&q, &col, &root(), NOW).unwrap();
    assert_eq!(v.tcb.status, TcbStatus::OutOfDate);
    assert_eq!(cache.len(), (1, 1));

    // Refusals read exactly as without the cache: a flipped body byte, a
    // time past the collateral's window, Intel's root.
    let good = sim.quote(&rd(1), &[0; 48]).unwrap();
    let mut bad = good.clone();
    bad[200] ^= 1;
    let late = NOW + VALIDITY_SECS + 1;
    for (q, at, r) in [
        (&bad, NOW, root()),
        (&good, late, root()),
        (&good, NOW, IntelRoot::builtin()),
    ] {
        let cached = cache.verify(q, &col, &r, at).unwrap_err().to_string();
        let full = verify_quote_with_root(q, &col, &r, at)
            .unwrap_err()
            .to_string();
        assert_eq!(cached, full);
    }

    // The entries the late time found stale were dropped; nothing the
    // untrusted root saw was kept.
    assert_eq!(cache.len(), (0, 0));

    // New collateral (another issue time) is cached again.
    let col2 = bundle(NOW + 60);
    cache.verify(&good, &col2, &root(), NOW + 60).unwrap();
    cache.verify(&good, &col, &root(), NOW + 60).unwrap();
    assert_eq!(
        cache.len(),
        (2, 2),
        "two collateral sets, the chain with each"
    );
}
