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
//! the TDX provider's attributes, both in `crate::configfs_tsm`; each
//! backend's provider builds on its own feature.

use super::QuoteSource;
use crate::configfs_tsm::{self, read_limited, Provider};
use crate::evidence::AgentError;
use std::path::PathBuf;

pub use crate::configfs_tsm::{DEFAULT_ATTRIBUTE_WAIT, DEFAULT_MAX_ATTEMPTS, MAX_BLOB_LEN};

/// The `provider` value of the TDX guest driver.
pub const TDX_GUEST_PROVIDER: &str = "tdx_guest";

/// The TDX guest driver as a configfs-tsm provider.
#[derive(Debug, Clone, Copy)]
pub struct TdxGuestProvider;

impl Provider for TdxGuestProvider {
    const NAME: &'static str = TDX_GUEST_PROVIDER;
    const ENTRY_PREFIX: &'static str = "sealbuild-tdx";
    const OUTPUT: &'static str = "TD quotes";

    fn raced(attempts: u32, entry: PathBuf, expected: u64, got: u64) -> AgentError {
        AgentError::TdxGenerationRace {
            attempts,
            entry,
            expected,
            got,
        }
    }
}

/// Requests TD quotes through a configfs-tsm report directory (normally
/// [`super::DEFAULT_CONFIGFS_TSM_ROOT`]).
pub type ConfigfsTsm = configfs_tsm::ConfigfsTsm<TdxGuestProvider>;

impl QuoteSource for ConfigfsTsm {
    fn get_quote(&mut self, report_data: &[u8; 64]) -> Result<Vec<u8>, AgentError> {
        let (quote, dir) = self.request(
            |_| Ok(()),
            &[("inblob", report_data)],
            |dir| read_limited(&dir.join("outblob"), MAX_BLOB_LEN),
        )?;
        if quote.is_empty() {
            return Err(AgentError::Configfs {
                path: dir.join("outblob"),
                reason: "expected a TD quote, got 0 bytes (is a quote generation service \
                         configured on the host?)"
                    .into(),
            });
        }
        Ok(quote)
    }

    fn describe(&self) -> String {
        self.description()
    }
}
