//! [`Store`](crate::store::Store) on PostgreSQL: the shared store of verifier
//! replicas.
//!
//! * Selected by a `postgres://` (or `postgresql://`) URL (`database_url`,
//!   `SEALBUILD_DATABASE_URL`). TLS to the server goes through rustls: with
//!   a CA file ([`PgOptions::ca_file`]) `sslmode=prefer` (the default) and
//!   `sslmode=require` negotiate TLS and verify the server's certificate and
//!   name against that CA; `sslmode=require` without a CA file is refused
//!   rather than connecting unverified. Without a CA file and with
//!   `sslmode=prefer` or `disable` the connection is plain (use that only on
//!   a trusted network or a Unix socket).
//! * Schema versions are counted in the one-row table `sealbuild_schema`;
//!   [`PG_MIGRATIONS`] are applied at start-up in one transaction holding a
//!   transaction-scoped advisory lock ([`MIGRATION_LOCK`]), so replicas
//!   starting together migrate once and a failed migration leaves the old
//!   version. A database from a newer build is refused.
//! * **One audit chain for every replica.** Every transaction that appends
//!   to the audit log first takes the advisory lock [`AUDIT_LOCK`]
//!   (`pg_advisory_xact_lock`, released at commit or rollback), then reads
//!   the head: appends of all replicas are serialised by the database, not
//!   in process memory, and the primary key on `seq` is the backstop. The
//!   same lock serialises the read-then-write steps that go with those
//!   appends (next policy version, key state checked by a release).
//! * Single use without a lock: a challenge is taken by `UPDATE … WHERE
//!   used_at IS NULL RETURNING` and a nonce by `INSERT … ON CONFLICT DO
//!   NOTHING RETURNING`; under READ COMMITTED a concurrent second caller
//!   waits for the first one's row and then finds it used, on any replica.
//! * Durability: `synchronous_commit` as the server is configured (on by
//!   default) for every write except the nonce use, which commits with
//!   `synchronous_commit = off` like SQLite's lazy write: a key released
//!   with that nonce commits durably after it, and the WAL is flushed in
//!   order, so that commit makes the nonce durable too.
//! * A small pool of blocking connections ([`postgres::Client`]), at most
//!   [`PgOptions::max_connections`]; callers wait for a free one up to
//!   [`PgOptions::acquire_timeout`], then get [`StoreError::Busy`]. Each
//!   connection caches its prepared statements. A connection the server
//!   closed is dropped and replaced on the next use.

mod copy;
mod ops;
mod rows;

pub use copy::CopyReport;

use super::StoreError;
use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Client, NoTls, Row, Statement};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// PostgreSQL schema migrations; entry `i` creates schema version `i + 1`.
pub const PG_MIGRATIONS: &[&str] = &[include_str!("../migrations/postgres/0001_initial.sql")];

/// The PostgreSQL schema version this build writes.
pub const PG_SCHEMA_VERSION: u32 = PG_MIGRATIONS.len() as u32;

/// Advisory lock key held while migrating ("sealmigr").
pub const MIGRATION_LOCK: i64 = 0x7365_616c_6d69_6772;

/// Advisory lock key held by every transaction that appends to the audit
/// log ("sealaudt").
pub const AUDIT_LOCK: i64 = 0x7365_616c_6175_6474;

/// Tuning and TLS of [`PgStore`].
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Connections open at most (per store, i.e. per replica).
    pub max_connections: usize,
    /// How long a caller waits for a free connection.
    pub acquire_timeout: Duration,
    /// How long connecting may take.
    pub connect_timeout: Duration,
    /// How long a statement waits for a lock (the audit lock among them)
    /// before [`StoreError::Busy`].
    pub lock_timeout: Duration,
    /// PEM file of the CA(s) that issued the server's certificate: enables
    /// TLS (see the module documentation).
    pub ca_file: Option<PathBuf>,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            lock_timeout: Duration::from_secs(30),
            ca_file: None,
        }
    }
}

/// Whether `url` names a PostgreSQL database.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// `url` without its password (for messages and logs).
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<not a URL>".into();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_string(),
    };
    // Query parameters may carry a password too (`?password=`).
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let q: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => kv.to_string(),
                })
                .collect();
            format!("{path}?{}", q.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// Why connecting failed, with the server's message (a refusal by
/// pg_hba.conf, a wrong password) or the chain of causes (a TLS handshake
/// refused for the certificate): `postgres::Error` alone says only "db
/// error" or "error performing TLS handshake".
fn connect_reason(e: &postgres::Error) -> String {
    if let Some(dbe) = e.as_db_error() {
        return format!(
            "{} {}: {}",
            dbe.severity(),
            dbe.code().code(),
            dbe.message()
        );
    }
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        reason.push_str(": ");
        reason.push_str(&s.to_string());
        source = s.source();
    }
    reason
}

/// Maps a PostgreSQL error to [`StoreError`] for operation `op`.
pub(super) fn pg(op: &'static str) -> impl Fn(postgres::Error) -> StoreError + Copy {
    move |e| {
        let Some(dbe) = e.as_db_error() else {
            return StoreError::Backend {
                op,
                source: Box::new(e),
            };
        };
        let code = dbe.code();
        // SQLite's wording first, so messages read alike on both stores.
        let constraint = |what: &str| StoreError::Constraint {
            op,
            message: format!("{what} constraint failed: {}", dbe.message()),
        };
        if *code == SqlState::FOREIGN_KEY_VIOLATION {
            constraint("FOREIGN KEY")
        } else if *code == SqlState::UNIQUE_VIOLATION {
            constraint("UNIQUE")
        } else if *code == SqlState::CHECK_VIOLATION {
            constraint("CHECK")
        } else if *code == SqlState::NOT_NULL_VIOLATION {
            constraint("NOT NULL")
        } else if *code == SqlState::LOCK_NOT_AVAILABLE
            || *code == SqlState::T_R_DEADLOCK_DETECTED
            || *code == SqlState::T_R_SERIALIZATION_FAILURE
        {
            StoreError::Busy { op }
        } else {
            StoreError::Backend {
                op,
                source: Box::new(e),
            }
        }
    }
}

pub(super) fn is_unique_violation(e: &StoreError) -> bool {
    matches!(e, StoreError::Constraint { message, .. } if message.starts_with("UNIQUE"))
}

/// Unix seconds and sequence numbers are stored as BIGINT.
pub(super) fn to_i64(what: &str, v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| {
        StoreError::InvalidInput(format!(
            "{what} {v} exceeds the largest storable value {}",
            i64::MAX
        ))
    })
}

/// One pooled connection and its prepared statements.
pub(super) struct Conn {
    client: Client,
    statements: HashMap<String, Statement>,
}

/// Statements of one operation on one connection (inside a transaction for
/// writes).
pub(super) struct Db<'a> {
    conn: &'a mut Conn,
    op: &'static str,
}

type Params<'p> = [&'p (dyn ToSql + Sync)];

impl Db<'_> {
    fn statement(&mut self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(s) = self.conn.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.conn.client.prepare(sql).map_err(pg(self.op))?;
        self.conn.statements.insert(sql.to_string(), s.clone());
        Ok(s)
    }

    pub(super) fn query(&mut self, sql: &str, params: &Params<'_>) -> Result<Vec<Row>, StoreError> {
        let s = self.statement(sql)?;
        self.conn.client.query(&s, params).map_err(pg(self.op))
    }

    pub(super) fn query_opt(
        &mut self,
        sql: &str,
        params: &Params<'_>,
    ) -> Result<Option<Row>, StoreError> {
        let s = self.statement(sql)?;
        self.conn.client.query_opt(&s, params).map_err(pg(self.op))
    }

    pub(super) fn query_one(&mut self, sql: &str, params: &Params<'_>) -> Result<Row, StoreError> {
        let s = self.statement(sql)?;
        self.conn.client.query_one(&s, params).map_err(pg(self.op))
    }

    pub(super) fn execute(&mut self, sql: &str, params: &Params<'_>) -> Result<u64, StoreError> {
        let s = self.statement(sql)?;
        self.conn.client.execute(&s, params).map_err(pg(self.op))
    }
}

/// How a write transaction starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Write {
    /// Takes the audit lock first (every write that appends to the log).
    Audited,
    /// No lock, `synchronous_commit = off` (the nonce use; see the module
    /// documentation).
    Lazy,
    /// No lock, durable commit.
    Plain,
}

struct Pool {
    idle: Vec<Conn>,
    open: usize,
}

/// The PostgreSQL store. `Send + Sync`; every method blocks (call it from
/// `spawn_blocking` or a plain thread, never from an async task).
pub struct PgStore {
    config: postgres::Config,
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    pool: Mutex<Pool>,
    freed: Condvar,
    options: PgOptions,
    target: String,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgStore({})", self.target)
    }
}

fn lock(m: &Mutex<Pool>) -> MutexGuard<'_, Pool> {
    // The pool's state is two counters and a list; a panic cannot leave it
    // half-updated.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A connection lent by the pool; given back (or dropped when broken) on drop.
struct Lease<'a> {
    store: &'a PgStore,
    conn: Option<Conn>,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let mut pool = lock(&self.store.pool);
        match self.conn.take() {
            Some(c) if !c.client.is_closed() => pool.idle.push(c),
            _ => pool.open = pool.open.saturating_sub(1),
        }
        drop(pool);
        self.store.freed.notify_one();
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Closing a connection runs the client's own small runtime, which
        // must not happen on an async worker: close them on a thread of
        // their own.
        let idle = std::mem::take(&mut lock(&self.pool).idle);
        if idle.is_empty() {
            return;
        }
        if tokio::runtime::Handle::try_current().is_ok() {
            let _ = std::thread::spawn(move || drop(idle)).join();
        } else {
            drop(idle);
        }
    }
}

impl PgStore {
    /// Connects to `url` (checking one connection), applies the missing
    /// migrations under the migration lock, and returns the store.
    pub fn connect(url: &str, options: PgOptions) -> Result<Self, StoreError> {
        let target = redact_url(url);
        let open_err = |reason: String| StoreError::Open {
            path: target.clone(),
            reason,
        };
        if !is_postgres_url(url) {
            return Err(open_err(
                "not a postgres:// or postgresql:// URL".to_string(),
            ));
        }
        let mut config: postgres::Config = url
            .parse()
            .map_err(|e: postgres::Error| open_err(format!("invalid URL: {e}")))?;
        config.connect_timeout(options.connect_timeout);
        config.application_name("sealbuild-verifier");
        let tls = tls_connector(&config, &options).map_err(open_err)?;
        let store = Self {
            config,
            tls,
            pool: Mutex::new(Pool {
                idle: Vec::new(),
                open: 0,
            }),
            freed: Condvar::new(),
            options,
            target,
        };
        store.migrate()?;
        Ok(store)
    }

    /// The database's address without credentials.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The schema version of the database.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        self.read("reading the schema version", |db| {
            let row = db.query_one("SELECT version FROM sealbuild_schema", &[])?;
            let v: i32 = row.try_get(0).map_err(corrupt("schema version"))?;
            u32::try_from(v).map_err(|_| StoreError::Corrupt {
                what: "schema version",
                reason: format!("{v} is negative"),
            })
        })
    }

    fn new_conn(&self) -> Result<Conn, StoreError> {
        let connected = match &self.tls {
            Some(t) => self.config.connect(t.clone()),
            None => self.config.connect(NoTls),
        };
        let mut client = connected.map_err(|e| StoreError::Open {
            path: self.target.clone(),
            reason: connect_reason(&e),
        })?;
        let ms = self.options.lock_timeout.as_millis().max(1);
        client
            .batch_execute(&format!(
                "SET lock_timeout = {ms}; SET default_transaction_isolation = 'read committed'; \
                 SET client_min_messages = warning"
            ))
            .map_err(pg("configuring a connection"))?;
        Ok(Conn {
            client,
            statements: HashMap::new(),
        })
    }

    fn lease(&self, op: &'static str) -> Result<Lease<'_>, StoreError> {
        let deadline = Instant::now() + self.options.acquire_timeout;
        let mut pool = lock(&self.pool);
        loop {
            if let Some(c) = pool.idle.pop() {
                if c.client.is_closed() {
                    pool.open = pool.open.saturating_sub(1);
                    continue;
                }
                return Ok(Lease {
                    store: self,
                    conn: Some(c),
                });
            }
            if pool.open < self.options.max_connections.max(1) {
                pool.open += 1;
                drop(pool);
                // The lease gives the slot back if connecting fails.
                let mut lease = Lease {
                    store: self,
                    conn: None,
                };
                lease.conn = Some(self.new_conn()?);
                return Ok(lease);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(StoreError::Busy { op });
            }
            pool = self
                .freed
                .wait_timeout(pool, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Runs `f` on a pooled connection, each statement in its own
    /// transaction.
    pub(super) fn read<R>(
        &self,
        op: &'static str,
        f: impl FnOnce(&mut Db<'_>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let mut lease = self.lease(op)?;
        let Some(conn) = lease.conn.as_mut() else {
            return Err(StoreError::Backend {
                op,
                source: "the pool lent no connection".into(),
            });
        };
        f(&mut Db { conn, op })
    }

    /// Runs `f` in one transaction (see [`Write`]); returns once it
    /// committed. An `Err` from `f` rolls everything back.
    pub(super) fn write<R>(
        &self,
        op: &'static str,
        kind: Write,
        f: impl FnOnce(&mut Db<'_>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let mut lease = self.lease(op)?;
        let Some(conn) = lease.conn.as_mut() else {
            return Err(StoreError::Backend {
                op,
                source: "the pool lent no connection".into(),
            });
        };
        let begin = match kind {
            Write::Audited => format!("BEGIN; SELECT pg_advisory_xact_lock({AUDIT_LOCK})"),
            Write::Lazy => "BEGIN; SET LOCAL synchronous_commit TO off".to_string(),
            Write::Plain => "BEGIN".to_string(),
        };
        if let Err(e) = conn.client.batch_execute(&begin) {
            let _ = conn.client.batch_execute("ROLLBACK");
            return Err(pg(op)(e));
        }
        let result = f(&mut Db {
            conn: &mut *conn,
            op,
        });
        match result {
            Ok(r) => {
                // `f` returns at its first failed statement, so the
                // transaction is not in the aborted state here (where COMMIT
                // would roll back without an error).
                conn.client.batch_execute("COMMIT").map_err(pg(op))?;
                Ok(r)
            }
            Err(e) => {
                let _ = conn.client.batch_execute("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Applies the missing migrations; returns the schema version.
    fn migrate(&self) -> Result<u32, StoreError> {
        let op = "migrating the schema";
        self.write(op, Write::Plain, |db| {
            db.conn
                .client
                .batch_execute(&format!(
                    "SELECT pg_advisory_xact_lock({MIGRATION_LOCK}); \
                     CREATE TABLE IF NOT EXISTS sealbuild_schema (\
                         singleton INTEGER PRIMARY KEY NOT NULL CHECK (singleton = 1), \
                         version INTEGER NOT NULL CHECK (version >= 0)); \
                     INSERT INTO sealbuild_schema (singleton, version) VALUES (1, 0) \
                         ON CONFLICT (singleton) DO NOTHING"
                ))
                .map_err(pg(op))?;
            let row = db.query_one("SELECT version FROM sealbuild_schema", &[])?;
            let found: i32 = row.try_get(0).map_err(corrupt("schema version"))?;
            let found = u32::try_from(found).map_err(|_| StoreError::Corrupt {
                what: "schema version",
                reason: format!("{found} is negative"),
            })?;
            if found > PG_SCHEMA_VERSION {
                return Err(StoreError::SchemaTooNew {
                    found,
                    supported: PG_SCHEMA_VERSION,
                });
            }
            for (version, sql) in (1u32..).zip(PG_MIGRATIONS.iter()).skip(found as usize) {
                let failed = |e: postgres::Error| StoreError::Migration {
                    version,
                    source: Box::new(e),
                };
                db.conn.client.batch_execute(sql).map_err(failed)?;
                let v = i32::try_from(version).map_err(|_| StoreError::Corrupt {
                    what: "schema version",
                    reason: format!("{version} is too large"),
                })?;
                db.conn
                    .client
                    .execute("UPDATE sealbuild_schema SET version = $1", &[&v])
                    .map_err(failed)?;
            }
            Ok(PG_SCHEMA_VERSION)
        })
    }
}

/// The rustls connector when TLS is asked for (see the module documentation).
fn tls_connector(
    config: &postgres::Config,
    options: &PgOptions,
) -> Result<Option<tokio_postgres_rustls::MakeRustlsConnect>, String> {
    use postgres::config::SslMode;
    let mode = config.get_ssl_mode();
    let Some(ca_file) = &options.ca_file else {
        if mode == SslMode::Require {
            return Err(
                "sslmode=require needs database_ca_file (the CA that issued the \
                        server's certificate); the connection is never left unverified"
                    .into(),
            );
        }
        return Ok(None);
    };
    if mode == SslMode::Disable {
        return Ok(None);
    }
    let pem = std::fs::read(ca_file).map_err(|e| format!("{}: {e}", ca_file.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        let cert = cert.map_err(|e| format!("{}: {e}", ca_file.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("{}: {e}", ca_file.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("{}: no PEM certificates", ca_file.display()));
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS configuration: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Some(tokio_postgres_rustls::MakeRustlsConnect::new(tls)))
}

/// Maps a column decoding error.
pub(super) fn corrupt(what: &'static str) -> impl Fn(postgres::Error) -> StoreError + Copy {
    move |e| StoreError::Corrupt {
        what,
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://sb:s3cret@db.example:5432/sealbuild?sslmode=require"),
            "postgres://sb:***@db.example:5432/sealbuild?sslmode=require"
        );
        assert_eq!(
            redact_url("postgresql://db/x?user=a&password=p"),
            "postgresql://db/x?user=a&password=***"
        );
        assert_eq!(redact_url("postgres://sb@db/x"), "postgres://sb@db/x");
        assert!(is_postgres_url("postgresql://x"));
        assert!(!is_postgres_url("sqlite:/x"));
    }

    #[test]
    fn require_without_a_ca_is_refused_before_connecting() {
        let err = PgStore::connect(
            "postgres://u:pw@127.0.0.1:1/db?sslmode=require",
            PgOptions::default(),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("database_ca_file"), "{msg}");
        assert!(!msg.contains("pw@"), "{msg}");
    }
}
