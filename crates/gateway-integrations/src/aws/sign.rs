//! Signature Version 4 for outgoing requests, with botocore's choices.
//!
//! [`sign_request`] signs a request in place with `aws-sigv4`, which does the
//! canonicalisation and the cryptography; this module decides what goes in, the way
//! botocore (the AWS CLI and boto3) does:
//!
//! - **Signed headers.** Every header on the request except `Authorization` and the
//!   ones botocore leaves out because proxies change them: `Connection`, `Expect`,
//!   `Keep-Alive`, `Proxy-Authenticate`, `Proxy-Authorization`, `TE`, `Trailer`,
//!   `Transfer-Encoding`, `Upgrade`, `User-Agent`, `X-Amzn-Trace-Id`. `Host` is set
//!   from the URI's authority when the request has none (without a default port), so
//!   the header sent is the header signed.
//! - **Added headers.** `X-Amz-Date`, `Authorization`, and `X-Amz-Security-Token` for
//!   temporary credentials (signed, as botocore signs it). Values of these already on
//!   the request are replaced, and an `X-Amz-Content-SHA256` the caller set is dropped
//!   (S3 gets the signer's own).
//! - **Payload.** The body's SHA-256 is always part of the signature. Only S3 (and its
//!   variants) also gets an `X-Amz-Content-SHA256` header, and only S3 has its path
//!   signed as sent; other services sign the path normalised and percent-encoded a
//!   second time, as botocore's `SigV4Auth` and `S3SigV4Auth` do.
//! - **Query string.** Rewritten in place into the canonical encoding (each key and
//!   value percent-encoded with only `A-Z a-z 0-9 - _ . ~` left as is, `+` read as a
//!   space) so the query sent is the one signed, whichever encoding the caller used.
//!
//! The signing time is an argument, so tests are deterministic.

use std::borrow::Cow;
use std::time::SystemTime;

use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use gateway_core::body::BoxError;
use http::header::{AUTHORIZATION, HOST};
use http::uri::{PathAndQuery, Scheme};
use http::{HeaderName, HeaderValue, Request, Uri};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use super::credentials::Credentials;

/// What SigV4 leaves unencoded: `A-Z a-z 0-9 - _ . ~`.
pub(crate) const AWS_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Headers botocore never signs (`SIGNED_HEADERS_BLACKLIST`), and `Authorization`.
const UNSIGNED_HEADERS: [&str; 12] = [
    "authorization",
    "connection",
    "expect",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "x-amzn-trace-id",
];

const X_AMZ_DATE: HeaderName = HeaderName::from_static("x-amz-date");
const X_AMZ_SECURITY_TOKEN: HeaderName = HeaderName::from_static("x-amz-security-token");
const X_AMZ_CONTENT_SHA256: HeaderName = HeaderName::from_static("x-amz-content-sha256");

/// A request that cannot be signed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The request has neither a `Host` header nor an authority in its URI.
    #[error("the request has no Host header and its URI no authority")]
    NoHost,
    /// A header value that is not visible ASCII cannot be canonicalised.
    #[error("header `{0}` has a value that cannot be signed (not visible ASCII)")]
    InvalidHeader(String),
    /// The signer refused the request or the credentials.
    #[error("cannot sign the request: {0}")]
    Signing(#[source] BoxError),
}

/// Signs `request` for `service` in `region` at `time`, adding `Authorization`,
/// `X-Amz-Date`, and `X-Amz-Security-Token` when the credentials have a session token
/// (and `X-Amz-Content-SHA256` for S3). `body` is the request's body; the request's own
/// body value is not looked at.
///
/// # Errors
///
/// When the request has no host, a header value is not ASCII, or the signer refuses.
pub fn sign_request<B>(
    request: &mut Request<B>,
    body: &[u8],
    credentials: &Credentials,
    service: &str,
    region: &str,
    time: SystemTime,
) -> Result<(), SignError> {
    let headers = request.headers_mut();
    for name in [
        AUTHORIZATION,
        X_AMZ_DATE,
        X_AMZ_SECURITY_TOKEN,
        X_AMZ_CONTENT_SHA256,
    ] {
        headers.remove(name);
    }
    if !request.headers().contains_key(HOST) {
        let host = host_from_uri(request.uri()).ok_or(SignError::NoHost)?;
        request.headers_mut().insert(HOST, host);
    }
    canonicalize_query(request.uri_mut());

    let mut header_pairs = Vec::with_capacity(request.headers().len());
    for (name, value) in request.headers() {
        let value = value
            .to_str()
            .map_err(|_| SignError::InvalidHeader(name.as_str().to_owned()))?;
        header_pairs.push((name.as_str(), value));
    }
    let uri = request.uri().to_string();
    let signable = SignableRequest::new(
        request.method().as_str(),
        Cow::Owned(uri),
        header_pairs.into_iter(),
        SignableBody::Bytes(body),
    )
    .map_err(|e| SignError::Signing(e.into()))?;

    let identity = aws_credential_types::Credentials::new(
        credentials.access_key_id.clone(),
        credentials.secret_access_key.clone(),
        credentials.session_token.clone(),
        None,
        "gateway-integrations",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(settings_for(service))
        .build()
        .map_err(|e| SignError::Signing(e.into()))?
        .into();
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| SignError::Signing(e.into()))?
        .into_parts();
    let (new_headers, _params) = instructions.into_parts();
    for header in new_headers {
        let mut value = HeaderValue::from_str(header.value())
            .map_err(|_| SignError::InvalidHeader(header.name().to_owned()))?;
        value.set_sensitive(header.sensitive());
        request
            .headers_mut()
            .insert(HeaderName::from_static(header.name()), value);
    }
    Ok(())
}

/// The signing settings botocore uses for `service`.
fn settings_for(service: &str) -> SigningSettings {
    let mut settings = SigningSettings::default();
    settings.excluded_headers = Some(UNSIGNED_HEADERS.iter().map(|h| Cow::Borrowed(*h)).collect());
    if is_s3(service) {
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    }
    settings
}

fn is_s3(service: &str) -> bool {
    matches!(
        service,
        "s3" | "s3-object-lambda" | "s3-outposts" | "s3express"
    )
}

/// The `Host` header for a URI's authority, without the scheme's default port.
fn host_from_uri(uri: &Uri) -> Option<HeaderValue> {
    let authority = uri.authority()?;
    let default_port = match uri.scheme() {
        Some(s) if *s == Scheme::HTTPS => 443,
        _ => 80,
    };
    let host = if authority.port_u16() == Some(default_port) {
        authority.host()
    } else {
        authority.as_str()
    };
    HeaderValue::from_str(host).ok()
}

/// Rewrites the URI's query string in SigV4's canonical encoding, keeping the order.
fn canonicalize_query(uri: &mut Uri) {
    let Some(query) = uri.query() else {
        return;
    };
    let canonical = canonical_query(query);
    if canonical == query {
        return;
    }
    let path = uri.path();
    let path_and_query = if canonical.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{canonical}")
    };
    // The canonical form is plain ASCII, so these conversions cannot fail.
    let Ok(path_and_query) = PathAndQuery::try_from(path_and_query) else {
        return;
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(path_and_query);
    if let Ok(rewritten) = Uri::from_parts(parts) {
        *uri = rewritten;
    }
}

/// A query string re-encoded pair by pair: `+` is a space, `%XX` is decoded, and
/// everything but `A-Z a-z 0-9 - _ . ~` is encoded again. Empty pairs are dropped and
/// a key without `=` gets one.
pub(crate) fn canonical_query(query: &str) -> String {
    let mut out = String::with_capacity(query.len());
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&encode_component(&decode_component(key)));
        out.push('=');
        out.push_str(&encode_component(&decode_component(value)));
    }
    out
}

fn decode_component(s: &str) -> String {
    let spaced = s.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

/// Percent-encodes with only SigV4's unreserved characters left as they are.
pub(crate) fn encode_component(s: &str) -> String {
    utf8_percent_encode(s, AWS_UNRESERVED).to_string()
}

#[cfg(test)]
mod tests;
