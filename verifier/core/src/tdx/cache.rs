//! A bounded cache of DCAP verification work that does not depend on the
//! quote: verified collateral (TCB Info, QE Identity, root CA CRL, their
//! signing chain) and verified PCK chains (with both CRLs), for a verifier
//! that appraises many quotes from the same platforms.
//!
//! Soundness: an entry is keyed by the SHA-256 of the exact bytes it was
//! verified from (every collateral document, CRL and chain, and the root),
//! so other bytes never meet a cached verdict; [`verify_quote_cached`]
//! still checks the quote's own signatures, QE report, TCB level and that
//! the verification time lies inside every cached window. Anything the
//! cached path refuses is verified again from scratch with
//! [`verify_quote_with_root`], so a rejection reads exactly as without the
//! cache and an entry that went stale is replaced.
//!
//! Bounds: at most [`MAX_COLLATERAL`] collateral entries and
//! [`MAX_PCK`] PCK chains (a few KiB each); a full table is emptied
//! before the next insert.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sealbuild_common::crypto::sha256_parts;
use sealbuild_common::tdx::Quote;

use super::{
    verify_quote_cached, verify_quote_with_root, IntelRoot, TdxCollateral, TdxError, TdxVerified,
    VerifiedCollateral, VerifiedPck,
};

/// Most collateral sets kept (one per FMSPC and PCK CA in use).
pub const MAX_COLLATERAL: usize = 64;
/// Most PCK chains kept (one per platform in use).
pub const MAX_PCK: usize = 4096;

#[derive(Default)]
struct Tables {
    collateral: HashMap<[u8; 32], Arc<VerifiedCollateral>>,
    pck: HashMap<[u8; 32], Arc<VerifiedPck>>,
}

/// Cached DCAP verification ([`DcapCache::verify`]).
#[derive(Default)]
pub struct DcapCache {
    tables: Mutex<Tables>,
}

impl std::fmt::Debug for DcapCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (c, p) = self
            .tables
            .lock()
            .map_or((0, 0), |t| (t.collateral.len(), t.pck.len()));
        f.debug_struct("DcapCache")
            .field("collateral", &c)
            .field("pck", &p)
            .finish()
    }
}

fn len(b: &[u8]) -> [u8; 8] {
    (b.len() as u64).to_be_bytes()
}

/// The digest of everything [`TdxCollateral::verify`] reads.
fn collateral_key(c: &TdxCollateral, root: &IntelRoot) -> [u8; 32] {
    let mut parts: Vec<Vec<u8>> = Vec::new();
    let mut push = |b: &[u8]| {
        parts.push(len(b).to_vec());
        parts.push(b.to_vec());
    };
    push(root.der());
    push(&c.root_ca_crl);
    push(&c.pck_crl);
    for doc in [&c.tcb_info, &c.qe_identity] {
        push(&doc.body);
        push(&doc.signature);
        push(&len(&doc.issuer_chain.concat()));
        for cert in &doc.issuer_chain {
            push(cert);
        }
    }
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    sha256_parts(&refs)
}

fn insert<V>(map: &mut HashMap<[u8; 32], Arc<V>>, max: usize, key: [u8; 32], value: Arc<V>) {
    if map.len() >= max {
        map.clear();
    }
    map.insert(key, value);
}

impl DcapCache {
    /// What [`verify_quote_with_root`] returns for `quote_bytes`, reusing
    /// the verified collateral and PCK chain of earlier quotes when their
    /// bytes are the same.
    pub fn verify(
        &self,
        quote_bytes: &[u8],
        collateral: &TdxCollateral,
        root: &IntelRoot,
        now: u64,
    ) -> Result<TdxVerified, TdxError> {
        self.try_cached(quote_bytes, collateral, root, now)
            .or_else(|_| verify_quote_with_root(quote_bytes, collateral, root, now))
    }

    fn try_cached(
        &self,
        quote_bytes: &[u8],
        collateral: &TdxCollateral,
        root: &IntelRoot,
        now: u64,
    ) -> Result<TdxVerified, TdxError> {
        let quote = Quote::parse(quote_bytes)?;
        let cert_data = quote.signature_data.qe.pck_cert_data.data.as_slice();
        let ckey = collateral_key(collateral, root);
        let pkey = sha256_parts(&[&len(cert_data), cert_data, &ckey]);
        let (col, pck) = {
            let t = self.tables.lock().map_err(|_| poisoned())?;
            (t.collateral.get(&ckey).cloned(), t.pck.get(&pkey).cloned())
        };
        let col = match col {
            Some(c) => c,
            None => {
                let c = Arc::new(collateral.verify(root.der(), now)?);
                let mut t = self.tables.lock().map_err(|_| poisoned())?;
                insert(&mut t.collateral, MAX_COLLATERAL, ckey, c.clone());
                c
            }
        };
        let pck = match pck {
            Some(p) => p,
            None => {
                let p = Arc::new(VerifiedPck::verify(cert_data, collateral, root, now)?);
                let mut t = self.tables.lock().map_err(|_| poisoned())?;
                insert(&mut t.pck, MAX_PCK, pkey, p.clone());
                p
            }
        };
        let result = verify_quote_cached(&quote, &pck, &col, now);
        if matches!(result, Err(TdxError::CacheNotCurrent { .. })) {
            if let Ok(mut t) = self.tables.lock() {
                t.collateral.remove(&ckey);
                t.pck.remove(&pkey);
            }
        }
        result
    }

    /// Entries held: (collateral sets, PCK chains).
    pub fn len(&self) -> (usize, usize) {
        self.tables
            .lock()
            .map_or((0, 0), |t| (t.collateral.len(), t.pck.len()))
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == (0, 0)
    }
}

fn poisoned() -> TdxError {
    TdxError::Collateral {
        what: "DCAP cache",
        reason: "a thread panicked while holding the cache".into(),
    }
}
