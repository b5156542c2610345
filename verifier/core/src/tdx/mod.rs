//! Intel TDX (and SGX) DCAP quote verification: signatures, the PCK chain to
//! the built-in Intel SGX Root CA, CRLs, TCB Info and QE Identity, and the
//! TCB status — in pure Rust through the one crypto provider.
//!
//! Specifications (Intel, cited by document and section/table title):
//!
//! * "Intel® TDX DCAP Quoting Library API" and "Intel® SGX ECDSA Quote
//!   Library API", appendices "Quote Format": the quote structures (parsed in
//!   [`sealbuild_common::tdx`]); the quote signature is ECDSA P-256/SHA-256
//!   by the attestation key over header ‖ body, the QE report is signed by
//!   the PCK key, and the QE report's REPORTDATA is SHA-256(attestation key
//!   ‖ QE authentication data) followed by 32 zero bytes (table "QE Report
//!   Certification Data").
//! * "Intel® SGX PCK Certificate and Certificate Revocation List Profile
//!   Specification": the certificate hierarchy (Root CA → PCK Platform /
//!   Processor CA → PCK; Root CA → TCB Signing), the SGX extensions of PCK
//!   certificates ([`pck`]) and the CRLs (root CA CRL, PCK CRLs; RFC 5280 §5,
//!   [`crate::ekcert::crl`]).
//! * "Intel® SGX and Intel® TDX Provisioning Certification Service (PCS)
//!   API", version 4: TCB Info V3, Enclave Identity V2, their signatures and
//!   issuer chains ([`tcbinfo`], [`collateral`]).
//! * Intel's "SGX-TDX-DCAP-QuoteVerificationLibrary": the TCB level, TDX
//!   module and QE identity matching rules and the status convergence
//!   ([`tcbinfo`], [`module`]).
//!
//! Entry points: [`verify_quote`] (bytes + [`TdxCollateral`] + time →
//! [`TdxVerified`]), [`verify_quote_signatures`] (no collateral:
//! signatures and PCK chain only) and, for a verifier that keeps what it
//! verified, [`verify_quote_cached`] (a parsed quote + a [`VerifiedPck`] +
//! a [`VerifiedCollateral`] + time → the same [`TdxVerified`]). Statuses are returned, not judged:
//! [`TdxVerified::check_status`] applies the policy's list
//! ([`DEFAULT_ACCEPTED`] = UpToDate). Not implemented: the TD relaunch
//! advice of TDX 1.5 (TEE_TCB_SVN2 vs. TCB Info; Intel's
//! "TDRelaunchAdvised" statuses), TCB Info version 2 (SGX-only, superseded).

use sealbuild_common::FormatError;
use thiserror::Error;

pub mod cache;
pub mod claims;
pub mod collateral;
pub mod module;
pub mod pck;
pub mod roots;
pub mod tcbinfo;
pub mod verify;

pub use cache::DcapCache;
pub use claims::{QuoteClaims, SgxClaims, TcbVerdict, TdClaims, TdxVerified};
pub use collateral::{PcsResponses, SignedJson, TdxCollateral, VerifiedCollateral};
pub use pck::{PckCa, PckExtensions};
pub use roots::{IntelRoot, INTEL_SGX_ROOT_CA_DER, INTEL_SGX_ROOT_CA_SHA256};
pub use tcbinfo::TcbStatus;
pub use verify::{
    appraise_tcb, verify_quote, verify_quote_cached, verify_quote_signatures,
    verify_quote_with_root, VerifiedPck, VerifiedQuote, DEFAULT_ACCEPTED,
};

use crate::ekcert::crl::CrlError;
use crate::ekcert::EkCertError;

/// Why a DCAP quote or its collateral was refused, by cause. Each variant
/// names the failed check with what was expected and what was seen.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TdxError {
    /// The quote bytes are malformed.
    #[error("DCAP quote: {0}")]
    Format(#[from] FormatError),
    /// A well-formed quote of a kind this verifier does not accept.
    #[error("DCAP quote: {what}: expected {expected}, got {got}")]
    Unsupported {
        /// Which field.
        what: &'static str,
        /// What is accepted.
        expected: String,
        /// What the quote has.
        got: String,
    },
    /// The PCK certificate's Intel extensions or issuer are unusable.
    #[error("PCK certificate: {reason}")]
    Pck {
        /// What is wrong.
        reason: String,
    },
    /// A certificate chain (PCK, TCB Info, QE Identity) does not verify.
    #[error("{what} certificate chain: {source}")]
    Chain {
        /// Which chain.
        what: &'static str,
        /// Why.
        source: EkCertError,
    },
    /// A CRL is malformed, not current, or revokes a certificate in use.
    #[error(transparent)]
    Crl(#[from] CrlError),
    /// The quote signature does not verify with the attestation key.
    #[error(
        "quote signature (ECDSA P-256/SHA-256 over the {signed} bytes of header and body) does \
         not verify with the attestation key"
    )]
    QuoteSignature {
        /// Length of the signed bytes.
        signed: usize,
    },
    /// The QE report signature does not verify with the PCK key.
    #[error("QE report signature does not verify with the key of PCK certificate {pck}")]
    QeReportSignature {
        /// SHA-256 of the PCK certificate, hex.
        pck: String,
    },
    /// The QE report does not bind the attestation key.
    #[error(
        "QE report REPORTDATA: expected SHA-256(attestation key ‖ QE authentication data) = \
         {expected} followed by 32 zero bytes, got {got}"
    )]
    QeReportData {
        /// The digest, hex.
        expected: String,
        /// REPORTDATA, hex.
        got: String,
    },
    /// Collateral that does not decode or is inconsistent.
    #[error("{what}: {reason}")]
    Collateral {
        /// Which document.
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A TCB Info or QE Identity signature does not verify.
    #[error("{what}: the signature does not verify with the key of {cert:?}")]
    CollateralSignature {
        /// Which document.
        what: &'static str,
        /// The signing certificate's subject.
        cert: String,
    },
    /// TCB Info or QE Identity is not valid at the verification time.
    #[error("{what}: not valid at {at}: issueDate {issue_date}, nextUpdate {next_update}; fetch fresh collateral")]
    NotCurrent {
        /// Which document.
        what: &'static str,
        /// Verification time.
        at: String,
        /// issueDate.
        issue_date: String,
        /// nextUpdate.
        next_update: String,
    },
    /// A cached verification (PCK chain, collateral) is used outside the
    /// interval in which everything it checked holds.
    #[error("{what}: verified at {verified_at}, valid until {valid_until}, used at {at}; verify it again")]
    CacheNotCurrent {
        /// Which cached verification.
        what: &'static str,
        /// Time of use.
        at: String,
        /// When it was verified.
        verified_at: String,
        /// The earliest expiry among what it checked.
        valid_until: String,
    },
    /// A value of the quote or PCK certificate differs from the collateral.
    #[error("{check}: expected {expected}, got {got}")]
    Mismatch {
        /// Which check.
        check: &'static str,
        /// The collateral's (or reference) value.
        expected: String,
        /// The quote's value.
        got: String,
    },
    /// No TCB level matches: the TCB is not supported.
    #[error("TCB level not supported: no {what} level matches ({seen}); {lowest_required}")]
    NoMatchingTcbLevel {
        /// Platform (SGX / TDX), TDX module or QE.
        what: &'static str,
        /// The quote's / PCK's values.
        seen: String,
        /// What the lowest level requires.
        lowest_required: String,
    },
    /// The TCB status is not in the accepted list.
    #[error(
        "TCB status {status} is not accepted (accepted: {accepted}); advisories: {advisories}"
    )]
    StatusNotAccepted {
        /// The quote's status.
        status: TcbStatus,
        /// The accepted statuses.
        accepted: String,
        /// Its advisories.
        advisories: String,
    },
}

/// How errors name a cached PCK chain ([`VerifiedPck`]).
pub(crate) const CACHED_PCK: &str = "cached PCK chain";

/// A [`TdxError::Mismatch`].
pub(crate) fn mismatch(
    check: &'static str,
    expected: impl ToString,
    got: impl ToString,
) -> TdxError {
    TdxError::Mismatch {
        check,
        expected: expected.to_string(),
        got: got.to_string(),
    }
}

/// The stable check name an error is reported under (`tdx_quote`,
/// `tdx_signature`, `tdx_pck`, `tdx_collateral`, `tdx_crl`, `tdx_tcb`,
/// `tdx_qe_identity`, `tdx_module`), for the platform seam and the CLI.
pub fn check_name(e: &TdxError) -> &'static str {
    match e {
        TdxError::Format(_) | TdxError::Unsupported { .. } => "tdx_quote",
        TdxError::QuoteSignature { .. }
        | TdxError::QeReportSignature { .. }
        | TdxError::QeReportData { .. } => "tdx_signature",
        TdxError::Pck { .. }
        | TdxError::Chain { what: "PCK", .. }
        | TdxError::Mismatch {
            check: "PCK chain", ..
        }
        | TdxError::CacheNotCurrent {
            what: CACHED_PCK, ..
        } => "tdx_pck",
        TdxError::Crl(_) => "tdx_crl",
        TdxError::Mismatch { check, .. } if check.starts_with("QE ") => "tdx_qe_identity",
        TdxError::Mismatch { check, .. }
            if check.starts_with("TDX module")
                || check.starts_with("MRSIGNERSEAM")
                || check.starts_with("SEAMATTRIBUTES") =>
        {
            "tdx_module"
        }
        TdxError::NoMatchingTcbLevel { .. } | TdxError::StatusNotAccepted { .. } => "tdx_tcb",
        TdxError::Chain { .. }
        | TdxError::Collateral { .. }
        | TdxError::CollateralSignature { .. }
        | TdxError::NotCurrent { .. }
        | TdxError::CacheNotCurrent { .. }
        | TdxError::Mismatch { .. } => "tdx_collateral",
    }
}
