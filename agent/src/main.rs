//! `sealbuild-agent`: collects TEE evidence in the build VM and receives keys
//! the verifier releases to it.
//!
//! Exit codes: 0 = accepted / success, 1 = rejected by the verifier,
//! 2 = usage, configuration, TPM or I/O error; `build` passes on a failing
//! build command's own exit code.

/// Writes one line to standard output. A reader that went away (EPIPE, as
/// with `| head`) ends the program quietly instead of panicking; another
/// write error ends it with the I/O exit code 2.
pub(crate) fn out_line(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    let written = o
        .write_fmt(args)
        .and_then(|()| o.write_all(b"\n"))
        .and_then(|()| o.flush());
    if let Err(e) = written {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("cannot write to standard output: {e}");
        std::process::exit(2);
    }
}

/// `println!` that survives a closed standard output ([`out_line`]).
macro_rules! out {
    ($($t:tt)*) => {
        $crate::out_line(format_args!($($t)*))
    };
}

mod build_cmd;
mod cli_platform;
#[cfg(feature = "tpm")]
mod cli_quote;
#[cfg_attr(not(feature = "tpm"), path = "cli_tpm_missing.rs")]
mod cli_tpm;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use sealbuild_agent::client::{VerifierClient, VerifierTrust};
use sealbuild_agent::flow;
use sealbuild_agent::sealed_build::{BuildRequest, SealedBuild};
use sealbuild_agent::tpm::{PcrSelection, TctiConfig};
use sealbuild_common::api::Verdict;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "sealbuild-agent",
    version,
    about = "sealbuild agent: TEE evidence and key release"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct VerifierArgs {
    /// Verifier base URL, e.g. https://127.0.0.1:8443.
    #[arg(long, env = "SEALBUILD_VERIFIER")]
    verifier: String,
    /// CA certificate(s) to trust for the verifier (PEM).
    #[arg(long, env = "SEALBUILD_VERIFIER_CA", conflicts_with = "verifier_pin")]
    verifier_ca: Option<PathBuf>,
    /// Pin of the verifier's certificate: sha256:HEX of its DER.
    #[arg(long, env = "SEALBUILD_VERIFIER_PIN")]
    verifier_pin: Option<String>,
    /// How to reach the TPM: device:/dev/tpmrm0, swtpm:host=H,port=P, tabrmd.
    #[arg(long, env = "SEALBUILD_TCTI", default_value = "device:/dev/tpmrm0")]
    tcti: TctiConfig,
    /// Where the agent keeps its AK between runs.
    #[arg(
        long,
        env = "SEALBUILD_AGENT_STATE",
        default_value = "/var/lib/sealbuild-agent"
    )]
    state_dir: PathBuf,
}

impl VerifierArgs {
    pub(crate) fn client(&self) -> Result<VerifierClient> {
        let trust = match (&self.verifier_ca, &self.verifier_pin) {
            (Some(ca), None) => VerifierTrust::ca_file(ca)?,
            (None, Some(pin)) => VerifierTrust::pin(pin)?,
            _ => anyhow::bail!("give --verifier-ca FILE or --verifier-pin sha256:HEX"),
        };
        Ok(VerifierClient::new(&self.verifier, &trust)?)
    }
}

#[derive(Debug, Subcommand)]
enum Cmd {
    #[command(flatten)]
    Tpm(cli_tpm::TpmCmd),
    /// Runs a sealed build: attested environment, released signing key,
    /// DSSE-signed SLSA provenance (see `sealbuild-verifier verify bundle`).
    Build {
        #[command(flatten)]
        v: VerifierArgs,
        #[command(flatten)]
        p: cli_platform::PlatformArgs,
        /// The signing key to request from the verifier.
        #[arg(long)]
        key: String,
        /// Output directory (new or empty): envelope, public key, evidence, artefacts.
        #[arg(long)]
        out: PathBuf,
        /// Source tree the command builds (its working directory).
        #[arg(long, default_value = ".")]
        source: PathBuf,
        /// Output files, globs relative to the source tree (repeatable).
        #[arg(long = "artifacts", required = true)]
        artifacts: Vec<String>,
        /// Environment variables to record in the provenance (repeatable).
        #[arg(long = "env")]
        env: Vec<String>,
        /// PCR extended with the build's runtime log.
        #[arg(long, default_value_t = 23)]
        runtime_pcr: u32,
        /// Firmware PCRs to quote, tpm2-tools syntax (the runtime PCR is
        /// added) [default: sha256:0,1,2,3,4,5,6,7; with --platform azure
        /// sha256:all]. A VM booted by the Linux EFI stub adds 9 (command
        /// line and initrd).
        #[arg(long)]
        pcrs: Option<PcrSelection>,
        /// Firmware event log to send.
        #[arg(long, default_value = sealbuild_agent::tpm::DEFAULT_EVENT_LOG_PATH)]
        eventlog: PathBuf,
        /// Send no firmware event log.
        #[arg(long)]
        no_eventlog: bool,
        /// Name of the envelope file (`<name>.intoto.jsonl`); default: the source directory's name.
        #[arg(long)]
        name: Option<String>,
        /// The build command.
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Attests and receives the keys the policy grants.
    Attest {
        #[command(flatten)]
        v: VerifierArgs,
        #[command(flatten)]
        p: cli_platform::PlatformArgs,
        /// PCRs to quote, tpm2-tools syntax [default: sha256:0,1,2,3,4,5,6,7;
        /// with --platform azure sha256:all].
        #[arg(long)]
        pcrs: Option<PcrSelection>,
        /// Firmware event log to send.
        #[arg(long, default_value = sealbuild_agent::tpm::DEFAULT_EVENT_LOG_PATH)]
        eventlog: PathBuf,
        /// Send no event log.
        #[arg(long)]
        no_eventlog: bool,
        /// SHA-256 (hex) of a statement to bind into the evidence.
        #[arg(long)]
        statement_digest: Option<String>,
        /// Directory to write the EAR and released keys (0600) into.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

async fn run(cli: Cli) -> Result<u8> {
    match cli.cmd {
        Cmd::Build {
            v,
            p,
            key,
            out,
            source,
            artifacts,
            env,
            runtime_pcr,
            pcrs,
            eventlog,
            no_eventlog,
            name,
            command,
        } => {
            let build = SealedBuild::new(BuildRequest {
                key: key.clone(),
                out,
                source,
                artifacts,
                env,
                name,
                command,
            })?;
            let client = v.client()?;
            let mut collector = p.collector(cli_platform::TpmOptions {
                tcti: &v.tcti,
                state_dir: &v.state_dir,
                pcrs,
                eventlog: (!no_eventlog).then_some(eventlog),
                runtime_pcr,
            })?;
            let code = build_cmd::run(&build, &client, collector.as_mut(), &key).await?;
            Ok(u8::try_from(code.clamp(0, 255)).unwrap_or(1))
        }
        Cmd::Tpm(cmd) => cli_tpm::run(cmd).await,
        Cmd::Attest {
            v,
            p,
            pcrs,
            eventlog,
            no_eventlog,
            statement_digest,
            out,
            json,
        } => {
            let client = v.client()?;
            let mut collector = p.collector(cli_platform::TpmOptions {
                tcti: &v.tcti,
                state_dir: &v.state_dir,
                pcrs,
                eventlog: (!no_eventlog).then_some(eventlog),
                runtime_pcr: sealbuild_agent::tpm::pcr::DEFAULT_RUNTIME_PCR,
            })?;
            let agent_id = collector.agent_id().with_context(|| {
                format!("the {} collector names no agent id", collector.platform())
            })?;
            let statement = statement_digest
                .map(|h| {
                    hex::decode(&h)
                        .ok()
                        .and_then(|b| <[u8; 32]>::try_from(b).ok())
                        .with_context(|| format!("--statement-digest '{h}' is not 32 bytes of hex"))
                })
                .transpose()?;
            let a = flow::attest(&client, collector.as_mut(), &agent_id, statement).await?;
            if let Some(dir) = &out {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
                std::fs::write(dir.join("ear.cose"), &a.response.ear)?;
                for k in &a.keys {
                    write_private(&dir.join(format!("{}.pk8", k.key_id)), &k.pkcs8)?;
                    std::fs::write(dir.join(format!("{}.pub.pem", k.key_id)), &k.public_key_pem)?;
                }
            }
            let accepted = a.response.verdict == Verdict::Accepted;
            if json {
                let keys: Vec<_> = a
                    .keys
                    .iter()
                    .map(|k| serde_json::json!({"key_id": k.key_id, "algorithm": k.algorithm, "fingerprint": k.fingerprint}))
                    .collect();
                out!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "verdict": a.response.verdict,
                        "reasons": a.response.reasons,
                        "keys": keys,
                        "binding": hex::encode(a.binding),
                    }))?
                );
            } else if accepted {
                out!("attestation accepted");
                for k in &a.keys {
                    out!(
                        "released key {} ({}) sha256:{}",
                        k.key_id,
                        k.algorithm,
                        k.fingerprint
                    );
                }
            } else {
                out!("attestation rejected:");
                for r in &a.response.reasons {
                    out!("  - [{}] {}", r.check, r.message);
                }
            }
            Ok(if accepted { 0 } else { 1 })
        }
    }
}

fn write_private(path: &std::path::Path, data: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(data)?;
    Ok(())
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
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
