//! The SEV-SNP launch digest: the chain of `PAGE_INFO` hashes the AMD Secure
//! Processor folds every `SNP_LAUNCH_UPDATE` page into.
//!
//! Spec: AMD "SEV Secure Nested Paging Firmware ABI Specification", pub. 56860,
//! rev. 1.51, section 8.17 SNP_LAUNCH_UPDATE (the `PAGE_INFO` structure):
//! `LD' = SHA-384(PAGE_INFO)`, where `PAGE_INFO` (0x70 bytes) is
//! `DIGEST_CUR (48) || CONTENTS (48) || LENGTH u16 || PAGE_TYPE u8 || IMI_PAGE u8
//! || VMPL3_PERMS u8 || VMPL2_PERMS u8 || VMPL1_PERMS u8 || reserved u8 || GPA u64`,
//! all little-endian. `CONTENTS` is the SHA-384 of the page for NORMAL and VMSA
//! pages and zero for ZERO, UNMEASURED, SECRETS and CPUID pages (section
//! 8.17.2, page types). The launch digest starts as 48 zero bytes.

use sha2::{Digest, Sha384};

/// Size of one guest page.
pub const PAGE_SIZE: u64 = 4096;
/// The GPA the hypervisor reports for every VMSA page (the real GPA of a VMSA
/// is not measured; KVM/QEMU and the other VMMs use this value).
pub const VMSA_GPA: u64 = 0xFFFF_FFFF_F000;

const PAGE_INFO_LEN: u16 = 0x70;

/// `PAGE_TYPE` values of the `SNP_LAUNCH_UPDATE` command (56860, section 8.17).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum PageType {
    /// A page of guest data, measured by content.
    Normal = 0x01,
    /// A VMSA (initial vCPU register state), measured by content.
    Vmsa = 0x02,
    /// A page the Secure Processor zeroes.
    Zero = 0x03,
    /// A page whose content is not measured.
    Unmeasured = 0x04,
    /// The secrets page, filled by the Secure Processor.
    Secrets = 0x05,
    /// The CPUID page, checked by the Secure Processor.
    Cpuid = 0x06,
}

/// A launch digest under construction (the guest context's `LD`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchDigest {
    ld: [u8; 48],
}

impl Default for LaunchDigest {
    fn default() -> Self {
        Self::new()
    }
}

impl LaunchDigest {
    /// The initial (all-zero) digest.
    pub fn new() -> Self {
        Self { ld: [0; 48] }
    }

    /// Continues from a known digest, e.g. a precomputed [`super::ovmf_hash`].
    pub fn from_seed(seed: [u8; 48]) -> Self {
        Self { ld: seed }
    }

    /// The current digest.
    pub fn digest(&self) -> [u8; 48] {
        self.ld
    }

    /// Folds one `PAGE_INFO` into the digest.
    pub fn update(&mut self, page_type: PageType, gpa: u64, contents: &[u8; 48]) {
        let mut h = Sha384::new();
        h.update(self.ld);
        h.update(contents);
        h.update(PAGE_INFO_LEN.to_le_bytes());
        // PAGE_TYPE, IMI_PAGE = 0, VMPL3/2/1 permissions = 0, reserved.
        h.update([page_type as u8, 0, 0, 0, 0, 0]);
        h.update(gpa.to_le_bytes());
        self.ld = h.finalize().into();
    }

    /// Measures `data` as NORMAL pages from `gpa` on. Callers pass a whole
    /// number of pages (a short last chunk would be hashed as it is).
    pub fn normal_pages(&mut self, gpa: u64, data: &[u8]) {
        let mut page_gpa = gpa;
        for page in data.chunks(PAGE_SIZE as usize) {
            let mut contents = [0u8; 48];
            contents.copy_from_slice(&Sha384::digest(page));
            self.update(PageType::Normal, page_gpa, &contents);
            page_gpa = page_gpa.wrapping_add(PAGE_SIZE);
        }
    }

    /// Measures one VMSA page.
    pub fn vmsa_page(&mut self, vmsa: &[u8; PAGE_SIZE as usize]) {
        let mut contents = [0u8; 48];
        contents.copy_from_slice(&Sha384::digest(vmsa));
        self.update(PageType::Vmsa, VMSA_GPA, &contents);
    }

    /// Measures `len / 4096` pages of `page_type` (zero content) from `gpa` on.
    pub fn content_free_pages(&mut self, page_type: PageType, gpa: u64, len: u64) {
        let mut off = 0;
        while off < len {
            self.update(page_type, gpa.wrapping_add(off), &[0; 48]);
            off += PAGE_SIZE;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_info_layout() {
        // Hand-built PAGE_INFO for one ZERO page at GPA 0x1000 from the zero digest.
        let mut info = vec![0u8; 96];
        info.extend_from_slice(&[0x70, 0x00, 0x03, 0, 0, 0, 0, 0]);
        info.extend_from_slice(&0x1000u64.to_le_bytes());
        assert_eq!(info.len(), 0x70);
        let mut ld = LaunchDigest::new();
        ld.content_free_pages(PageType::Zero, 0x1000, 4096);
        assert_eq!(ld.digest().as_slice(), Sha384::digest(&info).as_slice());
    }

    #[test]
    fn chain_depends_on_order_and_gpa() {
        let mut a = LaunchDigest::new();
        a.update(PageType::Secrets, 0x1000, &[0; 48]);
        a.update(PageType::Cpuid, 0x2000, &[0; 48]);
        let mut b = LaunchDigest::new();
        b.update(PageType::Cpuid, 0x2000, &[0; 48]);
        b.update(PageType::Secrets, 0x1000, &[0; 48]);
        assert_ne!(a.digest(), b.digest());
        let mut c = LaunchDigest::new();
        c.update(PageType::Secrets, 0x1000, &[0; 48]);
        c.update(PageType::Cpuid, 0x3000, &[0; 48]);
        assert_ne!(a.digest(), c.digest());
    }
}
