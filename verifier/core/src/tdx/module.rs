//! The TDX module and quoting-enclave identity checks of a quote against
//! TCB Info V3 and Enclave Identity V2 (Intel PCS API v4 JSON; the rules of
//! Intel's Quote Verification Library, "TDX module check" and "enclave
//! report" checks — see [`super::tcbinfo`]).
//!
//! * TDX module: when TEE_TCB_SVN[1] (the module's major version) is zero
//!   the module is described by `tdxModule`; otherwise by the
//!   `tdxModuleIdentities` entry `TDX_<major as two upper-case hex digits>`,
//!   whose first level with `isvsvn` ≤ TEE_TCB_SVN[0] gives its status.
//!   MRSIGNERSEAM must equal the identity's `mrsigner`, and SEAMATTRIBUTES
//!   masked with `attributesMask` must equal `attributes` (masked).
//! * QE: the identity's `id` must be `TD_QE` for a TDX quote and `QE` for
//!   an SGX quote; MRSIGNER and ISVPRODID equal, MISCSELECT and ATTRIBUTES
//!   equal under their masks; the first level with `isvsvn` ≤ ISVSVN gives
//!   the QE's status.

use sealbuild_common::tdx::{Quote, TdReport, TeeType};

use super::tcbinfo::{hex_field, match_isv, MatchedLevel, QeIdentity, TcbInfo};
use super::{mismatch, TdxError};

fn masked_eq(value: &[u8], want: &[u8], mask: &[u8]) -> bool {
    value.len() == want.len()
        && value.len() == mask.len()
        && value
            .iter()
            .zip(want)
            .zip(mask)
            .all(|((v, w), m)| v & m == w & m)
}

/// Checks the TDX module of `td` against `info`; returns the module's
/// matched level when it is described by a module identity.
pub fn check_tdx_module(info: &TcbInfo, td: &TdReport) -> Result<Option<MatchedLevel>, TdxError> {
    const DOC: &str = "TCB Info";
    let major = td.tee_tcb_svn.get(1).copied().unwrap_or(0);
    let isv_svn = td.tee_tcb_svn.first().copied().unwrap_or(0);
    let (signer, attrs, mask, level) = if major == 0 {
        let m = info.tdx_module.as_ref().ok_or(TdxError::Collateral {
            what: DOC,
            reason: "TDX TCB Info without tdxModule".into(),
        })?;
        (&m.mrsigner, &m.attributes, &m.attributes_mask, None)
    } else {
        let id = format!("TDX_{major:02X}");
        let identities = info.tdx_module_identities.as_deref().unwrap_or_default();
        let m = identities
            .iter()
            .find(|m| m.id.eq_ignore_ascii_case(&id))
            .ok_or_else(|| {
                mismatch(
                    "TDX module identity",
                    format!("an entry {id} (TEE_TCB_SVN[1] = {major})"),
                    format!(
                        "{:?}",
                        identities.iter().map(|m| m.id.as_str()).collect::<Vec<_>>()
                    ),
                )
            })?;
        let level = match_isv(DOC, "TDX module", &m.tcb_levels, u16::from(isv_svn))?;
        (&m.mrsigner, &m.attributes, &m.attributes_mask, Some(level))
    };
    let signer: [u8; 48] = hex_field(DOC, "TDX module mrsigner", signer)?;
    if signer != td.mr_signer_seam {
        return Err(mismatch(
            "MRSIGNERSEAM",
            hex::encode(signer),
            hex::encode(td.mr_signer_seam),
        ));
    }
    let attrs: [u8; 8] = hex_field(DOC, "TDX module attributes", attrs)?;
    let mask: [u8; 8] = hex_field(DOC, "TDX module attributesMask", mask)?;
    if !masked_eq(&td.seam_attributes, &attrs, &mask) {
        return Err(mismatch(
            "SEAMATTRIBUTES",
            format!("{} under mask {}", hex::encode(attrs), hex::encode(mask)),
            hex::encode(td.seam_attributes),
        ));
    }
    Ok(level)
}

/// Checks the QE report of `quote` against the QE Identity.
pub fn check_qe_identity(id: &QeIdentity, quote: &Quote) -> Result<MatchedLevel, TdxError> {
    const DOC: &str = "QE Identity";
    let want = match quote.header.tee_type {
        TeeType::Tdx => "TD_QE",
        TeeType::Sgx => "QE",
    };
    if id.id != want || id.version != 2 {
        return Err(mismatch(
            "QE Identity id/version",
            format!("{want} version 2"),
            format!("{} version {}", id.id, id.version),
        ));
    }
    let qe = &quote.signature_data.qe.qe_report;
    let mrsigner: [u8; 32] = hex_field(DOC, "mrsigner", &id.mrsigner)?;
    if mrsigner != qe.mr_signer {
        return Err(mismatch(
            "QE MRSIGNER",
            hex::encode(mrsigner),
            hex::encode(qe.mr_signer),
        ));
    }
    if id.isvprodid != qe.isv_prod_id {
        return Err(mismatch("QE ISVPRODID", id.isvprodid, qe.isv_prod_id));
    }
    let misc: [u8; 4] = hex_field(DOC, "miscselect", &id.miscselect)?;
    let misc_mask: [u8; 4] = hex_field(DOC, "miscselectMask", &id.miscselect_mask)?;
    // MISCSELECT is a little-endian u32 in the report, big-endian hex here.
    if !masked_eq(&qe.misc_select.to_be_bytes(), &misc, &misc_mask) {
        return Err(mismatch(
            "QE MISCSELECT",
            format!(
                "{} under mask {}",
                hex::encode(misc),
                hex::encode(misc_mask)
            ),
            format!("{:08x}", qe.misc_select),
        ));
    }
    let attrs: [u8; 16] = hex_field(DOC, "attributes", &id.attributes)?;
    let mask: [u8; 16] = hex_field(DOC, "attributesMask", &id.attributes_mask)?;
    if !masked_eq(&qe.attributes, &attrs, &mask) {
        return Err(mismatch(
            "QE ATTRIBUTES",
            format!("{} under mask {}", hex::encode(attrs), hex::encode(mask)),
            hex::encode(qe.attributes),
        ));
    }
    match_isv(DOC, "QE Identity (QE ISVSVN)", &id.tcb_levels, qe.isv_svn)
}
