//! The sealbuild agent library.
//!
//! * [`evidence`]: the evidence-collection trait and the crate's error type.
//! * [`tpm`]: the TPM 2.0 backend (tss-esapi): EK, AK, ActivateCredential, quotes.
//! * [`snp`]: AMD SEV-SNP guest reports (configfs-tsm, /dev/sev-guest) and the
//!   host's certificate table.
//! * [`client`]: the verifier's HTTPS API, with CA trust or certificate pinning.
//! * [`flow`]: registration and attestation against the verifier.
//! * [`simboot`]: simulated measured boot into a software TPM (demos, tests).
//! * [`build`]: sealed-build building blocks: source identity, running the
//!   build, artifact globs and parallel hashing.

pub mod build;
pub mod client;
pub mod evidence;
pub mod flow;
#[cfg(feature = "insecure-snp-sim")]
pub mod insecure_snp_sim;
pub mod simboot;
pub mod snp;
pub mod tpm;
