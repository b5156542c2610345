//! The subset of CBOR (RFC 8949) that EARs and COSE_Sign1 use, decoded
//! through [`Reader`]: definite lengths only, at most [`MAX_DEPTH`] levels
//! of nesting, UTF-8 text, strings borrowed from the input.

use super::MAX_DEPTH;
use crate::error::FormatError;
use crate::reader::Reader;

/// The simple value `null` (major type 7, RFC 8949 §3.3).
pub(super) const NULL: u64 = 22;

/// One decoded CBOR data item, borrowing strings from the input.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Item<'a> {
    /// Major type 0.
    Unsigned(u64),
    /// Major type 1: the value is -1 - n.
    Negative(u64),
    /// Major type 2.
    Bytes(&'a [u8]),
    /// Major type 3.
    Text(&'a str),
    /// Major type 4.
    Array(Vec<Item<'a>>),
    /// Major type 5, pairs in encoded order.
    Map(Vec<(Item<'a>, Item<'a>)>),
    /// Major type 6.
    Tag(u64, Box<Item<'a>>),
    /// Major type 7: simple values (by number) and floats (raw bits).
    Simple(u64),
}

impl Item<'_> {
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Self::Unsigned(_) | Self::Negative(_) => "an integer",
            Self::Bytes(_) => "a byte string",
            Self::Text(_) => "text",
            Self::Array(_) => "an array",
            Self::Map(_) => "a map",
            Self::Tag(..) => "a tagged item",
            Self::Simple(_) => "a simple value or float",
        }
    }

    pub(super) fn int(&self, claim: &'static str) -> Result<i64, FormatError> {
        let out_of_range =
            || FormatError::unexpected(claim, "a 64-bit signed integer", "a larger one");
        match self {
            Self::Unsigned(u) => i64::try_from(*u).map_err(|_| out_of_range()),
            Self::Negative(n) => i64::try_from(*n)
                .map(|n| -1 - n)
                .map_err(|_| out_of_range()),
            other => Err(FormatError::unexpected(claim, "an integer", other.kind())),
        }
    }
}

/// Decodes exactly one item filling `bytes`.
pub(super) fn decode_all<'a>(
    bytes: &'a [u8],
    structure: &'static str,
) -> Result<Item<'a>, FormatError> {
    let mut r = Reader::new(bytes);
    let item = decode(&mut r, 0)?;
    r.finish(structure)?;
    Ok(item)
}

/// The argument of an initial byte (RFC 8949 §3): the value itself below 24,
/// else the 1, 2, 4 or 8 bytes that follow.
fn argument(r: &mut Reader<'_>, info: u8) -> Result<u64, FormatError> {
    match info {
        0..=23 => Ok(u64::from(info)),
        24 => r.u8("CBOR argument").map(u64::from),
        25 => r.u16_be("CBOR argument").map(u64::from),
        26 => r.u32_be("CBOR argument").map(u64::from),
        27 => r.u64_be("CBOR argument"),
        31 => Err(FormatError::Unsupported {
            field: "CBOR indefinite length",
            value: u64::from(info),
        }),
        _ => Err(FormatError::Unsupported {
            field: "CBOR additional information (reserved)",
            value: u64::from(info),
        }),
    }
}

/// A count of items that must each take at least `per_item` bytes of what
/// is left: refuses counts the input cannot hold before allocating.
fn count(
    r: &Reader<'_>,
    n: u64,
    per_item: usize,
    field: &'static str,
) -> Result<usize, FormatError> {
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    if n.saturating_mul(per_item) > r.remaining() {
        return Err(FormatError::TooLarge {
            field,
            size: n,
            max: r.remaining() / per_item.max(1),
        });
    }
    Ok(n)
}

fn decode<'a>(r: &mut Reader<'a>, depth: usize) -> Result<Item<'a>, FormatError> {
    let initial = r.u8("CBOR initial byte")?;
    let (major, info) = (initial >> 5, initial & 0x1f);
    if major == 7 {
        // Simple values and floats: keep the raw value; only `break` (31)
        // and the reserved encodings are refused.
        return match info {
            0..=23 => Ok(Item::Simple(u64::from(info))),
            24..=27 => argument(r, info).map(Item::Simple),
            _ => Err(FormatError::Unsupported {
                field: "CBOR major type 7 additional information",
                value: u64::from(info),
            }),
        };
    }
    let arg = argument(r, info)?;
    let nested = || {
        depth
            .checked_add(1)
            .filter(|d| *d <= MAX_DEPTH)
            .ok_or(FormatError::TooLarge {
                field: "CBOR nesting depth",
                size: depth.saturating_add(1),
                max: MAX_DEPTH,
            })
    };
    match major {
        0 => Ok(Item::Unsigned(arg)),
        1 => Ok(Item::Negative(arg)),
        2 => {
            let n = count(r, arg, 1, "CBOR byte string length")?;
            r.take(n, "CBOR byte string").map(Item::Bytes)
        }
        3 => {
            let n = count(r, arg, 1, "CBOR text length")?;
            let bytes = r.take(n, "CBOR text")?;
            std::str::from_utf8(bytes)
                .map(Item::Text)
                .map_err(|e| FormatError::Encoding {
                    what: "CBOR text",
                    reason: e.to_string(),
                })
        }
        4 => {
            let d = nested()?;
            let n = count(r, arg, 1, "CBOR array length")?;
            (0..n)
                .map(|_| decode(r, d))
                .collect::<Result<_, _>>()
                .map(Item::Array)
        }
        5 => {
            let d = nested()?;
            let n = count(r, arg, 2, "CBOR map length")?;
            (0..n)
                .map(|_| Ok((decode(r, d)?, decode(r, d)?)))
                .collect::<Result<_, _>>()
                .map(Item::Map)
        }
        // Major type 6 (the only one left of 0..=7).
        _ => {
            let d = nested()?;
            Ok(Item::Tag(arg, Box::new(decode(r, d)?)))
        }
    }
}

/// A claim label: an integer or a text string.
#[derive(Debug, Clone, Copy)]
pub(super) enum Key<'k> {
    Int(i64),
    Text(&'k str),
}

impl Key<'_> {
    fn matches(self, item: &Item<'_>) -> bool {
        match (self, item) {
            (Self::Int(k), Item::Unsigned(u)) => u64::try_from(k).is_ok_and(|k| k == *u),
            (Self::Int(k), Item::Negative(n)) => {
                k < 0 && u64::try_from(-1 - k).is_ok_and(|k| k == *n)
            }
            (Self::Text(k), Item::Text(t)) => k == *t,
            _ => false,
        }
    }
}

/// A CBOR map read as claims.
pub(super) struct Claims<'m, 'a> {
    pub(super) entries: &'m [(Item<'a>, Item<'a>)],
}

impl<'m, 'a> Claims<'m, 'a> {
    pub(super) fn of(item: &'m Item<'a>, claim: &'static str) -> Result<Self, FormatError> {
        match item {
            Item::Map(entries) => Ok(Self { entries }),
            other => Err(FormatError::unexpected(claim, "a map", other.kind())),
        }
    }

    /// The value of `key`, if present; a key present twice is refused.
    pub(super) fn get(
        &self,
        key: Key<'_>,
        claim: &'static str,
    ) -> Result<Option<&'m Item<'a>>, FormatError> {
        let mut found = self.entries.iter().filter(|(k, _)| key.matches(k));
        let first = found.next().map(|(_, v)| v);
        if found.next().is_some() {
            return Err(FormatError::unexpected(claim, "the claim once", "it twice"));
        }
        Ok(first)
    }

    pub(super) fn required(
        &self,
        key: Key<'_>,
        claim: &'static str,
    ) -> Result<&'m Item<'a>, FormatError> {
        self.get(key, claim)?
            .ok_or_else(|| FormatError::unexpected(claim, "the claim", "nothing"))
    }

    pub(super) fn int(&self, key: Key<'_>, claim: &'static str) -> Result<i64, FormatError> {
        self.required(key, claim)?.int(claim)
    }

    pub(super) fn text(&self, key: Key<'_>, claim: &'static str) -> Result<String, FormatError> {
        match self.required(key, claim)? {
            Item::Text(t) => Ok((*t).to_string()),
            other => Err(FormatError::unexpected(claim, "text", other.kind())),
        }
    }

    pub(super) fn bytes(&self, key: Key<'_>, claim: &'static str) -> Result<&'a [u8], FormatError> {
        match self.required(key, claim)? {
            Item::Bytes(b) => Ok(b),
            other => Err(FormatError::unexpected(
                claim,
                "a byte string",
                other.kind(),
            )),
        }
    }
}

/// A minimal CBOR encoder for tests (definite lengths, shortest arguments).
#[cfg(test)]
pub(super) mod testenc {
    pub fn head(major: u8, arg: u64) -> Vec<u8> {
        let m = major << 5;
        match arg {
            0..=23 => vec![m | arg as u8],
            24..=0xff => vec![m | 24, arg as u8],
            0x100..=0xffff => [vec![m | 25], (arg as u16).to_be_bytes().to_vec()].concat(),
            0x1_0000..=0xffff_ffff => [vec![m | 26], (arg as u32).to_be_bytes().to_vec()].concat(),
            _ => [vec![m | 27], arg.to_be_bytes().to_vec()].concat(),
        }
    }
    pub fn uint(v: u64) -> Vec<u8> {
        head(0, v)
    }
    pub fn nint(v: i64) -> Vec<u8> {
        head(1, (-1 - v) as u64)
    }
    pub fn bstr(b: &[u8]) -> Vec<u8> {
        [head(2, b.len() as u64), b.to_vec()].concat()
    }
    pub fn tstr(t: &str) -> Vec<u8> {
        [head(3, t.len() as u64), t.as_bytes().to_vec()].concat()
    }
    pub fn array(items: &[Vec<u8>]) -> Vec<u8> {
        [head(4, items.len() as u64), items.concat()].concat()
    }
    pub fn map(pairs: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
        let mut out = head(5, pairs.len() as u64);
        for (k, v) in pairs {
            out.extend_from_slice(k);
            out.extend_from_slice(v);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::testenc::*;
    use super::*;

    fn decode_all_err(bytes: &[u8]) -> FormatError {
        decode_all(bytes, "test").unwrap_err()
    }

    #[test]
    fn hostile_cbor_is_refused_without_allocating() {
        // Indefinite-length map and reserved additional information.
        assert!(matches!(
            decode_all_err(&[0xbf, 0xff]),
            FormatError::Unsupported { .. }
        ));
        assert!(matches!(
            decode_all_err(&[0x1c]),
            FormatError::Unsupported { .. }
        ));
        // An array claiming 2^64-1 items, a byte string claiming 4 GiB.
        let huge = [vec![0x9b], u64::MAX.to_be_bytes().to_vec()].concat();
        assert!(matches!(
            decode_all_err(&huge),
            FormatError::TooLarge { .. }
        ));
        let big = [vec![0x5a], u32::MAX.to_be_bytes().to_vec(), vec![0; 8]].concat();
        assert!(matches!(decode_all_err(&big), FormatError::TooLarge { .. }));
        // Nesting past MAX_DEPTH: refused (also far past it: no stack
        // exhaustion); at MAX_DEPTH: decoded.
        let nest = |n: usize| [vec![0x81; n], vec![0x00]].concat();
        for n in [MAX_DEPTH + 1, 100_000] {
            assert!(matches!(
                decode_all_err(&nest(n)),
                FormatError::TooLarge {
                    field: "CBOR nesting depth",
                    ..
                }
            ));
        }
        assert!(decode_all(&nest(MAX_DEPTH), "test").is_ok());
        // Text that is not UTF-8.
        let bad_text = map(&[(head(3, 1).into_iter().chain([0xff]).collect(), uint(0))]);
        assert!(matches!(
            decode_all_err(&bad_text),
            FormatError::Encoding { .. }
        ));
    }
}
