//! What the command-line tests of `sealbuild-verifier` share (`mod
//! cli_support;` in each `tests/cli_*.rs`): the binary, the test data, running
//! a subcommand, the checks a JSON verdict names, and the vTPM quote JSON of
//! the Azure vectors.
// Test code: a failed unwrap or index is a failed test; not every test
// file uses every helper.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The verifier binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_sealbuild-verifier");

/// A file or folder of the repository's tests/data.
pub fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(rel)
}

/// A test path as an argument (test paths are UTF-8).
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs `sealbuild-verifier CMD… ARGS…`: exit code, stdout, stdout and
/// stderr.
pub fn run_text(cmd: &[&str], args: &[&str]) -> (i32, String, String) {
    let o = Command::new(BIN).args(cmd).args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    let all = format!("{stdout}{}", String::from_utf8_lossy(&o.stderr));
    (o.status.code().unwrap_or(-1), stdout, all)
}

/// Runs `sealbuild-verifier CMD… ARGS…`: exit code, JSON stdout (Null if
/// none), all output.
pub fn run(cmd: &[&str], args: &[&str]) -> (i32, Value, String) {
    let (code, stdout, all) = run_text(cmd, args);
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (code, json, all)
}

/// The `check` of every reason of a JSON verdict, in order.
pub fn checks(v: &Value) -> Vec<String> {
    v["reasons"]
        .as_array()
        .unwrap_or_else(|| panic!("no reasons in {v}"))
        .iter()
        .map(|r| r["check"].as_str().unwrap().to_string())
        .collect()
}

/// A JSON file.
pub fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// A JSON array of byte values (trustee's version 0 evidence).
pub fn json_bytes(a: &Value) -> Vec<u8> {
    a.as_array()
        .unwrap()
        .iter()
        .map(|b| u8::try_from(b.as_u64().unwrap()).unwrap())
        .collect()
}

/// A base64url string, padded or not (trustee's later evidence versions).
pub fn json_b64url(a: &Value) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(a.as_str().unwrap().trim_end_matches('='))
        .unwrap()
}

/// The vTPM quote JSON (hex form) of a quote given as byte arrays
/// (`signature`, `message`, `pcrs`).
pub fn quote_from_bytes(q: &Value) -> Value {
    let pcrs: Vec<String> = q["pcrs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| hex::encode(json_bytes(p)))
        .collect();
    json!({
        "signature": hex::encode(json_bytes(&q["signature"])),
        "message": hex::encode(json_bytes(&q["message"])),
        "pcrs": pcrs,
    })
}

/// Flips `mask` into byte `index` of the vTPM quote's hex field `field`
/// (`signature`, `message`), or of PCR `pcr` when `field` is "pcrs".
pub fn flip_quote(quote: &mut Value, field: &str, pcr: usize, index: usize, mask: u8) {
    let slot = if field == "pcrs" {
        &mut quote["pcrs"][pcr]
    } else {
        &mut quote[field]
    };
    let mut b = hex::decode(slot.as_str().unwrap()).unwrap();
    b[index] ^= mask;
    *slot = json!(hex::encode(b));
}

/// Runs `sealbuild-verifier CMD… FLAG FILE… REST…`: the `(flag, file)`
/// pairs of `files` in order, then `rest`.
pub fn run_files(cmd: &[&str], files: &[(&str, &Path)], rest: &[&str]) -> (i32, Value, String) {
    let mut args: Vec<&str> = files.iter().flat_map(|(flag, f)| [*flag, s(f)]).collect();
    args.extend_from_slice(rest);
    run(cmd, &args)
}

/// Runs `verify azure --hcl-report HCL --quote-json QUOTE [FLAG FILE]
/// REST…` (FLAG: `--vcek`, `--certs`, `--td-quote`, `--collateral-dir`).
pub fn verify_azure(
    hcl: &Path,
    quote: &Path,
    file: Option<(&str, &Path)>,
    rest: &[&str],
) -> (i32, Value, String) {
    let mut files = vec![("--hcl-report", hcl), ("--quote-json", quote)];
    files.extend(file);
    run_files(&["verify", "azure"], &files, rest)
}
