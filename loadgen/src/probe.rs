//! A caller of `GET /v1/result-key` (the cheapest route, no database, no
//! appraisal) a few times a second on its own connection: how long an
//! unrelated request waits while the verifier is busy.

use crate::control::Stop;
use crate::stats::{Counts, Latencies};
use std::time::{Duration, Instant};

/// What the probe saw.
#[derive(Debug, Default)]
pub struct ProbeStats {
    /// Latency of each 200.
    pub latencies: Latencies,
    /// Everything that was not a 200, by kind.
    pub errors: Counts,
}

/// One request; its latency when the answer was a 200 with a PEM key.
async fn once(client: &reqwest::Client, url: &str, stats: &mut ProbeStats) {
    let t0 = Instant::now();
    match client.get(url).send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let body = r.text().await;
            match body {
                Ok(b) if status == 200 && b.contains("BEGIN PUBLIC KEY") => {
                    stats.latencies.push(t0.elapsed());
                }
                Ok(_) => stats.errors.add(&format!("http_{status}")),
                Err(_) => stats.errors.add("body"),
            }
        }
        Err(_) => stats.errors.add("verifier_down"),
    }
}

/// `n` requests one after the other (the idle baseline).
pub async fn sequential(client: &reqwest::Client, base: &str, n: usize) -> ProbeStats {
    let url = format!("{base}/v1/result-key");
    let mut stats = ProbeStats::default();
    for _ in 0..n {
        once(client, &url, &mut stats).await;
    }
    stats
}

/// `hz` requests a second until the run stops.
pub async fn run(client: reqwest::Client, base: String, hz: f64, stop: &Stop) -> ProbeStats {
    let url = format!("{base}/v1/result-key");
    let mut stats = ProbeStats::default();
    let period = Duration::from_secs_f64(1.0 / hz.clamp(0.1, 1000.0));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !stop.stopped() {
        tick.tick().await;
        if stop.stopped() {
            break;
        }
        once(&client, &url, &mut stats).await;
    }
    stats
}
