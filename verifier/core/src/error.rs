//! The crate's error type: one enum, grouped by cause. Each module keeps its
//! detailed enum (what was expected, what was seen); this one says which
//! stage failed.

use thiserror::Error;

/// Every way verification-core work can fail, by cause.
#[derive(Debug, Error)]
pub enum Error {
    /// Malformed bytes.
    #[error(transparent)]
    Format(#[from] sealbuild_common::FormatError),
    /// A quote, its signature or its AK was refused.
    #[error(transparent)]
    Quote(#[from] crate::quote::QuoteError),
    /// An EK/AK certificate chain was refused.
    #[error(transparent)]
    EkCert(#[from] crate::ekcert::EkCertError),
    /// MakeCredential could not be computed for this EK.
    #[error(transparent)]
    Credential(#[from] crate::credential::CredentialError),
    /// A registration was refused.
    #[error(transparent)]
    Registration(#[from] crate::registration::RegistrationError),
    /// A SEV-SNP report or its AMD certificate chain was refused.
    #[error(transparent)]
    Snp(#[from] crate::snp::SnpError),
    /// A policy document was refused.
    #[error(transparent)]
    Policy(#[from] crate::policy::PolicyError),
    /// An attestation result could not be made or checked.
    #[error(transparent)]
    Ear(#[from] crate::ear::EarError),
    /// Sealing or opening a released key failed.
    #[error(transparent)]
    Seal(#[from] sealbuild_common::seal::SealError),
    /// An Intel TDX / SGX DCAP quote or its collateral was refused.
    #[error(transparent)]
    Tdx(#[from] crate::tdx::TdxError),
    /// Azure confidential-VM evidence (HCL report, TD quote, vTPM quote) was refused.
    #[error(transparent)]
    Azure(#[from] crate::azure::AzureError),
}
