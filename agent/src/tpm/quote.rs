//! Quotes, PCR reads and PCR extends.
//!
//! * TPM2_Quote (TCG TPM 2.0 Library Part 3 rev. 1.59 §18.4) signs a
//!   TPMS_ATTEST (Part 2 §10.12.12, Table 134) whose TPMS_QUOTE_INFO (Table
//!   128) holds the PCR selection and `pcrDigest` = H(selected PCR values in
//!   selection order), H being the hash of the signing scheme. The attest
//!   bytes are returned marshalled, as the TPM signed them (`tpm2_quote -m`),
//!   with the TPMT_SIGNATURE (Part 2 §11.3.4, Table 199; `tpm2_quote -s`).
//! * TPM2_PCR_Read (Part 3 §22.4) returns at most 8 digests per call, so the
//!   selection is read in as many calls as needed; all calls must report the
//!   same `pcrUpdateCounter`, else the read starts over.
//! * The values returned with a quote are the ones it covers: after quoting,
//!   the PCRs are read and their digest compared with the quote's
//!   `pcrDigest`; on a difference (a PCR was extended in between) the quote is
//!   taken again, up to [`QUOTE_ATTEMPTS`] times.
//! * Before returning, the TPM itself checks the signature over the
//!   re-marshalled TPMS_ATTEST (TPM2_VerifySignature, Part 3 §20.1), so bytes
//!   that tss-esapi's parse/marshal round trip altered are never sent.

use super::ak::AkState;
use super::pcr::{BankSelection, PcrSelection, PcrValues};
use super::pcr_tss::{masks_from_tss, tss_list};
use super::{rc, TpmBackend};
use crate::evidence::AgentError;
use sealbuild_common::HashAlg;
use std::collections::BTreeMap;
use tss_esapi::handles::{KeyHandle, PcrHandle, PersistentTpmHandle, TpmHandle};
use tss_esapi::interface_types::algorithm::HashingAlgorithm;
use tss_esapi::interface_types::session_handles::AuthSession;
use tss_esapi::structures::{
    AttestInfo, Data, Digest, DigestValues, HashScheme, Public, RsaScheme, Signature,
    SignatureScheme,
};
use tss_esapi::traits::Marshall;

/// How often a quote is retaken when PCRs change underneath it.
pub const QUOTE_ATTEMPTS: u32 = 5;
/// How often a multi-call PCR read is restarted when pcrUpdateCounter moves.
const READ_ATTEMPTS: u32 = 5;
/// Largest qualifying data TPM2_Quote accepts (TPM2B_DATA, sizeof(TPMT_HA)
/// for SHA-512 = 66; tss-esapi limits it to 64).
pub const MAX_QUALIFYING_DATA: usize = Data::MAX_SIZE;

/// A quote and the PCR values it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteOutput {
    /// TPMS_ATTEST, marshalled (the signed message).
    pub attest: Vec<u8>,
    /// TPMT_SIGNATURE, marshalled.
    pub signature: Vec<u8>,
    /// The PCR values the quote's pcrDigest covers.
    pub pcrs: PcrValues,
}

pub(crate) fn hashing_algorithm(alg: HashAlg) -> HashingAlgorithm {
    match alg {
        HashAlg::Sha1 => HashingAlgorithm::Sha1,
        HashAlg::Sha256 => HashingAlgorithm::Sha256,
        HashAlg::Sha384 => HashingAlgorithm::Sha384,
        HashAlg::Sha512 => HashingAlgorithm::Sha512,
    }
}

fn hash_alg_of(h: HashingAlgorithm) -> Option<HashAlg> {
    match h {
        HashingAlgorithm::Sha1 => Some(HashAlg::Sha1),
        HashingAlgorithm::Sha256 => Some(HashAlg::Sha256),
        HashingAlgorithm::Sha384 => Some(HashAlg::Sha384),
        HashingAlgorithm::Sha512 => Some(HashAlg::Sha512),
        _ => None,
    }
}

/// `qualifying_data` as TPM2B_DATA (at most [`MAX_QUALIFYING_DATA`] bytes).
fn qualifying(qualifying_data: &[u8]) -> Result<Data, AgentError> {
    Data::try_from(qualifying_data.to_vec()).map_err(|_| AgentError::InvalidArgument {
        what: "qualifying data",
        reason: format!(
            "{} bytes, at most {MAX_QUALIFYING_DATA} allowed",
            qualifying_data.len()
        ),
    })
}

fn signature_hash(sig: &Signature) -> Result<HashAlg, AgentError> {
    let h = match sig {
        Signature::RsaSsa(s) | Signature::RsaPss(s) => s.hashing_algorithm(),
        Signature::EcDsa(s) | Signature::EcDaa(s) | Signature::Sm2(s) | Signature::EcSchnorr(s) => {
            s.hashing_algorithm()
        }
        Signature::Hmac(_) | Signature::Null => {
            return Err(AgentError::UnexpectedResponse {
                command: "Quote",
                reason: format!("signature of type {:?}", sig.algorithm()),
            })
        }
    };
    hash_alg_of(h).ok_or_else(|| AgentError::UnexpectedResponse {
        command: "Quote",
        reason: format!("signature hash {h:?} is not supported"),
    })
}

impl TpmBackend {
    /// Quotes `selection` with the AK, `qualifying_data` as extraData (at
    /// most [`MAX_QUALIFYING_DATA`] bytes), and returns the quote with the PCR
    /// values it covers. EK, AK and sessions are flushed on every path.
    pub fn quote(
        &mut self,
        ak: &AkState,
        qualifying_data: &[u8],
        selection: &PcrSelection,
    ) -> Result<QuoteOutput, AgentError> {
        let data = qualifying(qualifying_data)?;
        let tss_selection = selection.to_tss()?;
        self.with_ak(ak, |s, _ek, key| {
            s.quote_retrying(key, &data, &tss_selection, selection, SignatureScheme::Null)
        })
    }

    /// Quotes like [`Self::quote`] with the key persistent at `handle`
    /// (TPM_HT_PERSISTENT, 0x81xxxxxx; e.g. the Azure vTPM AK at
    /// 0x81000003) and an empty authorization; returns the quote and the
    /// key's TPM2B_PUBLIC. An RSA key without a scheme of its own signs with
    /// RSASSA-PKCS1-v1_5 SHA-256. The key stays persistent; only the ESYS
    /// handle is closed.
    pub fn quote_persistent(
        &mut self,
        handle: u32,
        qualifying_data: &[u8],
        selection: &PcrSelection,
    ) -> Result<(QuoteOutput, Vec<u8>), AgentError> {
        let data = qualifying(qualifying_data)?;
        let tss_selection = selection.to_tss()?;
        self.with_persistent(handle, |s, key| {
            let (public, _, _) = s
                .ctx
                .execute_without_session(|c| c.read_public(key))
                .map_err(rc::cmd("ReadPublic"))?;
            let scheme = match &public {
                Public::Rsa { parameters, .. } if parameters.rsa_scheme() == RsaScheme::Null => {
                    SignatureScheme::RsaSsa {
                        hash_scheme: HashScheme::new(HashingAlgorithm::Sha256),
                    }
                }
                _ => SignatureScheme::Null,
            };
            let out = s.quote_retrying(key, &data, &tss_selection, selection, scheme)?;
            let (public, _) = s.public_and_name(key)?;
            Ok((out, public))
        })
    }

    /// Runs `f` with the persistent object at `handle`; closes the ESYS
    /// handle afterwards (host memory only: the object stays in the TPM).
    fn with_persistent<T>(
        &mut self,
        handle: u32,
        f: impl FnOnce(&mut Self, KeyHandle) -> Result<T, AgentError>,
    ) -> Result<T, AgentError> {
        let persistent =
            PersistentTpmHandle::new(handle).map_err(|_| AgentError::InvalidArgument {
                what: "persistent handle",
                reason: format!(
                    "{handle:#010x} is not in the persistent range 0x81000000-0x81ffffff"
                ),
            })?;
        if !self.handles_from(handle)?.contains(&handle) {
            return Err(AgentError::UnexpectedResponse {
                command: "GetCapability",
                reason: format!("no persistent object at {handle:#010x}"),
            });
        }
        let mut object = self
            .ctx
            .execute_without_session(|c| c.tr_from_tpm_public(TpmHandle::Persistent(persistent)))
            .map_err(rc::cmd("ReadPublic"))?;
        let result = f(self, KeyHandle::from(object));
        if let Err(e) = self.ctx.tr_close(&mut object) {
            tracing::warn!(
                "closing the ESYS handle of persistent object {handle:#010x}: {}",
                rc::describe(&e)
            );
        }
        result
    }

    /// Quotes until the PCR values read afterwards match the quote, at most
    /// [`QUOTE_ATTEMPTS`] times.
    fn quote_retrying(
        &mut self,
        key: KeyHandle,
        data: &Data,
        tss_selection: &tss_esapi::structures::PcrSelectionList,
        selection: &PcrSelection,
        scheme: SignatureScheme,
    ) -> Result<QuoteOutput, AgentError> {
        let mut last = (String::new(), String::new());
        for attempt in 1..=QUOTE_ATTEMPTS {
            match self.quote_once(key, data, tss_selection, selection, scheme)? {
                Ok(out) => return Ok(out),
                Err((quoted, read)) => {
                    tracing::warn!(
                        "PCRs changed while quoting (attempt {attempt}/{QUOTE_ATTEMPTS}): quote pcrDigest {quoted}, values read hash to {read}"
                    );
                    last = (quoted, read);
                }
            }
        }
        Err(AgentError::PcrsUnstable {
            attempts: QUOTE_ATTEMPTS,
            quoted: last.0,
            read: last.1,
        })
    }

    /// One quote. The inner `Err` carries (quoted, read) digests in hex when
    /// the PCRs changed between quote and read.
    #[allow(clippy::type_complexity)]
    fn quote_once(
        &mut self,
        key: KeyHandle,
        data: &Data,
        tss_selection: &tss_esapi::structures::PcrSelectionList,
        selection: &PcrSelection,
        scheme: SignatureScheme,
    ) -> Result<Result<QuoteOutput, (String, String)>, AgentError> {
        let (attest, signature) = self
            .ctx
            .execute_with_session(Some(AuthSession::Password), |c| {
                c.quote(key, data.clone(), scheme, tss_selection.clone())
            })
            .map_err(rc::cmd("Quote"))?;
        let unexpected = |reason: String| AgentError::UnexpectedResponse {
            command: "Quote",
            reason,
        };
        if attest.extra_data().value() != data.value() {
            return Err(unexpected(format!(
                "extraData {} instead of the qualifying data {}",
                hex::encode(attest.extra_data().value()),
                hex::encode(data.value())
            )));
        }
        let AttestInfo::Quote { info } = attest.attested() else {
            return Err(unexpected(format!(
                "attestation type {:?} instead of a quote",
                attest.attestation_type()
            )));
        };
        let quoted = masks_from_tss(info.pcr_selection(), "Quote")?;
        if quoted != selection.banks() {
            // Most likely an unallocated bank: PCR_Read says which.
            self.read_pcrs(selection)?;
            return Err(unexpected(format!(
                "the quote covers {} instead of {selection}",
                describe_masks(&quoted)
            )));
        }
        let hash = signature_hash(&signature)?;
        let attest_bytes = attest
            .marshall()
            .map_err(rc::cmd("Quote (marshalling TPMS_ATTEST)"))?;
        let signature_bytes = signature
            .marshall()
            .map_err(rc::cmd("Quote (marshalling TPMT_SIGNATURE)"))?;

        let pcrs = self.read_pcrs(selection)?;
        let read = pcrs.composite_digest(hash);
        if read.as_slice() != info.pcr_digest().value() {
            return Ok(Err((
                hex::encode(info.pcr_digest().value()),
                hex::encode(read),
            )));
        }

        let digest = Digest::try_from(hash.digest(&attest_bytes))
            .map_err(rc::cmd("VerifySignature (digest)"))?;
        self.ctx
            .execute_without_session(|c| c.verify_signature(key, digest, signature))
            .map_err(|e| AgentError::QuoteSelfCheck {
                detail: rc::describe(&e),
            })?;
        Ok(Ok(QuoteOutput {
            attest: attest_bytes,
            signature: signature_bytes,
            pcrs,
        }))
    }

    /// Reads the selected PCRs (several TPM2_PCR_Read calls when more than 8
    /// are selected, all at the same pcrUpdateCounter).
    pub fn read_pcrs(&mut self, selection: &PcrSelection) -> Result<PcrValues, AgentError> {
        for attempt in 1..=READ_ATTEMPTS {
            if let Some(values) = self.read_pcrs_once(selection)? {
                return Ok(values);
            }
            tracing::debug!("pcrUpdateCounter changed during a PCR read (attempt {attempt})");
        }
        Err(AgentError::UnexpectedResponse {
            command: "PCR_Read",
            reason: format!(
                "pcrUpdateCounter changed during each of {READ_ATTEMPTS} reads of {selection}"
            ),
        })
    }

    fn read_pcrs_once(
        &mut self,
        selection: &PcrSelection,
    ) -> Result<Option<PcrValues>, AgentError> {
        let unexpected = |reason: String| AgentError::UnexpectedResponse {
            command: "PCR_Read",
            reason,
        };
        let mut remaining: Vec<BankSelection> = selection.banks().to_vec();
        let mut got: BTreeMap<(HashAlg, u32), Vec<u8>> = BTreeMap::new();
        let mut counter: Option<u32> = None;
        while remaining.iter().any(|b| b.mask != 0) {
            let request: Vec<BankSelection> =
                remaining.iter().copied().filter(|b| b.mask != 0).collect();
            let list = tss_list(&request, &describe_masks(&request))?;
            let (update_counter, out_selection, digests) = self
                .ctx
                .execute_without_session(|c| c.pcr_read(list))
                .map_err(rc::cmd("PCR_Read"))?;
            if counter.is_some_and(|c| c != update_counter) {
                return Ok(None);
            }
            counter = Some(update_counter);
            let out = masks_from_tss(&out_selection, "PCR_Read")?;
            let mut values = digests.value().iter();
            let mut progress = 0usize;
            for bank in &out {
                for index in bank.indices() {
                    let digest = values.next().ok_or_else(|| {
                        unexpected(format!(
                            "fewer digests ({}) than PCRs in pcrSelectionOut ({})",
                            digests.len(),
                            describe_masks(&out)
                        ))
                    })?;
                    let slot = remaining
                        .iter_mut()
                        .find(|r| r.alg == bank.alg && r.mask & (1 << index) != 0)
                        .ok_or_else(|| {
                            unexpected(format!(
                                "returned {}:{index}, which was not asked for",
                                bank.alg
                            ))
                        })?;
                    slot.mask &= !(1 << index);
                    if digest.value().len() != bank.alg.size() {
                        return Err(unexpected(format!(
                            "{}:{index} is {} bytes, expected {}",
                            bank.alg,
                            digest.value().len(),
                            bank.alg.size()
                        )));
                    }
                    got.insert((bank.alg, index), digest.value().to_vec());
                    progress += 1;
                }
            }
            if values.next().is_some() {
                return Err(unexpected(format!(
                    "more digests ({}) than PCRs in pcrSelectionOut ({})",
                    digests.len(),
                    describe_masks(&out)
                )));
            }
            if progress == 0 {
                let missing: Vec<BankSelection> =
                    remaining.iter().copied().filter(|b| b.mask != 0).collect();
                let bank = missing
                    .first()
                    .map(|b| b.alg.to_string())
                    .unwrap_or_default();
                return Err(AgentError::PcrBankNotAllocated {
                    bank,
                    missing: describe_masks(&missing),
                });
            }
        }
        let digests = selection
            .iter()
            .map(|(alg, index)| {
                got.remove(&(alg, index))
                    .ok_or_else(|| unexpected(format!("{alg}:{index} was never returned")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        PcrValues::new(selection.clone(), digests).map(Some)
    }

    /// TPM2_PCR_Extend of PCR `pcr` with one digest per bank (banks not
    /// listed are not extended). For tests and simulated measured boot.
    pub fn extend_pcr(&mut self, pcr: u32, digests: &[(HashAlg, &[u8])]) -> Result<(), AgentError> {
        let bad = |reason: String| AgentError::InvalidArgument {
            what: "PCR extend",
            reason,
        };
        if pcr >= super::pcr::PCR_COUNT {
            return Err(bad(format!("PCR {pcr} is not in 0..23")));
        }
        if digests.is_empty() {
            return Err(bad("no digest given".into()));
        }
        let mut values = DigestValues::new();
        for (i, (alg, d)) in digests.iter().enumerate() {
            if d.len() != alg.size() {
                return Err(bad(format!(
                    "{alg} digest is {} bytes, expected {}",
                    d.len(),
                    alg.size()
                )));
            }
            if digests.iter().take(i).any(|(a, _)| a == alg) {
                return Err(bad(format!("{alg} given twice")));
            }
            let digest = Digest::try_from(d.to_vec()).map_err(rc::cmd("PCR_Extend (digest)"))?;
            values.set(hashing_algorithm(*alg), digest);
        }
        let handle = PcrHandle::try_from(tss_esapi::tss2_esys::ESYS_TR_PCR0 + pcr)
            .map_err(rc::cmd("PCR_Extend (PCR handle)"))?;
        self.ctx
            .execute_with_session(Some(AuthSession::Password), |c| {
                c.pcr_extend(handle, values)
            })
            .map_err(rc::cmd("PCR_Extend"))
    }

    /// TPM2_PCR_Reset. The PC Client Platform TPM Profile (PTP) 1.05, Table
    /// "PCR Attributes", lets software at locality 0 reset only PCR 16
    /// (debug) and PCR 23 (application support); other PCRs refuse.
    pub fn reset_pcr(&mut self, pcr: u32) -> Result<(), AgentError> {
        if pcr >= super::pcr::PCR_COUNT {
            return Err(AgentError::InvalidArgument {
                what: "PCR reset",
                reason: format!("PCR {pcr} is not in 0..23"),
            });
        }
        let handle = PcrHandle::try_from(tss_esapi::tss2_esys::ESYS_TR_PCR0 + pcr)
            .map_err(rc::cmd("PCR_Reset (PCR handle)"))?;
        self.ctx
            .execute_with_session(Some(AuthSession::Password), |c| c.pcr_reset(handle))
            .map_err(rc::cmd("PCR_Reset"))
    }
}

fn describe_masks(banks: &[BankSelection]) -> String {
    let parts: Vec<String> = banks
        .iter()
        .map(|b| {
            let list: Vec<String> = b.indices().map(|i| i.to_string()).collect();
            format!("{}:{}", b.alg, list.join(","))
        })
        .collect();
    if parts.is_empty() {
        "nothing".into()
    } else {
        parts.join("+")
    }
}
