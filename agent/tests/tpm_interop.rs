//! Interoperability with tpm2-tools 5.4 on swtpm: `tpm2_checkquote` accepts
//! the files of `sealbuild-agent quote`, our PCR file is byte-identical to
//! `tpm2_quote -o`, our EK public area is `tpm2_createek`'s, and
//! `tpm2_makecredential` challenges are recovered by ActivateCredential.

// Test crate: the helper functions outside #[test] fns fail loudly too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod tpm_support;

// The binary's `out!` (main.rs), as the included module expects it.
macro_rules! out {
    ($($t:tt)*) => {
        println!($($t)*)
    };
}

#[path = "../src/cli_quote.rs"]
mod cli_quote;

use cli_quote::{run_quote, QuoteArgs};
use sealbuild_agent::evidence::AgentError;
use sealbuild_agent::tpm::{AkType, EkSelection, EkType, TpmBackend};
use sealbuild_common::HashAlg;
use std::path::Path;
use tpm_support::*;

fn checkquote(dir: &Path, nonce_hex: &str, pcrs_file: &str) -> std::process::Output {
    let p = |f: &str| dir.join(f).display().to_string();
    run(
        "tpm2_checkquote",
        "tpm2-tools",
        &[
            "-u",
            &p("ak.pub"),
            "-m",
            &p("quote.msg"),
            "-s",
            &p("quote.sig"),
            "-f",
            &p(pcrs_file),
            "-g",
            "sha256",
            "-q",
            nonce_hex,
        ],
    )
}

fn flip(dir: &Path, from: &str, to: &str, offset_from_end: usize) {
    let mut bytes = std::fs::read(dir.join(from)).unwrap();
    let i = bytes.len() - offset_from_end;
    bytes[i] ^= 0x01;
    std::fs::write(dir.join(to), bytes).unwrap();
}

#[test]
fn checkquote_accepts_the_quote_subcommand_output() {
    require_tool("tpm2_checkquote", "tpm2-tools");
    for ak_type in [AkType::Ecc, AkType::Rsa] {
        let tpm = Swtpm::start();
        {
            // Non-zero PCRs so that the PCR file matters.
            let mut b = TpmBackend::open(&tpm.tcti()).unwrap();
            let d = HashAlg::Sha256.digest(b"boot");
            b.extend_pcr(0, &[(HashAlg::Sha256, &d)]).unwrap();
            b.extend_pcr(4, &[(HashAlg::Sha256, &d)]).unwrap();
        }
        let out = tempfile::tempdir().unwrap();
        let nonce = "5eed00112233445566778899aabbccddeeff00112233445566778899aabbccdd";
        run_quote(QuoteArgs {
            tcti: tpm.tcti(),
            nonce: nonce.into(),
            pcrs: "sha256:0,1,2,3,4,5,6,7".parse().unwrap(),
            out: out.path().to_path_buf(),
            ak_type,
        })
        .unwrap();
        let dir = out.path();
        for f in [
            "ak.pub",
            "ak.name",
            "ek.pub",
            "quote.msg",
            "quote.sig",
            "quote.pcrs",
        ] {
            assert!(dir.join(f).is_file(), "{f} written");
        }

        let ok = checkquote(dir, nonce, "quote.pcrs");
        assert!(
            ok.status.success(),
            "{ak_type}: tpm2_checkquote rejected our files: {}",
            String::from_utf8_lossy(&ok.stderr)
        );
        let stdout = String::from_utf8_lossy(&ok.stdout).to_lowercase();
        let pcr0 = hex::encode(HashAlg::Sha256.extend(&[0; 32], &HashAlg::Sha256.digest(b"boot")));
        assert!(stdout.contains(&pcr0), "{ak_type}: PCR 0 value in {stdout}");

        // Mutated twins: each must be rejected.
        let wrong_nonce = format!("{}00", &nonce[..nonce.len() - 2]);
        assert!(
            !checkquote(dir, &wrong_nonce, "quote.pcrs").status.success(),
            "{ak_type}: wrong nonce"
        );
        flip(dir, "quote.pcrs", "bad.pcrs", 100);
        assert!(
            !checkquote(dir, nonce, "bad.pcrs").status.success(),
            "{ak_type}: altered PCR value"
        );
        let good_msg = std::fs::read(dir.join("quote.msg")).unwrap();
        flip(dir, "quote.msg", "quote.msg", 40);
        assert!(
            !checkquote(dir, nonce, "quote.pcrs").status.success(),
            "{ak_type}: altered quote"
        );
        std::fs::write(dir.join("quote.msg"), good_msg).unwrap();
        flip(dir, "quote.sig", "quote.sig", 5);
        assert!(
            !checkquote(dir, nonce, "quote.pcrs").status.success(),
            "{ak_type}: altered signature"
        );
    }
}

#[test]
fn pcr_file_and_ek_match_tpm2_tools_byte_for_byte() {
    let tpm = Swtpm::start();
    {
        let mut b = TpmBackend::open(&tpm.tcti()).unwrap();
        for pcr in [0u32, 3, 9, 16] {
            let d256 = HashAlg::Sha256.digest(&pcr.to_be_bytes());
            let d1 = HashAlg::Sha1.digest(&pcr.to_be_bytes());
            b.extend_pcr(pcr, &[(HashAlg::Sha256, &d256), (HashAlg::Sha1, &d1)])
                .unwrap();
        }
    }
    let work = tempfile::tempdir().unwrap();
    let w = |f: &str| work.path().join(f).display().to_string();
    let nonce = "0102030405060708";
    // One list, two banks; and 34 digests over 5 lists with a bank split
    // across TPM2_PCR_Read calls.
    for (i, selection) in [
        "sha256:0,1,2,3,4,5,6,7+sha1:0,2",
        "sha1:0,1,2,3,4,5,6,7,8,9+sha256:all",
    ]
    .into_iter()
    .enumerate()
    {
        let ours = work.path().join(format!("ours{i}"));
        run_quote(QuoteArgs {
            tcti: tpm.tcti(),
            nonce: nonce.into(),
            pcrs: selection.parse().unwrap(),
            out: ours.clone(),
            ak_type: AkType::Ecc,
        })
        .unwrap();

        // tpm2-tools' own quote of the same PCRs.
        tpm.tpm2_ok(
            "tpm2_createek",
            &["-c", &w("ek.ctx"), "-G", "rsa", "-u", &w("ek.pub")],
        );
        tpm.tpm2_ok(
            "tpm2_createak",
            &[
                "-C",
                &w("ek.ctx"),
                "-c",
                &w("ak.ctx"),
                "-G",
                "ecc",
                "-g",
                "sha256",
                "-s",
                "ecdsa",
                "-u",
                &w("ak.pub"),
            ],
        );
        tpm.tpm2_ok("tpm2_flushcontext", &["-t"]);
        tpm.tpm2_ok(
            "tpm2_quote",
            &[
                "-c",
                &w("ak.ctx"),
                "-l",
                selection,
                "-q",
                nonce,
                "-m",
                &w("t.msg"),
                "-s",
                &w("t.sig"),
                "-o",
                &w("t.pcrs"),
                "-g",
                "sha256",
            ],
        );
        tpm.tpm2_ok("tpm2_flushcontext", &["-t"]);

        let theirs = std::fs::read(w("t.pcrs")).unwrap();
        let mine = std::fs::read(ours.join("quote.pcrs")).unwrap();
        assert_eq!(mine.len(), theirs.len(), "{selection}: PCR file length");
        assert_eq!(mine, theirs, "{selection}: PCR file bytes");
        // Same selection and PCR digest in both quotes.
        let a = parse_quote_attest(&std::fs::read(ours.join("quote.msg")).unwrap());
        let t = parse_quote_attest(&std::fs::read(w("t.msg")).unwrap());
        assert_eq!(a.selection, t.selection, "{selection}");
        assert_eq!(a.pcr_digest, t.pcr_digest, "{selection}");
        // With no certificate in NV our EK is RSA 2048, as tpm2_createek's.
        assert_eq!(
            std::fs::read(ours.join("ek.pub")).unwrap(),
            std::fs::read(w("ek.pub")).unwrap(),
            "EK TPM2B_PUBLIC identical to tpm2_createek -G rsa"
        );
        // tpm2_checkquote accepts the multi-list file as well.
        assert!(
            checkquote(&ours, nonce, "quote.pcrs").status.success(),
            "{selection}"
        );
    }

    // The ECC EK templates too (tpm2_createek -G ecc / ecc384).
    for (ek_type, alg) in [(EkType::EccP256, "ecc"), (EkType::EccP384, "ecc384")] {
        let ours = {
            let mut b = TpmBackend::open(&tpm.tcti()).unwrap();
            b.endorsement_key(EkSelection::Fixed(ek_type))
                .unwrap()
                .public
        };
        tpm.tpm2_ok(
            "tpm2_createek",
            &["-c", &w("e.ctx"), "-G", alg, "-u", &w("e.pub")],
        );
        tpm.tpm2_ok("tpm2_flushcontext", &["-t"]);
        assert_eq!(ours, std::fs::read(w("e.pub")).unwrap(), "{ek_type}");
    }
}

#[test]
fn activate_credential_recovers_tpm2_makecredential_secrets() {
    require_tool("tpm2_makecredential", "tpm2-tools");
    let tpm = Swtpm::start();
    let mut b = TpmBackend::open(&tpm.tcti()).unwrap();
    let work = tempfile::tempdir().unwrap();
    let w = |f: &str| work.path().join(f).display().to_string();
    let secret = HashAlg::Sha256.digest(b"the verifier's challenge");
    std::fs::write(w("secret.bin"), &secret).unwrap();

    let make = |ek_pub: &[u8], name: &[u8], out: &str| -> (Vec<u8>, Vec<u8>) {
        std::fs::write(w("ek.pub"), ek_pub).unwrap();
        let o = run(
            "tpm2_makecredential",
            "tpm2-tools",
            &[
                "-T",
                "none",
                "-e",
                &w("ek.pub"),
                "-s",
                &w("secret.bin"),
                "-n",
                &hex::encode(name),
                "-o",
                &w(out),
            ],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        parse_tpm2_tools_credential(&std::fs::read(w(out)).unwrap())
    };

    // Low-range EKs (policy session with PolicySecret) and the high-range
    // P-384 EK (userWithAuth, password).
    for ek_type in [EkType::Rsa2048, EkType::EccP256, EkType::EccP384] {
        let reg = b
            .register(EkSelection::Fixed(ek_type), AkType::Ecc)
            .unwrap();
        let (id, enc) = make(&reg.ek.public, &reg.ak.name, "cred.out");
        let got = b.activate_credential(&reg.ak, &id, &enc).unwrap();
        assert_eq!(got.as_slice(), secret.as_slice(), "{ek_type}");

        // Mutated twins.
        let mut bad_id = id.clone();
        let n = bad_id.len();
        bad_id[n - 3] ^= 0x01; // inside encIdentity: the integrity HMAC fails
        assert!(
            matches!(
                b.activate_credential(&reg.ak, &bad_id, &enc),
                Err(AgentError::TpmCommand {
                    command: "ActivateCredential",
                    ..
                })
            ),
            "{ek_type}: altered credential blob"
        );
        let mut bad_hmac = id.clone();
        bad_hmac[5] ^= 0x01; // inside integrityHMAC
        assert!(
            b.activate_credential(&reg.ak, &bad_hmac, &enc).is_err(),
            "{ek_type}: altered HMAC"
        );
        let mut bad_secret = enc.clone();
        let n = bad_secret.len();
        bad_secret[n / 2] ^= 0x01;
        assert!(
            b.activate_credential(&reg.ak, &id, &bad_secret).is_err(),
            "{ek_type}: altered seed"
        );
        let mut trailing = id.clone();
        trailing.push(0);
        assert!(matches!(
            b.activate_credential(&reg.ak, &trailing, &enc),
            Err(AgentError::Format { .. })
        ));
        // A credential made for another AK's Name does not activate with this AK.
        let other = b.create_ak(ek_type, AkType::Rsa).unwrap();
        let (id2, enc2) = make(&reg.ek.public, &other.name, "cred2.out");
        assert!(
            b.activate_credential(&reg.ak, &id2, &enc2).is_err(),
            "{ek_type}: other AK's credential"
        );
        assert_eq!(
            b.activate_credential(&other, &id2, &enc2)
                .unwrap()
                .as_slice(),
            secret.as_slice()
        );
    }
    let left = b.loaded_handles().unwrap();
    assert!(
        left.transient.is_empty() && left.sessions.is_empty(),
        "{left:?}"
    );
}
