//! JSON with object members sorted by name, whatever order
//! `serde_json::Map` keeps: it keeps insertion order when any crate in the
//! build enables serde_json's `preserve_order` (a dev-dependency does in
//! workspace test builds), so JSON whose bytes matter — in-toto statement
//! payloads, whose digest is signed and bound into evidence, and committed
//! documents — must not rely on the map's order.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Map, Value};

/// Serializes the value with every object's members sorted by name.
#[derive(Debug, Clone, Copy)]
pub struct Sorted<'a>(pub &'a Value);

impl Serialize for Sorted<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(m) => SortedMap(m).serialize(s),
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&Sorted(item))?;
                }
                seq.end()
            }
            other => other.serialize(s),
        }
    }
}

/// Serializes the map with its members (and every nested object's) sorted.
#[derive(Debug, Clone, Copy)]
pub struct SortedMap<'a>(pub &'a Map<String, Value>);

impl Serialize for SortedMap<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut members: Vec<(&String, &Value)> = self.0.iter().collect();
        members.sort_by(|a, b| a.0.cmp(b.0));
        let mut map = s.serialize_map(Some(members.len()))?;
        for (k, v) in members {
            map.serialize_entry(k, &Sorted(v))?;
        }
        map.end()
    }
}

/// `serialize_with` for a `Value` field.
pub fn value<S: Serializer>(v: &Value, s: S) -> Result<S::Ok, S::Error> {
    Sorted(v).serialize(s)
}

/// `serialize_with` for an `Option<Map>` field.
pub fn opt_map<S: Serializer>(m: &Option<Map<String, Value>>, s: S) -> Result<S::Ok, S::Error> {
    match m {
        Some(m) => SortedMap(m).serialize(s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn members_are_sorted_at_every_depth_whatever_the_insertion_order() {
        let mut inner = Map::new();
        inner.insert("z".into(), Value::from(1));
        inner.insert("a".into(), Value::from(2));
        let mut outer = Map::new();
        outer.insert("y".into(), Value::Array(vec![Value::Object(inner.clone())]));
        outer.insert("b".into(), Value::Object(inner));
        let text = serde_json::to_string(&Sorted(&Value::Object(outer))).unwrap();
        assert_eq!(text, r#"{"b":{"a":2,"z":1},"y":[{"a":2,"z":1}]}"#);
    }
}
