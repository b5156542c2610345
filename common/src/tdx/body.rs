//! Quote bodies: the SGX enclave report (also the QE report) and the TD
//! report bodies of TDX 1.0 and 1.5.
//!
//! * Enclave report body, 384 bytes: "Intel® SGX ECDSA Quote Library API",
//!   Appendix "Quote Format", table "Enclave Report Body", with the field
//!   names of `sgx_report_body_t` (Intel SGX SDK `sgx_report.h`, which names
//!   the Key Separation and Sharing fields the quote table lists as
//!   reserved): CPUSVN 16, MISCSELECT 4, reserved 12, ISVEXTPRODID 16,
//!   ATTRIBUTES 16, MRENCLAVE 32, reserved 32, MRSIGNER 32, reserved 32,
//!   CONFIGID 64, ISVPRODID 2, ISVSVN 2, CONFIGSVN 2, reserved 42,
//!   ISVFAMILYID 16, REPORTDATA 64. The reserved bytes must be zero.
//! * TD report body (TDX 1.0), 584 bytes: "Intel® TDX DCAP Quoting Library
//!   API", Appendix A, table "TD Quote Body": TEE_TCB_SVN 16, MRSEAM 48,
//!   MRSIGNERSEAM 48, SEAMATTRIBUTES 8, TDATTRIBUTES 8, XFAM 8, MRTD 48,
//!   MRCONFIGID 48, MROWNER 48, MROWNERCONFIG 48, RTMR0..3 4×48,
//!   REPORTDATA 64.
//! * TDX 1.5 (quote version 5, body type 3), 648 bytes: the same followed by
//!   TEE_TCB_SVN2 16 and MRSERVICETD 48 (table "TD Quote Body v1.5").

use crate::error::FormatError;
use crate::reader::{Reader, Writer};

/// Size of an enclave report body.
pub const ENCLAVE_REPORT_SIZE: usize = 384;
/// Size of a TDX 1.0 TD report body.
pub const TD_REPORT10_SIZE: usize = 584;
/// Size of a TDX 1.5 TD report body.
pub const TD_REPORT15_SIZE: usize = 648;

/// TDATTRIBUTES bit 0: the TD is under debug (its state can be read and
/// changed by the host); TDX Module ABI, "TDATTRIBUTES" definition.
pub const TD_ATTR_DEBUG: u64 = 1 << 0;
/// TDATTRIBUTES bit 28: SEPT #VE disabled.
pub const TD_ATTR_SEPT_VE_DISABLE: u64 = 1 << 28;
/// SGX ATTRIBUTES flags bit 1: the enclave is a debug enclave.
pub const SGX_ATTR_DEBUG: u8 = 1 << 1;

/// An SGX enclave report body (an SGX quote's body, and every QE report).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EnclaveReport {
    /// CPUSVN.
    pub cpu_svn: [u8; 16],
    /// MISCSELECT.
    pub misc_select: u32,
    /// ISVEXTPRODID (KSS).
    pub isv_ext_prod_id: [u8; 16],
    /// ATTRIBUTES (flags u64 LE, then XFRM u64 LE).
    pub attributes: [u8; 16],
    /// MRENCLAVE.
    pub mr_enclave: [u8; 32],
    /// MRSIGNER.
    pub mr_signer: [u8; 32],
    /// CONFIGID (KSS).
    pub config_id: [u8; 64],
    /// ISVPRODID.
    pub isv_prod_id: u16,
    /// ISVSVN.
    pub isv_svn: u16,
    /// CONFIGSVN (KSS).
    pub config_svn: u16,
    /// ISVFAMILYID (KSS).
    pub isv_family_id: [u8; 16],
    /// REPORTDATA.
    pub report_data: [u8; 64],
}

impl EnclaveReport {
    /// Reads the 384 bytes of an enclave report body.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, FormatError> {
        let cpu_svn = r.array("enclave report CPUSVN")?;
        let misc_select = r.u32_le("enclave report MISCSELECT")?;
        r.zeros(12, "enclave report reserved (offset 20)")?;
        let isv_ext_prod_id = r.array("enclave report ISVEXTPRODID")?;
        let attributes = r.array("enclave report ATTRIBUTES")?;
        let mr_enclave = r.array("enclave report MRENCLAVE")?;
        r.zeros(32, "enclave report reserved (offset 96)")?;
        let mr_signer = r.array("enclave report MRSIGNER")?;
        r.zeros(32, "enclave report reserved (offset 160)")?;
        let config_id = r.array("enclave report CONFIGID")?;
        let isv_prod_id = r.u16_le("enclave report ISVPRODID")?;
        let isv_svn = r.u16_le("enclave report ISVSVN")?;
        let config_svn = r.u16_le("enclave report CONFIGSVN")?;
        r.zeros(42, "enclave report reserved (offset 262)")?;
        Ok(Self {
            cpu_svn,
            misc_select,
            isv_ext_prod_id,
            attributes,
            mr_enclave,
            mr_signer,
            config_id,
            isv_prod_id,
            isv_svn,
            config_svn,
            isv_family_id: r.array("enclave report ISVFAMILYID")?,
            report_data: r.array("enclave report REPORTDATA")?,
        })
    }

    /// Parses exactly [`ENCLAVE_REPORT_SIZE`] bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        let mut r = Reader::new(bytes);
        let v = Self::read(&mut r)?;
        r.finish("enclave report")?;
        Ok(v)
    }

    /// Appends the 384-byte encoding.
    pub fn write(&self, w: &mut Writer) {
        w.bytes(&self.cpu_svn)
            .u32_le(self.misc_select)
            .bytes(&[0; 12])
            .bytes(&self.isv_ext_prod_id)
            .bytes(&self.attributes)
            .bytes(&self.mr_enclave)
            .bytes(&[0; 32])
            .bytes(&self.mr_signer)
            .bytes(&[0; 32])
            .bytes(&self.config_id)
            .u16_le(self.isv_prod_id)
            .u16_le(self.isv_svn)
            .u16_le(self.config_svn)
            .bytes(&[0; 42])
            .bytes(&self.isv_family_id)
            .bytes(&self.report_data);
    }

    /// The 384-byte encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.write(&mut w);
        w.into_vec()
    }

    /// Whether ATTRIBUTES marks a debug enclave.
    pub fn is_debug(&self) -> bool {
        self.attributes
            .first()
            .is_some_and(|f| f & SGX_ATTR_DEBUG != 0)
    }
}

/// The fields TDX 1.5 adds (quote version 5, body type 3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Td15Fields {
    /// TEE_TCB_SVN2: the TCB SVN of the TDX module after a TD-preserving update.
    pub tee_tcb_svn2: [u8; 16],
    /// MRSERVICETD: the measurement of the service TDs bound to this TD.
    pub mr_service_td: [u8; 48],
}

/// A TD report body (TDX 1.0, or 1.5 with [`Td15Fields`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TdReport {
    /// TEE_TCB_SVN: byte 0 TDX module SVN, byte 1 module major version,
    /// byte 2 SEAMLDR (TDX late microcode) SVN, …
    pub tee_tcb_svn: [u8; 16],
    /// MRSEAM: measurement of the TDX module.
    pub mr_seam: [u8; 48],
    /// MRSIGNERSEAM: its signer (zero for Intel's module).
    pub mr_signer_seam: [u8; 48],
    /// SEAMATTRIBUTES (zero for production modules).
    pub seam_attributes: [u8; 8],
    /// TDATTRIBUTES (bit 0 DEBUG, bit 28 SEPT_VE_DISABLE, …).
    pub td_attributes: [u8; 8],
    /// XFAM: the extended features the TD may use.
    pub xfam: [u8; 8],
    /// MRTD: the build-time measurement of the TD.
    pub mr_td: [u8; 48],
    /// MRCONFIGID: software-defined configuration id.
    pub mr_config_id: [u8; 48],
    /// MROWNER: software-defined owner id.
    pub mr_owner: [u8; 48],
    /// MROWNERCONFIG: software-defined owner configuration.
    pub mr_owner_config: [u8; 48],
    /// RTMR0..RTMR3: the run-time measurement registers.
    pub rtmr: [[u8; 48]; 4],
    /// REPORTDATA supplied by the TD.
    pub report_data: [u8; 64],
    /// TDX 1.5 fields (version 5 quotes with body type 3).
    pub v15: Option<Td15Fields>,
}

impl TdReport {
    /// Reads a TDX 1.0 body, then the TDX 1.5 fields when `v15`.
    pub fn read(r: &mut Reader<'_>, v15: bool) -> Result<Self, FormatError> {
        let mut rep = Self {
            tee_tcb_svn: r.array("TD report TEE_TCB_SVN")?,
            mr_seam: r.array("TD report MRSEAM")?,
            mr_signer_seam: r.array("TD report MRSIGNERSEAM")?,
            seam_attributes: r.array("TD report SEAMATTRIBUTES")?,
            td_attributes: r.array("TD report TDATTRIBUTES")?,
            xfam: r.array("TD report XFAM")?,
            mr_td: r.array("TD report MRTD")?,
            mr_config_id: r.array("TD report MRCONFIGID")?,
            mr_owner: r.array("TD report MROWNER")?,
            mr_owner_config: r.array("TD report MROWNERCONFIG")?,
            rtmr: [
                r.array("TD report RTMR0")?,
                r.array("TD report RTMR1")?,
                r.array("TD report RTMR2")?,
                r.array("TD report RTMR3")?,
            ],
            report_data: r.array("TD report REPORTDATA")?,
            v15: None,
        };
        if v15 {
            rep.v15 = Some(Td15Fields {
                tee_tcb_svn2: r.array("TD report TEE_TCB_SVN2")?,
                mr_service_td: r.array("TD report MRSERVICETD")?,
            });
        }
        Ok(rep)
    }

    /// Appends the 584- or 648-byte encoding.
    pub fn write(&self, w: &mut Writer) {
        w.bytes(&self.tee_tcb_svn)
            .bytes(&self.mr_seam)
            .bytes(&self.mr_signer_seam)
            .bytes(&self.seam_attributes)
            .bytes(&self.td_attributes)
            .bytes(&self.xfam)
            .bytes(&self.mr_td)
            .bytes(&self.mr_config_id)
            .bytes(&self.mr_owner)
            .bytes(&self.mr_owner_config);
        for r in &self.rtmr {
            w.bytes(r);
        }
        w.bytes(&self.report_data);
        if let Some(v) = &self.v15 {
            w.bytes(&v.tee_tcb_svn2).bytes(&v.mr_service_td);
        }
    }

    /// TDATTRIBUTES as a little-endian integer.
    pub fn td_attributes_u64(&self) -> u64 {
        u64::from_le_bytes(self.td_attributes)
    }

    /// Whether TDATTRIBUTES.DEBUG is set.
    pub fn is_debug(&self) -> bool {
        self.td_attributes_u64() & TD_ATTR_DEBUG != 0
    }
}

/// The body of a quote.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum QuoteBody {
    /// An SGX enclave report (version 3 and 4 SGX quotes, version 5 body type 1).
    Sgx(Box<EnclaveReport>),
    /// A TD report (version 4; version 5 body type 2 or 3).
    Td(Box<TdReport>),
}

impl QuoteBody {
    /// The version 5 body type: 1 SGX, 2 TDX 1.0, 3 TDX 1.5.
    pub fn body_type(&self) -> u16 {
        match self {
            Self::Sgx(_) => 1,
            Self::Td(t) if t.v15.is_some() => 3,
            Self::Td(_) => 2,
        }
    }

    /// Encoded size.
    pub fn size(&self) -> usize {
        match self.body_type() {
            1 => ENCLAVE_REPORT_SIZE,
            2 => TD_REPORT10_SIZE,
            _ => TD_REPORT15_SIZE,
        }
    }

    /// REPORTDATA of either kind.
    pub fn report_data(&self) -> &[u8; 64] {
        match self {
            Self::Sgx(e) => &e.report_data,
            Self::Td(t) => &t.report_data,
        }
    }

    /// Appends the encoding.
    pub fn write(&self, w: &mut Writer) {
        match self {
            Self::Sgx(e) => e.write(w),
            Self::Td(t) => t.write(w),
        }
    }
}
