//! JSON messages between agent and verifier (HTTP API v1).
//!
//! Binary fields travel as standard base64 (RFC 4648 §4, padded); digests and
//! nonces as lower-case hex. The routes, in order of use:
//!
//! | route | request | response |
//! |---|---|---|
//! | `POST /v1/agents/register` | [`RegisterRequest`] | [`RegisterResponse`] |
//! | `POST /v1/agents/activate` | [`ActivateRequest`] | [`ActivateResponse`] |
//! | `POST /v1/nonces` | [`NonceRequest`] | [`NonceResponse`] |
//! | `POST /v1/attest` | [`AttestRequest`] | [`AttestResponse`] |
//! | `GET /v1/result-key` | – | PEM text of the EAR signing key |
//!
//! Admin routes (`/v1/admin/...`, bearer token) are described in the verifier.
//! Errors come back as [`ErrorBody`] with an HTTP status chosen in one place in
//! the verifier. The types derive `JsonSchema` (JSON Schema 2020-12, bounds
//! from [`bounds`] through [`schema`]); the verifier's OpenAPI document
//! (`docs/openapi.json`) is made from them.

pub mod bounds;
pub mod schema;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Serde adapter: `Vec<u8>` as standard padded base64.
pub mod b64 {
    use base64::{engine::general_purpose::STANDARD, Engine};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes bytes as base64.
    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }

    /// Deserializes base64 into bytes.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        STANDARD.decode(s).map_err(serde::de::Error::custom)
    }

    /// The same for `Option<Vec<u8>>`.
    pub mod opt {
        use base64::{engine::general_purpose::STANDARD, Engine};
        use serde::{Deserialize, Deserializer, Serializer};

        /// Serializes optional bytes as base64 or null.
        pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
            match v {
                Some(b) => s.serialize_some(&STANDARD.encode(b)),
                None => s.serialize_none(),
            }
        }

        /// Deserializes optional base64.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
            let s = Option::<String>::deserialize(d)?;
            s.map(|s| STANDARD.decode(s).map_err(serde::de::Error::custom))
                .transpose()
        }
    }

    /// The same for `Vec<Vec<u8>>`.
    pub mod list {
        use base64::{engine::general_purpose::STANDARD, Engine};
        use serde::{Deserialize, Deserializer, Serializer};

        /// Serializes a list of byte strings as base64 strings.
        pub fn serialize<S: Serializer>(v: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(v.iter().map(|b| STANDARD.encode(b)))
        }

        /// Deserializes a list of base64 strings.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
            let v = Vec::<String>::deserialize(d)?;
            v.into_iter()
                .map(|s| STANDARD.decode(s).map_err(serde::de::Error::custom))
                .collect()
        }
    }
}

/// Registration of a TPM: its EK and a freshly created AK.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// TPM2B_PUBLIC of the endorsement key.
    #[serde(with = "b64")]
    #[schemars(schema_with = "schema::tpm_structure")]
    pub ek_public: Vec<u8>,
    /// DER EK certificate read from the TPM's NV (absent for an allowlisted EK).
    #[serde(default, with = "b64::opt", skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::certificate_opt")]
    pub ek_certificate: Option<Vec<u8>>,
    /// DER intermediates the agent found (e.g. in NV); untrusted hints.
    #[serde(default, with = "b64::list", skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "schema::certificate_list")]
    pub ek_intermediates: Vec<Vec<u8>>,
    /// TPM2B_PUBLIC of the attestation key.
    #[serde(with = "b64")]
    #[schemars(schema_with = "schema::tpm_structure")]
    pub ak_public: Vec<u8>,
}

/// The verifier's MakeCredential challenge for the AK's Name.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterResponse {
    /// Identifier of the agent (hex of the AK's Name).
    pub agent_id: String,
    /// Identifies this challenge; single use.
    pub challenge_id: String,
    /// TPM2B_ID_OBJECT (credentialBlob of TPM2_MakeCredential).
    #[serde(with = "b64")]
    #[schemars(schema_with = "schema::base64_any")]
    pub credential_blob: Vec<u8>,
    /// TPM2B_ENCRYPTED_SECRET (secret of TPM2_MakeCredential).
    #[serde(with = "b64")]
    #[schemars(schema_with = "schema::base64_any")]
    pub encrypted_secret: Vec<u8>,
}

/// Proof that the TPM holding the EK also holds the AK.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivateRequest {
    /// From [`RegisterResponse::agent_id`].
    #[schemars(schema_with = "schema::id")]
    pub agent_id: String,
    /// From [`RegisterResponse::challenge_id`].
    #[schemars(schema_with = "schema::id")]
    pub challenge_id: String,
    /// The credential ActivateCredential recovered.
    #[serde(with = "b64")]
    #[schemars(schema_with = "schema::secret")]
    pub secret: Vec<u8>,
}

/// Result of activation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivateResponse {
    /// The agent now registered.
    pub agent_id: String,
    /// Issuer subject of the EK certificate the AK is bound to, when there was one.
    pub ek_issuer: Option<String>,
}

/// Asks for a nonce.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NonceRequest {
    /// The registered agent that will use it.
    #[schemars(schema_with = "schema::id")]
    pub agent_id: String,
}

/// A single-use nonce.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NonceResponse {
    /// 32 bytes, hex.
    pub nonce: String,
    /// Unix seconds after which the verifier refuses it.
    pub expires_at: u64,
}

/// TPM evidence for one attestation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TpmEvidence {
    /// TPMS_ATTEST as the TPM returned it (`tpm2_quote -m`).
    #[serde(with = "b64")]
    #[schemars(schema_with = "schema::tpm_structure")]
    pub quote: Vec<u8>,
    /// TPMT_SIGNATURE over it (`tpm2_quote -s`).
    #[serde(with = "b64")]
    #[schemars(schema_with = "schema::tpm_structure")]
    pub signature: Vec<u8>,
    /// PCR values the agent read, per bank name then PCR index, hex.
    #[schemars(schema_with = "schema::pcrs")]
    pub pcrs: BTreeMap<String, BTreeMap<u32, String>>,
    /// The firmware's TCG event log (binary_bios_measurements), if any.
    #[serde(default, with = "b64::opt", skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::log_opt")]
    pub event_log: Option<Vec<u8>>,
    /// The runtime measurement log of a sealed build (TCG Canonical Event
    /// Log, JSON; see `cel`), replayed against the runtime PCR.
    #[serde(default, with = "b64::opt", skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::log_opt")]
    pub runtime_log: Option<Vec<u8>>,
}

/// The role of a certificate an SEV-SNP platform supplies with its report.
///
/// The GUIDs of the extended-report certificate table (GHCB specification,
/// AMD pub. 56421, §4.1.8.1) map onto these kinds.
#[derive(
    Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SnpCertKind {
    /// AMD Root Key (self-signed, RSA-4096).
    Ark,
    /// AMD SEV Key (signs VCEKs).
    Ask,
    /// AMD SEV VLEK key (signs VLEKs).
    Asvk,
    /// Versioned Chip Endorsement Key (per chip and TCB).
    Vcek,
    /// Versioned Loaded Endorsement Key (per cloud provider and TCB).
    Vlek,
}

impl SnpCertKind {
    /// Lower-case name (`vcek`, …), as in the JSON form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ark => "ark",
            Self::Ask => "ask",
            Self::Asvk => "asvk",
            Self::Vcek => "vcek",
            Self::Vlek => "vlek",
        }
    }
}

/// One certificate supplied with an SEV-SNP report, DER.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SnpCertificate {
    /// What the platform says the certificate is (a claim, not trusted: the
    /// verifier checks the chain against AMD's built-in roots).
    pub kind: SnpCertKind,
    /// The certificate, DER.
    #[serde(with = "b64")]
    #[schemars(schema_with = "schema::certificate")]
    pub der: Vec<u8>,
}

/// SEV-SNP evidence for one attestation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SnpEvidence {
    /// ATTESTATION_REPORT as the firmware returned it (1184 bytes; SEV-SNP
    /// Firmware ABI, AMD pub. 56860, Table 23). REPORT_DATA = binding
    /// digest || 32 zero bytes.
    #[serde(with = "b64")]
    #[schemars(schema_with = "schema::report")]
    pub report: Vec<u8>,
    /// Certificates the host supplied with the report (extended report /
    /// configfs-tsm auxblob): usually the VCEK or VLEK, sometimes ASK and ARK.
    /// May be empty when the verifier holds the VCEK in its collateral store.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "schema::snp_certificates")]
    pub certificates: Vec<SnpCertificate>,
}

/// Evidence of an Intel TDX trust domain.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TdxEvidence {
    /// The TD quote (version 4 or 5) as the quoting enclave returned it
    /// (configfs-tsm `outblob`), its certification data (PCK chain) inside.
    /// REPORT_DATA = binding digest || 32 zero bytes.
    #[serde(with = "b64")]
    #[schemars(schema_with = "schema::quote")]
    pub quote: Vec<u8>,
    /// The CCEL log area (`/sys/firmware/acpi/tables/data/CCEL`): the
    /// firmware's and boot loader's measurements into RTMR0–2, replayed
    /// against the quote.
    #[serde(default, with = "b64::opt", skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::log_opt")]
    pub ccel: Option<Vec<u8>>,
    /// The runtime measurement log of a sealed build (TCG Canonical Event
    /// Log, JSON, SHA-384 digests; see `cel`), replayed against RTMR3.
    #[serde(default, with = "b64::opt", skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::log_opt")]
    pub runtime_log: Option<Vec<u8>>,
}

/// Evidence, one variant per platform.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Evidence {
    /// TPM 2.0 quote and logs.
    Tpm(TpmEvidence),
    /// AMD SEV-SNP attestation report and the certificates supplied with it.
    Snp(SnpEvidence),
    /// Azure confidential VM: HCL report vouching for a vTPM, and its quote.
    Azure(AzureEvidence),
    /// Intel TDX: TD quote, CCEL event log and the sealed build's RTMR3 log.
    Tdx(TdxEvidence),
}

impl Evidence {
    /// The platform that produced this evidence.
    pub fn platform(&self) -> crate::Platform {
        match self {
            Self::Tpm(_) => crate::Platform::Tpm,
            Self::Snp(_) => crate::Platform::Snp,
            Self::Azure(_) => crate::Platform::Azure,
            Self::Tdx(_) => crate::Platform::Tdx,
        }
    }

    /// The evidence's own field bounds ([`bounds`]).
    pub fn bounds(&self) -> &dyn bounds::BoundedEvidence {
        match self {
            Self::Tpm(e) => e,
            Self::Snp(e) => e,
            Self::Azure(e) => e,
            Self::Tdx(e) => e,
        }
    }
}

/// Evidence of an Azure confidential VM on SEV-SNP or TDX: the HCL report
/// the paravisor wrote to vTPM NV index 0x01400001 (an SNP report or a TDX
/// TD report whose REPORT_DATA binds the HCL variable data, which carries the
/// vTPM AK), the certificates supplied with an SNP report or the TD quote of
/// the TD report, and a quote by that AK (persistent handle 0x81000003)
/// whose qualifying data is the binding digest, with the PCR values and logs
/// as for any TPM.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AzureEvidence {
    /// The HCL report bytes as read from NV (padding included).
    #[serde(with = "b64")]
    #[schemars(schema_with = "schema::report")]
    pub hcl_report: Vec<u8>,
    /// VCEK/VLEK (and optionally ASK/ARK) certificates, DER (SEV-SNP).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "schema::snp_certificates")]
    pub certificates: Vec<SnpCertificate>,
    /// TDX only: the DCAP TD quote (version 4 or 5) of the HCL report's TD
    /// report, as the host's quoting service returned it (Azure IMDS
    /// `/acc/tdquote`). Absent for SEV-SNP.
    #[serde(default, with = "b64::opt", skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::quote_opt")]
    pub td_quote: Option<Vec<u8>>,
    /// The vTPM quote, PCR values, firmware event log and runtime log.
    pub tpm: TpmEvidence,
}

/// Evidence plus the binding inputs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AttestRequest {
    /// The registered agent.
    #[schemars(schema_with = "schema::id")]
    pub agent_id: String,
    /// The nonce from [`NonceResponse`], hex.
    #[schemars(schema_with = "schema::hex")]
    pub nonce: String,
    /// Serialized HPKE public key (DHKEM(X25519, HKDF-SHA256)) to seal keys to.
    #[serde(with = "b64")]
    #[schemars(schema_with = "schema::public_key")]
    pub ephemeral_public_key: Vec<u8>,
    /// SHA-256 of the build statement, hex, when the attestation is for a build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::hex_opt")]
    pub statement_digest: Option<String>,
    /// The build statement itself (the exact DSSE payload bytes), so the
    /// verifier can apply its statement policy; its SHA-256 must equal
    /// `statement_digest`.
    #[serde(default, with = "b64::opt", skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::statement_opt")]
    pub statement: Option<Vec<u8>>,
    /// The evidence.
    pub evidence: Evidence,
    /// Keys wanted: absent = every key the policy grants; a list = only those
    /// (an empty list appraises without releasing anything, e.g. a build's
    /// preflight attestation). A listed key the policy does not grant is a
    /// rejection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::key_ids_opt")]
    pub keys: Option<Vec<String>>,
}

/// Appraisal verdict.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every check passed and the policy matched.
    Accepted,
    /// At least one check failed; `reasons` says which.
    Rejected,
}

/// One reason for a verdict, for people and for scripts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    /// Stable machine name of the check (`nonce`, `quote_signature`, `pcr_policy`, …).
    pub check: String,
    /// What the check expected, when it has one value to show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// What it saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<String>,
    /// The whole sentence.
    pub message: String,
    /// The key this reason is about, when it explains why one key was not
    /// granted (statement rules, disabled or missing keys, key requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl Reason {
    /// The same reason, naming the key it is about.
    pub fn for_key(mut self, key: &str) -> Self {
        self.key = Some(key.to_string());
        self
    }

    /// A reason for `check` with optional expected/observed values.
    pub fn new(
        check: &str,
        expected: Option<String>,
        observed: Option<String>,
        message: String,
    ) -> Self {
        Self {
            check: check.to_string(),
            expected,
            observed,
            message,
            key: None,
        }
    }
}

/// A key sealed to the agent's ephemeral HPKE key (RFC 9180 single-shot, base mode).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SealedKey {
    /// The key's identifier in the verifier.
    pub key_id: String,
    /// `ed25519`, `ecdsa-p256` or `ecdsa-p384`.
    pub algorithm: String,
    /// SubjectPublicKeyInfo PEM of the released key.
    pub public_key_pem: String,
    /// HPKE encapsulated key.
    #[serde(with = "b64")]
    #[schemars(schema_with = "schema::base64_any")]
    pub enc: Vec<u8>,
    /// HPKE ciphertext of the PKCS#8 DER private key.
    #[serde(with = "b64")]
    #[schemars(schema_with = "schema::base64_any")]
    pub ciphertext: Vec<u8>,
}

/// The verifier's answer to an attestation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AttestResponse {
    /// Accepted or rejected.
    pub verdict: Verdict,
    /// Why; empty when accepted.
    pub reasons: Vec<Reason>,
    /// The EAR attestation result as COSE_Sign1 (present on both verdicts).
    #[serde(with = "b64")]
    #[schemars(schema_with = "schema::base64_any")]
    pub ear: Vec<u8>,
    /// Keys the policy granted; empty when rejected.
    pub keys: Vec<SealedKey>,
}

/// Body of every error response.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct ErrorBody {
    /// Stable machine name of the error class.
    pub error: String,
    /// Explanation for a person.
    pub message: String,
}

/// HPKE `info` for sealing a released key; the key id follows it.
pub const KEY_RELEASE_INFO: &[u8] = b"sealbuild/key-release/v1\0";
