//! RTMR replay of a CCEL and its comparison with a TD quote's RTMRs.
//!
//! * **Registers.** A TD has MRTD (built by the TDX module while the TD is
//!   created; never extended by a log) and four runtime measurement
//!   registers RTMR0–3, each 48 bytes. In the CCEL the `PCRIndex` field is the
//!   CC MR index (UEFI 2.10 §38.1–38.2, `EFI_CC_MR_INDEX`): 0 = MRTD, 1–4 =
//!   RTMR0–3 (Intel TDX Virtual Firmware Design Guide; the firmware's
//!   `MapPcrToMrIndex` puts PCR 0, 1, 7 into RTMR0, PCR 2–6 into RTMR1 and
//!   PCR 8–15 into RTMR2; RTMR3 is left to the guest's software).
//! * **Replay.** Every RTMR starts at 48 zero bytes; every event except
//!   `EV_NO_ACTION` is extended into its register as the TDX module's
//!   `TDG.MR.RTMR.EXTEND` does: `RTMR = SHA-384(RTMR ‖ digest)` with the
//!   event's SHA-384 digest (Intel TDX Module Architecture Specification,
//!   344425). Digests of other algorithms the Spec ID event lists are parsed
//!   and kept but never replayed (RTMRs are SHA-384 registers). Hashing goes
//!   through [`crate::crypto`].
//!
//! # Which event a mismatch names
//! A quote holds only the final value of each RTMR. [`CcelLog::compare_rtmrs`]
//! compares each RTMR the caller names with the replay, in register order,
//! and for every register that differs names **the last event of the log
//! that extends that register** (its position, type and a decoded
//! description). A register that no event extends names no event.
//!
//! Why this rule: a register is a hash chain, and the quote reveals none of
//! its intermediate values, so no verifier can tell which of a register's
//! extensions differs from what the platform measured — a changed, inserted,
//! removed or reordered event anywhere in that register's chain gives the
//! same symptom. What is certain is the register (events of the other
//! registers are not involved) and where the log's account of it ends. The
//! last event is the most useful single name: it is where a log read before
//! the last measurement was logged, or truncated, stops, and in practice the
//! later stages of a register (the kernel, its command line, the initrd) are
//! what changes between boots. It is also the rule of the TPM path
//! ([`crate::eventlog::PcrMismatch::last_event`]), so the verifier's reasons
//! read alike: `RTMR1: expected 9f3c…, got 21aa… (event 17:
//! EV_EFI_BOOT_SERVICES_APPLICATION: …)`. The mismatch also carries the
//! number of events that extend the register, so a reader knows how long the
//! chain in question is.

use std::collections::BTreeMap;
use std::fmt;

use super::CcelLog;
use crate::eventlog::{EventRef, EventType};
use crate::hash::HashAlg;

/// Size of an RTMR (SHA-384).
pub const RTMR_SIZE: usize = 48;
/// The CC MR index of MRTD, which no log event extends.
pub const MR_INDEX_MRTD: u32 = 0;

/// One of the four runtime measurement registers of a TD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rtmr {
    Rtmr0,
    Rtmr1,
    Rtmr2,
    Rtmr3,
}

impl Rtmr {
    /// RTMR0–3 in order.
    pub const ALL: [Rtmr; 4] = [Self::Rtmr0, Self::Rtmr1, Self::Rtmr2, Self::Rtmr3];

    /// 0–3.
    pub fn index(self) -> usize {
        match self {
            Self::Rtmr0 => 0,
            Self::Rtmr1 => 1,
            Self::Rtmr2 => 2,
            Self::Rtmr3 => 3,
        }
    }

    /// The CC MR index a CCEL event names for this register (1–4).
    pub fn mr_index(self) -> u32 {
        match self {
            Self::Rtmr0 => 1,
            Self::Rtmr1 => 2,
            Self::Rtmr2 => 3,
            Self::Rtmr3 => 4,
        }
    }

    /// The register a CC MR index names: `None` for 0 (MRTD) and above 4.
    pub fn from_mr_index(mr_index: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.mr_index() == mr_index)
    }

    /// `"RTMR0"` … `"RTMR3"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rtmr0 => "RTMR0",
            Self::Rtmr1 => "RTMR1",
            Self::Rtmr2 => "RTMR2",
            Self::Rtmr3 => "RTMR3",
        }
    }

    /// `"rtmr0"` … `"rtmr3"`: the JSON keys of `eventlog replay --ccel --json`
    /// (and of the TDX claims).
    pub fn json_key(self) -> &'static str {
        match self {
            Self::Rtmr0 => "rtmr0",
            Self::Rtmr1 => "rtmr1",
            Self::Rtmr2 => "rtmr2",
            Self::Rtmr3 => "rtmr3",
        }
    }
}

impl fmt::Display for Rtmr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One replayed RTMR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtmrValue {
    /// The value after every event.
    pub value: [u8; RTMR_SIZE],
    /// The events extended into it, in order (empty: never extended, the
    /// value is 48 zero bytes).
    pub extended_by: Vec<EventRef>,
}

/// The four RTMRs a CCEL replays to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtmrReplay {
    registers: [RtmrValue; 4],
}

fn to_array(v: &[u8]) -> [u8; RTMR_SIZE] {
    let mut out = [0u8; RTMR_SIZE];
    if let Some(dst) = out.get_mut(..v.len()) {
        dst.copy_from_slice(v);
    }
    out
}

pub(super) fn replay(log: &CcelLog) -> RtmrReplay {
    let mut values: [Vec<u8>; 4] = std::array::from_fn(|_| vec![0u8; RTMR_SIZE]);
    let mut extended_by: [Vec<EventRef>; 4] = std::array::from_fn(|_| Vec::new());
    for event in log.events() {
        if !event.is_extended() {
            continue;
        }
        // Parsing guarantees MR index 1–4 and a SHA-384 digest on every
        // extended event.
        let (Some(rtmr), Some(digest)) = (
            Rtmr::from_mr_index(event.pcr),
            event.digest(HashAlg::Sha384),
        ) else {
            continue;
        };
        if let (Some(value), Some(events)) = (
            values.get_mut(rtmr.index()),
            extended_by.get_mut(rtmr.index()),
        ) {
            HashAlg::Sha384.extend_in_place(value, digest);
            events.push(EventRef {
                index: event.index,
                event_type: event.event_type,
            });
        }
    }
    let mut extended_by = extended_by.into_iter();
    RtmrReplay {
        registers: values.map(|v| RtmrValue {
            value: to_array(&v),
            extended_by: extended_by.next().unwrap_or_default(),
        }),
    }
}

impl RtmrReplay {
    /// One replayed register.
    pub fn register(&self, rtmr: Rtmr) -> &RtmrValue {
        match rtmr {
            Rtmr::Rtmr0 => &self.registers[0],
            Rtmr::Rtmr1 => &self.registers[1],
            Rtmr::Rtmr2 => &self.registers[2],
            Rtmr::Rtmr3 => &self.registers[3],
        }
    }

    /// The replayed value of a register.
    pub fn value(&self, rtmr: Rtmr) -> &[u8; RTMR_SIZE] {
        &self.register(rtmr).value
    }

    /// The four values, RTMR0 first.
    pub fn values(&self) -> [[u8; RTMR_SIZE]; 4] {
        Rtmr::ALL.map(|r| *self.value(r))
    }

    /// The JSON view of `eventlog replay --ccel --json`: `{"rtmr0": "<hex>",
    /// …, "rtmr3": "<hex>"}`, all four registers, lower-case hex.
    pub fn to_json_map(&self) -> BTreeMap<String, String> {
        Rtmr::ALL
            .into_iter()
            .map(|r| (r.json_key().to_owned(), hex::encode(self.value(r))))
            .collect()
    }

    /// The text form of `eventlog replay --ccel`: one line per RTMR with its
    /// value, number of events and last event.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for r in Rtmr::ALL {
            let reg = self.register(r);
            let tail = match reg.extended_by.last() {
                Some(last) => format!("{} events, last {last}", reg.extended_by.len()),
                None => "no events".to_owned(),
            };
            out.push_str(&format!("{r}: {}  ({tail})\n", hex::encode(reg.value)));
        }
        out
    }
}

/// The event a mismatch names (see the module docs for the rule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedEvent {
    /// Position in the log (the Spec ID header is event 0).
    pub index: u32,
    pub event_type: EventType,
    /// [`crate::eventlog::Event::summary`]: the decoded data, one sanitized
    /// line of at most 200 characters.
    pub description: String,
}

/// A quoted RTMR the CCEL does not explain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtmrMismatch {
    pub rtmr: Rtmr,
    /// The quoted value: the reference the log must reproduce.
    pub expected: [u8; RTMR_SIZE],
    /// What replaying the log gives.
    pub replayed: [u8; RTMR_SIZE],
    /// The last event extending the register; `None` when no event does
    /// (then `replayed` is 48 zero bytes).
    pub last_event: Option<NamedEvent>,
    /// How many events extend the register.
    pub events: usize,
}

impl fmt::Display for RtmrMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: expected {}, got {} ",
            self.rtmr,
            hex::encode(self.expected),
            hex::encode(self.replayed)
        )?;
        match &self.last_event {
            Some(e) => write!(
                f,
                "(event {}: {}: {}; last of {} events extending {})",
                e.index, e.event_type, e.description, self.events, self.rtmr
            ),
            None => write!(
                f,
                "(no event of the CCEL extends {}; 48 zero bytes is its initial value)",
                self.rtmr
            ),
        }
    }
}

impl CcelLog {
    /// Replays the log into RTMR0–3 (see the module docs).
    pub fn replay(&self) -> RtmrReplay {
        replay(self)
    }

    /// Replays the log and compares it with the quoted values of the RTMRs
    /// in `quoted` (only those: RTMR3, for one, usually holds measurements of
    /// the guest's own software that are not in the CCEL). Empty when the log
    /// explains every quoted value; otherwise one mismatch per differing
    /// register, in register order, each naming the last event extending
    /// that register (the rule and its reasons are in the module docs).
    pub fn compare_rtmrs(&self, quoted: &BTreeMap<Rtmr, [u8; RTMR_SIZE]>) -> Vec<RtmrMismatch> {
        let replay = self.replay();
        quoted
            .iter()
            .filter_map(|(&rtmr, expected)| {
                let reg = replay.register(rtmr);
                (reg.value != *expected).then(|| RtmrMismatch {
                    rtmr,
                    expected: *expected,
                    replayed: reg.value,
                    last_event: reg.extended_by.last().map(|last| NamedEvent {
                        index: last.index,
                        event_type: last.event_type,
                        description: self
                            .event_log()
                            .event(last.index)
                            .map(crate::eventlog::Event::summary)
                            .unwrap_or_default(),
                    }),
                    events: reg.extended_by.len(),
                })
            })
            .collect()
    }
}

/// The quoted RTMR0–3 of a TD quote as the map [`CcelLog::compare_rtmrs`]
/// takes, for comparing all four.
pub fn all_rtmrs(values: [[u8; RTMR_SIZE]; 4]) -> BTreeMap<Rtmr, [u8; RTMR_SIZE]> {
    Rtmr::ALL.into_iter().zip(values).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mr_index_mapping() {
        assert_eq!(Rtmr::from_mr_index(MR_INDEX_MRTD), None);
        assert_eq!(Rtmr::from_mr_index(1), Some(Rtmr::Rtmr0));
        assert_eq!(Rtmr::from_mr_index(4), Some(Rtmr::Rtmr3));
        assert_eq!(Rtmr::from_mr_index(5), None);
        for r in Rtmr::ALL {
            assert_eq!(Rtmr::from_mr_index(r.mr_index()), Some(r));
            assert_eq!(Rtmr::ALL[r.index()], r);
            assert_eq!(r.json_key(), r.name().to_lowercase());
        }
    }
}
