//! The events a Lambda authorizer is sent, and the identity values read from a
//! request.
//!
//! Shapes (AWS's developer guide, "Input to an API Gateway Lambda authorizer" and
//! "HTTP API Lambda authorizer payload format"):
//!
//! - REST TOKEN: `type`, `authorizationToken`, `methodArn`, nothing else.
//! - REST REQUEST: `type`, `methodArn`, `resource`, `path`, `httpMethod`, `headers`,
//!   `multiValueHeaders`, `queryStringParameters`, `multiValueQueryStringParameters`,
//!   `pathParameters`, `stageVariables`, `requestContext`. The maps are `{}` when
//!   empty (AWS's example shows `"pathParameters": {}`), never `null`.
//! - HTTP API 1.0: the REST REQUEST event with `version: "1.0"` first, and the
//!   identity values joined with commas as both `identitySource` and
//!   `authorizationToken`.
//! - HTTP API 2.0: `version`, `type`, `routeArn`, `identitySource` (a list),
//!   `routeKey`, `rawPath`, `rawQueryString`, `cookies`, `headers`,
//!   `queryStringParameters`, `requestContext`, `pathParameters`, `stageVariables`.
//!   As in 2.0 proxy events, `cookies`, `queryStringParameters`, `pathParameters`
//!   and `stageVariables` are left out when there are none, header names are lower
//!   case and repeated values are joined with commas.
//!
//! `identitySource` is `null` when the authorizer names no identity source.

use std::borrow::Cow;

use gateway_core::PathParams;
use gateway_core::RequestContext;
use gateway_core::clock::Clock;
use gateway_core::context::{ClientAddr, query_pairs};
use gateway_core::stage::StageVariables;
use http::header::{COOKIE, USER_AGENT};
use http::{HeaderMap, Request, Version};
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value, json};

use super::config::{EventFormat, IdentitySource};
use crate::ApiScope;

/// What an event is written from, besides the request itself.
pub(crate) struct EventSource<'a> {
    pub(crate) format: EventFormat,
    pub(crate) scope: &'a ApiScope,
    /// Dates requests without a [`RequestContext`].
    pub(crate) clock: &'a Clock,
    pub(crate) stage_variables: &'a StageVariables,
    pub(crate) method_arn: &'a str,
    /// The identity values, in the order of the identity sources.
    pub(crate) identity: &'a [Cow<'a, str>],
}

/// The value of one identity source in `req`, `None` when it is missing or empty.
///
/// A header or query parameter given more than once counts with its last value
/// in REST APIs (as `headers` and `queryStringParameters` show it) and with its
/// values joined by commas in HTTP APIs (as 2.0 events show it).
pub(crate) fn identity_value<'r, B>(
    source: &IdentitySource,
    req: &'r Request<B>,
    stage_variables: &'r StageVariables,
    http_api: bool,
) -> Option<Cow<'r, str>> {
    let value: Cow<'r, str> = match source {
        IdentitySource::Header(name) => {
            let mut values = req.headers().get_all(name).iter();
            if http_api {
                let first = values.next()?;
                let mut joined = String::from_utf8_lossy(first.as_bytes());
                for value in values {
                    let joined = joined.to_mut();
                    joined.push(',');
                    joined.push_str(&String::from_utf8_lossy(value.as_bytes()));
                }
                joined
            } else {
                String::from_utf8_lossy(values.next_back()?.as_bytes())
            }
        }
        IdentitySource::Query(name) => {
            let query = req.uri().query()?;
            let mut found: Option<String> = None;
            for (key, value) in query_pairs(query) {
                if &key != name {
                    continue;
                }
                found = Some(match found {
                    Some(mut joined) if http_api => {
                        joined.push(',');
                        joined.push_str(&value);
                        joined
                    }
                    _ => value,
                });
            }
            Cow::Owned(found?)
        }
        IdentitySource::StageVariable(name) => Cow::Borrowed(stage_variables.get(name)?),
        IdentitySource::Context(name) => {
            let ctx = req.extensions().get::<RequestContext>()?;
            ctx.variable(name)?
        }
    };
    (!value.is_empty()).then_some(value)
}

/// Writes the event for `req`.
pub(crate) fn build<B>(
    source: &EventSource<'_>,
    req: &Request<B>,
) -> Result<Vec<u8>, serde_json::Error> {
    let event = match source.format {
        EventFormat::Token => json!({
            "type": "TOKEN",
            "authorizationToken": source.identity.first().map_or("", |t| t.as_ref()),
            "methodArn": source.method_arn,
        }),
        EventFormat::Request | EventFormat::HttpV1 => View::new(source, req).v1(),
        EventFormat::HttpV2 => View::new(source, req).v2(),
    };
    serde_json::to_vec(&event)
}

/// A request as the REQUEST events see it.
struct View<'a, B> {
    source: &'a EventSource<'a>,
    req: &'a Request<B>,
    ctx: Cow<'a, RequestContext>,
    /// Decoded query pairs, in order.
    query: Vec<(String, String)>,
}

impl<'a, B> View<'a, B> {
    fn new(source: &'a EventSource<'a>, req: &'a Request<B>) -> Self {
        let ctx = match req.extensions().get::<RequestContext>() {
            Some(ctx) => Cow::Borrowed(ctx),
            None => Cow::Owned(standalone_context(source.scope, source.clock, req)),
        };
        let query = req
            .uri()
            .query()
            .map(|q| query_pairs(q).collect())
            .unwrap_or_default();
        Self {
            source,
            req,
            ctx,
            query,
        }
    }

    fn http_api(&self) -> bool {
        matches!(
            self.source.format,
            EventFormat::HttpV1 | EventFormat::HttpV2
        )
    }

    fn decoded_path(&self) -> Cow<'a, str> {
        percent_decode_str(self.req.uri().path()).decode_utf8_lossy()
    }

    /// The path below the stage, as 1.0 events' `path` shows it.
    fn route_path(&self) -> String {
        self.ctx.route_path(&self.decoded_path()).to_owned()
    }

    fn resource(&self) -> String {
        if self.ctx.resource_path.is_empty() {
            self.route_path()
        } else {
            self.ctx.resource_path.to_string()
        }
    }

    fn joined_identity(&self) -> Value {
        if self.source.identity.is_empty() {
            return Value::Null;
        }
        Value::String(self.source.identity.join(","))
    }

    fn request_id(&self) -> &str {
        if self.http_api() && !self.ctx.extended_request_id.is_empty() {
            &self.ctx.extended_request_id
        } else {
            &self.ctx.request_id
        }
    }

    fn protocol(&self) -> &'static str {
        if !self.ctx.protocol.is_empty() {
            return self.ctx.protocol;
        }
        match self.req.version() {
            Version::HTTP_10 => "HTTP/1.0",
            Version::HTTP_2 => "HTTP/2.0",
            _ => "HTTP/1.1",
        }
    }

    fn user_agent(&self) -> Option<Cow<'_, str>> {
        match &self.ctx.identity.user_agent {
            Some(agent) => Some(Cow::Borrowed(agent)),
            None => self
                .req
                .headers()
                .get(USER_AGENT)
                .map(|v| String::from_utf8_lossy(v.as_bytes())),
        }
    }

    fn path_parameters(&self) -> Map<String, Value> {
        self.req
            .extensions()
            .get::<PathParams>()
            .map(|params| {
                params
                    .iter()
                    .map(|(k, v)| (k.to_owned(), Value::from(v)))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn stage_variables(&self) -> Map<String, Value> {
        self.source
            .stage_variables
            .iter()
            .map(|(k, v)| (k.to_owned(), Value::from(v)))
            .collect()
    }

    /// REST REQUEST and HTTP API 1.0 events.
    fn v1(&self) -> Value {
        let mut event = Map::new();
        if self.source.format == EventFormat::HttpV1 {
            event.insert("version".into(), "1.0".into());
        }
        event.insert("type".into(), "REQUEST".into());
        event.insert("methodArn".into(), self.source.method_arn.into());
        if self.source.format == EventFormat::HttpV1 {
            let joined = self.joined_identity();
            event.insert("identitySource".into(), joined.clone());
            event.insert("authorizationToken".into(), joined);
        }
        event.insert("resource".into(), self.resource().into());
        event.insert("path".into(), self.route_path().into());
        event.insert("httpMethod".into(), self.req.method().as_str().into());
        event.insert("headers".into(), last_headers(self.req.headers()).into());
        event.insert(
            "multiValueHeaders".into(),
            all_headers(self.req.headers()).into(),
        );
        let mut single = Map::new();
        let mut multi: Map<String, Value> = Map::new();
        for (name, value) in &self.query {
            single.insert(name.clone(), value.as_str().into());
            match multi.get_mut(name) {
                Some(Value::Array(values)) => values.push(value.as_str().into()),
                _ => {
                    multi.insert(name.clone(), Value::Array(vec![value.as_str().into()]));
                }
            }
        }
        event.insert("queryStringParameters".into(), single.into());
        event.insert("multiValueQueryStringParameters".into(), multi.into());
        event.insert("pathParameters".into(), self.path_parameters().into());
        event.insert("stageVariables".into(), self.stage_variables().into());
        event.insert("requestContext".into(), self.v1_context());
        Value::Object(event)
    }

    fn v1_context(&self) -> Value {
        let ctx = &self.ctx;
        let identity = &ctx.identity;
        let path = if ctx.path.is_empty() {
            self.req.uri().path()
        } else {
            ctx.path.as_str()
        };
        json!({
            "accountId": &*ctx.account_id,
            "apiId": &*ctx.api_id,
            "domainName": &ctx.domain_name,
            "domainPrefix": ctx.domain_prefix(),
            "extendedRequestId": &ctx.extended_request_id,
            "httpMethod": self.req.method().as_str(),
            "identity": {
                "accessKey": &identity.access_key,
                "accountId": &identity.account_id,
                "apiKey": &identity.api_key,
                "apiKeyId": &identity.api_key_id,
                "caller": &identity.caller,
                "cognitoAuthenticationProvider": null,
                "cognitoAuthenticationType": null,
                "cognitoIdentityId": null,
                "cognitoIdentityPoolId": null,
                "principalOrgId": null,
                "sourceIp": &identity.source_ip,
                "user": &identity.caller,
                "userAgent": self.user_agent(),
                "userArn": &identity.user_arn,
            },
            "path": path,
            "protocol": self.protocol(),
            "requestId": self.request_id(),
            "requestTime": ctx.request_time(),
            "requestTimeEpoch": ctx.request_time_epoch,
            "resourceId": (!ctx.resource_id.is_empty()).then_some(&*ctx.resource_id),
            "resourcePath": self.resource(),
            "stage": &*ctx.stage,
        })
    }

    /// HTTP API 2.0 events.
    fn v2(&self) -> Value {
        let route_key = if self.ctx.route_key.is_empty() {
            "$default"
        } else {
            &self.ctx.route_key
        };
        let mut event = Map::new();
        event.insert("version".into(), "2.0".into());
        event.insert("type".into(), "REQUEST".into());
        event.insert("routeArn".into(), self.source.method_arn.into());
        let identity = if self.source.identity.is_empty() {
            Value::Null
        } else {
            self.source
                .identity
                .iter()
                .map(|v| Value::from(v.as_ref()))
                .collect()
        };
        event.insert("identitySource".into(), identity);
        event.insert("routeKey".into(), route_key.into());
        event.insert("rawPath".into(), self.decoded_path().into());
        event.insert(
            "rawQueryString".into(),
            self.req.uri().query().unwrap_or("").into(),
        );
        let cookies: Vec<Value> = self
            .req
            .headers()
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(Value::from)
            .collect();
        if !cookies.is_empty() {
            event.insert("cookies".into(), cookies.into());
        }
        event.insert("headers".into(), joined_headers(self.req.headers()).into());
        if !self.query.is_empty() {
            let mut joined: Map<String, Value> = Map::new();
            for (name, value) in &self.query {
                match joined.get_mut(name) {
                    Some(Value::String(values)) => {
                        values.push(',');
                        values.push_str(value);
                    }
                    _ => {
                        joined.insert(name.clone(), value.as_str().into());
                    }
                }
            }
            event.insert("queryStringParameters".into(), joined.into());
        }
        event.insert("requestContext".into(), self.v2_context(route_key));
        let params = self.path_parameters();
        if !params.is_empty() {
            event.insert("pathParameters".into(), params.into());
        }
        let variables = self.stage_variables();
        if !variables.is_empty() {
            event.insert("stageVariables".into(), variables.into());
        }
        Value::Object(event)
    }

    fn v2_context(&self, route_key: &str) -> Value {
        let ctx = &self.ctx;
        json!({
            "accountId": &*ctx.account_id,
            "apiId": &*ctx.api_id,
            "domainName": &ctx.domain_name,
            "domainPrefix": ctx.domain_prefix(),
            "http": {
                "method": self.req.method().as_str(),
                "path": self.decoded_path(),
                "protocol": self.protocol(),
                "sourceIp": &ctx.identity.source_ip,
                "userAgent": self.user_agent().unwrap_or_default(),
            },
            "requestId": self.request_id(),
            "routeKey": route_key,
            "stage": &*ctx.stage,
            "time": ctx.request_time(),
            "timeEpoch": ctx.request_time_epoch,
        })
    }
}

/// The context of a request that reached the authorizer without the gateway in
/// front: the scope's API, account and stage, the peer's address and the time.
fn standalone_context<B>(scope: &ApiScope, clock: &Clock, req: &Request<B>) -> RequestContext {
    let mut ctx = RequestContext {
        api_id: scope.api_id.clone(),
        account_id: scope.account_id.clone(),
        stage: scope.stage.clone(),
        http_method: req.method().clone(),
        path: req.uri().path().to_owned(),
        request_time_epoch: gateway_core::context::epoch_millis(clock.now()),
        ..RequestContext::default()
    };
    if let Some(ClientAddr(addr)) = req.extensions().get::<ClientAddr>() {
        ctx.identity.source_ip = addr.ip().to_string();
    }
    ctx
}

fn text(value: &http::HeaderValue) -> Value {
    Value::String(String::from_utf8_lossy(value.as_bytes()).into_owned())
}

fn last_headers(headers: &HeaderMap) -> Map<String, Value> {
    headers
        .keys()
        .filter_map(|name| {
            let last = headers.get_all(name).iter().next_back()?;
            Some((name.as_str().to_owned(), text(last)))
        })
        .collect()
}

fn all_headers(headers: &HeaderMap) -> Map<String, Value> {
    headers
        .keys()
        .map(|name| {
            let values: Vec<Value> = headers.get_all(name).iter().map(text).collect();
            (name.as_str().to_owned(), Value::Array(values))
        })
        .collect()
}

fn joined_headers(headers: &HeaderMap) -> Map<String, Value> {
    headers
        .keys()
        .filter(|name| *name != COOKIE)
        .map(|name| {
            let joined: Vec<String> = headers
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect();
            (name.as_str().to_owned(), Value::String(joined.join(",")))
        })
        .collect()
}
