//! `sealbuild-loadgen`: load a verifier on loopback with simulated SEV-SNP
//! agents and hostile clients (`run`), print the policy those agents need
//! (`policy`), and check a crash test's record against the audit log
//! (`check`).
//!
//! Exit codes: 0 success; 1 a strict run saw an error, a hostile request
//! got a 5xx, an accepted verdict or a key, or the check found a problem;
//! 2 usage or I/O error.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use sealbuild_loadgen::check::{check, integrity_check, read_audit, read_audit_postgres};
use sealbuild_loadgen::record::read_records;
use sealbuild_loadgen::run::{run, RunOptions};
use sealbuild_loadgen::{procfs, sim, target};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Longest run accepted (seconds): every run ends by itself.
const MAX_DURATION_SECS: f64 = 3600.0;

#[derive(Debug, Parser)]
#[command(
    name = "sealbuild-loadgen",
    version,
    about = "Bounded load on a sealbuild verifier on loopback (INSECURE simulated SEV-SNP agents)"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Runs the load and prints its figures.
    Run(RunArgs),
    /// Prints a policy (TOML) granting KEY to the simulated agents.
    Policy {
        /// The key id the policy grants.
        #[arg(long, default_value = "loadgen")]
        key: String,
    },
    /// Checks a `--record` file against the audit log (`sealbuild-verifier
    /// audit list` output) and the database's integrity.
    Check(CheckArgs),
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The verifier, https://HOST:PORT on loopback. Repeat it for several
    /// replicas: agent i attests to the (i mod N)-th URL; the result-key
    /// probe, the hostile clients and /proc figures use the first.
    #[arg(long, required = true)]
    url: Vec<String>,
    /// The number of replicas (of `--url`s) the agents are spread over;
    /// when given, it must equal the number of `--url`s.
    #[arg(long)]
    replicas: Option<usize>,
    /// The verifier's CA certificate (its state_dir/tls/ca.pem).
    #[arg(long)]
    ca: PathBuf,
    /// Concurrent simulated SEV-SNP agents.
    #[arg(long, default_value_t = 100)]
    agents: usize,
    /// Concurrent hostile clients.
    #[arg(long, default_value_t = 0)]
    hostile: usize,
    /// Requests per second of each hostile client at most.
    #[arg(long, default_value_t = 5.0)]
    hostile_rps: f64,
    /// Seconds during which agents start new cycles (at most 3600).
    #[arg(long, default_value_t = 30.0)]
    duration: f64,
    /// Stop after this many attestation cycles were started.
    #[arg(long)]
    attestations: Option<u64>,
    /// The key the agents ask for (the policy must grant it).
    #[arg(long, default_value = "loadgen")]
    key: String,
    /// The verifier's pid: RSS, threads and CPU from /proc.
    #[arg(long)]
    verifier_pid: Option<u32>,
    /// `GET /v1/result-key` requests per second during the load (0: none).
    #[arg(long, default_value_t = 5.0)]
    probe_hz: f64,
    /// Seconds of the in-process single-core appraisal measurement (0: skip).
    #[arg(long, default_value_t = 2.0)]
    appraisal_secs: f64,
    /// Seconds to wait after the run before the last /proc sample (the
    /// verifier's idle blocking threads end after 10 s, and it returns free
    /// memory once more 14 s after the connections closed).
    #[arg(long, default_value_t = 20.0)]
    settle_secs: f64,
    /// Seconds that cycles in flight at the deadline may take to finish.
    #[arg(long, default_value_t = 60.0)]
    drain_secs: f64,
    /// Tolerate the verifier going away (crash test): wait, retry, and send
    /// an attestation made before it went away again.
    #[arg(long)]
    retry_when_down: bool,
    /// Append one JSON line per key received to this file.
    #[arg(long)]
    record: Option<PathBuf>,
    /// Exit 1 when any legitimate cycle or probe failed (a hostile 5xx or
    /// key always does).
    #[arg(long)]
    strict: bool,
    /// Print the figures as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct CheckArgs {
    /// The `--record` file of the run.
    #[arg(long)]
    record: PathBuf,
    /// `sealbuild-verifier audit list` output (JSON lines) after the run.
    #[arg(
        long,
        required_unless_present = "database_url",
        conflicts_with = "database_url"
    )]
    audit: Option<PathBuf>,
    /// Read the audit log from this PostgreSQL database (the replicas'
    /// shared store, postgres://USER:PASSWORD@HOST:PORT/DB) instead of
    /// `--audit`.
    #[arg(long)]
    database_url: Option<String>,
    /// The CA of the PostgreSQL server's certificate (the verifier's
    /// database_ca_file), for TLS to the database.
    #[arg(long, requires = "database_url")]
    database_ca_file: Option<PathBuf>,
    /// The verifier's database: `PRAGMA integrity_check` must answer ok.
    #[arg(long)]
    db: Option<PathBuf>,
    /// Require a record newer than this Unix time (progress after a restart).
    #[arg(long)]
    expect_after: Option<f64>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

fn secs(s: f64, what: &str) -> Result<Duration> {
    if !(0.0..=MAX_DURATION_SECS).contains(&s) {
        bail!("--{what} must be 0..={MAX_DURATION_SECS} seconds, got {s}");
    }
    Ok(Duration::from_secs_f64(s))
}

async fn cmd_run(a: RunArgs) -> Result<bool> {
    let bases = a
        .url
        .iter()
        .map(|u| target::loopback_base(u))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(n) = a.replicas.filter(|n| *n != bases.len()) {
        bail!("--replicas {n} needs {n} --url, got {}", bases.len());
    }
    let Some(base) = bases.first().cloned() else {
        bail!("--url is required");
    };
    let duration = secs(a.duration, "duration")?;
    if a.agents == 0 {
        bail!("--agents must be at least 1");
    }
    let ca_pem = std::fs::read(&a.ca).with_context(|| format!("reading {}", a.ca.display()))?;
    let needed = (a.agents + a.hostile + 64) as u64;
    if let Some(limit) = procfs::open_files_limit().filter(|l| *l < needed) {
        eprintln!("warning: the open-files limit is {limit}, {needed} may be needed (raise it with ulimit -n)");
    }
    let report = run(RunOptions {
        base,
        replica_bases: bases,
        ca_pem,
        agents: a.agents,
        hostile: a.hostile,
        hostile_rps: a.hostile_rps,
        duration,
        attestations: a.attestations,
        key_id: a.key,
        verifier_pid: a.verifier_pid,
        probe_hz: a.probe_hz,
        appraisal_secs: a.appraisal_secs,
        settle: secs(a.settle_secs, "settle-secs")?,
        retry_when_down: a.retry_when_down,
        record: a.record,
        drain: secs(a.drain_secs, "drain-secs")?,
    })
    .await?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.human());
    }
    Ok(report.hostile.violations == 0 && (!a.strict || report.clean()))
}

fn cmd_check(a: CheckArgs) -> Result<bool> {
    let records = read_records(&a.record)?;
    let audit = match (&a.audit, &a.database_url) {
        (Some(path), None) => read_audit(path)?,
        (None, Some(url)) => read_audit_postgres(url, a.database_ca_file.as_deref())?,
        _ => bail!("give one of --audit and --database-url"),
    };
    let mut report = check(&records, &audit);
    if let Some(db) = &a.db {
        report.integrity = Some(integrity_check(db)?);
    }
    let mut passed = report.passed();
    let mut progress = None;
    if let Some(t) = a.expect_after {
        let ok = report.latest_record_time.is_some_and(|l| l > t);
        progress = Some(ok);
        passed &= ok;
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "record: {} keys received ({} after a resend); audit: {} entries, {} accepted appraisals, {} releases; {} keys matched to their release, {} released but not received",
            report.records, report.records_resent, report.audit_entries, report.accepted_appraisals,
            report.releases, report.records_matched, report.released_not_received
        );
        if let Some(i) = &report.integrity {
            println!("database integrity_check: {i}");
        }
        if progress == Some(false) {
            println!("PROBLEM: no key was received after {:?}", a.expect_after);
        }
        for p in &report.problems {
            println!("PROBLEM: {p}");
        }
        if report.problem_count > report.problems.len() {
            println!("… {} problems in all", report.problem_count);
        }
        println!(
            "{}",
            if passed {
                "check passed"
            } else {
                "check FAILED"
            }
        );
    }
    Ok(passed)
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
    let _ = rustls::crypto::ring::default_provider().install_default();
    let outcome = match cli.cmd {
        Cmd::Run(a) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")
            .and_then(|rt| rt.block_on(cmd_run(a))),
        Cmd::Policy { key } => {
            print!("{}", sim::policy_toml(&key, &sim::measurement()));
            Ok(true)
        }
        Cmd::Check(a) => cmd_check(a),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
