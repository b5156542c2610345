//! Certificate signature verification (RFC 5280 §4.1.1.2/§6.1.3 (a)(1)).
//!
//! * RSASSA-PKCS1-v1_5 (RFC 8017 §8.2) with SHA-1/-256/-384/-512: OIDs
//!   1.2.840.113549.1.1.{5,11,12,13}, parameters NULL or absent (RFC 4055 §5).
//! * RSASSA-PSS (RFC 8017 §8.1): OID 1.2.840.113549.1.1.10 with
//!   RSASSA-PSS-params (RFC 4055 §3.1); MGF1 must use the message hash and
//!   the trailer field must be 1.
//! * ECDSA (FIPS 186-4 §6.4) on P-256/P-384 with SHA-256/-384/-512: OIDs
//!   1.2.840.10045.4.3.{2,3,4}, parameters absent (RFC 5758 §3.2).
//!
//! Issuer keys: rsaEncryption / id-RSASSA-PSS (RSA 2048–8192 bits) and
//! id-ecPublicKey on prime256v1 / secp384r1 (RFC 5480 §2.1.1).

use const_oid::ObjectIdentifier;
use der::{Decode, Encode, Tag, Tagged};
use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use pkcs1::RsaPssParams;
use sealbuild_common::crypto::{CryptoError, Curve, PssSalt, Scheme, VerifyingKey};
use sealbuild_common::HashAlg;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const ID_RSAES_OAEP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.7");
const ID_MGF1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.8");
const ID_RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const SHA1_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.5");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const PRIME256V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const ID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const ID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

/// A public key from a SubjectPublicKeyInfo.
pub(super) enum SpkiKey {
    /// Modulus without leading zeros, exponent.
    Rsa {
        n: Vec<u8>,
        e: u64,
    },
    P256(p256::PublicKey),
    P384(p384::PublicKey),
}

/// Decodes an RSA or NIST P-256/P-384 SubjectPublicKeyInfo.
pub(super) fn decode_spki(spki: &SubjectPublicKeyInfoOwned) -> Result<SpkiKey, String> {
    let bits = spki
        .subject_public_key
        .as_bytes()
        .ok_or("subjectPublicKey BIT STRING has unused bits")?;
    let oid = spki.algorithm.oid;
    if oid == RSA_ENCRYPTION || oid == ID_RSAES_OAEP || oid == ID_RSASSA_PSS {
        let k = pkcs1::RsaPublicKey::from_der(bits).map_err(|e| format!("RSAPublicKey: {e}"))?;
        let e_bytes = k.public_exponent.as_bytes();
        if e_bytes.len() > 8 {
            return Err(format!("RSA exponent of {} bytes", e_bytes.len()));
        }
        let e = e_bytes
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        return Ok(SpkiKey::Rsa {
            n: k.modulus.as_bytes().to_vec(),
            e,
        });
    }
    if oid == ID_EC_PUBLIC_KEY {
        let curve: ObjectIdentifier = spki
            .algorithm
            .parameters
            .as_ref()
            .ok_or("id-ecPublicKey without a named curve")?
            .decode_as()
            .map_err(|e| format!("id-ecPublicKey parameters are not a named curve: {e}"))?;
        return if curve == PRIME256V1 {
            p256::PublicKey::from_sec1_bytes(bits)
                .map(SpkiKey::P256)
                .map_err(|_| "P-256 point is not on the curve".to_string())
        } else if curve == SECP384R1 {
            p384::PublicKey::from_sec1_bytes(bits)
                .map(SpkiKey::P384)
                .map_err(|_| "P-384 point is not on the curve".to_string())
        } else {
            Err(format!(
                "elliptic curve {curve} (only P-256 and P-384 are supported)"
            ))
        };
    }
    Err(format!("public key algorithm {oid}{}", db_name(&oid)))
}

/// Why a signature was not accepted.
pub(crate) enum SigError {
    /// Well-formed but wrong.
    Invalid,
    /// Algorithm or parameters not supported.
    Unsupported(String),
    /// The issuer key cannot be used.
    BadKey(String),
}

fn db_name(oid: &ObjectIdentifier) -> String {
    const_oid::db::DB
        .by_oid(oid)
        .map(|n| format!(" ({n})"))
        .unwrap_or_default()
}

/// A readable name for a signature algorithm.
pub(crate) fn describe(alg: &AlgorithmIdentifierOwned) -> String {
    format!("{}{}", alg.oid, db_name(&alg.oid))
}

fn hash_from_oid(oid: &ObjectIdentifier) -> Option<HashAlg> {
    match *oid {
        o if o == ID_SHA1 => Some(HashAlg::Sha1),
        o if o == ID_SHA256 => Some(HashAlg::Sha256),
        o if o == ID_SHA384 => Some(HashAlg::Sha384),
        o if o == ID_SHA512 => Some(HashAlg::Sha512),
        _ => None,
    }
}

fn null_or_absent(alg: &AlgorithmIdentifierOwned) -> bool {
    alg.parameters
        .as_ref()
        .is_none_or(|p| p.tag() == Tag::Null && p.value().is_empty())
}

/// Verifies `sig` over `tbs` with the issuer's key under `alg`.
pub(crate) fn verify(
    issuer: &SubjectPublicKeyInfoOwned,
    alg: &AlgorithmIdentifierOwned,
    tbs: &[u8],
    sig: &[u8],
) -> Result<(), SigError> {
    let key = decode_spki(issuer).map_err(SigError::BadKey)?;
    let oid = alg.oid;
    let pkcs1_hash = match oid {
        o if o == SHA1_WITH_RSA => Some(HashAlg::Sha1),
        o if o == SHA256_WITH_RSA => Some(HashAlg::Sha256),
        o if o == SHA384_WITH_RSA => Some(HashAlg::Sha384),
        o if o == SHA512_WITH_RSA => Some(HashAlg::Sha512),
        _ => None,
    };
    if let Some(hash) = pkcs1_hash {
        if !null_or_absent(alg) {
            return Err(SigError::Unsupported(format!(
                "{}: parameters must be NULL or absent",
                describe(alg)
            )));
        }
        return rsa_verify(&key, Scheme::RsaPkcs1v15(hash), tbs, sig);
    }
    if oid == ID_RSASSA_PSS {
        let (hash, salt_len) = pss_params(alg)?;
        // Salt = digest length is what AMD's ARK/ASK/VCEK chains use; other
        // explicit lengths the provider knows (crypto::PSS_SALT_LENGTHS)
        // are accepted too, anything else is named as unsupported.
        let salt = u16::try_from(salt_len).map_err(|_| {
            SigError::Unsupported(format!("RSASSA-PSS with a {salt_len}-byte salt"))
        })?;
        return rsa_verify(&key, Scheme::RsaPss(hash, PssSalt::Bytes(salt)), tbs, sig);
    }
    let ecdsa_hash = match oid {
        o if o == ECDSA_SHA256 => Some(HashAlg::Sha256),
        o if o == ECDSA_SHA384 => Some(HashAlg::Sha384),
        o if o == ECDSA_SHA512 => Some(HashAlg::Sha512),
        _ => None,
    };
    if let Some(hash) = ecdsa_hash {
        if alg.parameters.is_some() {
            return Err(SigError::Unsupported(format!(
                "{}: parameters must be absent",
                describe(alg)
            )));
        }
        let (curve, point) = match &key {
            SpkiKey::P256(k) => (Curve::P256, k.to_encoded_point(false).as_bytes().to_vec()),
            SpkiKey::P384(k) => (Curve::P384, k.to_encoded_point(false).as_bytes().to_vec()),
            SpkiKey::Rsa { .. } => {
                return Err(SigError::BadKey(
                    "ECDSA signature but the issuer key is RSA".to_string(),
                ))
            }
        };
        let k = VerifyingKey::ecdsa(curve, &point, hash).map_err(crypto_err)?;
        return k.verify(tbs, sig).map_err(crypto_err);
    }
    Err(SigError::Unsupported(describe(alg)))
}

fn crypto_err(e: CryptoError) -> SigError {
    match e {
        CryptoError::BadSignature => SigError::Invalid,
        CryptoError::Unsupported(s) => SigError::Unsupported(s),
        CryptoError::BadKey(s) => SigError::BadKey(s),
    }
}

/// An RSA signature through the one crypto provider (2048–8192-bit keys).
fn rsa_verify(key: &SpkiKey, scheme: Scheme, tbs: &[u8], sig: &[u8]) -> Result<(), SigError> {
    let SpkiKey::Rsa { n, e } = key else {
        return Err(SigError::BadKey(
            "RSA signature but the issuer key is ECC".to_string(),
        ));
    };
    VerifyingKey::rsa(n, &e.to_be_bytes(), scheme)
        .map_err(crypto_err)?
        .verify(tbs, sig)
        .map_err(crypto_err)
}

/// RSASSA-PSS-params (RFC 4055 §3.1) → (hash, salt length).
fn pss_params(alg: &AlgorithmIdentifierOwned) -> Result<(HashAlg, usize), SigError> {
    let unsupported = |why: String| SigError::Unsupported(format!("RSASSA-PSS: {why}"));
    let der = alg
        .parameters
        .as_ref()
        .ok_or_else(|| unsupported("parameters absent".to_string()))?
        .to_der()
        .map_err(|e| unsupported(e.to_string()))?;
    let p = RsaPssParams::from_der(&der).map_err(|e| unsupported(format!("parameters: {e}")))?;
    let hash =
        hash_from_oid(&p.hash.oid).ok_or_else(|| unsupported(format!("hash {}", p.hash.oid)))?;
    if p.mask_gen.oid != ID_MGF1 {
        return Err(unsupported(format!("mask generation {}", p.mask_gen.oid)));
    }
    let mgf_hash = p
        .mask_gen
        .parameters
        .as_ref()
        .and_then(|h| hash_from_oid(&h.oid));
    if mgf_hash != Some(hash) {
        return Err(unsupported(format!(
            "MGF1 hash {:?} differs from the message hash {hash}",
            p.mask_gen.parameters.map(|h| h.oid.to_string())
        )));
    }
    Ok((hash, usize::from(p.salt_len)))
}
