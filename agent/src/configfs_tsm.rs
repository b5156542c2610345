//! The configfs-tsm report interface shared by the SEV-SNP and TDX
//! collectors: entry directories removed when dropped, attribute reads
//! bounded in size, writes in one write(2) call.
//!
//! ABI: Linux `Documentation/ABI/testing/configfs-tsm-report` (v6.7+).

use crate::evidence::AgentError;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Longest text attribute read (`provider`, `generation`).
pub(crate) const MAX_TEXT_LEN: usize = 4096;

/// A report entry directory, removed when dropped.
pub(crate) struct Entry {
    /// The entry directory.
    pub(crate) path: PathBuf,
}

impl Entry {
    /// Creates `root/<prefix>-<pid>-<random>`.
    pub(crate) fn create(root: &Path, prefix: &str) -> Result<Self, AgentError> {
        const NAME_TRIES: u32 = 4;
        let mut tries = 0;
        loop {
            tries += 1;
            let path = root.join(format!(
                "{prefix}-{}-{:016x}",
                std::process::id(),
                rand::random::<u64>()
            ));
            match fs::create_dir(&path) {
                Ok(()) => return Ok(Self { path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && tries < NAME_TRIES => {}
                Err(source) => {
                    return Err(AgentError::ConfigfsEntry {
                        entry: path,
                        source,
                    })
                }
            }
        }
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_dir(&self.path) {
            tracing::warn!(
                "configfs-tsm: cannot remove report entry {}: {e}",
                self.path.display()
            );
        }
    }
}

pub(crate) fn wait_for(path: &Path, wait: Duration) -> Result<(), AgentError> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    while !path.exists() {
        if start.elapsed() >= wait {
            return Err(AgentError::Configfs {
                path: path.to_path_buf(),
                reason: format!(
                    "attribute missing {} ms after the entry was created: is the parent a \
                     configfs-tsm report directory?",
                    wait.as_millis()
                ),
            });
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
    Ok(())
}

pub(crate) fn io_err(
    action: &'static str,
    path: &Path,
) -> impl FnOnce(std::io::Error) -> AgentError {
    let path = path.to_path_buf();
    move |source| AgentError::ConfigfsIo {
        action,
        path,
        source,
    }
}

/// Reads at most `max` bytes; more is an error.
pub(crate) fn read_limited(path: &Path, max: usize) -> Result<Vec<u8>, AgentError> {
    let file = fs::File::open(path).map_err(io_err("reading", path))?;
    let mut out = Vec::new();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    file.take(limit)
        .read_to_end(&mut out)
        .map_err(io_err("reading", path))?;
    if out.len() > max {
        return Err(AgentError::Configfs {
            path: path.to_path_buf(),
            reason: format!("expected at most {max} bytes, got more"),
        });
    }
    Ok(out)
}

pub(crate) fn read_text(path: &Path) -> Result<String, AgentError> {
    let bytes = read_limited(path, MAX_TEXT_LEN)?;
    String::from_utf8(bytes).map_err(|e| AgentError::Configfs {
        path: path.to_path_buf(),
        reason: format!("expected text, got non-UTF-8 bytes: {e}"),
    })
}

pub(crate) fn read_number(path: &Path) -> Result<u64, AgentError> {
    let text = read_text(path)?;
    let trimmed = text.trim_end_matches('\n');
    trimmed.parse().map_err(|_| AgentError::Configfs {
        path: path.to_path_buf(),
        reason: format!("expected a decimal number, got {trimmed:?}"),
    })
}

/// Writes an attribute in one write(2) call; configfs attributes are
/// created by the kernel, so a missing file is an error, never created here.
pub(crate) fn write_attr(path: &Path, value: &[u8]) -> Result<(), AgentError> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io_err("writing", path))?;
    let written = file.write(value).map_err(io_err("writing", path))?;
    if written != value.len() {
        return Err(AgentError::Configfs {
            path: path.to_path_buf(),
            reason: format!("short write: {written} of {} bytes accepted", value.len()),
        });
    }
    Ok(())
}
