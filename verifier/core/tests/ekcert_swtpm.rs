//! The EK certificates our CI TPM produces chain with our verifier.
//!
//! `scripts/swtpm-setup.sh STATE CA` runs `swtpm_setup --tpm2 --create-ek-cert
//! --config CA/swtpm_setup.conf`, whose `create_certs_tool` is
//! `/usr/bin/swtpm_localca` (Debian 12 also ships the wrapper
//! `/usr/share/swtpm/swtpm-localca`) with `create_certs_tool_config =
//! CA/swtpm-localca.conf` (`statedir`, `signingkey = CA/signkey.pem`,
//! `issuercert = CA/issuercert.pem`, `certserial`) and
//! `create_certs_tool_options = CA/swtpm-localca.options`. On first use
//! swtpm_localca creates a root CA (`CA/swtpm-localca-rootca-cert.pem`,
//! "CN=swtpm-localca-rootca", RSA-3072, self-signed) and the signing CA
//! (`CA/issuercert.pem` + `signkey.pem`, "CN=swtpm-localca", issued by the
//! root); EK certificates are issued by the latter. swtpm 0.7.1 makes an
//! RSA-2048 EK (persistent 0x81010001, certificate in NV 0x01c00002) and an
//! ECC NIST P-384 EK (0x81010016, NV 0x01c00016); the script also writes DER
//! copies (`CA/ca-certs/*.der`, `STATE/ek-certs/*.der`).
//!
//! The test reads the certificates out of the running TPM's NV (tpm2_nvread),
//! checks they are the files the script wrote, verifies them against the
//! local root with the signing CA as untrusted intermediate, and matches the
//! certified keys with the TPM's EK public areas (tpm2_readpublic).

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
use sealbuild_verifier_core::credential::{EkCurve, EkKey};
use sealbuild_verifier_core::ekcert::{
    ek_public_matches_cert, verify_ek_cert_chain, EkCertError, EkCertKey, TrustAnchors,
};
use std::time::{SystemTime, UNIX_EPOCH};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn swtpm_ek_certificates_chain_to_the_local_ca() {
    let tpm = Swtpm::start("ekcert");
    let root = std::fs::read(tpm.ca.join("ca-certs/swtpm-localca-rootca.der")).unwrap();
    let signer = std::fs::read(tpm.ca.join("ca-certs/swtpm-localca.der")).unwrap();
    let anchors = TrustAnchors::from_der([&root]).unwrap();
    assert_eq!(anchors.subjects(), ["CN=swtpm-localca-rootca"]);
    let t = now();

    for (nv, handle, file, is_rsa) in [
        ("0x01c00002", "0x81010001", "ek-rsa2048", true),
        ("0x01c00016", "0x81010016", "ek-secp384r1", false),
    ] {
        // The certificate as the TPM holds it.
        let out = format!("{file}.nv.der");
        tpm.tpm2("tpm2_nvread", &[nv, "-C", "o", "-o", &out]);
        let cert = tpm.read(&out);
        let written = std::fs::read(tpm.state.join(format!("ek-certs/{file}.der"))).unwrap();
        assert_eq!(
            cert, written,
            "{nv}: NV content differs from the file swtpm-setup.sh wrote"
        );

        let v = verify_ek_cert_chain(&cert, &[&signer], &anchors, t)
            .unwrap_or_else(|e| panic!("{nv}: {e}"));
        assert_eq!(
            v.chain,
            ["CN=unknown", "CN=swtpm-localca", "CN=swtpm-localca-rootca"],
            "{nv}"
        );
        assert!(v.is_ek_certificate(), "{nv}: {:?}", v.ext_key_usage);
        let tpm_id = v.tpm.as_ref().expect("TCG SAN");
        assert_eq!(
            tpm_id.manufacturer.as_deref(),
            Some("id:00001014"),
            "IBM vendor id"
        );
        assert_eq!(tpm_id.model.as_deref(), Some("swtpm"));
        assert_eq!(tpm_id.version_id(), Some(0x2019_1023));
        let spec = v.tpm_spec.as_ref().expect("tcg-at-tpmSpecification");
        assert_eq!(
            (spec.family.as_str(), spec.level, spec.revision),
            ("2.0", 0, 164)
        );
        assert_eq!(v.key_usage.key_encipherment, is_rsa, "{nv}");
        assert_eq!(v.key_usage.key_agreement, !is_rsa, "{nv}");

        // The certified key is the TPM's EK.
        let pub_file = format!("{file}.pub");
        tpm.tpm2("tpm2_readpublic", &["-c", handle, "-o", &pub_file]);
        let ek = ek_public_from_tpm2b(&tpm.read(&pub_file));
        ek_public_matches_cert(&v.public_key, &ek).unwrap_or_else(|e| panic!("{nv}: {e}"));
        match (&v.public_key, &ek.key) {
            (EkCertKey::Rsa { n, .. }, EkKey::Rsa { .. }) => assert_eq!(n.len(), 256),
            (EkCertKey::Ecc { curve, .. }, EkKey::Ecc { .. }) => assert_eq!(*curve, EkCurve::P384),
            other => panic!("{nv}: {other:?}"),
        }

        // Refusals: no intermediate, no anchor, the signing CA as leaf,
        // a flipped byte, before the certificate existed.
        assert!(matches!(
            verify_ek_cert_chain(&cert, &[], &anchors, t),
            Err(EkCertError::NoIssuer { .. })
        ));
        assert!(matches!(
            verify_ek_cert_chain(&cert, &[&signer], &TrustAnchors::default(), t),
            Err(EkCertError::NoIssuer { .. })
        ));
        assert!(matches!(
            verify_ek_cert_chain(&signer, &[], &anchors, t),
            Err(EkCertError::LeafIsCa { .. })
        ));
        let mut bad = cert.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(matches!(
            verify_ek_cert_chain(&bad, &[&signer], &anchors, t),
            Err(EkCertError::BadSignature { .. })
        ));
        assert!(matches!(
            verify_ek_cert_chain(&cert, &[&signer], &anchors, v.not_before - 1),
            Err(EkCertError::NotYetValid { .. })
        ));
        // Trusting the signing CA directly is a valid, shorter path.
        let short =
            verify_ek_cert_chain(&cert, &[], &TrustAnchors::from_der([&signer]).unwrap(), t)
                .unwrap();
        assert_eq!(short.chain.len(), 2);
    }
    tpm.flush();

    // The other EK's key does not match this certificate.
    let rsa_cert = tpm.read("ek-rsa2048.nv.der");
    let v = verify_ek_cert_chain(&rsa_cert, &[&signer], &anchors, t).unwrap();
    let ecc_ek = ek_public_from_tpm2b(&tpm.read("ek-secp384r1.pub"));
    let err = ek_public_matches_cert(&v.public_key, &ecc_ek).unwrap_err();
    assert!(
        err.to_string()
            .contains("key type: certificate has RSA-2048, TPM has ECC P-384"),
        "{err}"
    );
}

#[test]
fn setup_script_is_idempotent_and_keeps_the_ca() {
    let tpm = Swtpm::start("ekcert-idem");
    let root_before = std::fs::read(tpm.ca.join("swtpm-localca-rootca-cert.pem")).unwrap();
    let ek_before = std::fs::read(tpm.state.join("ek-certs/ek-rsa2048.der")).unwrap();
    // Second run on the same directories (swtpm holds the state): no change.
    let out = std::process::Command::new("bash")
        .arg(credential_swtpm::SETUP_SCRIPT)
        .arg(&tpm.state)
        .arg(&tpm.ca)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "not quiet");
    assert_eq!(
        std::fs::read(tpm.ca.join("swtpm-localca-rootca-cert.pem")).unwrap(),
        root_before
    );
    assert_eq!(
        std::fs::read(tpm.state.join("ek-certs/ek-rsa2048.der")).unwrap(),
        ek_before
    );
    // A second TPM from the same CA gets its own EK, issued by the same CA.
    let other_state = tpm.work.join("state2");
    let out = std::process::Command::new("bash")
        .arg(credential_swtpm::SETUP_SCRIPT)
        .arg(&other_state)
        .arg(&tpm.ca)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let other = std::fs::read(other_state.join("ek-certs/ek-rsa2048.der")).unwrap();
    assert_ne!(other, ek_before);
    let anchors =
        TrustAnchors::from_der([
            std::fs::read(tpm.ca.join("ca-certs/swtpm-localca-rootca.der")).unwrap(),
        ])
        .unwrap();
    let signer = std::fs::read(tpm.ca.join("ca-certs/swtpm-localca.der")).unwrap();
    verify_ek_cert_chain(&other, &[&signer], &anchors, now()).unwrap();
    // Wrong usage is refused with a usage line.
    let out = std::process::Command::new("bash")
        .arg(credential_swtpm::SETUP_SCRIPT)
        .arg(&other_state)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: swtpm-setup.sh STATE_DIR CA_DIR"));
}
