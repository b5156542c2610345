//! The HTTP exchange both collateral fetchers ([`super::kds`],
//! [`super::pcs`]) make: one GET with a size-limited body ([`exchange`]),
//! and the throttle around it ([`Throttle::get`]): requests one at a time,
//! `min_interval` apart, a 429 or 503 retried after its `Retry-After`, up to
//! `max_attempts` requests, refused when it asks for more than
//! `max_retry_after`.

use super::{CollateralError, Result};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// The largest body accepted (KDS certificates are ~1.3 KiB, chains
/// ~4.6 KiB, CRLs a few KiB; PCS documents a few KiB).
const MAX_BODY: usize = 1 << 20;

/// What one GET brought back.
enum Exchange {
    /// A 200 answer: its body and headers.
    Body(Vec<u8>, reqwest::header::HeaderMap),
    /// A 429 or 503 answer: its status and `Retry-After` (parsed, and as sent).
    Throttled {
        status: u16,
        retry_after: Option<Duration>,
        raw: String,
    },
}

/// `e` and its sources, joined with `: `.
pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    std::iter::successors(Some(e), |x| x.source().map(|s| s as &dyn std::error::Error))
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

fn parse_retry_after(headers: &reqwest::header::HeaderMap) -> (Option<Duration>, String) {
    match headers.get(reqwest::header::RETRY_AFTER) {
        None => (None, "absent".to_string()),
        Some(v) => {
            let raw = String::from_utf8_lossy(v.as_bytes()).trim().to_string();
            (raw.parse::<u64>().ok().map(Duration::from_secs), raw)
        }
    }
}

fn later(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d).unwrap_or(now)
}

/// How a fetcher throttles and retries its requests.
#[derive(Debug, Clone, Copy)]
pub(super) struct Retry {
    /// Who is asked ("KDS", "PCS"), for the log.
    pub(super) service: &'static str,
    /// Minimum time between the answer to one request and the next request.
    pub(super) min_interval: Duration,
    /// Requests sent before a 429/503 becomes an error.
    pub(super) max_attempts: u32,
    /// Longest `Retry-After` waited for.
    pub(super) max_retry_after: Duration,
    /// Shortest pause after a throttled answer, whatever its `Retry-After`
    /// says (a missing or HTTP-date one counts as 1 s, and the pause is never
    /// shorter than `min_interval`).
    pub(super) throttled_floor: Duration,
}

/// Refuses limits a fetcher is not built with: no attempt at all, or a
/// `min_interval` or `max_retry_after` over one hour.
pub(super) fn check_limits(
    max_attempts: u32,
    min_interval: Duration,
    max_retry_after: Duration,
) -> Result<()> {
    if max_attempts == 0 {
        return Err(CollateralError::Request(
            "max_attempts must be at least 1".into(),
        ));
    }
    let hour = Duration::from_secs(3600);
    if min_interval > hour || max_retry_after > hour {
        return Err(CollateralError::Request(
            "min_interval and max_retry_after must be at most one hour".into(),
        ));
    }
    Ok(())
}

/// The one-at-a-time slot of a fetcher and its count of requests sent.
#[derive(Debug, Default)]
pub(super) struct Throttle {
    next_slot: tokio::sync::Mutex<Option<Instant>>,
    requests: AtomicU64,
}

impl Throttle {
    /// HTTP requests sent so far (retries included).
    pub(super) fn requests_sent(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// GETs `url` under the throttle, retrying 429/503 answers as `retry`
    /// says: the body and headers of the 200 answer.
    pub(super) async fn get(
        &self,
        http: &reqwest::Client,
        url: &str,
        retry: &Retry,
    ) -> Result<(Vec<u8>, reqwest::header::HeaderMap)> {
        let service = retry.service;
        let mut attempts = 0u32;
        loop {
            attempts = attempts.saturating_add(1);
            let mut slot = self.next_slot.lock().await;
            if let Some(at) = *slot {
                tokio::time::sleep_until(at).await;
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(url, attempts, "{service} request");
            let outcome = exchange(http, url).await;
            let pause = match &outcome {
                Ok(Exchange::Throttled { retry_after, .. }) => retry_after
                    .unwrap_or(Duration::from_secs(1))
                    .max(retry.min_interval)
                    .max(retry.throttled_floor),
                _ => retry.min_interval,
            };
            *slot = Some(later(pause));
            drop(slot);
            let (status, retry_after, raw) = match outcome? {
                Exchange::Body(b, h) => return Ok((b, h)),
                Exchange::Throttled {
                    status,
                    retry_after,
                    raw,
                } => (status, retry_after, raw),
            };
            let give_up = |hint: String| CollateralError::RateLimited {
                url: url.to_string(),
                status,
                attempts,
                retry_after: raw.clone(),
                hint,
            };
            if retry_after.is_some_and(|r| r > retry.max_retry_after) {
                return Err(give_up(format!(
                    "more than the {} s this fetcher waits",
                    retry.max_retry_after.as_secs()
                )));
            }
            if attempts >= retry.max_attempts {
                return Err(give_up(format!(
                    "gave up after {} attempts",
                    retry.max_attempts
                )));
            }
            tracing::info!(url, status, retry_after = %raw, "{service} throttled the request; retrying");
        }
    }
}

/// One GET of `url`: the body of a 200 answer (at most 1 MiB), a throttled
/// 429/503 with its Retry-After, or an error naming the status.
async fn exchange(http: &reqwest::Client, url: &str) -> Result<Exchange> {
    let http_err = |reason: String| CollateralError::Http {
        url: url.to_string(),
        reason,
    };
    let mut resp = http
        .get(url)
        .send()
        .await
        .map_err(|e| http_err(error_chain(&e)))?;
    let status = resp.status().as_u16();
    if status == 429 || status == 503 {
        let (retry_after, raw) = parse_retry_after(resp.headers());
        return Ok(Exchange::Throttled {
            status,
            retry_after,
            raw,
        });
    }
    if status != 200 {
        let mut start = Vec::new();
        while start.len() < 512 {
            match resp.chunk().await {
                Ok(Some(c)) => start.extend_from_slice(&c),
                _ => break,
            }
        }
        let body: String = String::from_utf8_lossy(&start)
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(200)
            .collect();
        return Err(CollateralError::Status {
            url: url.to_string(),
            status,
            body,
        });
    }
    let headers = resp.headers().clone();
    if let Some(len) = resp.content_length().filter(|l| *l > MAX_BODY as u64) {
        return Err(http_err(format!(
            "body of {len} bytes exceeds the {MAX_BODY}-byte limit"
        )));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| http_err(error_chain(&e)))? {
        if body.len().saturating_add(chunk.len()) > MAX_BODY {
            return Err(http_err(format!("body exceeds the {MAX_BODY}-byte limit")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Exchange::Body(body, headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_parsing() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(parse_retry_after(&h), (None, "absent".to_string()));
        h.insert(reqwest::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(parse_retry_after(&h).0, Some(Duration::from_secs(7)));
        h.insert(
            reqwest::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(parse_retry_after(&h).0, None);
    }
}
