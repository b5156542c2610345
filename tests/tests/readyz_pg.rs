//! `/readyz` when the database stops answering: a verifier on a real
//! PostgreSQL (a throwaway cluster, see `sealbuild_tests::pg`) reached
//! through a TCP relay on loopback that can freeze, as a network path to a
//! database does when a host hangs or a firewall drops packets (queries
//! wait for as long as TCP allows). The verifier must say "not ready"
//! within its readiness timeout, keep serving `/healthz`, and be ready
//! again once the path thaws.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sealbuild_tests::{data, pg, TestVerifier};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Copies `from` to `to`, holding every chunk while `frozen` is set.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    frozen: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while frozen.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// A relay from a loopback port to `target`; returns its address.
async fn relay(target: String, frozen: Arc<AtomicBool>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else {
                return;
            };
            let (target, frozen) = (target.clone(), frozen.clone());
            tokio::spawn(async move {
                // A frozen path does not connect either.
                while frozen.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                let Ok(server) = TcpStream::connect(&target).await else {
                    return;
                };
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                tokio::spawn(pump(cr, sw, frozen.clone()));
                tokio::spawn(pump(sr, cw, frozen));
            });
        }
    });
    addr
}

/// `(host:port, url with host:port replaced by {})` of a PostgreSQL URL.
fn split_url(url: &str) -> (String, String) {
    let after_at = url.find('@').expect("user@ in the test URL") + 1;
    let end = after_at + url[after_at..].find('/').expect("/database");
    (
        url[after_at..end].to_string(),
        format!("{}{{}}{}", &url[..after_at], &url[end..]),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_answers_not_ready_in_time_when_the_database_path_freezes() {
    let url = tokio::task::spawn_blocking(pg::fresh_database)
        .await
        .unwrap();
    let (target, template) = split_url(&url);
    let frozen = Arc::new(AtomicBool::new(false));
    let via = template.replace("{}", &relay(target, frozen.clone()).await);
    let v = TestVerifier::start_with(&data("tpm/go-tpm-tools/gce-ca-certs"), move |c| {
        c.database_url = Some(sealbuild_verifier::config::DatabaseUrl::new(via));
    })
    .await;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&v.ca_pem).unwrap()).unwrap();
    let c = reqwest::Client::builder()
        .add_root_certificate(ca)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let get = |p: &str| c.get(format!("{}{p}", v.url)).send();

    let r = get("/readyz").await.unwrap();
    assert_eq!(r.status(), 200, "ready through the open relay");

    frozen.store(true, Ordering::SeqCst);
    let started = Instant::now();
    let r = get("/readyz").await.unwrap();
    let took = started.elapsed();
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "not_ready", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("did not answer within 2 s"),
        "{body}"
    );
    let limit = sealbuild_verifier::service::READY_TIMEOUT + Duration::from_secs(2);
    assert!(took < limit, "not-ready took {took:?} (limit {limit:?})");
    assert!(
        took >= sealbuild_verifier::service::READY_TIMEOUT,
        "answered in {took:?}: before the timeout, so not through the frozen path"
    );
    // The process still serves what needs no database.
    let r = get("/healthz").await.unwrap();
    assert_eq!(r.status(), 200);

    // Thawed: ready again (the held query completes).
    frozen.store(false, Ordering::SeqCst);
    let mut ready = false;
    for _ in 0..40 {
        if get("/readyz").await.unwrap().status() == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(ready, "not ready again after the path thawed");
    v.stop().await;
}
