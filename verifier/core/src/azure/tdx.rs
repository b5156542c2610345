//! Azure TDX confidential VMs: the HCL report's TD report, its TD quote and
//! the vTPM quote.
//!
//! On an Azure TDX confidential VM the paravisor (the L1 VMM of the TD)
//! calls `TDG.MR.REPORT` with REPORTDATA = H(runtime claims) and stores the
//! resulting TDREPORT_STRUCT in the HCL report (report type 4, [`super::hcl_tdx`]).
//! The TD report's MAC can only be checked on the same CPU, so the guest
//! sends it to the host's quoting service (Azure IMDS `POST /acc/tdquote`),
//! which returns a DCAP TD quote of it. [`verify_azure_tdx`] checks, in this
//! order:
//!
//! 1. the HCL report parses as a TDX HCL report;
//! 2. DCAP: the TD quote's signatures, PCK chain to the Intel SGX Root CA,
//!    CRLs, TCB Info and QE Identity at the verification time
//!    ([`crate::tdx::verify_quote_with_root`]; the collateral is handed in,
//!    nothing is fetched); an SGX quote is refused;
//! 3. the quote's REPORT_DATA = H(variable data) ‖ zeros, H the HCL hash
//!    type — the binding Azure makes (trustee's `az-tdx-vtpm` verifier checks
//!    the first 32 bytes against SHA-256 of the variable data, test-data
//!    MANIFEST §2.10);
//! 4. the HCL's TD report is consistent: TEE_TCB_INFO_HASH and TEE_INFO_HASH
//!    are the SHA-384 of its TEE_TCB_INFO and TDINFO_STRUCT, and every field
//!    the quote body carries (TEE_TCB_SVN, MRSEAM, MRSIGNERSEAM,
//!    SEAMATTRIBUTES, TDATTRIBUTES, XFAM, MRTD, MRCONFIGID, MROWNER,
//!    MROWNERCONFIG, RTMR0–3, REPORTDATA; for TDX 1.5 quotes TEE_TCB_SVN2 and
//!    MRSERVICETD) equals the verified quote's — so the HCL report shown is
//!    the one that was quoted;
//! 5. the variable data names `HCLAkPub`, which signed the vTPM quote, whose
//!    nonce, PCR selection and pcrDigest are then checked exactly as for
//!    Azure SEV-SNP (steps 5–8 of [`super`]).
//!
//! Steps 3–5 need no collateral: [`check_azure_tdx`] runs them on the TD
//! report of a quote, verified or merely parsed, so that they can be tested
//! and reported when the collateral of a quote is not at hand. Only
//! [`verify_azure_tdx`] makes the evidence trustworthy.
//!
//! Azure measures the boot into the vTPM, not into the RTMRs (all zero in
//! the real vector); MRTD identifies the paravisor's firmware image. The TCB
//! status is returned, not judged.

use sealbuild_common::tdx::Quote;

use super::hcl_tdx::HclTdxReport;
use super::vardata::{RsaJwkKey, RuntimeClaims};
use super::{
    check_user_data, check_var_data_binding, check_vtpm_quote, AzureError, VtpmQuoteInput,
    PCR_COUNT,
};
use crate::quote::CheckedQuote;
use crate::tdx::{verify_quote_with_root, IntelRoot, QuoteClaims, TdClaims, TdxVerified};
use crate::tdx::{TdxCollateral, TdxError};

/// Everything [`verify_azure_tdx`] needs besides collateral; bytes as
/// received.
#[derive(Debug, Clone, Copy)]
pub struct AzureTdxInput<'a> {
    /// The HCL report (vTPM NV index 0x01400001), padding included.
    pub hcl_report: &'a [u8],
    /// The TD quote of the HCL report's TD report (trailing zero bytes
    /// allowed).
    pub td_quote: &'a [u8],
    /// The vTPM quote and the nonce it must carry.
    pub vtpm: VtpmQuoteInput<'a>,
    /// When set, `user-data` must equal this value zero-padded.
    pub expected_user_data: Option<&'a [u8]>,
}

/// What the collateral-free checks ([`check_azure_tdx`]) establish, given
/// that the TD report they were run on is a verified quote's.
#[derive(Debug, Clone, PartialEq)]
pub struct AzureTdxOffline {
    /// The HCL report (its variable data is bound by REPORT_DATA).
    pub hcl: HclTdxReport,
    /// The variable data, parsed.
    pub runtime: RuntimeClaims,
    /// `user-data`, decoded.
    pub user_data: Option<Vec<u8>>,
    /// The vTPM attestation key that signed the quote.
    pub ak: RsaJwkKey,
    /// The vTPM endorsement key, when the variable data names one.
    pub ek: Option<RsaJwkKey>,
    /// The quote's `extraData` (equal to the expected nonce).
    pub nonce: Vec<u8>,
    /// The sha256 PCRs 0–23, all covered by the quote.
    pub pcrs: [[u8; 32]; PCR_COUNT],
    /// The quote's selection, clock and firmware version.
    pub quote: CheckedQuote,
}

/// What verified Azure TDX evidence establishes.
#[derive(Debug, Clone, PartialEq)]
pub struct AzureTdxClaims {
    /// The DCAP verification of the TD quote (TCB status included).
    pub dcap: TdxVerified,
    /// The quote's TD report fields.
    pub td: TdClaims,
    /// The HCL, AK and vTPM side.
    pub vtpm: AzureTdxOffline,
}

fn hex_field(field: &'static str, quote: &[u8], hcl: &[u8]) -> Result<(), AzureError> {
    if quote == hcl {
        Ok(())
    } else {
        Err(AzureError::TdReportMismatch {
            field,
            quote: hex::encode(quote),
            hcl: hex::encode(hcl),
        })
    }
}

/// Step 4: the HCL TD report's own hashes, and its fields against the
/// quote's TD report `quote`.
pub fn check_td_report(hcl: &HclTdxReport, quote: &TdClaims) -> Result<(), AzureError> {
    let td = &hcl.td_report;
    for (field, covers, reported, computed) in [
        (
            "TEE_TCB_INFO_HASH",
            "TEE_TCB_INFO",
            &td.tee_tcb_info_hash,
            td.computed_tee_tcb_info_hash(),
        ),
        (
            "TEE_INFO_HASH",
            "TDINFO_STRUCT",
            &td.tee_info_hash,
            td.computed_tee_info_hash(),
        ),
    ] {
        if reported.as_slice() != computed.as_slice() {
            return Err(AzureError::TdReportHash {
                field,
                covers,
                computed: hex::encode(computed),
                reported: hex::encode(reported),
            });
        }
    }
    let tcb = &td.tee_tcb_info;
    let info = &td.td_info;
    let [r0, r1, r2, r3] = &info.rtmr;
    let pairs: [(&'static str, &[u8], &[u8]); 15] = [
        ("TEE_TCB_SVN", &quote.tee_tcb_svn, &tcb.tee_tcb_svn),
        ("MRSEAM", &quote.mr_seam, &tcb.mr_seam),
        ("MRSIGNERSEAM", &quote.mr_signer_seam, &tcb.mr_signer_seam),
        ("SEAMATTRIBUTES", &quote.seam_attributes, &tcb.attributes),
        ("TDATTRIBUTES", &quote.td_attributes, &info.attributes),
        ("XFAM", &quote.xfam, &info.xfam),
        ("MRTD", &quote.mrtd, &info.mr_td),
        ("MRCONFIGID", &quote.mr_config_id, &info.mr_config_id),
        ("MROWNER", &quote.mr_owner, &info.mr_owner),
        (
            "MROWNERCONFIG",
            &quote.mr_owner_config,
            &info.mr_owner_config,
        ),
        ("RTMR0", &quote.rtmr0, r0),
        ("RTMR1", &quote.rtmr1, r1),
        ("RTMR2", &quote.rtmr2, r2),
        ("RTMR3", &quote.rtmr3, r3),
        ("REPORTDATA", &quote.report_data, &td.report_data),
    ];
    for (field, q, h) in pairs {
        hex_field(field, q, h)?;
    }
    if let Some(svn2) = &quote.tee_tcb_svn2 {
        hex_field("TEE_TCB_SVN2", svn2, &tcb.tee_tcb_svn2)?;
    }
    if let Some(servtd) = &quote.mr_service_td {
        hex_field("MRSERVICETD", servtd, &info.servtd_hash)?;
    }
    Ok(())
}

/// Steps 3–5 on the TD report `quote_td` of the TD quote: binding, HCL TD
/// report consistency, AK and vTPM quote. Trustworthy only when `quote_td`
/// comes from a quote that DCAP verification accepted
/// ([`verify_azure_tdx`]).
pub fn check_azure_tdx(
    hcl: &HclTdxReport,
    quote_td: &TdClaims,
    vtpm: &VtpmQuoteInput<'_>,
    expected_user_data: Option<&[u8]>,
) -> Result<AzureTdxOffline, AzureError> {
    check_var_data_binding(hcl.hash_type, hcl.var_data(), &quote_td.report_data)?;
    check_td_report(hcl, quote_td)?;
    let runtime = hcl.runtime_claims()?;
    let ak = runtime.ak_pub()?;
    let ek = runtime.ek_pub()?;
    let user_data = runtime.user_data_bytes()?;
    let (nonce, quote) = check_vtpm_quote(vtpm, &ak)?;
    if let Some(expected) = expected_user_data {
        check_user_data(expected, user_data.as_deref())?;
    }
    Ok(AzureTdxOffline {
        hcl: hcl.clone(),
        runtime,
        user_data,
        ak,
        ek,
        nonce,
        pcrs: *vtpm.pcrs,
        quote,
    })
}

/// The TD report of a parsed (not verified) TD quote; an SGX quote is
/// [`AzureError::NotTdQuote`].
pub fn unverified_td_claims(td_quote: &[u8]) -> Result<TdClaims, AzureError> {
    let q = Quote::parse(td_quote).map_err(|e| AzureError::Tdx(TdxError::Format(e)))?;
    q.td_report()
        .map(TdClaims::from)
        .ok_or(AzureError::NotTdQuote)
}

/// Verifies Azure TDX confidential-VM evidence end to end (module
/// documentation, steps 1–5) at `now` (Unix seconds) with `collateral`
/// for the TD quote's FMSPC, trusting `root`.
pub fn verify_azure_tdx(
    input: &AzureTdxInput<'_>,
    collateral: &TdxCollateral,
    root: &IntelRoot,
    now: u64,
) -> Result<AzureTdxClaims, AzureError> {
    let hcl = HclTdxReport::parse(input.hcl_report)?;
    let dcap =
        verify_quote_with_root(input.td_quote, collateral, root, now).map_err(AzureError::Tdx)?;
    let QuoteClaims::Td(td) = &dcap.claims else {
        return Err(AzureError::NotTdQuote);
    };
    let td = td.as_ref().clone();
    let vtpm = check_azure_tdx(&hcl, &td, &input.vtpm, input.expected_user_data)?;
    Ok(AzureTdxClaims { dcap, td, vtpm })
}
