//! The verifier's one clock. Verification code takes `now` as a value; only
//! the service edge asks a [`Clock`], so tests can move time.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Source of "now" in Unix seconds.
pub trait Clock: Send + Sync {
    /// Current time, Unix seconds.
    fn now(&self) -> u64;
}

/// Wall-clock time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

/// Wall-clock time plus an adjustable offset, for tests of expiry.
#[derive(Debug, Default)]
pub struct OffsetClock {
    offset: AtomicI64,
}

impl OffsetClock {
    /// Moves time forward by `secs`.
    pub fn advance(&self, secs: i64) {
        self.offset.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> u64 {
        SystemClock
            .now()
            .saturating_add_signed(self.offset.load(Ordering::SeqCst))
    }
}
