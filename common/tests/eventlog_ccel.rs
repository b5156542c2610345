//! CCEL (TDX) event logs: the real vectors of the test-data manifest §2.7
//! (go-tdx-guest: log area, ACPI table and the TD quote whose RTMR0–2 the log
//! reproduces) and §2.9 (trustee: six log areas with the RTMRs trustee's tests
//! assert, five with trustee's parsed rendering as an oracle), round trips,
//! and mutated twins.

// Integration-test crate: its helper functions are test code too (the
// workspace lints allow these only inside #[test] functions).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod eventlog_support;

use std::collections::BTreeMap;

use base64::Engine;
use eventlog_support::read;
use sealbuild_common::eventlog::ccel::{
    all_rtmrs, describe, CcType, CcelLog, CcelTable, Rtmr, RTMR_SIZE,
};
use sealbuild_common::eventlog::{DecodedEvent, EventType};
use sealbuild_common::HashAlg;

fn h48(s: &str) -> [u8; RTMR_SIZE] {
    hex::decode(s).unwrap().try_into().unwrap()
}

/// RTMR0–3 of a TDX v4 quote: 48-byte header (version u16 = 4, attestation
/// key type u16, TEE type u32 = 0x81 for TDX), then the 584-byte TD quote
/// body, whose RTMR0..3 lie at body offsets 328, 376, 424, 472 (Intel TDX
/// DCAP Quoting Library API, "TD Quote Body"; MRTD at 136). A local reader
/// for this test only: the quote parser proper lives elsewhere.
fn quote_v4_rtmrs(quote: &[u8]) -> [[u8; RTMR_SIZE]; 4] {
    assert_eq!(u16::from_le_bytes([quote[0], quote[1]]), 4, "quote version");
    assert_eq!(
        u32::from_le_bytes(quote[4..8].try_into().unwrap()),
        0x81,
        "TEE type TDX"
    );
    let body = &quote[48..48 + 584];
    std::array::from_fn(|i| body[328 + 48 * i..376 + 48 * i].try_into().unwrap())
}

fn quote_v4_mrtd(quote: &[u8]) -> [u8; 48] {
    quote[48 + 136..48 + 184].try_into().unwrap()
}

#[test]
fn go_tdx_guest_ccel_replays_to_the_quotes_rtmrs() {
    let table_bytes = read("tdx/go-tdx-guest/ccel/ccel_table.dat");
    let area = read("tdx/go-tdx-guest/ccel/ccel_data.dat");
    let quote = read("tdx/go-tdx-guest/ccel/cos-113-tdx-quote.dat");

    let table = CcelTable::parse(&table_bytes).unwrap();
    assert_eq!(table.to_bytes(), table_bytes);
    assert_eq!(table.cc_type, CcType::TDX);
    assert_eq!(table.laml, 0x40000);
    assert_eq!(table.lasa, 0xbedb_f000);

    let log = CcelLog::parse_with_table(&table, &area).unwrap();
    assert!(log.to_bytes() == area, "round trip of the whole area");
    // MANIFEST §2.7: 44 records (the Spec ID header and 43 events), SHA-384
    // only, MR indices 1, 2, 3 only.
    assert_eq!(log.events().len(), 43);
    assert_eq!(
        log.spec_id().unwrap().hash_algs(),
        vec![HashAlg::Sha384],
        "digests"
    );
    let mut indices: Vec<u32> = log.events().iter().map(|e| e.pcr).collect();
    indices.dedup();
    indices.sort_unstable();
    indices.dedup();
    assert_eq!(indices, vec![1, 2, 3]);
    let padding = log.padding().unwrap();
    assert_eq!(padding.byte, 0xff);
    assert_eq!(padding.offset + padding.len, area.len());

    let quoted = quote_v4_rtmrs(&quote);
    let mismatches = log.compare_rtmrs(&all_rtmrs(quoted));
    assert!(
        mismatches.is_empty(),
        "{}",
        mismatches
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The manifest's values, so that the quote reader is checked too.
    let replay = log.replay();
    assert_eq!(replay.value(Rtmr::Rtmr0), &h48("3fa2f61f395b7f5feefb4ec2df61297f109ad8abcd6410c1b7df60f21f37b19297fc35e544039c7e1edece752afd17f6"));
    assert_eq!(replay.value(Rtmr::Rtmr1), &h48("f62dbc072bd5d3f3438b7b35c39a727f5aea2ffc2473f43723953f530daf62504f0a7944aa62c41a86e8a878c2b122c1"));
    assert_eq!(replay.value(Rtmr::Rtmr2), &h48("4969684dc87381fc3b3134176c8d8806eaf0a901859f5f70cfae8d17714b46c10a8de219048c9fc09f11f381a6fbe7c1"));
    assert_eq!(replay.value(Rtmr::Rtmr3), &[0u8; 48]);
    assert!(replay.register(Rtmr::Rtmr3).extended_by.is_empty());
    assert_eq!(
        hex::encode(quote_v4_mrtd(&quote)),
        "dae67181d3d65e073ad8f95b7907d5e927bfe9761c9ff3e9b89734a45d8954dba41394c7717cb2735396c1d04231f94a"
    );
    assert_eq!(replay.values(), quoted);

    // Every event decodes to a one-line description naming its register.
    for e in log.events() {
        let d = describe(e);
        assert!(
            d.starts_with(&format!(
                "event {} ({}, {})",
                e.index,
                Rtmr::from_mr_index(e.pcr).unwrap(),
                e.event_type
            )),
            "{d}"
        );
        assert!(!d.contains('\n'));
    }
    let text = log.render_text();
    assert!(
        text.starts_with("CCEL: Spec ID Event03, digests sha384; 43 events; "),
        "{text}"
    );
}

/// The trustee logs of MANIFEST §2.9 with the RTMRs trustee's
/// `test_rtmr_integrity` asserts (`CCEL_AAEL_alibabacloud`: computed by the
/// test-data collection), and whether trustee's `*_out.json` is there.
const TRUSTEE: &[(&str, [&str; 4], bool)] = &[
    (
        "CCEL_data",
        [
            "2dc712306a963eadb894ad47dbaa17df44814151555aee11cbb843becca88950ffd079664902e6f22c66f7c8213543f4",
            "0fa3be56af61208bbd179dc7b124988eb929319154663c539d6f46445ecac2fec287075047ff7bd1922829fec28cd3cf",
            "",
            "",
        ],
        true,
    ),
    (
        "CCEL_data_ovmf",
        [
            "8566f998798db09443b244c62de9a3041fb02e2e6936c4396d784bba2e90177329ec5aba3bb484404f2ab9cc90abe193",
            "775b9f6bfe99f8a31396f0d0218e67ffa796d3b96ccf961cbb0deba48c79c00f082cda1a5567c1c16305f1fc210c13c6",
            "94eaf7a7bf398ed8d888c91057ae0261802e4f3df084213a76ca7f0b5055ac9d2241de43cd58d9e8b49c503bbf25f34a",
            "",
        ],
        true,
    ),
    (
        "CCEL_data_grub",
        [
            "cec0a104f691f60da2387fea3c2de00c4ac035e2bb479ff02edcce69039d9e9907f0b3e55031da3dc7038f423adebd79",
            "6c289e0c62182d41ebe97bdbc9872d10998a08eaa86adcdc684001a363207ee72942c7522cdf00a4bbc3d784bed7b670",
            "08919d017ba0e52cd6d966351c7de16fe76c1d3d3d3da4554239e4c7d16cb8b82a94e7eaea3a0e6e18eb690b999fd31e",
            "",
        ],
        true,
    ),
    (
        "CCEL_data_gcp",
        [
            "3300980705adf09d28b707b79699d9874892164280832be2c386a715b6e204e0897fb564a064f810659207ba862b304f",
            "204d49f78d29918fe7b2f694e76653861a0c2a018987d2c3a54266eff737232524cf0af68c4d180e2f8c2c0937f21967",
            "",
            "",
        ],
        false,
    ),
    (
        "CCEL_data_grub_gke",
        [
            "bc9945139042cf2cc75caf920aa57f14884ecfd7e893bccc51250c8ce90eb53ce72741e6adaa18183eb1331a87d4544a",
            "c17cb288a4dee302bb9ed8d27257a168f3264ad68cab53757f37eeaa7039657fa887cad65cf910e0fdc435ff110f8a7b",
            "334aeba2c985f8886cea97d1ecffbd512769d528b9a94009583db667ad7d2faa7d37fa145d75b192ceee2d2f10b2eb6d",
            "",
        ],
        true,
    ),
    (
        "CCEL_AAEL_alibabacloud",
        [
            "b796e1c11396c198ae88794def4cb8e24fa9b35468287c298087f00d4de7433e4e31a297a4e5a03d4300fa6f3a96d47c",
            "3b0b906140fcea689c8774ac1eafcf0fef8e22ba81a047fd750ebd7df3235c2704df6106a758e31e5645e9838ff37406",
            "35f2801338c1b5fce96518f058c37e0fe9ed247a12dcd5f50d9c18fe4b6c71311bb63fca2640c7915817b6aa412a8480",
            "5e4ecd49d3c7983d6f9ca36755b5cee0b423d7fa8c5a88aeb0681bd4698772bc37b4463dc5f722efe352a66417257dad",
        ],
        true,
    ),
];

fn stated(values: &[&str; 4]) -> [[u8; RTMR_SIZE]; 4] {
    std::array::from_fn(|i| {
        if values[i].is_empty() {
            [0u8; RTMR_SIZE]
        } else {
            h48(values[i])
        }
    })
}

fn trustee(name: &str) -> Vec<u8> {
    read(&format!("tdx/trustee/ccel/{name}"))
}

fn trustee_json(name: &str) -> Vec<serde_json::Value> {
    let v: serde_json::Value =
        serde_json::from_slice(&trustee(&format!("{name}_out.json"))).unwrap();
    v["uefi_event_logs"].as_array().unwrap().clone()
}

/// Replays trustee's rendering on its own: `index` is the MR index, the
/// SHA-384 digest is extended unless the type is EV_NO_ACTION.
fn replay_json(events: &[serde_json::Value]) -> [[u8; RTMR_SIZE]; 4] {
    let mut rtmrs = [[0u8; RTMR_SIZE]; 4];
    for e in events {
        if e["type_name"] == "EV_NO_ACTION" {
            continue;
        }
        let mr = e["index"].as_u64().unwrap() as usize;
        assert!((1..=4).contains(&mr), "{e}");
        let d = e["digests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["alg"] == "SHA-384")
            .unwrap();
        let digest = hex::decode(d["digest"].as_str().unwrap()).unwrap();
        rtmrs[mr - 1] = HashAlg::Sha384
            .extend(&rtmrs[mr - 1], &digest)
            .try_into()
            .unwrap();
    }
    rtmrs
}

#[test]
fn trustee_logs_replay_to_their_stated_rtmrs() {
    for (name, values, has_json) in TRUSTEE {
        let area = trustee(name);
        let log = CcelLog::parse(&area).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(log.to_bytes() == area, "{name}: round trip");
        let want = stated(values);
        assert_eq!(log.replay().values(), want, "{name}");
        assert!(
            log.compare_rtmrs(&all_rtmrs(want)).is_empty(),
            "{name}: compare"
        );
        if *has_json {
            let json = trustee_json(name);
            assert_eq!(replay_json(&json), want, "{name}: the JSON's own replay");
        }
    }
}

/// trustee's parsed rendering as an oracle of the parser and the decoder:
/// the same events (MR index, type name, SHA-384 digest, data), the same
/// variable names, action and IPL strings, tag payloads and image file names.
#[test]
fn trustee_json_renderings_match_every_parsed_event() {
    let mut events_checked = 0;
    let mut decoded_checked = 0;
    for (name, _, has_json) in TRUSTEE {
        if !has_json {
            continue;
        }
        let log = CcelLog::parse(&trustee(name)).unwrap();
        let json = trustee_json(name);
        assert_eq!(log.events().len(), json.len(), "{name}: number of events");
        for (e, j) in log.events().iter().zip(&json) {
            let at = format!("{name} event {}", e.index);
            assert_eq!(u64::from(e.pcr), j["index"].as_u64().unwrap(), "{at}");
            assert_eq!(
                e.event_type.name(),
                j["type_name"].as_str().unwrap(),
                "{at}"
            );
            let digests = j["digests"].as_array().unwrap();
            assert_eq!(digests.len(), e.digests.len(), "{at}");
            assert_eq!(digests[0]["alg"], "SHA-384", "{at}");
            assert_eq!(
                hex::encode(e.digest(HashAlg::Sha384).unwrap()),
                digests[0]["digest"].as_str().unwrap(),
                "{at}"
            );
            let data = base64::engine::general_purpose::STANDARD
                .decode(j["event"].as_str().unwrap())
                .unwrap();
            assert!(e.data == data, "{at}: data");
            events_checked += 1;

            let details = &j["details"];
            match e.decode() {
                DecodedEvent::Variable { variable, .. } => {
                    assert_eq!(variable.name, details["unicode_name"], "{at}");
                    let value = base64::engine::general_purpose::STANDARD
                        .decode(details["variable_data"].as_str().unwrap())
                        .unwrap();
                    assert_eq!(variable.data, value, "{at}");
                    decoded_checked += 1;
                }
                DecodedEvent::Text(t)
                    if matches!(e.event_type, EventType::EFI_ACTION | EventType::IPL) =>
                {
                    // trustee drops the leading '.' of the PE section names
                    // systemd-stub measures (".linux", ".cmdline", …).
                    let theirs = details["string"].as_str().unwrap();
                    let ours = t.text.strip_prefix('.').unwrap_or(&t.text);
                    assert_eq!(ours, theirs, "{at}");
                    decoded_checked += 1;
                }
                DecodedEvent::Tagged { id, data } if details["unicode_name"] == "AAEL" => {
                    assert_eq!(id.to_le_bytes(), *b"LEAA", "{at}");
                    assert_eq!(
                        String::from_utf8(data).unwrap(),
                        details["string"].as_str().unwrap(),
                        "{at}"
                    );
                    decoded_checked += 1;
                }
                DecodedEvent::ImageLoad(img) => {
                    // trustee names the file path node (when the path ends
                    // with one) as `File(\EFI\…)`.
                    let last = details["device_paths"]
                        .as_array()
                        .and_then(|p| p.last())
                        .and_then(|p| p.as_str())
                        .unwrap_or_default();
                    if let Some(file) = last.strip_prefix("File(").and_then(|f| f.strip_suffix(')'))
                    {
                        let ours = img.device_path.unwrap().to_string();
                        assert!(ours.ends_with(file), "{at}: {ours} vs {last}");
                        decoded_checked += 1;
                    }
                }
                _ => {}
            }
        }
    }
    // 5 + 20 + 37 + 35 + 87 events in the five renderings.
    assert_eq!(events_checked, 184);
    assert!(decoded_checked > 100, "only {decoded_checked} decoded");
}

/// trustee's `test_rtmr_integrity_error`: a reference that differs from the
/// replay is reported on its register, naming the register's last event.
#[test]
fn trustee_integrity_negatives_name_the_register_and_its_last_event() {
    let gcp = CcelLog::parse(&trustee("CCEL_data_gcp")).unwrap();
    let mut reference = gcp.replay().values();
    assert!(hex::encode(reference[0]).ends_with("304f"));
    reference[0][47] = 0x4d;
    let m = gcp.compare_rtmrs(&all_rtmrs(reference));
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].rtmr, Rtmr::Rtmr0);
    assert_eq!(m[0].expected, reference[0]);
    let last = gcp
        .events()
        .iter()
        .rfind(|e| e.pcr == 1 && e.is_extended())
        .unwrap();
    let named = m[0].last_event.as_ref().unwrap();
    assert_eq!(
        (named.index, named.event_type),
        (last.index, last.event_type)
    );
    assert_eq!(named.description, last.summary());
    assert_eq!(
        m[0].events,
        gcp.events()
            .iter()
            .filter(|e| e.pcr == 1 && e.is_extended())
            .count()
    );
    let text = m[0].to_string();
    assert!(
        text.starts_with(&format!(
            "RTMR0: expected {}, got {} (event {}: {}: ",
            hex::encode(reference[0]),
            hex::encode(gcp.replay().value(Rtmr::Rtmr0)),
            last.index,
            last.event_type
        )),
        "{text}"
    );

    let data = CcelLog::parse(&trustee("CCEL_data")).unwrap();
    let mut reference = data.replay().values();
    assert!(hex::encode(reference[1]).starts_with("0fa3be"));
    reference[1][0] = 0x2f;
    let m = data.compare_rtmrs(&all_rtmrs(reference));
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].rtmr, Rtmr::Rtmr1);

    // A quoted register the log never extends: no event to name.
    let mut reference = data.replay().values();
    reference[3][5] = 1;
    let m = data.compare_rtmrs(&all_rtmrs(reference));
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].rtmr, Rtmr::Rtmr3);
    assert_eq!((m[0].last_event.as_ref(), m[0].events), (None, 0));
    assert!(m[0]
        .to_string()
        .ends_with("(no event of the CCEL extends RTMR3; 48 zero bytes is its initial value)"));
    // Only the registers asked about are compared.
    let only0: BTreeMap<Rtmr, [u8; RTMR_SIZE]> =
        [(Rtmr::Rtmr0, reference[0])].into_iter().collect();
    assert!(data.compare_rtmrs(&only0).is_empty());
}
