//! The Azure TDX collector's TD-quote request (`azure::imds`,
//! `azure::td_quote_for_hcl`) against a local HTTP server on 127.0.0.1
//! (a free port) standing in for the instance metadata service, with the
//! real Azure TDX vectors of the test-data MANIFEST §2.10: the request is
//! `POST /acc/tdquote` with `{"report": base64url(TD report)}`, the answer's
//! quote is returned after checking it quotes that very report; anything
//! else is an error naming the endpoint.
// Test code: a failed unwrap, expect or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use sealbuild_agent::azure::imds::TdQuoteService;
use sealbuild_agent::azure::{hcl_td_report, td_quote_for_hcl};
use sealbuild_agent::evidence::AgentError;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

fn data(p: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../tests/data/{p}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn tdx_hcl() -> Vec<u8> {
    data("azure/az-tdx-vtpm/hcl-report.bin")
}

/// What the fake service saw: request line, headers (lower-case names) and
/// body.
struct Seen {
    request_line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Serves one connection with `response` on 127.0.0.1:<free port>; the
/// service's URL and a receiver of what it saw.
fn serve_once(response: Vec<u8>) -> (String, mpsc::Receiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        // Read the headers, then Content-Length bytes of body.
        let (head_end, length) = loop {
            let n = conn.read(&mut chunk).unwrap();
            assert!(n > 0, "client closed early");
            buf.extend_from_slice(&chunk[..n]);
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8(buf[..i].to_vec()).unwrap();
                let len = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                break (i + 4, len);
            }
        };
        while buf.len() < head_end + length {
            let n = conn.read(&mut chunk).unwrap();
            assert!(n > 0, "client closed early");
            buf.extend_from_slice(&chunk[..n]);
        }
        let head = String::from_utf8(buf[..head_end - 4].to_vec()).unwrap();
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap().to_string();
        let headers = lines
            .map(|l| {
                let (k, v) = l.split_once(':').unwrap();
                (k.to_ascii_lowercase(), v.trim().to_string())
            })
            .collect();
        conn.write_all(&response).unwrap();
        drop(conn);
        tx.send(Seen {
            request_line,
            headers,
            body: buf[head_end..head_end + length].to_vec(),
        })
        .unwrap();
    });
    (format!("http://127.0.0.1:{port}/acc/tdquote"), rx)
}

fn ok_json(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn quote_answer(quote: &[u8]) -> Vec<u8> {
    ok_json(&format!(
        r#"{{"quote":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(quote)
    ))
}

fn service(url: &str) -> TdQuoteService {
    TdQuoteService::new(url)
        .unwrap()
        .with_timeout(Duration::from_secs(10))
}

#[test]
fn the_td_report_is_sent_and_its_quote_returned() {
    let quote = data("azure/az-tdx-vtpm/td-quote.bin");
    let (url, seen) = serve_once(quote_answer(&quote));
    let got = td_quote_for_hcl(&service(&url), &tdx_hcl()).unwrap();
    assert_eq!(got.as_deref(), Some(quote.as_slice()));

    let seen = seen.recv().unwrap();
    assert_eq!(seen.request_line, "POST /acc/tdquote HTTP/1.1");
    let header = |n: &str| {
        seen.headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(header("content-type"), Some("application/json"));
    assert!(header("host").unwrap().starts_with("127.0.0.1"));
    let body: serde_json::Value = serde_json::from_slice(&seen.body).unwrap();
    let report = body["report"].as_str().unwrap();
    // base64url without padding of the 1024-byte TD report at 0x20.
    assert!(!report.contains('=') && !report.contains('+') && !report.contains('/'));
    let td = URL_SAFE_NO_PAD.decode(report).unwrap();
    assert_eq!(td, tdx_hcl()[0x20..0x420]);
    assert_eq!(body.as_object().unwrap().len(), 1);
}

#[test]
fn padded_and_chunked_answers_are_read() {
    let quote = data("azure/az-tdx-vtpm/td-quote.bin");
    let body = format!(r#"{{"quote":"{}"}}"#, URL_SAFE.encode(&quote));
    let (a, b) = body.split_at(100);
    let chunked = format!(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
        a.len(),
        b.len()
    );
    let (url, _seen) = serve_once(chunked.into_bytes());
    let got = td_quote_for_hcl(&service(&url), &tdx_hcl()).unwrap();
    assert_eq!(got.as_deref(), Some(quote.as_slice()));
}

#[test]
fn an_snp_hcl_report_needs_no_quote() {
    // Nothing listens on this URL: an SEV-SNP HCL report must not ask.
    let s = service("http://127.0.0.1:9/acc/tdquote");
    let snp = data("azure/az-snp-vtpm/hcl-report.bin");
    assert_eq!(td_quote_for_hcl(&s, &snp).unwrap(), None);
    assert_eq!(hcl_td_report(&snp).unwrap(), None);
    assert_eq!(
        hcl_td_report(&tdx_hcl()).unwrap().unwrap(),
        tdx_hcl()[0x20..0x420]
    );
    // Not an HCL report / another report type / a broken TD report.
    let mut bad = tdx_hcl();
    bad[0] = b'X';
    assert!(matches!(
        hcl_td_report(&bad),
        Err(AgentError::Format { .. })
    ));
    let mut bad = tdx_hcl();
    bad[0x4C8] = 3;
    assert!(matches!(
        hcl_td_report(&bad),
        Err(AgentError::Format { .. })
    ));
    let mut bad = tdx_hcl();
    bad[0x20] = 0;
    assert!(matches!(
        hcl_td_report(&bad),
        Err(AgentError::Format { .. })
    ));
}

#[test]
fn wrong_answers_are_errors_naming_the_endpoint() {
    // A quote of another TD.
    let other = data("tdx/dcap-qvl/tdx_quote");
    let (url, _s) = serve_once(quote_answer(&other));
    let e = td_quote_for_hcl(&service(&url), &tdx_hcl()).unwrap_err();
    assert!(
        matches!(&e, AgentError::TdxReportDataMismatch { origin, .. } if origin == &url),
        "{e}"
    );
    // An SGX quote, and bytes that are no quote.
    let (url, _s) = serve_once(quote_answer(&data("tdx/dcap-qvl/sgx_quote")));
    assert!(matches!(
        td_quote_for_hcl(&service(&url), &tdx_hcl()),
        Err(AgentError::TdxMalformedQuote { .. })
    ));
    let (url, _s) = serve_once(quote_answer(b"not a quote"));
    assert!(matches!(
        td_quote_for_hcl(&service(&url), &tdx_hcl()),
        Err(AgentError::TdxMalformedQuote { .. })
    ));
    // HTTP errors and malformed answers.
    for (response, says) in [
        (
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops".to_vec(),
            "HTTP status 500",
        ),
        (ok_json(r#"{"quote":"@@"}"#), "not base64url"),
        (ok_json(r#"{"evidence":"AA"}"#), "answer is not"),
        (b"garbage".to_vec(), "no end of the response headers"),
    ] {
        let (url, _s) = serve_once(response);
        let e = td_quote_for_hcl(&service(&url), &tdx_hcl()).unwrap_err();
        let AgentError::Imds { url: u, reason } = &e else {
            panic!("{e:?}");
        };
        assert_eq!(u, &url);
        assert!(reason.contains(says), "{reason}");
    }
    // Nobody listening.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/acc/tdquote");
    let e = td_quote_for_hcl(&service(&url), &tdx_hcl()).unwrap_err();
    assert!(matches!(e, AgentError::Imds { .. }), "{e:?}");
    assert!(e.to_string().contains(&url), "{e}");
}
