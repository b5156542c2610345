//! The pure verification core of sealbuild.
//!
//! Bytes, collateral and a verification time go in; typed, explained results
//! come out. Nothing here opens a file, a socket or reads a clock.
//!
//! * [`quote`]: TPM quote signature and content checks, AK attributes.
//! * [`ekcert`]: EK certificate chains against TPM manufacturer CAs.
//! * [`credential`]: TPM2_MakeCredential in software (AK ↔ EK binding).
//! * [`registration`]: the checks of an agent's registration.
//! * [`claims`], [`policy`]: verified claims and their appraisal.
//! * [`appraise`]: the whole TPM evidence appraisal, end to end.
//! * [`platform`]: the seam: one verifier per platform and their registry.
//! * [`ear`]: attestation results (EAR in COSE_Sign1).
//! * [`bundle`]: offline verification of sealed-build bundles.
//! * [`azure`]: Azure confidential VMs, SEV-SNP and TDX (HCL report, TD
//!   quote, vTPM quote).
//! * [`tdx`]: Intel TDX / SGX DCAP quotes (signatures, PCK chain, TCB status).

pub mod appraise;
pub mod azure;
pub mod bundle;
pub mod claims;
pub mod credential;
pub mod ear;
pub mod ekcert;
pub mod error;
pub mod platform;
pub mod policy;
pub mod quote;
pub mod registration;
pub mod snp;
pub mod tdx;

pub use error::Error;

/// HPKE sealing of released keys (shared with the agent, which opens them).
pub use sealbuild_common::seal;
