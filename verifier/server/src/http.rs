//! The HTTP/JSON API over TLS (axum on hyper, rustls).
//!
//! The routes, their handlers and what each may answer are one table,
//! [`crate::routes::ROUTES`]; [`router`] builds the axum router from it
//! alone and [`crate::openapi`] the OpenAPI document (`docs/openapi.json`,
//! `sealbuild-verifier openapi`). A path the table does not name answers a
//! JSON 404 (`no_route`), a method it does not name on a known path a JSON
//! 405 (`method_not_allowed`).
//!
//! Errors are [`ErrorBody`] with the status from [`ServerError::status`],
//! the single mapping.

use crate::error::ServerError;
use crate::ratelimit::RateLimiter;
use crate::service::Verifier;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use hyper_util::rt::TokioIo;
use sealbuild_common::api::ErrorBody;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::Service;

/// Largest request body accepted (evidence with a large event log fits).
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// Longest error message sent or logged (characters): an error never
/// echoes more than this of anything a caller sent.
pub const MAX_ERROR_MESSAGE: usize = 1024;

/// `s` cut to [`MAX_ERROR_MESSAGE`] characters, control characters escaped.
pub(crate) fn bounded_message(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i >= MAX_ERROR_MESSAGE {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let message = bounded_message(&self.to_string());
        if status.is_server_error() {
            tracing::error!(error = %message, "request failed");
        }
        let mut r = (
            status,
            Json(ErrorBody {
                error: self.class().to_string(),
                message,
            }),
        )
            .into_response();
        // After a body that was too large or too slow the connection is
        // closed (its unread rest cannot be skipped): say so, so that
        // clients do not reuse it.
        if matches!(
            status,
            StatusCode::PAYLOAD_TOO_LARGE | StatusCode::REQUEST_TIMEOUT
        ) {
            r.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        r
    }
}

/// The state every handler shares.
pub type Shared = Arc<Verifier>;

/// The API router: every route of [`crate::routes::ROUTES`], nothing else.
pub fn router(v: Shared, limiter: Arc<RateLimiter>) -> Router {
    let mut app = Router::new();
    for route in crate::routes::ROUTES {
        let mut handler = route.method_router();
        // The unauthenticated routes that can make the verifier store
        // something are rate limited per source (see `ratelimit`).
        if route.access == crate::routes::Access::RateLimited {
            handler = handler.route_layer(axum::middleware::from_fn_with_state(
                limiter.clone(),
                per_source_limit,
            ));
        }
        app = app.route(route.path, handler);
    }
    app.fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(
            v.clone(),
            count_request,
        ))
        .with_state(v)
}

/// Error class of the router's own 404 (a path the API does not have).
pub const NO_ROUTE: &str = "no_route";
/// Error class of the router's own 405 (a method the path does not have).
pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";

async fn no_route() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(ErrorBody {
            error: NO_ROUTE.into(),
            message: "no such route; the API is described by `sealbuild-verifier openapi`".into(),
        }),
    )
        .into_response()
}

async fn method_not_allowed() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(ErrorBody {
            error: METHOD_NOT_ALLOWED.into(),
            message: "this route does not answer this method (see the Allow header)".into(),
        }),
    )
        .into_response()
}

/// Counts every answered request by route template and status.
async fn count_request(
    State(v): State<Shared>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_string();
    let r = next.run(req).await;
    v.metrics.request(&route, r.status().as_u16());
    r
}

/// A running server: its address and a handle to stop it.
pub struct Running {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops accepting, lets requests in flight finish (up to the request
    /// timeout) and waits for the accept loop to end.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// The peer of a request (inserted by the connection handler).
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// 429 (JSON, with Retry-After) for a source over its rate.
async fn per_source_limit(
    State(limiter): State<Arc<RateLimiter>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let source = req
        .extensions()
        .get::<PeerAddr>()
        .map(|p| p.0.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    match limiter.check(source, std::time::Instant::now()) {
        Ok(()) => next.run(req).await,
        Err(l) => {
            let secs = l.retry_after.as_secs().max(1);
            let mut r = ServerError::RateLimited(format!(
                "too many requests from this source; retry in {secs} s"
            ))
            .into_response();
            if let Ok(v) = axum::http::HeaderValue::from_str(&secs.to_string()) {
                r.headers_mut().insert("retry-after", v);
            }
            r
        }
    }
}

/// Connection limits of the server; every connection is bounded in time and
/// number, so that slow or idle clients cannot hold the service.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HttpLimits {
    /// TLS handshake and each request's headers must arrive within this.
    pub header_read: Duration,
    /// Each request, its body included, must be answered within this
    /// (a dripped body gets 408).
    pub request: Duration,
    /// A connection (keep-alive included) is closed after this.
    pub lifetime: Duration,
    /// Open connections at most; more are closed at once.
    pub max_connections: usize,
    /// Open connections per source address at most.
    pub max_per_source: usize,
    /// Requests per second per source on the unauthenticated routes.
    pub rate_per_source: f64,
    /// Burst of requests per source on those routes.
    pub burst_per_source: f64,
    /// Hand free memory back to the system after a burst of connections
    /// ([`crate::memory`]).
    pub return_free_memory: bool,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            request: Duration::from_secs(60),
            lifetime: Duration::from_secs(300),
            max_connections: 1024,
            max_per_source: 64,
            rate_per_source: 20.0,
            burst_per_source: 60.0,
            return_free_memory: true,
        }
    }
}

/// Counts open connections, in total and per source address.
#[derive(Default)]
struct Connections {
    total: usize,
    /// Highest `total` since [`trim_memory`] last looked.
    peak: usize,
    per_source: HashMap<IpAddr, usize>,
}

/// One admitted connection; dropping it releases its place.
struct Admitted {
    counts: Arc<Mutex<Connections>>,
    source: IpAddr,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        if let Ok(mut c) = self.counts.lock() {
            c.total = c.total.saturating_sub(1);
            if let Some(n) = c.per_source.get_mut(&self.source) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    c.per_source.remove(&self.source);
                }
            }
        }
    }
}

fn admit(
    counts: &Arc<Mutex<Connections>>,
    source: IpAddr,
    limits: &HttpLimits,
) -> Option<Admitted> {
    let mut c = counts.lock().ok()?;
    let mine = c.per_source.get(&source).copied().unwrap_or(0);
    if c.total >= limits.max_connections || mine >= limits.max_per_source {
        return None;
    }
    c.total += 1;
    c.peak = c.peak.max(c.total);
    c.per_source.insert(source, mine + 1);
    Some(Admitted {
        counts: counts.clone(),
        source,
    })
}

/// Binds `addr` and serves the API over TLS until stopped, with the
/// default [`HttpLimits`].
pub async fn serve(
    v: Shared,
    addr: SocketAddr,
    tls: Arc<rustls::ServerConfig>,
) -> Result<Running, ServerError> {
    serve_with(v, addr, tls, HttpLimits::default()).await
}

/// Serves one accepted TCP connection: TLS, then HTTP/1.1 (the only
/// protocol TLS offers, so no HTTP/2 by prior knowledge), each bounded by
/// `limits`.
async fn connection(
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    app: Router,
    limits: HttpLimits,
    graceful: hyper_util::server::graceful::Watcher,
) {
    let stream = match tokio::time::timeout(limits.header_read, acceptor.accept(tcp)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => return,
    };
    let request_timeout = limits.request;
    let svc = hyper::service::service_fn(move |req| {
        let mut app = app.clone();
        async move {
            let mut req = req.map(axum::body::Body::new);
            req.extensions_mut().insert(PeerAddr(peer));
            match tokio::time::timeout(request_timeout, app.call(req)).await {
                Ok(r) => r,
                Err(_) => Ok(ServerError::Timeout(format!(
                    "the request was not complete within {} s",
                    request_timeout.as_secs()
                ))
                .into_response()),
            }
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_read)
        .serve_connection(TokioIo::new(stream), svc);
    // On shutdown idle connections close and in-flight requests finish.
    let conn = graceful.watch(conn);
    match tokio::time::timeout(limits.lifetime, conn).await {
        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "connection ended with error"),
        Ok(Ok(())) => {}
        Err(_) => tracing::debug!(%peer, "connection closed at the end of its lifetime"),
    }
}

/// Writes the aggregate entry of refusals once per interval.
async fn flush_refusals(v: Shared) {
    let mut tick = tokio::time::interval(v.refusal_interval());
    tick.tick().await;
    loop {
        tick.tick().await;
        if let Err(e) = v.flush_refusals().await {
            tracing::warn!(error = %e, "writing the aggregate of refusals failed");
        }
    }
}

/// Returns free memory to the system when a burst of connections has
/// passed ([`crate::memory::TrimSchedule`]), off the async workers.
async fn trim_memory(v: Shared, counts: Arc<Mutex<Connections>>) {
    let mut schedule = crate::memory::TrimSchedule::default();
    let mut tick = tokio::time::interval(crate::memory::TRIM_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(open) = counts.lock().ok().map(|mut c| {
            schedule.observe(c.peak);
            c.peak = c.total;
            c.total
        }) else {
            return;
        };
        if schedule.due(open) {
            let started = std::time::Instant::now();
            let v2 = v.clone();
            match tokio::task::spawn_blocking(move || v2.release_memory()).await {
                Ok(released) => {
                    v.metrics.memory_trimmed();
                    tracing::debug!(open, released, took = ?started.elapsed(), "returned free memory to the system");
                }
                Err(e) => tracing::warn!(error = %e, "returning free memory failed"),
            }
        }
    }
}

/// Binds `addr` and serves the API over TLS until stopped. Accept errors
/// (for example EMFILE when file descriptors run out) back off up to one
/// second instead of spinning, and are logged at most once a second.
pub async fn serve_with(
    v: Shared,
    addr: SocketAddr,
    tls: Arc<rustls::ServerConfig>,
    limits: HttpLimits,
) -> Result<Running, ServerError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| ServerError::Config(format!("cannot listen on {addr}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServerError::Config(format!("listener address: {e}")))?;
    let acceptor = TlsAcceptor::from(tls);
    let limiter = Arc::new(RateLimiter::new(
        limits.rate_per_source,
        limits.burst_per_source,
    ));
    let flusher = tokio::spawn(flush_refusals(v.clone()));
    let app = router(v.clone(), limiter);
    let counts = Arc::new(Mutex::new(Connections::default()));
    let trimmer = limits
        .return_free_memory
        .then(|| tokio::spawn(trim_memory(v.clone(), counts.clone())));
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(async move {
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let mut backoff = Duration::from_millis(5);
        let mut last_log: Option<std::time::Instant> = None;
        let mut suppressed = 0u64;
        loop {
            let (tcp, peer) = tokio::select! {
                r = listener.accept() => match r {
                    Ok(x) => { backoff = Duration::from_millis(5); x }
                    Err(e) => {
                        if last_log.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                            tracing::warn!(error = %e, suppressed, "accept failed; backing off");
                            last_log = Some(std::time::Instant::now());
                            suppressed = 0;
                        } else {
                            suppressed += 1;
                        }
                        tokio::select! {
                            _ = tokio::time::sleep(backoff) => {}
                            _ = stopped.changed() => break,
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(1));
                        continue;
                    }
                },
                _ = stopped.changed() => break,
            };
            let Some(admitted) = admit(&counts, peer.ip(), &limits) else {
                tracing::debug!(%peer, "connection limit reached; closed");
                drop(tcp);
                continue;
            };
            let acceptor = acceptor.clone();
            let app = app.clone();
            let watcher = graceful.watcher();
            tokio::spawn(async move {
                connection(tcp, peer, acceptor, app, limits, watcher).await;
                drop(admitted);
            });
        }
        // Stopped: no new connections; drain the open ones (idle ones close
        // at once, requests in flight finish) within the request timeout.
        if tokio::time::timeout(limits.request, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("requests still in flight after the drain period; closing them");
        }
        // The refusals counted since the last aggregate entry are written
        // before the process goes.
        flusher.abort();
        if let Some(t) = trimmer {
            t.abort();
        }
        if let Err(e) = v.flush_refusals().await {
            tracing::warn!(error = %e, "writing the last aggregate of refusals failed");
        }
    });
    Ok(Running { addr, stop, task })
}
