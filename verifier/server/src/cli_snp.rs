//! `verify snp`: offline verification of an SEV-SNP attestation report.
//!
//! ```text
//! sealbuild-verifier verify snp --report F [--vcek F | --certs DIR]
//!     [--product milan|genoa|turin] [--at RFC3339] [--policy F]
//!     [--allow-debug] [--json]
//! ```
//!
//! `--certs DIR` reads the layout snpguest writes: `vcek.der`/`vcek.pem` or
//! `vlek.der`/`vlek.pem`, plus `ark.pem`/`ask.pem` (and `asvk.pem`), which
//! must be AMD's — the roots themselves are built in and never taken from
//! the directory — and optionally `crl.der` (AMD's CRL for the product). The
//! verdict is `accepted` when the report verifies and (with `--policy`)
//! matches one of the policy's SEV-SNP reference sets; without a policy
//! only the hardware checks and the debug rule apply. A report that does not
//! parse is rejected (exit 1) with the reason `malformed_evidence` naming the
//! field; exit 2 is for usage and I/O errors only.

use crate::cli_verify::{
    insert_verdict_json, outcome, print_verdict, read_policy_text, reference_reasons,
    verification_time,
};
use crate::Outcome;
use anyhow::{bail, Context, Result};
use sealbuild_common::api::Reason;
use sealbuild_common::snp::{AttestationReport, SnpProduct};
use sealbuild_verifier_core::claims::SnpClaims;
use sealbuild_verifier_core::policy::{snp_problems, SnpRule};
use sealbuild_verifier_core::snp::{verify_snp, AmdRoots, SnpInput};
use serde_json::json;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct SnpArgs {
    /// The 1184-byte attestation report (binary, as snpguest writes it).
    #[arg(long)]
    report: PathBuf,
    /// The VCEK or VLEK certificate (DER or PEM).
    #[arg(long, conflicts_with = "certs")]
    vcek: Option<PathBuf>,
    /// A directory in snpguest's layout (vcek.der|vcek.pem|vlek.pem, ark.pem, ask.pem, crl.der).
    #[arg(long)]
    certs: Option<PathBuf>,
    /// The product the report must come from (default: from the report's CPUID).
    #[arg(long, value_parser = ["milan", "genoa", "turin"])]
    product: Option<String>,
    /// Verification time, RFC 3339 (default: now).
    #[arg(long)]
    at: Option<String>,
    /// An appraisal policy (TOML or JSON) with `platform = "snp"` reference sets.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Accept guests whose policy allows debugging (refused by default).
    #[arg(long)]
    allow_debug: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Reads a certificate file, DER or PEM (first CERTIFICATE block).
pub fn read_cert(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if bytes.starts_with(b"-----BEGIN") {
        let mut rd = bytes.as_slice();
        let Some(item) = rustls_pemfile::certs(&mut rd).next() else {
            bail!("{}: holds no CERTIFICATE block", path.display());
        };
        let c = item.with_context(|| format!("{}: PEM does not decode", path.display()))?;
        return Ok(c.as_ref().to_vec());
    }
    Ok(bytes)
}

/// Parses an RFC 3339 date-time into Unix seconds (fractions dropped).
pub fn parse_rfc3339(s: &str) -> Result<u64> {
    let bad =
        || anyhow::anyhow!("--at {s:?} is not an RFC 3339 date-time (e.g. 2025-06-01T00:00:00Z)");
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Result<u32> {
        let t = s.get(from..from + len).ok_or_else(bad)?;
        if !t.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        t.parse::<u32>().map_err(|_| bad())
    };
    let sep = |at: usize, c: &[u8]| b.get(at).is_some_and(|x| c.contains(x));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
        return Err(bad());
    }
    let (y, mo, d, h, mi, se) = (
        num(0, 4)?,
        num(5, 2)?,
        num(8, 2)?,
        num(11, 2)?,
        num(14, 2)?,
        num(17, 2)?,
    );
    let mut at = 19;
    if sep(at, b".") {
        at += 1;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
    }
    let zone = s.get(at..).ok_or_else(bad)?;
    let offset: i64 = match zone {
        "Z" | "z" => 0,
        z if z.len() == 6 && (z.starts_with('+') || z.starts_with('-')) && sep(at + 3, b":") => {
            let secs = i64::from(num(at + 1, 2)?) * 3600 + i64::from(num(at + 4, 2)?) * 60;
            if z.starts_with('-') {
                -secs
            } else {
                secs
            }
        }
        _ => return Err(bad()),
    };
    let dt = der::DateTime::new(
        u16::try_from(y).map_err(|_| bad())?,
        u8::try_from(mo).map_err(|_| bad())?,
        u8::try_from(d).map_err(|_| bad())?,
        u8::try_from(h).map_err(|_| bad())?,
        u8::try_from(mi).map_err(|_| bad())?,
        u8::try_from(se.min(59)).map_err(|_| bad())?,
    )
    .map_err(|_| bad())?;
    let local = i64::try_from(dt.unix_duration().as_secs()).map_err(|_| bad())?;
    u64::try_from(local - offset).map_err(|_| bad())
}

/// Reads an snpguest-layout certificate directory: its VCEK and/or VLEK
/// (DER or PEM) into `keys`, `crl.der` into `crls`. An ARK/ASK/ASVK there
/// must be one of AMD's built-in certificates (a usage error otherwise): the
/// roots are built in and never taken from the directory.
pub(crate) fn read_cert_dir(
    dir: &Path,
    roots: &AmdRoots,
    keys: &mut Vec<Vec<u8>>,
    crls: &mut Vec<Vec<u8>>,
) -> Result<()> {
    if !dir.is_dir() {
        bail!("--certs {}: not a directory", dir.display());
    }
    let before = keys.len();
    for name in [["vcek.der", "vcek.pem"], ["vlek.der", "vlek.pem"]] {
        if let Some(p) = first_existing(dir, &name) {
            keys.push(read_cert(&p)?);
        }
    }
    if keys.len() == before {
        bail!(
            "--certs {}: holds neither vcek.der, vcek.pem, vlek.der nor vlek.pem",
            dir.display()
        );
    }
    for name in [
        "ark.pem", "ask.pem", "asvk.pem", "ark.der", "ask.der", "asvk.der",
    ] {
        let p = dir.join(name);
        if p.is_file() {
            let der = read_cert(&p)?;
            let known = roots
                .all()
                .iter()
                .any(|r| r.ark == der || r.ask == der || r.asvk.as_ref() == Some(&der));
            if !known {
                bail!(
                    "{}: not one of AMD's built-in ARK/ASK/ASVK certificates; this verifier trusts only AMD's roots",
                    p.display()
                );
            }
        }
    }
    if let Some(p) = first_existing(dir, &["crl.der"]) {
        crls.push(std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?);
    }
    Ok(())
}

fn first_existing(dir: &Path, names: &[&str]) -> Option<PathBuf> {
    names.iter().map(|n| dir.join(n)).find(|p| p.is_file())
}

/// The JSON claims of a report (verified or not: `verified` says which).
pub fn report_json(r: &AttestationReport) -> serde_json::Value {
    json!({
        "version": r.version,
        "guest_svn": r.guest_svn,
        "policy": format!("{:#x}", r.policy.0),
        "family_id": hex::encode(r.family_id),
        "image_id": hex::encode(r.image_id),
        "vmpl": r.vmpl,
        "current_tcb": format!("{:#018x}", r.current_tcb.0),
        "platform_info": format!("{:#x}", r.platform_info.0),
        "signing_key": r.key_info.signing_key.name(),
        "report_data": hex::encode(r.report_data),
        "measurement": hex::encode(r.measurement),
        "host_data": hex::encode(r.host_data),
        "id_key_digest": hex::encode(r.id_key_digest),
        "author_key_digest": hex::encode(r.author_key_digest),
        "report_id": hex::encode(r.report_id),
        "reported_tcb": format!("{:#018x}", r.reported_tcb.0),
        "chip_id": hex::encode(r.chip_id),
        "committed_tcb": format!("{:#018x}", r.committed_tcb.0),
        "launch_tcb": format!("{:#018x}", r.launch_tcb.0),
        "current_firmware": r.current_version.to_string(),
        "committed_firmware": r.committed_version.to_string(),
    })
}

fn claims_json(c: &SnpClaims) -> serde_json::Value {
    let mut v = report_json(&c.report);
    if let Some(o) = v.as_object_mut() {
        o.insert("product".into(), json!(c.product.id()));
        o.insert("signing_key".into(), json!(c.signing_key.as_str()));
        o.insert(
            "signer_fingerprint".into(),
            json!(hex::encode(c.signer_fingerprint)),
        );
        o.insert("crl_checked".into(), json!(c.crl_checked));
        if let Some(csp) = &c.csp_id {
            o.insert("csp_id".into(), json!(csp));
        }
        if c.insecure_test_root {
            o.insert("insecure_test_root".into(), json!(true));
        }
    }
    v
}

/// What the policy (`(path, text)`; without one, the hardware rule) says
/// of verified claims: no reasons when a reference set matched (its name is
/// added to `matched`) or the hardware rule holds.
fn policy_reasons(
    policy: Option<(&Path, &str)>,
    allow_debug: bool,
    c: &SnpClaims,
    matched: &mut Vec<String>,
) -> Result<Vec<Reason>> {
    let Some((p, text)) = policy else {
        return Ok(snp_problems(
            "hardware",
            &SnpRule::hardware_only(allow_debug),
            c,
        ));
    };
    reference_reasons(
        p,
        text,
        "snp",
        |r| {
            let mut rule = r.rule.snp()?.clone();
            rule.allow_debug |= allow_debug;
            Some(snp_problems(&r.name, &rule, c))
        },
        matched,
    )
}

pub fn verify_snp_files(a: SnpArgs) -> Result<Outcome> {
    let report =
        std::fs::read(&a.report).with_context(|| format!("reading {}", a.report.display()))?;
    let expected_product = a.product.as_deref().and_then(SnpProduct::from_name);
    let at = verification_time(a.at.as_deref())?;
    let roots = AmdRoots::builtin();
    let mut keys: Vec<Vec<u8>> = Vec::new();
    let mut crls: Vec<Vec<u8>> = Vec::new();
    if let Some(v) = &a.vcek {
        keys.push(read_cert(v)?);
    }
    if let Some(dir) = &a.certs {
        read_cert_dir(dir, &roots, &mut keys, &mut crls)?;
    }
    let policy_text = read_policy_text(a.policy.as_deref())?;
    // A report that does not parse is malformed evidence (exit 1), named
    // by the parser's field; everything after is verification.
    if let Err(e) = AttestationReport::parse(&report) {
        return crate::cli_verify::malformed(a.json, &a.report, "SEV-SNP ATTESTATION_REPORT", &e);
    }
    let key_refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    let crl_refs: Vec<&[u8]> = crls.iter().map(Vec::as_slice).collect();
    let verified = verify_snp(&SnpInput {
        report: &report,
        endorsement_keys: &key_refs,
        roots: &roots,
        crls: &crl_refs,
        expected_product,
        expected_report_data: None,
        at_unix_secs: at,
    });

    let mut reasons: Vec<Reason> = Vec::new();
    let mut matched: Vec<String> = Vec::new();
    let claims = match verified {
        Ok(c) => Some(c),
        Err(r) => {
            reasons = r;
            None
        }
    };
    if let Some(c) = &claims {
        let policy = a.policy.as_deref().zip(policy_text.as_deref());
        reasons.extend(policy_reasons(policy, a.allow_debug, c, &mut matched)?);
    }
    let accepted = reasons.is_empty();
    let verdict = if accepted { "accepted" } else { "rejected" };
    if a.json {
        let mut out = match (&claims, AttestationReport::parse(&report)) {
            (Some(c), _) => claims_json(c),
            (None, Ok(r)) => report_json(&r),
            (None, Err(_)) => json!({}),
        };
        if let Some(o) = out.as_object_mut() {
            if !o.contains_key("product") {
                o.insert(
                    "product".into(),
                    json!(expected_product.map(SnpProduct::id)),
                );
            }
            insert_verdict_json(o, claims.is_some(), verdict, &reasons, at)?;
            if a.policy.is_some() {
                o.insert("matched_references".into(), json!(matched));
            }
        }
        out!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        if let Some(c) = &claims {
            let r = &c.report;
            out!(
                "report: version {}, {} signed by {}",
                r.version,
                c.product,
                c.signing_key.as_str().to_uppercase()
            );
            print_report_lines(r);
            if !matched.is_empty() {
                out!("matched: {}", matched.join(", "));
            }
        }
        print_verdict(verdict, &reasons);
    }
    Ok(outcome(accepted))
}

/// The measurement, REPORT_DATA, policy, VMPL and reported TCB lines of
/// the text output (`verify snp` and `verify azure` for SEV-SNP).
pub(crate) fn print_report_lines(r: &AttestationReport) {
    out!("measurement: {}", hex::encode(r.measurement));
    out!("report_data: {}", hex::encode(r.report_data));
    out!(
        "policy: {:#x}  vmpl: {}  reported_tcb: {:#018x}",
        r.policy.0,
        r.vmpl,
        r.reported_tcb.0
    );
}
