//! `sealbuild-agent quote`: a one-shot quote written as tpm2-tools files.
//!
//! Creates the EK (TCG template, first one with an NV certificate, else RSA
//! 2048) and a fresh AK under it, quotes the selected PCRs with NONCE as
//! qualifying data and writes into DIR the files listed in
//! `sealbuild_agent::tpm::files` (ak.pub, ak.name, ek.pub, quote.msg,
//! quote.sig, quote.pcrs), which
//! `tpm2_checkquote -u DIR/ak.pub -m DIR/quote.msg -s DIR/quote.sig -f DIR/quote.pcrs -g sha256 -q NONCE`
//! accepts. Nothing is stored and nothing stays loaded in the TPM.
//!
//! A module of the binary; it uses only the library's public API, so the
//! integration tests include it too (`#[path]` in tests/tpm_interop.rs).

use anyhow::Context as _;
use sealbuild_agent::tpm::files::write_quote_files;
use sealbuild_agent::tpm::quote::MAX_QUALIFYING_DATA;
use sealbuild_agent::tpm::{AkType, EkSelection, PcrSelection, TctiConfig, TpmBackend};
use std::path::PathBuf;

/// Arguments of `sealbuild-agent quote`.
#[derive(Debug, Clone, clap::Args)]
pub struct QuoteArgs {
    /// How to reach the TPM: device:/dev/tpmrm0, swtpm:host=H,port=P,
    /// mssim:host=H,port=P or tabrmd.
    #[arg(long, value_name = "TCTI")]
    pub tcti: TctiConfig,
    /// Qualifying data (e.g. the verifier's nonce), hex, 1 to 64 bytes.
    #[arg(long, value_name = "HEX")]
    pub nonce: String,
    /// PCRs to quote, tpm2-tools syntax; banks joined by '+'.
    #[arg(
        long,
        value_name = "SELECTION",
        default_value = "sha256:0,1,2,3,4,5,6,7"
    )]
    pub pcrs: PcrSelection,
    /// Directory to write the files into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// AK algorithm: ecc (P-256, ECDSA-SHA256) or rsa (2048, RSASSA-SHA256).
    #[arg(long, value_name = "TYPE", default_value = "ecc")]
    pub ak_type: AkType,
}

/// Runs the `quote` subcommand.
pub fn run_quote(args: QuoteArgs) -> anyhow::Result<()> {
    let nonce =
        hex::decode(&args.nonce).with_context(|| format!("--nonce {:?} is not hex", args.nonce))?;
    anyhow::ensure!(
        !nonce.is_empty() && nonce.len() <= MAX_QUALIFYING_DATA,
        "--nonce must be 1 to {MAX_QUALIFYING_DATA} bytes, got {}",
        nonce.len()
    );
    let mut tpm = TpmBackend::open(&args.tcti)?;
    let registration = tpm
        .register(EkSelection::Auto, args.ak_type)
        .context("creating the EK and the AK")?;
    let quote = tpm
        .quote(&registration.ak, &nonce, &args.pcrs)
        .context("quoting")?;
    let written = write_quote_files(&args.out, &registration.ek.public, &registration.ak, &quote)?;
    for path in written {
        out!("{}", path.display());
    }
    Ok(())
}
