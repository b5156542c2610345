//! PCR replay of a firmware event log and comparison with quoted PCRs.
//!
//! Rules (TCG PC Client PFP 1.06 rev 52 §10; reset values from the TCG PC
//! Client Platform TPM Profile (PTP) Specification, PCR initialization):
//! * Every PCR of every bank starts at its reset value: all zero for PCR 0–16
//!   and 23, all `ff` for PCR 17–22 (the dynamic-launch PCRs, which a firmware
//!   (SRTM) log never extends).
//! * A Startup Locality event (`EV_NO_ACTION` on PCR 0 whose data is
//!   `"StartupLocality\0"` followed by one locality byte, PFP §10.4.5.3) sets
//!   PCR 0's starting value to zero bytes ending in the locality (`…00 03` for
//!   locality 3). It only counts before the first extension of PCR 0 and only
//!   once; a later or repeated one changes nothing and is reported as a
//!   [`ReplayWarning`].
//! * Every other event is extended: `PCR = H(PCR || digest)`, except
//!   `EV_NO_ACTION` events, which never are. In a legacy SHA-1 log the first
//!   event is an ordinary event and is extended too.
//! * Only SHA-1/256/384/512 banks are computed; other algorithms of the Spec ID
//!   event are skipped.
//! * No workarounds: the replay never adds events the firmware should have
//!   logged. A log whose firmware omitted the "Exit Boot Services" `EV_EFI_ACTION`
//!   events (go-attestation's `ebs_event_missing_eventlog`) therefore does not
//!   explain the quoted PCR 5, and [`Replay::compare`] reports it.
//!
//! # Comparing with quoted PCRs
//! [`Replay::compare`] checks exactly the PCRs in the quoted map (which PCRs
//! matter is the verifier's policy: e.g. PCR 10 holds IMA, not firmware,
//! measurements). A PCR the log never extends is expected to hold its reset
//! value; if the quote shows anything else, that is a mismatch too (the log
//! cannot explain the value), reported without a "last event". Untouched PCRs
//! whose quoted value is the reset value are not mismatches; the verifier can
//! list them with [`Replay::untouched`]. A quoted bank the log has no digests
//! for is compared the same way (every PCR "untouched"), and the mismatch says
//! the bank is missing from the log.

use std::collections::BTreeMap;
use std::fmt;

use super::{EventLog, EventType, PCR_COUNT, STARTUP_LOCALITY_SIGNATURE};
use crate::hash::HashAlg;

/// An event as named in replay results: its position and type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRef {
    pub index: u32,
    pub event_type: EventType,
}

impl fmt::Display for EventRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.index, self.event_type)
    }
}

/// One replayed PCR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcrReplay {
    /// The value after replaying every event.
    pub value: Vec<u8>,
    /// The events extended into this PCR, in order (empty: never extended).
    pub extended_by: Vec<EventRef>,
}

/// Something in the log the replay did not apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayWarning {
    /// A Startup Locality event after PCR 0 was already extended.
    LateStartupLocality { event: u32, locality: u8 },
    /// A second Startup Locality event.
    RepeatedStartupLocality { event: u32, locality: u8 },
}

impl fmt::Display for ReplayWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LateStartupLocality { event, locality } => write!(
                f,
                "event {event}: StartupLocality {locality} after PCR 0 was extended; ignored"
            ),
            Self::RepeatedStartupLocality { event, locality } => write!(
                f,
                "event {event}: second StartupLocality event (locality {locality}); ignored"
            ),
        }
    }
}

/// The PCR values an event log replays to, per bank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    banks: BTreeMap<HashAlg, Vec<PcrReplay>>,
    startup_locality: Option<(u32, u8)>,
    warnings: Vec<ReplayWarning>,
}

/// The reset value of `pcr` in `bank` (see the module docs), with PCR 0
/// starting at `locality`.
pub fn reset_value(bank: HashAlg, pcr: u32, locality: u8) -> Vec<u8> {
    let mut v = vec![0u8; bank.size()];
    if (17..=22).contains(&pcr) {
        v.fill(0xff);
    } else if pcr == 0 {
        if let Some(last) = v.last_mut() {
            *last = locality;
        }
    }
    v
}

fn startup_locality(data: &[u8]) -> Option<u8> {
    match data.split_at_checked(STARTUP_LOCALITY_SIGNATURE.len()) {
        Some((sig, [locality])) if sig == STARTUP_LOCALITY_SIGNATURE => Some(*locality),
        _ => None,
    }
}

pub(super) fn replay(log: &EventLog) -> Replay {
    let fresh = |bank: HashAlg| -> Vec<PcrReplay> {
        (0..PCR_COUNT)
            .map(|pcr| PcrReplay {
                value: reset_value(bank, pcr, 0),
                extended_by: Vec::new(),
            })
            .collect()
    };
    let mut banks: BTreeMap<HashAlg, Vec<PcrReplay>> =
        log.banks().into_iter().map(|b| (b, fresh(b))).collect();
    let mut locality_seen: Option<(u32, u8)> = None;
    let mut pcr0_extended = false;
    let mut warnings = Vec::new();

    for event in log.events() {
        if !event.is_extended() {
            if event.pcr != 0 {
                continue;
            }
            let Some(locality) = startup_locality(&event.data) else {
                continue;
            };
            if locality_seen.is_some() {
                warnings.push(ReplayWarning::RepeatedStartupLocality {
                    event: event.index,
                    locality,
                });
            } else if pcr0_extended {
                warnings.push(ReplayWarning::LateStartupLocality {
                    event: event.index,
                    locality,
                });
            } else {
                locality_seen = Some((event.index, locality));
                for (bank, pcrs) in banks.iter_mut() {
                    if let Some(p0) = pcrs.get_mut(0) {
                        p0.value = reset_value(*bank, 0, locality);
                    }
                }
            }
            continue;
        }
        let Ok(pcr_index) = usize::try_from(event.pcr) else {
            continue;
        };
        for (bank, pcrs) in banks.iter_mut() {
            // Parsing guarantees one digest per bank and a PCR below 24.
            let (Some(digest), Some(pcr)) = (event.digest(*bank), pcrs.get_mut(pcr_index)) else {
                continue;
            };
            bank.extend_in_place(&mut pcr.value, digest);
            pcr.extended_by.push(EventRef {
                index: event.index,
                event_type: event.event_type,
            });
        }
        if event.pcr == 0 {
            pcr0_extended = true;
        }
    }
    Replay {
        banks,
        startup_locality: locality_seen,
        warnings,
    }
}

/// A quoted PCR that the event log does not explain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcrMismatch {
    pub pcr: u32,
    pub bank: HashAlg,
    /// The value in the quote (what the verifier expected the log to give).
    pub quoted: Vec<u8>,
    /// What replaying the log gives.
    pub replayed: Vec<u8>,
    /// The last event extended into this PCR; `None` if none was.
    pub last_event: Option<EventRef>,
    /// False when the log carries no digests for `bank` at all.
    pub bank_in_log: bool,
}

impl fmt::Display for PcrMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PCR {} ({}): quoted {}, event-log replay gives {} ",
            self.pcr,
            self.bank,
            hex::encode(&self.quoted),
            hex::encode(&self.replayed)
        )?;
        match (&self.last_event, self.bank_in_log) {
            (Some(ev), _) => write!(f, "(last event {ev})"),
            (None, true) => write!(
                f,
                "(no event in the log extends PCR {}; that is its reset value)",
                self.pcr
            ),
            (None, false) => write!(
                f,
                "(the event log has no {} digests; that is the reset value)",
                self.bank
            ),
        }
    }
}

impl Replay {
    /// The banks replayed, in `HashAlg` order.
    pub fn banks(&self) -> impl Iterator<Item = HashAlg> + '_ {
        self.banks.keys().copied()
    }

    /// A replayed PCR (0–23) of a replayed bank.
    pub fn pcr(&self, bank: HashAlg, pcr: u32) -> Option<&PcrReplay> {
        self.banks.get(&bank)?.get(usize::try_from(pcr).ok()?)
    }

    /// The replayed value of a PCR.
    pub fn value(&self, bank: HashAlg, pcr: u32) -> Option<&[u8]> {
        self.pcr(bank, pcr).map(|p| p.value.as_slice())
    }

    /// The Startup Locality event applied, as (event index, locality).
    pub fn startup_locality(&self) -> Option<(u32, u8)> {
        self.startup_locality
    }

    /// Events the replay did not apply.
    pub fn warnings(&self) -> &[ReplayWarning] {
        &self.warnings
    }

    /// The value `pcr` of `bank` should hold according to the log, whether it
    /// was extended or not, and whether the log has that bank.
    fn expected(&self, bank: HashAlg, pcr: u32) -> (Vec<u8>, Option<EventRef>, bool) {
        let locality = self.startup_locality.map_or(0, |(_, l)| l);
        match self.banks.get(&bank) {
            None => (reset_value(bank, pcr, locality), None, false),
            Some(pcrs) => match usize::try_from(pcr).ok().and_then(|i| pcrs.get(i)) {
                Some(p) => (p.value.clone(), p.extended_by.last().copied(), true),
                None => (reset_value(bank, pcr, 0), None, true),
            },
        }
    }

    /// Compares the replay with the quoted PCRs of `bank`, checking exactly the
    /// PCRs in `quoted` (see the module docs for untouched PCRs and missing
    /// banks). Empty when the log explains every quoted value.
    pub fn compare(&self, bank: HashAlg, quoted: &BTreeMap<u32, Vec<u8>>) -> Vec<PcrMismatch> {
        quoted
            .iter()
            .filter_map(|(&pcr, q)| {
                let (replayed, last_event, bank_in_log) = self.expected(bank, pcr);
                (replayed != *q).then(|| PcrMismatch {
                    pcr,
                    bank,
                    quoted: q.clone(),
                    replayed,
                    last_event,
                    bank_in_log,
                })
            })
            .collect()
    }

    /// The PCRs among `pcrs` that no event of the log extends in `bank`.
    pub fn untouched(&self, bank: HashAlg, pcrs: impl IntoIterator<Item = u32>) -> Vec<u32> {
        pcrs.into_iter()
            .filter(|&pcr| self.pcr(bank, pcr).is_none_or(|p| p.extended_by.is_empty()))
            .collect()
    }

    /// The JSON view of `eventlog replay --json`: bank name → PCR index (decimal
    /// string) → lower-case hex, for every PCR the log extends, e.g.
    /// `{"sha256": {"0": "…", "7": "…"}, "sha1": {…}}`. Every replayed bank is
    /// present, possibly with an empty map.
    pub fn to_json_map(&self) -> BTreeMap<String, BTreeMap<String, String>> {
        self.banks
            .iter()
            .map(|(bank, pcrs)| {
                let values = (0u32..)
                    .zip(pcrs)
                    .filter(|(_, p)| !p.extended_by.is_empty())
                    .map(|(i, p)| (i.to_string(), hex::encode(&p.value)))
                    .collect();
                (bank.name().to_owned(), values)
            })
            .collect()
    }

    /// The text form of `eventlog replay`: per bank, one line per extended PCR
    /// with its value, number of events and last event.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        if let Some((event, locality)) = self.startup_locality {
            out.push_str(&format!("startup locality {locality} (event {event})\n"));
        }
        for (bank, pcrs) in &self.banks {
            out.push_str(&format!("{bank}:\n"));
            for (i, p) in (0u32..).zip(pcrs) {
                if let Some(last) = p.extended_by.last() {
                    out.push_str(&format!(
                        "  PCR {i:>2}: {}  ({} events, last {last})\n",
                        hex::encode(&p.value),
                        p.extended_by.len()
                    ));
                }
            }
        }
        for w in &self.warnings {
            out.push_str(&format!("warning: {w}\n"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_values() {
        assert_eq!(reset_value(HashAlg::Sha1, 17, 0), vec![0xff; 20]);
        assert_eq!(reset_value(HashAlg::Sha1, 23, 0), vec![0; 20]);
        let p0 = reset_value(HashAlg::Sha256, 0, 3);
        assert_eq!(p0.last(), Some(&3));
        assert_eq!(p0.iter().filter(|&&b| b != 0).count(), 1);
    }

    #[test]
    fn locality_signature() {
        assert_eq!(startup_locality(b"StartupLocality\0\x03"), Some(3));
        assert_eq!(startup_locality(b"StartupLocality\0\x03\x00"), None);
        assert_eq!(startup_locality(b"StartupLocality\0"), None);
    }
}
