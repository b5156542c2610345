//! `[reference.tdx]` policies appraising TDX claims. trustee's debug TD
//! (tests/data/tdx/trustee/tdx_quote_4.dat, test-data MANIFEST §2.8) is
//! UpToDate with go-tdx-guest's 2023 collateral (tdx_real_vectors.rs), but
//! its REPORT_DATA is not a sealbuild binding, so its claims are built here
//! from the parsed quote with that verdict.
// Test code: a failed unwrap, expect or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sealbuild_common::tdx::Quote;
use sealbuild_verifier_core::claims::{PlatformClaims, TdxClaims};
use sealbuild_verifier_core::policy::{Appraiser, Policy, ReferenceRule};
use sealbuild_verifier_core::tdx::{PckCa, TcbStatus, TcbVerdict};

fn data(p: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../../tests/data/tdx/{p}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn claims(status: TcbStatus) -> TdxClaims {
    let q = Quote::parse(&data("trustee/tdx_quote_4.dat")).unwrap();
    TdxClaims {
        version: q.header.version,
        body_type: q.body.body_type(),
        td: q.td_report().unwrap().into(),
        fmspc: [0; 6],
        pce_id: [0; 2],
        pck_ca: PckCa::Platform,
        pck_fingerprint: [0; 32],
        tcb: TcbVerdict {
            status,
            advisory_ids: vec!["INTEL-SA-00837".into()],
            platform_status: status,
            tcb_date: "2023-02-15T00:00:00Z".into(),
            tdx_module_status: Some(status),
            qe_status: TcbStatus::UpToDate,
            tcb_evaluation_data_number: 15,
        },
        collateral_valid_until: 0,
        ccel_replayed: false,
        runtime_log_replayed: false,
    }
}

fn policy(table: &str) -> Policy {
    Policy::parse(&format!(
        "version = 1\n[[reference]]\nname = \"td\"\nplatform = \"tdx\"\n\
         [reference.tdx]\n{table}\n[[key]]\nid = \"k\"\nreferences = [\"td\"]\n"
    ))
    .unwrap()
}

fn checks(p: &Policy, c: &TdxClaims) -> (Vec<String>, Vec<String>) {
    let a = p.appraise(&PlatformClaims::Tdx(Box::new(c.clone())), None);
    (
        a.granted_keys,
        a.reasons.into_iter().map(|r| r.check).collect(),
    )
}

#[test]
fn debug_td_refused_by_default_and_accepted_when_allowed() {
    let c = claims(TcbStatus::UpToDate);
    assert!(c.td.debug);
    let p = policy("any_mrtd = true");
    let a = p.appraise(&PlatformClaims::Tdx(Box::new(c.clone())), None);
    assert!(a.granted_keys.is_empty());
    assert_eq!(a.reasons.len(), 1, "{:?}", a.reasons);
    assert_eq!(a.reasons[0].check, "tdx_debug");
    assert_eq!(a.reasons[0].expected.as_deref(), Some("DEBUG = 0"));
    assert!(a.reasons[0]
        .observed
        .as_deref()
        .unwrap()
        .contains("0100001000000000"));
    let p = policy("any_mrtd = true\nallow_debug = true");
    assert_eq!(checks(&p, &c), (vec!["k".to_string()], vec![]));
}

#[test]
fn tcb_status_defaults_to_up_to_date() {
    let c = claims(TcbStatus::OutOfDate);
    let p = policy("any_mrtd = true\nallow_debug = true");
    let a = p.appraise(&PlatformClaims::Tdx(Box::new(c.clone())), None);
    assert_eq!(a.reasons.len(), 1);
    assert_eq!(a.reasons[0].check, "tdx_tcb");
    assert_eq!(a.reasons[0].expected.as_deref(), Some("UpToDate"));
    assert_eq!(a.reasons[0].observed.as_deref(), Some("OutOfDate"));
    assert!(a.reasons[0].message.contains("INTEL-SA-00837"));
    let p =
        policy("any_mrtd = true\nallow_debug = true\ntcb_statuses = [\"UpToDate\", \"OutOfDate\"]");
    assert_eq!(checks(&p, &c).0, ["k"]);
}

#[test]
fn measurements_must_match() {
    let c = claims(TcbStatus::UpToDate);
    let t = &c.td;
    let good = format!(
        "allow_debug = true\nmrtd = [\"{}\"]\nrtmr0 = [\"{}\"]\nrtmr3 = [\"{}\"]\n\
         xfam = [\"{}\"]\nmr_seam = [\"{}\"]\nmr_config_id = [\"{}\"]\n\
         mr_owner = [\"{}\"]\nmr_owner_config = [\"{}\"]",
        hex::encode(t.mrtd),
        hex::encode(t.rtmr0),
        hex::encode(t.rtmr3),
        hex::encode(t.xfam),
        hex::encode(t.mr_seam),
        hex::encode(t.mr_config_id),
        hex::encode(t.mr_owner),
        hex::encode(t.mr_owner_config),
    );
    let p = policy(&good);
    assert!(matches!(p.references[0].rule, ReferenceRule::Tdx(_)));
    assert_eq!(checks(&p, &c), (vec!["k".to_string()], vec![]));
    let zero = "00".repeat(48);
    for (field, check) in [
        ("mrtd", "tdx_mrtd"),
        ("rtmr1", "tdx_rtmr"),
        ("mr_seam", "tdx_mr_seam"),
        ("mr_owner", "tdx_mr_owner"),
        ("mr_service_td", "tdx_mr_service_td"),
    ] {
        let value = if field == "mrtd" {
            "11".repeat(48)
        } else {
            zero.replace("00", "22")
        };
        let any = if field == "mrtd" {
            ""
        } else {
            "any_mrtd = true"
        };
        let p = policy(&format!(
            "allow_debug = true\n{any}\n{field} = [\"{value}\"]"
        ));
        let (granted, reasons) = checks(&p, &c);
        assert!(granted.is_empty(), "{field}");
        assert_eq!(reasons, [check], "{field}");
    }
    let p = policy("allow_debug = true\nany_mrtd = true\nxfam = [\"0000000000000000\"]");
    assert_eq!(checks(&p, &c).1, ["tdx_xfam"]);
}

#[test]
fn malformed_tdx_tables_are_refused() {
    let parse = |t: &str| {
        Policy::parse(&format!(
            "version = 1\n[[reference]]\nname = \"td\"\nplatform = \"tdx\"\n{t}"
        ))
    };
    assert!(parse("").is_err());
    assert!(parse("[reference.tdx]\n").is_err()); // no mrtd
    assert!(parse("[reference.tdx]\nany_mrtd = true\ntcb_statuses = [\"Fine\"]").is_err());
    assert!(parse("[reference.tdx]\nany_mrtd = true\ntcb_statuses = []").is_err());
    assert!(parse("[reference.tdx]\nmrtd = [\"00\"]").is_err());
    assert!(parse("[reference.tdx]\nany_mrtd = true\nbogus = 1").is_err());
    assert!(parse("[reference.tdx]\nany_mrtd = true").is_ok());
    assert!(Policy::parse(
        "version = 1\n[[reference]]\nname = \"s\"\nplatform = \"snp\"\n[reference.tdx]\nany_mrtd = true\n"
    )
    .is_err());
}
