//! Errors of the shared wire formats, grouped by cause.

use thiserror::Error;

/// Why bytes were not accepted as a structure. Every variant names the
/// structure or field, what was expected and what was seen.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FormatError {
    /// The input ended inside a field.
    #[error("{field}: truncated at offset {offset}: needed {needed} bytes, {available} left")]
    Truncated {
        field: &'static str,
        offset: usize,
        needed: usize,
        available: usize,
    },
    /// Bytes were left after a complete structure.
    #[error("{structure}: {count} trailing bytes after the end of the structure")]
    TrailingBytes {
        structure: &'static str,
        count: usize,
    },
    /// A size field exceeds what the structure allows.
    #[error("{field}: size {size} exceeds the maximum {max}")]
    TooLarge {
        field: &'static str,
        size: usize,
        max: usize,
    },
    /// A field holds a value the specification does not allow here.
    #[error("{field}: expected {expected}, got {got}")]
    Unexpected {
        field: &'static str,
        expected: String,
        got: String,
    },
    /// An algorithm, tag or version this implementation does not support.
    #[error("{field}: unsupported value {value:#x}")]
    Unsupported { field: &'static str, value: u64 },
    /// Text input (hex, JSON) that does not decode.
    #[error("{what}: {reason}")]
    Encoding { what: &'static str, reason: String },
}

impl FormatError {
    /// Shorthand for [`FormatError::Unexpected`].
    pub fn unexpected(
        field: &'static str,
        expected: impl std::fmt::Display,
        got: impl std::fmt::Display,
    ) -> Self {
        Self::Unexpected {
            field,
            expected: expected.to_string(),
            got: got.to_string(),
        }
    }
}
