//! Sealed-build overhead: the same build command run plainly and through
//! `sealbuild-agent build` (preflight attestation, source digest, PCR 23
//! runtime log, hashing, statement, attestation, DSSE signing) on a
//! manufactured swtpm against a verifier on 127.0.0.1. Prints both times and
//! the overhead as a fraction of the plain build, measured in the same run.
//!
//! `cargo bench -p sealbuild-tests --bench build_overhead`
//! Environment: SEALBUILD_BENCH_BUILD_SECS (default 60), the build's length.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sealbuild_tests::{boot_log, reference_policy, repo, TestVerifier, Tpm};
use std::process::Command;
use std::time::Instant;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let secs: u64 = std::env::var("SEALBUILD_BENCH_BUILD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let tpm = Tpm::manufacture();
    let log = tpm.simulate_boot();
    let v = TestVerifier::start(&tpm.ca_certs()).await;
    v.service
        .generate_key("ed25519", Some("release".into()))
        .await
        .unwrap();
    let policy = reference_policy(
        &log,
        "bench",
        "[[key]]\nid = \"release\"\nreferences = [\"bench\"]\n[key.statement]\nbuild_types = [\"https://sealbuild.invalid/build-types/sealed-build/v1\"]\n",
    );
    v.service.set_policy(policy).await.unwrap();
    let state = tempfile::tempdir().unwrap();
    let agent = repo().join("target/release/sealbuild-agent");
    let agent = if agent.exists() {
        agent
    } else {
        repo().join("target/debug/sealbuild-agent")
    };
    let common = |sub: &str| {
        let mut c = Command::new(&agent);
        c.arg(sub).args([
            "--verifier",
            &v.url,
            "--verifier-ca",
            v.ca_pem.to_str().unwrap(),
            "--tcti",
            &tpm.tcti_string(),
            "--state-dir",
            state.path().to_str().unwrap(),
        ]);
        c
    };
    assert!(common("register").status().unwrap().success());
    let src = tempfile::tempdir().unwrap();
    // The "build": sleeps, then writes a 64 MiB output.
    let script = format!("sleep {secs} && mkdir -p out && head -c 67108864 /dev/zero > out/blob");
    let plain_start = Instant::now();
    assert!(Command::new("sh")
        .args(["-c", &script])
        .current_dir(src.path())
        .status()
        .unwrap()
        .success());
    let plain = plain_start.elapsed();
    std::fs::remove_dir_all(src.path().join("out")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let sealed_start = Instant::now();
    let st = common("build")
        .args([
            "--key",
            "release",
            "--out",
            out.path().join("b").to_str().unwrap(),
        ])
        .args([
            "--source",
            src.path().to_str().unwrap(),
            "--artifacts",
            "out/*",
        ])
        .args([
            "--eventlog",
            boot_log().to_str().unwrap(),
            "--",
            "sh",
            "-c",
            &script,
        ])
        .status()
        .unwrap();
    let sealed = sealed_start.elapsed();
    assert!(st.success(), "sealed build failed");
    let overhead = sealed.as_secs_f64() - plain.as_secs_f64();
    println!("plain build:  {:.2} s", plain.as_secs_f64());
    println!("sealed build: {:.2} s", sealed.as_secs_f64());
    println!(
        "overhead:     {:.2} s = {:.2} % of the plain build (target: <= 2 % plus one attestation)",
        overhead,
        100.0 * overhead / plain.as_secs_f64()
    );
    v.stop().await;
}
