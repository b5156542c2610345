//! `db copy`: an embedded (SQLite) installation moved into a new PostgreSQL
//! database keeps its audit chain, keys, agents, policy versions and
//! releases; both logs verify to the same head; the copy is audited in the
//! destination; a non-empty destination is refused. Through the library and
//! through the `sealbuild-verifier` binary, on a real PostgreSQL.

// Test code: panicking on an unexpected result is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod store_support;

use sealbuild_common::api::Verdict;
use sealbuild_verifier::audit::{verify_store, ReleaseRecord};
use sealbuild_verifier::keys::{KeyAlgorithm, KeyManager, MasterKey};
use sealbuild_verifier::store::{NewPolicy, NonceUse, PgStore, Store, StoreError, Take};
use std::process::Command;
use store_support::*;

const BIN: &str = env!("CARGO_BIN_EXE_sealbuild-verifier");

/// A SQLite database with agents, keys, two policy versions, decisions
/// with releases, used nonces and notices.
fn populated(db: &TestDb, km: &KeyManager) {
    let s = db.open();
    active_agent(s.as_ref(), "a1", NOW);
    s.register_agent(&new_agent("p1"), &challenge("cp", NOW), NOW)
        .unwrap();
    for (id, alg) in [
        ("k1", KeyAlgorithm::Ed25519),
        ("k2", KeyAlgorithm::EcdsaP384),
    ] {
        s.insert_key(&km.generate(alg, Some(id)).unwrap(), NOW)
            .unwrap();
    }
    s.set_key_disabled("k2", true, NOW + 1).unwrap();
    for (doc, current) in [
        ("version = 1\n# one\n", true),
        ("version = 1\n# two\n", false),
    ] {
        s.put_policy(
            &NewPolicy {
                policy_id: "default".into(),
                document: doc.into(),
                make_current: current,
            },
            NOW + 2,
        )
        .unwrap();
    }
    for i in 0..30u64 {
        let releases = if i % 3 == 0 {
            vec![ReleaseRecord {
                key_id: "k1".into(),
                ephemeral_key_digest: [i as u8; 32],
                result_digest: [0xd2; 32],
            }]
        } else {
            vec![]
        };
        let verdict = if i % 3 == 1 {
            Verdict::Rejected
        } else {
            Verdict::Accepted
        };
        s.record_decision(appraisal("a1", verdict, NOW + 10 + i), releases)
            .unwrap();
        let n = NonceUse {
            nonce: vec![i as u8 + 1; 32],
            agent_id: "a1".into(),
            issued_at: NOW,
            expires_at: NOW + 10_000,
        };
        assert!(matches!(
            s.take_nonce(&n, NOW + 10 + i).unwrap(),
            Take::Taken(_)
        ));
    }
    s.append_notice(notice(NOW + 50, 1)).unwrap();
}

fn pg(url: &str) -> PgStore {
    PgStore::connect(url, Default::default()).unwrap()
}

#[test]
fn a_sqlite_installation_copies_into_postgres_keeping_everything() {
    let src = TestDb::new(Backend::Sqlite);
    let km = KeyManager::new(MasterKey::from_bytes([0x33; 32]));
    populated(&src, &km);
    let dst_db = TestDb::new(Backend::Postgres);
    let url = dst_db.url.clone();
    let path = src.path.clone();
    std::thread::spawn(move || {
        let dst = pg(&url);
        let report = dst.copy_from_sqlite(&path, NOW + 100).unwrap();
        let s = sealbuild_verifier::store::SqliteStore::open(&path).unwrap();
        let src_head = verify_store(&s, None).unwrap().head;
        assert_eq!(report.head, src_head);
        assert_eq!(report.agents, 2);
        assert_eq!(report.keys, 2);
        assert_eq!(report.policies, 2);
        assert_eq!(report.releases, 10);
        assert_eq!(report.nonces, 30);
        assert_eq!(report.audit_entries, src_head.seq);

        // The same entries, byte for byte, and one more: the copy's notice.
        let a = s.audit_entries(1, 10_000).unwrap();
        let b = dst.audit_entries(1, 10_000).unwrap();
        assert_eq!(b.len(), a.len() + 1);
        assert_eq!(&b[..a.len()], &a[..]);
        let last = b.last().unwrap();
        assert_eq!(last.kind, "notice");
        assert!(
            last.body.contains("database copied from SQLite"),
            "{}",
            last.body
        );
        assert!(last.body.contains(&src_head.to_string()), "{}", last.body);
        assert_eq!(
            verify_store(&dst, Some(src_head)).unwrap().head,
            last.head()
        );

        assert_eq!(s.list_agents().unwrap(), dst.list_agents().unwrap());
        assert_eq!(s.list_keys().unwrap(), dst.list_keys().unwrap());
        assert_eq!(s.list_policies().unwrap(), dst.list_policies().unwrap());
        assert_eq!(s.current_policy().unwrap(), dst.current_policy().unwrap());
        // Keys unseal with the same (shared) master key on the new side.
        let k1 = dst.key("k1").unwrap().unwrap();
        KeyManager::new(MasterKey::from_bytes([0x33; 32]))
            .unseal(&k1)
            .unwrap();
        assert!(dst.key("k2").unwrap().unwrap().disabled);
        // Used nonces keep refusing replays after the move.
        let replay = NonceUse {
            nonce: vec![1; 32],
            agent_id: "a1".into(),
            issued_at: NOW,
            expires_at: NOW + 10_000,
        };
        assert!(matches!(
            dst.take_nonce(&replay, NOW + 200).unwrap(),
            Take::AlreadyUsed(_)
        ));
        // The new database goes on from the copied head.
        dst.append_notice(notice(NOW + 300, 2)).unwrap();
        verify_store(&dst, Some(src_head)).unwrap();

        // A second copy into a database that is not empty is refused and
        // changes nothing.
        let head = dst.audit_head().unwrap();
        let err = dst.copy_from_sqlite(&path, NOW + 400).unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err}");
        assert!(err.to_string().contains("not empty"), "{err}");
        assert_eq!(dst.audit_head().unwrap(), head);
        // A missing source file is named (and not created).
        let missing = path.with_file_name("missing.db");
        let err = dst.copy_from_sqlite(&missing, NOW).unwrap_err();
        assert!(err.to_string().contains("missing.db"), "{err}");
        assert!(!missing.exists());
    })
    .join()
    .unwrap();
}

#[test]
fn db_copy_through_the_binary_then_audit_verify_on_both_sides() {
    let state = tempfile::tempdir().unwrap();
    let run = |envs: &[(&str, &str)], args: &[&str]| {
        let mut c = Command::new(BIN);
        c.arg("--state-dir").arg(state.path());
        c.env_remove("SEALBUILD_DATABASE_URL")
            .env_remove("SEALBUILD_DB");
        for (k, v) in envs {
            c.env(k, v);
        }
        let o = c.args(args).output().unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, out, err) = run(&[], &["keys", "generate", "--id", "build-signing"]);
    assert_eq!(code, 0, "{out}{err}");
    let policy = state.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "version = 1\n[[reference]]\nname = \"r\"\nplatform = \"tpm\"\n\
         [reference.pcrs.sha256]\n\"0\" = [\"{}\"]\n\
         [[key]]\nid = \"build-signing\"\nreferences = [\"r\"]\n",
            "00".repeat(32)
        ),
    )
    .unwrap();
    let (code, out, err) = run(&[], &["policy", "set", policy.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, sqlite_verify, err) = run(&[], &["audit", "verify"]);
    assert_eq!(code, 0, "{sqlite_verify}{err}");

    let url = TestDb::new(Backend::Postgres).url;
    let from = format!("sqlite:{}", state.path().join("verifier.db").display());
    let (code, out, err) = run(&[], &["db", "copy", "--from", &from, "--to", &url]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("2 audit entries"), "{out}");
    assert!(out.contains("1 keys"), "{out}");
    // The password is not printed.
    let password = url
        .split_once("sealbuild:")
        .unwrap()
        .1
        .split_once('@')
        .unwrap()
        .0;
    assert!(!out.contains(password) && !err.contains(password));

    // The copied installation, used through SEALBUILD_DATABASE_URL.
    let pg_env = [("SEALBUILD_DATABASE_URL", url.as_str())];
    let (code, out, err) = run(&pg_env, &["audit", "verify"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("audit log ok: 3 entries"), "{out}");
    let (code, out, err) = run(&pg_env, &["keys", "list"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("build-signing ed25519"), "{out}");
    let (code, out, err) = run(&pg_env, &["policy", "show"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("build-signing"), "{out}");
    // The source is untouched and still verifies.
    let (code, again, err) = run(&[], &["audit", "verify"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(again, sqlite_verify);
    // Copying again into the now non-empty database is refused.
    let (code, out, err) = run(&[], &["db", "copy", "--from", &from, "--to", &url]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("not empty"), "{err}");
}
