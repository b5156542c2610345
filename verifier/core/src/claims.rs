//! Verified platform claims: what an appraisal policy is allowed to look at.
//!
//! A value of these types is only built by the verification code after the
//! evidence checked out (signature, freshness, replay); a policy never sees raw
//! evidence. The event list of [`TpmClaims`] holds only events of PCRs whose
//! event-log replay matched the signed quote, so a rule on an event is a rule on
//! a measured value.

use crate::snp::SnpSignerKind;
use crate::tdx::{PckCa, TcbVerdict, TdClaims};
use sealbuild_common::snp::{AttestationReport, SnpProduct};
use sealbuild_common::HashAlg;
use std::collections::BTreeMap;

pub use sealbuild_common::Platform;

/// One event of a verified event log, as a policy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventClaim {
    /// Position in the log (0-based, as in rejection messages).
    pub index: usize,
    /// PCR it extended.
    pub pcr: u32,
    /// Event type name, e.g. `EV_EFI_BOOT_SERVICES_APPLICATION`.
    pub event_type: String,
    /// Its decoded data in one line (`Event::summary`), e.g.
    /// `tag 0x8f3b22ed: "LOADED_IMAGE::LoadOptions"`: not covered by the
    /// digest unless the type defines the digest as the data's hash.
    pub description: String,
    /// Its digests per bank.
    pub digests: BTreeMap<HashAlg, Vec<u8>>,
}

/// Claims from a verified TPM quote.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TpmClaims {
    /// SHA-256 (hex) of the DER trust anchor the EK certificate chained to,
    /// `None` for an allowlisted EK without certificate.
    pub ek_root_fingerprint: Option<String>,
    /// Subject of that trust anchor, for messages.
    pub ek_root_subject: Option<String>,
    /// PCR values covered by the verified quote.
    pub pcrs: BTreeMap<HashAlg, BTreeMap<u32, Vec<u8>>>,
    /// Events of PCRs whose replay matched the quote; `None` without a log.
    pub events: Option<Vec<EventClaim>>,
}

impl TpmClaims {
    /// The last event that extended `pcr`, described for a message.
    pub fn last_event(&self, pcr: u32) -> Option<&EventClaim> {
        self.events
            .as_ref()?
            .iter()
            .rev()
            .find(|e| e.pcr == pcr && e.event_type != "EV_NO_ACTION")
    }
}

/// Claims from a verified SEV-SNP report: its signature verified with a
/// VCEK/VLEK that chains to a trusted ARK, the certificate's TCB and hwID
/// match the report, and (when asked) REPORT_DATA carries the binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnpClaims {
    /// The product line whose roots verified the chain.
    pub product: SnpProduct,
    /// Which key signed the report.
    pub signing_key: SnpSignerKind,
    /// The VLEK's cloud-provider id, for VLEK-signed reports.
    pub csp_id: Option<String>,
    /// SHA-256 of the VCEK/VLEK certificate.
    pub signer_fingerprint: [u8; 32],
    /// Whether the chain ended in an insecure test root (never in a default
    /// build; see `snp::roots`).
    pub insecure_test_root: bool,
    /// Whether a current AMD CRL was checked.
    pub crl_checked: bool,
    /// The verified report (measurement, policy, TCBs, …).
    pub report: AttestationReport,
}

/// Claims from verified Azure confidential-VM evidence: the paravisor's
/// SEV-SNP report or DCAP-verified TD quote (whose REPORT_DATA bound the HCL
/// variable data) and the vTPM quote and logs checked with the AK that
/// report vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureClaims {
    /// The hardware side (REPORT_DATA binds the HCL variable data).
    pub tee: AzureTeeClaims,
    /// The vTPM side (no EK root: the HCL report vouches for the AK).
    pub tpm: TpmClaims,
    /// SHA-256 (hex) of the HCL AK's modulus.
    pub ak_fingerprint: String,
}

/// The hardware report behind an Azure confidential VM's HCL report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AzureTeeClaims {
    /// HCL report type 2: the SEV-SNP report.
    Snp(Box<SnpClaims>),
    /// HCL report type 4: the TD quote of the HCL's TD report (no CCEL or
    /// runtime log: Azure measures the boot into the vTPM).
    Tdx(Box<TdxClaims>),
}

impl AzureClaims {
    /// The SEV-SNP side, on SEV-SNP hardware.
    pub fn snp(&self) -> Option<&SnpClaims> {
        match &self.tee {
            AzureTeeClaims::Snp(s) => Some(s),
            AzureTeeClaims::Tdx(_) => None,
        }
    }

    /// The TDX side, on TDX hardware.
    pub fn tdx(&self) -> Option<&TdxClaims> {
        match &self.tee {
            AzureTeeClaims::Tdx(t) => Some(t),
            AzureTeeClaims::Snp(_) => None,
        }
    }

    /// "SEV-SNP" or "TDX", for messages.
    pub fn tee_name(&self) -> &'static str {
        match &self.tee {
            AzureTeeClaims::Snp(_) => "SEV-SNP",
            AzureTeeClaims::Tdx(_) => "TDX",
        }
    }
}

/// Claims from a verified Intel TDX quote: DCAP-verified (signatures, PCK
/// chain to the Intel SGX Root CA, CRLs, TCB Info and QE Identity at the
/// verification time), REPORT_DATA carrying the binding, and the CCEL /
/// runtime log, when sent, replayed to the quoted RTMRs. The TCB status is
/// reported, not judged: the policy accepts or refuses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TdxClaims {
    /// Quote version (4 or 5).
    pub version: u16,
    /// Body type (2 TDX 1.0, 3 TDX 1.5).
    pub body_type: u16,
    /// The TD report's fields.
    pub td: TdClaims,
    /// FMSPC from the PCK certificate.
    pub fmspc: [u8; 6],
    /// PCE ID from the PCK certificate.
    pub pce_id: [u8; 2],
    /// Which Intel CA issued the PCK certificate.
    pub pck_ca: PckCa,
    /// SHA-256 of the PCK certificate.
    pub pck_fingerprint: [u8; 32],
    /// TCB status and advisories.
    pub tcb: TcbVerdict,
    /// The earliest expiry among the collateral used (Unix seconds).
    pub collateral_valid_until: u64,
    /// Whether a CCEL was sent and replayed to RTMR0–2.
    pub ccel_replayed: bool,
    /// Whether a runtime log was sent and replayed to RTMR3.
    pub runtime_log_replayed: bool,
}

/// Claims of any platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlatformClaims {
    /// From a TPM quote.
    Tpm(TpmClaims),
    /// From an SEV-SNP report.
    Snp(Box<SnpClaims>),
    /// From an Azure confidential VM (HCL report + vTPM quote).
    Azure(Box<AzureClaims>),
    /// From an Intel TDX quote.
    Tdx(Box<TdxClaims>),
}

impl PlatformClaims {
    /// The platform they came from.
    pub fn platform(&self) -> Platform {
        match self {
            Self::Tpm(_) => Platform::Tpm,
            Self::Snp(_) => Platform::Snp,
            Self::Azure(_) => Platform::Azure,
            Self::Tdx(_) => Platform::Tdx,
        }
    }
}

/// One resolved dependency (material) of a build statement.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MaterialClaim {
    /// ResourceDescriptor name (the build's source is named `source`).
    pub name: Option<String>,
    /// ResourceDescriptor uri.
    pub uri: Option<String>,
    /// Digests by algorithm name (`sha256`, `gitCommit`, …), lower-case hex.
    pub digests: BTreeMap<String, String>,
}

/// What a policy may know of a build statement whose digest the verified
/// evidence carries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatementClaims {
    /// SLSA buildDefinition.buildType.
    pub build_type: String,
    /// SLSA buildDefinition.resolvedDependencies.
    pub materials: Vec<MaterialClaim>,
}

impl StatementClaims {
    /// The material named `source`, if any.
    pub fn source(&self) -> Option<&MaterialClaim> {
        self.materials
            .iter()
            .find(|m| m.name.as_deref() == Some("source"))
    }
}
