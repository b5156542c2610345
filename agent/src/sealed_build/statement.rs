//! The statement of a sealed build: an in-toto Statement v1 whose predicate
//! is SLSA Provenance v1 (common::intoto), from what the earlier steps found.

use crate::build::{HashedArtifact, SourceIdentity};
use sealbuild_common::intoto::{
    BuildDefinition, BuildMetadata, Builder, Provenance, ResourceDescriptor, RunDetails, Statement,
    SEALBUILD_BUILD_TYPE,
};
use sealbuild_common::Platform;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::time::SystemTime;

/// Everything the statement records.
#[derive(Debug, Clone, Copy)]
pub struct StatementInput<'a> {
    /// What was built.
    pub source: &'a SourceIdentity,
    /// The build command.
    pub command: &'a [String],
    /// The artefact globs as given.
    pub artifact_globs: &'a [String],
    /// The recorded environment variables.
    pub environment: &'a BTreeMap<String, String>,
    /// The platform the evidence comes from.
    pub platform: Platform,
    /// What the platform's collector records besides its name
    /// ([`crate::evidence::EvidenceCollector::build_parameters`]).
    pub platform_parameters: &'a serde_json::Map<String, serde_json::Value>,
    /// The reference sets the preflight EAR names (the builder's identity).
    pub references: &'a [String],
    /// The preflight EAR (COSE_Sign1), recorded as a byproduct by digest.
    pub preflight_ear: &'a [u8],
    /// Random id of this build.
    pub invocation_id: &'a str,
    /// When the sealed build started (before the preflight).
    pub started_on: SystemTime,
    /// When the command ended.
    pub finished_on: SystemTime,
    /// The outputs, hashed.
    pub subjects: &'a [HashedArtifact],
}

/// A statement ready to sign: the exact DSSE payload and its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedStatement {
    /// The DSSE payload (JSON of the in-toto Statement).
    pub payload: Vec<u8>,
    /// SHA-256 of `payload`: what the evidence binds and PCR 23 records.
    pub digest: [u8; 32],
}

fn rfc3339(t: SystemTime) -> String {
    sealbuild_common::intoto::format_rfc3339_utc(
        t.duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    )
}

fn sha256_set(bytes_hex: String) -> BTreeMap<String, String> {
    BTreeMap::from([("sha256".to_string(), bytes_hex)])
}

/// The builder id: `urn:sealbuild:builder:<platform>:<reference sets joined
/// by +>` (`unmatched` when the EAR names none).
pub fn builder_id(platform: Platform, references: &[String]) -> String {
    format!(
        "urn:sealbuild:builder:{}:{}",
        platform.name(),
        if references.is_empty() {
            "unmatched".to_string()
        } else {
            references.join("+")
        }
    )
}

/// The statement of the build `input` describes.
pub fn statement(input: &StatementInput<'_>) -> PreparedStatement {
    let subjects: Vec<ResourceDescriptor> = input
        .subjects
        .iter()
        .map(|a| ResourceDescriptor {
            name: Some(a.name.clone()),
            digest: sha256_set(hex::encode(a.sha256)),
            ..ResourceDescriptor::default()
        })
        .collect();
    let source_digest: BTreeMap<String, String> = input
        .source
        .digest_set()
        .into_iter()
        .map(|(a, d)| (a.to_string(), d))
        .collect();
    let mut internal = serde_json::Map::new();
    internal.insert("environment".into(), serde_json::json!(input.environment));
    internal.insert("platform".into(), input.platform.name().into());
    internal.extend(
        input
            .platform_parameters
            .iter()
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    let provenance = Provenance {
        build_definition: BuildDefinition {
            build_type: SEALBUILD_BUILD_TYPE.to_string(),
            external_parameters: serde_json::json!({
                "command": input.command,
                "source": input.source.uri(),
                "artifacts": input.artifact_globs,
            }),
            internal_parameters: Some(serde_json::Value::Object(internal)),
            resolved_dependencies: vec![ResourceDescriptor {
                name: Some("source".into()),
                uri: Some(input.source.uri()),
                digest: source_digest,
                ..ResourceDescriptor::default()
            }],
        },
        run_details: RunDetails {
            builder: Builder {
                id: builder_id(input.platform, input.references),
                version: Some(BTreeMap::from([(
                    "sealbuild-agent".to_string(),
                    env!("CARGO_PKG_VERSION").to_string(),
                )])),
                builder_dependencies: None,
            },
            metadata: Some(BuildMetadata {
                invocation_id: Some(input.invocation_id.to_string()),
                started_on: Some(rfc3339(input.started_on)),
                finished_on: Some(rfc3339(input.finished_on)),
            }),
            byproducts: Some(vec![ResourceDescriptor {
                name: Some("preflight-attestation-result".into()),
                digest: sha256_set(hex::encode(Sha256::digest(input.preflight_ear))),
                media_type: Some("application/cose; cose-type=\"cose-sign1\"".into()),
                ..ResourceDescriptor::default()
            }]),
        },
    };
    let payload = Statement::new_provenance(subjects, &provenance).to_payload();
    let digest = Sha256::digest(&payload).into();
    PreparedStatement { payload, digest }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::TreeSource;

    #[test]
    fn statement_records_platform_parameters_and_builder() {
        let source = SourceIdentity::Tree(TreeSource {
            path: "/src/hello".into(),
            sha256: [7; 32],
            entries: 2,
        });
        let env = BTreeMap::from([("CC".to_string(), "gcc".to_string())]);
        let mut params = serde_json::Map::new();
        params.insert("runtimePcr".into(), 23.into());
        let subjects = vec![HashedArtifact {
            name: "out/hello".into(),
            path: "/out/artifacts/out/hello".into(),
            sha256: [1; 32],
            size: 3,
        }];
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
        let input = StatementInput {
            source: &source,
            command: &["make".to_string()],
            artifact_globs: &["out/*".to_string()],
            environment: &env,
            platform: Platform::Tpm,
            platform_parameters: &params,
            references: &["ci-vm".to_string(), "other".to_string()],
            preflight_ear: b"ear",
            invocation_id: "00ff",
            started_on: t,
            finished_on: t,
            subjects: &subjects,
        };
        let prepared = statement(&input);
        assert_eq!(
            prepared.digest,
            <[u8; 32]>::from(Sha256::digest(&prepared.payload))
        );
        let st = Statement::parse(&prepared.payload).unwrap();
        let prov = st.provenance().unwrap();
        assert_eq!(
            prov.run_details.builder.id,
            "urn:sealbuild:builder:tpm:ci-vm+other"
        );
        let internal = prov.build_definition.internal_parameters.unwrap();
        assert_eq!(internal["platform"], "tpm");
        assert_eq!(internal["runtimePcr"], 23);
        assert_eq!(internal["environment"]["CC"], "gcc");
        assert_eq!(
            prov.run_details.byproducts.unwrap()[0].digest["sha256"],
            hex::encode(Sha256::digest(b"ear"))
        );
        // The same input gives the same bytes (what the evidence binds).
        assert_eq!(statement(&input), prepared);
        assert_eq!(
            builder_id(Platform::Snp, &[]),
            "urn:sealbuild:builder:snp:unmatched"
        );
    }
}
