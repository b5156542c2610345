//! UEFI device paths (UEFI Specification 2.10 §10.2 "EFI Device Path
//! Protocol", §10.3 "Device Path Nodes", §10.6 "Text Device Path
//! Representation"), as carried in `UEFI_IMAGE_LOAD_EVENT` and `EFI_LOAD_OPTION`.
//!
//! A path is a sequence of nodes `{Type u8, SubType u8, Length u16 (LE,
//! header included), data}` ending with an End Entire node (0x7F/0xFF); End
//! Instance nodes (0x7F/0x01) separate instances. Every node length is checked
//! against the remaining bytes and against the fixed size of the known node
//! types; nothing may follow the End Entire node. A path without an End node
//! (running to the end of its bytes) is accepted, since some firmware logs
//! truncated paths; [`DevicePath::terminated`] records it. At most
//! [`MAX_NODES`] nodes are read.
//!
//! Known nodes are rendered in the §10.6 text form (`PciRoot(0x0)/Pci(0x1,0x0)/
//! HD(1,GPT,…)/\EFI\BOOT\BOOTX64.EFI`); unknown ones as
//! `Path(type,subtype,hex)`.

use std::fmt;

use super::guid::Guid;
use super::text::ucs2_field;
use crate::error::FormatError;
use crate::reader::Reader;

/// Most nodes read from one device path.
pub const MAX_NODES: usize = 512;

/// A parsed device path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePath {
    pub nodes: Vec<DevicePathNode>,
    /// True when the path ended with an End Entire node.
    pub terminated: bool,
}

/// Partition signature of a Hard Drive node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionSignature {
    None,
    Mbr(u32),
    Gpt(Guid),
}

/// One device path node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DevicePathNode {
    /// Hardware / PCI (1/1).
    Pci { function: u8, device: u8 },
    /// Hardware / Memory Mapped (1/3).
    MemoryMapped {
        memory_type: u32,
        start: u64,
        end: u64,
    },
    /// Hardware (1/4), Messaging (3/10) or Media (4/3) vendor node.
    Vendor {
        node_type: u8,
        vendor: Guid,
        data: Vec<u8>,
    },
    /// Hardware / Controller (1/5).
    Controller(u32),
    /// ACPI (2/1).
    Acpi { hid: u32, uid: u32 },
    /// ACPI _ADR (2/3).
    AcpiAdr(Vec<u32>),
    /// Messaging / ATAPI (3/1).
    Atapi {
        secondary: bool,
        slave: bool,
        lun: u16,
    },
    /// Messaging / SCSI (3/2).
    Scsi { target: u16, lun: u16 },
    /// Messaging / USB (3/5).
    Usb { parent_port: u8, interface: u8 },
    /// Messaging / MAC address (3/11).
    Mac { address: [u8; 32], if_type: u8 },
    /// Messaging / IPv4 (3/12).
    Ipv4 {
        local: [u8; 4],
        remote: [u8; 4],
        local_port: u16,
        remote_port: u16,
        protocol: u16,
        static_address: bool,
        gateway: [u8; 4],
        subnet_mask: [u8; 4],
    },
    /// Messaging / IPv6 (3/13).
    Ipv6 {
        local: [u8; 16],
        remote: [u8; 16],
        local_port: u16,
        remote_port: u16,
        protocol: u16,
        origin: u8,
        prefix_length: u8,
        gateway: [u8; 16],
    },
    /// Messaging / USB class (3/15).
    UsbClass {
        vendor: u16,
        product: u16,
        class: u8,
        subclass: u8,
        protocol: u8,
    },
    /// Messaging / Device Logical Unit (3/17).
    LogicalUnit(u8),
    /// Messaging / SATA (3/18).
    Sata {
        hba_port: u16,
        multiplier_port: u16,
        lun: u16,
    },
    /// Messaging / VLAN (3/20).
    Vlan(u16),
    /// Messaging / NVM Express namespace (3/23).
    Nvme { namespace_id: u32, eui64: [u8; 8] },
    /// Messaging / URI (3/24).
    Uri(String),
    /// Messaging / SD (3/26).
    Sd(u8),
    /// Messaging / eMMC (3/29).
    Emmc(u8),
    /// Media / Hard Drive (4/1).
    HardDrive {
        partition: u32,
        start: u64,
        size: u64,
        signature: PartitionSignature,
    },
    /// Media / CD-ROM (4/2).
    CdRom {
        boot_entry: u32,
        start: u64,
        size: u64,
    },
    /// Media / File Path (4/4).
    FilePath(String),
    /// Media / Media Protocol (4/5).
    MediaProtocol(Guid),
    /// Media / PIWG Firmware File (4/6).
    FvFile(Guid),
    /// Media / PIWG Firmware Volume (4/7).
    Fv(Guid),
    /// Media / Relative Offset Range (4/8).
    Offset { start: u64, end: u64 },
    /// BIOS Boot Specification (5/1).
    Bbs {
        device_type: u16,
        status: u16,
        description: String,
    },
    /// End of one instance (0x7F/0x01).
    EndInstance,
    /// Any other node, kept as type, subtype and data.
    Unknown {
        node_type: u8,
        sub_type: u8,
        data: Vec<u8>,
    },
}

impl DevicePath {
    /// Parses a device path occupying exactly `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        let mut r = Reader::new(bytes);
        let mut budget = MAX_NODES;
        let path = Self::read(&mut r, &mut budget)?;
        r.finish("device path (after the End Entire node)")?;
        Ok(path)
    }

    /// Parses a packed sequence of device paths filling `bytes` (the
    /// `FilePathList` of an `EFI_LOAD_OPTION`), at most [`MAX_NODES`] nodes in all.
    pub fn parse_list(bytes: &[u8]) -> Result<Vec<Self>, FormatError> {
        let mut r = Reader::new(bytes);
        let mut budget = MAX_NODES;
        let mut paths = Vec::new();
        while !r.is_empty() {
            paths.push(Self::read(&mut r, &mut budget)?);
        }
        Ok(paths)
    }

    /// Reads nodes up to and including an End Entire node, or to the end of
    /// the input, spending at most `budget` nodes.
    fn read(r: &mut Reader<'_>, budget: &mut usize) -> Result<Self, FormatError> {
        let mut nodes = Vec::new();
        while !r.is_empty() {
            if *budget == 0 {
                return Err(FormatError::TooLarge {
                    field: "device path nodes",
                    size: MAX_NODES + 1,
                    max: MAX_NODES,
                });
            }
            *budget -= 1;
            let node_type = r.u8("EFI_DEVICE_PATH_PROTOCOL.Type")?;
            let sub_type = r.u8("EFI_DEVICE_PATH_PROTOCOL.SubType")?;
            let length = usize::from(r.u16_le("EFI_DEVICE_PATH_PROTOCOL.Length")?);
            let body_len = length.checked_sub(4).ok_or_else(|| {
                FormatError::unexpected("EFI_DEVICE_PATH_PROTOCOL.Length", "at least 4", length)
            })?;
            let body = r.take(body_len, "device path node data")?;
            if node_type == 0x7F && sub_type == 0xFF {
                if body_len != 0 {
                    return Err(FormatError::unexpected("End Entire node Length", 4, length));
                }
                return Ok(Self {
                    nodes,
                    terminated: true,
                });
            }
            nodes.push(parse_node(node_type, sub_type, body)?);
        }
        Ok(Self {
            nodes,
            terminated: false,
        })
    }

    /// The last File Path node's text (e.g. `\EFI\BOOT\BOOTX64.EFI`).
    pub fn file_path(&self) -> Option<&str> {
        self.nodes.iter().rev().find_map(|n| match n {
            DevicePathNode::FilePath(p) => Some(p.as_str()),
            _ => None,
        })
    }
}

fn fixed<'a>(body: &'a [u8], len: usize, what: &'static str) -> Result<Reader<'a>, FormatError> {
    if body.len() != len {
        return Err(FormatError::unexpected(
            what,
            format!("{} data bytes", len),
            body.len(),
        ));
    }
    Ok(Reader::new(body))
}

fn parse_node(node_type: u8, sub_type: u8, body: &[u8]) -> Result<DevicePathNode, FormatError> {
    use DevicePathNode as N;
    let node = match (node_type, sub_type) {
        (1, 1) => {
            let mut r = fixed(body, 2, "PCI device path node")?;
            N::Pci {
                function: r.u8("PCI.Function")?,
                device: r.u8("PCI.Device")?,
            }
        }
        (1, 3) => {
            let mut r = fixed(body, 20, "Memory Mapped device path node")?;
            N::MemoryMapped {
                memory_type: r.u32_le("MemoryMapped.MemoryType")?,
                start: r.u64_le("MemoryMapped.StartingAddress")?,
                end: r.u64_le("MemoryMapped.EndingAddress")?,
            }
        }
        (1, 4) | (3, 10) | (4, 3) => {
            let mut r = Reader::new(body);
            let vendor = Guid::read(&mut r, "Vendor device path node GUID")?;
            N::Vendor {
                node_type,
                vendor,
                data: r.peek_rest().to_vec(),
            }
        }
        (1, 5) => {
            N::Controller(fixed(body, 4, "Controller device path node")?.u32_le("Controller")?)
        }
        (2, 1) => {
            let mut r = fixed(body, 8, "ACPI device path node")?;
            N::Acpi {
                hid: r.u32_le("ACPI.HID")?,
                uid: r.u32_le("ACPI.UID")?,
            }
        }
        (2, 3) => {
            let chunks = body.chunks_exact(4);
            if body.is_empty() || !chunks.remainder().is_empty() {
                return Err(FormatError::unexpected(
                    "ACPI _ADR device path node",
                    "a non-zero multiple of 4 data bytes",
                    body.len(),
                ));
            }
            N::AcpiAdr(
                chunks
                    .map(|c| Reader::new(c).u32_le("ACPI _ADR"))
                    .collect::<Result<_, _>>()?,
            )
        }
        (3, 1) => {
            let mut r = fixed(body, 4, "ATAPI device path node")?;
            N::Atapi {
                secondary: r.u8("ATAPI.PrimarySecondary")? != 0,
                slave: r.u8("ATAPI.SlaveMaster")? != 0,
                lun: r.u16_le("ATAPI.Lun")?,
            }
        }
        (3, 2) => {
            let mut r = fixed(body, 4, "SCSI device path node")?;
            N::Scsi {
                target: r.u16_le("SCSI.Pun")?,
                lun: r.u16_le("SCSI.Lun")?,
            }
        }
        (3, 5) => {
            let mut r = fixed(body, 2, "USB device path node")?;
            N::Usb {
                parent_port: r.u8("USB.ParentPortNumber")?,
                interface: r.u8("USB.InterfaceNumber")?,
            }
        }
        (3, 11) => {
            let mut r = fixed(body, 33, "MAC address device path node")?;
            N::Mac {
                address: r.array("MAC.MacAddress")?,
                if_type: r.u8("MAC.IfType")?,
            }
        }
        (3, 12) => {
            let mut r = fixed(body, 23, "IPv4 device path node")?;
            N::Ipv4 {
                local: r.array("IPv4.LocalIpAddress")?,
                remote: r.array("IPv4.RemoteIpAddress")?,
                local_port: r.u16_le("IPv4.LocalPort")?,
                remote_port: r.u16_le("IPv4.RemotePort")?,
                protocol: r.u16_le("IPv4.Protocol")?,
                static_address: r.u8("IPv4.StaticIPAddress")? != 0,
                gateway: r.array("IPv4.GatewayIpAddress")?,
                subnet_mask: r.array("IPv4.SubnetMask")?,
            }
        }
        (3, 13) => {
            let mut r = fixed(body, 56, "IPv6 device path node")?;
            N::Ipv6 {
                local: r.array("IPv6.LocalIpAddress")?,
                remote: r.array("IPv6.RemoteIpAddress")?,
                local_port: r.u16_le("IPv6.LocalPort")?,
                remote_port: r.u16_le("IPv6.RemotePort")?,
                protocol: r.u16_le("IPv6.Protocol")?,
                origin: r.u8("IPv6.IPAddressOrigin")?,
                prefix_length: r.u8("IPv6.PrefixLength")?,
                gateway: r.array("IPv6.GatewayIpAddress")?,
            }
        }
        (3, 15) => {
            let mut r = fixed(body, 7, "USB class device path node")?;
            N::UsbClass {
                vendor: r.u16_le("UsbClass.VendorId")?,
                product: r.u16_le("UsbClass.ProductId")?,
                class: r.u8("UsbClass.DeviceClass")?,
                subclass: r.u8("UsbClass.DeviceSubClass")?,
                protocol: r.u8("UsbClass.DeviceProtocol")?,
            }
        }
        (3, 17) => N::LogicalUnit(fixed(body, 1, "Logical Unit device path node")?.u8("Lun")?),
        (3, 18) => {
            let mut r = fixed(body, 6, "SATA device path node")?;
            N::Sata {
                hba_port: r.u16_le("SATA.HBAPortNumber")?,
                multiplier_port: r.u16_le("SATA.PortMultiplierPortNumber")?,
                lun: r.u16_le("SATA.Lun")?,
            }
        }
        (3, 20) => N::Vlan(fixed(body, 2, "VLAN device path node")?.u16_le("VLAN.VlanId")?),
        (3, 23) => {
            let mut r = fixed(body, 12, "NVMe namespace device path node")?;
            N::Nvme {
                namespace_id: r.u32_le("NVMe.NamespaceId")?,
                eui64: r.array("NVMe.EUI64")?,
            }
        }
        (3, 24) => N::Uri(String::from_utf8_lossy(body).into_owned()),
        (3, 26) => N::Sd(fixed(body, 1, "SD device path node")?.u8("SD.SlotNumber")?),
        (3, 29) => N::Emmc(fixed(body, 1, "eMMC device path node")?.u8("eMMC.SlotNumber")?),
        (4, 1) => {
            let mut r = fixed(body, 38, "Hard Drive device path node")?;
            let partition = r.u32_le("HardDrive.PartitionNumber")?;
            let start = r.u64_le("HardDrive.PartitionStart")?;
            let size = r.u64_le("HardDrive.PartitionSize")?;
            let sig: [u8; 16] = r.array("HardDrive.PartitionSignature")?;
            let _mbr_type = r.u8("HardDrive.PartitionFormat")?;
            let signature = match r.u8("HardDrive.SignatureType")? {
                0 => PartitionSignature::None,
                1 => PartitionSignature::Mbr(Reader::new(&sig).u32_le("MBR signature")?),
                2 => PartitionSignature::Gpt(Guid(sig)),
                other => {
                    return Err(FormatError::unexpected(
                        "HardDrive.SignatureType",
                        "0 (none), 1 (MBR) or 2 (GUID)",
                        other,
                    ))
                }
            };
            N::HardDrive {
                partition,
                start,
                size,
                signature,
            }
        }
        (4, 2) => {
            let mut r = fixed(body, 20, "CD-ROM device path node")?;
            N::CdRom {
                boot_entry: r.u32_le("CDROM.BootEntry")?,
                start: r.u64_le("CDROM.PartitionStart")?,
                size: r.u64_le("CDROM.PartitionSize")?,
            }
        }
        (4, 4) => N::FilePath(ucs2_field(body, "File Path device path node")?),
        (4, 5) => N::MediaProtocol(Guid::read(
            &mut fixed(body, 16, "Media Protocol node")?,
            "Protocol",
        )?),
        (4, 6) => N::FvFile(Guid::read(
            &mut fixed(body, 16, "PIWG Firmware File node")?,
            "FvFileName",
        )?),
        (4, 7) => N::Fv(Guid::read(
            &mut fixed(body, 16, "PIWG Firmware Volume node")?,
            "FvName",
        )?),
        (4, 8) => {
            let mut r = fixed(body, 20, "Relative Offset Range node")?;
            let _reserved = r.u32_le("RelativeOffsetRange.Reserved")?;
            N::Offset {
                start: r.u64_le("RelativeOffsetRange.StartingOffset")?,
                end: r.u64_le("RelativeOffsetRange.EndingOffset")?,
            }
        }
        (5, 1) => {
            let mut r = Reader::new(body);
            let device_type = r.u16_le("BBS.DeviceType")?;
            let status = r.u16_le("BBS.StatusFlag")?;
            let rest = r.peek_rest();
            let text = rest.strip_suffix(&[0]).unwrap_or(rest);
            N::Bbs {
                device_type,
                status,
                description: String::from_utf8_lossy(text).into_owned(),
            }
        }
        (0x7F, 0x01) => {
            if !body.is_empty() {
                return Err(FormatError::unexpected(
                    "End Instance node Length",
                    4,
                    body.len() + 4,
                ));
            }
            N::EndInstance
        }
        _ => N::Unknown {
            node_type,
            sub_type,
            data: body.to_vec(),
        },
    };
    Ok(node)
}

/// EISA PNP ID text of an ACPI _HID (e.g. 0x0A0341D0 → "PNP0A03").
fn eisa_id(hid: u32) -> String {
    let vendor = (hid & 0xFFFF) as u16;
    let letter = |shift: u16| char::from(b'@' + ((vendor >> shift) & 0x1F) as u8);
    format!("{}{}{}{:04X}", letter(10), letter(5), letter(0), hid >> 16)
}

fn ipv4(a: &[u8; 4]) -> String {
    std::net::Ipv4Addr::from(*a).to_string()
}

fn protocol(p: u16) -> String {
    match p {
        6 => "TCP".to_owned(),
        17 => "UDP".to_owned(),
        p => format!("0x{p:x}"),
    }
}

impl fmt::Display for DevicePathNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use DevicePathNode as N;
        match self {
            N::Pci { function, device } => write!(f, "Pci(0x{device:x},0x{function:x})"),
            N::MemoryMapped {
                memory_type,
                start,
                end,
            } => {
                write!(f, "MemoryMapped(0x{memory_type:x},0x{start:x},0x{end:x})")
            }
            N::Vendor {
                node_type,
                vendor,
                data,
            } => {
                let kind = match node_type {
                    1 => "VenHw",
                    3 => "VenMsg",
                    _ => "VenMedia",
                };
                if data.is_empty() {
                    write!(f, "{kind}({vendor})")
                } else {
                    write!(f, "{kind}({vendor},{})", hex::encode(data))
                }
            }
            N::Controller(c) => write!(f, "Ctrl(0x{c:x})"),
            N::Acpi { hid, uid } => match *hid {
                0x0A03_41D0 => write!(f, "PciRoot(0x{uid:x})"),
                0x0A08_41D0 => write!(f, "PcieRoot(0x{uid:x})"),
                h if h & 0xFFFF == 0x41D0 => write!(f, "Acpi({},0x{uid:x})", eisa_id(h)),
                h => write!(f, "Acpi(0x{h:08x},0x{uid:x})"),
            },
            N::AcpiAdr(adrs) => {
                let list: Vec<String> = adrs.iter().map(|a| format!("0x{a:x}")).collect();
                write!(f, "AcpiAdr({})", list.join(","))
            }
            N::Atapi {
                secondary,
                slave,
                lun,
            } => write!(
                f,
                "Ata({},{},0x{lun:x})",
                if *secondary { "Secondary" } else { "Primary" },
                if *slave { "Slave" } else { "Master" }
            ),
            N::Scsi { target, lun } => write!(f, "Scsi(0x{target:x},0x{lun:x})"),
            N::Usb {
                parent_port,
                interface,
            } => write!(f, "USB(0x{parent_port:x},0x{interface:x})"),
            N::Mac { address, if_type } => {
                let n = if matches!(if_type, 0 | 1) { 6 } else { 32 };
                let shown = address.get(..n).unwrap_or(address);
                write!(f, "MAC({},0x{if_type:x})", hex::encode(shown))
            }
            N::Ipv4 {
                local,
                remote,
                local_port,
                remote_port,
                protocol: p,
                static_address,
                gateway,
                subnet_mask,
            } => {
                write!(
                    f,
                    "IPv4({}:{remote_port},{},{},{}:{local_port},{},{})",
                    ipv4(remote),
                    protocol(*p),
                    if *static_address { "Static" } else { "DHCP" },
                    ipv4(local),
                    ipv4(gateway),
                    ipv4(subnet_mask)
                )
            }
            N::Ipv6 {
                local,
                remote,
                local_port,
                remote_port,
                protocol: p,
                origin,
                prefix_length,
                gateway,
            } => {
                let origin = match origin {
                    0 => "Static".to_owned(),
                    1 => "StatelessAutoConfigure".to_owned(),
                    2 => "StatefulAutoConfigure".to_owned(),
                    o => format!("0x{o:x}"),
                };
                write!(
                    f,
                    "IPv6([{}]:{remote_port},{},{origin},[{}]:{local_port},0x{prefix_length:x},{})",
                    std::net::Ipv6Addr::from(*remote),
                    protocol(*p),
                    std::net::Ipv6Addr::from(*local),
                    std::net::Ipv6Addr::from(*gateway)
                )
            }
            N::UsbClass {
                vendor,
                product,
                class,
                subclass,
                protocol: p,
            } => write!(
                f,
                "UsbClass(0x{vendor:x},0x{product:x},0x{class:x},0x{subclass:x},0x{p:x})"
            ),
            N::LogicalUnit(l) => write!(f, "Unit(0x{l:x})"),
            N::Sata {
                hba_port,
                multiplier_port,
                lun,
            } => {
                write!(f, "Sata(0x{hba_port:x},0x{multiplier_port:x},0x{lun:x})")
            }
            N::Vlan(v) => write!(f, "Vlan({v})"),
            N::Nvme {
                namespace_id,
                eui64,
            } => {
                // §10.6: the EUI-64 is shown most significant byte first.
                let bytes: Vec<String> = eui64.iter().rev().map(|b| format!("{b:02X}")).collect();
                write!(f, "NVMe(0x{namespace_id:x},{})", bytes.join("-"))
            }
            N::Uri(u) => write!(f, "Uri({u})"),
            N::Sd(s) => write!(f, "SD(0x{s:x})"),
            N::Emmc(s) => write!(f, "eMMC(0x{s:x})"),
            N::HardDrive {
                partition,
                start,
                size,
                signature,
            } => match signature {
                PartitionSignature::Gpt(g) => {
                    write!(f, "HD({partition},GPT,{g},0x{start:x},0x{size:x})")
                }
                PartitionSignature::Mbr(s) => {
                    write!(f, "HD({partition},MBR,0x{s:08x},0x{start:x},0x{size:x})")
                }
                PartitionSignature::None => write!(f, "HD({partition},0,0,0x{start:x},0x{size:x})"),
            },
            N::CdRom {
                boot_entry,
                start,
                size,
            } => write!(f, "CDROM(0x{boot_entry:x},0x{start:x},0x{size:x})"),
            N::FilePath(p) => f.write_str(p),
            N::MediaProtocol(g) => write!(f, "Media({g})"),
            N::FvFile(g) => write!(f, "FvFile({g})"),
            N::Fv(g) => write!(f, "Fv({g})"),
            N::Offset { start, end } => write!(f, "Offset(0x{start:x},0x{end:x})"),
            N::Bbs {
                device_type,
                status,
                description,
            } => {
                write!(f, "BBS(0x{device_type:x},{description},0x{status:x})")
            }
            N::EndInstance => f.write_str(","),
            N::Unknown {
                node_type,
                sub_type,
                data,
            } => {
                write!(f, "Path({node_type},{sub_type},{})", hex::encode(data))
            }
        }
    }
}

impl fmt::Display for DevicePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for node in &self.nodes {
            if matches!(node, DevicePathNode::EndInstance) {
                f.write_str(",")?;
                first = true;
                continue;
            }
            if !first {
                f.write_str("/")?;
            }
            first = false;
            write!(f, "{node}")?;
        }
        if !self.terminated {
            f.write_str(" (no end node)")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(t: u8, s: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![t, s];
        v.extend_from_slice(&u16::try_from(body.len() + 4).unwrap().to_le_bytes());
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn pci_root_pci_file() {
        let mut b = node(2, 1, &[0xD0, 0x41, 0x03, 0x0A, 0, 0, 0, 0]);
        b.extend(node(1, 1, &[0x00, 0x03]));
        let file: Vec<u8> = "\\EFI\\BOOT\\BOOTX64.EFI\0"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        b.extend(node(4, 4, &file));
        b.extend(node(0x7F, 0xFF, &[]));
        let p = DevicePath::parse(&b).unwrap();
        assert_eq!(
            p.to_string(),
            "PciRoot(0x0)/Pci(0x3,0x0)/\\EFI\\BOOT\\BOOTX64.EFI"
        );
        assert_eq!(p.file_path(), Some("\\EFI\\BOOT\\BOOTX64.EFI"));
    }

    #[test]
    fn lengths_checked() {
        // Node claims 3 bytes (< header).
        assert!(DevicePath::parse(&[1, 1, 3, 0]).is_err());
        // Node claims more than available.
        assert!(DevicePath::parse(&[1, 1, 10, 0, 0, 0]).is_err());
        // PCI node of the wrong size.
        assert!(DevicePath::parse(&node(1, 1, &[0, 0, 0])).is_err());
        // Bytes after the End Entire node.
        let mut b = node(0x7F, 0xFF, &[]);
        b.push(0);
        assert!(DevicePath::parse(&b).is_err());
        // A list of two paths.
        let mut two = node(4, 4, &[b'a', 0, 0, 0]);
        two.extend(node(0x7F, 0xFF, &[]));
        two.extend(two.clone());
        let list = DevicePath::parse_list(&two).unwrap();
        assert_eq!(list.len(), 2);
        assert!(DevicePath::parse(&two).is_err());
        // Unknown nodes are kept.
        let p = DevicePath::parse(&node(9, 9, &[0xAB])).unwrap();
        assert_eq!(p.to_string(), "Path(9,9,ab) (no end node)");
        assert_eq!(eisa_id(0x0A0341D0), "PNP0A03");
    }
}
