//! The agent's TPM 2.0 backend, on tpm2-tss' ESAPI through tss-esapi 7.
//!
//! Specifications: TCG TPM 2.0 Library, Parts 1–3, rev. 1.59; TCG EK
//! Credential Profile for TPM Family 2.0, Level 0, v2.5 rev. 2; TCG TPM 2.0
//! Keys for Device Identity and Attestation v1.0 rev. 12. Each module cites
//! the sections it implements.
//!
//! Flow:
//!
//! 1. `register` once: [`TpmBackend::register`] creates the EK from its TCG
//!    template, reads its certificate from NV, creates an AK under it and
//!    returns both; the caller stores the [`AkState`] (see [`ak`] for where
//!    and why) and sends [`Registration::register_request`] to the verifier.
//! 2. The verifier answers with a MakeCredential challenge;
//!    [`TpmBackend::activate_credential`] recovers the secret.
//! 3. `attest` many times: [`TpmBackend::quote`] (or the
//!    [`crate::evidence::EvidenceCollector`] [`TpmCollector`]) quotes the PCRs
//!    with the binding digest as qualifying data.
//! 4. A sealed build's runtime log: [`runtime::RuntimeRegister`] resets PCR
//!    23 and extends the build's events into it and a TCG CEL.
//!
//! [`TpmCollector`] does 1–2 through [`crate::flow::enrol`] and 3–4 behind
//! the collector trait. Without the `tpm` feature only [`tcti`], [`pcr`] and
//! [`eventlog`] exist (the command line parses the same in every build).
//!
//! Handle hygiene: every transient object (EK, AK) and session the backend
//! creates is flushed before the call that created it returns, on success
//! and on every error path (a closure-scoped flush guard); nothing stays
//! loaded between calls. [`TpmBackend::loaded_handles`] lists what is loaded.

// What the CLI parses in every build: TCTI strings, PCR selections, the
// firmware event log's path.
pub mod eventlog;
pub mod pcr;
pub mod tcti;

// The ESAPI backend (feature `tpm`, tss-esapi).
#[cfg(feature = "tpm")]
pub mod ak;
#[cfg(feature = "tpm")]
mod backend;
#[cfg(feature = "tpm")]
pub mod collector;
#[cfg(feature = "tpm")]
pub mod credential;
#[cfg(feature = "tpm")]
pub mod ek;
#[cfg(feature = "tpm")]
pub mod files;
#[cfg(feature = "tpm")]
mod pcr_tss;
#[cfg(feature = "tpm")]
pub mod quote;
#[cfg(feature = "tpm")]
pub(crate) mod rc;
#[cfg(feature = "tpm")]
pub mod runtime;

pub use eventlog::{read_event_log, EventLog, DEFAULT_EVENT_LOG_PATH};
pub use pcr::{BankSelection, PcrSelection, PcrValues};
pub use tcti::TctiConfig;

#[cfg(feature = "tpm")]
pub use ak::{AkState, AkType};
#[cfg(feature = "tpm")]
pub use backend::{LoadedHandles, Registration, TpmBackend};
#[cfg(feature = "tpm")]
pub use collector::TpmCollector;
#[cfg(feature = "tpm")]
pub use ek::{EkCertificate, EkInfo, EkSelection, EkType};
#[cfg(feature = "tpm")]
pub use quote::QuoteOutput;
#[cfg(feature = "tpm")]
pub use runtime::RuntimeRegister;
