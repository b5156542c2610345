//! The agent's two protocol flows against the verifier, for any
//! [`EvidenceCollector`]: [`enrol`] (TPM: EK + AK, MakeCredential /
//! ActivateCredential; hardware-vouched platforms register nothing) and
//! [`attest`] (nonce, binding, evidence, sealed keys). Both are library
//! functions so tests drive them in-process against a verifier on loopback.
//! [`register`] and [`stored_agent_id`] are the TPM registration on a bare
//! [`crate::tpm::TpmBackend`] (feature `tpm`).

#[cfg(feature = "tpm")]
mod tpm;

#[cfg(feature = "tpm")]
pub use tpm::{register, stored_agent_id};

use crate::client::{ClientError, VerifierClient};
use crate::evidence::{AgentError, EvidenceCollector};
use pkcs8::DecodePrivateKey;
use sealbuild_common::api::{
    ActivateRequest, AttestRequest, AttestResponse, NonceRequest, RegisterRequest,
    RegisterResponse, SealedKey, Verdict,
};
use sealbuild_common::binding::{Binding, NONCE_LEN};
use sealbuild_common::seal;
use sha2::{Digest, Sha256};
use thiserror::Error;
use zeroize::Zeroizing;

/// Why a flow failed (a rejection is not an error: see [`Attested`]).
#[derive(Debug, Error)]
pub enum FlowError {
    /// TPM or local state.
    #[error(transparent)]
    Agent(#[from] AgentError),
    /// The verifier could not be reached or refused the call.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The verifier's answer is inconsistent.
    #[error("verifier answer: {0}")]
    Protocol(String),
}

/// A registered agent.
#[derive(Debug, Clone)]
pub struct Registered {
    /// The verifier's id for this agent.
    pub agent_id: String,
    /// EK certificate issuer the verifier accepted, if any.
    pub ek_issuer: Option<String>,
}

/// Makes this attester known to the verifier and returns its agent id: for
/// platforms that register (TPM) the registration request, the collector's
/// answer to the verifier's challenge and the activation; hardware-vouched
/// platforms register nothing and only name themselves (no call is made).
pub async fn enrol(
    client: &VerifierClient,
    collector: &mut dyn EvidenceCollector,
) -> Result<Registered, FlowError> {
    let Some(request) = collector.registration()? else {
        let agent_id = collector.agent_id().ok_or_else(|| {
            FlowError::Protocol(format!(
                "the {} collector names no agent id",
                collector.platform()
            ))
        })?;
        return Ok(Registered {
            agent_id,
            ek_issuer: None,
        });
    };
    exchange(client, &request, |challenge| collector.activate(challenge)).await
}

/// Registration request → challenge → `answer` → activation.
pub(crate) async fn exchange(
    client: &VerifierClient,
    request: &RegisterRequest,
    answer: impl FnOnce(&RegisterResponse) -> Result<Zeroizing<Vec<u8>>, AgentError>,
) -> Result<Registered, FlowError> {
    let challenge = client.register(request).await?;
    let secret = answer(&challenge)?;
    let act = client
        .activate(&ActivateRequest {
            agent_id: challenge.agent_id.clone(),
            challenge_id: challenge.challenge_id,
            secret: secret.to_vec(),
        })
        .await?;
    Ok(Registered {
        agent_id: act.agent_id,
        ek_issuer: act.ek_issuer,
    })
}

/// A released key, opened.
pub struct ReleasedKey {
    /// Key id.
    pub key_id: String,
    /// Algorithm name.
    pub algorithm: String,
    /// SPKI PEM as the verifier stated it (checked against the private key).
    pub public_key_pem: String,
    /// SHA-256 (hex) of the SPKI DER.
    pub fingerprint: String,
    /// PKCS#8 DER private key.
    pub pkcs8: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for ReleasedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReleasedKey")
            .field("key_id", &self.key_id)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

/// Outcome of an attestation.
#[derive(Debug)]
pub struct Attested {
    /// The verifier's full answer (verdict, reasons, EAR).
    pub response: AttestResponse,
    /// Keys opened with the ephemeral key (empty when rejected).
    pub keys: Vec<ReleasedKey>,
    /// The nonce used.
    pub nonce: [u8; NONCE_LEN],
    /// The binding digest put into the evidence.
    pub binding: [u8; 32],
}

/// SPKI DER of a PKCS#8 private key of a supported algorithm.
pub fn spki_of_pkcs8(pkcs8_der: &[u8]) -> Result<Vec<u8>, String> {
    use pkcs8::EncodePublicKey;
    if let Ok(k) = ed25519_dalek::SigningKey::from_pkcs8_der(pkcs8_der) {
        return k
            .verifying_key()
            .to_public_key_der()
            .map(|d| d.into_vec())
            .map_err(|e| e.to_string());
    }
    if let Ok(k) = p256::SecretKey::from_pkcs8_der(pkcs8_der) {
        return k
            .public_key()
            .to_public_key_der()
            .map(|d| d.into_vec())
            .map_err(|e| e.to_string());
    }
    if let Ok(k) = p384::SecretKey::from_pkcs8_der(pkcs8_der) {
        return k
            .public_key()
            .to_public_key_der()
            .map(|d| d.into_vec())
            .map_err(|e| e.to_string());
    }
    Err("not an Ed25519, P-256 or P-384 PKCS#8 key".into())
}

fn open_key(
    sk: &[u8],
    sealed: &SealedKey,
    result_digest: &[u8; 32],
) -> Result<ReleasedKey, FlowError> {
    let pkcs8 = seal::open(
        sk,
        &sealed.key_id,
        &seal::Sealed {
            enc: sealed.enc.clone(),
            ciphertext: sealed.ciphertext.clone(),
        },
        result_digest,
    )
    .map_err(|e| FlowError::Protocol(format!("key {}: {e}", sealed.key_id)))?;
    let spki = spki_of_pkcs8(&pkcs8)
        .map_err(|e| FlowError::Protocol(format!("key {}: {e}", sealed.key_id)))?;
    let stated = pem_body(&sealed.public_key_pem)
        .ok_or_else(|| FlowError::Protocol(format!("key {}: public key PEM", sealed.key_id)))?;
    if stated != spki {
        return Err(FlowError::Protocol(format!(
            "key {}: the opened private key does not match the stated public key",
            sealed.key_id
        )));
    }
    Ok(ReleasedKey {
        key_id: sealed.key_id.clone(),
        algorithm: sealed.algorithm.clone(),
        public_key_pem: sealed.public_key_pem.clone(),
        fingerprint: hex::encode(Sha256::digest(&spki)),
        pkcs8,
    })
}

/// Decodes the base64 body of a single-block PEM.
pub fn pem_body(pem: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

/// Attests: asks a nonce, binds it with a fresh ephemeral key (and an
/// optional statement digest), collects evidence and opens released keys.
pub async fn attest(
    client: &VerifierClient,
    collector: &mut dyn EvidenceCollector,
    agent_id: &str,
    statement_digest: Option<[u8; 32]>,
) -> Result<Attested, FlowError> {
    attest_with(client, collector, agent_id, statement_digest, |_| {}).await
}

/// [`attest`] with a hook that may alter the request before it is sent
/// (tests use it to play an attacker; production passes a no-op).
pub async fn attest_with(
    client: &VerifierClient,
    collector: &mut dyn EvidenceCollector,
    agent_id: &str,
    statement_digest: Option<[u8; 32]>,
    tamper: impl FnOnce(&mut AttestRequest),
) -> Result<Attested, FlowError> {
    let mut prepared = prepare(client, collector, agent_id, statement_digest).await?;
    tamper(&mut prepared.request);
    let response = client.attest(&prepared.request).await?;
    prepared.open(response)
}

/// An attestation request made (nonce asked, evidence collected) but not
/// yet sent, with the ephemeral secret key that opens the keys of its
/// answer. [`attest_with`] is [`prepare`], `client.attest`, [`Prepared::open`];
/// a caller that must resend the same request (e.g. after a lost
/// connection) runs the steps itself.
pub struct Prepared {
    /// The request to send.
    pub request: AttestRequest,
    /// The nonce used.
    pub nonce: [u8; NONCE_LEN],
    /// The binding digest put into the evidence.
    pub binding: [u8; 32],
    secret: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("agent_id", &self.request.agent_id)
            .field("nonce", &hex::encode(self.nonce))
            .finish_non_exhaustive()
    }
}

/// Asks a nonce, binds it with a fresh ephemeral key (and an optional
/// statement digest) and collects evidence: the request [`attest_with`]
/// sends.
pub async fn prepare(
    client: &VerifierClient,
    collector: &mut dyn EvidenceCollector,
    agent_id: &str,
    statement_digest: Option<[u8; 32]>,
) -> Result<Prepared, FlowError> {
    let n = client
        .nonce(&NonceRequest {
            agent_id: agent_id.to_string(),
        })
        .await?;
    let nonce: [u8; NONCE_LEN] = hex::decode(&n.nonce)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            FlowError::Protocol(format!("nonce '{}' is not 32 bytes of hex", n.nonce))
        })?;
    let (secret, pk) = seal::generate_keypair(&mut rand::rngs::OsRng);
    let binding = Binding {
        nonce: &nonce,
        ephemeral_public_key: &pk,
        statement_digest: statement_digest.as_ref(),
    }
    .digest();
    let evidence = collector.collect(&binding)?;
    let request = AttestRequest {
        agent_id: agent_id.to_string(),
        nonce: n.nonce,
        ephemeral_public_key: pk,
        statement_digest: statement_digest.map(hex::encode),
        statement: None,
        evidence,
        keys: None,
    };
    Ok(Prepared {
        request,
        nonce,
        binding,
        secret,
    })
}

impl Prepared {
    /// Opens the keys of the verifier's answer to this request with the
    /// ephemeral secret key (none when rejected).
    pub fn open(self, response: AttestResponse) -> Result<Attested, FlowError> {
        let mut keys = Vec::new();
        if response.verdict == Verdict::Accepted {
            let result_digest: [u8; 32] = Sha256::digest(&response.ear).into();
            for k in &response.keys {
                keys.push(open_key(&self.secret, k, &result_digest)?);
            }
        }
        Ok(Attested {
            response,
            keys,
            nonce: self.nonce,
            binding: self.binding,
        })
    }
}

/// Attests for a build: binds SHA-256 of `statement` (the exact DSSE payload
/// bytes) and sends the statement so the verifier can apply its statement
/// policy. `tamper` as in [`attest_with`].
pub async fn attest_statement(
    client: &VerifierClient,
    collector: &mut dyn EvidenceCollector,
    agent_id: &str,
    statement: &[u8],
    tamper: impl FnOnce(&mut AttestRequest),
) -> Result<Attested, FlowError> {
    let digest: [u8; 32] = Sha256::digest(statement).into();
    attest_with(client, collector, agent_id, Some(digest), |r| {
        r.statement = Some(statement.to_vec());
        tamper(r)
    })
    .await
}
