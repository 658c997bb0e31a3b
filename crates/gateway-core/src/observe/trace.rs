//! `X-Amzn-Trace-Id`: kept when the client sends one, generated otherwise, and
//! forwarded to integrations.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use http::HeaderName;

use crate::context::hex8;

/// The `X-Amzn-Trace-Id` header.
pub const X_AMZN_TRACE_ID: HeaderName = HeaderName::from_static("x-amzn-trace-id");

/// A trace header value: `Root=1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx;Parent=...;Sampled=1`.
///
/// The value is kept as text, rendered once, because it is forwarded to backends
/// and returned to clients as it is; its fields are read on demand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceId {
    value: String,
}

impl TraceId {
    /// A new trace with a fresh root id for `now`.
    #[must_use]
    pub fn generate(now: SystemTime) -> Self {
        let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        // `Root=1-` + 8 hex digits of time + `-` + 24 random hex digits.
        let mut value = *b"Root=1-00000000-000000000000000000000000";
        let random = fastrand::u64(..);
        let digits = [secs, u64::from(fastrand::u32(..)), random >> 32, random]
            .map(|word| hex8(word as u32)); // each word's low 32 bits
        for (at, digits) in [7, 16, 24, 32].into_iter().zip(digits) {
            value[at..at + 8].copy_from_slice(&digits);
        }
        Self {
            value: crate::context::ascii_string(&value),
        }
    }

    /// Parses a header value; `None` when it has no well-formed `Root`.
    #[must_use]
    pub fn parse(value: &str) -> Option<Self> {
        let mut root = None;
        for field in value.split(';') {
            let (key, val) = field.trim().split_once('=')?;
            if key == "Root" {
                root = Some(val);
            }
        }
        let mut parts = root?.split('-');
        let well_formed = parts.next() == Some("1")
            && parts
                .next()
                .is_some_and(|t| t.len() == 8 && t.bytes().all(|b| b.is_ascii_hexdigit()))
            && parts
                .next()
                .is_some_and(|r| r.len() == 24 && r.bytes().all(|b| b.is_ascii_hexdigit()))
            && parts.next().is_none();
        well_formed.then(|| Self {
            value: value.trim().to_owned(),
        })
    }

    /// The request's trace: the client's when well formed, else a new one.
    #[must_use]
    pub fn from_headers(headers: &http::HeaderMap, now: SystemTime) -> Self {
        headers
            .get(X_AMZN_TRACE_ID)
            .and_then(|v| v.to_str().ok())
            .and_then(Self::parse)
            .unwrap_or_else(|| Self::generate(now))
    }

    /// The header value.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.value
    }

    fn field(&self, name: &str) -> Option<&str> {
        self.value.split(';').find_map(|f| {
            let (k, v) = f.trim().split_once('=')?;
            (k == name).then_some(v)
        })
    }

    /// The root trace id.
    #[must_use]
    pub fn root(&self) -> &str {
        self.field("Root").unwrap_or("")
    }

    /// The parent segment id.
    #[must_use]
    pub fn parent(&self) -> Option<&str> {
        self.field("Parent")
    }

    /// The sampling decision.
    #[must_use]
    pub fn sampled(&self) -> Option<&str> {
        self.field("Sampled")
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_back() {
        let trace = TraceId::generate(SystemTime::now());
        let text = trace.to_string();
        assert_eq!(TraceId::parse(&text).unwrap(), trace);
    }

    #[test]
    fn client_header_is_kept_with_its_fields() {
        let value = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a:1";
        let trace = TraceId::parse(value).unwrap();
        assert_eq!(trace.parent(), Some("53995c3f42cd8ad8"));
        assert_eq!(trace.sampled(), Some("1"));
        assert_eq!(trace.root(), "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(trace.to_string(), value);
    }

    #[test]
    fn malformed_headers_are_replaced() {
        assert!(TraceId::parse("Root=abc").is_none());
        assert!(TraceId::parse("garbage").is_none());
        let mut headers = http::HeaderMap::new();
        headers.insert(X_AMZN_TRACE_ID, "Root=1-zz".parse().unwrap());
        let trace = TraceId::from_headers(&headers, SystemTime::now());
        assert!(trace.root().starts_with("1-"));
        assert_eq!(trace.root().len(), 35);
    }
}
