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

pub mod api;
pub mod binding;
pub mod error;
pub mod eventlog;
pub mod hash;
pub mod reader;
pub mod seal;
pub mod tpm;

pub use error::FormatError;
pub use hash::HashAlg;
