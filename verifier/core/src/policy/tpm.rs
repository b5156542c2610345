//! Matching verified TPM claims against a reference set (PCR values, event
//! rules, EK CAs). The document format is described in the parent module.
//!
//! Event rules are appraised event by event (TCG PC Client PFP 1.06 §10:
//! each event's digest is what was extended): a rule is met by an event in
//! its PCR, of its type, whose decoded data contains its description, with
//! one of its digests. Otherwise the refusal names the PCR, the events of
//! that kind (index, type, description) and both digests.

use super::{EventRule, TpmRule};
use crate::claims::{EventClaim, TpmClaims};
use sealbuild_common::api::Reason;

pub(super) fn match_tpm(name: &str, r: &TpmRule, c: &TpmClaims) -> Vec<Reason> {
    let mut out = Vec::new();
    if !r.ek_cas.is_empty() {
        match &c.ek_root_fingerprint {
            Some(fp) if r.ek_cas.contains(fp) => {}
            seen => out.push(Reason::new(
                "ek_ca",
                Some(r.ek_cas.iter().cloned().collect::<Vec<_>>().join(" | ")),
                Some(seen.clone().unwrap_or_else(|| "no EK certificate".into())),
                format!(
                    "reference '{name}': EK root CA {} is not one of the allowed CAs",
                    c.ek_root_subject
                        .as_deref()
                        .or(seen.as_deref())
                        .unwrap_or("(none)")
                ),
            )),
        }
    }
    for (bank, per_pcr) in &r.pcrs {
        for (pcr, accepted) in per_pcr {
            let quoted = c.pcrs.get(bank).and_then(|b| b.get(pcr));
            match quoted {
                None => out.push(Reason::new(
                    "pcr_policy",
                    Some(format!("{bank} PCR {pcr} in the quote")),
                    Some("not quoted".into()),
                    format!("reference '{name}': PCR {pcr} ({bank}) is required by policy but the quote does not cover it"),
                )),
                Some(v) if accepted.contains(v) => {}
                Some(v) => {
                    let expected = accepted.iter().map(hex::encode).collect::<Vec<_>>();
                    let event = c
                        .last_event(*pcr)
                        .map(|e| format!(" (last event {}: {})", e.index, e.event_type))
                        .unwrap_or_default();
                    out.push(Reason::new(
                        "pcr_policy",
                        Some(expected.join(" | ")),
                        Some(hex::encode(v)),
                        format!(
                            "reference '{name}': PCR {pcr} ({bank}): expected {}, got {}{event}",
                            if expected.len() == 1 {
                                expected.join("")
                            } else {
                                format!("one of [{}]", expected.join(", "))
                            },
                            hex::encode(v)
                        ),
                    ));
                }
            }
        }
    }
    if r.require_event_log && c.events.is_none() {
        out.push(Reason::new(
            "event_log",
            Some("a firmware event log consistent with the quote".into()),
            Some("none".into()),
            format!("reference '{name}': requires a verified event log, none was supplied"),
        ));
    }
    if let Some(events) = &c.events {
        for rule in &r.events {
            if let Some(reason) = event_rule_problem(name, rule, events) {
                out.push(reason);
            }
        }
    }
    out
}

fn show_digest(bank: sealbuild_common::HashAlg, e: &EventClaim) -> String {
    e.digests
        .get(&bank)
        .map(|d| format!("{bank}:{}", hex::encode(d)))
        .unwrap_or_else(|| format!("(no {bank} digest)"))
}

fn show_event(e: &EventClaim) -> String {
    if e.description.is_empty() {
        format!("event {} ({})", e.index, e.event_type)
    } else {
        format!("event {} ({} {})", e.index, e.event_type, e.description)
    }
}

/// Why the verified events do not satisfy `rule`, if they do not: the
/// events of the rule's kind (PCR, type, description) with other digests are
/// named with both digests.
fn event_rule_problem(name: &str, rule: &EventRule, events: &[EventClaim]) -> Option<Reason> {
    let of_kind: Vec<&EventClaim> = events
        .iter()
        .filter(|e| {
            e.pcr == rule.pcr
                && rule.event_type.as_ref().is_none_or(|t| t == &e.event_type)
                && rule
                    .description
                    .as_ref()
                    .is_none_or(|d| e.description.contains(d.as_str()))
        })
        .collect();
    if of_kind.iter().any(|e| {
        e.digests
            .get(&rule.bank)
            .is_some_and(|d| rule.digests.contains(d))
    }) {
        return None;
    }
    let expected: Vec<String> = rule
        .digests
        .iter()
        .map(|d| format!("{}:{}", rule.bank, hex::encode(d)))
        .collect();
    let expected_text = if expected.len() == 1 {
        expected.join("")
    } else {
        format!("one of [{}]", expected.join(", "))
    };
    let kind = format!(
        "{}{}",
        rule.event_type.as_deref().unwrap_or("(any type)"),
        rule.description
            .as_ref()
            .map(|d| format!(" \"{d}\""))
            .unwrap_or_default()
    );
    let seen = if of_kind.is_empty() {
        "no such event".to_string()
    } else {
        of_kind
            .iter()
            .map(|e| format!("{}: {}", show_event(e), show_digest(rule.bank, e)))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let message = match of_kind.as_slice() {
        [] => format!(
            "reference '{name}': PCR {} has no {kind} event (expected digest {expected_text})",
            rule.pcr
        ),
        [e] => format!(
            "reference '{name}': PCR {} {} differs: expected {expected_text}, got {}",
            rule.pcr,
            show_event(e),
            show_digest(rule.bank, e)
        ),
        _ => format!(
            "reference '{name}': PCR {} has no {kind} event with digest {expected_text} (seen: {seen})",
            rule.pcr
        ),
    };
    Some(Reason::new(
        "event_policy",
        Some(expected.join(" | ")),
        Some(seen),
        message,
    ))
}
