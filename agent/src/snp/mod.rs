//! The SEV-SNP [`EvidenceCollector`]: an ATTESTATION_REPORT whose
//! REPORT_DATA carries the binding digest, and the certificates the host
//! supplied with it. The attester is vouched for by the report's AMD
//! signature, so it registers nothing and names itself `snp:<label>`; a
//! sealed build needs no runtime log (its statement digest is in the
//! binding, hence in REPORT_DATA).
//!
//! Specifications:
//!
//! * AMD "SEV Secure Nested Paging Firmware ABI Specification" (publication
//!   56860), revision 1.58: §7.3 "Attestation", the MSG_REPORT_REQ message
//!   (REPORT_DATA, VMPL),
//!   Table 23 "ATTESTATION_REPORT Structure" (parsed by
//!   [`sealbuild_common::snp`]).
//! * AMD "SEV-ES Guest-Hypervisor Communication Block Standardization"
//!   (publication 56421), revision 2.03, §4.1.8.1 "SNP Extended Guest
//!   Request": the host's certificate table ([`certtable`]).
//! * Linux `Documentation/ABI/testing/configfs-tsm-report` (v6.7 and later):
//!   the configfs-tsm report interface ([`configfs`]); `include/uapi/linux/sev-guest.h`:
//!   the `/dev/sev-guest` ioctls ([`sevguest`]).
//!
//! Two interfaces reach the same firmware request, one backend each behind
//! [`SnpReportSource`]. [`SnpCollector::detect`] prefers configfs-tsm (the
//! kernel copies the host's certificate table out as an opaque blob that
//! [`certtable::CertTable::parse`] checks) and falls back to
//! `/dev/sev-guest`.
//!
//! The collector trusts neither interface to have done what was asked: the
//! report must parse, carry exactly the requested REPORT_DATA
//! ([`sealbuild_common::binding::snp_report_data`]) and the requested VMPL.
//! Signatures and the AMD chain are the verifier's business.

pub use sealbuild_common::snp::certtable;
pub mod configfs;
pub mod sevguest;

use crate::evidence::{
    default_agent_id, write_evidence_file, write_snp_certificates, wrong_evidence, AgentError,
    EvidenceCollector,
};
use certtable::Guid;
use sealbuild_common::api::{Evidence, SnpCertificate, SnpEvidence};
use sealbuild_common::binding::snp_report_data;
use sealbuild_common::cel::RuntimeEvent;
use sealbuild_common::snp::AttestationReport;
use sealbuild_common::Platform;
use std::path::{Path, PathBuf};

pub use configfs::ConfigfsTsm;
pub use sevguest::{SevGuest, SevGuestDevice};

/// Where configfs-tsm report entries are created.
pub const DEFAULT_CONFIGFS_TSM_ROOT: &str = "/sys/kernel/config/tsm/report";

/// The SEV-SNP guest device.
pub const SEV_GUEST_DEVICE: &str = "/dev/sev-guest";

/// Highest VMPL (and configfs-tsm privlevel) there is.
pub const MAX_VMPL: u32 = 3;

/// What an interface returned for one report request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SnpReportResponse {
    /// The ATTESTATION_REPORT bytes, unchecked.
    pub report: Vec<u8>,
    /// The host's certificates whose GUIDs name a known kind.
    pub certificates: Vec<SnpCertificate>,
    /// GUIDs of the host's certificates that were skipped.
    pub unknown_certificates: Vec<Guid>,
}

/// One way of asking the SEV-SNP firmware for a report.
pub trait SnpReportSource: Send {
    /// Requests a report carrying `report_data` at privilege level `vmpl`.
    fn get_report(
        &mut self,
        report_data: &[u8; 64],
        vmpl: u32,
    ) -> Result<SnpReportResponse, AgentError>;

    /// Names the interface for messages, e.g. "configfs-tsm
    /// /sys/kernel/config/tsm/report".
    fn describe(&self) -> String;
}

/// The interface [`detect_interface`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnpInterface {
    /// The configfs-tsm report directory.
    ConfigfsTsm {
        /// Its path.
        root: PathBuf,
    },
    /// The sev-guest device.
    SevGuest {
        /// Its path.
        device: PathBuf,
    },
}

/// Picks configfs-tsm when `configfs_root` exists, else the device when it
/// exists, else explains what is missing.
pub fn detect_interface(
    configfs_root: &Path,
    sev_guest_device: &Path,
) -> Result<SnpInterface, AgentError> {
    if configfs_root.is_dir() {
        Ok(SnpInterface::ConfigfsTsm {
            root: configfs_root.to_path_buf(),
        })
    } else if sev_guest_device.exists() {
        Ok(SnpInterface::SevGuest {
            device: sev_guest_device.to_path_buf(),
        })
    } else {
        Err(AgentError::SnpUnavailable {
            configfs: configfs_root.to_path_buf(),
            device: sev_guest_device.to_path_buf(),
        })
    }
}

/// How [`SnpCollector::detect`] sets up the collector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnpOptions {
    /// The VMPL to request (0..=3). It must be at least the VMPL the guest
    /// runs at (0 without an SVSM; configfs-tsm shows the lowest permitted
    /// value in `privlevel_floor`).
    pub vmpl: u32,
    /// The configfs-tsm report directory.
    pub configfs_root: PathBuf,
    /// On the `/dev/sev-guest` path: also ask the host for its certificate
    /// table (SNP_GET_EXT_REPORT). Off by default, because the `sev` crate
    /// walks that host-written table without bounds checks (see
    /// [`sevguest`]); configfs-tsm delivers the same certificates safely.
    pub sev_guest_host_certificates: bool,
}

impl Default for SnpOptions {
    fn default() -> Self {
        Self {
            vmpl: 0,
            configfs_root: PathBuf::from(DEFAULT_CONFIGFS_TSM_ROOT),
            sev_guest_host_certificates: false,
        }
    }
}

/// Collects SEV-SNP evidence.
pub struct SnpCollector {
    source: Box<dyn SnpReportSource>,
    vmpl: u32,
    agent_id: String,
}

impl std::fmt::Debug for SnpCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnpCollector")
            .field("source", &self.source.describe())
            .field("vmpl", &self.vmpl)
            .field("agent_id", &self.agent_id)
            .finish()
    }
}

impl SnpCollector {
    /// A collector asking `source` for reports at `vmpl` (0..=3), naming
    /// itself `snp:<host name>` ([`default_agent_id`]).
    pub fn new(source: Box<dyn SnpReportSource>, vmpl: u32) -> Result<Self, AgentError> {
        check_vmpl(vmpl)?;
        Ok(Self {
            source,
            vmpl,
            agent_id: default_agent_id(Platform::Snp),
        })
    }

    /// Names this attester `agent_id` to the verifier (normally
    /// `snp:<label>`) instead of `snp:<host name>`.
    pub fn with_agent_id(mut self, agent_id: impl Into<String>) -> Self {
        self.agent_id = agent_id.into();
        self
    }

    /// A collector on whichever interface this machine has
    /// ([`detect_interface`] with [`SEV_GUEST_DEVICE`]).
    pub fn detect(options: &SnpOptions) -> Result<Self, AgentError> {
        check_vmpl(options.vmpl)?;
        let collector = match detect_interface(&options.configfs_root, Path::new(SEV_GUEST_DEVICE))?
        {
            SnpInterface::ConfigfsTsm { root } => {
                Self::new(Box::new(ConfigfsTsm::new(root)), options.vmpl)?
            }
            SnpInterface::SevGuest { .. } => {
                let device = sevguest::SevGuestFirmware::open()?;
                let source = SevGuest::new(device, options.sev_guest_host_certificates);
                Self::new(Box::new(source), options.vmpl)?
            }
        };
        tracing::info!(
            "SEV-SNP reports via {} at VMPL {}",
            collector.describe(),
            collector.vmpl
        );
        Ok(collector)
    }

    /// The VMPL requested.
    pub fn vmpl(&self) -> u32 {
        self.vmpl
    }

    /// The interface in use.
    pub fn describe(&self) -> String {
        self.source.describe()
    }
}

impl EvidenceCollector for SnpCollector {
    fn platform(&self) -> Platform {
        Platform::Snp
    }

    fn evidence_source(&self) -> String {
        format!("SEV-SNP evidence via {}", self.source.describe())
    }

    fn agent_id(&self) -> Option<String> {
        Some(self.agent_id.clone())
    }

    // `registration` and `activate`: the defaults; nothing to register,
    // the report's AMD signature vouches for it.

    /// No runtime register: the statement digest reaches REPORT_DATA
    /// through the binding.
    fn begin_runtime_log(&mut self, _events: &[RuntimeEvent]) -> Result<(), AgentError> {
        Ok(())
    }

    fn end_runtime_log(&mut self, _event: &RuntimeEvent) -> Result<(), AgentError> {
        Ok(())
    }

    fn build_parameters(&self) -> serde_json::Map<String, serde_json::Value> {
        serde_json::Map::new()
    }

    fn collect(&mut self, binding: &[u8; 32]) -> Result<Evidence, AgentError> {
        let report_data = snp_report_data(binding);
        let response = self.source.get_report(&report_data, self.vmpl)?;
        let origin = self.source.describe();
        check_report(&response.report, &report_data, self.vmpl, &origin)?;
        for guid in &response.unknown_certificates {
            tracing::info!("{origin}: skipping host certificate with unknown GUID {guid}");
        }
        Ok(Evidence::Snp(SnpEvidence {
            report: response.report,
            certificates: response.certificates,
        }))
    }

    /// The 1184-byte report and the supplied certificates, under the file
    /// names snpguest uses (report.bin, vcek.der, …).
    fn write_evidence(&self, evidence: &Evidence, dir: &Path) -> Result<(), AgentError> {
        let Evidence::Snp(s) = evidence else {
            return Err(wrong_evidence(Platform::Snp, evidence));
        };
        write_evidence_file(dir, "report.bin", &s.report)?;
        write_snp_certificates(dir, &s.certificates)
    }
}

fn check_vmpl(vmpl: u32) -> Result<(), AgentError> {
    if vmpl > MAX_VMPL {
        return Err(AgentError::InvalidArgument {
            what: "VMPL",
            reason: format!("expected 0..={MAX_VMPL}, got {vmpl}"),
        });
    }
    Ok(())
}

/// Checks that `report` is an ATTESTATION_REPORT for this request: it
/// parses, its REPORT_DATA is `report_data` and its VMPL is `vmpl`.
/// `origin` names the interface in errors.
pub fn check_report(
    report: &[u8],
    report_data: &[u8; 64],
    vmpl: u32,
    origin: &str,
) -> Result<AttestationReport, AgentError> {
    let parsed =
        AttestationReport::parse(report).map_err(|source| AgentError::SnpMalformedReport {
            origin: origin.to_string(),
            source,
        })?;
    if parsed.report_data != *report_data {
        return Err(AgentError::SnpReportDataMismatch {
            origin: origin.to_string(),
            expected: hex::encode(report_data),
            got: hex::encode(parsed.report_data),
        });
    }
    if parsed.vmpl != vmpl {
        return Err(AgentError::SnpVmplMismatch {
            origin: origin.to_string(),
            expected: vmpl,
            got: parsed.vmpl,
        });
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealbuild_common::api::{RegisterResponse, SnpCertKind};

    const MILAN: &[u8] = include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/data/sev-snp/virtee-sev/report_milan.bin"
    ));

    fn report_with(report_data: [u8; 64], vmpl: u32) -> Vec<u8> {
        let mut r = AttestationReport::parse(MILAN).unwrap();
        r.report_data = report_data;
        r.vmpl = vmpl;
        r.to_bytes()
    }

    /// A source answering with a fixed report.
    struct Canned {
        response: SnpReportResponse,
        asked: Vec<([u8; 64], u32)>,
    }

    impl SnpReportSource for Canned {
        fn get_report(
            &mut self,
            report_data: &[u8; 64],
            vmpl: u32,
        ) -> Result<SnpReportResponse, AgentError> {
            self.asked.push((*report_data, vmpl));
            Ok(self.response.clone())
        }
        fn describe(&self) -> String {
            "canned".into()
        }
    }

    fn collector(report: Vec<u8>, vmpl: u32) -> SnpCollector {
        let source = Canned {
            response: SnpReportResponse {
                report,
                certificates: vec![SnpCertificate {
                    kind: SnpCertKind::Vcek,
                    der: vec![0x30, 0x00],
                }],
                unknown_certificates: vec![Guid([7; 16])],
            },
            asked: vec![],
        };
        SnpCollector::new(Box::new(source), vmpl).unwrap()
    }

    #[test]
    fn evidence_carries_the_report_and_known_certificates() {
        let binding = [0x5a; 32];
        let mut c = collector(report_with(snp_report_data(&binding), 1), 1);
        assert_eq!(c.platform(), Platform::Snp);
        assert_eq!(c.platform().to_string(), "snp");
        assert!(c.agent_id().unwrap().starts_with("snp:"));
        assert_eq!(
            c.evidence_source(),
            "SEV-SNP evidence via canned",
            "names the interface"
        );
        let Evidence::Snp(ev) = c.collect(&binding).unwrap() else {
            panic!("not SNP evidence")
        };
        let parsed = AttestationReport::parse(&ev.report).unwrap();
        assert_eq!(&parsed.report_data[..32], &binding);
        assert_eq!(parsed.report_data[32..], [0u8; 32]);
        assert_eq!(ev.certificates.len(), 1);
        assert_eq!(ev.certificates[0].kind, SnpCertKind::Vcek);
    }

    #[test]
    fn registers_nothing_keeps_no_runtime_log_and_writes_snpguest_files() {
        let binding = [0x5a; 32];
        let mut c =
            collector(report_with(snp_report_data(&binding), 0), 0).with_agent_id("snp:builder-7");
        assert_eq!(c.agent_id().as_deref(), Some("snp:builder-7"));
        assert!(c.registration().unwrap().is_none());
        let challenge = RegisterResponse {
            agent_id: "x".into(),
            challenge_id: "c".into(),
            credential_blob: vec![],
            encrypted_secret: vec![],
        };
        assert!(matches!(
            c.activate(&challenge),
            Err(AgentError::CollectorState { .. })
        ));
        let event = RuntimeEvent {
            kind: sealbuild_common::cel::RuntimeEventKind::Command,
            data: "[\"make\"]".into(),
        };
        c.begin_runtime_log(std::slice::from_ref(&event)).unwrap();
        c.end_runtime_log(&event).unwrap();
        assert!(c.build_parameters().is_empty());
        let evidence = c.collect(&binding).unwrap();
        let dir = tempfile::tempdir().unwrap();
        c.write_evidence(&evidence, dir.path()).unwrap();
        let Evidence::Snp(ev) = &evidence else {
            panic!("not SNP evidence")
        };
        assert_eq!(
            std::fs::read(dir.path().join("report.bin")).unwrap(),
            ev.report
        );
        assert_eq!(
            std::fs::read(dir.path().join("vcek.der")).unwrap(),
            vec![0x30, 0x00]
        );
        let tpm = Evidence::Tpm(sealbuild_common::api::TpmEvidence {
            quote: vec![],
            signature: vec![],
            pcrs: Default::default(),
            event_log: None,
            runtime_log: None,
        });
        let e = c.write_evidence(&tpm, dir.path()).unwrap_err();
        assert!(
            e.to_string().contains("snp collector cannot write tpm"),
            "{e}"
        );
    }

    #[test]
    fn report_data_mismatch_refused() {
        let binding = [0x5a; 32];
        // The real report, with the REPORT_DATA of someone else's request.
        let mut c = collector(MILAN.to_vec(), 0);
        let err = c.collect(&binding).unwrap_err();
        assert!(
            matches!(err, AgentError::SnpReportDataMismatch { .. }),
            "{err}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains(&hex::encode(snp_report_data(&binding))),
            "{msg}"
        );
        assert!(msg.contains("tampering"), "{msg}");
    }

    #[test]
    fn vmpl_mismatch_refused() {
        let binding = [1; 32];
        let mut c = collector(report_with(snp_report_data(&binding), 0), 2);
        let err = c.collect(&binding).unwrap_err();
        assert!(
            matches!(
                err,
                AgentError::SnpVmplMismatch {
                    expected: 2,
                    got: 0,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn malformed_report_refused() {
        let binding = [1; 32];
        let mut c = collector(MILAN[..1000].to_vec(), 0);
        let err = c.collect(&binding).unwrap_err();
        assert!(
            matches!(err, AgentError::SnpMalformedReport { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("canned"), "{err}");
    }

    #[test]
    fn vmpl_over_three_refused() {
        let source = Canned {
            response: SnpReportResponse::default(),
            asked: vec![],
        };
        let err = SnpCollector::new(Box::new(source), 4).unwrap_err();
        assert!(err.to_string().contains("0..=3"), "{err}");
        let options = SnpOptions {
            vmpl: 4,
            ..SnpOptions::default()
        };
        assert!(matches!(
            SnpCollector::detect(&options),
            Err(AgentError::InvalidArgument { what: "VMPL", .. })
        ));
    }

    #[test]
    fn detection_prefers_configfs_then_device() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("tsm/report");
        let device = dir.path().join("sev-guest");
        let err = detect_interface(&root, &device).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(&root.display().to_string()), "{msg}");
        assert!(msg.contains(&device.display().to_string()), "{msg}");
        assert!(msg.contains("CONFIG_TSM_REPORTS"), "{msg}");
        std::fs::write(&device, b"").unwrap();
        assert_eq!(
            detect_interface(&root, &device).unwrap(),
            SnpInterface::SevGuest {
                device: device.clone()
            }
        );
        std::fs::create_dir_all(&root).unwrap();
        assert_eq!(
            detect_interface(&root, &device).unwrap(),
            SnpInterface::ConfigfsTsm { root: root.clone() }
        );
    }
}
