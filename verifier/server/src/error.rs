//! The verifier library's error type, grouped by cause, and the one place
//! where errors become HTTP statuses.

use thiserror::Error;

/// Everything the verifier service can fail with.
#[derive(Debug, Error)]
pub enum ServerError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// Configuration is invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// TLS material could not be created or loaded.
    #[error("TLS: {0}")]
    Tls(String),
    /// A key could not be created, imported, encoded or unsealed.
    #[error("key: {0}")]
    Key(String),
    /// The request is malformed (bad base64/hex/structure).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The request body is larger than the service accepts.
    #[error("payload too large: {0}")]
    PayloadTooLarge(String),
    /// The source sent more requests than its rate allows.
    #[error("rate limited: {0}")]
    RateLimited(String),
    /// The request did not arrive completely in time.
    #[error("timeout: {0}")]
    Timeout(String),
    /// The caller is not authorised (admin token).
    #[error("unauthorised: {0}")]
    Unauthorized(String),
    /// A referenced object does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The request conflicts with state (e.g. challenge already answered).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Storage failed.
    #[error("storage: {0}")]
    Store(String),
    /// Verification core failure that is not a verdict (e.g. encoding).
    #[error(transparent)]
    Core(#[from] sealbuild_verifier_core::Error),
}

impl ServerError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }

    /// HTTP status for this error: the one mapping of the service.
    pub fn status(&self) -> u16 {
        match self {
            Self::BadRequest(_) => 400,
            Self::PayloadTooLarge(_) => 413,
            Self::Timeout(_) => 408,
            Self::RateLimited(_) => 429,
            Self::Unauthorized(_) => 401,
            Self::NotFound(_) => 404,
            Self::Conflict(_) => 409,
            Self::Core(sealbuild_verifier_core::Error::Format(_))
            | Self::Core(sealbuild_verifier_core::Error::Policy(_)) => 400,
            Self::Io { .. }
            | Self::Config(_)
            | Self::Tls(_)
            | Self::Key(_)
            | Self::Store(_)
            | Self::Core(_) => 500,
        }
    }

    /// Stable machine name of the error class.
    pub fn class(&self) -> &'static str {
        match self {
            Self::Io { .. } => "io",
            Self::Config(_) => "config",
            Self::Tls(_) => "tls",
            Self::Key(_) => "key",
            Self::BadRequest(_) => "bad_request",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::Timeout(_) => "timeout",
            Self::RateLimited(_) => "rate_limited",
            Self::Unauthorized(_) => "unauthorized",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::Store(_) => "storage",
            Self::Core(_) => "verification",
        }
    }
}

/// Result alias.
pub type Result<T, E = ServerError> = std::result::Result<T, E>;
