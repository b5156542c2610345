//! # INSECURE simulated AMD SEV-SNP signer — for CI and tests only
//!
//! **Everything this crate signs is forgeable by anyone.** The VCEK private
//! key it signs with is published in this repository
//! (`test-chain/vcek-key.pk8.der`), next to its certificate chain. A
//! verifier must never trust the test ARK ("SEV-Genoa INSECURE TEST ARK")
//! outside tests; a verifier that trusts only AMD's ARKs refuses every report
//! made here, because the chain does not lead to them.
//!
//! CI machines have no SEV-SNP hardware. [`InsecureSimulatedSnp`] produces
//! ATTESTATION_REPORTs that are byte-for-byte shaped like a Genoa
//! processor's, signed by a test VCEK that chains ARK → ASK → VCEK with the
//! same algorithms and certificate profile as AMD's, so that the whole
//! verification path (chain, signature, TCB/hwID/product checks, policy) runs
//! in tests.
//!
//! Specifications:
//!
//! * AMD "SEV Secure Nested Paging Firmware ABI Specification" (publication
//!   56860), revision 1.58: Table 23 "ATTESTATION_REPORT Structure" (built
//!   with [`sealbuild_common::snp::AttestationReport`]), §2.2 / Table 3
//!   "TCB_VERSION Structure" (Milan/Genoa layout), Table 9 "GUEST_POLICY",
//!   Table 24 "PLATFORM_INFO", Appendix "Digital Signatures": ECDSA P-384
//!   with SHA-384 over bytes 000h..2A0h, R and S little-endian, zero-extended
//!   from 48 to 72 bytes.
//! * AMD "Versioned Chip Endorsement Key (VCEK) Certificate and KDS Interface
//!   Specification" (publication 57230): the ARK → ASK → VCEK chain
//!   (RSA-4096 ARK and ASK, P-384 VCEK, every certificate signed with
//!   RSASSA-PSS, SHA-384, MGF1-SHA-384, salt length 48) and the VCEK
//!   extensions (structVersion, productName, blSPL, teeSPL, snpSPL,
//!   spl_4..spl_7, ucodeSPL, hwID).
//!
//! The test chain is produced once by `gen-test-chain.sh` (OpenSSL CLI);
//! its VCEK carries [`reported_tcb`] as its SPLs and [`chip_id`] as its hwID,
//! which the reports here repeat, exactly as a real VCEK and the firmware's
//! reports agree.

use p384::ecdsa::VerifyingKey;
use p384::pkcs8::DecodePrivateKey;
use rand_core::{OsRng, RngCore};
use sealbuild_common::snp::{
    AttestationReport, Cpuid, FirmwareVersion, GuestPolicy, KeyInfo, PlatformInfo, ReportSignature,
    SigningKey, SnpProduct, TcbLayout, TcbParts, TcbVersion,
};
use sealbuild_common::FormatError;
use sha2::{Digest, Sha512};
use thiserror::Error;

/// The test ARK (DER): "SEV-Genoa INSECURE TEST ARK", RSA-4096, self-signed.
const ARK_DER: &[u8] = include_bytes!("../test-chain/ark.der");
/// The test ASK (DER): "SEV-Genoa INSECURE TEST ASK", RSA-4096, signed by the ARK.
const ASK_DER: &[u8] = include_bytes!("../test-chain/ask.der");
/// The test VCEK (DER): "SEV-VCEK INSECURE TEST", P-384, signed by the ASK.
const VCEK_DER: &[u8] = include_bytes!("../test-chain/vcek.der");
/// The test VCEK's PUBLISHED private key, PKCS#8 DER.
const VCEK_KEY_PKCS8_DER: &[u8] = include_bytes!("../test-chain/vcek-key.pk8.der");
/// ASK then ARK, PEM: the layout of AMD's KDS `cert_chain`.
const CERT_CHAIN_PEM: &str = include_str!("../test-chain/cert_chain_vcek.pem");

/// CHIP_ID of the simulated processor is SHA-512 of this string (also in
/// `gen-test-chain.sh`, which writes it into the VCEK's hwID).
pub const CHIP_ID_SEED: &str = "sealbuild insecure snp sim chip";

/// The simulated processor's TCB (Genoa): boot loader 10, TEE 0, SNP 23,
/// microcode 84. Reported as CURRENT, COMMITTED, LAUNCH and REPORTED TCB and
/// certified by the test VCEK's SPL extensions.
pub const REPORTED_TCB_PARTS: TcbParts = TcbParts {
    fmc: None,
    boot_loader: 10,
    tee: 0,
    snp: 23,
    microcode: 84,
};

/// The product the simulator claims to be.
pub const PRODUCT: SnpProduct = SnpProduct::Genoa;

/// CPUID the reports carry: family 19h, model 11h (Genoa), stepping 1.
pub const CPUID: Cpuid = Cpuid {
    family: 0x19,
    model: 0x11,
    stepping: 1,
};

/// ATTESTATION_REPORT version produced (the first with CPUID fields).
pub const REPORT_VERSION: u32 = 3;

/// SEV-SNP firmware version reported as current and committed: 1.55.40.
pub const FIRMWARE_VERSION: FirmwareVersion = FirmwareVersion {
    major: 1,
    minor: 55,
    build: 40,
};

/// Default GUEST_POLICY: SMT allowed (bit 16), reserved bit 17 set; debug,
/// migration agent and single-socket not set; ABI minimum 0.0.
pub const DEFAULT_POLICY: u64 = 0x3_0000;

/// Default PLATFORM_INFO: SMT_EN, ECC_EN and ALIAS_CHECK_COMPLETE (bits 0,
/// 2, 5), as a Genoa host with SMT on reports.
pub const DEFAULT_PLATFORM_INFO: u64 = 0x25;

/// Why the simulator refused a configuration or could not produce a report.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SimError {
    /// A [`SimConfig`] value the SEV-SNP firmware would refuse at launch.
    #[error("insecure SNP simulator config {field}: expected {expected}, got {got}")]
    Config {
        /// The field.
        field: &'static str,
        /// What the firmware accepts.
        expected: &'static str,
        /// What was configured.
        got: String,
    },
    /// The embedded test VCEK key does not decode (a broken build).
    #[error("insecure SNP simulator: embedded test VCEK key test-chain/vcek-key.pk8.der: {0}")]
    Key(String),
    /// The operating system's random source failed.
    #[error("insecure SNP simulator: random REPORT_ID: {0}")]
    Random(String),
    /// ECDSA signing failed.
    #[error("insecure SNP simulator: ECDSA P-384 signing of the report: {0}")]
    Sign(String),
    /// The report built does not parse back (a bug in the simulator).
    #[error("insecure SNP simulator: the report built does not parse back: {0}")]
    Encode(#[from] FormatError),
}

/// What the simulated guest was launched with: the values the hypervisor
/// and the guest owner choose, which a real report repeats.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SimConfig {
    /// MEASUREMENT: the launch digest (e.g. from `sealbuild-measure snp`).
    pub measurement: [u8; 48],
    /// GUEST_POLICY. Default [`DEFAULT_POLICY`] (0x30000: SMT allowed,
    /// debug not).
    pub policy: u64,
    /// HOST_DATA given by the hypervisor at launch.
    pub host_data: [u8; 32],
    /// VMPL of the requesting guest software (0..=3).
    pub vmpl: u32,
    /// GUEST_SVN from the ID block.
    pub guest_svn: u32,
    /// FAMILY_ID from the ID block.
    pub family_id: [u8; 16],
    /// IMAGE_ID from the ID block.
    pub image_id: [u8; 16],
    /// ID_KEY_DIGEST: SHA-384 of the ID key (zero: no ID block).
    pub id_key_digest: [u8; 48],
    /// AUTHOR_KEY_DIGEST: SHA-384 of the author key (zero: none;
    /// AUTHOR_KEY_EN is set when non-zero).
    pub author_key_digest: [u8; 48],
    /// PLATFORM_INFO. Default [`DEFAULT_PLATFORM_INFO`].
    pub platform_info: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            measurement: [0; 48],
            policy: DEFAULT_POLICY,
            host_data: [0; 32],
            vmpl: 0,
            guest_svn: 0,
            family_id: [0; 16],
            image_id: [0; 16],
            id_key_digest: [0; 48],
            author_key_digest: [0; 48],
            platform_info: DEFAULT_PLATFORM_INFO,
        }
    }
}

impl SimConfig {
    /// Refuses what SNP_LAUNCH_START / SNP_LAUNCH_FINISH / SNP_GUEST_REQUEST
    /// would refuse, so that no simulated report describes an impossible
    /// guest.
    fn check(&self) -> Result<(), SimError> {
        let policy = GuestPolicy(self.policy);
        if !policy.reserved_one() {
            return Err(SimError::Config {
                field: "policy",
                expected: "bit 17 set (reserved, must be one)",
                got: format!("{:#x}", self.policy),
            });
        }
        if policy.reserved_bits() != 0 {
            return Err(SimError::Config {
                field: "policy",
                expected: "bits 63:26 zero (reserved)",
                got: format!("{:#x}", self.policy),
            });
        }
        let abi = (policy.abi_major(), policy.abi_minor());
        if abi > (FIRMWARE_VERSION.major, FIRMWARE_VERSION.minor) {
            return Err(SimError::Config {
                field: "policy ABI_MAJOR.ABI_MINOR",
                expected: "at most the simulated firmware's 1.55",
                got: format!("{}.{}", abi.0, abi.1),
            });
        }
        if self.vmpl > 3 {
            return Err(SimError::Config {
                field: "vmpl",
                expected: "0..=3",
                got: self.vmpl.to_string(),
            });
        }
        if self.author_key_digest != [0; 48] && self.id_key_digest == [0; 48] {
            return Err(SimError::Config {
                field: "author_key_digest",
                expected: "zero unless id_key_digest is set (an author key signs an ID key)",
                got: "non-zero with a zero id_key_digest".to_string(),
            });
        }
        Ok(())
    }
}

/// An INSECURE simulated SEV-SNP guest on a simulated Genoa processor.
///
/// Its reports verify only against the published test ARK
/// ([`InsecureSimulatedSnp::ark_der`]); never configure that ARK as a trust
/// anchor outside tests.
pub struct InsecureSimulatedSnp {
    config: SimConfig,
    report_id: [u8; 32],
    key: aws_lc_rs::signature::EcdsaKeyPair,
    verifying: VerifyingKey,
}

impl std::fmt::Debug for InsecureSimulatedSnp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InsecureSimulatedSnp")
            .field("config", &self.config)
            .field("report_id", &self.report_id)
            .field("key", &"INSECURE TEST VCEK")
            .finish()
    }
}

impl InsecureSimulatedSnp {
    /// "Launches" a simulated guest: checks `config` like the firmware
    /// would, loads the test VCEK key and draws the guest's random
    /// REPORT_ID (fixed for the guest's lifetime, as on hardware).
    pub fn new(config: SimConfig) -> Result<Self, SimError> {
        config.check()?;
        // Signing through AWS-LC (the one crypto provider): a load test
        // signs thousands of reports a second.
        let secret = p384::SecretKey::from_pkcs8_der(VCEK_KEY_PKCS8_DER)
            .map_err(|e| SimError::Key(e.to_string()))?;
        let key = aws_lc_rs::signature::EcdsaKeyPair::from_private_key_and_public_key(
            &aws_lc_rs::signature::ECDSA_P384_SHA384_FIXED_SIGNING,
            &secret.to_bytes(),
            secret.public_key().to_sec1_bytes().as_ref(),
        )
        .map_err(|e| SimError::Key(e.to_string()))?;
        let mut report_id = [0u8; 32];
        OsRng
            .try_fill_bytes(&mut report_id)
            .map_err(|e| SimError::Random(e.to_string()))?;
        Ok(Self {
            config,
            report_id,
            key,
            verifying: VerifyingKey::from(secret.public_key()),
        })
    }

    /// The configuration this guest was launched with.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// This guest's REPORT_ID.
    pub fn report_id(&self) -> [u8; 32] {
        self.report_id
    }

    /// The test VCEK's public key (the key of [`Self::vcek_der`]).
    pub fn vcek_public_key(&self) -> VerifyingKey {
        self.verifying
    }

    /// An SNP_GUEST_REQUEST MSG_REPORT_REQ answer: the 1184-byte signed
    /// ATTESTATION_REPORT (version 3, Genoa CPUID, [`chip_id`], every TCB
    /// = [`reported_tcb`], VMPL and the launch values of the config,
    /// signed by the test VCEK) with `report_data` as REPORT_DATA.
    pub fn report(&self, report_data: &[u8; 64]) -> Result<Vec<u8>, SimError> {
        let c = &self.config;
        let tcb = TcbVersion(reported_tcb());
        let mut report = AttestationReport {
            version: REPORT_VERSION,
            guest_svn: c.guest_svn,
            policy: GuestPolicy(c.policy),
            family_id: c.family_id,
            image_id: c.image_id,
            vmpl: c.vmpl,
            signature_algo: 1,
            current_tcb: tcb,
            platform_info: PlatformInfo(c.platform_info),
            key_info: KeyInfo {
                author_key_en: c.author_key_digest != [0; 48],
                mask_chip_key: false,
                signing_key: SigningKey::Vcek,
            },
            report_data: *report_data,
            measurement: c.measurement,
            host_data: c.host_data,
            id_key_digest: c.id_key_digest,
            author_key_digest: c.author_key_digest,
            report_id: self.report_id,
            report_id_ma: [0xff; 32],
            reported_tcb: tcb,
            cpuid: Some(CPUID),
            chip_id: chip_id(),
            committed_tcb: tcb,
            current_version: FIRMWARE_VERSION,
            committed_version: FIRMWARE_VERSION,
            launch_tcb: tcb,
            mit_vectors: None,
            signature: ReportSignature {
                r: [0; 72],
                s: [0; 72],
            },
        };
        // ECDSA P-384 over the signed region; the signer hashes with SHA-384.
        let sig = self
            .key
            .sign(
                &aws_lc_rs::rand::SystemRandom::new(),
                &report.signed_bytes(),
            )
            .map_err(|e| SimError::Sign(e.to_string()))?;
        // The fixed encoding is r || s, 48 big-endian bytes each.
        let (r, s) = sig.as_ref().split_at_checked(48).ok_or_else(|| {
            SimError::Sign(format!(
                "a P-384 signature has 96 bytes, got {}",
                sig.as_ref().len()
            ))
        })?;
        report.signature = ReportSignature {
            r: le_component(r),
            s: le_component(s),
        };
        let bytes = report.to_bytes();
        // Whatever we emit must be a report our own parser accepts.
        AttestationReport::parse(&bytes)?;
        Ok(bytes)
    }

    /// The test ARK, DER ("SEV-Genoa INSECURE TEST ARK"). INSECURE: for
    /// tests only.
    pub fn ark_der() -> &'static [u8] {
        ARK_DER
    }

    /// The test ASK, DER ("SEV-Genoa INSECURE TEST ASK").
    pub fn ask_der() -> &'static [u8] {
        ASK_DER
    }

    /// The test VCEK, DER ("SEV-VCEK INSECURE TEST"), serial number 0.
    pub fn vcek_der() -> &'static [u8] {
        VCEK_DER
    }

    /// ASK then ARK as PEM, the layout AMD's KDS serves as `cert_chain`.
    pub fn cert_chain_pem() -> &'static str {
        CERT_CHAIN_PEM
    }

    /// The simulated CHIP_ID: SHA-512 of [`CHIP_ID_SEED`], also the test
    /// VCEK's hwID.
    pub fn chip_id() -> [u8; 64] {
        chip_id()
    }

    /// The simulated REPORTED_TCB ([`REPORTED_TCB_PARTS`] in the Genoa
    /// layout): `0x5417_0000_0000_000a`.
    pub fn reported_tcb() -> u64 {
        reported_tcb()
    }
}

/// See [`InsecureSimulatedSnp::chip_id`].
pub fn chip_id() -> [u8; 64] {
    Sha512::digest(CHIP_ID_SEED.as_bytes()).into()
}

/// See [`InsecureSimulatedSnp::reported_tcb`].
pub fn reported_tcb() -> u64 {
    TcbVersion::from_parts(REPORTED_TCB_PARTS, TcbLayout::MilanGenoa).0
}

/// A big-endian 48-byte P-384 scalar as the report's 72-byte little-endian,
/// zero-extended component.
fn le_component(be: &[u8]) -> [u8; 72] {
    let mut out = [0u8; 72];
    for (o, b) in out.iter_mut().zip(be.iter().rev()) {
        *o = *b;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use p384::ecdsa::signature::Verifier;
    use sealbuild_common::snp::{REPORT_SIZE, SIGNED_LEN};

    #[test]
    fn constants_are_the_documented_values() {
        assert_eq!(reported_tcb(), 0x5417_0000_0000_000a);
        assert_eq!(
            hex::encode(chip_id()),
            // printf %s "sealbuild insecure snp sim chip" | openssl dgst -sha512
            "a5deb6a6dcc14ff4a3266d7ef670dc69ac487dd5a223ddaee23438fdfb2421c6\
             8172b6c49c832a4a24eab653b61e4c9b8c961e246405c610c597d512a6b55ec1"
        );
        assert_eq!(SnpProduct::from_cpuid(CPUID), Some(PRODUCT));
        assert_eq!(PRODUCT.tcb_layout(), TcbLayout::MilanGenoa);
        assert_eq!(FIRMWARE_VERSION.to_string(), "1.55.40");
    }

    #[test]
    fn report_fields_and_signature() {
        let config = SimConfig {
            measurement: [0x11; 48],
            host_data: [0x22; 32],
            vmpl: 1,
            guest_svn: 7,
            family_id: [0x33; 16],
            image_id: [0x44; 16],
            id_key_digest: [0x55; 48],
            author_key_digest: [0x66; 48],
            ..SimConfig::default()
        };
        let sim = InsecureSimulatedSnp::new(config.clone()).unwrap();
        let rd = [0xab; 64];
        let bytes = sim.report(&rd).unwrap();
        assert_eq!(bytes.len(), REPORT_SIZE);
        let r = AttestationReport::parse(&bytes).unwrap();
        assert_eq!(r.version, 3);
        assert_eq!(r.signature_algo, 1);
        assert_eq!(r.report_data, rd);
        assert_eq!(r.measurement, config.measurement);
        assert_eq!(r.host_data, config.host_data);
        assert_eq!(r.policy.0, 0x30000);
        assert!(r.policy.smt_allowed() && !r.policy.debug_allowed());
        assert_eq!((r.vmpl, r.guest_svn), (1, 7));
        assert_eq!((r.family_id, r.image_id), ([0x33; 16], [0x44; 16]));
        assert_eq!(r.id_key_digest, [0x55; 48]);
        assert_eq!(r.author_key_digest, [0x66; 48]);
        assert!(r.key_info.author_key_en && !r.key_info.mask_chip_key);
        assert_eq!(r.key_info.signing_key, SigningKey::Vcek);
        assert_eq!(r.platform_info.0, 0x25);
        for t in [r.current_tcb, r.committed_tcb, r.launch_tcb, r.reported_tcb] {
            assert_eq!(t.0, 0x5417_0000_0000_000a);
        }
        let p = r.reported_tcb.parts(TcbLayout::MilanGenoa);
        assert_eq!((p.boot_loader, p.tee, p.snp, p.microcode), (10, 0, 23, 84));
        assert_eq!(r.cpuid, Some(CPUID));
        assert_eq!(r.chip_id, chip_id());
        assert_eq!(r.current_version.to_string(), "1.55.40");
        assert_eq!(r.committed_version.to_string(), "1.55.40");
        assert_eq!(r.report_id, sim.report_id());
        assert_ne!(r.report_id, [0; 32]);
        assert_eq!(r.report_id_ma, [0xff; 32]);
        assert_eq!(r.mit_vectors, None);

        let sig = p384::ecdsa::Signature::from_slice(&r.signature.to_be_fixed()).unwrap();
        let key = sim.vcek_public_key();
        key.verify(&bytes[..SIGNED_LEN], &sig).unwrap();
        let mut tampered = bytes[..SIGNED_LEN].to_vec();
        tampered[0x50] ^= 1;
        assert!(key.verify(&tampered, &sig).is_err());
    }

    #[test]
    fn author_key_en_follows_the_author_digest() {
        let sim = InsecureSimulatedSnp::new(SimConfig::default()).unwrap();
        let r = AttestationReport::parse(&sim.report(&[0; 64]).unwrap()).unwrap();
        assert!(!r.key_info.author_key_en);
        assert_eq!(r.id_key_digest, [0; 48]);
    }

    #[test]
    fn report_id_is_per_guest() {
        let a = InsecureSimulatedSnp::new(SimConfig::default()).unwrap();
        let b = InsecureSimulatedSnp::new(SimConfig::default()).unwrap();
        assert_ne!(a.report_id(), b.report_id());
        let r1 = AttestationReport::parse(&a.report(&[1; 64]).unwrap()).unwrap();
        let r2 = AttestationReport::parse(&a.report(&[2; 64]).unwrap()).unwrap();
        assert_eq!(r1.report_id, r2.report_id);
        assert_ne!(r1.signature, r2.signature);
    }

    #[test]
    fn impossible_configs_refused() {
        let cases: [(SimConfig, &str); 6] = [
            (
                SimConfig {
                    vmpl: 4,
                    ..SimConfig::default()
                },
                "vmpl",
            ),
            (
                SimConfig {
                    policy: 0x1_0000,
                    ..SimConfig::default()
                },
                "policy",
            ),
            (
                SimConfig {
                    policy: 0x3_0000 | (1 << 26),
                    ..SimConfig::default()
                },
                "policy",
            ),
            (
                SimConfig {
                    policy: 0x3_0000 | (1 << 8) | 56,
                    ..SimConfig::default()
                },
                "policy ABI_MAJOR.ABI_MINOR",
            ),
            (
                SimConfig {
                    policy: 0x3_0000 | (2 << 8),
                    ..SimConfig::default()
                },
                "policy ABI_MAJOR.ABI_MINOR",
            ),
            (
                SimConfig {
                    author_key_digest: [1; 48],
                    ..SimConfig::default()
                },
                "author_key_digest",
            ),
        ];
        for (config, want) in cases {
            match InsecureSimulatedSnp::new(config) {
                Err(SimError::Config { field, .. }) => assert_eq!(field, want),
                other => panic!("{want}: expected a config error, got {other:?}"),
            }
        }
        // The limits themselves are accepted: ABI 1.55, VMPL 3, debug.
        let ok = SimConfig {
            policy: 0x3_0000 | (1 << 8) | 55 | (1 << 19),
            vmpl: 3,
            ..SimConfig::default()
        };
        let sim = InsecureSimulatedSnp::new(ok).unwrap();
        let r = AttestationReport::parse(&sim.report(&[0; 64]).unwrap()).unwrap();
        assert!(r.policy.debug_allowed());
        assert_eq!(r.vmpl, 3);
    }

    #[test]
    fn signature_components_are_little_endian() {
        let be: Vec<u8> = (1..=48).collect();
        let le = le_component(&be);
        assert_eq!(le[0], 48);
        assert_eq!(le[47], 1);
        assert_eq!(le[48..], [0; 24]);
    }

    #[test]
    fn error_messages_name_the_check() {
        let e = InsecureSimulatedSnp::new(SimConfig {
            vmpl: 9,
            ..SimConfig::default()
        })
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "insecure SNP simulator config vmpl: expected 0..=3, got 9"
        );
    }
}
