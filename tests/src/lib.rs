//! Harness of sealbuild's end-to-end tests: a manufactured swtpm (EK
//! certificates from a local CA, via `scripts/swtpm-setup.sh`), a verifier
//! serving HTTPS on 127.0.0.1 with a real SQLite file, and an agent talking
//! to both. Everything a test starts is stopped when its handle drops.
//!
//! Test support: a failing step must stop the test with a message, so the
//! panicking shortcuts the libraries forbid are allowed here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sealbuild_agent::client::{VerifierClient, VerifierTrust};
use sealbuild_agent::tpm::TctiConfig;
use sealbuild_verifier::clock::OffsetClock;
use sealbuild_verifier::config::{load_ca_dir, Config};
use sealbuild_verifier::http::Running;
use sealbuild_verifier::keys::{KeyManager, MasterKey};
use sealbuild_verifier::resultkey::ResultKey;
use sealbuild_verifier::service::Verifier;
use sealbuild_verifier::store::{SqliteStore, Store};
use std::io::Read as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A throwaway PostgreSQL for the replica tests (the harness the verifier's
/// store tests use).
#[path = "../../verifier/server/tests/store_support/pg.rs"]
pub mod pg;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// A file under tests/data.
pub fn data(rel: &str) -> PathBuf {
    repo().join("tests/data").join(rel)
}

/// The real firmware event log the simulated measured boot replays: a GCE
/// A git checkout of samples/hello in `dir` with a fixed identity and date
/// (`variant`, when not empty, replaces "sealed build" in hello.c); returns
/// its commit.
pub fn sample_repo(dir: &Path, variant: &str) -> String {
    std::fs::create_dir_all(dir).unwrap();
    for f in ["hello.c", "Makefile"] {
        std::fs::copy(repo().join("samples/hello").join(f), dir.join(f)).unwrap();
    }
    if !variant.is_empty() {
        let c = std::fs::read_to_string(dir.join("hello.c")).unwrap();
        std::fs::write(dir.join("hello.c"), c.replace("sealed build", variant)).unwrap();
    }
    let git = |args: &[&str]| {
        let o = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
            .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
            .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
            .output()
            .expect("git");
        assert!(
            o.status.success(),
            "git {args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap().trim().to_string()
    };
    git(&["init", "-q"]);
    std::fs::write(dir.join(".gitignore"), "out/\n").unwrap();
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "sample"]);
    git(&["rev-parse", "HEAD"])
}

/// SEV-SNP VM running Ubuntu 24.04 (see tests/data/NOTICE.md).
/// Runs the library's sealed build with `c`, collecting its progress lines.
pub async fn run_sealed_build(
    build: &sealbuild_agent::sealed_build::SealedBuild,
    client: &VerifierClient,
    c: &mut dyn sealbuild_agent::evidence::EvidenceCollector,
) -> (sealbuild_agent::sealed_build::Outcome, Vec<String>) {
    let lines = std::sync::Mutex::new(Vec::new());
    let outcome = build
        .run(client, c, &|m: &str| {
            lines.lock().unwrap().push(m.to_string())
        })
        .await
        .unwrap();
    (outcome, lines.into_inner().unwrap())
}

pub fn boot_log() -> PathBuf {
    data("tpm/go-tpm-tools/eventlogs/ubuntu-2404-amd-sevsnp.bin")
}

/// Fails the test with a clear message when `tool` is missing.
pub fn require_tool(tool: &str, package: &str) {
    match Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "{tool} is not installed; this test needs the Debian package {package} \
             (scripts/test.sh installs it)"
        ),
        Err(e) => panic!("cannot run {tool}: {e}"),
    }
}

fn free_port_pair() -> u16 {
    for _ in 0..100 {
        let Ok(l) = TcpListener::bind("127.0.0.1:0") else {
            continue;
        };
        let p = l.local_addr().unwrap().port();
        if p < 65534 && TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
    panic!("no free pair of TCP ports on 127.0.0.1");
}

/// A manufactured software TPM: a local CA, a swtpm state with RSA and ECC
/// EK certificates, and a running swtpm on a free port pair.
pub struct Tpm {
    child: Child,
    port: u16,
    /// Temporary directory holding `state/` and `ca/`.
    pub dir: tempfile::TempDir,
}

impl Tpm {
    /// Manufactures a TPM (scripts/swtpm-setup.sh) and starts it.
    pub fn manufacture() -> Self {
        require_tool("swtpm", "swtpm");
        require_tool("swtpm_setup", "swtpm-tools");
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let ca = dir.path().join("ca");
        let out = Command::new("bash")
            .arg(repo().join("scripts/swtpm-setup.sh"))
            .arg(&state)
            .arg(&ca)
            .output()
            .expect("running scripts/swtpm-setup.sh");
        assert!(
            out.status.success(),
            "scripts/swtpm-setup.sh failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let (child, port) = spawn_swtpm(&state);
        Self { child, port, dir }
    }

    /// A swtpm on an empty state (not manufactured: no EK certificates),
    /// e.g. to lay it out like another platform's vTPM.
    pub fn blank() -> Self {
        require_tool("swtpm", "swtpm");
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        std::fs::create_dir(&state).unwrap();
        let (child, port) = spawn_swtpm(&state);
        Self { child, port, dir }
    }

    /// Runs a tpm2-tools command against this swtpm (in its directory).
    pub fn tpm2(&self, tool: &str, args: &[&str]) -> std::process::Output {
        require_tool(tool, "tpm2-tools");
        Command::new(tool)
            .args(args)
            .current_dir(self.dir.path())
            .env("TPM2TOOLS_TCTI", self.tcti_string())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"))
    }

    /// [`Self::tpm2`] that must succeed; returns its standard output.
    pub fn tpm2_ok(&self, tool: &str, args: &[&str]) -> String {
        let out = self.tpm2(tool, args);
        assert!(
            out.status.success(),
            "{tool} {args:?} failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Flushes transient objects and sessions (swtpm has no resource
    /// manager, and tpm2-tools leaves objects loaded).
    pub fn flush(&self) {
        for f in ["-t", "-l", "-s"] {
            let _ = self.tpm2("tpm2_flushcontext", &[f]);
        }
    }

    /// The raw value of the TPM property `name` (`tpm2_getcap
    /// properties-fixed`).
    pub fn fixed_property(&self, name: &str) -> u64 {
        let out = self.tpm2_ok("tpm2_getcap", &["properties-fixed"]);
        let mut lines = out.lines().skip_while(|l| l.trim() != format!("{name}:"));
        lines
            .next()
            .unwrap_or_else(|| panic!("{name} not in:\n{out}"));
        let raw = lines
            .next()
            .and_then(|l| l.trim().strip_prefix("raw: 0x"))
            .unwrap_or_else(|| panic!("{name}: no raw value in:\n{out}"));
        u64::from_str_radix(raw, 16).unwrap()
    }

    /// Directory of DER CA certificates (trust anchors) of the local TPM CA.
    pub fn ca_certs(&self) -> PathBuf {
        self.dir.path().join("ca/ca-certs")
    }

    /// TCTI string.
    pub fn tcti_string(&self) -> String {
        format!("swtpm:host=127.0.0.1,port={}", self.port)
    }

    /// The agent's TCTI.
    pub fn tcti(&self) -> TctiConfig {
        self.tcti_string().parse().unwrap()
    }

    /// Replays the boot log into the TPM (simulated measured boot).
    pub fn simulate_boot(&self) -> sealbuild_common::eventlog::EventLog {
        let bytes = std::fs::read(boot_log()).unwrap();
        let log = sealbuild_common::eventlog::EventLog::parse(&bytes).unwrap();
        let mut backend = sealbuild_agent::tpm::TpmBackend::open(&self.tcti()).unwrap();
        let n = sealbuild_agent::simboot::replay_into_tpm(
            &mut backend,
            &log,
            &[sealbuild_common::HashAlg::Sha256],
        )
        .unwrap();
        assert!(n > 10, "the boot log extended only {n} events");
        log
    }
}

fn spawn_swtpm(state: &Path) -> (Child, u16) {
    let mut last_err = String::new();
    for _ in 0..10 {
        let port = free_port_pair();
        let mut child = Command::new("swtpm")
            .args(["socket", "--tpm2"])
            .arg("--server")
            .arg(format!("type=tcp,port={port},bindaddr=127.0.0.1"))
            .arg("--ctrl")
            .arg(format!("type=tcp,port={},bindaddr=127.0.0.1", port + 1))
            .arg("--tpmstate")
            .arg(format!("dir={}", state.display()))
            .args(["--flags", "not-need-init,startup-clear"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting swtpm");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                last_err = format!("swtpm exited with {status}: {err}");
                break;
            }
            if TcpStream::connect(("127.0.0.1", port + 1)).is_ok() {
                std::thread::sleep(Duration::from_millis(50));
                if matches!(child.try_wait(), Ok(None)) {
                    return (child, port);
                }
                continue;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                last_err = "swtpm did not listen within 10 s".into();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    panic!("could not start swtpm: {last_err}");
}

impl Drop for Tpm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A verifier serving HTTPS on 127.0.0.1 (free port) over a SQLite file,
/// or one of several replicas over one PostgreSQL database
/// ([`TestVerifier::start_replicas`]).
pub struct TestVerifier {
    /// Base URL.
    pub url: String,
    /// The service (for direct calls).
    pub service: Arc<Verifier>,
    /// Its store (a PostgreSQL store blocks: call it off the async workers,
    /// e.g. with `pg::off_async`).
    pub store: Arc<dyn Store>,
    /// The PostgreSQL database of replicas.
    pub database_url: Option<String>,
    /// Its clock (tests move time with `advance`).
    pub clock: Arc<OffsetClock>,
    /// Database file.
    pub db: PathBuf,
    /// CA certificate agents trust.
    pub ca_pem: PathBuf,
    /// Admin token.
    pub admin_token: String,
    running: Option<Running>,
    /// State directory (shared by replicas).
    pub dir: Arc<tempfile::TempDir>,
}

impl TestVerifier {
    /// Starts a verifier trusting the TPM CA certificates in `ek_ca_dir`.
    pub async fn start(ek_ca_dir: &Path) -> Self {
        Self::start_with(ek_ca_dir, |_| {}).await
    }

    /// [`Self::start`] with a hook that adjusts the configuration.
    pub async fn start_with(ek_ca_dir: &Path, configure: impl FnOnce(&mut Config)) -> Self {
        let dir = Arc::new(tempfile::tempdir().unwrap());
        Self::start_in(dir, ek_ca_dir, configure).await
    }

    /// `n` replicas over one new PostgreSQL database (a real server, see
    /// [`pg`]), sharing one state directory: master key, result key and TLS
    /// certificate, as replicas behind a load balancer do. Each has its own
    /// store (connection pool), service and port.
    pub async fn start_replicas(ek_ca_dir: &Path, n: usize) -> Vec<Self> {
        let url = tokio::task::spawn_blocking(pg::fresh_database)
            .await
            .unwrap();
        let dir = Arc::new(tempfile::tempdir().unwrap());
        let mut out = Vec::new();
        for _ in 0..n {
            let u = url.clone();
            out.push(
                Self::start_in(dir.clone(), ek_ca_dir, move |c| {
                    c.database_url = Some(sealbuild_verifier::config::DatabaseUrl::new(u));
                })
                .await,
            );
        }
        out
    }

    async fn start_in(
        dir: Arc<tempfile::TempDir>,
        ek_ca_dir: &Path,
        configure: impl FnOnce(&mut Config),
    ) -> Self {
        let mut cfg = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            state_dir: dir.path().to_path_buf(),
            ek_ca_dir: Some(ek_ca_dir.to_path_buf()),
            ..Config::default()
        };
        configure(&mut cfg);
        let db = cfg.database_path();
        let database_url = cfg.database_url.as_ref().map(|u| u.expose().to_string());
        let store: Arc<dyn Store> = if database_url.is_some() {
            let c = cfg.clone();
            tokio::task::spawn_blocking(move || c.open_store())
                .await
                .unwrap()
                .unwrap()
        } else {
            Arc::new(SqliteStore::open(&db).unwrap())
        };
        let clock = Arc::new(OffsetClock::default());
        let master_path = dir.path().join("master.key");
        let master = if master_path.exists() {
            MasterKey::from_file(&master_path).unwrap()
        } else {
            MasterKey::generate_to_file(&master_path).unwrap()
        };
        let result_key = ResultKey::load_or_create(dir.path()).unwrap();
        let anchors = load_ca_dir(ek_ca_dir).unwrap();
        let tls_files = sealbuild_verifier::tls::ensure_local_tls(dir.path(), &[]).unwrap();
        let tls = sealbuild_verifier::tls::server_config(&tls_files).unwrap();
        let admin_token = "test-admin-token".to_string();
        let service = Arc::new(
            Verifier::new(
                store.clone(),
                clock.clone(),
                KeyManager::new(master),
                result_key,
                anchors,
                Some(admin_token.clone()),
                cfg.clone(),
            )
            .unwrap(),
        );
        let running = sealbuild_verifier::http::serve_with(
            service.clone(),
            cfg.listen,
            tls,
            cfg.http_limits(),
        )
        .await
        .unwrap();
        Self {
            url: format!("https://127.0.0.1:{}", running.addr.port()),
            service,
            store,
            database_url,
            clock,
            db,
            ca_pem: tls_files.ca.unwrap(),
            admin_token,
            running: Some(running),
            dir,
        }
    }

    /// A client trusting this verifier's CA.
    pub fn client(&self) -> VerifierClient {
        VerifierClient::new(&self.url, &VerifierTrust::ca_file(&self.ca_pem).unwrap()).unwrap()
    }

    /// Stops serving.
    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
    }
}

/// A policy granting `key_id` to the PCR values `pcrs` (sha256 bank) and
/// requiring the EK to chain to the CA with DER `ek_ca_der`.
pub fn policy_for(
    key_id: &str,
    pcrs: &std::collections::BTreeMap<u32, Vec<u8>>,
    ek_ca_fingerprint: Option<&str>,
) -> String {
    let mut s = String::from("version = 1\n\n[[reference]]\nname = \"swtpm-ubuntu-2404\"\nplatform = \"tpm\"\nrequire_event_log = true\n");
    if let Some(fp) = ek_ca_fingerprint {
        s.push_str(&format!("ek_cas = [\"{fp}\"]\n"));
    }
    s.push_str("\n[reference.pcrs.sha256]\n");
    for (i, v) in pcrs {
        s.push_str(&format!("\"{i}\" = [\"{}\"]\n", hex::encode(v)));
    }
    s.push_str(&format!(
        "\n[[key]]\nid = \"{key_id}\"\nreferences = [\"swtpm-ubuntu-2404\"]\n"
    ));
    s
}

/// A policy whose reference set `name` pins sha256 PCR 0–7 to what `log`
/// replays to (and requires the log), followed by `keys` (TOML `[[key]]`
/// tables naming `name`).
pub fn reference_policy(
    log: &sealbuild_common::eventlog::EventLog,
    name: &str,
    keys: &str,
) -> String {
    let replay = log.replay();
    let mut s = format!(
        "version = 1\n[[reference]]\nname = \"{name}\"\nplatform = \"tpm\"\nrequire_event_log = true\n[reference.pcrs.sha256]\n"
    );
    for i in 0..8 {
        let v = replay
            .value(sealbuild_common::HashAlg::Sha256, i)
            .expect("the boot log extends PCR 0-7");
        s.push_str(&format!("\"{i}\" = [\"{}\"]\n", hex::encode(v)));
    }
    s.push_str(keys);
    s
}
