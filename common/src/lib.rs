//! Wire formats shared by the sealbuild agent and verifier.
//!
//! Everything here is pure: bytes in, typed values out, no I/O and no clock.
//! Untrusted input is read only through [`reader::Reader`].
//!
//! * [`tpm`]: TPM 2.0 structures (quotes, signatures, public areas, PCR selections).
//! * [`eventlog`]: the TCG PC Client firmware event log, its replay and event decoding.
//! * [`binding`]: how nonce, ephemeral key and statement are bound into evidence.
//! * [`api`]: the JSON messages of the verifier's HTTP API.
//! * [`seal`]: HPKE sealing of released keys to the agent's ephemeral key.
//! * [`intoto`]: the build statement: in-toto Statement v1 with SLSA Provenance v1.
//! * [`dsse`]: DSSE v1 envelopes, their signers and verifiers.
//! * [`cel`]: the runtime measurement log in TCG Canonical Event Log JSON.
//! * [`crypto`]: the one provider of signature checks and hashes (AWS-LC).
//! * [`ear`]: attestation-result (EAR) claims and their CBOR decoding.
//! * [`platform`]: the one `Platform` enum and hardware-vouched attester ids.
//! * [`snp`]: AMD SEV-SNP attestation reports and TCB versions.
//! * [`tdx`]: Intel TDX and SGX DCAP quotes.

pub mod api;
pub mod binding;
pub mod cel;
pub mod crypto;
pub mod dsse;
pub mod ear;
pub mod error;
pub mod eventlog;
pub mod hash;
pub mod intoto;
pub mod platform;
pub mod reader;
pub mod seal;
pub mod snp;
pub mod sorted_json;
pub mod tdx;
pub mod tpm;

pub use error::FormatError;
pub use hash::HashAlg;
pub use platform::Platform;
