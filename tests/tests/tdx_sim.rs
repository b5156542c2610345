//! The Intel TDX flow end to end on the INSECURE simulated backend: a real
//! verifier on loopback (HTTPS, SQLite file, collateral store on disk)
//! appraises quotes signed through the published test PCK chain with the
//! same DCAP code as real quotes (PCK chain, CRLs, QE report, quote
//! signature, TCB Info and QE Identity), replays the simulated CCEL into
//! RTMR0–2 and a sealed build's runtime log into RTMR3, releases the key,
//! and the library's sealed build signs provenance that verifies offline.
//! Tampered, foreign, debug and unconfigured cases release nothing.
// Test code: a failed unwrap, expect or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sealbuild_agent::client::VerifierClient;
use sealbuild_agent::evidence::EvidenceCollector;
use sealbuild_agent::flow;
use sealbuild_agent::insecure_tdx_sim;
use sealbuild_agent::sealed_build::{BuildRequest, Outcome, SealedBuild};
use sealbuild_common::api::{Evidence, Verdict};
use sealbuild_common::cel::CelLog;
use sealbuild_insecure_tdx_sim::{collateral, InsecureSimulatedTdx, SimConfig};
use sealbuild_tests::{repo, run_sealed_build, sample_repo, TestVerifier};
use sealbuild_verifier::config::Config;
use sealbuild_verifier_core::bundle::{verify_bundle, BundleInput};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Mutex;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A collateral store holding the simulated platform's collateral.
fn collateral_store() -> tempfile::TempDir {
    let store = tempfile::tempdir().unwrap();
    let dir = store.path().join(collateral::store_subdir());
    std::fs::create_dir_all(&dir).unwrap();
    for (name, bytes) in collateral::collateral(now()).unwrap().pcs_files() {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    store
}

fn policy(allowed_commit: &str) -> String {
    let sim = InsecureSimulatedTdx::new(SimConfig::default()).unwrap();
    let [r0, r1, r2] = sim.boot_rtmrs();
    format!(
        "version = 1\n\n[[reference]]\nname = \"tdx-sim-td\"\nplatform = \"tdx\"\n\n[reference.tdx]\nmrtd = [\"{}\"]\nrtmr0 = [\"{}\"]\nrtmr1 = [\"{}\"]\nrtmr2 = [\"{}\"]\nmr_seam = [\"{}\"]\n\n[[key]]\nid = \"release\"\nreferences = [\"tdx-sim-td\"]\n[key.statement]\nsource_digests = [\"gitCommit:{allowed_commit}\"]\n\n[[key]]\nid = \"platform-key\"\nreferences = [\"tdx-sim-td\"]\n",
        hex::encode(sim.config().mr_td),
        hex::encode(r0),
        hex::encode(r1),
        hex::encode(r2),
        hex::encode(sealbuild_insecure_tdx_sim::mr_seam()),
    )
}

struct Env {
    v: TestVerifier,
    client: VerifierClient,
    _store: Option<tempfile::TempDir>,
}

/// A verifier trusting the test root (`trust`), with (`collateral`) or
/// without the simulated platform's collateral, granting `release` to
/// builds of `commit` in the simulated TD.
async fn env(trust: bool, with_collateral: bool, commit: &str) -> Env {
    let store = with_collateral.then(collateral_store);
    let store_path = store.as_ref().map(|s| s.path().to_path_buf());
    let ca = repo().join("tests/data/sev-snp/amd-roots/milan");
    let v = TestVerifier::start_with(&ca, |cfg: &mut Config| {
        if trust {
            cfg.tdx_insecure_test_root = Some(repo().join("insecure/tdx-sim/test-chain/root.der"));
        }
        cfg.snp_collateral_dir = store_path;
    })
    .await;
    for id in ["release", "platform-key"] {
        v.service
            .generate_key("ed25519", Some(id.into()))
            .await
            .unwrap();
    }
    v.service.set_policy(policy(commit)).await.unwrap();
    let client = v.client();
    Env {
        v,
        client,
        _store: store,
    }
}

fn request(source: &Path, out: &Path) -> BuildRequest {
    BuildRequest {
        key: "release".into(),
        out: out.to_path_buf(),
        source: source.to_path_buf(),
        artifacts: vec!["out/*".into()],
        env: vec![],
        name: Some("x".into()),
        command: vec!["make".into()],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_tdx_sealed_build_releases_signs_and_verifies_offline() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    let commit = sample_repo(&src, "");
    let e = env(true, true, &commit).await;
    let out = work.path().join("bundle");
    let build = SealedBuild::new(request(&src, &out)).unwrap();
    let mut c = insecure_tdx_sim::collector(None)
        .unwrap()
        .with_agent_id("tdx:ci");
    let (outcome, progress) = run_sealed_build(&build, &e.client, &mut c).await;
    let Outcome::Signed(signed) = &outcome else {
        panic!("{outcome:?} {progress:?}")
    };
    assert_eq!(signed.key_id, "release");
    assert_eq!(signed.artifacts, 2, "out/hello and out/hello.c");
    assert!(
        progress[1].starts_with("TDX evidence via INSECURE simulated TDX"),
        "{progress:?}"
    );

    // The runtime log is RTMR3's: three records, SHA-384, handle 3.
    let cel =
        CelLog::parse(&std::fs::read(out.join("evidence/runtime-log.cel.json")).unwrap()).unwrap();
    assert_eq!(cel.records.len(), 3, "source, command, statement");
    assert!(cel.records.iter().all(|r| r.pcr == 3));
    assert!(out.join("evidence/quote.dat").is_file());
    assert!(out.join("evidence/ccel.bin").is_file());

    // Offline: envelope, artefacts, the verifier's EAR naming the statement.
    let envelope = std::fs::read(&signed.envelope).unwrap();
    let signer = std::fs::read_to_string(out.join("signing-key.pub.pem")).unwrap();
    let ear = std::fs::read(out.join("evidence/ear.cose")).unwrap();
    let vkey = {
        use p256::pkcs8::DecodePublicKey;
        p256::ecdsa::VerifyingKey::from_public_key_pem(&e.v.service.result_key_pem().unwrap())
            .unwrap()
    };
    let artifacts = out.join("artifacts");
    let lookup = |name: &str| {
        std::fs::read(artifacts.join(name))
            .ok()
            .map(|b| Ok(<[u8; 32]>::from(Sha256::digest(b))))
    };
    let report = verify_bundle(&BundleInput {
        envelope: &envelope,
        signer_key_pem: &signer,
        artifacts: &lookup,
        ear: Some((&ear, &vkey)),
        evidence: None,
        at_unix_secs: now(),
        runtime_pcr: 23,
        collateral: None,
    });
    assert!(report.checks.iter().all(|c| c.ok), "{:#?}", report.checks);
    for want in [
        "dsse_signature",
        "subject:out/hello",
        "ear_signature",
        "ear_statement",
    ] {
        assert!(report.checks.iter().any(|c| c.check == want), "no {want}");
    }
    // The raw evidence, re-checked offline: bundle verification trusts
    // only Intel's root, so the simulated quote is refused, naming it; and
    // without collateral it names what is missing.
    let req: sealbuild_common::api::AttestRequest =
        serde_json::from_slice(&std::fs::read(out.join("evidence/attest-request.json")).unwrap())
            .unwrap();
    let store = collateral_store();
    let col = sealbuild_verifier_core::platform::Collateral {
        tdx: Some(Box::new(
            sealbuild_verifier::collateral::tdx::read_dir(
                &store.path().join(collateral::store_subdir()),
            )
            .unwrap(),
        )),
        ..Default::default()
    };
    for (collateral, want) in [
        (Some(&col), "Intel SGX Root CA"),
        (None, "no DCAP collateral"),
    ] {
        let report = verify_bundle(&BundleInput {
            envelope: &envelope,
            signer_key_pem: &signer,
            artifacts: &lookup,
            ear: None,
            evidence: Some((&req, &[])),
            at_unix_secs: now(),
            runtime_pcr: 23,
            collateral,
        });
        let ev = report
            .checks
            .iter()
            .find(|c| c.check == "evidence_quote")
            .unwrap();
        assert!(!ev.ok && ev.detail.contains(want), "{ev:?}");
    }

    let ear = sealbuild_common::ear::Ear::from_cose_unverified(&ear).unwrap();
    let sub = &ear.submods["tdx"];
    assert_eq!(sub.agent_id, "tdx:ci");
    assert_eq!(
        sub.statement_digest.as_deref(),
        Some(&signed.statement_digest[..])
    );

    // A build of another commit is refused: nothing signed.
    let other_src = work.path().join("other");
    sample_repo(&other_src, "other");
    let out2 = work.path().join("bundle2");
    let build = SealedBuild::new(request(&other_src, &out2)).unwrap();
    let mut c = insecure_tdx_sim::collector(None)
        .unwrap()
        .with_agent_id("tdx:ci");
    let (outcome, _) = run_sealed_build(&build, &e.client, &mut c).await;
    assert!(!matches!(outcome, Outcome::Signed(_)), "{outcome:?}");
    e.v.stop().await;
}

async fn attest_rejected(
    e: &Env,
    c: &mut dyn EvidenceCollector,
    edit: impl FnOnce(&mut sealbuild_common::api::AttestRequest) + Send,
) -> Vec<(String, String)> {
    let a = flow::attest_with(&e.client, c, "tdx:ci", None, edit)
        .await
        .unwrap();
    assert_eq!(a.response.verdict, Verdict::Rejected, "{:?}", a.response);
    assert!(a.keys.is_empty());
    a.response
        .reasons
        .iter()
        .map(|r| (r.check.clone(), r.message.clone()))
        .collect()
}

fn tdx(r: &mut sealbuild_common::api::AttestRequest) -> &mut sealbuild_common::api::TdxEvidence {
    let Evidence::Tdx(t) = &mut r.evidence else {
        unreachable!("TDX collector")
    };
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_foreign_and_debug_tds_are_refused() {
    let e = env(true, true, "0000000000000000000000000000000000000000").await;
    let mut c = insecure_tdx_sim::collector(None)
        .unwrap()
        .with_agent_id("tdx:ci");

    // The untouched evidence is accepted and the key without a statement
    // policy released (the build key needs a sealed build's statement).
    let a = flow::attest(&e.client, &mut c, "tdx:ci", None)
        .await
        .unwrap();
    assert_eq!(a.response.verdict, Verdict::Accepted, "{:?}", a.response);
    let ids: Vec<&str> = a.keys.iter().map(|k| k.key_id.as_str()).collect();
    assert_eq!(ids, ["platform-key"]);

    // A flipped MRTD byte breaks the quote signature.
    let r = attest_rejected(&e, &mut c, |r| tdx(r).quote[48 + 136] ^= 1).await;
    assert_eq!(r[0].0, "tdx_signature", "{r:?}");

    // A changed CCEL event no longer replays to the quoted RTMR0: the
    // reason names the register and the event.
    let r = attest_rejected(&e, &mut c, |r| {
        let ccel = tdx(r).ccel.as_mut().unwrap();
        let needle = sealbuild_insecure_tdx_sim::ccel::FIRMWARE_EVENT;
        let at = ccel
            .windows(needle.len())
            .position(|w| w == needle)
            .unwrap();
        ccel[at] ^= 0x20;
    })
    .await;
    assert_eq!(r[0].0, "tdx_ccel", "{r:?}");
    assert!(
        r[0].1.contains("CCEL event 1 (EV_EFI_ACTION, RTMR0)"),
        "{r:?}"
    );

    // Another TD (MRTD) is not in the reference set.
    let mut other = insecure_tdx_sim::collector(Some([7u8; 48]))
        .unwrap()
        .with_agent_id("tdx:ci");
    let r = attest_rejected(&e, &mut other, |_| {}).await;
    assert_eq!(r[0].0, "tdx_mrtd", "{r:?}");
    assert!(r[0].1.contains(&hex::encode([7u8; 48])), "{r:?}");

    // Quote made for one nonce does not pass with the next.
    let first = Mutex::new(None);
    flow::attest_with(&e.client, &mut c, "tdx:ci", None, |r| {
        *first.lock().unwrap() = Some(r.evidence.clone());
    })
    .await
    .unwrap();
    let replay = first.lock().unwrap().take().unwrap();
    let r = attest_rejected(&e, &mut c, |r| r.evidence = replay).await;
    assert_eq!(r[0].0, "tdx_binding", "{r:?}");

    let entries = e.v.service.audit_entries(1, 10_000).await.unwrap();
    assert!(entries.len() >= 6, "{} entries", entries.len());
    e.v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_tds_and_out_of_date_modules_are_refused_by_the_default_policy() {
    let e = env(true, true, "0000000000000000000000000000000000000000").await;
    for (config, check) in [
        (
            SimConfig {
                td_attributes: SimConfig::default().td_attributes
                    | sealbuild_common::tdx::TD_ATTR_DEBUG,
                ..SimConfig::default()
            },
            "tdx_debug",
        ),
        (
            SimConfig {
                tee_tcb_svn: sealbuild_insecure_tdx_sim::TEE_TCB_SVN_OUT_OF_DATE,
                ..SimConfig::default()
            },
            "tdx_tcb",
        ),
    ] {
        let mut c = SimCollector::new(config);
        let r = attest_rejected(&e, &mut c.0, |_| {}).await;
        assert!(r.iter().any(|(c, _)| c == check), "{check}: {r:?}");
    }
    e.v.stop().await;
}

/// A TDX collector on a simulated TD with a non-default configuration.
struct SimCollector(sealbuild_agent::tdx::TdxCollector);

impl SimCollector {
    fn new(config: SimConfig) -> Self {
        Self(
            insecure_tdx_sim::collector_with(config)
                .unwrap()
                .with_agent_id("tdx:ci"),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unconfigured_verifier_or_missing_collateral_refuses() {
    // Intel's root only: the test PCK chain does not end in it.
    let e = env(false, true, "0000000000000000000000000000000000000000").await;
    let mut c = insecure_tdx_sim::collector(None)
        .unwrap()
        .with_agent_id("tdx:ci");
    let r = attest_rejected(&e, &mut c, |_| {}).await;
    assert_eq!(r[0].0, "tdx_pck", "{r:?}");
    assert!(r[0].1.contains("Intel SGX Root CA"), "{r:?}");
    e.v.stop().await;

    // The test root, but no collateral for the platform in the store.
    let e = env(true, false, "0000000000000000000000000000000000000000").await;
    let r = attest_rejected(&e, &mut c, |_| {}).await;
    assert_eq!(r[0].0, "tdx_collateral", "{r:?}");
    assert!(r[0].1.contains("5ea1b1000000"), "{r:?}");
    e.v.stop().await;
}
