//! The agent library's sealed-build flow and collectors, driven in-process:
//! a manufactured swtpm and a verifier on 127.0.0.1 (HTTPS, SQLite file),
//! no agent binary.
//!
//! * `sealbuild_agent::sealed_build` with the TPM collector: the bundle it
//!   writes verifies offline (`verify_bundle`, evidence re-checked); a key
//!   granted to another source is refused with the evidence kept and no
//!   envelope; a failing command ends with its exit code and releases no
//!   key.
//! * The Azure collector on an swtpm laid out like an Azure vTPM (HCL report
//!   in NV 0x01400001, RSA AK persistent at 0x81000003): the HCL bytes round
//!   trip, the quote verifies with that AK over the binding, the runtime log
//!   replays to the quoted PCR 23.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sealbuild_agent::azure::{AzureCollector, AK_PERSISTENT_HANDLE, HCL_REPORT_NV_INDEX};
use sealbuild_agent::client::{VerifierClient, VerifierTrust};
use sealbuild_agent::evidence::{AgentError, EvidenceCollector};
use sealbuild_agent::flow::{self, FlowError};
use sealbuild_agent::sealed_build::{BuildRequest, Outcome, SealedBuild};
use sealbuild_agent::tpm::collector::TpmEnrolment;
use sealbuild_agent::tpm::{AkType, EkSelection, PcrSelection, TpmBackend, TpmCollector};
use sealbuild_common::api::{AttestRequest, Evidence};
use sealbuild_common::cel::{CelLog, RuntimeEvent, RuntimeEventKind};
use sealbuild_common::tpm::{PcrValues, Public, Signature};
use sealbuild_common::{HashAlg, Platform};
use sealbuild_tests::{
    boot_log, reference_policy, require_tool, run_sealed_build, sample_repo, TestVerifier, Tpm,
};
use sealbuild_verifier_core::bundle::{verify_bundle, BundleInput};
use sealbuild_verifier_core::quote::{verify_quote, QuoteError, QuoteOptions};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::Command;

fn request(source: &Path, out: &Path, command: &[&str]) -> BuildRequest {
    BuildRequest {
        key: "release".into(),
        out: out.to_path_buf(),
        source: source.to_path_buf(),
        artifacts: vec!["out/*".into()],
        env: vec![],
        name: None,
        command: command.iter().map(|s| s.to_string()).collect(),
    }
}

/// A TPM collector with the AK registered in `state`, quoting firmware
/// PCRs with the boot log (the swtpm takes one connection at a time: drop it
/// before opening another).
fn collector(tpm: &Tpm, state: &Path) -> TpmCollector {
    TpmCollector::load(
        TpmBackend::open(&tpm.tcti()).unwrap(),
        state,
        PcrSelection::firmware(),
        Some(boot_log()),
    )
    .unwrap()
}

/// `verify_bundle` over the bundle in `out`, as `verify bundle --evidence`
/// does it, with artefacts from `artifacts`.
fn verify(out: &Path, artifacts: &Path, result_key_pem: &str) -> Vec<(String, bool, String)> {
    use p256::pkcs8::DecodePublicKey;
    let envelope_path = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".intoto.jsonl"))
        .expect("an envelope");
    let envelope = std::fs::read(envelope_path).unwrap();
    let signer = std::fs::read_to_string(out.join("signing-key.pub.pem")).unwrap();
    let ear = std::fs::read(out.join("evidence/ear.cose")).unwrap();
    let vkey = p256::ecdsa::VerifyingKey::from_public_key_pem(result_key_pem).unwrap();
    let req: AttestRequest =
        serde_json::from_slice(&std::fs::read(out.join("evidence/attest-request.json")).unwrap())
            .unwrap();
    let ak = std::fs::read(out.join("evidence/ak.pub")).unwrap();
    let lookup = |name: &str| {
        std::fs::read(artifacts.join(name))
            .ok()
            .map(|b| Ok(<[u8; 32]>::from(Sha256::digest(b))))
    };
    let report = verify_bundle(&BundleInput {
        envelope: &envelope,
        signer_key_pem: &signer,
        artifacts: &lookup,
        ear: Some((&ear, &vkey)),
        evidence: Some((&req, &ak)),
        at_unix_secs: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
        runtime_pcr: 23,
        collateral: None,
    });
    report
        .checks
        .into_iter()
        .map(|c| (c.check, c.ok, c.detail))
        .collect()
}

/// A manufactured swtpm after a simulated boot, a verifier granting
/// `release` to builds of one commit on that machine, and an AK registered
/// through the TPM collector.
struct Env {
    tpm: Tpm,
    v: TestVerifier,
    client: VerifierClient,
    state: tempfile::TempDir,
    agent_id: String,
    result_key: String,
}

impl Env {
    async fn start(allowed_commit: &str) -> Self {
        let tpm = Tpm::manufacture();
        let log = tpm.simulate_boot();
        let v = TestVerifier::start(&tpm.ca_certs()).await;
        v.service
            .generate_key("ed25519", Some("release".into()))
            .await
            .unwrap();
        let keys = format!(
            "[[key]]\nid = \"release\"\nreferences = [\"ci-vm\"]\n[key.statement]\nsource_digests = [\"gitCommit:{allowed_commit}\"]\n"
        );
        v.service
            .set_policy(reference_policy(&log, "ci-vm", &keys))
            .await
            .unwrap();
        let result_key = v.service.result_key_pem().unwrap();
        let client = v.client();
        let state = tempfile::tempdir().unwrap();
        // Enrolment through the collector: EK + AK, MakeCredential.
        let mut c = TpmCollector::for_registration(
            TpmBackend::open(&tpm.tcti()).unwrap(),
            TpmEnrolment {
                ek: EkSelection::Auto,
                ak_type: AkType::Ecc,
                state_dir: state.path().to_path_buf(),
            },
        );
        assert_eq!(c.agent_id(), None, "no AK before registration");
        let r = flow::enrol(&client, &mut c).await.unwrap();
        assert_eq!(Some(r.agent_id.clone()), c.agent_id());
        assert!(r.ek_issuer.is_some(), "the EK certificate was checked");
        assert_eq!(flow::stored_agent_id(state.path()).unwrap(), r.agent_id);
        Self {
            tpm,
            v,
            client,
            state,
            agent_id: r.agent_id,
            result_key,
        }
    }

    /// The library flow with a fresh TPM collector (the swtpm takes one
    /// connection at a time; the collector is dropped at the end).
    async fn build(&self, source: &Path, out: &Path, command: &[&str]) -> (Outcome, Vec<String>) {
        let mut c = collector(&self.tpm, self.state.path());
        let build = SealedBuild::new(request(source, out, command)).unwrap();
        run_sealed_build(&build, &self.client, &mut c).await
    }
}

/// The signed bundle of a build of the allowed source: it verifies offline,
/// the runtime log, the EAR and the provenance agree, and one changed
/// artefact byte fails its subject.
fn check_signed_bundle(env: &Env, work: &Path, out: &Path, outcome: &Outcome, progress: &[String]) {
    let Outcome::Signed(signed) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(outcome.exit_code(), 0);
    assert_eq!(signed.envelope, out.join("x.intoto.jsonl"));
    assert_eq!(signed.key_id, "release");
    assert_eq!(signed.artifacts, 2, "out/hello and out/hello.c");
    assert_eq!(progress[0], "preflight attestation of this machine");
    assert!(
        progress[1].starts_with("TPM evidence via swtpm:"),
        "{progress:?}"
    );
    assert!(
        progress[2].starts_with("running [\"make\"]"),
        "{progress:?}"
    );
    let checks = verify(out, &out.join("artifacts"), &env.result_key);
    assert!(checks.iter().all(|c| c.1), "{checks:#?}");
    for want in [
        "dsse_signature",
        "subject:out/hello",
        "ear_signature",
        "ear_statement",
        "evidence_quote",
        "evidence_ear",
    ] {
        assert!(checks.iter().any(|c| c.0 == want), "no {want}: {checks:#?}");
    }
    let cel =
        CelLog::parse(&std::fs::read(out.join("evidence/runtime.cel.json")).unwrap()).unwrap();
    assert_eq!(cel.records.len(), 3, "source, command, statement");
    let ear = sealbuild_common::ear::Ear::from_cose_unverified(
        &std::fs::read(out.join("evidence/ear.cose")).unwrap(),
    )
    .unwrap();
    let sub = &ear.submods["tpm"];
    assert_eq!(sub.agent_id, env.agent_id);
    assert_eq!(
        sub.statement_digest.as_deref(),
        Some(&signed.statement_digest[..])
    );
    let line = std::fs::read(&signed.envelope).unwrap();
    let envl = sealbuild_common::dsse::Envelope::from_json(line.trim_ascii_end()).unwrap();
    let prov = sealbuild_common::intoto::Statement::parse(&envl.payload)
        .unwrap()
        .provenance()
        .unwrap();
    assert_eq!(
        prov.run_details.builder.id,
        "urn:sealbuild:builder:tpm:ci-vm"
    );
    let internal = prov.build_definition.internal_parameters.unwrap();
    assert_eq!(internal["platform"], "tpm");
    assert_eq!(internal["runtimePcr"], 23);
    // One byte changed in an artefact: that subject fails.
    let tampered = work.join("tampered");
    std::fs::create_dir_all(tampered.join("out")).unwrap();
    for f in ["hello", "hello.c"] {
        let from = out.join("artifacts/out").join(f);
        std::fs::copy(from, tampered.join("out").join(f)).unwrap();
    }
    let mut bytes = std::fs::read(tampered.join("out/hello")).unwrap();
    bytes[100] ^= 1;
    std::fs::write(tampered.join("out/hello"), &bytes).unwrap();
    let checks = verify(out, &tampered, &env.result_key);
    assert!(
        checks.iter().any(|c| c.0 == "subject:out/hello" && !c.1),
        "{checks:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_sealed_build_verifies_and_refusals_release_nothing() {
    let work = tempfile::tempdir().unwrap();
    let (src_x, src_y) = (work.path().join("x"), work.path().join("y"));
    let commit_x = sample_repo(&src_x, "");
    sample_repo(&src_y, "another build");
    let env = Env::start(&commit_x).await;

    // A sealed build of X: signed; the bundle verifies offline.
    let out = work.path().join("bundle-x");
    let (outcome, progress) = env.build(&src_x, &out, &["make"]).await;
    check_signed_bundle(&env, work.path(), &out, &outcome, &progress);

    // The key is granted to source X only: Y is refused; the evidence stays
    // in the bundle, no envelope, no key.
    let audit_before = env.v.store.audit_head().unwrap().seq;
    let out_y = work.path().join("bundle-y");
    let (outcome, _) = env.build(&src_y, &out_y, &["make"]).await;
    let Outcome::Refused { reasons } = &outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(outcome.exit_code(), 1);
    assert!(
        reasons.iter().any(|r| r.check == "statement_policy"),
        "{reasons:#?}"
    );
    for f in [
        "ear.cose",
        "preflight-ear.cose",
        "attest-request.json",
        "quote.msg",
    ] {
        assert!(out_y.join("evidence").join(f).exists(), "no evidence/{f}");
    }
    assert!(!out_y.join("y.intoto.jsonl").exists());
    assert!(!out_y.join("signing-key.pub.pem").exists());

    // A failing command: its exit code, no attestation after the preflight,
    // nothing written, no release.
    let out_f = work.path().join("bundle-fail");
    let (outcome, progress) = env.build(&src_x, &out_f, &["sh", "-c", "exit 7"]).await;
    assert_eq!(outcome, Outcome::BuildFailed { exit_code: 7 });
    assert_eq!(outcome.exit_code(), 7);
    assert!(
        progress.iter().any(|p| p.contains("exit 7")),
        "{progress:?}"
    );
    assert!(!out_f.join("evidence").exists() && !out_f.join("artifacts").exists());
    let entries = env.v.store.audit_entries(audit_before + 1, 100).unwrap();
    assert!(
        entries.iter().any(|e| e.kind == "appraisal"),
        "the preflights were appraised: {entries:#?}"
    );
    assert!(
        entries.iter().all(|e| e.kind != "release"),
        "a refused or failed build releases nothing: {entries:#?}"
    );

    // Checked before anything runs: a non-empty output directory, no command.
    let e = SealedBuild::new(request(&src_x, &out, &["make"])).unwrap_err();
    assert!(e.to_string().contains("is not empty"), "{e}");
    let e = SealedBuild::new(request(&src_x, &work.path().join("new"), &[])).unwrap_err();
    assert!(matches!(e, AgentError::Build(_)), "{e}");
    env.v.stop().await;
}

/// A tpm2-tools command on `tpm`; then whatever it left loaded is flushed
/// (swtpm has no resource manager).
fn tpm2(tpm: &Tpm, dir: &Path, tool: &str, args: &[&str]) {
    require_tool(tool, "tpm2-tools");
    let o = Command::new(tool)
        .args(args)
        .current_dir(dir)
        .env("TPM2TOOLS_TCTI", tpm.tcti_string())
        .output()
        .unwrap();
    assert!(o.status.success(), "{tool} {args:?}: {o:?}");
    let _ = Command::new("tpm2_flushcontext")
        .arg("-t")
        .env("TPM2TOOLS_TCTI", tpm.tcti_string())
        .output();
}

fn azure(tpm: &Tpm) -> AzureCollector {
    AzureCollector::new(TpmBackend::open(&tpm.tcti()).unwrap(), Some(boot_log()))
        .with_agent_id("azure:ci")
}

/// Lays `tpm` out like an Azure vTPM, checking the collector's refusals on
/// the way: the HCL report (2000 bytes: more than one TPM2_NV_Read chunk of
/// swtpm's 1024) in NV 0x01400001, then an RSA AK (tpm2_createak,
/// RSASSA-SHA256) persistent at 0x81000003. Returns the report and the AK's
/// TPM2B_PUBLIC.
fn provision_azure_vtpm(tpm: &Tpm, d: &Path, binding: &[u8; 32]) -> (Vec<u8>, Vec<u8>) {
    // Not an Azure vTPM: no HCL report, said so.
    let e = azure(tpm).collect(binding).unwrap_err();
    assert!(
        matches!(
            e,
            AgentError::NvIndex {
                index: HCL_REPORT_NV_INDEX,
                ..
            }
        ),
        "{e}"
    );
    // Opaque to the collector but for what it reads to tell SEV-SNP from
    // TDX: the "HCLA" signature and report type 2 (SEV-SNP) at 0x4C8.
    let mut hcl: Vec<u8> = (0..2000u32).map(|i| (i * 7 + i / 256) as u8).collect();
    hcl[..4].copy_from_slice(b"HCLA");
    hcl[0x4C8..0x4CC].copy_from_slice(&2u32.to_le_bytes());
    std::fs::write(d.join("hcl.bin"), &hcl).unwrap();
    let nv = format!("{HCL_REPORT_NV_INDEX:#010x}");
    let attrs = "ownerread|ownerwrite|authread|authwrite";
    tpm2(
        tpm,
        d,
        "tpm2_nvdefine",
        &[&nv, "-C", "o", "-s", "2000", "-a", attrs],
    );
    tpm2(tpm, d, "tpm2_nvwrite", &[&nv, "-C", "o", "-i", "hcl.bin"]);
    // Still no AK at 0x81000003.
    let e = azure(tpm).collect(binding).unwrap_err();
    assert!(e.to_string().contains("0x81000003"), "{e}");
    let ek = ["-c", "ek.ctx", "-G", "rsa", "-u", "ek.pub"];
    tpm2(tpm, d, "tpm2_createek", &ek);
    let ak = [
        "-C", "ek.ctx", "-c", "ak.ctx", "-G", "rsa", "-g", "sha256", "-s", "rsassa", "-u", "ak.pub",
    ];
    tpm2(tpm, d, "tpm2_createak", &ak);
    let handle = format!("{AK_PERSISTENT_HANDLE:#010x}");
    tpm2(
        tpm,
        d,
        "tpm2_evictcontrol",
        &["-C", "o", "-c", "ak.ctx", &handle],
    );
    (hcl, std::fs::read(d.join("ak.pub")).unwrap())
}

/// The vTPM part of Azure evidence: the quote verifies with `ak_pub` over
/// `binding` and covers sha256 PCRs 0-23; another binding fails; the runtime
/// log replays to the quoted PCR 23.
fn check_vtpm_quote(t: &sealbuild_common::api::TpmEvidence, ak_pub: &[u8], binding: &[u8; 32]) {
    let ak = Public::parse_tpm2b(ak_pub).unwrap();
    let sig = Signature::parse(&t.signature).unwrap();
    let pcrs = PcrValues::from_named_hex(&t.pcrs).unwrap();
    let opts = QuoteOptions::default();
    let checked = verify_quote(&ak, &t.quote, &sig, binding, &pcrs, &opts).unwrap();
    assert_eq!(checked.selection.pcr_count(), 24);
    let other: [u8; 32] = Sha256::digest(b"another binding").into();
    assert!(matches!(
        verify_quote(&ak, &t.quote, &sig, &other, &pcrs, &opts),
        Err(QuoteError::QualifyingDataMismatch { .. })
    ));
    let cel = CelLog::parse(t.runtime_log.as_ref().unwrap()).unwrap();
    assert_eq!(cel.records.len(), 3);
    let mut pcr23 = vec![0u8; 32];
    for r in &cel.records {
        let (_, d) = r.digest_list()[0];
        pcr23 = HashAlg::Sha256.digest(&[pcr23.as_slice(), d].concat());
    }
    assert_eq!(hex::encode(&pcr23), t.pcrs["sha256"][&23]);
    assert_eq!(
        t.event_log.as_deref(),
        Some(&std::fs::read(boot_log()).unwrap()[..])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_collector_reads_the_hcl_report_and_quotes_with_the_persistent_ak() {
    let tpm = Tpm::manufacture();
    tpm.simulate_boot();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let binding: [u8; 32] = Sha256::digest(b"azure binding").into();
    let (hcl, ak_pub) = provision_azure_vtpm(&tpm, d, &binding);

    let mut c = azure(&tpm);
    assert_eq!(c.platform(), Platform::Azure);
    assert_eq!(c.agent_id().as_deref(), Some("azure:ci"));
    assert!(c.registration().unwrap().is_none(), "nothing to register");
    assert_eq!(c.selection(), &PcrSelection::sha256_all());
    // A sealed build's runtime log, as for a TPM.
    let event = |kind, data: &str| RuntimeEvent {
        kind,
        data: data.to_string(),
    };
    c.begin_runtime_log(&[
        event(RuntimeEventKind::Source, "dir:sha256:00"),
        event(RuntimeEventKind::Command, "[\"make\"]"),
    ])
    .unwrap();
    c.end_runtime_log(&event(RuntimeEventKind::Statement, &hex::encode([5u8; 32])))
        .unwrap();
    assert_eq!(c.build_parameters()["runtimePcr"], 23);

    let evidence = c.collect(&binding).unwrap();
    let Evidence::Azure(a) = &evidence else {
        panic!("{evidence:?}")
    };
    assert_eq!(evidence.platform(), Platform::Azure);
    assert_eq!(a.hcl_report, hcl, "the HCL bytes round-trip");
    assert!(
        a.certificates.is_empty(),
        "VCEKs come from the verifier's store"
    );
    check_vtpm_quote(&a.tpm, &ak_pub, &binding);

    // The bundle's raw evidence: the HCL report, the vTPM quote files and
    // the AK's public area as the TPM reports it.
    let bundle = d.join("evidence");
    c.write_evidence(&evidence, &bundle).unwrap();
    assert_eq!(std::fs::read(bundle.join("hcl-report.bin")).unwrap(), hcl);
    assert_eq!(std::fs::read(bundle.join("ak.pub")).unwrap(), ak_pub);
    assert_eq!(
        std::fs::read(bundle.join("quote.msg")).unwrap(),
        a.tpm.quote
    );
    for f in [
        "quote.sig",
        "pcrs.json",
        "runtime.cel.json",
        "binary_bios_measurements",
    ] {
        assert!(bundle.join(f).exists(), "no {f}");
    }
    assert!(c
        .write_evidence(&Evidence::Tpm(a.tpm.clone()), &bundle)
        .is_err());

    // Enrolment of a hardware-vouched attester makes no call at all: the
    // client points nowhere (and attesting through it fails to connect).
    let nowhere = VerifierClient::new("https://127.0.0.1:9", &VerifierTrust::Pin([0; 32])).unwrap();
    let r = flow::enrol(&nowhere, &mut c).await.unwrap();
    assert_eq!((r.agent_id.as_str(), r.ek_issuer), ("azure:ci", None));
    let e = flow::attest(&nowhere, &mut c, "azure:ci", None)
        .await
        .unwrap_err();
    assert!(matches!(e, FlowError::Client(_)), "{e}");
}
