//! `sealbuild-verifier verify tdx` on the real DCAP vectors of
//! tests/data/tdx (test-data MANIFEST §2.1, §2.2, §2.8): verdicts, claims,
//! exit codes and both collateral forms.
// Test code: a failed unwrap, expect or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod cli_support;

use cli_support::{checks, s as p};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// dcap-qvl's time for its v4 sample.
const V4_AT: &str = "2025-07-19T10:00:34Z";

fn data(rel: &str) -> PathBuf {
    cli_support::data(&format!("tdx/{rel}"))
}

const VERIFY_TDX: &[&str] = &["verify", "tdx"];

/// Runs `verify tdx --quote QUOTE FLAG COLLATERAL REST…` (FLAG:
/// `--collateral` or `--collateral-dir`).
fn run_on(quote: &Path, flag: &str, collateral: &Path, rest: &[&str]) -> (i32, Value, String) {
    cli_support::run_files(VERIFY_TDX, &[("--quote", quote), (flag, collateral)], rest)
}

#[test]
fn dcap_qvl_v4_is_up_to_date_at_the_manifest_time() {
    let q = data("dcap-qvl/tdx_quote");
    let c = data("dcap-qvl/tdx_quote_collateral.json");
    let (code, v, out) = run_on(&q, "--collateral", &c, &["--at", V4_AT, "--json"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(v["verdict"], "accepted");
    assert_eq!(v["tcb_status"], "UpToDate");
    assert_eq!(v["advisory_ids"], serde_json::json!([]));
    assert_eq!(v["fmspc"], "b0c06f000000");
    assert_eq!(v["version"], 4);
    assert_eq!(v["mrtd"], "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7");
    assert_eq!(v["rtmr3"], "00".repeat(48));
    assert_eq!(v["tee_tcb_svn"], "06010300000000000000000000000000");
    for k in [
        "rtmr0",
        "rtmr1",
        "rtmr2",
        "report_data",
        "mr_seam",
        "td_attributes",
        "xfam",
        "mr_config_id",
    ] {
        assert!(v[k].is_string(), "{k}");
    }
    // Text output, and refused two seconds later (collateral expired).
    let (code, _, out) = run_on(&q, "--collateral", &c, &["--at", V4_AT]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("verdict: accepted"), "{out}");
    let (code, v, out) = run_on(
        &q,
        "--collateral",
        &c,
        &["--at", "2025-07-19T10:00:36Z", "--json"],
    );
    assert_eq!(code, 1, "{out}");
    assert_eq!(v["verdict"], "rejected");
}

/// The dcap-qvl bundle written out as raw PCS responses (the
/// `--collateral-dir` layout).
fn collateral_dir(dir: &Path) {
    let b: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data("dcap-qvl/tdx_quote_collateral.json")).unwrap())
            .unwrap();
    let s = |k: &str| b[k].as_str().unwrap().to_string();
    std::fs::create_dir_all(dir).unwrap();
    let w = |n: &str, c: String| std::fs::write(dir.join(n), c).unwrap();
    w(
        "tcbinfo.json",
        format!(
            "{{\"tcbInfo\":{},\"signature\":\"{}\"}}",
            s("tcb_info"),
            s("tcb_info_signature")
        ),
    );
    w("tcbinfo-issuer-chain.pem", s("tcb_info_issuer_chain"));
    w(
        "qeidentity.json",
        format!(
            "{{\"enclaveIdentity\":{},\"signature\":\"{}\"}}",
            s("qe_identity"),
            s("qe_identity_signature")
        ),
    );
    w("qeidentity-issuer-chain.pem", s("qe_identity_issuer_chain"));
    w("pckcrl.der", s("pck_crl"));
    w("pckcrl-issuer-chain.pem", s("pck_crl_issuer_chain"));
    w("rootcrl.der", s("root_ca_crl"));
}

#[test]
fn collateral_dir_of_pcs_responses() {
    let dir = std::env::temp_dir().join(format!("sealbuild-cli-tdx-{}", std::process::id()));
    collateral_dir(&dir);
    let q = data("dcap-qvl/tdx_quote");
    let (code, v, out) = run_on(&q, "--collateral-dir", &dir, &["--at", V4_AT, "--json"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(v["tcb_status"], "UpToDate");
    std::fs::remove_file(dir.join("rootcrl.der")).unwrap();
    let (code, _, out) = run_on(&q, "--collateral-dir", &dir, &["--at", V4_AT]);
    assert_eq!(code, 2, "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn dcap_qvl_v5_outdated_has_no_matching_tcb_level() {
    let q = data("dcap-qvl/tdx_quote_outdated");
    let c = data("dcap-qvl/tdx_quote_outdated_collateral.json");
    let (code, v, out) = run_on(
        &q,
        "--collateral",
        &c,
        &["--at", "2026-03-01T00:00:00Z", "--json"],
    );
    assert_eq!(code, 1, "{out}");
    assert_eq!(checks(&v), ["tdx_tcb"]);
    let msg = v["reasons"][0]["message"].as_str().unwrap();
    assert!(
        msg.contains("no SGX platform (PCK TCB) level matches"),
        "{msg}"
    );
    // Accepting every status does not help: no level matched at all.
    let (code, _, out) = run_on(
        &q,
        "--collateral",
        &c,
        &[
            "--at",
            "2026-03-01T00:00:00Z",
            "--accept-tcb-status",
            "UpToDate,OutOfDate,Revoked",
        ],
    );
    assert_eq!(code, 1, "{out}");
}

#[test]
fn policy_and_status_options() {
    let q = data("dcap-qvl/tdx_quote");
    let c = data("dcap-qvl/tdx_quote_collateral.json");
    let dir = std::env::temp_dir().join(format!("sealbuild-cli-tdx-pol-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pol = dir.join("p.toml");
    std::fs::write(
        &pol,
        "version = 1\n[[reference]]\nname = \"td\"\nplatform = \"tdx\"\n[reference.tdx]\n\
         mrtd = [\"91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7\"]\n\
         rtmr3 = [\"111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111\"]\n",
    )
    .unwrap();
    let (code, v, out) = run_on(
        &q,
        "--collateral",
        &c,
        &["--at", V4_AT, "--policy", p(&pol), "--json"],
    );
    assert_eq!(code, 1, "{out}");
    assert_eq!(checks(&v), ["tdx_rtmr"]);
    // Only OutOfDate accepted: the UpToDate quote is refused by status.
    let (code, v, out) = run_on(
        &q,
        "--collateral",
        &c,
        &["--at", V4_AT, "--accept-tcb-status", "OutOfDate", "--json"],
    );
    assert_eq!(code, 1, "{out}");
    assert_eq!(checks(&v), ["tdx_tcb"]);
    let (code, _, out) = run_on(&q, "--collateral", &c, &["--accept-tcb-status", "Fine"]);
    assert_eq!(code, 2, "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn trustee_debug_td_is_refused() {
    // No collateral in the test data verifies this 2023 quote end to end
    // (the TCB Info signing certificate of the kept chain is a 2025 issue),
    // so it is refused at DCAP with or without --allow-debug; the DEBUG rule
    // itself is tested on its claims in verifier/core/tests/tdx_policy.rs.
    let q = data("trustee/tdx_quote_4.dat");
    let c = data("dcap-qvl/tdx_quote_collateral.json");
    for extra in [None, Some("--allow-debug")] {
        let mut args = vec!["--at", V4_AT, "--json"];
        args.extend(extra);
        let (code, v, out) = run_on(&q, "--collateral", &c, &args);
        assert_eq!(code, 1, "{out}");
        assert_eq!(v["verdict"], "rejected");
        assert!(!checks(&v).is_empty());
    }
}

#[test]
fn malformed_quotes_and_missing_files() {
    let c = data("dcap-qvl/tdx_quote_collateral.json");
    let dir = std::env::temp_dir().join(format!("sealbuild-cli-tdx-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cut = dir.join("cut.dat");
    let q = std::fs::read(data("dcap-qvl/tdx_quote")).unwrap();
    std::fs::write(&cut, &q[..700]).unwrap();
    let (code, v, out) = run_on(&cut, "--collateral", &c, &["--at", V4_AT, "--json"]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(checks(&v), ["malformed_evidence"]);
    let missing = dir.join("nope.dat");
    let (code, _, out) = run_on(&missing, "--collateral", &c, &[]);
    assert_eq!(code, 2, "{out}");
    let (code, _, out) = cli_support::run_files(VERIFY_TDX, &[("--quote", &cut)], &[]);
    assert_eq!(code, 2, "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The service's path: the collateral store's `tdx/<fmspc>-<ca>` folder (the
/// same layout) is found for the quote's FMSPC and CA, and the seam's TDX
/// verifier gets past DCAP to the binding (a recorded quote cannot carry this
/// verifier's binding). Without the folder the refusal names the collateral.
#[test]
fn the_collateral_store_serves_tdx_collateral_to_the_service() {
    use sealbuild_common::api::{Evidence, TdxEvidence};
    use sealbuild_common::Platform;
    use sealbuild_verifier::collateral::store::CollateralStore;
    use sealbuild_verifier::evidence::gather_collateral;
    use sealbuild_verifier_core::platform::{Anchors, Registry, VerifyContext};

    let root = tempfile::tempdir().unwrap();
    let store = CollateralStore::open(root.path()).unwrap();
    let evidence = Evidence::Tdx(TdxEvidence {
        quote: std::fs::read(data("dcap-qvl/tdx_quote")).unwrap(),
        ccel: None,
        runtime_log: None,
    });
    let registry = Registry::new(&Anchors::default());
    let v = registry.get(Platform::Tdx).unwrap();
    let need = v.collateral_need(&evidence);
    let at = 1_752_919_234; // 2025-07-19T10:00:34Z
    let verify = |collateral: &sealbuild_verifier_core::platform::Collateral| {
        let reasons = v
            .verify(
                &evidence,
                &VerifyContext {
                    agent_id: "tdx:vm",
                    registered: None,
                    binding: &[7; 32],
                    statement_digest: None,
                    now: at,
                    collateral,
                },
            )
            .unwrap_err();
        reasons.iter().map(|r| r.check.clone()).collect::<Vec<_>>()
    };

    // Empty store: the verifier says which collateral it lacks.
    let none = gather_collateral(&need, Some(&store));
    assert!(none.tdx.is_none());
    assert_eq!(verify(&none), ["tdx_collateral"]);

    // The folder for the quote's FMSPC and CA.
    let sealbuild_verifier_core::platform::CollateralNeed::TdxDcap { fmspc, ca } = need else {
        panic!("{need:?}")
    };
    collateral_dir(&sealbuild_verifier::collateral::tdx::dir_for(
        root.path(),
        &fmspc,
        ca,
    ));
    let found = gather_collateral(&need, Some(&store));
    assert!(found.tdx.is_some());
    assert_eq!(verify(&found), ["tdx_binding"]);
}
