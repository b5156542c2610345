//! # INSECURE simulated Intel TDX — for CI and tests only
//!
//! **Everything this crate signs is forgeable by anyone.** The private keys
//! of its PCK certificate and of its TCB signing certificate are published
//! in this repository (`test-chain/*.pk8.der`), next to their chain. A
//! verifier must never trust the test root ("INSECURE TEST SGX Root CA")
//! outside tests; a verifier that trusts only the Intel SGX Root CA refuses
//! every quote and every collateral document made here, because neither
//! chain leads to Intel's root.
//!
//! CI machines have no TDX hardware. [`InsecureSimulatedTdx`] produces TD
//! quotes shaped like those of Intel's TD quoting enclave and signed the
//! same way, plus collateral in the same formats as Intel's PCS, so that the
//! whole DCAP verification path (PCK chain, CRLs, QE report signature and
//! binding, quote signature, TCB Info / QE Identity signatures and windows,
//! TCB level matching, TDX module identity, policy) runs in tests and in the
//! demo. What it simulates:
//!
//! * a platform whose PCK certificate (issued by the test "Intel SGX PCK
//!   Platform CA") carries the SGX extensions [`SGX_COMPONENTS`],
//!   [`PCE_SVN`], [`PCE_ID`] and [`FMSPC`] (`gen-test-chain.sh` writes them);
//! * a TD quoting enclave ([`QE_MRSIGNER`], ISVPRODID [`QE_ISVPRODID`],
//!   ISVSVN [`QE_ISVSVN`]) whose report, signed by the PCK key, certifies a
//!   fresh attestation key per [`InsecureSimulatedTdx`];
//! * a TDX module of major version 1 ([`TEE_TCB_SVN`], [`MR_SEAM`]);
//! * a TD ([`SimConfig`]: MRTD, attributes, XFAM, the software-defined
//!   registers) whose firmware logged a small CCEL ([`ccel`]) that replays to
//!   the RTMR0–2 its quotes carry; RTMR3 is whatever the caller extended.
//!
//! Specifications:
//!
//! * Intel "TDX DCAP Quoting Library API" (quote format version 4, §A.3:
//!   header, TD report body, ECDSA signature data with certification data
//!   type 6 wrapping the QE report, its signature, the QE authentication data
//!   and type 5, the PEM PCK chain) — built with [`sealbuild_common::tdx`].
//! * Intel "SGX PCK Certificate and Certificate Revocation List Profile
//!   Specification": the chain and the SGX extensions (`gen-test-chain.sh`).
//! * Intel "SGX and TDX PCS API" version 4: TCB Info v3 (`id` "TDX", TDX TCB
//!   components, `tdxModule`, `tdxModuleIdentities`), Enclave Identity v2
//!   (`id` "TD_QE"), ECDSA P-256 signatures (r‖s hex) over the exact bytes of
//!   the signed JSON value, issuer chains in headers ([`collateral`]).
//! * ACPI 6.5 §5.2.34 "CC Event Log" and the TCG PC Client PFP crypto-agile
//!   log format with SHA-384, MR index 1..3 → RTMR0..2 ([`ccel`]).

pub mod ccel;
pub mod collateral;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use sealbuild_common::tdx::{
    CertificationData, EnclaveReport, QeReportCertData, Quote, QuoteBody, QuoteHeader,
    QuoteSignatureData, TdReport, TeeType, ATT_KEY_ECDSA_P256, CERT_TYPE_PCK_CHAIN,
    INTEL_QE_VENDOR_ID, TD_ATTR_SEPT_VE_DISABLE,
};
use sealbuild_common::FormatError;
use sha2::{Digest, Sha256, Sha384};
use thiserror::Error;

/// The test root (DER): "INSECURE TEST SGX Root CA", P-256, self-signed.
pub const ROOT_DER: &[u8] = include_bytes!("../test-chain/root.der");
/// The test PCK Platform CA (DER), issued by the root.
pub const PCK_CA_DER: &[u8] = include_bytes!("../test-chain/pck-ca.der");
/// The test PCK certificate (DER), issued by the PCK Platform CA.
pub const PCK_DER: &[u8] = include_bytes!("../test-chain/pck.der");
/// The test TCB signing certificate (DER), issued by the root.
pub const TCB_SIGNING_DER: &[u8] = include_bytes!("../test-chain/tcb-signing.der");
/// The root's CRL (DER, empty, 2025-01-01 to 2049-12-31).
pub const ROOT_CRL_DER: &[u8] = include_bytes!("../test-chain/root-crl.der");
/// The PCK Platform CA's CRL (DER, empty, 2025-01-01 to 2049-12-31).
pub const PCK_CRL_DER: &[u8] = include_bytes!("../test-chain/pck-crl.der");
/// The PCK key, PKCS#8 DER — PUBLISHED.
const PCK_KEY_PKCS8_DER: &[u8] = include_bytes!("../test-chain/pck-key.pk8.der");
/// The TCB signing key, PKCS#8 DER — PUBLISHED.
const TCB_SIGNING_KEY_PKCS8_DER: &[u8] = include_bytes!("../test-chain/tcb-signing-key.pk8.der");

/// The simulated platform's FMSPC (in the PCK certificate and TCB Info).
pub const FMSPC: [u8; 6] = [0x5e, 0xa1, 0xb1, 0x00, 0x00, 0x00];
/// Its PCE-ID.
pub const PCE_ID: [u8; 2] = [0, 0];
/// Its SGX TCB components 1..16 (the PCK certificate's, and the QE's CPUSVN).
pub const SGX_COMPONENTS: [u8; 16] = [3, 3, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0];
/// Its PCESVN.
pub const PCE_SVN: u16 = 11;
/// TEE_TCB_SVN of the simulated TDX module: module SVN 3, major version 1,
/// SEAMLDR SVN 2. The test TCB Info rates it UpToDate.
pub const TEE_TCB_SVN: [u8; 16] = [3, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
/// A TEE_TCB_SVN the test TCB Info rates OutOfDate (module SVN 2).
pub const TEE_TCB_SVN_OUT_OF_DATE: [u8; 16] = [2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
/// The TD QE's ISVPRODID (Intel's TD QE uses 2).
pub const QE_ISVPRODID: u16 = 2;
/// The TD QE's ISVSVN.
pub const QE_ISVSVN: u16 = 4;
/// MRSIGNER of the simulated QE: SHA-256 of this string.
pub const QE_MRSIGNER_SEED: &str = "sealbuild insecure tdx sim quoting enclave signer";
/// MRSEAM of the simulated TDX module: SHA-384 of this string.
pub const MR_SEAM_SEED: &str = "sealbuild insecure tdx sim TDX module";
/// The simulated TD's default MRTD: SHA-384 of this string.
pub const MRTD_SEED: &str = "sealbuild insecure tdx sim TD";
/// QE ATTRIBUTES (flags INIT | MODE64BIT, XFRM x87 | SSE | AVX …).
pub const QE_ATTRIBUTES: [u8; 16] = [0x11, 0, 0, 0, 0, 0, 0, 0, 0xe7, 0, 0, 0, 0, 0, 0, 0];
/// XFAM of the simulated TD (x87, SSE, AVX, AVX-512, PKRU, AMX state).
pub const DEFAULT_XFAM: u64 = 0x0006_02e7;

/// MRSIGNER of the simulated QE.
pub fn qe_mrsigner() -> [u8; 32] {
    Sha256::digest(QE_MRSIGNER_SEED.as_bytes()).into()
}

/// MRSEAM of the simulated TDX module.
pub fn mr_seam() -> [u8; 48] {
    Sha384::digest(MR_SEAM_SEED.as_bytes()).into()
}

/// The simulated TD's default MRTD.
pub fn default_mrtd() -> [u8; 48] {
    Sha384::digest(MRTD_SEED.as_bytes()).into()
}

/// What goes wrong while simulating.
#[derive(Debug, Error)]
pub enum SimError {
    /// A published key did not load or a new key could not be made.
    #[error("simulated TDX: {what}: the crypto provider refused it")]
    Key {
        /// Which key.
        what: &'static str,
    },
    /// Signing failed.
    #[error("simulated TDX: signing {what} failed")]
    Sign {
        /// What was being signed.
        what: &'static str,
    },
    /// A structure did not encode or parse.
    #[error("simulated TDX: {0}")]
    Format(#[from] FormatError),
    /// The simulated CCEL did not build or replay.
    #[error("simulated TDX: the simulated CCEL: {0}")]
    Ccel(String),
}

/// The simulated TD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// MRTD: the TD's build-time measurement.
    pub mr_td: [u8; 48],
    /// TDATTRIBUTES (default: SEPT_VE_DISABLE only, no DEBUG).
    pub td_attributes: u64,
    /// XFAM.
    pub xfam: u64,
    /// MRCONFIGID.
    pub mr_config_id: [u8; 48],
    /// MROWNER.
    pub mr_owner: [u8; 48],
    /// MROWNERCONFIG.
    pub mr_owner_config: [u8; 48],
    /// TEE_TCB_SVN of the TDX module.
    pub tee_tcb_svn: [u8; 16],
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            mr_td: default_mrtd(),
            td_attributes: TD_ATTR_SEPT_VE_DISABLE,
            xfam: DEFAULT_XFAM,
            mr_config_id: [0; 48],
            mr_owner: [0; 48],
            mr_owner_config: [0; 48],
            tee_tcb_svn: TEE_TCB_SVN,
        }
    }
}

/// A simulated TD with its quoting enclave: a fresh attestation key
/// certified by a QE report signed with the published PCK key.
pub struct InsecureSimulatedTdx {
    config: SimConfig,
    attestation_key: EcdsaKeyPair,
    qe: QeReportCertData,
    attestation_public: [u8; 64],
    ccel: Vec<u8>,
    rtmr: [[u8; 48]; 3],
}

impl std::fmt::Debug for InsecureSimulatedTdx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InsecureSimulatedTdx")
            .field("config", &self.config)
            .field("attestation_key", &hex::encode(self.attestation_public))
            .finish_non_exhaustive()
    }
}

fn sign(key: &EcdsaKeyPair, what: &'static str, msg: &[u8]) -> Result<[u8; 64], SimError> {
    let sig = key
        .sign(&SystemRandom::new(), msg)
        .map_err(|_| SimError::Sign { what })?;
    sig.as_ref().try_into().map_err(|_| SimError::Sign { what })
}

fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// PEM certificates, in order.
pub fn pem_chain(ders: &[&[u8]]) -> String {
    ders.iter().map(|d| pem("CERTIFICATE", d)).collect()
}

/// The quote's PCK chain: PCK, PCK Platform CA, root (as Intel's QE sends it).
pub fn pck_chain_pem() -> String {
    pem_chain(&[PCK_DER, PCK_CA_DER, ROOT_DER])
}

impl InsecureSimulatedTdx {
    /// A TD described by `config`, with a new attestation key.
    pub fn new(config: SimConfig) -> Result<Self, SimError> {
        let attestation_key =
            EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(|_| {
                SimError::Key {
                    what: "a new attestation key",
                }
            })?;
        let point = attestation_key.public_key().as_ref();
        let attestation_public: [u8; 64] =
            point
                .get(1..)
                .and_then(|p| p.try_into().ok())
                .ok_or(SimError::Key {
                    what: "the attestation key's public point",
                })?;
        let pck_key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, PCK_KEY_PKCS8_DER)
            .map_err(|_| SimError::Key {
                what: "the PCK key",
            })?;
        // QE authentication data: 32 bytes, as Intel's QE sends.
        let qe_auth_data: Vec<u8> = (0u8..32).collect();
        let mut binding = Sha256::new();
        binding.update(attestation_public);
        binding.update(&qe_auth_data);
        let mut report_data = [0u8; 64];
        for (d, s) in report_data.iter_mut().zip(binding.finalize()) {
            *d = s;
        }
        let qe_report = EnclaveReport {
            cpu_svn: SGX_COMPONENTS,
            misc_select: 0,
            isv_ext_prod_id: [0; 16],
            attributes: QE_ATTRIBUTES,
            mr_enclave: Sha256::digest(b"sealbuild insecure tdx sim QE enclave").into(),
            mr_signer: qe_mrsigner(),
            config_id: [0; 64],
            isv_prod_id: QE_ISVPRODID,
            isv_svn: QE_ISVSVN,
            config_svn: 0,
            isv_family_id: [0; 16],
            report_data,
        };
        let qe_report_signature = sign(&pck_key, "the QE report", &qe_report.to_bytes())?;
        let (ccel, rtmr) = ccel::build()?;
        Ok(Self {
            config,
            attestation_key,
            qe: QeReportCertData {
                qe_report,
                qe_report_signature,
                qe_auth_data,
                pck_cert_data: CertificationData {
                    cert_type: CERT_TYPE_PCK_CHAIN,
                    data: pck_chain_pem().into_bytes(),
                },
            },
            attestation_public,
            ccel,
            rtmr,
        })
    }

    /// The simulated TD.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// The CCEL log area the TD's firmware left (see [`ccel`]).
    pub fn ccel(&self) -> &[u8] {
        &self.ccel
    }

    /// RTMR0..2 as the CCEL replays them, which every quote carries.
    pub fn boot_rtmrs(&self) -> [[u8; 48]; 3] {
        self.rtmr
    }

    /// The TD report a quote for `report_data` carries, with `rtmr3`.
    pub fn td_report(&self, report_data: &[u8; 64], rtmr3: &[u8; 48]) -> TdReport {
        let [r0, r1, r2] = self.rtmr;
        TdReport {
            tee_tcb_svn: self.config.tee_tcb_svn,
            mr_seam: mr_seam(),
            mr_signer_seam: [0; 48],
            seam_attributes: [0; 8],
            td_attributes: self.config.td_attributes.to_le_bytes(),
            xfam: self.config.xfam.to_le_bytes(),
            mr_td: self.config.mr_td,
            mr_config_id: self.config.mr_config_id,
            mr_owner: self.config.mr_owner,
            mr_owner_config: self.config.mr_owner_config,
            rtmr: [r0, r1, r2, *rtmr3],
            report_data: *report_data,
            v15: None,
        }
    }

    /// A version 4 TD quote carrying `report_data` and `rtmr3`, signed with
    /// this TD's attestation key.
    pub fn quote(&self, report_data: &[u8; 64], rtmr3: &[u8; 48]) -> Result<Vec<u8>, SimError> {
        let mut user_data = [0u8; 20];
        for (d, s) in user_data
            .iter_mut()
            .zip(Sha256::digest(b"sealbuild insecure tdx sim platform"))
            .take(16)
        {
            *d = s;
        }
        let mut quote = Quote {
            header: QuoteHeader {
                version: 4,
                attestation_key_type: ATT_KEY_ECDSA_P256,
                tee_type: TeeType::Tdx,
                qe_svn: 0,
                pce_svn: 0,
                qe_vendor_id: INTEL_QE_VENDOR_ID,
                user_data,
            },
            body: QuoteBody::Td(Box::new(self.td_report(report_data, rtmr3))),
            signature_data: QuoteSignatureData {
                signature: [0; 64],
                attestation_key: self.attestation_public,
                qe: self.qe.clone(),
            },
            padding: 0,
        };
        quote.signature_data.signature =
            sign(&self.attestation_key, "the quote", &quote.signed_bytes())?;
        let bytes = quote.to_bytes();
        // What is produced must be what the parser accepts.
        Quote::parse(&bytes)?;
        Ok(bytes)
    }
}
