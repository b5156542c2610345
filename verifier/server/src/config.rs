//! Verifier configuration: a TOML file, overridden by environment variables,
//! overridden by command-line flags (the binary applies the last two).
//!
//! ```toml
//! listen = "127.0.0.1:8443"
//! state_dir = "/var/lib/sealbuild-verifier"  # TLS material, result key, master key, database
//! database = "/var/lib/sealbuild-verifier/verifier.db"  # default: state_dir/verifier.db
//! # Or the shared PostgreSQL store of several replicas (or SEALBUILD_DATABASE_URL);
//! # when set, `database` is not used. TLS: sslmode=require and the server's CA.
//! database_url = "postgres://sealbuild:PASSWORD@db.example:5432/sealbuild?sslmode=require"
//! database_ca_file = "/etc/sealbuild/db-ca.pem"
//! database_max_connections = 16             # per replica
//! ek_ca_dir = "/etc/sealbuild/ek-cas"       # PEM/DER TPM manufacturer CAs (roots and intermediates)
//! master_key_file = "/etc/sealbuild/master.key"  # or SEALBUILD_MASTER_KEY (hex); default: state_dir/master.key
//! admin_token_file = "/etc/sealbuild/admin.token" # or SEALBUILD_ADMIN_TOKEN
//! nonce_ttl_secs = 60
//! challenge_ttl_secs = 300
//! allow_sha1 = false                        # SHA-1 quotes/banks refused unless true
//! replay_pcrs = [0, 1, 2, 3, 4, 5, 6, 7]    # PCRs whose quoted value must equal the event-log replay
//! runtime_pcr = 23                          # PCR of sealed builds' runtime log (TCG CEL)
//! allowed_ek_names = []                     # hex Names of EKs accepted without certificate
//! tls_cert = "..."; tls_key = "..."         # operator TLS; default: generated local CA
//! tls_names = ["verifier.example"]          # extra DNS names for the generated certificate
//! snp_collateral_dir = "/var/lib/sealbuild-verifier/collateral"  # VCEKs/VLEKs/CRLs
//!                                           # (default: state_dir/collateral; filled by
//!                                           # `sealbuild-verifier collateral fetch snp`)
//! # Connection limits (defaults shown): a TLS handshake and each request's
//! # headers must arrive within http_header_timeout_secs, each request (its
//! # body included) must complete within http_request_timeout_secs, a
//! # connection is closed after http_connection_lifetime_secs; at most
//! # http_max_connections open, http_max_connections_per_source per address.
//! http_header_timeout_secs = 10
//! http_request_timeout_secs = 60
//! http_connection_lifetime_secs = 300
//! http_max_connections = 1024
//! http_max_connections_per_source = 64
//! # Unauthenticated routes (register, activate, nonces, attest): per source
//! # address at most rate_limit_per_source requests/s on average, bursts of
//! # rate_limit_burst (429 with Retry-After beyond).
//! rate_limit_per_source = 20
//! rate_limit_burst = 60
//! # Refusals that concern no registered agent, key or verified TEE are
//! # counted and written as one aggregate audit entry per interval.
//! audit_refusal_interval_secs = 60
//! # After a burst of connections has passed, hand the allocator's free pages
//! # back to the system (glibc keeps them otherwise); false with an allocator
//! # that does this by itself.
//! return_free_memory = true
//! # INSECURE, test builds only (feature insecure-snp-sim): trust a test SEV-SNP chain
//! # (PEM, ASK then ARK) for one product. A default build refuses to start with it.
//! snp_insecure_test_chain = "insecure/snp-sim/test-chain/cert_chain_vcek.pem"
//! snp_insecure_test_product = "genoa"
//! # INSECURE, test builds only (feature insecure-tdx-sim): trust a test SGX root
//! # (DER or PEM) instead of the Intel SGX Root CA. A default build refuses to start with it.
//! tdx_insecure_test_root = "insecure/tdx-sim/test-chain/root.der"
//! ```

use crate::error::{Result, ServerError};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// A database URL; its `Debug` form hides the password.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// Wraps a URL.
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The URL itself (with its password: never log it).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL without its password.
    pub fn redacted(&self) -> String {
        crate::store::redact_url(&self.0)
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

/// The store a configuration selects.
#[derive(Debug, Clone)]
pub enum StoreLocation {
    /// The SQLite file (the default: `database`, else `state_dir/verifier.db`).
    Sqlite(PathBuf),
    /// A PostgreSQL database shared by replicas.
    Postgres(DatabaseUrl),
}

/// The verifier's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Directory for generated state.
    pub state_dir: PathBuf,
    /// SQLite database file.
    pub database: Option<PathBuf>,
    /// PostgreSQL URL: the shared store of replicas instead of the SQLite file.
    pub database_url: Option<DatabaseUrl>,
    /// PEM CA certificate(s) of the PostgreSQL server (enables verified TLS).
    pub database_ca_file: Option<PathBuf>,
    /// PostgreSQL connections per replica at most.
    pub database_max_connections: usize,
    /// TPM manufacturer CA directory.
    pub ek_ca_dir: Option<PathBuf>,
    /// Master key file (32 bytes raw or 64 hex characters).
    pub master_key_file: Option<PathBuf>,
    /// Admin bearer token file.
    pub admin_token_file: Option<PathBuf>,
    /// Nonce lifetime.
    pub nonce_ttl_secs: u64,
    /// MakeCredential challenge lifetime.
    pub challenge_ttl_secs: u64,
    /// Accept SHA-1 signatures and banks.
    pub allow_sha1: bool,
    /// PCRs whose quoted value must match the event-log replay.
    pub replay_pcrs: Vec<u32>,
    /// The PCR sealed builds extend with their runtime log.
    pub runtime_pcr: u32,
    /// EK Names (hex) accepted without an EK certificate.
    pub allowed_ek_names: Vec<String>,
    /// Operator-provided TLS certificate chain (PEM).
    pub tls_cert: Option<PathBuf>,
    /// Operator-provided TLS key (PEM).
    pub tls_key: Option<PathBuf>,
    /// Extra DNS names for the generated certificate.
    pub tls_names: Vec<String>,
    /// SEV-SNP collateral store (default `state_dir/collateral`).
    pub snp_collateral_dir: Option<PathBuf>,
    /// INSECURE: a test SEV-SNP chain (PEM, ASK then ARK) to trust; only
    /// builds with the `insecure-snp-sim` feature accept it.
    pub snp_insecure_test_chain: Option<PathBuf>,
    /// The product of that chain (default genoa).
    pub snp_insecure_test_product: Option<String>,
    /// INSECURE: a test SGX root (DER or PEM) to trust for TDX quotes and
    /// their collateral instead of Intel's; only builds with the
    /// `insecure-tdx-sim` feature accept it.
    pub tdx_insecure_test_root: Option<PathBuf>,
    /// TLS handshake and request headers must arrive within this.
    pub http_header_timeout_secs: u64,
    /// A request, its body included, must complete within this.
    pub http_request_timeout_secs: u64,
    /// A connection is closed after this.
    pub http_connection_lifetime_secs: u64,
    /// Open connections at most.
    pub http_max_connections: usize,
    /// Open connections per source address at most.
    pub http_max_connections_per_source: usize,
    /// Requests/s per source on the unauthenticated routes.
    pub rate_limit_per_source: f64,
    /// Burst per source on those routes.
    pub rate_limit_burst: f64,
    /// Seconds between aggregate entries of refusals (`crate::refusals`).
    pub audit_refusal_interval_secs: u64,
    /// Return free memory to the system after bursts (`crate::memory`).
    pub return_free_memory: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            state_dir: PathBuf::from("/var/lib/sealbuild-verifier"),
            database: None,
            database_url: None,
            database_ca_file: None,
            database_max_connections: 16,
            ek_ca_dir: None,
            master_key_file: None,
            admin_token_file: None,
            nonce_ttl_secs: 60,
            challenge_ttl_secs: 300,
            allow_sha1: false,
            replay_pcrs: (0..=7).collect(),
            runtime_pcr: 23,
            allowed_ek_names: Vec::new(),
            tls_cert: None,
            tls_key: None,
            tls_names: Vec::new(),
            snp_collateral_dir: None,
            snp_insecure_test_chain: None,
            snp_insecure_test_product: None,
            tdx_insecure_test_root: None,
            http_header_timeout_secs: 10,
            http_request_timeout_secs: 60,
            http_connection_lifetime_secs: 300,
            http_max_connections: 1024,
            http_max_connections_per_source: 64,
            rate_limit_per_source: 20.0,
            rate_limit_burst: 60.0,
            audit_refusal_interval_secs: 60,
            return_free_memory: true,
        }
    }
}

impl Config {
    /// Reads a TOML configuration file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| ServerError::io(path, e))?;
        toml::from_str(&text).map_err(|e| ServerError::Config(format!("{}: {e}", path.display())))
    }

    /// The HTTP server's connection limits.
    pub fn http_limits(&self) -> crate::http::HttpLimits {
        let secs = |n: u64| std::time::Duration::from_secs(n.max(1));
        crate::http::HttpLimits {
            header_read: secs(self.http_header_timeout_secs),
            request: secs(self.http_request_timeout_secs),
            lifetime: secs(self.http_connection_lifetime_secs),
            max_connections: self.http_max_connections.max(1),
            max_per_source: self.http_max_connections_per_source.max(1),
            rate_per_source: self.rate_limit_per_source.max(0.001),
            burst_per_source: self.rate_limit_burst.max(1.0),
            return_free_memory: self.return_free_memory,
        }
    }

    /// The database path in effect.
    pub fn database_path(&self) -> PathBuf {
        self.database
            .clone()
            .unwrap_or_else(|| self.state_dir.join("verifier.db"))
    }

    /// The store in effect: PostgreSQL when `database_url` is set, else the
    /// SQLite file.
    pub fn store_location(&self) -> StoreLocation {
        match &self.database_url {
            Some(u) => StoreLocation::Postgres(u.clone()),
            None => StoreLocation::Sqlite(self.database_path()),
        }
    }

    /// Options of the PostgreSQL store.
    pub fn pg_options(&self) -> crate::store::PgOptions {
        crate::store::PgOptions {
            max_connections: self.database_max_connections.max(1),
            ca_file: self.database_ca_file.clone(),
            ..crate::store::PgOptions::default()
        }
    }

    /// Opens the store in effect (creating or migrating its schema).
    pub fn open_store(
        &self,
    ) -> std::result::Result<std::sync::Arc<dyn crate::store::Store>, crate::store::StoreError>
    {
        match self.store_location() {
            StoreLocation::Sqlite(path) => {
                Ok(std::sync::Arc::new(crate::store::SqliteStore::open(&path)?))
            }
            StoreLocation::Postgres(url) => Ok(std::sync::Arc::new(
                crate::store::PgStore::connect(url.expose(), self.pg_options())?,
            )),
        }
    }

    /// The SEV-SNP collateral directory in effect.
    pub fn snp_collateral_path(&self) -> PathBuf {
        self.snp_collateral_dir
            .clone()
            .unwrap_or_else(|| self.state_dir.join("collateral"))
    }

    /// Checks values that serde cannot.
    pub fn validate(&self) -> Result<()> {
        if self.nonce_ttl_secs == 0 || self.nonce_ttl_secs > 3600 {
            return Err(ServerError::Config(format!(
                "nonce_ttl_secs must be 1..=3600, got {}",
                self.nonce_ttl_secs
            )));
        }
        if self.audit_refusal_interval_secs == 0 || self.audit_refusal_interval_secs > 3600 {
            return Err(ServerError::Config(format!(
                "audit_refusal_interval_secs must be 1..=3600, got {}",
                self.audit_refusal_interval_secs
            )));
        }
        if self.runtime_pcr >= 24 || self.replay_pcrs.contains(&self.runtime_pcr) {
            return Err(ServerError::Config(format!(
                "runtime_pcr {} must be 0..23 and not one of replay_pcrs (firmware PCRs)",
                self.runtime_pcr
            )));
        }
        if let Some(p) = self.replay_pcrs.iter().find(|p| **p >= 24) {
            return Err(ServerError::Config(format!(
                "replay_pcrs: {p} is not a PCR index 0..23"
            )));
        }
        if let Some(u) = &self.database_url {
            if !crate::store::is_postgres_url(u.expose()) {
                return Err(ServerError::Config(format!(
                    "database_url {} is not a postgres:// or postgresql:// URL",
                    u.redacted()
                )));
            }
        }
        if self.database_max_connections == 0 || self.database_max_connections > 1024 {
            return Err(ServerError::Config(format!(
                "database_max_connections must be 1..=1024, got {}",
                self.database_max_connections
            )));
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(ServerError::Config(
                "tls_cert and tls_key must be given together".into(),
            ));
        }
        Ok(())
    }
}

/// Reads every certificate (PEM or DER) in `dir`, sorted by file name.
pub fn load_ca_dir(dir: &Path) -> Result<Vec<Vec<u8>>> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| ServerError::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    entries.sort();
    let mut out = Vec::new();
    for p in entries {
        let bytes = std::fs::read(&p).map_err(|e| ServerError::io(&p, e))?;
        if bytes.starts_with(b"-----BEGIN") || bytes.windows(11).any(|w| w == b"-----BEGIN ") {
            for c in rustls_pemfile::certs(&mut bytes.as_slice()) {
                out.push(c.map_err(|e| ServerError::io(&p, e))?.to_vec());
            }
        } else if bytes.first() == Some(&0x30) {
            out.push(bytes);
        }
    }
    if out.is_empty() {
        return Err(ServerError::Config(format!(
            "{}: no certificates found",
            dir.display()
        )));
    }
    Ok(out)
}
