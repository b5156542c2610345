//! The only verifiers a load test may address: HTTPS on a loopback
//! address of this machine (127.0.0.0/8, ::1, `localhost`).

use std::net::IpAddr;
use thiserror::Error;

/// Why a verifier URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TargetError {
    /// Not a URL.
    #[error("verifier URL '{url}' does not parse: {reason}")]
    Parse {
        /// The URL given.
        url: String,
        /// The parser's complaint.
        reason: String,
    },
    /// Not `https`.
    #[error("verifier URL '{0}': only https is served by the verifier")]
    Scheme(String),
    /// A host that is not loopback.
    #[error("verifier URL '{url}': host '{host}' is not a loopback address (127.0.0.0/8, ::1, localhost); sealbuild-loadgen only loads a verifier on this machine")]
    NotLoopback {
        /// The URL given.
        url: String,
        /// Its host.
        host: String,
    },
    /// A path, query or credentials after the authority.
    #[error("verifier URL '{0}': give only https://HOST:PORT (no path, query or user)")]
    Extra(String),
}

/// `url` as a base (`https://host:port`, no trailing slash) when it names
/// a loopback verifier; an error otherwise.
pub fn loopback_base(url: &str) -> Result<String, TargetError> {
    let parsed = reqwest::Url::parse(url).map_err(|e| TargetError::Parse {
        url: url.to_string(),
        reason: e.to_string(),
    })?;
    if parsed.scheme() != "https" {
        return Err(TargetError::Scheme(url.to_string()));
    }
    if !parsed.username().is_empty()
        || parsed.password().is_some()
        || parsed.query().is_some()
        || parsed.fragment().is_some()
        || !matches!(parsed.path(), "" | "/")
    {
        return Err(TargetError::Extra(url.to_string()));
    }
    let host = parsed.host_str().unwrap_or("");
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = match bare.parse::<IpAddr>() {
        Ok(a) => a.is_loopback(),
        Err(_) => bare.eq_ignore_ascii_case("localhost"),
    };
    if !loopback {
        return Err(TargetError::NotLoopback {
            url: url.to_string(),
            host: host.to_string(),
        });
    }
    Ok(url.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls_are_accepted() {
        for u in [
            "https://127.0.0.1:8443",
            "https://127.3.2.1:1/",
            "https://[::1]:8443",
            "https://localhost:9",
        ] {
            assert_eq!(loopback_base(u).unwrap(), u.trim_end_matches('/'), "{u}");
        }
    }

    #[test]
    fn other_hosts_schemes_and_paths_are_refused() {
        for u in [
            "https://10.0.0.1:8443",
            "https://192.168.1.2:8443",
            "https://8.8.8.8",
            "https://example.invalid:8443",
            "https://localhost.example.invalid",
            "https://[::2]:1",
            "https://0.0.0.0:8443",
        ] {
            assert!(
                matches!(loopback_base(u), Err(TargetError::NotLoopback { .. })),
                "{u}"
            );
        }
        assert!(matches!(
            loopback_base("http://127.0.0.1:8443"),
            Err(TargetError::Scheme(_))
        ));
        assert!(matches!(
            loopback_base("https://127.0.0.1:8443/v1"),
            Err(TargetError::Extra(_))
        ));
        assert!(matches!(
            loopback_base("https://u@127.0.0.1:8443"),
            Err(TargetError::Extra(_))
        ));
        assert!(matches!(
            loopback_base("not a url"),
            Err(TargetError::Parse { .. })
        ));
    }
}
