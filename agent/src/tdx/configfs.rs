//! TD quotes through configfs-tsm.
//!
//! Interface: Linux `Documentation/ABI/testing/configfs-tsm-report` (v6.7
//! and later; `drivers/virt/coco/guest/report.c` and the tdx-guest
//! provider, `drivers/virt/coco/tdx-guest/tdx-guest.c`, which turns the
//! TDREPORT into a quote through the host's quote generation service,
//! GHCI 1.0 §3.3 TDG.VP.VMCALL<GetQuote>). One request:
//!
//! 1. `mkdir $root/$name` — a uniquely named entry, so no other process
//!    shares its attributes; configfs creates the attribute files with it.
//! 2. `provider` must read `tdx_guest` (another provider's `outblob` is not
//!    a TD quote).
//! 3. Read `generation`, write `inblob` (the 64-byte REPORT_DATA; the ABI
//!    takes at most 64 bytes). The write advances `generation` by one.
//!    `privlevel` is not written: it is an SEV-SNP notion that the TDX
//!    provider does not use.
//! 4. Read `outblob` (the quote; reading makes the kernel ask for it).
//! 5. Read `generation` again: it must equal the first value plus our one
//!    write, or another writer changed the entry between our write and read
//!    and the quote may belong to another request (the ABI's rule for
//!    `generation`). Then the entry is abandoned and a fresh one tried, a
//!    bounded number of times.
//! 6. `rmdir` the entry — always, also when a step failed (a guard).
//!
//! The protocol is the one `crate::snp::configfs` speaks for SEV-SNP with
//! the TDX provider's attributes; the two are separate so that each backend
//! builds on its own feature.

use super::QuoteSource;
use crate::configfs_tsm::{read_limited, read_number, read_text, wait_for, write_attr, Entry};
use crate::evidence::AgentError;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The `provider` value of the TDX guest driver.
pub const TDX_GUEST_PROVIDER: &str = "tdx_guest";

/// Largest `outblob` read (the kernel's TSM_REPORT_OUTBLOB_MAX, 32 KiB).
pub const MAX_BLOB_LEN: usize = 32 * 1024;

/// Attribute writes per attempt (`inblob`): the expected advance of
/// `generation`.
const WRITES_PER_ATTEMPT: u64 = 1;

/// Default number of entries tried when other writers interfere.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// Default time to wait for an entry's attributes to appear.
pub const DEFAULT_ATTRIBUTE_WAIT: Duration = Duration::from_secs(2);

/// Requests TD quotes through a configfs-tsm report directory.
#[derive(Debug, Clone)]
pub struct ConfigfsTsm {
    root: PathBuf,
    max_attempts: u32,
    attribute_wait: Duration,
}

enum Attempt {
    Done(Vec<u8>),
    Raced {
        entry: PathBuf,
        expected: u64,
        got: u64,
    },
}

impl ConfigfsTsm {
    /// Uses the report directory `root` (normally
    /// [`super::DEFAULT_CONFIGFS_TSM_ROOT`]).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            attribute_wait: DEFAULT_ATTRIBUTE_WAIT,
        }
    }

    /// How many entries to try when another writer changes the entry while
    /// the quote is read (at least 1).
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

    fn attempt(&self, report_data: &[u8; 64]) -> Result<Attempt, AgentError> {
        let entry = Entry::create(&self.root, "sealbuild-tdx")?;
        let dir = entry.path.clone();

        let provider_path = dir.join("provider");
        wait_for(&provider_path, self.attribute_wait)?;
        let provider = read_text(&provider_path)?;
        let provider = provider.trim_end_matches('\n');
        if provider != TDX_GUEST_PROVIDER {
            return Err(AgentError::Configfs {
                path: provider_path,
                reason: format!(
                    "expected provider {TDX_GUEST_PROVIDER:?}, got {provider:?}: the reports \
                     here are not TD quotes"
                ),
            });
        }

        let generation_path = dir.join("generation");
        let before = read_number(&generation_path)?;
        write_attr(&dir.join("inblob"), report_data)?;
        let quote = read_limited(&dir.join("outblob"), MAX_BLOB_LEN)?;
        let after = read_number(&generation_path)?;
        let expected = before.saturating_add(WRITES_PER_ATTEMPT);
        if after != expected {
            return Ok(Attempt::Raced {
                entry: dir,
                expected,
                got: after,
            });
        }
        drop(entry);
        if quote.is_empty() {
            return Err(AgentError::Configfs {
                path: dir.join("outblob"),
                reason: "expected a TD quote, got 0 bytes (is a quote generation service \
                         configured on the host?)"
                    .into(),
            });
        }
        Ok(Attempt::Done(quote))
    }
}

impl QuoteSource for ConfigfsTsm {
    fn get_quote(&mut self, report_data: &[u8; 64]) -> Result<Vec<u8>, AgentError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.attempt(report_data)? {
                Attempt::Done(quote) => return Ok(quote),
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
                        return Err(AgentError::TdxGenerationRace {
                            attempts,
                            entry,
                            expected,
                            got,
                        });
                    }
                }
            }
        }
    }

    fn describe(&self) -> String {
        format!("configfs-tsm {}", self.root.display())
    }
}
