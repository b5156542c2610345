//! `sealbuild-agent build`: command-line glue around the library's sealed
//! build ([`sealbuild_agent::sealed_build`], which documents the steps and
//! the bundle): progress and verdicts on stderr, the result on stdout, the
//! exit code.
//!
//! Output: `OUT/<name>.intoto.jsonl`, `OUT/signing-key.pub.pem`,
//! `OUT/evidence/` (attest-request.json: everything sent, which `verify
//! bundle --evidence` re-checks; ear.cose, preflight-ear.cose and the
//! platform's raw evidence: for a TPM ak.pub, quote.msg, quote.sig,
//! pcrs.json, binary_bios_measurements, runtime.cel.json), `OUT/artifacts/`.

use anyhow::Result;
use sealbuild_agent::client::VerifierClient;
use sealbuild_agent::evidence::EvidenceCollector;
use sealbuild_agent::sealed_build::{Outcome, SealedBuild};
use sealbuild_common::api::Reason;

fn print_reasons(reasons: &[Reason]) {
    for r in reasons {
        eprintln!("  - [{}] {}", r.check, r.message);
    }
}

/// Runs a checked sealed build; returns the process exit code.
pub async fn run(
    build: &SealedBuild,
    client: &VerifierClient,
    collector: &mut dyn EvidenceCollector,
    key: &str,
) -> Result<i32> {
    let outcome = build
        .run(client, collector, &|m: &str| eprintln!("sealbuild: {m}"))
        .await?;
    match &outcome {
        Outcome::Untrusted { reasons } => {
            eprintln!(
                "sealbuild: this machine is not trusted by the verifier; the build does not run:"
            );
            print_reasons(reasons);
        }
        Outcome::BuildFailed { exit_code } => eprintln!(
            "sealbuild: the build failed with exit code {exit_code}; no attestation, no key"
        ),
        Outcome::Refused { reasons } => {
            eprintln!("sealbuild: the verifier refused to release '{key}':");
            print_reasons(reasons);
        }
        Outcome::Signed(s) => {
            out!(
                "sealed build done: {} artefact(s), statement sha256:{}, signed with '{}' (sha256:{})",
                s.artifacts,
                hex::encode(s.statement_digest),
                s.key_id,
                s.fingerprint
            );
            out!("bundle: {}", s.bundle.display());
        }
    }
    Ok(outcome.exit_code())
}
