//! The crate's error type: one enum, grouped by cause.

use thiserror::Error;

/// Every way verification-core work can fail, by cause.
#[derive(Debug, Error)]
pub enum Error {
    /// Malformed bytes.
    #[error(transparent)]
    Format(#[from] sealbuild_common::FormatError),
    /// A policy document was refused.
    #[error(transparent)]
    Policy(#[from] crate::policy::PolicyError),
    /// An attestation result could not be made or checked.
    #[error(transparent)]
    Ear(#[from] crate::ear::EarError),
    /// Sealing or opening a released key failed.
    #[error(transparent)]
    Seal(#[from] sealbuild_common::seal::SealError),
}
