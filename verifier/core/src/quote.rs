//! TPM 2.0 quote verification: signature, contents, and the attestation key.
//!
//! Pure: parsed TPM structures and bytes in, typed results out.
//!
//! * The signature is over `H(TPMS_ATTEST)` with the signature's hash (TCG TPM
//!   2.0 Library Part 3 rev. 1.59, TPM2_Quote §18.4 and TPM2_Certify §18.2;
//!   Part 1 rev. 1.59, annexes on RSA and ECC signing): RSASSA-PKCS1-v1_5 and
//!   RSASSA-PSS per RFC 8017 §8.2 / §8.1, ECDSA per FIPS 186-4 on NIST P-256
//!   and P-384. For RSASSA-PSS the salt is the digest length (what current TPMs
//!   use) or, failing that, the maximum the key allows (what some older TPM
//!   firmware used); RFC 8017 allows either and both bind the same digest.
//! * The AK's own scheme, when not TPM_ALG_NULL, must be the signature's
//!   (Part 2 Table 197/198: a key with a fixed scheme signs only with it).
//! * A quote (TPMS_ATTEST of type TPM_ST_ATTEST_QUOTE, Part 2 Table 133) is
//!   checked for the verifier's qualifying data (`extraData`, the nonce) and
//!   for `pcrDigest` = H(selected PCR values in TPM order) (Part 3 §18.4:
//!   computed with the signing scheme's hash).
//! * The AK must be a restricted signing key bound to its TPM (Part 2 Table
//!   31 TPMA_OBJECT; Part 1 clauses "Object Attributes" and "Attestation"):
//!   restricted, sign, fixedTPM, fixedParent, sensitiveDataOrigin set and
//!   decrypt clear. `restricted` is what makes the TPM refuse to sign data
//!   that starts with TPM_GENERATED_VALUE but did not come from the TPM.
//! * SHA-1 (signature hash, PCR bank with selected PCRs, or pcrDigest) is
//!   refused unless [`QuoteOptions::allow_sha1`] is set.

use sealbuild_common::crypto::{ecdsa_der, CryptoError, Curve, PssSalt, Scheme, VerifyingKey};
use sealbuild_common::tpm::{
    AsymScheme, Attest, ClockInfo, EccCurve, ObjectAttribute, PcrSelectionList, PcrValues, Public,
    PublicKey, SigScheme, Signature, SignatureValue,
};
use sealbuild_common::{FormatError, HashAlg};
use thiserror::Error;

/// Why a quote, its signature or its attestation key was not accepted.
/// Messages say which check failed and show expected and observed values.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum QuoteError {
    /// A TPM structure did not parse.
    #[error("malformed TPM structure: {0}")]
    Format(#[from] FormatError),

    /// SHA-1 was used where the policy forbids it.
    #[error(
        "{what} uses SHA-1, which is refused unless explicitly allowed (QuoteOptions::allow_sha1)"
    )]
    Sha1NotAllowed {
        /// What used SHA-1.
        what: String,
    },

    /// The AK cannot have made this kind of signature.
    #[error("signature scheme {signature} does not match the AK: {reason}")]
    SchemeMismatch {
        /// The signature's scheme and hash, e.g. `RSASSA-sha256`.
        signature: String,
        /// Why it cannot come from this AK.
        reason: String,
    },

    /// The AK's public key is not usable for verification.
    #[error("AK public key not usable: {reason}")]
    BadKey {
        /// What is wrong with it.
        reason: String,
    },

    /// The signature does not verify.
    #[error(
        "signature {scheme}-{hash} does not verify with AK {ak_name} over {hash}(attest) = {digest}"
    )]
    BadSignature {
        /// Signature scheme.
        scheme: SigScheme,
        /// Signature hash.
        hash: HashAlg,
        /// The AK's Name, hex.
        ak_name: String,
        /// The digest that was checked, hex.
        digest: String,
    },

    /// The attestation is not a quote.
    #[error("expected a quote (TPM_ST_ATTEST_QUOTE, 0x8018), got {got}")]
    NotAQuote {
        /// The attestation type that was found.
        got: &'static str,
    },

    /// `extraData` is not the verifier's nonce.
    #[error("qualifying data (nonce) mismatch: expected {expected}, the quote has {got}")]
    QualifyingDataMismatch {
        /// Expected, hex.
        expected: String,
        /// In the quote, hex.
        got: String,
    },

    /// `pcrDigest` has no supported digest size.
    #[error(
        "pcrDigest is {len} bytes ({digest}); expected the size of a SHA-1/256/384/512 digest"
    )]
    PcrDigestSize {
        /// Its length.
        len: usize,
        /// Its value, hex.
        digest: String,
    },

    /// `pcrDigest` was made with another hash than the signature.
    #[error("pcrDigest is a {digest_hash} digest but the quote is signed with {signature_hash}; TPM2_Quote uses the signing hash for both")]
    PcrDigestHash {
        /// Hash implied by the pcrDigest size.
        digest_hash: HashAlg,
        /// The signature's hash.
        signature_hash: HashAlg,
    },

    /// A PCR the quote covers has no value.
    #[error("no value supplied for {missing}, selected by the quote ({selection})")]
    MissingPcrs {
        /// The missing PCRs, e.g. `sha256 PCR 3, 7`.
        missing: String,
        /// The quote's selection, tpm2-tools form.
        selection: String,
    },

    /// The supplied PCR values do not produce the quoted `pcrDigest`.
    #[error("pcrDigest mismatch for banks {selection}: the quote signed {hash} {quoted}, the supplied PCR values give {computed}")]
    PcrDigestMismatch {
        /// The quote's selection, tpm2-tools form.
        selection: String,
        /// The digest algorithm.
        hash: HashAlg,
        /// `pcrDigest` in the quote, hex.
        quoted: String,
        /// Digest of the supplied values, hex.
        computed: String,
    },

    /// The AK's attributes are not those of an attestation key.
    #[error("AK attributes {attributes} are not those of an attestation key: {}", ak_problems(.missing, .unexpected))]
    AkAttributes {
        /// The AK's attributes, `a|b|c`.
        attributes: String,
        /// Required attributes that are clear.
        missing: Vec<&'static str>,
        /// Attributes that must be clear but are set.
        unexpected: Vec<&'static str>,
    },
}

/// Hash-algorithm policy for quote checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuoteOptions {
    /// Accept SHA-1 signatures, SHA-1 PCR banks and SHA-1 pcrDigests. Off by
    /// default: SHA-1 collisions are practical.
    pub allow_sha1: bool,
}

/// What a checked quote establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedQuote {
    /// The banks and PCRs the quote covers.
    pub selection: PcrSelectionList,
    /// The hash of `pcrDigest`.
    pub pcr_digest_alg: HashAlg,
    /// The PCR values the quote vouches for (only the selected ones).
    pub pcrs: PcrValues,
    /// The TPM clock at quote time.
    pub clock_info: ClockInfo,
    /// The TPM's firmware version.
    pub firmware_version: u64,
}

/// Attributes an attestation key must have.
pub const AK_REQUIRED: [ObjectAttribute; 5] = [
    ObjectAttribute::Restricted,
    ObjectAttribute::SignEncrypt,
    ObjectAttribute::FixedTpm,
    ObjectAttribute::FixedParent,
    ObjectAttribute::SensitiveDataOrigin,
];

/// Attributes an attestation key must not have.
pub const AK_FORBIDDEN: [ObjectAttribute; 1] = [ObjectAttribute::Decrypt];

/// Checks that `ak` is a restricted signing key that never leaves its TPM and
/// whose private part the TPM generated; names every missing or extra attribute.
pub fn check_ak_attributes(ak: &Public) -> Result<(), QuoteError> {
    let attrs = ak.attributes();
    let missing: Vec<&'static str> = AK_REQUIRED
        .iter()
        .filter(|a| !attrs.contains(**a))
        .map(|a| a.name())
        .collect();
    let unexpected: Vec<&'static str> = AK_FORBIDDEN
        .iter()
        .filter(|a| attrs.contains(**a))
        .map(|a| a.name())
        .collect();
    if missing.is_empty() && unexpected.is_empty() {
        Ok(())
    } else {
        Err(QuoteError::AkAttributes {
            attributes: attrs.to_string(),
            missing,
            unexpected,
        })
    }
}

/// Verifies `sig` over `attest_bytes` (a TPMS_ATTEST exactly as the TPM
/// returned it) with the AK's public key, then parses it. The signature's
/// scheme must fit the key type and the AK's own scheme (unless that is NULL).
/// Works for any TPMS_ATTEST type; [`check_quote`] then checks a quote's
/// contents.
pub fn verify_quote_signature(
    ak: &Public,
    attest_bytes: &[u8],
    sig: &Signature,
    opts: &QuoteOptions,
) -> Result<Attest, QuoteError> {
    let sig_name = format!("{}-{}", sig.scheme(), sig.hash());
    if sig.hash() == HashAlg::Sha1 && !opts.allow_sha1 {
        return Err(QuoteError::Sha1NotAllowed {
            what: format!("the signature ({sig_name})"),
        });
    }
    check_scheme(ak, sig, &sig_name)?;

    let digest = sig.hash().digest(attest_bytes);
    let bad_signature = || QuoteError::BadSignature {
        scheme: sig.scheme(),
        hash: sig.hash(),
        ak_name: hex::encode(ak.name()),
        digest: hex::encode(&digest),
    };
    match (ak.public_key()?, sig.value()) {
        (PublicKey::Rsa { modulus, exponent }, SignatureValue::Rsa(s)) => {
            if !verify_rsa(&modulus, exponent, sig.scheme(), sig.hash(), &digest, s)? {
                return Err(bad_signature());
            }
        }
        (PublicKey::Ecc { curve, x, y }, SignatureValue::Ecdsa { r, s }) => {
            if !verify_ecdsa(curve, &x, &y, r, s, sig.hash(), &digest)? {
                return Err(bad_signature());
            }
        }
        _ => {
            // check_scheme matched key type and scheme already.
            return Err(QuoteError::SchemeMismatch {
                signature: sig_name,
                reason: "the signature value does not fit the key type".into(),
            });
        }
    }
    Ok(Attest::parse(attest_bytes)?)
}

/// Checks a (signature-verified) quote's contents: it is a TPM_ST_ATTEST_QUOTE,
/// its `extraData` equals `expected_qualifying_data`, and its `pcrDigest` equals
/// the digest of `pcrs` over the quote's selection. The pcrDigest hash is
/// the one whose size the digest has (TPM2_Quote uses the signing hash; use
/// [`verify_quote`] to also tie it to the signature). Returns what the quote
/// vouches for.
pub fn check_quote(
    attest: &Attest,
    expected_qualifying_data: &[u8],
    pcrs: &PcrValues,
    opts: &QuoteOptions,
) -> Result<CheckedQuote, QuoteError> {
    let quote = attest.quote().ok_or(QuoteError::NotAQuote {
        got: attest.attested().tag_name(),
    })?;
    if attest.extra_data() != expected_qualifying_data {
        return Err(QuoteError::QualifyingDataMismatch {
            expected: hex_or_empty(expected_qualifying_data),
            got: hex_or_empty(attest.extra_data()),
        });
    }
    let selection = quote.pcr_select();
    let quoted = quote.pcr_digest();
    let hash = HashAlg::ALL
        .into_iter()
        .find(|h| h.size() == quoted.len())
        .ok_or_else(|| QuoteError::PcrDigestSize {
            len: quoted.len(),
            digest: hex_or_empty(quoted),
        })?;
    if !opts.allow_sha1 {
        if hash == HashAlg::Sha1 {
            return Err(QuoteError::Sha1NotAllowed {
                what: "the quote's pcrDigest".into(),
            });
        }
        if selection
            .banks()
            .iter()
            .any(|b| b.hash() == HashAlg::Sha1 && !b.is_empty())
        {
            return Err(QuoteError::Sha1NotAllowed {
                what: format!("the quote's PCR selection ({selection})"),
            });
        }
    }
    let missing = pcrs.missing(selection);
    if !missing.is_empty() {
        return Err(QuoteError::MissingPcrs {
            missing: sealbuild_common::tpm::pcr::describe_pcrs(&missing),
            selection: selection.to_string(),
        });
    }
    let computed = pcrs.digest(selection, hash)?;
    if computed != quoted {
        return Err(QuoteError::PcrDigestMismatch {
            selection: selection.to_string(),
            hash,
            quoted: hex::encode(quoted),
            computed: hex::encode(&computed),
        });
    }
    Ok(CheckedQuote {
        selection: selection.clone(),
        pcr_digest_alg: hash,
        pcrs: pcrs.restricted_to(selection),
        clock_info: attest.clock_info(),
        firmware_version: attest.firmware_version(),
    })
}

/// The whole quote check: AK attributes, signature, contents, and that
/// `pcrDigest` uses the signature's hash.
pub fn verify_quote(
    ak: &Public,
    attest_bytes: &[u8],
    sig: &Signature,
    expected_qualifying_data: &[u8],
    pcrs: &PcrValues,
    opts: &QuoteOptions,
) -> Result<CheckedQuote, QuoteError> {
    check_ak_attributes(ak)?;
    let attest = verify_quote_signature(ak, attest_bytes, sig, opts)?;
    let checked = check_quote(&attest, expected_qualifying_data, pcrs, opts)?;
    if checked.pcr_digest_alg != sig.hash() {
        return Err(QuoteError::PcrDigestHash {
            digest_hash: checked.pcr_digest_alg,
            signature_hash: sig.hash(),
        });
    }
    Ok(checked)
}

fn ak_problems(missing: &[&str], unexpected: &[&str]) -> String {
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("must be set: {}", missing.join(", ")));
    }
    if !unexpected.is_empty() {
        parts.push(format!("must be clear: {}", unexpected.join(", ")));
    }
    parts.join("; ")
}

fn hex_or_empty(b: &[u8]) -> String {
    if b.is_empty() {
        "(empty)".into()
    } else {
        hex::encode(b)
    }
}

/// The signature's scheme must fit the key type and the AK's fixed scheme.
fn check_scheme(ak: &Public, sig: &Signature, sig_name: &str) -> Result<(), QuoteError> {
    let mismatch = |reason: String| QuoteError::SchemeMismatch {
        signature: sig_name.to_string(),
        reason,
    };
    let key_scheme = ak.scheme();
    let fits_type = match key_scheme {
        AsymScheme::Null => match ak.public_key()? {
            PublicKey::Rsa { .. } => matches!(sig.scheme(), SigScheme::RsaSsa | SigScheme::RsaPss),
            PublicKey::Ecc { .. } => sig.scheme() == SigScheme::Ecdsa,
        },
        AsymScheme::RsaSsa(h) => sig.scheme() == SigScheme::RsaSsa && h == sig.hash(),
        AsymScheme::RsaPss(h) => sig.scheme() == SigScheme::RsaPss && h == sig.hash(),
        AsymScheme::Ecdsa(h) => sig.scheme() == SigScheme::Ecdsa && h == sig.hash(),
        AsymScheme::RsaEs | AsymScheme::Oaep(_) | AsymScheme::Ecdh(_) => {
            return Err(mismatch(format!(
                "the AK's scheme {key_scheme} is not a signing scheme"
            )));
        }
    };
    if fits_type {
        Ok(())
    } else if key_scheme == AsymScheme::Null {
        let key_type = match ak.body() {
            sealbuild_common::tpm::PublicBody::Rsa(_) => "RSA",
            sealbuild_common::tpm::PublicBody::Ecc(_) => "ECC",
        };
        Err(mismatch(format!("an {key_type} AK cannot make it")))
    } else {
        Err(mismatch(format!("the AK only signs with {key_scheme}")))
    }
}

/// RSASSA-PKCS1-v1_5, or RSASSA-PSS with salt = digest length and, failing
/// that, salt = the maximum for the key, over `digest` (through the one
/// crypto provider).
fn verify_rsa(
    modulus: &[u8],
    exponent: u32,
    scheme: SigScheme,
    hash: HashAlg,
    digest: &[u8],
    sig: &[u8],
) -> Result<bool, QuoteError> {
    let schemes: &[Scheme] = match scheme {
        SigScheme::RsaPss => &[
            Scheme::RsaPss(hash, PssSalt::DigestLength),
            Scheme::RsaPss(hash, PssSalt::Maximum),
        ],
        _ => &[Scheme::RsaPkcs1v15(hash)],
    };
    for s in schemes {
        let key = VerifyingKey::rsa(modulus, &exponent.to_be_bytes(), *s).map_err(|e| match e {
            CryptoError::Unsupported(what) => QuoteError::SchemeMismatch {
                signature: format!("{scheme}-{hash}"),
                reason: format!("not supported by this verifier: {what}"),
            },
            other => QuoteError::BadKey {
                reason: format!(
                    "RSA key (modulus {} bytes, exponent {exponent}): {other}",
                    modulus.len()
                ),
            },
        })?;
        if key.verify_digest(digest, sig).is_ok() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// ECDSA over a prehashed digest. `x`, `y` are `curve.size()` bytes; `r`, `s`
/// may be shorter (leading zeros dropped) but not longer.
fn verify_ecdsa(
    curve: EccCurve,
    x: &[u8],
    y: &[u8],
    r: &[u8],
    s: &[u8],
    hash: HashAlg,
    digest: &[u8],
) -> Result<bool, QuoteError> {
    let c = match curve {
        EccCurve::NistP256 => Curve::P256,
        EccCurve::NistP384 => Curve::P384,
        EccCurve::NistP521 => {
            return Err(QuoteError::BadKey {
                reason: "ECDSA on NIST P-521 is not supported by this verifier".into(),
            })
        }
    };
    let size = c.size();
    for (v, what) in [(r, "signatureR"), (s, "signatureS")] {
        if v.len() > size {
            return Err(QuoteError::Format(FormatError::unexpected(
                "TPMS_SIGNATURE_ECC",
                format_args!("{what} of at most {size} bytes for {curve}"),
                format_args!("{} bytes", v.len()),
            )));
        }
    }
    let key = VerifyingKey::ecdsa_xy(c, x, y, hash).map_err(|e| match e {
        CryptoError::Unsupported(what) => QuoteError::SchemeMismatch {
            signature: format!("ECDSA-{hash}"),
            reason: format!("not supported by this verifier: {what}"),
        },
        other => QuoteError::BadKey {
            reason: format!(
                "{curve} point x={} y={}: {other}",
                hex::encode(x),
                hex::encode(y)
            ),
        },
    })?;
    let Some(der) = ecdsa_der(c, r, s) else {
        return Ok(false);
    };
    Ok(key.verify_digest(digest, &der).is_ok())
}
