//! The AMD Key Distribution Service client, with the collateral store as its
//! on-disk cache.
//!
//! AMD "Versioned Chip Endorsement Key (VCEK) Certificate and KDS Interface
//! Specification" (pub. 57230), §4.1 (VCEK requests), §4.2 (cert_chain),
//! §4.3 (CRL), and the VLEK variants under `/vlek/v1/`:
//!
//! ```text
//! GET {base}/vcek/v1/{Milan|Genoa}/{CHIP_ID hex}?blSPL={bl}&teeSPL={tee}&snpSPL={snp}&ucodeSPL={ucode}
//! GET {base}/vcek/v1/Turin/{CHIP_ID[0..8] hex}?fmcSPL={fmc}&blSPL={bl}&teeSPL={tee}&snpSPL={snp}&ucodeSPL={ucode}
//! GET {base}/{vcek|vlek}/v1/{Product}/cert_chain      PEM: ASK (or ASVK), then ARK
//! GET {base}/{vcek|vlek}/v1/{Product}/crl             DER CRL signed by the ARK
//! ```
//!
//! The hwID is lower-case hex; SPLs are decimal, taken from REPORTED_TCB with
//! the product's TCB layout (SEV-SNP ABI pub. 56860, §2.2). The Turin
//! parameter list starts with `fmcSPL`, in the order of the specification's
//! "Parameters for Turin" table.
//!
//! Behaviour:
//!
//! * **Cache**: an item present in the [`CollateralStore`] is returned
//!   without a request. VCEKs and chains never change once issued; a CRL is
//!   fetched again when asked to (`refresh`) or when its nextUpdate has
//!   passed (by the fetcher's [`Clock`]).
//! * **Single flight**: concurrent requests for the same item wait for one
//!   another; the first fetches and stores, the others then find it stored.
//! * **Rate limit**: requests are sent one at a time, and the next starts no
//!   sooner than `min_interval` after the previous *answer* (KDS throttles to
//!   about one request per 10 s per address). A 429 or 503 answer is retried
//!   after its `Retry-After` seconds (at least `min_interval`; a missing or
//!   HTTP-date value counts as `max(min_interval, 1 s)`), up to
//!   `max_attempts` requests, and refused when it asks for more than
//!   `max_retry_after`.
//! * **Validation before caching**: what comes back must be the item asked
//!   for (see [`super::check_vcek`], [`super::parse_chain_pem`],
//!   [`super::parse_crl`]); anything else is an error and nothing is stored.
//!   Bodies are limited to 1 MiB.
//!
//! HTTPS trusts the system CA bundle (`SSL_CERT_FILE`, or the first of the
//! usual bundle paths) plus an optional extra CA file; `http://` base URLs
//! are accepted for mirrors and tests.

use super::fetch::{check_limits, error_chain, Retry, Throttle};
pub use super::{chain_url, crl_url, product_for_report, vcek_url};
use super::{
    check_vcek, hwid_hex, parse_chain_pem, parse_crl, ChainKind, CollateralError, CollateralStore,
    Result,
};
use crate::clock::{Clock, SystemClock};
use sealbuild_common::snp::{AttestationReport, SigningKey, SnpProduct};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError};
use std::time::Duration;

/// AMD's public KDS.
pub const DEFAULT_KDS_URL: &str = "https://kdsintf.amd.com";

/// System CA bundles tried in order when `SSL_CERT_FILE` is not set.
const SYSTEM_CA_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// How the fetcher talks to KDS.
#[derive(Debug, Clone)]
pub struct KdsConfig {
    /// Base URL, `https://…` or `http://…` (no trailing path needed).
    pub base_url: String,
    /// Minimum time between the answer to one request and the next request.
    pub min_interval: Duration,
    /// Requests sent for one item before a 429/503 becomes an error (≥ 1).
    pub max_attempts: u32,
    /// Longest `Retry-After` the fetcher waits for.
    pub max_retry_after: Duration,
    /// Timeout of one request.
    pub timeout: Duration,
    /// Extra trusted CA certificates (PEM), e.g. a mirror's private CA.
    pub extra_ca_pem: Option<Vec<u8>>,
    /// Trust the system CA bundle for https.
    pub system_roots: bool,
}

impl Default for KdsConfig {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_KDS_URL.to_string(),
            min_interval: Duration::from_secs(10),
            max_attempts: 4,
            max_retry_after: Duration::from_secs(300),
            timeout: Duration::from_secs(30),
            extra_ca_pem: None,
            system_roots: true,
        }
    }
}

/// Where an item came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Already in the store; no request was made.
    Cached,
    /// Fetched from KDS and stored.
    Fetched,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            Self::Cached => "cached",
            Self::Fetched => "fetched",
        })
    }
}

/// An item with its store path and its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Obtained<T> {
    /// The item.
    pub value: T,
    /// Its file in the store.
    pub path: PathBuf,
    /// Cached or fetched.
    pub source: Source,
}

impl<T> Obtained<T> {
    pub(super) fn new(value: T, path: PathBuf, source: Source) -> Self {
        Self {
            value,
            path,
            source,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum FlightKey {
    Vcek(SnpProduct, String, u64),
    Chain(SnpProduct, ChainKind),
    Crl(SnpProduct, ChainKind),
}

/// One in-flight item: removed from the map when the last user is done.
struct Flight<'a> {
    fetcher: &'a KdsFetcher,
    key: FlightKey,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        let mut map = self
            .fetcher
            .flights
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // The map and this flight hold one reference each; more means
        // another caller is waiting on the same item.
        if Arc::strong_count(&self.lock) <= 2 {
            map.remove(&self.key);
        }
    }
}

/// The KDS client. Cheap to share behind an `Arc`; all methods take `&self`.
pub struct KdsFetcher {
    base: String,
    cfg: KdsConfig,
    http: reqwest::Client,
    store: CollateralStore,
    clock: Arc<dyn Clock>,
    throttle: Throttle,
    flights: std::sync::Mutex<HashMap<FlightKey, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for KdsFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KdsFetcher")
            .field("base", &self.base)
            .field("store", &self.store.root())
            .field("min_interval", &self.cfg.min_interval)
            .finish_non_exhaustive()
    }
}

fn add_pem_roots(roots: &mut rustls::RootCertStore, pem: &[u8], what: &str) -> Result<usize> {
    let mut certs = Vec::new();
    for c in rustls_pemfile::certs(&mut &pem[..]) {
        certs.push(c.map_err(|e| CollateralError::Trust(format!("{what}: {e}")))?);
    }
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    Ok(added)
}

fn load_system_roots(roots: &mut rustls::RootCertStore) -> Result<Option<PathBuf>> {
    let path = match std::env::var_os("SSL_CERT_FILE") {
        Some(p) => Some(PathBuf::from(p)),
        None => SYSTEM_CA_BUNDLES
            .iter()
            .map(Path::new)
            .find(|p| p.is_file())
            .map(Path::to_path_buf),
    };
    let Some(path) = path else { return Ok(None) };
    let pem =
        std::fs::read(&path).map_err(|e| CollateralError::io("reading CA bundle", &path, e))?;
    add_pem_roots(roots, &pem, &path.display().to_string())?;
    Ok(Some(path))
}

pub(super) fn normalise_base(base: &str) -> Result<String> {
    let url = reqwest::Url::parse(base)
        .map_err(|e| CollateralError::Request(format!("KDS URL {base:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https")
        || url.query().is_some()
        || url.fragment().is_some()
        || url.host_str().is_none()
    {
        return Err(CollateralError::Request(format!(
            "KDS URL {base:?}: expected http(s)://host[:port][/path] without query or fragment"
        )));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// The HTTP client of the fetchers: rustls (ring) trusting the system CA
/// bundle (when `system_roots`) plus `extra_ca_pem`, with `timeout` per request.
pub(super) fn http_client(
    base: &str,
    system_roots: bool,
    extra_ca_pem: Option<&[u8]>,
    timeout: Duration,
) -> Result<reqwest::Client> {
    let mut roots = rustls::RootCertStore::empty();
    let system = if system_roots {
        load_system_roots(&mut roots)?
    } else {
        None
    };
    if let Some(pem) = extra_ca_pem {
        if add_pem_roots(&mut roots, pem, "extra CA file")? == 0 {
            return Err(CollateralError::Trust(
                "extra CA file: expected at least one PEM CERTIFICATE, found none".into(),
            ));
        }
    }
    if base.starts_with("https:") && roots.is_empty() {
        return Err(CollateralError::Trust(format!(
            "no trusted CA for {base}: {} and no extra CA file was given",
            match system {
                Some(p) => format!("{} holds no usable certificate", p.display()),
                None if system_roots => format!(
                    "no system CA bundle found (SSL_CERT_FILE unset; tried {})",
                    SYSTEM_CA_BUNDLES.join(", ")
                ),
                None => "system roots are disabled".to_string(),
            }
        )));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| CollateralError::Trust(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .timeout(timeout)
        .user_agent(concat!("sealbuild-verifier/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| CollateralError::Trust(error_chain(&e)))
}

impl KdsFetcher {
    /// A fetcher caching into `store`, with the wall clock for CRL freshness.
    pub fn new(store: CollateralStore, cfg: KdsConfig) -> Result<Self> {
        let base = normalise_base(&cfg.base_url)?;
        check_limits(cfg.max_attempts, cfg.min_interval, cfg.max_retry_after)?;
        let http = http_client(
            &base,
            cfg.system_roots,
            cfg.extra_ca_pem.as_deref(),
            cfg.timeout,
        )?;
        Ok(Self {
            base,
            cfg,
            http,
            store,
            clock: Arc::new(SystemClock),
            throttle: Throttle::default(),
            flights: std::sync::Mutex::new(HashMap::new()),
        })
    }

    /// Replaces the clock used for CRL freshness.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The store used as cache.
    pub fn store(&self) -> &CollateralStore {
        &self.store
    }

    /// The normalised base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// HTTP requests sent so far (retries included).
    pub fn requests_sent(&self) -> u64 {
        self.throttle.requests_sent()
    }

    fn flight(&self, key: FlightKey) -> Flight<'_> {
        let lock = self
            .flights
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key.clone())
            .or_default()
            .clone();
        Flight {
            fetcher: self,
            key,
            lock,
        }
    }

    async fn on_store<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&CollateralStore) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| CollateralError::Task(e.to_string()))?
    }

    /// The VCEK (DER) of `chip_id` at `reported_tcb`, from the store or KDS.
    pub async fn vcek(
        &self,
        product: SnpProduct,
        chip_id: &[u8; 64],
        reported_tcb: u64,
    ) -> Result<Obtained<Vec<u8>>> {
        let chip = *chip_id;
        let path = self.store.vcek_path(product, &chip, reported_tcb);
        let lookup = move |s: &CollateralStore| s.vcek(product, &chip, reported_tcb);
        if let Some(v) = self.on_store(lookup).await? {
            return Ok(Obtained::new(v, path, Source::Cached));
        }
        let flight = self.flight(FlightKey::Vcek(
            product,
            hwid_hex(product, &chip),
            reported_tcb,
        ));
        let _turn = flight.lock.lock().await;
        if let Some(v) = self.on_store(lookup).await? {
            return Ok(Obtained::new(v, path, Source::Cached));
        }
        let url = vcek_url(&self.base, product, &chip, reported_tcb);
        let der = self.get(&url).await?;
        check_vcek(
            product,
            &chip,
            reported_tcb,
            &der,
            &format!("KDS {url}: VCEK"),
        )?;
        let stored = der.clone();
        let path = self
            .on_store(move |s| s.put_vcek(product, &chip, reported_tcb, &stored))
            .await?;
        Ok(Obtained::new(der, path, Source::Fetched))
    }

    /// The VCEK of a VCEK-signed report: product from its CPUID or `product`
    /// (both given must agree), CHIP_ID and REPORTED_TCB from the report.
    pub async fn vcek_for_report(
        &self,
        report: &AttestationReport,
        product: Option<SnpProduct>,
    ) -> Result<Obtained<Vec<u8>>> {
        let product = product_for_report(report, product)?;
        match report.key_info.signing_key {
            SigningKey::Vcek => {}
            SigningKey::Vlek => {
                return Err(CollateralError::Request(
                    "the report is signed with a VLEK; VLEKs are not served by KDS \
                     (import the provider's VLEK into the store)"
                        .into(),
                ))
            }
            SigningKey::None => {
                return Err(CollateralError::Request(
                    "the report is not signed (SIGNING_KEY = 7)".into(),
                ))
            }
        }
        if report.chip_id.iter().all(|b| *b == 0) {
            return Err(CollateralError::Request(
                "CHIP_ID is all zero (MASK_CHIP_ID): the VCEK cannot be looked up".into(),
            ));
        }
        self.vcek(product, &report.chip_id, report.reported_tcb.0)
            .await
    }

    /// The `kind` chain of `product` as `(ark_der, ask_der)`, from the store or KDS.
    pub async fn chain(
        &self,
        product: SnpProduct,
        kind: ChainKind,
    ) -> Result<Obtained<(Vec<u8>, Vec<u8>)>> {
        let path = self.store.chain_path(product, kind);
        let lookup = move |s: &CollateralStore| s.chain(product, kind);
        if let Some(v) = self.on_store(lookup).await? {
            return Ok(Obtained::new(v, path, Source::Cached));
        }
        let flight = self.flight(FlightKey::Chain(product, kind));
        let _turn = flight.lock.lock().await;
        if let Some(v) = self.on_store(lookup).await? {
            return Ok(Obtained::new(v, path, Source::Cached));
        }
        let url = chain_url(&self.base, product, kind);
        let pem = self.get(&url).await?;
        let pair = parse_chain_pem(product, kind, &pem, &format!("KDS {url}"))?;
        let path = self
            .on_store(move |s| s.put_chain(product, kind, &pem))
            .await?;
        Ok(Obtained::new(pair, path, Source::Fetched))
    }

    /// The `kind` CRL (DER) of `product`: the stored one while its nextUpdate
    /// is in the future and `refresh` is false, otherwise fetched again.
    pub async fn crl(
        &self,
        product: SnpProduct,
        kind: ChainKind,
        refresh: bool,
    ) -> Result<Obtained<Vec<u8>>> {
        let path = self.store.crl_path(product, kind);
        let clock = self.clock.clone();
        let fresh = move |s: &CollateralStore| -> Result<Option<Vec<u8>>> {
            let now = clock.now();
            Ok(s.crl(product, kind)?.filter(|der| {
                parse_crl(product, der, "stored CRL")
                    .ok()
                    .and_then(|i| i.next_update)
                    .is_some_and(|next| next > now)
            }))
        };
        if !refresh {
            if let Some(v) = self.on_store(fresh.clone()).await? {
                return Ok(Obtained::new(v, path, Source::Cached));
            }
        }
        let flight = self.flight(FlightKey::Crl(product, kind));
        let _turn = flight.lock.lock().await;
        if !refresh {
            if let Some(v) = self.on_store(fresh).await? {
                return Ok(Obtained::new(v, path, Source::Cached));
            }
        }
        let url = crl_url(&self.base, product, kind);
        let der = self.get(&url).await?;
        parse_crl(product, &der, &format!("KDS {url}"))?;
        let stored = der.clone();
        let path = self
            .on_store(move |s| s.put_crl(product, kind, &stored))
            .await?;
        Ok(Obtained::new(der, path, Source::Fetched))
    }

    /// GETs `url` under the rate limit, retrying throttled answers.
    async fn get(&self, url: &str) -> Result<Vec<u8>> {
        let retry = Retry {
            service: "KDS",
            min_interval: self.cfg.min_interval,
            max_attempts: self.cfg.max_attempts,
            max_retry_after: self.cfg.max_retry_after,
            throttled_floor: Duration::ZERO,
        };
        let (body, _) = self.throttle.get(&self.http, url, &retry).await?;
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked() {
        assert_eq!(
            normalise_base("https://kdsintf.amd.com").unwrap(),
            "https://kdsintf.amd.com"
        );
        assert_eq!(
            normalise_base("http://127.0.0.1:8080/mirror/").unwrap(),
            "http://127.0.0.1:8080/mirror"
        );
        assert!(normalise_base("ftp://x").is_err());
        assert!(normalise_base("http://x/?a=b").is_err());
        assert!(normalise_base("not a url").is_err());
    }

    #[test]
    fn https_without_any_root_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let store = CollateralStore::open(tmp.path()).unwrap();
        let cfg = KdsConfig {
            system_roots: false,
            ..KdsConfig::default()
        };
        let e = KdsFetcher::new(store.clone(), cfg).unwrap_err();
        assert!(e.to_string().contains("system roots are disabled"), "{e}");
        let cfg = KdsConfig {
            system_roots: false,
            extra_ca_pem: Some(b"nothing".to_vec()),
            ..KdsConfig::default()
        };
        let e = KdsFetcher::new(store, cfg).unwrap_err();
        assert!(e.to_string().contains("found none"), "{e}");
    }
}
