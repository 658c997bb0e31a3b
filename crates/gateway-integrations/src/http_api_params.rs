//! HTTP APIs' own parameter mapping: `requestParameters` keyed
//! `append|overwrite|remove:header.NAME`, `append|overwrite|remove:querystring.NAME`
//! and `overwrite:path`, and `responseParameters` keyed by the backend's status code
//! (`"404"`), each holding `append|overwrite|remove:header.NAME` and
//! `overwrite:statuscode`.
//!
//! The same values name the parameters of HTTP APIs' AWS service integrations
//! (`"QueueUrl": "$stageVariables.queue"`): [`RequestValue`] compiles one value on
//! its own and [`RequestValues`] holds what a request offers it.
//!
//! # Values
//!
//! A value is static text, one expression (`$request.header.x-id`), or text mixing
//! `${...}` expressions (`${request.path.name}-${request.path.id}`). Expressions:
//!
//! | expression | value |
//! |---|---|
//! | `request.header.NAME` | every value of the header (any case), joined with commas |
//! | `request.querystring.NAME` | every value of the parameter (case-sensitive), decoded, joined with commas |
//! | `request.body` | the whole request body |
//! | `request.body.PATH` | what the JSONPath `$.PATH` selects in the first 100 KB of the body; a string as itself, anything else as JSON. Recursive descent (`..`) and filters (`?(...)`) are refused |
//! | `request.path` | the request path without the stage, as the client sent it |
//! | `request.path.NAME` | the route's path parameter `NAME` (refused when the route has none of that name) |
//! | `response.header.NAME` | response side: every value of the backend's header, joined with commas |
//! | `response.body`, `response.body.PATH` | response side: the backend's body, or what the JSONPath selects in it |
//! | `context.NAME` | a `$context` variable (letters, digits, `.` and `_`) |
//! | `stageVariables.NAME` | a stage variable, resolved when the route compiles |
//!
//! Request mappings cannot read the response, and response mappings cannot read the
//! request (other than `$context`).
//!
//! # Keys
//!
//! Header names are case-insensitive; AWS's reserved headers (`access-control-*`,
//! `apigw-*`, `Authorization`, `Connection`, `Content-Encoding`, `Content-Length`,
//! `Content-Location`, `Forwarded`, `Keep-Alive`, `Origin`, `Proxy-Authenticate`,
//! `Proxy-Authorization`, `TE`, `Trailers`, `Transfer-Encoding`, `Upgrade`,
//! `x-amz-*`, `x-amzn-*`, `X-Forwarded-For`, `X-Forwarded-Host`,
//! `X-Forwarded-Proto`, `Via`) cannot be a target: the route does not compile.
//! Response parameter keys must be status codes from 200 to 599.
//!
//! # Applying them
//!
//! Every value is read from the request as the client sent it (or the response as
//! the backend sent it), before any mapping changes it; then the mappings apply,
//! `remove` first, `overwrite` next, `append` last, so `remove:header.a` with
//! `append:header.a` sends a fresh `a`. `append` adds the value after the existing
//! ones (a header's values joined with a comma, a query parameter repeated);
//! `overwrite` replaces every value; `remove` drops them (its value is not read).
//! `overwrite:path` replaces the whole path sent to the backend.
//!
//! A request mapping whose expression finds nothing (an absent header, query
//! parameter or context variable, a body that is not JSON or lacks the path, an
//! undefined stage variable) answers `400 {"message":"Bad Request"}` without calling
//! the backend. A response mapping whose expression finds nothing is skipped. A
//! status code that is not a number from 200 to 599 fails the compile when static,
//! and answers 500 when an expression produced it.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::OnceLock;

use gateway_core::body::Body;
use gateway_core::context::{RequestContext, query_pairs};
use gateway_core::error::{GatewayError, GatewayResponseType};
use gateway_core::router::PathParams;
use gateway_core::stage::StageVariables;
use gateway_mapping_vtl::jsonpath::JsonPath;
use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode, Uri};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::response::FieldError;

/// How much of a body a JSONPath is applied to, as on AWS.
const BODY_SELECTION_LIMIT: usize = 100 * 1024;

/// Bytes encoded in a query name or value.
const QUERY_COMPONENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'+')
    .add(b';')
    .add(b'<')
    .add(b'=')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'\\')
    .add(b'^')
    .add(b'[')
    .add(b']');

/// Bytes encoded in a mapped path: what a path may not hold, keeping `/` and `%`
/// (a value such as `$request.path` is already encoded).
const PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
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
    .add(b']');

/// What a mapping does to its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Action {
    /// `remove:`: drops every value.
    Remove,
    /// `overwrite:`: replaces every value.
    Overwrite,
    /// `append:`: adds a value after the existing ones.
    Append,
}

impl Action {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "append" => Some(Self::Append),
            "overwrite" => Some(Self::Overwrite),
            "remove" => Some(Self::Remove),
            _ => None,
        }
    }
}

/// Whether AWS reserves a header from parameter mapping.
#[must_use]
pub(crate) fn is_reserved(name: &HeaderName) -> bool {
    let name = name.as_str();
    ["access-control-", "apigw-", "x-amz-", "x-amzn-"]
        .iter()
        .any(|prefix| name.starts_with(prefix))
        || matches!(
            name,
            "authorization"
                | "connection"
                | "content-encoding"
                | "content-length"
                | "content-location"
                | "forwarded"
                | "keep-alive"
                | "origin"
                | "proxy-authenticate"
                | "proxy-authorization"
                | "te"
                | "trailer"
                | "trailers"
                | "transfer-encoding"
                | "upgrade"
                | "x-forwarded-for"
                | "x-forwarded-host"
                | "x-forwarded-proto"
                | "via"
        )
}

/// Which side a value is read on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Request,
    Response,
}

/// One expression of a value.
#[derive(Debug, Clone)]
enum Source {
    /// A stage variable the stage does not define.
    Absent,
    RequestHeader(HeaderName),
    RequestQuery(String),
    RequestBody(Option<JsonPath>),
    RequestPath,
    RequestPathParam(String),
    ResponseHeader(HeaderName),
    ResponseBody(Option<JsonPath>),
    Context(String),
}

impl Source {
    fn reads_body(&self) -> bool {
        matches!(self, Self::RequestBody(_) | Self::ResponseBody(_))
    }
}

/// A piece of a value.
#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Source(Source),
}

/// A mapped value: static text and expressions.
#[derive(Debug, Clone)]
struct Value(Vec<Part>);

/// What the route offers a value at compile time.
struct Scope<'a> {
    side: Side,
    variables: &'a StageVariables,
    /// The route's path parameters.
    path_params: &'a [String],
}

impl Value {
    /// Parses a value: `${...}` expressions mixed with text, one `$expression`, or
    /// static text.
    fn parse(text: &str, scope: &Scope<'_>) -> Result<Self, String> {
        let mut parts = Vec::new();
        if text.contains("${") {
            let mut rest = text;
            while let Some(start) = rest.find("${") {
                if start > 0 {
                    parts.push(Part::Text(rest[..start].to_owned()));
                }
                let after = &rest[start + 2..];
                let end = after
                    .find('}')
                    .ok_or_else(|| format!("`{text}`: `${{` is not closed by `}}`"))?;
                parts.push(Self::expression(&after[..end], scope)?);
                rest = &after[end + 1..];
            }
            if !rest.is_empty() {
                parts.push(Part::Text(rest.to_owned()));
            }
        } else if let Some(expr) = text.strip_prefix('$').filter(|e| {
            ["request.", "response.", "context.", "stageVariables."]
                .iter()
                .any(|p| e.starts_with(p))
        }) {
            parts.push(Self::expression(expr, scope)?);
        } else {
            parts.push(Part::Text(text.to_owned()));
        }
        Ok(Self(parts))
    }

    /// Parses one expression (without its `$` or `${}`).
    fn expression(expr: &str, scope: &Scope<'_>) -> Result<Part, String> {
        let expr = expr.trim();
        let side_error = |what: &str| {
            Err(format!(
                "`{expr}`: a {} mapping cannot read the {what}",
                match scope.side {
                    Side::Request => "request",
                    Side::Response => "response",
                }
            ))
        };
        if let Some(rest) = expr.strip_prefix("request.") {
            if scope.side == Side::Response {
                return side_error("request (only $response, $context and $stageVariables)");
            }
            if let Some(name) = rest.strip_prefix("header.") {
                return header(name).map(|n| Part::Source(Source::RequestHeader(n)));
            }
            if let Some(name) = rest.strip_prefix("querystring.") {
                return non_empty(name).map(|n| Part::Source(Source::RequestQuery(n.to_owned())));
            }
            if let Some(path) = body_path(rest, expr)? {
                return Ok(Part::Source(Source::RequestBody(path)));
            }
            if rest == "path" {
                return Ok(Part::Source(Source::RequestPath));
            }
            if let Some(name) = rest.strip_prefix("path.") {
                if !scope.path_params.iter().any(|p| p == name) {
                    return Err(format!(
                        "`{expr}`: the route has no path parameter `{name}`"
                    ));
                }
                return Ok(Part::Source(Source::RequestPathParam(name.to_owned())));
            }
            return Err(format!(
                "`{expr}` is not a request value: expected request.header.NAME, \
                 request.querystring.NAME, request.body[.PATH], request.path or \
                 request.path.NAME"
            ));
        }
        if let Some(rest) = expr.strip_prefix("response.") {
            if scope.side == Side::Request {
                return side_error("response");
            }
            if let Some(name) = rest.strip_prefix("header.") {
                return header(name).map(|n| Part::Source(Source::ResponseHeader(n)));
            }
            if let Some(path) = body_path(rest, expr)? {
                return Ok(Part::Source(Source::ResponseBody(path)));
            }
            return Err(format!(
                "`{expr}` is not a response value: expected response.header.NAME or \
                 response.body[.PATH]"
            ));
        }
        if let Some(name) = expr.strip_prefix("context.") {
            let valid = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_');
            if !valid {
                return Err(format!(
                    "`{expr}`: a context variable name holds letters, digits, `.` and `_`"
                ));
            }
            return Ok(Part::Source(Source::Context(name.to_owned())));
        }
        if let Some(name) = expr.strip_prefix("stageVariables.") {
            let valid =
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(format!(
                    "`{expr}`: a stage variable name holds letters, digits and `_`"
                ));
            }
            return Ok(match scope.variables.get(name) {
                Some(value) => Part::Text(value.to_owned()),
                None => Part::Source(Source::Absent),
            });
        }
        Err(format!(
            "`{expr}` is not a mapping expression: expected request.*, response.*, \
             context.NAME or stageVariables.NAME"
        ))
    }

    fn reads_body(&self) -> bool {
        self.0
            .iter()
            .any(|p| matches!(p, Part::Source(s) if s.reads_body()))
    }

    /// The static text, when the value has no expression left.
    fn as_static(&self) -> Option<String> {
        self.0
            .iter()
            .map(|p| match p {
                Part::Text(text) => Some(text.as_str()),
                Part::Source(_) => None,
            })
            .collect()
    }

    /// The value, or `None` when an expression finds nothing.
    fn resolve(&self, values: &Values<'_>) -> Option<String> {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Source(source) => out.push_str(&values.get(source)?),
            }
        }
        Some(out)
    }
}

/// `body`, `body.PATH` or `body[...]`: `Some(None)` for the whole body,
/// `Some(Some(path))` for a selection, `None` when `rest` is no body expression.
fn body_path(rest: &str, expr: &str) -> Result<Option<Option<JsonPath>>, String> {
    let Some(path) = rest.strip_prefix("body") else {
        return Ok(None);
    };
    if path.is_empty() {
        return Ok(Some(None));
    }
    if !path.starts_with(['.', '[']) {
        return Ok(None);
    }
    if path.contains("..") {
        return Err(format!(
            "`{expr}`: recursive descent (`..`) is not supported in a mapping's JSONPath"
        ));
    }
    if path.contains("?(") {
        return Err(format!(
            "`{expr}`: filter expressions are not supported in a mapping's JSONPath"
        ));
    }
    JsonPath::compile(&format!("${path}"))
        .map(|p| Some(Some(p)))
        .map_err(|e| format!("`{expr}`: {e}"))
}

fn non_empty(name: &str) -> Result<&str, String> {
    if name.is_empty() {
        Err("the name is empty".to_owned())
    } else {
        Ok(name)
    }
}

fn header(name: &str) -> Result<HeaderName, String> {
    HeaderName::from_bytes(non_empty(name)?.as_bytes())
        .map_err(|_| format!("`{name}` is not a valid header name"))
}

/// A header target, refusing AWS's reserved headers.
fn target_header(name: &str) -> Result<HeaderName, String> {
    let name = header(name)?;
    if is_reserved(&name) {
        return Err(format!(
            "`{name}` is a reserved header, which parameter mapping cannot change"
        ));
    }
    Ok(name)
}

/// A JSON document read from a buffered body on first use.
#[derive(Debug)]
struct Document<'a> {
    bytes: &'a [u8],
    json: OnceLock<Option<serde_json::Value>>,
}

impl<'a> Document<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            json: OnceLock::new(),
        }
    }

    fn resolve(&self, path: Option<&JsonPath>) -> Option<Cow<'a, str>> {
        let Some(path) = path else {
            return Some(String::from_utf8_lossy(self.bytes));
        };
        let document = self
            .json
            .get_or_init(|| {
                let head = &self.bytes[..self.bytes.len().min(BODY_SELECTION_LIMIT)];
                serde_json::from_slice(head).ok()
            })
            .as_ref()?;
        match path.select(document).into_json()? {
            serde_json::Value::String(text) => Some(Cow::Owned(text)),
            serde_json::Value::Null => None,
            other => Some(Cow::Owned(other.to_string())),
        }
    }
}

/// What expressions read, per request.
struct Values<'a> {
    headers: &'a HeaderMap,
    query: Option<&'a str>,
    path: &'a str,
    params: Option<&'a PathParams>,
    context: Option<&'a RequestContext>,
    body: Option<Document<'a>>,
    response_headers: Option<&'a HeaderMap>,
    response_body: Option<Document<'a>>,
}

impl<'a> Values<'a> {
    fn get(&self, source: &Source) -> Option<Cow<'a, str>> {
        match source {
            Source::Absent => None,
            Source::RequestHeader(name) => joined(self.headers, name),
            Source::RequestQuery(name) => {
                let values: Vec<String> = query_pairs(self.query?)
                    .filter(|(k, _)| k == name)
                    .map(|(_, v)| v)
                    .collect();
                (!values.is_empty()).then(|| Cow::Owned(values.join(",")))
            }
            Source::RequestBody(path) => self.body.as_ref()?.resolve(path.as_ref()),
            Source::RequestPath => Some(Cow::Borrowed(self.path)),
            Source::RequestPathParam(name) => self.params?.get(name).map(Cow::Borrowed),
            Source::ResponseHeader(name) => joined(self.response_headers?, name),
            Source::ResponseBody(path) => self.response_body.as_ref()?.resolve(path.as_ref()),
            Source::Context(name) => self
                .context?
                .variable(name)
                .map(|v| Cow::Owned(v.into_owned())),
        }
    }
}

fn joined<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<Cow<'a, str>> {
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

/// A header mapping.
#[derive(Debug, Clone)]
struct HeaderOp {
    action: Action,
    name: HeaderName,
    value: Value,
}

/// A query string mapping.
#[derive(Debug, Clone)]
struct QueryOp {
    action: Action,
    name: String,
    value: Value,
}

/// The names of a route template's path parameters (`{id}`, `{proxy+}` as `proxy`).
fn route_params(route_path: &str) -> Vec<String> {
    route_path
        .split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| name.strip_suffix('+').unwrap_or(name).to_owned())
        .collect()
}

/// Splits `action:rest`.
/// A mapping entry: its key's action and target, and its value compiled (a removal's
/// value is never read, so it is not compiled).
fn parse_entry<'k>(
    key: &'k str,
    text: &str,
    scope: &Scope<'_>,
) -> Result<(Action, &'k str, Value), String> {
    let (action, target) = split_key(key)?;
    let value = if action == Action::Remove {
        Value(Vec::new())
    } else {
        Value::parse(text, scope)?
    };
    Ok((action, target, value))
}

/// The operation on header `name` (a key's target after `header.`).
fn header_op(action: Action, name: &str, value: Value) -> Result<HeaderOp, String> {
    let name = target_header(name)?;
    check_static_header(&value)?;
    Ok(HeaderOp {
        action,
        name,
        value,
    })
}

fn split_key(key: &str) -> Result<(Action, &str), String> {
    let (action, rest) = key.split_once(':').ok_or_else(|| {
        format!(
            "`{key}` is not an HTTP API mapping key: expected ACTION:TARGET, such as \
                 append:header.NAME, overwrite:querystring.NAME or overwrite:path"
        )
    })?;
    let action = Action::parse(action).ok_or_else(|| {
        format!("`{action}` is not a mapping action: expected append, overwrite or remove")
    })?;
    Ok((action, rest))
}

/// One request-side value of the HTTP API syntax, compiled on its own: the value of
/// an AWS service integration's parameter (`"MessageBody": "$request.body.message"`).
#[derive(Debug, Clone)]
pub(crate) struct RequestValue(Value);

impl RequestValue {
    /// Compiles `text` for a route at `route_path`: static text, one `$expression`
    /// or `${...}` expressions mixed with text. Stage variables are resolved now.
    pub(crate) fn compile(
        text: &str,
        variables: &StageVariables,
        route_path: &str,
    ) -> Result<Self, String> {
        let params = route_params(route_path);
        let scope = Scope {
            side: Side::Request,
            variables,
            path_params: &params,
        };
        Value::parse(text, &scope).map(Self)
    }

    /// Whether the value reads the request body, which must then be buffered.
    pub(crate) fn reads_body(&self) -> bool {
        self.0.reads_body()
    }

    /// Whether the value is exactly `$request.body`: the whole body, which a
    /// caller may take as bytes rather than text.
    pub(crate) fn is_whole_body(&self) -> bool {
        matches!(
            (self.0).0.as_slice(),
            [Part::Source(Source::RequestBody(None))]
        )
    }

    /// The value's text when it has no expression left (static text and defined
    /// stage variables only).
    pub(crate) fn as_static(&self) -> Option<String> {
        self.0.as_static()
    }

    /// The value for one request, or `None` when an expression finds nothing.
    pub(crate) fn resolve(&self, request: &RequestValues<'_>) -> Option<String> {
        self.0.resolve(&request.0)
    }
}

/// What request-side values read, for one request: its head, the body when
/// buffered, and the request context.
pub(crate) struct RequestValues<'a>(Values<'a>);

impl<'a> RequestValues<'a> {
    /// The values of a request as the client sent it; `body` is the buffered body
    /// (without it, body expressions find nothing).
    pub(crate) fn new(parts: &'a http::request::Parts, body: Option<&'a [u8]>) -> Self {
        let context = parts.extensions.get::<RequestContext>();
        let raw_path = parts.uri.path();
        Self(Values {
            headers: &parts.headers,
            query: parts.uri.query(),
            path: context.map_or(raw_path, |c| c.route_path(raw_path)),
            params: parts.extensions.get::<PathParams>(),
            context,
            body: body.map(Document::new),
            response_headers: None,
            response_body: None,
        })
    }
}

/// An integration's HTTP API `requestParameters`, compiled.
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestMapping {
    headers: Vec<HeaderOp>,
    query: Vec<QueryOp>,
    path: Option<Value>,
    reads_body: bool,
}

impl RequestMapping {
    /// Compiles `requestParameters` for a route at `route_path`, naming the failing
    /// key.
    pub(crate) fn compile(
        parameters: &BTreeMap<String, String>,
        variables: &StageVariables,
        route_path: &str,
    ) -> Result<Self, FieldError> {
        let params = route_params(route_path);
        let scope = Scope {
            side: Side::Request,
            variables,
            path_params: &params,
        };
        let mut mapping = Self::default();
        for (key, text) in parameters {
            let fail = |reason| FieldError {
                field: format!("requestParameters.{key}"),
                reason,
            };
            let (action, target, value) = parse_entry(key, text, &scope).map_err(fail)?;
            if let Some(name) = target.strip_prefix("header.") {
                mapping
                    .headers
                    .push(header_op(action, name, value).map_err(fail)?);
            } else if let Some(name) = target.strip_prefix("querystring.") {
                let name = non_empty(name).map_err(fail)?.to_owned();
                mapping.query.push(QueryOp {
                    action,
                    name,
                    value,
                });
            } else if target == "path" {
                if action != Action::Overwrite {
                    return Err(fail(
                        "the path can only be overwritten (overwrite:path)".to_owned(),
                    ));
                }
                mapping.path = Some(value);
            } else {
                return Err(fail(format!(
                    "`{target}` is not a request target: expected header.NAME, \
                     querystring.NAME or path"
                )));
            }
        }
        mapping.headers.sort_by_key(|op| op.action);
        mapping.query.sort_by_key(|op| op.action);
        mapping.reads_body = mapping.headers.iter().any(|op| op.value.reads_body())
            || mapping.query.iter().any(|op| op.value.reads_body())
            || mapping.path.as_ref().is_some_and(Value::reads_body);
        Ok(mapping)
    }

    /// Whether no mapping is configured.
    pub(crate) fn is_empty(&self) -> bool {
        self.headers.is_empty() && self.query.is_empty() && self.path.is_none()
    }

    /// Whether a value reads the request body, which must then be buffered.
    pub(crate) fn reads_body(&self) -> bool {
        self.reads_body
    }

    /// Resolves every mapping against the request as the client sent it; `body` is
    /// the buffered body when [`reads_body`](Self::reads_body). A value that finds
    /// nothing answers 400 Bad Request.
    pub(crate) fn resolve(
        &self,
        parts: &http::request::Parts,
        body: Option<&[u8]>,
    ) -> Result<MappedRequest, GatewayError> {
        let RequestValues(values) = RequestValues::new(parts, body);
        let resolve = |value: &Value, target: &dyn Fn() -> String| {
            value.resolve(&values).ok_or_else(|| {
                tracing::info!(
                    target = %target(),
                    "Parameter mapping found no value in the request: answering 400"
                );
                bad_request()
            })
        };
        let mut headers = Vec::with_capacity(self.headers.len());
        for op in &self.headers {
            let value = if op.action == Action::Remove {
                None
            } else {
                let text = resolve(&op.value, &|| format!("header.{}", op.name))?;
                Some(HeaderValue::try_from(text).map_err(|_| bad_request())?)
            };
            headers.push((op.action, op.name.clone(), value));
        }
        let query = if self.query.is_empty() {
            None
        } else {
            let mut resolved = Vec::with_capacity(self.query.len());
            for op in &self.query {
                let value = if op.action == Action::Remove {
                    String::new()
                } else {
                    resolve(&op.value, &|| format!("querystring.{}", op.name))?
                };
                resolved.push((op.action, op.name.as_str(), value));
            }
            Some(map_query(parts.uri.query(), &resolved))
        };
        let path = match &self.path {
            Some(value) => {
                let text = resolve(value, &|| "path".to_owned())?;
                let text = if text.starts_with('/') {
                    text
                } else {
                    format!("/{text}")
                };
                Some(utf8_percent_encode(&text, PATH).to_string())
            }
            None => None,
        };
        Ok(MappedRequest {
            headers,
            query,
            path,
        })
    }
}

/// A static header value must be a valid header value.
fn check_static_header(value: &Value) -> Result<(), String> {
    match value.as_static() {
        Some(text) if HeaderValue::try_from(text.as_str()).is_err() => {
            Err(format!("`{text}` is not a valid header value"))
        }
        _ => Ok(()),
    }
}

/// The 400 a request mapping without a value answers.
pub(crate) fn bad_request() -> GatewayError {
    GatewayError::new(GatewayResponseType::BadRequestParameters).with_message("Bad Request")
}

/// Applies resolved query mappings (sorted remove, overwrite, append) to a raw query.
fn map_query(query: Option<&str>, ops: &[(Action, &str, String)]) -> String {
    let mut pairs: Vec<Cow<'_, str>> = query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(Cow::Borrowed)
        .collect();
    let name_of = |pair: &str| -> String {
        let name = pair.split_once('=').map_or(pair, |(k, _)| k);
        query_pairs(name).next().map(|(k, _)| k).unwrap_or_default()
    };
    for (action, name, value) in ops {
        let encoded = || {
            format!(
                "{}={}",
                utf8_percent_encode(name, QUERY_COMPONENT),
                utf8_percent_encode(value, QUERY_COMPONENT)
            )
        };
        match action {
            Action::Remove => pairs.retain(|p| name_of(p) != *name),
            Action::Overwrite => {
                pairs.retain(|p| name_of(p) != *name);
                pairs.push(Cow::Owned(encoded()));
            }
            Action::Append => pairs.push(Cow::Owned(encoded())),
        }
    }
    pairs.join("&")
}

/// A request mapping resolved for one request.
#[derive(Debug)]
pub(crate) struct MappedRequest {
    /// Header operations, removals first; `None` for a removal.
    headers: Vec<(Action, HeaderName, Option<HeaderValue>)>,
    /// The new raw query string, when a query mapping applies.
    query: Option<String>,
    /// The new (encoded) path, for `overwrite:path`.
    path: Option<String>,
}

impl MappedRequest {
    /// Applies the header mappings to the headers sent on.
    pub(crate) fn apply_headers(&self, headers: &mut HeaderMap) {
        apply_header_ops(
            headers,
            self.headers
                .iter()
                .map(|(action, name, value)| (*action, name, value.as_ref())),
        );
    }

    /// The query string to send on: `Some` when a mapping changed it (empty for
    /// none left), else `None` for the client's own.
    pub(crate) fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// Replaces the path of `uri` when `overwrite:path` applies, keeping its query.
    pub(crate) fn apply_path(&self, uri: Uri) -> Result<Uri, http::Error> {
        let Some(path) = &self.path else {
            return Ok(uri);
        };
        let mut parts = uri.into_parts();
        let query = parts
            .path_and_query
            .as_ref()
            .and_then(PathAndQuery::query)
            .map(str::to_owned);
        parts.path_and_query = Some(PathAndQuery::try_from(match query {
            Some(query) => format!("{path}?{query}"),
            None => path.clone(),
        })?);
        Ok(Uri::from_parts(parts)?)
    }

    /// Applies the whole mapping to a request head: headers, query and path (the
    /// request Lambda proxy integrations build their event from).
    pub(crate) fn apply_to(&self, parts: &mut http::request::Parts) -> Result<(), http::Error> {
        self.apply_headers(&mut parts.headers);
        if let Some(query) = &self.query {
            let path = parts.uri.path().to_owned();
            let mut uri = std::mem::take(&mut parts.uri).into_parts();
            uri.path_and_query = Some(PathAndQuery::try_from(if query.is_empty() {
                path
            } else {
                format!("{path}?{query}")
            })?);
            parts.uri = Uri::from_parts(uri)?;
        }
        parts.uri = self.apply_path(std::mem::take(&mut parts.uri))?;
        Ok(())
    }
}

/// Applies header operations in order.
fn apply_header_ops<'v>(
    headers: &mut HeaderMap,
    ops: impl Iterator<Item = (Action, &'v HeaderName, Option<&'v HeaderValue>)>,
) {
    for (action, name, value) in ops {
        match (action, value) {
            (Action::Remove, _) => {
                headers.remove(name);
            }
            (Action::Overwrite, Some(value)) => {
                headers.insert(name.clone(), value.clone());
            }
            (Action::Append, Some(value)) => {
                let existing = joined(headers, name).map(Cow::into_owned);
                let combined = match existing {
                    Some(existing) if !existing.is_empty() => {
                        let mut bytes = existing.into_bytes();
                        bytes.push(b',');
                        bytes.extend_from_slice(value.as_bytes());
                        HeaderValue::from_bytes(&bytes).unwrap_or_else(|_| value.clone())
                    }
                    _ => value.clone(),
                };
                headers.insert(name.clone(), combined);
            }
            (Action::Overwrite | Action::Append, None) => {}
        }
    }
}

/// The mappings of one backend status code.
#[derive(Debug, Clone, Default)]
struct StatusMapping {
    headers: Vec<HeaderOp>,
    status: Option<Value>,
    reads_body: bool,
}

/// An integration's HTTP API `responseParameters`, compiled.
#[derive(Debug, Clone, Default)]
pub(crate) struct ResponseMapping {
    by_status: Vec<(StatusCode, StatusMapping)>,
}

impl ResponseMapping {
    /// Compiles `responseParameters` (status code → key → value), naming the failing
    /// field.
    pub(crate) fn compile(
        parameters: &BTreeMap<String, BTreeMap<String, String>>,
        variables: &StageVariables,
    ) -> Result<Self, FieldError> {
        let scope = Scope {
            side: Side::Response,
            variables,
            path_params: &[],
        };
        let mut by_status = Vec::with_capacity(parameters.len());
        for (status_key, mappings) in parameters {
            let status = parse_status(status_key).ok_or_else(|| FieldError {
                field: format!("responseParameters.{status_key}"),
                reason: format!("`{status_key}` is not a status code from 200 to 599"),
            })?;
            let mut compiled = StatusMapping::default();
            for (key, text) in mappings {
                let fail = |reason| FieldError {
                    field: format!("responseParameters.{status_key}.{key}"),
                    reason,
                };
                let (action, target, value) = parse_entry(key, text, &scope).map_err(fail)?;
                if let Some(name) = target.strip_prefix("header.") {
                    compiled
                        .headers
                        .push(header_op(action, name, value).map_err(fail)?);
                } else if target == "statuscode" {
                    if action != Action::Overwrite {
                        return Err(fail(
                            "the status code can only be overwritten (overwrite:statuscode)"
                                .to_owned(),
                        ));
                    }
                    if let Some(text) = value.as_static()
                        && parse_status(&text).is_none()
                    {
                        return Err(fail(format!(
                            "`{text}` is not a status code from 200 to 599"
                        )));
                    }
                    compiled.status = Some(value);
                } else {
                    return Err(fail(format!(
                        "`{target}` is not a response target: expected header.NAME or \
                         statuscode"
                    )));
                }
            }
            compiled.headers.sort_by_key(|op| op.action);
            compiled.reads_body = compiled.headers.iter().any(|op| op.value.reads_body())
                || compiled.status.as_ref().is_some_and(Value::reads_body);
            by_status.push((status, compiled));
        }
        Ok(Self { by_status })
    }

    /// Whether no mapping is configured.
    pub(crate) fn is_empty(&self) -> bool {
        self.by_status.is_empty()
    }

    fn for_status(&self, status: StatusCode) -> Option<&StatusMapping> {
        self.by_status
            .iter()
            .find(|(s, _)| *s == status)
            .map(|(_, m)| m)
    }

    /// Whether the mappings for `status` read the response body, which must then be
    /// buffered before [`apply`](Self::apply).
    pub(crate) fn reads_body(&self, status: StatusCode) -> bool {
        self.for_status(status).is_some_and(|m| m.reads_body)
    }

    /// Applies the mappings for the response's status. `body` is the buffered
    /// body when [`reads_body`](Self::reads_body). A status code an expression made
    /// invalid is an error.
    pub(crate) fn apply(
        &self,
        response: &mut Response<Body>,
        context: Option<&RequestContext>,
        body: Option<&[u8]>,
    ) -> Result<(), GatewayError> {
        let Some(mapping) = self.for_status(response.status()) else {
            return Ok(());
        };
        let empty = HeaderMap::new();
        let original = response.headers().clone();
        let values = Values {
            headers: &empty,
            query: None,
            path: "",
            params: None,
            context,
            body: None,
            response_headers: Some(&original),
            response_body: body.map(Document::new),
        };
        let resolved: Vec<(Action, &HeaderName, Option<HeaderValue>)> = mapping
            .headers
            .iter()
            .filter_map(|op| {
                if op.action == Action::Remove {
                    return Some((op.action, &op.name, None));
                }
                let value = HeaderValue::try_from(op.value.resolve(&values)?).ok()?;
                Some((op.action, &op.name, Some(value)))
            })
            .collect();
        let status = match &mapping.status {
            Some(value) => match value.resolve(&values) {
                Some(text) => Some(parse_status(&text).ok_or_else(|| {
                    tracing::warn!(
                        "Execution failed due to configuration error: the mapped status \
                         code `{text}` is not a status code from 200 to 599"
                    );
                    GatewayError::new(GatewayResponseType::ApiConfigurationError)
                        .with_message("Internal Server Error")
                })?),
                None => None,
            },
            None => None,
        };
        apply_header_ops(
            response.headers_mut(),
            resolved
                .iter()
                .map(|(action, name, value)| (*action, *name, value.as_ref())),
        );
        if let Some(status) = status {
            *response.status_mut() = status;
        }
        Ok(())
    }
}

/// A status code from 200 to 599.
fn parse_status(text: &str) -> Option<StatusCode> {
    let text = text.trim();
    if text.len() != 3 {
        return None;
    }
    let code: u16 = text.parse().ok()?;
    (200..=599)
        .contains(&code)
        .then(|| StatusCode::from_u16(code).ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> StageVariables {
        let mut v = StageVariables::new();
        v.insert("env", "prod").unwrap();
        v
    }

    fn request_mapping(pairs: &[(&str, &str)], route: &str) -> Result<RequestMapping, FieldError> {
        let parameters = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        RequestMapping::compile(&parameters, &vars(), route)
    }

    fn parts(uri: &str, headers: &[(&str, &str)]) -> http::request::Parts {
        let mut builder = http::Request::get(uri);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let (mut parts, ()) = builder.body(()).unwrap().into_parts();
        parts.extensions.insert(RequestContext {
            request_id: "rid-1".into(),
            stage: "dev".into(),
            ..RequestContext::default()
        });
        parts
    }

    #[test]
    fn values_parse_as_static_expression_or_template() {
        let v = vars();
        let params = ["id".to_owned(), "name".to_owned()];
        let scope = Scope {
            side: Side::Request,
            variables: &v,
            path_params: &params,
        };
        let value = Value::parse("plain text", &scope).unwrap();
        assert_eq!(value.as_static().as_deref(), Some("plain text"));
        let value = Value::parse("$stageVariables.env", &scope).unwrap();
        assert_eq!(value.as_static().as_deref(), Some("prod"));
        let value = Value::parse("${request.path.name} ${request.path.id}!", &scope).unwrap();
        assert_eq!(value.0.len(), 4);
        assert!(value.as_static().is_none());
        // `$` not followed by a known root is static text.
        let value = Value::parse("$5 off", &scope).unwrap();
        assert_eq!(value.as_static().as_deref(), Some("$5 off"));
        assert!(Value::parse("${request.path.id", &scope).is_err());
        assert!(Value::parse("$request.path.other", &scope).is_err());
        assert!(Value::parse("$request.body..a", &scope).is_err());
        assert!(Value::parse("$request.body.a[?(@.b)]", &scope).is_err());
        assert!(Value::parse("$request.body.a[", &scope).is_err());
        assert!(Value::parse("$response.header.x", &scope).is_err());
        assert!(Value::parse("$context.bad-name", &scope).is_err());
        assert!(Value::parse("$request.cookie.x", &scope).is_err());
        assert!(Value::parse("${nothing.here}", &scope).is_err());
        let scope = Scope {
            side: Side::Response,
            ..scope
        };
        assert!(Value::parse("$request.header.x", &scope).is_err());
        assert!(Value::parse("$response.body.a.b", &scope).is_ok());
    }

    #[test]
    fn keys_are_checked() {
        let err = request_mapping(&[("overwrite:header.Authorization", "x")], "/").unwrap_err();
        assert_eq!(
            err.field,
            "requestParameters.overwrite:header.Authorization"
        );
        assert!(err.reason.contains("reserved"), "{}", err.reason);
        for key in [
            "append:header.x-amz-date",
            "remove:header.X-Amzn-Trace-Id",
            "append:header.Access-Control-Allow-Origin",
            "overwrite:header.apigw-requestid",
            "overwrite:header.via",
            "overwrite:header.content-length",
        ] {
            assert!(request_mapping(&[(key, "x")], "/").is_err(), "{key}");
        }
        assert!(request_mapping(&[("append:path", "/x")], "/").is_err());
        assert!(request_mapping(&[("replace:header.a", "x")], "/").is_err());
        assert!(request_mapping(&[("header.a", "x")], "/").is_err());
        assert!(request_mapping(&[("append:body.a", "x")], "/").is_err());
        assert!(request_mapping(&[("append:querystring.", "x")], "/").is_err());
        assert!(request_mapping(&[("append:header.a", "bad\nvalue")], "/").is_err());
        assert!(request_mapping(&[("remove:header.a", "''")], "/").is_ok());
        assert!(request_mapping(&[("overwrite:header.host", "example.com")], "/").is_ok());
    }

    #[test]
    fn request_mappings_resolve_against_the_client_request() {
        let mapping = request_mapping(
            &[
                ("append:header.x-multi", "$request.header.X-A"),
                ("overwrite:header.x-q", "$request.querystring.q"),
                ("remove:header.x-a", "''"),
                ("append:header.x-path", "$request.path"),
                ("overwrite:header.x-id", "$context.requestId"),
                ("append:querystring.q", "three"),
                ("remove:querystring.drop", "''"),
                ("overwrite:querystring.env", "$stageVariables.env"),
                ("overwrite:path", "/v2/${request.path.id}"),
            ],
            "/items/{id}",
        )
        .unwrap();
        let mut parts = parts(
            "/dev/items/7?q=1&q=two%20words&drop=x&env=test",
            &[("x-a", "1"), ("x-multi", "old")],
        );
        let mut router =
            gateway_core::router::Router::new(gateway_core::router::MatchMode::RouteFirst);
        router
            .insert(&gateway_core::model::RouteMethod::Any, "/items/{id}", ())
            .unwrap();
        let params = router.find(&http::Method::GET, "/items/7").unwrap().params;
        parts.extensions.insert(params);
        parts.headers.append("x-a", HeaderValue::from_static("2"));
        let mapped = mapping.resolve(&parts, None).unwrap();
        mapping
            .resolve(&parts, None)
            .unwrap()
            .apply_to(&mut parts)
            .unwrap();
        assert_eq!(parts.headers.get("x-a"), None);
        assert_eq!(parts.headers["x-multi"], "old,1,2");
        assert_eq!(parts.headers["x-q"], "1,two words");
        assert_eq!(parts.headers["x-path"], "/items/7");
        assert_eq!(parts.headers["x-id"], "rid-1");
        assert_eq!(parts.uri.path(), "/v2/7");
        assert_eq!(
            parts.uri.query(),
            Some("q=1&q=two%20words&env=prod&q=three")
        );
        assert_eq!(mapped.query(), Some("q=1&q=two%20words&env=prod&q=three"));
    }

    #[test]
    fn remove_then_append_renews_a_header_and_reserved_headers_may_be_read() {
        let mapping = request_mapping(
            &[
                ("append:header.x-a", "$request.header.x-a"),
                ("remove:header.x-a", "''"),
                ("overwrite:header.x-token", "$request.header.Authorization"),
            ],
            "/",
        )
        .unwrap();
        let mut head = parts("/", &[("x-a", "old"), ("authorization", "Bearer t")]);
        mapping
            .resolve(&head, None)
            .unwrap()
            .apply_to(&mut head)
            .unwrap();
        // Read before anything changed, removed, then appended afresh.
        assert_eq!(head.headers["x-a"], "old");
        assert_eq!(head.headers.get_all("x-a").iter().count(), 1);
        assert_eq!(head.headers["x-token"], "Bearer t");
    }

    #[test]
    fn a_missing_request_value_is_a_bad_request() {
        let mapping =
            request_mapping(&[("append:header.x", "$request.header.missing")], "/").unwrap();
        let err = mapping.resolve(&parts("/", &[]), None).unwrap_err();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        assert_eq!(err.message(), Some("Bad Request"));
        let mapping = request_mapping(&[("append:header.x", "$stageVariables.nope")], "/").unwrap();
        assert!(mapping.resolve(&parts("/", &[]), None).is_err());
    }

    #[test]
    fn request_bodies_are_selected_by_jsonpath() {
        let mapping = request_mapping(
            &[
                ("overwrite:header.x-name", "$request.body.pet.name"),
                ("overwrite:header.x-tags", "$request.body.pet.tags"),
                ("overwrite:querystring.first", "${request.body.pet.tags[0]}"),
            ],
            "/",
        )
        .unwrap();
        assert!(mapping.reads_body());
        let body = br#"{"pet":{"name":"Rex","tags":["a","b"]}}"#;
        let mut head = parts("/", &[]);
        mapping
            .resolve(&head, Some(body))
            .unwrap()
            .apply_to(&mut head)
            .unwrap();
        assert_eq!(head.headers["x-name"], "Rex");
        assert_eq!(head.headers["x-tags"], r#"["a","b"]"#);
        assert_eq!(head.uri.query(), Some("first=a"));
        assert!(mapping.resolve(&head, Some(b"not json")).is_err());
        assert!(mapping.resolve(&head, Some(b"{}")).is_err());
    }

    #[test]
    fn response_mappings_apply_per_status() {
        let parameters = BTreeMap::from([
            (
                "200".to_owned(),
                BTreeMap::from([
                    (
                        "append:header.x-etag".to_owned(),
                        "$response.header.etag".to_owned(),
                    ),
                    ("remove:header.server".to_owned(), "''".to_owned()),
                    (
                        "overwrite:header.x-env".to_owned(),
                        "$stageVariables.env".to_owned(),
                    ),
                    (
                        "overwrite:header.x-id".to_owned(),
                        "$response.body.id".to_owned(),
                    ),
                    (
                        "overwrite:header.x-none".to_owned(),
                        "$response.header.nope".to_owned(),
                    ),
                    (
                        "overwrite:statuscode".to_owned(),
                        "${response.body.code}".to_owned(),
                    ),
                ]),
            ),
            (
                "500".to_owned(),
                BTreeMap::from([("overwrite:statuscode".to_owned(), "403".to_owned())]),
            ),
        ]);
        let mapping = ResponseMapping::compile(&parameters, &vars()).unwrap();
        assert!(mapping.reads_body(StatusCode::OK));
        assert!(!mapping.reads_body(StatusCode::INTERNAL_SERVER_ERROR));
        let mut response = Response::builder()
            .status(200)
            .header("etag", "abc")
            .header("server", "backend")
            .body(Body::empty())
            .unwrap();
        mapping
            .apply(&mut response, None, Some(br#"{"id":42,"code":"201"}"#))
            .unwrap();
        assert_eq!(response.status(), 201);
        assert_eq!(response.headers()["x-etag"], "abc");
        assert_eq!(response.headers().get("server"), None);
        assert_eq!(response.headers()["x-env"], "prod");
        assert_eq!(response.headers()["x-id"], "42");
        assert_eq!(response.headers().get("x-none"), None);

        let mut response = Response::builder().status(404).body(Body::empty()).unwrap();
        mapping.apply(&mut response, None, None).unwrap();
        assert_eq!(response.status(), 404);

        let mut response = Response::builder().status(200).body(Body::empty()).unwrap();
        let err = mapping
            .apply(&mut response, None, Some(br#"{"code":"abc"}"#))
            .unwrap_err();
        assert_eq!(err.kind(), GatewayResponseType::ApiConfigurationError);
    }

    #[test]
    fn response_keys_are_checked() {
        let compile = |status: &str, key: &str, value: &str| {
            ResponseMapping::compile(
                &BTreeMap::from([(
                    status.to_owned(),
                    BTreeMap::from([(key.to_owned(), value.to_owned())]),
                )]),
                &vars(),
            )
        };
        assert!(compile("200", "overwrite:statuscode", "204").is_ok());
        let err = compile("199", "overwrite:statuscode", "204").unwrap_err();
        assert_eq!(err.field, "responseParameters.199");
        let err = compile("200", "overwrite:statuscode", "99").unwrap_err();
        assert_eq!(err.field, "responseParameters.200.overwrite:statuscode");
        assert!(compile("200", "append:statuscode", "204").is_err());
        assert!(compile("200", "overwrite:header.content-encoding", "gzip").is_err());
        assert!(compile("200", "overwrite:path", "/x").is_err());
        assert!(compile("2xx", "overwrite:header.a", "b").is_err());
    }

    #[test]
    fn reserved_headers_match_aws_list() {
        for name in [
            "access-control-max-age",
            "apigw-requestid",
            "x-amz-date",
            "te",
            "trailers",
        ] {
            assert!(is_reserved(&HeaderName::from_static(name)), "{name}");
        }
        for name in ["host", "x-custom", "accept", "x-forwarded-port"] {
            assert!(!is_reserved(&HeaderName::from_static(name)), "{name}");
        }
    }
}
