//! The configfs-tsm report interface shared by the SEV-SNP and TDX
//! collectors: [`ConfigfsTsm`], the report directory of one provider with
//! its options and the request protocol both speak (a fresh entry, the
//! provider checked, `generation` read, the writes, the reads, `generation`
//! read again, a raced entry abandoned and another tried a bounded number of
//! times); entry directories removed when dropped, attribute reads bounded
//! in size, writes in one write(2) call. Each provider's module
//! (`crate::snp::configfs`, `crate::tdx::configfs`) names its attributes
//! and what it makes of the blobs.
//!
//! ABI: Linux `Documentation/ABI/testing/configfs-tsm-report` (v6.7+).

use crate::evidence::AgentError;
use std::fs;
use std::io::{Read, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Longest text attribute read (`provider`, `generation`).
pub(crate) const MAX_TEXT_LEN: usize = 4096;

/// Largest `outblob`/`auxblob` read (the kernel's TSM_REPORT_OUTBLOB_MAX,
/// 32 KiB).
pub const MAX_BLOB_LEN: usize = 32 * 1024;

/// Default number of entries tried when other writers interfere.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// Default time to wait for an entry's attributes to appear.
pub const DEFAULT_ATTRIBUTE_WAIT: Duration = Duration::from_secs(2);

/// The provider a [`ConfigfsTsm`] asks (SEV-SNP's or TDX's guest driver).
pub trait Provider {
    /// The value its `provider` attribute reads.
    const NAME: &'static str;
    /// Name prefix of the entries made for it.
    const ENTRY_PREFIX: &'static str;
    /// What its `outblob`s are (for the error naming another provider).
    const OUTPUT: &'static str;

    /// The error when each of `attempts` entries was changed by another
    /// writer (the last one `entry`, its `generation` `got` instead of
    /// `expected`).
    fn raced(attempts: u32, entry: PathBuf, expected: u64, got: u64) -> AgentError;
}

/// Requests reports of provider `P` through a configfs-tsm report directory.
#[derive(Debug, Clone)]
pub struct ConfigfsTsm<P> {
    root: PathBuf,
    max_attempts: u32,
    attribute_wait: Duration,
    provider: PhantomData<P>,
}

/// One entry's outcome: what was read and the entry's path, or a race.
enum Attempt<T> {
    Done(T, PathBuf),
    Raced {
        entry: PathBuf,
        expected: u64,
        got: u64,
    },
}

impl<P: Provider> ConfigfsTsm<P> {
    /// Uses the report directory `root` (normally
    /// `/sys/kernel/config/tsm/report`).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            attribute_wait: DEFAULT_ATTRIBUTE_WAIT,
            provider: PhantomData,
        }
    }

    /// How many entries to try when another writer changes the entry while
    /// the report is read (at least 1).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// How long to wait for a new entry's `provider` attribute. configfs
    /// creates attributes together with the directory, so on a real system
    /// the first look finds it; the bound turns a root that is not a
    /// configfs-tsm directory into an error instead of a hang.
    pub fn with_attribute_wait(mut self, wait: Duration) -> Self {
        self.attribute_wait = wait;
        self
    }

    /// The report directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `configfs-tsm <root>`, for messages.
    pub(crate) fn description(&self) -> String {
        format!("configfs-tsm {}", self.root.display())
    }

    /// One request, on fresh entries until one is not raced (at most
    /// `max_attempts`): after the provider check, `check` looks at the entry
    /// (its directory), `writes` are written in order (each advances
    /// `generation` by one) and `read` reads the blobs. Returns what `read`
    /// returned and the path the (removed) entry had.
    pub(crate) fn request<T>(
        &self,
        check: impl Fn(&Path) -> Result<(), AgentError>,
        writes: &[(&str, &[u8])],
        read: impl Fn(&Path) -> Result<T, AgentError>,
    ) -> Result<(T, PathBuf), AgentError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.attempt(&check, writes, &read)? {
                Attempt::Done(value, entry) => return Ok((value, entry)),
                Attempt::Raced {
                    entry,
                    expected,
                    got,
                } => {
                    tracing::warn!(
                        "configfs-tsm entry {}: generation expected {expected}, got {got} \
                         (another writer); attempt {attempts} of {}",
                        entry.display(),
                        self.max_attempts
                    );
                    if attempts >= self.max_attempts {
                        return Err(P::raced(attempts, entry, expected, got));
                    }
                }
            }
        }
    }

    fn attempt<T>(
        &self,
        check: &impl Fn(&Path) -> Result<(), AgentError>,
        writes: &[(&str, &[u8])],
        read: &impl Fn(&Path) -> Result<T, AgentError>,
    ) -> Result<Attempt<T>, AgentError> {
        let entry = Entry::create(&self.root, P::ENTRY_PREFIX)?;
        let dir = entry.path.clone();

        let provider_path = dir.join("provider");
        wait_for(&provider_path, self.attribute_wait)?;
        let provider = read_text(&provider_path)?;
        let provider = provider.trim_end_matches('\n');
        if provider != P::NAME {
            return Err(AgentError::Configfs {
                path: provider_path,
                reason: format!(
                    "expected provider {:?}, got {provider:?}: the reports here are not {}",
                    P::NAME,
                    P::OUTPUT
                ),
            });
        }
        check(&dir)?;

        let generation_path = dir.join("generation");
        let before = read_number(&generation_path)?;
        for (name, value) in writes {
            write_attr(&dir.join(name), value)?;
        }
        let value = read(&dir)?;
        let after = read_number(&generation_path)?;
        let advance = u64::try_from(writes.len()).unwrap_or(u64::MAX);
        let expected = before.saturating_add(advance);
        if after != expected {
            return Ok(Attempt::Raced {
                entry: dir,
                expected,
                got: after,
            });
        }
        drop(entry);
        Ok(Attempt::Done(value, dir))
    }
}

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
