//! The simulated HCL report against the verifier's own parser and SEV-SNP
//! appraisal (no TPM needed).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use sealbuild_common::snp::{SnpProduct, REPORT_SIZE};
use sealbuild_common::HashAlg;
use sealbuild_insecure_azure_sim::{
    build_hcl_report, runtime_claims_json, Error, HclOptions, RsaKey, VmConfiguration, AK_KID,
    SWTPM_NV_INDEX_MAX, VAR_DATA_OFFSET,
};
use sealbuild_insecure_snp_sim::{InsecureSimulatedSnp, SimConfig};
use sealbuild_verifier_core::azure::hcl::{HclHashType, HclReport};
use sealbuild_verifier_core::snp::{verify_snp, AmdRoots, SnpInput};
use support::{now, real_azure_ak, repo, roots_with_test_chain};

const MEASUREMENT: [u8; 48] = [0x6d; 48];

fn build(user_data: Option<&[u8]>) -> Vec<u8> {
    let (n, e) = real_azure_ak();
    build_hcl_report(&n, &e, MEASUREMENT, user_data, &HclOptions::default()).unwrap()
}

#[test]
fn report_parses_with_the_verifier_and_names_the_ak() {
    let (n, e) = real_azure_ak();
    let user_data = b"sealbuild nonce";
    let bytes = build(Some(user_data));
    assert!(bytes.len() <= SWTPM_NV_INDEX_MAX, "{} bytes", bytes.len());

    let hcl = HclReport::parse(&bytes).unwrap();
    assert_eq!(hcl.version, 2);
    assert_eq!(hcl.hash_type, HclHashType::Sha256);
    assert_eq!(hcl.report_size(), bytes.len());
    assert_eq!(hcl.padding_len(), 0);
    assert_eq!(hcl.to_bytes(), bytes);
    assert_eq!(hcl.snp_report_bytes(), &bytes[0x20..0x20 + REPORT_SIZE]);
    assert_eq!(hcl.var_data(), &bytes[VAR_DATA_OFFSET..]);
    assert_eq!(
        hcl.var_data(),
        runtime_claims_json(
            &RsaKey::new(AK_KID, &n, &e).unwrap(),
            Some(user_data),
            &HclOptions::default()
        )
        .unwrap()
    );

    // The runtime claims name the same AK and carry the user data.
    let claims = hcl.runtime_claims().unwrap();
    let ak = claims.ak_pub().unwrap();
    assert_eq!(
        (ak.n.as_slice(), ak.e.as_slice()),
        (n.as_slice(), e.as_slice())
    );
    assert_eq!(ak.bits(), 2048);
    assert_eq!(hcl.ak_pub().unwrap(), ak);
    assert_eq!(claims.ek_pub().unwrap(), None);
    let mut padded = user_data.to_vec();
    padded.resize(64, 0);
    assert_eq!(claims.user_data_bytes().unwrap(), Some(padded));
    let vm = &claims.vm_configuration;
    assert_eq!(
        (
            vm.console_enabled,
            vm.secure_boot,
            vm.tpm_enabled,
            vm.tpm_persisted
        ),
        (Some(true), Some(true), Some(true), Some(true))
    );
    assert_eq!(
        vm.vm_unique_id.as_deref(),
        Some(VmConfiguration::default().vm_unique_id.as_str())
    );
    assert!(vm.other.is_empty(), "{:?}", vm.other);

    // The SEV-SNP report: VMPL 0, the measurement, REPORT_DATA = H(var) || 0.
    let r = &hcl.snp_report;
    assert_eq!(r.vmpl, 0);
    assert_eq!(r.measurement, MEASUREMENT);
    let digest = HashAlg::Sha256.digest(hcl.var_data());
    assert_eq!(hcl.var_data_digest(), digest);
    assert_eq!(&r.report_data[..32], digest.as_slice());
    assert_eq!(r.report_data[32..], [0; 32]);
    assert_eq!(r.chip_id, InsecureSimulatedSnp::chip_id());
}

#[test]
fn runtime_claims_have_the_shape_of_the_real_report() {
    let ours = String::from_utf8(build(None)[VAR_DATA_OFFSET..].to_vec()).unwrap();
    let real = std::fs::read(repo().join("tests/data/azure/az-snp-vtpm/hcl-report.bin")).unwrap();
    let real = HclReport::parse(&real).unwrap();
    let real = String::from_utf8(real.var_data().to_vec()).unwrap();
    // Same compact encoding, same key order, the same AK JWK text.
    let ak_prefix = r#"{"keys":[{"kid":"HCLAkPub","key_ops":["sign"],"kty":"RSA","e":"AQAB","n":""#;
    assert!(ours.starts_with(ak_prefix) && real.starts_with(ak_prefix));
    let ak_jwk = |s: &str| s[..s.find("}").unwrap() + 1].to_string();
    assert_eq!(ak_jwk(&ours), ak_jwk(&real));
    let tail = |s: &str| s[s.find(r#""user-data":"#).unwrap()..].to_string();
    assert_eq!(tail(&ours), tail(&real), "64 zero bytes of user-data");
    assert!(ours.contains(
        r#"}],"vm-configuration":{"console-enabled":true,"secure-boot":true,"tpm-enabled":true,"#
    ));
    assert!(!ours.contains(' ') && !ours.contains('\n'));
}

#[test]
fn snp_report_verifies_with_the_test_chain_only() {
    let bytes = build(None);
    let hcl = HclReport::parse(&bytes).unwrap();
    let vcek = [InsecureSimulatedSnp::vcek_der()];
    let input = |roots| SnpInput {
        report: hcl.snp_report_bytes(),
        endorsement_keys: &vcek,
        roots,
        crls: &[],
        expected_product: None,
        expected_report_data: Some(&hcl.snp_report.report_data),
        at_unix_secs: now(),
    };

    let roots = roots_with_test_chain();
    assert!(roots.trusts_insecure_test_chain());
    let claims = verify_snp(&input(&roots)).unwrap();
    assert!(claims.insecure_test_root);
    assert_eq!(claims.product, SnpProduct::Genoa);
    assert_eq!(claims.report.measurement, MEASUREMENT);

    // AMD's roots alone: the published test chain does not lead to them.
    let amd = AmdRoots::builtin();
    let reasons = verify_snp(&input(&amd)).unwrap_err();
    let checks: Vec<&str> = reasons.iter().map(|r| r.check.as_str()).collect();
    assert!(checks.contains(&"snp_chain"), "{reasons:?}");
}

#[test]
fn header_version_1_and_launch_values() {
    let (n, e) = real_azure_ak();
    let options = HclOptions {
        header_version: 1,
        vm_configuration: VmConfiguration {
            vm_unique_id: "911B0EF8-9DBA-48B0-B275-4E4DF2D39252".into(),
            root_cert_thumbprint: Some("6nZZnYaJc4KqUZ_yvA-mucFdYNouvlPnITnNMXsHl-0".into()),
            secure_boot: false,
            ..VmConfiguration::default()
        },
        snp: SimConfig {
            host_data: [0x11; 32],
            measurement: [0xff; 48], // replaced by the argument
            ..SimConfig::default()
        },
        ..HclOptions::default()
    };
    let bytes = build_hcl_report(&n, &e, MEASUREMENT, None, &options).unwrap();
    let hcl = HclReport::parse(&bytes).unwrap();
    assert_eq!(hcl.version, 1);
    assert_eq!(hcl.snp_report.host_data, [0x11; 32]);
    assert_eq!(hcl.snp_report.measurement, MEASUREMENT);
    let vm = hcl.runtime_claims().unwrap().vm_configuration;
    assert_eq!(vm.secure_boot, Some(false));
    assert_eq!(
        vm.root_cert_thumbprint.as_deref(),
        Some("6nZZnYaJc4KqUZ_yvA-mucFdYNouvlPnITnNMXsHl-0")
    );
    assert_eq!(
        vm.vm_unique_id.as_deref(),
        Some("911B0EF8-9DBA-48B0-B275-4E4DF2D39252")
    );
}

#[test]
fn sizes_against_the_swtpm_nv_limit() {
    let (n, e) = real_azure_ak();
    // RSA-2048 AK: 1236 bytes of fixed layout + 718 of runtime claims.
    let bytes = build(None);
    assert_eq!(VAR_DATA_OFFSET, 1236);
    assert_eq!(bytes.len(), 1954);
    // The same with a 64-byte user data: user-data is always 64 bytes.
    assert_eq!(build(Some(&[0xee; 64])).len(), 1954);
    // An RSA-3072 AK does not fit swtpm's 2048-byte NV index.
    let n3072 = [n.clone(), n[..128].to_vec()].concat();
    match build_hcl_report(&n3072, &e, MEASUREMENT, None, &HclOptions::default()) {
        Err(Error::TooLarge { len, var_len, max }) => {
            assert_eq!((len, var_len, max), (1236 + 888, 888, 2048));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        build_hcl_report(&n, &e, MEASUREMENT, Some(&[1; 65]), &HclOptions::default()),
        Err(Error::UserDataTooLong { len: 65, max: 64 })
    );
}
