//! Sealed builds end to end on a manufactured swtpm, through the real
//! binaries: `sealbuild-agent build` against a verifier on 127.0.0.1, then
//! `sealbuild-verifier verify bundle` offline.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sealbuild_agent::flow;
use sealbuild_agent::tpm::ak::AkState;
use sealbuild_agent::tpm::collector::TpmCollector;
use sealbuild_agent::tpm::{PcrSelection, TpmBackend};
use sealbuild_common::api::{Evidence, Verdict};
use sealbuild_tests::{boot_log, reference_policy, repo, sample_repo, TestVerifier, Tpm};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin(name: &str) -> PathBuf {
    let p = repo().join("target/debug").join(name);
    assert!(p.exists(), "{} not built", p.display());
    p
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

struct Env {
    tpm: Tpm,
    v: TestVerifier,
    state: tempfile::TempDir,
    result_key: PathBuf,
}

impl Env {
    fn agent(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(bin("sealbuild-agent"));
        cmd.arg(args[0]).args([
            "--verifier",
            &self.v.url,
            "--verifier-ca",
            self.v.ca_pem.to_str().unwrap(),
            "--tcti",
            &self.tpm.tcti_string(),
            "--state-dir",
            self.state.path().to_str().unwrap(),
        ]);
        cmd.args(&args[1..]);
        cmd.output().unwrap()
    }

    fn build(&self, source: &Path, out: &Path, command: &[&str]) -> Output {
        let mut args = vec![
            "build",
            "--key",
            "release",
            "--out",
            out.to_str().unwrap(),
            "--source",
            source.to_str().unwrap(),
            "--artifacts",
            "out/*",
            "--eventlog",
        ];
        let log = boot_log();
        args.push(log.to_str().unwrap());
        args.push("--");
        args.extend_from_slice(command);
        self.agent(&args)
    }

    fn verify(&self, out: &Path, artifacts: &Path, extra: &[&str]) -> Output {
        let env = std::fs::read_dir(out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with(".intoto.jsonl"))
            .expect("an envelope in the bundle");
        let mut args: Vec<String> = vec![
            "verify".into(),
            "bundle".into(),
            "--envelope".into(),
            env.to_string_lossy().into(),
            "--artifacts".into(),
            artifacts.to_string_lossy().into(),
            "--signer-key".into(),
            out.join("signing-key.pub.pem").to_string_lossy().into(),
            "--ear".into(),
            out.join("evidence/ear.cose").to_string_lossy().into(),
            "--verifier-key".into(),
            self.result_key.to_string_lossy().into(),
            "--evidence".into(),
            out.join("evidence").to_string_lossy().into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        Command::new(bin("sealbuild-verifier"))
            .args(&args)
            .output()
            .unwrap()
    }
}

async fn setup(allowed_commit: &str) -> Env {
    let tpm = Tpm::manufacture();
    let log = tpm.simulate_boot();
    let v = TestVerifier::start(&tpm.ca_certs()).await;
    v.service
        .generate_key("ed25519", Some("release".into()))
        .await
        .unwrap();
    v.service
        .generate_key("ecdsa-p256", Some("platform".into()))
        .await
        .unwrap();
    let policy = reference_policy(
        &log,
        "ci-vm",
        &format!(
            "[[key]]\nid = \"release\"\nreferences = [\"ci-vm\"]\n[key.statement]\nsource_digests = [\"gitCommit:{allowed_commit}\"]\nbuild_types = [\"{}\"]\n[[key]]\nid = \"platform\"\nreferences = [\"ci-vm\"]\n",
            sealbuild_common::intoto::SEALBUILD_BUILD_TYPE
        ),
    );
    v.service.set_policy(policy).await.unwrap();
    let result_key = v.dir.path().join("result-key.pub.pem");
    std::fs::write(&result_key, v.service.result_key_pem().unwrap()).unwrap();
    let env = Env {
        tpm,
        v,
        state: tempfile::tempdir().unwrap(),
        result_key,
    };
    let r = env.agent(&["register"]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r));
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_build_bundle_verifies_offline_and_refusals_hold() {
    let work = tempfile::tempdir().unwrap();
    let src_x = work.path().join("x");
    let src_y = work.path().join("y");
    let commit_x = sample_repo(&src_x, "");
    let _commit_y = sample_repo(&src_y, "another build");
    let env = setup(&commit_x).await;

    // A sealed build of source X: accepted, bundle verifies offline.
    let out = work.path().join("bundle-x");
    let built = env.build(&src_x, &out, &["make"]);
    assert_eq!(built.status.code(), Some(0), "{}", text(&built));
    for f in [
        "x.intoto.jsonl",
        "signing-key.pub.pem",
        "evidence/ear.cose",
        "evidence/attest-request.json",
        "evidence/runtime.cel.json",
        "evidence/quote.msg",
        "evidence/quote.sig",
        "evidence/binary_bios_measurements",
        "artifacts/out/hello",
    ] {
        assert!(out.join(f).exists(), "bundle lacks {f}");
    }
    let ok = env.verify(&out, &out.join("artifacts"), &["--json"]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    let report: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    let checks: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    for c in [
        "dsse_signature",
        "statement",
        "subject:out/hello",
        "ear_signature",
        "ear_statement",
        "evidence_quote",
        "evidence_ear",
    ] {
        assert!(checks.contains(&c), "missing check {c}: {checks:?}");
    }
    // The statement is SLSA v1 provenance naming source X's commit.
    let line = std::fs::read(out.join("x.intoto.jsonl")).unwrap();
    let envl = sealbuild_common::dsse::Envelope::from_json(line.trim_ascii_end()).unwrap();
    let st = sealbuild_common::intoto::Statement::parse(&envl.payload).unwrap();
    let prov = st.provenance().unwrap();
    assert_eq!(
        prov.build_definition.resolved_dependencies[0].digest["gitCommit"],
        commit_x
    );
    assert!(
        prov.run_details.builder.id.contains("ci-vm"),
        "{}",
        prov.run_details.builder.id
    );

    // The Python peers accept the same bundle (scripts/verify-dsse.py).
    let py = Command::new("bash")
        .arg(repo().join("scripts/python-peers.sh"))
        .output()
        .unwrap();
    assert!(
        py.status.success(),
        "scripts/python-peers.sh failed: {}",
        text(&py)
    );
    let python = String::from_utf8(py.stdout).unwrap().trim().to_string();
    let peer = |artifacts: &Path| {
        Command::new(&python)
            .arg(repo().join("scripts/verify-dsse.py"))
            .arg(out.join("x.intoto.jsonl"))
            .arg(out.join("signing-key.pub.pem"))
            .arg(artifacts)
            .output()
            .unwrap()
    };
    let p = peer(&out.join("artifacts"));
    assert_eq!(p.status.code(), Some(0), "{}", text(&p));
    assert!(
        text(&p).contains("ok   securesystemslib") && text(&p).contains("ok   in-toto-attestation")
    );

    // One changed byte in an artefact: refused, naming the subject.
    let copy = work.path().join("tampered");
    std::fs::create_dir_all(copy.join("out")).unwrap();
    for f in ["hello", "hello.c"] {
        std::fs::copy(out.join("artifacts/out").join(f), copy.join("out").join(f)).unwrap();
    }
    let mut bytes = std::fs::read(copy.join("out/hello")).unwrap();
    bytes[100] ^= 1;
    std::fs::write(copy.join("out/hello"), &bytes).unwrap();
    let bad = env.verify(&out, &copy, &[]);
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    assert!(
        text(&bad).contains("FAIL subject:out/hello"),
        "{}",
        text(&bad)
    );

    // A key granted only to source X is refused for a build of source Y.
    let out_y = work.path().join("bundle-y");
    let by = env.build(&src_y, &out_y, &["make"]);
    assert_eq!(by.status.code(), Some(1), "{}", text(&by));
    assert!(
        text(&by).contains("statement_policy") && text(&by).contains("source digest"),
        "{}",
        text(&by)
    );
    assert!(
        !out_y.join("y.intoto.jsonl").exists(),
        "no envelope without a key"
    );

    // Reusing X's envelope with Y's artefacts fails.
    let src_y_out = src_y.join("out");
    assert!(src_y_out.join("hello").exists());
    let reuse = env.verify(&out, &src_y, &[]);
    assert_eq!(reuse.status.code(), Some(1), "{}", text(&reuse));
    assert!(
        text(&reuse).contains("FAIL subject:out/hello"),
        "{}",
        text(&reuse)
    );

    // A failing build: its exit code, no attestation, no key.
    let audit_before = env.v.store.audit_head().unwrap().seq;
    let out_f = work.path().join("bundle-fail");
    let failed = env.build(&src_x, &out_f, &["sh", "-c", "exit 7"]);
    assert_eq!(failed.status.code(), Some(7), "{}", text(&failed));
    assert!(text(&failed).contains("build failed"), "{}", text(&failed));
    let entries = env.v.store.audit_entries(audit_before + 1, 100).unwrap();
    assert!(
        entries.iter().all(|e| e.kind != "release"),
        "a failed build must release nothing"
    );

    // A tampered runtime log is refused (in-process, as an attacker would send it).
    let client = env.v.client();
    let ak = AkState::load(env.state.path()).unwrap();
    let agent_id = hex::encode(&ak.name);
    let cel_bytes = std::fs::read(out.join("evidence/runtime.cel.json")).unwrap();
    let req: sealbuild_common::api::AttestRequest =
        serde_json::from_slice(&std::fs::read(out.join("evidence/attest-request.json")).unwrap())
            .unwrap();
    let statement = req.statement.clone().unwrap();
    let mut collector = TpmCollector::new(
        TpmBackend::open(&env.tpm.tcti()).unwrap(),
        ak,
        "sha256:0,1,2,3,4,5,6,7,23".parse::<PcrSelection>().unwrap(),
        Some(boot_log()),
    );
    // The TPM's PCR 23 still holds X's build; the log claims another command.
    collector.set_runtime_log(Some(cel_bytes));
    let a = flow::attest_statement(&client, &mut collector, &agent_id, &statement, |r| {
        let Evidence::Tpm(t) = &mut r.evidence else {
            unreachable!("TPM collector")
        };
        let mut cel =
            sealbuild_common::cel::CelLog::parse(t.runtime_log.as_ref().unwrap()).unwrap();
        // Drop the command record and renumber: replay no longer gives PCR 23.
        cel.records.remove(1);
        for (i, rec) in cel.records.iter_mut().enumerate() {
            rec.recnum = i as u64;
        }
        t.runtime_log = Some(cel.to_json());
        r.keys = Some(vec!["release".into()]);
    })
    .await
    .unwrap();
    assert_eq!(a.response.verdict, Verdict::Rejected);
    assert!(a.keys.is_empty());
    assert!(
        a.response
            .reasons
            .iter()
            .any(|r| r.check == "runtime_log" && r.message.contains("PCR 23")),
        "{:#?}",
        a.response.reasons
    );

    // The platform-only key is still released to a plain attestation, and a
    // plain attestation cannot get the build key.
    let mut plain = TpmCollector::new(
        TpmBackend::open(&env.tpm.tcti()).unwrap(),
        AkState::load(env.state.path()).unwrap(),
        "sha256:0,1,2,3,4,5,6,7".parse::<PcrSelection>().unwrap(),
        Some(boot_log()),
    );
    let p = flow::attest(&client, &mut plain, &agent_id, None)
        .await
        .unwrap();
    assert_eq!(
        p.response.verdict,
        Verdict::Accepted,
        "{:#?}",
        p.response.reasons
    );
    let ids: BTreeMap<_, _> = p.keys.iter().map(|k| (k.key_id.clone(), ())).collect();
    assert!(
        ids.contains_key("platform") && !ids.contains_key("release"),
        "{ids:?}"
    );
    env.v.stop().await;
}
