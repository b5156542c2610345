//! Verification of SEV-SNP evidence into [`SnpClaims`]: everything that does
//! not depend on the operator's policy.
//!
//! 1. The report parses (AMD pub. 56860 rev. 1.58, Table 23; versions 2–5).
//! 2. The product: from CPUID (version 3+), the caller, or — for version 2
//!    reports — the candidate certificate's productName; only that
//!    product's built-in roots are tried.
//! 3. A candidate VCEK/VLEK (supplied with the evidence or from the
//!    collateral store) chains to the product's ARK through the ASK (VCEK)
//!    or ASVK (VLEK), signed the report, and its TCB/hwID extensions match
//!    REPORTED_TCB / CHIP_ID ([`super::verify_report`]).
//! 4. Any supplied CRL issued by that ARK is current and does not list the
//!    intermediate ([`super::check_crl`]).
//! 5. TCB consistency: COMMITTED_TCB ≤ CURRENT_TCB component-wise (the
//!    firmware never runs below its committed level; pub. 56860 §3.5 "TCB
//!    Versioning").
//! 6. REPORT_DATA equals the expected value (the spine's binding, see
//!    `sealbuild_common::binding::snp_report_data`).
//!
//! Each failure becomes a [`Reason`] with a stable check name (`snp_report`,
//! `snp_endorsement_key`, `snp_chain`, `snp_signature`, `snp_tcb`,
//! `snp_product`, `snp_crl`, `binding`).

use sealbuild_common::api::Reason;
use sealbuild_common::snp::{AttestationReport, SigningKey, SnpProduct};

use super::roots::{AmdRoots, IntermediateKind, ProductRoots};
use super::{
    check_crl, verify_parsed_report, AmdCertExtensions, SnpCertError, SnpChainCache, SnpError,
    VerifiedSnpReport,
};
use crate::claims::SnpClaims;

/// Which AMD key signed a report: the one VCEK/VLEK type of the code base.
pub use sealbuild_common::snp::EndorsementKind as SnpSignerKind;

/// Inputs of [`verify_snp`]: bytes, collateral and a time.
#[derive(Debug, Clone, Copy)]
pub struct SnpInput<'a> {
    /// The 1184-byte report.
    pub report: &'a [u8],
    /// Candidate VCEK/VLEK certificates (DER), from the evidence and the
    /// collateral store; untrusted until one chains to a root.
    pub endorsement_keys: &'a [&'a [u8]],
    /// The trusted roots.
    pub roots: &'a AmdRoots,
    /// CRLs (DER) to apply; those not issued by the chain's ARK are ignored.
    pub crls: &'a [&'a [u8]],
    /// The product the caller expects, if it knows.
    pub expected_product: Option<SnpProduct>,
    /// The REPORT_DATA the report must carry, if any.
    pub expected_report_data: Option<&'a [u8; 64]>,
    /// Verification time, Unix seconds.
    pub at_unix_secs: u64,
}

fn reason(check: &str, expected: Option<String>, observed: Option<String>, msg: String) -> Reason {
    Reason::new(check, expected, observed, msg)
}

/// The stable check name an [`SnpError`] is reported under (`snp_report`,
/// `snp_chain`, `snp_signature`, `snp_tcb`, `snp_product`,
/// `snp_endorsement_key`): the one mapping, for the platform verifiers and
/// the command line.
pub fn check_name(e: &SnpError) -> &'static str {
    match e {
        SnpError::Format(_) => "snp_report",
        SnpError::Chain(_) => "snp_chain",
        SnpError::SignerKey { .. } | SnpError::Unsigned | SnpError::BadSignature { .. } => {
            "snp_signature"
        }
        SnpError::Cert(SnpCertError::TcbMismatch { .. }) => "snp_tcb",
        SnpError::Cert(SnpCertError::Product { .. }) | SnpError::ProductMismatch { .. } => {
            "snp_product"
        }
        SnpError::Cert(_) => "snp_endorsement_key",
    }
}

fn error_reason(e: &SnpError) -> Reason {
    reason(check_name(e), None, None, e.to_string())
}

/// Verifies SEV-SNP evidence; see the module documentation for the checks.
pub fn verify_snp(input: &SnpInput<'_>) -> Result<SnpClaims, Vec<Reason>> {
    verify_snp_with(input, None)
}

/// [`verify_snp`], reusing the chains `cache` verified for earlier reports
/// (same claims, same reasons; see [`SnpChainCache`]).
pub fn verify_snp_cached(
    input: &SnpInput<'_>,
    cache: &SnpChainCache,
) -> Result<SnpClaims, Vec<Reason>> {
    verify_snp_with(input, Some(cache))
}

fn verify_snp_with(
    input: &SnpInput<'_>,
    cache: Option<&SnpChainCache>,
) -> Result<SnpClaims, Vec<Reason>> {
    let report = AttestationReport::parse(input.report)
        .map_err(|e| vec![error_reason(&SnpError::Format(e))])?;
    // CPUID (version 3+) must agree with the caller's product; a version 2
    // report has no CPUID, and then the caller's product is binding.
    let product_from_report = super::detect_product(&report, input.expected_product)
        .map_err(|e| vec![error_reason(&e)])?
        .or(input.expected_product);
    let (kind, signer) = match report.key_info.signing_key {
        SigningKey::Vcek => (IntermediateKind::Ask, SnpSignerKind::Vcek),
        SigningKey::Vlek => (IntermediateKind::Asvk, SnpSignerKind::Vlek),
        SigningKey::None => return Err(vec![error_reason(&SnpError::Unsigned)]),
    };
    if input.endorsement_keys.is_empty() {
        return Err(vec![reason(
            "snp_endorsement_key",
            Some(format!(
                "the {} certificate",
                signer.as_str().to_uppercase()
            )),
            Some("none".into()),
            format!(
                "no {} certificate for this report: the platform did not supply one and the \
                 collateral store has none (sealbuild-verifier collateral fetch snp)",
                signer.as_str().to_uppercase()
            ),
        )]);
    }

    // Try every candidate with every root set of its product; the first
    // that verifies wins. Keep the most informative failure.
    let mut failures: Vec<Reason> = Vec::new();
    let mut verified = None;
    'outer: for cand in input.endorsement_keys {
        let product = match product_from_report {
            Some(p) => p,
            None => match AmdCertExtensions::from_der(cand)
                .ok()
                .and_then(|x| x.product())
            {
                Some(p) => p,
                None => {
                    failures.push(reason(
                        "snp_product",
                        Some("Milan, Genoa or Turin".into()),
                        None,
                        "the report (version 2) does not name its product and the candidate \
                         certificate's productName is not a known product; give the product"
                            .into(),
                    ));
                    continue;
                }
            },
        };
        let mut any_root = false;
        for roots in input.roots.for_product(product) {
            let Some(chain) = roots.chain(kind) else {
                continue;
            };
            any_root = true;
            let (parsed, at) = (report.clone(), input.at_unix_secs);
            let result = match cache {
                Some(c) => {
                    c.verify_parsed_report(parsed, input.report, cand, chain, Some(product), at)
                }
                None => verify_parsed_report(parsed, input.report, cand, chain, Some(product), at),
            };
            match result {
                Ok(v) => {
                    verified = Some((v, roots));
                    break 'outer;
                }
                Err(e) => failures.push(error_reason(&e)),
            }
        }
        if !any_root {
            failures.push(reason(
                "snp_chain",
                Some(format!("a trusted {product} root")),
                Some("none".into()),
                format!(
                    "no trusted {product} chain for {}-signed reports",
                    signer.as_str()
                ),
            ));
        }
    }
    let Some((v, roots)) = verified else {
        // A chain failure says more than "also not signed by the other root".
        failures.sort_by_key(|r| match r.check.as_str() {
            "snp_tcb" | "snp_signature" | "snp_endorsement_key" => 0,
            "snp_product" => 1,
            _ => 2,
        });
        failures.truncate(1);
        return Err(failures);
    };

    let (reasons, crl_checked) = report_checks(input, &v, roots, kind, cache);
    if !reasons.is_empty() {
        return Err(reasons);
    }
    Ok(SnpClaims {
        product: v.product.unwrap_or(roots.product),
        signing_key: signer,
        // The VLEK's CSP id extension holds a name like
        // "CN=cc-us-east-2.amazonaws.com"; claims carry the value.
        csp_id: v
            .signer_ext
            .csp_id
            .as_deref()
            .map(|s| s.strip_prefix("CN=").unwrap_or(s).to_string()),
        signer_fingerprint: v.signer.fingerprint_sha256,
        insecure_test_root: roots.insecure_test,
        crl_checked,
        report: v.report,
    })
}

/// The checks after the chain: CRLs of the chain's ARK (with whether one
/// applied; their signatures kept in `cache` when given), TCB consistency
/// and REPORT_DATA.
fn report_checks(
    input: &SnpInput<'_>,
    v: &VerifiedSnpReport,
    roots: &ProductRoots,
    kind: IntermediateKind,
    cache: Option<&SnpChainCache>,
) -> (Vec<Reason>, bool) {
    let mut reasons = Vec::new();
    let mut crl_checked = false;
    if let Some(chain) = roots.chain(kind) {
        for crl in input.crls {
            let (ark, ask, at) = (chain.ark_der, chain.ask_der, input.at_unix_secs);
            let checked = match cache {
                Some(c) => c.check_crl(crl, ark, ask, at),
                None => check_crl(crl, ark, ask, at),
            };
            match checked {
                Ok(_) => crl_checked = true,
                // A CRL of another product (or of the other intermediate's
                // ARK) is not in scope.
                Err(super::CrlError::Issuer { .. }) => {}
                Err(e) => reasons.push(reason("snp_crl", None, None, e.to_string())),
            }
        }
    }
    let layout = v.product.unwrap_or(roots.product).tcb_layout();
    let r = &v.report;
    if !r.current_tcb.dominates(r.committed_tcb, layout) {
        reasons.push(reason(
            "snp_tcb",
            Some(format!("COMMITTED_TCB {:#018x} ≤ CURRENT_TCB", r.committed_tcb.0)),
            Some(format!("CURRENT_TCB {:#018x}", r.current_tcb.0)),
            format!(
                "CURRENT_TCB {:#018x} is below COMMITTED_TCB {:#018x}: genuine firmware never runs below its committed level",
                r.current_tcb.0, r.committed_tcb.0
            ),
        ));
    }
    if let Some(expected) = input.expected_report_data {
        if &r.report_data != expected {
            reasons.push(reason(
                "binding",
                Some(hex::encode(expected)),
                Some(hex::encode(r.report_data)),
                format!(
                    "REPORT_DATA is {}, expected {} (binding digest of the nonce, ephemeral key and statement, then 32 zero bytes)",
                    hex::encode(r.report_data),
                    hex::encode(expected)
                ),
            ));
        }
    }
    (reasons, crl_checked)
}
