//! Contents of measured UEFI variables, for explanations (UEFI Specification
//! 2.10 §3.3 "Globally Defined Variables", §3.1.3 `EFI_LOAD_OPTION`, §32.4.1
//! `EFI_SIGNATURE_LIST` / `EFI_SIGNATURE_DATA`; TCG PC Client PFP 1.06 rev 52
//! §10 for which variables are measured into PCR 1 and 7).
//!
//! Decoding is by vendor GUID and name: `SecureBoot`, `SetupMode`,
//! `AuditMode`, `DeployedMode` (one byte), `BootOrder` (u16 list), `Boot####`
//! (load option), `PK`/`KEK`/`db`/`dbx`/`dbt`/`dbr` (signature lists; an
//! `EV_EFI_VARIABLE_AUTHORITY` event carries a single `EFI_SIGNATURE_DATA`),
//! and shim's `SbatLevel` (text) and `MokListTrusted`/`MokSBState`/`MokDBState` (one byte). Anything else is left as bytes.

use super::devicepath::DevicePath;
use super::text::{ucs2_nul_terminated, utf8_text, EventText};
use super::uefi::{guids, Guid, UefiVariableData};
use super::EventType;
use crate::error::FormatError;
use crate::reader::Reader;

/// A decoded variable value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VariableValue {
    /// Zero bytes of data.
    Empty,
    /// A one-byte flag such as `SecureBoot`.
    Byte(u8),
    /// `BootOrder`.
    BootOrder(Vec<u16>),
    /// `Boot####`.
    LoadOption(LoadOption),
    /// `PK`, `KEK`, `db`, `dbx`, `dbt`, `dbr`.
    SignatureLists(Vec<SignatureList>),
    /// The one signature an `EV_EFI_VARIABLE_AUTHORITY` event names.
    SignatureData(SignatureData),
    /// A bare DER certificate (older shim logs its authorities this way,
    /// without the `EFI_SIGNATURE_DATA` owner GUID).
    Certificate(Vec<u8>),
    /// A text value (e.g. shim's `SbatLevel`).
    Text(EventText),
    /// Not a variable this crate decodes; see the raw data.
    Bytes,
    /// A variable this crate decodes whose data does not have its layout.
    Malformed(FormatError),
}

/// `EFI_LOAD_OPTION`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOption {
    pub attributes: u32,
    pub description: String,
    /// FilePathList: the image's device path first, then optional others.
    pub file_paths: Result<Vec<DevicePath>, FormatError>,
    pub optional_data: Vec<u8>,
}

/// `EFI_SIGNATURE_LIST`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureList {
    pub signature_type: Guid,
    pub header: Vec<u8>,
    pub signatures: Vec<SignatureData>,
}

/// `EFI_SIGNATURE_DATA`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureData {
    pub owner: Guid,
    /// The certificate (DER) or hash.
    pub data: Vec<u8>,
}

fn is_boot_entry(name: &str) -> bool {
    name.len() == 8
        && name.starts_with("Boot")
        && name.chars().skip(4).all(|c| c.is_ascii_hexdigit())
}

impl UefiVariableData {
    /// Decodes the variable's content as measured by an event of `event_type`.
    pub fn value(&self, event_type: EventType) -> VariableValue {
        if self.data.is_empty() {
            return VariableValue::Empty;
        }
        if event_type == EventType::EFI_VARIABLE_AUTHORITY && is_der_sequence(&self.data) {
            return VariableValue::Certificate(self.data.clone());
        }
        let result = match (self.vendor, self.name.as_str()) {
            (
                guids::EFI_GLOBAL_VARIABLE,
                "SecureBoot" | "SetupMode" | "AuditMode" | "DeployedMode",
            ) => match self.data.as_slice() {
                [b] => Ok(VariableValue::Byte(*b)),
                d => Err(FormatError::unexpected(
                    "one-byte UEFI variable",
                    "1 byte",
                    d.len(),
                )),
            },
            (guids::EFI_GLOBAL_VARIABLE, "BootOrder") => boot_order(&self.data),
            (guids::EFI_GLOBAL_VARIABLE, name) if is_boot_entry(name) => {
                LoadOption::parse(&self.data).map(VariableValue::LoadOption)
            }
            (guids::EFI_GLOBAL_VARIABLE, "PK" | "KEK")
            | (guids::EFI_IMAGE_SECURITY_DATABASE, _)
                if event_type == EventType::EFI_VARIABLE_AUTHORITY =>
            {
                signature_data(&self.data).map(VariableValue::SignatureData)
            }
            (guids::EFI_GLOBAL_VARIABLE, "PK" | "KEK")
            | (guids::EFI_IMAGE_SECURITY_DATABASE, "db" | "dbx" | "dbt" | "dbr") => {
                signature_lists(&self.data).map(VariableValue::SignatureLists)
            }
            (guids::SHIM_LOCK, "MokListTrusted" | "MokSBState" | "MokDBState") => {
                match self.data.as_slice() {
                    [b] => Ok(VariableValue::Byte(*b)),
                    d => Err(FormatError::unexpected(
                        "one-byte shim variable",
                        "1 byte",
                        d.len(),
                    )),
                }
            }
            (guids::SHIM_LOCK, "SbatLevel") => {
                Ok(utf8_text(&self.data).map_or(VariableValue::Bytes, VariableValue::Text))
            }
            _ => Ok(VariableValue::Bytes),
        };
        result.unwrap_or_else(VariableValue::Malformed)
    }
}

/// True when `data` is exactly one DER SEQUENCE with a two-byte length
/// (the shape of every X.509 certificate between 256 bytes and 64 KiB).
fn is_der_sequence(data: &[u8]) -> bool {
    match data {
        [0x30, 0x82, hi, lo, rest @ ..] => {
            usize::from(u16::from_be_bytes([*hi, *lo])) == rest.len()
        }
        _ => false,
    }
}

fn boot_order(data: &[u8]) -> Result<VariableValue, FormatError> {
    let chunks = data.chunks_exact(2);
    if !chunks.remainder().is_empty() {
        return Err(FormatError::unexpected(
            "BootOrder",
            "an even number of bytes",
            data.len(),
        ));
    }
    Ok(VariableValue::BootOrder(
        chunks
            .map(|c| match c {
                [lo, hi] => u16::from_le_bytes([*lo, *hi]),
                _ => 0,
            })
            .collect(),
    ))
}

impl LoadOption {
    /// Parses `EFI_LOAD_OPTION`: Attributes u32, FilePathListLength u16,
    /// Description (NUL-terminated CHAR16), FilePathList, OptionalData.
    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        let mut r = Reader::new(bytes);
        let attributes = r.u32_le("EFI_LOAD_OPTION.Attributes")?;
        let path_len = usize::from(r.u16_le("EFI_LOAD_OPTION.FilePathListLength")?);
        let (description, used) =
            ucs2_nul_terminated(r.peek_rest(), "EFI_LOAD_OPTION.Description")?;
        r.take(used, "EFI_LOAD_OPTION.Description")?;
        let path = r.take(path_len, "EFI_LOAD_OPTION.FilePathList")?;
        Ok(Self {
            attributes,
            description,
            file_paths: DevicePath::parse_list(path),
            optional_data: r.peek_rest().to_vec(),
        })
    }
}

fn signature_data(bytes: &[u8]) -> Result<SignatureData, FormatError> {
    let mut r = Reader::new(bytes);
    let owner = Guid::read(&mut r, "EFI_SIGNATURE_DATA.SignatureOwner")?;
    Ok(SignatureData {
        owner,
        data: r.peek_rest().to_vec(),
    })
}

/// Parses a sequence of `EFI_SIGNATURE_LIST`s filling `bytes`.
pub fn signature_lists(bytes: &[u8]) -> Result<Vec<SignatureList>, FormatError> {
    let mut r = Reader::new(bytes);
    let mut lists = Vec::new();
    while !r.is_empty() {
        let signature_type = Guid::read(&mut r, "EFI_SIGNATURE_LIST.SignatureType")?;
        let list_size = r.u32_le("EFI_SIGNATURE_LIST.SignatureListSize")?;
        let header_size = r.u32_le("EFI_SIGNATURE_LIST.SignatureHeaderSize")?;
        let sig_size = r.u32_le("EFI_SIGNATURE_LIST.SignatureSize")?;
        let to_usize = |v: u32| usize::try_from(v).unwrap_or(usize::MAX);
        let body = to_usize(list_size)
            .checked_sub(28)
            .and_then(|b| b.checked_sub(to_usize(header_size)))
            .ok_or_else(|| {
                FormatError::unexpected(
                    "EFI_SIGNATURE_LIST.SignatureListSize",
                    format!("at least 28 + SignatureHeaderSize ({header_size})"),
                    list_size,
                )
            })?;
        let sig_size = to_usize(sig_size);
        if sig_size < 16 || body % sig_size != 0 {
            return Err(FormatError::unexpected(
                "EFI_SIGNATURE_LIST.SignatureSize",
                format!("at least 16 and dividing the {body} signature bytes"),
                sig_size,
            ));
        }
        let header = r
            .take(to_usize(header_size), "EFI_SIGNATURE_LIST.SignatureHeader")?
            .to_vec();
        let sigs = r.take(body, "EFI_SIGNATURE_LIST.Signatures")?;
        let signatures = sigs
            .chunks_exact(sig_size)
            .map(signature_data)
            .collect::<Result<_, _>>()?;
        lists.push(SignatureList {
            signature_type,
            header,
            signatures,
        });
    }
    Ok(lists)
}
