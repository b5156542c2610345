//! Matching verified TPM claims against a reference set (PCR values, event
//! rules, EK CAs). The document format is described in the parent module.

use super::TpmRule;
use crate::claims::TpmClaims;
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
            let found = events.iter().any(|e| {
                e.pcr == rule.pcr
                    && rule.event_type.as_ref().is_none_or(|t| t == &e.event_type)
                    && e.digests.get(&rule.bank) == Some(&rule.digest)
            });
            if !found {
                let in_pcr: Vec<String> = events
                    .iter()
                    .filter(|e| {
                        e.pcr == rule.pcr
                            && rule.event_type.as_ref().is_none_or(|t| t == &e.event_type)
                    })
                    .map(|e| {
                        format!(
                            "event {}: {} {}",
                            e.index,
                            e.event_type,
                            e.digests
                                .get(&rule.bank)
                                .map(hex::encode)
                                .unwrap_or_else(|| format!("(no {} digest)", rule.bank))
                        )
                    })
                    .collect();
                out.push(Reason::new(
                    "event_policy",
                    Some(format!("{}:{}", rule.bank, hex::encode(&rule.digest))),
                    Some(if in_pcr.is_empty() {
                        "no such event".into()
                    } else {
                        in_pcr.join("; ")
                    }),
                    format!(
                        "reference '{name}': PCR {} has no {} event with {} digest {}{}",
                        rule.pcr,
                        rule.event_type.as_deref().unwrap_or("(any type)"),
                        rule.bank,
                        hex::encode(&rule.digest),
                        if in_pcr.is_empty() {
                            String::new()
                        } else {
                            format!(" (seen: {})", in_pcr.join("; "))
                        }
                    ),
                ));
            }
        }
    }
    out
}
