//! Shared helpers of the `store_*` integration tests: a real database (a
//! SQLite file in a temporary directory, or a database of its own on a real
//! PostgreSQL server, see [`pg`]), agents, decisions and notices.
//!
//! The store contract tests run on both backends: a test written as
//! `fn name(backend: Backend)` and listed in [`both_backends!`] becomes
//! `name::sqlite` and `name::postgres`.
#![allow(dead_code)]

pub mod pg;

use sealbuild_common::api::{Reason, Verdict};
use sealbuild_verifier::audit::{AppraisalBody, AppraisalRecord, NoticeBody, NoticeRecord};
use sealbuild_verifier::store::{
    AgentRecord, AgentStatus, NewAgent, NewChallenge, SqliteStore, Store, Take,
};
use std::path::PathBuf;
use std::sync::Arc;
use tempfile::TempDir;

/// The two stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite file.
    Sqlite,
    /// PostgreSQL database.
    Postgres,
}

/// Runs each listed `fn NAME(Backend)` on both backends, as the tests
/// `NAME::sqlite` and `NAME::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    super::$name(super::Backend::Sqlite)
                }
                #[test]
                fn postgres() {
                    super::$name(super::Backend::Postgres)
                }
            }
        )*
    };
}

/// One test's database on one backend.
pub struct TestDb {
    /// Which backend.
    pub backend: Backend,
    _dir: Option<TempDir>,
    /// SQLite: the file.
    pub path: PathBuf,
    /// PostgreSQL: the database URL.
    pub url: String,
}

impl TestDb {
    /// A new, empty database.
    pub fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let (dir, path) = temp_db();
                Self {
                    backend,
                    _dir: Some(dir),
                    path,
                    url: String::new(),
                }
            }
            Backend::Postgres => Self {
                backend,
                _dir: None,
                path: PathBuf::new(),
                url: pg::fresh_database(),
            },
        }
    }

    /// Opens a store on it (creating the schema); each call is a separate
    /// store with its own connections, like a separate process or replica.
    pub fn open(&self) -> Arc<dyn Store> {
        match self.backend {
            Backend::Sqlite => Arc::new(open(&self.path)),
            Backend::Postgres => {
                let url = self.url.clone();
                pg::off_async(move || {
                    Arc::new(
                        sealbuild_verifier::store::PgStore::connect(&url, Default::default())
                            .expect("connect to PostgreSQL"),
                    ) as Arc<dyn Store>
                })
            }
        }
    }

    /// Runs raw SQL (one or more statements) on a connection of its own.
    pub fn exec(&self, sql: &str) -> Result<(), String> {
        match self.backend {
            Backend::Sqlite => raw(&self.path)
                .execute_batch(sql)
                .map_err(|e| e.to_string()),
            Backend::Postgres => {
                let (url, sql) = (self.url.clone(), sql.to_string());
                pg::off_async(move || {
                    pg::raw_client(&url).batch_execute(&sql).map_err(|e| {
                        format!("{e}: {}", e.as_db_error().map_or("", |d| d.message()))
                    })
                })
            }
        }
    }

    /// The rows of a query, every value as text (NULL as "NULL").
    pub fn rows(&self, sql: &str) -> Vec<Vec<String>> {
        match self.backend {
            Backend::Sqlite => {
                use rusqlite::types::Value;
                let c = raw(&self.path);
                let mut s = c.prepare(sql).expect("prepare");
                let n = s.column_count();
                let rows = s
                    .query_map([], |r| {
                        (0..n)
                            .map(|i| {
                                Ok(match r.get::<_, Value>(i)? {
                                    Value::Null => "NULL".to_string(),
                                    Value::Integer(v) => v.to_string(),
                                    Value::Real(v) => v.to_string(),
                                    Value::Text(t) => t,
                                    Value::Blob(b) => hex::encode(b),
                                })
                            })
                            .collect::<rusqlite::Result<Vec<String>>>()
                    })
                    .expect("query");
                rows.collect::<Result<_, _>>().expect("rows")
            }
            Backend::Postgres => {
                // Blobs come back as \x<hex>: strip the prefix so both
                // backends answer alike.
                let (url, sql) = (self.url.clone(), sql.to_string());
                pg::off_async(move || {
                    let msgs = pg::raw_client(&url).simple_query(&sql).expect("query");
                    msgs.into_iter()
                        .filter_map(|m| match m {
                            postgres::SimpleQueryMessage::Row(r) => Some(
                                (0..r.len())
                                    .map(|i| {
                                        let v = r.get(i).unwrap_or("NULL");
                                        v.strip_prefix("\\x").unwrap_or(v).to_string()
                                    })
                                    .collect(),
                            ),
                            _ => None,
                        })
                        .collect()
                })
            }
        }
    }

    /// A query's one integer.
    pub fn int(&self, sql: &str) -> i64 {
        let rows = self.rows(sql);
        rows.first()
            .and_then(|r| r.first())
            .unwrap_or_else(|| panic!("{sql}: no value"))
            .parse()
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Number of rows in `table`.
    pub fn count(&self, table: &str) -> i64 {
        self.int(&format!("SELECT count(*) FROM {table}"))
    }

    /// A blob literal in this backend's SQL.
    pub fn blob(&self, bytes: &[u8]) -> String {
        match self.backend {
            Backend::Sqlite => format!("x'{}'", hex::encode(bytes)),
            Backend::Postgres => format!("'\\x{}'::bytea", hex::encode(bytes)),
        }
    }

    /// SQL dropping one of the audit table's guard triggers.
    pub fn drop_trigger(&self, name: &str) -> String {
        match self.backend {
            Backend::Sqlite => format!("DROP TRIGGER {name};"),
            Backend::Postgres => format!("DROP TRIGGER {name} ON audit;"),
        }
    }
}

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
