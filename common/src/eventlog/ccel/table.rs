//! The ACPI CCEL table (ACPI Specification 6.5, §5.2.34 "CC Event Log ACPI
//! Table"; first published as the TDEL/CCEL table of the Intel TDX GHCI 1.0,
//! §4.3.3 "CC-Event Log"), as Linux exposes it in
//! `/sys/firmware/acpi/tables/CCEL`.
//!
//! Layout (56 bytes, little-endian):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 36 | ACPI description header (ACPI 6.5 §5.2.6): Signature `"CCEL"`, Length, Revision, Checksum, OEMID, OEM Table ID, OEM Revision, Creator ID, Creator Revision |
//! | 36 | 1 | CC Type (1 = AMD SEV, 2 = Intel TDX) |
//! | 37 | 1 | CC Subtype |
//! | 38 | 2 | Reserved |
//! | 40 | 8 | LAML: Log Area Minimum Length |
//! | 48 | 8 | LASA: Log Area Start Address |
//!
//! Checks: the signature, Length = the input length = 56 (the layout above;
//! a longer future revision is refused rather than half read), the ACPI
//! checksum (every byte of the table sums to zero modulo 256), and non-zero
//! LAML and LASA (Linux publishes no log area for a table without them). The
//! revision, OEM fields, CC subtype and the reserved field are kept as read,
//! so [`CcelTable::to_bytes`] reproduces the input exactly.

use std::fmt;

use crate::error::FormatError;
use crate::reader::{Reader, Writer};

/// Signature of the table.
pub const CCEL_SIGNATURE: &[u8; 4] = b"CCEL";
/// Length of the table (ACPI 6.5 §5.2.34, revision 1).
pub const CCEL_TABLE_LEN: usize = 56;

/// The CC Type byte of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CcType(pub u8);

impl CcType {
    /// AMD SEV.
    pub const SEV: Self = Self(1);
    /// Intel TDX: MR index 0 is MRTD, 1–4 are RTMR0–3.
    pub const TDX: Self = Self(2);

    /// `"SEV"`, `"TDX"`, or `"reserved"` for every other value.
    pub fn name(self) -> &'static str {
        match self.0 {
            1 => "SEV",
            2 => "TDX",
            _ => "reserved",
        }
    }
}

impl fmt::Display for CcType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.0, self.name())
    }
}

/// The parsed ACPI CCEL table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CcelTable {
    /// Header Length (always [`CCEL_TABLE_LEN`] once parsed).
    pub length: u32,
    pub revision: u8,
    pub checksum: u8,
    pub oem_id: [u8; 6],
    pub oem_table_id: [u8; 8],
    pub oem_revision: u32,
    pub creator_id: [u8; 4],
    pub creator_revision: u32,
    pub cc_type: CcType,
    pub cc_subtype: u8,
    pub reserved: u16,
    /// Log Area Minimum Length: the size of the log area in bytes.
    pub laml: u64,
    /// Log Area Start Address (guest physical).
    pub lasa: u64,
}

fn ascii(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                char::from(b)
            } else {
                '.'
            }
        })
        .collect::<String>()
        .trim_end()
        .to_owned()
}

impl CcelTable {
    /// Parses and checks the table (see the module docs).
    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        let mut r = Reader::new(bytes);
        let signature = r.array::<4>("CCEL table Signature")?;
        if &signature != CCEL_SIGNATURE {
            return Err(FormatError::unexpected(
                "CCEL table Signature",
                "\"CCEL\"",
                format!("{:?} ({})", ascii(&signature), hex::encode(signature)),
            ));
        }
        let length = r.u32_le("CCEL table Length")?;
        if usize::try_from(length).ok() != Some(CCEL_TABLE_LEN) {
            return Err(FormatError::unexpected(
                "CCEL table Length",
                format!("{CCEL_TABLE_LEN} (the ACPI 6.5 layout)"),
                length,
            ));
        }
        if bytes.len() != CCEL_TABLE_LEN {
            return Err(FormatError::unexpected(
                "CCEL table Length",
                format!("the input length ({} bytes)", bytes.len()),
                length,
            ));
        }
        let revision = r.u8("CCEL table Revision")?;
        let checksum = r.u8("CCEL table Checksum")?;
        let oem_id = r.array::<6>("CCEL table OEMID")?;
        let oem_table_id = r.array::<8>("CCEL table OEM Table ID")?;
        let oem_revision = r.u32_le("CCEL table OEM Revision")?;
        let creator_id = r.array::<4>("CCEL table Creator ID")?;
        let creator_revision = r.u32_le("CCEL table Creator Revision")?;
        let cc_type = CcType(r.u8("CCEL table CC Type")?);
        let cc_subtype = r.u8("CCEL table CC Subtype")?;
        let reserved = r.u16_le("CCEL table Reserved")?;
        let laml = r.u64_le("CCEL table LAML")?;
        let lasa = r.u64_le("CCEL table LASA")?;
        r.finish("ACPI CCEL table")?;
        let sum = bytes.iter().fold(0u8, |acc, &b| acc.wrapping_add(b));
        if sum != 0 {
            return Err(FormatError::unexpected(
                "CCEL table Checksum",
                "a table whose bytes sum to 0 modulo 256",
                format!("sum 0x{sum:02x} (Checksum byte 0x{checksum:02x})"),
            ));
        }
        if laml == 0 {
            return Err(FormatError::unexpected(
                "CCEL table LAML",
                "a non-zero log area length",
                0,
            ));
        }
        if lasa == 0 {
            return Err(FormatError::unexpected(
                "CCEL table LASA",
                "a non-zero log area address",
                0,
            ));
        }
        Ok(Self {
            length,
            revision,
            checksum,
            oem_id,
            oem_table_id,
            oem_revision,
            creator_id,
            creator_revision,
            cc_type,
            cc_subtype,
            reserved,
            laml,
            lasa,
        })
    }

    /// The table's bytes, as parsed (checksum included as stored).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.bytes(CCEL_SIGNATURE)
            .u32_le(self.length)
            .u8(self.revision)
            .u8(self.checksum)
            .bytes(&self.oem_id)
            .bytes(&self.oem_table_id)
            .u32_le(self.oem_revision)
            .bytes(&self.creator_id)
            .u32_le(self.creator_revision)
            .u8(self.cc_type.0)
            .u8(self.cc_subtype)
            .u16_le(self.reserved)
            .bytes(&self.laml.to_le_bytes())
            .bytes(&self.lasa.to_le_bytes());
        w.into_vec()
    }

    /// The OEMID as text (non-printable bytes shown as `.`).
    pub fn oem_id_text(&self) -> String {
        ascii(&self.oem_id)
    }

    /// The OEM Table ID as text.
    pub fn oem_table_id_text(&self) -> String {
        ascii(&self.oem_table_id)
    }
}

impl fmt::Display for CcelTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CCEL table rev {} ({} {}), CC type {} subtype {}, log area {} bytes at 0x{:x}",
            self.revision,
            self.oem_id_text(),
            self.oem_table_id_text(),
            self.cc_type,
            self.cc_subtype,
            self.laml,
            self.lasa
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(cc_type: u8, laml: u64, lasa: u64) -> Vec<u8> {
        let mut t = CcelTable {
            length: 56,
            revision: 1,
            checksum: 0,
            oem_id: *b"TEST  ",
            oem_table_id: *b"CCELTEST",
            oem_revision: 2,
            creator_id: *b"SBLD",
            creator_revision: 3,
            cc_type: CcType(cc_type),
            cc_subtype: 0,
            reserved: 0,
            laml,
            lasa,
        }
        .to_bytes();
        let sum = t.iter().fold(0u8, |a, &b| a.wrapping_add(b));
        t[9] = 0u8.wrapping_sub(sum);
        t
    }

    #[test]
    fn round_trip_and_checks() {
        let bytes = table(2, 0x10000, 0xbedb_f000);
        let t = CcelTable::parse(&bytes).unwrap();
        assert_eq!(t.to_bytes(), bytes);
        assert_eq!(t.cc_type, CcType::TDX);
        assert_eq!(t.oem_id_text(), "TEST");
        assert!(t.to_string().contains("CC type 2 (TDX)"), "{t}");

        let mut bad = bytes.clone();
        bad[9] ^= 1;
        let e = CcelTable::parse(&bad).unwrap_err();
        assert!(e.to_string().starts_with("CCEL table Checksum"), "{e}");

        let mut bad = bytes.clone();
        bad[0] = b'X';
        assert!(CcelTable::parse(&bad)
            .unwrap_err()
            .to_string()
            .starts_with("CCEL table Signature"));

        assert!(CcelTable::parse(&bytes[..40])
            .unwrap_err()
            .to_string()
            .contains("input length (40 bytes)"));
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(CcelTable::parse(&longer).is_err());

        for (laml, lasa, field) in [(0, 1, "LAML"), (1, 0, "LASA")] {
            let e = CcelTable::parse(&table(2, laml, lasa)).unwrap_err();
            assert!(e.to_string().contains(field), "{e}");
        }
        assert_eq!(
            CcelTable::parse(&table(7, 1, 1)).unwrap().cc_type.name(),
            "reserved"
        );
    }
}
