//! Service endpoints: where AWS requests go.
//!
//! An endpoint is an `https://` (AWS itself) or `http://` (a local emulator) URL
//! with an optional base path and nothing else (no query, no user information).

use http::HeaderValue;
use http::uri::{Authority, Scheme, Uri};

use crate::http_proxy::pool::Security;

/// An endpoint URL that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// A URL that is not `http[s]://host[:port][/path]`.
    #[error("endpoint `{url}` is invalid: {reason}")]
    Invalid {
        /// The endpoint as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// A parsed endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// `https`.
    tls: bool,
    authority: Authority,
    /// The `Host` header: the authority without a default port.
    host: HeaderValue,
    /// The base path without a trailing `/`: empty, or `/prefix`.
    base_path: String,
}

impl Endpoint {
    /// Parses an endpoint URL.
    pub(crate) fn parse(url: &str) -> Result<Self, EndpointError> {
        let invalid = |reason: &str| EndpointError::Invalid {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let uri: Uri = url
            .trim()
            .parse()
            .map_err(|e: http::uri::InvalidUri| invalid(&e.to_string()))?;
        let tls = match uri.scheme() {
            Some(scheme) if *scheme == Scheme::HTTP => false,
            Some(scheme) if *scheme == Scheme::HTTPS => true,
            Some(_) => return Err(invalid("the scheme must be https or http")),
            None => return Err(invalid("the URL must start with https:// or http://")),
        };
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| invalid("the URL has no host"))?;
        if authority.as_str().contains('@') {
            return Err(invalid("user information is not allowed in an endpoint"));
        }
        if authority.host().is_empty() {
            return Err(invalid("the URL has no host"));
        }
        if uri.query().is_some() {
            return Err(invalid("an endpoint cannot have a query string"));
        }
        // Clients leave the default port out of `Host` (and so out of the signature).
        let default_port = if tls { 443 } else { 80 };
        let host = match authority.port_u16() {
            Some(port) if port == default_port => authority.host().to_owned(),
            _ => authority.as_str().to_owned(),
        };
        let host = HeaderValue::from_str(&host).map_err(|_| invalid("invalid host"))?;
        let base_path = uri.path().trim_end_matches('/').to_owned();
        Ok(Self {
            tls,
            authority,
            host,
            base_path,
        })
    }

    /// How the pool reaches the endpoint: TLS, fully checked, for `https`.
    pub(crate) fn security(&self) -> Security {
        if self.tls {
            Security::TLS
        } else {
            Security::Plain
        }
    }

    /// The authority the pool connects to.
    pub(crate) fn authority(&self) -> &Authority {
        &self.authority
    }

    /// The value of the `Host` header.
    pub(crate) fn host(&self) -> &HeaderValue {
        &self.host
    }

    /// The base path, empty or starting with `/` and without a trailing `/`.
    pub(crate) fn base_path(&self) -> &str {
        &self.base_path
    }

    /// The endpoint as a URL, for messages.
    pub(crate) fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}{}", self.authority, self.base_path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_http_endpoints() {
        let endpoint = Endpoint::parse("http://127.0.0.1:3001").unwrap();
        assert_eq!(endpoint.authority().as_str(), "127.0.0.1:3001");
        assert_eq!(endpoint.host(), "127.0.0.1:3001");
        assert_eq!(endpoint.base_path(), "");
        let endpoint = Endpoint::parse("http://localhost:80/prefix/").unwrap();
        assert_eq!(endpoint.host(), "localhost");
        assert_eq!(endpoint.base_path(), "/prefix");
        assert_eq!(endpoint.url(), "http://localhost:80/prefix");
    }

    #[test]
    fn parses_https_endpoints() {
        let endpoint = Endpoint::parse("https://lambda.us-east-1.amazonaws.com").unwrap();
        assert_eq!(endpoint.security(), Security::TLS);
        assert_eq!(endpoint.host(), "lambda.us-east-1.amazonaws.com");
        let endpoint = Endpoint::parse("https://localhost:443/").unwrap();
        assert_eq!(endpoint.host(), "localhost");
        assert_eq!(endpoint.url(), "https://localhost:443");
        let endpoint = Endpoint::parse("https://localhost:80").unwrap();
        assert_eq!(endpoint.host(), "localhost:80");
        assert_eq!(
            Endpoint::parse("http://x").unwrap().security(),
            Security::Plain
        );
    }

    #[test]
    fn refuses_junk() {
        for bad in [
            "ftp://x",
            "localhost:3000",
            "/path",
            "http://u:p@host",
            "http://host/?q=1",
            "",
        ] {
            assert!(
                matches!(Endpoint::parse(bad), Err(EndpointError::Invalid { .. })),
                "{bad}"
            );
        }
    }
}
