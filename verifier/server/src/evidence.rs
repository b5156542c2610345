//! Platform evidence → verified claims, for the service: the I/O edge around
//! the pure checks of `sealbuild-verifier-core`.
//!
//! For SEV-SNP this gathers the candidate endorsement keys (those the
//! platform supplied with the report, then the collateral store's VCEK for
//! the report's CHIP_ID and REPORTED_TCB, and any stored VLEKs) and the
//! stored CRLs, and hands them as bytes to
//! [`sealbuild_verifier_core::snp::verify_snp`]. Nothing is fetched here:
//! `sealbuild-verifier collateral fetch snp` fills the store beforehand.

use crate::collateral::store::CollateralStore;
use crate::collateral::ChainKind;
use crate::config::Config;
use crate::error::{Result, ServerError};
use sealbuild_common::api::{Reason, SnpCertKind, SnpEvidence};
use sealbuild_common::binding::snp_report_data;
use sealbuild_common::snp::{AttestationReport, SnpProduct};
use sealbuild_verifier_core::claims::SnpClaims;
use sealbuild_verifier_core::snp::{verify_snp, AmdRoots, SnpInput};

/// The roots the service trusts for SEV-SNP: AMD's, plus — only in a build
/// with the `insecure-snp-sim` feature and only when configured — an
/// insecure test chain.
pub fn snp_roots(config: &Config) -> Result<AmdRoots> {
    let roots = AmdRoots::builtin();
    let Some(path) = &config.snp_insecure_test_chain else {
        return Ok(roots);
    };
    insecure_roots(roots, path, config.snp_insecure_test_product.as_deref())
}

#[cfg(feature = "insecure-snp-sim")]
fn insecure_roots(
    roots: AmdRoots,
    path: &std::path::Path,
    product: Option<&str>,
) -> Result<AmdRoots> {
    let product = match product {
        None => SnpProduct::Genoa,
        Some(p) => SnpProduct::from_name(p).ok_or_else(|| {
            ServerError::Config(format!(
                "snp_insecure_test_product '{p}' is not milan, genoa or turin"
            ))
        })?,
    };
    let pem = std::fs::read(path).map_err(|e| ServerError::io(path, e))?;
    let certs: Vec<Vec<u8>> = rustls_pemfile::certs(&mut pem.as_slice())
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| ServerError::io(path, e))?;
    let [ask, ark] = certs.as_slice() else {
        return Err(ServerError::Config(format!(
            "{}: expected two certificates (ASK then ARK), found {}",
            path.display(),
            certs.len()
        )));
    };
    tracing::warn!(
        chain = %path.display(),
        "INSECURE: trusting a test SEV-SNP chain; anyone with its keys can forge reports this verifier accepts"
    );
    Ok(roots.with_insecure_test_chain(product, ark, ask))
}

#[cfg(not(feature = "insecure-snp-sim"))]
fn insecure_roots(
    _roots: AmdRoots,
    path: &std::path::Path,
    _product: Option<&str>,
) -> Result<AmdRoots> {
    Err(ServerError::Config(format!(
        "snp_insecure_test_chain = {}: this build of sealbuild-verifier was compiled without the \
         insecure-snp-sim feature and never trusts a test chain",
        path.display()
    )))
}

/// Candidate endorsement keys and CRLs for a report.
#[derive(Debug, Default)]
pub struct SnpCollateral {
    /// VCEK/VLEK certificates, DER, evidence first.
    pub keys: Vec<Vec<u8>>,
    /// CRLs, DER.
    pub crls: Vec<Vec<u8>>,
}

/// Gathers collateral for `ev` from the evidence and the store (blocking I/O).
pub fn gather_snp_collateral(ev: &SnpEvidence, store: Option<&CollateralStore>) -> SnpCollateral {
    let mut out = SnpCollateral::default();
    for c in &ev.certificates {
        if matches!(c.kind, SnpCertKind::Vcek | SnpCertKind::Vlek) {
            out.keys.push(c.der.clone());
        }
    }
    let (Some(store), Ok(report)) = (store, AttestationReport::parse(&ev.report)) else {
        return out;
    };
    let products: Vec<SnpProduct> = match report.cpuid.and_then(SnpProduct::from_cpuid) {
        Some(p) => vec![p],
        None => vec![SnpProduct::Milan, SnpProduct::Genoa, SnpProduct::Turin],
    };
    for p in products {
        // A store read error only loses a candidate; verification then says
        // which key is missing.
        if let Ok(Some(v)) = store.vcek(p, &report.chip_id, report.reported_tcb.0) {
            if !out.keys.contains(&v) {
                out.keys.push(v);
            }
        }
        if let Ok(vleks) = store.vleks(p) {
            out.keys.extend(vleks.into_iter().filter(|_| {
                report.key_info.signing_key == sealbuild_common::snp::SigningKey::Vlek
            }));
        }
        for kind in [ChainKind::Vcek, ChainKind::Vlek] {
            if let Ok(Some(crl)) = store.crl(p, kind) {
                out.crls.push(crl);
            }
        }
    }
    out
}

/// Verifies SEV-SNP evidence bound to `binding` at `now`.
pub fn verify_snp_evidence(
    ev: &SnpEvidence,
    collateral: &SnpCollateral,
    roots: &AmdRoots,
    binding: &[u8; 32],
    now: u64,
) -> std::result::Result<SnpClaims, Vec<Reason>> {
    let keys: Vec<&[u8]> = collateral.keys.iter().map(Vec::as_slice).collect();
    let crls: Vec<&[u8]> = collateral.crls.iter().map(Vec::as_slice).collect();
    let expected = snp_report_data(binding);
    verify_snp(&SnpInput {
        report: &ev.report,
        endorsement_keys: &keys,
        roots,
        crls: &crls,
        expected_product: None,
        expected_report_data: Some(&expected),
        at_unix_secs: now,
    })
}
