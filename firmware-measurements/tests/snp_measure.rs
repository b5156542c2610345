//! The SEV-SNP launch digest against the reference calculator `sev-snp-measure`
//! (version pinned in scripts/sev-snp-measure.sh), run here on Debian's OVMF
//! (`/usr/share/ovmf/OVMF.fd`, Debian package `ovmf`, listed in scripts/lib.sh).
//! Both tools must be present: a missing one fails the test, it never skips.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sealbuild_measure::snp::{self, ovmf::Ovmf, vmsa, KernelHashes, VmmType};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const OVMF_PATH: &str = "/usr/share/ovmf/OVMF.fd";

fn ovmf() -> &'static [u8] {
    static IMAGE: OnceLock<Vec<u8>> = OnceLock::new();
    IMAGE.get_or_init(|| {
        std::fs::read(OVMF_PATH).unwrap_or_else(|e| {
            panic!("{OVMF_PATH}: {e}: install the Debian package `ovmf` (scripts/lib.sh lists it)")
        })
    })
}

/// The `sev-snp-measure` executable prepared by scripts/sev-snp-measure.sh.
fn tool() -> &'static Path {
    static TOOL: OnceLock<PathBuf> = OnceLock::new();
    TOOL.get_or_init(|| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/sev-snp-measure.sh");
        let out = Command::new("bash")
            .arg(script)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
        assert!(
            out.status.success(),
            "{script} could not prepare sev-snp-measure (it needs python3, python3-venv and the Python package index):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        assert!(path.is_file(), "{script} printed {path:?}, which is not a file");
        path
    })
}

/// Runs the reference tool on Debian's OVMF and decodes its hex digest.
fn reference(args: &[&str]) -> [u8; 48] {
    let out = Command::new(tool())
        .args(args)
        .args(["--ovmf", OVMF_PATH])
        .output()
        .expect("run sev-snp-measure");
    assert!(
        out.status.success(),
        "sev-snp-measure {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8 output");
    hex::decode(text.trim())
        .expect("hex digest")
        .try_into()
        .expect("48-byte digest")
}

fn vmm_arg(vmm: VmmType) -> &'static str {
    vmm.name()
}

#[test]
fn ovmf_hash_matches_reference() {
    let ours = snp::ovmf_hash(ovmf()).expect("ovmf hash");
    assert_eq!(
        hex::encode(ours),
        hex::encode(reference(&["--mode", "snp:ovmf-hash"]))
    );
}

#[test]
fn launch_digest_matches_reference_qemu() {
    for cpu in ["EPYC-v4", "EPYC-Milan-v2", "EPYC-Genoa"] {
        let sig = vmsa::vcpu_sig_by_name(cpu).expect("known CPU type");
        for vcpus in [1u32, 2, 4] {
            let ours = snp::launch_digest(ovmf(), vcpus, sig, VmmType::Qemu, 0x1, None)
                .expect("launch digest");
            let n = vcpus.to_string();
            let theirs = reference(&[
                "--mode",
                "snp",
                "--vmm-type",
                "QEMU",
                "--vcpus",
                &n,
                "--vcpu-type",
                cpu,
            ]);
            assert_eq!(
                hex::encode(ours),
                hex::encode(theirs),
                "qemu, {vcpus} x {cpu}"
            );
        }
    }
}

#[test]
fn launch_digest_matches_reference_gce() {
    for vcpus in [1u32, 2, 4] {
        // GCE's VMSA does not carry the vCPU signature: any value gives the same digest.
        let ours =
            snp::launch_digest(ovmf(), vcpus, 0, VmmType::Gce, 0x1, None).expect("launch digest");
        let other_sig = snp::launch_digest(
            ovmf(),
            vcpus,
            vmsa::vcpu_sig_by_name("EPYC-Genoa").expect("known"),
            VmmType::Gce,
            0x1,
            None,
        )
        .expect("launch digest");
        assert_eq!(ours, other_sig);
        let n = vcpus.to_string();
        let theirs = reference(&[
            "--mode",
            "snp",
            "--vmm-type",
            vmm_arg(VmmType::Gce),
            "--vcpus",
            &n,
        ]);
        assert_eq!(hex::encode(ours), hex::encode(theirs), "gce, {vcpus} vCPUs");
    }
}

#[test]
fn guest_features_and_vcpu_sig_are_measured() {
    let sig = vmsa::vcpu_sig_by_name("EPYC-Milan-v2").expect("known");
    let ours = snp::launch_digest(ovmf(), 2, sig, VmmType::Qemu, 0x21, None).expect("digest");
    let theirs = reference(&[
        "--mode",
        "snp",
        "--vcpus",
        "2",
        "--vcpu-sig",
        &sig.to_string(),
        "--guest-features",
        "0x21",
    ]);
    assert_eq!(hex::encode(ours), hex::encode(theirs));
    // Mutated twins: other features, other signature, other vCPU count.
    let default_features =
        snp::launch_digest(ovmf(), 2, sig, VmmType::Qemu, 0x1, None).expect("digest");
    assert_ne!(default_features, theirs);
    let other_sig =
        snp::launch_digest(ovmf(), 2, sig + 1, VmmType::Qemu, 0x21, None).expect("digest");
    assert_ne!(other_sig, theirs);
    let other_count =
        snp::launch_digest(ovmf(), 3, sig, VmmType::Qemu, 0x21, None).expect("digest");
    assert_ne!(other_count, theirs);
}

#[test]
fn precomputed_ovmf_hash_matches_reference() {
    let h = snp::ovmf_hash(ovmf()).expect("ovmf hash");
    let sig = vmsa::vcpu_sig_by_name("EPYC-Genoa").expect("known");
    let ours = snp::launch_digest_from_ovmf_hash(h, ovmf(), 4, sig, VmmType::Qemu, 0x1, None)
        .expect("digest");
    let theirs = reference(&[
        "--mode",
        "snp",
        "--vcpus",
        "4",
        "--vcpu-type",
        "EPYC-Genoa",
        "--snp-ovmf-hash",
        &hex::encode(h),
    ]);
    assert_eq!(hex::encode(ours), hex::encode(theirs));
    assert_eq!(
        ours,
        snp::launch_digest(ovmf(), 4, sig, VmmType::Qemu, 0x1, None).expect("digest")
    );
}

#[test]
fn every_byte_of_the_image_is_measured() {
    let sig = vmsa::vcpu_sig_by_name("EPYC-v4").expect("known");
    let good = snp::launch_digest(ovmf(), 1, sig, VmmType::Qemu, 0x1, None).expect("digest");
    // Flip a byte in the first page, the middle and the code page before the footer table.
    for at in [0, ovmf().len() / 2, ovmf().len() - 4096] {
        let mut img = ovmf().to_vec();
        img[at] ^= 0x01;
        let bad = snp::launch_digest(&img, 1, sig, VmmType::Qemu, 0x1, None).expect("still parses");
        assert_ne!(
            bad, good,
            "byte {at:#x} flipped but the digest did not change"
        );
    }
}

#[test]
fn metadata_round_trips() {
    let parsed = Ovmf::parse(ovmf()).expect("parse Debian OVMF");
    assert!(parsed.has_sev_metadata());
    let entry = parsed
        .entry(&snp::ovmf::SEV_METADATA_GUID)
        .expect("metadata entry");
    let offset = u32::from_le_bytes(entry.try_into().expect("u32")) as usize;
    let start = ovmf().len() - offset;
    let encoded = snp::ovmf::encode_metadata(parsed.sections());
    assert_eq!(&ovmf()[start..start + encoded.len()], encoded.as_slice());
    // Debian's OvmfPkgX64 build: SEC memory, secrets and CPUID, no kernel-hashes page.
    let kinds: Vec<_> = parsed.sections().iter().map(|s| s.kind).collect();
    assert!(kinds.contains(&snp::ovmf::SectionType::SnpSecrets));
    assert!(kinds.contains(&snp::ovmf::SectionType::Cpuid));
    assert!(!kinds.contains(&snp::ovmf::SectionType::SnpKernelHashes));
}

fn expect_error(img: &[u8], needle: &str) {
    let err = snp::launch_digest(img, 1, 0, VmmType::Qemu, 0x1, None)
        .expect_err("a malformed image must be rejected")
        .to_string();
    assert!(
        err.contains(needle),
        "error {err:?} should mention {needle:?}"
    );
}

#[test]
fn malformed_images_are_rejected() {
    let img = ovmf();
    // Not a whole number of pages / empty.
    expect_error(&img[..img.len() - 1], "multiple of 4096");
    expect_error(&[], "multiple of 4096");
    // Footer GUID damaged (it sits 50..34 bytes before the end).
    let mut bad = img.to_vec();
    let at = img.len() - 32 - 16;
    bad[at] ^= 0xff;
    expect_error(&bad, "no GUIDed footer table");
    // Footer table size larger than the image.
    let mut bad = img.to_vec();
    let at = img.len() - 32 - 18;
    bad[at..at + 2].copy_from_slice(&0xffffu16.to_le_bytes());
    assert!(snp::launch_digest(&bad, 1, 0, VmmType::Qemu, 1, None).is_err());
    // SEV metadata signature and version damaged.
    let parsed = Ovmf::parse(img).expect("parse");
    let entry = parsed.entry(&snp::ovmf::SEV_METADATA_GUID).expect("entry");
    let start = img.len() - u32::from_le_bytes(entry.try_into().expect("u32")) as usize;
    let mut bad = img.to_vec();
    bad[start] = b'X';
    expect_error(&bad, "ASEV");
    let mut bad = img.to_vec();
    bad[start + 8] = 2;
    expect_error(&bad, "version");
    // Unknown section type.
    let mut bad = img.to_vec();
    bad[start + 16 + 8] = 0x7f;
    expect_error(&bad, "unknown type");
    // Section count that disagrees with the size.
    let mut bad = img.to_vec();
    bad[start + 12] = bad[start + 12].wrapping_add(1);
    expect_error(&bad, "SEV metadata");
}

#[test]
fn bad_launch_parameters_are_rejected() {
    expect_vcpu_error(0);
    expect_vcpu_error(snp::MAX_VCPUS + 1);
    // Debian's OVMF has no SNP_KERNEL_HASHES section; the reference tool refuses too.
    let hashes = KernelHashes::new(b"", None, None);
    let err = snp::launch_digest(ovmf(), 1, 0, VmmType::Qemu, 1, Some(&hashes))
        .expect_err("kernel hashes need an AmdSev OVMF")
        .to_string();
    assert!(err.contains("SNP_KERNEL_HASHES"), "{err}");
    let out = Command::new(tool())
        .args([
            "--mode",
            "snp",
            "--vcpus",
            "1",
            "--vcpu-type",
            "EPYC-v4",
            "--kernel",
            "/dev/null",
        ])
        .args(["--ovmf", OVMF_PATH])
        .output()
        .expect("run sev-snp-measure");
    assert!(
        !out.status.success(),
        "the reference tool accepted a kernel without a hashes section"
    );
}

fn expect_vcpu_error(n: u32) {
    let err = snp::launch_digest(ovmf(), n, 0, VmmType::Qemu, 1, None)
        .expect_err("bad vCPU count")
        .to_string();
    assert!(err.contains("vCPU count"), "{err}");
}

#[test]
fn kernel_hashes_table_layout() {
    // QEMU's SevHashTable: 16 + 2 + 3 x 50 = 168 bytes, padded to 176.
    let h = KernelHashes::new(b"kernel", Some(b"initrd"), Some("console=ttyS0"));
    let t = h.table();
    assert_eq!(t.len(), 176);
    assert_eq!(&t[16..18], &168u16.to_le_bytes());
    assert_eq!(&t[18 + 16..18 + 18], &50u16.to_le_bytes());
    assert_eq!(&t[18 + 18..18 + 50], &h.cmdline);
    assert_eq!(&t[18 + 100 + 18..18 + 150], &h.kernel);
    assert!(t[168..].iter().all(|b| *b == 0));
    // The command line is hashed with its NUL terminator.
    assert_eq!(
        KernelHashes::new(b"k", None, None).cmdline,
        KernelHashes::new(b"k", None, Some("")).cmdline
    );
}

#[test]
fn cli_prints_exactly_what_sev_snp_measure_prints() {
    let bin = env!("CARGO_BIN_EXE_sealbuild-measure");
    let ours = |args: &[&str]| {
        let out = Command::new(bin)
            .args(args)
            .args(["--ovmf", OVMF_PATH])
            .output()
            .expect("run sealbuild-measure");
        assert!(
            out.status.success(),
            "sealbuild-measure {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let peer = |args: &[&str]| {
        let out = Command::new(tool())
            .args(args)
            .args(["--ovmf", OVMF_PATH])
            .output()
            .expect("run sev-snp-measure");
        assert!(
            out.status.success(),
            "sev-snp-measure {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    for args in [
        vec!["--vcpus", "2", "--vcpu-type", "EPYC-Milan-v2"],
        vec![
            "--vcpus",
            "4",
            "--vmm-type",
            "gce",
            "--guest-features",
            "0x21",
        ],
        vec![
            "--vcpus",
            "1",
            "--vcpu-type",
            "EPYC-Genoa",
            "--output-format",
            "base64",
        ],
        vec!["--vcpus", "2", "--vcpu-sig", "0xa00f11"],
    ] {
        let mut p = vec!["--mode", "snp"];
        p.extend(&args);
        let mut o = vec!["snp"];
        o.extend(&args);
        assert_eq!(
            String::from_utf8_lossy(&ours(&o)),
            String::from_utf8_lossy(&peer(&p)),
            "{args:?}"
        );
    }
    let seed = String::from_utf8(peer(&["--mode", "snp:ovmf-hash"])).unwrap();
    assert_eq!(ours(&["snp-ovmf-hash"]), seed.as_bytes());
    let seeded = [
        "--vcpus",
        "2",
        "--vcpu-type",
        "EPYC-v4",
        "--snp-ovmf-hash",
        seed.trim(),
    ];
    let mut p = vec!["--mode", "snp"];
    p.extend(seeded);
    let mut o = vec!["snp"];
    o.extend(seeded);
    assert_eq!(ours(&o), peer(&p));
    // Usage errors exit with 2.
    let out = Command::new(bin)
        .args(["snp", "--ovmf", OVMF_PATH, "--vcpus", "1"])
        .output()
        .expect("run sealbuild-measure");
    assert_eq!(
        out.status.code(),
        Some(2),
        "missing --vcpu-type must be refused"
    );
}

/// Kernel-hash cases need an OVMF built with the AmdSev package (it carries
/// the SNP_KERNEL_HASHES section); Debian's OVMF does not. Give one in
/// `SEALBUILD_AMDSEV_OVMF` to run this comparison with sev-snp-measure.
#[test]
fn kernel_hashes_match_sev_snp_measure_with_an_amdsev_ovmf() {
    let Some(fw) = std::env::var_os("SEALBUILD_AMDSEV_OVMF") else {
        eprintln!(
            "skipping: set SEALBUILD_AMDSEV_OVMF to an AmdSev OVMF.fd (with an SNP_KERNEL_HASHES \
             section) to compare kernel-hash launch digests with sev-snp-measure"
        );
        return;
    };
    let fw = PathBuf::from(fw);
    let dir = tempfile_dir();
    let kernel = dir.join("vmlinuz");
    let initrd = dir.join("initrd.img");
    std::fs::write(
        &kernel,
        (0..200_000u32).map(|i| (i * 7) as u8).collect::<Vec<u8>>(),
    )
    .unwrap();
    std::fs::write(
        &initrd,
        (0..90_000u32).map(|i| (i * 13) as u8).collect::<Vec<u8>>(),
    )
    .unwrap();
    let args = [
        "--vcpus",
        "2",
        "--vcpu-type",
        "EPYC-v4",
        "--kernel",
        kernel.to_str().unwrap(),
        "--initrd",
        initrd.to_str().unwrap(),
        "--append",
        "console=ttyS0 root=/dev/vda1",
    ];
    let ours = Command::new(env!("CARGO_BIN_EXE_sealbuild-measure"))
        .arg("snp")
        .args(args)
        .arg("--ovmf")
        .arg(&fw)
        .output()
        .expect("run sealbuild-measure");
    let peer = Command::new(tool())
        .args(["--mode", "snp"])
        .args(args)
        .arg("--ovmf")
        .arg(&fw)
        .output()
        .expect("run sev-snp-measure");
    assert!(
        peer.status.success(),
        "sev-snp-measure: {}",
        String::from_utf8_lossy(&peer.stderr)
    );
    assert!(
        ours.status.success(),
        "sealbuild-measure: {}",
        String::from_utf8_lossy(&ours.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&ours.stdout),
        String::from_utf8_lossy(&peer.stdout)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("sealbuild-measure-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn policy_output_holds_the_launch_digest() {
    let bin = env!("CARGO_BIN_EXE_sealbuild-measure");
    let run = |extra: &[&str]| {
        Command::new(bin)
            .args([
                "snp",
                "--ovmf",
                OVMF_PATH,
                "--vcpus",
                "1",
                "--vcpu-type",
                "EPYC-v4",
            ])
            .args(extra)
            .output()
            .expect("run sealbuild-measure")
    };
    let hex_out = String::from_utf8(run(&[]).stdout).unwrap();
    let policy = run(&[
        "--output-format",
        "policy",
        "--reference-name",
        "vm",
        "--key",
        "k",
        "--product",
        "genoa",
    ]);
    assert!(
        policy.status.success(),
        "{}",
        String::from_utf8_lossy(&policy.stderr)
    );
    let text = String::from_utf8(policy.stdout).unwrap();
    let parsed =
        sealbuild_verifier_core::policy::Policy::parse(&text).expect("the verifier loads it");
    let rule = parsed.references[0]
        .rule
        .snp()
        .expect("an SEV-SNP reference set");
    let m: [u8; 48] = hex::decode(hex_out.trim()).unwrap().try_into().unwrap();
    assert!(rule.measurements.contains(&m) && rule.measurements.len() == 1);
    assert_eq!(parsed.keys[0].key_id, "k");
    // Without a name or key it is a usage error.
    let bad = run(&["--output-format", "policy"]);
    assert_eq!(bad.status.code(), Some(2));
}
