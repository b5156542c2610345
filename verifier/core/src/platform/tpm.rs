//! TPM 2.0 evidence (hardware TPM, vTPM, swtpm): registered attesters, quote
//! and logs checked by [`crate::appraise::verify_tpm`].

use super::{
    wrong_platform, CollateralNeed, Enrolment, EvidenceVerifier, TpmOptions, VerifyContext,
};
use crate::appraise::{verify_tpm, TpmInput};
use crate::claims::PlatformClaims;
use sealbuild_common::api::{Evidence, Reason};
use sealbuild_common::Platform;

/// The verifier of TPM evidence.
#[derive(Debug, Clone)]
pub struct TpmVerifier {
    options: TpmOptions,
}

impl TpmVerifier {
    /// With these replay / hash / runtime-PCR options.
    pub fn new(options: TpmOptions) -> Self {
        Self { options }
    }
}

impl EvidenceVerifier for TpmVerifier {
    fn platform(&self) -> Platform {
        Platform::Tpm
    }

    fn checks_summary(&self) -> &'static str {
        "TPM quote, binding, PCRs, firmware and runtime logs re-verified"
    }

    fn enrolment(&self) -> Enrolment {
        Enrolment::Registration
    }

    fn collateral_need(&self, _evidence: &Evidence) -> CollateralNeed {
        CollateralNeed::None
    }

    fn verify(
        &self,
        evidence: &Evidence,
        cx: &VerifyContext<'_>,
    ) -> Result<PlatformClaims, Vec<Reason>> {
        let Evidence::Tpm(tpm) = evidence else {
            return Err(wrong_platform(Platform::Tpm, evidence));
        };
        let Some(registered) = cx.registered else {
            return Err(vec![Reason::new(
                "agent",
                Some("a registered, active agent".into()),
                Some(cx.agent_id.chars().take(80).collect()),
                "TPM evidence needs the AK of a registered agent".into(),
            )]);
        };
        verify_tpm(&TpmInput {
            ak_public: &registered.ak_public,
            binding: cx.binding,
            evidence: tpm,
            replay_pcrs: &self.options.replay_pcrs,
            options: self.options.quote,
            ek_root_fingerprint: registered.ek_root_fingerprint.clone(),
            ek_root_subject: registered.ek_root_subject.clone(),
            runtime_pcr: self.options.runtime_pcr,
            statement_digest: cx.statement_digest,
        })
        .map(PlatformClaims::Tpm)
    }
}
