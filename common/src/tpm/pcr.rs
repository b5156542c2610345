//! PCR selections and PCR composite digests.
//!
//! * TPMS_PCR_SELECTION — TCG TPM 2.0 Library Part 2 rev. 1.59, Table 94:
//!   `hash` (TPMI_ALG_HASH), `sizeofSelect` (UINT8, at least PCR_SELECT_MIN),
//!   `pcrSelect[sizeofSelect]`; bit `i % 8` of byte `i / 8` selects PCR `i`.
//! * TPML_PCR_SELECTION — Part 2, Table 112: UINT32 `count` (at most
//!   HASH_COUNT) followed by that many TPMS_PCR_SELECTION.
//! * The quote's `pcrDigest` — Part 3 rev. 1.59, TPM2_Quote (§18.4), and the
//!   PCR composite of Part 1 clause "PCR Operations": the digest, with the
//!   signing scheme's hash, of the concatenated PCR values in selection order:
//!   banks in the order of the list, PCRs in ascending index within a bank.
//! * The tpm2-tools text form `sha256:0,1,2+sha1:0,7` (tpm2-tools man page
//!   "PCR bank specifiers"), used by command-line tools.
//!
//! This implementation accepts at most 32 PCRs per bank (sizeofSelect ≤ 4, the
//! TSS's PCR_SELECT_MAX), at most 16 banks, and rejects a bank listed twice.

use std::collections::BTreeMap;
use std::fmt;

use crate::error::FormatError;
use crate::hash::HashAlg;
use crate::reader::{Reader, Writer};
use crate::tpm::limits;

/// The highest PCR index representable with sizeofSelect = PCR_SELECT_MAX.
const MAX_PCR_INDEX: u32 = (limits::PCR_SELECT_MAX as u32) * 8 - 1;

/// TPMS_PCR_SELECTION: one bank and a bitmap of its PCRs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcrSelection {
    hash: HashAlg,
    /// `pcrSelect`, `sizeofSelect` bytes (3 or 4).
    select: Vec<u8>,
}

impl PcrSelection {
    /// Builds a selection of `indices` in bank `hash`. The bitmap is 3 bytes
    /// (PCR 0–23) unless an index ≥ 24 needs a fourth. Indices ≥ 32 are refused;
    /// repeated indices select the PCR once.
    pub fn new(hash: HashAlg, indices: &[u32]) -> Result<Self, FormatError> {
        let mut select = vec![0u8; limits::PCR_SELECT_MIN];
        for &i in indices {
            if i > MAX_PCR_INDEX {
                return Err(FormatError::unexpected(
                    "PCR index",
                    format_args!("0..={MAX_PCR_INDEX}"),
                    i,
                ));
            }
            let byte = (i / 8) as usize;
            if byte >= select.len() {
                select.resize(byte + 1, 0);
            }
            if let Some(b) = select.get_mut(byte) {
                *b |= 1u8 << (i % 8);
            }
        }
        Ok(Self { hash, select })
    }

    /// Builds a selection from a raw bitmap (`sizeofSelect` = `select.len()`).
    pub fn from_bitmap(hash: HashAlg, select: &[u8]) -> Result<Self, FormatError> {
        check_select_size(select.len())?;
        Ok(Self {
            hash,
            select: select.to_vec(),
        })
    }

    /// Reads one TPMS_PCR_SELECTION from `r`.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, FormatError> {
        let hash = HashAlg::from_alg_id(
            r.u16_be("TPMS_PCR_SELECTION.hash")?,
            "TPMS_PCR_SELECTION.hash",
        )?;
        let size = usize::from(r.u8("TPMS_PCR_SELECTION.sizeofSelect")?);
        check_select_size(size)?;
        let select = r.take(size, "TPMS_PCR_SELECTION.pcrSelect")?.to_vec();
        Ok(Self { hash, select })
    }

    /// Appends the TPMS_PCR_SELECTION encoding.
    pub fn write(&self, w: &mut Writer) {
        w.u16_be(self.hash.alg_id());
        // `select` holds 3 or 4 bytes (checked by every constructor).
        w.u8(u8::try_from(self.select.len()).unwrap_or(u8::MAX));
        w.bytes(&self.select);
    }

    /// The bank.
    pub fn hash(&self) -> HashAlg {
        self.hash
    }

    /// The `pcrSelect` bitmap (`sizeofSelect` bytes).
    pub fn bitmap(&self) -> &[u8] {
        &self.select
    }

    /// Selected PCR indices, ascending.
    pub fn indices(&self) -> impl Iterator<Item = u32> + '_ {
        self.select.iter().zip(0u32..).flat_map(|(&byte, n)| {
            (0u32..8)
                .filter(move |bit| byte & (1u8 << bit) != 0)
                .map(move |bit| n * 8 + bit)
        })
    }

    /// True when `index` is selected.
    pub fn contains(&self, index: u32) -> bool {
        let byte = usize::try_from(index / 8)
            .ok()
            .and_then(|b| self.select.get(b));
        byte.is_some_and(|b| b & (1u8 << (index % 8)) != 0)
    }

    /// Number of selected PCRs.
    pub fn len(&self) -> usize {
        self.select.iter().map(|b| b.count_ones() as usize).sum()
    }

    /// True when no PCR of the bank is selected.
    pub fn is_empty(&self) -> bool {
        self.select.iter().all(|&b| b == 0)
    }
}

fn check_select_size(size: usize) -> Result<(), FormatError> {
    if (limits::PCR_SELECT_MIN..=limits::PCR_SELECT_MAX).contains(&size) {
        Ok(())
    } else {
        Err(FormatError::unexpected(
            "TPMS_PCR_SELECTION.sizeofSelect",
            format_args!("{}..={}", limits::PCR_SELECT_MIN, limits::PCR_SELECT_MAX),
            size,
        ))
    }
}

/// TPML_PCR_SELECTION: the banks and PCRs a quote covers, in TPM order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PcrSelectionList {
    banks: Vec<PcrSelection>,
}

impl PcrSelectionList {
    /// Builds a list from `(bank, indices)` pairs, in that order.
    pub fn new(spec: &[(HashAlg, &[u32])]) -> Result<Self, FormatError> {
        let banks = spec
            .iter()
            .map(|(hash, indices)| PcrSelection::new(*hash, indices))
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_selections(banks)
    }

    /// Builds a list from selections, refusing more than 16 banks or a bank
    /// listed twice.
    pub fn from_selections(banks: Vec<PcrSelection>) -> Result<Self, FormatError> {
        if banks.len() > limits::PCR_BANKS {
            return Err(FormatError::TooLarge {
                field: "TPML_PCR_SELECTION.count",
                size: banks.len(),
                max: limits::PCR_BANKS,
            });
        }
        for (i, b) in banks.iter().enumerate() {
            if banks.iter().take(i).any(|earlier| earlier.hash == b.hash) {
                return Err(FormatError::unexpected(
                    "TPML_PCR_SELECTION",
                    "each bank at most once",
                    format_args!("{} listed twice", b.hash),
                ));
            }
        }
        Ok(Self { banks })
    }

    /// Parses a complete TPML_PCR_SELECTION.
    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        let mut r = Reader::new(bytes);
        let list = Self::read(&mut r)?;
        r.finish("TPML_PCR_SELECTION")?;
        Ok(list)
    }

    /// Reads a TPML_PCR_SELECTION from `r`.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, FormatError> {
        let count = r.u32_be("TPML_PCR_SELECTION.count")?;
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        if count > limits::PCR_BANKS {
            return Err(FormatError::TooLarge {
                field: "TPML_PCR_SELECTION.count",
                size: count,
                max: limits::PCR_BANKS,
            });
        }
        let banks = (0..count)
            .map(|_| PcrSelection::read(r))
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_selections(banks)
    }

    /// Appends the TPML_PCR_SELECTION encoding.
    pub fn write(&self, w: &mut Writer) {
        // At most 16 banks (checked by every constructor).
        w.u32_be(u32::try_from(self.banks.len()).unwrap_or(u32::MAX));
        for b in &self.banks {
            b.write(w);
        }
    }

    /// The TPML_PCR_SELECTION encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.write(&mut w);
        w.into_vec()
    }

    /// Parses the tpm2-tools text form, e.g. `sha256:0,1,2+sha1:0,7`.
    /// Banks are `sha1`, `sha256`, `sha384`, `sha512`; a list is decimal PCR
    /// indices separated by commas, or `all` (PCR 0–23) or `none`.
    pub fn parse_tools_spec(text: &str) -> Result<Self, FormatError> {
        let bad = |reason: String| FormatError::Encoding {
            what: "PCR selection",
            reason,
        };
        if text.is_empty() {
            return Err(bad("empty selection".into()));
        }
        let mut banks = Vec::new();
        for part in text.split('+') {
            let (name, list) = part
                .split_once(':')
                .ok_or_else(|| bad(format!("`{part}`: expected BANK:LIST, e.g. sha256:0,1,2")))?;
            let hash = HashAlg::from_name(name).ok_or_else(|| {
                bad(format!(
                    "`{name}`: unknown bank (sha1, sha256, sha384, sha512)"
                ))
            })?;
            let indices: Vec<u32> = match list {
                "all" => (0..24).collect(),
                "none" => Vec::new(),
                _ => list
                    .split(',')
                    .map(|item| {
                        if item.is_empty() || !item.bytes().all(|c| c.is_ascii_digit()) {
                            return Err(bad(format!(
                                "`{item}` in `{part}`: not a decimal PCR index"
                            )));
                        }
                        item.parse::<u32>()
                            .map_err(|_| bad(format!("`{item}` in `{part}`: not a PCR index")))
                    })
                    .collect::<Result<_, _>>()?,
            };
            banks.push(PcrSelection::new(hash, &indices)?);
        }
        Self::from_selections(banks)
    }

    /// The banks, in list order.
    pub fn banks(&self) -> &[PcrSelection] {
        &self.banks
    }

    /// Every selected `(bank, index)`, in TPM order: banks in list order, PCRs
    /// ascending within a bank.
    pub fn pcrs(&self) -> impl Iterator<Item = (HashAlg, u32)> + '_ {
        self.banks
            .iter()
            .flat_map(|b| b.indices().map(move |i| (b.hash, i)))
    }

    /// Number of selected PCRs over all banks.
    pub fn pcr_count(&self) -> usize {
        self.banks.iter().map(PcrSelection::len).sum()
    }

    /// True when the two lists select the same PCRs in the same bank order,
    /// regardless of `sizeofSelect` padding.
    pub fn same_pcrs(&self, other: &Self) -> bool {
        self.pcrs().eq(other.pcrs())
            && self.banks.len() == other.banks.len()
            && self
                .banks
                .iter()
                .zip(&other.banks)
                .all(|(a, b)| a.hash == b.hash)
    }
}

impl fmt::Display for PcrSelectionList {
    /// The tpm2-tools text form (`sha256:0,1,2+sha1:none`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, b) in self.banks.iter().enumerate() {
            if n > 0 {
                f.write_str("+")?;
            }
            write!(f, "{}:", b.hash)?;
            if b.is_empty() {
                f.write_str("none")?;
            }
            for (k, i) in b.indices().enumerate() {
                if k > 0 {
                    f.write_str(",")?;
                }
                write!(f, "{i}")?;
            }
        }
        Ok(())
    }
}

/// The PCR composite digest: `H(values[0] || values[1] || …)`.
pub fn pcr_digest(hash: HashAlg, values: &[&[u8]]) -> Vec<u8> {
    hash.digest_parts(values)
}

/// PCR values by bank and index. Every value has its bank's digest size.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PcrValues {
    banks: BTreeMap<HashAlg, BTreeMap<u32, Vec<u8>>>,
}

impl PcrValues {
    /// No values.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets PCR `index` of bank `hash`, replacing any earlier value. The value
    /// must be `hash.size()` bytes and the index at most 31.
    pub fn insert(&mut self, hash: HashAlg, index: u32, value: &[u8]) -> Result<(), FormatError> {
        if index > MAX_PCR_INDEX {
            return Err(FormatError::unexpected(
                "PCR index",
                format_args!("0..={MAX_PCR_INDEX}"),
                index,
            ));
        }
        if value.len() != hash.size() {
            return Err(FormatError::unexpected(
                "PCR value",
                format_args!("{} bytes for {hash} PCR {index}", hash.size()),
                format_args!("{} bytes", value.len()),
            ));
        }
        self.banks
            .entry(hash)
            .or_default()
            .insert(index, value.to_vec());
        Ok(())
    }

    /// Builds values from the API's JSON form: bank name (`sha256`) → PCR
    /// index → hex digest.
    pub fn from_named_hex(
        map: &BTreeMap<String, BTreeMap<u32, String>>,
    ) -> Result<Self, FormatError> {
        let mut out = Self::new();
        for (name, pcrs) in map {
            let hash = HashAlg::from_name(name).ok_or_else(|| FormatError::Encoding {
                what: "PCR bank name",
                reason: format!("`{name}` is not sha1, sha256, sha384 or sha512"),
            })?;
            for (&index, value) in pcrs {
                let bytes = hex::decode(value).map_err(|e| FormatError::Encoding {
                    what: "PCR value hex",
                    reason: format!("{hash} PCR {index}: {e}"),
                })?;
                out.insert(hash, index, &bytes)?;
            }
        }
        Ok(out)
    }

    /// The API's JSON form: bank name → PCR index → hex digest.
    pub fn to_named_hex(&self) -> BTreeMap<String, BTreeMap<u32, String>> {
        self.banks
            .iter()
            .map(|(hash, pcrs)| {
                let values = pcrs.iter().map(|(&i, v)| (i, hex::encode(v))).collect();
                (hash.name().to_string(), values)
            })
            .collect()
    }

    /// The value of PCR `index` in bank `hash`.
    pub fn get(&self, hash: HashAlg, index: u32) -> Option<&[u8]> {
        self.banks.get(&hash)?.get(&index).map(Vec::as_slice)
    }

    /// All values, by bank then index.
    pub fn banks(&self) -> &BTreeMap<HashAlg, BTreeMap<u32, Vec<u8>>> {
        &self.banks
    }

    /// True when no value is held.
    pub fn is_empty(&self) -> bool {
        self.banks.values().all(BTreeMap::is_empty)
    }

    /// The selected PCRs that have no value, in TPM order.
    pub fn missing(&self, selection: &PcrSelectionList) -> Vec<(HashAlg, u32)> {
        selection
            .pcrs()
            .filter(|&(h, i)| self.get(h, i).is_none())
            .collect()
    }

    /// The selected values in TPM order, or an error naming every missing PCR.
    pub fn selected(&self, selection: &PcrSelectionList) -> Result<Vec<&[u8]>, FormatError> {
        let missing = self.missing(selection);
        if !missing.is_empty() {
            return Err(FormatError::unexpected(
                "PCR values",
                format_args!("a value for every PCR selected by {selection}"),
                format_args!("none for {}", describe_pcrs(&missing)),
            ));
        }
        Ok(selection
            .pcrs()
            .filter_map(|(h, i)| self.get(h, i))
            .collect())
    }

    /// Only the values the selection covers.
    pub fn restricted_to(&self, selection: &PcrSelectionList) -> Self {
        let mut out = Self::new();
        for (h, i) in selection.pcrs() {
            if let Some(v) = self.get(h, i) {
                out.banks.entry(h).or_default().insert(i, v.to_vec());
            }
        }
        out
    }

    /// The PCR composite digest with `hash` over the selected values in TPM
    /// order (what TPM2_Quote puts in `pcrDigest`), or an error naming every
    /// missing PCR.
    pub fn digest(
        &self,
        selection: &PcrSelectionList,
        hash: HashAlg,
    ) -> Result<Vec<u8>, FormatError> {
        Ok(pcr_digest(hash, &self.selected(selection)?))
    }
}

/// Formats `(bank, index)` pairs as `sha256 PCR 3, 7; sha1 PCR 0`.
pub fn describe_pcrs(pcrs: &[(HashAlg, u32)]) -> String {
    let mut out = String::new();
    let mut current: Option<HashAlg> = None;
    for &(h, i) in pcrs {
        if current == Some(h) {
            out.push_str(&format!(", {i}"));
        } else {
            if current.is_some() {
                out.push_str("; ");
            }
            out.push_str(&format!("{h} PCR {i}"));
            current = Some(h);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_ascending_and_bitmap_layout() {
        let s = PcrSelection::new(HashAlg::Sha256, &[7, 0, 23, 8, 7]).unwrap();
        assert_eq!(s.bitmap(), &[0x81, 0x01, 0x80]);
        assert_eq!(s.indices().collect::<Vec<_>>(), vec![0, 7, 8, 23]);
        assert!(s.contains(23) && !s.contains(22) && !s.contains(40));
        let wide = PcrSelection::new(HashAlg::Sha1, &[31]).unwrap();
        assert_eq!(wide.bitmap(), &[0, 0, 0, 0x80]);
        assert!(PcrSelection::new(HashAlg::Sha1, &[32]).is_err());
    }

    #[test]
    fn text_form_round_trip() {
        let l = PcrSelectionList::parse_tools_spec("sha256:0,1,2+sha1:0,7").unwrap();
        assert_eq!(l.to_string(), "sha256:0,1,2+sha1:0,7");
        assert_eq!(
            l.pcrs().collect::<Vec<_>>(),
            vec![
                (HashAlg::Sha256, 0),
                (HashAlg::Sha256, 1),
                (HashAlg::Sha256, 2),
                (HashAlg::Sha1, 0),
                (HashAlg::Sha1, 7)
            ]
        );
        assert_eq!(
            PcrSelectionList::parse_tools_spec("sha1:none")
                .unwrap()
                .to_string(),
            "sha1:none"
        );
        assert_eq!(
            PcrSelectionList::parse_tools_spec("sha384:all")
                .unwrap()
                .pcr_count(),
            24
        );
        for bad in [
            "",
            "sha256",
            "sha256:",
            "md5:1",
            "sha256:1,,2",
            "sha256:x",
            "sha256:32",
            "sha1:1+sha1:2",
            "sha256: 1",
        ] {
            assert!(
                PcrSelectionList::parse_tools_spec(bad).is_err(),
                "{bad:?} accepted"
            );
        }
    }
}
