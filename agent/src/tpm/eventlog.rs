//! Reading the firmware's TCG event log (TCG PC Client Platform Firmware
//! Profile, v1.05 rev. 23, §10 "Event Logging"), which Linux exposes in
//! securityfs.
//!
//! The agent only reads the bytes; the verifier parses and replays them. A
//! missing log is not an error (swtpm and many VMs have none) but is
//! reported; any other read failure is. securityfs reports size 0 for the
//! file, so it is read to the end with an upper bound.

use crate::evidence::AgentError;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Where Linux exposes the firmware event log of the first TPM.
pub const DEFAULT_EVENT_LOG_PATH: &str = "/sys/kernel/security/tpm0/binary_bios_measurements";
/// Largest event log accepted (real logs are tens to hundreds of KiB).
pub const MAX_EVENT_LOG: usize = 16 * 1024 * 1024;

/// Result of looking for the event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventLog {
    /// The log's bytes.
    Present(Vec<u8>),
    /// There is no file at this path.
    Absent(PathBuf),
}

impl EventLog {
    /// The bytes, if any.
    pub fn into_bytes(self) -> Option<Vec<u8>> {
        match self {
            Self::Present(b) => Some(b),
            Self::Absent(_) => None,
        }
    }
}

/// Reads the event log at `path`. Absence gives [`EventLog::Absent`] (and a
/// log line); an empty file counts as absent too.
pub fn read_event_log(path: &Path) -> Result<EventLog, AgentError> {
    let io = |source| AgentError::EventLogIo {
        path: path.to_path_buf(),
        source,
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::warn!(
                "no firmware event log at {}: the verifier can check PCR values only against policy, not replay them",
                path.display()
            );
            return Ok(EventLog::Absent(path.to_path_buf()));
        }
        Err(e) => return Err(io(e)),
    };
    let mut bytes = Vec::new();
    file.take(
        u64::try_from(MAX_EVENT_LOG)
            .unwrap_or(u64::MAX)
            .saturating_add(1),
    )
    .read_to_end(&mut bytes)
    .map_err(io)?;
    if bytes.len() > MAX_EVENT_LOG {
        return Err(AgentError::EventLogTooLarge {
            path: path.to_path_buf(),
            max: MAX_EVENT_LOG,
        });
    }
    if bytes.is_empty() {
        tracing::warn!("firmware event log {} is empty", path.display());
        return Ok(EventLog::Absent(path.to_path_buf()));
    }
    Ok(EventLog::Present(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn present_absent_empty_and_unreadable() {
        let dir = tempfile::tempdir().unwrap();
        // The reader does not interpret the bytes; any content will do.
        let p = dir.path().join("log");
        let bytes: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        std::fs::write(&p, &bytes).unwrap();
        assert_eq!(read_event_log(&p).unwrap(), EventLog::Present(bytes));

        let missing = dir.path().join("missing");
        assert_eq!(
            read_event_log(&missing).unwrap(),
            EventLog::Absent(missing.clone())
        );

        let empty = dir.path().join("empty");
        std::fs::write(&empty, b"").unwrap();
        assert_eq!(
            read_event_log(&empty).unwrap(),
            EventLog::Absent(empty.clone())
        );

        // A directory is not a log: an I/O error, not "absent".
        let e = read_event_log(dir.path()).unwrap_err();
        assert!(matches!(e, AgentError::EventLogIo { .. }), "{e}");
    }
}
