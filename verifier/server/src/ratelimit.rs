//! Per-source rate limits of the unauthenticated routes (registration,
//! activation, nonces, attestation): a token bucket per source address.
//!
//! This is what bounds what a network caller can make the verifier store:
//! each of those requests may write at most one audit entry (of bounded
//! size, `audit::bounded_reasons` and `sealbuild_common::api::bounds`) and
//! one nonce row, so one source can add at most `burst + rate × t` of them
//! in `t` seconds. The table of sources is bounded too ([`MAX_SOURCES`]):
//! full buckets are dropped first, and when every tracked source is busy a
//! new source is refused rather than tracked.
//!
//! Time is passed in (`Instant`), so the limiter is tested with a fixed clock.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most sources tracked at once.
pub const MAX_SOURCES: usize = 65_536;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// A token bucket per source address.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

/// Why a request was not admitted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limited {
    /// When the source may try again.
    pub retry_after: Duration,
}

impl RateLimiter {
    /// `rate` requests per second on average, bursts of up to `burst`.
    pub fn new(rate: f64, burst: f64) -> Self {
        Self {
            rate: rate.max(0.001),
            burst: burst.max(1.0),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `source` at `now`.
    pub fn check(&self, source: IpAddr, now: Instant) -> Result<(), Limited> {
        let Ok(mut buckets) = self.buckets.lock() else {
            return Err(Limited {
                retry_after: Duration::from_secs(1),
            });
        };
        if !buckets.contains_key(&source) && buckets.len() >= MAX_SOURCES {
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, b| refill(b, now, rate, burst) < burst);
            if buckets.len() >= MAX_SOURCES {
                return Err(Limited {
                    retry_after: Duration::from_secs(1),
                });
            }
        }
        let b = buckets.entry(source).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let tokens = refill(b, now, self.rate, self.burst);
        if tokens >= 1.0 {
            b.tokens = tokens - 1.0;
            b.at = now;
            Ok(())
        } else {
            b.tokens = tokens;
            b.at = now;
            Err(Limited {
                retry_after: Duration::from_secs_f64((1.0 - tokens) / self.rate),
            })
        }
    }
}

fn refill(b: &Bucket, now: Instant, rate: f64, burst: f64) -> f64 {
    let dt = now.saturating_duration_since(b.at).as_secs_f64();
    (b.tokens + dt * rate).min(burst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let l = RateLimiter::new(2.0, 3.0);
        let t0 = Instant::now();
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        for _ in 0..3 {
            assert!(l.check(a, t0).is_ok());
        }
        let e = l.check(a, t0).unwrap_err();
        assert!(e.retry_after <= Duration::from_millis(500));
        // Another source has its own bucket.
        assert!(l.check(b, t0).is_ok());
        // Half a second later one more token (2/s).
        assert!(l.check(a, t0 + Duration::from_millis(500)).is_ok());
        assert!(l.check(a, t0 + Duration::from_millis(500)).is_err());
        // Over 10 s: at most burst + rate × t admitted.
        let mut admitted = 0;
        for i in 0..10_000u64 {
            if l.check(a, t0 + Duration::from_millis(i)).is_ok() {
                admitted += 1;
            }
        }
        assert!(admitted <= 3 + 2 * 10, "{admitted}");
    }
}
