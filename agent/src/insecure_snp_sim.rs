//! INSECURE simulated SEV-SNP report source (feature `insecure-snp-sim`).
//!
//! Reports come from `sealbuild-insecure-snp-sim`, which signs them with a
//! published test ARK → ASK → VCEK chain of AMD's algorithms (RSA-4096 PSS,
//! ECDSA P-384). Anyone can forge such reports: they prove nothing about a
//! machine. They exist so that CI and the demo run the whole SEV-SNP flow
//! (collect → verify → key release → provenance) through the real
//! verification code. A verifier accepts them only when built with its own
//! `insecure-snp-sim` feature *and* configured with the test chain.

use crate::evidence::AgentError;
use crate::snp::{SnpReportResponse, SnpReportSource};
use sealbuild_common::api::{SnpCertKind, SnpCertificate};
use sealbuild_insecure_snp_sim::{InsecureSimulatedSnp, SimConfig};

/// A [`SnpReportSource`] backed by the insecure simulator.
pub struct InsecureSimSource {
    base: SimConfig,
}

impl InsecureSimSource {
    /// A simulated guest launched with `measurement` (e.g. the launch digest
    /// `sealbuild-measure snp` computes) and `host_data`.
    pub fn new(measurement: [u8; 48], host_data: [u8; 32]) -> Self {
        Self {
            base: SimConfig {
                measurement,
                host_data,
                ..SimConfig::default()
            },
        }
    }
}

fn sim_err(e: impl std::fmt::Display) -> AgentError {
    AgentError::InvalidArgument {
        what: "insecure SNP simulator",
        reason: e.to_string(),
    }
}

impl SnpReportSource for InsecureSimSource {
    fn get_report(
        &mut self,
        report_data: &[u8; 64],
        vmpl: u32,
    ) -> Result<SnpReportResponse, AgentError> {
        let sim = InsecureSimulatedSnp::new(SimConfig {
            vmpl,
            ..self.base.clone()
        })
        .map_err(sim_err)?;
        let report = sim.report(report_data).map_err(sim_err)?;
        Ok(SnpReportResponse {
            report,
            certificates: vec![SnpCertificate {
                kind: SnpCertKind::Vcek,
                der: InsecureSimulatedSnp::vcek_der().to_vec(),
            }],
            unknown_certificates: Vec::new(),
        })
    }

    fn describe(&self) -> String {
        "INSECURE simulated SEV-SNP (published test keys)".into()
    }
}
