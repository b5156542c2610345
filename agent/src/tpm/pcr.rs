//! PCR selections and PCR values.
//!
//! * Selection strings use tpm2-tools' syntax (tpm2-tools 5.x man page
//!   `tpm2_quote(1)`, "PCR bank specifiers"): banks joined by `+`, each
//!   `BANK:LIST` where LIST is comma-separated PCR indices or `all` (0–23).
//!   Example: `sha256:0,1,2,3,4,5,6,7+sha1:0`. As an extension tpm2-tools
//!   5.4 does not have, `a-b` ranges are accepted (`sha256:0-7`).
//! * On the wire a selection is a TPML_PCR_SELECTION (TCG TPM 2.0 Library
//!   Part 2 rev. 1.59 §10.9.7, Table 111) of TPMS_PCR_SELECTION (§10.6.2,
//!   Table 85): hash, sizeofSelect (always 3 here, PCRs 0–23) and a bitmap
//!   where PCR n is bit n%8 of byte n/8.
//! * The order of banks is kept as given: the TPM hashes the PCR values of a
//!   quote in selection order, bank by bank, and within a bank by ascending
//!   index (Part 1 rev. 1.59 §17.6.7 / Part 3 §18.4 TPM2_Quote, pcrDigest).

use crate::evidence::AgentError;
use sealbuild_common::HashAlg;
use std::collections::BTreeMap;
use std::str::FromStr;

/// Number of PCRs a selection can name (PC Client platforms have 24).
pub const PCR_COUNT: u32 = 24;
/// sizeofSelect for 24 PCRs.
pub(crate) const SIZE_OF_SELECT: u8 = 3;
/// The PCR a sealed build's runtime log goes to unless told otherwise: the
/// PC Client "application support" PCR, resettable from locality 0.
pub const DEFAULT_RUNTIME_PCR: u32 = 23;
/// Most digests one TPM2_PCR_Read returns (TPML_DIGEST holds at most 8,
/// Part 2 §10.9.2 Table 105).
pub const PCR_READ_MAX: usize = 8;

/// The PCRs selected in one bank.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BankSelection {
    /// The bank.
    pub alg: HashAlg,
    /// Bit n set = PCR n selected (n < 24).
    pub mask: u32,
}

impl BankSelection {
    /// The selected indices, ascending.
    pub fn indices(&self) -> impl Iterator<Item = u32> + '_ {
        (0..PCR_COUNT).filter(move |i| self.mask & (1 << i) != 0)
    }
}

/// An ordered, non-empty PCR selection with each bank at most once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcrSelection {
    banks: Vec<BankSelection>,
}

impl PcrSelection {
    /// Builds a selection from banks in order. Each bank must appear once and
    /// select at least one PCR below 24.
    pub fn new(banks: Vec<BankSelection>) -> Result<Self, AgentError> {
        let err = |reason: String| AgentError::PcrSelection {
            input: format_banks(&banks),
            reason,
        };
        if banks.is_empty() {
            return Err(err("no bank selected".into()));
        }
        for (i, b) in banks.iter().enumerate() {
            if b.mask == 0 {
                return Err(err(format!("bank {} selects no PCR", b.alg)));
            }
            if b.mask >> PCR_COUNT != 0 {
                return Err(err(format!(
                    "bank {} selects a PCR above {}",
                    b.alg,
                    PCR_COUNT - 1
                )));
            }
            if banks.iter().take(i).any(|o| o.alg == b.alg) {
                return Err(err(format!("bank {} appears more than once", b.alg)));
            }
        }
        Ok(Self { banks })
    }

    /// SHA-256 PCRs 0–7, the firmware PCRs reference values pin: what
    /// `attest` and a sealed build's preflight quote by default.
    pub fn firmware() -> Self {
        Self {
            banks: vec![BankSelection {
                alg: HashAlg::Sha256,
                mask: 0xff,
            }],
        }
    }

    /// All 24 PCRs of the SHA-256 bank (what an Azure vTPM quote covers).
    pub fn sha256_all() -> Self {
        Self {
            banks: vec![BankSelection {
                alg: HashAlg::Sha256,
                mask: (1 << PCR_COUNT) - 1,
            }],
        }
    }

    /// The banks, in selection order.
    pub fn banks(&self) -> &[BankSelection] {
        &self.banks
    }

    /// Every (bank, index) in the order the TPM digests them.
    pub fn iter(&self) -> impl Iterator<Item = (HashAlg, u32)> + '_ {
        self.banks
            .iter()
            .flat_map(|b| b.indices().map(move |i| (b.alg, i)))
    }

    /// Number of selected PCRs over all banks.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Always false: a selection selects at least one PCR.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether PCR `index` of bank `alg` is selected.
    pub fn contains(&self, alg: HashAlg, index: u32) -> bool {
        self.banks
            .iter()
            .any(|b| b.alg == alg && index < PCR_COUNT && b.mask & (1 << index) != 0)
    }

    /// This selection with PCR `index` of bank `alg` added (the bank is
    /// appended when it is not selected yet).
    pub fn with_pcr(&self, alg: HashAlg, index: u32) -> Result<Self, AgentError> {
        if index >= PCR_COUNT {
            return Err(AgentError::PcrSelection {
                input: format!("{self} + {alg}:{index}"),
                reason: format!("PCR {index} is out of range 0..{}", PCR_COUNT - 1),
            });
        }
        let mut banks = self.banks.clone();
        match banks.iter_mut().find(|b| b.alg == alg) {
            Some(b) => b.mask |= 1 << index,
            None => banks.push(BankSelection {
                alg,
                mask: 1 << index,
            }),
        }
        Self::new(banks)
    }
}

fn format_banks(banks: &[BankSelection]) -> String {
    banks
        .iter()
        .map(|b| {
            let list: Vec<String> = b.indices().map(|i| i.to_string()).collect();
            format!("{}:{}", b.alg, list.join(","))
        })
        .collect::<Vec<_>>()
        .join("+")
}

impl std::fmt::Display for PcrSelection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&format_banks(&self.banks))
    }
}

impl FromStr for PcrSelection {
    type Err = AgentError;

    fn from_str(input: &str) -> Result<Self, AgentError> {
        let err = |reason: String| AgentError::PcrSelection {
            input: input.to_string(),
            reason,
        };
        if input.is_empty() {
            return Err(err("empty selection".into()));
        }
        let mut banks = Vec::new();
        for part in input.split('+') {
            let Some((bank, list)) = part.split_once(':') else {
                return Err(err(format!("expected BANK:PCRS, got {part:?}")));
            };
            let alg = HashAlg::from_name(bank).ok_or_else(|| {
                err(format!(
                    "unknown bank {bank:?} (expected sha1, sha256, sha384 or sha512)"
                ))
            })?;
            let mut mask = 0u32;
            if list == "all" {
                mask = (1 << PCR_COUNT) - 1;
            } else {
                if list.is_empty() {
                    return Err(err(format!("bank {bank} selects no PCR")));
                }
                for item in list.split(',') {
                    let (lo, hi) = match item.split_once('-') {
                        Some((a, b)) => {
                            (parse_index(a).map_err(&err)?, parse_index(b).map_err(&err)?)
                        }
                        None => {
                            let i = parse_index(item).map_err(&err)?;
                            (i, i)
                        }
                    };
                    if lo > hi {
                        return Err(err(format!("range {item:?} is reversed")));
                    }
                    for i in lo..=hi {
                        if mask & (1 << i) != 0 {
                            return Err(err(format!("PCR {i} of bank {bank} selected twice")));
                        }
                        mask |= 1 << i;
                    }
                }
            }
            banks.push(BankSelection { alg, mask });
        }
        Self::new(banks).map_err(|e| match e {
            AgentError::PcrSelection { reason, .. } => err(reason),
            other => other,
        })
    }
}

fn parse_index(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(i) if i < PCR_COUNT => Ok(i),
        Ok(i) => Err(format!(
            "PCR index {i} is out of range 0..{}",
            PCR_COUNT - 1
        )),
        Err(_) => Err(format!("{s:?} is not a PCR index")),
    }
}

/// PCR values for a selection, in selection order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcrValues {
    selection: PcrSelection,
    /// One digest per (bank, index) of `selection.iter()`, same order.
    digests: Vec<Vec<u8>>,
}

impl PcrValues {
    /// Pairs a selection with its digests (one per selected PCR, in
    /// [`PcrSelection::iter`] order, each of its bank's digest size).
    pub fn new(selection: PcrSelection, digests: Vec<Vec<u8>>) -> Result<Self, AgentError> {
        if digests.len() != selection.len() {
            return Err(AgentError::InvalidArgument {
                what: "PCR values",
                reason: format!(
                    "{} digests for {} selected PCRs ({selection})",
                    digests.len(),
                    selection.len()
                ),
            });
        }
        for ((alg, idx), d) in selection.iter().zip(&digests) {
            if d.len() != alg.size() {
                return Err(AgentError::InvalidArgument {
                    what: "PCR values",
                    reason: format!("{alg}:{idx} is {} bytes, expected {}", d.len(), alg.size()),
                });
            }
        }
        Ok(Self { selection, digests })
    }

    /// The selection these values are for.
    pub fn selection(&self) -> &PcrSelection {
        &self.selection
    }

    /// (bank, index, value) in selection order.
    pub fn iter(&self) -> impl Iterator<Item = (HashAlg, u32, &[u8])> + '_ {
        self.selection
            .iter()
            .zip(&self.digests)
            .map(|((a, i), d)| (a, i, d.as_slice()))
    }

    /// The value of one PCR, if selected.
    pub fn get(&self, alg: HashAlg, index: u32) -> Option<&[u8]> {
        self.iter()
            .find(|(a, i, _)| *a == alg && *i == index)
            .map(|(_, _, d)| d)
    }

    /// The values concatenated in selection order (tpm2-tools'
    /// `-F values` PCR file).
    pub fn concatenated(&self) -> Vec<u8> {
        self.digests.concat()
    }

    /// The quote's pcrDigest for these values: `hash(concatenated())`.
    pub fn composite_digest(&self, hash: HashAlg) -> Vec<u8> {
        hash.digest(&self.concatenated())
    }

    /// Bank name → index → lower-case hex, as the HTTP API carries them.
    pub fn to_api_map(&self) -> BTreeMap<String, BTreeMap<u32, String>> {
        let mut out: BTreeMap<String, BTreeMap<u32, String>> = BTreeMap::new();
        for (alg, idx, d) in self.iter() {
            out.entry(alg.name().to_string())
                .or_default()
                .insert(idx, hex::encode(d));
        }
        out
    }

    /// The PCR file `tpm2_quote -o FILE` writes by default in tpm2-tools 5.4
    /// (`-F serialized`), which `tpm2_checkquote -f FILE` reads by default.
    ///
    /// It is a little-endian dump of tpm2-tools' in-memory structures, not a
    /// TPM wire format:
    ///
    /// ```text
    /// TPML_PCR_SELECTION   u32 count, then 16 × { u16 hash, u8 sizeofSelect,
    ///                      u8 pcrSelect[4], u8 padding }          (132 bytes)
    /// u32                  number of digest lists that follow
    /// TPML_DIGEST × n      u32 count, then 8 × { u16 size, u8 buffer[64] }
    ///                                                               (532 bytes each)
    /// ```
    ///
    /// The digests fill the lists 8 at a time in selection order (as the
    /// TPM2_PCR_Read calls tpm2-tools makes return them). Unused entries and
    /// padding are zero. Checked byte for byte against `tpm2_quote -o` in
    /// tests/tpm_interop.rs.
    pub fn to_tpm2_tools_serialized(&self) -> Vec<u8> {
        const MAX_SELECTIONS: usize = 16;
        const TPMS_PCR_SELECTION_SIZE: usize = 8;
        const DIGEST_BUFFER: usize = 64;
        let mut out = Vec::with_capacity(2000);
        let banks = self.selection.banks();
        out.extend_from_slice(&u32::try_from(banks.len()).unwrap_or(0).to_le_bytes());
        for i in 0..MAX_SELECTIONS {
            match banks.get(i) {
                Some(b) => {
                    out.extend_from_slice(&b.alg.alg_id().to_le_bytes());
                    out.push(SIZE_OF_SELECT);
                    out.extend_from_slice(&b.mask.to_le_bytes());
                    out.push(0);
                }
                None => out.extend_from_slice(&[0u8; TPMS_PCR_SELECTION_SIZE]),
            }
        }
        let lists: Vec<&[Vec<u8>]> = self.digests.chunks(PCR_READ_MAX).collect();
        out.extend_from_slice(&u32::try_from(lists.len()).unwrap_or(0).to_le_bytes());
        for list in lists {
            out.extend_from_slice(&u32::try_from(list.len()).unwrap_or(0).to_le_bytes());
            for i in 0..PCR_READ_MAX {
                let d: &[u8] = list.get(i).map(Vec::as_slice).unwrap_or(&[]);
                out.extend_from_slice(&u16::try_from(d.len()).unwrap_or(0).to_le_bytes());
                let mut buf = [0u8; DIGEST_BUFFER];
                for (b, s) in buf.iter_mut().zip(d) {
                    *b = *s;
                }
                out.extend_from_slice(&buf);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(s: &str) -> PcrSelection {
        s.parse().unwrap()
    }

    #[test]
    fn parses_tpm2_tools_syntax_and_keeps_bank_order() {
        let s = sel("sha256:0,1,2,3,4,5,6,7+sha1:0,2");
        assert_eq!(
            s.banks(),
            &[
                BankSelection {
                    alg: HashAlg::Sha256,
                    mask: 0xff
                },
                BankSelection {
                    alg: HashAlg::Sha1,
                    mask: 0b101
                }
            ]
        );
        assert_eq!(s.to_string(), "sha256:0,1,2,3,4,5,6,7+sha1:0,2");
        assert_eq!(s.len(), 10);
        let order: Vec<_> = s.iter().collect();
        assert_eq!(order.first(), Some(&(HashAlg::Sha256, 0)));
        assert_eq!(order.last(), Some(&(HashAlg::Sha1, 2)));
        // Index order within a bank is ascending whatever order was written.
        assert_eq!(sel("sha256:7,0,3").to_string(), "sha256:0,3,7");
        assert_eq!(sel("sha256:0-3,10").to_string(), "sha256:0,1,2,3,10");
        assert_eq!(sel("sha384:all").len(), 24);
        // Display output parses back to the same selection.
        for text in [
            "sha1:1+sha512:23+sha256:0,8,16",
            "sha384:all",
            "sha256:7,0,3",
        ] {
            let s = sel(text);
            assert_eq!(sel(&s.to_string()), s);
        }
    }

    #[test]
    fn named_selections() {
        assert_eq!(PcrSelection::firmware(), sel("sha256:0-7"));
        assert_eq!(PcrSelection::sha256_all(), sel("sha256:all"));
    }

    #[test]
    fn adding_a_pcr_keeps_order() {
        let s = sel("sha256:0-7+sha1:0");
        assert!(!s.contains(HashAlg::Sha256, 23));
        let with = s.with_pcr(HashAlg::Sha256, 23).unwrap();
        assert_eq!(with.to_string(), "sha256:0,1,2,3,4,5,6,7,23+sha1:0");
        assert!(with.contains(HashAlg::Sha256, 23));
        assert_eq!(with.with_pcr(HashAlg::Sha256, 23).unwrap(), with);
        assert_eq!(
            s.with_pcr(HashAlg::Sha384, 1).unwrap().to_string(),
            "sha256:0,1,2,3,4,5,6,7+sha1:0+sha384:1"
        );
        let e = s.with_pcr(HashAlg::Sha256, 24).unwrap_err().to_string();
        assert!(e.contains("out of range"), "{e}");
    }

    #[test]
    fn rejects_bad_selections() {
        for (s, want) in [
            ("", "empty selection"),
            ("sha256", "expected BANK:PCRS"),
            ("sha256:", "selects no PCR"),
            ("md5:0", "unknown bank"),
            ("sha256:24", "out of range"),
            ("sha256:x", "not a PCR index"),
            ("sha256:1,1", "selected twice"),
            ("sha256:3-1", "reversed"),
            ("sha256:0+sha256:1", "more than once"),
            ("sha256:0+", "expected BANK:PCRS"),
        ] {
            let e = s.parse::<PcrSelection>().unwrap_err().to_string();
            assert!(e.contains(want), "{s}: {e}");
        }
    }

    #[test]
    fn values_checks_sizes_and_counts() {
        let s = sel("sha256:0,1+sha1:2");
        assert!(PcrValues::new(s.clone(), vec![vec![0; 32], vec![0; 32]]).is_err());
        assert!(PcrValues::new(s.clone(), vec![vec![0; 32], vec![0; 32], vec![0; 32]]).is_err());
        let v = PcrValues::new(s, vec![vec![1; 32], vec![2; 32], vec![3; 20]]).unwrap();
        assert_eq!(v.get(HashAlg::Sha1, 2), Some(&[3u8; 20][..]));
        assert_eq!(v.get(HashAlg::Sha1, 1), None);
        assert_eq!(v.concatenated().len(), 84);
        let map = v.to_api_map();
        assert_eq!(map["sha256"][&1], hex::encode([2u8; 32]));
        assert_eq!(
            v.composite_digest(HashAlg::Sha256),
            HashAlg::Sha256.digest(&v.concatenated())
        );
    }

    #[test]
    fn serialized_layout() {
        // 9 sha256 PCRs + 1 sha1: two digest lists (8 + 2).
        let s = sel("sha256:0-8+sha1:0");
        let mut ds: Vec<Vec<u8>> = (0u8..9).map(|i| vec![i; 32]).collect();
        ds.push(vec![0xaa; 20]);
        let v = PcrValues::new(s, ds).unwrap();
        let f = v.to_tpm2_tools_serialized();
        assert_eq!(f.len(), 132 + 4 + 2 * 532);
        assert_eq!(&f[..4], &2u32.to_le_bytes());
        assert_eq!(&f[4..12], &[0x0b, 0, 3, 0xff, 0x01, 0, 0, 0]);
        assert_eq!(&f[12..20], &[0x04, 0, 3, 0x01, 0, 0, 0, 0]);
        assert!(f[20..132].iter().all(|b| *b == 0));
        assert_eq!(&f[132..136], &2u32.to_le_bytes());
        // first list: 8 digests
        assert_eq!(&f[136..140], &8u32.to_le_bytes());
        assert_eq!(&f[140..142], &32u16.to_le_bytes());
        assert_eq!(&f[142..174], &[0u8; 32]);
        // second list: sha256:8 then sha1:0
        let l2 = 136 + 532;
        assert_eq!(&f[l2..l2 + 4], &2u32.to_le_bytes());
        assert_eq!(&f[l2 + 4..l2 + 6], &32u16.to_le_bytes());
        assert_eq!(&f[l2 + 6..l2 + 38], &[8u8; 32]);
        let d2 = l2 + 4 + 66;
        assert_eq!(&f[d2..d2 + 2], &20u16.to_le_bytes());
        assert_eq!(&f[d2 + 2..d2 + 22], &[0xaa; 20]);
        assert!(f[d2 + 22..].iter().all(|b| *b == 0));
    }
}
