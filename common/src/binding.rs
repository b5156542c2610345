//! The binding of a verifier nonce, the agent's ephemeral key and an optional
//! statement digest into hardware evidence.
//!
//! Every platform carries the same 32-byte value, called the *binding digest*:
//!
//! ```text
//! binding = SHA-256(
//!     "sealbuild/binding/v1\0"          21 bytes, domain separation
//!  || nonce                              32 bytes, issued by the verifier
//!  || u16be(len(ephemeral_pk)) || ephemeral_pk
//!                                        HPKE public key (RFC 9180 SerializePublicKey;
//!                                        32 bytes for DHKEM(X25519, HKDF-SHA256))
//!  || u8(flag)                           0 = no statement, 1 = statement follows
//!  || statement_digest                   32 bytes when flag = 1 (SHA-256 of the
//!                                        in-toto statement; later issues)
//! )
//! ```
//!
//! * TPM 2.0: the binding is the quote's `qualifyingData` (TPMS_ATTEST.extraData).
//! * SEV-SNP: REPORT_DATA (64 bytes, AMD pub. 56860 Table 23 offset 0x50)
//!   = binding || 32 zero bytes ([`snp_report_data`]).
//! * TDX (later issue): REPORTDATA = binding || 32 zero bytes.
//!
//! The verifier recomputes the value from the nonce it issued, the public key
//! the agent presents and the statement digest it was told, so a substituted
//! key, a replayed nonce or another statement changes the digest and the
//! evidence no longer matches.

use crate::crypto::Hasher;
use crate::HashAlg;

/// Domain-separation tag, NUL included.
pub const BINDING_TAG: &[u8; 21] = b"sealbuild/binding/v1\0";

/// Length of a verifier nonce.
pub const NONCE_LEN: usize = 32;

/// What gets bound into evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding<'a> {
    /// The verifier's single-use nonce.
    pub nonce: &'a [u8; NONCE_LEN],
    /// The serialized HPKE public key keys are sealed to.
    pub ephemeral_public_key: &'a [u8],
    /// SHA-256 of the build statement, when there is one.
    pub statement_digest: Option<&'a [u8; 32]>,
}

impl Binding<'_> {
    /// The 32-byte binding digest described in the module docs.
    pub fn digest(&self) -> [u8; 32] {
        let mut h = Hasher::new(HashAlg::Sha256);
        h.update(BINDING_TAG);
        h.update(self.nonce);
        // An HPKE public key is at most 133 bytes (P-521 uncompressed); a longer
        // one is not a key, and saturating keeps the encoding injective for
        // every value that can be a key.
        let len = u16::try_from(self.ephemeral_public_key.len()).unwrap_or(u16::MAX);
        h.update(len.to_be_bytes());
        h.update(self.ephemeral_public_key);
        match self.statement_digest {
            None => h.update([0u8]),
            Some(d) => {
                h.update([1u8]);
                h.update(d);
            }
        }
        let mut out = [0u8; 32];
        for (o, d) in out.iter_mut().zip(h.finish()) {
            *o = d;
        }
        out
    }
}

/// The 64-byte SEV-SNP REPORT_DATA that carries `binding`: the digest in
/// the first 32 bytes, zeros after it. The verifier requires the zeros, so
/// nothing else can ride along unseen.
pub fn snp_report_data(binding: &[u8; 32]) -> [u8; 64] {
    let mut out = [0u8; 64];
    let (head, _) = out.split_at_mut(32);
    head.copy_from_slice(binding);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_input_changes_the_digest() {
        let nonce = [7u8; 32];
        let pk = [9u8; 32];
        let st = [1u8; 32];
        let base = Binding {
            nonce: &nonce,
            ephemeral_public_key: &pk,
            statement_digest: None,
        };
        let d0 = base.digest();
        let other_nonce = [8u8; 32];
        let other_pk = [10u8; 32];
        let variants = [
            Binding {
                nonce: &other_nonce,
                ..base.clone()
            },
            Binding {
                ephemeral_public_key: &other_pk,
                ..base.clone()
            },
            Binding {
                statement_digest: Some(&st),
                ..base.clone()
            },
        ];
        for v in variants {
            assert_ne!(v.digest(), d0);
        }
    }

    #[test]
    fn matches_an_independent_computation() {
        // Python: hashlib.sha256(b"sealbuild/binding/v1\0" + bytes([7])*32
        //   + (32).to_bytes(2,"big") + bytes([9])*32 + b"\x00").hexdigest()
        let d = Binding {
            nonce: &[7u8; 32],
            ephemeral_public_key: &[9u8; 32],
            statement_digest: None,
        }
        .digest();
        assert_eq!(hex::encode(d), EXPECTED_PY);
    }

    const EXPECTED_PY: &str = "73702a34d5d63a3ebdf17a44fdb6351d17e2534d72377117689de2a7e9034ebd";
}
