//! The TPM [`EvidenceCollector`]: a quote over the configured PCRs with the
//! binding digest as qualifying data (TPMS_ATTEST.extraData), the PCR values
//! it covers and the firmware event log when there is one.

use super::ak::AkState;
use super::eventlog::read_event_log;
use super::pcr::PcrSelection;
use super::TpmBackend;
use crate::evidence::{AgentError, EvidenceCollector, Platform};
use sealbuild_common::api::{Evidence, TpmEvidence};
use std::path::PathBuf;

/// Collects TPM evidence with a stored AK.
#[derive(Debug)]
pub struct TpmCollector {
    backend: TpmBackend,
    ak: AkState,
    selection: PcrSelection,
    event_log: Option<PathBuf>,
    runtime_log: Option<Vec<u8>>,
}

impl TpmCollector {
    /// A collector quoting `selection` with `ak`; `event_log` is the path of
    /// the firmware event log (usually
    /// [`super::DEFAULT_EVENT_LOG_PATH`]), `None` to never send one.
    pub fn new(
        backend: TpmBackend,
        ak: AkState,
        selection: PcrSelection,
        event_log: Option<PathBuf>,
    ) -> Self {
        Self {
            backend,
            ak,
            selection,
            event_log,
            runtime_log: None,
        }
    }

    /// Attaches the runtime measurement log (CEL JSON) sent with the next
    /// quotes; the quote selection must cover the runtime PCR it extends.
    pub fn set_runtime_log(&mut self, log: Option<Vec<u8>>) {
        self.runtime_log = log;
    }

    /// The backend, e.g. for activation or PCR extends.
    pub fn backend_mut(&mut self) -> &mut TpmBackend {
        &mut self.backend
    }

    /// The AK in use.
    pub fn ak(&self) -> &AkState {
        &self.ak
    }
}

impl EvidenceCollector for TpmCollector {
    fn platform(&self) -> Platform {
        Platform::Tpm
    }

    fn collect(&mut self, binding: &[u8; 32]) -> Result<Evidence, AgentError> {
        let quote = self.backend.quote(&self.ak, binding, &self.selection)?;
        let event_log = match &self.event_log {
            Some(path) => read_event_log(path)?.into_bytes(),
            None => None,
        };
        Ok(Evidence::Tpm(TpmEvidence {
            quote: quote.attest,
            signature: quote.signature,
            pcrs: quote.pcrs.to_api_map(),
            event_log,
            runtime_log: self.runtime_log.clone(),
        }))
    }
}
