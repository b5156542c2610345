//! SEV-SNP collateral: the AMD certificates and CRLs a verifier needs to check
//! SEV-SNP reports, kept in a directory ([`store`]) and fetched from the AMD
//! Key Distribution Service through that directory as a cache ([`kds`]).
//!
//! Specification: AMD "Versioned Chip Endorsement Key (VCEK) Certificate and
//! KDS Interface Specification" (publication 57230): §4 "Key Distribution
//! Service" (the URL layout: `/vcek/v1/{product}/{hwid}?…SPL…`,
//! `/vcek/v1/{product}/cert_chain` = ASK then ARK in PEM,
//! `/vcek/v1/{product}/crl` = a DER CRL signed by the ARK, and the same for
//! `/vlek/v1/`), and the VCEK/VLEK certificate extensions (productName, the
//! SPLs, hwID, CSP id) as decoded by
//! [`sealbuild_verifier_core::snp::AmdCertExtensions`].
//!
//! This module is an I/O edge of the verifier: it reads and writes files and
//! talks HTTP. What it stores is checked for shape before it is written (a
//! certificate that parses and names the product, hwID and TCB it is filed
//! under; a chain of exactly ASK/ASVK then ARK; a CRL issued by the ARK), so
//! an error page or a misfiled certificate never lands in the store. It does
//! **not** verify signatures or validity periods: that is the verification
//! core's job, with the collateral read from here.

mod fetch;
pub mod kds;
pub mod pcs;
pub mod store;
pub mod tdx;

pub use kds::{KdsConfig, KdsFetcher, Obtained, Source, DEFAULT_KDS_URL};
pub use pcs::{PcsConfig, PcsFetcher, DEFAULT_PCS_URL, DEFAULT_ROOT_CRL_URL};
pub use store::{CollateralStore, ProductInventory, StoredVcek};

use der::asn1::{Ia5StringRef, ObjectIdentifier, PrintableStringRef, Utf8StringRef};
use der::Decode;
use sealbuild_common::snp::{AttestationReport, SnpProduct, TcbParts, TcbVersion};
use sealbuild_verifier_core::snp::{AmdCertExtensions, SnpCertError};
use thiserror::Error;
use x509_cert::name::Name;
use x509_cert::Certificate;

/// Everything collateral handling can fail with, grouped by cause.
#[derive(Debug, Error)]
pub enum CollateralError {
    /// A file or directory could not be read or written.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done ("reading", "writing", "creating directory" …).
        op: &'static str,
        /// The path concerned.
        path: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// Content (from a file or from KDS) does not have the expected shape.
    #[error("{what}: expected {expected}, got {got}")]
    Malformed {
        /// Which file or URL, and which item.
        what: String,
        /// What a correct item looks like.
        expected: String,
        /// What was seen instead.
        got: String,
    },
    /// The request itself is invalid (bad chip id, product mismatch …).
    #[error("invalid request: {0}")]
    Request(String),
    /// TLS trust material (system roots, extra CA file) could not be loaded.
    #[error("TLS trust: {0}")]
    Trust(String),
    /// The HTTP exchange failed (connection, TLS, timeout, body too large).
    #[error("GET {url}: {reason}")]
    Http {
        /// The URL requested.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// KDS answered with a status other than 200 (and not a retryable 429/503).
    #[error("GET {url}: expected HTTP 200, got {status} (body: {body:?})")]
    Status {
        /// The URL requested.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the body, for the operator.
        body: String,
    },
    /// KDS kept throttling the fetcher.
    #[error(
        "GET {url}: rate limited (HTTP {status}) after {attempts} attempt(s); \
         Retry-After {retry_after}; {hint}"
    )]
    RateLimited {
        /// The URL requested.
        url: String,
        /// 429 or 503.
        status: u16,
        /// How many requests were sent.
        attempts: u32,
        /// The last Retry-After value, as sent ("absent" when missing).
        retry_after: String,
        /// Why the fetcher gave up.
        hint: String,
    },
    /// A background task failed (a bug or a shutdown in progress).
    #[error("collateral task: {0}")]
    Task(String),
}

impl CollateralError {
    /// An I/O error about `path`.
    pub fn io(op: &'static str, path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Self::Io {
            op,
            path: path.as_ref().display().to_string(),
            source,
        }
    }

    fn malformed(what: &str, expected: impl Into<String>, got: impl Into<String>) -> Self {
        Self::Malformed {
            what: what.to_string(),
            expected: expected.into(),
            got: got.into(),
        }
    }
}

/// Result alias of this module.
pub type Result<T, E = CollateralError> = std::result::Result<T, E>;

/// Which AMD endorsement hierarchy: ARK → ASK → VCEK, or ARK → ASVK → VLEK
/// (the one VCEK/VLEK type, [`sealbuild_common::snp::EndorsementKind`]).
pub use sealbuild_common::snp::EndorsementKind as ChainKind;

/// The store's and the CLI's lower-case product name ("milan").
pub fn product_slug(product: SnpProduct) -> &'static str {
    match product {
        SnpProduct::Milan => "milan",
        SnpProduct::Genoa => "genoa",
        SnpProduct::Turin => "turin",
    }
}

/// Parses a lower-case (or AMD-cased) product name.
pub fn parse_product(s: &str) -> Result<SnpProduct> {
    match s.to_ascii_lowercase().as_str() {
        "milan" => Ok(SnpProduct::Milan),
        "genoa" => Ok(SnpProduct::Genoa),
        "turin" => Ok(SnpProduct::Turin),
        other => Err(CollateralError::Request(format!(
            "product: expected milan, genoa or turin, got {other:?}"
        ))),
    }
}

/// The hardware id KDS files a VCEK under ([`SnpProduct::hw_id`]).
pub fn hwid(product: SnpProduct, chip_id: &[u8; 64]) -> &[u8] {
    product.hw_id(chip_id)
}

/// Lower-case hex of [`hwid`].
pub fn hwid_hex(product: SnpProduct, chip_id: &[u8; 64]) -> String {
    hex::encode(hwid(product, chip_id))
}

const OID_CN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");

/// The first commonName of `name`, if it is a UTF8, Printable or IA5 string.
fn common_name(name: &Name) -> Option<String> {
    name.0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .find(|atv| atv.oid == OID_CN)
        .and_then(|atv| {
            let v = &atv.value;
            v.decode_as::<Utf8StringRef<'_>>()
                .map(|s| s.as_str().to_string())
                .or_else(|_| {
                    v.decode_as::<PrintableStringRef<'_>>()
                        .map(|s| s.as_str().to_string())
                })
                .or_else(|_| {
                    v.decode_as::<Ia5StringRef<'_>>()
                        .map(|s| s.as_str().to_string())
                })
                .ok()
        })
}

fn cn_or_none(name: &Name) -> String {
    common_name(name).unwrap_or_else(|| "(no common name)".to_string())
}

/// Checks a PEM chain as KDS serves it at `/{kind}/v1/{product}/cert_chain`:
/// exactly two CERTIFICATE blocks, the intermediate (ASK "SEV-{P}" or ASVK
/// "SEV-VLEK-{P}") first, issued by the self-issued root "ARK-{P}" second.
/// Returns `(ark_der, ask_der)`. Signatures are not checked here.
pub fn parse_chain_pem(
    product: SnpProduct,
    kind: ChainKind,
    pem: &[u8],
    what: &str,
) -> Result<(Vec<u8>, Vec<u8>)> {
    let expected = format!(
        "a PEM {} chain: two CERTIFICATE blocks, {} then ARK-{}",
        kind,
        kind.intermediate_cn(product),
        product.name()
    );
    let mut ders = Vec::new();
    for item in rustls_pemfile::read_all(&mut &pem[..]) {
        match item {
            Ok(rustls_pemfile::Item::X509Certificate(c)) => ders.push(c.to_vec()),
            Ok(other) => {
                return Err(CollateralError::malformed(
                    what,
                    expected,
                    format!("a PEM block that is not a certificate ({other:?})")
                        .chars()
                        .take(120)
                        .collect::<String>(),
                ))
            }
            Err(e) => {
                return Err(CollateralError::malformed(
                    what,
                    expected,
                    format!("unreadable PEM ({e})"),
                ))
            }
        }
    }
    let (ask_der, ark_der) = match <[Vec<u8>; 2]>::try_from(ders) {
        Ok([a, b]) => (a, b),
        Err(v) => {
            return Err(CollateralError::malformed(
                what,
                expected,
                format!("{} certificate block(s)", v.len()),
            ))
        }
    };
    let parse = |der: &[u8], which: &str| {
        Certificate::from_der(der).map_err(|e| {
            CollateralError::malformed(
                what,
                expected.clone(),
                format!("{which}: not X.509 DER ({e})"),
            )
        })
    };
    let ask = parse(&ask_der, "first certificate")?;
    let ark = parse(&ark_der, "second certificate")?;
    let ark_tbs = &ark.tbs_certificate;
    let ask_tbs = &ask.tbs_certificate;
    let ark_cn = format!("ARK-{}", product.name());
    if ark_tbs.subject != ark_tbs.issuer
        || common_name(&ark_tbs.subject).as_deref() != Some(&ark_cn)
    {
        return Err(CollateralError::malformed(
            what,
            format!("second certificate: the self-issued {ark_cn}"),
            format!(
                "subject {}, issuer {}",
                cn_or_none(&ark_tbs.subject),
                cn_or_none(&ark_tbs.issuer)
            ),
        ));
    }
    let ask_cn = kind.intermediate_cn(product);
    if ask_tbs.issuer != ark_tbs.subject
        || common_name(&ask_tbs.subject).as_deref() != Some(&ask_cn)
    {
        return Err(CollateralError::malformed(
            what,
            format!("first certificate: {ask_cn} issued by {ark_cn}"),
            format!(
                "subject {}, issuer {}",
                cn_or_none(&ask_tbs.subject),
                cn_or_none(&ask_tbs.issuer)
            ),
        ));
    }
    Ok((ark_der, ask_der))
}

/// Finds which chain a PEM pair is (by its intermediate's common name).
pub fn detect_chain_kind(product: SnpProduct, pem: &[u8], what: &str) -> Result<ChainKind> {
    match parse_chain_pem(product, ChainKind::Vcek, pem, what) {
        Ok(_) => Ok(ChainKind::Vcek),
        Err(vcek_err) => match parse_chain_pem(product, ChainKind::Vlek, pem, what) {
            Ok(_) => Ok(ChainKind::Vlek),
            Err(_) => Err(vcek_err),
        },
    }
}

fn amd_extensions(der: &[u8], what: &str, expected: &str) -> Result<AmdCertExtensions> {
    AmdCertExtensions::from_der(der)
        .map_err(|e| CollateralError::malformed(what, expected, format!("{e}")))
}

fn check_product(ext: &AmdCertExtensions, product: SnpProduct, what: &str) -> Result<()> {
    if ext.product() != Some(product) {
        return Err(CollateralError::malformed(
            what,
            format!(
                "productName {} (or {}-<stepping>)",
                product.name(),
                product.name()
            ),
            format!("productName {:?}", ext.product_name),
        ));
    }
    Ok(())
}

/// Checks that `der` is the VCEK of `product`, `chip_id` and `reported_tcb`:
/// an X.509 certificate (serial number 0 accepted) whose productName names
/// the product, whose hwID is [`hwid`] and whose SPLs are the REPORTED_TCB
/// components (with the product's TCB layout).
pub fn check_vcek(
    product: SnpProduct,
    chip_id: &[u8; 64],
    reported_tcb: u64,
    der: &[u8],
    what: &str,
) -> Result<()> {
    let ext = amd_extensions(
        der,
        what,
        "an X.509 DER VCEK certificate with AMD extensions",
    )?;
    check_product(&ext, product, what)?;
    if ext.hw_id.is_none() {
        return Err(CollateralError::malformed(
            what,
            "a VCEK (with a hwID extension)",
            format!(
                "a certificate without hwID (CSP id {})",
                ext.csp_id.as_deref().unwrap_or("none")
            ),
        ));
    }
    // The one implementation of the product / SPL / hwID rules (core).
    let tcb = TcbVersion(reported_tcb);
    ext.check_identity(Some(product), chip_id, tcb)
        .map_err(|e| match e {
            SnpCertError::TcbMismatch {
                component,
                cert,
                report,
            } => CollateralError::malformed(
                what,
                format!(
                    "{component}SPL {report} (REPORTED_TCB {tcb}, {})",
                    tcb.parts(product.tcb_layout())
                ),
                format!("{component}SPL {cert}"),
            ),
            SnpCertError::ChipIdMismatch { cert, report } => {
                CollateralError::malformed(what, format!("hwID {report}"), format!("hwID {cert}"))
            }
            other => {
                CollateralError::malformed(what, "a VCEK of this chip and TCB", other.to_string())
            }
        })?;
    Ok(())
}

/// What a VCEK certificate says it is for: `(product, chip_id, reported_tcb)`
/// as the store files it (on Turin the 8-byte hwID is padded with zeros).
pub fn vcek_identity(
    der: &[u8],
    expected_product: Option<SnpProduct>,
    what: &str,
) -> Result<(SnpProduct, [u8; 64], u64)> {
    let ext = amd_extensions(
        der,
        what,
        "an X.509 DER VCEK certificate with AMD extensions",
    )?;
    let product = match (expected_product, ext.product()) {
        (Some(p), _) => {
            check_product(&ext, p, what)?;
            p
        }
        (None, Some(p)) => p,
        (None, None) => {
            return Err(CollateralError::malformed(
                what,
                "productName Milan, Genoa or Turin",
                format!("productName {:?}", ext.product_name),
            ))
        }
    };
    let hw = ext.hw_id.as_deref().ok_or_else(|| {
        CollateralError::malformed(what, "a VCEK (with a hwID extension)", "no hwID (a VLEK?)")
    })?;
    let want_len = match product {
        SnpProduct::Turin => 8,
        SnpProduct::Milan | SnpProduct::Genoa => 64,
    };
    let mut chip_id = [0u8; 64];
    match chip_id.get_mut(..hw.len()) {
        Some(dst) if hw.len() == want_len => dst.copy_from_slice(hw),
        _ => {
            return Err(CollateralError::malformed(
                what,
                format!("a {want_len}-byte hwID for {product}"),
                format!("{} bytes", hw.len()),
            ))
        }
    }
    let parts = TcbParts {
        fmc: match product {
            SnpProduct::Turin => Some(ext.fmc_spl.unwrap_or(0)),
            SnpProduct::Milan | SnpProduct::Genoa => None,
        },
        boot_loader: ext.bl_spl,
        tee: ext.tee_spl,
        snp: ext.snp_spl,
        microcode: ext.ucode_spl,
    };
    let tcb = TcbVersion::from_parts(parts, product.tcb_layout());
    Ok((product, chip_id, tcb.0))
}

/// Checks that `der` is a VLEK of `product` (a CSP id, no hwID); returns the CSP id.
pub fn check_vlek(product: SnpProduct, der: &[u8], what: &str) -> Result<String> {
    let ext = amd_extensions(
        der,
        what,
        "an X.509 DER VLEK certificate with AMD extensions",
    )?;
    check_product(&ext, product, what)?;
    match (&ext.csp_id, &ext.hw_id) {
        (Some(csp), None) => Ok(csp.clone()),
        (_, Some(h)) => Err(CollateralError::malformed(
            what,
            "a VLEK (CSP id, no hwID)",
            format!("a VCEK (hwID {})", hex::encode(h)),
        )),
        (None, None) => Err(CollateralError::malformed(
            what,
            "a VLEK (CSP id extension 1.3.6.1.4.1.3704.1.5)",
            "no CSP id",
        )),
    }
}

/// What a CRL says about its own freshness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrlInfo {
    /// thisUpdate, Unix seconds.
    pub this_update: u64,
    /// nextUpdate, Unix seconds (optional in RFC 5280).
    pub next_update: Option<u64>,
    /// Number of revoked certificates listed.
    pub revoked: usize,
}

/// Checks that `der` is an X.509 CRL (RFC 5280 §5.1 CertificateList) issued
/// by "ARK-{product}" and returns its update times. The signature is not
/// checked here.
pub fn parse_crl(product: SnpProduct, der: &[u8], what: &str) -> Result<CrlInfo> {
    let ark_cn = format!("ARK-{}", product.name());
    let expected = format!("a DER X.509 CRL issued by {ark_cn}");
    let crl = x509_cert::crl::CertificateList::from_der(der).map_err(|e| {
        CollateralError::malformed(
            what,
            expected.clone(),
            format!("{} bytes that do not decode ({e})", der.len()),
        )
    })?;
    let tbs = &crl.tbs_cert_list;
    if common_name(&tbs.issuer).as_deref() != Some(ark_cn.as_str()) {
        return Err(CollateralError::malformed(
            what,
            expected,
            format!("a CRL issued by {}", cn_or_none(&tbs.issuer)),
        ));
    }
    Ok(CrlInfo {
        this_update: tbs.this_update.to_unix_duration().as_secs(),
        next_update: tbs.next_update.map(|t| t.to_unix_duration().as_secs()),
        revoked: tbs.revoked_certificates.as_ref().map_or(0, Vec::len),
    })
}

/// The VCEK URL of `chip_id` at `reported_tcb` (see the module doc of [`kds`]).
pub fn vcek_url(base: &str, product: SnpProduct, chip_id: &[u8; 64], reported_tcb: u64) -> String {
    let p = TcbVersion(reported_tcb).parts(product.tcb_layout());
    let fmc = match p.fmc {
        Some(f) => format!("fmcSPL={f}&"),
        None => String::new(),
    };
    format!(
        "{}/vcek/v1/{}/{}?{fmc}blSPL={}&teeSPL={}&snpSPL={}&ucodeSPL={}",
        base.trim_end_matches('/'),
        product.name(),
        hwid_hex(product, chip_id),
        p.boot_loader,
        p.tee,
        p.snp,
        p.microcode
    )
}

/// The cert_chain URL of `product` and `kind`.
pub fn chain_url(base: &str, product: SnpProduct, kind: ChainKind) -> String {
    format!(
        "{}/{}/v1/{}/cert_chain",
        base.trim_end_matches('/'),
        kind.name(),
        product.name()
    )
}

/// The CRL URL of `product` and `kind`.
pub fn crl_url(base: &str, product: SnpProduct, kind: ChainKind) -> String {
    format!(
        "{}/{}/v1/{}/crl",
        base.trim_end_matches('/'),
        kind.name(),
        product.name()
    )
}

/// The product of a report: its CPUID (version 3+), checked against `given`;
/// a version 2 report needs `given`.
pub fn product_for_report(
    report: &AttestationReport,
    given: Option<SnpProduct>,
) -> Result<SnpProduct> {
    let detected = sealbuild_verifier_core::snp::detect_product(report, given)
        .map_err(|e| CollateralError::Request(e.to_string()))?;
    detected.or(given).ok_or_else(|| {
        let why = match report.cpuid {
            Some(c) => format!(
                "its CPUID (family {:#x} model {:#x}) names no known product",
                c.family, c.model
            ),
            None => format!("a version {} report carries no CPUID", report.version),
        };
        CollateralError::Request(format!("the product must be given: {why}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(rel: &str) -> Vec<u8> {
        let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/sev-snp/");
        std::fs::read(format!("{p}{rel}")).unwrap()
    }

    fn pem_der(rel: &str) -> Vec<u8> {
        let pem = data(rel);
        let mut rd = pem.as_slice();
        let first = rustls_pemfile::certs(&mut rd).next().unwrap().unwrap();
        first.to_vec()
    }

    #[test]
    fn real_chains_parse_for_every_product_and_kind() {
        for p in [SnpProduct::Milan, SnpProduct::Genoa, SnpProduct::Turin] {
            for k in [ChainKind::Vcek, ChainKind::Vlek] {
                let rel = format!("amd-roots/{}/cert_chain_{}.pem", product_slug(p), k);
                let (ark, ask) = parse_chain_pem(p, k, &data(&rel), &rel).unwrap();
                assert_eq!(
                    ark,
                    pem_der(&format!("amd-roots/{}/ark.pem", product_slug(p)))
                );
                if k == ChainKind::Vcek {
                    assert_eq!(
                        ask,
                        pem_der(&format!("amd-roots/{}/ask.pem", product_slug(p)))
                    );
                }
                assert_eq!(detect_chain_kind(p, &data(&rel), &rel).unwrap(), k);
            }
        }
    }

    #[test]
    fn chain_of_wrong_product_kind_or_shape_is_refused() {
        let milan = data("amd-roots/milan/cert_chain_vcek.pem");
        let e = parse_chain_pem(SnpProduct::Genoa, ChainKind::Vcek, &milan, "x").unwrap_err();
        assert!(e.to_string().contains("ARK-Genoa"), "{e}");
        let e = parse_chain_pem(SnpProduct::Milan, ChainKind::Vlek, &milan, "x").unwrap_err();
        assert!(e.to_string().contains("SEV-VLEK-Milan"), "{e}");
        let ark_only = data("amd-roots/milan/ark.pem");
        let e = parse_chain_pem(SnpProduct::Milan, ChainKind::Vcek, &ark_only, "x").unwrap_err();
        assert!(e.to_string().contains("got 1 certificate block(s)"), "{e}");
        let e = parse_chain_pem(SnpProduct::Milan, ChainKind::Vcek, b"<html>429</html>", "x")
            .unwrap_err();
        assert!(e.to_string().contains("got 0 certificate block(s)"), "{e}");
        // ARK first, ASK second: reversed order is refused.
        let mut reversed = data("amd-roots/milan/ark.pem");
        reversed.extend(data("amd-roots/milan/ask.pem"));
        assert!(parse_chain_pem(SnpProduct::Milan, ChainKind::Vcek, &reversed, "x").is_err());
        // Three blocks.
        let mut three = milan.clone();
        three.extend(data("amd-roots/milan/ark.pem"));
        let e = parse_chain_pem(SnpProduct::Milan, ChainKind::Vcek, &three, "x").unwrap_err();
        assert!(e.to_string().contains("got 3 certificate block(s)"), "{e}");
    }

    #[test]
    fn real_vceks_are_checked_against_chip_and_tcb() {
        let vcek = data("virtee-sev/vcek_milan.der");
        let (p, chip, tcb) = vcek_identity(&vcek, None, "v").unwrap();
        assert_eq!(p, SnpProduct::Milan);
        assert_eq!(tcb, 0x7308_0000_0000_0003);
        assert_eq!(
            hex::encode(chip),
            "d49554ec717f4e5b0fe6b143bcf0405bd7ae304727edf46603f2a76aef6a3abc15d7af38db757039029f0efacfd08e244324884738c72b082e2f87a44d541eb6"
        );
        check_vcek(p, &chip, tcb, &vcek, "v").unwrap();
        let e = check_vcek(p, &chip, tcb + 1, &vcek, "v").unwrap_err();
        assert!(e.to_string().contains("expected blSPL 4"), "{e}");
        let mut other = chip;
        other[63] ^= 1;
        let e = check_vcek(p, &other, tcb, &vcek, "v").unwrap_err();
        assert!(e.to_string().contains("hwID"), "{e}");
        let e = check_vcek(SnpProduct::Genoa, &chip, tcb, &vcek, "v").unwrap_err();
        assert!(e.to_string().contains("productName \"Milan-B0\""), "{e}");

        let turin = data("virtee-sev/vcek_turin.der");
        let (p, chip, tcb) = vcek_identity(&turin, None, "t").unwrap();
        assert_eq!(p, SnpProduct::Turin);
        assert_eq!(hwid_hex(p, &chip), "1e550a8ee5cf9f4d");
        assert_eq!(TcbVersion(tcb).parts(p.tcb_layout()).microcode, 9);
        check_vcek(p, &chip, tcb, &turin, "t").unwrap();

        let vlek = data("trustee/test-vlek.der");
        assert!(vcek_identity(&vlek, None, "l").is_err());
        assert_eq!(
            check_vlek(SnpProduct::Milan, &vlek, "l").unwrap(),
            // The extension's IA5String, as openssl prints it, includes "CN=".
            "CN=cc-us-east-2.amazonaws.com"
        );
        assert!(check_vlek(SnpProduct::Milan, &vcek, "l").is_err());
        assert!(check_vcek(SnpProduct::Milan, &chip, tcb, b"<html/>", "x").is_err());
    }

    #[test]
    fn products_parse() {
        assert_eq!(parse_product("Genoa").unwrap(), SnpProduct::Genoa);
        assert_eq!(parse_product("turin").unwrap(), SnpProduct::Turin);
        assert!(parse_product("naples").is_err());
        let chip = [7u8; 64];
        assert_eq!(hwid(SnpProduct::Turin, &chip).len(), 8);
        assert_eq!(hwid(SnpProduct::Genoa, &chip).len(), 64);
    }

    #[test]
    fn urls_follow_the_kds_layout() {
        let chip = [0xabu8; 64];
        let milan = vcek_url(
            "https://kds.example/",
            SnpProduct::Milan,
            &chip,
            0x4405_0000_0000_0002,
        );
        assert_eq!(
            milan,
            format!(
                "https://kds.example/vcek/v1/Milan/{}?blSPL=2&teeSPL=0&snpSPL=5&ucodeSPL=68",
                "ab".repeat(64)
            )
        );
        let turin_tcb = TcbVersion::from_parts(
            sealbuild_common::snp::TcbParts {
                fmc: Some(1),
                boot_loader: 2,
                tee: 3,
                snp: 4,
                microcode: 219,
            },
            sealbuild_common::snp::TcbLayout::Turin,
        );
        assert_eq!(
            vcek_url("http://m", SnpProduct::Turin, &chip, turin_tcb.0),
            "http://m/vcek/v1/Turin/abababababababab?fmcSPL=1&blSPL=2&teeSPL=3&snpSPL=4&ucodeSPL=219"
        );
        assert_eq!(
            chain_url("http://m", SnpProduct::Genoa, ChainKind::Vlek),
            "http://m/vlek/v1/Genoa/cert_chain"
        );
        assert_eq!(
            crl_url("http://m", SnpProduct::Turin, ChainKind::Vcek),
            "http://m/vcek/v1/Turin/crl"
        );
    }

    #[test]
    fn report_product_rules() {
        let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/sev-snp/");
        let v2 = AttestationReport::parse(
            &std::fs::read(format!("{p}virtee-sev/report_milan.bin")).unwrap(),
        )
        .unwrap();
        let e = product_for_report(&v2, None).unwrap_err();
        assert!(
            e.to_string().contains("version 2 report carries no CPUID"),
            "{e}"
        );
        assert_eq!(
            product_for_report(&v2, Some(SnpProduct::Milan)).unwrap(),
            SnpProduct::Milan
        );
        let v3 = AttestationReport::parse(
            &std::fs::read(format!("{p}trustee/e2e-genoa-report.bin")).unwrap(),
        )
        .unwrap();
        assert_eq!(product_for_report(&v3, None).unwrap(), SnpProduct::Genoa);
        let e = product_for_report(&v3, Some(SnpProduct::Milan)).unwrap_err();
        assert!(
            e.to_string().contains("expected product Milan, got Genoa"),
            "{e}"
        );
    }
}
