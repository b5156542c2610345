//! TPMA_OBJECT: object attributes.
//!
//! TCG TPM 2.0 Library Part 2 rev. 1.59, §8.3, Table 31. A UINT32 bit field:
//! bit 1 fixedTPM, 2 stClear, 4 fixedParent, 5 sensitiveDataOrigin,
//! 6 userWithAuth, 7 adminWithPolicy, 10 noDA, 11 encryptedDuplication,
//! 16 restricted, 17 decrypt, 18 sign/encrypt, 19 x509sign (new in 1.59).
//! Bits 0, 3, 8, 9, 12–15 and 20–31 are reserved and shall be zero.

use std::fmt;

use crate::error::FormatError;

/// One named TPMA_OBJECT attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjectAttribute {
    /// fixedTPM: the object's hierarchy cannot change (no duplication).
    FixedTpm,
    /// stClear: saved contexts cannot be loaded after Startup(CLEAR).
    StClear,
    /// fixedParent: the parent cannot change.
    FixedParent,
    /// sensitiveDataOrigin: the TPM generated the sensitive data.
    SensitiveDataOrigin,
    /// userWithAuth: USER role may use the authValue.
    UserWithAuth,
    /// adminWithPolicy: ADMIN role needs a policy session.
    AdminWithPolicy,
    /// noDA: not subject to dictionary-attack protection.
    NoDa,
    /// encryptedDuplication: duplication needs an inner wrapper.
    EncryptedDuplication,
    /// restricted: operates only on TPM-formatted data (signing: only
    /// TPM-generated digests).
    Restricted,
    /// decrypt: the private key may decrypt.
    Decrypt,
    /// sign / encrypt: the private key may sign (asymmetric) or encrypt
    /// (symmetric).
    SignEncrypt,
    /// x509sign: the key signs only X.509 certificates (TPM2_CertifyX509).
    X509Sign,
}

impl ObjectAttribute {
    /// Every named attribute, in bit order.
    pub const ALL: [ObjectAttribute; 12] = [
        Self::FixedTpm,
        Self::StClear,
        Self::FixedParent,
        Self::SensitiveDataOrigin,
        Self::UserWithAuth,
        Self::AdminWithPolicy,
        Self::NoDa,
        Self::EncryptedDuplication,
        Self::Restricted,
        Self::Decrypt,
        Self::SignEncrypt,
        Self::X509Sign,
    ];

    /// The attribute's bit.
    pub fn bit(self) -> u32 {
        match self {
            Self::FixedTpm => 1 << 1,
            Self::StClear => 1 << 2,
            Self::FixedParent => 1 << 4,
            Self::SensitiveDataOrigin => 1 << 5,
            Self::UserWithAuth => 1 << 6,
            Self::AdminWithPolicy => 1 << 7,
            Self::NoDa => 1 << 10,
            Self::EncryptedDuplication => 1 << 11,
            Self::Restricted => 1 << 16,
            Self::Decrypt => 1 << 17,
            Self::SignEncrypt => 1 << 18,
            Self::X509Sign => 1 << 19,
        }
    }

    /// The attribute's name in the specification.
    pub fn name(self) -> &'static str {
        match self {
            Self::FixedTpm => "fixedTPM",
            Self::StClear => "stClear",
            Self::FixedParent => "fixedParent",
            Self::SensitiveDataOrigin => "sensitiveDataOrigin",
            Self::UserWithAuth => "userWithAuth",
            Self::AdminWithPolicy => "adminWithPolicy",
            Self::NoDa => "noDA",
            Self::EncryptedDuplication => "encryptedDuplication",
            Self::Restricted => "restricted",
            Self::Decrypt => "decrypt",
            Self::SignEncrypt => "sign",
            Self::X509Sign => "x509sign",
        }
    }
}

impl fmt::Display for ObjectAttribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A TPMA_OBJECT value with all reserved bits clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ObjectAttributes(u32);

impl ObjectAttributes {
    /// The bits the specification reserves (must be zero).
    pub const RESERVED_MASK: u32 = 0xfff0_f309;

    /// Accepts `bits` if no reserved bit is set.
    pub fn from_bits(bits: u32) -> Result<Self, FormatError> {
        let reserved = bits & Self::RESERVED_MASK;
        if reserved != 0 {
            return Err(FormatError::unexpected(
                "TPMA_OBJECT",
                format_args!("reserved bits (mask {:#010x}) clear", Self::RESERVED_MASK),
                format_args!("{bits:#010x} (reserved bits {reserved:#010x} set)"),
            ));
        }
        Ok(Self(bits))
    }

    /// The attributes in `set`, all others clear.
    pub fn from_attributes(set: &[ObjectAttribute]) -> Self {
        Self(set.iter().fold(0, |acc, a| acc | a.bit()))
    }

    /// The raw value.
    pub fn bits(self) -> u32 {
        self.0
    }

    /// True when `attr` is set.
    pub fn contains(self, attr: ObjectAttribute) -> bool {
        self.0 & attr.bit() != 0
    }

    /// The set attributes, in bit order.
    pub fn iter(self) -> impl Iterator<Item = ObjectAttribute> {
        ObjectAttribute::ALL
            .into_iter()
            .filter(move |a| self.contains(*a))
    }

    /// fixedTPM.
    pub fn fixed_tpm(self) -> bool {
        self.contains(ObjectAttribute::FixedTpm)
    }
    /// stClear.
    pub fn st_clear(self) -> bool {
        self.contains(ObjectAttribute::StClear)
    }
    /// fixedParent.
    pub fn fixed_parent(self) -> bool {
        self.contains(ObjectAttribute::FixedParent)
    }
    /// sensitiveDataOrigin.
    pub fn sensitive_data_origin(self) -> bool {
        self.contains(ObjectAttribute::SensitiveDataOrigin)
    }
    /// userWithAuth.
    pub fn user_with_auth(self) -> bool {
        self.contains(ObjectAttribute::UserWithAuth)
    }
    /// adminWithPolicy.
    pub fn admin_with_policy(self) -> bool {
        self.contains(ObjectAttribute::AdminWithPolicy)
    }
    /// noDA.
    pub fn no_da(self) -> bool {
        self.contains(ObjectAttribute::NoDa)
    }
    /// encryptedDuplication.
    pub fn encrypted_duplication(self) -> bool {
        self.contains(ObjectAttribute::EncryptedDuplication)
    }
    /// restricted.
    pub fn restricted(self) -> bool {
        self.contains(ObjectAttribute::Restricted)
    }
    /// decrypt.
    pub fn decrypt(self) -> bool {
        self.contains(ObjectAttribute::Decrypt)
    }
    /// sign / encrypt.
    pub fn sign_encrypt(self) -> bool {
        self.contains(ObjectAttribute::SignEncrypt)
    }
    /// x509sign.
    pub fn x509_sign(self) -> bool {
        self.contains(ObjectAttribute::X509Sign)
    }
}

impl fmt::Display for ObjectAttributes {
    /// `fixedTPM|fixedParent|…`, or `(none)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(ObjectAttribute::name).collect();
        if names.is_empty() {
            f.write_str("(none)")
        } else {
            f.write_str(&names.join("|"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_bits_and_reserved_mask_partition_u32() {
        let named = ObjectAttribute::ALL.iter().fold(0u32, |acc, a| {
            assert_eq!(acc & a.bit(), 0, "{a} overlaps");
            acc | a.bit()
        });
        assert_eq!(named, !ObjectAttributes::RESERVED_MASK);
        // tpm2_createak's AK: fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign.
        let ak = ObjectAttributes::from_bits(0x0005_0072).unwrap();
        assert_eq!(
            ak.to_string(),
            "fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth|restricted|sign"
        );
        for bit in 0..32 {
            let v = 1u32 << bit;
            assert_eq!(
                ObjectAttributes::from_bits(v).is_ok(),
                v & ObjectAttributes::RESERVED_MASK == 0
            );
        }
    }
}
