//! SEV-SNP appraisal throughput on one core, against ECDSA P-384 and the
//! `sev` crate on the same report, measured in the same run.
//!
//! Input: the real Milan report `tests/data/sev-snp/virtee-sev/report_milan.bin`
//! signed by `vcek_milan.der`, the built-in Milan ARK/ASK, verification time
//! 2026-11-23T00:00:00Z. Lines (ops/s, best and median of interleaved
//! slices, one thread):
//!
//! * appraised, chain cached (ours): what a verifier does per report once
//!   the VCEK chain of that chip + REPORTED_TCB was verified: parse the
//!   report, look the verified VCEK up by (CHIP_ID, REPORTED_TCB), check its
//!   cached AMD extensions against the report
//!   ([`AmdCertExtensions::check_against`]), verify the signature with the
//!   cached P-384 key ([`verify_report_signature`]), the TCB and REPORT_DATA
//!   checks `verify_snp` makes after the chain, and the policy rule
//!   ([`snp_problems`]). The core has no public "verify with a cached chain"
//!   function; this file composes one from those public pieces.
//! * p384 raw: `p384::ecdsa::VerifyingKey::verify` of the same 0x2A0 signed
//!   bytes and signature (SHA-384 included): the cryptographic floor.
//! * sev, VCEK pre-verified: the `sev` crate parses the report and verifies
//!   it with an already-verified VCEK (`(&Certificate, &AttestationReport)`).
//!   With `crypto_nossl` it uses the same `p384` crate.
//! * verify_snp, uncached (ours): `verify_snp` from bytes: report, ARK →
//!   ASK → VCEK (two RSA-4096 PSS signatures, validity at the given time,
//!   CA constraints), extensions, report signature.
//! * sev, uncached: `Chain::from_der` + report parse + `(&Chain,
//!   &AttestationReport)::verify` (ARK self-signature, ARK → ASK, ASK →
//!   VCEK, report signature; no validity time, no extension/TCB check).
//! * ring raw (information): `ring`'s ECDSA P-384/SHA-384 verify of the same
//!   bytes, key and signature: what another library's P-384 costs here.
//!
//! Targets (from the issue; reported, never asserted): cached ≥ 0.85 × p384
//! raw, cached ≥ 2 × sev pre-verified. Before timing, every contender must
//! accept the report and refuse a copy with one MEASUREMENT byte flipped.
//!
//! Environment: `SNP_BENCH_SECS` (default 2), seconds per line.
//! Run: `cargo bench -p sealbuild-verifier-core --bench snp_verify`.
// Bench binary: a failed unwrap, expect or index is a failed setup.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use p384::ecdsa::signature::Verifier as _;
use sealbuild_common::snp::{AttestationReport, SnpProduct, SIGNED_LEN};
use sealbuild_verifier_core::claims::SnpClaims;
use sealbuild_verifier_core::policy::{snp_problems, SnpRule};
use sealbuild_verifier_core::snp::roots::IntermediateKind;
use sealbuild_verifier_core::snp::{
    detect_product, p384_key, verify_report, verify_report_signature, verify_snp,
    AmdCertExtensions, AmdRoots, SnpInput, SnpSignerKind,
};
use sev::certs::snp::{Certificate as SevCertificate, Chain as SevChain, Verifiable as _};
use sev::firmware::guest::AttestationReport as SevReport;
use sev::parser::ByteParser as _;
use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/sev-snp/");
/// 2026-11-23T00:00:00Z.
const NOW: u64 = 1_795_392_000;
/// Interleaved slices per line.
const SLICES: u32 = 5;
/// Offset of MEASUREMENT in the report (pub. 56860, Table 23).
const MEASUREMENT_AT: usize = 0x90;

fn read(p: &str) -> Vec<u8> {
    std::fs::read(format!("{DATA}{p}")).unwrap_or_else(|e| panic!("{DATA}{p}: {e}"))
}

/// A VCEK whose chain was verified once, kept for the reports it signs.
struct CachedSigner {
    key: sealbuild_common::crypto::VerifyingKey,
    /// The same key for the pure-Rust `p384` line (information).
    pure: p384::ecdsa::VerifyingKey,
    ext: AmdCertExtensions,
    fingerprint: [u8; 32],
    fingerprint_hex: String,
}

/// Verified VCEKs by (CHIP_ID, REPORTED_TCB): what a VCEK is derived from.
type ChainCache = HashMap<([u8; 64], u64), CachedSigner>;

/// The per-report work with the chain cached; see the module doc.
fn appraise_cached(
    bytes: &[u8],
    cache: &ChainCache,
    rule: &SnpRule,
    expected_report_data: &[u8; 64],
) -> Result<SnpClaims, String> {
    let parsed = AttestationReport::parse(bytes).map_err(|e| e.to_string())?;
    let signer = cache
        .get(&(parsed.chip_id, parsed.reported_tcb.0))
        .ok_or("no verified VCEK for this CHIP_ID and REPORTED_TCB")?;
    let product = detect_product(&parsed, None)
        .map_err(|e| e.to_string())?
        .or_else(|| signer.ext.product())
        .ok_or("unknown product")?;
    signer
        .ext
        .check_against(&parsed, Some(product))
        .map_err(|e| e.to_string())?;
    let report = verify_report_signature(bytes, &signer.key, &signer.fingerprint_hex)
        .map_err(|e| e.to_string())?;
    if !report
        .current_tcb
        .dominates(report.committed_tcb, product.tcb_layout())
    {
        return Err("CURRENT_TCB below COMMITTED_TCB".into());
    }
    if &report.report_data != expected_report_data {
        return Err("REPORT_DATA differs".into());
    }
    let claims = SnpClaims {
        product,
        signing_key: SnpSignerKind::Vcek,
        csp_id: None,
        signer_fingerprint: signer.fingerprint,
        insecure_test_root: false,
        crl_checked: false,
        report,
    };
    let problems = snp_problems("bench", rule, &claims);
    if let Some(p) = problems.first() {
        return Err(p.message.clone());
    }
    Ok(claims)
}

/// Runs `f` for `dur`, checking the clock every `batch` calls; ops/s.
fn run_for(f: &mut dyn FnMut(), dur: Duration, batch: u64) -> f64 {
    let start = Instant::now();
    let mut n: u64 = 0;
    loop {
        for _ in 0..batch {
            f();
        }
        n += batch;
        let el = start.elapsed();
        if el >= dur {
            return n as f64 / el.as_secs_f64();
        }
    }
}

/// Calls per clock check so that a batch lasts about 1 ms.
fn batch_for(f: &mut dyn FnMut()) -> u64 {
    let t = Instant::now();
    for _ in 0..8 {
        f();
    }
    let per = t.elapsed().as_secs_f64() / 8.0;
    ((1e-3 / per.max(1e-9)) as u64).clamp(1, 1 << 16)
}

struct Line<'a> {
    name: &'static str,
    f: Box<dyn FnMut() + 'a>,
    batch: u64,
    rates: Vec<f64>,
}

impl Line<'_> {
    fn best(&self) -> f64 {
        self.rates.iter().copied().fold(0.0, f64::max)
    }
    fn median(&self) -> f64 {
        let mut r = self.rates.clone();
        r.sort_by(f64::total_cmp);
        r.get(r.len() / 2).copied().unwrap_or(0.0)
    }
}

/// Warms every line up, then runs `SLICES` rounds in which every line runs
/// for `per_line / SLICES`, in rotating order (load from other processes
/// spreads over all of them).
fn measure(lines: &mut [Line<'_>], per_line: Duration) {
    let warm = (per_line / 8).min(Duration::from_millis(300));
    for l in lines.iter_mut() {
        l.batch = batch_for(&mut l.f);
        run_for(&mut l.f, warm, l.batch);
    }
    let slice = per_line / SLICES;
    let n = lines.len();
    for round in 0..SLICES as usize {
        for k in 0..n {
            let l = &mut lines[(round + k) % n];
            let r = run_for(&mut l.f, slice, l.batch);
            l.rates.push(r);
        }
    }
}

fn line<'a>(name: &'static str, f: impl FnMut() + 'a) -> Line<'a> {
    Line {
        name,
        f: Box::new(f),
        batch: 1,
        rates: Vec::new(),
    }
}

fn verdict(ratio: f64, target: f64) -> &'static str {
    if ratio >= target {
        "target met"
    } else {
        "target NOT met"
    }
}

fn main() {
    let secs: f64 = std::env::var("SNP_BENCH_SECS")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .filter(|s: &f64| s.is_finite() && *s > 0.0)
        .unwrap_or(2.0);
    let per_line = Duration::from_secs_f64(secs);

    let report = read("virtee-sev/report_milan.bin");
    let vcek = read("virtee-sev/vcek_milan.der");
    let roots = AmdRoots::builtin();
    let milan = roots
        .for_product(SnpProduct::Milan)
        .next()
        .expect("built-in Milan roots");
    let chain = milan.chain(IntermediateKind::Ask).expect("Milan ASK");
    let parsed = AttestationReport::parse(&report).expect("report parses");
    let mut flipped = report.clone();
    flipped[MEASUREMENT_AT] ^= 0x01;

    // --- ours, uncached: must accept. The server passes no product and the
    // expected REPORT_DATA (here: the report's own).
    let keys: [&[u8]; 1] = [&vcek];
    let input = SnpInput {
        report: &report,
        endorsement_keys: &keys,
        roots: &roots,
        crls: &[],
        expected_product: None,
        expected_report_data: Some(&parsed.report_data),
        at_unix_secs: NOW,
    };
    let uncached_claims = verify_snp(&input).expect("verify_snp accepts the Milan report");
    let flipped_input = SnpInput {
        report: &flipped,
        ..input
    };
    assert!(
        verify_snp(&flipped_input).is_err(),
        "verify_snp accepts a report with a flipped byte"
    );

    // --- the chain cache: the VCEK chain verified once (full checks).
    let verified =
        verify_report(&report, &vcek, chain, Some(SnpProduct::Milan), NOW).expect("chain verifies");
    let mut cache = ChainCache::new();
    cache.insert(
        (parsed.chip_id, parsed.reported_tcb.0),
        CachedSigner {
            key: p384_key(&verified.signer.public_key).expect("P-384 VCEK"),
            pure: match &verified.signer.public_key {
                sealbuild_verifier_core::ekcert::EkCertKey::Ecc { x, y, .. } => {
                    p384::ecdsa::VerifyingKey::from_sec1_bytes(&[&[4u8][..], x, y].concat())
                        .expect("P-384 point")
                }
                other => panic!("VCEK key {other:?}"),
            },
            ext: AmdCertExtensions::from_der(&vcek).expect("VCEK extensions"),
            fingerprint: verified.signer.fingerprint_sha256,
            fingerprint_hex: hex::encode(verified.signer.fingerprint_sha256),
        },
    );
    // A production-like rule: this measurement, Milan, VCEK or VLEK, debug
    // refused, VMPL 0, minimum TCB = this report's.
    let rule = SnpRule {
        measurements: [parsed.measurement].into(),
        any_measurement: false,
        products: [SnpProduct::Milan].into(),
        vmpls: [0].into(),
        min_tcb: [(SnpProduct::Milan, parsed.reported_tcb)].into(),
        ..SnpRule::hardware_only(false)
    };
    assert_eq!(
        snp_problems("bench", &rule, &uncached_claims),
        vec![],
        "the rule accepts the uncached claims"
    );
    let cached_claims = appraise_cached(&report, &cache, &rule, &parsed.report_data)
        .expect("the cached path accepts the Milan report");
    assert_eq!(
        cached_claims, uncached_claims,
        "the cached path yields the same claims as verify_snp"
    );
    assert!(
        appraise_cached(&flipped, &cache, &rule, &parsed.report_data).is_err(),
        "the cached path accepts a report with a flipped byte"
    );

    // --- raw P-384 on the same bytes and signature.
    let cached = cache.values().next().expect("cached signer");
    let key = cached.pure;
    let provider = &cached.key;
    let fixed = parsed.signature.to_be_fixed();
    let (sig_r, sig_s) = fixed.split_at(48);
    let sig = p384::ecdsa::Signature::from_slice(&parsed.signature.to_be_fixed())
        .expect("signature scalars in range");
    let signed = &report[..SIGNED_LEN];
    key.verify(signed, &sig).expect("raw P-384 verifies");
    provider
        .verify_ecdsa_rs(signed, sig_r, sig_s)
        .expect("provider P-384 verifies");
    assert!(
        provider
            .verify_ecdsa_rs(&flipped[..SIGNED_LEN], sig_r, sig_s)
            .is_err(),
        "provider P-384 accepts a report with a flipped byte"
    );
    assert!(
        key.verify(&flipped[..SIGNED_LEN], &sig).is_err(),
        "raw P-384 accepts a report with a flipped byte"
    );
    let key_sec1 = key.to_encoded_point(false);
    let ring_key = ring::signature::UnparsedPublicKey::new(
        &ring::signature::ECDSA_P384_SHA384_FIXED,
        key_sec1.as_bytes(),
    );
    let sig_fixed = parsed.signature.to_be_fixed();
    ring_key
        .verify(signed, &sig_fixed)
        .expect("ring verifies the report signature");
    assert!(
        ring_key.verify(&flipped[..SIGNED_LEN], &sig_fixed).is_err(),
        "ring accepts a report with a flipped byte"
    );

    // --- sev: the same Milan ARK/ASK (its PEM copies), the same VCEK.
    let sev_ark = SevCertificate::from_pem(&read("amd-roots/milan/ark.pem")).expect("ARK PEM");
    let sev_ask = SevCertificate::from_pem(&read("amd-roots/milan/ask.pem")).expect("ASK PEM");
    let ark_der = sev_ark.to_der().expect("ARK DER");
    let ask_der = sev_ask.to_der().expect("ASK DER");
    assert_eq!(ark_der, milan.ark, "sev's ARK is the built-in Milan ARK");
    assert_eq!(ask_der, milan.ask, "sev's ASK is the built-in Milan ASK");
    let sev_chain = SevChain::from_der(&ark_der, &ask_der, &vcek).expect("sev chain parses");
    let sev_report = SevReport::from_bytes(&report).expect("sev parses the report");
    let sev_vcek = sev_chain.verify().expect("sev verifies the chain").clone();
    (&sev_chain, &sev_report)
        .verify()
        .expect("sev verifies chain + report");
    (&sev_vcek, &sev_report)
        .verify()
        .expect("sev verifies the report with the VCEK");
    let sev_flipped = SevReport::from_bytes(&flipped).expect("sev parses the flipped report");
    assert!(
        (&sev_vcek, &sev_flipped).verify().is_err(),
        "sev accepts a report with a flipped byte"
    );

    // --- timing.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "snp_verify: Milan report_milan.bin + vcek_milan.der, built-in Milan ARK/ASK, at \
         2026-11-23T00:00:00Z; 1 thread ({threads} hardware threads); {SLICES} interleaved \
         slices, {secs:.1} s per line"
    );
    println!(
        "  checked first: ours uncached and cached accept (identical claims), sev accepts \
         (chain + report, VCEK + report), raw p384 and ring accept; all refuse the report with \
         one MEASUREMENT byte flipped"
    );
    let mut lines = vec![
        line("appraised, chain cached (ours)", || {
            black_box(
                appraise_cached(
                    black_box(&report),
                    &cache,
                    &rule,
                    black_box(&parsed.report_data),
                )
                .is_ok(),
            );
        }),
        line("provider (AWS-LC) P-384 verify, raw", || {
            black_box(
                provider
                    .verify_ecdsa_rs(black_box(signed), sig_r, sig_s)
                    .is_ok(),
            );
        }),
        line("p384 VerifyingKey::verify, raw (pure Rust)", || {
            black_box(key.verify(black_box(signed), black_box(&sig)).is_ok());
        }),
        line("sev 8: parse + verify, VCEK pre-verified", || {
            let ok = SevReport::from_bytes(black_box(&report))
                .and_then(|r| (&sev_vcek, &r).verify())
                .is_ok();
            black_box(ok);
        }),
        line("verify_snp, uncached (ours)", || {
            black_box(verify_snp(black_box(&input)).is_ok());
        }),
        line("sev 8: chain + parse + verify, uncached", || {
            let ok = SevChain::from_der(&ark_der, &ask_der, black_box(&vcek))
                .and_then(|c| {
                    let r = SevReport::from_bytes(black_box(&report))?;
                    (&c, &r).verify()
                })
                .is_ok();
            black_box(ok);
        }),
        line("ring ECDSA P-384 verify, raw (information)", || {
            black_box(
                ring_key
                    .verify(black_box(signed), black_box(&sig_fixed))
                    .is_ok(),
            );
        }),
    ];
    measure(&mut lines, per_line);
    println!(
        "  {:<44} {:>10} {:>10} {:>11}",
        "", "ops/s best", "median", "µs/op best"
    );
    for l in &lines {
        println!(
            "  {:<44} {:>10.0} {:>10.0} {:>11.1}",
            l.name,
            l.best(),
            l.median(),
            1e6 / l.best()
        );
    }
    let best = |i: usize| lines.get(i).map_or(f64::NAN, Line::best);
    // Lines: 0 cached, 1 provider raw, 2 pure p384 raw, 3 sev pre-verified,
    // 4 verify_snp uncached, 5 sev uncached, 6 ring raw.
    let (cached, raw, pure, sev_cached, uncached, sev_uncached) =
        (best(0), best(1), best(2), best(3), best(4), best(5));
    println!("  ratios (best rates):");
    let r1 = cached / raw;
    println!(
        "    appraised cached / provider raw    {r1:>5.2}   (target >= 0.85: {})",
        verdict(r1, 0.85)
    );
    let r2 = cached / sev_cached;
    println!(
        "    appraised cached / sev pre-verified {r2:>5.2}x  (target >= 2x: {})",
        verdict(r2, 2.0)
    );
    let r5 = cached / sev_uncached;
    println!(
        "    appraised cached / sev uncached     {r5:>5.2}x  (information: sev has no chain cache)"
    );
    let r3 = uncached / sev_uncached;
    println!("    verify_snp uncached / sev uncached  {r3:>5.2}x  (information)");
    let r4 = best(6) / raw;
    println!("    ring raw / provider raw             {r4:>5.2}x  (information)");
    let r6 = pure / raw;
    println!("    pure-Rust p384 raw / provider raw   {r6:>5.2}x  (information)");

    // --- where the cached path's time goes (each step alone).
    let short = (per_line / 4).max(Duration::from_millis(100));
    let signer = cache.values().next().expect("cached signer");
    let steps = vec![
        line("AttestationReport::parse", || {
            black_box(AttestationReport::parse(black_box(&report)).is_ok());
        }),
        line("cache lookup + check_against", || {
            let s = cache.get(&(parsed.chip_id, parsed.reported_tcb.0));
            black_box(s.map(|s| {
                s.ext
                    .check_against(black_box(&parsed), Some(SnpProduct::Milan))
                    .is_ok()
            }));
        }),
        line("verify_report_signature", || {
            black_box(
                verify_report_signature(black_box(&report), &signer.key, &signer.fingerprint_hex)
                    .is_ok(),
            );
        }),
        line("snp_problems", || {
            black_box(snp_problems("bench", &rule, black_box(&cached_claims)).is_empty());
        }),
    ];
    println!("  cached path by step ({:.2} s each):", short.as_secs_f64());
    for mut l in steps {
        let b = batch_for(&mut l.f);
        run_for(&mut l.f, short / 4, b);
        let r = run_for(&mut l.f, short, b);
        println!("    {:<40} {:>10.2} µs/op", l.name, 1e6 / r);
    }
}
