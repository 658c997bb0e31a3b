//! A fast JSON reader that builds a document's tape straight from its text.
//!
//! It accepts a subset of what `serde_json` accepts, reading it the same way (the
//! numbers included: where reading a number is not trivial, `serde_json` reads
//! it), and gives up on everything else: malformed text, and the few valid
//! documents it leaves to `serde_json` (nesting deeper than [`MAX_DEPTH`]). The
//! caller then parses with `serde_json`, which reports the error or reads the
//! document. Strings without escapes are not copied: the tape's text starts
//! with the document's text and such strings point into it.

use crate::json::{Builder, MAX_SOURCE, ObjectBuild, name_prefix, prefix_mask};

/// The deepest nesting read here; `serde_json` allows up to 127 levels.
const MAX_DEPTH: usize = 100;

/// Why the scanner gave up (the caller asks `serde_json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GiveUp;

type Scan<T> = Result<T, GiveUp>;

/// What [`scan`] read.
pub(crate) struct Scanned {
    /// The document's tape, ready to finish.
    pub(crate) builder: Builder,
    /// Whether a number was read that `serde_json` holds as an unsigned integer
    /// too large for `i64` (the tape holds it as a double).
    pub(crate) wide_unsigned: bool,
}

/// Reads `text` (one JSON value, whitespace around it allowed).
pub(crate) fn scan(text: &str) -> Scan<Scanned> {
    scan_into(text, Builder::for_source(text))
}

/// [`scan`] into a builder made with [`Builder::for_source`] (or its recycled
/// variant) for `text`.
pub(crate) fn scan_into(text: &str, builder: Builder) -> Scan<Scanned> {
    if text.len() >= MAX_SOURCE {
        return Err(GiveUp);
    }
    let mut scanner = Scanner {
        bytes: text.as_bytes(),
        text,
        pos: 0,
        builder,
        scratch: String::new(),
        wide_unsigned: false,
    };
    let mut open = SPARE_OPEN.take();
    open.clear();
    let read = scanner.document(&mut open);
    if open.capacity() <= 2 * MAX_DEPTH {
        SPARE_OPEN.set(open);
    }
    read?;
    scanner.skip_whitespace();
    if scanner.pos != scanner.bytes.len() {
        return Err(GiveUp);
    }
    Ok(Scanned {
        builder: scanner.builder,
        wide_unsigned: scanner.wide_unsigned,
    })
}

struct Scanner<'t> {
    bytes: &'t [u8],
    text: &'t str,
    pos: usize,
    builder: Builder,
    /// Strings with escapes are decoded here.
    scratch: String,
    wide_unsigned: bool,
}

thread_local! {
    /// The stack of arrays and objects being read, kept between scans.
    static SPARE_OPEN: std::cell::Cell<Vec<Open>> = const { std::cell::Cell::new(Vec::new()) };
}

/// An array or object being read.
enum Open {
    /// Where the array's node is, and how many elements it has so far.
    Array(u32, usize),
    /// What [`Builder::end_object`] takes.
    Object(ObjectBuild),
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of every byte of `word` that is zero (exact for the lowest one).
fn zero_bytes(word: u64) -> u64 {
    word.wrapping_sub(ONES) & !word & HIGHS
}

impl Scanner<'_> {
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    #[inline(always)]
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Skips whitespace and returns the next byte, consuming it.
    #[inline(always)]
    fn next_token(&mut self) -> Scan<u8> {
        // Compact JSON has no whitespace between tokens, and every whitespace
        // byte is below `!`: one test for the common case.
        let byte = match self.peek() {
            Some(byte) if byte > b' ' => byte,
            _ => {
                self.skip_whitespace();
                self.peek().ok_or(GiveUp)?
            }
        };
        self.pos += 1;
        Ok(byte)
    }

    /// Reads a member name and its colon, from the opening quote (consumed).
    #[inline(always)]
    fn member_name(&mut self, object: &mut ObjectBuild) -> Scan<()> {
        match self.string()? {
            Text::Source(start, len) => {
                // The first eight bytes of the name, read as one word while the
                // text is at hand.
                let prefix = match self.bytes.get(start..).and_then(<[u8]>::first_chunk::<8>) {
                    Some(&word) if len <= 8 => u64::from_le_bytes(word) & prefix_mask(len),
                    _ => name_prefix(self.bytes.get(start..start + len).unwrap_or_default()),
                };
                self.builder.key_span(object, start, len, prefix);
            }
            Text::Scratch => self.builder.key(object, &self.scratch),
        }
        if self.next_token()? != b':' {
            return Err(GiveUp);
        }
        Ok(())
    }

    /// Reads one value, however deeply nested, without recursion: arrays and
    /// objects being read are kept on a stack.
    fn document(&mut self, open: &mut Vec<Open>) -> Scan<()> {
        loop {
            // A value is expected.
            match self.next_token()? {
                b'{' => {
                    if open.len() >= MAX_DEPTH {
                        return Err(GiveUp);
                    }
                    let mut object = self.builder.begin_object();
                    match self.next_token()? {
                        b'}' => self.builder.end_object(object),
                        b'"' => {
                            self.member_name(&mut object)?;
                            open.push(Open::Object(object));
                            continue;
                        }
                        _ => return Err(GiveUp),
                    }
                }
                b'[' => {
                    if open.len() >= MAX_DEPTH {
                        return Err(GiveUp);
                    }
                    let at = self.builder.begin_array();
                    self.skip_whitespace();
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                        self.builder.end_array(at, 0);
                    } else {
                        open.push(Open::Array(at, 0));
                        continue;
                    }
                }
                b'"' => match self.string()? {
                    Text::Source(start, len) => self.builder.str_span(start, len),
                    Text::Scratch => self.builder.str(&self.scratch),
                },
                b't' => {
                    self.literal(b"rue")?;
                    self.builder.bool(true);
                }
                b'f' => {
                    self.literal(b"alse")?;
                    self.builder.bool(false);
                }
                b'n' => {
                    self.literal(b"ull")?;
                    self.builder.null();
                }
                b'-' | b'0'..=b'9' => {
                    self.pos -= 1;
                    self.number()?;
                }
                _ => return Err(GiveUp),
            }
            // A value was read: close what it completes, then expect the next one.
            loop {
                match open.last_mut() {
                    None => return Ok(()),
                    Some(Open::Array(at, len)) => {
                        *len += 1;
                        match self.next_token()? {
                            b',' => break,
                            b']' => {
                                let (at, len) = (*at, *len);
                                open.pop();
                                self.builder.end_array(at, len);
                            }
                            _ => return Err(GiveUp),
                        }
                    }
                    Some(Open::Object(object)) => match self.next_token()? {
                        b',' => {
                            if self.next_token()? != b'"' {
                                return Err(GiveUp);
                            }
                            self.member_name(object)?;
                            break;
                        }
                        b'}' => {
                            let object = *object;
                            open.pop();
                            self.builder.end_object(object);
                        }
                        _ => return Err(GiveUp),
                    },
                }
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> Scan<()> {
        if self.bytes.get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(GiveUp)
        }
    }

    /// The position of the first `"`, `\\` or control character at or after
    /// `from`, and which it is.
    #[inline]
    fn find_special(&self, from: usize) -> Option<(usize, Special)> {
        let mut at = from;
        while let Some(&word) = self.bytes.get(at..).and_then(<[u8]>::first_chunk::<8>) {
            let word = u64::from_le_bytes(word);
            let quotes = zero_bytes(word ^ (ONES * u64::from(b'"')));
            let backslashes = zero_bytes(word ^ (ONES * u64::from(b'\\')));
            let controls = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
            let found = quotes | backslashes | controls;
            if found != 0 {
                // Each mask is exact for its lowest byte, so the lowest bit of all
                // three is the first special byte, and tells which it is.
                let first = found & found.wrapping_neg();
                let special = if quotes & first != 0 {
                    Special::Quote
                } else if backslashes & first != 0 {
                    Special::Backslash
                } else {
                    Special::Control
                };
                return Some((at + (found.trailing_zeros() / 8) as usize, special));
            }
            at += 8;
        }
        self.bytes
            .get(at..)?
            .iter()
            .enumerate()
            .find_map(|(i, &b)| {
                let special = match b {
                    b'"' => Special::Quote,
                    b'\\' => Special::Backslash,
                    0..0x20 => Special::Control,
                    _ => return None,
                };
                Some((at + i, special))
            })
    }

    /// Reads a string whose opening quote was consumed.
    #[inline(always)]
    fn string(&mut self) -> Scan<Text> {
        let start = self.pos;
        match self.find_special(start).ok_or(GiveUp)? {
            (end, Special::Quote) => {
                self.pos = end + 1;
                Ok(Text::Source(start, end - start))
            }
            (at, Special::Backslash) => {
                self.scratch.clear();
                self.scratch
                    .push_str(self.text.get(start..at).ok_or(GiveUp)?);
                self.pos = at;
                self.escaped_rest()?;
                Ok(Text::Scratch)
            }
            (_, Special::Control) => Err(GiveUp),
        }
    }

    /// Decodes the rest of a string into the scratch buffer, from a backslash.
    fn escaped_rest(&mut self) -> Scan<()> {
        loop {
            let (at, special) = self.find_special(self.pos).ok_or(GiveUp)?;
            let plain = self.text.get(self.pos..at).ok_or(GiveUp)?;
            self.scratch.push_str(plain);
            self.pos = at + 1;
            match special {
                Special::Quote => return Ok(()),
                Special::Backslash => {}
                Special::Control => return Err(GiveUp),
            }
            let escape = self.peek().ok_or(GiveUp)?;
            self.pos += 1;
            let decoded = match escape {
                b'"' => '"',
                b'\\' => '\\',
                b'/' => '/',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => self.unicode_escape()?,
                _ => return Err(GiveUp),
            };
            self.scratch.push(decoded);
        }
    }

    /// The character of a `\u` escape (and of the low surrogate's escape after a
    /// high surrogate's); lone surrogates are left to `serde_json`.
    fn unicode_escape(&mut self) -> Scan<char> {
        let unit = self.hex4()?;
        let code = match unit {
            0xD800..=0xDBFF => {
                if self.bytes.get(self.pos..self.pos + 2) != Some(b"\\u") {
                    return Err(GiveUp);
                }
                self.pos += 2;
                let low = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return Err(GiveUp);
                }
                0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(GiveUp),
            _ => u32::from(unit),
        };
        char::from_u32(code).ok_or(GiveUp)
    }

    fn hex4(&mut self) -> Scan<u16> {
        let digits = self.bytes.get(self.pos..self.pos + 4).ok_or(GiveUp)?;
        let mut unit = 0u16;
        for &digit in digits {
            let value = char::from(digit).to_digit(16).ok_or(GiveUp)?;
            unit = unit * 16 + value as u16;
        }
        self.pos += 4;
        Ok(unit)
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    /// Reads a number as `serde_json` does: an integer that fits `u64` (or, when
    /// negative, `i64`) exactly, anything else as a double read by `serde_json`.
    fn number(&mut self) -> Scan<()> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let digits_start = self.pos;
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(GiveUp);
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(GiveUp),
        }
        let integer_end = self.pos;
        let mut float = false;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(GiveUp);
            }
            float = true;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(GiveUp);
            }
            float = true;
        }
        let significand = if float {
            None
        } else {
            self.bytes[digits_start..integer_end]
                .iter()
                .try_fold(0u64, |n, &d| {
                    n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
                })
        };
        match significand {
            Some(n) if !negative => match i64::try_from(n) {
                Ok(i) => self.builder.int(i),
                Err(_) => {
                    self.wide_unsigned = true;
                    self.builder.float(n as f64);
                }
            },
            Some(n) => {
                // `serde_json`: `-0`, and magnitudes beyond `i64`, are doubles.
                let i = (n as i64).wrapping_neg();
                if i >= 0 {
                    self.builder.float(-(n as f64));
                } else {
                    self.builder.int(i);
                }
            }
            None => {
                let token = self.text.get(start..self.pos).ok_or(GiveUp)?;
                let f: f64 = serde_json::from_str(token).map_err(|_| GiveUp)?;
                if !f.is_finite() {
                    return Err(GiveUp);
                }
                self.builder.float(f);
            }
        }
        Ok(())
    }
}

/// A byte that ends a run of plain string text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Special {
    /// `"`
    Quote,
    /// `\\`
    Backslash,
    /// Below U+0020.
    Control,
}

/// Where a string's text is.
enum Text {
    /// In the document's text, at this start and length.
    Source(usize, usize),
    /// In the scanner's scratch buffer (it had escapes).
    Scratch,
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::value::Value;

    /// The document `scan` reads, or `None` when it gives up.
    fn scanned(text: &str) -> Option<Value> {
        scan(text).ok().and_then(|s| s.builder.finish().ok())
    }

    /// The document `serde_json` reads (the reference).
    fn by_serde(text: &str) -> Option<Value> {
        crate::json::parse_with_serde(text).ok()
    }

    fn same(text: &str) {
        let fast = scanned(text);
        let reference = by_serde(text);
        match (&fast, &reference) {
            (Some(fast), Some(reference)) => {
                assert_eq!(fast, reference, "{text}");
                assert_eq!(fast.to_java_string(), reference.to_java_string(), "{text}");
                assert_eq!(
                    format!("{:?}", fast.type_name()),
                    format!("{:?}", reference.type_name())
                );
            }
            (Some(_), None) => panic!("accepted what serde_json refuses: {text}"),
            // Giving up is always allowed.
            (None, _) => {}
        }
    }

    /// `$input.json('$')` printed from the scanned tape matches the text printed
    /// from `serde_json`'s document.
    fn same_text(text: &str) {
        let printed = crate::json::compact_text(text);
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(document) => {
                if let Some(printed) = printed {
                    assert_eq!(printed, crate::util::json_string(&document), "{text}");
                }
            }
            Err(_) => assert_eq!(printed, None, "{text}"),
        }
    }

    #[test]
    fn prints_what_serde_json_prints() {
        for text in [
            r#"{"type": "dog", "price": 249.99}"#,
            r#"{"a": 1, "b": [1, -2, 3.5, 1e10, -0, -0.0, 9223372036854775808e0],
                "c": {"d": null, "e": true, "f": false}, "g": "x/y \"q\" \u0001 \u2028 é😀"}"#,
            r#"{"a": 1, "a": 2, "b": 3}"#,
            r#"{"a\/b": 1, "a/b": 2}"#,
            r#""\u0085 \u007f \u20ff \u2100 \u00a0 ¡ ‐ \/""#,
            "\"\u{85} \u{7f} \u{20ff} \u{2100} \u{a0} ¡ ‐ / x\"",
            "-0",
            "[]",
        ] {
            assert!(crate::json::compact_text(text).is_some(), "{text}");
            same_text(text);
        }
        // Integers wider than `i64` print as given: left to the streaming printer.
        assert_eq!(crate::json::compact_text("[18446744073709551615]"), None);
    }

    #[test]
    fn reads_what_serde_json_reads() {
        for text in [
            "{}",
            "[]",
            " { \"a\" : [ 1 , -2 , 3.5 , true , false , null ] } ",
            r#"{"a": 1, "a": 2, "b": {"c": [[], {}]}}"#,
            r#"{"a": 1, "\u0061": 2, "b": 3}"#,
            r#"{"abcdefghij": 1, "abcdefgh\u0069j": 2, "abcdefghik": 3, "abcdefghij": 4}"#,
            r#"{"": 1, "x": 2, "": 3}"#,
            r#""x\u00e9\n\"\\\/\b\f\r\t""#,
            r#""\ud83d\ude00 and \u0000""#,
            "0",
            "-0",
            "-0.0",
            "1e10",
            "1E+2",
            "1e-2",
            "0.1",
            "123456789012345678901234567890",
            "-123456789012345678901234567890",
            "18446744073709551615",
            "18446744073709551616",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "1.7976931348623157e308",
            "5e-324",
            "2.2250738585072011e-308",
            "0.30000000000000004",
            "\"long string without escapes, longer than one word\"",
            "\"é😀 unicode\"",
        ] {
            assert!(scanned(text).is_some(), "gave up on {text}");
            same(text);
        }
    }

    #[test]
    fn gives_up_on_what_serde_json_refuses() {
        for text in [
            "",
            " ",
            "{",
            "[1,]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "{a: 1}",
            "[1 2]",
            "01",
            "-",
            "1.",
            ".5",
            "1e",
            "1e+",
            "+1",
            "1 2",
            "nul",
            "truex",
            "\"unterminated",
            "\"bad \\x escape\"",
            "\"control \u{1} char\"",
            "\"lone \\ud800 surrogate\"",
            "\"lone \\udc00 surrogate\"",
            "\"short \\u12\"",
            "1e400",
            "-1e400",
            "'single'",
            "[\"a\"]]",
        ] {
            assert!(scanned(text).is_none(), "accepted {text:?}");
            same(text);
        }
        // Deep nesting is left to serde_json.
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(scanned(&deep).is_none());
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(scanned(&ok).is_some());
    }

    #[test]
    fn notes_unsigned_integers_wider_than_i64() {
        assert!(scan("[18446744073709551615]").unwrap().wide_unsigned);
        assert!(
            !scan("[9223372036854775807, -9223372036854775808]")
                .unwrap()
                .wide_unsigned
        );
    }

    fn json_text() -> impl Strategy<Value = String> {
        let number = prop_oneof![
            any::<i64>().prop_map(|i| i.to_string()),
            any::<u64>().prop_map(|u| u.to_string()),
            any::<f64>().prop_map(|f| f.to_string()),
            "-?(0|[1-9][0-9]{0,25})(\\.[0-9]{1,20})?([eE][+-]?[0-9]{1,3})?",
        ];
        let string = prop_oneof![
            "\"[a-z /é😀]{0,12}\"",
            "\"([a-z]|\\\\[\"\\\\/bfnrt]|\\\\u[0-9a-fA-F]{4}){0,6}\"",
        ];
        let leaf = prop_oneof![
            Just("null".to_owned()),
            Just("true".to_owned()),
            Just("false".to_owned()),
            number,
            string.clone(),
        ];
        leaf.prop_recursive(4, 32, 5, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5)
                    .prop_map(|items| format!("[{}]", items.join(" , "))),
                prop::collection::vec(("\"[a-c]{0,2}\"", inner), 0..5).prop_map(|members| {
                    let members: Vec<String> = members
                        .into_iter()
                        .map(|(k, v)| format!("{k}:{v}"))
                        .collect();
                    format!("{{ {} }}", members.join(","))
                }),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn agrees_with_serde_json(text in json_text()) {
            same(&text);
            same_text(&text);
            // Every valid document without lone surrogates is read here.
            if by_serde(&text).is_some() {
                prop_assert!(scanned(&text).is_some(), "gave up on {}", text);
            }
        }

        #[test]
        fn agrees_with_serde_json_on_damaged_text(text in json_text(), cut in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let mut bytes = text.into_bytes();
            let at = cut.index(bytes.len() + 1);
            if byte.is_ascii() {
                bytes.insert(at, byte);
            } else {
                bytes.truncate(at);
            }
            if let Ok(text) = String::from_utf8(bytes) {
                same(&text);
                same_text(&text);
            }
        }
    }
}
