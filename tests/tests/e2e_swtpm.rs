//! End to end on a manufactured swtpm: register, activate, attest, receive
//! the key; then every refusal the spine promises, each with its own reason,
//! no key, and a rejection in the audit log; then audit-log tampering.
//!
//! Real components only: swtpm with EK certificates from a local CA, the
//! agent's TPM backend (tss-esapi), the verifier over HTTPS on 127.0.0.1 and
//! a SQLite database file.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sealbuild_agent::flow::{self, Attested};
use sealbuild_agent::tpm::ak::{AkState, AkType};
use sealbuild_agent::tpm::collector::TpmCollector;
use sealbuild_agent::tpm::ek::EkSelection;
use sealbuild_agent::tpm::{PcrSelection, TpmBackend};
use sealbuild_common::api::{Evidence, Verdict};
use sealbuild_common::HashAlg;
use sealbuild_tests::{boot_log, data, policy_for, TestVerifier, Tpm};
use sealbuild_verifier::audit::verify_store;
use sealbuild_verifier::store::Store;
use std::collections::BTreeMap;

fn collector(tpm: &Tpm, state: &std::path::Path, with_log: bool) -> TpmCollector {
    TpmCollector::new(
        TpmBackend::open(&tpm.tcti()).unwrap(),
        AkState::load(state).unwrap(),
        "sha256:0,1,2,3,4,5,6,7".parse::<PcrSelection>().unwrap(),
        with_log.then(boot_log),
    )
}

fn assert_rejected(a: &Attested, check: &str, needle: &str) {
    assert_eq!(
        a.response.verdict,
        Verdict::Rejected,
        "expected a rejection for {check}"
    );
    assert!(
        a.keys.is_empty() && a.response.keys.is_empty(),
        "no key may be released"
    );
    assert!(
        a.response
            .reasons
            .iter()
            .any(|r| r.check == check && r.message.contains(needle)),
        "expected a '{check}' reason containing '{needle}', got {:#?}",
        a.response.reasons
    );
}

fn audit_verdicts(store: &dyn Store) -> Vec<(String, serde_json::Value)> {
    store
        .audit_entries(1, 10_000)
        .unwrap()
        .into_iter()
        .map(|e| {
            let j = e.to_json();
            let v = serde_json::to_value(&j).unwrap();
            (v["kind"].as_str().unwrap().to_string(), v["body"].clone())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spine_end_to_end_on_swtpm() {
    let tpm = Tpm::manufacture();
    let log = tpm.simulate_boot();
    let v = TestVerifier::start(&tpm.ca_certs()).await;
    let client = v.client();

    // Reference values: what the boot log says PCR 0-7 must be.
    let replay = log.replay();
    let expected: BTreeMap<u32, Vec<u8>> = (0..8)
        .map(|i| (i, replay.value(HashAlg::Sha256, i).unwrap().to_vec()))
        .collect();
    let key = v
        .service
        .generate_key("ed25519", Some("build-signing".into()))
        .await
        .unwrap();
    v.service
        .set_policy(policy_for("build-signing", &expected, None))
        .await
        .unwrap();

    // Register + activate.
    let state = tempfile::tempdir().unwrap();
    let mut backend = TpmBackend::open(&tpm.tcti()).unwrap();
    let reg = flow::register(
        &client,
        &mut backend,
        EkSelection::Auto,
        AkType::Ecc,
        state.path(),
    )
    .await
    .unwrap();
    drop(backend);
    assert!(
        reg.ek_issuer
            .as_deref()
            .unwrap_or("")
            .contains("swtpm-localca"),
        "EK anchored at the local CA: {:?}",
        reg.ek_issuer
    );
    let agent_id = reg.agent_id.clone();

    // Accepted: the key the agent unseals is the verifier's key.
    let mut c = collector(&tpm, state.path(), true);
    let ok = flow::attest(&client, &mut c, &agent_id, None)
        .await
        .unwrap();
    assert_eq!(
        ok.response.verdict,
        Verdict::Accepted,
        "{:#?}",
        ok.response.reasons
    );
    assert_eq!(ok.keys.len(), 1);
    assert_eq!(ok.keys[0].key_id, "build-signing");
    assert_eq!(ok.keys[0].fingerprint, key.fingerprint);
    assert_eq!(ok.keys[0].public_key_pem, key.public_key_pem);
    // The EAR verifies with the verifier's result key and carries the binding.
    let pem = client.result_key().await.unwrap();
    let vk = <p256::ecdsa::VerifyingKey as p256::pkcs8::DecodePublicKey>::from_public_key_pem(&pem)
        .unwrap();
    let ear = sealbuild_verifier_core::ear::Ear::verify(&ok.response.ear, &vk).unwrap();
    assert_eq!(ear.submods["tpm"].binding, ok.binding.to_vec());
    assert_eq!(ear.nonce, ok.nonce.to_vec());
    let first_nonce = hex::encode(ok.nonce);

    // Wrong nonce: the request names a nonce the verifier issued, but the
    // quote carries another.
    let other = client
        .nonce(&sealbuild_common::api::NonceRequest {
            agent_id: agent_id.clone(),
        })
        .await
        .unwrap();
    let a = flow::attest_with(&client, &mut c, &agent_id, None, |r| {
        r.nonce = other.nonce.clone()
    })
    .await
    .unwrap();
    assert_rejected(&a, "binding", "qualifying data (nonce) mismatch");

    // A nonce never issued.
    let a = flow::attest_with(&client, &mut c, &agent_id, None, |r| {
        r.nonce = "ab".repeat(32)
    })
    .await
    .unwrap();
    assert_rejected(&a, "nonce", "never issued");

    // Reused nonce (replay of the first attestation's nonce).
    let a = flow::attest_with(&client, &mut c, &agent_id, None, |r| {
        r.nonce = first_nonce.clone()
    })
    .await
    .unwrap();
    assert_rejected(&a, "nonce", "already used");

    // Expired nonce: time moves past the nonce's expiry before it is used.
    let clock = v.clock.clone();
    let a = flow::attest_with(&client, &mut c, &agent_id, None, |_| clock.advance(3600))
        .await
        .unwrap();
    v.clock.advance(-3600);
    assert_rejected(&a, "nonce", "expired");

    // One flipped byte in the quote.
    let a = flow::attest_with(&client, &mut c, &agent_id, None, |r| {
        let Evidence::Tpm(t) = &mut r.evidence else {
            unreachable!("TPM collector")
        };
        let last = t.quote.len() - 1;
        t.quote[last] ^= 0x01;
    })
    .await
    .unwrap();
    assert_rejected(&a, "quote_signature", "does not verify");

    // Tampered event log: one digest of a PCR 4 event changed; replay no
    // longer gives the quoted PCR 4.
    let a = flow::attest_with(&client, &mut c, &agent_id, None, |r| {
        let Evidence::Tpm(t) = &mut r.evidence else {
            unreachable!("TPM collector")
        };
        let bytes = t.event_log.as_mut().unwrap();
        let parsed = sealbuild_common::eventlog::EventLog::parse(bytes).unwrap();
        let ev = parsed
            .events()
            .iter()
            .find(|e| e.pcr == 4 && e.digest(HashAlg::Sha256).is_some())
            .unwrap();
        let d = ev.digest(HashAlg::Sha256).unwrap().to_vec();
        let pos = bytes.windows(32).position(|w| w == d.as_slice()).unwrap();
        bytes[pos] ^= 0xff;
    })
    .await
    .unwrap();
    assert_rejected(&a, "event_log_replay", "PCR 4 (sha256)");

    // Substituted ephemeral key: a man in the middle swaps in its own key.
    let a = flow::attest_with(&client, &mut c, &agent_id, None, |r| {
        let (_, pk) = sealbuild_common::seal::generate_keypair(&mut rand_core::OsRng);
        r.ephemeral_public_key = pk;
    })
    .await
    .unwrap();
    assert_rejected(&a, "binding", "substituted ephemeral key");

    // A PCR value outside policy.
    let mut wrong = expected.clone();
    wrong.insert(7, vec![0x11; 32]);
    v.service
        .set_policy(policy_for("build-signing", &wrong, None))
        .await
        .unwrap();
    let a = flow::attest(&client, &mut c, &agent_id, None)
        .await
        .unwrap();
    assert_rejected(&a, "pcr_policy", "PCR 7 (sha256): expected 1111");
    assert!(
        a.response
            .reasons
            .iter()
            .any(|r| r.message.contains("last event")),
        "the PCR mismatch names the event: {:#?}",
        a.response.reasons
    );
    v.service
        .set_policy(policy_for("build-signing", &expected, None))
        .await
        .unwrap();

    // An AK that never completed activation.
    let state2 = tempfile::tempdir().unwrap();
    let mut backend = TpmBackend::open(&tpm.tcti()).unwrap();
    let reg2 = backend.register(EkSelection::Auto, AkType::Rsa).unwrap();
    drop(backend);
    reg2.ak.save(state2.path()).unwrap();
    let resp = client.register(&reg2.register_request()).await.unwrap();
    let err = client
        .nonce(&sealbuild_common::api::NonceRequest {
            agent_id: resp.agent_id.clone(),
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("409"), "{err}");
    let mut c2 = collector(&tpm, state2.path(), true);
    // It borrows a nonce issued to the active agent: refused as not activated.
    let borrowed = client
        .nonce(&sealbuild_common::api::NonceRequest {
            agent_id: agent_id.clone(),
        })
        .await
        .unwrap();
    let a = flow::attest_with(&client, &mut c2, &agent_id, None, |r| {
        r.agent_id = resp.agent_id.clone();
        r.nonce = borrowed.nonce.clone();
    })
    .await
    .unwrap();
    assert_rejected(&a, "agent", "never completed activation");

    // A disabled key is not released, and the refusal says so.
    v.store.set_key_disabled("build-signing", true, 0).unwrap();
    let a = flow::attest(&client, &mut c, &agent_id, None)
        .await
        .unwrap();
    assert_rejected(&a, "key_disabled", "disabled in the key store");
    v.store.set_key_disabled("build-signing", false, 0).unwrap();

    // Still serving, and the genuine agent still gets its key.
    let again = flow::attest(&client, &mut c, &agent_id, None)
        .await
        .unwrap();
    assert_eq!(
        again.response.verdict,
        Verdict::Accepted,
        "{:#?}",
        again.response.reasons
    );
    assert_eq!(again.keys.len(), 1);

    // The audit log: every decision, releases only for acceptances.
    let entries = audit_verdicts(v.store.as_ref());
    let appraisals: Vec<_> = entries.iter().filter(|(k, _)| k == "appraisal").collect();
    let rejected = appraisals
        .iter()
        .filter(|(_, b)| b["verdict"] == "rejected")
        .count();
    let accepted = appraisals
        .iter()
        .filter(|(_, b)| b["verdict"] == "accepted")
        .count();
    assert_eq!(accepted, 2);
    assert_eq!(rejected, 10);
    assert_eq!(entries.iter().filter(|(k, _)| k == "release").count(), 2);
    verify_store(v.store.as_ref(), None).unwrap();
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ek_from_unknown_ca_is_refused_and_audited() {
    let tpm = Tpm::manufacture();
    // The verifier trusts only the GCE EK CAs, not this TPM's manufacturer.
    let v = TestVerifier::start(&data("tpm/go-tpm-tools/gce-ca-certs")).await;
    let client = v.client();
    let mut backend = TpmBackend::open(&tpm.tcti()).unwrap();
    let reg = backend.register(EkSelection::Auto, AkType::Ecc).unwrap();
    let err = client.register(&reg.register_request()).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("400") && msg.contains("EK certificate"),
        "{msg}"
    );
    // A refused registration proves nothing about its sender: it is counted
    // into the interval's aggregate entry, written at the interval's end.
    let before = audit_verdicts(v.store.as_ref()).len();
    assert_eq!(v.service.flush_refusals().await.unwrap(), 1);
    let entries = audit_verdicts(v.store.as_ref());
    assert_eq!(entries.len(), before + 1);
    let (kind, body) = entries.last().unwrap();
    assert_eq!(kind, "notice");
    assert_eq!(body["message"], "refusals aggregated", "{body:#}");
    assert_eq!(body["details"]["by_check"]["registration"], 1, "{body:#}");
    assert_eq!(
        body["details"]["top_sources"][0]["source"], "127.0.0.1",
        "{body:#}"
    );
    v.stop().await;
}
