//! Decoding event data for explanations (TCG PC Client PFP 1.06 rev 52 §10.4
//! "Event Descriptions"; structures in [`super::uefi`], [`super::variables`],
//! [`super::devicepath`]).
//!
//! [`Event::decode`] never fails: data that a type's structure does not fit,
//! and types without a decoder, become [`DecodedEvent::Raw`] (with the reason
//! when a decoder rejected the data). Decoding never affects the replay.
//!
//! Event data is not covered by the PCR value: only the digests are. For the
//! types where the PFP defines the digest as a hash of the event data,
//! [`Event::data_binding`] checks that the data shown to a human is what was
//! measured; explanations of other types describe the log's claim only.

use std::fmt;

use super::text::{any_text, sanitize_one_line, utf16_text, utf8_text, EventText};
use super::uefi::{FirmwareBlob, GptData, Guid, HandoffTables, ImageLoadEvent, UefiVariableData};
use super::variables::VariableValue;
use super::{Event, EventType, STARTUP_LOCALITY_SIGNATURE};
use crate::error::FormatError;
use crate::hash::HashAlg;
use crate::reader::Reader;

/// The decoded content of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodedEvent {
    /// `EV_NO_ACTION` Startup Locality (PFP §10.4.5.3): the locality of TPM2_Startup.
    StartupLocality(u8),
    /// `EV_NO_ACTION` SP800-155 platform-identifier event.
    Sp800155(Sp800155Event),
    /// Another `EV_NO_ACTION` event, with its 16-byte ASCII signature if it has one.
    NoAction { signature: Option<String> },
    /// `EV_SEPARATOR`: 0x00000000 (`error: false`) or 0xFFFFFFFF (`error: true`).
    Separator { error: bool },
    /// `EV_EFI_VARIABLE_DRIVER_CONFIG`, `_BOOT`, `_BOOT2`, `_AUTHORITY`.
    Variable {
        variable: UefiVariableData,
        value: VariableValue,
    },
    /// `EV_EFI_BOOT_SERVICES_APPLICATION`, `_DRIVER`, `EV_EFI_RUNTIME_SERVICES_DRIVER`.
    ImageLoad(ImageLoadEvent),
    /// `EV_EFI_PLATFORM_FIRMWARE_BLOB(2)`, or an `EV_POST_CODE` / `EV_S_CRTM_CONTENTS` blob.
    FirmwareBlob(FirmwareBlob),
    /// `EV_EFI_HANDOFF_TABLES(2)`.
    HandoffTables(HandoffTables),
    /// `EV_EFI_GPT_EVENT(2)`.
    Gpt(GptData),
    /// `EV_EVENT_TAG`: one `TCG_PCClientTaggedEvent`.
    Tagged { id: u32, data: Vec<u8> },
    /// `EV_S_CRTM_VERSION` given as a GUID.
    CrtmVersionGuid(Guid),
    /// A text payload: `EV_IPL`, `EV_ACTION`, `EV_EFI_ACTION`, `EV_S_CRTM_VERSION`,
    /// `EV_POST_CODE`, and other types when their data is printable text.
    Text(EventText),
    /// Not decoded. `error` says why the type's decoder rejected the data
    /// (`None`: no decoder for this type).
    Raw { error: Option<FormatError> },
}

/// An SP800-155 platform-identifier event ("SP800-155 Event2"/"Event3").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sp800155Event {
    /// 2 or 3.
    pub version: u8,
    pub platform_manufacturer_id: u32,
    pub reference_manifest_guid: Guid,
    pub platform_manufacturer: String,
    pub platform_model: String,
    pub platform_version: String,
    pub firmware_manufacturer: String,
    pub firmware_manufacturer_id: u32,
    pub firmware_version: String,
    /// Event3 only: (RimLocatorType, RimLocator).
    pub rim_locator: Option<(u32, Vec<u8>)>,
    /// Event3 only: (PlatformCertLocatorType, PlatformCertLocator).
    pub platform_cert_locator: Option<(u32, Vec<u8>)>,
    /// Zero bytes after the structure (GCE firmware appends six).
    pub trailing_zeros: usize,
}

fn raw(error: FormatError) -> DecodedEvent {
    DecodedEvent::Raw { error: Some(error) }
}

fn text_or_raw(text: Option<EventText>, what: &'static str) -> DecodedEvent {
    text.map_or_else(
        || {
            raw(FormatError::unexpected(
                what,
                "printable text",
                "binary data",
            ))
        },
        DecodedEvent::Text,
    )
}

impl Event {
    /// Decodes the event data (never fails; see the module docs).
    pub fn decode(&self) -> DecodedEvent {
        let data = self.data.as_slice();
        let t = self.event_type;
        match t {
            EventType::NO_ACTION => decode_no_action(data),
            EventType::SEPARATOR => match data {
                [0, 0, 0, 0] => DecodedEvent::Separator { error: false },
                [0xff, 0xff, 0xff, 0xff] => DecodedEvent::Separator { error: true },
                _ => raw(FormatError::unexpected(
                    "EV_SEPARATOR data",
                    "00000000 or ffffffff",
                    hex::encode(data),
                )),
            },
            EventType::EFI_VARIABLE_DRIVER_CONFIG
            | EventType::EFI_VARIABLE_BOOT
            | EventType::EFI_VARIABLE_BOOT2
            | EventType::EFI_VARIABLE_AUTHORITY => match UefiVariableData::parse(data) {
                Ok(variable) => {
                    let value = variable.value(t);
                    DecodedEvent::Variable { variable, value }
                }
                Err(e) => raw(e),
            },
            EventType::EFI_BOOT_SERVICES_APPLICATION
            | EventType::EFI_BOOT_SERVICES_DRIVER
            | EventType::EFI_RUNTIME_SERVICES_DRIVER => {
                ImageLoadEvent::parse(data).map_or_else(raw, DecodedEvent::ImageLoad)
            }
            EventType::EFI_PLATFORM_FIRMWARE_BLOB => {
                FirmwareBlob::parse(data).map_or_else(raw, DecodedEvent::FirmwareBlob)
            }
            EventType::EFI_PLATFORM_FIRMWARE_BLOB2 => {
                FirmwareBlob::parse2(data).map_or_else(raw, DecodedEvent::FirmwareBlob)
            }
            EventType::EFI_HANDOFF_TABLES => {
                HandoffTables::parse(data, false).map_or_else(raw, DecodedEvent::HandoffTables)
            }
            EventType::EFI_HANDOFF_TABLES2 => {
                HandoffTables::parse(data, true).map_or_else(raw, DecodedEvent::HandoffTables)
            }
            EventType::EFI_GPT_EVENT | EventType::EFI_GPT_EVENT2 => {
                GptData::parse(data).map_or_else(raw, DecodedEvent::Gpt)
            }
            EventType::EVENT_TAG => decode_tagged(data),
            EventType::ACTION | EventType::EFI_ACTION => {
                text_or_raw(utf8_text(data), "action string")
            }
            EventType::IPL => text_or_raw(any_text(data), "EV_IPL data"),
            EventType::S_CRTM_VERSION => match utf16_text(data) {
                Some(text) => DecodedEvent::Text(text),
                None => match <[u8; 16]>::try_from(data) {
                    Ok(g) => DecodedEvent::CrtmVersionGuid(Guid(g)),
                    Err(_) => raw(FormatError::unexpected(
                        "EV_S_CRTM_VERSION data",
                        "a UTF-16 string or a GUID",
                        format!("{} bytes of other data", data.len()),
                    )),
                },
            },
            EventType::POST_CODE | EventType::POST_CODE2 | EventType::S_CRTM_CONTENTS => {
                match utf8_text(data) {
                    Some(text) => DecodedEvent::Text(text),
                    None if data.len() == 16 => {
                        FirmwareBlob::parse(data).map_or_else(raw, DecodedEvent::FirmwareBlob)
                    }
                    None => FirmwareBlob::parse2(data).map_or_else(raw, DecodedEvent::FirmwareBlob),
                }
            }
            EventType::PLATFORM_CONFIG_FLAGS
            | EventType::CPU_MICROCODE
            | EventType::OMIT_BOOT_DEVICE_EVENTS
            | EventType::NONHOST_INFO
            | EventType::EFI_HCRTM_EVENT => match utf8_text(data) {
                Some(text) => DecodedEvent::Text(text),
                None => DecodedEvent::Raw { error: None },
            },
            _ => DecodedEvent::Raw { error: None },
        }
    }

    /// A one-line human summary, e.g. `event 25 (PCR 4,
    /// EV_EFI_BOOT_SERVICES_APPLICATION): PciRoot(0x0)/…/\EFI\BOOT\BOOTX64.EFI`.
    /// Text from the log is sanitized (no control characters) and shortened.
    pub fn describe(&self) -> String {
        format!(
            "event {} (PCR {}, {}): {}",
            self.index,
            self.pcr,
            self.event_type,
            self.summary()
        )
    }

    /// The decoded content alone, sanitized and shortened as in
    /// [`Event::describe`] (which adds the event's position, PCR and type), e.g.
    /// `PciRoot(0x0)/…/\EFI\BOOT\BOOTX64.EFI (image at 0x…, 0x… bytes)`.
    pub fn summary(&self) -> String {
        sanitize_one_line(&summarize(self, &self.decode()), 200)
    }
}

fn decode_no_action(data: &[u8]) -> DecodedEvent {
    if let Some((sig, [locality])) = data.split_at_checked(STARTUP_LOCALITY_SIGNATURE.len()) {
        if sig == STARTUP_LOCALITY_SIGNATURE {
            return DecodedEvent::StartupLocality(*locality);
        }
    }
    let signature = data.get(..16).and_then(|s| {
        let s = s.split(|&b| b == 0).next().unwrap_or(s);
        (!s.is_empty() && s.iter().all(|b| b.is_ascii_graphic() || *b == b' '))
            .then(|| String::from_utf8_lossy(s).into_owned())
    });
    match signature.as_deref() {
        Some(sig @ ("SP800-155 Event2" | "SP800-155 Event3")) => {
            let version = if sig.ends_with('3') { 3 } else { 2 };
            parse_sp800_155(data, version).map_or_else(raw, DecodedEvent::Sp800155)
        }
        _ => DecodedEvent::NoAction { signature },
    }
}

/// Parses the SP800-155 Event2/Event3 layout (PFP 1.06 §10.4.5.2); trailing
/// zero bytes are tolerated and counted, anything else after it is an error.
fn parse_sp800_155(data: &[u8], version: u8) -> Result<Sp800155Event, FormatError> {
    fn string(r: &mut Reader<'_>, field: &'static str) -> Result<String, FormatError> {
        let size = r.u8(field)?;
        let s = r.take(usize::from(size), field)?;
        let s = s.strip_suffix(&[0]).unwrap_or(s);
        Ok(String::from_utf8_lossy(s).into_owned())
    }
    fn locator(
        r: &mut Reader<'_>,
        ty: &'static str,
        field: &'static str,
    ) -> Result<(u32, Vec<u8>), FormatError> {
        let kind = r.u32_le(ty)?;
        let len = usize::try_from(r.u32_le(field)?).unwrap_or(usize::MAX);
        Ok((kind, r.take(len, field)?.to_vec()))
    }
    let mut r = Reader::new(data);
    r.take(16, "TCG_Sp800_155_PlatformId_Event.Signature")?;
    let platform_manufacturer_id = r.u32_le("SP800-155.VendorId")?;
    let reference_manifest_guid = Guid::read(&mut r, "SP800-155.ReferenceManifestGuid")?;
    let platform_manufacturer = string(&mut r, "SP800-155.PlatformManufacturerStr")?;
    let platform_model = string(&mut r, "SP800-155.PlatformModel")?;
    let platform_version = string(&mut r, "SP800-155.PlatformVersion")?;
    let firmware_manufacturer = string(&mut r, "SP800-155.FirmwareManufacturerStr")?;
    let firmware_manufacturer_id = r.u32_le("SP800-155.FirmwareManufacturerId")?;
    let firmware_version = string(&mut r, "SP800-155.FirmwareVersion")?;
    let (rim_locator, platform_cert_locator) = if version == 3 {
        (
            Some(locator(
                &mut r,
                "SP800-155.RimLocatorType",
                "SP800-155.RimLocator",
            )?),
            Some(locator(
                &mut r,
                "SP800-155.PlatformCertLocatorType",
                "SP800-155.PlatformCertLocator",
            )?),
        )
    } else {
        (None, None)
    };
    let rest = r.peek_rest();
    if rest.iter().any(|&b| b != 0) {
        r.finish("TCG_Sp800_155_PlatformId_Event")?;
    }
    Ok(Sp800155Event {
        version,
        platform_manufacturer_id,
        reference_manifest_guid,
        platform_manufacturer,
        platform_model,
        platform_version,
        firmware_manufacturer,
        firmware_manufacturer_id,
        firmware_version,
        rim_locator,
        platform_cert_locator,
        trailing_zeros: rest.len(),
    })
}

fn decode_tagged(data: &[u8]) -> DecodedEvent {
    fn parse(data: &[u8]) -> Result<(u32, Vec<u8>), FormatError> {
        let mut r = Reader::new(data);
        let id = r.u32_le("TCG_PCClientTaggedEvent.taggedEventID")?;
        let body = r.vec_u32_le("TCG_PCClientTaggedEvent.taggedEventDataSize", data.len())?;
        r.finish("TCG_PCClientTaggedEvent")?;
        Ok((id, body.to_vec()))
    }
    parse(data).map_or_else(raw, |(id, data)| DecodedEvent::Tagged { id, data })
}

fn hex_preview(data: &[u8]) -> String {
    let shown = data.get(..32).unwrap_or(data);
    format!(
        "{} bytes: {}{}",
        data.len(),
        hex::encode(shown),
        if shown.len() < data.len() { "…" } else { "" }
    )
}

fn trailing_note(trailing: &[u8]) -> String {
    if trailing.is_empty() {
        String::new()
    } else {
        format!(" (+{} bytes after the structure)", trailing.len())
    }
}

fn quoted(text: &EventText) -> String {
    format!("{:?}", text.text)
}

fn summarize(event: &Event, decoded: &DecodedEvent) -> String {
    match decoded {
        DecodedEvent::StartupLocality(l) => format!("StartupLocality {l}"),
        DecodedEvent::Sp800155(e) => format!(
            "SP800-155 Event{}: {} {} {} (firmware {} {})",
            e.version,
            e.platform_manufacturer,
            e.platform_model,
            e.platform_version,
            e.firmware_manufacturer,
            e.firmware_version
        ),
        DecodedEvent::NoAction { signature: Some(s) } => {
            format!("{s:?} ({} bytes)", event.data.len())
        }
        DecodedEvent::NoAction { signature: None } => hex_preview(&event.data),
        DecodedEvent::Separator { error: false } => "separator".to_owned(),
        DecodedEvent::Separator { error: true } => "ERROR separator (ffffffff)".to_owned(),
        DecodedEvent::Variable { variable, value } => {
            let vendor = variable
                .vendor
                .well_known_name()
                .map_or_else(|| variable.vendor.to_string(), str::to_owned);
            format!(
                "{vendor}:{} = {}{}",
                variable.name,
                value_summary(value, &variable.data),
                trailing_note(&variable.trailing)
            )
        }
        DecodedEvent::ImageLoad(img) => {
            let path = match &img.device_path {
                Ok(p) if p.nodes.is_empty() => "(empty device path)".to_owned(),
                Ok(p) => p.to_string(),
                Err(e) => format!("(invalid device path: {e})"),
            };
            format!(
                "{path} (image at 0x{:x}, 0x{:x} bytes){}",
                img.image_location_in_memory,
                img.image_length_in_memory,
                trailing_note(&img.trailing)
            )
        }
        DecodedEvent::FirmwareBlob(b) => match &b.description {
            Some(d) => format!("{d:?} at 0x{:x}, 0x{:x} bytes", b.base, b.length),
            None => format!("firmware blob at 0x{:x}, 0x{:x} bytes", b.base, b.length),
        },
        DecodedEvent::HandoffTables(t) => {
            let list: Vec<String> = t
                .tables
                .iter()
                .map(|(g, a)| format!("{g}@0x{a:x}"))
                .collect();
            match &t.description {
                Some(d) => format!("{d:?}: {}", list.join(", ")),
                None => list.join(", "),
            }
        }
        DecodedEvent::Gpt(g) => {
            let parts: Vec<String> = g
                .partitions
                .iter()
                .map(|p| {
                    if p.name.is_empty() {
                        format!("type {}", p.type_guid)
                    } else {
                        format!("{:?}", p.name)
                    }
                })
                .collect();
            format!(
                "GPT disk {} with {} partitions: {}",
                g.disk_guid,
                g.partitions.len(),
                parts.join(", ")
            )
        }
        DecodedEvent::Tagged { id, data } => match utf8_text(data) {
            Some(t) => format!("tag 0x{id:08x}: {}", quoted(&t)),
            None => format!("tag 0x{id:08x}, {}", hex_preview(data)),
        },
        DecodedEvent::CrtmVersionGuid(g) => format!("S-CRTM version {g}"),
        DecodedEvent::Text(t) => quoted(t),
        DecodedEvent::Raw { error: Some(e) } => {
            format!("undecodable ({e}); {}", hex_preview(&event.data))
        }
        DecodedEvent::Raw { error: None } => hex_preview(&event.data),
    }
}

fn value_summary(value: &VariableValue, data: &[u8]) -> String {
    match value {
        VariableValue::Empty => "(empty)".to_owned(),
        VariableValue::Byte(b) => b.to_string(),
        VariableValue::BootOrder(list) => {
            let l: Vec<String> = list.iter().map(|n| format!("Boot{n:04X}")).collect();
            l.join(",")
        }
        VariableValue::LoadOption(o) => match o.file_paths.as_deref() {
            Ok([]) => format!("{:?} (no device path)", o.description),
            Ok([p]) => format!("{:?} {p}", o.description),
            Ok([p, more @ ..]) => format!("{:?} {p} (+{} more paths)", o.description, more.len()),
            Err(e) => format!("{:?} (invalid device path: {e})", o.description),
        },
        VariableValue::SignatureLists(lists) => {
            let l: Vec<String> = lists
                .iter()
                .map(|s| {
                    let kind = s
                        .signature_type
                        .well_known_name()
                        .map_or_else(|| s.signature_type.to_string(), str::to_owned);
                    format!("{} × {kind}", s.signatures.len())
                })
                .collect();
            format!("[{}]", l.join(", "))
        }
        VariableValue::SignatureData(s) => {
            format!("signature owned by {} ({} bytes)", s.owner, s.data.len())
        }
        VariableValue::Certificate(c) => format!("DER certificate ({} bytes)", c.len()),
        VariableValue::Text(t) => quoted(t),
        VariableValue::Bytes => hex_preview(data),
        VariableValue::Malformed(e) => format!("malformed ({e})"),
    }
}

/// Whether an event's data is what its digests measure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataBinding {
    /// For this event type the digest is not defined as a hash of the event
    /// data (e.g. images: the PE/COFF Authenticode hash), so the data is the
    /// log's unverified claim.
    NotApplicable,
    /// Every supported digest equals the hash of the data.
    Bound,
    /// The digest for `alg` is not the hash of the data: the data shown does
    /// not describe what was measured.
    Unbound { alg: HashAlg },
}

impl fmt::Display for DataBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotApplicable => f.write_str("digest is not a hash of the event data"),
            Self::Bound => f.write_str("event data matches its digests"),
            Self::Unbound { alg } => write!(f, "{alg} digest is not the hash of the event data"),
        }
    }
}

impl Event {
    /// Checks the data against the digests for the types whose digest the PFP
    /// defines as a hash of the event data: `EV_SEPARATOR`, `EV_ACTION`,
    /// `EV_EFI_ACTION`, `EV_EFI_VARIABLE_DRIVER_CONFIG`, `EV_EFI_VARIABLE_BOOT2`,
    /// `EV_EFI_GPT_EVENT(2)`, and `EV_EFI_VARIABLE_BOOT`, whose digest real
    /// firmware computes either over the whole `UEFI_VARIABLE_DATA` (PFP) or over
    /// VariableData only (older EDK II); both are accepted. `EV_NO_ACTION` and all
    /// other types give [`DataBinding::NotApplicable`].
    pub fn data_binding(&self) -> DataBinding {
        let t = self.event_type;
        let bound_types = [
            EventType::SEPARATOR,
            EventType::ACTION,
            EventType::EFI_ACTION,
            EventType::EFI_VARIABLE_DRIVER_CONFIG,
            EventType::EFI_VARIABLE_BOOT,
            EventType::EFI_VARIABLE_BOOT2,
            EventType::EFI_GPT_EVENT,
            EventType::EFI_GPT_EVENT2,
        ];
        if !bound_types.contains(&t) {
            return DataBinding::NotApplicable;
        }
        let variable_data = if t == EventType::EFI_VARIABLE_BOOT {
            UefiVariableData::parse(&self.data).ok().map(|v| v.data)
        } else {
            None
        };
        for d in &self.digests {
            let Some(alg) = d.hash_alg() else { continue };
            let whole = alg.digest(&self.data) == d.digest;
            let part = variable_data
                .as_ref()
                .is_some_and(|v| alg.digest(v) == d.digest);
            if !whole && !part {
                return DataBinding::Unbound { alg };
            }
        }
        DataBinding::Bound
    }
}
