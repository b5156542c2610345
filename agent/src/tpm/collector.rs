//! The TPM [`EvidenceCollector`]: a quote over the configured PCRs with the
//! binding digest as qualifying data (TPMS_ATTEST.extraData), the PCR values
//! it covers and the firmware event log when there is one; registration
//! (EK + AK, ActivateCredential); a sealed build's runtime log in PCR 23
//! ([`super::runtime`]); and the tpm2-tools files of a bundle.

use super::ak::{AkState, AkType};
use super::ek::EkSelection;
use super::eventlog::read_event_log;
use super::pcr::PcrSelection;
use super::runtime::RuntimeRegister;
use super::{QuoteOutput, Registration, TpmBackend};
use crate::evidence::{write_evidence_file, wrong_evidence, AgentError, EvidenceCollector};
use sealbuild_common::api::{Evidence, RegisterRequest, RegisterResponse, TpmEvidence};
use sealbuild_common::cel::RuntimeEvent;
use sealbuild_common::{HashAlg, Platform};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// How a TPM registers: which EK, which kind of AK, and where the AK is
/// stored once the verifier has named the agent after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TpmEnrolment {
    /// The EK to register.
    pub ek: EkSelection,
    /// The AK algorithm.
    pub ak_type: AkType,
    /// The state directory the AK is stored in ([`AkState::save`]).
    pub state_dir: PathBuf,
}

/// Collects TPM evidence with a stored AK (or registers one first).
#[derive(Debug)]
pub struct TpmCollector {
    backend: TpmBackend,
    ak: Option<AkState>,
    selection: PcrSelection,
    event_log: Option<PathBuf>,
    runtime_log: Option<Vec<u8>>,
    runtime: RuntimeRegister,
    enrolment: Option<TpmEnrolment>,
    pending: Option<Registration>,
}

impl TpmCollector {
    /// A collector quoting `selection` with `ak`; `event_log` is the path of
    /// the firmware event log (usually
    /// [`super::DEFAULT_EVENT_LOG_PATH`]), `None` to never send one. The
    /// runtime log of a sealed build goes to PCR 23.
    pub fn new(
        backend: TpmBackend,
        ak: AkState,
        selection: PcrSelection,
        event_log: Option<PathBuf>,
    ) -> Self {
        Self {
            backend,
            ak: Some(ak),
            selection,
            event_log,
            runtime_log: None,
            runtime: RuntimeRegister::default(),
            enrolment: None,
            pending: None,
        }
    }

    /// [`Self::new`] with the AK stored in `state_dir` by an earlier
    /// registration.
    pub fn load(
        backend: TpmBackend,
        state_dir: &Path,
        selection: PcrSelection,
        event_log: Option<PathBuf>,
    ) -> Result<Self, AgentError> {
        Ok(Self::new(
            backend,
            AkState::load(state_dir)?,
            selection,
            event_log,
        ))
    }

    /// A collector that has no AK yet: [`crate::flow::enrol`] registers it
    /// as `enrolment` says; afterwards it quotes firmware PCRs 0–7 with the
    /// new AK.
    pub fn for_registration(backend: TpmBackend, enrolment: TpmEnrolment) -> Self {
        Self {
            backend,
            ak: None,
            selection: PcrSelection::firmware(),
            event_log: None,
            runtime_log: None,
            runtime: RuntimeRegister::default(),
            enrolment: Some(enrolment),
            pending: None,
        }
    }

    /// Keeps a sealed build's runtime log in `runtime` instead of PCR 23.
    pub fn with_runtime_register(mut self, runtime: RuntimeRegister) -> Self {
        self.runtime = runtime;
        self
    }

    /// Attaches the runtime measurement log (CEL JSON) sent with the next
    /// quotes; the quote selection must cover the runtime PCR it extends.
    /// (A sealed build sets it through [`EvidenceCollector::end_runtime_log`].)
    pub fn set_runtime_log(&mut self, log: Option<Vec<u8>>) {
        self.runtime_log = log;
    }

    /// The backend, e.g. for activation or PCR extends.
    pub fn backend_mut(&mut self) -> &mut TpmBackend {
        &mut self.backend
    }

    /// The AK in use (`None` before registration).
    pub fn ak(&self) -> Option<&AkState> {
        self.ak.as_ref()
    }

    /// The PCRs quoted.
    pub fn selection(&self) -> &PcrSelection {
        &self.selection
    }

    fn state(reason: &str) -> AgentError {
        AgentError::CollectorState {
            platform: Platform::Tpm,
            reason: reason.into(),
        }
    }
}

impl EvidenceCollector for TpmCollector {
    fn platform(&self) -> Platform {
        Platform::Tpm
    }

    fn evidence_source(&self) -> String {
        format!("TPM evidence via {}", self.backend.tcti())
    }

    fn agent_id(&self) -> Option<String> {
        self.ak.as_ref().map(|ak| hex::encode(&ak.name))
    }

    fn registration(&mut self) -> Result<Option<RegisterRequest>, AgentError> {
        let Some(e) = &self.enrolment else {
            return Err(Self::state(
                "made for an AK registered earlier; registering needs TpmCollector::for_registration",
            ));
        };
        let registration = self.backend.register(e.ek, e.ak_type)?;
        let request = registration.register_request();
        self.pending = Some(registration);
        Ok(Some(request))
    }

    fn activate(&mut self, challenge: &RegisterResponse) -> Result<Zeroizing<Vec<u8>>, AgentError> {
        let (Some(registration), Some(e)) = (self.pending.take(), &self.enrolment) else {
            return Err(Self::state(
                "a challenge arrived before registration started",
            ));
        };
        let secret = self
            .backend
            .answer_registration(&registration, challenge, &e.state_dir)?;
        self.ak = Some(registration.ak);
        Ok(secret)
    }

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
        let Some(ak) = &self.ak else {
            return Err(Self::state(
                "no AK: register first (sealbuild-agent register)",
            ));
        };
        let quote = self.backend.quote(ak, binding, &self.selection)?;
        Ok(Evidence::Tpm(tpm_evidence(
            quote,
            self.event_log.as_deref(),
            self.runtime_log.clone(),
        )?))
    }

    fn write_evidence(&self, evidence: &Evidence, dir: &Path) -> Result<(), AgentError> {
        let Evidence::Tpm(t) = evidence else {
            return Err(wrong_evidence(Platform::Tpm, evidence));
        };
        write_tpm_files(dir, t)?;
        if let Some(ak) = &self.ak {
            write_evidence_file(dir, "ak.pub", &ak.public)?;
        }
        Ok(())
    }
}

/// `quote` as evidence, with the firmware event log at `event_log` (if
/// any) and `runtime_log`.
pub(crate) fn tpm_evidence(
    quote: QuoteOutput,
    event_log: Option<&Path>,
    runtime_log: Option<Vec<u8>>,
) -> Result<TpmEvidence, AgentError> {
    let event_log = match event_log {
        Some(path) => read_event_log(path)?.into_bytes(),
        None => None,
    };
    Ok(TpmEvidence {
        quote: quote.attest,
        signature: quote.signature,
        pcrs: quote.pcrs.to_api_map(),
        event_log,
        runtime_log,
    })
}

/// The TPM part of a bundle's evidence, as tpm2-tools names it: quote.msg
/// (TPMS_ATTEST), quote.sig (TPMT_SIGNATURE), pcrs.json, the firmware event
/// log (binary_bios_measurements) and the runtime log (runtime.cel.json).
pub(crate) fn write_tpm_files(dir: &Path, t: &TpmEvidence) -> Result<(), AgentError> {
    write_evidence_file(dir, "quote.msg", &t.quote)?;
    write_evidence_file(dir, "quote.sig", &t.signature)?;
    // A map of strings cannot fail to serialize.
    let pcrs = serde_json::to_vec_pretty(&t.pcrs).unwrap_or_default();
    write_evidence_file(dir, "pcrs.json", &pcrs)?;
    if let Some(log) = &t.event_log {
        write_evidence_file(dir, "binary_bios_measurements", log)?;
    }
    if let Some(log) = &t.runtime_log {
        write_evidence_file(dir, "runtime.cel.json", log)?;
    }
    Ok(())
}
