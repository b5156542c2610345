//! The sealbuild agent library.
//!
//! * [`evidence`]: the one collector trait ([`evidence::EvidenceCollector`]:
//!   identity, runtime log, evidence, raw evidence files) and the crate's
//!   error type.
//! * [`tpm`]: the TPM 2.0 backend (tss-esapi): EK, AK, ActivateCredential,
//!   quotes, the runtime log in PCR 23; its collector.
//! * [`snp`]: AMD SEV-SNP guest reports (configfs-tsm, /dev/sev-guest) and the
//!   host's certificate table; its collector.
//! * [`azure`]: Azure confidential VMs (HCL report and vTPM quote); its
//!   collector.
//! * [`tdx`]: Intel TDX guests (TD quotes through configfs-tsm, the CCEL,
//!   the sealed build's log in RTMR3); its collector.
//! * [`client`]: the verifier's HTTPS API, with CA trust or certificate pinning.
//! * [`flow`]: enrolment and attestation against the verifier.
//! * [`sealed_build`]: the sealed-build flow, step by step, for any collector.
//! * [`simboot`]: simulated measured boot into a software TPM (demos, tests).
//! * [`build`]: sealed-build building blocks: source identity, running the
//!   build, artifact globs and parallel hashing.
//!
//! Features (on by default): `tpm` (tss-esapi: the [`tpm`] backend,
//! [`azure`], [`simboot`]), `snp` (the `sev` crate: [`snp`]) and `tdx`
//! (no extra dependency: [`tdx`]). Without
//! them the library still parses TCTI strings and PCR selections (so the
//! command line is the same in every build) and runs sealed builds with
//! whatever collectors remain. `insecure-snp-sim` adds the INSECURE
//! simulated SEV-SNP report source.

pub mod build;
pub mod client;
pub mod evidence;
pub mod flow;
pub mod sealed_build;
pub mod tpm;

// Platform collectors, one registry line each (see `evidence`).
#[cfg(feature = "tpm")]
pub mod azure;
#[cfg(any(feature = "snp", feature = "tdx"))]
mod configfs_tsm;
#[cfg(feature = "insecure-snp-sim")]
pub mod insecure_snp_sim;
#[cfg(feature = "insecure-tdx-sim")]
pub mod insecure_tdx_sim;
#[cfg(feature = "tpm")]
pub mod simboot;
#[cfg(feature = "snp")]
pub mod snp;
#[cfg(feature = "tdx")]
pub mod tdx;
