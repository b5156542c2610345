//! The 48-byte quote header.
//!
//! * Version 3 (SGX): Intel "Intel® SGX ECDSA Quote Library API", Appendix
//!   "Quote Format", table "Quote Header": Version (2), Attestation Key Type
//!   (2), Reserved (4, zero), QE SVN (2), PCE SVN (2), QE Vendor ID (16),
//!   User Data (20).
//! * Versions 4 and 5 (SGX and TDX): Intel "Intel® TDX DCAP Quoting Library
//!   API", Appendix A "Quote Format", table "Quote Header": Version (2),
//!   Attestation Key Type (2), TEE Type (4: 0x00000000 SGX, 0x00000081 TDX),
//!   Reserved (2), Reserved (2), QE Vendor ID (16), User Data (20).
//!
//! All integers are little-endian. Only attestation key type 2
//! (ECDSA-256-with-P-256 curve) is accepted: type 3 (P-384) is defined but
//! never issued by Intel's quoting enclaves.

use crate::error::FormatError;
use crate::reader::{Reader, Writer};

/// Size of the header.
pub const HEADER_SIZE: usize = 48;
/// Attestation key type 2: ECDSA-256-with-P-256 curve.
pub const ATT_KEY_ECDSA_P256: u16 = 2;
/// The QE Vendor ID of Intel's quoting enclaves.
pub const INTEL_QE_VENDOR_ID: [u8; 16] = [
    0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07,
];

/// The TEE the quote reports on (header TEE Type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TeeType {
    /// 0x00000000: an SGX enclave.
    Sgx,
    /// 0x00000081: a TDX trust domain.
    Tdx,
}

impl TeeType {
    /// The header value.
    pub fn value(self) -> u32 {
        match self {
            Self::Sgx => 0,
            Self::Tdx => 0x81,
        }
    }

    /// Name as in messages and claims.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sgx => "SGX",
            Self::Tdx => "TDX",
        }
    }
}

/// A parsed quote header.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QuoteHeader {
    /// 3, 4 or 5.
    pub version: u16,
    /// Always [`ATT_KEY_ECDSA_P256`].
    pub attestation_key_type: u16,
    /// SGX or TDX (version 3: always SGX, the field is reserved).
    pub tee_type: TeeType,
    /// QE SVN (version 3; reserved and zero in versions 4 and 5).
    pub qe_svn: u16,
    /// PCE SVN (version 3; reserved and zero in versions 4 and 5).
    pub pce_svn: u16,
    /// QE Vendor ID ([`INTEL_QE_VENDOR_ID`] for Intel's QE).
    pub qe_vendor_id: [u8; 16],
    /// User Data: the first 16 bytes are the platform identifier of the
    /// quoting enclave, the rest zero.
    pub user_data: [u8; 20],
}

impl QuoteHeader {
    /// Reads the header; refuses unknown versions, key types and TEE types.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, FormatError> {
        let version = r.u16_le("quote header Version")?;
        if !(3..=5).contains(&version) {
            return Err(FormatError::Unsupported {
                field: "quote header Version",
                value: u64::from(version),
            });
        }
        let attestation_key_type = r.u16_le("quote header Attestation Key Type")?;
        if attestation_key_type != ATT_KEY_ECDSA_P256 {
            return Err(FormatError::Unsupported {
                field: "quote header Attestation Key Type",
                value: u64::from(attestation_key_type),
            });
        }
        let tee = r.u32_le("quote header TEE Type")?;
        let tee_type = match (version, tee) {
            (_, 0) => TeeType::Sgx,
            (4 | 5, 0x81) => TeeType::Tdx,
            (3, v) => {
                return Err(FormatError::unexpected(
                    "quote header Reserved (version 3)",
                    "zero (version 3 quotes are SGX quotes)",
                    format!("{v:#x}"),
                ))
            }
            (_, v) => {
                return Err(FormatError::Unsupported {
                    field: "quote header TEE Type",
                    value: u64::from(v),
                })
            }
        };
        let (qe_svn, pce_svn) = if version == 3 {
            (
                r.u16_le("quote header QE SVN")?,
                r.u16_le("quote header PCE SVN")?,
            )
        } else {
            r.zeros(4, "quote header Reserved (bytes 8..12)")?;
            (0, 0)
        };
        Ok(Self {
            version,
            attestation_key_type,
            tee_type,
            qe_svn,
            pce_svn,
            qe_vendor_id: r.array("quote header QE Vendor ID")?,
            user_data: r.array("quote header User Data")?,
        })
    }

    /// Appends the 48-byte encoding.
    pub fn write(&self, w: &mut Writer) {
        w.u16_le(self.version)
            .u16_le(self.attestation_key_type)
            .u32_le(self.tee_type.value())
            .u16_le(self.qe_svn)
            .u16_le(self.pce_svn)
            .bytes(&self.qe_vendor_id)
            .bytes(&self.user_data);
    }
}
