//! Azure confidential VMs on SEV-SNP and TDX: the paravisor's HCL report
//! vouches for a vTPM, whose quote and logs then follow the TPM rules. The
//! verifier dispatches on the HCL report type.
//!
//! 1. The HCL report parses ([`crate::azure::hcl`]). Report type 2: its
//!    SEV-SNP report is verified like any SNP evidence (AMD roots, VCEK/VLEK,
//!    TCB, CRLs) but its REPORT_DATA binds the HCL variable data, not the
//!    sealbuild binding (`H(variable data) || zeros`, [`crate::azure`]
//!    module docs), and it must come from VMPL 0 (the paravisor). Report
//!    type 4: the evidence's `td_quote` is DCAP-verified with the collateral
//!    the I/O edge gathered for its FMSPC (as [`super::tdx`] does), its
//!    REPORT_DATA binds the variable data the same way, and the HCL's TD
//!    report must equal the quoted one ([`crate::azure::tdx`]).
//! 2. The variable data names the vTPM attestation key (`HCLAkPub`, an RSA
//!    JWK). That key, vouched for by the hardware-signed report rather than by
//!    an EK certificate, verifies the vTPM quote; the quote's qualifying data
//!    is the sealbuild binding, its PCRs are replayed from the event log and
//!    the runtime log exactly as for a TPM ([`crate::appraise::verify_tpm`]).
//!
//! No registration: Azure attesters use agent ids `azure:<label>`.

use super::snp::{need_for_report, verify_report_in};
use super::tdx::tdx_reason;
use super::{
    wrong_platform, CollateralNeed, Enrolment, EvidenceVerifier, TpmOptions, VerifyContext,
};
use crate::appraise::{verify_tpm, TpmInput};
use crate::azure::hcl::{AnyHclReport, HclReport};
use crate::azure::tdx::check_td_report;
use crate::azure::{check_binding, check_var_data_binding, AzureError, HclTdxReport};
use crate::claims::{AzureClaims, AzureTeeClaims, PlatformClaims, TdxClaims, TpmClaims};
use crate::snp::{AmdRoots, SnpChainCache};
use crate::tdx::pck::unverified_pck_identity;
use crate::tdx::{verify_quote_with_root, IntelRoot, QuoteClaims, TdClaims};
use sealbuild_common::api::{AzureEvidence, Evidence, Reason};
use sealbuild_common::tdx::Quote;
use sealbuild_common::tpm::{
    AsymScheme, ObjectAttribute, ObjectAttributes, Public, PublicBody, RsaPublic, SymDefObject,
};
use sealbuild_common::{HashAlg, Platform};
use std::sync::Arc;

/// The verifier of Azure confidential-VM evidence.
#[derive(Debug, Clone)]
pub struct AzureVerifier {
    roots: Arc<AmdRoots>,
    /// The AMD chains of the HCL reports it verified.
    snp_chains: Arc<SnpChainCache>,
    intel: Arc<IntelRoot>,
    tpm: TpmOptions,
}

impl AzureVerifier {
    /// Trusting AMD `roots` and the built-in Intel SGX Root CA, with these
    /// vTPM options.
    pub fn new(roots: Arc<AmdRoots>, tpm: TpmOptions) -> Self {
        Self {
            roots,
            snp_chains: Arc::new(SnpChainCache::default()),
            intel: Arc::new(IntelRoot::builtin()),
            tpm,
        }
    }

    /// Trusting `intel` for the TD quotes of Azure TDX VMs.
    pub fn with_intel_root(mut self, intel: Arc<IntelRoot>) -> Self {
        self.intel = intel;
        self
    }
}

fn azure_reason(check: &str, e: AzureError) -> Vec<Reason> {
    let (expected, observed) = e.expected_observed();
    vec![Reason::new(check, expected, observed, e.to_string())]
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
        "Azure HCL report (SEV-SNP: AMD chain; TDX: DCAP TD quote and TD report; variable-data \
         binding) and vTPM quote, binding, PCRs and logs re-verified"
    }

    fn enrolment(&self) -> Enrolment {
        Enrolment::Hardware
    }

    fn collateral_need(&self, evidence: &Evidence) -> CollateralNeed {
        match evidence {
            Evidence::Azure(az) => match AnyHclReport::parse(&az.hcl_report) {
                Ok(AnyHclReport::Snp(hcl)) => need_for_report(hcl.snp_report_bytes()),
                // Verification names a missing or malformed quote.
                Ok(AnyHclReport::Tdx(_)) => match az.td_quote.as_deref().map(Quote::parse) {
                    Some(Ok(q)) => match unverified_pck_identity(&q) {
                        Ok((fmspc, ca)) => CollateralNeed::TdxDcap { fmspc, ca },
                        Err(_) => CollateralNeed::None,
                    },
                    _ => CollateralNeed::None,
                },
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
        match AnyHclReport::parse(&az.hcl_report).map_err(|e| azure_reason("azure_hcl", e))? {
            AnyHclReport::Snp(hcl) => self.verify_snp(az, &hcl, cx),
            AnyHclReport::Tdx(hcl) => self.verify_tdx(az, &hcl, cx),
        }
    }
}

impl AzureVerifier {
    /// HCL report type 2.
    fn verify_snp(
        &self,
        az: &AzureEvidence,
        hcl: &HclReport,
        cx: &VerifyContext<'_>,
    ) -> Result<PlatformClaims, Vec<Reason>> {
        if az.td_quote.is_some() {
            return Err(vec![Reason::new(
                "azure_td_quote",
                Some("none (an SEV-SNP HCL report has no TD quote)".into()),
                Some("a TD quote".into()),
                "Azure evidence with an SEV-SNP HCL report carries a TD quote".into(),
            )]);
        }
        // REPORT_DATA binds the HCL variable data (checked below), not the
        // sealbuild binding: that one is in the vTPM quote.
        let snp = verify_report_in(
            &self.roots,
            &self.snp_chains,
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
        check_binding(hcl, &snp.report.report_data)
            .map_err(|e| azure_reason("azure_binding", e))?;
        let (tpm, ak_fingerprint) = self.verify_vtpm(hcl.runtime_claims(), az, cx)?;
        Ok(PlatformClaims::Azure(Box::new(AzureClaims {
            tee: AzureTeeClaims::Snp(Box::new(snp)),
            tpm,
            ak_fingerprint,
        })))
    }

    /// HCL report type 4: DCAP on the TD quote, then its binding of the
    /// variable data and the HCL TD report.
    fn verify_tdx(
        &self,
        az: &AzureEvidence,
        hcl: &HclTdxReport,
        cx: &VerifyContext<'_>,
    ) -> Result<PlatformClaims, Vec<Reason>> {
        let Some(quote) = az.td_quote.as_deref() else {
            return Err(vec![Reason::new(
                "azure_td_quote",
                Some("the TD quote of the HCL report's TD report".into()),
                Some("none".into()),
                "Azure evidence with a TDX HCL report carries no TD quote".into(),
            )]);
        };
        let Some(collateral) = cx.collateral.tdx.as_deref() else {
            // Name a malformed quote before the missing collateral.
            let q = Quote::parse(quote).map_err(|e| vec![tdx_reason(&e.into())])?;
            return Err(vec![missing_collateral(&q)]);
        };
        let v = verify_quote_with_root(quote, collateral, &self.intel, cx.now)
            .map_err(|e| vec![tdx_reason(&e)])?;
        let QuoteClaims::Td(td) = &v.claims else {
            return Err(azure_reason("azure_td_quote", AzureError::NotTdQuote));
        };
        let (tpm, ak_fingerprint) = self.tdx_after_dcap(az, hcl, td, cx)?;
        let tdx = TdxClaims {
            version: v.version,
            body_type: v.body_type,
            td: td.as_ref().clone(),
            fmspc: v.fmspc,
            pce_id: v.pce_id,
            pck_ca: v.pck_ca,
            pck_fingerprint: v.pck_fingerprint,
            tcb: v.tcb.clone(),
            collateral_valid_until: v.collateral_valid_until,
            ccel_replayed: false,
            runtime_log_replayed: false,
        };
        Ok(PlatformClaims::Azure(Box::new(AzureClaims {
            tee: AzureTeeClaims::Tdx(Box::new(tdx)),
            tpm,
            ak_fingerprint,
        })))
    }

    /// The checks after DCAP, on the verified quote's TD report `td`: its
    /// REPORT_DATA binds the variable data, the HCL's TD report is the
    /// quoted one, and the AK verifies the vTPM side.
    fn tdx_after_dcap(
        &self,
        az: &AzureEvidence,
        hcl: &HclTdxReport,
        td: &TdClaims,
        cx: &VerifyContext<'_>,
    ) -> Result<(TpmClaims, String), Vec<Reason>> {
        check_var_data_binding(hcl.hash_type, hcl.var_data(), &td.report_data)
            .map_err(|e| azure_reason("azure_binding", e))?;
        check_td_report(hcl, td).map_err(|e| azure_reason("azure_td_report", e))?;
        self.verify_vtpm(hcl.runtime_claims(), az, cx)
    }

    /// The AK the (bound) variable data names verifies the vTPM quote,
    /// binding, PCRs and logs.
    fn verify_vtpm(
        &self,
        runtime: Result<crate::azure::RuntimeClaims, AzureError>,
        az: &AzureEvidence,
        cx: &VerifyContext<'_>,
    ) -> Result<(TpmClaims, String), Vec<Reason>> {
        let ak = runtime
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
        Ok((tpm, ak.fingerprint()))
    }
}

/// The reason for a TD quote without collateral in the store.
fn missing_collateral(q: &Quote) -> Reason {
    let fmspc = unverified_pck_identity(q)
        .map(|(f, ca)| format!("FMSPC {} ({} CA)", hex::encode(f), ca.as_str()))
        .unwrap_or_else(|_| "the TD quote's FMSPC".into());
    Reason::new(
        "tdx_collateral",
        Some(format!("TCB Info, QE Identity and CRLs for {fmspc}")),
        Some("none".into()),
        format!("no DCAP collateral for {fmspc} in the collateral store (Azure TDX TD quote)"),
    )
}

#[cfg(test)]
mod tests {
    //! The post-DCAP half of the Azure TDX path on the real vectors of the
    //! test-data MANIFEST §2.10 (their DCAP collateral is not in the test
    //! data): with the quote's TD report, the whole chain verifies up to
    //! the sealbuild binding, which Azure's "challenge" nonce is not.
    use super::*;
    use crate::platform::Collateral;
    use sealbuild_common::api::TpmEvidence;
    use std::collections::BTreeMap;

    macro_rules! data {
        ($p:literal) => {
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../tests/data/azure/az-tdx-vtpm/",
                $p
            ))
        };
    }

    fn evidence() -> AzureEvidence {
        let q: serde_json::Value = serde_json::from_slice(data!("tpm-quote-v1.json")).unwrap();
        let raw = hex::decode(q["signature"].as_str().unwrap()).unwrap();
        // TPMT_SIGNATURE: TPM_ALG_RSASSA, TPM_ALG_SHA256, TPM2B signature.
        let mut signature = vec![0x00, 0x14, 0x00, 0x0b];
        signature.extend_from_slice(&u16::try_from(raw.len()).unwrap().to_be_bytes());
        signature.extend_from_slice(&raw);
        let pcrs: BTreeMap<u32, String> = (0u32..)
            .zip(q["pcrs"].as_array().unwrap())
            .map(|(i, v)| (i, v.as_str().unwrap().to_string()))
            .collect();
        AzureEvidence {
            hcl_report: data!("hcl-report.bin").to_vec(),
            certificates: vec![],
            td_quote: Some(data!("td-quote.bin").to_vec()),
            tpm: TpmEvidence {
                quote: hex::decode(q["message"].as_str().unwrap()).unwrap(),
                signature,
                pcrs: BTreeMap::from([("sha256".to_string(), pcrs)]),
                event_log: None,
                runtime_log: None,
            },
        }
    }

    fn after_dcap(az: &AzureEvidence) -> Vec<String> {
        let v = AzureVerifier::new(Arc::new(AmdRoots::builtin()), TpmOptions::default());
        let collateral = Collateral::default();
        let cx = VerifyContext {
            agent_id: "azure:test",
            registered: None,
            binding: &[7; 32],
            statement_digest: None,
            now: 1_748_736_000,
            collateral: &collateral,
        };
        let hcl = HclTdxReport::parse(&az.hcl_report).unwrap();
        let q = Quote::parse(az.td_quote.as_deref().unwrap()).unwrap();
        let td = TdClaims::from(q.td_report().unwrap());
        match v.tdx_after_dcap(az, &hcl, &td, &cx) {
            Ok(_) => vec![],
            Err(r) => r.into_iter().map(|r| r.check).collect(),
        }
    }

    #[test]
    fn real_vectors_verify_up_to_the_sealbuild_binding() {
        assert_eq!(after_dcap(&evidence()), ["binding"]);
        // The variable data, no longer what REPORT_DATA binds (MANIFEST:
        // hcl[0x880] += 1).
        let mut az = evidence();
        az.hcl_report[0x880] = az.hcl_report[0x880].wrapping_add(1);
        assert_eq!(after_dcap(&az), ["azure_binding"]);
        // The HCL's TD REPORTDATA tail: the HCL report is not the quoted one.
        let mut az = evidence();
        az.hcl_report[0x20 + 0x80 + 40] = 1;
        assert_eq!(after_dcap(&az), ["azure_td_report"]);
        // The vTPM quote's signature by HCLAkPub.
        let mut az = evidence();
        let n = az.tpm.quote.len();
        az.tpm.quote[n - 1] ^= 1;
        assert_eq!(after_dcap(&az), ["quote_signature"]);
    }

    #[test]
    fn without_collateral_or_quote_the_reason_names_what_is_missing() {
        let v = AzureVerifier::new(Arc::new(AmdRoots::builtin()), TpmOptions::default());
        let collateral = Collateral::default();
        let cx = VerifyContext {
            agent_id: "azure:test",
            registered: None,
            binding: &[7; 32],
            statement_digest: None,
            now: 1_748_736_000,
            collateral: &collateral,
        };
        let run = |az: AzureEvidence| match v.verify(&Evidence::Azure(az), &cx) {
            Ok(_) => panic!("accepted"),
            Err(r) => r,
        };
        let r = run(evidence());
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].check, "tdx_collateral");
        assert!(
            r[0].message.contains("no DCAP collateral for FMSPC"),
            "{r:?}"
        );
        let mut az = evidence();
        az.td_quote = None;
        assert_eq!(run(az)[0].check, "azure_td_quote");
        let mut az = evidence();
        az.td_quote = Some(vec![4, 0, 2, 0]);
        let r = run(az);
        assert_eq!(r[0].check, "tdx_quote", "{r:?}");
    }
}
