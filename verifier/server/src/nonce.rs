//! Nonces: minted without storage, recorded once when used.
//!
//! ## Design
//!
//! A nonce is 32 bytes (the binding's `NONCE_LEN`):
//!
//! ```text
//! expires_at (u64, big-endian) || random (8 bytes) || tag (16 bytes)
//! tag = HMAC-SHA-256(K, "sealbuild nonce v1\0" || len(agent_id) as u16 BE
//!                       || agent_id || expires_at || random)[..16]
//! ```
//!
//! `K` is derived from the master key ([`crate::keys::MasterKey::derive`],
//! label [`NONCE_KEY_LABEL`]), so it survives restarts and is shared by
//! replicas that share the master key.
//!
//! * **Issuing costs no write.** `POST /v1/nonces` checks the agent (a read
//!   for registered agents, nothing for hardware-vouched ones) and mints; no
//!   row, no transaction, no fsync. An unauthenticated caller asking for
//!   nonces cannot make the verifier store anything.
//! * **Freshness.** The tag is unpredictable without `K` (and the random
//!   part keeps two nonces minted in the same second apart), so evidence
//!   cannot be prepared before its nonce was issued. Its expiry is inside
//!   the MAC: an expired nonce is refused by its own bytes, forever.
//! * **Bound to the agent.** The agent id is inside the MAC: a nonce minted
//!   for one agent is not valid for another.
//! * **Single use.** The first attestation that presents a valid, unexpired
//!   nonce inserts it into the store's `nonces` table under its primary key
//!   ([`crate::store::Store::take_nonce`]); every later one finds it there
//!   and is refused as a replay. Exactly one of any number of concurrent
//!   presenters wins (the key constraint, also across replicas). Rows can be
//!   purged once expired, since an expired nonce is refused without them.
//! * **No fsync of its own.** The use is committed lazily (WAL, no fsync).
//!   A process crash does not lose it (the WAL is in the page cache). A power
//!   loss can lose only a use that no durable commit followed; a key is
//!   released only after the decision's durable commit, which syncs the WAL
//!   up to and including the use. So a lost use had released nothing, and
//!   the nonce can still lead to at most one release.
//! * **Restarts.** Outstanding nonces stay valid until they expire (the key
//!   is derived, not random per process); used ones stay used. Rotating the
//!   master key invalidates every outstanding nonce (agents ask again).

use crate::keys::KeyManager;
use rand::RngCore;
use sealbuild_common::binding::NONCE_LEN;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Label of the nonce key derived from the master key.
pub const NONCE_KEY_LABEL: &str = "nonce-mac";

const DOMAIN: &[u8] = b"sealbuild nonce v1\0";
const TAG_LEN: usize = 16;

/// Mints and opens nonces under one derived key.
pub struct NonceMinter {
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for NonceMinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NonceMinter(<redacted>)")
    }
}

/// Why a presented nonce is not acceptable (before the store is asked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    /// Minted by this verifier for this agent, unexpired at `now`.
    Valid {
        /// Its expiry.
        expires_at: u64,
    },
    /// The tag does not match: never minted here, minted for another agent,
    /// or altered.
    NotIssued,
    /// Minted here for this agent, but `now > expires_at`.
    Expired {
        /// Its expiry.
        expires_at: u64,
    },
}

impl NonceMinter {
    /// The minter of the verifier whose keys are `keys`.
    pub fn from_keys(keys: &KeyManager) -> Self {
        Self {
            key: keys.derive(NONCE_KEY_LABEL),
        }
    }

    /// A minter with an explicit key (tests).
    pub fn from_key(key: [u8; 32]) -> Self {
        Self {
            key: Zeroizing::new(key),
        }
    }

    fn tag(&self, agent_id: &str, head: &[u8; 16]) -> [u8; TAG_LEN] {
        let len = u16::try_from(agent_id.len())
            .unwrap_or(u16::MAX)
            .to_be_bytes();
        let mac = sealbuild_common::crypto::hmac(
            sealbuild_common::HashAlg::Sha256,
            self.key.as_slice(),
            &[DOMAIN, &len, agent_id.as_bytes(), head],
        );
        let mut tag = [0u8; TAG_LEN];
        for (t, m) in tag.iter_mut().zip(mac.iter()) {
            *t = *m;
        }
        tag
    }

    /// A fresh nonce for `agent_id`, valid through `expires_at`.
    pub fn mint(&self, agent_id: &str, expires_at: u64) -> [u8; NONCE_LEN] {
        let mut head = [0u8; 16];
        let (exp, random) = head.split_at_mut(8);
        exp.copy_from_slice(&expires_at.to_be_bytes());
        rand::rngs::OsRng.fill_bytes(random);
        let tag = self.tag(agent_id, &head);
        let mut nonce = [0u8; NONCE_LEN];
        let (h, t) = nonce.split_at_mut(16);
        h.copy_from_slice(&head);
        t.copy_from_slice(&tag);
        nonce
    }

    /// Checks a presented nonce for `agent_id` at `now` (constant-time tag
    /// comparison).
    pub fn check(&self, nonce: &[u8; NONCE_LEN], agent_id: &str, now: u64) -> NonceCheck {
        let Some((head, tag)) = nonce.split_first_chunk::<16>() else {
            return NonceCheck::NotIssued;
        };
        if !bool::from(self.tag(agent_id, head).ct_eq(tag)) {
            return NonceCheck::NotIssued;
        }
        let Some(exp) = head.first_chunk::<8>() else {
            return NonceCheck::NotIssued;
        };
        let expires_at = u64::from_be_bytes(*exp);
        if now > expires_at {
            NonceCheck::Expired { expires_at }
        } else {
            NonceCheck::Valid { expires_at }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn minted_nonces_open_for_their_agent_until_expiry() {
        let m = NonceMinter::from_key([7; 32]);
        let n = m.mint("agent-a", 1_000);
        assert_eq!(
            m.check(&n, "agent-a", 999),
            NonceCheck::Valid { expires_at: 1_000 }
        );
        assert_eq!(
            m.check(&n, "agent-a", 1_000),
            NonceCheck::Valid { expires_at: 1_000 }
        );
        assert_eq!(
            m.check(&n, "agent-a", 1_001),
            NonceCheck::Expired { expires_at: 1_000 }
        );
        assert_eq!(m.check(&n, "agent-b", 999), NonceCheck::NotIssued);
        assert_eq!(m.check(&n, "agent-a\0", 999), NonceCheck::NotIssued);
        // Another key (another verifier, or a rotated master key).
        let other = NonceMinter::from_key([8; 32]);
        assert_eq!(other.check(&n, "agent-a", 999), NonceCheck::NotIssued);
        // Two nonces of the same second differ.
        assert_ne!(n, m.mint("agent-a", 1_000));
    }

    #[test]
    fn every_altered_byte_is_refused() {
        let m = NonceMinter::from_key([1; 32]);
        let n = m.mint("snp:vm-1", u64::MAX - 5);
        for i in 0..NONCE_LEN {
            for bit in [0x01u8, 0x80] {
                let mut t = n;
                t[i] ^= bit;
                assert_eq!(
                    m.check(&t, "snp:vm-1", 0),
                    NonceCheck::NotIssued,
                    "byte {i}"
                );
            }
        }
        // Extending the expiry needs the key.
        let mut later = n;
        later[..8].copy_from_slice(&u64::MAX.to_be_bytes());
        assert_eq!(m.check(&later, "snp:vm-1", 0), NonceCheck::NotIssued);
    }

    #[test]
    fn derived_keys_are_stable_and_separated() {
        let master = crate::keys::MasterKey::from_bytes([3; 32]);
        let a = master.derive(NONCE_KEY_LABEL);
        let b = crate::keys::MasterKey::from_bytes([3; 32]).derive(NONCE_KEY_LABEL);
        assert_eq!(*a, *b);
        assert_ne!(*a, *master.derive("other"));
        assert_ne!(
            *a,
            *crate::keys::MasterKey::from_bytes([4; 32]).derive(NONCE_KEY_LABEL)
        );
    }
}
