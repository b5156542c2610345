//! A caller of `GET /v1/result-key` (the cheapest route, no database, no
//! appraisal) a few times a second on its own connection: how long an
//! unrelated request waits while the verifier is busy. It runs on a thread
//! and runtime of its own ([`Probe::start`]), so that the load generator's
//! busy agents do not delay it and its figure is the verifier's.

use crate::control::Stop;
use crate::net::NetError;
use crate::stats::{Counts, Latencies};
use std::sync::mpsc;
use std::sync::Arc;
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

/// `n` requests one after the other (the idle baseline), after one that
/// opens the connection (its TLS handshake is not counted).
pub async fn sequential(client: &reqwest::Client, base: &str, n: usize) -> ProbeStats {
    let url = format!("{base}/v1/result-key");
    let mut stats = ProbeStats::default();
    once(client, &url, &mut ProbeStats::default()).await;
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

/// The probe's thread, between its idle baseline and the load.
#[derive(Debug)]
pub struct Probe {
    go: mpsc::Sender<Arc<Stop>>,
    thread: std::thread::JoinHandle<ProbeStats>,
}

impl Probe {
    /// Starts the thread, which measures `idle` requests one after the
    /// other and returns them here; [`Probe::load`] then starts the load
    /// phase at `hz` requests a second (none when `hz` is 0).
    pub fn start(
        ca_pem: &[u8],
        base: &str,
        idle: usize,
        hz: f64,
    ) -> Result<(Probe, ProbeStats), NetError> {
        let (ca_pem, base) = (ca_pem.to_vec(), base.to_string());
        let (idle_tx, idle_rx) = mpsc::channel::<Result<ProbeStats, NetError>>();
        let (go, go_rx) = mpsc::channel::<Arc<Stop>>();
        let thread = std::thread::spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = idle_tx.send(Err(NetError(format!("probe runtime: {e}"))));
                    return ProbeStats::default();
                }
            };
            rt.block_on(async move {
                let client = match crate::net::client(&ca_pem, Duration::from_secs(60)) {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = idle_tx.send(Err(e));
                        return ProbeStats::default();
                    }
                };
                let _ = idle_tx.send(Ok(sequential(&client, &base, idle).await));
                match go_rx.recv() {
                    Ok(stop) if hz > 0.0 => run(client, base, hz, &stop).await,
                    _ => ProbeStats::default(),
                }
            })
        });
        let idle = idle_rx
            .recv()
            .map_err(|_| NetError("the probe thread ended".into()))??;
        Ok((Probe { go, thread }, idle))
    }

    /// Starts the load phase, which lasts until `stop`.
    pub fn load(&self, stop: Arc<Stop>) {
        let _ = self.go.send(stop);
    }

    /// Waits for the thread (after the run stopped) and returns the load
    /// phase's figures.
    pub fn finish(self) -> ProbeStats {
        drop(self.go);
        self.thread.join().unwrap_or_default()
    }
}
