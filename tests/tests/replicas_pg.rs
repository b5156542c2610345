//! Two verifier replicas over one real PostgreSQL database (a throwaway
//! cluster, see `sealbuild_tests::pg`), each with its own store, service and
//! HTTPS port, sharing the master key, result key and TLS certificate as
//! replicas behind a load balancer do:
//!
//! * an agent registers on one replica and attests on the other (nonce
//!   minted by one, consumed by the other) and receives its key;
//! * 20 copies of one attestation race across both replicas: exactly one is
//!   accepted with the key, 19 are refused as replays;
//! * a policy change and a key disabled through one replica take effect on
//!   the other without a restart;
//! * the audit log is one chain, verified through either replica.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sealbuild_agent::flow;
use sealbuild_agent::tpm::ak::{AkState, AkType};
use sealbuild_agent::tpm::collector::TpmCollector;
use sealbuild_agent::tpm::ek::EkSelection;
use sealbuild_agent::tpm::{PcrSelection, TpmBackend};
use sealbuild_common::api::Verdict;
use sealbuild_common::HashAlg;
use sealbuild_tests::{boot_log, pg, policy_for, TestVerifier, Tpm};
use sealbuild_verifier::audit::{verify_store, AuditHead};
use std::collections::BTreeMap;

fn collector(tpm: &Tpm, state: &std::path::Path) -> TpmCollector {
    TpmCollector::new(
        TpmBackend::open(&tpm.tcti()).unwrap(),
        AkState::load(state).unwrap(),
        "sha256:0,1,2,3,4,5,6,7".parse::<PcrSelection>().unwrap(),
        Some(boot_log()),
    )
}

/// Verifies the audit chain through `v`'s own store; returns its head.
fn verified_head(v: &TestVerifier) -> AuditHead {
    let store = v.store.clone();
    pg::off_async(move || verify_store(store.as_ref(), None).unwrap().head)
}

struct Setup {
    tpm: Tpm,
    replicas: Vec<TestVerifier>,
    state: tempfile::TempDir,
    agent_id: String,
    good_pcrs: BTreeMap<u32, Vec<u8>>,
}

/// Two replicas, a key and a policy made through replica 0, an agent
/// registered (and activated) through replica 0.
async fn setup() -> Setup {
    let tpm = Tpm::manufacture();
    let log = tpm.simulate_boot();
    let replicas = TestVerifier::start_replicas(&tpm.ca_certs(), 2).await;
    let replay = log.replay();
    let good_pcrs: BTreeMap<u32, Vec<u8>> = (0..8)
        .map(|i| (i, replay.value(HashAlg::Sha256, i).unwrap().to_vec()))
        .collect();
    replicas[0]
        .service
        .generate_key("ed25519", Some("build-signing".into()))
        .await
        .unwrap();
    replicas[0]
        .service
        .set_policy(policy_for("build-signing", &good_pcrs, None))
        .await
        .unwrap();
    let state = tempfile::tempdir().unwrap();
    let mut backend = TpmBackend::open(&tpm.tcti()).unwrap();
    let reg = flow::register(
        &replicas[0].client(),
        &mut backend,
        EkSelection::Auto,
        AkType::Ecc,
        state.path(),
    )
    .await
    .unwrap();
    drop(backend);
    Setup {
        agent_id: reg.agent_id,
        tpm,
        replicas,
        state,
        good_pcrs,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_registers_on_one_replica_and_attests_on_the_other() {
    let s = setup().await;
    let (a, b) = (&s.replicas[0], &s.replicas[1]);
    // The nonce comes from replica A, the attestation goes to replica B.
    let mut c = collector(&s.tpm, s.state.path());
    let prepared = flow::prepare(&a.client(), &mut c, &s.agent_id, None)
        .await
        .unwrap();
    let response = b.client().attest(&prepared.request).await.unwrap();
    let attested = prepared.open(response).unwrap();
    assert_eq!(
        attested.response.verdict,
        Verdict::Accepted,
        "{:#?}",
        attested.response.reasons
    );
    assert_eq!(attested.keys.len(), 1);
    assert_eq!(attested.keys[0].key_id, "build-signing");

    // And the other way round, through the plain flow on B after A.
    let mut c = collector(&s.tpm, s.state.path());
    let again = flow::attest(&b.client(), &mut c, &s.agent_id, None)
        .await
        .unwrap();
    assert_eq!(again.response.verdict, Verdict::Accepted);

    // One chain, the same head through both replicas.
    let head_a = verified_head(a);
    assert_eq!(head_a, verified_head(b));
    let kinds: Vec<String> = {
        let store = a.store.clone();
        pg::off_async(move || store.audit_entries(1, 100).unwrap())
            .into_iter()
            .map(|e| e.kind)
            .collect()
    };
    assert_eq!(
        kinds,
        [
            "key_created",
            "policy_update",
            "agent_registered",
            "agent_activated",
            "appraisal",
            "release",
            "appraisal",
            "release"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_requests_race_for_one_nonce_across_replicas() {
    let s = setup().await;
    let mut c = collector(&s.tpm, s.state.path());
    let prepared = flow::prepare(&s.replicas[0].client(), &mut c, &s.agent_id, None)
        .await
        .unwrap();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(20));
    let mut tasks = Vec::new();
    for i in 0..20 {
        let client = s.replicas[i % 2].client();
        let request = prepared.request.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            client.attest(&request).await.unwrap()
        }));
    }
    let mut accepted = Vec::new();
    let mut replays = 0;
    for t in tasks {
        let r = t.await.unwrap();
        match r.verdict {
            Verdict::Accepted => accepted.push(r),
            Verdict::Rejected => {
                assert!(r.keys.is_empty(), "a refused request carries no key");
                assert!(
                    r.reasons
                        .iter()
                        .any(|x| x.check == "nonce" && x.message.contains("already used")),
                    "{:#?}",
                    r.reasons
                );
                replays += 1;
            }
        }
    }
    assert_eq!(accepted.len(), 1, "exactly one request wins the nonce");
    assert_eq!(replays, 19);
    let won = prepared.open(accepted.remove(0)).unwrap();
    assert_eq!(won.keys.len(), 1);
    // One release in the log, in one chain seen alike by both replicas.
    let store = s.replicas[1].store.clone();
    let entries = pg::off_async(move || store.audit_entries(1, 1000).unwrap());
    assert_eq!(entries.iter().filter(|e| e.kind == "release").count(), 1);
    assert_eq!(entries.iter().filter(|e| e.kind == "appraisal").count(), 20);
    assert_eq!(verified_head(&s.replicas[0]), verified_head(&s.replicas[1]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_and_key_changes_on_one_replica_are_seen_by_the_other() {
    let s = setup().await;
    let (a, b) = (&s.replicas[0], &s.replicas[1]);
    let attest_on_b = || async {
        let mut c = collector(&s.tpm, s.state.path());
        flow::attest(&b.client(), &mut c, &s.agent_id, None)
            .await
            .unwrap()
    };
    assert_eq!(attest_on_b().await.response.verdict, Verdict::Accepted);

    // A policy that pins PCR 0 to another value, set through A: B applies
    // it on its next attestation (the version in the database is the truth).
    let mut wrong = s.good_pcrs.clone();
    wrong.insert(0, vec![0x11; 32]);
    let v2 = a
        .service
        .set_policy(policy_for("build-signing", &wrong, None))
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    assert_eq!(b.service.current_policy().await.unwrap().version, 2);
    let refused = attest_on_b().await;
    assert_eq!(refused.response.verdict, Verdict::Rejected);
    assert!(refused.keys.is_empty());

    // Back to the good policy through A: B accepts again.
    a.service
        .set_policy(policy_for("build-signing", &s.good_pcrs, None))
        .await
        .unwrap();
    let ok = attest_on_b().await;
    assert_eq!(ok.response.verdict, Verdict::Accepted);
    assert_eq!(ok.keys.len(), 1);

    // A key disabled through A is not released by B.
    let store = a.store.clone();
    pg::off_async(move || store.set_key_disabled("build-signing", true, 1).unwrap());
    let no_key = attest_on_b().await;
    assert!(no_key.keys.is_empty() && no_key.response.keys.is_empty());
    assert!(
        no_key
            .response
            .reasons
            .iter()
            .any(|r| r.message.contains("disabled")),
        "{:#?}",
        no_key.response.reasons
    );
    assert_eq!(verified_head(a), verified_head(b));
}
