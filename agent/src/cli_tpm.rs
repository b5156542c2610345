//! The TPM-only subcommands: `quote`, `register`, `simulate-boot`, `pcrs`
//! (feature `tpm`; without it `cli_tpm_missing.rs` stands in).

use crate::{cli_quote, VerifierArgs};
use anyhow::{Context, Result};
use sealbuild_agent::flow;
use sealbuild_agent::tpm::collector::TpmEnrolment;
use sealbuild_agent::tpm::{
    AkType, EkSelection, PcrSelection, TctiConfig, TpmBackend, TpmCollector,
};
use std::path::PathBuf;

#[derive(Debug, clap::Subcommand)]
pub enum TpmCmd {
    /// Quotes and writes tpm2-tools compatible files (ak.pub, quote.msg, quote.sig, quote.pcrs).
    Quote(cli_quote::QuoteArgs),
    /// Registers this TPM with the verifier (EK certificate, AK, ActivateCredential).
    Register {
        #[command(flatten)]
        v: VerifierArgs,
        /// EK to use: rsa, ecc (P-256), ecc384, or auto (first with a certificate).
        #[arg(long, default_value = "auto")]
        ek: String,
        /// AK algorithm: ecc (P-256) or rsa (2048).
        #[arg(long, default_value = "ecc")]
        ak_type: AkType,
    },
    /// Extends a (software) TPM's PCRs with a firmware event log's events, as
    /// the firmware did: a simulated measured boot for swtpm demos and tests.
    SimulateBoot {
        /// How to reach the TPM.
        #[arg(long, env = "SEALBUILD_TCTI")]
        tcti: TctiConfig,
        /// The firmware event log to replay.
        #[arg(long)]
        eventlog: PathBuf,
        /// Banks to extend (those the TPM has allocated), comma-separated.
        #[arg(long, default_value = "sha256")]
        banks: String,
    },
    /// Reads PCRs and prints them as JSON: {"sha256": {"0": "hex", …}}.
    Pcrs {
        /// How to reach the TPM.
        #[arg(long, env = "SEALBUILD_TCTI")]
        tcti: TctiConfig,
        /// PCRs to read, tpm2-tools syntax.
        #[arg(long, default_value = "sha256:0,1,2,3,4,5,6,7")]
        pcrs: PcrSelection,
    },
}

fn ek_selection(s: &str) -> Result<EkSelection> {
    Ok(match s {
        "auto" => EkSelection::Auto,
        other => EkSelection::Fixed(other.parse().map_err(|e| anyhow::anyhow!("--ek: {e}"))?),
    })
}

/// Runs a TPM subcommand; returns the exit code.
pub async fn run(cmd: TpmCmd) -> Result<u8> {
    match cmd {
        TpmCmd::Quote(a) => {
            cli_quote::run_quote(a)?;
            Ok(0)
        }
        TpmCmd::Register { v, ek, ak_type } => {
            let client = v.client()?;
            let backend = TpmBackend::open(&v.tcti)?;
            std::fs::create_dir_all(&v.state_dir)
                .with_context(|| format!("creating {}", v.state_dir.display()))?;
            let mut collector = TpmCollector::for_registration(
                backend,
                TpmEnrolment {
                    ek: ek_selection(&ek)?,
                    ak_type,
                    state_dir: v.state_dir.clone(),
                },
            );
            let r = flow::enrol(&client, &mut collector).await?;
            out!("registered agent {}", r.agent_id);
            if let Some(i) = r.ek_issuer {
                out!("EK certificate anchored at {i}");
            }
            Ok(0)
        }
        TpmCmd::SimulateBoot {
            tcti,
            eventlog,
            banks,
        } => {
            let bytes = std::fs::read(&eventlog)
                .with_context(|| format!("reading {}", eventlog.display()))?;
            let log = sealbuild_common::eventlog::EventLog::parse(&bytes)
                .with_context(|| format!("{}: event log", eventlog.display()))?;
            let banks = banks
                .split(',')
                .map(|b| {
                    sealbuild_common::HashAlg::from_name(b.trim())
                        .with_context(|| format!("--banks: unknown bank '{b}'"))
                })
                .collect::<Result<Vec<_>>>()?;
            let mut backend = TpmBackend::open(&tcti)?;
            let n = sealbuild_agent::simboot::replay_into_tpm(&mut backend, &log, &banks)?;
            out!("extended {n} events from {}", eventlog.display());
            Ok(0)
        }
        TpmCmd::Pcrs { tcti, pcrs } => {
            let mut backend = TpmBackend::open(&tcti)?;
            let values = backend.read_pcrs(&pcrs)?;
            let map: std::collections::BTreeMap<
                String,
                std::collections::BTreeMap<String, String>,
            > = values
                .to_api_map()
                .into_iter()
                .map(|(bank, m)| {
                    (
                        bank,
                        m.into_iter().map(|(i, v)| (i.to_string(), v)).collect(),
                    )
                })
                .collect();
            out!("{}", serde_json::to_string_pretty(&map)?);
            Ok(0)
        }
    }
}
