//! The collateral a DCAP quote is appraised with, and its verification.
//!
//! What Intel's PCS API v4 serves (Intel "Intel® SGX and Intel® TDX
//! Provisioning Certification Service (PCS) API", version 4): the TCB Info
//! response `{"tcbInfo": {…}, "signature": "<hex r‖s>"}` with the issuer
//! chain (Intel SGX TCB Signing ‖ Root CA, PEM, URL-encoded) in the
//! `TCB-Info-Issuer-Chain` header; the QE Identity response `{"enclaveIdentity":
//! {…}, "signature": …}` with `SGX-Enclave-Identity-Issuer-Chain`; the PCK
//! CRL (`/pckcrl?ca=platform|processor`, DER or PEM) with
//! `SGX-PCK-CRL-Issuer-Chain`; and the root CA CRL (DER). The signatures are
//! ECDSA P-256 with SHA-256 over the exact bytes of the `tcbInfo` /
//! `enclaveIdentity` JSON value as served, which is why [`SignedJson`] keeps
//! those bytes and nothing here re-serialises JSON.
//!
//! Two input forms, both pure (bytes in): the JSON bundle of dcap-qvl's
//! `QuoteCollateralV3` ([`TdxCollateral::from_bundle_json`]) and raw PCS
//! response bodies with their issuer-chain headers
//! ([`TdxCollateral::from_pcs_responses`]).

use serde::Deserialize;
use serde_json::value::RawValue;

use super::pck::{pem_chain, verify_chain, VerifiedLeaf};
use super::tcbinfo::{QeIdentity, TcbInfo};
use super::TdxError;
use crate::ekcert::cert::fmt_time;
use crate::ekcert::crl::{verify_crl, VerifiedCrl};

/// A signed JSON document (TCB Info or QE Identity) with its issuer chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedJson {
    /// The exact bytes of the signed JSON value.
    pub body: Vec<u8>,
    /// ECDSA P-256 signature, r‖s big-endian.
    pub signature: [u8; 64],
    /// The issuer chain, DER, leaf (TCB signing certificate) first.
    pub issuer_chain: Vec<Vec<u8>>,
}

/// Everything quote appraisal needs besides the quote and the time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TdxCollateral {
    /// The Intel SGX Root CA's CRL (DER).
    pub root_ca_crl: Vec<u8>,
    /// The PCK CRL of the PCK's issuing CA (DER).
    pub pck_crl: Vec<u8>,
    /// The PCK CRL's issuer chain as served (DER; may be empty). The CRL is
    /// verified against the issuer of the quote's verified PCK chain, so
    /// this is informational.
    pub pck_crl_issuer_chain: Vec<Vec<u8>>,
    /// TCB Info for the platform's FMSPC.
    pub tcb_info: SignedJson,
    /// The (TD) QE Identity.
    pub qe_identity: SignedJson,
}

/// Raw PCS response bodies and issuer-chain header values.
#[derive(Debug, Clone, Copy)]
pub struct PcsResponses<'a> {
    /// Body of `GET …/tcb?fmspc=…`: `{"tcbInfo":…,"signature":…}`.
    pub tcb_info: &'a [u8],
    /// `TCB-Info-Issuer-Chain` (PEM, URL-encoded or not).
    pub tcb_info_issuer_chain: &'a [u8],
    /// Body of `GET …/qe/identity`: `{"enclaveIdentity":…,"signature":…}`.
    pub qe_identity: &'a [u8],
    /// `SGX-Enclave-Identity-Issuer-Chain`.
    pub qe_identity_issuer_chain: &'a [u8],
    /// Body of `GET …/pckcrl?ca=…` (DER, PEM or hex).
    pub pck_crl: &'a [u8],
    /// `SGX-PCK-CRL-Issuer-Chain`, when kept.
    pub pck_crl_issuer_chain: Option<&'a [u8]>,
    /// The root CA CRL (DER, PEM or hex).
    pub root_ca_crl: &'a [u8],
}

#[derive(Deserialize)]
struct Bundle {
    pck_crl_issuer_chain: String,
    root_ca_crl: String,
    pck_crl: String,
    tcb_info_issuer_chain: String,
    tcb_info: String,
    tcb_info_signature: String,
    qe_identity_issuer_chain: String,
    qe_identity: String,
    qe_identity_signature: String,
}

fn malformed(what: &'static str, reason: impl std::fmt::Display) -> TdxError {
    TdxError::Collateral {
        what,
        reason: reason.to_string(),
    }
}

fn signature(what: &'static str, hex_text: &str) -> Result<[u8; 64], TdxError> {
    let v = hex::decode(hex_text.trim()).map_err(|e| malformed(what, format!("signature: {e}")))?;
    v.try_into().map_err(|v: Vec<u8>| {
        malformed(
            what,
            format!("signature: expected 64 bytes (r‖s), got {}", v.len()),
        )
    })
}

/// A CRL given as DER, PEM (`X509 CRL`) or hex text.
pub fn decode_crl(what: &'static str, bytes: &[u8]) -> Result<Vec<u8>, TdxError> {
    if bytes.first() == Some(&0x30) {
        return Ok(bytes.to_vec());
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| malformed(what, "neither DER nor text"))?
        .trim();
    if text.starts_with("-----BEGIN") {
        let (label, der) = der::pem::decode_vec(text.as_bytes()).map_err(|e| malformed(what, e))?;
        if label != "X509 CRL" {
            return Err(malformed(
                what,
                format!("PEM label {label:?}, expected X509 CRL"),
            ));
        }
        return Ok(der);
    }
    hex::decode(text).map_err(|e| malformed(what, format!("not DER, PEM or hex: {e}")))
}

/// A PEM chain, percent-decoded first when it came from an HTTP header.
fn header_chain(what: &'static str, bytes: &[u8]) -> Result<Vec<Vec<u8>>, TdxError> {
    if bytes.starts_with(b"-----BEGIN") {
        return pem_chain(what, bytes);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut it = bytes.iter();
    while let Some(&b) = it.next() {
        if b == b'%' {
            let hi = it.next().copied();
            let lo = it.next().copied();
            let pair = [hi.unwrap_or(b'?'), lo.unwrap_or(b'?')];
            let v = std::str::from_utf8(&pair)
                .ok()
                .and_then(|s| u8::from_str_radix(s, 16).ok())
                .ok_or_else(|| malformed(what, "bad percent-encoding in the issuer chain"))?;
            out.push(v);
        } else {
            out.push(b);
        }
    }
    pem_chain(what, &out)
}

#[derive(Deserialize)]
struct TcbInfoResponse<'a> {
    #[serde(borrow, rename = "tcbInfo")]
    tcb_info: &'a RawValue,
    signature: &'a str,
}

#[derive(Deserialize)]
struct QeIdentityResponse<'a> {
    #[serde(borrow, rename = "enclaveIdentity")]
    enclave_identity: &'a RawValue,
    signature: &'a str,
}

impl TdxCollateral {
    /// Parses dcap-qvl's `QuoteCollateralV3` JSON: PEM issuer chains, hex
    /// DER CRLs, the signed documents as strings (their exact bytes) and
    /// hex r‖s signatures.
    pub fn from_bundle_json(bytes: &[u8]) -> Result<Self, TdxError> {
        const WHAT: &str = "collateral bundle";
        let b: Bundle = serde_json::from_slice(bytes).map_err(|e| malformed(WHAT, e))?;
        Ok(Self {
            root_ca_crl: decode_crl("root CA CRL", b.root_ca_crl.as_bytes())?,
            pck_crl: decode_crl("PCK CRL", b.pck_crl.as_bytes())?,
            pck_crl_issuer_chain: pem_chain(
                "PCK CRL issuer chain",
                b.pck_crl_issuer_chain.as_bytes(),
            )?,
            tcb_info: SignedJson {
                body: b.tcb_info.into_bytes(),
                signature: signature("TCB Info", &b.tcb_info_signature)?,
                issuer_chain: pem_chain(
                    "TCB Info issuer chain",
                    b.tcb_info_issuer_chain.as_bytes(),
                )?,
            },
            qe_identity: SignedJson {
                body: b.qe_identity.into_bytes(),
                signature: signature("QE Identity", &b.qe_identity_signature)?,
                issuer_chain: pem_chain(
                    "QE Identity issuer chain",
                    b.qe_identity_issuer_chain.as_bytes(),
                )?,
            },
        })
    }

    /// Builds the collateral from raw PCS responses: the signed values are
    /// cut out of the response bodies byte for byte.
    pub fn from_pcs_responses(r: &PcsResponses<'_>) -> Result<Self, TdxError> {
        let tcb: TcbInfoResponse<'_> =
            serde_json::from_slice(r.tcb_info).map_err(|e| malformed("TCB Info response", e))?;
        let qe: QeIdentityResponse<'_> = serde_json::from_slice(r.qe_identity)
            .map_err(|e| malformed("QE Identity response", e))?;
        Ok(Self {
            root_ca_crl: decode_crl("root CA CRL", r.root_ca_crl)?,
            pck_crl: decode_crl("PCK CRL", r.pck_crl)?,
            pck_crl_issuer_chain: match r.pck_crl_issuer_chain {
                Some(c) => header_chain("PCK CRL issuer chain", c)?,
                None => Vec::new(),
            },
            tcb_info: SignedJson {
                body: tcb.tcb_info.get().as_bytes().to_vec(),
                signature: signature("TCB Info", tcb.signature)?,
                issuer_chain: header_chain("TCB Info issuer chain", r.tcb_info_issuer_chain)?,
            },
            qe_identity: SignedJson {
                body: qe.enclave_identity.get().as_bytes().to_vec(),
                signature: signature("QE Identity", qe.signature)?,
                issuer_chain: header_chain("QE Identity issuer chain", r.qe_identity_issuer_chain)?,
            },
        })
    }

    /// What a verification with this collateral is bound to: SHA-256 over
    /// `root_der`, the root CA CRL and the PCK CRL, each preceded by its
    /// length (u64, big-endian). A PCK chain checked against these CRLs
    /// ([`super::VerifiedPck`]) is used only with a [`VerifiedCollateral`]
    /// of the same value, so newer CRLs force the chain to be checked again.
    pub fn crl_binding(&self, root_der: &[u8]) -> [u8; 32] {
        let len = |b: &[u8]| (b.len() as u64).to_be_bytes();
        let (a, b, c) = (len(root_der), len(&self.root_ca_crl), len(&self.pck_crl));
        sealbuild_common::crypto::sha256_parts(&[
            &a,
            root_der,
            &b,
            &self.root_ca_crl,
            &c,
            &self.pck_crl,
        ])
    }

    /// Verifies the collateral at `now` against `root_der`: the root CA CRL,
    /// both documents' issuer chains (which must end in the root), that no
    /// issuer is revoked, both signatures and both validity windows.
    pub fn verify(&self, root_der: &[u8], now: u64) -> Result<VerifiedCollateral, TdxError> {
        let root_crl = verify_crl(&self.root_ca_crl, root_der, now, "Intel SGX Root CA CRL")?;
        let tcb_leaf = self
            .tcb_info
            .verify("TCB Info", root_der, Some(&root_crl), now)?;
        let tcb_info: TcbInfo = self.tcb_info.parse("TCB Info")?;
        // Both documents are signed by the TCB signing key; PCS serves the
        // same issuer chain with each, which is then verified once.
        let qe_signer_not_after = if self.qe_identity.issuer_chain == self.tcb_info.issuer_chain {
            self.qe_identity
                .verify_signature("QE Identity", &tcb_leaf)?;
            tcb_leaf.cert.not_after
        } else {
            self.qe_identity
                .verify("QE Identity", root_der, Some(&root_crl), now)?
                .cert
                .not_after
        };
        let qe_identity: QeIdentity = self.qe_identity.parse("QE Identity")?;
        let tcb_window = window("TCB Info", &tcb_info.issue_date, &tcb_info.next_update, now)?;
        let qe_window = window(
            "QE Identity",
            &qe_identity.issue_date,
            &qe_identity.next_update,
            now,
        )?;
        let valid_until = [
            tcb_window,
            qe_window,
            root_crl.next_update,
            tcb_leaf.cert.not_after,
            qe_signer_not_after,
        ]
        .into_iter()
        .min()
        .unwrap_or(0);
        Ok(VerifiedCollateral {
            tcb_info,
            qe_identity,
            root_crl,
            valid_until,
            verified_at: now,
            crl_binding: self.crl_binding(root_der),
        })
    }
}

/// Collateral whose signatures, chains, CRL and windows verified.
#[derive(Debug, Clone)]
pub struct VerifiedCollateral {
    /// The parsed TCB Info.
    pub tcb_info: TcbInfo,
    /// The parsed QE Identity.
    pub qe_identity: QeIdentity,
    /// The root CA CRL.
    pub root_crl: VerifiedCrl,
    /// The earliest nextUpdate / notAfter among them (Unix seconds).
    pub valid_until: u64,
    /// The time it was verified at (Unix seconds): every window holds from
    /// here to [`Self::valid_until`].
    pub verified_at: u64,
    /// [`TdxCollateral::crl_binding`] of the collateral and root it was
    /// verified with.
    pub crl_binding: [u8; 32],
}

/// Requires the chain's last certificate to be the pinned root itself.
pub(crate) fn ends_in_root(
    what: &'static str,
    chain: &[Vec<u8>],
    root_der: &[u8],
) -> Result<(), TdxError> {
    match chain.last() {
        Some(last) if last.as_slice() == root_der => Ok(()),
        last => Err(TdxError::Mismatch {
            check: what,
            expected: format!(
                "a chain ending in the Intel SGX Root CA (SHA-256 {})",
                hex::encode(sealbuild_common::crypto::sha256(root_der))
            ),
            got: last.map_or_else(
                || "an empty chain".to_string(),
                |l| {
                    format!(
                        "a last certificate with SHA-256 {}",
                        hex::encode(sealbuild_common::crypto::sha256(l))
                    )
                },
            ),
        }),
    }
}

impl SignedJson {
    /// Verifies the issuer chain (which must end in `root_der`) at `now`,
    /// that `root_crl` (when given) does not revoke the signing
    /// certificate, and the signature over [`Self::body`]; `what` names the
    /// document in errors. The document's own window is checked by
    /// [`TdxCollateral::verify`].
    pub fn verify(
        &self,
        what: &'static str,
        root_der: &[u8],
        root_crl: Option<&VerifiedCrl>,
        now: u64,
    ) -> Result<VerifiedLeaf, TdxError> {
        let leaf = self.verify_signer(what, root_der, root_crl, now)?;
        self.verify_signature(what, &leaf)?;
        Ok(leaf)
    }

    /// The issuer chain part of [`Self::verify`]: the TCB signing
    /// certificate, verified to the root and not revoked.
    fn verify_signer(
        &self,
        what: &'static str,
        root_der: &[u8],
        root_crl: Option<&VerifiedCrl>,
        now: u64,
    ) -> Result<VerifiedLeaf, TdxError> {
        ends_in_root(what, &self.issuer_chain, root_der)?;
        let leaf = verify_chain(what, &self.issuer_chain, root_der, now)?;
        // Only Intel's TCB signing key, certified directly by the root, signs
        // TCB Info and QE Identity (not, say, a PCK key that also chains to
        // the root).
        if !leaf.cert.subject.contains("CN=Intel SGX TCB Signing") || leaf.cert.chain.len() != 2 {
            return Err(TdxError::Mismatch {
                check: what,
                expected: "a signer 'CN=Intel SGX TCB Signing' issued by the Intel SGX Root CA"
                    .into(),
                got: format!("{:?} (chain {:?})", leaf.cert.subject, leaf.cert.chain),
            });
        }
        if let Some(crl) = root_crl {
            crl.check_not_revoked(&leaf.der)?;
        }
        Ok(leaf)
    }

    /// The signature part of [`Self::verify`], by an already verified signer.
    fn verify_signature(&self, what: &'static str, leaf: &VerifiedLeaf) -> Result<(), TdxError> {
        let (r, s) = self.signature.split_at(32);
        leaf.key
            .verify_ecdsa_rs(&self.body, r, s)
            .map_err(|_| TdxError::CollateralSignature {
                what,
                cert: leaf.cert.subject.clone(),
            })
    }

    /// Parses the signed body as `T` ([`TcbInfo`], [`QeIdentity`]).
    pub fn parse<T: serde::de::DeserializeOwned>(&self, what: &'static str) -> Result<T, TdxError> {
        serde_json::from_slice(&self.body).map_err(|e| malformed(what, e))
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` (the form Intel's documents use) to Unix seconds.
pub(crate) fn parse_date(what: &'static str, s: &str) -> Result<u64, TdxError> {
    let bad = || malformed(what, format!("date {s:?} is not YYYY-MM-DDTHH:MM:SSZ"));
    let b = s.as_bytes();
    if b.len() != 20
        || b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || b.get(10) != Some(&b'T')
        || b.get(13) != Some(&b':')
        || b.get(16) != Some(&b':')
        || b.get(19) != Some(&b'Z')
    {
        return Err(bad());
    }
    let num = |from: usize, to: usize| -> Result<u16, TdxError> {
        s.get(from..to)
            .filter(|t| t.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|t| t.parse().ok())
            .ok_or_else(bad)
    };
    let small = |from, to| num(from, to).and_then(|v| u8::try_from(v).map_err(|_| bad()));
    let dt = der::DateTime::new(
        num(0, 4)?,
        small(5, 7)?,
        small(8, 10)?,
        small(11, 13)?,
        small(14, 16)?,
        small(17, 19)?,
    )
    .map_err(|_| bad())?;
    Ok(dt.unix_duration().as_secs())
}

/// issueDate ≤ now ≤ nextUpdate; returns nextUpdate.
fn window(what: &'static str, issue: &str, next: &str, now: u64) -> Result<u64, TdxError> {
    let (i, n) = (parse_date(what, issue)?, parse_date(what, next)?);
    if i <= now && now <= n {
        Ok(n)
    } else {
        Err(TdxError::NotCurrent {
            what,
            at: fmt_time(now),
            issue_date: issue.to_string(),
            next_update: next.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_strictly() {
        assert_eq!(parse_date("t", "1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(
            parse_date("t", "2025-07-19T10:00:35Z").unwrap(),
            1_752_919_235
        );
        for bad in [
            "2025-07-19T10:00:35",
            "2025-07-19 10:00:35Z",
            "2025-13-19T10:00:35Z",
            "2025-02-30T10:00:35Z",
            "2025-07-19T10:00:35.5Z",
            "+025-07-19T10:00:35Z",
            "",
        ] {
            assert!(parse_date("t", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn crls_decode_from_der_pem_and_hex() {
        let der = vec![0x30, 0x03, 0x02, 0x01, 0x00];
        assert_eq!(decode_crl("c", &der).unwrap(), der);
        assert_eq!(decode_crl("c", hex::encode(&der).as_bytes()).unwrap(), der);
        let pem = der::pem::encode_string("X509 CRL", der::pem::LineEnding::LF, &der).unwrap();
        assert_eq!(decode_crl("c", pem.as_bytes()).unwrap(), der);
        let cert = der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, &der).unwrap();
        assert!(decode_crl("c", cert.as_bytes()).is_err());
        assert!(decode_crl("c", b"zz").is_err());
    }
}
