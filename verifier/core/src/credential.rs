//! TPM2_MakeCredential done in software by the verifier.
//!
//! The verifier proves that an attestation key (AK) lives in the same TPM as
//! an endorsement key (EK) by encrypting a fresh credential to the EK, bound to
//! the AK's Name; only that TPM can run TPM2_ActivateCredential and return it.
//!
//! Specifications (TCG "Trusted Platform Module Library", Family 2.0, Level 00,
//! Revision 01.59, November 2019):
//!
//! * Part 1 §24 "Credential Protection" (§24.4 symmetric encryption of the
//!   credential, §24.5 HMAC, §24.6 summary): with a fresh `seed`,
//!   `symKey = KDFa(nameAlg, seed, "STORAGE", Name, NULL, symBits)`,
//!   `encIdentity = CFB(symKey, IV = 0, TPM2B_DIGEST(credential))`,
//!   `HMACkey = KDFa(nameAlg, seed, "INTEGRITY", NULL, NULL, digestBits)`,
//!   `outerHMAC = HMAC(HMACkey, encIdentity || Name)`.
//! * Part 1 §11.4.10.2 KDFa (SP 800-108 counter mode with HMAC) and §11.4.10.3
//!   KDFe (SP 800-56A concatenation KDF); both labels are NUL-terminated
//!   strings whose terminating octet is part of the input.
//! * Part 1 Annex B.10.4 "RSA Secret Sharing": the seed (nameAlg digest size)
//!   is RSAES-OAEP encrypted to the EK with the nameAlg hash (also for MGF1)
//!   and label `"IDENTITY\0"`.
//! * Part 1 Annex C.6.4 "ECC Secret Sharing" (one-pass Diffie-Hellman,
//!   C(1, 1, ECC CDH)): an ephemeral key `(de, Qe)` on the EK's curve,
//!   `Z = x(de · Q_EK)`, `seed = KDFe(nameAlg, Z, "IDENTITY", x(Qe), x(Q_EK),
//!   digestBits)`; the encrypted secret is the TPMS_ECC_POINT `Qe`.
//! * Part 2 structures TPM2B_DIGEST, TPM2B_ID_OBJECT (`size ||
//!   integrityHMAC (TPM2B_DIGEST) || encIdentity`, the latter without its own
//!   size), TPMS_ECC_POINT and TPM2B_ENCRYPTED_SECRET.
//! * Part 3 §12.7 TPM2_MakeCredential: the credential is at most the digest
//!   size of the EK's nameAlg.
//!
//! EK templates this supports (TCG "EK Credential Profile For TPM Family
//! 2.0; Level 0", Version 2.5 Revision 2, Annex B): RSA 2048 "L-1" (nameAlg
//! SHA-256, AES-128-CFB), NIST P-256 "L-2" (SHA-256, AES-128-CFB), and the
//! high-range ECC NIST P-384 "H-3" template (SHA-384, AES-256-CFB) that
//! swtpm also creates; any nameAlg of [`HashAlg`] and AES-128/192/256 are
//! accepted.

use aes::{Aes128, Aes192, Aes256};
use cfb_mode::cipher::{AsyncStreamCipher, KeyIvInit};
use p256::elliptic_curve::{
    self,
    sec1::{FromEncodedPoint, ModulusSize, ToEncodedPoint},
    AffinePoint, CurveArithmetic, FieldBytesSize, NonZeroScalar, PublicKey,
};
use rand_core::CryptoRngCore;
use sealbuild_common::crypto;
use sealbuild_common::reader::{Reader, Writer};
use sealbuild_common::HashAlg;
use thiserror::Error;
use zeroize::Zeroizing;

/// Label of the credential-protection secret (Part 1 Annex B.10.4, C.6.4),
/// including its terminating NUL octet.
const IDENTITY_LABEL: &str = "IDENTITY\0";
/// KDFa label of the symmetric key (Part 1 §24.4).
const STORAGE_LABEL: &[u8] = b"STORAGE";
/// KDFa label of the HMAC key (Part 1 §24.5).
const INTEGRITY_LABEL: &[u8] = b"INTEGRITY";
/// AES block size; CFB in the TPM uses a zero IV of this size (Part 1 §24.4).
const AES_BLOCK: usize = 16;
/// The magic number that opens a tpm2-tools credential file.
const TPM2_TOOLS_CREDENTIAL_MAGIC: u32 = 0xBADC_C0DE;
/// The tpm2-tools credential file version this writes.
const TPM2_TOOLS_CREDENTIAL_VERSION: u32 = 1;

/// A NIST curve an ECC EK can use (TPM_ECC_CURVE, Part 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EkCurve {
    /// TPM_ECC_NIST_P256 (0x0003).
    P256,
    /// TPM_ECC_NIST_P384 (0x0004).
    P384,
}

impl EkCurve {
    /// Size in bytes of a field element (and of each coordinate).
    pub fn field_size(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
        }
    }

    /// The TPM_ECC_CURVE identifier.
    pub fn tpm_curve_id(self) -> u16 {
        match self {
            Self::P256 => 0x0003,
            Self::P384 => 0x0004,
        }
    }

    /// The curve's usual name (`P-256`, `P-384`).
    pub fn name(self) -> &'static str {
        match self {
            Self::P256 => "P-256",
            Self::P384 => "P-384",
        }
    }
}

impl std::fmt::Display for EkCurve {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The asymmetric part of an EK's public area (TPMT_PUBLIC `unique` plus the
/// key parameters that matter here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EkKey {
    /// An RSA EK.
    Rsa {
        /// The modulus, big-endian, as in TPM2B_PUBLIC_KEY_RSA.
        n: Vec<u8>,
        /// The public exponent; `0` means the TPM default 2^16 + 1
        /// (TPMS_RSA_PARMS.exponent, Part 2).
        e: u32,
    },
    /// An ECC EK.
    Ecc {
        /// The curve.
        curve: EkCurve,
        /// The x coordinate exactly as in the EK's TPMS_ECC_POINT (its bytes
        /// are KDFe's partyVInfo, so they must not be re-encoded).
        x: Vec<u8>,
        /// The y coordinate as in the EK's TPMS_ECC_POINT.
        y: Vec<u8>,
    },
}

/// What MakeCredential needs to know about the EK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EkPublicKey {
    /// The EK's nameAlg: hash of KDFa/KDFe, OAEP, the HMAC and the seed size.
    pub name_alg: HashAlg,
    /// Key size of the EK's symmetric definition (AES-CFB): 128, 192 or 256.
    pub sym_key_bits: u16,
    /// The public key.
    pub key: EkKey,
}

/// The two blobs TPM2_ActivateCredential takes, marshalled as on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MadeCredential {
    /// TPM2B_ID_OBJECT: `u16 size || TPM2B_DIGEST integrityHMAC || encIdentity`.
    pub id_object: Vec<u8>,
    /// TPM2B_ENCRYPTED_SECRET: `u16 size || secret` (an OAEP ciphertext for an
    /// RSA EK, a marshalled TPMS_ECC_POINT for an ECC EK).
    pub encrypted_secret: Vec<u8>,
}

impl MadeCredential {
    /// The file `tpm2_makecredential -o` writes and `tpm2_activatecredential
    /// -i` reads (tpm2-tools 5.x; not a TCG format): big-endian magic
    /// `0xBADCC0DE`, big-endian version `1`, then the TPM2B_ID_OBJECT and the
    /// TPM2B_ENCRYPTED_SECRET as marshalled here.
    pub fn to_tpm2_tools_file(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u32_be(TPM2_TOOLS_CREDENTIAL_MAGIC)
            .u32_be(TPM2_TOOLS_CREDENTIAL_VERSION)
            .bytes(&self.id_object)
            .bytes(&self.encrypted_secret);
        w.into_vec()
    }
}

/// Why MakeCredential was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CredentialError {
    /// The credential is empty or longer than the EK nameAlg's digest.
    #[error(
        "credential: expected 1 to {max} bytes (digest size of EK nameAlg {name_alg}), got {got}"
    )]
    CredentialSize {
        /// The EK's nameAlg.
        name_alg: HashAlg,
        /// Its digest size.
        max: usize,
        /// The credential's size.
        got: usize,
    },
    /// The AK Name is not `TPM_ALG_ID || digest` of a supported hash.
    #[error("AK Name ({len} bytes, {hex}): {reason}")]
    BadName {
        /// Name length.
        len: usize,
        /// Hex of at most the first 8 bytes.
        hex: String,
        /// What is wrong.
        reason: String,
    },
    /// The EK's symmetric key size is not an AES key size.
    #[error("EK symmetric definition: expected AES key bits 128, 192 or 256, got {0}")]
    SymKeyBits(u16),
    /// The EK's RSA public key is unusable.
    #[error("EK RSA public key: {0}")]
    BadRsaKey(String),
    /// The EK's ECC point is unusable.
    #[error("EK ECC public key ({curve}): {reason}")]
    BadEccPoint {
        /// The curve.
        curve: EkCurve,
        /// What is wrong.
        reason: String,
    },
    /// A cryptographic primitive failed where it cannot for valid inputs.
    #[error("MakeCredential {step} failed: {reason}")]
    Crypto {
        /// Which step.
        step: &'static str,
        /// The library's reason.
        reason: String,
    },
}

/// Runs TPM2_MakeCredential for `ak_name` (the AK's TPM2B_NAME contents:
/// `TPM_ALG_ID || digest`) and `credential` against `ek`, drawing the seed
/// (RSA) or the ephemeral key (ECC) from `rng`.
pub fn make_credential<R: CryptoRngCore + ?Sized>(
    ek: &EkPublicKey,
    ak_name: &[u8],
    credential: &[u8],
    rng: &mut R,
) -> Result<MadeCredential, CredentialError> {
    check_inputs(ek, ak_name, credential)?;
    let (seed, encrypted_secret) = match &ek.key {
        EkKey::Rsa { n, e } => rsa_secret(ek.name_alg, n, *e, rng)?,
        EkKey::Ecc { curve, x, y } => match curve {
            EkCurve::P256 => {
                let de = NonZeroScalar::<p256::NistP256>::random(&mut &mut *rng);
                ecc_secret::<p256::NistP256>(ek.name_alg, *curve, x, y, &de)?
            }
            EkCurve::P384 => {
                let de = NonZeroScalar::<p384::NistP384>::random(&mut &mut *rng);
                ecc_secret::<p384::NistP384>(ek.name_alg, *curve, x, y, &de)?
            }
        },
    };
    let id_object = protect_credential(ek.name_alg, ek.sym_key_bits, &seed, ak_name, credential)?;
    Ok(MadeCredential {
        id_object,
        encrypted_secret,
    })
}

/// KDFa (Part 1 §11.4.10.2): SP 800-108 KDF in counter mode with
/// HMAC-`hash`. Each block is `HMAC(key, [i]₃₂ || label || 0x00 || contextU ||
/// contextV || [bits]₃₂)`; the terminating NUL of `label` is added unless
/// `label` already ends in one. When `bits` is not a multiple of 8 the unused
/// high bits of the first octet are cleared.
pub fn kdfa(
    hash: HashAlg,
    key: &[u8],
    label: &[u8],
    context_u: &[u8],
    context_v: &[u8],
    bits: u16,
) -> Vec<u8> {
    let label = nul_terminated(label);
    let bits32 = u32::from(bits).to_be_bytes();
    counter_kdf(bits, hash.size(), |counter| {
        hmac_parts(
            hash,
            key,
            &[&counter, &label, context_u, context_v, &bits32],
        )
    })
}

/// KDFe (Part 1 §11.4.10.3): SP 800-56A concatenation KDF with `hash`. Each
/// block is `H([i]₃₂ || Z || label || 0x00 || partyUInfo || partyVInfo)`; the
/// terminating NUL of `label` is added unless `label` already ends in one.
pub fn kdfe(
    hash: HashAlg,
    z: &[u8],
    label: &[u8],
    party_u: &[u8],
    party_v: &[u8],
    bits: u16,
) -> Vec<u8> {
    let label = nul_terminated(label);
    counter_kdf(bits, hash.size(), |counter| {
        hash.digest_parts(&[&counter, z, &label, party_u, party_v])
    })
}

/// Runs a counter-mode KDF until `bits` are produced.
fn counter_kdf(bits: u16, block: usize, mut f: impl FnMut([u8; 4]) -> Vec<u8>) -> Vec<u8> {
    let want = usize::from(bits).div_ceil(8);
    let mut out = Vec::with_capacity(want + block);
    let mut counter: u32 = 1;
    while out.len() < want {
        out.extend_from_slice(&f(counter.to_be_bytes()));
        counter = counter.wrapping_add(1);
    }
    out.truncate(want);
    let partial = bits % 8;
    if partial != 0 {
        if let Some(first) = out.first_mut() {
            *first &= (1u8 << partial) - 1;
        }
    }
    out
}

fn nul_terminated(label: &[u8]) -> Vec<u8> {
    let mut l = label.to_vec();
    if l.last() != Some(&0) {
        l.push(0);
    }
    l
}

fn hmac_parts(hash: HashAlg, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    crypto::hmac(hash, key, parts)
}

/// Checks sizes and the Name before any secret is made.
fn check_inputs(
    ek: &EkPublicKey,
    ak_name: &[u8],
    credential: &[u8],
) -> Result<(), CredentialError> {
    let max = ek.name_alg.size();
    if credential.is_empty() || credential.len() > max {
        return Err(CredentialError::CredentialSize {
            name_alg: ek.name_alg,
            max,
            got: credential.len(),
        });
    }
    if !matches!(ek.sym_key_bits, 128 | 192 | 256) {
        return Err(CredentialError::SymKeyBits(ek.sym_key_bits));
    }
    check_name(ak_name)
}

/// An object's Name is `nameAlg || H(TPMT_PUBLIC)` (Part 1 §16 "Names";
/// Part 2 TPMU_NAME / TPMT_HA). Handles (4-byte Names) are not objects an
/// AK can be.
fn check_name(name: &[u8]) -> Result<(), CredentialError> {
    let bad = |reason: String| CredentialError::BadName {
        len: name.len(),
        hex: hex::encode(name.iter().take(8).copied().collect::<Vec<u8>>()),
        reason,
    };
    let mut r = Reader::new(name);
    let alg_id = r
        .u16_be("TPMT_HA.hashAlg")
        .map_err(|e| bad(e.to_string()))?;
    let alg = HashAlg::from_alg_id(alg_id, "TPMT_HA.hashAlg").map_err(|e| bad(e.to_string()))?;
    r.take(alg.size(), "TPMT_HA.digest")
        .map_err(|e| bad(e.to_string()))?;
    r.finish("TPM2B_NAME").map_err(|e| bad(e.to_string()))
}

/// Part 1 Annex B.10.4: a random nameAlg-sized seed, RSAES-OAEP encrypted.
fn rsa_secret<R: CryptoRngCore + ?Sized>(
    name_alg: HashAlg,
    n: &[u8],
    e: u32,
    rng: &mut R,
) -> Result<(Zeroizing<Vec<u8>>, Vec<u8>), CredentialError> {
    let exponent = if e == 0 { 65_537 } else { e };
    let mut seed = Zeroizing::new(vec![0u8; name_alg.size()]);
    rng.fill_bytes(&mut seed);
    let ciphertext = crypto::rsa_oaep_encrypt(
        n,
        &exponent.to_be_bytes(),
        name_alg,
        IDENTITY_LABEL.as_bytes(),
        &seed,
    )
    .map_err(|err| match err {
        crypto::CryptoError::BadKey(reason) => CredentialError::BadRsaKey(format!(
            "{reason} ({} modulus bytes, exponent {exponent}); the EK templates use 2048 bits or more",
            n.len()
        )),
        other => CredentialError::Crypto {
            step: "RSA-OAEP encryption of the seed",
            reason: other.to_string(),
        },
    })?;
    let mut w = Writer::new();
    w.tpm2b(&ciphertext);
    Ok((seed, w.into_vec()))
}

/// Part 1 Annex C.6.4: one-pass Diffie-Hellman with the ephemeral scalar
/// `de`; returns the seed and the marshalled TPM2B_ENCRYPTED_SECRET.
fn ecc_secret<C>(
    name_alg: HashAlg,
    curve: EkCurve,
    x: &[u8],
    y: &[u8],
    de: &NonZeroScalar<C>,
) -> Result<(Zeroizing<Vec<u8>>, Vec<u8>), CredentialError>
where
    C: CurveArithmetic,
    FieldBytesSize<C>: ModulusSize,
    AffinePoint<C>: FromEncodedPoint<C> + ToEncodedPoint<C>,
{
    let bad = |reason: String| CredentialError::BadEccPoint { curve, reason };
    let size = curve.field_size();
    let mut sec1 = Vec::with_capacity(1 + 2 * size);
    sec1.push(0x04);
    for (coord, v) in [("x", x), ("y", y)] {
        let pad = size.checked_sub(v.len()).ok_or_else(|| {
            bad(format!(
                "{coord} has {} bytes, more than the {size} of the curve",
                v.len()
            ))
        })?;
        sec1.resize(sec1.len() + pad, 0);
        sec1.extend_from_slice(v);
    }
    let q_ek = PublicKey::<C>::from_sec1_bytes(&sec1)
        .map_err(|_| bad("the point is not on the curve".to_string()))?;
    let z = elliptic_curve::ecdh::diffie_hellman(de, q_ek.as_affine());
    let qe = PublicKey::<C>::from_secret_scalar(de).to_encoded_point(false);
    let (Some(qe_x), Some(qe_y)) = (qe.x(), qe.y()) else {
        return Err(CredentialError::Crypto {
            step: "encoding of the ephemeral point",
            reason: "uncompressed encoding has no coordinates".to_string(),
        });
    };
    let bits = digest_bits(name_alg);
    let seed = Zeroizing::new(kdfe(
        name_alg,
        z.raw_secret_bytes(),
        IDENTITY_LABEL.as_bytes(),
        qe_x,
        x,
        bits,
    ));
    let mut point = Writer::new();
    point.tpm2b(qe_x).tpm2b(qe_y);
    let mut w = Writer::new();
    w.tpm2b(&point.into_vec());
    Ok((seed, w.into_vec()))
}

fn digest_bits(alg: HashAlg) -> u16 {
    match alg {
        HashAlg::Sha1 => 160,
        HashAlg::Sha256 => 256,
        HashAlg::Sha384 => 384,
        HashAlg::Sha512 => 512,
    }
}

/// Part 1 §24.4–§24.5: the TPM2B_ID_OBJECT for `seed`.
fn protect_credential(
    name_alg: HashAlg,
    sym_key_bits: u16,
    seed: &[u8],
    ak_name: &[u8],
    credential: &[u8],
) -> Result<Vec<u8>, CredentialError> {
    let sym_key = Zeroizing::new(kdfa(
        name_alg,
        seed,
        STORAGE_LABEL,
        ak_name,
        &[],
        sym_key_bits,
    ));
    let mut enc_identity = Writer::new();
    enc_identity.tpm2b(credential);
    let mut enc_identity = enc_identity.into_vec();
    aes_cfb_encrypt(sym_key_bits, &sym_key, &mut enc_identity)?;
    let hmac_key = Zeroizing::new(kdfa(
        name_alg,
        seed,
        INTEGRITY_LABEL,
        &[],
        &[],
        digest_bits(name_alg),
    ));
    let outer_hmac = hmac_parts(name_alg, &hmac_key, &[&enc_identity, ak_name]);
    let mut body = Writer::new();
    body.tpm2b(&outer_hmac).bytes(&enc_identity);
    let mut w = Writer::new();
    w.tpm2b(&body.into_vec());
    Ok(w.into_vec())
}

fn aes_cfb_encrypt(bits: u16, key: &[u8], buf: &mut [u8]) -> Result<(), CredentialError> {
    let iv = [0u8; AES_BLOCK];
    let err = |e: cfb_mode::cipher::InvalidLength| CredentialError::Crypto {
        step: "AES-CFB key setup",
        reason: e.to_string(),
    };
    match bits {
        128 => cfb_mode::Encryptor::<Aes128>::new_from_slices(key, &iv)
            .map_err(err)?
            .encrypt(buf),
        192 => cfb_mode::Encryptor::<Aes192>::new_from_slices(key, &iv)
            .map_err(err)?
            .encrypt(buf),
        256 => cfb_mode::Encryptor::<Aes256>::new_from_slices(key, &iv)
            .map_err(err)?
            .encrypt(buf),
        other => return Err(CredentialError::SymKeyBits(other)),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Known answers for the deterministic parts, computed independently with
    //! Python 3.11 `hmac`/`hashlib` and `cryptography` 48 (AES-CFB, ECDH with
    //! `ec.derive_private_key`), following Part 1 §24 and Annex C.6.4 as
    //! written: KDFa = HMAC(key, [i]32 || label || 00 || u || v || [bits]32),
    //! KDFe = H([i]32 || Z || label || 00 || u || v), encIdentity =
    //! AES-CFB(IV = 0) of u16 size || credential, outerHMAC over encIdentity ||
    //! Name, id object = u16 size || u16 hmac size || hmac || encIdentity.
    use super::*;

    fn name(alg: [u8; 2], fill: u8, len: usize) -> Vec<u8> {
        let mut n = alg.to_vec();
        n.extend(std::iter::repeat_n(fill, len));
        n
    }

    #[test]
    fn id_object_sha256_aes128_known_answer() {
        let seed: Vec<u8> = (0x40u8..0x60).collect();
        let got = protect_credential(
            HashAlg::Sha256,
            128,
            &seed,
            &name([0, 0x0b], 0xaa, 32),
            b"sealbuild credential 0123456789",
        )
        .unwrap();
        assert_eq!(
            hex::encode(got),
            "0043002015612a576a3db13a08a0654eb790a9dfecca8f0287f53d5358fc3ef6425ce18adc606c2e3346285011df98659e51d0bcb9b35549a165e105541aba233038cd15aa"
        );
    }

    #[test]
    fn id_object_sha384_aes256_known_answer() {
        let seed: Vec<u8> = (0x80u8..0x80 + 48).collect();
        let cred: Vec<u8> = (0u8..48).collect();
        let got = protect_credential(
            HashAlg::Sha384,
            256,
            &seed,
            &name([0, 0x0c], 0xbb, 48),
            &cred,
        )
        .unwrap();
        assert_eq!(
            hex::encode(got),
            "0064003097939948203b45a8a88a61cf3603d8b9ef33f3345c9176aa3664006308d60a33df17e4ac4a13323182363a7794f124038b6760cf723477010075617d048aad9b0aff2c7bf90cc73fa13cdb35695b6cdea685e9de19fca991197b917ddd1a84885d60"
        );
    }

    fn scalar<C: CurveArithmetic>(v: u64) -> NonZeroScalar<C>
    where
        FieldBytesSize<C>: ModulusSize,
    {
        let mut repr = elliptic_curve::FieldBytes::<C>::default();
        let len = repr.len();
        repr[len - 8..].copy_from_slice(&v.to_be_bytes());
        NonZeroScalar::<C>::from_repr(repr).unwrap()
    }

    #[test]
    fn ecc_p256_one_pass_dh_known_answer() {
        // EK = 0x1234567890abcdef · G, ephemeral = 0xfedcba0987654321 · G.
        let x = hex::decode("9fad84aeae08bbef7f010014d82cef6a09de2b0cf871b5ce0c4f1d13a59a5934")
            .unwrap();
        let y = hex::decode("07cb45769f1070e2c2470fe5b1bfe63133c0b0cdc64ea4bf3791a8ec2a07fd4f")
            .unwrap();
        let de = scalar::<p256::NistP256>(0xfedc_ba09_8765_4321);
        let (seed, secret) =
            ecc_secret::<p256::NistP256>(HashAlg::Sha256, EkCurve::P256, &x, &y, &de).unwrap();
        assert_eq!(
            hex::encode(&secret),
            "0044002052c6ff5b71de65d83c75d393e249ec03894370515d0b229b1c6224681f2a50300020b6f323c20c20d021d611e087cf482f5297e6135cbee6d3994832164e479e6e96"
        );
        let id = protect_credential(
            HashAlg::Sha256,
            128,
            &seed,
            &name([0, 0x0b], 0xcc, 32),
            b"ecc credential",
        )
        .unwrap();
        assert_eq!(
            hex::encode(id),
            "00320020ce984e5e56b0d6405e57532d35c8a64e0b6f7c2a9e2ef63df336faa0bc056bcb70cca42b46f2328083fbea51b92bf3b5"
        );
    }

    #[test]
    fn ecc_p384_one_pass_dh_known_answer() {
        // EK = 0xabcdef12345 · G, ephemeral = 0x5432fedcba · G.
        let x = hex::decode("f91b5514a332cca4c615927479c637081a572972730e951716d8686bacb12f5a6706caa93329200d7edf6e26b7ec86ce").unwrap();
        let y = hex::decode("c649001a4f721d3802686e3973a015fef32949115407f21314a4792abc65ac1659fdd7b6dafba38d639884abff63041d").unwrap();
        let de = scalar::<p384::NistP384>(0x54_32fe_dcba);
        let (seed, secret) =
            ecc_secret::<p384::NistP384>(HashAlg::Sha384, EkCurve::P384, &x, &y, &de).unwrap();
        assert_eq!(
            hex::encode(&secret),
            "006400302c3f1f422a7732a8fee05b5f1f699c33e92124d8036f79e1d00f9a83a1bb1a9a5e410f3bd50fdc35257da9f3798e29e70030d7b4c9ec1d2cb4319d611cbb34dd485df89707382c9f1a15118317b2a11dfa181ae70ccbeb95562dc469da179358f0d7"
        );
        let id = protect_credential(
            HashAlg::Sha384,
            256,
            &seed,
            &name([0, 0x0c], 0xcc, 48),
            b"ecc credential",
        )
        .unwrap();
        assert_eq!(
            hex::encode(id),
            "00420030cc48e1407715fb39cfdeebae6aca3ef93ef3741bce04e953529bb58a4f58b8fab1228ce5723f60f124ae248bc7a119ae509592cad4d2020bc21603ca46904320"
        );
    }

    #[test]
    fn off_curve_point_refused() {
        let de = scalar::<p256::NistP256>(7);
        let err =
            ecc_secret::<p256::NistP256>(HashAlg::Sha256, EkCurve::P256, &[1; 32], &[2; 32], &de)
                .unwrap_err();
        assert!(matches!(err, CredentialError::BadEccPoint { .. }), "{err}");
        let err =
            ecc_secret::<p256::NistP256>(HashAlg::Sha256, EkCurve::P256, &[1; 33], &[2; 32], &de)
                .unwrap_err();
        assert!(err.to_string().contains("x has 33 bytes"), "{err}");
    }
}
