//! The KDS fetcher and `collateral` CLI against a real local HTTP server
//! (axum on 127.0.0.1) that serves the AMD KDS layout from real files:
//! VCEKs, reports and AMD chains from tests/data/sev-snp (see
//! tests/data/NOTICE.md). The test data holds no AMD CRL, so CRLs are
//! generated here with rcgen, issued by a throw-away CA named like the ARK;
//! the fetcher checks a CRL's shape and issuer name, not its signature.

// Test code: panicking on an unexpected result is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use sealbuild_common::snp::{AttestationReport, SnpProduct, TcbLayout, TcbParts, TcbVersion};
use sealbuild_verifier::clock::OffsetClock;
use sealbuild_verifier::collateral::{
    ChainKind, CollateralError, CollateralStore, KdsConfig, KdsFetcher, Source,
};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/sev-snp/");

fn data(rel: &str) -> Vec<u8> {
    std::fs::read(format!("{DATA}{rel}")).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn first_pem_der(rel: &str) -> Vec<u8> {
    let pem = data(rel);
    let mut rd = pem.as_slice();
    let c = rustls_pemfile::certs(&mut rd).next().unwrap().unwrap();
    c.to_vec()
}

const GSG_CHIP: &str = "3ac3fe21e13fb0990eb28a802e3fb6a29483a6b0753590c951bdd3b8e53786184ca39e359669a2b76a1936776b564ea464cdce40c05f63c9b610c5068b006b5d";
const VIRTEE_CHIP: &str = "d49554ec717f4e5b0fe6b143bcf0405bd7ae304727edf46603f2a76aef6a3abc15d7af38db757039029f0efacfd08e244324884738c72b082e2f87a44d541eb6";
const GENOA_CHIP: &str = "371c55d6d15cb50f16dc31d39a24e300caaabff4431e841111429b73ec45ad67ea6e687ffae7bf84b54a5d0e6d79b3ef6ff0bd8b4cff94c2163af5c5de8718e8";

fn gsg_path() -> String {
    // The URL go-sev-guest's test names for this report (MANIFEST §1.3).
    format!("/vcek/v1/Milan/{GSG_CHIP}?blSPL=2&teeSPL=0&snpSPL=5&ucodeSPL=68")
}
fn virtee_path() -> String {
    format!("/vcek/v1/Milan/{VIRTEE_CHIP}?blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115")
}
fn genoa_path() -> String {
    format!("/vcek/v1/Genoa/{GENOA_CHIP}?blSPL=10&teeSPL=0&snpSPL=23&ucodeSPL=25")
}
const TURIN_PATH: &str =
    "/vcek/v1/Turin/1e550a8ee5cf9f4d?fmcSPL=0&blSPL=0&teeSPL=0&snpSPL=0&ucodeSPL=9";

fn report(rel: &str) -> AttestationReport {
    AttestationReport::parse(&data(rel)).unwrap()
}

/// A DER CRL issued by a CA whose common name is `issuer_cn`.
fn crl(issuer_cn: &str, next_update_year: i32) -> Vec<u8> {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, issuer_cn);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = params.self_signed(&key).unwrap();
    rcgen::CertificateRevocationListParams {
        this_update: rcgen::date_time_ymd(2001, 1, 1),
        next_update: rcgen::date_time_ymd(next_update_year, 1, 1),
        crl_number: rcgen::SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: Vec::new(),
        key_identifier_method: rcgen::KeyIdMethod::Sha256,
    }
    .signed_by(&ca, &key)
    .unwrap()
    .der()
    .to_vec()
}

#[derive(Clone)]
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    delay: Duration,
}

fn ok(body: Vec<u8>) -> Reply {
    Reply {
        status: 200,
        headers: Vec::new(),
        body,
        delay: Duration::ZERO,
    }
}

/// A fake KDS: fixed replies per path+query, optional one-shot replies
/// served first, and a log of every request with its arrival time.
#[derive(Default)]
struct Kds {
    fixed: Mutex<HashMap<String, Reply>>,
    queued: Mutex<HashMap<String, VecDeque<Reply>>>,
    log: Mutex<Vec<(String, Instant)>>,
}

impl Kds {
    fn with_real_layout() -> Arc<Self> {
        let k = Arc::new(Self::default());
        k.set(&gsg_path(), ok(data("go-sev-guest/vcek.der")));
        k.set(&virtee_path(), ok(data("virtee-sev/vcek_milan.der")));
        k.set(&genoa_path(), ok(data("trustee/e2e-genoa-vcek.der")));
        k.set(TURIN_PATH, ok(data("virtee-sev/vcek_turin.der")));
        for (p, name) in [("milan", "Milan"), ("genoa", "Genoa"), ("turin", "Turin")] {
            for kind in ["vcek", "vlek"] {
                let pem = data(&format!("amd-roots/{p}/cert_chain_{kind}.pem"));
                k.set(&format!("/{kind}/v1/{name}/cert_chain"), ok(pem));
                k.set(
                    &format!("/{kind}/v1/{name}/crl"),
                    ok(crl(&format!("ARK-{name}"), 2099)),
                );
            }
        }
        k
    }

    fn set(&self, path: &str, r: Reply) {
        self.fixed.lock().unwrap().insert(path.to_string(), r);
    }

    fn queue(&self, path: &str, r: Reply) {
        let mut q = self.queued.lock().unwrap();
        q.entry(path.to_string()).or_default().push_back(r);
    }

    fn paths(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .map(|(p, _)| p.clone())
            .collect()
    }

    fn times(&self, path: &str) -> Vec<Instant> {
        let log = self.log.lock().unwrap();
        log.iter()
            .filter(|(p, _)| p == path)
            .map(|(_, t)| *t)
            .collect()
    }

    async fn start(self: &Arc<Self>) -> String {
        let app = axum::Router::new().fallback(serve).with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    }
}

async fn serve(State(kds): State<Arc<Kds>>, uri: Uri) -> Response {
    let key = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    kds.log.lock().unwrap().push((key.clone(), Instant::now()));
    let queued = kds
        .queued
        .lock()
        .unwrap()
        .get_mut(&key)
        .and_then(VecDeque::pop_front);
    let reply = queued
        .or_else(|| kds.fixed.lock().unwrap().get(&key).cloned())
        .unwrap_or(Reply {
            status: 404,
            headers: Vec::new(),
            body: b"Not Found".to_vec(),
            delay: Duration::ZERO,
        });
    tokio::time::sleep(reply.delay).await;
    let mut resp = Response::new(Body::from(reply.body));
    *resp.status_mut() = StatusCode::from_u16(reply.status).unwrap();
    for (k, v) in reply.headers {
        resp.headers_mut().insert(k, v.parse().unwrap());
    }
    resp
}

fn cfg(base: &str, min_interval_ms: u64) -> KdsConfig {
    KdsConfig {
        base_url: base.to_string(),
        min_interval: Duration::from_millis(min_interval_ms),
        system_roots: false,
        ..KdsConfig::default()
    }
}

fn fetcher(dir: &std::path::Path, base: &str, min_interval_ms: u64) -> KdsFetcher {
    KdsFetcher::new(
        CollateralStore::open(dir).unwrap(),
        cfg(base, min_interval_ms),
    )
    .unwrap()
}

fn chip(hex_id: &str) -> [u8; 64] {
    let mut c = [0u8; 64];
    let b = hex::decode(hex_id).unwrap();
    c[..b.len()].copy_from_slice(&b);
    c
}

#[tokio::test]
async fn milan_and_genoa_requests_follow_the_kds_layout() {
    let kds = Kds::with_real_layout();
    let base = kds.start().await;
    let tmp = tempfile::tempdir().unwrap();
    let f = fetcher(tmp.path(), &base, 20);

    // Version 2 reports carry no CPUID: the product is given.
    let got = f
        .vcek_for_report(
            &report("go-sev-guest/attestation.bin"),
            Some(SnpProduct::Milan),
        )
        .await
        .unwrap();
    assert_eq!(got.source, Source::Fetched);
    assert_eq!(got.value, data("go-sev-guest/vcek.der"));
    assert!(got
        .path
        .ends_with(format!("snp/milan/vcek/{GSG_CHIP}/4405000000000002.der")));
    let got = f
        .vcek_for_report(
            &report("virtee-sev/report_milan.bin"),
            Some(SnpProduct::Milan),
        )
        .await
        .unwrap();
    assert_eq!(got.value, data("virtee-sev/vcek_milan.der"));
    // A version 3 report names its product by CPUID (model 0xA0: Genoa).
    let genoa = report("trustee/e2e-genoa-report.bin");
    let got = f.vcek_for_report(&genoa, None).await.unwrap();
    assert_eq!(got.value, data("trustee/e2e-genoa-vcek.der"));
    assert_eq!(kds.paths(), vec![gsg_path(), virtee_path(), genoa_path()]);

    // A product that contradicts the CPUID is refused before any request.
    let e = f
        .vcek_for_report(&genoa, Some(SnpProduct::Milan))
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("expected product Milan, got Genoa"),
        "{e}"
    );
    let e = f
        .vcek_for_report(&report("virtee-sev/report_milan.bin"), None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("the product must be given"), "{e}");
    // A VLEK-signed report has no VCEK to fetch.
    let e = f
        .vcek_for_report(&report("trustee/test-vlek-report.bin"), None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("VLEK"), "{e}");
    assert_eq!(kds.paths().len(), 3);
}

#[tokio::test]
async fn turin_url_uses_eight_byte_hwid_and_fmc() {
    let kds = Kds::with_real_layout();
    let base = kds.start().await;
    let tmp = tempfile::tempdir().unwrap();
    let f = fetcher(tmp.path(), &base, 20);
    let tcb = TcbVersion::from_parts(
        TcbParts {
            fmc: Some(0),
            boot_loader: 0,
            tee: 0,
            snp: 0,
            microcode: 9,
        },
        TcbLayout::Turin,
    );
    let got = f
        .vcek(SnpProduct::Turin, &chip("1e550a8ee5cf9f4d"), tcb.0)
        .await
        .unwrap();
    assert_eq!(got.value, data("virtee-sev/vcek_turin.der"));
    assert!(got
        .path
        .ends_with("snp/turin/vcek/1e550a8ee5cf9f4d/0900000000000000.der"));
    assert_eq!(kds.paths(), vec![TURIN_PATH.to_string()]);
}

#[tokio::test]
async fn a_stored_vcek_is_returned_without_a_request() {
    let kds = Kds::with_real_layout();
    let base = kds.start().await;
    let tmp = tempfile::tempdir().unwrap();
    let f = fetcher(tmp.path(), &base, 20);
    let r = report("virtee-sev/report_milan.bin");
    let first = f
        .vcek_for_report(&r, Some(SnpProduct::Milan))
        .await
        .unwrap();
    let second = f
        .vcek_for_report(&r, Some(SnpProduct::Milan))
        .await
        .unwrap();
    assert_eq!(
        (first.source, second.source),
        (Source::Fetched, Source::Cached)
    );
    assert_eq!(first.value, second.value);
    // Another fetcher on the same directory (a later run) also makes no request.
    let g = fetcher(tmp.path(), &base, 20);
    let third = g
        .vcek_for_report(&r, Some(SnpProduct::Milan))
        .await
        .unwrap();
    assert_eq!(third.source, Source::Cached);
    assert_eq!(g.requests_sent(), 0);
    assert_eq!(kds.paths(), vec![virtee_path()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_fetches_of_one_vcek_make_one_request() {
    let kds = Kds::with_real_layout();
    // A slow answer, so that every caller is waiting while it is in flight.
    kds.set(
        &genoa_path(),
        Reply {
            delay: Duration::from_millis(300),
            ..ok(data("trustee/e2e-genoa-vcek.der"))
        },
    );
    let base = kds.start().await;
    let tmp = tempfile::tempdir().unwrap();
    let f = Arc::new(fetcher(tmp.path(), &base, 20));
    let genoa = Arc::new(report("trustee/e2e-genoa-report.bin"));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (f, r) = (f.clone(), genoa.clone());
            tokio::spawn(async move { f.vcek_for_report(&r, None).await })
        })
        .collect();
    let mut sources = Vec::new();
    for t in tasks {
        let got = t.await.unwrap().unwrap();
        assert_eq!(got.value, data("trustee/e2e-genoa-vcek.der"));
        sources.push(got.source);
    }
    assert_eq!(kds.times(&genoa_path()).len(), 1, "{:?}", kds.paths());
    assert_eq!(f.requests_sent(), 1);
    assert_eq!(sources.iter().filter(|s| **s == Source::Fetched).count(), 1);
    assert_eq!(sources.iter().filter(|s| **s == Source::Cached).count(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn different_requests_are_spaced_by_the_minimum_interval() {
    let kds = Kds::with_real_layout();
    let base = kds.start().await;
    let tmp = tempfile::tempdir().unwrap();
    let interval = Duration::from_millis(300);
    let f = fetcher(tmp.path(), &base, 300);
    let milan = report("virtee-sev/report_milan.bin");
    let genoa = report("trustee/e2e-genoa-report.bin");
    // Asked for at the same time: the limiter still sends them apart.
    let (a, b, c) = tokio::join!(
        f.vcek_for_report(&milan, Some(SnpProduct::Milan)),
        f.vcek_for_report(&genoa, None),
        f.chain(SnpProduct::Genoa, ChainKind::Vcek),
    );
    a.unwrap();
    b.unwrap();
    c.unwrap();
    let mut times: Vec<Instant> = kds.log.lock().unwrap().iter().map(|(_, t)| *t).collect();
    assert_eq!(times.len(), 3);
    times.sort();
    for w in times.windows(2) {
        let gap = w[1] - w[0];
        assert!(
            gap >= interval,
            "requests {gap:?} apart, expected >= {interval:?}"
        );
    }
}

#[tokio::test]
async fn retry_after_is_honoured_then_the_answer_is_used() {
    let kds = Kds::with_real_layout();
    kds.queue(
        &virtee_path(),
        Reply {
            status: 429,
            headers: vec![("retry-after", "1".to_string())],
            body: b"Too Many Requests".to_vec(),
            delay: Duration::ZERO,
        },
    );
    let base = kds.start().await;
    let tmp = tempfile::tempdir().unwrap();
    let f = fetcher(tmp.path(), &base, 20);
    let got = f
        .vcek_for_report(
            &report("virtee-sev/report_milan.bin"),
            Some(SnpProduct::Milan),
        )
        .await
        .unwrap();
    assert_eq!(got.source, Source::Fetched);
    assert_eq!(got.value, data("virtee-sev/vcek_milan.der"));
    let t = kds.times(&virtee_path());
    assert_eq!(t.len(), 2);
    assert!(t[1] - t[0] >= Duration::from_secs(1), "{:?}", t[1] - t[0]);
}

#[tokio::test]
async fn persistent_throttling_is_an_error_and_nothing_is_stored() {
    let kds = Kds::with_real_layout();
    let throttled = |retry_after: &str| Reply {
        status: 429,
        headers: vec![("retry-after", retry_after.to_string())],
        body: b"Too Many Requests".to_vec(),
        delay: Duration::ZERO,
    };
    kds.set(&virtee_path(), throttled("0"));
    kds.set(&genoa_path(), throttled("86400"));
    let base = kds.start().await;
    let tmp = tempfile::tempdir().unwrap();
    let f = KdsFetcher::new(
        CollateralStore::open(tmp.path()).unwrap(),
        KdsConfig {
            max_attempts: 3,
            ..cfg(&base, 20)
        },
    )
    .unwrap();
    let e = f
        .vcek_for_report(
            &report("virtee-sev/report_milan.bin"),
            Some(SnpProduct::Milan),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, CollateralError::RateLimited { attempts: 3, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("gave up after 3 attempts"), "{e}");
    assert_eq!(kds.times(&virtee_path()).len(), 3);
    // A Retry-After beyond the fetcher's limit is not waited for.
    let e = f
        .vcek_for_report(&report("trustee/e2e-genoa-report.bin"), None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("Retry-After 86400"), "{e}");
    assert!(e.to_string().contains("more than the 300 s"), "{e}");
    assert_eq!(kds.times(&genoa_path()).len(), 1);
    assert!(f.store().inventory(SnpProduct::Milan).unwrap().is_empty());
    assert!(f.store().inventory(SnpProduct::Genoa).unwrap().is_empty());
}

#[tokio::test]
async fn bad_answers_are_clear_errors_and_are_not_cached() {
    let kds = Kds::with_real_layout();
    kds.set(
        &virtee_path(),
        ok(b"<html><body>Service busy</body></html>".to_vec()),
    );
    // Another chip's VCEK at this chip's URL (a broken mirror).
    kds.set(&genoa_path(), ok(data("virtee-sev/vcek_milan.der")));
    kds.set(
        "/vcek/v1/Milan/cert_chain",
        ok(data("amd-roots/genoa/cert_chain_vcek.pem")),
    );
    kds.set("/vcek/v1/Milan/crl", ok(crl("ARK-Genoa", 2099)));
    kds.fixed.lock().unwrap().remove(&gsg_path());
    let base = kds.start().await;
    let tmp = tempfile::tempdir().unwrap();
    let f = fetcher(tmp.path(), &base, 10);

    let e = f
        .vcek_for_report(
            &report("go-sev-guest/attestation.bin"),
            Some(SnpProduct::Milan),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, CollateralError::Status { status: 404, .. }),
        "{e}"
    );
    assert!(e.to_string().contains(&gsg_path()), "{e}");
    assert!(e.to_string().contains("Not Found"), "{e}");

    let e = f
        .vcek_for_report(
            &report("virtee-sev/report_milan.bin"),
            Some(SnpProduct::Milan),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, CollateralError::Malformed { .. }), "{e}");
    assert!(e.to_string().contains("expected an X.509 DER VCEK"), "{e}");
    assert!(e.to_string().contains(&virtee_path()), "{e}");

    let e = f
        .vcek_for_report(&report("trustee/e2e-genoa-report.bin"), None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("productName Genoa"), "{e}");

    let e = f
        .chain(SnpProduct::Milan, ChainKind::Vcek)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("ARK-Milan"), "{e}");
    let e = f
        .crl(SnpProduct::Milan, ChainKind::Vcek, false)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("a CRL issued by ARK-Genoa"), "{e}");

    for p in [SnpProduct::Milan, SnpProduct::Genoa] {
        assert!(f.store().inventory(p).unwrap().is_empty());
    }
    // Nothing cached: asking again asks KDS again.
    let before = kds.paths().len();
    assert!(f.chain(SnpProduct::Milan, ChainKind::Vcek).await.is_err());
    assert_eq!(kds.paths().len(), before + 1);
}

#[tokio::test]
async fn chains_are_stored_and_read_back_as_the_real_ark_and_ask() {
    let kds = Kds::with_real_layout();
    let base = kds.start().await;
    let tmp = tempfile::tempdir().unwrap();
    let f = fetcher(tmp.path(), &base, 10);
    for (p, slug) in [
        (SnpProduct::Milan, "milan"),
        (SnpProduct::Genoa, "genoa"),
        (SnpProduct::Turin, "turin"),
    ] {
        let got = f.chain(p, ChainKind::Vcek).await.unwrap();
        assert_eq!(got.source, Source::Fetched);
        let (ark, ask) = f.store().chain(p, ChainKind::Vcek).unwrap().unwrap();
        assert_eq!(ark, first_pem_der(&format!("amd-roots/{slug}/ark.pem")));
        assert_eq!(ask, first_pem_der(&format!("amd-roots/{slug}/ask.pem")));
        assert_eq!(got.value, (ark.clone(), ask));
        assert_eq!(
            std::fs::read(&got.path).unwrap(),
            data(&format!("amd-roots/{slug}/cert_chain_vcek.pem"))
        );
        let vlek = f.chain(p, ChainKind::Vlek).await.unwrap();
        let (vark, asvk) = f.store().chain(p, ChainKind::Vlek).unwrap().unwrap();
        assert_eq!(vark, ark);
        assert_eq!(
            asvk,
            first_pem_der(&format!("amd-roots/{slug}/cert_chain_vlek.pem"))
        );
        assert_eq!(vlek.value.1, asvk);
    }
    let n = kds.paths().len();
    assert_eq!(n, 6);
    let again = f.chain(SnpProduct::Genoa, ChainKind::Vlek).await.unwrap();
    assert_eq!(again.source, Source::Cached);
    assert_eq!(kds.paths().len(), n);
}

#[tokio::test]
async fn crls_are_reused_until_next_update_or_refresh() {
    let kds = Kds::with_real_layout();
    kds.set("/vlek/v1/Milan/crl", ok(crl("ARK-Milan", 2002)));
    let base = kds.start().await;
    let tmp = tempfile::tempdir().unwrap();
    let f = fetcher(tmp.path(), &base, 10);
    let (p, vcek, vlek) = (SnpProduct::Milan, ChainKind::Vcek, ChainKind::Vlek);

    assert_eq!(f.crl(p, vcek, false).await.unwrap().source, Source::Fetched);
    assert_eq!(f.crl(p, vcek, false).await.unwrap().source, Source::Cached);
    assert_eq!(f.crl(p, vcek, true).await.unwrap().source, Source::Fetched);
    assert_eq!(kds.times("/vcek/v1/Milan/crl").len(), 2);
    // nextUpdate 2002 has passed: fetched every time.
    assert_eq!(f.crl(p, vlek, false).await.unwrap().source, Source::Fetched);
    assert_eq!(f.crl(p, vlek, false).await.unwrap().source, Source::Fetched);
    assert_eq!(kds.times("/vlek/v1/Milan/crl").len(), 2);
    // The fetcher's clock decides: 80 years on, nextUpdate 2099 has passed too.
    let clock = Arc::new(OffsetClock::default());
    clock.advance(80 * 365 * 86_400);
    let later = fetcher(tmp.path(), &base, 10).with_clock(clock);
    assert_eq!(
        later.crl(p, vcek, false).await.unwrap().source,
        Source::Fetched
    );
    assert_eq!(kds.times("/vcek/v1/Milan/crl").len(), 3);
    assert_eq!(
        f.store().crl(p, vcek).unwrap().unwrap(),
        std::fs::read(f.store().crl_path(p, vcek)).unwrap()
    );
}

async fn cli(args: &[&str]) -> (i32, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_sealbuild-verifier"))
        .args(args)
        .env("SEALBUILD_LOG", "warn")
        .output()
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_fetches_then_reuses_and_lists() {
    let kds = Kds::with_real_layout();
    let base = kds.start().await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("collateral");
    let dir_s = dir.to_str().unwrap();
    let report_path = format!("{DATA}virtee-sev/report_milan.bin");
    let args = [
        "collateral",
        "fetch",
        "snp",
        "--report",
        &report_path,
        "--product",
        "milan",
        "--kds-url",
        &base,
        "--dir",
        dir_s,
        "--min-interval-secs",
        "0.05",
    ];
    let (code, out, err) = cli(&args).await;
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    let expect = [
        (
            "vcek",
            format!("snp/milan/vcek/{VIRTEE_CHIP}/7308000000000003.der"),
        ),
        (
            "cert_chain_vcek",
            "snp/milan/cert_chain_vcek.pem".to_string(),
        ),
        (
            "cert_chain_vlek",
            "snp/milan/cert_chain_vlek.pem".to_string(),
        ),
        ("crl_vcek", "snp/milan/crl_vcek.der".to_string()),
    ];
    for (line, (item, path)) in lines.iter().zip(&expect) {
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            f,
            vec!["fetched", item, &format!("{dir_s}/{path}")],
            "{line}"
        );
    }
    assert_eq!(kds.paths().len(), 4);

    let (code, out, err) = cli(&args).await;
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let sources: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(sources, vec!["cached"; 4], "{out}");
    assert_eq!(kds.paths().len(), 4, "the second run made requests");

    let (code, out, _) = cli(&["collateral", "list", "snp", "--dir", dir_s]).await;
    assert_eq!(code, 0);
    assert!(
        out.contains(&format!("hwid {VIRTEE_CHIP} tcb 0x7308000000000003")),
        "{out}"
    );
    assert!(out.contains("crl_vcek"), "{out}");

    // Import checks what it stores; a failure exits 2 with the reason.
    let genoa_vcek = format!("{DATA}trustee/e2e-genoa-vcek.der");
    let imp = ["collateral", "import", "snp", "--dir", dir_s, "--product"];
    let (code, out, err) = cli(&[&imp[..], &["genoa", "--vcek", &genoa_vcek]].concat()).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("snp/genoa/vcek/{GENOA_CHIP}/191700000000000a.der")),
        "{out}"
    );
    let (code, _, err) = cli(&[&imp[..], &["milan", "--vcek", &genoa_vcek]].concat()).await;
    assert_eq!(code, 2);
    assert!(err.contains("productName Milan"), "{err}");
    let vlek = format!("{DATA}trustee/test-vlek.der");
    let (code, out, err) = cli(&[&imp[..], &["milan", "--vlek", &vlek]].concat()).await;
    assert_eq!(code, 0, "{out}{err}");
    let chain = format!("{DATA}amd-roots/turin/cert_chain_vlek.pem");
    let (code, out, err) = cli(&[&imp[..], &["turin", "--chain", &chain]].concat()).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("cert_chain_vlek"), "{out}");
    let (_, out, _) = cli(&["collateral", "list", "snp", "--dir", dir_s]).await;
    assert!(out.contains("Turin") && out.contains("vlek "), "{out}");

    // A KDS that does not know the chip: exit 2, the URL and status in the message.
    let other = tmp.path().join("other");
    let gsg = format!("{DATA}go-sev-guest/attestation.bin");
    kds.fixed.lock().unwrap().remove(&gsg_path());
    let (code, _, err) = cli(&[
        "collateral",
        "fetch",
        "snp",
        "--report",
        &gsg,
        "--product",
        "milan",
        "--kds-url",
        &base,
        "--dir",
        other.to_str().unwrap(),
        "--min-interval-secs",
        "0",
    ])
    .await;
    assert_eq!(code, 2);
    assert!(
        err.contains("expected HTTP 200, got 404") && err.contains(&gsg_path()),
        "{err}"
    );
}
