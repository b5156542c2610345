//! Policy v1: parsing refuses malformed documents with the offending entry
//! named; appraisal matches, refuses and explains.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sealbuild_common::HashAlg;
use sealbuild_verifier_core::claims::{EventClaim, PlatformClaims, TpmClaims};
use sealbuild_verifier_core::policy::{Appraiser, Policy, PolicyError};
use std::collections::BTreeMap;

const A: &str = "aa";
const B: &str = "bb";

fn doc(pcr0: &str, extra: &str) -> String {
    format!(
        r#"version = 1
[[reference]]
name = "vm"
platform = "tpm"
{extra}
[reference.pcrs.sha256]
"0" = ["{}", "{}"]

[[key]]
id = "k"
references = ["vm"]
"#,
        pcr0.repeat(32),
        "cc".repeat(32)
    )
}

fn claims(pcr0: &str) -> TpmClaims {
    let mut bank = BTreeMap::new();
    bank.insert(0, hex::decode(pcr0.repeat(32)).unwrap());
    let mut pcrs = BTreeMap::new();
    pcrs.insert(HashAlg::Sha256, bank);
    TpmClaims {
        pcrs,
        ..TpmClaims::default()
    }
}

#[test]
fn matching_claims_grant_the_key() {
    let p = Policy::parse(&doc(A, "")).unwrap();
    let a = p.appraise(&PlatformClaims::Tpm(claims(A)), None);
    assert_eq!(a.matched_references, vec!["vm"]);
    assert_eq!(a.granted_keys, vec!["k"]);
    assert!(a.reasons.is_empty());
    assert!(p.policy_id().starts_with("sha256:"));
}

#[test]
fn other_pcr_value_is_explained() {
    let p = Policy::parse(&doc(A, "")).unwrap();
    let mut c = claims(B);
    c.events = Some(vec![EventClaim {
        index: 17,
        pcr: 0,
        event_type: "EV_S_CRTM_VERSION".into(),
        description: String::new(),
        digests: BTreeMap::new(),
    }]);
    let a = p.appraise(&PlatformClaims::Tpm(c), None);
    assert!(a.granted_keys.is_empty());
    let r = &a.reasons[0];
    assert_eq!(r.check, "pcr_policy");
    assert_eq!(r.observed.as_deref(), Some(B.repeat(32).as_str()));
    assert!(
        r.message.contains("PCR 0 (sha256): expected one of ["),
        "{}",
        r.message
    );
    assert!(
        r.message.contains("(last event 17: EV_S_CRTM_VERSION)"),
        "{}",
        r.message
    );
}

#[test]
fn event_rules_and_ek_cas_are_enforced() {
    let rule = format!(
        "ek_cas = [\"{}\"]\n[[reference.event]]\npcr = 4\ntype = \"EV_EFI_BOOT_SERVICES_APPLICATION\"\ndigest = \"sha256:{}\"\n",
        "ee".repeat(32),
        "dd".repeat(32)
    );
    let p = Policy::parse(&doc(A, &rule)).unwrap();
    let r = p.references[0].rule.tpm().unwrap();
    assert!(r.require_event_log, "event rules imply a required log");
    // No log, wrong EK CA.
    let a = p.appraise(&PlatformClaims::Tpm(claims(A)), None);
    let checks: Vec<&str> = a.reasons.iter().map(|r| r.check.as_str()).collect();
    assert!(
        checks.contains(&"ek_ca") && checks.contains(&"event_log"),
        "{checks:?}"
    );
    // Right CA and the event present.
    let mut c = claims(A);
    c.ek_root_fingerprint = Some("ee".repeat(32));
    let mut digests = BTreeMap::new();
    digests.insert(HashAlg::Sha256, vec![0xdd; 32]);
    c.events = Some(vec![EventClaim {
        index: 25,
        pcr: 4,
        event_type: "EV_EFI_BOOT_SERVICES_APPLICATION".into(),
        description: String::new(),
        digests: digests.clone(),
    }]);
    assert_eq!(
        p.appraise(&PlatformClaims::Tpm(c.clone()), None)
            .granted_keys,
        vec!["k"]
    );
    // Another boot application: refused, and the seen event is named.
    c.events.as_mut().unwrap()[0]
        .digests
        .insert(HashAlg::Sha256, vec![0x01; 32]);
    let a = p.appraise(&PlatformClaims::Tpm(c), None);
    assert!(a.granted_keys.is_empty());
    let m = &a.reasons[0].message;
    assert!(
        m.contains("PCR 4 event 25 (EV_EFI_BOOT_SERVICES_APPLICATION) differs")
            && m.contains(&format!("expected sha256:{}", "dd".repeat(32)))
            && m.contains(&format!("got sha256:{}", "01".repeat(32))),
        "{m}"
    );
}

fn tag(index: usize, description: &str, digest: u8) -> EventClaim {
    EventClaim {
        index,
        pcr: 9,
        event_type: "EV_EVENT_TAG".into(),
        description: format!("tag 0x8f3b22ed: \"{description}\""),
        digests: BTreeMap::from([(HashAlg::Sha256, vec![digest; 32])]),
    }
}

#[test]
fn event_rules_name_the_event_and_accept_families() {
    // Any of two command lines, one initrd; PCR 9 itself is not pinned.
    let rule = format!(
        r#"[[reference.event]]
pcr = 9
type = "EV_EVENT_TAG"
description = "LOADED_IMAGE::LoadOptions"
digests = ["sha256:{}", "sha256:{}"]
[[reference.event]]
pcr = 9
type = "EV_EVENT_TAG"
description = "Linux initrd"
digest = "sha256:{}"
"#,
        "01".repeat(32),
        "02".repeat(32),
        "03".repeat(32)
    );
    let p = Policy::parse(&doc(A, &rule)).unwrap();
    let mut c = claims(A);
    for opts in [1u8, 2] {
        c.events = Some(vec![
            tag(21, "LOADED_IMAGE::LoadOptions", opts),
            tag(22, "Linux initrd", 3),
        ]);
        let a = p.appraise(&PlatformClaims::Tpm(c.clone()), None);
        assert_eq!(a.granted_keys, vec!["k"], "{:?}", a.reasons);
    }
    // A third command line: the refusal names PCR 9, the event and both digests.
    c.events = Some(vec![
        tag(21, "LOADED_IMAGE::LoadOptions", 9),
        tag(22, "Linux initrd", 3),
    ]);
    let a = p.appraise(&PlatformClaims::Tpm(c.clone()), None);
    assert_eq!(a.reasons.len(), 1, "{:?}", a.reasons);
    let m = &a.reasons[0].message;
    assert!(
        m.contains(
            "PCR 9 event 21 (EV_EVENT_TAG tag 0x8f3b22ed: \"LOADED_IMAGE::LoadOptions\") differs"
        ) && m.contains(&format!(
            "one of [sha256:{}, sha256:{}]",
            "01".repeat(32),
            "02".repeat(32)
        )) && m.contains(&format!("got sha256:{}", "09".repeat(32))),
        "{m}"
    );
    assert_eq!(a.reasons[0].check, "event_policy");
    // No initrd event at all.
    c.events = Some(vec![tag(21, "LOADED_IMAGE::LoadOptions", 1)]);
    let a = p.appraise(&PlatformClaims::Tpm(c), None);
    assert!(
        a.reasons[0]
            .message
            .contains("PCR 9 has no EV_EVENT_TAG \"Linux initrd\" event"),
        "{}",
        a.reasons[0].message
    );
}

#[test]
fn event_rules_need_a_digest_of_one_bank() {
    for bad in [
        "[[reference.event]]\npcr = 9\n",
        "[[reference.event]]\npcr = 9\ndigests = []\n",
        "[[reference.event]]\npcr = 9\ndescription = \"\"\ndigest = \"sha256:00\"\n",
    ] {
        assert!(
            matches!(
                Policy::parse(&doc(A, bad)),
                Err(PolicyError::Invalid { .. })
            ),
            "{bad}"
        );
    }
    let mixed = format!(
        "[[reference.event]]\npcr = 9\ndigests = [\"sha256:{}\", \"sha1:{}\"]\n",
        "00".repeat(32),
        "00".repeat(20)
    );
    let e = Policy::parse(&doc(A, &mixed)).unwrap_err();
    assert!(e.to_string().contains("one bank"), "{e}");
}

#[test]
fn json_and_toml_are_the_same_policy() {
    let json = format!(
        r#"{{"version": 1, "reference": [{{"name": "vm", "platform": "tpm", "pcrs": {{"sha256": {{"0": ["{}"]}}}}}}], "key": [{{"id": "k", "references": ["vm"]}}]}}"#,
        A.repeat(32)
    );
    let p = Policy::parse(&json).unwrap();
    assert_eq!(
        p.appraise(&PlatformClaims::Tpm(claims(A)), None)
            .granted_keys,
        vec!["k"]
    );
}

#[test]
fn malformed_documents_name_the_entry() {
    let cases: Vec<(String, &str)> = vec![
        (
            doc(A, "").replace("version = 1", "version = 2"),
            "version 2",
        ),
        (
            doc(A, "").replace("\"0\" =", "\"24\" ="),
            "'24' is not a PCR index",
        ),
        (doc(A, "").replace(&A.repeat(32), &A.repeat(31)), "has 31"),
        (doc(A, "").replace(&A.repeat(32), "zz"), "is not hex"),
        (
            doc(A, "").replace("platform = \"tpm\"", "platform = \"sgx\""),
            "platform 'sgx'",
        ),
        (
            doc(A, "").replace("references = [\"vm\"]", "references = [\"nope\"]"),
            "'nope' is not defined",
        ),
        (
            doc(A, "").replace("[reference.pcrs.sha256]", "[reference.pcrs.md5]"),
            "bank 'md5'",
        ),
        (
            doc(A, "").replace("name = \"vm\"", "name = \"vm\"\nbogus = 1"),
            "unknown field",
        ),
        (doc(A, "digest = \"x\""), "unknown field"),
        ("version = ".to_string(), "TOML"),
    ];
    for (text, needle) in cases {
        let e = Policy::parse(&text).unwrap_err();
        assert!(
            e.to_string().contains(needle),
            "expected '{needle}' in: {e}"
        );
    }
    assert!(matches!(
        Policy::parse("{").unwrap_err(),
        PolicyError::Syntax { format: "JSON", .. }
    ));
}

#[test]
fn statement_rules_gate_build_keys() {
    use sealbuild_verifier_core::claims::{MaterialClaim, StatementClaims};
    let text = doc(A, "").replace(
        "references = [\"vm\"]\n",
        "references = [\"vm\"]\n[key.statement]\nsource_uris = [\"git+https://git.example/app.git\"]\nsource_digests = [\"gitCommit:ABCDEF01\"]\nbuild_types = [\"bt\"]\nrequired_materials = [\"pkg:deb/gcc\"]\n",
    );
    let p = Policy::parse(&text).unwrap();
    let c = PlatformClaims::Tpm(claims(A));
    // No statement: not released, and said so.
    let a = p.appraise(&c, None);
    assert!(a.granted_keys.is_empty());
    assert_eq!(a.reasons[0].check, "statement_policy");
    let mut digests = BTreeMap::new();
    digests.insert("gitCommit".to_string(), "abcdef01".to_string());
    let good = StatementClaims {
        build_type: "bt".into(),
        materials: vec![
            MaterialClaim {
                name: Some("source".into()),
                uri: Some("git+https://git.example/app.git@abcdef01".into()),
                digests,
            },
            MaterialClaim {
                name: None,
                uri: Some("pkg:deb/gcc".into()),
                digests: BTreeMap::new(),
            },
        ],
    };
    assert_eq!(p.appraise(&c, Some(&good)).granted_keys, vec!["k"]);
    // Each condition on its own refuses.
    let mut other_repo = good.clone();
    other_repo.materials[0].uri = Some("git+https://git.example/app2.git@abcdef01".into());
    let mut other_commit = good.clone();
    other_commit.materials[0]
        .digests
        .insert("gitCommit".into(), "abcdef02".into());
    let mut other_type = good.clone();
    other_type.build_type = "other".into();
    let mut no_material = good.clone();
    no_material.materials.pop();
    for (st, needle) in [
        (other_repo, "not one of the allowed source repositories"),
        (other_commit, "not one of the allowed digests"),
        (other_type, "build type other is not allowed"),
        (no_material, "required material pkg:deb/gcc"),
    ] {
        let a = p.appraise(&c, Some(&st));
        assert!(a.granted_keys.is_empty(), "{needle}");
        assert!(
            a.reasons.iter().any(|r| r.message.contains(needle)),
            "{needle}: {:#?}",
            a.reasons
        );
    }
}
