//! The Intel PCS fetcher (`collateral fetch tdx`) against a local HTTP
//! server (axum on 127.0.0.1) serving the PCS v4 layout from the dcap-qvl
//! collateral of `tests/data/tdx/dcap-qvl/tdx_quote` (fields mapped onto
//! the PCS answers as `collateral_dir` in cli_tdx.rs maps them onto files).

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
use sealbuild_verifier::clock::{Clock, OffsetClock, SystemClock};
use sealbuild_verifier::collateral::{CollateralStore, PcsConfig, PcsFetcher, Source};
use sealbuild_verifier_core::tdx::pck::unverified_pck_identity;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const V4_AT: &str = "2025-07-19T10:00:34Z";
/// V4_AT as Unix seconds.
const V4_AT_UNIX: i64 = 1_752_919_234;

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/tdx/dcap-qvl")
        .join(rel)
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Good,
    GarbageTcbInfo,
    NotFound,
}

struct Pcs {
    bundle: serde_json::Value,
    mode: Mutex<Mode>,
    log: Mutex<Vec<String>>,
}

impl Pcs {
    fn new() -> Arc<Self> {
        let bundle =
            serde_json::from_slice(&std::fs::read(data("tdx_quote_collateral.json")).unwrap())
                .unwrap();
        Arc::new(Self {
            bundle,
            mode: Mutex::new(Mode::Good),
            log: Mutex::new(Vec::new()),
        })
    }

    fn s(&self, k: &str) -> String {
        self.bundle[k].as_str().unwrap().to_string()
    }

    fn requests(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    async fn start(self: &Arc<Self>) -> String {
        let app = axum::Router::new().fallback(serve).with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    }
}

async fn serve(State(pcs): State<Arc<Pcs>>, uri: Uri) -> Response {
    let pq = uri.path_and_query().unwrap().as_str().to_string();
    pcs.log.lock().unwrap().push(pq.clone());
    let mode = *pcs.mode.lock().unwrap();
    let (body, header): (Vec<u8>, Option<(&str, String)>) = match uri.path() {
        _ if mode == Mode::NotFound => {
            let mut r = Response::new(Body::from("no such FMSPC"));
            *r.status_mut() = StatusCode::NOT_FOUND;
            return r;
        }
        "/tdx/certification/v4/tcb" => (
            if mode == Mode::GarbageTcbInfo {
                b"<html>maintenance</html>".to_vec()
            } else {
                format!(
                    "{{\"tcbInfo\":{},\"signature\":\"{}\"}}",
                    pcs.s("tcb_info"),
                    pcs.s("tcb_info_signature")
                )
                .into_bytes()
            },
            Some(("TCB-Info-Issuer-Chain", pcs.s("tcb_info_issuer_chain"))),
        ),
        "/tdx/certification/v4/qe/identity" => (
            format!(
                "{{\"enclaveIdentity\":{},\"signature\":\"{}\"}}",
                pcs.s("qe_identity"),
                pcs.s("qe_identity_signature")
            )
            .into_bytes(),
            Some((
                "SGX-Enclave-Identity-Issuer-Chain",
                pcs.s("qe_identity_issuer_chain"),
            )),
        ),
        "/sgx/certification/v4/pckcrl" => (
            hex::decode(pcs.s("pck_crl")).unwrap(),
            Some(("SGX-PCK-CRL-Issuer-Chain", pcs.s("pck_crl_issuer_chain"))),
        ),
        "/IntelSGXRootCA.der" => (hex::decode(pcs.s("root_ca_crl")).unwrap(), None),
        _ => {
            let mut r = Response::new(Body::from("Not Found"));
            *r.status_mut() = StatusCode::NOT_FOUND;
            return r;
        }
    };
    let mut r = Response::new(Body::from(body));
    if let Some((k, v)) = header {
        r.headers_mut().insert(k, urlencode(&v).parse().unwrap());
    }
    r
}

fn identity() -> ([u8; 6], &'static str) {
    let q =
        sealbuild_common::tdx::Quote::parse(&std::fs::read(data("tdx_quote")).unwrap()).unwrap();
    let (fmspc, ca) = unverified_pck_identity(&q).unwrap();
    (fmspc, ca.as_str())
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

fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().to_string(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_fetches_a_folder_verify_accepts_and_bad_answers_keep_it() {
    let pcs = Pcs::new();
    let base = pcs.start().await;
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("collateral");
    let store_s = store.to_str().unwrap();
    let quote = data("tdx_quote");
    let root_crl = format!("{base}/IntelSGXRootCA.der");
    let fetch = |extra: &'static [&'static str]| {
        let mut a: Vec<String> = [
            "collateral",
            "fetch",
            "tdx",
            "--quote",
            quote.to_str().unwrap(),
            "--base-url",
            &base,
            "--root-crl-url",
            &root_crl,
            "--dir",
            store_s,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let run = |a: Vec<String>| async move {
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        cli(&refs).await
    };

    let (fmspc, ca) = identity();
    let folder = store
        .join("tdx")
        .join(format!("{}-{ca}", hex::encode(fmspc)));
    let (code, out, err) = run(fetch(&[])).await;
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let f: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(f, ["fetched", "tdx", ca, folder.to_str().unwrap()], "{out}");
    let log = pcs.log.lock().unwrap().clone();
    assert_eq!(
        log,
        [
            format!("/tdx/certification/v4/tcb?fmspc={}", hex::encode(fmspc)),
            "/tdx/certification/v4/qe/identity".to_string(),
            format!("/sgx/certification/v4/pckcrl?ca={ca}&encoding=der"),
            "/IntelSGXRootCA.der".to_string(),
        ]
    );
    let names: Vec<String> = snapshot(&folder).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "pckcrl-issuer-chain.pem",
            "pckcrl.der",
            "qeidentity-issuer-chain.pem",
            "qeidentity.json",
            "rootcrl.der",
            "tcbinfo-issuer-chain.pem",
            "tcbinfo.json"
        ]
    );

    // verify tdx accepts the quote with the fetched folder.
    let (code, out, err) = cli(&[
        "verify",
        "tdx",
        "--quote",
        quote.to_str().unwrap(),
        "--collateral-dir",
        folder.to_str().unwrap(),
        "--at",
        V4_AT,
        "--json",
    ])
    .await;
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["tcb_status"], "UpToDate", "{out}");

    // A garbage answer or a 404 leaves the folder as it was, with a clear error.
    let before = snapshot(&folder);
    for (mode, expect) in [
        (Mode::GarbageTcbInfo, "got TCB Info response"),
        (Mode::NotFound, "got 404"),
    ] {
        *pcs.mode.lock().unwrap() = mode;
        let (code, out, err) = run(fetch(&["--refresh"])).await;
        assert_ne!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
        assert!(err.contains(expect), "{err}");
        assert!(err.contains("the stored folder is unchanged"), "{err}");
        assert_eq!(snapshot(&folder), before);
        // No staging folder is left behind.
        let entries: Vec<_> = std::fs::read_dir(store.join("tdx")).unwrap().collect();
        assert_eq!(entries.len(), 1);
    }
}

#[tokio::test]
async fn a_folder_that_verifies_is_cached_then_refreshed_on_request() {
    let pcs = Pcs::new();
    let base = pcs.start().await;
    let tmp = tempfile::tempdir().unwrap();
    // The clock at the time the collateral is valid.
    let clock = Arc::new(OffsetClock::default());
    clock.advance(V4_AT_UNIX - i64::try_from(SystemClock.now()).unwrap());
    let f = PcsFetcher::new(
        CollateralStore::open(tmp.path()).unwrap(),
        PcsConfig {
            base_url: format!("{base}/"),
            root_crl_url: format!("{base}/IntelSGXRootCA.der"),
            system_roots: false,
            ..PcsConfig::default()
        },
    )
    .unwrap()
    .with_clock(clock);
    let (fmspc, _) = identity();
    let ca = sealbuild_verifier_core::tdx::PckCa::Platform;
    let got = f.tdx(&fmspc, ca, false).await.unwrap();
    assert_eq!(got.source, Source::Fetched);
    assert_eq!(pcs.requests(), 4);
    let again = f.tdx(&fmspc, ca, false).await.unwrap();
    assert_eq!(again.source, Source::Cached);
    assert_eq!(again.path, got.path);
    assert_eq!(pcs.requests(), 4, "a cached folder made requests");
    assert_eq!(
        f.tdx(&fmspc, ca, true).await.unwrap().source,
        Source::Fetched
    );
    assert_eq!(pcs.requests(), 8);
}
