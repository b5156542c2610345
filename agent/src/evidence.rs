//! Evidence collection: one [`EvidenceCollector`] per platform, and the
//! crate's error type.
//!
//! A collector turns the 32-byte binding digest
//! ([`sealbuild_common::binding`]) into platform evidence that carries it:
//! for a TPM the binding is the quote's `qualifyingData`
//! (TPMS_ATTEST.extraData, TCG TPM 2.0 Library Part 2 rev. 1.59 §10.12.12);
//! for SEV-SNP it fills the first half of REPORT_DATA
//! ([`sealbuild_common::binding::snp_report_data`]).
//! Registration is platform specific and stays on the platform type (for the
//! TPM: [`crate::tpm::TpmBackend::register`]).

use sealbuild_common::api::Evidence;
use std::path::PathBuf;
use thiserror::Error;

/// The platforms the agent can collect evidence on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Platform {
    /// A TPM 2.0 (discrete, firmware or virtual).
    Tpm,
    /// An AMD SEV-SNP guest (configfs-tsm or /dev/sev-guest).
    Snp,
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Tpm => f.write_str("tpm"),
            Self::Snp => f.write_str("snp"),
        }
    }
}

/// Collects evidence bound to a binding digest.
pub trait EvidenceCollector {
    /// Which platform this collector produces evidence for.
    fn platform(&self) -> Platform;

    /// Produces fresh evidence whose hardware-signed part carries `binding`.
    fn collect(&mut self, binding: &[u8; 32]) -> Result<Evidence, AgentError>;
}

/// Errors of the agent library, grouped by cause.
#[derive(Debug, Error)]
pub enum AgentError {
    // --- configuration -----------------------------------------------------
    /// A TCTI configuration string that does not parse.
    #[error("TCTI configuration {input:?}: {reason}")]
    TctiConfig {
        /// The string as given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A PCR selection string (tpm2-tools syntax) that does not parse.
    #[error("PCR selection {input:?}: {reason}")]
    PcrSelection {
        /// The string as given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Another argument the caller passed is not acceptable.
    #[error("invalid argument {what}: {reason}")]
    InvalidArgument {
        /// Which argument.
        what: &'static str,
        /// Why.
        reason: String,
    },

    // --- talking to the TPM --------------------------------------------------
    /// The TCTI could not be loaded or the TPM could not be reached.
    #[error("cannot open the TPM via {tcti}: {detail}")]
    TctiOpen {
        /// The TCTI that was tried, in configuration syntax.
        tcti: String,
        /// The TSS' description of the failure.
        detail: String,
    },
    /// A TPM command (or its ESAPI wrapper) failed.
    #[error("TPM2_{command} failed: {detail}")]
    TpmCommand {
        /// The command, as named in TCG TPM 2.0 Library Part 3 (without `TPM2_`).
        command: &'static str,
        /// Response code text, layer and value (see `tpm::rc`).
        detail: String,
    },
    /// The TPM answered, but not with what the command promises.
    #[error("unexpected TPM response to TPM2_{command}: {reason}")]
    UnexpectedResponse {
        /// The command.
        command: &'static str,
        /// What was expected and what came back.
        reason: String,
    },
    /// Flushing a transient object or session failed after the operation
    /// itself succeeded.
    #[error("TPM2_FlushContext of {what} (handle {handle:#010x}) failed: {detail}")]
    Flush {
        /// What the handle was (EK, AK, policy session, …).
        what: &'static str,
        /// The ESYS handle.
        handle: u32,
        /// The TSS' description of the failure.
        detail: String,
    },
    /// A requested PCR bank has no PCRs allocated on this TPM.
    #[error("PCR bank {bank} is not allocated on this TPM (PCR_Read returned nothing for {missing}); allocated banks can be listed with tpm2_getcap pcrs")]
    PcrBankNotAllocated {
        /// The bank.
        bank: String,
        /// The PCRs that could not be read, in selection syntax.
        missing: String,
    },
    /// The PCRs kept changing while quoting, so no PCR values matching the
    /// quote could be read.
    #[error("PCR values changed between TPM2_Quote and TPM2_PCR_Read in each of {attempts} attempts (quote pcrDigest {quoted}, digest of values read {read})")]
    PcrsUnstable {
        /// How many times it was tried.
        attempts: u32,
        /// pcrDigest of the last quote, hex.
        quoted: String,
        /// Digest of the last values read, hex.
        read: String,
    },
    /// The TPM's own check of the quote signature over the bytes we are about
    /// to send failed.
    #[error("quote self-check: TPM2_VerifySignature rejected the signature over the marshalled TPMS_ATTEST: {detail}")]
    QuoteSelfCheck {
        /// The TSS' description of the failure.
        detail: String,
    },

    // --- endorsement key -----------------------------------------------------
    /// No EK certificate was found where the caller required one.
    #[error("no EK certificate in NV: looked at {looked_at}")]
    MissingEkCertificate {
        /// The NV indices that were tried, e.g. "0x01c00002 (RSA 2048)".
        looked_at: String,
    },
    /// An EK certificate NV index holds something that is not one DER
    /// certificate (optionally followed by uniform padding).
    #[error("EK certificate in NV index {index:#010x}: {reason}")]
    MalformedEkCertificate {
        /// The NV index.
        index: u32,
        /// Which check failed.
        reason: String,
    },
    /// The EK the TPM derives now is not the one the stored AK was created
    /// under (TPM cleared, replaced, or the state belongs to another TPM).
    #[error("the {ek_type} EK of this TPM differs from the one the stored AK was created under (expected EK Name {expected}, got {got}); register again")]
    EkMismatch {
        /// The EK type.
        ek_type: String,
        /// Name of the EK recorded with the AK, hex.
        expected: String,
        /// Name of the EK now, hex.
        got: String,
    },

    // --- stored AK -------------------------------------------------------------
    /// The AK state does not decode or is inconsistent.
    #[error("AK state: {reason}")]
    AkState {
        /// Which check failed.
        reason: String,
    },
    /// Reading or writing the AK state file failed.
    #[error("AK state file {path}: {source}")]
    AkStateIo {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },

    // --- files -------------------------------------------------------------------
    /// Reading the firmware event log failed (absence is not an error).
    #[error("event log {path}: {source}")]
    EventLogIo {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The event log is larger than the agent accepts.
    #[error("event log {path}: larger than {max} bytes")]
    EventLogTooLarge {
        /// The file.
        path: PathBuf,
        /// The limit.
        max: usize,
    },
    /// Writing an output file failed.
    #[error("output file {path}: {source}")]
    OutputIo {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },

    // --- SEV-SNP guest -------------------------------------------------------------
    /// Neither SEV-SNP guest interface exists on this machine.
    #[error(
        "no SEV-SNP guest interface: neither the configfs-tsm report directory {configfs} nor \
         the device {device} exists (needs an SEV-SNP guest with Linux >= 6.7 built with \
         CONFIG_TSM_REPORTS, configfs mounted at /sys/kernel/config and the sev-guest module \
         loaded, or an older kernel with the sev-guest driver providing {device})"
    )]
    SnpUnavailable {
        /// The configfs-tsm report directory that was looked for.
        configfs: PathBuf,
        /// The device that was looked for.
        device: PathBuf,
    },
    /// A configfs-tsm report entry could not be created under the root.
    #[error(
        "configfs-tsm: cannot create a report entry {entry}: {source} (the root must be the \
         configfs-tsm report directory: Linux >= 6.7 with CONFIG_TSM_REPORTS, configfs mounted, \
         the sev-guest module loaded, and root privileges)"
    )]
    SnpConfigfsEntry {
        /// The entry directory that was to be created.
        entry: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Reading or writing a configfs-tsm attribute failed.
    #[error("configfs-tsm: {action} {path}: {source}")]
    SnpConfigfsIo {
        /// "reading" or "writing".
        action: &'static str,
        /// The attribute file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A configfs-tsm attribute holds something other than the ABI promises.
    #[error("configfs-tsm: {path}: {reason}")]
    SnpConfigfs {
        /// The attribute file (or entry directory).
        path: PathBuf,
        /// What was expected and what was seen.
        reason: String,
    },
    /// Another writer changed the configfs-tsm entry while the report was
    /// read, in every attempt.
    #[error(
        "configfs-tsm: another writer changed report entries while the report was read, in each \
         of {attempts} attempts (last entry {entry}: generation expected {expected}, got {got})"
    )]
    SnpGenerationRace {
        /// How many entries were tried.
        attempts: u32,
        /// The last entry.
        entry: PathBuf,
        /// Generation after our own writes.
        expected: u64,
        /// Generation read after the report.
        got: u64,
    },
    /// The SEV-SNP guest device refused or failed a request.
    #[error("{device}: {request} failed: {detail}")]
    SnpDevice {
        /// The device.
        device: String,
        /// The request (e.g. "SNP_GET_EXT_REPORT").
        request: &'static str,
        /// The driver's or firmware's description.
        detail: String,
    },
    /// The report the interface returned is not an ATTESTATION_REPORT.
    #[error("SEV-SNP report from {origin}: {source}")]
    SnpMalformedReport {
        /// Which interface returned it.
        origin: String,
        /// The parse error.
        source: sealbuild_common::FormatError,
    },
    /// The report's REPORT_DATA is not what was requested: a host, driver or
    /// firmware bug, or tampering.
    #[error(
        "SEV-SNP report from {origin}: REPORT_DATA expected {expected}, got {got} (the report \
         was not produced for this request: a host, driver or firmware bug, or tampering)"
    )]
    SnpReportDataMismatch {
        /// Which interface returned it.
        origin: String,
        /// Requested REPORT_DATA, hex.
        expected: String,
        /// REPORT_DATA in the report, hex.
        got: String,
    },
    /// The report's VMPL is not the one requested.
    #[error("SEV-SNP report from {origin}: VMPL expected {expected}, got {got}")]
    SnpVmplMismatch {
        /// Which interface returned it.
        origin: String,
        /// Requested VMPL.
        expected: u32,
        /// VMPL in the report.
        got: u32,
    },
    /// The host's certificate table (configfs-tsm auxblob or extended-report
    /// buffer) does not parse.
    #[error("SEV-SNP certificate table from {origin}: {source}")]
    SnpCertTable {
        /// Where it came from.
        origin: String,
        /// The parse error.
        source: sealbuild_common::FormatError,
    },

    // --- sealed builds -------------------------------------------------------------
    /// A sealed-build step (source identity, build command, artifacts).
    #[error(transparent)]
    Build(#[from] crate::build::BuildError),

    // --- wire formats ------------------------------------------------------------
    /// Untrusted bytes (from the verifier or the TPM) that do not parse.
    #[error("{what}: {source}")]
    Format {
        /// Which input.
        what: &'static str,
        /// The parse error.
        source: sealbuild_common::FormatError,
    },
}
