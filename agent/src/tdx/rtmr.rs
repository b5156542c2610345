//! The runtime log of a sealed build in a TD: RTMR3 and the TCG Canonical
//! Event Log (`sealbuild_common::cel`) of what was extended into it.
//!
//! Interface: Linux `Documentation/ABI/testing/sysfs-devices-virtual-misc-tdx_guest`
//! (v6.16 and later; the tsm-mr library, `drivers/virt/coco/guest/tsm-mr.c`,
//! `Documentation/driver-api/coco/measurement-registers.rst`):
//! `/sys/devices/virtual/misc/tdx_guest/measurements/rtmr3:sha384` reads as
//! the register's 48 bytes, and writing a 48-byte digest extends the
//! register (TDG.MR.RTMR.EXTEND, Intel TDX Module ABI Specification:
//! `RTMR := SHA-384(RTMR || digest)`).
//!
//! RTMR3 is the register the TD firmware leaves to the guest's software
//! (RTMR0–2 carry firmware, boot loader and kernel measurements, which the
//! CCEL records). Unlike TPM PCR 23 it cannot be reset, so a sealed build
//! requires RTMR3 to be all zeros when it begins: one sealed build per TD
//! boot, and the log then replays from zero as the verifier does. Each
//! event is recorded in the log before its SHA-384 digest is extended, and
//! the register is read back at the end and compared with the log's replay.
//!
//! Log records carry `"pcr": 3` ([`RUNTIME_RTMR`]), which in TDX evidence
//! names RTMR3 (see `sealbuild_common::cel`), and SHA-384 digests only.

use crate::evidence::AgentError;
use sealbuild_common::cel::{CelLog, RuntimeEvent};
use sealbuild_common::HashAlg;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The tsm-mr attribute of RTMR3.
pub const DEFAULT_RTMR3_PATH: &str =
    "/sys/devices/virtual/misc/tdx_guest/measurements/rtmr3:sha384";

/// The register of a sealed build's runtime log, and the handle its CEL
/// records carry.
pub const RUNTIME_RTMR: u32 = 3;

/// Size of an RTMR and of a digest extended into it (SHA-384).
pub const RTMR_LEN: usize = 48;

/// A register the runtime log is extended into: RTMR3 through the kernel
/// ([`Rtmr`]), or a simulated TD's (the `insecure-tdx-sim` feature).
pub trait MeasurementRegister: Send + std::fmt::Debug {
    /// The register's value.
    fn read(&self) -> Result<[u8; RTMR_LEN], AgentError>;
    /// `register := SHA-384(register ‖ digest)`.
    fn extend(&self, digest: &[u8; RTMR_LEN]) -> Result<(), AgentError>;
    /// Where the register is, for messages (a path, or a simulated name).
    fn location(&self) -> PathBuf;
}

impl MeasurementRegister for Rtmr {
    fn read(&self) -> Result<[u8; RTMR_LEN], AgentError> {
        Rtmr::read(self)
    }

    fn extend(&self, digest: &[u8; RTMR_LEN]) -> Result<(), AgentError> {
        Rtmr::extend(self, digest)
    }

    fn location(&self) -> PathBuf {
        self.path.clone()
    }
}

/// One RTMR through its tsm-mr sysfs attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rtmr {
    path: PathBuf,
}

impl Rtmr {
    /// The register behind the attribute `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The attribute.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The register's value: the attribute's 48 bytes (also accepted: 96
    /// hex digits and a newline, as a text attribute would show them).
    pub fn read(&self) -> Result<[u8; RTMR_LEN], AgentError> {
        let io = |source| AgentError::RtmrIo {
            action: "reading",
            path: self.path.clone(),
            source,
        };
        let mut bytes = Vec::new();
        std::fs::File::open(&self.path)
            .map_err(io)?
            .take(4 * RTMR_LEN as u64)
            .read_to_end(&mut bytes)
            .map_err(|source| AgentError::RtmrIo {
                action: "reading",
                path: self.path.clone(),
                source,
            })?;
        if let Ok(value) = <[u8; RTMR_LEN]>::try_from(bytes.as_slice()) {
            return Ok(value);
        }
        let text = std::str::from_utf8(&bytes).unwrap_or_default().trim_end();
        hex::decode(text)
            .ok()
            .and_then(|v| <[u8; RTMR_LEN]>::try_from(v.as_slice()).ok())
            .ok_or_else(|| AgentError::Rtmr {
                path: self.path.clone(),
                reason: format!(
                    "expected {RTMR_LEN} bytes (SHA-384), got {} bytes",
                    bytes.len()
                ),
            })
    }

    /// Extends the register with `digest` in one write(2) call.
    pub fn extend(&self, digest: &[u8; RTMR_LEN]) -> Result<(), AgentError> {
        let io = |source| AgentError::RtmrIo {
            action: "extending",
            path: self.path.clone(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .open(&self.path)
            .map_err(io)?;
        let written = file.write(digest).map_err(|source| AgentError::RtmrIo {
            action: "extending",
            path: self.path.clone(),
            source,
        })?;
        if written != RTMR_LEN {
            return Err(AgentError::Rtmr {
                path: self.path.clone(),
                reason: format!("short write: {written} of {RTMR_LEN} bytes accepted"),
            });
        }
        Ok(())
    }
}

/// A runtime log in progress: RTMR3 and the events extended into it.
#[derive(Debug)]
pub struct RuntimeRtmr {
    rtmr: Box<dyn MeasurementRegister>,
    log: Option<CelLog>,
}

impl RuntimeRtmr {
    /// A runtime log in the register behind `rtmr`.
    pub fn new(rtmr: impl MeasurementRegister + 'static) -> Self {
        Self {
            rtmr: Box::new(rtmr),
            log: None,
        }
    }

    /// The register.
    pub fn rtmr(&self) -> &dyn MeasurementRegister {
        self.rtmr.as_ref()
    }

    /// Checks that the register is all zeros, then extends `events` in order
    /// into it and into a new log (any earlier log is discarded).
    pub fn begin(&mut self, events: &[RuntimeEvent]) -> Result<(), AgentError> {
        let value = self.rtmr.read()?;
        if value != [0u8; RTMR_LEN] {
            return Err(AgentError::Rtmr {
                path: self.rtmr.location(),
                reason: format!(
                    "RTMR3 is {} but a sealed build needs it all zeros: it cannot be reset, \
                     so a TD runs one sealed build per boot and nothing else may extend it",
                    hex::encode(value)
                ),
            });
        }
        let log = self.log.insert(CelLog::default());
        for event in events {
            extend(self.rtmr.as_ref(), log, event)?;
        }
        Ok(())
    }

    /// Extends the last event, checks that the register equals the log's
    /// replay and returns the whole log as CEL JSON.
    pub fn end(&mut self, event: &RuntimeEvent) -> Result<Vec<u8>, AgentError> {
        let Some(log) = self.log.as_mut() else {
            return Err(AgentError::CollectorState {
                platform: sealbuild_common::Platform::Tdx,
                reason: "the runtime log was ended before it was begun".into(),
            });
        };
        extend(self.rtmr.as_ref(), log, event)?;
        let replayed = replay(log);
        let value = self.rtmr.read()?;
        if value != replayed {
            return Err(AgentError::Rtmr {
                path: self.rtmr.location(),
                reason: format!(
                    "RTMR3 is {} but the runtime log replays to {}: another process extended it \
                     during the build",
                    hex::encode(value),
                    hex::encode(replayed)
                ),
            });
        }
        Ok(log.to_json())
    }

    /// What the current log replays to, when a log was begun.
    pub fn replayed(&self) -> Option<[u8; RTMR_LEN]> {
        self.log.as_ref().map(replay)
    }
}

/// RTMR3 as `log` replays it from zero.
pub fn replay(log: &CelLog) -> [u8; RTMR_LEN] {
    log.replay(HashAlg::Sha384)
        .get(&RUNTIME_RTMR)
        .and_then(|v| <[u8; RTMR_LEN]>::try_from(v.as_slice()).ok())
        .unwrap_or([0u8; RTMR_LEN])
}

/// Records `event` in `log`, then extends its SHA-384 digest into `rtmr`:
/// the log checks the event first, so only a loggable event is extended.
fn extend(
    rtmr: &dyn MeasurementRegister,
    log: &mut CelLog,
    event: &RuntimeEvent,
) -> Result<(), AgentError> {
    let digest = event.digest(HashAlg::Sha384);
    let digest = <[u8; RTMR_LEN]>::try_from(digest.as_slice()).map_err(|_| AgentError::Rtmr {
        path: rtmr.location(),
        reason: format!("SHA-384 digest of {} bytes", digest.len()),
    })?;
    log.push(RUNTIME_RTMR, event, &[HashAlg::Sha384])
        .map_err(|source| AgentError::Format {
            what: "runtime log event",
            source,
        })?;
    rtmr.extend(&digest)
}
