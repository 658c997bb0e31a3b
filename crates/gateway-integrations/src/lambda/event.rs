//! The event a Lambda proxy integration sends: payload format 1.0 (REST APIs, and
//! HTTP APIs that ask for it) and 2.0 (HTTP APIs' default).
//!
//! Events are written straight from the request's parts with hand-written
//! `Serialize` implementations, so that every key, and whether it is `null`, empty
//! or absent, is decided here rather than by a struct's serde attributes.

use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::sync::Arc;

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayV2httpRequest};
use bytes::Bytes;
use gateway_core::lambda::PayloadValue;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gateway_core::context::{AuthorizerContext, RequestContext, query_pairs};
use gateway_core::router::PathParams;
use gateway_core::stage::StageVariables;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, COOKIE};
use http::request::Parts;
use http::{HeaderMap, HeaderName, Version};
use indexmap::IndexMap;
use percent_encoding::percent_decode_str;
use serde::ser::{Serialize, SerializeMap, Serializer};

use super::media::{BinaryMediaTypes, is_textual};
use crate::http_proxy::headers::{
    X_FORWARDED_FOR, X_FORWARDED_PORT, X_FORWARDED_PROTO, forwarded_for, forwarded_proto_port,
    is_hop_by_hop,
};
use gateway_core::observe::trace::X_AMZN_TRACE_ID;

/// The two event shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PayloadFormat {
    /// `resource`, `multiValueHeaders`, `requestContext.identity`...
    V1,
    /// `rawPath`, `cookies`, joined repeated values, `requestContext.http`...
    V2,
}

/// How a request body travels in the event.
#[derive(Debug, Clone)]
pub(crate) enum BodyRule {
    /// REST APIs: base64 when the `Content-Type` is one of the API's binary media
    /// types, else text (bytes that are not UTF-8 are replaced, as they would be
    /// in any text payload).
    BinaryTypes(BinaryMediaTypes),
    /// HTTP APIs: text when the media type is textual and the bytes are UTF-8,
    /// else base64.
    HttpApi,
}

/// What a route's events need that does not change per request.
#[derive(Debug, Clone)]
pub(crate) struct EventShape {
    pub(crate) format: PayloadFormat,
    /// HTTP APIs add `"version": "1.0"` to 1.0 events and use the extended request
    /// id as `requestId`.
    pub(crate) http_api: bool,
    /// The route's path template (`resource`, and `resourcePath` when the request
    /// has no context).
    pub(crate) resource: String,
    /// The route key (`routeKey`).
    pub(crate) route_key: String,
    pub(crate) stage_variables: StageVariables,
    pub(crate) body_rule: BodyRule,
}

/// The body as an event carries it.
#[derive(Debug)]
enum EventBody<'a> {
    Absent,
    Text(Cow<'a, str>),
    Base64(String),
}

impl EventBody<'_> {
    fn text(&self) -> Option<&str> {
        match self {
            Self::Absent => None,
            Self::Text(text) => Some(text),
            Self::Base64(encoded) => Some(encoded),
        }
    }

    fn is_base64(&self) -> bool {
        matches!(self, Self::Base64(_))
    }
}

/// One request, seen as an event sees it.
struct View<'a> {
    shape: &'a EventShape,
    parts: &'a Parts,
    ctx: &'a RequestContext,
    params: Option<&'a PathParams>,
    /// Decoded query string pairs, grouped by name in order of first appearance.
    query: IndexMap<String, Vec<String>>,
    body: EventBody<'a>,
    forwarded: Forwarded<'a>,
}

/// Headers the gateway sets on the way to the function, as API Gateway does.
struct Forwarded<'a> {
    trace_id: Option<&'a str>,
    /// `X-Forwarded-For`: the client's list with the client's address appended.
    for_: Option<String>,
    proto: &'static str,
    port: u16,
}

/// A request's event as an invocation carries it: written as JSON, or built as
/// the Lambda runtime's event type for a function in process, only when the
/// invoker asks for one or the other.
#[derive(Debug)]
pub(crate) struct ProxyEvent {
    shape: Arc<EventShape>,
    parts: Arc<Parts>,
    body: Bytes,
}

impl ProxyEvent {
    /// The event for a request whose body has been read.
    pub(crate) fn new(shape: Arc<EventShape>, parts: Arc<Parts>, body: Bytes) -> Self {
        Self { shape, parts, body }
    }
}

impl PayloadValue for ProxyEvent {
    fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        self.shape.build(&self.parts, &self.body)
    }

    fn to_typed(&self, type_id: TypeId) -> Option<Box<dyn Any + Send>> {
        match self.shape.format {
            PayloadFormat::V1 if type_id == TypeId::of::<ApiGatewayProxyRequest>() => self
                .shape
                .with_view(&self.parts, &self.body, typed::v1)
                .map(|event| Box::new(event) as Box<dyn Any + Send>),
            PayloadFormat::V2 if type_id == TypeId::of::<ApiGatewayV2httpRequest>() => self
                .shape
                .with_view(&self.parts, &self.body, typed::v2)
                .map(|event| Box::new(event) as Box<dyn Any + Send>),
            _ => None,
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

impl EventShape {
    /// Sees a request whose body has been read as an event sees it.
    fn with_view<R>(&self, parts: &Parts, body: &[u8], f: impl FnOnce(&View<'_>) -> R) -> R {
        let fallback;
        let ctx = match parts.extensions.get::<RequestContext>() {
            Some(ctx) => ctx,
            None => {
                fallback = RequestContext::default();
                &fallback
            }
        };
        let mut query: IndexMap<String, Vec<String>> = IndexMap::new();
        if let Some(raw) = parts.uri.query() {
            for (name, value) in query_pairs(raw) {
                query.entry(name).or_default().push(value);
            }
        }
        let view = View {
            shape: self,
            parts,
            ctx,
            params: parts.extensions.get::<PathParams>(),
            query,
            body: self.event_body(&parts.headers, body),
            forwarded: Forwarded::of(parts, ctx),
        };
        f(&view)
    }

    /// Writes the event for a request whose body has been read.
    pub(crate) fn build(&self, parts: &Parts, body: &[u8]) -> Result<Vec<u8>, serde_json::Error> {
        self.with_view(parts, body, |view| self.write(view, body.len()))
    }

    fn write(&self, view: &View<'_>, body_len: usize) -> Result<Vec<u8>, serde_json::Error> {
        let parts = view.parts;
        let body = body_len;
        // Sized for the usual event: the context, both header maps, and a body that
        // grows by a third when escaped or base64-encoded.
        let headers_len: usize = parts
            .headers
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 8)
            .sum();
        let mut out = Vec::with_capacity(1536 + 2 * headers_len + body * 4 / 3);
        match self.format {
            PayloadFormat::V1 => serde_json::to_writer(&mut out, &V1Event(view))?,
            PayloadFormat::V2 => serde_json::to_writer(&mut out, &V2Event(view))?,
        }
        Ok(out)
    }

    fn event_body<'b>(&self, headers: &HeaderMap, body: &'b [u8]) -> EventBody<'b> {
        if body.is_empty() {
            return EventBody::Absent;
        }
        let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
        match &self.body_rule {
            BodyRule::BinaryTypes(types) => {
                if content_type.is_some_and(|ct| types.matches(ct)) {
                    EventBody::Base64(STANDARD.encode(body))
                } else {
                    // `from_utf8` is much faster than the lossy walk on valid text.
                    match std::str::from_utf8(body) {
                        Ok(text) => EventBody::Text(Cow::Borrowed(text)),
                        Err(_) => EventBody::Text(String::from_utf8_lossy(body)),
                    }
                }
            }
            BodyRule::HttpApi => match std::str::from_utf8(body) {
                Ok(text) if is_textual(content_type) => EventBody::Text(Cow::Borrowed(text)),
                _ => EventBody::Base64(STANDARD.encode(body)),
            },
        }
    }
}

impl<'a> Forwarded<'a> {
    fn of(parts: &'a Parts, ctx: &'a RequestContext) -> Self {
        let (proto, port) = forwarded_proto_port(&parts.uri, &parts.headers);
        Self {
            trace_id: ctx.trace_id.as_ref().map(|t| t.as_str()),
            for_: forwarded_for(&parts.headers, &ctx.identity.source_ip),
            proto,
            port,
        }
    }

    /// The headers as (name, value): capitalised as REST APIs write them, or in
    /// lower case as HTTP APIs write every header name.
    fn entries(&self, capitalised: bool) -> impl Iterator<Item = (&'static str, Cow<'_, str>)> {
        let name =
            |upper: &'static str, lower: &'static str| if capitalised { upper } else { lower };
        let trace = self
            .trace_id
            .map(|t| (name("X-Amzn-Trace-Id", "x-amzn-trace-id"), Cow::Borrowed(t)));
        let for_ = self
            .for_
            .as_deref()
            .map(|f| (name("X-Forwarded-For", "x-forwarded-for"), Cow::Borrowed(f)));
        let port = (
            name("X-Forwarded-Port", "x-forwarded-port"),
            Cow::Owned(self.port.to_string()),
        );
        let proto = (
            name("X-Forwarded-Proto", "x-forwarded-proto"),
            Cow::Borrowed(self.proto),
        );
        trace.into_iter().chain(for_).chain([port, proto])
    }
}

impl View<'_> {
    /// Whether a client header is left out of the event: hop-by-hop headers, the
    /// headers the gateway sets itself, and, per format, `Content-Length` (1.0 on
    /// REST APIs) or `Cookie` (2.0, which has `cookies`).
    fn skips(&self, name: &HeaderName) -> bool {
        if is_hop_by_hop(name)
            || name == X_FORWARDED_FOR
            || name == X_FORWARDED_PROTO
            || name == X_FORWARDED_PORT
            || name == X_AMZN_TRACE_ID
        {
            return true;
        }
        match self.shape.format {
            PayloadFormat::V1 => !self.shape.http_api && name == CONTENT_LENGTH,
            PayloadFormat::V2 => name == COOKIE,
        }
    }

    fn client_headers(&self) -> impl Iterator<Item = &HeaderName> {
        self.parts.headers.keys().filter(|name| !self.skips(name))
    }

    /// The path the request named, percent-decoded.
    fn decoded_path(&self) -> Cow<'_, str> {
        percent_decode_str(self.parts.uri.path()).decode_utf8_lossy()
    }

    /// The 1.0 `path`: the request path without the stage segment that an
    /// `execute-api` URL puts first.
    fn resource_relative_path(&self) -> Cow<'_, str> {
        let path = self.decoded_path();
        let stage = &*self.ctx.stage;
        if stage.is_empty() || stage == "$default" {
            return path;
        }
        let Some(rest) = path.strip_prefix('/').and_then(|p| p.strip_prefix(stage)) else {
            return path;
        };
        if rest.is_empty() {
            Cow::Owned("/".to_owned())
        } else if rest.starts_with('/') {
            Cow::Owned(rest.to_owned())
        } else {
            path
        }
    }

    fn request_id(&self) -> &str {
        if self.shape.http_api && !self.ctx.extended_request_id.is_empty() {
            &self.ctx.extended_request_id
        } else {
            &self.ctx.request_id
        }
    }

    fn protocol(&self) -> &str {
        if !self.ctx.protocol.is_empty() {
            return self.ctx.protocol;
        }
        match self.parts.version {
            Version::HTTP_10 => "HTTP/1.0",
            Version::HTTP_2 => "HTTP/2.0",
            _ => "HTTP/1.1",
        }
    }

    fn resource_path(&self) -> &str {
        if self.ctx.resource_path.is_empty() {
            &self.shape.resource
        } else {
            &self.ctx.resource_path
        }
    }

    fn has_path_params(&self) -> bool {
        self.params.is_some_and(|p| !p.is_empty())
    }
}

/// A header value as text; bytes that are not UTF-8 are replaced.
fn text(value: &http::HeaderValue) -> Cow<'_, str> {
    String::from_utf8_lossy(value.as_bytes())
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// A payload format 1.0 event.
struct V1Event<'v, 'a>(&'v View<'a>);

impl Serialize for V1Event<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let view = self.0;
        let mut map = serializer.serialize_map(None)?;
        if view.shape.http_api {
            map.serialize_entry("version", "1.0")?;
        }
        map.serialize_entry("resource", &view.shape.resource)?;
        map.serialize_entry("path", &view.resource_relative_path())?;
        map.serialize_entry("httpMethod", view.parts.method.as_str())?;
        // The forwarding headers are always there, so neither header map is empty.
        map.serialize_entry("headers", &SingleHeaders(view))?;
        map.serialize_entry("multiValueHeaders", &MultiHeaders(view))?;
        let has_query = !view.query.is_empty();
        map.serialize_entry(
            "queryStringParameters",
            &has_query.then_some(LastValues(&view.query)),
        )?;
        map.serialize_entry(
            "multiValueQueryStringParameters",
            &has_query.then_some(AllValues(&view.query)),
        )?;
        map.serialize_entry("requestContext", &V1Context(view))?;
        map.serialize_entry(
            "pathParameters",
            &view.has_path_params().then_some(Params(view.params)),
        )?;
        map.serialize_entry(
            "stageVariables",
            &(!view.shape.stage_variables.is_empty())
                .then_some(Variables(&view.shape.stage_variables)),
        )?;
        map.serialize_entry("body", &view.body.text())?;
        map.serialize_entry("isBase64Encoded", &view.body.is_base64())?;
        map.end()
    }
}

/// 1.0 `headers`: the last value of each header.
struct SingleHeaders<'v, 'a>(&'v View<'a>);

impl Serialize for SingleHeaders<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let view = self.0;
        let mut map = serializer.serialize_map(None)?;
        for name in view.client_headers() {
            if let Some(last) = view.parts.headers.get_all(name).iter().next_back() {
                map.serialize_entry(name.as_str(), &text(last))?;
            }
        }
        for (name, value) in view.forwarded.entries(!view.shape.http_api) {
            map.serialize_entry(name, &value)?;
        }
        map.end()
    }
}

/// 1.0 `multiValueHeaders`: every value of each header.
struct MultiHeaders<'v, 'a>(&'v View<'a>);

impl Serialize for MultiHeaders<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let view = self.0;
        let mut map = serializer.serialize_map(None)?;
        for name in view.client_headers() {
            let values: Vec<Cow<'_, str>> =
                view.parts.headers.get_all(name).iter().map(text).collect();
            map.serialize_entry(name.as_str(), &values)?;
        }
        for (name, value) in view.forwarded.entries(!view.shape.http_api) {
            map.serialize_entry(name, &[value])?;
        }
        map.end()
    }
}

/// 2.0 `headers`: repeated values joined with commas, `Cookie` left out.
struct JoinedHeaders<'v, 'a>(&'v View<'a>);

impl Serialize for JoinedHeaders<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let view = self.0;
        let mut map = serializer.serialize_map(None)?;
        for name in view.client_headers() {
            let mut values = view.parts.headers.get_all(name).iter();
            let Some(first) = values.next() else { continue };
            let mut joined = text(first);
            for value in values {
                let joined = joined.to_mut();
                joined.push(',');
                joined.push_str(&text(value));
            }
            map.serialize_entry(name.as_str(), &joined)?;
        }
        for (name, value) in view.forwarded.entries(false) {
            map.serialize_entry(name, &value)?;
        }
        map.end()
    }
}

/// Query parameters, last value of each.
struct LastValues<'q>(&'q IndexMap<String, Vec<String>>);

impl Serialize for LastValues<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(
            self.0
                .iter()
                .filter_map(|(name, values)| Some((name, values.last()?))),
        )
    }
}

/// Query parameters, all values of each.
struct AllValues<'q>(&'q IndexMap<String, Vec<String>>);

impl Serialize for AllValues<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter())
    }
}

/// Query parameters, repeated values joined with commas (2.0).
struct JoinedValues<'q>(&'q IndexMap<String, Vec<String>>);

impl Serialize for JoinedValues<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(name, values)| (name, values.join(","))))
    }
}

struct Params<'p>(Option<&'p PathParams>);

impl Serialize for Params<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.into_iter().flat_map(PathParams::iter))
    }
}

struct Variables<'v>(&'v StageVariables);

impl Serialize for Variables<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter())
    }
}

/// 1.0 `requestContext`.
struct V1Context<'v, 'a>(&'v View<'a>);

impl Serialize for V1Context<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let view = self.0;
        let ctx = view.ctx;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("accountId", &*ctx.account_id)?;
        map.serialize_entry("apiId", &*ctx.api_id)?;
        map.serialize_entry("authorizer", &V1Authorizer(&ctx.authorizer))?;
        map.serialize_entry("domainName", &ctx.domain_name)?;
        map.serialize_entry("domainPrefix", ctx.domain_prefix())?;
        map.serialize_entry("extendedRequestId", &ctx.extended_request_id)?;
        map.serialize_entry("httpMethod", view.parts.method.as_str())?;
        map.serialize_entry("identity", &V1Identity(ctx))?;
        let path = if ctx.path.is_empty() {
            view.parts.uri.path()
        } else {
            ctx.path.as_str()
        };
        map.serialize_entry("path", path)?;
        map.serialize_entry("protocol", view.protocol())?;
        map.serialize_entry("requestId", view.request_id())?;
        map.serialize_entry("requestTime", &ctx.request_time())?;
        map.serialize_entry("requestTimeEpoch", &ctx.request_time_epoch)?;
        map.serialize_entry("resourceId", &non_empty(&ctx.resource_id))?;
        map.serialize_entry("resourcePath", view.resource_path())?;
        map.serialize_entry("stage", &*ctx.stage)?;
        map.end()
    }
}

/// 1.0 `requestContext.identity`: every key, `null` when the gateway does not know
/// the value (Cognito identities, organisation ids).
struct V1Identity<'c>(&'c RequestContext);

impl Serialize for V1Identity<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let identity = &self.0.identity;
        let none: Option<&str> = None;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("accessKey", &identity.access_key)?;
        map.serialize_entry("accountId", &identity.account_id)?;
        map.serialize_entry("apiKey", &identity.api_key)?;
        map.serialize_entry("apiKeyId", &identity.api_key_id)?;
        map.serialize_entry("caller", &identity.caller)?;
        map.serialize_entry("cognitoAuthenticationProvider", &none)?;
        map.serialize_entry("cognitoAuthenticationType", &none)?;
        map.serialize_entry("cognitoIdentityId", &none)?;
        map.serialize_entry("cognitoIdentityPoolId", &none)?;
        map.serialize_entry("principalOrgId", &none)?;
        map.serialize_entry("sourceIp", &identity.source_ip)?;
        // AWS reports the signing principal as both `caller` and `user`.
        map.serialize_entry("user", &identity.caller)?;
        map.serialize_entry("userAgent", &identity.user_agent)?;
        map.serialize_entry("userArn", &identity.user_arn)?;
        map.end()
    }
}

/// 1.0 `requestContext.authorizer`: a Lambda authorizer's `principalId` and
/// context entries; a JWT's claims (as strings); else `{"claims": null, "scopes":
/// null}`, as an unauthorised request carries.
struct V1Authorizer<'c>(&'c AuthorizerContext);

impl Serialize for V1Authorizer<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let authorizer = self.0;
        let none: Option<&str> = None;
        let mut map = serializer.serialize_map(None)?;
        let lambda = authorizer.principal_id.is_some() || !authorizer.context.is_empty();
        if lambda {
            if let Some(principal) = &authorizer.principal_id {
                map.serialize_entry("principalId", principal)?;
            }
            for (key, value) in &authorizer.context {
                if key != "principalId" {
                    map.serialize_entry(key, value)?;
                }
            }
        }
        if !authorizer.claims.is_empty() {
            map.serialize_entry("claims", &Claims(&authorizer.claims))?;
            map.serialize_entry("scopes", &none)?;
        } else if !lambda {
            map.serialize_entry("claims", &none)?;
            map.serialize_entry("scopes", &none)?;
        }
        map.end()
    }
}

/// JWT claims with every value as a string, as API Gateway flattens them.
struct Claims<'c>(&'c serde_json::Map<String, serde_json::Value>);

impl Serialize for Claims<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(key, value)| {
            let text = match value {
                serde_json::Value::String(s) => Cow::Borrowed(s.as_str()),
                other => Cow::Owned(other.to_string()),
            };
            (key, text)
        }))
    }
}

/// A payload format 2.0 event.
struct V2Event<'v, 'a>(&'v View<'a>);

impl Serialize for V2Event<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let view = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("version", "2.0")?;
        map.serialize_entry("routeKey", &view.shape.route_key)?;
        map.serialize_entry("rawPath", &view.decoded_path())?;
        map.serialize_entry("rawQueryString", view.parts.uri.query().unwrap_or(""))?;
        let cookies = Cookies(&view.parts.headers);
        if cookies.iter().next().is_some() {
            map.serialize_entry("cookies", &cookies)?;
        }
        map.serialize_entry("headers", &JoinedHeaders(view))?;
        if !view.query.is_empty() {
            map.serialize_entry("queryStringParameters", &JoinedValues(&view.query))?;
        }
        map.serialize_entry("requestContext", &V2Context(view))?;
        if let Some(body) = view.body.text() {
            map.serialize_entry("body", body)?;
        }
        if view.has_path_params() {
            map.serialize_entry("pathParameters", &Params(view.params))?;
        }
        map.serialize_entry("isBase64Encoded", &view.body.is_base64())?;
        if !view.shape.stage_variables.is_empty() {
            map.serialize_entry("stageVariables", &Variables(&view.shape.stage_variables))?;
        }
        map.end()
    }
}

/// 2.0 `cookies`: each cookie of every `Cookie` header.
struct Cookies<'h>(&'h HeaderMap);

impl Cookies<'_> {
    fn iter(&self) -> impl Iterator<Item = &str> {
        self.0
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .map(str::trim)
            .filter(|c| !c.is_empty())
    }
}

impl Serialize for Cookies<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

/// 2.0 `requestContext`.
struct V2Context<'v, 'a>(&'v View<'a>);

impl Serialize for V2Context<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let view = self.0;
        let ctx = view.ctx;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("accountId", &*ctx.account_id)?;
        map.serialize_entry("apiId", &*ctx.api_id)?;
        let authorizer = V2Authorizer(ctx);
        if authorizer.is_present() {
            map.serialize_entry("authorizer", &authorizer)?;
        }
        map.serialize_entry("domainName", &ctx.domain_name)?;
        map.serialize_entry("domainPrefix", ctx.domain_prefix())?;
        map.serialize_entry("http", &V2Http(view))?;
        map.serialize_entry("requestId", view.request_id())?;
        map.serialize_entry("routeKey", &view.shape.route_key)?;
        map.serialize_entry("stage", &*ctx.stage)?;
        map.serialize_entry("time", &ctx.request_time())?;
        map.serialize_entry("timeEpoch", &ctx.request_time_epoch)?;
        map.end()
    }
}

/// 2.0 `requestContext.http`.
struct V2Http<'v, 'a>(&'v View<'a>);

impl Serialize for V2Http<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let view = self.0;
        let identity = &view.ctx.identity;
        let mut map = serializer.serialize_map(Some(5))?;
        map.serialize_entry("method", view.parts.method.as_str())?;
        map.serialize_entry("path", &view.decoded_path())?;
        map.serialize_entry("protocol", view.protocol())?;
        map.serialize_entry("sourceIp", &identity.source_ip)?;
        map.serialize_entry("userAgent", identity.user_agent.as_deref().unwrap_or(""))?;
        map.end()
    }
}

/// 2.0 `requestContext.authorizer`: `jwt` for verified claims, `lambda` for a
/// Lambda authorizer's context, `iam` for a signed request.
struct V2Authorizer<'c>(&'c RequestContext);

impl V2Authorizer<'_> {
    fn is_present(&self) -> bool {
        let authorizer = &self.0.authorizer;
        !authorizer.claims.is_empty()
            || authorizer.principal_id.is_some()
            || !authorizer.context.is_empty()
            || self.iam()
    }

    fn iam(&self) -> bool {
        let identity = &self.0.identity;
        identity.user_arn.is_some() || identity.access_key.is_some()
    }
}

impl Serialize for V2Authorizer<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let authorizer = &self.0.authorizer;
        let mut map = serializer.serialize_map(None)?;
        if !authorizer.claims.is_empty() {
            map.serialize_entry("jwt", &Jwt(authorizer))?;
        }
        if authorizer.principal_id.is_some() || !authorizer.context.is_empty() {
            map.serialize_entry("lambda", &LambdaContext(authorizer))?;
        }
        if self.iam() {
            map.serialize_entry("iam", &Iam(self.0))?;
        }
        map.end()
    }
}

struct Jwt<'c>(&'c AuthorizerContext);

impl Serialize for Jwt<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("claims", &Claims(&self.0.claims))?;
        map.serialize_entry("scopes", &self.0.scopes)?;
        map.end()
    }
}

struct LambdaContext<'c>(&'c AuthorizerContext);

impl Serialize for LambdaContext<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if let Some(principal) = &self.0.principal_id {
            map.serialize_entry("principalId", principal)?;
        }
        for (key, value) in &self.0.context {
            if key != "principalId" {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

struct Iam<'c>(&'c RequestContext);

impl Serialize for Iam<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let identity = &self.0.identity;
        let none: Option<&str> = None;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("accessKey", &identity.access_key)?;
        map.serialize_entry("accountId", &identity.account_id)?;
        map.serialize_entry("callerId", &identity.caller)?;
        map.serialize_entry("cognitoIdentity", &none)?;
        map.serialize_entry("principalOrgId", &none)?;
        map.serialize_entry("userArn", &identity.user_arn)?;
        map.serialize_entry("userId", &identity.caller)?;
        map.end()
    }
}

mod typed;

#[cfg(test)]
mod tests;
