//! Intel TDX evidence: a DCAP TD quote whose REPORT_DATA carries the
//! binding, verified by [`crate::tdx::verify_quote_with_root`] against the
//! Intel SGX Root CA and the collateral the I/O edge gathered, plus the
//! CCEL and the sealed build's runtime log replayed to the quoted RTMRs.
//!
//! Specifications:
//!
//! * "Intel® TDX DCAP Quoting Library API", appendix "Quote Format": the TD
//!   quote and its REPORT_DATA (64 bytes; sealbuild puts the binding digest
//!   in the first 32 and zeros in the rest, as for SEV-SNP,
//!   `sealbuild_common::binding`).
//! * UEFI 2.10 §38 and the Intel TDX Virtual Firmware Design Guide: the
//!   CCEL, whose MR indices 1–3 are RTMR0–2 (`eventlog::ccel`); a mismatch
//!   names the register and the last event that extends it.
//! * TCG "Canonical Event Log Format" 1.0: the runtime log (`cel`), whose
//!   records' `pcr` handle is the RTMR number 3 and whose SHA-384 digests
//!   replay as `TDG.MR.RTMR.EXTEND` does (Intel TDX Module Architecture
//!   Specification, 344425): `RTMR3 = SHA-384(RTMR3 ‖ digest)` from zero.
//!
//! The TCB status is reported in the claims, not judged here: the policy's
//! `[reference.tdx] tcb_statuses` accepts or refuses it.

use super::{wrong_platform, CollateralNeed, Enrolment, EvidenceVerifier, VerifyContext};
use crate::claims::{PlatformClaims, TdxClaims};
use crate::tdx::pck::unverified_pck_identity;
use crate::tdx::{check_name, DcapCache, IntelRoot, QuoteClaims, TdClaims, TdxError};
use sealbuild_common::api::{Evidence, Reason, TdxEvidence};
use sealbuild_common::cel::CelLog;
use sealbuild_common::eventlog::ccel::{CcelLog, Rtmr};
use sealbuild_common::eventlog::DataBinding;
use sealbuild_common::tdx::Quote;
use sealbuild_common::{HashAlg, Platform};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The RTMR a sealed build's runtime log extends (CEL `pcr` handle).
pub const RUNTIME_RTMR: u32 = 3;

/// The verifier of TDX evidence.
#[derive(Debug, Clone)]
pub struct TdxVerifier {
    root: Arc<IntelRoot>,
    cache: Arc<DcapCache>,
}

impl TdxVerifier {
    /// Trusting `root` (the built-in Intel SGX Root CA outside tests).
    pub fn new(root: Arc<IntelRoot>) -> Self {
        Self {
            root,
            cache: Arc::new(DcapCache::default()),
        }
    }
}

/// REPORT_DATA of a quote carrying `binding`: binding ‖ 32 zero bytes.
pub fn tdx_report_data(binding: &[u8; 32]) -> [u8; 64] {
    sealbuild_common::binding::snp_report_data(binding)
}

/// A DCAP error as a reason: its check name, and what was expected and
/// seen where the error has one value of each.
pub fn tdx_reason(e: &TdxError) -> Reason {
    let (expected, observed) = match e {
        TdxError::Unsupported { expected, got, .. }
        | TdxError::Mismatch { expected, got, .. }
        | TdxError::QeReportData { expected, got } => (Some(expected.clone()), Some(got.clone())),
        TdxError::NoMatchingTcbLevel {
            seen,
            lowest_required,
            ..
        } => (Some(lowest_required.clone()), Some(seen.clone())),
        TdxError::NotCurrent {
            at,
            issue_date,
            next_update,
            ..
        } => (
            Some(format!("valid from {issue_date} to {next_update}")),
            Some(at.clone()),
        ),
        TdxError::CacheNotCurrent {
            at,
            verified_at,
            valid_until,
            ..
        } => (
            Some(format!("from {verified_at} to {valid_until}")),
            Some(at.clone()),
        ),
        TdxError::StatusNotAccepted {
            status, accepted, ..
        } => (Some(accepted.clone()), Some(status.as_str().to_string())),
        _ => (None, None),
    };
    Reason::new(check_name(e), expected, observed, e.to_string())
}

fn reason(
    check: &str,
    expected: impl Into<String>,
    observed: impl Into<String>,
    msg: String,
) -> Reason {
    Reason::new(check, Some(expected.into()), Some(observed.into()), msg)
}

/// Reasons the CCEL does not replay to the quote's RTMR0–2 (empty: it
/// does). RTMR3 belongs to the guest's software and its runtime log.
pub fn check_ccel(area: &[u8], td: &TdClaims) -> Vec<Reason> {
    let log = match CcelLog::parse(area) {
        Ok(l) => l,
        Err(e) => {
            return vec![reason(
                "tdx_ccel",
                "a CCEL log area (TCG2, SHA-384)",
                "malformed",
                format!("CCEL does not parse: {e}"),
            )]
        }
    };
    let quoted: BTreeMap<Rtmr, [u8; 48]> = [
        (Rtmr::Rtmr0, td.rtmr0),
        (Rtmr::Rtmr1, td.rtmr1),
        (Rtmr::Rtmr2, td.rtmr2),
    ]
    .into();
    let mut out: Vec<Reason> = log
        .compare_rtmrs(&quoted)
        .into_iter()
        .map(|m| {
            reason(
                "tdx_ccel",
                hex::encode(m.expected),
                hex::encode(m.replayed),
                format!("CCEL replay does not give the quoted {m}"),
            )
        })
        .collect();
    // The digests replayed, but an event whose digest is defined as the
    // hash of its data (TCG PC Client PFP §10.4.1: EV_SEPARATOR,
    // EV_EFI_ACTION, UEFI variables, GPT) must carry that data: otherwise
    // the log shows something other than what was measured.
    for (i, e) in log.events().iter().enumerate() {
        if let DataBinding::Unbound { alg } = e.data_binding() {
            out.push(reason(
                "tdx_ccel",
                format!("event data whose {alg} hash is the logged digest"),
                "other data",
                format!(
                    "CCEL event {} ({}, {}): the {alg} digest is not the hash of the event \
                     data, so the log misstates what was measured",
                    i + 1,
                    e.event_type,
                    Rtmr::from_mr_index(e.pcr)
                        .map_or_else(|| format!("MR index {}", e.pcr), |r| r.to_string())
                ),
            ));
        }
    }
    out
}

/// Reasons the runtime log does not replay to the quoted RTMR3 (empty: it
/// does) or does not end with `statement`, the statement the binding names.
pub fn check_runtime_log(
    bytes: Option<&[u8]>,
    rtmr3: &[u8; 48],
    statement: Option<[u8; 32]>,
) -> Vec<Reason> {
    const CHECK: &str = "tdx_runtime_log";
    let Some(bytes) = bytes else {
        return match statement {
            None => vec![],
            Some(_) => vec![reason(
                CHECK,
                "a runtime log for RTMR3",
                "none",
                "the attestation binds a build statement but sends no runtime log".into(),
            )],
        };
    };
    let log = match CelLog::parse(bytes) {
        Ok(l) => l,
        Err(e) => {
            return vec![reason(
                CHECK,
                "a runtime log (TCG CEL-JSON)",
                "malformed",
                format!("runtime log (TCG CEL) does not parse: {e}"),
            )]
        }
    };
    let mut out = Vec::new();
    for r in &log.records {
        if r.pcr != RUNTIME_RTMR || !r.digests.contains_key(&HashAlg::Sha384) {
            out.push(reason(
                CHECK,
                format!("pcr {RUNTIME_RTMR} (RTMR3) with a sha384 digest"),
                format!(
                    "pcr {} with {:?}",
                    r.pcr,
                    r.digests.keys().collect::<Vec<_>>()
                ),
                format!(
                    "runtime log record {}: a TDX runtime log extends RTMR3 with SHA-384 digests",
                    r.recnum
                ),
            ));
        }
    }
    let replayed = log
        .replay(HashAlg::Sha384)
        .get(&RUNTIME_RTMR)
        .cloned()
        .unwrap_or_else(|| vec![0u8; 48]);
    if replayed.as_slice() != rtmr3.as_slice() {
        let last = log
            .records
            .last()
            .map(|r| format!("record {}: {}", r.recnum, r.event.kind.name()))
            .unwrap_or_else(|| "no records".into());
        out.push(reason(
            CHECK,
            hex::encode(rtmr3),
            hex::encode(&replayed),
            format!(
                "RTMR3: quoted {}, runtime-log replay gives {} ({} records; last {last})",
                hex::encode(rtmr3),
                hex::encode(&replayed),
                log.records.len()
            ),
        ));
    }
    let logged = log.statement_digest();
    if logged != statement {
        let show = |d: Option<[u8; 32]>| d.map(hex::encode).unwrap_or_else(|| "none".into());
        out.push(reason(
            CHECK,
            show(statement),
            show(logged),
            format!(
                "the runtime log ends with statement {}, but the binding names statement {}",
                show(logged),
                show(statement)
            ),
        ));
    }
    out
}

impl TdxVerifier {
    /// DCAP verification, binding, CCEL and runtime log of one piece of
    /// evidence; every failing check after DCAP is reported.
    fn verify_tdx(
        &self,
        ev: &TdxEvidence,
        cx: &VerifyContext<'_>,
    ) -> Result<TdxClaims, Vec<Reason>> {
        let Some(collateral) = cx.collateral.tdx.as_deref() else {
            // Name a malformed quote before the missing collateral.
            let q = Quote::parse(&ev.quote).map_err(|e| vec![tdx_reason(&e.into())])?;
            let fmspc = unverified_pck_identity(&q)
                .map(|(f, ca)| format!("FMSPC {} ({} CA)", hex::encode(f), ca.as_str()))
                .unwrap_or_else(|_| "the quote's FMSPC".into());
            return Err(vec![reason(
                "tdx_collateral",
                format!("TCB Info, QE Identity and CRLs for {fmspc}"),
                "none",
                format!("no DCAP collateral for {fmspc} in the collateral store"),
            )]);
        };
        let v = self
            .cache
            .verify(&ev.quote, collateral, &self.root, cx.now)
            .map_err(|e| vec![tdx_reason(&e)])?;
        let QuoteClaims::Td(td) = v.claims else {
            return Err(vec![reason(
                "tdx_quote",
                "a TDX quote",
                "an SGX quote",
                "TDX evidence carries an SGX enclave quote".into(),
            )]);
        };
        let mut reasons = Vec::new();
        let expected = tdx_report_data(cx.binding);
        if td.report_data != expected {
            reasons.push(reason(
                "tdx_binding",
                hex::encode(expected),
                hex::encode(td.report_data),
                "REPORT_DATA is not the binding digest followed by 32 zero bytes".into(),
            ));
        }
        if let Some(area) = &ev.ccel {
            reasons.extend(check_ccel(area, &td));
        }
        reasons.extend(check_runtime_log(
            ev.runtime_log.as_deref(),
            &td.rtmr3,
            cx.statement_digest,
        ));
        if !reasons.is_empty() {
            return Err(reasons);
        }
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
            ccel_replayed: ev.ccel.is_some(),
            runtime_log_replayed: ev.runtime_log.is_some(),
        })
    }
}

impl EvidenceVerifier for TdxVerifier {
    fn platform(&self) -> Platform {
        Platform::Tdx
    }

    fn checks_summary(&self) -> &'static str {
        "TDX quote (DCAP: PCK chain, CRLs, TCB Info, QE Identity), REPORT_DATA binding, \
         CCEL and runtime log re-verified"
    }

    fn enrolment(&self) -> Enrolment {
        Enrolment::Hardware
    }

    fn collateral_need(&self, evidence: &Evidence) -> CollateralNeed {
        let Evidence::Tdx(ev) = evidence else {
            return CollateralNeed::None;
        };
        // Verification names a parse error.
        match Quote::parse(&ev.quote).map(|q| unverified_pck_identity(&q)) {
            Ok(Ok((fmspc, ca))) => CollateralNeed::TdxDcap { fmspc, ca },
            _ => CollateralNeed::None,
        }
    }

    fn verify(
        &self,
        evidence: &Evidence,
        cx: &VerifyContext<'_>,
    ) -> Result<PlatformClaims, Vec<Reason>> {
        let Evidence::Tdx(ev) = evidence else {
            return Err(wrong_platform(Platform::Tdx, evidence));
        };
        self.verify_tdx(ev, cx)
            .map(|c| PlatformClaims::Tdx(Box::new(c)))
    }
}
