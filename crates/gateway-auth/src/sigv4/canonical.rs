//! The pieces of a Signature Version 4 canonical request, computed from what the
//! client sent, and the timestamps the signature is bound to.
//!
//! Nothing here knows about HTTP types: paths, queries and header values come in
//! as text or bytes, so the functions can be tested and benchmarked alone.
//!
//! The canonical forms follow what AWS's signers produce for `execute-api`
//! (botocore's `SigV4Auth`, the `aws-sigv4` crate with its default settings):
//!
//! - **Path.** Dot segments and empty segments are removed from the path as the
//!   client sent it (still percent-encoded), then every byte other than
//!   `A-Z a-z 0-9 - _ . ~ /` is percent-encoded. A `%` that was already there is
//!   encoded again, so `/a%20b` signs as `/a%2520b`: the double encoding every
//!   service but S3 uses.
//! - **Query.** Each name and value is percent-decoded (a `+` stays a `+`) and
//!   encoded again with only `A-Z a-z 0-9 - _ . ~` left as is; the pairs are
//!   sorted by encoded name, then by encoded value.
//! - **Header values.** Leading and trailing whitespace is dropped and runs of
//!   inner whitespace become one space; repeated headers are joined with `,`.

use gateway_core::context::days_from_civil;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, percent_encode};

/// What SigV4 leaves unencoded: `A-Z a-z 0-9 - _ . ~`.
pub(crate) const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// [`UNRESERVED`] and the path separator.
const PATH_SAFE: &AsciiSet = &UNRESERVED.remove(b'/');

/// Appends the canonical URI of `raw_path` (the path as sent, percent-encoded).
pub(crate) fn push_canonical_path(out: &mut Vec<u8>, raw_path: &str) {
    if raw_path.is_empty() {
        out.push(b'/');
        return;
    }
    let mut segments: Vec<&str> = Vec::with_capacity(8);
    for segment in raw_path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            _ => segments.push(segment),
        }
    }
    if raw_path.starts_with('/') {
        out.push(b'/');
    }
    for (i, segment) in segments.iter().enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        extend_encoded(out, segment.as_bytes(), PATH_SAFE);
    }
    if raw_path.ends_with('/') && !segments.is_empty() {
        out.push(b'/');
    }
}

/// Appends the canonical query string of `raw_query`, leaving out the parameter
/// named `skip` (the signature of a presigned URL).
pub(crate) fn push_canonical_query(out: &mut Vec<u8>, raw_query: &str, skip: Option<&str>) {
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name: Vec<u8> = percent_decode_str(name).collect();
        if skip.is_some_and(|skip| name == skip.as_bytes()) {
            continue;
        }
        let value: Vec<u8> = percent_decode_str(value).collect();
        let mut encoded_name = Vec::with_capacity(name.len());
        extend_encoded(&mut encoded_name, &name, UNRESERVED);
        let mut encoded_value = Vec::with_capacity(value.len());
        extend_encoded(&mut encoded_value, &value, UNRESERVED);
        pairs.push((encoded_name, encoded_value));
    }
    pairs.sort_unstable();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        out.extend_from_slice(name);
        out.push(b'=');
        out.extend_from_slice(value);
    }
}

/// Appends one header value trimmed, with inner runs of whitespace collapsed.
pub(crate) fn push_header_value(out: &mut Vec<u8>, value: &[u8]) {
    let mut first = true;
    for word in value
        .split(u8::is_ascii_whitespace)
        .filter(|w| !w.is_empty())
    {
        if !first {
            out.push(b' ');
        }
        out.extend_from_slice(word);
        first = false;
    }
}

fn extend_encoded(out: &mut Vec<u8>, bytes: &[u8], set: &'static AsciiSet) {
    for chunk in percent_encode(bytes, set) {
        out.extend_from_slice(chunk.as_bytes());
    }
}

/// Seconds since the Unix epoch of an ISO 8601 basic timestamp
/// (`20150830T123600Z`), the form of `X-Amz-Date`.
pub(crate) fn parse_amz_date(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[4..6])?;
    let day = digits(&b[6..8])?;
    let hour = digits(&b[9..11])?;
    let minute = digits(&b[11..13])?;
    let second = digits(&b[13..15])?;
    epoch_seconds(year, month, day, hour, minute, second)
}

/// Seconds since the Unix epoch of an HTTP date in its preferred form
/// (`Sun, 30 Aug 2015 12:36:00 GMT`), the form of the `Date` header.
pub(crate) fn parse_http_date(text: &str) -> Option<u64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (_weekday, rest) = text.trim().split_once(", ")?;
    let mut fields = rest.split(' ');
    let day = digits(fields.next()?.as_bytes())?;
    let month_name = fields.next()?;
    let month = MONTHS.iter().position(|m| *m == month_name)? as u64 + 1;
    let year = digits(fields.next()?.as_bytes())?;
    let time = fields.next()?;
    if fields.next()? != "GMT" || fields.next().is_some() {
        return None;
    }
    let t = time.as_bytes();
    if t.len() != 8 || t[2] != b':' || t[5] != b':' {
        return None;
    }
    epoch_seconds(
        year,
        month,
        day,
        digits(&t[0..2])?,
        digits(&t[3..5])?,
        digits(&t[6..8])?,
    )
}

/// `20150830T123600Z` for seconds since the Unix epoch.
pub(crate) fn format_amz_date(epoch_secs: u64) -> String {
    let days = i64::try_from(epoch_secs / 86_400).unwrap_or(i64::MAX);
    let (year, month, day) = gateway_core::context::civil_from_days(days);
    let secs = epoch_secs % 86_400;
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

fn digits(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || bytes.len() > 4 {
        return None;
    }
    bytes.iter().try_fold(0u64, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })
}

fn epoch_seconds(
    year: u64,
    month: u64,
    day: u64,
    hour: u64,
    minute: u64,
    second: u64,
) -> Option<u64> {
    if !(1970..=9999).contains(&year)
        || !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = days_from_civil(
        i64::try_from(year).ok()?,
        u32::try_from(month).ok()?,
        u32::try_from(day).ok()?,
    );
    let days = u64::try_from(days).ok()?;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn path(raw: &str) -> String {
        let mut out = Vec::new();
        push_canonical_path(&mut out, raw);
        String::from_utf8(out).unwrap()
    }

    fn query(raw: &str) -> String {
        let mut out = Vec::new();
        push_canonical_query(&mut out, raw, Some("X-Amz-Signature"));
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn paths_are_normalised_and_encoded_twice() {
        assert_eq!(path(""), "/");
        assert_eq!(path("/"), "/");
        assert_eq!(path("//"), "/");
        assert_eq!(path("/a/./b/../c//d/"), "/a/c/d/");
        assert_eq!(path("/../.."), "/");
        assert_eq!(path("/example%20space/"), "/example%2520space/");
        assert_eq!(
            path("/test/@connections/JBDvjfGEIAMCERw%3D"),
            "/test/%40connections/JBDvjfGEIAMCERw%253D"
        );
        assert_eq!(path("/-_.~AZaz09"), "/-_.~AZaz09");
    }

    #[test]
    fn queries_are_reencoded_and_sorted() {
        assert_eq!(
            query("Param-3=Value3&Param=Value2&%E1%88%B4=Value1"),
            "%E1%88%B4=Value1&Param=Value2&Param-3=Value3"
        );
        assert_eq!(query("b=2&a=2&a=1&flag"), "a=1&a=2&b=2&flag=");
        assert_eq!(query("q=a b+c%2fd*"), "q=a%20b%2Bc%2Fd%2A");
        assert_eq!(query("x=1&X-Amz-Signature=abc"), "x=1");
        assert_eq!(query(""), "");
    }

    #[test]
    fn header_values_are_trimmed_and_collapsed() {
        let mut out = Vec::new();
        push_header_value(&mut out, b"  \"a   b \t c\"  ");
        assert_eq!(out, b"\"a b c\"");
    }

    #[test]
    fn dates_parse_and_format() {
        let t = parse_amz_date("20150830T123600Z").unwrap();
        assert_eq!(t, 1_440_938_160);
        assert_eq!(format_amz_date(t), "20150830T123600Z");
        assert_eq!(parse_http_date("Sun, 30 Aug 2015 12:36:00 GMT"), Some(t));
        assert_eq!(parse_amz_date("20000229T000000Z"), Some(951_782_400));
        assert!(parse_amz_date("2015-08-30T12:36:00Z").is_none());
        assert!(parse_amz_date("20151330T123600Z").is_none());
        assert!(parse_amz_date("2015083xT123600Z").is_none());
        assert!(parse_http_date("Sun, 30 Aug 2015 12:36:00 PST").is_none());
        assert!(parse_http_date("yesterday").is_none());
    }
}
