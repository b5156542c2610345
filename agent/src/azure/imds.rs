//! The TD quote of an Azure TDX confidential VM, from the Azure instance
//! metadata service (IMDS).
//!
//! In an Azure TDX VM the guest cannot reach the TDX quoting enclave; the
//! host's IMDS turns a TD report into a DCAP TD quote. Protocol, as
//! Microsoft's guest tooling uses it (azure-cvm-tooling, crate
//! `az-tdx-vtpm`, module `imds`; Azure cvm-attestation-tools,
//! `ImdsClient.get_td_quote`):
//!
//! ```text
//! POST http://169.254.169.254/acc/tdquote
//! Content-Type: application/json
//!
//! {"report": "<base64url of the 1024-byte TDREPORT_STRUCT>"}
//!
//! 200 OK
//! {"quote": "<base64url of the TD quote>"}
//! ```
//!
//! base64url is RFC 4648 §5 without padding when sent; the answer is
//! decoded with or without padding. The link-local endpoint is plain HTTP
//! and never leaves the host, so this is a small HTTP/1.1 client over a
//! `TcpStream` (blocking, like the TPM calls around it; timeouts on connect,
//! read and write; the response is capped at [`MAX_RESPONSE`] bytes;
//! `Content-Length` or chunked bodies). Nothing here is trusted: the
//! verifier DCAP-verifies the quote.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::evidence::AgentError;

/// Where Azure serves TD quotes.
pub const IMDS_TD_QUOTE_URL: &str = "http://169.254.169.254/acc/tdquote";
/// Largest response accepted (a TD quote is about 5 KiB, 7 KiB as base64).
pub const MAX_RESPONSE: usize = 1 << 20;

/// A client of the TD-quote endpoint.
#[derive(Debug, Clone)]
pub struct TdQuoteService {
    url: String,
    host: String,
    port: u16,
    path: String,
    timeout: Duration,
}

fn imds_err(url: &str, reason: impl std::fmt::Display) -> AgentError {
    AgentError::Imds {
        url: url.to_string(),
        reason: reason.to_string(),
    }
}

impl TdQuoteService {
    /// The Azure endpoint, [`IMDS_TD_QUOTE_URL`].
    pub fn azure() -> Self {
        Self {
            url: IMDS_TD_QUOTE_URL.into(),
            host: "169.254.169.254".into(),
            port: 80,
            path: "/acc/tdquote".into(),
            timeout: Duration::from_secs(30),
        }
    }

    /// Another `http://host[:port]/path` (tests, a local relay). Only plain
    /// HTTP: the endpoint is link-local.
    pub fn new(url: &str) -> Result<Self, AgentError> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| imds_err(url, "expected an http:// URL"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>()
                    .map_err(|e| imds_err(url, format!("port {p:?}: {e}")))?,
            ),
            None => (authority, 80),
        };
        if host.is_empty() || path.contains(char::is_whitespace) {
            return Err(imds_err(url, "expected http://host[:port]/path"));
        }
        Ok(Self {
            url: url.to_string(),
            host: host.to_string(),
            port,
            path: path.to_string(),
            timeout: Duration::from_secs(30),
        })
    }

    /// Uses `timeout` for connecting, writing and each read.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends `td_report` (a TDREPORT_STRUCT) and returns the TD quote bytes
    /// the service answers with (unverified).
    pub fn td_quote(&self, td_report: &[u8]) -> Result<Vec<u8>, AgentError> {
        let body = serde_json::json!({ "report": URL_SAFE_NO_PAD.encode(td_report) }).to_string();
        let request = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.path,
            self.host,
            body.len()
        );
        let response = self.exchange(request.as_bytes())?;
        let (status, body) = parse_response(&response).map_err(|e| imds_err(&self.url, e))?;
        if status != 200 {
            let text = String::from_utf8_lossy(body.get(..200).unwrap_or(&body));
            return Err(imds_err(
                &self.url,
                format!("HTTP status {status}, expected 200: {text}"),
            ));
        }
        #[derive(serde::Deserialize)]
        struct Answer {
            quote: String,
        }
        let answer: Answer = serde_json::from_slice(&body)
            .map_err(|e| imds_err(&self.url, format!("answer is not {{\"quote\": …}}: {e}")))?;
        const URL_SAFE_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
            &base64::alphabet::URL_SAFE,
            GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
        );
        URL_SAFE_ANY_PADDING
            .decode(answer.quote.trim())
            .map_err(|e| imds_err(&self.url, format!("quote is not base64url: {e}")))
    }

    /// Writes `request` and reads the whole response (the server closes).
    fn exchange(&self, request: &[u8]) -> Result<Vec<u8>, AgentError> {
        let addrs = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| imds_err(&self.url, format!("resolving {}: {e}", self.host)))?;
        let mut last = None;
        let mut stream = None;
        for a in addrs {
            match TcpStream::connect_timeout(&a, self.timeout) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = Some(format!("connecting to {a}: {e}")),
            }
        }
        let mut stream = stream.ok_or_else(|| {
            imds_err(
                &self.url,
                last.unwrap_or_else(|| format!("{} resolves to no address", self.host)),
            )
        })?;
        let io = |e: std::io::Error| imds_err(&self.url, e);
        stream.set_read_timeout(Some(self.timeout)).map_err(io)?;
        stream.set_write_timeout(Some(self.timeout)).map_err(io)?;
        stream.write_all(request).map_err(io)?;
        let mut response = Vec::new();
        let limit = u64::try_from(MAX_RESPONSE).unwrap_or(u64::MAX);
        (&mut stream)
            .take(limit.saturating_add(1))
            .read_to_end(&mut response)
            .map_err(io)?;
        if response.len() > MAX_RESPONSE {
            return Err(imds_err(
                &self.url,
                format!("response larger than {MAX_RESPONSE} bytes"),
            ));
        }
        Ok(response)
    }
}

/// Splits an HTTP/1.1 response into its status and decoded body.
fn parse_response(bytes: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of the response headers")?;
    let (head, rest) = bytes.split_at(end);
    let body = rest.get(4..).unwrap_or_default();
    let head = std::str::from_utf8(head).map_err(|_| "response headers are not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(format!("not an HTTP/1.x status line: {status_line:?}"));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status code in {status_line:?}"))?;
    let mut length = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("malformed header line {line:?}"));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .parse::<usize>()
                    .map_err(|e| format!("Content-Length {value:?}: {e}"))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
            if !chunked {
                return Err(format!("unsupported Transfer-Encoding {value:?}"));
            }
        }
    }
    let body = if chunked {
        dechunk(body)?
    } else if let Some(n) = length {
        body.get(..n)
            .ok_or_else(|| format!("body shorter than Content-Length {n}: {} bytes", body.len()))?
            .to_vec()
    } else {
        body.to_vec()
    };
    Ok((status, body))
}

/// Decodes a chunked body (RFC 9112 §7.1; trailers ignored).
fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("chunk size line not terminated")?;
        let (line, tail) = rest.split_at(eol);
        let line = std::str::from_utf8(line).map_err(|_| "chunk size is not text")?;
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|e| format!("chunk size {size_text:?}: {e}"))?;
        let tail = tail.get(2..).unwrap_or_default();
        if size == 0 {
            return Ok(out);
        }
        let data = tail.get(..size).ok_or("chunk shorter than its size")?;
        out.extend_from_slice(data);
        rest = tail
            .get(size..)
            .and_then(|t| t.strip_prefix(b"\r\n"))
            .ok_or("chunk not followed by CRLF")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let s = TdQuoteService::new("http://127.0.0.1:8080/acc/tdquote").unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.path.as_str()),
            ("127.0.0.1", 8080, "/acc/tdquote")
        );
        let a = TdQuoteService::azure();
        let parsed = TdQuoteService::new(IMDS_TD_QUOTE_URL).unwrap();
        assert_eq!(
            (a.url.as_str(), a.host.as_str(), a.port, a.path.as_str()),
            (
                parsed.url.as_str(),
                parsed.host.as_str(),
                parsed.port,
                parsed.path.as_str()
            )
        );
        for bad in ["https://x/y", "http://:80/y", "http://h:x/y", "ftp://h/"] {
            assert!(TdQuoteService::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn responses() {
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello, and more";
        assert_eq!(parse_response(r).unwrap(), (200, b"hello".to_vec()));
        let r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2;x=y\r\nlo\r\n0\r\n\r\n";
        assert_eq!(parse_response(r).unwrap(), (200, b"hello".to_vec()));
        let r = b"HTTP/1.0 404 Not Found\r\n\r\nnope";
        assert_eq!(parse_response(r).unwrap(), (404, b"nope".to_vec()));
        for bad in [
            &b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort"[..],
            b"SMTP 200\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1",
        ] {
            assert!(
                parse_response(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
