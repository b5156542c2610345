//! The SEV-SNP chain cache on real reports: `verify_snp_cached` gives the
//! claims and the reasons of `verify_snp`, hits only on the same chain
//! bytes, still checks the time and the report on a hit, gives a kept
//! refusal only where it holds, and holds no more than its cap.
// Test code: a failed unwrap, expect or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sealbuild_common::api::Reason;
use sealbuild_common::snp::{AttestationReport, SnpProduct};
use sealbuild_verifier_core::claims::SnpClaims;
use sealbuild_verifier_core::snp::roots::IntermediateKind;
use sealbuild_verifier_core::snp::{
    verify_parsed_report, verify_snp, verify_snp_cached, AmdRoots, SnpChainCache, SnpInput,
};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/sev-snp/");
/// 2026-11-23T00:00:00Z.
const NOW: u64 = 1_795_392_000;
/// 2025-06-01T00:00:00Z (inside the AWS VLEK's validity).
const JUNE_2025: u64 = 1_748_736_000;

/// (report, VCEK/VLEK, a time inside every window of its chain).
const VECTORS: [(&str, &str, u64); 5] = [
    (
        "virtee-sev/report_milan.bin",
        "virtee-sev/vcek_milan.der",
        NOW,
    ),
    ("go-sev-guest/attestation.bin", "go-sev-guest/vcek.der", NOW),
    ("trustee/test-report.bin", "trustee/test-vcek.der", NOW),
    (
        "trustee/e2e-genoa-report.bin",
        "trustee/e2e-genoa-vcek.der",
        NOW,
    ),
    (
        "trustee/test-vlek-report.bin",
        "trustee/test-vlek.der",
        JUNE_2025,
    ),
];

fn read(p: &str) -> Vec<u8> {
    std::fs::read(format!("{DATA}{p}")).unwrap_or_else(|e| panic!("{p}: {e}"))
}

type Outcome = Result<SnpClaims, Vec<Reason>>;

/// (uncached, cached) verification of `report` with `key` at `at`.
fn both(cache: &SnpChainCache, report: &[u8], key: &[u8], at: u64) -> (Outcome, Outcome) {
    let roots = AmdRoots::builtin();
    let input = SnpInput {
        report,
        endorsement_keys: &[key],
        roots: &roots,
        crls: &[],
        expected_product: None,
        expected_report_data: None,
        at_unix_secs: at,
    };
    (verify_snp(&input), verify_snp_cached(&input, cache))
}

/// Verifies `report` with `key` through `cache`, which must agree with the
/// uncached path; the cached outcome.
fn same(cache: &SnpChainCache, report: &[u8], key: &[u8], at: u64) -> Outcome {
    let (plain, cached) = both(cache, report, key, at);
    assert_eq!(plain, cached, "cached and uncached disagree");
    cached
}

/// A cache holding the chain of virtee's Milan report, the report and its
/// VCEK.
fn warm_milan() -> (SnpChainCache, Vec<u8>, Vec<u8>) {
    let cache = SnpChainCache::default();
    let (report, vcek) = (
        read("virtee-sev/report_milan.bin"),
        read("virtee-sev/vcek_milan.der"),
    );
    same(&cache, &report, &vcek, NOW).unwrap();
    (cache, report, vcek)
}

#[test]
fn cached_claims_equal_uncached_and_the_second_call_hits() {
    let cache = SnpChainCache::default();
    for (i, (rep, key, at)) in VECTORS.iter().enumerate() {
        let (report, key) = (read(rep), read(key));
        let hits = cache.hits();
        let first = same(&cache, &report, &key, *at).unwrap_or_else(|r| panic!("{rep}: {r:?}"));
        assert_eq!(cache.hits(), hits, "{rep}: the first call is a miss");
        assert_eq!(cache.len(), i + 1, "{rep}: its chain is kept");
        let second = same(&cache, &report, &key, *at).unwrap();
        assert_eq!(cache.hits(), hits + 1, "{rep}: the second call hits");
        assert_eq!(first, second, "{rep}");
        assert_eq!(cache.len(), i + 1, "{rep}");
    }
}

#[test]
fn a_time_outside_a_window_is_refused_on_a_hit_as_without_the_cache() {
    let cache = SnpChainCache::default();
    let (report, vlek) = (
        read("trustee/test-vlek-report.bin"),
        read("trustee/test-vlek.der"),
    );
    same(&cache, &report, &vlek, JUNE_2025).unwrap();
    // The VLEK expired on 2025-12-10; 1 January 2000 is before every
    // notBefore of the chain.
    for at in [NOW, 946_684_800] {
        let r = same(&cache, &report, &vlek, at).unwrap_err();
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(r[0].check, "snp_chain", "{r:?}");
    }
    assert_eq!(cache.hits(), 0);
    // The entry still serves times inside the windows.
    same(&cache, &report, &vlek, JUNE_2025).unwrap();
    assert_eq!(cache.hits(), 1);
    assert_eq!(cache.len(), 1);
}

#[test]
fn a_changed_report_or_signature_is_refused_after_a_hit_as_without_the_cache() {
    let (cache, report, vcek) = warm_milan();
    same(&cache, &report, &vcek, NOW).unwrap();
    assert_eq!(cache.hits(), 1);
    // REPORT_DATA (0x50), REPORTED_TCB (0x180: a TCB mismatch with the
    // certificate), the signature's R (0x2A0) and S (0x2E8).
    for (offset, check) in [
        (0x50, "snp_signature"),
        (0x180, "snp_tcb"),
        (0x2A0, "snp_signature"),
        (0x2E8, "snp_signature"),
    ] {
        let mut bad = report.clone();
        bad[offset] ^= 0x01;
        let r = same(&cache, &bad, &vcek, NOW).unwrap_err();
        assert_eq!(r[0].check, check, "byte {offset:#x}: {r:?}");
    }
    assert_eq!(cache.hits(), 1, "no refused report counts as a hit");
    same(&cache, &report, &vcek, NOW).unwrap();
    assert_eq!(cache.hits(), 2);
}

#[test]
fn another_or_a_tampered_vcek_does_not_meet_a_cached_chain() {
    let (cache, report, vcek) = warm_milan();
    assert_eq!(cache.len(), 1);
    // Another chip's VCEK (same ARK and ASK) for this report: it verifies as
    // a chain and is kept under its own key, but the report is refused.
    let other = read("go-sev-guest/vcek.der");
    let r = same(&cache, &report, &other, NOW).unwrap_err();
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(cache.hits(), 0);
    // The VCEK with one bit of its signature flipped: no chain, no entry.
    let mut tampered = vcek.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    let r = same(&cache, &report, &tampered, NOW).unwrap_err();
    assert_eq!(r[0].check, "snp_chain", "{r:?}");
    assert_eq!(cache.hits(), 0);
    assert_eq!((cache.len(), cache.refused_len()), (2, 1));
    // Its refusal is given again, word for word, inside the windows...
    let again = same(&cache, &report, &tampered, NOW).unwrap_err();
    assert_eq!((again, cache.hits()), (r.clone(), 1));
    // ...and computed again outside them (before every notBefore the leaf's
    // own window is what the uncached path names).
    let early = same(&cache, &report, &tampered, 946_684_800).unwrap_err();
    assert_ne!(early, r);
    assert_eq!(cache.hits(), 1);
    let hits = cache.hits();
    // The genuine VCEK still hits its own entry.
    same(&cache, &report, &vcek, NOW).unwrap();
    assert_eq!(cache.hits(), hits + 1);
}

#[test]
fn a_chain_that_does_not_sign_the_vcek_is_refused_alike_from_the_cache() {
    // What verify_snp meets when a product has two trusted chains (AMD's,
    // then a test chain): the Milan VCEK against Genoa's ARK and ASK.
    let cache = SnpChainCache::default();
    let (report, vcek) = (
        read("virtee-sev/report_milan.bin"),
        read("virtee-sev/vcek_milan.der"),
    );
    let roots = AmdRoots::builtin();
    let genoa = roots
        .for_product(SnpProduct::Genoa)
        .find_map(|r| r.chain(IntermediateKind::Ask))
        .unwrap();
    let parsed = AttestationReport::parse(&report).unwrap();
    let plain = verify_parsed_report(parsed.clone(), &report, &vcek, genoa, None, NOW);
    assert!(plain.is_err());
    for hits in [0, 1, 2] {
        let cached = cache.verify_parsed_report(parsed.clone(), &report, &vcek, genoa, None, NOW);
        assert_eq!(cached, plain);
        assert_eq!(cache.hits(), hits);
    }
    assert_eq!((cache.len(), cache.refused_len()), (0, 1));
    // Another report (its signature broken) with the same chain: the
    // refusal is the chain's, as uncached.
    let mut other = report.clone();
    other[0x2A0] ^= 1;
    let parsed = AttestationReport::parse(&other).unwrap();
    let plain = verify_parsed_report(parsed.clone(), &other, &vcek, genoa, None, NOW);
    let cached = cache.verify_parsed_report(parsed, &other, &vcek, genoa, None, NOW);
    assert_eq!(cached, plain);
}

#[test]
fn the_cap_holds() {
    let cache = SnpChainCache::with_capacity(2);
    for _ in 0..2 {
        for (rep, key, at) in VECTORS {
            same(&cache, &read(rep), &read(key), at).unwrap_or_else(|r| panic!("{rep}: {r:?}"));
            assert!(cache.len() <= 2, "{}", cache.len());
        }
    }
    assert_eq!(cache.len(), 2);
    // The last chain verified is held.
    let (rep, key, at) = VECTORS[VECTORS.len() - 1];
    let hits = cache.hits();
    same(&cache, &read(rep), &read(key), at).unwrap();
    assert_eq!(cache.hits(), hits + 1);
}

#[test]
fn snp_verifier_appraises_through_its_chain_cache() {
    use sealbuild_common::api::{Evidence, SnpCertKind, SnpCertificate, SnpEvidence};
    use sealbuild_verifier_core::claims::PlatformClaims;
    use sealbuild_verifier_core::platform::{
        Collateral, EvidenceVerifier, SnpVerifier, VerifyContext,
    };
    // go-sev-guest's report carries REPORT_DATA = 01 02 03 04 05 0…0: the
    // binding 01 02 03 04 05 0…0 followed by 32 zero bytes.
    let (report, vcek) = (
        read("go-sev-guest/attestation.bin"),
        read("go-sev-guest/vcek.der"),
    );
    let mut binding = [0u8; 32];
    binding[..5].copy_from_slice(&[1, 2, 3, 4, 5]);
    let evidence = Evidence::Snp(SnpEvidence {
        report: report.clone(),
        certificates: vec![SnpCertificate {
            kind: SnpCertKind::Vcek,
            der: vcek.clone(),
        }],
    });
    let verifier = SnpVerifier::new(std::sync::Arc::new(AmdRoots::builtin()));
    let collateral = Collateral::default();
    let verify = |binding: &[u8; 32]| {
        verifier.verify(
            &evidence,
            &VerifyContext {
                agent_id: "snp:test",
                registered: None,
                binding,
                statement_digest: None,
                now: NOW,
                collateral: &collateral,
            },
        )
    };
    let roots = AmdRoots::builtin();
    let uncached = |expected: &[u8; 64]| {
        verify_snp(&SnpInput {
            report: &report,
            endorsement_keys: &[&vcek],
            roots: &roots,
            crls: &[],
            expected_product: None,
            expected_report_data: Some(expected),
            at_unix_secs: NOW,
        })
    };
    let mut expected = [0u8; 64];
    expected[..32].copy_from_slice(&binding);
    let want = uncached(&expected).unwrap();
    // A miss, then a hit.
    for hits in [0, 1] {
        let Ok(PlatformClaims::Snp(c)) = verify(&binding) else {
            panic!("the report is accepted");
        };
        assert_eq!(*c, want);
        assert_eq!(verifier.chain_cache().hits(), hits);
    }
    assert_eq!(verifier.chain_cache().len(), 1);
    // Another binding: refused as uncached (the chain from the cache).
    let r = verify(&[9; 32]).unwrap_err();
    let mut other = [0u8; 64];
    other[..32].copy_from_slice(&[9; 32]);
    assert_eq!(r, uncached(&other).unwrap_err());
    assert_eq!(r[0].check, "binding");
    assert_eq!(verifier.chain_cache().hits(), 2);
}
