//! The command lines users' scripts depend on, run as processes: exact flags,
//! output shapes and exit codes (0 accepted, 1 rejected, 2 usage/I-O), and
//! tpm2-tools interoperability in both directions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sealbuild_tests::{data, repo, require_tool, Tpm};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin(name: &str) -> PathBuf {
    // Cargo builds every workspace binary before integration tests run.
    let p = repo().join("target/debug").join(name);
    assert!(
        p.exists(),
        "{} not built (run cargo build --workspace)",
        p.display()
    );
    p
}

fn run(name: &str, args: &[&str]) -> Output {
    Command::new(bin(name)).args(args).output().unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn tpm2(tpm: &Tpm, dir: &Path, tool: &str, args: &[&str]) {
    require_tool(tool, "tpm2-tools");
    let o = Command::new(tool)
        .args(args)
        .current_dir(dir)
        .env("TPM2TOOLS_TCTI", tpm.tcti_string())
        .output()
        .unwrap();
    assert!(o.status.success(), "{tool} {args:?}: {}", text(&o));
    let _ = Command::new("tpm2_flushcontext")
        .arg("-t")
        .env("TPM2TOOLS_TCTI", tpm.tcti_string())
        .output();
}

#[test]
fn verify_tpm_accepts_tpm2_tools_quotes_and_rejects_tampering() {
    let tpm = Tpm::manufacture();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tpm2(
        &tpm,
        d,
        "tpm2_createek",
        &["-c", "ek.ctx", "-G", "rsa", "-u", "ek.pub"],
    );
    tpm2(
        &tpm,
        d,
        "tpm2_createak",
        &[
            "-C", "ek.ctx", "-c", "ak.ctx", "-G", "ecc", "-g", "sha256", "-s", "ecdsa", "-u",
            "ak.pub",
        ],
    );
    tpm2(
        &tpm,
        d,
        "tpm2_quote",
        &[
            "-c",
            "ak.ctx",
            "-l",
            "sha256:0,1,2,3,4,5,6,7",
            "-q",
            "c0ffee11",
            "-m",
            "quote.msg",
            "-s",
            "quote.sig",
            "-o",
            "quote.pcrs",
            "-g",
            "sha256",
        ],
    );
    let s = |f: &str| d.join(f).to_str().unwrap().to_string();
    let args = |nonce: &str| {
        vec![
            "verify".to_string(),
            "tpm".into(),
            "--ak-public".into(),
            s("ak.pub"),
            "--message".into(),
            s("quote.msg"),
            "--signature".into(),
            s("quote.sig"),
            "--nonce".into(),
            nonce.into(),
            "--pcrs".into(),
            s("quote.pcrs"),
            "--json".into(),
        ]
    };
    let a = args("c0ffee11");
    let ok = run(
        "sealbuild-verifier",
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(code(&ok), 0, "{}", text(&ok));
    let j: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(j["verdict"], "accepted");
    assert_eq!(j["pcrs"]["sha256"].as_object().unwrap().len(), 8);

    let a = args("c0ffee12");
    let wrong = run(
        "sealbuild-verifier",
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(code(&wrong), 1, "{}", text(&wrong));
    assert!(
        text(&wrong).contains("qualifying data (nonce) mismatch"),
        "{}",
        text(&wrong)
    );

    let mut msg = std::fs::read(d.join("quote.msg")).unwrap();
    let last = msg.len() - 1;
    msg[last] ^= 1;
    std::fs::write(d.join("quote.msg"), &msg).unwrap();
    let a = args("c0ffee11");
    let flipped = run(
        "sealbuild-verifier",
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(code(&flipped), 1, "{}", text(&flipped));

    // Files that do not parse are malformed evidence: a rejection (exit 1)
    // naming the structure, not a usage error.
    let bad = run(
        "sealbuild-verifier",
        &[
            "verify",
            "tpm",
            "--ak-public",
            &s("quote.sig"),
            "--message",
            &s("quote.msg"),
            "--signature",
            &s("quote.sig"),
            "--nonce",
            "00",
        ],
    );
    assert_eq!(code(&bad), 1, "{}", text(&bad));
    let t = text(&bad);
    assert!(
        t.contains("malformed_evidence") && t.contains("TPM2B_PUBLIC"),
        "{t}"
    );
    // A missing file stays an I/O error (exit 2).
    let missing = run(
        "sealbuild-verifier",
        &[
            "verify",
            "tpm",
            "--ak-public",
            "/nonexistent/ak.pub",
            "--message",
            &s("quote.msg"),
            "--signature",
            &s("quote.sig"),
            "--nonce",
            "00",
        ],
    );
    assert_eq!(code(&missing), 2, "{}", text(&missing));
}

#[test]
fn agent_quote_files_are_accepted_by_tpm2_checkquote() {
    require_tool("tpm2_checkquote", "tpm2-tools");
    let tpm = Tpm::manufacture();
    let out = tempfile::tempdir().unwrap();
    let o = run(
        "sealbuild-agent",
        &[
            "quote",
            "--tcti",
            &tpm.tcti_string(),
            "--nonce",
            "9009aabb",
            "--pcrs",
            "sha256:0,1,2,3,4,5,6,7",
            "--out",
            out.path().to_str().unwrap(),
        ],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    let check = |nonce: &str| {
        Command::new("tpm2_checkquote")
            .current_dir(out.path())
            .args([
                "-u",
                "ak.pub",
                "-m",
                "quote.msg",
                "-s",
                "quote.sig",
                "-f",
                "quote.pcrs",
                "-g",
                "sha256",
                "-q",
                nonce,
            ])
            .output()
            .unwrap()
    };
    let good = check("9009aabb");
    assert!(
        good.status.success(),
        "tpm2_checkquote refused: {}",
        text(&good)
    );
    assert!(
        !check("9009aabc").status.success(),
        "tpm2_checkquote accepted a wrong nonce"
    );
    // And our own verifier accepts the same files.
    let p = |f: &str| out.path().join(f).to_str().unwrap().to_string();
    let v = run(
        "sealbuild-verifier",
        &[
            "verify",
            "tpm",
            "--ak-public",
            &p("ak.pub"),
            "--message",
            &p("quote.msg"),
            "--signature",
            &p("quote.sig"),
            "--nonce",
            "9009aabb",
            "--pcrs",
            &p("quote.pcrs"),
        ],
    );
    assert_eq!(code(&v), 0, "{}", text(&v));
}

#[test]
fn gce_quote_verifies_only_with_nonce_9009() {
    let j: serde_json::Value = serde_json::from_slice(
        &std::fs::read(data(
            "tpm/go-tpm-tools/attestations/gce-cos-85-nonce9009.extracted.json",
        ))
        .unwrap(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tpmt = hex::decode(j["ak_pub_tpmt_public"].as_str().unwrap()).unwrap();
    let mut tpm2b = (tpmt.len() as u16).to_be_bytes().to_vec();
    tpm2b.extend_from_slice(&tpmt);
    let q = j["quotes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["pcr_bank"] == "sha256")
        .unwrap();
    let w = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_str().unwrap().to_string()
    };
    let ak = w("ak.pub", &tpm2b);
    let msg = w(
        "quote.msg",
        &hex::decode(q["attest_tpms_attest"].as_str().unwrap()).unwrap(),
    );
    let sig = w(
        "quote.sig",
        &hex::decode(q["signature_tpmt_signature"].as_str().unwrap()).unwrap(),
    );
    let verify = |nonce: &str| {
        run(
            "sealbuild-verifier",
            &[
                "verify",
                "tpm",
                "--ak-public",
                &ak,
                "--message",
                &msg,
                "--signature",
                &sig,
                "--nonce",
                nonce,
            ],
        )
    };
    let ok = verify("9009");
    assert_eq!(code(&ok), 0, "{}", text(&ok));
    for other in ["", "9008", "90", "0000"] {
        let r = verify(other);
        assert_eq!(code(&r), 1, "nonce '{other}': {}", text(&r));
    }
}

#[test]
fn eventlog_replay_json_matches_expected_pcrs() {
    let expected: serde_json::Value = serde_json::from_slice(
        &std::fs::read(data("tpm/go-tpm-tools/eventlogs/expected_pcrs.json")).unwrap(),
    )
    .unwrap();
    let mut checked = 0;
    for (log, want) in expected.as_object().unwrap() {
        if log.starts_with('_') {
            continue;
        }
        let path = data(&format!("tpm/go-tpm-tools/eventlogs/{log}"));
        let o = run(
            "sealbuild-verifier",
            &["eventlog", "replay", path.to_str().unwrap(), "--json"],
        );
        assert_eq!(code(&o), 0, "{log}: {}", text(&o));
        let got: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        for (bank, pcrs) in want["pcrs"].as_object().unwrap() {
            for (idx, value) in pcrs.as_object().unwrap() {
                assert_eq!(got[bank][idx], *value, "{log} {bank} PCR {idx}");
                checked += 1;
            }
        }
    }
    assert!(checked > 200, "only {checked} PCR values compared");
    let text_out = run(
        "sealbuild-verifier",
        &[
            "eventlog",
            "replay",
            data("tpm/go-tpm-tools/eventlogs/debian-10.bin")
                .to_str()
                .unwrap(),
        ],
    );
    assert_eq!(code(&text_out), 0);
    let garbage = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(garbage.path(), b"not an event log at all").unwrap();
    let bad = run(
        "sealbuild-verifier",
        &["eventlog", "replay", garbage.path().to_str().unwrap()],
    );
    assert_eq!(code(&bad), 2, "{}", text(&bad));
}

#[test]
fn audit_verify_names_a_changed_row() {
    let dir = tempfile::tempdir().unwrap();
    let st = dir.path().to_str().unwrap();
    for id in ["k1", "k2", "k3"] {
        let o = run(
            "sealbuild-verifier",
            &[
                "--state-dir",
                st,
                "keys",
                "generate",
                "--algorithm",
                "ecdsa-p256",
                "--id",
                id,
            ],
        );
        assert_eq!(code(&o), 0, "{}", text(&o));
    }
    let ok = run(
        "sealbuild-verifier",
        &["--state-dir", st, "audit", "verify"],
    );
    assert_eq!(code(&ok), 0, "{}", text(&ok));
    assert!(text(&ok).contains("3 entries, head 3:"), "{}", text(&ok));
    let list = run(
        "sealbuild-verifier",
        &["--state-dir", st, "audit", "list", "--json"],
    );
    let entries: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(entries.as_array().unwrap().len(), 3);

    // Someone with write access to the database file changes entry 2.
    let db = rusqlite::Connection::open(dir.path().join("verifier.db")).unwrap();
    db.execute_batch("DROP TRIGGER IF EXISTS audit_no_update;")
        .unwrap();
    let n = db
        .execute(
            "UPDATE audit SET body = replace(body, 'k2', 'kX') WHERE seq = 2",
            [],
        )
        .unwrap();
    assert_eq!(n, 1);
    drop(db);
    let broken = run(
        "sealbuild-verifier",
        &["--state-dir", st, "audit", "verify"],
    );
    assert_eq!(code(&broken), 1, "{}", text(&broken));
    assert!(text(&broken).contains("audit entry 2"), "{}", text(&broken));
}

#[test]
fn usage_errors_exit_2() {
    let o = run("sealbuild-verifier", &["verify", "tpm", "--nonce", "00"]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    let o = run(
        "sealbuild-agent",
        &[
            "quote", "--tcti", "bogus:x", "--nonce", "00", "--out", "/tmp/x",
        ],
    );
    assert_eq!(code(&o), 2, "{}", text(&o));
}
