//! The build statement: an in-toto Statement whose predicate is SLSA
//! Provenance.
//!
//! Specifications:
//! * in-toto Attestation Framework v1.0, `spec/v1/statement.md` (the
//!   Statement layer: `_type`, `subject`, `predicateType`, `predicate`),
//!   `spec/v1/resource_descriptor.md` (ResourceDescriptor) and
//!   `spec/v1/digest_set.md` (digest algorithm names, lower-case hex).
//! * SLSA v1.0, "Provenance" (`https://slsa.dev/provenance/v1`): predicate
//!   `buildDefinition` {`buildType`, `externalParameters`,
//!   `internalParameters`, `resolvedDependencies`} and `runDetails`
//!   {`builder` {`id`, `version`, `builderDependencies`}, `metadata`
//!   {`invocationId`, `startedOn`, `finishedOn`}, `byproducts`}.
//!
//! # What is signed and hashed
//! [`Statement::to_payload`] is compact JSON (no whitespace): the Statement's
//! and subjects' members in the order of the types below, the predicate (a
//! JSON value) with the members of every object sorted by name. Those exact bytes are the
//! DSSE payload ([`crate::dsse`]) and their SHA-256, [`statement_digest`], is
//! what the evidence binding carries ([`crate::binding`]: flag `0x01` followed
//! by this digest). A verifier hashes the payload bytes it received, never a
//! re-serialization.
//!
//! # Decisions
//! * **Strict reading.** The in-toto parsing rules ask consumers to ignore
//!   unknown fields. sealbuild produces and consumes its own statements and
//!   refuses what it does not understand: unknown members of the Statement, a
//!   ResourceDescriptor or the Provenance predicate, duplicate member names
//!   anywhere ([`strict_json`]), payloads over [`MAX_STATEMENT_LEN`].
//!   Absent, `null` and empty optional fields mean the same (in-toto rule).
//! * **Subjects** must each have a `name` (unique within the statement) and a
//!   `sha256` digest of 64 lower-case hex digits; other digest algorithms may
//!   accompany it. Every ResourceDescriptor needs a digest, a uri or content;
//!   known digest algorithms must have the right hex length.
//! * **Provenance** requires `buildType`, an object `externalParameters` and
//!   `runDetails.builder.id` (the fields SLSA v1.0 marks REQUIRED);
//!   `internalParameters`, when present, must be an object; timestamps must be
//!   RFC 3339 date-times.

pub(crate) mod strict_json;
mod validate;

pub use validate::format_rfc3339_utc;

use crate::api::b64;
use crate::error::FormatError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::sorted_json as sorted;
use std::collections::{BTreeMap, BTreeSet};

/// `_type` of an in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";

/// `predicateType` of SLSA Provenance v1.
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";

/// `buildType` of a sealbuild sealed build.
pub const SEALBUILD_BUILD_TYPE: &str = "https://sealbuild.invalid/build-types/sealed-build/v1";

/// Largest statement payload accepted, in bytes.
pub const MAX_STATEMENT_LEN: usize = 4 * 1024 * 1024;

/// SHA-256 of the statement payload bytes: the `statement_digest` that the
/// evidence binding ([`crate::binding::Binding::statement_digest`]), the
/// runtime measurement log's `statement` event and the EAR carry.
pub fn statement_digest(payload: &[u8]) -> [u8; 32] {
    crate::crypto::sha256(payload)
}

/// An in-toto Statement v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    /// Always [`STATEMENT_TYPE`].
    #[serde(rename = "_type")]
    pub type_: String,
    /// The artifacts the statement is about.
    pub subject: Vec<ResourceDescriptor>,
    /// URI naming the predicate's schema.
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The predicate (a JSON object; `null` when absent).
    #[serde(
        default,
        skip_serializing_if = "Value::is_null",
        serialize_with = "sorted::value"
    )]
    pub predicate: Value,
}

/// An in-toto ResourceDescriptor v1. `None` and empty fields are omitted
/// when serializing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceDescriptor {
    /// Machine-readable identifier (file name, package name, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// URI identifying the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// Algorithm name → lower-case hex digest. May be empty only when `uri`
    /// or `content` is present.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub digest: BTreeMap<String, String>,
    /// The resource's bytes (standard base64 in JSON).
    #[serde(default, with = "b64::opt", skip_serializing_if = "Option::is_none")]
    pub content: Option<Vec<u8>>,
    /// Where the resource can be downloaded.
    #[serde(
        rename = "downloadLocation",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub download_location: Option<String>,
    /// Media type of the resource.
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Additional information.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "sorted::opt_map"
    )]
    pub annotations: Option<Map<String, Value>>,
}

impl ResourceDescriptor {
    /// A named artifact with its SHA-256: the shape every subject has.
    pub fn artifact(name: impl Into<String>, sha256: &[u8; 32]) -> Self {
        let mut digest = BTreeMap::new();
        digest.insert("sha256".to_string(), hex::encode(sha256));
        Self {
            name: Some(name.into()),
            digest,
            ..Self::default()
        }
    }

    /// A resource identified by URI and digest set (a dependency).
    pub fn uri_with_digest(uri: impl Into<String>, digest: BTreeMap<String, String>) -> Self {
        Self {
            uri: Some(uri.into()),
            digest,
            ..Self::default()
        }
    }

    /// The `sha256` digest, when present and well formed.
    pub fn sha256(&self) -> Option<[u8; 32]> {
        let h = self.digest.get("sha256")?;
        if !validate::is_lower_hex(h) {
            return None;
        }
        hex::decode(h).ok()?.try_into().ok()
    }
}

/// SLSA Provenance v1 predicate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// What the build was asked to do.
    #[serde(rename = "buildDefinition")]
    pub build_definition: BuildDefinition,
    /// What ran it.
    #[serde(rename = "runDetails")]
    pub run_details: RunDetails,
}

/// SLSA `BuildDefinition`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildDefinition {
    /// URI of the build type (for sealbuild: [`SEALBUILD_BUILD_TYPE`]).
    #[serde(rename = "buildType")]
    pub build_type: String,
    /// Parameters under the control of the requester (a JSON object).
    #[serde(rename = "externalParameters")]
    pub external_parameters: Value,
    /// Parameters the builder chose (a JSON object), if any.
    #[serde(
        rename = "internalParameters",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub internal_parameters: Option<Value>,
    /// Inputs fetched during the build.
    #[serde(
        rename = "resolvedDependencies",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub resolved_dependencies: Vec<ResourceDescriptor>,
}

/// SLSA `RunDetails`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunDetails {
    /// The trusted build platform.
    pub builder: Builder,
    /// Invocation metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BuildMetadata>,
    /// Additional artifacts produced (logs, measurement logs, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub byproducts: Option<Vec<ResourceDescriptor>>,
}

/// SLSA `Builder`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Builder {
    /// URI identifying the build platform.
    pub id: String,
    /// Component name → version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<BTreeMap<String, String>>,
    /// Dependencies of the build platform itself.
    #[serde(
        rename = "builderDependencies",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub builder_dependencies: Option<Vec<ResourceDescriptor>>,
}

/// SLSA `BuildMetadata`; times are RFC 3339 strings (see [`format_rfc3339_utc`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildMetadata {
    /// Identifier of this build invocation.
    #[serde(
        rename = "invocationId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub invocation_id: Option<String>,
    /// When the build started.
    #[serde(rename = "startedOn", default, skip_serializing_if = "Option::is_none")]
    pub started_on: Option<String>,
    /// When the build finished.
    #[serde(
        rename = "finishedOn",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub finished_on: Option<String>,
}

impl Statement {
    /// A Statement about `subjects` with SLSA Provenance v1 as predicate.
    pub fn new_provenance(subjects: Vec<ResourceDescriptor>, provenance: &Provenance) -> Self {
        // Serializing these types cannot fail: every map key is a string and
        // no Serialize impl returns an error. A Null predicate would in any
        // case be refused by `provenance()`.
        let predicate = serde_json::to_value(provenance).unwrap_or(Value::Null);
        Self {
            type_: STATEMENT_TYPE.to_string(),
            subject: subjects,
            predicate_type: SLSA_PROVENANCE_V1.to_string(),
            predicate,
        }
    }

    /// The compact JSON bytes that are signed (DSSE payload) and hashed
    /// ([`statement_digest`]).
    pub fn to_payload(&self) -> Vec<u8> {
        // Cannot fail for these types (string keys only); an empty payload
        // would be refused by `parse`.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses and checks a statement payload (see the module docs for the rules).
    pub fn parse(payload: &[u8]) -> Result<Statement, FormatError> {
        let st: Statement = strict_json::parse(payload, "in-toto Statement", MAX_STATEMENT_LEN)?;
        if st.type_ != STATEMENT_TYPE {
            return Err(FormatError::unexpected("_type", STATEMENT_TYPE, &st.type_));
        }
        if st.subject.is_empty() {
            return Err(FormatError::unexpected(
                "subject",
                "at least one subject",
                "an empty list",
            ));
        }
        let mut names = BTreeSet::new();
        for (i, s) in st.subject.iter().enumerate() {
            let name = match s.name.as_deref() {
                Some(n) if !n.is_empty() => n,
                _ => {
                    return Err(FormatError::unexpected(
                        "subject.name",
                        "a name for every subject",
                        format!("subject {i} has none"),
                    ))
                }
            };
            let place = format!("subject {i} ({name:?})");
            match s.digest.get("sha256") {
                Some(_) => {}
                None => {
                    return Err(FormatError::unexpected(
                        "subject.digest.sha256",
                        "a sha256 digest for every subject",
                        format!("none in {place}"),
                    ))
                }
            }
            validate::resource_descriptor(s, "subject.digest", &place)?;
            if !names.insert(name) {
                return Err(FormatError::unexpected(
                    "subject.name",
                    "unique subject names",
                    format!("{name:?} twice"),
                ));
            }
        }
        if st.predicate_type.is_empty() {
            return Err(FormatError::unexpected(
                "predicateType",
                "a predicate type URI",
                "an empty string",
            ));
        }
        if !(st.predicate.is_object() || st.predicate.is_null()) {
            return Err(FormatError::unexpected(
                "predicate",
                "a JSON object",
                json_kind(&st.predicate),
            ));
        }
        Ok(st)
    }

    /// The SLSA Provenance v1 predicate, checked (see the module docs).
    pub fn provenance(&self) -> Result<Provenance, FormatError> {
        if self.predicate_type != SLSA_PROVENANCE_V1 {
            return Err(FormatError::unexpected(
                "predicateType",
                SLSA_PROVENANCE_V1,
                &self.predicate_type,
            ));
        }
        let p: Provenance =
            serde_json::from_value(self.predicate.clone()).map_err(|e| FormatError::Encoding {
                what: "SLSA Provenance v1 predicate",
                reason: e.to_string(),
            })?;
        p.check()?;
        Ok(p)
    }

    /// The subjects' names and SHA-256 digests, in order. Only meaningful on
    /// a statement that came through [`Statement::parse`].
    pub fn subject_digests(&self) -> Vec<(&str, [u8; 32])> {
        self.subject
            .iter()
            .filter_map(|s| Some((s.name.as_deref()?, s.sha256()?)))
            .collect()
    }
}

impl Provenance {
    /// Checks the fields SLSA v1.0 requires and the shapes it prescribes.
    pub fn check(&self) -> Result<(), FormatError> {
        let bd = &self.build_definition;
        if bd.build_type.is_empty() {
            return Err(FormatError::unexpected(
                "buildDefinition.buildType",
                "a build type URI",
                "an empty string",
            ));
        }
        if !bd.external_parameters.is_object() {
            return Err(FormatError::unexpected(
                "buildDefinition.externalParameters",
                "a JSON object",
                json_kind(&bd.external_parameters),
            ));
        }
        if let Some(ip) = &bd.internal_parameters {
            if !(ip.is_object() || ip.is_null()) {
                return Err(FormatError::unexpected(
                    "buildDefinition.internalParameters",
                    "a JSON object",
                    json_kind(ip),
                ));
            }
        }
        validate::resource_descriptors(
            &bd.resolved_dependencies,
            "buildDefinition.resolvedDependencies",
        )?;
        let rd = &self.run_details;
        if rd.builder.id.is_empty() {
            return Err(FormatError::unexpected(
                "runDetails.builder.id",
                "a builder id URI",
                "an empty string",
            ));
        }
        if let Some(deps) = &rd.builder.builder_dependencies {
            validate::resource_descriptors(deps, "runDetails.builder.builderDependencies")?;
        }
        if let Some(b) = &rd.byproducts {
            validate::resource_descriptors(b, "runDetails.byproducts")?;
        }
        if let Some(m) = &rd.metadata {
            if let Some(t) = &m.started_on {
                validate::rfc3339("runDetails.metadata.startedOn", t)?;
            }
            if let Some(t) = &m.finished_on {
                validate::rfc3339("runDetails.metadata.finishedOn", t)?;
            }
        }
        Ok(())
    }
}

/// in-toto: "unset, null and empty field values MUST be interpreted
/// equivalently".
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
