//! The admin side of the verifier service: policies, keys and the audit log
//! (what the admin API and the CLI call).

use super::{blocking, PolicyInfo, Verifier, POLICY_ID};

/// How long `/readyz` waits for the store.
pub const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);
use crate::audit::AuditEntryJson;
use crate::error::{Result, ServerError};
use crate::keys::KeyError;
use crate::keys::{KeyAlgorithm, PublicKeyInfo};
use crate::store::{KeySummary, NewPolicy};
use sealbuild_verifier_core::policy::Policy;

impl Verifier {
    /// The current policy.
    pub async fn current_policy(&self) -> Result<PolicyInfo> {
        let rec = self
            .current_policy_record()
            .await?
            .ok_or_else(|| ServerError::NotFound("no policy is loaded".into()))?;
        Ok(PolicyInfo {
            policy_id: format!("sha256:{}", rec.sha256),
            version: rec.version,
            text: rec.document,
        })
    }

    /// Checks and stores a policy document as the current policy.
    pub async fn set_policy(&self, text: String) -> Result<PolicyInfo> {
        let policy = Policy::parse(&text).map_err(sealbuild_verifier_core::Error::from)?;
        for key_id in policy.key_ids() {
            let store = self.store.clone();
            let kid = key_id.to_string();
            if blocking(move || store.key(&kid)).await?.is_none() {
                return Err(ServerError::BadRequest(format!(
                    "policy grants key '{key_id}', which the key store does not hold"
                )));
            }
        }
        let now = self.clock.now();
        let store = self.store.clone();
        let doc = text.clone();
        let rec = blocking(move || {
            store.put_policy(
                &NewPolicy {
                    policy_id: POLICY_ID.into(),
                    document: doc,
                    make_current: true,
                },
                now,
            )
        })
        .await?;
        Ok(PolicyInfo {
            policy_id: format!("sha256:{}", rec.sha256),
            version: rec.version,
            text,
        })
    }

    /// The gauges of `/metrics`, read now.
    pub async fn gauges(&self) -> Result<crate::metrics::Gauges> {
        use std::sync::atomic::Ordering;
        let running = self
            .verify_cores
            .saturating_sub(self.verify_slots.available_permits());
        Ok(crate::metrics::Gauges {
            verifications_waiting: self.verify_waiting.load(Ordering::Relaxed),
            verifications_running: u64::try_from(running).unwrap_or(u64::MAX),
            audit_entries: self.ready().await?,
        })
    }

    /// Readiness: the store answers within [`READY_TIMEOUT`]; the number
    /// of audit entries. A database that stopped answering (a frozen
    /// network path holds a query, or a connection attempt, for as long as
    /// TCP allows) is "not ready" at once rather than after the client's
    /// own timeouts, so a load balancer takes the replica out in time.
    pub async fn ready(&self) -> Result<u64> {
        let store = self.store.clone();
        match tokio::time::timeout(READY_TIMEOUT, blocking(move || store.audit_head())).await {
            Ok(head) => head.map(|h| h.seq),
            Err(_) => Err(ServerError::Timeout(format!(
                "the database did not answer within {} s",
                READY_TIMEOUT.as_secs()
            ))),
        }
    }

    /// Generates and stores a key.
    pub async fn generate_key(&self, algorithm: &str, id: Option<String>) -> Result<PublicKeyInfo> {
        let alg = KeyAlgorithm::from_name(algorithm).ok_or_else(|| {
            ServerError::BadRequest(KeyError::UnknownAlgorithm(algorithm.to_string()).to_string())
        })?;
        let new = self
            .keys
            .generate(alg, id.as_deref())
            .map_err(|e| ServerError::Key(e.to_string()))?;
        let now = self.clock.now();
        let store = self.store.clone();
        let rec = blocking(move || store.insert_key(&new, now)).await?;
        Ok(rec.public)
    }

    /// Every key, public halves only.
    pub async fn list_keys(&self) -> Result<Vec<KeySummary>> {
        let store = self.store.clone();
        let keys = blocking(move || store.list_keys()).await?;
        Ok(keys.iter().map(|k| k.summary()).collect())
    }

    /// Audit entries from `from`.
    pub async fn audit_entries(&self, from: u64, limit: u32) -> Result<Vec<AuditEntryJson>> {
        let store = self.store.clone();
        let entries = blocking(move || store.audit_entries(from, limit)).await?;
        Ok(entries.iter().map(|e| e.to_json()).collect())
    }
}
