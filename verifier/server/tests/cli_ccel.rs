//! `sealbuild-verifier eventlog replay --ccel FILE [--ccel-table FILE] [--json]`
//! on the real CCEL vectors (test-data manifest §2.7, §2.9): RTMR0–3 in text
//! and JSON, and the exit codes (0 replayed, 1 malformed log or table with a
//! `malformed_evidence` reason naming file, record and field, 2 usage or I/O).
// Test code: a failed unwrap, expect or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod cli_support;

use cli_support::s as p;
use std::path::PathBuf;

fn data(rel: &str) -> PathBuf {
    cli_support::data(&format!("tdx/{rel}"))
}

/// `eventlog replay ARGS`: (exit code, stdout, stdout + stderr)
fn run(args: &[&str]) -> (i32, String, String) {
    cli_support::run_text(&["eventlog", "replay"], args)
}

/// RTMR0–2 of go-tdx-guest's COS 113 quote (manifest §2.7), RTMR3 zero.
const GO_TDX_GUEST: [&str; 4] = [
    "3fa2f61f395b7f5feefb4ec2df61297f109ad8abcd6410c1b7df60f21f37b19297fc35e544039c7e1edece752afd17f6",
    "f62dbc072bd5d3f3438b7b35c39a727f5aea2ffc2473f43723953f530daf62504f0a7944aa62c41a86e8a878c2b122c1",
    "4969684dc87381fc3b3134176c8d8806eaf0a901859f5f70cfae8d17714b46c10a8de219048c9fc09f11f381a6fbe7c1",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
];

#[test]
fn replays_the_go_tdx_guest_ccel_to_its_quotes_rtmrs() {
    let area = data("go-tdx-guest/ccel/ccel_data.dat");
    let table = data("go-tdx-guest/ccel/ccel_table.dat");
    for extra in [vec![], vec!["--ccel-table", p(&table)]] {
        let mut args = vec!["--ccel", p(&area), "--json"];
        args.extend(&extra);
        let (code, stdout, all) = run(&args);
        assert_eq!(code, 0, "{all}");
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let want = serde_json::json!({
            "rtmr0": GO_TDX_GUEST[0],
            "rtmr1": GO_TDX_GUEST[1],
            "rtmr2": GO_TDX_GUEST[2],
            "rtmr3": GO_TDX_GUEST[3],
        });
        assert_eq!(v, want);
    }

    let (code, stdout, all) = run(&["--ccel", p(&area), "--ccel-table", p(&table)]);
    assert_eq!(code, 0, "{all}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with(
            "CCEL: Spec ID Event03, digests sha384; 43 events; 244043 bytes of 0xff padding"
        ),
        "{stdout}"
    );
    assert!(lines[1].contains("CC type 2 (TDX)"), "{stdout}");
    for (i, want) in GO_TDX_GUEST.iter().enumerate() {
        let line = lines[2 + i];
        assert!(line.starts_with(&format!("RTMR{i}: {want}  (")), "{line}");
    }
    assert!(lines[5].ends_with("(no events)"), "{stdout}");
}

#[test]
fn replays_every_trustee_ccel_to_its_stated_rtmrs() {
    // Manifest §2.9: RTMR0..2 (RTMR3 is zero except for the AAEL log).
    let cases: [(&str, [&str; 4]); 3] = [
        (
            "CCEL_data",
            [
                "2dc712306a963eadb894ad47dbaa17df44814151555aee11cbb843becca88950ffd079664902e6f22c66f7c8213543f4",
                "0fa3be56af61208bbd179dc7b124988eb929319154663c539d6f46445ecac2fec287075047ff7bd1922829fec28cd3cf",
                "",
                "",
            ],
        ),
        (
            "CCEL_data_grub_gke",
            [
                "bc9945139042cf2cc75caf920aa57f14884ecfd7e893bccc51250c8ce90eb53ce72741e6adaa18183eb1331a87d4544a",
                "c17cb288a4dee302bb9ed8d27257a168f3264ad68cab53757f37eeaa7039657fa887cad65cf910e0fdc435ff110f8a7b",
                "334aeba2c985f8886cea97d1ecffbd512769d528b9a94009583db667ad7d2faa7d37fa145d75b192ceee2d2f10b2eb6d",
                "",
            ],
        ),
        (
            "CCEL_AAEL_alibabacloud",
            [
                "b796e1c11396c198ae88794def4cb8e24fa9b35468287c298087f00d4de7433e4e31a297a4e5a03d4300fa6f3a96d47c",
                "3b0b906140fcea689c8774ac1eafcf0fef8e22ba81a047fd750ebd7df3235c2704df6106a758e31e5645e9838ff37406",
                "35f2801338c1b5fce96518f058c37e0fe9ed247a12dcd5f50d9c18fe4b6c71311bb63fca2640c7915817b6aa412a8480",
                "5e4ecd49d3c7983d6f9ca36755b5cee0b423d7fa8c5a88aeb0681bd4698772bc37b4463dc5f722efe352a66417257dad",
            ],
        ),
    ];
    for (name, rtmrs) in cases {
        let (code, stdout, all) = run(&[
            "--ccel",
            p(&data(&format!("trustee/ccel/{name}"))),
            "--json",
        ]);
        assert_eq!(code, 0, "{name}: {all}");
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        for (i, want) in rtmrs.iter().enumerate() {
            let want = if want.is_empty() {
                "00".repeat(48)
            } else {
                want.to_string()
            };
            assert_eq!(v[format!("rtmr{i}")], want, "{name} RTMR{i}");
        }
    }
}

#[test]
fn a_malformed_log_or_table_exits_1_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let area = std::fs::read(data("go-tdx-guest/ccel/ccel_data.dat")).unwrap();
    let table = data("go-tdx-guest/ccel/ccel_table.dat");

    // Truncated inside event 7 (a 4499-byte EV_EFI_VARIABLE_DRIVER_CONFIG).
    let cut = dir.path().join("cut.bin");
    std::fs::write(&cut, &area[..5000]).unwrap();
    let (code, stdout, all) = run(&["--ccel", p(&cut), "--json"]);
    assert_eq!(code, 1, "{all}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["verdict"], "rejected");
    assert_eq!(v["reasons"][0]["check"], "malformed_evidence");
    let msg = v["reasons"][0]["message"].as_str().unwrap();
    assert!(
        msg.contains("not a valid CCEL log area: event 7 at offset 4012: TCG_PCR_EVENT2.EventSize: truncated"),
        "{msg}"
    );

    // Bytes after the padding.
    let mut tail = area.clone();
    let n = tail.len();
    tail[n - 100] = 0x42;
    let bad = dir.path().join("tail.bin");
    std::fs::write(&bad, &tail).unwrap();
    let (code, stdout, all) = run(&["--ccel", p(&bad)]);
    assert_eq!(code, 1, "{all}");
    assert!(
        stdout.starts_with("rejected:\n  - malformed_evidence: "),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("CCEL log area padding: expected only 0xff bytes from offset 18101 (where the padding starts) to the end of the area, got 0x42 at offset {}", n - 100)),
        "{stdout}"
    );

    // An area that is not the table's LAML bytes, and a table that is not one.
    let (code, stdout, all) = run(&["--ccel", p(&cut), "--ccel-table", p(&table)]);
    assert_eq!(code, 1, "{all}");
    assert!(
        stdout.contains(
            "CCEL log area length: expected the table's LAML, 262144 bytes, got 5000 bytes"
        ),
        "{stdout}"
    );
    let (code, stdout, all) = run(&[
        "--ccel",
        p(&data("go-tdx-guest/ccel/ccel_data.dat")),
        "--ccel-table",
        p(&cut),
    ]);
    assert_eq!(code, 1, "{all}");
    assert!(
        stdout.contains("not a valid ACPI CCEL table: CCEL table Signature"),
        "{stdout}"
    );

    // A TPM log is not a CCEL (it has no SHA-384 RTMR bank or is a legacy log).
    let tpm = cli_support::data("tpm/go-tpm-tools/eventlogs/debian-10.bin");
    let (code, _, all) = run(&["--ccel", p(&tpm)]);
    assert_eq!(code, 1, "{all}");
    assert!(all.contains("CCEL first event"), "{all}");
}

#[test]
fn usage_and_io_errors_exit_2() {
    let area = data("go-tdx-guest/ccel/ccel_data.dat");
    let (code, _, all) = run(&["--ccel", "/nonexistent/ccel"]);
    assert_eq!(code, 2, "{all}");
    assert!(all.contains("reading /nonexistent/ccel"), "{all}");
    let (code, _, all) = run(&["--ccel", p(&area), "--ccel-table", "/nonexistent/table"]);
    assert_eq!(code, 2, "{all}");
    // Neither a TPM log nor --ccel; both; --ccel-table without --ccel; --ccel without FILE.
    for args in [
        vec![],
        vec!["--ccel", p(&area), p(&area)],
        vec!["--ccel-table", p(&area)],
        vec!["--ccel"],
    ] {
        let (code, _, all) = run(&args);
        assert_eq!(code, 2, "{args:?}: {all}");
    }
}
