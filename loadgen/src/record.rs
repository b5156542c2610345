//! `--record FILE`: one JSON line per key an agent received and opened,
//! written as it happens, so that the crash test can look each one up in
//! the verifier's audit log afterwards.

use serde::{Deserialize, Serialize};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use thiserror::Error;

/// One key an agent received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRecord {
    /// The agent (`snp:<label>`).
    pub agent_id: String,
    /// The nonce its evidence answered (hex).
    pub nonce: String,
    /// The key released.
    pub key_id: String,
    /// SHA-256 of the EAR it came with (hex): the audit entries' `result_digest`.
    pub result_digest: String,
    /// SHA-256 of the evidence JSON sent (hex): the appraisal entry's
    /// `evidence_digest`. The evidence binds the nonce, so one nonce has
    /// one evidence digest.
    pub evidence_digest: String,
    /// Unix time (seconds) the key was opened.
    pub time: f64,
    /// Whether the request had to be sent again after the verifier went
    /// away (the same nonce and evidence).
    pub resent: bool,
}

/// Why the record could not be written or read.
#[derive(Debug, Error)]
pub enum RecordError {
    /// File I/O.
    #[error("record {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A line is not a [`KeyRecord`].
    #[error("record {path} line {line}: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Line number (from 1).
        line: usize,
        /// The parser's complaint.
        reason: String,
    },
    /// Another writer panicked while holding the file.
    #[error("record {0}: a writer failed while holding it")]
    Poisoned(PathBuf),
}

/// Appends [`KeyRecord`]s, one `write` per line (a line is in the file
/// once [`Recorder::write`] returns, whatever happens to the verifier).
#[derive(Debug)]
pub struct Recorder {
    path: PathBuf,
    file: Mutex<std::fs::File>,
}

impl Recorder {
    /// Creates (truncates) `path`.
    pub fn create(path: &Path) -> Result<Self, RecordError> {
        let file = std::fs::File::create(path).map_err(|source| RecordError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }

    /// Appends one line.
    pub fn write(&self, rec: &KeyRecord) -> Result<(), RecordError> {
        let mut line = serde_json::to_vec(rec).map_err(|e| RecordError::Io {
            path: self.path.clone(),
            source: std::io::Error::other(e),
        })?;
        line.push(b'\n');
        let mut f = self
            .file
            .lock()
            .map_err(|_| RecordError::Poisoned(self.path.clone()))?;
        f.write_all(&line).map_err(|source| RecordError::Io {
            path: self.path.clone(),
            source,
        })
    }
}

/// Every line of a record file (empty lines skipped).
pub fn read_records(path: &Path) -> Result<Vec<KeyRecord>, RecordError> {
    let text = std::fs::read_to_string(path).map_err(|source| RecordError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        out.push(serde_json::from_str(l).map_err(|e| RecordError::Parse {
            path: path.to_path_buf(),
            line: i + 1,
            reason: e.to_string(),
        })?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.jsonl");
        let r = Recorder::create(&p).unwrap();
        let rec = KeyRecord {
            agent_id: "snp:load-1".into(),
            nonce: "ab".repeat(32),
            key_id: "loadgen".into(),
            result_digest: "cd".repeat(32),
            evidence_digest: "ef".repeat(32),
            time: 1.5,
            resent: false,
        };
        r.write(&rec).unwrap();
        r.write(&rec).unwrap();
        assert_eq!(read_records(&p).unwrap(), vec![rec.clone(), rec]);
        std::fs::write(&p, "{\"agent_id\":1}\n").unwrap();
        assert!(matches!(
            read_records(&p),
            Err(RecordError::Parse { line: 1, .. })
        ));
    }
}
