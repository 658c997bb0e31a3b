//! Request size limits, on by default at AWS's values.
//!
//! API Gateway refuses a payload over 10 MB and a request whose line and header values
//! add up to more than 10,240 bytes. Both answer `REQUEST_TOO_LARGE` (413
//! `{"message":"Request Too Long"}`); so does a URL longer than [`MAX_URL_BYTES`]
//! (AWS documents no separate URL limit for REST APIs beyond the header budget; this
//! gateway applies 8,192 bytes, see `docs/compatibility.md`).

use http::request::Parts;

use crate::error::{GatewayError, GatewayResponseType};

/// AWS's payload limit: 10 MB.
pub const MAX_PAYLOAD_BYTES: usize = 10 * 1024 * 1024;
/// AWS's limit on the request line plus header values.
pub const MAX_HEADER_BYTES: usize = 10_240;
/// The URL length limit this gateway applies.
pub const MAX_URL_BYTES: usize = 8_192;

/// Size limits applied to every request before routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    /// Largest body accepted, in bytes.
    pub max_payload_bytes: usize,
    /// Largest request line plus header values, in bytes.
    pub max_header_bytes: usize,
    /// Longest URL (path and query), in bytes.
    pub max_url_bytes: usize,
}

impl Default for RequestLimits {
    fn default() -> Self {
        Self::aws()
    }
}

impl RequestLimits {
    /// AWS's limits.
    #[must_use]
    pub const fn aws() -> Self {
        Self {
            max_payload_bytes: MAX_PAYLOAD_BYTES,
            max_header_bytes: MAX_HEADER_BYTES,
            max_url_bytes: MAX_URL_BYTES,
        }
    }

    /// Checks the URL, headers and declared `Content-Length` of a request.
    pub fn check_head(&self, parts: &Parts) -> Result<(), GatewayError> {
        let too_large = || GatewayError::new(GatewayResponseType::RequestTooLarge);
        let url_len = parts.uri.path_and_query().map_or(0, |pq| pq.as_str().len());
        if url_len > self.max_url_bytes {
            return Err(too_large());
        }
        let line = parts.method.as_str().len() + url_len + 9;
        let headers: usize = parts.headers.values().map(|v| v.len()).sum();
        if line + headers > self.max_header_bytes {
            return Err(too_large());
        }
        let declared = parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > self.max_payload_bytes as u64) {
            return Err(too_large());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str, headers: &[(&str, String)]) -> Parts {
        let mut builder = http::Request::builder().uri(uri);
        for (k, v) in headers {
            builder = builder.header(*k, v);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn aws_limits_refuse_large_requests() {
        let limits = RequestLimits::aws();
        assert!(limits.check_head(&parts("/pets", &[])).is_ok());
        let big = "a".repeat(10_300);
        let err = limits
            .check_head(&parts("/pets", &[("x-big", big)]))
            .unwrap_err();
        assert_eq!(err.status(), http::StatusCode::PAYLOAD_TOO_LARGE);
        let long = format!("/{}", "p".repeat(9000));
        assert!(limits.check_head(&parts(&long, &[])).is_err());
        let len = (MAX_PAYLOAD_BYTES + 1).to_string();
        assert!(
            limits
                .check_head(&parts("/", &[("content-length", len)]))
                .is_err()
        );
        let relaxed = RequestLimits {
            max_header_bytes: 1 << 20,
            ..limits
        };
        assert!(
            relaxed
                .check_head(&parts("/pets", &[("x-big", "a".repeat(10_300))]))
                .is_ok()
        );
    }
}
