//! A bounded cache of verified AMD endorsement chains (ARK → ASK → VCEK, or
//! ARK → ASVK → VLEK), for a verifier that appraises many reports from the
//! same machines: their VCEK, ASK and ARK bytes do not change, and
//! verifying the chain (three certificates parsed, two RSA-4096-PSS
//! signatures) costs more than the report's own P-384 signature.
//!
//! What is cached: per chain, what [`super::verify_parsed_report`]'s chain
//! step produced that depends neither on the time nor on the report — the
//! verified VCEK/VLEK certificate, its P-384 verifying key and its AMD
//! extensions ([`VerifiedSigner`]) — with the validity window
//! (notBefore, notAfter) of each of the three certificates.
//!
//! Soundness: an entry is keyed by the SHA-256 over the ARK, ASK/ASVK and
//! VCEK/VLEK DER, each preceded by its length (so no other split of the
//! same bytes meets it); other bytes never meet a cached verdict. The chain
//! step reads the time only through those three windows, so on a hit the
//! verification time is checked against all three (the uncached path checks
//! the ones on the path it builds: never more); the report's checks
//! (product, extensions against the report, signature) run every time, and
//! so do the caller's (TCB, CRLs, REPORT_DATA). Anything the cached path
//! refuses is verified again from scratch with the uncached path, so a
//! rejection reads exactly as without the cache. Nothing here reads a clock.
//!
//! Bounds: at most [`MAX_CHAINS`] chains (a few KiB each); when full, one
//! arbitrary entry makes room for the next.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use sealbuild_common::crypto::sha256_parts;
use sealbuild_common::snp::{AttestationReport, SnpProduct};
use x509_cert::der::Decode as _;
use x509_cert::Certificate;

use super::{
    check_report_with_signer, detect_product, verify_parsed_report_keeping, AmdChain, SnpError,
    VerifiedSigner, VerifiedSnpReport,
};

/// Most chains kept (one per machine in use).
pub const MAX_CHAINS: usize = 1024;

/// (notBefore, notAfter), Unix seconds, both inclusive.
type Window = (u64, u64);

/// A verified chain: the signer and the windows of ARK, ASK/ASVK and
/// VCEK/VLEK.
struct Entry {
    signer: Arc<VerifiedSigner>,
    windows: [Window; 3],
}

/// Cached SEV-SNP chain verification ([`SnpChainCache::verify_parsed_report`]).
pub struct SnpChainCache {
    table: Mutex<HashMap<[u8; 32], Arc<Entry>>>,
    max: usize,
    hits: AtomicU64,
}

impl Default for SnpChainCache {
    fn default() -> Self {
        Self::with_capacity(MAX_CHAINS)
    }
}

impl std::fmt::Debug for SnpChainCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnpChainCache")
            .field("chains", &self.len())
            .field("max", &self.max)
            .field("hits", &self.hits())
            .finish()
    }
}

fn framed(b: &[u8]) -> [u8; 8] {
    (b.len() as u64).to_be_bytes()
}

/// The digest of the three certificates the chain step reads.
fn chain_key(chain: AmdChain<'_>, signer_der: &[u8]) -> [u8; 32] {
    sha256_parts(&[
        &framed(chain.ark_der),
        chain.ark_der,
        &framed(chain.ask_der),
        chain.ask_der,
        &framed(signer_der),
        signer_der,
    ])
}

/// A certificate's validity window, as [`crate::ekcert`] reads it.
fn window(der: &[u8]) -> Option<Window> {
    let v = Certificate::from_der(der).ok()?.tbs_certificate.validity;
    Some((
        v.not_before.to_unix_duration().as_secs(),
        v.not_after.to_unix_duration().as_secs(),
    ))
}

impl SnpChainCache {
    /// A cache of at most `max` chains (at least one).
    pub fn with_capacity(max: usize) -> Self {
        Self {
            table: Mutex::new(HashMap::new()),
            max: max.max(1),
            hits: AtomicU64::new(0),
        }
    }

    /// What [`super::verify_parsed_report`] returns, reusing the verified
    /// chain of earlier reports with the same ARK, ASK/ASVK and VCEK/VLEK
    /// bytes.
    pub fn verify_parsed_report(
        &self,
        parsed: AttestationReport,
        report_bytes: &[u8],
        signer_der: &[u8],
        chain: AmdChain<'_>,
        expected_product: Option<SnpProduct>,
        at_unix_secs: u64,
    ) -> Result<VerifiedSnpReport, SnpError> {
        let key = chain_key(chain, signer_der);
        let entry = self
            .table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned();
        if let Some(entry) = entry {
            let current = entry
                .windows
                .iter()
                .all(|&(from, to)| from <= at_unix_secs && at_unix_secs <= to);
            if current {
                let cached = detect_product(&parsed, expected_product).and_then(|product| {
                    check_report_with_signer(
                        parsed.clone(),
                        report_bytes,
                        &entry.signer,
                        product,
                        expected_product,
                    )
                });
                if cached.is_ok() {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    return cached;
                }
            }
        }
        // A miss, a time outside a window, or a refusal: the uncached path,
        // keeping the chain when it verifies.
        verify_parsed_report_keeping(
            parsed,
            report_bytes,
            signer_der,
            chain,
            expected_product,
            at_unix_secs,
            |signer| self.insert(key, signer, chain, signer_der),
        )
    }

    fn insert(
        &self,
        key: [u8; 32],
        signer: &Arc<VerifiedSigner>,
        chain: AmdChain<'_>,
        signer_der: &[u8],
    ) {
        // The chain verified, so all three parse; if one did not, nothing
        // is kept.
        let (Some(ark), Some(ask), Some(leaf)) = (
            window(chain.ark_der),
            window(chain.ask_der),
            window(signer_der),
        ) else {
            return;
        };
        let entry = Arc::new(Entry {
            signer: signer.clone(),
            windows: [ark, ask, leaf],
        });
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        if table.len() >= self.max && !table.contains_key(&key) {
            if let Some(evict) = table.keys().next().copied() {
                table.remove(&evict);
            }
        }
        table.insert(key, entry);
    }

    /// Chains held.
    pub fn len(&self) -> usize {
        self.table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no chain is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reports verified with a cached chain so far.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }
}
