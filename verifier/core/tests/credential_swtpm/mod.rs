//! A manufactured swtpm for interoperability tests (shared by
//! `credential_interop.rs` and `ekcert_swtpm.rs`).
//!
//! [`Swtpm::start`] runs `scripts/swtpm-setup.sh STATE CA` (a local CA made by
//! swtpm_localca plus a TPM state with RSA-2048 and ECC P-384 EK certificates)
//! in a fresh temporary directory, then starts `swtpm socket` on Unix sockets
//! (`SOCK` for commands, `SOCK.ctrl` for control; libtss2's swtpm TCTI takes
//! `swtpm:path=SOCK` and derives the control socket by appending `.ctrl`, so no
//! TCP ports can collide between parallel tests). Dropping it kills swtpm (by
//! its process id) and removes the directory. A missing tool fails the test
//! with the package to install; nothing is skipped.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sealbuild_common::HashAlg;
use sealbuild_verifier_core::credential::{EkCurve, EkKey, EkPublicKey};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The project's swtpm manufacturing script.
pub const SETUP_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/swtpm-setup.sh");

/// Tools these tests run, with the Debian package that ships each.
const TOOLS: &[(&str, &str)] = &[
    ("swtpm", "swtpm"),
    ("swtpm_setup", "swtpm-tools"),
    ("swtpm_localca", "swtpm-tools"),
    ("certtool", "gnutls-bin"),
    ("openssl", "openssl"),
    ("flock", "util-linux"),
    ("tpm2_createek", "tpm2-tools"),
    ("tpm2_activatecredential", "tpm2-tools"),
    ("tpm2_nvread", "tpm2-tools"),
];

/// Panics naming the missing tool and its package.
pub fn require_tools() {
    for (tool, package) in TOOLS {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(
            found,
            "required tool `{tool}` is not installed (Debian package `{package}`); \
             this interoperability test does not skip"
        );
    }
}

/// A directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "sb-{tag}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running, manufactured swtpm.
pub struct Swtpm {
    child: Child,
    sock: PathBuf,
    /// TPM state (`STATE_DIR` of the setup script).
    pub state: PathBuf,
    /// Local CA (`CA_DIR` of the setup script).
    pub ca: PathBuf,
    /// Work directory for tpm2-tools files (contexts, blobs).
    pub work: PathBuf,
    // Last, so that swtpm is killed before its directory goes.
    dir: TempDir,
}

impl Swtpm {
    /// Manufactures a TPM with `scripts/swtpm-setup.sh` and starts swtpm.
    pub fn start(tag: &str) -> Self {
        require_tools();
        let dir = TempDir::new(tag);
        let state = dir.path().join("state");
        let ca = dir.path().join("ca");
        let work = dir.path().join("work");
        std::fs::create_dir_all(&work).unwrap();
        let out = Command::new("bash")
            .arg(SETUP_SCRIPT)
            .arg(&state)
            .arg(&ca)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{SETUP_SCRIPT} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stdout.is_empty(),
            "swtpm-setup.sh is meant to be quiet, printed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let sock = dir.path().join("tpm.sock");
        let log = std::fs::File::create(dir.path().join("swtpm.log")).unwrap();
        let mut child = Command::new("swtpm")
            .arg("socket")
            .arg("--tpm2")
            .arg(format!("--tpmstate=dir={}", state.display()))
            .arg(format!("--server=type=unixio,path={}", sock.display()))
            .arg(format!("--ctrl=type=unixio,path={}.ctrl", sock.display()))
            .arg("--flags=not-need-init,startup-clear")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let ctrl = PathBuf::from(format!("{}.ctrl", sock.display()));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !(sock.exists() && ctrl.exists()) {
            if let Some(status) = child.try_wait().unwrap() {
                let log = std::fs::read_to_string(dir.path().join("swtpm.log")).unwrap_or_default();
                panic!("swtpm exited early ({status}): {log}");
            }
            assert!(
                Instant::now() < deadline,
                "swtpm did not create {} within 10 s",
                sock.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child,
            sock,
            state,
            ca,
            work,
            dir,
        }
    }

    /// The TCTI string for tpm2-tools.
    pub fn tcti(&self) -> String {
        format!("swtpm:path={}", self.sock.display())
    }

    /// Runs a tpm2-tools command in the work directory and returns its output,
    /// whether it succeeded or not.
    pub fn try_tpm2(&self, tool: &str, args: &[&str]) -> Output {
        Command::new(tool)
            .args(args)
            .current_dir(&self.work)
            .env("TPM2TOOLS_TCTI", self.tcti())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {tool}: {e} (Debian package tpm2-tools)"))
    }

    /// Runs a tpm2-tools command that must succeed; returns its stdout.
    pub fn tpm2(&self, tool: &str, args: &[&str]) -> Vec<u8> {
        let out = self.try_tpm2(tool, args);
        assert!(
            out.status.success(),
            "{tool} {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Flushes transient objects and loaded sessions.
    pub fn flush(&self) {
        self.tpm2("tpm2_flushcontext", &["-t"]);
        self.tpm2("tpm2_flushcontext", &["-l"]);
    }

    /// A file in the work directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.work.join(name)
    }

    /// Reads a file from the work directory.
    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.file(name)).unwrap_or_else(|e| panic!("reading {name}: {e}"))
    }

    /// Writes a file into the work directory.
    pub fn write(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.file(name), bytes).unwrap();
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        // The child was started by this harness; kill exactly it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Minimal reader of the TPM2B_PUBLIC that `tpm2_createek -u` and
/// `tpm2_readpublic -o` write (Part 2 TPM2B_PUBLIC, TPMT_PUBLIC,
/// TPMS_RSA_PARMS, TPMS_ECC_PARMS): enough to
/// take the EK's nameAlg, symmetric key size and public key. Test-only; the
/// project's TPMT_PUBLIC parser lives in sealbuild-common.
pub fn ek_public_from_tpm2b(bytes: &[u8]) -> EkPublicKey {
    struct R<'a>(&'a [u8]);
    impl R<'_> {
        fn u16(&mut self) -> u16 {
            let v = u16::from_be_bytes([self.0[0], self.0[1]]);
            self.0 = &self.0[2..];
            v
        }
        fn u32(&mut self) -> u32 {
            let v = u32::from_be_bytes(self.0[..4].try_into().unwrap());
            self.0 = &self.0[4..];
            v
        }
        fn b(&mut self) -> Vec<u8> {
            let n = usize::from(self.u16());
            let v = self.0[..n].to_vec();
            self.0 = &self.0[n..];
            v
        }
    }
    let mut r = R(bytes);
    let size = usize::from(r.u16());
    assert_eq!(size, r.0.len(), "TPM2B_PUBLIC size");
    let ty = r.u16();
    let name_alg = HashAlg::from_alg_id(r.u16(), "nameAlg").unwrap();
    let attrs = r.u32();
    assert_eq!(
        attrs & 0x0003_0000,
        0x0003_0000,
        "EK must be restricted|decrypt"
    );
    let _policy = r.b();
    assert_eq!(r.u16(), 0x0006, "EK symmetric algorithm must be AES");
    let sym_key_bits = r.u16();
    assert_eq!(r.u16(), 0x0043, "EK symmetric mode must be CFB");
    let scheme = r.u16();
    assert_eq!(scheme, 0x0010, "EK scheme must be TPM_ALG_NULL");
    let key = match ty {
        0x0001 => {
            let _bits = r.u16();
            let e = r.u32();
            EkKey::Rsa { n: r.b(), e }
        }
        0x0023 => {
            let curve = match r.u16() {
                0x0003 => EkCurve::P256,
                0x0004 => EkCurve::P384,
                other => panic!("unexpected curve {other:#x}"),
            };
            assert_eq!(r.u16(), 0x0010, "EK KDF must be TPM_ALG_NULL");
            let x = r.b();
            let y = r.b();
            EkKey::Ecc { curve, x, y }
        }
        other => panic!("unexpected EK type {other:#x}"),
    };
    assert!(r.0.is_empty(), "trailing bytes in TPM2B_PUBLIC");
    EkPublicKey {
        name_alg,
        sym_key_bits,
        key,
    }
}
