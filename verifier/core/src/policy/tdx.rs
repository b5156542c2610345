//! Intel TDX reference sets: the `[reference.tdx]` table of a policy.
//!
//! ```toml
//! [[reference]]
//! name = "build-td"
//! platform = "tdx"
//!
//! [reference.tdx]
//! mrtd = ["91eb2b44…"]                 # acceptable MRTDs (48 bytes, hex);
//!                                      # required unless any_mrtd = true
//! tcb_statuses = ["UpToDate"]          # accepted DCAP TCB statuses (default
//!                                      # UpToDate only)
//! allow_debug = false                  # TD_ATTRIBUTES.DEBUG (default false)
//! xfam = ["e702060000000000"]          # 8 bytes each (optional)
//! rtmr0 = ["…"]  rtmr1 = ["…"]  rtmr2 = ["…"]  rtmr3 = ["…"]  # 48 bytes each
//! mr_seam = ["…"]                      # TDX module measurement (48 bytes)
//! mr_config_id = ["…"]  mr_owner = ["…"]  mr_owner_config = ["…"]  # 48 bytes
//! mr_service_td = ["…"]                # TDX 1.5 quotes (48 bytes); a TDX 1.0
//!                                      # quote has none and does not match
//! ```
//!
//! Every optional list, when present, must hold the quoted value; an absent
//! or empty list accepts any value. Field meanings: "Intel® TDX DCAP Quoting
//! Library API", appendix "Quote Format", TD Quote Body (TDX 1.0 and 1.5);
//! TD_ATTRIBUTES bit 0 is DEBUG (Intel TDX Module Base Architecture
//! Specification, "TD Attributes"). TCB statuses are those of Intel's PCS
//! TCB Info V3 (`UpToDate`, `SWHardeningNeeded`, `ConfigurationNeeded`,
//! `ConfigurationAndSWHardeningNeeded`, `OutOfDate`,
//! `OutOfDateConfigurationNeeded`, `Revoked`).

use super::{invalid, PolicyError};
use crate::claims::TdxClaims;
use crate::tdx::{TcbStatus, DEFAULT_ACCEPTED};
use sealbuild_common::api::Reason;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TdxRuleDoc {
    #[serde(default)]
    mrtd: Vec<String>,
    #[serde(default)]
    any_mrtd: bool,
    #[serde(default)]
    tcb_statuses: Option<Vec<String>>,
    #[serde(default)]
    allow_debug: bool,
    #[serde(default)]
    xfam: Vec<String>,
    #[serde(default)]
    rtmr0: Vec<String>,
    #[serde(default)]
    rtmr1: Vec<String>,
    #[serde(default)]
    rtmr2: Vec<String>,
    #[serde(default)]
    rtmr3: Vec<String>,
    #[serde(default)]
    mr_seam: Vec<String>,
    #[serde(default)]
    mr_config_id: Vec<String>,
    #[serde(default)]
    mr_owner: Vec<String>,
    #[serde(default)]
    mr_owner_config: Vec<String>,
    #[serde(default)]
    mr_service_td: Vec<String>,
}

/// A checked `[reference.tdx]` table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TdxRule {
    /// Acceptable MRTDs; empty only with `any_mrtd`.
    pub mrtd: BTreeSet<[u8; 48]>,
    /// Explicitly accept any MRTD.
    pub any_mrtd: bool,
    /// Accepted TCB statuses (never empty).
    pub tcb_statuses: Vec<TcbStatus>,
    /// Accept TDs with TD_ATTRIBUTES.DEBUG set.
    pub allow_debug: bool,
    /// Acceptable XFAMs (empty = any).
    pub xfam: BTreeSet<[u8; 8]>,
    /// Acceptable RTMR0–3 values (each empty = any).
    pub rtmr: [BTreeSet<[u8; 48]>; 4],
    /// Acceptable MRSEAMs (empty = any).
    pub mr_seam: BTreeSet<[u8; 48]>,
    /// Acceptable MRCONFIGIDs (empty = any).
    pub mr_config_id: BTreeSet<[u8; 48]>,
    /// Acceptable MROWNERs (empty = any).
    pub mr_owner: BTreeSet<[u8; 48]>,
    /// Acceptable MROWNERCONFIGs (empty = any).
    pub mr_owner_config: BTreeSet<[u8; 48]>,
    /// Acceptable MRSERVICETDs (empty = any; TDX 1.5 quotes only).
    pub mr_service_td: BTreeSet<[u8; 48]>,
}

impl TdxRule {
    /// The rule `verify tdx` applies without a policy: genuine hardware
    /// with an accepted TCB status, any measurement, DEBUG refused unless
    /// `allow_debug`.
    pub fn hardware_only(allow_debug: bool, tcb_statuses: Vec<TcbStatus>) -> Self {
        Self {
            any_mrtd: true,
            tcb_statuses,
            allow_debug,
            ..Self::default()
        }
    }
}

fn hex_set<const N: usize>(
    v: &[String],
    loc: &str,
    what: &str,
) -> Result<BTreeSet<[u8; N]>, PolicyError> {
    v.iter()
        .map(|s| {
            let s = s.trim_start_matches("0x");
            let bytes = hex::decode(s)
                .map_err(|e| invalid(loc, format!("{what} '{s}' is not hex: {e}")))?;
            <[u8; N]>::try_from(bytes.as_slice()).map_err(|_| {
                invalid(
                    loc,
                    format!("{what} must be {N} bytes, '{s}' has {}", bytes.len()),
                )
            })
        })
        .collect()
}

/// Parses the accepted TCB status names (default: UpToDate only).
pub fn parse_statuses(names: Option<&[String]>, loc: &str) -> Result<Vec<TcbStatus>, PolicyError> {
    let Some(names) = names else {
        return Ok(DEFAULT_ACCEPTED.to_vec());
    };
    if names.is_empty() {
        return Err(invalid(
            loc,
            "tcb_statuses is empty: it would refuse every quote",
        ));
    }
    names
        .iter()
        .map(|n| {
            TcbStatus::from_name(n.trim()).ok_or_else(|| {
                invalid(
                    loc,
                    format!(
                        "TCB status '{n}' is not one of UpToDate, SWHardeningNeeded, \
                         ConfigurationNeeded, ConfigurationAndSWHardeningNeeded, OutOfDate, \
                         OutOfDateConfigurationNeeded, Revoked"
                    ),
                )
            })
        })
        .collect()
}

pub(super) fn parse_rule(d: &TdxRuleDoc, loc: &str) -> Result<TdxRule, PolicyError> {
    let loc = format!("{loc} tdx");
    let loc = loc.as_str();
    let mrtd = hex_set::<48>(&d.mrtd, loc, "mrtd")?;
    if mrtd.is_empty() && !d.any_mrtd {
        return Err(invalid(
            loc,
            "lists no mrtd; give the expected MRTDs or set any_mrtd = true explicitly",
        ));
    }
    Ok(TdxRule {
        mrtd,
        any_mrtd: d.any_mrtd,
        tcb_statuses: parse_statuses(d.tcb_statuses.as_deref(), loc)?,
        allow_debug: d.allow_debug,
        xfam: hex_set::<8>(&d.xfam, loc, "xfam")?,
        rtmr: [
            hex_set::<48>(&d.rtmr0, loc, "rtmr0")?,
            hex_set::<48>(&d.rtmr1, loc, "rtmr1")?,
            hex_set::<48>(&d.rtmr2, loc, "rtmr2")?,
            hex_set::<48>(&d.rtmr3, loc, "rtmr3")?,
        ],
        mr_seam: hex_set::<48>(&d.mr_seam, loc, "mr_seam")?,
        mr_config_id: hex_set::<48>(&d.mr_config_id, loc, "mr_config_id")?,
        mr_owner: hex_set::<48>(&d.mr_owner, loc, "mr_owner")?,
        mr_owner_config: hex_set::<48>(&d.mr_owner_config, loc, "mr_owner_config")?,
        mr_service_td: hex_set::<48>(&d.mr_service_td, loc, "mr_service_td")?,
    })
}

fn one_of<const N: usize>(set: &BTreeSet<[u8; N]>) -> String {
    let v: Vec<String> = set.iter().map(hex::encode).collect();
    if v.len() == 1 {
        v.join("")
    } else {
        format!("one of [{}]", v.join(", "))
    }
}

/// Reasons why TDX claims do not match `rule` (empty = match). `name` is
/// the reference set's name, for messages.
pub fn tdx_problems(name: &str, rule: &TdxRule, c: &TdxClaims) -> Vec<Reason> {
    let mut out = Vec::new();
    let mut fail = |check: &str, expected: String, observed: String, what: &str| {
        out.push(Reason::new(
            check,
            Some(expected.clone()),
            Some(observed.clone()),
            format!("reference '{name}': {what}: expected {expected}, got {observed}"),
        ));
    };
    if !rule.tcb_statuses.contains(&c.tcb.status) {
        let accepted: Vec<&str> = rule.tcb_statuses.iter().map(|s| s.as_str()).collect();
        let advisories = if c.tcb.advisory_ids.is_empty() {
            "none".to_string()
        } else {
            c.tcb.advisory_ids.join(", ")
        };
        fail(
            "tdx_tcb",
            accepted.join(", "),
            c.tcb.status.as_str().into(),
            &format!("TCB status (advisories: {advisories})"),
        );
    }
    let t = &c.td;
    if t.debug && !rule.allow_debug {
        fail(
            "tdx_debug",
            "DEBUG = 0".into(),
            format!("DEBUG = 1 (TD_ATTRIBUTES {})", hex::encode(t.td_attributes)),
            "TD_ATTRIBUTES: the TD is debuggable (the host can read and change its memory)",
        );
    }
    if !rule.any_mrtd && !rule.mrtd.contains(&t.mrtd) {
        fail("tdx_mrtd", one_of(&rule.mrtd), hex::encode(t.mrtd), "MRTD");
    }
    if !rule.xfam.is_empty() && !rule.xfam.contains(&t.xfam) {
        fail("tdx_xfam", one_of(&rule.xfam), hex::encode(t.xfam), "XFAM");
    }
    let rtmrs = [t.rtmr0, t.rtmr1, t.rtmr2, t.rtmr3];
    for (i, (set, value)) in rule.rtmr.iter().zip(rtmrs).enumerate() {
        if !set.is_empty() && !set.contains(&value) {
            fail(
                "tdx_rtmr",
                one_of(set),
                hex::encode(value),
                &format!("RTMR{i}"),
            );
        }
    }
    let sets = [
        ("tdx_mr_seam", "MRSEAM", &rule.mr_seam, t.mr_seam),
        (
            "tdx_mr_config_id",
            "MRCONFIGID",
            &rule.mr_config_id,
            t.mr_config_id,
        ),
        ("tdx_mr_owner", "MROWNER", &rule.mr_owner, t.mr_owner),
        (
            "tdx_mr_owner_config",
            "MROWNERCONFIG",
            &rule.mr_owner_config,
            t.mr_owner_config,
        ),
    ];
    for (check, what, set, value) in sets {
        if !set.is_empty() && !set.contains(&value) {
            fail(check, one_of(set), hex::encode(value), what);
        }
    }
    if !rule.mr_service_td.is_empty() {
        match t.mr_service_td {
            Some(v) if rule.mr_service_td.contains(&v) => {}
            Some(v) => fail(
                "tdx_mr_service_td",
                one_of(&rule.mr_service_td),
                hex::encode(v),
                "MRSERVICETD",
            ),
            None => fail(
                "tdx_mr_service_td",
                one_of(&rule.mr_service_td),
                "none (a TDX 1.0 quote)".into(),
                "MRSERVICETD",
            ),
        }
    }
    out
}
