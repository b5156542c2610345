//! Latencies and counters that tasks collect on their own and the driver
//! merges at the end (no shared state on the hot path).

use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Latencies in microseconds.
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    micros: Vec<u64>,
}

/// Percentiles of a set of latencies, in milliseconds (nearest rank).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    /// How many were measured.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

impl Latencies {
    /// Adds one.
    pub fn push(&mut self, d: Duration) {
        self.micros
            .push(u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    }

    /// Adds another set.
    pub fn merge(&mut self, other: Latencies) {
        self.micros.extend(other.micros);
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.micros.len()
    }

    /// None measured.
    pub fn is_empty(&self) -> bool {
        self.micros.is_empty()
    }

    /// p50, p99 and max.
    pub fn summary(&self) -> LatencySummary {
        let mut v = self.micros.clone();
        v.sort_unstable();
        let ms = |us: u64| us as f64 / 1000.0;
        LatencySummary {
            count: v.len() as u64,
            p50_ms: ms(percentile(&v, 50.0)),
            p99_ms: ms(percentile(&v, 99.0)),
            max_ms: ms(v.last().copied().unwrap_or(0)),
        }
    }
}

/// Nearest-rank percentile of sorted values (0 for none).
fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.clamp(1, sorted.len()) - 1)
        .copied()
        .unwrap_or(0)
}

/// Counts by a name (error kinds, answers by status).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Counts(pub BTreeMap<String, u64>);

impl Counts {
    /// Adds one to `name`.
    pub fn add(&mut self, name: &str) {
        *self.0.entry(name.to_string()).or_default() += 1;
    }

    /// Adds another set.
    pub fn merge(&mut self, other: &Counts) {
        for (k, n) in &other.0 {
            *self.0.entry(k.clone()).or_default() += n;
        }
    }

    /// The sum.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// The count of `name`.
    pub fn get(&self, name: &str) -> u64 {
        self.0.get(name).copied().unwrap_or(0)
    }

    /// `a=1, b=2`, or `none`.
    pub fn describe(&self) -> String {
        if self.0.is_empty() {
            return "none".into();
        }
        self.0
            .iter()
            .map(|(k, n)| format!("{k}={n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut l = Latencies::default();
        for ms in 1..=100 {
            l.push(Duration::from_millis(ms));
        }
        let s = l.summary();
        assert_eq!(s.count, 100);
        assert_eq!(s.p50_ms, 50.0);
        assert_eq!(s.p99_ms, 99.0);
        assert_eq!(s.max_ms, 100.0);
        assert_eq!(Latencies::default().summary(), LatencySummary::default());
        let mut one = Latencies::default();
        one.push(Duration::from_micros(1500));
        assert_eq!(one.summary().p99_ms, 1.5);
    }

    #[test]
    fn counts_merge() {
        let mut a = Counts::default();
        a.add("x");
        let mut b = Counts::default();
        b.add("x");
        b.add("y");
        a.merge(&b);
        assert_eq!(a.get("x"), 2);
        assert_eq!(a.total(), 3);
        assert_eq!(a.describe(), "x=2, y=1");
    }
}
