//! Reference PCRs of a QEMU VM that boots a Linux kernel directly (`-kernel
//! -initrd -append`) through OVMF with a TPM: computed from the artefacts,
//! the firmware's own PCRs taken from a golden event log.
//!
//! # What is measured, and where
//!
//! * **PCR 4, the kernel.** QEMU does not hand OVMF the bzImage file: it
//!   patches the Linux boot protocol's setup header first (Linux
//!   `Documentation/arch/x86/boot.rst`, "THE REAL-MODE KERNEL HEADER" and
//!   "LOADING THE REST OF THE KERNEL"), and OVMF's `QemuKernelLoaderFsDxe`
//!   serves the patched setup followed by the rest of the file as the
//!   image it loads; UEFI measures that image as an
//!   `EV_EFI_BOOT_SERVICES_APPLICATION` whose digest is its Authenticode
//!   hash ([`crate::authenticode`]; TCG PC Client PFP 1.06 §10.4.4). The
//!   fields QEMU writes (`x86_load_linux`, `hw/i386/x86.c` in QEMU 7.2,
//!   `hw/i386/x86-common.c` in later versions, unchanged there), for a
//!   protocol ≥ 2.02 kernel with `LOADED_HIGH`:
//!   `type_of_loader` (0x210) = 0xB0; `loadflags` (0x211) |= `CAN_USE_HEAP`;
//!   `heap_end_ptr` (0x224) = 0xFE00; `cmd_line_ptr` (0x228) = 0x20000;
//!   with an initrd `ramdisk_image` (0x218) = `(initrd_max − size) & ~4095`
//!   and `ramdisk_size` (0x21c), where `initrd_max` is the lower of the
//!   header's limit (`initrd_addr_max`, or 4 GiB − 1 when `xloadflags` has
//!   `XLF_CAN_BE_LOADED_ABOVE_4G`) and RAM below 4 GiB minus QEMU's 160 KiB
//!   ACPI area, minus 1; and `vid_mode` (0x1fa) when the command line has
//!   `vga=`. So PCR 4 depends on the memory size and the initrd's size,
//!   not on the command line (except `vga=`).
//! * **PCR 9, command line and initrd.** The Linux EFI stub (Linux
//!   `drivers/firmware/efi/libstub`, `efi_measure_tagged_event`) logs
//!   `EV_EVENT_TAG` events (PFP §10.4.1; `TCG_PCClientTaggedEvent`): tag
//!   0x8F3B22ED "LOADED_IMAGE::LoadOptions", digest = hash of the UEFI
//!   LoadOptions, which OVMF sets to the command line followed by
//!   `" initrd=initrd"` when there is an initrd, as UTF-16LE with its NUL;
//!   and tag 0x8F3B22EC "Linux initrd", digest = hash of the initrd file.
//! * **PCRs 0–3, 5–7** depend on the firmware build, the memory, the vCPUs
//!   and the attached devices (PCR 2 holds PCI option ROMs, e.g. iPXE):
//!   they are taken from a golden event log of the same firmware and VM
//!   configuration ([`Prediction::golden`]).
//!
//! With a golden log, PCRs 4 and 9 are its events replayed with the
//! digests computed here in place of the kernel's and the stub's (so events
//! the firmware adds, like separators, come from the log); without one,
//! they are the sequences Debian 12's OVMF (edk2 2022.11) and Linux 6.1
//! were seen to log: PCR 4 the kernel, `EV_EFI_ACTION` "Calling EFI
//! Application from Boot Option", `EV_SEPARATOR`; PCR 9 the command line,
//! then the initrd.
//!
//! Only the `q35` machine type's memory layout is modelled (RAM below
//! 4 GiB is all of it up to 2816 MiB, else 2 GiB). Not modelled: a
//! confidential guest (QEMU then leaves the header alone), and firmware
//! newer than Debian 12's that loads the unpatched file QEMU also offers as
//! the fw_cfg file `etc/boot/kernel` (recent QEMU versions); for those the
//! kernel's digest is that of the file as it is.

use crate::authenticode;
use sealbuild_common::eventlog::decode::DecodedEvent;
use sealbuild_common::eventlog::{EventLog, EventType};
use sealbuild_common::HashAlg;
use std::collections::BTreeMap;
use thiserror::Error;

/// `taggedEventID` of the Linux EFI stub's initrd event.
pub const INITRD_EVENT_TAG_ID: u32 = 0x8F3B_22EC;
/// `taggedEventID` of the Linux EFI stub's LoadOptions event.
pub const LOAD_OPTIONS_EVENT_TAG_ID: u32 = 0x8F3B_22ED;
/// The stub's description of the initrd event.
pub const INITRD_EVENT_DESCRIPTION: &str = "Linux initrd";
/// The stub's description of the LoadOptions event.
pub const LOAD_OPTIONS_EVENT_DESCRIPTION: &str = "LOADED_IMAGE::LoadOptions";
/// `EV_EFI_ACTION` data OVMF logs into PCR 4 before starting the kernel.
pub const CALLING_EFI_APPLICATION: &str = "Calling EFI Application from Boot Option";
/// QEMU's ACPI data area below the top of low RAM (`acpi_data_size` of the
/// pc and q35 machine types: 128 KiB + 32 KiB).
pub const QEMU_ACPI_DATA_SIZE: u64 = 0x28000;

/// Why the reference PCRs could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DirectBootError {
    /// The kernel is not a bzImage QEMU would boot this way.
    #[error("kernel: {0}")]
    Kernel(String),
    /// The initrd does not fit below the initrd limit.
    #[error("initrd of {size} bytes does not fit below 0x{max:x} (memory too small)")]
    InitrdTooLarge { size: u64, max: u64 },
    /// The patched kernel is not a PE/COFF image (no EFI stub).
    #[error("kernel image: {0}")]
    Image(#[from] authenticode::PeError),
    /// The golden log does not have the events this prediction replaces.
    #[error("golden event log: {0}")]
    Golden(String),
}

/// What the VM boots.
#[derive(Debug, Clone, Copy)]
pub struct DirectBoot<'a> {
    /// The bzImage file (`-kernel`).
    pub kernel: &'a [u8],
    /// The initrd file (`-initrd`).
    pub initrd: Option<&'a [u8]>,
    /// The command line (`-append`).
    pub cmdline: &'a str,
    /// Guest memory in MiB (`-m`).
    pub memory_mib: u64,
}

fn kerr(s: impl Into<String>) -> DirectBootError {
    DirectBootError::Kernel(s.into())
}

fn put(image: &mut [u8], off: usize, bytes: &[u8]) -> Result<(), DirectBootError> {
    image
        .get_mut(off..off + bytes.len())
        .ok_or_else(|| kerr(format!("setup header field 0x{off:x} past the end")))?
        .copy_from_slice(bytes);
    Ok(())
}

fn get_u16(image: &[u8], off: usize) -> Result<u16, DirectBootError> {
    image
        .get(off..off + 2)
        .and_then(|s| <[u8; 2]>::try_from(s).ok())
        .map(u16::from_le_bytes)
        .ok_or_else(|| kerr(format!("setup header field 0x{off:x} past the end")))
}

fn get_u32(image: &[u8], off: usize) -> Result<u32, DirectBootError> {
    image
        .get(off..off + 4)
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map(u32::from_le_bytes)
        .ok_or_else(|| kerr(format!("setup header field 0x{off:x} past the end")))
}

/// RAM below 4 GiB of a q35 machine with `memory_mib` MiB.
pub fn q35_below_4g(memory_mib: u64) -> u64 {
    let ram = memory_mib.saturating_mul(1 << 20);
    let lowmem = if ram >= 0xb000_0000 {
        0x8000_0000
    } else {
        0xb000_0000
    };
    ram.min(lowmem)
}

/// The `vga=` value QEMU writes into `vid_mode`, if the command line has one.
fn vga_mode(cmdline: &str) -> Result<Option<u16>, DirectBootError> {
    let Some(pos) = cmdline.find("vga=") else {
        return Ok(None);
    };
    let v = cmdline.get(pos + 4..).unwrap_or("");
    if v.starts_with("normal") {
        return Ok(Some(0xffff));
    }
    if v.starts_with("ext") {
        return Ok(Some(0xfffe));
    }
    if v.starts_with("ask") {
        return Ok(Some(0xfffd));
    }
    let word = v.split(' ').next().unwrap_or("");
    let parsed = match word.strip_prefix("0x").or_else(|| word.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16),
        None if word.len() > 1 && word.starts_with('0') => {
            u32::from_str_radix(word.get(1..).unwrap_or(""), 8)
        }
        None => word.parse(),
    };
    // QEMU stores the low 16 bits of an unsigned int.
    parsed
        .map(|m| Some((m & 0xffff) as u16))
        .map_err(|_| kerr(format!("QEMU refuses the 'vga={word}' kernel parameter")))
}

impl DirectBoot<'_> {
    /// The image OVMF loads: the bzImage with QEMU's setup-header patches.
    pub fn patched_kernel(&self) -> Result<Vec<u8>, DirectBootError> {
        let mut k = self.kernel.to_vec();
        if get_u32(&k, 0x202)? != 0x5372_6448 {
            return Err(kerr("no 'HdrS' setup header (not a bzImage)"));
        }
        let protocol = get_u16(&k, 0x206)?;
        let loadflags = *k.get(0x211).ok_or_else(|| kerr("short header"))?;
        let (real_addr, cmdline_addr): (u32, u32) = if protocol < 0x202 || loadflags & 1 == 0 {
            return Err(kerr(format!(
                "boot protocol {}.{:02} without LOADED_HIGH: not an EFI-stub bzImage",
                protocol >> 8,
                protocol & 0xff
            )));
        } else {
            (0x10000, 0x20000)
        };
        let mut initrd_max: u64 = if protocol >= 0x20c && get_u16(&k, 0x236)? & 0x2 != 0 {
            u64::from(u32::MAX)
        } else if protocol >= 0x203 {
            u64::from(get_u32(&k, 0x22c)?)
        } else {
            0x37ff_ffff
        };
        let low = q35_below_4g(self.memory_mib).saturating_sub(QEMU_ACPI_DATA_SIZE);
        if initrd_max >= low {
            initrd_max = low.saturating_sub(1);
        }
        put(&mut k, 0x228, &cmdline_addr.to_le_bytes())?;
        if let Some(mode) = vga_mode(self.cmdline)? {
            put(&mut k, 0x1fa, &mode.to_le_bytes())?;
        }
        put(&mut k, 0x210, &[0xb0])?;
        put(&mut k, 0x211, &[loadflags | 0x80])?;
        let heap_end = u16::try_from(cmdline_addr - real_addr - 0x200).unwrap_or(u16::MAX);
        put(&mut k, 0x224, &heap_end.to_le_bytes())?;
        if let Some(initrd) = self.initrd {
            let size = u64::try_from(initrd.len()).unwrap_or(u64::MAX);
            if size >= initrd_max {
                return Err(DirectBootError::InitrdTooLarge {
                    size,
                    max: initrd_max,
                });
            }
            let addr = (initrd_max - size) & !4095;
            put(
                &mut k,
                0x218,
                &u32::try_from(addr).unwrap_or(0).to_le_bytes(),
            )?;
            put(
                &mut k,
                0x21c,
                &u32::try_from(size).unwrap_or(0).to_le_bytes(),
            )?;
        }
        Ok(k)
    }

    /// The kernel's `EV_EFI_BOOT_SERVICES_APPLICATION` digest.
    pub fn kernel_digest(&self, alg: HashAlg) -> Result<Vec<u8>, DirectBootError> {
        Ok(authenticode::digest(&self.patched_kernel()?, alg)?)
    }

    /// The UEFI LoadOptions OVMF gives the kernel: UTF-16LE, NUL included.
    pub fn load_options(&self) -> Vec<u8> {
        let mut s = self.cmdline.to_string();
        if self.initrd.is_some() {
            s.push_str(" initrd=initrd");
        }
        s.encode_utf16()
            .chain(std::iter::once(0))
            .flat_map(u16::to_le_bytes)
            .collect()
    }

    /// The digest of the stub's LoadOptions event.
    pub fn load_options_digest(&self, alg: HashAlg) -> Vec<u8> {
        alg.digest(&self.load_options())
    }

    /// The digest of the stub's initrd event.
    pub fn initrd_digest(&self, alg: HashAlg) -> Option<Vec<u8>> {
        self.initrd.map(|i| alg.digest(i))
    }
}

/// One event the prediction expects in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PredictedEvent {
    /// PCR.
    pub pcr: u32,
    /// Event type name.
    pub event_type: &'static str,
    /// What it is, e.g. "LOADED_IMAGE::LoadOptions".
    pub description: String,
    /// Its digest per bank.
    pub digests: BTreeMap<HashAlg, Vec<u8>>,
}

/// Reference PCRs of one VM configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prediction {
    /// PCR values per bank: 4 and 9 computed, the others (when a golden
    /// log is given) replayed from it.
    pub pcrs: crate::PcrMap,
    /// The events computed from the artefacts (kernel, LoadOptions, initrd).
    pub events: Vec<PredictedEvent>,
    /// Whether PCRs other than 4 and 9 came from a golden log.
    pub golden: bool,
}

/// The tag id of an `EV_EVENT_TAG` event, if it is one.
fn tag_id(e: &sealbuild_common::eventlog::Event) -> Option<u32> {
    match e.decode() {
        DecodedEvent::Tagged { id, .. } => Some(id),
        _ => None,
    }
}

impl DirectBoot<'_> {
    /// The computed events, per bank in `banks`.
    pub fn events(&self, banks: &[HashAlg]) -> Result<Vec<PredictedEvent>, DirectBootError> {
        let patched = self.patched_kernel()?;
        let mut kernel = BTreeMap::new();
        let mut opts = BTreeMap::new();
        let mut initrd = BTreeMap::new();
        for b in banks {
            kernel.insert(*b, authenticode::digest(&patched, *b)?);
            opts.insert(*b, self.load_options_digest(*b));
            if let Some(d) = self.initrd_digest(*b) {
                initrd.insert(*b, d);
            }
        }
        let mut out = vec![
            PredictedEvent {
                pcr: 4,
                event_type: "EV_EFI_BOOT_SERVICES_APPLICATION",
                description: "the kernel (QEMU-patched bzImage, Authenticode)".into(),
                digests: kernel,
            },
            PredictedEvent {
                pcr: 9,
                event_type: "EV_EVENT_TAG",
                description: LOAD_OPTIONS_EVENT_DESCRIPTION.into(),
                digests: opts,
            },
        ];
        if !initrd.is_empty() {
            out.push(PredictedEvent {
                pcr: 9,
                event_type: "EV_EVENT_TAG",
                description: INITRD_EVENT_DESCRIPTION.into(),
                digests: initrd,
            });
        }
        Ok(out)
    }

    /// Predicts the PCRs (see the module docs). With `golden`, every bank
    /// it carries; without, SHA-256.
    pub fn predict(&self, golden: Option<&EventLog>) -> Result<Prediction, DirectBootError> {
        let banks = golden.map_or_else(|| vec![HashAlg::Sha256], EventLog::banks);
        let events = self.events(&banks)?;
        let find = |pcr: u32, desc: &str| {
            events
                .iter()
                .find(|e| e.pcr == pcr && e.description.starts_with(desc))
        };
        let kernel = find(4, "the kernel");
        let opts = find(9, LOAD_OPTIONS_EVENT_DESCRIPTION);
        let initrd = find(9, INITRD_EVENT_DESCRIPTION);
        let mut pcrs = crate::PcrMap::new();
        match golden {
            Some(log) => {
                let kernel_index = log
                    .events()
                    .iter()
                    .filter(|e| e.pcr == 4 && e.event_type == EventType::EFI_BOOT_SERVICES_APPLICATION)
                    .map(|e| e.index)
                    .next_back()
                    .ok_or_else(|| {
                        DirectBootError::Golden(
                            "no EV_EFI_BOOT_SERVICES_APPLICATION in PCR 4 (not a direct kernel boot?)"
                                .into(),
                        )
                    })?;
                let replay = log.replay();
                for bank in &banks {
                    let per = pcrs.entry(*bank).or_default();
                    for pcr in 0..24 {
                        if let Some(v) = replay.value(*bank, pcr) {
                            per.insert(pcr, v.to_vec());
                        }
                    }
                    for pcr in [4u32, 9] {
                        let mut v = vec![0u8; bank.size()];
                        for e in log
                            .events()
                            .iter()
                            .filter(|e| e.pcr == pcr && e.is_extended())
                        {
                            let computed = if e.index == kernel_index {
                                kernel
                            } else if e.event_type == EventType::EVENT_TAG {
                                match tag_id(e) {
                                    Some(LOAD_OPTIONS_EVENT_TAG_ID) => opts,
                                    Some(INITRD_EVENT_TAG_ID) => Some(initrd.ok_or_else(|| {
                                        DirectBootError::Golden(
                                            "it has an initrd event, and this boot has no initrd"
                                                .into(),
                                        )
                                    })?),
                                    _ => None,
                                }
                            } else {
                                None
                            };
                            let d = match computed {
                                Some(c) => c.digests.get(bank).cloned(),
                                None => e.digest(*bank).map(<[u8]>::to_vec),
                            }
                            .ok_or_else(|| {
                                DirectBootError::Golden(format!(
                                    "event {} has no {bank} digest",
                                    e.index
                                ))
                            })?;
                            bank.extend_in_place(&mut v, &d);
                        }
                        per.insert(pcr, v);
                    }
                }
            }
            None => {
                for bank in &banks {
                    let per = pcrs.entry(*bank).or_default();
                    let mut v4 = vec![0u8; bank.size()];
                    if let Some(d) = kernel.and_then(|e| e.digests.get(bank)) {
                        bank.extend_in_place(&mut v4, d);
                    }
                    bank.extend_in_place(&mut v4, &bank.digest(CALLING_EFI_APPLICATION.as_bytes()));
                    bank.extend_in_place(&mut v4, &bank.digest(&[0, 0, 0, 0]));
                    per.insert(4, v4);
                    let mut v9 = vec![0u8; bank.size()];
                    for e in [opts, initrd].into_iter().flatten() {
                        if let Some(d) = e.digests.get(bank) {
                            bank.extend_in_place(&mut v9, d);
                        }
                    }
                    per.insert(9, v9);
                }
            }
        }
        Ok(Prediction {
            pcrs,
            events,
            golden: golden.is_some(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bzImage-shaped header: protocol 2.15, LOADED_HIGH, above-4G initrd.
    fn kernel() -> Vec<u8> {
        let mut k = vec![0u8; 0x2000];
        k[0x1f1] = 3;
        k[0x202..0x206].copy_from_slice(b"HdrS");
        k[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
        k[0x211] = 0x01;
        k[0x22c..0x230].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
        k[0x236..0x238].copy_from_slice(&0x0002u16.to_le_bytes());
        k
    }

    fn boot<'a>(
        k: &'a [u8],
        initrd: Option<&'a [u8]>,
        cmdline: &'a str,
        mib: u64,
    ) -> DirectBoot<'a> {
        DirectBoot {
            kernel: k,
            initrd,
            cmdline,
            memory_mib: mib,
        }
    }

    #[test]
    fn qemu_patches_the_setup_header() {
        let k = kernel();
        let initrd = vec![7u8; 10_000];
        let p = boot(&k, Some(&initrd), "console=ttyS0", 512)
            .patched_kernel()
            .unwrap();
        assert_eq!(p[0x210], 0xb0);
        assert_eq!(p[0x211], 0x81);
        assert_eq!(&p[0x224..0x226], &0xfe00u16.to_le_bytes());
        assert_eq!(&p[0x228..0x22c], &0x20000u32.to_le_bytes());
        // 512 MiB below 4 GiB, minus the ACPI area, minus 1, minus the size,
        // page aligned.
        let max = 0x2000_0000u64 - QEMU_ACPI_DATA_SIZE - 1;
        let addr = (max - 10_000) & !4095;
        assert_eq!(
            &p[0x218..0x21c],
            &u32::try_from(addr).unwrap().to_le_bytes()
        );
        assert_eq!(&p[0x21c..0x220], &10_000u32.to_le_bytes());
        // Nothing else changed.
        let changed: Vec<usize> = (0..k.len()).filter(|i| k[*i] != p[*i]).collect();
        assert!(
            changed.iter().all(|i| (0x210..0x22c).contains(i)),
            "{changed:x?}"
        );
        // The memory and the initrd size move the initrd; the command line does not.
        let q = boot(&k, Some(&initrd), "console=ttyS0", 768)
            .patched_kernel()
            .unwrap();
        assert_ne!(p, q);
        let r = boot(&k, Some(&initrd), "other", 512)
            .patched_kernel()
            .unwrap();
        assert_eq!(p, r);
        let v = boot(&k, Some(&initrd), "vga=0x317 x", 512)
            .patched_kernel()
            .unwrap();
        assert_eq!(&v[0x1fa..0x1fc], &0x317u16.to_le_bytes());
    }

    #[test]
    fn header_limit_and_low_memory_bound_the_initrd() {
        let mut k = kernel();
        k[0x236] = 0; // no XLF_CAN_BE_LOADED_ABOVE_4G: initrd_addr_max rules
        k[0x22c..0x230].copy_from_slice(&0x0fff_ffffu32.to_le_bytes());
        let p = boot(&k, Some(&[1u8; 100]), "", 4096)
            .patched_kernel()
            .unwrap();
        let addr = (0x0fff_ffffu64 - 100) & !4095;
        assert_eq!(
            &p[0x218..0x21c],
            &u32::try_from(addr).unwrap().to_le_bytes()
        );
        assert_eq!(q35_below_4g(4096), 0x8000_0000);
        assert_eq!(q35_below_4g(2048), 0x8000_0000);
        assert_eq!(q35_below_4g(1024), 0x4000_0000);
        let big = vec![0u8; 0x1000];
        assert!(matches!(
            boot(&k, Some(&big), "", 0).patched_kernel(),
            Err(DirectBootError::InitrdTooLarge { .. })
        ));
    }

    #[test]
    fn load_options_are_utf16_with_the_initrd_argument_and_nul() {
        let k = kernel();
        let b = boot(&k, Some(&[0u8]), "a b", 512);
        let want: Vec<u8> = "a b initrd=initrd\0"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert_eq!(b.load_options(), want);
        assert_eq!(boot(&k, None, "a", 512).load_options(), vec![b'a', 0, 0, 0]);
    }

    #[test]
    fn non_bzimages_are_errors_not_panics() {
        for k in [vec![], vec![0u8; 0x100], vec![0u8; 0x300]] {
            assert!(boot(&k, None, "", 512).patched_kernel().is_err());
        }
        let mut old = kernel();
        old[0x211] = 0;
        assert!(boot(&old, None, "", 512).patched_kernel().is_err());
        // A bzImage header without a PE image has no Authenticode digest.
        assert!(boot(&kernel(), None, "", 512)
            .kernel_digest(HashAlg::Sha256)
            .is_err());
        assert!(boot(&kernel(), None, "vga=zz", 512)
            .patched_kernel()
            .is_err());
    }
}
