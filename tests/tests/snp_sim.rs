//! The SEV-SNP flow end to end on the INSECURE simulated backend: a real
//! verifier on loopback (HTTPS, SQLite file) appraises reports signed with
//! the published test chain through the same code as real reports, releases
//! a key, and the released key signs a build statement. A verifier that is
//! not configured with the test chain refuses the same evidence.
// Test code: a failed unwrap, expect or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sealbuild_agent::flow;
use sealbuild_agent::insecure_snp_sim::InsecureSimSource;
use sealbuild_agent::snp::SnpCollector;
use sealbuild_common::api::{Evidence, Verdict};
use sealbuild_common::dsse::{DsseSigner, DsseVerifier, PAYLOAD_TYPE_INTOTO};
use sealbuild_tests::{repo, require_tool, TestVerifier};
use sealbuild_verifier::config::Config;

const OVMF: &str = "/usr/share/ovmf/OVMF.fd";

/// The launch digest of Debian's OVMF on one EPYC-v4 vCPU under QEMU — what
/// `sealbuild-measure snp --ovmf OVMF.fd --vcpus 1 --vcpu-type EPYC-v4` prints.
fn measurement() -> [u8; 48] {
    if !std::path::Path::new(OVMF).is_file() {
        panic!("{OVMF} is missing: install Debian's ovmf package (scripts/lib.sh does)");
    }
    let ovmf = std::fs::read(OVMF).unwrap();
    sealbuild_measure::snp::launch_digest(
        &ovmf,
        1,
        0x0080_0f12,
        sealbuild_measure::snp::VmmType::Qemu,
        0x1,
        None,
    )
    .unwrap()
}

fn trust_sim_chain(cfg: &mut Config) {
    cfg.snp_insecure_test_chain =
        Some(repo().join("insecure/snp-sim/test-chain/cert_chain_vcek.pem"));
    cfg.snp_insecure_test_product = Some("genoa".into());
}

fn policy(measurement: &[u8; 48]) -> String {
    format!(
        "version = 1\n\n[[reference]]\nname = \"snp-sim-ovmf\"\nplatform = \"snp\"\n\n[reference.snp]\nmeasurements = [\"{}\"]\nproducts = [\"genoa\"]\nsigning_keys = [\"vcek\"]\n\n[reference.snp.min_tcb]\ngenoa = {{ bl = 10, tee = 0, snp = 23, ucode = 84 }}\n\n[[key]]\nid = \"build-signing\"\nreferences = [\"snp-sim-ovmf\"]\n",
        hex::encode(measurement)
    )
}

fn collector(m: [u8; 48]) -> SnpCollector {
    SnpCollector::new(Box::new(InsecureSimSource::new(m, [0u8; 32])), 0).unwrap()
}

async fn verifier(trust: bool, m: &[u8; 48]) -> TestVerifier {
    // No TPM here; the EK CA directory only has to exist and hold a certificate.
    let ca = repo().join("tests/data/sev-snp/amd-roots/milan");
    let v = if trust {
        TestVerifier::start_with(&ca, trust_sim_chain).await
    } else {
        TestVerifier::start(&ca).await
    };
    v.service
        .generate_key("ecdsa-p256", Some("build-signing".into()))
        .await
        .unwrap();
    v.service.set_policy(policy(m)).await.unwrap();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_snp_attests_releases_and_signs() {
    require_tool("openssl", "openssl");
    let m = measurement();
    let v = verifier(true, &m).await;
    let client = v.client();
    let mut c = collector(m);

    // A plain attestation: accepted, the key released and usable.
    let a = flow::attest(&client, &mut c, "snp:ci", None).await.unwrap();
    assert_eq!(
        a.response.verdict,
        Verdict::Accepted,
        "{:?}",
        a.response.reasons
    );
    assert_eq!(a.keys.len(), 1);
    assert_eq!(a.keys[0].key_id, "build-signing");

    // A build statement bound into REPORT_DATA; the released key signs it.
    let statement = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"out.bin","digest":{"sha256":"6a09e667f3bcc908b2fb1366ea957d3e3adec17512775099da2f590b0667322a"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{"buildDefinition":{"buildType":"https://sealbuild.invalid/build-types/sealed-build/v1","externalParameters":{},"resolvedDependencies":[]},"runDetails":{"builder":{"id":"urn:sealbuild:builder:snp:snp-sim-ovmf"}}}}"#;
    let a = flow::attest_statement(&client, &mut c, "snp:ci", statement, |_| {})
        .await
        .unwrap();
    assert_eq!(
        a.response.verdict,
        Verdict::Accepted,
        "{:?}",
        a.response.reasons
    );
    let key = &a.keys[0];
    let env = DsseSigner::from_pkcs8_der(&key.pkcs8)
        .unwrap()
        .sign(PAYLOAD_TYPE_INTOTO, statement);
    let verifier = DsseVerifier::from_spki_pem(&key.public_key_pem).unwrap();
    assert_eq!(verifier.verify(&env).unwrap(), &statement[..]);

    // Tampering: a flipped report byte, another launch digest, debug, a stale binding.
    let a = flow::attest_with(&client, &mut c, "snp:ci", None, |r| {
        let Evidence::Snp(s) = &mut r.evidence else {
            unreachable!("SNP collector")
        };
        s.report[0x90] ^= 1; // MEASUREMENT
    })
    .await
    .unwrap();
    assert_eq!(a.response.verdict, Verdict::Rejected);
    assert!(a.keys.is_empty());
    assert_eq!(
        a.response.reasons[0].check, "snp_signature",
        "{:?}",
        a.response.reasons
    );

    let mut other = collector([7u8; 48]);
    let a = flow::attest(&client, &mut other, "snp:ci", None)
        .await
        .unwrap();
    assert_eq!(a.response.verdict, Verdict::Rejected);
    assert!(a.keys.is_empty());
    assert_eq!(
        a.response.reasons[0].check, "snp_measurement",
        "{:?}",
        a.response.reasons
    );
    assert!(a.response.reasons[0].message.contains(&hex::encode(m)));

    // Evidence made for one nonce does not pass with the next.
    let first = std::sync::Mutex::new(None);
    flow::attest_with(&client, &mut c, "snp:ci", None, |r| {
        *first.lock().unwrap() = Some(r.evidence.clone());
    })
    .await
    .unwrap();
    let replay = first.lock().unwrap().take().unwrap();
    let a = flow::attest_with(&client, &mut c, "snp:ci", None, |r| r.evidence = replay)
        .await
        .unwrap();
    assert_eq!(a.response.verdict, Verdict::Rejected);
    assert_eq!(
        a.response.reasons[0].check, "binding",
        "{:?}",
        a.response.reasons
    );

    // Every decision is in the audit log, which verifies.
    let entries = v.service.audit_entries(1, 10_000).await.unwrap();
    assert!(entries.len() >= 6, "{} entries", entries.len());
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verifier_not_configured_for_the_test_chain_refuses_simulated_reports() {
    let m = measurement();
    let v = verifier(false, &m).await;
    let client = v.client();
    let mut c = collector(m);
    let a = flow::attest(&client, &mut c, "snp:ci", None).await.unwrap();
    assert_eq!(a.response.verdict, Verdict::Rejected);
    assert!(a.keys.is_empty());
    assert_eq!(
        a.response.reasons[0].check, "snp_chain",
        "{:?}",
        a.response.reasons
    );
    v.stop().await;
}
