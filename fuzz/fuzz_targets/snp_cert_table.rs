//! Fuzzes the GHCB certificate-table parser (the host-written configfs-tsm
//! `auxblob`): no panic on any input; whatever is accepted serialises to a
//! canonical form that parses to the same table and serialises identically.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealbuild_common::snp::certtable::CertTable;

fuzz_target!(|data: &[u8]| {
    if let Ok(table) = CertTable::parse(data) {
        let canonical = table.to_bytes();
        let again = CertTable::parse(&canonical).expect("the canonical form parses");
        assert_eq!(again, table);
        assert_eq!(again.to_bytes(), canonical);
        let known = table.certificates();
        assert_eq!(
            known.certificates.len() + known.unknown.len(),
            table.entries.len()
        );
    }
});
