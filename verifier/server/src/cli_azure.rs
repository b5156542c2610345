//! `verify azure`: offline verification of Azure confidential-VM evidence
//! (SEV-SNP or TDX): the paravisor's HCL report and a vTPM quote by its AK.
//!
//! ```text
//! sealbuild-verifier verify azure --hcl-report F --quote-json F --nonce HEX
//!     [--vcek F | --certs DIR]                                  (SEV-SNP)
//!     [--td-quote F (--collateral F | --collateral-dir DIR)
//!      [--accept-tcb-status S,...]]                             (TDX)
//!     [--at RFC3339] [--json]
//! ```
//!
//! The HCL report's type decides: type 2 (SEV-SNP) is verified as below;
//! type 4 (TDX) needs the TD quote of its TD report and that quote's DCAP
//! collateral, and is verified by [`crate::cli_azure_tdx`]. Flags of the
//! other kind are a usage error.
//!
//! The SEV-SNP report inside the HCL report is verified as `verify snp`
//! verifies a report (AMD's built-in roots only, the product from CPUID or
//! the VCEK's productName, CRLs from `--certs`, TCB consistency, debug
//! refused), then [`verify_azure_snp`] checks the rest with that product's
//! chain: VMPL 0, REPORT_DATA = H(variable data) ‖ zeros, the quote signed by
//! `HCLAkPub`, its `extraData` equal to `--nonce`, and PCRs 0–23 of the
//! sha256 bank giving its `pcrDigest`. `--nonce` is required: the quote JSON
//! carries no nonce apart from the quote's own `extraData`, and comparing
//! that with itself would prove no freshness. An HCL report or quote JSON
//! that does not parse is rejected (exit 1) with the reason
//! `malformed_evidence` naming the structure and field.

use crate::cli_snp::{print_report_lines, read_cert, report_json};
use crate::cli_verify::{
    insert_verdict_json, malformed, outcome, print_verdict, verification_time,
};
use crate::Outcome;
use anyhow::{bail, Context, Result};
use sealbuild_common::api::Reason;
use sealbuild_common::snp::SnpProduct;
use sealbuild_verifier_core::azure::{
    verify_azure_snp, AnyHclReport, AzureError, AzureSnpClaims, AzureSnpInput, HclReport,
    RsaJwkKey, RuntimeClaims, TpmQuote, PCR_COUNT,
};
use sealbuild_verifier_core::bundle::MALFORMED_EVIDENCE;
use sealbuild_verifier_core::claims::SnpClaims;
use sealbuild_verifier_core::policy::{snp_problems, SnpRule};
use sealbuild_verifier_core::quote::QuoteError;
use sealbuild_verifier_core::snp::roots::IntermediateKind;
use sealbuild_verifier_core::snp::{check_name, verify_snp, AmdRoots, SnpInput, SnpSignerKind};
use serde_json::json;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct AzureArgs {
    /// The HCL report (vTPM NV index 0x01400001, binary, padding included).
    #[arg(long)]
    pub(crate) hcl_report: PathBuf,
    /// The vTPM quote: JSON {"signature": hex, "message": hex TPMS_ATTEST, "pcrs": [24 × hex sha256 PCR]}.
    #[arg(long)]
    pub(crate) quote_json: PathBuf,
    /// SEV-SNP: the VCEK certificate (DER or PEM; the first certificate of a PEM file).
    #[arg(long, conflicts_with_all = ["certs", "td_quote"])]
    vcek: Option<PathBuf>,
    /// SEV-SNP: a directory in snpguest's layout (vcek.der|vcek.pem|vlek.der|vlek.pem, ark.pem, ask.pem, crl.der).
    #[arg(long, conflicts_with = "td_quote")]
    certs: Option<PathBuf>,
    /// TDX: the TD quote of the HCL report's TD report (binary, version 4 or 5).
    #[arg(long)]
    pub(crate) td_quote: Option<PathBuf>,
    /// TDX: dcap-qvl's JSON collateral bundle for the TD quote (as for `verify tdx`).
    #[arg(long, conflicts_with = "collateral_dir", requires = "td_quote")]
    pub(crate) collateral: Option<PathBuf>,
    /// TDX: a directory of raw PCS responses (the `verify tdx --collateral-dir` layout).
    #[arg(long, requires = "td_quote")]
    pub(crate) collateral_dir: Option<PathBuf>,
    /// TDX: accepted TCB statuses, comma-separated (default: UpToDate).
    #[arg(long, value_delimiter = ',', requires = "td_quote")]
    pub(crate) accept_tcb_status: Option<Vec<String>>,
    /// Required: the nonce the quote's extraData must equal, hex (the quote JSON carries none of its own).
    #[arg(long)]
    nonce: String,
    /// Verification time, RFC 3339 (default: now).
    #[arg(long)]
    at: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// The endorsement key and CRLs of `--vcek` / `--certs`, DER.
#[derive(Default)]
struct Collateral {
    keys: Vec<Vec<u8>>,
    crls: Vec<Vec<u8>>,
}

/// Reads `--vcek` / `--certs`; a root in the directory that is not AMD's is
/// a usage error (the roots are built in, never taken from the directory).
fn collateral(a: &AzureArgs, roots: &AmdRoots) -> Result<Collateral> {
    let mut c = Collateral::default();
    if let Some(v) = &a.vcek {
        c.keys.push(read_cert(v)?);
    }
    if let Some(dir) = &a.certs {
        crate::cli_snp::read_cert_dir(dir, roots, &mut c.keys, &mut c.crls)?;
    }
    Ok(c)
}

/// The check an Azure error names, with the expected and observed values.
pub(crate) fn azure_reason(e: &AzureError) -> Reason {
    let check = match e {
        AzureError::Snp(s) => check_name(s),
        AzureError::ReportType { .. } => return hcl_reason(e),
        AzureError::Vmpl { .. } => "azure_vmpl",
        AzureError::VarDataDigest { .. } | AzureError::ReportDataTail { .. } => "azure_binding",
        AzureError::VarData { .. } => "azure_var_data",
        AzureError::AkPub { .. } => "azure_ak",
        AzureError::QuoteSignature { .. } => "quote_signature",
        // Bytes that do not parse (the TPMS_ATTEST, a TPM structure):
        // malformed evidence; a parsed attestation that is no quote is a
        // structure failure.
        AzureError::Format(_) | AzureError::Quote(QuoteError::Format(_)) => MALFORMED_EVIDENCE,
        AzureError::Quote(_) => "quote_structure",
        AzureError::Nonce { .. } => "nonce",
        AzureError::PcrSelection { .. } => "pcr_selection",
        AzureError::PcrDigest { .. } => "pcr_digest",
        AzureError::UserData { .. } => "azure_user_data",
        AzureError::Tdx(t) => return sealbuild_verifier_core::platform::tdx_reason(t),
        AzureError::NotTdQuote => "azure_td_quote",
        AzureError::TdReportMismatch { .. } | AzureError::TdReportHash { .. } => "azure_td_report",
    };
    let (expected, observed) = e.expected_observed();
    Reason::new(check, expected, observed, e.to_string())
}

/// Why the HCL report carries another TEE's report.
fn hcl_reason(e: &AzureError) -> Reason {
    let (expected, observed) = e.expected_observed();
    Reason::new("azure_hcl", expected, observed, e.to_string())
}

/// What the checks established (or refused).
struct Verdict {
    snp: Option<SnpClaims>,
    azure: Option<AzureSnpClaims>,
    reasons: Vec<Reason>,
}

fn rejected(reasons: Vec<Reason>) -> Verdict {
    Verdict {
        snp: None,
        azure: None,
        reasons,
    }
}

/// The evidence and collateral of one verification.
struct Evidence<'a> {
    hcl: &'a HclReport,
    hcl_bytes: &'a [u8],
    quote: &'a TpmQuote,
    nonce: &'a [u8],
    collateral: &'a Collateral,
    at: u64,
}

/// The SEV-SNP report as `verify snp` checks it (no policy), then the Azure
/// checks with the chain that verified it.
fn check(e: &Evidence<'_>, roots: &AmdRoots) -> Verdict {
    let key_refs: Vec<&[u8]> = e.collateral.keys.iter().map(Vec::as_slice).collect();
    let crl_refs: Vec<&[u8]> = e.collateral.crls.iter().map(Vec::as_slice).collect();
    let snp = match verify_snp(&SnpInput {
        report: e.hcl.snp_report_bytes(),
        endorsement_keys: &key_refs,
        roots,
        crls: &crl_refs,
        expected_product: None,
        expected_report_data: None,
        at_unix_secs: e.at,
    }) {
        Ok(c) => c,
        Err(reasons) => return rejected(reasons),
    };
    let mut reasons = snp_problems("hardware", &SnpRule::hardware_only(false), &snp);
    let kind = match snp.signing_key {
        SnpSignerKind::Vcek => IntermediateKind::Ask,
        SnpSignerKind::Vlek => IntermediateKind::Asvk,
    };
    let chain = roots
        .for_product(snp.product)
        .find(|r| r.insecure_test == snp.insecure_test_root)
        .and_then(|r| r.chain(kind));
    let (Some(chain), Some(vcek)) = (chain, key_refs.first()) else {
        reasons.push(Reason::new(
            "snp_chain",
            Some(format!("a built-in {} chain", snp.product)),
            Some("none".into()),
            format!("no built-in {} chain for this report", snp.product),
        ));
        return Verdict {
            snp: Some(snp),
            azure: None,
            reasons,
        };
    };
    let azure = verify_azure_snp(&AzureSnpInput {
        hcl_report: e.hcl_bytes,
        vcek_der: vcek,
        chain,
        quote: &e.quote.message,
        quote_signature: &e.quote.signature,
        pcrs: &e.quote.pcrs,
        expected_nonce: e.nonce,
        expected_user_data: None,
        expected_product: Some(snp.product),
        at_unix_secs: e.at,
    });
    let azure = match azure {
        Ok(c) => Some(c),
        Err(err) => {
            reasons.push(azure_reason(&err));
            None
        }
    };
    Verdict {
        snp: Some(snp),
        azure,
        reasons,
    }
}

/// The HCL report's own claims (not authenticated unless `verified`).
fn hcl_json(hcl: &HclReport) -> serde_json::Value {
    let mut v = report_json(&hcl.snp_report);
    if let Some(o) = v.as_object_mut() {
        o.insert("hcl_version".into(), json!(hcl.version));
        o.insert("hcl_hash_type".into(), json!(hcl.hash_type.alg().name()));
        o.insert(
            "hcl_var_data_digest".into(),
            json!(hex::encode(hcl.var_data_digest())),
        );
        o.insert("hcl_var_data_len".into(), json!(hcl.var_data().len()));
    }
    v
}

fn claims_json(hcl: Option<&HclReport>, v: &Verdict) -> serde_json::Value {
    let mut out = hcl.map_or_else(|| json!({}), hcl_json);
    let Some(o) = out.as_object_mut() else {
        return out;
    };
    if let Some(s) = &v.snp {
        o.insert("product".into(), json!(s.product.id()));
        o.insert("signing_key".into(), json!(s.signing_key.as_str()));
        o.insert(
            "signer_fingerprint".into(),
            json!(hex::encode(s.signer_fingerprint)),
        );
        o.insert("crl_checked".into(), json!(s.crl_checked));
    } else {
        let cpuid = hcl.and_then(|h| h.snp_report.cpuid);
        let product = cpuid.and_then(SnpProduct::from_cpuid).map(SnpProduct::id);
        o.insert("product".into(), json!(product));
    }
    if let Some(c) = &v.azure {
        insert_vtpm_json(o, &vtpm_fields!(c));
    }
    out
}

/// The verified vTPM side of either kind of Azure evidence.
pub(crate) struct VtpmFields<'a> {
    pub ak: &'a RsaJwkKey,
    pub ek: Option<&'a RsaJwkKey>,
    pub nonce: &'a [u8],
    pub pcrs: &'a [[u8; 32]; PCR_COUNT],
    pub user_data: Option<&'a [u8]>,
    pub runtime: &'a RuntimeClaims,
    pub firmware_version: u64,
}

/// The [`VtpmFields`] of verified Azure claims: the SEV-SNP ones
/// (`AzureSnpClaims`) and the TDX ones (`AzureTdxOffline`) name them alike.
macro_rules! vtpm_fields {
    ($c:expr) => {{
        let c = $c;
        $crate::cli_azure::VtpmFields {
            ak: &c.ak,
            ek: c.ek.as_ref(),
            nonce: &c.nonce,
            pcrs: &c.pcrs,
            user_data: c.user_data.as_deref(),
            runtime: &c.runtime,
            firmware_version: c.quote.firmware_version,
        }
    }};
}
pub(crate) use vtpm_fields;

/// AK, EK, nonce, PCRs, user-data, VM configuration and vTPM firmware.
pub(crate) fn insert_vtpm_json(
    o: &mut serde_json::Map<String, serde_json::Value>,
    c: &VtpmFields<'_>,
) {
    o.insert("ak_fingerprint".into(), json!(c.ak.fingerprint()));
    o.insert("ak_bits".into(), json!(c.ak.bits()));
    let ek = c.ek.map(|k| k.fingerprint());
    o.insert("ek_fingerprint".into(), json!(ek));
    o.insert("nonce".into(), json!(hex::encode(c.nonce)));
    let pcrs: serde_json::Map<String, serde_json::Value> = c
        .pcrs
        .iter()
        .enumerate()
        .map(|(i, p)| (i.to_string(), json!(hex::encode(p))))
        .collect();
    o.insert("pcrs".into(), json!({ "sha256": pcrs }));
    if let Some(u) = c.user_data {
        o.insert("user_data".into(), json!(hex::encode(u)));
    }
    let vm = &c.runtime.vm_configuration;
    o.insert(
        "vm_configuration".into(),
        json!({
            "secure_boot": vm.secure_boot,
            "tpm_enabled": vm.tpm_enabled,
            "tpm_persisted": vm.tpm_persisted,
            "console_enabled": vm.console_enabled,
            "vm_unique_id": vm.vm_unique_id,
        }),
    );
    o.insert(
        "tpm_firmware_version".into(),
        json!(format!("{:#018x}", c.firmware_version)),
    );
}

pub fn verify_azure_files(a: AzureArgs) -> Result<Outcome> {
    let hcl_bytes = read(&a.hcl_report)?;
    let quote_bytes = read(&a.quote_json)?;
    let nonce = hex::decode(a.nonce.trim_start_matches("0x"))
        .with_context(|| format!("--nonce {:?} is not hex", a.nonce))?;
    let at = verification_time(a.at.as_deref())?;

    // Evidence that does not parse is malformed (exit 1, the parser names
    // the field); an HCL report of another TEE parses and is refused below.
    let hcl = match AnyHclReport::parse(&hcl_bytes) {
        Err(e @ AzureError::ReportType { .. }) => Err(e),
        Err(e) => return malformed(a.json, &a.hcl_report, "Azure HCL report", &e),
        Ok(AnyHclReport::Tdx(h)) => {
            if a.vcek.is_some() || a.certs.is_some() {
                bail!(
                    "{} carries a TDX report (HCL report type 4): --vcek and --certs are for \
                     SEV-SNP; give --td-quote F and --collateral F or --collateral-dir DIR",
                    a.hcl_report.display()
                );
            }
            let quote = match TpmQuote::from_json(&quote_bytes) {
                Err(e) => return malformed(a.json, &a.quote_json, "vTPM quote JSON", &e),
                Ok(q) => q,
            };
            return crate::cli_azure_tdx::verify(&a, &h, &quote, &nonce, at);
        }
        Ok(AnyHclReport::Snp(h)) => Ok(*h),
    };
    if hcl.is_ok() && a.td_quote.is_some() {
        bail!(
            "{} carries an SEV-SNP report (HCL report type 2): --td-quote, --collateral, \
             --collateral-dir and --accept-tcb-status are for TDX; give --vcek F or --certs DIR",
            a.hcl_report.display()
        );
    }
    let roots = AmdRoots::builtin();
    let collateral = collateral(&a, &roots)?;
    let quote = match TpmQuote::from_json(&quote_bytes) {
        Err(e) => return malformed(a.json, &a.quote_json, "vTPM quote JSON", &e),
        Ok(q) => q,
    };
    let verdict = match &hcl {
        Err(e) => rejected(vec![hcl_reason(e)]),
        Ok(h) => {
            let evidence = Evidence {
                hcl: h,
                hcl_bytes: &hcl_bytes,
                quote: &quote,
                nonce: &nonce,
                collateral: &collateral,
                at,
            };
            check(&evidence, &roots)
        }
    };
    let hcl = hcl.ok();
    let verified = verdict.azure.is_some();
    let accepted = verified && verdict.reasons.is_empty();
    let label = if accepted { "accepted" } else { "rejected" };
    if a.json {
        let mut out = claims_json(hcl.as_ref(), &verdict);
        if let Some(o) = out.as_object_mut() {
            insert_verdict_json(o, verified, label, &verdict.reasons, at)?;
        }
        out!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        if let (Some(s), Some(c)) = (&verdict.snp, &verdict.azure) {
            let r = &s.report;
            out!(
                "HCL report: SEV-SNP report version {}, {} signed by {}",
                r.version,
                s.product,
                s.signing_key.as_str().to_uppercase()
            );
            print_report_lines(r);
            print_vtpm_lines(&c.ak, &c.nonce);
        }
        print_verdict(label, &verdict.reasons);
    }
    Ok(outcome(accepted))
}

/// The vTPM AK and nonce lines of the text output (either kind of Azure
/// evidence).
pub(crate) fn print_vtpm_lines(ak: &RsaJwkKey, nonce: &[u8]) {
    out!("vTPM AK (modulus SHA-256): {}", ak.fingerprint());
    out!("nonce: {}", hex::encode(nonce));
}
