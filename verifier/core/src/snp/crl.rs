//! AMD's certificate revocation lists for SEV-SNP.
//!
//! AMD "VCEK Certificate and KDS Interface Specification" (publication
//! 57230), revision 0.50, §"KDS Interface": `/vcek/v1/<Product>/crl` and
//! `/vlek/v1/<Product>/crl` serve a DER X.509 v2 CRL (IETF RFC 5280 §5)
//! signed by the product's ARK with RSASSA-PSS. Its scope is what the ARK
//! issued, i.e. the ASK and the ASVK: a VCEK or VLEK is issued by those, and
//! every VCEK carries serial number 0, so revocation of an endorsement key is
//! expressed by revoking its intermediate.
//!
//! [`check_crl`] verifies the CRL's signature with the ARK, that it is current
//! at the verification time (thisUpdate ≤ time ≤ nextUpdate — a CRL without
//! nextUpdate, or past it, is refused: a stale list proves nothing), and
//! that the intermediate's serial number is not listed. Bytes and a time in;
//! fetching is the collateral fetcher's job.

use der::{Decode, Encode};
use thiserror::Error;
use x509_cert::crl::CertificateList;
use x509_cert::Certificate;

use crate::ekcert::cert::{fmt_time, raw_tbs};
use crate::ekcert::signature::{describe, verify, SigError};

/// Why a CRL check failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CrlError {
    /// The CRL or a certificate does not decode.
    #[error("SEV-SNP CRL: {what} does not decode: {reason}")]
    Malformed {
        /// Which input.
        what: &'static str,
        /// The decoder's reason.
        reason: String,
    },
    /// The CRL names another issuer than the ARK.
    #[error("SEV-SNP CRL: issued by {crl_issuer:?}, expected the ARK {ark:?}")]
    Issuer {
        /// The CRL's issuer.
        crl_issuer: String,
        /// The ARK's subject.
        ark: String,
    },
    /// The CRL's signature does not verify with the ARK.
    #[error("SEV-SNP CRL: signature ({alg}) does not verify with the ARK {ark:?}: {reason}")]
    Signature {
        /// Signature algorithm.
        alg: String,
        /// The ARK's subject.
        ark: String,
        /// Why.
        reason: String,
    },
    /// The CRL is not current at the verification time.
    #[error("SEV-SNP CRL: not current at {at}: thisUpdate {this_update}, nextUpdate {next_update}; fetch a fresh one")]
    NotCurrent {
        /// Verification time.
        at: String,
        /// thisUpdate.
        this_update: String,
        /// nextUpdate, or "absent".
        next_update: String,
    },
    /// The intermediate is revoked.
    #[error("SEV-SNP CRL: {subject:?} (serial {serial}) was revoked on {date}")]
    Revoked {
        /// Subject of the revoked certificate.
        subject: String,
        /// Its serial, hex.
        serial: String,
        /// revocationDate.
        date: String,
    },
}

/// A CRL that verified and did not list the intermediate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlStatus {
    /// thisUpdate (Unix seconds).
    pub this_update: u64,
    /// nextUpdate (Unix seconds).
    pub next_update: u64,
    /// Number of entries in the list.
    pub revoked_entries: usize,
}

fn malformed(what: &'static str) -> impl Fn(der::Error) -> CrlError {
    move |e| CrlError::Malformed {
        what,
        reason: e.to_string(),
    }
}

/// Checks `crl_der` against the ARK and the ASK/ASVK at `at_unix_secs`.
pub fn check_crl(
    crl_der: &[u8],
    ark_der: &[u8],
    intermediate_der: &[u8],
    at_unix_secs: u64,
) -> Result<CrlStatus, CrlError> {
    let crl = CertificateList::from_der(crl_der).map_err(malformed("CRL"))?;
    let ark = Certificate::from_der(ark_der).map_err(malformed("ARK"))?;
    let ica = Certificate::from_der(intermediate_der).map_err(malformed("ASK/ASVK"))?;
    let tbs = &crl.tbs_cert_list;

    let ark_subject = ark.tbs_certificate.subject.to_string();
    let same_issuer = tbs.issuer.to_der().map_err(malformed("CRL issuer"))?
        == ark
            .tbs_certificate
            .subject
            .to_der()
            .map_err(malformed("ARK subject"))?;
    if !same_issuer {
        return Err(CrlError::Issuer {
            crl_issuer: tbs.issuer.to_string(),
            ark: ark_subject,
        });
    }
    let raw = raw_tbs(crl_der).map_err(malformed("CRL"))?;
    let sig = crl
        .signature
        .as_bytes()
        .ok_or_else(|| CrlError::Malformed {
            what: "CRL",
            reason: "signatureValue has unused bits".into(),
        })?;
    if tbs.signature != crl.signature_algorithm {
        return Err(CrlError::Malformed {
            what: "CRL",
            reason: "the signature algorithms inside and outside tbsCertList differ".into(),
        });
    }
    let alg = describe(&crl.signature_algorithm);
    verify(
        &ark.tbs_certificate.subject_public_key_info,
        &crl.signature_algorithm,
        raw,
        sig,
    )
    .map_err(|e| CrlError::Signature {
        alg: alg.clone(),
        ark: ark_subject.clone(),
        reason: match e {
            SigError::Invalid => "the signature is wrong".into(),
            SigError::Unsupported(s) => format!("unsupported: {s}"),
            SigError::BadKey(s) => format!("unusable ARK key: {s}"),
        },
    })?;

    let this_update = tbs.this_update.to_unix_duration().as_secs();
    let next_update = tbs.next_update.map(|t| t.to_unix_duration().as_secs());
    let current = this_update <= at_unix_secs && next_update.is_some_and(|n| at_unix_secs <= n);
    let Some(next_update) = next_update.filter(|_| current) else {
        return Err(CrlError::NotCurrent {
            at: fmt_time(at_unix_secs),
            this_update: fmt_time(this_update),
            next_update: next_update.map_or_else(|| "absent".into(), fmt_time),
        });
    };

    let serial = &ica.tbs_certificate.serial_number;
    let revoked = tbs.revoked_certificates.as_deref().unwrap_or_default();
    if let Some(entry) = revoked.iter().find(|r| &r.serial_number == serial) {
        return Err(CrlError::Revoked {
            subject: ica.tbs_certificate.subject.to_string(),
            serial: hex::encode(serial.as_bytes()),
            date: fmt_time(entry.revocation_date.to_unix_duration().as_secs()),
        });
    }
    Ok(CrlStatus {
        this_update,
        next_update,
        revoked_entries: revoked.len(),
    })
}
