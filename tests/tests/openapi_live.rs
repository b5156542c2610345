//! The OpenAPI document (`sealbuild-verifier openapi`, docs/openapi.json)
//! against a live verifier on loopback: every documented operation is
//! routed, every other method on a documented path answers 405 and an
//! undocumented path 404, and real answers (success and error) have a
//! documented status, media type and a body that validates against the
//! documented schema (JSON Schema 2020-12).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use reqwest::Method;
use sealbuild_tests::{data, TestVerifier};
use sealbuild_verifier::http::{METHOD_NOT_ALLOWED, NO_ROUTE};
use serde_json::{json, Value};

fn http(v: &TestVerifier) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&v.ca_pem).unwrap()).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap()
}

/// A validator for `schema` whose `$ref`s point into the document.
fn validator(doc: &Value, schema: &Value) -> jsonschema::Validator {
    let mut root = json!({ "components": doc["components"].clone() });
    for (k, v) in schema.as_object().unwrap() {
        root[k] = v.clone();
    }
    jsonschema::draft202012::new(&root)
        .unwrap_or_else(|e| panic!("schema {schema} does not compile: {e}"))
}

/// The documented answer of `method path` for `status`: media type and schema.
fn answer(doc: &Value, path: &str, method: &str, status: u16) -> Option<(String, Value)> {
    let mut r = doc["paths"][path][method]["responses"][status.to_string()].clone();
    if let Some(rf) = r["$ref"].as_str() {
        let name = rf.strip_prefix("#/components/responses/").unwrap();
        r = doc["components"]["responses"][name].clone();
    }
    let (media, c) = r["content"].as_object()?.iter().next()?;
    Some((media.clone(), c["schema"].clone()))
}

/// Checks a live answer against the document; returns its body.
async fn check(doc: &Value, path: &str, method: &str, r: reqwest::Response) -> String {
    let status = r.status().as_u16();
    let media = r
        .headers()
        .get("content-type")
        .map(|h| h.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = r.text().await.unwrap();
    let Some((want_media, schema)) = answer(doc, path, method, status) else {
        panic!("{method} {path} answered {status}, which the document does not list: {body}");
    };
    assert!(
        media.starts_with(&want_media),
        "{method} {path} {status}: content-type {media}, documented {want_media}"
    );
    let value = if want_media == "application/json" {
        serde_json::from_str(&body).unwrap()
    } else {
        Value::String(body.clone())
    };
    let v = validator(doc, &schema);
    let errors: Vec<String> = v.iter_errors(&value).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "{method} {path} {status}: the answer does not validate against {schema}: {errors:?}\n{body}"
    );
    body
}

fn methods() -> [Method; 6] {
    // HEAD is left out: it is GET without the body (RFC 9110 §9.3.2), which
    // the router answers wherever GET is documented.
    [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_describes_the_live_router() {
    let doc = sealbuild_verifier::openapi::document();
    // What is served is what is committed.
    let committed =
        std::fs::read_to_string(sealbuild_tests::repo().join("docs/openapi.json")).unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&committed).unwrap(),
        doc,
        "docs/openapi.json is out of date: cargo run -p sealbuild-verifier -- openapi > docs/openapi.json"
    );
    let v = TestVerifier::start(&data("tpm/go-tpm-tools/gce-ca-certs")).await;
    let c = http(&v);
    let url = |p: &str| format!("{}{p}", v.url);

    // Every documented operation is routed (its handler answers, not the
    // router's 404/405), every other method on its path is a JSON 405.
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 10, "{paths:?}");
    for (path, ops) in paths {
        for m in methods() {
            let name = m.as_str().to_ascii_lowercase();
            let r = c
                .request(m.clone(), url(path))
                .bearer_auth(&v.admin_token)
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            if ops.get(&name).is_some() {
                let body = check(&doc, path, &name, r).await;
                assert_ne!(status, 405, "{name} {path}: {body}");
                assert!(!body.contains(NO_ROUTE), "{name} {path}: {body}");
            } else {
                let body: Value = r.json().await.unwrap();
                assert_eq!(status, 405, "{name} {path}: {body}");
                assert_eq!(body["error"], METHOD_NOT_ALLOWED, "{name} {path}");
                let error = json!({ "$ref": "#/components/schemas/ErrorBody" });
                assert!(validator(&doc, &error).is_valid(&body), "{body}");
            }
        }
    }
    // A path the document does not have.
    for path in ["/", "/v1", "/v1/admin/keys/x", "/v2/nonces", "/healthz/"] {
        assert!(paths.get(path).is_none());
        let r = c.get(url(path)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], NO_ROUTE, "{path}");
    }

    real_answers_validate(&doc, &v, &c).await;
    v.stop().await;
}

/// Real successes and errors of each kind of route, checked by [`check`].
async fn real_answers_validate(doc: &Value, v: &TestVerifier, c: &reqwest::Client) {
    let url = |p: &str| format!("{}{p}", v.url);
    let get = |p: &str| c.get(url(p)).bearer_auth(&v.admin_token);
    let post = |p: &str, body: Value| c.post(url(p)).json(&body);

    check(
        doc,
        "/healthz",
        "get",
        get("/healthz").send().await.unwrap(),
    )
    .await;
    check(doc, "/readyz", "get", get("/readyz").send().await.unwrap()).await;
    let pem = check(
        doc,
        "/v1/result-key",
        "get",
        get("/v1/result-key").send().await.unwrap(),
    )
    .await;
    assert!(pem.contains("BEGIN PUBLIC KEY"));

    // A nonce for a hardware-vouched agent, and an attestation with it whose
    // report does not verify: a 200 with a rejection.
    let r = post("/v1/nonces", json!({"agent_id": "snp:openapi-live"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let nonce: Value = serde_json::from_str(&check(doc, "/v1/nonces", "post", r).await).unwrap();
    let r = post(
        "/v1/attest",
        json!({
            "agent_id": "snp:openapi-live",
            "nonce": nonce["nonce"],
            "ephemeral_public_key": "AAAA",
            "evidence": {"snp": {"report": "AAAA"}},
        }),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let verdict: Value = serde_json::from_str(&check(doc, "/v1/attest", "post", r).await).unwrap();
    assert_eq!(verdict["verdict"], "rejected");

    // Errors: a field outside its bound (400), an unknown challenge (404),
    // garbage (400), no admin token (401), a bad query (400).
    for (path, body, status) in [
        ("/v1/nonces", json!({"agent_id": "no spaces"}), 400),
        (
            "/v1/agents/activate",
            json!({"agent_id": "abc", "challenge_id": "def", "secret": "AAAA"}),
            404,
        ),
        ("/v1/agents/register", json!({"ek_public": "!!"}), 400),
    ] {
        let r = post(path, body).send().await.unwrap();
        assert_eq!(r.status(), status, "{path}");
        check(doc, path, "post", r).await;
    }
    let r = c.get(url("/v1/admin/keys")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    check(doc, "/v1/admin/keys", "get", r).await;
    let r = get("/v1/admin/audit?limit=many").send().await.unwrap();
    assert_eq!(r.status(), 400);
    check(doc, "/v1/admin/audit", "get", r).await;
    let r = get("/v1/admin/policy").send().await.unwrap();
    assert_eq!(r.status(), 404, "no policy yet");
    check(doc, "/v1/admin/policy", "get", r).await;

    // Admin successes: a key, the listing, a policy, the audit log, metrics.
    let r = c
        .post(url("/v1/admin/keys"))
        .bearer_auth(&v.admin_token)
        .json(&json!({"algorithm": "ecdsa-p256", "id": "release"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    check(doc, "/v1/admin/keys", "post", r).await;
    let r = get("/v1/admin/keys").send().await.unwrap();
    let listing: Value =
        serde_json::from_str(&check(doc, "/v1/admin/keys", "get", r).await).unwrap();
    assert_eq!(listing[0]["key_id"], "release");
    let policy = format!(
        "version = 1\n[[reference]]\nname = \"r\"\nplatform = \"tpm\"\n[reference.pcrs.sha256]\n\"0\" = [\"{}\"]\n[[key]]\nid = \"release\"\nreferences = [\"r\"]\n",
        "00".repeat(32)
    );
    let r = c
        .put(url("/v1/admin/policy"))
        .bearer_auth(&v.admin_token)
        .body(policy)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    check(doc, "/v1/admin/policy", "put", r).await;
    check(
        doc,
        "/v1/admin/policy",
        "get",
        get("/v1/admin/policy").send().await.unwrap(),
    )
    .await;
    // The refused attestation above was counted, not audited one by one:
    // its aggregate entry is written at the interval's end (now).
    assert!(v.service.flush_refusals().await.unwrap() >= 1);
    let r = get("/v1/admin/audit?from=1&limit=50").send().await.unwrap();
    let entries: Value =
        serde_json::from_str(&check(doc, "/v1/admin/audit", "get", r).await).unwrap();
    assert!(entries.as_array().unwrap().len() >= 3, "{entries}");
    check(
        doc,
        "/metrics",
        "get",
        get("/metrics").send().await.unwrap(),
    )
    .await;

    // The validation is not vacuous: answers that break the schemas fail.
    let schema = |name: &str| json!({ "$ref": format!("#/components/schemas/{name}") });
    let mut wrong = nonce.clone();
    wrong["nonce"] = json!(5);
    assert!(!validator(doc, &schema("NonceResponse")).is_valid(&wrong));
    let mut extra = listing[0].clone();
    extra["private_key"] = json!("…");
    assert!(!validator(doc, &schema("KeySummary")).is_valid(&extra));
    assert!(!validator(doc, &schema("ErrorBody")).is_valid(&json!({"error": "x"})));
}
