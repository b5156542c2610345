//! `sealbuild-agent build`: a sealed build.
//!
//! 1. Preflight attestation (no statement, no key requested): the platform
//!    is appraised before the build runs, so an untrusted machine fails in
//!    seconds, and its EAR names the reference set the builder matched.
//! 2. Runtime register: PCR 23 (default) is reset and extended with the
//!    source identity and the command, each recorded in a TCG Canonical Event
//!    Log. PCR 23 is the PC Client "application support" PCR, resettable from
//!    locality 0 (PTP 1.05), so every build's log starts from zero and never
//!    mixes with firmware measurements (PCR 0–7) or IMA (PCR 10).
//! 3. The command runs with inherited stdio; a failure ends the build with
//!    its exit code and no attestation.
//! 4. Outputs are hashed (parallel, streaming SHA-256), copied into
//!    `OUT/artifacts/`, and described by an in-toto Statement v1 with SLSA
//!    Provenance v1.
//! 5. The statement's digest is extended into PCR 23, bound into the quote
//!    (binding digest) and the statement is sent to the verifier, which
//!    applies its statement policy and releases the signing key sealed to the
//!    ephemeral key.
//! 6. The statement is signed as a DSSE envelope with the released key, which
//!    is zeroized after use.
//!
//! Output: `OUT/<name>.intoto.jsonl`, `OUT/signing-key.pub.pem`,
//! `OUT/evidence/` (attest-request.json: everything sent, which `verify
//! bundle --evidence` re-checks; ak.pub, quote.msg, quote.sig, pcrs.json,
//! binary_bios_measurements, runtime.cel.json, ear.cose, preflight-ear.cose),
//! `OUT/artifacts/`.

use anyhow::{bail, Context, Result};
use sealbuild_agent::build;
use sealbuild_agent::client::VerifierClient;
use sealbuild_agent::flow;
use sealbuild_agent::snp::SnpCollector;
use sealbuild_agent::tpm::ak::AkState;
use sealbuild_agent::tpm::collector::TpmCollector;
use sealbuild_agent::tpm::{PcrSelection, TctiConfig, TpmBackend};
use sealbuild_common::api::Verdict;
use sealbuild_common::cel::{CelLog, RuntimeEvent, RuntimeEventKind};
use sealbuild_common::dsse::{DsseSigner, PAYLOAD_TYPE_INTOTO};
use sealbuild_common::intoto::{
    BuildDefinition, BuildMetadata, Builder, Provenance, ResourceDescriptor, RunDetails, Statement,
    SEALBUILD_BUILD_TYPE,
};
use sealbuild_common::HashAlg;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where the evidence comes from.
pub enum BuildPlatform {
    /// A registered TPM: firmware PCRs plus the runtime PCR and its log.
    Tpm {
        tcti: TctiConfig,
        state_dir: PathBuf,
        runtime_pcr: u32,
        eventlog: Option<PathBuf>,
    },
    /// SEV-SNP: the statement digest goes straight into REPORT_DATA (through
    /// the binding), so no runtime register is needed.
    Snp {
        collector: SnpCollector,
        agent_id: String,
    },
}

/// Everything `build` needs.
pub struct BuildOptions {
    pub client: VerifierClient,
    pub platform: BuildPlatform,
    pub key: String,
    pub out: PathBuf,
    pub source: PathBuf,
    pub artifacts: Vec<String>,
    pub env: Vec<String>,
    pub name: Option<String>,
    pub command: Vec<String>,
}

/// The TPM side of a build: AK and the selections it quotes.
struct TpmSide {
    tcti: TctiConfig,
    ak: AkState,
    runtime_pcr: u32,
    eventlog: Option<PathBuf>,
}

fn rfc3339(t: std::time::SystemTime) -> String {
    sealbuild_common::intoto::format_rfc3339_utc(
        t.duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    )
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

fn extend(backend: &mut TpmBackend, cel: &mut CelLog, pcr: u32, ev: RuntimeEvent) -> Result<()> {
    // The log checks the event first; only a loggable event is extended.
    let d = ev.digest(HashAlg::Sha256);
    cel.push(pcr, &ev, &[HashAlg::Sha256])?;
    backend.extend_pcr(pcr, &[(HashAlg::Sha256, &d)])?;
    Ok(())
}

/// Runs a sealed build; returns the process exit code.
pub async fn run(o: BuildOptions) -> Result<i32> {
    if o.command.is_empty() {
        bail!("no build command given (after --)");
    }
    if o.out.exists() && std::fs::read_dir(&o.out)?.next().is_some() {
        bail!(
            "{} is not empty; give a new or empty output directory",
            o.out.display()
        );
    }
    let out = std::path::absolute(&o.out)?;
    let source_dir = std::path::absolute(&o.source)?;
    let (mut tpm, mut snp) = match o.platform {
        BuildPlatform::Tpm {
            tcti,
            state_dir,
            runtime_pcr,
            eventlog,
        } => (
            Some(TpmSide {
                tcti,
                ak: AkState::load(&state_dir)?,
                runtime_pcr,
                eventlog,
            }),
            None,
        ),
        BuildPlatform::Snp {
            collector,
            agent_id,
        } => (None, Some((collector, agent_id))),
    };
    let agent_id = match (&tpm, &snp) {
        (Some(t), _) => hex::encode(&t.ak.name),
        (None, Some((_, id))) => id.clone(),
        (None, None) => bail!("no evidence platform"),
    };
    let started_on = std::time::SystemTime::now();
    let mut invocation = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut invocation);
    let invocation_id = hex::encode(invocation);

    // 1. Preflight.
    eprintln!("sealbuild: preflight attestation of this machine");
    let keys_none = |r: &mut sealbuild_common::api::AttestRequest| r.keys = Some(Vec::new());
    let pre = match (&tpm, &mut snp) {
        (Some(t), _) => {
            let firmware: PcrSelection = "sha256:0,1,2,3,4,5,6,7".parse()?;
            let mut c = TpmCollector::new(
                TpmBackend::open(&t.tcti)?,
                t.ak.clone(),
                firmware,
                t.eventlog.clone(),
            );
            flow::attest_with(&o.client, &mut c, &agent_id, None, keys_none).await?
        }
        (None, Some((c, _))) => {
            eprintln!("sealbuild: SEV-SNP evidence via {}", c.describe());
            flow::attest_with(&o.client, c, &agent_id, None, keys_none).await?
        }
        (None, None) => bail!("no evidence platform"),
    };
    if pre.response.verdict != Verdict::Accepted {
        eprintln!(
            "sealbuild: this machine is not trusted by the verifier; the build does not run:"
        );
        for r in &pre.response.reasons {
            eprintln!("  - [{}] {}", r.check, r.message);
        }
        return Ok(1);
    }
    let pre_ear = pre.response.ear.clone();
    let references = sealbuild_verifier_ear_references(&pre_ear);

    // 2. Runtime register.
    let identity = build::source::identify(&source_dir, std::slice::from_ref(&out))?;
    let mut cel = CelLog::default();
    if let Some(t) = &tpm {
        let mut backend = TpmBackend::open(&t.tcti)?;
        backend.reset_pcr(t.runtime_pcr)?;
        extend(
            &mut backend,
            &mut cel,
            t.runtime_pcr,
            RuntimeEvent {
                kind: RuntimeEventKind::Source,
                data: identity.identity_string(),
            },
        )?;
        extend(
            &mut backend,
            &mut cel,
            t.runtime_pcr,
            RuntimeEvent {
                kind: RuntimeEventKind::Command,
                data: serde_json::to_string(&o.command)?,
            },
        )?;
    }

    // 3. The build.
    eprintln!(
        "sealbuild: running {:?} in {}",
        o.command,
        source_dir.display()
    );
    let env = build::run::selected_env(&o.env);
    // The build blocks for as long as it runs: off the async workers.
    let run = {
        let (cmd, dir) = (o.command.clone(), source_dir.clone());
        tokio::task::spawn_blocking(move || build::run::run_build(&cmd, &dir, &[]))
            .await
            .context("the build task failed")??
    };
    if run.exit_code != 0 {
        eprintln!(
            "sealbuild: the build failed with exit code {}; no attestation, no key",
            run.exit_code
        );
        return Ok(run.exit_code);
    }

    // 4. Outputs and the statement.
    // Copy the outputs first and hash the copies: a process the build left
    // running cannot change what was hashed after the fact.
    let outputs = build::resolve_artifacts(&source_dir, &o.artifacts)?;
    let artifacts_dir = out.join("artifacts");
    for a in &outputs {
        let dest = artifacts_dir.join(&a.name);
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::copy(&a.path, &dest)
            .with_context(|| format!("copying {} to {}", a.path.display(), dest.display()))?;
    }
    let hashed = build::hash::hash_artifacts(
        &artifacts_dir,
        &["**".to_string()],
        std::io::IsTerminal::is_terminal(&std::io::stderr()),
    )?;
    if hashed.len() != outputs.len() {
        bail!(
            "{} outputs were copied but {} files are in {}",
            outputs.len(),
            hashed.len(),
            artifacts_dir.display()
        );
    }
    let source_digest: BTreeMap<String, String> = identity
        .digest_set()
        .into_iter()
        .map(|(a, d)| (a.to_string(), d))
        .collect();
    let subjects: Vec<ResourceDescriptor> = hashed
        .iter()
        .map(|a| {
            let mut digest = BTreeMap::new();
            digest.insert("sha256".to_string(), hex::encode(a.sha256));
            ResourceDescriptor {
                name: Some(a.name.clone()),
                digest,
                ..ResourceDescriptor::default()
            }
        })
        .collect();
    let mut byproduct = BTreeMap::new();
    byproduct.insert("sha256".to_string(), hex::encode(Sha256::digest(&pre_ear)));
    let provenance = Provenance {
        build_definition: BuildDefinition {
            build_type: SEALBUILD_BUILD_TYPE.to_string(),
            external_parameters: serde_json::json!({
                "command": o.command,
                "source": identity.uri(),
                "artifacts": o.artifacts,
            }),
            internal_parameters: Some(match &tpm {
                Some(t) => serde_json::json!({
                    "environment": env,
                    "platform": "tpm",
                    "runtimePcr": t.runtime_pcr,
                }),
                None => serde_json::json!({
                    "environment": env,
                    "platform": "snp",
                }),
            }),
            resolved_dependencies: vec![ResourceDescriptor {
                name: Some("source".into()),
                uri: Some(identity.uri()),
                digest: source_digest,
                ..ResourceDescriptor::default()
            }],
        },
        run_details: RunDetails {
            builder: Builder {
                id: format!(
                    "urn:sealbuild:builder:{}:{}",
                    if tpm.is_some() { "tpm" } else { "snp" },
                    if references.is_empty() {
                        "unmatched".to_string()
                    } else {
                        references.join("+")
                    }
                ),
                version: Some(BTreeMap::from([(
                    "sealbuild-agent".to_string(),
                    env!("CARGO_PKG_VERSION").to_string(),
                )])),
                builder_dependencies: None,
            },
            metadata: Some(BuildMetadata {
                invocation_id: Some(invocation_id),
                started_on: Some(rfc3339(started_on)),
                finished_on: Some(rfc3339(run.finished_on)),
            }),
            byproducts: Some(vec![ResourceDescriptor {
                name: Some("preflight-attestation-result".into()),
                digest: byproduct,
                media_type: Some("application/cose; cose-type=\"cose-sign1\"".into()),
                ..ResourceDescriptor::default()
            }]),
        },
    };
    let statement = Statement::new_provenance(subjects, &provenance);
    let payload = statement.to_payload();
    let statement_digest: [u8; 32] = Sha256::digest(&payload).into();

    // 5. Bind and attest.
    let mut sent = None;
    let key_id = o.key.clone();
    let want_key = |r: &mut sealbuild_common::api::AttestRequest| {
        r.keys = Some(vec![key_id]);
        sent = Some(r.clone());
    };
    let mut cel_json = None;
    let attested = match (&mut tpm, &mut snp) {
        (Some(t), _) => {
            let mut backend = TpmBackend::open(&t.tcti)?;
            extend(
                &mut backend,
                &mut cel,
                t.runtime_pcr,
                RuntimeEvent {
                    kind: RuntimeEventKind::Statement,
                    data: hex::encode(statement_digest),
                },
            )?;
            let json = cel.to_json();
            let with_runtime: PcrSelection =
                format!("sha256:0,1,2,3,4,5,6,7,{}", t.runtime_pcr).parse()?;
            let mut collector =
                TpmCollector::new(backend, t.ak.clone(), with_runtime, t.eventlog.clone());
            collector.set_runtime_log(Some(json.clone()));
            cel_json = Some(json);
            flow::attest_statement(&o.client, &mut collector, &agent_id, &payload, want_key).await?
        }
        (None, Some((c, _))) => {
            flow::attest_statement(&o.client, c, &agent_id, &payload, want_key).await?
        }
        (None, None) => bail!("no evidence platform"),
    };
    let evidence_dir = out.join("evidence");
    if let Some(json) = &cel_json {
        write(&evidence_dir.join("runtime.cel.json"), json)?;
    }
    write(&evidence_dir.join("preflight-ear.cose"), &pre_ear)?;
    write(&evidence_dir.join("ear.cose"), &attested.response.ear)?;
    if let Some(t) = &tpm {
        write(&evidence_dir.join("ak.pub"), &t.ak.public)?;
    }
    if let Some(req) = &sent {
        write(
            &evidence_dir.join("attest-request.json"),
            &serde_json::to_vec_pretty(req)?,
        )?;
        write_raw_evidence(&evidence_dir, &req.evidence)?;
    }
    if attested.response.verdict != Verdict::Accepted {
        eprintln!("sealbuild: the verifier refused to release '{}':", o.key);
        for r in &attested.response.reasons {
            eprintln!("  - [{}] {}", r.check, r.message);
        }
        return Ok(1);
    }
    // 6. Sign; the released key and the signer (zeroized on drop) go out of
    // scope right after.
    let (public_key_pem, fingerprint, envelope) = {
        let Some(key) = attested.keys.iter().find(|k| k.key_id == o.key) else {
            bail!("the verifier accepted but did not release key '{}'", o.key);
        };
        let signer = DsseSigner::from_pkcs8_der(&key.pkcs8)?;
        let envelope = signer.sign(PAYLOAD_TYPE_INTOTO, &payload);
        (
            key.public_key_pem.clone(),
            key.fingerprint.clone(),
            envelope,
        )
    };
    drop(attested);
    let name = o.name.clone().unwrap_or_else(|| {
        source_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "build".into())
    });
    let mut line = envelope.to_json_line();
    line.push('\n');
    write(&out.join(format!("{name}.intoto.jsonl")), line.as_bytes())?;
    write(&out.join("signing-key.pub.pem"), public_key_pem.as_bytes())?;
    println!(
        "sealed build done: {} artefact(s), statement sha256:{}, signed with '{}' (sha256:{})",
        hashed.len(),
        hex::encode(statement_digest),
        o.key,
        fingerprint
    );
    println!("bundle: {}", out.display());
    Ok(0)
}

/// Reference sets named in an EAR (not verified here: the agent only uses
/// them to name itself; relying parties verify the EAR).
fn sealbuild_verifier_ear_references(ear: &[u8]) -> Vec<String> {
    ear_references(ear).unwrap_or_default()
}

fn ear_references(ear: &[u8]) -> Option<Vec<String>> {
    use ciborium::value::Value;
    let cose: Value = ciborium::from_reader(ear).ok()?;
    let arr = match cose {
        Value::Tag(18, inner) => match *inner {
            Value::Array(a) => a,
            _ => return None,
        },
        Value::Array(a) => a,
        _ => return None,
    };
    let payload = match arr.get(2)? {
        Value::Bytes(b) => b.clone(),
        _ => return None,
    };
    let claims: Value = ciborium::from_reader(payload.as_slice()).ok()?;
    let Value::Map(m) = claims else { return None };
    let submods = m
        .iter()
        .find(|(k, _)| *k == Value::Integer(266.into()))?
        .1
        .clone();
    let Value::Map(subs) = submods else {
        return None;
    };
    let mut out = Vec::new();
    for (_, sub) in subs {
        if let Value::Map(sm) = sub {
            if let Some((_, Value::Array(refs))) = sm
                .iter()
                .find(|(k, _)| *k == Value::Text("sealbuild.references".into()))
            {
                out.extend(refs.iter().filter_map(|r| match r {
                    Value::Text(t) => Some(t.clone()),
                    _ => None,
                }));
            }
        }
    }
    Some(out)
}

/// The raw evidence, in the formats the platform's own tools read: for a TPM
/// TPMS_ATTEST, TPMT_SIGNATURE (tpm2-tools), the PCRs and the firmware event
/// log; for SEV-SNP the 1184-byte report and the supplied certificates (the
/// file names snpguest uses).
fn write_raw_evidence(dir: &Path, evidence: &sealbuild_common::api::Evidence) -> Result<()> {
    use sealbuild_common::api::Evidence;
    match evidence {
        Evidence::Tpm(t) => {
            write(&dir.join("quote.msg"), &t.quote)?;
            write(&dir.join("quote.sig"), &t.signature)?;
            write(&dir.join("pcrs.json"), &serde_json::to_vec_pretty(&t.pcrs)?)?;
            if let Some(log) = &t.event_log {
                write(&dir.join("binary_bios_measurements"), log)?;
            }
        }
        Evidence::Snp(s) => {
            write(&dir.join("report.bin"), &s.report)?;
            for c in &s.certificates {
                write(&dir.join(format!("{}.der", c.kind.as_str())), &c.der)?;
            }
        }
        Evidence::Azure(a) => {
            write(&dir.join("hcl-report.bin"), &a.hcl_report)?;
            for c in &a.certificates {
                write(&dir.join(format!("{}.der", c.kind.as_str())), &c.der)?;
            }
            write(&dir.join("quote.msg"), &a.tpm.quote)?;
            write(&dir.join("quote.sig"), &a.tpm.signature)?;
            write(
                &dir.join("pcrs.json"),
                &serde_json::to_vec_pretty(&a.tpm.pcrs)?,
            )?;
            if let Some(log) = &a.tpm.event_log {
                write(&dir.join("binary_bios_measurements"), log)?;
            }
        }
    }
    Ok(())
}
