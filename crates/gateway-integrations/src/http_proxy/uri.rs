//! Backend URI templates: parsed once, filled per request.
//!
//! An integration URI such as `http://backend:8080/pets/{petId}/files/{proxy+}?v=1` is
//! split at compile time into its authority, a path of literal text and placeholders,
//! and its own query string. Per request, placeholders are filled with
//! percent-encoded values (`/` is encoded except in a greedy `{name+}` value, so a
//! greedy path keeps its segments) and the query strings are merged.

use std::borrow::Cow;
use std::str::FromStr;

use http::uri::{Authority, PathAndQuery};
use http::{HeaderValue, Uri};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

/// Bytes encoded in one path segment: everything RFC 3986 does not allow in a
/// segment, plus `%` (values are already decoded) and `/`.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'\\')
    .add(b'^')
    .add(b'[')
    .add(b']')
    .add(b'/');

/// A greedy value keeps its `/`.
const GREEDY: &AsciiSet = &SEGMENT.remove(b'/');

/// Bytes encoded in a query name or value.
const QUERY_COMPONENT: &AsciiSet = &SEGMENT.add(b'&').add(b'=').add(b'+').add(b';');

/// Why an integration URI cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UriError {
    /// The reason.
    Invalid(String),
}

/// A parsed backend URI.
#[derive(Debug, Clone)]
pub(crate) struct UriTemplate {
    /// `https`.
    tls: bool,
    authority: Authority,
    host: HeaderValue,
    path: Vec<PathPart>,
    query: Option<String>,
    /// The whole URI when the path has no placeholders, for requests that add no
    /// query: built once instead of on every request.
    fixed: Option<Uri>,
}

/// A piece of the path: literal text or a placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PathPart {
    /// Literal text, copied as written.
    Literal(String),
    /// `{name}` or, when `greedy`, `{name+}`.
    Param {
        /// The placeholder's name.
        name: String,
        /// Whether `/` is kept in the value.
        greedy: bool,
    },
}

impl UriTemplate {
    /// Parses an integration URI (stage variables already substituted).
    pub(crate) fn parse(uri: &str) -> Result<Self, UriError> {
        let invalid = |reason: &str| UriError::Invalid(reason.to_owned());
        let (scheme, rest) = uri
            .split_once("://")
            .ok_or_else(|| invalid("the URI must start with http:// or https://"))?;
        let tls = scheme.eq_ignore_ascii_case("https");
        if !tls && !scheme.eq_ignore_ascii_case("http") {
            return Err(invalid("the scheme must be http or https"));
        }
        if rest.contains('#') {
            return Err(invalid("a fragment is never sent to a backend"));
        }
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, rest) = rest.split_at(authority_end);
        if authority.contains(['{', '}']) {
            return Err(invalid("path parameters may only appear in the path"));
        }
        if authority.contains('@') {
            return Err(invalid("credentials in the URI are not supported"));
        }
        let authority = Authority::from_str(authority)
            .map_err(|e| UriError::Invalid(format!("invalid host `{authority}`: {e}")))?;
        if authority.host().is_empty() {
            return Err(invalid("the URI has no host"));
        }
        let host = HeaderValue::from_str(authority.as_str())
            .map_err(|_| invalid("the host is not a valid Host header"))?;
        let (path, query) = match rest.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (rest, None),
        };
        if query.is_some_and(|q| q.contains(['{', '}'])) {
            return Err(invalid(
                "placeholders are not supported in the query string; map \
                 integration.request.querystring.NAME instead",
            ));
        }
        let path = parse_path(if path.is_empty() { "/" } else { path })?;
        let mut template = Self {
            tls,
            authority,
            host,
            path,
            query: query.filter(|q| !q.is_empty()).map(str::to_owned),
            fixed: None,
        };
        // Fill every placeholder with a harmless value to prove the literal text forms a
        // valid URI, so that a request can only fail on its own values.
        let filled = template
            .build(|_| Some(Cow::Borrowed("x")), None, &[])
            .map_err(|e| UriError::Invalid(e.to_string()))?;
        if template.params().next().is_none() {
            template.fixed = Some(filled);
        }
        Ok(template)
    }

    /// Whether the backend is `https`.
    pub(crate) fn is_tls(&self) -> bool {
        self.tls
    }

    /// The backend's authority (host and port).
    pub(crate) fn authority(&self) -> &Authority {
        &self.authority
    }

    /// The `Host` header for the backend: its authority as written.
    pub(crate) fn host(&self) -> &HeaderValue {
        &self.host
    }

    /// The names of the placeholders, with whether each is greedy.
    pub(crate) fn params(&self) -> impl Iterator<Item = (&str, bool)> {
        self.path.iter().filter_map(|p| match p {
            PathPart::Param { name, greedy } => Some((name.as_str(), *greedy)),
            PathPart::Literal(_) => None,
        })
    }

    /// Keeps `/` in the values of placeholder `name`: it is filled from a greedy path
    /// parameter even though the URI writes it `{name}`, as AWS's `{proxy}` is.
    pub(crate) fn keep_slashes(&mut self, name: &str) {
        for part in &mut self.path {
            if let PathPart::Param { name: n, greedy } = part
                && n == name
            {
                *greedy = true;
            }
        }
    }

    /// Builds the backend URI. `param` gives each placeholder's (decoded) value by
    /// name, an absent value filling nothing; the client's raw query is appended to
    /// the integration URI's own, without the names `mapped` replaces, and `mapped`
    /// pairs are appended encoded.
    pub(crate) fn build<'v>(
        &self,
        param: impl Fn(&str) -> Option<Cow<'v, str>>,
        client_query: Option<&str>,
        mapped: &[(&str, Cow<'_, str>)],
    ) -> Result<Uri, http::Error> {
        if let Some(uri) = &self.fixed
            && client_query.is_none()
            && mapped.is_empty()
        {
            return Ok(uri.clone());
        }
        let mut path = String::with_capacity(64);
        for part in &self.path {
            match part {
                PathPart::Literal(text) => path.push_str(text),
                PathPart::Param { name, greedy } => {
                    if let Some(value) = param(name) {
                        let set = if *greedy { GREEDY } else { SEGMENT };
                        path.extend(utf8_percent_encode(&value, set));
                    }
                }
            }
        }
        if let Some(query) = merge_query(self.query.as_deref(), client_query, mapped) {
            path.push('?');
            path.push_str(&query);
        }
        let path_and_query = PathAndQuery::try_from(path)?;
        Uri::builder()
            .scheme(http::uri::Scheme::HTTP)
            .authority(self.authority.clone())
            .path_and_query(path_and_query)
            .build()
    }
}

fn parse_path(path: &str) -> Result<Vec<PathPart>, UriError> {
    let mut parts = Vec::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let close = rest[open..]
            .find('}')
            .map(|c| open + c)
            .ok_or_else(|| UriError::Invalid("unclosed `{` in the path".to_owned()))?;
        if open > 0 {
            parts.push(PathPart::Literal(rest[..open].to_owned()));
        }
        let inner = &rest[open + 1..close];
        let (name, greedy) = match inner.strip_suffix('+') {
            Some(name) => (name, true),
            None => (inner, false),
        };
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !valid {
            return Err(UriError::Invalid(format!(
                "`{{{inner}}}` is not a valid path parameter"
            )));
        }
        parts.push(PathPart::Param {
            name: name.to_owned(),
            greedy,
        });
        rest = &rest[close + 1..];
    }
    if rest.contains('}') {
        return Err(UriError::Invalid("unmatched `}` in the path".to_owned()));
    }
    if !rest.is_empty() {
        parts.push(PathPart::Literal(rest.to_owned()));
    }
    Ok(parts)
}

/// Merges query strings: the integration URI's, then the client's (as sent, minus
/// pairs whose decoded name a mapping sets), then the mapped pairs, encoded.
pub(crate) fn merge_query(
    base: Option<&str>,
    client: Option<&str>,
    mapped: &[(&str, Cow<'_, str>)],
) -> Option<String> {
    let mut out = String::new();
    let mut push = |piece: &str| {
        if piece.is_empty() {
            return;
        }
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(piece);
    };
    if let Some(base) = base {
        push(base);
    }
    if let Some(client) = client {
        if mapped.is_empty() {
            push(client);
        } else {
            for pair in client.split('&') {
                let raw_name = pair.split_once('=').map_or(pair, |(k, _)| k);
                let name = percent_encoding::percent_decode_str(&raw_name.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned();
                if !mapped.iter().any(|(m, _)| *m == name) {
                    push(pair);
                }
            }
        }
    }
    for (name, value) in mapped {
        let pair = format!(
            "{}={}",
            utf8_percent_encode(name, QUERY_COMPONENT),
            utf8_percent_encode(value, QUERY_COMPONENT)
        );
        push(&pair);
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(template: &str, values: &[(&str, &str)], query: Option<&str>) -> String {
        UriTemplate::parse(template)
            .unwrap()
            .build(
                |name| {
                    values
                        .iter()
                        .find(|(k, _)| *k == name)
                        .map(|(_, v)| Cow::Borrowed(*v))
                },
                query,
                &[],
            )
            .unwrap()
            .to_string()
    }

    #[test]
    fn placeholders_are_percent_encoded() {
        assert_eq!(
            build("http://b:8080/pets/{id}", &[("id", "a b/c%d")], None),
            "http://b:8080/pets/a%20b%2Fc%25d"
        );
        assert_eq!(
            build("http://b/files/{proxy+}", &[("proxy", "x y/z/é")], None),
            "http://b/files/x%20y/z/%C3%A9"
        );
        assert_eq!(build("http://b/{missing}/x", &[], None), "http://b//x");
        assert_eq!(build("http://b", &[], None), "http://b/");
    }

    #[test]
    fn queries_are_merged() {
        assert_eq!(
            build("http://b/p?v=1", &[], Some("a=1&b=%20")),
            "http://b/p?v=1&a=1&b=%20"
        );
        assert_eq!(build("http://b/p?", &[], Some("a")), "http://b/p?a");
        let mapped = [("a", Cow::Borrowed("x&y")), ("c", Cow::Borrowed("1"))];
        assert_eq!(
            merge_query(Some("v=1"), Some("a=1&b=2&a=3"), &mapped).as_deref(),
            Some("v=1&b=2&a=x%26y&c=1")
        );
        assert_eq!(merge_query(None, None, &[]), None);
    }

    #[test]
    fn a_uri_without_placeholders_is_built_once_and_still_takes_queries() {
        let t = UriTemplate::parse("http://b:81/p/q?v=1").unwrap();
        assert!(t.fixed.is_some());
        let built = |client: Option<&str>, mapped: &[(&str, Cow<'_, str>)]| {
            t.build(|_| None, client, mapped).unwrap().to_string()
        };
        assert_eq!(built(None, &[]), "http://b:81/p/q?v=1");
        assert_eq!(built(Some("a=2"), &[]), "http://b:81/p/q?v=1&a=2");
        assert_eq!(
            built(None, &[("c", Cow::Borrowed("1"))]),
            "http://b:81/p/q?v=1&c=1"
        );
        assert!(UriTemplate::parse("http://b/{id}").unwrap().fixed.is_none());
    }

    #[test]
    fn invalid_uris_are_refused() {
        let tls = UriTemplate::parse("HTTPS://b:8443/x").unwrap();
        assert!(tls.is_tls());
        assert_eq!(tls.authority().as_str(), "b:8443");
        assert!(!UriTemplate::parse("http://b/x").unwrap().is_tls());
        for bad in [
            "ftp://b/x",
            "b/x",
            "http:///x",
            "http://{host}/x",
            "http://b/x?id={id}",
            "http://b/x#frag",
            "http://u:p@b/x",
            "http://b/{a b}",
            "http://b/{id",
            "http://b/x}",
            "http://b/a b",
        ] {
            assert!(UriTemplate::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn params_and_host_are_exposed() {
        let t = UriTemplate::parse("http://Backend:81/a/{id}/{proxy+}").unwrap();
        assert_eq!(
            t.params().collect::<Vec<_>>(),
            [("id", false), ("proxy", true)]
        );
        assert_eq!(t.host(), "Backend:81");
        let mut t = UriTemplate::parse("http://b/{proxy}").unwrap();
        t.keep_slashes("proxy");
        assert_eq!(t.params().collect::<Vec<_>>(), [("proxy", true)]);
    }
}
