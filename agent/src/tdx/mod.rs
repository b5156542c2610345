//! The Intel TDX [`EvidenceCollector`]: a TD quote whose REPORT_DATA
//! carries the binding digest, the TD's CCEL (firmware event log of
//! RTMR0–2) and, for a sealed build, the runtime log of RTMR3. The attester
//! is vouched for by the quote's PCK chain, so it registers nothing and
//! names itself `tdx:<label>`.
//!
//! Specifications:
//!
//! * Intel TDX DCAP Quoting Library API (quote format v4, §A.3) and the
//!   Intel TDX Module ABI Specification (TDREPORT, REPORTDATA, RTMRs,
//!   TDG.MR.RTMR.EXTEND); parsed by [`sealbuild_common::tdx`].
//! * Intel TDX Guest-Hypervisor Communication Interface (GHCI) 1.0 §3.3
//!   TDG.VP.VMCALL<GetQuote>: how the guest kernel asks the host's quote
//!   generation service (QGS) to turn a TDREPORT into a quote.
//! * Linux `Documentation/ABI/testing/configfs-tsm-report` (v6.7 and
//!   later): the configfs-tsm report interface ([`configfs`]).
//! * Linux `Documentation/ABI/testing/sysfs-devices-virtual-misc-tdx_guest`
//!   (v6.16 and later): the RTMR attributes ([`rtmr`]).
//! * ACPI 6.5 §5.2.34 "CC Event Log ACPI Table" and UEFI 2.10 §38: the CCEL
//!   ([`ccel`], parsed by [`sealbuild_common::eventlog::ccel`]).
//!
//! # Interfaces, and why only configfs-tsm
//!
//! * **configfs-tsm** (Linux ≥ 6.7, `CONFIG_TSM_REPORTS`, provider
//!   `tdx_guest`) is the supported interface: one file protocol returns a
//!   complete quote, the kernel doing the GetQuote exchange with the host's
//!   QGS.
//! * **`/dev/tdx_guest`**: upstream Linux (`include/uapi/linux/tdx-guest.h`)
//!   offers only `TDX_CMD_GET_REPORT0`, which returns a TDREPORT — MACed
//!   with a key of this CPU, verifiable only on the same platform, not a
//!   quote. Turning it into a quote needs the QGS, which user space reaches
//!   over vsock (Intel's `libtdx_attest` / QGS protocol) or not at all; the
//!   `TDX_CMD_GET_QUOTE` ioctl of pre-upstream kernels was never merged and
//!   was replaced by configfs-tsm. Supporting it would add a second,
//!   host-specific transport to reach the same quote, so the agent does not;
//!   on a kernel without configfs-tsm it says what to upgrade.
//! * **The `tdx-guest` crate** (Asterinas) wraps the TDCALL and TDVMCALL
//!   instructions themselves (`get_report`, `extend_rtmr`, `accept_page`,
//!   `init_tdx`, the #VE handler): code for a guest kernel or firmware in
//!   ring 0. TDCALL raises #GP outside CPL 0, so it cannot run in a Linux
//!   process; from user space the kernel's interfaces above are the only
//!   way, and the agent does not depend on it.
//!
//! # What the collector checks
//!
//! It trusts no interface to have done what was asked: the quote must parse
//! as a TD quote (version 4 or 5, TDX body) and carry exactly the requested
//! REPORT_DATA (binding digest ‖ 32 zero bytes, as for SEV-SNP); after a
//! sealed build its RTMR3 must equal the runtime log's replay; the CCEL must
//! parse. Signatures, the PCK chain and TCB status are the verifier's
//! business.

pub mod ccel;
pub mod configfs;
pub mod rtmr;

use crate::evidence::{
    default_agent_id, write_evidence_file, wrong_evidence, AgentError, EvidenceCollector,
};
use sealbuild_common::api::{Evidence, TdxEvidence};
use sealbuild_common::binding::snp_report_data;
use sealbuild_common::cel::RuntimeEvent;
use sealbuild_common::tdx::Quote;
use sealbuild_common::{FormatError, Platform};
use std::path::{Path, PathBuf};

pub use ccel::{CcelPaths, CcelSource};
pub use configfs::ConfigfsTsm;
pub use rtmr::{MeasurementRegister, Rtmr, RuntimeRtmr, DEFAULT_RTMR3_PATH, RUNTIME_RTMR};

/// Where configfs-tsm report entries are created.
pub const DEFAULT_CONFIGFS_TSM_ROOT: &str = "/sys/kernel/config/tsm/report";

/// One way of asking for a TD quote.
pub trait QuoteSource: Send {
    /// Requests a quote carrying `report_data`; returns its bytes, unchecked.
    fn get_quote(&mut self, report_data: &[u8; 64]) -> Result<Vec<u8>, AgentError>;

    /// Names the interface for messages, e.g. "configfs-tsm
    /// /sys/kernel/config/tsm/report".
    fn describe(&self) -> String;
}

/// How [`TdxCollector::open`] sets up the collector: every path is a
/// parameter so that tests can stand in for the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TdxOptions {
    /// The configfs-tsm report directory.
    pub configfs_root: PathBuf,
    /// The CCEL table and log area.
    pub ccel: CcelPaths,
    /// The tsm-mr attribute of RTMR3.
    pub rtmr3: PathBuf,
}

impl Default for TdxOptions {
    fn default() -> Self {
        Self {
            configfs_root: PathBuf::from(DEFAULT_CONFIGFS_TSM_ROOT),
            ccel: CcelPaths::default(),
            rtmr3: PathBuf::from(DEFAULT_RTMR3_PATH),
        }
    }
}

/// Collects TDX evidence.
pub struct TdxCollector {
    source: Box<dyn QuoteSource>,
    ccel: Box<dyn CcelSource>,
    runtime: RuntimeRtmr,
    runtime_log: Option<Vec<u8>>,
    agent_id: String,
}

impl std::fmt::Debug for TdxCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TdxCollector")
            .field("source", &self.source.describe())
            .field("ccel", &self.ccel)
            .field("rtmr3", &self.runtime.rtmr().location())
            .field("agent_id", &self.agent_id)
            .finish()
    }
}

impl TdxCollector {
    /// A collector asking `source` for quotes, reading the CCEL from `ccel`
    /// and keeping a sealed build's log in `rtmr3`; it names itself
    /// `tdx:<host name>` ([`default_agent_id`]).
    pub fn new(
        source: Box<dyn QuoteSource>,
        ccel: impl CcelSource + 'static,
        rtmr3: impl MeasurementRegister + 'static,
    ) -> Self {
        Self {
            source,
            ccel: Box::new(ccel),
            runtime: RuntimeRtmr::new(rtmr3),
            runtime_log: None,
            agent_id: default_agent_id(Platform::Tdx),
        }
    }

    /// A collector on configfs-tsm, after checking that the report directory
    /// exists (the error says which kernel is needed).
    pub fn open(options: &TdxOptions) -> Result<Self, AgentError> {
        if !options.configfs_root.is_dir() {
            return Err(AgentError::Configfs {
                path: options.configfs_root.clone(),
                reason: "no configfs-tsm report directory: TD quotes need a TDX guest with \
                         Linux >= 6.7 built with CONFIG_TSM_REPORTS and CONFIG_TDX_GUEST_DRIVER, \
                         configfs mounted at /sys/kernel/config, and a quote generation service \
                         on the host (/dev/tdx_guest alone yields no quote; see the tdx module \
                         docs)"
                    .into(),
            });
        }
        let c = Self::new(
            Box::new(ConfigfsTsm::new(options.configfs_root.clone())),
            options.ccel.clone(),
            Rtmr::new(options.rtmr3.clone()),
        );
        tracing::info!("TD quotes via {}", c.source.describe());
        Ok(c)
    }

    /// Names this attester `agent_id` to the verifier (normally
    /// `tdx:<label>`) instead of `tdx:<host name>`.
    pub fn with_agent_id(mut self, agent_id: impl Into<String>) -> Self {
        self.agent_id = agent_id.into();
        self
    }

    /// The runtime log in progress.
    pub fn runtime(&self) -> &RuntimeRtmr {
        &self.runtime
    }
}

impl EvidenceCollector for TdxCollector {
    fn platform(&self) -> Platform {
        Platform::Tdx
    }

    fn evidence_source(&self) -> String {
        format!("TDX evidence via {}", self.source.describe())
    }

    fn agent_id(&self) -> Option<String> {
        Some(self.agent_id.clone())
    }

    // `registration` and `activate`: the defaults; nothing to register,
    // the quote's PCK chain vouches for it.

    /// Requires RTMR3 all zeros, then extends `events` into it ([`rtmr`]).
    fn begin_runtime_log(&mut self, events: &[RuntimeEvent]) -> Result<(), AgentError> {
        self.runtime_log = None;
        self.runtime.begin(events)
    }

    fn end_runtime_log(&mut self, event: &RuntimeEvent) -> Result<(), AgentError> {
        self.runtime_log = Some(self.runtime.end(event)?);
        Ok(())
    }

    /// `runtimeRtmr`: the register of the runtime log (3).
    fn build_parameters(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        m.insert("runtimeRtmr".into(), RUNTIME_RTMR.into());
        m
    }

    fn collect(&mut self, binding: &[u8; 32]) -> Result<Evidence, AgentError> {
        let report_data = snp_report_data(binding);
        let quote = self.source.get_quote(&report_data)?;
        let origin = self.source.describe();
        let parsed = check_quote(&quote, &report_data, &origin)?;
        if self.runtime_log.is_some() {
            if let (Some(expected), Some(td)) = (self.runtime.replayed(), parsed.td_report()) {
                let got = td.rtmr.get(3).copied().unwrap_or([0u8; rtmr::RTMR_LEN]);
                if got != expected {
                    return Err(AgentError::TdxRtmrMismatch {
                        origin,
                        expected: hex::encode(expected),
                        got: hex::encode(got),
                    });
                }
            }
        }
        Ok(Evidence::Tdx(TdxEvidence {
            quote,
            ccel: self.ccel.read_area()?,
            runtime_log: self.runtime_log.clone(),
        }))
    }

    /// `quote.dat` (the name Intel's and go-tdx-guest's tools use), the
    /// CCEL log area as `ccel.bin` and the runtime log as
    /// `runtime-log.cel.json`.
    fn write_evidence(&self, evidence: &Evidence, dir: &Path) -> Result<(), AgentError> {
        let Evidence::Tdx(t) = evidence else {
            return Err(wrong_evidence(Platform::Tdx, evidence));
        };
        write_evidence_file(dir, "quote.dat", &t.quote)?;
        if let Some(ccel) = &t.ccel {
            write_evidence_file(dir, "ccel.bin", ccel)?;
        }
        if let Some(log) = &t.runtime_log {
            write_evidence_file(dir, "runtime-log.cel.json", log)?;
        }
        Ok(())
    }
}

/// Checks that `quote` is a TD quote for this request: it parses, has a TD
/// body and its REPORT_DATA is `report_data`. `origin` names the interface
/// in errors.
pub fn check_quote(
    quote: &[u8],
    report_data: &[u8; 64],
    origin: &str,
) -> Result<Quote, AgentError> {
    let malformed = |source| AgentError::TdxMalformedQuote {
        origin: origin.to_string(),
        source,
    };
    let parsed = Quote::parse(quote).map_err(malformed)?;
    let Some(td) = parsed.td_report() else {
        return Err(malformed(FormatError::unexpected(
            "quote body",
            "a TD report (TDX quote)",
            "an SGX enclave report",
        )));
    };
    if td.report_data != *report_data {
        return Err(AgentError::TdxReportDataMismatch {
            origin: origin.to_string(),
            expected: hex::encode(report_data),
            got: hex::encode(td.report_data),
        });
    }
    Ok(parsed)
}
