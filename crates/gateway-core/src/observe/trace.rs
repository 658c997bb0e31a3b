//! `X-Amzn-Trace-Id`: kept when the client sends one, generated otherwise, and
//! forwarded to integrations.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use http::HeaderName;

/// The `X-Amzn-Trace-Id` header.
pub const X_AMZN_TRACE_ID: HeaderName = HeaderName::from_static("x-amzn-trace-id");

/// A parsed trace header: `Root=1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx;Parent=...;Sampled=1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceId {
    /// The root trace id.
    pub root: String,
    /// The parent segment id.
    pub parent: Option<String>,
    /// The sampling decision.
    pub sampled: Option<String>,
    /// Other `key=value` fields, kept in order.
    pub extra: Vec<(String, String)>,
}

impl TraceId {
    /// A new trace with a fresh root id for `now`.
    #[must_use]
    pub fn generate(now: SystemTime) -> Self {
        let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let random = format!("{:08x}{:016x}", fastrand::u32(..), fastrand::u64(..));
        Self {
            root: format!("1-{:08x}-{random}", secs & 0xffff_ffff),
            parent: None,
            sampled: None,
            extra: Vec::new(),
        }
    }

    /// Parses a header value; `None` when it has no well-formed `Root`.
    #[must_use]
    pub fn parse(value: &str) -> Option<Self> {
        let mut trace = Self {
            root: String::new(),
            parent: None,
            sampled: None,
            extra: Vec::new(),
        };
        for field in value.split(';') {
            let (key, val) = field.trim().split_once('=')?;
            match key {
                "Root" => trace.root = val.to_owned(),
                "Parent" => trace.parent = Some(val.to_owned()),
                "Sampled" => trace.sampled = Some(val.to_owned()),
                _ => trace.extra.push((key.to_owned(), val.to_owned())),
            }
        }
        let mut parts = trace.root.split('-');
        let well_formed = parts.next() == Some("1")
            && parts
                .next()
                .is_some_and(|t| t.len() == 8 && t.bytes().all(|b| b.is_ascii_hexdigit()))
            && parts
                .next()
                .is_some_and(|r| r.len() == 24 && r.bytes().all(|b| b.is_ascii_hexdigit()))
            && parts.next().is_none();
        well_formed.then_some(trace)
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
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Root={}", self.root)?;
        if let Some(p) = &self.parent {
            write!(f, ";Parent={p}")?;
        }
        if let Some(s) = &self.sampled {
            write!(f, ";Sampled={s}")?;
        }
        for (k, v) in &self.extra {
            write!(f, ";{k}={v}")?;
        }
        Ok(())
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
        assert_eq!(trace.parent.as_deref(), Some("53995c3f42cd8ad8"));
        assert_eq!(trace.to_string(), value);
    }

    #[test]
    fn malformed_headers_are_replaced() {
        assert!(TraceId::parse("Root=abc").is_none());
        assert!(TraceId::parse("garbage").is_none());
        let mut headers = http::HeaderMap::new();
        headers.insert(X_AMZN_TRACE_ID, "Root=1-zz".parse().unwrap());
        let trace = TraceId::from_headers(&headers, SystemTime::now());
        assert!(trace.root.starts_with("1-"));
        assert_eq!(trace.root.len(), 35);
    }
}
