//! The Authenticode digest of a PE/COFF image: what UEFI firmware measures
//! for an `EV_EFI_BOOT_SERVICES_APPLICATION` (TCG PC Client PFP 1.06 §10.4.4
//! "PCR[4]": the digest of the image is its Authenticode hash).
//!
//! Specifications:
//! * Microsoft, "Windows Authenticode Portable Executable Signature Format"
//!   (1.0, 2008), "Calculating the PE Image Hash": hash the headers without
//!   the `CheckSum` field and the Certificate Table data-directory entry, then
//!   the sections in ascending `PointerToRawData` order (those with a
//!   `SizeOfRawData`), then whatever follows the last section except the
//!   attribute certificate table.
//! * Microsoft PE Format (the PE/COFF specification): the MS-DOS stub's
//!   `e_lfanew` at 0x3c, the `PE\0\0` signature, the 20-byte COFF header
//!   (`NumberOfSections` at +2, `SizeOfOptionalHeader` at +16), the optional
//!   header (magic 0x10b PE32 / 0x20b PE32+, `SizeOfHeaders` at +60,
//!   `CheckSum` at +64, `NumberOfRvaAndSizes` at +92 / +108, data directories
//!   from +96 / +112, the Certificate Table being entry 4) and the 40-byte
//!   section headers (`SizeOfRawData` at +16, `PointerToRawData` at +20).
//!
//! As UEFI firmware does (EDK2's `DxeTpm2MeasureBootLib`), the image is the
//! whole file: bytes after the last section are hashed up to the start of a
//! certificate table, and an image without a Certificate Table entry (fewer
//! than five data directories) hashes its headers from after `CheckSum`.
//!
//! Input is bytes; every offset is checked, so a malformed image is an error,
//! never a panic.

use sealbuild_common::HashAlg;
use thiserror::Error;

/// Why an image has no Authenticode digest.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PeError {
    /// A structure or range lies outside the file, or a field is invalid.
    #[error("not a PE/COFF image: {0}")]
    Malformed(String),
}

fn bad(s: impl Into<String>) -> PeError {
    PeError::Malformed(s.into())
}

fn u16_at(b: &[u8], off: usize, what: &str) -> Result<u16, PeError> {
    b.get(off..off.saturating_add(2))
        .and_then(|s| <[u8; 2]>::try_from(s).ok())
        .map(u16::from_le_bytes)
        .ok_or_else(|| bad(format!("{what} at 0x{off:x} is past the end of the file")))
}

fn u32_at(b: &[u8], off: usize, what: &str) -> Result<u32, PeError> {
    b.get(off..off.saturating_add(4))
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map(u32::from_le_bytes)
        .ok_or_else(|| bad(format!("{what} at 0x{off:x} is past the end of the file")))
}

fn to_usize(v: u32) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// The byte ranges the Authenticode hash covers, in hashing order.
pub fn hashed_ranges(image: &[u8]) -> Result<Vec<(usize, usize)>, PeError> {
    if image.get(0..2) != Some(b"MZ".as_slice()) {
        return Err(bad("no MZ signature"));
    }
    let pe = to_usize(u32_at(image, 0x3c, "e_lfanew")?);
    if image.get(pe..pe.saturating_add(4)) != Some(b"PE\0\0".as_slice()) {
        return Err(bad(format!("no PE signature at 0x{pe:x}")));
    }
    let coff = pe + 4;
    let sections = usize::from(u16_at(image, coff + 2, "NumberOfSections")?);
    let opt_size = usize::from(u16_at(image, coff + 16, "SizeOfOptionalHeader")?);
    let opt = coff + 20;
    let (dirs_count_off, dirs_off) = match u16_at(image, opt, "optional header magic")? {
        0x10b => (opt + 92, opt + 96),
        0x20b => (opt + 108, opt + 112),
        m => return Err(bad(format!("optional header magic 0x{m:x}"))),
    };
    let checksum = opt + 64;
    let size_of_headers = to_usize(u32_at(image, opt + 60, "SizeOfHeaders")?);
    let dirs = to_usize(u32_at(image, dirs_count_off, "NumberOfRvaAndSizes")?);
    if size_of_headers > image.len() || size_of_headers < checksum + 4 {
        return Err(bad(format!(
            "SizeOfHeaders 0x{size_of_headers:x} does not fit the file"
        )));
    }
    let mut ranges = vec![(0, checksum)];
    let mut cert: Option<(usize, usize)> = None;
    if dirs > 4 {
        let cert_dir = dirs_off + 4 * 8;
        if cert_dir + 8 > size_of_headers {
            return Err(bad("the Certificate Table entry lies outside the headers"));
        }
        ranges.push((checksum + 4, cert_dir));
        ranges.push((cert_dir + 8, size_of_headers));
        let addr = to_usize(u32_at(image, cert_dir, "Certificate Table")?);
        let size = to_usize(u32_at(image, cert_dir + 4, "Certificate Table size")?);
        if size > 0 {
            cert = Some((addr, size));
        }
    } else {
        ranges.push((checksum + 4, size_of_headers));
    }
    let table = opt + opt_size;
    let mut raw = Vec::with_capacity(sections);
    for i in 0..sections {
        let h = table + i * 40;
        let size = to_usize(u32_at(image, h + 16, "SizeOfRawData")?);
        let ptr = to_usize(u32_at(image, h + 20, "PointerToRawData")?);
        if size == 0 {
            continue;
        }
        if ptr.checked_add(size).is_none_or(|end| end > image.len()) {
            return Err(bad(format!(
                "section {i}: raw data 0x{ptr:x}+0x{size:x} lies outside the file"
            )));
        }
        raw.push((ptr, size));
    }
    raw.sort_unstable();
    let mut hashed = size_of_headers;
    for (ptr, size) in raw {
        ranges.push((ptr, ptr + size));
        hashed += size;
    }
    if image.len() > hashed {
        let cert_size = cert.map_or(0, |(_, s)| s);
        let end = image
            .len()
            .checked_sub(cert_size)
            .filter(|e| *e >= hashed)
            .ok_or_else(|| bad("the certificate table overlaps the sections"))?;
        ranges.push((hashed, end));
    }
    Ok(ranges)
}

/// The Authenticode digest of `image` with `alg`.
pub fn digest(image: &[u8], alg: HashAlg) -> Result<Vec<u8>, PeError> {
    let parts = hashed_ranges(image)?
        .into_iter()
        .map(|(a, b)| {
            image
                .get(a..b)
                .ok_or_else(|| bad(format!("range 0x{a:x}..0x{b:x}")))
        })
        .collect::<Result<Vec<&[u8]>, PeError>>()?;
    Ok(alg.digest_parts(&parts))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal PE32+ image: headers, one section, trailing bytes.
    fn image(cert: Option<u32>) -> Vec<u8> {
        let mut b = vec![0u8; 0x400];
        b[0..2].copy_from_slice(b"MZ");
        b[0x3c..0x40].copy_from_slice(&0x80u32.to_le_bytes());
        b[0x80..0x84].copy_from_slice(b"PE\0\0");
        b[0x86..0x88].copy_from_slice(&1u16.to_le_bytes());
        b[0x94..0x96].copy_from_slice(&240u16.to_le_bytes());
        let opt = 0x98;
        b[opt..opt + 2].copy_from_slice(&0x20bu16.to_le_bytes());
        b[opt + 60..opt + 64].copy_from_slice(&0x200u32.to_le_bytes());
        b[opt + 64..opt + 68].copy_from_slice(&0xdeadu32.to_le_bytes());
        b[opt + 108..opt + 112].copy_from_slice(&16u32.to_le_bytes());
        let sec = opt + 240;
        b[sec + 16..sec + 20].copy_from_slice(&0x100u32.to_le_bytes());
        b[sec + 20..sec + 24].copy_from_slice(&0x200u32.to_le_bytes());
        for (i, x) in b.iter_mut().enumerate().skip(0x200) {
            *x = (i % 251) as u8;
        }
        if let Some(size) = cert {
            let d = opt + 112 + 32;
            b[d..d + 4].copy_from_slice(&(0x400 - size).to_le_bytes());
            b[d + 4..d + 8].copy_from_slice(&size.to_le_bytes());
        }
        b
    }

    #[test]
    fn ranges_skip_checksum_and_cert_entry_and_cover_the_rest() {
        let r = hashed_ranges(&image(None)).unwrap();
        let opt = 0x98;
        assert_eq!(
            r,
            vec![
                (0, opt + 64),
                (opt + 68, opt + 144),
                (opt + 152, 0x200),
                (0x200, 0x300),
                (0x300, 0x400)
            ]
        );
        let r = hashed_ranges(&image(Some(0x80))).unwrap();
        assert_eq!(r.last(), Some(&(0x300, 0x380)));
    }

    #[test]
    fn checksum_and_certificate_do_not_change_the_digest() {
        let a = image(None);
        let mut b = a.clone();
        b[0x98 + 64] ^= 0xff;
        assert_eq!(
            digest(&a, HashAlg::Sha256).unwrap(),
            digest(&b, HashAlg::Sha256).unwrap()
        );
        b[0x250] ^= 1;
        assert_ne!(
            digest(&a, HashAlg::Sha256).unwrap(),
            digest(&b, HashAlg::Sha256).unwrap()
        );
    }

    #[test]
    fn garbage_and_truncations_are_errors() {
        assert!(digest(b"", HashAlg::Sha256).is_err());
        assert!(digest(b"MZ", HashAlg::Sha256).is_err());
        let img = image(None);
        for n in 0..img.len() {
            // Only the full image hashes; no cut panics.
            let _ = digest(&img[..n], HashAlg::Sha256);
        }
        let mut big = image(None);
        big[0x98 + 240 + 16..0x98 + 240 + 20].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(digest(&big, HashAlg::Sha256).is_err());
    }
}
