//! PCK certificates: the chain to the Intel SGX Root CA and the SGX
//! extensions that name the platform's TCB.
//!
//! Intel "Intel® SGX PCK Certificate and Certificate Revocation List Profile
//! Specification", section "Intel® SGX PCK Certificate", table "SGX
//! Extensions" (OID 1.2.840.113741.1.13.1, a SEQUENCE of (OID, value)
//! pairs): PPID `.1` (OCTET STRING 16), TCB `.2` (SEQUENCE of the SGX TCB
//! components `.2.1`–`.2.16` INTEGER, PCESVN `.2.17` INTEGER, CPUSVN `.2.18`
//! OCTET STRING 16), PCE-ID `.3` (OCTET STRING 2), FMSPC `.4` (OCTET STRING
//! 6), SGX Type `.5` (ENUMERATED). The PCK certificate is issued by "Intel
//! SGX PCK Platform CA" or "Intel SGX PCK Processor CA", both issued by the
//! "Intel SGX Root CA"; every key is ECDSA P-256 and every signature
//! ECDSA-with-SHA256 (section "Certificate Hierarchy").

use der::asn1::{AnyRef, ObjectIdentifier, OctetStringRef};
use der::Decode;
use sealbuild_common::crypto::{Curve, VerifyingKey};
use sealbuild_common::HashAlg;

use super::TdxError;
use crate::credential::EkCurve;
use crate::ekcert::{verify_ek_cert_chain, EkCertKey, TrustAnchors, VerifiedEkCert};

const OID_SGX_EXTENSIONS: &str = "1.2.840.113741.1.13.1";
const OID_TCB: &str = "1.2.840.113741.1.13.1.2";
const OID_PCESVN: &str = "1.2.840.113741.1.13.1.2.17";
const OID_PCE_ID: &str = "1.2.840.113741.1.13.1.3";
const OID_FMSPC: &str = "1.2.840.113741.1.13.1.4";

/// Which Intel CA issued a PCK certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PckCa {
    /// "Intel SGX PCK Platform CA" (multi-package platforms, TDX).
    Platform,
    /// "Intel SGX PCK Processor CA" (single-package platforms).
    Processor,
}

impl PckCa {
    /// `platform` or `processor`, as in the PCS `ca` parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Platform => "platform",
            Self::Processor => "processor",
        }
    }
}

/// The SGX extensions of a PCK certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PckExtensions {
    /// SGX TCB components 1..16.
    pub sgx_components: [u8; 16],
    /// PCESVN.
    pub pce_svn: u16,
    /// PCE-ID.
    pub pce_id: [u8; 2],
    /// FMSPC: the platform's family-model-stepping-platform-custom SKU.
    pub fmspc: [u8; 6],
}

fn bad(reason: impl std::fmt::Display) -> TdxError {
    TdxError::Pck {
        reason: reason.to_string(),
    }
}

/// The (OID, value) pairs of an SGX-extension SEQUENCE.
fn pairs<'a>(seq: &'a [u8], what: &str) -> Result<Vec<(String, AnyRef<'a>)>, TdxError> {
    let items = Vec::<AnyRef<'a>>::from_der(seq).map_err(|e| bad(format!("{what}: {e}")))?;
    items
        .into_iter()
        .map(|item| {
            let inner: Vec<AnyRef<'a>> = item
                .decode_as()
                .map_err(|e| bad(format!("{what}: entry: {e}")))?;
            match inner.as_slice() {
                [oid, value] => {
                    let oid: ObjectIdentifier = oid
                        .decode_as()
                        .map_err(|e| bad(format!("{what}: entry OID: {e}")))?;
                    Ok((oid.to_string(), *value))
                }
                _ => Err(bad(format!("{what}: an entry of {} elements", inner.len()))),
            }
        })
        .collect()
}

fn octets<const N: usize>(v: &AnyRef<'_>, what: &str) -> Result<[u8; N], TdxError> {
    let os: OctetStringRef<'_> = v.decode_as().map_err(|e| bad(format!("{what}: {e}")))?;
    os.as_bytes().try_into().map_err(|_| {
        bad(format!(
            "{what}: expected {N} bytes, got {}",
            os.as_bytes().len()
        ))
    })
}

impl PckExtensions {
    /// Reads the SGX extensions of the DER PCK certificate.
    pub fn from_der(cert_der: &[u8]) -> Result<Self, TdxError> {
        let cert = x509_cert::Certificate::from_der(cert_der).map_err(bad)?;
        let exts = cert.tbs_certificate.extensions.unwrap_or_default();
        let sgx = exts
            .iter()
            .find(|e| e.extn_id.to_string() == OID_SGX_EXTENSIONS)
            .ok_or_else(|| bad(format!("no SGX extensions ({OID_SGX_EXTENSIONS})")))?;
        let top = pairs(sgx.extn_value.as_bytes(), "SGX extensions")?;
        let find = |oid: &str| {
            top.iter()
                .find(|(o, _)| o == oid)
                .map(|(_, v)| *v)
                .ok_or_else(|| bad(format!("SGX extensions: {oid} missing")))
        };
        let tcb_der = der::Encode::to_der(&find(OID_TCB)?).map_err(bad)?;
        let tcb = pairs(&tcb_der, "SGX TCB")?;
        let mut sgx_components = [0u8; 16];
        for (i, c) in sgx_components.iter_mut().enumerate() {
            let oid = format!("{OID_TCB}.{}", i + 1);
            let v = tcb
                .iter()
                .find(|(o, _)| *o == oid)
                .ok_or_else(|| bad(format!("SGX TCB: component {oid} missing")))?;
            *c =
                v.1.decode_as::<u8>()
                    .map_err(|e| bad(format!("SGX TCB component {oid}: {e}")))?;
        }
        let pce_svn = tcb
            .iter()
            .find(|(o, _)| o == OID_PCESVN)
            .ok_or_else(|| bad("SGX TCB: PCESVN missing"))?
            .1
            .decode_as::<u16>()
            .map_err(|e| bad(format!("PCESVN: {e}")))?;
        Ok(Self {
            sgx_components,
            pce_svn,
            pce_id: octets(&find(OID_PCE_ID)?, "PCE-ID")?,
            fmspc: octets(&find(OID_FMSPC)?, "FMSPC")?,
        })
    }
}

/// Every certificate of a PEM chain, as DER, in order. Trailing NULs and
/// whitespace (some QEs terminate the chain with a NUL) are ignored.
pub fn pem_chain(what: &'static str, pem: &[u8]) -> Result<Vec<Vec<u8>>, TdxError> {
    let text = std::str::from_utf8(pem).map_err(|e| TdxError::Collateral {
        what,
        reason: format!("PEM chain is not UTF-8: {e}"),
    })?;
    let text = text.trim_end_matches(['\0', '\n', '\r', ' ']);
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = Vec::new();
    for block in text.split_inclusive(END) {
        let block = block.trim();
        if block.is_empty() {
            continue;
        }
        let (label, der) =
            der::pem::decode_vec(block.as_bytes()).map_err(|e| TdxError::Collateral {
                what,
                reason: format!("certificate #{} of the PEM chain: {e}", out.len()),
            })?;
        if label != "CERTIFICATE" {
            return Err(TdxError::Collateral {
                what,
                reason: format!("PEM block labelled {label:?}, expected CERTIFICATE"),
            });
        }
        out.push(der);
    }
    if out.is_empty() {
        return Err(TdxError::Collateral {
            what,
            reason: "no certificate in the PEM chain".into(),
        });
    }
    Ok(out)
}

/// A chain leaf that verified to the root: the certificate, the DER of its
/// issuer in the chain, and its P-256 key.
#[derive(Debug)]
pub struct VerifiedLeaf {
    /// The leaf's chain facts.
    pub cert: VerifiedEkCert,
    /// The leaf DER.
    pub der: Vec<u8>,
    /// The DER of the intermediate that issued it (the root when none).
    pub issuer_der: Vec<u8>,
    /// Its key, for ECDSA P-256 with SHA-256.
    pub key: VerifyingKey,
}

/// Verifies `chain` (leaf first; intermediates; the root may be included)
/// to `root_der` at `at`: every signature, validity window and CA
/// constraint ([`verify_ek_cert_chain`]); the leaf key must be P-256.
pub fn verify_chain(
    what: &'static str,
    chain: &[Vec<u8>],
    root_der: &[u8],
    at: u64,
) -> Result<VerifiedLeaf, TdxError> {
    let chain_err = |source| TdxError::Chain { what, source };
    let (leaf, rest) = chain.split_first().ok_or(TdxError::Collateral {
        what,
        reason: "empty certificate chain".into(),
    })?;
    let anchors = TrustAnchors::from_der([root_der]).map_err(chain_err)?;
    let pool: Vec<&[u8]> = rest.iter().map(Vec::as_slice).collect();
    let cert = verify_ek_cert_chain(leaf, &pool, &anchors, at).map_err(chain_err)?;
    let issuer_subject = cert.chain.get(1).cloned().unwrap_or_default();
    let issuer_der = rest
        .iter()
        .find(|d| {
            x509_cert::Certificate::from_der(d)
                .is_ok_and(|c| c.tbs_certificate.subject.to_string() == issuer_subject)
        })
        .cloned()
        .unwrap_or_else(|| root_der.to_vec());
    let key = match &cert.public_key {
        EkCertKey::Ecc {
            curve: EkCurve::P256,
            x,
            y,
        } => VerifyingKey::ecdsa_xy(Curve::P256, x, y, HashAlg::Sha256).map_err(|e| {
            TdxError::Collateral {
                what,
                reason: format!("leaf key: {e}"),
            }
        })?,
        other => {
            return Err(TdxError::Collateral {
                what,
                reason: format!("leaf key is not ECDSA P-256: {other:?}"),
            })
        }
    };
    Ok(VerifiedLeaf {
        cert,
        der: leaf.clone(),
        issuer_der,
        key,
    })
}

/// The issuing CA of a verified PCK certificate, from its issuer's name;
/// the certificate itself must be an "Intel SGX PCK Certificate".
pub fn pck_ca(leaf: &VerifiedEkCert) -> Result<PckCa, TdxError> {
    if !leaf.subject.contains("CN=Intel SGX PCK Certificate") {
        return Err(bad(format!(
            "subject {:?} is not an Intel SGX PCK Certificate",
            leaf.subject
        )));
    }
    if leaf.issuer.contains("Intel SGX PCK Platform CA") {
        Ok(PckCa::Platform)
    } else if leaf.issuer.contains("Intel SGX PCK Processor CA") {
        Ok(PckCa::Processor)
    } else {
        Err(bad(format!(
            "issuer {:?} is neither the Intel SGX PCK Platform CA nor the Processor CA",
            leaf.issuer
        )))
    }
}

/// The FMSPC and issuing CA named by a quote's PCK certificate, read
/// without verifying anything: what the I/O edge needs to look up the
/// collateral (TCB Info for the FMSPC, the PCK CRL of the CA). The
/// verification proper re-reads both from the verified chain.
pub fn unverified_pck_identity(
    quote: &sealbuild_common::tdx::Quote,
) -> Result<([u8; 6], PckCa), TdxError> {
    let chain = pem_chain("PCK", &quote.signature_data.qe.pck_cert_data.data)?;
    let leaf = chain.first().ok_or_else(|| bad("empty PCK chain"))?;
    let ext = PckExtensions::from_der(leaf)?;
    let cert = x509_cert::Certificate::from_der(leaf).map_err(bad)?;
    let issuer = cert.tbs_certificate.issuer.to_string();
    let ca = if issuer.contains("Intel SGX PCK Processor CA") {
        PckCa::Processor
    } else {
        PckCa::Platform
    };
    Ok((ext.fmspc, ca))
}
