//! The SEV-SNP launch digest (`MEASUREMENT` of the attestation report) a guest
//! booting a given OVMF image must have, computed from bytes alone.
//!
//! Spec: AMD "SEV Secure Nested Paging Firmware ABI Specification", pub. 56860,
//! rev. 1.51: section 8.17 SNP_LAUNCH_UPDATE (page types, `PAGE_INFO`); the
//! result is the `MEASUREMENT` field of the attestation report. The order of pages is
//! the VMM's launch sequence (QEMU `sev_snp_launch_update*`): the firmware image
//! as NORMAL pages from `4 GiB - len`, then each OVMF SEV metadata section
//! ([`ovmf`]) in table order, then one VMSA per vCPU ([`vmsa`]). On EC2 the
//! CPUID page is measured after every other section; on GCE the SEC memory is
//! UNMEASURED instead of ZERO.
//!
//! An image without SEV metadata is refused (it cannot launch an SNP guest),
//! where the reference calculator would measure no metadata pages.
//!
//! The results are checked against the reference calculator `sev-snp-measure`
//! (`--mode snp`, `--mode snp:ovmf-hash`) in `tests/snp_measure.rs`.

pub mod gctx;
pub mod ovmf;
pub mod vmsa;

use crate::MeasureError;
use gctx::{LaunchDigest, PageType, PAGE_SIZE};
use ovmf::{Ovmf, SectionType};
use sha2::{Digest, Sha256};
pub use vmsa::VmmType;

/// SHA-256 digests of the directly booted kernel, initrd and command line that
/// OVMF checks against the SEV hashes table (QEMU `-kernel … kernel-hashes=on`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelHashes {
    /// SHA-256 of the kernel image.
    pub kernel: [u8; 32],
    /// SHA-256 of the initrd (of the empty string without one).
    pub initrd: [u8; 32],
    /// SHA-256 of the command line including its terminating NUL (`"\0"` when empty).
    pub cmdline: [u8; 32],
}

impl KernelHashes {
    /// Hashes the artefacts as QEMU does: the command line gets a trailing NUL.
    pub fn new(kernel: &[u8], initrd: Option<&[u8]>, cmdline: Option<&str>) -> Self {
        let mut c = cmdline.unwrap_or("").as_bytes().to_vec();
        c.push(0);
        Self {
            kernel: Sha256::digest(kernel).into(),
            initrd: Sha256::digest(initrd.unwrap_or(&[])).into(),
            cmdline: Sha256::digest(&c).into(),
        }
    }

    /// The padded SEV hashes table (QEMU `target/i386/sev.c`, `SevHashTable`):
    /// header GUID 9438d606-4f22-4cc9-b479-a793d411fd21 and u16 length, then
    /// the cmdline, initrd and kernel entries (GUID, u16 length 50, SHA-256),
    /// zero-padded to a multiple of 16 bytes.
    pub fn table(&self) -> Vec<u8> {
        const HEADER: ovmf::Guid = ovmf::guid(
            0x9438_d606,
            0x4f22,
            0x4cc9,
            [0xb4, 0x79, 0xa7, 0x93, 0xd4, 0x11, 0xfd, 0x21],
        );
        const CMDLINE: ovmf::Guid = ovmf::guid(
            0x97d0_2dd8,
            0xbd20,
            0x4c94,
            [0xaa, 0x78, 0xe7, 0x71, 0x4d, 0x36, 0xab, 0x2a],
        );
        const INITRD: ovmf::Guid = ovmf::guid(
            0x44ba_f731,
            0x3a2f,
            0x4bd7,
            [0x9a, 0xf1, 0x41, 0xe2, 0x91, 0x69, 0x78, 0x1d],
        );
        const KERNEL: ovmf::Guid = ovmf::guid(
            0x4de7_9437,
            0xabd2,
            0x427f,
            [0xb8, 0x35, 0xd5, 0xb1, 0x72, 0xd2, 0x04, 0x5b],
        );
        const ENTRY_LEN: u16 = 16 + 2 + 32;
        const TABLE_LEN: u16 = 16 + 2 + 3 * ENTRY_LEN;
        let mut t = Vec::with_capacity(usize::from(TABLE_LEN) + 16);
        t.extend_from_slice(&HEADER);
        t.extend_from_slice(&TABLE_LEN.to_le_bytes());
        for (g, h) in [
            (CMDLINE, &self.cmdline),
            (INITRD, &self.initrd),
            (KERNEL, &self.kernel),
        ] {
            t.extend_from_slice(&g);
            t.extend_from_slice(&ENTRY_LEN.to_le_bytes());
            t.extend_from_slice(h);
        }
        t.resize(t.len().next_multiple_of(16), 0);
        t
    }
}

fn input(reason: String) -> MeasureError {
    MeasureError::Input {
        what: "SEV-SNP launch".into(),
        reason,
    }
}

/// The launch digest after measuring only the OVMF image (its pages as NORMAL
/// pages ending at 4 GiB): `sev-snp-measure --mode snp:ovmf-hash`. A VMM or
/// verifier can continue from it with [`launch_digest_from_ovmf_hash`].
pub fn ovmf_hash(ovmf: &[u8]) -> Result<[u8; 48], MeasureError> {
    let parsed = Ovmf::parse(ovmf)?;
    let mut ld = LaunchDigest::new();
    ld.normal_pages(parsed.gpa(), parsed.image());
    Ok(ld.digest())
}

/// The SEV-SNP launch digest of a guest booting `ovmf` with `vcpus` vCPUs of
/// signature `vcpu_sig` (CPUID Fn0000_0001_EAX; see [`vmsa::vcpu_sig_by_name`];
/// ignored by EC2 and GCE), under `vmm`, with `guest_features` as the VMSA
/// `SEV_FEATURES`, and with the SEV hashes table filled from `kernel_hashes`
/// when a kernel is booted directly.
pub fn launch_digest(
    ovmf: &[u8],
    vcpus: u32,
    vcpu_sig: u32,
    vmm: VmmType,
    guest_features: u64,
    kernel_hashes: Option<&KernelHashes>,
) -> Result<[u8; 48], MeasureError> {
    let parsed = Ovmf::parse(ovmf)?;
    let mut ld = LaunchDigest::new();
    ld.normal_pages(parsed.gpa(), parsed.image());
    finish(
        ld,
        &parsed,
        vcpus,
        vcpu_sig,
        vmm,
        guest_features,
        kernel_hashes,
    )
}

/// [`launch_digest`] continuing from a precomputed [`ovmf_hash`] of the same
/// image (`sev-snp-measure --snp-ovmf-hash`); `ovmf` is still needed for its
/// metadata and reset vector, but its pages are not hashed again.
pub fn launch_digest_from_ovmf_hash(
    ovmf_hash: [u8; 48],
    ovmf: &[u8],
    vcpus: u32,
    vcpu_sig: u32,
    vmm: VmmType,
    guest_features: u64,
    kernel_hashes: Option<&KernelHashes>,
) -> Result<[u8; 48], MeasureError> {
    let parsed = Ovmf::parse(ovmf)?;
    let ld = LaunchDigest::from_seed(ovmf_hash);
    finish(
        ld,
        &parsed,
        vcpus,
        vcpu_sig,
        vmm,
        guest_features,
        kernel_hashes,
    )
}

/// At most this many vCPUs (the largest SNP guests QEMU launches).
pub const MAX_VCPUS: u32 = 512;

fn finish(
    mut ld: LaunchDigest,
    ovmf: &Ovmf<'_>,
    vcpus: u32,
    vcpu_sig: u32,
    vmm: VmmType,
    guest_features: u64,
    kernel_hashes: Option<&KernelHashes>,
) -> Result<[u8; 48], MeasureError> {
    if vcpus == 0 || vcpus > MAX_VCPUS {
        return Err(input(format!(
            "vCPU count {vcpus}: expected 1..={MAX_VCPUS}"
        )));
    }
    if !ovmf.has_sev_metadata() {
        return Err(input(
            "the OVMF image has no SEV metadata: it cannot launch an SEV-SNP guest".into(),
        ));
    }
    let has_hashes_section = ovmf
        .sections()
        .iter()
        .any(|s| s.kind == SectionType::SnpKernelHashes);
    if kernel_hashes.is_some() && !has_hashes_section {
        return Err(input(
            "a kernel is booted directly but the OVMF metadata has no SNP_KERNEL_HASHES section (use an AmdSev OVMF build)".into(),
        ));
    }
    for s in ovmf.sections() {
        let gpa = u64::from(s.gpa);
        let size = u64::from(s.size);
        match s.kind {
            SectionType::SnpSecMem if vmm == VmmType::Gce => {
                ld.content_free_pages(PageType::Unmeasured, gpa, size)
            }
            SectionType::SnpSecMem | SectionType::SvsmCaa => {
                ld.content_free_pages(PageType::Zero, gpa, size)
            }
            SectionType::SnpSecrets => ld.update(PageType::Secrets, gpa, &[0; 48]),
            SectionType::Cpuid if vmm != VmmType::Ec2 => ld.update(PageType::Cpuid, gpa, &[0; 48]),
            SectionType::Cpuid => {}
            SectionType::SnpKernelHashes => match kernel_hashes {
                None => ld.content_free_pages(PageType::Zero, gpa, size),
                Some(h) => {
                    let page = hashes_page(ovmf, h, size)?;
                    ld.normal_pages(gpa, &page);
                }
            },
        }
    }
    if vmm == VmmType::Ec2 {
        for s in ovmf
            .sections()
            .iter()
            .filter(|s| s.kind == SectionType::Cpuid)
        {
            ld.update(PageType::Cpuid, u64::from(s.gpa), &[0; 48]);
        }
    }
    let ap_eip = ovmf.sev_es_reset_eip()?;
    let bsp = vmsa::vmsa_page(vmsa::BSP_EIP, guest_features, vcpu_sig, vmm);
    let ap = vmsa::vmsa_page(ap_eip, guest_features, vcpu_sig, vmm);
    ld.vmsa_page(&bsp);
    for _ in 1..vcpus {
        ld.vmsa_page(&ap);
    }
    Ok(ld.digest())
}

/// The page holding the SEV hashes table at its offset within the page.
fn hashes_page(ovmf: &Ovmf<'_>, h: &KernelHashes, size: u64) -> Result<Vec<u8>, MeasureError> {
    if size != PAGE_SIZE {
        return Err(input(format!(
            "SNP_KERNEL_HASHES section size {size:#x}: expected one page"
        )));
    }
    let offset = (u64::from(ovmf.sev_hashes_table_gpa()?) % PAGE_SIZE) as usize;
    let table = h.table();
    let mut page = vec![0u8; offset];
    page.extend_from_slice(&table);
    if page.len() as u64 > PAGE_SIZE {
        return Err(input(format!(
            "SEV hashes table at page offset {offset:#x} runs past the end of its page"
        )));
    }
    page.resize(PAGE_SIZE as usize, 0);
    Ok(page)
}
