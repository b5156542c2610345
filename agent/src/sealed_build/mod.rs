//! A sealed build, as library steps over any [`EvidenceCollector`]
//! (`sealbuild-agent build` is thin glue around [`SealedBuild::run`]):
//!
//! 1. [`SealedBuild::new`]: the request is checked (a command, a new or
//!    empty output directory) before anything runs.
//! 2. [`preflight`]: a plain attestation that requests no key. An untrusted
//!    machine fails in seconds, before the build runs; its EAR names the
//!    reference sets the builder matched (the provenance's `builder.id`), and
//!    its digest is a `byproducts` entry.
//! 3. [`begin_runtime_log`]: the source identity and the command are
//!    measured (TPM: PCR 23 reset and extended, each event in a TCG
//!    Canonical Event Log; SEV-SNP: nothing).
//! 4. [`run_command`]: the command runs with inherited stdio; a failure ends
//!    the build with its exit code, no attestation and no key.
//! 5. [`hash_outputs`]: the outputs are copied into `OUT/artifacts/` and the
//!    copies hashed (parallel, streaming SHA-256), so a process the build
//!    left running cannot change what was hashed.
//! 6. [`statement::statement`]: an in-toto Statement v1 with SLSA
//!    Provenance v1.
//! 7. [`attest_and_release`]: the statement digest ends the runtime log, is
//!    bound into the evidence, and the statement is sent with a request for
//!    exactly the build key; the verifier applies its statement policy and
//!    releases the key sealed to the ephemeral key.
//! 8. [`write_evidence`]: `OUT/evidence/` gets everything sent
//!    (attest-request.json, which `verify bundle --evidence` re-checks), both
//!    EARs and the platform's raw evidence
//!    ([`EvidenceCollector::write_evidence`]), whatever the verdict.
//! 9. [`sign`] and [`write_envelope`]: the statement is signed as a DSSE
//!    envelope with the released key, which is zeroized right after;
//!    `OUT/<name>.intoto.jsonl` and `OUT/signing-key.pub.pem` are written.

pub mod statement;

use crate::build::{self, BuildRun, HashedArtifact, SourceIdentity};
use crate::client::VerifierClient;
use crate::evidence::{write_evidence_file, AgentError, EvidenceCollector};
use crate::flow::{self, Attested, FlowError};
use sealbuild_common::api::{AttestRequest, Reason, Verdict};
use sealbuild_common::cel::{RuntimeEvent, RuntimeEventKind};
use sealbuild_common::dsse::{DsseSigner, Envelope, PAYLOAD_TYPE_INTOTO};
use sealbuild_common::ear::Ear;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub use statement::{PreparedStatement, StatementInput};

/// Where the flow reports progress (the CLI prints each line to stderr).
pub type Progress<'a> = &'a (dyn Fn(&str) + Sync);

/// What to build and where to put the bundle: the arguments of
/// `sealbuild-agent build`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildRequest {
    /// The signing key to request from the verifier.
    pub key: String,
    /// Output directory (new or empty).
    pub out: PathBuf,
    /// The source tree the command builds (its working directory).
    pub source: PathBuf,
    /// Output files: globs relative to the source tree.
    pub artifacts: Vec<String>,
    /// Environment variables to record in the provenance.
    pub env: Vec<String>,
    /// Name of the envelope file (`<name>.intoto.jsonl`); default: the
    /// source directory's name.
    pub name: Option<String>,
    /// The build command.
    pub command: Vec<String>,
}

/// How a sealed build ended (errors aside).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The verifier does not trust this machine: the build did not run.
    Untrusted {
        /// The verifier's reasons.
        reasons: Vec<Reason>,
    },
    /// The build command failed: no attestation, no key.
    BuildFailed {
        /// Its exit code (128 + N for signal N).
        exit_code: i32,
    },
    /// The verifier refused to release the key; `OUT/evidence/` says why.
    Refused {
        /// The verifier's reasons.
        reasons: Vec<Reason>,
    },
    /// The statement is signed and the bundle complete.
    Signed(Signed),
}

impl Outcome {
    /// The process exit code: 0 signed, 1 untrusted or refused, the
    /// command's own code when it failed.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Signed(_) => 0,
            Self::Untrusted { .. } | Self::Refused { .. } => 1,
            Self::BuildFailed { exit_code } => *exit_code,
        }
    }
}

/// A complete bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The bundle directory (absolute).
    pub bundle: PathBuf,
    /// `bundle/<name>.intoto.jsonl`.
    pub envelope: PathBuf,
    /// Number of artefacts (statement subjects).
    pub artifacts: usize,
    /// SHA-256 of the statement.
    pub statement_digest: [u8; 32],
    /// The key that signed.
    pub key_id: String,
    /// SHA-256 (hex) of its SPKI.
    pub fingerprint: String,
}

/// A checked [`BuildRequest`], ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedBuild {
    request: BuildRequest,
    out: PathBuf,
    source_dir: PathBuf,
}

fn sealed(step: &'static str, reason: impl std::fmt::Display) -> AgentError {
    AgentError::SealedBuild {
        step,
        reason: reason.to_string(),
    }
}

impl SealedBuild {
    /// Checks `request`: a build command is given and the output directory
    /// is new or empty; paths are made absolute.
    pub fn new(request: BuildRequest) -> Result<Self, AgentError> {
        if request.command.is_empty() {
            return Err(build::BuildError::EmptyCommand.into());
        }
        let out_dir = &request.out;
        let not_empty = match std::fs::read_dir(out_dir) {
            Ok(mut entries) => entries.next().is_some(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(source) => {
                return Err(AgentError::OutputIo {
                    path: out_dir.clone(),
                    source,
                })
            }
        };
        if not_empty {
            return Err(sealed(
                "output directory",
                format!(
                    "{} is not empty; give a new or empty output directory",
                    out_dir.display()
                ),
            ));
        }
        let absolute = |p: &Path| {
            std::path::absolute(p).map_err(|source| AgentError::OutputIo {
                path: p.to_path_buf(),
                source,
            })
        };
        Ok(Self {
            out: absolute(&request.out)?,
            source_dir: absolute(&request.source)?,
            request,
        })
    }

    /// The output directory (absolute).
    pub fn out(&self) -> &Path {
        &self.out
    }

    /// The source directory (absolute).
    pub fn source_dir(&self) -> &Path {
        &self.source_dir
    }

    /// The envelope's base name.
    pub fn name(&self) -> String {
        self.request.name.clone().unwrap_or_else(|| {
            self.source_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "build".into())
        })
    }

    /// Runs the whole sealed build with `collector` against `client`.
    pub async fn run(
        &self,
        client: &VerifierClient,
        collector: &mut dyn EvidenceCollector,
        progress: Progress<'_>,
    ) -> Result<Outcome, FlowError> {
        let r = &self.request;
        let agent_id = collector
            .agent_id()
            .ok_or_else(|| AgentError::CollectorState {
                platform: collector.platform(),
                reason: "no agent id: register first (sealbuild-agent register)".into(),
            })?;
        let started_on = SystemTime::now();
        let mut invocation = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut invocation);

        progress("preflight attestation of this machine");
        progress(&collector.evidence_source());
        let pre = preflight(client, collector, &agent_id).await?;
        if pre.verdict != Verdict::Accepted {
            return Ok(Outcome::Untrusted {
                reasons: pre.reasons,
            });
        }

        let identity = build::source::identify(&self.source_dir, std::slice::from_ref(&self.out))
            .map_err(AgentError::from)?;
        begin_runtime_log(collector, &identity, &r.command)?;

        progress(&format!(
            "running {:?} in {}",
            r.command,
            self.source_dir.display()
        ));
        let run = run_command(&r.command, &self.source_dir).await?;
        if !run.success() {
            return Ok(Outcome::BuildFailed {
                exit_code: run.exit_code,
            });
        }

        let hashed = hash_outputs(&self.source_dir, &r.artifacts, &self.out)?;
        let prepared = statement::statement(&StatementInput {
            source: &identity,
            command: &r.command,
            artifact_globs: &r.artifacts,
            environment: &build::run::selected_env(&r.env),
            platform: collector.platform(),
            platform_parameters: &collector.build_parameters(),
            references: &pre.references,
            preflight_ear: &pre.ear,
            invocation_id: &hex::encode(invocation),
            started_on,
            finished_on: run.finished_on,
            subjects: &hashed,
        });

        let (attested, sent) =
            attest_and_release(client, collector, &agent_id, &prepared, &r.key).await?;
        write_evidence(&self.out, collector, &pre.ear, &attested, &sent)?;
        if attested.response.verdict != Verdict::Accepted {
            return Ok(Outcome::Refused {
                reasons: attested.response.reasons.clone(),
            });
        }
        let signature = sign(attested, &r.key, &prepared.payload)?;
        let envelope = write_envelope(&self.out, &self.name(), &signature)?;
        Ok(Outcome::Signed(Signed {
            bundle: self.out.clone(),
            envelope,
            artifacts: hashed.len(),
            statement_digest: prepared.digest,
            key_id: r.key.clone(),
            fingerprint: signature.fingerprint,
        }))
    }
}

/// What the preflight attestation established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preflight {
    /// The verifier's verdict.
    pub verdict: Verdict,
    /// Its reasons.
    pub reasons: Vec<Reason>,
    /// The EAR (COSE_Sign1).
    pub ear: Vec<u8>,
    /// The reference sets the EAR names (not verified here: the agent only
    /// names itself with them; relying parties verify the EAR).
    pub references: Vec<String>,
}

/// Step 2: attests without a statement, asking for no key.
pub async fn preflight(
    client: &VerifierClient,
    collector: &mut dyn EvidenceCollector,
    agent_id: &str,
) -> Result<Preflight, FlowError> {
    let pre = flow::attest_with(client, collector, agent_id, None, |r| {
        r.keys = Some(Vec::new());
    })
    .await?;
    let references = Ear::from_cose_unverified(&pre.response.ear)
        .map(|ear| ear.references())
        .unwrap_or_default();
    Ok(Preflight {
        verdict: pre.response.verdict,
        reasons: pre.response.reasons,
        ear: pre.response.ear,
        references,
    })
}

/// Step 3: measures the source identity, then the command.
pub fn begin_runtime_log(
    collector: &mut dyn EvidenceCollector,
    source: &SourceIdentity,
    command: &[String],
) -> Result<(), AgentError> {
    let command = serde_json::to_string(command).map_err(|e| sealed("runtime log", e))?;
    collector.begin_runtime_log(&[
        RuntimeEvent {
            kind: RuntimeEventKind::Source,
            data: source.identity_string(),
        },
        RuntimeEvent {
            kind: RuntimeEventKind::Command,
            data: command,
        },
    ])
}

/// Step 4: runs the command in `dir` off the async workers (it blocks for
/// as long as the build runs).
pub async fn run_command(command: &[String], dir: &Path) -> Result<BuildRun, AgentError> {
    let (cmd, dir) = (command.to_vec(), dir.to_path_buf());
    tokio::task::spawn_blocking(move || build::run::run_build(&cmd, &dir, &[]))
        .await
        .map_err(|e| sealed("running the build", e))?
        .map_err(AgentError::from)
}

/// Step 5: copies what `globs` select in `source_dir` to `out/artifacts/`
/// and hashes the copies.
pub fn hash_outputs(
    source_dir: &Path,
    globs: &[String],
    out: &Path,
) -> Result<Vec<HashedArtifact>, AgentError> {
    let outputs = build::resolve_artifacts(source_dir, globs)?;
    let artifacts_dir = out.join("artifacts");
    for a in &outputs {
        let dest = artifacts_dir.join(&a.name);
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| AgentError::OutputIo { path, source }
        };
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        std::fs::copy(&a.path, &dest).map_err(io(&dest))?;
    }
    let hashed = build::hash::hash_artifacts(
        &artifacts_dir,
        &["**".to_string()],
        std::io::IsTerminal::is_terminal(&std::io::stderr()),
    )?;
    if hashed.len() != outputs.len() {
        return Err(sealed(
            "hashing the outputs",
            format!(
                "{} outputs were copied but {} files are in {}",
                outputs.len(),
                hashed.len(),
                artifacts_dir.display()
            ),
        ));
    }
    Ok(hashed)
}

/// Step 7: ends the runtime log with the statement digest, attests with the
/// statement bound and asks for exactly `key`. Returns the outcome and the
/// request as sent.
pub async fn attest_and_release(
    client: &VerifierClient,
    collector: &mut dyn EvidenceCollector,
    agent_id: &str,
    statement: &PreparedStatement,
    key: &str,
) -> Result<(Attested, AttestRequest), FlowError> {
    collector.end_runtime_log(&RuntimeEvent {
        kind: RuntimeEventKind::Statement,
        data: hex::encode(statement.digest),
    })?;
    let mut sent = None;
    let attested = flow::attest_statement(client, collector, agent_id, &statement.payload, |r| {
        r.keys = Some(vec![key.to_string()]);
        sent = Some(r.clone());
    })
    .await?;
    let sent = sent.ok_or_else(|| FlowError::Protocol("the request was never sent".into()))?;
    Ok((attested, sent))
}

/// Step 8: `out/evidence/`: the preflight EAR, the EAR, the request as sent
/// and the platform's raw evidence.
pub fn write_evidence(
    out: &Path,
    collector: &dyn EvidenceCollector,
    preflight_ear: &[u8],
    attested: &Attested,
    sent: &AttestRequest,
) -> Result<(), AgentError> {
    let dir = out.join("evidence");
    write_evidence_file(&dir, "preflight-ear.cose", preflight_ear)?;
    write_evidence_file(&dir, "ear.cose", &attested.response.ear)?;
    let request = serde_json::to_vec_pretty(sent).map_err(|e| sealed("writing evidence", e))?;
    write_evidence_file(&dir, "attest-request.json", &request)?;
    collector.write_evidence(&sent.evidence, &dir)
}

/// A signed statement and the key that signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// The DSSE envelope.
    pub envelope: Envelope,
    /// The key's SPKI PEM.
    pub public_key_pem: String,
    /// SHA-256 (hex) of its SPKI.
    pub fingerprint: String,
}

/// Step 9: signs `payload` with the released `key`; the released keys
/// (zeroized on drop) are consumed.
pub fn sign(attested: Attested, key: &str, payload: &[u8]) -> Result<Signature, FlowError> {
    let Some(released) = attested.keys.iter().find(|k| k.key_id == key) else {
        return Err(FlowError::Protocol(format!(
            "the verifier accepted but did not release key '{key}'"
        )));
    };
    let signer = DsseSigner::from_pkcs8_der(&released.pkcs8)
        .map_err(|e| FlowError::Protocol(format!("key {key}: {e}")))?;
    Ok(Signature {
        envelope: signer.sign(PAYLOAD_TYPE_INTOTO, payload),
        public_key_pem: released.public_key_pem.clone(),
        fingerprint: released.fingerprint.clone(),
    })
}

/// Step 9 (end): `out/<name>.intoto.jsonl` (one JSON line) and
/// `out/signing-key.pub.pem`; returns the envelope's path.
pub fn write_envelope(out: &Path, name: &str, s: &Signature) -> Result<PathBuf, AgentError> {
    let mut line = s.envelope.to_json_line();
    line.push('\n');
    let envelope = write_evidence_file(out, &format!("{name}.intoto.jsonl"), line.as_bytes())?;
    write_evidence_file(out, "signing-key.pub.pem", s.public_key_pem.as_bytes())?;
    Ok(envelope)
}
