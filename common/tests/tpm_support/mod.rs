//! Shared helpers of the TPM structure tests: test-vector loading and the
//! generic mutation checks every parser must pass.
#![allow(dead_code)]

use base64::Engine;
use serde_json::Value;

/// Reads `tests/data/tpm/<rel>`.
pub fn data(rel: &str) -> Vec<u8> {
    let path = format!("{}/../tests/data/tpm/{rel}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("test vector {path}: {e}"))
}

/// Parses `tests/data/tpm/<rel>` as JSON.
pub fn json(rel: &str) -> Value {
    serde_json::from_slice(&data(rel)).unwrap()
}

/// Decodes a hex string field.
pub fn hexf(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).unwrap()
}

/// Decodes a base64 string field (Go `[]byte` in JSON).
pub fn b64f(v: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str().expect("base64 string"))
        .unwrap()
}

/// go-tpm-tools GCE COS 85 attestation (MANIFEST §3.2), `nonce9009` or `no-nonce`.
pub fn gce(which: &str) -> Value {
    json(&format!(
        "go-tpm-tools/attestations/gce-cos-85-{which}.extracted.json"
    ))
}

/// go-attestation Windows GCE Shielded VM evidence (MANIFEST §3.3).
pub fn windows() -> Value {
    json("go-attestation/windows_gcp_shielded_vm.json")
}

/// Every real TPMS_ATTEST we hold, with a label.
pub fn real_attests() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for which in ["nonce9009", "no-nonce"] {
        for q in gce(which)["quotes"].as_array().unwrap() {
            out.push((
                format!("gce {which} {}", q["pcr_bank"]),
                hexf(&q["attest_tpms_attest"]),
            ));
        }
    }
    let w = windows();
    out.push(("windows quote".into(), b64f(&w["Quote"]["Quote"])));
    out.push((
        "windows AK creation".into(),
        b64f(&w["AK"]["CreateAttestation"]),
    ));
    for f in ["rsa", "rsa-values", "ecc", "pss"] {
        out.push((
            format!("tpm2-tools {f}"),
            data(&format!("tpm2-tools-5.4-swtpm/{f}.quote")),
        ));
    }
    out
}

/// Every real TPMT_SIGNATURE we hold, with a label.
pub fn real_signatures() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for which in ["nonce9009", "no-nonce"] {
        for q in gce(which)["quotes"].as_array().unwrap() {
            out.push((
                format!("gce {which} {}", q["pcr_bank"]),
                hexf(&q["signature_tpmt_signature"]),
            ));
        }
    }
    let w = windows();
    out.push(("windows quote".into(), b64f(&w["Quote"]["Signature"])));
    out.push((
        "windows AK creation".into(),
        b64f(&w["AK"]["CreateSignature"]),
    ));
    for f in ["rsa", "rsa-values", "ecc", "pss"] {
        out.push((
            format!("tpm2-tools {f}"),
            data(&format!("tpm2-tools-5.4-swtpm/{f}.sig")),
        ));
    }
    out
}

/// Every real TPMT_PUBLIC we hold (TPM2B_PUBLIC files are unwrapped), with a label.
pub fn real_publics() -> Vec<(String, Vec<u8>)> {
    let mut out = vec![
        (
            "gce nonce9009 AK".to_string(),
            hexf(&gce("nonce9009")["ak_pub_tpmt_public"]),
        ),
        (
            "gce no-nonce AK".to_string(),
            hexf(&gce("no-nonce")["ak_pub_tpmt_public"]),
        ),
        ("windows AK".to_string(), b64f(&windows()["AK"]["Public"])),
    ];
    for f in ["rsa", "ecc", "pss"] {
        let tpm2b = data(&format!("tpm2-tools-5.4-swtpm/ak-{f}.pub"));
        out.push((format!("tpm2-tools ak-{f}"), tpm2b[2..].to_vec()));
    }
    out
}

/// A parser must refuse every strict prefix of a valid encoding and the
/// encoding with one byte appended.
pub fn assert_prefixes_and_trailing_rejected<T: std::fmt::Debug, E>(
    label: &str,
    bytes: &[u8],
    parse: impl Fn(&[u8]) -> Result<T, E>,
) {
    for n in 0..bytes.len() {
        assert!(
            parse(&bytes[..n]).is_err(),
            "{label}: prefix of {n}/{} bytes accepted",
            bytes.len()
        );
    }
    let mut longer = bytes.to_vec();
    longer.push(0);
    assert!(parse(&longer).is_err(), "{label}: trailing byte accepted");
}

/// Returns a copy of `bytes` with `at..at+len` replaced by `with`.
pub fn patched(bytes: &[u8], at: usize, with: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[at..at + with.len()].copy_from_slice(with);
    out
}
