//! Registration of a TPM on a bare backend: what `sealbuild-agent register`
//! did before collectors registered themselves ([`super::enrol`] with a
//! [`crate::tpm::TpmCollector::for_registration`] does the same).

use super::{exchange, FlowError, Registered};
use crate::client::VerifierClient;
use crate::evidence::AgentError;
use crate::tpm::ak::{AkState, AkType};
use crate::tpm::ek::EkSelection;
use crate::tpm::TpmBackend;
use std::path::Path;

/// Registers this TPM with the verifier and proves the AK is resident in it.
/// Stores the AK in `state_dir`.
pub async fn register(
    client: &VerifierClient,
    backend: &mut TpmBackend,
    ek: EkSelection,
    ak_type: AkType,
    state_dir: &Path,
) -> Result<Registered, FlowError> {
    let registration = backend.register(ek, ak_type)?;
    exchange(client, &registration.register_request(), |challenge| {
        backend.answer_registration(&registration, challenge, state_dir)
    })
    .await
}

/// Reads the agent id stored by `register`.
pub fn stored_agent_id(state_dir: &Path) -> Result<String, AgentError> {
    Ok(hex::encode(AkState::load(state_dir)?.name))
}
