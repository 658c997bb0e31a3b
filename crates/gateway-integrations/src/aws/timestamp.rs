//! RFC 3339 date-times as AWS writes and reads them (STS `Expiration`, EventBridge
//! `Time`): `2024-05-01T10:00:00Z`, `2024-05-01T12:00:00.5+02:00`.

use gateway_core::context::{days_from_civil, days_in_month};

/// Seconds since the Unix epoch and nanoseconds of an RFC 3339 date-time, with any
/// number of fraction digits (nanoseconds kept, further digits dropped), and `Z`
/// or a `±HH:MM` offset. `None` for anything else.
pub(crate) fn rfc3339(text: &str) -> Option<(i64, u32)> {
    let bytes = text.as_bytes();
    if bytes.len() < 20 {
        return None;
    }
    let separators_ok = bytes[4] == b'-'
        && bytes[7] == b'-'
        && matches!(bytes[10], b'T' | b't' | b' ')
        && bytes[13] == b':'
        && bytes[16] == b':';
    if !separators_ok {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| digits_of(text.get(range)?);
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    let month = u32::try_from(month).ok().filter(|m| (1..=12).contains(m))?;
    let day = u32::try_from(day).ok()?;
    if !(1..=days_in_month(year, month)).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = text.get(19..)?;
    let mut nanos = 0_u32;
    if let Some(fraction) = rest.strip_prefix('.') {
        let len = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 {
            return None;
        }
        let kept = &fraction[..len.min(9)];
        let scale = 10_u32.pow(u32::try_from(9 - kept.len()).ok()?);
        nanos = kept.parse::<u32>().ok()?.checked_mul(scale)?;
        rest = &fraction[len..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            if rest.len() != 6 || rest.as_bytes()[3] != b':' {
                return None;
            }
            let hours = digits_of(rest.get(1..3)?)?;
            let minutes = digits_of(rest.get(4..6)?)?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            sign * (hours * 3600 + minutes * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    Some((
        days * 86_400 + hour * 3600 + minute * 60 + second - offset,
        nanos,
    ))
}

/// A number written with ASCII digits only (no sign).
fn digits_of(part: &str) -> Option<i64> {
    if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    part.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn date_times_read_with_fractions_and_offsets() {
        assert_eq!(rfc3339("1970-01-01T00:00:00Z"), Some((0, 0)));
        assert_eq!(
            rfc3339("2011-07-15T23:28:33.359Z"),
            Some((1_310_772_513, 359_000_000))
        );
        assert_eq!(
            rfc3339("2024-05-01T12:00:00.123456789123+02:00"),
            Some((1_714_557_600, 123_456_789))
        );
        assert_eq!(
            rfc3339("2024-02-29t10:00:00-01:30"),
            Some((1_709_206_200, 0))
        );
    }

    #[test]
    fn malformed_date_times_are_refused() {
        for bad in [
            "",
            "2024-05-01",
            "2024-05-01T10:00:00",
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-05-01T24:00:00Z",
            "2024-05-01T10:00:00.Z",
            "2024-05-01T10:00:00+0200",
            "2024-05-01T10:00:00+24:00",
            "2024-05-01X10:00:00Z",
            "+024-05-01T10:00:00Z",
        ] {
            assert_eq!(rfc3339(bad), None, "{bad}");
        }
    }
}
