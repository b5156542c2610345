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

use p384::ecdsa::signature::Verifier;
use sealbuild_common::snp::{AttestationReport, SigningKey, SnpProduct, SIGNED_LEN};
use sealbuild_common::FormatError;
use thiserror::Error;

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

/// A VCEK/VLEK extension that is missing, malformed or disagrees with the report.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SnpCertError {
    /// An AMD extension is absent.
    #[error("VCEK/VLEK: extension {name} ({oid}) is missing")]
    Missing {
        /// Extension name.
        name: &'static str,
        /// Its OID.
        oid: &'static str,
    },
    /// An AMD extension does not decode.
    #[error("VCEK/VLEK: extension {name} ({oid}): {reason}")]
    Malformed {
        /// Extension name.
        name: &'static str,
        /// Its OID.
        oid: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A TCB component of the certificate differs from REPORTED_TCB.
    #[error("REPORTED_TCB {component}: expected {cert} (certificate), got {report} (report)")]
    TcbMismatch {
        /// "bl", "tee", "snp", "ucode" or "fmc".
        component: &'static str,
        /// The certificate's SPL.
        cert: u8,
        /// The report's SVN.
        report: u8,
    },
    /// CHIP_ID differs from the VCEK's hwID.
    #[error("CHIP_ID: expected {cert} (VCEK hwID), got {report}")]
    ChipIdMismatch {
        /// hwID, hex.
        cert: String,
        /// The report's CHIP_ID prefix of the same length, hex.
        report: String,
    },
    /// The certificate is a VCEK where the report says VLEK, or the reverse.
    #[error("SIGNING_KEY: the report says {report}, the certificate is a {cert} (hwID {hw_id}, CSP id {csp_id})")]
    SignerKind {
        /// What SIGNING_KEY says.
        report: &'static str,
        /// What the certificate looks like.
        cert: &'static str,
        /// Whether it has a hwID.
        hw_id: bool,
        /// Whether it has a CSP id.
        csp_id: bool,
    },
    /// The certificate's productName names another product.
    #[error("VCEK/VLEK productName: expected {expected}, got {got:?}")]
    Product {
        /// The product from CPUID or the caller.
        expected: String,
        /// The certificate's productName.
        got: String,
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

/// Turns a certified key into a P-384 verifying key.
pub fn p384_key(key: &EkCertKey) -> Result<p384::ecdsa::VerifyingKey, SnpError> {
    match key {
        EkCertKey::Ecc {
            curve: EkCurve::P384,
            x,
            y,
        } => {
            let mut sec1 = Vec::with_capacity(97);
            sec1.push(0x04);
            sec1.extend_from_slice(x);
            sec1.extend_from_slice(y);
            p384::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).map_err(|e| SnpError::SignerKey {
                got: format!("an invalid P-384 point ({e})"),
            })
        }
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
pub fn verify_report_signature(
    report_bytes: &[u8],
    key: &p384::ecdsa::VerifyingKey,
    cert: &str,
) -> Result<AttestationReport, SnpError> {
    let report = AttestationReport::parse(report_bytes)?;
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
    let sig = p384::ecdsa::Signature::from_slice(&report.signature.to_be_fixed())
        .map_err(|e| bad(format!("R or S out of range: {e}")))?;
    key.verify(signed, &sig).map_err(|e| bad(e.to_string()))?;
    Ok(report)
}

const OID_PRODUCT_NAME: &str = "1.3.6.1.4.1.3704.1.2";
const OID_BL_SPL: &str = "1.3.6.1.4.1.3704.1.3.1";
const OID_TEE_SPL: &str = "1.3.6.1.4.1.3704.1.3.2";
const OID_SNP_SPL: &str = "1.3.6.1.4.1.3704.1.3.3";
const OID_UCODE_SPL: &str = "1.3.6.1.4.1.3704.1.3.8";
const OID_FMC_SPL: &str = "1.3.6.1.4.1.3704.1.3.9";
const OID_HW_ID: &str = "1.3.6.1.4.1.3704.1.4";
const OID_CSP_ID: &str = "1.3.6.1.4.1.3704.1.5";

/// The AMD extensions of a VCEK/VLEK (VCEK specification, pub. 57230,
/// "VCEK Certificate Extensions"; VLEK adds the CSP id and has no hwID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmdCertExtensions {
    /// productName, e.g. "Milan-B0", "Genoa", "Turin".
    pub product_name: String,
    /// blSPL.
    pub bl_spl: u8,
    /// teeSPL.
    pub tee_spl: u8,
    /// snpSPL.
    pub snp_spl: u8,
    /// ucodeSPL.
    pub ucode_spl: u8,
    /// fmcSPL (Turin).
    pub fmc_spl: Option<u8>,
    /// hwID (VCEK): 64 bytes (Milan, Genoa) or 8 (Turin); `None` on a VLEK.
    pub hw_id: Option<Vec<u8>>,
    /// CSP id (VLEK).
    pub csp_id: Option<String>,
}

fn ext_err(name: &'static str, oid: &'static str, reason: impl std::fmt::Display) -> SnpCertError {
    SnpCertError::Malformed {
        name,
        oid,
        reason: reason.to_string(),
    }
}

fn spl(value: &[u8], name: &'static str, oid: &'static str) -> Result<u8, SnpCertError> {
    use der::Decode;
    let int = der::asn1::Uint::from_der(value).map_err(|e| ext_err(name, oid, e))?;
    let bytes = int.as_bytes();
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    match bytes.get(first..).unwrap_or_default() {
        [] => Ok(0),
        [v] => Ok(*v),
        more => Err(ext_err(
            name,
            oid,
            format!("expected an INTEGER 0..=255, got {} bytes", more.len()),
        )),
    }
}

fn hw_id(value: &[u8]) -> Result<Vec<u8>, SnpCertError> {
    use der::Decode;
    if let Ok(os) = der::asn1::OctetStringRef::from_der(value) {
        if matches!(os.as_bytes().len(), 8 | 64) {
            return Ok(os.as_bytes().to_vec());
        }
    }
    if matches!(value.len(), 8 | 64) {
        return Ok(value.to_vec());
    }
    Err(ext_err(
        "hwID",
        OID_HW_ID,
        format!(
            "expected 64 or 8 bytes (raw or in an OCTET STRING), got {} bytes",
            value.len()
        ),
    ))
}

impl AmdCertExtensions {
    /// Reads the AMD extensions of a DER VCEK/VLEK.
    pub fn from_der(cert_der: &[u8]) -> Result<Self, SnpError> {
        use der::Decode;
        let cert = x509_cert::Certificate::from_der(cert_der).map_err(|e| {
            SnpError::Chain(EkCertError::Malformed {
                what: "VCEK/VLEK".to_string(),
                reason: e.to_string(),
            })
        })?;
        let exts = cert.tbs_certificate.extensions.unwrap_or_default();
        let find = |oid: &str| {
            exts.iter()
                .find(|e| e.extn_id.to_string() == oid)
                .map(|e| e.extn_value.as_bytes())
        };
        let need = |name: &'static str, oid: &'static str| {
            find(oid).ok_or(SnpCertError::Missing { name, oid })
        };
        let product_name =
            der::asn1::Ia5StringRef::from_der(need("productName", OID_PRODUCT_NAME)?)
                .map_err(|e| ext_err("productName", OID_PRODUCT_NAME, e))?
                .to_string();
        let csp_id = match find(OID_CSP_ID) {
            None => None,
            Some(v) => Some(
                der::asn1::Ia5StringRef::from_der(v)
                    .map_err(|e| ext_err("CSP id", OID_CSP_ID, e))?
                    .to_string(),
            ),
        };
        Ok(Self {
            product_name,
            bl_spl: spl(need("blSPL", OID_BL_SPL)?, "blSPL", OID_BL_SPL)?,
            tee_spl: spl(need("teeSPL", OID_TEE_SPL)?, "teeSPL", OID_TEE_SPL)?,
            snp_spl: spl(need("snpSPL", OID_SNP_SPL)?, "snpSPL", OID_SNP_SPL)?,
            ucode_spl: spl(need("ucodeSPL", OID_UCODE_SPL)?, "ucodeSPL", OID_UCODE_SPL)?,
            fmc_spl: find(OID_FMC_SPL)
                .map(|v| spl(v, "fmcSPL", OID_FMC_SPL))
                .transpose()?,
            hw_id: find(OID_HW_ID).map(hw_id).transpose()?,
            csp_id,
        })
    }

    /// The product named by productName ("Milan-B0" → Milan).
    pub fn product(&self) -> Option<SnpProduct> {
        let family = self.product_name.split('-').next().unwrap_or_default();
        [SnpProduct::Milan, SnpProduct::Genoa, SnpProduct::Turin]
            .into_iter()
            .find(|p| p.name() == family)
    }

    /// Checks the certificate against the report: productName agrees with
    /// `product` (when known), every SPL equals the REPORTED_TCB component,
    /// and a VCEK's hwID equals CHIP_ID (its first 8 bytes on Turin).
    pub fn check_against(
        &self,
        report: &AttestationReport,
        product: Option<SnpProduct>,
    ) -> Result<(), SnpCertError> {
        let cert_product = self.product();
        if let Some(p) = product {
            if cert_product != Some(p) {
                return Err(SnpCertError::Product {
                    expected: p.to_string(),
                    got: self.product_name.clone(),
                });
            }
        }
        let Some(layout) = product.or(cert_product).map(SnpProduct::tcb_layout) else {
            return Err(SnpCertError::Product {
                expected: "Milan, Genoa or Turin".to_string(),
                got: self.product_name.clone(),
            });
        };
        let t = report.reported_tcb.parts(layout);
        let pairs = [
            ("bl", self.bl_spl, t.boot_loader),
            ("tee", self.tee_spl, t.tee),
            ("snp", self.snp_spl, t.snp),
            ("ucode", self.ucode_spl, t.microcode),
            ("fmc", self.fmc_spl.unwrap_or(0), t.fmc.unwrap_or(0)),
        ];
        for (component, cert, rep) in pairs {
            if cert != rep {
                return Err(SnpCertError::TcbMismatch {
                    component,
                    cert,
                    report: rep,
                });
            }
        }
        let (is_vcek, is_vlek) = (self.hw_id.is_some(), self.csp_id.is_some());
        let kind_err = |rep: &'static str| SnpCertError::SignerKind {
            report: rep,
            cert: if is_vcek { "VCEK" } else { "VLEK" },
            hw_id: is_vcek,
            csp_id: is_vlek,
        };
        match report.key_info.signing_key {
            SigningKey::Vcek if is_vlek || !is_vcek => return Err(kind_err("VCEK")),
            SigningKey::Vlek if is_vcek || !is_vlek => return Err(kind_err("VLEK")),
            _ => {}
        }
        if report.key_info.signing_key == SigningKey::Vcek {
            let hw = self.hw_id.as_deref().ok_or(SnpCertError::Missing {
                name: "hwID",
                oid: OID_HW_ID,
            })?;
            let chip = report.chip_id.get(..hw.len()).unwrap_or_default();
            if chip != hw {
                return Err(SnpCertError::ChipIdMismatch {
                    cert: hex::encode(hw),
                    report: hex::encode(chip),
                });
            }
        }
        Ok(())
    }
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
    let product = detect_product(&parsed, expected_product)?;
    let anchors = TrustAnchors::from_der([chain.ark_der])?;
    let signer = verify_ek_cert_chain(signer_der, &[chain.ask_der], &anchors, at_unix_secs)?;
    let key = p384_key(&signer.public_key)?;
    let report =
        verify_report_signature(report_bytes, &key, &hex::encode(signer.fingerprint_sha256))?;
    let signer_ext = AmdCertExtensions::from_der(signer_der)?;
    let product = match (product, expected_product) {
        (Some(p), _) => Some(p),
        (None, e) => e,
    };
    signer_ext.check_against(&report, product)?;
    Ok(VerifiedSnpReport {
        report,
        product,
        signer,
        signer_ext,
    })
}
