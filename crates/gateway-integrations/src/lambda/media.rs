//! Deciding whether a Lambda proxy payload travels as text or as base64.
//!
//! REST APIs decide by the API's binary media types: a request body whose
//! `Content-Type` is listed travels base64-encoded, and a base64 response body is
//! decoded only when the response's `Content-Type` or the first media type of the
//! request's `Accept` is listed. HTTP APIs have no such list; their events carry a
//! body as text only when its media type is textual (see [`is_textual`]).

use crate::response::media_type;

pub(crate) use crate::content::BinaryMediaTypes;

/// Whether an HTTP API passes a body of this media type to Lambda as text:
/// `text/*`, `application/json`, `application/javascript`, `application/xml`, and
/// `application/*+json` / `application/*+xml`. Everything else, including a body
/// without a `Content-Type` and `application/x-www-form-urlencoded`, is
/// base64-encoded.
pub(crate) fn is_textual(content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else {
        return false;
    };
    let media = media_type(content_type).to_ascii_lowercase();
    if media.starts_with("text/") {
        return media.len() > "text/".len();
    }
    let Some(subtype) = media.strip_prefix("application/") else {
        return false;
    };
    matches!(subtype, "json" | "javascript" | "xml")
        || (subtype.len() > 5 && (subtype.ends_with("+json") || subtype.ends_with("+xml")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_api_text_types() {
        for text in [
            "text/plain",
            "text/html; charset=utf-8",
            "application/json",
            "Application/JSON",
            "application/javascript",
            "application/xml",
            "application/vnd.api+json",
            "application/atom+xml",
        ] {
            assert!(is_textual(Some(text)), "{text}");
        }
        for binary in [
            "application/octet-stream",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "image/svg+xml",
            "image/png",
            "application/+json",
            "text/",
            "",
        ] {
            assert!(!is_textual(Some(binary)), "{binary}");
        }
        assert!(!is_textual(None));
    }
}
