//! The Intel PCS (or PCCS) client for TDX collateral, filling the
//! collateral store's `<store>/tdx/<fmspc>-<ca>/` folders (layout:
//! [`super::tdx`]).
//!
//! Intel "Provisioning Certification Service for ECDSA Attestation", API
//! v4; a PCCS serves the same paths:
//!
//! ```text
//! GET {base}/tdx/certification/v4/tcb?fmspc={fmspc hex}    -> tcbinfo.json, TCB-Info-Issuer-Chain
//! GET {base}/tdx/certification/v4/qe/identity              -> qeidentity.json, SGX-Enclave-Identity-Issuer-Chain
//! GET {base}/sgx/certification/v4/pckcrl?ca={platform|processor}&encoding=der
//!                                                          -> pckcrl.der, SGX-PCK-CRL-Issuer-Chain
//! GET {root CRL URL}                                       -> rootcrl.der
//! ```
//!
//! The issuer chain headers are URL-encoded PEM; they are decoded and stored
//! as `*-issuer-chain.pem`. The root CA CRL comes from the Intel SGX Root
//! CA's CRL distribution point ([`DEFAULT_ROOT_CRL_URL`], configurable).
//!
//! Behaviour (as the KDS fetcher, [`super::kds`]):
//!
//! * **Cache**: a folder that parses and verifies against the built-in
//!   Intel SGX Root CA at the fetcher's [`Clock`] time (signatures, chains,
//!   CRLs, issueDate/nextUpdate windows) is returned without a request,
//!   unless `refresh` is asked for.
//! * **Single flight**: concurrent fetches of one FMSPC and CA wait for one
//!   another; the later ones find the folder stored.
//! * **Throttling**: requests go one at a time, `min_interval` apart; a 429
//!   or 503 is retried after its `Retry-After` (at least 1 s), up to
//!   `max_attempts` requests, refused when it asks for more than
//!   `max_retry_after`. Bodies are limited to 1 MiB; each request times out.
//! * **Atomic replacement**: the answers are written (temporary file, fsync,
//!   rename) into a fresh staging folder next to the target, which must then
//!   read back with [`super::tdx::read_dir`]; only then is it renamed over
//!   the folder. An error, a garbage answer or a missing header leaves the
//!   existing folder as it was.

use super::fetch::{check_limits, Retry, Throttle};
use super::kds::{http_client, normalise_base, Obtained, Source};
use super::store::write_atomic;
use super::{tdx, CollateralError, CollateralStore, Result};
use crate::clock::{Clock, SystemClock};
use sealbuild_verifier_core::tdx::{PckCa, TdxCollateral, INTEL_SGX_ROOT_CA_DER};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::Duration;

/// Intel's public Provisioning Certification Service.
pub const DEFAULT_PCS_URL: &str = "https://api.trustedservices.intel.com";

/// The CRL distribution point of the Intel SGX Root CA.
pub const DEFAULT_ROOT_CRL_URL: &str =
    "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der";

/// How the fetcher talks to the PCS.
#[derive(Debug, Clone)]
pub struct PcsConfig {
    /// PCS or PCCS base URL, `https://…` or `http://…`.
    pub base_url: String,
    /// The Intel SGX Root CA CRL URL.
    pub root_crl_url: String,
    /// Minimum time between the answer to one request and the next request.
    pub min_interval: Duration,
    /// Requests sent for one document before a 429/503 becomes an error (≥ 1).
    pub max_attempts: u32,
    /// Longest `Retry-After` the fetcher waits for.
    pub max_retry_after: Duration,
    /// Timeout of one request.
    pub timeout: Duration,
    /// Extra trusted CA certificates (PEM), e.g. a PCCS's own CA.
    pub extra_ca_pem: Option<Vec<u8>>,
    /// Trust the system CA bundle for https.
    pub system_roots: bool,
}

impl Default for PcsConfig {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_PCS_URL.to_string(),
            root_crl_url: DEFAULT_ROOT_CRL_URL.to_string(),
            min_interval: Duration::ZERO,
            max_attempts: 4,
            max_retry_after: Duration::from_secs(300),
            timeout: Duration::from_secs(30),
            extra_ca_pem: None,
            system_roots: true,
        }
    }
}

/// One FMSPC and CA being fetched: later callers wait on it.
type Flight = Arc<tokio::sync::Mutex<()>>;

/// The PCS client. All methods take `&self`.
pub struct PcsFetcher {
    base: String,
    root_crl_url: String,
    cfg: PcsConfig,
    http: reqwest::Client,
    store: CollateralStore,
    clock: Arc<dyn Clock>,
    throttle: Throttle,
    flights: std::sync::Mutex<HashMap<([u8; 6], PckCa), Flight>>,
    staging: AtomicU64,
}

impl std::fmt::Debug for PcsFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcsFetcher")
            .field("base", &self.base)
            .field("root_crl_url", &self.root_crl_url)
            .field("store", &self.store.root())
            .finish_non_exhaustive()
    }
}

/// Decodes a URL-encoded header value (`%XX` escapes; `+` is kept).
fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let hex = b.get(i.saturating_add(1)..i.saturating_add(3))?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i = i.saturating_add(3);
        } else {
            out.push(c);
            i = i.saturating_add(1);
        }
    }
    Some(out)
}

/// The URL-decoded PEM of header `name`.
fn issuer_chain(headers: &reqwest::header::HeaderMap, name: &str, url: &str) -> Result<Vec<u8>> {
    let malformed = |got: String| CollateralError::Malformed {
        what: format!("GET {url}: header {name}"),
        expected: "a URL-encoded PEM certificate chain".into(),
        got,
    };
    let v = headers
        .get(name)
        .ok_or_else(|| malformed("no such header".into()))?;
    let v = v
        .to_str()
        .map_err(|_| malformed("non-ASCII bytes".into()))?;
    let pem = percent_decode(v.trim()).ok_or_else(|| malformed("a bad %-escape".into()))?;
    if !pem.starts_with(b"-----BEGIN CERTIFICATE-----") {
        return Err(malformed(format!(
            "{:?}",
            String::from_utf8_lossy(pem.get(..pem.len().min(40)).unwrap_or_default())
        )));
    }
    Ok(pem)
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

impl PcsFetcher {
    /// A fetcher writing into `store`, with the wall clock for freshness.
    pub fn new(store: CollateralStore, cfg: PcsConfig) -> Result<Self> {
        let base = normalise_base(&cfg.base_url)?;
        let root_crl_url = reqwest::Url::parse(&cfg.root_crl_url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .ok_or_else(|| {
                CollateralError::Request(format!(
                    "root CA CRL URL {:?}: expected an http(s) URL",
                    cfg.root_crl_url
                ))
            })?
            .to_string();
        check_limits(cfg.max_attempts, cfg.min_interval, cfg.max_retry_after)?;
        // The trust check looks at the scheme: either URL on https needs roots.
        let scheme_of = if root_crl_url.starts_with("https:") {
            &root_crl_url
        } else {
            &base
        };
        let http = http_client(
            scheme_of,
            cfg.system_roots,
            cfg.extra_ca_pem.as_deref(),
            cfg.timeout,
        )?;
        Ok(Self {
            base,
            root_crl_url,
            cfg,
            http,
            store,
            clock: Arc::new(SystemClock),
            throttle: Throttle::default(),
            flights: std::sync::Mutex::new(HashMap::new()),
            staging: AtomicU64::new(0),
        })
    }

    /// Replaces the clock used for freshness.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The store written to.
    pub fn store(&self) -> &CollateralStore {
        &self.store
    }

    /// HTTP requests sent so far (retries included).
    pub fn requests_sent(&self) -> u64 {
        self.throttle.requests_sent()
    }

    /// The four URLs fetched for `fmspc` and `ca`: TCB Info, QE Identity,
    /// PCK CRL, root CA CRL.
    pub fn urls(&self, fmspc: &[u8; 6], ca: PckCa) -> [String; 4] {
        let b = &self.base;
        [
            format!("{b}/tdx/certification/v4/tcb?fmspc={}", hex::encode(fmspc)),
            format!("{b}/tdx/certification/v4/qe/identity"),
            format!(
                "{b}/sgx/certification/v4/pckcrl?ca={}&encoding=der",
                ca.as_str()
            ),
            self.root_crl_url.clone(),
        ]
    }

    async fn cached(&self, dir: PathBuf) -> Result<Option<TdxCollateral>> {
        let now = self.clock.now();
        tokio::task::spawn_blocking(move || {
            let Ok(c) = tdx::read_dir(&dir) else {
                return None;
            };
            c.verify(INTEL_SGX_ROOT_CA_DER, now).is_ok().then_some(c)
        })
        .await
        .map_err(|e| CollateralError::Task(e.to_string()))
    }

    /// The collateral of `fmspc` and `ca`: the stored folder while it
    /// verifies at the clock's time and `refresh` is false, otherwise
    /// fetched, checked and put in place of the folder.
    pub async fn tdx(
        &self,
        fmspc: &[u8; 6],
        ca: PckCa,
        refresh: bool,
    ) -> Result<Obtained<TdxCollateral>> {
        let dir = tdx::dir_for(self.store.root(), fmspc, ca);
        if !refresh {
            if let Some(c) = self.cached(dir.clone()).await? {
                return Ok(Obtained::new(c, dir, Source::Cached));
            }
        }
        let lock = self
            .flights
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((*fmspc, ca))
            .or_default()
            .clone();
        let _turn = lock.lock().await;
        if !refresh {
            if let Some(c) = self.cached(dir.clone()).await? {
                return Ok(Obtained::new(c, dir, Source::Cached));
            }
        }
        let [tcb_url, qe_url, pck_url, root_url] = self.urls(fmspc, ca);
        let (tcb, h) = self.get(&tcb_url).await?;
        let tcb_chain = issuer_chain(&h, "TCB-Info-Issuer-Chain", &tcb_url)?;
        let (qe, h) = self.get(&qe_url).await?;
        let qe_chain = issuer_chain(&h, "SGX-Enclave-Identity-Issuer-Chain", &qe_url)?;
        let (pck_crl, h) = self.get(&pck_url).await?;
        let pck_chain = issuer_chain(&h, "SGX-PCK-CRL-Issuer-Chain", &pck_url)?;
        let (root_crl, _) = self.get(&root_url).await?;
        let files = vec![
            ("tcbinfo.json", tcb),
            ("tcbinfo-issuer-chain.pem", tcb_chain),
            ("qeidentity.json", qe),
            ("qeidentity-issuer-chain.pem", qe_chain),
            ("pckcrl.der", pck_crl),
            ("pckcrl-issuer-chain.pem", pck_chain),
            ("rootcrl.der", root_crl),
        ];
        let n = self.staging.fetch_add(1, Ordering::Relaxed);
        let target = dir.clone();
        let c = tokio::task::spawn_blocking(move || install(&target, &files, n))
            .await
            .map_err(|e| CollateralError::Task(e.to_string()))??;
        Ok(Obtained::new(c, dir, Source::Fetched))
    }

    /// GETs `url` under the throttle, retrying 429/503 answers.
    async fn get(&self, url: &str) -> Result<(Vec<u8>, reqwest::header::HeaderMap)> {
        let retry = Retry {
            service: "PCS",
            min_interval: self.cfg.min_interval,
            max_attempts: self.cfg.max_attempts,
            max_retry_after: self.cfg.max_retry_after,
            throttled_floor: Duration::from_secs(1),
        };
        self.throttle.get(&self.http, url, &retry).await
    }
}

/// Writes `files` into a staging folder next to `dir`, reads it back, then
/// renames it over `dir` (the old folder is moved aside first and removed
/// after). Any failure removes the staging folder and leaves `dir` alone.
fn install(dir: &Path, files: &[(&str, Vec<u8>)], n: u64) -> Result<TdxCollateral> {
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
        return Err(CollateralError::Request(format!(
            "{}: not a folder path",
            dir.display()
        )));
    };
    let name = name.to_string_lossy();
    std::fs::create_dir_all(parent)
        .map_err(|e| CollateralError::io("creating directory", parent, e))?;
    let pid = std::process::id();
    let stage = parent.join(format!(".{name}.{pid}.{n}.new"));
    let old = parent.join(format!(".{name}.{pid}.{n}.old"));
    let staged = (|| {
        std::fs::create_dir(&stage)
            .map_err(|e| CollateralError::io("creating directory", &stage, e))?;
        for (file, bytes) in files {
            write_atomic(&stage.join(file), bytes)?;
        }
        sync_dir(&stage);
        tdx::read_dir(&stage).map_err(|e| match e {
            CollateralError::Malformed { expected, got, .. } => CollateralError::Malformed {
                what: format!("the answers for {}", dir.display()),
                expected,
                got,
            },
            other => other,
        })
    })();
    let c = match staged {
        Ok(c) => c,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&stage);
            return Err(e);
        }
    };
    let had_old = dir.exists();
    if had_old {
        if let Err(e) = std::fs::rename(dir, &old) {
            let _ = std::fs::remove_dir_all(&stage);
            return Err(CollateralError::io("moving aside", dir, e));
        }
    }
    if let Err(e) = std::fs::rename(&stage, dir) {
        if had_old {
            let _ = std::fs::rename(&old, dir);
        }
        let _ = std::fs::remove_dir_all(&stage);
        return Err(CollateralError::io("renaming into", dir, e));
    }
    sync_dir(parent);
    if had_old {
        let _ = std::fs::remove_dir_all(&old);
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_decoding() {
        assert_eq!(
            percent_decode("-----BEGIN%20CERTIFICATE-----%0Aab+c").unwrap(),
            b"-----BEGIN CERTIFICATE-----\nab+c"
        );
        assert!(percent_decode("%zz").is_none());
        assert!(percent_decode("abc%4").is_none());
        let mut h = reqwest::header::HeaderMap::new();
        assert!(issuer_chain(&h, "X", "u").is_err());
        h.insert("X", "garbage".parse().unwrap());
        assert!(issuer_chain(&h, "X", "u").is_err());
        h.insert("X", "-----BEGIN%20CERTIFICATE-----".parse().unwrap());
        assert!(issuer_chain(&h, "X", "u").is_ok());
    }
}
