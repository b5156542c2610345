//! The Confidential Computing Event Log (CCEL) of an Intel TDX guest: the
//! ACPI CCEL table, the log area it points to, its replay into RTMR0–3 and
//! the comparison with a TD quote's RTMRs.
//!
//! Specifications:
//! * UEFI Specification 2.10, §38 "Confidential Computing": §38.1 (a CC
//!   firmware logs in the TCG PC Client PFP format
//!   `EFI_TCG2_EVENT_LOG_FORMAT_TCG_2`, and the index field of each event is
//!   the CC measurement register index, which is vendor specific) and §38.2
//!   (`EFI_CC_MEASUREMENT_PROTOCOL`, `EFI_CC_MR_INDEX`, `MapPcrToMrIndex`).
//! * TCG PC Client Platform Firmware Profile Specification 1.06 rev 52, §10:
//!   the `TCG_PCR_EVENT` Spec ID header and the `TCG_PCR_EVENT2` records,
//!   read by the same code as the TPM's firmware log ([`super`]).
//! * ACPI Specification 6.5, §5.2.34 "CC Event Log ACPI Table" ([`table`]);
//!   Intel TDX Guest-Hypervisor Communication Interface (GHCI) 1.0, §4.3.3
//!   "CC-Event Log", where the table was first defined.
//! * Intel TDX Virtual Firmware Design Guide and the Intel TDX Module
//!   Architecture Specification for the registers and their extension
//!   ([`rtmr`]).
//!
//! Linux (≥ 6.4) exposes the table as `/sys/firmware/acpi/tables/CCEL` and the
//! log area (LAML bytes from LASA) as `/sys/firmware/acpi/tables/data/CCEL`;
//! [`CcelLog::parse`] takes the latter.
//!
//! # Decisions
//! * **Format.** The first record must be the crypto-agile Spec ID header
//!   (`EV_NO_ACTION`, zero SHA-1 digest, `"Spec ID Event03"`, its structure
//!   checked exactly as for a TPM log). Its index is 0 as the PFP says (td-shim
//!   writes that) or 1: EDK II's TDVF/OVMF logs the header's PCR 0 through
//!   `MapPcrToMrIndex`, i.e. as RTMR0's MR index, and every real firmware log
//!   in the test data but td-shim's does so. Any other index is refused. A
//!   CCEL has no legacy SHA-1 form: any other first record is refused. The header must list SHA-384 (the RTMRs'
//!   algorithm); every event then carries exactly the digests the header
//!   lists (SHA-256 too, if it is listed), as in a TPM log.
//! * **MR index.** Events other than `EV_NO_ACTION` must name MR index 1–4
//!   (RTMR0–3). Index 0 is MRTD, which the TDX module builds while the TD is
//!   created and no log event can extend; an extended event on it (or on any
//!   index above 4) is refused. `EV_NO_ACTION` events may carry any index
//!   (GKE's firmware logs its SP800-155 events on 0); they are never
//!   extended.
//! * **Padding.** The area is LAML bytes long and the log is shorter; the
//!   firmware fills the rest with 0xFF (OVMF/TDVF) or 0x00 (td-shim). At an
//!   event boundary, a record whose first 8 bytes (index and type, or what is
//!   left when fewer remain) are all 0x00 or all 0xFF starts the padding: no
//!   real event looks like that, since index 0 with type 0 is an extended
//!   event on MRTD and index 0xFFFFFFFF names no register. Every byte from
//!   there to the end of the area must then be that same byte; anything else
//!   after the padding (a second log, a stale tail, a hidden event) is
//!   refused, naming its offset. A log that fills the area has no padding.
//! * **Everything else** is refused with the record's position and offset and
//!   the failed check: a truncated record, a digest count or algorithm the
//!   header does not declare, sizes over the caps of [`super`]
//!   ([`super::MAX_EVENT_DATA`], [`super::MAX_EVENTS`]).
//! * **Event index.** As for TPM logs, records are numbered from 0 in file
//!   order: the Spec ID header is event 0, the first `TCG_PCR_EVENT2` is
//!   event 1. [`Event::pcr`] holds the MR index.
//! * **Decoding** reuses [`Event::decode`] and [`Event::summary`]
//!   (`EV_EVENT_TAG`, `EV_EFI_*` variables, images, firmware blobs, …);
//!   [`describe`] names the register instead of a PCR.
//! * **Round trip.** [`CcelLog::to_bytes`] reproduces the parsed area exactly
//!   (header, events, padding).

pub mod rtmr;
pub mod table;

pub use rtmr::{all_rtmrs, NamedEvent, Rtmr, RtmrMismatch, RtmrReplay, RtmrValue, RTMR_SIZE};
pub use table::{CcType, CcelTable, CCEL_SIGNATURE, CCEL_TABLE_LEN};

use super::parse::{
    check_spec_id_digest_and_data, read_pcr_event, read_pcr_event2, too_many_events,
};
use super::{Event, EventLog, EventType, LogFormat, SpecIdEvent, MAX_EVENTS, SPEC_ID_EVENT03};
use crate::error::FormatError;
use crate::hash::HashAlg;
use crate::reader::Reader;

/// Number of leading bytes of a record that decide whether padding starts
/// there (`PCRIndex` and `EventType`).
const PADDING_PROBE: usize = 8;

/// Why bytes were not accepted as a CCEL table or log area.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CcelError {
    /// The ACPI table did not parse.
    #[error("ACPI CCEL table: {0}")]
    Table(FormatError),
    /// A record of the log area did not parse: its position (the Spec ID
    /// header is event 0), the offset of its first byte in the area, and the
    /// failed check.
    #[error("CCEL log area: event {event} at offset {offset}: {cause}")]
    Log {
        event: u32,
        offset: usize,
        cause: FormatError,
    },
    /// The table and the area do not belong together.
    #[error("CCEL log area: {0}")]
    Mismatch(FormatError),
}

/// The padding after the last event of a log area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Padding {
    /// 0x00 or 0xFF.
    pub byte: u8,
    /// Offset of its first byte in the area.
    pub offset: usize,
    /// Number of padding bytes (to the end of the area).
    pub len: usize,
}

/// A parsed CCEL log area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CcelLog {
    log: EventLog,
    /// The Spec ID header's index (0 or 1, see the module docs).
    header_index: u32,
    padding: Option<Padding>,
}

/// The CCEL rule for `PCRIndex` (see the module docs), checked before the
/// digests are read.
fn check_mr_index(mr_index: u32, event_type: EventType) -> Result<(), FormatError> {
    if event_type == EventType::NO_ACTION || Rtmr::from_mr_index(mr_index).is_some() {
        return Ok(());
    }
    Err(FormatError::unexpected(
        "TCG_PCR_EVENT2.PCRIndex (CC MR index)",
        format!(
            "1..=4 (RTMR0..RTMR3) for an extended event ({event_type}); \
             MR index 0 is MRTD, which no log event extends"
        ),
        mr_index,
    ))
}

/// The padding byte when `rest` (the bytes from an event boundary on) starts
/// with padding (see the module docs).
fn padding_start(rest: &[u8]) -> Option<u8> {
    let probe = rest.get(..PADDING_PROBE).unwrap_or(rest);
    match probe.first() {
        Some(&b @ (0x00 | 0xff)) if probe.iter().all(|&x| x == b) => Some(b),
        _ => None,
    }
}

fn err(event: u32, offset: usize, cause: FormatError) -> CcelError {
    CcelError::Log {
        event,
        offset,
        cause,
    }
}

impl CcelLog {
    /// Parses a CCEL log area (`/sys/firmware/acpi/tables/data/CCEL`): the
    /// Spec ID header, the events, and the padding to the end of the area
    /// (see the module docs for every check).
    pub fn parse(area: &[u8]) -> Result<Self, CcelError> {
        if area.is_empty() || padding_start(area).is_some() {
            return Err(err(
                0,
                0,
                FormatError::unexpected(
                    "CCEL log area",
                    "a Spec ID Event03 header at offset 0",
                    if area.is_empty() {
                        "an empty area".to_owned()
                    } else {
                        "padding (no event was logged)".to_owned()
                    },
                ),
            ));
        }
        let mut r = Reader::new(area);
        let head = read_pcr_event(&mut r).map_err(|e| err(0, 0, e))?;
        if head.event_type != EventType::NO_ACTION || !head.data.starts_with(SPEC_ID_EVENT03) {
            return Err(err(
                0,
                0,
                FormatError::unexpected(
                    "CCEL first event",
                    "the EV_NO_ACTION \"Spec ID Event03\" header (a CCEL is a crypto-agile log)",
                    format!("{} with {} bytes of data", head.event_type, head.data.len()),
                ),
            ));
        }
        if !matches!(head.pcr, 0 | 1) {
            return Err(err(
                0,
                0,
                FormatError::unexpected(
                    "Spec ID event PCRIndex",
                    "0 (PFP) or 1 (PCR 0 mapped to RTMR0's MR index, as EDK II writes it)",
                    head.pcr,
                ),
            ));
        }
        let spec_id = check_spec_id_digest_and_data(&head).map_err(|e| err(0, 0, e))?;
        if spec_id.digest_size(HashAlg::Sha384.alg_id()).is_none() {
            let listed: Vec<String> = spec_id
                .algorithms
                .iter()
                .map(|a| format!("0x{:04x}", a.alg_id))
                .collect();
            return Err(err(
                0,
                0,
                FormatError::unexpected(
                    "TCG_EfiSpecIdEvent.digestSizes",
                    "SHA-384 (0x000c) among the algorithms: RTMRs are SHA-384 registers",
                    listed.join(", "),
                ),
            ));
        }
        let mut events: Vec<Event> = Vec::new();
        let mut index: u32 = 1;
        let mut padding = None;
        while !r.is_empty() {
            let offset = r.offset();
            let rest = r.peek_rest();
            if let Some(byte) = padding_start(rest) {
                if let Some(bad) = rest.iter().position(|&b| b != byte) {
                    let at = offset.saturating_add(bad);
                    let got = rest.get(bad).copied().unwrap_or_default();
                    return Err(err(
                        index,
                        offset,
                        FormatError::unexpected(
                            "CCEL log area padding",
                            format!(
                                "only 0x{byte:02x} bytes from offset {offset} (where the \
                                 padding starts) to the end of the area"
                            ),
                            format!("0x{got:02x} at offset {at}"),
                        ),
                    ));
                }
                padding = Some(Padding {
                    byte,
                    offset,
                    len: rest.len(),
                });
                break;
            }
            if events.len() + 1 >= MAX_EVENTS {
                return Err(err(index, offset, too_many_events()));
            }
            let event = read_pcr_event2(&mut r, &spec_id, index, check_mr_index)
                .map_err(|e| err(index, offset, e))?;
            events.push(event);
            index = index.saturating_add(1);
        }
        Ok(Self {
            log: EventLog::from_parts(LogFormat::CryptoAgile { spec_id }, events, 0),
            header_index: head.pcr,
            padding,
        })
    }

    /// Parses the log area that `table` describes: the table must be a TDX
    /// table (only TDX defines MR index 1–4 as RTMR0–3) and the area exactly
    /// LAML bytes long (the size of the sysfs file Linux makes from it).
    pub fn parse_with_table(table: &CcelTable, area: &[u8]) -> Result<Self, CcelError> {
        if table.cc_type != CcType::TDX {
            return Err(CcelError::Table(FormatError::unexpected(
                "CCEL table CC Type",
                format!(
                    "{} (MR indices 1..=4 are RTMR0..RTMR3 only for TDX)",
                    CcType::TDX
                ),
                table.cc_type,
            )));
        }
        if u64::try_from(area.len()).ok() != Some(table.laml) {
            return Err(CcelError::Mismatch(FormatError::unexpected(
                "CCEL log area length",
                format!("the table's LAML, {} bytes", table.laml),
                format!("{} bytes", area.len()),
            )));
        }
        Self::parse(area)
    }

    /// The exact bytes of the area: header, events and padding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.log.to_bytes();
        // The shared writer puts the header on PCR 0 as the PFP says.
        if let Some(index) = out.get_mut(..4) {
            index.copy_from_slice(&self.header_index.to_le_bytes());
        }
        if let Some(p) = self.padding {
            out.resize(out.len().saturating_add(p.len), p.byte);
        }
        out
    }

    /// The log as a crypto-agile [`EventLog`] (its `pcr` fields are MR
    /// indices; its PCR replay means nothing for a CCEL, use
    /// [`CcelLog::replay`]).
    pub fn event_log(&self) -> &EventLog {
        &self.log
    }

    /// The Spec ID header.
    pub fn spec_id(&self) -> Option<&SpecIdEvent> {
        self.log.spec_id()
    }

    /// The events after the Spec ID header.
    pub fn events(&self) -> &[Event] {
        self.log.events()
    }

    /// The index of the Spec ID header: 0 or 1 (see the module docs).
    pub fn header_index(&self) -> u32 {
        self.header_index
    }

    /// The padding after the last event (`None` when the log fills the area).
    pub fn padding(&self) -> Option<Padding> {
        self.padding
    }

    /// One summary line: the header's algorithms, the number of events and
    /// the padding.
    pub fn render_summary(&self) -> String {
        let algs: Vec<String> = self
            .spec_id()
            .map(|s| {
                s.algorithms
                    .iter()
                    .map(|a| match a.hash_alg() {
                        Some(h) => h.name().to_owned(),
                        None => format!("alg 0x{:04x}", a.alg_id),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let padding = match self.padding {
            Some(p) => format!(
                "{} bytes of 0x{:02x} padding from offset {}",
                p.len, p.byte, p.offset
            ),
            None => "no padding".to_owned(),
        };
        format!(
            "CCEL: Spec ID Event03, digests {}; {} events; {padding}",
            algs.join(", "),
            self.events().len()
        )
    }

    /// The header line and one [`describe`] line per event.
    pub fn render_text(&self) -> String {
        let mut out = self.render_summary();
        out.push('\n');
        for e in self.events() {
            out.push_str(&describe(e));
            out.push('\n');
        }
        out
    }
}

/// A one-line human summary of a CCEL event, naming its register, e.g.
/// `event 17 (RTMR1, EV_EFI_BOOT_SERVICES_APPLICATION): PciRoot(0x0)/…`.
/// `EV_NO_ACTION` events name their MR index (`MR index 0` for the usual
/// ones).
pub fn describe(event: &Event) -> String {
    let register = match Rtmr::from_mr_index(event.pcr) {
        Some(r) if event.is_extended() => r.name().to_owned(),
        _ => format!("MR index {}", event.pcr),
    };
    format!(
        "event {} ({register}, {}): {}",
        event.index,
        event.event_type,
        event.summary()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_probe() {
        assert_eq!(padding_start(&[0xff; 3]), Some(0xff));
        assert_eq!(padding_start(&[0; 100]), Some(0));
        assert_eq!(padding_start(&[0, 0, 0, 0, 0, 0, 0, 1, 0]), None);
        assert_eq!(padding_start(&[0xff, 0]), None);
        assert_eq!(padding_start(&[]), None);
        assert_eq!(padding_start(&[1; 8]), None);
    }

    #[test]
    fn mr_index_rule() {
        assert!(check_mr_index(0, EventType::NO_ACTION).is_ok());
        assert!(check_mr_index(0xffff_ffff, EventType::NO_ACTION).is_ok());
        assert!(check_mr_index(4, EventType::EVENT_TAG).is_ok());
        let e = check_mr_index(0, EventType::SEPARATOR).unwrap_err();
        assert!(e.to_string().contains("MRTD"), "{e}");
        assert!(check_mr_index(5, EventType::SEPARATOR).is_err());
    }
}
