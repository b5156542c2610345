//! HTTPS client of the verifier's API (common::api), over rustls with the
//! ring provider.
//!
//! Trust in the verifier is explicit: either a CA certificate file (the
//! verifier's generated `tls/ca.pem` or an operator's CA), or a pin of the
//! SHA-256 of the verifier's end-entity certificate (DER). A pinned
//! connection still verifies the handshake signature with that certificate's
//! key, so only the holder of the pinned certificate's key can answer.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sealbuild_common::api::{
    ActivateRequest, ActivateResponse, AttestRequest, AttestResponse, ErrorBody, NonceRequest,
    NonceResponse, RegisterRequest, RegisterResponse,
};
use serde::{de::DeserializeOwned, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Arc;
use thiserror::Error;

/// Why a call to the verifier failed (not a verdict: a rejection is an
/// [`AttestResponse`] with `verdict = rejected`).
#[derive(Debug, Error)]
pub enum ClientError {
    /// The trust configuration is unusable.
    #[error("verifier trust: {0}")]
    Trust(String),
    /// The connection or TLS handshake failed.
    #[error("cannot reach the verifier at {url}: {reason}")]
    Transport { url: String, reason: String },
    /// The verifier answered with an error.
    #[error("verifier refused {route} with HTTP {status} ({class}): {message}")]
    Refused {
        route: String,
        status: u16,
        class: String,
        message: String,
    },
    /// The verifier's answer did not decode.
    #[error("verifier answer to {route} does not decode: {reason}")]
    Decode { route: String, reason: String },
}

/// How the agent decides to trust the verifier.
#[derive(Debug, Clone)]
pub enum VerifierTrust {
    /// PEM file with one or more CA certificates.
    CaPem(Vec<u8>),
    /// SHA-256 of the verifier's end-entity certificate DER.
    Pin([u8; 32]),
}

impl VerifierTrust {
    /// Reads a CA file.
    pub fn ca_file(path: &Path) -> Result<Self, ClientError> {
        std::fs::read(path)
            .map(Self::CaPem)
            .map_err(|e| ClientError::Trust(format!("{}: {e}", path.display())))
    }

    /// Parses `sha256:HEX` (or bare hex).
    pub fn pin(text: &str) -> Result<Self, ClientError> {
        let hex_part = text.strip_prefix("sha256:").unwrap_or(text);
        let bytes = hex::decode(hex_part)
            .map_err(|e| ClientError::Trust(format!("pin '{text}' is not hex: {e}")))?;
        let arr: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
            ClientError::Trust(format!("pin must be 32 bytes of SHA-256, got {}", b.len()))
        })?;
        Ok(Self::Pin(arr))
    }
}

#[derive(Debug)]
struct PinnedCertificate {
    pin: [u8; 32],
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let seen: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
        if seen == self.pin {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "verifier certificate pin mismatch: expected sha256:{}, got sha256:{}",
                hex::encode(self.pin),
                hex::encode(seen)
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A client bound to one verifier.
#[derive(Debug, Clone)]
pub struct VerifierClient {
    base: String,
    http: reqwest::Client,
}

impl VerifierClient {
    /// Builds a client for `base` (e.g. `https://127.0.0.1:8443`).
    pub fn new(base: &str, trust: &VerifierTrust) -> Result<Self, ClientError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| ClientError::Trust(e.to_string()))?;
        let config = match trust {
            VerifierTrust::CaPem(pem) => {
                let mut roots = rustls::RootCertStore::empty();
                let mut n = 0;
                for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                    let cert = cert.map_err(|e| ClientError::Trust(format!("CA file: {e}")))?;
                    roots
                        .add(cert)
                        .map_err(|e| ClientError::Trust(format!("CA certificate: {e}")))?;
                    n += 1;
                }
                if n == 0 {
                    return Err(ClientError::Trust("CA file holds no certificate".into()));
                }
                builder.with_root_certificates(roots).with_no_client_auth()
            }
            VerifierTrust::Pin(pin) => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(PinnedCertificate {
                    pin: *pin,
                    provider,
                }))
                .with_no_client_auth(),
        };
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(config)
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(|e| ClientError::Trust(e.to_string()))?;
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            http,
        })
    }

    async fn post<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        route: &str,
        body: &Req,
    ) -> Result<Resp, ClientError> {
        let url = format!("{}{route}", self.base);
        let resp =
            self.http
                .post(&url)
                .json(body)
                .send()
                .await
                .map_err(|e| ClientError::Transport {
                    url: url.clone(),
                    reason: error_chain(&e),
                })?;
        decode(route, resp).await
    }

    /// `POST /v1/agents/register`.
    pub async fn register(&self, req: &RegisterRequest) -> Result<RegisterResponse, ClientError> {
        self.post("/v1/agents/register", req).await
    }

    /// `POST /v1/agents/activate`.
    pub async fn activate(&self, req: &ActivateRequest) -> Result<ActivateResponse, ClientError> {
        self.post("/v1/agents/activate", req).await
    }

    /// `POST /v1/nonces`.
    pub async fn nonce(&self, req: &NonceRequest) -> Result<NonceResponse, ClientError> {
        self.post("/v1/nonces", req).await
    }

    /// `POST /v1/attest`.
    pub async fn attest(&self, req: &AttestRequest) -> Result<AttestResponse, ClientError> {
        self.post("/v1/attest", req).await
    }

    /// `GET /v1/result-key`: PEM of the verifier's EAR signing key.
    pub async fn result_key(&self) -> Result<String, ClientError> {
        let route = "/v1/result-key";
        let url = format!("{}{route}", self.base);
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| ClientError::Transport {
                url: url.clone(),
                reason: error_chain(&e),
            })?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| ClientError::Decode {
            route: route.into(),
            reason: e.to_string(),
        })?;
        if status == 200 {
            Ok(text)
        } else {
            Err(refused(route, status, &text))
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

fn refused(route: &str, status: u16, body: &str) -> ClientError {
    match serde_json::from_str::<ErrorBody>(body) {
        Ok(b) => ClientError::Refused {
            route: route.into(),
            status,
            class: b.error,
            message: b.message,
        },
        Err(_) => ClientError::Refused {
            route: route.into(),
            status,
            class: "unknown".into(),
            message: body.chars().take(500).collect(),
        },
    }
}

async fn decode<Resp: DeserializeOwned>(
    route: &str,
    resp: reqwest::Response,
) -> Result<Resp, ClientError> {
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.map_err(|e| ClientError::Decode {
        route: route.into(),
        reason: e.to_string(),
    })?;
    if !(200..300).contains(&status) {
        return Err(refused(route, status, &String::from_utf8_lossy(&bytes)));
    }
    serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode {
        route: route.into(),
        reason: e.to_string(),
    })
}
