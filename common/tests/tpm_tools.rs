//! tpm2-tools 5.4 PCR files: the files `tpm2_quote -o` wrote against swtpm
//! parse to the PCR values the quote signed, our writer reproduces them byte
//! for byte, and every byte the format requires to be zero is checked.
// Test code: a failed unwrap, expect or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod tpm_support;

use sealbuild_common::tpm::{
    parse_tools_pcr_values, parse_tools_pcrs, write_tools_pcr_values, write_tools_pcrs, Attest,
    PcrSelectionList, PcrValues, ToolsPcrFile,
};
use sealbuild_common::{FormatError, HashAlg};
use tpm_support::*;

fn quote(name: &str) -> Attest {
    Attest::parse(&data(&format!("tpm2-tools-5.4-swtpm/{name}.quote"))).unwrap()
}

/// PCR `i` after one `tpm2_pcrextend i:alg=H("sealbuild-ii")` from zero.
fn extended(hash: HashAlg, i: u32) -> Vec<u8> {
    hash.extend(
        &vec![0u8; hash.size()],
        &hash.digest(format!("sealbuild-{i:02}").as_bytes()),
    )
}

#[test]
fn serialized_file_matches_the_quote() {
    let file = data("tpm2-tools-5.4-swtpm/rsa.pcrs");
    let q = quote("rsa");
    let sel = q.quote().unwrap().pcr_select();
    assert_eq!(sel.to_string(), "sha256:0,1,2,3,4,5,6,7,8,9,10+sha1:0,1");

    let f = ToolsPcrFile::parse(&file).unwrap();
    assert_eq!(f.to_bytes(), file, "round trip");
    assert!(f.selection().same_pcrs(sel));
    assert_eq!(
        f.values().digest(sel, HashAlg::Sha256).unwrap(),
        q.quote().unwrap().pcr_digest()
    );

    // The values are the ones we extended (PCR 6 was left alone).
    let v = f.values();
    for i in [0, 1, 2, 3, 4, 5, 7, 8, 9, 10] {
        assert_eq!(
            v.get(HashAlg::Sha256, i).unwrap(),
            extended(HashAlg::Sha256, i),
            "sha256 PCR {i}"
        );
    }
    assert_eq!(v.get(HashAlg::Sha256, 6).unwrap(), &[0u8; 32]);
    assert_eq!(v.get(HashAlg::Sha1, 1).unwrap(), extended(HashAlg::Sha1, 1));

    // Our writer produces exactly what tpm2_quote wrote (8 + 5 digests).
    assert_eq!(write_tools_pcrs(v, sel).unwrap(), file);
    assert_eq!(&parse_tools_pcrs(&file, sel).unwrap(), v);
    assert_prefixes_and_trailing_rejected("rsa.pcrs", &file, ToolsPcrFile::parse);
}

#[test]
fn serialized_file_with_two_hash_sizes() {
    let file = data("tpm2-tools-5.4-swtpm/ecc.pcrs");
    let q = quote("ecc");
    let sel = q.quote().unwrap().pcr_select();
    assert_eq!(sel.to_string(), "sha256:0,7,23+sha384:0");
    let v = parse_tools_pcrs(&file, sel).unwrap();
    assert_eq!(
        v.digest(sel, HashAlg::Sha256).unwrap(),
        q.quote().unwrap().pcr_digest()
    );
    assert_eq!(
        v.get(HashAlg::Sha384, 0).unwrap(),
        vec![0u8; 48],
        "sha384 bank was not extended"
    );
    assert_eq!(write_tools_pcrs(&v, sel).unwrap(), file);
}

#[test]
fn selection_must_be_the_expected_one() {
    let file = data("tpm2-tools-5.4-swtpm/rsa.pcrs");
    for other in [
        "sha256:0,1,2,3,4,5,6,7,8,9,10",
        "sha1:0,1+sha256:0,1,2,3,4,5,6,7,8,9,10",
        "sha256:0,1,2,3,4,5,6,7,8,9,11+sha1:0,1",
    ] {
        let err = parse_tools_pcrs(&file, &PcrSelectionList::parse_tools_spec(other).unwrap())
            .unwrap_err();
        assert!(err.to_string().contains(other), "{err}");
    }
}

#[test]
fn values_form_matches_the_quote() {
    let file = data("tpm2-tools-5.4-swtpm/rsa-values.pcrs");
    let q = quote("rsa-values");
    let sel = q.quote().unwrap().pcr_select();
    assert_eq!(file.len(), 11 * 32 + 2 * 20);
    let v = parse_tools_pcr_values(&file, sel).unwrap();
    assert_eq!(
        v.digest(sel, HashAlg::Sha256).unwrap(),
        q.quote().unwrap().pcr_digest()
    );
    assert_eq!(write_tools_pcr_values(&v, sel).unwrap(), file);
    assert_prefixes_and_trailing_rejected("rsa-values.pcrs", &file, |b| {
        parse_tools_pcr_values(b, sel)
    });
    assert!(write_tools_pcr_values(&PcrValues::new(), sel).is_err());
}

/// Offsets of `rsa.pcrs` whose byte must be zero: selection padding and unused
/// entries, unused digest slots and buffer tails.
fn zero_offsets(file: &[u8]) -> Vec<usize> {
    let mut z = Vec::new();
    let banks = u32::from_le_bytes(file[0..4].try_into().unwrap()) as usize;
    for e in 0..16 {
        let base = 4 + 8 * e;
        if e < banks {
            let size = file[base + 2] as usize;
            z.extend(base + 3 + size..base + 8);
        } else {
            z.extend(base..base + 8);
        }
    }
    let lists = u32::from_le_bytes(file[132..136].try_into().unwrap()) as usize;
    for l in 0..lists {
        let base = 136 + 532 * l;
        let count = u32::from_le_bytes(file[base..base + 4].try_into().unwrap()) as usize;
        for k in 0..8 {
            let slot = base + 4 + 66 * k;
            if k < count {
                let size = u16::from_le_bytes([file[slot], file[slot + 1]]) as usize;
                z.extend(slot + 2 + size..slot + 66);
            } else {
                z.extend(slot..slot + 66);
            }
        }
    }
    z
}

#[test]
fn every_reserved_byte_is_checked() {
    let file = data("tpm2-tools-5.4-swtpm/rsa.pcrs");
    let zeros = zero_offsets(&file);
    // Selection: 2 × (unused pcrSelect[3] + padding) + 14 unused entries × 8;
    // digests: 8 SHA-256 tails × 32, then 3 × 32 + 2 SHA-1 tails × 44, 3 unused slots × 66.
    assert_eq!(
        zeros.len(),
        2 * 2 + 14 * 8 + 8 * 32 + 3 * 32 + 2 * 44 + 3 * 66
    );
    for &at in &zeros {
        assert_eq!(file[at], 0, "offset {at} of the real file");
        assert!(
            ToolsPcrFile::parse(&patched(&file, at, &[1])).is_err(),
            "non-zero byte at {at} accepted"
        );
    }
    // Digest bytes are data: changing one parses but changes the value.
    let mut m = file.clone();
    m[136 + 4 + 2] ^= 1;
    let v = ToolsPcrFile::parse(&m).unwrap();
    assert_ne!(
        v.values().get(HashAlg::Sha256, 0),
        ToolsPcrFile::parse(&file)
            .unwrap()
            .values()
            .get(HashAlg::Sha256, 0)
    );
}

#[test]
fn counts_and_sizes_checked() {
    let file = data("tpm2-tools-5.4-swtpm/rsa.pcrs");
    let bad = |at: usize, with: &[u8], what: &str| {
        assert!(
            ToolsPcrFile::parse(&patched(&file, at, with)).is_err(),
            "{what} accepted"
        );
    };
    bad(0, &0u32.to_le_bytes(), "0 banks");
    bad(
        0,
        &1u32.to_le_bytes(),
        "1 bank (its zero-filled neighbour is then padding)",
    );
    bad(0, &3u32.to_le_bytes(), "3 banks (third is hash 0)");
    bad(0, &17u32.to_le_bytes(), "17 banks");
    bad(4, &0x0012u16.to_le_bytes(), "SM3 bank");
    bad(4 + 2, &[2], "sizeofSelect 2");
    bad(4 + 2, &[5], "sizeofSelect 5");
    bad(132, &0u32.to_le_bytes(), "0 digest lists");
    bad(
        132,
        &1u32.to_le_bytes(),
        "1 digest list (5 digests missing; 532 trailing bytes)",
    );
    bad(132, &3u32.to_le_bytes(), "3 digest lists");
    bad(132, &33u32.to_le_bytes(), "33 digest lists");
    bad(136, &9u32.to_le_bytes(), "TPML_DIGEST.count 9");
    bad(136, &7u32.to_le_bytes(), "TPML_DIGEST.count 7");
    bad(
        136 + 4,
        &20u16.to_le_bytes(),
        "SHA-1-sized digest for a SHA-256 PCR",
    );
    bad(136 + 4, &65u16.to_le_bytes(), "digest size 65");
}

/// Builds a serialized file by hand with the given digest split.
fn build(sel: &PcrSelectionList, values: &PcrValues, split: &[usize]) -> Vec<u8> {
    let mut out = (sel.banks().len() as u32).to_le_bytes().to_vec();
    for e in 0..16 {
        let mut entry = [0u8; 8];
        if let Some(b) = sel.banks().get(e) {
            entry[0..2].copy_from_slice(&b.hash().alg_id().to_le_bytes());
            entry[2] = b.bitmap().len() as u8;
            entry[3..3 + b.bitmap().len()].copy_from_slice(b.bitmap());
        }
        out.extend_from_slice(&entry);
    }
    out.extend_from_slice(&(split.len() as u32).to_le_bytes());
    let mut digests = values.selected(sel).unwrap().into_iter();
    for &n in split {
        out.extend_from_slice(&(n as u32).to_le_bytes());
        for k in 0..8 {
            let mut slot = [0u8; 66];
            if k < n {
                let d = digests.next().unwrap();
                slot[0..2].copy_from_slice(&(d.len() as u16).to_le_bytes());
                slot[2..2 + d.len()].copy_from_slice(d);
            }
            out.extend_from_slice(&slot);
        }
    }
    out
}

#[test]
fn any_split_is_read_and_kept() {
    let file = data("tpm2-tools-5.4-swtpm/rsa.pcrs");
    let canonical = ToolsPcrFile::parse(&file).unwrap();
    let sel = canonical.selection().clone();
    assert_eq!(
        build(&sel, canonical.values(), &[8, 5]),
        file,
        "hand-built canonical file"
    );
    for split in [vec![5, 8], vec![1, 4, 8], vec![8, 0, 5], vec![1; 13]] {
        let f = build(&sel, canonical.values(), &split);
        let parsed = ToolsPcrFile::parse(&f).unwrap();
        assert_eq!(parsed.values(), canonical.values(), "split {split:?}");
        assert_eq!(parsed.to_bytes(), f, "split {split:?} round trip");
        assert_eq!(
            write_tools_pcrs(parsed.values(), &sel).unwrap(),
            file,
            "writer normalises {split:?}"
        );
    }
}

#[test]
fn writer_edge_cases() {
    let sel = PcrSelectionList::parse_tools_spec("sha1:none").unwrap();
    let empty = write_tools_pcrs(&PcrValues::new(), &sel).unwrap();
    // One empty digest list, as tpm2_quote's single PCR_Read would give.
    assert_eq!(empty.len(), 132 + 4 + 532);
    assert_eq!(ToolsPcrFile::parse(&empty).unwrap().to_bytes(), empty);
    let sel = PcrSelectionList::parse_tools_spec("sha256:0,1").unwrap();
    let mut v = PcrValues::new();
    v.insert(HashAlg::Sha256, 0, &[1; 32]).unwrap();
    assert!(matches!(
        write_tools_pcrs(&v, &sel),
        Err(FormatError::Unexpected { .. })
    ));
}
