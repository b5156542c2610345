//! The master key: 32 bytes that encrypt private keys at rest (AES-256-GCM,
//! see the parent module), read from an owner-only file or from
//! `SEALBUILD_MASTER_KEY`.

use super::{io_err, KeyError};
use aes_gcm::aead::KeyInit;
use aes_gcm::Aes256Gcm;
use rand_core::{OsRng, RngCore};
use std::fmt;
use std::io::{Read, Write};
use std::path::Path;
use zeroize::Zeroizing;

/// Environment variable holding the master key in hex.
pub const MASTER_KEY_ENV: &str = "SEALBUILD_MASTER_KEY";

/// The 32-byte key that encrypts private keys at rest.
pub struct MasterKey {
    key: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    /// A 32-byte key for one purpose, derived from the master key:
    /// HMAC-SHA-256(master, "sealbuild derived key v1\0" || label). Keys for
    /// different labels are independent; replicas sharing the master key
    /// derive the same keys.
    pub fn derive(&self, label: &str) -> Zeroizing<[u8; 32]> {
        let mac = sealbuild_common::crypto::hmac(
            sealbuild_common::HashAlg::Sha256,
            self.key.as_slice(),
            &[b"sealbuild derived key v1\0", label.as_bytes()],
        );
        let mut out = Zeroizing::new([0u8; 32]);
        for (o, m) in out.iter_mut().zip(mac.iter()) {
            *o = *m;
        }
        out
    }

    /// Wraps 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self {
            key: Zeroizing::new(bytes),
        }
    }

    /// Parses file or variable content: exactly 32 raw bytes, or 64 hex
    /// characters with optional surrounding ASCII whitespace.
    /// `source_name` only labels errors.
    pub fn parse(content: &[u8], source_name: &str) -> Result<Self, KeyError> {
        if let Ok(raw) = <[u8; 32]>::try_from(content) {
            return Ok(Self::from_bytes(raw));
        }
        let text = content.trim_ascii();
        let format_err = |got: String| KeyError::MasterKeyFormat {
            source_name: source_name.to_string(),
            got,
        };
        if text.len() != 64 {
            return Err(format_err(format!(
                "{} bytes ({} after trimming whitespace)",
                content.len(),
                text.len()
            )));
        }
        let mut key = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text, key.as_mut_slice())
            .map_err(|_| format_err("64 characters that are not all hex digits".into()))?;
        Ok(Self { key })
    }

    /// Reads the master key from a file that only its owner can access.
    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        let mut f = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
        let meta = f.metadata().map_err(|e| io_err(path, e))?;
        if !meta.is_file() {
            return Err(io_err(
                path,
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"),
            ));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(KeyError::MasterKeyPermissions {
                    path: path.display().to_string(),
                    mode,
                });
            }
        }
        let mut content = Zeroizing::new(Vec::with_capacity(80));
        // Bounded read: a master key file is at most a few dozen bytes.
        Read::take(&mut f, 4096)
            .read_to_end(&mut content)
            .map_err(|e| io_err(path, e))?;
        Self::parse(&content, &path.display().to_string())
    }

    /// Reads `SEALBUILD_MASTER_KEY` (hex); `None` when it is not set.
    pub fn from_env() -> Result<Option<Self>, KeyError> {
        match std::env::var_os(MASTER_KEY_ENV) {
            None => Ok(None),
            Some(v) => {
                let v = Zeroizing::new(v.into_encoded_bytes());
                if v.len() == 32 {
                    // Raw bytes are accepted only from files.
                    return Err(KeyError::MasterKeyFormat {
                        source_name: MASTER_KEY_ENV.into(),
                        got: "32 bytes; the variable must hold 64 hex characters".into(),
                    });
                }
                Self::parse(&v, MASTER_KEY_ENV).map(Some)
            }
        }
    }

    /// Creates a new random master key in a new file (mode 0600, hex text);
    /// refuses to overwrite an existing file.
    pub fn generate_to_file(path: &Path) -> Result<Self, KeyError> {
        let mut key = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(key.as_mut_slice());
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                KeyError::MasterKeyExists {
                    path: path.display().to_string(),
                }
            } else {
                io_err(path, e)
            }
        })?;
        let mut text = Zeroizing::new(hex::encode(key.as_slice()));
        text.push('\n');
        f.write_all(text.as_bytes()).map_err(|e| io_err(path, e))?;
        f.sync_all().map_err(|e| io_err(path, e))?;
        Ok(Self { key })
    }

    pub(super) fn cipher(&self) -> Result<Aes256Gcm, KeyError> {
        Aes256Gcm::new_from_slice(self.key.as_slice()).map_err(|e| KeyError::Encoding {
            what: "the AES-256-GCM key",
            reason: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_key_parsing() {
        let hex64 = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let k = MasterKey::parse(format!("  {hex64}\n").as_bytes(), "t").unwrap();
        assert_eq!(k.key[1], 0x11);
        assert!(MasterKey::parse(&[7u8; 32], "t").is_ok());
        assert!(MasterKey::parse(&[7u8; 31], "t").is_err());
        assert!(MasterKey::parse(hex64.replace('0', "g").as_bytes(), "t").is_err());
        let msg = MasterKey::parse(b"short", "file.key")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("file.key") && msg.contains("5 bytes"), "{msg}");
        assert_eq!(format!("{k:?}"), "MasterKey(<redacted>)");
    }
}
