//! TPMT_SIGNATURE: a TPM-made signature (e.g. the file `tpm2_quote -s` writes).
//!
//! TCG TPM 2.0 Library Part 2 rev. 1.59:
//! * TPMT_SIGNATURE — Table 190: `sigAlg` (TPMI_ALG_SIG_SCHEME) then
//!   `signature` (TPMU_SIGNATURE, Table 189, selected by `sigAlg`).
//! * TPMS_SIGNATURE_RSA — Table 185, used for TPM_ALG_RSASSA (0x0014) and
//!   TPM_ALG_RSAPSS (0x0016): `hash` (TPMI_ALG_HASH, NULL not allowed), `sig`
//!   (TPM2B_PUBLIC_KEY_RSA, Table 175).
//! * TPMS_SIGNATURE_ECC — Table 187, used for TPM_ALG_ECDSA (0x0018): `hash`,
//!   `signatureR`, `signatureS` (TPM2B_ECC_PARAMETER, Table 178).
//!
//! Other schemes (HMAC, ECDAA, SM2, ECSCHNORR, and TPM_ALG_NULL for an
//! unsigned structure) are rejected as unsupported.

use crate::error::FormatError;
use crate::hash::HashAlg;
use crate::reader::{Reader, Writer};
use crate::tpm::{alg, limits};

/// A supported signature scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigScheme {
    /// TPM_ALG_RSASSA: RSASSA-PKCS1-v1_5 (RFC 8017 §8.2).
    RsaSsa,
    /// TPM_ALG_RSAPSS: RSASSA-PSS (RFC 8017 §8.1).
    RsaPss,
    /// TPM_ALG_ECDSA.
    Ecdsa,
}

impl SigScheme {
    /// The TPM_ALG_ID.
    pub fn alg_id(self) -> u16 {
        match self {
            Self::RsaSsa => alg::RSASSA,
            Self::RsaPss => alg::RSAPSS,
            Self::Ecdsa => alg::ECDSA,
        }
    }

    /// The scheme's name in the specification without the `TPM_ALG_` prefix.
    pub fn name(self) -> &'static str {
        match self {
            Self::RsaSsa => "RSASSA",
            Self::RsaPss => "RSAPSS",
            Self::Ecdsa => "ECDSA",
        }
    }
}

impl std::fmt::Display for SigScheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The signature value, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureValue<'a> {
    /// An RSA signature: big-endian, normally as long as the modulus.
    Rsa(&'a [u8]),
    /// An ECDSA signature's big-endian `r` and `s`.
    Ecdsa {
        /// signatureR.
        r: &'a [u8],
        /// signatureS.
        s: &'a [u8],
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Body {
    Rsa(Vec<u8>),
    Ecc { r: Vec<u8>, s: Vec<u8> },
}

/// TPMT_SIGNATURE for RSASSA, RSAPSS or ECDSA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    scheme: SigScheme,
    hash: HashAlg,
    body: Body,
}

impl Signature {
    /// An RSASSA or RSAPSS signature. `sig` must be 1..=512 bytes.
    pub fn new_rsa(scheme: SigScheme, hash: HashAlg, sig: &[u8]) -> Result<Self, FormatError> {
        if scheme == SigScheme::Ecdsa {
            return Err(FormatError::unexpected(
                "TPMT_SIGNATURE.sigAlg",
                "RSASSA or RSAPSS",
                "ECDSA",
            ));
        }
        check_len(sig, "TPMS_SIGNATURE_RSA.sig", limits::RSA_KEY)?;
        Ok(Self {
            scheme,
            hash,
            body: Body::Rsa(sig.to_vec()),
        })
    }

    /// An ECDSA signature. `r` and `s` must be 1..=66 bytes.
    pub fn new_ecdsa(hash: HashAlg, r: &[u8], s: &[u8]) -> Result<Self, FormatError> {
        check_len(r, "TPMS_SIGNATURE_ECC.signatureR", limits::ECC_PARAMETER)?;
        check_len(s, "TPMS_SIGNATURE_ECC.signatureS", limits::ECC_PARAMETER)?;
        Ok(Self {
            scheme: SigScheme::Ecdsa,
            hash,
            body: Body::Ecc {
                r: r.to_vec(),
                s: s.to_vec(),
            },
        })
    }

    /// Parses a complete TPMT_SIGNATURE.
    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        let mut r = Reader::new(bytes);
        let sig_alg = r.u16_be("TPMT_SIGNATURE.sigAlg")?;
        let scheme = match sig_alg {
            alg::RSASSA => SigScheme::RsaSsa,
            alg::RSAPSS => SigScheme::RsaPss,
            alg::ECDSA => SigScheme::Ecdsa,
            other => {
                return Err(FormatError::Unsupported {
                    field: "TPMT_SIGNATURE.sigAlg",
                    value: u64::from(other),
                })
            }
        };
        let sig = match scheme {
            SigScheme::RsaSsa | SigScheme::RsaPss => {
                let hash = HashAlg::from_alg_id(
                    r.u16_be("TPMS_SIGNATURE_RSA.hash")?,
                    "TPMS_SIGNATURE_RSA.hash",
                )?;
                let sig = r.tpm2b("TPMS_SIGNATURE_RSA.sig", limits::RSA_KEY)?;
                Self::new_rsa(scheme, hash, sig)?
            }
            SigScheme::Ecdsa => {
                let hash = HashAlg::from_alg_id(
                    r.u16_be("TPMS_SIGNATURE_ECC.hash")?,
                    "TPMS_SIGNATURE_ECC.hash",
                )?;
                let sig_r = r.tpm2b("TPMS_SIGNATURE_ECC.signatureR", limits::ECC_PARAMETER)?;
                let sig_s = r.tpm2b("TPMS_SIGNATURE_ECC.signatureS", limits::ECC_PARAMETER)?;
                Self::new_ecdsa(hash, sig_r, sig_s)?
            }
        };
        r.finish("TPMT_SIGNATURE")?;
        Ok(sig)
    }

    /// The TPMT_SIGNATURE encoding (identical to the parsed bytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u16_be(self.scheme.alg_id()).u16_be(self.hash.alg_id());
        match &self.body {
            Body::Rsa(sig) => {
                w.tpm2b(sig);
            }
            Body::Ecc { r, s } => {
                w.tpm2b(r).tpm2b(s);
            }
        }
        w.into_vec()
    }

    /// The signature scheme (`sigAlg`).
    pub fn scheme(&self) -> SigScheme {
        self.scheme
    }

    /// The hash the signed digest was made with.
    pub fn hash(&self) -> HashAlg {
        self.hash
    }

    /// The signature value.
    pub fn value(&self) -> SignatureValue<'_> {
        match &self.body {
            Body::Rsa(sig) => SignatureValue::Rsa(sig),
            Body::Ecc { r, s } => SignatureValue::Ecdsa { r, s },
        }
    }
}

fn check_len(v: &[u8], field: &'static str, max: usize) -> Result<(), FormatError> {
    if v.is_empty() {
        return Err(FormatError::unexpected(
            field,
            format_args!("1..={max} bytes"),
            "0 bytes",
        ));
    }
    if v.len() > max {
        return Err(FormatError::TooLarge {
            field,
            size: v.len(),
            max,
        });
    }
    Ok(())
}
