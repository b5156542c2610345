//! Handing memory back to the system after a burst of connections.
//!
//! A thousand concurrent agents hold a thousand TLS sessions, hyper buffers
//! and request bodies (up to [`crate::http::MAX_BODY`] each). When they
//! leave, glibc's allocator keeps most of the freed pages in its arenas:
//! the heap only shrinks from its top, and each worker thread's arena
//! keeps its own free chunks. Measured with `scripts/bench-load.sh`
//! (1,000 agents), the verifier stayed at 70 MiB after the run against
//! 13 MiB at idle. `malloc_trim(0)` returns every whole free page of every
//! arena (glibc ≥ 2.8, `malloc_trim(3)`), at the cost of one walk over the
//! free lists.
//!
//! [`TrimSchedule`] decides when that walk is worth it: after the number
//! of open connections has fallen to half of its peak since the last trim
//! (and by at least [`MIN_DROP`]), or to zero after any connection; and
//! once more [`FOLLOW_UP`] later if the load has not come back, because
//! the blocking pool's threads that served the burst exit only after
//! [`BLOCKING_THREAD_KEEP_ALIVE`] and hand their cached chunks back to the
//! arenas then (measured: the follow-up returns about 8 MiB more after
//! 1,000 agents). It is consulted on a timer ([`TRIM_TICK`]), so a trim
//! happens at most once a tick and never on the request path.
//!
//! What stays is not live data: after 1,000 agents glibc's `malloc_stats`
//! counted 1.3 MiB in use, against about 10 MiB of anonymous pages,
//! mostly the unused tops of the arenas of threads that have exited, which
//! `malloc_trim` does not return. The README's load benchmark reports both.

use std::time::Duration;

/// How often the schedule is consulted.
pub const TRIM_TICK: Duration = Duration::from_secs(2);

/// The least fall in open connections (from the peak) that triggers a trim
/// while connections are still open.
pub const MIN_DROP: usize = 16;

/// How long an idle thread of the blocking pool lives.
pub const BLOCKING_THREAD_KEEP_ALIVE: Duration = Duration::from_secs(10);

/// When the second trim after a burst comes: after the pool's idle threads
/// have exited.
pub const FOLLOW_UP: Duration = Duration::from_secs(BLOCKING_THREAD_KEEP_ALIVE.as_secs() + 4);

/// [`FOLLOW_UP`] in ticks of [`TRIM_TICK`].
const FOLLOW_UP_TICKS: u64 = FOLLOW_UP.as_secs().div_ceil(TRIM_TICK.as_secs());

/// When to return free memory, from the open connections observed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TrimSchedule {
    /// Highest number of open connections since the last trim.
    peak: usize,
    /// Ticks left until the follow-up of the last trim, if one is due.
    follow_up: Option<u64>,
    /// Open connections at the last trim.
    at_trim: usize,
}

impl TrimSchedule {
    /// Records that `open` connections were open at some moment.
    pub fn observe(&mut self, open: usize) {
        self.peak = self.peak.max(open);
    }

    /// Whether to trim now, with `open` connections open, at one tick of
    /// [`TRIM_TICK`]; a `true` starts a new period whose peak is `open`.
    pub fn due(&mut self, open: usize) -> bool {
        self.observe(open);
        let fell_to_zero = open == 0 && self.peak > 0;
        let fell_by_half = self.peak >= open.saturating_add(MIN_DROP) && open <= self.peak / 2;
        if fell_to_zero || fell_by_half {
            self.peak = open;
            self.at_trim = open;
            self.follow_up = Some(FOLLOW_UP_TICKS);
            return true;
        }
        match self.follow_up {
            Some(0) => {
                self.follow_up = None;
                // Only if no new burst came since (its own fall brings its
                // own trim).
                self.peak < self.at_trim.saturating_add(MIN_DROP)
            }
            Some(n) => {
                self.follow_up = Some(n - 1);
                false
            }
            None => false,
        }
    }
}

/// Returns the allocator's free pages to the system; whether any was
/// returned. Only glibc has this; elsewhere it does nothing.
pub fn release_free_memory() -> bool {
    release_impl()
}

// The workspace's one `unsafe` block: a foreign call without arguments.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn release_impl() -> bool {
    // SAFETY: malloc_trim takes no pointers and only walks the allocator's
    // own free lists under its locks; it is safe to call from any thread at
    // any time (glibc malloc_trim(3), MT-Safe).
    unsafe { libc::malloc_trim(0) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_impl() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_to_trim_before_any_connection() {
        let mut s = TrimSchedule::default();
        assert!(!s.due(0));
        assert!(!s.due(0));
    }

    /// Ticks until the follow-up is due, then whether it fired.
    fn ticks_to_follow_up(s: &mut TrimSchedule, open: usize) -> (u64, bool) {
        for t in 1..=FOLLOW_UP_TICKS + 1 {
            if s.due(open) {
                return (t, true);
            }
        }
        (FOLLOW_UP_TICKS + 1, false)
    }

    #[test]
    fn trims_when_the_last_connection_closes_and_once_more_later() {
        let mut s = TrimSchedule::default();
        s.observe(3);
        assert!(!s.due(3), "still at the peak");
        assert!(s.due(0), "fell to zero");
        assert_eq!(
            ticks_to_follow_up(&mut s, 0),
            (FOLLOW_UP_TICKS + 1, true),
            "the follow-up comes FOLLOW_UP after the trim"
        );
        assert!(
            FOLLOW_UP_TICKS * TRIM_TICK.as_secs() > BLOCKING_THREAD_KEEP_ALIVE.as_secs(),
            "after the idle threads exit"
        );
        for _ in 0..3 * FOLLOW_UP_TICKS {
            assert!(!s.due(0), "nothing new since the follow-up");
        }
        s.observe(1);
        assert!(s.due(0), "one connection came and went");
    }

    #[test]
    fn no_follow_up_when_the_load_came_back() {
        let mut s = TrimSchedule::default();
        s.observe(100);
        assert!(s.due(0));
        s.observe(100);
        assert_eq!(
            ticks_to_follow_up(&mut s, 90),
            (FOLLOW_UP_TICKS + 1, false),
            "the load is back: its own fall will trim"
        );
        assert!(s.due(10), "the new burst fell");
    }

    #[test]
    fn trims_when_a_burst_halves() {
        let mut s = TrimSchedule::default();
        s.observe(1000);
        assert!(!s.due(600), "above half of the peak");
        assert!(s.due(500), "half of the peak");
        assert!(!s.due(400), "the new period's peak is 500");
        assert!(s.due(250));
    }

    #[test]
    fn small_falls_do_not_trim_while_connections_are_open() {
        let mut s = TrimSchedule::default();
        s.observe(20);
        assert!(!s.due(10), "fell by 10 < MIN_DROP");
        assert!(!s.due(5), "fell by 15 < MIN_DROP");
        assert!(s.due(4), "fell by 16");
    }

    #[test]
    fn peaks_between_ticks_count() {
        let mut s = TrimSchedule::default();
        assert!(!s.due(2));
        s.observe(200);
        assert!(s.due(2), "the burst rose and fell between two ticks");
    }

    #[test]
    fn freed_pages_in_the_middle_of_a_heap_are_returned() {
        // 32 MiB in small chunks (below the mmap threshold, so on the
        // heap), then one chunk after them that stays: the heap cannot
        // shrink from its top, so only a trim can return the freed pages.
        let chunks: Vec<Vec<u8>> = (0..32 * 1024).map(|i| vec![i as u8; 1024]).collect();
        let sentinel: Vec<u8> = std::iter::repeat_n(1u8, 64).collect();
        drop(chunks);
        let released = release_free_memory();
        assert_eq!(sentinel.len(), 64);
        assert_eq!(
            released,
            cfg!(all(target_os = "linux", target_env = "gnu")),
            "glibc returns the freed pages; other allocators do nothing"
        );
    }
}
