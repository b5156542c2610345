//! The simulated TD firmware's CC event log (ACPI 6.5 §5.2.34 "CC Event
//! Log"; TCG PC Client PFP crypto-agile format with one SHA-384 bank, MR
//! index 1..3 → RTMR0..2, as TDX firmware writes it).
//!
//! Three registers, four events, so that a verifier's replay, its per-event
//! comparison and a policy on RTMR0–2 have something real to work on:
//!
//! | MR index (RTMR) | event | data |
//! |---|---|---|
//! | 1 (RTMR0) | EV_EFI_ACTION | [`FIRMWARE_EVENT`] |
//! | 1 (RTMR0) | EV_SEPARATOR | 4 zero bytes |
//! | 2 (RTMR1) | EV_EFI_ACTION | [`KERNEL_EVENT`] |
//! | 3 (RTMR2) | EV_IPL | [`CMDLINE_EVENT`] |
//!
//! The log area is padded with zeros to [`AREA_LEN`] bytes, like the unused
//! tail of a real CCEL area.

use sealbuild_common::eventlog::ccel::{CcelLog, Rtmr};
use sealbuild_common::eventlog::{EventLogBuilder, EventType};
use sealbuild_common::HashAlg;

use crate::SimError;

/// RTMR0's firmware event.
pub const FIRMWARE_EVENT: &[u8] = b"INSECURE simulated TD firmware (sealbuild tdx-sim)";
/// RTMR1's boot loader / kernel event.
pub const KERNEL_EVENT: &[u8] = b"INSECURE simulated TD kernel (sealbuild tdx-sim)";
/// RTMR2's kernel command line event.
pub const CMDLINE_EVENT: &[u8] = b"console=ttyS0 sealbuild.tdx-sim=1\0";
/// Size of the simulated log area.
pub const AREA_LEN: usize = 4096;

/// The log area and RTMR0..2 as it replays.
pub fn build() -> Result<(Vec<u8>, [[u8; 48]; 3]), SimError> {
    let e = |e: sealbuild_common::FormatError| SimError::Ccel(e.to_string());
    let mut b = EventLogBuilder::new(&[HashAlg::Sha384]).map_err(e)?;
    b.push_hashed(1, EventType::EFI_ACTION, FIRMWARE_EVENT)
        .map_err(e)?;
    b.push_hashed(1, EventType::SEPARATOR, &[0; 4]).map_err(e)?;
    b.push_hashed(2, EventType::EFI_ACTION, KERNEL_EVENT)
        .map_err(e)?;
    b.push_hashed(3, EventType::IPL, CMDLINE_EVENT).map_err(e)?;
    let mut area = b.build().to_bytes();
    if area.len() < AREA_LEN {
        area.resize(AREA_LEN, 0);
    }
    let log = CcelLog::parse(&area).map_err(|e| SimError::Ccel(e.to_string()))?;
    let replay = log.replay();
    Ok((
        area,
        [
            *replay.value(Rtmr::Rtmr0),
            *replay.value(Rtmr::Rtmr1),
            *replay.value(Rtmr::Rtmr2),
        ],
    ))
}
