//! Event types of the TCG PC Client Platform Firmware Profile Specification
//! (PFP), Version 1.06 Revision 52, §10.4.1 "Event Types" (Table "Events").
//!
//! The event type is a `UINT32` in both `TCG_PCR_EVENT` and `TCG_PCR_EVENT2`.
//! Values this module does not name are kept as they are (the log format does
//! not depend on them) and shown as `EV_UNKNOWN(0x…)`.

use std::fmt;

/// A TCG event type (`TCG_EVENTTYPE`, a little-endian `UINT32` on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventType(pub u32);

impl EventType {
    pub const PREBOOT_CERT: Self = Self(0x0000_0000);
    pub const POST_CODE: Self = Self(0x0000_0001);
    pub const UNUSED: Self = Self(0x0000_0002);
    pub const NO_ACTION: Self = Self(0x0000_0003);
    pub const SEPARATOR: Self = Self(0x0000_0004);
    pub const ACTION: Self = Self(0x0000_0005);
    pub const EVENT_TAG: Self = Self(0x0000_0006);
    pub const S_CRTM_CONTENTS: Self = Self(0x0000_0007);
    pub const S_CRTM_VERSION: Self = Self(0x0000_0008);
    pub const CPU_MICROCODE: Self = Self(0x0000_0009);
    pub const PLATFORM_CONFIG_FLAGS: Self = Self(0x0000_000A);
    pub const TABLE_OF_DEVICES: Self = Self(0x0000_000B);
    pub const COMPACT_HASH: Self = Self(0x0000_000C);
    pub const IPL: Self = Self(0x0000_000D);
    pub const IPL_PARTITION_DATA: Self = Self(0x0000_000E);
    pub const NONHOST_CODE: Self = Self(0x0000_000F);
    pub const NONHOST_CONFIG: Self = Self(0x0000_0010);
    pub const NONHOST_INFO: Self = Self(0x0000_0011);
    pub const OMIT_BOOT_DEVICE_EVENTS: Self = Self(0x0000_0012);
    pub const POST_CODE2: Self = Self(0x0000_0013);
    pub const EFI_EVENT_BASE: Self = Self(0x8000_0000);
    pub const EFI_VARIABLE_DRIVER_CONFIG: Self = Self(0x8000_0001);
    pub const EFI_VARIABLE_BOOT: Self = Self(0x8000_0002);
    pub const EFI_BOOT_SERVICES_APPLICATION: Self = Self(0x8000_0003);
    pub const EFI_BOOT_SERVICES_DRIVER: Self = Self(0x8000_0004);
    pub const EFI_RUNTIME_SERVICES_DRIVER: Self = Self(0x8000_0005);
    pub const EFI_GPT_EVENT: Self = Self(0x8000_0006);
    pub const EFI_ACTION: Self = Self(0x8000_0007);
    pub const EFI_PLATFORM_FIRMWARE_BLOB: Self = Self(0x8000_0008);
    pub const EFI_HANDOFF_TABLES: Self = Self(0x8000_0009);
    pub const EFI_PLATFORM_FIRMWARE_BLOB2: Self = Self(0x8000_000A);
    pub const EFI_HANDOFF_TABLES2: Self = Self(0x8000_000B);
    pub const EFI_VARIABLE_BOOT2: Self = Self(0x8000_000C);
    pub const EFI_GPT_EVENT2: Self = Self(0x8000_000D);
    pub const EFI_HCRTM_EVENT: Self = Self(0x8000_0010);
    pub const EFI_VARIABLE_AUTHORITY: Self = Self(0x8000_00E0);
    pub const EFI_SPDM_FIRMWARE_BLOB: Self = Self(0x8000_00E1);
    pub const EFI_SPDM_FIRMWARE_CONFIG: Self = Self(0x8000_00E2);
    pub const EFI_SPDM_DEVICE_POLICY: Self = Self(0x8000_00E3);
    pub const EFI_SPDM_DEVICE_AUTHORITY: Self = Self(0x8000_00E4);

    /// The specification's name (`EV_…`), or `"EV_UNKNOWN"` for a value the
    /// PFP does not assign.
    pub fn name(self) -> &'static str {
        match self.0 {
            0x0000_0000 => "EV_PREBOOT_CERT",
            0x0000_0001 => "EV_POST_CODE",
            0x0000_0002 => "EV_UNUSED",
            0x0000_0003 => "EV_NO_ACTION",
            0x0000_0004 => "EV_SEPARATOR",
            0x0000_0005 => "EV_ACTION",
            0x0000_0006 => "EV_EVENT_TAG",
            0x0000_0007 => "EV_S_CRTM_CONTENTS",
            0x0000_0008 => "EV_S_CRTM_VERSION",
            0x0000_0009 => "EV_CPU_MICROCODE",
            0x0000_000A => "EV_PLATFORM_CONFIG_FLAGS",
            0x0000_000B => "EV_TABLE_OF_DEVICES",
            0x0000_000C => "EV_COMPACT_HASH",
            0x0000_000D => "EV_IPL",
            0x0000_000E => "EV_IPL_PARTITION_DATA",
            0x0000_000F => "EV_NONHOST_CODE",
            0x0000_0010 => "EV_NONHOST_CONFIG",
            0x0000_0011 => "EV_NONHOST_INFO",
            0x0000_0012 => "EV_OMIT_BOOT_DEVICE_EVENTS",
            0x0000_0013 => "EV_POST_CODE2",
            0x8000_0000 => "EV_EFI_EVENT_BASE",
            0x8000_0001 => "EV_EFI_VARIABLE_DRIVER_CONFIG",
            0x8000_0002 => "EV_EFI_VARIABLE_BOOT",
            0x8000_0003 => "EV_EFI_BOOT_SERVICES_APPLICATION",
            0x8000_0004 => "EV_EFI_BOOT_SERVICES_DRIVER",
            0x8000_0005 => "EV_EFI_RUNTIME_SERVICES_DRIVER",
            0x8000_0006 => "EV_EFI_GPT_EVENT",
            0x8000_0007 => "EV_EFI_ACTION",
            0x8000_0008 => "EV_EFI_PLATFORM_FIRMWARE_BLOB",
            0x8000_0009 => "EV_EFI_HANDOFF_TABLES",
            0x8000_000A => "EV_EFI_PLATFORM_FIRMWARE_BLOB2",
            0x8000_000B => "EV_EFI_HANDOFF_TABLES2",
            0x8000_000C => "EV_EFI_VARIABLE_BOOT2",
            0x8000_000D => "EV_EFI_GPT_EVENT2",
            0x8000_0010 => "EV_EFI_HCRTM_EVENT",
            0x8000_00E0 => "EV_EFI_VARIABLE_AUTHORITY",
            0x8000_00E1 => "EV_EFI_SPDM_FIRMWARE_BLOB",
            0x8000_00E2 => "EV_EFI_SPDM_FIRMWARE_CONFIG",
            0x8000_00E3 => "EV_EFI_SPDM_DEVICE_POLICY",
            0x8000_00E4 => "EV_EFI_SPDM_DEVICE_AUTHORITY",
            _ => "EV_UNKNOWN",
        }
    }

    /// True when the PFP assigns this value.
    pub fn is_known(self) -> bool {
        self.name() != "EV_UNKNOWN"
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_known() {
            f.write_str(self.name())
        } else {
            write!(f, "EV_UNKNOWN(0x{:08x})", self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_display() {
        assert_eq!(
            EventType::EFI_BOOT_SERVICES_APPLICATION.to_string(),
            "EV_EFI_BOOT_SERVICES_APPLICATION"
        );
        assert_eq!(EventType(0x8000_00E0).name(), "EV_EFI_VARIABLE_AUTHORITY");
        assert_eq!(EventType(0x1234).to_string(), "EV_UNKNOWN(0x00001234)");
        assert!(!EventType(0x8000_000F).is_known());
    }
}
