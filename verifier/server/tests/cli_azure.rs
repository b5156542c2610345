//! `sealbuild-verifier verify azure` on the real Azure SEV-SNP vTPM vectors
//! of the test-data manifest §1.9 (trustee's az-snp-vtpm test data; see
//! tests/data/NOTICE.md): verdicts, claims and the stated negatives, each
//! refused with exit 1 naming its check; usage errors exit 2.
//!
//! Times: "now" of the manifest (2026-11-23) and 2025-06-01 are inside every
//! certificate's validity (hcl-report.bin's VCEK 2023-05-02 → 2030-05-02,
//! evidence-v0/v1/v2 VCEKs 2025-01-28 → 2032-01-28, Genoa VCEK 2025-01-24 →
//! 2032-01-24, AMD roots until 2045/2047).
// Test code: a failed unwrap, expect or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod cli_support;

use cli_support::{
    checks, data, json_b64url, json_bytes, quote_from_bytes, read_json, s, verify_azure,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

const NOW: &str = "2026-11-23T00:00:00Z";
const JUNE_2025: &str = "2025-06-01T00:00:00Z";
/// ASCII "challenge": the nonce of hcl-report.bin and evidence-v0/v1.
const CHALLENGE: &str = "6368616c6c656e6765";
const V2_NONCE: &str = "982f5c6e45df0ed3f10b6f60b02f0c8390e281300f3805e2279c16168cd6ae9aa398f647caa2338748cd0fd9f5f819ef";
const GENOA_NONCE: &str = "0218488bae25d2509232bf676f1a66a30d7372add909109b36016ef136f2938ca05475f8b46094de6b64270ea35d950f";

fn vtpm(file: &str) -> PathBuf {
    data(&format!("azure/az-snp-vtpm/{file}"))
}

/// Runs `verify azure ARGS`: exit code, JSON stdout (Null if none), all output.
fn run(args: &[&str]) -> (i32, Value, String) {
    cli_support::run(&["verify", "azure"], args)
}

/// Evidence as files: HCL report, quote JSON (hex form), VCEK.
struct Evidence {
    hcl: Vec<u8>,
    quote: Value,
    /// VCEK file contents and its name (`.pem` or `.der`).
    vcek: (Vec<u8>, &'static str),
}

impl Evidence {
    /// hcl-report.bin + tpm-quote-v1.json + vcek.pem.
    fn hcl_vector() -> Self {
        Self {
            hcl: std::fs::read(vtpm("hcl-report.bin")).unwrap(),
            quote: read_json(&vtpm("tpm-quote-v1.json")),
            vcek: (std::fs::read(vtpm("vcek.pem")).unwrap(), "vcek.pem"),
        }
    }

    /// One of trustee's evidence JSON files, split into the three inputs
    /// (version 0: byte arrays and a PEM VCEK; 1/2: hex, base64url HCL
    /// report, base64url DER VCEK).
    fn from_json(file: &str) -> Self {
        let v = read_json(&vtpm(file));
        if v.get("version").is_none() {
            Self {
                hcl: json_bytes(&v["report"]),
                quote: quote_from_bytes(&v["quote"]),
                vcek: (v["vcek"].as_str().unwrap().as_bytes().to_vec(), "vcek.pem"),
            }
        } else {
            Self {
                hcl: json_b64url(&v["hcl_report"]),
                quote: v["tpm_quote"].clone(),
                vcek: (json_b64url(&v["vcek"]), "vcek.der"),
            }
        }
    }

    /// Writes the files to `dir`: (hcl, quote, vcek).
    fn write(&self, dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
        let (h, q, k) = (
            dir.join("hcl.bin"),
            dir.join("quote.json"),
            dir.join(self.vcek.1),
        );
        std::fs::write(&h, &self.hcl).unwrap();
        std::fs::write(&q, self.quote.to_string()).unwrap();
        std::fs::write(&k, &self.vcek.0).unwrap();
        (h, q, k)
    }

    /// `verify azure --json` with this evidence, `nonce` and time `at`.
    fn verify(&self, nonce: &str, at: &str) -> (i32, Value, String) {
        let dir = tempfile::tempdir().unwrap();
        let (h, q, k) = self.write(dir.path());
        let rest = ["--nonce", nonce, "--at", at, "--json"];
        verify_azure(&h, &q, Some(("--vcek", &k)), &rest)
    }

    /// Flips `mask` into byte `index` of the quote's hex field `field`
    /// (`signature`, `message`), or of PCR `pcr` when `field` is "pcrs".
    fn flip_quote(&mut self, field: &str, pcr: usize, index: usize, mask: u8) {
        cli_support::flip_quote(&mut self.quote, field, pcr, index, mask);
    }
}

/// Asserts a rejection (exit 1, verdict rejected) naming exactly `check`.
fn assert_rejected(r: &(i32, Value, String), check: &str) -> Value {
    let (code, v, out) = r;
    assert_eq!(*code, 1, "{out}");
    assert_eq!(v["verdict"], "rejected", "{out}");
    assert_eq!(checks(v), [check], "{out}");
    v["reasons"][0].clone()
}

fn assert_accepted(r: &(i32, Value, String)) -> Value {
    let (code, v, out) = r;
    assert_eq!(*code, 0, "{out}");
    assert_eq!(v["verdict"], "accepted");
    assert_eq!(v["verified"], true);
    assert_eq!(v["reasons"], json!([]));
    v.clone()
}

fn pcr0(v: &Value) -> String {
    v["pcrs"]["sha256"]["0"].as_str().unwrap().to_string()
}

/// §1.9 hcl-report.bin + vcek.pem + tpm-quote-v1.json: VALID, with the
/// stated claims, now and on 2025-06-01.
#[test]
fn hcl_vector_is_accepted_with_the_stated_claims() {
    let e = Evidence::hcl_vector();
    // REPORT_DATA[0:32] = SHA-256(variable data), computed here from the
    // layout (u32 size at 0x4D0, data at 0x4D4).
    let var_len = u32::from_le_bytes(e.hcl[0x4D0..0x4D4].try_into().unwrap()) as usize;
    assert_eq!(var_len, 1110);
    let var_digest = hex::encode(Sha256::digest(&e.hcl[0x4D4..0x4D4 + var_len]));
    for at in [NOW, JUNE_2025] {
        let v = assert_accepted(&e.verify(CHALLENGE, at));
        assert_eq!(v["product"], "milan");
        assert_eq!(v["version"], 2);
        assert_eq!(v["policy"], "0x3001f");
        assert_eq!(v["vmpl"], 0);
        assert_eq!(v["reported_tcb"], "0x7308000000000003");
        assert_eq!(v["measurement"], "9ac48fcac8a2d88aeeff8d427ad4f2be0e3917c748a18bdf52cc317e7fe20308b459d5ef1a12e0c22944eb386d17c315");
        let report_data = format!(
            "b3fbad6514c83caeb0380882145e49f794229ef37c421b91fc47ff93556bafac{}",
            "00".repeat(32)
        );
        assert_eq!(v["report_data"], report_data);
        assert_eq!(v["hcl_var_data_digest"], var_digest);
        assert_eq!(report_data[..64], var_digest);
        assert_eq!(v["hcl_version"], 1);
        assert_eq!(v["hcl_hash_type"], "sha256");
        assert_eq!(v["hcl_var_data_len"], 1110);
        assert_eq!(v["host_data"], "00".repeat(32));
        // CHIP_ID at report offset 0x1A0 (HCL offset 0x20 + 0x1A0).
        assert_eq!(v["chip_id"], hex::encode(&e.hcl[0x1C0..0x200]));
        assert_eq!(v["signing_key"], "vcek");
        assert_eq!(v["nonce"], CHALLENGE);
        let p0 = pcr0(&v);
        assert!(p0.starts_with("f3a7e99a") && p0.ends_with("99be"), "{p0}");
        assert_eq!(v["pcrs"]["sha256"].as_object().unwrap().len(), 24);
        assert_eq!(v["ak_bits"], 2048);
        assert_eq!(v["ak_fingerprint"].as_str().unwrap().len(), 64);
        assert_eq!(v["user_data"], "00".repeat(64));
        assert_eq!(v["verification_time"], at);
    }
    // Human output.
    let dir = tempfile::tempdir().unwrap();
    let (h, q, k) = e.write(dir.path());
    let with = |rest: &[&str]| verify_azure(&h, &q, Some(("--vcek", &k)), rest);
    let (code, _, out) = with(&["--nonce", CHALLENGE, "--at", NOW]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("verdict: accepted"), "{out}");
    let (code, _, out) = with(&["--nonce", "00", "--at", NOW]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("verdict: rejected") && out.contains("[nonce]"),
        "{out}"
    );
}

/// §1.9 negatives stated by trustee, each on a fresh copy.
#[test]
fn stated_negatives_name_their_check() {
    // hcl[0x1a6] = 0: REPORTED_TCB SNP SVN 8 -> 0, "SNP version mismatch".
    let mut e = Evidence::hcl_vector();
    e.hcl[0x1a6] = 0;
    let r = assert_rejected(&e.verify(CHALLENGE, NOW), "snp_tcb");
    let m = r["message"].as_str().unwrap();
    assert!(
        m.contains("REPORTED_TCB snp: expected 8 (certificate), got 0 (report)"),
        "{m}"
    );

    // hcl[0x6e0] += 1: "HCL variable data digest doesn't match SNP report data".
    let mut e = Evidence::hcl_vector();
    e.hcl[0x6e0] += 1;
    let r = assert_rejected(&e.verify(CHALLENGE, NOW), "azure_binding");
    assert_eq!(
        r["observed"],
        "b3fbad6514c83caeb0380882145e49f794229ef37c421b91fc47ff93556bafac"
    );

    // hcl[0x540] = 0 (inside HCLAkPub's "n"): trustee fails to get the AK; the
    // AK is only read once REPORT_DATA binds the variable data, so here the
    // binding is what fails.
    let mut e = Evidence::hcl_vector();
    e.hcl[0x540] = 0;
    assert_rejected(&e.verify(CHALLENGE, NOW), "azure_binding");

    // signature[0] ^= 1: quote signature INVALID.
    let mut e = Evidence::hcl_vector();
    e.flip_quote("signature", 0, 0, 1);
    assert_rejected(&e.verify(CHALLENGE, NOW), "quote_signature");

    // The nonce reversed: INVALID.
    let e = Evidence::hcl_vector();
    let reversed = hex::encode(b"egnellahc");
    let r = assert_rejected(&e.verify(&reversed, NOW), "nonce");
    assert_eq!(r["expected"], reversed);
    assert_eq!(r["observed"], CHALLENGE);

    // pcrs[0][0] ^= 1: PCR digest mismatch.
    let mut e = Evidence::hcl_vector();
    e.flip_quote("pcrs", 0, 0, 1);
    let r = assert_rejected(&e.verify(CHALLENGE, NOW), "pcr_digest");
    assert_eq!(
        r["expected"],
        "0daff74c2fca14910b1e9b54a384707434c3365db9f163cc73a39a9f7500833f"
    );
    assert_ne!(r["observed"], r["expected"]);
}

/// Further tampering, wrong time and wrong VCEK on the same vector.
#[test]
fn tampering_time_and_vcek_are_refused() {
    // The SNP report's signed region (MEASUREMENT) and its signature.
    for offset in [0x20 + 0x90, 0x20 + 0x2A0] {
        let mut e = Evidence::hcl_vector();
        e.hcl[offset] ^= 0x01;
        assert_rejected(&e.verify(CHALLENGE, NOW), "snp_signature");
    }
    // REPORT_DATA past the variable-data digest (signed like the rest).
    let mut e = Evidence::hcl_vector();
    e.hcl[0x20 + 0x50 + 40] ^= 0x01;
    assert_rejected(&e.verify(CHALLENGE, NOW), "snp_signature");
    // A byte of the TPMS_ATTEST (122 bytes: in extraData, in pcrDigest).
    for index in [0x10, 100] {
        let mut e = Evidence::hcl_vector();
        e.flip_quote("message", 0, index, 0x01);
        assert_rejected(&e.verify(CHALLENGE, NOW), "quote_signature");
    }
    // A PCR other than 0.
    let mut e = Evidence::hcl_vector();
    e.flip_quote("pcrs", 23, 31, 0x80);
    assert_rejected(&e.verify(CHALLENGE, NOW), "pcr_digest");

    // Wrong time: after the VCEK's notAfter (2030-05-02), before its notBefore.
    let e = Evidence::hcl_vector();
    let r = assert_rejected(&e.verify(CHALLENGE, "2031-01-01T00:00:00Z"), "snp_chain");
    assert!(r["message"].as_str().unwrap().contains("expired"), "{r}");
    assert_rejected(&e.verify(CHALLENGE, "2023-01-01T00:00:00Z"), "snp_chain");

    // A VCEK whose signature byte is flipped.
    let mut e = Evidence::hcl_vector();
    let pem = String::from_utf8(e.vcek.0.clone()).unwrap();
    let der = rustls_pemfile::certs(&mut pem.as_bytes())
        .next()
        .unwrap()
        .unwrap();
    let mut der = der.to_vec();
    let n = der.len();
    der[n - 10] ^= 0xff;
    e.vcek = (der, "vcek.der");
    assert_rejected(&e.verify(CHALLENGE, NOW), "snp_chain");

    // Another (genuine) Milan chip's VCEK: its TCB and hwID are not the report's.
    let mut e = Evidence::hcl_vector();
    e.vcek = Evidence::from_json("evidence-v1.json").vcek;
    assert_rejected(&e.verify(CHALLENGE, NOW), "snp_tcb");
    // A Genoa VCEK for this (version 2, CPUID-less) Milan report.
    let mut e = Evidence::hcl_vector();
    e.vcek = (std::fs::read(vtpm("vcek-genoa.pem")).unwrap(), "vcek.pem");
    assert_rejected(&e.verify(CHALLENGE, NOW), "snp_tcb");

    // No VCEK at all.
    let e = Evidence::hcl_vector();
    let dir = tempfile::tempdir().unwrap();
    let (h, q, _) = e.write(dir.path());
    let r = verify_azure(&h, &q, None, &["--nonce", CHALLENGE, "--at", NOW, "--json"]);
    assert_rejected(&r, "snp_endorsement_key");
}

/// A change to an HCL report.
type Edit = fn(&mut Vec<u8>);

/// Malformed evidence is a rejection (exit 1) with the reason
/// `malformed_evidence` naming the structure and field, not a usage error;
/// an HCL report of another TEE parses and is refused as such.
#[test]
fn malformed_evidence_is_rejected() {
    // An HCL report of neither SEV-SNP nor TDX (report type 3, TVM).
    let mut e = Evidence::hcl_vector();
    e.hcl[0x4C8] = 3;
    let r = assert_rejected(&e.verify(CHALLENGE, NOW), "azure_hcl");
    assert_eq!(r["expected"], "2 (SNP_VM_REPORT) or 4 (TDX_VM_REPORT)");
    assert_eq!(r["observed"], "3 (TVM_REPORT)");
    // The TDX HCL report is verified as TDX (tests/cli_azure_tdx.rs): with
    // the SEV-SNP flags it is a usage error naming the flags it needs.
    let mut e = Evidence::hcl_vector();
    e.hcl = std::fs::read(data("azure/az-tdx-vtpm/hcl-report.bin")).unwrap();
    let (code, _, out) = e.verify(CHALLENGE, NOW);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("TDX report") && out.contains("--td-quote"),
        "{out}"
    );
    // A truncated HCL report, a wrong signature, a bad header version,
    // non-zero padding: each names its field.
    let edits: [(Edit, &str); 4] = [
        (|h| h.truncate(0x600), "truncated"),
        (|h| h[0] = b'X', "HCL signature"),
        (|h| h[4] = 9, "HCL header version"),
        (|h| *h.last_mut().unwrap() = 1, "padding"),
    ];
    for (edit, field) in edits {
        let mut e = Evidence::hcl_vector();
        edit(&mut e.hcl);
        let r = assert_rejected(&e.verify(CHALLENGE, NOW), "malformed_evidence");
        let m = r["message"].as_str().unwrap();
        assert!(m.contains("Azure HCL report") && m.contains(field), "{m}");
    }
    // A quote JSON with 23 PCRs, without a signature, or not JSON at all.
    let mut e = Evidence::hcl_vector();
    e.quote["pcrs"].as_array_mut().unwrap().pop();
    let r = assert_rejected(&e.verify(CHALLENGE, NOW), "malformed_evidence");
    assert!(
        r["message"].as_str().unwrap().contains("vTPM quote JSON"),
        "{r}"
    );
    let mut e = Evidence::hcl_vector();
    e.quote.as_object_mut().unwrap().remove("signature");
    let r = assert_rejected(&e.verify(CHALLENGE, NOW), "malformed_evidence");
    assert!(r["message"].as_str().unwrap().contains("signature"), "{r}");
    let mut e = Evidence::hcl_vector();
    e.quote = json!("garbage");
    assert_rejected(&e.verify(CHALLENGE, NOW), "malformed_evidence");
    // The text form names the check too.
    let e = Evidence::hcl_vector();
    let dir = tempfile::tempdir().unwrap();
    let (h, q, k) = e.write(dir.path());
    std::fs::write(&h, b"HCLA").unwrap();
    let (code, _, out) = verify_azure(
        &h,
        &q,
        Some(("--vcek", &k)),
        &["--nonce", CHALLENGE, "--at", NOW],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("malformed_evidence"), "{out}");
}

/// §1.9 evidence-v0.json / evidence-v1.json: the same evidence, VALID with
/// nonce "challenge" and PCR0 e15c…; v1's VCEK is not yet valid in January 2025.
#[test]
fn evidence_v0_and_v1_are_accepted() {
    for file in ["evidence-v0.json", "evidence-v1.json"] {
        let e = Evidence::from_json(file);
        let v = assert_accepted(&e.verify(CHALLENGE, NOW));
        assert_eq!(v["nonce"], CHALLENGE, "{file}");
        assert_eq!(
            pcr0(&v),
            "e15c44796beabf46abcec7c57e590942041e47497e4ec27571c8b7664f48dced"
        );
        assert_eq!(v["product"], "milan");
        assert_eq!(v["version"], 3);
        assert_eq!(v["measurement"], "6a063be9dd79f6371c842e480f8dc3b5c725961344e57130e88c5adf49e8f7f6c79b75a5eb77fc769959f4aeb2f9401e");
        assert_eq!(v["reported_tcb"], "0xdb18000000000004");
        assert_eq!(
            v["vm_configuration"]["vm_unique_id"],
            "26F8BC30-774E-4290-8E7A-535F3B672AEE"
        );
        assert_rejected(&e.verify(&hex::encode(b"other"), NOW), "nonce");
    }
    let e = Evidence::from_json("evidence-v1.json");
    let r = assert_rejected(&e.verify(CHALLENGE, "2025-01-01T00:00:00Z"), "snp_chain");
    assert!(
        r["message"].as_str().unwrap().contains("not valid before"),
        "{r}"
    );
}

/// §1.9 evidence-v2.json: VALID with its 48-byte nonce, which is also the
/// HCL user-data (reported zero-padded to 64 bytes).
#[test]
fn evidence_v2_is_accepted_and_carries_the_nonce_as_user_data() {
    let e = Evidence::from_json("evidence-v2.json");
    let v = assert_accepted(&e.verify(V2_NONCE, NOW));
    assert_eq!(v["nonce"], V2_NONCE);
    assert_eq!(
        pcr0(&v),
        "84275b2f4312cd4fc6cbe6b152ad3c3683e513d9f1e23c34fca160c8cca7a6a7"
    );
    assert_eq!(v["user_data"], format!("{V2_NONCE}{}", "00".repeat(16)));
    assert_eq!(v["product"], "milan");
    // Another nonce fails at the quote.
    assert_rejected(&e.verify(CHALLENGE, NOW), "nonce");
}

/// §1.9 evidence-genoa.json + vcek-genoa.pem: VALID on the Genoa chain.
#[test]
fn evidence_genoa_is_accepted_on_the_genoa_chain() {
    let mut e = Evidence::from_json("evidence-genoa.json");
    e.vcek = (std::fs::read(vtpm("vcek-genoa.pem")).unwrap(), "vcek.pem");
    let v = assert_accepted(&e.verify(GENOA_NONCE, NOW));
    assert_eq!(v["product"], "genoa");
    assert_eq!(v["nonce"], GENOA_NONCE);
    assert_eq!(
        pcr0(&v),
        "afd689d0bb1c5f36f023fbaf574135f555a28a10c1f6b938d2a25e70c7783338"
    );
    assert_eq!(v["reported_tcb"], "0x541700000000000a");
    assert_eq!(v["hcl_version"], 2);
    // A Milan VCEK for the Genoa report (CPUID says Genoa).
    e.vcek = (std::fs::read(vtpm("vcek.pem")).unwrap(), "vcek.pem");
    assert_rejected(&e.verify(GENOA_NONCE, NOW), "snp_chain");
}

/// `--certs DIR` in snpguest's layout; its roots must be AMD's.
#[test]
fn certs_dir_in_snpguest_layout() {
    let e = Evidence::hcl_vector();
    let dir = tempfile::tempdir().unwrap();
    let (h, q, _) = e.write(dir.path());
    let certs = dir.path().join("certs");
    std::fs::create_dir(&certs).unwrap();
    std::fs::copy(vtpm("vcek.pem"), certs.join("vcek.pem")).unwrap();
    for name in ["ark.pem", "ask.pem"] {
        std::fs::copy(
            data(&format!("sev-snp/amd-roots/milan/{name}")),
            certs.join(name),
        )
        .unwrap();
    }
    let args = ["--nonce", CHALLENGE, "--at", NOW];
    let with = |json: &[&str]| {
        verify_azure(
            &h,
            &q,
            Some(("--certs", &certs)),
            &[&args[..], json].concat(),
        )
    };
    let v = assert_accepted(&with(&["--json"]));
    assert_eq!(v["product"], "milan");
    // A root that is not AMD's is a usage error, never trusted.
    std::fs::copy(vtpm("vcek.pem"), certs.join("ark.pem")).unwrap();
    let (code, _, out) = with(&[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("not one of AMD's built-in"), "{out}");
    // A directory without a VCEK.
    std::fs::remove_file(certs.join("vcek.pem")).unwrap();
    std::fs::remove_file(certs.join("ark.pem")).unwrap();
    let (code, _, out) = with(&[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("holds neither"), "{out}");
}

#[test]
fn usage_errors_exit_2() {
    let e = Evidence::hcl_vector();
    let dir = tempfile::tempdir().unwrap();
    let (h, q, k) = e.write(dir.path());
    let with = |extra: &[&str]| verify_azure(&h, &q, Some(("--vcek", &k)), extra);
    // --nonce is required.
    let (code, _, out) = with(&["--at", NOW]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("--nonce"), "{out}");
    let (code, _, out) = with(&["--nonce", "chall", "--at", NOW]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("not hex"), "{out}");
    let (code, _, out) = with(&["--nonce", CHALLENGE, "--at", "yesterday"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("RFC 3339"), "{out}");
    let (code, _, out) = with(&["--nonce", CHALLENGE, "--certs", s(dir.path())]);
    assert_eq!(code, 2, "{out}");
    let missing = dir.path().join("missing.bin");
    let (code, _, out) = verify_azure(&missing, &q, Some(("--vcek", &k)), &["--nonce", CHALLENGE]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("missing.bin"), "{out}");
    let (code, _, out) = run(&["--quote-json", s(&q), "--nonce", CHALLENGE]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("--hcl-report"), "{out}");
}
