//! The PCR files of tpm2-tools 5.4 (`tpm2_quote -o FILE`, read back by
//! `tpm2_checkquote -f FILE`).
//!
//! These are not TCG formats but dumps of the TSS's C structures (TCG TSS 2.0
//! Overview and Common Structures Specification, the `TPML_PCR_SELECTION`,
//! `TPML_DIGEST` and `TPM2B_DIGEST` C types, with TPM2_NUM_PCR_BANKS = 16,
//! TPM2_PCR_SELECT_MAX = 4, sizeof(TPMU_HA) = 64), made portable by tpm2-tools
//! writing every integer little-endian (tpm2-tools 5.4 `lib/pcr.c`
//! `pcr_fwrite_serialized` / `pcr_fwrite_values`). Studied on files written by
//! tpm2-tools 5.4 against swtpm 0.7.1.
//!
//! **`-F serialized` (the default in 5.4)** — what [`ToolsPcrFile`],
//! [`parse_tools_pcrs`] and [`write_tools_pcrs`] handle:
//!
//! ```text
//! offset  size        field
//! 0       4           selection count (u32 LE, 1..=16)
//! 4       16 × 8      TPMS_PCR_SELECTION C structs: hash (u16 LE), sizeofSelect (u8, 3 or 4),
//!                     pcrSelect[4], 1 padding byte; entries past count all zero
//! 132     4           number of TPML_DIGEST that follow (u32 LE, 1..=32)
//! 136     n × 532     TPML_DIGEST C structs: count (u32 LE, 0..=8), then 8 × TPM2B_DIGEST C structs
//!                     of size (u16 LE) + buffer[64]; unused bytes zero
//! ```
//!
//! The digests, read list after list, are the selected PCRs in TPM order
//! (banks as listed, ascending index). Each list is what one TPM2_PCR_Read
//! returned (at most 8 digests), so tpm2_quote fills lists of 8 and a final
//! partial one; this parser accepts any split and keeps it so that
//! [`ToolsPcrFile::to_bytes`] reproduces the file, while
//! [`ToolsPcrFile::new`] splits like tpm2_quote does. Every padding and unused
//! byte must be zero (tpm2-tools writes zeroed structures; a file in which they
//! are not was not produced by it or was altered).
//!
//! **`-F values`** — [`parse_tools_pcr_values`] and [`write_tools_pcr_values`]:
//! the selected digests concatenated in TPM order, nothing else; the selection
//! must come from elsewhere (`tpm2_checkquote -l`). Note: tpm2_checkquote 5.4
//! mis-reads this form when a selection has more than 7 PCRs (its reader drops
//! every 8th digest), so use the serialized form with tpm2_checkquote.

use crate::error::FormatError;
use crate::hash::HashAlg;
use crate::reader::{Reader, Writer};
use crate::tpm::limits;
use crate::tpm::pcr::{PcrSelection, PcrSelectionList, PcrValues};

/// Digests per TPML_DIGEST.
const DIGESTS_PER_LIST: usize = 8;
/// sizeof(TPMU_HA): the TPM2B_DIGEST buffer.
const DIGEST_BUFFER: usize = 64;
/// TPM2_MAX_PCRS: TPML_DIGEST structs tpm2-tools keeps.
const MAX_LISTS: usize = 32;

/// A `tpm2_quote -o` file in the default serialized form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolsPcrFile {
    selection: PcrSelectionList,
    values: PcrValues,
    /// Number of digests in each TPML_DIGEST, in file order.
    lists: Vec<usize>,
}

impl ToolsPcrFile {
    /// The file tpm2_quote would write for `selection` with these values
    /// (lists of 8 digests and a final partial one). Every selected PCR needs
    /// a value.
    pub fn new(values: &PcrValues, selection: &PcrSelectionList) -> Result<Self, FormatError> {
        values.selected(selection)?;
        let n = selection.pcr_count();
        let mut lists = vec![DIGESTS_PER_LIST; n / DIGESTS_PER_LIST];
        if n % DIGESTS_PER_LIST != 0 || n == 0 {
            lists.push(n % DIGESTS_PER_LIST);
        }
        if lists.len() > MAX_LISTS {
            return Err(FormatError::TooLarge {
                field: "tpm2-tools PCR file: digest lists",
                size: lists.len(),
                max: MAX_LISTS,
            });
        }
        Ok(Self {
            selection: selection.clone(),
            values: values.restricted_to(selection),
            lists,
        })
    }

    /// Parses a complete serialized file.
    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        let mut r = Reader::new(bytes);
        let selection = read_selection(&mut r)?;

        let n_lists = usize::try_from(r.u32_le("tpm2-tools PCR file: digest list count")?)
            .unwrap_or(usize::MAX);
        if n_lists == 0 || n_lists > MAX_LISTS {
            return Err(FormatError::unexpected(
                "tpm2-tools PCR file: digest list count",
                format_args!("1..={MAX_LISTS}"),
                n_lists,
            ));
        }
        let mut digests: Vec<&[u8]> = Vec::new();
        let mut lists = Vec::with_capacity(n_lists);
        for _ in 0..n_lists {
            let count = usize::try_from(r.u32_le("TPML_DIGEST.count")?).unwrap_or(usize::MAX);
            if count > DIGESTS_PER_LIST {
                return Err(FormatError::TooLarge {
                    field: "TPML_DIGEST.count",
                    size: count,
                    max: DIGESTS_PER_LIST,
                });
            }
            for slot in 0..DIGESTS_PER_LIST {
                let size = usize::from(r.u16_le("TPM2B_DIGEST.size")?);
                let buffer = r.take(DIGEST_BUFFER, "TPM2B_DIGEST.buffer")?;
                if slot >= count {
                    if size != 0 || !all_zero(buffer) {
                        return Err(FormatError::unexpected(
                            "tpm2-tools PCR file: unused TPM2B_DIGEST",
                            "all zero",
                            "non-zero bytes",
                        ));
                    }
                    continue;
                }
                let (digest, tail) =
                    buffer.split_at_checked(size).ok_or(FormatError::TooLarge {
                        field: "TPM2B_DIGEST.size",
                        size,
                        max: DIGEST_BUFFER,
                    })?;
                if !all_zero(tail) {
                    return Err(FormatError::unexpected(
                        "TPM2B_DIGEST.buffer",
                        "zero bytes after the digest",
                        "non-zero bytes",
                    ));
                }
                digests.push(digest);
            }
            lists.push(count);
        }
        r.finish("tpm2-tools PCR file")?;

        let expected = selection.pcr_count();
        if digests.len() != expected {
            return Err(FormatError::unexpected(
                "tpm2-tools PCR file: digests",
                format_args!("{expected} (one per PCR selected by {selection})"),
                digests.len(),
            ));
        }
        let mut values = PcrValues::new();
        for ((hash, index), digest) in selection.pcrs().zip(digests) {
            values.insert(hash, index, digest)?;
        }
        Ok(Self {
            selection,
            values,
            lists,
        })
    }

    /// The serialized file (identical to the parsed bytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        write_selection(&mut w, &self.selection);
        w.u32_le(u32::try_from(self.lists.len()).unwrap_or(u32::MAX));
        let mut pcrs = self.selection.pcrs();
        for &count in &self.lists {
            w.u32_le(u32::try_from(count).unwrap_or(u32::MAX));
            for slot in 0..DIGESTS_PER_LIST {
                let value = if slot < count {
                    pcrs.next().and_then(|(h, i)| self.values.get(h, i))
                } else {
                    None
                };
                let value = value.unwrap_or_default();
                w.u16_le(u16::try_from(value.len()).unwrap_or(u16::MAX));
                w.bytes(value);
                w.bytes(&vec![0u8; DIGEST_BUFFER.saturating_sub(value.len())]);
            }
        }
        w.into_vec()
    }

    /// The selection stored in the file.
    pub fn selection(&self) -> &PcrSelectionList {
        &self.selection
    }

    /// The PCR values.
    pub fn values(&self) -> &PcrValues {
        &self.values
    }

    /// The PCR values, consuming the file.
    pub fn into_values(self) -> PcrValues {
        self.values
    }
}

/// Parses a `tpm2_quote -o` file (default serialized form) and requires that
/// its selection is `expected` (normally the quote's own `pcrSelect`).
pub fn parse_tools_pcrs(
    bytes: &[u8],
    expected: &PcrSelectionList,
) -> Result<PcrValues, FormatError> {
    let file = ToolsPcrFile::parse(bytes)?;
    if !file.selection.same_pcrs(expected) {
        return Err(FormatError::unexpected(
            "tpm2-tools PCR file: selection",
            expected,
            &file.selection,
        ));
    }
    Ok(file.into_values())
}

/// Writes the file tpm2_quote would write (serialized form) for `selection`;
/// tpm2_checkquote `-f` accepts it. Every selected PCR needs a value.
pub fn write_tools_pcrs(
    values: &PcrValues,
    selection: &PcrSelectionList,
) -> Result<Vec<u8>, FormatError> {
    Ok(ToolsPcrFile::new(values, selection)?.to_bytes())
}

/// Parses a `tpm2_quote -F values` file: the digests of `selection`,
/// concatenated in TPM order.
pub fn parse_tools_pcr_values(
    bytes: &[u8],
    selection: &PcrSelectionList,
) -> Result<PcrValues, FormatError> {
    let mut r = Reader::new(bytes);
    let mut values = PcrValues::new();
    for (hash, index) in selection.pcrs() {
        values.insert(hash, index, r.take(hash.size(), "tpm2-tools PCR values")?)?;
    }
    r.finish("tpm2-tools PCR values")?;
    Ok(values)
}

/// Writes a `-F values` file for `selection`. Every selected PCR needs a value.
pub fn write_tools_pcr_values(
    values: &PcrValues,
    selection: &PcrSelectionList,
) -> Result<Vec<u8>, FormatError> {
    Ok(values.selected(selection)?.concat())
}

fn all_zero(b: &[u8]) -> bool {
    b.iter().all(|&x| x == 0)
}

fn read_selection(r: &mut Reader<'_>) -> Result<PcrSelectionList, FormatError> {
    let count =
        usize::try_from(r.u32_le("tpm2-tools PCR file: selection count")?).unwrap_or(usize::MAX);
    if count == 0 || count > limits::PCR_BANKS {
        return Err(FormatError::unexpected(
            "tpm2-tools PCR file: selection count",
            format_args!("1..={}", limits::PCR_BANKS),
            count,
        ));
    }
    let mut banks = Vec::with_capacity(count);
    for slot in 0..limits::PCR_BANKS {
        let entry: [u8; 8] = r.array("tpm2-tools PCR file: TPMS_PCR_SELECTION")?;
        if slot >= count {
            if entry != [0u8; 8] {
                return Err(FormatError::unexpected(
                    "tpm2-tools PCR file: unused TPMS_PCR_SELECTION",
                    "all zero",
                    hex::encode(entry),
                ));
            }
            continue;
        }
        let [h0, h1, size, s0, s1, s2, s3, pad] = entry;
        let hash = HashAlg::from_alg_id(
            u16::from_le_bytes([h0, h1]),
            "tpm2-tools PCR file: selection hash",
        )?;
        let select = [s0, s1, s2, s3];
        let size = usize::from(size);
        let (used, unused) = select.split_at_checked(size).ok_or_else(|| {
            FormatError::unexpected(
                "TPMS_PCR_SELECTION.sizeofSelect",
                format_args!("{}..={}", limits::PCR_SELECT_MIN, limits::PCR_SELECT_MAX),
                size,
            )
        })?;
        if !all_zero(unused) || pad != 0 {
            return Err(FormatError::unexpected(
                "tpm2-tools PCR file: TPMS_PCR_SELECTION",
                "zero bytes after pcrSelect[sizeofSelect]",
                hex::encode(entry),
            ));
        }
        banks.push(PcrSelection::from_bitmap(hash, used)?);
    }
    PcrSelectionList::from_selections(banks)
}

fn write_selection(w: &mut Writer, selection: &PcrSelectionList) {
    w.u32_le(u32::try_from(selection.banks().len()).unwrap_or(u32::MAX));
    for slot in 0..limits::PCR_BANKS {
        match selection.banks().get(slot) {
            Some(b) => {
                // pcrSelect[4] then one padding byte; bitmaps hold 3 or 4 bytes.
                let mut select = [0u8; 5];
                for (dst, src) in select.iter_mut().zip(b.bitmap()) {
                    *dst = *src;
                }
                w.u16_le(b.hash().alg_id())
                    .u8(u8::try_from(b.bitmap().len()).unwrap_or(u8::MAX))
                    .bytes(&select);
            }
            None => {
                w.bytes(&[0u8; 8]);
            }
        }
    }
}
