//! Registration checks, pure: the EK (certificate chain or allowlisted Name),
//! the EK public area matching its certificate, and the AK's attributes.
//! The result carries what MakeCredential needs.

use crate::credential::{EkCurve, EkKey, EkPublicKey};
use crate::ekcert;
use crate::quote::check_ak_attributes;
use sealbuild_common::tpm::{EccCurve, Public, PublicKey, SymDefObject};
use thiserror::Error;

/// Why a registration was refused.
#[derive(Debug, Error)]
pub enum RegistrationError {
    /// The EK public area does not parse.
    #[error("EK public area (TPM2B_PUBLIC): {0}")]
    EkPublic(sealbuild_common::FormatError),
    /// The AK public area does not parse.
    #[error("AK public area (TPM2B_PUBLIC): {0}")]
    AkPublic(sealbuild_common::FormatError),
    /// The EK cannot be used for MakeCredential.
    #[error("EK is not a storage/decrypt key usable for MakeCredential: {0}")]
    EkUnusable(String),
    /// The EK certificate was refused.
    #[error("EK certificate: {0}")]
    EkCertificate(String),
    /// No certificate and the EK is not allowlisted.
    #[error("no EK certificate, and EK Name {0} is not in allowed_ek_names")]
    EkNotAllowed(String),
    /// The AK is not an attestation key.
    #[error("AK: {0}")]
    Ak(crate::quote::QuoteError),
}

/// Inputs of a registration.
#[derive(Debug, Clone)]
pub struct RegistrationInput<'a> {
    /// TPM2B_PUBLIC of the EK.
    pub ek_public: &'a [u8],
    /// DER EK certificate.
    pub ek_certificate: Option<&'a [u8]>,
    /// Untrusted intermediates from the agent.
    pub ek_intermediates: &'a [Vec<u8>],
    /// Configured TPM manufacturer CAs (roots and intermediates, DER).
    pub anchors: &'a [Vec<u8>],
    /// EK Names accepted without certificate.
    pub allowed_ek_names: &'a [Vec<u8>],
    /// TPM2B_PUBLIC of the AK.
    pub ak_public: &'a [u8],
    /// Verification time, Unix seconds.
    pub now: u64,
}

/// A registration that passed.
#[derive(Debug, Clone)]
pub struct CheckedRegistration {
    /// The EK as MakeCredential needs it.
    pub ek_key: EkPublicKey,
    /// The AK's Name.
    pub ak_name: Vec<u8>,
    /// SHA-256 (hex) of the trust anchor the EK certificate chained to.
    pub ek_root_fingerprint: Option<String>,
    /// Its subject.
    pub ek_root_subject: Option<String>,
}

impl CheckedRegistration {
    /// The anchor as stored with the agent: `sha256:<hex> <subject>`.
    pub fn ek_root_record(&self) -> Option<String> {
        match (&self.ek_root_fingerprint, &self.ek_root_subject) {
            (Some(fp), Some(s)) => Some(format!("sha256:{fp} {s}")),
            (Some(fp), None) => Some(format!("sha256:{fp} (unnamed)")),
            _ => None,
        }
    }
}

/// Converts a parsed EK public area into MakeCredential's input.
pub fn ek_public_key(ek: &Public) -> Result<EkPublicKey, RegistrationError> {
    let sym_key_bits = match ek.symmetric() {
        SymDefObject::AesCfb { key_bits } => key_bits,
        SymDefObject::Null => {
            return Err(RegistrationError::EkUnusable(
                "no symmetric algorithm (a storage EK has AES-CFB)".into(),
            ))
        }
    };
    if !ek.attributes().decrypt() || !ek.attributes().restricted() {
        return Err(RegistrationError::EkUnusable(
            "EK must be a restricted decryption key".into(),
        ));
    }
    let key = match ek.public_key().map_err(RegistrationError::EkPublic)? {
        PublicKey::Rsa { modulus, exponent } => EkKey::Rsa {
            n: modulus,
            e: exponent,
        },
        PublicKey::Ecc { curve, x, y } => EkKey::Ecc {
            curve: match curve {
                EccCurve::NistP256 => EkCurve::P256,
                EccCurve::NistP384 => EkCurve::P384,
                other => {
                    return Err(RegistrationError::EkUnusable(format!(
                        "curve {} is not supported",
                        other.name()
                    )))
                }
            },
            x,
            y,
        },
    };
    Ok(EkPublicKey {
        name_alg: ek.name_alg(),
        sym_key_bits,
        key,
    })
}

/// Runs every registration check.
pub fn check_registration(
    input: &RegistrationInput<'_>,
) -> Result<CheckedRegistration, RegistrationError> {
    let ek = Public::parse_tpm2b(input.ek_public).map_err(RegistrationError::EkPublic)?;
    let ak = Public::parse_tpm2b(input.ak_public).map_err(RegistrationError::AkPublic)?;
    check_ak_attributes(&ak).map_err(RegistrationError::Ak)?;
    let ek_key = ek_public_key(&ek)?;
    let (ek_root_fingerprint, ek_root_subject) = match input.ek_certificate {
        Some(cert) => {
            let anchors = ekcert::TrustAnchors::from_der(input.anchors)
                .map_err(|e| RegistrationError::EkCertificate(e.to_string()))?;
            let intermediates: Vec<&[u8]> = input
                .ek_intermediates
                .iter()
                .map(|d| d.as_slice())
                .collect();
            let verified = ekcert::verify_ek_cert_chain(cert, &intermediates, &anchors, input.now)
                .map_err(|e| RegistrationError::EkCertificate(e.to_string()))?;
            ekcert::ek_public_matches_cert(&verified.public_key, &ek_key)
                .map_err(|e| RegistrationError::EkCertificate(e.to_string()))?;
            // The anchor is the last subject of the chain; its fingerprint
            // identifies it in policies (first configured anchor with that
            // subject).
            let anchor_subject = verified.chain.last().cloned();
            let fingerprint = anchor_subject.as_ref().and_then(|subject| {
                anchors
                    .subjects()
                    .iter()
                    .position(|s| s == subject)
                    .and_then(|i| input.anchors.get(i))
                    .map(|der| hex::encode(sealbuild_common::crypto::sha256(der)))
            });
            (fingerprint, anchor_subject)
        }
        None => {
            let name = ek.name();
            if !input.allowed_ek_names.iter().any(|n| n == &name) {
                return Err(RegistrationError::EkNotAllowed(hex::encode(name)));
            }
            (None, None)
        }
    };
    Ok(CheckedRegistration {
        ek_key,
        ak_name: ak.name(),
        ek_root_fingerprint,
        ek_root_subject,
    })
}
