//! The TPM-only subcommands in an agent built without the `tpm` feature:
//! they are still known, so that asking for one says why it cannot run
//! (`cli_tpm.rs` is the real thing).

use anyhow::{bail, Result};

/// Arguments are taken as they come; none is interpreted.
#[derive(Debug, clap::Args)]
pub struct Ignored {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    args: Vec<String>,
}

#[derive(Debug, clap::Subcommand)]
pub enum TpmCmd {
    /// Quotes and writes tpm2-tools files (needs the tpm feature).
    Quote(Ignored),
    /// Registers this TPM with the verifier (needs the tpm feature).
    Register(Ignored),
    /// Replays a firmware event log into a software TPM (needs the tpm feature).
    SimulateBoot(Ignored),
    /// Reads PCRs (needs the tpm feature).
    Pcrs(Ignored),
}

/// Refuses, naming the missing feature.
pub async fn run(cmd: TpmCmd) -> Result<u8> {
    let name = match cmd {
        TpmCmd::Quote(_) => "quote",
        TpmCmd::Register(_) => "register",
        TpmCmd::SimulateBoot(_) => "simulate-boot",
        TpmCmd::Pcrs(_) => "pcrs",
    };
    bail!("sealbuild-agent {name}: this sealbuild-agent was built without the tpm feature")
}
