//! The JSON encodings of Azure SEV-SNP vTPM evidence used by the
//! confidential-containers trustee (`az-snp-vtpm` verifier, Apache-2.0),
//! learnt from its test vectors:
//!
//! * version 0 (no `version` field): `{"quote": {"signature": [bytes],
//!   "message": [bytes], "pcrs": [[32 bytes] × 24]}, "report": [bytes of the
//!   HCL report], "vcek": "PEM certificate"}`;
//! * version 1: `{"version": 1, "tpm_quote": {"signature": hex, "message":
//!   hex, "pcrs": [hex × 24]}, "hcl_report": base64url, "vcek": base64url of
//!   the DER certificate}`;
//! * version 2: the shape of version 1 with `"version": 2`; the attester
//!   also writes the nonce into the HCL `user-data`, which
//!   [`AzureSnpEvidence::input`] then requires.
//!
//! The `az-tdx-vtpm` evidence of Azure TDX confidential VMs
//! ([`AzureTdxEvidence`]) has two encodings:
//!
//! * version 0 (no `version` field): `{"tpm_quote": {byte arrays as in
//!   version 0 above}, "hcl_report": [bytes], "td_quote": [bytes]}`;
//! * version 1: `{"version": 1, "tpm_quote": {hex form}, "hcl_report":
//!   base64url, "td_quote": base64url}`.
//!
//! `message` is the raw TPMS_ATTEST and `signature` the bare RSASSA
//! signature over it. Unknown fields are refused; base64url is accepted with
//! or without padding (RFC 4648 §5).

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use sealbuild_common::snp::SnpProduct;
use sealbuild_common::FormatError;
use serde::Deserialize;

use super::{
    verify_azure_snp, AzureError, AzureSnpClaims, AzureSnpInput, AzureTdxInput, VtpmQuoteInput,
    PCR_COUNT,
};
use crate::snp::AmdChain;

/// Which encoding the evidence came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EvidenceVersion {
    /// Byte arrays and a PEM VCEK.
    V0,
    /// Hex quote, base64url HCL report and DER VCEK.
    V1,
    /// As V1; `user-data` carries the nonce.
    V2,
}

/// The vTPM quote: TPMS_ATTEST, its signature and the sha256 PCRs 0–23.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TpmQuote {
    /// The bare RSASSA-PKCS1-v1_5 signature.
    pub signature: Vec<u8>,
    /// The TPMS_ATTEST.
    pub message: Vec<u8>,
    /// sha256 PCR 0 to 23.
    pub pcrs: [[u8; 32]; PCR_COUNT],
}

/// Azure SEV-SNP vTPM evidence, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureSnpEvidence {
    /// The encoding.
    pub version: EvidenceVersion,
    /// The HCL report.
    pub hcl_report: Vec<u8>,
    /// The VCEK, DER.
    pub vcek_der: Vec<u8>,
    /// The vTPM quote.
    pub tpm_quote: TpmQuote,
}

/// Azure TDX vTPM evidence, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureTdxEvidence {
    /// The encoding ([`EvidenceVersion::V0`] or [`EvidenceVersion::V1`]).
    pub version: EvidenceVersion,
    /// The HCL report.
    pub hcl_report: Vec<u8>,
    /// The TD quote.
    pub td_quote: Vec<u8>,
    /// The vTPM quote.
    pub tpm_quote: TpmQuote,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TdxV0 {
    tpm_quote: ByteQuote,
    hcl_report: Vec<u8>,
    td_quote: Vec<u8>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TdxV1 {
    /// Dispatched on through `Probe`.
    #[serde(rename = "version")]
    _version: u32,
    tpm_quote: HexQuote,
    hcl_report: String,
    td_quote: String,
}

#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    version: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ByteQuote {
    signature: Vec<u8>,
    message: Vec<u8>,
    pcrs: Vec<Vec<u8>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct V0 {
    quote: ByteQuote,
    report: Vec<u8>,
    vcek: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HexQuote {
    signature: String,
    message: String,
    pcrs: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct V1V2 {
    /// Dispatched on through `Probe`; named here so that it is not unknown.
    #[serde(rename = "version")]
    _version: u32,
    tpm_quote: HexQuote,
    hcl_report: String,
    vcek: String,
}

fn encoding(what: &'static str, reason: impl std::fmt::Display) -> AzureError {
    AzureError::Format(FormatError::Encoding {
        what,
        reason: reason.to_string(),
    })
}

fn json<'a, T: Deserialize<'a>>(bytes: &'a [u8], what: &'static str) -> Result<T, AzureError> {
    serde_json::from_slice(bytes).map_err(|e| encoding(what, e))
}

fn pcr_array(pcrs: Vec<Vec<u8>>) -> Result<[[u8; 32]; PCR_COUNT], AzureError> {
    if pcrs.len() != PCR_COUNT {
        return Err(AzureError::Format(FormatError::unexpected(
            "Azure evidence pcrs",
            "24 sha256 PCR values (PCR 0 to 23)",
            format_args!("{} values", pcrs.len()),
        )));
    }
    let mut out = [[0u8; 32]; PCR_COUNT];
    for (index, (slot, value)) in out.iter_mut().zip(pcrs).enumerate() {
        *slot = <[u8; 32]>::try_from(value.as_slice()).map_err(|_| {
            AzureError::Format(FormatError::unexpected(
                "Azure evidence pcrs",
                format_args!("32 bytes for sha256 PCR {index}"),
                format_args!("{} bytes", value.len()),
            ))
        })?;
    }
    Ok(out)
}

fn unhex(value: &str, what: &'static str) -> Result<Vec<u8>, AzureError> {
    hex::decode(value).map_err(|e| encoding(what, e))
}

fn base64url(value: &str, what: &'static str) -> Result<Vec<u8>, AzureError> {
    const URL_SAFE_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    URL_SAFE_ANY_PADDING
        .decode(value)
        .map_err(|e| encoding(what, e))
}

/// The DER of the one CERTIFICATE in `pem`.
pub fn pem_certificate(pem: &str) -> Result<Vec<u8>, AzureError> {
    let (label, der) =
        der::pem::decode_vec(pem.trim().as_bytes()).map_err(|e| encoding("VCEK PEM", e))?;
    if label != "CERTIFICATE" {
        return Err(encoding(
            "VCEK PEM",
            format_args!("expected a CERTIFICATE, got {label:?}"),
        ));
    }
    Ok(der)
}

impl TpmQuote {
    fn from_hex(q: HexQuote) -> Result<Self, AzureError> {
        let pcrs = q
            .pcrs
            .iter()
            .map(|p| unhex(p, "tpm_quote pcrs"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            signature: unhex(&q.signature, "tpm_quote signature")?,
            message: unhex(&q.message, "tpm_quote message")?,
            pcrs: pcr_array(pcrs)?,
        })
    }

    /// Reads the hex form (`{"signature", "message", "pcrs"}`), e.g. the
    /// `tpm_quote` of version 1 evidence.
    pub fn from_json(bytes: &[u8]) -> Result<Self, AzureError> {
        Self::from_hex(json(bytes, "TPM quote JSON")?)
    }
}

impl AzureSnpEvidence {
    /// Reads evidence in any of the three encodings.
    pub fn from_json(bytes: &[u8]) -> Result<Self, AzureError> {
        let probe: Probe = json(bytes, "Azure SEV-SNP evidence JSON")?;
        match probe.version {
            None => {
                let v0: V0 = json(bytes, "Azure SEV-SNP evidence JSON (version 0)")?;
                Ok(Self {
                    version: EvidenceVersion::V0,
                    hcl_report: v0.report,
                    vcek_der: pem_certificate(&v0.vcek)?,
                    tpm_quote: TpmQuote {
                        signature: v0.quote.signature,
                        message: v0.quote.message,
                        pcrs: pcr_array(v0.quote.pcrs)?,
                    },
                })
            }
            Some(v @ (1 | 2)) => {
                let e: V1V2 = json(bytes, "Azure SEV-SNP evidence JSON (version 1/2)")?;
                Ok(Self {
                    version: if v == 1 {
                        EvidenceVersion::V1
                    } else {
                        EvidenceVersion::V2
                    },
                    hcl_report: base64url(&e.hcl_report, "hcl_report base64url")?,
                    vcek_der: base64url(&e.vcek, "vcek base64url")?,
                    tpm_quote: TpmQuote::from_hex(e.tpm_quote)?,
                })
            }
            Some(other) => Err(AzureError::Format(FormatError::Unsupported {
                field: "Azure SEV-SNP evidence version",
                value: u64::from(other),
            })),
        }
    }

    /// The verification input for this evidence. Version 2 evidence must
    /// carry `expected_nonce` in `user-data` as well.
    pub fn input<'a>(
        &'a self,
        chain: AmdChain<'a>,
        expected_nonce: &'a [u8],
        expected_product: Option<SnpProduct>,
        at_unix_secs: u64,
    ) -> AzureSnpInput<'a> {
        AzureSnpInput {
            hcl_report: &self.hcl_report,
            vcek_der: &self.vcek_der,
            chain,
            quote: &self.tpm_quote.message,
            quote_signature: &self.tpm_quote.signature,
            pcrs: &self.tpm_quote.pcrs,
            expected_nonce,
            expected_user_data: (self.version == EvidenceVersion::V2).then_some(expected_nonce),
            expected_product,
            at_unix_secs,
        }
    }

    /// [`verify_azure_snp`] on [`Self::input`].
    pub fn verify(
        &self,
        chain: AmdChain<'_>,
        expected_nonce: &[u8],
        expected_product: Option<SnpProduct>,
        at_unix_secs: u64,
    ) -> Result<AzureSnpClaims, AzureError> {
        verify_azure_snp(&self.input(chain, expected_nonce, expected_product, at_unix_secs))
    }
}

impl AzureTdxEvidence {
    /// Reads evidence in either encoding.
    pub fn from_json(bytes: &[u8]) -> Result<Self, AzureError> {
        let probe: Probe = json(bytes, "Azure TDX evidence JSON")?;
        match probe.version {
            None => {
                let v0: TdxV0 = json(bytes, "Azure TDX evidence JSON (version 0)")?;
                Ok(Self {
                    version: EvidenceVersion::V0,
                    hcl_report: v0.hcl_report,
                    td_quote: v0.td_quote,
                    tpm_quote: TpmQuote {
                        signature: v0.tpm_quote.signature,
                        message: v0.tpm_quote.message,
                        pcrs: pcr_array(v0.tpm_quote.pcrs)?,
                    },
                })
            }
            Some(1) => {
                let e: TdxV1 = json(bytes, "Azure TDX evidence JSON (version 1)")?;
                Ok(Self {
                    version: EvidenceVersion::V1,
                    hcl_report: base64url(&e.hcl_report, "hcl_report base64url")?,
                    td_quote: base64url(&e.td_quote, "td_quote base64url")?,
                    tpm_quote: TpmQuote::from_hex(e.tpm_quote)?,
                })
            }
            Some(other) => Err(AzureError::Format(FormatError::Unsupported {
                field: "Azure TDX evidence version",
                value: u64::from(other),
            })),
        }
    }

    /// The verification input for this evidence (the quote's `extraData`
    /// must be `expected_nonce`).
    pub fn input<'a>(&'a self, expected_nonce: &'a [u8]) -> AzureTdxInput<'a> {
        AzureTdxInput {
            hcl_report: &self.hcl_report,
            td_quote: &self.td_quote,
            vtpm: self.tpm_quote.input(expected_nonce),
            expected_user_data: None,
        }
    }
}

impl TpmQuote {
    /// The quote, its signature and PCRs, to be checked against
    /// `expected_nonce`.
    pub fn input<'a>(&'a self, expected_nonce: &'a [u8]) -> VtpmQuoteInput<'a> {
        VtpmQuoteInput {
            quote: &self.message,
            signature: &self.signature,
            pcrs: &self.pcrs,
            expected_nonce,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v1(extra: &str, pcr_count: usize) -> String {
        let pcrs = vec![format!("\"{}\"", "00".repeat(32)); pcr_count].join(",");
        format!(
            r#"{{"version":1,"tpm_quote":{{"signature":"00","message":"ff","pcrs":[{pcrs}]}},"hcl_report":"SENMQQ","vcek":"MA=="{extra}}}"#
        )
    }

    #[test]
    fn shapes_and_strictness() {
        let e = AzureSnpEvidence::from_json(v1("", 24).as_bytes()).unwrap();
        assert_eq!(e.version, EvidenceVersion::V1);
        assert_eq!(e.hcl_report, b"HCLA");
        assert_eq!(e.vcek_der, vec![0x30]);
        assert_eq!(e.tpm_quote.message, vec![0xff]);
        for bad in [
            v1(r#","extra":1"#, 24),
            v1("", 23),
            v1("", 25),
            v1("", 24).replace(r#""version":1"#, r#""version":3"#),
            v1("", 24).replace(r#""version":1"#, r#""version":"1""#),
            v1("", 24).replace("SENMQQ", "SENMQQ+/"),
            r#"{"quote":{"signature":[],"message":[256],"pcrs":[]},"report":[],"vcek":""}"#
                .to_string(),
            "[]".to_string(),
        ] {
            assert!(
                matches!(
                    AzureSnpEvidence::from_json(bad.as_bytes()),
                    Err(AzureError::Format(_))
                ),
                "{bad}"
            );
        }
    }

    fn tdx_v1(extra: &str) -> String {
        let pcrs = vec![format!("\"{}\"", "00".repeat(32)); 24].join(",");
        format!(
            r#"{{"version":1,"tpm_quote":{{"signature":"00","message":"ff","pcrs":[{pcrs}]}},"hcl_report":"SENMQQ","td_quote":"BAA"{extra}}}"#
        )
    }

    #[test]
    fn tdx_shapes_and_strictness() {
        let e = AzureTdxEvidence::from_json(tdx_v1("").as_bytes()).unwrap();
        assert_eq!(e.version, EvidenceVersion::V1);
        assert_eq!(e.hcl_report, b"HCLA");
        assert_eq!(e.td_quote, vec![4, 0]);
        let v0 = format!(
            r#"{{"tpm_quote":{{"signature":[1],"message":[2],"pcrs":[{}]}},"hcl_report":[3],"td_quote":[4]}}"#,
            vec![format!("[{}]", vec!["0"; 32].join(",")); 24].join(",")
        );
        let e = AzureTdxEvidence::from_json(v0.as_bytes()).unwrap();
        assert_eq!(
            (e.version, e.hcl_report, e.td_quote),
            (EvidenceVersion::V0, vec![3], vec![4])
        );
        for bad in [
            tdx_v1(r#","vcek":"MA==""#),
            tdx_v1("").replace(r#""version":1"#, r#""version":2"#),
            tdx_v1("").replace("BAA", "B*A"),
            v0.replace(r#""td_quote":[4]"#, r#""td_quote":[400]"#),
            v1("", 24),
        ] {
            assert!(
                matches!(
                    AzureTdxEvidence::from_json(bad.as_bytes()),
                    Err(AzureError::Format(_))
                ),
                "{bad}"
            );
        }
    }
}
