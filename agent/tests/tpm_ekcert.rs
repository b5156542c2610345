//! EK certificates read from NV on a swtpm provisioned like a manufactured
//! TPM (`swtpm_setup --create-ek-cert`: RSA 2048 EK certificate at
//! 0x01c00002, ECC P-384 at 0x01c00016, only the sha256 PCR bank active).

// Test crate: the helper functions outside #[test] fns fail loudly too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod tpm_support;

use sealbuild_agent::evidence::AgentError;
use sealbuild_agent::tpm::{AkType, EkSelection, EkType, PcrSelection, TpmBackend};
use std::path::Path;
use tpm_support::*;

/// Provisions `state` with EK certificates issued by a local CA in `ca`:
/// with scripts/swtpm-setup.sh when the project has it, else with
/// swtpm_setup and swtpm_localca configured to stay inside `ca`.
/// Returns true when the project script did it (it also writes the
/// certificates it put into NV to STATE_DIR/ek-certs/).
fn provision(state: &Path, ca: &Path) -> bool {
    let script = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/swtpm-setup.sh"
    ));
    if script.is_file() {
        let o = run(
            "bash",
            "bash",
            &[
                &script.display().to_string(),
                &state.display().to_string(),
                &ca.display().to_string(),
            ],
        );
        assert!(
            o.status.success(),
            "scripts/swtpm-setup.sh failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        return true;
    }
    require_tool("swtpm_localca", "swtpm-tools");
    let localca = ca.join("swtpm-localca.conf");
    std::fs::write(
        &localca,
        format!(
            "statedir = {d}\nsigningkey = {d}/signkey.pem\nissuercert = {d}/issuercert.pem\ncertserial = {d}/certserial\n",
            d = ca.display()
        ),
    )
    .unwrap();
    let setup = ca.join("swtpm_setup.conf");
    std::fs::write(
        &setup,
        format!(
            "create_certs_tool = swtpm_localca\ncreate_certs_tool_config = {}\ncreate_certs_tool_options = /dev/null\nactive_pcr_banks = sha256\n",
            localca.display()
        ),
    )
    .unwrap();
    let o = run(
        "swtpm_setup",
        "swtpm-tools",
        &[
            "--tpm2",
            "--tpm-state",
            &state.display().to_string(),
            "--create-ek-cert",
            "--config",
            &setup.display().to_string(),
            "--overwrite",
        ],
    );
    assert!(
        o.status.success(),
        "swtpm_setup failed: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    false
}

#[test]
fn ek_certificates_from_nv_match_the_ek() {
    let state = tempfile::tempdir().unwrap();
    let ca = tempfile::tempdir().unwrap();
    let by_script = provision(state.path(), ca.path());
    let tpm = Swtpm::start_with_state(state.path());
    let mut b = TpmBackend::open(&tpm.tcti()).unwrap();

    // Auto picks RSA 2048, the first type with a certificate.
    let reg = b.register(EkSelection::Auto, AkType::Ecc).unwrap();
    assert_eq!(reg.ek.ek_type, EkType::Rsa2048);
    let cert = reg
        .ek
        .certificate
        .clone()
        .expect("RSA EK certificate in NV");
    assert_eq!(cert.nv_index, 0x01c0_0002);
    let ek = parse_tpm2b_public(&reg.ek.public);
    assert_eq!(ek.unique.len(), 256);
    assert!(
        contains(&cert.der, &ek.unique),
        "the certificate carries the modulus of the EK the agent created"
    );
    assert_eq!(
        reg.register_request().ek_certificate,
        Some(cert.der.clone())
    );

    // The ECC EK swtpm_setup certifies is P-384 (high range).
    let ecc = b
        .endorsement_key(EkSelection::Fixed(EkType::EccP384))
        .unwrap();
    let ecc_cert = ecc
        .certificate
        .clone()
        .expect("ECC P-384 EK certificate in NV");
    assert_eq!(ecc_cert.nv_index, 0x01c0_0016);
    let (x, y) = parse_tpm2b_public(&ecc.public).ecc_xy.unwrap();
    let point = [&[0x04u8][..], &x, &y].concat();
    assert_eq!(point.len(), 97);
    assert!(
        contains(&ecc_cert.der, &point),
        "P-384 certificate carries the EK point"
    );
    assert!(!contains(&ecc_cert.der, &ek.unique));

    // The script keeps copies of the certificates it had written to NV.
    if by_script {
        let copy = |n: &str| std::fs::read(state.path().join("ek-certs").join(n)).unwrap();
        assert_eq!(cert.der, copy("ek-rsa2048.der"));
        assert_eq!(ecc_cert.der, copy("ek-secp384r1.der"));
    }

    // No P-256 certificate was provisioned.
    let e = b.ek_certificate(EkType::EccP256).unwrap_err();
    assert!(matches!(e, AgentError::MissingEkCertificate { .. }), "{e}");
    assert!(e.to_string().contains("0x01c0000a"), "{e}");

    // Only the sha256 bank is active: asking for sha1 says so, and nothing
    // stays loaded.
    let e = b
        .quote(
            &reg.ak,
            b"n",
            &"sha256:0+sha1:0".parse::<PcrSelection>().unwrap(),
        )
        .unwrap_err();
    assert!(
        matches!(&e, AgentError::PcrBankNotAllocated { bank, .. } if bank == "sha1"),
        "{e}"
    );
    let left = b.loaded_handles().unwrap();
    assert!(
        left.transient.is_empty() && left.sessions.is_empty(),
        "{left:?}"
    );
    b.quote(&reg.ak, b"n", &"sha256:0,1,2".parse().unwrap())
        .unwrap();
    drop(b);

    // Independent checks: tpm2_nvread returns the same bytes (our copy minus
    // padding), and openssl parses what we return as an X.509 certificate.
    for (c, idx) in [(&cert, "0x1c00002"), (&ecc_cert, "0x1c00016")] {
        let nv = state.path().join("nv.bin");
        tpm.tpm2_ok(
            "tpm2_nvread",
            &[idx, "-C", idx, "-o", &nv.display().to_string()],
        );
        let raw = std::fs::read(&nv).unwrap();
        assert!(raw.starts_with(&c.der), "{idx}");
        assert!(
            raw[c.der.len()..].iter().all(|b| *b == 0)
                || raw[c.der.len()..].iter().all(|b| *b == 0xff)
        );
        let der = state.path().join("cert.der");
        std::fs::write(&der, &c.der).unwrap();
        let o = run(
            "openssl",
            "openssl",
            &[
                "x509",
                "-inform",
                "DER",
                "-in",
                &der.display().to_string(),
                "-noout",
                "-issuer",
            ],
        );
        assert!(
            o.status.success(),
            "{idx}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}
