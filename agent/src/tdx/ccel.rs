//! The TD's firmware event log: the ACPI CCEL table and its log area.
//!
//! Linux (≥ 6.4, `drivers/acpi/tables.c`: BERT/BGRT/CCEL data tables)
//! exposes the table as `/sys/firmware/acpi/tables/CCEL` (ACPI
//! Specification 6.5, §5.2.34 "CC Event Log ACPI Table") and the log area it
//! points to (LAML bytes from LASA) as `/sys/firmware/acpi/tables/data/CCEL`.
//! Both are parsed with `sealbuild_common::eventlog::ccel` before anything is
//! sent, so garbage fails here, naming the file, rather than at the
//! verifier; the log area's bytes are sent unchanged as
//! `TdxEvidence::ccel`. A missing log area is not an error (the evidence
//! then has no CCEL, and a policy that needs RTMR0–2 explained refuses it);
//! a log area without its table is parsed on its own.

use crate::evidence::AgentError;
use sealbuild_common::api::bounds::MAX_LOG;
use sealbuild_common::eventlog::ccel::{CcelError, CcelLog, CcelTable, CCEL_TABLE_LEN};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The ACPI CCEL table.
pub const DEFAULT_CCEL_TABLE: &str = "/sys/firmware/acpi/tables/CCEL";

/// The CCEL log area.
pub const DEFAULT_CCEL_DATA: &str = "/sys/firmware/acpi/tables/data/CCEL";

/// Where the CCEL is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CcelPaths {
    /// The ACPI table.
    pub table: PathBuf,
    /// The log area.
    pub data: PathBuf,
}

impl Default for CcelPaths {
    fn default() -> Self {
        Self {
            table: PathBuf::from(DEFAULT_CCEL_TABLE),
            data: PathBuf::from(DEFAULT_CCEL_DATA),
        }
    }
}

/// Where a TD's CCEL log area comes from: the kernel's ACPI files
/// ([`CcelPaths`]) or a simulated TD (the `insecure-tdx-sim` feature).
pub trait CcelSource: Send + std::fmt::Debug {
    /// The log area, `None` when the TD has none.
    fn read_area(&self) -> Result<Option<Vec<u8>>, AgentError>;
}

impl CcelSource for CcelPaths {
    fn read_area(&self) -> Result<Option<Vec<u8>>, AgentError> {
        self.read()
    }
}

impl CcelPaths {
    /// The log area's bytes, checked against the table when there is one;
    /// `None` when there is no log area.
    pub fn read(&self) -> Result<Option<Vec<u8>>, AgentError> {
        let Some(area) = read_optional(&self.data, MAX_LOG)? else {
            tracing::info!(
                "no CCEL log area at {}: TD evidence without a firmware event log",
                self.data.display()
            );
            return Ok(None);
        };
        match read_optional(&self.table, CCEL_TABLE_LEN.saturating_mul(16))? {
            Some(table_bytes) => {
                let table = CcelTable::parse(&table_bytes).map_err(|e| AgentError::Ccel {
                    path: self.table.clone(),
                    source: CcelError::Table(e),
                })?;
                CcelLog::parse_with_table(&table, &area).map_err(|source| {
                    let path = match source {
                        CcelError::Table(_) => self.table.clone(),
                        _ => self.data.clone(),
                    };
                    AgentError::Ccel { path, source }
                })?;
            }
            None => {
                CcelLog::parse(&area).map_err(|source| AgentError::Ccel {
                    path: self.data.clone(),
                    source,
                })?;
            }
        }
        Ok(Some(area))
    }
}

/// Reads at most `max` bytes of `path`; `None` when it does not exist.
fn read_optional(path: &Path, max: usize) -> Result<Option<Vec<u8>>, AgentError> {
    let io = |source| AgentError::EventLogIo {
        path: path.to_path_buf(),
        source,
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let mut out = Vec::new();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    file.take(limit).read_to_end(&mut out).map_err(io)?;
    if out.len() > max {
        return Err(AgentError::EventLogTooLarge {
            path: path.to_path_buf(),
            max,
        });
    }
    Ok(Some(out))
}
