//! SEV-SNP reference sets: the `[reference.snp]` table of a policy.
//!
//! ```toml
//! [[reference]]
//! name = "build-vm-snp"
//! platform = "snp"
//!
//! [reference.snp]
//! measurements = ["7a1e5c26…"]        # acceptable launch digests (48 bytes, hex);
//!                                     # required unless any_measurement = true
//! products = ["milan", "genoa"]        # default: any
//! signing_keys = ["vcek", "vlek"]      # default: both
//! vlek_csp_ids = ["cc-us-east-2.amazonaws.com"]  # a VLEK must name one (if set)
//! allow_debug = false                  # guest policy DEBUG bit (default false)
//! allow_smt = true                     # false: SMT must be disallowed by policy
//!                                      # and disabled on the platform
//! allow_migration_agent = false        # guest policy MIGRATE_MA bit
//! require_single_socket = false        # guest policy SINGLE_SOCKET bit
//! min_abi = "1.51"                     # guest policy ABI_MAJOR.ABI_MINOR ≥
//! vmpls = [0]                          # acceptable VMPLs (default [0])
//! platform_info = "0x1"                # exact PLATFORM_INFO (optional)
//! host_data = ["…"]                    # 32 bytes hex each (optional)
//! id_key_digests = ["…"]               # 48 bytes each (optional)
//! author_key_digests = ["…"]           # 48 bytes each (optional)
//! family_ids = ["…"]  image_ids = ["…"] # 16 bytes each (optional)
//! chip_ids = ["…"]                     # 64 bytes each (optional; never
//!                                      # satisfiable by a VLEK-signed report,
//!                                      # whose CHIP_ID is masked)
//! min_guest_svn = 0
//! min_committed_firmware = "1.55.29"   # COMMITTED_MAJOR.MINOR[.BUILD] ≥
//! provisional_firmware = "allow"       # or "refuse": CURRENT_TCB must equal
//!                                      # COMMITTED_TCB
//!
//! # Minimum TCB per product, applied to REPORTED_TCB and COMMITTED_TCB;
//! # min_launch_tcb applies to LAUNCH_TCB. A u64 in hex, or the parts.
//! [reference.snp.min_tcb]
//! milan = "0x7308000000000003"
//! genoa = { bl = 10, tee = 0, snp = 23, ucode = 25 }
//! turin = { fmc = 0, bl = 0, tee = 0, snp = 0, ucode = 9 }
//! ```
//!
//! Field meanings: SEV-SNP Firmware ABI (AMD pub. 56860) rev. 1.58, Table 9
//! "Guest Policy Structure", Table 23 "ATTESTATION_REPORT Structure" and its
//! PLATFORM_INFO field, and Table 3 "TCB_VERSION Structure".

use super::{invalid, PolicyError};
use crate::claims::SnpClaims;
use sealbuild_common::api::Reason;
use sealbuild_common::snp::{FirmwareVersion, SnpProduct, TcbParts, TcbVersion};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub(super) enum TcbDoc {
    Hex(String),
    Parts {
        #[serde(default)]
        fmc: Option<u8>,
        bl: u8,
        tee: u8,
        snp: u8,
        ucode: u8,
    },
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SnpRuleDoc {
    #[serde(default)]
    measurements: Vec<String>,
    #[serde(default)]
    any_measurement: bool,
    #[serde(default)]
    products: Vec<String>,
    #[serde(default)]
    signing_keys: Vec<String>,
    #[serde(default)]
    vlek_csp_ids: Vec<String>,
    #[serde(default)]
    allow_debug: bool,
    #[serde(default)]
    allow_smt: Option<bool>,
    #[serde(default)]
    allow_migration_agent: bool,
    #[serde(default)]
    require_single_socket: bool,
    #[serde(default)]
    min_abi: Option<String>,
    #[serde(default)]
    vmpls: Option<Vec<u32>>,
    #[serde(default)]
    platform_info: Option<String>,
    #[serde(default)]
    host_data: Vec<String>,
    #[serde(default)]
    id_key_digests: Vec<String>,
    #[serde(default)]
    author_key_digests: Vec<String>,
    #[serde(default)]
    family_ids: Vec<String>,
    #[serde(default)]
    image_ids: Vec<String>,
    #[serde(default)]
    chip_ids: Vec<String>,
    #[serde(default)]
    min_guest_svn: Option<u32>,
    #[serde(default)]
    min_committed_firmware: Option<String>,
    #[serde(default)]
    provisional_firmware: Option<String>,
    #[serde(default)]
    min_tcb: BTreeMap<String, TcbDoc>,
    #[serde(default)]
    min_launch_tcb: BTreeMap<String, TcbDoc>,
}

/// A checked `[reference.snp]` table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SnpRule {
    /// Acceptable MEASUREMENTs; empty only with `any_measurement`.
    pub measurements: BTreeSet<[u8; 48]>,
    /// Explicitly accept any measurement.
    pub any_measurement: bool,
    /// Acceptable products (empty = any).
    pub products: BTreeSet<SnpProduct>,
    /// Accept VCEK-signed reports.
    pub allow_vcek: bool,
    /// Accept VLEK-signed reports.
    pub allow_vlek: bool,
    /// Acceptable VLEK CSP ids (empty = any).
    pub vlek_csp_ids: BTreeSet<String>,
    /// Accept guests whose policy allows debugging.
    pub allow_debug: bool,
    /// Accept SMT.
    pub allow_smt: bool,
    /// Accept a migration agent.
    pub allow_migration_agent: bool,
    /// Require the single-socket policy bit.
    pub require_single_socket: bool,
    /// Minimum guest-policy ABI (major, minor).
    pub min_abi: Option<(u8, u8)>,
    /// Acceptable VMPLs.
    pub vmpls: BTreeSet<u32>,
    /// Exact PLATFORM_INFO.
    pub platform_info: Option<u64>,
    /// Acceptable HOST_DATA.
    pub host_data: BTreeSet<[u8; 32]>,
    /// Acceptable ID_KEY_DIGESTs.
    pub id_key_digests: BTreeSet<[u8; 48]>,
    /// Acceptable AUTHOR_KEY_DIGESTs.
    pub author_key_digests: BTreeSet<[u8; 48]>,
    /// Acceptable FAMILY_IDs.
    pub family_ids: BTreeSet<[u8; 16]>,
    /// Acceptable IMAGE_IDs.
    pub image_ids: BTreeSet<[u8; 16]>,
    /// Acceptable CHIP_IDs.
    pub chip_ids: BTreeSet<[u8; 64]>,
    /// Minimum GUEST_SVN.
    pub min_guest_svn: Option<u32>,
    /// Minimum committed firmware (major, minor, build).
    pub min_committed_firmware: Option<(u8, u8, u8)>,
    /// Refuse CURRENT_TCB ≠ COMMITTED_TCB.
    pub refuse_provisional_firmware: bool,
    /// Minimum REPORTED/COMMITTED TCB per product.
    pub min_tcb: BTreeMap<SnpProduct, TcbVersion>,
    /// Minimum LAUNCH_TCB per product.
    pub min_launch_tcb: BTreeMap<SnpProduct, TcbVersion>,
}

impl SnpRule {
    /// The rule `verify snp` applies without a policy: genuine hardware, any
    /// measurement, debug refused unless `allow_debug`, VMPL any.
    pub fn hardware_only(allow_debug: bool) -> Self {
        Self {
            any_measurement: true,
            allow_vcek: true,
            allow_vlek: true,
            allow_debug,
            allow_smt: true,
            vmpls: (0..4).collect(),
            ..Self::default()
        }
    }
}

fn hex_n<const N: usize>(s: &str, loc: &str, what: &str) -> Result<[u8; N], PolicyError> {
    let s = s.trim_start_matches("0x");
    let bytes =
        hex::decode(s).map_err(|e| invalid(loc, format!("{what} '{s}' is not hex: {e}")))?;
    <[u8; N]>::try_from(bytes.as_slice()).map_err(|_| {
        invalid(
            loc,
            format!("{what} must be {N} bytes, '{s}' has {}", bytes.len()),
        )
    })
}

fn hex_set<const N: usize>(
    v: &[String],
    loc: &str,
    what: &str,
) -> Result<BTreeSet<[u8; N]>, PolicyError> {
    v.iter().map(|s| hex_n::<N>(s, loc, what)).collect()
}

fn parse_product(s: &str, loc: &str) -> Result<SnpProduct, PolicyError> {
    SnpProduct::from_name(s)
        .ok_or_else(|| invalid(loc, format!("product '{s}' is not milan, genoa or turin")))
}

fn parse_u64(s: &str, loc: &str, what: &str) -> Result<u64, PolicyError> {
    let t = s.trim();
    let r = match t.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => t.parse::<u64>(),
    };
    r.map_err(|_| {
        invalid(
            loc,
            format!("{what} '{s}' is not a number (decimal or 0x-hex)"),
        )
    })
}

fn parse_tcb(doc: &TcbDoc, product: SnpProduct, loc: &str) -> Result<TcbVersion, PolicyError> {
    match doc {
        TcbDoc::Hex(s) => Ok(TcbVersion(parse_u64(s, loc, "TCB")?)),
        TcbDoc::Parts {
            fmc,
            bl,
            tee,
            snp,
            ucode,
        } => {
            let layout = product.tcb_layout();
            if fmc.is_some() != (product == SnpProduct::Turin) {
                return Err(invalid(
                    loc,
                    "fmc is given exactly for Turin (its TCB has an FMC field)",
                ));
            }
            Ok(TcbVersion::from_parts(
                TcbParts {
                    fmc: *fmc,
                    boot_loader: *bl,
                    tee: *tee,
                    snp: *snp,
                    microcode: *ucode,
                },
                layout,
            ))
        }
    }
}

fn parse_version<const N: usize>(s: &str, loc: &str, what: &str) -> Result<[u8; N], PolicyError> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.is_empty() || parts.len() > N {
        return Err(invalid(
            loc,
            format!("{what} '{s}' is not major.minor[.build]"),
        ));
    }
    let mut out = [0u8; N];
    for (slot, p) in out.iter_mut().zip(&parts) {
        *slot = p
            .parse::<u8>()
            .map_err(|_| invalid(loc, format!("{what} '{s}': '{p}' is not 0..255")))?;
    }
    Ok(out)
}

pub(super) fn parse_rule(d: &SnpRuleDoc, loc: &str) -> Result<SnpRule, PolicyError> {
    let loc = format!("{loc} snp");
    let loc = loc.as_str();
    let measurements = hex_set::<48>(&d.measurements, loc, "measurement")?;
    if measurements.is_empty() && !d.any_measurement {
        return Err(invalid(
            loc,
            "lists no measurement; give the expected launch digests (sealbuild-measure snp) \
             or set any_measurement = true explicitly",
        ));
    }
    let mut allow_vcek = d.signing_keys.is_empty();
    let mut allow_vlek = d.signing_keys.is_empty();
    for k in &d.signing_keys {
        match k.as_str() {
            "vcek" => allow_vcek = true,
            "vlek" => allow_vlek = true,
            other => {
                return Err(invalid(
                    loc,
                    format!("signing key '{other}' is not vcek or vlek"),
                ))
            }
        }
    }
    let min_abi = match &d.min_abi {
        None => None,
        Some(s) => {
            let [a, b] = parse_version::<2>(s, loc, "min_abi")?;
            Some((a, b))
        }
    };
    let min_committed_firmware = match &d.min_committed_firmware {
        None => None,
        Some(s) => {
            let [a, b, c] = parse_version::<3>(s, loc, "min_committed_firmware")?;
            Some((a, b, c))
        }
    };
    let refuse_provisional_firmware = match d.provisional_firmware.as_deref() {
        None | Some("allow") => false,
        Some("refuse") => true,
        Some(o) => {
            return Err(invalid(
                loc,
                format!("provisional_firmware '{o}' is not allow or refuse"),
            ))
        }
    };
    let tcbs = |m: &BTreeMap<String, TcbDoc>, what: &str| {
        m.iter()
            .map(|(p, t)| {
                let product = parse_product(p, loc)?;
                Ok((
                    product,
                    parse_tcb(t, product, &format!("{loc} {what}.{p}"))?,
                ))
            })
            .collect::<Result<BTreeMap<_, _>, PolicyError>>()
    };
    let vmpls: BTreeSet<u32> = d
        .vmpls
        .clone()
        .unwrap_or_else(|| vec![0])
        .into_iter()
        .collect();
    if vmpls.is_empty() || vmpls.iter().any(|v| *v > 3) {
        return Err(invalid(loc, "vmpls must list values 0..3"));
    }
    Ok(SnpRule {
        measurements,
        any_measurement: d.any_measurement,
        products: d
            .products
            .iter()
            .map(|p| parse_product(p, loc))
            .collect::<Result<_, _>>()?,
        allow_vcek,
        allow_vlek,
        vlek_csp_ids: d.vlek_csp_ids.iter().cloned().collect(),
        allow_debug: d.allow_debug,
        allow_smt: d.allow_smt.unwrap_or(true),
        allow_migration_agent: d.allow_migration_agent,
        require_single_socket: d.require_single_socket,
        min_abi,
        vmpls,
        platform_info: d
            .platform_info
            .as_deref()
            .map(|s| parse_u64(s, loc, "platform_info"))
            .transpose()?,
        host_data: hex_set::<32>(&d.host_data, loc, "host_data")?,
        id_key_digests: hex_set::<48>(&d.id_key_digests, loc, "id_key_digest")?,
        author_key_digests: hex_set::<48>(&d.author_key_digests, loc, "author_key_digest")?,
        family_ids: hex_set::<16>(&d.family_ids, loc, "family_id")?,
        image_ids: hex_set::<16>(&d.image_ids, loc, "image_id")?,
        chip_ids: hex_set::<64>(&d.chip_ids, loc, "chip_id")?,
        min_guest_svn: d.min_guest_svn,
        min_committed_firmware,
        refuse_provisional_firmware,
        min_tcb: tcbs(&d.min_tcb, "min_tcb")?,
        min_launch_tcb: tcbs(&d.min_launch_tcb, "min_launch_tcb")?,
    })
}

fn one_of<T, F: Fn(&T) -> String>(set: &BTreeSet<T>, f: F) -> String {
    let v: Vec<String> = set.iter().map(&f).collect();
    if v.len() == 1 {
        v.join("")
    } else {
        format!("one of [{}]", v.join(", "))
    }
}

fn fw(v: FirmwareVersion) -> (u8, u8, u8) {
    (v.major, v.minor, v.build)
}

/// Reasons why SNP claims do not match `rule` (empty = match). `name` is
/// the reference set's name, for messages.
pub fn snp_problems(name: &str, rule: &SnpRule, c: &SnpClaims) -> Vec<Reason> {
    let mut out = Vec::new();
    let mut fail = |check: &str, expected: String, observed: String, what: &str| {
        out.push(Reason::new(
            check,
            Some(expected.clone()),
            Some(observed.clone()),
            format!("reference '{name}': {what}: expected {expected}, got {observed}"),
        ));
    };
    let r = &c.report;
    let p = r.policy;
    if !rule.any_measurement && !rule.measurements.contains(&r.measurement) {
        fail(
            "snp_measurement",
            one_of(&rule.measurements, |x| hex::encode(x)),
            hex::encode(r.measurement),
            "MEASUREMENT (launch digest)",
        );
    }
    if !rule.products.is_empty() && !rule.products.contains(&c.product) {
        fail(
            "snp_product",
            one_of(&rule.products, |p| p.to_string()),
            c.product.to_string(),
            "product",
        );
    }
    let signer_ok = match c.signing_key {
        crate::snp::SnpSignerKind::Vcek => rule.allow_vcek,
        crate::snp::SnpSignerKind::Vlek => rule.allow_vlek,
    };
    if !signer_ok {
        fail(
            "snp_signing_key",
            if rule.allow_vcek { "vcek" } else { "vlek" }.into(),
            c.signing_key.as_str().into(),
            "signing key",
        );
    }
    if !rule.vlek_csp_ids.is_empty() && c.signing_key == crate::snp::SnpSignerKind::Vlek {
        let seen = c.csp_id.clone().unwrap_or_default();
        if !rule.vlek_csp_ids.contains(&seen) {
            fail(
                "snp_signing_key",
                one_of(&rule.vlek_csp_ids, Clone::clone),
                seen,
                "VLEK cloud provider (CSP id)",
            );
        }
    }
    if p.debug_allowed() && !rule.allow_debug {
        fail(
            "snp_policy",
            "DEBUG = 0".into(),
            format!("DEBUG = 1 (policy {:#x})", p.0),
            "guest policy allows debugging (the host can read and change guest memory)",
        );
    }
    if !rule.allow_smt {
        if p.smt_allowed() {
            fail(
                "snp_policy",
                "SMT = 0".into(),
                format!("SMT = 1 (policy {:#x})", p.0),
                "guest policy allows SMT",
            );
        }
        if r.platform_info.smt_enabled() {
            fail(
                "snp_platform",
                "SMT_EN = 0".into(),
                format!("SMT_EN = 1 (platform_info {:#x})", r.platform_info.0),
                "SMT is enabled on the platform",
            );
        }
    }
    if p.migrate_ma_allowed() && !rule.allow_migration_agent {
        fail(
            "snp_policy",
            "MIGRATE_MA = 0".into(),
            format!("MIGRATE_MA = 1 (policy {:#x})", p.0),
            "guest policy allows a migration agent",
        );
    }
    if rule.require_single_socket && !p.single_socket() {
        fail(
            "snp_policy",
            "SINGLE_SOCKET = 1".into(),
            format!("SINGLE_SOCKET = 0 (policy {:#x})", p.0),
            "guest policy does not require a single socket",
        );
    }
    if let Some((maj, min)) = rule.min_abi {
        if (p.abi_major(), p.abi_minor()) < (maj, min) {
            fail(
                "snp_policy",
                format!("ABI ≥ {maj}.{min}"),
                format!("{}.{}", p.abi_major(), p.abi_minor()),
                "guest policy minimum ABI",
            );
        }
    }
    if !rule.vmpls.contains(&r.vmpl) {
        fail(
            "snp_vmpl",
            one_of(&rule.vmpls, u32::to_string),
            r.vmpl.to_string(),
            "VMPL",
        );
    }
    if let Some(pi) = rule.platform_info {
        if r.platform_info.0 != pi {
            fail(
                "snp_platform",
                format!("{pi:#x}"),
                format!("{:#x}", r.platform_info.0),
                "PLATFORM_INFO",
            );
        }
    }
    let sets: [(&str, &str, bool, String, String); 6] = [
        (
            "snp_host_data",
            "HOST_DATA",
            rule.host_data.is_empty() || rule.host_data.contains(&r.host_data),
            one_of(&rule.host_data, |x| hex::encode(x)),
            hex::encode(r.host_data),
        ),
        (
            "snp_id_key",
            "ID_KEY_DIGEST",
            rule.id_key_digests.is_empty() || rule.id_key_digests.contains(&r.id_key_digest),
            one_of(&rule.id_key_digests, |x| hex::encode(x)),
            hex::encode(r.id_key_digest),
        ),
        (
            "snp_author_key",
            "AUTHOR_KEY_DIGEST",
            rule.author_key_digests.is_empty()
                || (r.key_info.author_key_en
                    && rule.author_key_digests.contains(&r.author_key_digest)),
            one_of(&rule.author_key_digests, |x| hex::encode(x)),
            if r.key_info.author_key_en {
                hex::encode(r.author_key_digest)
            } else {
                "no author key (AUTHOR_KEY_EN = 0)".into()
            },
        ),
        (
            "snp_family_id",
            "FAMILY_ID",
            rule.family_ids.is_empty() || rule.family_ids.contains(&r.family_id),
            one_of(&rule.family_ids, |x| hex::encode(x)),
            hex::encode(r.family_id),
        ),
        (
            "snp_image_id",
            "IMAGE_ID",
            rule.image_ids.is_empty() || rule.image_ids.contains(&r.image_id),
            one_of(&rule.image_ids, |x| hex::encode(x)),
            hex::encode(r.image_id),
        ),
        (
            "snp_chip_id",
            "CHIP_ID",
            rule.chip_ids.is_empty()
                || (c.signing_key == crate::snp::SnpSignerKind::Vcek
                    && !r.key_info.mask_chip_key
                    && r.chip_id != [0u8; 64]
                    && rule.chip_ids.contains(&r.chip_id)),
            one_of(&rule.chip_ids, |x| hex::encode(x)),
            if c.signing_key == crate::snp::SnpSignerKind::Vlek || r.chip_id == [0u8; 64] {
                "masked (VLEK-signed or MASK_CHIP_ID)".into()
            } else {
                hex::encode(r.chip_id)
            },
        ),
    ];
    for (check, what, ok, expected, observed) in sets {
        if !ok {
            fail(check, expected, observed, what);
        }
    }
    if let Some(min) = rule.min_guest_svn {
        if r.guest_svn < min {
            fail(
                "snp_guest_svn",
                format!("≥ {min}"),
                r.guest_svn.to_string(),
                "GUEST_SVN",
            );
        }
    }
    if let Some(min) = rule.min_committed_firmware {
        if fw(r.committed_version) < min {
            fail(
                "snp_firmware",
                format!("≥ {}.{}.{}", min.0, min.1, min.2),
                r.committed_version.to_string(),
                "committed firmware version",
            );
        }
    }
    let layout = c.product.tcb_layout();
    if rule.refuse_provisional_firmware && r.current_tcb != r.committed_tcb {
        fail(
            "snp_tcb",
            format!("CURRENT_TCB = COMMITTED_TCB {}", r.committed_tcb),
            format!("CURRENT_TCB {}", r.current_tcb),
            "provisional (uncommitted) firmware",
        );
    }
    if let Some(min) = rule.min_tcb.get(&c.product) {
        for (label, v) in [
            ("REPORTED_TCB", r.reported_tcb),
            ("COMMITTED_TCB", r.committed_tcb),
        ] {
            if !v.dominates(*min, layout) {
                fail(
                    "snp_tcb",
                    format!("≥ {min} ({})", min.parts(layout)),
                    format!("{v} ({})", v.parts(layout)),
                    &format!("{label} (minimum for {})", c.product),
                );
            }
        }
    }
    if let Some(min) = rule.min_launch_tcb.get(&c.product) {
        let v = r.launch_tcb;
        if !v.dominates(*min, layout) {
            fail(
                "snp_tcb",
                format!("≥ {min} ({})", min.parts(layout)),
                format!("{v} ({})", v.parts(layout)),
                &format!("LAUNCH_TCB (minimum for {})", c.product),
            );
        }
    }
    out
}
