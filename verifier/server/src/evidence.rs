//! The I/O edge around the platform verifiers of `sealbuild-verifier-core`:
//! the roots the service trusts, and the collateral a verifier asks for
//! ([`CollateralNeed`]) read from the on-disk store as bytes: for SEV-SNP
//! (and the SNP report inside an Azure HCL report) the VCEK for the report's
//! CHIP_ID and REPORTED_TCB, any stored VLEKs and the stored CRLs; for
//! Intel TDX the PCS responses of the quote's FMSPC and PCK CA
//! (`collateral::tdx`). Nothing is fetched here: `sealbuild-verifier
//! collateral fetch snp` (or the operator, for TDX) fills the store
//! beforehand.

use crate::collateral::store::CollateralStore;
use crate::collateral::ChainKind;
use crate::config::Config;
use crate::error::{Result, ServerError};
use sealbuild_common::snp::{SigningKey, SnpProduct};
use sealbuild_verifier_core::platform::{Collateral, CollateralNeed};
use sealbuild_verifier_core::snp::AmdRoots;
use sealbuild_verifier_core::tdx::IntelRoot;

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

/// The root the service trusts for Intel TDX: the Intel SGX Root CA, or —
/// only in a build with the `insecure-tdx-sim` feature and only when
/// configured — an insecure test root instead.
pub fn intel_root(config: &Config) -> Result<IntelRoot> {
    match &config.tdx_insecure_test_root {
        None => Ok(IntelRoot::builtin()),
        Some(path) => insecure_intel_root(path),
    }
}

#[cfg(feature = "insecure-tdx-sim")]
fn insecure_intel_root(path: &std::path::Path) -> Result<IntelRoot> {
    let bytes = std::fs::read(path).map_err(|e| ServerError::io(path, e))?;
    let der = if bytes.first() == Some(&0x30) {
        bytes
    } else {
        let certs: Vec<Vec<u8>> = rustls_pemfile::certs(&mut bytes.as_slice())
            .map(|c| c.map(|c| c.to_vec()))
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| ServerError::io(path, e))?;
        let [root] = <[Vec<u8>; 1]>::try_from(certs).map_err(|c| {
            ServerError::Config(format!(
                "{}: expected one certificate (the test root), found {}",
                path.display(),
                c.len()
            ))
        })?;
        root
    };
    tracing::warn!(
        root = %path.display(),
        "INSECURE: trusting a test SGX root for TDX instead of Intel's; anyone with its keys can forge quotes this verifier accepts"
    );
    Ok(IntelRoot::insecure_test(&der))
}

#[cfg(not(feature = "insecure-tdx-sim"))]
fn insecure_intel_root(path: &std::path::Path) -> Result<IntelRoot> {
    Err(ServerError::Config(format!(
        "tdx_insecure_test_root = {}: this build of sealbuild-verifier was compiled without the \
         insecure-tdx-sim feature and never trusts a test root",
        path.display()
    )))
}

/// Gathers what `need` asks for from the collateral store (blocking I/O).
/// A store read error only loses a candidate; verification then names what
/// is missing. Certificates supplied with the evidence are the platform
/// verifier's to use; nothing is fetched here.
pub fn gather_collateral(need: &CollateralNeed, store: Option<&CollateralStore>) -> Collateral {
    let mut out = Collateral::default();
    if let (CollateralNeed::TdxDcap { fmspc, ca }, Some(store)) = (need, store) {
        let dir = crate::collateral::tdx::dir_for(store.root(), fmspc, *ca);
        match crate::collateral::tdx::read_dir(&dir) {
            Ok(c) => out.tdx = Some(Box::new(c)),
            // Missing or unreadable: the TDX verifier names the FMSPC it lacks.
            Err(e) => tracing::debug!(error = %e, "no TDX collateral"),
        }
        return out;
    }
    let (CollateralNeed::SnpEndorsement(report), Some(store)) = (need, store) else {
        return out;
    };
    let products: Vec<SnpProduct> = match report.cpuid.and_then(SnpProduct::from_cpuid) {
        Some(p) => vec![p],
        None => vec![SnpProduct::Milan, SnpProduct::Genoa, SnpProduct::Turin],
    };
    for p in products {
        if let Ok(Some(v)) = store.vcek(p, &report.chip_id, report.reported_tcb.0) {
            if !out.snp_keys.contains(&v) {
                out.snp_keys.push(v);
            }
        }
        if report.key_info.signing_key == SigningKey::Vlek {
            if let Ok(vleks) = store.vleks(p) {
                out.snp_keys.extend(vleks);
            }
        }
        for kind in [ChainKind::Vcek, ChainKind::Vlek] {
            if let Ok(Some(crl)) = store.crl(p, kind) {
                out.snp_crls.push(crl);
            }
        }
    }
    out
}
