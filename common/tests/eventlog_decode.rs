//! Decoding real events for explanations (PFP 1.06 §10, UEFI 2.10 §10).

// Integration-test crate: its helper functions are test code too (the
// workspace lints allow these only inside #[test] functions).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod eventlog_support;

use eventlog_support::*;
use sealbuild_common::eventlog::devicepath::{DevicePathNode, PartitionSignature};
use sealbuild_common::eventlog::text::TextEncoding;
use sealbuild_common::eventlog::uefi::guids;
use sealbuild_common::eventlog::variables::VariableValue;
use sealbuild_common::eventlog::{DataBinding, DecodedEvent, EventLog, EventType};

fn ubuntu_2404() -> EventLog {
    EventLog::parse(&go_tpm_tools_log("ubuntu-2404-amd-sevsnp.bin")).unwrap()
}

#[test]
fn boot_application_device_path() {
    let log = ubuntu_2404();
    let apps: Vec<_> = log
        .events()
        .iter()
        .filter(|e| e.event_type == EventType::EFI_BOOT_SERVICES_APPLICATION)
        .collect();
    assert_eq!(apps.len(), 2);
    // Event 25: shim, loaded from the NVMe disk's ESP (bytes checked by hand:
    // ACPI 02/01 PNP0A03, PCI 01/01 dev 4, NVMe 03/17 nsid 1, HD 04/01
    // partition 15, File 04/04 "\EFI\ubuntu\shimx64.efi", End 7F/FF).
    let DecodedEvent::ImageLoad(img) = apps[0].decode() else {
        panic!("not an image load")
    };
    assert_eq!(apps[0].index, 25);
    assert_eq!(
        (img.image_location_in_memory, img.image_length_in_memory),
        (0xbcb7_8018, 0xec008)
    );
    let path = img.device_path.as_ref().unwrap();
    assert!(path.terminated);
    assert_eq!(path.file_path(), Some("\\EFI\\ubuntu\\shimx64.efi"));
    assert_eq!(
        path.to_string(),
        "PciRoot(0x0)/Pci(0x4,0x0)/NVMe(0x1,00-00-00-00-00-00-00-00)/\
         HD(15,GPT,fc24e8b6-5e8c-4396-aadd-2c6a9a43b92d,0x2800,0x35000)/\\EFI\\ubuntu\\shimx64.efi"
    );
    assert!(matches!(
        path.nodes[3],
        DevicePathNode::HardDrive {
            partition: 15,
            signature: PartitionSignature::Gpt(_),
            ..
        }
    ));
    assert!(img.trailing.is_empty());
    assert_eq!(
        apps[0].describe(),
        "event 25 (PCR 4, EV_EFI_BOOT_SERVICES_APPLICATION): PciRoot(0x0)/Pci(0x4,0x0)/\
         NVMe(0x1,00-00-00-00-00-00-00-00)/HD(15,GPT,fc24e8b6-5e8c-4396-aadd-2c6a9a43b92d,0x2800,0x35000)/\
         \\EFI\\ubuntu\\shimx64.efi (image at 0xbcb78018, 0xec008 bytes)"
    );
    // Event 30: grub, loaded by shim with a file-path-only device path.
    let DecodedEvent::ImageLoad(grub) = apps[1].decode() else {
        panic!()
    };
    assert_eq!(
        grub.device_path.unwrap().to_string(),
        "\\EFI\\ubuntu\\grubx64.efi"
    );

    // The Windows log boots bootmgfw.efi from a SCSI disk.
    let win = EventLog::parse(&windows_log()).unwrap();
    let e = win
        .events()
        .iter()
        .find(|e| e.event_type == EventType::EFI_BOOT_SERVICES_APPLICATION)
        .unwrap();
    let DecodedEvent::ImageLoad(img) = e.decode() else {
        panic!()
    };
    assert_eq!(
        img.device_path.unwrap().to_string(),
        "PciRoot(0x0)/Pci(0x3,0x0)/Scsi(0x1,0x0)/HD(2,GPT,7e454786-3ed8-478b-8282-5a3312bd8ceb,0x8000,0x32000)/\\EFI\\Microsoft\\Boot\\bootmgfw.efi"
    );
}

#[test]
fn secure_boot_variable() {
    for (name, bytes, expected) in [
        (
            "ubuntu-2404",
            go_tpm_tools_log("ubuntu-2404-amd-sevsnp.bin"),
            0u8,
        ),
        ("rhel8", go_tpm_tools_log("rhel8-uefi.bin"), 1),
        ("windows", windows_log(), 1),
    ] {
        let log = EventLog::parse(&bytes).unwrap();
        let e = log
            .events()
            .iter()
            .find(|e| e.event_type == EventType::EFI_VARIABLE_DRIVER_CONFIG)
            .unwrap();
        let DecodedEvent::Variable { variable, value } = e.decode() else {
            panic!("{name}")
        };
        assert_eq!(variable.vendor, guids::EFI_GLOBAL_VARIABLE, "{name}");
        assert_eq!(variable.name, "SecureBoot", "{name}");
        assert_eq!(value, VariableValue::Byte(expected), "{name}");
        assert!(
            e.describe()
                .ends_with(&format!("EFI_GLOBAL_VARIABLE:SecureBoot = {expected}")),
            "{}",
            e.describe()
        );
    }
    // arch-linux-workstation measures SecureBoot with no data (upstream warns
    // "SecureBoot data len is 0, expected 1").
    let arch = EventLog::parse(&go_tpm_tools_log("arch-linux-workstation.bin")).unwrap();
    let sb = arch
        .events()
        .iter()
        .find_map(|e| match e.decode() {
            DecodedEvent::Variable { variable, value } if variable.name == "SecureBoot" => {
                Some(value)
            }
            _ => None,
        })
        .unwrap();
    assert_eq!(sb, VariableValue::Empty);
}

#[test]
fn kernel_command_line_from_ev_ipl() {
    // MANIFEST §3.1: the Ubuntu 24.04 SEV-SNP kernel command line (NUL-terminated).
    let expected = "/vmlinuz-6.8.0-1010-gcp root=PARTUUID=8270f3c9-b4e4-4345-80ee-5a62db7ebf3f ro console=ttyS0,115200 panic=-1";
    let log = ubuntu_2404();
    let cmdlines: Vec<_> = log
        .events()
        .iter()
        .filter(|e| e.event_type == EventType::IPL)
        .filter_map(|e| match e.decode() {
            DecodedEvent::Text(t) => {
                let cmdline = t.text.strip_prefix("kernel_cmdline: ")?.to_owned();
                Some((e.pcr, cmdline, t))
            }
            _ => None,
        })
        .collect();
    assert_eq!(cmdlines.len(), 1);
    let (pcr, cmdline, text) = &cmdlines[0];
    assert_eq!(*pcr, 8);
    assert_eq!(cmdline, expected);
    assert!(text.nul_terminated);
    assert_eq!(text.encoding, TextEncoding::Utf8);

    // systemd-boot (arch-linux) measures a UTF-16 command line with one trailing NUL byte.
    let arch = EventLog::parse(&go_tpm_tools_log("arch-linux-workstation.bin")).unwrap();
    let t = arch
        .events()
        .iter()
        .filter(|e| e.event_type == EventType::IPL)
        .find_map(|e| match e.decode() {
            DecodedEvent::Text(t) if t.encoding == TextEncoding::Utf16 => Some(t),
            _ => None,
        })
        .unwrap();
    assert!(
        t.text.starts_with("initrd=\\intel-ucode.img "),
        "{}",
        t.text
    );
    assert!(t.text.ends_with(" l1tf=off"), "{}", t.text);
}

#[test]
fn other_event_kinds() {
    let log = ubuntu_2404();
    let by_index = |i: u32| log.event(i).unwrap().decode();
    assert_eq!(
        by_index(1),
        DecodedEvent::Text(sealbuild_common::eventlog::text::EventText {
            text: "GCE Virtual Firmware v2".to_owned(),
            encoding: TextEncoding::Utf16,
            nul_terminated: true
        })
    );
    assert_eq!(by_index(8), DecodedEvent::Separator { error: false });
    let DecodedEvent::Variable {
        value: VariableValue::BootOrder(order),
        ..
    } = by_index(12)
    else {
        panic!()
    };
    assert_eq!(order, vec![2, 1, 0]);
    let DecodedEvent::Variable {
        value: VariableValue::LoadOption(opt),
        ..
    } = by_index(13)
    else {
        panic!()
    };
    assert_eq!(opt.description, "Ubuntu");
    assert_eq!(
        opt.file_paths.unwrap()[0].file_path(),
        Some("\\EFI\\ubuntu\\shimx64.efi")
    );
    let DecodedEvent::Variable {
        value: VariableValue::SignatureLists(dbx),
        ..
    } = by_index(7)
    else {
        panic!()
    };
    assert_eq!(dbx.iter().map(|l| l.signatures.len()).sum::<usize>(), 371);
    assert!(dbx
        .iter()
        .all(|l| l.signature_type == guids::EFI_CERT_SHA256));
    let DecodedEvent::Gpt(gpt) = by_index(24) else {
        panic!()
    };
    assert_eq!(gpt.partitions.len(), 4);
    let DecodedEvent::Tagged { id, data } = by_index(113) else {
        panic!()
    };
    assert_eq!(
        (id, data.as_slice()),
        (0x8F3B_22ED, &b"LOADED_IMAGE::LoadOptions\0"[..])
    );
    assert!(
        matches!(by_index(116), DecodedEvent::Text(t) if t.text == "Exit Boot Services Returned with Success")
    );

    // StartupLocality and SP800-155 EV_NO_ACTION events.
    let gdc = EventLog::parse(&go_tpm_tools_log("gdc-host.bin")).unwrap();
    assert_eq!(
        gdc.event(1).unwrap().decode(),
        DecodedEvent::StartupLocality(3)
    );
    let sp = EventLog::parse(&go_tpm_tools_log("eventlogwithsp800155.bin")).unwrap();
    let DecodedEvent::Sp800155(ev) = sp.event(2).unwrap().decode() else {
        panic!()
    };
    assert_eq!((ev.version, ev.platform_manufacturer_id), (3, 11129));
    assert_eq!(ev.platform_model, "Google Compute Engine");
    assert_eq!(ev.firmware_version, "2.7");
    let (kind, uri) = ev.rim_locator.unwrap();
    assert_eq!(kind, 1);
    assert!(uri.starts_with(b"https://storage.googleapis.com/gce_tcb_integrity/"));
    assert_eq!(ev.trailing_zeros, 6);
    // Firmware blobs in gdc-host, and the Windows error-free "WBCL" separators
    // are kept raw with the reason.
    assert!(gdc
        .events()
        .iter()
        .any(|e| matches!(e.decode(), DecodedEvent::FirmwareBlob(b) if b.length > 0)));
    let win = EventLog::parse(&windows_log()).unwrap();
    let wbcl = win
        .events()
        .iter()
        .find(|e| e.event_type == EventType::SEPARATOR && e.data == b"WBCL")
        .unwrap();
    assert!(matches!(
        wbcl.decode(),
        DecodedEvent::Raw { error: Some(_) }
    ));
}

#[test]
fn every_real_event_decodes_and_describes_on_one_line() {
    let mut decoded = 0;
    let mut raw = 0;
    for (name, bytes) in all_real_logs() {
        let log = EventLog::parse(&bytes).unwrap();
        for e in log.events() {
            let d = e.describe();
            assert!(
                d.starts_with(&format!(
                    "event {} (PCR {}, {}): ",
                    e.index, e.pcr, e.event_type
                )),
                "{name}: {d}"
            );
            assert!(!d.chars().any(char::is_control), "{name}: {d:?}");
            assert!(d.chars().count() < 300, "{name}: {d}");
            match e.decode() {
                DecodedEvent::Raw { .. } => raw += 1,
                _ => decoded += 1,
            }
        }
    }
    // Raw: EV_NONHOST_INFO binary blobs, Windows WBCL separators and
    // EV_COMPACT_HASH, and the GCE legacy S-CRTM version structure.
    assert!(decoded > 1000 && raw < 40, "decoded {decoded}, raw {raw}");
}

#[test]
fn data_binding_of_real_and_tampered_events() {
    let mut bound = 0;
    for (name, bytes) in all_real_logs() {
        let log = EventLog::parse(&bytes).unwrap();
        for e in log.events() {
            match e.data_binding() {
                DataBinding::Bound => bound += 1,
                DataBinding::NotApplicable => {}
                other => panic!("{name}: {}: {other}", e.describe()),
            }
        }
    }
    assert!(bound > 300, "{bound}");
    // Changing the data of a bound event (not its digest) is detected: the
    // SecureBoot value 0 → 1 in ubuntu-2404 (event 3, last data byte).
    let bytes = go_tpm_tools_log("ubuntu-2404-amd-sevsnp.bin");
    let log = EventLog::parse(&bytes).unwrap();
    let offsets = event_offsets(&bytes, &log);
    let e3 = log.event(3).unwrap();
    let mut twin = bytes.clone();
    let last_data_byte = offsets[2] + 12 + 2 * 3 + 20 + 32 + 48 + 4 + e3.data.len() - 1;
    assert_eq!(twin[last_data_byte], 0);
    twin[last_data_byte] = 1;
    let tampered = EventLog::parse(&twin).unwrap();
    let t3 = tampered.event(3).unwrap();
    assert!(matches!(
        t3.decode(),
        DecodedEvent::Variable {
            value: VariableValue::Byte(1),
            ..
        }
    ));
    assert_eq!(
        t3.data_binding(),
        DataBinding::Unbound {
            alg: sealbuild_common::HashAlg::Sha1
        }
    );
    // The replay is unaffected by data changes: only digests are extended.
    assert_eq!(tampered.replay(), log.replay());
}

#[test]
fn hostile_text_is_sanitized() {
    let mut b =
        sealbuild_common::eventlog::EventLogBuilder::new(&[sealbuild_common::HashAlg::Sha256])
            .unwrap();
    b.push_hashed(
        8,
        EventType::IPL,
        "grub_cmd: echo ok\n\u{202e}evil\u{1b}[2J\0".as_bytes(),
    )
    .unwrap();
    let log = b.build();
    let d = log.events()[0].describe();
    assert!(
        !d.chars().any(|c| c.is_control() || c == '\u{202e}'),
        "{d:?}"
    );
    assert!(d.contains("\\n"), "{d}");
}
