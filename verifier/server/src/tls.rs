//! TLS for the verifier's HTTP API (rustls, ring provider).
//!
//! The embedded default creates, on first start, a local CA and a server
//! certificate for `localhost`, `127.0.0.1`, `::1` and any configured extra
//! names, and keeps them in the state directory:
//!
//! | file | content |
//! |---|---|
//! | `tls/ca.pem` | the CA certificate agents trust (`--verifier-ca`) |
//! | `tls/ca.key` | its key (0600), used only to re-issue the server certificate |
//! | `tls/server.pem` | server certificate chain |
//! | `tls/server.key` | server key (0600) |
//!
//! An operator may instead point the configuration at their own certificate
//! and key (`tls_cert`, `tls_key`).

use crate::error::{Result, ServerError};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Paths of the TLS material in use.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Server certificate chain (PEM).
    pub cert: PathBuf,
    /// Server key (PEM).
    pub key: PathBuf,
    /// The CA agents should trust, when generated here.
    pub ca: Option<PathBuf>,
}

/// Writes `data` to `path` readable only by the owner.
pub fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| ServerError::io(path, e))?;
    f.write_all(data).map_err(|e| ServerError::io(path, e))?;
    Ok(())
}

/// Refuses a secret file (key, token, database) that users other than its
/// owner can read or write, naming the path and the `chmod` that fixes it.
/// A missing file is not checked (its creator makes it private).
pub fn check_private(path: &Path, what: &str) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = match fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(ServerError::io(path, e)),
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(ServerError::Config(format!(
                "{} ({what}) has mode {mode:04o}: others can read or change it; \
                 fix with: chmod 600 {}",
                path.display(),
                path.display()
            )));
        }
    }
    #[cfg(not(unix))]
    let _ = (path, what);
    Ok(())
}

/// Creates `path` empty with mode 0600 unless it exists (so that files other
/// programs then fill, such as the SQLite database and its WAL, start private).
pub fn create_private_if_missing(path: &Path) -> Result<()> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(ServerError::io(path, e)),
    }
}

/// Loads or creates the self-signed local CA and server certificate under `dir`.
pub fn ensure_local_tls(dir: &Path, extra_names: &[String]) -> Result<TlsFiles> {
    let tls = dir.join("tls");
    let files = TlsFiles {
        cert: tls.join("server.pem"),
        key: tls.join("server.key"),
        ca: Some(tls.join("ca.pem")),
    };
    if files.cert.exists() && files.key.exists() {
        return Ok(files);
    }
    fs::create_dir_all(&tls).map_err(|e| ServerError::io(&tls, e))?;
    let rc = |e: rcgen::Error| ServerError::Tls(format!("generating certificates: {e}"));
    let ca_key = KeyPair::generate().map_err(rc)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(rc)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "sealbuild verifier local CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(rc)?;

    let mut names = vec!["localhost".to_string()];
    names.extend(extra_names.iter().cloned());
    let mut params = CertificateParams::new(names).map_err(rc)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "sealbuild verifier");
    params
        .subject_alt_names
        .push(SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
    params
        .subject_alt_names
        .push(SanType::IpAddress(std::net::IpAddr::from(
            std::net::Ipv6Addr::LOCALHOST,
        )));
    let key = KeyPair::generate().map_err(rc)?;
    let cert = params.signed_by(&key, &ca_cert, &ca_key).map_err(rc)?;

    write_private(&tls.join("ca.key"), ca_key.serialize_pem().as_bytes())?;
    let ca_pem = tls.join("ca.pem");
    fs::write(&ca_pem, ca_cert.pem()).map_err(|e| ServerError::io(&ca_pem, e))?;
    write_private(&files.key, key.serialize_pem().as_bytes())?;
    fs::write(&files.cert, format!("{}{}", cert.pem(), ca_cert.pem()))
        .map_err(|e| ServerError::io(&files.cert, e))?;
    Ok(files)
}

/// The ring crypto provider, used everywhere in sealbuild's TLS.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds the server configuration from PEM files.
pub fn server_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>> {
    let cert_pem = fs::read(&files.cert).map_err(|e| ServerError::io(&files.cert, e))?;
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| ServerError::io(&files.cert, e))?;
    let key_pem = fs::read(&files.key).map_err(|e| ServerError::io(&files.key, e))?;
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|e| ServerError::io(&files.key, e))?
        .ok_or_else(|| ServerError::Tls(format!("no private key in {}", files.key.display())))?;
    let tls = |e: rustls::Error| ServerError::Tls(e.to_string());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(tls)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(tls)?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}
