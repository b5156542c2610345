//! What a verified DCAP quote says: its measurements and identity (typed
//! claims, named as in the TD / enclave report), and its TCB verdict.

use sealbuild_common::tdx::{EnclaveReport, QuoteBody, TdReport, TeeType};

use super::pck::PckCa;
use super::tcbinfo::TcbStatus;
use super::TdxError;

/// The claims of a TD quote (TD report fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TdClaims {
    /// TEE_TCB_SVN.
    pub tee_tcb_svn: [u8; 16],
    /// TEE_TCB_SVN2 (TDX 1.5).
    pub tee_tcb_svn2: Option<[u8; 16]>,
    /// MRSEAM.
    pub mr_seam: [u8; 48],
    /// MRSIGNERSEAM.
    pub mr_signer_seam: [u8; 48],
    /// SEAMATTRIBUTES.
    pub seam_attributes: [u8; 8],
    /// TDATTRIBUTES.
    pub td_attributes: [u8; 8],
    /// Whether TDATTRIBUTES.DEBUG is set.
    pub debug: bool,
    /// XFAM.
    pub xfam: [u8; 8],
    /// MRTD.
    pub mrtd: [u8; 48],
    /// MRCONFIGID.
    pub mr_config_id: [u8; 48],
    /// MROWNER.
    pub mr_owner: [u8; 48],
    /// MROWNERCONFIG.
    pub mr_owner_config: [u8; 48],
    /// RTMR0.
    pub rtmr0: [u8; 48],
    /// RTMR1.
    pub rtmr1: [u8; 48],
    /// RTMR2.
    pub rtmr2: [u8; 48],
    /// RTMR3.
    pub rtmr3: [u8; 48],
    /// MRSERVICETD (TDX 1.5).
    pub mr_service_td: Option<[u8; 48]>,
    /// REPORTDATA.
    pub report_data: [u8; 64],
}

impl From<&TdReport> for TdClaims {
    fn from(t: &TdReport) -> Self {
        let [rtmr0, rtmr1, rtmr2, rtmr3] = t.rtmr;
        Self {
            tee_tcb_svn: t.tee_tcb_svn,
            tee_tcb_svn2: t.v15.as_ref().map(|v| v.tee_tcb_svn2),
            mr_seam: t.mr_seam,
            mr_signer_seam: t.mr_signer_seam,
            seam_attributes: t.seam_attributes,
            td_attributes: t.td_attributes,
            debug: t.is_debug(),
            xfam: t.xfam,
            mrtd: t.mr_td,
            mr_config_id: t.mr_config_id,
            mr_owner: t.mr_owner,
            mr_owner_config: t.mr_owner_config,
            rtmr0,
            rtmr1,
            rtmr2,
            rtmr3,
            mr_service_td: t.v15.as_ref().map(|v| v.mr_service_td),
            report_data: t.report_data,
        }
    }
}

/// The claims of an SGX quote (enclave report fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SgxClaims {
    /// MRENCLAVE.
    pub mr_enclave: [u8; 32],
    /// MRSIGNER.
    pub mr_signer: [u8; 32],
    /// ISVPRODID.
    pub isv_prod_id: u16,
    /// ISVSVN.
    pub isv_svn: u16,
    /// ATTRIBUTES.
    pub attributes: [u8; 16],
    /// Whether ATTRIBUTES marks a debug enclave.
    pub debug: bool,
    /// MISCSELECT.
    pub misc_select: u32,
    /// CPUSVN.
    pub cpu_svn: [u8; 16],
    /// REPORTDATA.
    pub report_data: [u8; 64],
}

impl From<&EnclaveReport> for SgxClaims {
    fn from(e: &EnclaveReport) -> Self {
        Self {
            mr_enclave: e.mr_enclave,
            mr_signer: e.mr_signer,
            isv_prod_id: e.isv_prod_id,
            isv_svn: e.isv_svn,
            attributes: e.attributes,
            debug: e.is_debug(),
            misc_select: e.misc_select,
            cpu_svn: e.cpu_svn,
            report_data: e.report_data,
        }
    }
}

/// The claims of either kind of quote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuoteClaims {
    /// A TDX quote.
    Td(Box<TdClaims>),
    /// An SGX quote.
    Sgx(SgxClaims),
}

impl QuoteClaims {
    /// The claims of a quote body.
    pub fn from_body(body: &QuoteBody) -> Self {
        match body {
            QuoteBody::Td(t) => Self::Td(Box::new(t.as_ref().into())),
            QuoteBody::Sgx(e) => Self::Sgx(e.as_ref().into()),
        }
    }

    /// REPORTDATA of either kind.
    pub fn report_data(&self) -> &[u8; 64] {
        match self {
            Self::Td(t) => &t.report_data,
            Self::Sgx(s) => &s.report_data,
        }
    }
}

/// The TCB appraisal of a quote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcbVerdict {
    /// The converged status (platform, TDX module, QE).
    pub status: TcbStatus,
    /// Advisory IDs of the matched platform, module and QE levels.
    pub advisory_ids: Vec<String>,
    /// The matched platform level's own status.
    pub platform_status: TcbStatus,
    /// The matched platform level's tcbDate.
    pub tcb_date: String,
    /// The TDX module identity's status (module major version > 0).
    pub tdx_module_status: Option<TcbStatus>,
    /// The QE Identity level's status.
    pub qe_status: TcbStatus,
    /// TCB Info's tcbEvaluationDataNumber.
    pub tcb_evaluation_data_number: u32,
}

/// A quote that verified completely: claims and TCB verdict. Whether its
/// status is acceptable is the policy's decision ([`Self::check_status`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TdxVerified {
    /// Quote version (3, 4, 5).
    pub version: u16,
    /// Body type (1 SGX, 2 TDX 1.0, 3 TDX 1.5).
    pub body_type: u16,
    /// SGX or TDX.
    pub tee_type: TeeType,
    /// The report's fields.
    pub claims: QuoteClaims,
    /// FMSPC from the PCK certificate.
    pub fmspc: [u8; 6],
    /// PCE ID from the PCK certificate.
    pub pce_id: [u8; 2],
    /// Which Intel CA issued the PCK certificate.
    pub pck_ca: PckCa,
    /// SHA-256 of the PCK certificate DER.
    pub pck_fingerprint: [u8; 32],
    /// Status and advisories.
    pub tcb: TcbVerdict,
    /// The earliest expiry among the collateral used (Unix seconds).
    pub collateral_valid_until: u64,
}

impl TdxVerified {
    /// Refuses a status outside `accepted` (the policy's list; the default
    /// is [`super::DEFAULT_ACCEPTED`], UpToDate only).
    pub fn check_status(&self, accepted: &[TcbStatus]) -> Result<(), TdxError> {
        if accepted.contains(&self.tcb.status) {
            return Ok(());
        }
        Err(TdxError::StatusNotAccepted {
            status: self.tcb.status,
            accepted: accepted
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            advisories: if self.tcb.advisory_ids.is_empty() {
                "none".into()
            } else {
                self.tcb.advisory_ids.join(", ")
            },
        })
    }
}
