//! Offline verification of a sealed-build bundle, pure: envelope bytes, keys,
//! the attestation result, the recorded evidence and a lookup of artefact
//! digests (computed by the caller) in; a report of every check out.
//!
//! Checks, in order (each named in the report):
//!
//! | check | what |
//! |---|---|
//! | `malformed_evidence` | the DSSE envelope does not parse (the message names the field); the caller adds it for recorded evidence that does not parse |
//! | `dsse_signature` | the DSSE envelope (DSSE v1.0) is signed by the signer key and carries an in-toto payload |
//! | `statement` | the payload is an in-toto Statement v1 with SLSA Provenance v1 |
//! | `subject:<name>` | each subject's file exists and its SHA-256 matches |
//! | `ear_signature` | the EAR (COSE_Sign1) verifies with the verifier's result key |
//! | `ear_verdict` | the EAR is affirming |
//! | `ear_statement` | the EAR names this statement's digest |
//! | `evidence_statement` | the recorded attestation request names this statement |
//! | `evidence_quote` | the recorded evidence re-verifies through the platform registry (`crate::platform`): for TPMs quote signature, binding (nonce, ephemeral key, statement), PCR digest, firmware and runtime log replay; for SEV-SNP the AMD chain and REPORT_DATA; for Azure both |
//! | `evidence_ear` | the EAR's agent (AK Name) and binding are those of the recorded evidence |

use crate::ear::{Ear, Status, Submodule};
use crate::platform::{
    Anchors, Collateral, Enrolment, Registered, Registry, TpmOptions, VerifyContext,
};
use crate::quote::QuoteOptions;
use crate::snp::AmdRoots;
use p256::ecdsa::VerifyingKey;
use sealbuild_common::api::AttestRequest;
use sealbuild_common::binding::{Binding, NONCE_LEN};
use sealbuild_common::dsse::{DsseVerifier, Envelope, PAYLOAD_TYPE_INTOTO};
use sealbuild_common::intoto::Statement;
use sealbuild_common::tpm::Public;
use serde::Serialize;
use std::sync::Arc;

/// The check of evidence that does not parse (every `verify` command names
/// it so: exit 1, not a usage error).
pub const MALFORMED_EVIDENCE: &str = "malformed_evidence";

/// One check and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable name (see the module docs).
    pub check: String,
    /// Whether it passed.
    pub ok: bool,
    /// What was checked or why it failed.
    pub detail: String,
}

/// The outcome of [`verify_bundle`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BundleReport {
    /// `accepted` when every check passed.
    pub verdict: String,
    /// SHA-256 (hex) of the statement, when the envelope verified.
    pub statement_digest: Option<String>,
    /// Every check made.
    pub checks: Vec<Check>,
}

impl BundleReport {
    /// True when every check passed.
    pub fn accepted(&self) -> bool {
        self.verdict == "accepted"
    }
}

/// Digest of an artefact by subject name: `None` if absent, `Err` on I/O.
pub type ArtifactLookup<'a> = &'a dyn Fn(&str) -> Option<Result<[u8; 32], String>>;

/// What the bundle verification is given.
pub struct BundleInput<'a> {
    /// The DSSE envelope (JSON).
    pub envelope: &'a [u8],
    /// SPKI PEM of the signing key.
    pub signer_key_pem: &'a str,
    /// Artefact digests by subject name.
    pub artifacts: ArtifactLookup<'a>,
    /// The EAR and the verifier's result key, when checked.
    pub ear: Option<(&'a [u8], &'a VerifyingKey)>,
    /// The recorded attestation request and the AK's TPM2B_PUBLIC (empty
    /// for hardware-vouched evidence: SEV-SNP, Azure).
    pub evidence: Option<(&'a AttestRequest, &'a [u8])>,
    /// Verification time (Unix seconds) for certificate validity (SEV-SNP)
    /// and collateral windows (TDX).
    pub at_unix_secs: u64,
    /// Collateral the evidence does not carry (TDX: TCB Info, QE Identity,
    /// CRLs); `None` when there is none.
    pub collateral: Option<&'a Collateral>,
    /// Runtime PCR (23 unless the verifier was configured otherwise).
    pub runtime_pcr: u32,
}

fn check(checks: &mut Vec<Check>, name: impl Into<String>, ok: bool, detail: impl Into<String>) {
    checks.push(Check {
        check: name.into(),
        ok,
        detail: detail.into(),
    });
}

/// A subject name must be a relative path without `..`, so it cannot point
/// outside the artefact directory.
pub fn safe_subject_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('/')
        && !name.contains('\\')
        && name
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

/// Verifies a bundle; never fails, every problem is a failed check.
pub fn verify_bundle(input: &BundleInput<'_>) -> BundleReport {
    let mut checks = Vec::new();
    let finish = |checks: Vec<Check>, digest: Option<String>| BundleReport {
        verdict: if checks.iter().all(|c| c.ok) {
            "accepted".into()
        } else {
            "rejected".into()
        },
        statement_digest: digest,
        checks,
    };
    let payload = match (
        Envelope::from_json(input.envelope),
        DsseVerifier::from_spki_pem(input.signer_key_pem),
    ) {
        (Err(e), _) => {
            // Bytes that are no envelope are malformed evidence; an
            // envelope that parses but does not verify is a signature
            // failure (below).
            check(&mut checks, MALFORMED_EVIDENCE, false, e.to_string());
            return finish(checks, None);
        }
        (_, Err(e)) => {
            check(
                &mut checks,
                "dsse_signature",
                false,
                format!("signer key: {e}"),
            );
            return finish(checks, None);
        }
        (Ok(env), Ok(v)) => {
            if env.payload_type != PAYLOAD_TYPE_INTOTO {
                check(
                    &mut checks,
                    "dsse_signature",
                    false,
                    format!(
                        "payloadType {} is not {PAYLOAD_TYPE_INTOTO}",
                        env.payload_type
                    ),
                );
                return finish(checks, None);
            }
            match v.verify(&env) {
                Ok(p) => {
                    check(
                        &mut checks,
                        "dsse_signature",
                        true,
                        format!("signed by key {}", v.keyid()),
                    );
                    p.to_vec()
                }
                Err(e) => {
                    check(&mut checks, "dsse_signature", false, e.to_string());
                    return finish(checks, None);
                }
            }
        }
    };
    let digest: [u8; 32] = sealbuild_common::crypto::sha256(&payload);
    let digest_hex = hex::encode(digest);
    let statement = match Statement::parse(&payload).and_then(|s| s.provenance().map(|_| s)) {
        Ok(s) => {
            check(
                &mut checks,
                "statement",
                true,
                format!("statement sha256:{digest_hex}"),
            );
            s
        }
        Err(e) => {
            check(&mut checks, "statement", false, e.to_string());
            return finish(checks, Some(digest_hex));
        }
    };
    for subject in &statement.subject {
        let name = subject.name.clone().unwrap_or_default();
        let want = subject.digest.get("sha256").cloned().unwrap_or_default();
        let label = format!("subject:{name}");
        if !safe_subject_name(&name) {
            check(
                &mut checks,
                label,
                false,
                "subject name is not a safe relative path",
            );
            continue;
        }
        match (input.artifacts)(&name) {
            None => check(
                &mut checks,
                label,
                false,
                format!("{name}: no such file among the artefacts"),
            ),
            Some(Err(e)) => check(&mut checks, label, false, format!("{name}: {e}")),
            Some(Ok(d)) if hex::encode(d) == want => {
                check(&mut checks, label, true, format!("sha256:{want}"))
            }
            Some(Ok(d)) => check(
                &mut checks,
                label,
                false,
                format!(
                    "{name}: expected sha256:{want}, got sha256:{}",
                    hex::encode(d)
                ),
            ),
        }
    }
    let mut ear_claims = None;
    if let Some((ear_bytes, key)) = input.ear {
        match Ear::verify(ear_bytes, key) {
            Err(e) => check(&mut checks, "ear_signature", false, e.to_string()),
            Ok(ear) => {
                check(
                    &mut checks,
                    "ear_signature",
                    true,
                    "signed by the verifier's result key",
                );
                let sub = ear.submods.values().next().cloned();
                match sub {
                    None => check(&mut checks, "ear_verdict", false, "EAR has no submodule"),
                    Some(s) => {
                        check(
                            &mut checks,
                            "ear_verdict",
                            s.status == Status::Affirming,
                            format!("status {}", s.status.name()),
                        );
                        let named = s.statement_digest.as_deref().map(hex::encode);
                        check(
                            &mut checks,
                            "ear_statement",
                            named.as_deref() == Some(digest_hex.as_str()),
                            format!(
                                "EAR names statement {}, the envelope's is {digest_hex}",
                                named.as_deref().unwrap_or("none")
                            ),
                        );
                        ear_claims = Some((ear.nonce.clone(), s));
                    }
                }
            }
        }
    }
    if let Some(evidence) = input.evidence {
        check_evidence(
            &mut checks,
            input,
            evidence,
            digest,
            &digest_hex,
            ear_claims.as_ref(),
        );
    }
    finish(checks, Some(digest_hex))
}

/// The `evidence_*` checks: the recorded attestation request re-verified
/// through the platform registry, bound to this statement, and (with an EAR)
/// the agent and binding the EAR vouches for.
fn check_evidence(
    checks: &mut Vec<Check>,
    input: &BundleInput<'_>,
    (req, ak): (&AttestRequest, &[u8]),
    digest: [u8; 32],
    digest_hex: &str,
    ear_claims: Option<&(Vec<u8>, Submodule)>,
) {
    let named = req.statement_digest.clone().unwrap_or_default();
    check(
        checks,
        "evidence_statement",
        named == digest_hex,
        format!("the attestation bound statement {named}, the envelope's is {digest_hex}"),
    );
    let nonce: Option<[u8; NONCE_LEN]> =
        hex::decode(&req.nonce).ok().and_then(|b| b.try_into().ok());
    match nonce {
        None => check(
            checks,
            "evidence_quote",
            false,
            "recorded nonce is not 32 bytes of hex",
        ),
        Some(nonce) => {
            let binding = Binding {
                nonce: &nonce,
                ephemeral_public_key: &req.ephemeral_public_key,
                statement_digest: Some(&digest),
            }
            .digest();
            // One path for every platform: the registry, with AMD's
            // built-in roots only (offline, nothing else is trusted).
            let platform = req.evidence.platform();
            let registry = Registry::new(&Anchors {
                amd: Arc::new(AmdRoots::builtin()),
                tpm: TpmOptions {
                    replay_pcrs: vec![0, 1, 2, 3, 4, 5, 6, 7],
                    quote: QuoteOptions::default(),
                    runtime_pcr: input.runtime_pcr,
                },
                intel: Arc::new(crate::tdx::IntelRoot::builtin()),
            });
            let registered = Registered {
                ak_public: ak.to_vec(),
                ..Registered::default()
            };
            let none = Collateral::default();
            let collateral = input.collateral.unwrap_or(&none);
            let verified = registry
                .get(platform)
                .map_err(|r| vec![r])
                .and_then(|v| {
                    let registered =
                        (v.enrolment() == Enrolment::Registration).then_some(&registered);
                    v.verify(
                        &req.evidence,
                        &VerifyContext {
                            agent_id: &req.agent_id,
                            registered,
                            binding: &binding,
                            statement_digest: Some(digest),
                            now: input.at_unix_secs,
                            collateral,
                        },
                    )
                })
                .map(|_| ());
            let what = registry
                .get(platform)
                .map_or("evidence of an unknown platform", |v| v.checks_summary());
            match verified {
                Ok(()) => check(checks, "evidence_quote", true, what),
                Err(reasons) => check(
                    checks,
                    "evidence_quote",
                    false,
                    reasons
                        .iter()
                        .map(|r| r.message.as_str())
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
            }
            if let Some((ear_nonce, sub)) = &ear_claims {
                // Registered attesters are named by their AK; hardware-
                // vouched ones by the id they attested under.
                let ak_name = match registry.get(platform).map(|v| v.enrolment()) {
                    Ok(Enrolment::Registration) => Public::parse_tpm2b(ak)
                        .map(|p| hex::encode(p.name()))
                        .unwrap_or_default(),
                    _ => req.agent_id.clone(),
                };
                let same = sub.agent_id == ak_name && sub.binding == binding && ear_nonce == &nonce;
                check(
                    checks,
                    "evidence_ear",
                    same,
                    if same {
                        format!("EAR vouches for AK {ak_name} and this binding")
                    } else {
                        format!(
                            "EAR names agent {} and binding {}, the evidence has AK {ak_name} and binding {}",
                            sub.agent_id,
                            hex::encode(&sub.binding),
                            hex::encode(binding)
                        )
                    },
                );
            }
        }
    }
}
