//! The verifier's one storage trait, [`Store`], and its types.
//!
//! What is stored: agents (EK, EK certificate and issuer, AK, status),
//! pending MakeCredential challenges, nonces, versioned policies, release
//! keys (private halves sealed under the master key, see [`crate::keys`]) and
//! the hash-chained audit log ([`crate::audit`]).
//!
//! ## Contract for every implementation
//!
//! * **No clock.** Every time is Unix seconds passed in by the caller
//!   (`now`, `expires_at`, record times). A nonce or challenge is valid while
//!   `now <= expires_at`.
//! * **Blocking.** Methods are synchronous; an async server calls them through
//!   `tokio::task::spawn_blocking`. The trait is object safe (`Arc<dyn Store>`).
//! * **Single use is atomic.** [`Store::take_challenge`] marks the row used
//!   in one atomic step (an `UPDATE … SET used_at = now WHERE … AND used_at
//!   IS NULL RETURNING …`) and [`Store::take_nonce`] inserts the used nonce
//!   under its primary key (`INSERT … ON CONFLICT DO NOTHING`), so among any
//!   number of concurrent callers — threads, processes, or verifier replicas
//!   sharing one PostgreSQL database — exactly one gets [`Take::Taken`] (or
//!   [`Take::Expired`] for a challenge) and every other gets
//!   [`Take::AlreadyUsed`]. A refused challenge take (expired) still burns
//!   the row.
//! * **Audit appends are serialized.** Appending reads the head (last seq and
//!   hash) and inserts `seq + 1` inside one write transaction, so two writers
//!   can never both extend the same head. SQLite: `BEGIN IMMEDIATE` takes the
//!   database write lock before the head is read. PostgreSQL: lock the head
//!   first (`SELECT … FROM audit ORDER BY seq DESC LIMIT 1 FOR UPDATE`, or a
//!   transaction-scoped advisory lock, or a one-row head table locked
//!   `FOR UPDATE`); the primary key on `seq` is the backstop, turning a lost
//!   race into an error instead of a fork.
//! * **State change and its audit entry commit together.** Every mutating
//!   method that is security relevant writes its audit entry in the same
//!   transaction. [`Store::record_decision`] writes the appraisal entry and
//!   one release entry (and release row) per released key in one
//!   transaction: a release never exists without its audit entry, and the
//!   server hands keys to the agent only after this call returned `Ok`.
//! * The audit table is append-only: no method updates or deletes entries.

mod audit_body;
mod audited;
mod postgres;
mod sqlite;

pub use postgres::{
    is_postgres_url, redact_url, CopyReport, PgOptions, PgStore, AUDIT_LOCK, MIGRATION_LOCK,
    PG_MIGRATIONS, PG_SCHEMA_VERSION,
};
pub use sqlite::{SqliteOptions, SqliteStore, MIGRATIONS, SCHEMA_VERSION};

use crate::audit::{
    AppraisalRecord, AuditEntry, AuditError, AuditHead, NoticeRecord, ReleaseRecord,
};
use crate::keyrecord::{KeyOrigin, PublicKeyInfo, SealedPrivateKey};
pub use sealbuild_verifier_core::platform::Enrolment;
use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

/// Boxed backend error.
pub type BackendError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a storage operation failed, grouped by cause.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The database could not be opened or prepared.
    #[error("database {path}: {reason}")]
    Open {
        /// Path (or `:memory:`).
        path: String,
        /// What failed.
        reason: String,
    },
    /// The database was written by a newer build.
    #[error("database schema version {found} is newer than this build supports ({supported}); use a newer sealbuild-verifier")]
    SchemaTooNew {
        /// Version in the file.
        found: u32,
        /// Newest version this build knows.
        supported: u32,
    },
    /// A schema migration failed (the database is left at the old version).
    #[error("database migration to schema version {version} failed: {source}")]
    Migration {
        /// The version being created.
        version: u32,
        /// The backend's error.
        #[source]
        source: BackendError,
    },
    /// The database stayed locked by other writers beyond the busy timeout.
    #[error("database busy while {op}: other writers held the lock beyond the busy timeout")]
    Busy {
        /// The operation.
        op: &'static str,
    },
    /// Any other backend failure.
    #[error("database error while {op}: {source}")]
    Backend {
        /// The operation.
        op: &'static str,
        /// The backend's error.
        #[source]
        source: BackendError,
    },
    /// A referenced object does not exist.
    #[error("{what} '{id}' not found")]
    NotFound {
        /// Kind of object.
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// An object with this id already exists.
    #[error("{what} '{id}' already exists")]
    AlreadyExists {
        /// Kind of object.
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// The request conflicts with stored state (e.g. an agent that is not active).
    #[error("{0}")]
    Conflict(String),
    /// A database constraint refused a write (e.g. a foreign key); the whole
    /// transaction was rolled back.
    #[error("database constraint refused {op}: {message}")]
    Constraint {
        /// The operation.
        op: &'static str,
        /// The backend's message.
        message: String,
    },
    /// A stored value does not decode (type, enum name, blob format).
    #[error("stored {what} is invalid: {reason}")]
    Corrupt {
        /// What was read.
        what: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// The caller passed a value the store refuses.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// An audit entry could not be formed.
    #[error(transparent)]
    Audit(#[from] AuditError),
}

/// Registration status of an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    /// Registered; the MakeCredential challenge is not yet answered.
    Pending,
    /// Proved that its AK and EK are in one TPM; may get nonces.
    Active,
}

impl AgentStatus {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
        }
    }

    /// Parses [`AgentStatus::as_str`].
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "pending" => Some(Self::Pending),
            "active" => Some(Self::Active),
            _ => None,
        }
    }
}

impl fmt::Display for AgentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An agent to register (its checks already passed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAgent {
    /// Identifier (hex of the AK's Name).
    pub agent_id: String,
    /// TPM2B_PUBLIC of the EK.
    pub ek_public: Vec<u8>,
    /// DER EK certificate, when there was one.
    pub ek_certificate: Option<Vec<u8>>,
    /// Issuer of the EK certificate (text form).
    pub ek_issuer: Option<String>,
    /// TPM2B_PUBLIC of the AK.
    pub ak_public: Vec<u8>,
    /// The AK's Name (nameAlg || digest).
    pub ak_name: Vec<u8>,
}

/// A stored agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRecord {
    /// Identifier.
    pub agent_id: String,
    /// TPM2B_PUBLIC of the EK.
    pub ek_public: Vec<u8>,
    /// DER EK certificate.
    pub ek_certificate: Option<Vec<u8>>,
    /// EK certificate issuer.
    pub ek_issuer: Option<String>,
    /// TPM2B_PUBLIC of the AK.
    pub ak_public: Vec<u8>,
    /// The AK's Name.
    pub ak_name: Vec<u8>,
    /// Pending or active.
    pub status: AgentStatus,
    /// When first registered.
    pub created_at: u64,
    /// When activated.
    pub activated_at: Option<u64>,
}

/// Result of [`Store::register_agent`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The stored agent (an existing agent keeps its status).
    pub agent: AgentRecord,
    /// False when the same EK and AK were registered before.
    pub new_agent: bool,
}

/// A MakeCredential challenge to store with a registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChallenge {
    /// Identifier handed to the agent.
    pub challenge_id: String,
    /// SHA-256 of the secret given to MakeCredential.
    pub secret_digest: [u8; 32],
    /// Last second at which it is accepted.
    pub expires_at: u64,
}

/// A stored challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeRecord {
    /// Identifier.
    pub challenge_id: String,
    /// The agent it was issued to.
    pub agent_id: String,
    /// SHA-256 of the expected secret (compare in constant time).
    pub secret_digest: [u8; 32],
    /// When issued.
    pub created_at: u64,
    /// Last second at which it is accepted.
    pub expires_at: u64,
    /// When it was taken (this take's `now` for `Taken`/`Expired`).
    pub used_at: Option<u64>,
}

/// A nonce presented in an attestation, after the service checked that it
/// minted it for this agent and that it has not expired (see
/// `crate::nonce`: nonces are minted without storage and recorded here only
/// when used).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonceUse {
    /// The nonce bytes (1 to 64).
    pub nonce: Vec<u8>,
    /// The agent it was minted for (and that presents it).
    pub agent_id: String,
    /// When it was minted.
    pub issued_at: u64,
    /// Last second at which it is accepted (the row may be purged after).
    pub expires_at: u64,
}

/// A used nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonceRecord {
    /// The nonce bytes.
    pub nonce: Vec<u8>,
    /// The agent it was minted for.
    pub agent_id: String,
    /// When minted.
    pub created_at: u64,
    /// Last second at which it is accepted.
    pub expires_at: u64,
    /// When it was used (this take's `now` for `Taken`).
    pub used_at: Option<u64>,
}

/// Outcome of consuming a single-use value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Take<T> {
    /// It existed, was unused and unexpired; it is now used.
    Taken(T),
    /// No such value (never issued, or purged).
    NotFound,
    /// It existed and was unused but `now > expires_at`; it is now used too.
    Expired(T),
    /// It had been taken before, at `record.used_at`.
    AlreadyUsed(T),
}

impl<T> Take<T> {
    /// Stable machine name of the outcome.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Taken(_) => "taken",
            Self::NotFound => "not_found",
            Self::Expired(_) => "expired",
            Self::AlreadyUsed(_) => "already_used",
        }
    }
}

/// A policy document to store as the next version of `policy_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPolicy {
    /// Policy name (1–64 characters `[A-Za-z0-9._-]`).
    pub policy_id: String,
    /// The document text exactly as given (its SHA-256 is the policy digest).
    pub document: String,
    /// Make this version the current policy.
    pub make_current: bool,
}

/// A stored policy version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRecord {
    /// Policy name.
    pub policy_id: String,
    /// Version, 1, 2, … per policy name.
    pub version: u32,
    /// The document text.
    pub document: String,
    /// SHA-256 (lower-case hex) of the document's UTF-8 bytes.
    pub sha256: String,
    /// When stored.
    pub created_at: u64,
    /// Whether it is the current policy.
    pub current: bool,
}

/// A key to store, as made by the key manager (`crate::keys`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    /// Id, algorithm, public key, fingerprint.
    pub public: PublicKeyInfo,
    /// The private key sealed under the master key for this id and algorithm.
    pub sealed: SealedPrivateKey,
    /// Generated or imported.
    pub origin: KeyOrigin,
}

/// A stored key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// Id, algorithm, public key, fingerprint.
    pub public: PublicKeyInfo,
    /// The sealed private key.
    pub sealed: SealedPrivateKey,
    /// Generated or imported.
    pub origin: KeyOrigin,
    /// When stored.
    pub created_at: u64,
    /// Disabled keys are never released.
    pub disabled: bool,
}

/// The listing form of a key (no private material).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct KeySummary {
    /// Id, algorithm, public key, fingerprint.
    #[serde(flatten)]
    pub public: PublicKeyInfo,
    /// Generated or imported.
    pub origin: KeyOrigin,
    /// When stored (Unix seconds).
    pub created_at: u64,
    /// Whether it is disabled.
    pub disabled: bool,
}

impl KeyRecord {
    /// The record without its sealed private key.
    pub fn summary(&self) -> KeySummary {
        KeySummary {
            public: self.public.clone(),
            origin: self.origin,
            created_at: self.created_at,
            disabled: self.disabled,
        }
    }
}

/// What [`Store::purge_expired`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeReport {
    /// Used nonces with `expires_at < before`.
    pub nonces: u64,
    /// Challenges with `expires_at < before`.
    pub challenges: u64,
    /// Pending agents created before `before` with no challenge left.
    pub pending_agents: u64,
}

/// Most entries [`Store::audit_entries`] returns per call.
pub const MAX_AUDIT_PAGE: u32 = 10_000;

/// The verifier's storage. See the module documentation for the contract
/// (atomic takes, serialized audit appends, audit entries in the same
/// transaction as the change they record, caller-supplied time).
pub trait Store: Send + Sync {
    // --- agents and challenges ---

    /// Stores a registration: the agent as pending (when new) and its
    /// challenge, and an `agent_registered` entry for a new agent, in one
    /// transaction. Re-registering the same `agent_id` with the same EK and
    /// AK keeps the agent's status and adds the challenge; a different EK or
    /// AK under an existing id is a [`StoreError::Conflict`].
    fn register_agent(
        &self,
        agent: &NewAgent,
        challenge: &NewChallenge,
        now: u64,
    ) -> Result<Registration, StoreError>;

    /// The agent with this id.
    fn agent(&self, agent_id: &str) -> Result<Option<AgentRecord>, StoreError>;

    /// Every agent, by id.
    fn list_agents(&self) -> Result<Vec<AgentRecord>, StoreError>;

    /// Consumes a challenge atomically (see [`Take`]). The caller then checks
    /// that `record.agent_id` is the activating agent and compares the
    /// secret's digest in constant time.
    fn take_challenge(
        &self,
        challenge_id: &str,
        now: u64,
    ) -> Result<Take<ChallengeRecord>, StoreError>;

    /// Marks the agent active after its challenge was taken and answered;
    /// writes `agent_activated` in the same transaction. The challenge must
    /// belong to the agent and have been taken. Activating an active agent
    /// changes nothing and writes no entry.
    fn activate_agent(
        &self,
        agent_id: &str,
        challenge_id: &str,
        now: u64,
    ) -> Result<AgentRecord, StoreError>;

    // --- nonces ---

    /// Records the use of a minted, unexpired nonce, exactly once across all
    /// callers and replicas: the first caller gets [`Take::Taken`], every
    /// later one [`Take::AlreadyUsed`] with the first use's record. (Unknown
    /// and expired nonces are the service's verdicts; the store never sees
    /// them.) The write may be lazily synced: a key released with this nonce
    /// commits durably after it, which syncs it too.
    fn take_nonce(&self, nonce: &NonceUse, now: u64) -> Result<Take<NonceRecord>, StoreError>;

    // --- policies ---

    /// Stores the next version of a policy (writes `policy_update`).
    fn put_policy(&self, policy: &NewPolicy, now: u64) -> Result<PolicyRecord, StoreError>;

    /// One version of a policy.
    fn policy(&self, policy_id: &str, version: u32) -> Result<Option<PolicyRecord>, StoreError>;

    /// The current policy, if one was made current.
    fn current_policy(&self) -> Result<Option<PolicyRecord>, StoreError>;

    /// Makes a stored version current (writes `policy_current` when it changes).
    fn set_current_policy(
        &self,
        policy_id: &str,
        version: u32,
        now: u64,
    ) -> Result<PolicyRecord, StoreError>;

    /// Every stored version, by id then version.
    fn list_policies(&self) -> Result<Vec<PolicyRecord>, StoreError>;

    // --- keys ---

    /// Stores a new key (writes `key_created` or `key_imported`). Ids and
    /// public keys are unique: a second copy of a key is refused.
    fn insert_key(&self, key: &NewKey, now: u64) -> Result<KeyRecord, StoreError>;

    /// The key with this id.
    fn key(&self, key_id: &str) -> Result<Option<KeyRecord>, StoreError>;

    /// Every key, by id.
    fn list_keys(&self) -> Result<Vec<KeyRecord>, StoreError>;

    /// Disables or re-enables a key (writes `key_disabled`/`key_enabled` when it changes).
    fn set_key_disabled(
        &self,
        key_id: &str,
        disabled: bool,
        now: u64,
    ) -> Result<KeyRecord, StoreError>;

    // --- audit ---

    /// Writes the appraisal entry and, per released key, a release entry and
    /// release row, in one transaction; returns the new head. Refused as a
    /// whole (nothing written) when releases accompany a rejected verdict,
    /// name a key twice, name a disabled or unknown key, or the agent is not
    /// active.
    fn record_decision(
        &self,
        appraisal: AppraisalRecord,
        releases: Vec<ReleaseRecord>,
    ) -> Result<AuditHead, StoreError>;

    /// Appends a `notice` entry (service events).
    fn append_notice(&self, notice: NoticeRecord) -> Result<AuditEntry, StoreError>;

    /// Up to `limit` (at most [`MAX_AUDIT_PAGE`]) entries with `seq >= from_seq`, by seq.
    fn audit_entries(&self, from_seq: u64, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;

    /// The last entry's seq and hash ([`AuditHead::GENESIS`] when empty).
    fn audit_head(&self) -> Result<AuditHead, StoreError>;

    // --- maintenance ---

    /// Deletes nonces and challenges with `expires_at < before`, and pending
    /// agents created before `before` that have no challenge left. A purged
    /// nonce then reads as [`Take::NotFound`], so keep `before` well behind
    /// `now` (e.g. `now - 1 day`).
    fn purge_expired(&self, before: u64) -> Result<PurgeReport, StoreError>;

    /// Deletes used nonces with `expires_at < before` (an expired nonce is
    /// refused by its own bytes, so its row can go as soon as it expires);
    /// returns how many.
    fn purge_used_nonces(&self, before: u64) -> Result<u64, StoreError>;

    /// Lets go of caches the store can rebuild (called after a burst of
    /// load, [`crate::memory`]). Nothing by default.
    fn release_memory(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Checks a policy name: 1–64 characters `[A-Za-z0-9._-]`, starting with a
/// letter or digit.
pub fn validate_policy_id(id: &str) -> Result<(), StoreError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id.starts_with(|c: char| c.is_ascii_alphanumeric())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidInput(format!(
            "policy id '{id}': must be 1 to 64 characters A-Z a-z 0-9 . _ -, starting with a letter or digit"
        )))
    }
}
