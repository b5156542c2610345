//! SEV-SNP reports through configfs-tsm.
//!
//! Interface: Linux `Documentation/ABI/testing/configfs-tsm-report` (v6.7
//! and later; `drivers/virt/coco/guest/report.c` and the sev-guest
//! provider). One request:
//!
//! 1. `mkdir $root/$name` — a uniquely named entry, so no other process
//!    shares its attributes; configfs creates the attribute files with it.
//! 2. `provider` must read `sev_guest` (another provider's `outblob` is not
//!    an ATTESTATION_REPORT); `privlevel_floor`, when present, must not
//!    exceed the requested VMPL.
//! 3. Read `generation`, write `privlevel` (the VMPL, 0..=3) and `inblob`
//!    (the 64-byte REPORT_DATA). Each write advances `generation` by one.
//! 4. Read `outblob` (the report; reading makes the kernel issue the request)
//!    and `auxblob` (the host's certificate table, GHCB §4.1.8.1; empty when
//!    the host supplied none).
//! 5. Read `generation` again: it must equal the first value plus our two
//!    writes, or another writer changed the entry between our writes and
//!    reads and the blobs may belong to another request. Then the entry is
//!    abandoned and a fresh one tried, a bounded number of times.
//! 6. `rmdir` the entry — always, also when a step failed (a guard).

use super::certtable::CertTable;
use super::{SnpReportResponse, SnpReportSource};
use crate::configfs_tsm::{read_limited, read_number, read_text, wait_for, write_attr, Entry};
use crate::evidence::AgentError;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The `provider` value of the SEV-SNP guest driver.
pub const SEV_GUEST_PROVIDER: &str = "sev_guest";

/// Largest `outblob`/`auxblob` read (the kernel's TSM_REPORT_OUTBLOB_MAX,
/// 32 KiB).
pub const MAX_BLOB_LEN: usize = 32 * 1024;

/// Attribute writes per attempt (`privlevel`, `inblob`): the expected
/// advance of `generation`.
const WRITES_PER_ATTEMPT: u64 = 2;

/// Default number of entries tried when other writers interfere.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// Default time to wait for an entry's attributes to appear.
pub const DEFAULT_ATTRIBUTE_WAIT: Duration = Duration::from_secs(2);

/// Requests reports through a configfs-tsm report directory.
#[derive(Debug, Clone)]
pub struct ConfigfsTsm {
    root: PathBuf,
    max_attempts: u32,
    attribute_wait: Duration,
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

    fn attempt(&self, report_data: &[u8; 64], vmpl: u32) -> Result<Attempt, AgentError> {
        let entry = Entry::create(&self.root, "sealbuild-snp")?;
        let dir = entry.path.clone();

        let provider_path = dir.join("provider");
        wait_for(&provider_path, self.attribute_wait)?;
        let provider = read_text(&provider_path)?;
        if provider.trim_end_matches('\n') != SEV_GUEST_PROVIDER {
            return Err(AgentError::Configfs {
                path: provider_path,
                reason: format!(
                    "expected provider {SEV_GUEST_PROVIDER:?}, got {:?}: the reports here are \
                     not SEV-SNP reports",
                    provider.trim_end_matches('\n')
                ),
            });
        }
        let floor_path = dir.join("privlevel_floor");
        if floor_path.exists() {
            let floor = read_number(&floor_path)?;
            if u64::from(vmpl) < floor {
                return Err(AgentError::Configfs {
                    path: floor_path,
                    reason: format!(
                        "VMPL {vmpl} requested, but this guest may request no VMPL below {floor}"
                    ),
                });
            }
        }

        let generation_path = dir.join("generation");
        let before = read_number(&generation_path)?;
        write_attr(&dir.join("privlevel"), format!("{vmpl}\n").as_bytes())?;
        write_attr(&dir.join("inblob"), report_data)?;
        let report = read_blob(&dir.join("outblob"))?;
        let auxblob_path = dir.join("auxblob");
        let auxblob = if auxblob_path.exists() {
            read_blob(&auxblob_path)?
        } else {
            Vec::new()
        };
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

        if report.is_empty() {
            return Err(AgentError::Configfs {
                path: dir.join("outblob"),
                reason: "expected an ATTESTATION_REPORT, got 0 bytes".into(),
            });
        }
        let known = if auxblob.is_empty() {
            Default::default()
        } else {
            CertTable::parse(&auxblob)
                .map_err(|source| AgentError::SnpCertTable {
                    origin: format!("configfs-tsm {}", auxblob_path.display()),
                    source,
                })?
                .certificates()
        };
        Ok(Attempt::Done(SnpReportResponse {
            report,
            certificates: known.certificates,
            unknown_certificates: known.unknown,
        }))
    }
}

enum Attempt {
    Done(SnpReportResponse),
    Raced {
        entry: PathBuf,
        expected: u64,
        got: u64,
    },
}

impl SnpReportSource for ConfigfsTsm {
    fn get_report(
        &mut self,
        report_data: &[u8; 64],
        vmpl: u32,
    ) -> Result<SnpReportResponse, AgentError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.attempt(report_data, vmpl)? {
                Attempt::Done(response) => return Ok(response),
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
                        return Err(AgentError::SnpGenerationRace {
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

fn read_blob(path: &Path) -> Result<Vec<u8>, AgentError> {
    read_limited(path, MAX_BLOB_LEN)
}
