//! `sealbuild-verifier`: the verifier service and its operator commands.
//!
//! Exit codes, everywhere: 0 = accepted / success, 1 = rejected,
//! 2 = usage, configuration or I/O error. Evidence that does not parse is a
//! rejection (1) with the reason `malformed_evidence`, in every `verify`
//! subcommand.

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

mod cli_admin;
mod cli_azure;
mod cli_azure_tdx;
mod cli_collateral;
mod cli_snp;
mod cli_tdx;
mod cli_verify;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use sealbuild_verifier::config::Config;
use std::path::PathBuf;
use std::process::ExitCode;

/// Options shared by commands that use the verifier's state.
#[derive(Debug, Clone, clap::Args)]
pub struct StateArgs {
    /// Configuration file (TOML).
    #[arg(long, env = "SEALBUILD_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// State directory (overrides the configuration).
    #[arg(long, env = "SEALBUILD_STATE_DIR", global = true)]
    pub state_dir: Option<PathBuf>,
    /// Database file (overrides the configuration).
    #[arg(long, env = "SEALBUILD_DB", global = true)]
    pub db: Option<PathBuf>,
    /// PostgreSQL URL, postgres://USER:PASSWORD@HOST:PORT/DB (overrides the
    /// configuration; selects the shared store of replicas).
    #[arg(
        long,
        env = "SEALBUILD_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub database_url: Option<String>,
}

impl StateArgs {
    /// The configuration in effect: file, then environment/flags.
    pub fn load(&self) -> Result<Config> {
        let mut cfg = match &self.config {
            Some(p) => Config::from_file(p)?,
            None => Config::default(),
        };
        if let Some(d) = &self.state_dir {
            cfg.state_dir = d.clone();
        }
        if let Some(d) = &self.db {
            cfg.database = Some(d.clone());
        }
        if let Some(u) = &self.database_url {
            cfg.database_url = Some(sealbuild_verifier::config::DatabaseUrl::new(u.clone()));
        }
        cfg.validate()?;
        Ok(cfg)
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "sealbuild-verifier",
    version,
    about = "sealbuild's remote attestation verifier and key server"
)]
struct Cli {
    #[command(flatten)]
    state: StateArgs,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Runs the HTTPS service.
    Serve(cli_admin::ServeArgs),
    /// Manages release keys.
    #[command(subcommand)]
    Keys(cli_admin::KeysCmd),
    /// Manages the appraisal policy.
    #[command(subcommand)]
    Policy(cli_admin::PolicyCmd),
    /// Reads and checks the audit log.
    #[command(subcommand)]
    Audit(cli_admin::AuditCmd),
    /// Moves the verifier's database between stores.
    #[command(subcommand)]
    Db(cli_admin::DbCmd),
    /// Prints the public key that signs attestation results (PEM).
    ResultKey,
    /// Verifies evidence offline.
    #[command(subcommand)]
    Verify(cli_verify::VerifyCmd),
    /// Works with TCG firmware event logs (TPM) and TDX CC event logs (CCEL).
    #[command(subcommand)]
    Eventlog(cli_verify::EventlogCmd),
    /// Manages SEV-SNP collateral (AMD certificates and CRLs).
    #[command(subcommand)]
    Collateral(cli_collateral::CollateralCmd),
    /// Prints the OpenAPI 3.1 document of the HTTP API (JSON; docs/openapi.json).
    Openapi,
}

/// What a command concluded.
pub enum Outcome {
    /// Success / accepted: exit 0.
    Ok,
    /// Rejected: exit 1.
    Rejected,
}

fn run(cli: Cli) -> Result<Outcome> {
    match cli.cmd {
        Cmd::Serve(a) => cli_admin::serve(&cli.state, a),
        Cmd::Keys(c) => cli_admin::keys(&cli.state, c),
        Cmd::Policy(c) => cli_admin::policy(&cli.state, c),
        Cmd::Audit(c) => cli_admin::audit(&cli.state, c),
        Cmd::Db(c) => cli_admin::db(&cli.state, c),
        Cmd::ResultKey => {
            let cfg = cli.state.load()?;
            let key = sealbuild_verifier::resultkey::ResultKey::load_or_create(&cfg.state_dir)
                .context("loading the result key")?;
            print!("{}", key.public_pem()?);
            Ok(Outcome::Ok)
        }
        Cmd::Verify(c) => cli_verify::verify(c),
        Cmd::Eventlog(c) => cli_verify::eventlog(c),
        Cmd::Collateral(c) => cli_collateral::run(&cli.state, c),
        Cmd::Openapi => {
            out!(
                "{}",
                sealbuild_verifier::openapi::document_text().trim_end()
            );
            Ok(Outcome::Ok)
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
    // SEALBUILD_LOG sets the level filter; SEALBUILD_LOG_FORMAT=json writes
    // one JSON object per line (fields escaped by the JSON encoder).
    let filter = tracing_subscriber::EnvFilter::try_from_env("SEALBUILD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("SEALBUILD_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().init();
    } else {
        builder.init();
    }
    match run(cli) {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Rejected) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
