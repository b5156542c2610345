//! `sealbuild-measure`: reference values from artefacts.
//! Exit codes: 0 = success, 2 = usage or I/O error.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use sealbuild_common::HashAlg;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "sealbuild-measure",
    version,
    about = "Reference values for sealbuild policies"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Prints a policy (format v1) whose reference set holds TPM PCR values
    /// from a known-good event log or PCR read, or (artefact mode, --kernel)
    /// computed for a QEMU VM booting a kernel directly under OVMF.
    TpmReference {
        /// A known-good firmware event log (binary_bios_measurements).
        #[arg(long, conflicts_with_all = ["pcrs_json", "kernel"])]
        eventlog: Option<PathBuf>,
        /// PCR values as JSON ({"sha256": {"0": "hex", …}}), e.g. from `sealbuild-agent pcrs`.
        #[arg(long, conflicts_with = "kernel")]
        pcrs_json: Option<PathBuf>,
        /// Artefact mode: the bzImage QEMU boots (-kernel). PCR 4 (the kernel
        /// as QEMU patched it) and PCR 9 (command line and initrd, measured
        /// by the EFI stub) are computed, with event rules for them.
        #[arg(long, requires_all = ["append", "memory"])]
        kernel: Option<PathBuf>,
        /// Artefact mode: the initrd (-initrd). Repeatable: a family of VMs,
        /// any of these initrds.
        #[arg(long, requires = "kernel")]
        initrd: Vec<PathBuf>,
        /// Artefact mode: the kernel command line (-append). Repeatable: a
        /// family of VMs, any of these command lines.
        #[arg(long, requires = "kernel", allow_hyphen_values = true)]
        append: Vec<String>,
        /// Artefact mode: guest memory in MiB (-m; q35 machine).
        #[arg(long, requires = "kernel")]
        memory: Option<u64>,
        /// Artefact mode: an event log of the same firmware and VM
        /// configuration; its replay gives the other PCRs, its events the
        /// order of PCRs 4 and 9. Without it only PCRs 4 and 9 are pinned.
        #[arg(long, requires = "kernel")]
        golden_eventlog: Option<PathBuf>,
        /// Bank.
        #[arg(long, default_value = "sha256")]
        bank: String,
        /// PCRs to pin, comma-separated [default: 0-7; artefact mode 0-7,9
        /// with a golden log, else 4,9].
        #[arg(long, value_delimiter = ',')]
        pcrs: Option<Vec<u32>>,
        /// Name of the reference set.
        #[arg(long, default_value = "build-vm")]
        name: String,
        /// Key the reference set unlocks.
        #[arg(long)]
        key: String,
        /// Require a verified event log.
        #[arg(long)]
        require_event_log: bool,
    },
    /// Prints the SEV-SNP launch digest of a guest booting an OVMF image,
    /// exactly as `sev-snp-measure --mode snp` prints it.
    Snp(SnpArgs),
    /// Prints the digest of the OVMF pages alone (`sev-snp-measure --mode snp:ovmf-hash`).
    SnpOvmfHash {
        /// The OVMF firmware image.
        #[arg(long)]
        ovmf: PathBuf,
    },
}

/// Arguments of `snp`.
#[derive(Debug, clap::Args)]
struct SnpArgs {
    /// The OVMF firmware image (must carry SEV metadata).
    #[arg(long)]
    ovmf: PathBuf,
    /// Number of vCPUs.
    #[arg(long)]
    vcpus: u32,
    /// QEMU CPU model of the vCPUs (EPYC, EPYC-Rome, EPYC-Milan-v2, EPYC-Genoa, …).
    #[arg(long, conflicts_with = "vcpu_sig")]
    vcpu_type: Option<String>,
    /// vCPU signature (CPUID Fn0000_0001_EAX), decimal or 0x-hex.
    #[arg(long)]
    vcpu_sig: Option<String>,
    /// Hypervisor: qemu, ec2 or gce.
    #[arg(long, default_value = "qemu")]
    vmm_type: String,
    /// SEV_FEATURES of the VMSAs, decimal or 0x-hex.
    #[arg(long, default_value = "0x1")]
    guest_features: String,
    /// Directly booted kernel (needs an OVMF with an SNP_KERNEL_HASHES section).
    #[arg(long)]
    kernel: Option<PathBuf>,
    /// Initrd of the directly booted kernel.
    #[arg(long, requires = "kernel")]
    initrd: Option<PathBuf>,
    /// Kernel command line.
    #[arg(long, requires = "kernel")]
    append: Option<String>,
    /// Precomputed OVMF hash (`snp-ovmf-hash`), hex: the OVMF pages are not measured again.
    #[arg(long)]
    snp_ovmf_hash: Option<String>,
    /// hex, base64, or policy (a policy v1 TOML with one SEV-SNP
    /// reference set holding this digest; needs --reference-name and --key).
    #[arg(long, default_value = "hex")]
    output_format: String,
    /// Name of the reference set (--output-format policy).
    #[arg(long)]
    reference_name: Option<String>,
    /// Key the reference set unlocks (--output-format policy).
    #[arg(long)]
    key: Option<String>,
    /// Products the reference set accepts (--output-format policy; repeatable; default any).
    #[arg(long = "product", value_parser = ["milan", "genoa", "turin"])]
    products: Vec<String>,
}

fn print_digest(d: &[u8], format: &str) -> Result<()> {
    use base64::Engine;
    match format {
        "hex" => println!("{}", hex::encode(d)),
        "base64" => println!("{}", base64::engine::general_purpose::STANDARD.encode(d)),
        other => anyhow::bail!("--output-format: '{other}' is not hex or base64"),
    }
    Ok(())
}

fn parse_u64(what: &str, s: &str) -> Result<u64> {
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    };
    parsed.with_context(|| format!("{what}: '{s}' is not a decimal or 0x-hex number"))
}

fn snp_digest(a: SnpArgs) -> Result<()> {
    let policy = match (a.output_format.as_str(), a.reference_name, a.key) {
        ("policy", Some(n), Some(k)) => Some((n, k, a.products)),
        ("policy", _, _) => {
            anyhow::bail!("--output-format policy needs --reference-name NAME and --key KEY")
        }
        _ => None,
    };
    let SnpArgs {
        ovmf,
        vcpus,
        vcpu_type,
        vcpu_sig,
        vmm_type,
        guest_features,
        kernel,
        initrd,
        append,
        snp_ovmf_hash,
        output_format,
        ..
    } = a;
    use sealbuild_measure::snp;
    let read = |p: &PathBuf| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
    let image = read(&ovmf)?;
    let vmm = snp::VmmType::from_name(&vmm_type)
        .with_context(|| format!("unknown VMM type '{vmm_type}' (qemu, ec2, gce)"))?;
    let sig = match (vcpu_type, vcpu_sig) {
        (Some(t), _) => {
            snp::vmsa::vcpu_sig_by_name(&t).with_context(|| format!("unknown vCPU type '{t}'"))?
        }
        (None, Some(s)) => u32::try_from(parse_u64("--vcpu-sig", &s)?)
            .with_context(|| format!("--vcpu-sig {s} does not fit in 32 bits"))?,
        (None, None) if vmm == snp::VmmType::Qemu => {
            anyhow::bail!("give --vcpu-type NAME or --vcpu-sig VALUE")
        }
        (None, None) => 0,
    };
    let features = parse_u64("--guest-features", &guest_features)?;
    let hashes = match &kernel {
        Some(k) => {
            let initrd = initrd.as_ref().map(read).transpose()?;
            Some(snp::KernelHashes::new(
                &read(k)?,
                initrd.as_deref(),
                append.as_deref(),
            ))
        }
        None => None,
    };
    let digest = match snp_ovmf_hash {
        Some(h) => {
            let seed: [u8; 48] = hex::decode(&h)
                .ok()
                .and_then(|b| b.try_into().ok())
                .with_context(|| format!("--snp-ovmf-hash '{h}' is not 48 bytes of hex"))?;
            snp::launch_digest_from_ovmf_hash(
                seed,
                &image,
                vcpus,
                sig,
                vmm,
                features,
                hashes.as_ref(),
            )?
        }
        None => snp::launch_digest(&image, vcpus, sig, vmm, features, hashes.as_ref())?,
    };
    match policy {
        Some((name, key, products)) => {
            let products: Vec<&str> = products.iter().map(String::as_str).collect();
            print!(
                "{}",
                sealbuild_measure::snp_policy_toml(&digest, &name, &key, &products)
            );
            Ok(())
        }
        None => print_digest(&digest, &output_format),
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::TpmReference {
            eventlog,
            pcrs_json,
            kernel: Some(kernel),
            initrd,
            append,
            memory,
            golden_eventlog,
            bank,
            pcrs,
            name,
            key,
            ..
        } => {
            let read =
                |p: &PathBuf| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
            if eventlog.is_some() || pcrs_json.is_some() {
                anyhow::bail!(
                    "--kernel does not go with --eventlog or --pcrs-json (use --golden-eventlog)"
                );
            }
            let Some(memory) = memory else {
                anyhow::bail!("--kernel needs --append and --memory");
            };
            if append.is_empty() {
                anyhow::bail!("--kernel needs --append");
            }
            let bank =
                HashAlg::from_name(&bank).with_context(|| format!("unknown bank '{bank}'"))?;
            let kernel_bytes = read(&kernel)?;
            let initrds = initrd.iter().map(read).collect::<Result<Vec<_>>>()?;
            let golden = golden_eventlog
                .as_ref()
                .map(|p| {
                    sealbuild_common::eventlog::EventLog::parse(&read(p)?)
                        .with_context(|| format!("{}: not a TCG event log", p.display()))
                })
                .transpose()?;
            // One member of the family per (initrd, command line).
            let initrd_choices: Vec<Option<&[u8]>> = if initrds.is_empty() {
                vec![None]
            } else {
                initrds.iter().map(|i| Some(i.as_slice())).collect()
            };
            let mut family = Vec::new();
            for i in &initrd_choices {
                for cmdline in &append {
                    let boot = sealbuild_measure::direct_boot::DirectBoot {
                        kernel: &kernel_bytes,
                        initrd: *i,
                        cmdline,
                        memory_mib: memory,
                    };
                    family.push(boot.predict(golden.as_ref())?);
                }
            }
            let pcrs = pcrs.unwrap_or_else(|| {
                if golden.is_some() {
                    vec![0, 1, 2, 3, 4, 5, 6, 7, 9]
                } else {
                    vec![4, 9]
                }
            });
            let file = |p: &PathBuf| {
                p.file_name().map_or_else(
                    || p.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                )
            };
            let initrd_text = if initrd.is_empty() {
                "no initrd".to_string()
            } else {
                initrd
                    .iter()
                    .zip(&initrds)
                    .map(|(p, b)| format!("initrd {} ({} bytes)", file(p), b.len()))
                    .collect::<Vec<_>>()
                    .join(" or ")
            };
            let mut header = vec![
                format!(
                    "A QEMU q35 VM booting {} directly under OVMF, {memory} MiB, {initrd_text},",
                    file(&kernel)
                ),
                format!(
                    "command line {}.",
                    append.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>().join(" or ")
                ),
                "PCR 4 (the kernel's Authenticode digest after QEMU patched its setup header: depends on the".into(),
                "memory and the initrd size) and PCR 9 (the EFI stub's LoadOptions and initrd events) are".into(),
                "computed from these artefacts.".into(),
            ];
            header.push(match &golden_eventlog {
                Some(g) => format!(
                    "PCRs 0-3 and 5-7 are the replay of the golden event log {} (same firmware, memory, vCPUs and devices).",
                    file(g)
                ),
                None => "No golden event log: PCRs 0-3 and 5-7 are not pinned.".into(),
            });
            print!(
                "{}",
                sealbuild_measure::direct_boot_policy_toml(
                    &family, bank, &pcrs, &name, &key, &header
                )?
            );
            Ok(())
        }
        Cmd::TpmReference {
            eventlog,
            pcrs_json,
            bank,
            pcrs,
            name,
            key,
            require_event_log,
            ..
        } => {
            let pcrs = pcrs.unwrap_or_else(|| (0..8).collect());
            let values = match (eventlog, pcrs_json) {
                (Some(p), None) => sealbuild_measure::pcrs_from_eventlog(
                    &std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?,
                )?,
                (None, Some(p)) => sealbuild_measure::pcrs_from_json(
                    &std::fs::read_to_string(&p)
                        .with_context(|| format!("reading {}", p.display()))?,
                )?,
                _ => anyhow::bail!("give --eventlog FILE or --pcrs-json FILE"),
            };
            let bank =
                HashAlg::from_name(&bank).with_context(|| format!("unknown bank '{bank}'"))?;
            print!(
                "{}",
                sealbuild_measure::policy_toml(
                    &values,
                    bank,
                    &pcrs,
                    &name,
                    &key,
                    require_event_log
                )?
            );
            Ok(())
        }
        Cmd::SnpOvmfHash { ovmf } => {
            let image =
                std::fs::read(&ovmf).with_context(|| format!("reading {}", ovmf.display()))?;
            print_digest(&sealbuild_measure::snp::ovmf_hash(&image)?, "hex")
        }
        Cmd::Snp(a) => snp_digest(a),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
