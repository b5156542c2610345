//! EK (and AK) certificate chains against TPM manufacturer CAs.
//!
//! A TPM's endorsement key certificate says "this key lives in a genuine TPM
//! made by X". [`verify_ek_cert_chain`] builds a path from the leaf through
//! untrusted intermediates to one of the configured [`TrustAnchors`] and checks
//! every link; [`ek_public_matches_cert`] then ties the certificate to the EK
//! public key the TPM reports. Bytes and a verification time (Unix seconds) go
//! in; nothing here reads a clock or a file.
//!
//! Specifications:
//!
//! * IETF RFC 5280 "Internet X.509 Public Key Infrastructure Certificate and
//!   CRL Profile" (May 2008): §4.1 certificate fields, §4.2.1.1/§4.2.1.2 key
//!   identifiers, §4.2.1.3 keyUsage, §4.2.1.6 subjectAltName, §4.2.1.8 subject
//!   directory attributes, §4.2.1.9 basicConstraints (cA, pathLenConstraint),
//!   §4.2.1.12 extKeyUsage, §6.1 path validation (signature, validity, issuer
//!   name chaining, CA checks, path length; unrecognised critical extensions
//!   are refused), §7.1 name comparison (binary equality first; as a fallback
//!   a case- and whitespace-insensitive comparison of the string forms, which
//!   only widens the candidate set — the issuer's signature is what binds).
//! * IETF RFC 8017 (PKCS #1 v2.2) §8.2 RSASSA-PKCS1-v1_5 with SHA-1/-256/-384/
//!   -512, §8.1 RSASSA-PSS (parameters per RFC 4055 §3.1); FIPS 186-4 ECDSA on
//!   P-256/P-384 with SHA-256/-384/-512 (RFC 5758 §3.2 identifiers).
//! * TCG "EK Credential Profile For TPM Family 2.0; Level 0", Version 2.5
//!   Revision 2, §3 (the X.509 EK certificate profile): an empty subject
//!   with a critical subjectAltName holding a directoryName with
//!   tcg-at-tpmManufacturer (2.23.133.2.1), tcg-at-tpmModel (2.23.133.2.2),
//!   tcg-at-tpmVersion (2.23.133.2.3); subjectDirectoryAttributes with
//!   tcg-at-tpmSpecification (2.23.133.2.16, TPMSpecification ::= SEQUENCE {
//!   family UTF8String, level INTEGER, revision INTEGER }); extKeyUsage
//!   tcg-kp-EKCertificate (2.23.133.8.1). AK certificates (tcg-kp-AIKCertificate
//!   2.23.133.8.3) are verified the same way.
//!
//! Limits: at most [`MAX_CHAIN_LEN`] certificates per path and
//! [`MAX_SIGNATURE_CHECKS`] signature verifications per call; loops are cut.
//! Trust anchors are certificates; their validity window, basicConstraints,
//! keyUsage and path length are enforced like an intermediate's (a v1 anchor
//! without extensions is accepted). Revocation is checked by the callers
//! with [`crl`] (RFC 5280 §5 CRLs).

pub(crate) mod cert;
pub mod crl;
mod error;
mod path;
pub(crate) mod signature;
mod tcg;

pub use error::EkCertError;
pub use tcg::{TpmIdentity, TpmSpecification};

use crate::credential::{EkCurve, EkKey, EkPublicKey};
use cert::ParsedCert;

/// Longest accepted path, leaf and trust anchor included.
pub const MAX_CHAIN_LEN: usize = 8;
/// Most signature verifications one path search may run.
pub const MAX_SIGNATURE_CHECKS: u32 = 64;

/// tcg-kp-EKCertificate (TCG EK Credential Profile §3).
pub const OID_TCG_KP_EK_CERTIFICATE: &str = "2.23.133.8.1";
/// tcg-kp-AIKCertificate (TCG object identifiers, tcg-kp 2.23.133.8).
pub const OID_TCG_KP_AIK_CERTIFICATE: &str = "2.23.133.8.3";

/// The public key of a verified EK/AK certificate, normalised: RSA modulus
/// without leading zero octets, ECC coordinates left-padded to the field size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EkCertKey {
    /// RSA (rsaEncryption, id-RSAES-OAEP or id-RSASSA-PSS key).
    Rsa {
        /// Modulus, big-endian, no leading zeros.
        n: Vec<u8>,
        /// Public exponent.
        e: u32,
    },
    /// ECC on a NIST curve (id-ecPublicKey with a named curve).
    Ecc {
        /// The curve.
        curve: EkCurve,
        /// x, big-endian, field size.
        x: Vec<u8>,
        /// y, big-endian, field size.
        y: Vec<u8>,
    },
}

/// keyUsage bits of the leaf (RFC 5280 §4.2.1.3); all false when absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyUsage {
    /// Whether the extension is present at all.
    pub present: bool,
    /// digitalSignature (AK certificates).
    pub digital_signature: bool,
    /// keyEncipherment (RSA EKs).
    pub key_encipherment: bool,
    /// keyAgreement (ECC EKs).
    pub key_agreement: bool,
    /// keyCertSign.
    pub key_cert_sign: bool,
}

/// A certificate that chained to a trust anchor at the verification time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEkCert {
    /// Subject, RFC 4514 string; empty for most EK certificates.
    pub subject: String,
    /// Issuer, RFC 4514 string.
    pub issuer: String,
    /// Serial number octets as encoded.
    pub serial: Vec<u8>,
    /// notBefore, Unix seconds.
    pub not_before: u64,
    /// notAfter, Unix seconds.
    pub not_after: u64,
    /// The certified public key.
    pub public_key: EkCertKey,
    /// Subjects from the leaf (first) to the trust anchor (last).
    pub chain: Vec<String>,
    /// TCG TPM identity from the subjectAltName, when present.
    pub tpm: Option<TpmIdentity>,
    /// TCG TPM specification from subjectDirectoryAttributes, when present.
    pub tpm_spec: Option<TpmSpecification>,
    /// The leaf's keyUsage.
    pub key_usage: KeyUsage,
    /// The leaf's extKeyUsage OIDs, dotted.
    pub ext_key_usage: Vec<String>,
    /// SHA-256 of the leaf DER.
    pub fingerprint_sha256: [u8; 32],
}

impl VerifiedEkCert {
    /// True when extKeyUsage names tcg-kp-EKCertificate.
    pub fn is_ek_certificate(&self) -> bool {
        self.ext_key_usage
            .iter()
            .any(|o| o == OID_TCG_KP_EK_CERTIFICATE)
    }
}

/// Parsed trust anchors (the configured TPM manufacturer CA certificates).
#[derive(Debug, Clone, Default)]
pub struct TrustAnchors {
    certs: Vec<ParsedCert>,
}

impl TrustAnchors {
    /// Parses DER certificates; a malformed one is reported by its position.
    pub fn from_der<I, B>(ders: I) -> Result<Self, EkCertError>
    where
        I: IntoIterator<Item = B>,
        B: AsRef<[u8]>,
    {
        let certs = ders
            .into_iter()
            .enumerate()
            .map(|(i, d)| ParsedCert::parse(d.as_ref(), &format!("trust anchor #{i}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { certs })
    }

    /// Number of anchors.
    pub fn len(&self) -> usize {
        self.certs.len()
    }

    /// True when no anchor is configured.
    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }

    /// The anchors' subjects, for logs.
    pub fn subjects(&self) -> Vec<String> {
        self.certs.iter().map(|c| c.subject.clone()).collect()
    }
}

/// Verifies the EK/AK certificate `leaf_der` at `at_unix_secs`: builds a
/// path through `intermediates` (untrusted) to one of `anchors` and checks
/// every signature, validity window, CA constraint and critical extension.
pub fn verify_ek_cert_chain(
    leaf_der: &[u8],
    intermediates: &[&[u8]],
    anchors: &TrustAnchors,
    at_unix_secs: u64,
) -> Result<VerifiedEkCert, EkCertError> {
    let leaf = ParsedCert::parse(leaf_der, "leaf certificate")?;
    let pool = intermediates
        .iter()
        .enumerate()
        .map(|(i, d)| ParsedCert::parse(d, &format!("intermediate #{i}")))
        .collect::<Result<Vec<_>, _>>()?;
    leaf.check_as_leaf(at_unix_secs)?;
    let chain = path::PathBuilder::new(&pool, &anchors.certs, at_unix_secs).build(&leaf)?;
    let public_key = leaf.leaf_key()?;
    Ok(VerifiedEkCert {
        subject: leaf.subject.clone(),
        issuer: leaf.issuer.clone(),
        serial: leaf.serial.clone(),
        not_before: leaf.not_before,
        not_after: leaf.not_after,
        public_key,
        chain: chain.iter().map(|c| c.subject.clone()).collect(),
        tpm: leaf.tpm.clone(),
        tpm_spec: leaf.tpm_spec.clone(),
        key_usage: leaf.key_usage_summary(),
        ext_key_usage: leaf.ext_key_usage.iter().map(|o| o.to_string()).collect(),
        fingerprint_sha256: leaf.fingerprint_sha256(),
    })
}

/// Checks that the certified key is the TPM's EK: same RSA modulus and
/// exponent (TPM exponent 0 = 65537), or same curve and point (leading zero
/// octets ignored on both sides).
pub fn ek_public_matches_cert(cert_key: &EkCertKey, ek: &EkPublicKey) -> Result<(), EkCertError> {
    let mismatch = |field: &'static str, cert: String, tpm: String| EkCertError::KeyMismatch {
        field,
        cert,
        tpm,
    };
    match (cert_key, &ek.key) {
        (EkCertKey::Rsa { n: cn, e: ce }, EkKey::Rsa { n: tn, e: te }) => {
            let te = if *te == 0 { 65_537 } else { *te };
            if strip_zeros(cn) != strip_zeros(tn) {
                return Err(mismatch("RSA modulus", short_hex(cn), short_hex(tn)));
            }
            if *ce != te {
                return Err(mismatch("RSA exponent", ce.to_string(), te.to_string()));
            }
            Ok(())
        }
        (
            EkCertKey::Ecc {
                curve: cc,
                x: cx,
                y: cy,
            },
            EkKey::Ecc {
                curve: tc,
                x: tx,
                y: ty,
            },
        ) => {
            if cc != tc {
                return Err(mismatch("ECC curve", cc.to_string(), tc.to_string()));
            }
            if strip_zeros(cx) != strip_zeros(tx) {
                return Err(mismatch("ECC x", short_hex(cx), short_hex(tx)));
            }
            if strip_zeros(cy) != strip_zeros(ty) {
                return Err(mismatch("ECC y", short_hex(cy), short_hex(ty)));
            }
            Ok(())
        }
        (c, t) => Err(mismatch("key type", cert_key_kind(c), ek_key_kind(t))),
    }
}

fn cert_key_kind(k: &EkCertKey) -> String {
    match k {
        EkCertKey::Rsa { n, .. } => format!("RSA-{}", strip_zeros(n).len() * 8),
        EkCertKey::Ecc { curve, .. } => format!("ECC {curve}"),
    }
}

fn ek_key_kind(k: &EkKey) -> String {
    match k {
        EkKey::Rsa { n, .. } => format!("RSA-{}", strip_zeros(n).len() * 8),
        EkKey::Ecc { curve, .. } => format!("ECC {curve}"),
    }
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let first = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    b.get(first..).unwrap_or_default()
}

/// `0123abcd…(256 bytes)`.
fn short_hex(b: &[u8]) -> String {
    let b = strip_zeros(b);
    let head: Vec<u8> = b.iter().take(8).copied().collect();
    if b.len() > 8 {
        format!("{}…({} bytes)", hex::encode(head), b.len())
    } else {
        hex::encode(head)
    }
}
