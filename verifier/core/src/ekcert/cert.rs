//! One certificate, decoded once: names, validity, the extensions path
//! validation needs (RFC 5280 §4.2), the raw TBSCertificate octets that were
//! signed, and the TCG attributes of EK certificates.

use super::signature::{decode_spki, SpkiKey};
use super::tcg::{self, TpmIdentity, TpmSpecification};
use super::{EkCertError, EkCertKey, KeyUsage};
use crate::credential::EkCurve;
use const_oid::{AssociatedOid, ObjectIdentifier};
use der::{Decode, Encode, Reader, SliceReader};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use std::time::Duration;
use x509_cert::certificate::Version;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage as X509KeyUsage,
    SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::name::Name;
use x509_cert::Certificate;

/// subjectDirectoryAttributes (RFC 5280 §4.2.1.8).
pub(super) const OID_SUBJECT_DIRECTORY_ATTRIBUTES: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.5.29.9");

/// Critical extensions processed on a leaf (the ones EK/AK certificates
/// carry): basicConstraints, keyUsage, extKeyUsage, subjectAltName (critical
/// when the subject is empty, TCG EK profile), subjectDirectoryAttributes,
/// and the key identifiers.
const LEAF_CRITICAL_OK: [ObjectIdentifier; 7] = [
    BasicConstraints::OID,
    X509KeyUsage::OID,
    ExtendedKeyUsage::OID,
    SubjectAltName::OID,
    OID_SUBJECT_DIRECTORY_ATTRIBUTES,
    AuthorityKeyIdentifier::OID,
    SubjectKeyIdentifier::OID,
];

/// Critical extensions processed on a CA certificate. nameConstraints,
/// policyConstraints, inhibitAnyPolicy and critical certificatePolicies are
/// not enforced here and so are refused when critical.
const CA_CRITICAL_OK: [ObjectIdentifier; 6] = [
    BasicConstraints::OID,
    X509KeyUsage::OID,
    ExtendedKeyUsage::OID,
    SubjectAltName::OID,
    AuthorityKeyIdentifier::OID,
    SubjectKeyIdentifier::OID,
];

/// A decoded certificate.
#[derive(Debug, Clone)]
pub(crate) struct ParsedCert {
    pub der: Vec<u8>,
    /// The TBSCertificate TLV exactly as it appears in `der`.
    pub tbs: Vec<u8>,
    pub subject_der: Vec<u8>,
    pub issuer_der: Vec<u8>,
    pub subject: String,
    pub issuer: String,
    subject_norm: String,
    issuer_norm: String,
    /// How messages name this certificate.
    pub label: String,
    pub version: u8,
    pub serial: Vec<u8>,
    pub not_before: u64,
    pub not_after: u64,
    pub sig_alg: AlgorithmIdentifierOwned,
    pub signature: Vec<u8>,
    pub spki: SubjectPublicKeyInfoOwned,
    pub basic_constraints: Option<BasicConstraints>,
    pub key_usage: Option<X509KeyUsage>,
    pub ext_key_usage: Vec<ObjectIdentifier>,
    pub skid: Option<Vec<u8>>,
    pub akid: Option<Vec<u8>>,
    pub tpm: Option<TpmIdentity>,
    pub tpm_spec: Option<TpmSpecification>,
    critical: Vec<ObjectIdentifier>,
}

/// RFC 3339 UTC for messages.
pub(crate) fn fmt_time(secs: u64) -> String {
    match der::DateTime::from_unix_duration(Duration::from_secs(secs)) {
        Ok(t) => t.to_string(),
        Err(_) => format!("{secs} seconds after 1970-01-01T00:00:00Z"),
    }
}

fn normalize(name: &Name) -> String {
    name.to_string()
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The TBSCertificate TLV of a Certificate SEQUENCE, as signed.
pub(crate) fn raw_tbs(der: &[u8]) -> der::Result<&[u8]> {
    let mut r = SliceReader::new(der)?;
    let tbs = r.sequence(|seq| {
        let tbs = seq.tlv_bytes()?;
        seq.tlv_bytes()?; // signatureAlgorithm
        seq.tlv_bytes()?; // signatureValue
        Ok(tbs)
    })?;
    r.finish(tbs)
}

impl ParsedCert {
    /// Decodes `der`; `what` names the input in errors.
    pub fn parse(der: &[u8], what: &str) -> Result<Self, EkCertError> {
        let malformed = |e: der::Error| EkCertError::Malformed {
            what: what.to_string(),
            reason: e.to_string(),
        };
        let cert = Certificate::from_der(der).map_err(malformed)?;
        let tbs_bytes = raw_tbs(der).map_err(malformed)?;
        let tbs = &cert.tbs_certificate;
        let subject = tbs.subject.to_string();
        let serial = tbs.serial_number.as_bytes().to_vec();
        let label = if tbs.subject.0.is_empty() {
            format!("(empty subject, serial {})", hex::encode(&serial))
        } else {
            format!("'{subject}'")
        };
        let bad = |field: &str, reason: String| EkCertError::BadField {
            cert: label.clone(),
            field: field.to_string(),
            reason,
        };
        if tbs.signature != cert.signature_algorithm {
            return Err(bad(
                "signature algorithm",
                format!(
                    "TBSCertificate.signature {} differs from signatureAlgorithm {}",
                    tbs.signature.oid, cert.signature_algorithm.oid
                ),
            ));
        }
        let signature = cert
            .signature
            .as_bytes()
            .ok_or_else(|| bad("signatureValue", "BIT STRING has unused bits".to_string()))?
            .to_vec();
        let version = match tbs.version {
            Version::V1 => 1,
            Version::V2 => 2,
            Version::V3 => 3,
        };
        let subject_der = tbs.subject.to_der().map_err(malformed)?;
        let issuer_der = tbs.issuer.to_der().map_err(malformed)?;
        let mut parsed = Self {
            der: der.to_vec(),
            tbs: tbs_bytes.to_vec(),
            subject_norm: normalize(&tbs.subject),
            issuer_norm: normalize(&tbs.issuer),
            subject,
            issuer: tbs.issuer.to_string(),
            subject_der,
            issuer_der,
            label: label.clone(),
            version,
            serial,
            not_before: tbs.validity.not_before.to_unix_duration().as_secs(),
            not_after: tbs.validity.not_after.to_unix_duration().as_secs(),
            sig_alg: cert.signature_algorithm.clone(),
            signature,
            spki: tbs.subject_public_key_info.clone(),
            basic_constraints: None,
            key_usage: None,
            ext_key_usage: Vec::new(),
            skid: None,
            akid: None,
            tpm: None,
            tpm_spec: None,
            critical: Vec::new(),
        };
        parsed.read_extensions(&cert)?;
        Ok(parsed)
    }

    fn read_extensions(&mut self, cert: &Certificate) -> Result<(), EkCertError> {
        let Some(exts) = &cert.tbs_certificate.extensions else {
            return Ok(());
        };
        let mut seen: Vec<ObjectIdentifier> = Vec::new();
        for ext in exts {
            let oid = ext.extn_id;
            let field = format!("extension {} ({oid})", ext_name(&oid).unwrap_or("unknown"));
            if seen.contains(&oid) {
                return Err(self.bad(&field, "appears more than once (RFC 5280 §4.2)".to_string()));
            }
            seen.push(oid);
            if ext.critical {
                self.critical.push(oid);
            }
            let value = ext.extn_value.as_bytes();
            let err = |e: String| self.bad(&field, e);
            if oid == BasicConstraints::OID {
                self.basic_constraints =
                    Some(BasicConstraints::from_der(value).map_err(|e| err(e.to_string()))?);
            } else if oid == X509KeyUsage::OID {
                self.key_usage =
                    Some(X509KeyUsage::from_der(value).map_err(|e| err(e.to_string()))?);
            } else if oid == ExtendedKeyUsage::OID {
                self.ext_key_usage = ExtendedKeyUsage::from_der(value)
                    .map_err(|e| err(e.to_string()))?
                    .0;
            } else if oid == SubjectKeyIdentifier::OID {
                let skid = SubjectKeyIdentifier::from_der(value).map_err(|e| err(e.to_string()))?;
                self.skid = Some(skid.0.as_bytes().to_vec());
            } else if oid == AuthorityKeyIdentifier::OID {
                let akid =
                    AuthorityKeyIdentifier::from_der(value).map_err(|e| err(e.to_string()))?;
                self.akid = akid.key_identifier.map(|k| k.as_bytes().to_vec());
            } else if oid == SubjectAltName::OID {
                self.tpm = tcg::parse_san(value).map_err(err)?;
            } else if oid == OID_SUBJECT_DIRECTORY_ATTRIBUTES {
                self.tpm_spec = tcg::parse_sda(value).map_err(err)?;
            }
        }
        Ok(())
    }

    fn bad(&self, field: &str, reason: String) -> EkCertError {
        EkCertError::BadField {
            cert: self.label.clone(),
            field: field.to_string(),
            reason,
        }
    }

    /// notBefore ≤ time ≤ notAfter (RFC 5280 §4.1.2.5: both inclusive).
    pub fn check_validity(&self, time: u64) -> Result<(), EkCertError> {
        if time < self.not_before {
            return Err(EkCertError::NotYetValid {
                cert: self.label.clone(),
                not_before: fmt_time(self.not_before),
                time: fmt_time(time),
            });
        }
        if time > self.not_after {
            return Err(EkCertError::Expired {
                cert: self.label.clone(),
                not_after: fmt_time(self.not_after),
                time: fmt_time(time),
            });
        }
        Ok(())
    }

    /// Refuses critical extensions outside `allowed`.
    fn check_critical(&self, allowed: &[ObjectIdentifier]) -> Result<(), EkCertError> {
        match self.critical.iter().find(|o| !allowed.contains(o)) {
            Some(oid) => Err(EkCertError::UnknownCriticalExtension {
                cert: self.label.clone(),
                oid: oid.to_string(),
                name: ext_name(oid),
            }),
            None => Ok(()),
        }
    }

    /// The leaf's own checks: v3, validity, end entity, critical extensions.
    pub fn check_as_leaf(&self, time: u64) -> Result<(), EkCertError> {
        if self.version != 3 {
            return Err(EkCertError::Version {
                cert: self.label.clone(),
                version: self.version,
            });
        }
        self.check_validity(time)?;
        if self.basic_constraints.as_ref().is_some_and(|bc| bc.ca) {
            return Err(EkCertError::LeafIsCa {
                cert: self.label.clone(),
            });
        }
        self.check_critical(&LEAF_CRITICAL_OK)
    }

    /// Checks that this certificate may act as an issuer (RFC 5280 §6.1.4
    /// (k), (l), (m), (n)); `below` = non-self-issued intermediates between
    /// it and the leaf. v1 certificates are accepted only as trust anchors.
    pub fn check_as_issuer(
        &self,
        is_anchor: bool,
        time: u64,
        below: usize,
    ) -> Result<(), EkCertError> {
        let role = if is_anchor {
            "trust anchor"
        } else {
            "intermediate"
        };
        let not_ca = |reason: &str| EkCertError::NotCa {
            role,
            cert: self.label.clone(),
            reason: reason.to_string(),
        };
        self.check_validity(time)?;
        if self.version != 3 {
            if is_anchor && self.version == 1 {
                return Ok(());
            }
            return Err(EkCertError::Version {
                cert: self.label.clone(),
                version: self.version,
            });
        }
        match &self.basic_constraints {
            None => return Err(not_ca("no basicConstraints extension")),
            Some(bc) if !bc.ca => return Err(not_ca("basicConstraints cA is false")),
            Some(bc) => {
                if let Some(limit) = bc.path_len_constraint {
                    if below > usize::from(limit) {
                        return Err(EkCertError::PathLength {
                            cert: self.label.clone(),
                            limit,
                            below,
                        });
                    }
                }
            }
        }
        if let Some(ku) = &self.key_usage {
            if !ku.key_cert_sign() {
                return Err(not_ca("keyUsage lacks keyCertSign"));
            }
        }
        self.check_critical(&CA_CRITICAL_OK)
    }

    /// True when `self` may have issued `child`, by name (binary, or
    /// normalised string forms) and, when both are present, key identifier.
    pub fn may_have_issued(&self, child: &ParsedCert) -> bool {
        let name_ok = self.subject_der == child.issuer_der
            || (!self.subject_norm.is_empty() && self.subject_norm == child.issuer_norm);
        let key_ok = match (&child.akid, &self.skid) {
            (Some(a), Some(s)) => a == s,
            _ => true,
        };
        name_ok && key_ok
    }

    /// Subject and issuer are the same name (RFC 5280 §6.1: self-issued
    /// certificates do not count against pathLenConstraint).
    pub fn is_self_issued(&self) -> bool {
        self.subject_der == self.issuer_der
    }

    /// The certified key in EK form.
    pub fn leaf_key(&self) -> Result<EkCertKey, EkCertError> {
        let unsupported = |reason: String| EkCertError::UnsupportedKey {
            cert: self.label.clone(),
            reason,
        };
        match decode_spki(&self.spki).map_err(unsupported)? {
            SpkiKey::Rsa { n, e } => {
                let bits = n.len() * 8;
                if !(2048..=8192).contains(&bits) {
                    return Err(unsupported(format!(
                        "RSA modulus of {bits} bits; expected 2048 to 8192"
                    )));
                }
                let e = u32::try_from(e)
                    .map_err(|_| unsupported("RSA exponent exceeds 32 bits".to_string()))?;
                Ok(EkCertKey::Rsa { n, e })
            }
            SpkiKey::P256(k) => {
                let p = k.to_encoded_point(false);
                ecc_key(
                    EkCurve::P256,
                    p.x().map(|v| v.to_vec()),
                    p.y().map(|v| v.to_vec()),
                )
                .ok_or_else(|| unsupported("P-256 point has no coordinates".to_string()))
            }
            SpkiKey::P384(k) => {
                let p = k.to_encoded_point(false);
                ecc_key(
                    EkCurve::P384,
                    p.x().map(|v| v.to_vec()),
                    p.y().map(|v| v.to_vec()),
                )
                .ok_or_else(|| unsupported("P-384 point has no coordinates".to_string()))
            }
        }
    }

    /// keyUsage as reported to callers.
    pub fn key_usage_summary(&self) -> KeyUsage {
        match &self.key_usage {
            None => KeyUsage::default(),
            Some(ku) => KeyUsage {
                present: true,
                digital_signature: ku.digital_signature(),
                key_encipherment: ku.key_encipherment(),
                key_agreement: ku.key_agreement(),
                key_cert_sign: ku.key_cert_sign(),
            },
        }
    }

    /// SHA-256 of the DER.
    pub fn fingerprint_sha256(&self) -> [u8; 32] {
        sealbuild_common::crypto::sha256(&self.der)
    }
}

fn ecc_key(curve: EkCurve, x: Option<Vec<u8>>, y: Option<Vec<u8>>) -> Option<EkCertKey> {
    Some(EkCertKey::Ecc {
        curve,
        x: x?,
        y: y?,
    })
}

/// A readable name for an extension OID.
pub(super) fn ext_name(oid: &ObjectIdentifier) -> Option<&'static str> {
    if *oid == OID_SUBJECT_DIRECTORY_ATTRIBUTES {
        return Some("subjectDirectoryAttributes");
    }
    const_oid::db::DB.by_oid(oid)
}
