//! `verify tpm` and `eventlog replay`: offline checks of files written by
//! tpm2-tools or `sealbuild-agent quote`.

use crate::Outcome;
use anyhow::{Context, Result};
use clap::Subcommand;
use sealbuild_common::eventlog::EventLog;
use sealbuild_common::tpm::{parse_tools_pcrs, Attest, PcrValues, Public, Signature};
use sealbuild_verifier_core::quote::{verify_quote, verify_quote_signature, QuoteOptions};
use serde_json::json;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum VerifyCmd {
    /// Verifies a TPM quote made by tpm2_quote or `sealbuild-agent quote`.
    Tpm(TpmArgs),
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
    let VerifyCmd::Tpm(a) = cmd;
    let ak_bytes = read(&a.ak_public)?;
    let msg = read(&a.message)?;
    let sig_bytes = read(&a.signature)?;
    let nonce = hex::decode(a.nonce.trim_start_matches("0x"))
        .with_context(|| format!("--nonce '{}' is not hex", a.nonce))?;
    let ak = Public::parse_tpm2b(&ak_bytes)
        .with_context(|| format!("{}: not a TPM2B_PUBLIC", a.ak_public.display()))?;
    let sig = Signature::parse(&sig_bytes)
        .with_context(|| format!("{}: not a TPMT_SIGNATURE", a.signature.display()))?;
    let opts = QuoteOptions {
        allow_sha1: a.allow_sha1,
    };
    let mut reasons: Vec<String> = Vec::new();
    let mut pcr_json = serde_json::Map::new();
    let mut quoted = PcrValues::new();

    let result = match &a.pcrs {
        Some(p) => {
            let attest = Attest::parse(&msg)
                .with_context(|| format!("{}: not a TPMS_ATTEST", a.message.display()))?;
            let selection = attest
                .quote()
                .map(|q| q.pcr_select().clone())
                .with_context(|| format!("{}: not a quote", a.message.display()))?;
            let values = parse_tools_pcrs(&read(p)?, &selection)
                .with_context(|| format!("{}: PCR file", p.display()))?;
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
        let log = EventLog::parse(&read(log_path)?)
            .with_context(|| format!("{}: event log", log_path.display()))?;
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
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "verdict": if accepted { "accepted" } else { "rejected" },
                "reasons": reasons,
                "ak_name": hex::encode(ak.name()),
                "pcrs": pcr_json,
            }))?
        );
    } else if accepted {
        println!(
            "accepted: quote signed by AK {} with qualifying data {}",
            hex::encode(ak.name()),
            hex::encode(&nonce)
        );
    } else {
        println!("rejected:");
        for r in &reasons {
            println!("  - {r}");
        }
    }
    Ok(if accepted {
        Outcome::Ok
    } else {
        Outcome::Rejected
    })
}

pub fn eventlog(cmd: EventlogCmd) -> Result<Outcome> {
    let EventlogCmd::Replay { file, json } = cmd;
    let log =
        EventLog::parse(&read(&file)?).with_context(|| format!("{}: event log", file.display()))?;
    let replay = log.replay();
    if json {
        println!("{}", serde_json::to_string_pretty(&replay.to_json_map())?);
    } else {
        print!("{}", replay.render_text());
    }
    Ok(Outcome::Ok)
}
