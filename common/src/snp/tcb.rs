//! TCB_VERSION: the security version numbers of the SEV-SNP firmware stack.
//!
//! AMD SEV-SNP Firmware ABI Specification (pub. 56860), revision 1.58,
//! §2.2 "TCB Version" and Table 3 "TCB_VERSION Structure": a 64-bit
//! little-endian value. Milan and Genoa (family 19h) use byte 0 = BOOT_LOADER,
//! byte 1 = TEE, bytes 2..6 reserved, byte 6 = SNP, byte 7 = MICROCODE. Turin
//! (family 1Ah) adds an FMC component: byte 0 = FMC, byte 1 = BOOT_LOADER,
//! byte 2 = TEE, byte 3 = SNP, bytes 4..7 reserved, byte 7 = MICROCODE.
//!
//! Which layout applies depends on the processor, which a version 2 report does
//! not state; [`TcbVersion`] therefore keeps the raw value and decodes it with
//! an explicit [`TcbLayout`].

use std::fmt;

/// Which TCB_VERSION byte layout a processor generation uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TcbLayout {
    /// Milan and Genoa (family 19h): BL, TEE, reserved ×4, SNP, UCODE.
    MilanGenoa,
    /// Turin (family 1Ah): FMC, BL, TEE, SNP, reserved ×3, UCODE.
    Turin,
}

/// A TCB_VERSION value as carried in a report (u64, little-endian on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcbVersion(pub u64);

/// The components of a [`TcbVersion`] decoded with one [`TcbLayout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TcbParts {
    /// FMC SVN (Turin only; `None` on Milan/Genoa).
    pub fmc: Option<u8>,
    /// PSP bootloader SVN.
    pub boot_loader: u8,
    /// PSP OS (TEE) SVN.
    pub tee: u8,
    /// SNP firmware SVN.
    pub snp: u8,
    /// Lowest microcode patch level of all cores.
    pub microcode: u8,
}

impl TcbVersion {
    /// The little-endian wire bytes.
    pub fn to_le_bytes(self) -> [u8; 8] {
        self.0.to_le_bytes()
    }

    /// Decodes the components for `layout`.
    pub fn parts(self, layout: TcbLayout) -> TcbParts {
        let [b0, b1, b2, b3, _b4, _b5, b6, b7] = self.to_le_bytes();
        match layout {
            TcbLayout::MilanGenoa => TcbParts {
                fmc: None,
                boot_loader: b0,
                tee: b1,
                snp: b6,
                microcode: b7,
            },
            TcbLayout::Turin => TcbParts {
                fmc: Some(b0),
                boot_loader: b1,
                tee: b2,
                snp: b3,
                microcode: b7,
            },
        }
    }

    /// Encodes components with `layout`; reserved bytes are zero.
    pub fn from_parts(parts: TcbParts, layout: TcbLayout) -> Self {
        let bytes = match layout {
            TcbLayout::MilanGenoa => [
                parts.boot_loader,
                parts.tee,
                0,
                0,
                0,
                0,
                parts.snp,
                parts.microcode,
            ],
            TcbLayout::Turin => [
                parts.fmc.unwrap_or(0),
                parts.boot_loader,
                parts.tee,
                parts.snp,
                0,
                0,
                0,
                parts.microcode,
            ],
        };
        Self(u64::from_le_bytes(bytes))
    }

    /// True when every component is at least the one of `other` (same
    /// layout); the SVN ordering a TCB comparison needs.
    pub fn dominates(self, other: TcbVersion, layout: TcbLayout) -> bool {
        let a = self.parts(layout);
        let b = other.parts(layout);
        a.fmc.unwrap_or(0) >= b.fmc.unwrap_or(0)
            && a.boot_loader >= b.boot_loader
            && a.tee >= b.tee
            && a.snp >= b.snp
            && a.microcode >= b.microcode
    }
}

impl fmt::Display for TcbVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#018x}", self.0)
    }
}

impl fmt::Display for TcbParts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(fmc) = self.fmc {
            write!(f, "fmc {fmc}, ")?;
        }
        write!(
            f,
            "bl {}, tee {}, snp {}, ucode {}",
            self.boot_loader, self.tee, self.snp, self.microcode
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milan_layout_matches_manifest_example() {
        let t = TcbVersion(0x7308_0000_0000_0003);
        let p = t.parts(TcbLayout::MilanGenoa);
        assert_eq!(
            (p.fmc, p.boot_loader, p.tee, p.snp, p.microcode),
            (None, 3, 0, 8, 115)
        );
        assert_eq!(TcbVersion::from_parts(p, TcbLayout::MilanGenoa), t);
        assert_eq!(t.to_string(), "0x7308000000000003");
    }

    #[test]
    fn turin_layout() {
        let t = TcbVersion(u64::from_le_bytes([1, 2, 3, 4, 0, 0, 0, 9]));
        let p = t.parts(TcbLayout::Turin);
        assert_eq!(
            (p.fmc, p.boot_loader, p.tee, p.snp, p.microcode),
            (Some(1), 2, 3, 4, 9)
        );
        assert_eq!(TcbVersion::from_parts(p, TcbLayout::Turin), t);
    }

    #[test]
    fn dominance_is_per_component() {
        let a = TcbVersion(0xce08_0000_0000_0003);
        let b = TcbVersion(0x7308_0000_0000_0003);
        assert!(a.dominates(b, TcbLayout::MilanGenoa));
        assert!(!b.dominates(a, TcbLayout::MilanGenoa));
        let c = TcbVersion(0x7309_0000_0000_0002);
        assert!(!c.dominates(b, TcbLayout::MilanGenoa));
        assert!(!b.dominates(c, TcbLayout::MilanGenoa));
    }
}
