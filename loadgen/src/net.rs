//! Plain HTTPS clients for the hostile clients and the probe, trusting the
//! verifier's CA (the agents use `sealbuild_agent::client::VerifierClient`).

use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;

/// Why a client could not be built.
#[derive(Debug, Error)]
#[error("HTTPS client: {0}")]
pub struct NetError(pub String);

/// A client trusting the CA certificates in `ca_pem` (HTTP/1.1 over TLS,
/// ring), each request bounded by `timeout`.
pub fn client(ca_pem: &[u8], timeout: Duration) -> Result<reqwest::Client, NetError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut &ca_pem[..]) {
        let cert = cert.map_err(|e| NetError(format!("CA file: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| NetError(format!("CA certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(NetError("the CA file holds no certificate".into()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| NetError(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .timeout(timeout)
        .build()
        .map_err(|e| NetError(e.to_string()))
}
