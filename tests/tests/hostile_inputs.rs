//! Hostile request bodies against a verifier on loopback: oversized or
//! ill-formed fields are refused with a JSON 400 that names the field and
//! echoes neither the value nor more than a bounded message; nothing is
//! stored for them (no audit entry, no nonce); an empty bearer token never
//! opens the admin API; the service keeps serving.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sealbuild_tests::{data, TestVerifier};

fn http(v: &TestVerifier) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&v.ca_pem).unwrap()).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap()
}

/// The metrics text, read with the admin token.
async fn metrics(c: &reqwest::Client, v: &TestVerifier) -> String {
    let r = c
        .get(format!("{}/metrics", v.url))
        .bearer_auth(&v.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

fn attest_body(agent_id: &str) -> serde_json::Value {
    serde_json::json!({
        "agent_id": agent_id,
        "nonce": "ab".repeat(32),
        "ephemeral_public_key": "AAAA",
        "evidence": {"snp": {"report": "AAAA"}},
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_ill_formed_fields_are_refused_without_storing_anything() {
    let v = TestVerifier::start(&data("tpm/go-tpm-tools/gce-ca-certs")).await;
    let c = http(&v);
    let url = |p: &str| format!("{}{p}", v.url);
    let audit_before = v.store.audit_head().unwrap();

    // A 1 MB agent id, an id with a newline and an ANSI escape, a huge key list.
    let big = format!("snp:{}", "x".repeat(1_000_000));
    let cases: Vec<(&str, serde_json::Value, &str)> = vec![
        ("/v1/attest", attest_body(&big), "agent_id"),
        (
            "/v1/attest",
            attest_body("snp:a\nforged log line"),
            "agent_id",
        ),
        ("/v1/attest", attest_body("snp:\u{1b}[31mred"), "agent_id"),
        (
            "/v1/nonces",
            serde_json::json!({"agent_id": big}),
            "agent_id",
        ),
        (
            "/v1/attest",
            {
                let mut b = attest_body("snp:ok");
                b["keys"] = serde_json::json!(vec!["k"; 1000]);
                b
            },
            "keys",
        ),
        (
            "/v1/attest",
            {
                let mut b = attest_body("snp:ok");
                b["nonce"] = serde_json::json!("not hex");
                b
            },
            "nonce",
        ),
    ];
    for (route, body, field) in cases {
        let r = c.post(url(route)).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 400, "{route} {field}");
        assert_eq!(
            r.headers()["content-type"].to_str().unwrap(),
            "application/json"
        );
        let text = r.text().await.unwrap();
        assert!(
            text.len() < 600,
            "a {}-byte error body echoes input",
            text.len()
        );
        assert!(!text.contains("forged log line") && !text.contains('\u{1b}'));
        let e: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(e["error"], "bad_request");
        assert!(
            e["message"].as_str().unwrap().contains(field),
            "{route}: {e}"
        );
    }

    // Not JSON / a wrong shape: JSON errors too, bounded.
    let r = c
        .post(url("/v1/attest"))
        .header("content-type", "application/json")
        .body(format!("{{\"agent_id\": \"{}", "y".repeat(100_000)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let text = r.text().await.unwrap();
    assert!(text.len() < 600 && text.starts_with('{'), "{}", text.len());

    // A body over the limit: 413, JSON.
    let r = c
        .post(url("/v1/attest"))
        .header("content-type", "application/json")
        .body(vec![b' '; 5 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    // The rest of the body is not read: the connection is closed, and said so.
    assert_eq!(r.headers()["connection"], "close");
    let e: serde_json::Value = r.json().await.unwrap();
    assert_eq!(e["error"], "payload_too_large");

    // An empty bearer token does not open the admin API.
    let r = c
        .post(url("/v1/admin/keys"))
        .header("authorization", "Bearer ")
        .json(&serde_json::json!({"algorithm": "ed25519"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Nothing was stored for any of it, and the service still serves.
    assert_eq!(v.store.audit_head().unwrap(), audit_before);
    let r = c.get(url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = c.get(url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let ready: serde_json::Value = r.json().await.unwrap();
    assert_eq!(ready["status"], "ready");
    // Metrics need the admin token, and count by route template (never by
    // the input).
    let r = c.get(url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let m = metrics(&c, &v).await;
    assert!(
        m.contains("sealbuild_http_requests_total{route=\"/v1/attest\",status=\"400\"}"),
        "{m}"
    );
    assert!(m.contains("sealbuild_audit_entries "), "{m}");
    assert!(!m.contains("forged"), "{m}");
    let r = c.get(url("/v1/result-key")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    v.stop().await;
}

/// A raw TLS connection to the verifier (for clients that misbehave).
async fn tls(
    v: &TestVerifier,
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(&v.ca_pem).unwrap();
    for c in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(c.unwrap()).unwrap();
    }
    let cfg = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(v.url.trim_start_matches("https://")).await?;
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg))
        .connect(name, tcp)
        .await
}

/// Reads until the server answers or closes; returns what it sent and how
/// long that took.
async fn read_all<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> (Vec<u8>, std::time::Duration) {
    use tokio::io::AsyncReadExt;
    let start = std::time::Instant::now();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(20), s.read_to_end(&mut out)).await;
    (out, start.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_excess_connections_are_closed_in_bounded_time() {
    use tokio::io::AsyncWriteExt;
    let v = TestVerifier::start_with(&data("tpm/go-tpm-tools/gce-ca-certs"), |c| {
        c.http_header_timeout_secs = 1;
        c.http_request_timeout_secs = 2;
        c.http_connection_lifetime_secs = 30;
        c.http_max_connections_per_source = 4;
    })
    .await;

    // Slowloris: headers never finish. Closed after the header timeout.
    let mut s = tls(&v).await.unwrap();
    s.write_all(b"POST /v1/nonces HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let (_, took) = read_all(&mut s).await;
    assert!(
        took < std::time::Duration::from_secs(5),
        "open for {took:?}"
    );

    // A dripped body: answered 408 (JSON) after the request timeout.
    let mut s = tls(&v).await.unwrap();
    s.write_all(
        b"POST /v1/nonces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"agent",
    )
    .await
    .unwrap();
    let (answer, took) = read_all(&mut s).await;
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("\"error\":\"timeout\""), "{text}");
    assert!(took < std::time::Duration::from_secs(8), "{took:?}");

    // HTTP/2 by prior knowledge is not spoken (TLS offers only http/1.1).
    let mut s = tls(&v).await.unwrap();
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    let (answer, _) = read_all(&mut s).await;
    assert!(
        answer.is_empty() || answer.starts_with(b"HTTP/1.1 "),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );

    // Per source: the fifth concurrent connection is closed at once.
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(tls(&v).await.unwrap());
    }
    let fifth = tls(&v).await;
    match fifth {
        Err(_) => {}
        Ok(mut s) => {
            let (answer, took) = read_all(&mut s).await;
            assert!(answer.is_empty() && took < std::time::Duration::from_secs(2));
        }
    }
    drop(held);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // Places are given back: normal requests work again.
    let c = http(&v);
    let r = c
        .get(format!("{}/v1/result-key", v.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    v.stop().await;
}

/// `sealbuild-agent pcrs | head` must not panic when the reader goes away.
#[test]
fn a_closed_standard_output_ends_the_agent_quietly() {
    let tpm = sealbuild_tests::Tpm::blank();
    let agent = sealbuild_tests::repo().join("target/debug/sealbuild-agent");
    let mut child = std::process::Command::new(agent)
        .args(["pcrs", "--tcti", &tpm.tcti_string(), "--pcrs", "sha256:all"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before anything is read.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}

/// `serve` refuses secret files others can read, and empty or short admin
/// tokens, saying what to do; a private state starts.
#[test]
fn start_up_refuses_readable_secrets_and_weak_admin_tokens() {
    use std::os::unix::fs::PermissionsExt;
    let verifier = sealbuild_tests::repo().join("target/debug/sealbuild-verifier");
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let serve = |token: Option<&str>| {
        let mut c = std::process::Command::new(&verifier);
        c.arg("--state-dir")
            .arg(&state)
            .args(["serve", "--listen", "127.0.0.1:0", "--address-file"])
            .arg(dir.path().join("addr"))
            .env_remove("SEALBUILD_ADMIN_TOKEN");
        if let Some(t) = token {
            c.env("SEALBUILD_ADMIN_TOKEN", t);
        }
        let mut child = c
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // A refusal exits at once; a healthy start listens (then is stopped).
        for _ in 0..100 {
            if let Some(_status) = child.try_wait().unwrap() {
                let out = child.wait_with_output().unwrap();
                return (false, String::from_utf8_lossy(&out.stderr).into_owned());
            }
            if dir.path().join("addr").exists() {
                let _ = child.kill();
                let _ = child.wait();
                let _ = std::fs::remove_file(dir.path().join("addr"));
                return (true, String::new());
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = child.kill();
        panic!("serve neither started nor refused within 10 s");
    };
    // A fresh state starts, with its secrets private.
    let (started, err) = serve(Some(&"t".repeat(32)));
    assert!(started, "{err}");
    for f in [
        "verifier.db",
        "result-key.pem",
        "tls/server.key",
        "tls/ca.key",
    ] {
        let mode = std::fs::metadata(state.join(f))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode & 0o077, 0, "{f} has mode {mode:o}");
    }
    // Empty and short admin tokens are refused.
    for t in ["", "   ", "short"] {
        let (started, err) = serve(Some(t));
        assert!(!started, "admin token {t:?} accepted");
        assert!(
            err.contains("admin token") && err.contains("at least 16"),
            "{err}"
        );
    }
    // A database others can read is refused, naming the fix.
    let db = state.join("verifier.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (started, err) = serve(None);
    assert!(!started);
    assert!(
        err.contains("chmod 600") && err.contains("verifier.db"),
        "{err}"
    );
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();
    let key = state.join("result-key.pem");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let (started, err) = serve(None);
    assert!(!started);
    assert!(err.contains("result-key.pem"), "{err}");
}

/// Amplification: 10,000 unauthenticated attestations with maximal fields,
/// with the per-source rate limit lifted so that every one is processed.
/// None concerns a registered agent, a key or a verified TEE, so none gets
/// its own audit entry: they are counted into one aggregate entry per
/// interval (1 s here). A quarter carry a valid nonce (minted for their
/// `snp:` id), whose use is recorded once (one row each, purged when the
/// nonce expires). The bound documented in the README ("Operating the
/// verifier"): at most one aggregate entry per interval, each at most
/// 16 KiB of database, plus at most 512 bytes per used nonce.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_hostile_requests_grow_storage_within_the_documented_bound() {
    use base64::Engine as _;
    let v = TestVerifier::start_with(&data("tpm/go-tpm-tools/gce-ca-certs"), |c| {
        c.rate_limit_per_source = 1e9;
        c.rate_limit_burst = 1e9;
        c.audit_refusal_interval_secs = 1;
    })
    .await;
    let c = http(&v);
    // The database's size with its WAL folded in.
    let size = |v: &TestVerifier| {
        let conn = rusqlite::Connection::open(&v.db).unwrap();
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
        std::fs::metadata(&v.db).map(|m| m.len()).unwrap()
    };
    v.service.flush_refusals().await.unwrap();
    let before = (size(&v), v.store.audit_head().unwrap().seq);
    let b64 = base64::engine::general_purpose::STANDARD;
    let agent = |i: usize| {
        format!(
            "snp:{i:04}{}",
            "h".repeat(sealbuild_common::platform::MAX_ATTESTER_LABEL - 4)
        )
    };
    let body = move |agent_id: &str, nonce: &str| {
        serde_json::json!({
            "agent_id": agent_id,
            "nonce": nonce,
            "ephemeral_public_key": b64.encode([4u8; 133]),
            "statement_digest": "cd".repeat(32),
            "evidence": {"snp": {"report": b64.encode(vec![0x5au8; 8192])}},
            "keys": (0..32).map(|i| format!("key-{i:058}")).collect::<Vec<_>>(),
        })
        .to_string()
    };
    let start = std::time::Instant::now();
    let url = format!("{}/v1/attest", v.url);
    let mut tasks = Vec::new();
    for t in 0..16 {
        let (c, url, nonce_url) = (c.clone(), url.clone(), format!("{}/v1/nonces", v.url));
        let bodies: Vec<(String, bool)> = (0..625)
            .map(|i| {
                let id = agent(t * 625 + i);
                (id, i % 4 == 0)
            })
            .collect();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let mut counts = std::collections::BTreeMap::<u16, u64>::new();
            for (id, with_nonce) in bodies {
                let nonce = if with_nonce {
                    let r: serde_json::Value = c
                        .post(&nonce_url)
                        .json(&serde_json::json!({ "agent_id": id }))
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                    r["nonce"]
                        .as_str()
                        .unwrap_or_else(|| panic!("{r}"))
                        .to_string()
                } else {
                    "ab".repeat(64)
                };
                let r = c
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body(&id, &nonce))
                    .send()
                    .await
                    .unwrap();
                *counts.entry(r.status().as_u16()).or_default() += 1;
            }
            counts
        }));
    }
    let mut counts = std::collections::BTreeMap::<u16, u64>::new();
    for t in tasks {
        for (k, n) in t.await.unwrap() {
            *counts.entry(k).or_default() += n;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    assert_eq!(counts.get(&200).copied(), Some(10_000), "{counts:?}");
    v.service.flush_refusals().await.unwrap();
    let after = (size(&v), v.store.audit_head().unwrap().seq);

    // Only aggregate entries, at most one per interval (+ the final one),
    // and together they count every refusal.
    let entries = v.store.audit_entries(before.1 + 1, 10_000).unwrap();
    assert_eq!(entries.len() as u64, after.1 - before.1);
    let intervals = elapsed.ceil() as usize + 2;
    assert!(
        entries.len() <= intervals,
        "{} entries in {elapsed:.1} s",
        entries.len()
    );
    let mut counted = 0;
    for e in &entries {
        let j = serde_json::to_value(e.to_json()).unwrap();
        assert_eq!(j["body"]["message"], "refusals aggregated", "{j:#}");
        assert!(e.body.len() <= sealbuild_verifier::refusals::MAX_NOTICE_BYTES);
        counted += j["body"]["details"]["total"].as_u64().unwrap();
    }
    assert_eq!(counted, 10_000);
    let used_nonces = {
        let conn = rusqlite::Connection::open(&v.db).unwrap();
        conn.query_row("SELECT count(*) FROM nonces", [], |r| r.get::<_, i64>(0))
            .unwrap() as u64
    };
    // Every fourth request of each task: 157 × 16.
    assert_eq!(used_nonces, 16 * 625_u64.div_ceil(4));
    let grown = after.0.saturating_sub(before.0);
    let allowed = entries.len() as u64 * 16 * 1024 + used_nonces * 512;
    assert!(
        grown <= allowed,
        "grew {grown} bytes for {} aggregate entries and {used_nonces} used nonces (bound {allowed})",
        entries.len()
    );
    eprintln!(
        "10,000 hostile requests in {elapsed:.1} s: {counts:?}; {} aggregate entries; database grew {grown} bytes (bound {allowed})",
        entries.len()
    );
    let r = c
        .get(format!("{}/v1/result-key", v.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    v.stop().await;
}

/// Stopping (SIGTERM does this) drains: a request in flight is answered,
/// then the server is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_lets_requests_in_flight_finish() {
    use tokio::io::AsyncWriteExt;
    let v = TestVerifier::start(&data("tpm/go-tpm-tools/gce-ca-certs")).await;
    let body = br#"{"agent_id":"snp:drain"}"#;
    let mut s = tls(&v).await.unwrap();
    s.write_all(
        format!(
            "POST /v1/nonces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    s.write_all(&body[..5]).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let url = v.url.clone();
    let stopping = tokio::spawn(v.stop());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    s.write_all(&body[5..]).await.unwrap();
    let (answer, _) = read_all(&mut s).await;
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    stopping.await.unwrap();
    // And new connections are refused.
    let addr = url.trim_start_matches("https://").to_string();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

/// Admin errors do not echo large input: a 3 MB policy that does not parse
/// gets a bounded JSON error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_errors_are_bounded() {
    let v = TestVerifier::start(&data("tpm/go-tpm-tools/gce-ca-certs")).await;
    let c = http(&v);
    let junk = format!(
        "version = 1\n[[reference]]\nname = \"{}\n",
        "q".repeat(3_000_000)
    );
    let r = c
        .put(format!("{}/v1/admin/policy", v.url))
        .bearer_auth(&v.admin_token)
        .body(junk)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let text = r.text().await.unwrap();
    assert!(text.len() < 2 * 1024, "{} bytes", text.len());
    let e: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(e["message"].as_str().unwrap().ends_with('…') || text.len() < 1100);
    v.stop().await;
}

/// `SEALBUILD_LOG_FORMAT=json`: every log line is one JSON object.
#[test]
fn json_logs_are_one_object_per_line() {
    use std::io::BufRead;
    let verifier = sealbuild_tests::repo().join("target/debug/sealbuild-verifier");
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(verifier)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("SEALBUILD_LOG_FORMAT", "json")
        .env("SEALBUILD_LOG", "info")
        .env_remove("SEALBUILD_ADMIN_TOKEN")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = 0;
    while let Some(Ok(line)) = lines.next() {
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            v["level"].is_string() && v["fields"]["message"].is_string(),
            "{line}"
        );
        seen += 1;
        if line.contains("listening") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(seen >= 2, "{seen} log lines");
}

/// File descriptors exhausted (RLIMIT_NOFILE 64, 150 idle connections): the
/// accept loop backs off and logs at most once a second instead of
/// spinning, and the service serves again once the connections are gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_file_descriptors_do_not_spin_the_accept_loop() {
    let verifier = sealbuild_tests::repo().join("target/debug/sealbuild-verifier");
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::write(
        dir.path().join("verifier.toml"),
        format!(
            "state_dir = \"{}\"\nhttp_header_timeout_secs = 30\nhttp_max_connections_per_source = 1000\n",
            state.display()
        ),
    )
    .unwrap();
    let addr_file = dir.path().join("addr");
    let mut child = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "ulimit -n 64 && exec '{}' --config '{}' serve --listen 127.0.0.1:0 --address-file '{}'",
            verifier.display(),
            dir.path().join("verifier.toml").display(),
            addr_file.display()
        ))
        .env("SEALBUILD_LOG", "warn")
        .env_remove("SEALBUILD_ADMIN_TOKEN")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::from(
            std::fs::File::create(dir.path().join("stderr")).unwrap(),
        ))
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if addr_file.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let addr = std::fs::read_to_string(&addr_file).unwrap();
    // Idle TCP connections hold descriptors (the handshake never starts).
    let mut held = Vec::new();
    for _ in 0..150 {
        if let Ok(s) = tokio::net::TcpStream::connect(addr.trim()).await {
            held.push(s);
        }
    }
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let log = std::fs::read_to_string(dir.path().join("stderr")).unwrap();
    let failures = log.matches("accept failed").count();
    assert!(
        (1..=6).contains(&failures),
        "{failures} 'accept failed' lines in 3 s:\n{}",
        log.chars().take(2000).collect::<String>()
    );
    // Descriptors come back: the service answers again.
    drop(held);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ca =
        reqwest::Certificate::from_pem(&std::fs::read(state.join("tls/ca.pem")).unwrap()).unwrap();
    let c = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let mut ok = false;
    for _ in 0..20 {
        if let Ok(r) = c
            .get(format!("https://{}/healthz", addr.trim()))
            .send()
            .await
        {
            ok = r.status() == 200;
            if ok {
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        ok,
        "the verifier did not serve again after the descriptors came back"
    );
}

/// After a burst of connections closes, the verifier hands its free memory
/// back to the system (glibc keeps it otherwise; README "Operating the
/// verifier"), and says so in its metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn free_memory_is_returned_after_a_burst_of_connections() {
    let v = TestVerifier::start(&data("tpm/go-tpm-tools/gce-ca-certs")).await;
    let url = |p: &str| format!("{}{p}", v.url);
    let trims = |m: &str| -> u64 {
        m.lines()
            .find_map(|l| l.strip_prefix("sealbuild_memory_trims_total "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no sealbuild_memory_trims_total in\n{m}"))
    };
    let admin = http(&v);
    let before = trims(&metrics(&admin, &v).await);
    // 40 clients, each on its own connection, held open together.
    let clients: Vec<reqwest::Client> = (0..40).map(|_| http(&v)).collect();
    for c in &clients {
        let r = c.get(url("/healthz")).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    drop(clients);
    // Within two ticks of the schedule the fall from 41 connections to 1
    // (the admin client's) is seen and the memory returned.
    let mut after = before;
    for _ in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        after = trims(&metrics(&admin, &v).await);
        if after > before {
            break;
        }
    }
    assert!(
        after > before,
        "no trim after the burst: {before} before, {after} after"
    );
    v.stop().await;
}
