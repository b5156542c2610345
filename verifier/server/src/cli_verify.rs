//! `verify tpm` and `eventlog replay`: offline checks of files written by
//! tpm2-tools or `sealbuild-agent quote`, and the replay of TPM event logs and
//! of TDX CC event logs (`--ccel`, `common::eventlog::ccel`).
//!
//! Also what every `verify` subcommand shares: the verification time
//! (`--at`), the `--policy` text and its reference sets of one platform, the
//! verdict's JSON fields and text lines, the exit outcome, and the answer to
//! evidence that does not parse ([`malformed`]).

use crate::Outcome;
use anyhow::{bail, Context, Result};
use clap::Subcommand;
use sealbuild_common::api::Reason;
use sealbuild_common::eventlog::ccel::{CcelError, CcelLog, CcelTable};
use sealbuild_common::eventlog::EventLog;
use sealbuild_common::tpm::{parse_tools_pcrs, Attest, PcrValues, Public, Signature};
use sealbuild_verifier_core::bundle::MALFORMED_EVIDENCE;
use sealbuild_verifier_core::platform::{Anchors, Enrolment, Registry};
use sealbuild_verifier_core::policy::{Policy, ReferenceSet};
use sealbuild_verifier_core::quote::{verify_quote, verify_quote_signature, QuoteOptions};
use serde_json::json;
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub enum VerifyCmd {
    /// Verifies a TPM quote made by tpm2_quote or `sealbuild-agent quote`.
    Tpm(TpmArgs),
    /// Verifies a sealed-build bundle offline (DSSE envelope, artefacts, EAR, evidence).
    Bundle(BundleArgs),
    /// Verifies an AMD SEV-SNP attestation report against AMD's built-in roots.
    Snp(crate::cli_snp::SnpArgs),
    /// Verifies Azure confidential-VM evidence (SEV-SNP, or TDX with its TD quote): HCL report and vTPM quote.
    Azure(crate::cli_azure::AzureArgs),
    /// Verifies an Intel TDX quote (DCAP) against Intel's built-in root and the given collateral.
    Tdx(crate::cli_tdx::TdxArgs),
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
    /// The bundle's evidence directory: re-verifies the TPM, SEV-SNP or TDX
    /// evidence (SEV-SNP: against AMD's built-in roots only; TDX: against the
    /// Intel SGX Root CA, with --tdx-collateral or --tdx-collateral-dir).
    #[arg(long)]
    evidence: Option<PathBuf>,
    /// TDX evidence: DCAP collateral as a JSON bundle (as `verify tdx --collateral`).
    #[arg(long, requires = "evidence", conflicts_with = "tdx_collateral_dir")]
    tdx_collateral: Option<PathBuf>,
    /// TDX evidence: DCAP collateral as a directory of PCS responses (as
    /// `verify tdx --collateral-dir`, or a folder of the collateral store).
    #[arg(long, requires = "evidence")]
    tdx_collateral_dir: Option<PathBuf>,
    /// Verification time (RFC 3339; default now): certificate validity and
    /// collateral windows are checked at this time, e.g. the build's.
    #[arg(long)]
    at: Option<String>,
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
    /// Replays a TPM's TCG event log and prints every PCR per bank, or a TDX
    /// CC event log (--ccel) and prints RTMR0-3.
    Replay {
        /// The TPM log (binary_bios_measurements).
        #[arg(required_unless_present = "ccel", conflicts_with = "ccel")]
        file: Option<PathBuf>,
        /// A TDX CC event log area (/sys/firmware/acpi/tables/data/CCEL).
        #[arg(long, value_name = "FILE")]
        ccel: Option<PathBuf>,
        /// The ACPI CCEL table (/sys/firmware/acpi/tables/CCEL): checked, and the
        /// --ccel area must be its LAML bytes of a TDX log.
        #[arg(long, value_name = "FILE", requires = "ccel")]
        ccel_table: Option<PathBuf>,
        /// Print JSON: {"sha256": {"0": "hex", …}, "sha1": {…}}; with --ccel
        /// {"rtmr0": "hex", …, "rtmr3": "hex"}.
        #[arg(long)]
        json: bool,
    },
}

fn read(p: &Path) -> Result<Vec<u8>> {
    std::fs::read(p).with_context(|| format!("reading {}", p.display()))
}

pub fn verify(cmd: VerifyCmd) -> Result<Outcome> {
    match cmd {
        VerifyCmd::Tpm(a) => verify_tpm_files(a),
        VerifyCmd::Bundle(a) => verify_bundle_files(a),
        VerifyCmd::Snp(a) => crate::cli_snp::verify_snp_files(a),
        VerifyCmd::Azure(a) => crate::cli_azure::verify_azure_files(a),
        VerifyCmd::Tdx(a) => crate::cli_tdx::verify_tdx_files(a),
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

/// The bundle's recorded attestation request and, for registered attesters
/// (TPM), its AK. A request that does not parse is `Ok(Err(reason))`, the
/// reason naming the JSON path of the bad field; a file that cannot be read
/// is an I/O error.
fn recorded_evidence(
    dir: &std::path::Path,
) -> Result<std::result::Result<(sealbuild_common::api::AttestRequest, Vec<u8>), String>> {
    let path = dir.join("attest-request.json");
    let bytes = read(&path)?;
    let what = format!(
        "{}: not a valid attestation request (AttestRequest)",
        path.display()
    );
    let mut de = serde_json::Deserializer::from_slice(&bytes);
    let req: sealbuild_common::api::AttestRequest = match serde_path_to_error::deserialize(&mut de)
    {
        Ok(r) => r,
        Err(e) => {
            let at = e.path().to_string();
            let field = if at == "." {
                String::new()
            } else {
                format!("{at}: ")
            };
            return Ok(Err(format!("{what}: {field}{}", e.inner())));
        }
    };
    if let Err(e) = de.end() {
        return Ok(Err(format!("{what}: {e}")));
    }
    // Only registered attesters (TPM) have an AK file; hardware-vouched
    // evidence (SEV-SNP, Azure) carries its own keys.
    let registered = Registry::new(&Anchors::default())
        .get(req.evidence.platform())
        .is_ok_and(|v| v.enrolment() == Enrolment::Registration);
    let ak = if registered {
        read(&dir.join("ak.pub"))?
    } else {
        Vec::new()
    };
    Ok(Ok((req, ak)))
}

fn verify_bundle_files(a: BundleArgs) -> Result<Outcome> {
    use sealbuild_verifier_core::bundle::{safe_subject_name, verify_bundle, BundleInput, Check};
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
    let ear_bytes = a.ear.as_deref().map(read).transpose()?;
    let vkey = match &a.verifier_key {
        Some(p) => Some(
            <p256::ecdsa::VerifyingKey as p256::pkcs8::DecodePublicKey>::from_public_key_pem(
                &String::from_utf8(read(p)?).context("--verifier-key is not PEM text")?,
            )
            .map_err(|e| anyhow::anyhow!("{}: not a P-256 public key: {e}", p.display()))?,
        ),
        None => None,
    };
    // The recorded request: `Err` (a reason) when it does not parse.
    let evidence = a
        .evidence
        .as_ref()
        .map(|dir| recorded_evidence(dir))
        .transpose()?;
    let (evidence, unparsable) = match evidence {
        Some(Ok(e)) => (Some(e), None),
        Some(Err(reason)) => (None, Some(reason)),
        None => (None, None),
    };
    let tdx = match (&a.tdx_collateral, &a.tdx_collateral_dir) {
        (Some(f), _) => Some(
            sealbuild_verifier_core::tdx::TdxCollateral::from_bundle_json(&read(f)?)
                .with_context(|| format!("--tdx-collateral {}", f.display()))?,
        ),
        (None, Some(d)) => Some(crate::cli_tdx::read_collateral_dir(d)?),
        (None, None) => None,
    };
    let collateral = sealbuild_verifier_core::platform::Collateral {
        tdx: tdx.map(Box::new),
        ..Default::default()
    };
    let at_unix_secs = verification_time(a.at.as_deref())?;
    let mut report = verify_bundle(&BundleInput {
        envelope: &envelope,
        signer_key_pem: &signer,
        artifacts: &lookup,
        ear: ear_bytes.as_deref().zip(vkey.as_ref()),
        evidence: evidence.as_ref().map(|(r, ak)| (r, ak.as_slice())),
        runtime_pcr: a.runtime_pcr,
        at_unix_secs,
        collateral: Some(&collateral),
    });
    if let Some(detail) = unparsable {
        report.checks.push(Check {
            check: MALFORMED_EVIDENCE.into(),
            ok: false,
            detail,
        });
        report.verdict = "rejected".into();
    }
    if a.json {
        // `reasons` as every `verify` command has them: the failed checks.
        let reasons: Vec<sealbuild_common::api::Reason> = report
            .checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| sealbuild_common::api::Reason::new(&c.check, None, None, c.detail.clone()))
            .collect();
        let mut out = serde_json::to_value(&report)?;
        if let Some(o) = out.as_object_mut() {
            o.insert("reasons".into(), serde_json::to_value(reasons)?);
        }
        out!("{}", serde_json::to_string_pretty(&out)?);
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

/// The verification time of a `verify` subcommand: `--at` (RFC 3339) when
/// given, else now.
pub(crate) fn verification_time(at: Option<&str>) -> Result<u64> {
    match at {
        Some(s) => crate::cli_snp::parse_rfc3339(s),
        None => Ok(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .context("system clock before 1970")?
            .as_secs()),
    }
}

/// The text of `--policy F`, when given.
pub(crate) fn read_policy_text(policy: Option<&Path>) -> Result<Option<String>> {
    policy
        .map(|p| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display())))
        .transpose()
}

/// What the reference sets of one platform in policy `p` (its `text`) say
/// of verified claims: no reasons when one of them matched (its name is
/// added to `matched`), else the problems of every set. `problems` gives a
/// set's problems, or `None` for a set of another platform; a policy with
/// no set of `platform` is an error.
pub(crate) fn reference_reasons(
    p: &Path,
    text: &str,
    platform: &str,
    problems: impl Fn(&ReferenceSet) -> Option<Vec<Reason>>,
    matched: &mut Vec<String>,
) -> Result<Vec<Reason>> {
    let policy = Policy::parse(text).with_context(|| format!("policy {}", p.display()))?;
    let mut rule_reasons = Vec::new();
    let mut any = false;
    for r in &policy.references {
        let Some(found) = problems(r) else { continue };
        any = true;
        if found.is_empty() {
            matched.push(r.name.clone());
        } else {
            rule_reasons.extend(found);
        }
    }
    if !any {
        bail!(
            "policy {} has no platform = \"{platform}\" reference set",
            p.display()
        );
    }
    Ok(if matched.is_empty() {
        rule_reasons
    } else {
        Vec::new()
    })
}

/// The fields every `verify` subcommand's JSON ends with: `verified`,
/// `verdict`, `reasons` and `verification_time`, in that order.
pub(crate) fn insert_verdict_json(
    o: &mut serde_json::Map<String, serde_json::Value>,
    verified: bool,
    verdict: &str,
    reasons: &[Reason],
    at: u64,
) -> Result<()> {
    o.insert("verified".into(), json!(verified));
    o.insert("verdict".into(), json!(verdict));
    o.insert("reasons".into(), serde_json::to_value(reasons)?);
    o.insert(
        "verification_time".into(),
        json!(sealbuild_common::intoto::format_rfc3339_utc(at)),
    );
    Ok(())
}

/// The verdict line and one line per reason, as the `verify` subcommands
/// print them.
pub(crate) fn print_verdict(verdict: &str, reasons: &[Reason]) {
    out!("verdict: {verdict}");
    for r in reasons {
        out!("  - [{}] {}", r.check, r.message);
    }
}

/// Exit 0 when accepted, 1 when rejected.
pub(crate) fn outcome(accepted: bool) -> Outcome {
    if accepted {
        Outcome::Ok
    } else {
        Outcome::Rejected
    }
}

/// Evidence whose bytes do not parse: a rejection (exit 1) with the reason
/// `malformed_evidence`, naming the file, the structure and the parser's
/// explanation (field and offset). Every `verify` subcommand answers so.
pub(crate) fn malformed(
    json: bool,
    path: &std::path::Path,
    structure: &str,
    e: &dyn std::fmt::Display,
) -> Result<Outcome> {
    let message = format!("{}: not a valid {structure}: {e}", path.display());
    if json {
        let reason = sealbuild_common::api::Reason::new(MALFORMED_EVIDENCE, None, None, message);
        out!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "verdict": "rejected",
                "verified": false,
                "reasons": [reason],
            }))?
        );
    } else {
        out!("rejected:");
        out!("  - {MALFORMED_EVIDENCE}: {message}");
    }
    Ok(Outcome::Rejected)
}

pub fn eventlog(cmd: EventlogCmd) -> Result<Outcome> {
    let EventlogCmd::Replay {
        file,
        ccel,
        ccel_table,
        json,
    } = cmd;
    if let Some(area) = ccel {
        return ccel_replay(&area, ccel_table.as_deref(), json);
    }
    let file = file.context("a TPM event log file or --ccel FILE is needed")?;
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

/// `eventlog replay --ccel FILE [--ccel-table FILE]`: exit 0 with RTMR0-3, 1
/// when the area or table does not parse (`malformed_evidence`, naming the
/// file, the record and the field), 2 when a file cannot be read.
fn ccel_replay(area_path: &Path, table_path: Option<&Path>, json: bool) -> Result<Outcome> {
    let area = read(area_path)?;
    let table = match table_path {
        Some(p) => match CcelTable::parse(&read(p)?) {
            Ok(t) => Some(t),
            Err(e) => return malformed(json, p, "ACPI CCEL table", &e),
        },
        None => None,
    };
    let parsed = match &table {
        Some(t) => CcelLog::parse_with_table(t, &area),
        None => CcelLog::parse(&area),
    };
    let log = match parsed {
        Ok(log) => log,
        Err(CcelError::Table(e)) => {
            // Only parse_with_table refuses a table (a non-TDX CC type).
            let p = table_path.unwrap_or(area_path);
            return malformed(json, p, "ACPI CCEL table for a TDX log", &e);
        }
        Err(CcelError::Log {
            event,
            offset,
            cause,
        }) => {
            let e = format!("event {event} at offset {offset}: {cause}");
            return malformed(json, area_path, "CCEL log area", &e);
        }
        Err(CcelError::Mismatch(e)) => {
            return malformed(json, area_path, "CCEL log area", &e);
        }
    };
    let replay = log.replay();
    if json {
        out!("{}", serde_json::to_string_pretty(&replay.to_json_map())?);
    } else {
        out!("{}", log.render_summary());
        if let Some(t) = &table {
            out!("{t}");
        }
        out!("{}", replay.render_text().trim_end());
    }
    Ok(Outcome::Ok)
}
