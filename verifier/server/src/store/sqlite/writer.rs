//! The one writer of a [`SqliteStore`](super::SqliteStore): every write of
//! the process goes through one connection, and concurrent writes share
//! one transaction and one commit (group commit).
//!
//! ## How a write runs
//!
//! A caller announces itself (`waiting += 1`), takes the writer lock, opens
//! the batch's transaction if none is open (`BEGIN IMMEDIATE`), and runs its
//! operation inside its own savepoint: a failing operation rolls back only
//! its own changes, the batch goes on. Then:
//!
//! * if nobody else is waiting for the lock (or the batch is full), it
//!   commits the batch itself, for everyone in it, and wakes them;
//! * otherwise it leaves the transaction open for the next caller and waits
//!   until the batch is committed (or failed).
//!
//! No caller returns `Ok` before the transaction holding its change has
//! committed, so "keys leave only after their audit entry committed" holds
//! exactly as with one transaction per write. While one batch commits (an
//! fsync), the next callers queue on the lock and form the next batch, so a
//! burst of N writes costs about one fsync per batch rather than N, and
//! queues instead of failing with "database busy" (the busy timeout now only
//! matters against *other processes*, e.g. an admin CLI on the same file).
//!
//! ## Durability per write
//!
//! A write is *durable* (`synchronous = FULL` at its commit: it survives power
//! loss once acknowledged) or *lazy* (`synchronous = NORMAL`: written to the
//! WAL without an fsync; it survives a crash of the process, and a power loss
//! may lose it). SQLite fixes the sync level outside a transaction, so a
//! batch is durable or lazy from its first write: lazy writes join a durable
//! batch (and become durable), a durable write arriving at a lazy batch
//! commits that batch first and starts a durable one. In WAL mode a durable
//! commit syncs the whole log up to it, so every lazy write that committed
//! before a durable one is durable too. Nonce consumption is the one lazy
//! write; see `crate::nonce` for why that keeps nonces single-use.

use super::super::StoreError;
use super::db;
use rusqlite::Connection;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};

/// Most writes committed together.
pub(super) const MAX_BATCH: usize = 256;

/// Whether a write must be on stable storage when acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durability {
    /// `synchronous = FULL` at commit.
    Durable,
    /// `synchronous = NORMAL` at commit (durable with the next durable commit).
    Lazy,
}

/// How a batch ended: `Ok` committed, `Err` the reason it did not.
type Outcome = Arc<OnceLock<Result<(), String>>>;

struct Batch {
    jobs: usize,
    durable: bool,
    outcome: Outcome,
}

struct State {
    conn: Connection,
    open: Option<Batch>,
}

/// Counters of the writer (for tests and metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Transactions committed.
    pub commits: u64,
    /// Writes that committed.
    pub writes: u64,
    /// Commits with `synchronous = FULL`.
    pub durable_commits: u64,
}

/// The single writer: one connection behind a lock, batches of writes.
pub(super) struct Writer {
    state: Mutex<State>,
    done: Condvar,
    waiting: AtomicUsize,
    stats: Mutex<WriterStats>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic inside an operation is turned into a failed batch before it
    // unwinds (see `Writer::write`), so the state behind a poisoned lock is
    // consistent: no transaction is left open.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Writer {
    pub(super) fn new(conn: Connection) -> Self {
        Self {
            state: Mutex::new(State { conn, open: None }),
            done: Condvar::new(),
            waiting: AtomicUsize::new(0),
            stats: Mutex::new(WriterStats::default()),
        }
    }

    pub(super) fn stats(&self) -> WriterStats {
        *lock(&self.stats)
    }

    /// Runs `f` on the writer's connection with no batch open (reads of the
    /// in-memory store, which has only this connection).
    pub(super) fn with_idle_conn<R>(&self, f: impl FnOnce(&mut Connection) -> R) -> R {
        let mut state = lock(&self.state);
        while state.open.is_some() {
            state = self
                .done
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        f(&mut state.conn)
    }

    /// Runs `f` inside the current batch and returns its result once the
    /// batch committed.
    pub(super) fn write<R>(
        &self,
        op: &'static str,
        durability: Durability,
        f: impl FnOnce(&Connection) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let mut state = lock(&self.state);
        self.waiting.fetch_sub(1, Ordering::SeqCst);

        let durable = durability == Durability::Durable;
        if state.open.as_ref().is_some_and(|b| durable && !b.durable) {
            // A durable write does not join a lazy batch: that batch commits
            // first (its writers are woken), then a durable one starts.
            self.commit(&mut state);
        }
        if state.open.is_none() {
            // SQLite fixes the commit's sync level outside the transaction.
            let sync = if durable { "FULL" } else { "NORMAL" };
            state
                .conn
                .pragma_update(None, "synchronous", sync)
                .map_err(db(op))?;
            state
                .conn
                .execute_batch("BEGIN IMMEDIATE")
                .map_err(db(op))?;
            state.open = Some(Batch {
                jobs: 0,
                durable,
                outcome: Arc::new(OnceLock::new()),
            });
        }
        let ran = {
            let conn = &state.conn;
            catch_unwind(AssertUnwindSafe(|| run_in_savepoint(conn, op, f)))
        };
        let result = match ran {
            Ok(r) => r,
            Err(panic) => {
                self.fail_batch(&mut state, "an operation in the batch panicked".into());
                drop(state);
                resume_unwind(panic);
            }
        };
        let result = match result {
            Ok(r) => r,
            Err(SavepointError::Batch(e)) => {
                // The transaction itself is gone: everyone in it fails.
                self.fail_batch(&mut state, e.to_string());
                return Err(e);
            }
        };
        let Some(batch) = state.open.as_mut() else {
            // invariant: the batch was opened above and only `fail_batch`
            // or `commit` close it, both of which returned already.
            return Err(StoreError::Backend {
                op,
                source: "the write batch closed unexpectedly".into(),
            });
        };
        if result.is_ok() {
            batch.jobs += 1;
        }
        let outcome = batch.outcome.clone();
        let full = batch.jobs >= MAX_BATCH;
        if full || self.waiting.load(Ordering::SeqCst) == 0 {
            self.commit(&mut state);
        } else {
            while outcome.get().is_none() {
                state = self
                    .done
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        }
        drop(state);
        let r = result?;
        match outcome.get() {
            Some(Ok(())) => Ok(r),
            Some(Err(msg)) => Err(StoreError::Backend {
                op,
                source: format!("the transaction holding this write did not commit: {msg}").into(),
            }),
            None => Err(StoreError::Backend {
                op,
                source: "the write batch ended without an outcome".into(),
            }),
        }
    }

    /// Commits the open batch with the durability its writes asked for.
    fn commit(&self, state: &mut State) {
        let Some(batch) = state.open.take() else {
            return;
        };
        let committed = state.conn.execute_batch("COMMIT");
        let outcome = match committed {
            Ok(()) => {
                let mut s = lock(&self.stats);
                s.commits += 1;
                s.writes += batch.jobs as u64;
                s.durable_commits += u64::from(batch.durable);
                Ok(())
            }
            Err(e) => {
                if !state.conn.is_autocommit() {
                    let _ = state.conn.execute_batch("ROLLBACK");
                }
                Err(e.to_string())
            }
        };
        let _ = batch.outcome.set(outcome);
        self.done.notify_all();
    }

    /// Rolls the open batch back and fails everyone in it.
    fn fail_batch(&self, state: &mut State, reason: String) {
        if let Some(batch) = state.open.take() {
            if !state.conn.is_autocommit() {
                let _ = state.conn.execute_batch("ROLLBACK");
            }
            let _ = batch.outcome.set(Err(reason));
        }
        self.done.notify_all();
    }
}

enum SavepointError {
    /// The transaction is no longer usable (SQLite rolled it back, or the
    /// savepoint itself failed).
    Batch(StoreError),
}

/// Runs `f` in a savepoint: its changes are kept on `Ok`, undone on `Err`.
fn run_in_savepoint<R>(
    conn: &Connection,
    op: &'static str,
    f: impl FnOnce(&Connection) -> Result<R, StoreError>,
) -> Result<Result<R, StoreError>, SavepointError> {
    let d = db(op);
    conn.execute_batch("SAVEPOINT op")
        .map_err(|e| SavepointError::Batch(d(e)))?;
    let r = f(conn);
    if conn.is_autocommit() {
        // An I/O, full-disk or memory error made SQLite roll back the whole
        // transaction: the batch is lost.
        return Err(SavepointError::Batch(match r {
            Err(e) => e,
            Ok(_) => StoreError::Backend {
                op,
                source: "the transaction was rolled back by SQLite".into(),
            },
        }));
    }
    let end = match r {
        Ok(_) => conn.execute_batch("RELEASE op"),
        Err(_) => conn.execute_batch("ROLLBACK TO op; RELEASE op"),
    };
    end.map_err(|e| SavepointError::Batch(d(e)))?;
    Ok(r)
}
