//! The verifier's attestation-result signing key (ECDSA P-256, for ES256
//! COSE_Sign1 EARs). Created on first start in the state directory as
//! `result-key.pem` (PKCS#8, 0600); `sealbuild-verifier result-key` prints
//! the public half as SPKI PEM for relying parties.

use crate::error::{Result, ServerError};
use p256::ecdsa::SigningKey;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use sealbuild_common::crypto::P256Signer;
use sha2::{Digest, Sha256};
use std::path::Path;

/// The result key and its id.
pub struct ResultKey {
    /// Signing half (as loaded or created).
    pub signing: SigningKey,
    /// The same key on the crypto provider, which signs the EARs.
    pub signer: P256Signer,
    /// SHA-256 of the SPKI DER, used as COSE `kid`.
    pub key_id: Vec<u8>,
}

impl ResultKey {
    /// Loads `dir/result-key.pem`, creating it if absent.
    pub fn load_or_create(dir: &Path) -> Result<Self> {
        let path = dir.join("result-key.pem");
        let signing = if path.exists() {
            let pem = std::fs::read_to_string(&path).map_err(|e| ServerError::io(&path, e))?;
            SigningKey::from_pkcs8_pem(&pem).map_err(|e| {
                ServerError::Key(format!("{}: not a P-256 PKCS#8 key: {e}", path.display()))
            })?
        } else {
            std::fs::create_dir_all(dir).map_err(|e| ServerError::io(dir, e))?;
            let key = SigningKey::random(&mut rand_core::OsRng);
            let pem = key
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| ServerError::Key(format!("encoding the result key: {e}")))?;
            crate::tls::write_private(&path, pem.as_bytes())?;
            key
        };
        let spki = signing
            .verifying_key()
            .to_public_key_der()
            .map_err(|e| ServerError::Key(format!("encoding the result key: {e}")))?;
        let signer = P256Signer::from_p256(&signing)
            .map_err(|e| ServerError::Key(format!("the result key: {e}")))?;
        Ok(Self {
            key_id: Sha256::digest(spki.as_bytes()).to_vec(),
            signing,
            signer,
        })
    }

    /// SPKI PEM of the verifying key.
    pub fn public_pem(&self) -> Result<String> {
        self.signing
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| ServerError::Key(format!("encoding the result key: {e}")))
    }
}
