//! When a run stops: a deadline, an optional budget of attestations, and a
//! flag the driver raises for the clients that run until told (hostile
//! clients, the probe, the resource sampler).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The run's bounds, shared by every task.
#[derive(Debug)]
pub struct Stop {
    deadline: Instant,
    /// Attestation cycles left to start (`u64::MAX`: no budget).
    budget: AtomicU64,
    raised: AtomicBool,
}

impl Stop {
    /// Stops `duration` from now, or when `attestations` cycles have been
    /// started, whichever comes first.
    pub fn new(duration: Duration, attestations: Option<u64>) -> Self {
        Self {
            deadline: Instant::now() + duration,
            budget: AtomicU64::new(attestations.unwrap_or(u64::MAX)),
            raised: AtomicBool::new(false),
        }
    }

    /// Whether the deadline passed or the driver raised the flag.
    pub fn stopped(&self) -> bool {
        self.raised.load(Ordering::Relaxed) || Instant::now() >= self.deadline
    }

    /// Raises the flag: every loop ends at its next check.
    pub fn raise(&self) {
        self.raised.store(true, Ordering::Relaxed);
    }

    /// Takes one attestation from the budget: false once the run is over
    /// (deadline, flag or budget spent).
    pub fn take_attestation(&self) -> bool {
        if self.stopped() {
            return false;
        }
        self.budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }

    /// Returns an attestation taken with [`Self::take_attestation`] that
    /// was not started (the verifier was down before it got a nonce).
    pub fn give_back_attestation(&self) {
        let _ = self
            .budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n != u64::MAX).then(|| n.saturating_add(1))
            });
    }

    /// The deadline.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Sleeps `d`, or less when the run stops first (checked every 100 ms).
    pub async fn sleep(&self, d: Duration) {
        let until = Instant::now() + d;
        while !self.stopped() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            tokio::time::sleep(left.min(Duration::from_millis(100))).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_spent_once() {
        let s = Stop::new(Duration::from_secs(60), Some(2));
        assert!(s.take_attestation());
        assert!(s.take_attestation());
        assert!(!s.take_attestation());
        s.give_back_attestation();
        assert!(s.take_attestation());
        assert!(!s.stopped());
        s.raise();
        assert!(s.stopped());
    }

    #[test]
    fn the_deadline_stops() {
        let s = Stop::new(Duration::ZERO, None);
        assert!(s.stopped());
        assert!(!s.take_attestation());
    }
}
