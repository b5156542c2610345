//! Intel TDX and SGX DCAP quotes (ECDSA attestation).
//!
//! Specifications (Intel, cited by document and table title):
//!
//! * "Intel® TDX DCAP Quoting Library API" (the Quote Generation Library's
//!   reference shipped with Intel SGX/TDX DCAP 1.2x), Appendix A: "Version 4
//!   Quote Format" (tables "Quote Header", "TD Quote Body", "ECDSA 256-bit
//!   Quote Signature Data Structure - Version 4", "Certification Data",
//!   "QE Report Certification Data") and "Version 5 Quote Format" (tables
//!   "TD Quote Body Descriptor", "TD Quote Body v1.5").
//! * "Intel® SGX ECDSA Quote Library API" (DCAP), Appendix "Quote Format":
//!   the version 3 SGX quote (tables "Quote Header", "Enclave Report Body",
//!   "ECDSA 256-bit Quote Signature Data Structure", "QE Authentication
//!   Data", "QE Certification Data").
//!
//! * Intel® TDX Module ABI Specification, "Report Structures": the
//!   TDREPORT_STRUCT a TD obtains with `TDG.MR.REPORT` ([`tdreport`]; Azure
//!   TDX confidential VMs hand it out inside the HCL report).
//!
//! Pure parsing only ([`Quote::parse`], [`Quote::to_bytes`] is its exact
//! inverse, padding included). The signatures, the PCK chain to the Intel
//! SGX Root CA and the TCB appraisal are checked in the verifier core.
//!
//! What a parser accepts: versions 3 (SGX), 4 (SGX or TDX) and 5 (body
//! types 1 SGX, 2 TDX 1.0, 3 TDX 1.5); attestation key type 2 (ECDSA P-256);
//! reserved header and enclave-report bytes zero; every declared length
//! exact; after the signature data, zero bytes only.

pub mod body;
pub mod header;
pub mod quote;
pub mod sigdata;
pub mod tdreport;

#[cfg(test)]
mod tests;

pub use body::{
    EnclaveReport, QuoteBody, Td15Fields, TdReport, ENCLAVE_REPORT_SIZE, TD_ATTR_DEBUG,
    TD_ATTR_SEPT_VE_DISABLE, TD_REPORT10_SIZE, TD_REPORT15_SIZE,
};
pub use header::{QuoteHeader, TeeType, ATT_KEY_ECDSA_P256, HEADER_SIZE, INTEL_QE_VENDOR_ID};
pub use quote::Quote;
pub use sigdata::{
    CertificationData, QeReportCertData, QuoteSignatureData, CERT_TYPE_PCK_CHAIN,
    CERT_TYPE_QE_REPORT,
};
pub use tdreport::{TdInfo, TdReportStruct, TeeTcbInfo, TDREPORT_SIZE};
