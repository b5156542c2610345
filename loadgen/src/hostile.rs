//! Hostile clients: each sends, in turn and at a bounded rate, requests an
//! attacker would send, and counts how the verifier answered. What must
//! never happen (a *violation*): a 5xx, an accepted verdict or a key.
//! Refusals (4xx, 429), rejected verdicts (a 200 whose verdict is
//! `rejected`) and a connection closed on an oversized body are expected.

use crate::control::Stop;
use crate::stats::Counts;
use rand::RngCore as _;
use sealbuild_common::api::bounds::{MAX_CERT, MAX_CERTS, MAX_HEX, MAX_ID, MAX_KEYS, MAX_KEY_ID};
use sealbuild_common::api::{
    AttestRequest, AttestResponse, Evidence, NonceResponse, SnpCertKind, SnpCertificate,
    SnpEvidence, Verdict,
};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Violations described in a report (the rest are counted).
const MAX_EXAMPLES: usize = 10;

/// The verifier's whole-body limit (`sealbuild_verifier::http::MAX_BODY`).
const MAX_BODY: usize = 4 * 1024 * 1024;

/// What a hostile client sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attack {
    /// An attestation with every field at its bound: longest agent id,
    /// nonce, ephemeral key, 32 longest key ids, largest report, 8 largest
    /// certificates (garbage), for a nonce never issued.
    MaximalFields,
    /// A nonce, then an attestation, for an agent id no one registered.
    UnknownAgent,
    /// A real nonce for an `snp:` id, then random bytes as the report.
    GarbageEvidence,
    /// A request a legitimate agent already sent and was answered (valid
    /// evidence, used nonce), sent again.
    ReplayedRequest,
    /// A body one byte over the verifier's 4 MiB limit.
    OversizedBody,
    /// A body that is not JSON.
    MalformedJson,
    /// An agent id with control characters, and one over the length bound.
    BadAgentId,
}

impl Attack {
    /// Every attack, in the order a client cycles through them.
    pub const ALL: [Attack; 7] = [
        Attack::MaximalFields,
        Attack::UnknownAgent,
        Attack::GarbageEvidence,
        Attack::ReplayedRequest,
        Attack::OversizedBody,
        Attack::MalformedJson,
        Attack::BadAgentId,
    ];

    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Attack::MaximalFields => "maximal_fields",
            Attack::UnknownAgent => "unknown_agent",
            Attack::GarbageEvidence => "garbage_evidence",
            Attack::ReplayedRequest => "replayed_request",
            Attack::OversizedBody => "oversized_body",
            Attack::MalformedJson => "malformed_json",
            Attack::BadAgentId => "bad_agent_id",
        }
    }
}

/// The last answered request of a legitimate agent, for replays.
#[derive(Debug, Default)]
pub struct ReplaySlot(Mutex<Option<AttestRequest>>);

impl ReplaySlot {
    /// Keeps `req` (replacing the one before).
    pub fn put(&self, req: AttestRequest) {
        if let Ok(mut g) = self.0.lock() {
            *g = Some(req);
        }
    }

    /// The request kept, if any.
    pub fn get(&self) -> Option<AttestRequest> {
        self.0.lock().ok().and_then(|g| g.clone())
    }
}

/// What the hostile clients saw.
#[derive(Debug, Default, Clone)]
pub struct HostileStats {
    /// Answers by attack, then by outcome (`400`, `429`, `200_rejected`,
    /// `closed`, …).
    pub by_attack: BTreeMap<String, Counts>,
    /// Requests answered with a 5xx, an accepted verdict or a key.
    pub violations: u64,
    /// The first violations, in words.
    pub examples: Vec<String>,
}

impl HostileStats {
    fn note(&mut self, attack: Attack, outcome: &str, violation: Option<String>) {
        self.by_attack
            .entry(attack.name().to_string())
            .or_default()
            .add(outcome);
        if let Some(v) = violation {
            self.violations += 1;
            if self.examples.len() < MAX_EXAMPLES {
                self.examples.push(format!("{}: {v}", attack.name()));
            }
        }
    }

    /// Adds another client's counts.
    pub fn merge(&mut self, other: HostileStats) {
        for (k, c) in other.by_attack {
            self.by_attack.entry(k).or_default().merge(&c);
        }
        self.violations += other.violations;
        for e in other.examples {
            if self.examples.len() < MAX_EXAMPLES {
                self.examples.push(e);
            }
        }
    }

    /// All requests sent.
    pub fn requests(&self) -> u64 {
        self.by_attack.values().map(Counts::total).sum()
    }
}

/// The maximal attestation body of [`Attack::MaximalFields`].
pub fn maximal_request() -> AttestRequest {
    AttestRequest {
        agent_id: format!("snp:{}", "h".repeat(MAX_ID - 4)),
        nonce: "ab".repeat(MAX_HEX / 2),
        ephemeral_public_key: vec![4u8; sealbuild_common::api::bounds::MAX_PUBLIC_KEY],
        statement_digest: Some("cd".repeat(32)),
        statement: None,
        evidence: Evidence::Snp(SnpEvidence {
            report: vec![0x5a; sealbuild_common::api::bounds::MAX_REPORT],
            certificates: (0..MAX_CERTS)
                .map(|_| SnpCertificate {
                    kind: SnpCertKind::Vcek,
                    der: vec![0x30; MAX_CERT],
                })
                .collect(),
        }),
        keys: Some(
            (0..MAX_KEYS)
                .map(|i| format!("k{i:0w$}", w = MAX_KEY_ID - 1))
                .collect(),
        ),
    }
}

/// One hostile client.
#[derive(Debug, Clone)]
pub struct Hostile {
    /// Its HTTPS client.
    pub client: reqwest::Client,
    /// `https://host:port`.
    pub base: String,
    /// Where legitimate agents leave requests to replay.
    pub replay: Arc<ReplaySlot>,
    /// Its number (its `snp:` ids and where it starts in [`Attack::ALL`]).
    pub id: usize,
    /// [`maximal_request`] as JSON, built once.
    pub maximal_body: Arc<String>,
}

/// How one answer counts: (outcome, violation).
async fn judge(
    answer: Result<reqwest::Response, reqwest::Error>,
    attest: bool,
) -> (String, Option<String>) {
    let r = match answer {
        Ok(r) => r,
        Err(e) if e.is_timeout() => return ("timeout".into(), None),
        Err(_) => return ("closed".into(), None),
    };
    let status = r.status().as_u16();
    if status >= 500 {
        let body: String = r
            .text()
            .await
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect();
        return (format!("{status}"), Some(format!("HTTP {status}: {body}")));
    }
    if status != 200 || !attest {
        return (format!("{status}"), None);
    }
    match r.json::<AttestResponse>().await {
        Ok(a) if !a.keys.is_empty() => (
            "200_key".into(),
            Some(format!("{} key(s) released", a.keys.len())),
        ),
        Ok(a) if a.verdict == Verdict::Accepted => {
            ("200_accepted".into(), Some("accepted verdict".into()))
        }
        Ok(_) => ("200_rejected".into(), None),
        Err(e) => (
            "200_undecodable".into(),
            Some(format!("answer does not decode: {e}")),
        ),
    }
}

impl Hostile {
    async fn post(&self, route: &str, body: String) -> Result<reqwest::Response, reqwest::Error> {
        self.client
            .post(format!("{}{route}", self.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
    }

    async fn attest_json(&self, req: &AttestRequest, stats: &mut HostileStats, a: Attack) {
        let body = serde_json::to_string(req).unwrap_or_default();
        let (o, v) = judge(self.post("/v1/attest", body).await, true).await;
        stats.note(a, &o, v);
    }

    async fn nonce_for(&self, agent_id: &str) -> Option<String> {
        let body = serde_json::json!({ "agent_id": agent_id }).to_string();
        let r = self.post("/v1/nonces", body).await.ok()?;
        if r.status().as_u16() != 200 {
            return None;
        }
        r.json::<NonceResponse>().await.ok().map(|n| n.nonce)
    }

    fn garbage_request(&self, agent_id: &str, nonce: String) -> AttestRequest {
        let mut report = vec![0u8; 1184];
        rand::thread_rng().fill_bytes(&mut report);
        AttestRequest {
            agent_id: agent_id.to_string(),
            nonce,
            ephemeral_public_key: vec![9u8; 32],
            statement_digest: None,
            statement: None,
            evidence: Evidence::Snp(SnpEvidence {
                report,
                certificates: Vec::new(),
            }),
            keys: None,
        }
    }

    /// Sends one attack and counts its answers.
    pub async fn attack(&self, a: Attack, stats: &mut HostileStats) {
        match a {
            Attack::MaximalFields => {
                let (o, v) = judge(
                    self.post("/v1/attest", self.maximal_body.to_string()).await,
                    true,
                )
                .await;
                stats.note(a, &o, v);
            }
            Attack::UnknownAgent => {
                let id = hex::encode(rand::random::<[u8; 32]>());
                let body = serde_json::json!({ "agent_id": id }).to_string();
                let (o, v) = judge(self.post("/v1/nonces", body).await, false).await;
                stats.note(a, &format!("nonce_{o}"), v);
                let req = self.garbage_request(&id, "ab".repeat(32));
                self.attest_json(&req, stats, a).await;
            }
            Attack::GarbageEvidence => {
                let id = format!("snp:hostile-{}", self.id);
                match self.nonce_for(&id).await {
                    Some(n) => {
                        self.attest_json(&self.garbage_request(&id, n), stats, a)
                            .await
                    }
                    None => stats.note(a, "nonce_refused", None),
                }
            }
            Attack::ReplayedRequest => match self.replay.get() {
                Some(req) => self.attest_json(&req, stats, a).await,
                None => stats.note(a, "nothing_to_replay_yet", None),
            },
            Attack::OversizedBody => {
                let mut body = vec![b' '; MAX_BODY + 1];
                if let Some(first) = body.first_mut() {
                    *first = b'{';
                }
                let r = self
                    .client
                    .post(format!("{}/v1/attest", self.base))
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                let (o, v) = judge(r, true).await;
                stats.note(a, &o, v);
            }
            Attack::MalformedJson => {
                let body = "{\"agent_id\": \"snp:x\", \"nonce\": [1, 2".to_string();
                let (o, v) = judge(self.post("/v1/attest", body).await, true).await;
                stats.note(a, &o, v);
            }
            Attack::BadAgentId => {
                for id in [
                    "snp:\u{1b}[31mred\nforged log line".to_string(),
                    format!("snp:{}", "x".repeat(MAX_ID)),
                ] {
                    let body = serde_json::json!({ "agent_id": id }).to_string();
                    let (o, v) = judge(self.post("/v1/nonces", body).await, false).await;
                    stats.note(a, &o, v);
                }
            }
        }
    }

    /// Cycles through [`Attack::ALL`], at most `rps` requests a second,
    /// until the run stops.
    pub async fn run(self, rps: f64, stop: &Stop) -> HostileStats {
        let mut stats = HostileStats::default();
        let period = Duration::from_secs_f64(1.0 / rps.clamp(0.01, 1000.0));
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut i = self.id;
        while !stop.stopped() {
            tick.tick().await;
            if stop.stopped() {
                break;
            }
            let a = Attack::ALL
                .get(i % Attack::ALL.len())
                .copied()
                .unwrap_or(Attack::MalformedJson);
            i = i.wrapping_add(1);
            self.attack(a, &mut stats).await;
        }
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealbuild_common::api::bounds::Bounded;

    #[test]
    fn the_maximal_request_is_within_every_bound_and_the_body_limit() {
        let r = maximal_request();
        r.check_bounds().unwrap();
        let body = serde_json::to_string(&r).unwrap();
        assert!(body.len() < MAX_BODY, "{}", body.len());
        assert!(body.len() > 150_000, "{}", body.len());
        let mut over = r.clone();
        over.agent_id.push('h');
        assert!(over.check_bounds().is_err());
    }

    #[test]
    fn stats_count_violations() {
        let mut s = HostileStats::default();
        s.note(Attack::MalformedJson, "400", None);
        s.note(Attack::ReplayedRequest, "200_key", Some("1 key".into()));
        let mut t = HostileStats::default();
        t.merge(s.clone());
        t.merge(s);
        assert_eq!(t.requests(), 4);
        assert_eq!(t.violations, 2);
        assert_eq!(t.by_attack["malformed_json"].get("400"), 2);
        assert_eq!(t.examples.len(), 2);
    }
}
