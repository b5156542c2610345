//! `sealbuild-verifier verify bundle` on evidence that does not parse: a
//! garbage DSSE envelope, bad base64 in it, a garbage recorded attestation
//! request, bad base64 inside it. Each is a rejection (exit 1) whose
//! reasons name `malformed_evidence` with the structure and field; an
//! envelope that parses but is not signed by the key stays a signature
//! failure; a missing file is an I/O error (exit 2).
// Test code: a failed unwrap, expect or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod cli_support;

use cli_support::{checks, data};
use sealbuild_common::dsse::{DsseSigner, PAYLOAD_TYPE_INTOTO};
use serde_json::{json, Value};
use std::path::PathBuf;

/// A bundle directory: an envelope signed over the real sealed-build
/// statement, the signer's public key, empty artefacts.
struct Bundle {
    dir: tempfile::TempDir,
}

impl Bundle {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let signer = DsseSigner::EcdsaP256(p256::ecdsa::SigningKey::random(&mut rand_core::OsRng));
        let statement = std::fs::read(data("sealed-build/statement.json")).unwrap();
        let env = signer.sign(PAYLOAD_TYPE_INTOTO, &statement);
        std::fs::write(dir.path().join("hello.intoto.jsonl"), env.to_json_line()).unwrap();
        std::fs::write(dir.path().join("signer.pem"), signer.public_key_pem()).unwrap();
        std::fs::create_dir(dir.path().join("artifacts")).unwrap();
        std::fs::create_dir(dir.path().join("evidence")).unwrap();
        Self { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `verify bundle` (with `--evidence` when `evidence`): exit code,
    /// JSON (Null without `--json`), all output.
    fn verify(&self, evidence: bool, json: bool) -> (i32, Value, String) {
        let p = |rel: &str| self.path(rel).to_str().unwrap().to_string();
        let mut args = vec![
            "--envelope".to_string(),
            p("hello.intoto.jsonl"),
            "--artifacts".into(),
            p("artifacts"),
            "--signer-key".into(),
            p("signer.pem"),
        ];
        if evidence {
            args.extend(["--evidence".into(), p("evidence")]);
        }
        if json {
            args.push("--json".into());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cli_support::run(&["verify", "bundle"], &args)
    }
}

/// The `malformed_evidence` reason of a rejection; its message.
fn malformed(r: &(i32, Value, String)) -> String {
    let (code, v, out) = r;
    assert_eq!(*code, 1, "{out}");
    assert_eq!(v["verdict"], "rejected", "{out}");
    let reasons = v["reasons"].as_array().unwrap();
    let m = reasons
        .iter()
        .find(|r| r["check"] == "malformed_evidence")
        .unwrap_or_else(|| panic!("no malformed_evidence reason: {out}"));
    m["message"].as_str().unwrap().to_string()
}

#[test]
fn malformed_envelopes_are_rejected_naming_the_field() {
    let b = Bundle::new();
    // Parsable and signed: no malformed evidence (the missing artefacts
    // fail their subject checks).
    let (code, v, out) = b.verify(false, true);
    assert_eq!(code, 1, "{out}");
    assert!(!checks(&v).contains(&"malformed_evidence".into()), "{out}");
    assert!(!checks(&v).contains(&"dsse_signature".into()), "{out}");

    let line = std::fs::read_to_string(b.path("hello.intoto.jsonl")).unwrap();
    let mut env: Value = serde_json::from_str(&line).unwrap();
    // A signature byte flipped: parsable, tampered: a signature failure.
    let sig = env["signatures"][0]["sig"].as_str().unwrap().to_string();
    let flipped = format!(
        "{}{}",
        if sig.starts_with('A') { "B" } else { "A" },
        &sig[1..]
    );
    env["signatures"][0]["sig"] = json!(flipped);
    std::fs::write(b.path("hello.intoto.jsonl"), env.to_string()).unwrap();
    let (code, v, out) = b.verify(false, true);
    assert_eq!(code, 1, "{out}");
    assert_eq!(checks(&v), ["dsse_signature"], "{out}");

    // Bad base64 in the signature: the field is named.
    env["signatures"][0]["sig"] = json!("!!not base64!!");
    std::fs::write(b.path("hello.intoto.jsonl"), env.to_string()).unwrap();
    let m = malformed(&b.verify(false, true));
    assert!(
        m.contains("DSSE envelope") && m.contains("signatures[0].sig"),
        "{m}"
    );
    // Not JSON at all; JSON without a payload.
    for (text, field) in [
        ("garbage", "DSSE envelope"),
        ("{\"payloadType\": \"x\", \"signatures\": []}", "payload"),
    ] {
        std::fs::write(b.path("hello.intoto.jsonl"), text).unwrap();
        let m = malformed(&b.verify(false, true));
        assert!(m.contains(field), "{m}");
        let (code, _, out) = b.verify(false, false);
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("malformed_evidence"), "{out}");
    }
    // A missing envelope is an I/O error.
    std::fs::remove_file(b.path("hello.intoto.jsonl")).unwrap();
    let (code, _, out) = b.verify(false, true);
    assert_eq!(code, 2, "{out}");
}

#[test]
fn malformed_recorded_evidence_is_rejected_naming_the_field() {
    let b = Bundle::new();
    // No attest-request.json: an I/O error.
    let (code, _, out) = b.verify(true, true);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("attest-request.json"), "{out}");

    let request = |evidence: Value| {
        json!({
            "agent_id": "snp:build-vm",
            "nonce": "ab".repeat(32),
            "ephemeral_public_key": "AAAA",
            "evidence": evidence,
        })
    };
    for (text, field) in [
        ("{not json".to_string(), "AttestRequest"),
        (
            request(json!({"snp": {"report": "!!!"}})).to_string(),
            "evidence.snp.report",
        ),
        (
            request(json!({"tpm": {"quote": "AAAA", "signature": "%%", "pcrs": {}}})).to_string(),
            "evidence.tpm.signature",
        ),
        (request(json!({"sgx": {}})).to_string(), "evidence"),
        (
            json!({"agent_id": "snp:x", "nonce": "00"}).to_string(),
            "ephemeral_public_key",
        ),
    ] {
        std::fs::write(b.path("evidence/attest-request.json"), &text).unwrap();
        let r = b.verify(true, true);
        let m = malformed(&r);
        assert!(
            m.contains("attest-request.json") && m.contains(field),
            "{field}: {m}"
        );
        // The envelope's own checks still ran.
        let listed: Vec<&str> = r.1["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["check"].as_str().unwrap())
            .collect();
        assert!(listed.contains(&"dsse_signature"), "{listed:?}");
    }
}
