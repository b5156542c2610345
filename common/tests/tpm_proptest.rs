//! No TPM parser panics on random bytes or on random mutations of real
//! structures, and whatever a parser accepts re-serialises to the same bytes.
//! Case counts are bounded so the whole file runs in well under two seconds.
// Test code: a failed unwrap, expect or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod tpm_support;

use proptest::prelude::*;
use sealbuild_common::tpm::{
    parse_tools_pcr_values, Attest, PcrSelectionList, Public, Signature, ToolsPcrFile,
};
use tpm_support::*;

/// Runs every parser on `bytes`; each accepted input must round-trip.
fn check_all(bytes: &[u8]) {
    if let Ok(a) = Attest::parse(bytes) {
        assert_eq!(a.to_bytes(), bytes);
    }
    if let Ok(s) = Signature::parse(bytes) {
        assert_eq!(s.to_bytes(), bytes);
    }
    if let Ok(p) = Public::parse(bytes) {
        assert_eq!(p.to_bytes(), bytes);
        let _ = p.public_key();
        let _ = p.name();
    }
    if let Ok(p) = Public::parse_tpm2b(bytes) {
        assert_eq!(p.to_tpm2b_bytes(), bytes);
    }
    if let Ok(l) = PcrSelectionList::parse(bytes) {
        assert_eq!(l.to_bytes(), bytes);
        let _ = l.to_string();
    }
    if let Ok(f) = ToolsPcrFile::parse(bytes) {
        assert_eq!(f.to_bytes(), bytes);
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        if let Ok(l) = PcrSelectionList::parse_tools_spec(text) {
            assert_eq!(
                PcrSelectionList::parse_tools_spec(&l.to_string()).unwrap(),
                l
            );
        }
    }
}

fn corpus() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = real_attests().into_iter().map(|(_, b)| b).collect();
    out.extend(real_signatures().into_iter().map(|(_, b)| b));
    out.extend(real_publics().into_iter().map(|(_, b)| b));
    out.push(data("tpm2-tools-5.4-swtpm/ak-rsa.pub"));
    out.push(data("tpm2-tools-5.4-swtpm/ecc.pcrs"));
    out.push(data("tpm2-tools-5.4-swtpm/rsa.pcrs"));
    out.push(hex::decode("00000002000b03070000000403810000").unwrap());
    out.push(b"sha256:0,1,2+sha1:0,7".to_vec());
    out
}

#[derive(Debug, Clone)]
enum Mutation {
    Xor(usize, u8),
    Set(usize, u8),
    Truncate(usize),
    Insert(usize, u8),
    Remove(usize),
}

fn apply(mut b: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        if b.is_empty() {
            break;
        }
        match *m {
            Mutation::Xor(i, x) => {
                let n = b.len();
                b[i % n] ^= x;
            }
            Mutation::Set(i, v) => {
                let n = b.len();
                b[i % n] = v;
            }
            Mutation::Truncate(i) => {
                let n = b.len();
                b.truncate(i % n);
            }
            Mutation::Insert(i, v) => {
                let n = b.len();
                b.insert(i % (n + 1), v);
            }
            Mutation::Remove(i) => {
                let n = b.len();
                b.remove(i % n);
            }
        }
    }
    b
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), 1u8..).prop_map(|(i, x)| Mutation::Xor(i, x)),
        2 => (any::<usize>(), prop_oneof![Just(0u8), Just(0xff), Just(0x80), any::<u8>()]).prop_map(|(i, v)| Mutation::Set(i, v)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(i, v)| Mutation::Insert(i, v)),
        1 => any::<usize>().prop_map(Mutation::Remove),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..700)) {
        check_all(&bytes);
    }

    #[test]
    fn random_tpm_shaped_bytes_never_panic(
        head in prop_oneof![
            Just(vec![0xff, 0x54, 0x43, 0x47, 0x80, 0x18]),
            Just(vec![0xff, 0x54, 0x43, 0x47, 0x80, 0x17]),
            Just(vec![0xff, 0x54, 0x43, 0x47, 0x80, 0x1a]),
            Just(vec![0x00, 0x14, 0x00, 0x0b]),
            Just(vec![0x00, 0x18, 0x00, 0x0b]),
            Just(vec![0x00, 0x01, 0x00, 0x0b]),
            Just(vec![0x00, 0x23, 0x00, 0x0b]),
            Just(vec![0x00, 0x00, 0x00, 0x01, 0x00, 0x0b, 0x03]),
        ],
        tail in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        check_all(&[head, tail].concat());
    }
}

#[test]
fn mutated_real_structures_never_panic() {
    let corpus = corpus();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 1500,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let strategy = (0..corpus.len(), proptest::collection::vec(mutation(), 1..4));
    runner
        .run(&strategy, |(which, muts)| {
            let mutated = apply(corpus[which].clone(), &muts);
            check_all(&mutated);
            // The -F values reader with the quote selections.
            let sel = PcrSelectionList::parse_tools_spec("sha256:0,1,2,3,4,5,6,7,8,9,10+sha1:0,1")
                .unwrap();
            let _ = parse_tools_pcr_values(&mutated, &sel);
            Ok(())
        })
        .unwrap();
}
