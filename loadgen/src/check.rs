//! The crash test's verdict: every key an agent received (the `--record`
//! file) has its release entry in the verifier's audit log, no key was
//! released twice for one nonce (in the audit log and in the record), and
//! the SQLite database passes `PRAGMA integrity_check`.
//!
//! The audit log is read as `sealbuild-verifier audit list` prints it (one
//! JSON entry per line). An appraisal entry names the agent, the SHA-256 of
//! the evidence and of the EAR (`result_digest`); a release entry names the
//! key, the recipient, the same `result_digest` and the appraisal's seq. The
//! record has, per key received, the nonce, the evidence digest and the
//! result digest, so:
//!
//! * a received key is found by (`result_digest`, `key_id`) among the
//!   releases, and its appraisal must be accepted, for the same agent and
//!   the same evidence;
//! * the evidence carries the nonce (REPORT_DATA binds it), and a resent
//!   request carries the same evidence: one evidence digest granting keys in
//!   two appraisals is one nonce released twice; so is one nonce (through
//!   the record's evidence digests) in two releases of a key;
//! * releases without a record line are keys sealed for an answer that the
//!   kill cut off: counted, not an error (the agent never had them).

use crate::record::KeyRecord;
use sealbuild_common::api::Verdict;
use sealbuild_verifier::audit::{AppraisalBody, AuditEntryJson, ReleaseBody};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Problems kept in a report (the rest are counted).
const MAX_PROBLEMS_SHOWN: usize = 20;

/// Why the inputs of the check could not be read.
#[derive(Debug, Error)]
pub enum CheckError {
    /// File I/O.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// An audit line is not an entry.
    #[error("audit {path} line {line}: {reason}")]
    Audit {
        /// The file.
        path: PathBuf,
        /// Line number (from 1).
        line: usize,
        /// The parser's complaint.
        reason: String,
    },
    /// SQLite could not open or check the database.
    #[error("database {path}: {reason}")]
    Database {
        /// The file.
        path: PathBuf,
        /// SQLite's message.
        reason: String,
    },
    /// The audit log could not be read from PostgreSQL.
    #[error("audit log in PostgreSQL: {0}")]
    Postgres(#[from] sealbuild_verifier::store::StoreError),
}

/// What the check found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CheckReport {
    /// Keys the record says agents received.
    pub records: usize,
    /// Audit entries read.
    pub audit_entries: usize,
    /// Accepted appraisal entries.
    pub accepted_appraisals: usize,
    /// Release entries.
    pub releases: usize,
    /// Record lines whose release entry was found.
    pub records_matched: usize,
    /// Releases no agent recorded (answers lost when the verifier was killed).
    pub released_not_received: usize,
    /// Record lines for requests that were sent again after the verifier went away.
    pub records_resent: usize,
    /// Unix time of the newest record line.
    pub latest_record_time: Option<f64>,
    /// `PRAGMA integrity_check`'s answer, when a database was checked.
    pub integrity: Option<String>,
    /// How many problems were found.
    pub problem_count: usize,
    /// The first problems, in words.
    pub problems: Vec<String>,
}

impl CheckReport {
    fn problem(&mut self, p: String) {
        self.problem_count += 1;
        if self.problems.len() < MAX_PROBLEMS_SHOWN {
            self.problems.push(p);
        }
    }

    /// No problem, and the database (if checked) is ok.
    pub fn passed(&self) -> bool {
        self.problem_count == 0 && self.integrity.as_deref().is_none_or(|i| i == "ok")
    }
}

/// Reads `sealbuild-verifier audit list` output: one JSON entry a line (a
/// JSON array, as `--json` prints, is read too).
pub fn read_audit(path: &Path) -> Result<Vec<AuditEntryJson>, CheckError> {
    let text = std::fs::read_to_string(path).map_err(|source| CheckError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let err = |line: usize, e: serde_json::Error| CheckError::Audit {
        path: path.to_path_buf(),
        line,
        reason: e.to_string(),
    };
    if text.trim_start().starts_with('[') {
        return serde_json::from_str(&text).map_err(|e| err(1, e));
    }
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        if !l.trim().is_empty() {
            out.push(serde_json::from_str(l).map_err(|e| err(i + 1, e))?);
        }
    }
    Ok(out)
}

/// The whole audit log of the PostgreSQL database at `url` (a replicas'
/// shared store), read through the verifier's own store code
/// ([`sealbuild_verifier::store::PgStore`], page by page, as `audit list`
/// does); `ca_file` as the verifier's `database_ca_file`.
pub fn read_audit_postgres(
    url: &str,
    ca_file: Option<&Path>,
) -> Result<Vec<AuditEntryJson>, CheckError> {
    use sealbuild_verifier::store::{PgOptions, PgStore, Store, MAX_AUDIT_PAGE};
    let store = PgStore::connect(
        url,
        PgOptions {
            ca_file: ca_file.map(Path::to_path_buf),
            ..PgOptions::default()
        },
    )?;
    let mut out = Vec::new();
    let mut from = 0;
    loop {
        let page = store.audit_entries(from, MAX_AUDIT_PAGE)?;
        let Some(last) = page.last() else { break };
        from = last.seq.saturating_add(1);
        out.extend(page.iter().map(|e| e.to_json()));
    }
    Ok(out)
}

/// Runs `PRAGMA integrity_check` on the database file (which must exist)
/// and returns its answer (`ok` when sound).
pub fn integrity_check(db: &Path) -> Result<String, CheckError> {
    let err = |e: rusqlite::Error| CheckError::Database {
        path: db.to_path_buf(),
        reason: e.to_string(),
    };
    // Read-write without create: a database left with a WAL by a kill is
    // recovered the way the verifier would, and a missing file is an error.
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)
            .map_err(err)?;
    let mut stmt = conn.prepare("PRAGMA integrity_check").map_err(err)?;
    let rows = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    Ok(rows.join("; "))
}

/// The audit log's appraisals (by seq) and releases.
struct AuditIndex {
    appraisals: HashMap<u64, AppraisalBody>,
    releases: Vec<(u64, ReleaseBody)>,
}

fn index_audit(entries: &[AuditEntryJson], report: &mut CheckReport) -> AuditIndex {
    let mut ix = AuditIndex {
        appraisals: HashMap::new(),
        releases: Vec::new(),
    };
    for e in entries {
        match e.kind.as_str() {
            "appraisal" => match serde_json::from_value::<AppraisalBody>(e.body.clone()) {
                Ok(b) => {
                    ix.appraisals.insert(e.seq, b);
                }
                Err(err) => report.problem(format!("audit {}: appraisal body: {err}", e.seq)),
            },
            "release" => match serde_json::from_value::<ReleaseBody>(e.body.clone()) {
                Ok(b) => ix.releases.push((e.seq, b)),
                Err(err) => report.problem(format!("audit {}: release body: {err}", e.seq)),
            },
            _ => {}
        }
    }
    report.audit_entries = entries.len();
    report.releases = ix.releases.len();
    report.accepted_appraisals = ix
        .appraisals
        .values()
        .filter(|a| a.verdict == Verdict::Accepted)
        .count();
    ix
}

/// Each release must point at an accepted appraisal of the same agent and
/// EAR; no (EAR, key) twice; no evidence granting keys twice.
fn check_releases(ix: &AuditIndex, report: &mut CheckReport) {
    let mut by_result_key: BTreeMap<(String, &str), Vec<u64>> = BTreeMap::new();
    let mut granting_by_evidence: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for (seq, r) in &ix.releases {
        let result = hex::encode(r.result_digest);
        by_result_key
            .entry((result.clone(), r.key_id.as_str()))
            .or_default()
            .push(*seq);
        let Some(a) = ix.appraisals.get(&r.appraisal_seq) else {
            report.problem(format!(
                "audit {seq}: release of {} names appraisal {} which is not an appraisal entry",
                r.key_id, r.appraisal_seq
            ));
            continue;
        };
        if a.verdict != Verdict::Accepted
            || a.result_digest != result
            || a.agent_id != r.recipient.agent_id
        {
            report.problem(format!(
                "audit {seq}: release of {} to {} does not match appraisal {} ({:?}, {} for {})",
                r.key_id,
                r.recipient.agent_id,
                r.appraisal_seq,
                a.verdict,
                a.result_digest,
                a.agent_id
            ));
        }
        let seqs = granting_by_evidence
            .entry(a.evidence_digest.as_str())
            .or_default();
        if !seqs.contains(&r.appraisal_seq) {
            seqs.push(r.appraisal_seq);
        }
    }
    for ((result, key), seqs) in &by_result_key {
        if seqs.len() > 1 {
            report.problem(format!(
                "key {key} released {} times for the EAR {result} (audit {seqs:?})",
                seqs.len()
            ));
        }
    }
    for (evidence, seqs) in &granting_by_evidence {
        if seqs.len() > 1 {
            report.problem(format!(
                "the same evidence {evidence} (so the same nonce) was granted keys by {} appraisals (audit {seqs:?})",
                seqs.len()
            ));
        }
    }
}

/// Compares the record with the audit log; see the module documentation.
pub fn check(records: &[KeyRecord], entries: &[AuditEntryJson]) -> CheckReport {
    let mut report = CheckReport {
        records: records.len(),
        records_resent: records.iter().filter(|r| r.resent).count(),
        latest_record_time: records.iter().map(|r| r.time).reduce(f64::max),
        ..CheckReport::default()
    };
    let ix = index_audit(entries, &mut report);
    check_releases(&ix, &mut report);

    let mut releases: HashMap<(String, &str), &(u64, ReleaseBody)> = HashMap::new();
    for rel in &ix.releases {
        releases.insert(
            (hex::encode(rel.1.result_digest), rel.1.key_id.as_str()),
            rel,
        );
    }
    // One nonce → one evidence digest (the record's pairs), and one nonce
    // received a key once.
    let mut nonce_of_evidence: HashMap<&str, &str> = HashMap::new();
    let mut received: HashMap<(&str, &str), usize> = HashMap::new();
    for r in records {
        *received
            .entry((r.nonce.as_str(), r.key_id.as_str()))
            .or_default() += 1;
        if let Some(other) = nonce_of_evidence.insert(&r.evidence_digest, &r.nonce) {
            if other != r.nonce {
                report.problem(format!(
                    "record: evidence {} is recorded for two nonces {other} and {}",
                    r.evidence_digest, r.nonce
                ));
            }
        }
        let Some((seq, rel)) = releases.get(&(r.result_digest.clone(), r.key_id.as_str())) else {
            report.problem(format!(
                "{} received key {} for nonce {} (EAR {}) but the audit log has no release entry for it",
                r.agent_id, r.key_id, r.nonce, r.result_digest
            ));
            continue;
        };
        match ix.appraisals.get(&rel.appraisal_seq) {
            Some(a) if a.evidence_digest == r.evidence_digest && a.agent_id == r.agent_id => {
                report.records_matched += 1;
            }
            _ => report.problem(format!(
                "audit {seq}: the release of {} for nonce {} comes from an appraisal of other evidence or another agent",
                r.key_id, r.nonce
            )),
        }
    }
    for ((nonce, key), n) in &received {
        if *n > 1 {
            report.problem(format!(
                "record: key {key} received {n} times for nonce {nonce}"
            ));
        }
    }
    // Releases per (nonce, key) in the audit log, for the nonces the record knows.
    let mut released: HashMap<(&str, &str), usize> = HashMap::new();
    for (_, rel) in &ix.releases {
        let nonce = ix
            .appraisals
            .get(&rel.appraisal_seq)
            .and_then(|a| nonce_of_evidence.get(a.evidence_digest.as_str()));
        if let Some(nonce) = nonce {
            *released.entry((nonce, rel.key_id.as_str())).or_default() += 1;
        }
    }
    for ((nonce, key), n) in &released {
        if *n > 1 {
            report.problem(format!(
                "audit: key {key} released {n} times for nonce {nonce}"
            ));
        }
    }
    report.released_not_received = ix.releases.len().saturating_sub(report.records_matched);
    report
}

#[cfg(test)]
#[path = "check_tests.rs"]
mod tests;
