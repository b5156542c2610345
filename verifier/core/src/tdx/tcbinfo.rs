//! TCB Info (version 3) and Enclave Identity (version 2) as Intel's
//! Provisioning Certification Service serves them, and TCB level matching.
//!
//! * Intel "Intel® SGX and Intel® TDX Provisioning Certification Service
//!   (PCS) API", version 4: "Get TCB Info" (`/sgx|tdx/certification/v4/tcb`,
//!   TCB Info V3 JSON: `id` SGX|TDX, `version` 3, `issueDate`, `nextUpdate`,
//!   `fmspc`, `pceId`, `tcbType`, `tcbEvaluationDataNumber`, `tdxModule`,
//!   `tdxModuleIdentities`, `tcbLevels[].tcb.{sgxtcbcomponents,pcesvn,
//!   tdxtcbcomponents}`, `tcbDate`, `tcbStatus`, `advisoryIDs`) and "Get
//!   Quoting Enclave Identity" / "Get TD Quoting Enclave Identity" (Enclave
//!   Identity V2 JSON: `id` QE|QVE|TD_QE, `version` 2, `miscselect`,
//!   `miscselectMask`, `attributes`, `attributesMask`, `mrsigner`,
//!   `isvprodid`, `tcbLevels[].tcb.isvsvn`).
//! * The matching rules of Intel's Quote Verification Library (the
//!   reference "SGX-TDX-DCAP-QuoteVerificationLibrary", its "TCB level
//!   check", "TDX module check" and "enclave report" checks): a platform
//!   level matches when every SGX component of the PCK certificate's TCB and
//!   its PCESVN are ≥ the level's; for TDX additionally every TEE_TCB_SVN
//!   byte ≥ the level's `tdxtcbcomponents` — from byte 2 on when byte 1 (the
//!   TDX module major version) is non-zero, the module then being appraised
//!   by the `tdxModuleIdentities` entry `TDX_<major, two hex digits>`, whose
//!   first level with `isvsvn` ≤ TEE_TCB_SVN[0] gives the module's status.
//!   The QE's status is the first Enclave Identity level with `isvsvn` ≤ the
//!   QE report's ISVSVN. An OutOfDate or Revoked module or QE status lowers
//!   the platform status (UpToDate/SWHardeningNeeded → OutOfDate,
//!   Configuration[AndSWHardening]Needed → OutOfDateConfigurationNeeded,
//!   Revoked → Revoked). Levels are taken in the order served (Intel serves
//!   them from the highest down); no matching level is a rejection.

use serde::Deserialize;

use super::TdxError;

/// The TCB status of a platform, TDX module or quoting enclave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TcbStatus {
    /// The platform is patched to the latest TCB.
    UpToDate,
    /// Up to date, but software hardening is needed.
    SWHardeningNeeded,
    /// Up to date, but a configuration change is needed (e.g. in the BIOS).
    ConfigurationNeeded,
    /// Both of the above.
    ConfigurationAndSWHardeningNeeded,
    /// The TCB is out of date.
    OutOfDate,
    /// Out of date and a configuration change is needed.
    OutOfDateConfigurationNeeded,
    /// The TCB level has been revoked.
    Revoked,
}

impl TcbStatus {
    /// Every status, as Intel names them.
    pub const ALL: [Self; 7] = [
        Self::UpToDate,
        Self::SWHardeningNeeded,
        Self::ConfigurationNeeded,
        Self::ConfigurationAndSWHardeningNeeded,
        Self::OutOfDate,
        Self::OutOfDateConfigurationNeeded,
        Self::Revoked,
    ];

    /// Intel's name (`tcbStatus` value).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UpToDate => "UpToDate",
            Self::SWHardeningNeeded => "SWHardeningNeeded",
            Self::ConfigurationNeeded => "ConfigurationNeeded",
            Self::ConfigurationAndSWHardeningNeeded => "ConfigurationAndSWHardeningNeeded",
            Self::OutOfDate => "OutOfDate",
            Self::OutOfDateConfigurationNeeded => "OutOfDateConfigurationNeeded",
            Self::Revoked => "Revoked",
        }
    }

    /// The status named `s` (Intel's spelling, exactly).
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Lowers `self` (a platform status) by a module's or QE's status.
    pub fn converge(self, other: Self) -> Self {
        match other {
            Self::Revoked => Self::Revoked,
            Self::OutOfDate | Self::OutOfDateConfigurationNeeded => match self {
                Self::UpToDate | Self::SWHardeningNeeded => Self::OutOfDate,
                Self::ConfigurationNeeded | Self::ConfigurationAndSWHardeningNeeded => {
                    Self::OutOfDateConfigurationNeeded
                }
                s => s,
            },
            _ => self,
        }
    }
}

impl std::fmt::Display for TcbStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `{ "svn": n, … }` TCB component.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TcbComponent {
    /// The component's SVN.
    pub svn: u8,
}

/// The `tcb` object of a platform TCB level.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PlatformTcb {
    /// The 16 SGX TCB components.
    pub sgxtcbcomponents: Vec<TcbComponent>,
    /// PCESVN.
    pub pcesvn: u16,
    /// The 16 TDX TCB components (TDX TCB Info only).
    #[serde(default)]
    pub tdxtcbcomponents: Option<Vec<TcbComponent>>,
}

/// One platform TCB level.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TcbLevel {
    /// The level's component SVNs.
    pub tcb: PlatformTcb,
    /// tcbDate.
    pub tcb_date: String,
    /// tcbStatus, Intel's name.
    pub tcb_status: String,
    /// advisoryIDs.
    #[serde(default, rename = "advisoryIDs")]
    pub advisory_ids: Vec<String>,
}

/// `{ "isvsvn": n }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IsvSvn {
    /// The ISV SVN.
    pub isvsvn: u16,
}

/// One TDX module or QE identity level.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IsvTcbLevel {
    /// The level's ISV SVN.
    pub tcb: IsvSvn,
    /// tcbDate.
    pub tcb_date: String,
    /// tcbStatus.
    pub tcb_status: String,
    /// advisoryIDs.
    #[serde(default, rename = "advisoryIDs")]
    pub advisory_ids: Vec<String>,
}

/// `tdxModule`: the signer and attributes of TDX modules without a major version.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TdxModule {
    /// mrsigner, hex (48 bytes).
    pub mrsigner: String,
    /// attributes, hex (8 bytes).
    pub attributes: String,
    /// attributesMask, hex (8 bytes).
    pub attributes_mask: String,
}

/// One entry of `tdxModuleIdentities`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TdxModuleIdentity {
    /// `TDX_<major version, hex>`.
    pub id: String,
    /// mrsigner, hex.
    pub mrsigner: String,
    /// attributes, hex.
    pub attributes: String,
    /// attributesMask, hex.
    pub attributes_mask: String,
    /// The module's levels.
    pub tcb_levels: Vec<IsvTcbLevel>,
}

/// TCB Info V3 (the signed `tcbInfo` object).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TcbInfo {
    /// "SGX" or "TDX".
    pub id: String,
    /// 3.
    pub version: u32,
    /// issueDate.
    pub issue_date: String,
    /// nextUpdate.
    pub next_update: String,
    /// FMSPC, hex (6 bytes).
    pub fmspc: String,
    /// PCE ID, hex (2 bytes).
    pub pce_id: String,
    /// tcbType (0).
    pub tcb_type: u32,
    /// tcbEvaluationDataNumber.
    pub tcb_evaluation_data_number: u32,
    /// tdxModule (TDX).
    #[serde(default)]
    pub tdx_module: Option<TdxModule>,
    /// tdxModuleIdentities (TDX).
    #[serde(default)]
    pub tdx_module_identities: Option<Vec<TdxModuleIdentity>>,
    /// The platform levels, highest first.
    pub tcb_levels: Vec<TcbLevel>,
}

/// Enclave Identity V2 (the signed `enclaveIdentity` object).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QeIdentity {
    /// "QE", "QVE" or "TD_QE".
    pub id: String,
    /// 2.
    pub version: u32,
    /// issueDate.
    pub issue_date: String,
    /// nextUpdate.
    pub next_update: String,
    /// tcbEvaluationDataNumber.
    pub tcb_evaluation_data_number: u32,
    /// miscselect, hex (4 bytes).
    pub miscselect: String,
    /// miscselectMask, hex.
    pub miscselect_mask: String,
    /// attributes, hex (16 bytes).
    pub attributes: String,
    /// attributesMask, hex.
    pub attributes_mask: String,
    /// mrsigner, hex (32 bytes).
    pub mrsigner: String,
    /// isvprodid.
    pub isvprodid: u16,
    /// The QE's levels, highest first.
    pub tcb_levels: Vec<IsvTcbLevel>,
}

/// Decodes a fixed-size hex field of a signed JSON document.
pub(crate) fn hex_field<const N: usize>(
    doc: &'static str,
    field: &'static str,
    value: &str,
) -> Result<[u8; N], TdxError> {
    let bytes = hex::decode(value).map_err(|e| TdxError::Collateral {
        what: doc,
        reason: format!("{field}: {e}"),
    })?;
    bytes.try_into().map_err(|b: Vec<u8>| TdxError::Collateral {
        what: doc,
        reason: format!("{field}: expected {N} bytes, got {}", b.len()),
    })
}

/// A status string of a signed document.
pub(crate) fn status(doc: &'static str, s: &str) -> Result<TcbStatus, TdxError> {
    TcbStatus::from_name(s).ok_or_else(|| TdxError::Collateral {
        what: doc,
        reason: format!("unknown tcbStatus {s:?}"),
    })
}

fn svns(doc: &'static str, what: &str, c: &[TcbComponent]) -> Result<[u8; 16], TdxError> {
    let v: Vec<u8> = c.iter().map(|c| c.svn).collect();
    v.try_into().map_err(|v: Vec<u8>| TdxError::Collateral {
        what: doc,
        reason: format!("{what}: expected 16 components, got {}", v.len()),
    })
}

/// The PCK certificate's TCB (its SGX extensions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PckTcb {
    /// SGX TCB components 1..16.
    pub sgx_components: [u8; 16],
    /// PCESVN.
    pub pce_svn: u16,
}

/// The platform level a PCK TCB (and, for TDX, a TEE_TCB_SVN) matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedLevel {
    /// The level's status.
    pub status: TcbStatus,
    /// Its tcbDate.
    pub tcb_date: String,
    /// Its advisories.
    pub advisory_ids: Vec<String>,
}

fn all_ge(have: &[u8], want: &[u8]) -> bool {
    have.iter().zip(want).all(|(h, w)| h >= w)
}

impl TcbInfo {
    /// The first level the PCK TCB matches (SGX components and PCESVN)
    /// and, with `tee_tcb_svn`, whose TDX components it also matches.
    pub fn match_platform(
        &self,
        pck: &PckTcb,
        tee_tcb_svn: Option<&[u8; 16]>,
    ) -> Result<MatchedLevel, TdxError> {
        const DOC: &str = "TCB Info";
        let mut sgx_matched = false;
        for level in &self.tcb_levels {
            let sgx = svns(DOC, "sgxtcbcomponents", &level.tcb.sgxtcbcomponents)?;
            if !all_ge(&pck.sgx_components, &sgx) || pck.pce_svn < level.tcb.pcesvn {
                continue;
            }
            sgx_matched = true;
            if let Some(tee) = tee_tcb_svn {
                let Some(tdx) = &level.tcb.tdxtcbcomponents else {
                    return Err(TdxError::Collateral {
                        what: DOC,
                        reason: "a TDX TCB level without tdxtcbcomponents".into(),
                    });
                };
                let tdx = svns(DOC, "tdxtcbcomponents", tdx)?;
                let from = if tee.get(1).copied().unwrap_or(0) > 0 {
                    2
                } else {
                    0
                };
                let (have, want) = (tee.get(from..), tdx.get(from..));
                if !all_ge(have.unwrap_or_default(), want.unwrap_or_default()) {
                    continue;
                }
            }
            return Ok(MatchedLevel {
                status: status(DOC, &level.tcb_status)?,
                tcb_date: level.tcb_date.clone(),
                advisory_ids: level.advisory_ids.clone(),
            });
        }
        Err(TdxError::NoMatchingTcbLevel {
            what: if sgx_matched && tee_tcb_svn.is_some() {
                "TDX platform (TEE_TCB_SVN)"
            } else {
                "SGX platform (PCK TCB)"
            },
            seen: match tee_tcb_svn {
                Some(t) => format!(
                    "SGX components {}, PCESVN {}, TEE_TCB_SVN {}",
                    hex::encode(pck.sgx_components),
                    pck.pce_svn,
                    hex::encode(t)
                ),
                None => format!(
                    "SGX components {}, PCESVN {}",
                    hex::encode(pck.sgx_components),
                    pck.pce_svn
                ),
            },
            lowest_required: describe_lowest(&self.tcb_levels),
        })
    }
}

fn describe_lowest(levels: &[TcbLevel]) -> String {
    levels.last().map_or_else(
        || "no levels".to_string(),
        |l| {
            let sgx: Vec<u8> = l.tcb.sgxtcbcomponents.iter().map(|c| c.svn).collect();
            let tdx: Option<Vec<u8>> = l
                .tcb
                .tdxtcbcomponents
                .as_ref()
                .map(|v| v.iter().map(|c| c.svn).collect());
            format!(
                "the lowest level ({}, {}) needs SGX components {}, PCESVN {}{}",
                l.tcb_date,
                l.tcb_status,
                hex::encode(sgx),
                l.tcb.pcesvn,
                tdx.map(|t| format!(", TDX components {}", hex::encode(t)))
                    .unwrap_or_default()
            )
        },
    )
}

/// The first ISV level with `isvsvn` ≤ `svn`.
pub(crate) fn match_isv(
    doc: &'static str,
    what: &'static str,
    levels: &[IsvTcbLevel],
    svn: u16,
) -> Result<MatchedLevel, TdxError> {
    match levels.iter().find(|l| l.tcb.isvsvn <= svn) {
        Some(l) => Ok(MatchedLevel {
            status: status(doc, &l.tcb_status)?,
            tcb_date: l.tcb_date.clone(),
            advisory_ids: l.advisory_ids.clone(),
        }),
        None => Err(TdxError::NoMatchingTcbLevel {
            what,
            seen: format!("ISVSVN {svn}"),
            lowest_required: levels.last().map_or_else(
                || "no levels".to_string(),
                |l| format!("the lowest level needs ISVSVN {}", l.tcb.isvsvn),
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::TcbStatus::{self, *};

    #[test]
    fn status_names_round_trip() {
        for s in TcbStatus::ALL {
            assert_eq!(TcbStatus::from_name(s.as_str()), Some(s));
        }
        assert_eq!(TcbStatus::from_name("uptodate"), None);
        assert_eq!(TcbStatus::from_name("TDRelaunchAdvised"), None);
    }

    #[test]
    fn convergence_follows_intel_qvl() {
        // (platform, module or QE, result)
        let cases = [
            (UpToDate, UpToDate, UpToDate),
            (UpToDate, OutOfDate, OutOfDate),
            (SWHardeningNeeded, OutOfDate, OutOfDate),
            (ConfigurationNeeded, OutOfDate, OutOfDateConfigurationNeeded),
            (
                ConfigurationAndSWHardeningNeeded,
                OutOfDate,
                OutOfDateConfigurationNeeded,
            ),
            (OutOfDate, OutOfDate, OutOfDate),
            (
                OutOfDateConfigurationNeeded,
                OutOfDate,
                OutOfDateConfigurationNeeded,
            ),
            (UpToDate, Revoked, Revoked),
            (ConfigurationNeeded, UpToDate, ConfigurationNeeded),
            (Revoked, UpToDate, Revoked),
        ];
        for (platform, other, want) in cases {
            assert_eq!(platform.converge(other), want, "{platform} with {other}");
        }
    }
}
