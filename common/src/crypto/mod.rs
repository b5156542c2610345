//! The one cryptographic provider of the verification path.
//!
//! Every signature check and every hash on the way from evidence to verdict
//! goes through this module, and this module goes through one maintained,
//! constant-time, assembly-optimised provider: AWS-LC (`aws-lc-rs`), the same
//! BoringSSL-derived code base whose RSA and NIST-curve routines OpenSSL users
//! would pick. No other implementation verifies a signature of evidence.
//!
//! What it covers (and nothing else, on purpose):
//!
//! * Hashes: SHA-1, SHA-256, SHA-384, SHA-512 (FIPS 180-4) for PCR banks,
//!   event digests, names and bindings ([`crate::HashAlg`] calls [`digest`]).
//! * RSASSA-PKCS1-v1_5 (RFC 8017 §8.2) with SHA-1/-256/-384/-512, keys of
//!   2048–8192 bits (SHA-1 only where a caller allows legacy evidence).
//! * RSASSA-PSS (RFC 8017 §8.1) with SHA-256/-384/-512, MGF1 with the
//!   message hash, salt = digest length (TPM 2.0 Part 1 rev. 1.59 annex B
//!   and AMD's ARK/ASK/VCEK chain) or the maximum the key allows (older TPM
//!   firmware), keys of 2048–8192 bits (RSA-4096 for AMD roots).
//! * ECDSA (FIPS 186-4 §6.4) on P-256 and P-384 with SHA-1 (P-256 only),
//!   SHA-256, SHA-384 and SHA-512; signatures as DER (X.509, DSSE) or as the
//!   fixed big-endian `r || s` pair (TPMS_SIGNATURE_ECDSA, SEV-SNP).
//! * Ed25519 (RFC 8032 §5.1.7) for DSSE envelopes.
//! * RSAES-OAEP encryption and HMAC for TPM2_MakeCredential in software
//!   (registration; TPM 2.0 Part 1 rev. 1.59 Annex B.10.4 and §11.4.9).
//! * ECDSA P-256 signing of the verifier's attestation results
//!   ([`P256Signer`]).
//!
//! A [`VerifyingKey`] is parsed once and can verify many messages: callers
//! that see the same key again (a cached VCEK, a registered AK) keep it.

mod sign;
pub use sign::P256Signer;

use crate::hash::HashAlg;
use aws_lc_rs::digest as lc_digest;
use aws_lc_rs::signature::{self as lc, ParsedPublicKey, RsaPssSaltLength};
use thiserror::Error;

/// Why a key or signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CryptoError {
    /// The signature is well-formed for the scheme but does not verify.
    #[error("the signature does not verify")]
    BadSignature,
    /// The scheme, hash or parameter is not one this module supports.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The public key cannot be used (malformed, off the curve, too small).
    #[error("public key not usable: {0}")]
    BadKey(String),
}

/// A NIST prime curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Curve {
    /// P-256 (secp256r1, TPM_ECC_NIST_P256).
    P256,
    /// P-384 (secp384r1, TPM_ECC_NIST_P384).
    P384,
}

impl Curve {
    /// Size of a coordinate / scalar in bytes.
    pub fn size(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
        }
    }

    /// Name as used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::P256 => "P-256",
            Self::P384 => "P-384",
        }
    }
}

/// The RSASSA-PSS salt length a signer used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PssSalt {
    /// The digest length (what current TPMs, AMD and most X.509 signers use).
    DigestLength,
    /// `emLen - hLen - 2`, the maximum the key size allows.
    Maximum,
    /// An explicit length from RSASSA-PSS-params (RFC 4055 §3.1): 0, 20
    /// (the ASN.1 default), 32, 48 or 64 bytes are supported.
    Bytes(u16),
}

/// The explicit PSS salt lengths [`PssSalt::Bytes`] supports.
pub const PSS_SALT_LENGTHS: [u16; 5] = [0, 20, 32, 48, 64];

/// A signature scheme: padding or curve, and hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// RSASSA-PKCS1-v1_5 with this hash.
    RsaPkcs1v15(HashAlg),
    /// RSASSA-PSS with this hash (MGF1 with the same hash) and salt.
    RsaPss(HashAlg, PssSalt),
    /// ECDSA on this curve with this hash.
    Ecdsa(Curve, HashAlg),
    /// Ed25519 (pure, RFC 8032).
    Ed25519,
}

impl std::fmt::Display for Scheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::RsaPkcs1v15(h) => write!(f, "RSASSA-PKCS1-v1_5-{h}"),
            Self::RsaPss(h, PssSalt::DigestLength) => write!(f, "RSASSA-PSS-{h}"),
            Self::RsaPss(h, PssSalt::Maximum) => write!(f, "RSASSA-PSS-{h} (maximum salt)"),
            Self::RsaPss(h, PssSalt::Bytes(n)) => write!(f, "RSASSA-PSS-{h} ({n}-byte salt)"),
            Self::Ecdsa(c, h) => write!(f, "ECDSA-{}-{h}", c.name()),
            Self::Ed25519 => f.write_str("Ed25519"),
        }
    }
}

// RSASSA-PSS with the maximum salt (see `PssSalt::Maximum`).
static RSA_PSS_SHA256_MAX: lc::RsaParameters =
    lc::RSA_PSS_2048_8192_SHA256.with_pss_salt_length(RsaPssSaltLength::Max);
static RSA_PSS_SHA384_MAX: lc::RsaParameters =
    lc::RSA_PSS_2048_8192_SHA384.with_pss_salt_length(RsaPssSaltLength::Max);
static RSA_PSS_SHA512_MAX: lc::RsaParameters =
    lc::RSA_PSS_2048_8192_SHA512.with_pss_salt_length(RsaPssSaltLength::Max);
/// RSASSA-PSS parameters with an explicit salt length, one static per
/// (hash, length) pair of [`PSS_SALT_LENGTHS`] (the provider wants `'static`
/// parameters).
macro_rules! pss_salts {
    ($($name:ident = $base:ident, $len:literal;)*) => {
        $(static $name: lc::RsaParameters =
            lc::$base.with_pss_salt_length(RsaPssSaltLength::Custom($len));)*
    };
}
pss_salts! {
    PSS256_0 = RSA_PSS_2048_8192_SHA256, 0;
    PSS256_20 = RSA_PSS_2048_8192_SHA256, 20;
    PSS256_32 = RSA_PSS_2048_8192_SHA256, 32;
    PSS256_48 = RSA_PSS_2048_8192_SHA256, 48;
    PSS256_64 = RSA_PSS_2048_8192_SHA256, 64;
    PSS384_0 = RSA_PSS_2048_8192_SHA384, 0;
    PSS384_20 = RSA_PSS_2048_8192_SHA384, 20;
    PSS384_32 = RSA_PSS_2048_8192_SHA384, 32;
    PSS384_48 = RSA_PSS_2048_8192_SHA384, 48;
    PSS384_64 = RSA_PSS_2048_8192_SHA384, 64;
    PSS512_0 = RSA_PSS_2048_8192_SHA512, 0;
    PSS512_20 = RSA_PSS_2048_8192_SHA512, 20;
    PSS512_32 = RSA_PSS_2048_8192_SHA512, 32;
    PSS512_48 = RSA_PSS_2048_8192_SHA512, 48;
    PSS512_64 = RSA_PSS_2048_8192_SHA512, 64;
}

fn pss_explicit(hash: HashAlg, len: u16) -> Option<&'static lc::RsaParameters> {
    use HashAlg::{Sha256, Sha384, Sha512};
    Some(match (hash, len) {
        (Sha256, 0) => &PSS256_0,
        (Sha256, 20) => &PSS256_20,
        (Sha256, 32) => &PSS256_32,
        (Sha256, 48) => &PSS256_48,
        (Sha256, 64) => &PSS256_64,
        (Sha384, 0) => &PSS384_0,
        (Sha384, 20) => &PSS384_20,
        (Sha384, 32) => &PSS384_32,
        (Sha384, 48) => &PSS384_48,
        (Sha384, 64) => &PSS384_64,
        (Sha512, 0) => &PSS512_0,
        (Sha512, 20) => &PSS512_20,
        (Sha512, 32) => &PSS512_32,
        (Sha512, 48) => &PSS512_48,
        (Sha512, 64) => &PSS512_64,
        _ => return None,
    })
}

static RSA_PKCS1_SHA1: lc::RsaParameters = lc::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY;
static RSA_PKCS1_SHA256: lc::RsaParameters = lc::RSA_PKCS1_2048_8192_SHA256;
static RSA_PKCS1_SHA384: lc::RsaParameters = lc::RSA_PKCS1_2048_8192_SHA384;
static RSA_PKCS1_SHA512: lc::RsaParameters = lc::RSA_PKCS1_2048_8192_SHA512;
static RSA_PSS_SHA256: lc::RsaParameters = lc::RSA_PSS_2048_8192_SHA256;
static RSA_PSS_SHA384: lc::RsaParameters = lc::RSA_PSS_2048_8192_SHA384;
static RSA_PSS_SHA512: lc::RsaParameters = lc::RSA_PSS_2048_8192_SHA512;
static ECDSA_P256_SHA1: lc::EcdsaVerificationAlgorithm = lc::ECDSA_P256_SHA1_ASN1;
static ECDSA_P256_SHA256: lc::EcdsaVerificationAlgorithm = lc::ECDSA_P256_SHA256_ASN1;
static ECDSA_P256_SHA384: lc::EcdsaVerificationAlgorithm = lc::ECDSA_P256_SHA384_ASN1;
static ECDSA_P256_SHA512: lc::EcdsaVerificationAlgorithm = lc::ECDSA_P256_SHA512_ASN1;
static ECDSA_P384_SHA256: lc::EcdsaVerificationAlgorithm = lc::ECDSA_P384_SHA256_ASN1;
static ECDSA_P384_SHA384: lc::EcdsaVerificationAlgorithm = lc::ECDSA_P384_SHA384_ASN1;
static ECDSA_P384_SHA512: lc::EcdsaVerificationAlgorithm = lc::ECDSA_P384_SHA512_ASN1;
static ED25519: lc::EdDSAParameters = lc::ED25519;

fn algorithm(scheme: Scheme) -> Result<&'static dyn lc::VerificationAlgorithm, CryptoError> {
    use HashAlg::{Sha1, Sha256, Sha384, Sha512};
    Ok(match scheme {
        Scheme::RsaPkcs1v15(Sha1) => &RSA_PKCS1_SHA1,
        Scheme::RsaPkcs1v15(Sha256) => &RSA_PKCS1_SHA256,
        Scheme::RsaPkcs1v15(Sha384) => &RSA_PKCS1_SHA384,
        Scheme::RsaPkcs1v15(Sha512) => &RSA_PKCS1_SHA512,
        Scheme::RsaPss(Sha256, PssSalt::DigestLength) => &RSA_PSS_SHA256,
        Scheme::RsaPss(Sha384, PssSalt::DigestLength) => &RSA_PSS_SHA384,
        Scheme::RsaPss(Sha512, PssSalt::DigestLength) => &RSA_PSS_SHA512,
        Scheme::RsaPss(Sha256, PssSalt::Maximum) => &RSA_PSS_SHA256_MAX,
        Scheme::RsaPss(Sha384, PssSalt::Maximum) => &RSA_PSS_SHA384_MAX,
        Scheme::RsaPss(Sha512, PssSalt::Maximum) => &RSA_PSS_SHA512_MAX,
        Scheme::RsaPss(h, PssSalt::Bytes(n)) if h.size() == usize::from(n) => {
            return algorithm(Scheme::RsaPss(h, PssSalt::DigestLength))
        }
        Scheme::RsaPss(h, PssSalt::Bytes(n)) => match pss_explicit(h, n) {
            Some(p) => p,
            None => return Err(CryptoError::Unsupported(format!("{scheme}"))),
        },
        Scheme::Ecdsa(Curve::P256, Sha1) => &ECDSA_P256_SHA1,
        Scheme::Ecdsa(Curve::P256, Sha256) => &ECDSA_P256_SHA256,
        Scheme::Ecdsa(Curve::P256, Sha384) => &ECDSA_P256_SHA384,
        Scheme::Ecdsa(Curve::P256, Sha512) => &ECDSA_P256_SHA512,
        Scheme::Ecdsa(Curve::P384, Sha256) => &ECDSA_P384_SHA256,
        Scheme::Ecdsa(Curve::P384, Sha384) => &ECDSA_P384_SHA384,
        Scheme::Ecdsa(Curve::P384, Sha512) => &ECDSA_P384_SHA512,
        Scheme::Ed25519 => &ED25519,
        Scheme::RsaPss(Sha1, _) | Scheme::Ecdsa(Curve::P384, Sha1) => {
            return Err(CryptoError::Unsupported(format!("{scheme}")))
        }
    })
}

/// A public key, parsed and checked once, bound to one [`Scheme`].
#[derive(Debug)]
pub struct VerifyingKey {
    key: ParsedPublicKey,
    scheme: Scheme,
}

impl VerifyingKey {
    /// An RSA key from its modulus and public exponent (big-endian, leading
    /// zeros allowed). 2048 to 8192 bits.
    pub fn rsa(n: &[u8], e: &[u8], scheme: Scheme) -> Result<Self, CryptoError> {
        if !matches!(scheme, Scheme::RsaPkcs1v15(_) | Scheme::RsaPss(..)) {
            return Err(CryptoError::BadKey(format!(
                "an RSA key cannot verify {scheme}"
            )));
        }
        let n = strip_zeros(n);
        let bits = n
            .first()
            .map(|b| n.len() * 8 - b.leading_zeros() as usize)
            .unwrap_or(0);
        if !(2048..=8192).contains(&bits) {
            return Err(CryptoError::BadKey(format!(
                "RSA modulus of {bits} bits; 2048 to 8192 are accepted"
            )));
        }
        let der = rsa_public_key_der(n, strip_zeros(e));
        Self::parse(scheme, &der)
    }

    /// An ECDSA key from its SEC1 point (uncompressed `04 || x || y`).
    pub fn ecdsa(curve: Curve, point: &[u8], hash: HashAlg) -> Result<Self, CryptoError> {
        let expected = 1 + 2 * curve.size();
        if point.len() != expected || point.first() != Some(&0x04) {
            return Err(CryptoError::BadKey(format!(
                "{} point must be {expected} bytes, uncompressed (04 || x || y); got {} bytes",
                curve.name(),
                point.len()
            )));
        }
        Self::parse(Scheme::Ecdsa(curve, hash), point)
    }

    /// An ECDSA key from its affine coordinates (big-endian, each at most
    /// the curve size; shorter ones are left-padded as TPMs may send them).
    pub fn ecdsa_xy(curve: Curve, x: &[u8], y: &[u8], hash: HashAlg) -> Result<Self, CryptoError> {
        let size = curve.size();
        let mut point = Vec::with_capacity(1 + 2 * size);
        point.push(0x04);
        for c in [x, y] {
            let c = strip_zeros(c);
            if c.len() > size {
                return Err(CryptoError::BadKey(format!(
                    "{} coordinate of {} bytes",
                    curve.name(),
                    c.len()
                )));
            }
            point.resize(point.len() + size - c.len(), 0);
            point.extend_from_slice(c);
        }
        Self::ecdsa(curve, &point, hash)
    }

    /// An Ed25519 key (32 bytes, RFC 8032 §5.1.5).
    pub fn ed25519(public: &[u8]) -> Result<Self, CryptoError> {
        if public.len() != 32 {
            return Err(CryptoError::BadKey(format!(
                "Ed25519 public key of {} bytes; 32 expected",
                public.len()
            )));
        }
        Self::parse(Scheme::Ed25519, public)
    }

    fn parse(scheme: Scheme, bytes: &[u8]) -> Result<Self, CryptoError> {
        let alg = algorithm(scheme)?;
        let key = ParsedPublicKey::new(alg, bytes)
            .map_err(|e| CryptoError::BadKey(format!("{scheme} key rejected: {e}")))?;
        Ok(Self { key, scheme })
    }

    /// The scheme this key verifies.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Verifies `sig` over `msg` (hashed here with the scheme's hash). RSA:
    /// the signature as the modulus-sized integer; ECDSA: DER
    /// `Ecdsa-Sig-Value` (RFC 5480 / X9.62); Ed25519: 64 bytes.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
        self.key
            .verify_sig(msg, sig)
            .map_err(|_| CryptoError::BadSignature)
    }

    /// Verifies an ECDSA signature given as big-endian `r` and `s` (each at
    /// most the curve size) over `msg`.
    pub fn verify_ecdsa_rs(&self, msg: &[u8], r: &[u8], s: &[u8]) -> Result<(), CryptoError> {
        let Scheme::Ecdsa(curve, _) = self.scheme else {
            return Err(CryptoError::Unsupported(format!(
                "(r, s) signature for a {} key",
                self.scheme
            )));
        };
        let sig = ecdsa_der(curve, r, s).ok_or(CryptoError::BadSignature)?;
        self.verify(msg, &sig)
    }

    /// Verifies `sig` over an already computed digest of the scheme's hash
    /// (for signatures over `H(data)` where only the digest is at hand).
    pub fn verify_digest(&self, digest: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
        let hash = match self.scheme {
            Scheme::RsaPkcs1v15(h) | Scheme::RsaPss(h, _) | Scheme::Ecdsa(_, h) => h,
            Scheme::Ed25519 => {
                return Err(CryptoError::Unsupported(
                    "Ed25519 signs messages, not digests".into(),
                ))
            }
        };
        let d = lc_digest::Digest::import_less_safe(digest, lc_algorithm(hash)).map_err(|_| {
            CryptoError::Unsupported(format!(
                "a {hash} digest is {} bytes, got {}",
                hash.size(),
                digest.len()
            ))
        })?;
        self.key
            .verify_digest_sig(&d, sig)
            .map_err(|_| CryptoError::BadSignature)
    }
}

/// One-shot verification: parses the key and checks one signature.
pub fn verify_rsa(
    n: &[u8],
    e: &[u8],
    scheme: Scheme,
    msg: &[u8],
    sig: &[u8],
) -> Result<(), CryptoError> {
    VerifyingKey::rsa(n, e, scheme)?.verify(msg, sig)
}

fn lc_algorithm(hash: HashAlg) -> &'static lc_digest::Algorithm {
    match hash {
        HashAlg::Sha1 => &lc_digest::SHA1_FOR_LEGACY_USE_ONLY,
        HashAlg::Sha256 => &lc_digest::SHA256,
        HashAlg::Sha384 => &lc_digest::SHA384,
        HashAlg::Sha512 => &lc_digest::SHA512,
    }
}

/// Hashes the concatenation of `parts` with `hash`.
pub fn digest(hash: HashAlg, parts: &[&[u8]]) -> Vec<u8> {
    let mut ctx = lc_digest::Context::new(lc_algorithm(hash));
    for p in parts {
        ctx.update(p);
    }
    ctx.finish().as_ref().to_vec()
}

/// `pcr = H(pcr || digest)`, reusing `pcr`'s allocation.
pub fn extend_into(hash: HashAlg, pcr: &mut Vec<u8>, digest: &[u8]) {
    let mut ctx = lc_digest::Context::new(lc_algorithm(hash));
    ctx.update(pcr);
    ctx.update(digest);
    let d = ctx.finish();
    pcr.clear();
    pcr.extend_from_slice(d.as_ref());
}

/// SHA-256 of `data` as an array.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    sha256_parts(&[data])
}

/// SHA-256 of the concatenation of `parts`, as an array.
pub fn sha256_parts(parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = lc_digest::Context::new(&lc_digest::SHA256);
    for p in parts {
        ctx.update(p);
    }
    let mut out = [0u8; 32];
    for (o, d) in out.iter_mut().zip(ctx.finish().as_ref()) {
        *o = *d;
    }
    out
}

/// An incremental hash (for data that arrives in pieces).
pub struct Hasher {
    ctx: lc_digest::Context,
}

impl Hasher {
    /// A new hash computation.
    pub fn new(hash: HashAlg) -> Self {
        Self {
            ctx: lc_digest::Context::new(lc_algorithm(hash)),
        }
    }

    /// Adds bytes.
    pub fn update(&mut self, data: impl AsRef<[u8]>) {
        self.ctx.update(data.as_ref());
    }

    /// The digest.
    pub fn finish(self) -> Vec<u8> {
        self.ctx.finish().as_ref().to_vec()
    }
}

/// RSAES-OAEP encryption (RFC 8017 §7.1) to the key `(n, e)` with `hash` for
/// both the label hash and MGF1, and `label` (TPM 2.0 Part 1 rev. 1.59
/// Annex B.10.4: MakeCredential encrypts its seed so, with label
/// "IDENTITY\0"). The provider draws the OAEP seed from its own RNG.
pub fn rsa_oaep_encrypt(
    n: &[u8],
    e: &[u8],
    hash: HashAlg,
    label: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    use aws_lc_rs::rsa::{
        OaepPublicEncryptingKey, PublicEncryptingKey, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256,
        OAEP_SHA384_MGF1SHA384, OAEP_SHA512_MGF1SHA512,
    };
    let n = strip_zeros(n);
    let bits = n
        .first()
        .map_or(0, |b| n.len() * 8 - b.leading_zeros() as usize);
    if !(2048..=8192).contains(&bits) {
        return Err(CryptoError::BadKey(format!(
            "RSA modulus of {bits} bits; 2048 to 8192 are accepted"
        )));
    }
    let spki = rsa_spki_der(n, strip_zeros(e));
    let key = PublicEncryptingKey::from_der(&spki)
        .map_err(|err| CryptoError::BadKey(format!("RSA key rejected: {err}")))
        .and_then(|k| {
            OaepPublicEncryptingKey::new(k)
                .map_err(|_| CryptoError::BadKey("RSA key not usable for OAEP".into()))
        })?;
    let alg = match hash {
        HashAlg::Sha1 => &OAEP_SHA1_MGF1SHA1,
        HashAlg::Sha256 => &OAEP_SHA256_MGF1SHA256,
        HashAlg::Sha384 => &OAEP_SHA384_MGF1SHA384,
        HashAlg::Sha512 => &OAEP_SHA512_MGF1SHA512,
    };
    let mut out = vec![0u8; key.ciphertext_size()];
    let len = key
        .encrypt(alg, plaintext, &mut out, Some(label))
        .map_err(|_| {
            CryptoError::Unsupported(format!(
                "RSA-OAEP-{hash} of {} bytes with a {bits}-bit key",
                plaintext.len()
            ))
        })?
        .len();
    out.truncate(len);
    Ok(out)
}

/// HMAC (RFC 2104) with `hash` over the concatenation of `parts`.
pub fn hmac(hash: HashAlg, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    use aws_lc_rs::hmac;
    let alg = match hash {
        HashAlg::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        HashAlg::Sha256 => hmac::HMAC_SHA256,
        HashAlg::Sha384 => hmac::HMAC_SHA384,
        HashAlg::Sha512 => hmac::HMAC_SHA512,
    };
    let mut ctx = hmac::Context::with_key(&hmac::Key::new(alg, key));
    for p in parts {
        ctx.update(p);
    }
    ctx.sign().as_ref().to_vec()
}

/// SubjectPublicKeyInfo (RFC 5280 §4.1.2.7, RFC 3279 §2.3.1) of an RSA key.
fn rsa_spki_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    // AlgorithmIdentifier { rsaEncryption (1.2.840.113549.1.1.1), NULL }.
    const RSA_ALG_ID: [u8; 15] = [
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let key = rsa_public_key_der(n, e);
    let mut bits = Vec::with_capacity(key.len() + 5);
    bits.push(0x03);
    der_len(&mut bits, key.len() + 1);
    bits.push(0x00);
    bits.extend_from_slice(&key);
    let mut body = RSA_ALG_ID.to_vec();
    body.extend_from_slice(&bits);
    der_sequence(&body)
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let first = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    b.get(first..).unwrap_or_default()
}

/// DER length octets (X.690 §8.1.3).
fn der_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(bytes.len() - 1);
        let tail = bytes.get(skip..).unwrap_or_default();
        out.push(0x80 | tail.len() as u8);
        out.extend_from_slice(tail);
    }
}

/// A DER INTEGER holding the unsigned big-endian `v` (leading zeros removed,
/// a zero byte added when the top bit is set).
fn der_uint(out: &mut Vec<u8>, v: &[u8]) {
    let v = strip_zeros(v);
    let pad = v.first().is_none_or(|b| b & 0x80 != 0);
    out.push(0x02);
    der_len(out, v.len() + usize::from(pad));
    if pad {
        out.push(0);
    }
    out.extend_from_slice(v);
}

fn der_sequence(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 4);
    out.push(0x30);
    der_len(&mut out, body.len());
    out.extend_from_slice(body);
    out
}

/// RSAPublicKey (RFC 8017 §A.1.1) from modulus and exponent.
fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(n.len() + e.len() + 16);
    der_uint(&mut body, n);
    der_uint(&mut body, e);
    der_sequence(&body)
}

/// `Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }` (RFC 5480 §2.2 /
/// X9.62) from big-endian `r` and `s`; `None` when one is longer than the
/// curve allows.
pub fn ecdsa_der(curve: Curve, r: &[u8], s: &[u8]) -> Option<Vec<u8>> {
    let (r, s) = (strip_zeros(r), strip_zeros(s));
    if r.len() > curve.size() || s.len() > curve.size() {
        return None;
    }
    let mut body = Vec::with_capacity(2 * curve.size() + 8);
    der_uint(&mut body, r);
    der_uint(&mut body, s);
    Some(der_sequence(&body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_match_known_values() {
        // FIPS 180-4 examples ("abc").
        assert_eq!(
            hex::encode(digest(HashAlg::Sha256, &[b"a", b"bc"])),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex::encode(digest(HashAlg::Sha1, &[b"abc"])),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        let mut h = Hasher::new(HashAlg::Sha384);
        h.update(b"ab");
        h.update(b"c");
        assert_eq!(h.finish(), digest(HashAlg::Sha384, &[b"abc"]));
        assert_eq!(sha256(b"abc").to_vec(), digest(HashAlg::Sha256, &[b"abc"]));
    }

    #[test]
    fn der_integers_are_minimal() {
        let mut out = Vec::new();
        der_uint(&mut out, &[0, 0, 0x7f]);
        assert_eq!(out, [0x02, 0x01, 0x7f]);
        out.clear();
        der_uint(&mut out, &[0x80]);
        assert_eq!(out, [0x02, 0x02, 0x00, 0x80]);
        out.clear();
        der_uint(&mut out, &[]);
        assert_eq!(out, [0x02, 0x01, 0x00]);
        let mut l = Vec::new();
        der_len(&mut l, 0x1234);
        assert_eq!(l, [0x82, 0x12, 0x34]);
    }

    #[test]
    fn small_and_mismatched_keys_are_refused() {
        let n = [0xffu8; 128]; // 1024 bits
        assert!(matches!(
            VerifyingKey::rsa(&n, &[1, 0, 1], Scheme::RsaPkcs1v15(HashAlg::Sha256)),
            Err(CryptoError::BadKey(_))
        ));
        assert!(VerifyingKey::rsa(&[0xff; 256], &[1, 0, 1], Scheme::Ed25519).is_err());
        assert!(VerifyingKey::ecdsa(Curve::P256, &[4; 65], HashAlg::Sha256).is_err());
        assert!(VerifyingKey::ed25519(&[0; 31]).is_err());
        assert!(matches!(
            algorithm(Scheme::RsaPss(HashAlg::Sha1, PssSalt::DigestLength)),
            Err(CryptoError::Unsupported(_))
        ));
    }

    #[test]
    fn ecdsa_der_refuses_oversized_scalars() {
        assert!(ecdsa_der(Curve::P256, &[1; 33], &[1]).is_none());
        assert_eq!(
            ecdsa_der(Curve::P256, &[0, 1], &[0x80]).unwrap(),
            [0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x02, 0x00, 0x80]
        );
    }
}
