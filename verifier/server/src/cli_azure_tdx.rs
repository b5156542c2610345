//! `verify azure` for an HCL report of type 4 (Azure TDX confidential VMs):
//! the TD quote of the HCL's TD report, its DCAP collateral, and the vTPM
//! quote by the AK the variable data names.
//!
//! ```text
//! sealbuild-verifier verify azure --hcl-report F --quote-json F --nonce HEX
//!     --td-quote F (--collateral F | --collateral-dir DIR)
//!     [--accept-tcb-status S,...] [--at RFC3339] [--json]
//! ```
//!
//! `--collateral` and `--collateral-dir` are those of `verify tdx` (dcap-qvl's
//! JSON bundle, or a directory of raw Intel PCS responses; nothing is
//! fetched). The verdict is `accepted` when DCAP verifies the TD quote at
//! `--at` with an accepted TCB status (default UpToDate) and a TD that is not
//! DEBUG, and [`check_azure_tdx`] accepts the rest: REPORT_DATA = SHA-256(HCL
//! variable data) ‖ zeros, the HCL's TD report equal to the quoted one, and
//! the vTPM quote signed by `HCLAkPub` with `--nonce` as `extraData` and the
//! 24 sha256 PCRs giving its `pcrDigest`.
//!
//! Without collateral the TD quote cannot be verified: the verdict is
//! `rejected` with the reason `tdx_collateral` ("no DCAP collateral …"),
//! `verified` is false, and the collateral-free checks still run on the
//! unverified quote so that their failures are reported too. A TDX HCL
//! report without `--td-quote` is rejected with `azure_td_quote`; a TD quote
//! that does not parse is `malformed_evidence`.

use crate::cli_azure::{azure_reason, insert_vtpm_json, print_vtpm_lines, vtpm_fields};
use crate::cli_tdx::{read_collateral_opt, td_claims};
use crate::cli_verify::{insert_verdict_json, malformed, outcome, print_verdict};
use crate::Outcome;
use anyhow::{bail, Context, Result};
use sealbuild_common::api::Reason;
use sealbuild_common::tdx::Quote;
use sealbuild_verifier_core::azure::{check_azure_tdx, AzureTdxOffline, HclTdxReport, TpmQuote};
use sealbuild_verifier_core::claims::TdxClaims;
use sealbuild_verifier_core::platform::tdx_reason;
use sealbuild_verifier_core::policy::{parse_tdx_statuses, tdx_problems, TdxRule};
use sealbuild_verifier_core::tdx::pck::unverified_pck_identity;
use sealbuild_verifier_core::tdx::{verify_quote, TcbStatus, TdClaims};
use serde_json::json;
use std::path::Path;

use super::cli_azure::AzureArgs;

fn read(p: &Path) -> Result<Vec<u8>> {
    std::fs::read(p).with_context(|| format!("reading {}", p.display()))
}

/// The reason for a TD quote verified without collateral.
fn missing_collateral(q: &Quote) -> Reason {
    let fmspc = unverified_pck_identity(q)
        .map(|(f, ca)| format!("FMSPC {} ({} CA)", hex::encode(f), ca.as_str()))
        .unwrap_or_else(|_| "the TD quote's FMSPC".into());
    Reason::new(
        "tdx_collateral",
        Some(format!(
            "TCB Info, QE Identity and CRLs for {fmspc} (--collateral F or --collateral-dir DIR)"
        )),
        Some("none".into()),
        format!(
            "no DCAP collateral for {fmspc}: the TD quote cannot be verified without it \
             (collateral missing; fetch it with `collateral fetch tdx` and give --collateral-dir)"
        ),
    )
}

/// The reason for a TD quote that is an SGX enclave quote.
fn sgx_quote() -> Reason {
    Reason::new(
        "azure_td_quote",
        Some("a TDX quote".into()),
        Some("an SGX quote".into()),
        "the TD quote is an SGX enclave quote".into(),
    )
}

/// The HCL report's and the quote's claims (verified only when `verified`).
fn claims_json(
    hcl: &HclTdxReport,
    td: Option<&TdClaims>,
    dcap: Option<&TdxClaims>,
    vtpm: Option<&AzureTdxOffline>,
) -> serde_json::Value {
    let mut out = json!({
        "hcl_version": hcl.version,
        "hcl_report_type": "tdx",
        "hcl_hash_type": hcl.hash_type.alg().name(),
        "hcl_var_data_digest": hex::encode(hcl.var_data_digest()),
        "hcl_var_data_len": hcl.var_data().len(),
    });
    let Some(o) = out.as_object_mut() else {
        return out;
    };
    if let Some(t) = td {
        for (k, v) in [
            ("mrtd", hex::encode(t.mrtd)),
            ("rtmr0", hex::encode(t.rtmr0)),
            ("rtmr1", hex::encode(t.rtmr1)),
            ("rtmr2", hex::encode(t.rtmr2)),
            ("rtmr3", hex::encode(t.rtmr3)),
            ("report_data", hex::encode(t.report_data)),
            ("mr_seam", hex::encode(t.mr_seam)),
            ("td_attributes", hex::encode(t.td_attributes)),
            ("xfam", hex::encode(t.xfam)),
            ("tee_tcb_svn", hex::encode(t.tee_tcb_svn)),
        ] {
            o.insert(k.into(), json!(v));
        }
        o.insert("debug".into(), json!(t.debug));
    }
    if let Some(c) = dcap {
        o.insert("tcb_status".into(), json!(c.tcb.status.as_str()));
        o.insert("advisory_ids".into(), json!(c.tcb.advisory_ids));
        o.insert("fmspc".into(), json!(hex::encode(c.fmspc)));
        o.insert("pck_ca".into(), json!(c.pck_ca.as_str()));
        o.insert(
            "collateral_valid_until".into(),
            json!(sealbuild_common::intoto::format_rfc3339_utc(
                c.collateral_valid_until
            )),
        );
    }
    if let Some(c) = vtpm {
        insert_vtpm_json(o, &vtpm_fields!(c));
    }
    out
}

/// Verifies TDX Azure evidence (module documentation) and prints the
/// verdict.
pub fn verify(
    a: &AzureArgs,
    hcl: &HclTdxReport,
    quote: &TpmQuote,
    nonce: &[u8],
    at: u64,
) -> Result<Outcome> {
    let statuses = match &a.accept_tcb_status {
        Some(s) => parse_tdx_statuses(Some(s), "--accept-tcb-status")?,
        None => vec![TcbStatus::UpToDate],
    };
    let collateral = read_collateral_opt(a.collateral.as_deref(), a.collateral_dir.as_deref())?;
    let mut reasons: Vec<Reason> = Vec::new();
    let Some(td_path) = &a.td_quote else {
        if collateral.is_some() {
            bail!("--collateral and --collateral-dir need --td-quote");
        }
        reasons.push(Reason::new(
            "azure_td_quote",
            Some("the TD quote of the HCL report's TD report (--td-quote F)".into()),
            Some("none".into()),
            "the HCL report carries a TDX report (type 4): its TD quote is needed to verify it"
                .into(),
        ));
        return print(a, hcl, None, None, None, &reasons, at);
    };
    let td_quote = read(td_path)?;
    let parsed = match Quote::parse(&td_quote) {
        Ok(q) => q,
        Err(e) => return malformed(a.json, td_path, "TD quote", &e),
    };
    // DCAP with the collateral, when given.
    let dcap = match &collateral {
        None => {
            reasons.push(missing_collateral(&parsed));
            None
        }
        Some(c) => match verify_quote(&td_quote, c, at)
            .map_err(|e| tdx_reason(&e))
            .and_then(|v| td_claims(v, sgx_quote))
        {
            Ok(c) => Some(c),
            Err(r) => {
                reasons.push(r);
                None
            }
        },
    };
    // The collateral-free checks, on the verified quote's TD report or
    // (to report them anyway) on the parsed one.
    let td: Option<TdClaims> = match &dcap {
        Some(c) => Some(c.td.clone()),
        None => parsed.td_report().map(TdClaims::from),
    };
    let Some(td) = td else {
        reasons.push(sgx_quote());
        return print(a, hcl, None, None, None, &reasons, at);
    };
    let vtpm = match check_azure_tdx(hcl, &td, &quote.input(nonce), None) {
        Ok(v) => Some(v),
        Err(e) => {
            reasons.push(azure_reason(&e));
            None
        }
    };
    if let Some(c) = &dcap {
        let rule = TdxRule::hardware_only(false, statuses);
        reasons.extend(tdx_problems("hardware", &rule, c));
    }
    print(
        a,
        hcl,
        Some(&td),
        dcap.as_ref(),
        vtpm.as_ref(),
        &reasons,
        at,
    )
}

fn print(
    a: &AzureArgs,
    hcl: &HclTdxReport,
    td: Option<&TdClaims>,
    dcap: Option<&TdxClaims>,
    vtpm: Option<&AzureTdxOffline>,
    reasons: &[Reason],
    at: u64,
) -> Result<Outcome> {
    let verified = dcap.is_some() && vtpm.is_some();
    let accepted = verified && reasons.is_empty();
    let label = if accepted { "accepted" } else { "rejected" };
    if a.json {
        let mut out = claims_json(hcl, td, dcap, vtpm);
        if let Some(o) = out.as_object_mut() {
            o.insert("td_quote_verified".into(), json!(dcap.is_some()));
            insert_verdict_json(o, verified, label, reasons, at)?;
        }
        out!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        if let Some(t) = td {
            let how = match dcap {
                Some(c) => format!(
                    "TD quote verified (DCAP), FMSPC {}, TCB {}",
                    hex::encode(c.fmspc),
                    c.tcb.status.as_str()
                ),
                None => "TD quote NOT verified".into(),
            };
            out!("HCL report: TDX TD report; {how}");
            out!("mrtd: {}", hex::encode(t.mrtd));
            out!("report_data: {}", hex::encode(t.report_data));
            out!(
                "td_attributes: {}  debug: {}",
                hex::encode(t.td_attributes),
                t.debug
            );
        }
        if let Some(c) = vtpm {
            print_vtpm_lines(&c.ak, &c.nonce);
        }
        print_verdict(label, reasons);
    }
    Ok(outcome(accepted))
}
