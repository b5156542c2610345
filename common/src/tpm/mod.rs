//! TPM 2.0 structures used for remote attestation.
//!
//! Specification: TCG "Trusted Platform Module Library, Part 2: Structures",
//! Family 2.0, Level 00, Revision 01.59 (8 November 2019). Table numbers below
//! refer to that revision; names follow the specification so that a reader can
//! look each field up.
//!
//! | module | structures | Part 2 tables |
//! |---|---|---|
//! | [`attest`] | TPMS_ATTEST, TPMS_CLOCK_INFO, TPMS_QUOTE_INFO, TPMS_CERTIFY_INFO, TPMS_CREATION_INFO, TPM2B_NAME | 7, 19, 92, 121, 124, 125, 128, 132, 133 |
//! | [`signature`] | TPMT_SIGNATURE, TPMS_SIGNATURE_RSA, TPMS_SIGNATURE_ECC | 185, 187, 189, 190 |
//! | [`attributes`] | TPMA_OBJECT | 31 |
//! | [`public`] | TPMT_PUBLIC, TPM2B_PUBLIC, TPMS_RSA_PARMS, TPMS_ECC_PARMS | 142, 167, 172, 175, 178, 179, 183, 194, 197–199, 201, 202 |
//! | [`pcr`] | TPMS_PCR_SELECTION, TPML_PCR_SELECTION, the PCR composite digest | 94, 112 |
//! | [`tools`] | the files `tpm2_quote -o` writes (tpm2-tools 5.4; not a TCG format) | — |
//!
//! All multi-byte integers on the TPM wire are big-endian. Every parser takes
//! the complete structure (`parse(&[u8])`), rejects trailing bytes, checks
//! every size against the structure's maximum, rejects reserved bits and
//! unknown algorithms, and has a `to_bytes` that reproduces the input exactly.
//!
//! Algorithm identifiers are TPM_ALG_ID values (Part 2, Table 9); hash
//! algorithms are [`crate::HashAlg`].

pub mod attest;
pub mod attributes;
pub mod pcr;
pub mod public;
pub mod signature;
pub mod tools;

pub use attest::{Attest, Attested, CertifyInfo, ClockInfo, CreationInfo, Name, QuoteInfo};
pub use attributes::{ObjectAttribute, ObjectAttributes};
pub use pcr::{pcr_digest, PcrSelection, PcrSelectionList, PcrValues};
pub use public::{
    AsymScheme, EccCurve, EccPublic, KdfScheme, Public, PublicBody, PublicKey, RsaPublic,
    SymDefObject,
};
pub use signature::{SigScheme, Signature, SignatureValue};
pub use tools::{
    parse_tools_pcr_values, parse_tools_pcrs, write_tools_pcr_values, write_tools_pcrs,
    ToolsPcrFile,
};

/// TPM_ALG_ID values used by the parsers (Part 2, Table 9).
pub mod alg {
    /// TPM_ALG_RSA.
    pub const RSA: u16 = 0x0001;
    /// TPM_ALG_AES.
    pub const AES: u16 = 0x0006;
    /// TPM_ALG_KEYEDHASH.
    pub const KEYEDHASH: u16 = 0x0008;
    /// TPM_ALG_NULL.
    pub const NULL: u16 = 0x0010;
    /// TPM_ALG_RSASSA (RSASSA-PKCS1-v1_5).
    pub const RSASSA: u16 = 0x0014;
    /// TPM_ALG_RSAES (RSAES-PKCS1-v1_5).
    pub const RSAES: u16 = 0x0015;
    /// TPM_ALG_RSAPSS.
    pub const RSAPSS: u16 = 0x0016;
    /// TPM_ALG_OAEP.
    pub const OAEP: u16 = 0x0017;
    /// TPM_ALG_ECDSA.
    pub const ECDSA: u16 = 0x0018;
    /// TPM_ALG_ECDH.
    pub const ECDH: u16 = 0x0019;
    /// TPM_ALG_MGF1.
    pub const MGF1: u16 = 0x0007;
    /// TPM_ALG_KDF1_SP800_56A.
    pub const KDF1_SP800_56A: u16 = 0x0020;
    /// TPM_ALG_KDF2.
    pub const KDF2: u16 = 0x0021;
    /// TPM_ALG_KDF1_SP800_108.
    pub const KDF1_SP800_108: u16 = 0x0022;
    /// TPM_ALG_ECC.
    pub const ECC: u16 = 0x0023;
    /// TPM_ALG_SYMCIPHER.
    pub const SYMCIPHER: u16 = 0x0025;
    /// TPM_ALG_CFB.
    pub const CFB: u16 = 0x0043;
}

/// Size limits of the TPM2B types, in bytes (Part 2; the values are the
/// `sizeof` of each buffer's union for a TPM implementing SHA-512, RSA-4096 and
/// NIST P-521, the largest any real TPM uses).
pub mod limits {
    /// TPM2B_DIGEST: sizeof(TPMU_HA) (Table 81).
    pub const DIGEST: usize = 64;
    /// TPM2B_DATA: sizeof(TPMT_HA) = 2 + 64 (Table 82).
    pub const DATA: usize = 66;
    /// TPM2B_NAME: sizeof(TPMU_NAME) = sizeof(TPMT_HA) (Tables 91, 92).
    pub const NAME: usize = 66;
    /// TPM2B_PUBLIC_KEY_RSA: MAX_RSA_KEY_BYTES for RSA-4096 (Table 175).
    pub const RSA_KEY: usize = 512;
    /// TPM2B_ECC_PARAMETER: MAX_ECC_KEY_BYTES for NIST P-521 (Table 178).
    pub const ECC_PARAMETER: usize = 66;
    /// TPML_PCR_SELECTION: HASH_COUNT, bounded by the TSS's TPM2_NUM_PCR_BANKS (Table 112).
    pub const PCR_BANKS: usize = 16;
    /// TPMS_PCR_SELECTION.sizeofSelect minimum: PCR_SELECT_MIN for 24 PCRs (Table 94).
    pub const PCR_SELECT_MIN: usize = 3;
    /// TPMS_PCR_SELECTION.sizeofSelect maximum: PCR_SELECT_MAX for 32 PCRs (Table 94).
    pub const PCR_SELECT_MAX: usize = 4;
}

/// TPM_GENERATED_VALUE (Part 2, Table 7): "\xffTCG", the first field of every
/// TPMS_ATTEST. It tells a verifier that the TPM itself built the structure.
pub const TPM_GENERATED_VALUE: u32 = 0xff54_4347;

/// Formats bytes as lower-case hex for error messages.
pub(crate) fn hex_str(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        "(empty)".to_string()
    } else {
        hex::encode(bytes)
    }
}
