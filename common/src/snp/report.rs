//! The SEV-SNP ATTESTATION_REPORT (1184 bytes, little-endian).
//!
//! AMD SEV-SNP Firmware ABI Specification (pub. 56860), revision 1.58
//! (May 2025), §7.3 "Attestation", Table 23 "ATTESTATION_REPORT Structure";
//! Table 9 "GUEST_POLICY Structure"; Table 24 "PLATFORM_INFO Field"; Appendix
//! "Digital Signatures", Table "ECDSA P-384 with SHA-384 Signature" (R and S
//! each 72 bytes little-endian, zero-extended from 48).
//!
//! Layout (offsets in hex): 000 VERSION, 004 GUEST_SVN, 008 POLICY, 010
//! FAMILY_ID, 020 IMAGE_ID, 030 VMPL, 034 SIGNATURE_ALGO, 038 CURRENT_TCB, 040
//! PLATFORM_INFO, 048 AUTHOR_KEY_EN/MASK_CHIP_KEY/SIGNING_KEY (bits 0, 1, 4:2;
//! 31:5 reserved), 04C reserved, 050 REPORT_DATA, 090 MEASUREMENT, 0C0
//! HOST_DATA, 0E0 ID_KEY_DIGEST, 110 AUTHOR_KEY_DIGEST, 140 REPORT_ID, 160
//! REPORT_ID_MA, 180 REPORTED_TCB, 188 CPUID_FAM_ID / 189 CPUID_MOD_ID / 18A
//! CPUID_STEP (version 3 and later; reserved in version 2), 18B reserved, 1A0
//! CHIP_ID, 1E0 COMMITTED_TCB, 1E8 CURRENT_BUILD/MINOR/MAJOR + reserved, 1EC
//! COMMITTED_BUILD/MINOR/MAJOR + reserved, 1F0 LAUNCH_TCB, 1F8
//! LAUNCH_MIT_VECTOR and 200 CURRENT_MIT_VECTOR (version 5; reserved before),
//! reserved to 2A0, 2A0 SIGNATURE (512 bytes: R, S, reserved). The signature
//! covers bytes 000..2A0. Every reserved field is checked to be zero; versions
//! other than 2..=5 and signature algorithms other than 1 are refused.

use super::tcb::TcbVersion;
use crate::error::FormatError;
use crate::reader::{Reader, Writer};

/// Size of an ATTESTATION_REPORT.
pub const REPORT_SIZE: usize = 0x4A0;
/// End of the signed region (the signature starts here).
pub const SIGNED_LEN: usize = 0x2A0;
/// Oldest report version this parser accepts.
pub const MIN_VERSION: u32 = 2;
/// Newest report version this parser accepts.
pub const MAX_VERSION: u32 = 5;
/// SIGNATURE_ALGO value for ECDSA P-384 with SHA-384, the only one defined.
pub const SIG_ALGO_ECDSA_P384_SHA384: u32 = 1;

const STRUCTURE: &str = "ATTESTATION_REPORT";
use super::fields::{P384_LEN, SIG_COMPONENT_LEN};
const SIG_RESERVED_LEN: usize = 512 - 2 * SIG_COMPONENT_LEN;

pub use super::fields::{
    Cpuid, FirmwareVersion, GuestPolicy, KeyInfo, PlatformInfo, ReportSignature, SigningKey,
};

/// A parsed ATTESTATION_REPORT, every field typed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttestationReport {
    /// VERSION (2..=5).
    pub version: u32,
    /// GUEST_SVN.
    pub guest_svn: u32,
    /// POLICY.
    pub policy: GuestPolicy,
    /// FAMILY_ID (from the ID block).
    pub family_id: [u8; 16],
    /// IMAGE_ID (from the ID block).
    pub image_id: [u8; 16],
    /// VMPL of the requesting guest.
    pub vmpl: u32,
    /// SIGNATURE_ALGO (always [`SIG_ALGO_ECDSA_P384_SHA384`]).
    pub signature_algo: u32,
    /// CURRENT_TCB.
    pub current_tcb: TcbVersion,
    /// PLATFORM_INFO.
    pub platform_info: PlatformInfo,
    /// AUTHOR_KEY_EN, MASK_CHIP_KEY, SIGNING_KEY.
    pub key_info: KeyInfo,
    /// REPORT_DATA supplied by the guest.
    pub report_data: [u8; 64],
    /// MEASUREMENT: the launch digest.
    pub measurement: [u8; 48],
    /// HOST_DATA supplied by the hypervisor at launch.
    pub host_data: [u8; 32],
    /// ID_KEY_DIGEST: SHA-384 of the ID key that signed the ID block.
    pub id_key_digest: [u8; 48],
    /// AUTHOR_KEY_DIGEST: SHA-384 of the author key (when AUTHOR_KEY_EN).
    pub author_key_digest: [u8; 48],
    /// REPORT_ID of the guest.
    pub report_id: [u8; 32],
    /// REPORT_ID of the migration agent (all `ff` when none).
    pub report_id_ma: [u8; 32],
    /// REPORTED_TCB: the TCB the VCEK is derived from.
    pub reported_tcb: TcbVersion,
    /// CPUID family/model/stepping (version 3 and later).
    pub cpuid: Option<Cpuid>,
    /// CHIP_ID (zero when MASK_CHIP_ID is set).
    pub chip_id: [u8; 64],
    /// COMMITTED_TCB.
    pub committed_tcb: TcbVersion,
    /// CURRENT_BUILD / CURRENT_MINOR / CURRENT_MAJOR.
    pub current_version: FirmwareVersion,
    /// COMMITTED_BUILD / COMMITTED_MINOR / COMMITTED_MAJOR.
    pub committed_version: FirmwareVersion,
    /// LAUNCH_TCB.
    pub launch_tcb: TcbVersion,
    /// LAUNCH_MIT_VECTOR and CURRENT_MIT_VECTOR (version 5 and later).
    pub mit_vectors: Option<MitigationVectors>,
    /// The signature over bytes 000..2A0.
    pub signature: ReportSignature,
}

/// The mitigation vectors of a version 5 report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MitigationVectors {
    /// LAUNCH_MIT_VECTOR: mitigations applied when the guest launched.
    pub launch: u64,
    /// CURRENT_MIT_VECTOR: mitigations currently applied.
    pub current: u64,
}

fn fw_version(r: &mut Reader<'_>, field: &'static str) -> Result<FirmwareVersion, FormatError> {
    let build = r.u8(field)?;
    let minor = r.u8(field)?;
    let major = r.u8(field)?;
    r.zeros(1, field)?;
    Ok(FirmwareVersion {
        major,
        minor,
        build,
    })
}

fn sig_component(
    r: &mut Reader<'_>,
    field: &'static str,
) -> Result<[u8; SIG_COMPONENT_LEN], FormatError> {
    let v: [u8; SIG_COMPONENT_LEN] = r.array(field)?;
    if let Some(i) = v.iter().skip(P384_LEN).position(|&b| b != 0) {
        return Err(FormatError::unexpected(
            field,
            "bytes 48..72 zero (P-384 component zero-extended)",
            format!(
                "non-zero byte at component offset {}",
                P384_LEN.saturating_add(i)
            ),
        ));
    }
    Ok(v)
}

impl AttestationReport {
    /// Parses exactly [`REPORT_SIZE`] bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        if bytes.len() != REPORT_SIZE {
            return Err(FormatError::unexpected(
                "ATTESTATION_REPORT length",
                REPORT_SIZE,
                bytes.len(),
            ));
        }
        let mut r = Reader::new(bytes);
        let version = r.u32_le("ATTESTATION_REPORT VERSION")?;
        if !(MIN_VERSION..=MAX_VERSION).contains(&version) {
            return Err(FormatError::Unsupported {
                field: "ATTESTATION_REPORT VERSION",
                value: u64::from(version),
            });
        }
        let guest_svn = r.u32_le("GUEST_SVN")?;
        let policy = GuestPolicy(r.u64_le("POLICY")?);
        let family_id = r.array("FAMILY_ID")?;
        let image_id = r.array("IMAGE_ID")?;
        let vmpl = r.u32_le("VMPL")?;
        if vmpl > 3 {
            return Err(FormatError::unexpected("VMPL", "0..=3", vmpl));
        }
        let signature_algo = r.u32_le("SIGNATURE_ALGO")?;
        if signature_algo != SIG_ALGO_ECDSA_P384_SHA384 {
            return Err(FormatError::Unsupported {
                field: "SIGNATURE_ALGO",
                value: u64::from(signature_algo),
            });
        }
        let current_tcb = TcbVersion(r.u64_le("CURRENT_TCB")?);
        let platform_info = PlatformInfo(r.u64_le("PLATFORM_INFO")?);
        let key_info = KeyInfo::parse(r.u32_le("key info (048h)")?)?;
        r.zeros(4, "reserved 04Ch")?;
        let report_data = r.array("REPORT_DATA")?;
        let measurement = r.array("MEASUREMENT")?;
        let host_data = r.array("HOST_DATA")?;
        let id_key_digest = r.array("ID_KEY_DIGEST")?;
        let author_key_digest = r.array("AUTHOR_KEY_DIGEST")?;
        let report_id = r.array("REPORT_ID")?;
        let report_id_ma = r.array("REPORT_ID_MA")?;
        let reported_tcb = TcbVersion(r.u64_le("REPORTED_TCB")?);
        let cpuid = if version >= 3 {
            Some(Cpuid {
                family: r.u8("CPUID_FAM_ID")?,
                model: r.u8("CPUID_MOD_ID")?,
                stepping: r.u8("CPUID_STEP")?,
            })
        } else {
            r.zeros(3, "reserved 188h (version 2)")?;
            None
        };
        r.zeros(0x1A0 - 0x18B, "reserved 18Bh")?;
        let chip_id = r.array("CHIP_ID")?;
        let committed_tcb = TcbVersion(r.u64_le("COMMITTED_TCB")?);
        let current_version = fw_version(&mut r, "CURRENT_BUILD/MINOR/MAJOR")?;
        let committed_version = fw_version(&mut r, "COMMITTED_BUILD/MINOR/MAJOR")?;
        let launch_tcb = TcbVersion(r.u64_le("LAUNCH_TCB")?);
        let mit_vectors = if version >= 5 {
            Some(MitigationVectors {
                launch: r.u64_le("LAUNCH_MIT_VECTOR")?,
                current: r.u64_le("CURRENT_MIT_VECTOR")?,
            })
        } else {
            None
        };
        let reserved_tail = SIGNED_LEN.saturating_sub(r.offset());
        r.zeros(reserved_tail, "reserved before SIGNATURE")?;
        let sig_r = sig_component(&mut r, "SIGNATURE R")?;
        let sig_s = sig_component(&mut r, "SIGNATURE S")?;
        r.zeros(SIG_RESERVED_LEN, "SIGNATURE reserved")?;
        r.finish(STRUCTURE)?;
        Ok(Self {
            version,
            guest_svn,
            policy,
            family_id,
            image_id,
            vmpl,
            signature_algo,
            current_tcb,
            platform_info,
            key_info,
            report_data,
            measurement,
            host_data,
            id_key_digest,
            author_key_digest,
            report_id,
            report_id_ma,
            reported_tcb,
            cpuid,
            chip_id,
            committed_tcb,
            current_version,
            committed_version,
            launch_tcb,
            mit_vectors,
            signature: ReportSignature { r: sig_r, s: sig_s },
        })
    }

    /// The signed part of the encoding: bytes 000..2A0.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut all = self.to_bytes();
        all.truncate(SIGNED_LEN);
        all
    }

    /// Serialises to the 1184-byte wire form (inverse of [`Self::parse`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u32_le(self.version)
            .u32_le(self.guest_svn)
            .bytes(&self.policy.0.to_le_bytes())
            .bytes(&self.family_id)
            .bytes(&self.image_id)
            .u32_le(self.vmpl)
            .u32_le(self.signature_algo)
            .bytes(&self.current_tcb.to_le_bytes())
            .bytes(&self.platform_info.0.to_le_bytes())
            .u32_le(self.key_info.to_word())
            .u32_le(0)
            .bytes(&self.report_data)
            .bytes(&self.measurement)
            .bytes(&self.host_data)
            .bytes(&self.id_key_digest)
            .bytes(&self.author_key_digest)
            .bytes(&self.report_id)
            .bytes(&self.report_id_ma)
            .bytes(&self.reported_tcb.to_le_bytes());
        match self.cpuid {
            Some(c) => w.u8(c.family).u8(c.model).u8(c.stepping),
            None => w.bytes(&[0; 3]),
        };
        w.bytes(&[0; 0x1A0 - 0x18B])
            .bytes(&self.chip_id)
            .bytes(&self.committed_tcb.to_le_bytes());
        for v in [self.current_version, self.committed_version] {
            w.u8(v.build).u8(v.minor).u8(v.major).u8(0);
        }
        w.bytes(&self.launch_tcb.to_le_bytes());
        let mut reserved = SIGNED_LEN - 0x1F8;
        if let Some(m) = self.mit_vectors {
            w.bytes(&m.launch.to_le_bytes())
                .bytes(&m.current.to_le_bytes());
            reserved -= 16;
        }
        w.bytes(&vec![0; reserved])
            .bytes(&self.signature.r)
            .bytes(&self.signature.s)
            .bytes(&[0; SIG_RESERVED_LEN]);
        w.into_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snp::{SnpProduct, TcbLayout};

    macro_rules! vector {
        ($p:literal) => {
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../tests/data/sev-snp/",
                $p
            ))
        };
    }

    const MILAN: &[u8] = vector!("virtee-sev/report_milan.bin");
    const GO_SEV: &[u8] = vector!("go-sev-guest/attestation.bin");
    const TRUSTEE: &[u8] = vector!("trustee/test-report.bin");
    const VLEK: &[u8] = vector!("trustee/test-vlek-report.bin");
    const GENOA: &[u8] = vector!("trustee/e2e-genoa-report.bin");

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn virtee_milan_fields() {
        let r = AttestationReport::parse(MILAN).unwrap();
        assert_eq!(r.version, 2);
        assert_eq!(r.guest_svn, 0);
        assert_eq!(r.policy.0, 0x30000);
        assert!(r.policy.smt_allowed() && r.policy.reserved_one());
        assert!(!r.policy.debug_allowed() && !r.policy.migrate_ma_allowed());
        assert_eq!((r.policy.abi_major(), r.policy.abi_minor()), (0, 0));
        assert_eq!(r.vmpl, 0);
        assert_eq!(r.signature_algo, 1);
        assert_eq!(
            r.key_info,
            KeyInfo {
                author_key_en: false,
                mask_chip_key: false,
                signing_key: SigningKey::Vcek
            }
        );
        assert!(r.platform_info.smt_enabled() && !r.platform_info.tsme_enabled());
        assert_eq!(r.measurement.to_vec(), h("7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f"));
        assert_eq!(r.report_data.to_vec(), h("d447b55d197491bfe15cf298f9de9986b7a7c4be2468b4f6e2d53b71d7c645810b0f2cdfca0040433be063fc1a8293f0f3f8dae7b79fecb3d1cd82bd6a93ebfd"));
        assert_eq!(r.host_data, [0; 32]);
        assert_eq!(r.id_key_digest, [0; 48]);
        assert_eq!(r.author_key_digest, [0; 48]);
        assert_eq!((r.family_id, r.image_id), ([0; 16], [0; 16]));
        assert_eq!(
            r.report_id.to_vec(),
            h("92b3b47d59f0a2a10a74c5678868a80238cf593c01a82f3cffb878e904c28d5b")
        );
        assert_eq!(r.report_id_ma, [0xff; 32]);
        for t in [r.current_tcb, r.committed_tcb, r.reported_tcb, r.launch_tcb] {
            assert_eq!(t, TcbVersion(0x7308_0000_0000_0003));
        }
        let p = r.reported_tcb.parts(TcbLayout::MilanGenoa);
        assert_eq!((p.boot_loader, p.tee, p.snp, p.microcode), (3, 0, 8, 115));
        assert_eq!(r.current_version.to_string(), "1.52.4");
        assert_eq!(r.committed_version.to_string(), "1.52.4");
        assert_eq!(r.chip_id.to_vec(), h("d49554ec717f4e5b0fe6b143bcf0405bd7ae304727edf46603f2a76aef6a3abc15d7af38db757039029f0efacfd08e244324884738c72b082e2f87a44d541eb6"));
        assert_eq!(r.cpuid, None);
        assert_eq!(r.mit_vectors, None);
    }

    #[test]
    fn go_sev_guest_debug_policy() {
        let r = AttestationReport::parse(GO_SEV).unwrap();
        assert_eq!(r.policy.0, 0xb0000);
        assert!(r.policy.debug_allowed());
        assert_eq!(r.reported_tcb.0, 4_901_323_769_462_652_930);
        assert_eq!(r.current_version.to_string(), "1.49.3");
        assert_eq!(r.platform_info.0, 1);
        let mut rd = [0u8; 64];
        rd[..5].copy_from_slice(&[1, 2, 3, 4, 5]);
        assert_eq!(r.report_data, rd);
    }

    #[test]
    fn trustee_id_block_and_current_tcb() {
        let r = AttestationReport::parse(TRUSTEE).unwrap();
        assert_eq!(r.guest_svn, 4);
        assert_eq!(r.policy.abi_minor(), 31);
        assert_eq!(r.family_id[0], 1);
        assert_eq!(r.image_id[0], 2);
        assert_eq!(r.id_key_digest.to_vec(), h("0356215882a825279a85b300b0b742931d113bf7e32dde2e50ffde7ec743ca491ecdd7f336dc28a6e0b2bb57af7a44a3"));
        assert_eq!(r.current_tcb.0, 0xce08_0000_0000_0003);
        assert_eq!(r.reported_tcb.0, 0x7308_0000_0000_0003);
    }

    #[test]
    fn vlek_v3_report() {
        let r = AttestationReport::parse(VLEK).unwrap();
        assert_eq!(r.version, 3);
        assert_eq!(r.vmpl, 1);
        assert_eq!(r.key_info.signing_key, SigningKey::Vlek);
        assert_eq!(r.platform_info.0, 0x27);
        let c = r.cpuid.unwrap();
        assert_eq!((c.family, c.model, c.stepping), (0x19, 0x01, 0x01));
        assert_eq!(SnpProduct::from_cpuid(c), Some(SnpProduct::Milan));
        assert_eq!(r.chip_id, [0; 64]);
        assert_eq!(r.reported_tcb.0, 0xd918_0000_0000_0004);
        assert_eq!(r.current_tcb.0, 0xdc18_0000_0000_0004);
        assert_eq!(r.current_version.to_string(), "1.55.29");
    }

    #[test]
    fn genoa_v3_report() {
        let r = AttestationReport::parse(GENOA).unwrap();
        assert_eq!(r.version, 3);
        let c = r.cpuid.unwrap();
        assert_eq!((c.family, c.model, c.stepping), (0x19, 0xA0, 2));
        assert_eq!(SnpProduct::from_cpuid(c), Some(SnpProduct::Genoa));
        assert_eq!(r.platform_info.0, 0x25);
        assert_eq!(r.reported_tcb.0, 0x1917_0000_0000_000a);
        assert_eq!(r.current_version.to_string(), "1.55.40");
        assert_eq!(r.measurement.to_vec(), h("6a6519d757e68c2e939c9dbbbc1828498e8de35d2766dd05f1a2cca5059d0cf4ae62a36d75c837974dd50b315506e73e"));
    }

    #[test]
    fn round_trip_every_vector() {
        for v in [MILAN, GO_SEV, TRUSTEE, VLEK, GENOA] {
            let r = AttestationReport::parse(v).unwrap();
            assert_eq!(r.to_bytes(), v);
            assert_eq!(r.signed_bytes(), &v[..SIGNED_LEN]);
        }
    }

    #[test]
    fn version_5_round_trip_with_mitigation_vectors() {
        let mut v = GENOA.to_vec();
        v[0] = 5;
        v[0x1F8] = 0x11;
        v[0x200] = 0x22;
        let r = AttestationReport::parse(&v).unwrap();
        assert_eq!(
            r.mit_vectors,
            Some(MitigationVectors {
                launch: 0x11,
                current: 0x22
            })
        );
        assert_eq!(r.to_bytes(), v);
        // The same bytes in a version 4 report are reserved.
        v[0] = 4;
        assert!(AttestationReport::parse(&v).is_err());
    }

    #[test]
    fn truncated_and_extended_refused() {
        for len in [0, 1, 0x2A0, REPORT_SIZE - 1] {
            let err = AttestationReport::parse(&MILAN[..len]).unwrap_err();
            assert!(
                matches!(err, FormatError::Unexpected { .. }),
                "{len}: {err}"
            );
        }
        let mut long = MILAN.to_vec();
        long.push(0);
        assert!(AttestationReport::parse(&long).is_err());
    }

    #[test]
    fn unknown_versions_refused() {
        for ver in [0u32, 1, 6, 0x100, u32::MAX] {
            let mut v = MILAN.to_vec();
            v[..4].copy_from_slice(&ver.to_le_bytes());
            assert_eq!(
                AttestationReport::parse(&v),
                Err(FormatError::Unsupported {
                    field: "ATTESTATION_REPORT VERSION",
                    value: u64::from(ver)
                })
            );
        }
    }

    #[test]
    fn bad_algorithm_vmpl_and_signing_key_refused() {
        let mut v = MILAN.to_vec();
        v[0x34] = 2;
        assert!(matches!(
            AttestationReport::parse(&v),
            Err(FormatError::Unsupported {
                field: "SIGNATURE_ALGO",
                value: 2
            })
        ));
        let mut v = MILAN.to_vec();
        v[0x30] = 4;
        assert!(AttestationReport::parse(&v).is_err());
        let mut v = MILAN.to_vec();
        v[0x48] = 2 << 2;
        assert!(matches!(
            AttestationReport::parse(&v),
            Err(FormatError::Unsupported {
                field: "ATTESTATION_REPORT SIGNING_KEY",
                value: 2
            })
        ));
        let mut v = MILAN.to_vec();
        v[0x48] = 0x20;
        assert!(AttestationReport::parse(&v).is_err());
    }

    #[test]
    fn every_reserved_byte_checked() {
        let mut reserved: Vec<usize> = (0x4C..0x50).collect();
        reserved.extend(0x188..0x1A0); // v2: CPUID bytes are reserved too
        reserved.extend([0x1EB, 0x1EF]);
        reserved.extend(0x1F8..0x2A0);
        reserved.extend(0x2A0 + 48..0x2A0 + 72);
        reserved.extend(0x2E8 + 48..0x2E8 + 72);
        reserved.extend(0x330..REPORT_SIZE);
        for off in reserved {
            let mut v = MILAN.to_vec();
            v[off] = 0x01;
            assert!(
                AttestationReport::parse(&v).is_err(),
                "reserved byte {off:#x} accepted"
            );
        }
    }

    #[test]
    fn signature_to_big_endian() {
        let r = AttestationReport::parse(MILAN).unwrap();
        let be = r.signature.to_be_fixed();
        assert_eq!(be[0], MILAN[0x2A0 + 47]);
        assert_eq!(be[47], MILAN[0x2A0]);
        assert_eq!(be[48], MILAN[0x2E8 + 47]);
        assert_eq!(be[95], MILAN[0x2E8]);
    }

    proptest::proptest! {
        /// Random byte patches of a real report never panic, and whatever
        /// parses re-serialises to the same bytes.
        #[test]
        fn patched_reports_never_panic_and_round_trip(
            patches in proptest::collection::vec((0usize..REPORT_SIZE, proptest::num::u8::ANY), 1..8),
            cut in 0usize..REPORT_SIZE + 8,
        ) {
            let mut v = MILAN.to_vec();
            for (off, val) in patches {
                v[off] = val;
            }
            v.resize(cut, 0);
            if let Ok(r) = AttestationReport::parse(&v) {
                proptest::prop_assert_eq!(r.to_bytes(), v);
            }
        }
    }
}
