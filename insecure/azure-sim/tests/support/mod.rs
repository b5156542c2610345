//! Shared helpers of the azure-sim tests: a private swtpm per test, tpm2-tools
//! runs against it, the simulator's test chain as a verifier would load it,
//! and a real Azure AK modulus.
//!
//! Test support only: a failing helper stops the test with a message.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Read as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use sealbuild_common::snp::SnpProduct;
use sealbuild_insecure_snp_sim::InsecureSimulatedSnp;
use sealbuild_verifier_core::azure::hcl::HclReport;
use sealbuild_verifier_core::snp::AmdRoots;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Now, Unix seconds.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The DER certificates of a PEM text, in order.
pub fn pem_certs(pem: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut b64 = None::<String>;
    for line in pem.lines().map(str::trim) {
        match (line, &mut b64) {
            ("-----BEGIN CERTIFICATE-----", None) => b64 = Some(String::new()),
            ("-----END CERTIFICATE-----", Some(s)) => {
                out.push(
                    base64::engine::general_purpose::STANDARD
                        .decode(&s)
                        .unwrap(),
                );
                b64 = None;
            }
            (l, Some(s)) => s.push_str(l),
            _ => {}
        }
    }
    out
}

/// AMD's roots plus the INSECURE snp-sim test chain, loaded like the
/// verifier loads `snp_insecure_test_chain` (verifier/server/src/evidence.rs
/// `insecure_roots`): the KDS-style PEM file, ASK then ARK, trusted for Genoa.
pub fn roots_with_test_chain() -> AmdRoots {
    let path = repo().join("insecure/snp-sim/test-chain/cert_chain_vcek.pem");
    let pem = std::fs::read_to_string(&path).unwrap();
    let certs = pem_certs(&pem);
    let [ask, ark] = certs.as_slice() else {
        panic!(
            "{}: expected ASK then ARK, got {} certificates",
            path.display(),
            certs.len()
        );
    };
    assert_eq!(ark.as_slice(), InsecureSimulatedSnp::ark_der());
    assert_eq!(ask.as_slice(), InsecureSimulatedSnp::ask_der());
    AmdRoots::builtin().with_insecure_test_chain(SnpProduct::Genoa, ark, ask)
}

/// `(n, e)` of the HCLAkPub of the real Azure report in tests/data (a real
/// vTPM AK, RSA-2048).
pub fn real_azure_ak() -> (Vec<u8>, Vec<u8>) {
    let bytes = std::fs::read(repo().join("tests/data/azure/az-snp-vtpm/hcl-report.bin")).unwrap();
    let ak = HclReport::parse(&bytes).unwrap().ak_pub().unwrap();
    (ak.n, ak.e)
}

/// Fails the test with a clear message when `tool` is not installed.
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
             (scripts/lib.sh lists all test dependencies)"
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

/// A swtpm with a fresh state on 127.0.0.1:port (commands) and port+1
/// (control), killed when dropped.
pub struct Swtpm {
    child: Child,
    port: u16,
    /// Temporary directory: `state/` and room for the test's files.
    pub dir: tempfile::TempDir,
}

impl Swtpm {
    /// Starts a swtpm on an empty state (as tests/src/lib.rs does).
    pub fn start() -> Self {
        require_tool("swtpm", "swtpm");
        require_tool("tpm2_getcap", "tpm2-tools");
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        std::fs::create_dir(&state).unwrap();
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
                        return Self { child, port, dir };
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

    /// TCTI string for tpm2-tools.
    pub fn tcti(&self) -> String {
        format!("swtpm:host=127.0.0.1,port={}", self.port)
    }

    /// A path in the test's directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs a tpm2-tools command against this swtpm.
    pub fn tpm2(&self, tool: &str, args: &[&str]) -> Output {
        Command::new(tool)
            .args(args)
            .env("TPM2TOOLS_TCTI", self.tcti())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"))
    }

    /// Like [`Swtpm::tpm2`] but requires success; returns stdout.
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

    /// The TPM property `name` of `tpm2_getcap properties-fixed` (its raw
    /// value).
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
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
