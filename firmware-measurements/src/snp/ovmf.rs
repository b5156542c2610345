//! The parts of an OVMF firmware volume an SEV-SNP launch measures: the GUIDed
//! footer table at the end of the image and the SEV metadata it points to.
//!
//! Specs and sources of truth:
//! - The footer table is defined by EDK2 `OvmfPkg/ResetVector/Ia16/ResetVectorVtf0.asm`
//!   (section "OVMF GUIDed structure table"): the last 32 bytes of the image are
//!   the reset vector; just before them sits a footer `{ u16 size; GUID
//!   96b582de-1fb2-45f7-baea-a366c55a082d }` whose size covers the whole table.
//!   Entries are laid out back to front, each `data || u16 size || GUID`, where
//!   `size` counts the data and the 18-byte trailer.
//! - The SEV metadata (EDK2 `OvmfPkg/ResetVector/X64/OvmfSevMetadata.asm`):
//!   entry GUID dc886566-984a-4798-a75e-5585a7bf67cc holds a u32
//!   offset from the end of the image to a header `"ASEV" || u32 size || u32
//!   version (1) || u32 count`, followed by `count` descriptors `{ u32 gpa; u32
//!   size; u32 type }` (types 1 SEC_MEM, 2 SECRETS, 3 CPUID, 4 SVSM_CAA,
//!   0x10 SNP_KERNEL_HASHES).
//! - The SEV-ES reset block (GUID 00f771de-1a7e-4fcb-890e-68c77e2fb44e) holds the
//!   u32 reset IP of the application processors; the hash-table entry (GUID
//!   7255371f-3a3b-4b04-927b-1da6efa8d454) holds the u32 GPA of the SEV kernel
//!   hashes table.
//!
//! Everything is read with [`Reader`]. This is stricter than the reference
//! calculator: an image without a footer table, a table entry that runs past
//! the table, a GUID that appears twice, metadata whose size disagrees with its
//! section count, unaligned or empty sections, and SECRETS/CPUID sections
//! larger than one page are all errors rather than ignored.

use super::gctx::PAGE_SIZE;
use crate::MeasureError;
use sealbuild_common::reader::Reader;

/// A GUID in its on-disk (mixed-endian, EFI_GUID) byte order.
pub type Guid = [u8; 16];

/// Converts the canonical text form of a GUID to EFI_GUID byte order at compile time.
pub(crate) const fn guid(d1: u32, d2: u16, d3: u16, d4: [u8; 8]) -> Guid {
    let a = d1.to_le_bytes();
    let b = d2.to_le_bytes();
    let c = d3.to_le_bytes();
    [
        a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d4[0], d4[1], d4[2], d4[3], d4[4], d4[5],
        d4[6], d4[7],
    ]
}

/// 96b582de-1fb2-45f7-baea-a366c55a082d: the footer of the GUIDed table.
pub const FOOTER_TABLE_GUID: Guid = guid(
    0x96b5_82de,
    0x1fb2,
    0x45f7,
    [0xba, 0xea, 0xa3, 0x66, 0xc5, 0x5a, 0x08, 0x2d],
);
/// 7255371f-3a3b-4b04-927b-1da6efa8d454: GPA of the SEV kernel hashes table.
pub const SEV_HASH_TABLE_RV_GUID: Guid = guid(
    0x7255_371f,
    0x3a3b,
    0x4b04,
    [0x92, 0x7b, 0x1d, 0xa6, 0xef, 0xa8, 0xd4, 0x54],
);
/// 00f771de-1a7e-4fcb-890e-68c77e2fb44e: SEV-ES AP reset vector.
pub const SEV_ES_RESET_BLOCK_GUID: Guid = guid(
    0x00f7_71de,
    0x1a7e,
    0x4fcb,
    [0x89, 0x0e, 0x68, 0xc7, 0x7e, 0x2f, 0xb4, 0x4e],
);
/// dc886566-984a-4798-a75e-5585a7bf67cc: offset of the SEV metadata.
pub const SEV_METADATA_GUID: Guid = guid(
    0xdc88_6566,
    0x984a,
    0x4798,
    [0xa7, 0x5e, 0x55, 0x85, 0xa7, 0xbf, 0x67, 0xcc],
);

/// Bytes of the reset vector area after the footer table.
const RESET_AREA: usize = 32;
/// `u16 size || GUID`.
const ENTRY_TRAILER: usize = 18;
/// Upper bound on the image size: the image ends at 4 GiB.
const FOUR_GIB: u64 = 1 << 32;
/// More metadata sections than this is not an OVMF build.
const MAX_SECTIONS: u32 = 64;

/// The type of an SEV metadata section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectionType {
    /// 1: memory OVMF's SEC phase uses before validating it (pre-validated, zero).
    SnpSecMem,
    /// 2: the SNP secrets page.
    SnpSecrets,
    /// 3: the CPUID page.
    Cpuid,
    /// 4: the SVSM calling area.
    SvsmCaa,
    /// 0x10: the page holding the SEV kernel/initrd/cmdline hashes table.
    SnpKernelHashes,
}

impl SectionType {
    fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            1 => Self::SnpSecMem,
            2 => Self::SnpSecrets,
            3 => Self::Cpuid,
            4 => Self::SvsmCaa,
            0x10 => Self::SnpKernelHashes,
            _ => return None,
        })
    }

    fn to_u32(self) -> u32 {
        match self {
            Self::SnpSecMem => 1,
            Self::SnpSecrets => 2,
            Self::Cpuid => 3,
            Self::SvsmCaa => 4,
            Self::SnpKernelHashes => 0x10,
        }
    }
}

/// One SEV metadata section descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Section {
    /// Guest physical address of the first byte.
    pub gpa: u32,
    /// Size in bytes (a whole number of pages).
    pub size: u32,
    /// What the VMM puts there.
    pub kind: SectionType,
}

/// The footer table and SEV metadata of an OVMF image, borrowed from it.
#[derive(Debug, Clone)]
pub struct Ovmf<'a> {
    image: &'a [u8],
    table: Vec<(Guid, &'a [u8])>,
    sections: Vec<Section>,
}

fn input(reason: String) -> MeasureError {
    MeasureError::Input {
        what: "OVMF image".into(),
        reason,
    }
}

impl<'a> Ovmf<'a> {
    /// Parses the footer table and the SEV metadata of `image`.
    ///
    /// Fails when the image is empty, larger than 4 GiB or not a whole number of
    /// pages, has no footer table, or when the table or metadata is malformed.
    pub fn parse(image: &'a [u8]) -> Result<Self, MeasureError> {
        let len = image.len() as u64;
        if len == 0 || len > FOUR_GIB || len % PAGE_SIZE != 0 {
            return Err(input(format!(
                "size {len} bytes: expected a non-zero multiple of 4096 up to 4 GiB"
            )));
        }
        let table = parse_footer_table(image)?;
        let mut ovmf = Self {
            image,
            table,
            sections: Vec::new(),
        };
        if let Some(entry) = ovmf.entry(&SEV_METADATA_GUID) {
            ovmf.sections = parse_metadata(image, entry)?;
        }
        Ok(ovmf)
    }

    /// The whole image.
    pub fn image(&self) -> &'a [u8] {
        self.image
    }

    /// Guest physical address of the first byte: the image ends at 4 GiB.
    pub fn gpa(&self) -> u64 {
        FOUR_GIB - self.image.len() as u64
    }

    /// The data of the footer-table entry `guid` (first one wins), if present.
    pub fn entry(&self, guid: &Guid) -> Option<&'a [u8]> {
        self.table.iter().find(|(g, _)| g == guid).map(|(_, d)| *d)
    }

    /// Footer-table entries, in the order they appear from the end.
    pub fn entries(&self) -> impl Iterator<Item = (&Guid, &'a [u8])> + '_ {
        self.table.iter().map(|(g, d)| (g, *d))
    }

    /// The SEV metadata sections, in table order (empty without metadata).
    pub fn sections(&self) -> &[Section] {
        &self.sections
    }

    /// True when the image carries SEV metadata (needed for SEV-SNP).
    pub fn has_sev_metadata(&self) -> bool {
        self.entry(&SEV_METADATA_GUID).is_some()
    }

    /// The application processors' reset IP from the SEV-ES reset block.
    pub fn sev_es_reset_eip(&self) -> Result<u32, MeasureError> {
        self.entry_u32(&SEV_ES_RESET_BLOCK_GUID, "SEV-ES reset block")
    }

    /// GPA of the SEV kernel hashes table.
    pub fn sev_hashes_table_gpa(&self) -> Result<u32, MeasureError> {
        self.entry_u32(&SEV_HASH_TABLE_RV_GUID, "SEV hash table")
    }

    fn entry_u32(&self, guid: &Guid, name: &str) -> Result<u32, MeasureError> {
        let data = self.entry(guid).ok_or_else(|| {
            input(format!(
                "footer table has no {name} entry ({})",
                guid_text(guid)
            ))
        })?;
        Reader::new(data)
            .u32_le("footer table entry value")
            .map_err(|e| input(format!("{name} entry: {e}")))
    }
}

/// The canonical text form of an EFI_GUID.
pub fn guid_text(g: &Guid) -> String {
    let mut r = Reader::new(g);
    // A Guid is 16 bytes, so every read below succeeds; fall back to hex anyway.
    match (
        r.u32_le("d1"),
        r.u16_le("d2"),
        r.u16_le("d3"),
        r.take(2, "d4"),
        r.take(6, "d5"),
    ) {
        (Ok(a), Ok(b), Ok(c), Ok(d), Ok(e)) => {
            format!(
                "{a:08x}-{b:04x}-{c:04x}-{}-{}",
                hex::encode(d),
                hex::encode(e)
            )
        }
        _ => hex::encode(g),
    }
}

fn parse_footer_table(image: &[u8]) -> Result<Vec<(Guid, &[u8])>, MeasureError> {
    let (before_reset, _reset) = image
        .split_at_checked(image.len().saturating_sub(RESET_AREA))
        .filter(|(b, _)| b.len() >= ENTRY_TRAILER)
        .ok_or_else(|| input("too small to hold an OVMF footer table".into()))?;
    let (body, footer) = before_reset
        .split_at_checked(before_reset.len() - ENTRY_TRAILER)
        .ok_or_else(|| input("too small to hold an OVMF footer table".into()))?;
    let mut r = Reader::new(footer);
    let total = usize::from(r.u16_le("footer size")?);
    let footer_guid: Guid = r.array("footer GUID")?;
    r.finish("OVMF footer")?;
    if footer_guid != FOOTER_TABLE_GUID {
        return Err(input(format!(
            "no GUIDed footer table: expected GUID {} 50 bytes before the end, got {}",
            guid_text(&FOOTER_TABLE_GUID),
            guid_text(&footer_guid)
        )));
    }
    let table_len = total.checked_sub(ENTRY_TRAILER).ok_or_else(|| {
        input(format!(
            "footer table size {total} is smaller than its own 18-byte footer"
        ))
    })?;
    let (_, mut table) = body
        .split_at_checked(body.len().saturating_sub(table_len))
        .filter(|(_, t)| t.len() == table_len)
        .ok_or_else(|| {
            input(format!(
                "footer table size {total} runs past the start of the image"
            ))
        })?;
    let mut entries = Vec::new();
    while !table.is_empty() {
        let at = table.len();
        let (rest, trailer) = table
            .split_at_checked(at.saturating_sub(ENTRY_TRAILER))
            .filter(|(_, t)| t.len() == ENTRY_TRAILER)
            .ok_or_else(|| {
                input(format!(
                    "footer table: {at} bytes left, fewer than an 18-byte entry trailer"
                ))
            })?;
        let mut r = Reader::new(trailer);
        let size = usize::from(r.u16_le("entry size")?);
        let g: Guid = r.array("entry GUID")?;
        r.finish("footer table entry trailer")?;
        let data_len = size
            .checked_sub(ENTRY_TRAILER)
            .filter(|d| *d <= rest.len())
            .ok_or_else(|| {
                input(format!(
                    "footer table entry {}: size {size} outside 18..={at}",
                    guid_text(&g)
                ))
            })?;
        let (before, data) = rest
            .split_at_checked(rest.len() - data_len)
            .ok_or_else(|| input("footer table entry out of range".into()))?;
        if entries.iter().any(|(e, _)| *e == g) {
            return Err(input(format!(
                "footer table: GUID {} appears twice",
                guid_text(&g)
            )));
        }
        entries.push((g, data));
        table = before;
    }
    Ok(entries)
}

fn parse_metadata(image: &[u8], entry: &[u8]) -> Result<Vec<Section>, MeasureError> {
    let mut r = Reader::new(entry);
    let offset = r.u32_le("SEV metadata offset")? as usize;
    // The entry is exactly the u32 offset.
    r.finish("SEV metadata footer entry")?;
    let start = image.len().checked_sub(offset).ok_or_else(|| {
        input(format!(
            "SEV metadata offset {offset} from the end is past the start of the {}-byte image",
            image.len()
        ))
    })?;
    let (_, from_header) = image
        .split_at_checked(start)
        .ok_or_else(|| input("SEV metadata offset out of range".into()))?;
    let mut r = Reader::new(from_header);
    let sig: [u8; 4] = r.array("SEV metadata signature")?;
    if &sig != b"ASEV" {
        return Err(input(format!(
            "SEV metadata signature: expected \"ASEV\", got {}",
            hex::encode(sig)
        )));
    }
    let size = r.u32_le("SEV metadata size")? as usize;
    let version = r.u32_le("SEV metadata version")?;
    if version != 1 {
        return Err(input(format!(
            "SEV metadata version: expected 1, got {version}"
        )));
    }
    let count = r.u32_le("SEV metadata section count")?;
    if count > MAX_SECTIONS {
        return Err(input(format!(
            "SEV metadata: {count} sections, at most {MAX_SECTIONS} supported"
        )));
    }
    let items_len = size.checked_sub(16).ok_or_else(|| {
        input(format!(
            "SEV metadata size {size} is smaller than its 16-byte header"
        ))
    })?;
    if items_len != count as usize * 12 {
        return Err(input(format!(
            "SEV metadata size {size}: expected 16 + 12 x {count} sections = {}",
            16 + count as usize * 12
        )));
    }
    let mut items = Reader::new(r.take(items_len, "SEV metadata sections")?);
    let mut sections = Vec::new();
    for i in 0..count {
        let gpa = items.u32_le("section GPA")?;
        let size = items.u32_le("section size")?;
        let ty = items.u32_le("section type")?;
        let kind = SectionType::from_u32(ty)
            .ok_or_else(|| input(format!("SEV metadata section {i}: unknown type {ty:#x}")))?;
        if size == 0 || u64::from(size) % PAGE_SIZE != 0 || u64::from(gpa) % PAGE_SIZE != 0 {
            return Err(input(format!(
                "SEV metadata section {i}: GPA {gpa:#x} size {size:#x}: expected page-aligned, non-empty"
            )));
        }
        if matches!(kind, SectionType::SnpSecrets | SectionType::Cpuid)
            && u64::from(size) != PAGE_SIZE
        {
            return Err(input(format!(
                "SEV metadata section {i} ({kind:?}): size {size:#x}, expected one page"
            )));
        }
        sections.push(Section { gpa, size, kind });
    }
    items.finish("SEV metadata sections")?;
    Ok(sections)
}

/// Serializes sections back to the metadata layout (header + descriptors), for round-trip tests.
pub fn encode_metadata(sections: &[Section]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + 12 * sections.len());
    out.extend_from_slice(b"ASEV");
    out.extend_from_slice(&((16 + 12 * sections.len()) as u32).to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&(sections.len() as u32).to_le_bytes());
    for s in sections {
        out.extend_from_slice(&s.gpa.to_le_bytes());
        out.extend_from_slice(&s.size.to_le_bytes());
        out.extend_from_slice(&s.kind.to_u32().to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An 8 KiB image whose last page holds the metadata, a reset block and the footer table.
    fn synthetic() -> Vec<u8> {
        let sections = [
            Section {
                gpa: 0x80_0000,
                size: 0x9000,
                kind: SectionType::SnpSecMem,
            },
            Section {
                gpa: 0x80_9000,
                size: 0x1000,
                kind: SectionType::SnpSecrets,
            },
            Section {
                gpa: 0x80_a000,
                size: 0x1000,
                kind: SectionType::Cpuid,
            },
        ];
        let meta = encode_metadata(&sections);
        let mut img = vec![0u8; 8192];
        let meta_at = 4096;
        img[meta_at..meta_at + meta.len()].copy_from_slice(&meta);
        let mut table = Vec::new();
        // Entries are written front to back; the parser reads them back to front.
        table.extend_from_slice(&0x80_b004u32.to_le_bytes());
        table.extend_from_slice(&22u16.to_le_bytes());
        table.extend_from_slice(&SEV_ES_RESET_BLOCK_GUID);
        table.extend_from_slice(&((8192 - meta_at) as u32).to_le_bytes());
        table.extend_from_slice(&22u16.to_le_bytes());
        table.extend_from_slice(&SEV_METADATA_GUID);
        table.extend_from_slice(&((table.len() + 18) as u16).to_le_bytes());
        table.extend_from_slice(&FOOTER_TABLE_GUID);
        let end = 8192 - 32;
        img[end - table.len()..end].copy_from_slice(&table);
        img
    }

    #[test]
    fn parses_and_round_trips_synthetic_image() {
        let img = synthetic();
        let o = Ovmf::parse(&img).unwrap();
        assert_eq!(o.gpa(), (1 << 32) - 8192);
        assert_eq!(o.sev_es_reset_eip().unwrap(), 0x80_b004);
        assert!(o.sev_hashes_table_gpa().is_err());
        assert_eq!(o.entries().count(), 2);
        assert_eq!(o.sections().len(), 3);
        let meta = encode_metadata(o.sections());
        assert_eq!(&img[4096..4096 + meta.len()], meta.as_slice());
        assert_eq!(
            guid_text(&SEV_METADATA_GUID),
            "dc886566-984a-4798-a75e-5585a7bf67cc"
        );
    }

    #[test]
    fn no_panic_on_any_single_byte_change_near_the_tables() {
        let img = synthetic();
        let mut rejected = 0;
        for at in (4096..4096 + 52).chain(8192 - 32 - 80..8192 - 32) {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bad = img.clone();
                bad[at] ^= flip;
                if Ovmf::parse(&bad).is_err() {
                    rejected += 1;
                }
            }
        }
        // Most single-byte changes in headers, lengths, GUIDs and types are caught.
        assert!(rejected > 100, "only {rejected} mutations rejected");
    }

    #[test]
    fn duplicate_guid_is_rejected() {
        let mut img = synthetic();
        // Turn the reset-block entry into a second metadata entry.
        // Layout from the end: reset area (32), footer (18), metadata entry (22),
        // then the reset-block entry whose GUID ends 18 bytes later.
        let at = 8192 - 32 - 18 - 22 - 16;
        assert_eq!(&img[at..at + 16], &SEV_ES_RESET_BLOCK_GUID);
        img[at..at + 16].copy_from_slice(&SEV_METADATA_GUID);
        let err = Ovmf::parse(&img).unwrap_err().to_string();
        assert!(err.contains("twice"), "{err}");
    }
}
