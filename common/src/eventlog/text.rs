//! Text found in event data: UTF-8/ASCII strings (EV_IPL, EV_EFI_ACTION, …)
//! and UTF-16LE strings (UEFI `CHAR16`, UEFI Specification 2.10 §2.3.1), plus
//! the sanitizer that makes untrusted text safe for one-line messages.

use crate::error::FormatError;

/// How a text payload was encoded in the event data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    /// UTF-8 (which includes plain ASCII).
    Utf8,
    /// UTF-16 little-endian (UEFI `CHAR16`).
    Utf16,
}

/// A string carried as event data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventText {
    /// The text without its terminating NUL.
    pub text: String,
    pub encoding: TextEncoding,
    /// Whether the data ended with a NUL terminator (one byte for UTF-8, two
    /// for UTF-16).
    pub nul_terminated: bool,
}

fn is_text_char(c: char) -> bool {
    !c.is_control() || matches!(c, '\n' | '\r' | '\t')
}

/// Decodes UTF-8 text that may end with exactly one NUL and holds no other
/// NUL. Other control characters are kept (they are text, e.g. the newlines
/// of a GRUB menu entry; [`sanitize_one_line`] escapes them for display).
/// `None` when the bytes are not such text.
pub(crate) fn utf8_text(bytes: &[u8]) -> Option<EventText> {
    let (body, nul_terminated) = match bytes.split_last() {
        Some((0, body)) => (body, true),
        _ => (bytes, false),
    };
    let text = std::str::from_utf8(body).ok()?;
    if text.contains('\0') {
        return None;
    }
    Some(EventText {
        text: text.to_owned(),
        encoding: TextEncoding::Utf8,
        nul_terminated,
    })
}

/// Decodes UTF-16LE text (valid surrogate pairs) that may end with one NUL
/// character and holds no other control characters except tab, CR, LF. An odd
/// length is accepted only when the extra last byte is 0 (systemd-boot
/// measures its UTF-16 command line followed by a single NUL byte); it then
/// counts as the terminator.
pub(crate) fn utf16_text(bytes: &[u8]) -> Option<EventText> {
    let (bytes, odd_nul) = match bytes.split_last() {
        Some((0, rest)) if bytes.len() % 2 == 1 => (rest, true),
        _ => (bytes, false),
    };
    let units = utf16_units(bytes)?;
    let (body, nul_terminated) = match units.split_last() {
        Some((0, body)) if !odd_nul => (body, true),
        _ => (units.as_slice(), odd_nul),
    };
    let text = String::from_utf16(body).ok()?;
    if !text.chars().all(is_text_char) {
        return None;
    }
    Some(EventText {
        text,
        encoding: TextEncoding::Utf16,
        nul_terminated,
    })
}

/// Text in either encoding: UTF-8 first (a UTF-16 string of ASCII characters
/// has interior NUL bytes, so it is never mistaken for UTF-8), including UTF-8
/// followed by more than one NUL byte (some GRUB builds log `grub_cmd …`
/// strings that way; read as UTF-16 such an even-length string would be
/// "valid", NUL-terminated and meaningless), then UTF-16, which is only
/// believed when NUL-terminated and free of control characters (almost any
/// even-length binary is "valid" UTF-16).
pub(crate) fn any_text(bytes: &[u8]) -> Option<EventText> {
    utf8_text(bytes)
        .or_else(|| utf8_nul_padded(bytes))
        .or_else(|| utf16_text(bytes).filter(|t| t.nul_terminated))
}

/// Non-empty UTF-8 text without NUL followed only by NUL bytes (two or more;
/// one is [`utf8_text`]'s terminator), read as a NUL-terminated string.
fn utf8_nul_padded(bytes: &[u8]) -> Option<EventText> {
    let end = bytes.iter().position(|&b| b == 0)?;
    let (body, tail) = bytes.split_at_checked(end)?;
    if body.is_empty() || tail.iter().any(|&b| b != 0) {
        return None;
    }
    let mut text = utf8_text(body)?;
    text.nul_terminated = true;
    Some(text)
}

fn utf16_units(bytes: &[u8]) -> Option<Vec<u16>> {
    let chunks = bytes.chunks_exact(2);
    if !chunks.remainder().is_empty() {
        return None;
    }
    Some(
        chunks
            .map(|c| match c {
                [lo, hi] => u16::from_le_bytes([*lo, *hi]),
                _ => 0,
            })
            .collect(),
    )
}

/// Decodes a UEFI `CHAR16` string of exactly `bytes` (no terminator expected
/// inside; one trailing NUL is removed). Errors name `field`.
pub(crate) fn ucs2_field(bytes: &[u8], field: &'static str) -> Result<String, FormatError> {
    let units = utf16_units(bytes).ok_or_else(|| {
        FormatError::unexpected(field, "an even number of bytes (UTF-16)", bytes.len())
    })?;
    let body = match units.split_last() {
        Some((0, body)) => body,
        _ => units.as_slice(),
    };
    if body.contains(&0) {
        return Err(FormatError::unexpected(
            field,
            "a UTF-16 string without interior NUL",
            "an interior NUL character",
        ));
    }
    String::from_utf16(body).map_err(|_| FormatError::Encoding {
        what: field,
        reason: "invalid UTF-16 (unpaired surrogate)".to_owned(),
    })
}

/// Reads a NUL-terminated `CHAR16` string from the start of `bytes`; returns
/// the string and the number of bytes consumed (terminator included).
pub(crate) fn ucs2_nul_terminated(
    bytes: &[u8],
    field: &'static str,
) -> Result<(String, usize), FormatError> {
    let mut units = Vec::new();
    for (i, c) in bytes.chunks_exact(2).enumerate() {
        let u = match c {
            [lo, hi] => u16::from_le_bytes([*lo, *hi]),
            _ => 0,
        };
        if u == 0 {
            let text = String::from_utf16(&units).map_err(|_| FormatError::Encoding {
                what: field,
                reason: "invalid UTF-16 (unpaired surrogate)".to_owned(),
            })?;
            return Ok((text, (i + 1) * 2));
        }
        units.push(u);
    }
    Err(FormatError::unexpected(
        field,
        "a NUL-terminated UTF-16 string",
        "no terminator before the end of the data",
    ))
}

/// Makes untrusted text safe for a one-line message: control and other
/// non-printing characters become `\u{…}` escapes, and the result is cut to
/// at most `max` characters (marked with `…`).
pub fn sanitize_one_line(s: &str, max: usize) -> String {
    let mut out = String::new();
    let mut count = 0usize;
    for c in s.chars() {
        let piece: String = match c {
            '\n' => "\\n".to_owned(),
            '\r' => "\\r".to_owned(),
            '\t' => "\\t".to_owned(),
            c if c.is_control() || is_invisible(c) => c.escape_unicode().to_string(),
            c => c.to_string(),
        };
        let n = piece.chars().count();
        if count + n > max {
            out.push('…');
            return out;
        }
        count += n;
        out.push_str(&piece);
    }
    out
}

/// Format characters that would hide or reorder text on a terminal
/// (bidirectional overrides, zero-width characters, BOM).
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_and_utf16() {
        let t = utf8_text(b"grub_cmd: ls\0").unwrap();
        assert_eq!(t.text, "grub_cmd: ls");
        assert!(t.nul_terminated);
        assert!(utf8_text(b"a\0b").is_none());
        assert_eq!(utf8_text(b"a\x1b[2J").unwrap().text, "a\u{1b}[2J");
        // Binary that happens to be valid UTF-16 but is not terminated.
        assert!(any_text(&[0x4e, 0x8d, 0xe4, 0x7a, 0x1b, 0x20]).is_none());
        let u: Vec<u8> = "2.3.5\0"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let t = any_text(&u).unwrap();
        assert_eq!(
            (t.text.as_str(), t.encoding),
            ("2.3.5", TextEncoding::Utf16)
        );
        assert!(utf16_text(&[0x00, 0xD8]).is_none()); // lone surrogate
        assert!(utf16_text(&[1, 2, 3]).is_none());
        let t = utf16_text(&[b'o', 0, b'f', 0, 0]).unwrap();
        assert_eq!((t.text.as_str(), t.nul_terminated), ("of", true));
        // ASCII with two NULs (an even length) is not UTF-16 "牧扵…".
        let t = any_text(b"grub_cmd search --file /boot/grub2/grub.cfg\0\0").unwrap();
        assert_eq!(
            (t.text.as_str(), t.encoding, t.nul_terminated),
            (
                "grub_cmd search --file /boot/grub2/grub.cfg",
                TextEncoding::Utf8,
                true
            )
        );
        assert!(any_text(b"ab\0\0x").is_none());
    }

    #[test]
    fn nul_terminated_ucs2() {
        let mut b: Vec<u8> = "Ubuntu\0"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        b.extend_from_slice(&[9, 9]);
        assert_eq!(
            ucs2_nul_terminated(&b, "d").unwrap(),
            ("Ubuntu".to_owned(), 14)
        );
        assert!(ucs2_nul_terminated(&b[..6], "d").is_err());
    }

    #[test]
    fn sanitize() {
        assert_eq!(sanitize_one_line("a\nb\u{202E}c", 100), "a\\nb\\u{202e}c");
        assert_eq!(sanitize_one_line("abcdef", 3), "abc…");
    }
}
