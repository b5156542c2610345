//! The audit chain in a real database (SQLite file and PostgreSQL): a valid
//! log of 100 entries verifies; rows changed or deleted with plain SQL are
//! named by seq.

// Test code: panicking on an unexpected result is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod store_support;

use sealbuild_common::api::Verdict;
use sealbuild_verifier::audit::{
    entry_hash, list_json, verify_store, AuditEntryJson, AuditError, AuditHead, AuditVerifyError,
    ReleaseRecord,
};
use sealbuild_verifier::keys::{KeyAlgorithm, KeyManager, MasterKey};
use store_support::*;

both_backends!(
    a_valid_chain_of_100_entries_verifies,
    the_triggers_refuse_plain_updates_and_deletes,
    an_updated_body_is_named_by_its_seq,
    a_rewritten_entry_with_a_recomputed_hash_breaks_the_next_link,
    a_deleted_row_is_named_as_a_gap,
    a_cut_off_tail_is_found_only_with_a_checkpoint,
    list_json_prints_entries_with_hex_hashes_and_json_bodies,
);

/// A log of exactly 100 entries of several kinds.
fn hundred_entries(backend: Backend) -> TestDb {
    let db = TestDb::new(backend);
    let store = db.open();
    active_agent(store.as_ref(), "a1", NOW); // 2 entries
    let km = KeyManager::new(MasterKey::from_bytes([1; 32]));
    store
        .insert_key(
            &km.generate(KeyAlgorithm::EcdsaP256, Some("k1")).unwrap(),
            NOW,
        )
        .unwrap(); // 3
    let mut i = 0;
    while store.audit_head().unwrap().seq < 100 {
        i += 1;
        let head = store.audit_head().unwrap();
        if i % 3 == 0 && head.seq <= 98 {
            store
                .record_decision(
                    appraisal("a1", Verdict::Accepted, NOW + i),
                    vec![ReleaseRecord {
                        key_id: "k1".into(),
                        ephemeral_key_digest: [i as u8; 32],
                        result_digest: [0xd2; 32],
                    }],
                )
                .unwrap();
        } else if i % 3 == 1 {
            store
                .record_decision(appraisal("a1", Verdict::Rejected, NOW + i), vec![])
                .unwrap();
        } else {
            store.append_notice(notice(NOW + i, i)).unwrap();
        }
    }
    assert_eq!(store.audit_head().unwrap().seq, 100);
    db
}

fn verify(db: &TestDb) -> Result<AuditHead, AuditVerifyError> {
    let store = db.open();
    verify_store(store.as_ref(), None).map(|r| r.head)
}

fn chain_error(db: &TestDb) -> AuditError {
    match verify(db) {
        Err(AuditVerifyError::Chain(e)) => e,
        other => panic!("expected a chain error, got {other:?}"),
    }
}

fn a_valid_chain_of_100_entries_verifies(backend: Backend) {
    let db = hundred_entries(backend);
    let store = db.open();
    let report = verify_store(store.as_ref(), None).unwrap();
    assert_eq!(report.entries, 100);
    assert_eq!(report.head, store.audit_head().unwrap());
    assert_eq!(report.head.seq, 100);
    // Against a checkpoint taken earlier, and against the head itself.
    let e50 = store.audit_entries(50, 1).unwrap().remove(0);
    verify_store(store.as_ref(), Some(e50.head())).unwrap();
    verify_store(store.as_ref(), Some(report.head)).unwrap();
    // The head's text form is what `audit verify` prints.
    assert_eq!(
        AuditHead::parse(&report.head.to_string()).unwrap(),
        report.head
    );
    // Entry 1 links to genesis.
    let first = store.audit_entries(1, 1).unwrap().remove(0);
    assert_eq!(first.prev_hash, [0u8; 32]);
    let kinds: std::collections::BTreeSet<String> = store
        .audit_entries(1, 100)
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        [
            "agent_activated",
            "agent_registered",
            "appraisal",
            "key_created",
            "notice",
            "release"
        ]
    );
}

fn the_triggers_refuse_plain_updates_and_deletes(backend: Backend) {
    let db = hundred_entries(backend);
    let err = db
        .exec("UPDATE audit SET body = '{}' WHERE seq = 37")
        .unwrap_err();
    assert!(err.contains("append-only"), "{err}");
    let err = db.exec("DELETE FROM audit WHERE seq = 50").unwrap_err();
    assert!(err.contains("append-only"), "{err}");
    assert_eq!(verify(&db).unwrap().seq, 100);
}

fn an_updated_body_is_named_by_its_seq(backend: Backend) {
    let db = hundred_entries(backend);
    // Turn the first accepted appraisal at or after entry 37 into a rejection.
    let seq = db.int(
        "SELECT min(seq) FROM audit WHERE seq >= 37 AND kind = 'appraisal' \
         AND body LIKE '%\"verdict\":\"accepted\"%'",
    ) as u64;
    db.exec(&db.drop_trigger("audit_no_update")).unwrap();
    db.exec(&format!(
        "UPDATE audit SET body = replace(body, '\"accepted\"', '\"rejected\"') WHERE seq = {seq}"
    ))
    .unwrap();
    assert_eq!(
        db.int(&format!(
            "SELECT count(*) FROM audit WHERE seq = {seq} AND body LIKE '%\"rejected\"%'"
        )),
        1
    );
    let err = chain_error(&db);
    let AuditError::HashMismatch { seq: bad, .. } = &err else {
        panic!("expected HashMismatch, got {err}")
    };
    assert_eq!(*bad, seq);
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("audit entry {seq}: stored entry_hash")),
        "{msg}"
    );
    assert!(msg.contains("does not match the recomputed"), "{msg}");

    // A changed time is found the same way.
    let db2 = hundred_entries(backend);
    db2.exec(&format!(
        "{} UPDATE audit SET time = time + 1 WHERE seq = 64",
        db2.drop_trigger("audit_no_update")
    ))
    .unwrap();
    assert!(matches!(
        chain_error(&db2),
        AuditError::HashMismatch { seq: 64, .. }
    ));
}

fn a_rewritten_entry_with_a_recomputed_hash_breaks_the_next_link(backend: Backend) {
    let db = hundred_entries(backend);
    db.exec(&db.drop_trigger("audit_no_update")).unwrap();
    let row = db.rows("SELECT time, kind, prev_hash FROM audit WHERE seq = 37");
    let time: u64 = row[0][0].parse().unwrap();
    let kind = row[0][1].clone();
    let prev: [u8; 32] = hex::decode(&row[0][2]).unwrap().try_into().unwrap();
    let body = r#"{"forged":true}"#;
    let hash = entry_hash(37, time, &kind, body, &prev).unwrap();
    db.exec(&format!(
        "UPDATE audit SET body = '{body}', entry_hash = {} WHERE seq = 37",
        db.blob(&hash)
    ))
    .unwrap();
    let err = chain_error(&db);
    assert!(
        matches!(err, AuditError::PrevLinkBroken { seq: 38, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("entry 37"), "{err}");
}

fn a_deleted_row_is_named_as_a_gap(backend: Backend) {
    let db = hundred_entries(backend);
    // The releases table references audit rows; pick an entry without one.
    let seq = db.int("SELECT min(seq) FROM audit WHERE seq >= 50 AND kind = 'notice'") as u64;
    db.exec(&db.drop_trigger("audit_no_delete")).unwrap();
    db.exec(&format!("DELETE FROM audit WHERE seq = {seq}"))
        .unwrap();
    assert_eq!(
        db.int(&format!("SELECT count(*) FROM audit WHERE seq = {seq}")),
        0
    );
    let err = chain_error(&db);
    assert_eq!(
        err,
        AuditError::SeqGap {
            expected: seq,
            found: seq + 1
        }
    );
    assert!(
        err.to_string().contains(&format!(
            "expected seq {seq}, found {} (entry {seq} is missing)",
            seq + 1
        )),
        "{err}"
    );

    // Deleting the first entry is found too.
    db.exec("DELETE FROM audit WHERE seq = 1").unwrap();
    assert_eq!(
        chain_error(&db),
        AuditError::SeqGap {
            expected: 1,
            found: 2
        }
    );
}

fn a_cut_off_tail_is_found_only_with_a_checkpoint(backend: Backend) {
    let db = hundred_entries(backend);
    let store = db.open();
    let checkpoint = store.audit_head().unwrap();
    let last_kind = db.rows("SELECT kind FROM audit WHERE seq = 100")[0][0].clone();
    let fk_off = match backend {
        Backend::Sqlite => "PRAGMA foreign_keys = OFF;",
        // Entry 100 is never an appraisal that a release references.
        Backend::Postgres => "",
    };
    db.exec(&format!(
        "{} {fk_off} DELETE FROM releases WHERE audit_seq = 100; DELETE FROM audit WHERE seq = 100",
        db.drop_trigger("audit_no_delete")
    ))
    .unwrap();
    // Without a checkpoint the shorter chain is self-consistent...
    assert_eq!(verify(&db).unwrap().seq, 99, "last entry was {last_kind}");
    // ...with one, the truncation is named.
    let err = verify_store(store.as_ref(), Some(checkpoint)).unwrap_err();
    assert!(
        matches!(
            err,
            AuditVerifyError::Chain(AuditError::Truncated {
                last_seq: 99,
                checkpoint_seq: 100
            })
        ),
        "{err}"
    );
}

fn list_json_prints_entries_with_hex_hashes_and_json_bodies(backend: Backend) {
    let db = hundred_entries(backend);
    let store = db.open();
    let page = list_json(store.as_ref(), 98, 10).unwrap();
    assert_eq!(
        page.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [98, 99, 100]
    );
    let text = serde_json::to_string(&page).unwrap();
    let back: Vec<AuditEntryJson> = serde_json::from_str(&text).unwrap();
    assert_eq!(back, page);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let e = &v[2];
    assert_eq!(e["seq"], 100);
    assert!(e["body"].is_object());
    assert_eq!(e["entry_hash"].as_str().unwrap().len(), 64);
    assert_eq!(
        e["entry_hash"].as_str().unwrap(),
        hex::encode(store.audit_head().unwrap().hash)
    );
    assert_eq!(e["prev_hash"], v[1]["entry_hash"]);
}
