//! PCR selections in tss-esapi's form (TPML_PCR_SELECTION, TCG TPM 2.0
//! Library Part 2 rev. 1.59 §10.9.7): the conversions the ESAPI commands
//! need, kept apart from the selection syntax so that parsing works without
//! the `tpm` feature.

use super::pcr::{BankSelection, PcrSelection, SIZE_OF_SELECT};
use crate::evidence::AgentError;
use sealbuild_common::HashAlg;
use tss_esapi::structures::PcrSelectionList;
use tss_esapi::tss2_esys::{TPML_PCR_SELECTION, TPMS_PCR_SELECTION};

impl PcrSelection {
    /// The tss-esapi form, banks in this order. (tss-esapi's builder keeps
    /// banks in a hash map and would reorder them.)
    pub(crate) fn to_tss(&self) -> Result<PcrSelectionList, AgentError> {
        tss_list(self.banks(), &self.to_string())
    }
}

/// The TPML_PCR_SELECTION C structure of `banks`, in this order (at most 16
/// banks are used; there are only 4 hash algorithms).
fn tpml_of(banks: &[BankSelection]) -> TPML_PCR_SELECTION {
    let mut tpml = TPML_PCR_SELECTION::default();
    let mut count = 0u32;
    for (slot, b) in tpml.pcrSelections.iter_mut().zip(banks) {
        *slot = TPMS_PCR_SELECTION {
            hash: b.alg.alg_id(),
            sizeofSelect: SIZE_OF_SELECT,
            pcrSelect: b.mask.to_le_bytes(),
        };
        count += 1;
    }
    tpml.count = count;
    tpml
}

/// `banks` as a tss-esapi selection list, order kept. `input` names the
/// selection in errors.
pub(crate) fn tss_list(
    banks: &[BankSelection],
    input: &str,
) -> Result<PcrSelectionList, AgentError> {
    PcrSelectionList::try_from(tpml_of(banks)).map_err(|e| AgentError::PcrSelection {
        input: input.to_string(),
        reason: format!("rejected by tss-esapi: {}", super::rc::describe(&e)),
    })
}

/// Reads a tss-esapi selection list (from a TPM response) as (bank, mask)
/// pairs in order, keeping banks with nothing selected.
pub(crate) fn masks_from_tss(
    list: &PcrSelectionList,
    command: &'static str,
) -> Result<Vec<BankSelection>, AgentError> {
    let tpml = TPML_PCR_SELECTION::from(list.clone());
    let count = usize::try_from(tpml.count).unwrap_or(usize::MAX);
    let Some(sels) = tpml.pcrSelections.get(..count) else {
        return Err(AgentError::UnexpectedResponse {
            command,
            reason: format!("TPML_PCR_SELECTION count {count} exceeds 16"),
        });
    };
    sels.iter()
        .map(|s| {
            let alg = HashAlg::from_alg_id(s.hash, "TPMS_PCR_SELECTION.hash").map_err(|e| {
                AgentError::UnexpectedResponse {
                    command,
                    reason: e.to_string(),
                }
            })?;
            let size = usize::from(s.sizeofSelect).min(4);
            let mut bytes = [0u8; 4];
            for (d, src) in bytes.iter_mut().zip(s.pcrSelect.iter()).take(size) {
                *d = *src;
            }
            Ok(BankSelection {
                alg,
                mask: u32::from_le_bytes(bytes),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tpml_round_trip_keeps_order() {
        let s: PcrSelection = "sha1:1+sha512:23+sha256:0,8,16".parse().unwrap();
        let list = s.to_tss().unwrap();
        let back = masks_from_tss(&list, "test").unwrap();
        assert_eq!(back, s.banks());
    }
}
