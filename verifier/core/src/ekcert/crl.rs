//! X.509 v2 certificate revocation lists (IETF RFC 5280 §5): signature by
//! the issuing CA, currency at the verification time, and look-up of a
//! certificate's serial number. One implementation for every CRL the
//! verifier reads (AMD's ARK-signed SEV-SNP CRLs, Intel's root CA and PCK
//! CRLs); each caller names its list in the `scope` of the errors.
//!
//! A CRL is current when thisUpdate ≤ time ≤ nextUpdate; one without
//! nextUpdate, or past it, is refused: a stale list proves nothing.

use der::{Decode, Encode};
use thiserror::Error;
use x509_cert::crl::CertificateList;
use x509_cert::Certificate;

use super::cert::{fmt_time, raw_tbs};
use super::signature::{describe, verify, SigError};

/// Why a CRL check failed; `scope` names the list ("SEV-SNP CRL",
/// "Intel PCK CRL", …).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CrlError {
    /// The CRL or a certificate does not decode.
    #[error("{scope}: {what} does not decode: {reason}")]
    Malformed {
        /// Which list.
        scope: &'static str,
        /// Which input.
        what: &'static str,
        /// The decoder's reason.
        reason: String,
    },
    /// The CRL names another issuer than the expected CA.
    #[error("{scope}: issued by {crl_issuer:?}, expected its CA {expected:?}")]
    Issuer {
        /// Which list.
        scope: &'static str,
        /// The CRL's issuer.
        crl_issuer: String,
        /// The expected issuer's subject.
        expected: String,
    },
    /// The CRL's signature does not verify with the issuer's key.
    #[error("{scope}: signature ({alg}) does not verify with the key of {issuer:?}: {reason}")]
    Signature {
        /// Which list.
        scope: &'static str,
        /// Signature algorithm.
        alg: String,
        /// The issuer's subject.
        issuer: String,
        /// Why.
        reason: String,
    },
    /// The CRL is not current at the verification time.
    #[error("{scope}: not current at {at}: thisUpdate {this_update}, nextUpdate {next_update}; fetch a fresh one")]
    NotCurrent {
        /// Which list.
        scope: &'static str,
        /// Verification time.
        at: String,
        /// thisUpdate.
        this_update: String,
        /// nextUpdate, or "absent".
        next_update: String,
    },
    /// A certificate is listed as revoked.
    #[error("{scope}: {subject:?} (serial {serial}) was revoked on {date}")]
    Revoked {
        /// Which list.
        scope: &'static str,
        /// Subject of the revoked certificate.
        subject: String,
        /// Its serial, hex.
        serial: String,
        /// revocationDate.
        date: String,
    },
}

/// A CRL whose signature verified and that is current.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCrl {
    scope: &'static str,
    /// The issuer's subject.
    pub issuer: String,
    /// thisUpdate (Unix seconds).
    pub this_update: u64,
    /// nextUpdate (Unix seconds).
    pub next_update: u64,
    /// (serial octets, revocationDate) of every entry.
    pub revoked: Vec<(Vec<u8>, u64)>,
}

impl VerifiedCrl {
    /// Refuses the DER certificate `cert_der` when the list names its serial.
    pub fn check_not_revoked(&self, cert_der: &[u8]) -> Result<(), CrlError> {
        let cert = Certificate::from_der(cert_der).map_err(|e| CrlError::Malformed {
            scope: self.scope,
            what: "certificate",
            reason: e.to_string(),
        })?;
        let serial = cert.tbs_certificate.serial_number.as_bytes();
        match self.revoked.iter().find(|(s, _)| s == serial) {
            Some((_, date)) => Err(CrlError::Revoked {
                scope: self.scope,
                subject: cert.tbs_certificate.subject.to_string(),
                serial: hex::encode(serial),
                date: fmt_time(*date),
            }),
            None => Ok(()),
        }
    }
}

/// Verifies `crl_der`: issued (by name) and signed by `issuer_der`, current
/// at `at_unix_secs`.
pub fn verify_crl(
    crl_der: &[u8],
    issuer_der: &[u8],
    at_unix_secs: u64,
    scope: &'static str,
) -> Result<VerifiedCrl, CrlError> {
    verify_crl_signature(crl_der, issuer_der, scope)?.current_at(at_unix_secs)
}

/// A CRL whose issuer and signature verified: what [`verify_crl`]
/// establishes before it looks at the time (a cache may keep it, keyed by
/// the bytes it came from).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCrl {
    scope: &'static str,
    issuer: String,
    this_update: u64,
    next_update: Option<u64>,
    revoked: Vec<(Vec<u8>, u64)>,
}

impl SignedCrl {
    /// The list, when current at `at_unix_secs` (the rest of [`verify_crl`]).
    pub fn current_at(&self, at_unix_secs: u64) -> Result<VerifiedCrl, CrlError> {
        let (scope, this_update) = (self.scope, self.this_update);
        let current =
            this_update <= at_unix_secs && self.next_update.is_some_and(|n| at_unix_secs <= n);
        let Some(next_update) = self.next_update.filter(|_| current) else {
            return Err(CrlError::NotCurrent {
                scope,
                at: fmt_time(at_unix_secs),
                this_update: fmt_time(this_update),
                next_update: self.next_update.map_or_else(|| "absent".into(), fmt_time),
            });
        };
        Ok(VerifiedCrl {
            scope,
            issuer: self.issuer.clone(),
            this_update,
            next_update,
            revoked: self.revoked.clone(),
        })
    }
}

/// The time-independent part of [`verify_crl`]: `crl_der` decodes, names
/// `issuer_der`'s subject as its issuer and is signed with its key.
pub fn verify_crl_signature(
    crl_der: &[u8],
    issuer_der: &[u8],
    scope: &'static str,
) -> Result<SignedCrl, CrlError> {
    let malformed = |what: &'static str| {
        move |e: der::Error| CrlError::Malformed {
            scope,
            what,
            reason: e.to_string(),
        }
    };
    let crl = CertificateList::from_der(crl_der).map_err(malformed("CRL"))?;
    let issuer = Certificate::from_der(issuer_der).map_err(malformed("issuer certificate"))?;
    let tbs = &crl.tbs_cert_list;
    let issuer_subject = issuer.tbs_certificate.subject.to_string();
    if tbs.issuer.to_der().map_err(malformed("CRL issuer"))?
        != issuer
            .tbs_certificate
            .subject
            .to_der()
            .map_err(malformed("issuer subject"))?
    {
        return Err(CrlError::Issuer {
            scope,
            crl_issuer: tbs.issuer.to_string(),
            expected: issuer_subject,
        });
    }
    let raw = raw_tbs(crl_der).map_err(malformed("CRL"))?;
    let sig = crl.signature.as_bytes().ok_or(CrlError::Malformed {
        scope,
        what: "CRL",
        reason: "signatureValue has unused bits".into(),
    })?;
    if tbs.signature != crl.signature_algorithm {
        return Err(CrlError::Malformed {
            scope,
            what: "CRL",
            reason: "the signature algorithms inside and outside tbsCertList differ".into(),
        });
    }
    verify(
        &issuer.tbs_certificate.subject_public_key_info,
        &crl.signature_algorithm,
        raw,
        sig,
    )
    .map_err(|e| CrlError::Signature {
        scope,
        alg: describe(&crl.signature_algorithm),
        issuer: issuer_subject.clone(),
        reason: match e {
            SigError::Invalid => "the signature is wrong".into(),
            SigError::Unsupported(s) => format!("unsupported: {s}"),
            SigError::BadKey(s) => format!("unusable issuer key: {s}"),
        },
    })?;

    let revoked = tbs
        .revoked_certificates
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|r| {
            (
                r.serial_number.as_bytes().to_vec(),
                r.revocation_date.to_unix_duration().as_secs(),
            )
        })
        .collect();
    Ok(SignedCrl {
        scope,
        issuer: issuer_subject,
        this_update: tbs.this_update.to_unix_duration().as_secs(),
        next_update: tbs.next_update.map(|t| t.to_unix_duration().as_secs()),
        revoked,
    })
}
