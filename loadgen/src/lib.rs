//! `sealbuild-loadgen`: a bounded load generator for the sealbuild verifier
//! on loopback, and the check of the crash test.
//!
//! * [`run`] (feature `insecure-snp-sim`): N simulated SEV-SNP agents
//!   ([`sim`], the INSECURE simulator) loop nonce → attest → key release;
//!   hostile clients ([`hostile`]) send what an attacker would; a probe
//!   ([`probe`]) times `GET /v1/result-key`; the verifier's RSS and threads
//!   come from /proc ([`procfs`]); the single-core appraisal rate of the
//!   same build is measured in-process first ([`rate`]). Figures:
//!   [`report`].
//! * [`check`]: after the crash test, every key an agent received (the
//!   [`record`]) against the audit log, and SQLite's integrity check.
//!
//! Only loopback verifiers are addressed ([`target`]); every run ends by
//! itself (a duration and/or an attestation budget, [`control`]).

pub mod check;
pub mod control;
pub mod hostile;
pub mod net;
pub mod probe;
pub mod procfs;
pub mod record;
pub mod report;
pub mod stats;
pub mod target;

#[cfg(feature = "insecure-snp-sim")]
pub mod rate;
#[cfg(feature = "insecure-snp-sim")]
pub mod run;
#[cfg(feature = "insecure-snp-sim")]
pub mod sim;
