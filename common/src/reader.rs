//! The one reader for untrusted bytes.
//!
//! Every structure that sealbuild parses from a TPM, a firmware event log or a
//! network peer goes through [`Reader`]. It never indexes: each take is a
//! `split_at_checked`, so a short input becomes a [`FormatError::Truncated`]
//! naming the field, never a panic. Parsers finish with [`Reader::finish`], which
//! rejects trailing bytes. The style follows rustls' `codec.rs`.

use crate::error::FormatError;

/// A cursor over untrusted bytes. Multi-byte integers are read big-endian
/// (TPM 2.0 wire format) or little-endian (UEFI / TCG event logs) by name.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    rest: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading at the beginning of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self {
            rest: bytes,
            offset: 0,
        }
    }

    /// Offset of the next unread byte from the start of the input.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// True when every byte was read.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The unread bytes, without consuming them.
    pub fn peek_rest(&self) -> &'a [u8] {
        self.rest
    }

    /// Takes exactly `n` bytes for `field`.
    pub fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], FormatError> {
        match self.rest.split_at_checked(n) {
            Some((head, tail)) => {
                self.rest = tail;
                self.offset += n;
                Ok(head)
            }
            None => Err(FormatError::Truncated {
                field,
                offset: self.offset,
                needed: n,
                available: self.rest.len(),
            }),
        }
    }

    /// Takes a fixed-size array for `field`.
    pub fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], FormatError> {
        let bytes = self.take(N, field)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// Reads one byte.
    pub fn u8(&mut self, field: &'static str) -> Result<u8, FormatError> {
        Ok(u8::from_be_bytes(self.array::<1>(field)?))
    }

    /// Reads a big-endian u16.
    pub fn u16_be(&mut self, field: &'static str) -> Result<u16, FormatError> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }

    /// Reads a big-endian u32.
    pub fn u32_be(&mut self, field: &'static str) -> Result<u32, FormatError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    /// Reads a big-endian u64.
    pub fn u64_be(&mut self, field: &'static str) -> Result<u64, FormatError> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }

    /// Reads a little-endian u16.
    pub fn u16_le(&mut self, field: &'static str) -> Result<u16, FormatError> {
        Ok(u16::from_le_bytes(self.array(field)?))
    }

    /// Reads a little-endian u32.
    pub fn u32_le(&mut self, field: &'static str) -> Result<u32, FormatError> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    /// Reads a little-endian u64.
    pub fn u64_le(&mut self, field: &'static str) -> Result<u64, FormatError> {
        Ok(u64::from_le_bytes(self.array(field)?))
    }

    /// Reads a TPM2B: a big-endian u16 size followed by that many bytes.
    /// `max` is the largest size the structure allows (its `sizeof` in the
    /// TPM 2.0 Library spec); a larger size is rejected before reading.
    pub fn tpm2b(&mut self, field: &'static str, max: usize) -> Result<&'a [u8], FormatError> {
        let size = usize::from(self.u16_be(field)?);
        if size > max {
            return Err(FormatError::TooLarge { field, size, max });
        }
        self.take(size, field)
    }

    /// Reads a little-endian u32 length and then that many bytes, refusing
    /// lengths over `max`.
    pub fn vec_u32_le(&mut self, field: &'static str, max: usize) -> Result<&'a [u8], FormatError> {
        let size = usize::try_from(self.u32_le(field)?).map_err(|_| FormatError::TooLarge {
            field,
            size: usize::MAX,
            max,
        })?;
        if size > max {
            return Err(FormatError::TooLarge { field, size, max });
        }
        self.take(size, field)
    }

    /// Reads a `u8` for `field` that must be one of `allowed` (`expected`
    /// says which, for the error).
    pub fn u8_one_of(
        &mut self,
        field: &'static str,
        allowed: &[u8],
        expected: &str,
    ) -> Result<u8, FormatError> {
        one_of(field, self.u8(field)?, allowed, expected)
    }

    /// Reads a little-endian `u32` for `field` that must be one of
    /// `allowed` (`expected` says which, for the error).
    pub fn u32_le_one_of(
        &mut self,
        field: &'static str,
        allowed: &[u32],
        expected: &str,
    ) -> Result<u32, FormatError> {
        one_of(field, self.u32_le(field)?, allowed, expected)
    }

    /// Takes `n` bytes of a reserved field for `field` and requires them to
    /// be zero; the error names the first non-zero byte and its offset.
    pub fn zeros(&mut self, n: usize, field: &'static str) -> Result<(), FormatError> {
        let start = self.offset;
        let bytes = self.take(n, field)?;
        match bytes.iter().position(|&b| b != 0) {
            None => Ok(()),
            Some(i) => Err(FormatError::unexpected(
                field,
                "zero (reserved)",
                format!(
                    "byte {:#x} at offset {:#x}",
                    bytes.get(i).copied().unwrap_or(0),
                    start.saturating_add(i)
                ),
            )),
        }
    }

    /// Requires that every byte was consumed.
    pub fn finish(self, structure: &'static str) -> Result<(), FormatError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(FormatError::TrailingBytes {
                structure,
                count: self.rest.len(),
            })
        }
    }
}

/// `v` if it is one of `allowed`, else the error naming `field`, what was
/// expected and the value seen.
fn one_of<T: PartialEq + std::fmt::LowerHex>(
    field: &'static str,
    v: T,
    allowed: &[T],
    expected: &str,
) -> Result<T, FormatError> {
    if allowed.contains(&v) {
        Ok(v)
    } else {
        Err(FormatError::unexpected(field, expected, format!("{v:#x}")))
    }
}

/// Appends big-endian and TPM2B encodings; the writer twin of [`Reader`].
#[derive(Debug, Default, Clone)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends raw bytes.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(b);
        self
    }

    /// Appends one byte.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }

    /// Appends a big-endian u16.
    pub fn u16_be(&mut self, v: u16) -> &mut Self {
        self.bytes(&v.to_be_bytes())
    }

    /// Appends a big-endian u32.
    pub fn u32_be(&mut self, v: u32) -> &mut Self {
        self.bytes(&v.to_be_bytes())
    }

    /// Appends a big-endian u64.
    pub fn u64_be(&mut self, v: u64) -> &mut Self {
        self.bytes(&v.to_be_bytes())
    }

    /// Appends a little-endian u16.
    pub fn u16_le(&mut self, v: u16) -> &mut Self {
        self.bytes(&v.to_le_bytes())
    }

    /// Appends a little-endian u32.
    pub fn u32_le(&mut self, v: u32) -> &mut Self {
        self.bytes(&v.to_le_bytes())
    }

    /// Appends a TPM2B. Sizes over `u16::MAX` cannot be represented; callers
    /// only hold values that came through a size-checked parser or constructor,
    /// so this saturates rather than panicking (the result would then fail to
    /// parse, which the round-trip tests would catch).
    pub fn tpm2b(&mut self, b: &[u8]) -> &mut Self {
        let len = u16::try_from(b.len()).unwrap_or(u16::MAX);
        self.u16_be(len);
        self.bytes(b)
    }

    /// Finishes, returning the bytes.
    pub fn into_vec(self) -> Vec<u8> {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_of_takes_allowed_values_and_names_the_rest() {
        let mut r = Reader::new(&[1, 7, 2, 0, 0, 0, 9, 0, 0, 0]);
        assert_eq!(r.u8_one_of("a", &[0, 1], "0 or 1"), Ok(1));
        assert_eq!(
            r.u8_one_of("b", &[0, 1], "0 or 1"),
            Err(FormatError::unexpected("b", "0 or 1", "0x7"))
        );
        assert_eq!(r.u32_le_one_of("c", &[1, 2], "1 or 2"), Ok(2));
        assert_eq!(
            r.u32_le_one_of("d", &[1, 2], "1 or 2"),
            Err(FormatError::unexpected("d", "1 or 2", "0x9"))
        );
        assert!(r.u8_one_of("e", &[0], "0").is_err(), "nothing left");
    }

    #[test]
    fn truncated_names_field_and_offset() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u16_be("a").unwrap(), 0x0102);
        let err = r.u32_be("magic").unwrap_err();
        assert_eq!(
            err,
            FormatError::Truncated {
                field: "magic",
                offset: 2,
                needed: 4,
                available: 1
            }
        );
    }

    #[test]
    fn trailing_bytes_rejected() {
        let mut r = Reader::new(&[0, 1, 9, 7]);
        assert_eq!(r.tpm2b("x", 4).unwrap(), &[9]);
        assert_eq!(
            r.finish("TPM2B_X"),
            Err(FormatError::TrailingBytes {
                structure: "TPM2B_X",
                count: 1
            })
        );
    }

    #[test]
    fn tpm2b_over_max_rejected() {
        let mut r = Reader::new(&[0, 9, 0, 0]);
        assert!(matches!(
            r.tpm2b("x", 8),
            Err(FormatError::TooLarge {
                size: 9,
                max: 8,
                ..
            })
        ));
    }
}
