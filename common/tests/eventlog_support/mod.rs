//! Shared helpers of the eventlog_* integration tests: locating the real test
//! vectors under tests/data and reading their expected PCR values.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use base64::Engine;
use sealbuild_common::HashAlg;

pub fn data_path(rel: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/")).join(rel)
}

pub fn read(rel: &str) -> Vec<u8> {
    let p = data_path(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("test vector {} missing: {e}", p.display()))
}

/// The go-tpm-tools logs of MANIFEST §3.1 (all listed in expected_pcrs.json).
pub const GO_TPM_TOOLS_LOGS: &[&str] = &[
    "arch-linux-workstation.bin",
    "confidential-gke-debug-251000_eventlog.bin",
    "cos-101-amd-sev.bin",
    "cos-85-amd-sev.bin",
    "cos-93-amd-sev.bin",
    "debian-10.bin",
    "eventlogwithsp800155.bin",
    "gdc-host.bin",
    "glinux-alex.bin",
    "rhel8-uefi.bin",
    "ubuntu-1804-amd-sev.bin",
    "ubuntu-2104-no-dbx.bin",
    "ubuntu-2104-no-secure-boot.bin",
    "ubuntu-2404-amd-sevsnp.bin",
];

/// The go-attestation logs of MANIFEST §3.4.
pub const GO_ATTESTATION_LOGS: &[&str] = &[
    "coreos_36_shielded_vm_no_secure_boot_eventlog",
    "crypto_agile_eventlog",
    "ebs_event_missing_eventlog",
    "option_rom_eventlog",
    "sb_cert_eventlog",
];

pub fn go_tpm_tools_log(name: &str) -> Vec<u8> {
    read(&format!("tpm/go-tpm-tools/eventlogs/{name}"))
}

pub fn go_attestation_log(name: &str) -> Vec<u8> {
    read(&format!("tpm/go-attestation/{name}"))
}

/// The Windows GCE log of MANIFEST §3.3 (`Log.Raw`, base64 in the JSON).
pub fn windows_log() -> Vec<u8> {
    let json = windows_json();
    let raw = json["Log"]["Raw"].as_str().expect("Log.Raw");
    base64::engine::general_purpose::STANDARD
        .decode(raw)
        .expect("Log.Raw base64")
}

pub fn windows_json() -> serde_json::Value {
    serde_json::from_slice(&read("tpm/go-attestation/windows_gcp_shielded_vm.json")).expect("JSON")
}

/// Windows `Log.PCRs` (all SHA-1: `DigestAlg` 3 is Go's crypto.SHA1).
pub fn windows_pcrs() -> BTreeMap<u32, Vec<u8>> {
    let json = windows_json();
    let mut out = BTreeMap::new();
    for p in json["Log"]["PCRs"].as_array().expect("Log.PCRs") {
        assert_eq!(p["DigestAlg"], 3, "Windows PCRs are SHA-1");
        let index = u32::try_from(p["Index"].as_u64().unwrap()).unwrap();
        let digest = base64::engine::general_purpose::STANDARD
            .decode(p["Digest"].as_str().unwrap())
            .unwrap();
        out.insert(index, digest);
    }
    out
}

/// All (every real log, its bytes): every file of both corpora plus the
/// Windows log and the log extracted from the GCE attestation.
pub fn all_real_logs() -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = GO_TPM_TOOLS_LOGS
        .iter()
        .map(|n| (n.to_string(), go_tpm_tools_log(n)))
        .collect();
    v.extend(
        GO_ATTESTATION_LOGS
            .iter()
            .map(|n| (n.to_string(), go_attestation_log(n))),
    );
    v.push((
        "windows_gcp_shielded_vm.json Log.Raw".to_owned(),
        windows_log(),
    ));
    v.push((
        "gce-cos-85-nonce9009.eventlog.bin".to_owned(),
        read("tpm/go-tpm-tools/attestations/gce-cos-85-nonce9009.eventlog.bin"),
    ));
    v
}

/// Expected PCRs of one log from an expected_pcrs.json: bank → PCR → value.
pub fn expected_pcrs(json_rel: &str, log: &str) -> BTreeMap<HashAlg, BTreeMap<u32, Vec<u8>>> {
    let json: serde_json::Value = serde_json::from_slice(&read(json_rel)).unwrap();
    let pcrs = json[log]["pcrs"]
        .as_object()
        .unwrap_or_else(|| panic!("{json_rel} has no pcrs for {log}"));
    let mut out = BTreeMap::new();
    for (bank, values) in pcrs {
        let alg = HashAlg::from_name(bank).unwrap_or_else(|| panic!("bank {bank}"));
        let mut m = BTreeMap::new();
        for (pcr, hexval) in values.as_object().unwrap() {
            m.insert(
                pcr.parse::<u32>().unwrap(),
                hex::decode(hexval.as_str().unwrap()).unwrap(),
            );
        }
        out.insert(alg, m);
    }
    assert!(!out.is_empty(), "{log}: no expected PCRs");
    out
}

/// Start offsets of each event record in a parsed log's bytes, computed from
/// the record layout (independently of the parser's internals).
pub fn event_offsets(bytes: &[u8], log: &sealbuild_common::eventlog::EventLog) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut at = match log.spec_id() {
        Some(_) => 32 + u32::from_le_bytes(bytes[28..32].try_into().unwrap()) as usize,
        None => 0,
    };
    for e in log.events() {
        offsets.push(at);
        at += match log.spec_id() {
            Some(_) => {
                12 + e.digests.iter().map(|d| 2 + d.digest.len()).sum::<usize>() + 4 + e.data.len()
            }
            None => 32 + e.data.len(),
        };
    }
    offsets
}

/// Offset of the first byte of `alg`'s digest in the record starting at `start`.
pub fn digest_offset(
    log: &sealbuild_common::eventlog::EventLog,
    event: usize,
    start: usize,
    alg: HashAlg,
) -> usize {
    match log.spec_id() {
        None => start + 8,
        Some(_) => {
            let mut at = start + 12;
            for d in &log.events()[event].digests {
                if d.alg_id == alg.alg_id() {
                    return at + 2;
                }
                at += 2 + d.digest.len();
            }
            panic!("event {event} has no {alg} digest")
        }
    }
}
