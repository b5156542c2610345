//! The runtime measurement log: digests and replay against an independent
//! computation, round trips, and a mutated twin for every parsing rule.
// Test code: a failed unwrap, expect or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use proptest::prelude::*;
use sealbuild_common::cel::{
    CelLog, RuntimeEvent, RuntimeEventKind, CONTENT_TYPE, MAX_EVENT_DATA_LEN, MAX_RECORDS,
};
use sealbuild_common::{FormatError, HashAlg};
use serde_json::{json, Value};

const SOURCE: &str = "git+https://example.invalid/repo@0123";

fn events() -> Vec<RuntimeEvent> {
    vec![
        RuntimeEvent::source(SOURCE),
        RuntimeEvent::command(&["make".to_string(), "all".to_string()]),
        RuntimeEvent::statement(&[0x11; 32]),
    ]
}

fn log() -> CelLog {
    let mut log = CelLog::new();
    for e in events() {
        log.push(23, &e, &[HashAlg::Sha384, HashAlg::Sha256])
            .unwrap();
    }
    log
}

// Python: hashlib.sha256(b"sealbuild-cel-v1\0" + kind + b"\0" + data), and
// the PCR replay `pcr = H(pcr + digest)` from zero, in a few lines of Python
// independent of this code.
const DIGESTS_SHA256: [&str; 3] = [
    "bc428bcdd38a8c1433ab0946f6beb66c96e97c2026d07a238bd8c030b75cab06",
    "0692b7c26818992cd6322250bc151e57c113defbae190ffe63bd9546c484ffa5",
    "1717cffe7b05b07864df0347e4b45f34ac7ead2ff4f6db45fdc95b57e32fb247",
];
const PCR23_SHA256: &str = "f6a5504dff7fa733cd2d2713040facdebcb7ff5311f9715af22f47f772245b5e";
const PCR23_SHA384: &str = "514f13b91e77e8b2ed26dea2a4ca49a5a2b6d143cdfadf4452c4113fadea6c8d9e24cacee898f313cc1762003bc5302f";

#[test]
fn digests_and_replay_match_an_independent_computation() {
    for (e, want) in events().iter().zip(DIGESTS_SHA256) {
        assert_eq!(hex::encode(e.digest(HashAlg::Sha256)), want, "{:?}", e.kind);
    }
    let log = log();
    assert_eq!(hex::encode(&log.replay(HashAlg::Sha256)[&23]), PCR23_SHA256);
    assert_eq!(hex::encode(&log.replay(HashAlg::Sha384)[&23]), PCR23_SHA384);
    // No record was extended into SHA-1: nothing to replay there.
    assert!(log.replay(HashAlg::Sha1).is_empty());
    assert_eq!(log.statement_digest(), Some([0x11; 32]));
    // digest_list is what a PCR extend takes, in bank order.
    let r = &log.records[0];
    let list = r.digest_list();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].0, HashAlg::Sha256);
    assert_eq!(hex::encode(list[0].1), DIGESTS_SHA256[0]);
}

#[test]
fn json_shape_is_cel_json() {
    let v: Value = serde_json::from_slice(&log().to_json()).unwrap();
    assert_eq!(
        v[0],
        json!({
            "recnum": 0,
            "pcr": 23,
            "digests": [
                {"hashAlg": "sha256", "digest": DIGESTS_SHA256[0]},
                {"hashAlg": "sha384", "digest": hex::encode(events()[0].digest(HashAlg::Sha384))},
            ],
            "content_type": CONTENT_TYPE,
            "content": {"kind": "source", "data": SOURCE},
        })
    );
    assert_eq!(v[1]["content"]["data"], r#"["make","all"]"#);
    assert_eq!(v[2]["content"]["kind"], "statement");
}

#[test]
fn round_trip_identical_bytes() {
    let log = log();
    let json = log.to_json();
    let back = CelLog::parse(&json).unwrap();
    assert_eq!(back, log);
    assert_eq!(back.to_json(), json);
    // Pretty-printed input parses to the same log.
    let pretty =
        serde_json::to_vec_pretty(&serde_json::from_slice::<Value>(&json).unwrap()).unwrap();
    assert_eq!(CelLog::parse(&pretty).unwrap(), log);
    // The empty log.
    assert_eq!(CelLog::parse(b"[]").unwrap(), CelLog::new());
    assert_eq!(CelLog::new().to_json(), b"[]");
    assert_eq!(CelLog::new().statement_digest(), None);
}

fn good() -> Value {
    serde_json::from_slice(&log().to_json()).unwrap()
}

fn parse_value(v: &Value) -> Result<CelLog, FormatError> {
    CelLog::parse(&serde_json::to_vec(v).unwrap())
}

#[test]
fn changed_content_fails_naming_the_record() {
    let mut v = good();
    v[1]["content"]["data"] = json!(r#"["make","evil"]"#);
    let err = parse_value(&v).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(
            &err,
            FormatError::Unexpected {
                field: "CEL digests digest",
                ..
            }
        ),
        "{msg}"
    );
    assert!(msg.contains("(recnum 1)"), "{msg}");
    assert!(msg.contains("recomputed from the content"), "{msg}");
    assert!(msg.contains(DIGESTS_SHA256[1]), "{msg}");
}

#[test]
fn twins_fail_with_the_rule_they_break() {
    assert!(parse_value(&good()).is_ok());
    type Mutation = (&'static str, fn(&mut Value), &'static str);
    let twins: Vec<Mutation> = vec![
        ("recnum gap", |v| v[1]["recnum"] = json!(2), "CEL recnum"),
        (
            "recnum from 1",
            |v| {
                for (i, r) in v.as_array_mut().unwrap().iter_mut().enumerate() {
                    r["recnum"] = json!(i + 1);
                }
            },
            "CEL recnum",
        ),
        (
            "records swapped",
            |v| v.as_array_mut().unwrap().swap(0, 1),
            "CEL recnum",
        ),
        (
            "record removed",
            |v| {
                v.as_array_mut().unwrap().remove(0);
            },
            "CEL recnum",
        ),
        ("pcr 24", |v| v[0]["pcr"] = json!(24), "CEL pcr"),
        ("negative pcr", |v| v[0]["pcr"] = json!(-1), "CEL-JSON log"),
        (
            "nv_index instead of pcr",
            |v| {
                let r = v[0].as_object_mut().unwrap();
                r.remove("pcr");
                r.insert("nv_index".into(), json!(23));
            },
            "CEL-JSON log",
        ),
        (
            "other content_type",
            |v| v[0]["content_type"] = json!("pcclient_std"),
            "CEL content_type",
        ),
        (
            "unknown kind",
            |v| v[0]["content"]["kind"] = json!("env"),
            "CEL-JSON log",
        ),
        (
            "unknown record member",
            |v| v[0]["extra"] = json!(1),
            "CEL-JSON log",
        ),
        (
            "unknown content member",
            |v| v[0]["content"]["extra"] = json!(1),
            "CEL-JSON log",
        ),
        ("no digests", |v| v[0]["digests"] = json!([]), "CEL digests"),
        (
            "unknown hashAlg",
            |v| v[0]["digests"][0]["hashAlg"] = json!("sm3_256"),
            "CEL digests hashAlg",
        ),
        (
            "upper-case digest",
            |v| {
                let d = v[0]["digests"][0]["digest"]
                    .as_str()
                    .unwrap()
                    .to_uppercase();
                v[0]["digests"][0]["digest"] = json!(d);
            },
            "CEL digests digest",
        ),
        (
            "short digest",
            |v| v[0]["digests"][0]["digest"] = json!("00"),
            "CEL digests digest",
        ),
        (
            "digest of another bank",
            |v| {
                v[0]["digests"][1]["hashAlg"] = json!("sha256");
            },
            "CEL digests digest",
        ),
        (
            "same bank twice",
            |v| {
                let d = v[0]["digests"][0].clone();
                v[0]["digests"].as_array_mut().unwrap().push(d);
            },
            "CEL digests",
        ),
        (
            "statement not last",
            |v| {
                let st = v[2].clone();
                let a = v.as_array_mut().unwrap();
                a.insert(1, st);
                for (i, r) in a.iter_mut().enumerate() {
                    r["recnum"] = json!(i);
                }
            },
            "CEL record order",
        ),
        (
            "empty source",
            |v| v[0]["content"]["data"] = json!(""),
            "CEL source event",
        ),
        (
            "command not JSON",
            |v| v[1]["content"]["data"] = json!("make all"),
            "CEL command event",
        ),
        (
            "command with spaces",
            |v| v[1]["content"]["data"] = json!(r#"["make", "all"]"#),
            "CEL command event",
        ),
        (
            "empty command",
            |v| v[1]["content"]["data"] = json!("[]"),
            "CEL command event",
        ),
        (
            "statement not hex",
            |v| v[2]["content"]["data"] = json!("xyz"),
            "CEL statement event",
        ),
        (
            "statement upper-case",
            |v| v[2]["content"]["data"] = json!("AB".repeat(32)),
            "CEL statement event",
        ),
        (
            "not an array",
            |v| *v = json!({"records": []}),
            "CEL-JSON log",
        ),
    ];
    for (what, mutate, field) in twins {
        let mut v = good();
        mutate(&mut v);
        let err = parse_value(&v).expect_err(what);
        let got = match &err {
            FormatError::Unexpected { field, .. } => field.to_string(),
            FormatError::Encoding { what, .. } => what.to_string(),
            other => other.to_string(),
        };
        assert_eq!(got, field, "{what}: {err}");
    }
}

#[test]
fn duplicate_names_and_bounds() {
    let json = String::from_utf8(log().to_json()).unwrap();
    let dup = json.replacen("\"pcr\":23,", "\"pcr\":23,\"pcr\":0,", 1);
    let err = CelLog::parse(dup.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("appears twice"), "{err}");
    assert!(matches!(
        CelLog::parse(&vec![b' '; 1024 * 1024 + 1]),
        Err(FormatError::TooLarge { .. })
    ));
    let long = RuntimeEvent::source(&"x".repeat(MAX_EVENT_DATA_LEN + 1));
    let mut log = CelLog::new();
    assert!(matches!(
        log.push(23, &long, &[HashAlg::Sha256]),
        Err(FormatError::TooLarge { .. })
    ));
}

#[test]
fn push_refuses_what_parse_refuses() {
    let mut log = CelLog::new();
    let src = RuntimeEvent::source(SOURCE);
    assert!(log.push(24, &src, &[HashAlg::Sha256]).is_err());
    assert!(log.push(23, &src, &[]).is_err());
    let bad = RuntimeEvent {
        kind: RuntimeEventKind::Statement,
        data: "nope".into(),
    };
    assert!(log.push(23, &bad, &[HashAlg::Sha256]).is_err());
    assert!(log.records.is_empty());
    // Banks given twice collapse to one digest each.
    let r = log
        .push(23, &src, &[HashAlg::Sha256, HashAlg::Sha256, HashAlg::Sha1])
        .unwrap();
    assert_eq!(r.digests.len(), 2);
    log.push(23, &RuntimeEvent::statement(&[1; 32]), &[HashAlg::Sha256])
        .unwrap();
    // Nothing after the statement.
    assert!(log.push(23, &src, &[HashAlg::Sha256]).is_err());
    assert_eq!(CelLog::parse(&log.to_json()).unwrap(), log);
    // The record limit.
    let mut full = CelLog::new();
    for _ in 0..MAX_RECORDS {
        full.push(16, &src, &[HashAlg::Sha256]).unwrap();
    }
    assert!(matches!(
        full.push(16, &src, &[HashAlg::Sha256]),
        Err(FormatError::TooLarge { .. })
    ));
    let json = full.to_json();
    assert_eq!(CelLog::parse(&json).unwrap().records.len(), MAX_RECORDS);
}

#[test]
fn replay_is_per_pcr_and_per_bank() {
    let mut log = CelLog::new();
    let a = RuntimeEvent::source("a");
    let b = RuntimeEvent::source("b");
    log.push(16, &a, &[HashAlg::Sha256]).unwrap();
    log.push(23, &b, &[HashAlg::Sha256, HashAlg::Sha1]).unwrap();
    let r256 = log.replay(HashAlg::Sha256);
    assert_eq!(r256.len(), 2);
    assert_eq!(
        r256[&16],
        HashAlg::Sha256.extend(&[0; 32], &a.digest(HashAlg::Sha256))
    );
    let r1 = log.replay(HashAlg::Sha1);
    assert_eq!(r1.keys().copied().collect::<Vec<_>>(), vec![23]);
    assert_eq!(
        r1[&23],
        HashAlg::Sha1.extend(&[0; 20], &b.digest(HashAlg::Sha1))
    );
    // A log that does not end with a statement has no statement digest.
    assert_eq!(log.statement_digest(), None);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(log) = CelLog::parse(&bytes) {
            prop_assert_eq!(CelLog::parse(&log.to_json()).unwrap(), log.clone());
            let _ = log.replay(HashAlg::Sha256);
            let _ = log.statement_digest();
        }
    }

    #[test]
    fn mutated_log_never_panics(pos in 0usize..2000, byte in any::<u8>()) {
        let mut b = log().to_json();
        let pos = pos % b.len();
        b[pos] = byte;
        if let Ok(l) = CelLog::parse(&b) {
            prop_assert_eq!(CelLog::parse(&l.to_json()).unwrap(), l.clone());
        }
    }

    #[test]
    fn any_argv_round_trips(argv in proptest::collection::vec(".*", 1..6)) {
        let e = RuntimeEvent::command(&argv);
        prop_assert!(e.check().is_ok());
        prop_assert_eq!(e.command_argv(), Some(argv));
        let mut log = CelLog::new();
        log.push(23, &e, &[HashAlg::Sha256]).unwrap();
        prop_assert_eq!(CelLog::parse(&log.to_json()).unwrap(), log);
    }
}
