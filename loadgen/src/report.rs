//! The figures of one run, as JSON (`--json`) and for people, with the
//! issue's targets next to them (reported, never asserted here).

use crate::procfs::ProcSample;
use crate::stats::{Counts, LatencySummary};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Throughput target: this fraction of cores × single-core appraisal rate.
pub const TARGET_RATIO: f64 = 0.8;
/// p99 target of `GET /v1/result-key` under load, milliseconds.
pub const TARGET_RESULT_KEY_P99_MS: f64 = 20.0;
/// Peak RSS target, MiB.
pub const TARGET_RSS_MIB: f64 = 256.0;
/// RSS after the run within this fraction above idle.
pub const TARGET_RSS_RECOVERY: f64 = 0.2;
/// Proposed instead (README, "Load benchmark"): anonymous RSS after the run
/// at most this many MiB above idle (the idle RSS is mostly the binary's
/// own pages, which a run pages in more of).
pub const PROPOSED_ANON_GROWTH_MIB: f64 = 16.0;

/// The legitimate agents' figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AttestationFigures {
    /// Cycles that ended with the key released and opened.
    pub ok: u64,
    /// Of those, per second of the run.
    pub per_sec: f64,
    /// Latency of the whole nonce → attest → key opened cycle (successful cycles).
    pub latency: LatencySummary,
    /// Cycles that ended otherwise, by kind.
    pub errors: Counts,
    /// Their sum.
    pub error_total: u64,
    /// Calls that found the verifier down and were tried again (`--retry-when-down`).
    pub down_retries: u64,
    /// Outcomes of attestations sent again after the verifier went away.
    pub resent: Counts,
    /// Agents still in a cycle when the drain time ran out (aborted).
    pub unfinished_agents: u64,
}

/// The hostile clients' figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HostileFigures {
    /// Requests sent.
    pub requests: u64,
    /// Answers by attack and outcome.
    pub by_attack: BTreeMap<String, Counts>,
    /// 5xx answers, accepted verdicts and keys.
    pub violations: u64,
    /// The first violations.
    pub examples: Vec<String>,
}

/// `GET /v1/result-key` latencies.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProbeFigures {
    /// Before the load, one request after the other.
    pub idle: LatencySummary,
    /// During the load.
    pub load: LatencySummary,
    /// Answers other than a 200 during the load.
    pub errors: Counts,
}

/// The verifier process, from /proc (`--verifier-pid`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifierFigures {
    /// Its pid.
    pub pid: u32,
    /// At idle before the run.
    pub idle: Option<ProcSample>,
    /// The largest values sampled during the run (every 250 ms).
    pub peak: Option<ProcSample>,
    /// After the run and the settle time.
    pub after: Option<ProcSample>,
    /// CPU seconds it used during the run.
    pub cpu_s: Option<f64>,
    /// Of those, milliseconds per attestation with key release.
    pub cpu_ms_per_attestation: Option<f64>,
}

/// The single-core appraisal rate and the throughput ratio.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AppraisalFigures {
    /// Appraisals per second on one thread, in-process, before the run.
    pub single_core_per_sec: f64,
    /// Cores of this machine.
    pub cores: usize,
    /// throughput / (cores × single-core rate).
    pub ratio: f64,
    /// The share of the verifier's CPU time that the appraisals themselves
    /// account for (attestations / rate / verifier CPU seconds): the ratio
    /// the verifier would reach with every core to itself, the load
    /// generator elsewhere.
    pub appraisal_share_of_verifier_cpu: Option<f64>,
    /// The target ratio.
    pub target_ratio: f64,
}

/// Which targets of the issue the run met (`None`: not measured).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Targets {
    /// No legitimate cycle failed and no hostile request got a 5xx or a key.
    pub zero_errors: bool,
    /// Throughput ≥ 0.8 × cores × single-core rate.
    pub throughput: Option<bool>,
    /// Result-key p99 ≤ 20 ms under load.
    pub result_key_p99: Option<bool>,
    /// Peak RSS ≤ 256 MiB.
    pub rss_peak: Option<bool>,
    /// RSS after the run ≤ 1.2 × idle.
    pub rss_recovered: Option<bool>,
    /// Proposed: anonymous RSS after the run ≤ idle + 16 MiB.
    pub anon_recovered: Option<bool>,
}

/// Everything a run measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// The verifier.
    pub url: String,
    /// Concurrent simulated agents.
    pub agents: usize,
    /// Concurrent hostile clients.
    pub hostile_clients: usize,
    /// Seconds from the start until the last agent ended.
    pub elapsed_s: f64,
    /// The machine's 1-minute load average just before the run (other
    /// work sharing the cores makes every rate here smaller).
    pub load_average_before: Option<f64>,
    /// Legitimate agents.
    pub attestations: AttestationFigures,
    /// Hostile clients.
    pub hostile: HostileFigures,
    /// The result-key probe.
    pub result_key: ProbeFigures,
    /// The verifier process.
    pub verifier: Option<VerifierFigures>,
    /// CPU seconds this load generator used during the run.
    pub loadgen_cpu_s: Option<f64>,
    /// The appraisal rate and ratio.
    pub appraisal: Option<AppraisalFigures>,
    /// The targets.
    pub targets: Targets,
}

impl Report {
    /// Fills the derived figures (ratio, CPU per attestation) and
    /// [`Report::targets`].
    pub fn judge(&mut self) {
        let ok = self.attestations.ok as f64;
        let per_sec = self.attestations.per_sec;
        let cpu = self.verifier.as_ref().and_then(|v| v.cpu_s);
        if let Some(v) = self.verifier.as_mut() {
            v.cpu_ms_per_attestation = v.cpu_s.filter(|_| ok > 0.0).map(|c| c * 1000.0 / ok);
        }
        if let Some(a) = self.appraisal.as_mut() {
            let capacity = a.cores as f64 * a.single_core_per_sec;
            a.ratio = if capacity > 0.0 {
                per_sec / capacity
            } else {
                0.0
            };
            a.appraisal_share_of_verifier_cpu = cpu
                .filter(|c| *c > 0.0 && a.single_core_per_sec > 0.0)
                .map(|c| ok / a.single_core_per_sec / c);
        }
        let t = &mut self.targets;
        t.zero_errors = self.attestations.error_total == 0
            && self.attestations.unfinished_agents == 0
            && self.hostile.violations == 0;
        t.throughput = self.appraisal.as_ref().map(|a| a.ratio >= a.target_ratio);
        t.result_key_p99 = (self.result_key.load.count > 0)
            .then_some(self.result_key.load.p99_ms <= TARGET_RESULT_KEY_P99_MS);
        let v = self.verifier.as_ref();
        t.rss_peak = v.and_then(|v| v.peak).map(|p| p.rss_mib <= TARGET_RSS_MIB);
        t.rss_recovered = v
            .and_then(|v| Some((v.idle?, v.after?)))
            .map(|(i, a)| a.rss_mib <= i.rss_mib * (1.0 + TARGET_RSS_RECOVERY));
        t.anon_recovered = v
            .and_then(|v| Some((v.idle?, v.after?)))
            .map(|(i, a)| a.anon_mib <= i.anon_mib + PROPOSED_ANON_GROWTH_MIB);
    }

    /// Whether a strict run passes: no legitimate error, no hostile
    /// violation, no probe error.
    pub fn clean(&self) -> bool {
        self.targets.zero_errors && self.result_key.errors.total() == 0
    }

    /// The report for people.
    pub fn human(&self) -> String {
        let mut s = String::new();
        let a = &self.attestations;
        let yes = |b: Option<bool>| match b {
            Some(true) => "met",
            Some(false) => "NOT met",
            None => "not measured",
        };
        let _ = writeln!(
            s,
            "sealbuild-loadgen against {}: {} agents, {} hostile clients, {:.1} s",
            self.url, self.agents, self.hostile_clients, self.elapsed_s
        );
        let _ = writeln!(
            s,
            "  attestations with key release: {} ({:.1}/s)",
            a.ok, a.per_sec
        );
        let _ = writeln!(
            s,
            "  nonce→attest→key latency: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            a.latency.p50_ms, a.latency.p99_ms, a.latency.max_ms
        );
        let _ = writeln!(
            s,
            "  errors: {} ({}){}",
            a.error_total,
            a.errors.describe(),
            if a.unfinished_agents > 0 {
                format!(", {} agents unfinished", a.unfinished_agents)
            } else {
                String::new()
            }
        );
        if a.down_retries > 0 || a.resent.total() > 0 {
            let _ = writeln!(
                s,
                "  verifier down: {} calls retried; resent attestations: {}",
                a.down_retries,
                a.resent.describe()
            );
        }
        let h = &self.hostile;
        let _ = writeln!(
            s,
            "  hostile requests: {}, violations (5xx, accepted, key): {}",
            h.requests, h.violations
        );
        for (k, c) in &h.by_attack {
            let _ = writeln!(s, "    {k}: {}", c.describe());
        }
        for e in &h.examples {
            let _ = writeln!(s, "    VIOLATION {e}");
        }
        let r = &self.result_key;
        let _ = write!(
            s,
            "  GET /v1/result-key: idle p50 {:.2} ms p99 {:.2} ms",
            r.idle.p50_ms, r.idle.p99_ms
        );
        if r.load.count > 0 || r.errors.total() > 0 {
            let _ = write!(
                s,
                "; under load p50 {:.2} ms p99 {:.2} ms max {:.2} ms ({} requests, errors: {})",
                r.load.p50_ms,
                r.load.p99_ms,
                r.load.max_ms,
                r.load.count,
                r.errors.describe()
            );
        }
        s.push('\n');
        if let Some(v) = &self.verifier {
            let f = |p: Option<ProcSample>| {
                p.map_or("?".to_string(), |p| {
                    format!(
                        "{:.1} MiB (anonymous {:.1}) / {} threads",
                        p.rss_mib, p.anon_mib, p.threads
                    )
                })
            };
            let _ = writeln!(
                s,
                "  verifier pid {}: idle {}, peak {}, after {}; CPU {:.1} s ({:.2} ms per attestation)",
                v.pid,
                f(v.idle),
                f(v.peak),
                f(v.after),
                v.cpu_s.unwrap_or(0.0),
                v.cpu_ms_per_attestation.unwrap_or(0.0)
            );
        }
        if let Some(c) = self.loadgen_cpu_s {
            let _ = writeln!(s, "  load generator CPU {c:.1} s");
        }
        if let Some(l) = self.load_average_before {
            let _ = writeln!(s, "  machine load average before the run: {l:.2}");
        }
        if let Some(p) = &self.appraisal {
            let _ = writeln!(
                s,
                "  single-core SNP appraisal (in-process, this build, AMD chain cached as the service does): {:.0}/s; {} cores → {:.0}/s; \
                 ratio {:.3} (target {})",
                p.single_core_per_sec,
                p.cores,
                p.single_core_per_sec * p.cores as f64,
                p.ratio,
                p.target_ratio
            );
            if let Some(share) = p.appraisal_share_of_verifier_cpu {
                let _ = writeln!(
                    s,
                    "  appraisals are {:.1} % of the verifier's CPU time (the ratio it would reach \
                     with the cores to itself)",
                    share * 100.0
                );
            }
        }
        let t = &self.targets;
        let _ = writeln!(
            s,
            "  targets: zero errors {}; throughput {}; result-key p99 ≤ {TARGET_RESULT_KEY_P99_MS} ms \
             {}; RSS ≤ {TARGET_RSS_MIB} MiB {}; RSS back within 20 % of idle {} \
             (proposed instead: anonymous RSS ≤ idle + {PROPOSED_ANON_GROWTH_MIB} MiB {})",
            yes(Some(t.zero_errors)),
            yes(t.throughput),
            yes(t.result_key_p99),
            yes(t.rss_peak),
            yes(t.rss_recovered),
            yes(t.anon_recovered)
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_judged_from_the_figures() {
        let mut r = Report {
            verifier: Some(VerifierFigures {
                pid: 1,
                idle: Some(ProcSample {
                    rss_mib: 20.0,
                    anon_mib: 1.0,
                    threads: 5,
                }),
                peak: Some(ProcSample {
                    rss_mib: 300.0,
                    anon_mib: 1.0,
                    threads: 9,
                }),
                after: Some(ProcSample {
                    rss_mib: 23.0,
                    anon_mib: 1.0,
                    threads: 5,
                }),
                cpu_s: Some(2.0),
                cpu_ms_per_attestation: None,
            }),
            appraisal: Some(AppraisalFigures {
                single_core_per_sec: 1000.0,
                cores: 2,
                ratio: 0.0,
                target_ratio: TARGET_RATIO,
                appraisal_share_of_verifier_cpu: None,
            }),
            ..Report::default()
        };
        r.attestations.ok = 500;
        r.attestations.per_sec = 100.0;
        r.result_key.load = LatencySummary {
            count: 10,
            p50_ms: 1.0,
            p99_ms: 5.0,
            max_ms: 9.0,
        };
        r.judge();
        assert!(r.targets.zero_errors);
        assert_eq!(r.targets.throughput, Some(false));
        let a = r.appraisal.as_ref().unwrap();
        assert_eq!(a.ratio, 0.05);
        assert_eq!(a.appraisal_share_of_verifier_cpu, Some(0.25));
        assert_eq!(
            r.verifier.as_ref().unwrap().cpu_ms_per_attestation,
            Some(4.0)
        );
        assert_eq!(r.targets.result_key_p99, Some(true));
        assert_eq!(r.targets.rss_peak, Some(false));
        assert_eq!(r.targets.rss_recovered, Some(true));
        assert_eq!(r.targets.anon_recovered, Some(true));
        if let Some(a) = r.verifier.as_mut().and_then(|v| v.after.as_mut()) {
            a.anon_mib = 17.5;
        }
        r.judge();
        assert_eq!(r.targets.anon_recovered, Some(false), "1.0 → 17.5 MiB");
        assert!(r.human().contains("anonymous RSS ≤ idle + 16 MiB NOT met"));
        assert!(r.clean());
        r.attestations.errors.add("http_500:internal");
        r.attestations.error_total = 1;
        r.judge();
        assert!(!r.clean());
        assert!(r.human().contains("http_500:internal=1"));
    }
}
