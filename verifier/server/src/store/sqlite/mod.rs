//! [`Store`](crate::store::Store) on SQLite (bundled), the embedded default.
//!
//! * One database file, opened in WAL mode (readers do not block the writer),
//!   `synchronous = FULL` (a committed nonce consumption or key release
//!   survives power loss), `foreign_keys = ON` and a busy timeout (default
//!   5 s) on every connection. A new file is created with mode 0600 (it holds
//!   sealed private keys); SQLite gives the `-wal`/`-shm` files the same mode.
//! * Schema versions are counted in `PRAGMA user_version`; [`MIGRATIONS`] are
//!   applied in order inside one `BEGIN IMMEDIATE` transaction at open, so
//!   concurrent openers migrate once and a failed migration leaves the old
//!   version. A file from a newer build is refused.
//! * One writer per process ([`writer`]): every write runs on one connection
//!   in a `BEGIN IMMEDIATE` transaction shared by the writes that arrive
//!   while it is open (group commit, each write in its own savepoint), so
//!   read-then-write sequences (audit head, next policy version) are
//!   serialized, bursts queue instead of failing, and a burst costs about one
//!   fsync per batch. Across processes (an admin CLI on the same file) the
//!   SQLite write lock and the busy timeout still serialize.
//! * Reads take an idle reader connection (or open one), so concurrent
//!   readers use separate connections and never wait for the writer (WAL);
//!   up to `max_idle` are kept. The in-memory store (for unit tests) has only
//!   the writer's connection.

mod ops;
mod rows;
mod writer;

pub use writer::WriterStats;
use writer::{Durability, Writer};

use super::StoreError;
use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Schema migrations; entry `i` creates schema version `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_initial.sql"),
    include_str!("../migrations/0002_snp_attesters.sql"),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Tuning of [`SqliteStore`].
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// How long a writer waits for the lock before [`StoreError::Busy`].
    pub busy_timeout: Duration,
    /// Idle connections kept open.
    pub max_idle: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            busy_timeout: Duration::from_secs(5),
            max_idle: 4,
        }
    }
}

enum Conns {
    File {
        path: PathBuf,
        idle: Mutex<Vec<Connection>>,
    },
    Memory,
}

/// The SQLite store. `Send + Sync`; every method blocks.
pub struct SqliteStore {
    conns: Conns,
    writer: Writer,
    options: SqliteOptions,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.conns {
            Conns::File { path, .. } => write!(f, "SqliteStore({})", path.display()),
            Conns::Memory => f.write_str("SqliteStore(:memory:)"),
        }
    }
}

/// Maps a rusqlite error to [`StoreError`] for operation `op`.
pub(super) fn db(op: &'static str) -> impl Fn(rusqlite::Error) -> StoreError + Copy {
    move |e| match &e {
        rusqlite::Error::SqliteFailure(f, msg) => match f.code {
            ErrorCode::ConstraintViolation => StoreError::Constraint {
                op,
                message: msg.clone().unwrap_or_else(|| f.to_string()),
            },
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => StoreError::Busy { op },
            _ => StoreError::Backend {
                op,
                source: Box::new(e),
            },
        },
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::IntegralValueOutOfRange(..) => StoreError::Corrupt {
            what: op,
            reason: e.to_string(),
        },
        _ => StoreError::Backend {
            op,
            source: Box::new(e),
        },
    }
}

pub(super) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
}

/// Unix seconds must fit SQLite's signed 64-bit INTEGER.
pub(super) fn check_time(what: &str, t: u64) -> Result<(), StoreError> {
    if i64::try_from(t).is_err() {
        return Err(StoreError::InvalidInput(format!(
            "{what} {t} exceeds the largest storable time {}",
            i64::MAX
        )));
    }
    Ok(())
}

fn open_connection(path: &Path, options: &SqliteOptions) -> Result<Connection, StoreError> {
    let open_err = |reason: String| StoreError::Open {
        path: path.display().to_string(),
        reason,
    };
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| open_err(e.to_string()))?;
    configure(&conn, options, true).map_err(open_err)?;
    Ok(conn)
}

fn configure(conn: &Connection, options: &SqliteOptions, file: bool) -> Result<(), String> {
    conn.busy_timeout(options.busy_timeout)
        .map_err(|e| format!("setting the busy timeout: {e}"))?;
    if file {
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(|e| format!("enabling WAL: {e}"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(format!("WAL mode not available (journal_mode is {mode})"));
        }
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(|e| format!("setting synchronous=FULL: {e}"))?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(|e| format!("enabling foreign keys: {e}"))?;
    let fk: bool = conn
        .pragma_query_value(None, "foreign_keys", |r| r.get(0))
        .map_err(|e| format!("reading foreign_keys: {e}"))?;
    if !fk {
        return Err("this SQLite does not enforce foreign keys".into());
    }
    Ok(())
}

/// Applies the missing migrations; returns the schema version.
fn migrate(conn: &mut Connection) -> Result<u32, StoreError> {
    let d = db("migrating the schema");
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(d)?;
    let found: i64 = tx
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(d)?;
    let found = u32::try_from(found).map_err(|_| StoreError::Corrupt {
        what: "schema version",
        reason: format!("user_version {found} is negative or too large"),
    })?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (version, sql) in (1u32..).zip(MIGRATIONS.iter()).skip(found as usize) {
        let failed = |e: rusqlite::Error| StoreError::Migration {
            version,
            source: Box::new(e),
        };
        tx.execute_batch(sql).map_err(failed)?;
        tx.pragma_update(None, "user_version", version)
            .map_err(failed)?;
    }
    tx.commit().map_err(d)?;
    Ok(SCHEMA_VERSION)
}

impl SqliteStore {
    /// Opens (creating and migrating if needed) the database file at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, SqliteOptions::default())
    }

    /// [`SqliteStore::open`] with explicit options.
    pub fn open_with(path: &Path, options: SqliteOptions) -> Result<Self, StoreError> {
        create_private_file(path)?;
        let mut conn = open_connection(path, &options)?;
        migrate(&mut conn)?;
        let reader = open_connection(path, &options)?;
        Ok(Self {
            conns: Conns::File {
                path: path.to_path_buf(),
                idle: Mutex::new(vec![reader]),
            },
            writer: Writer::new(conn),
            options,
        })
    }

    /// A private in-memory database (one connection), for unit tests.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let options = SqliteOptions::default();
        let open_err = |reason: String| StoreError::Open {
            path: ":memory:".into(),
            reason,
        };
        let mut conn = Connection::open_in_memory().map_err(|e| open_err(e.to_string()))?;
        configure(&conn, &options, false).map_err(open_err)?;
        migrate(&mut conn)?;
        Ok(Self {
            conns: Conns::Memory,
            writer: Writer::new(conn),
            options,
        })
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        self.with_conn(|c| {
            c.pragma_query_value(None, "user_version", |r| r.get(0))
                .map_err(db("reading the schema version"))
        })
    }

    /// Frees the page caches of the writer's and the idle readers'
    /// connections (`PRAGMA shrink_memory`, i.e. sqlite3_db_release_memory):
    /// each may hold up to 2 MiB of database pages (SQLite's default
    /// `cache_size`), which it reads again when needed.
    pub fn shrink_caches(&self) -> Result<(), StoreError> {
        let shrink = |c: &mut Connection| {
            c.execute_batch("PRAGMA shrink_memory")
                .map_err(db("releasing the page cache"))
        };
        if let Conns::File { idle, .. } = &self.conns {
            let mut idle = idle.lock().unwrap_or_else(PoisonError::into_inner);
            for c in idle.iter_mut() {
                shrink(c)?;
            }
        }
        self.writer.with_idle_conn(shrink)
    }

    /// Counters of the single writer (commits, writes, durable commits).
    pub fn writer_stats(&self) -> WriterStats {
        self.writer.stats()
    }

    fn with_conn<R>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        match &self.conns {
            Conns::Memory => self.writer.with_idle_conn(f),
            Conns::File { path, idle } => {
                let popped = idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
                let mut conn = match popped {
                    Some(c) => c,
                    None => open_connection(path, &self.options)?,
                };
                let result = f(&mut conn);
                if conn.is_autocommit() {
                    let mut idle = idle.lock().unwrap_or_else(PoisonError::into_inner);
                    if idle.len() < self.options.max_idle {
                        idle.push(conn);
                    }
                }
                result
            }
        }
    }

    /// Runs `f` through the single writer (a savepoint in the current
    /// batch); returns once the batch committed durably (`synchronous =
    /// FULL`).
    pub(super) fn write<R>(
        &self,
        op: &'static str,
        f: impl FnOnce(&Connection) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        self.writer.write(op, Durability::Durable, f)
    }

    /// [`SqliteStore::write`] for a write that may be lost in a power
    /// failure until the next durable commit (see [`writer`]).
    pub(super) fn write_lazy<R>(
        &self,
        op: &'static str,
        f: impl FnOnce(&Connection) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        self.writer.write(op, Durability::Lazy, f)
    }

    pub(super) fn read<R>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        self.with_conn(|conn| f(conn))
    }
}

/// Creates the database file with mode 0600 if it does not exist.
fn create_private_file(path: &Path) -> Result<(), StoreError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Open {
            path: path.display().to_string(),
            reason: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{AuditHead, NoticeRecord};
    use crate::store::Store;

    #[test]
    fn in_memory_store_migrates_and_appends() {
        let s = SqliteStore::open_in_memory().unwrap();
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(s.audit_head().unwrap(), AuditHead::GENESIS);
        let e = s
            .append_notice(NoticeRecord {
                time: 5,
                body: crate::audit::NoticeBody {
                    message: "started".into(),
                    details: serde_json::json!({"z": 1, "a": 2}),
                },
            })
            .unwrap();
        assert_eq!(e.seq, 1);
        assert_eq!(e.body, r#"{"details":{"a":2,"z":1},"message":"started"}"#);
        assert_eq!(s.audit_head().unwrap(), e.head());
        assert_eq!(s.audit_entries(1, 10).unwrap(), vec![e]);
    }

    #[test]
    fn shrinking_the_caches_keeps_the_store_serving() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("v.db")).unwrap();
        let notice = |time| NoticeRecord {
            time,
            body: crate::audit::NoticeBody {
                message: "n".into(),
                details: serde_json::json!({}),
            },
        };
        let first = s.append_notice(notice(1)).unwrap();
        assert_eq!(s.audit_entries(1, 10).unwrap().len(), 1);
        // The writer's connection and the idle reader's, twice over.
        s.release_memory().unwrap();
        s.release_memory().unwrap();
        let second = s.append_notice(notice(2)).unwrap();
        assert_eq!(second.seq, first.seq + 1);
        assert_eq!(s.audit_entries(1, 10).unwrap(), vec![first, second]);
        assert_eq!(
            s.audit_head().unwrap(),
            s.audit_entries(2, 1).unwrap()[0].head()
        );
    }
}
