//! The AMD extensions of VCEK and VLEK certificates and their comparison
//! with a report.
//!
//! AMD "Versioned Chip Endorsement Key (VCEK) Certificate and KDS Interface
//! Specification" (publication 57230), revision 0.50, §"VCEK Certificate
//! Extensions" (Table 8): productName `1.3.6.1.4.1.3704.1.2`, the TCB SPLs
//! under `1.3.6.1.4.1.3704.1.3` (blSPL .1, teeSPL .2, snpSPL .3, ucodeSPL .8,
//! fmcSPL .9 on Turin), hwID `1.3.6.1.4.1.3704.1.4` (64-byte CHIP_ID; Turin:
//! its first 8 bytes) and, on a VLEK, the CSP id `1.3.6.1.4.1.3704.1.5`
//! instead of a hwID. REPORTED_TCB layouts: SEV-SNP Firmware ABI (pub.
//! 56860) rev. 1.58, Table 3 "TCB_VERSION Structure" (Milan/Genoa) and the
//! Turin layout with an FMC field.

use sealbuild_common::snp::{AttestationReport, SigningKey, SnpProduct, TcbVersion};
use thiserror::Error;

use super::SnpError;
use crate::ekcert::EkCertError;

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

    /// The product, the SPLs and (for a VCEK) the hwID the certificate
    /// certifies, against a product, a REPORTED_TCB and a CHIP_ID: the one
    /// implementation of these rules, used for reports and by the
    /// collateral store before it files a VCEK. productName must name
    /// `product` (when known), every SPL must equal the REPORTED_TCB
    /// component in the product's layout, and a VCEK's hwID must be
    /// [`SnpProduct::hw_id`] of CHIP_ID.
    pub fn check_identity(
        &self,
        product: Option<SnpProduct>,
        chip_id: &[u8; 64],
        reported_tcb: TcbVersion,
    ) -> Result<SnpProduct, SnpCertError> {
        let cert_product = self.product();
        if let Some(p) = product {
            if cert_product != Some(p) {
                return Err(SnpCertError::Product {
                    expected: p.to_string(),
                    got: self.product_name.clone(),
                });
            }
        }
        let Some(product) = product.or(cert_product) else {
            return Err(SnpCertError::Product {
                expected: "Milan, Genoa or Turin".to_string(),
                got: self.product_name.clone(),
            });
        };
        let t = reported_tcb.parts(product.tcb_layout());
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
        if let Some(hw) = &self.hw_id {
            let want = product.hw_id(chip_id);
            if hw.as_slice() != want {
                return Err(SnpCertError::ChipIdMismatch {
                    cert: hex::encode(hw),
                    report: hex::encode(want),
                });
            }
        }
        Ok(product)
    }

    /// Checks the certificate against the report: [`Self::check_identity`]
    /// with its CHIP_ID and REPORTED_TCB, and the signer kind (a VCEK-signed
    /// report needs a certificate with hwID, a VLEK-signed one a CSP id).
    pub fn check_against(
        &self,
        report: &AttestationReport,
        product: Option<SnpProduct>,
    ) -> Result<(), SnpCertError> {
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
        if report.key_info.signing_key == SigningKey::Vcek && self.hw_id.is_none() {
            return Err(SnpCertError::Missing {
                name: "hwID",
                oid: OID_HW_ID,
            });
        }
        self.check_identity(product, &report.chip_id, report.reported_tcb)?;
        Ok(())
    }
}
