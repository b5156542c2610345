//! Interoperability of our software TPM2_MakeCredential with a real TPM:
//! swtpm (manufactured by scripts/swtpm-setup.sh) runs TPM2_ActivateCredential
//! through tpm2-tools 5.4 on what `make_credential` produced, and must return
//! exactly our credential. One flipped byte, or a credential bound to another
//! Name, must make activation fail.
//!
//! EKs covered: RSA 2048 (`tpm2_createek -G rsa`, template L-1: SHA-256,
//! AES-128-CFB), NIST P-256 (`tpm2_createek -G ecc`, template L-2) and the
//! NIST P-384 high-range EK swtpm_setup made at 0x81010016 (template H-3:
//! SHA-384, AES-256-CFB; userWithAuth, so it is authorised by its empty
//! password rather than PolicySecret).

// Test code: failures are meant to panic with a message (clippy.toml allows
// this inside #[test] functions; the helpers here need it too).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod credential_swtpm;

use credential_swtpm::{ek_public_from_tpm2b, Swtpm};
use rand_core::{OsRng, RngCore};
use sealbuild_common::HashAlg;
use sealbuild_verifier_core::credential::{make_credential, EkCurve, EkKey, MadeCredential};

/// How the EK is named and authorised for tpm2_activatecredential.
enum EkAuth {
    /// A saved context `ek.ctx` whose policy is PolicySecret(TPM_RH_ENDORSEMENT)
    /// with SHA-256 (templates L-1, L-2).
    PolicySecret,
    /// A persistent handle authorised by its (empty) password.
    Password(&'static str),
}

impl EkAuth {
    fn ek_arg(&self) -> &'static str {
        match self {
            Self::PolicySecret => "ek.ctx",
            Self::Password(handle) => handle,
        }
    }
}

/// Writes `cred` as a tpm2-tools credential file and runs ActivateCredential
/// with ak.ctx and the EK; returns the recovered secret, or the tool's stderr.
fn activate(
    tpm: &Swtpm,
    auth: &EkAuth,
    cred: &MadeCredential,
    tag: &str,
) -> Result<Vec<u8>, String> {
    let cred_file = format!("cred-{tag}.bin");
    let out_file = format!("out-{tag}.bin");
    tpm.write(&cred_file, &cred.to_tpm2_tools_file());
    let _ = std::fs::remove_file(tpm.file(&out_file));
    let mut args = vec![
        "-c",
        "ak.ctx",
        "-C",
        auth.ek_arg(),
        "-i",
        &cred_file,
        "-o",
        &out_file,
    ];
    if let EkAuth::PolicySecret = auth {
        tpm.tpm2(
            "tpm2_startauthsession",
            &["--policy-session", "-S", "s.ctx"],
        );
        tpm.tpm2("tpm2_policysecret", &["-S", "s.ctx", "-c", "e"]);
        args.extend(["-P", "session:s.ctx"]);
    }
    let out = tpm.try_tpm2("tpm2_activatecredential", &args);
    if let EkAuth::PolicySecret = auth {
        // The session may already be gone after a failed command.
        let _ = tpm.try_tpm2("tpm2_flushcontext", &["s.ctx"]);
    }
    tpm.flush();
    if out.status.success() {
        Ok(tpm.read(&out_file))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn flipped(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[at] ^= 0x01;
    b
}

/// The whole exchange for one EK: our MakeCredential, activation by the TPM,
/// then tampered blobs and a wrong Name that must be refused.
fn round_trip(
    tpm: &Swtpm,
    auth: EkAuth,
    ek_pub_file: &str,
    expect_name_alg: HashAlg,
    expect_sym_bits: u16,
) {
    let ek = ek_public_from_tpm2b(&tpm.read(ek_pub_file));
    assert_eq!(ek.name_alg, expect_name_alg);
    assert_eq!(ek.sym_key_bits, expect_sym_bits);
    let ak_name = tpm.read("ak.name");
    assert_eq!(ak_name.len(), 34, "AK Name is sha256 alg id + digest");

    let mut secret = vec![0u8; ek.name_alg.size()];
    OsRng.fill_bytes(&mut secret);
    let made = make_credential(&ek, &ak_name, &secret, &mut OsRng).unwrap();

    // Same shape as tpm2_makecredential's own output for this EK.
    let hex_name = hex::encode(&ak_name);
    tpm.write("secret.bin", &secret);
    tpm.tpm2(
        "tpm2_makecredential",
        &[
            "-T",
            "none",
            "-e",
            ek_pub_file,
            "-s",
            "secret.bin",
            "-n",
            &hex_name,
            "-o",
            "theirs.bin",
        ],
    );
    let theirs = tpm.read("theirs.bin");
    let ours = made.to_tpm2_tools_file();
    // Same size, except where tpm2_makecredential's random ephemeral ECC
    // point has a coordinate with leading zero bytes: OpenSSL writes those
    // shorter, sealbuild at the curve size (both are valid TPM2B_ECC_POINTs).
    // Each coordinate loses a byte with probability 1/256.
    let shorter_by = ours.len().saturating_sub(theirs.len());
    let ecc = matches!(ek.key, EkKey::Ecc { .. });
    assert!(
        theirs.len() <= ours.len() && (shorter_by == 0 || (ecc && shorter_by <= 4)),
        "credential file size differs from tpm2_makecredential's: ours {}, theirs {}",
        ours.len(),
        theirs.len()
    );
    assert_eq!(theirs[..8], ours[..8], "magic/version");
    assert_eq!(
        theirs[8..12],
        ours[8..12],
        "TPM2B_ID_OBJECT size and HMAC size"
    );

    // The TPM recovers exactly our credential.
    let recovered =
        activate(tpm, &auth, &made, "good").unwrap_or_else(|e| panic!("activation failed: {e}"));
    assert_eq!(
        recovered, secret,
        "ActivateCredential returned a different secret"
    );

    // A second, independent MakeCredential with a short credential also works.
    let short = b"sealbuild".to_vec();
    let made2 = make_credential(&ek, &ak_name, &short, &mut OsRng).unwrap();
    assert_ne!(
        made2.encrypted_secret, made.encrypted_secret,
        "seed must be fresh"
    );
    assert_eq!(activate(tpm, &auth, &made2, "short").unwrap(), short);

    // One flipped bit anywhere after the size fields: integrity HMAC, the
    // encrypted credential, or the encrypted seed -> refused.
    let id = &made.id_object;
    let hmac_at = 4;
    let enc_identity_first = 4 + ek.name_alg.size();
    for (what, at) in [
        ("integrityHMAC", hmac_at),
        ("integrityHMAC (last byte)", enc_identity_first - 1),
        ("encIdentity (size field)", enc_identity_first),
        ("encIdentity (last byte)", id.len() - 1),
    ] {
        let bad = MadeCredential {
            id_object: flipped(id, at),
            encrypted_secret: made.encrypted_secret.clone(),
        };
        let r = activate(tpm, &auth, &bad, &format!("bad-id-{at}"));
        assert!(
            r.is_err(),
            "TPM accepted an id_object with a flipped bit in {what} (offset {at})"
        );
    }
    let es = &made.encrypted_secret;
    for at in [2, es.len() / 2, es.len() - 1] {
        let bad = MadeCredential {
            id_object: made.id_object.clone(),
            encrypted_secret: flipped(es, at),
        };
        let r = activate(tpm, &auth, &bad, &format!("bad-es-{at}"));
        assert!(
            r.is_err(),
            "TPM accepted an encrypted_secret with a flipped bit at offset {at}"
        );
    }

    // Bound to another Name (the AK Name with one digest bit flipped): the
    // TPM's HMAC over encIdentity || Name of the loaded AK does not match.
    let other_name = flipped(&ak_name, 10);
    let wrong = make_credential(&ek, &other_name, &secret, &mut OsRng).unwrap();
    let r = activate(tpm, &auth, &wrong, "wrong-name");
    assert!(
        r.is_err(),
        "TPM activated a credential made for another Name"
    );
}

fn create_ak_under(tpm: &Swtpm, ek_type: &str) {
    tpm.tpm2(
        "tpm2_createek",
        &["-G", ek_type, "-c", "ek.ctx", "-u", "ek.pub"],
    );
    tpm.tpm2(
        "tpm2_createak",
        &[
            "-C", "ek.ctx", "-c", "ak.ctx", "-G", "ecc", "-u", "ak.pub", "-n", "ak.name",
        ],
    );
    tpm.flush();
}

#[test]
fn rsa_2048_ek_activates_our_credential() {
    let tpm = Swtpm::start("cred-rsa");
    create_ak_under(&tpm, "rsa");
    round_trip(&tpm, EkAuth::PolicySecret, "ek.pub", HashAlg::Sha256, 128);
}

#[test]
fn ecc_p256_ek_activates_our_credential() {
    let tpm = Swtpm::start("cred-p256");
    create_ak_under(&tpm, "ecc");
    let ek = ek_public_from_tpm2b(&tpm.read("ek.pub"));
    assert!(matches!(
        ek.key,
        EkKey::Ecc {
            curve: EkCurve::P256,
            ..
        }
    ));
    round_trip(&tpm, EkAuth::PolicySecret, "ek.pub", HashAlg::Sha256, 128);
}

#[test]
fn ecc_p384_high_range_ek_activates_our_credential() {
    let tpm = Swtpm::start("cred-p384");
    // The AK's parent does not matter to ActivateCredential; only its Name.
    create_ak_under(&tpm, "rsa");
    tpm.tpm2("tpm2_readpublic", &["-c", "0x81010016", "-o", "ek384.pub"]);
    tpm.flush();
    let ek = ek_public_from_tpm2b(&tpm.read("ek384.pub"));
    assert!(matches!(
        ek.key,
        EkKey::Ecc {
            curve: EkCurve::P384,
            ..
        }
    ));
    round_trip(
        &tpm,
        EkAuth::Password("0x81010016"),
        "ek384.pub",
        HashAlg::Sha384,
        256,
    );
}
