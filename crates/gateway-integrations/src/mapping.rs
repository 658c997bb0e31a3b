//! Parameter mapping expressions (`requestParameters`, `responseParameters`), parsed
//! once at compile time and resolved per request.
//!
//! A mapping has a target (`integration.request.header.X`, `method.response.header.X`)
//! and a source expression: a quoted static value (`'text'`),
//! `method.request.{path,querystring,multivaluequerystring,header,multivalueheader}.NAME`,
//! `stageVariables.NAME`, `context.NAME`, and on the response side
//! `integration.response.{header,multivalueheader}.NAME` and
//! `integration.response.body[.JSONPath]`; integrations that buffer the request body
//! also read `method.request.body[.JSONPath]`. Stage variables are final when an
//! integration is compiled, so they are resolved here into static values. A source
//! with no value (an absent header, an undefined stage variable) leaves its target
//! unset, as on AWS.

use std::borrow::Cow;
use std::sync::OnceLock;

use gateway_core::context::{RequestContext, query_pairs};
use gateway_core::error::ParamSource;
use gateway_core::router::PathParams;
use gateway_core::stage::StageVariables;
use gateway_mapping_vtl::jsonpath::JsonPath;
use http::{HeaderMap, HeaderName};

/// Where a mapped value comes from, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// A quoted static value, or a stage variable resolved at compile time.
    Static(String),
    /// A stage variable the stage does not define: never has a value.
    Absent,
    /// `method.request.header.NAME`: the first value.
    Header(HeaderName),
    /// `method.request.multivalueheader.NAME`: all values, comma-separated.
    MultiHeader(HeaderName),
    /// `method.request.querystring.NAME`: the first value, decoded.
    QueryString(String),
    /// `method.request.multivaluequerystring.NAME`: all values, comma-separated.
    MultiQueryString(String),
    /// `method.request.path.NAME`.
    Path(String),
    /// `context.NAME`.
    Context(String),
    /// `integration.response.header.NAME`: the first value.
    IntegrationHeader(HeaderName),
    /// `integration.response.multivalueheader.NAME`: all values, comma-separated.
    IntegrationMultiHeader(HeaderName),
    /// `integration.response.body` or `integration.response.body.JSONPath`. Integrations
    /// that do not buffer the backend's body (MOCK has none) resolve it to nothing.
    IntegrationBody(Option<BodyPath>),
    /// `method.request.body` or `method.request.body.JSONPath`, for integrations that
    /// buffer the request body.
    RequestBody(Option<BodyPath>),
}

/// A compiled JSONPath into a payload, compared by its text.
#[derive(Debug, Clone)]
pub(crate) struct BodyPath(JsonPath);

impl PartialEq for BodyPath {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Eq for BodyPath {}

impl BodyPath {
    fn compile(expr: &str, path: &str) -> Result<Self, String> {
        JsonPath::compile(&format!("$.{path}"))
            .map(Self)
            .map_err(|e| format!("`{expr}`: {e}"))
    }
}

/// A buffered payload whose JSON is parsed on first use.
#[derive(Debug)]
pub(crate) struct Payload<'a> {
    bytes: &'a [u8],
    json: OnceLock<Option<serde_json::Value>>,
}

impl<'a> Payload<'a> {
    /// A payload over `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            json: OnceLock::new(),
        }
    }

    /// The whole payload as text.
    fn text(&self) -> Cow<'a, str> {
        String::from_utf8_lossy(self.bytes)
    }

    /// The value `path` selects: a string as itself, anything else as JSON text.
    /// Nothing when the payload is not JSON or the path selects nothing.
    fn select(&self, path: &BodyPath) -> Option<Cow<'a, str>> {
        let document = self
            .json
            .get_or_init(|| serde_json::from_slice(self.bytes).ok())
            .as_ref()?;
        match path.0.select(document).into_json()? {
            serde_json::Value::String(text) => Some(Cow::Owned(text)),
            serde_json::Value::Null => None,
            other => Some(Cow::Owned(other.to_string())),
        }
    }

    fn resolve(&self, path: Option<&BodyPath>) -> Option<Cow<'a, str>> {
        match path {
            None => Some(self.text()),
            Some(path) => self.select(path),
        }
    }
}

/// The integration response values a response mapping may read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IntegrationValues<'a> {
    /// The backend response's headers.
    pub(crate) headers: &'a HeaderMap,
    /// The backend response's body, when the integration buffered it.
    pub(crate) body: Option<&'a Payload<'a>>,
}

/// Which side of the integration a mapping is read on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// `requestParameters` of an integration that streams the request body: method
    /// request values except the body.
    Request,
    /// `requestParameters` of an integration that buffers the request body: method
    /// request values including `method.request.body`.
    BufferedRequest,
    /// `responseParameters`: method request and integration response values.
    Response,
}

/// The request values a mapping may read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestValues<'a> {
    /// The method request's headers.
    pub(crate) headers: &'a HeaderMap,
    /// The raw query string.
    pub(crate) query: Option<&'a str>,
    /// The matched path parameters.
    pub(crate) path: Option<&'a PathParams>,
    /// The request context.
    pub(crate) context: Option<&'a RequestContext>,
    /// The request body, when the integration buffered it.
    pub(crate) body: Option<&'a Payload<'a>>,
}

impl<'a> RequestValues<'a> {
    /// The values of a request's head, reading `PathParams` and `RequestContext` from
    /// its extensions.
    pub(crate) fn from_parts(parts: &'a http::request::Parts) -> Self {
        Self {
            headers: &parts.headers,
            query: parts.uri.query(),
            path: parts.extensions.get::<PathParams>(),
            context: parts.extensions.get::<RequestContext>(),
            body: None,
        }
    }

    /// The same values with the buffered request body.
    pub(crate) fn with_body(self, body: &'a Payload<'a>) -> Self {
        Self {
            body: Some(body),
            ..self
        }
    }
}

impl Source {
    /// Parses a source expression. Stage variables are resolved against `variables`.
    pub(crate) fn parse(
        expr: &str,
        variables: &StageVariables,
        side: Side,
    ) -> Result<Self, String> {
        let expr = expr.trim();
        if let Some(rest) = expr.strip_prefix("integration.response.") {
            if side != Side::Response {
                return Err(format!(
                    "`{expr}` reads the integration response, which a request mapping cannot"
                ));
            }
            if let Some(name) = rest.strip_prefix("header.") {
                return header_name(name).map(Self::IntegrationHeader);
            }
            if let Some(name) = rest.strip_prefix("multivalueheader.") {
                return header_name(name).map(Self::IntegrationMultiHeader);
            }
            if rest == "body" {
                return Ok(Self::IntegrationBody(None));
            }
            if let Some(path) = rest.strip_prefix("body.") {
                return BodyPath::compile(expr, path).map(|p| Self::IntegrationBody(Some(p)));
            }
            return Err(format!(
                "`{expr}` is not a valid mapping expression: expected \
                 integration.response.header|multivalueheader.NAME or integration.response.body"
            ));
        }
        if side == Side::BufferedRequest {
            if expr == "method.request.body" {
                return Ok(Self::RequestBody(None));
            }
            if let Some(path) = expr.strip_prefix("method.request.body.") {
                return BodyPath::compile(expr, path).map(|p| Self::RequestBody(Some(p)));
            }
        }
        if expr == "method.request.body" || expr.starts_with("method.request.body.") {
            return Err(format!(
                "`{expr}`: mapping the request body needs it buffered, which this integration \
                 type does not do"
            ));
        }
        if let Some(name) = expr.strip_prefix("method.request.multivalueheader.") {
            return header_name(name).map(Self::MultiHeader);
        }
        if let Some(name) = expr.strip_prefix("method.request.multivaluequerystring.") {
            return non_empty(name).map(|n| Self::MultiQueryString(n.to_owned()));
        }
        Ok(match ParamSource::parse(expr)? {
            ParamSource::Static(value) => Self::Static(value),
            ParamSource::Header(name) => Self::Header(header_name(&name)?),
            ParamSource::QueryString(name) => Self::QueryString(name),
            ParamSource::Path(name) => Self::Path(name),
            ParamSource::StageVariable(name) => match variables.get(&name) {
                Some(value) => Self::Static(value.to_owned()),
                None => Self::Absent,
            },
            ParamSource::Context(name) => Self::Context(name),
        })
    }

    /// The value for one request; `integration` holds the backend's response when
    /// there is one.
    pub(crate) fn resolve<'v>(
        &'v self,
        request: &RequestValues<'v>,
        integration: Option<&IntegrationValues<'v>>,
    ) -> Option<Cow<'v, str>> {
        match self {
            Self::Static(value) => Some(Cow::Borrowed(value)),
            Self::Absent => None,
            Self::IntegrationBody(path) => integration?.body?.resolve(path.as_ref()),
            Self::RequestBody(path) => request.body?.resolve(path.as_ref()),
            Self::Header(name) => first_header(request.headers, name),
            Self::MultiHeader(name) => joined_header(request.headers, name),
            Self::QueryString(name) => query_pairs(request.query?)
                .find(|(k, _)| k == name)
                .map(|(_, v)| Cow::Owned(v)),
            Self::MultiQueryString(name) => {
                let values: Vec<String> = query_pairs(request.query?)
                    .filter(|(k, _)| k == name)
                    .map(|(_, v)| v)
                    .collect();
                (!values.is_empty()).then(|| Cow::Owned(values.join(",")))
            }
            Self::Path(name) => request.path?.get(name).map(Cow::Borrowed),
            Self::Context(name) => request.context?.variable(name),
            Self::IntegrationHeader(name) => first_header(integration?.headers, name),
            Self::IntegrationMultiHeader(name) => joined_header(integration?.headers, name),
        }
    }
}

fn first_header<'v>(headers: &'v HeaderMap, name: &HeaderName) -> Option<Cow<'v, str>> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(Cow::Borrowed)
}

fn joined_header<'v>(headers: &'v HeaderMap, name: &HeaderName) -> Option<Cow<'v, str>> {
    let values: Vec<&str> = headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    match values.as_slice() {
        [] => None,
        [one] => Some(Cow::Borrowed(one)),
        many => Some(Cow::Owned(many.join(","))),
    }
}

fn non_empty(name: &str) -> Result<&str, String> {
    if name.is_empty() {
        Err("the parameter name is empty".to_owned())
    } else {
        Ok(name)
    }
}

/// Parses a header name as a mapping names it (any case).
pub(crate) fn header_name(name: &str) -> Result<HeaderName, String> {
    HeaderName::from_bytes(non_empty(name)?.as_bytes())
        .map_err(|_| format!("`{name}` is not a valid header name"))
}

/// The target of an `integration.request.*` mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RequestTarget {
    /// `integration.request.path.NAME`.
    Path(String),
    /// `integration.request.querystring.NAME`.
    QueryString(String),
    /// `integration.request.header.NAME`.
    Header(HeaderName),
}

impl RequestTarget {
    /// Parses a `requestParameters` key.
    pub(crate) fn parse(key: &str) -> Result<Self, String> {
        if let Some(name) = key.strip_prefix("integration.request.path.") {
            return non_empty(name).map(|n| Self::Path(n.to_owned()));
        }
        if let Some(name) = key.strip_prefix("integration.request.querystring.") {
            return non_empty(name).map(|n| Self::QueryString(n.to_owned()));
        }
        if let Some(name) = key.strip_prefix("integration.request.header.") {
            return header_name(name).map(Self::Header);
        }
        Err(format!(
            "`{key}` is not a supported target: expected \
             integration.request.path|querystring|header.NAME"
        ))
    }
}

/// An integration's `requestParameters`, compiled and sorted by target.
#[derive(Debug, Default)]
pub(crate) struct RequestMappings {
    /// `integration.request.path.NAME` mappings.
    pub(crate) path: Vec<(String, Source)>,
    /// `integration.request.querystring.NAME` mappings.
    pub(crate) query: Vec<(String, Source)>,
    /// `integration.request.header.NAME` mappings.
    pub(crate) headers: Vec<(HeaderName, Source)>,
}

impl RequestMappings {
    /// Compiles `requestParameters`, naming the failing key.
    pub(crate) fn compile(
        parameters: &std::collections::BTreeMap<String, String>,
        variables: &StageVariables,
        side: Side,
    ) -> Result<Self, crate::response::FieldError> {
        let mut mappings = Self::default();
        for (key, expr) in parameters {
            let fail = |reason| crate::response::FieldError {
                field: format!("requestParameters.{key}"),
                reason,
            };
            let target = RequestTarget::parse(key).map_err(fail)?;
            let source = Source::parse(expr, variables, side).map_err(fail)?;
            match target {
                RequestTarget::Path(name) => mappings.path.push((name, source)),
                RequestTarget::QueryString(name) => mappings.query.push((name, source)),
                RequestTarget::Header(name) => mappings.headers.push((name, source)),
            }
        }
        Ok(mappings)
    }
}

/// Parses a `responseParameters` key: `method.response.header.NAME`.
pub(crate) fn response_target(key: &str) -> Result<HeaderName, String> {
    key.strip_prefix("method.response.header.")
        .ok_or_else(|| {
            format!("`{key}` is not a valid target: expected method.response.header.NAME")
        })
        .and_then(header_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> StageVariables {
        let mut v = StageVariables::new();
        v.insert("host", "example.internal").unwrap();
        v
    }

    #[test]
    fn parses_every_source_kind() {
        let v = vars();
        let parse = |e: &str| Source::parse(e, &v, Side::Response).unwrap();
        assert_eq!(parse("'a b'"), Source::Static("a b".into()));
        assert_eq!(
            parse("stageVariables.host"),
            Source::Static("example.internal".into())
        );
        assert_eq!(parse("stageVariables.nope"), Source::Absent);
        assert_eq!(
            parse("method.request.header.X-Id"),
            Source::Header(HeaderName::from_static("x-id"))
        );
        assert_eq!(
            parse("method.request.multivalueheader.X-Id"),
            Source::MultiHeader(HeaderName::from_static("x-id"))
        );
        assert_eq!(
            parse("method.request.querystring.q"),
            Source::QueryString("q".into())
        );
        assert_eq!(
            parse("method.request.multivaluequerystring.q"),
            Source::MultiQueryString("q".into())
        );
        assert_eq!(parse("method.request.path.id"), Source::Path("id".into()));
        assert_eq!(
            parse("context.requestId"),
            Source::Context("requestId".into())
        );
        assert_eq!(
            parse("integration.response.header.Etag"),
            Source::IntegrationHeader(HeaderName::from_static("etag"))
        );
        assert_eq!(
            parse("integration.response.body"),
            Source::IntegrationBody(None)
        );
        assert_eq!(
            parse("integration.response.body.a.b"),
            Source::IntegrationBody(Some(BodyPath::compile("", "a.b").unwrap()))
        );
        assert_eq!(
            Source::parse("method.request.body.x", &v, Side::BufferedRequest).unwrap(),
            Source::RequestBody(Some(BodyPath::compile("", "x").unwrap()))
        );
        assert!(Source::parse("integration.response.body.a[", &v, Side::Response).is_err());
    }

    #[test]
    fn refuses_what_a_side_cannot_read() {
        let v = vars();
        assert!(Source::parse("integration.response.header.X", &v, Side::Request).is_err());
        assert!(Source::parse("method.request.body", &v, Side::Request).is_err());
        assert!(Source::parse("method.request.body.a", &v, Side::Response).is_err());
        assert!(Source::parse("method.request.header.", &v, Side::Request).is_err());
        assert!(Source::parse("method.request.header.bad name", &v, Side::Request).is_err());
        assert!(Source::parse("nonsense", &v, Side::Request).is_err());
    }

    #[test]
    fn resolves_request_values() {
        let v = vars();
        let mut headers = HeaderMap::new();
        headers.append("x-a", "1".parse().unwrap());
        headers.append("x-a", "2".parse().unwrap());
        let ctx = RequestContext {
            request_id: "rid".into(),
            ..RequestContext::default()
        };
        let request = RequestValues {
            headers: &headers,
            query: Some("q=1&q=two%20words&r="),
            path: None,
            context: Some(&ctx),
            body: None,
        };
        let get = |e: &str| {
            Source::parse(e, &v, Side::Request)
                .unwrap()
                .resolve(&request, None)
                .map(Cow::into_owned)
        };
        assert_eq!(get("method.request.header.X-A").as_deref(), Some("1"));
        assert_eq!(
            get("method.request.multivalueheader.x-a").as_deref(),
            Some("1,2")
        );
        assert_eq!(get("method.request.querystring.q").as_deref(), Some("1"));
        assert_eq!(
            get("method.request.multivaluequerystring.q").as_deref(),
            Some("1,two words")
        );
        assert_eq!(get("method.request.querystring.r").as_deref(), Some(""));
        assert_eq!(get("method.request.querystring.s"), None);
        assert_eq!(get("method.request.path.id"), None);
        assert_eq!(get("context.requestId").as_deref(), Some("rid"));
        assert_eq!(get("stageVariables.nope"), None);
    }

    #[test]
    fn parses_targets() {
        assert_eq!(
            RequestTarget::parse("integration.request.path.id").unwrap(),
            RequestTarget::Path("id".into())
        );
        assert_eq!(
            RequestTarget::parse("integration.request.header.X-Y").unwrap(),
            RequestTarget::Header(HeaderName::from_static("x-y"))
        );
        assert!(RequestTarget::parse("integration.request.body").is_err());
        assert_eq!(
            response_target("method.response.header.Access-Control-Allow-Origin").unwrap(),
            HeaderName::from_static("access-control-allow-origin")
        );
        assert!(response_target("method.response.body").is_err());
    }
}
