//! `record_decision`: the appraisal entry and its releases commit together or
//! not at all, on a real database (SQLite file and PostgreSQL).

// Test code: panicking on an unexpected result is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod store_support;

use sealbuild_common::api::Verdict;
use sealbuild_verifier::audit::{verify_store, AuditHead, ReleaseBody, ReleaseRecord};
use sealbuild_verifier::keys::{KeyAlgorithm, KeyManager, MasterKey};
use sealbuild_verifier::store::{Store, StoreError};
use std::sync::Arc;
use store_support::*;

both_backends!(
    an_accepted_decision_writes_appraisal_and_releases_together,
    a_release_failing_its_foreign_key_rolls_back_the_appraisal,
    a_disabled_key_refuses_the_whole_decision,
    inconsistent_decisions_are_refused_before_writing,
    rejections_are_recorded_even_for_unknown_agents,
);

struct Fixture {
    db: TestDb,
    store: Arc<dyn Store>,
}

/// An active agent `a1`, a pending agent `p1` and keys `k1`, `k2`.
fn fixture(backend: Backend) -> Fixture {
    let db = TestDb::new(backend);
    let store = db.open();
    active_agent(store.as_ref(), "a1", NOW);
    store
        .register_agent(&new_agent("p1"), &challenge("cp", NOW), NOW)
        .unwrap();
    let km = KeyManager::new(MasterKey::from_bytes([3; 32]));
    for id in ["k1", "k2"] {
        let k = km.generate(KeyAlgorithm::Ed25519, Some(id)).unwrap();
        store.insert_key(&k, NOW).unwrap();
    }
    Fixture { db, store }
}

fn release(key_id: &str) -> ReleaseRecord {
    ReleaseRecord {
        key_id: key_id.into(),
        ephemeral_key_digest: [0xee; 32],
        result_digest: [0xd2; 32],
    }
}

/// Asserts that nothing was written since `head`.
fn assert_unchanged(f: &Fixture, head: AuditHead, releases: i64) {
    assert_eq!(f.store.audit_head().unwrap(), head);
    assert_eq!(f.db.count("audit") as u64, head.seq);
    assert_eq!(f.db.count("releases"), releases);
    verify_store(f.store.as_ref(), None).unwrap();
}

fn an_accepted_decision_writes_appraisal_and_releases_together(backend: Backend) {
    let f = fixture(backend);
    let before = f.store.audit_head().unwrap();
    let head = f
        .store
        .record_decision(
            appraisal("a1", Verdict::Accepted, NOW + 10),
            vec![release("k1"), release("k2")],
        )
        .unwrap();
    assert_eq!(head.seq, before.seq + 3);
    assert_eq!(head, f.store.audit_head().unwrap());

    let entries = f.store.audit_entries(before.seq + 1, 10).unwrap();
    let kinds: Vec<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["appraisal", "release", "release"]);
    let appraisal_seq = entries[0].seq;
    let appraisal: serde_json::Value = serde_json::from_str(&entries[0].body).unwrap();
    assert_eq!(appraisal["verdict"], "accepted");
    assert_eq!(appraisal["evidence_digest"], "e1".repeat(32));
    assert_eq!(appraisal["policy_version"], 1);
    for (e, key) in entries[1..].iter().zip(["k1", "k2"]) {
        let body: ReleaseBody = serde_json::from_str(&e.body).unwrap();
        assert_eq!(body.key_id, key);
        assert_eq!(body.recipient.agent_id, "a1");
        assert_eq!(body.recipient.ephemeral_key_digest, [0xee; 32]);
        assert_eq!(body.result_digest, [0xd2; 32]);
        assert_eq!(body.appraisal_seq, appraisal_seq);
        assert_eq!(e.time, NOW + 10);
    }
    let rows: Vec<(u64, u64, String, String)> = f
        .db
        .rows("SELECT audit_seq, appraisal_seq, key_id, agent_id FROM releases ORDER BY audit_seq")
        .into_iter()
        .map(|r| {
            (
                r[0].parse().unwrap(),
                r[1].parse().unwrap(),
                r[2].clone(),
                r[3].clone(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (appraisal_seq + 1, appraisal_seq, "k1".into(), "a1".into()),
            (appraisal_seq + 2, appraisal_seq, "k2".into(), "a1".into())
        ]
    );
    verify_store(f.store.as_ref(), None).unwrap();
}

fn a_release_failing_its_foreign_key_rolls_back_the_appraisal(backend: Backend) {
    let f = fixture(backend);
    let before = f.store.audit_head().unwrap();
    let err = f
        .store
        .record_decision(
            appraisal("a1", Verdict::Accepted, NOW + 10),
            vec![release("k1"), release("no-such-key")],
        )
        .unwrap_err();
    // The database's foreign key refused the second release row, after the
    // appraisal entry and the first release were already inserted.
    let StoreError::Constraint { message, .. } = &err else {
        panic!("expected a constraint error, got {err}")
    };
    assert!(message.contains("no-such-key"), "{message}");
    assert!(message.contains("FOREIGN KEY"), "{message}");
    assert_unchanged(&f, before, 0);

    // The same decision without the bad key then commits normally.
    let head = f
        .store
        .record_decision(
            appraisal("a1", Verdict::Accepted, NOW + 11),
            vec![release("k1")],
        )
        .unwrap();
    assert_eq!(head.seq, before.seq + 2);
}

fn a_disabled_key_refuses_the_whole_decision(backend: Backend) {
    let f = fixture(backend);
    f.store.set_key_disabled("k2", true, NOW + 1).unwrap();
    let before = f.store.audit_head().unwrap();
    let err = f
        .store
        .record_decision(
            appraisal("a1", Verdict::Accepted, NOW + 10),
            vec![release("k1"), release("k2")],
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert!(err.to_string().contains("'k2' is disabled"), "{err}");
    assert_unchanged(&f, before, 0);

    f.store.set_key_disabled("k2", false, NOW + 2).unwrap();
    f.store
        .record_decision(
            appraisal("a1", Verdict::Accepted, NOW + 10),
            vec![release("k2")],
        )
        .unwrap();
}

fn inconsistent_decisions_are_refused_before_writing(backend: Backend) {
    let f = fixture(backend);
    let before = f.store.audit_head().unwrap();
    let cases: Vec<(&str, Verdict, Vec<ReleaseRecord>, &str)> = vec![
        (
            "a1",
            Verdict::Rejected,
            vec![release("k1")],
            "rejected verdict",
        ),
        (
            "a1",
            Verdict::Accepted,
            vec![release("k1"), release("k1")],
            "released twice",
        ),
        ("p1", Verdict::Accepted, vec![release("k1")], "is pending"),
        (
            "ghost",
            Verdict::Accepted,
            vec![release("k1")],
            "agent 'ghost' not found",
        ),
    ];
    for (agent, verdict, releases, msg) in cases {
        let err = f
            .store
            .record_decision(appraisal(agent, verdict, NOW + 10), releases)
            .unwrap_err();
        assert!(err.to_string().contains(msg), "{agent}: {err}");
        assert_unchanged(&f, before, 0);
    }
}

fn rejections_are_recorded_even_for_unknown_agents(backend: Backend) {
    let f = fixture(backend);
    let before = f.store.audit_head().unwrap();
    for agent in ["a1", "never-registered"] {
        f.store
            .record_decision(appraisal(agent, Verdict::Rejected, NOW + 20), vec![])
            .unwrap();
    }
    let entries = f.store.audit_entries(before.seq + 1, 10).unwrap();
    assert_eq!(entries.len(), 2);
    let body: serde_json::Value = serde_json::from_str(&entries[1].body).unwrap();
    assert_eq!(body["agent_id"], "never-registered");
    assert_eq!(body["verdict"], "rejected");
    assert_eq!(body["reasons"][0]["check"], "pcr_policy");
    assert_unchanged(&f, f.store.audit_head().unwrap(), 0);
}
