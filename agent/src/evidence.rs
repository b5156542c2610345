//! Evidence collection: one [`EvidenceCollector`] per platform, covering
//! everything a platform contributes to `attest` and to a sealed build, and
//! the crate's error type.
//!
//! A collector turns the 32-byte binding digest
//! ([`sealbuild_common::binding`]) into platform evidence that carries it:
//! for a TPM the binding is the quote's `qualifyingData`
//! (TPMS_ATTEST.extraData, TCG TPM 2.0 Library Part 2 rev. 1.59 §10.12.12);
//! for SEV-SNP it fills the first half of REPORT_DATA
//! ([`sealbuild_common::binding::snp_report_data`]), and so it does for a
//! TDX quote's REPORT_DATA; on an Azure confidential
//! VM it is the vTPM quote's `qualifyingData`. The collector also names the
//! attester to the verifier (registering first where the platform needs it),
//! keeps the runtime log of a sealed build where the platform has one, and
//! writes its raw evidence into a bundle in the formats its own tools read.
//!
//! | platform | identity | runtime log | module |
//! |---|---|---|---|
//! | `tpm` | registered: EK certificate + AK, MakeCredential / ActivateCredential; agent id = AK Name (hex) | PCR 23 reset and extended, TCG CEL | [`crate::tpm`] (feature `tpm`) |
//! | `snp` | hardware-vouched: `snp:<label>`, nothing to register | none: the statement digest is bound through REPORT_DATA | [`crate::snp`] (feature `snp`) |
//! | `azure` | hardware-vouched: `azure:<label>`, nothing to register | as for the TPM, in the vTPM | [`crate::azure`] (feature `tpm`) |
//! | `tdx` | hardware-vouched: `tdx:<label>`, nothing to register | RTMR3 extended (never reset), CEL with SHA-384 digests | [`crate::tdx`] (feature `tdx`) |

use sealbuild_common::api::{Evidence, RegisterRequest, RegisterResponse};
use sealbuild_common::cel::RuntimeEvent;
use sealbuild_common::Platform;
use std::path::{Path, PathBuf};
use thiserror::Error;
use zeroize::Zeroizing;

/// Everything one platform contributes to `attest` and to a sealed build.
///
/// The sealed-build flow ([`crate::sealed_build`]) and `attest`
/// ([`crate::flow`]) hold one `dyn EvidenceCollector` and never ask which
/// platform it is.
pub trait EvidenceCollector: Send {
    /// Which platform this collector produces evidence for.
    fn platform(&self) -> Platform;

    /// Where the evidence comes from, for messages, e.g. "TPM evidence via
    /// device:/dev/tpmrm0".
    fn evidence_source(&self) -> String;

    /// The id the verifier knows this attester by: the registered AK's Name
    /// (hex) for a TPM, `<platform>:<label>` for attesters that hardware
    /// vouches for. `None` while a registering platform has not registered.
    fn agent_id(&self) -> Option<String>;

    /// Starts registration with the verifier: `Some(request)` for platforms
    /// whose attesters register (TPM: the EK, its certificate and a new AK),
    /// `None` for hardware-vouched platforms, which register nothing (the
    /// default).
    fn registration(&mut self) -> Result<Option<RegisterRequest>, AgentError> {
        Ok(None)
    }

    /// Answers the verifier's registration challenge and returns the
    /// recovered secret (TPM: checks that the verifier named the agent after
    /// the new AK, stores the AK, runs TPM2_ActivateCredential). Only after
    /// [`Self::registration`] returned a request; the default, for
    /// hardware-vouched platforms, refuses: there is no challenge to answer.
    fn activate(
        &mut self,
        _challenge: &RegisterResponse,
    ) -> Result<Zeroizing<Vec<u8>>, AgentError> {
        let platform = self.platform();
        Err(AgentError::CollectorState {
            platform,
            reason: format!(
                "{} attesters do not register, so there is no challenge to answer",
                platform.title()
            ),
        })
    }

    /// Starts the runtime log of a sealed build with `events` (the source
    /// identity, then the command), measured in order. TPM: resets the
    /// runtime PCR and extends each event, recording it in a TCG Canonical
    /// Event Log. SEV-SNP: nothing (the statement is bound through
    /// REPORT_DATA).
    fn begin_runtime_log(&mut self, events: &[RuntimeEvent]) -> Result<(), AgentError>;

    /// Ends the runtime log with `event` (the statement digest). From then
    /// on collected evidence carries the log and covers its register.
    fn end_runtime_log(&mut self, event: &RuntimeEvent) -> Result<(), AgentError>;

    /// What a build's provenance records about this platform in
    /// `internalParameters` besides its name (TPM: `runtimePcr`).
    fn build_parameters(&self) -> serde_json::Map<String, serde_json::Value>;

    /// Produces fresh evidence whose hardware-signed part carries `binding`.
    fn collect(&mut self, binding: &[u8; 32]) -> Result<Evidence, AgentError>;

    /// Writes `evidence` (as this collector produced it) into `dir` in the
    /// formats the platform's own tools read (TPM: tpm2-tools' quote.msg,
    /// quote.sig, ak.pub, …; SEV-SNP: snpguest's report.bin and
    /// certificates). Evidence of another platform is refused.
    fn write_evidence(&self, evidence: &Evidence, dir: &Path) -> Result<(), AgentError>;
}

/// The agent id a hardware-vouched attester uses when none is given:
/// `<platform>:<host name>` (`unknown` when the host name cannot be read).
pub fn default_agent_id(platform: Platform) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    format!(
        "{}:{}",
        platform.name(),
        if host.is_empty() { "unknown" } else { &host }
    )
}

/// Writes `bytes` to `dir/name`, creating the directories on the way.
pub fn write_evidence_file(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, AgentError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| AgentError::OutputIo { path, source }
    };
    let path = dir.join(name);
    let parent = path.parent().unwrap_or(dir);
    std::fs::create_dir_all(parent).map_err(io(parent))?;
    std::fs::write(&path, bytes).map_err(io(&path))?;
    Ok(path)
}

/// Writes SEV-SNP certificates (of an SNP report or an Azure HCL report) as
/// `<kind>.der`: vcek.der, ask.der, ark.der, … (snpguest's names).
pub fn write_snp_certificates(
    dir: &Path,
    certificates: &[sealbuild_common::api::SnpCertificate],
) -> Result<(), AgentError> {
    for c in certificates {
        write_evidence_file(dir, &format!("{}.der", c.kind.as_str()), &c.der)?;
    }
    Ok(())
}

/// The error for evidence handed to a collector of another platform.
pub fn wrong_evidence(expected: Platform, got: &Evidence) -> AgentError {
    AgentError::InvalidArgument {
        what: "evidence",
        reason: format!(
            "a {expected} collector cannot write {} evidence",
            got.platform()
        ),
    }
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
         the sev-guest or tdx-guest module loaded, and root privileges)"
    )]
    ConfigfsEntry {
        /// The entry directory that was to be created.
        entry: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Reading or writing a configfs-tsm attribute failed.
    #[error("configfs-tsm: {action} {path}: {source}")]
    ConfigfsIo {
        /// "reading" or "writing".
        action: &'static str,
        /// The attribute file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A configfs-tsm attribute holds something other than the ABI promises.
    #[error("configfs-tsm: {path}: {reason}")]
    Configfs {
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
    // --- Intel TDX guest ----------------------------------------------------------------
    /// Another writer changed the configfs-tsm entry while the TD quote was
    /// read, in every attempt.
    #[error(
        "configfs-tsm: another writer changed report entries while the TD quote was read, in \
         each of {attempts} attempts (last entry {entry}: generation expected {expected}, got \
         {got})"
    )]
    TdxGenerationRace {
        /// How many entries were tried.
        attempts: u32,
        /// The last entry.
        entry: PathBuf,
        /// Generation after our own write.
        expected: u64,
        /// Generation read after the quote.
        got: u64,
    },
    /// The interface returned something that is not a TD quote.
    #[error("TD quote from {origin}: {source}")]
    TdxMalformedQuote {
        /// Which interface returned it.
        origin: String,
        /// The parse error (or why an SGX quote is not a TD quote).
        source: sealbuild_common::FormatError,
    },
    /// The TD quote's REPORT_DATA is not what was requested.
    #[error(
        "TD quote from {origin}: REPORT_DATA expected {expected}, got {got} (the quote was not \
         produced for this request: a host, quoting service or driver bug, or tampering)"
    )]
    TdxReportDataMismatch {
        /// Which interface returned it.
        origin: String,
        /// Requested REPORT_DATA, hex.
        expected: String,
        /// REPORT_DATA in the quote, hex.
        got: String,
    },
    /// The TD quote's RTMR3 is not what the sealed build's runtime log
    /// replays to (something else extended RTMR3).
    #[error(
        "TD quote from {origin}: RTMR3 is {got}, but the runtime log replays to {expected} \
         (another process extended RTMR3 during the build)"
    )]
    TdxRtmrMismatch {
        /// Which interface returned the quote.
        origin: String,
        /// The log's replay, hex.
        expected: String,
        /// RTMR3 in the quote, hex.
        got: String,
    },
    /// The CCEL table or log area does not parse.
    #[error("CCEL {path}: {source}")]
    Ccel {
        /// The file (the log area; the table when only it is at fault).
        path: PathBuf,
        /// The parse error.
        source: sealbuild_common::eventlog::ccel::CcelError,
    },
    /// A TDX measurement register file (tsm-mr sysfs) holds something else
    /// than a register value, or the register is not in the expected state.
    #[error("measurement register {path}: {reason}")]
    Rtmr {
        /// The sysfs attribute.
        path: PathBuf,
        /// What was expected and what was seen.
        reason: String,
    },
    /// Reading or extending a TDX measurement register failed.
    #[error(
        "measurement register {path}: {action}: {source} (extending RTMR3 from user space needs \
         Linux >= 6.16 with the tdx_guest driver's tsm-mr attributes, and root privileges)"
    )]
    RtmrIo {
        /// "reading" or "extending".
        action: &'static str,
        /// The sysfs attribute.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },

    // --- registration and platforms -------------------------------------------------
    /// The verifier's registration answer names another agent than this
    /// attester.
    #[error("verifier answer: agent id {got} is not this attester's {expected}")]
    AgentIdMismatch {
        /// This attester's id (for a TPM the new AK's Name, hex).
        expected: String,
        /// The id the verifier assigned.
        got: String,
    },
    /// A step was asked of a collector whose state does not allow it.
    #[error("{platform} collector: {reason}")]
    CollectorState {
        /// The collector's platform.
        platform: sealbuild_common::Platform,
        /// What is missing or out of order.
        reason: String,
    },
    /// The Azure instance metadata service did not return a TD quote.
    #[error("Azure IMDS {url}: {reason}")]
    Imds {
        /// The endpoint.
        url: String,
        /// What went wrong (connection, HTTP status, answer).
        reason: String,
    },
    /// An NV index that must be read cannot be.
    #[error("NV index {index:#010x}: {reason}")]
    NvIndex {
        /// The index.
        index: u32,
        /// Why it cannot be read.
        reason: String,
    },

    // --- sealed builds -------------------------------------------------------------
    /// A sealed-build step (source identity, build command, artifacts).
    #[error(transparent)]
    Build(#[from] crate::build::BuildError),
    /// A sealed build could not complete a step, for a reason other than
    /// the build command or the verifier's verdict.
    #[error("sealed build, {step}: {reason}")]
    SealedBuild {
        /// The step (see [`crate::sealed_build`]).
        step: &'static str,
        /// Why.
        reason: String,
    },

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
