//! The library side of `sealbuild-verifier audit verify` and `audit list --json`.

use super::{AuditEntry, AuditEntryJson, AuditError, AuditHead, ChainVerifier};
use crate::store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why `audit verify` failed: the store could not be read, or the chain is bad.
#[derive(Debug, Error)]
pub enum AuditVerifyError {
    /// Reading entries failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The chain does not verify.
    #[error(transparent)]
    Chain(#[from] AuditError),
}

/// Result of `sealbuild-verifier audit verify` (its `--json` output).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditVerifyReport {
    /// Number of entries checked.
    pub entries: u64,
    /// The verified head (print it; keep it as a checkpoint).
    pub head: AuditHead,
}

/// Entries read per store call by [`verify_store`].
pub const VERIFY_BATCH: u32 = 1000;

/// Reads the whole log from `store` in batches and verifies it, optionally
/// against a checkpoint recorded earlier.
pub fn verify_store(
    store: &dyn Store,
    checkpoint: Option<AuditHead>,
) -> Result<AuditVerifyReport, AuditVerifyError> {
    let mut v = ChainVerifier::new();
    if let Some(cp) = checkpoint {
        v = v.with_checkpoint(cp);
    }
    let mut from = 1u64;
    loop {
        let batch = store.audit_entries(from, VERIFY_BATCH)?;
        let Some(last) = batch.last() else { break };
        from = last.seq.saturating_add(1);
        for e in &batch {
            v.push(e)?;
        }
        if batch.len() < VERIFY_BATCH as usize {
            break;
        }
    }
    let entries = v.checked();
    let head = v.finish()?;
    // Entries appended after the read are not part of this report; a head
    // that moved backwards would mean rows vanished during the read.
    let stored = store.audit_head()?;
    if stored.seq < head.seq {
        return Err(AuditError::Truncated {
            last_seq: stored.seq,
            checkpoint_seq: head.seq,
        }
        .into());
    }
    Ok(AuditVerifyReport { entries, head })
}

/// `sealbuild-verifier audit list --json`: up to `limit` entries from `from_seq`.
pub fn list_json(
    store: &dyn Store,
    from_seq: u64,
    limit: u32,
) -> Result<Vec<AuditEntryJson>, StoreError> {
    Ok(store
        .audit_entries(from_seq, limit)?
        .iter()
        .map(AuditEntry::to_json)
        .collect())
}
