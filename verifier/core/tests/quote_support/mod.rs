//! Shared helpers of the quote-verification tests.
#![allow(dead_code)]

use std::collections::BTreeMap;

use sealbuild_common::tpm::PcrValues;
use sealbuild_common::HashAlg;
use serde_json::Value;

/// Reads `tests/data/tpm/<rel>`.
pub fn data(rel: &str) -> Vec<u8> {
    let path = format!("{}/../../tests/data/tpm/{rel}", env!("CARGO_MANIFEST_DIR"));
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

/// Decodes a base64 string field.
pub fn b64f(v: &Value) -> Vec<u8> {
    sealbuild_common::api::b64::deserialize(v.clone()).expect("base64 string")
}

/// go-tpm-tools GCE COS 85 attestation (MANIFEST §3.2), `nonce9009` or `no-nonce`.
pub fn gce(which: &str) -> Value {
    json(&format!(
        "go-tpm-tools/attestations/gce-cos-85-{which}.extracted.json"
    ))
}

/// The GCE quote of `bank` with its parts: (attest, signature, PCR values).
pub fn gce_quote(which: &str, bank: &str) -> (Vec<u8>, Vec<u8>, PcrValues) {
    let g = gce(which);
    let q = g["quotes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["pcr_bank"] == bank)
        .unwrap_or_else(|| panic!("no {bank} quote"))
        .clone();
    let pcrs: BTreeMap<u32, String> = q["pcrs"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.parse().unwrap(), v.as_str().unwrap().to_string()))
        .collect();
    let values = PcrValues::from_named_hex(&BTreeMap::from([(bank.to_string(), pcrs)])).unwrap();
    (
        hexf(&q["attest_tpms_attest"]),
        hexf(&q["signature_tpmt_signature"]),
        values,
    )
}

/// go-attestation Windows GCE Shielded VM evidence (MANIFEST §3.3).
pub fn windows() -> Value {
    json("go-attestation/windows_gcp_shielded_vm.json")
}

/// The Windows log's SHA-1 PCR values.
pub fn windows_pcrs(w: &Value) -> PcrValues {
    let mut v = PcrValues::new();
    for p in w["Log"]["PCRs"].as_array().unwrap() {
        assert_eq!(p["DigestAlg"], 3, "Go crypto.SHA1");
        v.insert(
            HashAlg::Sha1,
            p["Index"].as_u64().unwrap() as u32,
            &b64f(&p["Digest"]),
        )
        .unwrap();
    }
    v
}
