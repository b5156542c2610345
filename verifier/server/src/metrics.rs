//! Prometheus metrics (text exposition format 0.0.4) of the service:
//! requests by route and status, appraisal latency, verdicts by the check
//! that decided them, key releases by key, verifications waiting for a core,
//! the audit log's size, and how often free memory went back to the
//! system after a burst. Every label comes from a bounded set (the
//! router's route templates, the code's check names, the policy's key ids),
//! never from request input, so the exposition stays small whatever callers
//! send.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the appraisal latency histogram.
const BUCKETS: [f64; 12] = [
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0,
];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Debug, Default)]
struct Inner {
    requests: BTreeMap<(String, u16), u64>,
    verdicts: BTreeMap<(&'static str, String), u64>,
    releases: BTreeMap<String, u64>,
    appraisal: Histogram,
    memory_trims: u64,
}

/// The service's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

/// Gauges read when the metrics are rendered.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gauges {
    /// Verifications waiting for a core.
    pub verifications_waiting: u64,
    /// Verifications running.
    pub verifications_running: u64,
    /// Entries in the audit log.
    pub audit_entries: u64,
}

impl Metrics {
    /// One HTTP request answered: `route` is the router's template.
    pub fn request(&self, route: &str, status: u16) {
        if let Ok(mut m) = self.inner.lock() {
            *m.requests.entry((route.to_string(), status)).or_default() += 1;
        }
    }

    /// One appraisal: its verdict, the check of its first reason (`none`
    /// when accepted), how long it took and the keys it released.
    pub fn appraisal(&self, accepted: bool, check: &str, took: Duration, released: &[String]) {
        let Ok(mut m) = self.inner.lock() else {
            return;
        };
        let verdict = if accepted { "accepted" } else { "rejected" };
        *m.verdicts.entry((verdict, check.to_string())).or_default() += 1;
        for k in released {
            *m.releases.entry(k.clone()).or_default() += 1;
        }
        let secs = took.as_secs_f64();
        let h = &mut m.appraisal;
        h.count += 1;
        h.sum += secs;
        for (slot, bound) in h.counts.iter_mut().zip(BUCKETS) {
            if secs <= bound {
                *slot += 1;
            }
        }
    }

    /// Free memory was handed back to the system after a burst
    /// ([`crate::memory`]).
    pub fn memory_trimmed(&self) {
        if let Ok(mut m) = self.inner.lock() {
            m.memory_trims += 1;
        }
    }

    /// The exposition text.
    pub fn render(&self, g: Gauges) -> String {
        let mut out = String::new();
        let Ok(m) = self.inner.lock() else {
            return out;
        };
        let _ = writeln!(
            out,
            "# HELP sealbuild_http_requests_total HTTP requests answered, by route and status."
        );
        let _ = writeln!(out, "# TYPE sealbuild_http_requests_total counter");
        for ((route, status), n) in &m.requests {
            let _ = writeln!(
                out,
                "sealbuild_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        let _ = writeln!(out, "# HELP sealbuild_appraisals_total Appraisals, by verdict and the check of the first reason.");
        let _ = writeln!(out, "# TYPE sealbuild_appraisals_total counter");
        for ((verdict, check), n) in &m.verdicts {
            let _ = writeln!(
                out,
                "sealbuild_appraisals_total{{verdict=\"{verdict}\",check=\"{check}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP sealbuild_key_releases_total Keys released, by key id."
        );
        let _ = writeln!(out, "# TYPE sealbuild_key_releases_total counter");
        for (key, n) in &m.releases {
            let _ = writeln!(out, "sealbuild_key_releases_total{{key=\"{key}\"}} {n}");
        }
        let h = &m.appraisal;
        let _ = writeln!(out, "# HELP sealbuild_appraisal_seconds Time to appraise one attestation (nonce to sealed keys).");
        let _ = writeln!(out, "# TYPE sealbuild_appraisal_seconds histogram");
        for (bound, n) in BUCKETS.iter().zip(h.counts) {
            let _ = writeln!(
                out,
                "sealbuild_appraisal_seconds_bucket{{le=\"{bound}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "sealbuild_appraisal_seconds_bucket{{le=\"+Inf\"}} {}",
            h.count
        );
        let _ = writeln!(out, "sealbuild_appraisal_seconds_sum {}", h.sum);
        let _ = writeln!(out, "sealbuild_appraisal_seconds_count {}", h.count);
        let _ = writeln!(out, "# HELP sealbuild_memory_trims_total Times free memory was returned to the system after connections closed.");
        let _ = writeln!(out, "# TYPE sealbuild_memory_trims_total counter");
        let _ = writeln!(out, "sealbuild_memory_trims_total {}", m.memory_trims);
        for (name, help, v) in [
            (
                "sealbuild_verifications_waiting",
                "Evidence verifications waiting for a core.",
                g.verifications_waiting,
            ),
            (
                "sealbuild_verifications_running",
                "Evidence verifications running.",
                g.verifications_running,
            ),
            (
                "sealbuild_audit_entries",
                "Entries in the audit log.",
                g.audit_entries,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} gauge");
            let _ = writeln!(out, "{name} {v}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histogram_and_gauges() {
        let m = Metrics::default();
        m.request("/v1/attest", 200);
        m.request("/v1/attest", 200);
        m.appraisal(true, "none", Duration::from_millis(3), &["k".into()]);
        m.appraisal(false, "snp_signature", Duration::from_millis(30), &[]);
        m.memory_trimmed();
        let t = m.render(Gauges {
            verifications_waiting: 1,
            verifications_running: 2,
            audit_entries: 7,
        });
        assert!(t.contains("sealbuild_http_requests_total{route=\"/v1/attest\",status=\"200\"} 2"));
        assert!(t.contains(
            "sealbuild_appraisals_total{verdict=\"rejected\",check=\"snp_signature\"} 1"
        ));
        assert!(t.contains("sealbuild_key_releases_total{key=\"k\"} 1"));
        assert!(t.contains("sealbuild_appraisal_seconds_bucket{le=\"0.005\"} 1"));
        assert!(t.contains("sealbuild_appraisal_seconds_bucket{le=\"0.05\"} 2"));
        assert!(t.contains("sealbuild_appraisal_seconds_count 2"));
        assert!(t.contains("sealbuild_audit_entries 7"));
        assert!(t.contains("sealbuild_memory_trims_total 1"));
    }
}
