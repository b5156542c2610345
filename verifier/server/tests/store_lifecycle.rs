//! The stores on a real database: schema creation and versioning (SQLite
//! file, PostgreSQL database), and on both backends the agent → challenge →
//! activation → nonce lifecycle, policies, purging.

// Test code: panicking on an unexpected result is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod store_support;

use sealbuild_verifier::audit::{verify_store, AuditKind};
use sealbuild_verifier::store::{
    AgentStatus, NewPolicy, NonceUse, SqliteStore, Store, StoreError, Take, SCHEMA_VERSION,
};
use sha2::{Digest, Sha256};
use store_support::*;

both_backends!(
    agent_registration_challenge_and_activation,
    nonce_uses_are_recorded_once,
    policies_are_versioned_and_switching_is_audited,
    purge_removes_expired_rows_and_abandoned_registrations,
    times_beyond_sqlite_integers_are_refused,
);

fn kinds(store: &dyn Store) -> Vec<String> {
    store
        .audit_entries(1, 1000)
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

#[test]
fn migrations_create_the_schema_in_an_empty_file() {
    let (_dir, path) = temp_db();
    let store = open(&path);
    assert_eq!(SCHEMA_VERSION, 2);
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);

    let c = raw(&path);
    let v: u32 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, SCHEMA_VERSION);
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let mut s = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap();
    let tables: Vec<String> = s
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        tables,
        [
            "agents",
            "audit",
            "challenges",
            "current_policy",
            "keys",
            "nonces",
            "policies",
            "releases"
        ]
    );
    let mut s = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
        .unwrap();
    let triggers: Vec<String> = s
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(triggers, ["audit_no_delete", "audit_no_update"]);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "database file mode {mode:o}");
    }

    // Reopening migrates nothing and keeps the data.
    store
        .put_policy(
            &NewPolicy {
                policy_id: "default".into(),
                document: "version = 1\n".into(),
                make_current: true,
            },
            NOW,
        )
        .unwrap();
    drop(store);
    let store = open(&path);
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(store.current_policy().unwrap().unwrap().version, 1);
}

#[test]
fn a_database_from_a_newer_build_is_refused() {
    let (_dir, path) = temp_db();
    drop(open(&path));
    raw(&path).pragma_update(None, "user_version", 99).unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::SchemaTooNew {
                found: 99,
                supported: 2
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("schema version 99"), "{err}");
}

#[test]
fn a_file_that_is_not_a_database_is_refused() {
    let (_dir, path) = temp_db();
    std::fs::write(&path, vec![0xa5u8; 4096]).unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err}");
    assert!(err.to_string().contains("verifier.db"), "{err}");
}

fn agent_registration_challenge_and_activation(backend: Backend) {
    let db = TestDb::new(backend);
    let store = db.open();

    let reg = store
        .register_agent(&new_agent("a1"), &challenge("c1", NOW), NOW)
        .unwrap();
    assert!(reg.new_agent);
    assert_eq!(reg.agent.status, AgentStatus::Pending);
    assert_eq!(reg.agent.created_at, NOW);
    assert_eq!(reg.agent.activated_at, None);
    assert_eq!(reg.agent.ek_issuer.as_deref(), Some("CN=Test TPM CA"));
    assert_eq!(store.agent("a1").unwrap().unwrap(), reg.agent);
    assert_eq!(store.agent("nobody").unwrap(), None);

    // Activation needs the challenge to have been taken first.
    let err = store.activate_agent("a1", "c1", NOW + 1).unwrap_err();
    assert!(err.to_string().contains("has not been taken"), "{err}");

    assert_eq!(
        store.take_challenge("nope", NOW + 1).unwrap(),
        Take::NotFound
    );
    let Take::Taken(ch) = store.take_challenge("c1", NOW + 1).unwrap() else {
        panic!("first take must succeed")
    };
    assert_eq!(ch.agent_id, "a1");
    assert_eq!(ch.secret_digest, [0x5a; 32]);
    assert_eq!(ch.used_at, Some(NOW + 1));
    let Take::AlreadyUsed(again) = store.take_challenge("c1", NOW + 2).unwrap() else {
        panic!("second take must say AlreadyUsed")
    };
    assert_eq!(again.used_at, Some(NOW + 1));

    // A challenge of another agent does not activate this one.
    store
        .register_agent(&new_agent("a2"), &challenge("c2", NOW), NOW)
        .unwrap();
    store.take_challenge("c2", NOW + 1).unwrap();
    let err = store.activate_agent("a1", "c2", NOW + 2).unwrap_err();
    assert!(err.to_string().contains("issued to agent 'a2'"), "{err}");

    let a = store.activate_agent("a1", "c1", NOW + 3).unwrap();
    assert_eq!(a.status, AgentStatus::Active);
    assert_eq!(a.activated_at, Some(NOW + 3));
    // Idempotent, and only one audit entry.
    let head = store.audit_head().unwrap();
    assert_eq!(store.activate_agent("a1", "c1", NOW + 4).unwrap(), a);
    assert_eq!(store.audit_head().unwrap(), head);

    // Re-registration with the same keys keeps the status; a different EK is refused.
    let reg = store
        .register_agent(&new_agent("a1"), &challenge("c3", NOW + 5), NOW + 5)
        .unwrap();
    assert!(!reg.new_agent);
    assert_eq!(reg.agent.status, AgentStatus::Active);
    let mut other = new_agent("a1");
    other.ek_public = b"another EK".to_vec();
    let err = store
        .register_agent(&other, &challenge("c4", NOW + 6), NOW + 6)
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    // A duplicate challenge id is refused and the registration is not stored.
    let err = store
        .register_agent(&new_agent("a3"), &challenge("c1", NOW + 7), NOW + 7)
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::AlreadyExists {
                what: "challenge",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(store.agent("a3").unwrap(), None);

    // Expired challenges are refused distinctly and burnt.
    store
        .register_agent(&new_agent("a4"), &challenge("c5", NOW), NOW)
        .unwrap();
    let Take::Expired(exp) = store.take_challenge("c5", NOW + 301).unwrap() else {
        panic!("expired take must say Expired")
    };
    assert_eq!(exp.expires_at, NOW + 300);
    assert!(matches!(
        store.take_challenge("c5", NOW + 302).unwrap(),
        Take::AlreadyUsed(_)
    ));

    let ids: Vec<String> = store
        .list_agents()
        .unwrap()
        .into_iter()
        .map(|a| a.agent_id)
        .collect();
    assert_eq!(ids, ["a1", "a2", "a4"]);
    assert_eq!(
        kinds(store.as_ref()),
        [
            "agent_registered",
            "agent_registered",
            "agent_activated",
            "agent_registered"
        ]
    );
    verify_store(store.as_ref(), None).unwrap();
}

fn used(b: u8, agent: &str, expires_at: u64) -> NonceUse {
    NonceUse {
        nonce: vec![b; 32],
        agent_id: agent.into(),
        issued_at: expires_at.saturating_sub(60),
        expires_at,
    }
}

fn nonce_uses_are_recorded_once(backend: Backend) {
    let db = TestDb::new(backend);
    let store = db.open();

    // First use wins, the second says AlreadyUsed with the first time.
    let Take::Taken(rec) = store
        .take_nonce(&used(1, "a1", NOW + 60), NOW + 10)
        .unwrap()
    else {
        panic!("first use must succeed")
    };
    assert_eq!(rec.agent_id, "a1");
    assert_eq!(rec.created_at, NOW);
    assert_eq!(rec.expires_at, NOW + 60);
    assert_eq!(rec.used_at, Some(NOW + 10));
    let Take::AlreadyUsed(rec) = store
        .take_nonce(&used(1, "a1", NOW + 60), NOW + 11)
        .unwrap()
    else {
        panic!("second use must say AlreadyUsed")
    };
    assert_eq!(rec.used_at, Some(NOW + 10));
    // The same bytes presented under another agent are still the used row.
    let Take::AlreadyUsed(rec) = store
        .take_nonce(&used(1, "a2", NOW + 60), NOW + 12)
        .unwrap()
    else {
        panic!("the nonce bytes are the key")
    };
    assert_eq!(rec.agent_id, "a1");
    assert!(matches!(
        store.take_nonce(&used(2, "snp:vm", NOW + 60), NOW).unwrap(),
        Take::Taken(_)
    ));
    assert_eq!(Take::<()>::NotFound.name(), "not_found");

    // Refused inputs.
    let mut empty = used(3, "a1", NOW + 60);
    empty.nonce.clear();
    let err = store.take_nonce(&empty, NOW).unwrap_err();
    assert!(matches!(err, StoreError::InvalidInput(_)), "{err}");

    // The state is in the database: a second store on it sees it.
    let other = db.open();
    assert!(matches!(
        other
            .take_nonce(&used(1, "a1", NOW + 60), NOW + 12)
            .unwrap(),
        Take::AlreadyUsed(_)
    ));
    assert_eq!(db.count("nonces"), 2);

    // Used nonces go as soon as they expired (not before).
    assert_eq!(store.purge_used_nonces(NOW + 60).unwrap(), 0);
    assert_eq!(store.purge_used_nonces(NOW + 61).unwrap(), 2);
    assert_eq!(db.count("nonces"), 0);
}

fn policies_are_versioned_and_switching_is_audited(backend: Backend) {
    let db = TestDb::new(backend);
    let store = db.open();
    assert_eq!(store.current_policy().unwrap(), None);

    let doc1 = "version = 1\n# first\n";
    let p1 = store
        .put_policy(
            &NewPolicy {
                policy_id: "default".into(),
                document: doc1.into(),
                make_current: true,
            },
            NOW,
        )
        .unwrap();
    assert_eq!(p1.version, 1);
    assert!(p1.current);
    assert_eq!(p1.sha256, hex::encode(Sha256::digest(doc1.as_bytes())));

    let p2 = store
        .put_policy(
            &NewPolicy {
                policy_id: "default".into(),
                document: "version = 1\n# second\n".into(),
                make_current: false,
            },
            NOW + 1,
        )
        .unwrap();
    assert_eq!(p2.version, 2);
    assert!(!p2.current);
    assert_eq!(store.current_policy().unwrap().unwrap().version, 1);

    let cur = store.set_current_policy("default", 2, NOW + 2).unwrap();
    assert!(cur.current);
    assert_eq!(store.current_policy().unwrap().unwrap(), cur);
    assert!(!store.policy("default", 1).unwrap().unwrap().current);
    // No change, no entry.
    let head = store.audit_head().unwrap();
    store.set_current_policy("default", 2, NOW + 3).unwrap();
    assert_eq!(store.audit_head().unwrap(), head);

    let err = store.set_current_policy("default", 9, NOW).unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "policy", .. }),
        "{err}"
    );
    let err = store
        .put_policy(
            &NewPolicy {
                policy_id: "bad id".into(),
                document: String::new(),
                make_current: false,
            },
            NOW,
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidInput(_)), "{err}");

    let versions: Vec<(String, u32, bool)> = store
        .list_policies()
        .unwrap()
        .into_iter()
        .map(|p| (p.policy_id, p.version, p.current))
        .collect();
    assert_eq!(
        versions,
        [("default".into(), 1, false), ("default".into(), 2, true)]
    );

    let entries = store.audit_entries(1, 10).unwrap();
    assert_eq!(
        entries.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        ["policy_update", "policy_update", "policy_current"]
    );
    let body: serde_json::Value = serde_json::from_str(&entries[2].body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "policy_id": "default", "version": 2, "sha256": p2.sha256,
            "previous": {"policy_id": "default", "version": 1}
        })
    );
    assert_eq!(
        AuditKind::from_name(&entries[2].kind),
        Some(AuditKind::PolicyCurrent)
    );
}

fn purge_removes_expired_rows_and_abandoned_registrations(backend: Backend) {
    let db = TestDb::new(backend);
    let store = db.open();
    active_agent(store.as_ref(), "active", NOW);
    store
        .register_agent(&new_agent("abandoned"), &challenge("cx", NOW), NOW)
        .unwrap();
    for (b, ttl) in [(1u8, 10u64), (2, 10_000)] {
        assert!(matches!(
            store
                .take_nonce(&used(b, "active", NOW + ttl), NOW)
                .unwrap(),
            Take::Taken(_)
        ));
    }
    let report = store.purge_expired(NOW + 1000).unwrap();
    assert_eq!(report.nonces, 1);
    assert_eq!(report.challenges, 2);
    assert_eq!(report.pending_agents, 1);
    assert_eq!(store.agent("abandoned").unwrap(), None);
    assert!(store.agent("active").unwrap().is_some());
    // The expired use is gone (the service refuses that nonce by its own
    // expiry); the unexpired one is kept and still refuses a replay.
    assert_eq!(db.count("nonces"), 1);
    assert!(matches!(
        store
            .take_nonce(&used(2, "active", NOW + 10_000), NOW)
            .unwrap(),
        Take::AlreadyUsed(_)
    ));
    // The audit log is never purged.
    verify_store(store.as_ref(), None).unwrap();
    assert_eq!(db.count("audit"), 3);
}

fn times_beyond_sqlite_integers_are_refused(backend: Backend) {
    let db = TestDb::new(backend);
    let store = db.open();
    let err = store
        .take_nonce(&used(1, "a1", NOW + 60), u64::MAX)
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidInput(_)), "{err}");
}

#[test]
fn a_version_1_database_is_migrated_keeping_its_nonces() {
    let (_dir, path) = temp_db();
    {
        let c = raw(&path);
        c.execute_batch(sealbuild_verifier::store::MIGRATIONS[0])
            .unwrap();
        c.pragma_update(None, "user_version", 1).unwrap();
        c.execute(
            "INSERT INTO agents (agent_id, ek_public, ak_public, ak_name, status, created_at) \
             VALUES ('a1', x'00', x'00', x'00', 'active', 1)",
            [],
        )
        .unwrap();
        c.execute(
            "INSERT INTO nonces (nonce, agent_id, created_at, expires_at) VALUES (x'0707', 'a1', 1, 100)",
            [],
        )
        .unwrap();
    }
    let store = open(&path);
    assert_eq!(store.schema_version().unwrap(), 2);
    // The old row is kept: presenting those bytes again is a replay.
    let mut old = used(7, "a1", 100);
    old.nonce = vec![7, 7];
    match store.take_nonce(&old, 50).unwrap() {
        Take::AlreadyUsed(r) => assert_eq!(r.agent_id, "a1"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        store.take_nonce(&used(9, "snp:x", 200), 50).unwrap(),
        Take::Taken(_)
    ));
}

#[test]
fn postgres_replicas_starting_together_migrate_once() {
    use sealbuild_verifier::store::{PgOptions, PgStore, PG_SCHEMA_VERSION};
    let db = TestDb::new(Backend::Postgres);
    // Four stores connect at once to the empty database: the migration
    // lock lets one create the schema; the others find it done.
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (url, barrier) = (db.url.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                PgStore::connect(&url, PgOptions::default()).map(|s| s.schema_version())
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap().unwrap().unwrap(), PG_SCHEMA_VERSION);
    }
    assert_eq!(db.int("SELECT version FROM sealbuild_schema"), 1);
    let tables: Vec<String> = db
        .rows(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' \
             AND tablename <> 'sealbuild_schema' ORDER BY tablename",
        )
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(
        tables,
        [
            "agents",
            "audit",
            "challenges",
            "current_policy",
            "keys",
            "nonces",
            "policies",
            "releases"
        ]
    );
    let triggers: Vec<String> = db
        .rows(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit'::regclass \
             AND NOT tgisinternal ORDER BY tgname",
        )
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(
        triggers,
        ["audit_no_delete", "audit_no_truncate", "audit_no_update"]
    );
    let err = db.exec("TRUNCATE audit CASCADE").unwrap_err();
    assert!(err.contains("append-only"), "{err}");

    // A database from a newer build is refused.
    db.exec("UPDATE sealbuild_schema SET version = 99").unwrap();
    let url = db.url.clone();
    let err = std::thread::spawn(move || PgStore::connect(&url, PgOptions::default()).unwrap_err())
        .join()
        .unwrap();
    assert!(
        matches!(
            err,
            StoreError::SchemaTooNew {
                found: 99,
                supported: 1
            }
        ),
        "{err}"
    );
}

#[test]
fn a_wrong_postgres_password_is_an_open_error_without_the_password() {
    let db = TestDb::new(Backend::Postgres);
    // postgres://USER:PASSWORD@HOST:PORT/DB with another password.
    let (head, tail) = db.url.split_once('@').unwrap();
    let user = head.rsplit_once(':').unwrap().0;
    let url = format!("{user}:not-the-password@{tail}");
    let err = std::thread::spawn(move || {
        sealbuild_verifier::store::PgStore::connect(&url, Default::default()).unwrap_err()
    })
    .join()
    .unwrap();
    assert!(matches!(err, StoreError::Open { .. }), "{err}");
    let msg = err.to_string();
    assert!(!msg.contains("not-the-password"), "{msg}");
    assert!(msg.contains(":***@"), "{msg}");
}
