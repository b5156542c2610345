//! The attestation key (AK) and where it is kept between runs.
//!
//! The AK is an ordinary (non-primary) restricted signing key created under
//! the EK with the endorsement-hierarchy policy (TCG TPM 2.0 Keys for Device
//! Identity and Attestation, v1.0 rev. 12, §7.3 "Attestation Key"; objects
//! attributes fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth |
//! restricted | sign, TCG TPM 2.0 Library Part 2 rev. 1.59 §8.3 Table 31):
//!
//! * [`AkType::Ecc`] (default): NIST P-256, ECDSA with SHA-256.
//! * [`AkType::Rsa`]: RSA 2048, RSASSA-PKCS1-v1_5 with SHA-256.
//!
//! **Persistence.** The agent does not make the AK persistent in the TPM
//! (TPM2_EvictControl needs owner authorization and uses scarce NV). It keeps
//! the AK's TPM2B_PUBLIC and TPM2B_PRIVATE (the private part is encrypted and
//! integrity-protected by the TPM under the EK's storage seed, so it is useless
//! outside this TPM) as [`AkState`], a JSON file `tpm-ak.json` in the state
//! directory the caller chooses (`--state-dir`). `register` creates it once;
//! every later quote or activation recreates the EK from its template, checks
//! that the EK's Name is still the one recorded (a cleared or different TPM is
//! refused with [`AgentError::EkMismatch`]), loads the AK under it, uses it and
//! flushes both.

use super::ek::EkType;
use super::{rc, TpmBackend};
use crate::evidence::AgentError;
use sealbuild_common::api::b64;
use sealbuild_common::reader::Reader;
use sealbuild_common::HashAlg;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use tss_esapi::abstraction::ak::{create_ak, load_ak};
use tss_esapi::abstraction::DefaultKey;
use tss_esapi::handles::KeyHandle;
use tss_esapi::interface_types::algorithm::{
    EccSchemeAlgorithm, HashingAlgorithm, SignatureSchemeAlgorithm,
};
use tss_esapi::interface_types::ecc::EccCurve;
use tss_esapi::structures::{Private, Public, PublicBuffer};
use tss_esapi::traits::{Marshall, UnMarshall};

/// Version of the [`AkState`] JSON document.
pub const AK_STATE_VERSION: u32 = 1;
/// File name of the AK state inside the state directory.
pub const AK_STATE_FILE: &str = "tpm-ak.json";
/// Largest JSON document accepted as AK state.
const AK_STATE_MAX: u64 = 64 * 1024;
/// sizeof(TPM2B_PRIVATE.buffer) = sizeof(_PRIVATE) (Part 2 §12.3.7, Table 218
/// for the reference implementation's sizes).
const PRIVATE_MAX: usize = Private::MAX_SIZE;

/// AK algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AkType {
    /// NIST P-256, ECDSA-SHA256.
    #[default]
    Ecc,
    /// RSA 2048, RSASSA-SHA256.
    Rsa,
}

impl AkType {
    /// `ecc` or `rsa`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ecc => "ecc",
            Self::Rsa => "rsa",
        }
    }

    fn scheme(self) -> SignatureSchemeAlgorithm {
        match self {
            Self::Ecc => SignatureSchemeAlgorithm::EcDsa,
            Self::Rsa => SignatureSchemeAlgorithm::RsaSsa,
        }
    }
}

impl std::fmt::Display for AkType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for AkType {
    type Err = AgentError;
    fn from_str(s: &str) -> Result<Self, AgentError> {
        match s {
            "ecc" => Ok(Self::Ecc),
            "rsa" => Ok(Self::Rsa),
            other => Err(AgentError::InvalidArgument {
                what: "AK type",
                reason: format!("{other:?} (expected ecc or rsa)"),
            }),
        }
    }
}

/// An AK as stored between runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AkState {
    /// The EK template the AK was created under.
    pub ek_type: EkType,
    /// The EK's Name when the AK was created.
    pub ek_name: Vec<u8>,
    /// The AK's algorithm.
    pub ak_type: AkType,
    /// TPM2B_PUBLIC of the AK (as `tpm2_createak -u` writes it).
    pub public: Vec<u8>,
    /// TPM2B_PRIVATE of the AK (as `tpm2_createak -r` writes it).
    pub private: Vec<u8>,
    /// The AK's Name (nameAlg || H(TPMT_PUBLIC)); the verifier's agent id.
    pub name: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AkStateJson {
    version: u32,
    ek_type: EkType,
    ek_name: String,
    ak_type: AkType,
    #[serde(with = "b64")]
    ak_public: Vec<u8>,
    #[serde(with = "b64")]
    ak_private: Vec<u8>,
    ak_name: String,
}

impl AkState {
    /// Serializes to the JSON document stored in the state directory.
    pub fn to_json(&self) -> Vec<u8> {
        let doc = AkStateJson {
            version: AK_STATE_VERSION,
            ek_type: self.ek_type,
            ek_name: hex::encode(&self.ek_name),
            ak_type: self.ak_type,
            ak_public: self.public.clone(),
            ak_private: self.private.clone(),
            ak_name: hex::encode(&self.name),
        };
        // Serializing a struct of strings, numbers and enums cannot fail.
        let mut out = serde_json::to_vec_pretty(&doc).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// Parses and checks a stored AK: version, that the public area is a
    /// restricted signing key of the recorded type, that the private blob is
    /// one TPM2B_PRIVATE, and that the recorded Name is the public area's.
    pub fn from_json(bytes: &[u8]) -> Result<Self, AgentError> {
        let bad = |reason: String| AgentError::AkState { reason };
        let doc: AkStateJson =
            serde_json::from_slice(bytes).map_err(|e| bad(format!("JSON: {e}")))?;
        if doc.version != AK_STATE_VERSION {
            return Err(bad(format!(
                "version: expected {AK_STATE_VERSION}, got {}",
                doc.version
            )));
        }
        let ek_name =
            hex::decode(&doc.ek_name).map_err(|e| bad(format!("ek_name: not hex: {e}")))?;
        let name = hex::decode(&doc.ak_name).map_err(|e| bad(format!("ak_name: not hex: {e}")))?;
        let public = parse_public(&doc.ak_public).map_err(|e| bad(format!("ak_public: {e}")))?;
        check_ak_public(&public, doc.ak_type).map_err(|e| bad(format!("ak_public: {e}")))?;
        let computed =
            name_of_public(&doc.ak_public).map_err(|e| bad(format!("ak_public: {e}")))?;
        if computed != name {
            return Err(bad(format!(
                "ak_name: expected {} (computed from ak_public), got {}",
                hex::encode(&computed),
                hex::encode(&name)
            )));
        }
        parse_private(&doc.ak_private).map_err(|e| bad(format!("ak_private: {e}")))?;
        Ok(Self {
            ek_type: doc.ek_type,
            ek_name,
            ak_type: doc.ak_type,
            public: doc.ak_public,
            private: doc.ak_private,
            name,
        })
    }

    /// The state file inside `dir`.
    pub fn path_in(dir: &Path) -> PathBuf {
        dir.join(AK_STATE_FILE)
    }

    /// Writes `dir/tpm-ak.json` (mode 0600, via a temporary file and rename
    /// so a crash never leaves half a file). Creates `dir` if needed.
    pub fn save(&self, dir: &Path) -> Result<PathBuf, AgentError> {
        let path = Self::path_in(dir);
        let io = |source| AgentError::AkStateIo {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let tmp = dir.join(format!(".{AK_STATE_FILE}.tmp"));
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp).map_err(io)?;
        f.write_all(&self.to_json()).map_err(io)?;
        f.sync_all().map_err(io)?;
        drop(f);
        std::fs::rename(&tmp, &path).map_err(io)?;
        Ok(path)
    }

    /// Reads and checks `dir/tpm-ak.json`.
    pub fn load(dir: &Path) -> Result<Self, AgentError> {
        use std::io::Read;
        let path = Self::path_in(dir);
        let io = |source| AgentError::AkStateIo {
            path: path.clone(),
            source,
        };
        let f = std::fs::File::open(&path).map_err(io)?;
        let mut bytes = Vec::new();
        f.take(AK_STATE_MAX + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() as u64 > AK_STATE_MAX {
            return Err(AgentError::AkState {
                reason: format!("{}: larger than {AK_STATE_MAX} bytes", path.display()),
            });
        }
        Self::from_json(&bytes)
    }
}

/// Parses a TPM2B_PUBLIC and requires that it re-marshals to the same bytes
/// (no trailing bytes, canonical encoding).
pub(crate) fn parse_public(bytes: &[u8]) -> Result<Public, String> {
    let buf = PublicBuffer::unmarshall(bytes).map_err(|e| rc::describe(&e))?;
    let public = Public::try_from(buf).map_err(|e| rc::describe(&e))?;
    let again = PublicBuffer::try_from(public.clone())
        .and_then(|b| b.marshall())
        .map_err(|e| rc::describe(&e))?;
    if again != bytes {
        return Err(format!(
            "TPM2B_PUBLIC does not re-encode to the same {} bytes (trailing or non-canonical data)",
            bytes.len()
        ));
    }
    Ok(public)
}

/// Parses a TPM2B_PRIVATE into the tss-esapi type.
pub(crate) fn parse_private(bytes: &[u8]) -> Result<Private, String> {
    let mut r = Reader::new(bytes);
    let body = r
        .tpm2b("TPM2B_PRIVATE", PRIVATE_MAX)
        .map_err(|e| e.to_string())?;
    r.finish("TPM2B_PRIVATE").map_err(|e| e.to_string())?;
    Private::try_from(body.to_vec()).map_err(|e| rc::describe(&e))
}

/// Name of an object from its TPM2B_PUBLIC: nameAlg (the first two bytes of
/// TPMT_PUBLIC after `type`) || H_nameAlg(TPMT_PUBLIC) (Part 1 §16 "Names").
pub fn name_of_public(tpm2b_public: &[u8]) -> Result<Vec<u8>, String> {
    let mut r = Reader::new(tpm2b_public);
    let tpmt = r
        .tpm2b("TPM2B_PUBLIC", usize::from(u16::MAX))
        .map_err(|e| e.to_string())?;
    r.finish("TPM2B_PUBLIC").map_err(|e| e.to_string())?;
    let mut t = Reader::new(tpmt);
    let _type = t.u16_be("TPMT_PUBLIC.type").map_err(|e| e.to_string())?;
    let name_alg = t.u16_be("TPMT_PUBLIC.nameAlg").map_err(|e| e.to_string())?;
    let alg = HashAlg::from_alg_id(name_alg, "TPMT_PUBLIC.nameAlg").map_err(|e| e.to_string())?;
    let mut name = name_alg.to_be_bytes().to_vec();
    name.extend(alg.digest(tpmt));
    Ok(name)
}

fn check_ak_public(public: &Public, ak_type: AkType) -> Result<(), String> {
    let a = public.object_attributes();
    if !(a.restricted() && a.sign_encrypt() && !a.decrypt() && a.fixed_tpm() && a.fixed_parent()) {
        return Err(format!(
            "not a restricted, non-decrypting, fixedTPM/fixedParent signing key (attributes {:#010x})",
            u32::from(a)
        ));
    }
    if public.name_hashing_algorithm() != HashingAlgorithm::Sha256 {
        return Err("nameAlg is not SHA-256".into());
    }
    match (ak_type, public) {
        (AkType::Ecc, Public::Ecc { parameters, .. }) => {
            if parameters.ecc_curve() != EccCurve::NistP256 {
                return Err("ECC AK is not on NIST P-256".into());
            }
            if parameters.ecc_scheme().algorithm() != EccSchemeAlgorithm::EcDsa {
                return Err("ECC AK scheme is not ECDSA".into());
            }
            Ok(())
        }
        (AkType::Rsa, Public::Rsa { .. }) => Ok(()),
        (t, _) => Err(format!("public area is not an {t} key")),
    }
}

impl TpmBackend {
    /// Creates an AK of `ak_type` under the `ek_type` EK and returns it ready
    /// to store. The EK and the AK are flushed on every path.
    pub fn create_ak(&mut self, ek_type: EkType, ak_type: AkType) -> Result<AkState, AgentError> {
        let ek = self.create_ek(ek_type)?;
        self.with_flushed("EK", ek.into(), |s| s.create_ak_under(ek, ek_type, ak_type))
    }

    /// Creates an AK under an already loaded EK.
    pub(crate) fn create_ak_under(
        &mut self,
        ek: KeyHandle,
        ek_type: EkType,
        ak_type: AkType,
    ) -> Result<AkState, AgentError> {
        let (_, ek_name) = self.public_and_name(ek)?;
        let created = create_ak(
            &mut self.ctx,
            ek,
            HashingAlgorithm::Sha256,
            ak_type.scheme(),
            None,
            DefaultKey,
        )
        .map_err(rc::cmd("Create (AK)"))?;
        let public = PublicBuffer::try_from(created.out_public.clone())
            .and_then(|b| b.marshall())
            .map_err(rc::cmd("Create (marshalling the AK's TPM2B_PUBLIC)"))?;
        let private_body = created.out_private.value();
        let mut private = u16::try_from(private_body.len())
            .map_err(|_| AgentError::UnexpectedResponse {
                command: "Create",
                reason: format!("TPM2B_PRIVATE of {} bytes", private_body.len()),
            })?
            .to_be_bytes()
            .to_vec();
        private.extend_from_slice(private_body);
        // Load it once: proves the blob loads and gives the TPM's own Name.
        let ak = load_ak(
            &mut self.ctx,
            ek,
            None,
            created.out_private.clone(),
            created.out_public,
        )
        .map_err(rc::cmd("Load (AK)"))?;
        let (_, name) = self.with_flushed("AK", ak.into(), |s| s.public_and_name(ak))?;
        let computed =
            name_of_public(&public).map_err(|reason| AgentError::UnexpectedResponse {
                command: "Create",
                reason,
            })?;
        if computed != name {
            return Err(AgentError::UnexpectedResponse {
                command: "ReadPublic",
                reason: format!(
                    "AK Name {} differs from the one computed from its public area {}",
                    hex::encode(&name),
                    hex::encode(&computed)
                ),
            });
        }
        Ok(AkState {
            ek_type,
            ek_name,
            ak_type,
            public,
            private,
            name,
        })
    }

    /// Recreates the EK, checks it is the one `ak` was created under, loads
    /// the AK and runs `f` with (EK, AK). Both are flushed afterwards on every
    /// path.
    pub(crate) fn with_ak<T>(
        &mut self,
        ak: &AkState,
        f: impl FnOnce(&mut Self, KeyHandle, KeyHandle) -> Result<T, AgentError>,
    ) -> Result<T, AgentError> {
        let public = parse_public(&ak.public).map_err(|reason| AgentError::AkState {
            reason: format!("ak_public: {reason}"),
        })?;
        let private = parse_private(&ak.private).map_err(|reason| AgentError::AkState {
            reason: format!("ak_private: {reason}"),
        })?;
        let ek = self.create_ek(ak.ek_type)?;
        self.with_flushed("EK", ek.into(), |s| {
            let (_, ek_name) = s.public_and_name(ek)?;
            if ek_name != ak.ek_name {
                return Err(AgentError::EkMismatch {
                    ek_type: ak.ek_type.to_string(),
                    expected: hex::encode(&ak.ek_name),
                    got: hex::encode(&ek_name),
                });
            }
            let handle =
                load_ak(&mut s.ctx, ek, None, private, public).map_err(rc::cmd("Load (AK)"))?;
            s.with_flushed("AK", handle.into(), |s| f(s, ek, handle))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A TPM2B_PUBLIC of an ECC P-256 ECDSA-SHA256 AK as tpm2_createak wrote it
    // (swtpm 0.7.1, tpm2-tools 5.4), and its Name from `tpm2_createak -n`.
    const AK_PUB: &str = "00580023000b00050072000000100018000b00030010002052f44fe69cd2ea59fe66cf497d18de083b085e3bc6833db5ec4c6641634c534c0020b7890f9b020921f0cb547115e13b13cd67ca4658de5576484315ae22bb1fd0a9";
    const AK_NAME: &str = "000b0e24c9a710cdb3f196fb00b334f6b14002fd4529819d50978e84f5080db9c33d";

    fn ak_pub() -> Vec<u8> {
        hex::decode(AK_PUB).unwrap()
    }

    fn state() -> AkState {
        let public = ak_pub();
        AkState {
            ek_type: EkType::Rsa2048,
            ek_name: vec![0, 0x0b, 1, 2, 3],
            ak_type: AkType::Ecc,
            name: name_of_public(&public).unwrap(),
            public,
            private: vec![0, 3, 9, 9, 9],
        }
    }

    #[test]
    fn name_matches_tpm2_tools() {
        assert_eq!(hex::encode(name_of_public(&ak_pub()).unwrap()), AK_NAME);
    }

    #[test]
    fn json_round_trip() {
        let s = state();
        let json = s.to_json();
        let back = AkState::from_json(&json).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.to_json(), json);
    }

    #[test]
    fn mutated_states_fail() {
        let good: serde_json::Value = serde_json::from_slice(&state().to_json()).unwrap();
        let mutate = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut v = good.clone();
            f(&mut v);
            AkState::from_json(&serde_json::to_vec(&v).unwrap())
                .unwrap_err()
                .to_string()
        };
        assert!(mutate(&|v| v["version"] = 2.into()).contains("version"));
        assert!(mutate(&|v| v["extra"] = 1.into()).contains("unknown field"));
        assert!(mutate(&|v| v["ak_type"] = "rsa".into()).contains("not an rsa key"));
        assert!(mutate(&|v| v["ak_name"] = format!("{AK_NAME}00").into()).contains("ak_name"));
        // private blob with a wrong size prefix or trailing bytes
        assert!(mutate(&|v| v["ak_private"] = "AAQJCQk=".into()).contains("ak_private"));
        assert!(mutate(&|v| v["ak_private"] = "AAIJCQk=".into()).contains("ak_private"));
        // one bit of the public area flipped: the name no longer matches or it
        // no longer parses
        let mut p = ak_pub();
        p[40] ^= 1;
        let p64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &p);
        assert!(mutate(&|v| v["ak_public"] = p64.clone().into()).contains("ak_"));
        // public area with a trailing byte
        let mut p = ak_pub();
        p.push(0);
        let p64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &p);
        assert!(mutate(&|v| v["ak_public"] = p64.clone().into()).contains("ak_public"));
        assert!(AkState::from_json(b"{").is_err());
    }
}
