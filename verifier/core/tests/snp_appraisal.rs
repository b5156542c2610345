//! SEV-SNP appraisal on real reports: `verify_snp` with the built-in AMD
//! roots, then the `[reference.snp]` policy rules, against the verdicts and
//! thresholds stated in the test-data manifest (§1.2–1.5; go-sev-guest's
//! `check_test.go` thresholds for its Milan report).
// Test code: a failed unwrap, expect or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sealbuild_common::api::Reason;
use sealbuild_common::snp::SnpProduct;
use sealbuild_verifier_core::claims::{PlatformClaims, SnpClaims};
use sealbuild_verifier_core::policy::{snp_problems, Appraiser, Policy, SnpRule};
use sealbuild_verifier_core::snp::{verify_snp, AmdRoots, SnpInput, SnpSignerKind};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/sev-snp/");
/// 2026-11-23T00:00:00Z.
const NOW: u64 = 1_795_392_000;
/// 2025-06-01T00:00:00Z (inside the AWS VLEK's validity).
const JUNE_2025: u64 = 1_748_736_000;

fn read(p: &str) -> Vec<u8> {
    std::fs::read(format!("{DATA}{p}")).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn verify(
    report: &[u8],
    key: &[u8],
    product: Option<SnpProduct>,
    at: u64,
) -> Result<SnpClaims, Vec<Reason>> {
    let roots = AmdRoots::builtin();
    verify_snp(&SnpInput {
        report,
        endorsement_keys: &[key],
        roots: &roots,
        crls: &[],
        expected_product: product,
        expected_report_data: None,
        at_unix_secs: at,
    })
}

fn checks(r: &[Reason]) -> Vec<&str> {
    r.iter().map(|r| r.check.as_str()).collect()
}

#[test]
fn every_valid_vector_verifies_with_builtin_roots() {
    // (report, key, product given, time, product, signer)
    let cases = [
        (
            "virtee-sev/report_milan.bin",
            "virtee-sev/vcek_milan.der",
            None,
            NOW,
            SnpProduct::Milan,
            SnpSignerKind::Vcek,
        ),
        (
            "go-sev-guest/attestation.bin",
            "go-sev-guest/vcek.der",
            None,
            NOW,
            SnpProduct::Milan,
            SnpSignerKind::Vcek,
        ),
        (
            "trustee/test-report.bin",
            "trustee/test-vcek.der",
            None,
            NOW,
            SnpProduct::Milan,
            SnpSignerKind::Vcek,
        ),
        (
            "trustee/e2e-genoa-report.bin",
            "trustee/e2e-genoa-vcek.der",
            None,
            NOW,
            SnpProduct::Genoa,
            SnpSignerKind::Vcek,
        ),
        (
            "trustee/test-vlek-report.bin",
            "trustee/test-vlek.der",
            None,
            JUNE_2025,
            SnpProduct::Milan,
            SnpSignerKind::Vlek,
        ),
    ];
    for (rep, key, given, at, product, signer) in cases {
        let c =
            verify(&read(rep), &read(key), given, at).unwrap_or_else(|r| panic!("{rep}: {r:?}"));
        assert_eq!(c.product, product, "{rep}");
        assert_eq!(c.signing_key, signer, "{rep}");
        assert!(!c.insecure_test_root);
        assert!(!c.crl_checked);
    }
}

#[test]
fn vlek_expired_now_and_masked_chip_id() {
    let r = verify(
        &read("trustee/test-vlek-report.bin"),
        &read("trustee/test-vlek.der"),
        None,
        NOW,
    )
    .unwrap_err();
    assert_eq!(checks(&r), ["snp_chain"]);
    assert!(r[0].message.contains("2025-12-10"), "{}", r[0].message);
    let c = verify(
        &read("trustee/test-vlek-report.bin"),
        &read("trustee/test-vlek.der"),
        None,
        JUNE_2025,
    )
    .unwrap();
    assert_eq!(c.csp_id.as_deref(), Some("cc-us-east-2.amazonaws.com"));
    assert_eq!(c.report.chip_id, [0u8; 64]);
    assert_eq!(c.report.vmpl, 1);
    // A chip-id rule can never be met by a VLEK report; vmpl 1 is refused by default.
    let mut rule = SnpRule::hardware_only(false);
    rule.chip_ids.insert([0u8; 64]);
    rule.vmpls = [0].into_iter().collect();
    let p = snp_problems("r", &rule, &c);
    assert_eq!(checks(&p), ["snp_vmpl", "snp_chip_id"], "{p:?}");
    assert!(p[1].observed.as_deref().unwrap().contains("masked"));
    // CSP allow-list.
    let mut rule = SnpRule::hardware_only(false);
    rule.vlek_csp_ids.insert("cc-eu-west-1.example".into());
    assert_eq!(checks(&snp_problems("r", &rule, &c)), ["snp_signing_key"]);
    rule.vlek_csp_ids
        .insert("cc-us-east-2.amazonaws.com".into());
    assert!(snp_problems("r", &rule, &c).is_empty());
}

#[test]
fn stated_negatives_fail_for_the_stated_reason() {
    // virtee: report[21] ^= 0x80 → signature invalid.
    let mut rep = read("virtee-sev/report_milan.bin");
    rep[21] ^= 0x80;
    let r = verify(&rep, &read("virtee-sev/vcek_milan.der"), None, NOW).unwrap_err();
    assert_eq!(checks(&r), ["snp_signature"], "{r:?}");
    // virtee: vcek[40] ^= 0xff → chain invalid.
    let mut vcek = read("virtee-sev/vcek_milan.der");
    vcek[40] ^= 0xff;
    let r = verify(&read("virtee-sev/report_milan.bin"), &vcek, None, NOW).unwrap_err();
    assert!(
        matches!(checks(&r)[..], ["snp_chain"] | ["snp_endorsement_key"]),
        "{r:?}"
    );
    // trustee: report[42] += 1 → signature; report[384] += 1 → TCB vs VCEK.
    for (file, key, at) in [
        ("trustee/test-report.bin", "trustee/test-vcek.der", NOW),
        (
            "trustee/test-vlek-report.bin",
            "trustee/test-vlek.der",
            JUNE_2025,
        ),
    ] {
        let mut rep = read(file);
        rep[42] = rep[42].wrapping_add(1);
        let r = verify(&rep, &read(key), None, at).unwrap_err();
        assert_eq!(checks(&r), ["snp_signature"], "{file}: {r:?}");
        let mut rep = read(file);
        rep[384] = rep[384].wrapping_add(1);
        let r = verify(&rep, &read(key), None, at).unwrap_err();
        assert_eq!(checks(&r), ["snp_tcb"], "{file}: {r:?}");
    }
    // The hwID-edited VCEKs parse but do not chain.
    for key in [
        "trustee/test-vcek-invalid-legacy.der",
        "trustee/test-vcek-invalid-new.der",
    ] {
        let r = verify(&read("trustee/test-report.bin"), &read(key), None, NOW).unwrap_err();
        assert_eq!(r.len(), 1, "{r:?}");
    }
    // Milan report with a Genoa claim.
    let r = verify(
        &read("trustee/e2e-genoa-report.bin"),
        &read("trustee/e2e-genoa-vcek.der"),
        Some(SnpProduct::Milan),
        NOW,
    )
    .unwrap_err();
    assert_eq!(checks(&r), ["snp_product"], "{r:?}");
    // No key at all.
    let roots = AmdRoots::builtin();
    let r = verify_snp(&SnpInput {
        report: &read("virtee-sev/report_milan.bin"),
        endorsement_keys: &[],
        roots: &roots,
        crls: &[],
        expected_product: None,
        expected_report_data: None,
        at_unix_secs: NOW,
    })
    .unwrap_err();
    assert_eq!(checks(&r), ["snp_endorsement_key"]);
    assert!(r[0].message.contains("collateral fetch snp"));
}

#[test]
fn report_data_binding() {
    let rep = read("go-sev-guest/attestation.bin");
    let key = read("go-sev-guest/vcek.der");
    let roots = AmdRoots::builtin();
    let mut good = [0u8; 64];
    good[..5].copy_from_slice(&[1, 2, 3, 4, 5]);
    let mut bad = good;
    bad[63] = 1; // check_test: report_data …01 must fail
    for (expected, ok) in [(good, true), (bad, false)] {
        let r = verify_snp(&SnpInput {
            report: &rep,
            endorsement_keys: &[&key],
            roots: &roots,
            crls: &[],
            expected_product: None,
            expected_report_data: Some(&expected),
            at_unix_secs: NOW,
        });
        assert_eq!(r.is_ok(), ok);
        if let Err(r) = r {
            assert_eq!(checks(&r), ["binding"]);
            assert_eq!(r[0].observed.as_deref(), Some(hex::encode(good).as_str()));
        }
    }
}

fn policy_for(snp_table: &str) -> Policy {
    let text = format!(
        "version = 1\n[[reference]]\nname = \"snp-ref\"\nplatform = \"snp\"\n[reference.snp]\n{snp_table}\n[[key]]\nid = \"k\"\nreferences = [\"snp-ref\"]\n"
    );
    Policy::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn appraise(p: &Policy, c: &SnpClaims) -> (Vec<String>, Vec<Reason>) {
    let a = p.appraise(&PlatformClaims::Snp(Box::new(c.clone())), None);
    (a.granted_keys, a.reasons)
}

#[test]
fn go_sev_guest_check_thresholds() {
    let c = verify(
        &read("go-sev-guest/attestation.bin"),
        &read("go-sev-guest/vcek.der"),
        None,
        NOW,
    )
    .unwrap();
    let m = "b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01";
    let chip = "3ac3fe21e13fb0990eb28a802e3fb6a29483a6b0753590c951bdd3b8e53786184ca39e359669a2b76a1936776b564ea464cdce40c05f63c9b610c5068b006b5d";
    let base = format!(
        "measurements = [\"{m}\"]\nallow_debug = true\nmin_committed_firmware = \"1.49\"\nplatform_info = \"1\"\nvmpls = [0]\nchip_ids = [\"{chip}\"]\nhost_data = [\"{}\"]\n[reference.snp.min_tcb]\nmilan = \"4901323769462652930\"\n[reference.snp.min_launch_tcb]\nmilan = \"0x4405000000000002\"\n",
        "00".repeat(32)
    );
    let (granted, reasons) = appraise(&policy_for(&base), &c);
    assert_eq!(granted, ["k"], "{reasons:?}");

    // Each stated "fail" threshold, one at a time.
    let bad_chip = format!("{}5e", &chip[..126]);
    let fails: [(&str, &str, &str); 7] = [
        (
            "4901323769462652930\"\n[reference.snp.min_launch_tcb]",
            "4901323769462652931\"\n[reference.snp.min_launch_tcb]",
            "snp_tcb",
        ),
        (
            "min_committed_firmware = \"1.49\"",
            "min_committed_firmware = \"1.50\"",
            "snp_firmware",
        ),
        ("vmpls = [0]", "vmpls = [1]", "snp_vmpl"),
        (
            "platform_info = \"1\"",
            "platform_info = \"0\"",
            "snp_platform",
        ),
        (chip, &bad_chip, "snp_chip_id"),
        ("allow_debug = true", "allow_debug = false", "snp_policy"),
        (m, &m.replace("b07a", "b07b"), "snp_measurement"),
    ];
    for (from, to, check) in fails {
        assert!(base.contains(from), "{from}");
        let (granted, reasons) = appraise(&policy_for(&base.replacen(from, to, 1)), &c);
        assert!(granted.is_empty(), "{check}");
        assert!(checks(&reasons).contains(&check), "{check}: {reasons:?}");
    }
    // host_data …01.
    let hd = format!("{}01", "00".repeat(31));
    let (granted, reasons) = appraise(&policy_for(&base.replace(&"00".repeat(32), &hd)), &c);
    assert!(granted.is_empty());
    assert_eq!(checks(&reasons), ["snp_host_data"]);
    // Messages say what was expected and what was seen.
    let (_, reasons) = appraise(
        &policy_for(&base.replace("allow_debug = true", "allow_debug = false")),
        &c,
    );
    assert!(
        reasons[0].message.contains("DEBUG = 1 (policy 0xb0000)"),
        "{}",
        reasons[0].message
    );
}

#[test]
fn debug_is_refused_by_default_and_id_block_rules() {
    let c = verify(
        &read("go-sev-guest/attestation.bin"),
        &read("go-sev-guest/vcek.der"),
        None,
        NOW,
    )
    .unwrap();
    let p = snp_problems("hardware", &SnpRule::hardware_only(false), &c);
    assert_eq!(checks(&p), ["snp_policy"]);
    assert!(snp_problems("hardware", &SnpRule::hardware_only(true), &c).is_empty());
    // The virtee report does not allow debugging.
    let c = verify(
        &read("virtee-sev/report_milan.bin"),
        &read("virtee-sev/vcek_milan.der"),
        None,
        NOW,
    )
    .unwrap();
    assert!(snp_problems("hardware", &SnpRule::hardware_only(false), &c).is_empty());

    // trustee's report was launched with an ID block: id key, family/image id, guest svn 4,
    // provisional firmware (current ucode 206 > committed 115).
    let c = verify(
        &read("trustee/test-report.bin"),
        &read("trustee/test-vcek.der"),
        None,
        NOW,
    )
    .unwrap();
    let idk = "0356215882a825279a85b300b0b742931d113bf7e32dde2e50ffde7ec743ca491ecdd7f336dc28a6e0b2bb57af7a44a3";
    let fam = format!("01{}", "00".repeat(15));
    let img = format!("02{}", "00".repeat(15));
    let base = format!(
        "any_measurement = true\nid_key_digests = [\"{idk}\"]\nfamily_ids = [\"{fam}\"]\nimage_ids = [\"{img}\"]\nmin_guest_svn = 4\nmin_abi = \"0.31\"\n"
    );
    let (granted, reasons) = appraise(&policy_for(&base), &c);
    assert_eq!(granted, ["k"], "{reasons:?}");
    for (from, to, check) in [
        ("min_guest_svn = 4", "min_guest_svn = 5", "snp_guest_svn"),
        ("min_abi = \"0.31\"", "min_abi = \"1.0\"", "snp_policy"),
        (&fam as &str, &img as &str, "snp_family_id"),
        (
            "any_measurement = true",
            "any_measurement = true\nprovisional_firmware = \"refuse\"",
            "snp_tcb",
        ),
        (
            "any_measurement = true",
            "any_measurement = true\nauthor_key_digests = [\"",
            "snp_author_key",
        ),
    ] {
        let text = if check == "snp_author_key" {
            base.replacen(from, &format!("{to}{}\"]", "11".repeat(48)), 1)
        } else {
            base.replacen(from, to, 1)
        };
        let (granted, reasons) = appraise(&policy_for(&text), &c);
        assert!(granted.is_empty(), "{check}");
        assert!(checks(&reasons).contains(&check), "{check}: {reasons:?}");
    }
    // SMT: the report's policy allows SMT and the platform has it enabled.
    let (_, reasons) = appraise(&policy_for("any_measurement = true\nallow_smt = false"), &c);
    assert_eq!(checks(&reasons), ["snp_policy", "snp_platform"]);
}

#[test]
fn genoa_minimum_tcb_by_parts_and_other_products_ignored() {
    let c = verify(
        &read("trustee/e2e-genoa-report.bin"),
        &read("trustee/e2e-genoa-vcek.der"),
        None,
        NOW,
    )
    .unwrap();
    // all TCBs 0x191700000000000a = bl 10, tee 0, snp 23, ucode 25.
    let ok = "any_measurement = true\nproducts = [\"genoa\"]\n[reference.snp.min_tcb]\ngenoa = { bl = 10, tee = 0, snp = 23, ucode = 25 }\nmilan = \"0xffffffffffffffff\"";
    assert_eq!(appraise(&policy_for(ok), &c).0, ["k"]);
    let bad = ok.replace("ucode = 25", "ucode = 26");
    let (g, reasons) = appraise(&policy_for(&bad), &c);
    assert!(g.is_empty());
    assert_eq!(checks(&reasons), ["snp_tcb", "snp_tcb"]);
    assert!(
        reasons[0].message.contains("ucode 25"),
        "{}",
        reasons[0].message
    );
    let (g, reasons) = appraise(
        &policy_for("any_measurement = true\nproducts = [\"milan\"]"),
        &c,
    );
    assert!(g.is_empty());
    assert_eq!(checks(&reasons), ["snp_product"]);
}

#[test]
fn policy_documents_are_checked() {
    let bad = [
        ("", "lists no measurement"),
        ("measurements = [\"abcd\"]", "48 bytes"),
        ("any_measurement = true\nsigning_keys = [\"ask\"]", "vcek or vlek"),
        ("any_measurement = true\nvmpls = [4]", "0..3"),
        ("any_measurement = true\nproducts = [\"naples\"]", "milan, genoa or turin"),
        ("any_measurement = true\n[reference.snp.min_tcb]\nturin = { bl = 1, tee = 0, snp = 1, ucode = 1 }", "fmc"),
        ("any_measurement = true\nprovisional_firmware = \"maybe\"", "allow or refuse"),
        ("any_measurement = true\nunknown_field = 1", "unknown field"),
    ];
    for (table, needle) in bad {
        let text = format!("version = 1\n[[reference]]\nname = \"r\"\nplatform = \"snp\"\n[reference.snp]\n{table}\n");
        let e = Policy::parse(&text).unwrap_err().to_string();
        assert!(e.contains(needle), "{table}: {e}");
    }
    // snp table on a tpm reference, and snp without its table.
    let e = Policy::parse("version = 1\n[[reference]]\nname = \"r\"\nplatform = \"tpm\"\n[reference.snp]\nany_measurement = true\n").unwrap_err();
    assert!(e.to_string().contains("platform = \"snp\""), "{e}");
    let e = Policy::parse("version = 1\n[[reference]]\nname = \"r\"\nplatform = \"snp\"\n")
        .unwrap_err();
    assert!(e.to_string().contains("[reference.snp]"), "{e}");
}
