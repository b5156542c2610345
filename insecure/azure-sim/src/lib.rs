//! # INSECURE simulated Azure SEV-SNP confidential VM — for CI and tests only
//!
//! **Everything this crate produces is forgeable by anyone.** The SEV-SNP
//! reports inside its HCL reports are signed by `sealbuild-insecure-snp-sim`
//! with a VCEK whose private key is published in this repository
//! (`insecure/snp-sim/test-chain/`). Such evidence proves nothing about any
//! machine. Only a verifier built with the insecure feature
//! (`sealbuild-verifier-core/insecure-test-roots`, which the verifier's
//! `insecure-snp-sim` feature turns on) **and** configured to trust that test
//! chain accepts it; a verifier that trusts only AMD's roots
//! (`AmdRoots::builtin()` in `verifier/core/src/snp/roots.rs`) refuses every
//! report made here.
//!
//! On an Azure SEV-SNP confidential VM the guest never talks to the SEV-SNP
//! firmware. The paravisor (HCL, running at VMPL 0) asks the firmware for an
//! ATTESTATION_REPORT whose REPORT_DATA is the hash of its *runtime claims* —
//! a JSON document naming the guest vTPM's attestation key `HCLAkPub` — and
//! stores both, as the "HCL report", in vTPM NV index [`HCL_NV_INDEX`]
//! (`0x01400001`); the AK itself is persistent at [`AK_PERSISTENT_HANDLE`]
//! (`0x81000003`). CI machines have neither SEV-SNP nor a paravisor:
//! [`build_hcl_report`] plays the paravisor's part for a vTPM AK of the
//! caller's choosing (typically one in a swtpm), so that the whole Azure
//! verification path (`verifier/core/src/platform/azure.rs`: SNP chain and
//! signature, VMPL 0, REPORT_DATA binding of the runtime claims, `HCLAkPub`,
//! vTPM quote) runs in tests. `scripts/azure-sim-provision.sh` puts the AK
//! and the HCL report into a running swtpm the way Azure lays them out.
//!
//! Specifications and sources (no Microsoft specification document defines
//! the HCL report; its layout is the paravisor's):
//!
//! * Microsoft OpenHCL (repository microsoft/openvmm), crate
//!   `openhcl_attestation_protocol`, module `igvm_attest::get`:
//!   `IgvmAttestRequestHeader` (signature `HCLA`, version, report size,
//!   request type, status, 3 reserved words), the TEE report area (the size
//!   of an SEV-SNP report), `IgvmAttestRequestData` (data size, version,
//!   report type, report-data hash type, variable-data size), then the
//!   runtime claims (`runtime_claims::RuntimeClaims`: `keys`,
//!   `vm-configuration`, `user-data`) whose hash is REPORT_DATA; the
//!   enumerations `IgvmAttestRequestType` (2 = AK_CERT_REQUEST),
//!   `IgvmAttestReportType` (2 = SNP_VM_REPORT) and `IgvmAttestHashType`
//!   (1 = SHA-256). Crate `tpm_protocol`: `TPM_AZURE_AIK_HANDLE` (0x81000003),
//!   `TPM_NV_INDEX_ATTESTATION_REPORT` (0x01400001),
//!   `TPM_NV_INDEX_GUEST_ATTESTATION_INPUT` (0x01400002, the 64-byte guest
//!   input reported as `user-data`) and `expected_ak_attributes`.
//! * The verifier side of this repository: `verifier/core/src/azure/hcl.rs`
//!   (layout table) and `vardata.rs` (runtime claims); the real report
//!   `tests/data/azure/az-snp-vtpm/evidence-genoa.json`, whose runtime claims
//!   [`runtime_claims_json`] mirrors (minus `HCLEkPub` and
//!   `root-cert-thumbprint`, to stay within [`SWTPM_NV_INDEX_MAX`]).
//! * IETF RFC 7517 (JSON Web Key) and RFC 7518 §6.3.1: RSA `n` and `e` are
//!   Base64urlUInt — unpadded base64url (RFC 7515 §2) of the big-endian value
//!   in the minimum number of octets.
//! * AMD "SEV Secure Nested Paging Firmware ABI Specification" (publication
//!   56860) revision 1.58, Table 23 "ATTESTATION_REPORT Structure": built and
//!   signed by [`sealbuild_insecure_snp_sim::InsecureSimulatedSnp`].
//! * TCG "TPM 2.0 Library" Part 2 rev. 1.59, §12.2.5 TPM2B_PUBLIC and §12.2.3.5
//!   TPMS_RSA_PARMS (exponent 0 = 2^16 + 1): the AK's public area
//!   ([`RsaKey::from_tpm2b_public`]).
//!
//! Layout produced (integers little-endian; offsets as in `hcl.rs`):
//!
//! | offset | size | value |
//! |---|---|---|
//! | 000h | 4 | `HCLA` |
//! | 004h | 4 | header version ([`HclOptions::header_version`], default 2 as OpenHCL and the Genoa vector) |
//! | 008h | 4 | report size = 4D4h + *n* |
//! | 00Ch | 4 | request type 2 (AK_CERT_REQUEST) |
//! | 010h | 4 | status 0 |
//! | 014h | 12 | zero |
//! | 020h | 1184 | SEV-SNP ATTESTATION_REPORT, VMPL 0, REPORT_DATA = SHA-256(var data) ‖ 0^32 |
//! | 4C0h | 4 | data size = 20 + *n* |
//! | 4C4h | 4 | request-data version 1 |
//! | 4C8h | 4 | report type 2 (SNP_VM_REPORT) |
//! | 4CCh | 4 | hash type 1 (SHA-256) |
//! | 4D0h | 4 | variable-data size *n* |
//! | 4D4h | *n* | runtime claims JSON, compact |
//!
//! No padding follows: the NV index is defined with exactly the report's size.
//! With an RSA-2048 AK, *n* = 718 bytes and the report is 1954 bytes (under
//! [`SWTPM_NV_INDEX_MAX`]); an RSA-3072 AK makes 888 + 1236 = 2124 and is
//! refused with [`Error::TooLarge`].

use base64::Engine;
use sealbuild_common::reader::Writer;
use sealbuild_common::snp::REPORT_SIZE;
use sealbuild_common::tpm::{Public, PublicKey};
use sealbuild_common::HashAlg;
use sealbuild_insecure_snp_sim::{InsecureSimulatedSnp, SimConfig, SimError};
use serde::Serialize;
use thiserror::Error;

/// `HCLA` read as a little-endian u32 (`IgvmAttestRequestHeader.signature`).
pub const HCL_SIGNATURE: u32 = 0x414C_4348;
/// `IgvmAttestRequestType::AK_CERT_REQUEST`: the request whose report the
/// vTPM NV index holds.
pub const REQUEST_TYPE_AK_CERT: u32 = 2;
/// `IgvmAttestReportType::SNP_VM_REPORT`.
pub const REPORT_TYPE_SNP: u32 = 2;
/// `IgvmAttestHashType::SHA_256`.
pub const HASH_TYPE_SHA256: u32 = 1;
/// `IgvmAttestRequestVersion::VERSION_1` of `IgvmAttestRequestData`: no
/// `IgvmAttestRequestDataExt` (the only version the verifier reads).
pub const REQUEST_DATA_VERSION: u32 = 1;
/// The header version written by default: OpenHCL's `ATTESTATION_VERSION`,
/// and that of the real Genoa report in `tests/data/azure`.
pub const DEFAULT_HEADER_VERSION: u32 = 2;
/// Header versions seen in Azure CVMs.
pub const HEADER_VERSIONS: [u32; 2] = [1, 2];
/// Size of `IgvmAttestRequestHeader`.
pub const HEADER_LEN: usize = 0x20;
/// Size of `IgvmAttestRequestData` without the variable data.
pub const REQUEST_DATA_LEN: usize = 20;
/// Offset of the variable data: header, SNP report area, request data.
pub const VAR_DATA_OFFSET: usize = HEADER_LEN + REPORT_SIZE + REQUEST_DATA_LEN;

/// vTPM NV index holding the HCL report (`TPM_NV_INDEX_ATTESTATION_REPORT`).
pub const HCL_NV_INDEX: u32 = 0x0140_0001;
/// Persistent handle of the vTPM AK `HCLAkPub` (`TPM_AZURE_AIK_HANDLE`).
pub const AK_PERSISTENT_HANDLE: u32 = 0x8100_0003;
/// TPM2_PT_NV_INDEX_MAX of swtpm 0.7 (libtpms): the largest NV index it
/// defines, read with `tpm2_getcap properties-fixed`. The default limit of
/// [`HclOptions::max_len`].
pub const SWTPM_NV_INDEX_MAX: usize = 2048;
/// Size of the guest's attestation input (NV index 0x01400002, the SNP/TDX
/// REPORT_DATA size) that the paravisor reports, hex, as `user-data`.
pub const USER_DATA_LEN: usize = 64;

/// `kid` of the vTPM attestation key.
pub const AK_KID: &str = "HCLAkPub";
/// `kid` of the vTPM endorsement key.
pub const EK_KID: &str = "HCLEkPub";

/// Why an HCL report could not be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Error {
    /// The simulated SEV-SNP guest refused its configuration or could not
    /// sign.
    #[error("INSECURE Azure simulator: {0}")]
    Snp(#[from] SimError),
    /// An RSA modulus or exponent is empty (or all zero).
    #[error("INSECURE Azure simulator: RSA key {kid}: {part} is empty")]
    EmptyKey {
        /// The key's `kid`.
        kid: &'static str,
        /// `n` or `e`.
        part: &'static str,
    },
    /// The AK's TPM2B_PUBLIC does not parse or is not an RSA key.
    #[error("INSECURE Azure simulator: AK public area (TPM2B_PUBLIC): {0}")]
    AkPublic(String),
    /// `user-data` longer than the guest attestation input.
    #[error(
        "INSECURE Azure simulator: user data of {len} bytes: at most {max} (NV index 0x01400002)"
    )]
    UserDataTooLong {
        /// Bytes given.
        len: usize,
        /// [`USER_DATA_LEN`].
        max: usize,
    },
    /// A header version Azure does not write.
    #[error("INSECURE Azure simulator: HCL header version {got}: expected 1 or 2")]
    HeaderVersion {
        /// The version asked for.
        got: u32,
    },
    /// The report does not fit the NV index limit.
    #[error(
        "INSECURE Azure simulator: the HCL report would be {len} bytes ({VAR_DATA_OFFSET} of \
         header, SNP report and request data + {var_len} of runtime claims), more than the \
         {max}-byte limit (swtpm's TPM2_PT_NV_INDEX_MAX is {SWTPM_NV_INDEX_MAX})"
    )]
    TooLarge {
        /// Size of the whole report.
        len: usize,
        /// Size of the runtime claims.
        var_len: usize,
        /// [`HclOptions::max_len`].
        max: usize,
    },
    /// The runtime claims could not be serialized.
    #[error("INSECURE Azure simulator: runtime claims JSON: {0}")]
    Json(String),
}

/// An RSA public key as a JWK carries it: big-endian `n` and `e` without
/// leading zero octets (RFC 7518 §6.3.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RsaKey {
    n: Vec<u8>,
    e: Vec<u8>,
}

impl RsaKey {
    /// The key with modulus `n` and exponent `e` (big-endian, leading zero
    /// octets dropped). `kid` only names the key in errors.
    pub fn new(kid: &'static str, n: &[u8], e: &[u8]) -> Result<Self, Error> {
        let n = strip_leading_zeros(n);
        let e = strip_leading_zeros(e);
        if n.is_empty() {
            return Err(Error::EmptyKey { kid, part: "n" });
        }
        if e.is_empty() {
            return Err(Error::EmptyKey { kid, part: "e" });
        }
        Ok(Self {
            n: n.to_vec(),
            e: e.to_vec(),
        })
    }

    /// The RSA key of a TPM2B_PUBLIC (as `tpm2_readpublic -o` or
    /// `tpm2_createak -u` write it); an exponent stored as 0 is 65537
    /// (TPM 2.0 Part 2 §12.2.3.5).
    pub fn from_tpm2b_public(kid: &'static str, tpm2b_public: &[u8]) -> Result<Self, Error> {
        let public =
            Public::parse_tpm2b(tpm2b_public).map_err(|e| Error::AkPublic(e.to_string()))?;
        match public
            .public_key()
            .map_err(|e| Error::AkPublic(e.to_string()))?
        {
            PublicKey::Rsa { modulus, exponent } => {
                Self::new(kid, &modulus, &exponent.to_be_bytes())
            }
            PublicKey::Ecc { .. } => Err(Error::AkPublic(
                "an ECC key; the runtime claims carry RSA JWKs only".to_string(),
            )),
        }
    }

    /// The modulus, big-endian, no leading zero.
    pub fn n(&self) -> &[u8] {
        &self.n
    }

    /// The exponent, big-endian, no leading zero.
    pub fn e(&self) -> &[u8] {
        &self.e
    }
}

fn strip_leading_zeros(v: &[u8]) -> &[u8] {
    let first = v.iter().position(|&b| b != 0).unwrap_or(v.len());
    v.get(first..).unwrap_or_default()
}

/// `vm-configuration` of the runtime claims, in the key order of the real
/// Genoa report (`console-enabled`, `root-cert-thumbprint`, `secure-boot`,
/// `tpm-enabled`, `tpm-persisted`, `vmUniqueId`). The values are whatever
/// the caller says: nothing vouches for them but the (INSECURE) report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct VmConfiguration {
    /// Serial console enabled.
    pub console_enabled: bool,
    /// Thumbprint of the VMGS provisioning certificate (omitted when `None`,
    /// the default: the simulation has no VMGS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_cert_thumbprint: Option<String>,
    /// UEFI Secure Boot enabled.
    pub secure_boot: bool,
    /// vTPM enabled.
    pub tpm_enabled: bool,
    /// vTPM state persisted.
    pub tpm_persisted: bool,
    /// The VM's unique id (an upper-case UUID on Azure).
    #[serde(rename = "vmUniqueId")]
    pub vm_unique_id: String,
}

/// The default `vmUniqueId`: a fixed, recognisably fake UUID.
pub const DEFAULT_VM_UNIQUE_ID: &str = "5EA1B11D-0000-4000-8000-1A5EC0DE0000";

impl Default for VmConfiguration {
    fn default() -> Self {
        Self {
            console_enabled: true,
            root_cert_thumbprint: None,
            secure_boot: true,
            tpm_enabled: true,
            tpm_persisted: true,
            vm_unique_id: DEFAULT_VM_UNIQUE_ID.to_string(),
        }
    }
}

/// Everything of an HCL report but the AK, the launch measurement and the
/// user data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HclOptions {
    /// `IgvmAttestRequestHeader.version`: 1 or 2 (default
    /// [`DEFAULT_HEADER_VERSION`]).
    pub header_version: u32,
    /// `vm-configuration`.
    pub vm_configuration: VmConfiguration,
    /// The vTPM EK as `HCLEkPub` (key_ops `encrypt`), as Azure adds it. None
    /// by default: with a 2048-bit EK the report exceeds
    /// [`SWTPM_NV_INDEX_MAX`] (raise [`Self::max_len`] to use it off-TPM).
    pub ek: Option<RsaKey>,
    /// The simulated guest's launch values (policy, HOST_DATA, ID block,
    /// VMPL, …). Its `measurement` is replaced by the one given to
    /// [`build_hcl_report`]. VMPL must stay 0 for a verifier to accept the
    /// report (only the paravisor at VMPL 0 can have requested it).
    pub snp: SimConfig,
    /// Largest report accepted, bytes (default [`SWTPM_NV_INDEX_MAX`]).
    pub max_len: usize,
}

impl Default for HclOptions {
    fn default() -> Self {
        Self {
            header_version: DEFAULT_HEADER_VERSION,
            vm_configuration: VmConfiguration::default(),
            ek: None,
            snp: SimConfig::default(),
            max_len: SWTPM_NV_INDEX_MAX,
        }
    }
}

#[derive(Serialize)]
struct JwkOut {
    kid: &'static str,
    key_ops: [&'static str; 1],
    kty: &'static str,
    e: String,
    n: String,
}

impl JwkOut {
    fn new(kid: &'static str, op: &'static str, key: &RsaKey) -> Self {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        Self {
            kid,
            key_ops: [op],
            kty: "RSA",
            e: b64.encode(key.e()),
            n: b64.encode(key.n()),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct ClaimsOut<'a> {
    keys: Vec<JwkOut>,
    vm_configuration: &'a VmConfiguration,
    user_data: String,
}

/// The 64-byte guest attestation input: `user_data` zero-padded (all zero
/// when `None`, as in every real report without guest input).
pub fn user_data_block(user_data: Option<&[u8]>) -> Result<[u8; USER_DATA_LEN], Error> {
    let mut block = [0u8; USER_DATA_LEN];
    if let Some(data) = user_data {
        if data.len() > USER_DATA_LEN {
            return Err(Error::UserDataTooLong {
                len: data.len(),
                max: USER_DATA_LEN,
            });
        }
        for (b, d) in block.iter_mut().zip(data) {
            *b = *d;
        }
    }
    Ok(block)
}

/// The runtime claims (HCL variable data) the paravisor writes for an
/// AK_CERT_REQUEST, compact JSON in its key order:
///
/// ```text
/// {"keys":[{"kid":"HCLAkPub","key_ops":["sign"],"kty":"RSA","e":"AQAB","n":"…"}],
///  "vm-configuration":{"console-enabled":true,"secure-boot":true,"tpm-enabled":true,
///  "tpm-persisted":true,"vmUniqueId":"…"},"user-data":"<128 hex digits>"}
/// ```
///
/// `n` and `e` are Base64urlUInt (RFC 7518 §6.3.1); `user-data` is the
/// lower-case hex of [`user_data_block`] (OpenHCL `hex::encode`).
pub fn runtime_claims_json(
    ak: &RsaKey,
    user_data: Option<&[u8]>,
    options: &HclOptions,
) -> Result<Vec<u8>, Error> {
    let mut keys = vec![JwkOut::new(AK_KID, "sign", ak)];
    if let Some(ek) = &options.ek {
        keys.push(JwkOut::new(EK_KID, "encrypt", ek));
    }
    let claims = ClaimsOut {
        keys,
        vm_configuration: &options.vm_configuration,
        user_data: hex::encode(user_data_block(user_data)?),
    };
    serde_json::to_vec(&claims).map_err(|e| Error::Json(e.to_string()))
}

/// REPORT_DATA binding the runtime claims: SHA-256(`var_data`) ‖ 0^32 (hash
/// type [`HASH_TYPE_SHA256`]).
pub fn report_data_for(var_data: &[u8]) -> [u8; 64] {
    let mut rd = [0u8; 64];
    for (r, d) in rd.iter_mut().zip(HashAlg::Sha256.digest(var_data)) {
        *r = d;
    }
    rd
}

fn u32_of(len: usize, var_len: usize, max: usize) -> Result<u32, Error> {
    u32::try_from(len).map_err(|_| Error::TooLarge { len, var_len, max })
}

/// The HCL report around an already signed SEV-SNP report and its runtime
/// claims (no signing here: the caller's report must bind `var_data`, see
/// [`report_data_for`]). No padding follows the variable data.
pub fn assemble_hcl_report(
    header_version: u32,
    snp_report: &[u8; REPORT_SIZE],
    var_data: &[u8],
) -> Result<Vec<u8>, Error> {
    if !HEADER_VERSIONS.contains(&header_version) {
        return Err(Error::HeaderVersion {
            got: header_version,
        });
    }
    let var_len = var_data.len();
    let len = VAR_DATA_OFFSET.saturating_add(var_len);
    let report_size = u32_of(len, var_len, usize::MAX)?;
    let var_size = u32_of(var_len, var_len, usize::MAX)?;
    let data_size = u32_of(
        REQUEST_DATA_LEN.saturating_add(var_len),
        var_len,
        usize::MAX,
    )?;
    let mut w = Writer::new();
    w.u32_le(HCL_SIGNATURE)
        .u32_le(header_version)
        .u32_le(report_size)
        .u32_le(REQUEST_TYPE_AK_CERT)
        .u32_le(0)
        .bytes(&[0; 12])
        .bytes(snp_report)
        .u32_le(data_size)
        .u32_le(REQUEST_DATA_VERSION)
        .u32_le(REPORT_TYPE_SNP)
        .u32_le(HASH_TYPE_SHA256)
        .u32_le(var_size)
        .bytes(var_data);
    Ok(w.into_vec())
}

/// Builds an INSECURE HCL report (see the crate documentation for the
/// layout) for the vTPM AK with modulus `ak_public_n` and exponent
/// `ak_public_e`: the runtime claims ([`runtime_claims_json`]), an SEV-SNP
/// report of a freshly "launched" simulated guest with `measurement` and the
/// launch values of `options.snp` whose REPORT_DATA binds them
/// ([`report_data_for`]), signed with the published test VCEK, and the
/// headers. Refused when larger than `options.max_len`.
pub fn build_hcl_report(
    ak_public_n: &[u8],
    ak_public_e: &[u8],
    measurement: [u8; 48],
    user_data: Option<&[u8]>,
    options: &HclOptions,
) -> Result<Vec<u8>, Error> {
    let guest = InsecureSimulatedSnp::new(SimConfig {
        measurement,
        ..options.snp.clone()
    })?;
    build_hcl_report_for(&guest, ak_public_n, ak_public_e, user_data, options)
}

/// Like [`build_hcl_report`] for an existing simulated guest (its launch
/// values and REPORT_ID; `options.snp` is not used).
pub fn build_hcl_report_for(
    guest: &InsecureSimulatedSnp,
    ak_public_n: &[u8],
    ak_public_e: &[u8],
    user_data: Option<&[u8]>,
    options: &HclOptions,
) -> Result<Vec<u8>, Error> {
    if !HEADER_VERSIONS.contains(&options.header_version) {
        return Err(Error::HeaderVersion {
            got: options.header_version,
        });
    }
    let ak = RsaKey::new(AK_KID, ak_public_n, ak_public_e)?;
    let var_data = runtime_claims_json(&ak, user_data, options)?;
    let len = VAR_DATA_OFFSET.saturating_add(var_data.len());
    if len > options.max_len {
        return Err(Error::TooLarge {
            len,
            var_len: var_data.len(),
            max: options.max_len,
        });
    }
    let report = guest.report(&report_data_for(&var_data))?;
    let report: [u8; REPORT_SIZE] = report.as_slice().try_into().map_err(|_| {
        Error::Snp(SimError::Sign(format!(
            "the simulator returned a {}-byte report, expected {REPORT_SIZE}",
            report.len()
        )))
    })?;
    assemble_hcl_report(options.header_version, &report, &var_data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_match_the_verifier_layout() {
        assert_eq!(VAR_DATA_OFFSET, 0x4D4);
        assert_eq!(HEADER_LEN + REPORT_SIZE, 0x4C0);
    }

    #[test]
    fn keys_are_minimal_base64url() {
        let k = RsaKey::new(AK_KID, &[0, 0, 0xff, 1], &[0, 1, 0, 1]).unwrap();
        assert_eq!((k.n(), k.e()), (&[0xff, 1][..], &[1, 0, 1][..]));
        assert_eq!(
            RsaKey::new(AK_KID, &[0, 0], &[3]).unwrap_err(),
            Error::EmptyKey {
                kid: AK_KID,
                part: "n"
            }
        );
        let json = runtime_claims_json(&k, Some(&[0xab]), &HclOptions::default()).unwrap();
        let json = String::from_utf8(json).unwrap();
        assert!(json.starts_with(
            r#"{"keys":[{"kid":"HCLAkPub","key_ops":["sign"],"kty":"RSA","e":"AQAB","n":"_wE"}],"vm-configuration":{"console-enabled":true,"secure-boot":true,"tpm-enabled":true,"tpm-persisted":true,"vmUniqueId":"5EA1B11D-0000-4000-8000-1A5EC0DE0000"},"user-data":"ab00"#
        ));
        assert!(json.ends_with(r#"0000"}"#));
        assert_eq!(json.matches("user-data").count(), 1);
    }

    #[test]
    fn user_data_is_the_64_byte_block() {
        assert_eq!(user_data_block(None).unwrap(), [0; 64]);
        assert_eq!(user_data_block(Some(&[7; 64])).unwrap(), [7; 64]);
        assert_eq!(
            user_data_block(Some(&[7; 65])).unwrap_err(),
            Error::UserDataTooLong { len: 65, max: 64 }
        );
    }

    #[test]
    fn report_data_is_sha256_then_zeros() {
        let rd = report_data_for(b"abc");
        assert_eq!(
            hex::encode(&rd[..32]),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(rd[32..], [0; 32]);
    }

    #[test]
    fn header_version_and_size_limits() {
        let n = [0xc5; 256];
        let o = HclOptions {
            header_version: 3,
            ..HclOptions::default()
        };
        assert_eq!(
            build_hcl_report(&n, &[1, 0, 1], [0; 48], None, &o).unwrap_err(),
            Error::HeaderVersion { got: 3 }
        );
        // 2048-bit AK and EK: the size of a real report, over swtpm's limit.
        let o = HclOptions {
            ek: Some(RsaKey::new(EK_KID, &n, &[1, 0, 1]).unwrap()),
            ..HclOptions::default()
        };
        match build_hcl_report(&n, &[1, 0, 1], [0; 48], None, &o).unwrap_err() {
            Error::TooLarge { len, max, .. } => {
                assert!(len > 2048, "{len}");
                assert_eq!(max, 2048);
            }
            other => panic!("{other:?}"),
        }
        let big = HclOptions { max_len: 4096, ..o };
        let bytes = build_hcl_report(&n, &[1, 0, 1], [0; 48], None, &big).unwrap();
        assert!(bytes.len() > 2048);
    }
}
