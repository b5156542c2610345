//! The HCL report's variable data: the paravisor's runtime claims, JSON.
//!
//! Sources: Microsoft OpenHCL (repository microsoft/openvmm), crate
//! `openhcl_attestation_protocol`, module `igvm_attest::get::runtime_claims`
//! (`RuntimeClaims`: `keys`, an array of RSA JWKs — `HCLAkPub` with key_ops
//! `sign` is the vTPM attestation key, `HCLEkPub` with `encrypt` its
//! endorsement key —, `vm-configuration`, and the optional `user-data`, hex);
//! IETF RFC 7517 (JSON Web Key) and RFC 7518 §6.3.1 (RSA `n` and `e` are
//! Base64urlUInt: unpadded base64url, RFC 7515 §2, of the big-endian value in
//! the minimum number of octets).
//!
//! The bytes are authenticated only through REPORT_DATA (see
//! [`super::verify_azure_snp`]); nothing here is trusted on its own.

use std::collections::BTreeMap;

use base64::Engine;
use sealbuild_common::crypto::{Scheme, VerifyingKey};
use sealbuild_common::HashAlg;
use serde::Deserialize;

use super::AzureError;

/// `kid` of the vTPM attestation key.
pub const AK_KID: &str = "HCLAkPub";
/// `kid` of the vTPM endorsement key.
pub const EK_KID: &str = "HCLEkPub";
/// Smallest AK modulus accepted, in bits.
pub const MIN_AK_BITS: usize = 2048;

/// One JWK of `keys` as the paravisor writes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Jwk {
    /// Key id (`HCLAkPub`, `HCLEkPub`, …).
    pub kid: String,
    /// Permitted operations.
    #[serde(default)]
    pub key_ops: Vec<String>,
    /// Key type (`RSA`).
    pub kty: String,
    /// RSA public exponent, Base64urlUInt.
    pub e: String,
    /// RSA modulus, Base64urlUInt.
    pub n: String,
}

/// `vm-configuration`: the VM settings the paravisor reports. Known fields
/// are typed; any other is kept in `other`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct VmConfiguration {
    /// The serial console is enabled.
    pub console_enabled: Option<bool>,
    /// UEFI Secure Boot is enabled.
    pub secure_boot: Option<bool>,
    /// The vTPM is enabled.
    pub tpm_enabled: Option<bool>,
    /// The vTPM state is persisted.
    pub tpm_persisted: Option<bool>,
    /// Time stamp (Unix seconds) of the request.
    pub current_time: Option<i64>,
    /// Thumbprint of the VMGS root certificate.
    pub root_cert_thumbprint: Option<String>,
    /// The Azure VM's unique id.
    #[serde(rename = "vmUniqueId")]
    pub vm_unique_id: Option<String>,
    /// Every other field.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// The runtime claims JSON.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RuntimeClaims {
    /// The JWKs.
    pub keys: Vec<Jwk>,
    /// The VM configuration.
    pub vm_configuration: VmConfiguration,
    /// `user-data`, hex, as written (absent when the guest supplied none).
    #[serde(default)]
    pub user_data: Option<String>,
}

/// An RSA public key from a JWK, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaJwkKey {
    /// Its `kid`.
    pub kid: String,
    /// Modulus, big-endian, no leading zero.
    pub n: Vec<u8>,
    /// Public exponent, big-endian, no leading zero.
    pub e: Vec<u8>,
}

impl RsaJwkKey {
    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        // base64url_uint refuses leading zero octets: the first byte is the top.
        self.n
            .first()
            .map_or(0, |b| self.n.len() * 8 - b.leading_zeros() as usize)
    }

    /// The key for RSASSA-PKCS1-v1_5/SHA-256 verification (the one crypto
    /// provider).
    pub fn to_rsa(&self) -> Result<VerifyingKey, String> {
        VerifyingKey::rsa(&self.n, &self.e, Scheme::RsaPkcs1v15(HashAlg::Sha256))
            .map_err(|e| format!("{} is not a usable RSA public key: {e}", self.kid))
    }

    /// SHA-256 of the modulus, hex: a short name for messages.
    pub fn fingerprint(&self) -> String {
        hex::encode(HashAlg::Sha256.digest_parts(&[&self.n]))
    }
}

/// RFC 7518 §2 Base64urlUInt.
fn base64url_uint(value: &str, what: &str) -> Result<Vec<u8>, String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|e| format!("{what} is not unpadded base64url: {e}"))?;
    match bytes.first() {
        None => Err(format!("{what} is empty")),
        Some(0) => Err(format!(
            "{what} has a leading zero octet (RFC 7518 §2 requires the minimum number of octets)"
        )),
        Some(_) => Ok(bytes),
    }
}

impl RuntimeClaims {
    /// Parses the variable data; errors are [`AzureError::VarData`].
    pub fn parse(var_data: &[u8]) -> Result<Self, AzureError> {
        serde_json::from_slice(var_data).map_err(|e| AzureError::VarData {
            reason: format!("not the runtime claims JSON: {e}"),
        })
    }

    /// The RSA key with `kid`, required to allow `op`; `None` when absent,
    /// an error when present more than once or malformed.
    pub fn rsa_key(&self, kid: &str, op: &str) -> Result<Option<RsaJwkKey>, String> {
        let mut found = self.keys.iter().filter(|k| k.kid == kid);
        let Some(jwk) = found.next() else {
            return Ok(None);
        };
        if found.next().is_some() {
            return Err(format!("more than one key with kid {kid}"));
        }
        if jwk.kty != "RSA" {
            return Err(format!("{kid}: expected kty RSA, got {:?}", jwk.kty));
        }
        if !jwk.key_ops.iter().any(|o| o == op) {
            return Err(format!(
                "{kid}: expected key_ops to contain {op:?}, got {:?}",
                jwk.key_ops
            ));
        }
        Ok(Some(RsaJwkKey {
            kid: kid.to_string(),
            n: base64url_uint(&jwk.n, &format!("{kid} n"))?,
            e: base64url_uint(&jwk.e, &format!("{kid} e"))?,
        }))
    }

    /// The vTPM attestation key (`HCLAkPub`, RSA, at least 2048 bits);
    /// errors are [`AzureError::AkPub`].
    pub fn ak_pub(&self) -> Result<RsaJwkKey, AzureError> {
        let ak_err = |reason: String| AzureError::AkPub { reason };
        let key = self
            .rsa_key(AK_KID, "sign")
            .map_err(ak_err)?
            .ok_or_else(|| {
                let kids: Vec<&str> = self.keys.iter().map(|k| k.kid.as_str()).collect();
                ak_err(format!("no key with kid {AK_KID} (keys: {kids:?})"))
            })?;
        if key.bits() < MIN_AK_BITS {
            return Err(ak_err(format!(
                "expected an RSA modulus of at least {MIN_AK_BITS} bits, got {}",
                key.bits()
            )));
        }
        key.to_rsa().map_err(ak_err)?;
        Ok(key)
    }

    /// The vTPM endorsement key (`HCLEkPub`), when present.
    pub fn ek_pub(&self) -> Result<Option<RsaJwkKey>, AzureError> {
        self.rsa_key(EK_KID, "encrypt")
            .map_err(|reason| AzureError::VarData { reason })
    }

    /// `user-data` decoded from hex (either case).
    pub fn user_data_bytes(&self) -> Result<Option<Vec<u8>>, AzureError> {
        self.user_data
            .as_deref()
            .map(|h| {
                hex::decode(h).map_err(|e| AzureError::VarData {
                    reason: format!("user-data is not hex: {e}"),
                })
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AK_N: &str = "qR7LqAABDczZDIJxh4YuOOp_0EiqZ0TvLsy8ZoLd3OMHs-1mLF4rNkW4d5vHgF5UwOHcLIMWnrjHr5cPop_pvnapqYvv1hQVBwhfOV4EedT27Fp2N2Jrj54JVc500a5s8ogiOTTm3bJ86VCoKGn3Ou2WMPWGYbIOTInVfJYsASUXeihOBO6r_DFDjzNP-XOW_YinXf7Xj_Gbcp0Pngwz8OHqnQrb9cyMe-sSbcUVdHoaj3CcAmjGvvhpyIzKxCjHg_LqUBmVx5xtKfZSreeerQvOsoDRKcx2_S-oDt6eP1jsXFldIpqbSM34qA3gBkve6xy1jVEUrclNgxFtMI5PDQ";

    fn claims(keys: &str, rest: &str) -> String {
        format!(
            r#"{{"keys":[{keys}],"vm-configuration":{{"secure-boot":true,"vmUniqueId":"X","new-flag":3}}{rest}}}"#
        )
    }

    fn ak(kid: &str, ops: &str, n: &str) -> String {
        format!(r#"{{"kid":"{kid}","key_ops":[{ops}],"kty":"RSA","e":"AQAB","n":"{n}"}}"#)
    }

    #[test]
    fn ak_and_configuration() {
        let json = claims(&ak("HCLAkPub", r#""sign""#, AK_N), r#","user-data":"0aFF""#);
        let c = RuntimeClaims::parse(json.as_bytes()).unwrap();
        let key = c.ak_pub().unwrap();
        assert_eq!(key.bits(), 2048);
        assert_eq!(key.e, vec![1, 0, 1]);
        assert_eq!(c.vm_configuration.secure_boot, Some(true));
        assert_eq!(c.vm_configuration.vm_unique_id.as_deref(), Some("X"));
        assert_eq!(c.vm_configuration.other["new-flag"], serde_json::json!(3));
        assert_eq!(c.user_data_bytes().unwrap(), Some(vec![0x0a, 0xff]));
        assert_eq!(c.ek_pub().unwrap(), None);
    }

    #[test]
    fn bad_aks_are_refused() {
        let cases = [
            claims(&ak("Other", r#""sign""#, AK_N), ""),
            claims(&ak("HCLAkPub", r#""encrypt""#, AK_N), ""),
            claims(&ak("HCLAkPub", r#""sign""#, "AQAB"), ""),
            claims(&ak("HCLAkPub", r#""sign""#, &format!("AA{AK_N}")), ""),
            claims(&ak("HCLAkPub", r#""sign""#, &format!("{AK_N}=")), ""),
            claims(
                &format!(
                    "{},{}",
                    ak("HCLAkPub", r#""sign""#, AK_N),
                    ak("HCLAkPub", r#""sign""#, AK_N)
                ),
                "",
            ),
        ];
        for json in cases {
            let c = RuntimeClaims::parse(json.as_bytes()).unwrap();
            assert!(
                matches!(c.ak_pub(), Err(AzureError::AkPub { .. })),
                "{json}"
            );
        }
    }

    #[test]
    fn malformed_json_and_user_data() {
        assert!(matches!(
            RuntimeClaims::parse(b"{\"keys\":[]}"),
            Err(AzureError::VarData { .. })
        ));
        // A duplicate user-data must not silently pick one of the two.
        let dup = claims("", r#","user-data":"00","user-data":"01""#);
        assert!(RuntimeClaims::parse(dup.as_bytes()).is_err());
        let c = RuntimeClaims::parse(claims("", r#","user-data":"xyz""#).as_bytes()).unwrap();
        assert!(matches!(
            c.user_data_bytes(),
            Err(AzureError::VarData { .. })
        ));
    }
}
