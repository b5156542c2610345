//! Refusals of unknown identities, aggregated: what an unauthenticated
//! caller can make the audit log store does not grow with the number of its
//! requests or addresses.
//!
//! ## Which decisions are audited one by one
//!
//! Every decision that concerns a registered agent or a key has its own
//! audit entry: an acceptance, a release, and a rejection that names a
//! registered agent (pending or active) or whose evidence verified up to a
//! hardware root (a real TEE whose measurements the policy refused). Those
//! rejections are limited per agent id
//! ([`RefusalLog::admit_agent_rejection`]: a burst of
//! [`AGENT_REJECTION_BURST`], then one per [`AGENT_REJECTION_EVERY_SECS`]),
//! since anyone can name a registered agent in a request; beyond that they
//! are counted here with the agent's id (the busiest [`TOP_SOURCES`] agents
//! are named in the aggregate entry), so no decision about a registered
//! agent goes unrecorded and none can be used to flood the log.
//!
//! Everything else (unknown agent ids, evidence that does not parse or does
//! not verify, nonces never issued, refused registrations) proves nothing
//! about who sent it. Those refusals are counted per source address and per
//! check in memory and written as **one** `notice` entry ("refusals
//! aggregated") per interval ([`crate::config::Config::audit_refusal_interval_secs`],
//! default 60 s), and only when there was one. The entry is bounded: at most
//! [`MAX_CHECKS`] check names, the [`TOP_SOURCES`] busiest sources, and
//! totals for the rest ([`MAX_NOTICE_BYTES`] at most). So unauthenticated
//! refusals grow the audit log by at most one entry of at most
//! `MAX_NOTICE_BYTES` (+ the entry's fixed fields) per interval: at most
//! 8 KiB a minute (12 MiB a day) at the default interval, whatever the
//! request rate and however many addresses the requests come from.
//!
//! Counts of the interval in progress live in memory: a crash loses at most
//! one interval's counts (never an individual decision about a registered
//! agent or a key); a graceful stop writes them.
//!
//! Time is passed in (Unix seconds), so this is tested with a fixed clock.

use crate::audit::{NoticeBody, NoticeRecord};
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Mutex;

/// Distinct check names counted per interval (more are counted as "other").
pub const MAX_CHECKS: usize = 32;
/// Busiest sources named in an aggregate entry.
pub const TOP_SOURCES: usize = 16;
/// Distinct sources tracked per interval (more are counted as "untracked").
pub const MAX_TRACKED_SOURCES: usize = 65_536;
/// Rejections naming one registered agent audited one by one in a burst.
pub const AGENT_REJECTION_BURST: f64 = 10.0;
/// Then one every this many seconds.
pub const AGENT_REJECTION_EVERY_SECS: f64 = 6.0;
/// Agent ids whose rejection budget is tracked (full budgets are dropped first).
pub const MAX_TRACKED_AGENTS: usize = 65_536;
/// Registered agents counted per interval (more are counted as "untracked").
pub const MAX_TRACKED_AGENTS_PER_WINDOW: usize = 4096;
/// Upper bound of an aggregate entry's body in bytes (checked in tests).
pub const MAX_NOTICE_BYTES: usize = 8192;
/// Longest check name kept (ours are short; longer are cut).
const MAX_CHECK_NAME: usize = 48;

#[derive(Debug, Default)]
struct Window {
    start: u64,
    total: u64,
    by_check: BTreeMap<String, u64>,
    other_checks: u64,
    by_source: HashMap<IpAddr, u64>,
    untracked_sources: u64,
    by_agent: HashMap<String, u64>,
    untracked_agents: u64,
}

#[derive(Debug, Clone, Copy)]
struct Budget {
    tokens: f64,
    at: u64,
}

/// The in-memory aggregate of one verifier process.
#[derive(Debug, Default)]
pub struct RefusalLog {
    window: Mutex<Window>,
    agents: Mutex<HashMap<String, Budget>>,
}

impl RefusalLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one aggregated refusal from `source` for `check` at `now`;
    /// `agent` names the registered agent (or verified TEE) it concerned,
    /// when it concerned one beyond its per-agent budget.
    pub fn record(&self, source: Option<IpAddr>, check: &str, agent: Option<&str>, now: u64) {
        let Ok(mut w) = self.window.lock() else {
            return;
        };
        if w.total == 0 {
            w.start = now;
        }
        w.total = w.total.saturating_add(1);
        let check: String = check.chars().take(MAX_CHECK_NAME).collect();
        if w.by_check.contains_key(&check) || w.by_check.len() < MAX_CHECKS {
            *w.by_check.entry(check).or_default() += 1;
        } else {
            w.other_checks += 1;
        }
        match source {
            Some(ip)
                if w.by_source.contains_key(&ip) || w.by_source.len() < MAX_TRACKED_SOURCES =>
            {
                *w.by_source.entry(ip).or_default() += 1;
            }
            _ => w.untracked_sources += 1,
        }
        if let Some(a) = agent {
            if w.by_agent.contains_key(a) || w.by_agent.len() < MAX_TRACKED_AGENTS_PER_WINDOW {
                *w.by_agent.entry(a.to_string()).or_default() += 1;
            } else {
                w.untracked_agents += 1;
            }
        }
    }

    /// Whether a rejection naming the registered agent `agent_id` gets its
    /// own audit entry at `now` (a token bucket per agent id).
    pub fn admit_agent_rejection(&self, agent_id: &str, now: u64) -> bool {
        let Ok(mut agents) = self.agents.lock() else {
            return true;
        };
        let refill = |b: &Budget| {
            let dt = now.saturating_sub(b.at) as f64;
            (b.tokens + dt / AGENT_REJECTION_EVERY_SECS).min(AGENT_REJECTION_BURST)
        };
        if !agents.contains_key(agent_id) && agents.len() >= MAX_TRACKED_AGENTS {
            agents.retain(|_, b| refill(b) < AGENT_REJECTION_BURST);
            if agents.len() >= MAX_TRACKED_AGENTS {
                return false;
            }
        }
        let b = agents.entry(agent_id.to_string()).or_insert(Budget {
            tokens: AGENT_REJECTION_BURST,
            at: now,
        });
        b.tokens = refill(b);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Refusals counted and not yet written.
    pub fn pending(&self) -> u64 {
        self.window.lock().map(|w| w.total).unwrap_or(0)
    }

    /// The aggregate entry of the counts so far (which are then reset), or
    /// `None` when nothing was refused since the last one.
    pub fn take_notice(&self, now: u64) -> Option<NoticeRecord> {
        let w = {
            let mut guard = self.window.lock().ok()?;
            if guard.total == 0 {
                return None;
            }
            std::mem::take(&mut *guard)
        };
        let mut sources: Vec<(IpAddr, u64)> = w.by_source.into_iter().collect();
        sources.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let distinct = sources.len();
        let top: Vec<serde_json::Value> = sources
            .iter()
            .take(TOP_SOURCES)
            .map(|(ip, n)| serde_json::json!({"source": ip.to_string(), "refusals": n}))
            .collect();
        let rest: u64 = sources.iter().skip(TOP_SOURCES).map(|(_, n)| n).sum();
        let mut agents: Vec<(String, u64)> = w.by_agent.into_iter().collect();
        agents.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let top_agents: Vec<serde_json::Value> = agents
            .iter()
            .take(TOP_SOURCES)
            .map(|(a, n)| serde_json::json!({"agent_id": a, "refusals": n}))
            .collect();
        let other_agents: u64 =
            agents.iter().skip(TOP_SOURCES).map(|(_, n)| n).sum::<u64>() + w.untracked_agents;
        let mut by_check = serde_json::Map::new();
        for (check, n) in &w.by_check {
            by_check.insert(check.clone(), serde_json::json!(n));
        }
        if w.other_checks > 0 {
            by_check.insert("other".into(), serde_json::json!(w.other_checks));
        }
        Some(NoticeRecord {
            time: now,
            body: NoticeBody {
                message: "refusals aggregated".into(),
                details: serde_json::json!({
                    "from": w.start,
                    "to": now,
                    "total": w.total,
                    "by_check": by_check,
                    "distinct_sources": distinct,
                    "top_sources": top,
                    "other_sources_refusals": rest,
                    "untracked_sources_refusals": w.untracked_sources,
                    "registered_agents": top_agents,
                    "other_registered_agents_refusals": other_agents,
                }),
            },
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_aggregated_into_one_bounded_entry() {
        let log = RefusalLog::new();
        assert!(log.take_notice(10).is_none());
        // Many sources, many checks, long check names.
        for i in 0..100_000u32 {
            let ip = IpAddr::from((i % 70_000).to_be_bytes());
            let check = format!("check-{}-{}", i % 50, "x".repeat(200));
            let agent = format!(
                "{}{i}",
                "a".repeat(sealbuild_common::api::bounds::MAX_ID - 6)
            );
            log.record(Some(ip), &check, Some(&agent), 5);
        }
        log.record(None, "agent", None, 6);
        assert_eq!(log.pending(), 100_001);
        let n = log.take_notice(65).unwrap();
        let body = serde_json::to_string(&n.body).unwrap();
        assert!(
            body.len() <= MAX_NOTICE_BYTES,
            "{} bytes: {body}",
            body.len()
        );
        let d = &n.body.details;
        assert_eq!(d["total"], 100_001);
        assert_eq!(d["from"], 5);
        assert_eq!(d["to"], 65);
        assert_eq!(d["top_sources"].as_array().unwrap().len(), TOP_SOURCES);
        assert_eq!(d["distinct_sources"], MAX_TRACKED_SOURCES);
        let checks = d["by_check"].as_object().unwrap();
        assert_eq!(checks.len(), MAX_CHECKS + 1);
        let counted: u64 = checks.values().map(|v| v.as_u64().unwrap()).sum();
        assert_eq!(counted, 100_001);
        let by_source: u64 = d["top_sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["refusals"].as_u64().unwrap())
            .sum::<u64>()
            + d["other_sources_refusals"].as_u64().unwrap()
            + d["untracked_sources_refusals"].as_u64().unwrap();
        assert_eq!(by_source, 100_001);
        assert_eq!(
            d["registered_agents"].as_array().unwrap().len(),
            TOP_SOURCES
        );
        // Reset after writing.
        assert_eq!(log.pending(), 0);
        assert!(log.take_notice(70).is_none());
    }

    #[test]
    fn rejections_naming_an_agent_are_limited_per_agent() {
        let log = RefusalLog::new();
        let admitted = (0..100)
            .filter(|_| log.admit_agent_rejection("a1", 0))
            .count();
        assert_eq!(admitted, AGENT_REJECTION_BURST as usize);
        // Another agent has its own budget.
        assert!(log.admit_agent_rejection("a2", 0));
        // One more after AGENT_REJECTION_EVERY_SECS.
        assert!(!log.admit_agent_rejection("a1", 1));
        assert!(log.admit_agent_rejection("a1", AGENT_REJECTION_EVERY_SECS as u64));
        assert!(!log.admit_agent_rejection("a1", AGENT_REJECTION_EVERY_SECS as u64));
    }
}
