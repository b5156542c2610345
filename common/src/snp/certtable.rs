//! The certificate table a host supplies with an extended SEV-SNP report.
//!
//! Specification: AMD "SEV-ES Guest-Hypervisor Communication Block
//! Standardization" (publication 56421), revision 2.03, §4.1.8.1 "SNP
//! Extended Guest Request": the certificate buffer starts with a table of
//! 24-byte entries
//!
//! ```text
//! GUID    16 bytes   identifies the certificate
//! offset   u32 LE    from the start of the table
//! length   u32 LE    bytes of certificate data
//! ```
//!
//! terminated by an all-zero entry, followed by the certificates. The
//! GUIDs are stored in the byte order they are written in (the order in
//! which `63da758d-e664-…` reads, as AMD's guest tooling produces them with
//! `uuid_parse`). The same bytes reach user space unchanged through the
//! configfs-tsm `auxblob` (Linux `Documentation/ABI/testing/configfs-tsm-report`)
//! and through `SNP_GET_EXT_REPORT` on `/dev/sev-guest`.
//!
//! The host writes this buffer, so it is untrusted input. [`CertTable::parse`]
//! requires a terminator, certificates that lie after the table and inside
//! the buffer, no two certificates sharing a byte or a GUID, and zeros in
//! every byte no entry accounts for (hosts pad the buffer with zeros).
//! Entries with GUIDs this module does not know are kept;
//! [`CertTable::certificates`] skips them and reports their GUIDs. Which
//! certificates are genuine is decided by the verifier (the AMD chain); the
//! kinds here are the host's claims.

use crate::api::{SnpCertKind, SnpCertificate};
use crate::reader::{Reader, Writer};
use crate::FormatError;

/// Size of one table entry.
pub const ENTRY_LEN: usize = 24;

/// Most entries accepted (far more than the four GUIDs defined; bounds the
/// overlap checks on hostile input).
pub const MAX_ENTRIES: usize = 64;

/// A 16-byte GUID as stored in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    /// Versioned Chip Endorsement Key.
    pub const VCEK: Self = Self([
        0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64, 0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac,
        0xcd,
    ]);
    /// Versioned Loaded Endorsement Key.
    pub const VLEK: Self = Self([
        0xa8, 0x07, 0x4b, 0xc2, 0xa2, 0x5a, 0x48, 0x3e, 0xaa, 0xe6, 0x39, 0xc0, 0x45, 0xa0, 0xb8,
        0xa1,
    ]);
    /// AMD SEV Key.
    pub const ASK: Self = Self([
        0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4, 0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7,
        0x82,
    ]);
    /// AMD Root Key.
    pub const ARK: Self = Self([
        0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52, 0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0,
        0xae,
    ]);
    /// The all-zero GUID of the terminating entry.
    pub const NIL: Self = Self([0; 16]);

    /// Parses the textual form `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`
    /// (hex, either case) into the stored byte order.
    pub fn parse_str(text: &str) -> Result<Self, FormatError> {
        const GROUPS: [usize; 5] = [8, 4, 4, 4, 12];
        let bad = || FormatError::unexpected("GUID", "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", text);
        let parts: Vec<&str> = text.split('-').collect();
        if parts.len() != GROUPS.len() || parts.iter().zip(GROUPS).any(|(p, n)| p.len() != n) {
            return Err(bad());
        }
        let bytes = hex::decode(parts.concat()).map_err(|_| bad())?;
        let array: [u8; 16] = bytes.try_into().map_err(|_| bad())?;
        Ok(Self(array))
    }

    /// The certificate kind this GUID names, `None` for one not defined in
    /// GHCB §4.1.8.1.
    pub fn kind(self) -> Option<SnpCertKind> {
        match self {
            Self::VCEK => Some(SnpCertKind::Vcek),
            Self::VLEK => Some(SnpCertKind::Vlek),
            Self::ASK => Some(SnpCertKind::Ask),
            Self::ARK => Some(SnpCertKind::Ark),
            _ => None,
        }
    }

    /// The GUID of a certificate kind; the ASVK has none in the table (hosts
    /// that supply one put it under the ASK GUID).
    pub fn of_kind(kind: SnpCertKind) -> Option<Self> {
        match kind {
            SnpCertKind::Vcek => Some(Self::VCEK),
            SnpCertKind::Vlek => Some(Self::VLEK),
            SnpCertKind::Ask => Some(Self::ASK),
            SnpCertKind::Ark => Some(Self::ARK),
            SnpCertKind::Asvk => None,
        }
    }
}

impl std::fmt::Display for Guid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (a, rest) = self.0.split_at(4);
        let (b, rest) = rest.split_at(2);
        let (c, rest) = rest.split_at(2);
        let (d, e) = rest.split_at(2);
        write!(
            f,
            "{}-{}-{}-{}-{}",
            hex::encode(a),
            hex::encode(b),
            hex::encode(c),
            hex::encode(d),
            hex::encode(e)
        )
    }
}

/// One certificate of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertTableEntry {
    /// What the host says the certificate is.
    pub guid: Guid,
    /// The certificate bytes (DER for the defined GUIDs).
    pub data: Vec<u8>,
}

/// The certificates of a table, split into the kinds sealbuild knows and the
/// GUIDs it skipped.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KnownCertificates {
    /// Certificates with a defined GUID, in table order.
    pub certificates: Vec<SnpCertificate>,
    /// GUIDs of the entries that were skipped, in table order.
    pub unknown: Vec<Guid>,
}

/// A parsed certificate table, entries in table order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CertTable {
    /// The entries (the terminator is not one).
    pub entries: Vec<CertTableEntry>,
}

/// Where an entry's certificate lies in the buffer.
struct Span {
    index: usize,
    guid: Guid,
    start: usize,
    end: usize,
}

impl Span {
    fn describe(&self) -> String {
        format!(
            "entry {} ({}) at bytes {}..{}",
            self.index, self.guid, self.start, self.end
        )
    }
}

fn check_zero(bytes: &[u8], start: usize, end: usize) -> Result<(), FormatError> {
    let gap = bytes.get(start..end).unwrap_or_default();
    match gap.iter().position(|&b| b != 0) {
        None => Ok(()),
        Some(i) => Err(FormatError::unexpected(
            "GHCB certificate table padding",
            "zero bytes outside the table and the certificates",
            format!(
                "{:#04x} at offset {}",
                gap.get(i).copied().unwrap_or(0),
                start + i
            ),
        )),
    }
}

impl CertTable {
    /// A table of `certificates`, each under the GUID of its kind; `None`
    /// when one has a kind without a GUID ([`SnpCertKind::Asvk`]).
    pub fn from_certificates(certificates: &[SnpCertificate]) -> Option<Self> {
        let entries = certificates
            .iter()
            .map(|c| {
                Guid::of_kind(c.kind).map(|guid| CertTableEntry {
                    guid,
                    data: c.der.clone(),
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Self { entries })
    }

    /// Parses a certificate buffer (see the module docs for the checks).
    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        let mut r = Reader::new(bytes);
        let mut raw: Vec<(Guid, u32, u32)> = Vec::new();
        loop {
            if r.remaining() < ENTRY_LEN {
                return Err(FormatError::unexpected(
                    "GHCB certificate table",
                    "an all-zero terminating entry",
                    format!(
                        "the buffer ends after {} entries with {} bytes left",
                        raw.len(),
                        r.remaining()
                    ),
                ));
            }
            let guid = Guid(r.array("GHCB certificate table entry GUID")?);
            let offset = r.u32_le("GHCB certificate table entry offset")?;
            let length = r.u32_le("GHCB certificate table entry length")?;
            if guid == Guid::NIL {
                if offset != 0 || length != 0 {
                    return Err(FormatError::unexpected(
                        "GHCB certificate table terminator",
                        "offset 0 and length 0 with the all-zero GUID",
                        format!("offset {offset}, length {length} (entry {})", raw.len()),
                    ));
                }
                break;
            }
            if raw.len() == MAX_ENTRIES {
                return Err(FormatError::TooLarge {
                    field: "GHCB certificate table entries",
                    size: raw.len() + 1,
                    max: MAX_ENTRIES,
                });
            }
            raw.push((guid, offset, length));
        }
        let table_end = r.offset();

        let mut spans: Vec<Span> = Vec::with_capacity(raw.len());
        for (index, &(guid, offset, length)) in raw.iter().enumerate() {
            if let Some(first) = raw.iter().position(|(g, _, _)| *g == guid) {
                if first != index {
                    return Err(FormatError::unexpected(
                        "GHCB certificate table GUID",
                        "each GUID at most once",
                        format!("{guid} in entries {first} and {index}"),
                    ));
                }
            }
            let start = usize::try_from(offset).unwrap_or(usize::MAX);
            let end = start.saturating_add(usize::try_from(length).unwrap_or(usize::MAX));
            let span = Span {
                index,
                guid,
                start,
                end,
            };
            if length == 0 {
                return Err(FormatError::unexpected(
                    "GHCB certificate table entry length",
                    "a non-empty certificate",
                    format!("length 0 in {}", span.describe()),
                ));
            }
            if start < table_end {
                return Err(FormatError::unexpected(
                    "GHCB certificate table entry offset",
                    format!("at or after the end of the table ({table_end})"),
                    span.describe(),
                ));
            }
            if end > bytes.len() {
                return Err(FormatError::unexpected(
                    "GHCB certificate table entry range",
                    format!("inside the {}-byte buffer", bytes.len()),
                    span.describe(),
                ));
            }
            spans.push(span);
        }

        let mut sorted: Vec<&Span> = spans.iter().collect();
        sorted.sort_by_key(|s| (s.start, s.end));
        let mut cursor = table_end;
        let mut previous: Option<&Span> = None;
        for span in sorted {
            if let Some(prev) = previous {
                if span.start < prev.end {
                    return Err(FormatError::unexpected(
                        "GHCB certificate table entry range",
                        "certificates that share no byte",
                        format!("{} overlaps {}", span.describe(), prev.describe()),
                    ));
                }
            }
            check_zero(bytes, cursor, span.start)?;
            cursor = span.end;
            previous = Some(span);
        }
        check_zero(bytes, cursor, bytes.len())?;

        let entries = spans
            .iter()
            .map(|s| CertTableEntry {
                guid: s.guid,
                data: bytes.get(s.start..s.end).unwrap_or_default().to_vec(),
            })
            .collect();
        Ok(Self { entries })
    }

    /// Serialises in the canonical layout: the entries, the terminator, then
    /// the certificates back to back in entry order. A table that came from
    /// [`Self::parse`] of a canonical buffer gives the same bytes back.
    /// Offsets and lengths past `u32::MAX` cannot be represented; they
    /// saturate, and the result then fails to parse.
    pub fn to_bytes(&self) -> Vec<u8> {
        let table_len = ENTRY_LEN.saturating_mul(self.entries.len().saturating_add(1));
        let mut w = Writer::new();
        let mut offset = table_len;
        for e in &self.entries {
            w.bytes(&e.guid.0)
                .u32_le(u32::try_from(offset).unwrap_or(u32::MAX))
                .u32_le(u32::try_from(e.data.len()).unwrap_or(u32::MAX));
            offset = offset.saturating_add(e.data.len());
        }
        w.bytes(&[0; ENTRY_LEN]);
        for e in &self.entries {
            w.bytes(&e.data);
        }
        w.into_vec()
    }

    /// The certificates under the defined GUIDs, and the GUIDs skipped.
    pub fn certificates(&self) -> KnownCertificates {
        let mut out = KnownCertificates::default();
        for e in &self.entries {
            match e.guid.kind() {
                Some(kind) => out.certificates.push(SnpCertificate {
                    kind,
                    der: e.data.clone(),
                }),
                None => out.unknown.push(e.guid),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VCEK: &[u8] = include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/data/sev-snp/virtee-sev/vcek_milan.der"
    ));

    #[test]
    fn guid_constants_match_their_text() {
        for (g, text) in [
            (Guid::VCEK, "63da758d-e664-4564-adc5-f4b93be8accd"),
            (Guid::VLEK, "a8074bc2-a25a-483e-aae6-39c045a0b8a1"),
            (Guid::ASK, "4ab7b379-bbac-4fe4-a02f-05aef327c782"),
            (Guid::ARK, "c0b406a4-a803-4952-9743-3fb6014cd0ae"),
        ] {
            assert_eq!(g.to_string(), text);
            assert_eq!(Guid::parse_str(text).unwrap(), g);
            assert_eq!(Guid::parse_str(&text.to_uppercase()).unwrap(), g);
        }
        // The stored bytes are the text's digits in order, not the
        // mixed-endian (little-endian first three fields) form.
        assert_eq!(Guid::VCEK.0[..4], [0x63, 0xda, 0x75, 0x8d]);
    }

    #[test]
    fn malformed_guid_text_refused() {
        for t in [
            "",
            "63da758d-e664-4564-adc5-f4b93be8acc",
            "63da758de6644564adc5f4b93be8accd",
            "63da758d-e664-4564-adc5f4b93be8-accd",
            "g3da758d-e664-4564-adc5-f4b93be8accd",
            "63da758d-e664-4564-adc5-f4b93be8accd-",
        ] {
            assert!(Guid::parse_str(t).is_err(), "{t:?} accepted");
        }
    }

    #[test]
    fn kinds_and_guids_correspond() {
        for kind in [
            SnpCertKind::Vcek,
            SnpCertKind::Vlek,
            SnpCertKind::Ask,
            SnpCertKind::Ark,
        ] {
            assert_eq!(Guid::of_kind(kind).unwrap().kind(), Some(kind));
        }
        assert_eq!(Guid::of_kind(SnpCertKind::Asvk), None);
        assert_eq!(Guid::NIL.kind(), None);
    }

    #[test]
    fn single_vcek_layout() {
        let t = CertTable {
            entries: vec![CertTableEntry {
                guid: Guid::VCEK,
                data: VCEK.to_vec(),
            }],
        };
        let b = t.to_bytes();
        assert_eq!(b.len(), 48 + VCEK.len());
        assert_eq!(&b[..16], &Guid::VCEK.0);
        assert_eq!(&b[16..20], &48u32.to_le_bytes());
        assert_eq!(&b[20..24], &(VCEK.len() as u32).to_le_bytes());
        assert_eq!(&b[24..48], &[0u8; 24]);
        assert_eq!(&b[48..], VCEK);
        assert_eq!(CertTable::parse(&b).unwrap(), t);
    }

    #[test]
    fn all_zero_buffer_is_an_empty_table() {
        // What /dev/sev-guest hands back when the host supplied nothing.
        let t = CertTable::parse(&[0u8; 4096]).unwrap();
        assert!(t.entries.is_empty());
        assert_eq!(t.to_bytes(), vec![0u8; 24]);
    }

    #[test]
    fn empty_buffer_has_no_terminator() {
        let err = CertTable::parse(&[]).unwrap_err();
        assert!(err.to_string().contains("terminating entry"), "{err}");
    }

    fn pem_to_der(pem: &str) -> Vec<u8> {
        use base64::Engine;
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap()
    }

    /// VCEK, ASK and ARK of a real Milan platform, as a host would supply
    /// them.
    fn milan_chain() -> CertTable {
        let ask = pem_to_der(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/data/sev-snp/amd-roots/milan/ask.pem"
        )));
        let ark = pem_to_der(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/data/sev-snp/amd-roots/milan/ark.pem"
        )));
        CertTable {
            entries: vec![
                CertTableEntry {
                    guid: Guid::VCEK,
                    data: VCEK.to_vec(),
                },
                CertTableEntry {
                    guid: Guid::ASK,
                    data: ask,
                },
                CertTableEntry {
                    guid: Guid::ARK,
                    data: ark,
                },
            ],
        }
    }

    #[test]
    fn real_chain_round_trips() {
        let t = milan_chain();
        let bytes = t.to_bytes();
        let parsed = CertTable::parse(&bytes).unwrap();
        assert_eq!(parsed, t);
        assert_eq!(parsed.to_bytes(), bytes);
        let known = parsed.certificates();
        assert!(known.unknown.is_empty());
        let kinds: Vec<SnpCertKind> = known.certificates.iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            [SnpCertKind::Vcek, SnpCertKind::Ask, SnpCertKind::Ark]
        );
        assert_eq!(known.certificates[0].der, VCEK);
        // DER certificates: SEQUENCE with a two-byte long-form length.
        for c in &known.certificates {
            assert_eq!(c.der[0], 0x30);
        }
        assert_eq!(
            CertTable::from_certificates(&known.certificates).unwrap(),
            t
        );
    }

    #[test]
    fn unknown_guid_kept_and_skipped() {
        let other = Guid::parse_str("92f81bc3-5811-4d3d-97ff-d19f88dc67ea").unwrap();
        let t = CertTable {
            entries: vec![
                CertTableEntry {
                    guid: other,
                    data: vec![1, 2, 3],
                },
                CertTableEntry {
                    guid: Guid::VCEK,
                    data: VCEK.to_vec(),
                },
            ],
        };
        let parsed = CertTable::parse(&t.to_bytes()).unwrap();
        assert_eq!(parsed, t);
        let known = parsed.certificates();
        assert_eq!(known.unknown, vec![other]);
        assert_eq!(known.certificates.len(), 1);
        assert_eq!(known.certificates[0].kind, SnpCertKind::Vcek);
    }

    #[test]
    fn asvk_has_no_table_guid() {
        let c = SnpCertificate {
            kind: SnpCertKind::Asvk,
            der: vec![0x30],
        };
        assert_eq!(CertTable::from_certificates(&[c]), None);
    }

    #[test]
    fn every_truncation_refused() {
        let bytes = milan_chain().to_bytes();
        for len in 0..bytes.len() {
            assert!(
                CertTable::parse(&bytes[..len]).is_err(),
                "truncated to {len} of {} accepted",
                bytes.len()
            );
        }
    }

    fn entry(guid: Guid, offset: u32, length: u32) -> Vec<u8> {
        let mut e = guid.0.to_vec();
        e.extend_from_slice(&offset.to_le_bytes());
        e.extend_from_slice(&length.to_le_bytes());
        e
    }

    fn table(entries: &[Vec<u8>], tail: &[u8]) -> Vec<u8> {
        let mut b: Vec<u8> = entries.concat();
        b.extend_from_slice(&[0; ENTRY_LEN]);
        b.extend_from_slice(tail);
        b
    }

    fn refused(bytes: &[u8], needle: &str) {
        let err = CertTable::parse(bytes).unwrap_err().to_string();
        assert!(err.contains(needle), "expected {needle:?} in {err:?}");
    }

    #[test]
    fn overlapping_entries_refused() {
        // VCEK at 72..82, ASK at 80..90: two bytes shared.
        let b = table(
            &[entry(Guid::VCEK, 72, 10), entry(Guid::ASK, 80, 10)],
            &[0xaa; 18],
        );
        refused(&b, "overlaps");
        // The same range twice.
        let b = table(
            &[entry(Guid::VCEK, 72, 10), entry(Guid::ASK, 72, 10)],
            &[0xaa; 10],
        );
        refused(&b, "overlaps");
        // Adjacent ranges are fine.
        let b = table(
            &[entry(Guid::VCEK, 72, 10), entry(Guid::ASK, 82, 10)],
            &[0xaa; 20],
        );
        assert_eq!(CertTable::parse(&b).unwrap().entries.len(), 2);
    }

    #[test]
    fn entries_inside_the_table_or_past_the_end_refused() {
        refused(
            &table(&[entry(Guid::VCEK, 24, 10)], &[1; 10]),
            "end of the table",
        );
        refused(
            &table(&[entry(Guid::VCEK, 0, 10)], &[1; 10]),
            "end of the table",
        );
        refused(
            &table(&[entry(Guid::VCEK, 48, 11)], &[1; 10]),
            "inside the 58-byte",
        );
        refused(
            &table(&[entry(Guid::VCEK, u32::MAX, u32::MAX)], &[1; 10]),
            "inside the",
        );
    }

    #[test]
    fn missing_or_malformed_terminator_refused() {
        // One entry, no terminator, the certificate right after it.
        let mut b = entry(Guid::VCEK, 24, 4);
        b.extend_from_slice(&[0x30, 2, 5, 0]);
        refused(&b, "terminating entry");
        // A nil GUID with a length is not a terminator.
        let mut b = entry(Guid::VCEK, 48, 2);
        b.extend(entry(Guid::NIL, 0, 2));
        b.extend_from_slice(&[0x30, 0]);
        refused(&b, "terminator");
    }

    #[test]
    fn duplicate_guid_and_empty_entry_refused() {
        refused(
            &table(
                &[entry(Guid::VCEK, 72, 2), entry(Guid::VCEK, 74, 2)],
                &[1; 4],
            ),
            "at most once",
        );
        refused(&table(&[entry(Guid::VCEK, 48, 0)], &[]), "length 0");
    }

    #[test]
    fn padding_must_be_zero() {
        let mut b = milan_chain().to_bytes();
        b.resize(16 * 1024, 0);
        assert_eq!(CertTable::parse(&b).unwrap(), milan_chain());
        let last = b.len() - 1;
        b[last] = 1;
        refused(&b, "zero bytes outside");
        // A gap between the table and the first certificate.
        let b = table(&[entry(Guid::VCEK, 50, 2)], &[0, 7, 0x30, 0]);
        refused(&b, "at offset 49");
        let b = table(&[entry(Guid::VCEK, 50, 2)], &[0, 0, 0x30, 0]);
        assert_eq!(CertTable::parse(&b).unwrap().entries[0].data, [0x30, 0]);
    }

    #[test]
    fn too_many_entries_refused() {
        let entries: Vec<Vec<u8>> = (0..=MAX_ENTRIES as u8)
            .map(|i| entry(Guid([i + 1; 16]), 0, 0))
            .collect();
        let err = CertTable::parse(&table(&entries, &[])).unwrap_err();
        assert!(matches!(err, FormatError::TooLarge { .. }), "{err}");
    }

    #[test]
    fn every_bit_flip_never_panics_and_header_flips_fail() {
        let t = CertTable {
            entries: vec![CertTableEntry {
                guid: Guid::VCEK,
                data: VCEK.to_vec(),
            }],
        };
        let bytes = t.to_bytes();
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut m = bytes.clone();
                m[i] ^= 1 << bit;
                match CertTable::parse(&m) {
                    Ok(p) => {
                        // Only the GUID or the certificate bytes may change.
                        assert!(!(16..48).contains(&i), "flip at {i} bit {bit} accepted");
                        assert_eq!(CertTable::parse(&p.to_bytes()).unwrap(), p);
                    }
                    Err(_) => assert!((16..48).contains(&i), "flip at {i} bit {bit} refused"),
                }
            }
        }
    }
}

#[cfg(test)]
mod real_table {
    use super::*;

    #[test]
    fn milan_table_parses_and_round_trips() {
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/data/sev-snp/cert-table-milan.bin"
        ))
        .unwrap();
        let table = CertTable::parse(&bytes).unwrap();
        assert_eq!(table.to_bytes(), bytes);
        let known = table.certificates();
        let kinds: Vec<SnpCertKind> = known.certificates.iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            [SnpCertKind::Vcek, SnpCertKind::Ask, SnpCertKind::Ark]
        );
        assert!(known.unknown.is_empty());
        // Every truncation fails.
        for cut in [0, 23, 24, 95, 96, bytes.len() - 1] {
            assert!(CertTable::parse(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }
}
