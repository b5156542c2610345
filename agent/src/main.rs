//! `sealbuild-agent`: collects TEE evidence in the build VM and receives keys
//! the verifier releases to it.
//!
//! Exit codes: 0 = accepted / success, 1 = rejected by the verifier,
//! 2 = usage, configuration, TPM or I/O error; `build` passes on a failing
//! build command's own exit code.

mod build_cmd;
mod cli_platform;
mod cli_quote;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use sealbuild_agent::client::{VerifierClient, VerifierTrust};
use sealbuild_agent::evidence::EvidenceCollector;
use sealbuild_agent::flow;
use sealbuild_agent::tpm::ak::AkState;
use sealbuild_agent::tpm::collector::TpmCollector;
use sealbuild_agent::tpm::{AkType, EkSelection, PcrSelection, TctiConfig, TpmBackend};
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
struct VerifierArgs {
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
    fn client(&self) -> Result<VerifierClient> {
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
    /// Reads PCRs and prints them as JSON: {"sha256": {"0": "hex", …}}.
    Pcrs {
        /// How to reach the TPM.
        #[arg(long, env = "SEALBUILD_TCTI")]
        tcti: TctiConfig,
        /// PCRs to read, tpm2-tools syntax.
        #[arg(long, default_value = "sha256:0,1,2,3,4,5,6,7")]
        pcrs: PcrSelection,
    },
    /// Attests and receives the keys the policy grants.
    Attest {
        #[command(flatten)]
        v: VerifierArgs,
        #[command(flatten)]
        p: cli_platform::PlatformArgs,
        /// PCRs to quote, tpm2-tools syntax.
        #[arg(long, default_value = "sha256:0,1,2,3,4,5,6,7")]
        pcrs: PcrSelection,
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

fn ek_selection(s: &str) -> Result<EkSelection> {
    Ok(match s {
        "auto" => EkSelection::Auto,
        other => EkSelection::Fixed(other.parse().map_err(|e| anyhow::anyhow!("--ek: {e}"))?),
    })
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
            eventlog,
            no_eventlog,
            name,
            command,
        } => {
            let platform = if p.is_tpm() {
                build_cmd::BuildPlatform::Tpm {
                    tcti: v.tcti.clone(),
                    state_dir: v.state_dir.clone(),
                    runtime_pcr,
                    eventlog: (!no_eventlog).then_some(eventlog),
                }
            } else {
                build_cmd::BuildPlatform::Snp {
                    collector: p.snp_collector()?,
                    agent_id: p.snp_agent_id(),
                }
            };
            let code = build_cmd::run(build_cmd::BuildOptions {
                client: v.client()?,
                platform,
                key,
                out,
                source,
                artifacts,
                env,
                name,
                command,
            })
            .await?;
            Ok(u8::try_from(code.clamp(0, 255)).unwrap_or(1))
        }
        Cmd::Quote(a) => {
            cli_quote::run_quote(a)?;
            Ok(0)
        }
        Cmd::SimulateBoot {
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
            println!("extended {n} events from {}", eventlog.display());
            Ok(0)
        }
        Cmd::Pcrs { tcti, pcrs } => {
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
            println!("{}", serde_json::to_string_pretty(&map)?);
            Ok(0)
        }
        Cmd::Register { v, ek, ak_type } => {
            let client = v.client()?;
            let mut backend = TpmBackend::open(&v.tcti)?;
            std::fs::create_dir_all(&v.state_dir)
                .with_context(|| format!("creating {}", v.state_dir.display()))?;
            let r = flow::register(
                &client,
                &mut backend,
                ek_selection(&ek)?,
                ak_type,
                &v.state_dir,
            )
            .await?;
            println!("registered agent {}", r.agent_id);
            if let Some(i) = r.ek_issuer {
                println!("EK certificate anchored at {i}");
            }
            Ok(0)
        }
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
            let (agent_id, mut collector): (String, Box<dyn EvidenceCollector>) = if p.is_tpm() {
                let ak = AkState::load(&v.state_dir)?;
                let agent_id = hex::encode(&ak.name);
                let backend = TpmBackend::open(&v.tcti)?;
                (
                    agent_id,
                    Box::new(TpmCollector::new(
                        backend,
                        ak,
                        pcrs,
                        (!no_eventlog).then_some(eventlog),
                    )),
                )
            } else {
                (p.snp_agent_id(), Box::new(p.snp_collector()?))
            };
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
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "verdict": a.response.verdict,
                        "reasons": a.response.reasons,
                        "keys": keys,
                        "binding": hex::encode(a.binding),
                    }))?
                );
            } else if accepted {
                println!("attestation accepted");
                for k in &a.keys {
                    println!(
                        "released key {} ({}) sha256:{}",
                        k.key_id, k.algorithm, k.fingerprint
                    );
                }
            } else {
                println!("attestation rejected:");
                for r in &a.response.reasons {
                    println!("  - [{}] {}", r.check, r.message);
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
