//! AMD SEV-SNP evidence: an attestation report whose REPORT_DATA carries the
//! binding, checked by [`crate::snp::verify_snp`] against AMD's roots.

use super::{wrong_platform, CollateralNeed, Enrolment, EvidenceVerifier, VerifyContext};
use crate::claims::PlatformClaims;
use crate::snp::{verify_snp_cached, AmdRoots, SnpChainCache, SnpInput};
use sealbuild_common::api::{Evidence, Reason, SnpCertKind, SnpCertificate};
use sealbuild_common::binding::snp_report_data;
use sealbuild_common::snp::AttestationReport;
use sealbuild_common::Platform;
use std::sync::Arc;

/// The verifier of SEV-SNP evidence; it keeps the AMD chains it verified
/// ([`SnpChainCache`]).
#[derive(Debug, Clone)]
pub struct SnpVerifier {
    roots: Arc<AmdRoots>,
    cache: Arc<SnpChainCache>,
}

impl SnpVerifier {
    /// Trusting `roots`.
    pub fn new(roots: Arc<AmdRoots>) -> Self {
        Self {
            roots,
            cache: Arc::new(SnpChainCache::default()),
        }
    }

    /// Its chain cache.
    pub fn chain_cache(&self) -> &SnpChainCache {
        &self.cache
    }
}

/// The VCEK/VLEK candidates: those supplied with the evidence first, then
/// the collateral store's (deduplicated).
fn endorsement_keys<'a>(supplied: &'a [SnpCertificate], stored: &'a [Vec<u8>]) -> Vec<&'a [u8]> {
    let mut out: Vec<&[u8]> = supplied
        .iter()
        .filter(|c| matches!(c.kind, SnpCertKind::Vcek | SnpCertKind::Vlek))
        .map(|c| c.der.as_slice())
        .collect();
    for k in stored {
        if !out.contains(&k.as_slice()) {
            out.push(k);
        }
    }
    out
}

/// The one assembly of SEV-SNP verification input from evidence: the
/// report, the certificates supplied with it and the edge's collateral,
/// checked against `roots` at the context's time; `expected_report_data`
/// when REPORT_DATA carries the binding itself; chains through `cache`.
pub(super) fn verify_report_in(
    roots: &AmdRoots,
    cache: &SnpChainCache,
    report: &[u8],
    supplied: &[SnpCertificate],
    cx: &VerifyContext<'_>,
    expected_report_data: Option<&[u8; 64]>,
) -> Result<crate::claims::SnpClaims, Vec<Reason>> {
    let keys = endorsement_keys(supplied, &cx.collateral.snp_keys);
    let crls: Vec<&[u8]> = cx.collateral.snp_crls.iter().map(Vec::as_slice).collect();
    let input = SnpInput {
        report,
        endorsement_keys: &keys,
        roots,
        crls: &crls,
        expected_product: None,
        expected_report_data,
        at_unix_secs: cx.now,
    };
    verify_snp_cached(&input, cache)
}

/// What to look up for a report: its VCEK/VLEK and CRLs.
pub(super) fn need_for_report(report: &[u8]) -> CollateralNeed {
    match AttestationReport::parse(report) {
        Ok(r) => CollateralNeed::SnpEndorsement(Box::new(r)),
        // Verification will name the parse error.
        Err(_) => CollateralNeed::None,
    }
}

impl EvidenceVerifier for SnpVerifier {
    fn platform(&self) -> Platform {
        Platform::Snp
    }

    fn checks_summary(&self) -> &'static str {
        "SEV-SNP report, AMD chain and REPORT_DATA binding re-verified"
    }

    fn enrolment(&self) -> Enrolment {
        Enrolment::Hardware
    }

    fn collateral_need(&self, evidence: &Evidence) -> CollateralNeed {
        match evidence {
            Evidence::Snp(snp) => need_for_report(&snp.report),
            _ => CollateralNeed::None,
        }
    }

    fn verify(
        &self,
        evidence: &Evidence,
        cx: &VerifyContext<'_>,
    ) -> Result<PlatformClaims, Vec<Reason>> {
        let Evidence::Snp(snp) = evidence else {
            return Err(wrong_platform(Platform::Snp, evidence));
        };
        let expected = snp_report_data(cx.binding);
        verify_report_in(
            &self.roots,
            &self.cache,
            &snp.report,
            &snp.certificates,
            cx,
            Some(&expected),
        )
        .map(|c| PlatformClaims::Snp(Box::new(c)))
    }
}
