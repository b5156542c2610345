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

use sealbuild_common::crypto::{sha256_parts, Curve, VerifyingKey};
use sealbuild_common::tdx::{Quote, QuoteBody, TeeType, CERT_TYPE_PCK_CHAIN, INTEL_QE_VENDOR_ID};
use sealbuild_common::HashAlg;

use super::claims::{QuoteClaims, TcbVerdict, TdxVerified};
use super::collateral::{ends_in_root, TdxCollateral};
use super::pck::{pck_ca, pem_chain, verify_chain, PckCa, PckExtensions, VerifiedLeaf};
use super::roots::IntelRoot;
use super::tcbinfo::{hex_field, MatchedLevel, PckTcb, QeIdentity, TcbInfo, TcbStatus};
use super::{mismatch, TdxError};
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

/// Steps 1–3: parses `quote_bytes` and checks everything that needs no
/// collateral (PCK chain at `now`, QE report signature and binding, quote
/// signature).
pub fn verify_quote_signatures(
    quote_bytes: &[u8],
    root: &IntelRoot,
    now: u64,
) -> Result<VerifiedQuote, TdxError> {
    let quote = Quote::parse(quote_bytes)?;
    if quote.header.qe_vendor_id != INTEL_QE_VENDOR_ID {
        return Err(unsupported(
            "QE Vendor ID",
            hex::encode(INTEL_QE_VENDOR_ID),
            hex::encode(quote.header.qe_vendor_id),
        ));
    }
    let qe = &quote.signature_data.qe;
    if qe.pck_cert_data.cert_type != CERT_TYPE_PCK_CHAIN {
        return Err(unsupported(
            "PCK certification data type",
            "5 (PEM PCK certificate chain)",
            qe.pck_cert_data.cert_type,
        ));
    }
    let chain = pem_chain("PCK", &qe.pck_cert_data.data)?;
    ends_in_root("PCK chain", &chain, root.der())?;
    let pck = verify_chain("PCK", &chain, root.der(), now)?;
    let pck_ext = PckExtensions::from_der(&pck.der)?;
    let pck_ca = pck_ca(&pck.cert)?;

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
        })?;
    Ok(VerifiedQuote {
        quote,
        pck,
        pck_ext,
        pck_ca,
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
    Ok(TdxVerified {
        version: v.quote.header.version,
        body_type: v.quote.body.body_type(),
        tee_type: v.quote.header.tee_type,
        claims: QuoteClaims::from_body(&v.quote.body),
        fmspc: v.pck_ext.fmspc,
        pce_id: v.pck_ext.pce_id,
        pck_ca: v.pck_ca,
        pck_fingerprint: v.pck.cert.fingerprint_sha256,
        tcb,
        collateral_valid_until: col.valid_until.min(pck_crl.next_update),
    })
}

/// Step 5: TCB Info and QE Identity (already verified) against a verified
/// quote and its PCK: TEE, FMSPC and PCE ID, TDX module, QE identity, TCB
/// levels and the converged status.
pub fn appraise_tcb(
    v: &VerifiedQuote,
    info: &TcbInfo,
    qe_identity: &QeIdentity,
) -> Result<TcbVerdict, TdxError> {
    let tee = v.quote.header.tee_type;
    let want_id = tee.name();
    if info.id != want_id || info.version != 3 {
        return Err(mismatch(
            "TCB Info id/version",
            format!("{want_id} version 3 (the quote's TEE)"),
            format!("{} version {}", info.id, info.version),
        ));
    }
    let fmspc: [u8; 6] = hex_field("TCB Info", "fmspc", &info.fmspc)?;
    if fmspc != v.pck_ext.fmspc {
        return Err(mismatch(
            "TCB Info FMSPC",
            hex::encode(v.pck_ext.fmspc),
            hex::encode(fmspc),
        ));
    }
    let pce_id: [u8; 2] = hex_field("TCB Info", "pceId", &info.pce_id)?;
    if pce_id != v.pck_ext.pce_id {
        return Err(mismatch(
            "TCB Info PCE ID",
            hex::encode(v.pck_ext.pce_id),
            hex::encode(pce_id),
        ));
    }
    let module = match (&v.quote.body, tee) {
        (QuoteBody::Td(td), TeeType::Tdx) => super::module::check_tdx_module(info, td)?,
        _ => None,
    };
    let qe = super::module::check_qe_identity(qe_identity, &v.quote)?;
    let pck_tcb = PckTcb {
        sgx_components: v.pck_ext.sgx_components,
        pce_svn: v.pck_ext.pce_svn,
    };
    let platform = info.match_platform(&pck_tcb, v.quote.td_report().map(|t| &t.tee_tcb_svn))?;
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
