//! One load run: the appraisal rate first, the idle baseline, then the
//! agents, hostile clients, probe and resource sampler together until the
//! deadline (or the attestation budget), then the drain and the settle time.

use crate::control::Stop;
use crate::hostile::{maximal_request, Hostile, HostileStats, ReplaySlot};
use crate::net::NetError;
use crate::probe::Probe;
use crate::procfs::{self, ProcSample};
use crate::rate::{single_core_rate, RateError};
use crate::record::{RecordError, Recorder};
use crate::report::{
    AppraisalFigures, AttestationFigures, HostileFigures, ProbeFigures, Report, VerifierFigures,
    TARGET_RATIO,
};
use crate::sim::{self, AgentSetup, AgentStats};
use sealbuild_agent::client::{ClientError, VerifierClient, VerifierTrust};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use thiserror::Error;

/// Requests of the idle result-key baseline.
const IDLE_PROBES: usize = 20;
/// How often the verifier's /proc is sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(250);

/// What a run needs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// `https://host:port` (loopback, checked by the caller).
    pub base: String,
    /// Every replica's base (the first is `base`); agent i attests to the
    /// (i mod N)-th. Empty: `base` alone.
    pub replica_bases: Vec<String>,
    /// The verifier's CA (PEM).
    pub ca_pem: Vec<u8>,
    /// Concurrent simulated agents.
    pub agents: usize,
    /// Concurrent hostile clients.
    pub hostile: usize,
    /// Requests per second of each hostile client at most.
    pub hostile_rps: f64,
    /// How long agents start new cycles.
    pub duration: Duration,
    /// Stop after this many cycles were started.
    pub attestations: Option<u64>,
    /// The key the agents ask for.
    pub key_id: String,
    /// The verifier's pid, for /proc figures.
    pub verifier_pid: Option<u32>,
    /// Result-key requests per second during the load (0: no probe).
    pub probe_hz: f64,
    /// Seconds of the single-core appraisal measurement (0: skip).
    pub appraisal_secs: f64,
    /// Wait this long after the run before the last /proc sample.
    pub settle: Duration,
    /// Tolerate the verifier going away (crash test).
    pub retry_when_down: bool,
    /// `--record`.
    pub record: Option<PathBuf>,
    /// How long cycles in flight at the deadline may take to finish.
    pub drain: Duration,
}

/// Why a run could not be made.
#[derive(Debug, Error)]
pub enum RunError {
    /// An HTTPS client could not be built.
    #[error(transparent)]
    Net(#[from] NetError),
    /// The agents' client could not be built.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The record file.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The appraisal rate.
    #[error(transparent)]
    Rate(#[from] RateError),
    /// A measuring task failed.
    #[error("task: {0}")]
    Task(String),
}

async fn appraisal_rate(o: &RunOptions) -> Result<Option<AppraisalFigures>, RunError> {
    if o.appraisal_secs <= 0.0 {
        return Ok(None);
    }
    let (policy, m, secs) = (
        sim::policy_toml(&o.key_id, &sim::measurement()),
        sim::measurement(),
        o.appraisal_secs,
    );
    let rate = tokio::task::spawn_blocking(move || single_core_rate(&policy, m, secs))
        .await
        .map_err(|e| RunError::Task(e.to_string()))??;
    Ok(Some(AppraisalFigures {
        single_core_per_sec: rate.per_sec,
        // The verifier's cores when it is known (it may be pinned), else
        // this machine's.
        cores: o
            .verifier_pid
            .and_then(procfs::allowed_cpus)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        ratio: 0.0,
        target_ratio: TARGET_RATIO,
        appraisal_share_of_verifier_cpu: None,
    }))
}

/// Samples the verifier's /proc until the run stops: the largest values.
async fn sample_peak(pid: u32, stop: Arc<Stop>) -> Option<ProcSample> {
    let mut peak: Option<ProcSample> = None;
    while !stop.stopped() {
        if let Ok(s) = procfs::sample(pid) {
            peak = Some(peak.map_or(s, |p| p.max(s)));
        }
        tokio::time::sleep(SAMPLE_EVERY).await;
    }
    peak
}

/// Joins every agent, aborting those still running `drain` after the deadline.
async fn join_agents(
    mut set: tokio::task::JoinSet<AgentStats>,
    stop: &Stop,
    drain: Duration,
) -> (Vec<AgentStats>, u64) {
    let until = tokio::time::Instant::from_std(stop.deadline() + drain);
    let mut out = Vec::new();
    loop {
        match tokio::time::timeout_at(until, set.join_next()).await {
            Ok(Some(Ok(s))) => out.push(s),
            Ok(Some(Err(_))) => {}
            Ok(None) => return (out, 0),
            Err(_) => {
                stop.raise();
                let left = set.len() as u64;
                set.abort_all();
                while set.join_next().await.is_some() {}
                return (out, left);
            }
        }
    }
}

fn attestation_figures(all: Vec<AgentStats>, unfinished: u64, elapsed: f64) -> AttestationFigures {
    let mut f = AttestationFigures {
        unfinished_agents: unfinished,
        ..AttestationFigures::default()
    };
    let mut lat = crate::stats::Latencies::default();
    for s in all {
        f.ok += s.ok;
        lat.merge(s.latencies);
        f.errors.merge(&s.errors);
        f.down_retries += s.down_retries;
        f.resent.merge(&s.resent);
    }
    f.latency = lat.summary();
    f.error_total = f.errors.total();
    f.per_sec = if elapsed > 0.0 {
        f.ok as f64 / elapsed
    } else {
        0.0
    };
    f
}

/// Runs the load and returns its figures.
pub async fn run(o: RunOptions) -> Result<Report, RunError> {
    let load_average_before = procfs::load_average();
    let appraisal = appraisal_rate(&o).await?;
    let request_timeout = Duration::from_secs(60);
    let hostile_client = crate::net::client(&o.ca_pem, request_timeout)?;
    let (probe, idle) = {
        let (ca, base, hz) = (o.ca_pem.clone(), o.base.clone(), o.probe_hz);
        tokio::task::spawn_blocking(move || Probe::start(&ca, &base, IDLE_PROBES, hz))
            .await
            .map_err(|e| RunError::Task(e.to_string()))??
    };
    let idle_sample = o.verifier_pid.and_then(|p| procfs::sample(p).ok());
    let cpu0 = (
        procfs::cpu_seconds(std::process::id()).ok(),
        o.verifier_pid.and_then(|p| procfs::cpu_seconds(p).ok()),
    );
    let recorder = o
        .record
        .as_deref()
        .map(Recorder::create)
        .transpose()?
        .map(Arc::new);
    let replay = (o.hostile > 0).then(|| Arc::new(ReplaySlot::default()));
    let bases = if o.replica_bases.is_empty() {
        vec![o.base.clone()]
    } else {
        o.replica_bases.clone()
    };
    let mut setups = Vec::with_capacity(bases.len());
    for (n, base) in bases.iter().enumerate() {
        setups.push(Arc::new(AgentSetup {
            client: VerifierClient::new(base, &VerifierTrust::CaPem(o.ca_pem.clone()))?,
            key_id: o.key_id.clone(),
            measurement: sim::measurement(),
            retry_when_down: o.retry_when_down,
            recorder: recorder.clone(),
            // Agent 0 (of the first replica) feeds the hostile replays.
            replay: if n == 0 { replay.clone() } else { None },
        }));
    }

    let start = Instant::now();
    let stop = Arc::new(Stop::new(o.duration, o.attestations));
    let sampler = o
        .verifier_pid
        .map(|pid| tokio::spawn(sample_peak(pid, stop.clone())));
    probe.load(stop.clone());
    let maximal_body = Arc::new(serde_json::to_string(&maximal_request()).unwrap_or_default());
    let mut hostile_tasks = Vec::new();
    for id in 0..o.hostile {
        let h = Hostile {
            client: hostile_client.clone(),
            base: o.base.clone(),
            replay: replay.clone().unwrap_or_default(),
            id,
            maximal_body: maximal_body.clone(),
        };
        let (s, rps) = (stop.clone(), o.hostile_rps);
        hostile_tasks.push(tokio::spawn(async move { h.run(rps, &s).await }));
    }
    let mut agents = tokio::task::JoinSet::new();
    for (i, setup) in (0..o.agents).zip(setups.iter().cycle()) {
        agents.spawn(sim::run_agent(i, setup.clone(), stop.clone()));
    }
    let (all, unfinished) = join_agents(agents, &stop, o.drain).await;
    let elapsed = start.elapsed().as_secs_f64();
    stop.raise();

    let mut hostile = HostileStats::default();
    for t in hostile_tasks {
        hostile.merge(t.await.map_err(|e| RunError::Task(e.to_string()))?);
    }
    let load = tokio::task::spawn_blocking(move || probe.finish())
        .await
        .map_err(|e| RunError::Task(e.to_string()))?;
    let peak = match sampler {
        Some(t) => t.await.map_err(|e| RunError::Task(e.to_string()))?,
        None => None,
    };
    let cpu1 = (
        procfs::cpu_seconds(std::process::id()).ok(),
        o.verifier_pid.and_then(|p| procfs::cpu_seconds(p).ok()),
    );
    // Let go of every connection before the last sample.
    drop((setups, hostile_client));
    tokio::time::sleep(o.settle).await;

    let mut report = Report {
        url: bases.join(" "),
        agents: o.agents,
        hostile_clients: o.hostile,
        elapsed_s: elapsed,
        load_average_before,
        attestations: attestation_figures(all, unfinished, elapsed),
        hostile: HostileFigures {
            requests: hostile.requests(),
            by_attack: hostile.by_attack,
            violations: hostile.violations,
            examples: hostile.examples,
        },
        result_key: ProbeFigures {
            idle: idle.latencies.summary(),
            load: load.latencies.summary(),
            errors: load.errors,
        },
        verifier: o.verifier_pid.map(|pid| VerifierFigures {
            pid,
            idle: idle_sample,
            peak,
            after: procfs::sample(pid).ok(),
            cpu_s: cpu1.1.zip(cpu0.1).map(|(b, a)| b - a),
            cpu_ms_per_attestation: None,
        }),
        loadgen_cpu_s: cpu1.0.zip(cpu0.0).map(|(b, a)| b - a),
        appraisal,
        targets: Default::default(),
    };
    report.judge();
    Ok(report)
}
