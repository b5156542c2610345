//! Certification path building and validation (RFC 5280 §6.1, depth-first
//! over the candidate issuers, trust anchors first).
//!
//! A candidate issuer of certificate C has C's issuer as its subject and,
//! when C carries an authorityKeyIdentifier and the candidate a
//! subjectKeyIdentifier, the same key identifier. Each candidate must verify
//! C's signature and pass the CA checks of [`ParsedCert::check_as_issuer`];
//! a certificate never appears twice in a path, paths are at most
//! [`MAX_CHAIN_LEN`] long and one search runs at most
//! [`MAX_SIGNATURE_CHECKS`] signature verifications. When every candidate
//! fails, the error of the attempt that got furthest is reported.

use super::cert::ParsedCert;
use super::signature::{self, SigError};
use super::{EkCertError, MAX_CHAIN_LEN, MAX_SIGNATURE_CHECKS};

/// An error and the path length at which it happened.
type Failure = (usize, EkCertError);

pub(super) struct PathBuilder<'a> {
    pool: &'a [ParsedCert],
    anchors: &'a [ParsedCert],
    time: u64,
    checks: u32,
}

impl<'a> PathBuilder<'a> {
    pub fn new(pool: &'a [ParsedCert], anchors: &'a [ParsedCert], time: u64) -> Self {
        Self {
            pool,
            anchors,
            time,
            checks: 0,
        }
    }

    /// A validated path from `leaf` (first) to a trust anchor (last). The
    /// leaf's own checks are the caller's.
    pub fn build(mut self, leaf: &'a ParsedCert) -> Result<Vec<&'a ParsedCert>, EkCertError> {
        let mut path = vec![leaf];
        self.extend(&mut path, leaf).map_err(|(_, e)| e)?;
        Ok(path)
    }

    /// Extends `path`, whose last element is `child`, to a trust anchor.
    fn extend(
        &mut self,
        path: &mut Vec<&'a ParsedCert>,
        child: &'a ParsedCert,
    ) -> Result<(), Failure> {
        let depth = path.len();
        let mut best: Option<Failure> = None;
        let mut any_candidate = false;
        let anchors = self.anchors.iter().map(|c| (true, c));
        let candidates = anchors.chain(self.pool.iter().map(|c| (false, c)));
        for (is_anchor, cand) in candidates {
            if !cand.may_have_issued(child) || path.iter().any(|p| p.der == cand.der) {
                continue;
            }
            any_candidate = true;
            match self.try_issuer(path, child, cand, is_anchor) {
                Ok(()) => return Ok(()),
                Err((_, e @ EkCertError::TooManyCandidates(_))) => return Err((usize::MAX, e)),
                Err((d, e)) => {
                    if best.as_ref().is_none_or(|(bd, _)| d > *bd) {
                        best = Some((d, e));
                    }
                }
            }
        }
        match best {
            Some(f) if any_candidate => Err(f),
            _ => Err((
                depth,
                EkCertError::NoIssuer {
                    cert: child.label.clone(),
                    issuer: format!("'{}'", child.issuer),
                    key_id: child.akid.as_ref().map(hex::encode),
                    anchors: self.anchors.len(),
                    intermediates: self.pool.len(),
                },
            )),
        }
    }

    fn try_issuer(
        &mut self,
        path: &mut Vec<&'a ParsedCert>,
        child: &'a ParsedCert,
        cand: &'a ParsedCert,
        is_anchor: bool,
    ) -> Result<(), Failure> {
        let depth = path.len();
        if self.checks >= MAX_SIGNATURE_CHECKS {
            return Err((depth, EkCertError::TooManyCandidates(self.checks)));
        }
        self.checks += 1;
        signature::verify(&cand.spki, &child.sig_alg, &child.tbs, &child.signature).map_err(
            |e| {
                let err = match e {
                    SigError::Invalid => EkCertError::BadSignature {
                        cert: child.label.clone(),
                        issuer: cand.label.clone(),
                        algorithm: signature::describe(&child.sig_alg),
                    },
                    SigError::Unsupported(algorithm) => EkCertError::UnsupportedAlgorithm {
                        cert: child.label.clone(),
                        algorithm,
                    },
                    SigError::BadKey(reason) => EkCertError::UnsupportedKey {
                        cert: cand.label.clone(),
                        reason,
                    },
                };
                (depth, err)
            },
        )?;
        // Non-self-issued intermediates between the candidate and the leaf.
        let below = path.iter().skip(1).filter(|c| !c.is_self_issued()).count();
        cand.check_as_issuer(is_anchor, self.time, below)
            .map_err(|e| (depth, e))?;
        if is_anchor {
            path.push(cand);
            return Ok(());
        }
        // Leave room for the anchor above this intermediate.
        if depth + 2 > MAX_CHAIN_LEN {
            return Err((
                depth,
                EkCertError::ChainTooLong {
                    cert: cand.label.clone(),
                    max: MAX_CHAIN_LEN,
                },
            ));
        }
        path.push(cand);
        let r = self.extend(path, cand);
        if r.is_err() {
            path.pop();
        }
        r
    }
}
