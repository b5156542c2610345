//! `sealbuild-verifier verify snp` on real reports (the test-data manifest
//! §1.2–1.8: verdicts, times and claims), and the CRL check of SEV-SNP
//! chains with CRLs made here (no real AMD CRL is in the test data).
// Test code: a failed unwrap, expect or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod cli_support;

use cli_support::checks;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn data(rel: &str) -> PathBuf {
    cli_support::data(&format!("sev-snp/{rel}"))
}

const VERIFY_SNP: &[&str] = &["verify", "snp"];

/// Runs `verify snp --report REPORT KEY_FLAG KEYS REST…` (KEY_FLAG:
/// `--vcek` or `--certs`).
fn run_on(report: &Path, key_flag: &str, keys: &Path, rest: &[&str]) -> (i32, Value, String) {
    cli_support::run_files(VERIFY_SNP, &[("--report", report), (key_flag, keys)], rest)
}

const NOW: &str = "2026-11-23T00:00:00Z";

#[test]
fn milan_report_is_accepted_with_its_claims() {
    let r = data("virtee-sev/report_milan.bin");
    let k = data("virtee-sev/vcek_milan.der");
    let (code, v, out) = run_on(&r, "--vcek", &k, &["--at", NOW, "--json"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(v["verdict"], "accepted");
    assert_eq!(v["version"], 2);
    assert_eq!(v["policy"], "0x30000");
    assert_eq!(v["vmpl"], 0);
    assert_eq!(v["reported_tcb"], "0x7308000000000003");
    assert_eq!(v["signing_key"], "vcek");
    assert_eq!(v["product"], "milan");
    assert_eq!(v["measurement"], "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f");
    assert_eq!(v["report_data"], "d447b55d197491bfe15cf298f9de9986b7a7c4be2468b4f6e2d53b71d7c645810b0f2cdfca0040433be063fc1a8293f0f3f8dae7b79fecb3d1cd82bd6a93ebfd");
    assert_eq!(v["chip_id"], "d49554ec717f4e5b0fe6b143bcf0405bd7ae304727edf46603f2a76aef6a3abc15d7af38db757039029f0efacfd08e244324884738c72b082e2f87a44d541eb6");
    assert_eq!(v["host_data"], "00".repeat(32));
    assert_eq!(v["reasons"], serde_json::json!([]));

    // One flipped byte of the signed region (manifest: report[21] ^= 0x80).
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(&r).unwrap();
    bytes[21] ^= 0x80;
    let bad = dir.path().join("bad.bin");
    std::fs::write(&bad, &bytes).unwrap();
    let (code, v, _) = run_on(&bad, "--vcek", &k, &["--at", NOW, "--json"]);
    assert_eq!(code, 1);
    assert_eq!(v["verdict"], "rejected");
    assert_eq!(checks(&v), ["snp_signature"]);
    assert_eq!(v["verified"], false);

    // The wrong product, and no endorsement key at all.
    let (code, v, _) = run_on(
        &r,
        "--vcek",
        &k,
        &["--product", "genoa", "--at", NOW, "--json"],
    );
    assert_eq!(code, 1);
    assert!(
        checks(&v)
            .iter()
            .all(|c| c == "snp_product" || c == "snp_chain"),
        "{v}"
    );
    let (code, v, _) = cli_support::run(
        VERIFY_SNP,
        &["--report", r.to_str().unwrap(), "--at", NOW, "--json"],
    );
    assert_eq!(code, 1);
    assert_eq!(checks(&v), ["snp_endorsement_key"]);
}

#[test]
fn debug_is_refused_unless_allowed() {
    let r = data("go-sev-guest/attestation.bin");
    let k = data("go-sev-guest/vcek.der");
    let (code, v, out) = run_on(&r, "--vcek", &k, &["--at", NOW, "--json"]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(checks(&v), ["snp_policy"]);
    assert_eq!(v["policy"], "0xb0000");
    let (code, v, _) = run_on(&r, "--vcek", &k, &["--at", NOW, "--allow-debug", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(v["verdict"], "accepted");
    // Human output names the check.
    let (code, _, out) = run_on(&r, "--vcek", &k, &["--at", NOW]);
    assert_eq!(code, 1);
    assert!(
        out.contains("[snp_policy]") && out.contains("DEBUG = 1"),
        "{out}"
    );
}

#[test]
fn vlek_report_valid_in_2025_expired_now() {
    let r = data("trustee/test-vlek-report.bin");
    let k = data("trustee/test-vlek.der");
    let (code, v, out) = run_on(
        &r,
        "--vcek",
        &k,
        &["--at", "2025-06-01T00:00:00Z", "--allow-debug", "--json"],
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(v["signing_key"], "vlek");
    assert_eq!(v["version"], 3);
    assert_eq!(v["vmpl"], 1);
    assert_eq!(v["chip_id"], "00".repeat(64));
    assert_eq!(v["csp_id"], "cc-us-east-2.amazonaws.com");
    let (code, v, _) = run_on(&r, "--vcek", &k, &["--at", NOW, "--json"]);
    assert_eq!(code, 1);
    assert_eq!(checks(&v), ["snp_chain"]);
}

fn pem(der: &[u8]) -> String {
    use base64::Engine;
    let b = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

#[test]
fn certs_dir_in_snpguest_layout_and_a_policy() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    std::fs::create_dir(&certs).unwrap();
    std::fs::copy(data("amd-roots/genoa/ark.pem"), certs.join("ark.pem")).unwrap();
    std::fs::copy(data("amd-roots/genoa/ask.pem"), certs.join("ask.pem")).unwrap();
    std::fs::write(
        certs.join("vcek.pem"),
        pem(&std::fs::read(data("trustee/e2e-genoa-vcek.der")).unwrap()),
    )
    .unwrap();
    let r = data("trustee/e2e-genoa-report.bin");
    let (code, v, out) = run_on(&r, "--certs", &certs, &["--at", NOW, "--json"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(v["product"], "genoa");
    assert_eq!(v["reported_tcb"], "0x191700000000000a");

    // A policy: the right measurement matches; another does not.
    let m = "6a6519d757e68c2e939c9dbbbc1828498e8de35d2766dd05f1a2cca5059d0cf4ae62a36d75c837974dd50b315506e73e";
    let policy = dir.path().join("policy.toml");
    let write = |measurement: &str| {
        std::fs::write(&policy, format!("version = 1\n[[reference]]\nname = \"genoa-vm\"\nplatform = \"snp\"\n[reference.snp]\nmeasurements = [\"{measurement}\"]\n[reference.snp.min_tcb]\ngenoa = \"0x191700000000000a\"\n")).unwrap();
    };
    write(m);
    let (code, v, out) = run_on(
        &r,
        "--certs",
        &certs,
        &["--at", NOW, "--policy", policy.to_str().unwrap(), "--json"],
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(v["matched_references"], serde_json::json!(["genoa-vm"]));
    write(&"ab".repeat(48));
    let (code, v, _) = run_on(
        &r,
        "--certs",
        &certs,
        &["--at", NOW, "--policy", policy.to_str().unwrap(), "--json"],
    );
    assert_eq!(code, 1);
    assert_eq!(checks(&v), ["snp_measurement"]);

    // A root in the directory that is not AMD's is a usage error, not trust.
    std::fs::write(
        certs.join("ark.pem"),
        pem(&std::fs::read(data("trustee/test-vcek.der")).unwrap()),
    )
    .unwrap();
    let (code, _, out) = run_on(&r, "--certs", &certs, &["--at", NOW]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("not one of AMD's built-in"), "{out}");
    // A malformed time is a usage error too.
    let (code, _, out) = cli_support::run(
        VERIFY_SNP,
        &["--report", r.to_str().unwrap(), "--at", "yesterday"],
    );
    assert_eq!(code, 2);
    assert!(out.contains("RFC 3339"), "{out}");
}

/// A report that does not parse is a rejection (exit 1) whose reason
/// `malformed_evidence` names the structure and field; a parsable but
/// tampered report keeps its own check; a missing file is an I/O error (2).
#[test]
fn malformed_reports_are_rejected_naming_the_field() {
    let report = std::fs::read(data("virtee-sev/report_milan.bin")).unwrap();
    let k = data("virtee-sev/vcek_milan.der");
    let dir = tempfile::tempdir().unwrap();
    let verify = |bytes: &[u8], json: bool| {
        let p = dir.path().join("report.bin");
        std::fs::write(&p, bytes).unwrap();
        let mut args = vec![
            "--report".to_string(),
            p.to_str().unwrap().to_string(),
            "--vcek".into(),
            k.to_str().unwrap().to_string(),
            "--at".into(),
            NOW.into(),
        ];
        if json {
            args.push("--json".into());
        }
        cli_support::run(
            VERIFY_SNP,
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        )
    };
    let mut bad_version = report.clone();
    bad_version[..4].copy_from_slice(&99u32.to_le_bytes());
    let mut bad_vmpl = report.clone();
    bad_vmpl[0x30..0x34].copy_from_slice(&7u32.to_le_bytes());
    for (bytes, field) in [
        (report[..100].to_vec(), "ATTESTATION_REPORT length"),
        (Vec::new(), "ATTESTATION_REPORT length"),
        (bad_version, "ATTESTATION_REPORT VERSION"),
        (bad_vmpl, "VMPL"),
    ] {
        let (code, v, out) = verify(&bytes, true);
        assert_eq!(code, 1, "{out}");
        assert_eq!(v["verdict"], "rejected", "{out}");
        assert_eq!(checks(&v), ["malformed_evidence"], "{out}");
        let m = v["reasons"][0]["message"].as_str().unwrap();
        assert!(
            m.contains("SEV-SNP ATTESTATION_REPORT") && m.contains(field),
            "{m}"
        );
        let (code, _, out) = verify(&bytes, false);
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("malformed_evidence"), "{out}");
    }
    // Tampered but parsable: the signature check fails, as before.
    let mut tampered = report.clone();
    tampered[0x90] ^= 1;
    let (code, v, out) = verify(&tampered, true);
    assert_eq!(code, 1, "{out}");
    assert_eq!(checks(&v), ["snp_signature"], "{out}");
    // A missing report is an I/O error.
    let (code, _, out) = cli_support::run(
        VERIFY_SNP,
        &["--report", "/nonexistent/report.bin", "--at", NOW],
    );
    assert_eq!(code, 2, "{out}");
}

/// An ARK-like CA, an intermediate it issued, and CRLs the CA signs.
struct Pki {
    ca_key: rcgen::KeyPair,
    ca: rcgen::Certificate,
    ica_der: Vec<u8>,
    ica_serial: u64,
}

fn pki() -> Pki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name
        .push(rcgen::DnType::CommonName, "ARK-Test");
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = p.self_signed(&ca_key).unwrap();
    let ica_key = rcgen::KeyPair::generate().unwrap();
    let mut q = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    q.distinguished_name = rcgen::DistinguishedName::new();
    q.distinguished_name
        .push(rcgen::DnType::CommonName, "SEV-Test");
    q.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    q.serial_number = Some(rcgen::SerialNumber::from(0x1234u64));
    let ica = q.signed_by(&ica_key, &ca, &ca_key).unwrap();
    Pki {
        ca_key,
        ca,
        ica_der: ica.der().to_vec(),
        ica_serial: 0x1234,
    }
}

fn crl(p: &Pki, revoke: Option<u64>, next_year: i32) -> Vec<u8> {
    rcgen::CertificateRevocationListParams {
        this_update: rcgen::date_time_ymd(2025, 1, 1),
        next_update: rcgen::date_time_ymd(next_year, 1, 1),
        crl_number: rcgen::SerialNumber::from(7u64),
        issuing_distribution_point: None,
        revoked_certs: revoke
            .map(|s| rcgen::RevokedCertParams {
                serial_number: rcgen::SerialNumber::from(s),
                revocation_time: rcgen::date_time_ymd(2025, 6, 1),
                reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                invalidity_date: None,
            })
            .into_iter()
            .collect(),
        key_identifier_method: rcgen::KeyIdMethod::Sha256,
    }
    .signed_by(&p.ca, &p.ca_key)
    .unwrap()
    .der()
    .to_vec()
}

#[test]
fn crl_checks() {
    use sealbuild_verifier_core::snp::{check_crl, CrlError};
    let at = 1_795_392_000; // 2026-11-23
    let p = pki();
    let ca = p.ca.der().to_vec();
    // Current, not listing the intermediate.
    let ok = check_crl(&crl(&p, Some(0x9999), 2027), &ca, &p.ica_der, at).unwrap();
    assert_eq!(ok.revoked_entries, 1);
    // Listing it.
    let e = check_crl(&crl(&p, Some(p.ica_serial), 2027), &ca, &p.ica_der, at).unwrap_err();
    assert!(matches!(e, CrlError::Revoked { .. }), "{e}");
    assert!(e.to_string().contains("SEV-Test"), "{e}");
    // Stale.
    let e = check_crl(&crl(&p, None, 2026), &ca, &p.ica_der, at).unwrap_err();
    assert!(matches!(e, CrlError::NotCurrent { .. }), "{e}");
    // Signed by another CA with the same name: the signature fails.
    let other = pki();
    let e = check_crl(&crl(&other, None, 2027), &ca, &p.ica_der, at).unwrap_err();
    assert!(matches!(e, CrlError::Signature { .. }), "{e}");
    // A real AMD ARK is not the issuer of this CRL: out of scope.
    let ark = std::fs::read_to_string(data("amd-roots/milan/ark.pem")).unwrap();
    let ark_der = rustls_pemfile::certs(&mut ark.as_bytes())
        .next()
        .unwrap()
        .unwrap()
        .to_vec();
    let e = check_crl(&crl(&p, None, 2027), &ark_der, &p.ica_der, at).unwrap_err();
    assert!(matches!(e, CrlError::Issuer { .. }), "{e}");
    // Garbage.
    let mut bad = crl(&p, None, 2027);
    let n = bad.len();
    bad[n - 3] ^= 1;
    assert!(check_crl(&bad, &ca, &p.ica_der, at).is_err());
    assert!(matches!(
        check_crl(b"junk", &ca, &p.ica_der, at),
        Err(CrlError::Malformed { .. })
    ));
}

#[test]
fn crl_checks_through_the_chain_cache_read_as_without_it() {
    use sealbuild_verifier_core::snp::{check_crl, SnpChainCache};
    let cache = SnpChainCache::default();
    let at = 1_795_392_000; // 2026-11-23
    let p = pki();
    let ca = p.ca.der().to_vec();
    let (current, listing, stale) = (
        crl(&p, Some(0x9999), 2027),
        crl(&p, Some(p.ica_serial), 2027),
        crl(&p, None, 2026),
    );
    let forged = crl(&pki(), None, 2027);
    let same = |crl: &[u8], at: u64| {
        let cached = cache.check_crl(crl, &ca, &p.ica_der, at);
        assert_eq!(cached, check_crl(crl, &ca, &p.ica_der, at));
        cached
    };
    // 2028-01-01 is past nextUpdate, 2024-06-01 before thisUpdate.
    for at in [at, at, 1_830_297_600, 1_717_200_000, at] {
        let ok = same(&current, at);
        assert_eq!(ok.is_ok(), at == 1_795_392_000, "{ok:?}");
        assert!(same(&listing, at).is_err());
        assert!(same(&stale, at).is_err());
        assert!(same(&forged, at).is_err());
    }
    // The three CRLs the CA signed are kept; the forged one is not.
    assert_eq!(cache.crls_len(), 3);
    // Another intermediate under the kept CRL.
    let other = pki();
    let cached = cache.check_crl(&current, &ca, &other.ica_der, at);
    assert_eq!(cached, check_crl(&current, &ca, &other.ica_der, at));
}
