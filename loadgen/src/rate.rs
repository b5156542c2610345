//! The single-core SEV-SNP appraisal rate of this build, measured
//! in-process: the verifier core's SEV-SNP verifier (the one the service's
//! platform registry holds: report, ARK → ASK → VCEK chain, signature, TCB,
//! REPORT_DATA binding) and the policy appraisal, on one simulated report,
//! in a loop on one thread. That verifier keeps the AMD chains it verified
//! (`snp::SnpChainCache`), as the service's does: the first appraisal,
//! untimed, verifies the chain and the timed ones find it cached, so the
//! rate is that of the service path for a known machine. The verifier's whole attestation also signs an
//! EAR, seals the key and commits to SQLite; this rate is the appraisal
//! alone, the figure the throughput target is stated against.

use sealbuild_agent::evidence::EvidenceCollector as _;
use sealbuild_common::Platform;
use sealbuild_insecure_snp_sim::InsecureSimulatedSnp;
use sealbuild_verifier_core::platform::{Anchors, Collateral, Registry, VerifyContext};
use sealbuild_verifier_core::policy::{Appraiser as _, Policy};
use sealbuild_verifier_core::snp::AmdRoots;
use serde::Serialize;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use thiserror::Error;

/// Why the rate could not be measured.
#[derive(Debug, Error)]
pub enum RateError {
    /// The simulated report could not be made.
    #[error("simulated report: {0}")]
    Evidence(String),
    /// The policy does not parse.
    #[error("policy: {0}")]
    Policy(String),
    /// The report is not accepted: the setup is wrong, a rate would mean nothing.
    #[error("the simulated report is not accepted by the verifier core: {0}")]
    NotAccepted(String),
}

/// The measured rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AppraisalRate {
    /// Appraisals per second on one thread.
    pub per_sec: f64,
    /// Appraisals timed.
    pub iterations: u64,
    /// Seconds timed.
    pub secs: f64,
}

/// Appraises one simulated report (measurement `measurement`, key granted
/// by `policy_text`) for about `secs` on the calling thread.
pub fn single_core_rate(
    policy_text: &str,
    measurement: [u8; 48],
    secs: f64,
) -> Result<AppraisalRate, RateError> {
    let roots = AmdRoots::builtin().with_insecure_test_chain(
        sealbuild_insecure_snp_sim::PRODUCT,
        InsecureSimulatedSnp::ark_der(),
        InsecureSimulatedSnp::ask_der(),
    );
    let registry = Registry::new(&Anchors {
        amd: Arc::new(roots),
        ..Anchors::default()
    });
    let policy = Policy::parse(policy_text).map_err(|e| RateError::Policy(e.to_string()))?;
    let binding: [u8; 32] = rand::random();
    let evidence = crate::sim::collector(measurement)
        .and_then(|mut c| c.collect(&binding))
        .map_err(|e| RateError::Evidence(e.to_string()))?;
    let verifier = registry
        .get(Platform::Snp)
        .map_err(|r| RateError::NotAccepted(r.message))?;
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let collateral = Collateral::default();
    let cx = VerifyContext {
        agent_id: "snp:rate",
        registered: None,
        binding: &binding,
        statement_digest: None,
        now,
        collateral: &collateral,
    };
    let appraise = || -> Result<usize, String> {
        let claims = verifier.verify(black_box(&evidence), &cx).map_err(|r| {
            r.iter()
                .map(|r| r.message.clone())
                .collect::<Vec<_>>()
                .join("; ")
        })?;
        Ok(policy.appraise(&claims, None).granted_keys.len())
    };
    // Also warms the chain cache, as the service's first report from a
    // machine does.
    match appraise() {
        Ok(n) if n > 0 => {}
        Ok(_) => return Err(RateError::NotAccepted("the policy grants no key".into())),
        Err(e) => return Err(RateError::NotAccepted(e)),
    }
    let budget = Duration::from_secs_f64(secs.clamp(0.05, 60.0));
    let start = Instant::now();
    let mut iterations = 0u64;
    while start.elapsed() < budget {
        for _ in 0..16 {
            let _ = black_box(appraise());
        }
        iterations += 16;
    }
    let secs = start.elapsed().as_secs_f64();
    Ok(AppraisalRate {
        per_sec: iterations as f64 / secs,
        iterations,
        secs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_measured_on_an_accepted_report_only() {
        let m = crate::sim::measurement();
        let r = single_core_rate(&crate::sim::policy_toml("k", &m), m, 0.05).unwrap();
        assert!(r.iterations >= 16 && r.per_sec > 0.0, "{r:?}");
        let other = single_core_rate(&crate::sim::policy_toml("k", &[7; 48]), m, 0.05);
        assert!(matches!(other, Err(RateError::NotAccepted(_))), "{other:?}");
    }
}
