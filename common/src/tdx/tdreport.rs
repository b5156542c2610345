//! The TDREPORT_STRUCT: the 1024-byte report `TDG.MR.REPORT` returns inside
//! a trust domain, before a quoting enclave turns it into a quote.
//!
//! Specifications:
//!
//! * Intel® TDX Module ABI Specification (348551), section "Report
//!   Structures": TDREPORT_STRUCT = REPORTMACSTRUCT (256 bytes) ‖
//!   TEE_TCB_INFO (239) ‖ reserved (17) ‖ TDINFO_STRUCT (512); REPORTTYPE
//!   (TEE type 0x81 = TDX, subtype 0, version 0 or 1); TEE_TCB_INFO_HASH
//!   and TEE_INFO_HASH are SHA-384 of TEE_TCB_INFO and TDINFO_STRUCT. The
//!   MAC is keyed to the CPU and can only be checked on that platform (by
//!   the quoting enclave), never here.
//! * The Linux TDX guest ABI (`include/uapi/linux/tdx-guest.h`,
//!   `TDX_REPORT_LEN` 1024) and the kernel's TDX selftest (`struct
//!   tdreport`), which name the same fields.
//!
//! Layout (offsets from the start of the structure; integers
//! little-endian):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 000h | 4 | REPORTTYPE: TEE type 0x81, subtype 0, version 0/1, reserved 0 |
//! | 004h | 12 | reserved, zero |
//! | 010h | 16 | CPUSVN |
//! | 020h | 48 | TEE_TCB_INFO_HASH |
//! | 050h | 48 | TEE_INFO_HASH |
//! | 080h | 64 | REPORTDATA |
//! | 0C0h | 32 | reserved, zero |
//! | 0E0h | 32 | MAC |
//! | 100h | 8 | TEE_TCB_INFO.VALID (bitmap of the valid 8-byte words) |
//! | 108h | 16 | TEE_TCB_INFO.TEE_TCB_SVN |
//! | 118h | 48 | TEE_TCB_INFO.MRSEAM |
//! | 148h | 48 | TEE_TCB_INFO.MRSIGNERSEAM |
//! | 178h | 8 | TEE_TCB_INFO.ATTRIBUTES (SEAMATTRIBUTES of a quote) |
//! | 180h | 16 | TEE_TCB_INFO.TEE_TCB_SVN2 (TDX 1.5) |
//! | 190h | 95 | TEE_TCB_INFO reserved, zero |
//! | 1EFh | 17 | reserved, zero |
//! | 200h | 8 | TDINFO.ATTRIBUTES (TDATTRIBUTES) |
//! | 208h | 8 | TDINFO.XFAM |
//! | 210h | 48 ×4 | TDINFO.MRTD, MRCONFIGID, MROWNER, MROWNERCONFIG |
//! | 2D0h | 48 ×4 | TDINFO.RTMR0..3 |
//! | 390h | 48 | TDINFO.SERVTD_HASH (TDX 1.5; zero in TDX 1.0) |
//! | 3C0h | 64 | TDINFO reserved, zero |
//!
//! A quote's TD report body (module [`super::body`]) is a projection of
//! this structure: [`TdReportStruct::to_quote_body`].

use super::body::{Td15Fields, TdReport};
use crate::error::FormatError;
use crate::reader::{Reader, Writer};
use crate::HashAlg;

/// Size of a TDREPORT_STRUCT.
pub const TDREPORT_SIZE: usize = 1024;
/// Size of TEE_TCB_INFO.
pub const TEE_TCB_INFO_SIZE: usize = 239;
/// Size of TDINFO_STRUCT.
pub const TDINFO_SIZE: usize = 512;
/// REPORTTYPE.TYPE of a TDX report.
pub const REPORT_TYPE_TDX: u8 = 0x81;
/// The REPORTTYPE.VERSION values defined so far (0: TDX 1.0 layout; 1:
/// TDX 1.5, SERVTD_HASH populated).
pub const REPORT_VERSIONS: [u8; 2] = [0, 1];

/// REPORTTYPE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReportType {
    /// TEE type: 0x81 (TDX).
    pub tee_type: u8,
    /// Subtype: 0.
    pub subtype: u8,
    /// Version: 0 or 1.
    pub version: u8,
}

/// TEE_TCB_INFO: the TDX module's identity and version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TeeTcbInfo {
    /// VALID: bit *i* set when the 8 bytes at offset 8·*i* are valid.
    pub valid: [u8; 8],
    /// TEE_TCB_SVN.
    pub tee_tcb_svn: [u8; 16],
    /// MRSEAM.
    pub mr_seam: [u8; 48],
    /// MRSIGNERSEAM.
    pub mr_signer_seam: [u8; 48],
    /// ATTRIBUTES (a quote's SEAMATTRIBUTES).
    pub attributes: [u8; 8],
    /// TEE_TCB_SVN2 (TDX 1.5).
    pub tee_tcb_svn2: [u8; 16],
}

/// TDINFO_STRUCT: the TD's measurements and attributes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TdInfo {
    /// ATTRIBUTES (a quote's TDATTRIBUTES).
    pub attributes: [u8; 8],
    /// XFAM.
    pub xfam: [u8; 8],
    /// MRTD.
    pub mr_td: [u8; 48],
    /// MRCONFIGID.
    pub mr_config_id: [u8; 48],
    /// MROWNER.
    pub mr_owner: [u8; 48],
    /// MROWNERCONFIG.
    pub mr_owner_config: [u8; 48],
    /// RTMR0..3.
    pub rtmr: [[u8; 48]; 4],
    /// SERVTD_HASH (a TDX 1.5 quote's MRSERVICETD).
    pub servtd_hash: [u8; 48],
}

/// A parsed TDREPORT_STRUCT.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TdReportStruct {
    /// REPORTTYPE.
    pub report_type: ReportType,
    /// CPUSVN.
    pub cpu_svn: [u8; 16],
    /// TEE_TCB_INFO_HASH: SHA-384 of TEE_TCB_INFO, as reported.
    pub tee_tcb_info_hash: [u8; 48],
    /// TEE_INFO_HASH: SHA-384 of TDINFO_STRUCT, as reported.
    pub tee_info_hash: [u8; 48],
    /// REPORTDATA.
    pub report_data: [u8; 64],
    /// MAC over REPORTMACSTRUCT (platform-keyed; not checkable here).
    pub mac: [u8; 32],
    /// TEE_TCB_INFO.
    pub tee_tcb_info: TeeTcbInfo,
    /// TDINFO_STRUCT.
    pub td_info: TdInfo,
}

impl TeeTcbInfo {
    fn read(r: &mut Reader<'_>) -> Result<Self, FormatError> {
        let v = Self {
            valid: r.array("TEE_TCB_INFO VALID")?,
            tee_tcb_svn: r.array("TEE_TCB_INFO TEE_TCB_SVN")?,
            mr_seam: r.array("TEE_TCB_INFO MRSEAM")?,
            mr_signer_seam: r.array("TEE_TCB_INFO MRSIGNERSEAM")?,
            attributes: r.array("TEE_TCB_INFO ATTRIBUTES")?,
            tee_tcb_svn2: r.array("TEE_TCB_INFO TEE_TCB_SVN2")?,
        };
        r.zeros(95, "TEE_TCB_INFO reserved")?;
        Ok(v)
    }

    fn write(&self, w: &mut Writer) {
        w.bytes(&self.valid)
            .bytes(&self.tee_tcb_svn)
            .bytes(&self.mr_seam)
            .bytes(&self.mr_signer_seam)
            .bytes(&self.attributes)
            .bytes(&self.tee_tcb_svn2)
            .bytes(&[0; 95]);
    }

    /// The 239-byte encoding (what TEE_TCB_INFO_HASH covers).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.write(&mut w);
        w.into_vec()
    }
}

impl TdInfo {
    fn read(r: &mut Reader<'_>) -> Result<Self, FormatError> {
        let v = Self {
            attributes: r.array("TDINFO ATTRIBUTES")?,
            xfam: r.array("TDINFO XFAM")?,
            mr_td: r.array("TDINFO MRTD")?,
            mr_config_id: r.array("TDINFO MRCONFIGID")?,
            mr_owner: r.array("TDINFO MROWNER")?,
            mr_owner_config: r.array("TDINFO MROWNERCONFIG")?,
            rtmr: [
                r.array("TDINFO RTMR0")?,
                r.array("TDINFO RTMR1")?,
                r.array("TDINFO RTMR2")?,
                r.array("TDINFO RTMR3")?,
            ],
            servtd_hash: r.array("TDINFO SERVTD_HASH")?,
        };
        r.zeros(64, "TDINFO reserved")?;
        Ok(v)
    }

    fn write(&self, w: &mut Writer) {
        w.bytes(&self.attributes)
            .bytes(&self.xfam)
            .bytes(&self.mr_td)
            .bytes(&self.mr_config_id)
            .bytes(&self.mr_owner)
            .bytes(&self.mr_owner_config);
        for r in &self.rtmr {
            w.bytes(r);
        }
        w.bytes(&self.servtd_hash).bytes(&[0; 64]);
    }

    /// The 512-byte encoding (what TEE_INFO_HASH covers).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.write(&mut w);
        w.into_vec()
    }
}

impl TdReportStruct {
    /// Reads the 1024 bytes of a TDREPORT_STRUCT.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, FormatError> {
        let report_type = ReportType {
            tee_type: r.u8_one_of("TDREPORT REPORTTYPE.TYPE", &[REPORT_TYPE_TDX], "0x81 (TDX)")?,
            subtype: r.u8_one_of("TDREPORT REPORTTYPE.SUBTYPE", &[0], "0")?,
            version: r.u8_one_of("TDREPORT REPORTTYPE.VERSION", &REPORT_VERSIONS, "0 or 1")?,
        };
        r.zeros(1, "TDREPORT REPORTTYPE reserved")?;
        r.zeros(12, "REPORTMACSTRUCT reserved (offset 4)")?;
        let cpu_svn = r.array("REPORTMACSTRUCT CPUSVN")?;
        let tee_tcb_info_hash = r.array("REPORTMACSTRUCT TEE_TCB_INFO_HASH")?;
        let tee_info_hash = r.array("REPORTMACSTRUCT TEE_INFO_HASH")?;
        let report_data = r.array("REPORTMACSTRUCT REPORTDATA")?;
        r.zeros(32, "REPORTMACSTRUCT reserved (offset 0xc0)")?;
        let mac = r.array("REPORTMACSTRUCT MAC")?;
        let tee_tcb_info = TeeTcbInfo::read(r)?;
        r.zeros(17, "TDREPORT reserved (offset 0x1ef)")?;
        let td_info = TdInfo::read(r)?;
        Ok(Self {
            report_type,
            cpu_svn,
            tee_tcb_info_hash,
            tee_info_hash,
            report_data,
            mac,
            tee_tcb_info,
            td_info,
        })
    }

    /// Parses exactly [`TDREPORT_SIZE`] bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        let mut r = Reader::new(bytes);
        let v = Self::read(&mut r)?;
        r.finish("TDREPORT_STRUCT")?;
        Ok(v)
    }

    /// Appends the 1024-byte encoding.
    pub fn write(&self, w: &mut Writer) {
        let t = &self.report_type;
        w.u8(t.tee_type)
            .u8(t.subtype)
            .u8(t.version)
            .u8(0)
            .bytes(&[0; 12])
            .bytes(&self.cpu_svn)
            .bytes(&self.tee_tcb_info_hash)
            .bytes(&self.tee_info_hash)
            .bytes(&self.report_data)
            .bytes(&[0; 32])
            .bytes(&self.mac);
        self.tee_tcb_info.write(w);
        w.bytes(&[0; 17]);
        self.td_info.write(w);
    }

    /// The 1024-byte encoding (inverse of [`Self::parse`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.write(&mut w);
        w.into_vec()
    }

    /// SHA-384 of TEE_TCB_INFO as it is in the report (to compare with
    /// [`Self::tee_tcb_info_hash`]).
    pub fn computed_tee_tcb_info_hash(&self) -> Vec<u8> {
        HashAlg::Sha384.digest(&self.tee_tcb_info.to_bytes())
    }

    /// SHA-384 of TDINFO_STRUCT as it is in the report (to compare with
    /// [`Self::tee_info_hash`]).
    pub fn computed_tee_info_hash(&self) -> Vec<u8> {
        HashAlg::Sha384.digest(&self.td_info.to_bytes())
    }

    /// The TD quote body the quoting enclave makes of this report: the TDX
    /// 1.0 body, with the TDX 1.5 fields (TEE_TCB_SVN2, MRSERVICETD) when
    /// `v15`.
    pub fn to_quote_body(&self, v15: bool) -> TdReport {
        let tcb = &self.tee_tcb_info;
        let td = &self.td_info;
        TdReport {
            tee_tcb_svn: tcb.tee_tcb_svn,
            mr_seam: tcb.mr_seam,
            mr_signer_seam: tcb.mr_signer_seam,
            seam_attributes: tcb.attributes,
            td_attributes: td.attributes,
            xfam: td.xfam,
            mr_td: td.mr_td,
            mr_config_id: td.mr_config_id,
            mr_owner: td.mr_owner,
            mr_owner_config: td.mr_owner_config,
            rtmr: td.rtmr,
            report_data: self.report_data,
            v15: v15.then_some(Td15Fields {
                tee_tcb_svn2: tcb.tee_tcb_svn2,
                mr_service_td: td.servtd_hash,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic report: every field a distinct non-zero pattern, the
    /// hashes consistent.
    fn sample() -> TdReportStruct {
        let tee_tcb_info = TeeTcbInfo {
            valid: [0xff, 0x01, 0x03, 0, 0, 0, 0, 0],
            tee_tcb_svn: [2; 16],
            mr_seam: [3; 48],
            mr_signer_seam: [4; 48],
            attributes: [5; 8],
            tee_tcb_svn2: [6; 16],
        };
        let td_info = TdInfo {
            attributes: [7; 8],
            xfam: [8; 8],
            mr_td: [9; 48],
            mr_config_id: [10; 48],
            mr_owner: [11; 48],
            mr_owner_config: [12; 48],
            rtmr: [[13; 48], [14; 48], [15; 48], [16; 48]],
            servtd_hash: [17; 48],
        };
        let mut r = TdReportStruct {
            report_type: ReportType {
                tee_type: 0x81,
                subtype: 0,
                version: 1,
            },
            cpu_svn: [18; 16],
            tee_tcb_info_hash: [0; 48],
            tee_info_hash: [0; 48],
            report_data: [19; 64],
            mac: [20; 32],
            tee_tcb_info,
            td_info,
        };
        r.tee_tcb_info_hash = r.computed_tee_tcb_info_hash().try_into().unwrap();
        r.tee_info_hash = r.computed_tee_info_hash().try_into().unwrap();
        r
    }

    #[test]
    fn round_trip_and_offsets() {
        let r = sample();
        let bytes = r.to_bytes();
        assert_eq!(bytes.len(), TDREPORT_SIZE);
        assert_eq!(TdReportStruct::parse(&bytes).unwrap(), r);
        // Offsets of the layout table.
        assert_eq!(&bytes[0x80..0xC0], &[19; 64]);
        assert_eq!(&bytes[0x100..0x108], &r.tee_tcb_info.valid);
        assert_eq!(&bytes[0x178..0x180], &[5; 8]);
        assert_eq!(&bytes[0x180..0x190], &[6; 16]);
        assert_eq!(&bytes[0x200..0x208], &[7; 8]);
        assert_eq!(&bytes[0x210..0x240], &[9; 48]);
        assert_eq!(&bytes[0x2D0..0x300], &[13; 48]);
        assert_eq!(&bytes[0x390..0x3C0], &[17; 48]);
        assert_eq!(r.tee_tcb_info.to_bytes().len(), TEE_TCB_INFO_SIZE);
        assert_eq!(r.td_info.to_bytes().len(), TDINFO_SIZE);
        let body = r.to_quote_body(true);
        assert_eq!(body.seam_attributes, [5; 8]);
        assert_eq!(body.td_attributes, [7; 8]);
        assert_eq!(body.rtmr[3], [16; 48]);
        assert_eq!(body.v15.unwrap().mr_service_td, [17; 48]);
        assert!(r.to_quote_body(false).v15.is_none());
    }

    #[test]
    fn reserved_bytes_header_and_length_are_refused() {
        let good = sample().to_bytes();
        for (offset, field) in [
            (0x00, "TDREPORT REPORTTYPE.TYPE"),
            (0x01, "TDREPORT REPORTTYPE.SUBTYPE"),
            (0x03, "TDREPORT REPORTTYPE reserved"),
            (0x04, "REPORTMACSTRUCT reserved (offset 4)"),
            (0xC5, "REPORTMACSTRUCT reserved (offset 0xc0)"),
            (0x190, "TEE_TCB_INFO reserved"),
            (0x1EF, "TDREPORT reserved (offset 0x1ef)"),
            (0x3FF, "TDINFO reserved"),
        ] {
            let mut bad = good.clone();
            bad[offset] ^= 0x40;
            match TdReportStruct::parse(&bad) {
                Err(FormatError::Unexpected { field: f, .. }) => assert_eq!(f, field),
                other => panic!("offset {offset:#x}: {other:?}"),
            }
        }
        let mut bad = good.clone();
        bad[2] = 2;
        assert!(matches!(
            TdReportStruct::parse(&bad),
            Err(FormatError::Unexpected {
                field: "TDREPORT REPORTTYPE.VERSION",
                ..
            })
        ));
        assert!(matches!(
            TdReportStruct::parse(&good[..TDREPORT_SIZE - 1]),
            Err(FormatError::Truncated { .. })
        ));
        let mut long = good.clone();
        long.push(0);
        assert!(matches!(
            TdReportStruct::parse(&long),
            Err(FormatError::TrailingBytes { count: 1, .. })
        ));
    }
}
