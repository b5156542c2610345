//! A whole DCAP quote: header, body, signature data, and the zero padding
//! that quote buffers from configfs-tsm and the QGS carry after it.
//!
//! Layouts ("Intel® SGX ECDSA Quote Library API", Appendix "Quote Format";
//! "Intel® TDX DCAP Quoting Library API", Appendix A "Version 4 Quote
//! Format" and "Version 5 Quote Format", tables "Quote Header", "TD Quote
//! Body", "TD Quote Body Descriptor" and "TD Quote Body v1.5"):
//!
//! ```text
//! v3: header(48) ‖ enclave report(384)                        ‖ u32 len ‖ signature data
//! v4: header(48) ‖ TD report(584) or enclave report(384)      ‖ u32 len ‖ signature data
//! v5: header(48) ‖ u16 body type ‖ u32 body size ‖ body       ‖ u32 len ‖ signature data
//! ```
//!
//! The quote signature covers everything before the u32 signature-data
//! length. The declared lengths are authoritative: the signature data must
//! be exactly as long as declared, and what follows it must be zero (a
//! buffer's padding); anything else is refused.

use super::body::{
    EnclaveReport, QuoteBody, TdReport, ENCLAVE_REPORT_SIZE, TD_REPORT10_SIZE, TD_REPORT15_SIZE,
};
use super::header::{QuoteHeader, TeeType};
use super::sigdata::{len_u32, QuoteSignatureData, MAX_CERT_DATA};
use crate::error::FormatError;
use crate::reader::{Reader, Writer};

/// Largest signature data accepted.
pub const MAX_SIGNATURE_DATA: usize = MAX_CERT_DATA + 4096;

/// A parsed quote.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Quote {
    /// The header.
    pub header: QuoteHeader,
    /// The body (SGX enclave report or TD report).
    pub body: QuoteBody,
    /// Signature, attestation key, QE report and PCK chain.
    pub signature_data: QuoteSignatureData,
    /// Number of zero bytes after the signature data (buffer padding).
    pub padding: usize,
}

fn read_body(r: &mut Reader<'_>, header: &QuoteHeader) -> Result<QuoteBody, FormatError> {
    if header.version != 5 {
        return Ok(match header.tee_type {
            TeeType::Sgx => QuoteBody::Sgx(Box::new(EnclaveReport::read(r)?)),
            TeeType::Tdx => QuoteBody::Td(Box::new(TdReport::read(r, false)?)),
        });
    }
    let body_type = r.u16_le("quote body descriptor type")?;
    let (size, tee) = match body_type {
        1 => (ENCLAVE_REPORT_SIZE, TeeType::Sgx),
        2 => (TD_REPORT10_SIZE, TeeType::Tdx),
        3 => (TD_REPORT15_SIZE, TeeType::Tdx),
        t => {
            return Err(FormatError::Unsupported {
                field: "quote body descriptor type",
                value: u64::from(t),
            })
        }
    };
    if tee != header.tee_type {
        return Err(FormatError::unexpected(
            "quote body descriptor type",
            format!("a body of TEE type {}", header.tee_type.name()),
            format!("type {body_type} ({})", tee.name()),
        ));
    }
    let declared = r.u32_le("quote body descriptor size")?;
    if usize::try_from(declared).ok() != Some(size) {
        return Err(FormatError::unexpected(
            "quote body descriptor size",
            format!("{size} (body type {body_type})"),
            declared,
        ));
    }
    let mut br = Reader::new(r.take(size, "quote body")?);
    let body = match body_type {
        1 => QuoteBody::Sgx(Box::new(EnclaveReport::read(&mut br)?)),
        t => QuoteBody::Td(Box::new(TdReport::read(&mut br, t == 3)?)),
    };
    br.finish("quote body")?;
    Ok(body)
}

impl Quote {
    /// Parses a quote, accepting zero padding after the signature data.
    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        let mut r = Reader::new(bytes);
        let header = QuoteHeader::read(&mut r)?;
        let body = read_body(&mut r, &header)?;
        let sig = r.vec_u32_le("quote signature data", MAX_SIGNATURE_DATA)?;
        let signature_data = QuoteSignatureData::parse(sig, header.version)?;
        let start = r.offset();
        let rest = r.peek_rest();
        if let Some(i) = rest.iter().position(|&b| b != 0) {
            return Err(FormatError::unexpected(
                "bytes after the quote signature data",
                "zero padding only",
                format!(
                    "{} trailing bytes with a non-zero byte at offset {:#x}",
                    rest.len(),
                    start.saturating_add(i)
                ),
            ));
        }
        Ok(Self {
            header,
            body,
            signature_data,
            padding: rest.len(),
        })
    }

    /// The signed part: header ‖ (v5: body descriptor ‖) body.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.header.write(&mut w);
        if self.header.version == 5 {
            w.u16_le(self.body.body_type())
                .u32_le(len_u32(self.body.size()));
        }
        self.body.write(&mut w);
        w.into_vec()
    }

    /// The whole encoding, padding included (inverse of [`Self::parse`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.signed_bytes();
        let sig = self.signature_data.to_bytes(self.header.version);
        out.extend_from_slice(&len_u32(sig.len()).to_le_bytes());
        out.extend_from_slice(&sig);
        out.resize(out.len() + self.padding, 0);
        out
    }

    /// Length of the quote without its padding.
    pub fn quote_len(&self) -> usize {
        self.to_bytes().len() - self.padding
    }

    /// The TD report of a TDX quote.
    pub fn td_report(&self) -> Option<&TdReport> {
        match &self.body {
            QuoteBody::Td(t) => Some(t),
            QuoteBody::Sgx(_) => None,
        }
    }

    /// The enclave report of an SGX quote.
    pub fn enclave_report(&self) -> Option<&EnclaveReport> {
        match &self.body {
            QuoteBody::Sgx(e) => Some(e),
            QuoteBody::Td(_) => None,
        }
    }
}
