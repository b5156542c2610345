//! Azure confidential VMs (SEV-SNP and TDX): the HCL report and the vTPM
//! quote.
//!
//! On an Azure SEV-SNP confidential VM the guest does not see the SEV-SNP
//! firmware. The paravisor (HCL) running at VMPL 0 requests an SNP report
//! whose REPORT_DATA is the hash of its runtime claims — a JSON document
//! naming the guest vTPM's attestation key (AK) — and stores both, as the
//! "HCL report" ([`hcl`]), in vTPM NV index `0x01400001`. The guest then
//! proves freshness and its boot state with an ordinary TPM quote signed by
//! that AK. [`verify_azure_snp`] checks the whole chain, in this order:
//!
//! 1. the HCL report parses ([`hcl::HclReport`]) and carries an SEV-SNP report
//!    (a TDX report is refused: this is the SEV-SNP verifier; TDX evidence
//!    goes to [`verify_azure_tdx`], see [`tdx`]);
//! 2. AMD ARK → ASK → VCEK → report signature, CPUID product and the VCEK's
//!    TCB/hwID extensions ([`crate::snp::verify_report`]; the TCB and CHIP_ID
//!    comparison is also made before the signature so that a tampered
//!    REPORTED_TCB is named as such);
//! 3. VMPL 0: only the paravisor can have requested the report — a guest
//!    kernel at a higher VMPL could otherwise bind a key of its choosing;
//! 4. REPORT_DATA = H(variable data) ‖ zeros, H the HCL hash type
//!    (SHA-256 in every known report);
//! 5. the variable data ([`vardata`]) names the AK `HCLAkPub` (RSA);
//! 6. the AK signed the quote: RSASSA-PKCS1-v1_5 with SHA-256 (IETF RFC 8017
//!    §8.2) over the raw TPMS_ATTEST — the signature is the bare RSA
//!    signature, not a TPMT_SIGNATURE;
//! 7. the TPMS_ATTEST is a quote (TCG TPM 2.0 Library Part 2 rev. 1.59,
//!    Table 133, TPM_ST_ATTEST_QUOTE) whose `extraData` is the verifier's
//!    nonce and whose `pcrDigest` is SHA-256(PCR0 ‖ … ‖ PCR23) of the sha256
//!    bank (Part 3 §18.4 TPM2_Quote); the selection must be exactly sha256
//!    PCRs 0–23, so every PCR value returned is covered by the signature;
//! 8. optionally, `user-data` in the variable data equals an expected value
//!    (zero-padded), which trustee's evidence version 2 sets to the nonce.
//!
//! On an Azure TDX confidential VM the HCL report carries the paravisor's TD
//! report instead (report type 4, [`hcl_tdx`]) and the guest obtains a TD
//! quote of it from the host's quoting service; [`tdx`] verifies that quote
//! (DCAP), its binding of the same variable data, and then the vTPM quote
//! exactly as steps 5–8 above.
//!
//! [`evidence`] reads the JSON encodings of this evidence used by the
//! confidential-containers trustee (versions 0, 1 and 2; for TDX 0 and 1).
//!
//! Pure: bytes, collateral and a verification time in, [`AzureSnpClaims`] or
//! [`AzureTdxClaims`] out.

pub mod evidence;
pub mod hcl;
pub mod hcl_tdx;
pub mod tdx;
pub mod vardata;

use sealbuild_common::snp::{AttestationReport, SnpProduct};
use sealbuild_common::tpm::{Attest, PcrSelectionList, PcrValues};
use sealbuild_common::{FormatError, HashAlg};
use thiserror::Error;

use crate::quote::{check_quote, CheckedQuote, QuoteError, QuoteOptions};
use crate::snp::VerifiedSnpReport;
use crate::snp::{verify_report, AmdCertExtensions, AmdChain, SnpCertError, SnpError};

pub use evidence::{AzureSnpEvidence, AzureTdxEvidence, EvidenceVersion, TpmQuote};
pub use hcl::{AnyHclReport, HclHashType, HclReport, HclReportType};
pub use hcl_tdx::HclTdxReport;
pub use tdx::{
    check_azure_tdx, check_td_report, unverified_td_claims, verify_azure_tdx, AzureTdxClaims,
    AzureTdxInput, AzureTdxOffline,
};
pub use vardata::{Jwk, RsaJwkKey, RuntimeClaims, VmConfiguration};

/// Number of PCRs of the sha256 bank an Azure vTPM quote covers.
pub const PCR_COUNT: usize = 24;

/// Why Azure SEV-SNP evidence was refused, by cause. Values are hex.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AzureError {
    /// Malformed bytes: the HCL report, a TPM structure or the evidence JSON.
    #[error("Azure SEV-SNP evidence: {0}")]
    Format(#[from] FormatError),
    /// The HCL report carries another TEE's report than the one expected.
    #[error("HCL report type: expected {expected}, got {got} ({name})")]
    ReportType {
        /// The accepted type(s), e.g. "2 (SNP_VM_REPORT)".
        expected: &'static str,
        /// The report type.
        got: u32,
        /// Its IgvmAttestReportType name.
        name: &'static str,
    },

    /// The SEV-SNP report or its AMD chain was refused.
    #[error("HCL SEV-SNP report: {0}")]
    Snp(#[from] SnpError),
    /// The report was not requested at VMPL 0.
    #[error("HCL SEV-SNP report VMPL: expected 0 (the paravisor), got {got}")]
    Vmpl {
        /// The report's VMPL.
        got: u32,
    },

    /// The TD quote of Azure TDX evidence was refused (DCAP: signatures,
    /// PCK chain, collateral, TCB), or does not parse.
    #[error("Azure TDX TD quote: {0}")]
    Tdx(crate::tdx::TdxError),
    /// The TD quote is an SGX enclave quote.
    #[error("Azure TDX TD quote: expected a TDX quote (TEE type 0x81), got an SGX quote")]
    NotTdQuote,
    /// The HCL report's TD report and the TD quote's body differ.
    #[error(
        "HCL TD report {field} differs from the TD quote's: the quote has {quote}, \
         the HCL report {hcl}"
    )]
    TdReportMismatch {
        /// The field (quote body name).
        field: &'static str,
        /// The verified quote's value, hex.
        quote: String,
        /// The HCL report's value, hex.
        hcl: String,
    },
    /// A hash inside the HCL's TD report does not cover what it should.
    #[error(
        "HCL TD report {field}: expected {computed} (SHA-384 of {covers}), the report has {reported}"
    )]
    TdReportHash {
        /// TEE_TCB_INFO_HASH or TEE_INFO_HASH.
        field: &'static str,
        /// The structure it covers.
        covers: &'static str,
        /// The hash computed over the report's bytes.
        computed: String,
        /// The hash the report carries.
        reported: String,
    },

    /// REPORT_DATA does not start with the digest of the variable data.
    #[error(
        "HCL variable data is not bound by REPORT_DATA: expected {expected} \
         ({hash} of the {len}-byte variable data), REPORT_DATA starts with {got}"
    )]
    VarDataDigest {
        /// The HCL hash type.
        hash: HashAlg,
        /// Digest of the variable data.
        expected: String,
        /// The same number of REPORT_DATA bytes.
        got: String,
        /// Length of the variable data.
        len: usize,
    },
    /// REPORT_DATA has non-zero bytes after the digest.
    #[error("REPORT_DATA[{from}..64]: expected zero, got {got}")]
    ReportDataTail {
        /// First byte after the digest.
        from: usize,
        /// The bytes, hex.
        got: String,
    },
    /// The variable data is not the runtime claims JSON.
    #[error("HCL variable data: {reason}")]
    VarData {
        /// What is wrong.
        reason: String,
    },

    /// The attestation key cannot be obtained from the variable data.
    #[error("vTPM attestation key {}: {reason}", vardata::AK_KID)]
    AkPub {
        /// What is wrong.
        reason: String,
    },

    /// The quote's signature does not verify with the AK.
    #[error(
        "vTPM quote signature (RSASSA-PKCS1-v1_5 SHA-256 over the TPMS_ATTEST, \
         SHA-256 {digest}) does not verify with {} (modulus SHA-256 {ak}): {reason}",
        vardata::AK_KID
    )]
    QuoteSignature {
        /// SHA-256 of the AK modulus.
        ak: String,
        /// SHA-256 of the TPMS_ATTEST.
        digest: String,
        /// The verifier's reason.
        reason: String,
    },
    /// The TPMS_ATTEST is malformed or is not a usable quote.
    #[error("vTPM quote: {0}")]
    Quote(QuoteError),
    /// `extraData` is not the expected nonce.
    #[error("vTPM quote nonce (extraData): expected {expected}, the quote has {got}")]
    Nonce {
        /// The verifier's nonce.
        expected: String,
        /// `extraData`.
        got: String,
    },
    /// The quote does not cover exactly sha256 PCRs 0–23.
    #[error("vTPM quote PCR selection: expected sha256:0-23, got {got}")]
    PcrSelection {
        /// The quote's selection, tpm2-tools form.
        got: String,
    },
    /// The PCR values do not give the quoted `pcrDigest`.
    #[error(
        "vTPM pcrDigest mismatch: the quote signed {quoted}, \
         SHA-256 of the supplied sha256 PCRs 0-23 is {computed}"
    )]
    PcrDigest {
        /// `pcrDigest`.
        quoted: String,
        /// Digest of the supplied values.
        computed: String,
    },

    /// `user-data` is not the expected value.
    #[error("HCL user-data: expected {expected} (zero-padded), the variable data has {got}")]
    UserData {
        /// Expected value.
        expected: String,
        /// `user-data` decoded ("(absent)" when missing).
        got: String,
    },
}

impl AzureError {
    /// The expected and the observed value this error names, for the
    /// reason an operator reads (one mapping for the service and the CLI).
    pub fn expected_observed(&self) -> (Option<String>, Option<String>) {
        let some = |s: &str| Some(s.to_string());
        match self {
            Self::Vmpl { got } => (some("0"), Some(got.to_string())),
            Self::VarDataDigest { expected, got, .. } | Self::UserData { expected, got } => {
                (Some(expected.clone()), Some(got.clone()))
            }
            Self::Nonce { expected, got } => (Some(expected.clone()), Some(got.clone())),
            Self::ReportDataTail { got, .. } => (some("zero"), Some(got.clone())),
            Self::PcrSelection { got } => (some("sha256:0-23"), Some(got.clone())),
            Self::PcrDigest { quoted, computed } => (Some(quoted.clone()), Some(computed.clone())),
            Self::NotTdQuote => (some("a TDX quote"), some("an SGX quote")),
            Self::TdReportMismatch { quote, hcl, .. } => (Some(quote.clone()), Some(hcl.clone())),
            Self::TdReportHash {
                computed, reported, ..
            } => (Some(computed.clone()), Some(reported.clone())),
            Self::ReportType {
                expected,
                got,
                name,
            } => (
                Some((*expected).to_string()),
                Some(format!("{got} ({name})")),
            ),
            _ => (None, None),
        }
    }
}

/// Everything [`verify_azure_snp`] needs; all bytes as received.
#[derive(Debug, Clone, Copy)]
pub struct AzureSnpInput<'a> {
    /// The HCL report (vTPM NV index 0x01400001), padding included.
    pub hcl_report: &'a [u8],
    /// The VCEK certificate, DER.
    pub vcek_der: &'a [u8],
    /// The pinned AMD ARK and ASK of the product.
    pub chain: AmdChain<'a>,
    /// The TPMS_ATTEST the vTPM signed.
    pub quote: &'a [u8],
    /// The bare RSASSA-PKCS1-v1_5 signature over `quote`.
    pub quote_signature: &'a [u8],
    /// The sha256 bank, PCR 0 to 23.
    pub pcrs: &'a [[u8; 32]; PCR_COUNT],
    /// The nonce the quote's `extraData` must hold.
    pub expected_nonce: &'a [u8],
    /// When set, `user-data` must equal this value zero-padded.
    pub expected_user_data: Option<&'a [u8]>,
    /// The product the report must come from (CPUID, VCEK productName).
    pub expected_product: Option<SnpProduct>,
    /// Verification time, Unix seconds (certificate validity).
    pub at_unix_secs: u64,
}

/// What verified Azure SEV-SNP evidence establishes.
#[derive(Debug, Clone, PartialEq)]
pub struct AzureSnpClaims {
    /// The SEV-SNP report, its product and its verified VCEK.
    pub snp: VerifiedSnpReport,
    /// The HCL report (its variable data is bound by REPORT_DATA).
    pub hcl: HclReport,
    /// The variable data, parsed.
    pub runtime: RuntimeClaims,
    /// `user-data`, decoded.
    pub user_data: Option<Vec<u8>>,
    /// The vTPM attestation key that signed the quote.
    pub ak: RsaJwkKey,
    /// The vTPM endorsement key, when the variable data names one.
    pub ek: Option<RsaJwkKey>,
    /// The quote's `extraData` (equal to the expected nonce).
    pub nonce: Vec<u8>,
    /// The sha256 PCRs 0–23, all covered by the quote.
    pub pcrs: [[u8; 32]; PCR_COUNT],
    /// The quote's selection, clock and firmware version.
    pub quote: CheckedQuote,
}

impl AzureSnpClaims {
    /// The SEV-SNP report.
    pub fn report(&self) -> &AttestationReport {
        &self.snp.report
    }

    /// sha256 PCR `index`, when below 24.
    pub fn pcr(&self, index: usize) -> Option<&[u8; 32]> {
        self.pcrs.get(index)
    }
}

/// Names a tampered REPORTED_TCB or CHIP_ID before the signature check (the
/// signature check in [`verify_report`] would refuse it too, less precisely).
/// Everything else about the certificate is left to [`verify_report`].
fn precheck_tcb(
    report: &AttestationReport,
    vcek_der: &[u8],
    expected: Option<SnpProduct>,
) -> Result<(), AzureError> {
    let Ok(ext) = AmdCertExtensions::from_der(vcek_der) else {
        return Ok(());
    };
    let product = report.cpuid.and_then(SnpProduct::from_cpuid).or(expected);
    match ext.check_against(report, product) {
        Err(e @ (SnpCertError::TcbMismatch { .. } | SnpCertError::ChipIdMismatch { .. })) => {
            Err(AzureError::Snp(SnpError::Cert(e)))
        }
        _ => Ok(()),
    }
}

/// REPORT_DATA = H(variable data) ‖ zeros.
pub(crate) fn check_binding(hcl: &HclReport, report_data: &[u8; 64]) -> Result<(), AzureError> {
    check_var_data_binding(hcl.hash_type, hcl.var_data(), report_data)
}

/// REPORT_DATA = H(`var_data`) ‖ zeros, H the HCL hash type (SEV-SNP
/// REPORT_DATA, TDX REPORTDATA).
pub(crate) fn check_var_data_binding(
    hash_type: HclHashType,
    var_data: &[u8],
    report_data: &[u8; 64],
) -> Result<(), AzureError> {
    let digest = hash_type.alg().digest_parts(&[var_data]);
    let (head, tail) =
        report_data
            .split_at_checked(digest.len())
            .ok_or(AzureError::VarDataDigest {
                hash: hash_type.alg(),
                expected: hex::encode(&digest),
                got: hex::encode(report_data),
                len: var_data.len(),
            })?;
    if head != digest.as_slice() {
        return Err(AzureError::VarDataDigest {
            hash: hash_type.alg(),
            expected: hex::encode(&digest),
            got: hex::encode(head),
            len: var_data.len(),
        });
    }
    if tail.iter().any(|&b| b != 0) {
        return Err(AzureError::ReportDataTail {
            from: digest.len(),
            got: hex::encode(tail),
        });
    }
    Ok(())
}

/// RSASSA-PKCS1-v1_5 / SHA-256 over the raw TPMS_ATTEST.
fn check_quote_signature(ak: &RsaJwkKey, quote: &[u8], signature: &[u8]) -> Result<(), AzureError> {
    let digest = sealbuild_common::crypto::sha256(quote);
    let fail = |reason: String| AzureError::QuoteSignature {
        ak: ak.fingerprint(),
        digest: hex::encode(digest),
        reason,
    };
    let key = ak.to_rsa().map_err(|reason| AzureError::AkPub { reason })?;
    key.verify_digest(&digest, signature)
        .map_err(|e| fail(format!("{e} ({}-byte signature)", signature.len())))
}

fn map_quote_error(e: QuoteError) -> AzureError {
    match e {
        QuoteError::QualifyingDataMismatch { expected, got } => AzureError::Nonce { expected, got },
        QuoteError::PcrDigestMismatch {
            quoted, computed, ..
        } => AzureError::PcrDigest { quoted, computed },
        other => AzureError::Quote(other),
    }
}

/// The sha256 bank selection every Azure vTPM quote covers.
fn expected_selection() -> Result<PcrSelectionList, AzureError> {
    let all: Vec<u32> = (0..24).collect();
    Ok(PcrSelectionList::new(&[(HashAlg::Sha256, &all)])?)
}

/// The vTPM quote of trustee-style Azure evidence and what it must say.
#[derive(Debug, Clone, Copy)]
pub struct VtpmQuoteInput<'a> {
    /// The TPMS_ATTEST the vTPM signed.
    pub quote: &'a [u8],
    /// The bare RSASSA-PKCS1-v1_5 signature over `quote`.
    pub signature: &'a [u8],
    /// The sha256 bank, PCR 0 to 23.
    pub pcrs: &'a [[u8; 32]; PCR_COUNT],
    /// The nonce the quote's `extraData` must hold.
    pub expected_nonce: &'a [u8],
}

/// Checks the quote: signature with the AK, type, nonce, selection and
/// pcrDigest.
pub(crate) fn check_vtpm_quote(
    input: &VtpmQuoteInput<'_>,
    ak: &RsaJwkKey,
) -> Result<(Vec<u8>, CheckedQuote), AzureError> {
    check_quote_signature(ak, input.quote, input.signature)?;
    let attest = Attest::parse(input.quote).map_err(|e| AzureError::Quote(e.into()))?;
    let mut values = PcrValues::new();
    for (index, value) in (0u32..).zip(input.pcrs.iter()) {
        values.insert(HashAlg::Sha256, index, value)?;
    }
    let checked = check_quote(
        &attest,
        input.expected_nonce,
        &values,
        &QuoteOptions::default(),
    )
    .map_err(map_quote_error)?;
    if checked.pcr_digest_alg != HashAlg::Sha256 {
        return Err(AzureError::Quote(QuoteError::PcrDigestHash {
            digest_hash: checked.pcr_digest_alg,
            signature_hash: HashAlg::Sha256,
        }));
    }
    if !checked.selection.same_pcrs(&expected_selection()?) {
        return Err(AzureError::PcrSelection {
            got: checked.selection.to_string(),
        });
    }
    Ok((attest.extra_data().to_vec(), checked))
}

pub(crate) fn check_user_data(expected: &[u8], got: Option<&[u8]>) -> Result<(), AzureError> {
    let matches = got
        .and_then(|g| g.split_at_checked(expected.len()))
        .is_some_and(|(head, tail)| head == expected && tail.iter().all(|&b| b == 0));
    if matches {
        Ok(())
    } else {
        Err(AzureError::UserData {
            expected: hex::encode(expected),
            got: got.map_or_else(|| "(absent)".to_string(), hex::encode),
        })
    }
}

/// Verifies Azure SEV-SNP confidential-VM evidence end to end (see the
/// module documentation for the order of the checks).
pub fn verify_azure_snp(input: &AzureSnpInput<'_>) -> Result<AzureSnpClaims, AzureError> {
    let hcl = HclReport::parse(input.hcl_report)?;
    precheck_tcb(&hcl.snp_report, input.vcek_der, input.expected_product)?;
    let snp = verify_report(
        hcl.snp_report_bytes(),
        input.vcek_der,
        input.chain,
        input.expected_product,
        input.at_unix_secs,
    )?;
    if snp.report.vmpl != 0 {
        return Err(AzureError::Vmpl {
            got: snp.report.vmpl,
        });
    }
    check_binding(&hcl, &snp.report.report_data)?;
    let runtime = hcl.runtime_claims()?;
    let ak = runtime.ak_pub()?;
    let ek = runtime.ek_pub()?;
    let user_data = runtime.user_data_bytes()?;
    let (nonce, quote) = check_vtpm_quote(
        &VtpmQuoteInput {
            quote: input.quote,
            signature: input.quote_signature,
            pcrs: input.pcrs,
            expected_nonce: input.expected_nonce,
        },
        &ak,
    )?;
    if let Some(expected) = input.expected_user_data {
        check_user_data(expected, user_data.as_deref())?;
    }
    Ok(AzureSnpClaims {
        snp,
        hcl,
        runtime,
        user_data,
        ak,
        ek,
        nonce,
        pcrs: *input.pcrs,
        quote,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_data_is_zero_padded_expected_value() {
        let got = [1u8, 2, 0, 0];
        assert!(check_user_data(&[1, 2], Some(&got)).is_ok());
        assert!(check_user_data(&[], Some(&[0, 0])).is_ok());
        assert!(check_user_data(&[1, 2], Some(&[1, 2, 0, 3])).is_err());
        assert!(check_user_data(&[1, 2, 0, 0, 0], Some(&got)).is_err());
        assert_eq!(
            check_user_data(&[1], None),
            Err(AzureError::UserData {
                expected: "01".into(),
                got: "(absent)".into()
            })
        );
    }

    #[test]
    fn expected_selection_is_sha256_0_to_23() {
        assert_eq!(
            expected_selection().unwrap().to_string(),
            "sha256:0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23"
        );
    }
}
