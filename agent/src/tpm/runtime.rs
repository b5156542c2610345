//! The runtime log of a sealed build in a TPM: a resettable PCR and the
//! TCG Canonical Event Log (common::cel) of what was extended into it.
//!
//! PCR 23 (the default) is the PC Client "application support" PCR,
//! resettable from locality 0 (PC Client Platform TPM Profile 1.05, table
//! "PCR Attributes"), so every build's log starts from zero and never mixes
//! with firmware measurements (PCR 0–7) or IMA (PCR 10). Each event is
//! recorded in the log before its SHA-256 digest is extended, so the log
//! always replays to the PCR. Used by the TPM and the Azure vTPM collectors.

pub use super::pcr::DEFAULT_RUNTIME_PCR;
use super::pcr::PCR_COUNT;
use super::TpmBackend;
use crate::evidence::AgentError;
use sealbuild_common::cel::{CelLog, RuntimeEvent};
use sealbuild_common::HashAlg;

/// A runtime log in progress: the PCR and the events extended into it.
#[derive(Debug, Clone, PartialEq)]
pub struct RuntimeRegister {
    pcr: u32,
    log: Option<CelLog>,
}

impl Default for RuntimeRegister {
    fn default() -> Self {
        Self {
            pcr: DEFAULT_RUNTIME_PCR,
            log: None,
        }
    }
}

impl RuntimeRegister {
    /// A runtime log in PCR `pcr` (0..=23; only 16 and 23 are resettable
    /// from locality 0, which [`Self::begin`] needs).
    pub fn new(pcr: u32) -> Result<Self, AgentError> {
        if pcr >= PCR_COUNT {
            return Err(AgentError::InvalidArgument {
                what: "runtime PCR",
                reason: format!("PCR {pcr} is not in 0..{}", PCR_COUNT - 1),
            });
        }
        Ok(Self { pcr, log: None })
    }

    /// The PCR.
    pub fn pcr(&self) -> u32 {
        self.pcr
    }

    /// Resets the PCR and extends `events` in order into it and into a new
    /// log (any earlier log is discarded).
    pub fn begin(
        &mut self,
        backend: &mut TpmBackend,
        events: &[RuntimeEvent],
    ) -> Result<(), AgentError> {
        backend.reset_pcr(self.pcr)?;
        let log = self.log.insert(CelLog::default());
        for event in events {
            extend(backend, log, self.pcr, event)?;
        }
        Ok(())
    }

    /// Extends the last event and returns the whole log as CEL JSON. The log
    /// stays open: a later [`Self::end`] extends once more.
    pub fn end(
        &mut self,
        backend: &mut TpmBackend,
        event: &RuntimeEvent,
    ) -> Result<Vec<u8>, AgentError> {
        let Some(log) = self.log.as_mut() else {
            return Err(AgentError::CollectorState {
                platform: sealbuild_common::Platform::Tpm,
                reason: "the runtime log was ended before it was begun".into(),
            });
        };
        extend(backend, log, self.pcr, event)?;
        Ok(log.to_json())
    }
}

/// Records `event` in `log`, then extends its SHA-256 digest into `pcr`: the
/// log checks the event first, so only a loggable event is extended.
fn extend(
    backend: &mut TpmBackend,
    log: &mut CelLog,
    pcr: u32,
    event: &RuntimeEvent,
) -> Result<(), AgentError> {
    let digest = event.digest(HashAlg::Sha256);
    log.push(pcr, event, &[HashAlg::Sha256])
        .map_err(|source| AgentError::Format {
            what: "runtime log event",
            source,
        })?;
    backend.extend_pcr(pcr, &[(HashAlg::Sha256, &digest)])
}
