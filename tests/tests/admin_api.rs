//! The admin API needs the bearer token; bad requests get clear errors and
//! the service keeps serving; policy updates through the API take effect.
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_api_requires_token_and_survives_bad_input() {
    let v = TestVerifier::start(&data("tpm/go-tpm-tools/gce-ca-certs")).await;
    let c = http(&v);
    let url = |p: &str| format!("{}{p}", v.url);

    // No token, wrong token: 401 with an explanation.
    let r = c.get(url("/v1/admin/keys")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized");
    let r = c
        .get(url("/v1/admin/keys"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Create a key, then a policy granting it, through the API.
    let r = c
        .post(url("/v1/admin/keys"))
        .bearer_auth(&v.admin_token)
        .json(&serde_json::json!({"algorithm": "ecdsa-p384", "id": "release"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let policy = format!(
        "version = 1\n[[reference]]\nname = \"r\"\nplatform = \"tpm\"\n[reference.pcrs.sha256]\n\"0\" = [\"{}\"]\n[[key]]\nid = \"release\"\nreferences = [\"r\"]\n",
        "00".repeat(32)
    );
    let r = c
        .put(url("/v1/admin/policy"))
        .bearer_auth(&v.admin_token)
        .body(policy.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let r = c
        .get(url("/v1/admin/policy"))
        .bearer_auth(&v.admin_token)
        .send()
        .await
        .unwrap();
    let got: serde_json::Value = r.json().await.unwrap();
    assert_eq!(got["text"], policy);

    // A policy naming an unknown key, or malformed, is refused with reasons.
    let r = c
        .put(url("/v1/admin/policy"))
        .bearer_auth(&v.admin_token)
        .body(
            policy
                .replace("id = \"release\"", "id = \"nope\"")
                .replace("\"release\"", "\"nope\""),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("'nope'"));
    let r = c
        .put(url("/v1/admin/policy"))
        .bearer_auth(&v.admin_token)
        .body("version = 2")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("version 2 is not supported"));

    // Garbage on the agent routes: 4xx, and the service keeps serving.
    for (route, body) in [
        ("/v1/attest", "{not json"),
        ("/v1/agents/register", "{\"ek_public\": \"!!\"}"),
        ("/v1/nonces", "{\"agent_id\": \"unknown\"}"),
    ] {
        let r = c
            .post(url(route))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error(), "{route}: {}", r.status());
    }
    let r = c.get(url("/v1/result-key")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("BEGIN PUBLIC KEY"));
    // Every admin change is in a verifying audit chain.
    sealbuild_verifier::audit::verify_store(v.store.as_ref(), None).unwrap();
    v.stop().await;
}
