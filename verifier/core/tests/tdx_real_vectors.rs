//! DCAP quote verification against the real TDX/SGX vectors of
//! tests/data/tdx (see tests/data/NOTICE.md and the test-data MANIFEST §2).
// Test code: a failed unwrap, expect or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sealbuild_common::tdx::Quote;
use sealbuild_verifier_core::ekcert::crl::{verify_crl, CrlError};
use sealbuild_verifier_core::ekcert::EkCertError;
use sealbuild_verifier_core::tdx::tcbinfo::{PckTcb, QeIdentity, TcbInfo};
use sealbuild_verifier_core::tdx::{
    appraise_tcb, module, verify_quote, verify_quote_signatures, IntelRoot, PcsResponses,
    QuoteClaims, TcbStatus, TdxCollateral, TdxError, DEFAULT_ACCEPTED,
};

fn data(p: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../../tests/data/tdx/{p}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn hex_file(p: &str) -> Vec<u8> {
    let t = String::from_utf8(data(p)).unwrap();
    let t = t.trim();
    hex::decode(t.strip_prefix("0x").unwrap_or(t)).unwrap()
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

/// 2025-07-19T10:00:34Z: dcap-qvl's time for its v4 sample (min nextUpdate − 1 s).
const DCAP_V4_AT: u64 = 1_752_919_234;
/// 2025-07-19T10:01:17Z: the same for its SGX sample.
const DCAP_SGX_AT: u64 = 1_752_919_277;
/// 2026-03-01T00:00:00Z, inside the "outdated" collateral's window.
const MARCH_2026: u64 = 1_772_323_200;
/// 2023-07-01T01:00:00Z: go-tdx-guest's verification time.
const JULY_2023: u64 = 1_688_173_200;
/// 2053-07-01T00:00:00Z: after the PCK chain expired.
const YEAR_2053: u64 = 2_634_940_800;
/// 2026-02-03T01:00:00Z: go-tdx-guest's time for its v5 sample.
const FEB_2026: u64 = 1_770_080_400;
/// 2025-11-01T00:00:00Z: inside trustee's TCB Info / QE Identity windows.
const NOV_2025: u64 = 1_761_955_200;

fn root() -> IntelRoot {
    IntelRoot::builtin()
}

fn bundle(p: &str) -> TdxCollateral {
    TdxCollateral::from_bundle_json(&data(p)).unwrap()
}

/// The go-tdx-guest SPR quote without the 39 bytes its authors appended for
/// a test ("\nextra bytes(only for testing purpose)\n"): see
/// `spr_quote_file_refused_for_its_non_zero_trailer`.
fn spr() -> Vec<u8> {
    data("go-tdx-guest/tdx_prod_quote_SPR_E4.dat")[..4935].to_vec()
}

/// The TCB Info issuer chain (Intel SGX TCB Signing ‖ Root CA) of a dcap-qvl
/// bundle, as PEM (what PCS sends in the issuer-chain headers).
fn signing_chain_pem(bundle_path: &str) -> String {
    bundle(bundle_path)
        .tcb_info
        .issuer_chain
        .iter()
        .map(|d| der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, d).unwrap())
        .collect()
}

/// Collateral from raw PCS response files, with `chain` as both issuer
/// chains.
fn pcs(tcb: &str, qe: &str, chain: &str, pck_crl: &str, root_crl: &str) -> TdxCollateral {
    let (tcb, qe, pck, rootcrl) = (data(tcb), data(qe), data(pck_crl), data(root_crl));
    TdxCollateral::from_pcs_responses(&PcsResponses {
        tcb_info: &tcb,
        tcb_info_issuer_chain: chain.as_bytes(),
        qe_identity: &qe,
        qe_identity_issuer_chain: chain.as_bytes(),
        pck_crl: &pck,
        pck_crl_issuer_chain: None,
        root_ca_crl: &rootcrl,
    })
    .unwrap()
}

/// The go-tdx-guest 2023 PCS responses; their issuer chains (HTTP headers
/// upstream) are the Intel SGX TCB Signing chain of the dcap-qvl bundle.
fn go_tdx_guest_collateral() -> TdxCollateral {
    pcs(
        "go-tdx-guest/sample_tcbInfo_response",
        "go-tdx-guest/sample_qeIdentity_response",
        &signing_chain_pem("dcap-qvl/tdx_quote_collateral.json"),
        "go-tdx-guest/pckcrl",
        "go-tdx-guest/rootcrl.der",
    )
}

/// Verifies both documents' chains and signatures at `at` (no CRL) and
/// parses them.
fn checked_docs(c: &TdxCollateral, at: u64) -> (TcbInfo, QeIdentity) {
    c.tcb_info
        .verify("TCB Info", root().der(), None, at)
        .unwrap();
    c.qe_identity
        .verify("QE Identity", root().der(), None, at)
        .unwrap();
    (
        c.tcb_info.parse("TCB Info").unwrap(),
        c.qe_identity.parse("QE Identity").unwrap(),
    )
}

fn td(v: &sealbuild_verifier_core::tdx::TdxVerified) -> &sealbuild_verifier_core::tdx::TdClaims {
    match &v.claims {
        QuoteClaims::Td(t) => t,
        QuoteClaims::Sgx(_) => panic!("not a TD quote"),
    }
}

#[test]
fn dcap_qvl_v4_up_to_date() {
    // MANIFEST §2.1 / §5.5.
    let c = bundle("dcap-qvl/tdx_quote_collateral.json");
    let v = verify_quote(&data("dcap-qvl/tdx_quote"), &c, DCAP_V4_AT).unwrap();
    assert_eq!(v.tcb.status, TcbStatus::UpToDate);
    assert!(v.tcb.advisory_ids.is_empty());
    assert_eq!(v.tcb.qe_status, TcbStatus::UpToDate);
    assert_eq!(v.tcb.tdx_module_status, Some(TcbStatus::UpToDate));
    assert_eq!(v.tcb.tcb_evaluation_data_number, 17);
    assert_eq!((v.version, v.body_type), (4, 2));
    assert_eq!(v.fmspc.to_vec(), h("b0c06f000000"));
    assert_eq!(v.pce_id, [0, 0]);
    assert_eq!(v.pck_ca.as_str(), "platform");
    let t = td(&v);
    assert_eq!(t.mrtd.to_vec(), h("91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7"));
    assert_eq!(t.rtmr2.to_vec(), h("d833feef2cd945148aa38ead2c53e9b7f138190aaaebfc551dccd829fc207aa3ba80b70870d7330733642e01d48c3132"));
    assert_eq!(t.rtmr3, [0; 48]);
    assert_eq!(
        t.tee_tcb_svn.to_vec(),
        h("06010300000000000000000000000000")
    );
    assert_eq!(t.mr_seam.to_vec(), h("5b38e33a6487958b72c3c12a938eaa5e3fd4510c51aeeab58c7d5ecee41d7c436489d6c8e4f92f160b7cad34207b00c1"));
    assert!(!t.debug);
    assert_eq!((t.tee_tcb_svn2, t.mr_service_td), (None, None));
    v.check_status(&DEFAULT_ACCEPTED).unwrap();
    // The collateral is valid until 2025-07-19T10:00:35Z.
    assert_eq!(v.collateral_valid_until, DCAP_V4_AT + 1);
}

#[test]
fn dcap_qvl_v4_refused_outside_its_collateral_window() {
    let c = bundle("dcap-qvl/tdx_quote_collateral.json");
    let q = data("dcap-qvl/tdx_quote");
    assert!(verify_quote(&q, &c, DCAP_V4_AT + 1).is_ok());
    let e = verify_quote(&q, &c, DCAP_V4_AT + 2).unwrap_err();
    assert!(
        matches!(
            e,
            TdxError::Crl(CrlError::NotCurrent { .. }) | TdxError::NotCurrent { .. }
        ),
        "{e}"
    );
    // Before the QE Identity was issued (2025-06-19T10:32:27Z).
    let e = verify_quote(&q, &c, 1_750_329_146).unwrap_err();
    assert!(
        matches!(
            e,
            TdxError::NotCurrent {
                what: "QE Identity",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn dcap_qvl_v4_forced_out_of_date_levels() {
    // dcap-qvl tests/verify_tcb_override.rs: every level OutOfDate → OutOfDate.
    let c = bundle("dcap-qvl/tdx_quote_collateral.json");
    let v = verify_quote_signatures(&data("dcap-qvl/tdx_quote"), &root(), DCAP_V4_AT).unwrap();
    let mut info: TcbInfo = c.tcb_info.parse("TCB Info").unwrap();
    for l in &mut info.tcb_levels {
        l.tcb_status = "OutOfDate".into();
    }
    let qe: QeIdentity = c.qe_identity.parse("QE Identity").unwrap();
    let verdict = appraise_tcb(&v, &info, &qe).unwrap();
    assert_eq!(verdict.status, TcbStatus::OutOfDate);
    // And a module level OutOfDate lowers an UpToDate platform.
    let mut info: TcbInfo = c.tcb_info.parse("TCB Info").unwrap();
    for m in info.tdx_module_identities.as_mut().unwrap() {
        for l in &mut m.tcb_levels {
            l.tcb_status = "OutOfDate".into();
        }
    }
    assert_eq!(
        appraise_tcb(&v, &info, &qe).unwrap().status,
        TcbStatus::OutOfDate
    );
}

#[test]
fn dcap_qvl_v5_outdated_has_no_matching_tcb_level() {
    // MANIFEST §2.2 / §5.7: SEAMLDR ACM SVN (SGX component 8) 3 < 5.
    let c = bundle("dcap-qvl/tdx_quote_outdated_collateral.json");
    let q = data("dcap-qvl/tdx_quote_outdated");
    let e = verify_quote(&q, &c, MARCH_2026).unwrap_err();
    match &e {
        TdxError::NoMatchingTcbLevel { what, seen, .. } => {
            assert_eq!(*what, "SGX platform (PCK TCB)");
            assert!(
                seen.starts_with("SGX components 03030202040100030000000000000000, PCESVN 13"),
                "{seen}"
            );
        }
        other => panic!("{other}"),
    }
    assert!(e.to_string().starts_with("TCB level not supported"), "{e}");
    assert_eq!(sealbuild_verifier_core::tdx::check_name(&e), "tdx_tcb");
    // Everything before the TCB levels verified: at dcap-qvl's time too.
    assert!(matches!(
        verify_quote(&q, &c, 1_774_003_274),
        Err(TdxError::NoMatchingTcbLevel { .. })
    ));
    let v = verify_quote_signatures(&q, &root(), MARCH_2026).unwrap();
    assert_eq!(v.pck_ext.fmspc.to_vec(), h("90c06f000000"));
    assert_eq!(v.pck_ext.pce_svn, 13);
}

#[test]
fn dcap_qvl_sgx_v3() {
    // MANIFEST §2.3 / §5.6.
    let c = bundle("dcap-qvl/sgx_quote_collateral.json");
    let v = verify_quote(&data("dcap-qvl/sgx_quote"), &c, DCAP_SGX_AT).unwrap();
    assert_eq!(v.tcb.status, TcbStatus::ConfigurationAndSWHardeningNeeded);
    assert_eq!(v.tcb.advisory_ids, ["INTEL-SA-00289", "INTEL-SA-00615"]);
    assert_eq!((v.version, v.body_type), (3, 1));
    assert_eq!(v.pck_ca.as_str(), "processor");
    assert_eq!(v.fmspc.to_vec(), h("00a067110000"));
    let QuoteClaims::Sgx(s) = &v.claims else {
        panic!()
    };
    assert_eq!(
        s.mr_enclave.to_vec(),
        h("33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb")
    );
    assert!(!s.debug);
    let e = v.check_status(&DEFAULT_ACCEPTED).unwrap_err();
    assert!(matches!(e, TdxError::StatusNotAccepted { .. }), "{e}");
    v.check_status(&[TcbStatus::ConfigurationAndSWHardeningNeeded])
        .unwrap();
    // A TDX collateral set does not appraise an SGX quote.
    let tdx = bundle("dcap-qvl/tdx_quote_collateral.json");
    assert!(verify_quote(&data("dcap-qvl/sgx_quote"), &tdx, DCAP_V4_AT).is_err());
}

#[test]
fn dcap_qvl_hex_quotes_have_no_matching_level() {
    // MANIFEST §2.4 [computed]: SEAMLDR ACM SVN 3 < 5 against the v4 collateral.
    let c = bundle("dcap-qvl/tdx_quote_collateral.json");
    for (f, mrtd) in [
        ("dcap-qvl/tdx-quote.hex", "7ba9e262ce6979087e34632603f354dd8f8a870f5947d116af8114db6c9d0d74c48bec4280e5b4f4a37025a10905bb29"),
        ("dcap-qvl/quote-from-tappd.hex", "c68518a0ebb42136c12b2275164f8c72f25fa9a34392228687ed6e9caeb9c0f1dbd895e9cf475121c029dc47e70e91fd"),
    ] {
        let q = hex_file(f);
        let v = verify_quote_signatures(&q, &root(), DCAP_V4_AT).unwrap();
        assert_eq!(v.quote.td_report().unwrap().mr_td.to_vec(), h(mrtd));
        assert_eq!(v.pck_ext.fmspc.to_vec(), h("b0c06f000000"));
        let e = verify_quote(&q, &c, DCAP_V4_AT).unwrap_err();
        assert!(matches!(e, TdxError::NoMatchingTcbLevel { .. }), "{f}: {e}");
    }
}

#[test]
fn go_tdx_guest_spr_without_collateral() {
    // MANIFEST §2.5: valid at 2023-07-01, the PCK chain expired by 2053.
    let v = verify_quote_signatures(&spr(), &root(), JULY_2023).unwrap();
    assert_eq!(v.pck_ext.fmspc.to_vec(), h("50806f000000"));
    assert_eq!(v.pck_ext.sgx_components[..8], [3, 3, 2, 2, 2, 1, 0, 2]);
    let t = v.quote.td_report().unwrap();
    assert_eq!(t.rtmr[1].to_vec(), h("2c700b8ba9b85783f8be9fb9443647bdc0bb3c50747f06297cc6538c25a5f589c4b56d035c59107c6bc5800db2cacb61"));
    let e = verify_quote_signatures(&spr(), &root(), YEAR_2053).unwrap_err();
    assert!(e.to_string().contains("expired"), "{e}");
}

#[test]
fn spr_quote_file_refused_for_its_non_zero_trailer() {
    // go-tdx-guest appended 39 non-zero bytes to test that its parser
    // ignores them; sealbuild accepts zero padding only.
    let e = verify_quote_signatures(
        &data("go-tdx-guest/tdx_prod_quote_SPR_E4.dat"),
        &root(),
        JULY_2023,
    )
    .unwrap_err();
    assert!(matches!(e, TdxError::Format(_)), "{e}");
    assert!(e.to_string().contains("39 trailing bytes"), "{e}");
}

/// The go-tdx-guest 2023 collateral, verified as far as the test data
/// allows: the TCB Info / QE Identity signatures verify with the Intel SGX
/// TCB Signing certificate of the dcap-qvl bundle — a 2025 re-issue of the
/// same key, not valid before 2025-05-06, so its chain is checked at
/// 2025-07-19 (the 2023 issuer-chain headers were not kept upstream); the
/// documents' windows and both CRLs are checked at 2023-07-01.
fn checked_2023_collateral() -> (TdxCollateral, TcbInfo, QeIdentity) {
    let c = go_tdx_guest_collateral();
    let e = c
        .tcb_info
        .verify("TCB Info", root().der(), None, JULY_2023)
        .unwrap_err();
    assert!(
        matches!(
            e,
            TdxError::Chain {
                source: EkCertError::NotYetValid { .. },
                ..
            }
        ),
        "{e}"
    );
    let (info, qe) = checked_docs(&c, DCAP_V4_AT);
    let at = "2023-07-01T01:00:00Z";
    assert!(info.issue_date.as_str() <= at && at <= info.next_update.as_str());
    assert!(qe.issue_date.as_str() <= at && at <= qe.next_update.as_str());
    verify_crl(&c.root_ca_crl, root().der(), JULY_2023, "root CA CRL").unwrap();
    // In 2053 the CRL is stale.
    assert!(matches!(
        verify_crl(&c.root_ca_crl, root().der(), YEAR_2053, "root CA CRL"),
        Err(CrlError::NotCurrent { .. })
    ));
    assert!(at < "2053" && info.next_update.as_str() < "2053");
    (c, info, qe)
}

/// Signatures, PCK chain and both CRLs of a quote at 2023-07-01, then the
/// TCB appraisal with the 2023 documents.
fn appraise_2023(quote: &[u8]) -> Result<sealbuild_verifier_core::tdx::TcbVerdict, TdxError> {
    let (c, info, qe) = checked_2023_collateral();
    let v = verify_quote_signatures(quote, &root(), JULY_2023).unwrap();
    let root_crl = verify_crl(&c.root_ca_crl, root().der(), JULY_2023, "root CA CRL").unwrap();
    root_crl.check_not_revoked(&v.pck.issuer_der).unwrap();
    let pck_crl = verify_crl(&c.pck_crl, &v.pck.issuer_der, JULY_2023, "PCK CRL").unwrap();
    pck_crl.check_not_revoked(&v.pck.der).unwrap();
    appraise_tcb(&v, &info, &qe)
}

#[test]
fn go_tdx_guest_collateral_2023() {
    // MANIFEST §2.5: the collateral verifies for 2023-07-01 and is stale in
    // 2053; the SPR quote's TCB matches no level (PCK SGX components below
    // every level's, TEE_TCB_SVN[2] = 4 < 5).
    let e = appraise_2023(&spr()).unwrap_err();
    assert!(matches!(e, TdxError::NoMatchingTcbLevel { .. }), "{e}");
    // The full path at 2023-07-01 stops at the 2025 signing certificate.
    let e = verify_quote(&spr(), &go_tdx_guest_collateral(), JULY_2023).unwrap_err();
    assert!(
        matches!(
            e,
            TdxError::Chain {
                what: "TCB Info",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn trustee_debug_td_up_to_date_with_2023_collateral() {
    // MANIFEST §2.8 tdx_quote_4.dat [computed]: UpToDate with go-tdx-guest's
    // collateral (same FMSPC); its TD is DEBUG, which the claims show.
    let q = data("trustee/tdx_quote_4.dat");
    let verdict = appraise_2023(&q).unwrap();
    assert_eq!(verdict.status, TcbStatus::UpToDate);
    assert_eq!(verdict.tcb_date, "2023-02-15T00:00:00Z");
    assert_eq!(verdict.qe_status, TcbStatus::UpToDate);
    let v = verify_quote_signatures(&q, &root(), JULY_2023).unwrap();
    let t: sealbuild_verifier_core::tdx::TdClaims = v.quote.td_report().unwrap().into();
    assert!(t.debug);
    assert_eq!(t.td_attributes.to_vec(), h("0100001000000000"));
    assert_eq!(t.mrtd.to_vec(), h("705ee9381b8633a9fbe532b52345e8433343d2868959f57889d84ca377c395b689cac1599ccea1b7d420483a9ce5f031"));
    assert_eq!(t.rtmr0.to_vec(), h("e940da7c2712d2790e2961e00484f4fa8e6f9eed71361655ae22699476b14f9e63867eb41edd4b480fef0c59f496b288"));
    assert_eq!(t.report_data.to_vec(), h("7c71fe2c86eff65a7cf8dbc22b3275689fd0464a267baced1bf94fc1324656aeb755da3d44d098c0c87382f3a5f85b45c8a28fee1d3bdb38342bf96671501429"));
}

#[test]
fn trustee_v5_service_td_no_matching_level() {
    // MANIFEST §2.8 tdx_quote_5.dat [computed]: vs the "outdated" collateral
    // (same FMSPC) no platform level matches.
    let q = data("trustee/tdx_quote_5.dat");
    let c = bundle("dcap-qvl/tdx_quote_outdated_collateral.json");
    let e = verify_quote(&q, &c, MARCH_2026).unwrap_err();
    assert!(matches!(e, TdxError::NoMatchingTcbLevel { .. }), "{e}");
    let v = verify_quote_signatures(&q, &root(), MARCH_2026).unwrap();
    assert_eq!(v.pck_ext.sgx_components[..8], [1, 1, 2, 2, 3, 1, 0, 3]);
    assert_eq!(v.quote.body.body_type(), 3);
}

#[test]
fn trustee_v4_config_id_out_of_date() {
    // MANIFEST §2.8 tdx_quote_6.dat [computed] at 2025-11-01: QE UpToDate,
    // platform OutOfDate (PCESVN 11 < 13), module TDX_03 UpToDate. No CRLs
    // exist for that window, so the documents are verified without them.
    let q = data("trustee/tdx_quote_6.dat");
    let v = verify_quote_signatures(&q, &root(), NOV_2025).unwrap();
    assert_eq!(v.pck_ext.fmspc.to_vec(), h("00a06d080000"));
    let c = pcs(
        "trustee/tcbInfo.json",
        "trustee/enclaveIdentity.json",
        &signing_chain_pem("dcap-qvl/tdx_quote_collateral.json"),
        "go-tdx-guest/rootcrl.der",
        "go-tdx-guest/rootcrl.der",
    );
    let (info, qe) = checked_docs(&c, NOV_2025);
    assert_eq!(
        (info.id.as_str(), info.version, qe.id.as_str(), qe.version),
        ("TDX", 3, "TD_QE", 2)
    );
    let verdict = appraise_tcb(&v, &info, &qe).unwrap();
    assert_eq!(verdict.platform_status, TcbStatus::OutOfDate);
    assert_eq!(verdict.tcb_date, "2018-01-04T00:00:00Z");
    assert_eq!(verdict.tdx_module_status, Some(TcbStatus::UpToDate));
    assert_eq!(verdict.qe_status, TcbStatus::UpToDate);
    assert_eq!(verdict.status, TcbStatus::OutOfDate);
    // The 2023 root CRL is not current in 2025: the full path refuses.
    assert!(matches!(
        verify_quote(&q, &c, NOV_2025),
        Err(TdxError::Crl(CrlError::NotCurrent { .. }))
    ));
}

#[test]
fn go_tdx_guest_v5_against_its_tcb_info() {
    // MANIFEST §2.6: signatures valid at 2026-02-03; the body matches the v5
    // TCB Info: platform UpToDate (2024-11-13), module TDX_01 UpToDate.
    let q = data("go-tdx-guest/quote_v5_sample.dat");
    let v = verify_quote_signatures(&q, &root(), FEB_2026).unwrap();
    assert_eq!(v.pck_ext.sgx_components[..8], [4, 4, 2, 2, 4, 1, 0, 5]);
    assert_eq!(v.pck_ext.pce_svn, 13);
    let body = data("go-tdx-guest/sample_tcbinfo_response_v5");
    let resp: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let info: TcbInfo = serde_json::from_value(resp["tcbInfo"].clone()).unwrap();
    let td = v.quote.td_report().unwrap();
    let pck = PckTcb {
        sgx_components: v.pck_ext.sgx_components,
        pce_svn: v.pck_ext.pce_svn,
    };
    let level = info.match_platform(&pck, Some(&td.tee_tcb_svn)).unwrap();
    assert_eq!(
        (level.status, level.tcb_date.as_str()),
        (TcbStatus::UpToDate, "2024-11-13T00:00:00Z")
    );
    let m = module::check_tdx_module(&info, td).unwrap().unwrap();
    assert_eq!(m.status, TcbStatus::UpToDate);
    // Its signature verifies with the Intel TCB signing chain.
    let c = pcs(
        "go-tdx-guest/sample_tcbinfo_response_v5",
        "go-tdx-guest/sample_qeIdentity_response",
        &signing_chain_pem("dcap-qvl/tdx_quote_outdated_collateral.json"),
        "go-tdx-guest/rootcrl.der",
        "go-tdx-guest/rootcrl.der",
    );
    c.tcb_info
        .verify("TCB Info", root().der(), None, FEB_2026)
        .unwrap();
}

#[test]
fn trustee_sgx_occlum_signatures() {
    // MANIFEST §2.8 occlum_quote.dat: no collateral; signatures and chain.
    let v = verify_quote_signatures(&data("trustee/occlum_quote.dat"), &root(), JULY_2023).unwrap();
    assert_eq!(v.pck_ext.fmspc.to_vec(), h("00606a000000"));
    assert_eq!(v.pck_ca.as_str(), "platform");
}

/// MANIFEST §2.5 negative edits (go-tdx-guest `TestNegativeVerification`),
/// each on a fresh copy of the SPR quote, and the check that refuses it.
#[test]
fn go_tdx_guest_negative_edits() {
    let cases: [(usize, u8, &str); 8] = [
        (0x00, 3, "quote format (version 3 cannot be TDX)"),
        (0x278, 0x10, "declared signature-data size"),
        (0x1343, 0x32, "PCK chain (PEM)"),
        (0x1329, 0x32, "root certificate of the PCK chain"),
        (0xF5F, 0x32, "intermediate CA signature (by the root)"),
        (0xB77, 0x32, "PCK leaf signature (by the intermediate)"),
        (0x1E, 0x32, "quote signature (header)"),
        (0x3C, 0x32, "quote signature (body)"),
    ];
    for (at, val, why) in cases {
        let mut q = spr();
        q[at] = val;
        let e = verify_quote_signatures(&q, &root(), JULY_2023).unwrap_err();
        let ok = match at {
            0x00 | 0x278 => matches!(e, TdxError::Format(_)),
            0x1E | 0x3C => matches!(e, TdxError::QuoteSignature { .. }),
            0x1329 => matches!(
                e,
                TdxError::Mismatch {
                    check: "PCK chain",
                    ..
                }
            ),
            0xF5F => matches!(
                &e,
                TdxError::Chain { what: "PCK", source: EkCertError::BadSignature { cert, .. } }
                    if cert.contains("PCK Platform CA")
            ),
            _ => matches!(
                e,
                TdxError::Collateral { what: "PCK", .. } | TdxError::Chain { what: "PCK", .. }
            ),
        };
        assert!(ok, "{at:#x} ({why}): {e}");
    }
}

/// Every valid quote with the time its PCK chain is valid at.
fn valid_quotes() -> Vec<(&'static str, Vec<u8>, u64)> {
    vec![
        ("dcap-qvl v4", data("dcap-qvl/tdx_quote"), DCAP_V4_AT),
        (
            "dcap-qvl v5",
            data("dcap-qvl/tdx_quote_outdated"),
            MARCH_2026,
        ),
        ("dcap-qvl sgx", data("dcap-qvl/sgx_quote"), DCAP_SGX_AT),
        ("go-tdx-guest spr", spr(), JULY_2023),
        (
            "go-tdx-guest v5",
            data("go-tdx-guest/quote_v5_sample.dat"),
            FEB_2026,
        ),
        ("trustee 4", data("trustee/tdx_quote_4.dat"), JULY_2023),
        ("trustee 5", data("trustee/tdx_quote_5.dat"), MARCH_2026),
        ("trustee 6", data("trustee/tdx_quote_6.dat"), NOV_2025),
        ("occlum", data("trustee/occlum_quote.dat"), JULY_2023),
    ]
}

#[test]
fn single_byte_flips_of_signed_bytes_and_signatures_fail() {
    for (name, q, at) in valid_quotes() {
        let parsed = Quote::parse(&q).unwrap();
        verify_quote_signatures(&q, &root(), at).unwrap_or_else(|e| panic!("{name}: {e}"));
        let signed = parsed.signed_bytes().len();
        let sig = signed + 4; // quote signature, then attestation key
        let qe_off = if parsed.header.version == 3 {
            sig + 128
        } else {
            sig + 128 + 6
        };
        let auth_len = parsed.signature_data.qe.qe_auth_data.len();
        let mut offsets: Vec<usize> = (0..signed).step_by(5).collect();
        offsets.extend(sig..sig + 128); // signature r‖s and attestation key
        offsets.extend((qe_off..qe_off + 384).step_by(3)); // QE report
        offsets.extend(qe_off + 384..qe_off + 448); // QE report signature
        offsets.extend(qe_off + 450..qe_off + 450 + auth_len); // QE auth data
        for off in offsets {
            let mut m = q.clone();
            m[off] ^= 0x01;
            assert!(
                verify_quote_signatures(&m, &root(), at).is_err(),
                "{name}: flipping byte {off:#x} was accepted"
            );
        }
    }
}

#[test]
fn full_verification_refuses_flips_too() {
    let c = bundle("dcap-qvl/tdx_quote_collateral.json");
    let q = data("dcap-qvl/tdx_quote");
    for off in (0..q.len() - 70).step_by(97) {
        let mut m = q.clone();
        m[off] ^= 0x80;
        assert!(verify_quote(&m, &c, DCAP_V4_AT).is_err(), "{off:#x}");
    }
}

#[test]
fn tampered_collateral_refused() {
    let q = data("dcap-qvl/tdx_quote");
    let base = bundle("dcap-qvl/tdx_quote_collateral.json");
    // The signed TCB Info, one byte changed (UpToDate → UpToDatf).
    let mut c = base.clone();
    let at = c
        .tcb_info
        .body
        .windows(8)
        .position(|w| w == b"UpToDate")
        .unwrap();
    c.tcb_info.body[at + 7] = b'f';
    assert!(matches!(
        verify_quote(&q, &c, DCAP_V4_AT),
        Err(TdxError::CollateralSignature {
            what: "TCB Info",
            ..
        })
    ));
    let mut c = base.clone();
    c.qe_identity.signature[10] ^= 1;
    assert!(matches!(
        verify_quote(&q, &c, DCAP_V4_AT),
        Err(TdxError::CollateralSignature {
            what: "QE Identity",
            ..
        })
    ));
    // TCB Info of another FMSPC (the SGX quote's).
    let mut c = base.clone();
    c.tcb_info = bundle("dcap-qvl/sgx_quote_collateral.json").tcb_info;
    assert!(verify_quote(&q, &c, DCAP_V4_AT).is_err());
    // A CRL from the wrong issuer: the root CA CRL where the PCK CRL goes.
    let mut c = base.clone();
    c.pck_crl = c.root_ca_crl.clone();
    assert!(matches!(
        verify_quote(&q, &c, DCAP_V4_AT),
        Err(TdxError::Crl(CrlError::Issuer { .. }))
    ));
    // A PCK chain (it ends in the root too) as the TCB Info signer.
    let mut c = base.clone();
    let pck_chain = sealbuild_verifier_core::tdx::pck::pem_chain(
        "PCK",
        &Quote::parse(&q)
            .unwrap()
            .signature_data
            .qe
            .pck_cert_data
            .data,
    )
    .unwrap();
    assert_eq!(pck_chain.len(), 3);
    c.tcb_info.issuer_chain = pck_chain;
    let e = verify_quote(&q, &c, DCAP_V4_AT).unwrap_err();
    assert!(
        matches!(&e, TdxError::Mismatch { check: "TCB Info", got, .. } if got.contains("PCK Certificate")),
        "{e}"
    );
    // An issuer chain that does not end in the root.
    let mut c = base;
    c.tcb_info.issuer_chain.pop();
    assert!(matches!(
        verify_quote(&q, &c, DCAP_V4_AT),
        Err(TdxError::Mismatch {
            check: "TCB Info",
            ..
        })
    ));
}

#[test]
fn pcs_response_bodies_parse_and_verify() {
    // The raw PCS bodies: the signed value is cut out byte for byte.
    let c = go_tdx_guest_collateral();
    let body = data("go-tdx-guest/sample_tcbInfo_response");
    assert!(body.starts_with(b"{\"tcbInfo\":"));
    assert_eq!(
        &body[11..11 + c.tcb_info.body.len()],
        c.tcb_info.body.as_slice()
    );
    // A URL-encoded header value gives the same chain.
    let pem: String = c
        .tcb_info
        .issuer_chain
        .iter()
        .map(|d| der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, d).unwrap())
        .collect();
    let encoded: String = pem
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let (tcb, qe, pck, rootcrl) = (
        data("go-tdx-guest/sample_tcbInfo_response"),
        data("go-tdx-guest/sample_qeIdentity_response"),
        data("go-tdx-guest/pckcrl"),
        data("go-tdx-guest/rootcrl.der"),
    );
    let c2 = TdxCollateral::from_pcs_responses(&PcsResponses {
        tcb_info: &tcb,
        tcb_info_issuer_chain: encoded.as_bytes(),
        qe_identity: &qe,
        qe_identity_issuer_chain: encoded.as_bytes(),
        pck_crl: &pck,
        pck_crl_issuer_chain: Some(encoded.as_bytes()),
        root_ca_crl: &hex::encode(&rootcrl).into_bytes(),
    })
    .unwrap();
    assert_eq!(c2.tcb_info, c.tcb_info);
    assert_eq!(c2.root_ca_crl, c.root_ca_crl);
}

#[test]
fn malformed_collateral_refused() {
    for bad in [&b"{}"[..], b"not json", b"{\"tcb_info\": 1}"] {
        assert!(matches!(
            TdxCollateral::from_bundle_json(bad),
            Err(TdxError::Collateral { .. })
        ));
    }
    let mut v: serde_json::Value =
        serde_json::from_slice(&data("dcap-qvl/tdx_quote_collateral.json")).unwrap();
    v["tcb_info_signature"] = "00".into();
    assert!(TdxCollateral::from_bundle_json(v.to_string().as_bytes()).is_err());
}

#[test]
fn trustee_claims_oracle() {
    // trustee's parse_tdx_claims_expected.json renders tdx_quote_4.dat's
    // header and body; our claims must agree field by field.
    let want: serde_json::Value =
        serde_json::from_slice(&data("trustee/parse_tdx_claims_expected.json")).unwrap();
    let q = Quote::parse(&data("trustee/tdx_quote_4.dat")).unwrap();
    let t: sealbuild_verifier_core::tdx::TdClaims = q.td_report().unwrap().into();
    let body = &want["quote"]["body"];
    let fields: [(&str, &[u8]); 15] = [
        ("mr_config_id", &t.mr_config_id),
        ("mr_owner", &t.mr_owner),
        ("mr_owner_config", &t.mr_owner_config),
        ("mr_seam", &t.mr_seam),
        ("mr_td", &t.mrtd),
        ("mrsigner_seam", &t.mr_signer_seam),
        ("report_data", &t.report_data),
        ("rtmr_0", &t.rtmr0),
        ("rtmr_1", &t.rtmr1),
        ("rtmr_2", &t.rtmr2),
        ("rtmr_3", &t.rtmr3),
        ("seam_attributes", &t.seam_attributes),
        ("tcb_svn", &t.tee_tcb_svn),
        ("td_attributes", &t.td_attributes),
        ("xfam", &t.xfam),
    ];
    for (name, value) in fields {
        assert_eq!(body[name].as_str().unwrap(), hex::encode(value), "{name}");
    }
    let header = &want["quote"]["header"];
    assert_eq!(
        header["vendor_id"].as_str().unwrap(),
        hex::encode(q.header.qe_vendor_id)
    );
    assert_eq!(
        header["user_data"].as_str().unwrap(),
        hex::encode(q.header.user_data)
    );
    assert_eq!(
        header["version"].as_str().unwrap(),
        hex::encode(q.header.version.to_le_bytes())
    );
    assert_eq!(want["td_attributes"]["debug"], true);
    assert!(t.debug);
    assert_eq!(want["td_attributes"]["septve_disable"], true);
}
