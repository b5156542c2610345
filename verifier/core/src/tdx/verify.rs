//! DCAP quote verification, policy-free: bytes, collateral and a time in;
//! the quote's claims and its TCB status out.
//!
//! Order of the checks (Intel's Quote Verification Library follows the
//! same steps, "QuoteVerifier::verify"):
//!
//! 1. The quote parses ([`Quote::parse`]); the QE vendor is Intel's and the
//!    PCK certification data is a type-5 PEM chain.
//! 2. The PCK chain ends in, and verifies to, the built-in Intel SGX Root CA
//!    at `now`; the PCK certificate's SGX extensions are read.
//! 3. The QE report signature verifies with the PCK key; the QE report's
//!    REPORTDATA is SHA-256(attestation key ‖ QE authentication data)
//!    followed by 32 zero bytes; the quote signature verifies with the
//!    attestation key over header ‖ body.
//! 4. (With collateral) the root CA CRL, the TCB Info and QE Identity
//!    signatures, chains and windows ([`TdxCollateral::verify`]); the PCK's
//!    issuing CA is not revoked by the root CA CRL and the PCK certificate
//!    is not revoked by the PCK CRL of that CA.
//! 5. TCB Info names the quote's TEE, FMSPC and PCE ID; for TDX the TDX
//!    module's signer and attributes match `tdxModule` or the
//!    `tdxModuleIdentities` entry; the QE report matches the QE Identity
//!    (MRSIGNER, ISVPRODID, masked MISCSELECT and ATTRIBUTES); the TCB
//!    levels give the status and advisories ([`super::tcbinfo`]).
//!
//! Acceptance of a status is the policy's: see [`TdxVerified::check_status`].
//!
//! Steps 2 and 4 depend only on the PCK certification data and the
//! collateral, not on the quote: a verifier that appraises many quotes of the
//! same platforms verifies the collateral once ([`TdxCollateral::verify`] →
//! [`VerifiedCollateral`]) and each PCK chain once ([`VerifiedPck::verify`],
//! kept under the exact certification-data bytes), and per quote runs
//! [`verify_quote_cached`]: steps 1, 3 and 5 with the same checks and the
//! same [`TdxVerified`] as [`verify_quote`], inside the interval in which
//! every cached check holds.

use sealbuild_common::crypto::{sha256_parts, Curve, VerifyingKey};
use sealbuild_common::tdx::{Quote, QuoteBody, TeeType, CERT_TYPE_PCK_CHAIN, INTEL_QE_VENDOR_ID};
use sealbuild_common::HashAlg;

use super::claims::{QuoteClaims, TcbVerdict, TdxVerified};
use super::collateral::{ends_in_root, TdxCollateral, VerifiedCollateral};
use super::pck::{pck_ca, pem_chain, verify_chain, PckCa, PckExtensions, VerifiedLeaf};
use super::roots::IntelRoot;
use super::tcbinfo::{hex_field, MatchedLevel, PckTcb, QeIdentity, TcbInfo, TcbStatus};
use super::{mismatch, TdxError, CACHED_PCK};
use crate::ekcert::cert::fmt_time;
use crate::ekcert::crl::verify_crl;

/// A quote whose signatures and PCK chain verified (no collateral yet).
#[derive(Debug)]
pub struct VerifiedQuote {
    /// The parsed quote.
    pub quote: Quote,
    /// The verified PCK certificate (and its issuing CA's DER).
    pub pck: VerifiedLeaf,
    /// Its SGX extensions.
    pub pck_ext: PckExtensions,
    /// Platform or Processor CA.
    pub pck_ca: PckCa,
}

fn unsupported(what: &'static str, expected: impl ToString, got: impl ToString) -> TdxError {
    TdxError::Unsupported {
        what,
        expected: expected.to_string(),
        got: got.to_string(),
    }
}

/// Step 1 beyond parsing: an Intel QE and a type-5 PCK chain; returns the
/// PCK certification data (the PEM chain).
fn pck_cert_data(quote: &Quote) -> Result<&[u8], TdxError> {
    if quote.header.qe_vendor_id != INTEL_QE_VENDOR_ID {
        return Err(unsupported(
            "QE Vendor ID",
            hex::encode(INTEL_QE_VENDOR_ID),
            hex::encode(quote.header.qe_vendor_id),
        ));
    }
    let data = &quote.signature_data.qe.pck_cert_data;
    if data.cert_type != CERT_TYPE_PCK_CHAIN {
        return Err(unsupported(
            "PCK certification data type",
            "5 (PEM PCK certificate chain)",
            data.cert_type,
        ));
    }
    Ok(&data.data)
}

/// A PCK chain that verified (step 2).
struct PckChain {
    leaf: VerifiedLeaf,
    ext: PckExtensions,
    ca: PckCa,
    /// The chain, DER, leaf first.
    chain: Vec<Vec<u8>>,
}

/// Step 2: the PEM PCK chain to `root` at `now`, its SGX extensions and
/// issuing CA.
fn verify_pck_chain(cert_data: &[u8], root: &IntelRoot, now: u64) -> Result<PckChain, TdxError> {
    let chain = pem_chain("PCK", cert_data)?;
    ends_in_root("PCK chain", &chain, root.der())?;
    let leaf = verify_chain("PCK", &chain, root.der(), now)?;
    let ext = PckExtensions::from_der(&leaf.der)?;
    let ca = pck_ca(&leaf.cert)?;
    Ok(PckChain {
        leaf,
        ext,
        ca,
        chain,
    })
}

/// Step 3: the QE report signature with the PCK key, the QE report's
/// binding of the attestation key, and the quote signature.
fn verify_signatures(quote: &Quote, pck: &VerifiedLeaf) -> Result<(), TdxError> {
    let qe = &quote.signature_data.qe;
    let (r, s) = qe.qe_report_signature.split_at(32);
    pck.key
        .verify_ecdsa_rs(&qe.qe_report_bytes(), r, s)
        .map_err(|_| TdxError::QeReportSignature {
            pck: hex::encode(pck.cert.fingerprint_sha256),
        })?;
    let expected = sha256_parts(&[&quote.signature_data.attestation_key, &qe.qe_auth_data]);
    let rd = &qe.qe_report.report_data;
    if rd.get(..32) != Some(&expected[..]) || rd.iter().skip(32).any(|&b| b != 0) {
        return Err(TdxError::QeReportData {
            expected: hex::encode(expected),
            got: hex::encode(rd),
        });
    }
    let key = VerifyingKey::ecdsa(
        Curve::P256,
        &quote.signature_data.attestation_key_sec1(),
        HashAlg::Sha256,
    )
    .map_err(|e| unsupported("attestation key", "a P-256 point", e))?;
    let signed = quote.signed_bytes();
    let (r, s) = quote.signature_data.signature.split_at(32);
    key.verify_ecdsa_rs(&signed, r, s)
        .map_err(|_| TdxError::QuoteSignature {
            signed: signed.len(),
        })
}

/// Steps 1–3: parses `quote_bytes` and checks everything that needs no
/// collateral (PCK chain at `now`, QE report signature and binding, quote
/// signature).
pub fn verify_quote_signatures(
    quote_bytes: &[u8],
    root: &IntelRoot,
    now: u64,
) -> Result<VerifiedQuote, TdxError> {
    let quote = Quote::parse(quote_bytes)?;
    let c = verify_pck_chain(pck_cert_data(&quote)?, root, now)?;
    verify_signatures(&quote, &c.leaf)?;
    Ok(VerifiedQuote {
        quote,
        pck: c.leaf,
        pck_ext: c.ext,
        pck_ca: c.ca,
    })
}

/// Verifies a quote completely at `now` (Unix seconds) against the
/// built-in Intel SGX Root CA and `collateral`: every step of the module
/// documentation. A quote whose TCB matches no level is refused
/// ([`TdxError::NoMatchingTcbLevel`]); any matched status, Revoked
/// included, is returned for the policy to accept or refuse.
pub fn verify_quote(
    quote_bytes: &[u8],
    collateral: &TdxCollateral,
    now: u64,
) -> Result<TdxVerified, TdxError> {
    verify_quote_with_root(quote_bytes, collateral, &IntelRoot::builtin(), now)
}

/// [`verify_quote`] with an explicit root (tests, and a simulated backend's
/// root in an insecure build).
pub fn verify_quote_with_root(
    quote_bytes: &[u8],
    collateral: &TdxCollateral,
    root: &IntelRoot,
    now: u64,
) -> Result<TdxVerified, TdxError> {
    let v = verify_quote_signatures(quote_bytes, root, now)?;
    let col = collateral.verify(root.der(), now)?;
    col.root_crl.check_not_revoked(&v.pck.issuer_der)?;
    let pck_crl = verify_crl(&collateral.pck_crl, &v.pck.issuer_der, now, "Intel PCK CRL")?;
    pck_crl.check_not_revoked(&v.pck.der)?;
    let tcb = appraise_tcb(&v, &col.tcb_info, &col.qe_identity)?;
    Ok(verified(
        &v.quote,
        &v.pck,
        &v.pck_ext,
        v.pck_ca,
        tcb,
        col.valid_until.min(pck_crl.next_update),
    ))
}

fn verified(
    quote: &Quote,
    pck: &VerifiedLeaf,
    ext: &PckExtensions,
    ca: PckCa,
    tcb: TcbVerdict,
    collateral_valid_until: u64,
) -> TdxVerified {
    TdxVerified {
        version: quote.header.version,
        body_type: quote.body.body_type(),
        tee_type: quote.header.tee_type,
        claims: QuoteClaims::from_body(&quote.body),
        fmspc: ext.fmspc,
        pce_id: ext.pce_id,
        pck_ca: ca,
        pck_fingerprint: pck.cert.fingerprint_sha256,
        tcb,
        collateral_valid_until,
    }
}

/// A PCK certificate chain verified once, for the quotes it certifies: to
/// the root at a time, not revoked by the root CA CRL and the PCK CRL of one
/// collateral, with its SGX extensions. Steps 2 and the PCK part of step 4;
/// [`verify_quote_cached`] uses it for every quote whose PCK certification
/// data is byte for byte [`Self::cert_data`], with a [`VerifiedCollateral`]
/// of the same collateral, from the verification time to
/// [`Self::valid_until`].
#[derive(Debug)]
pub struct VerifiedPck {
    cert_data: Vec<u8>,
    pck: VerifiedLeaf,
    ext: PckExtensions,
    ca: PckCa,
    crl_binding: [u8; 32],
    pck_crl_next_update: u64,
    verified_at: u64,
    valid_until: u64,
}

impl VerifiedPck {
    /// Verifies the PCK certification data `cert_data` (a quote's type-5
    /// PEM chain) at `now`: the chain ends in and verifies to `root`, its
    /// issuing CA is not revoked by `collateral`'s root CA CRL and the PCK
    /// certificate not by its PCK CRL (both current at `now`).
    pub fn verify(
        cert_data: &[u8],
        collateral: &TdxCollateral,
        root: &IntelRoot,
        now: u64,
    ) -> Result<Self, TdxError> {
        let PckChain {
            leaf: pck,
            ext,
            ca,
            chain,
        } = verify_pck_chain(cert_data, root, now)?;
        let root_crl = verify_crl(
            &collateral.root_ca_crl,
            root.der(),
            now,
            "Intel SGX Root CA CRL",
        )?;
        root_crl.check_not_revoked(&pck.issuer_der)?;
        let pck_crl = verify_crl(&collateral.pck_crl, &pck.issuer_der, now, "Intel PCK CRL")?;
        pck_crl.check_not_revoked(&pck.der)?;
        let mut valid_until = root_crl.next_update.min(pck_crl.next_update);
        for der in &chain {
            let cert = <x509_cert::Certificate as der::Decode>::from_der(der).map_err(|e| {
                TdxError::Pck {
                    reason: format!("certificate of the verified chain: {e}"),
                }
            })?;
            let not_after = cert.tbs_certificate.validity.not_after.to_unix_duration();
            valid_until = valid_until.min(not_after.as_secs());
        }
        Ok(Self {
            cert_data: cert_data.to_vec(),
            pck,
            ext,
            ca,
            crl_binding: collateral.crl_binding(root.der()),
            pck_crl_next_update: pck_crl.next_update,
            verified_at: now,
            valid_until,
        })
    }

    /// The exact PCK certification data it was verified from (the cache
    /// key: a quote carrying other bytes is not covered).
    pub fn cert_data(&self) -> &[u8] {
        &self.cert_data
    }

    /// The verified PCK certificate.
    pub fn leaf(&self) -> &VerifiedLeaf {
        &self.pck
    }

    /// Its SGX extensions.
    pub fn extensions(&self) -> &PckExtensions {
        &self.ext
    }

    /// Its issuing CA.
    pub fn ca(&self) -> PckCa {
        self.ca
    }

    /// When it was verified (Unix seconds).
    pub fn verified_at(&self) -> u64 {
        self.verified_at
    }

    /// The earliest notAfter of the chain and nextUpdate of the two CRLs
    /// (Unix seconds): it is used until then, never after.
    pub fn valid_until(&self) -> u64 {
        self.valid_until
    }
}

/// `verified_at ≤ now ≤ valid_until`, else [`TdxError::CacheNotCurrent`].
fn check_cached(
    what: &'static str,
    verified_at: u64,
    valid_until: u64,
    now: u64,
) -> Result<(), TdxError> {
    if verified_at <= now && now <= valid_until {
        return Ok(());
    }
    Err(TdxError::CacheNotCurrent {
        what,
        at: fmt_time(now),
        verified_at: fmt_time(verified_at),
        valid_until: fmt_time(valid_until),
    })
}

/// [`verify_quote`] of an already parsed `quote` with a PCK chain and a
/// collateral verified before: steps 1, 3 and 5 per quote, and the same
/// [`TdxVerified`] as the uncached path. The caller parses the quote
/// ([`Quote::parse`]) and looks its [`VerifiedPck`] up by
/// `quote.signature_data.qe.pck_cert_data.data`. Refused: a quote whose
/// PCK certification data differs from `pck`'s, a `pck` checked against
/// other CRLs than `collateral`'s ([`TdxCollateral::crl_binding`]), and a
/// `now` outside either one's `[verified_at, valid_until]`.
pub fn verify_quote_cached(
    quote: &Quote,
    pck: &VerifiedPck,
    collateral: &VerifiedCollateral,
    now: u64,
) -> Result<TdxVerified, TdxError> {
    let cert_data = pck_cert_data(quote)?;
    if cert_data != pck.cert_data.as_slice() {
        return Err(mismatch(
            "PCK certification data",
            format!(
                "the chain of the {CACHED_PCK} (SHA-256 {})",
                hex::encode(sealbuild_common::crypto::sha256(&pck.cert_data))
            ),
            format!(
                "another chain (SHA-256 {})",
                hex::encode(sealbuild_common::crypto::sha256(cert_data))
            ),
        ));
    }
    if pck.crl_binding != collateral.crl_binding {
        return Err(mismatch(
            "cached PCK chain CRLs",
            format!(
                "the root and CRLs of the collateral (binding {})",
                hex::encode(collateral.crl_binding)
            ),
            format!(
                "a chain checked against other CRLs (binding {})",
                hex::encode(pck.crl_binding)
            ),
        ));
    }
    check_cached(CACHED_PCK, pck.verified_at, pck.valid_until, now)?;
    check_cached(
        "cached collateral",
        collateral.verified_at,
        collateral.valid_until,
        now,
    )?;
    verify_signatures(quote, &pck.pck)?;
    let tcb = appraise(
        quote,
        &pck.ext,
        &collateral.tcb_info,
        &collateral.qe_identity,
    )?;
    Ok(verified(
        quote,
        &pck.pck,
        &pck.ext,
        pck.ca,
        tcb,
        collateral.valid_until.min(pck.pck_crl_next_update),
    ))
}

/// Step 5: TCB Info and QE Identity (already verified) against a verified
/// quote and its PCK: TEE, FMSPC and PCE ID, TDX module, QE identity, TCB
/// levels and the converged status.
pub fn appraise_tcb(
    v: &VerifiedQuote,
    info: &TcbInfo,
    qe_identity: &QeIdentity,
) -> Result<TcbVerdict, TdxError> {
    appraise(&v.quote, &v.pck_ext, info, qe_identity)
}

/// [`appraise_tcb`] of a quote whose signatures verified with the PCK
/// whose extensions are `pck_ext`.
fn appraise(
    quote: &Quote,
    pck_ext: &PckExtensions,
    info: &TcbInfo,
    qe_identity: &QeIdentity,
) -> Result<TcbVerdict, TdxError> {
    let tee = quote.header.tee_type;
    let want_id = tee.name();
    if info.id != want_id || info.version != 3 {
        return Err(mismatch(
            "TCB Info id/version",
            format!("{want_id} version 3 (the quote's TEE)"),
            format!("{} version {}", info.id, info.version),
        ));
    }
    let fmspc: [u8; 6] = hex_field("TCB Info", "fmspc", &info.fmspc)?;
    if fmspc != pck_ext.fmspc {
        return Err(mismatch(
            "TCB Info FMSPC",
            hex::encode(pck_ext.fmspc),
            hex::encode(fmspc),
        ));
    }
    let pce_id: [u8; 2] = hex_field("TCB Info", "pceId", &info.pce_id)?;
    if pce_id != pck_ext.pce_id {
        return Err(mismatch(
            "TCB Info PCE ID",
            hex::encode(pck_ext.pce_id),
            hex::encode(pce_id),
        ));
    }
    let module = match (&quote.body, tee) {
        (QuoteBody::Td(td), TeeType::Tdx) => super::module::check_tdx_module(info, td)?,
        _ => None,
    };
    let qe = super::module::check_qe_identity(qe_identity, quote)?;
    let pck_tcb = PckTcb {
        sgx_components: pck_ext.sgx_components,
        pce_svn: pck_ext.pce_svn,
    };
    let platform = info.match_platform(&pck_tcb, quote.td_report().map(|t| &t.tee_tcb_svn))?;
    let mut status = platform.status;
    let mut advisory_ids = Vec::new();
    for level in std::iter::once(&platform)
        .chain(module.iter())
        .chain(std::iter::once(&qe))
    {
        for a in &level.advisory_ids {
            if !advisory_ids.contains(a) {
                advisory_ids.push(a.clone());
            }
        }
    }
    if let Some(m) = &module {
        status = status.converge(m.status);
    }
    status = status.converge(qe.status);
    Ok(TcbVerdict {
        status,
        advisory_ids,
        platform_status: platform.status,
        tcb_date: platform.tcb_date,
        tdx_module_status: module.map(|m: MatchedLevel| m.status),
        qe_status: qe.status,
        tcb_evaluation_data_number: info.tcb_evaluation_data_number,
    })
}

/// The default set of accepted statuses: UpToDate only.
pub const DEFAULT_ACCEPTED: [TcbStatus; 1] = [TcbStatus::UpToDate];

#[cfg(test)]
mod tests {
    use super::*;

    /// 2025-07-19T10:00:34Z: the dcap-qvl v4 sample's time (its collateral
    /// is valid until one second later).
    const AT: u64 = 1_752_919_234;

    fn data(p: &str) -> Vec<u8> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/tdx/");
        std::fs::read(format!("{dir}{p}")).unwrap()
    }

    fn vector() -> (Vec<u8>, TdxCollateral) {
        let c = TdxCollateral::from_bundle_json(&data("dcap-qvl/tdx_quote_collateral.json"));
        (data("dcap-qvl/tdx_quote"), c.unwrap())
    }

    fn cached(
        quote: &[u8],
        pck: &VerifiedPck,
        col: &VerifiedCollateral,
        now: u64,
    ) -> Result<TdxVerified, TdxError> {
        verify_quote_cached(&Quote::parse(quote)?, pck, col, now)
    }

    #[test]
    fn cached_path_gives_the_uncached_verdict() {
        let (q, c) = vector();
        let root = IntelRoot::builtin();
        let full = verify_quote(&q, &c, AT).unwrap();
        assert_eq!(full.tcb.status, TcbStatus::UpToDate);
        let parsed = Quote::parse(&q).unwrap();
        let pck = VerifiedPck::verify(&parsed.signature_data.qe.pck_cert_data.data, &c, &root, AT)
            .unwrap();
        let col = c.verify(root.der(), AT).unwrap();
        assert_eq!(verify_quote_cached(&parsed, &pck, &col, AT).unwrap(), full);
        assert_eq!(pck.ca(), PckCa::Platform);
        assert_eq!(pck.extensions().fmspc, full.fmspc);
        assert_eq!(pck.leaf().cert.fingerprint_sha256, full.pck_fingerprint);
        assert_eq!((pck.verified_at(), pck.valid_until()), (AT, AT + 1));
        // Until the earliest expiry, and not before the verification.
        assert!(cached(&q, &pck, &col, AT + 1).is_ok());
        for t in [AT - 1, AT + 2] {
            let e = cached(&q, &pck, &col, t).unwrap_err();
            assert!(
                matches!(
                    e,
                    TdxError::CacheNotCurrent {
                        what: CACHED_PCK,
                        ..
                    }
                ),
                "{e}"
            );
            assert_eq!(super::super::check_name(&e), "tdx_pck");
        }
    }

    #[test]
    fn cached_path_refuses_a_flipped_byte() {
        let (q, c) = vector();
        let root = IntelRoot::builtin();
        let parsed = Quote::parse(&q).unwrap();
        let cert_data = parsed.signature_data.qe.pck_cert_data.data.clone();
        let pck = VerifiedPck::verify(&cert_data, &c, &root, AT).unwrap();
        let col = c.verify(root.der(), AT).unwrap();
        let flipped = |i: usize| {
            let mut b = q.clone();
            b[i] ^= 1;
            b
        };
        // Body (MRTD at 48 + 136): both paths refuse with the same error.
        let body = flipped(48 + 136);
        let e = cached(&body, &pck, &col, AT).unwrap_err();
        assert!(matches!(e, TdxError::QuoteSignature { .. }), "{e}");
        assert_eq!(verify_quote(&body, &c, AT).unwrap_err(), e);
        // The QE report (after header 48, body 584, length 4, signature 64,
        // key 64, certification data type 2 + size 4; MRENCLAVE at 64): its
        // signature fails.
        let qe = flipped(48 + 584 + 4 + 64 + 64 + 6 + 65);
        let e = cached(&qe, &pck, &col, AT).unwrap_err();
        assert!(matches!(e, TdxError::QeReportSignature { .. }), "{e}");
        assert_eq!(verify_quote(&qe, &c, AT).unwrap_err(), e);
        // A byte of the PCK chain: not the cached chain.
        let at = q
            .windows(cert_data.len())
            .position(|w| w == cert_data.as_slice())
            .unwrap();
        let chain = flipped(at + 100);
        let e = cached(&chain, &pck, &col, AT).unwrap_err();
        assert!(
            matches!(
                e,
                TdxError::Mismatch {
                    check: "PCK certification data",
                    ..
                }
            ),
            "{e}"
        );
        assert!(verify_quote(&chain, &c, AT).is_err());
        // The binding covers the CRLs, not the informational PCK CRL issuer
        // chain; a chain checked against other CRLs (the SGX sample's) is
        // not used with this collateral.
        let mut other = c.clone();
        other.pck_crl_issuer_chain.clear();
        let same = VerifiedPck::verify(&cert_data, &other, &root, AT).unwrap();
        assert!(cached(&q, &same, &col, AT).is_ok());
        let sgx =
            TdxCollateral::from_bundle_json(&data("dcap-qvl/sgx_quote_collateral.json")).unwrap();
        let sgx_col = sgx.verify(root.der(), 1_752_919_277).unwrap();
        let e = cached(&q, &pck, &sgx_col, AT).unwrap_err();
        assert!(
            matches!(
                e,
                TdxError::Mismatch {
                    check: "cached PCK chain CRLs",
                    ..
                }
            ),
            "{e}"
        );
    }
}
