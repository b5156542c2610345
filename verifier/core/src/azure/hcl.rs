//! The Azure confidential-VM "HCL report": the SEV-SNP report that the
//! paravisor (HCL, host compatibility layer, running at VMPL 0) requests for
//! the guest's vTPM and stores in vTPM NV index `0x01400001`.
//!
//! Sources (no Microsoft specification document defines this structure; its
//! layout is that of the paravisor that writes it and of Microsoft's guest
//! tooling that reads it):
//!
//! * Microsoft OpenHCL (repository microsoft/openvmm), crate
//!   `openhcl_attestation_protocol`, module `igvm_attest::get`: the IGVM_ATTEST
//!   request `IgvmAttestRequestBase` = `IgvmAttestRequestHeader` (signature
//!   `HCLA`, version, report size, request type, status, 3 reserved words) +
//!   the TEE report (an area of the size of an SEV-SNP report) +
//!   `IgvmAttestRequestData` (data size, version, report type, report-data hash
//!   type, variable-data size) followed by the runtime claims JSON, whose hash
//!   is the report's REPORT_DATA; the enumerations `IgvmAttestRequestType`,
//!   `IgvmAttestReportType` and `IgvmAttestHashType`. The vTPM's NV copy uses
//!   request-data version 1 (no `IgvmAttestRequestDataExt`).
//! * Microsoft azure-cvm-tooling, crate `az-cvm-vtpm` (formerly
//!   `az-snp-vtpm`), module `hcl`: the same layout as read in the guest.
//! * AMD "SEV Secure Nested Paging Firmware ABI Specification" (publication
//!   56860) revision 1.58, Table 23 "ATTESTATION_REPORT Structure": the
//!   embedded report, parsed by [`sealbuild_common::snp::AttestationReport`].
//!
//! Layout (integers little-endian):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 000h | 4 | signature `HCLA` (`0x414C4348`) |
//! | 004h | 4 | header version: 1 or 2 |
//! | 008h | 4 | report size: bytes from 000h to the end of the variable data |
//! | 00Ch | 4 | request type: 2 (AK_CERT_REQUEST; the only one the vTPM stores) |
//! | 010h | 4 | status: 0 |
//! | 014h | 12 | reserved, zero |
//! | 020h | 1184 | the TEE report: an SEV-SNP ATTESTATION_REPORT, or (type 4) a 1024-byte TDX TDREPORT_STRUCT and 160 zero bytes ([`super::hcl_tdx`]) |
//! | 4C0h | 4 | data size = 20 + variable-data size |
//! | 4C4h | 4 | request-data version: 1 |
//! | 4C8h | 4 | report type: 2 = SEV-SNP, 4 = TDX (1 VBS, 3 TVM, 5 CCA are refused) |
//! | 4CCh | 4 | report-data hash type: 1 SHA-256, 2 SHA-384, 3 SHA-512 |
//! | 4D0h | 4 | variable-data size *n* |
//! | 4D4h | *n* | variable data: the runtime claims JSON ([`super::vardata`]) |
//! | 4D4h+*n* | … | zero padding to the end of the NV index |
//!
//! [`HclReport`] is the SEV-SNP form, [`super::hcl_tdx::HclTdxReport`] the
//! TDX form; [`AnyHclReport`] parses either. They share the header and
//! request-data parser (`parse_envelope`).
//!
//! Trailing bytes: the NV index is larger than the report (the real vectors
//! are 2600-byte reads of a 2346- or 2436-byte report), so bytes after the
//! report size are accepted only when all zero; their count is kept so that
//! [`HclReport::to_bytes`] reproduces the input exactly.

use sealbuild_common::reader::{Reader, Writer};
use sealbuild_common::snp::{AttestationReport, REPORT_SIZE};
use sealbuild_common::{FormatError, HashAlg};

use super::vardata::{RsaJwkKey, RuntimeClaims};
use super::AzureError;

/// `HCLA` read as a little-endian u32.
pub const HCL_SIGNATURE: u32 = 0x414C_4348;
/// Header versions seen in Azure CVMs (SEV-SNP Milan: 1, Genoa: 2).
pub const HCL_VERSIONS: [u32; 2] = [1, 2];
/// `IgvmAttestRequestType::AK_CERT_REQUEST`.
pub const REQUEST_TYPE_AK_CERT: u32 = 2;
/// Size of the header.
pub const HEADER_LEN: usize = 0x20;
/// Offset of the hardware report.
pub const HW_REPORT_OFFSET: usize = HEADER_LEN;
/// Offset of `IgvmAttestRequestData` (header + the SNP-report-sized area).
pub const REQUEST_DATA_OFFSET: usize = HW_REPORT_OFFSET + REPORT_SIZE;
/// Size of `IgvmAttestRequestData` without the variable data.
pub const REQUEST_DATA_LEN: usize = 20;
/// Offset of the variable data.
pub const VAR_DATA_OFFSET: usize = REQUEST_DATA_OFFSET + REQUEST_DATA_LEN;
/// `IgvmAttestRequestVersion::VERSION_1`, the layout without extension.
pub const REQUEST_DATA_VERSION: u32 = 1;

/// `IgvmAttestReportType`: the TEE report inside the HCL report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HclReportType {
    /// 2: an AMD SEV-SNP ATTESTATION_REPORT ([`HclReport`]).
    Snp,
    /// 4: an Intel TDX TDREPORT_STRUCT ([`super::hcl_tdx::HclTdxReport`]).
    Tdx,
}

impl HclReportType {
    /// The `IgvmAttestReportType` name of `code`.
    pub fn name_of(code: u32) -> &'static str {
        match code {
            0 => "INVALID_REPORT",
            1 => "VBS_VM_REPORT",
            2 => "SNP_VM_REPORT",
            3 => "TVM_REPORT",
            4 => "TDX_VM_REPORT",
            5 => "CCA_VM_REPORT",
            _ => "unknown",
        }
    }

    /// The `IgvmAttestReportType` value.
    pub fn code(self) -> u32 {
        match self {
            Self::Snp => 2,
            Self::Tdx => 4,
        }
    }

    /// "2 (SNP_VM_REPORT)", "4 (TDX_VM_REPORT)".
    pub fn describe(self) -> &'static str {
        match self {
            Self::Snp => "2 (SNP_VM_REPORT)",
            Self::Tdx => "4 (TDX_VM_REPORT)",
        }
    }
}

/// `IgvmAttestHashType`: how the variable data is bound into REPORT_DATA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HclHashType {
    /// 1: SHA-256.
    Sha256,
    /// 2: SHA-384.
    Sha384,
    /// 3: SHA-512.
    Sha512,
}

impl HclHashType {
    pub(crate) fn from_code(code: u32) -> Result<Self, FormatError> {
        match code {
            1 => Ok(Self::Sha256),
            2 => Ok(Self::Sha384),
            3 => Ok(Self::Sha512),
            other => Err(FormatError::Unsupported {
                field: "HCL report_data_hash_type",
                value: u64::from(other),
            }),
        }
    }

    pub(crate) fn code(self) -> u32 {
        match self {
            Self::Sha256 => 1,
            Self::Sha384 => 2,
            Self::Sha512 => 3,
        }
    }

    /// The hash algorithm.
    pub fn alg(self) -> HashAlg {
        match self {
            Self::Sha256 => HashAlg::Sha256,
            Self::Sha384 => HashAlg::Sha384,
            Self::Sha512 => HashAlg::Sha512,
        }
    }
}

/// A parsed HCL report of either kind, by its report type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnyHclReport {
    /// Report type 2: SEV-SNP.
    Snp(Box<HclReport>),
    /// Report type 4: TDX.
    Tdx(Box<super::hcl_tdx::HclTdxReport>),
}

impl AnyHclReport {
    /// Parses an HCL report of type 2 (SEV-SNP) or 4 (TDX); any other type
    /// is [`AzureError::ReportType`].
    pub fn parse(bytes: &[u8]) -> Result<Self, AzureError> {
        let env = parse_envelope(bytes)?;
        match env.report_type {
            2 => Ok(Self::Snp(Box::new(HclReport::from_envelope(&env)?))),
            4 => Ok(Self::Tdx(Box::new(
                super::hcl_tdx::HclTdxReport::from_envelope(&env)?,
            ))),
            got => Err(AzureError::ReportType {
                expected: "2 (SNP_VM_REPORT) or 4 (TDX_VM_REPORT)",
                got,
                name: HclReportType::name_of(got),
            }),
        }
    }

    /// The report type.
    pub fn report_type(&self) -> HclReportType {
        match self {
            Self::Snp(_) => HclReportType::Snp,
            Self::Tdx(_) => HclReportType::Tdx,
        }
    }

    /// The variable data, exactly as hashed.
    pub fn var_data(&self) -> &[u8] {
        match self {
            Self::Snp(h) => h.var_data(),
            Self::Tdx(h) => h.var_data(),
        }
    }
}

/// A parsed HCL report carrying an SEV-SNP report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HclReport {
    /// Header version (1 or 2).
    pub version: u32,
    /// The embedded SEV-SNP report, parsed.
    pub snp_report: AttestationReport,
    snp_report_bytes: Vec<u8>,
    /// The report type (always [`HclReportType::Snp`] here).
    pub report_type: HclReportType,
    /// How the variable data is bound into REPORT_DATA.
    pub hash_type: HclHashType,
    var_data: Vec<u8>,
    padding_len: usize,
}

fn u32_len(v: u32, field: &'static str) -> Result<usize, FormatError> {
    usize::try_from(v).map_err(|_| FormatError::TooLarge {
        field,
        size: usize::MAX,
        max: usize::MAX,
    })
}

/// The parts every HCL report has, whatever TEE report it carries: what
/// [`parse_envelope`] checked, borrowed from the input.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Envelope<'a> {
    /// Header version.
    pub version: u32,
    /// The 1184-byte hardware-report area.
    pub hw_report: &'a [u8],
    /// `IgvmAttestReportType`, unchecked.
    pub report_type: u32,
    /// The hash type.
    pub hash_type: HclHashType,
    /// The variable data.
    pub var_data: &'a [u8],
    /// Zero bytes after the report.
    pub padding_len: usize,
}

/// Parses the header, the request data and the padding of an HCL report of
/// any report type (the hardware report is left to the caller).
pub(crate) fn parse_envelope(bytes: &[u8]) -> Result<Envelope<'_>, AzureError> {
    let mut r = Reader::new(bytes);
    let signature = r.u32_le("HCL signature")?;
    if signature != HCL_SIGNATURE {
        return Err(FormatError::unexpected(
            "HCL signature",
            "\"HCLA\" (0x414c4348)",
            format_args!("{signature:#010x}"),
        )
        .into());
    }
    let version = r.u32_le_one_of("HCL header version", &HCL_VERSIONS, "1 or 2")?;
    let report_size = u32_len(r.u32_le("HCL report_size")?, "HCL report_size")?;
    r.u32_le_one_of(
        "HCL request_type",
        &[REQUEST_TYPE_AK_CERT],
        "2 (AK_CERT_REQUEST)",
    )?;
    r.u32_le_one_of("HCL status", &[0], "0")?;
    let reserved = r.take(12, "HCL header reserved")?;
    if let Some(i) = reserved.iter().position(|&b| b != 0) {
        return Err(FormatError::unexpected(
            "HCL header reserved",
            "zero",
            format_args!(
                "a non-zero byte at offset {:#x}",
                0x14usize.saturating_add(i)
            ),
        )
        .into());
    }
    let hw_report = r.take(REPORT_SIZE, "HCL hardware report")?;
    let data_size = u32_len(r.u32_le("HCL data_size")?, "HCL data_size")?;
    r.u32_le_one_of("HCL request data version", &[REQUEST_DATA_VERSION], "1")?;
    let report_type = r.u32_le("HCL report_type")?;
    let hash_type = HclHashType::from_code(r.u32_le("HCL report_data_hash_type")?)?;
    let var_size = u32_len(
        r.u32_le("HCL variable_data_size")?,
        "HCL variable_data_size",
    )?;
    if Some(data_size) != var_size.checked_add(REQUEST_DATA_LEN) {
        return Err(FormatError::unexpected(
            "HCL data_size",
            format_args!("20 + variable_data_size = {}", var_size.saturating_add(20)),
            data_size,
        )
        .into());
    }
    if Some(report_size) != data_size.checked_add(REQUEST_DATA_OFFSET) {
        return Err(FormatError::unexpected(
            "HCL report_size",
            format_args!("0x4c0 + data_size = {:#x}", data_size.saturating_add(0x4C0)),
            format_args!("{report_size:#x}"),
        )
        .into());
    }
    let var_data = r.take(var_size, "HCL variable data")?;
    let padding = r.take(r.remaining(), "HCL padding")?;
    if let Some(i) = padding.iter().position(|&b| b != 0) {
        return Err(FormatError::unexpected(
            "HCL padding after the report",
            "zero",
            format_args!(
                "a non-zero byte at offset {:#x}",
                report_size.saturating_add(i)
            ),
        )
        .into());
    }
    r.finish("HCL report")?;
    Ok(Envelope {
        version,
        hw_report,
        report_type,
        hash_type,
        var_data,
        padding_len: padding.len(),
    })
}

/// The report type of a parsed envelope, refused unless it is `want`.
pub(crate) fn require_type(env: &Envelope<'_>, want: HclReportType) -> Result<(), AzureError> {
    if env.report_type == want.code() {
        Ok(())
    } else {
        Err(AzureError::ReportType {
            expected: want.describe(),
            got: env.report_type,
            name: HclReportType::name_of(env.report_type),
        })
    }
}

/// Writes the header and request data around `hw_report` (which must be
/// [`REPORT_SIZE`] bytes), the variable data and the padding.
pub(crate) fn write_envelope(
    version: u32,
    hw_report: &[u8],
    report_type: HclReportType,
    hash_type: HclHashType,
    var_data: &[u8],
    padding_len: usize,
) -> Vec<u8> {
    let var_size = u32::try_from(var_data.len()).unwrap_or(u32::MAX);
    let size = u32::try_from(VAR_DATA_OFFSET)
        .unwrap_or(u32::MAX)
        .saturating_add(var_size);
    let mut w = Writer::new();
    w.u32_le(HCL_SIGNATURE)
        .u32_le(version)
        .u32_le(size)
        .u32_le(REQUEST_TYPE_AK_CERT)
        .u32_le(0)
        .bytes(&[0; 12])
        .bytes(hw_report)
        .u32_le(var_size.saturating_add(20))
        .u32_le(REQUEST_DATA_VERSION)
        .u32_le(report_type.code())
        .u32_le(hash_type.code())
        .u32_le(var_size)
        .bytes(var_data)
        .bytes(&vec![0; padding_len]);
    w.into_vec()
}

impl HclReport {
    /// Parses an HCL report as read from the vTPM NV index (zero padding
    /// after the report allowed). A report type other than SEV-SNP is refused
    /// with [`AzureError::ReportType`] (see [`super::hcl_tdx`] and
    /// [`AnyHclReport`] for TDX).
    pub fn parse(bytes: &[u8]) -> Result<Self, AzureError> {
        let env = parse_envelope(bytes)?;
        require_type(&env, HclReportType::Snp)?;
        Self::from_envelope(&env)
    }

    fn from_envelope(env: &Envelope<'_>) -> Result<Self, AzureError> {
        let snp_report = AttestationReport::parse(env.hw_report)?;
        Ok(Self {
            version: env.version,
            snp_report,
            snp_report_bytes: env.hw_report.to_vec(),
            report_type: HclReportType::Snp,
            hash_type: env.hash_type,
            var_data: env.var_data.to_vec(),
            padding_len: env.padding_len,
        })
    }

    /// The 1184 bytes of the SEV-SNP report, as they were signed.
    pub fn snp_report_bytes(&self) -> &[u8] {
        &self.snp_report_bytes
    }

    /// The variable data (runtime claims JSON), exactly as hashed.
    pub fn var_data(&self) -> &[u8] {
        &self.var_data
    }

    /// The digest of the variable data with the report's hash type: what
    /// REPORT_DATA must start with.
    pub fn var_data_digest(&self) -> Vec<u8> {
        self.hash_type.alg().digest_parts(&[&self.var_data])
    }

    /// The bytes from 000h to the end of the variable data.
    pub fn report_size(&self) -> usize {
        VAR_DATA_OFFSET.saturating_add(self.var_data.len())
    }

    /// Zero bytes after the report in the input.
    pub fn padding_len(&self) -> usize {
        self.padding_len
    }

    /// Parses the variable data as runtime claims. Not authenticated by
    /// itself: [`super::verify_azure_snp`] first checks that REPORT_DATA
    /// binds it.
    pub fn runtime_claims(&self) -> Result<RuntimeClaims, AzureError> {
        RuntimeClaims::parse(&self.var_data)
    }

    /// The vTPM attestation key (`HCLAkPub`) named in the variable data; any
    /// failure, including variable data that is not JSON, is
    /// [`AzureError::AkPub`].
    pub fn ak_pub(&self) -> Result<RsaJwkKey, AzureError> {
        let claims = self.runtime_claims().map_err(|e| AzureError::AkPub {
            reason: e.to_string(),
        })?;
        claims.ak_pub()
    }

    /// The input bytes again (inverse of [`Self::parse`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        write_envelope(
            self.version,
            &self.snp_report_bytes,
            self.report_type,
            self.hash_type,
            &self.var_data,
            self.padding_len,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A well-formed report around a synthetic SNP report (the real ones
    /// are exercised by tests/azure_snp.rs).
    fn sample(var: &[u8], padding: usize) -> Vec<u8> {
        let mut snp = vec![0u8; REPORT_SIZE];
        snp[0] = 2; // VERSION 2
        snp[0x34] = 1; // SIGNATURE_ALGO
        let var_size = var.len() as u32;
        let mut w = Writer::new();
        w.u32_le(HCL_SIGNATURE)
            .u32_le(1)
            .u32_le(0x4D4 + var_size)
            .u32_le(2)
            .u32_le(0)
            .bytes(&[0; 12])
            .bytes(&snp)
            .u32_le(20 + var_size)
            .u32_le(1)
            .u32_le(2)
            .u32_le(1)
            .u32_le(var_size)
            .bytes(var)
            .bytes(&vec![0; padding]);
        w.into_vec()
    }

    #[test]
    fn round_trip_and_offsets() {
        let bytes = sample(b"{}", 7);
        let r = HclReport::parse(&bytes).unwrap();
        assert_eq!(r.to_bytes(), bytes);
        assert_eq!(r.var_data(), b"{}");
        assert_eq!(r.padding_len(), 7);
        assert_eq!(REQUEST_DATA_OFFSET, 0x4C0);
        assert_eq!(VAR_DATA_OFFSET, 0x4D4);
    }

    #[test]
    fn tdx_report_type_is_refused() {
        let mut bytes = sample(b"{}", 0);
        bytes[0x4C8] = 4;
        assert_eq!(
            HclReport::parse(&bytes).unwrap_err(),
            AzureError::ReportType {
                expected: "2 (SNP_VM_REPORT)",
                got: 4,
                name: "TDX_VM_REPORT"
            }
        );
    }

    #[test]
    fn inconsistent_sizes_padding_and_reserved_are_refused() {
        let good = sample(b"{}", 4);
        for (offset, what) in [
            (0x08, "HCL report_size"),
            (0x4C0, "HCL data_size"),
            (0x18, "HCL header reserved"),
            (good.len() - 1, "HCL padding after the report"),
        ] {
            let mut bad = good.clone();
            bad[offset] ^= 1;
            match HclReport::parse(&bad).unwrap_err() {
                AzureError::Format(FormatError::Unexpected { field, .. }) => {
                    assert_eq!(field, what)
                }
                other => panic!("offset {offset:#x}: {other:?}"),
            }
        }
        // A variable-data size past the end of the input, sizes consistent.
        let mut bad = good.clone();
        let put = |b: &mut Vec<u8>, at: usize, v: u32| {
            b[at..at + 4].copy_from_slice(&v.to_le_bytes());
        };
        put(&mut bad, 0x4D0, 1000);
        put(&mut bad, 0x4C0, 1020);
        put(&mut bad, 0x08, 0x4C0 + 1020);
        assert!(matches!(
            HclReport::parse(&bad),
            Err(AzureError::Format(FormatError::Truncated {
                field: "HCL variable data",
                ..
            }))
        ));
        assert!(matches!(
            HclReport::parse(&good[..0x4D0]),
            Err(AzureError::Format(FormatError::Truncated { .. }))
        ));
    }

    #[test]
    fn sha384_binding_digest() {
        let mut bytes = sample(b"{\"a\":1}", 0);
        bytes[0x4CC] = 2;
        let r = HclReport::parse(&bytes).unwrap();
        assert_eq!(r.hash_type, HclHashType::Sha384);
        assert_eq!(r.var_data_digest().len(), 48);
        bytes[0x4CC] = 9;
        assert!(matches!(
            HclReport::parse(&bytes),
            Err(AzureError::Format(FormatError::Unsupported {
                value: 9,
                ..
            }))
        ));
    }
}
