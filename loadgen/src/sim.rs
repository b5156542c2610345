//! Simulated SEV-SNP agents (INSECURE: reports signed with the published
//! test chain of `insecure/snp-sim`). Each agent loops nonce → attest →
//! key release through the agent library (`sealbuild_agent::flow`), the
//! way `sealbuild-agent attest --platform snp-sim` does, and opens the
//! released key with its ephemeral key.

use crate::control::Stop;
use crate::hostile::ReplaySlot;
use crate::record::{KeyRecord, Recorder};
use crate::stats::{Counts, Latencies};
use sealbuild_agent::client::{ClientError, VerifierClient};
use sealbuild_agent::evidence::AgentError;
use sealbuild_agent::flow::{self, FlowError};
use sealbuild_agent::insecure_snp_sim::InsecureSimSource;
use sealbuild_agent::snp::SnpCollector;
use sealbuild_common::api::{AttestResponse, Verdict};
use sha2::{Digest, Sha256, Sha384};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// How long an agent waits before trying again when the verifier is down.
const DOWN_BACKOFF: Duration = Duration::from_millis(100);

/// The simulated guests' launch digest: SHA-384 of a fixed string (no
/// firmware is measured; the policy of [`policy_toml`] names this value).
pub fn measurement() -> [u8; 48] {
    Sha384::digest(b"sealbuild-loadgen simulated SEV-SNP guest").into()
}

/// A policy that grants `key_id` to the simulated guests: their
/// measurement, the simulator's product, signing key, VMPL and TCB.
pub fn policy_toml(key_id: &str, measurement: &[u8; 48]) -> String {
    format!(
        r#"version = 1

[[reference]]
name = "loadgen-snp-sim"
platform = "snp"

[reference.snp]
measurements = ["{m}"]
products = ["genoa"]
signing_keys = ["vcek"]
vmpls = [0]
min_abi = "0.0"

[reference.snp.min_tcb]
genoa = {{ bl = 10, tee = 0, snp = 23, ucode = 84 }}

[[key]]
id = "{key_id}"
references = ["loadgen-snp-sim"]
"#,
        m = hex::encode(measurement)
    )
}

/// A simulated guest's evidence collector.
pub fn collector(measurement: [u8; 48]) -> Result<SnpCollector, AgentError> {
    SnpCollector::new(Box::new(InsecureSimSource::new(measurement, [0u8; 32])), 0)
}

/// What every agent shares.
#[derive(Debug)]
pub struct AgentSetup {
    /// The verifier's API (one connection pool for all agents).
    pub client: VerifierClient,
    /// The key each attestation asks for.
    pub key_id: String,
    /// The guests' launch digest.
    pub measurement: [u8; 48],
    /// When the verifier goes away: wait and go on (and send an attestation
    /// already made again, same nonce and evidence) instead of counting an
    /// error. For the crash test.
    pub retry_when_down: bool,
    /// `--record`.
    pub recorder: Option<Arc<Recorder>>,
    /// Where agent 0 leaves its answered requests for the hostile clients.
    pub replay: Option<Arc<ReplaySlot>>,
}

/// What one agent saw.
#[derive(Debug, Default)]
pub struct AgentStats {
    /// Whole nonce → attest → key opened cycles that ended with the key.
    pub ok: u64,
    /// Their latencies.
    pub latencies: Latencies,
    /// Cycles that did not end with the key, by kind.
    pub errors: Counts,
    /// Calls that found the verifier down and were tried again
    /// (`retry_when_down`).
    pub down_retries: u64,
    /// Outcomes of attestations sent again after the verifier went away.
    pub resent: Counts,
    /// When the last key arrived.
    pub last_ok: Option<Instant>,
}

fn client_kind(e: &ClientError) -> String {
    match e {
        ClientError::Transport { .. } => "verifier_down".into(),
        ClientError::Refused { status, class, .. } => format!("http_{status}:{class}"),
        ClientError::Decode { .. } => "undecodable_answer".into(),
        ClientError::Trust(_) => "trust".into(),
    }
}

fn flow_kind(e: &FlowError) -> String {
    match e {
        FlowError::Agent(_) => "collect".into(),
        FlowError::Client(c) => client_kind(c),
        FlowError::Protocol(_) => "key_not_opened".into(),
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// How a cycle ended.
enum Cycle {
    /// The key arrived and opened.
    Key,
    /// The verifier was down before a nonce was issued.
    DownBeforeNonce,
    /// Anything else, by kind.
    Failed(String),
}

/// Sends `req` until answered; with `retry_when_down`, a lost connection is
/// tried again while the run lasts.
async fn send(
    setup: &AgentSetup,
    stop: &Stop,
    req: &sealbuild_common::api::AttestRequest,
    stats: &mut AgentStats,
    resent: &mut bool,
) -> Result<AttestResponse, String> {
    loop {
        match setup.client.attest(req).await {
            Ok(r) => return Ok(r),
            Err(e @ ClientError::Transport { .. }) if setup.retry_when_down => {
                if stop.stopped() {
                    return Err(client_kind(&e));
                }
                stats.down_retries += 1;
                *resent = true;
                stop.sleep(DOWN_BACKOFF).await;
            }
            Err(e) => return Err(client_kind(&e)),
        }
    }
}

/// One nonce → attest → key cycle.
async fn cycle(
    index: usize,
    setup: &AgentSetup,
    stop: &Stop,
    collector: &mut SnpCollector,
    agent_id: &str,
    stats: &mut AgentStats,
) -> Cycle {
    let mut prepared = match flow::prepare(&setup.client, collector, agent_id, None).await {
        Ok(p) => p,
        Err(FlowError::Client(ClientError::Transport { .. })) if setup.retry_when_down => {
            return Cycle::DownBeforeNonce
        }
        Err(e) => return Cycle::Failed(flow_kind(&e)),
    };
    prepared.request.keys = Some(vec![setup.key_id.clone()]);
    let mut resent = false;
    let answer = send(setup, stop, &prepared.request, stats, &mut resent).await;
    let evidence_digest = setup.recorder.as_ref().map(|_| {
        hex::encode(Sha256::digest(
            serde_json::to_vec(&prepared.request.evidence).unwrap_or_default(),
        ))
    });
    if let (0, Some(slot), Ok(_)) = (index, &setup.replay, &answer) {
        slot.put(prepared.request.clone());
    }
    let outcome = match answer {
        Err(kind) => Err(kind),
        Ok(response) => {
            let result_digest = hex::encode(Sha256::digest(&response.ear));
            match prepared.open(response) {
                Err(e) => Err(flow_kind(&e)),
                Ok(a) if a.response.verdict != Verdict::Accepted => Err(format!(
                    "rejected:{}",
                    a.response
                        .reasons
                        .first()
                        .map_or("none", |r| r.check.as_str())
                )),
                Ok(a) => match a.keys.iter().find(|k| k.key_id == setup.key_id) {
                    None => Err("no_key".into()),
                    Some(k) => Ok((hex::encode(a.nonce), k.key_id.clone(), result_digest)),
                },
            }
        }
    };
    if resent {
        stats.resent.add(match &outcome {
            Ok(_) => "key",
            Err(kind) => kind.as_str(),
        });
    }
    match outcome {
        Err(kind) => Cycle::Failed(kind),
        Ok((nonce, key_id, result_digest)) => {
            if let (Some(rec), Some(evidence_digest)) = (&setup.recorder, evidence_digest) {
                let line = KeyRecord {
                    agent_id: agent_id.to_string(),
                    nonce,
                    key_id,
                    result_digest,
                    evidence_digest,
                    time: unix_now(),
                    resent,
                };
                if rec.write(&line).is_err() {
                    return Cycle::Failed("record_write".into());
                }
            }
            Cycle::Key
        }
    }
}

/// One agent (`snp:load-<index>`): cycles until the run stops.
pub async fn run_agent(index: usize, setup: Arc<AgentSetup>, stop: Arc<Stop>) -> AgentStats {
    let mut stats = AgentStats::default();
    let agent_id = format!("snp:load-{index}");
    let mut collector = match collector(setup.measurement) {
        Ok(c) => c,
        Err(_) => {
            stats.errors.add("collect");
            return stats;
        }
    };
    while stop.take_attestation() {
        let t0 = Instant::now();
        match cycle(index, &setup, &stop, &mut collector, &agent_id, &mut stats).await {
            Cycle::Key => {
                stats.ok += 1;
                stats.latencies.push(t0.elapsed());
                stats.last_ok = Some(Instant::now());
            }
            Cycle::DownBeforeNonce => {
                stop.give_back_attestation();
                stats.down_retries += 1;
                stop.sleep(DOWN_BACKOFF).await;
            }
            Cycle::Failed(kind) => {
                stats.errors.add(&kind);
                if kind == "verifier_down" {
                    stop.sleep(DOWN_BACKOFF).await;
                }
            }
        }
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_parses_and_names_the_measurement_and_key() {
        let m = measurement();
        let text = policy_toml("load-key", &m);
        let p = sealbuild_verifier_core::policy::Policy::parse(&text).unwrap();
        assert_eq!(p.key_ids().collect::<Vec<_>>(), vec!["load-key"]);
        assert!(text.contains(&hex::encode(m)));
    }
}
