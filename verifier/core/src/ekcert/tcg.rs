//! TCG attributes of EK certificates (TCG "EK Credential Profile For TPM
//! Family 2.0; Level 0", Version 2.5 Revision 2, §3: subject alternative
//! name and subject directory attributes; OIDs under tcg-attribute
//! 2.23.133.2).

use const_oid::ObjectIdentifier;
use der::asn1::{Ia5StringRef, PrintableStringRef, Utf8StringRef};
use der::{Decode, Encode, Reader, SliceReader, Tag, Tagged};
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName;

/// tcg-at-tpmManufacturer.
const TPM_MANUFACTURER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.133.2.1");
/// tcg-at-tpmModel.
const TPM_MODEL: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.133.2.2");
/// tcg-at-tpmVersion.
const TPM_VERSION: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.133.2.3");
/// tcg-at-tpmSpecification.
const TPM_SPECIFICATION: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.133.2.16");

/// The TPM named by an EK certificate's subjectAltName directoryName.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TpmIdentity {
    /// tcg-at-tpmManufacturer, e.g. `id:474F4F47`.
    pub manufacturer: Option<String>,
    /// tcg-at-tpmModel, e.g. `vTPM`.
    pub model: Option<String>,
    /// tcg-at-tpmVersion (firmware version), e.g. `id:20160511`.
    pub version: Option<String>,
}

/// `id:XXXXXXXX` (hex, at most 8 digits) → value.
fn parse_id(s: &str) -> Option<u32> {
    let hex = s.strip_prefix("id:").or_else(|| s.strip_prefix("ID:"))?;
    if hex.is_empty() || hex.len() > 8 {
        return None;
    }
    u32::from_str_radix(hex, 16).ok()
}

impl TpmIdentity {
    /// The TPM_MANUFACTURER vendor ID (TCG Vendor ID Registry), from
    /// `id:XXXXXXXX`; e.g. 0x474F4F47 = "GOOG".
    pub fn manufacturer_id(&self) -> Option<u32> {
        self.manufacturer.as_deref().and_then(parse_id)
    }

    /// The vendor ID as its four ASCII characters when printable (trailing
    /// NULs and spaces removed), e.g. `GOOG`, `IFX`, `NTC`.
    pub fn manufacturer_ascii(&self) -> Option<String> {
        let id = self.manufacturer_id()?.to_be_bytes();
        let s: String = id
            .iter()
            .take_while(|b| **b != 0)
            .map(|b| char::from(*b))
            .collect();
        let s = s.trim_end().to_string();
        (!s.is_empty() && s.chars().all(|c| c.is_ascii_graphic() || c == ' ')).then_some(s)
    }

    /// The firmware version from `id:XXXXXXXX`.
    pub fn version_id(&self) -> Option<u32> {
        self.version.as_deref().and_then(parse_id)
    }
}

/// TPMSpecification ::= SEQUENCE { family UTF8String, level INTEGER,
/// revision INTEGER }.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TpmSpecification {
    /// e.g. `2.0`.
    pub family: String,
    /// e.g. 0.
    pub level: u32,
    /// e.g. 138 (= 1.38).
    pub revision: u32,
}

fn any_string(v: &der::Any) -> Result<String, String> {
    let s = match v.tag() {
        Tag::Utf8String => Utf8StringRef::try_from(v).map(|s| s.as_str().to_string()),
        Tag::PrintableString => PrintableStringRef::try_from(v).map(|s| s.as_str().to_string()),
        Tag::Ia5String => Ia5StringRef::try_from(v).map(|s| s.as_str().to_string()),
        other => return Err(format!("expected a UTF8String, got {other}")),
    };
    s.map_err(|e| e.to_string())
}

/// The TCG attributes in a subjectAltName extension value; `None` when the
/// SAN names no TPM.
pub(super) fn parse_san(value: &[u8]) -> Result<Option<TpmIdentity>, String> {
    let san = SubjectAltName::from_der(value).map_err(|e| e.to_string())?;
    let mut id = TpmIdentity::default();
    let mut any = false;
    for gn in &san.0 {
        let GeneralName::DirectoryName(name) = gn else {
            continue;
        };
        for rdn in &name.0 {
            for atv in rdn.0.iter() {
                let slot = match atv.oid {
                    o if o == TPM_MANUFACTURER => (&mut id.manufacturer, "tcg-at-tpmManufacturer"),
                    o if o == TPM_MODEL => (&mut id.model, "tcg-at-tpmModel"),
                    o if o == TPM_VERSION => (&mut id.version, "tcg-at-tpmVersion"),
                    _ => continue,
                };
                let (field, label) = slot;
                if field.is_some() {
                    return Err(format!("{label} appears more than once"));
                }
                *field = Some(any_string(&atv.value).map_err(|e| format!("{label}: {e}"))?);
                any = true;
            }
        }
    }
    Ok(any.then_some(id))
}

/// tcg-at-tpmSpecification from a subjectDirectoryAttributes value
/// (SEQUENCE OF Attribute, RFC 5280 §4.2.1.8); other attributes ignored.
pub(super) fn parse_sda(value: &[u8]) -> Result<Option<TpmSpecification>, String> {
    let attrs = Vec::<Attribute>::from_der(value).map_err(|e| e.to_string())?;
    let mut spec = None;
    for attr in attrs.iter().filter(|a| a.oid == TPM_SPECIFICATION) {
        if spec.is_some() || attr.values.len() != 1 {
            return Err("tcg-at-tpmSpecification must appear once with one value".to_string());
        }
        let v = attr
            .values
            .get(0)
            .ok_or("tcg-at-tpmSpecification has no value")?;
        let der = v.to_der().map_err(|e| e.to_string())?;
        spec = Some(parse_spec(&der).map_err(|e| format!("tcg-at-tpmSpecification: {e}"))?);
    }
    Ok(spec)
}

fn parse_spec(der: &[u8]) -> der::Result<TpmSpecification> {
    let mut r = SliceReader::new(der)?;
    let spec = r.sequence(|s| {
        let family = Utf8StringRef::decode(s)?.as_str().to_string();
        let level = u32::decode(s)?;
        let revision = u32::decode(s)?;
        Ok(TpmSpecification {
            family,
            level,
            revision,
        })
    })?;
    r.finish(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_ids() {
        let t = TpmIdentity {
            manufacturer: Some("id:474F4F47".into()),
            model: None,
            version: Some("id:20160511".into()),
        };
        assert_eq!(t.manufacturer_id(), Some(0x474F_4F47));
        assert_eq!(t.manufacturer_ascii().as_deref(), Some("GOOG"));
        assert_eq!(t.version_id(), Some(0x2016_0511));
        let ifx = TpmIdentity {
            manufacturer: Some("id:49465800".into()),
            ..TpmIdentity::default()
        };
        assert_eq!(ifx.manufacturer_ascii().as_deref(), Some("IFX"));
        for bad in ["474F4F47", "id:", "id:123456789", "id:xyz"] {
            assert_eq!(parse_id(bad), None, "{bad}");
        }
    }
}
