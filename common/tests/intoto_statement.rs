//! The build statement: exact payload bytes, round trips, and a mutated twin
//! for every rule `Statement::parse` and `Statement::provenance` enforce.
// Test code: a failed unwrap, expect or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use proptest::prelude::*;
use sealbuild_common::intoto::{
    format_rfc3339_utc, statement_digest, BuildDefinition, BuildMetadata, Builder, Provenance,
    ResourceDescriptor, RunDetails, Statement, SEALBUILD_BUILD_TYPE, SLSA_PROVENANCE_V1,
    STATEMENT_TYPE,
};
use sealbuild_common::FormatError;
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn provenance() -> Provenance {
    let mut dep = BTreeMap::new();
    dep.insert(
        "gitCommit".to_string(),
        "0123456789abcdef0123456789abcdef01234567".to_string(),
    );
    let mut version = BTreeMap::new();
    version.insert("sealbuild-agent".to_string(), "0.1.0".to_string());
    Provenance {
        build_definition: BuildDefinition {
            build_type: SEALBUILD_BUILD_TYPE.to_string(),
            external_parameters: json!({
                "source": "git+https://example.invalid/repo@0123",
                "command": ["make", "all"],
            }),
            internal_parameters: None,
            resolved_dependencies: vec![ResourceDescriptor::uri_with_digest(
                "git+https://example.invalid/repo",
                dep,
            )],
        },
        run_details: RunDetails {
            builder: Builder {
                id: "https://sealbuild.invalid/builders/tpm-vm/v1".to_string(),
                version: Some(version),
                builder_dependencies: None,
            },
            metadata: Some(BuildMetadata {
                invocation_id: Some("inv-1".to_string()),
                started_on: Some(format_rfc3339_utc(1_795_000_000)),
                finished_on: Some(format_rfc3339_utc(1_795_000_020)),
            }),
            byproducts: None,
        },
    }
}

fn statement() -> Statement {
    Statement::new_provenance(
        vec![ResourceDescriptor::artifact("out/hello", &[0xab; 32])],
        &provenance(),
    )
}

/// The payload, written out by hand: Statement and subject members in
/// declaration order, predicate objects with sorted member names.
const GOLDEN: &str = concat!(
    r#"{"_type":"https://in-toto.io/Statement/v1","#,
    r#""subject":[{"name":"out/hello","digest":{"sha256":"abababababababababababababababababababababababababababababababab"}}],"#,
    r#""predicateType":"https://slsa.dev/provenance/v1","#,
    r#""predicate":{"buildDefinition":{"buildType":"https://sealbuild.invalid/build-types/sealed-build/v1","#,
    r#""externalParameters":{"command":["make","all"],"source":"git+https://example.invalid/repo@0123"},"#,
    r#""resolvedDependencies":[{"digest":{"gitCommit":"0123456789abcdef0123456789abcdef01234567"},"uri":"git+https://example.invalid/repo"}]},"#,
    r#""runDetails":{"builder":{"id":"https://sealbuild.invalid/builders/tpm-vm/v1","version":{"sealbuild-agent":"0.1.0"}},"#,
    r#""metadata":{"finishedOn":"2026-11-18T11:07:00Z","invocationId":"inv-1","startedOn":"2026-11-18T11:06:40Z"}}}}"#
);

/// `hashlib.sha256(GOLDEN.encode()).hexdigest()` in Python.
const GOLDEN_SHA256: &str = "0039cf580b43d33e18ea726813846bc971fa58af59a972cea40a6a466f85b716";

#[test]
fn payload_bytes_are_exactly_the_golden_ones() {
    let payload = statement().to_payload();
    assert_eq!(String::from_utf8(payload.clone()).unwrap(), GOLDEN);
    assert_eq!(hex::encode(statement_digest(&payload)), GOLDEN_SHA256);
}

#[test]
fn round_trip_parse_serialize_identical_bytes() {
    let st = statement();
    let payload = st.to_payload();
    let parsed = Statement::parse(&payload).unwrap();
    assert_eq!(parsed, st);
    assert_eq!(parsed.to_payload(), payload);
    assert_eq!(parsed.provenance().unwrap(), provenance());
    assert_eq!(parsed.type_, STATEMENT_TYPE);
    assert_eq!(parsed.predicate_type, SLSA_PROVENANCE_V1);
    assert_eq!(parsed.subject_digests(), vec![("out/hello", [0xab; 32])]);
}

#[test]
fn optional_fields_null_absent_and_content() {
    // in-toto: unset, null and empty mean the same; content is base64.
    let v = json!({
        "_type": STATEMENT_TYPE,
        "subject": [{"name": "a", "uri": null, "digest": {"sha256": "00".repeat(32), "sha512": "11".repeat(64)},
                     "content": "aGVsbG8=", "mediaType": "text/plain",
                     "annotations": {"k": [1, 2]}}],
        "predicateType": "https://example.invalid/other/v1",
    });
    let st = Statement::parse(&serde_json::to_vec(&v).unwrap()).unwrap();
    assert_eq!(st.subject[0].content.as_deref(), Some(&b"hello"[..]));
    assert_eq!(st.predicate, Value::Null);
    // Not SLSA: the provenance accessor says so.
    assert!(matches!(
        st.provenance(),
        Err(FormatError::Unexpected {
            field: "predicateType",
            ..
        })
    ));
    // Its own serialization parses back to the same value.
    assert_eq!(Statement::parse(&st.to_payload()).unwrap(), st);
}

fn good() -> Value {
    serde_json::from_str(GOLDEN).unwrap()
}

fn parse_value(v: &Value) -> Result<Statement, FormatError> {
    Statement::parse(&serde_json::to_vec(v).unwrap())
}

fn field_of(e: &FormatError) -> String {
    match e {
        FormatError::Unexpected { field, .. } => field.to_string(),
        FormatError::Encoding { what, .. } => what.to_string(),
        other => other.to_string(),
    }
}

#[test]
fn statement_twins_fail_with_the_rule_they_break() {
    assert!(parse_value(&good()).is_ok());
    type Mutation = (&'static str, fn(&mut Value), &'static str);
    let twins: Vec<Mutation> = vec![
        (
            "wrong _type",
            |v| v["_type"] = json!("https://in-toto.io/Statement/v0.1"),
            "_type",
        ),
        (
            "no _type",
            |v| {
                v.as_object_mut().unwrap().remove("_type");
            },
            "in-toto Statement",
        ),
        ("empty subject", |v| v["subject"] = json!([]), "subject"),
        (
            "subject without name",
            |v| {
                v["subject"][0].as_object_mut().unwrap().remove("name");
            },
            "subject.name",
        ),
        (
            "empty subject name",
            |v| v["subject"][0]["name"] = json!(""),
            "subject.name",
        ),
        (
            "subject without sha256",
            |v| v["subject"][0]["digest"] = json!({"sha512": "11".repeat(64)}),
            "subject.digest.sha256",
        ),
        (
            "upper-case hex",
            |v| v["subject"][0]["digest"]["sha256"] = json!("AB".repeat(32)),
            "subject.digest",
        ),
        (
            "short sha256",
            |v| v["subject"][0]["digest"]["sha256"] = json!("ab".repeat(31)),
            "subject.digest",
        ),
        (
            "non-hex sha256",
            |v| v["subject"][0]["digest"]["sha256"] = json!("zz".repeat(32)),
            "subject.digest",
        ),
        (
            "empty custom digest value",
            |v| v["subject"][0]["digest"]["customAlg"] = json!(""),
            "subject.digest",
        ),
        (
            "duplicate subject names",
            |v| {
                let s = v["subject"][0].clone();
                v["subject"].as_array_mut().unwrap().push(s);
            },
            "subject.name",
        ),
        (
            "unknown top-level field",
            |v| v["extra"] = json!(1),
            "in-toto Statement",
        ),
        (
            "unknown subject field",
            |v| v["subject"][0]["sha256"] = json!("x"),
            "in-toto Statement",
        ),
        (
            "subject content not base64",
            |v| v["subject"][0]["content"] = json!("%%"),
            "in-toto Statement",
        ),
        (
            "empty predicateType",
            |v| v["predicateType"] = json!(""),
            "predicateType",
        ),
        (
            "predicate is an array",
            |v| v["predicate"] = json!([1]),
            "predicate",
        ),
        (
            "subject is an object",
            |v| v["subject"] = json!({}),
            "in-toto Statement",
        ),
    ];
    for (what, mutate, field) in twins {
        let mut v = good();
        mutate(&mut v);
        let err = parse_value(&v).expect_err(what);
        assert_eq!(field_of(&err), field, "{what}: {err}");
    }
}

#[test]
fn duplicate_member_names_refused() {
    let dup = GOLDEN.replacen(
        r#"{"_type":"https://in-toto.io/Statement/v1","#,
        r#"{"_type":"https://in-toto.io/Statement/v1","_type":"https://in-toto.io/Statement/v1","#,
        1,
    );
    let err = Statement::parse(dup.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("appears twice"), "{err}");
    // Inside the predicate, where serde_json alone would keep the last one.
    let dup = GOLDEN.replacen(
        r#""invocationId":"inv-1","#,
        r#""invocationId":"inv-1","invocationId":"inv-2","#,
        1,
    );
    assert!(Statement::parse(dup.as_bytes()).is_err());
}

#[test]
fn size_and_syntax_bounds() {
    assert!(Statement::parse(b"").is_err());
    assert!(Statement::parse(b"null").is_err());
    let mut trailing = GOLDEN.as_bytes().to_vec();
    trailing.extend_from_slice(b" x");
    assert!(Statement::parse(&trailing).is_err());
    let big = vec![b' '; 4 * 1024 * 1024 + 1];
    assert!(matches!(
        Statement::parse(&big),
        Err(FormatError::TooLarge { .. })
    ));
}

fn provenance_err(mutate: fn(&mut Value)) -> FormatError {
    let mut v = good();
    mutate(&mut v["predicate"]);
    let st = parse_value(&v).unwrap();
    st.provenance().unwrap_err()
}

#[test]
fn provenance_twins_fail_with_the_rule_they_break() {
    type Mutation = (&'static str, fn(&mut Value), &'static str);
    let twins: Vec<Mutation> = vec![
        (
            "no buildType",
            |p| {
                p["buildDefinition"]
                    .as_object_mut()
                    .unwrap()
                    .remove("buildType");
            },
            "SLSA Provenance v1 predicate",
        ),
        (
            "empty buildType",
            |p| p["buildDefinition"]["buildType"] = json!(""),
            "buildDefinition.buildType",
        ),
        (
            "no externalParameters",
            |p| {
                p["buildDefinition"]
                    .as_object_mut()
                    .unwrap()
                    .remove("externalParameters");
            },
            "SLSA Provenance v1 predicate",
        ),
        (
            "externalParameters a string",
            |p| p["buildDefinition"]["externalParameters"] = json!("x"),
            "buildDefinition.externalParameters",
        ),
        (
            "internalParameters a number",
            |p| p["buildDefinition"]["internalParameters"] = json!(3),
            "buildDefinition.internalParameters",
        ),
        (
            "dependency with nothing",
            |p| p["buildDefinition"]["resolvedDependencies"] = json!([{"name": "x"}]),
            "buildDefinition.resolvedDependencies",
        ),
        (
            "dependency with a short gitCommit",
            |p| {
                p["buildDefinition"]["resolvedDependencies"][0]["digest"]["gitCommit"] =
                    json!("0123")
            },
            "buildDefinition.resolvedDependencies",
        ),
        (
            "no builder id",
            |p| {
                p["runDetails"]["builder"]
                    .as_object_mut()
                    .unwrap()
                    .remove("id");
            },
            "SLSA Provenance v1 predicate",
        ),
        (
            "empty builder id",
            |p| p["runDetails"]["builder"]["id"] = json!(""),
            "runDetails.builder.id",
        ),
        (
            "startedOn not RFC 3339",
            |p| p["runDetails"]["metadata"]["startedOn"] = json!("yesterday"),
            "runDetails.metadata.startedOn",
        ),
        (
            "finishedOn without zone",
            |p| p["runDetails"]["metadata"]["finishedOn"] = json!("2026-11-18T11:07:00"),
            "runDetails.metadata.finishedOn",
        ),
        (
            "unknown predicate field",
            |p| p["buildDefinitionX"] = json!({}),
            "SLSA Provenance v1 predicate",
        ),
        (
            "unknown runDetails field",
            |p| p["runDetails"]["runner"] = json!("x"),
            "SLSA Provenance v1 predicate",
        ),
        (
            "byproduct with nothing",
            |p| p["runDetails"]["byproducts"] = json!([{}]),
            "runDetails.byproducts",
        ),
    ];
    for (what, mutate, field) in twins {
        let err = provenance_err(mutate);
        assert_eq!(field_of(&err), field, "{what}: {err}");
    }
}

#[test]
fn messages_say_what_was_expected_and_seen() {
    let mut v = good();
    v["subject"][0]["digest"]["sha256"] = json!("AB".repeat(32));
    let msg = parse_value(&v).unwrap_err().to_string();
    assert!(msg.contains("sha256: 64 lower-case hex digits"), "{msg}");
    assert!(msg.contains("subject 0 (\"out/hello\")"), "{msg}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(st) = Statement::parse(&bytes) {
            let _ = st.provenance();
            prop_assert_eq!(Statement::parse(&st.to_payload()).unwrap(), st);
        }
    }

    #[test]
    fn mutated_golden_never_panics(pos in 0usize..GOLDEN.len(), byte in any::<u8>()) {
        let mut b = GOLDEN.as_bytes().to_vec();
        b[pos] = byte;
        if let Ok(st) = Statement::parse(&b) {
            let _ = st.provenance();
            prop_assert_eq!(Statement::parse(&st.to_payload()).unwrap(), st);
        }
    }
}
