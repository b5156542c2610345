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
//! refuses with a verified chain is verified again from scratch with the
//! uncached path, so a rejection reads exactly as without the cache.
//! Nothing here reads a clock: the time is the caller's.
//!
//! Refused chains: the chain step is a function of the three DER and of
//! the time, which it reads only by comparing it with those three windows;
//! a refusal computed at a time inside all three is therefore what it
//! returns at any other time inside all three, and is kept (in a table of
//! its own) and given again, word for word, at such times. This spares a
//! report the attempt with each trusted chain of its product that does not
//! sign its VCEK before the one that does (AMD's, then a configured test
//! chain); outside a window the refusal is computed again.
//!
//! CRLs ([`SnpChainCache::check_crl`]): a CRL whose issuer and signature
//! verified against an ARK is kept by the SHA-256 of its DER and the ARK's
//! (length-framed); whether it is current at the verification time and
//! whether it lists the intermediate are checked for every report, and any
//! refusal is checked again from scratch.
//!
//! Bounds: at most [`MAX_CHAINS`] verified chains, [`MAX_REFUSED`] refused
//! ones (a few KiB each; refusals never push out verified chains) and
//! [`MAX_CRLS`] CRLs; when a table is full, one arbitrary entry makes room.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use sealbuild_common::crypto::sha256_parts;
use sealbuild_common::snp::{AttestationReport, SnpProduct};
use x509_cert::der::Decode as _;
use x509_cert::Certificate;

use crate::ekcert::crl::{verify_crl_signature, SignedCrl};

use super::crl::{status, CrlStatus, SCOPE};
use super::{
    check_crl, check_report_with_signer, detect_product, verify_parsed_report_keeping, AmdChain,
    CrlError, SnpError, VerifiedSigner, VerifiedSnpReport,
};

/// Most verified chains kept (one per machine in use).
pub const MAX_CHAINS: usize = 1024;
/// Most refused chains kept.
pub const MAX_REFUSED: usize = 256;
/// Most CRLs kept (one per product and intermediate kind in use).
pub const MAX_CRLS: usize = 64;

/// (notBefore, notAfter), Unix seconds, both inclusive.
type Window = (u64, u64);

/// The outcome of a chain step (the verified signer, or why the chain was
/// refused) and the windows of ARK, ASK/ASVK and VCEK/VLEK.
struct Entry {
    outcome: Result<Arc<VerifiedSigner>, SnpError>,
    windows: [Window; 3],
}

impl Entry {
    /// Whether `at` lies inside all three windows.
    fn current(&self, at: u64) -> bool {
        self.windows
            .iter()
            .all(|&(from, to)| from <= at && at <= to)
    }
}

type Table = HashMap<[u8; 32], Arc<Entry>>;

#[derive(Default)]
struct Tables {
    verified: Table,
    refused: Table,
    crls: HashMap<[u8; 32], Arc<SignedCrl>>,
}

/// Room for one more entry under `key` in `table` of at most `max`.
fn make_room<V>(table: &mut HashMap<[u8; 32], V>, max: usize, key: &[u8; 32]) {
    if table.len() >= max && !table.contains_key(key) {
        if let Some(evict) = table.keys().next().copied() {
            table.remove(&evict);
        }
    }
}

/// Cached SEV-SNP chain verification ([`SnpChainCache::verify_parsed_report`]).
pub struct SnpChainCache {
    tables: Mutex<Tables>,
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
            .field("refused", &self.refused_len())
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
            tables: Mutex::new(Tables::default()),
            max: max.max(1),
            hits: AtomicU64::new(0),
        }
    }

    /// What [`super::verify_parsed_report`] returns, reusing the outcome
    /// of the chain step for earlier reports with the same ARK, ASK/ASVK
    /// and VCEK/VLEK bytes.
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
        let entry = {
            let t = self.lock();
            t.verified
                .get(&key)
                .or_else(|| t.refused.get(&key))
                .cloned()
        };
        if let Some(entry) = entry.filter(|e| e.current(at_unix_secs)) {
            let product = detect_product(&parsed, expected_product);
            match (&entry.outcome, product) {
                (Ok(signer), Ok(product)) => {
                    let cached = check_report_with_signer(
                        parsed.clone(),
                        report_bytes,
                        signer,
                        product,
                        expected_product,
                    );
                    if cached.is_ok() {
                        self.hits.fetch_add(1, Ordering::Relaxed);
                        return cached;
                    }
                }
                // The uncached path's order: the report's product, then the
                // chain's refusal.
                (Err(refused), Ok(_)) => {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    return Err(refused.clone());
                }
                (_, Err(_)) => {}
            }
        }
        // A miss, a time outside a window, or a refusal: the uncached path,
        // keeping the outcome of its chain step.
        verify_parsed_report_keeping(
            parsed,
            report_bytes,
            signer_der,
            chain,
            expected_product,
            at_unix_secs,
            |outcome| self.insert(key, outcome, chain, signer_der, at_unix_secs),
        )
    }

    fn insert(
        &self,
        key: [u8; 32],
        outcome: Result<&Arc<VerifiedSigner>, &SnpError>,
        chain: AmdChain<'_>,
        signer_der: &[u8],
        at_unix_secs: u64,
    ) {
        // A chain that verified parses; one that does not parse is refused
        // early and cheaply, and not kept.
        let (Some(ark), Some(ask), Some(leaf)) = (
            window(chain.ark_der),
            window(chain.ask_der),
            window(signer_der),
        ) else {
            return;
        };
        let entry = Entry {
            outcome: outcome.cloned().map_err(Clone::clone),
            windows: [ark, ask, leaf],
        };
        let mut t = self.lock();
        let (table, max) = match entry.outcome {
            Ok(_) => (&mut t.verified, self.max),
            // Only a refusal computed with every window current holds at
            // other such times (module documentation).
            Err(_) if entry.current(at_unix_secs) => (&mut t.refused, MAX_REFUSED),
            Err(_) => return,
        };
        make_room(table, max, &key);
        table.insert(key, Arc::new(entry));
    }

    /// What [`super::check_crl`] returns, reusing the verified signature of
    /// a CRL seen before with the same ARK: currency at `at_unix_secs` and
    /// the intermediate's serial are checked every time, and any refusal is
    /// checked again from scratch.
    pub fn check_crl(
        &self,
        crl_der: &[u8],
        ark_der: &[u8],
        intermediate_der: &[u8],
        at_unix_secs: u64,
    ) -> Result<CrlStatus, CrlError> {
        let key = sha256_parts(&[&framed(crl_der), crl_der, &framed(ark_der), ark_der]);
        let kept = self.lock().crls.get(&key).cloned();
        let signed = kept.or_else(|| {
            let signed = Arc::new(verify_crl_signature(crl_der, ark_der, SCOPE).ok()?);
            let mut t = self.lock();
            make_room(&mut t.crls, MAX_CRLS, &key);
            t.crls.insert(key, signed.clone());
            Some(signed)
        });
        if let Some(signed) = signed {
            let cached = signed
                .current_at(at_unix_secs)
                .and_then(|crl| status(&crl, intermediate_der));
            if cached.is_ok() {
                return cached;
            }
        }
        check_crl(crl_der, ark_der, intermediate_der, at_unix_secs)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Verified chains held.
    pub fn len(&self) -> usize {
        self.lock().verified.len()
    }

    /// Refused chains held.
    pub fn refused_len(&self) -> usize {
        self.lock().refused.len()
    }

    /// CRLs held (their signatures verified).
    pub fn crls_len(&self) -> usize {
        self.lock().crls.len()
    }

    /// Whether no chain is held.
    pub fn is_empty(&self) -> bool {
        let t = self.lock();
        t.verified.is_empty() && t.refused.is_empty()
    }

    /// Reports answered from a cached chain so far (verified, or refused
    /// with the kept reason).
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }
}
