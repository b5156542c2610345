//! The simulator against the real verifier, AMD's real Genoa chain and the
//! committed test chain (what `gen-test-chain.sh` says it makes).

// Test helpers outside #[test] functions may panic: a panic is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use der::{Decode, Encode};
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::{Pss, RsaPublicKey};
use sealbuild_common::snp::{AttestationReport, SnpProduct, TcbLayout, TcbVersion, SIGNED_LEN};
use sealbuild_insecure_snp_sim::{InsecureSimulatedSnp as Sim, SimConfig, CHIP_ID_SEED};
use sealbuild_verifier_core::ekcert::EkCertError;
use sealbuild_verifier_core::snp::{verify_report, AmdCertExtensions, AmdChain, SnpError};
use sha2::{Digest, Sha384};
use x509_cert::Certificate;

const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn test_chain() -> AmdChain<'static> {
    AmdChain {
        ark_der: Sim::ark_der(),
        ask_der: Sim::ask_der(),
    }
}

fn read(rel: &str) -> Vec<u8> {
    let p = format!("{MANIFEST}/{rel}");
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// The DER certificates of a PEM file, in order.
fn pem_certs(rel: &str) -> Vec<Vec<u8>> {
    Certificate::load_pem_chain(&read(rel))
        .unwrap()
        .iter()
        .map(|c| c.to_der().unwrap())
        .collect()
}

fn amd_genoa() -> (Vec<u8>, Vec<u8>) {
    let ark = pem_certs("../../tests/data/sev-snp/amd-roots/genoa/ark.pem");
    let ask = pem_certs("../../tests/data/sev-snp/amd-roots/genoa/ask.pem");
    assert_eq!((ark.len(), ask.len()), (1, 1));
    (ark[0].clone(), ask[0].clone())
}

fn configured() -> (SimConfig, [u8; 64]) {
    let config = SimConfig {
        measurement: core::array::from_fn(|i| i as u8),
        policy: 0x3_0000 | (1 << 8) | 51, // ABI minimum 1.51
        host_data: [0x5a; 32],
        guest_svn: 3,
        ..SimConfig::default()
    };
    let mut rd = [0u8; 64];
    rd[..32].copy_from_slice(&Sha384::digest(b"binding")[..32]);
    (config, rd)
}

#[test]
fn sim_report_verifies_with_the_test_chain() {
    let (config, rd) = configured();
    let sim = Sim::new(config.clone()).unwrap();
    let bytes = sim.report(&rd).unwrap();
    let v = verify_report(
        &bytes,
        Sim::vcek_der(),
        test_chain(),
        Some(SnpProduct::Genoa),
        now(),
    )
    .unwrap();
    assert_eq!(v.report.report_data, rd);
    assert_eq!(v.report.measurement, config.measurement);
    assert_eq!(v.report.policy.0, config.policy);
    assert_eq!(v.report.host_data, config.host_data);
    assert_eq!(v.report.guest_svn, 3);
    assert_eq!(v.product, Some(SnpProduct::Genoa));
    assert_eq!(v.report.chip_id, Sim::chip_id());
    assert_eq!(v.report.reported_tcb.0, Sim::reported_tcb());
    assert_eq!(v.signer.serial, vec![0]);
    assert_eq!(v.signer.chain.len(), 3);
    for (subject, cn) in v.signer.chain.iter().zip([
        "SEV-VCEK INSECURE TEST",
        "SEV-Genoa INSECURE TEST ASK",
        "SEV-Genoa INSECURE TEST ARK",
    ]) {
        assert!(subject.contains(&format!("CN={cn}")), "{subject}");
    }
    assert_eq!(v.signer_ext.product_name, "Genoa");

    // Without an expected product the CPUID decides: Genoa.
    let v = verify_report(&bytes, Sim::vcek_der(), test_chain(), None, now()).unwrap();
    assert_eq!(v.product, Some(SnpProduct::Genoa));
}

#[test]
fn sim_report_verifies_over_the_whole_validity_window_only() {
    let sim = Sim::new(SimConfig::default()).unwrap();
    let bytes = sim.report(&[7; 64]).unwrap();
    let at = |t| verify_report(&bytes, Sim::vcek_der(), test_chain(), None, t);
    at(1_704_067_200).unwrap(); // 2024-01-01T00:00:00Z
    at(2_524_607_999).unwrap(); // 2049-12-31T23:59:59Z
    assert!(matches!(
        at(1_704_067_199),
        Err(SnpError::Chain(EkCertError::NotYetValid { .. }))
    ));
    assert!(matches!(
        at(2_524_608_000),
        Err(SnpError::Chain(EkCertError::Expired { .. }))
    ));
}

#[test]
fn sim_report_refused_by_amds_genoa_chain() {
    let (ark, ask) = amd_genoa();
    let sim = Sim::new(SimConfig::default()).unwrap();
    let bytes = sim.report(&[1; 64]).unwrap();
    let amd = AmdChain {
        ark_der: &ark,
        ask_der: &ask,
    };
    let err =
        verify_report(&bytes, Sim::vcek_der(), amd, Some(SnpProduct::Genoa), now()).unwrap_err();
    // The test VCEK's issuer is no AMD certificate.
    assert!(
        matches!(err, SnpError::Chain(EkCertError::NoIssuer { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("INSECURE TEST ASK"), "{err}");
    // Neither half of AMD's chain can stand in: the test ASK under AMD's ARK,
    // or AMD's ASK under the test ARK.
    for chain in [
        AmdChain {
            ark_der: &ark,
            ask_der: Sim::ask_der(),
        },
        AmdChain {
            ark_der: Sim::ark_der(),
            ask_der: &ask,
        },
    ] {
        let err = verify_report(&bytes, Sim::vcek_der(), chain, None, now()).unwrap_err();
        assert!(
            matches!(err, SnpError::Chain(EkCertError::NoIssuer { .. })),
            "{err}"
        );
    }
}

#[test]
fn one_flipped_byte_in_the_signed_region_fails() {
    let (config, rd) = configured();
    let bytes = Sim::new(config).unwrap().report(&rd).unwrap();
    // Fields that still parse after a flip: GUEST_SVN, POLICY (ABI minor),
    // FAMILY_ID, IMAGE_ID, PLATFORM_INFO, REPORT_DATA (first and last),
    // MEASUREMENT, HOST_DATA, ID/AUTHOR key digests, REPORT_ID(_MA),
    // CPUID stepping, COMMITTED_TCB, firmware build, LAUNCH_TCB.
    let offsets = [
        0x004, 0x008, 0x010, 0x020, 0x040, 0x050, 0x08F, 0x090, 0x0C0, 0x0E0, 0x110, 0x140, 0x160,
        0x18A, 0x1E0, 0x1E8, 0x1F0,
    ];
    for off in offsets {
        assert!(off < SIGNED_LEN);
        let mut m = bytes.clone();
        m[off] ^= 0x01;
        AttestationReport::parse(&m).unwrap_or_else(|e| panic!("{off:#x}: {e}"));
        let err = verify_report(&m, Sim::vcek_der(), test_chain(), None, now()).unwrap_err();
        assert!(
            matches!(err, SnpError::BadSignature { .. }),
            "{off:#x}: {err}"
        );
    }
    // And a flipped bit in R or S.
    for off in [SIGNED_LEN, SIGNED_LEN + 72] {
        let mut m = bytes.clone();
        m[off] ^= 0x01;
        let err = verify_report(&m, Sim::vcek_der(), test_chain(), None, now()).unwrap_err();
        assert!(
            matches!(err, SnpError::BadSignature { .. }),
            "{off:#x}: {err}"
        );
    }
}

fn openssl(args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "this test needs the openssl CLI (Debian package 'openssl') on PATH: \
             running `openssl {}` failed: {e}",
                args.join(" ")
            )
        });
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn x509_text(file: &str) -> String {
    openssl(&[
        "x509",
        "-inform",
        "der",
        "-in",
        &format!("{MANIFEST}/test-chain/{file}"),
        "-text",
        "-noout",
    ])
}

#[test]
fn openssl_shows_pss_and_the_extensions() {
    let pss = [
        "Signature Algorithm: rsassaPss",
        "Hash Algorithm: sha384",
        "Mask Algorithm: mgf1 with sha384",
        "Salt Length: 0x30",
    ];
    let ark = x509_text("ark.der");
    let ask = x509_text("ask.der");
    let vcek = x509_text("vcek.der");
    for (name, text) in [("ark", &ark), ("ask", &ask), ("vcek", &vcek)] {
        for want in pss {
            assert!(text.contains(want), "{name}: no '{want}' in\n{text}");
        }
        assert!(
            text.contains("Not Before: Jan  1 00:00:00 2024 GMT"),
            "{name}"
        );
        assert!(
            text.contains("Not After : Dec 31 23:59:59 2049 GMT"),
            "{name}"
        );
    }
    for (name, text) in [("ark", &ark), ("ask", &ask)] {
        for want in [
            "Public Key Algorithm: rsaEncryption",
            "Public-Key: (4096 bit)",
            "X509v3 Basic Constraints: critical",
            "X509v3 Key Usage: critical",
            "X509v3 Subject Key Identifier",
        ] {
            assert!(text.contains(want), "{name}: no '{want}' in\n{text}");
        }
    }
    assert!(ark.contains("Subject: OU = sealbuild snp-sim, O = INSECURE PUBLIC TEST KEYS - NOT AMD, CN = SEV-Genoa INSECURE TEST ARK"));
    assert!(ark.contains("Certificate Sign, CRL Sign"));
    assert!(ask.contains("CN = SEV-Genoa INSECURE TEST ASK"));
    assert!(ask.contains("CA:TRUE, pathlen:0"));
    assert!(ask.contains("X509v3 Authority Key Identifier"));
    for want in [
        "Serial Number: 0 (0x0)",
        "CN = SEV-VCEK INSECURE TEST",
        "NIST CURVE: P-384",
        "1.3.6.1.4.1.3704.1.2:",
        "1.3.6.1.4.1.3704.1.3.8:",
        "1.3.6.1.4.1.3704.1.4:",
    ] {
        assert!(vcek.contains(want), "vcek: no '{want}' in\n{vcek}");
    }

    // OpenSSL's own path validation accepts the chain as well.
    let dir = env!("CARGO_TARGET_TMPDIR");
    let to_pem = |der: &str, pem: &str| {
        let out = format!("{dir}/snp-sim-{pem}");
        let input = format!("{MANIFEST}/test-chain/{der}");
        openssl(&["x509", "-inform", "der", "-in", &input, "-out", &out]);
        out
    };
    let (ark_pem, ask_pem, vcek_pem) = (
        to_pem("ark.der", "ark.pem"),
        to_pem("ask.der", "ask.pem"),
        to_pem("vcek.der", "vcek.pem"),
    );
    let ok = openssl(&[
        "verify",
        "-CAfile",
        &ark_pem,
        "-untrusted",
        &ask_pem,
        &vcek_pem,
    ]);
    assert!(ok.trim_end().ends_with(": OK"), "{ok}");
}

/// The extension OIDs of a certificate, in order, with their values.
fn extensions(der: &[u8]) -> Vec<(String, bool, Vec<u8>)> {
    Certificate::from_der(der)
        .unwrap()
        .tbs_certificate
        .extensions
        .unwrap_or_default()
        .iter()
        .map(|e| {
            (
                e.extn_id.to_string(),
                e.critical,
                e.extn_value.as_bytes().to_vec(),
            )
        })
        .collect()
}

#[test]
fn vcek_extensions_mirror_a_real_genoa_vcek() {
    let real = read("../../tests/data/sev-snp/trustee/e2e-genoa-vcek.der");
    let ours = extensions(Sim::vcek_der());
    let theirs = extensions(&real);
    let oids = |v: &[(String, bool, Vec<u8>)]| v.iter().map(|e| e.0.clone()).collect::<Vec<_>>();
    assert_eq!(oids(&ours), oids(&theirs), "same extensions, same order");
    let tcb = TcbVersion(Sim::reported_tcb()).parts(TcbLayout::MilanGenoa);
    let int = |v: u8| vec![0x02, 0x01, v];
    let want: Vec<(&str, Vec<u8>)> = vec![
        ("1.3.6.1.4.1.3704.1.1", int(0)),
        ("1.3.6.1.4.1.3704.1.2", b"\x16\x05Genoa".to_vec()),
        ("1.3.6.1.4.1.3704.1.3.1", int(tcb.boot_loader)),
        ("1.3.6.1.4.1.3704.1.3.2", int(tcb.tee)),
        ("1.3.6.1.4.1.3704.1.3.4", int(0)),
        ("1.3.6.1.4.1.3704.1.3.5", int(0)),
        ("1.3.6.1.4.1.3704.1.3.6", int(0)),
        ("1.3.6.1.4.1.3704.1.3.7", int(0)),
        ("1.3.6.1.4.1.3704.1.3.3", int(tcb.snp)),
        ("1.3.6.1.4.1.3704.1.3.8", int(tcb.microcode)),
        ("1.3.6.1.4.1.3704.1.4", Sim::chip_id().to_vec()),
    ];
    for ((oid, critical, value), (want_oid, want_value)) in ours.iter().zip(&want) {
        assert_eq!(oid, want_oid);
        assert!(!critical, "{oid} must not be critical");
        assert_eq!(value, want_value, "{oid}");
    }
    // The real one's values have the same shapes (INTEGER, IA5String, raw
    // 64-byte hwID): the verifier's decoder reads both alike.
    let real_ext = AmdCertExtensions::from_der(&real).unwrap();
    assert_eq!(real_ext.product_name, "Genoa");
    assert_eq!(real_ext.hw_id.map(|h| h.len()), Some(64));

    // Same signatureAlgorithm encoding (RSASSA-PSS params) as AMD's VCEK.
    let alg = |der: &[u8]| {
        Certificate::from_der(der)
            .unwrap()
            .signature_algorithm
            .to_der()
            .unwrap()
    };
    assert_eq!(alg(Sim::vcek_der()), alg(&real));
    assert_eq!(alg(Sim::ask_der()), alg(&real));
    assert_eq!(alg(Sim::ark_der()), alg(&real));
}

/// Checks that `issuer` signed `cert` with RSASSA-PSS SHA-384/MGF1-SHA-384/48.
fn pss_signed_by(cert: &Certificate, issuer: &Certificate) -> bool {
    let spki = &issuer.tbs_certificate.subject_public_key_info;
    let key = RsaPublicKey::from_pkcs1_der(spki.subject_public_key.raw_bytes()).unwrap();
    let tbs = cert.tbs_certificate.to_der().unwrap();
    key.verify(
        Pss::new_with_salt::<Sha384>(48),
        &Sha384::digest(&tbs),
        cert.signature.raw_bytes(),
    )
    .is_ok()
}

#[test]
fn committed_chain_is_what_the_script_describes() {
    let ark = Certificate::from_der(Sim::ark_der()).unwrap();
    let ask = Certificate::from_der(Sim::ask_der()).unwrap();
    let vcek = Certificate::from_der(Sim::vcek_der()).unwrap();
    let (ta, ts, tv) = (
        &ark.tbs_certificate,
        &ask.tbs_certificate,
        &vcek.tbs_certificate,
    );

    // ARK self-signed, ASK issued by the ARK, VCEK issued by the ASK.
    assert_eq!(ta.issuer, ta.subject);
    assert!(pss_signed_by(&ark, &ark), "ARK is not self-signed");
    assert_eq!(ts.issuer, ta.subject);
    assert!(pss_signed_by(&ask, &ark), "ASK is not signed by the ARK");
    assert!(!pss_signed_by(&ask, &ask));
    assert_eq!(tv.issuer, ts.subject);
    assert!(pss_signed_by(&vcek, &ask), "VCEK is not signed by the ASK");
    assert!(!pss_signed_by(&vcek, &ark));

    // Key types like AMD's: rsaEncryption RSA-4096 for ARK/ASK.
    let (amd_ark, _) = amd_genoa();
    let amd_ark = Certificate::from_der(&amd_ark).unwrap();
    for t in [ta, ts] {
        assert_eq!(
            t.subject_public_key_info.algorithm,
            amd_ark.tbs_certificate.subject_public_key_info.algorithm
        );
        let k =
            RsaPublicKey::from_pkcs1_der(t.subject_public_key_info.subject_public_key.raw_bytes())
                .unwrap();
        assert_eq!(rsa::traits::PublicKeyParts::size(&k), 512);
    }

    // VCEK: serial 0, the simulator's key, hwID = chip_id, SPLs = REPORTED_TCB.
    assert_eq!(tv.serial_number.as_bytes(), [0]);
    let sim = Sim::new(SimConfig::default()).unwrap();
    let spki_key =
        p384::PublicKey::from_sec1_bytes(tv.subject_public_key_info.subject_public_key.raw_bytes())
            .unwrap();
    assert_eq!(
        p384::ecdsa::VerifyingKey::from(&spki_key),
        sim.vcek_public_key()
    );
    let ext = AmdCertExtensions::from_der(Sim::vcek_der()).unwrap();
    let tcb = TcbVersion(Sim::reported_tcb()).parts(TcbLayout::MilanGenoa);
    assert_eq!(ext.product_name, "Genoa");
    assert_eq!(ext.product(), Some(SnpProduct::Genoa));
    assert_eq!(
        (ext.bl_spl, ext.tee_spl, ext.snp_spl, ext.ucode_spl),
        (tcb.boot_loader, tcb.tee, tcb.snp, tcb.microcode)
    );
    assert_eq!(
        (ext.bl_spl, ext.tee_spl, ext.snp_spl, ext.ucode_spl),
        (10, 0, 23, 84)
    );
    assert_eq!(ext.fmc_spl, None);
    assert_eq!(ext.hw_id.as_deref(), Some(&Sim::chip_id()[..]));
    assert_eq!(ext.csp_id, None);

    // Every subject says INSECURE TEST.
    for t in [ta, ts, tv] {
        assert!(
            t.subject.to_string().contains("INSECURE TEST"),
            "{}",
            t.subject
        );
    }

    // cert_chain_vcek.pem = ASK then ARK, the same certificates.
    let chain: Vec<Vec<u8>> = Certificate::load_pem_chain(Sim::cert_chain_pem().as_bytes())
        .unwrap()
        .iter()
        .map(|c| c.to_der().unwrap())
        .collect();
    assert_eq!(
        chain,
        vec![Sim::ask_der().to_vec(), Sim::ark_der().to_vec()]
    );

    // The script's constants are the crate's.
    let script = String::from_utf8(read("gen-test-chain.sh")).unwrap();
    for want in [
        format!("chip_seed=\"{CHIP_ID_SEED}\""),
        format!("bl_spl={}", tcb.boot_loader),
        format!("tee_spl={}", tcb.tee),
        format!("snp_spl={}", tcb.snp),
        format!("ucode_spl={}", tcb.microcode),
        "start=240101000000Z".to_string(),
        "end=491231235959Z".to_string(),
    ] {
        assert!(script.contains(&want), "gen-test-chain.sh lacks {want}");
    }
    // The ARK and ASK private keys are not committed.
    let files: Vec<String> = std::fs::read_dir(format!("{MANIFEST}/test-chain"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let mut sorted = files.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            "README.md",
            "ark.der",
            "ask.der",
            "cert_chain_vcek.pem",
            "vcek-key.pk8.der",
            "vcek.der"
        ]
    );
}

#[test]
fn readme_warns_loudly() {
    let readme = String::from_utf8(read("test-chain/README.md")).unwrap();
    for want in [
        "INSECURE PUBLIC TEST KEYS",
        "NEVER TRUST THEM OUTSIDE TESTS",
        "ANYONE can forge",
    ] {
        assert!(readme.contains(want), "README lacks '{want}'");
    }
}
