//! Shared helpers of the `store_*` integration tests: a real database file in
//! a temporary directory, agents, decisions and notices.
#![allow(dead_code)]

use sealbuild_common::api::{Reason, Verdict};
use sealbuild_verifier::audit::{AppraisalBody, AppraisalRecord, NoticeBody, NoticeRecord};
use sealbuild_verifier::store::{
    AgentRecord, AgentStatus, NewAgent, NewChallenge, SqliteStore, Store, Take,
};
use std::path::PathBuf;
use tempfile::TempDir;

/// A fixed "now" for tests (2026-11-23).
pub const NOW: u64 = 1_795_392_000;

/// A temporary directory and the path of a database file in it.
pub fn temp_db() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("verifier.db");
    (dir, path)
}

/// Opens (creating) the database.
pub fn open(path: &std::path::Path) -> SqliteStore {
    SqliteStore::open(path).expect("open store")
}

/// A raw connection to the same file, for tampering and inspection.
pub fn raw(path: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).expect("raw connection")
}

/// Registration data of a test agent.
pub fn new_agent(id: &str) -> NewAgent {
    NewAgent {
        agent_id: id.to_string(),
        ek_public: format!("ek-public-of-{id}").into_bytes(),
        ek_certificate: Some(vec![0x30, 0x03, 0x02, 0x01, 0x01]),
        ek_issuer: Some("CN=Test TPM CA".into()),
        ak_public: format!("ak-public-of-{id}").into_bytes(),
        ak_name: format!("ak-name-of-{id}").into_bytes(),
    }
}

/// A challenge valid for 300 s from `now`.
pub fn challenge(id: &str, now: u64) -> NewChallenge {
    NewChallenge {
        challenge_id: id.to_string(),
        secret_digest: [0x5a; 32],
        expires_at: now + 300,
    }
}

/// Registers and activates an agent; returns its record.
pub fn active_agent(store: &dyn Store, id: &str, now: u64) -> AgentRecord {
    let ch = format!("ch-{id}");
    store
        .register_agent(&new_agent(id), &challenge(&ch, now), now)
        .expect("register");
    let Take::Taken(_) = store.take_challenge(&ch, now + 1).expect("take") else {
        panic!("challenge not taken")
    };
    let a = store.activate_agent(id, &ch, now + 2).expect("activate");
    assert_eq!(a.status, AgentStatus::Active);
    a
}

/// How the service would enrol an attester with this id: `snp:<label>` /
/// `azure:<label>` are vouched for by hardware, anything else registers.
pub fn enrolment_of(agent_id: &str) -> sealbuild_verifier::store::Enrolment {
    use sealbuild_verifier::store::Enrolment;
    match sealbuild_common::platform::parse_attester_id(agent_id) {
        Some(_) => Enrolment::Hardware,
        None => Enrolment::Registration,
    }
}

/// An appraisal record.
pub fn appraisal(agent_id: &str, verdict: Verdict, time: u64) -> AppraisalRecord {
    let reasons = match verdict {
        Verdict::Accepted => vec![],
        Verdict::Rejected => vec![Reason {
            check: "pcr_policy".into(),
            expected: Some("9f3c".into()),
            observed: Some("21aa".into()),
            message: "PCR 4: expected 9f3c, got 21aa".into(),
            key: None,
        }],
    };
    AppraisalRecord {
        time,
        enrolment: enrolment_of(agent_id),
        body: AppraisalBody {
            agent_id: agent_id.to_string(),
            evidence_digest: "e1".repeat(32),
            verdict,
            reasons,
            policy_id: "default".into(),
            policy_version: 1,
            policy_sha256: "ab".repeat(32),
            result_digest: "d2".repeat(32),
        },
    }
}

/// A notice record.
pub fn notice(time: u64, i: u64) -> NoticeRecord {
    NoticeRecord {
        time,
        body: NoticeBody {
            message: format!("test notice {i}"),
            details: serde_json::json!({ "i": i }),
        },
    }
}

/// Number of rows in `table`.
pub fn count(conn: &rusqlite::Connection, table: &str) -> i64 {
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .expect("count")
}
