//! Azure confidential VMs on AMD SEV-SNP and Intel TDX: the agent's
//! collector (feature `tpm`: everything goes through the vTPM, plus, on TDX,
//! one request to the instance metadata service).
//!
//! On an Azure CVM the guest does not reach the SEV-SNP firmware. The
//! paravisor (HCL) at VMPL 0 requests an SNP report whose REPORT_DATA binds
//! its runtime claims (which name the vTPM's attestation key) and stores
//! both, the "HCL report", in vTPM NV index [`HCL_REPORT_NV_INDEX`]; the AK
//! is persistent at [`AK_PERSISTENT_HANDLE`]. The collector:
//!
//! 1. reads the HCL report from NV: the size the index declares, in
//!    TPM2_NV_Read chunks of at most the TPM's TPM_PT_NV_BUFFER_MAX;
//! 2. quotes sha256 PCRs 0–23 (or the caller's selection) with the persistent
//!    AK, the binding digest as qualifying data, and reads the PCR values the
//!    quote covers ([`crate::tpm::TpmBackend::quote_persistent`]);
//! 3. adds the firmware event log and, for sealed builds, the runtime log
//!    (PCR 23 and its TCG CEL, [`crate::tpm::runtime`]) exactly as the TPM
//!    collector does;
//! 4. on TDX (HCL report type 4, whose TEE report is the paravisor's 1024-byte
//!    TDREPORT_STRUCT at offset 0x20) sends that TD report to the Azure
//!    instance metadata service ([`imds`], `POST /acc/tdquote`) and adds the
//!    TD quote it answers with, after checking that the quote parses and its
//!    body is the HCL report's TD report ([`td_quote_for_hcl`]).
//!
//! The evidence is [`Evidence::Azure`]; on TDX with `td_quote` (the verifier
//! takes its DCAP collateral from its collateral store); on SEV-SNP by
//! default without certificates (the verifier takes the VCEK for the report
//! from its collateral store), or
//! with the VCEK the operator hands the agent ([`AzureCollector::with_vcek`];
//! Azure guests can read it from the instance metadata service), which also
//! lets a bundle be re-verified offline. Nothing is
//! registered (the AMD-signed report vouches for the AK); the agent id is
//! `azure:<label>`, by default `azure:<host name>`. The verifier side is
//! `sealbuild-verifier-core::platform::azure`.

pub mod imds;

use crate::evidence::{
    default_agent_id, write_evidence_file, write_snp_certificates, wrong_evidence, AgentError,
    EvidenceCollector,
};
use crate::tpm::collector::{tpm_evidence, write_tpm_files};
use crate::tpm::{PcrSelection, RuntimeRegister, TpmBackend};
use imds::TdQuoteService;
use sealbuild_common::api::{AzureEvidence, Evidence, SnpCertKind, SnpCertificate};
use sealbuild_common::cel::RuntimeEvent;
use sealbuild_common::reader::Reader;
use sealbuild_common::tdx::{Quote, TdReportStruct, TDREPORT_SIZE};
use sealbuild_common::FormatError;
use sealbuild_common::{HashAlg, Platform};
use std::path::{Path, PathBuf};

/// The vTPM NV index the paravisor writes the HCL report to.
pub const HCL_REPORT_NV_INDEX: u32 = 0x0140_0001;

/// The persistent handle of the vTPM attestation key the HCL report names.
pub const AK_PERSISTENT_HANDLE: u32 = 0x8100_0003;

/// Collects Azure confidential-VM evidence through the vTPM.
#[derive(Debug)]
pub struct AzureCollector {
    backend: TpmBackend,
    selection: PcrSelection,
    event_log: Option<PathBuf>,
    runtime: RuntimeRegister,
    runtime_log: Option<Vec<u8>>,
    agent_id: String,
    /// TPM2B_PUBLIC of the AK, once a quote has read it.
    ak_public: Option<Vec<u8>>,
    /// Certificates sent with the evidence (the VCEK, when given).
    certificates: Vec<SnpCertificate>,
    /// Where a TDX VM gets the TD quote of its HCL report's TD report.
    td_quotes: TdQuoteService,
}

/// Offset of the report type in the HCL report (`IgvmAttestRequestData`).
const HCL_REPORT_TYPE_OFFSET: usize = 0x4C8;
/// Offset of the TEE report in the HCL report.
const HCL_TEE_REPORT_OFFSET: usize = 0x20;

/// The TDREPORT_STRUCT of a TDX HCL report (type 4), `None` for an SEV-SNP
/// one (type 2); any other type, or a TD report that does not parse, is an
/// error. Only what the collector needs is read: the verifier parses the
/// whole HCL report.
pub fn hcl_td_report(hcl_report: &[u8]) -> Result<Option<Vec<u8>>, AgentError> {
    let fmt = |source: FormatError| AgentError::Format {
        what: "HCL report",
        source,
    };
    let mut r = Reader::new(hcl_report);
    let signature = r.take(4, "HCL signature").map_err(fmt)?;
    if signature != b"HCLA" {
        return Err(fmt(FormatError::unexpected(
            "HCL signature",
            "\"HCLA\"",
            hex::encode(signature),
        )));
    }
    r.take(HCL_TEE_REPORT_OFFSET - 4, "HCL header")
        .map_err(fmt)?;
    let td = r.take(TDREPORT_SIZE, "HCL TEE report").map_err(fmt)?;
    r.take(
        HCL_REPORT_TYPE_OFFSET - HCL_TEE_REPORT_OFFSET - TDREPORT_SIZE,
        "HCL TEE report",
    )
    .map_err(fmt)?;
    match r.u32_le("HCL report_type").map_err(fmt)? {
        2 => Ok(None),
        4 => {
            TdReportStruct::parse(td).map_err(fmt)?;
            Ok(Some(td.to_vec()))
        }
        other => Err(fmt(FormatError::unexpected(
            "HCL report_type",
            "2 (SEV-SNP) or 4 (TDX)",
            other,
        ))),
    }
}

/// For a TDX HCL report, the TD quote `service` makes of its TD report,
/// checked to parse as a TD quote of that very report (its body equals the
/// report's measured fields); `None` for SEV-SNP.
pub fn td_quote_for_hcl(
    service: &TdQuoteService,
    hcl_report: &[u8],
) -> Result<Option<Vec<u8>>, AgentError> {
    let Some(td_bytes) = hcl_td_report(hcl_report)? else {
        return Ok(None);
    };
    let origin = || service.url().to_string();
    let bytes = service.td_quote(&td_bytes)?;
    let quote = Quote::parse(&bytes).map_err(|source| AgentError::TdxMalformedQuote {
        origin: origin(),
        source,
    })?;
    let Some(body) = quote.td_report() else {
        return Err(AgentError::TdxMalformedQuote {
            origin: origin(),
            source: FormatError::unexpected("quote TEE type", "TDX (0x81)", "SGX"),
        });
    };
    let td = TdReportStruct::parse(&td_bytes).map_err(|source| AgentError::Format {
        what: "HCL TD report",
        source,
    })?;
    if body.report_data != td.report_data {
        return Err(AgentError::TdxReportDataMismatch {
            origin: origin(),
            expected: hex::encode(td.report_data),
            got: hex::encode(body.report_data),
        });
    }
    if &td.to_quote_body(body.v15.is_some()) != body {
        return Err(AgentError::Imds {
            url: origin(),
            reason: "the TD quote's body (MRTD, RTMRs, TDX module, …) is not the HCL report's \
                     TD report: the service quoted another report"
                .into(),
        });
    }
    Ok(Some(bytes))
}

impl AzureCollector {
    /// A collector on the vTPM behind `backend` quoting sha256 PCRs 0–23
    /// (what the verifier requires), sending the firmware event log at
    /// `event_log` (if any), named `azure:<host name>`.
    pub fn new(backend: TpmBackend, event_log: Option<PathBuf>) -> Self {
        Self {
            backend,
            selection: PcrSelection::sha256_all(),
            event_log,
            runtime: RuntimeRegister::default(),
            runtime_log: None,
            agent_id: default_agent_id(Platform::Azure),
            ak_public: None,
            certificates: Vec::new(),
            td_quotes: TdQuoteService::azure(),
        }
    }

    /// Asks `service` instead of the Azure IMDS for TD quotes (TDX only).
    pub fn with_td_quote_service(mut self, service: TdQuoteService) -> Self {
        self.td_quotes = service;
        self
    }

    /// Sends the VCEK (DER) with the evidence. Untrusted like everything the
    /// agent sends: the verifier chains it to AMD's roots.
    pub fn with_vcek(mut self, der: Vec<u8>) -> Self {
        self.certificates.push(SnpCertificate {
            kind: SnpCertKind::Vcek,
            der,
        });
        self
    }

    /// Quotes `selection` instead of sha256 PCRs 0–23.
    pub fn with_selection(mut self, selection: PcrSelection) -> Self {
        self.selection = selection;
        self
    }

    /// Names this attester `agent_id` (normally `azure:<label>`).
    pub fn with_agent_id(mut self, agent_id: impl Into<String>) -> Self {
        self.agent_id = agent_id.into();
        self
    }

    /// Keeps a sealed build's runtime log in `runtime` instead of PCR 23.
    pub fn with_runtime_register(mut self, runtime: RuntimeRegister) -> Self {
        self.runtime = runtime;
        self
    }

    /// The PCRs quoted.
    pub fn selection(&self) -> &PcrSelection {
        &self.selection
    }

    /// Reads the HCL report (padding included) from
    /// [`HCL_REPORT_NV_INDEX`].
    pub fn read_hcl_report(&mut self) -> Result<Vec<u8>, AgentError> {
        let index = HCL_REPORT_NV_INDEX;
        if !self.backend.nv_indices(index, index)?.contains(&index) {
            return Err(AgentError::NvIndex {
                index,
                reason:
                    "not defined: this vTPM holds no HCL report (not an Azure confidential VM?)"
                        .into(),
            });
        }
        self.backend.read_nv(index)
    }
}

impl EvidenceCollector for AzureCollector {
    fn platform(&self) -> Platform {
        Platform::Azure
    }

    fn evidence_source(&self) -> String {
        format!(
            "Azure confidential VM evidence via the vTPM at {} (HCL report NV {HCL_REPORT_NV_INDEX:#010x}, AK {AK_PERSISTENT_HANDLE:#010x})",
            self.backend.tcti()
        )
    }

    fn agent_id(&self) -> Option<String> {
        Some(self.agent_id.clone())
    }

    // `registration` and `activate`: the defaults; nothing to register,
    // the HCL report vouches for the AK.

    fn begin_runtime_log(&mut self, events: &[RuntimeEvent]) -> Result<(), AgentError> {
        self.runtime.begin(&mut self.backend, events)
    }

    fn end_runtime_log(&mut self, event: &RuntimeEvent) -> Result<(), AgentError> {
        let log = self.runtime.end(&mut self.backend, event)?;
        self.selection = self
            .selection
            .with_pcr(HashAlg::Sha256, self.runtime.pcr())?;
        self.runtime_log = Some(log);
        Ok(())
    }

    fn build_parameters(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        m.insert("runtimePcr".into(), self.runtime.pcr().into());
        m
    }

    fn collect(&mut self, binding: &[u8; 32]) -> Result<Evidence, AgentError> {
        let hcl_report = self.read_hcl_report()?;
        let td_quote = td_quote_for_hcl(&self.td_quotes, &hcl_report)?;
        let (quote, ak_public) =
            self.backend
                .quote_persistent(AK_PERSISTENT_HANDLE, binding, &self.selection)?;
        self.ak_public = Some(ak_public);
        let tpm = tpm_evidence(quote, self.event_log.as_deref(), self.runtime_log.clone())?;
        Ok(Evidence::Azure(AzureEvidence {
            hcl_report,
            certificates: self.certificates.clone(),
            td_quote,
            tpm,
        }))
    }

    /// hcl-report.bin, any certificates, td-quote.bin (TDX), the vTPM's
    /// quote files (as for a TPM) and, once a quote has read it, the AK's
    /// TPM2B_PUBLIC (ak.pub).
    fn write_evidence(&self, evidence: &Evidence, dir: &Path) -> Result<(), AgentError> {
        let Evidence::Azure(a) = evidence else {
            return Err(wrong_evidence(Platform::Azure, evidence));
        };
        write_evidence_file(dir, "hcl-report.bin", &a.hcl_report)?;
        write_snp_certificates(dir, &a.certificates)?;
        if let Some(q) = &a.td_quote {
            write_evidence_file(dir, "td-quote.bin", q)?;
        }
        write_tpm_files(dir, &a.tpm)?;
        if let Some(ak) = &self.ak_public {
            write_evidence_file(dir, "ak.pub", ak)?;
        }
        Ok(())
    }
}
