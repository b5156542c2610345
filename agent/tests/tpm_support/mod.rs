//! Shared helpers of the TPM integration tests: a private swtpm per test,
//! tool checks, and minimal parsers of TPM structures used to check the
//! agent's output independently of the agent's own code.
//!
//! Test support only: a failing helper must stop the test with a message, so
//! the panicking shortcuts the library forbids are allowed here.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sealbuild_agent::tpm::TctiConfig;
use std::io::Read as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

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
            "{tool} is not installed (not found in PATH); this test needs it: \
             install the Debian package {package} (scripts/lib.sh lists all test dependencies)"
        ),
        Err(e) => panic!("cannot run {tool}: {e}"),
    }
}

/// A swtpm listening on 127.0.0.1:port (commands) and port+1 (control),
/// killed when dropped.
pub struct Swtpm {
    child: Child,
    port: u16,
    _state: Option<tempfile::TempDir>,
    state_dir: PathBuf,
}

fn free_port_pair() -> u16 {
    for _ in 0..100 {
        let Ok(l) = TcpListener::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(addr) = l.local_addr() else { continue };
        let p = addr.port();
        if p >= 65534 {
            continue;
        }
        if TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
    panic!("no free pair of TCP ports on 127.0.0.1");
}

impl Swtpm {
    /// A swtpm with a fresh, empty state (all PCR banks allocated, no EK
    /// certificate).
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().to_path_buf();
        Self::spawn(path, Some(dir))
    }

    /// A swtpm on an existing state directory (e.g. made by swtpm_setup).
    pub fn start_with_state(dir: &Path) -> Self {
        Self::spawn(dir.to_path_buf(), None)
    }

    fn spawn(state_dir: PathBuf, keep: Option<tempfile::TempDir>) -> Self {
        require_tool("swtpm", "swtpm");
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
                .arg(format!("dir={}", state_dir.display()))
                .args(["--flags", "not-need-init,startup-clear"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start swtpm: {e}"));
            let deadline = Instant::now() + Duration::from_secs(10);
            let ready = loop {
                if let Ok(Some(status)) = child.try_wait() {
                    let mut err = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        let _ = e.read_to_string(&mut err);
                    }
                    last_err = format!("swtpm exited with {status}: {err}");
                    break false;
                }
                if TcpStream::connect(("127.0.0.1", port + 1)).is_ok() {
                    // Still ours (not another test's swtpm on a reused port)?
                    std::thread::sleep(Duration::from_millis(50));
                    if matches!(child.try_wait(), Ok(None)) {
                        break true;
                    }
                    continue;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_err = "swtpm did not listen within 10 s".into();
                    break false;
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            if ready {
                return Self {
                    child,
                    port,
                    _state: keep,
                    state_dir,
                };
            }
        }
        panic!("could not start swtpm: {last_err}");
    }

    /// The agent's TCTI for this swtpm.
    pub fn tcti(&self) -> TctiConfig {
        self.tcti_string().parse().expect("valid TCTI")
    }

    /// TCTI string for tpm2-tools (TPM2TOOLS_TCTI).
    pub fn tcti_string(&self) -> String {
        format!("swtpm:host=127.0.0.1,port={}", self.port)
    }

    /// The state directory.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// Runs a tpm2-tools command against this swtpm (no other client may be
    /// connected: swtpm serves one connection at a time).
    pub fn tpm2(&self, tool: &str, args: &[&str]) -> Output {
        require_tool(tool, "tpm2-tools");
        Command::new(tool)
            .args(args)
            .env("TPM2TOOLS_TCTI", self.tcti_string())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"))
    }

    /// Like [`Swtpm::tpm2`] but requires success and returns stdout.
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
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs an offline tool (no TPM).
pub fn run(tool: &str, package: &str, args: &[&str]) -> Output {
    require_tool(tool, package);
    Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"))
}

/// Big-endian cursor for the minimal structure checks below.
pub struct Cur<'a>(pub &'a [u8]);

impl<'a> Cur<'a> {
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        assert!(
            self.0.len() >= n,
            "truncated: need {n}, have {}",
            self.0.len()
        );
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
    pub fn u8(&mut self) -> u8 {
        self.take(1)[0]
    }
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes(self.take(2).try_into().unwrap())
    }
    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.take(4).try_into().unwrap())
    }
    pub fn u64(&mut self) -> u64 {
        u64::from_be_bytes(self.take(8).try_into().unwrap())
    }
    pub fn tpm2b(&mut self) -> &'a [u8] {
        let n = self.u16() as usize;
        self.take(n)
    }
    pub fn done(&self) {
        assert!(self.0.is_empty(), "{} trailing bytes", self.0.len());
    }
}

/// The fields of a TPM2B_PUBLIC the tests look at (Part 2 Table 200/225).
#[derive(Debug)]
pub struct PublicArea {
    pub alg: u16,
    pub name_alg: u16,
    pub attributes: u32,
    pub auth_policy: Vec<u8>,
    pub symmetric: u16,
    pub scheme: u16,
    pub scheme_hash: Option<u16>,
    /// RSA: key bits; ECC: curve id.
    pub size_or_curve: u16,
    /// RSA: exponent; ECC: kdf scheme.
    pub exponent_or_kdf: u32,
    /// RSA: modulus; ECC: x || y.
    pub unique: Vec<u8>,
    pub ecc_xy: Option<(Vec<u8>, Vec<u8>)>,
}

pub fn parse_tpm2b_public(bytes: &[u8]) -> PublicArea {
    let mut outer = Cur(bytes);
    let body = outer.tpm2b();
    outer.done();
    let mut c = Cur(body);
    let alg = c.u16();
    let name_alg = c.u16();
    let attributes = c.u32();
    let auth_policy = c.tpm2b().to_vec();
    let symmetric = c.u16();
    if symmetric != 0x0010 {
        c.u16(); // key bits
        c.u16(); // mode
    }
    let scheme = c.u16();
    let scheme_hash = if scheme != 0x0010 {
        Some(c.u16())
    } else {
        None
    };
    let p = match alg {
        0x0001 => {
            let bits = c.u16();
            let exp = c.u32();
            let n = c.tpm2b().to_vec();
            PublicArea {
                alg,
                name_alg,
                attributes,
                auth_policy,
                symmetric,
                scheme,
                scheme_hash,
                size_or_curve: bits,
                exponent_or_kdf: exp,
                unique: n,
                ecc_xy: None,
            }
        }
        0x0023 => {
            let curve = c.u16();
            let kdf = c.u16();
            assert_eq!(kdf, 0x0010, "kdf scheme of these keys is NULL");
            let x = c.tpm2b().to_vec();
            let y = c.tpm2b().to_vec();
            let mut unique = x.clone();
            unique.extend_from_slice(&y);
            PublicArea {
                alg,
                name_alg,
                attributes,
                auth_policy,
                symmetric,
                scheme,
                scheme_hash,
                size_or_curve: curve,
                exponent_or_kdf: u32::from(kdf),
                unique,
                ecc_xy: Some((x, y)),
            }
        }
        other => panic!("unexpected key type {other:#06x}"),
    };
    c.done();
    p
}

/// The fields of a TPMS_ATTEST of type quote (Part 2 Tables 134, 128).
#[derive(Debug)]
pub struct QuoteAttest {
    pub magic: u32,
    pub tag: u16,
    pub signer: Vec<u8>,
    pub extra_data: Vec<u8>,
    pub clock: u64,
    pub reset_count: u32,
    pub restart_count: u32,
    pub safe: u8,
    pub firmware: u64,
    /// (hash alg, sizeofSelect, select bytes)
    pub selection: Vec<(u16, Vec<u8>)>,
    pub pcr_digest: Vec<u8>,
}

pub fn parse_quote_attest(bytes: &[u8]) -> QuoteAttest {
    let mut c = Cur(bytes);
    let magic = c.u32();
    let tag = c.u16();
    let signer = c.tpm2b().to_vec();
    let extra_data = c.tpm2b().to_vec();
    let clock = c.u64();
    let reset_count = c.u32();
    let restart_count = c.u32();
    let safe = c.u8();
    let firmware = c.u64();
    let n = c.u32();
    let mut selection = Vec::new();
    for _ in 0..n {
        let h = c.u16();
        let size = c.u8() as usize;
        selection.push((h, c.take(size).to_vec()));
    }
    let pcr_digest = c.tpm2b().to_vec();
    c.done();
    QuoteAttest {
        magic,
        tag,
        signer,
        extra_data,
        clock,
        reset_count,
        restart_count,
        safe,
        firmware,
        selection,
        pcr_digest,
    }
}

/// TPMT_SIGNATURE of ECDSA: (sigAlg, hash, r, s).
pub fn parse_ecdsa_signature(bytes: &[u8]) -> (u16, u16, Vec<u8>, Vec<u8>) {
    let mut c = Cur(bytes);
    let alg = c.u16();
    let hash = c.u16();
    let r = c.tpm2b().to_vec();
    let s = c.tpm2b().to_vec();
    c.done();
    (alg, hash, r, s)
}

/// The tpm2-tools credential file of `tpm2_makecredential -o`: magic
/// 0xBADCC0DE, version 1, TPM2B_ID_OBJECT, TPM2B_ENCRYPTED_SECRET, all
/// big-endian. Returns the two structures with their size prefixes.
pub fn parse_tpm2_tools_credential(bytes: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut c = Cur(bytes);
    assert_eq!(c.u32(), 0xBADC_C0DE, "credential file magic");
    assert_eq!(c.u32(), 1, "credential file version");
    let id = c.tpm2b();
    let mut id_object = (id.len() as u16).to_be_bytes().to_vec();
    id_object.extend_from_slice(id);
    let es = c.tpm2b();
    let mut secret = (es.len() as u16).to_be_bytes().to_vec();
    secret.extend_from_slice(es);
    c.done();
    (id_object, secret)
}

/// Finds `needle` in `hay`.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}
