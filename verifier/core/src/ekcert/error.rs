//! Why an EK/AK certificate chain was refused.

use thiserror::Error;

/// Every way EK certificate verification can fail, by cause. `cert` fields
/// name the certificate by its quoted RFC 4514 subject, or, when the subject
/// is empty (as on most EK certificates), by its serial number; times are
/// RFC 3339 UTC.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EkCertError {
    // --- encoding ---
    /// Not a DER X.509 certificate.
    #[error("{what}: not a DER-encoded X.509 certificate: {reason}")]
    Malformed {
        /// Which input ("leaf certificate", "intermediate #1", "trust anchor #0").
        what: String,
        /// The decoder's reason.
        reason: String,
    },
    /// A certificate field or extension that is malformed or inconsistent.
    #[error("certificate {cert}: {field}: {reason}")]
    BadField {
        /// The certificate.
        cert: String,
        /// Field or extension (with OID).
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// Not an X.509 v3 certificate where one is required.
    #[error("certificate {cert} is X.509 version {version}; version 3 is required")]
    Version {
        /// The certificate.
        cert: String,
        /// Its version (1, 2).
        version: u8,
    },

    // --- time ---
    /// Verification time before notBefore.
    #[error("certificate {cert} is not valid before {not_before}; verification time {time}")]
    NotYetValid {
        /// The certificate.
        cert: String,
        /// Its notBefore.
        not_before: String,
        /// The verification time.
        time: String,
    },
    /// Verification time after notAfter.
    #[error("certificate {cert} expired at {not_after}; verification time {time}")]
    Expired {
        /// The certificate.
        cert: String,
        /// Its notAfter.
        not_after: String,
        /// The verification time.
        time: String,
    },

    // --- path ---
    /// No anchor or intermediate has the issuer's name (and key id).
    #[error(
        "no trust anchor for issuer {issuer} of certificate {cert}{}: none of the {anchors} trust \
         anchor(s) and {intermediates} intermediate(s) has that subject",
        key_id.as_ref().map(|k| format!(" (authority key id {k})")).unwrap_or_default()
    )]
    NoIssuer {
        /// The certificate whose issuer is missing.
        cert: String,
        /// The issuer name sought.
        issuer: String,
        /// The authorityKeyIdentifier sought, hex.
        key_id: Option<String>,
        /// How many anchors were configured.
        anchors: usize,
        /// How many intermediates were given.
        intermediates: usize,
    },
    /// The issuer's signature over the certificate does not verify.
    #[error("signature by {issuer} on certificate {cert} does not verify ({algorithm})")]
    BadSignature {
        /// The signed certificate.
        cert: String,
        /// The issuer whose key was used.
        issuer: String,
        /// The signature algorithm.
        algorithm: String,
    },
    /// A signature algorithm or issuer key this verifier does not support.
    #[error("certificate {cert}: unsupported signature algorithm: {algorithm}")]
    UnsupportedAlgorithm {
        /// The certificate.
        cert: String,
        /// What was found.
        algorithm: String,
    },
    /// The certified (or issuer) public key is unsupported or invalid.
    #[error("certificate {cert}: unsupported or invalid public key: {reason}")]
    UnsupportedKey {
        /// The certificate.
        cert: String,
        /// What is wrong.
        reason: String,
    },
    /// A certificate used as issuer is not allowed to issue certificates.
    #[error("{role} {cert} cannot issue certificates: {reason}")]
    NotCa {
        /// "intermediate" or "trust anchor".
        role: &'static str,
        /// The certificate.
        cert: String,
        /// Which constraint failed.
        reason: String,
    },
    /// The leaf is a CA certificate.
    #[error(
        "leaf certificate {cert} is a CA certificate (basicConstraints cA=true); an EK or AK \
         certificate must be an end entity"
    )]
    LeafIsCa {
        /// The leaf.
        cert: String,
    },
    /// A CA's pathLenConstraint is exceeded.
    #[error(
        "certificate {cert}: path length constraint {limit} exceeded: {below} intermediate CA \
         certificate(s) below it"
    )]
    PathLength {
        /// The constrained CA.
        cert: String,
        /// Its pathLenConstraint.
        limit: u8,
        /// Non-self-issued intermediates between it and the leaf.
        below: usize,
    },
    /// A critical extension this verifier does not process.
    #[error("certificate {cert}: unsupported critical extension {oid}{}", name.map(|n| format!(" ({n})")).unwrap_or_default())]
    UnknownCriticalExtension {
        /// The certificate.
        cert: String,
        /// The extension OID.
        oid: String,
        /// Its name when known.
        name: Option<&'static str>,
    },
    /// The path grew past [`super::MAX_CHAIN_LEN`] certificates.
    #[error("certificate chain through {cert} exceeds {max} certificates without reaching a trust anchor")]
    ChainTooLong {
        /// The certificate at the limit.
        cert: String,
        /// The limit.
        max: usize,
    },
    /// Path building exceeded [`super::MAX_SIGNATURE_CHECKS`].
    #[error("path building gave up after {0} signature checks (too many candidate issuers)")]
    TooManyCandidates(u32),

    // --- key binding ---
    /// The certified key is not the TPM's EK.
    #[error("EK public key does not match the certificate: {field}: certificate has {cert}, TPM has {tpm}")]
    KeyMismatch {
        /// Which part differs.
        field: &'static str,
        /// The certificate's value.
        cert: String,
        /// The TPM's value.
        tpm: String,
    },
}
