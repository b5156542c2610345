//! The initial VMSA (VM save area) of each vCPU, as the VMM hands it to
//! `SNP_LAUNCH_UPDATE` with page type VMSA.
//!
//! Layout: AMD64 Architecture Programmer's Manual vol. 2 (pub. 24593, rev. 3.41),
//! appendix B, table B-4 "VMSA Layout, State Save Area for SEV-ES" (offsets
//! below are from that table; the page is 4096 bytes, everything not listed is
//! zero). Register reset values: APM vol. 2 section 14.1.3 "Processor
//! Initialization State"; the vCPU signature in RDX is CPUID Fn0000_0001_EAX
//! (AMD pub. 25481, "CPUID Specification"). VMM-specific values (segment
//! attributes, RDX, MXCSR, FCW, G_PAT) are what each hypervisor writes:
//! QEMU/KVM (`x86_cpu_reset`, `sev_es_set_reset_vector`), AWS EC2 (Nitro) and
//! Google Compute Engine, as recorded by the reference calculator the tests
//! compare against.

use super::gctx::PAGE_SIZE;

/// The hypervisor that builds the VMSAs; each resets registers slightly differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmmType {
    /// QEMU with KVM.
    Qemu,
    /// Amazon EC2. Not acceptance-tested: published reference values for EC2
    /// disagree between calculators (the VMSA changed in 2026); this follows the
    /// version pinned in scripts/sev-snp-measure.sh.
    Ec2,
    /// Google Compute Engine.
    Gce,
}

impl VmmType {
    /// Parses `qemu`, `ec2` or `gce`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "qemu" => Some(Self::Qemu),
            "ec2" => Some(Self::Ec2),
            "gce" => Some(Self::Gce),
            _ => None,
        }
    }

    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Qemu => "qemu",
            Self::Ec2 => "ec2",
            Self::Gce => "gce",
        }
    }
}

/// The bootstrap processor's reset address.
pub const BSP_EIP: u32 = 0xFFFF_FFF0;

/// The CPUID Fn0000_0001_EAX signature of a family/model/stepping (AMD pub. 25481).
pub const fn cpu_sig(family: u32, model: u32, stepping: u32) -> u32 {
    let (fam_low, fam_ext) = if family > 0xf {
        (0xf, (family - 0xf) & 0xff)
    } else {
        (family, 0)
    };
    (fam_ext << 20)
        | (((model >> 4) & 0xf) << 16)
        | (fam_low << 8)
        | ((model & 0xf) << 4)
        | (stepping & 0xf)
}

/// The vCPU signature of a QEMU CPU model name (`-cpu EPYC-Milan-v2` …), for the
/// AMD EPYC models QEMU defines.
pub fn vcpu_sig_by_name(name: &str) -> Option<u32> {
    match name {
        "EPYC" | "EPYC-v1" | "EPYC-v2" | "EPYC-IBPB" | "EPYC-v3" | "EPYC-v4" => {
            Some(cpu_sig(23, 1, 2))
        }
        "EPYC-Rome" | "EPYC-Rome-v1" | "EPYC-Rome-v2" | "EPYC-Rome-v3" => Some(cpu_sig(23, 49, 0)),
        "EPYC-Milan" | "EPYC-Milan-v1" | "EPYC-Milan-v2" => Some(cpu_sig(25, 1, 1)),
        "EPYC-Genoa" | "EPYC-Genoa-v1" => Some(cpu_sig(25, 17, 0)),
        "EPYC-Turin" => Some(cpu_sig(26, 0, 0)),
        _ => None,
    }
}

/// A VMSA page being filled in.
struct Page([u8; PAGE_SIZE as usize]);

impl Page {
    fn put(&mut self, offset: usize, bytes: &[u8]) {
        // Offsets are compile-time constants below 0x1000; `get_mut` keeps this panic-free.
        if let Some(dst) = self.0.get_mut(offset..offset + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
    }
    fn u16(&mut self, offset: usize, v: u16) {
        self.put(offset, &v.to_le_bytes());
    }
    fn u32(&mut self, offset: usize, v: u32) {
        self.put(offset, &v.to_le_bytes());
    }
    fn u64(&mut self, offset: usize, v: u64) {
        self.put(offset, &v.to_le_bytes());
    }
    /// A VMCB segment: selector u16, attributes u16, limit u32, base u64.
    fn seg(&mut self, offset: usize, selector: u16, attrib: u16, limit: u32, base: u64) {
        self.u16(offset, selector);
        self.u16(offset + 2, attrib);
        self.u32(offset + 4, limit);
        self.u64(offset + 8, base);
    }
}

// Table B-4 offsets.
const ES: usize = 0x000;
const CS: usize = 0x010;
const SS: usize = 0x020;
const DS: usize = 0x030;
const FS: usize = 0x040;
const GS: usize = 0x050;
const GDTR: usize = 0x060;
const LDTR: usize = 0x070;
const IDTR: usize = 0x080;
const TR: usize = 0x090;
const EFER: usize = 0x0D0;
const CR4: usize = 0x148;
const CR0: usize = 0x158;
const DR7: usize = 0x160;
const DR6: usize = 0x168;
const RFLAGS: usize = 0x170;
const RIP: usize = 0x178;
const G_PAT: usize = 0x268;
const RDX: usize = 0x310;
const SEV_FEATURES: usize = 0x3B0;
const XCR0: usize = 0x3E8;
const MXCSR: usize = 0x408;
const X87_FCW: usize = 0x410;

/// The VMSA page of a vCPU starting at `eip` (the BSP uses [`BSP_EIP`], APs the
/// SEV-ES reset block's address), with `sev_features` (the guest features
/// policy) and `vcpu_sig` in RDX (QEMU only; EC2 and GCE use their own value).
pub fn vmsa_page(
    eip: u32,
    sev_features: u64,
    vcpu_sig: u32,
    vmm: VmmType,
) -> [u8; PAGE_SIZE as usize] {
    // Default x86 PAT (APM vol. 2 section 7.8.2): WB, WT, UC-, UC, repeated.
    let mut g_pat: u64 = 0x0007_0406_0007_0406;
    let (cs_attr, ss_attr, tr_attr, rdx, mxcsr, fcw) = match vmm {
        VmmType::Qemu => (0x9b, 0x93, 0x8b, u64::from(vcpu_sig), 0x1f80, 0x37f),
        VmmType::Ec2 => {
            let cs = if eip == BSP_EIP { 0x9a } else { 0x9b };
            (cs, 0x92, 0x83, 0x600, 0, 0)
        }
        VmmType::Gce => {
            g_pat = 0x0007_0106;
            (0x9b, 0x93, 0x8b, 0x600, 0, 0)
        }
    };
    let mut p = Page([0; PAGE_SIZE as usize]);
    p.seg(ES, 0, 0x93, 0xffff, 0);
    p.seg(CS, 0xf000, cs_attr, 0xffff, u64::from(eip & 0xffff_0000));
    p.seg(SS, 0, ss_attr, 0xffff, 0);
    p.seg(DS, 0, 0x93, 0xffff, 0);
    p.seg(FS, 0, 0x93, 0xffff, 0);
    p.seg(GS, 0, 0x93, 0xffff, 0);
    p.seg(GDTR, 0, 0, 0xffff, 0);
    p.seg(LDTR, 0, 0x82, 0xffff, 0);
    p.seg(IDTR, 0, 0, 0xffff, 0);
    p.seg(TR, 0, tr_attr, 0xffff, 0);
    p.u64(EFER, 0x1000); // EFER.SVME, set by KVM
    p.u64(CR4, 0x40); // CR4.MCE
    p.u64(CR0, 0x10); // CR0.ET
    p.u64(DR7, 0x400);
    p.u64(DR6, 0xffff_0ff0);
    p.u64(RFLAGS, 0x2);
    p.u64(RIP, u64::from(eip & 0xffff));
    p.u64(G_PAT, g_pat);
    p.u64(RDX, rdx);
    p.u64(SEV_FEATURES, sev_features);
    p.u64(XCR0, 0x1);
    p.u32(MXCSR, mxcsr);
    p.u16(X87_FCW, fcw);
    p.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_signatures() {
        assert_eq!(cpu_sig(23, 1, 2), 0x0080_0f12);
        assert_eq!(cpu_sig(25, 1, 1), 0x00a0_0f11);
        assert_eq!(cpu_sig(25, 17, 0), 0x00a1_0f10);
        assert_eq!(vcpu_sig_by_name("EPYC-v4"), Some(0x0080_0f12));
        assert_eq!(vcpu_sig_by_name("EPYC-Milan-v2"), Some(0x00a0_0f11));
        assert_eq!(vcpu_sig_by_name("EPYC-Genoa"), Some(0x00a1_0f10));
        assert_eq!(vcpu_sig_by_name("EPYC-Rome-v3"), Some(cpu_sig(23, 49, 0)));
        assert_eq!(vcpu_sig_by_name("EPYC-Genoa-v2"), None);
        assert_eq!(vcpu_sig_by_name("Skylake"), None);
    }

    #[test]
    fn bsp_page_fields() {
        let p = vmsa_page(BSP_EIP, 0x1, 0x00a0_0f11, VmmType::Qemu);
        assert_eq!(
            &p[CS..CS + 16],
            &[0x00, 0xf0, 0x9b, 0, 0xff, 0xff, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0]
        );
        assert_eq!(&p[RIP..RIP + 8], &0xfff0u64.to_le_bytes());
        assert_eq!(&p[RDX..RDX + 8], &0x00a0_0f11u64.to_le_bytes());
        assert_eq!(&p[SEV_FEATURES..SEV_FEATURES + 8], &1u64.to_le_bytes());
        assert!(p[0x670..].iter().all(|b| *b == 0));
    }
}
