//! `--platform` for `attest` and `build`: which collector the agent uses.
//! This is the binary's platform registry: one match arm per platform, each
//! present only in a build with the feature it needs.
//!
//! * `tpm` (default): a TPM 2.0 quote with the AK registered beforehand.
//! * `snp`: an SEV-SNP report from configfs-tsm or `/dev/sev-guest`; no
//!   registration (AMD's VCEK certifies the report).
//! * `azure`: an Azure confidential VM's HCL report and vTPM quote (AK at
//!   0x81000003), on TDX with the TD quote from the instance metadata
//!   service; no registration.
//! * `tdx`: an Intel TDX quote from configfs-tsm, the CCEL, and a sealed
//!   build's log in RTMR3; no registration (Intel's PCK chain certifies the
//!   quote).
//! * `snp-sim`: INSECURE simulated SEV-SNP (published test keys), only in
//!   an agent built with the `insecure-snp-sim` feature.
//! * `tdx-sim`: INSECURE simulated Intel TDX (published test keys), only in
//!   an agent built with the `insecure-tdx-sim` feature.

use anyhow::{bail, Result};
use sealbuild_agent::evidence::EvidenceCollector;
use sealbuild_agent::tpm::{PcrSelection, TctiConfig};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, clap::Args)]
pub struct PlatformArgs {
    /// Evidence platform: tpm, snp, azure, tdx, or snp-sim / tdx-sim
    /// (INSECURE test keys; need an agent built with the insecure-snp-sim /
    /// insecure-tdx-sim feature).
    #[arg(long, env = "SEALBUILD_PLATFORM", default_value = "tpm", value_parser = ["tpm", "snp", "azure", "tdx", "snp-sim", "tdx-sim"])]
    pub platform: String,
    /// SEV-SNP: VMPL to request the report at (0..3).
    #[arg(long, default_value_t = 0)]
    pub snp_vmpl: u32,
    /// SEV-SNP: the configfs-tsm report directory.
    // = sealbuild_agent::snp::DEFAULT_CONFIGFS_TSM_ROOT, spelled out so
    // that the flag exists in builds without the snp feature.
    #[arg(long, default_value = "/sys/kernel/config/tsm/report")]
    pub snp_configfs: PathBuf,
    /// TDX: the configfs-tsm report directory.
    // = sealbuild_agent::tdx::DEFAULT_CONFIGFS_TSM_ROOT (see --snp-configfs).
    #[arg(long, default_value = "/sys/kernel/config/tsm/report")]
    pub tdx_configfs: PathBuf,
    /// TDX: the ACPI CCEL table.
    #[arg(long, default_value = "/sys/firmware/acpi/tables/CCEL")]
    pub tdx_ccel_table: PathBuf,
    /// TDX: the CCEL log area (sent with the quote when present).
    #[arg(long, default_value = "/sys/firmware/acpi/tables/data/CCEL")]
    pub tdx_ccel: PathBuf,
    /// TDX: RTMR3's tsm-mr attribute, extended by sealed builds (Linux >= 6.16).
    #[arg(
        long,
        default_value = "/sys/devices/virtual/misc/tdx_guest/measurements/rtmr3:sha384"
    )]
    pub tdx_rtmr3: PathBuf,
    /// SEV-SNP, Azure, TDX: name this agent to the verifier (default
    /// snp:<hostname>, azure:<hostname> or tdx:<hostname>).
    #[arg(long)]
    pub agent_id: Option<String>,
    /// snp-sim: the simulated guest's launch digest (48 bytes hex), e.g.
    /// from `sealbuild-measure snp`; tdx-sim: the simulated TD's MRTD
    /// (default: the simulator's).
    #[arg(long)]
    pub sim_measurement: Option<String>,
    /// Azure: a VCEK certificate (DER or PEM; on Azure the instance metadata
    /// service's THIM endpoint serves it) to send with the evidence; without
    /// it the verifier uses its collateral store.
    #[arg(long)]
    pub azure_vcek: Option<PathBuf>,
    /// Azure TDX: where to send the HCL report's TD report for its TD quote
    /// (plain http; default the instance metadata service).
    // = sealbuild_agent::azure::imds::IMDS_TD_QUOTE_URL (see --snp-configfs).
    #[arg(long, default_value = "http://169.254.169.254/acc/tdquote")]
    pub azure_td_quote_url: String,
}

/// What the TPM-based collectors (tpm, azure) take from the command line.
#[derive(Debug, Clone)]
// Only the tpm and azure arms of `collector` read it.
#[cfg_attr(not(feature = "tpm"), allow(dead_code))]
pub struct TpmOptions<'a> {
    /// How to reach the TPM.
    pub tcti: &'a TctiConfig,
    /// Where a registered AK is stored (tpm).
    pub state_dir: &'a Path,
    /// PCRs to quote; default sha256:0-7 (tpm), sha256:0-23 (azure).
    pub pcrs: Option<PcrSelection>,
    /// The firmware event log to send, if any.
    pub eventlog: Option<PathBuf>,
    /// The runtime PCR of a sealed build.
    pub runtime_pcr: u32,
}

impl PlatformArgs {
    /// The collector `--platform` names.
    pub fn collector(&self, tpm: TpmOptions<'_>) -> Result<Box<dyn EvidenceCollector>> {
        // Only the arms of the platforms this build has are compiled in; in
        // a build without the tpm feature nothing reads `tpm`.
        let _ = &tpm;
        match self.platform.as_str() {
            #[cfg(feature = "tpm")]
            "tpm" => {
                use sealbuild_agent::tpm::{RuntimeRegister, TpmBackend, TpmCollector};
                let backend = TpmBackend::open(tpm.tcti)?;
                let pcrs = tpm.pcrs.unwrap_or_else(PcrSelection::firmware);
                Ok(Box::new(
                    TpmCollector::load(backend, tpm.state_dir, pcrs, tpm.eventlog)?
                        .with_runtime_register(RuntimeRegister::new(tpm.runtime_pcr)?),
                ))
            }
            #[cfg(feature = "tpm")]
            "azure" => {
                use sealbuild_agent::azure::AzureCollector;
                use sealbuild_agent::tpm::{RuntimeRegister, TpmBackend};
                let backend = TpmBackend::open(tpm.tcti)?;
                let mut c = AzureCollector::new(backend, tpm.eventlog)
                    .with_runtime_register(RuntimeRegister::new(tpm.runtime_pcr)?);
                if let Some(pcrs) = tpm.pcrs {
                    c = c.with_selection(pcrs);
                }
                if let Some(id) = &self.agent_id {
                    c = c.with_agent_id(id.clone());
                }
                if let Some(path) = &self.azure_vcek {
                    c = c.with_vcek(read_certificate(path)?);
                }
                c = c.with_td_quote_service(sealbuild_agent::azure::imds::TdQuoteService::new(
                    &self.azure_td_quote_url,
                )?);
                Ok(Box::new(c))
            }
            #[cfg(feature = "snp")]
            "snp" => {
                use sealbuild_agent::snp::{SnpCollector, SnpOptions};
                let c = SnpCollector::detect(&SnpOptions {
                    vmpl: self.snp_vmpl,
                    configfs_root: self.snp_configfs.clone(),
                    ..SnpOptions::default()
                })?;
                Ok(Box::new(self.named(c)))
            }
            #[cfg(feature = "tdx")]
            "tdx" => {
                use sealbuild_agent::tdx::{CcelPaths, TdxCollector, TdxOptions};
                let mut c = TdxCollector::open(&TdxOptions {
                    configfs_root: self.tdx_configfs.clone(),
                    ccel: CcelPaths {
                        table: self.tdx_ccel_table.clone(),
                        data: self.tdx_ccel.clone(),
                    },
                    rtmr3: self.tdx_rtmr3.clone(),
                })?;
                if let Some(id) = &self.agent_id {
                    c = c.with_agent_id(id.clone());
                }
                Ok(Box::new(c))
            }
            #[cfg(feature = "insecure-snp-sim")]
            "snp-sim" => Ok(Box::new(self.named(self.sim_collector()?))),
            #[cfg(feature = "insecure-tdx-sim")]
            "tdx-sim" => {
                let mrtd = match self.sim_measurement.as_deref() {
                    None => None,
                    Some(m) => Some(sim_measurement(m)?),
                };
                eprintln!(
                    "sealbuild: WARNING: INSECURE simulated TDX: quotes are signed with published test keys and prove nothing"
                );
                let mut c = sealbuild_agent::insecure_tdx_sim::collector(mrtd)?;
                if let Some(id) = &self.agent_id {
                    c = c.with_agent_id(id.clone());
                }
                Ok(Box::new(c))
            }
            other => bail!(
                "--platform {other}: this sealbuild-agent was built without the {} feature",
                match other {
                    "tpm" | "azure" => "tpm",
                    "snp" => "snp",
                    "tdx" => "tdx",
                    "snp-sim" => "insecure-snp-sim",
                    "tdx-sim" => "insecure-tdx-sim",
                    _ => "matching",
                }
            ),
        }
    }

    #[cfg(feature = "snp")]
    fn named(&self, c: sealbuild_agent::snp::SnpCollector) -> sealbuild_agent::snp::SnpCollector {
        match &self.agent_id {
            Some(id) => c.with_agent_id(id.clone()),
            None => c,
        }
    }

    #[cfg(feature = "insecure-snp-sim")]
    fn sim_collector(&self) -> Result<sealbuild_agent::snp::SnpCollector> {
        use anyhow::Context;
        let m = self
            .sim_measurement
            .as_deref()
            .context("--platform snp-sim needs --sim-measurement HEX (48 bytes)")?;
        let measurement = sim_measurement(m)?;
        eprintln!(
            "sealbuild: WARNING: INSECURE simulated SEV-SNP: reports are signed with published test keys and prove nothing"
        );
        let source =
            sealbuild_agent::insecure_snp_sim::InsecureSimSource::new(measurement, [0u8; 32]);
        Ok(sealbuild_agent::snp::SnpCollector::new(
            Box::new(source),
            self.snp_vmpl,
        )?)
    }
}

/// `--sim-measurement`: 48 bytes of hex (a launch digest or an MRTD).
#[cfg(any(feature = "insecure-snp-sim", feature = "insecure-tdx-sim"))]
fn sim_measurement(m: &str) -> Result<[u8; 48]> {
    use anyhow::Context;
    hex::decode(m)
        .ok()
        .and_then(|b| b.try_into().ok())
        .with_context(|| format!("--sim-measurement '{m}' is not 48 bytes of hex"))
}

/// A certificate file, DER or PEM (the first certificate).
#[cfg(feature = "tpm")]
fn read_certificate(path: &Path) -> Result<Vec<u8>> {
    use anyhow::Context;
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if bytes.starts_with(b"-----BEGIN") {
        let cert = rustls_pemfile::certs(&mut bytes.as_slice())
            .next()
            .with_context(|| format!("{}: no certificate in the PEM file", path.display()))?
            .with_context(|| format!("{}: PEM", path.display()))?;
        return Ok(cert.to_vec());
    }
    Ok(bytes)
}
