//! tpm2-tools → our parsers and verifier, live: starts swtpm, creates an EK and
//! RSA (RSASSA and RSAPSS) and ECC (ECDSA) AKs with tpm2_createak, quotes with
//! tpm2_quote, and checks every produced file with our code; then writes PCR
//! files with our writer and has tpm2_checkquote accept them (and refuse a
//! tampered one).
//!
//! Needs swtpm and tpm2-tools (tpm2_createek, tpm2_createak, tpm2_quote,
//! tpm2_checkquote, tpm2_pcrextend, tpm2_flushcontext) on PATH; fails, saying
//! what is missing, when they are not.
// Test code: a failed unwrap, expect or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod quote_support;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sealbuild_common::tpm::{
    parse_tools_pcrs, write_tools_pcrs, Attest, PcrSelectionList, Public, Signature,
};
use sealbuild_common::HashAlg;
use sealbuild_verifier_core::quote::{verify_quote, QuoteError, QuoteOptions};

const TOOLS: [&str; 7] = [
    "swtpm",
    "tpm2_createek",
    "tpm2_createak",
    "tpm2_quote",
    "tpm2_checkquote",
    "tpm2_pcrextend",
    "tpm2_flushcontext",
];

fn require_tools() {
    let missing: Vec<&str> = TOOLS
        .iter()
        .copied()
        .filter(|t| {
            Command::new(t)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_err()
        })
        .collect();
    assert!(
        missing.is_empty(),
        "this test needs swtpm and tpm2-tools; not found on PATH: {} (Debian: apt-get install swtpm tpm2-tools)",
        missing.join(", ")
    );
}

/// A running swtpm and its state directory; both go away on drop.
struct Swtpm {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port_pair() -> u16 {
    // libtss2's swtpm TCTI always uses control port = data port + 1.
    for _ in 0..50 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let p = l.local_addr().unwrap().port();
        if p < u16::MAX && TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
    panic!("no free pair of adjacent TCP ports on 127.0.0.1");
}

fn start_swtpm() -> Swtpm {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!(
        "sealbuild-quote-test-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(dir.join("state")).unwrap();
    for _attempt in 0..5 {
        let port = free_port_pair();
        let mut child = Command::new("swtpm")
            .args(["socket", "--tpm2"])
            .args([
                "--server",
                &format!("type=tcp,port={port},bindaddr=127.0.0.1"),
            ])
            .args([
                "--ctrl",
                &format!("type=tcp,port={},bindaddr=127.0.0.1", port + 1),
            ])
            .args([
                "--tpmstate",
                &format!("dir={}", dir.join("state").display()),
            ])
            .args(["--flags", "not-need-init,startup-clear"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawning swtpm");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break; // exited (a port was taken meanwhile?): try another pair
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok()
                && TcpStream::connect(("127.0.0.1", port + 1)).is_ok()
            {
                return Swtpm { child, dir, port };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    let _ = std::fs::remove_dir_all(&dir);
    panic!("swtpm did not start listening (5 attempts)");
}

impl Swtpm {
    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// Runs a tpm2-tools command against this swtpm; panics with its output on failure.
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new(args[0])
            .args(&args[1..])
            .env(
                "TPM2TOOLS_TCTI",
                format!("swtpm:host=127.0.0.1,port={}", self.port),
            )
            .current_dir(&self.dir)
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", args[0]));
        assert!(
            out.status.success(),
            "{} failed ({}):\n{}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        self.run_quiet(&["tpm2_flushcontext", "-t"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn run_quiet(&self, args: &[&str]) {
        let status = Command::new(args[0])
            .args(&args[1..])
            .env(
                "TPM2TOOLS_TCTI",
                format!("swtpm:host=127.0.0.1,port={}", self.port),
            )
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("running {}: {e}", args[0]));
        assert!(status.success(), "{} failed", args.join(" "));
    }

    /// Runs a command and returns whether it succeeded (for expected refusals).
    fn succeeds(&self, args: &[&str]) -> bool {
        Command::new(args[0])
            .args(&args[1..])
            .env(
                "TPM2TOOLS_TCTI",
                format!("swtpm:host=127.0.0.1,port={}", self.port),
            )
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
    }
}

fn read(p: &str) -> Vec<u8> {
    std::fs::read(Path::new(p)).unwrap_or_else(|e| panic!("{p}: {e}"))
}

#[test]
fn tpm2_tools_quotes_verify_with_our_code() {
    require_tools();
    let tpm = start_swtpm();

    // Non-trivial PCR values in two banks.
    for i in [0u32, 4, 7, 9, 16] {
        let d256 = HashAlg::Sha256.digest(format!("boot component {i}").as_bytes());
        let d384 = HashAlg::Sha384.digest(format!("boot component {i}").as_bytes());
        let d1 = HashAlg::Sha1.digest(format!("boot component {i}").as_bytes());
        tpm.run(&[
            "tpm2_pcrextend",
            &format!(
                "{i}:sha256={},sha384={},sha1={}",
                hex::encode(d256),
                hex::encode(d384),
                hex::encode(d1)
            ),
        ]);
    }
    tpm.run(&["tpm2_createek", "-c", "ek.ctx", "-G", "rsa", "-u", "ek.pub"]);

    let selection = "sha256:0,1,2,3,4,5,6,7,8,9,16,23+sha384:0,4,7";
    let mut checked = 0;
    for (alg, scheme) in [("rsa", "rsassa"), ("ecc", "ecdsa"), ("rsa", "rsapss")] {
        let tag = format!("{alg}-{scheme}");
        let (akpub, akname, msg, sig, pcrs) = (
            tpm.path(&format!("{tag}.pub")),
            tpm.path(&format!("{tag}.name")),
            tpm.path(&format!("{tag}.msg")),
            tpm.path(&format!("{tag}.sig")),
            tpm.path(&format!("{tag}.pcrs")),
        );
        tpm.run(&[
            "tpm2_createak",
            "-C",
            "ek.ctx",
            "-c",
            "ak.ctx",
            "-G",
            alg,
            "-g",
            "sha256",
            "-s",
            scheme,
            "-u",
            &akpub,
            "-n",
            &akname,
        ]);
        let nonce = HashAlg::Sha256.digest(tag.as_bytes());
        let nonce_hex = hex::encode(&nonce);
        let mut quote = vec![
            "tpm2_quote",
            "-c",
            "ak.ctx",
            "-l",
            selection,
            "-q",
            nonce_hex.as_str(),
        ];
        quote.extend([
            "-m",
            msg.as_str(),
            "-s",
            sig.as_str(),
            "-o",
            pcrs.as_str(),
            "-g",
            "sha256",
        ]);
        if scheme == "rsapss" {
            quote.extend(["--scheme", "rsapss"]);
        }
        tpm.run(&quote);

        // tpm2_createak -u: TPM2B_PUBLIC; -n: the Name; tpm2_quote -m: TPMS_ATTEST; -s: TPMT_SIGNATURE; -o: serialized PCRs.
        let ak = Public::parse_tpm2b(&read(&akpub)).unwrap_or_else(|e| panic!("{tag} ak.pub: {e}"));
        assert_eq!(
            ak.to_tpm2b_bytes(),
            read(&akpub),
            "{tag}: TPM2B_PUBLIC round trip"
        );
        assert_eq!(ak.name(), read(&akname), "{tag}: our Name equals the TPM's");
        let attest = read(&msg);
        let a = Attest::parse(&attest).unwrap();
        assert_eq!(a.to_bytes(), attest);
        let signature = Signature::parse(&read(&sig)).unwrap();
        assert_eq!(signature.to_bytes(), read(&sig));
        let sel = a.quote().unwrap().pcr_select().clone();
        assert!(sel.same_pcrs(&PcrSelectionList::parse_tools_spec(selection).unwrap()));
        let values = parse_tools_pcrs(&read(&pcrs), &sel).unwrap();

        let ok = verify_quote(
            &ak,
            &attest,
            &signature,
            &nonce,
            &values,
            &QuoteOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{tag}: {e}"));
        assert_eq!(
            ok.pcrs.get(HashAlg::Sha256, 9).unwrap(),
            HashAlg::Sha256.extend(&[0; 32], &HashAlg::Sha256.digest(b"boot component 9"))
        );
        assert!(matches!(
            verify_quote(
                &ak,
                &attest,
                &signature,
                &nonce[1..],
                &values,
                &QuoteOptions::default()
            ),
            Err(QuoteError::QualifyingDataMismatch { .. })
        ));
        let mut tampered = values.clone();
        tampered.insert(HashAlg::Sha384, 7, &[0u8; 48]).unwrap();
        assert!(matches!(
            verify_quote(
                &ak,
                &attest,
                &signature,
                &nonce,
                &tampered,
                &QuoteOptions::default()
            ),
            Err(QuoteError::PcrDigestMismatch { .. })
        ));

        // Our writer: byte-identical to tpm2_quote's file, and tpm2_checkquote
        // accepts it (tpm2_checkquote 5.4 does not verify RSAPSS quotes from
        // swtpm at all, so that scheme is checked by our code only).
        let ours = write_tools_pcrs(&values, &sel).unwrap();
        assert_eq!(
            ours,
            read(&pcrs),
            "{tag}: writer output differs from tpm2_quote's"
        );
        let ours_path = tpm.path(&format!("{tag}.ours.pcrs"));
        std::fs::write(&ours_path, &ours).unwrap();
        let bad_path = tpm.path(&format!("{tag}.tampered.pcrs"));
        std::fs::write(&bad_path, write_tools_pcrs(&tampered, &sel).unwrap()).unwrap();
        if scheme != "rsapss" {
            let check = |file: &str| {
                tpm.succeeds(&[
                    "tpm2_checkquote",
                    "-u",
                    &akpub,
                    "-m",
                    &msg,
                    "-s",
                    &sig,
                    "-f",
                    file,
                    "-q",
                    &nonce_hex,
                    "-g",
                    "sha256",
                ])
            };
            assert!(
                check(&ours_path),
                "{tag}: tpm2_checkquote refused our PCR file"
            );
            assert!(
                !check(&bad_path),
                "{tag}: tpm2_checkquote accepted a tampered PCR file"
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 3);

    // A quote of the SHA-1 bank: refused by default, accepted when allowed.
    tpm.run(&[
        "tpm2_createak",
        "-C",
        "ek.ctx",
        "-c",
        "ak.ctx",
        "-G",
        "rsa",
        "-g",
        "sha256",
        "-s",
        "rsassa",
        "-u",
        "sha1.pub",
    ]);
    tpm.run(&[
        "tpm2_quote",
        "-c",
        "ak.ctx",
        "-l",
        "sha1:0,4,7",
        "-q",
        "0102",
        "-m",
        "sha1.msg",
        "-s",
        "sha1.sig",
        "-o",
        "sha1.pcrs",
        "-g",
        "sha256",
    ]);
    let ak = Public::parse_tpm2b(&read(&tpm.path("sha1.pub"))).unwrap();
    let attest = read(&tpm.path("sha1.msg"));
    let signature = Signature::parse(&read(&tpm.path("sha1.sig"))).unwrap();
    let sel = Attest::parse(&attest)
        .unwrap()
        .quote()
        .unwrap()
        .pcr_select()
        .clone();
    let values = parse_tools_pcrs(&read(&tpm.path("sha1.pcrs")), &sel).unwrap();
    assert!(matches!(
        verify_quote(
            &ak,
            &attest,
            &signature,
            &[1, 2],
            &values,
            &QuoteOptions::default()
        ),
        Err(QuoteError::Sha1NotAllowed { .. })
    ));
    verify_quote(
        &ak,
        &attest,
        &signature,
        &[1, 2],
        &values,
        &QuoteOptions { allow_sha1: true },
    )
    .unwrap();
}
