//! The quote signature data: quote signature, attestation key, and the QE
//! report that certifies that key, with the PCK certificate chain.
//!
//! * Version 3: "Intel® SGX ECDSA Quote Library API", Appendix "Quote
//!   Format", table "ECDSA 256-bit Quote Signature Data Structure": ISV
//!   enclave report signature (64, r‖s), ECDSA attestation key (64, x‖y),
//!   QE report (384), QE report signature (64), QE authentication data (u16
//!   size + data), QE certification data (u16 type, u32 size, data).
//! * Versions 4 and 5: "Intel® TDX DCAP Quoting Library API", Appendix A,
//!   tables "ECDSA 256-bit Quote Signature Data Structure - Version 4",
//!   "Certification Data" and "QE Report Certification Data": quote signature
//!   (64), attestation key (64), then certification data of type 6 whose
//!   data is the QE report (384), its signature (64), the QE authentication
//!   data (u16 size + data) and the PCK certification data (u16 type, u32
//!   size, data).
//!
//! Certification data types (table "Certification Data"): 1 PPID in clear,
//! 2 PPID RSA-2048-OAEP, 3 PPID RSA-3072-OAEP, 4 PCK leaf certificate, 5 PCK
//! certificate chain (PEM: PCK ‖ intermediate CA ‖ root CA), 6 QE report
//! certification data, 7 platform manifest. Types 1–5 are read as opaque
//! bytes where PCK certification data goes; verification needs type 5.

use super::body::{EnclaveReport, ENCLAVE_REPORT_SIZE};
use crate::error::FormatError;
use crate::reader::{Reader, Writer};

/// Certification data type 5: the PEM PCK certificate chain.
pub const CERT_TYPE_PCK_CHAIN: u16 = 5;
/// Certification data type 6: QE report certification data (versions 4, 5).
pub const CERT_TYPE_QE_REPORT: u16 = 6;
/// Largest certification data accepted (a PEM chain is about 4 KiB).
pub const MAX_CERT_DATA: usize = 64 * 1024;

/// Certification data of type 1..=5 (opaque bytes).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CertificationData {
    /// The type (5 = PEM PCK chain).
    pub cert_type: u16,
    /// The data, exactly as declared.
    pub data: Vec<u8>,
}

impl CertificationData {
    fn read(r: &mut Reader<'_>) -> Result<Self, FormatError> {
        let cert_type = r.u16_le("PCK certification data type")?;
        if !(1..=5).contains(&cert_type) {
            return Err(FormatError::Unsupported {
                field: "PCK certification data type",
                value: u64::from(cert_type),
            });
        }
        let data = r
            .vec_u32_le("PCK certification data", MAX_CERT_DATA)?
            .to_vec();
        Ok(Self { cert_type, data })
    }

    fn write(&self, w: &mut Writer) {
        w.u16_le(self.cert_type)
            .u32_le(len_u32(self.data.len()))
            .bytes(&self.data);
    }
}

/// The QE report that certifies the attestation key, and what certifies it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QeReportCertData {
    /// The quoting enclave's report; REPORTDATA[0..32] =
    /// SHA-256(attestation key ‖ QE authentication data), the rest zero.
    pub qe_report: EnclaveReport,
    /// ECDSA P-256 signature (r‖s) over the 384 QE report bytes by the PCK key.
    pub qe_report_signature: [u8; 64],
    /// QE authentication data.
    pub qe_auth_data: Vec<u8>,
    /// The PCK certification data (type 5 from Intel's QE).
    pub pck_cert_data: CertificationData,
}

impl QeReportCertData {
    fn read(r: &mut Reader<'_>) -> Result<Self, FormatError> {
        let qe_report = EnclaveReport::read(r)?;
        let qe_report_signature = r.array("QE report signature")?;
        let auth_len = usize::from(r.u16_le("QE authentication data size")?);
        let qe_auth_data = r.take(auth_len, "QE authentication data")?.to_vec();
        Ok(Self {
            qe_report,
            qe_report_signature,
            qe_auth_data,
            pck_cert_data: CertificationData::read(r)?,
        })
    }

    fn write(&self, w: &mut Writer) {
        self.qe_report.write(w);
        w.bytes(&self.qe_report_signature)
            .u16_le(u16::try_from(self.qe_auth_data.len()).unwrap_or(u16::MAX))
            .bytes(&self.qe_auth_data);
        self.pck_cert_data.write(w);
    }

    /// The 384 signed QE report bytes.
    pub fn qe_report_bytes(&self) -> Vec<u8> {
        self.qe_report.to_bytes()
    }

    fn encoded_len(&self) -> usize {
        ENCLAVE_REPORT_SIZE + 64 + 2 + self.qe_auth_data.len() + 6 + self.pck_cert_data.data.len()
    }
}

/// The signature data of a quote.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QuoteSignatureData {
    /// ECDSA P-256 signature (r‖s, big-endian) over header ‖ body.
    pub signature: [u8; 64],
    /// The attestation key: P-256 point x‖y (big-endian, no 0x04 prefix).
    pub attestation_key: [u8; 64],
    /// The QE report certification (in a type-6 wrapper from version 4 on).
    pub qe: QeReportCertData,
}

impl QuoteSignatureData {
    /// Reads exactly the declared signature data of a quote of `version`.
    pub fn parse(bytes: &[u8], version: u16) -> Result<Self, FormatError> {
        let mut r = Reader::new(bytes);
        let signature = r.array("quote signature")?;
        let attestation_key = r.array("ECDSA attestation key")?;
        let qe = if version == 3 {
            QeReportCertData::read(&mut r)?
        } else {
            let t = r.u16_le("certification data type")?;
            if t != CERT_TYPE_QE_REPORT {
                return Err(FormatError::unexpected(
                    "certification data type",
                    "6 (QE report certification data)",
                    t,
                ));
            }
            let inner = r.vec_u32_le("QE report certification data", MAX_CERT_DATA)?;
            let mut ir = Reader::new(inner);
            let qe = QeReportCertData::read(&mut ir)?;
            ir.finish("QE report certification data")?;
            qe
        };
        r.finish("quote signature data")?;
        Ok(Self {
            signature,
            attestation_key,
            qe,
        })
    }

    /// The encoding for a quote of `version` (without the u32 length prefix).
    pub fn to_bytes(&self, version: u16) -> Vec<u8> {
        let mut w = Writer::new();
        w.bytes(&self.signature).bytes(&self.attestation_key);
        if version != 3 {
            w.u16_le(CERT_TYPE_QE_REPORT)
                .u32_le(len_u32(self.qe.encoded_len()));
        }
        self.qe.write(&mut w);
        w.into_vec()
    }

    /// The attestation key as an uncompressed SEC1 point (04 ‖ x ‖ y).
    pub fn attestation_key_sec1(&self) -> [u8; 65] {
        let mut out = [0x04; 65];
        for (o, k) in out.iter_mut().skip(1).zip(self.attestation_key) {
            *o = k;
        }
        out
    }
}

/// Lengths here come from size-checked parsers (≤ [`MAX_CERT_DATA`]); an
/// oversized value saturates and would fail to parse again.
pub(super) fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
