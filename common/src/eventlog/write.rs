//! Building crypto-agile event logs (TCG PC Client PFP 1.06 rev 52 §10:
//! a `TCG_PCR_EVENT` Spec ID header for the chosen banks, then
//! `TCG_PCR_EVENT2` records), for tests and for a simulated measured boot that
//! extends a software TPM with the same digests it logs.
//!
//! The builder enforces what [`EventLog::parse`] checks (PCR 0–23 for extended
//! events, data ≤ [`MAX_EVENT_DATA`], ≤ [`MAX_EVENTS`] events, one digest per
//! bank of the right size), so every built log parses back to itself.

use super::{
    AlgorithmSize, Event, EventDigest, EventLog, EventType, LogFormat, SpecIdEvent, MAX_EVENTS,
    MAX_EVENT_DATA, PCR_COUNT, STARTUP_LOCALITY_SIGNATURE,
};
use crate::error::FormatError;
use crate::hash::HashAlg;

/// Builds a crypto-agile log event by event.
#[derive(Debug, Clone)]
pub struct EventLogBuilder {
    spec_id: SpecIdEvent,
    banks: Vec<HashAlg>,
    events: Vec<Event>,
}

impl EventLogBuilder {
    /// A log whose events carry digests for `banks` (in this order): Spec ID
    /// Event03, platform class 0 (client), spec version 2.0 errata 0, 64-bit
    /// UINTN, no vendor info.
    pub fn new(banks: &[HashAlg]) -> Result<Self, FormatError> {
        if banks.is_empty() {
            return Err(FormatError::unexpected(
                "event log banks",
                "at least one",
                "none",
            ));
        }
        let mut seen: Vec<HashAlg> = Vec::new();
        for b in banks {
            if seen.contains(b) {
                return Err(FormatError::unexpected(
                    "event log banks",
                    "distinct algorithms",
                    format!("{b} twice"),
                ));
            }
            seen.push(*b);
        }
        let algorithms = banks
            .iter()
            .map(|b| AlgorithmSize {
                alg_id: b.alg_id(),
                // Digest sizes are 20..=64.
                digest_size: u16::try_from(b.size()).unwrap_or(u16::MAX),
            })
            .collect();
        Ok(Self {
            spec_id: SpecIdEvent {
                platform_class: 0,
                spec_version_minor: 0,
                spec_version_major: 2,
                spec_errata: 0,
                uintn_size: 2,
                algorithms,
                vendor_info: Vec::new(),
            },
            banks: seen,
            events: Vec::new(),
        })
    }

    /// The header the built log will carry.
    pub fn spec_id(&self) -> &SpecIdEvent {
        &self.spec_id
    }

    /// Adds an event whose digests are the hash of `data` in every bank (as for
    /// `EV_SEPARATOR`, `EV_EFI_ACTION`, `EV_EFI_VARIABLE_DRIVER_CONFIG`).
    /// Returns the event, whose digests the caller extends into its TPM.
    pub fn push_hashed(
        &mut self,
        pcr: u32,
        event_type: EventType,
        data: &[u8],
    ) -> Result<&Event, FormatError> {
        self.push_payload(pcr, event_type, data, data)
    }

    /// Adds an event whose digests are the hash of `payload` while the event
    /// data describes it (e.g. an `EV_EFI_BOOT_SERVICES_APPLICATION` with a
    /// `UEFI_IMAGE_LOAD_EVENT` as data and the image as payload).
    pub fn push_payload(
        &mut self,
        pcr: u32,
        event_type: EventType,
        data: &[u8],
        payload: &[u8],
    ) -> Result<&Event, FormatError> {
        let digests = self
            .banks
            .iter()
            .map(|b| EventDigest {
                alg_id: b.alg_id(),
                digest: b.digest(payload),
            })
            .collect();
        self.push_event(pcr, event_type, data, digests)
    }

    /// Adds an event with digests computed elsewhere: exactly one per bank,
    /// each of the bank's size, in any order.
    pub fn push_digests(
        &mut self,
        pcr: u32,
        event_type: EventType,
        data: &[u8],
        digests: Vec<EventDigest>,
    ) -> Result<&Event, FormatError> {
        if digests.len() != self.banks.len() {
            return Err(FormatError::unexpected(
                "event digests",
                self.banks.len(),
                digests.len(),
            ));
        }
        for bank in &self.banks {
            let matching: Vec<&EventDigest> = digests
                .iter()
                .filter(|d| d.alg_id == bank.alg_id())
                .collect();
            match matching.as_slice() {
                [d] if d.digest.len() == bank.size() => {}
                [d] => {
                    return Err(FormatError::unexpected(
                        "event digest size",
                        bank.size(),
                        d.digest.len(),
                    ));
                }
                other => {
                    return Err(FormatError::unexpected(
                        "event digests",
                        format!("one {bank} digest"),
                        other.len(),
                    ))
                }
            }
        }
        self.push_event(pcr, event_type, data, digests)
    }

    /// Adds an `EV_NO_ACTION` event (all-zero digests, never extended).
    pub fn push_no_action(&mut self, pcr: u32, data: &[u8]) -> Result<&Event, FormatError> {
        let digests = self
            .banks
            .iter()
            .map(|b| EventDigest {
                alg_id: b.alg_id(),
                digest: vec![0; b.size()],
            })
            .collect();
        self.push_event(pcr, EventType::NO_ACTION, data, digests)
    }

    /// Adds the Startup Locality event (PFP §10.4.5.3); the replay then starts
    /// PCR 0 at `…00 locality`. It must precede every PCR 0 event (the replay
    /// ignores a late one), so this is refused once PCR 0 was extended.
    pub fn push_startup_locality(&mut self, locality: u8) -> Result<&Event, FormatError> {
        if self.events.iter().any(|e| e.pcr == 0 && e.is_extended()) {
            return Err(FormatError::unexpected(
                "StartupLocality event",
                "before any PCR 0 measurement",
                "after one",
            ));
        }
        let mut data = STARTUP_LOCALITY_SIGNATURE.to_vec();
        data.push(locality);
        self.push_no_action(0, &data)
    }

    fn push_event(
        &mut self,
        pcr: u32,
        event_type: EventType,
        data: &[u8],
        digests: Vec<EventDigest>,
    ) -> Result<&Event, FormatError> {
        if pcr >= PCR_COUNT && event_type != EventType::NO_ACTION {
            return Err(FormatError::unexpected(
                "PCRIndex",
                format!("0..={}", PCR_COUNT - 1),
                pcr,
            ));
        }
        if data.len() > MAX_EVENT_DATA {
            return Err(FormatError::TooLarge {
                field: "event data",
                size: data.len(),
                max: MAX_EVENT_DATA,
            });
        }
        if self.events.len() + 1 >= MAX_EVENTS {
            return Err(FormatError::TooLarge {
                field: "number of events",
                size: self.events.len() + 2,
                max: MAX_EVENTS,
            });
        }
        // The Spec ID header is event 0; the count is below MAX_EVENTS.
        let index = u32::try_from(self.events.len() + 1).unwrap_or(u32::MAX);
        self.events.push(Event {
            index,
            pcr,
            event_type,
            digests,
            data: data.to_vec(),
        });
        self.events.last().ok_or(FormatError::Encoding {
            what: "event log builder",
            reason: "event just pushed is missing".to_owned(),
        })
    }

    /// Number of events added so far.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// True when no event was added.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The finished log.
    pub fn build(self) -> EventLog {
        EventLog::from_parts(
            LogFormat::CryptoAgile {
                spec_id: self.spec_id,
            },
            self.events,
            0,
        )
    }
}
