//! Simulated measured boot for software TPMs: extends a TPM's PCRs with the
//! events of a firmware event log, exactly as the firmware that wrote the log
//! did, so that a swtpm presents the PCRs and the log of a real machine.
//!
//! This is a tool for demos and tests on swtpm. It grants nothing: anyone
//! may extend PCRs, and a verifier only trusts PCR values through a quote by
//! an AK whose EK chains to a configured manufacturer CA.

use crate::evidence::AgentError;
use crate::tpm::TpmBackend;
use sealbuild_common::eventlog::{EventLog, EventType};
use sealbuild_common::HashAlg;

/// Extends every measured event of `log` into the TPM; returns how many
/// events were extended. Only the `banks` the TPM has allocated are extended. A log with a StartupLocality event other than 0 is
/// refused: a TPM started at locality 0 cannot reproduce its PCR 0.
pub fn replay_into_tpm(
    backend: &mut TpmBackend,
    log: &EventLog,
    banks: &[HashAlg],
) -> Result<usize, AgentError> {
    let replay = log.replay();
    if let Some((event, locality)) = replay.startup_locality() {
        if locality != 0 {
            return Err(AgentError::InvalidArgument {
                what: "event log",
                reason: format!(
                    "event {event} sets StartupLocality {locality}; a TPM started at locality 0 cannot reproduce PCR 0"
                ),
            });
        }
    }
    let mut n = 0;
    for e in log.events() {
        if !e.is_extended() || e.event_type == EventType::NO_ACTION || e.pcr > 23 {
            continue;
        }
        let digests: Vec<(HashAlg, &[u8])> = banks
            .iter()
            .copied()
            .filter_map(|a| e.digest(a).map(|d| (a, d)))
            .collect();
        if digests.is_empty() {
            continue;
        }
        backend.extend_pcr(e.pcr, &digests)?;
        n += 1;
    }
    Ok(n)
}
