//! The functions behind `$util`, with the semantics of the Java libraries API
//! Gateway calls, plus the JSON text `$input.json(..)` prints.
//!
//! | `$util.` | function | behaves as |
//! | --- | --- | --- |
//! | `escapeJavaScript` | [`escape_javascript`] | Apache Commons Lang `StringEscapeUtils.escapeJavaScript` |
//! | `urlEncode` | [`url_encode`] | `java.net.URLEncoder.encode(s, "UTF-8")` |
//! | `urlDecode` | [`url_decode`] | `java.net.URLDecoder.decode(s, "UTF-8")` |
//! | `base64Encode` | [`base64_encode`] | `java.util.Base64.getEncoder()` over the UTF-8 bytes |
//! | `base64Decode` | [`base64_decode`] | a lenient decoder (see its docs), bytes read as UTF-8 |
//! | `parseJson` | [`parse_json`] | a JSON parser producing maps, lists and scalars |
//!
//! [`json_string`] prints JSON as json-smart, the library behind API Gateway's
//! JSONPath, does.

use crate::value::{Value, java_double};

/// The standard base64 alphabet (RFC 4648 §4).
const BASE64_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

const UPPER_HEX: &[u8; 16] = b"0123456789ABCDEF";

/// `$util.urlDecode` met a malformed `%` escape (Java's URLDecoder throws).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlDecodeError {
    /// A `%` not followed by two more characters.
    #[error("URLDecoder: Incomplete trailing escape (%) pattern at character {0}")]
    IncompleteEscape(usize),
    /// A `%` followed by characters that are not a hex byte.
    #[error("URLDecoder: Illegal hex characters in escape (%) pattern at character {0}")]
    IllegalHex(usize),
}

/// Strict base64 decoding failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Base64Error {
    /// A character outside the standard alphabet.
    #[error("illegal base64 character {found:?} at byte {position}")]
    IllegalCharacter {
        /// Byte offset of the character.
        position: usize,
        /// The character.
        found: char,
    },
    /// Padding in the wrong place or of the wrong length, or data after it.
    #[error("misplaced base64 padding at byte {0}")]
    BadPadding(usize),
    /// The last unit has a single character, which cannot encode a byte.
    #[error("the last base64 unit does not have enough valid bits")]
    Truncated,
}

/// `$util.parseJson` was given text that is not JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSON: {0}")]
pub struct ParseJsonError(pub String);

/// Escapes a string with JavaScript string rules, as `$util.escapeJavaScript` does
/// (Apache Commons Lang's `StringEscapeUtils.escapeJavaScript`):
///
/// - `"` → `\"`, `\` → `\\`, and also `'` → `\'` and `/` → `\/`. AWS documents the
///   single quotes: `\'` is not valid JSON, hence the common
///   `.replaceAll("\\'", "'")` after it.
/// - Backspace, tab, newline, form feed and carriage return → `\b`, `\t`, `\n`,
///   `\f`, `\r`; other control characters (below U+0020) → `\u00XX`.
/// - Every character above U+007F → `\uXXXX` with upper-case hex, characters
///   outside the Basic Multilingual Plane as their two UTF-16 surrogates
///   (`😀` → `\uD83D\uDE00`). U+007F itself is kept.
#[must_use]
pub fn escape_javascript(input: &str) -> String {
    let mut out = String::with_capacity(input.len() + input.len() / 8);
    for c in input.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '/' => out.push_str("\\/"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if !(' '..='\u{7f}').contains(&c) => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units).iter() {
                    push_unicode_escape(&mut out, *unit);
                }
            }
            c => out.push(c),
        }
    }
    out
}

fn push_unicode_escape(out: &mut String, unit: u16) {
    out.push_str("\\u");
    for shift in [12, 8, 4, 0] {
        out.push(char::from(UPPER_HEX[usize::from((unit >> shift) & 0xf)]));
    }
}

/// Encodes a string as `application/x-www-form-urlencoded`, as Java's
/// `URLEncoder.encode(s, "UTF-8")` and so `$util.urlEncode` do: ASCII letters,
/// digits and `.`, `-`, `*`, `_` are kept, a space becomes `+`, and every other
/// byte of the UTF-8 encoding becomes `%XX` with upper-case hex (`~` included).
#[must_use]
pub fn url_encode(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for &byte in input.as_bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(UPPER_HEX[usize::from(byte >> 4)]));
                out.push(char::from(UPPER_HEX[usize::from(byte & 0xf)]));
            }
        }
    }
    out
}

/// Decodes `application/x-www-form-urlencoded` text, as Java's
/// `URLDecoder.decode(s, "UTF-8")` and so `$util.urlDecode` do: `+` becomes a
/// space, each run of `%XX` escapes is decoded as UTF-8 (invalid sequences become
/// U+FFFD), and every other character is kept, even ones an encoder would have
/// escaped.
///
/// Like Java, it fails on a `%` without two following characters, or whose two
/// characters are not a hex number. Java parses those two characters with
/// `Integer.parseInt(.., 16)`, which also takes a sign: `%+A` decodes to byte
/// 0x0A and `%-0` to byte 0, while `%-1` is an error. That quirk is kept; Java's
/// acceptance of non-ASCII Unicode digits there is not.
pub fn url_decode(input: &str) -> Result<String, UrlDecodeError> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = String::with_capacity(input.len());
    let mut bytes = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        match c {
            '+' => {
                out.push(' ');
                i += 1;
            }
            '%' => {
                bytes.clear();
                while chars.get(i) == Some(&'%') {
                    let (Some(&a), Some(&b)) = (chars.get(i + 1), chars.get(i + 2)) else {
                        return Err(UrlDecodeError::IncompleteEscape(i));
                    };
                    bytes.push(java_hex_byte(a, b).ok_or(UrlDecodeError::IllegalHex(i))?);
                    i += 3;
                }
                out.push_str(&String::from_utf8_lossy(&bytes));
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// `Integer.parseInt(a + b, 16)` for a value that must fit a byte and not be
/// negative.
fn java_hex_byte(a: char, b: char) -> Option<u8> {
    match a {
        '+' => u8::try_from(b.to_digit(16)?).ok(),
        '-' => (b.to_digit(16)? == 0).then_some(0),
        _ => u8::try_from(a.to_digit(16)? * 16 + b.to_digit(16)?).ok(),
    }
}

/// Encodes bytes as base64 with the standard alphabet and `=` padding, as Java's
/// `Base64.getEncoder()` (and `$util.base64Encode`, over a string's UTF-8 bytes)
/// does. No line breaks are inserted.
#[must_use]
pub fn base64_encode(input: &[u8]) -> String {
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b0 = chunk.first().copied().unwrap_or(0);
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let triple = (u32::from(b0) << 16) | (u32::from(b1) << 8) | u32::from(b2);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                let sextet = usize::try_from((triple >> shift) & 0x3f).unwrap_or(0);
                out.push(char::from(BASE64_ALPHABET[sextet]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes base64 leniently, never failing, as the widely used Apache Commons
/// Codec decoder does (AWS does not document how strict `$util.base64Decode` is):
///
/// - both the standard (`+`, `/`) and the URL-safe (`-`, `_`) alphabets are read;
/// - characters outside them (whitespace, line breaks, stray punctuation) are
///   skipped;
/// - decoding stops at the first `=`, and padding is optional;
/// - leftover bits that do not make a whole byte are dropped, so a final unit of
///   a single character yields nothing.
///
/// Use [`base64_decode_strict`] to reject malformed input instead.
#[must_use]
pub fn base64_decode(input: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3 + 2);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for byte in input.bytes() {
        if byte == b'=' {
            break;
        }
        let Some(sextet) = sextet(byte, true) else {
            continue;
        };
        acc = (acc << 6) | u32::from(sextet);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).unwrap_or(0));
        }
    }
    out
}

/// Decodes base64 strictly, as Java's `Base64.getDecoder()` does: standard
/// alphabet only, no whitespace, padding optional but correct when present,
/// nothing after it; a final unit of a single character is an error. Unused low
/// bits in the last unit are ignored, as Java ignores them.
pub fn base64_decode_strict(input: &str) -> Result<Vec<u8>, Base64Error> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3 + 2);
    let mut acc: u32 = 0;
    let mut count = 0usize;
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        if byte == b'=' {
            // Padding completes the current unit: `xx==` or `xxx=`, then the end.
            let needed = match count % 4 {
                2 => 2,
                3 => 1,
                _ => return Err(Base64Error::BadPadding(index)),
            };
            let padding = bytes[index..].iter().take_while(|&&b| b == b'=').count();
            if padding != needed || index + padding != bytes.len() {
                return Err(Base64Error::BadPadding(index + padding.min(needed)));
            }
            break;
        }
        let Some(sextet) = sextet(byte, false) else {
            let found = input
                .get(index..)
                .and_then(|s| s.chars().next())
                .unwrap_or(char::REPLACEMENT_CHARACTER);
            return Err(Base64Error::IllegalCharacter {
                position: index,
                found,
            });
        };
        acc = (acc << 6) | u32::from(sextet);
        count += 1;
        if count.is_multiple_of(4) {
            out.extend_from_slice(&[
                u8::try_from((acc >> 16) & 0xff).unwrap_or(0),
                u8::try_from((acc >> 8) & 0xff).unwrap_or(0),
                u8::try_from(acc & 0xff).unwrap_or(0),
            ]);
            acc = 0;
        }
        index += 1;
    }
    match count % 4 {
        0 => {}
        1 => return Err(Base64Error::Truncated),
        2 => out.push(u8::try_from((acc >> 4) & 0xff).unwrap_or(0)),
        _ => out.extend_from_slice(&[
            u8::try_from((acc >> 10) & 0xff).unwrap_or(0),
            u8::try_from((acc >> 2) & 0xff).unwrap_or(0),
        ]),
    }
    Ok(out)
}

fn sextet(byte: u8, url_safe_too: bool) -> Option<u8> {
    match byte {
        b'A'..=b'Z' => Some(byte - b'A'),
        b'a'..=b'z' => Some(byte - b'a' + 26),
        b'0'..=b'9' => Some(byte - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        b'-' if url_safe_too => Some(62),
        b'_' if url_safe_too => Some(63),
        _ => None,
    }
}

/// Parses JSON text into a template value, as `$util.parseJson` does: objects
/// become insertion-ordered maps, arrays lists, numbers integers or doubles.
/// Surrounding whitespace is allowed; anything else that is not one JSON value is
/// an error.
pub fn parse_json(input: &str) -> Result<Value, ParseJsonError> {
    Value::parse_json_text(input).map_err(|e| ParseJsonError(e.to_string()))
}

/// Prints JSON compactly as json-smart's default style (`JSONValue.toJSONString`)
/// does, which is what `$input.json(..)` returns:
///
/// - no whitespace between tokens; object members in document order;
/// - strings escape `"`, `\`, and `/` (as `\/`), the usual `\b \f \n \r \t`, and
///   as `\uXXXX` (upper-case hex) the other control characters, U+007F–U+009F and
///   U+2000–U+20FF; everything else is written as is;
/// - integers print as integers; other numbers print as Java's
///   `Double.toString` does (`1.0`, `1.0E10`).
#[must_use]
pub fn json_string(value: &serde_json::Value) -> String {
    let mut out = String::new();
    write_json(&mut out, value);
    out
}

/// [`json_string`] of the JSON document `text`, printed while it is parsed,
/// without building it. `None` when `text` is not JSON, or when an object
/// repeats a key or has very many (the parsed document then decides: a repeated
/// key keeps its first position and its last value).
pub(crate) fn json_text_string(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut keys = Vec::new();
    let mut deserializer = serde_json::Deserializer::from_str(text);
    serde::de::DeserializeSeed::deserialize(
        JsonWriter {
            out: &mut out,
            keys: &mut keys,
        },
        &mut deserializer,
    )
    .ok()?;
    deserializer.end().ok()?;
    Some(out)
}

/// Objects wider than this are left to the parsed document (checking for
/// repeated keys is quadratic here).
const MAX_STREAMED_KEYS: usize = 64;

/// Writes one JSON value as [`json_string`] prints it.
struct JsonWriter<'w> {
    out: &'w mut String,
    /// Where the keys of the objects being written are in `out`.
    keys: &'w mut Vec<(usize, usize)>,
}

impl<'de> serde::de::DeserializeSeed<'de> for JsonWriter<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for JsonWriter<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<(), E> {
        self.out.push_str(if b { "true" } else { "false" });
        Ok(())
    }

    fn visit_i64<E>(self, i: i64) -> Result<(), E> {
        push_int(self.out, i);
        Ok(())
    }

    fn visit_u64<E>(self, u: u64) -> Result<(), E> {
        push_display(self.out, u);
        Ok(())
    }

    fn visit_f64<E>(self, f: f64) -> Result<(), E> {
        // `serde_json::Value` holds a non-finite double as `null`.
        if f.is_finite() {
            self.out.push_str(&java_double(f));
        } else {
            self.out.push_str("null");
        }
        Ok(())
    }

    fn visit_str<E>(self, s: &str) -> Result<(), E> {
        write_json_string(self.out, s);
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.out.push_str("null");
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.out.push('[');
        let mut first = true;
        loop {
            let mark = self.out.len();
            if !first {
                self.out.push(',');
            }
            let writer = JsonWriter {
                out: &mut *self.out,
                keys: &mut *self.keys,
            };
            if seq.next_element_seed(writer)?.is_none() {
                self.out.truncate(mark);
                break;
            }
            first = false;
        }
        self.out.push(']');
        Ok(())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.out.push('{');
        let base = self.keys.len();
        loop {
            let mark = self.out.len();
            if self.keys.len() > base {
                self.out.push(',');
            }
            let start = self.out.len();
            if map
                .next_key_seed(KeyWriter {
                    out: &mut *self.out,
                })?
                .is_none()
            {
                self.out.truncate(mark);
                break;
            }
            let end = self.out.len();
            let key = &self.out[start..end];
            if self.keys.len() - base >= MAX_STREAMED_KEYS
                || self.keys[base..]
                    .iter()
                    .any(|&(s, e)| &self.out[s..e] == key)
            {
                return Err(serde::de::Error::custom("left to the parsed document"));
            }
            self.keys.push((start, end));
            self.out.push(':');
            map.next_value_seed(JsonWriter {
                out: &mut *self.out,
                keys: &mut *self.keys,
            })?;
        }
        self.keys.truncate(base);
        self.out.push('}');
        Ok(())
    }
}

/// Writes an object key as [`json_string`] prints it.
struct KeyWriter<'w> {
    out: &'w mut String,
}

impl<'de> serde::de::DeserializeSeed<'de> for KeyWriter<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl serde::de::Visitor<'_> for KeyWriter<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E>(self, s: &str) -> Result<(), E> {
        write_json_string(self.out, s);
        Ok(())
    }
}

/// [`json_string`] of an array holding `values`.
pub(crate) fn json_list_string<V: std::ops::Deref<Target = serde_json::Value>>(
    values: &[V],
) -> String {
    let mut out = String::from("[");
    for (i, item) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_json(&mut out, item);
    }
    out.push(']');
    out
}

fn write_json(out: &mut String, value: &serde_json::Value) {
    match value {
        serde_json::Value::Null => out.push_str("null"),
        serde_json::Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                push_int(out, i);
            } else if let Some(u) = n.as_u64() {
                push_display(out, u);
            } else {
                out.push_str(&java_double(n.as_f64().unwrap_or(f64::NAN)));
            }
        }
        serde_json::Value::String(s) => write_json_string(out, s),
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item);
            }
            out.push(']');
        }
        serde_json::Value::Object(members) => {
            out.push('{');
            for (i, (key, member)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, key);
                out.push(':');
                write_json(out, member);
            }
            out.push('}');
        }
    }
}

/// Appends a value's `Display` text without a temporary string.
fn push_display(out: &mut String, value: impl std::fmt::Display) {
    use std::fmt::Write as _;
    // Writing to a `String` cannot fail.
    let _ = write!(out, "{value}");
}

/// Appends `s` as a JSON string, escaped as json-smart escapes it (see
/// [`json_string`]).
pub(crate) fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    // Characters written as they are go out in runs, from `plain` on.
    let mut plain = 0;
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        if !MAY_ESCAPE[usize::from(byte)] {
            at += 1;
            continue;
        }
        // `byte` is ASCII or starts a character: `at` is a character boundary.
        let Some(c) = s.get(at..).and_then(|rest| rest.chars().next()) else {
            break;
        };
        let escape = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '/' => Some("\\/"),
            '\u{8}' => Some("\\b"),
            '\u{c}' => Some("\\f"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{2000}'..='\u{20ff}' => Some(""),
            _ => None,
        };
        if let Some(escape) = escape {
            out.push_str(s.get(plain..at).unwrap_or_default());
            if escape.is_empty() {
                // All of these are in the Basic Multilingual Plane: one UTF-16 unit.
                push_unicode_escape(out, u16::try_from(u32::from(c)).unwrap_or(0xfffd));
            } else {
                out.push_str(escape);
            }
            plain = at + c.len_utf8();
        }
        at += c.len_utf8();
    }
    out.push_str(s.get(plain..).unwrap_or_default());
    out.push('"');
}

/// Bytes that start a character [`write_json_string`] may escape: ASCII controls,
/// `"`, `\`, `/`, DEL, and the first bytes of U+0080–U+00BF and U+2000–U+2FFF.
const MAY_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = true;
        byte += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table[b'/' as usize] = true;
    table[0x7f] = true;
    table[0xc2] = true;
    table[0xe2] = true;
    table
};

/// Appends an integer in decimal.
pub(crate) fn push_int(out: &mut String, value: i64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = value.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if value < 0 {
        out.push('-');
    }
    out.push_str(std::str::from_utf8(&digits[at..]).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_javascript_quotes_and_backslashes() {
        assert_eq!(escape_javascript(r#"say "hi""#), r#"say \"hi\""#);
        assert_eq!(escape_javascript("it's"), r"it\'s");
        assert_eq!(escape_javascript(r"C:\dir"), r"C:\\dir");
        assert_eq!(escape_javascript("a/b"), r"a\/b");
        assert_eq!(escape_javascript(""), "");
        assert_eq!(escape_javascript("plain text 123"), "plain text 123");
        // AWS's documented workaround restores single quotes for JSON.
        assert_eq!(
            escape_javascript(r#"{"name":"O'Brien"}"#).replace(r"\'", "'"),
            r#"{\"name\":\"O'Brien\"}"#
        );
    }

    #[test]
    fn escape_javascript_control_and_non_ascii() {
        assert_eq!(escape_javascript("a\nb\tc\rd"), r"a\nb\tc\rd");
        assert_eq!(escape_javascript("\u{8}\u{c}"), r"\b\f");
        assert_eq!(escape_javascript("\u{0}\u{1}\u{1f}"), r"\u0000\u0001\u001F");
        assert_eq!(escape_javascript("\u{7f}"), "\u{7f}");
        assert_eq!(escape_javascript("é"), r"\u00E9");
        assert_eq!(escape_javascript("\u{80}"), r"\u0080");
        assert_eq!(escape_javascript("€"), r"\u20AC");
        assert_eq!(escape_javascript("日本"), r"\u65E5\u672C");
        assert_eq!(escape_javascript("😀"), r"\uD83D\uDE00");
        assert_eq!(escape_javascript("<script>"), r"<script>");
    }

    #[test]
    fn url_encode_as_java() {
        assert_eq!(url_encode("a b"), "a+b");
        assert_eq!(url_encode("x=a+b"), "x%3Da%2Bb");
        assert_eq!(url_encode("AZaz09.-*_"), "AZaz09.-*_");
        assert_eq!(url_encode("~!'()"), "%7E%21%27%28%29");
        assert_eq!(url_encode("/?&#%"), "%2F%3F%26%23%25");
        assert_eq!(url_encode("é"), "%C3%A9");
        assert_eq!(url_encode("😀"), "%F0%9F%98%80");
        assert_eq!(url_encode("\n"), "%0A");
        assert_eq!(url_encode(""), "");
    }

    #[test]
    fn url_decode_as_java() {
        assert_eq!(url_decode("x=a+b").unwrap(), "x=a b");
        assert_eq!(url_decode("x%3Da%2Bb").unwrap(), "x=a+b");
        assert_eq!(url_decode("%c3%A9").unwrap(), "é");
        assert_eq!(url_decode("%F0%9F%98%80!").unwrap(), "😀!");
        assert_eq!(
            url_decode("already decoded é ~").unwrap(),
            "already decoded é ~"
        );
        assert_eq!(url_decode("").unwrap(), "");
        // Invalid UTF-8 becomes the replacement character, as `new String(bytes, UTF-8)`.
        assert_eq!(url_decode("%FF").unwrap(), "\u{fffd}");
        assert_eq!(url_decode("%C3").unwrap(), "\u{fffd}");
        // Java's parseInt takes a sign.
        assert_eq!(url_decode("%+A").unwrap(), "\n");
        assert_eq!(url_decode("%-0").unwrap(), "\u{0}");
        assert_eq!(url_decode("%-1"), Err(UrlDecodeError::IllegalHex(0)));
        assert_eq!(url_decode("100%"), Err(UrlDecodeError::IncompleteEscape(3)));
        assert_eq!(url_decode("%4"), Err(UrlDecodeError::IncompleteEscape(0)));
        assert_eq!(url_decode("a%4G"), Err(UrlDecodeError::IllegalHex(1)));
        assert_eq!(
            url_decode("%41%4"),
            Err(UrlDecodeError::IncompleteEscape(3))
        );
        assert_eq!(url_decode("%é1"), Err(UrlDecodeError::IllegalHex(0)));
        assert!(url_decode("%%%").is_err());
    }

    #[test]
    fn url_round_trips() {
        for s in ["", "a b&c=d/e?f#g", "é 😀 ~!*'()", "100% sure", "+ + +"] {
            assert_eq!(url_decode(&url_encode(s)).unwrap(), s);
        }
    }

    #[test]
    fn base64_encode_rfc4648_vectors() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(base64_encode(plain.as_bytes()), encoded);
            assert_eq!(base64_decode(encoded), plain.as_bytes());
            assert_eq!(base64_decode_strict(encoded).unwrap(), plain.as_bytes());
        }
        assert_eq!(base64_encode(&[0xfb, 0xff, 0xbf]), "+/+/");
        assert_eq!(base64_encode("é".as_bytes()), "w6k=");
        assert_eq!(base64_encode(b"{\"a\":1}"), "eyJhIjoxfQ==");
    }

    #[test]
    fn base64_round_trips_all_lengths_and_bytes() {
        let data: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        for len in 0..data.len() {
            let slice = &data[..len];
            let encoded = base64_encode(slice);
            assert_eq!(encoded.len() % 4, 0);
            assert_eq!(base64_decode(&encoded), slice, "lenient, len {len}");
            assert_eq!(
                base64_decode_strict(&encoded).unwrap(),
                slice,
                "strict, len {len}"
            );
            let unpadded = encoded.trim_end_matches('=');
            assert_eq!(base64_decode(unpadded), slice);
            assert_eq!(base64_decode_strict(unpadded).unwrap(), slice);
        }
    }

    #[test]
    fn base64_lenient_decoding() {
        assert_eq!(base64_decode("Zm9v\r\nYmFy"), b"foobar");
        assert_eq!(base64_decode(" Zm 9v Yg "), b"foob");
        assert_eq!(base64_decode("Zm9v!!YmFy"), b"foobar");
        assert_eq!(base64_decode("-_-_"), base64_decode("+/+/"));
        assert_eq!(base64_decode("Zg==Zm9v"), b"f");
        assert_eq!(base64_decode("Zm9vY"), b"foo");
        assert_eq!(base64_decode("Zh=="), b"f");
        assert_eq!(base64_decode("===="), b"");
        assert_eq!(
            base64_decode("not base64 at all?!"),
            base64_decode("notbase64atall")
        );
    }

    #[test]
    fn base64_strict_rejects_malformed() {
        assert_eq!(
            base64_decode_strict("Zm9v YmFy"),
            Err(Base64Error::IllegalCharacter {
                position: 4,
                found: ' '
            })
        );
        assert_eq!(
            base64_decode_strict("Zm9v-_"),
            Err(Base64Error::IllegalCharacter {
                position: 4,
                found: '-'
            })
        );
        assert!(matches!(
            base64_decode_strict("Zé=="),
            Err(Base64Error::IllegalCharacter {
                position: 1,
                found: 'é'
            })
        ));
        assert_eq!(base64_decode_strict("Zm9vY"), Err(Base64Error::Truncated));
        assert_eq!(base64_decode_strict("Z"), Err(Base64Error::Truncated));
        assert_eq!(base64_decode_strict("Zg="), Err(Base64Error::BadPadding(3)));
        assert_eq!(
            base64_decode_strict("Zg==="),
            Err(Base64Error::BadPadding(4))
        );
        assert_eq!(
            base64_decode_strict("Zm8=="),
            Err(Base64Error::BadPadding(4))
        );
        assert_eq!(
            base64_decode_strict("Z==="),
            Err(Base64Error::BadPadding(1))
        );
        assert_eq!(
            base64_decode_strict("===="),
            Err(Base64Error::BadPadding(0))
        );
        assert_eq!(
            base64_decode_strict("Zg==Zg=="),
            Err(Base64Error::BadPadding(4))
        );
        // Non-zero unused bits are ignored, as Java does.
        assert_eq!(base64_decode_strict("Zh==").unwrap(), b"f");
        assert_eq!(base64_decode_strict("").unwrap(), b"");
    }

    #[test]
    fn parse_json_values() {
        let value = parse_json(r#"{"key1":"var1","key2":{"arr":[1,2,3]}}"#).unwrap();
        assert_eq!(value.to_java_string(), "{key1=var1, key2={arr=[1, 2, 3]}}");
        assert_eq!(parse_json("[1,2,3]").unwrap().to_java_string(), "[1, 2, 3]");
        assert_eq!(parse_json(r#""string""#).unwrap(), Value::string("string"));
        assert_eq!(parse_json("1").unwrap(), Value::Int(1));
        assert_eq!(parse_json("2.5").unwrap(), Value::Float(2.5));
        assert_eq!(parse_json("true").unwrap(), Value::Bool(true));
        assert_eq!(parse_json(" null ").unwrap(), Value::Null);
        assert_eq!(parse_json("[]").unwrap().to_java_string(), "[]");
        assert!(parse_json("").is_err());
        assert!(parse_json("{").is_err());
        assert!(parse_json("{'a':1}").is_err());
        assert!(parse_json("1 2").is_err());
        let err = parse_json("nope").unwrap_err();
        assert!(err.to_string().starts_with("invalid JSON"), "{err}");
    }

    #[test]
    fn json_printed_while_parsing_matches_the_parsed_document() {
        let cases = [
            r#"{"type": "dog", "price": 249.99}"#,
            r#"{"a": 1, "b": [1, -2, 3.5, 1e10, -0, -0.0, 18446744073709551615, 9223372036854775808],
                "c": {"d": null, "e": true, "f": false}, "g": "x/y \"q\" \u0001 \u2028 é😀"}"#,
            r#"[]"#,
            r#"{}"#,
            r#"[{}, [], [[]], {"a": {}}]"#,
            r#""just a string""#,
            "12",
            "-3.25e-7",
            "null",
            r#"{"a": 1, "a": 2, "b": 3}"#,
            r#"{"a": {"x": 1, "x": 2}}"#,
            r#"{"x": {"a": 1}, "y": {"a": 2}}"#,
            r#"{"a\/b": 1, "a/b": 2}"#,
        ];
        for text in cases {
            let document: serde_json::Value = serde_json::from_str(text).unwrap();
            let expected = json_string(&document);
            match json_text_string(text) {
                Some(streamed) => assert_eq!(streamed, expected, "{text}"),
                // Only repeated keys are left to the document.
                None => assert!(
                    text.contains(r#""a": 1, "a""#)
                        || text.contains(r#""x": 1, "x""#)
                        || text.contains(r#""a\/b": 1, "a/b""#),
                    "{text}"
                ),
            }
        }
        let wide: String = format!(
            "{{{}}}",
            (0..100)
                .map(|i| format!(r#""k{i}": {i}"#))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert_eq!(json_text_string(&wide), None);
        for bad in ["{", "[1,]", "{'a': 1}", "1 2", "nope", "1e400", ""] {
            assert_eq!(json_text_string(bad), None, "{bad}");
        }
    }

    #[test]
    fn json_string_as_json_smart() {
        let json: serde_json::Value = serde_json::from_str(
            r#"{"id": 1, "price": 249.99, "big": 1e10, "whole": 2.0, "neg": -0.5,
                "url": "https://example.com/a", "q": "say \"hi\"", "nl": "a\nb",
                "ctl": "\u0001\u007f\u0085\u2028", "uni": "é😀", "list": [true, null, {}],
                "empty": []}"#,
        )
        .unwrap();
        assert_eq!(
            json_string(&json),
            r#"{"id":1,"price":249.99,"big":1.0E10,"whole":2.0,"neg":-0.5,"url":"https:\/\/example.com\/a","q":"say \"hi\"","nl":"a\nb","ctl":"\u0001\u007F\u0085\u2028","uni":"é😀","list":[true,null,{}],"empty":[]}"#
        );
        assert_eq!(json_string(&serde_json::json!("a=b")), r#""a=b""#);
        assert_eq!(
            json_string(&serde_json::json!(u64::MAX)),
            "18446744073709551615"
        );
        assert_eq!(json_string(&serde_json::json!(null)), "null");
        assert_eq!(json_string(&serde_json::json!({"a/b": 1})), r#"{"a\/b":1}"#);
    }
}
