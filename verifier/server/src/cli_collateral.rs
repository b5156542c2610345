//! `collateral fetch|list|import snp`: the SEV-SNP collateral directory
//! (layout: `sealbuild_verifier::collateral::store`). `fetch` goes through
//! the directory as a cache, so running it again makes no request for what
//! is already there.
//!
//! `collateral fetch tdx --quote F [--base-url URL]`: the Intel PCS v4
//! collateral (TCB Info, QE Identity, PCK CRL, root CA CRL, with the issuer
//! chains) of a TDX quote's FMSPC and PCK CA, read from its PCK certificate,
//! into `<dir>/tdx/<fmspc>-<platform|processor>/` (layout and behaviour:
//! `sealbuild_verifier::collateral::{tdx, pcs}`). A folder that still
//! verifies is kept (`--refresh` fetches anyway); a new one replaces it only
//! once it has been written and read back.

use crate::{Outcome, StateArgs};
use anyhow::{anyhow, bail, Context, Result};
use clap::Subcommand;
use sealbuild_common::snp::{AttestationReport, SigningKey, SnpProduct};
use sealbuild_common::tdx::Quote;
use sealbuild_verifier::collateral::kds::product_for_report;
use sealbuild_verifier::collateral::{
    check_vlek, detect_chain_kind, product_slug, ChainKind, CollateralStore, KdsConfig, KdsFetcher,
    PcsConfig, PcsFetcher, DEFAULT_KDS_URL, DEFAULT_PCS_URL, DEFAULT_ROOT_CRL_URL,
};
use sealbuild_verifier_core::tdx::pck::unverified_pck_identity;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Subcommand)]
pub enum CollateralCmd {
    /// Fetches collateral from AMD KDS into the collateral directory (cached).
    #[command(subcommand)]
    Fetch(FetchCmd),
    /// Lists what the collateral directory holds.
    #[command(subcommand)]
    List(ListCmd),
    /// Imports collateral files (checked before they are stored).
    #[command(subcommand)]
    Import(ImportCmd),
}

#[derive(Debug, Subcommand)]
pub enum FetchCmd {
    /// The VCEK of a report (or chip id + TCB), both certificate chains and the CRL.
    Snp(FetchSnpArgs),
    /// Intel PCS v4 collateral of a TDX quote (TCB Info, QE Identity, CRLs, issuer chains).
    Tdx(FetchTdxArgs),
}

#[derive(Debug, Subcommand)]
pub enum ListCmd {
    /// SEV-SNP collateral, per product.
    Snp(ListSnpArgs),
}

#[derive(Debug, Subcommand)]
pub enum ImportCmd {
    /// Imports a VCEK, a VLEK, a certificate chain or a CRL.
    Snp(ImportSnpArgs),
}

/// The three SEV-SNP products.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ProductArg {
    Milan,
    Genoa,
    Turin,
}

impl From<ProductArg> for SnpProduct {
    fn from(p: ProductArg) -> Self {
        match p {
            ProductArg::Milan => SnpProduct::Milan,
            ProductArg::Genoa => SnpProduct::Genoa,
            ProductArg::Turin => SnpProduct::Turin,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct DirArg {
    /// Collateral directory (default: <state dir>/collateral).
    #[arg(long)]
    dir: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["report", "chip_id"])))]
pub struct FetchSnpArgs {
    /// An SEV-SNP attestation report (1184 bytes): product, CHIP_ID and REPORTED_TCB come from it.
    #[arg(long)]
    report: Option<PathBuf>,
    /// CHIP_ID in hex (128 digits; 16 are enough on Turin). Needs --tcb and --product.
    #[arg(long, requires_all = ["tcb", "product"])]
    chip_id: Option<String>,
    /// REPORTED_TCB as a hex u64 (e.g. 0x7308000000000003).
    #[arg(long, requires = "chip_id")]
    tcb: Option<String>,
    /// The product; checked against the report's CPUID when both say.
    #[arg(long, value_enum)]
    product: Option<ProductArg>,
    /// The machine uses a VLEK: fetch the VLEK CRL instead of a VCEK and the VCEK CRL.
    #[arg(long)]
    vlek: bool,
    /// KDS base URL (an http:// mirror is accepted).
    #[arg(long, default_value = DEFAULT_KDS_URL)]
    kds_url: String,
    #[command(flatten)]
    dir: DirArg,
    /// Minimum seconds between two KDS requests (decimals allowed).
    #[arg(long, default_value_t = 10.0)]
    min_interval_secs: f64,
    /// Extra CA certificates (PEM) to trust for https, besides the system bundle.
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// Fetch the CRL even if the stored one's nextUpdate has not passed.
    #[arg(long)]
    refresh_crl: bool,
}

#[derive(Debug, clap::Args)]
pub struct FetchTdxArgs {
    /// A TDX (or SGX) DCAP quote: FMSPC and PCK CA come from its PCK certificate.
    #[arg(long)]
    quote: PathBuf,
    /// Intel PCS or PCCS base URL (an http:// mirror is accepted).
    #[arg(long, default_value = DEFAULT_PCS_URL)]
    base_url: String,
    /// The Intel SGX Root CA CRL URL.
    #[arg(long, default_value = DEFAULT_ROOT_CRL_URL)]
    root_crl_url: String,
    #[command(flatten)]
    dir: DirArg,
    /// Extra CA certificates (PEM) to trust for https, besides the system bundle.
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// Fetch even if the stored folder still verifies.
    #[arg(long)]
    refresh: bool,
}

#[derive(Debug, clap::Args)]
pub struct ListSnpArgs {
    /// Only this product (default: all).
    #[arg(long, value_enum)]
    product: Option<ProductArg>,
    #[command(flatten)]
    dir: DirArg,
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("item").required(true).args(["vcek", "vlek", "chain", "crl", "vlek_crl"])))]
pub struct ImportSnpArgs {
    /// The product the files belong to.
    #[arg(long, value_enum)]
    product: ProductArg,
    /// A VCEK (DER or PEM); filed under the hwID and TCB its extensions name.
    #[arg(long)]
    vcek: Option<PathBuf>,
    /// A VLEK from the cloud provider (DER or PEM).
    #[arg(long)]
    vlek: Option<PathBuf>,
    /// A certificate chain as KDS serves it (PEM: ASK or ASVK, then ARK); the kind is detected.
    #[arg(long)]
    chain: Option<PathBuf>,
    /// The VCEK CRL (DER) of the product.
    #[arg(long)]
    crl: Option<PathBuf>,
    /// The VLEK CRL (DER) of the product.
    #[arg(long)]
    vlek_crl: Option<PathBuf>,
    #[command(flatten)]
    dir: DirArg,
}

fn open_store(state: &StateArgs, dir: &DirArg) -> Result<CollateralStore> {
    let dir = match &dir.dir {
        Some(d) => d.clone(),
        None => state.load()?.state_dir.join("collateral"),
    };
    CollateralStore::open(&dir).with_context(|| format!("collateral directory {}", dir.display()))
}

fn read(p: &Path) -> Result<Vec<u8>> {
    std::fs::read(p).with_context(|| format!("reading {}", p.display()))
}

/// DER as is, or the single certificate of a PEM file.
fn read_cert(p: &Path) -> Result<Vec<u8>> {
    let bytes = read(p)?;
    if !bytes.starts_with(b"-----BEGIN") {
        return Ok(bytes);
    }
    let certs: Vec<_> = rustls_pemfile::certs(&mut bytes.as_slice())
        .collect::<std::result::Result<_, _>>()
        .with_context(|| format!("{}: PEM", p.display()))?;
    match certs.as_slice() {
        [one] => Ok(one.to_vec()),
        other => bail!(
            "{}: expected one PEM certificate, got {}",
            p.display(),
            other.len()
        ),
    }
}

fn parse_hex_u64(s: &str) -> Result<u64> {
    let digits = s.trim().trim_start_matches("0x").trim_start_matches("0X");
    u64::from_str_radix(digits, 16)
        .map_err(|e| anyhow!("--tcb {s:?}: expected a hex u64 (up to 16 digits): {e}"))
}

fn parse_chip_id(s: &str, product: SnpProduct) -> Result<[u8; 64]> {
    let bytes = hex::decode(s.trim().trim_start_matches("0x"))
        .map_err(|e| anyhow!("--chip-id: not hex: {e}"))?;
    let mut chip = [0u8; 64];
    let ok_len = bytes.len() == 64 || (product == SnpProduct::Turin && bytes.len() == 8);
    match chip.get_mut(..bytes.len()) {
        Some(dst) if ok_len => dst.copy_from_slice(&bytes),
        _ => bail!(
            "--chip-id: expected 64 bytes (128 hex digits){}, got {} bytes",
            if product == SnpProduct::Turin {
                " or the 8-byte Turin hwID"
            } else {
                ""
            },
            bytes.len()
        ),
    }
    Ok(chip)
}

pub fn run(state: &StateArgs, cmd: CollateralCmd) -> Result<Outcome> {
    match cmd {
        CollateralCmd::Fetch(FetchCmd::Snp(a)) => fetch_snp(state, a),
        CollateralCmd::Fetch(FetchCmd::Tdx(a)) => fetch_tdx(state, a),
        CollateralCmd::List(ListCmd::Snp(a)) => list_snp(state, a),
        CollateralCmd::Import(ImportCmd::Snp(a)) => import_snp(state, a),
    }
}

fn line(source: impl std::fmt::Display, item: &str, path: &Path) {
    out!("{source:<7} {item:<16} {}", path.display());
}

fn fetch_snp(state: &StateArgs, a: FetchSnpArgs) -> Result<Outcome> {
    let given = a.product.map(SnpProduct::from);
    // (product, VCEK to fetch: Some((chip_id, tcb)) or None for a VLEK machine)
    let (product, vcek_of) = match (&a.report, &a.chip_id, &a.tcb) {
        (Some(path), _, _) => {
            let report = AttestationReport::parse(&read(path)?)
                .with_context(|| format!("{}: SEV-SNP report", path.display()))?;
            let product = product_for_report(&report, given)
                .with_context(|| format!("{}", path.display()))?;
            let vlek = a.vlek || report.key_info.signing_key == SigningKey::Vlek;
            if !vlek && report.key_info.signing_key != SigningKey::Vcek {
                bail!(
                    "{}: the report is not signed (SIGNING_KEY = 7)",
                    path.display()
                );
            }
            let vcek = (!vlek).then_some((report.chip_id, report.reported_tcb.0));
            (product, vcek)
        }
        (None, Some(chip), Some(tcb)) => {
            let product = given.context("--chip-id needs --product")?;
            let vcek = (!a.vlek)
                .then(|| -> Result<_> { Ok((parse_chip_id(chip, product)?, parse_hex_u64(tcb)?)) });
            (product, vcek.transpose()?)
        }
        _ => bail!("give --report, or --chip-id with --tcb and --product"),
    };
    let min_interval = Duration::try_from_secs_f64(a.min_interval_secs)
        .map_err(|e| anyhow!("--min-interval-secs {}: {e}", a.min_interval_secs))?;
    let cfg = KdsConfig {
        base_url: a.kds_url.clone(),
        min_interval,
        extra_ca_pem: a.ca_file.as_deref().map(read).transpose()?,
        ..KdsConfig::default()
    };
    let store = open_store(state, &a.dir)?;
    let fetcher = KdsFetcher::new(store, cfg)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let kind = if vcek_of.is_some() {
        ChainKind::Vcek
    } else {
        ChainKind::Vlek
    };
    rt.block_on(async {
        if let Some((chip, tcb)) = vcek_of {
            let got = fetcher.vcek(product, &chip, tcb).await?;
            line(got.source, "vcek", &got.path);
        }
        for k in [ChainKind::Vcek, ChainKind::Vlek] {
            let got = fetcher.chain(product, k).await?;
            line(got.source, &format!("cert_chain_{k}"), &got.path);
        }
        let got = fetcher.crl(product, kind, a.refresh_crl).await?;
        line(got.source, &format!("crl_{kind}"), &got.path);
        anyhow::Ok(())
    })?;
    if kind == ChainKind::Vlek {
        let n = fetcher.store().vleks(product)?.len();
        if n == 0 {
            eprintln!(
                "note: no {product} VLEK in the store; VLEKs are not on KDS: \
                 `collateral import snp --product {} --vlek FILE`",
                product_slug(product)
            );
        }
    }
    Ok(Outcome::Ok)
}

fn fetch_tdx(state: &StateArgs, a: FetchTdxArgs) -> Result<Outcome> {
    let bytes = read(&a.quote)?;
    let quote =
        Quote::parse(&bytes).map_err(|e| anyhow!("{}: DCAP quote: {e}", a.quote.display()))?;
    let (fmspc, ca) = unverified_pck_identity(&quote)
        .map_err(|e| anyhow!("{}: PCK certificate: {e}", a.quote.display()))?;
    let cfg = PcsConfig {
        base_url: a.base_url.clone(),
        root_crl_url: a.root_crl_url.clone(),
        extra_ca_pem: a.ca_file.as_deref().map(read).transpose()?,
        ..PcsConfig::default()
    };
    let store = open_store(state, &a.dir)?;
    let fetcher = PcsFetcher::new(store, cfg)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let got = rt
        .block_on(fetcher.tdx(&fmspc, ca, a.refresh))
        .with_context(|| {
            format!(
                "fetching TDX collateral for FMSPC {} ({} CA); the stored folder is unchanged",
                hex::encode(fmspc),
                ca.as_str()
            )
        })?;
    line(got.source, &format!("tdx {}", ca.as_str()), &got.path);
    Ok(Outcome::Ok)
}

fn list_snp(state: &StateArgs, a: ListSnpArgs) -> Result<Outcome> {
    let store = open_store(state, &a.dir)?;
    let products = match a.product {
        Some(p) => vec![SnpProduct::from(p)],
        None => vec![SnpProduct::Milan, SnpProduct::Genoa, SnpProduct::Turin],
    };
    let mut any = false;
    for product in products {
        let inv = store.inventory(product)?;
        if inv.is_empty() {
            continue;
        }
        any = true;
        out!("{} ({}):", product, store.product_dir(product).display());
        let files = [
            ("cert_chain_vcek", &inv.chain_vcek),
            ("cert_chain_vlek", &inv.chain_vlek),
            ("crl_vcek", &inv.crl_vcek),
            ("crl_vlek", &inv.crl_vlek),
        ];
        for (name, p) in files {
            if let Some(p) = p {
                out!("  {name:<16} {}", p.display());
            }
        }
        for v in &inv.vceks {
            out!(
                "  vcek             hwid {} tcb {:#018x} {}",
                v.hwid_hex,
                v.reported_tcb,
                v.path.display()
            );
        }
        for p in &inv.vleks {
            out!("  vlek             {}", p.display());
        }
    }
    if !any {
        out!("no SEV-SNP collateral in {}", store.root().display());
    }
    Ok(Outcome::Ok)
}

fn import_snp(state: &StateArgs, a: ImportSnpArgs) -> Result<Outcome> {
    let product = SnpProduct::from(a.product);
    let store = open_store(state, &a.dir)?;
    if let Some(f) = &a.vcek {
        let path = store
            .import_vcek(Some(product), &read_cert(f)?)
            .with_context(|| format!("importing {}", f.display()))?;
        line("stored", "vcek", &path);
    }
    if let Some(f) = &a.vlek {
        let der = read_cert(f)?;
        let csp = check_vlek(product, &der, &f.display().to_string())?;
        let path = store.put_vlek(product, &der)?;
        line("stored", &format!("vlek ({csp})"), &path);
    }
    if let Some(f) = &a.chain {
        let pem = read(f)?;
        let kind = detect_chain_kind(product, &pem, &f.display().to_string())?;
        let path = store.put_chain(product, kind, &pem)?;
        line("stored", &format!("cert_chain_{kind}"), &path);
    }
    for (file, kind) in [(&a.crl, ChainKind::Vcek), (&a.vlek_crl, ChainKind::Vlek)] {
        if let Some(f) = file {
            let path = store
                .put_crl(product, kind, &read(f)?)
                .with_context(|| format!("importing {}", f.display()))?;
            line("stored", &format!("crl_{kind}"), &path);
        }
    }
    Ok(Outcome::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_inputs() {
        assert_eq!(
            parse_hex_u64("0x7308000000000003").unwrap(),
            0x7308_0000_0000_0003
        );
        assert!(parse_hex_u64("0x1_0000_0000_0000_0000").is_err());
        assert!(parse_chip_id("ab", SnpProduct::Milan).is_err());
        let c = parse_chip_id("1e550a8ee5cf9f4d", SnpProduct::Turin).unwrap();
        assert_eq!(&c[..8], &hex::decode("1e550a8ee5cf9f4d").unwrap()[..]);
        assert!(c[8..].iter().all(|b| *b == 0));
        assert!(parse_chip_id("1e550a8ee5cf9f4d", SnpProduct::Genoa).is_err());
        assert_eq!(
            parse_chip_id(&"11".repeat(64), SnpProduct::Genoa).unwrap(),
            [0x11; 64]
        );
    }
}
