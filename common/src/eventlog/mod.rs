//! The TCG PC Client firmware event log: parsing, byte-exact serialization,
//! PCR replay, and event decoding for human explanations.
//!
//! Specifications:
//! * TCG PC Client Platform Firmware Profile Specification (PFP), Version 1.06
//!   Revision 52, §10 "Event Logging": `TCG_PCR_EVENT` (the SHA-1 log entry and
//!   the first entry of every crypto-agile log), `TCG_PCR_EVENT2` with
//!   `TPML_DIGEST_VALUES`, `TCG_EfiSpecIdEvent` ("Spec ID Event03", with its
//!   `TCG_EfiSpecIdEventAlgorithmSize` list), §10.4.1 event types, and the
//!   `EV_NO_ACTION` events of §10.4.5 (Startup Locality §10.4.5.3, SP800-155).
//! * TCG EFI Protocol Specification (`EFI_TCG2_PROTOCOL`), §5 event log
//!   formats: `EFI_TCG2_EVENT_LOG_FORMAT_TCG_1_2` (SHA-1, "legacy") and
//!   `EFI_TCG2_EVENT_LOG_FORMAT_TCG_2` (crypto agile).
//! * UEFI Specification 2.10 §10 (device paths; see [`devicepath`]).
//!
//! The Confidential Computing Event Log of a TDX guest is the same format with
//! CC measurement-register indices instead of PCRs; [`ccel`] reads it with
//! this module's record parser and replays it into RTMRs.
//!
//! All integers in the log are little-endian.
//!
//! # Decisions
//! * **Format detection.** A log whose first `TCG_PCR_EVENT` is `EV_NO_ACTION`
//!   with data starting `"Spec ID Event03\0"` is crypto agile; that header must
//!   then be well formed (PCR 0, all-zero digest, spec version 2.0, UINTN size
//!   1 or 2, 1–16 distinct algorithms, sizes matching the TPM_ALG_ID for the
//!   four supported hashes, 1–64 bytes for others, no trailing bytes). Any other
//!   first event makes the log a SHA-1 ("legacy") log whose first event is an
//!   ordinary event (and is extended by the replay).
//! * **Digests.** Every `TCG_PCR_EVENT2` must carry exactly one digest for each
//!   algorithm in the Spec ID event, no others, no duplicates, in any order (the
//!   order is kept). Algorithms other than SHA-1/256/384/512 are carried with the
//!   size the header gives, kept byte-exact, and not replayed.
//! * **PCR index.** Events other than `EV_NO_ACTION` must name PCR 0–23 (a PC
//!   Client TPM has 24 PCRs); `EV_NO_ACTION` events may carry any index (Windows
//!   logs use 0xFFFFFFFF), since they are never extended.
//! * **Trailing zero padding.** Logs read from a fixed-size area are often
//!   followed by zero bytes. When every byte after the last complete event is
//!   zero, those bytes are accepted as padding and their count is recorded in
//!   [`EventLog::trailing_zero_padding`] (so [`EventLog::to_bytes`] reproduces the
//!   input exactly). Consequences: an all-zero legacy record at the very end of
//!   a log is read as padding, never as an `EV_PREBOOT_CERT` event; and a log
//!   cut right after a few zero bytes of its next record parses as the shorter
//!   log (its replay then no longer matches the quote). Zero bytes followed by
//!   anything non-zero are not padding: they are read as records, which fails
//!   (an input of only zero bytes is an error too).
//! * **Caps** bound every allocation by the input: event data ≤
//!   [`MAX_EVENT_DATA`] bytes, at most [`MAX_EVENTS`] events.
//! * **Event index.** Events are numbered by their position in the file from 0,
//!   as `tpm2_eventlog` prints them: in a crypto-agile log the Spec ID header is
//!   event 0 and the first `TCG_PCR_EVENT2` is event 1.

pub mod ccel;
pub mod decode;
pub mod devicepath;
pub mod events;
pub mod guid;
mod parse;
pub mod replay;
pub mod text;
pub mod uefi;
pub mod variables;
pub mod write;

pub use decode::{DataBinding, DecodedEvent};
pub use events::EventType;
pub use replay::{EventRef, PcrMismatch, PcrReplay, Replay, ReplayWarning};
pub use write::EventLogBuilder;

use crate::error::FormatError;
use crate::hash::HashAlg;

/// Largest accepted `EventSize` (1 MiB). Real firmware events are far smaller
/// (the largest in the test corpus is 36 KiB, a Windows boot-configuration tag).
pub const MAX_EVENT_DATA: usize = 1 << 20;
/// Largest accepted number of events in one log (the Spec ID header included).
pub const MAX_EVENTS: usize = 100_000;
/// Largest number of algorithms a Spec ID event may list.
pub const MAX_ALGORITHMS: usize = 16;
/// Largest digest size accepted for an algorithm this crate does not know.
pub const MAX_DIGEST_SIZE: usize = 64;
/// Number of PCRs of a PC Client TPM.
pub const PCR_COUNT: u32 = 24;

/// Signature of the crypto-agile Spec ID event (PFP `TCG_EfiSpecIdEvent`).
pub const SPEC_ID_EVENT03: &[u8; 16] = b"Spec ID Event03\0";
/// Signature of the Startup Locality event (PFP §10.4.5.3).
pub const STARTUP_LOCALITY_SIGNATURE: &[u8; 16] = b"StartupLocality\0";

/// Why bytes were not accepted as an event log: the event (by position, see
/// the module docs) and the offset of its first byte, and the failed check.
/// Offsets inside `cause` count from the start of the log, except for fields
/// of the Spec ID structure, which count from the start of that event's data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("TCG event log: event {event} at offset {offset}: {cause}")]
pub struct EventLogError {
    /// Position of the offending event in the log (0 = first).
    pub event: u32,
    /// Byte offset of the start of that event.
    pub offset: usize,
    /// The check that failed.
    pub cause: FormatError,
}

/// A parsed firmware event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventLog {
    format: LogFormat,
    events: Vec<Event>,
    trailing_zero_padding: usize,
}

/// Which of the two PFP log formats a log uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogFormat {
    /// `TCG_PCR_EVENT2` records after a Spec ID header.
    CryptoAgile { spec_id: SpecIdEvent },
    /// `TCG_PCR_EVENT` records with one SHA-1 digest each.
    LegacySha1,
}

/// The `TCG_EfiSpecIdEvent` structure ("Spec ID Event03").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecIdEvent {
    /// 0 = client, 1 = server (TCG ACPI Specification).
    pub platform_class: u32,
    pub spec_version_minor: u8,
    pub spec_version_major: u8,
    pub spec_errata: u8,
    /// 1 = UINTN is 32 bits, 2 = 64 bits.
    pub uintn_size: u8,
    /// The digests every `TCG_PCR_EVENT2` carries, in header order.
    pub algorithms: Vec<AlgorithmSize>,
    pub vendor_info: Vec<u8>,
}

/// One `TCG_EfiSpecIdEventAlgorithmSize` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlgorithmSize {
    /// TPM_ALG_ID.
    pub alg_id: u16,
    pub digest_size: u16,
}

impl AlgorithmSize {
    /// The supported hash this entry names, if any.
    pub fn hash_alg(&self) -> Option<HashAlg> {
        HashAlg::from_alg_id(self.alg_id, "alg").ok()
    }
}

impl SpecIdEvent {
    /// The digest size the header gives for `alg_id`.
    pub fn digest_size(&self, alg_id: u16) -> Option<usize> {
        self.algorithms
            .iter()
            .find(|a| a.alg_id == alg_id)
            .map(|a| usize::from(a.digest_size))
    }

    /// The supported hashes the log carries (and the replay computes).
    pub fn hash_algs(&self) -> Vec<HashAlg> {
        self.algorithms
            .iter()
            .filter_map(AlgorithmSize::hash_alg)
            .collect()
    }
}

/// One digest of an event: a TPM_ALG_ID and the digest bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventDigest {
    pub alg_id: u16,
    pub digest: Vec<u8>,
}

impl EventDigest {
    /// The supported hash this digest uses, if any.
    pub fn hash_alg(&self) -> Option<HashAlg> {
        HashAlg::from_alg_id(self.alg_id, "alg").ok()
    }
}

/// One measured event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Position in the log (see the module docs).
    pub index: u32,
    /// The PCR extended (`PCRIndex`).
    pub pcr: u32,
    pub event_type: EventType,
    /// The digests, in log order (one SHA-1 digest for a legacy log).
    pub digests: Vec<EventDigest>,
    /// The event data (`Event[EventSize]`).
    pub data: Vec<u8>,
}

impl Event {
    /// The digest for a supported hash, if the event carries one.
    pub fn digest(&self, alg: HashAlg) -> Option<&[u8]> {
        self.digests
            .iter()
            .find(|d| d.alg_id == alg.alg_id())
            .map(|d| d.digest.as_slice())
    }

    /// Whether the replay extends this event into its PCR.
    pub fn is_extended(&self) -> bool {
        self.event_type != EventType::NO_ACTION
    }
}

impl EventLog {
    /// Parses a crypto-agile or legacy SHA-1 log (see the module docs for the
    /// checks and the padding rule).
    pub fn parse(bytes: &[u8]) -> Result<EventLog, EventLogError> {
        parse::parse(bytes)
    }

    /// The exact bytes of the log, trailing zero padding included: for a log
    /// from [`EventLog::parse`], identical to the parsed input.
    pub fn to_bytes(&self) -> Vec<u8> {
        parse::to_bytes(self)
    }

    /// The log format (and the Spec ID header of a crypto-agile log).
    pub fn format(&self) -> &LogFormat {
        &self.format
    }

    /// The Spec ID header of a crypto-agile log.
    pub fn spec_id(&self) -> Option<&SpecIdEvent> {
        match &self.format {
            LogFormat::CryptoAgile { spec_id } => Some(spec_id),
            LogFormat::LegacySha1 => None,
        }
    }

    /// The events after the Spec ID header (all events of a legacy log).
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The event with position `index`.
    pub fn event(&self, index: u32) -> Option<&Event> {
        self.events.iter().find(|e| e.index == index)
    }

    /// Number of zero bytes accepted after the last event.
    pub fn trailing_zero_padding(&self) -> usize {
        self.trailing_zero_padding
    }

    /// The supported hashes this log carries digests for, i.e. the banks
    /// [`EventLog::replay`] computes.
    pub fn banks(&self) -> Vec<HashAlg> {
        match &self.format {
            LogFormat::CryptoAgile { spec_id } => spec_id.hash_algs(),
            LogFormat::LegacySha1 => vec![HashAlg::Sha1],
        }
    }

    /// Replays the log into PCR values (see [`replay`]).
    pub fn replay(&self) -> Replay {
        replay::replay(self)
    }

    /// A multi-line listing: the header, then one [`Event::describe`] line per
    /// event.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        match &self.format {
            LogFormat::CryptoAgile { spec_id } => {
                let algs: Vec<String> = spec_id
                    .algorithms
                    .iter()
                    .map(|a| match a.hash_alg() {
                        Some(h) => h.name().to_owned(),
                        None => format!("alg 0x{:04x} ({} bytes)", a.alg_id, a.digest_size),
                    })
                    .collect();
                out.push_str(&format!(
                    "crypto-agile log (Spec ID Event03, spec {}.{} errata {}, platform class {}), digests: {}\n",
                    spec_id.spec_version_major,
                    spec_id.spec_version_minor,
                    spec_id.spec_errata,
                    spec_id.platform_class,
                    algs.join(", ")
                ));
            }
            LogFormat::LegacySha1 => out.push_str("legacy SHA-1 log\n"),
        }
        for e in &self.events {
            out.push_str(&e.describe());
            out.push('\n');
        }
        if self.trailing_zero_padding > 0 {
            out.push_str(&format!(
                "({} bytes of zero padding after the last event)\n",
                self.trailing_zero_padding
            ));
        }
        out
    }

    pub(crate) fn from_parts(
        format: LogFormat,
        events: Vec<Event>,
        trailing_zero_padding: usize,
    ) -> Self {
        Self {
            format,
            events,
            trailing_zero_padding,
        }
    }
}
