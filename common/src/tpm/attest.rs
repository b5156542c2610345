//! TPMS_ATTEST: the structure a TPM signs for quotes and certifications.
//!
//! TCG TPM 2.0 Library Part 2 rev. 1.59:
//! * TPMS_ATTEST — §10.12.12, Table 133: `magic` (TPM_GENERATED, Table 7, must be
//!   TPM_GENERATED_VALUE), `type` (TPMI_ST_ATTEST, Tables 19/131),
//!   `qualifiedSigner` (TPM2B_NAME), `extraData` (TPM2B_DATA), `clockInfo`
//!   (TPMS_CLOCK_INFO), `firmwareVersion` (UINT64), `attested` (TPMU_ATTEST,
//!   §10.12.11, Table 132, selected by `type`).
//! * TPMS_CLOCK_INFO — §10.11.1, Table 121: `clock` (UINT64), `resetCount`,
//!   `restartCount` (UINT32), `safe` (TPMI_YES_NO, Table 41: 0 or 1).
//! * TPMS_QUOTE_INFO — Table 125: `pcrSelect` (TPML_PCR_SELECTION), `pcrDigest`
//!   (TPM2B_DIGEST). Tag TPM_ST_ATTEST_QUOTE (0x8018).
//! * TPMS_CERTIFY_INFO — Table 124: `name`, `qualifiedName` (TPM2B_NAME). Tag
//!   TPM_ST_ATTEST_CERTIFY (0x8017).
//! * TPMS_CREATION_INFO — Table 128: `objectName` (TPM2B_NAME), `creationHash`
//!   (TPM2B_DIGEST). Tag TPM_ST_ATTEST_CREATION (0x801A).
//! * TPM2B_NAME — §10.5.3, Tables 91/92: empty, a 4-byte handle, or a TPM_ALG_ID
//!   followed by a digest of that algorithm's size (Part 1 §16 "Names").
//!
//! The other attestation types (NV 0x8014, command audit 0x8015, session
//! audit 0x8016, time 0x8019, NV digest 0x801C) are rejected as unsupported.
//!
//! Note: for keys in the storage hierarchy the TPM obfuscates `resetCount`,
//! `restartCount` and `firmwareVersion` (Part 2 §10.12.12); the values here are
//! reported as signed, never interpreted.

use crate::error::FormatError;
use crate::hash::HashAlg;
use crate::reader::{Reader, Writer};
use crate::tpm::pcr::PcrSelectionList;
use crate::tpm::{hex_str, limits, TPM_GENERATED_VALUE};

/// TPM_ST_ATTEST_CERTIFY.
pub const TPM_ST_ATTEST_CERTIFY: u16 = 0x8017;
/// TPM_ST_ATTEST_QUOTE.
pub const TPM_ST_ATTEST_QUOTE: u16 = 0x8018;
/// TPM_ST_ATTEST_CREATION.
pub const TPM_ST_ATTEST_CREATION: u16 = 0x801A;

/// A TPM2B_NAME: the name of an entity (Part 1 §16).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Name {
    /// A zero-length name.
    Empty,
    /// The name of a permanent entity, PCR or session: its 4-byte handle.
    Handle(u32),
    /// The name of an object or NV index: `nameAlg || H_nameAlg(public area)`
    /// (or, for a qualified name, the digest chain of its ancestors).
    Digest {
        /// The name algorithm.
        alg: HashAlg,
        /// The digest, `alg.size()` bytes.
        digest: Vec<u8>,
    },
}

impl Name {
    /// Parses the contents of a TPM2B_NAME (without the size prefix).
    pub fn from_bytes(bytes: &[u8], field: &'static str) -> Result<Self, FormatError> {
        if bytes.is_empty() {
            return Ok(Self::Empty);
        }
        if let Ok(handle) = <[u8; 4]>::try_from(bytes) {
            return Ok(Self::Handle(u32::from_be_bytes(handle)));
        }
        let mut r = Reader::new(bytes);
        let alg = HashAlg::from_alg_id(r.u16_be(field)?, field)?;
        let digest = r.take(alg.size(), field)?.to_vec();
        r.finish(field)?;
        Ok(Self::Digest { alg, digest })
    }

    /// The contents of the TPM2B_NAME (without the size prefix).
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Self::Empty => Vec::new(),
            Self::Handle(h) => h.to_be_bytes().to_vec(),
            Self::Digest { alg, digest } => {
                let mut out = alg.alg_id().to_be_bytes().to_vec();
                out.extend_from_slice(digest);
                out
            }
        }
    }

    fn read(r: &mut Reader<'_>, field: &'static str) -> Result<Self, FormatError> {
        Self::from_bytes(r.tpm2b(field, limits::NAME)?, field)
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex_str(&self.to_bytes()))
    }
}

/// TPMS_CLOCK_INFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockInfo {
    /// Milliseconds the TPM has been powered since it was last cleared.
    pub clock: u64,
    /// TPM Reset events since the last TPM2_Clear.
    pub reset_count: u32,
    /// TPM Restart/Resume events since the last TPM Reset.
    pub restart_count: u32,
    /// False when a clock value greater than `clock` may have been reported.
    pub safe: bool,
}

impl ClockInfo {
    fn read(r: &mut Reader<'_>) -> Result<Self, FormatError> {
        let clock = r.u64_be("TPMS_CLOCK_INFO.clock")?;
        let reset_count = r.u32_be("TPMS_CLOCK_INFO.resetCount")?;
        let restart_count = r.u32_be("TPMS_CLOCK_INFO.restartCount")?;
        let safe = match r.u8("TPMS_CLOCK_INFO.safe")? {
            0 => false,
            1 => true,
            other => {
                return Err(FormatError::unexpected(
                    "TPMS_CLOCK_INFO.safe",
                    "TPMI_YES_NO 0 or 1",
                    other,
                ))
            }
        };
        Ok(Self {
            clock,
            reset_count,
            restart_count,
            safe,
        })
    }

    fn write(&self, w: &mut Writer) {
        w.u64_be(self.clock)
            .u32_be(self.reset_count)
            .u32_be(self.restart_count)
            .u8(u8::from(self.safe));
    }
}

/// TPMS_QUOTE_INFO: what a quote attests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteInfo {
    pcr_select: PcrSelectionList,
    pcr_digest: Vec<u8>,
}

impl QuoteInfo {
    /// The banks and PCRs the quote covers, in TPM order.
    pub fn pcr_select(&self) -> &PcrSelectionList {
        &self.pcr_select
    }

    /// `pcrDigest`: the digest, with the signing scheme's hash, of the selected
    /// PCR values.
    pub fn pcr_digest(&self) -> &[u8] {
        &self.pcr_digest
    }
}

/// TPMS_CERTIFY_INFO: what TPM2_Certify attests about a loaded object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertifyInfo {
    /// Name of the certified object.
    pub name: Name,
    /// Qualified name of the certified object.
    pub qualified_name: Name,
}

/// TPMS_CREATION_INFO: what TPM2_CertifyCreation attests about an object's
/// creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreationInfo {
    /// Name of the object.
    pub object_name: Name,
    /// `creationHash`: H_nameAlg(TPMS_CREATION_DATA) returned when the object
    /// was created.
    creation_hash: Vec<u8>,
}

impl CreationInfo {
    /// The creation hash.
    pub fn creation_hash(&self) -> &[u8] {
        &self.creation_hash
    }
}

/// TPMU_ATTEST, for the supported types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attested {
    /// TPM_ST_ATTEST_QUOTE.
    Quote(QuoteInfo),
    /// TPM_ST_ATTEST_CERTIFY.
    Certify(CertifyInfo),
    /// TPM_ST_ATTEST_CREATION.
    Creation(CreationInfo),
}

impl Attested {
    /// The TPM_ST tag of this type.
    pub fn tag(&self) -> u16 {
        match self {
            Self::Quote(_) => TPM_ST_ATTEST_QUOTE,
            Self::Certify(_) => TPM_ST_ATTEST_CERTIFY,
            Self::Creation(_) => TPM_ST_ATTEST_CREATION,
        }
    }

    /// The tag's name in the specification.
    pub fn tag_name(&self) -> &'static str {
        match self {
            Self::Quote(_) => "TPM_ST_ATTEST_QUOTE",
            Self::Certify(_) => "TPM_ST_ATTEST_CERTIFY",
            Self::Creation(_) => "TPM_ST_ATTEST_CREATION",
        }
    }
}

/// TPMS_ATTEST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attest {
    qualified_signer: Name,
    extra_data: Vec<u8>,
    clock_info: ClockInfo,
    firmware_version: u64,
    attested: Attested,
}

impl Attest {
    /// Parses a complete TPMS_ATTEST (the bytes the TPM signed, e.g. the file
    /// `tpm2_quote -m` writes).
    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        let mut r = Reader::new(bytes);
        let magic = r.u32_be("TPMS_ATTEST.magic")?;
        if magic != TPM_GENERATED_VALUE {
            return Err(FormatError::unexpected(
                "TPMS_ATTEST.magic",
                format_args!("TPM_GENERATED_VALUE {TPM_GENERATED_VALUE:#010x}"),
                format_args!("{magic:#010x}"),
            ));
        }
        let tag = r.u16_be("TPMS_ATTEST.type")?;
        if !matches!(
            tag,
            TPM_ST_ATTEST_QUOTE | TPM_ST_ATTEST_CERTIFY | TPM_ST_ATTEST_CREATION
        ) {
            return Err(FormatError::Unsupported {
                field: "TPMS_ATTEST.type",
                value: u64::from(tag),
            });
        }
        let qualified_signer = Name::read(&mut r, "TPMS_ATTEST.qualifiedSigner")?;
        let extra_data = r.tpm2b("TPMS_ATTEST.extraData", limits::DATA)?.to_vec();
        let clock_info = ClockInfo::read(&mut r)?;
        let firmware_version = r.u64_be("TPMS_ATTEST.firmwareVersion")?;
        let attested = match tag {
            TPM_ST_ATTEST_QUOTE => {
                let pcr_select = PcrSelectionList::read(&mut r)?;
                let pcr_digest = read_digest(&mut r, "TPMS_QUOTE_INFO.pcrDigest")?;
                Attested::Quote(QuoteInfo {
                    pcr_select,
                    pcr_digest,
                })
            }
            TPM_ST_ATTEST_CERTIFY => Attested::Certify(CertifyInfo {
                name: Name::read(&mut r, "TPMS_CERTIFY_INFO.name")?,
                qualified_name: Name::read(&mut r, "TPMS_CERTIFY_INFO.qualifiedName")?,
            }),
            _ => Attested::Creation(CreationInfo {
                object_name: Name::read(&mut r, "TPMS_CREATION_INFO.objectName")?,
                creation_hash: read_digest(&mut r, "TPMS_CREATION_INFO.creationHash")?,
            }),
        };
        r.finish("TPMS_ATTEST")?;
        Ok(Self {
            qualified_signer,
            extra_data,
            clock_info,
            firmware_version,
            attested,
        })
    }

    /// The TPMS_ATTEST encoding (identical to the parsed bytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u32_be(TPM_GENERATED_VALUE).u16_be(self.attested.tag());
        w.tpm2b(&self.qualified_signer.to_bytes());
        w.tpm2b(&self.extra_data);
        self.clock_info.write(&mut w);
        w.u64_be(self.firmware_version);
        match &self.attested {
            Attested::Quote(q) => {
                q.pcr_select.write(&mut w);
                w.tpm2b(&q.pcr_digest);
            }
            Attested::Certify(c) => {
                w.tpm2b(&c.name.to_bytes());
                w.tpm2b(&c.qualified_name.to_bytes());
            }
            Attested::Creation(c) => {
                w.tpm2b(&c.object_name.to_bytes());
                w.tpm2b(&c.creation_hash);
            }
        }
        w.into_vec()
    }

    /// Qualified name of the key that signed the structure.
    pub fn qualified_signer(&self) -> &Name {
        &self.qualified_signer
    }

    /// `extraData`: the caller's qualifying data (the verifier's nonce).
    pub fn extra_data(&self) -> &[u8] {
        &self.extra_data
    }

    /// The TPM clock when the structure was made.
    pub fn clock_info(&self) -> ClockInfo {
        self.clock_info
    }

    /// Vendor-specific firmware version.
    pub fn firmware_version(&self) -> u64 {
        self.firmware_version
    }

    /// The type-specific contents.
    pub fn attested(&self) -> &Attested {
        &self.attested
    }

    /// The quote contents, when this is a TPM_ST_ATTEST_QUOTE.
    pub fn quote(&self) -> Option<&QuoteInfo> {
        match &self.attested {
            Attested::Quote(q) => Some(q),
            _ => None,
        }
    }
}

/// Reads a TPM2B_DIGEST that must hold a digest of a supported hash (20, 32,
/// 48 or 64 bytes) or be empty.
fn read_digest(r: &mut Reader<'_>, field: &'static str) -> Result<Vec<u8>, FormatError> {
    let d = r.tpm2b(field, limits::DIGEST)?;
    if !d.is_empty() && !HashAlg::ALL.iter().any(|h| h.size() == d.len()) {
        return Err(FormatError::unexpected(
            field,
            "empty or the size of a SHA-1/SHA-256/SHA-384/SHA-512 digest",
            format_args!("{} bytes", d.len()),
        ));
    }
    Ok(d.to_vec())
}
