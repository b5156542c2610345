//! The simulated Azure vTPM on a real swtpm: an AK made by tpm2-tools, the
//! HCL report for it, a tpm2_quote, and the whole Azure evidence through
//! `AzureVerifier`; and `scripts/azure-sim-provision.sh` laying out the
//! vTPM (AK at 0x81000003, HCL report in NV index 0x01400001).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::process::Command;
use std::sync::Arc;

use sealbuild_common::api::{
    AzureEvidence, Evidence, Reason, SnpCertKind, SnpCertificate, TpmEvidence,
};
use sealbuild_common::tpm::{PcrSelectionList, Public, PublicKey, ToolsPcrFile};
use sealbuild_common::HashAlg;
use sealbuild_insecure_azure_sim::{
    build_hcl_report, HclOptions, RsaKey, AK_KID, AK_PERSISTENT_HANDLE, HCL_NV_INDEX,
    SWTPM_NV_INDEX_MAX,
};
use sealbuild_insecure_snp_sim::{InsecureSimulatedSnp, SimConfig};
use sealbuild_verifier_core::azure::hcl::HclReport;
use sealbuild_verifier_core::claims::PlatformClaims;
use sealbuild_verifier_core::platform::{
    AzureVerifier, Collateral, EvidenceVerifier, TpmOptions, VerifyContext,
};
use sealbuild_verifier_core::snp::AmdRoots;
use support::{now, real_azure_ak, repo, roots_with_test_chain, Swtpm};

const PCRS: &str = "sha256:0,1,2,3,4,5,6,7,23";
const MEASUREMENT: [u8; 48] = [0x4d; 48];

fn binding(label: &str) -> [u8; 32] {
    HashAlg::Sha256.digest(label.as_bytes()).try_into().unwrap()
}

/// An RSA-2048 AK under the RSA EK (tpm2_createek / tpm2_createak); returns
/// its context file and TPM2B_PUBLIC.
fn create_ak(tpm: &Swtpm) -> (String, Vec<u8>) {
    let ek = tpm.path("ek.ctx");
    let ak = tpm.path("ak.ctx");
    let ak_pub = tpm.path("ak.pub");
    tpm.tpm2_ok(
        "tpm2_createek",
        &[
            "-c",
            ek.to_str().unwrap(),
            "-G",
            "rsa",
            "-u",
            tpm.path("ek.pub").to_str().unwrap(),
        ],
    );
    tpm.flush();
    tpm.tpm2_ok(
        "tpm2_createak",
        &[
            "-C",
            ek.to_str().unwrap(),
            "-c",
            ak.to_str().unwrap(),
            "-G",
            "rsa",
            "-g",
            "sha256",
            "-s",
            "rsassa",
            "-u",
            ak_pub.to_str().unwrap(),
            "-f",
            "tss",
        ],
    );
    tpm.flush();
    (
        ak.to_str().unwrap().to_string(),
        std::fs::read(ak_pub).unwrap(),
    )
}

/// `tpm2_quote` of [`PCRS`] with `qualifying` as extraData, as sealbuild's
/// TPM evidence.
fn quote(tpm: &Swtpm, ak: &str, qualifying: &[u8]) -> TpmEvidence {
    let (msg, sig, pcrs) = (tpm.path("q.msg"), tpm.path("q.sig"), tpm.path("q.pcrs"));
    tpm.tpm2_ok(
        "tpm2_quote",
        &[
            "-c",
            ak,
            "-l",
            PCRS,
            "-q",
            &hex::encode(qualifying),
            "-g",
            "sha256",
            "-m",
            msg.to_str().unwrap(),
            "-s",
            sig.to_str().unwrap(),
            "-o",
            pcrs.to_str().unwrap(),
        ],
    );
    tpm.flush();
    let file = ToolsPcrFile::parse(&std::fs::read(pcrs).unwrap()).unwrap();
    assert!(file
        .selection()
        .same_pcrs(&PcrSelectionList::parse_tools_spec(PCRS).unwrap()));
    TpmEvidence {
        quote: std::fs::read(msg).unwrap(),
        signature: std::fs::read(sig).unwrap(),
        pcrs: file.values().to_named_hex(),
        event_log: None,
        runtime_log: None,
    }
}

fn azure(hcl_report: Vec<u8>, tpm: TpmEvidence) -> Evidence {
    Evidence::Azure(AzureEvidence {
        hcl_report,
        certificates: vec![SnpCertificate {
            kind: SnpCertKind::Vcek,
            der: InsecureSimulatedSnp::vcek_der().to_vec(),
        }],
        td_quote: None,
        tpm,
    })
}

fn verify_with(
    roots: AmdRoots,
    ev: &Evidence,
    binding: &[u8; 32],
) -> Result<PlatformClaims, Vec<Reason>> {
    let verifier = AzureVerifier::new(Arc::new(roots), TpmOptions::default());
    let collateral = Collateral::default();
    verifier.verify(
        ev,
        &VerifyContext {
            agent_id: "azure:insecure-sim",
            registered: None,
            binding,
            statement_digest: None,
            now: now(),
            collateral: &collateral,
        },
    )
}

fn verify(ev: &Evidence, binding: &[u8; 32]) -> Result<PlatformClaims, Vec<Reason>> {
    verify_with(roots_with_test_chain(), ev, binding)
}

/// The `check` names of a refusal.
fn refused(r: Result<PlatformClaims, Vec<Reason>>) -> Vec<String> {
    match r {
        Ok(c) => panic!("accepted: {c:?}"),
        Err(reasons) => reasons.into_iter().map(|r| r.check).collect(),
    }
}

fn rsa(public: &[u8]) -> (Vec<u8>, Vec<u8>) {
    match Public::parse_tpm2b(public).unwrap().public_key().unwrap() {
        PublicKey::Rsa { modulus, exponent } => (modulus, exponent.to_be_bytes().to_vec()),
        other => panic!("not RSA: {other:?}"),
    }
}

#[test]
fn swtpm_nv_index_max_is_2048() {
    let tpm = Swtpm::start();
    let max = tpm.fixed_property("TPM2_PT_NV_INDEX_MAX");
    eprintln!("swtpm TPM2_PT_NV_INDEX_MAX = {max}");
    assert_eq!(max, SWTPM_NV_INDEX_MAX as u64);
}

#[test]
fn azure_evidence_with_a_swtpm_quote_verifies() {
    let tpm = Swtpm::start();
    tpm.tpm2_ok(
        "tpm2_pcrextend",
        &[&format!("23:sha256={}", "ab".repeat(32))],
    );
    let (ak_ctx, ak_public) = create_ak(&tpm);
    let (n, e) = rsa(&ak_public);
    let bind = binding("nonce, ephemeral key, statement");
    let hcl = build_hcl_report(&n, &e, MEASUREMENT, None, &HclOptions::default()).unwrap();
    let ev = azure(hcl.clone(), quote(&tpm, &ak_ctx, &bind));

    // Accepted with the test chain and the right binding.
    let PlatformClaims::Azure(claims) = verify(&ev, &bind).unwrap() else {
        panic!("not Azure claims");
    };
    let snp = claims.snp().unwrap();
    assert!(snp.insecure_test_root);
    assert_eq!(snp.report.measurement, MEASUREMENT);
    assert_eq!(snp.report.vmpl, 0);
    assert_eq!(
        claims.ak_fingerprint,
        hex::encode(HashAlg::Sha256.digest(&n))
    );
    let sha256 = &claims.tpm.pcrs[&HashAlg::Sha256];
    assert_eq!(
        sha256.keys().copied().collect::<Vec<_>>(),
        [0, 1, 2, 3, 4, 5, 6, 7, 23]
    );
    assert_ne!(sha256[&23], vec![0; 32]);

    // Another binding: the quote's extraData names it.
    assert_eq!(refused(verify(&ev, &binding("another nonce"))), ["binding"]);

    // A flipped byte of the SEV-SNP report (in MEASUREMENT): its signature.
    let mut flipped = hcl.clone();
    flipped[0x20 + 0x90] ^= 1;
    let Evidence::Azure(az) = &ev else {
        unreachable!()
    };
    let ev_flipped = azure(flipped, az.tpm.clone());
    assert_eq!(refused(verify(&ev_flipped, &bind)), ["snp_signature"]);

    // The same evidence against AMD's roots only: the test chain is not AMD's.
    let checks = refused(verify_with(AmdRoots::builtin(), &ev, &bind));
    assert!(checks.iter().all(|c| c == "snp_chain"), "{checks:?}");
}

#[test]
fn azure_evidence_refusals_past_the_snp_signature() {
    let tpm = Swtpm::start();
    let (ak_ctx, ak_public) = create_ak(&tpm);
    let (n, e) = rsa(&ak_public);
    let bind = binding("b");
    let tpm_ev = quote(&tpm, &ak_ctx, &bind);

    // Variable data changed after signing (same size): not bound.
    let hcl = build_hcl_report(&n, &e, MEASUREMENT, None, &HclOptions::default()).unwrap();
    let mut tampered = hcl.clone();
    let at = tampered
        .windows(10)
        .position(|w| w == b"vmUniqueId")
        .unwrap()
        + 13;
    tampered[at] ^= 0x01;
    assert_eq!(
        refused(verify(&azure(tampered, tpm_ev.clone()), &bind)),
        ["azure_binding"]
    );

    // Requested at VMPL 1 (not the paravisor).
    let vmpl1 = HclOptions {
        snp: SimConfig {
            vmpl: 1,
            ..SimConfig::default()
        },
        ..HclOptions::default()
    };
    let hcl1 = build_hcl_report(&n, &e, MEASUREMENT, None, &vmpl1).unwrap();
    assert_eq!(
        refused(verify(&azure(hcl1, tpm_ev.clone()), &bind)),
        ["azure_vmpl"]
    );

    // A report naming another AK (the real Azure one): the quote's signature.
    let (other_n, other_e) = real_azure_ak();
    let other = build_hcl_report(
        &other_n,
        &other_e,
        MEASUREMENT,
        None,
        &HclOptions::default(),
    )
    .unwrap();
    assert_eq!(
        refused(verify(&azure(other, tpm_ev), &bind)),
        ["quote_signature"]
    );
}

fn provision(tpm: &Swtpm, out: &std::path::Path, extra: &[&str]) -> std::process::Output {
    Command::new("bash")
        .arg(repo().join("scripts/azure-sim-provision.sh"))
        .args(["--tcti", &tpm.tcti()])
        .args(["--measurement", &hex::encode(MEASUREMENT)])
        .arg("--out")
        .arg(out)
        .args(extra)
        .env(
            "SEALBUILD_AZURE_SIM",
            env!("CARGO_BIN_EXE_sealbuild-azure-sim"),
        )
        .output()
        .unwrap()
}

#[test]
fn provisioning_script_lays_out_the_vtpm() {
    let tpm = Swtpm::start();
    let handle = format!("{AK_PERSISTENT_HANDLE:#x}");
    let index = format!("{HCL_NV_INDEX:#010x}");
    // Something already at both places: the script replaces them.
    let other = tpm.path("other.ctx");
    tpm.tpm2_ok(
        "tpm2_createprimary",
        &["-C", "o", "-c", other.to_str().unwrap()],
    );
    tpm.tpm2_ok(
        "tpm2_evictcontrol",
        &["-C", "o", "-c", other.to_str().unwrap(), &handle],
    );
    tpm.flush();
    tpm.tpm2_ok(
        "tpm2_nvdefine",
        &[&index, "-C", "o", "-s", "100", "-a", "ownerread|ownerwrite"],
    );

    let out = tpm.path("out");
    let user_data = "0123456789abcdef";
    let run = provision(&tpm, &out, &["--user-data", user_data]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("replaced an existing object: yes"),
        "{stdout}"
    );
    assert!(
        stdout.contains("replaced an existing index: yes"),
        "{stdout}"
    );
    assert!(
        stdout.contains("INSECURE") && stderr.contains("INSECURE"),
        "{stdout}\n{stderr}"
    );

    // NV index 0x01400001 holds exactly the report, with the asked attributes.
    let report = std::fs::read(out.join("hcl-report.bin")).unwrap();
    let nvpub = tpm.tpm2_ok("tpm2_nvreadpublic", &[&index]);
    assert!(
        nvpub.contains(&format!("size: {}", report.len())),
        "{nvpub}"
    );
    assert!(
        nvpub.contains("friendly: ownerwrite|authwrite|ownerread|authread|written"),
        "{nvpub}"
    );
    let nv = tpm.path("nv.bin");
    tpm.tpm2_ok(
        "tpm2_nvread",
        &[
            &index,
            "-C",
            "o",
            "-s",
            &report.len().to_string(),
            "-o",
            nv.to_str().unwrap(),
        ],
    );
    assert_eq!(std::fs::read(&nv).unwrap(), report);

    // 0x81000003 holds the AK the report names, with Azure's attributes.
    let p = tpm.path("readpublic.pub");
    let shown = tpm.tpm2_ok(
        "tpm2_readpublic",
        &["-c", &handle, "-o", p.to_str().unwrap()],
    );
    assert!(
        shown.contains(
            "value: fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|sign"
        ),
        "{shown}"
    );
    let public = std::fs::read(&p).unwrap();
    assert_eq!(public, std::fs::read(out.join("ak.pub")).unwrap());
    let key = RsaKey::from_tpm2b_public(AK_KID, &public).unwrap();
    let hcl = HclReport::parse(&report).unwrap();
    let claims = hcl.runtime_claims().unwrap();
    let ak = claims.ak_pub().unwrap();
    assert_eq!((ak.n.as_slice(), ak.e.as_slice()), (key.n(), key.e()));
    assert_eq!(ak.e, [1, 0, 1]);
    let mut ud = hex::decode(user_data).unwrap();
    ud.resize(64, 0);
    assert_eq!(claims.user_data_bytes().unwrap(), Some(ud));

    // What the guest would then do: read the NV index, quote with the
    // persistent AK; the verifier accepts it with the test chain.
    let bind = binding("provisioned");
    let ev = azure(std::fs::read(&nv).unwrap(), quote(&tpm, &handle, &bind));
    assert!(matches!(verify(&ev, &bind), Ok(PlatformClaims::Azure(_))));

    // Again: the AK is a primary from a fixed template, so the same key.
    let run = provision(&tpm, &out, &[]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(std::fs::read(out.join("ak.pub")).unwrap(), public);
}

#[test]
fn provisioning_script_usage_errors() {
    let tpm = Swtpm::start();
    let out = tpm.path("out");
    for (args, want) in [
        (vec!["--measurement", "00"], "--measurement"),
        (vec!["--user-data", "xyz"], "--user-data"),
        (vec!["--user-data", &"00".repeat(65)], "--user-data"),
    ] {
        let mut cmd = Command::new("bash");
        cmd.arg(repo().join("scripts/azure-sim-provision.sh"))
            .args(["--tcti", &tpm.tcti(), "--out"])
            .arg(&out);
        if args[0] != "--measurement" {
            cmd.args(["--measurement", &hex::encode(MEASUREMENT)]);
        }
        let run = cmd.args(&args).output().unwrap();
        assert_eq!(run.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&run.stderr).contains(want),
            "{args:?}"
        );
    }
}
