//! The seam between evidence and verdict: one verifier per platform.
//!
//! In the words of RFC 9334 (RATS architecture) §3, each implementation of
//! [`EvidenceVerifier`] is the verifier of one kind of evidence: it says how
//! its attesters are known ([`Enrolment`]), which collateral the I/O edge
//! should look up ([`CollateralNeed`]), and turns evidence bytes, the
//! expected binding, a time, collateral and trust anchors into typed
//! [`PlatformClaims`] or explained [`Reason`]s. It is pure: nothing here
//! reads a file, a socket or a clock.
//!
//! [`Registry`] maps a [`Platform`] to its verifier. The service, offline
//! bundle verification and the command line all go through it, so a new
//! platform adds its module below and one line in [`Registry::new`]
//! (see `docs/ARCHITECTURE.md`, "Adding a platform").

use crate::claims::PlatformClaims;
use crate::quote::QuoteOptions;
use crate::snp::AmdRoots;
use crate::tdx::{IntelRoot, PckCa, TdxCollateral};
use sealbuild_common::api::{Evidence, Reason};
use sealbuild_common::platform::parse_attester_id;
use sealbuild_common::snp::AttestationReport;
use sealbuild_common::Platform;
use std::sync::Arc;

mod azure;
mod snp;
mod tdx;
mod tpm;

pub use azure::AzureVerifier;
pub use snp::SnpVerifier;
pub use tdx::{
    check_ccel as tdx_ccel_reasons, check_runtime_log as tdx_runtime_log_reasons, tdx_reason,
    tdx_report_data, TdxVerifier, RUNTIME_RTMR,
};
pub use tpm::TpmVerifier;

/// How the verifier knows an attester before it sees its evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enrolment {
    /// The attester registers first (EK certificate, MakeCredential /
    /// ActivateCredential) and attests under its registered AK.
    Registration,
    /// The evidence is signed by a key the hardware vendor certifies (an SNP
    /// report, an HCL report); the attester needs no registration and uses
    /// an agent id `<platform>:<label>`.
    Hardware,
}

/// What the verifier knows of a registered attester.
#[derive(Debug, Clone, Default)]
pub struct Registered {
    /// TPM2B_PUBLIC of the activated AK.
    pub ak_public: Vec<u8>,
    /// SHA-256 (hex) of the EK's trust anchor.
    pub ek_root_fingerprint: Option<String>,
    /// Subject of that anchor.
    pub ek_root_subject: Option<String>,
}

/// Endorsement material gathered at the I/O edge for one piece of evidence.
/// Untrusted until a verifier chains it to a built-in anchor.
#[derive(Debug, Clone, Default)]
pub struct Collateral {
    /// SEV-SNP VCEK/VLEK candidates (DER) from the collateral store.
    pub snp_keys: Vec<Vec<u8>>,
    /// AMD CRLs (DER).
    pub snp_crls: Vec<Vec<u8>>,
    /// Intel DCAP collateral (TCB Info, QE Identity, CRLs) for a TDX quote.
    pub tdx: Option<Box<TdxCollateral>>,
}

/// What the I/O edge should look up before verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CollateralNeed {
    /// Nothing.
    None,
    /// The VCEK for this report's CHIP_ID and REPORTED_TCB (or the VLEKs),
    /// and the AMD CRLs of its product.
    SnpEndorsement(Box<AttestationReport>),
    /// The DCAP collateral of a TDX quote: TCB Info for its PCK's FMSPC,
    /// the TDX QE Identity, the PCK CRL of the PCK's issuing CA and the
    /// root CA CRL.
    TdxDcap {
        /// FMSPC of the quote's PCK certificate.
        fmspc: [u8; 6],
        /// The CA that issued the PCK certificate.
        ca: PckCa,
    },
}

/// Everything but the evidence itself that a verification needs.
#[derive(Debug, Clone, Copy)]
pub struct VerifyContext<'a> {
    /// The attester's id as sent.
    pub agent_id: &'a str,
    /// The registered attester, for platforms with [`Enrolment::Registration`].
    pub registered: Option<&'a Registered>,
    /// The binding digest (nonce, ephemeral key, statement) the evidence
    /// must carry.
    pub binding: &'a [u8; 32],
    /// The statement digest bound into the evidence, for sealed builds.
    pub statement_digest: Option<[u8; 32]>,
    /// Verification time, Unix seconds.
    pub now: u64,
    /// Collateral gathered for this evidence.
    pub collateral: &'a Collateral,
}

/// The verifier of one kind of evidence.
pub trait EvidenceVerifier: Send + Sync {
    /// The platform whose evidence it verifies.
    fn platform(&self) -> Platform;

    /// How its attesters are known.
    fn enrolment(&self) -> Enrolment;

    /// What a successful [`Self::verify`] established, in one line (for
    /// reports such as `verify bundle`'s).
    fn checks_summary(&self) -> &'static str;

    /// Collateral to look up for `evidence` (parsing only, no trust).
    fn collateral_need(&self, evidence: &Evidence) -> CollateralNeed;

    /// Verifies `evidence` in `cx`; typed claims, or every reason it failed.
    fn verify(
        &self,
        evidence: &Evidence,
        cx: &VerifyContext<'_>,
    ) -> Result<PlatformClaims, Vec<Reason>>;
}

/// Options of TPM-style evidence (TPMs and the vTPM of Azure CVMs).
#[derive(Debug, Clone)]
pub struct TpmOptions {
    /// PCRs whose quoted values the firmware event log must explain.
    pub replay_pcrs: Vec<u32>,
    /// Hash-algorithm policy of quotes.
    pub quote: QuoteOptions,
    /// The PCR sealed builds extend.
    pub runtime_pcr: u32,
}

impl Default for TpmOptions {
    fn default() -> Self {
        Self {
            replay_pcrs: vec![0, 1, 2, 3, 4, 5, 6, 7],
            quote: QuoteOptions::default(),
            runtime_pcr: 23,
        }
    }
}

/// Trust anchors and options the verifiers are built with.
#[derive(Debug, Clone)]
pub struct Anchors {
    /// AMD ARK/ASK/ASVK roots (built in; an insecure test chain only where
    /// the caller's build and configuration allow it).
    pub amd: Arc<AmdRoots>,
    /// TPM options.
    pub tpm: TpmOptions,
    /// The Intel SGX Root CA of DCAP quotes (built in).
    pub intel: Arc<IntelRoot>,
}

impl Default for Anchors {
    fn default() -> Self {
        Self {
            amd: Arc::new(AmdRoots::builtin()),
            tpm: TpmOptions::default(),
            intel: Arc::new(IntelRoot::builtin()),
        }
    }
}

/// The one map from a platform to its verifier.
pub struct Registry {
    verifiers: Vec<Box<dyn EvidenceVerifier>>,
}

impl Registry {
    /// Every platform's verifier, built with `anchors`. A new platform adds
    /// one line here.
    pub fn new(anchors: &Anchors) -> Self {
        Self {
            verifiers: vec![
                Box::new(TpmVerifier::new(anchors.tpm.clone())),
                Box::new(SnpVerifier::new(anchors.amd.clone())),
                Box::new(
                    AzureVerifier::new(anchors.amd.clone(), anchors.tpm.clone())
                        .with_intel_root(anchors.intel.clone()),
                ),
                Box::new(TdxVerifier::new(anchors.intel.clone())),
            ],
        }
    }

    /// The verifier of `platform`.
    pub fn get(&self, platform: Platform) -> Result<&dyn EvidenceVerifier, Reason> {
        self.verifiers
            .iter()
            .find(|v| v.platform() == platform)
            .map(|v| v.as_ref())
            .ok_or_else(|| {
                Reason::new(
                    "platform",
                    Some("a platform this verifier supports".into()),
                    Some(platform.name().into()),
                    format!("this verifier has no verifier for platform '{platform}'"),
                )
            })
    }

    /// The platform of a hardware-vouched attester id (`snp:<label>`,
    /// `azure:<label>`): `Some` only when that platform's verifier has
    /// [`Enrolment::Hardware`]. Any other id must be registered.
    pub fn hardware_attester(&self, agent_id: &str) -> Option<Platform> {
        let (platform, _) = parse_attester_id(agent_id)?;
        let v = self.get(platform).ok()?;
        (v.enrolment() == Enrolment::Hardware).then_some(platform)
    }

    /// How the attester with this id is known.
    pub fn enrolment_of(&self, agent_id: &str) -> Enrolment {
        match self.hardware_attester(agent_id) {
            Some(_) => Enrolment::Hardware,
            None => Enrolment::Registration,
        }
    }
}

/// A reason for evidence handed to the verifier of another platform (an
/// internal error: the registry dispatches on `Evidence::platform`).
pub(crate) fn wrong_platform(expected: Platform, got: &Evidence) -> Vec<Reason> {
    vec![Reason::new(
        "platform",
        Some(expected.name().into()),
        Some(got.platform().name().into()),
        format!(
            "the {expected} verifier was given {} evidence",
            got.platform()
        ),
    )]
}
