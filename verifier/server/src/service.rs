//! The verifier service: registration, activation, nonces, appraisal and key
//! release, over a [`Store`]. HTTP-agnostic; `http` maps it to routes.
//!
//! Time comes from the [`Clock`] and is passed down as a value. Blocking
//! storage calls run on tokio's blocking pool.

use crate::clock::Clock;
use crate::collateral::store::CollateralStore;
use crate::config::Config;
use crate::error::{Result, ServerError};
use crate::keys::KeyManager;
use crate::nonce::NonceMinter;
use crate::resultkey::ResultKey;
use crate::store::{
    AgentStatus, Enrolment, NewAgent, NewChallenge, PolicyRecord, Store, StoreError, Take,
};
use rand::RngCore;
use sealbuild_common::api::{
    ActivateRequest, ActivateResponse, NonceRequest, NonceResponse, RegisterRequest,
    RegisterResponse,
};
use sealbuild_verifier_core::credential::make_credential;
use sealbuild_verifier_core::platform::{Anchors, Registry, TpmOptions};
use sealbuild_verifier_core::policy::Policy;
use sealbuild_verifier_core::quote::QuoteOptions;
use sealbuild_verifier_core::registration::{check_registration, RegistrationInput};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use subtle::ConstantTimeEq;

mod admin;
pub use admin::READY_TIMEOUT;
mod attest;

/// Policy id under which the admin API and CLI store documents.
pub const POLICY_ID: &str = "default";

fn store_err(e: StoreError) -> ServerError {
    match e {
        StoreError::NotFound { .. } => ServerError::NotFound(e.to_string()),
        StoreError::Conflict(_) | StoreError::AlreadyExists { .. } => {
            ServerError::Conflict(e.to_string())
        }
        StoreError::InvalidInput(_) => ServerError::BadRequest(e.to_string()),
        other => ServerError::Store(other.to_string()),
    }
}

/// Runs a blocking store call off the async executor.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::result::Result<T, StoreError> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ServerError::Store(format!("storage task failed: {e}")))?
        .map_err(store_err)
}

/// Summary of a stored policy for the admin API.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct PolicyInfo {
    /// `sha256:<hex>` of the document.
    #[schemars(pattern(r"^sha256:[0-9a-f]{64}$"))]
    pub policy_id: String,
    /// Version in the store.
    pub version: u32,
    /// The document.
    pub text: String,
}

/// The verifier.
pub struct Verifier {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    keys: Arc<KeyManager>,
    result_key: ResultKey,
    ek_anchors: Vec<Vec<u8>>,
    allowed_ek_names: Vec<Vec<u8>>,
    admin_token_digest: Option<[u8; 32]>,
    registry: Arc<Registry>,
    collateral: Option<Arc<CollateralStore>>,
    /// Counters for `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Verifications waiting for a core (for `/metrics`).
    verify_waiting: Arc<std::sync::atomic::AtomicU64>,
    /// The number of cores the verification slots were sized to.
    verify_cores: usize,
    /// Bounds the CPU-bound evidence verifications running at once to the
    /// cores (they run on the blocking pool, off the async workers).
    verify_slots: Arc<tokio::sync::Semaphore>,
    /// Mints nonces under a key derived from the master key.
    nonces: NonceMinter,
    /// Refusals of unknown identities, counted until the next aggregate entry.
    refusals: crate::refusals::RefusalLog,
    /// The current policy, parsed once per stored version.
    policy_cache: std::sync::Mutex<Option<(u32, Arc<Policy>)>>,
    config: Config,
}

impl Verifier {
    /// Assembles a verifier from its parts (the binary and tests build these).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        keys: KeyManager,
        result_key: ResultKey,
        ek_anchors: Vec<Vec<u8>>,
        admin_token: Option<String>,
        config: Config,
    ) -> Result<Self> {
        let allowed_ek_names = config
            .allowed_ek_names
            .iter()
            .map(|h| {
                hex::decode(h).map_err(|e| {
                    ServerError::Config(format!("allowed_ek_names: '{h}' is not hex: {e}"))
                })
            })
            .collect::<Result<_>>()?;
        config.validate()?;
        if let Some(t) = &admin_token {
            check_admin_token_strength(t)?;
        }
        let registry = Arc::new(Registry::new(&Anchors {
            amd: Arc::new(crate::evidence::snp_roots(&config)?),
            tpm: TpmOptions {
                replay_pcrs: config.replay_pcrs.clone(),
                quote: QuoteOptions {
                    allow_sha1: config.allow_sha1,
                },
                runtime_pcr: config.runtime_pcr,
            },
            intel: Arc::new(crate::evidence::intel_root(&config)?),
        }));
        // The collateral store is optional: without it SEV-SNP evidence must
        // carry its VCEK/VLEK.
        let collateral = match CollateralStore::open(config.snp_collateral_path()) {
            Ok(s) => Some(Arc::new(s)),
            Err(e) => {
                tracing::warn!(error = %e, "SEV-SNP collateral store unavailable");
                None
            }
        };
        Ok(Self {
            registry,
            collateral,
            policy_cache: std::sync::Mutex::new(None),
            metrics: Arc::new(crate::metrics::Metrics::default()),
            verify_waiting: Arc::new(std::sync::atomic::AtomicU64::new(0)),
            verify_cores: std::thread::available_parallelism().map_or(2, |n| n.get()),
            verify_slots: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            )),
            nonces: NonceMinter::from_keys(&keys),
            refusals: crate::refusals::RefusalLog::new(),
            store,
            clock,
            keys: Arc::new(keys),
            result_key,
            ek_anchors,
            allowed_ek_names,
            admin_token_digest: admin_token.map(|t| Sha256::digest(t.trim().as_bytes()).into()),
            config,
        })
    }

    /// Checks an admin bearer token in constant time.
    pub fn check_admin_token(&self, token: &str) -> Result<()> {
        let Some(expected) = &self.admin_token_digest else {
            return Err(ServerError::Unauthorized(
                "the admin API is disabled (no admin token configured)".into(),
            ));
        };
        let seen: [u8; 32] = Sha256::digest(token.trim().as_bytes()).into();
        if bool::from(seen.ct_eq(expected)) {
            Ok(())
        } else {
            Err(ServerError::Unauthorized("wrong admin token".into()))
        }
    }

    /// Writes the aggregate entry of the refusals counted since the last one
    /// (nothing when there were none); returns how many it covered.
    pub async fn flush_refusals(&self) -> Result<u64> {
        let now = self.clock.now();
        let Some(notice) = self.refusals.take_notice(now) else {
            return Ok(0);
        };
        let total = notice
            .body
            .details
            .get("total")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        tracing::info!(total, "refusals aggregated");
        let store = self.store.clone();
        blocking(move || store.append_notice(notice)).await?;
        Ok(total)
    }

    /// How often the aggregate of refusals is written.
    pub fn refusal_interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.config.audit_refusal_interval_secs.max(1))
    }

    /// Releases the store's rebuildable caches, then the allocator's free
    /// pages ([`crate::memory`]); blocks, so call it off the async workers.
    /// Whether the allocator returned any memory.
    pub fn release_memory(&self) -> bool {
        if let Err(e) = self.store.release_memory() {
            tracing::warn!(error = %e, "releasing the store's caches failed");
        }
        crate::memory::release_free_memory()
    }

    /// PEM of the EAR verification key.
    pub fn result_key_pem(&self) -> Result<String> {
        self.result_key.public_pem()
    }

    /// Registration: EK chain, AK attributes, MakeCredential. `source` is
    /// the caller's address (named in the aggregate of refusals).
    pub async fn register(
        &self,
        req: RegisterRequest,
        source: Option<std::net::IpAddr>,
    ) -> Result<RegisterResponse> {
        let now = self.clock.now();
        let checked = check_registration(&RegistrationInput {
            ek_public: &req.ek_public,
            ek_certificate: req.ek_certificate.as_deref(),
            ek_intermediates: &req.ek_intermediates,
            anchors: &self.ek_anchors,
            allowed_ek_names: &self.allowed_ek_names,
            ak_public: &req.ak_public,
            now,
        })
        .map_err(|e| e.to_string());
        let checked = match checked {
            Ok(c) => c,
            Err(reason) => {
                // A refused registration proves nothing about who sent it:
                // counted into the interval's aggregate entry
                // (`crate::refusals`), not audited one by one.
                tracing::debug!(%reason, "registration refused");
                self.refusals.record(source, "registration", None, now);
                return Err(ServerError::BadRequest(format!(
                    "registration refused: {reason}"
                )));
            }
        };
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let made = make_credential(
            &checked.ek_key,
            &checked.ak_name,
            &secret,
            &mut rand::rngs::OsRng,
        )
        .map_err(|e| ServerError::BadRequest(format!("MakeCredential for this EK: {e}")))?;
        let mut cid = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut cid);
        let challenge_id = hex::encode(cid);
        let agent_id = hex::encode(&checked.ak_name);
        let agent = NewAgent {
            agent_id: agent_id.clone(),
            ek_public: req.ek_public.clone(),
            ek_certificate: req.ek_certificate.clone(),
            ek_issuer: checked.ek_root_record(),
            ak_public: req.ak_public.clone(),
            ak_name: checked.ak_name.clone(),
        };
        let challenge = NewChallenge {
            challenge_id: challenge_id.clone(),
            secret_digest: Sha256::digest(secret).into(),
            expires_at: now.saturating_add(self.config.challenge_ttl_secs),
        };
        let store = self.store.clone();
        blocking(move || store.register_agent(&agent, &challenge, now)).await?;
        Ok(RegisterResponse {
            agent_id,
            challenge_id,
            credential_blob: made.id_object,
            encrypted_secret: made.encrypted_secret,
        })
    }

    /// Activation: the secret ActivateCredential recovered.
    pub async fn activate(&self, req: ActivateRequest) -> Result<ActivateResponse> {
        let now = self.clock.now();
        let store = self.store.clone();
        let cid = req.challenge_id.clone();
        let taken = blocking(move || store.take_challenge(&cid, now)).await?;
        let record = match taken {
            Take::Taken(r) => r,
            Take::NotFound => {
                return Err(ServerError::NotFound(format!(
                    "challenge {} was never issued",
                    req.challenge_id
                )))
            }
            Take::Expired(r) => {
                return Err(ServerError::Conflict(format!(
                    "challenge {} expired at {}",
                    req.challenge_id, r.expires_at
                )))
            }
            Take::AlreadyUsed(r) => {
                return Err(ServerError::Conflict(format!(
                    "challenge {} was already answered at {}",
                    req.challenge_id,
                    r.used_at.unwrap_or(0)
                )))
            }
        };
        if record.agent_id != req.agent_id {
            return Err(ServerError::Conflict(format!(
                "challenge {} belongs to another agent",
                req.challenge_id
            )));
        }
        let seen: [u8; 32] = Sha256::digest(&req.secret).into();
        if !bool::from(seen.ct_eq(&record.secret_digest)) {
            return Err(ServerError::Conflict(
                "the activated credential does not match: the AK is not in the TPM that holds this EK"
                    .into(),
            ));
        }
        let store = self.store.clone();
        let (aid, cid) = (req.agent_id.clone(), req.challenge_id.clone());
        let agent = blocking(move || store.activate_agent(&aid, &cid, now)).await?;
        Ok(ActivateResponse {
            agent_id: agent.agent_id,
            ek_issuer: agent.ek_issuer,
        })
    }

    /// A single-use nonce for an active agent.
    pub async fn nonce(&self, req: NonceRequest) -> Result<NonceResponse> {
        let now = self.clock.now();
        // Hardware-vouched attesters register nothing; every other id must
        // be a registered, active agent. Minting itself stores nothing
        // (`crate::nonce`).
        if self.registry.enrolment_of(&req.agent_id) == Enrolment::Registration {
            let store = self.store.clone();
            let aid = req.agent_id.clone();
            match blocking(move || store.agent(&aid)).await? {
                None => {
                    return Err(ServerError::NotFound(format!(
                        "agent '{}' not found",
                        req.agent_id
                    )))
                }
                Some(a) if a.status != AgentStatus::Active => {
                    return Err(ServerError::Conflict(format!(
                        "agent '{}' is {}, not active: it gets nonces after activation",
                        a.agent_id, a.status
                    )))
                }
                Some(_) => {}
            }
        }
        let expires_at = now.saturating_add(self.config.nonce_ttl_secs);
        let nonce = self.nonces.mint(&req.agent_id, expires_at);
        Ok(NonceResponse {
            nonce: hex::encode(nonce),
            expires_at,
        })
    }

    async fn current_policy_record(&self) -> Result<Option<PolicyRecord>> {
        let store = self.store.clone();
        blocking(move || store.current_policy()).await
    }
}

/// Shortest admin token accepted (characters, after trimming).
pub const MIN_ADMIN_TOKEN: usize = 16;

/// An admin token must not be empty or short: an empty one would let any
/// caller with an empty bearer token in.
fn check_admin_token_strength(token: &str) -> Result<()> {
    let n = token.trim().chars().count();
    if n < MIN_ADMIN_TOKEN {
        return Err(ServerError::Config(format!(
            "the admin token has {n} characters; at least {MIN_ADMIN_TOKEN} are required \
             (generate one with: openssl rand -hex 32)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_short_admin_tokens_are_refused() {
        assert!(check_admin_token_strength("").is_err());
        assert!(check_admin_token_strength("   \n").is_err());
        assert!(check_admin_token_strength("short-token").is_err());
        assert!(check_admin_token_strength(&"x".repeat(MIN_ADMIN_TOKEN)).is_ok());
    }
}
