//! Interoperability with independent Python implementations of the formats
//! a sealed build produces:
//!
//! * securesystemslib verifies DSSE envelopes signed by `DsseSigner`
//!   (Ed25519, ECDSA P-256, ECDSA P-384) and refuses tampered ones; envelopes
//!   it signs verify with `DsseVerifier`.
//! * in-toto loads and verifies our envelope; in-toto-attestation (the
//!   Attestation Framework's own bindings) parses our Statement and its SLSA
//!   Provenance v1 predicate strictly, and refuses the same broken twins we do.
//! * pycose verifies an EAR COSE_Sign1 from `Ear::sign` with the public key
//!   and refuses it after a byte flip.
//!
//! The peers live in a virtual environment prepared by
//! `scripts/python-peers.sh`; if python3, venv or pip fail, the tests fail and
//! say so. Python snippets run with that environment's python; data travels
//! through files in a temporary directory.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sealbuild_common::dsse::{DsseSigner, DsseVerifier, Envelope, PAYLOAD_TYPE_INTOTO};
use sealbuild_common::intoto::{
    statement_digest, BuildDefinition, BuildMetadata, Builder, Provenance, ResourceDescriptor,
    RunDetails, Statement, SEALBUILD_BUILD_TYPE, SLSA_PROVENANCE_V1,
};
use sealbuild_tests::{data, repo};
use sealbuild_verifier_core::ear::{Ear, Status, Submodule};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The peers' python, prepared once per test binary.
fn python() -> &'static Path {
    static PY: OnceLock<PathBuf> = OnceLock::new();
    PY.get_or_init(|| {
        let script = repo().join("scripts/python-peers.sh");
        let out = Command::new("bash")
            .arg(&script)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "scripts/python-peers.sh failed ({}): the Python peers (python3, python3-venv, pip \
             and the Python package index) are required by these tests.\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let path = String::from_utf8(out.stdout).unwrap().trim().to_string();
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "python-peers.sh printed {path:?}, not a file"
        );
        path
    })
}

/// Runs `code` with the peers' python and `args`; returns its JSON output.
fn py(code: &str, args: &[&Path]) -> Value {
    let out = Command::new(python())
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python peer failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "python peer printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn key(name: &str) -> PathBuf {
    data(&format!("keys/openssl/{name}"))
}

fn signer(name: &str) -> DsseSigner {
    DsseSigner::from_pkcs8_der(&std::fs::read(key(&format!("{name}.der"))).unwrap()).unwrap()
}

/// (file stem, securesystemslib scheme)
const KEYS: [(&str, &str); 3] = [
    ("ed25519", "ed25519"),
    ("p256", "ecdsa-sha2-nistp256"),
    ("p384", "ecdsa-sha2-nistp384"),
];

fn provenance() -> Provenance {
    let mut commit = BTreeMap::new();
    commit.insert(
        "gitCommit".to_string(),
        "0123456789abcdef0123456789abcdef01234567".to_string(),
    );
    Provenance {
        build_definition: BuildDefinition {
            build_type: SEALBUILD_BUILD_TYPE.to_string(),
            external_parameters: json!({
                "source": "git+https://example.invalid/repo@0123",
                "command": ["make", "all"],
            }),
            internal_parameters: Some(json!({"pcr": 23})),
            resolved_dependencies: vec![ResourceDescriptor::uri_with_digest(
                "git+https://example.invalid/repo",
                commit,
            )],
        },
        run_details: RunDetails {
            builder: Builder {
                id: "https://sealbuild.invalid/builders/tpm-vm/v1".to_string(),
                version: None,
                builder_dependencies: None,
            },
            metadata: Some(BuildMetadata {
                invocation_id: Some("inv-7".to_string()),
                started_on: Some("2026-11-18T11:06:40Z".to_string()),
                finished_on: Some("2026-11-18T11:07:00Z".to_string()),
            }),
            byproducts: Some(vec![ResourceDescriptor {
                name: Some("runtime.cel.json".to_string()),
                media_type: Some("application/json".to_string()),
                content: Some(b"[]".to_vec()),
                ..ResourceDescriptor::default()
            }]),
        },
    }
}

fn statement_payload() -> Vec<u8> {
    Statement::new_provenance(
        vec![
            ResourceDescriptor::artifact("out/hello", &[0xab; 32]),
            ResourceDescriptor::artifact("out/hello.1", &[0xcd; 32]),
        ],
        &provenance(),
    )
    .to_payload()
}

const SSLIB_VERIFY: &str = r#"
import json, sys
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import SSlibKey

pem_path, keyid = sys.argv[1], sys.argv[2]
key = SSlibKey.from_crypto(load_pem_public_key(open(pem_path, "rb").read()), keyid=keyid)
results = []
for path in sys.argv[3:]:
    env = Envelope.from_dict(json.load(open(path)))
    try:
        accepted = env.verify([key], 1)
        results.append({"verified": True, "keyids": sorted(accepted), "payload": env.payload.decode()})
    except VerificationError as e:
        results.append({"verified": False, "error": str(e)})
print(json.dumps({"scheme": key.scheme, "keytype": key.keytype, "results": results}))
"#;

#[test]
fn securesystemslib_verifies_our_envelopes_and_refuses_tampered_ones() {
    let dir = tempfile::tempdir().unwrap();
    let payload = statement_payload();
    for (name, scheme) in KEYS {
        let s = signer(name);
        let env = s.sign(PAYLOAD_TYPE_INTOTO, &payload);
        let good = write(dir.path(), &format!("{name}.good.json"), env.to_json_line());
        let mut t = env.clone();
        t.payload[10] ^= 0x01;
        let bad_payload = write(
            dir.path(),
            &format!("{name}.payload.json"),
            t.to_json_line(),
        );
        let mut t = env.clone();
        let last = t.signatures[0].sig.len() - 1;
        t.signatures[0].sig[last] ^= 0x01;
        let bad_sig = write(dir.path(), &format!("{name}.sig.json"), t.to_json_line());
        let mut t = env.clone();
        t.payload_type = "application/json".into();
        let bad_type = write(dir.path(), &format!("{name}.type.json"), t.to_json_line());
        let pem = write(dir.path(), &format!("{name}.pub.pem"), s.public_key_pem());
        let keyid = PathBuf::from(s.keyid());
        let out = py(
            SSLIB_VERIFY,
            &[&pem, &keyid, &good, &bad_payload, &bad_sig, &bad_type],
        );
        assert_eq!(out["scheme"], scheme, "{name}: {out}");
        let r = &out["results"];
        assert_eq!(r[0]["verified"], true, "{name}: {out}");
        assert_eq!(r[0]["keyids"], json!([s.keyid()]), "{name}");
        assert_eq!(
            r[0]["payload"].as_str().unwrap().as_bytes(),
            payload.as_slice()
        );
        for (i, what) in [
            (1, "payload byte"),
            (2, "signature byte"),
            (3, "payloadType"),
        ] {
            assert_eq!(
                r[i]["verified"], false,
                "{name}: securesystemslib accepted a flipped {what}: {out}"
            );
        }
    }
}

const SSLIB_SIGN: &str = r#"
import json, sys
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.dsse import Envelope
from securesystemslib.signer import CryptoSigner, SSlibKey

priv_path, keyid, payload_path, out_path = sys.argv[1:5]
priv = load_pem_private_key(open(priv_path, "rb").read(), password=None)
public = SSlibKey.from_crypto(priv.public_key(), keyid=keyid)
env = Envelope(payload=open(payload_path, "rb").read(),
               payload_type="application/vnd.in-toto+json", signatures={})
sig = env.sign(CryptoSigner(priv, public))
json.dump(env.to_dict(), open(out_path, "w"))
print(json.dumps({"scheme": public.scheme, "sig_len": len(bytes.fromhex(sig.signature))}))
"#;

#[test]
fn envelopes_signed_by_securesystemslib_verify_with_dsse_verifier() {
    let dir = tempfile::tempdir().unwrap();
    let payload = statement_payload();
    let payload_path = write(dir.path(), "statement.json", &payload);
    for (name, scheme) in KEYS {
        let ours = signer(name);
        let out_path = dir.path().join(format!("{name}.sslib.json"));
        let keyid = PathBuf::from(ours.keyid());
        // The key we give it: the same OpenSSL PKCS#8 key, as PEM.
        let out = py(
            SSLIB_SIGN,
            &[
                &key(&format!("{name}.pem")),
                &keyid,
                &payload_path,
                &out_path,
            ],
        );
        assert_eq!(out["scheme"], scheme);
        let env = Envelope::from_json(&std::fs::read(&out_path).unwrap()).unwrap();
        assert_eq!(env.signatures.len(), 1);
        assert_eq!(env.signatures[0].keyid, ours.keyid());
        // The encodings securesystemslib produces: raw 64 bytes for Ed25519,
        // DER Ecdsa-Sig-Value for ECDSA.
        let sig = &env.signatures[0].sig;
        match name {
            "ed25519" => assert_eq!(sig.len(), 64),
            _ => {
                assert_eq!(sig[0], 0x30, "{name}: DER SEQUENCE");
                assert_eq!(usize::from(sig[1]) + 2, sig.len(), "{name}: DER length");
            }
        }
        let v = DsseVerifier::from_spki_pem(
            &std::fs::read_to_string(key(&format!("{name}.pub.pem"))).unwrap(),
        )
        .unwrap();
        assert_eq!(v.verify(&env).unwrap(), payload.as_slice(), "{name}");
        let mut t = env.clone();
        t.payload[3] ^= 0x01;
        assert!(v.verify(&t).is_err(), "{name}: tampered payload verified");
        let mut t = env.clone();
        let last = t.signatures[0].sig.len() - 1;
        t.signatures[0].sig[last] ^= 0x01;
        assert!(v.verify(&t).is_err(), "{name}: tampered signature verified");
        // Another key of ours does not verify it.
        let other = if name == "ed25519" { "p256" } else { "ed25519" };
        assert!(signer(other).verifier().verify(&env).is_err());
    }
}

const INTOTO_LOAD: &str = r#"
import json, sys
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from google.protobuf import json_format
from in_toto.exceptions import InvalidMetadata, SignatureVerificationError
from in_toto.models.metadata import Envelope as InTotoEnvelope, Metadata
from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement
from securesystemslib.signer import SSlibKey

env_path, tampered_path, pem_path, keyid = sys.argv[1:5]
twin_paths = sys.argv[5:]
key = SSlibKey.from_crypto(load_pem_public_key(open(pem_path, "rb").read()), keyid=keyid)
key_dict = dict(key.to_dict(), keyid=key.keyid)

def load_and_verify(path):
    md = Metadata.from_dict(json.load(open(path)))
    assert isinstance(md, InTotoEnvelope), type(md)
    try:
        md.verify_signature(key_dict)
        return md, True
    except SignatureVerificationError:
        return md, False

md, verified = load_and_verify(env_path)
_, tampered_verified = load_and_verify(tampered_path)
# in-toto's own payload model knows links and layouts only.
try:
    md.get_payload()
    get_payload = "parsed"
except InvalidMetadata:
    get_payload = "InvalidMetadata"

def parse_statement(text):
    pb = json_format.Parse(text, statement_pb2.Statement())  # unknown fields refused
    Statement.copy_from_pb(pb).validate()
    prov = json_format.ParseDict(
        json_format.MessageToDict(pb.predicate), provenance_pb2.Provenance())
    return pb, prov

pb, prov = parse_statement(md.payload.decode())
bd, rd = prov.build_definition, prov.run_details
twins = []
for path in twin_paths:
    try:
        parse_statement(open(path).read())
        twins.append("accepted")
    except Exception as e:
        twins.append(type(e).__name__)
print(json.dumps({
    "verified": verified,
    "tampered_verified": tampered_verified,
    "get_payload": get_payload,
    "type": pb.type,
    "predicate_type": pb.predicate_type,
    "subjects": [[s.name, dict(s.digest)] for s in pb.subject],
    "build_type": bd.build_type,
    "external_parameters": json_format.MessageToDict(bd.external_parameters),
    "internal_parameters": json_format.MessageToDict(bd.internal_parameters),
    "dependencies": [[d.uri, dict(d.digest)] for d in bd.resolved_dependencies],
    "builder_id": rd.builder.id,
    "invocation_id": rd.metadata.invocation_id,
    "started_on": rd.metadata.started_on.ToJsonString(),
    "finished_on": rd.metadata.finished_on.ToJsonString(),
    "byproducts": [[b.name, b.media_type, b.content.decode()] for b in rd.byproducts],
    "twins": twins,
}))
"#;

#[test]
fn in_toto_loads_our_envelope_and_parses_the_statement() {
    let dir = tempfile::tempdir().unwrap();
    let s = signer("ed25519");
    let payload = statement_payload();
    // Our own parser accepts what we hand to the peers.
    let st = Statement::parse(&payload).unwrap();
    assert_eq!(st.provenance().unwrap(), provenance());
    let env = s.sign(PAYLOAD_TYPE_INTOTO, &payload);
    let env_path = write(dir.path(), "env.json", env.to_json_line());
    let mut t = env.clone();
    t.payload[20] ^= 0x01;
    let tampered = write(dir.path(), "tampered.json", t.to_json_line());
    let pem = write(dir.path(), "pub.pem", s.public_key_pem());

    // Broken twins: each is refused by Statement::parse/provenance AND must be
    // refused by in-toto-attestation.
    let good: Value = serde_json::from_slice(&payload).unwrap();
    type Mutation = fn(&mut Value);
    let mutations: Vec<(&str, Mutation)> = vec![
        ("wrong _type", |v| {
            v["_type"] = json!("https://in-toto.io/Statement/v0.1")
        }),
        ("no subjects", |v| v["subject"] = json!([])),
        ("subject without digest", |v| {
            v["subject"][0].as_object_mut().unwrap().remove("digest");
        }),
        ("unknown top-level field", |v| v["signature"] = json!("x")),
        ("unknown predicate field", |v| {
            v["predicate"]["buildDefinitionX"] = json!({})
        }),
        ("startedOn not a date-time", |v| {
            v["predicate"]["runDetails"]["metadata"]["startedOn"] = json!("yesterday")
        }),
    ];
    let mut twin_paths = Vec::new();
    for (i, (what, m)) in mutations.iter().enumerate() {
        let mut v = good.clone();
        m(&mut v);
        let bytes = serde_json::to_vec(&v).unwrap();
        let ours = Statement::parse(&bytes).and_then(|st| st.provenance());
        assert!(ours.is_err(), "Statement accepted the twin: {what}");
        twin_paths.push(write(dir.path(), &format!("twin{i}.json"), bytes));
    }
    let keyid = PathBuf::from(s.keyid());
    let mut args: Vec<&Path> = vec![&env_path, &tampered, &pem, &keyid];
    args.extend(twin_paths.iter().map(PathBuf::as_path));
    let out = py(INTOTO_LOAD, &args);

    assert_eq!(out["verified"], true, "{out}");
    assert_eq!(out["tampered_verified"], false, "{out}");
    // in-toto 3.x models only links and layouts; the Statement is read with
    // in-toto-attestation below (documented limitation of the in-toto package).
    assert_eq!(out["get_payload"], "InvalidMetadata");
    assert_eq!(out["type"], "https://in-toto.io/Statement/v1");
    assert_eq!(out["predicate_type"], SLSA_PROVENANCE_V1);
    assert_eq!(
        out["subjects"],
        json!([
            ["out/hello", {"sha256": "ab".repeat(32)}],
            ["out/hello.1", {"sha256": "cd".repeat(32)}],
        ])
    );
    assert_eq!(out["build_type"], SEALBUILD_BUILD_TYPE);
    assert_eq!(
        out["external_parameters"],
        json!({"source": "git+https://example.invalid/repo@0123", "command": ["make", "all"]})
    );
    assert_eq!(out["internal_parameters"], json!({"pcr": 23.0}));
    assert_eq!(
        out["dependencies"],
        json!([["git+https://example.invalid/repo", {"gitCommit": "0123456789abcdef0123456789abcdef01234567"}]])
    );
    assert_eq!(
        out["builder_id"],
        "https://sealbuild.invalid/builders/tpm-vm/v1"
    );
    assert_eq!(out["invocation_id"], "inv-7");
    assert_eq!(out["started_on"], "2026-11-18T11:06:40Z");
    assert_eq!(out["finished_on"], "2026-11-18T11:07:00Z");
    assert_eq!(
        out["byproducts"],
        json!([["runtime.cel.json", "application/json", "[]"]])
    );
    let twins = out["twins"].as_array().unwrap();
    assert_eq!(twins.len(), mutations.len());
    for ((what, _), verdict) in mutations.iter().zip(twins) {
        assert_ne!(verdict, "accepted", "in-toto-attestation accepted: {what}");
    }
    // The statement digest the binding carries is over exactly these bytes.
    assert_eq!(statement_digest(&env.payload), statement_digest(&payload));
}

const PYCOSE_VERIFY: &str = r#"
import json, sys
import cbor2
from pycose.headers import Algorithm
from pycose.keys import EC2Key
from pycose.keys.curves import P256
from pycose.messages import CoseMessage, Sign1Message

x, y = bytes.fromhex(sys.argv[1]), bytes.fromhex(sys.argv[2])
results = []
for path in sys.argv[3:]:
    try:
        msg = CoseMessage.decode(open(path, "rb").read())
        assert isinstance(msg, Sign1Message), type(msg)
        msg.key = EC2Key(crv=P256, x=x, y=y)
        ok = msg.verify_signature()
        claims = cbor2.loads(msg.payload)
        results.append({"verified": bool(ok), "alg": msg.get_attr(Algorithm).fullname,
                        "profile": claims.get(265), "nonce": claims.get(10, b"").hex()})
    except Exception as e:
        results.append({"verified": False, "error": type(e).__name__ + ": " + str(e)})
print(json.dumps(results))
"#;

#[test]
fn pycose_verifies_the_ear_and_refuses_flipped_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let key = p256::ecdsa::SigningKey::from_slice(&[0x42; 32]).unwrap();
    let mut submods = BTreeMap::new();
    submods.insert(
        "tpm".to_string(),
        Submodule {
            status: Status::Affirming,
            trust_vector: [(0u8, 2i8), (4, 2)].into_iter().collect(),
            policy_id: "sha256:00".to_string(),
            agent_id: "000b11".to_string(),
            binding: vec![1; 32],
            evidence_digest: vec![2; 32],
            references: vec!["ref".to_string()],
            statement_digest: Some(statement_digest(&statement_payload()).to_vec()),
        },
    );
    let ear = Ear {
        iat: 1_795_000_000,
        nonce: vec![9; 32],
        verifier_build: "sealbuild-verifier 0.1.0".to_string(),
        verifier_developer: "sealbuild".to_string(),
        submods,
    };
    let signer = |k| sealbuild_common::crypto::P256Signer::from_p256(k).unwrap();
    let cose = ear.sign(&signer(&key), b"result-key").unwrap();
    // Our own verifier agrees first.
    assert_eq!(Ear::verify(&cose, key.verifying_key()).unwrap(), ear);

    let good = write(dir.path(), "ear.cose", &cose);
    // Flip the last byte (inside the signature).
    let mut sig_flip = cose.clone();
    *sig_flip.last_mut().unwrap() ^= 0x01;
    let sig_flip = write(dir.path(), "sig.cose", sig_flip);
    // Flip one byte of a claim inside the payload, keeping the CBOR valid:
    // a letter of the submodule's agent id text.
    let at = cose
        .windows(6)
        .position(|w| w == b"000b11")
        .expect("agent id in the payload");
    let mut claim_flip = cose.clone();
    claim_flip[at + 3] = b'c';
    let claim_flip = write(dir.path(), "claim.cose", claim_flip);
    // And with the other key: must not verify either.
    let other = p256::ecdsa::SigningKey::from_slice(&[0x43; 32]).unwrap();
    let other_signed = write(
        dir.path(),
        "other.cose",
        ear.sign(&signer(&other), b"result-key").unwrap(),
    );

    let point = key.verifying_key().to_encoded_point(false);
    let x = PathBuf::from(hex::encode(point.x().unwrap()));
    let y = PathBuf::from(hex::encode(point.y().unwrap()));
    let out = py(
        PYCOSE_VERIFY,
        &[&x, &y, &good, &sig_flip, &claim_flip, &other_signed],
    );
    assert_eq!(out[0]["verified"], true, "{out}");
    assert_eq!(out[0]["alg"], "ES256");
    assert_eq!(out[0]["profile"], "tag:github.com,2023:veraison/ear");
    assert_eq!(out[0]["nonce"], "09".repeat(32));
    for (i, what) in [(1, "signature byte"), (2, "claim byte"), (3, "other key")] {
        assert_eq!(
            out[i]["verified"], false,
            "pycose accepted the EAR with a flipped {what}: {out}"
        );
        // A flipped byte must fail verification, not decoding.
        assert!(out[i].get("error").is_none(), "{what}: {out}");
    }
}
