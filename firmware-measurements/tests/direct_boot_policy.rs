//! The artefact-mode policy of a family of direct-boot VMs is a policy the
//! verifier loads, accepting every member's PCRs and events and naming the
//! event that differs otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use sealbuild_common::HashAlg;
use sealbuild_measure::direct_boot::{PredictedEvent, Prediction};
use sealbuild_measure::direct_boot_policy_toml;
use sealbuild_verifier_core::claims::{EventClaim, PlatformClaims, TpmClaims};
use sealbuild_verifier_core::policy::{Appraiser, Policy};
use std::collections::BTreeMap;

fn member(cmdline: u8) -> Prediction {
    let d = |b: u8| BTreeMap::from([(HashAlg::Sha256, vec![b; 32])]);
    let mut pcrs = BTreeMap::new();
    for pcr in [0u32, 4] {
        pcrs.insert(pcr, vec![pcr as u8; 32]);
    }
    pcrs.insert(9, vec![0x90 + cmdline; 32]);
    Prediction {
        pcrs: BTreeMap::from([(HashAlg::Sha256, pcrs)]),
        events: vec![
            PredictedEvent {
                pcr: 4,
                event_type: "EV_EFI_BOOT_SERVICES_APPLICATION",
                description: "the kernel (QEMU-patched bzImage, Authenticode)".into(),
                digests: d(0x44),
            },
            PredictedEvent {
                pcr: 9,
                event_type: "EV_EVENT_TAG",
                description: "LOADED_IMAGE::LoadOptions".into(),
                digests: d(cmdline),
            },
            PredictedEvent {
                pcr: 9,
                event_type: "EV_EVENT_TAG",
                description: "Linux initrd".into(),
                digests: d(0x77),
            },
        ],
        golden: true,
    }
}

fn claims(cmdline: u8) -> TpmClaims {
    let mut pcrs = BTreeMap::new();
    pcrs.insert(0, vec![0; 32]);
    pcrs.insert(4, vec![4; 32]);
    pcrs.insert(9, vec![0x90 + cmdline; 32]);
    let ev = |index, pcr, event_type: &str, description: &str, b: u8| EventClaim {
        index,
        pcr,
        event_type: event_type.into(),
        description: description.into(),
        digests: BTreeMap::from([(HashAlg::Sha256, vec![b; 32])]),
    };
    TpmClaims {
        pcrs: BTreeMap::from([(HashAlg::Sha256, pcrs)]),
        events: Some(vec![
            ev(
                10,
                4,
                "EV_EFI_BOOT_SERVICES_APPLICATION",
                "PciRoot(0x0)/…",
                0x44,
            ),
            ev(
                21,
                9,
                "EV_EVENT_TAG",
                "tag 0x8f3b22ed: \"LOADED_IMAGE::LoadOptions\"",
                cmdline,
            ),
            ev(
                22,
                9,
                "EV_EVENT_TAG",
                "tag 0x8f3b22ec: \"Linux initrd\"",
                0x77,
            ),
        ]),
        ..TpmClaims::default()
    }
}

#[test]
fn a_family_policy_accepts_its_members_and_names_the_differing_event() {
    let text = direct_boot_policy_toml(
        &[member(1), member(2)],
        HashAlg::Sha256,
        &[0, 4, 9],
        "qemu-vm",
        "k",
        &["a family".into()],
    )
    .unwrap();
    assert!(text.starts_with("# a family\n"), "{text}");
    assert!(text.contains("digests = ["), "{text}");
    let p = Policy::parse(&text).unwrap();
    for member in [1, 2] {
        let a = p.appraise(&PlatformClaims::Tpm(claims(member)), None);
        assert_eq!(a.granted_keys, vec!["k"], "{:?}", a.reasons);
    }
    let a = p.appraise(&PlatformClaims::Tpm(claims(3)), None);
    assert!(a.granted_keys.is_empty());
    let event = a
        .reasons
        .iter()
        .find(|r| r.check == "event_policy")
        .expect("an event reason");
    assert!(
        event.message.contains(
            "PCR 9 event 21 (EV_EVENT_TAG tag 0x8f3b22ed: \"LOADED_IMAGE::LoadOptions\") differs"
        ) && event
            .message
            .contains(&format!("got sha256:{}", "03".repeat(32))),
        "{}",
        event.message
    );
    // The kernel rule has no description: it matches any boot application.
    assert!(!text.contains("description = \"the kernel"), "{text}");
}

#[test]
fn a_missing_pcr_is_an_error() {
    let e = direct_boot_policy_toml(&[member(1)], HashAlg::Sha256, &[7], "n", "k", &[]);
    assert!(e.is_err());
    let e = direct_boot_policy_toml(&[], HashAlg::Sha256, &[0], "n", "k", &[]);
    assert!(e.is_err());
}
