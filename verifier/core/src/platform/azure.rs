//! Azure confidential VMs on SEV-SNP: the paravisor's HCL report vouches for
//! a vTPM, whose quote and logs then follow the TPM rules.
//!
//! 1. The HCL report parses ([`crate::azure::hcl`]); its SEV-SNP report is
//!    verified like any SNP evidence (AMD roots, VCEK/VLEK, TCB, CRLs) but
//!    its REPORT_DATA binds the HCL variable data, not the sealbuild binding
//!    (`H(variable data) || zeros`, [`crate::azure`] module docs), and it
//!    must come from VMPL 0 (the paravisor).
//! 2. The variable data names the vTPM attestation key (`HCLAkPub`, an RSA
//!    JWK). That key, vouched for by the hardware-signed report rather than by
//!    an EK certificate, verifies the vTPM quote; the quote's qualifying data
//!    is the sealbuild binding, its PCRs are replayed from the event log and
//!    the runtime log exactly as for a TPM ([`crate::appraise::verify_tpm`]).
//!
//! No registration: Azure attesters use agent ids `azure:<label>`.

use super::snp::{need_for_report, verify_report_in};
use super::{
    wrong_platform, CollateralNeed, Enrolment, EvidenceVerifier, TpmOptions, VerifyContext,
};
use crate::appraise::{verify_tpm, TpmInput};
use crate::azure::hcl::HclReport;
use crate::azure::{check_binding, AzureError};
use crate::claims::{AzureClaims, PlatformClaims};
use crate::snp::AmdRoots;
use sealbuild_common::api::{Evidence, Reason};
use sealbuild_common::tpm::{
    AsymScheme, ObjectAttribute, ObjectAttributes, Public, PublicBody, RsaPublic, SymDefObject,
};
use sealbuild_common::{HashAlg, Platform};
use std::sync::Arc;

/// The verifier of Azure confidential-VM evidence.
#[derive(Debug, Clone)]
pub struct AzureVerifier {
    roots: Arc<AmdRoots>,
    tpm: TpmOptions,
}

impl AzureVerifier {
    /// Trusting AMD `roots`, with these vTPM options.
    pub fn new(roots: Arc<AmdRoots>, tpm: TpmOptions) -> Self {
        Self { roots, tpm }
    }
}

fn azure_reason(check: &str, e: AzureError) -> Vec<Reason> {
    vec![Reason::new(check, None, None, e.to_string())]
}

/// The HCL AK as a TPM public area: an RSA restricted signing key with the
/// attributes of a TPM-resident AK. Azure provisions `HCLAkPub` that way at
/// persistent handle 0x81000003; here the hardware-signed HCL report, not
/// the attributes, is what vouches for it.
fn ak_public(n: &[u8], e: &[u8]) -> Result<Vec<u8>, String> {
    let bits = u16::try_from(n.len() * 8).map_err(|_| "AK modulus too large".to_string())?;
    let exponent = e
        .iter()
        .try_fold(0u32, |acc, b| {
            acc.checked_mul(256).map(|a| a | u32::from(*b))
        })
        .ok_or_else(|| "AK exponent exceeds 32 bits".to_string())?;
    let exponent = if exponent == 65537 { 0 } else { exponent };
    let body = RsaPublic::new(SymDefObject::Null, AsymScheme::Null, bits, exponent, n)
        .map_err(|e| format!("AK: {e}"))?;
    let attrs = ObjectAttributes::from_attributes(&[
        ObjectAttribute::FixedTpm,
        ObjectAttribute::FixedParent,
        ObjectAttribute::SensitiveDataOrigin,
        ObjectAttribute::UserWithAuth,
        ObjectAttribute::Restricted,
        ObjectAttribute::SignEncrypt,
    ]);
    Public::new(HashAlg::Sha256, attrs, &[], PublicBody::Rsa(body))
        .map(|p| p.to_tpm2b_bytes())
        .map_err(|e| format!("AK: {e}"))
}

impl EvidenceVerifier for AzureVerifier {
    fn platform(&self) -> Platform {
        Platform::Azure
    }

    fn checks_summary(&self) -> &'static str {
        "Azure HCL report (AMD chain, variable-data binding) and vTPM quote, binding, PCRs and logs re-verified"
    }

    fn enrolment(&self) -> Enrolment {
        Enrolment::Hardware
    }

    fn collateral_need(&self, evidence: &Evidence) -> CollateralNeed {
        match evidence {
            Evidence::Azure(az) => match HclReport::parse(&az.hcl_report) {
                Ok(hcl) => need_for_report(hcl.snp_report_bytes()),
                Err(_) => CollateralNeed::None,
            },
            _ => CollateralNeed::None,
        }
    }

    fn verify(
        &self,
        evidence: &Evidence,
        cx: &VerifyContext<'_>,
    ) -> Result<PlatformClaims, Vec<Reason>> {
        let Evidence::Azure(az) = evidence else {
            return Err(wrong_platform(Platform::Azure, evidence));
        };
        let hcl = HclReport::parse(&az.hcl_report).map_err(|e| azure_reason("azure_hcl", e))?;
        // REPORT_DATA binds the HCL variable data (checked below), not the
        // sealbuild binding: that one is in the vTPM quote.
        let snp = verify_report_in(
            &self.roots,
            hcl.snp_report_bytes(),
            &az.certificates,
            cx,
            None,
        )?;
        if snp.report.vmpl != 0 {
            return Err(azure_reason(
                "azure_vmpl",
                AzureError::Vmpl {
                    got: snp.report.vmpl,
                },
            ));
        }
        check_binding(&hcl, &snp.report.report_data)
            .map_err(|e| azure_reason("azure_binding", e))?;
        let ak = hcl
            .runtime_claims()
            .and_then(|r| r.ak_pub())
            .map_err(|e| azure_reason("azure_ak", e))?;
        let ak_public = ak
            .to_rsa()
            .and_then(|_| ak_public(&ak.n, &ak.e))
            .map_err(|reason| {
                vec![Reason::new(
                    "azure_ak",
                    None,
                    None,
                    format!("HCLAkPub is not a usable vTPM AK: {reason}"),
                )]
            })?;
        let tpm = verify_tpm(&TpmInput {
            ak_public: &ak_public,
            binding: cx.binding,
            evidence: &az.tpm,
            replay_pcrs: &self.tpm.replay_pcrs,
            options: self.tpm.quote,
            ek_root_fingerprint: None,
            ek_root_subject: None,
            runtime_pcr: self.tpm.runtime_pcr,
            statement_digest: cx.statement_digest,
        })?;
        Ok(PlatformClaims::Azure(Box::new(AzureClaims {
            snp,
            tpm,
            ak_fingerprint: ak.fingerprint(),
        })))
    }
}
