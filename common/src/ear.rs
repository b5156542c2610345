//! Attestation results as EAR (EAT Attestation Results,
//! draft-ietf-rats-ear-04): the claims and their CBOR decoding, shared by
//! the verifier (which signs and verifies EARs, `sealbuild-verifier-core::ear`)
//! and the agent (which reads the reference sets it matched, without
//! verifying the signature).
//!
//! CBOR labels (draft-ietf-rats-ear-04 §4.2, RFC 8392, RFC 9711):
//!
//! | claim | label |
//! |---|---|
//! | iat | 6 |
//! | eat_nonce | 10 |
//! | eat_profile | 265 |
//! | submods | 266 |
//! | ear.status | 1000 |
//! | ear.trustworthiness-vector | 1001 |
//! | ear.appraisal-policy-id | 1003 |
//! | ear.verifier-id | 1004 (build = 0, developer = 1) |
//!
//! Status tiers (draft-ietf-rats-ar4si): none 0, affirming 2, warning 32,
//! contraindicated 96. sealbuild adds text-labelled claims in each submodule:
//! `sealbuild.agent-id`, `sealbuild.binding`, `sealbuild.references`,
//! `sealbuild.evidence-digest` and, for builds, `sealbuild.statement-digest`.
//!
//! The decoder reads the subset of CBOR (RFC 8949) that EARs and COSE_Sign1
//! (RFC 9052 §4.2) use, through [`Reader`]: definite-length items only
//! (indefinite lengths are refused), at most [`MAX_DEPTH`] levels of nesting,
//! no trailing bytes, text must be UTF-8, and a claim that appears twice in
//! one map is refused. Unknown claims are skipped.

mod cbor;

use crate::error::FormatError;
use cbor::{decode_all, Claims, Item, Key, NULL};
use std::collections::BTreeMap;

/// The EAT profile of EAR.
pub const EAR_PROFILE: &str = "tag:github.com,2023:veraison/ear";

/// Deepest nesting of CBOR arrays, maps and tags the decoder accepts (an
/// EAR in a COSE_Sign1 needs five).
pub const MAX_DEPTH: usize = 16;

/// CBOR tag of a COSE_Sign1 (RFC 9052 §2).
const COSE_SIGN1_TAG: u64 = 18;

/// AR4SI trust tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// No claim.
    None,
    /// Evidence verified and matched policy.
    Affirming,
    /// Verified with reservations.
    Warning,
    /// Evidence contradicts policy or failed verification.
    Contraindicated,
}

impl Status {
    /// CBOR value.
    pub fn code(self) -> i64 {
        match self {
            Self::None => 0,
            Self::Affirming => 2,
            Self::Warning => 32,
            Self::Contraindicated => 96,
        }
    }

    /// From the CBOR value.
    pub fn from_code(c: i64) -> Option<Self> {
        match c {
            0 => Some(Self::None),
            2 => Some(Self::Affirming),
            32 => Some(Self::Warning),
            96 => Some(Self::Contraindicated),
            _ => None,
        }
    }

    /// Name in JSON renderings.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Affirming => "affirming",
            Self::Warning => "warning",
            Self::Contraindicated => "contraindicated",
        }
    }
}

/// One attester's appraisal (an EAR submodule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submodule {
    /// Overall tier.
    pub status: Status,
    /// Trustworthiness vector: claim index (0..=7) → AR4SI value.
    pub trust_vector: BTreeMap<u8, i8>,
    /// Policy id.
    pub policy_id: String,
    /// Agent identifier.
    pub agent_id: String,
    /// Binding digest the evidence carried.
    pub binding: Vec<u8>,
    /// SHA-256 of the evidence as received.
    pub evidence_digest: Vec<u8>,
    /// Matched reference sets.
    pub references: Vec<String>,
    /// Statement digest, for builds.
    pub statement_digest: Option<Vec<u8>>,
}

/// The claims of an attestation result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ear {
    /// Issued-at, Unix seconds.
    pub iat: u64,
    /// The verifier nonce the evidence answered.
    pub nonce: Vec<u8>,
    /// Verifier software build.
    pub verifier_build: String,
    /// Verifier developer.
    pub verifier_developer: String,
    /// Submodules by name (`tpm`, `snp`, `azure`).
    pub submods: BTreeMap<String, Submodule>,
}

impl Ear {
    /// Decodes a claims set (the payload of the EAR's COSE_Sign1).
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, FormatError> {
        let item = decode_all(bytes, "EAR claims-set")?;
        Self::from_item(&item)
    }

    /// Decodes the claims of a COSE_Sign1-wrapped EAR **without verifying
    /// its signature**: for the attester naming itself after the reference
    /// sets it matched. Relying parties verify the signature
    /// (`sealbuild-verifier-core::ear::Ear::verify`).
    pub fn from_cose_unverified(cose: &[u8]) -> Result<Self, FormatError> {
        Self::from_cbor(cose_sign1_payload(cose)?)
    }

    /// Every matched reference set, submodule by submodule (in name order).
    pub fn references(&self) -> Vec<String> {
        self.submods
            .values()
            .flat_map(|s| s.references.iter().cloned())
            .collect()
    }

    fn from_item(item: &Item<'_>) -> Result<Self, FormatError> {
        let m = Claims::of(item, "EAR claims-set")?;
        let profile = m.text(Key::Int(265), "eat_profile")?;
        if profile != EAR_PROFILE {
            return Err(FormatError::unexpected("eat_profile", EAR_PROFILE, profile));
        }
        let iat = u64::try_from(m.int(Key::Int(6), "iat")?)
            .map_err(|_| FormatError::unexpected("iat", "a non-negative time", "a negative one"))?;
        let vid = Claims::of(
            m.required(Key::Int(1004), "ear.verifier-id")?,
            "ear.verifier-id",
        )?;
        let mut submods = BTreeMap::new();
        if let Some(s) = m.get(Key::Int(266), "submods")? {
            for (k, v) in Claims::of(s, "submods")?.entries {
                let Item::Text(name) = k else {
                    return Err(FormatError::unexpected(
                        "submods",
                        "text submodule names",
                        k.kind(),
                    ));
                };
                if submods
                    .insert(name.to_string(), Submodule::from_item(v)?)
                    .is_some()
                {
                    return Err(FormatError::unexpected(
                        "submods",
                        "each submodule once",
                        format!("{name:?} twice"),
                    ));
                }
            }
        }
        Ok(Self {
            iat,
            nonce: m.bytes(Key::Int(10), "eat_nonce")?.to_vec(),
            verifier_build: vid.text(Key::Int(0), "ear.verifier-id.build")?,
            verifier_developer: vid.text(Key::Int(1), "ear.verifier-id.developer")?,
            submods,
        })
    }
}

impl Submodule {
    fn from_item(item: &Item<'_>) -> Result<Self, FormatError> {
        let m = Claims::of(item, "submodule")?;
        let code = m.int(Key::Int(1000), "ear.status")?;
        let status = Status::from_code(code)
            .ok_or_else(|| FormatError::unexpected("ear.status", "0, 2, 32 or 96", code))?;
        let mut trust_vector = BTreeMap::new();
        if let Some(tv) = m.get(Key::Int(1001), "ear.trustworthiness-vector")? {
            const TV: &str = "ear.trustworthiness-vector";
            for (k, v) in Claims::of(tv, TV)?.entries {
                let k = k.int(TV)?;
                let v = v.int(TV)?;
                let k = u8::try_from(k)
                    .map_err(|_| FormatError::unexpected(TV, "a claim index 0..=255", k))?;
                let v = i8::try_from(v)
                    .map_err(|_| FormatError::unexpected(TV, "a value -128..=127", v))?;
                if trust_vector.insert(k, v).is_some() {
                    return Err(FormatError::unexpected(
                        TV,
                        "each claim once",
                        format!("{k} twice"),
                    ));
                }
            }
        }
        let references = match m.get(Key::Text("sealbuild.references"), "sealbuild.references")? {
            None => Vec::new(),
            Some(Item::Array(a)) => a
                .iter()
                .map(|x| match x {
                    Item::Text(s) => Ok((*s).to_string()),
                    other => Err(FormatError::unexpected(
                        "sealbuild.references",
                        "text",
                        other.kind(),
                    )),
                })
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(FormatError::unexpected(
                    "sealbuild.references",
                    "an array",
                    other.kind(),
                ))
            }
        };
        let statement_digest = match m.get(
            Key::Text("sealbuild.statement-digest"),
            "sealbuild.statement-digest",
        )? {
            None => None,
            Some(Item::Bytes(b)) => Some(b.to_vec()),
            Some(other) => {
                return Err(FormatError::unexpected(
                    "sealbuild.statement-digest",
                    "a byte string",
                    other.kind(),
                ))
            }
        };
        Ok(Self {
            status,
            trust_vector,
            policy_id: m.text(Key::Int(1003), "ear.appraisal-policy-id")?,
            agent_id: m.text(Key::Text("sealbuild.agent-id"), "sealbuild.agent-id")?,
            binding: m
                .bytes(Key::Text("sealbuild.binding"), "sealbuild.binding")?
                .to_vec(),
            evidence_digest: m
                .bytes(
                    Key::Text("sealbuild.evidence-digest"),
                    "sealbuild.evidence-digest",
                )?
                .to_vec(),
            references,
            statement_digest,
        })
    }
}

/// The payload of a COSE_Sign1 (RFC 9052 §4.2), tagged (18) or untagged:
/// `[protected: bstr, unprotected: map, payload: bstr, signature: bstr]`.
/// Nothing is verified; a detached (nil) payload is refused.
pub fn cose_sign1_payload(cose: &[u8]) -> Result<&[u8], FormatError> {
    let item = decode_all(cose, "COSE_Sign1")?;
    let inner = match &item {
        Item::Tag(COSE_SIGN1_TAG, inner) => inner.as_ref(),
        Item::Tag(tag, _) => {
            return Err(FormatError::Unsupported {
                field: "COSE_Sign1 tag",
                value: *tag,
            })
        }
        other => other,
    };
    match inner {
        Item::Array(a) => match a.as_slice() {
            [Item::Bytes(_), Item::Map(_), Item::Bytes(payload), Item::Bytes(_)] => Ok(*payload),
            [Item::Bytes(_), Item::Map(_), Item::Simple(NULL), Item::Bytes(_)] => Err(
                FormatError::unexpected("COSE_Sign1 payload", "an attached payload", "nil"),
            ),
            _ => Err(FormatError::unexpected(
                "COSE_Sign1",
                "[bstr, map, bstr, bstr]",
                format!("an array of {} items", a.len()),
            )),
        },
        other => Err(FormatError::unexpected(
            "COSE_Sign1",
            "an array",
            other.kind(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::cbor::testenc::*;
    use super::*;

    /// A COSE_Sign1 EAR encoded by an independent CBOR implementation
    /// (Python cbor2 5.9): protected {alg: ES256, content type, kid}, an
    /// empty unprotected map, the claims of [`sample`] and a dummy signature.
    const COSE_HEX: &str = "d284581da3012603736170706c69636174696f6e2f6561742b63777404436b6964a059017ea519010978207461673a6769746875622e636f6d2c323032333a7665726169736f6e2f656172061a6afd86c00a582009090909090909090909090909090909090909090909090909090909090909091903eca20078187365616c6275696c642d766572696669657220302e312e3001697365616c6275696c6419010aa16374706da81903e8021903e9a2000204021903eb697368613235363a3030727365616c6275696c642e6167656e742d696466303030623131717365616c6275696c642e62696e64696e675820010101010101010101010101010101010101010101010101010101010101010178197365616c6275696c642e65766964656e63652d64696765737458200202020202020202020202020202020202020202020202020202020202020202747365616c6275696c642e7265666572656e6365738163726566781a7365616c6275696c642e73746174656d656e742d646967657374582003030303030303030303030303030303030303030303030303030303030303035840aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    /// Where the claims-set bstr's content starts in [`COSE_HEX`], and its length.
    const PAYLOAD_AT: usize = 37;
    const PAYLOAD_LEN: usize = 382;

    fn cose() -> Vec<u8> {
        hex::decode(COSE_HEX).unwrap()
    }

    fn payload() -> Vec<u8> {
        cose()[PAYLOAD_AT..PAYLOAD_AT + PAYLOAD_LEN].to_vec()
    }

    fn sample() -> Ear {
        let mut submods = BTreeMap::new();
        submods.insert(
            "tpm".to_string(),
            Submodule {
                status: Status::Affirming,
                trust_vector: [(0u8, 2i8), (4, 2)].into_iter().collect(),
                policy_id: "sha256:00".into(),
                agent_id: "000b11".into(),
                binding: vec![1; 32],
                evidence_digest: vec![2; 32],
                references: vec!["ref".into()],
                statement_digest: Some(vec![3; 32]),
            },
        );
        Ear {
            iat: 1_795_000_000,
            nonce: vec![9; 32],
            verifier_build: "sealbuild-verifier 0.1.0".into(),
            verifier_developer: "sealbuild".into(),
            submods,
        }
    }

    fn submodule(extra: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
        let mut pairs = vec![
            (uint(1000), uint(2)),
            (uint(1003), tstr("p")),
            (tstr("sealbuild.agent-id"), tstr("snp:vm")),
            (tstr("sealbuild.binding"), bstr(&[1; 32])),
            (tstr("sealbuild.evidence-digest"), bstr(&[2; 32])),
        ];
        pairs.extend_from_slice(extra);
        map(&pairs)
    }

    fn claims(submods: Vec<u8>, extra: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
        let mut pairs = vec![
            (uint(265), tstr(EAR_PROFILE)),
            (uint(6), uint(7)),
            (uint(10), bstr(&[9; 32])),
            (
                uint(1004),
                map(&[(uint(0), tstr("b")), (uint(1), tstr("d"))]),
            ),
            (uint(266), submods),
        ];
        pairs.extend_from_slice(extra);
        map(&pairs)
    }

    #[test]
    fn decodes_an_independently_encoded_ear() {
        assert_eq!(Ear::from_cbor(&payload()).unwrap(), sample());
        assert_eq!(cose_sign1_payload(&cose()).unwrap(), payload().as_slice());
        let ear = Ear::from_cose_unverified(&cose()).unwrap();
        assert_eq!(ear, sample());
        assert_eq!(ear.references(), vec!["ref".to_string()]);
        // Untagged COSE_Sign1 (RFC 9052 §2 allows both).
        assert_eq!(Ear::from_cose_unverified(&cose()[1..]).unwrap(), sample());
    }

    #[test]
    fn every_truncation_and_trailing_byte_is_refused() {
        let c = cose();
        for n in 0..c.len() {
            assert!(Ear::from_cose_unverified(&c[..n]).is_err(), "prefix {n}");
        }
        let mut long = c.clone();
        long.push(0);
        let e = Ear::from_cose_unverified(&long).unwrap_err();
        assert!(
            matches!(e, FormatError::TrailingBytes { count: 1, .. }),
            "{e}"
        );
        // Flipped bytes never panic; most are refused.
        for i in 0..c.len() {
            let mut b = c.clone();
            b[i] ^= 0x80;
            let _ = Ear::from_cose_unverified(&b);
        }
    }

    #[test]
    fn references_of_every_submodule_in_name_order() {
        let refs = |r: &[&str]| {
            (
                tstr("sealbuild.references"),
                array(&r.iter().map(|s| tstr(s)).collect::<Vec<_>>()),
            )
        };
        let bytes = claims(
            map(&[
                (tstr("tpm"), submodule(&[refs(&["b", "c"])])),
                (tstr("azure"), submodule(&[refs(&["a"])])),
                (tstr("snp"), submodule(&[])),
            ]),
            &[],
        );
        let ear = Ear::from_cbor(&bytes).unwrap();
        assert_eq!(ear.references(), vec!["a", "b", "c"]);
        assert_eq!(ear.submods["snp"].statement_digest, None);
        assert!(ear.submods["snp"].trust_vector.is_empty());
    }

    #[test]
    fn unknown_claims_floats_and_tags_are_skipped() {
        let float = vec![0xfb, 0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18]; // pi
        let tagged = [head(6, 1), uint(1_700_000_000)].concat();
        let bytes = claims(
            map(&[(tstr("tpm"), submodule(&[(tstr("x.float"), float.clone())]))]),
            &[
                (nint(-70000), tagged),
                (tstr("x.null"), vec![0xf6]),
                (tstr("x.half"), vec![0xf9, 0x3c, 0x00]),
            ],
        );
        let ear = Ear::from_cbor(&bytes).unwrap();
        assert_eq!(ear.submods["tpm"].agent_id, "snp:vm");
        assert_eq!(ear.iat, 7);
    }

    #[test]
    fn wrong_claims_are_named() {
        let field = |bytes: &[u8]| match Ear::from_cbor(bytes).unwrap_err() {
            FormatError::Unexpected { field, .. } => field,
            other => panic!("{other}"),
        };
        let sub =
            |extra: &[(Vec<u8>, Vec<u8>)]| claims(map(&[(tstr("tpm"), submodule(extra))]), &[]);
        // A claim of the wrong kind.
        assert_eq!(
            field(&sub(&[(tstr("sealbuild.references"), tstr("r"))])),
            "sealbuild.references"
        );
        assert_eq!(
            field(&sub(&[(tstr("sealbuild.references"), array(&[uint(1)]))])),
            "sealbuild.references"
        );
        assert_eq!(
            field(&sub(&[(tstr("sealbuild.statement-digest"), tstr("x"))])),
            "sealbuild.statement-digest"
        );
        assert_eq!(
            field(&sub(&[(uint(1001), map(&[(uint(256), uint(2))]))])),
            "ear.trustworthiness-vector"
        );
        assert_eq!(
            field(&sub(&[(uint(1001), map(&[(uint(0), nint(-129))]))])),
            "ear.trustworthiness-vector"
        );
        // A claim twice.
        assert_eq!(field(&sub(&[(uint(1000), uint(2))])), "ear.status");
        assert_eq!(field(&claims(map(&[]), &[(uint(6), uint(8))])), "iat");
        // Unknown status, another profile, a negative time, a missing claim.
        let bad_status = map(&[(tstr("tpm"), {
            let mut m = submodule(&[]);
            // The status is the first pair: 0xa5, 0x19 0x03e8, 0x02.
            m[4] = 5;
            m
        })]);
        assert_eq!(field(&claims(bad_status, &[])), "ear.status");
        let other_profile = map(&[
            (uint(265), tstr("tag:example,2024:other")),
            (uint(6), uint(7)),
        ]);
        assert_eq!(field(&other_profile), "eat_profile");
        let negative = map(&[(uint(265), tstr(EAR_PROFILE)), (uint(6), nint(-1))]);
        assert_eq!(field(&negative), "iat");
        let no_nonce = map(&[
            (uint(265), tstr(EAR_PROFILE)),
            (uint(6), uint(7)),
            (
                uint(1004),
                map(&[(uint(0), tstr("b")), (uint(1), tstr("d"))]),
            ),
        ]);
        assert_eq!(field(&no_nonce), "eat_nonce");
    }

    #[test]
    fn cose_structure_is_checked() {
        let prot = bstr(&map(&[(uint(1), nint(-7))]));
        let sign1 = |payload: Vec<u8>| array(&[prot.clone(), map(&[]), payload, bstr(&[0; 64])]);
        let ok = claims(map(&[]), &[]);
        assert!(Ear::from_cose_unverified(&sign1(bstr(&ok))).is_ok());
        // Detached payload, another tag, a three-item array, a map.
        let e = cose_sign1_payload(&sign1(vec![0xf6])).unwrap_err();
        assert!(e.to_string().contains("nil"), "{e}");
        let tagged = [head(6, 17), sign1(bstr(&ok))].concat();
        assert!(matches!(
            cose_sign1_payload(&tagged).unwrap_err(),
            FormatError::Unsupported { value: 17, .. }
        ));
        let short = array(&[prot.clone(), map(&[]), bstr(&ok)]);
        assert!(cose_sign1_payload(&short).is_err());
        assert!(cose_sign1_payload(&ok).is_err());
    }

    #[test]
    fn status_codes_round_trip() {
        for s in [
            Status::None,
            Status::Affirming,
            Status::Warning,
            Status::Contraindicated,
        ] {
            assert_eq!(Status::from_code(s.code()), Some(s));
        }
        assert_eq!(Status::from_code(1), None);
        assert_eq!(Status::Affirming.name(), "affirming");
    }
}
