//! `sealbuild-azure-sim`: the INSECURE simulated Azure paravisor's command
//! line (see the library documentation). Its HCL reports are signed with a
//! published test key: they prove nothing about any machine.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sealbuild_common::HashAlg;
use sealbuild_insecure_azure_sim::{
    build_hcl_report, HclOptions, RsaKey, VmConfiguration, AK_KID, DEFAULT_HEADER_VERSION,
    DEFAULT_VM_UNIQUE_ID, HCL_NV_INDEX, SWTPM_NV_INDEX_MAX, VAR_DATA_OFFSET,
};

const INSECURE: &str = "INSECURE simulated Azure SEV-SNP confidential VM, for CI and tests only: \
the SEV-SNP report inside is signed by a test VCEK whose private key is published \
(insecure/snp-sim/test-chain). Such evidence proves nothing; only a verifier built with the \
insecure feature and configured to trust that test chain accepts it.";

#[derive(Parser)]
#[command(
    name = "sealbuild-azure-sim",
    version,
    about = "INSECURE: simulates an Azure SEV-SNP paravisor's HCL report (test-signed, proves nothing)",
    long_about = INSECURE
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// INSECURE: writes an HCL report (as stored in vTPM NV index 0x01400001)
    /// naming the given AK as HCLAkPub, its SEV-SNP report signed by the
    /// published test VCEK.
    #[command(long_about = INSECURE)]
    HclReport {
        /// The AK's TPM2B_PUBLIC (tpm2_readpublic -o / tpm2_createak -u), RSA.
        #[arg(long, value_name = "FILE")]
        ak_public: PathBuf,
        /// The launch MEASUREMENT, 48 bytes as 96 hex digits.
        #[arg(long, value_name = "HEX")]
        measurement: String,
        /// Guest attestation input reported as user-data, hex, at most 64
        /// bytes (zero-padded to 64; all zero when absent).
        #[arg(long, value_name = "HEX")]
        user_data: Option<String>,
        /// vm-configuration vmUniqueId.
        #[arg(long, default_value = DEFAULT_VM_UNIQUE_ID)]
        vm_unique_id: String,
        /// HCL header version (1 or 2).
        #[arg(long, default_value_t = DEFAULT_HEADER_VERSION)]
        header_version: u32,
        /// Largest report accepted, bytes (swtpm's TPM2_PT_NV_INDEX_MAX).
        #[arg(long, default_value_t = SWTPM_NV_INDEX_MAX)]
        max_len: usize,
        /// Where to write the report.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

fn hex_arg(what: &str, s: &str) -> Result<Vec<u8>, String> {
    hex::decode(s.trim()).map_err(|e| format!("--{what}: not hex: {e}"))
}

fn run(cli: Cli) -> Result<(), String> {
    let Command::HclReport {
        ak_public,
        measurement,
        user_data,
        vm_unique_id,
        header_version,
        max_len,
        out,
    } = cli.command;
    let public = std::fs::read(&ak_public)
        .map_err(|e| format!("--ak-public {}: {e}", ak_public.display()))?;
    let ak = RsaKey::from_tpm2b_public(AK_KID, &public)
        .map_err(|e| format!("--ak-public {}: {e}", ak_public.display()))?;
    let m = hex_arg("measurement", &measurement)?;
    let measurement: [u8; 48] = m.as_slice().try_into().map_err(|_| {
        format!(
            "--measurement: expected 48 bytes (96 hex digits), got {}",
            m.len()
        )
    })?;
    let user_data = user_data
        .as_deref()
        .map(|u| hex_arg("user-data", u))
        .transpose()?;
    let options = HclOptions {
        header_version,
        vm_configuration: VmConfiguration {
            vm_unique_id,
            ..VmConfiguration::default()
        },
        max_len,
        ..HclOptions::default()
    };
    let report = build_hcl_report(ak.n(), ak.e(), measurement, user_data.as_deref(), &options)
        .map_err(|e| e.to_string())?;
    std::fs::write(&out, &report).map_err(|e| format!("--out {}: {e}", out.display()))?;
    let var_len = report.len().saturating_sub(VAR_DATA_OFFSET);
    println!("INSECURE test-signed HCL report: {}", out.display());
    println!(
        "  size {} bytes = {VAR_DATA_OFFSET} (header, SNP report, request data) + {var_len} (runtime claims)",
        report.len()
    );
    println!(
        "  for NV index {HCL_NV_INDEX:#010x}; HCLAkPub RSA-{} modulus SHA-256 {}",
        ak.n().len().saturating_mul(8),
        hex::encode(HashAlg::Sha256.digest(ak.n()))
    );
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sealbuild-azure-sim: {e}");
            ExitCode::FAILURE
        }
    }
}
