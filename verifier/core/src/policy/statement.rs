//! Matching a build statement against a key's `[key.statement]` rule.

use super::StatementRule;
use crate::claims::StatementClaims;
use sealbuild_common::api::Reason;

fn uri_matches(pattern: &str, uri: &str) -> bool {
    uri == pattern
        || uri
            .strip_prefix(pattern)
            .is_some_and(|rest| rest.starts_with('@'))
}

pub(super) fn statement_problems(
    key_id: &str,
    rule: &StatementRule,
    st: &StatementClaims,
) -> Vec<Reason> {
    let mut out = Vec::new();
    let source = st.source();
    let source_uri = source.and_then(|s| s.uri.clone()).unwrap_or_default();
    if !rule.source_uris.is_empty() && !rule.source_uris.iter().any(|p| uri_matches(p, &source_uri))
    {
        out.push(Reason::new(
            "statement_policy",
            Some(rule.source_uris.join(" | ")),
            Some(if source_uri.is_empty() {
                "no source uri".into()
            } else {
                source_uri.clone()
            }),
            format!(
                "key '{key_id}': source {} is not one of the allowed source repositories",
                if source_uri.is_empty() {
                    "(none)"
                } else {
                    source_uri.as_str()
                }
            ),
        ));
    }
    if !rule.source_digests.is_empty() {
        let seen: Vec<String> = source
            .map(|s| s.digests.iter().map(|(a, d)| format!("{a}:{d}")).collect())
            .unwrap_or_default();
        if !rule.source_digests.iter().any(|d| seen.contains(d)) {
            out.push(Reason::new(
                "statement_policy",
                Some(rule.source_digests.join(" | ")),
                Some(seen.join(", ")),
                format!(
                    "key '{key_id}': source digest {} is not one of the allowed digests",
                    if seen.is_empty() {
                        "(none)".to_string()
                    } else {
                        seen.join(", ")
                    }
                ),
            ));
        }
    }
    if !rule.build_types.is_empty() && !rule.build_types.contains(&st.build_type) {
        out.push(Reason::new(
            "statement_policy",
            Some(rule.build_types.join(" | ")),
            Some(st.build_type.clone()),
            format!(
                "key '{key_id}': build type {} is not allowed",
                st.build_type
            ),
        ));
    }
    for m in &rule.required_materials {
        let present = st
            .materials
            .iter()
            .any(|x| x.uri.as_deref() == Some(m.as_str()) || x.name.as_deref() == Some(m.as_str()));
        if !present {
            out.push(Reason::new(
                "statement_policy",
                Some(m.clone()),
                Some("absent".into()),
                format!("key '{key_id}': required material {m} is not among the build's resolved dependencies"),
            ));
        }
    }
    out
}
