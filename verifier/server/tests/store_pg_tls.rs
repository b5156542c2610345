//! TLS to PostgreSQL, end to end: a throwaway cluster
//! (`scripts/pg-test-cluster.sh` with `SEALBUILD_PG_TLS_DIR`) serving an
//! rcgen certificate for 127.0.0.1 with `ssl=on` and accepting TCP
//! connections only over TLS (`hostssl`). The store opens it (a real
//! handshake, migrations and queries over TLS) with `database_ca_file` set
//! to the issuing CA; it is refused without TLS and with another CA.
//! Fails, never skips, when PostgreSQL is not installed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sealbuild_verifier::store::{PgOptions, PgStore};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The cluster; its standard input closing stops it and removes its files.
struct Cluster {
    child: Child,
    base: String,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

fn repo_root() -> PathBuf {
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    while !dir.join("scripts/pg-test-cluster.sh").exists() {
        assert!(
            dir.pop(),
            "scripts/pg-test-cluster.sh not found above the crate"
        );
    }
    dir
}

fn start_tls_cluster(tls_dir: &Path) -> Cluster {
    let script = repo_root().join("scripts/pg-test-cluster.sh");
    let mut child = Command::new("bash")
        .arg(&script)
        .env("SEALBUILD_PG_TLS_DIR", tls_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read");
    let Some(base) = line.trim().strip_prefix("SEALBUILD_TEST_PG=") else {
        let out = child.wait_with_output().expect("wait");
        panic!(
            "could not start a throwaway PostgreSQL with TLS (this test needs a real one; \
             scripts/test.sh installs the Debian package postgresql):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    Cluster {
        base: base.to_string(),
        child,
    }
}

fn options(ca: Option<&Path>) -> PgOptions {
    PgOptions {
        ca_file: ca.map(Path::to_path_buf),
        connect_timeout: std::time::Duration::from_secs(10),
        ..PgOptions::default()
    }
}

#[test]
fn store_opens_postgresql_over_verified_tls_only() {
    // The server's certificate: rcgen, issued by a local CA, names
    // localhost, 127.0.0.1 and ::1 (the verifier's own local TLS helper).
    let certs = tempfile::tempdir().unwrap();
    let files = sealbuild_verifier::tls::ensure_local_tls(certs.path(), &[]).unwrap();
    let tls_dir = certs.path().join("tls");
    let ca = files.ca.clone().expect("a local CA");
    // Another CA, which did not issue the server's certificate.
    let other = tempfile::tempdir().unwrap();
    let other_ca = sealbuild_verifier::tls::ensure_local_tls(other.path(), &[])
        .unwrap()
        .ca
        .expect("a local CA");

    let cluster = start_tls_cluster(&tls_dir);
    let url = format!("{}/postgres", cluster.base);

    // Verified TLS, as sslmode=require and as the default (prefer): the
    // store migrates and reads over the connection.
    for u in [format!("{url}?sslmode=require"), url.clone()] {
        let store = PgStore::connect(&u, options(Some(&ca)))
            .unwrap_or_else(|e| panic!("opening {} over TLS: {e}", u.replace(&cluster.base, "…")));
        assert!(store.schema_version().unwrap() >= 1);
    }

    // The server accepts TCP only over TLS, so the successes above were
    // TLS: a plain connection is refused by pg_hba.conf.
    let Err(err) = PgStore::connect(&format!("{url}?sslmode=disable"), options(None)) else {
        panic!("a plain connection to a hostssl-only server must fail");
    };
    let msg = err.to_string();
    assert!(
        msg.contains("pg_hba.conf") || msg.contains("no encryption"),
        "plain connection refused for another reason: {msg}"
    );
    eprintln!("plain connection refused: {msg}");

    // A CA that did not issue the server's certificate: the handshake fails.
    let Err(err) = PgStore::connect(&format!("{url}?sslmode=require"), options(Some(&other_ca)))
    else {
        panic!("TLS with a certificate from another CA must fail");
    };
    let msg = err.to_string().to_lowercase();
    assert!(
        msg.contains("certificate") || msg.contains("unknownissuer") || msg.contains("tls"),
        "refused for another reason than the certificate: {msg}"
    );
    eprintln!("another CA refused: {msg}");

    // sslmode=require without a CA file is refused before connecting.
    assert!(PgStore::connect(&format!("{url}?sslmode=require"), options(None)).is_err());
    drop(cluster);
}
