//! Appraisal policy, format version 1, and the [`Appraiser`] trait.
//!
//! A policy names *reference-value sets* and *key grants*. A reference set
//! says what a trustworthy platform looks like; a key grant says which
//! reference sets unlock a key. The verifier releases a key when the verified
//! claims match at least one of the reference sets the key names.
//!
//! The same document is accepted as TOML or JSON:
//!
//! ```toml
//! version = 1
//!
//! [[reference]]
//! name = "build-vm-2026-11"          # unique; appears in results and provenance
//! platform = "tpm"
//! # Optional: SHA-256 (hex) of the DER root CAs an EK certificate must chain to.
//! # Empty or absent: any CA in the verifier's configured EK CA directory.
//! ek_cas = ["3b1f…"]
//! # Optional: refuse evidence without a firmware event log (default false).
//! require_event_log = true
//!
//! # Acceptable values per bank and PCR: the quoted value must be one of them.
//! [reference.pcrs.sha256]
//! "0" = ["0f35c214…", "a1b2…"]
//! "7" = ["3365d7fa…"]
//!
//! # Event rules: the verified log must hold an event in this PCR with this
//! # digest (and, if given, this type). Implies require_event_log.
//! [[reference.event]]
//! pcr = 4
//! type = "EV_EFI_BOOT_SERVICES_APPLICATION"
//! digest = "sha256:d690bdac…"
//!
//! # An event rule can name the event (`description`: text its decoded data
//! # must contain, e.g. the Linux EFI stub's tag descriptions) and accept a
//! # family (`digests`: any of them), so one reference covers several VMs:
//! # here any of two command lines, measured by the EFI stub into PCR 9
//! # (pin no PCR 9 value then). When the named event is there with another
//! # digest, the refusal names the PCR, the event (index, type, description)
//! # and both digests.
//! [[reference.event]]
//! pcr = 9
//! type = "EV_EVENT_TAG"
//! description = "LOADED_IMAGE::LoadOptions"
//! digests = ["sha256:749a5bdb…", "sha256:0c1f…"]
//!
//! [[key]]
//! id = "build-signing"               # a key id in the verifier's key store
//! references = ["build-vm-2026-11"]
//!
//! # Optional: release this key only for build statements that satisfy all
//! # of these (each list, when present, must be non-empty and one entry must
//! # match). Without a statement in the attestation the key is not released.
//! [key.statement]
//! source_uris = ["git+https://git.example/app.git"]   # the `source` material's uri
//!                                                     # (exact, or followed by "@<rev>")
//! source_digests = ["gitCommit:1a2b…", "sha256:9f3c…"] # the `source` material's digests
//! build_types = ["https://sealbuild.invalid/build-types/sealed-build/v1"]
//! required_materials = ["pkg:deb/debian/gcc-12"]        # uri or name of a material
//!                                                     # that must be present
//! ```
//!
//! SEV-SNP reference sets use `platform = "snp"` and a `[reference.snp]`
//! table instead of PCRs; its fields are described in [`snp`]. Intel TDX
//! reference sets use `platform = "tdx"` and a `[reference.tdx]` table
//! ([`tdx`]). Azure confidential VMs use `platform = "azure"` with the vTPM's
//! PCRs and events and either a `[reference.snp]` table (SEV-SNP hardware)
//! or a `[reference.tdx]` table (TDX hardware: its TCB statuses, debug,
//! MRTD, … apply to the DCAP-verified TD quote); a set of one kind does not
//! match evidence of the other.
//!
//! Parsing turns the document into typed values (banks, PCR indices < 24,
//! digests of the bank's length, references that exist, unique names) or a
//! [`PolicyError`] naming the offending entry. Appraisal sits behind
//! [`Appraiser`] so another engine (e.g. Rego) can replace [`Policy`].

mod snp;
mod statement;
mod tdx;
mod tpm;

pub use snp::{snp_problems, SnpRule};
pub use tdx::{parse_statuses as parse_tdx_statuses, tdx_problems, TdxRule};

use crate::claims::{Platform, PlatformClaims, StatementClaims};
use sealbuild_common::api::Reason;
use sealbuild_common::HashAlg;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use thiserror::Error;

/// Why a policy document was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PolicyError {
    /// The text is not valid TOML/JSON of the v1 shape.
    #[error("policy does not parse as {format}: {reason}")]
    Syntax {
        format: &'static str,
        reason: String,
    },
    /// `version` is not 1.
    #[error("policy version {0} is not supported (this verifier reads version 1)")]
    Version(u32),
    /// A field value is out of range or malformed.
    #[error("policy {location}: {reason}")]
    Invalid { location: String, reason: String },
}

fn invalid(location: impl Into<String>, reason: impl Into<String>) -> PolicyError {
    PolicyError::Invalid {
        location: location.into(),
        reason: reason.into(),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyDoc {
    version: u32,
    #[serde(default, rename = "reference")]
    references: Vec<ReferenceDoc>,
    #[serde(default, rename = "key")]
    keys: Vec<KeyDoc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReferenceDoc {
    name: String,
    platform: String,
    #[serde(default)]
    ek_cas: Vec<String>,
    #[serde(default)]
    require_event_log: bool,
    #[serde(default)]
    pcrs: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    #[serde(default, rename = "event")]
    events: Vec<EventRuleDoc>,
    #[serde(default)]
    snp: Option<snp::SnpRuleDoc>,
    #[serde(default)]
    tdx: Option<tdx::TdxRuleDoc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventRuleDoc {
    pcr: u32,
    #[serde(default, rename = "type")]
    event_type: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    digest: Option<String>,
    #[serde(default)]
    digests: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyDoc {
    id: String,
    references: Vec<String>,
    #[serde(default)]
    statement: Option<StatementRule>,
}

/// Conditions on the build statement for releasing a key.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatementRule {
    /// Acceptable `source` material URIs.
    #[serde(default)]
    pub source_uris: Vec<String>,
    /// Acceptable `source` digests, `alg:hex`.
    #[serde(default)]
    pub source_digests: Vec<String>,
    /// Acceptable build types.
    #[serde(default)]
    pub build_types: Vec<String>,
    /// Materials (uri or name) that must be present.
    #[serde(default)]
    pub required_materials: Vec<String>,
}

/// A required event: in `pcr`, of `event_type` and with `description` in
/// its decoded data if set, with one of `digests` in `bank`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRule {
    /// PCR index.
    pub pcr: u32,
    /// Event type name, if constrained.
    pub event_type: Option<String>,
    /// Text the event's decoded description must contain, if constrained.
    pub description: Option<String>,
    /// Bank of the digests.
    pub bank: HashAlg,
    /// The acceptable digests (at least one).
    pub digests: BTreeSet<Vec<u8>>,
}

/// The TPM part of a reference set: EK roots, PCR values, event rules.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TpmRule {
    /// Acceptable EK roots (SHA-256 hex, lower case); empty = any configured.
    pub ek_cas: BTreeSet<String>,
    /// Whether a verified event log is required.
    pub require_event_log: bool,
    /// Acceptable values per bank and PCR.
    pub pcrs: BTreeMap<HashAlg, BTreeMap<u32, BTreeSet<Vec<u8>>>>,
    /// Required events.
    pub events: Vec<EventRule>,
}

/// What a reference set requires, one variant per platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReferenceRule {
    /// `platform = "tpm"`: PCRs, events, EK roots.
    Tpm(TpmRule),
    /// `platform = "snp"`: the `[reference.snp]` table.
    Snp(Box<SnpRule>),
    /// `platform = "azure"`: the paravisor's SNP report (`[reference.snp]`)
    /// and the vTPM's PCRs and events (no EK roots: the HCL report vouches
    /// for the AK).
    Azure {
        /// The SEV-SNP rule.
        snp: Box<SnpRule>,
        /// The vTPM rule.
        vtpm: TpmRule,
    },
    /// `platform = "tdx"`: the `[reference.tdx]` table.
    Tdx(Box<TdxRule>),
    /// `platform = "azure"` with a `[reference.tdx]` table: the TD quote of
    /// the paravisor's TD report and the vTPM's PCRs and events.
    AzureTdx {
        /// The TDX rule.
        tdx: Box<TdxRule>,
        /// The vTPM rule.
        vtpm: TpmRule,
    },
}

impl ReferenceRule {
    /// The platform this rule describes.
    pub fn platform(&self) -> Platform {
        match self {
            Self::Tpm(_) => Platform::Tpm,
            Self::Snp(_) => Platform::Snp,
            Self::Azure { .. } | Self::AzureTdx { .. } => Platform::Azure,
            Self::Tdx(_) => Platform::Tdx,
        }
    }

    /// The TDX rule, for platforms that have one (as [`Self::snp`]).
    pub fn tdx(&self) -> Option<&TdxRule> {
        match self {
            Self::Tdx(r) | Self::AzureTdx { tdx: r, .. } => Some(r),
            Self::Tpm(_) | Self::Snp(_) | Self::Azure { .. } => None,
        }
    }

    /// The SEV-SNP rule, for platforms that have one.
    pub fn snp(&self) -> Option<&SnpRule> {
        match self {
            Self::Snp(r) | Self::Azure { snp: r, .. } => Some(r),
            Self::Tpm(_) | Self::Tdx(_) | Self::AzureTdx { .. } => None,
        }
    }

    /// The TPM rule, for platforms that have one.
    pub fn tpm(&self) -> Option<&TpmRule> {
        match self {
            Self::Tpm(r) | Self::Azure { vtpm: r, .. } | Self::AzureTdx { vtpm: r, .. } => Some(r),
            Self::Snp(_) | Self::Tdx(_) => None,
        }
    }
}

/// A named set of reference values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceSet {
    /// Unique name.
    pub name: String,
    /// What it requires, per platform.
    pub rule: ReferenceRule,
}

impl ReferenceSet {
    /// The platform it describes.
    pub fn platform(&self) -> Platform {
        self.rule.platform()
    }
}

/// A key and the reference sets that unlock it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyGrant {
    /// Key id in the key store.
    pub key_id: String,
    /// Names of reference sets.
    pub references: Vec<String>,
    /// Conditions on the build statement, if any.
    pub statement: Option<StatementRule>,
}

/// A parsed, checked v1 policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Reference sets by declaration order.
    pub references: Vec<ReferenceSet>,
    /// Key grants by declaration order.
    pub keys: Vec<KeyGrant>,
    /// SHA-256 hex of the document text: the policy id in results and audit.
    pub digest: String,
}

/// Outcome of appraising claims against a policy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Appraisal {
    /// Reference sets the claims matched.
    pub matched_references: Vec<String>,
    /// Keys the policy grants for these claims.
    pub granted_keys: Vec<String>,
    /// Why each unmatched reference set did not match.
    pub reasons: Vec<Reason>,
}

/// An appraisal engine over verified claims.
pub trait Appraiser: Send + Sync {
    /// Identifier of the policy in force (a digest), for results and audit.
    fn policy_id(&self) -> String;
    /// Appraises verified claims and, for builds, the statement whose digest
    /// the verified evidence carries. Never fails: a non-match is an outcome.
    fn appraise(&self, claims: &PlatformClaims, statement: Option<&StatementClaims>) -> Appraisal;
}

fn parse_platform(s: &str, loc: &str) -> Result<Platform, PolicyError> {
    Platform::from_name(s).ok_or_else(|| {
        invalid(
            loc,
            format!(
                "platform '{s}' is not known (expected one of: {})",
                Platform::ALL.map(Platform::name).join(", ")
            ),
        )
    })
}

fn parse_bank(s: &str, loc: &str) -> Result<HashAlg, PolicyError> {
    HashAlg::from_name(s).ok_or_else(|| {
        invalid(
            loc,
            format!("bank '{s}' is not one of sha1, sha256, sha384, sha512"),
        )
    })
}

fn parse_pcr_index(s: &str, loc: &str) -> Result<u32, PolicyError> {
    match s.parse::<u32>() {
        Ok(i) if i < 24 => Ok(i),
        _ => Err(invalid(loc, format!("'{s}' is not a PCR index 0..23"))),
    }
}

fn parse_digest(s: &str, bank: HashAlg, loc: &str) -> Result<Vec<u8>, PolicyError> {
    let bytes = hex::decode(s).map_err(|e| invalid(loc, format!("'{s}' is not hex: {e}")))?;
    if bytes.len() != bank.size() {
        return Err(invalid(
            loc,
            format!(
                "a {bank} digest has {} bytes, '{s}' has {}",
                bank.size(),
                bytes.len()
            ),
        ));
    }
    Ok(bytes)
}
/// The rule of one reference set: one arm per platform, each refusing the
/// tables that belong to other platforms.
fn reference_rule(
    platform: Platform,
    r: &ReferenceDoc,
    loc: &str,
) -> Result<ReferenceRule, PolicyError> {
    if r.tdx.is_some() && platform != Platform::Tdx && platform != Platform::Azure {
        return Err(invalid(
            loc,
            "a [reference.tdx] table needs platform = \"tdx\" or \"azure\"",
        ));
    }
    let snp_table = |platform: Platform| {
        r.snp.as_ref().ok_or_else(|| {
            invalid(
                loc,
                format!("platform {platform} needs a [reference.snp] table"),
            )
        })
    };
    Ok(match platform {
        Platform::Tpm => {
            if r.snp.is_some() {
                return Err(invalid(
                    loc,
                    "a [reference.snp] table needs platform = \"snp\" or \"azure\"",
                ));
            }
            ReferenceRule::Tpm(parse_tpm_rule(r, loc)?)
        }
        Platform::Snp => {
            let d = snp_table(platform)?;
            if !r.pcrs.is_empty() || !r.events.is_empty() || !r.ek_cas.is_empty() {
                return Err(invalid(
                    loc,
                    "an snp reference set has no pcrs, events or ek_cas",
                ));
            }
            ReferenceRule::Snp(Box::new(snp::parse_rule(d, loc)?))
        }
        Platform::Azure => {
            if !r.ek_cas.is_empty() {
                return Err(invalid(
                    loc,
                    "an azure reference set has no ek_cas (the HCL report vouches for the vTPM AK)",
                ));
            }
            match (&r.snp, &r.tdx) {
                (Some(_), Some(_)) => {
                    return Err(invalid(
                        loc,
                        "an azure reference set has a [reference.snp] or a [reference.tdx] \
                         table, not both",
                    ))
                }
                (None, Some(d)) => ReferenceRule::AzureTdx {
                    tdx: Box::new(tdx::parse_rule(d, loc)?),
                    vtpm: parse_tpm_rule(r, loc)?,
                },
                (Some(d), None) => ReferenceRule::Azure {
                    snp: Box::new(snp::parse_rule(d, loc)?),
                    vtpm: parse_tpm_rule(r, loc)?,
                },
                (None, None) => {
                    return Err(invalid(
                        loc,
                        "platform azure needs a [reference.snp] (SEV-SNP) or a \
                         [reference.tdx] (TDX) table",
                    ))
                }
            }
        }
        Platform::Tdx => {
            let d = r
                .tdx
                .as_ref()
                .ok_or_else(|| invalid(loc, "platform tdx needs a [reference.tdx] table"))?;
            if r.snp.is_some()
                || !r.pcrs.is_empty()
                || !r.events.is_empty()
                || !r.ek_cas.is_empty()
                || r.require_event_log
            {
                return Err(invalid(
                    loc,
                    "a tdx reference set has only a [reference.tdx] table",
                ));
            }
            ReferenceRule::Tdx(Box::new(tdx::parse_rule(d, loc)?))
        }
    })
}

/// The TPM part of a reference document: EK roots, PCRs, event rules.
fn parse_tpm_rule(r: &ReferenceDoc, loc: &str) -> Result<TpmRule, PolicyError> {
    let mut ek_cas = BTreeSet::new();
    for ca in &r.ek_cas {
        let lower = ca.to_ascii_lowercase();
        parse_digest(&lower, HashAlg::Sha256, &format!("{loc} ek_cas"))?;
        ek_cas.insert(lower);
    }
    let mut pcrs = BTreeMap::new();
    for (bank_name, values) in &r.pcrs {
        let bank = parse_bank(bank_name, loc)?;
        let mut per_pcr = BTreeMap::new();
        for (idx, accepted) in values {
            let ploc = format!("{loc} pcrs.{bank_name}.{idx}");
            let pcr = parse_pcr_index(idx, &ploc)?;
            if accepted.is_empty() {
                return Err(invalid(ploc, "lists no acceptable value"));
            }
            let set = accepted
                .iter()
                .map(|v| parse_digest(&v.to_ascii_lowercase(), bank, &ploc))
                .collect::<Result<BTreeSet<_>, _>>()?;
            per_pcr.insert(pcr, set);
        }
        pcrs.insert(bank, per_pcr);
    }
    let mut events = Vec::new();
    for (j, e) in r.events.iter().enumerate() {
        let eloc = format!("{loc} event #{}", j + 1);
        if e.pcr >= 24 {
            return Err(invalid(eloc, format!("pcr {} is not 0..23", e.pcr)));
        }
        let written: Vec<&String> = e.digest.iter().chain(e.digests.iter()).collect();
        if written.is_empty() {
            return Err(invalid(
                &eloc,
                "needs digest = \"bank:hex\" or digests = [...]",
            ));
        }
        let mut bank = None;
        let mut digests = BTreeSet::new();
        for d in written {
            let (bank_name, hexval) = d.split_once(':').ok_or_else(|| {
                invalid(
                    &eloc,
                    "digest must be written 'bank:hex', e.g. 'sha256:ab12…'",
                )
            })?;
            let b = parse_bank(bank_name, &eloc)?;
            if bank.is_some_and(|x| x != b) {
                return Err(invalid(
                    &eloc,
                    "all digests of one event rule must be of one bank",
                ));
            }
            bank = Some(b);
            digests.insert(parse_digest(&hexval.to_ascii_lowercase(), b, &eloc)?);
        }
        let Some(bank) = bank else {
            return Err(invalid(&eloc, "no digest"));
        };
        if e.description.as_deref().is_some_and(str::is_empty) {
            return Err(invalid(&eloc, "description is empty"));
        }
        events.push(EventRule {
            pcr: e.pcr,
            event_type: e.event_type.clone(),
            description: e.description.clone(),
            bank,
            digests,
        });
    }
    Ok(TpmRule {
        ek_cas,
        require_event_log: r.require_event_log || !events.is_empty(),
        pcrs,
        events,
    })
}

impl Policy {
    /// Parses a TOML policy.
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        let doc: PolicyDoc = toml::from_str(text).map_err(|e| PolicyError::Syntax {
            format: "TOML",
            reason: e.to_string(),
        })?;
        Self::from_doc(doc, text)
    }

    /// Parses a JSON policy.
    pub fn from_json(text: &str) -> Result<Self, PolicyError> {
        let doc: PolicyDoc = serde_json::from_str(text).map_err(|e| PolicyError::Syntax {
            format: "JSON",
            reason: e.to_string(),
        })?;
        Self::from_doc(doc, text)
    }

    /// Parses TOML or JSON, by the first non-blank character (`{` = JSON).
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        if text.trim_start().starts_with('{') {
            Self::from_json(text)
        } else {
            Self::from_toml(text)
        }
    }

    fn from_doc(doc: PolicyDoc, text: &str) -> Result<Self, PolicyError> {
        if doc.version != 1 {
            return Err(PolicyError::Version(doc.version));
        }
        let mut names = BTreeSet::new();
        let mut references = Vec::new();
        for (i, r) in doc.references.into_iter().enumerate() {
            let loc = format!("reference #{} '{}'", i + 1, r.name);
            if r.name.is_empty() || !names.insert(r.name.clone()) {
                return Err(invalid(loc, "name is empty or used twice"));
            }
            let platform = parse_platform(&r.platform, &loc)?;
            let rule = reference_rule(platform, &r, &loc)?;
            references.push(ReferenceSet { name: r.name, rule });
        }
        let mut key_ids = BTreeSet::new();
        let mut keys = Vec::new();
        for (i, k) in doc.keys.into_iter().enumerate() {
            let loc = format!("key #{} '{}'", i + 1, k.id);
            if k.id.is_empty() || !key_ids.insert(k.id.clone()) {
                return Err(invalid(loc, "id is empty or used twice"));
            }
            if k.references.is_empty() {
                return Err(invalid(loc, "names no reference set"));
            }
            for r in &k.references {
                if !names.contains(r) {
                    return Err(invalid(&loc, format!("reference set '{r}' is not defined")));
                }
            }
            if let Some(rule) = &k.statement {
                for d in &rule.source_digests {
                    match d.split_once(':') {
                        Some((alg, hexval))
                            if !alg.is_empty()
                                && !hexval.is_empty()
                                && hexval.bytes().all(|b| b.is_ascii_hexdigit()) => {}
                        _ => {
                            return Err(invalid(
                                &loc,
                                format!("statement.source_digests: '{d}' is not 'alg:hex'"),
                            ))
                        }
                    }
                }
            }
            keys.push(KeyGrant {
                key_id: k.id,
                references: k.references,
                statement: k.statement.map(|mut r| {
                    r.source_digests = r
                        .source_digests
                        .iter()
                        .map(|d| match d.split_once(':') {
                            Some((alg, hexval)) => format!("{alg}:{}", hexval.to_ascii_lowercase()),
                            None => d.clone(),
                        })
                        .collect();
                    r
                }),
            });
        }
        Ok(Self {
            references,
            keys,
            digest: hex::encode(sealbuild_common::crypto::sha256(text.as_bytes())),
        })
    }

    /// Key ids the policy can ever grant.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.key_id.as_str())
    }
}

/// An Azure reference set of one TEE against evidence of the other.
fn azure_tee_mismatch(reference: &str, expected: &str, got: &str) -> Reason {
    Reason::new(
        "azure_tee",
        Some(expected.into()),
        Some(got.into()),
        format!(
            "reference set '{reference}' describes Azure {expected} confidential VMs, \
             the evidence comes from Azure {got} hardware"
        ),
    )
}

impl Appraiser for Policy {
    fn policy_id(&self) -> String {
        format!("sha256:{}", self.digest)
    }

    fn appraise(&self, claims: &PlatformClaims, statement: Option<&StatementClaims>) -> Appraisal {
        let mut appraisal = Appraisal::default();
        for r in &self.references {
            let reasons = match (&r.rule, claims) {
                (ReferenceRule::Tpm(rule), PlatformClaims::Tpm(c)) => {
                    tpm::match_tpm(&r.name, rule, c)
                }
                (ReferenceRule::Snp(rule), PlatformClaims::Snp(c)) => {
                    snp_problems(&r.name, rule, c)
                }
                (ReferenceRule::Azure { snp, vtpm }, PlatformClaims::Azure(c)) => {
                    let mut reasons = match c.snp() {
                        Some(s) => snp_problems(&r.name, snp, s),
                        None => vec![azure_tee_mismatch(&r.name, "SEV-SNP", c.tee_name())],
                    };
                    reasons.extend(tpm::match_tpm(&r.name, vtpm, &c.tpm));
                    reasons
                }
                (ReferenceRule::AzureTdx { tdx, vtpm }, PlatformClaims::Azure(c)) => {
                    let mut reasons = match c.tdx() {
                        Some(t) => tdx_problems(&r.name, tdx, t),
                        None => vec![azure_tee_mismatch(&r.name, "TDX", c.tee_name())],
                    };
                    reasons.extend(tpm::match_tpm(&r.name, vtpm, &c.tpm));
                    reasons
                }
                (ReferenceRule::Tdx(rule), PlatformClaims::Tdx(c)) => {
                    tdx_problems(&r.name, rule, c)
                }
                // A reference set of another platform says nothing here.
                _ => continue,
            };
            if reasons.is_empty() {
                appraisal.matched_references.push(r.name.clone());
            } else {
                appraisal.reasons.extend(reasons);
            }
        }
        if appraisal.references_empty_for(self, claims.platform()) {
            appraisal.reasons.push(Reason::new(
                "policy",
                Some(format!(
                    "a reference set for platform '{}'",
                    claims.platform().name()
                )),
                Some("none".into()),
                format!(
                    "the policy has no reference set for platform '{}'",
                    claims.platform().name()
                ),
            ));
        }
        for k in &self.keys {
            if !k
                .references
                .iter()
                .any(|r| appraisal.matched_references.contains(r))
            {
                continue;
            }
            match (&k.statement, statement) {
                (None, _) => appraisal.granted_keys.push(k.key_id.clone()),
                (Some(_), None) => appraisal.reasons.push(Reason::new(
                    "statement_policy",
                    Some("a build statement".into()),
                    Some("none".into()),
                    format!(
                        "key '{}' is released only for sealed builds, and this attestation carries no build statement",
                        k.key_id
                    ),
                ).for_key(&k.key_id)),
                (Some(rule), Some(st)) => {
                    let problems: Vec<Reason> =
                        statement::statement_problems(&k.key_id, rule, st)
                            .into_iter()
                            .map(|r| r.for_key(&k.key_id))
                            .collect();
                    if problems.is_empty() {
                        appraisal.granted_keys.push(k.key_id.clone());
                    } else {
                        appraisal.reasons.extend(problems);
                    }
                }
            }
        }
        appraisal
    }
}

impl Appraisal {
    fn references_empty_for(&self, policy: &Policy, platform: Platform) -> bool {
        !policy.references.iter().any(|r| r.platform() == platform)
    }
}
