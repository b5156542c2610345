//! The whole TPM evidence check, pure: registered AK, expected binding,
//! evidence and options in; verified [`TpmClaims`] or the list of reasons out.
//!
//! Order of checks (each failure is a [`Reason`] with a stable `check` name):
//!
//! | check | what |
//! |---|---|
//! | `ak_public` | the registered AK parses (an internal inconsistency otherwise) |
//! | `evidence_format` | signature and PCR values parse |
//! | `ak_attributes` | restricted signing key resident in the TPM |
//! | `quote_signature` | the AK's signature over TPMS_ATTEST verifies (scheme, hash policy) |
//! | `quote_structure` | it is a TPM_ST_ATTEST_QUOTE |
//! | `binding` | `extraData` equals the binding digest (nonce, ephemeral key, statement) |
//! | `pcr_digest` | the PCR values sent hash to the signed `pcrDigest` |
//! | `event_log_format` | the event log parses |
//! | `event_log_replay` | replaying the log gives the quoted value of every PCR in `replay_pcrs` |
//! | `runtime_log` | a sealed build's runtime log (TCG CEL) replays to the quoted runtime PCR and ends with the bound statement digest |
//!
//! Only events of PCRs whose replay matched are handed to the policy.
//! [`statement_claims`] turns a build statement into what a policy may see.

use crate::claims::{EventClaim, MaterialClaim, StatementClaims, TpmClaims};
use crate::quote::{verify_quote, QuoteError, QuoteOptions};
use sealbuild_common::api::{Reason, TpmEvidence};
use sealbuild_common::cel::CelLog;
use sealbuild_common::eventlog::EventLog;
use sealbuild_common::intoto::Statement;
use sealbuild_common::tpm::{PcrValues, Public, Signature};
use std::collections::{BTreeMap, BTreeSet};

/// Inputs of a TPM appraisal.
#[derive(Debug, Clone)]
pub struct TpmInput<'a> {
    /// TPM2B_PUBLIC of the registered, activated AK.
    pub ak_public: &'a [u8],
    /// The qualifying data the quote must carry: the binding digest for
    /// sealbuild's own evidence (a verifier's nonce for foreign evidence).
    pub binding: &'a [u8],
    /// The evidence as sent.
    pub evidence: &'a TpmEvidence,
    /// PCRs whose quoted values the event log must explain.
    pub replay_pcrs: &'a [u32],
    /// Hash-algorithm policy.
    pub options: QuoteOptions,
    /// SHA-256 (hex) of the EK's trust anchor, from registration.
    pub ek_root_fingerprint: Option<String>,
    /// Subject of that anchor.
    pub ek_root_subject: Option<String>,
    /// The PCR sealed builds extend (default 23, see `agent::build`).
    pub runtime_pcr: u32,
    /// The statement digest bound into the evidence, for builds.
    pub statement_digest: Option<[u8; 32]>,
}

fn quote_reason(e: QuoteError) -> Reason {
    let message = e.to_string();
    match e {
        QuoteError::QualifyingDataMismatch { expected, got } => Reason::new(
            "binding",
            Some(expected),
            Some(got),
            format!("{message} (wrong, reused or foreign nonce, or a substituted ephemeral key)"),
        ),
        QuoteError::PcrDigestMismatch {
            quoted, computed, ..
        } => Reason::new("pcr_digest", Some(quoted), Some(computed), message),
        QuoteError::MissingPcrs { .. }
        | QuoteError::PcrDigestSize { .. }
        | QuoteError::PcrDigestHash { .. } => Reason::new("pcr_digest", None, None, message),
        QuoteError::NotAQuote { .. } => Reason::new("quote_structure", None, None, message),
        QuoteError::AkAttributes { .. } => Reason::new("ak_attributes", None, None, message),
        QuoteError::Format(_) => Reason::new("quote_structure", None, None, message),
        QuoteError::Sha1NotAllowed { .. }
        | QuoteError::SchemeMismatch { .. }
        | QuoteError::BadKey { .. }
        | QuoteError::BadSignature { .. } => Reason::new("quote_signature", None, None, message),
    }
}

/// Verifies TPM evidence; on success the claims a policy may appraise.
pub fn verify_tpm(input: &TpmInput<'_>) -> Result<TpmClaims, Vec<Reason>> {
    let ak = Public::parse_tpm2b(input.ak_public).map_err(|e| {
        vec![Reason::new(
            "ak_public",
            None,
            None,
            format!("the registered AK does not parse: {e}"),
        )]
    })?;
    let sig = Signature::parse(&input.evidence.signature).map_err(|e| {
        vec![Reason::new(
            "evidence_format",
            None,
            None,
            format!("quote signature (TPMT_SIGNATURE) does not parse: {e}"),
        )]
    })?;
    let pcrs = PcrValues::from_named_hex(&input.evidence.pcrs).map_err(|e| {
        vec![Reason::new(
            "evidence_format",
            None,
            None,
            format!("PCR values do not parse: {e}"),
        )]
    })?;
    let checked = verify_quote(
        &ak,
        &input.evidence.quote,
        &sig,
        input.binding,
        &pcrs,
        &input.options,
    )
    .map_err(|e| vec![quote_reason(e)])?;

    let mut claims = TpmClaims {
        ek_root_fingerprint: input.ek_root_fingerprint.clone(),
        ek_root_subject: input.ek_root_subject.clone(),
        pcrs: checked.pcrs.banks().clone(),
        events: None,
    };

    check_runtime_log(input, &checked.pcrs)?;
    let Some(log_bytes) = &input.evidence.event_log else {
        return Ok(claims);
    };
    let log = EventLog::parse(log_bytes).map_err(|e| {
        vec![Reason::new(
            "event_log_format",
            None,
            None,
            format!("event log does not parse: {e}"),
        )]
    })?;
    let replay = log.replay();
    let replay_set: BTreeSet<u32> = input.replay_pcrs.iter().copied().collect();
    let mut reasons = Vec::new();
    // (bank, pcr) pairs whose replay equals the quoted value.
    let mut explained: BTreeSet<u32> = BTreeSet::new();
    let mut unexplained: BTreeSet<u32> = BTreeSet::new();
    for (bank, values) in checked.pcrs.banks() {
        let to_check: BTreeMap<u32, Vec<u8>> = values
            .iter()
            .filter(|(pcr, _)| replay_set.contains(pcr))
            .map(|(pcr, v)| (*pcr, v.clone()))
            .collect();
        let mismatches = replay.compare(*bank, &to_check);
        for m in &mismatches {
            unexplained.insert(m.pcr);
            let event = m
                .last_event
                .and_then(|ev| log.event(ev.index))
                .map(|ev| format!("; last event: {}", ev.describe()))
                .unwrap_or_default();
            reasons.push(Reason::new(
                "event_log_replay",
                Some(hex::encode(&m.quoted)),
                Some(hex::encode(&m.replayed)),
                format!("{m}{event}"),
            ));
        }
        explained.extend(to_check.keys().copied());
    }
    if !reasons.is_empty() {
        return Err(reasons);
    }
    let verified: BTreeSet<u32> = explained.difference(&unexplained).copied().collect();
    claims.events = Some(
        log.events()
            .iter()
            .filter(|e| verified.contains(&e.pcr))
            .map(|e| EventClaim {
                index: usize::try_from(e.index).unwrap_or(usize::MAX),
                pcr: e.pcr,
                event_type: e.event_type.to_string(),
                description: e.summary(),
                digests: e
                    .digests
                    .iter()
                    .filter_map(|d| d.hash_alg().map(|a| (a, d.digest.clone())))
                    .collect(),
            })
            .collect(),
    );
    Ok(claims)
}

/// A sealed build's runtime log must explain the quoted runtime PCR in every
/// quoted bank that covers it, and end with the statement the binding names.
fn check_runtime_log(input: &TpmInput<'_>, quoted: &PcrValues) -> Result<(), Vec<Reason>> {
    let pcr = input.runtime_pcr;
    let Some(bytes) = &input.evidence.runtime_log else {
        return match input.statement_digest {
            None => Ok(()),
            Some(_) => Err(vec![Reason::new(
                "runtime_log",
                Some(format!("a runtime log for PCR {pcr}")),
                Some("none".into()),
                "the attestation binds a build statement but sends no runtime log".into(),
            )]),
        };
    };
    let log = CelLog::parse(bytes).map_err(|e| {
        vec![Reason::new(
            "runtime_log",
            None,
            None,
            format!("runtime log (TCG CEL) does not parse: {e}"),
        )]
    })?;
    let mut reasons = Vec::new();
    let mut covered = false;
    for (bank, values) in quoted.banks() {
        let Some(q) = values.get(&pcr) else { continue };
        covered = true;
        let replayed = log
            .replay(*bank)
            .get(&pcr)
            .cloned()
            .unwrap_or_else(|| vec![0u8; bank.size()]);
        if &replayed != q {
            reasons.push(Reason::new(
                "runtime_log",
                Some(hex::encode(q)),
                Some(hex::encode(&replayed)),
                format!(
                    "PCR {pcr} ({bank}): quoted {}, runtime-log replay gives {} ({} records)",
                    hex::encode(q),
                    hex::encode(&replayed),
                    log.records.len()
                ),
            ));
        }
    }
    if !covered {
        reasons.push(Reason::new(
            "runtime_log",
            Some(format!("a quote covering PCR {pcr}")),
            Some("not quoted".into()),
            format!("a runtime log was sent but the quote does not cover PCR {pcr}"),
        ));
    }
    let logged = log.statement_digest();
    if logged != input.statement_digest {
        let show = |d: Option<[u8; 32]>| d.map(hex::encode).unwrap_or_else(|| "none".into());
        reasons.push(Reason::new(
            "runtime_log",
            Some(show(input.statement_digest)),
            Some(show(logged)),
            format!(
                "the runtime log ends with statement {}, but the binding names statement {}",
                show(logged),
                show(input.statement_digest)
            ),
        ));
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(reasons)
    }
}

/// Parses a build statement (in-toto Statement v1, SLSA Provenance v1) into
/// the claims a statement policy sees.
pub fn statement_claims(payload: &[u8]) -> Result<StatementClaims, Reason> {
    let bad = |e: String| {
        Reason::new(
            "statement",
            None,
            None,
            format!(
                "the build statement is not an in-toto Statement v1 with SLSA Provenance v1: {e}"
            ),
        )
    };
    let st = Statement::parse(payload).map_err(|e| bad(e.to_string()))?;
    let prov = st.provenance().map_err(|e| bad(e.to_string()))?;
    Ok(StatementClaims {
        build_type: prov.build_definition.build_type.clone(),
        materials: prov
            .build_definition
            .resolved_dependencies
            .iter()
            .map(|m| MaterialClaim {
                name: m.name.clone(),
                uri: m.uri.clone(),
                digests: m.digest.clone(),
            })
            .collect(),
    })
}
