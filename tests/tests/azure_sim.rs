//! Azure confidential VMs end to end on the INSECURE simulator: an swtpm laid
//! out like an Azure vTPM (scripts/azure-sim-provision.sh: the AK persistent
//! at 0x81000003, an HCL report signed with the published snp-sim chain in NV
//! 0x01400001, naming that AK), the agent's Azure collector, and a real
//! verifier on loopback that trusts the test chain only because it is built
//! with the insecure feature and configured to. The same evidence goes
//! through the platform seam like any other: nonce, binding in the quote, the
//! SNP rules for the paravisor, PCRs and the event log for the vTPM, the
//! statement, key release, audit. Refusals: a changed HCL byte, another
//! PCR 0, another launch measurement, and a verifier without the test chain.
// Test code: a failed unwrap, expect or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sealbuild_agent::azure::AzureCollector;
use sealbuild_agent::flow;
use sealbuild_agent::sealed_build::{BuildRequest, Outcome, SealedBuild};
use sealbuild_agent::tpm::TpmBackend;
use sealbuild_common::api::{Evidence, Verdict};
use sealbuild_common::dsse::DsseVerifier;
use sealbuild_common::snp::SnpProduct;
use sealbuild_tests::{boot_log, repo, require_tool, sample_repo, TestVerifier, Tpm};
use sealbuild_verifier::collateral::store::CollateralStore;
use sealbuild_verifier::config::Config;
use std::process::Command;

/// The simulated paravisor's launch measurement.
const MEASUREMENT: [u8; 48] = [0x42; 48];

fn trust_sim_chain(cfg: &mut Config) {
    cfg.snp_insecure_test_chain =
        Some(repo().join("insecure/snp-sim/test-chain/cert_chain_vcek.pem"));
    cfg.snp_insecure_test_product = Some("genoa".into());
    import_vcek(cfg);
}

/// Azure guests send no VCEK with the HCL report: the operator puts it in
/// the verifier's collateral store (`collateral import snp --vcek`), here
/// the simulator's test VCEK.
fn import_vcek(cfg: &mut Config) {
    let store = CollateralStore::open(cfg.snp_collateral_path()).unwrap();
    let vcek = std::fs::read(repo().join("insecure/snp-sim/test-chain/vcek.der")).unwrap();
    store.import_vcek(Some(SnpProduct::Genoa), &vcek).unwrap();
}

/// Lays the swtpm out like an Azure vTPM with the provisioning script.
fn provision(tpm: &Tpm) {
    require_tool("tpm2_createprimary", "tpm2-tools");
    let bin = repo().join("target/debug/sealbuild-azure-sim");
    assert!(
        bin.is_file(),
        "{} is missing: build the workspace first (scripts/test.sh does)",
        bin.display()
    );
    let out = Command::new("bash")
        .arg(repo().join("scripts/azure-sim-provision.sh"))
        .args(["--tcti", &tpm.tcti_string()])
        .args(["--measurement", &hex::encode(MEASUREMENT)])
        .arg("--out")
        .arg(tpm.dir.path().join("azure-sim"))
        .env("SEALBUILD_AZURE_SIM", &bin)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "azure-sim-provision.sh: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An `azure` reference set: the paravisor's measurement and the vTPM's
/// PCR 0–7 as the boot log replays them.
fn policy(
    log: &sealbuild_common::eventlog::EventLog,
    measurement: &[u8; 48],
    pcr0: Option<&str>,
) -> String {
    let replay = log.replay();
    let mut s = String::from(
        "version = 1\n[[reference]]\nname = \"azure-cvm\"\nplatform = \"azure\"\nrequire_event_log = true\n[reference.pcrs.sha256]\n",
    );
    for i in 0..8u32 {
        let v = hex::encode(replay.value(sealbuild_common::HashAlg::Sha256, i).unwrap());
        let v = match (i, pcr0) {
            (0, Some(other)) => other.to_string(),
            _ => v,
        };
        s.push_str(&format!("\"{i}\" = [\"{v}\"]\n"));
    }
    s.push_str(&format!(
        "[reference.snp]\nmeasurements = [\"{}\"]\nproducts = [\"genoa\"]\nmin_abi = \"0.0\"\n\n[[key]]\nid = \"build-signing\"\nreferences = [\"azure-cvm\"]\n",
        hex::encode(measurement)
    ));
    s
}

async fn verifier(trust: bool, policy_text: String) -> TestVerifier {
    // No EK registration on this platform; the CA directory only has to exist.
    let ca = repo().join("tests/data/sev-snp/amd-roots/milan");
    let v = if trust {
        TestVerifier::start_with(&ca, trust_sim_chain).await
    } else {
        // The same VCEK in the store: only the chain's root differs.
        TestVerifier::start_with(&ca, import_vcek).await
    };
    v.service
        .generate_key("ecdsa-p256", Some("build-signing".into()))
        .await
        .unwrap();
    v.service.set_policy(policy_text).await.unwrap();
    v
}

fn collector(tpm: &Tpm) -> AzureCollector {
    AzureCollector::new(TpmBackend::open(&tpm.tcti()).unwrap(), Some(boot_log()))
        .with_agent_id("azure:ci")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_sim_attests_releases_signs_and_refuses_what_it_must() {
    let tpm = Tpm::manufacture();
    let log = tpm.simulate_boot();
    provision(&tpm);
    let v = verifier(true, policy(&log, &MEASUREMENT, None)).await;
    let client = v.client();
    let mut c = collector(&tpm);

    // Attested through the Azure platform verifier; the key released.
    let a = flow::attest(&client, &mut c, "azure:ci", None)
        .await
        .unwrap();
    assert_eq!(
        a.response.verdict,
        Verdict::Accepted,
        "{:?}",
        a.response.reasons
    );
    assert_eq!(a.keys.len(), 1);
    let ear = sealbuild_common::ear::Ear::from_cose_unverified(&a.response.ear).unwrap();
    assert!(
        ear.submods.contains_key("azure"),
        "{:?}",
        ear.submods.keys()
    );

    // The whole sealed build through the library flow on this collector:
    // runtime log in PCR 23, statement in the quote, key released, signed.
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("hello");
    sample_repo(&src, "");
    let out = work.path().join("bundle");
    let build = SealedBuild::new(BuildRequest {
        key: "build-signing".into(),
        out: out.clone(),
        source: src.clone(),
        artifacts: vec!["out/*".into()],
        env: vec![],
        name: Some("hello".into()),
        command: vec!["make".into()],
    })
    .unwrap();
    let outcome = build.run(&client, &mut c, &|_: &str| {}).await.unwrap();
    let Outcome::Signed(_) = &outcome else {
        panic!("the Azure sealed build was not signed: {outcome:?}")
    };
    let envelope = std::fs::read(out.join("hello.intoto.jsonl")).unwrap();
    let env: sealbuild_common::dsse::Envelope = serde_json::from_slice(&envelope).unwrap();
    let signer = std::fs::read_to_string(out.join("signing-key.pub.pem")).unwrap();
    let payload = DsseVerifier::from_spki_pem(&signer)
        .unwrap()
        .verify(&env)
        .unwrap()
        .to_vec();
    // The runtime log the verifier replayed ends with this statement.
    let cel = std::fs::read_to_string(out.join("evidence/runtime.cel.json")).unwrap();
    let digest = hex::encode(sealbuild_common::crypto::sha256(&payload));
    assert!(
        cel.contains(&digest),
        "the runtime log names the statement {digest}"
    );
    assert!(out.join("evidence/hcl-report.bin").is_file());
    // A new agent process for what follows (the swtpm takes one connection).
    drop(c);
    let mut c = collector(&tpm);

    // A changed byte of the SNP report inside the HCL report.
    let a = flow::attest_with(&client, &mut c, "azure:ci", None, |r| {
        let Evidence::Azure(az) = &mut r.evidence else {
            unreachable!("Azure collector")
        };
        az.hcl_report[0x20 + 0x90] ^= 1;
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

    // Evidence under a registered-style id is refused by name.
    let a = flow::attest(&client, &mut c, "000b1234", None).await;
    assert!(a.is_err() || a.unwrap().response.verdict == Verdict::Rejected);

    // Another PCR 0 and another paravisor measurement: the policy refuses.
    v.service
        .set_policy(policy(&log, &MEASUREMENT, Some(&"11".repeat(32))))
        .await
        .unwrap();
    let a = flow::attest(&client, &mut c, "azure:ci", None)
        .await
        .unwrap();
    assert_eq!(a.response.verdict, Verdict::Rejected);
    assert!(
        a.response.reasons.iter().any(|r| r.check == "pcr_policy"),
        "{:?}",
        a.response.reasons
    );
    v.service
        .set_policy(policy(&log, &[0x43; 48], None))
        .await
        .unwrap();
    let a = flow::attest(&client, &mut c, "azure:ci", None)
        .await
        .unwrap();
    assert_eq!(a.response.verdict, Verdict::Rejected);
    assert!(
        a.response
            .reasons
            .iter()
            .any(|r| r.check == "snp_measurement"),
        "{:?}",
        a.response.reasons
    );
    v.stop().await;

    // A verifier that does not trust the test chain refuses the same evidence.
    let plain = verifier(false, policy(&log, &MEASUREMENT, None)).await;
    let a = flow::attest(&plain.client(), &mut c, "azure:ci", None)
        .await
        .unwrap();
    assert_eq!(a.response.verdict, Verdict::Rejected);
    assert!(a.keys.is_empty());
    assert!(
        a.response
            .reasons
            .iter()
            .all(|r| r.check.starts_with("snp_")),
        "{:?}",
        a.response.reasons
    );
    plain.stop().await;
}
