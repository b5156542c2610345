//! The HTTP API's one route table, [`ROUTES`], and its handlers.
//!
//! Each [`Route`] names its method, path, who may call it, the types of its
//! request and answer, the error statuses it can answer beyond those its
//! shape implies, and its handler. [`crate::http::router`] builds the axum
//! router from this table alone (no route is added anywhere else), and
//! [`crate::openapi::document`] builds the OpenAPI document from the same
//! table, so a route cannot be served without being documented, nor
//! documented without being served. The request and answer schemas come from
//! the types the handlers decode and encode (`JsonSchema`), and a test against
//! the live router (`tests/tests/openapi_live.rs`) checks real answers
//! against them.

use crate::error::ServerError;
use crate::http::{bounded_message, Shared, MAX_BODY};
use crate::keyrecord::KeyAlgorithm;
use crate::keys::MAX_KEY_NAME;
use axum::extract::{FromRequest, FromRequestParts, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Json;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use sealbuild_common::api::bounds::{BoundError, Bounded, KEY_ID_PUNCTUATION};
use sealbuild_common::api::{
    ActivateRequest, ActivateResponse, AttestRequest, AttestResponse, ErrorBody, NonceRequest,
    NonceResponse, RegisterRequest, RegisterResponse,
};
use serde::{Deserialize, Serialize};

/// A function giving the JSON Schema of a body.
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// The schema of `T`, as a reference into the document's components.
pub fn schema<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// The schema of `T` itself, not a reference (query parameters are read
/// from its properties).
pub fn inline<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    T::json_schema(g)
}

/// An HTTP method the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
}

impl Method {
    /// Every method the document can name (for the 405 checks).
    pub const ALL: [Method; 3] = [Self::Get, Self::Post, Self::Put];

    /// Lower-case name, as OpenAPI keys operations.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::Post => "post",
            Self::Put => "put",
        }
    }

    fn filter(self) -> MethodFilter {
        match self {
            Self::Get => MethodFilter::GET,
            Self::Post => MethodFilter::POST,
            Self::Put => MethodFilter::PUT,
        }
    }
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone.
    Public,
    /// Anyone, rate limited per source address (429 beyond the rate).
    RateLimited,
    /// The operator: `Authorization: Bearer <admin token>` (401 otherwise).
    Admin,
}

/// A request or answer body.
#[derive(Clone, Copy)]
pub enum Content {
    /// `application/json` of this schema.
    Json(SchemaFn),
    /// Text of this media type and schema.
    Text(&'static str, SchemaFn),
}

/// One route of the API.
pub struct Route {
    /// Method.
    pub method: Method,
    /// Path (no templates).
    pub path: &'static str,
    /// OpenAPI operationId.
    pub operation_id: &'static str,
    /// One line on what it does.
    pub summary: &'static str,
    /// Group: `agent`, `admin` or `operations`.
    pub tag: &'static str,
    /// Who may call it.
    pub access: Access,
    /// Request body, if any (400 and 413 follow).
    pub request: Option<Content>,
    /// Query parameters: the properties of this object schema (400 follows).
    pub query: Option<SchemaFn>,
    /// The successful (200) answer.
    pub response: Content,
    /// Error statuses beyond those the shape implies (see
    /// [`Route::error_statuses`]).
    pub errors: &'static [u16],
    /// Builds the handler for `method`.
    pub handler: fn(MethodFilter) -> MethodRouter<Shared>,
}

impl Route {
    /// The axum method router of this route.
    pub fn method_router(&self) -> MethodRouter<Shared> {
        (self.handler)(self.method.filter())
    }

    /// Every error status this route can answer, ascending: 408 for any
    /// request (the request timeout), 400/413 with a body, 400 with a
    /// query, 401 for admin routes, 429 for rate-limited ones, and its own.
    pub fn error_statuses(&self) -> Vec<u16> {
        let mut s = vec![408];
        if self.request.is_some() {
            s.extend([400, 413]);
        }
        if self.query.is_some() {
            s.push(400);
        }
        match self.access {
            Access::Admin => s.push(401),
            Access::RateLimited => s.push(429),
            Access::Public => {}
        }
        s.extend_from_slice(self.errors);
        s.sort_unstable();
        s.dedup();
        s
    }
}

/// Media type of `/metrics` (Prometheus text exposition format 0.0.4).
pub const METRICS_MEDIA_TYPE: &str = "text/plain; version=0.0.4";

/// The API. Handlers and schemas are named here once; see the module docs.
pub const ROUTES: &[Route] = &[
    Route {
        method: Method::Post,
        path: "/v1/agents/register",
        operation_id: "register",
        summary: "Registers a TPM (EK and AK); answers the MakeCredential challenge",
        tag: "agent",
        access: Access::RateLimited,
        request: Some(Content::Json(schema::<RegisterRequest>)),
        query: None,
        response: Content::Json(schema::<RegisterResponse>),
        errors: &[409, 500],
        handler: |m| on(m, register),
    },
    Route {
        method: Method::Post,
        path: "/v1/agents/activate",
        operation_id: "activate",
        summary: "Answers the challenge with the ActivateCredential secret",
        tag: "agent",
        access: Access::RateLimited,
        request: Some(Content::Json(schema::<ActivateRequest>)),
        query: None,
        response: Content::Json(schema::<ActivateResponse>),
        errors: &[404, 409, 500],
        handler: |m| on(m, activate),
    },
    Route {
        method: Method::Post,
        path: "/v1/nonces",
        operation_id: "nonce",
        summary: "Issues a single-use nonce to an agent",
        tag: "agent",
        access: Access::RateLimited,
        request: Some(Content::Json(schema::<NonceRequest>)),
        query: None,
        response: Content::Json(schema::<NonceResponse>),
        errors: &[404, 500],
        handler: |m| on(m, nonce),
    },
    Route {
        method: Method::Post,
        path: "/v1/attest",
        operation_id: "attest",
        summary: "Appraises evidence; releases the granted keys sealed to the ephemeral key",
        tag: "agent",
        access: Access::RateLimited,
        request: Some(Content::Json(schema::<AttestRequest>)),
        query: None,
        response: Content::Json(schema::<AttestResponse>),
        errors: &[404, 409, 500],
        handler: |m| on(m, attest),
    },
    Route {
        method: Method::Get,
        path: "/v1/result-key",
        operation_id: "resultKey",
        summary: "The public key that signs attestation results (EAR), PEM",
        tag: "agent",
        access: Access::Public,
        request: None,
        query: None,
        response: Content::Text("text/plain", public_key_pem),
        errors: &[500],
        handler: |m| on(m, result_key),
    },
    Route {
        method: Method::Get,
        path: "/v1/admin/policy",
        operation_id: "getPolicy",
        summary: "The current appraisal policy",
        tag: "admin",
        access: Access::Admin,
        request: None,
        query: None,
        response: Content::Json(schema::<crate::service::PolicyInfo>),
        errors: &[404, 500],
        handler: |m| on(m, get_policy),
    },
    Route {
        method: Method::Put,
        path: "/v1/admin/policy",
        operation_id: "putPolicy",
        summary: "Checks and stores a policy document (TOML or JSON) as the current policy",
        tag: "admin",
        access: Access::Admin,
        request: Some(Content::Text("text/plain", policy_text)),
        query: None,
        response: Content::Json(schema::<crate::service::PolicyInfo>),
        errors: &[500],
        handler: |m| on(m, put_policy),
    },
    Route {
        method: Method::Get,
        path: "/v1/admin/keys",
        operation_id: "listKeys",
        summary: "Every release key (public halves only)",
        tag: "admin",
        access: Access::Admin,
        request: None,
        query: None,
        response: Content::Json(schema::<Vec<crate::store::KeySummary>>),
        errors: &[500],
        handler: |m| on(m, list_keys),
    },
    Route {
        method: Method::Post,
        path: "/v1/admin/keys",
        operation_id: "createKey",
        summary: "Generates a release key",
        tag: "admin",
        access: Access::Admin,
        request: Some(Content::Json(schema::<NewKey>)),
        query: None,
        response: Content::Json(schema::<crate::keyrecord::PublicKeyInfo>),
        errors: &[409, 500],
        handler: |m| on(m, create_key),
    },
    Route {
        method: Method::Get,
        path: "/v1/admin/audit",
        operation_id: "listAudit",
        summary: "Audit log entries from `from`, at most `limit` (100 by default, 1000 at most)",
        tag: "admin",
        access: Access::Admin,
        request: None,
        query: Some(inline::<AuditQuery>),
        response: Content::Json(schema::<Vec<crate::audit::AuditEntryJson>>),
        errors: &[500],
        handler: |m| on(m, audit),
    },
    Route {
        method: Method::Get,
        path: "/metrics",
        operation_id: "metrics",
        summary: "Prometheus metrics (requests, appraisals, releases, queue, audit size)",
        tag: "operations",
        access: Access::Admin,
        request: None,
        query: None,
        response: Content::Text(METRICS_MEDIA_TYPE, prometheus_text),
        errors: &[500],
        handler: |m| on(m, metrics),
    },
    Route {
        method: Method::Get,
        path: "/healthz",
        operation_id: "healthz",
        summary: "Liveness: the process serves HTTP",
        tag: "operations",
        access: Access::Public,
        request: None,
        query: None,
        response: Content::Json(schema::<Health>),
        errors: &[],
        handler: |m| on(m, healthz),
    },
    Route {
        method: Method::Get,
        path: "/readyz",
        operation_id: "readyz",
        summary: "Readiness: the database answers (503 otherwise)",
        tag: "operations",
        access: Access::Public,
        request: None,
        query: None,
        response: Content::Json(schema::<Ready>),
        errors: &[503],
        handler: |m| on(m, readyz),
    },
];

fn public_key_pem(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "description": "SubjectPublicKeyInfo PEM of the P-256 key that signs EARs.",
        "pattern": "^-----BEGIN PUBLIC KEY-----\n",
    })
}

fn policy_text(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "description": "A policy document, TOML or JSON (version 1); the body is read as UTF-8 \
                        text whatever its Content-Type.",
        "maxLength": MAX_BODY,
    })
}

fn prometheus_text(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "description": "Prometheus text exposition format 0.0.4.",
    })
}

fn key_name(_: &mut SchemaGenerator) -> Schema {
    let class = sealbuild_common::api::schema::ascii_class(KEY_ID_PUNCTUATION);
    json_schema!({
        "type": ["string", "null"],
        "pattern": format!("^[A-Za-z0-9][{class}]{{0,{}}}$", MAX_KEY_NAME.saturating_sub(1)),
    })
}

/// Body of `POST /v1/admin/keys`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// The key's algorithm.
    #[schemars(with = "KeyAlgorithm")]
    algorithm: String,
    /// The key id; absent: `sha256:` and 16 hex digits of the fingerprint.
    #[serde(default)]
    #[schemars(schema_with = "key_name")]
    id: Option<String>,
}

impl Bounded for NewKey {
    /// The key manager checks the id and the algorithm (400 naming them).
    fn check_bounds(&self) -> Result<(), BoundError> {
        Ok(())
    }
}

/// Query of `GET /v1/admin/audit`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct AuditQuery {
    /// First sequence number (default 1).
    from: Option<u64>,
    /// Most entries (default 100, at most 1000).
    limit: Option<u32>,
}

/// The one status of a live process.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Live {
    /// The process serves HTTP.
    Ok,
}

/// Answer of `GET /healthz`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Health {
    /// `ok`.
    status: Live,
}

/// The one status of a ready service.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Readiness {
    /// The database answers.
    Ready,
}

/// Answer of `GET /readyz`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ready {
    /// `ready`.
    status: Readiness,
    /// Entries in the audit log.
    audit_entries: u64,
}

/// A JSON request body that parsed and whose every field is within its
/// bound ([`Bounded`]); otherwise a JSON 400 (413 for an oversized body)
/// naming the field, never echoing the value.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned + Bounded,
    S: Send + Sync,
{
    type Rejection = ServerError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(v) = Json::<T>::from_request(req, state)
            .await
            .map_err(|rejection| {
                let status = rejection.status();
                // serde's message names the field and position; cut it
                // short so that no large input is echoed.
                let text: String = rejection.body_text().chars().take(300).collect();
                if status == StatusCode::PAYLOAD_TOO_LARGE {
                    ServerError::PayloadTooLarge(format!("request body over {MAX_BODY} bytes"))
                } else {
                    ServerError::BadRequest(format!("request body: {text}"))
                }
            })?;
        v.check_bounds()
            .map_err(|e| ServerError::BadRequest(format!("request field {e}")))?;
        Ok(Self(v))
    }
}

/// A query string that parsed; otherwise a JSON 400.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ServerError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let Query(v) = Query::<T>::from_request_parts(parts, state)
            .await
            .map_err(|r| ServerError::BadRequest(bounded_message(&r.body_text())))?;
        Ok(Self(v))
    }
}

/// A UTF-8 text body; otherwise a JSON 400 (413 when oversized).
pub struct ApiText(pub String);

impl<S: Send + Sync> FromRequest<S> for ApiText {
    type Rejection = ServerError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        String::from_request(req, state)
            .await
            .map(Self)
            .map_err(|r| {
                if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ServerError::PayloadTooLarge(format!("request body over {MAX_BODY} bytes"))
                } else {
                    ServerError::BadRequest(bounded_message(&r.body_text()))
                }
            })
    }
}

fn admin(v: &crate::service::Verifier, headers: &HeaderMap) -> Result<(), ServerError> {
    let token = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .ok_or_else(|| ServerError::Unauthorized("missing bearer token".into()))?;
    v.check_admin_token(token)
}

type Answer<T> = Result<Json<T>, ServerError>;

/// The caller's address, when the connection recorded it (names the source
/// in the aggregate of refusals, `crate::refusals`).
fn source_of(peer: Option<axum::Extension<crate::http::PeerAddr>>) -> Option<std::net::IpAddr> {
    peer.map(|p| p.0 .0.ip())
}

async fn register(
    State(v): State<Shared>,
    peer: Option<axum::Extension<crate::http::PeerAddr>>,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> Answer<RegisterResponse> {
    Ok(Json(v.register(req, source_of(peer)).await?))
}

async fn activate(
    State(v): State<Shared>,
    ApiJson(req): ApiJson<ActivateRequest>,
) -> Answer<ActivateResponse> {
    Ok(Json(v.activate(req).await?))
}

async fn nonce(
    State(v): State<Shared>,
    ApiJson(req): ApiJson<NonceRequest>,
) -> Answer<NonceResponse> {
    Ok(Json(v.nonce(req).await?))
}

async fn attest(
    State(v): State<Shared>,
    peer: Option<axum::Extension<crate::http::PeerAddr>>,
    ApiJson(req): ApiJson<AttestRequest>,
) -> Answer<AttestResponse> {
    Ok(Json(v.attest(req, source_of(peer)).await?))
}

async fn healthz() -> Json<Health> {
    Json(Health { status: Live::Ok })
}

async fn readyz(State(v): State<Shared>) -> Response {
    match v.ready().await {
        Ok(audit_entries) => Json(Ready {
            status: Readiness::Ready,
            audit_entries,
        })
        .into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(ErrorBody {
                error: "not_ready".into(),
                message: bounded_message(&e.to_string()),
            }),
        )
            .into_response(),
    }
}

async fn result_key(State(v): State<Shared>) -> Result<String, ServerError> {
    v.result_key_pem()
}

async fn get_policy(
    State(v): State<Shared>,
    headers: HeaderMap,
) -> Answer<crate::service::PolicyInfo> {
    admin(&v, &headers)?;
    Ok(Json(v.current_policy().await?))
}

async fn put_policy(
    State(v): State<Shared>,
    headers: HeaderMap,
    ApiText(body): ApiText,
) -> Answer<crate::service::PolicyInfo> {
    admin(&v, &headers)?;
    Ok(Json(v.set_policy(body).await?))
}

async fn create_key(
    State(v): State<Shared>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<NewKey>,
) -> Answer<crate::keyrecord::PublicKeyInfo> {
    admin(&v, &headers)?;
    Ok(Json(v.generate_key(&req.algorithm, req.id).await?))
}

async fn list_keys(
    State(v): State<Shared>,
    headers: HeaderMap,
) -> Answer<Vec<crate::store::KeySummary>> {
    admin(&v, &headers)?;
    Ok(Json(v.list_keys().await?))
}

async fn audit(
    State(v): State<Shared>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Answer<Vec<crate::audit::AuditEntryJson>> {
    admin(&v, &headers)?;
    let entries = v
        .audit_entries(q.from.unwrap_or(1), q.limit.unwrap_or(100).min(1000))
        .await?;
    Ok(Json(entries))
}

/// Prometheus metrics (admin token: they name keys and show traffic).
async fn metrics(State(v): State<Shared>, headers: HeaderMap) -> Result<Response, ServerError> {
    admin(&v, &headers)?;
    let text = v.metrics.render(v.gauges().await?);
    Ok(([("content-type", METRICS_MEDIA_TYPE)], text).into_response())
}
