//! TPMT_PUBLIC / TPM2B_PUBLIC: the public area of a TPM key.
//!
//! TCG TPM 2.0 Library Part 2 rev. 1.59:
//! * TPMT_PUBLIC — §12.2.4, Table 201: `type` (TPMI_ALG_PUBLIC, Table 193),
//!   `nameAlg` (TPMI_ALG_HASH+), `objectAttributes` (TPMA_OBJECT, Table 31, see
//!   [`super::attributes`]), `authPolicy` (TPM2B_DIGEST), `parameters`
//!   (TPMU_PUBLIC_PARMS, Table 199), `unique` (TPMU_PUBLIC_ID, Table 194).
//! * TPM2B_PUBLIC — §12.2.5, Table 202: UINT16 `size` + TPMT_PUBLIC; the size
//!   must match the structure exactly.
//! * TPMS_RSA_PARMS — Table 197: `symmetric` (TPMT_SYM_DEF_OBJECT, Table 142),
//!   `scheme` (TPMT_RSA_SCHEME, Table 172), `keyBits` (TPMI_RSA_KEY_BITS, Table
//!   176), `exponent` (UINT32; 0 means 2^16 + 1). `unique.rsa` is a
//!   TPM2B_PUBLIC_KEY_RSA (Table 175).
//! * TPMS_ECC_PARMS — Table 198: `symmetric`, `scheme` (TPMT_ECC_SCHEME, Table
//!   183), `curveID` (TPMI_ECC_CURVE, Table 182; TPM_ECC_CURVE values Table 10),
//!   `kdf` (TPMT_KDF_SCHEME, Table 167). `unique.ecc` is a TPMS_ECC_POINT
//!   (Table 179) of two TPM2B_ECC_PARAMETER (Table 178).
//! * Names — Part 1 rev. 1.59 §16: the Name of an object is
//!   `nameAlg || H_nameAlg(TPMT_PUBLIC)`.
//!
//! Supported: types RSA (0x0001) and ECC (0x0023); symmetric NULL or AES-128/
//! 192/256 in CFB mode; schemes NULL, RSASSA, RSAPSS, RSAES, OAEP (RSA keys),
//! ECDSA, ECDH (ECC keys); curves NIST P-256/P-384/P-521; KDFs NULL, MGF1,
//! KDF1-SP800-56A, KDF2, KDF1-SP800-108. Everything else is rejected as
//! unsupported. `unique` may be empty (a creation template) or hold the key
//! (RSA modulus of exactly keyBits/8 bytes; ECC coordinates of at most the
//! curve's size); `authPolicy` is empty or a digest of `nameAlg`.

use crate::error::FormatError;
use crate::hash::HashAlg;
use crate::reader::{Reader, Writer};
use crate::tpm::attributes::ObjectAttributes;
use crate::tpm::{alg, limits};

/// TPMT_SYM_DEF_OBJECT for the supported algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SymDefObject {
    /// TPM_ALG_NULL: no symmetric algorithm (signing keys).
    Null,
    /// TPM_ALG_AES with `keyBits` 128, 192 or 256 and mode TPM_ALG_CFB.
    AesCfb {
        /// 128, 192 or 256.
        key_bits: u16,
    },
}

impl SymDefObject {
    fn read(r: &mut Reader<'_>) -> Result<Self, FormatError> {
        match r.u16_be("TPMT_SYM_DEF_OBJECT.algorithm")? {
            alg::NULL => Ok(Self::Null),
            alg::AES => {
                let key_bits = r.u16_be("TPMT_SYM_DEF_OBJECT.keyBits")?;
                if !matches!(key_bits, 128 | 192 | 256) {
                    return Err(FormatError::unexpected(
                        "TPMT_SYM_DEF_OBJECT.keyBits",
                        "AES key size 128, 192 or 256",
                        key_bits,
                    ));
                }
                let mode = r.u16_be("TPMT_SYM_DEF_OBJECT.mode")?;
                if mode != alg::CFB {
                    return Err(FormatError::Unsupported {
                        field: "TPMT_SYM_DEF_OBJECT.mode",
                        value: u64::from(mode),
                    });
                }
                Ok(Self::AesCfb { key_bits })
            }
            other => Err(FormatError::Unsupported {
                field: "TPMT_SYM_DEF_OBJECT.algorithm",
                value: u64::from(other),
            }),
        }
    }

    fn write(&self, w: &mut Writer) {
        match self {
            Self::Null => {
                w.u16_be(alg::NULL);
            }
            Self::AesCfb { key_bits } => {
                w.u16_be(alg::AES).u16_be(*key_bits).u16_be(alg::CFB);
            }
        }
    }
}

/// TPMT_RSA_SCHEME / TPMT_ECC_SCHEME for the supported schemes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsymScheme {
    /// TPM_ALG_NULL: the scheme is chosen per operation.
    Null,
    /// TPM_ALG_RSASSA with its hash.
    RsaSsa(HashAlg),
    /// TPM_ALG_RSAPSS with its hash.
    RsaPss(HashAlg),
    /// TPM_ALG_RSAES.
    RsaEs,
    /// TPM_ALG_OAEP with its hash.
    Oaep(HashAlg),
    /// TPM_ALG_ECDSA with its hash.
    Ecdsa(HashAlg),
    /// TPM_ALG_ECDH with its hash.
    Ecdh(HashAlg),
}

impl AsymScheme {
    /// The TPM_ALG_ID of the scheme.
    pub fn alg_id(self) -> u16 {
        match self {
            Self::Null => alg::NULL,
            Self::RsaSsa(_) => alg::RSASSA,
            Self::RsaPss(_) => alg::RSAPSS,
            Self::RsaEs => alg::RSAES,
            Self::Oaep(_) => alg::OAEP,
            Self::Ecdsa(_) => alg::ECDSA,
            Self::Ecdh(_) => alg::ECDH,
        }
    }

    /// The scheme's hash, if it has one.
    pub fn hash(self) -> Option<HashAlg> {
        match self {
            Self::Null | Self::RsaEs => None,
            Self::RsaSsa(h) | Self::RsaPss(h) | Self::Oaep(h) | Self::Ecdsa(h) | Self::Ecdh(h) => {
                Some(h)
            }
        }
    }

    fn read(r: &mut Reader<'_>, key_type: u16) -> Result<Self, FormatError> {
        let field = if key_type == alg::RSA {
            "TPMT_RSA_SCHEME.scheme"
        } else {
            "TPMT_ECC_SCHEME.scheme"
        };
        let id = r.u16_be(field)?;
        let hash = |r: &mut Reader<'_>| {
            HashAlg::from_alg_id(
                r.u16_be("TPMS_SCHEME_HASH.hashAlg")?,
                "TPMS_SCHEME_HASH.hashAlg",
            )
        };
        let scheme = match (key_type, id) {
            (_, alg::NULL) => Self::Null,
            (alg::RSA, alg::RSASSA) => Self::RsaSsa(hash(r)?),
            (alg::RSA, alg::RSAPSS) => Self::RsaPss(hash(r)?),
            (alg::RSA, alg::RSAES) => Self::RsaEs,
            (alg::RSA, alg::OAEP) => Self::Oaep(hash(r)?),
            (alg::ECC, alg::ECDSA) => Self::Ecdsa(hash(r)?),
            (alg::ECC, alg::ECDH) => Self::Ecdh(hash(r)?),
            (_, other) => {
                return Err(FormatError::Unsupported {
                    field,
                    value: u64::from(other),
                })
            }
        };
        Ok(scheme)
    }

    fn write(&self, w: &mut Writer) {
        w.u16_be(self.alg_id());
        if let Some(h) = self.hash() {
            w.u16_be(h.alg_id());
        }
    }

    fn fits(self, key_type: u16) -> bool {
        match self {
            Self::Null => true,
            Self::RsaSsa(_) | Self::RsaPss(_) | Self::RsaEs | Self::Oaep(_) => key_type == alg::RSA,
            Self::Ecdsa(_) | Self::Ecdh(_) => key_type == alg::ECC,
        }
    }
}

impl std::fmt::Display for AsymScheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Self::Null => "NULL",
            Self::RsaSsa(_) => "RSASSA",
            Self::RsaPss(_) => "RSAPSS",
            Self::RsaEs => "RSAES",
            Self::Oaep(_) => "OAEP",
            Self::Ecdsa(_) => "ECDSA",
            Self::Ecdh(_) => "ECDH",
        };
        match self.hash() {
            Some(h) => write!(f, "{name}-{h}"),
            None => f.write_str(name),
        }
    }
}

/// TPMT_KDF_SCHEME for the supported key-derivation functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KdfScheme {
    /// TPM_ALG_NULL.
    Null,
    /// TPM_ALG_MGF1 with its hash.
    Mgf1(HashAlg),
    /// TPM_ALG_KDF1_SP800_56A with its hash.
    Kdf1Sp800_56a(HashAlg),
    /// TPM_ALG_KDF2 with its hash.
    Kdf2(HashAlg),
    /// TPM_ALG_KDF1_SP800_108 with its hash.
    Kdf1Sp800_108(HashAlg),
}

impl KdfScheme {
    fn read(r: &mut Reader<'_>) -> Result<Self, FormatError> {
        let id = r.u16_be("TPMT_KDF_SCHEME.scheme")?;
        if id == alg::NULL {
            return Ok(Self::Null);
        }
        let make: fn(HashAlg) -> Self = match id {
            alg::MGF1 => Self::Mgf1,
            alg::KDF1_SP800_56A => Self::Kdf1Sp800_56a,
            alg::KDF2 => Self::Kdf2,
            alg::KDF1_SP800_108 => Self::Kdf1Sp800_108,
            other => {
                return Err(FormatError::Unsupported {
                    field: "TPMT_KDF_SCHEME.scheme",
                    value: u64::from(other),
                })
            }
        };
        let hash = HashAlg::from_alg_id(
            r.u16_be("TPMS_SCHEME_HASH.hashAlg")?,
            "TPMS_SCHEME_HASH.hashAlg",
        )?;
        Ok(make(hash))
    }

    fn write(&self, w: &mut Writer) {
        let (id, hash) = match *self {
            Self::Null => (alg::NULL, None),
            Self::Mgf1(h) => (alg::MGF1, Some(h)),
            Self::Kdf1Sp800_56a(h) => (alg::KDF1_SP800_56A, Some(h)),
            Self::Kdf2(h) => (alg::KDF2, Some(h)),
            Self::Kdf1Sp800_108(h) => (alg::KDF1_SP800_108, Some(h)),
        };
        w.u16_be(id);
        if let Some(h) = hash {
            w.u16_be(h.alg_id());
        }
    }
}

/// A supported TPM_ECC_CURVE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EccCurve {
    /// TPM_ECC_NIST_P256 (0x0003).
    NistP256,
    /// TPM_ECC_NIST_P384 (0x0004).
    NistP384,
    /// TPM_ECC_NIST_P521 (0x0005).
    NistP521,
}

impl EccCurve {
    /// The TPM_ECC_CURVE value.
    pub fn id(self) -> u16 {
        match self {
            Self::NistP256 => 0x0003,
            Self::NistP384 => 0x0004,
            Self::NistP521 => 0x0005,
        }
    }

    /// Parses a TPM_ECC_CURVE value.
    pub fn from_id(id: u16) -> Result<Self, FormatError> {
        match id {
            0x0003 => Ok(Self::NistP256),
            0x0004 => Ok(Self::NistP384),
            0x0005 => Ok(Self::NistP521),
            other => Err(FormatError::Unsupported {
                field: "TPMS_ECC_PARMS.curveID",
                value: u64::from(other),
            }),
        }
    }

    /// Size of a coordinate or scalar in bytes.
    pub fn size(self) -> usize {
        match self {
            Self::NistP256 => 32,
            Self::NistP384 => 48,
            Self::NistP521 => 66,
        }
    }

    /// Name as in the specification.
    pub fn name(self) -> &'static str {
        match self {
            Self::NistP256 => "NIST P-256",
            Self::NistP384 => "NIST P-384",
            Self::NistP521 => "NIST P-521",
        }
    }
}

impl std::fmt::Display for EccCurve {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// TPMS_RSA_PARMS with `unique.rsa`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaPublic {
    symmetric: SymDefObject,
    scheme: AsymScheme,
    key_bits: u16,
    exponent: u32,
    modulus: Vec<u8>,
}

impl RsaPublic {
    /// Checks and builds RSA parameters. `key_bits` is 1024, 2048, 3072 or
    /// 4096; `modulus` is empty (template) or exactly `key_bits / 8` bytes;
    /// `exponent` 0 means 65537.
    pub fn new(
        symmetric: SymDefObject,
        scheme: AsymScheme,
        key_bits: u16,
        exponent: u32,
        modulus: &[u8],
    ) -> Result<Self, FormatError> {
        if !scheme.fits(alg::RSA) {
            return Err(FormatError::unexpected(
                "TPMT_RSA_SCHEME.scheme",
                "an RSA scheme (NULL, RSASSA, RSAPSS, RSAES, OAEP)",
                scheme,
            ));
        }
        if !matches!(key_bits, 1024 | 2048 | 3072 | 4096) {
            return Err(FormatError::unexpected(
                "TPMS_RSA_PARMS.keyBits",
                "1024, 2048, 3072 or 4096",
                key_bits,
            ));
        }
        let bytes = usize::from(key_bits / 8);
        if !modulus.is_empty() && modulus.len() != bytes {
            return Err(FormatError::unexpected(
                "TPMT_PUBLIC.unique.rsa",
                format_args!("empty or {bytes} bytes (keyBits {key_bits})"),
                format_args!("{} bytes", modulus.len()),
            ));
        }
        Ok(Self {
            symmetric,
            scheme,
            key_bits,
            exponent,
            modulus: modulus.to_vec(),
        })
    }

    /// `symmetric`.
    pub fn symmetric(&self) -> SymDefObject {
        self.symmetric
    }
    /// `scheme`.
    pub fn scheme(&self) -> AsymScheme {
        self.scheme
    }
    /// `keyBits`.
    pub fn key_bits(&self) -> u16 {
        self.key_bits
    }
    /// `exponent` as stored (0 means 65537).
    pub fn raw_exponent(&self) -> u32 {
        self.exponent
    }
    /// The public exponent (65537 when stored as 0).
    pub fn exponent(&self) -> u32 {
        if self.exponent == 0 {
            65537
        } else {
            self.exponent
        }
    }
    /// The modulus, big-endian (empty in a template).
    pub fn modulus(&self) -> &[u8] {
        &self.modulus
    }
}

/// TPMS_ECC_PARMS with `unique.ecc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EccPublic {
    symmetric: SymDefObject,
    scheme: AsymScheme,
    curve: EccCurve,
    kdf: KdfScheme,
    x: Vec<u8>,
    y: Vec<u8>,
}

impl EccPublic {
    /// Checks and builds ECC parameters. `x` and `y` hold at most the curve's
    /// coordinate size (both empty in a template).
    pub fn new(
        symmetric: SymDefObject,
        scheme: AsymScheme,
        curve: EccCurve,
        kdf: KdfScheme,
        x: &[u8],
        y: &[u8],
    ) -> Result<Self, FormatError> {
        if !scheme.fits(alg::ECC) {
            return Err(FormatError::unexpected(
                "TPMT_ECC_SCHEME.scheme",
                "an ECC scheme (NULL, ECDSA, ECDH)",
                scheme,
            ));
        }
        for (v, field) in [(x, "TPMS_ECC_POINT.x"), (y, "TPMS_ECC_POINT.y")] {
            if v.len() > curve.size() {
                return Err(FormatError::unexpected(
                    field,
                    format_args!("at most {} bytes for {curve}", curve.size()),
                    format_args!("{} bytes", v.len()),
                ));
            }
        }
        Ok(Self {
            symmetric,
            scheme,
            curve,
            kdf,
            x: x.to_vec(),
            y: y.to_vec(),
        })
    }

    /// `symmetric`.
    pub fn symmetric(&self) -> SymDefObject {
        self.symmetric
    }
    /// `scheme`.
    pub fn scheme(&self) -> AsymScheme {
        self.scheme
    }
    /// `curveID`.
    pub fn curve(&self) -> EccCurve {
        self.curve
    }
    /// `kdf`.
    pub fn kdf(&self) -> KdfScheme {
        self.kdf
    }
    /// The point's x coordinate as stored.
    pub fn x(&self) -> &[u8] {
        &self.x
    }
    /// The point's y coordinate as stored.
    pub fn y(&self) -> &[u8] {
        &self.y
    }
}

/// The type-specific part of a public area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicBody {
    /// TPM_ALG_RSA.
    Rsa(RsaPublic),
    /// TPM_ALG_ECC.
    Ecc(EccPublic),
}

/// A public key in usable form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// RSA: big-endian modulus and the public exponent (65537 resolved).
    Rsa {
        /// n, big-endian.
        modulus: Vec<u8>,
        /// e.
        exponent: u32,
    },
    /// ECC: affine coordinates, each left-padded to the curve size.
    Ecc {
        /// The curve.
        curve: EccCurve,
        /// x, big-endian, `curve.size()` bytes.
        x: Vec<u8>,
        /// y, big-endian, `curve.size()` bytes.
        y: Vec<u8>,
    },
}

/// TPMT_PUBLIC for RSA and ECC keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Public {
    name_alg: HashAlg,
    attributes: ObjectAttributes,
    auth_policy: Vec<u8>,
    body: PublicBody,
}

impl Public {
    /// Builds a public area; `auth_policy` must be empty or a `name_alg` digest.
    pub fn new(
        name_alg: HashAlg,
        attributes: ObjectAttributes,
        auth_policy: &[u8],
        body: PublicBody,
    ) -> Result<Self, FormatError> {
        if !auth_policy.is_empty() && auth_policy.len() != name_alg.size() {
            return Err(FormatError::unexpected(
                "TPMT_PUBLIC.authPolicy",
                format_args!("empty or a {name_alg} digest ({} bytes)", name_alg.size()),
                format_args!("{} bytes", auth_policy.len()),
            ));
        }
        Ok(Self {
            name_alg,
            attributes,
            auth_policy: auth_policy.to_vec(),
            body,
        })
    }

    /// Parses a complete TPMT_PUBLIC.
    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        let mut r = Reader::new(bytes);
        let p = Self::read(&mut r)?;
        r.finish("TPMT_PUBLIC")?;
        Ok(p)
    }

    /// Parses a complete TPM2B_PUBLIC (as `tpm2_createak -u` writes it): a
    /// u16 size that must equal the length of the TPMT_PUBLIC that follows.
    pub fn parse_tpm2b(bytes: &[u8]) -> Result<Self, FormatError> {
        let mut r = Reader::new(bytes);
        let inner = r.tpm2b("TPM2B_PUBLIC.size", usize::from(u16::MAX))?;
        r.finish("TPM2B_PUBLIC")?;
        if inner.is_empty() {
            return Err(FormatError::unexpected(
                "TPM2B_PUBLIC.size",
                "a non-empty public area",
                0,
            ));
        }
        Self::parse(inner)
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, FormatError> {
        let key_type = r.u16_be("TPMT_PUBLIC.type")?;
        if key_type != alg::RSA && key_type != alg::ECC {
            return Err(FormatError::Unsupported {
                field: "TPMT_PUBLIC.type",
                value: u64::from(key_type),
            });
        }
        let name_alg =
            HashAlg::from_alg_id(r.u16_be("TPMT_PUBLIC.nameAlg")?, "TPMT_PUBLIC.nameAlg")?;
        let attributes = ObjectAttributes::from_bits(r.u32_be("TPMT_PUBLIC.objectAttributes")?)?;
        let auth_policy = r.tpm2b("TPMT_PUBLIC.authPolicy", limits::DIGEST)?;
        let symmetric = SymDefObject::read(r)?;
        let scheme = AsymScheme::read(r, key_type)?;
        let body = if key_type == alg::RSA {
            let key_bits = r.u16_be("TPMS_RSA_PARMS.keyBits")?;
            let exponent = r.u32_be("TPMS_RSA_PARMS.exponent")?;
            let modulus = r.tpm2b("TPMT_PUBLIC.unique.rsa", limits::RSA_KEY)?;
            PublicBody::Rsa(RsaPublic::new(
                symmetric, scheme, key_bits, exponent, modulus,
            )?)
        } else {
            let curve = EccCurve::from_id(r.u16_be("TPMS_ECC_PARMS.curveID")?)?;
            let kdf = KdfScheme::read(r)?;
            let x = r.tpm2b("TPMS_ECC_POINT.x", limits::ECC_PARAMETER)?;
            let y = r.tpm2b("TPMS_ECC_POINT.y", limits::ECC_PARAMETER)?;
            PublicBody::Ecc(EccPublic::new(symmetric, scheme, curve, kdf, x, y)?)
        };
        Self::new(name_alg, attributes, auth_policy, body)
    }

    /// The TPMT_PUBLIC encoding (identical to the parsed bytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        let key_type = match self.body {
            PublicBody::Rsa(_) => alg::RSA,
            PublicBody::Ecc(_) => alg::ECC,
        };
        w.u16_be(key_type)
            .u16_be(self.name_alg.alg_id())
            .u32_be(self.attributes.bits())
            .tpm2b(&self.auth_policy);
        match &self.body {
            PublicBody::Rsa(k) => {
                k.symmetric.write(&mut w);
                k.scheme.write(&mut w);
                w.u16_be(k.key_bits).u32_be(k.exponent).tpm2b(&k.modulus);
            }
            PublicBody::Ecc(k) => {
                k.symmetric.write(&mut w);
                k.scheme.write(&mut w);
                w.u16_be(k.curve.id());
                k.kdf.write(&mut w);
                w.tpm2b(&k.x).tpm2b(&k.y);
            }
        }
        w.into_vec()
    }

    /// The TPM2B_PUBLIC encoding.
    pub fn to_tpm2b_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.tpm2b(&self.to_bytes());
        w.into_vec()
    }

    /// The object's Name: `u16be(nameAlg) || H_nameAlg(TPMT_PUBLIC)` (Part 1 §16).
    pub fn name(&self) -> Vec<u8> {
        let mut out = self.name_alg.alg_id().to_be_bytes().to_vec();
        out.extend_from_slice(&self.name_alg.digest(&self.to_bytes()));
        out
    }

    /// `nameAlg`.
    pub fn name_alg(&self) -> HashAlg {
        self.name_alg
    }

    /// `objectAttributes`.
    pub fn attributes(&self) -> ObjectAttributes {
        self.attributes
    }

    /// `authPolicy` (empty when the object has no policy).
    pub fn auth_policy(&self) -> &[u8] {
        &self.auth_policy
    }

    /// The type-specific parameters and key.
    pub fn body(&self) -> &PublicBody {
        &self.body
    }

    /// The key's scheme (`parameters.*.scheme`).
    pub fn scheme(&self) -> AsymScheme {
        match &self.body {
            PublicBody::Rsa(k) => k.scheme,
            PublicBody::Ecc(k) => k.scheme,
        }
    }

    /// The key's symmetric algorithm (`parameters.*.symmetric`).
    pub fn symmetric(&self) -> SymDefObject {
        match &self.body {
            PublicBody::Rsa(k) => k.symmetric,
            PublicBody::Ecc(k) => k.symmetric,
        }
    }

    /// The public key, or an error when `unique` is empty (a template).
    pub fn public_key(&self) -> Result<PublicKey, FormatError> {
        match &self.body {
            PublicBody::Rsa(k) => {
                if k.modulus.is_empty() {
                    return Err(FormatError::unexpected(
                        "TPMT_PUBLIC.unique.rsa",
                        "an RSA modulus",
                        "an empty template value",
                    ));
                }
                Ok(PublicKey::Rsa {
                    modulus: k.modulus.clone(),
                    exponent: k.exponent(),
                })
            }
            PublicBody::Ecc(k) => {
                if k.x.is_empty() || k.y.is_empty() {
                    return Err(FormatError::unexpected(
                        "TPMT_PUBLIC.unique.ecc",
                        "an ECC point",
                        "an empty template value",
                    ));
                }
                Ok(PublicKey::Ecc {
                    curve: k.curve,
                    x: left_pad(&k.x, k.curve.size()),
                    y: left_pad(&k.y, k.curve.size()),
                })
            }
        }
    }
}

/// `v` with leading zero bytes added up to `size` (callers checked `v.len() <= size`).
fn left_pad(v: &[u8], size: usize) -> Vec<u8> {
    let mut out = vec![0u8; size.saturating_sub(v.len())];
    out.extend_from_slice(v);
    out
}
