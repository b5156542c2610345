use super::*;
use sealbuild_verifier::audit::Recipient;

fn entry(seq: u64, kind: &str, body: serde_json::Value) -> AuditEntryJson {
    AuditEntryJson {
        seq,
        time: 1000 + seq,
        kind: kind.into(),
        body,
        prev_hash: [0; 32],
        entry_hash: [0; 32],
    }
}

fn digest(b: u8) -> [u8; 32] {
    [b; 32]
}

fn appraisal(seq: u64, agent: &str, evidence: u8, result: u8, verdict: Verdict) -> AuditEntryJson {
    let body = AppraisalBody {
        agent_id: agent.into(),
        evidence_digest: hex::encode(digest(evidence)),
        verdict,
        reasons: Vec::new(),
        policy_id: "p".into(),
        policy_version: 1,
        policy_sha256: "00".repeat(32),
        result_digest: hex::encode(digest(result)),
    };
    entry(seq, "appraisal", serde_json::to_value(body).unwrap())
}

fn release(seq: u64, agent: &str, result: u8, appraisal_seq: u64) -> AuditEntryJson {
    let body = ReleaseBody {
        key_id: "loadgen".into(),
        recipient: Recipient {
            agent_id: agent.into(),
            ephemeral_key_digest: [7; 32],
        },
        result_digest: digest(result),
        appraisal_seq,
    };
    entry(seq, "release", serde_json::to_value(body).unwrap())
}

fn record(agent: &str, nonce: u8, evidence: u8, result: u8) -> KeyRecord {
    KeyRecord {
        agent_id: agent.into(),
        nonce: hex::encode([nonce; 32]),
        key_id: "loadgen".into(),
        result_digest: hex::encode(digest(result)),
        evidence_digest: hex::encode(digest(evidence)),
        time: 2000.0 + f64::from(nonce),
        resent: nonce == 2,
    }
}

/// Two keys received, one released whose answer was lost, one rejection.
fn good() -> (Vec<KeyRecord>, Vec<AuditEntryJson>) {
    let audit = vec![
        entry(1, "key_created", serde_json::json!({"key_id": "loadgen"})),
        appraisal(2, "snp:a", 0xa1, 0xb1, Verdict::Accepted),
        release(3, "snp:a", 0xb1, 2),
        appraisal(4, "snp:b", 0xa2, 0xb2, Verdict::Accepted),
        release(5, "snp:b", 0xb2, 4),
        appraisal(6, "snp:a", 0xa3, 0xb3, Verdict::Accepted),
        release(7, "snp:a", 0xb3, 6),
        appraisal(8, "snp:b", 0xa2, 0xb4, Verdict::Rejected),
    ];
    let records = vec![
        record("snp:a", 1, 0xa1, 0xb1),
        record("snp:b", 2, 0xa2, 0xb2),
    ];
    (records, audit)
}

#[test]
fn a_consistent_record_passes() {
    let (records, audit) = good();
    let r = check(&records, &audit);
    assert!(r.passed(), "{r:?}");
    assert_eq!(r.records_matched, 2);
    assert_eq!(r.releases, 3);
    assert_eq!(r.released_not_received, 1);
    assert_eq!(r.accepted_appraisals, 3);
    assert_eq!(r.records_resent, 1);
    assert_eq!(r.latest_record_time, Some(2002.0));
}

#[test]
fn a_key_received_without_its_release_entry_fails() {
    let (records, mut audit) = good();
    audit.retain(|e| e.seq != 5);
    let r = check(&records, &audit);
    assert!(!r.passed());
    assert_eq!(r.problem_count, 1, "{r:?}");
    assert!(r.problems[0].contains("no release entry"), "{r:?}");
}

#[test]
fn one_nonce_released_twice_fails() {
    // The same evidence (so the same nonce) accepted again with a key.
    let (records, mut audit) = good();
    audit.push(appraisal(9, "snp:b", 0xa2, 0xb5, Verdict::Accepted));
    audit.push(release(10, "snp:b", 0xb5, 9));
    let r = check(&records, &audit);
    assert!(!r.passed());
    assert!(
        r.problems.iter().any(|p| p.contains("same evidence")),
        "{r:?}"
    );
    assert!(
        r.problems
            .iter()
            .any(|p| p.contains("released 2 times for nonce")),
        "{r:?}"
    );
}

#[test]
fn one_nonce_received_twice_in_the_record_fails() {
    let (mut records, audit) = good();
    records.push(records[0].clone());
    let r = check(&records, &audit);
    assert!(
        r.problems.iter().any(|p| p.contains("received 2 times")),
        "{r:?}"
    );
}

#[test]
fn a_release_without_its_accepted_appraisal_fails() {
    let (records, mut audit) = good();
    audit.push(appraisal(9, "snp:c", 0xa9, 0xb9, Verdict::Rejected));
    audit.push(release(10, "snp:c", 0xb9, 9));
    audit.push(release(11, "snp:c", 0xba, 99));
    let r = check(&records, &audit);
    assert_eq!(r.problem_count, 2, "{r:?}");
}

#[test]
fn a_record_pointing_at_other_evidence_fails() {
    let (mut records, audit) = good();
    records[1].evidence_digest = hex::encode(digest(0xee));
    let r = check(&records, &audit);
    assert!(
        r.problems.iter().any(|p| p.contains("other evidence")),
        "{r:?}"
    );
}

#[test]
fn audit_lines_and_arrays_are_read() {
    let (_, audit) = good();
    let dir = tempfile::tempdir().unwrap();
    let lines = dir.path().join("a.jsonl");
    let text: Vec<String> = audit
        .iter()
        .map(|e| serde_json::to_string(e).unwrap())
        .collect();
    std::fs::write(&lines, text.join("\n") + "\n").unwrap();
    assert_eq!(read_audit(&lines).unwrap(), audit);
    let array = dir.path().join("a.json");
    std::fs::write(&array, serde_json::to_string_pretty(&audit).unwrap()).unwrap();
    assert_eq!(read_audit(&array).unwrap(), audit);
    std::fs::write(&lines, "{}\n").unwrap();
    assert!(matches!(
        read_audit(&lines),
        Err(CheckError::Audit { line: 1, .. })
    ));
}

#[test]
fn integrity_check_answers_ok_for_a_sound_database_and_not_for_garbage() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v.db");
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch(
            "PRAGMA journal_mode=WAL; CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);",
        )
        .unwrap();
    }
    assert_eq!(integrity_check(&db).unwrap(), "ok");
    assert!(integrity_check(&dir.path().join("missing.db")).is_err());
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, vec![0x42u8; 8192]).unwrap();
    assert!(integrity_check(&junk).map_or(true, |s| s != "ok"));
}
