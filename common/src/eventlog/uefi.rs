//! UEFI structures carried as event data, per TCG PC Client PFP 1.06 rev 52
//! §10 and UEFI Specification 2.10:
//! * `EFI_GUID` (UEFI 2.10 Appendix A: Data1 u32, Data2 u16, Data3 u16 little-
//!   endian, Data4 8 bytes);
//! * `UEFI_VARIABLE_DATA` (PFP: VariableName GUID, UnicodeNameLength u64 in
//!   CHAR16 units, VariableDataLength u64, UnicodeName (no terminator),
//!   VariableData) for `EV_EFI_VARIABLE_*`;
//! * `UEFI_IMAGE_LOAD_EVENT` (PFP: ImageLocationInMemory, ImageLengthInMemory,
//!   ImageLinkTimeAddress, LengthOfDevicePath, all u64, then the device path);
//! * `UEFI_PLATFORM_FIRMWARE_BLOB` (BlobBase u64, BlobLength u64) and
//!   `UEFI_PLATFORM_FIRMWARE_BLOB2` (BlobDescriptionSize u8, description,
//!   BlobBase, BlobLength);
//! * `UEFI_HANDOFF_TABLE_POINTERS` (NumberOfTables u64, `EFI_CONFIGURATION_TABLE`
//!   {VendorGuid, VendorTable u64}) and `…POINTERS2` (with a description);
//! * `UEFI_GPT_DATA` (UEFI 2.10 §5.3.2 GPT header, NumberOfPartitions u64,
//!   partition entries of SizeOfPartitionEntry bytes).
//!
//! The u64 layouts are those of the PFP `UEFI_…` structures; the older
//! `EFI_…` variants with a 32-bit UINTN are not accepted.
//!
//! Real logs written by shim size `UEFI_VARIABLE_DATA` and
//! `UEFI_IMAGE_LOAD_EVENT` with the C `sizeof` of a structure whose last
//! member is a one-element placeholder array, so a few bytes follow the
//! declared variable data or device path. These decoders (used only for
//! explanations, never for the replay) accept such bytes and keep them in a
//! `trailing` field; a declared length larger than the data is an error.
//! Variable contents are decoded in [`super::variables`].

use super::devicepath::DevicePath;
use super::text::ucs2_field;
use crate::error::FormatError;
use crate::reader::Reader;

pub use super::guid::{guids, Guid};

fn len_u64(r: &mut Reader<'_>, field: &'static str) -> Result<usize, FormatError> {
    let v = r.u64_le(field)?;
    usize::try_from(v)
        .ok()
        .filter(|&n| n <= r.remaining())
        .ok_or_else(|| {
            FormatError::unexpected(
                field,
                format!("at most the {} bytes left", r.remaining()),
                v,
            )
        })
}

/// `UEFI_VARIABLE_DATA`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UefiVariableData {
    /// VariableName (the vendor GUID).
    pub vendor: Guid,
    /// UnicodeName.
    pub name: String,
    /// VariableData.
    pub data: Vec<u8>,
    /// Bytes after VariableData (see the module docs).
    pub trailing: Vec<u8>,
}

impl UefiVariableData {
    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        let mut r = Reader::new(bytes);
        let vendor = Guid::read(&mut r, "UEFI_VARIABLE_DATA.VariableName")?;
        let name_chars = r.u64_le("UEFI_VARIABLE_DATA.UnicodeNameLength")?;
        let data_len = r.u64_le("UEFI_VARIABLE_DATA.VariableDataLength")?;
        let name_bytes = usize::try_from(name_chars)
            .ok()
            .and_then(|n| n.checked_mul(2))
            .filter(|&n| n <= r.remaining())
            .ok_or_else(|| {
                FormatError::unexpected(
                    "UEFI_VARIABLE_DATA.UnicodeNameLength",
                    format!("at most {} characters", r.remaining() / 2),
                    name_chars,
                )
            })?;
        let name = ucs2_field(
            r.take(name_bytes, "UEFI_VARIABLE_DATA.UnicodeName")?,
            "UEFI_VARIABLE_DATA.UnicodeName",
        )?;
        let data_len = usize::try_from(data_len)
            .ok()
            .filter(|&n| n <= r.remaining())
            .ok_or_else(|| {
                FormatError::unexpected(
                    "UEFI_VARIABLE_DATA.VariableDataLength",
                    format!("at most {} (the bytes left in the event)", r.remaining()),
                    data_len,
                )
            })?;
        let data = r
            .take(data_len, "UEFI_VARIABLE_DATA.VariableData")?
            .to_vec();
        let trailing = r.peek_rest().to_vec();
        Ok(Self {
            vendor,
            name,
            data,
            trailing,
        })
    }
}

/// `UEFI_IMAGE_LOAD_EVENT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageLoadEvent {
    pub image_location_in_memory: u64,
    pub image_length_in_memory: u64,
    pub image_link_time_address: u64,
    /// The decoded device path, or why its bytes are not a valid one.
    pub device_path: Result<DevicePath, FormatError>,
    /// Bytes after the device path (see the module docs).
    pub trailing: Vec<u8>,
}

impl ImageLoadEvent {
    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        let mut r = Reader::new(bytes);
        let image_location_in_memory = r.u64_le("UEFI_IMAGE_LOAD_EVENT.ImageLocationInMemory")?;
        let image_length_in_memory = r.u64_le("UEFI_IMAGE_LOAD_EVENT.ImageLengthInMemory")?;
        let image_link_time_address = r.u64_le("UEFI_IMAGE_LOAD_EVENT.ImageLinkTimeAddress")?;
        let dp_len = len_u64(&mut r, "UEFI_IMAGE_LOAD_EVENT.LengthOfDevicePath")?;
        let dp = r.take(dp_len, "UEFI_IMAGE_LOAD_EVENT.DevicePath")?;
        Ok(Self {
            image_location_in_memory,
            image_length_in_memory,
            image_link_time_address,
            device_path: DevicePath::parse(dp),
            trailing: r.peek_rest().to_vec(),
        })
    }
}

/// `UEFI_PLATFORM_FIRMWARE_BLOB` (and `…BLOB2` with a description).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirmwareBlob {
    /// BlobDescription of a `…BLOB2` (lossy UTF-8, trailing NUL removed).
    pub description: Option<String>,
    pub base: u64,
    pub length: u64,
}

impl FirmwareBlob {
    /// Parses `UEFI_PLATFORM_FIRMWARE_BLOB` (exactly 16 bytes).
    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        let mut r = Reader::new(bytes);
        let base = r.u64_le("UEFI_PLATFORM_FIRMWARE_BLOB.BlobBase")?;
        let length = r.u64_le("UEFI_PLATFORM_FIRMWARE_BLOB.BlobLength")?;
        r.finish("UEFI_PLATFORM_FIRMWARE_BLOB")?;
        Ok(Self {
            description: None,
            base,
            length,
        })
    }

    /// Parses `UEFI_PLATFORM_FIRMWARE_BLOB2`.
    pub fn parse2(bytes: &[u8]) -> Result<Self, FormatError> {
        let mut r = Reader::new(bytes);
        let size = r.u8("UEFI_PLATFORM_FIRMWARE_BLOB2.BlobDescriptionSize")?;
        let desc = r.take(
            usize::from(size),
            "UEFI_PLATFORM_FIRMWARE_BLOB2.BlobDescription",
        )?;
        let base = r.u64_le("UEFI_PLATFORM_FIRMWARE_BLOB2.BlobBase")?;
        let length = r.u64_le("UEFI_PLATFORM_FIRMWARE_BLOB2.BlobLength")?;
        r.finish("UEFI_PLATFORM_FIRMWARE_BLOB2")?;
        let desc = desc.strip_suffix(&[0]).unwrap_or(desc);
        Ok(Self {
            description: Some(String::from_utf8_lossy(desc).into_owned()),
            base,
            length,
        })
    }
}

/// `UEFI_HANDOFF_TABLE_POINTERS` / `…POINTERS2`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoffTables {
    /// TableDescription of a `…POINTERS2` (lossy UTF-8, trailing NUL removed).
    pub description: Option<String>,
    /// (VendorGuid, VendorTable address) pairs.
    pub tables: Vec<(Guid, u64)>,
}

impl HandoffTables {
    /// Parses `UEFI_HANDOFF_TABLE_POINTERS`, or `…POINTERS2` when `with_description`.
    pub fn parse(bytes: &[u8], with_description: bool) -> Result<Self, FormatError> {
        let mut r = Reader::new(bytes);
        let description = if with_description {
            let size = r.u8("UEFI_HANDOFF_TABLE_POINTERS2.TableDescriptionSize")?;
            let d = r.take(
                usize::from(size),
                "UEFI_HANDOFF_TABLE_POINTERS2.TableDescription",
            )?;
            let d = d.strip_suffix(&[0]).unwrap_or(d);
            Some(String::from_utf8_lossy(d).into_owned())
        } else {
            None
        };
        let count = r.u64_le("UEFI_HANDOFF_TABLE_POINTERS.NumberOfTables")?;
        if usize::try_from(count).ok().and_then(|c| c.checked_mul(24)) != Some(r.remaining()) {
            return Err(FormatError::unexpected(
                "UEFI_HANDOFF_TABLE_POINTERS.NumberOfTables",
                format!("{} (24-byte entries filling the event)", r.remaining() / 24),
                count,
            ));
        }
        let mut tables = Vec::new();
        while !r.is_empty() {
            let guid = Guid::read(&mut r, "EFI_CONFIGURATION_TABLE.VendorGuid")?;
            tables.push((guid, r.u64_le("EFI_CONFIGURATION_TABLE.VendorTable")?));
        }
        Ok(Self {
            description,
            tables,
        })
    }
}

/// One GPT partition entry (UEFI 2.10 §5.3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GptPartition {
    pub type_guid: Guid,
    pub unique_guid: Guid,
    pub starting_lba: u64,
    pub ending_lba: u64,
    pub attributes: u64,
    /// PartitionName (lossy UTF-16, up to the first NUL).
    pub name: String,
}

/// `UEFI_GPT_DATA`: the GPT header fields and the measured partition entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GptData {
    pub revision: u32,
    pub disk_guid: Guid,
    pub first_usable_lba: u64,
    pub last_usable_lba: u64,
    pub size_of_partition_entry: u32,
    pub partitions: Vec<GptPartition>,
}

impl GptData {
    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        let mut r = Reader::new(bytes);
        let sig = r.take(8, "EFI_PARTITION_TABLE_HEADER.Signature")?;
        if sig != b"EFI PART" {
            return Err(FormatError::unexpected(
                "EFI_PARTITION_TABLE_HEADER.Signature",
                "\"EFI PART\"",
                hex::encode(sig),
            ));
        }
        let revision = r.u32_le("EFI_PARTITION_TABLE_HEADER.Revision")?;
        let _header_size = r.u32_le("EFI_PARTITION_TABLE_HEADER.HeaderSize")?;
        let _crc = r.u32_le("EFI_PARTITION_TABLE_HEADER.HeaderCRC32")?;
        let _reserved = r.u32_le("EFI_PARTITION_TABLE_HEADER.Reserved")?;
        let _my_lba = r.u64_le("EFI_PARTITION_TABLE_HEADER.MyLBA")?;
        let _alternate_lba = r.u64_le("EFI_PARTITION_TABLE_HEADER.AlternateLBA")?;
        let first_usable_lba = r.u64_le("EFI_PARTITION_TABLE_HEADER.FirstUsableLBA")?;
        let last_usable_lba = r.u64_le("EFI_PARTITION_TABLE_HEADER.LastUsableLBA")?;
        let disk_guid = Guid::read(&mut r, "EFI_PARTITION_TABLE_HEADER.DiskGUID")?;
        let _entry_lba = r.u64_le("EFI_PARTITION_TABLE_HEADER.PartitionEntryLBA")?;
        let _entries = r.u32_le("EFI_PARTITION_TABLE_HEADER.NumberOfPartitionEntries")?;
        let size_of_partition_entry =
            r.u32_le("EFI_PARTITION_TABLE_HEADER.SizeOfPartitionEntry")?;
        let _array_crc = r.u32_le("EFI_PARTITION_TABLE_HEADER.PartitionEntryArrayCRC32")?;
        let count = r.u64_le("UEFI_GPT_DATA.NumberOfPartitions")?;
        let entry = usize::try_from(size_of_partition_entry).unwrap_or(usize::MAX);
        if !(128..=4096).contains(&entry) {
            return Err(FormatError::unexpected(
                "EFI_PARTITION_TABLE_HEADER.SizeOfPartitionEntry",
                "128..=4096",
                size_of_partition_entry,
            ));
        }
        if usize::try_from(count)
            .ok()
            .and_then(|c| c.checked_mul(entry))
            != Some(r.remaining())
        {
            return Err(FormatError::unexpected(
                "UEFI_GPT_DATA.NumberOfPartitions",
                format!("{} (entries filling the event)", r.remaining() / entry),
                count,
            ));
        }
        let mut partitions = Vec::new();
        while !r.is_empty() {
            let mut e = Reader::new(r.take(entry, "EFI_PARTITION_ENTRY")?);
            let type_guid = Guid::read(&mut e, "EFI_PARTITION_ENTRY.PartitionTypeGUID")?;
            let unique_guid = Guid::read(&mut e, "EFI_PARTITION_ENTRY.UniquePartitionGUID")?;
            let starting_lba = e.u64_le("EFI_PARTITION_ENTRY.StartingLBA")?;
            let ending_lba = e.u64_le("EFI_PARTITION_ENTRY.EndingLBA")?;
            let attributes = e.u64_le("EFI_PARTITION_ENTRY.Attributes")?;
            let name_bytes = e.take(72, "EFI_PARTITION_ENTRY.PartitionName")?;
            let units: Vec<u16> = name_bytes
                .chunks_exact(2)
                .map(|c| match c {
                    [lo, hi] => u16::from_le_bytes([*lo, *hi]),
                    _ => 0,
                })
                .take_while(|&u| u != 0)
                .collect();
            partitions.push(GptPartition {
                type_guid,
                unique_guid,
                starting_lba,
                ending_lba,
                attributes,
                name: String::from_utf16_lossy(&units),
            });
        }
        Ok(Self {
            revision,
            disk_guid,
            first_usable_lba,
            last_usable_lba,
            size_of_partition_entry,
            partitions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_text() {
        assert_eq!(
            guids::EFI_GLOBAL_VARIABLE.to_string(),
            "8be4df61-93ca-11d2-aa0d-00e098032b8c"
        );
        assert_eq!(
            &guids::EFI_GLOBAL_VARIABLE.0[..4],
            &[0x61, 0xdf, 0xe4, 0x8b],
            "Data1 is little-endian on the wire"
        );
        assert_eq!(guids::SHIM_LOCK.well_known_name(), Some("SHIM_LOCK"));
    }

    #[test]
    fn variable_lengths_checked() {
        let mut b = guids::EFI_GLOBAL_VARIABLE.0.to_vec();
        b.extend_from_slice(&2u64.to_le_bytes());
        b.extend_from_slice(&1u64.to_le_bytes());
        b.extend_from_slice(&[b'P', 0, b'K', 0, 7]);
        let v = UefiVariableData::parse(&b).unwrap();
        assert_eq!((v.name.as_str(), v.data.as_slice()), ("PK", &[7u8][..]));
        // Name length overflowing.
        let mut bad = b.clone();
        bad[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(UefiVariableData::parse(&bad).is_err());
        // Data length one too long; one too short leaves a trailing byte.
        let mut bad = b.clone();
        bad[24..32].copy_from_slice(&2u64.to_le_bytes());
        assert!(UefiVariableData::parse(&bad).is_err());
        let mut short = b;
        short[24..32].copy_from_slice(&0u64.to_le_bytes());
        let v = UefiVariableData::parse(&short).unwrap();
        assert_eq!((v.data.len(), v.trailing.as_slice()), (0, &[7u8][..]));
    }
}
