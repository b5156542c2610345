//! Field rules of the in-toto ResourceDescriptor (Attestation Framework v1.0,
//! `spec/v1/resource_descriptor.md` and `spec/v1/digest_set.md`) and the
//! RFC 3339 timestamps of SLSA Provenance v1.0 `BuildMetadata`.

use super::ResourceDescriptor;
use crate::error::FormatError;

/// Hex length of the digest algorithms the in-toto DigestSet names with a
/// fixed size; other (custom) algorithm names only need a non-empty value.
fn hex_len(alg: &str) -> Option<&'static [usize]> {
    Some(match alg {
        "sha256" | "sha512_256" | "sha3_256" => &[64],
        "sha224" | "sha512_224" | "sha3_224" => &[56],
        "sha384" | "sha3_384" => &[96],
        "sha512" | "sha3_512" => &[128],
        "sha1" => &[40],
        "md5" => &[32],
        // Git object names: SHA-1 or SHA-256 repositories.
        "gitCommit" | "gitTree" | "gitBlob" | "gitTag" => &[40, 64],
        _ => return None,
    })
}

/// True for a non-empty string of lower-case hexadecimal digits.
pub(crate) fn is_lower_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Checks one ResourceDescriptor; `place` says where it is ("subject 2", …).
pub(crate) fn resource_descriptor(
    rd: &ResourceDescriptor,
    field: &'static str,
    place: &str,
) -> Result<(), FormatError> {
    let has_uri = rd.uri.as_deref().is_some_and(|u| !u.is_empty());
    let has_content = rd.content.as_deref().is_some_and(|c| !c.is_empty());
    if rd.digest.is_empty() && !has_uri && !has_content {
        return Err(FormatError::unexpected(
            field,
            "a digest, a uri or content (ResourceDescriptor needs at least one)",
            format!("none of them in {place}"),
        ));
    }
    for (alg, value) in &rd.digest {
        if alg.is_empty() {
            return Err(FormatError::unexpected(
                field,
                "a digest algorithm name",
                format!("an empty name in {place}"),
            ));
        }
        match hex_len(alg) {
            Some(lens) => {
                if !is_lower_hex(value) || !lens.contains(&value.len()) {
                    return Err(FormatError::unexpected(
                        field,
                        format!(
                            "{alg}: {} lower-case hex digits",
                            lens.iter()
                                .map(|l| l.to_string())
                                .collect::<Vec<_>>()
                                .join(" or ")
                        ),
                        format!("{value:?} in {place}"),
                    ));
                }
            }
            None => {
                if value.is_empty() {
                    return Err(FormatError::unexpected(
                        field,
                        format!("a value for digest algorithm {alg:?}"),
                        format!("an empty value in {place}"),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Checks a list of ResourceDescriptors.
pub(crate) fn resource_descriptors(
    list: &[ResourceDescriptor],
    field: &'static str,
) -> Result<(), FormatError> {
    for (i, rd) in list.iter().enumerate() {
        let place = match &rd.name {
            Some(n) => format!("{field}[{i}] ({n:?})"),
            None => format!("{field}[{i}]"),
        };
        resource_descriptor(rd, field, &place)?;
    }
    Ok(())
}

/// Parses `n` ASCII digits at `at`.
fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let part = b.get(at..at.checked_add(n)?)?;
    part.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

fn byte_is(b: &[u8], at: usize, want: &[u8]) -> bool {
    b.get(at).is_some_and(|c| want.contains(c))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// Checks an RFC 3339 §5.6 `date-time`
/// (`YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`, `T`/`Z` in either case).
pub(crate) fn rfc3339(field: &'static str, s: &str) -> Result<(), FormatError> {
    let bad = || {
        FormatError::unexpected(
            field,
            "an RFC 3339 date-time such as 2025-01-31T12:00:00Z",
            format!("{s:?}"),
        )
    };
    let b = s.as_bytes();
    let year = digits(b, 0, 4).ok_or_else(bad)?;
    let month = digits(b, 5, 2).ok_or_else(bad)?;
    let day = digits(b, 8, 2).ok_or_else(bad)?;
    let hour = digits(b, 11, 2).ok_or_else(bad)?;
    let minute = digits(b, 14, 2).ok_or_else(bad)?;
    let second = digits(b, 17, 2).ok_or_else(bad)?;
    let separators = byte_is(b, 4, b"-")
        && byte_is(b, 7, b"-")
        && byte_is(b, 10, b"Tt")
        && byte_is(b, 13, b":")
        && byte_is(b, 16, b":");
    if !separators
        || !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(bad());
    }
    let mut at = 19;
    if byte_is(b, at, b".") {
        at += 1;
        let start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        if at == start {
            return Err(bad());
        }
    }
    let zone = b.get(at..).ok_or_else(bad)?;
    let zone_ok = match zone {
        b"Z" | b"z" => true,
        [b'+' | b'-', ..] => {
            zone.len() == 6
                && byte_is(zone, 3, b":")
                && digits(zone, 1, 2).is_some_and(|h| h <= 23)
                && digits(zone, 4, 2).is_some_and(|m| m <= 59)
        }
        _ => false,
    };
    if zone_ok {
        Ok(())
    } else {
        Err(bad())
    }
}

/// Formats Unix seconds as an RFC 3339 UTC date-time (`2025-01-31T12:00:00Z`),
/// the form SLSA Provenance v1.0 uses for `startedOn`/`finishedOn`.
pub fn format_rfc3339_utc(unix_seconds: u64) -> String {
    let days = unix_seconds / 86_400;
    let rem = unix_seconds % 86_400;
    // Civil date from days since 1970-01-01 (proleptic Gregorian calendar),
    // counting in 400-year eras that start on 0000-03-01.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_accepts_and_refuses() {
        for ok in [
            "2025-01-31T12:00:00Z",
            "2024-02-29T23:59:60.123456Z",
            "2025-01-31t12:00:00+05:30",
            "1970-01-01T00:00:00-00:00",
        ] {
            assert!(rfc3339("t", ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "2025-01-31",
            "2025-01-31 12:00:00Z",
            "2025-02-29T12:00:00Z",
            "2025-13-01T12:00:00Z",
            "2025-01-31T24:00:00Z",
            "2025-01-31T12:00:00",
            "2025-01-31T12:00:00.Z",
            "2025-01-31T12:00:00+0530",
            "2025-01-31T12:00:00Zjunk",
            "２025-01-31T12:00:00Z",
        ] {
            assert!(rfc3339("t", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn formats_known_instants() {
        // `date -u -d @N +%Y-%m-%dT%H:%M:%SZ`
        assert_eq!(format_rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_rfc3339_utc(1_795_000_000), "2026-11-18T11:06:40Z");
        assert_eq!(format_rfc3339_utc(4_102_444_799), "2099-12-31T23:59:59Z");
        for t in [0, 951_782_400, 1_795_000_000, 4_102_444_799] {
            assert!(rfc3339("t", &format_rfc3339_utc(t)).is_ok());
        }
    }
}
