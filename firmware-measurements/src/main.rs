//! `sealbuild-measure`: reference values from artefacts.
//! Exit codes: 0 = success, 2 = usage or I/O error.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use sealbuild_common::HashAlg;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "sealbuild-measure",
    version,
    about = "Reference values for sealbuild policies"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Prints a policy (format v1) whose reference set holds TPM PCR values
    /// from a known-good event log or PCR read.
    TpmReference {
        /// A known-good firmware event log (binary_bios_measurements).
        #[arg(long, conflicts_with = "pcrs_json")]
        eventlog: Option<PathBuf>,
        /// PCR values as JSON ({"sha256": {"0": "hex", …}}), e.g. from `sealbuild-agent pcrs`.
        #[arg(long)]
        pcrs_json: Option<PathBuf>,
        /// Bank.
        #[arg(long, default_value = "sha256")]
        bank: String,
        /// PCRs to pin, comma-separated.
        #[arg(long, default_value = "0,1,2,3,4,5,6,7", value_delimiter = ',')]
        pcrs: Vec<u32>,
        /// Name of the reference set.
        #[arg(long, default_value = "build-vm")]
        name: String,
        /// Key the reference set unlocks.
        #[arg(long)]
        key: String,
        /// Require a verified event log.
        #[arg(long)]
        require_event_log: bool,
    },
}

fn run(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::TpmReference {
            eventlog,
            pcrs_json,
            bank,
            pcrs,
            name,
            key,
            require_event_log,
        } => {
            let values = match (eventlog, pcrs_json) {
                (Some(p), None) => sealbuild_measure::pcrs_from_eventlog(
                    &std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?,
                )?,
                (None, Some(p)) => sealbuild_measure::pcrs_from_json(
                    &std::fs::read_to_string(&p)
                        .with_context(|| format!("reading {}", p.display()))?,
                )?,
                _ => anyhow::bail!("give --eventlog FILE or --pcrs-json FILE"),
            };
            let bank =
                HashAlg::from_name(&bank).with_context(|| format!("unknown bank '{bank}'"))?;
            print!(
                "{}",
                sealbuild_measure::policy_toml(
                    &values,
                    bank,
                    &pcrs,
                    &name,
                    &key,
                    require_event_log
                )?
            );
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
