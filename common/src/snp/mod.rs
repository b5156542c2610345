//! AMD SEV-SNP evidence: the guest ATTESTATION_REPORT and its TCB values.
//!
//! Specification: AMD "SEV Secure Nested Paging Firmware ABI Specification"
//! (publication 56860), revision 1.58 (May 2025): Table 23
//! "ATTESTATION_REPORT Structure" ([`report`]), §2.2 "TCB Version" ([`tcb`]).
//! Processor generations are told apart by the CPUID family/model the report
//! carries from version 3 on (AMD family 19h: Milan models 00h–0Fh, Genoa
//! models 10h–1Fh and A0h–AFh; family 1Ah: Turin models 00h–11h).
//!
//! Pure parsing only: the signature and the AMD certificate chain are checked
//! in the verifier core.

pub mod certtable;
pub mod fields;
pub mod report;
pub mod tcb;

pub use fields::EndorsementKind;
pub use report::{
    AttestationReport, Cpuid, FirmwareVersion, GuestPolicy, KeyInfo, MitigationVectors,
    PlatformInfo, ReportSignature, SigningKey, REPORT_SIZE, SIGNED_LEN,
};
pub use tcb::{TcbLayout, TcbParts, TcbVersion};

/// An AMD EPYC generation that issues SEV-SNP reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SnpProduct {
    /// 3rd generation EPYC (family 19h, models 00h–0Fh).
    Milan,
    /// 4th generation EPYC (family 19h, models 10h–1Fh and A0h–AFh).
    Genoa,
    /// 5th generation EPYC (family 1Ah, models 00h–11h).
    Turin,
}

impl SnpProduct {
    /// The product of a CPUID family/model, `None` for one not known here.
    pub fn from_cpuid(cpuid: Cpuid) -> Option<Self> {
        match (cpuid.family, cpuid.model) {
            (0x19, 0x00..=0x0F) => Some(Self::Milan),
            (0x19, 0x10..=0x1F) | (0x19, 0xA0..=0xAF) => Some(Self::Genoa),
            (0x1A, 0x00..=0x11) => Some(Self::Turin),
            _ => None,
        }
    }

    /// The name AMD uses in certificates (VCEK productName prefix) and
    /// key-distribution URLs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Milan => "Milan",
            Self::Genoa => "Genoa",
            Self::Turin => "Turin",
        }
    }

    /// The product named `milan`, `genoa` or `turin` (any case).
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "milan" => Some(Self::Milan),
            "genoa" => Some(Self::Genoa),
            "turin" => Some(Self::Turin),
            _ => None,
        }
    }

    /// Lower-case name (`milan`, …), as in policies and command lines.
    pub fn id(self) -> &'static str {
        match self {
            Self::Milan => "milan",
            Self::Genoa => "genoa",
            Self::Turin => "turin",
        }
    }

    /// The hardware id a VCEK of this product certifies (its hwID
    /// extension, and the KDS URL path): the whole 64-byte CHIP_ID on Milan
    /// and Genoa, its first 8 bytes on Turin (AMD pub. 57230 rev. 0.50,
    /// "VCEK Certificate" hwID; pub. 56860 Table 23 CHIP_ID).
    pub fn hw_id(self, chip_id: &[u8; 64]) -> &[u8] {
        match self {
            Self::Turin => chip_id.get(..8).unwrap_or(chip_id),
            Self::Milan | Self::Genoa => chip_id,
        }
    }

    /// The TCB_VERSION layout of this generation.
    pub fn tcb_layout(self) -> TcbLayout {
        match self {
            Self::Milan | Self::Genoa => TcbLayout::MilanGenoa,
            Self::Turin => TcbLayout::Turin,
        }
    }
}

impl std::fmt::Display for SnpProduct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(family: u8, model: u8) -> Cpuid {
        Cpuid {
            family,
            model,
            stepping: 0,
        }
    }

    #[test]
    fn products_from_cpuid() {
        assert_eq!(
            SnpProduct::from_cpuid(c(0x19, 0x01)),
            Some(SnpProduct::Milan)
        );
        assert_eq!(
            SnpProduct::from_cpuid(c(0x19, 0x11)),
            Some(SnpProduct::Genoa)
        );
        assert_eq!(
            SnpProduct::from_cpuid(c(0x19, 0xA0)),
            Some(SnpProduct::Genoa)
        );
        assert_eq!(
            SnpProduct::from_cpuid(c(0x1A, 0x02)),
            Some(SnpProduct::Turin)
        );
        assert_eq!(SnpProduct::from_cpuid(c(0x19, 0x50)), None);
        assert_eq!(SnpProduct::from_cpuid(c(0x17, 0x01)), None);
        assert_eq!(SnpProduct::Turin.tcb_layout(), TcbLayout::Turin);
        assert_eq!(SnpProduct::Genoa.tcb_layout(), TcbLayout::MilanGenoa);
    }
}
