//! Events handed to functions in process as the Lambda runtime's own types
//! (`aws_lambda_events`' `ApiGatewayProxyRequest` and `ApiGatewayV2httpRequest`),
//! built straight from the request instead of written as JSON and parsed back.
//!
//! The value built here must equal what parsing the event's JSON as that type
//! gives, field for field; the tests check this for every shape of request. Where
//! the two could differ (a header value that does not parse back as a header
//! value, numbers out of range, or a build of `aws_lambda_events` that keeps
//! unknown fields), no value is built and the reader takes the JSON instead.

use std::collections::HashMap;
use std::sync::OnceLock;

use aws_lambda_events::apigw::{
    ApiGatewayProxyRequest, ApiGatewayRequestAuthorizer, ApiGatewayRequestIdentity,
    ApiGatewayV2httpRequest,
};
use http::{HeaderMap, HeaderName, HeaderValue};
use indexmap::IndexMap;
use query_map::QueryMap;
use serde::Serialize;

use super::{Cookies, V1Authorizer, V2Authorizer, View, non_empty, text};

/// The 1.0 event as `ApiGatewayProxyRequest`.
pub(super) fn v1(view: &View<'_>) -> Option<ApiGatewayProxyRequest> {
    if keeps_unknown_fields() {
        return None;
    }
    let ctx = view.ctx;
    let mut event = ApiGatewayProxyRequest::default();
    event.resource = Some(view.shape.resource.clone());
    event.path = Some(view.resource_relative_path().into_owned());
    event.http_method = view.parts.method.clone();

    let mut headers = HeaderMap::with_capacity(view.parts.headers.keys_len() + 4);
    let mut multi = HeaderMap::with_capacity(view.parts.headers.keys_len() + 4);
    for name in view.client_headers() {
        for value in view.parts.headers.get_all(name) {
            multi.append(name.clone(), reparsed(value)?);
        }
        if let Some(last) = view.parts.headers.get_all(name).iter().next_back() {
            headers.insert(name.clone(), reparsed(last)?);
        }
    }
    for (name, value) in view.forwarded.entries(false) {
        let name = HeaderName::from_static(name);
        let value = HeaderValue::from_str(&value).ok()?;
        multi.append(name.clone(), value.clone());
        headers.insert(name, value);
    }
    event.headers = headers;
    event.multi_value_headers = multi;

    event.query_string_parameters = query(&view.query, |values| {
        values
            .last()
            .map(|last| vec![last.clone()])
            .unwrap_or_default()
    });
    event.multi_value_query_string_parameters = query(&view.query, <[String]>::to_vec);
    event.path_parameters = path_parameters(view);
    event.stage_variables = stage_variables(view);
    event.body = view.body.text().map(str::to_owned);
    event.is_base64_encoded = view.body.is_base64();

    let context = &mut event.request_context;
    context.account_id = Some(ctx.account_id.to_string());
    context.apiid = Some(ctx.api_id.to_string());
    context.authorizer = v1_authorizer(view)?;
    context.domain_name = Some(ctx.domain_name.clone());
    context.domain_prefix = Some(ctx.domain_prefix().to_owned());
    context.http_method = view.parts.method.clone();
    context.identity = identity(view);
    let path = if ctx.path.is_empty() {
        view.parts.uri.path()
    } else {
        ctx.path.as_str()
    };
    context.path = Some(path.to_owned());
    context.protocol = Some(view.protocol().to_owned());
    context.request_id = Some(view.request_id().to_owned());
    context.request_time = Some(ctx.request_time());
    context.request_time_epoch = i64::try_from(ctx.request_time_epoch).ok()?;
    context.resource_id = non_empty(&ctx.resource_id).map(str::to_owned);
    context.resource_path = Some(view.resource_path().to_owned());
    context.stage = Some(ctx.stage.to_string());
    Some(event)
}

/// The 2.0 event as `ApiGatewayV2httpRequest`.
pub(super) fn v2(view: &View<'_>) -> Option<ApiGatewayV2httpRequest> {
    if keeps_unknown_fields() {
        return None;
    }
    let ctx = view.ctx;
    let mut event = ApiGatewayV2httpRequest::default();
    event.version = Some("2.0".to_owned());
    event.route_key = Some(view.shape.route_key.clone());
    event.raw_path = Some(view.decoded_path().into_owned());
    event.raw_query_string = Some(view.parts.uri.query().unwrap_or("").to_owned());
    let cookies = Cookies(&view.parts.headers);
    if cookies.iter().next().is_some() {
        event.cookies = Some(cookies.iter().map(str::to_owned).collect());
    }

    let mut headers = HeaderMap::with_capacity(view.parts.headers.keys_len() + 4);
    for name in view.client_headers() {
        let mut values = view.parts.headers.get_all(name).iter();
        let Some(first) = values.next() else { continue };
        let value = match values.next() {
            None => reparsed(first)?,
            Some(second) => {
                let mut joined = text(first).into_owned();
                for value in std::iter::once(second).chain(values) {
                    joined.push(',');
                    joined.push_str(&text(value));
                }
                HeaderValue::from_str(&joined).ok()?
            }
        };
        headers.insert(name.clone(), value);
    }
    for (name, value) in view.forwarded.entries(false) {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(&value).ok()?,
        );
    }
    event.headers = headers;
    // The event joins repeated values with commas, and the runtime's type splits
    // every value at its commas again.
    event.query_string_parameters = query(&view.query, |values| {
        values
            .iter()
            .flat_map(|value| value.split(','))
            .map(str::to_owned)
            .collect()
    });
    event.path_parameters = path_parameters(view);
    event.stage_variables = stage_variables(view);
    event.body = view.body.text().map(str::to_owned);
    event.is_base64_encoded = view.body.is_base64();

    let context = &mut event.request_context;
    context.account_id = Some(ctx.account_id.to_string());
    context.apiid = Some(ctx.api_id.to_string());
    let authorizer = V2Authorizer(ctx);
    if authorizer.is_present() {
        context.authorizer = through_json(&authorizer)?;
    }
    context.domain_name = Some(ctx.domain_name.clone());
    context.domain_prefix = Some(ctx.domain_prefix().to_owned());
    context.http.method = view.parts.method.clone();
    context.http.path = Some(view.decoded_path().into_owned());
    context.http.protocol = Some(view.protocol().to_owned());
    context.http.source_ip = Some(ctx.identity.source_ip.clone());
    context.http.user_agent = Some(ctx.identity.user_agent.clone().unwrap_or_default());
    context.request_id = Some(view.request_id().to_owned());
    context.route_key = Some(view.shape.route_key.clone());
    context.stage = Some(ctx.stage.to_string());
    context.time = Some(ctx.request_time());
    context.time_epoch = i64::try_from(ctx.request_time_epoch).ok()?;
    Some(event)
}

/// A header value as the event's JSON carries it and the runtime parses it back:
/// the same value when it is visible ASCII, else its UTF-8 reading when that is
/// still a header value.
fn reparsed(value: &HeaderValue) -> Option<HeaderValue> {
    if value.to_str().is_ok() {
        return Some(value.clone());
    }
    HeaderValue::from_str(&text(value)).ok()
}

fn query(
    query: &IndexMap<String, Vec<String>>,
    values: impl Fn(&[String]) -> Vec<String>,
) -> QueryMap {
    let map: HashMap<String, Vec<String>> = query
        .iter()
        .map(|(name, all)| (name.clone(), values(all)))
        .collect();
    QueryMap::from(map)
}

fn path_parameters(view: &View<'_>) -> HashMap<String, String> {
    view.params
        .into_iter()
        .flat_map(|params| params.iter())
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

fn stage_variables(view: &View<'_>) -> HashMap<String, String> {
    view.shape
        .stage_variables
        .iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

/// 1.0 `requestContext.identity`; the keys the gateway leaves `null` stay `None`.
fn identity(view: &View<'_>) -> ApiGatewayRequestIdentity {
    let known = &view.ctx.identity;
    let mut identity = ApiGatewayRequestIdentity::default();
    identity.access_key.clone_from(&known.access_key);
    identity.account_id.clone_from(&known.account_id);
    identity.api_key.clone_from(&known.api_key);
    identity.api_key_id.clone_from(&known.api_key_id);
    identity.caller.clone_from(&known.caller);
    identity.source_ip = Some(known.source_ip.clone());
    identity.user.clone_from(&known.caller);
    identity.user_agent.clone_from(&known.user_agent);
    identity.user_arn.clone_from(&known.user_arn);
    identity
}

/// 1.0 `requestContext.authorizer`: the runtime's type keeps its keys as JSON
/// values, so they are taken from the same writer the JSON event uses.
fn v1_authorizer(view: &View<'_>) -> Option<ApiGatewayRequestAuthorizer> {
    let fields: Option<HashMap<String, serde_json::Value>> =
        through_json(&V1Authorizer(&view.ctx.authorizer))?;
    let mut authorizer = ApiGatewayRequestAuthorizer::default();
    if let Some(fields) = fields {
        authorizer.fields = fields;
    }
    Some(authorizer)
}

/// A part of the event written as JSON and read back as the runtime reads it: for
/// the rare, nested parts whose typed form follows the runtime's own rules.
fn through_json<T: serde::de::DeserializeOwned>(part: &impl Serialize) -> Option<T> {
    let json = serde_json::to_vec(part).ok()?;
    serde_json::from_slice(&json).ok()
}

/// Whether this build of `aws_lambda_events` keeps the keys it does not know
/// (its `catch-all-fields` feature, which another crate in the build may turn
/// on). Built events would lack them, so then every event goes through JSON.
fn keeps_unknown_fields() -> bool {
    static KEEPS: OnceLock<bool> = OnceLock::new();
    *KEEPS.get_or_init(|| {
        let probe = br#"{"httpMethod":"GET","requestContext":{"httpMethod":"GET"},"unknownKey":1}"#;
        serde_json::from_slice::<ApiGatewayProxyRequest>(probe)
            .ok()
            .and_then(|event| serde_json::to_value(event).ok())
            .is_none_or(|json| json.get("unknownKey").is_some())
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayV2httpRequest};
    use bytes::Bytes;
    use gateway_core::context::{AuthorizerContext, Identity, RequestContext};
    use gateway_core::lambda::Payload;
    use gateway_core::router::{MatchMode, PathParams, Router};
    use gateway_core::stage::StageVariables;
    use http::{HeaderValue, Method, Request};
    use proptest::prelude::*;
    use serde::de::DeserializeOwned;

    use super::super::{BodyRule, EventShape, PayloadFormat, ProxyEvent};
    use crate::lambda::media::BinaryMediaTypes;

    /// The three ways a route writes events.
    fn shapes(variables: &StageVariables) -> [EventShape; 3] {
        let shape = |format, http_api| EventShape {
            format,
            http_api,
            resource: "/pets/{id}".to_owned(),
            route_key: "POST /pets/{id}".to_owned(),
            stage_variables: variables.clone(),
            body_rule: if http_api {
                BodyRule::HttpApi
            } else {
                BodyRule::BinaryTypes(BinaryMediaTypes::new(&["image/*".to_owned()]))
            },
        };
        [
            shape(PayloadFormat::V1, false),
            shape(PayloadFormat::V1, true),
            shape(PayloadFormat::V2, true),
        ]
    }

    fn params(path: &str) -> PathParams {
        let mut router = Router::new(MatchMode::ResourceFirst);
        router
            .insert(&gateway_core::model::RouteMethod::Any, "/pets/{id}", ())
            .unwrap();
        router.find(&Method::POST, path).unwrap().params
    }

    /// Parses the event's JSON as `T` and takes the built `T`, through the payload
    /// the way a function in process reads it; the two must agree.
    fn agree<T>(shape: &EventShape, parts: &Arc<http::request::Parts>, body: &[u8]) -> bool
    where
        T: DeserializeOwned + PartialEq + std::fmt::Debug + 'static,
    {
        let json = shape.build(parts, body).unwrap();
        let parsed = serde_json::from_slice::<T>(&json);
        let event = ProxyEvent::new(
            Arc::new(shape.clone()),
            Arc::clone(parts),
            Bytes::copy_from_slice(body),
        );
        let built = PayloadValueExt::typed::<T>(&event);
        match (parsed, built) {
            (Ok(parsed), Some(built)) => {
                assert_eq!(parsed, built, "{}", String::from_utf8_lossy(&json));
                // And through the payload, as `InProcessFunction` reads it.
                let read: T = Payload::lazy(event).deserialize().unwrap();
                assert_eq!(read, parsed);
                true
            }
            (Err(_), None) | (Ok(_), None) => false,
            (Err(e), Some(built)) => {
                panic!("built {built:?} where the JSON does not parse ({e})")
            }
        }
    }

    /// `to_typed` for a known type.
    trait PayloadValueExt {
        fn typed<T: 'static>(&self) -> Option<T>;
    }

    impl PayloadValueExt for ProxyEvent {
        fn typed<T: 'static>(&self) -> Option<T> {
            use gateway_core::lambda::PayloadValue as _;
            self.to_typed(std::any::TypeId::of::<T>())
                .and_then(|any| any.downcast::<T>().ok())
                .map(|t| *t)
        }
    }

    /// Checks a request in all three shapes; `built` says whether each shape must
    /// have built its event rather than left it to the JSON.
    fn check(req: Request<()>, body: &[u8], variables: &StageVariables, built: bool) {
        let (parts, ()) = req.into_parts();
        let parts = Arc::new(parts);
        for shape in shapes(variables) {
            let done = match shape.format {
                PayloadFormat::V1 => agree::<ApiGatewayProxyRequest>(&shape, &parts, body),
                PayloadFormat::V2 => agree::<ApiGatewayV2httpRequest>(&shape, &parts, body),
            };
            assert_eq!(
                done, built,
                "{:?} http_api={}",
                shape.format, shape.http_api
            );
        }
    }

    fn context() -> RequestContext {
        RequestContext {
            request_id: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef".into(),
            extended_request_id: "ABCDEFGHIJKLMN=".into(),
            api_id: "a1b2c3d4e5".into(),
            account_id: "123456789012".into(),
            stage: "prod".into(),
            resource_id: "roq9wj".into(),
            resource_path: "/pets/{id}".into(),
            http_method: Method::POST,
            path: "/prod/pets/42".into(),
            protocol: "HTTP/1.1",
            request_time_epoch: 1_583_349_317_135,
            domain_name: "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com".into(),
            identity: Identity {
                source_ip: "203.0.113.9".into(),
                user_agent: Some("test/1.0".into()),
                ..Identity::default()
            },
            trace_id: gateway_core::observe::trace::TraceId::parse(
                "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
            ),
            ..RequestContext::default()
        }
    }

    fn request(context: Option<RequestContext>) -> Request<()> {
        let mut req = Request::post("/prod/pets/42?verbose=true&tag=a&tag=b%2Cc&empty=")
            .header("host", "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com")
            .header("content-type", "application/json")
            .header("accept", "text/html")
            .header("accept", "application/json")
            .header("cookie", "a=1; b=2")
            .header("cookie", "c=3")
            .header("x-forwarded-for", "198.51.100.7")
            .header("content-length", "7")
            .header("connection", "keep-alive")
            .body(())
            .unwrap();
        req.extensions_mut().insert(params("/pets/42"));
        if let Some(context) = context {
            req.extensions_mut().insert(context);
        }
        req
    }

    #[test]
    fn built_events_equal_their_parsed_json() {
        let mut variables = StageVariables::new();
        variables.insert("alias", "live").unwrap();
        for vars in [StageVariables::new(), variables] {
            check(request(Some(context())), br#"{"a":"b"}"#, &vars, true);
            check(request(None), b"", &vars, true);
            let bare = Request::get("/pets").body(()).unwrap();
            check(bare, b"", &vars, true);
        }
    }

    #[test]
    fn authorizers_identities_and_bodies_agree() {
        let none = StageVariables::new();
        let mut lambda = context();
        lambda.authorizer = AuthorizerContext {
            principal_id: Some("user-1".into()),
            context: serde_json::from_str(r#"{"tier":"gold","n":3,"ok":true,"f":1.5}"#).unwrap(),
            ..AuthorizerContext::default()
        };
        let mut jwt = context();
        jwt.authorizer = AuthorizerContext {
            claims: serde_json::from_str(r#"{"sub":"abc","exp":1700000000,"groups":["a"]}"#)
                .unwrap(),
            scopes: Some(vec!["read".into(), "write".into()]),
            ..AuthorizerContext::default()
        };
        let mut iam = context();
        iam.identity = Identity {
            access_key: Some("AKIDEXAMPLE".into()),
            account_id: Some("111122223333".into()),
            caller: Some("AIDACKCEVSQ6C2EXAMPLE".into()),
            user_arn: Some("arn:aws:iam::111122223333:user/alice".into()),
            api_key: Some("key".into()),
            api_key_id: Some("key-id".into()),
            ..iam.identity
        };
        let mut no_resource = context();
        no_resource.resource_id = "".into();
        no_resource.path = String::new();
        no_resource.resource_path = "".into();
        no_resource.domain_name = "localhost".into();
        for ctx in [lambda, jwt, iam, no_resource] {
            check(request(Some(ctx)), b"{}", &none, true);
        }
        let png = |body: &[u8]| {
            let req = Request::post("/prod/pets/7")
                .header("content-type", "image/png")
                .body(())
                .unwrap();
            check(req, body, &none, true);
        };
        png(&[0x89, b'P', b'N', b'G', 0, 0xff]);
        png(b"");
        let latin = Request::post("/prod/pets/7")
            .header("content-type", "text/plain")
            .body(())
            .unwrap();
        check(latin, &[b'a', 0xe9, b'b'], &none, true);
    }

    #[test]
    fn header_values_beyond_ascii_read_back_as_the_json_carries_them() {
        let none = StageVariables::new();
        // UTF-8 beyond ASCII reads back as itself.
        let mut req = request(Some(context()));
        req.headers_mut().insert(
            "x-name",
            HeaderValue::from_bytes("café".as_bytes()).unwrap(),
        );
        check(req, b"", &none, true);
        // Bytes that are not UTF-8 read back replaced, as the JSON carries them.
        let mut req = request(Some(context()));
        req.headers_mut()
            .insert("x-raw", HeaderValue::from_bytes(b"a\xffb").unwrap());
        check(req, b"", &none, true);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn arbitrary_headers_queries_and_bodies_agree(
            values in proptest::collection::vec(proptest::collection::vec(
                prop_oneof![Just(b'\t'), 0x20u8..0x7f, 0x80u8..=0xff], 0..12), 0..4),
            query in "[a-z%,=&+0-9]{0,24}",
            body in proptest::collection::vec(any::<u8>(), 0..32),
            json in any::<bool>(),
        ) {
            let uri = format!("/prod/pets/x%2Fy?{query}");
            let Ok(mut req) = Request::post(uri.as_str())
                .header("content-type", if json { "application/json" } else { "image/gif" })
                .body(())
            else {
                return Ok(());
            };
            for value in &values {
                if let Ok(value) = HeaderValue::from_bytes(value) {
                    req.headers_mut().append("x-any", value);
                }
            }
            req.extensions_mut().insert(params("/pets/x%2Fy"));
            req.extensions_mut().insert(context());
            let (parts, ()) = req.into_parts();
            let parts = Arc::new(parts);
            for shape in shapes(&StageVariables::new()) {
                // Whether built or left to the JSON, never a different event.
                match shape.format {
                    PayloadFormat::V1 => agree::<ApiGatewayProxyRequest>(&shape, &parts, &body),
                    PayloadFormat::V2 => agree::<ApiGatewayV2httpRequest>(&shape, &parts, &body),
                };
            }
        }
    }
}
