//! The HCL report of an Azure TDX confidential VM: report type 4
//! (`TDX_VM_REPORT`), whose TEE-report area holds the TDREPORT_STRUCT the
//! paravisor obtained with `TDG.MR.REPORT`, its REPORTDATA the hash of the
//! variable data.
//!
//! Sources:
//!
//! * Microsoft OpenHCL (microsoft/openvmm), crate
//!   `openhcl_attestation_protocol`, module `igvm_attest::get`: the same
//!   `IgvmAttestRequest` as for SEV-SNP ([`super::hcl`]); the TEE-report area
//!   keeps the size of the largest report (the 1184-byte SEV-SNP report), a
//!   TDX report fills its first 1024 bytes
//!   (`IgvmAttestReportType::TDX_VM_REPORT`).
//! * Microsoft azure-cvm-tooling, crate `az-cvm-vtpm`, modules `hcl` and
//!   `tdx`: the TD report read at offset 0x20, 1024 bytes.
//! * Intel® TDX Module ABI Specification, "Report Structures": the
//!   TDREPORT_STRUCT, parsed by [`sealbuild_common::tdx::TdReportStruct`].
//!
//! Layout: the header and request data of [`super::hcl`]; at 020h the
//! 1024-byte TDREPORT_STRUCT, then 160 bytes that must be zero (the rest of
//! the SEV-SNP-sized area); report type 4 at 4C8h.
//!
//! The TD report in the HCL report is not signed by anything a verifier can
//! check (its MAC is keyed to the CPU): it is trusted only as far as it
//! equals the body of a TD quote that DCAP verification accepted
//! ([`super::tdx`]).

use sealbuild_common::reader::Reader;
use sealbuild_common::snp::REPORT_SIZE;
use sealbuild_common::tdx::{TdReportStruct, TDREPORT_SIZE};

use super::hcl::{parse_envelope, require_type, write_envelope, Envelope};
use super::hcl::{HclHashType, HclReportType};
use super::vardata::{RsaJwkKey, RuntimeClaims};
use super::AzureError;

/// Zero bytes after the TD report in the TEE-report area.
pub const TD_AREA_PADDING: usize = REPORT_SIZE - TDREPORT_SIZE;

/// A parsed HCL report carrying a TDX TD report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HclTdxReport {
    /// Header version (1 or 2; the real TDX vector has 2).
    pub version: u32,
    /// The TD report, parsed.
    pub td_report: TdReportStruct,
    td_report_bytes: Vec<u8>,
    /// How the variable data is bound into REPORTDATA.
    pub hash_type: HclHashType,
    var_data: Vec<u8>,
    padding_len: usize,
}

impl HclTdxReport {
    /// Parses an HCL report of report type 4 as read from the vTPM NV index
    /// (zero padding after the report allowed). Another report type is
    /// [`AzureError::ReportType`].
    pub fn parse(bytes: &[u8]) -> Result<Self, AzureError> {
        let env = parse_envelope(bytes)?;
        require_type(&env, HclReportType::Tdx)?;
        Self::from_envelope(&env)
    }

    pub(crate) fn from_envelope(env: &Envelope<'_>) -> Result<Self, AzureError> {
        let mut r = Reader::new(env.hw_report);
        let td_bytes = r.take(TDREPORT_SIZE, "HCL TD report")?;
        r.zeros(TD_AREA_PADDING, "HCL TEE-report area after the TD report")?;
        r.finish("HCL TEE-report area")?;
        let td_report = TdReportStruct::parse(td_bytes)?;
        Ok(Self {
            version: env.version,
            td_report,
            td_report_bytes: td_bytes.to_vec(),
            hash_type: env.hash_type,
            var_data: env.var_data.to_vec(),
            padding_len: env.padding_len,
        })
    }

    /// The 1024 bytes of the TD report (what the agent hands to the quoting
    /// service).
    pub fn td_report_bytes(&self) -> &[u8] {
        &self.td_report_bytes
    }

    /// The variable data (runtime claims JSON), exactly as hashed.
    pub fn var_data(&self) -> &[u8] {
        &self.var_data
    }

    /// The digest of the variable data with the report's hash type: what
    /// REPORTDATA must start with.
    pub fn var_data_digest(&self) -> Vec<u8> {
        self.hash_type.alg().digest_parts(&[&self.var_data])
    }

    /// Zero bytes after the report in the input.
    pub fn padding_len(&self) -> usize {
        self.padding_len
    }

    /// Parses the variable data as runtime claims (authenticated only once
    /// a verified TD quote's REPORT_DATA binds it).
    pub fn runtime_claims(&self) -> Result<RuntimeClaims, AzureError> {
        RuntimeClaims::parse(&self.var_data)
    }

    /// The vTPM attestation key (`HCLAkPub`); any failure is
    /// [`AzureError::AkPub`].
    pub fn ak_pub(&self) -> Result<RsaJwkKey, AzureError> {
        let claims = self.runtime_claims().map_err(|e| AzureError::AkPub {
            reason: e.to_string(),
        })?;
        claims.ak_pub()
    }

    /// The input bytes again (inverse of [`Self::parse`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut area = self.td_report_bytes.clone();
        area.resize(REPORT_SIZE, 0);
        write_envelope(
            self.version,
            &area,
            HclReportType::Tdx,
            self.hash_type,
            &self.var_data,
            self.padding_len,
        )
    }
}
