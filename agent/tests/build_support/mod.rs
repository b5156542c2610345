//! Shared helpers of the sealed-build tests: running git, python3 and
//! sha256sum as independent references, and building small trees.
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

use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// Runs `tool args…` in `dir` and returns stdout; fails the test with the
/// tool's stderr (or that it is missing) otherwise.
pub fn run_tool(tool: &str, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Vec<u8> {
    let mut c = Command::new(tool);
    c.current_dir(dir).args(args).stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    let out = match c.output() {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("{tool} is not installed (not found in PATH); this test needs it")
        }
        Err(e) => panic!("cannot run {tool}: {e}"),
    };
    assert!(
        out.status.success(),
        "{tool} {args:?} in {} failed ({}): {}",
        dir.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The fixed identity and clock of every test commit, and a git that reads
/// no user or system configuration.
pub const GIT_ENV: &[(&str, &str)] = &[
    ("GIT_CONFIG_NOSYSTEM", "1"),
    ("GIT_CONFIG_GLOBAL", "/dev/null"),
    ("GIT_AUTHOR_NAME", "A U Thor"),
    ("GIT_AUTHOR_EMAIL", "author@example.invalid"),
    ("GIT_AUTHOR_DATE", "1700000000 +0000"),
    ("GIT_COMMITTER_NAME", "C O Mitter"),
    ("GIT_COMMITTER_EMAIL", "committer@example.invalid"),
    ("GIT_COMMITTER_DATE", "1700000000 +0000"),
];

/// `git args…` in `dir` with [`GIT_ENV`]; stdout as a trimmed string.
pub fn git(dir: &Path, args: &[&str]) -> String {
    String::from_utf8(run_tool("git", dir, args, GIT_ENV))
        .unwrap()
        .trim_end()
        .to_string()
}

/// Runs a python3 program with `args`; returns stdout, trimmed.
pub fn python(program: &str, args: &[&str]) -> String {
    let mut child = match Command::new("python3")
        .arg("-")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("python3 is not installed; this test computes its reference value with it")
        }
        Err(e) => panic!("cannot run python3: {e}"),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(program.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// `sha256sum` of every file (relative to `dir`): name → hex digest.
pub fn sha256sum(dir: &Path, files: &[&str]) -> BTreeMap<String, String> {
    let out =
        String::from_utf8(run_tool("sha256sum", dir, &[&["--"], files].concat(), &[])).unwrap();
    out.lines()
        .map(|l| {
            let (digest, name) = l.split_once("  ").expect("sha256sum line");
            (name.to_string(), digest.to_string())
        })
        .collect()
}

/// Writes `content` to `root/rel` (creating parents) with `mode`.
pub fn write(root: &Path, rel: &str, content: &[u8], mode: u32) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, content).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Creates a fifo at `path` (with mkfifo(1)).
pub fn mkfifo(path: &Path) {
    let dir = path.parent().unwrap();
    let name = path.file_name().unwrap().to_str().unwrap();
    run_tool("mkfifo", dir, &[name], &[]);
}

/// A named modification of a test tree.
pub type Change = Box<dyn Fn(&Path)>;
