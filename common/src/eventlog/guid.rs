//! `EFI_GUID` (UEFI Specification 2.10 Appendix A: Data1 u32, Data2 u16,
//! Data3 u16 little-endian, Data4 8 bytes) and the GUIDs named in
//! explanations. A leaf module: device paths (`super::devicepath`) and the
//! UEFI event structures (`super::uefi`, which re-exports these) both use it.

use std::fmt;

use crate::error::FormatError;
use crate::reader::Reader;

/// An `EFI_GUID`, stored in its wire byte order.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    /// The GUID written `d1-d2-d3-d4[0..2]-d4[2..8]`.
    pub const fn from_fields(d1: u32, d2: u16, d3: u16, d4: [u8; 8]) -> Self {
        let a = d1.to_le_bytes();
        let b = d2.to_le_bytes();
        let c = d3.to_le_bytes();
        Self([
            a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d4[0], d4[1], d4[2], d4[3], d4[4],
            d4[5], d4[6], d4[7],
        ])
    }

    pub(crate) fn read(r: &mut Reader<'_>, field: &'static str) -> Result<Self, FormatError> {
        Ok(Self(r.array(field)?))
    }

    /// The name of a GUID this crate knows (variable vendors, signature types).
    pub fn well_known_name(&self) -> Option<&'static str> {
        WELL_KNOWN.iter().find(|(g, _)| g == self).map(|(_, n)| *n)
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        let d1 = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let d2 = u16::from_le_bytes([b[4], b[5]]);
        let d3 = u16::from_le_bytes([b[6], b[7]]);
        write!(
            f,
            "{d1:08x}-{d2:04x}-{d3:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
            b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]
        )
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Guid({self})")
    }
}

/// GUIDs named in explanations.
pub mod guids {
    use super::Guid;

    /// EFI_GLOBAL_VARIABLE (SecureBoot, PK, KEK, BootOrder, Boot####).
    pub const EFI_GLOBAL_VARIABLE: Guid = Guid::from_fields(
        0x8be4df61,
        0x93ca,
        0x11d2,
        [0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c],
    );
    /// EFI_IMAGE_SECURITY_DATABASE_GUID (db, dbx, dbt, dbr).
    pub const EFI_IMAGE_SECURITY_DATABASE: Guid = Guid::from_fields(
        0xd719b2cb,
        0x3d3a,
        0x4596,
        [0xa3, 0xbc, 0xda, 0xd0, 0x0e, 0x67, 0x65, 0x6f],
    );
    /// The shim loader's variables (MokList, SbatLevel, Shim).
    pub const SHIM_LOCK: Guid = Guid::from_fields(
        0x605dab50,
        0xe046,
        0x4300,
        [0xab, 0xb6, 0x3d, 0xd8, 0x10, 0xdd, 0x8b, 0x23],
    );
    /// EFI_CERT_X509_GUID.
    pub const EFI_CERT_X509: Guid = Guid::from_fields(
        0xa5c059a1,
        0x94e4,
        0x4aa7,
        [0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b, 0xf0, 0x72],
    );
    /// EFI_CERT_SHA256_GUID.
    pub const EFI_CERT_SHA256: Guid = Guid::from_fields(
        0xc1c41626,
        0x504c,
        0x4092,
        [0xac, 0xa9, 0x41, 0xf9, 0x36, 0x93, 0x43, 0x28],
    );
}

const WELL_KNOWN: &[(Guid, &str)] = &[
    (guids::EFI_GLOBAL_VARIABLE, "EFI_GLOBAL_VARIABLE"),
    (
        guids::EFI_IMAGE_SECURITY_DATABASE,
        "EFI_IMAGE_SECURITY_DATABASE",
    ),
    (guids::SHIM_LOCK, "SHIM_LOCK"),
    (guids::EFI_CERT_X509, "EFI_CERT_X509"),
    (guids::EFI_CERT_SHA256, "EFI_CERT_SHA256"),
];
