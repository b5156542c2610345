//! The JSON rules every supply-chain document of sealbuild is read under.
//!
//! RFC 8259 §4 leaves the meaning of an object with duplicate member names
//! undefined ("the names within an object SHOULD be unique"); parsers differ
//! (first wins, last wins, error). A signed document whose meaning depends on
//! the reader's choice is ambiguous, so sealbuild refuses duplicates anywhere
//! in a statement, a DSSE envelope or a runtime measurement log before it
//! interprets them. Nesting depth is bounded by serde_json's recursion limit
//! (128), and input size by each caller before this runs.

use crate::error::FormatError;
use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use std::collections::BTreeSet;
use std::fmt;

/// Checks that `bytes` is one JSON value (RFC 8259, UTF-8, nothing but
/// whitespace after it) in which no object repeats a member name.
pub(crate) fn check(bytes: &[u8], what: &'static str) -> Result<(), FormatError> {
    serde_json::from_slice::<Checked>(bytes)
        .map(|_| ())
        .map_err(|e| FormatError::Encoding {
            what,
            reason: e.to_string(),
        })
}

/// Parses `bytes` as `T` after [`check`]; `what` names the document in errors.
pub(crate) fn parse<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    what: &'static str,
    max: usize,
) -> Result<T, FormatError> {
    if bytes.len() > max {
        return Err(FormatError::TooLarge {
            field: what,
            size: bytes.len(),
            max,
        });
    }
    check(bytes, what)?;
    from_slice_with_path(bytes).map_err(|reason| FormatError::Encoding { what, reason })
}

/// `serde_json::from_slice` whose error names the JSON path of the field
/// it concerns (`signatures[0].sig: Invalid symbol …`), so a refusal says
/// which field of the document is wrong.
pub(crate) fn from_slice_with_path<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
) -> Result<T, String> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            e.inner().to_string()
        } else {
            format!("{path}: {}", e.inner())
        }
    })?;
    de.end().map_err(|e| e.to_string())?;
    Ok(v)
}

/// A JSON value that has been walked and found free of duplicate names.
struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CheckVisitor)
    }
}

struct CheckVisitor;

impl<'de> Visitor<'de> for CheckVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_str<E>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_unit<E>(self) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_none<E>(self) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        let mut seen = BTreeSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(A::Error::custom(format!(
                    "member name {key:?} appears twice in one object"
                )));
            }
            map.next_value::<Checked>()?;
        }
        Ok(Checked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_refused_at_any_depth() {
        assert!(check(br#"{"a":1,"b":[{"c":1}]}"#, "t").is_ok());
        assert!(check(br#"{"a":1,"a":1}"#, "t").is_err());
        assert!(check(br#"{"a":[{"c":1,"c":2}]}"#, "t").is_err());
        assert!(check(br#"{"a":1} x"#, "t").is_err());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(100_000);
        assert!(check(deep.as_bytes(), "t").is_err());
    }
}
