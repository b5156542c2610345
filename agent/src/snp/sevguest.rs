//! SEV-SNP reports through `/dev/sev-guest` (Linux
//! `include/uapi/linux/sev-guest.h`: SNP_GET_REPORT, SNP_GET_EXT_REPORT),
//! by way of the `sev` crate's guest API, which owns the ioctl and its
//! `unsafe`.
//!
//! The request is MSG_REPORT_REQ (SEV-SNP Firmware ABI, AMD pub. 56860 rev.
//! 1.58, §7.3 "Attestation"): REPORT_DATA (64 bytes) and VMPL, sent with message
//! version 1 (the version that defines that layout). The device call sits
//! behind [`SevGuestDevice`] so that what is sent and how the answer is
//! converted can be tested without the device.
//!
//! Host certificates: SNP_GET_EXT_REPORT also returns the host's certificate
//! table (GHCB §4.1.8.1). The `sev` crate (8.x) walks that host-written
//! table through raw pointers without bounds checks, so a hostile host can
//! make it read past its buffer. [`SevGuest`] therefore only asks for the
//! table when told to ([`super::SnpOptions::sev_guest_host_certificates`]);
//! otherwise it issues SNP_GET_REPORT and supplies no certificates (the
//! verifier then needs the VCEK/VLEK from its own collateral).
//! configfs-tsm, preferred by [`super::SnpCollector::detect`], hands the
//! table over as bytes that [`super::certtable::CertTable::parse`] checks.

use super::certtable::Guid;
use super::{SnpReportResponse, SnpReportSource, SEV_GUEST_DEVICE};
use crate::evidence::AgentError;
use sealbuild_common::api::{SnpCertKind, SnpCertificate};
use sev::firmware::host::{CertTableEntry, CertType};

/// MSG_REPORT_REQ message version sent.
pub const MESSAGE_VERSION: u32 = 1;

/// What is sent to the device for one report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestReportRequest {
    /// The guest-request message version ([`MESSAGE_VERSION`]).
    pub message_version: u32,
    /// MSG_REPORT_REQ REPORT_DATA.
    pub report_data: [u8; 64],
    /// MSG_REPORT_REQ VMPL.
    pub vmpl: u32,
    /// SNP_GET_EXT_REPORT (with the host's certificates) rather than
    /// SNP_GET_REPORT.
    pub extended: bool,
}

impl GuestReportRequest {
    /// The ioctl this request is issued as.
    pub fn ioctl_name(&self) -> &'static str {
        if self.extended {
            "SNP_GET_EXT_REPORT"
        } else {
            "SNP_GET_REPORT"
        }
    }
}

/// What the device returned, in the `sev` crate's types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestReportResponse {
    /// The report bytes.
    pub report: Vec<u8>,
    /// The host's certificates (extended requests only; `None` when the
    /// host supplied none).
    pub certificates: Option<Vec<CertTableEntry>>,
}

/// The device call, narrowed to one request.
pub trait SevGuestDevice: Send {
    /// Issues `request`.
    fn request(&mut self, request: &GuestReportRequest) -> Result<GuestReportResponse, AgentError>;

    /// Names the device for messages.
    fn name(&self) -> String;
}

/// The real `/dev/sev-guest`.
#[derive(Debug)]
pub struct SevGuestFirmware(sev::firmware::guest::Firmware);

impl SevGuestFirmware {
    /// Opens [`SEV_GUEST_DEVICE`].
    pub fn open() -> Result<Self, AgentError> {
        sev::firmware::guest::Firmware::open()
            .map(Self)
            .map_err(|e| AgentError::SnpDevice {
                device: SEV_GUEST_DEVICE.to_string(),
                request: "open",
                detail: format!(
                    "{e} (needs the sev-guest module and read access to the device, usually root)"
                ),
            })
    }
}

impl SevGuestDevice for SevGuestFirmware {
    fn request(&mut self, request: &GuestReportRequest) -> Result<GuestReportResponse, AgentError> {
        let device_err = |e: sev::error::UserApiError| AgentError::SnpDevice {
            device: SEV_GUEST_DEVICE.to_string(),
            request: request.ioctl_name(),
            detail: e.to_string(),
        };
        let version = Some(request.message_version);
        let data = Some(request.report_data);
        let vmpl = Some(request.vmpl);
        if request.extended {
            let (report, certificates) = self
                .0
                .get_ext_report(version, data, vmpl)
                .map_err(device_err)?;
            Ok(GuestReportResponse {
                report,
                certificates,
            })
        } else {
            let report = self.0.get_report(version, data, vmpl).map_err(device_err)?;
            Ok(GuestReportResponse {
                report,
                certificates: None,
            })
        }
    }

    fn name(&self) -> String {
        SEV_GUEST_DEVICE.to_string()
    }
}

/// Requests reports from a [`SevGuestDevice`].
#[derive(Debug)]
pub struct SevGuest<D: SevGuestDevice> {
    device: D,
    host_certificates: bool,
}

impl<D: SevGuestDevice> SevGuest<D> {
    /// Uses `device`; `host_certificates` selects SNP_GET_EXT_REPORT (see the
    /// module docs for why it is off by default).
    pub fn new(device: D, host_certificates: bool) -> Self {
        Self {
            device,
            host_certificates,
        }
    }

    /// The device, e.g. to inspect a test double.
    pub fn device(&self) -> &D {
        &self.device
    }

    /// The request sent for `report_data` at `vmpl`.
    pub fn request_for(&self, report_data: &[u8; 64], vmpl: u32) -> GuestReportRequest {
        GuestReportRequest {
            message_version: MESSAGE_VERSION,
            report_data: *report_data,
            vmpl,
            extended: self.host_certificates,
        }
    }
}

impl<D: SevGuestDevice> SnpReportSource for SevGuest<D> {
    fn get_report(
        &mut self,
        report_data: &[u8; 64],
        vmpl: u32,
    ) -> Result<SnpReportResponse, AgentError> {
        let request = self.request_for(report_data, vmpl);
        let response = self.device.request(&request)?;
        convert_response(response, &self.device.name())
    }

    fn describe(&self) -> String {
        format!("sev-guest {}", self.device.name())
    }
}

/// Converts the device's answer: the report bytes unchanged, the
/// certificates with a known kind mapped to [`SnpCertificate`], the others
/// (CRL, unknown GUIDs) skipped and their GUIDs reported. `device` names the
/// origin in errors.
pub fn convert_response(
    response: GuestReportResponse,
    device: &str,
) -> Result<SnpReportResponse, AgentError> {
    let mut out = SnpReportResponse {
        report: response.report,
        ..Default::default()
    };
    for entry in response.certificates.unwrap_or_default() {
        let kind = match entry.cert_type {
            CertType::VCEK => Some(SnpCertKind::Vcek),
            CertType::VLEK => Some(SnpCertKind::Vlek),
            CertType::ASK => Some(SnpCertKind::Ask),
            CertType::ARK => Some(SnpCertKind::Ark),
            _ => None,
        };
        match kind {
            Some(kind) if !entry.data.is_empty() => out.certificates.push(SnpCertificate {
                kind,
                der: entry.data,
            }),
            Some(kind) => {
                return Err(AgentError::SnpCertTable {
                    origin: format!("sev-guest {device}"),
                    source: sealbuild_common::FormatError::unexpected(
                        "GHCB certificate table entry length",
                        "a non-empty certificate",
                        format!("length 0 for the {} entry", kind.as_str()),
                    ),
                })
            }
            None => {
                let text = entry.cert_type.to_string();
                let guid = Guid::parse_str(&text).map_err(|source| AgentError::SnpCertTable {
                    origin: format!("sev-guest {device}"),
                    source,
                })?;
                out.unknown_certificates.push(guid);
            }
        }
    }
    Ok(out)
}
