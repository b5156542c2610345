//! `--platform` for `attest` and `build`: which evidence the agent collects.
//!
//! * `tpm` (default): a TPM 2.0 quote with the AK registered beforehand.
//! * `snp`: an SEV-SNP report from configfs-tsm or `/dev/sev-guest`; no
//!   registration (AMD's VCEK certifies the report).
//! * `snp-sim`: INSECURE simulated SEV-SNP (published test keys), only in
//!   an agent built with the `insecure-snp-sim` feature.

use anyhow::{bail, Result};
use sealbuild_agent::snp::{SnpCollector, SnpOptions};
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct PlatformArgs {
    /// Evidence platform: tpm, snp, or snp-sim (INSECURE test keys; needs an
    /// agent built with the insecure-snp-sim feature).
    #[arg(long, env = "SEALBUILD_PLATFORM", default_value = "tpm", value_parser = ["tpm", "snp", "snp-sim"])]
    pub platform: String,
    /// SEV-SNP: VMPL to request the report at (0..3).
    #[arg(long, default_value_t = 0)]
    pub snp_vmpl: u32,
    /// SEV-SNP: the configfs-tsm report directory.
    #[arg(long, default_value = sealbuild_agent::snp::DEFAULT_CONFIGFS_TSM_ROOT)]
    pub snp_configfs: PathBuf,
    /// SEV-SNP: name this agent to the verifier (default snp:<hostname>).
    #[arg(long)]
    pub agent_id: Option<String>,
    /// snp-sim: the simulated guest's launch digest (48 bytes hex), e.g.
    /// from `sealbuild-measure snp`.
    #[arg(long)]
    pub sim_measurement: Option<String>,
}

impl PlatformArgs {
    /// Whether the TPM path applies.
    pub fn is_tpm(&self) -> bool {
        self.platform == "tpm"
    }

    /// The agent id SEV-SNP evidence is sent under.
    pub fn snp_agent_id(&self) -> String {
        if let Some(id) = &self.agent_id {
            return id.clone();
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default();
        format!("snp:{}", if host.is_empty() { "unknown" } else { &host })
    }

    /// The SEV-SNP collector for `snp` / `snp-sim`.
    pub fn snp_collector(&self) -> Result<SnpCollector> {
        match self.platform.as_str() {
            "snp" => Ok(SnpCollector::detect(&SnpOptions {
                vmpl: self.snp_vmpl,
                configfs_root: self.snp_configfs.clone(),
                ..SnpOptions::default()
            })?),
            "snp-sim" => self.sim_collector(),
            other => bail!("platform {other} has no SEV-SNP collector"),
        }
    }

    #[cfg(feature = "insecure-snp-sim")]
    fn sim_collector(&self) -> Result<SnpCollector> {
        use anyhow::Context;
        let m = self
            .sim_measurement
            .as_deref()
            .context("--platform snp-sim needs --sim-measurement HEX (48 bytes)")?;
        let measurement: [u8; 48] = hex::decode(m)
            .ok()
            .and_then(|b| b.try_into().ok())
            .with_context(|| format!("--sim-measurement '{m}' is not 48 bytes of hex"))?;
        eprintln!(
            "sealbuild: WARNING: INSECURE simulated SEV-SNP: reports are signed with published test keys and prove nothing"
        );
        let source =
            sealbuild_agent::insecure_snp_sim::InsecureSimSource::new(measurement, [0u8; 32]);
        Ok(SnpCollector::new(Box::new(source), self.snp_vmpl)?)
    }

    #[cfg(not(feature = "insecure-snp-sim"))]
    fn sim_collector(&self) -> Result<SnpCollector> {
        bail!("--platform snp-sim: this sealbuild-agent was built without the insecure-snp-sim feature")
    }
}
