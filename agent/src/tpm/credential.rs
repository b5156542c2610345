//! TPM2_ActivateCredential: proves to the verifier that the AK lives in the
//! same TPM as the EK (TCG TPM 2.0 Library Part 3 rev. 1.59 §12.5; protocol
//! in Part 1 §24 "Credential Protection").
//!
//! The verifier's TPM2_MakeCredential output arrives as two marshalled
//! structures: TPM2B_ID_OBJECT (Part 2 §12.4.3, Table 221: integrityHMAC and
//! encIdentity) and TPM2B_ENCRYPTED_SECRET (Part 2 §11.4.33, Table 203: the
//! seed encrypted to the EK). Both are parsed with
//! [`sealbuild_common::reader::Reader`]: size prefix checked against the
//! structure's maximum, no trailing bytes.
//!
//! Authorizations: the AK (activateHandle, USER role) with an empty password;
//! the EK (keyHandle, USER role) with a policy session satisfying the EK
//! template's authPolicy, PolicySecret(TPM_RH_ENDORSEMENT) (TCG EK Credential
//! Profile v2.5 Annex B.3 "Policy A"), or, for the high-range templates that
//! set userWithAuth (Annex B.4), an empty password. An endorsement hierarchy
//! with a non-empty authValue is not supported.

use super::ak::AkState;
use super::{rc, Registration, TpmBackend};
use crate::evidence::AgentError;
use sealbuild_common::api::RegisterResponse;
use sealbuild_common::reader::Reader;
use std::path::Path;
use tss_esapi::constants::SessionType;
use tss_esapi::handles::{AuthHandle, KeyHandle, SessionHandle};
use tss_esapi::interface_types::session_handles::{AuthSession, PolicySession};
use tss_esapi::structures::{EncryptedSecret, IdObject, SymmetricDefinition};
use zeroize::Zeroizing;

/// Parses a marshalled TPM2B_ID_OBJECT into the tss-esapi type.
pub fn parse_id_object(bytes: &[u8]) -> Result<IdObject, AgentError> {
    let what = "credential blob (TPM2B_ID_OBJECT)";
    let mut r = Reader::new(bytes);
    let body = r
        .tpm2b("TPM2B_ID_OBJECT", IdObject::MAX_SIZE)
        .map_err(|source| AgentError::Format { what, source })?;
    r.finish("TPM2B_ID_OBJECT")
        .map_err(|source| AgentError::Format { what, source })?;
    IdObject::try_from(body.to_vec()).map_err(|e| AgentError::InvalidArgument {
        what,
        reason: rc::describe(&e),
    })
}

/// Parses a marshalled TPM2B_ENCRYPTED_SECRET into the tss-esapi type.
pub fn parse_encrypted_secret(bytes: &[u8]) -> Result<EncryptedSecret, AgentError> {
    let what = "encrypted secret (TPM2B_ENCRYPTED_SECRET)";
    let mut r = Reader::new(bytes);
    let body = r
        .tpm2b("TPM2B_ENCRYPTED_SECRET", EncryptedSecret::MAX_SIZE)
        .map_err(|source| AgentError::Format { what, source })?;
    r.finish("TPM2B_ENCRYPTED_SECRET")
        .map_err(|source| AgentError::Format { what, source })?;
    EncryptedSecret::try_from(body.to_vec()).map_err(|e| AgentError::InvalidArgument {
        what,
        reason: rc::describe(&e),
    })
}

impl TpmBackend {
    /// The agent side of the verifier's registration challenge: checks that
    /// the verifier named the agent after the new AK (agent id = the AK's
    /// Name, hex), stores the AK in `state_dir` ([`AkState::save`]) and
    /// recovers the secret with TPM2_ActivateCredential.
    pub fn answer_registration(
        &mut self,
        registration: &Registration,
        challenge: &RegisterResponse,
        state_dir: &Path,
    ) -> Result<Zeroizing<Vec<u8>>, AgentError> {
        let name = hex::encode(&registration.ak.name);
        if challenge.agent_id != name {
            return Err(AgentError::AgentIdMismatch {
                expected: name,
                got: challenge.agent_id.clone(),
            });
        }
        registration.ak.save(state_dir)?;
        self.activate_credential(
            &registration.ak,
            &challenge.credential_blob,
            &challenge.encrypted_secret,
        )
    }

    /// Runs TPM2_ActivateCredential for the stored AK on the verifier's
    /// challenge and returns the recovered credential. EK, AK and the policy
    /// session are flushed on every path.
    pub fn activate_credential(
        &mut self,
        ak: &AkState,
        credential_blob: &[u8],
        encrypted_secret: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, AgentError> {
        let id_object = parse_id_object(credential_blob)?;
        let secret = parse_encrypted_secret(encrypted_secret)?;
        self.with_ak(ak, |s, ek, key| s.activate(ek, key, id_object, secret))
    }

    fn activate(
        &mut self,
        ek: KeyHandle,
        ak: KeyHandle,
        id_object: IdObject,
        secret: EncryptedSecret,
    ) -> Result<Zeroizing<Vec<u8>>, AgentError> {
        let (ek_public, _, _) = self
            .ctx
            .execute_without_session(|c| c.read_public(ek))
            .map_err(rc::cmd("ReadPublic (EK)"))?;
        let recovered = if ek_public.object_attributes().user_with_auth() {
            self.ctx
                .execute_with_sessions(
                    (
                        Some(AuthSession::Password),
                        Some(AuthSession::Password),
                        None,
                    ),
                    |c| c.activate_credential(ak, ek, id_object, secret),
                )
                .map_err(rc::cmd("ActivateCredential"))?
        } else {
            let session = self
                .ctx
                .start_auth_session(
                    None,
                    None,
                    None,
                    SessionType::Policy,
                    SymmetricDefinition::Null,
                    ek_public.name_hashing_algorithm(),
                )
                .map_err(rc::cmd("StartAuthSession"))?
                .ok_or_else(|| AgentError::UnexpectedResponse {
                    command: "StartAuthSession",
                    reason: "no session handle".into(),
                })?;
            self.with_flushed(
                "EK policy session",
                SessionHandle::from(session).into(),
                |s| {
                    let policy = PolicySession::try_from(session)
                        .map_err(rc::cmd("StartAuthSession (policy session)"))?;
                    s.ctx
                        .execute_with_session(Some(AuthSession::Password), |c| {
                            c.policy_secret(
                                policy,
                                AuthHandle::Endorsement,
                                Default::default(),
                                Default::default(),
                                Default::default(),
                                None,
                            )
                        })
                        .map_err(rc::cmd("PolicySecret"))?;
                    s.ctx
                        .execute_with_sessions(
                            (Some(AuthSession::Password), Some(session), None),
                            |c| c.activate_credential(ak, ek, id_object, secret),
                        )
                        .map_err(rc::cmd("ActivateCredential"))
                },
            )?
        };
        Ok(Zeroizing::new(recovered.value().to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tpm2b_inputs_are_checked() {
        // well-formed
        let mut id = vec![0, 4];
        id.extend([1, 2, 3, 4]);
        assert_eq!(parse_id_object(&id).unwrap().value(), &[1, 2, 3, 4]);
        let es = [0u8, 2, 9, 9];
        assert_eq!(parse_encrypted_secret(&es).unwrap().value(), &[9, 9]);
        // trailing byte
        let mut long = id.clone();
        long.push(0);
        assert!(parse_id_object(&long)
            .unwrap_err()
            .to_string()
            .contains("trailing"));
        // truncated
        assert!(parse_id_object(&id[..5])
            .unwrap_err()
            .to_string()
            .contains("truncated"));
        assert!(parse_encrypted_secret(&[0]).is_err());
        // size over the structure's maximum
        let mut big = vec![0x01, 0x00];
        big.extend(vec![0u8; 256]);
        assert!(parse_id_object(&big)
            .unwrap_err()
            .to_string()
            .contains("exceeds"));
        let mut huge = vec![0xff, 0xff];
        huge.extend(vec![0u8; 0xffff]);
        assert!(parse_encrypted_secret(&huge)
            .unwrap_err()
            .to_string()
            .contains("exceeds"));
    }
}
