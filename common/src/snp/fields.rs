//! The typed fields of an SEV-SNP ATTESTATION_REPORT: guest policy
//! (AMD pub. 56860 rev. 1.58, Table 9), PLATFORM_INFO, the key-info flags,
//! CPUID, firmware versions and the signature (Table 23 and Appendix
//! "Digital Signatures": R and S little-endian, zero-extended to 72 bytes).
//! The report layout itself is in `report`.

/// Length of one zero-extended signature component.
pub(super) const SIG_COMPONENT_LEN: usize = 72;
/// Significant bytes of a P-384 signature component.
pub(super) const P384_LEN: usize = 48;

use crate::FormatError;

/// GUEST_POLICY (Table 9). Kept whole; accessors name the bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GuestPolicy(pub u64);

impl GuestPolicy {
    fn bit(self, n: u32) -> bool {
        (self.0 >> n) & 1 == 1
    }
    /// Bits 7:0, ABI_MINOR: minimum firmware minor version.
    pub fn abi_minor(self) -> u8 {
        self.0.to_le_bytes().first().copied().unwrap_or(0)
    }
    /// Bits 15:8, ABI_MAJOR: minimum firmware major version.
    pub fn abi_major(self) -> u8 {
        self.0.to_le_bytes().get(1).copied().unwrap_or(0)
    }
    /// Bit 16, SMT: SMT is allowed.
    pub fn smt_allowed(self) -> bool {
        self.bit(16)
    }
    /// Bit 17: reserved, must be one.
    pub fn reserved_one(self) -> bool {
        self.bit(17)
    }
    /// Bit 18, MIGRATE_MA: association with a migration agent is allowed.
    pub fn migrate_ma_allowed(self) -> bool {
        self.bit(18)
    }
    /// Bit 19, DEBUG: debugging (host access to guest memory) is allowed.
    pub fn debug_allowed(self) -> bool {
        self.bit(19)
    }
    /// Bit 20, SINGLE_SOCKET: the guest may only run on one socket.
    pub fn single_socket(self) -> bool {
        self.bit(20)
    }
    /// Bit 21, CXL_ALLOW: CXL may be populated with guest memory.
    pub fn cxl_allowed(self) -> bool {
        self.bit(21)
    }
    /// Bit 22, MEM_AES_256_XTS: AES-256-XTS memory encryption required.
    pub fn mem_aes_256_xts(self) -> bool {
        self.bit(22)
    }
    /// Bit 23, RAPL_DIS: running-average power limit must be disabled.
    pub fn rapl_disabled(self) -> bool {
        self.bit(23)
    }
    /// Bit 24, CIPHERTEXT_HIDING: ciphertext hiding must be enabled.
    pub fn ciphertext_hiding(self) -> bool {
        self.bit(24)
    }
    /// Bit 25, PAGE_SWAP_DISABLE: SNP_PAGE_MOVE/SWAP commands are disabled.
    pub fn page_swap_disabled(self) -> bool {
        self.bit(25)
    }
    /// Bits 63:26, reserved (zero in every policy the firmware accepts).
    pub fn reserved_bits(self) -> u64 {
        self.0 >> 26
    }
}

/// PLATFORM_INFO (Table 24). Kept whole; accessors name the bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PlatformInfo(pub u64);

impl PlatformInfo {
    fn bit(self, n: u32) -> bool {
        (self.0 >> n) & 1 == 1
    }
    /// Bit 0, SMT_EN: SMT is enabled on the platform.
    pub fn smt_enabled(self) -> bool {
        self.bit(0)
    }
    /// Bit 1, TSME_EN: transparent SME is enabled.
    pub fn tsme_enabled(self) -> bool {
        self.bit(1)
    }
    /// Bit 2, ECC_EN: the platform uses error-correcting memory.
    pub fn ecc_enabled(self) -> bool {
        self.bit(2)
    }
    /// Bit 3, RAPL_DIS: RAPL is disabled.
    pub fn rapl_disabled(self) -> bool {
        self.bit(3)
    }
    /// Bit 4, CIPHERTEXT_HIDING_EN: ciphertext hiding is enabled for DRAM.
    pub fn ciphertext_hiding_enabled(self) -> bool {
        self.bit(4)
    }
    /// Bit 5, ALIAS_CHECK_COMPLETE: the memory alias check has completed.
    pub fn alias_check_complete(self) -> bool {
        self.bit(5)
    }
    /// Bit 7, TIO_EN: SEV-TIO is enabled.
    pub fn tio_enabled(self) -> bool {
        self.bit(7)
    }
}

/// The two AMD endorsement hierarchies (AMD pub. 57230 rev. 0.50): ARK →
/// ASK → VCEK (per-chip keys served by KDS) and ARK → ASVK → VLEK
/// (per-cloud-provider keys). The one VCEK/VLEK type of the code base: the
/// signer of a verified report, the collateral store's chain kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EndorsementKind {
    /// Versioned Chip Endorsement Key.
    Vcek,
    /// Versioned Loaded Endorsement Key.
    Vlek,
}

impl EndorsementKind {
    /// `vcek` or `vlek` (policies, claims, KDS paths, store file names).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Vcek => "vcek",
            Self::Vlek => "vlek",
        }
    }

    /// The same as [`Self::as_str`].
    pub fn name(self) -> &'static str {
        self.as_str()
    }

    /// The common name AMD gives the intermediate of `product` ("SEV-Milan",
    /// "SEV-VLEK-Milan").
    pub fn intermediate_cn(self, product: super::SnpProduct) -> String {
        match self {
            Self::Vcek => format!("SEV-{}", product.name()),
            Self::Vlek => format!("SEV-VLEK-{}", product.name()),
        }
    }
}

impl std::fmt::Display for EndorsementKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// SIGNING_KEY (offset 048h, bits 4:2): which key signed the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningKey {
    /// 0: the Versioned Chip Endorsement Key.
    Vcek,
    /// 1: the Versioned Loaded Endorsement Key.
    Vlek,
    /// 7: the report is not signed.
    None,
}

impl SigningKey {
    /// The endorsement hierarchy of the signer; `None` for an unsigned report.
    pub fn endorsement(self) -> Option<EndorsementKind> {
        match self {
            Self::Vcek => Some(EndorsementKind::Vcek),
            Self::Vlek => Some(EndorsementKind::Vlek),
            Self::None => None,
        }
    }

    /// `vcek`, `vlek` or `none`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Vcek => "vcek",
            Self::Vlek => "vlek",
            Self::None => "none",
        }
    }

    fn code(self) -> u32 {
        match self {
            Self::Vcek => 0,
            Self::Vlek => 1,
            Self::None => 7,
        }
    }
}

/// The word at offset 048h.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyInfo {
    /// Bit 0, AUTHOR_KEY_EN: AUTHOR_KEY_DIGEST holds the author key digest.
    pub author_key_en: bool,
    /// Bit 1, MASK_CHIP_KEY: CHIP_ID is masked (all zero).
    pub mask_chip_key: bool,
    /// Bits 4:2, SIGNING_KEY.
    pub signing_key: SigningKey,
}

impl KeyInfo {
    pub(super) fn parse(word: u32) -> Result<Self, FormatError> {
        if word >> 5 != 0 {
            return Err(FormatError::unexpected(
                "ATTESTATION_REPORT key info bits 31:5 (reserved)",
                "0",
                format!("{:#x}", word >> 5),
            ));
        }
        let signing_key = match (word >> 2) & 0b111 {
            0 => SigningKey::Vcek,
            1 => SigningKey::Vlek,
            7 => SigningKey::None,
            other => {
                return Err(FormatError::Unsupported {
                    field: "ATTESTATION_REPORT SIGNING_KEY",
                    value: u64::from(other),
                })
            }
        };
        Ok(Self {
            author_key_en: word & 1 == 1,
            mask_chip_key: (word >> 1) & 1 == 1,
            signing_key,
        })
    }

    pub(super) fn to_word(self) -> u32 {
        u32::from(self.author_key_en)
            | (u32::from(self.mask_chip_key) << 1)
            | (self.signing_key.code() << 2)
    }
}

/// CPUID family, model and stepping of the platform (version 3 and later).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cpuid {
    /// CPUID_FAM_ID: combined (extended + base) family.
    pub family: u8,
    /// CPUID_MOD_ID: combined (extended + base) model.
    pub model: u8,
    /// CPUID_STEP: stepping.
    pub stepping: u8,
}

/// A firmware version: build, minor, major.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FirmwareVersion {
    /// Major version.
    pub major: u8,
    /// Minor version.
    pub minor: u8,
    /// Build number.
    pub build: u8,
}

impl std::fmt::Display for FirmwareVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.build)
    }
}

/// The ECDSA P-384 signature: R and S, each 72 bytes little-endian of which
/// only the low 48 may be non-zero.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReportSignature {
    /// R, little-endian, 72 bytes.
    pub r: [u8; SIG_COMPONENT_LEN],
    /// S, little-endian, 72 bytes.
    pub s: [u8; SIG_COMPONENT_LEN],
}

impl ReportSignature {
    /// R and S as big-endian 48-byte scalars, concatenated (the fixed-size
    /// encoding ECDSA libraries take).
    pub fn to_be_fixed(&self) -> [u8; 2 * P384_LEN] {
        let mut out = [0u8; 2 * P384_LEN];
        let (r_out, s_out) = out.split_at_mut(P384_LEN);
        for (o, i) in r_out.iter_mut().zip(self.r.iter().take(P384_LEN).rev()) {
            *o = *i;
        }
        for (o, i) in s_out.iter_mut().zip(self.s.iter().take(P384_LEN).rev()) {
            *o = *i;
        }
        out
    }
}
