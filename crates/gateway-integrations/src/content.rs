//! Binary media types and content handling: when a payload is binary, and how
//! `CONVERT_TO_TEXT` / `CONVERT_TO_BINARY` change it on its way through a mapped
//! integration.
//!
//! A payload is *binary* when its media type is one of the API's binary media types
//! (`x-amazon-apigateway-binary-media-types`); entries may be exact (`image/png`),
//! a type wildcard (`image/*`) or `*/*`. Matching ignores case and parameters.
//!
//! The conversions follow AWS's content-type conversion tables:
//!
//! | direction | payload | handling | result |
//! |---|---|---|---|
//! | request | text | none | unchanged |
//! | request | text | `CONVERT_TO_BINARY` | base64-decoded |
//! | request | text | `CONVERT_TO_TEXT` | unchanged |
//! | request | binary | none | unchanged (binary, no template applies) |
//! | request | binary | `CONVERT_TO_BINARY` | unchanged |
//! | request | binary | `CONVERT_TO_TEXT` | base64-encoded (templates see the text) |
//! | response | any, API has no binary types | none or `CONVERT_TO_TEXT` | unchanged |
//! | response | text | `CONVERT_TO_BINARY` | base64-decoded |
//! | response | binary | `CONVERT_TO_TEXT` | base64-encoded |
//! | response | text, `Accept` binary | none | base64-decoded |
//! | response | binary, `Accept` text | none | base64-encoded |
//! | response | otherwise | | unchanged |
//!
//! The response side reads only the *first* media type of `Accept`, as AWS does.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use gateway_core::model::ContentHandling;

use crate::response::media_type;

/// An API's binary media types (`x-amazon-apigateway-binary-media-types`), compiled
/// for matching: exact types, `type/*` wildcards and `*/*`, compared without case
/// or parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct BinaryMediaTypes {
    /// Exact media types, lower case.
    exact: Vec<String>,
    /// The `type/` prefix of each `type/*` entry, lower case.
    prefixes: Vec<String>,
    /// `*/*` is listed.
    any: bool,
}

impl BinaryMediaTypes {
    /// Compiles a list of media types. API Gateway's own API writes `/` as `~1`;
    /// both spellings are accepted.
    pub(crate) fn new(types: &[String]) -> Self {
        let mut compiled = Self::default();
        for entry in types {
            let entry = media_type(entry).replace("~1", "/").to_ascii_lowercase();
            if entry == "*/*" {
                compiled.any = true;
            } else if let Some(kind) = entry.strip_suffix('*') {
                if kind.ends_with('/') && kind.len() > 1 {
                    compiled.prefixes.push(kind.to_owned());
                }
            } else if !entry.is_empty() {
                compiled.exact.push(entry);
            }
        }
        compiled
    }

    /// Whether a `Content-Type` (or one `Accept` entry) names a binary media type.
    pub(crate) fn matches(&self, content_type: &str) -> bool {
        let media = media_type(content_type);
        if media.is_empty() {
            return false;
        }
        self.any
            || self.exact.iter().any(|t| t.eq_ignore_ascii_case(media))
            || self.prefixes.iter().any(|p| {
                media.len() > p.len()
                    && media.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
            })
    }

    /// Whether the first media type of an `Accept` header is binary (API Gateway
    /// reads only the first).
    pub(crate) fn matches_accept(&self, accept: &str) -> bool {
        accept
            .split(',')
            .next()
            .is_some_and(|first| self.matches(first))
    }

    /// Whether the API lists no binary media type.
    pub(crate) fn is_empty(&self) -> bool {
        !self.any && self.exact.is_empty() && self.prefixes.is_empty()
    }
}

/// A payload that claimed to be base64 but is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotBase64;

/// Converts a method request payload for the integration request.
pub(crate) fn convert_request(
    body: Bytes,
    handling: Option<ContentHandling>,
    binary: bool,
) -> Result<Bytes, NotBase64> {
    match (handling, binary) {
        (Some(ContentHandling::ConvertToBinary), false) => decode(&body),
        (Some(ContentHandling::ConvertToText), true) => Ok(encode(&body)),
        _ => Ok(body),
    }
}

/// Converts an integration response payload for the method response.
pub(crate) fn convert_response(
    body: Bytes,
    handling: Option<ContentHandling>,
    types: &BinaryMediaTypes,
    response_binary: bool,
    accept_binary: bool,
) -> Result<Bytes, NotBase64> {
    match handling {
        Some(ContentHandling::ConvertToBinary) if !response_binary => decode(&body),
        Some(ContentHandling::ConvertToText) if response_binary => Ok(encode(&body)),
        Some(_) => Ok(body),
        None if types.is_empty() => Ok(body),
        None => match (response_binary, accept_binary) {
            (false, true) => decode(&body),
            (true, false) => Ok(encode(&body)),
            _ => Ok(body),
        },
    }
}

fn decode(body: &[u8]) -> Result<Bytes, NotBase64> {
    let trimmed = body.trim_ascii();
    STANDARD
        .decode(trimmed)
        .map(Bytes::from)
        .map_err(|_| NotBase64)
}

fn encode(body: &[u8]) -> Bytes {
    Bytes::from(STANDARD.encode(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types(list: &[&str]) -> BinaryMediaTypes {
        BinaryMediaTypes::new(&list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn exact_and_wildcard_types_match_without_case_or_parameters() {
        let binary = types(&["image/png", "application/*", "Audio~1MPEG"]);
        assert!(binary.matches("image/png"));
        assert!(binary.matches("IMAGE/PNG; charset=binary"));
        assert!(binary.matches("application/octet-stream"));
        assert!(binary.matches("audio/mpeg"));
        assert!(!binary.matches("image/jpeg"));
        assert!(!binary.matches("application"));
        assert!(!binary.matches("text/plain"));
        assert!(!binary.matches(""));
        assert!(!types(&[]).matches("image/png"));
    }

    #[test]
    fn any_matches_every_present_type() {
        let binary = types(&["*/*"]);
        assert!(binary.matches("text/plain"));
        assert!(binary.matches("application/json"));
        assert!(!binary.matches(""));
    }

    #[test]
    fn only_the_first_accept_entry_counts() {
        let binary = types(&["image/webp"]);
        assert!(binary.matches_accept("image/webp,image/*,*/*;q=0.8"));
        assert!(!binary.matches_accept("text/html, image/webp"));
    }

    #[test]
    fn request_conversions_follow_the_table() {
        let text = Bytes::from_static(b"aGk=");
        let raw = Bytes::from_static(&[0xff, 0x00]);
        let binary = Some(ContentHandling::ConvertToBinary);
        let to_text = Some(ContentHandling::ConvertToText);
        assert_eq!(convert_request(text.clone(), None, false).unwrap(), text);
        assert_eq!(convert_request(text.clone(), binary, false).unwrap(), "hi");
        assert_eq!(convert_request(text.clone(), to_text, false).unwrap(), text);
        assert_eq!(convert_request(raw.clone(), None, true).unwrap(), raw);
        assert_eq!(convert_request(raw.clone(), binary, true).unwrap(), raw);
        assert_eq!(convert_request(raw, to_text, true).unwrap(), "/wA=");
        assert_eq!(
            convert_request(Bytes::from_static(b"not base64!"), binary, false),
            Err(NotBase64)
        );
    }

    #[test]
    fn response_conversions_follow_the_table() {
        let none = types(&[]);
        let png = types(&["image/png"]);
        let text = Bytes::from_static(b"aGk=");
        let raw = Bytes::from_static(&[0xff, 0x00]);
        let binary = Some(ContentHandling::ConvertToBinary);
        let to_text = Some(ContentHandling::ConvertToText);
        // No binary types: unchanged unless asked to decode.
        assert_eq!(
            convert_response(raw.clone(), None, &none, false, false).unwrap(),
            raw
        );
        assert_eq!(
            convert_response(text.clone(), binary, &none, false, false).unwrap(),
            "hi"
        );
        // Text payload, binary Accept: decoded.
        assert_eq!(
            convert_response(text.clone(), None, &png, false, true).unwrap(),
            "hi"
        );
        assert_eq!(
            convert_response(text.clone(), to_text, &png, false, true).unwrap(),
            text
        );
        // Binary payload, text Accept: encoded; binary Accept: unchanged.
        assert_eq!(
            convert_response(raw.clone(), None, &png, true, false).unwrap(),
            "/wA="
        );
        assert_eq!(
            convert_response(raw.clone(), None, &png, true, true).unwrap(),
            raw
        );
        assert_eq!(
            convert_response(raw.clone(), binary, &png, true, false).unwrap(),
            raw
        );
        assert_eq!(
            convert_response(raw, to_text, &png, true, true).unwrap(),
            "/wA="
        );
    }
}
