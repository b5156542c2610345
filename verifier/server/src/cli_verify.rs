//! `verify tpm` and `eventlog replay`: offline checks of files written by
//! tpm2-tools or `sealbuild-agent quote`.

use crate::Outcome;
use anyhow::{Context, Result};
use clap::Subcommand;
use sealbuild_common::eventlog::EventLog;
use sealbuild_common::tpm::{parse_tools_pcrs, Attest, PcrValues, Public, Signature};
use sealbuild_verifier_core::platform::{Anchors, Enrolment, Registry};
use sealbuild_verifier_core::quote::{verify_quote, verify_quote_signature, QuoteOptions};
use serde_json::json;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum VerifyCmd {
    /// Verifies a TPM quote made by tpm2_quote or `sealbuild-agent quote`.
    Tpm(TpmArgs),
    /// Verifies a sealed-build bundle offline (DSSE envelope, artefacts, EAR, evidence).
    Bundle(BundleArgs),
    /// Verifies an AMD SEV-SNP attestation report against AMD's built-in roots.
    Snp(crate::cli_snp::SnpArgs),
    /// Verifies Azure confidential-VM (SEV-SNP) evidence: HCL report and vTPM quote.
    Azure(crate::cli_azure::AzureArgs),
}

#[derive(Debug, clap::Args)]
pub struct BundleArgs {
    /// The DSSE envelope (`<name>.intoto.jsonl`).
    #[arg(long)]
    envelope: PathBuf,
    /// Directory holding the artefacts named by the statement's subjects.
    #[arg(long)]
    artifacts: PathBuf,
    /// SPKI PEM of the signing key (`signing-key.pub.pem`, or the key from your records).
    #[arg(long)]
    signer_key: PathBuf,
    /// The attestation result (EAR, COSE_Sign1).
    #[arg(long, requires = "verifier_key")]
    ear: Option<PathBuf>,
    /// The verifier's result key (`sealbuild-verifier result-key`).
    #[arg(long, requires = "ear")]
    verifier_key: Option<PathBuf>,
    /// The bundle's evidence directory: re-verifies the TPM or SEV-SNP evidence
    /// (SEV-SNP: against AMD's built-in roots only).
    #[arg(long)]
    evidence: Option<PathBuf>,
    /// The runtime PCR sealed builds extend.
    #[arg(long, default_value_t = 23)]
    runtime_pcr: u32,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub struct TpmArgs {
    /// AK public area, TPM2B_PUBLIC (`tpm2_createak -u`).
    #[arg(long)]
    ak_public: PathBuf,
    /// The quote, TPMS_ATTEST (`tpm2_quote -m`).
    #[arg(long)]
    message: PathBuf,
    /// The signature, TPMT_SIGNATURE (`tpm2_quote -s`).
    #[arg(long)]
    signature: PathBuf,
    /// Expected qualifying data, hex.
    #[arg(long)]
    nonce: String,
    /// PCR values (`tpm2_quote -o`, tpm2-tools' default form).
    #[arg(long)]
    pcrs: Option<PathBuf>,
    /// Firmware event log to replay against the quoted PCRs.
    #[arg(long)]
    eventlog: Option<PathBuf>,
    /// Accept SHA-1 signatures and banks.
    #[arg(long)]
    allow_sha1: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
pub enum EventlogCmd {
    /// Replays a TCG event log and prints every PCR per bank.
    Replay {
        /// The log (binary_bios_measurements).
        file: PathBuf,
        /// Print JSON: {"sha256": {"0": "hex", …}, "sha1": {…}}.
        #[arg(long)]
        json: bool,
    },
}

fn read(p: &PathBuf) -> Result<Vec<u8>> {
    std::fs::read(p).with_context(|| format!("reading {}", p.display()))
}

pub fn verify(cmd: VerifyCmd) -> Result<Outcome> {
    match cmd {
        VerifyCmd::Tpm(a) => verify_tpm_files(a),
        VerifyCmd::Bundle(a) => verify_bundle_files(a),
        VerifyCmd::Snp(a) => crate::cli_snp::verify_snp_files(a),
        VerifyCmd::Azure(a) => crate::cli_azure::verify_azure_files(a),
    }
}

fn sha256_file(path: &std::path::Path) -> std::result::Result<[u8; 32], String> {
    use sha2::Digest;
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        h.update(buf.get(..n).unwrap_or_default());
    }
    Ok(h.finalize().into())
}

fn verify_bundle_files(a: BundleArgs) -> Result<Outcome> {
    use sealbuild_verifier_core::bundle::{safe_subject_name, verify_bundle, BundleInput};
    let envelope_text = read(&a.envelope)?;
    // A .jsonl file holds one envelope per line; the first is verified.
    let envelope = envelope_text
        .split(|b| *b == b'\n')
        .find(|l| !l.iter().all(u8::is_ascii_whitespace))
        .unwrap_or_default()
        .to_vec();
    let signer = String::from_utf8(read(&a.signer_key)?).context("--signer-key is not PEM text")?;
    let root = a.artifacts.clone();
    let lookup = move |name: &str| -> Option<std::result::Result<[u8; 32], String>> {
        if !safe_subject_name(name) {
            return Some(Err("unsafe subject name".into()));
        }
        let p = root.join(name);
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.is_file() => Some(sha256_file(&p)),
            Ok(_) => Some(Err("not a regular file".into())),
            Err(_) => None,
        }
    };
    let ear_bytes = a.ear.as_ref().map(read).transpose()?;
    let vkey = match &a.verifier_key {
        Some(p) => Some(
            <p256::ecdsa::VerifyingKey as p256::pkcs8::DecodePublicKey>::from_public_key_pem(
                &String::from_utf8(read(p)?).context("--verifier-key is not PEM text")?,
            )
            .map_err(|e| anyhow::anyhow!("{}: not a P-256 public key: {e}", p.display()))?,
        ),
        None => None,
    };
    let evidence = match &a.evidence {
        Some(dir) => {
            let req: sealbuild_common::api::AttestRequest =
                serde_json::from_slice(&read(&dir.join("attest-request.json"))?)
                    .with_context(|| format!("{}/attest-request.json", dir.display()))?;
            // Only registered attesters (TPM) have an AK file; hardware-
            // vouched evidence (SEV-SNP, Azure) carries its own keys.
            let registered = Registry::new(&Anchors::default())
                .get(req.evidence.platform())
                .is_ok_and(|v| v.enrolment() == Enrolment::Registration);
            let ak = if registered {
                read(&dir.join("ak.pub"))?
            } else {
                Vec::new()
            };
            Some((req, ak))
        }
        None => None,
    };
    let report = verify_bundle(&BundleInput {
        envelope: &envelope,
        signer_key_pem: &signer,
        artifacts: &lookup,
        ear: ear_bytes.as_deref().zip(vkey.as_ref()),
        evidence: evidence.as_ref().map(|(r, ak)| (r, ak.as_slice())),
        runtime_pcr: a.runtime_pcr,
        at_unix_secs: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .context("system clock before 1970")?
            .as_secs(),
    });
    if a.json {
        out!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for c in &report.checks {
            out!(
                "{} {}: {}",
                if c.ok { "ok  " } else { "FAIL" },
                c.check,
                c.detail
            );
        }
        out!("{}", report.verdict);
    }
    Ok(if report.accepted() {
        Outcome::Ok
    } else {
        Outcome::Rejected
    })
}

fn verify_tpm_files(a: TpmArgs) -> Result<Outcome> {
    let ak_bytes = read(&a.ak_public)?;
    let msg = read(&a.message)?;
    let sig_bytes = read(&a.signature)?;
    let nonce = hex::decode(a.nonce.trim_start_matches("0x"))
        .with_context(|| format!("--nonce '{}' is not hex", a.nonce))?;
    // Bytes that do not parse are tampered or broken evidence: a rejection
    // (exit 1) naming the structure, not a usage error.
    let ak = match Public::parse_tpm2b(&ak_bytes) {
        Ok(ak) => ak,
        Err(e) => return malformed(a.json, &a.ak_public, "TPM2B_PUBLIC", &e),
    };
    let sig = match Signature::parse(&sig_bytes) {
        Ok(s) => s,
        Err(e) => return malformed(a.json, &a.signature, "TPMT_SIGNATURE", &e),
    };
    let opts = QuoteOptions {
        allow_sha1: a.allow_sha1,
    };
    let mut reasons: Vec<String> = Vec::new();
    let mut pcr_json = serde_json::Map::new();
    let mut quoted = PcrValues::new();

    let result = match &a.pcrs {
        Some(p) => {
            let attest = match Attest::parse(&msg) {
                Ok(x) => x,
                Err(e) => return malformed(a.json, &a.message, "TPMS_ATTEST", &e),
            };
            let Some(selection) = attest.quote().map(|q| q.pcr_select().clone()) else {
                return malformed(
                    a.json,
                    &a.message,
                    "TPMS_ATTEST",
                    &"not a quote (TPM_ST_ATTEST_QUOTE)",
                );
            };
            let values = match parse_tools_pcrs(&read(p)?, &selection) {
                Ok(v) => v,
                Err(e) => return malformed(a.json, p, "tpm2-tools PCR file", &e),
            };
            verify_quote(&ak, &msg, &sig, &nonce, &values, &opts).map(|c| {
                quoted = c.pcrs.clone();
            })
        }
        None => verify_quote_signature(&ak, &msg, &sig, &opts).and_then(|attest| {
            if attest.extra_data() == nonce.as_slice() {
                Ok(())
            } else {
                Err(
                    sealbuild_verifier_core::quote::QuoteError::QualifyingDataMismatch {
                        expected: hex::encode(&nonce),
                        got: hex::encode(attest.extra_data()),
                    },
                )
            }
        }),
    };
    if let Err(e) = result {
        reasons.push(e.to_string());
    }
    if let Some(log_path) = &a.eventlog {
        let log = match EventLog::parse(&read(log_path)?) {
            Ok(l) => l,
            Err(e) => return malformed(a.json, log_path, "TCG event log", &e),
        };
        if quoted.is_empty() {
            reasons.push(
                "--eventlog needs --pcrs: the replay is compared with the quoted PCR values".into(),
            );
        }
        let replay = log.replay();
        for (bank, values) in quoted.banks() {
            for m in replay.compare(*bank, values) {
                reasons.push(m.to_string());
            }
        }
    }
    for (bank, values) in quoted.banks() {
        let m: serde_json::Map<String, serde_json::Value> = values
            .iter()
            .map(|(i, v)| (i.to_string(), json!(hex::encode(v))))
            .collect();
        pcr_json.insert(bank.name().to_string(), serde_json::Value::Object(m));
    }
    let accepted = reasons.is_empty();
    if a.json {
        out!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "verdict": if accepted { "accepted" } else { "rejected" },
                "reasons": reasons,
                "ak_name": hex::encode(ak.name()),
                "pcrs": pcr_json,
            }))?
        );
    } else if accepted {
        out!(
            "accepted: quote signed by AK {} with qualifying data {}",
            hex::encode(ak.name()),
            hex::encode(&nonce)
        );
    } else {
        out!("rejected:");
        for r in &reasons {
            out!("  - {r}");
        }
    }
    Ok(if accepted {
        Outcome::Ok
    } else {
        Outcome::Rejected
    })
}

/// Evidence whose bytes do not parse: a rejection (exit 1) with the reason
/// `malformed_evidence`, naming the file, the structure and the parser's
/// explanation (field and offset).
fn malformed(
    json: bool,
    path: &std::path::Path,
    structure: &str,
    e: &dyn std::fmt::Display,
) -> Result<Outcome> {
    let message = format!("{}: not a valid {structure}: {e}", path.display());
    if json {
        out!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "verdict": "rejected",
                "reasons": [{"check": "malformed_evidence", "message": message}],
            }))?
        );
    } else {
        out!("rejected:");
        out!("  - malformed_evidence: {message}");
    }
    Ok(Outcome::Rejected)
}

pub fn eventlog(cmd: EventlogCmd) -> Result<Outcome> {
    let EventlogCmd::Replay { file, json } = cmd;
    let log =
        EventLog::parse(&read(&file)?).with_context(|| format!("{}: event log", file.display()))?;
    let replay = log.replay();
    if json {
        out!("{}", serde_json::to_string_pretty(&replay.to_json_map())?);
    } else {
        print!("{}", replay.render_text());
    }
    Ok(Outcome::Ok)
}
