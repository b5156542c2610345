//! AMD SEV-SNP report verification: the report signature and the AMD chain.
//!
//! Specifications:
//!
//! * AMD "SEV Secure Nested Paging Firmware ABI Specification" (publication
//!   56860), revision 1.58: Table 23 "ATTESTATION_REPORT Structure" (the
//!   signature over bytes 000h..2A0h), Appendix "Digital Signatures" (ECDSA
//!   P-384 with SHA-384, R and S little-endian).
//! * AMD "Versioned Chip Endorsement Key (VCEK) Certificate and KDS Interface
//!   Specification" (publication 57230), revision 0.50: the ARK → ASK → VCEK
//!   chain (ARK self-signed, all three RSA-4096 / P-384 keys signed with
//!   RSASSA-PSS, SHA-384, MGF1-SHA-384, salt length 48), and the VLEK
//!   variant (ARK → ASVK → VLEK), §"VCEK Certificate" extensions.
//! * IETF RFC 5280 path validation and RFC 4055 RSASSA-PSS parameters, as
//!   implemented by [`crate::ekcert`], which this module reuses: it accepts
//!   the serial number 0 that every VCEK/VLEK carries.
//!
//! Bytes and a verification time (Unix seconds) go in; nothing here reads a
//! clock or a file. Which ARK/ASK to trust is the caller's choice: pass the
//! pinned certificates of the product the report is expected to come from.

use std::sync::Arc;

use sealbuild_common::crypto::{Curve, VerifyingKey};
use sealbuild_common::snp::{AttestationReport, SigningKey, SnpProduct, SIGNED_LEN};
use sealbuild_common::FormatError;
use thiserror::Error;

pub mod appraise;
pub mod cache;
pub mod certs;
pub mod crl;
pub mod roots;

pub use appraise::{check_name, verify_snp, verify_snp_cached, SnpInput, SnpSignerKind};
pub use cache::SnpChainCache;
pub use certs::{AmdCertExtensions, SnpCertError};
pub use crl::{check_crl, CrlError};
pub use roots::AmdRoots;

use crate::credential::EkCurve;
use crate::ekcert::{verify_ek_cert_chain, EkCertError, EkCertKey, TrustAnchors, VerifiedEkCert};

/// Why an SEV-SNP report was refused, by cause.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SnpError {
    /// The report bytes are malformed.
    #[error("SEV-SNP report: {0}")]
    Format(#[from] FormatError),
    /// The VCEK/VLEK does not chain to the given ARK through the given ASK.
    #[error("SEV-SNP endorsement key chain: {0}")]
    Chain(#[from] EkCertError),
    /// The certified key is not a P-384 ECDSA key.
    #[error("SEV-SNP endorsement key: expected an ECDSA P-384 public key, got {got}")]
    SignerKey {
        /// What the certificate holds.
        got: String,
    },
    /// The report says it is not signed (SIGNING_KEY = 7).
    #[error("SEV-SNP report: SIGNING_KEY expected VCEK (0) or VLEK (1), got 7 (not signed)")]
    Unsigned,
    /// The ECDSA signature does not verify.
    #[error(
        "SEV-SNP report signature (ECDSA P-384/SHA-384 over bytes 0..0x2a0) does not verify \
         with the {signer} key of certificate {cert}: {reason}"
    )]
    BadSignature {
        /// "VCEK" or "VLEK", as the report declares.
        signer: &'static str,
        /// SHA-256 fingerprint of the certificate, hex.
        cert: String,
        /// The verifier's reason.
        reason: String,
    },
    /// The VCEK/VLEK extensions do not match the report.
    #[error("SEV-SNP endorsement key certificate: {0}")]
    Cert(#[from] SnpCertError),
    /// The CPUID in the report names another product than expected.
    #[error("SEV-SNP report: expected product {expected}, got {got} (CPUID family {family:#x} model {model:#x})")]
    ProductMismatch {
        /// The product the caller trusts.
        expected: SnpProduct,
        /// What the report's CPUID says ("unknown" when not recognised).
        got: String,
        /// CPUID family.
        family: u8,
        /// CPUID model.
        model: u8,
    },
}

/// The pinned AMD certificates of one product (DER): the AMD Root Key and
/// the AMD SEV Key (ASK, for VCEKs) or AMD SEV VLEK Key (ASVK, for VLEKs).
#[derive(Debug, Clone, Copy)]
pub struct AmdChain<'a> {
    /// ARK, self-signed root.
    pub ark_der: &'a [u8],
    /// ASK or ASVK, signed by the ARK.
    pub ask_der: &'a [u8],
}

/// A report whose signature and chain verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSnpReport {
    /// The parsed report.
    pub report: AttestationReport,
    /// The product: from CPUID on version 3+ reports, otherwise the caller's
    /// expected product; `None` when neither says (the pinned ARK and the
    /// certificate's productName then decide).
    pub product: Option<SnpProduct>,
    /// The verified VCEK/VLEK certificate.
    pub signer: VerifiedEkCert,
    /// Its AMD extensions.
    pub signer_ext: AmdCertExtensions,
}

/// The product a report's CPUID names (version 3 and later), checked against
/// `expected` when given.
pub fn detect_product(
    report: &AttestationReport,
    expected: Option<SnpProduct>,
) -> Result<Option<SnpProduct>, SnpError> {
    let Some(cpuid) = report.cpuid else {
        return Ok(None);
    };
    let detected = SnpProduct::from_cpuid(cpuid);
    match expected {
        Some(e) if detected != Some(e) => Err(SnpError::ProductMismatch {
            expected: e,
            got: detected.map_or_else(|| "unknown".to_string(), |p| p.to_string()),
            family: cpuid.family,
            model: cpuid.model,
        }),
        _ => Ok(detected),
    }
}

/// Turns a certified key into a P-384/SHA-384 verifying key of the one
/// crypto provider (parse it once, verify many reports with it).
pub fn p384_key(key: &EkCertKey) -> Result<VerifyingKey, SnpError> {
    match key {
        EkCertKey::Ecc {
            curve: EkCurve::P384,
            x,
            y,
        } => VerifyingKey::ecdsa_xy(Curve::P384, x, y, sealbuild_common::HashAlg::Sha384).map_err(
            |e| SnpError::SignerKey {
                got: format!("an invalid P-384 point ({e})"),
            },
        ),
        EkCertKey::Ecc { curve, .. } => Err(SnpError::SignerKey {
            got: format!("ECC {curve}"),
        }),
        EkCertKey::Rsa { n, .. } => Err(SnpError::SignerKey {
            got: format!("RSA ({} modulus bytes)", n.len()),
        }),
    }
}

/// Checks the ECDSA P-384/SHA-384 signature of the 1184-byte `report_bytes`
/// (over bytes 0..0x2A0) with `key`; `cert` names the key in errors.
/// Parses the report; callers holding the parsed report use
/// [`check_report_signature`].
pub fn verify_report_signature(
    report_bytes: &[u8],
    key: &VerifyingKey,
    cert: &str,
) -> Result<AttestationReport, SnpError> {
    let report = AttestationReport::parse(report_bytes)?;
    check_report_signature(&report, report_bytes, key, cert)?;
    Ok(report)
}

/// The signature check of [`verify_report_signature`] on a report parsed
/// from `report_bytes` (its signed region and signature).
pub fn check_report_signature(
    report: &AttestationReport,
    report_bytes: &[u8],
    key: &VerifyingKey,
    cert: &str,
) -> Result<(), SnpError> {
    let signer = match report.key_info.signing_key {
        SigningKey::Vcek => "VCEK",
        SigningKey::Vlek => "VLEK",
        SigningKey::None => return Err(SnpError::Unsigned),
    };
    let bad = |reason: String| SnpError::BadSignature {
        signer,
        cert: cert.to_string(),
        reason,
    };
    let (signed, _) = report_bytes
        .split_at_checked(SIGNED_LEN)
        .ok_or_else(|| bad("report shorter than the signed region".to_string()))?;
    let fixed = report.signature.to_be_fixed();
    let (r, s) = fixed.split_at(48);
    key.verify_ecdsa_rs(signed, r, s)
        .map_err(|e| bad(e.to_string()))
}

/// Verifies an SEV-SNP report end to end at `at_unix_secs`: the VCEK/VLEK
/// `signer_der` chains to `chain.ark_der` through `chain.ask_der` (every
/// signature, validity window and CA constraint), its P-384 key signed the
/// report, (version 3+) the CPUID names `expected_product` when given, and
/// the certificate's AMD extensions match the report
/// ([`AmdCertExtensions::check_against`]: productName, REPORTED_TCB, hwID).
pub fn verify_report(
    report_bytes: &[u8],
    signer_der: &[u8],
    chain: AmdChain<'_>,
    expected_product: Option<SnpProduct>,
    at_unix_secs: u64,
) -> Result<VerifiedSnpReport, SnpError> {
    // Parse first: malformed reports are refused before any crypto.
    let parsed = AttestationReport::parse(report_bytes)?;
    verify_parsed_report(
        parsed,
        report_bytes,
        signer_der,
        chain,
        expected_product,
        at_unix_secs,
    )
}

/// [`verify_report`] for a report already parsed from `report_bytes`: the
/// parsed value travels down the path with its signed bytes, and is not
/// parsed again.
pub fn verify_parsed_report(
    parsed: AttestationReport,
    report_bytes: &[u8],
    signer_der: &[u8],
    chain: AmdChain<'_>,
    expected_product: Option<SnpProduct>,
    at_unix_secs: u64,
) -> Result<VerifiedSnpReport, SnpError> {
    verify_parsed_report_keeping(
        parsed,
        report_bytes,
        signer_der,
        chain,
        expected_product,
        at_unix_secs,
        |_| {},
    )
}

/// What verifying a VCEK/VLEK's chain established that depends neither on
/// the verification time nor on a report: the certificate, its P-384 key
/// and its AMD extensions ([`cache::SnpChainCache`] keeps it).
#[derive(Debug)]
pub struct VerifiedSigner {
    /// The verified VCEK/VLEK certificate.
    pub cert: VerifiedEkCert,
    /// Its key, ready to verify reports.
    pub key: VerifyingKey,
    /// Its AMD extensions.
    pub ext: AmdCertExtensions,
}

/// The chain part of [`verify_parsed_report`]: `signer_der` chains to
/// `chain.ark_der` through `chain.ask_der` at `at_unix_secs`, certifies a
/// P-384 key and carries well-formed AMD extensions.
fn verify_signer(
    signer_der: &[u8],
    chain: AmdChain<'_>,
    at_unix_secs: u64,
) -> Result<VerifiedSigner, SnpError> {
    let anchors = TrustAnchors::from_der([chain.ark_der])?;
    let cert = verify_ek_cert_chain(signer_der, &[chain.ask_der], &anchors, at_unix_secs)?;
    let key = p384_key(&cert.public_key)?;
    let ext = AmdCertExtensions::from_der(signer_der)?;
    Ok(VerifiedSigner { cert, key, ext })
}

/// The report part of [`verify_parsed_report`], after [`detect_product`]
/// (`product`) and [`verify_signer`]: the certificate's extensions against
/// the report, then the report's signature.
pub(crate) fn check_report_with_signer(
    parsed: AttestationReport,
    report_bytes: &[u8],
    signer: &VerifiedSigner,
    product: Option<SnpProduct>,
    expected_product: Option<SnpProduct>,
) -> Result<VerifiedSnpReport, SnpError> {
    let product = product.or(expected_product);
    // The certificate's extensions against the report first (they name the
    // more specific failure: a changed REPORTED_TCB is a TCB mismatch before
    // it is a broken signature), then the signature.
    signer.ext.check_against(&parsed, product)?;
    check_report_signature(
        &parsed,
        report_bytes,
        &signer.key,
        &hex::encode(signer.cert.fingerprint_sha256),
    )?;
    Ok(VerifiedSnpReport {
        report: parsed,
        product,
        signer: signer.cert.clone(),
        signer_ext: signer.ext.clone(),
    })
}

/// [`verify_parsed_report`], handing the outcome of the chain step (the
/// verified signer, or why the chain was refused) to `keep` before the
/// report's own checks: the one uncached path, which
/// [`cache::SnpChainCache`] falls back to.
pub(crate) fn verify_parsed_report_keeping(
    parsed: AttestationReport,
    report_bytes: &[u8],
    signer_der: &[u8],
    chain: AmdChain<'_>,
    expected_product: Option<SnpProduct>,
    at_unix_secs: u64,
    keep: impl FnOnce(Result<&Arc<VerifiedSigner>, &SnpError>),
) -> Result<VerifiedSnpReport, SnpError> {
    let product = detect_product(&parsed, expected_product)?;
    let signer = verify_signer(signer_der, chain, at_unix_secs).map(Arc::new);
    keep(signer.as_ref());
    let signer = signer?;
    check_report_with_signer(parsed, report_bytes, &signer, product, expected_product)
}
