//! AWS_PROXY integrations: Lambda proxy events and responses, through compiled
//! routes and in-process functions.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::apigw::{
    ApiGatewayProxyRequest, ApiGatewayProxyResponse, ApiGatewayV2httpRequest,
    ApiGatewayV2httpResponse,
};
use aws_lambda_events::encodings::Body as LambdaBody;
use bytes::Bytes;
use gateway_core::body::Body;
use gateway_core::context::{AuthorizerContext, Identity, RequestContext};
use gateway_core::error::GatewayError;
use gateway_core::lambda::{
    Invocation, InvocationOutput, InvokeError, InvokeFuture, LambdaInvoker, Payload, SharedInvoker,
};
use gateway_core::model::{ApiProtocol, Integration, IntegrationType, Route, RouteMethod};
use gateway_core::observe::trace::TraceId;
use gateway_core::stage::StageVariables;
use gateway_integrations::lambda::{Functions, InProcessFunction};
use gateway_integrations::{
    CompileContext, CompileError, HttpClient, IntegrationService, IntegrationStatus, compile,
};
use http::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};

use support::{TRACE, body_bytes, body_json, call, path_params};

const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:pets";

fn invocation_uri(function: &str) -> String {
    format!("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{function}/invocations")
}

/// An AWS_PROXY integration invoking `uri`.
fn lambda_integration(uri: &str) -> Integration {
    let mut integration = Integration::new(IntegrationType::AwsProxy);
    integration.uri = Some(uri.to_owned());
    integration.http_method = Some("POST".to_owned());
    integration
}

/// What a route is compiled with.
struct Setup {
    protocol: ApiProtocol,
    variables: Vec<(&'static str, &'static str)>,
    binary: Vec<String>,
}

impl Setup {
    fn rest() -> Self {
        Self {
            protocol: ApiProtocol::Rest,
            variables: Vec::new(),
            binary: Vec::new(),
        }
    }

    fn http() -> Self {
        Self {
            protocol: ApiProtocol::Http,
            ..Self::rest()
        }
    }

    fn variables(mut self, variables: &[(&'static str, &'static str)]) -> Self {
        self.variables = variables.to_vec();
        self
    }

    fn binary(mut self, types: &[&str]) -> Self {
        self.binary = types.iter().map(|t| (*t).to_owned()).collect();
        self
    }

    fn try_compile(
        &self,
        route: &Route,
        invoker: &SharedInvoker,
    ) -> Result<IntegrationService, CompileError> {
        let mut variables = StageVariables::new();
        for (name, value) in &self.variables {
            variables.insert(*name, *value).unwrap();
        }
        let client = HttpClient::new();
        let ctx = CompileContext::new(&variables, &client, self.protocol)
            .with_invoker(invoker)
            .with_binary_media_types(&self.binary);
        compile(route, &ctx)
    }

    fn compile(&self, route: &Route, invoker: &SharedInvoker) -> IntegrationService {
        self.try_compile(route, invoker).unwrap()
    }
}

/// An invoker that keeps every invocation and answers through `inner`.
#[derive(Debug, Clone)]
struct Recording {
    seen: Arc<Mutex<Vec<Invocation>>>,
    inner: SharedInvoker,
}

impl Recording {
    fn new(inner: SharedInvoker) -> Self {
        Self {
            seen: Arc::new(Mutex::new(Vec::new())),
            inner,
        }
    }

    /// The last invocation, with the event as JSON.
    fn last(&self) -> Invocation {
        let seen = self.seen.lock().unwrap();
        let last = seen.last().expect("an invocation");
        Invocation {
            function: last.function.clone(),
            payload: Payload::json(last.payload.to_json().unwrap()),
            trace_id: last.trace_id.clone(),
        }
    }

    fn last_event(&self) -> Value {
        self.last().payload.deserialize().unwrap()
    }

    fn shared(&self) -> SharedInvoker {
        Arc::new(self.clone())
    }
}

impl LambdaInvoker for Recording {
    fn invoke(&self, invocation: Invocation) -> InvokeFuture {
        // The event's JSON, as an invoker sending it elsewhere would write it; the
        // inner invoker still gets the event as it came.
        let json = invocation
            .payload
            .to_json()
            .expect("the event writes as JSON");
        self.seen.lock().unwrap().push(Invocation {
            function: invocation.function.clone(),
            payload: Payload::json(json),
            trace_id: invocation.trace_id.clone(),
        });
        self.inner.invoke(invocation)
    }
}

/// An invoker that answers every invocation with the same outcome: a JSON result
/// with its function error, if any, or an invocation error.
#[derive(Debug, Clone)]
struct Answer(Result<(Bytes, Option<String>), InvokeError>);

impl LambdaInvoker for Answer {
    fn invoke(&self, _invocation: Invocation) -> InvokeFuture {
        let outcome = self
            .0
            .clone()
            .map(|(payload, function_error)| InvocationOutput {
                payload: payload.into(),
                function_error,
            });
        Box::pin(std::future::ready(outcome))
    }
}

fn answering(payload: &str) -> SharedInvoker {
    Arc::new(Answer(Ok((
        Bytes::copy_from_slice(payload.as_bytes()),
        None,
    ))))
}

/// A function answering every event with `response`.
fn replying(response: Value) -> SharedInvoker {
    InProcessFunction::new(tower::service_fn(move |_event: Value| {
        let response = response.clone();
        async move { Ok::<_, Infallible>(response) }
    }))
    .shared()
}

fn ok_function() -> SharedInvoker {
    replying(json!({"statusCode": 200, "body": "ok"}))
}

/// A REST request context, as the pipeline builds it for stage `prod`.
fn rest_context(path: &str) -> RequestContext {
    RequestContext {
        request_id: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef".into(),
        extended_request_id: "ABCDEFGHIJKLMN=".into(),
        api_id: "a1b2c3d4e5".into(),
        account_id: "123456789012".into(),
        stage: "prod".into(),
        resource_id: "roq9wj".into(),
        resource_path: "/pets/{id}".into(),
        http_method: Method::GET,
        path: path.to_owned(),
        protocol: "HTTP/1.1",
        request_time_epoch: 1_583_349_317_135,
        domain_name: "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com".into(),
        identity: Identity {
            source_ip: support::CLIENT_IP.into(),
            user_agent: Some("test-agent/1.0".into()),
            ..Identity::default()
        },
        trace_id: TraceId::parse(TRACE),
        ..RequestContext::default()
    }
}

/// A request as the router hands it to a route on `template`.
fn routed(
    method: Method,
    template: &str,
    uri: &str,
    ctx: RequestContext,
    body: Body,
) -> Request<Body> {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .body(body)
        .unwrap();
    // The router matches the path after the stage segment.
    let path = req.uri().path().to_owned();
    let stage_prefix = format!("/{}", ctx.stage);
    let route_path = path
        .strip_prefix(&stage_prefix)
        .filter(|rest| rest.starts_with('/'))
        .unwrap_or(&path);
    req.extensions_mut()
        .insert(path_params(template, route_path));
    req.extensions_mut().insert(ctx);
    req
}

fn gateway_error(response: &Response<Body>) -> Option<String> {
    response
        .extensions()
        .get::<GatewayError>()
        .map(|e| e.kind().as_str().to_owned())
}

/// How a documented event and ours differ: a documented key we lack, a key we add
/// that is not documented, `null` on one side only, or another JSON type. Paths
/// in `skip` are not compared; paths in `data` are request data (header or query
/// maps), compared as maps only.
fn shape_differences(
    doc: &Value,
    ours: &Value,
    skip: &[&str],
    data: &[&str],
    extra: &[&str],
) -> Vec<String> {
    fn walk(
        doc: &Value,
        ours: &Value,
        path: &str,
        rules: (&[&str], &[&str], &[&str]),
        out: &mut Vec<String>,
    ) {
        let (skip, data, extra) = rules;
        if skip.contains(&path) {
            return;
        }
        match (doc, ours) {
            (Value::Null, Value::Null) => {}
            (Value::Null, other) => out.push(format!("{path}: AWS sends null, we send {other}")),
            (_, Value::Null) => out.push(format!("{path}: AWS sends a value, we send null")),
            (Value::Object(_), Value::Object(_)) if data.contains(&path) => {}
            (Value::Object(doc), Value::Object(ours)) => {
                for (key, value) in doc {
                    let child = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    if skip.contains(&child.as_str()) {
                        continue;
                    }
                    match ours.get(key) {
                        Some(ours) => walk(value, ours, &child, rules, out),
                        None => out.push(format!("{child}: documented, missing from ours")),
                    }
                }
                for key in ours.keys().filter(|k| !doc.contains_key(*k)) {
                    let child = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    if !extra.contains(&child.as_str()) {
                        out.push(format!("{child}: ours, not documented"));
                    }
                }
            }
            (Value::Array(_), Value::Array(_))
            | (Value::String(_), Value::String(_))
            | (Value::Number(_), Value::Number(_))
            | (Value::Bool(_), Value::Bool(_)) => {}
            (doc, ours) => out.push(format!("{path}: AWS sends {doc}, we send {ours}")),
        }
    }
    let mut out = Vec::new();
    walk(doc, ours, "", (skip, data, extra), &mut out);
    out
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/lambda_events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

const HEADER_AND_QUERY_MAPS: [&str; 4] = [
    "headers",
    "multiValueHeaders",
    "queryStringParameters",
    "multiValueQueryStringParameters",
];

#[tokio::test]
async fn rest_events_have_the_documented_shape() {
    let recording = Recording::new(ok_function());
    let invoker = recording.shared();
    let route = Route::new(RouteMethod::Any, "/{proxy+}")
        .with_integration(lambda_integration(&invocation_uri(FUNCTION_ARN)));
    let service = Setup::rest()
        .variables(&[("stageVariableName", "stageVariableValue")])
        .compile(&route, &invoker);
    let mut ctx = rest_context("/testStage/hello/world");
    ctx.stage = "testStage".into();
    ctx.resource_path = "/{proxy+}".into();
    let req = Request::builder()
        .method(Method::POST)
        .uri("/testStage/hello/world?name=me&multivalueName=you&multivalueName=me")
        .header("content-type", "application/json")
        .header("headerName", "headerValue")
        .header("host", "gy415nuibc.execute-api.us-east-1.amazonaws.com")
        .body(Body::from("{\r\n\t\"a\": 1\r\n}"))
        .unwrap();
    let (mut parts, body) = req.into_parts();
    parts
        .extensions
        .insert(path_params("/{proxy+}", "/hello/world"));
    parts.extensions.insert(ctx);
    let response = call(&service, Request::from_parts(parts, body)).await;
    assert_eq!(response.status(), StatusCode::OK);

    let ours = recording.last_event();
    let documented = fixture("rest-proxy-input.json");
    let differences = shape_differences(
        &documented,
        &ours,
        &[],
        &HEADER_AND_QUERY_MAPS,
        // Keys AWS's newer examples and its `$context` reference add.
        &[
            "requestContext.authorizer",
            "requestContext.domainName",
            "requestContext.domainPrefix",
            "requestContext.extendedRequestId",
            "requestContext.path",
            "requestContext.protocol",
            "requestContext.requestTime",
            "requestContext.requestTimeEpoch",
            "requestContext.identity.accessKey",
            "requestContext.identity.apiKeyId",
            "requestContext.identity.principalOrgId",
        ],
    );
    assert!(differences.is_empty(), "{differences:#?}\n{ours:#}");
    // The values the documented request determines are the documented ones.
    for key in [
        "resource",
        "path",
        "httpMethod",
        "queryStringParameters",
        "multiValueQueryStringParameters",
        "pathParameters",
        "stageVariables",
        "body",
        "isBase64Encoded",
    ] {
        assert_eq!(ours[key], documented[key], "{key}");
    }
    assert_eq!(ours["headers"]["headername"], "headerValue");
    assert_eq!(
        ours["multiValueHeaders"]["content-type"],
        json!(["application/json"])
    );
    assert_eq!(ours["headers"]["X-Forwarded-For"], support::CLIENT_IP);
    assert_eq!(ours["headers"]["X-Amzn-Trace-Id"], TRACE);
    assert_eq!(ours["requestContext"]["path"], "/testStage/hello/world");
    assert_eq!(
        ours["requestContext"]["requestTime"],
        "04/Mar/2020:19:15:17 +0000"
    );
    assert_eq!(ours["requestContext"]["resourceId"], "roq9wj");
    assert_eq!(
        ours["requestContext"]["authorizer"],
        json!({"claims": null, "scopes": null})
    );
    // The event deserializes into the Rust runtime's event type.
    let typed: ApiGatewayProxyRequest = serde_json::from_value(ours).unwrap();
    assert_eq!(typed.http_method, Method::POST);
    assert_eq!(typed.path.as_deref(), Some("/hello/world"));
    assert_eq!(
        typed
            .multi_value_query_string_parameters
            .all("multivalueName"),
        Some(vec!["you", "me"])
    );
    assert_eq!(typed.path_parameters["proxy"], "hello/world");
    assert_eq!(
        typed.stage_variables["stageVariableName"],
        "stageVariableValue"
    );
    assert_eq!(typed.request_context.stage.as_deref(), Some("testStage"));
    assert_eq!(
        typed.request_context.identity.source_ip.as_deref(),
        Some(support::CLIENT_IP)
    );
    assert_eq!(typed.headers["headername"], "headerValue");
}

/// An HTTP API request context for the `$default` stage.
fn http_context() -> RequestContext {
    RequestContext {
        request_id: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef".into(),
        extended_request_id: "JKJaXmPLvHcESHA=".into(),
        api_id: "api-id".into(),
        account_id: "123456789012".into(),
        stage: "$default".into(),
        http_method: Method::POST,
        path: "/my/path".into(),
        protocol: "HTTP/1.1",
        request_time_epoch: 1_583_348_638_390,
        domain_name: "id.execute-api.us-east-1.amazonaws.com".into(),
        identity: Identity {
            source_ip: "192.0.2.44".into(),
            user_agent: Some("agent".into()),
            ..Identity::default()
        },
        ..RequestContext::default()
    }
}

#[tokio::test]
async fn http_api_v1_events_have_the_documented_shape() {
    let recording = Recording::new(ok_function());
    let invoker = recording.shared();
    let mut integration = lambda_integration(FUNCTION_ARN);
    integration.payload_format_version = Some("1.0".into());
    let route =
        Route::new(RouteMethod::Method(Method::GET), "/my/path").with_integration(integration);
    let service = Setup::http().compile(&route, &invoker);
    let mut ctx = http_context();
    ctx.http_method = Method::GET;
    let req = Request::builder()
        .method(Method::GET)
        .uri("/my/path?parameter1=value1&parameter1=value2&parameter2=value")
        .header("header1", "value1")
        .header("header2", "value1")
        .header("header2", "value2")
        .header("content-type", "text/plain")
        .body(Body::from("Hello from Lambda!"))
        .unwrap();
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(ctx);
    let response = call(&service, Request::from_parts(parts, body)).await;
    assert_eq!(response.status(), StatusCode::OK);

    let ours = recording.last_event();
    let differences = shape_differences(
        &fixture("payload-v1.json"),
        &ours,
        // Sent only with mutual TLS.
        &["requestContext.identity.clientCert"],
        &HEADER_AND_QUERY_MAPS,
        &[
            "requestContext.identity.apiKey",
            "requestContext.identity.apiKeyId",
        ],
    );
    assert!(differences.is_empty(), "{differences:#?}\n{ours:#}");
    assert_eq!(ours["version"], "1.0");
    assert_eq!(ours["requestContext"]["requestId"], "JKJaXmPLvHcESHA=");
    assert_eq!(
        ours["multiValueHeaders"]["header2"],
        json!(["value1", "value2"])
    );
    assert_eq!(ours["headers"]["header2"], "value2");
    assert_eq!(
        ours["multiValueQueryStringParameters"]["parameter1"],
        json!(["value1", "value2"])
    );
    assert_eq!(ours["body"], "Hello from Lambda!");
    let typed: ApiGatewayProxyRequest = serde_json::from_value(ours).unwrap();
    assert_eq!(
        typed.multi_value_headers.get_all("header2").iter().count(),
        2
    );
    assert!(typed.path_parameters.is_empty());
    assert!(typed.stage_variables.is_empty());
}

#[tokio::test]
async fn http_api_v2_events_have_the_documented_shape() {
    let recording = Recording::new(ok_function());
    let invoker = recording.shared();
    let route = Route::new(RouteMethod::Any, "/my/{parameter1}")
        .with_integration(lambda_integration(FUNCTION_ARN));
    let service = Setup::http()
        .variables(&[("stageVariable1", "value1"), ("stageVariable2", "value2")])
        .compile(&route, &invoker);
    let mut ctx = http_context();
    ctx.authorizer = AuthorizerContext {
        principal_id: None,
        claims: json!({"claim1": "value1", "claim2": "value2"})
            .as_object()
            .unwrap()
            .clone(),
        context: json!({"exampleKey1": "exampleValue1", "exampleKey2": "exampleValue2"})
            .as_object()
            .unwrap()
            .clone(),
        scopes: Some(vec!["scope1".to_owned(), "scope2".to_owned()]),
    };
    let req = Request::builder()
        .method(Method::POST)
        .uri("/my/path?parameter1=value1&parameter1=value2&parameter2=value")
        .header("header1", "value1")
        .header("header2", "value1")
        .header("header2", "value2")
        .header("cookie", "cookie1=a; cookie2=b")
        .header("content-type", "text/plain")
        .body(Body::from("Hello from Lambda"))
        .unwrap();
    let (mut parts, body) = req.into_parts();
    parts
        .extensions
        .insert(path_params("/my/{parameter1}", "/my/path"));
    parts.extensions.insert(ctx);
    let response = call(&service, Request::from_parts(parts, body)).await;
    assert_eq!(response.status(), StatusCode::OK);

    let ours = recording.last_event();
    let differences = shape_differences(
        &fixture("payload-v2.json"),
        &ours,
        // Mutual TLS only.
        &["requestContext.authentication"],
        &["headers", "queryStringParameters"],
        &[],
    );
    assert!(differences.is_empty(), "{differences:#?}\n{ours:#}");
    assert_eq!(ours["routeKey"], "ANY /my/{parameter1}");
    assert_eq!(ours["requestContext"]["routeKey"], "ANY /my/{parameter1}");
    assert_eq!(
        ours["rawQueryString"],
        "parameter1=value1&parameter1=value2&parameter2=value"
    );
    assert_eq!(ours["cookies"], json!(["cookie1=a", "cookie2=b"]));
    assert_eq!(ours["headers"]["header2"], "value1,value2");
    assert!(ours["headers"].get("cookie").is_none());
    assert_eq!(
        ours["queryStringParameters"],
        json!({"parameter1": "value1,value2", "parameter2": "value"})
    );
    assert_eq!(ours["requestContext"]["time"], "04/Mar/2020:19:03:58 +0000");
    assert_eq!(ours["requestContext"]["http"]["sourceIp"], "192.0.2.44");
    assert_eq!(
        ours["requestContext"]["authorizer"]["lambda"]["exampleKey1"],
        "exampleValue1"
    );

    let typed: ApiGatewayV2httpRequest = serde_json::from_value(ours).unwrap();
    assert_eq!(typed.raw_path.as_deref(), Some("/my/path"));
    assert_eq!(
        typed.cookies.as_deref(),
        Some(&["cookie1=a".to_owned(), "cookie2=b".to_owned()][..])
    );
    assert_eq!(
        typed.query_string_parameters.first("parameter2"),
        Some("value")
    );
    assert_eq!(typed.path_parameters["parameter1"], "path");
    assert_eq!(typed.stage_variables["stageVariable2"], "value2");
    assert_eq!(typed.request_context.http.method, Method::POST);
    assert_eq!(
        typed
            .request_context
            .authorizer
            .unwrap()
            .jwt
            .unwrap()
            .claims["claim1"],
        "value1"
    );
    assert_eq!(typed.body.as_deref(), Some("Hello from Lambda"));
}

#[tokio::test]
async fn absent_values_are_null_in_v1_and_left_out_in_v2() {
    for (setup, format) in [(Setup::rest(), "1.0"), (Setup::http(), "2.0")] {
        let recording = Recording::new(ok_function());
        let invoker = recording.shared();
        let route = Route::new(RouteMethod::Method(Method::GET), "/pets")
            .with_integration(lambda_integration(&invocation_uri("pets")));
        let service = setup.compile(&route, &invoker);
        let response = call(
            &service,
            routed(
                Method::GET,
                "/pets",
                "/prod/pets",
                rest_context("/prod/pets"),
                Body::empty(),
            ),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK, "{format}");
        let event = recording.last_event();
        let keys = [
            "queryStringParameters",
            "pathParameters",
            "stageVariables",
            "body",
            "cookies",
        ];
        if format == "1.0" {
            for key in keys.iter().filter(|k| **k != "cookies") {
                assert_eq!(event.get(*key), Some(&Value::Null), "{format} {key}");
            }
            assert_eq!(event["multiValueQueryStringParameters"], Value::Null);
            assert_eq!(event["path"], "/pets");
        } else {
            for key in keys {
                assert!(event.get(key).is_none(), "{format} {key}: {}", event[key]);
            }
            assert_eq!(event["rawPath"], "/prod/pets");
        }
        assert_eq!(event["isBase64Encoded"], false);
    }
}

#[tokio::test]
async fn empty_but_present_values_are_kept() {
    let recording = Recording::new(ok_function());
    let invoker = recording.shared();
    let route = Route::new(RouteMethod::Any, "/pets/{id}")
        .with_integration(lambda_integration(&invocation_uri("pets")));
    let service = Setup::rest().compile(&route, &invoker);
    let response = call(
        &service,
        routed(
            Method::POST,
            "/pets/{id}",
            "/prod/pets/7?flag&empty=",
            rest_context("/prod/pets/7"),
            Body::empty(),
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let event = recording.last_event();
    assert_eq!(
        event["queryStringParameters"],
        json!({"flag": "", "empty": ""})
    );
    assert_eq!(event["pathParameters"], json!({"id": "7"}));
    assert_eq!(event["body"], Value::Null);
}

#[tokio::test]
async fn binary_request_bodies_are_base64_encoded() {
    let payload: Vec<u8> = vec![0x89, b'P', b'N', b'G', 0x00, 0xff];
    // REST: by the API's binary media types.
    let recording = Recording::new(ok_function());
    let invoker = recording.shared();
    let route = Route::new(RouteMethod::Any, "/upload")
        .with_integration(lambda_integration(&invocation_uri("pets")));
    let service = Setup::rest().binary(&["image/*"]).compile(&route, &invoker);
    let mut req = routed(
        Method::POST,
        "/upload",
        "/prod/upload",
        rest_context("/prod/upload"),
        Body::from(payload.clone()),
    );
    req.headers_mut()
        .insert("content-type", "image/png".parse().unwrap());
    assert_eq!(call(&service, req).await.status(), StatusCode::OK);
    let event = recording.last_event();
    assert_eq!(event["isBase64Encoded"], true);
    assert_eq!(event["body"], "iVBORwD/");
    // The same body with a type that is not binary is text.
    let mut req = routed(
        Method::POST,
        "/upload",
        "/prod/upload",
        rest_context("/prod/upload"),
        Body::from("plain"),
    );
    req.headers_mut()
        .insert("content-type", "application/octet-stream".parse().unwrap());
    call(&service, req).await;
    assert_eq!(recording.last_event()["isBase64Encoded"], false);

    // HTTP APIs: by the media type's textual kind.
    let recording = Recording::new(ok_function());
    let invoker = recording.shared();
    let service = Setup::http().compile(&route, &invoker);
    let mut req = routed(
        Method::POST,
        "/upload",
        "/upload",
        http_context(),
        Body::from("a=1&b=2"),
    );
    req.headers_mut().insert(
        "content-type",
        "application/x-www-form-urlencoded".parse().unwrap(),
    );
    call(&service, req).await;
    let event = recording.last_event();
    assert_eq!(event["isBase64Encoded"], true);
    assert_eq!(event["body"], "YT0xJmI9Mg==");
    let typed: ApiGatewayV2httpRequest = serde_json::from_value(event).unwrap();
    assert!(typed.is_base64_encoded);
}

#[tokio::test]
async fn invocations_carry_the_function_and_the_trace() {
    let recording = Recording::new(ok_function());
    let invoker = recording.shared();
    let uri = invocation_uri(
        "arn:aws:lambda:us-east-1:123456789012:function:pets:${stageVariables.alias}",
    );
    let route = Route::new(RouteMethod::Any, "/pets").with_integration(lambda_integration(&uri));
    let service = Setup::rest()
        .variables(&[("alias", "live")])
        .compile(&route, &invoker);
    let response = call(
        &service,
        routed(
            Method::GET,
            "/pets",
            "/prod/pets",
            rest_context("/prod/pets"),
            Body::empty(),
        ),
    )
    .await;
    assert_eq!(
        response.extensions().get::<IntegrationStatus>(),
        Some(&IntegrationStatus(200))
    );
    let invocation = recording.last();
    assert_eq!(
        invocation.function.as_str(),
        "arn:aws:lambda:us-east-1:123456789012:function:pets:live"
    );
    assert_eq!(invocation.function.qualifier(), Some("live"));
    assert_eq!(invocation.trace_id.as_deref(), Some(TRACE));
    assert_eq!(body_bytes(response).await, "ok");
}

#[tokio::test]
async fn a_stage_variable_that_breaks_the_uri_fails_its_requests_not_the_compile() {
    let invoker = ok_function();
    let uri = invocation_uri("pets:${stageVariables.alias}");
    let route = Route::new(RouteMethod::Any, "/pets").with_integration(lambda_integration(&uri));
    // `alias` is undefined: the function reference ends in an empty qualifier.
    let service = Setup::rest().compile(&route, &invoker);
    let response = call(
        &service,
        routed(
            Method::GET,
            "/pets",
            "/prod/pets",
            rest_context("/prod/pets"),
            Body::empty(),
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        gateway_error(&response).as_deref(),
        Some("API_CONFIGURATION_ERROR")
    );
    assert_eq!(
        body_json(response).await,
        json!({"message": "Internal server error"})
    );
}

#[test]
fn routes_without_an_invoker_or_a_function_do_not_compile() {
    let route = Route::new(RouteMethod::Any, "/pets")
        .with_integration(lambda_integration(&invocation_uri("pets")));
    let variables = StageVariables::new();
    let client = HttpClient::new();
    let err = compile(
        &route,
        &CompileContext::new(&variables, &client, ApiProtocol::Rest),
    )
    .unwrap_err();
    assert_eq!(
        err,
        CompileError::NoInvoker {
            route: "ANY /pets".into()
        }
    );

    let invoker = ok_function();
    let invalid = |uri: &str, setup: Setup| {
        let route = Route::new(RouteMethod::Any, "/pets").with_integration(lambda_integration(uri));
        setup.try_compile(&route, &invoker).unwrap_err()
    };
    for (uri, setup) in [
        (
            "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/pets",
            Setup::rest(),
        ),
        (
            "arn:aws:apigateway:us-east-1:s3:path/bucket/key",
            Setup::http(),
        ),
        (FUNCTION_ARN, Setup::rest()),
        ("a:b:c:d:e", Setup::http()),
    ] {
        match invalid(uri, setup) {
            CompileError::InvalidField { field, .. } => assert_eq!(field, "uri", "{uri}"),
            other => panic!("{uri}: {other:?}"),
        }
    }

    let mut no_uri = Integration::new(IntegrationType::AwsProxy);
    no_uri.uri = None;
    let route = Route::new(RouteMethod::Any, "/pets").with_integration(no_uri);
    assert!(matches!(
        Setup::rest().try_compile(&route, &invoker),
        Err(CompileError::MissingField { field: "uri", .. })
    ));

    let mut get = lambda_integration(&invocation_uri("pets"));
    get.http_method = Some("GET".into());
    let route = Route::new(RouteMethod::Any, "/pets").with_integration(get);
    assert!(matches!(
        Setup::rest().try_compile(&route, &invoker),
        Err(CompileError::InvalidField { field, .. }) if field == "httpMethod"
    ));

    let mut version = lambda_integration(FUNCTION_ARN);
    version.payload_format_version = Some("3.0".into());
    let route = Route::new(RouteMethod::Any, "/pets").with_integration(version);
    assert!(matches!(
        Setup::http().try_compile(&route, &invoker),
        Err(CompileError::InvalidField { field, .. }) if field == "payloadFormatVersion"
    ));

    let mut slow = lambda_integration(&invocation_uri("pets"));
    slow.timeout = Duration::from_secs(30);
    let route = Route::new(RouteMethod::Any, "/pets").with_integration(slow);
    assert!(matches!(
        Setup::rest().try_compile(&route, &invoker),
        Err(CompileError::InvalidTimeout { .. })
    ));
    assert!(Setup::http().try_compile(&route, &invoker).is_ok());
}

/// Sends one GET through a REST or HTTP API route answered by `invoker`.
async fn through(setup: Setup, invoker: SharedInvoker, accept: Option<&str>) -> Response<Body> {
    let http_api = setup.protocol == ApiProtocol::Http;
    let route = Route::new(RouteMethod::Any, "/pets")
        .with_integration(lambda_integration(&invocation_uri(FUNCTION_ARN)));
    let service = setup.compile(&route, &invoker);
    let ctx = if http_api {
        http_context()
    } else {
        rest_context("/prod/pets")
    };
    let uri = if http_api { "/pets" } else { "/prod/pets" };
    let mut req = routed(Method::GET, "/pets", uri, ctx, Body::empty());
    if let Some(accept) = accept {
        req.headers_mut().insert("accept", accept.parse().unwrap());
    }
    call(&service, req).await
}

#[tokio::test]
async fn v1_responses_map_headers_status_and_body() {
    let response = through(
        Setup::rest(),
        replying(json!({
            "statusCode": 201,
            "headers": {"x-single": "one", "x-both": "single", "content-type": "text/plain"},
            "multiValueHeaders": {"x-multi": ["a", "b"], "X-Both": ["multi"]},
            "body": "created",
            "isBase64Encoded": false
        })),
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        response.extensions().get::<IntegrationStatus>(),
        Some(&IntegrationStatus(200))
    );
    let headers = response.headers();
    assert_eq!(headers["x-single"], "one");
    assert_eq!(
        headers.get_all("x-multi").iter().collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert_eq!(
        headers.get_all("x-both").iter().collect::<Vec<_>>(),
        ["multi"]
    );
    assert_eq!(headers["content-type"], "text/plain");
    assert_eq!(body_bytes(response).await, "created");
}

#[tokio::test]
async fn base64_response_bodies_are_decoded_where_aws_decodes_them() {
    let image = json!({
        "statusCode": 200,
        "headers": {"content-type": "image/png"},
        "body": "iVBORw==",
        "isBase64Encoded": true
    });
    // A REST API with the type among its binary media types sends the bytes.
    let response = through(
        Setup::rest().binary(&["image/png"]),
        replying(image.clone()),
        None,
    )
    .await;
    assert_eq!(&body_bytes(response).await[..], &[0x89, b'P', b'N', b'G']);
    // Without binary media types, REST APIs send the base64 text.
    let response = through(Setup::rest(), replying(image.clone()), Some("image/png")).await;
    assert_eq!(body_bytes(response).await, "iVBORw==");
    // The first Accept entry counts too.
    let octets = json!({"statusCode": 200, "body": "AAE=", "isBase64Encoded": true});
    let response = through(
        Setup::rest().binary(&["application/octet-stream"]),
        replying(octets),
        Some("application/octet-stream"),
    )
    .await;
    assert_eq!(&body_bytes(response).await[..], &[0, 1]);
    // HTTP APIs always decode.
    let response = through(Setup::http(), replying(image), None).await;
    assert_eq!(&body_bytes(response).await[..], &[0x89, b'P', b'N', b'G']);
}

#[tokio::test]
async fn v2_infers_a_response_from_a_bare_result() {
    let cases = [
        (json!("Hello from Lambda!"), "Hello from Lambda!".to_owned()),
        (
            json!({"message": "Hello from Lambda!"}),
            r#"{"message":"Hello from Lambda!"}"#.to_owned(),
        ),
        (json!([1, 2, 3]), "[1,2,3]".to_owned()),
        (json!(42), "42".to_owned()),
        (json!({}), "{}".to_owned()),
    ];
    for (result, body) in cases {
        let response = through(Setup::http(), replying(result.clone()), None).await;
        assert_eq!(response.status(), StatusCode::OK, "{result}");
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(body_bytes(response).await, body, "{result}");
    }
    // The same bare string is no proxy response for a REST API.
    let response = through(Setup::rest(), replying(json!("Hello from Lambda!")), None).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
}

#[tokio::test]
async fn v2_cookies_become_set_cookie_headers() {
    let response = through(
        Setup::http(),
        replying(json!({
            "statusCode": 200,
            "cookies": ["session=abc; HttpOnly", "theme=dark"],
            "headers": {"x-custom": "1"},
            "body": "{}"
        })),
        None,
    )
    .await;
    let cookies: Vec<_> = response.headers().get_all("set-cookie").iter().collect();
    assert_eq!(cookies, ["session=abc; HttpOnly", "theme=dark"]);
    assert_eq!(response.headers()["x-custom"], "1");
}

#[tokio::test]
async fn malformed_results_are_bad_gateways() {
    for result in [
        "not json",
        r#"{"statusCode": 200, "body": {"not": "a string"}}"#,
        r#"{"statusCode": "abc"}"#,
        r#"{"statusCode": 200, "unexpected": true}"#,
        r#"{"statusCode": 200, "headers": {"x": 5}}"#,
        r#"{"statusCode": 200, "headers": {"bad header": "x"}}"#,
        r#"{"statusCode": 200, "multiValueHeaders": {"x": "not a list"}}"#,
    ] {
        let response = through(Setup::rest(), answering(result), None).await;
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY, "{result}");
        assert_eq!(
            gateway_error(&response).as_deref(),
            Some("API_CONFIGURATION_ERROR")
        );
        assert_eq!(
            response.headers()["x-amzn-errortype"],
            "InternalServerErrorException"
        );
        assert_eq!(
            response.extensions().get::<IntegrationStatus>(),
            Some(&IntegrationStatus(200))
        );
        assert_eq!(
            body_json(response).await,
            json!({"message": "Internal server error"})
        );
    }
    let undecodable = json!({"statusCode": 200, "body": "%%%", "isBase64Encoded": true, "headers": {"content-type": "image/png"}});
    let response = through(
        Setup::rest().binary(&["*/*"]),
        replying(undecodable.clone()),
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    // HTTP APIs answer 500 "Internal Server Error" for the same results.
    for result in [
        r#"{"statusCode": "abc"}"#,
        r#"{"statusCode": 200, "cookies": "a=1"}"#,
    ] {
        let response = through(Setup::http(), answering(result), None).await;
        assert_eq!(
            response.status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "{result}"
        );
        assert_eq!(
            body_json(response).await,
            json!({"message": "Internal Server Error"})
        );
    }
    let response = through(Setup::http(), replying(undecodable), None).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn function_errors_are_bad_gateways() {
    let failing = InProcessFunction::new(tower::service_fn(|_: Value| async {
        Err::<Value, _>(std::io::Error::other("database unavailable"))
    }))
    .shared();
    let response = through(Setup::rest(), failing.clone(), None).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(
        gateway_error(&response).as_deref(),
        Some("INTEGRATION_FAILURE")
    );
    assert_eq!(
        response.headers()["x-amzn-errortype"],
        "InternalServerErrorException"
    );
    assert_eq!(
        body_json(response).await,
        json!({"message": "Internal server error"})
    );

    let response = through(Setup::http(), failing, None).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        body_json(response).await,
        json!({"message": "Internal Server Error"})
    );

    // An HTTP API takes a result shaped like Lambda's error object for a failure.
    let response = through(
        Setup::http(),
        replying(json!({"errorMessage": "boom"})),
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn refused_invocations_are_internal_server_errors() {
    let cases = [
        (InvokeError::NotFound("pets".into()), Some(404)),
        (InvokeError::AccessDenied("no permission".into()), Some(403)),
        (InvokeError::Throttled("rate exceeded".into()), Some(429)),
        (
            InvokeError::Service {
                status: 502,
                message: "EC2ThrottledException".into(),
            },
            Some(502),
        ),
        (InvokeError::Transport("connection refused".into()), None),
    ];
    for (error, lambda_status) in cases {
        let invoker: SharedInvoker = Arc::new(Answer(Err(error.clone())));
        let response = through(Setup::rest(), invoker, None).await;
        assert_eq!(
            response.status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "{error}"
        );
        assert_eq!(
            gateway_error(&response).as_deref(),
            Some("API_CONFIGURATION_ERROR")
        );
        assert_eq!(
            response
                .extensions()
                .get::<IntegrationStatus>()
                .map(|s| s.0),
            lambda_status,
            "{error}"
        );
        assert_eq!(
            body_json(response).await,
            json!({"message": "Internal server error"})
        );
    }
    // An unregistered function of an in-process registry is Lambda's 404.
    let response = through(Setup::rest(), Functions::new().shared(), None).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        response.extensions().get::<IntegrationStatus>(),
        Some(&IntegrationStatus(404))
    );
}

#[tokio::test(start_paused = true)]
async fn slow_functions_time_out() {
    let never = InProcessFunction::new(tower::service_fn(|_: Value| {
        std::future::pending::<Result<Value, Infallible>>()
    }))
    .shared();
    let mut integration = lambda_integration(&invocation_uri("pets"));
    integration.timeout = Duration::from_millis(500);
    let route = Route::new(RouteMethod::Any, "/pets").with_integration(integration);
    let service = Setup::rest().compile(&route, &never);
    let started = tokio::time::Instant::now();
    let response = call(
        &service,
        routed(
            Method::GET,
            "/pets",
            "/prod/pets",
            rest_context("/prod/pets"),
            Body::empty(),
        ),
    )
    .await;
    assert_eq!(started.elapsed(), Duration::from_millis(500));
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(
        gateway_error(&response).as_deref(),
        Some("INTEGRATION_TIMEOUT")
    );
    assert!(response.extensions().get::<IntegrationStatus>().is_none());
    assert_eq!(
        body_json(response).await,
        json!({"message": "Endpoint request timed out"})
    );
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused() {
    let recording = Recording::new(ok_function());
    let invoker = recording.shared();
    let route = Route::new(RouteMethod::Any, "/pets")
        .with_integration(lambda_integration(&invocation_uri("pets")));
    let service = Setup::rest().compile(&route, &invoker);
    let big = Body::new(http_body_util::Full::new(Bytes::from(vec![b'x'; 64]))).limited(16);
    let response = call(
        &service,
        routed(
            Method::POST,
            "/pets",
            "/prod/pets",
            rest_context("/prod/pets"),
            big,
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(recording.seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn runtime_event_types_plug_in_as_functions() {
    // A payload format 1.0 handler written against the Lambda runtime's types.
    let rest_handler = tower::service_fn(|event: ApiGatewayProxyRequest| async move {
        let mut response = ApiGatewayProxyResponse::default();
        response.status_code = 202;
        response
            .multi_value_headers
            .append("x-name", event.path_parameters["id"].parse().unwrap());
        response
            .multi_value_headers
            .append("x-name", "again".parse().unwrap());
        response
            .headers
            .insert("content-type", "application/octet-stream".parse().unwrap());
        response.body = Some(LambdaBody::Binary(vec![1, 2, 3]));
        response.is_base64_encoded = true;
        Ok::<_, Infallible>(response)
    });
    let functions = Functions::new()
        .with_function("pets", InProcessFunction::new(rest_handler))
        .shared();
    let route = Route::new(RouteMethod::Any, "/pets/{id}")
        .with_integration(lambda_integration(&invocation_uri("pets")));
    let service = Setup::rest()
        .binary(&["application/octet-stream"])
        .compile(&route, &functions);
    let response = call(
        &service,
        routed(
            Method::GET,
            "/pets/{id}",
            "/prod/pets/42",
            rest_context("/prod/pets/42"),
            Body::empty(),
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(
        response
            .headers()
            .get_all("x-name")
            .iter()
            .collect::<Vec<_>>(),
        ["42", "again"]
    );
    assert_eq!(&body_bytes(response).await[..], &[1, 2, 3]);

    // A payload format 2.0 handler.
    let http_handler = tower::service_fn(|event: ApiGatewayV2httpRequest| async move {
        let mut response = ApiGatewayV2httpResponse::default();
        response.status_code = 200;
        response
            .headers
            .insert("content-type", "text/plain".parse().unwrap());
        response.cookies = event.cookies.unwrap_or_default();
        response.body = Some(LambdaBody::Text(format!(
            "{} {}",
            event.request_context.http.method,
            event.raw_path.unwrap_or_default()
        )));
        Ok::<_, Infallible>(response)
    });
    let functions = Functions::new()
        .with_function("pets:live", InProcessFunction::new(http_handler))
        .shared();
    let route =
        Route::new(RouteMethod::Any, "/pets").with_integration(lambda_integration("pets:live"));
    let service = Setup::http().compile(&route, &functions);
    let mut req = routed(Method::PUT, "/pets", "/pets", http_context(), Body::empty());
    req.headers_mut()
        .insert("cookie", "a=1; b=2".parse().unwrap());
    let response = call(&service, req).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response
            .headers()
            .get_all("set-cookie")
            .iter()
            .collect::<Vec<_>>(),
        ["a=1", "b=2"]
    );
    assert_eq!(response.headers()["content-type"], "text/plain");
    assert_eq!(body_bytes(response).await, "PUT /pets");
}
