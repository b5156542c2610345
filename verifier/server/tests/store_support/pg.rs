//! A real, throwaway PostgreSQL for tests (no mocks).
//!
//! `SEALBUILD_TEST_PG` (set by `scripts/test.sh`, which starts one cluster
//! for the whole run) names a server as `postgres://USER:PASSWORD@HOST:PORT`;
//! without it, the first test of a process starts
//! `scripts/pg-test-cluster.sh` (initdb in a temporary directory, as the user
//! `postgres` when root) and the cluster stops when the process exits (its
//! standard input, a pipe from this process, closes). Every test gets a
//! database of its own ([`fresh_database`]). When PostgreSQL is not
//! installed the tests fail saying so; they never pass without it.
//!
//! Shared by the verifier's store tests and the `tests` crate (included
//! there with `#[path]`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// Environment variable naming a running test server.
pub const ENV: &str = "SEALBUILD_TEST_PG";

struct Server {
    base: String,
    // Kept for the life of the process: its stdin pipe closing stops the cluster.
    _child: Option<Mutex<Child>>,
}

fn repo_root() -> PathBuf {
    // verifier/server or tests: walk up to the directory holding scripts/.
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    while !dir.join("scripts/pg-test-cluster.sh").exists() {
        assert!(
            dir.pop(),
            "scripts/pg-test-cluster.sh not found above the crate"
        );
    }
    dir
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        if let Ok(base) = std::env::var(ENV) {
            if !base.is_empty() {
                return Server {
                    base: base.trim_end_matches('/').to_string(),
                    _child: None,
                };
            }
        }
        let script = repo_root().join("scripts/pg-test-cluster.sh");
        let mut child = Command::new("bash")
            .arg(&script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read");
        let Some(base) = line.trim().strip_prefix(&format!("{ENV}=")) else {
            let out = child.wait_with_output().expect("wait");
            panic!(
                "could not start a throwaway PostgreSQL (these tests need a real one; \
                 scripts/test.sh installs the Debian package postgresql):\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        Server {
            base: base.to_string(),
            _child: Some(Mutex::new(child)),
        }
    })
}

/// `postgres://USER:PASSWORD@HOST:PORT` of the test server.
pub fn server_base() -> String {
    server().base.clone()
}

/// Runs `f` on a thread of its own: the synchronous PostgreSQL client must
/// not run on an async worker, and tests call this from both.
pub fn off_async<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    std::thread::spawn(f)
        .join()
        .expect("PostgreSQL helper thread")
}

/// A new, empty database on the test server; returns its URL.
pub fn fresh_database() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let base = server_base();
    let name = format!(
        "sb_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    );
    let admin = format!("{base}/postgres");
    let stmt = format!("CREATE DATABASE {name}");
    off_async(move || {
        let mut c = postgres::Client::connect(&admin, postgres::NoTls)
            .unwrap_or_else(|e| panic!("connecting to the test PostgreSQL: {e}"));
        c.batch_execute(&stmt).expect("CREATE DATABASE");
    });
    format!("{base}/{name}")
}

/// A raw client of `url` (for inspection and tampering; call off async).
pub fn raw_client(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).expect("raw PostgreSQL connection")
}
