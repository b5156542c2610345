//! The endorsement key (EK) and its certificate.
//!
//! * The EK is the primary key the TPM derives in the endorsement hierarchy
//!   from one of the TCG default templates (TCG EK Credential Profile for TPM
//!   Family 2.0, Level 0, Version 2.5 rev. 2, Annex B: template L-1 RSA 2048,
//!   L-2 ECC NIST P-256, H-3 ECC NIST P-384). The same template always gives
//!   the same key, so the EK is recreated when needed and flushed after use.
//! * Its certificate, when the manufacturer provisioned one, is a DER X.509
//!   certificate in NV (same profile, §2.2.1.4 "Low Range": RSA 2048 at
//!   0x01c00002, ECC P-256 at 0x01c0000a; §2.2.1.5 "High Range": ECC P-384 at
//!   0x01c00016, where `swtpm_setup` stores its ECC EK certificate).
//!   NV areas are often larger than the certificate; the certificate's length
//!   comes from its DER header (ITU-T X.690 §8.1.3) and the rest must be
//!   uniform padding (all 0x00 or all 0xFF).
//! * Intermediate certificates may be stored in the EK certificate chain range
//!   0x01c00100–0x01c001ff (same profile, §2.2.1.5.2), one or more
//!   concatenated DER certificates per index; they are returned as hints.

use super::{rc, TpmBackend};
use crate::evidence::AgentError;
use sealbuild_common::reader::Reader;
use sealbuild_common::FormatError;
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use tss_esapi::abstraction::ek::create_ek_public_from_default_template_2;
use tss_esapi::abstraction::{AsymmetricAlgorithmSelection, DefaultKey};
use tss_esapi::handles::{KeyHandle, NvIndexHandle, NvIndexTpmHandle, TpmHandle};
use tss_esapi::interface_types::ecc::EccCurve;
use tss_esapi::interface_types::key_bits::RsaKeyBits;
use tss_esapi::interface_types::resource_handles::{Hierarchy, NvAuth};
use tss_esapi::interface_types::session_handles::AuthSession;
use tss_esapi::structures::PublicBuffer;
use tss_esapi::traits::Marshall;

/// First and last NV index of the EK certificate chain range.
pub const EK_CHAIN_RANGE: (u32, u32) = (0x01c0_0100, 0x01c0_01ff);

/// The EK templates the agent uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EkType {
    /// Template L-1: RSA 2048, SHA-256, AES-128-CFB.
    Rsa2048,
    /// Template L-2: ECC NIST P-256, SHA-256, AES-128-CFB.
    EccP256,
    /// Template H-3: ECC NIST P-384, SHA-384, AES-256-CFB.
    EccP384,
}

impl EkType {
    /// All types, in the order [`EkSelection::Auto`] tries them.
    pub const ALL: [EkType; 3] = [Self::Rsa2048, Self::EccP256, Self::EccP384];

    /// NV index of this EK's certificate.
    pub fn cert_nv_index(self) -> u32 {
        match self {
            Self::Rsa2048 => 0x01c0_0002,
            Self::EccP256 => 0x01c0_000a,
            Self::EccP384 => 0x01c0_0016,
        }
    }

    /// Short name (`rsa2048`, `ecc-p256`, `ecc-p384`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Rsa2048 => "rsa2048",
            Self::EccP256 => "ecc-p256",
            Self::EccP384 => "ecc-p384",
        }
    }

    fn algorithm(self) -> AsymmetricAlgorithmSelection {
        match self {
            Self::Rsa2048 => AsymmetricAlgorithmSelection::Rsa(RsaKeyBits::Rsa2048),
            Self::EccP256 => AsymmetricAlgorithmSelection::Ecc(EccCurve::NistP256),
            Self::EccP384 => AsymmetricAlgorithmSelection::Ecc(EccCurve::NistP384),
        }
    }
}

impl std::fmt::Display for EkType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for EkType {
    type Err = AgentError;
    fn from_str(s: &str) -> Result<Self, AgentError> {
        match s {
            "rsa" | "rsa2048" => Ok(Self::Rsa2048),
            "ecc" | "ecc256" | "ecc-p256" => Ok(Self::EccP256),
            "ecc384" | "ecc-p384" => Ok(Self::EccP384),
            other => Err(AgentError::InvalidArgument {
                what: "EK type",
                reason: format!("{other:?} (expected rsa2048, ecc-p256 or ecc-p384)"),
            }),
        }
    }
}

/// Which EK to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EkSelection {
    /// The first of RSA 2048, ECC P-256, ECC P-384 that has a certificate in
    /// NV; RSA 2048 when none has.
    Auto,
    /// This one, with or without a certificate.
    Fixed(EkType),
}

/// An EK certificate read from NV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EkCertificate {
    /// The NV index it was read from.
    pub nv_index: u32,
    /// The DER certificate, padding removed.
    pub der: Vec<u8>,
}

/// What the agent reports about its EK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EkInfo {
    /// Which template.
    pub ek_type: EkType,
    /// TPM2B_PUBLIC of the EK (as `tpm2_createek -u` writes it).
    pub public: Vec<u8>,
    /// The EK's Name (nameAlg || H(TPMT_PUBLIC)).
    pub name: Vec<u8>,
    /// Its certificate, when one is provisioned.
    pub certificate: Option<EkCertificate>,
    /// DER certificates found in the EK chain NV range (untrusted hints).
    pub intermediates: Vec<Vec<u8>>,
}

impl TpmBackend {
    /// Creates the EK, reads its public area, Name and certificate, and
    /// flushes it.
    pub fn endorsement_key(&mut self, selection: EkSelection) -> Result<EkInfo, AgentError> {
        let (ek_type, certificate, intermediates) = self.ek_certificates(selection)?;
        let ek = self.create_ek(ek_type)?;
        let (public, name) = self.with_flushed("EK", ek.into(), |s| s.public_and_name(ek))?;
        Ok(EkInfo {
            ek_type,
            public,
            name,
            certificate,
            intermediates,
        })
    }

    /// Chooses the EK type and reads its certificate and the chain hints.
    #[allow(clippy::type_complexity)]
    pub(crate) fn ek_certificates(
        &mut self,
        selection: EkSelection,
    ) -> Result<(EkType, Option<EkCertificate>, Vec<Vec<u8>>), AgentError> {
        let nv = self.nv_indices(0x01c0_0000, 0x01c0_ffff)?;
        let ek_type = match selection {
            EkSelection::Fixed(t) => t,
            EkSelection::Auto => EkType::ALL
                .into_iter()
                .find(|t| nv.contains(&t.cert_nv_index()))
                .unwrap_or(EkType::Rsa2048),
        };
        let certificate = if nv.contains(&ek_type.cert_nv_index()) {
            let index = ek_type.cert_nv_index();
            let raw = self.read_nv(index)?;
            let der =
                trim_der_certificate(&raw).map_err(|e| AgentError::MalformedEkCertificate {
                    index,
                    reason: e.to_string(),
                })?;
            Some(EkCertificate {
                nv_index: index,
                der: der.to_vec(),
            })
        } else {
            tracing::info!(
                "no {ek_type} EK certificate in NV index {:#010x}",
                ek_type.cert_nv_index()
            );
            None
        };
        let mut intermediates = Vec::new();
        for index in nv
            .iter()
            .copied()
            .filter(|i| (EK_CHAIN_RANGE.0..=EK_CHAIN_RANGE.1).contains(i))
        {
            let raw = self.read_nv(index)?;
            match split_der_certificates(&raw) {
                Ok(certs) => intermediates.extend(certs.into_iter().map(<[u8]>::to_vec)),
                // Hints only: a malformed chain index does not stop registration.
                Err(e) => tracing::warn!("ignoring EK chain NV index {index:#010x}: {e}"),
            }
        }
        Ok((ek_type, certificate, intermediates))
    }

    /// Reads the EK certificate for `ek_type`; an error when there is none.
    pub fn ek_certificate(&mut self, ek_type: EkType) -> Result<EkCertificate, AgentError> {
        let index = ek_type.cert_nv_index();
        let nv = self.nv_indices(index, index)?;
        if !nv.contains(&index) {
            return Err(AgentError::MissingEkCertificate {
                looked_at: format!("{index:#010x} ({ek_type})"),
            });
        }
        let raw = self.read_nv(index)?;
        let der = trim_der_certificate(&raw).map_err(|e| AgentError::MalformedEkCertificate {
            index,
            reason: e.to_string(),
        })?;
        Ok(EkCertificate {
            nv_index: index,
            der: der.to_vec(),
        })
    }

    /// TPM2_CreatePrimary of the EK from its TCG template. The caller must
    /// flush the returned handle.
    pub(crate) fn create_ek(&mut self, ek_type: EkType) -> Result<KeyHandle, AgentError> {
        let template = create_ek_public_from_default_template_2(ek_type.algorithm(), DefaultKey)
            .map_err(rc::cmd("CreatePrimary (EK template)"))?;
        let created = self
            .ctx
            .execute_with_session(Some(AuthSession::Password), |c| {
                c.create_primary(Hierarchy::Endorsement, template, None, None, None, None)
            })
            .map_err(rc::cmd("CreatePrimary"))?;
        Ok(created.key_handle)
    }

    /// TPM2B_PUBLIC and Name of a loaded key.
    pub(crate) fn public_and_name(
        &mut self,
        key: KeyHandle,
    ) -> Result<(Vec<u8>, Vec<u8>), AgentError> {
        let (public, name, _) = self
            .ctx
            .execute_without_session(|c| c.read_public(key))
            .map_err(rc::cmd("ReadPublic"))?;
        let bytes = PublicBuffer::try_from(public)
            .and_then(|b| b.marshall())
            .map_err(rc::cmd("ReadPublic (marshalling TPM2B_PUBLIC)"))?;
        Ok((bytes, name.value().to_vec()))
    }

    /// Handles of defined NV indices in `first..=last`.
    pub(crate) fn nv_indices(&mut self, first: u32, last: u32) -> Result<Vec<u32>, AgentError> {
        Ok(self
            .handles_from(first)?
            .into_iter()
            .filter(|h| (first..=last).contains(h))
            .collect())
    }

    /// Reads a whole NV index (the size its public area declares), with the
    /// index's own (empty) authorization when it allows that, else the
    /// owner's (empty) authorization, in TPM2_NV_Read chunks of at most the
    /// TPM's TPM_PT_NV_BUFFER_MAX (512 when the TPM does not say, never more
    /// than 1024).
    pub(crate) fn read_nv(&mut self, index: u32) -> Result<Vec<u8>, AgentError> {
        let tpm_handle = NvIndexTpmHandle::new(index).map_err(rc::cmd("NV_ReadPublic"))?;
        let mut object = self
            .ctx
            .execute_without_session(|c| c.tr_from_tpm_public(TpmHandle::NvIndex(tpm_handle)))
            .map_err(rc::cmd("NV_ReadPublic"))?;
        let result = self.read_nv_open(NvIndexHandle::from(object), index);
        // The ESYS_TR is a host-side handle; closing it frees ESYS memory only.
        if let Err(e) = self.ctx.tr_close(&mut object) {
            tracing::warn!(
                "closing the ESYS handle of NV index {index:#010x}: {}",
                rc::describe(&e)
            );
        }
        result
    }

    fn read_nv_open(&mut self, nv: NvIndexHandle, index: u32) -> Result<Vec<u8>, AgentError> {
        let (public, _) = self
            .ctx
            .execute_without_session(|c| c.nv_read_public(nv))
            .map_err(rc::cmd("NV_ReadPublic"))?;
        let size = public.data_size();
        let attrs = public.attributes();
        let auth = if attrs.auth_read() {
            NvAuth::NvIndex(nv)
        } else if attrs.owner_read() {
            NvAuth::Owner
        } else {
            return Err(AgentError::NvIndex {
                index,
                reason: "the index allows neither AUTHREAD nor OWNERREAD".into(),
            });
        };
        let chunk = self
            .ctx
            .get_tpm_property(tss_esapi::constants::PropertyTag::NvBufferMax)
            .ok()
            .flatten()
            .and_then(|v| usize::try_from(v).ok())
            .unwrap_or(512)
            .clamp(1, 1024);
        let mut out = Vec::with_capacity(size);
        while out.len() < size {
            let len = (size - out.len()).min(chunk);
            let (len16, off16) = match (u16::try_from(len), u16::try_from(out.len())) {
                (Ok(l), Ok(o)) => (l, o),
                _ => {
                    return Err(AgentError::UnexpectedResponse {
                        command: "NV_ReadPublic",
                        reason: format!("NV index {index:#010x} size {size} exceeds 65535"),
                    })
                }
            };
            let data = self
                .ctx
                .execute_with_session(Some(AuthSession::Password), |c| {
                    c.nv_read(auth, nv, len16, off16)
                })
                .map_err(rc::cmd("NV_Read"))?;
            if data.value().len() != len {
                return Err(AgentError::UnexpectedResponse {
                    command: "NV_Read",
                    reason: format!(
                        "asked for {len} bytes at offset {off16} of {index:#010x}, got {}",
                        data.value().len()
                    ),
                });
            }
            out.extend_from_slice(data.value());
        }
        Ok(out)
    }
}

/// Reads one DER element header (tag 0x30, definite length) and returns the
/// element's total length in bytes.
fn der_sequence_len(data: &[u8]) -> Result<usize, FormatError> {
    let mut r = Reader::new(data);
    let tag = r.u8("certificate tag")?;
    if tag != 0x30 {
        return Err(FormatError::unexpected(
            "certificate tag",
            "0x30 (SEQUENCE)",
            format!("{tag:#04x}"),
        ));
    }
    let first = r.u8("certificate length")?;
    let len = match first {
        0x00..=0x7f => usize::from(first),
        0x81..=0x84 => {
            let n = usize::from(first & 0x7f);
            let bytes = r.take(n, "certificate length")?;
            if bytes.first() == Some(&0) || (n == 1 && bytes.first().is_some_and(|b| *b < 0x80)) {
                return Err(FormatError::unexpected(
                    "certificate length",
                    "minimal DER length encoding",
                    hex::encode(bytes),
                ));
            }
            bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
        }
        other => {
            return Err(FormatError::unexpected(
                "certificate length",
                "definite length of at most 4 bytes",
                format!("{other:#04x}"),
            ))
        }
    };
    let header = r.offset();
    r.take(len, "certificate body")?;
    Ok(header + len)
}

fn check_padding(rest: &[u8]) -> Result<(), FormatError> {
    let uniform = |b: u8| rest.iter().all(|x| *x == b);
    if rest.is_empty() || uniform(0x00) || uniform(0xff) {
        Ok(())
    } else {
        Err(FormatError::TrailingBytes {
            structure: "EK certificate NV area (after the DER certificate, only 0x00 or 0xFF padding is allowed)",
            count: rest.len(),
        })
    }
}

/// The DER certificate at the start of an NV area, padding removed.
pub fn trim_der_certificate(data: &[u8]) -> Result<&[u8], FormatError> {
    let len = der_sequence_len(data)?;
    let Some((cert, rest)) = data.split_at_checked(len) else {
        return Err(FormatError::Truncated {
            field: "certificate body",
            offset: 0,
            needed: len,
            available: data.len(),
        });
    };
    check_padding(rest)?;
    Ok(cert)
}

/// One or more concatenated DER certificates followed by optional padding.
pub fn split_der_certificates(data: &[u8]) -> Result<Vec<&[u8]>, FormatError> {
    let mut out = Vec::new();
    let mut rest = data;
    while rest.first() == Some(&0x30) {
        let len = der_sequence_len(rest)?;
        let Some((cert, tail)) = rest.split_at_checked(len) else {
            return Err(FormatError::Truncated {
                field: "certificate body",
                offset: data.len() - rest.len(),
                needed: len,
                available: rest.len(),
            });
        };
        out.push(cert);
        rest = tail;
    }
    if out.is_empty() {
        return Err(FormatError::unexpected(
            "certificate tag",
            "0x30 (SEQUENCE)",
            rest.first()
                .map(|b| format!("{b:#04x}"))
                .unwrap_or_else(|| "end of data".into()),
        ));
    }
    check_padding(rest)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAL_EK_CERTS: [&str; 4] = [
        "pca_tpm_rsa_enc_cert.pem",
        "pca_tpm_ecc_enc_cert.pem",
        "uca_tpm_rsa_enc_cert.pem",
        "uca_tpm_ecc_enc_cert.pem",
    ];

    fn real_cert(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/../tests/data/tpm/go-tpm-tools/ek-certs/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let pem = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut slice = pem.as_slice();
        let mut certs = rustls_pemfile::certs(&mut slice);
        certs.next().unwrap().unwrap().to_vec()
    }

    #[test]
    fn real_certificates_with_and_without_padding() {
        for name in REAL_EK_CERTS {
            let der = real_cert(name);
            // exact
            assert_eq!(
                trim_der_certificate(&der).unwrap(),
                der.as_slice(),
                "{name}"
            );
            // NV areas padded with zeros or 0xFF
            for pad in [0x00u8, 0xff] {
                let mut nv = der.clone();
                nv.extend(std::iter::repeat_n(pad, 137));
                assert_eq!(trim_der_certificate(&nv).unwrap(), der.as_slice(), "{name}");
            }
            // chain area with two certificates then padding
            let mut two = der.clone();
            two.extend_from_slice(&der);
            two.extend([0u8; 5]);
            assert_eq!(
                split_der_certificates(&two).unwrap(),
                vec![&der[..], &der[..]]
            );
        }
    }

    #[test]
    fn mutated_certificates_fail() {
        for name in REAL_EK_CERTS {
            let der = real_cert(name);
            // truncated
            let cut = &der[..der.len() - 1];
            assert!(matches!(
                trim_der_certificate(cut),
                Err(FormatError::Truncated { .. })
            ));
            // garbage after the certificate
            let mut junk = der.clone();
            junk.extend_from_slice(&[0, 0, 7, 0]);
            assert!(matches!(
                trim_der_certificate(&junk),
                Err(FormatError::TrailingBytes { .. })
            ));
            // wrong tag
            let mut tag = der.clone();
            tag[0] = 0x31;
            assert!(trim_der_certificate(&tag).is_err());
            // length made longer than the data
            let mut long = der.clone();
            long[3] = long[3].wrapping_add(1);
            assert!(trim_der_certificate(&long).is_err());
        }
    }

    #[test]
    fn header_edge_cases() {
        assert!(trim_der_certificate(&[]).is_err());
        assert!(trim_der_certificate(&[0x30]).is_err());
        assert_eq!(trim_der_certificate(&[0x30, 0x00]).unwrap(), &[0x30, 0x00]);
        // indefinite length and 5-byte lengths are refused
        assert!(trim_der_certificate(&[0x30, 0x80, 0, 0]).is_err());
        assert!(trim_der_certificate(&[0x30, 0x85, 0, 0, 0, 0, 1, 0]).is_err());
        // non-minimal length encodings are refused
        assert!(trim_der_certificate(&[0x30, 0x81, 0x01, 0]).is_err());
        assert!(trim_der_certificate(&[0x30, 0x82, 0x00, 0x01, 0]).is_err());
        // u32::MAX-ish length on a short input: truncated, not a panic
        assert!(trim_der_certificate(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(split_der_certificates(&[0xff; 8]).is_err());
    }
}
