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
//!
//! The protocol is `crate::configfs_tsm`'s, shared with TDX; this module
//! names the provider and supplies the `privlevel_floor` check, the two
//! writes and the reads.

use super::certtable::CertTable;
use super::{SnpReportResponse, SnpReportSource};
use crate::configfs_tsm::{self, read_limited, read_number, Provider};
use crate::evidence::AgentError;
use std::path::{Path, PathBuf};

pub use crate::configfs_tsm::{DEFAULT_ATTRIBUTE_WAIT, DEFAULT_MAX_ATTEMPTS, MAX_BLOB_LEN};

/// The `provider` value of the SEV-SNP guest driver.
pub const SEV_GUEST_PROVIDER: &str = "sev_guest";

/// The SEV-SNP guest driver as a configfs-tsm provider.
#[derive(Debug, Clone, Copy)]
pub struct SevGuestProvider;

impl Provider for SevGuestProvider {
    const NAME: &'static str = SEV_GUEST_PROVIDER;
    const ENTRY_PREFIX: &'static str = "sealbuild-snp";
    const OUTPUT: &'static str = "SEV-SNP reports";

    fn raced(attempts: u32, entry: PathBuf, expected: u64, got: u64) -> AgentError {
        AgentError::SnpGenerationRace {
            attempts,
            entry,
            expected,
            got,
        }
    }
}

/// Requests SEV-SNP reports through a configfs-tsm report directory
/// (normally [`super::DEFAULT_CONFIGFS_TSM_ROOT`]).
pub type ConfigfsTsm = configfs_tsm::ConfigfsTsm<SevGuestProvider>;

/// `privlevel_floor`, when present, must not exceed the requested VMPL.
fn check_floor(dir: &Path, vmpl: u32) -> Result<(), AgentError> {
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
    Ok(())
}

/// `outblob` and, when present, `auxblob` (else empty).
fn read_blobs(dir: &Path) -> Result<(Vec<u8>, Vec<u8>), AgentError> {
    let report = read_blob(&dir.join("outblob"))?;
    let auxblob_path = dir.join("auxblob");
    let auxblob = if auxblob_path.exists() {
        read_blob(&auxblob_path)?
    } else {
        Vec::new()
    };
    Ok((report, auxblob))
}

impl SnpReportSource for ConfigfsTsm {
    fn get_report(
        &mut self,
        report_data: &[u8; 64],
        vmpl: u32,
    ) -> Result<SnpReportResponse, AgentError> {
        let privlevel = format!("{vmpl}\n");
        let writes: [(&str, &[u8]); 2] =
            [("privlevel", privlevel.as_bytes()), ("inblob", report_data)];
        let ((report, auxblob), dir) =
            self.request(|dir| check_floor(dir, vmpl), &writes, read_blobs)?;
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
                    origin: format!("configfs-tsm {}", dir.join("auxblob").display()),
                    source,
                })?
                .certificates()
        };
        Ok(SnpReportResponse {
            report,
            certificates: known.certificates,
            unknown_certificates: known.unknown,
        })
    }

    fn describe(&self) -> String {
        self.description()
    }
}

fn read_blob(path: &Path) -> Result<Vec<u8>, AgentError> {
    read_limited(path, MAX_BLOB_LEN)
}
