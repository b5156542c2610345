//! `verify tdx`: offline DCAP verification of an Intel TDX quote.
//!
//! ```text
//! sealbuild-verifier verify tdx --quote F (--collateral F | --collateral-dir DIR)
//!     [--at RFC3339] [--accept-tcb-status S,...] [--policy F]
//!     [--allow-debug] [--json]
//! ```
//!
//! `--collateral F` is the JSON bundle of dcap-qvl's `QuoteCollateralV3`
//! (`pck_crl_issuer_chain`, `root_ca_crl`, `pck_crl`, `tcb_info_issuer_chain`,
//! `tcb_info`, `tcb_info_signature`, `qe_identity_issuer_chain`,
//! `qe_identity`, `qe_identity_signature`). `--collateral-dir DIR` holds raw
//! Intel PCS API v4 responses, one file each:
//!
//! | file | content |
//! |---|---|
//! | `tcbinfo.json` | body of `GET /tdx/certification/v4/tcb?fmspc=…` |
//! | `tcbinfo-issuer-chain.pem` | its `TCB-Info-Issuer-Chain` header (PEM, URL-encoded or not) |
//! | `qeidentity.json` | body of `GET /tdx/certification/v4/qe/identity` |
//! | `qeidentity-issuer-chain.pem` | its `SGX-Enclave-Identity-Issuer-Chain` header |
//! | `pckcrl.der` | body of `GET /sgx/certification/v4/pckcrl?ca=platform\|processor` (DER, PEM or hex) |
//! | `pckcrl-issuer-chain.pem` | its `SGX-PCK-CRL-Issuer-Chain` header (optional) |
//! | `rootcrl.der` | the Intel SGX Root CA CRL (DER, PEM or hex) |
//!
//! The Intel SGX Root CA is built in; nothing in the collateral is trusted
//! until it chains to it. The verdict is `accepted` when the quote verifies
//! (DCAP: signatures, PCK chain, CRLs, TCB Info, QE Identity at `--at`) and
//! the claims satisfy the rule: without `--policy`, an accepted TCB status
//! (`--accept-tcb-status`, default UpToDate) and DEBUG refused unless
//! `--allow-debug`; with `--policy`, one of its `platform = "tdx"` reference
//! sets (`--accept-tcb-status` then replaces each set's `tcb_statuses`, and
//! `--allow-debug` allows debug TDs in each). REPORT_DATA is shown, not
//! checked (there is no binding offline). A quote that does not parse is
//! rejected (exit 1) with the reason `malformed_evidence`; exit 2 is for
//! usage and I/O errors only.

use crate::cli_verify::{
    insert_verdict_json, outcome, print_verdict, read_policy_text, reference_reasons,
    verification_time,
};
use crate::Outcome;
use anyhow::{bail, Context, Result};
use sealbuild_common::api::Reason;
use sealbuild_common::tdx::Quote;
use sealbuild_verifier_core::claims::TdxClaims;
use sealbuild_verifier_core::platform::tdx_reason;
use sealbuild_verifier_core::policy::{parse_tdx_statuses, tdx_problems, TdxRule};
use sealbuild_verifier_core::tdx::{
    verify_quote, QuoteClaims, TcbStatus, TdxCollateral, TdxVerified,
};
use serde_json::json;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct TdxArgs {
    /// The TD quote (binary, version 4 or 5).
    #[arg(long)]
    quote: PathBuf,
    /// dcap-qvl's JSON collateral bundle.
    #[arg(
        long,
        conflicts_with = "collateral_dir",
        required_unless_present = "collateral_dir"
    )]
    collateral: Option<PathBuf>,
    /// A directory of raw PCS responses (tcbinfo.json, qeidentity.json, pckcrl.der, rootcrl.der and issuer-chain PEM files).
    #[arg(long)]
    collateral_dir: Option<PathBuf>,
    /// Verification time, RFC 3339 (default: now).
    #[arg(long)]
    at: Option<String>,
    /// Accepted TCB statuses, comma-separated (default: UpToDate).
    #[arg(long, value_delimiter = ',')]
    accept_tcb_status: Option<Vec<String>>,
    /// An appraisal policy (TOML or JSON) with `platform = "tdx"` reference sets.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Accept TDs whose TD_ATTRIBUTES.DEBUG is set (refused by default).
    #[arg(long)]
    allow_debug: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn read(p: &Path) -> Result<Vec<u8>> {
    std::fs::read(p).with_context(|| format!("reading {}", p.display()))
}

/// Reads the collateral directory described in the module docs (the same
/// layout as a directory of the collateral store, `collateral::tdx`).
pub fn read_collateral_dir(dir: &Path) -> Result<TdxCollateral> {
    sealbuild_verifier::collateral::tdx::read_dir(dir)
        .with_context(|| format!("--collateral-dir {}", dir.display()))
}

/// `--collateral F` (dcap-qvl's JSON bundle) or `--collateral-dir DIR`,
/// when given (`verify tdx` and `verify azure` for TDX).
pub(crate) fn read_collateral_opt(
    file: Option<&Path>,
    dir: Option<&Path>,
) -> Result<Option<TdxCollateral>> {
    match (file, dir) {
        (Some(f), _) => TdxCollateral::from_bundle_json(&read(f)?)
            .with_context(|| format!("--collateral {}", f.display()))
            .map(Some),
        (None, Some(d)) => read_collateral_dir(d).map(Some),
        (None, None) => Ok(None),
    }
}

fn read_collateral(a: &TdxArgs) -> Result<TdxCollateral> {
    match read_collateral_opt(a.collateral.as_deref(), a.collateral_dir.as_deref())? {
        Some(c) => Ok(c),
        None => bail!("give --collateral F or --collateral-dir DIR"),
    }
}

/// The claims `verify tdx` shows (and the seam's, minus the log checks).
fn to_claims(v: TdxVerified) -> Result<TdxClaims, Reason> {
    td_claims(v, || {
        Reason::new(
            "tdx_quote",
            Some("a TDX quote".into()),
            Some("an SGX quote".into()),
            "the quote is an SGX enclave quote, not a TD quote".into(),
        )
    })
}

/// DCAP claims of a verified TD quote, as the seam makes them (without its
/// log checks); `not_td` is the reason for an SGX enclave quote.
pub(crate) fn td_claims(
    v: TdxVerified,
    not_td: impl FnOnce() -> Reason,
) -> Result<TdxClaims, Reason> {
    let QuoteClaims::Td(td) = v.claims else {
        return Err(not_td());
    };
    Ok(TdxClaims {
        version: v.version,
        body_type: v.body_type,
        td: *td,
        fmspc: v.fmspc,
        pce_id: v.pce_id,
        pck_ca: v.pck_ca,
        pck_fingerprint: v.pck_fingerprint,
        tcb: v.tcb,
        collateral_valid_until: v.collateral_valid_until,
        ccel_replayed: false,
        runtime_log_replayed: false,
    })
}

fn claims_json(c: &TdxClaims) -> serde_json::Value {
    let t = &c.td;
    json!({
        "version": c.version,
        "body_type": c.body_type,
        "mrtd": hex::encode(t.mrtd),
        "rtmr0": hex::encode(t.rtmr0),
        "rtmr1": hex::encode(t.rtmr1),
        "rtmr2": hex::encode(t.rtmr2),
        "rtmr3": hex::encode(t.rtmr3),
        "report_data": hex::encode(t.report_data),
        "mr_seam": hex::encode(t.mr_seam),
        "mr_signer_seam": hex::encode(t.mr_signer_seam),
        "td_attributes": hex::encode(t.td_attributes),
        "debug": t.debug,
        "xfam": hex::encode(t.xfam),
        "mr_config_id": hex::encode(t.mr_config_id),
        "mr_owner": hex::encode(t.mr_owner),
        "mr_owner_config": hex::encode(t.mr_owner_config),
        "mr_service_td": t.mr_service_td.map(hex::encode),
        "tee_tcb_svn": hex::encode(t.tee_tcb_svn),
        "tee_tcb_svn2": t.tee_tcb_svn2.map(hex::encode),
        "tcb_status": c.tcb.status.as_str(),
        "advisory_ids": c.tcb.advisory_ids,
        "tcb_date": c.tcb.tcb_date,
        "fmspc": hex::encode(c.fmspc),
        "pck_ca": c.pck_ca.as_str(),
        "pck_fingerprint": hex::encode(c.pck_fingerprint),
        "collateral_valid_until":
            sealbuild_common::intoto::format_rfc3339_utc(c.collateral_valid_until),
    })
}

/// What the policy (or, without one, the hardware rule) says of verified
/// claims: no reasons when a reference set matched (added to `matched`).
fn policy_reasons(
    a: &TdxArgs,
    policy_text: Option<&str>,
    statuses: Option<Vec<TcbStatus>>,
    c: &TdxClaims,
    matched: &mut Vec<String>,
) -> Result<Vec<Reason>> {
    let (Some(p), Some(text)) = (&a.policy, policy_text) else {
        let statuses = statuses.unwrap_or_else(|| vec![TcbStatus::UpToDate]);
        let rule = TdxRule::hardware_only(a.allow_debug, statuses);
        return Ok(tdx_problems("hardware", &rule, c));
    };
    reference_reasons(
        p,
        text,
        "tdx",
        |r| {
            let mut rule = r.rule.tdx()?.clone();
            rule.allow_debug |= a.allow_debug;
            if let Some(s) = &statuses {
                rule.tcb_statuses = s.clone();
            }
            Some(tdx_problems(&r.name, &rule, c))
        },
        matched,
    )
}

fn print_text(claims: Option<&TdxClaims>, matched: &[String], verdict: &str, reasons: &[Reason]) {
    if let Some(c) = claims {
        out!(
            "quote: version {}, TDX (body type {}), FMSPC {}, PCK {} CA",
            c.version,
            c.body_type,
            hex::encode(c.fmspc),
            c.pck_ca.as_str()
        );
        out!(
            "tcb_status: {} (advisories: {})",
            c.tcb.status.as_str(),
            if c.tcb.advisory_ids.is_empty() {
                "none".to_string()
            } else {
                c.tcb.advisory_ids.join(", ")
            }
        );
        out!("mrtd: {}", hex::encode(c.td.mrtd));
        for (i, r) in [c.td.rtmr0, c.td.rtmr1, c.td.rtmr2, c.td.rtmr3]
            .iter()
            .enumerate()
        {
            out!("rtmr{i}: {}", hex::encode(r));
        }
        out!("report_data: {}", hex::encode(c.td.report_data));
        out!(
            "td_attributes: {}  debug: {}",
            hex::encode(c.td.td_attributes),
            c.td.debug
        );
        if !matched.is_empty() {
            out!("matched: {}", matched.join(", "));
        }
    }
    print_verdict(verdict, reasons);
}

pub fn verify_tdx_files(a: TdxArgs) -> Result<Outcome> {
    let quote = read(&a.quote)?;
    let at = verification_time(a.at.as_deref())?;
    let statuses = match &a.accept_tcb_status {
        Some(s) => Some(parse_tdx_statuses(Some(s), "--accept-tcb-status")?),
        None => None,
    };
    let collateral = read_collateral(&a)?;
    let policy_text = read_policy_text(a.policy.as_deref())?;
    if let Err(e) = Quote::parse(&quote) {
        return crate::cli_verify::malformed(a.json, &a.quote, "DCAP quote", &e);
    }
    let mut reasons: Vec<Reason> = Vec::new();
    let mut matched: Vec<String> = Vec::new();
    let claims = match verify_quote(&quote, &collateral, at)
        .map_err(|e| tdx_reason(&e))
        .and_then(to_claims)
    {
        Ok(c) => Some(c),
        Err(r) => {
            reasons.push(r);
            None
        }
    };
    if let Some(c) = &claims {
        reasons.extend(policy_reasons(
            &a,
            policy_text.as_deref(),
            statuses,
            c,
            &mut matched,
        )?);
    }
    let accepted = reasons.is_empty();
    let verdict = if accepted { "accepted" } else { "rejected" };
    if a.json {
        let mut out = claims
            .as_ref()
            .map(claims_json)
            .unwrap_or_else(|| json!({}));
        if let Some(o) = out.as_object_mut() {
            insert_verdict_json(o, claims.is_some(), verdict, &reasons, at)?;
            if a.policy.is_some() {
                o.insert("matched_references".into(), json!(matched));
            }
        }
        out!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print_text(claims.as_ref(), &matched, verdict, &reasons);
    }
    Ok(outcome(accepted))
}
