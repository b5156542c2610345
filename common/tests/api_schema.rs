//! The JSON Schemas of the API requests (`sealbuild_common::api::schema`)
//! accept exactly what the bounds (`api::bounds`) accept: at, just over and
//! around each bound, and for every ASCII character in ids.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sealbuild_common::api::bounds::*;
use sealbuild_common::api::{AttestRequest, Evidence, NonceRequest, SnpCertKind, SnpCertificate};
use sealbuild_common::api::{SnpEvidence, TpmEvidence};
use std::collections::BTreeMap;

fn validator<T: schemars::JsonSchema>() -> jsonschema::Validator {
    let schema = serde_json::to_value(schemars::schema_for!(T)).unwrap();
    jsonschema::draft202012::new(&schema).unwrap()
}

/// The schema and the bounds agree on `req`; returns the verdict.
fn agree<T: serde::Serialize + Bounded>(v: &jsonschema::Validator, req: &T) -> bool {
    let json = serde_json::to_value(req).unwrap();
    let by_schema = v.is_valid(&json);
    let by_bounds = req.check_bounds().is_ok();
    assert_eq!(
        by_schema,
        by_bounds,
        "schema says {by_schema}, bounds say {by_bounds} ({:?}) for {}",
        req.check_bounds().err(),
        serde_json::to_string(&json)
            .unwrap()
            .chars()
            .take(300)
            .collect::<String>()
    );
    by_bounds
}

/// A change to a request.
type Edit = Box<dyn Fn(&mut AttestRequest)>;

fn attest() -> AttestRequest {
    AttestRequest {
        agent_id: "snp:build-vm.7".into(),
        nonce: "ab".repeat(32),
        ephemeral_public_key: vec![4; 32],
        statement_digest: Some("cd".repeat(32)),
        statement: Some(b"{}".to_vec()),
        evidence: Evidence::Snp(SnpEvidence {
            report: vec![0; 1184],
            certificates: vec![SnpCertificate {
                kind: SnpCertKind::Vcek,
                der: vec![0x30; 1000],
            }],
        }),
        keys: Some(vec!["build-signing".into()]),
    }
}

#[test]
fn id_characters_agree() {
    let v = validator::<NonceRequest>();
    let mut accepted = 0;
    for c in (0u8..0x80)
        .map(char::from)
        .chain(['é', '\u{2028}', '\u{1b}'])
    {
        let r = NonceRequest {
            agent_id: format!("a{c}b"),
        };
        if agree(&v, &r) {
            accepted += 1;
        }
    }
    // Letters, digits and . _ : -
    assert_eq!(accepted, 26 + 26 + 10 + 4);
    for len in [0, 1, MAX_ID, MAX_ID + 1] {
        agree(
            &v,
            &NonceRequest {
                agent_id: "a".repeat(len),
            },
        );
    }
}

#[test]
fn attest_bounds_agree() {
    let v = validator::<AttestRequest>();
    assert!(agree(&v, &attest()));
    let edits: Vec<Edit> = vec![
        Box::new(|r| r.nonce = "a".repeat(MAX_HEX)),
        Box::new(|r| r.nonce = "a".repeat(MAX_HEX + 1)),
        Box::new(|r| r.nonce = "zz".into()),
        Box::new(|r| r.statement_digest = Some("g".into())),
        Box::new(|r| r.ephemeral_public_key = vec![0; MAX_PUBLIC_KEY]),
        Box::new(|r| r.ephemeral_public_key = vec![0; MAX_PUBLIC_KEY + 1]),
        Box::new(|r| r.keys = Some(vec!["k".into(); MAX_KEYS])),
        Box::new(|r| r.keys = Some(vec!["k".into(); MAX_KEYS + 1])),
        Box::new(|r| r.keys = Some(vec!["a:b".into()])),
        Box::new(|r| r.keys = Some(vec!["k".repeat(MAX_KEY_ID)])),
        Box::new(|r| r.keys = Some(vec!["k".repeat(MAX_KEY_ID + 1)])),
        Box::new(|r| r.keys = Some(vec![String::new()])),
        Box::new(|r| r.keys = None),
        Box::new(|r| r.statement = Some(vec![b' '; sealbuild_common::intoto::MAX_STATEMENT_LEN])),
        Box::new(|r| {
            r.statement = Some(vec![b' '; sealbuild_common::intoto::MAX_STATEMENT_LEN + 1])
        }),
        Box::new(|r| {
            r.evidence = Evidence::Snp(SnpEvidence {
                report: vec![0; MAX_REPORT + 1],
                certificates: vec![],
            })
        }),
        Box::new(|r| {
            r.evidence = Evidence::Snp(SnpEvidence {
                report: vec![0; MAX_REPORT],
                certificates: vec![
                    SnpCertificate {
                        kind: SnpCertKind::Ark,
                        der: vec![1; MAX_CERT],
                    };
                    MAX_CERTS
                ],
            })
        }),
        Box::new(|r| {
            r.evidence = Evidence::Snp(SnpEvidence {
                report: vec![0; 10],
                certificates: vec![
                    SnpCertificate {
                        kind: SnpCertKind::Ark,
                        der: vec![1; 10],
                    };
                    MAX_CERTS + 1
                ],
            })
        }),
        Box::new(|r| {
            r.evidence = Evidence::Snp(SnpEvidence {
                report: vec![0; 10],
                certificates: vec![SnpCertificate {
                    kind: SnpCertKind::Vlek,
                    der: vec![1; MAX_CERT + 1],
                }],
            })
        }),
    ];
    for edit in edits {
        let mut r = attest();
        edit(&mut r);
        agree(&v, &r);
    }
}

fn tpm(pcrs: BTreeMap<String, BTreeMap<u32, String>>, log: usize) -> Evidence {
    Evidence::Tpm(TpmEvidence {
        quote: vec![0; MAX_TPM_STRUCTURE],
        signature: vec![0; 256],
        pcrs,
        event_log: Some(vec![0; log]),
        runtime_log: None,
    })
}

#[test]
fn tpm_bounds_agree() {
    let v = validator::<AttestRequest>();
    let bank = |n: u32, len: usize| -> BTreeMap<u32, String> {
        (0..n).map(|i| (i, "0".repeat(len))).collect()
    };
    let cases = [
        tpm(BTreeMap::from([("sha256".into(), bank(24, 64))]), MAX_LOG),
        tpm(
            BTreeMap::from([("sha256".into(), bank(24, 64))]),
            MAX_LOG + 1,
        ),
        tpm(
            BTreeMap::from([("sha256".into(), bank(MAX_PCRS as u32 + 1, 64))]),
            0,
        ),
        tpm(BTreeMap::from([("sha256".into(), bank(1, MAX_HEX + 1))]), 0),
        tpm(BTreeMap::from([("s".repeat(MAX_BANK_NAME), bank(1, 2))]), 0),
        tpm(
            BTreeMap::from([("s".repeat(MAX_BANK_NAME + 1), bank(1, 2))]),
            0,
        ),
        tpm(BTreeMap::from([("sha-256".into(), bank(1, 2))]), 0),
        tpm(
            (0..=MAX_BANKS)
                .map(|i| (format!("b{i}"), bank(1, 2)))
                .collect(),
            0,
        ),
    ];
    for evidence in cases {
        let mut r = attest();
        r.evidence = evidence;
        agree(&v, &r);
    }
}
