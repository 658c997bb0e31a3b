//! HTTP APIs' parameter mapping (`append|overwrite|remove:` keys and
//! `responseParameters` by status code) against a real backend on 127.0.0.1 and an
//! in-process Lambda function.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::Ordering;

use gateway_core::body::Body;
use gateway_core::lambda::SharedInvoker;
use gateway_core::model::{ApiProtocol, Integration, IntegrationType, Route, RouteMethod};
use gateway_core::stage::StageVariables;
use gateway_integrations::lambda::{Functions, InProcessFunction};
use gateway_integrations::{CompileContext, CompileError, HttpClient, IntegrationService, compile};
use http::{Method, StatusCode};
use serde_json::{Value, json};

use support::{Backend, body_bytes, body_json, call, request, route};

const STAGE_VARIABLES: [(&str, &str); 2] = [("env", "prod"), ("team", "pets")];

fn variables() -> StageVariables {
    let mut variables = StageVariables::new();
    for (name, value) in STAGE_VARIABLES {
        variables.insert(name, value).unwrap();
    }
    variables
}

/// Compiles a route of an HTTP API.
fn try_compile_http(route: &Route) -> Result<IntegrationService, CompileError> {
    let variables = variables();
    let client = HttpClient::new();
    compile(
        route,
        &CompileContext::new(&variables, &client, ApiProtocol::Http),
    )
}

fn compile_http(route: &Route) -> IntegrationService {
    try_compile_http(route).unwrap()
}

fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn proxy(backend: &Backend, path: &str, request: &[(&str, &str)]) -> Integration {
    let mut integration = Integration::http_proxy(format!("http://{}{path}", backend.addr));
    integration.http_method = Some("ANY".to_owned());
    integration.request_parameters = params(request);
    integration
}

fn header<'a>(echo: &'a Value, name: &str) -> Vec<&'a str> {
    echo["headers"][name]
        .as_array()
        .map(|values| values.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn request_headers_are_appended_overwritten_and_removed() {
    let backend = Backend::echo("b").await;
    let template = "/pets/{petId}";
    let integration = proxy(
        &backend,
        "/pets/{petId}",
        &[
            ("append:header.x-list", "$request.header.x-in"),
            ("overwrite:header.x-replace", "${request.querystring.q}"),
            ("remove:header.x-secret", "''"),
            ("append:header.x-static", "static text"),
            ("overwrite:header.x-request-id", "$context.requestId"),
            ("overwrite:header.x-env", "$stageVariables.env"),
            (
                "append:header.x-mixed",
                "${stageVariables.team}/${request.path.petId}:${request.header.X-IN}",
            ),
            ("overwrite:header.host", "pets.internal"),
        ],
    );
    let service = compile_http(&route(RouteMethod::Any, template, integration));
    let mut req = request(Method::GET, template, "/pets/42?q=a&q=b", Body::empty());
    let headers = req.headers_mut();
    headers.append("x-in", "1".parse().unwrap());
    headers.append("x-in", "2".parse().unwrap());
    headers.insert("x-list", "first".parse().unwrap());
    headers.insert("x-replace", "old".parse().unwrap());
    headers.insert("x-secret", "hidden".parse().unwrap());
    let response = call(&service, req).await;
    assert_eq!(response.status(), StatusCode::OK);
    let echo = body_json(response).await;
    // Multiple values are read joined with commas; an append adds after what is there.
    assert_eq!(header(&echo, "x-list"), ["first,1,2"]);
    assert_eq!(header(&echo, "x-replace"), ["a,b"]);
    assert!(header(&echo, "x-secret").is_empty());
    assert_eq!(header(&echo, "x-static"), ["static text"]);
    assert_eq!(header(&echo, "x-request-id"), ["req-1"]);
    assert_eq!(header(&echo, "x-env"), ["prod"]);
    assert_eq!(header(&echo, "x-mixed"), ["pets/42:1,2"]);
    assert_eq!(header(&echo, "host"), ["pets.internal"]);
    // Headers nobody mapped go through as before.
    assert_eq!(header(&echo, "x-in"), ["1", "2"]);
    assert_eq!(echo["path"], "/pets/42");
}

#[tokio::test]
async fn query_strings_are_appended_overwritten_and_removed() {
    let backend = Backend::echo("b").await;
    let integration = proxy(
        &backend,
        "/search?fixed=1",
        &[
            ("append:querystring.tag", "$request.header.x-tag"),
            ("overwrite:querystring.page", "${request.querystring.p}"),
            ("remove:querystring.token", "''"),
            ("overwrite:querystring.who", "a b&c=d"),
        ],
    );
    let service = compile_http(&route(RouteMethod::Any, "/search", integration));
    let mut req = request(
        Method::GET,
        "/search",
        "/search?tag=x&page=1&page=2&token=s3cret&p=9",
        Body::empty(),
    );
    req.headers_mut().insert("x-tag", "y".parse().unwrap());
    let echo = body_json(call(&service, req).await).await;
    assert_eq!(
        echo["query"],
        "fixed=1&tag=x&p=9&page=9&who=a%20b%26c%3Dd&tag=y"
    );
}

#[tokio::test]
async fn the_path_is_overwritten() {
    let backend = Backend::echo("b").await;
    let template = "/v1/{proxy+}";
    let whole = proxy(&backend, "/ignored", &[("overwrite:path", "$request.path")]);
    let service = compile_http(&route(RouteMethod::Any, template, whole));
    let req = request(Method::GET, template, "/v1/a%20b/c?x=1", Body::empty());
    let echo = body_json(call(&service, req).await).await;
    // The request path as the client sent it, with the query string kept.
    assert_eq!(echo["path"], "/v1/a%20b/c");
    assert_eq!(echo["query"], "x=1");

    let rewritten = proxy(
        &backend,
        "/ignored",
        &[(
            "overwrite:path",
            "api/${stageVariables.env}/${request.path.proxy}",
        )],
    );
    let service = compile_http(&route(RouteMethod::Any, template, rewritten));
    let req = request(Method::GET, template, "/v1/items/7", Body::empty());
    let echo = body_json(call(&service, req).await).await;
    assert_eq!(echo["path"], "/api/prod/items/7");
}

#[tokio::test]
async fn request_bodies_are_read_by_jsonpath_and_still_sent() {
    let backend = Backend::echo("b").await;
    let integration = proxy(
        &backend,
        "/orders",
        &[
            ("overwrite:header.x-customer", "$request.body.customer.id"),
            ("append:querystring.item", "${request.body.items[0].sku}"),
            ("overwrite:header.x-items", "$request.body.items"),
        ],
    );
    let service = compile_http(&route(RouteMethod::Any, "/orders", integration));
    let body = r#"{"customer":{"id":"c-7"},"items":[{"sku":"s1"},{"sku":"s2"}]}"#;
    let req = request(Method::POST, "/orders", "/orders", Body::from(body));
    let echo = body_json(call(&service, req).await).await;
    assert_eq!(header(&echo, "x-customer"), ["c-7"]);
    assert_eq!(header(&echo, "x-items"), [r#"[{"sku":"s1"},{"sku":"s2"}]"#]);
    assert_eq!(echo["query"], "item=s1");
    assert_eq!(echo["body"], body);
}

#[tokio::test]
async fn a_value_missing_from_the_request_answers_400_without_calling_the_backend() {
    let backend = Backend::echo("b").await;
    let cases: [(&str, &str, Body); 4] = [
        ("append:header.x", "$request.header.x-absent", Body::empty()),
        (
            "append:querystring.x",
            "$request.querystring.absent",
            Body::empty(),
        ),
        (
            "overwrite:header.x",
            "$request.body.id",
            Body::from("not json"),
        ),
        (
            "overwrite:header.x",
            "${stageVariables.undefined}",
            Body::empty(),
        ),
    ];
    for (key, value, body) in cases {
        let integration = proxy(&backend, "/", &[(key, value)]);
        let service = compile_http(&route(RouteMethod::Any, "/x", integration));
        let response = call(&service, request(Method::POST, "/x", "/x", body)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{value}");
        assert_eq!(
            body_json(response).await,
            json!({"message": "Bad Request"}),
            "{value}"
        );
    }
    assert_eq!(backend.connections.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn responses_are_mapped_by_the_backend_status() {
    let backend = Backend::echo("b").await;
    let mut integration = proxy(&backend, "/", &[]);
    integration.http_response_parameters = BTreeMap::from([
        (
            "200".to_owned(),
            params(&[
                ("append:header.x-backend", "$response.body.backend"),
                ("overwrite:header.x-type", "${response.header.Content-Type}"),
                ("remove:header.content-type", "''"),
                ("append:header.x-request", "$context.requestId"),
                ("append:header.x-env", "$stageVariables.env"),
                ("overwrite:statuscode", "202"),
            ]),
        ),
        (
            "500".to_owned(),
            params(&[
                ("overwrite:statuscode", "403"),
                ("overwrite:header.x-error", "mapped"),
            ]),
        ),
    ]);
    let service = compile_http(&route(RouteMethod::Any, "/r", integration));

    let response = call(&service, request(Method::GET, "/r", "/r", Body::empty())).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let headers = response.headers().clone();
    assert_eq!(headers["x-backend"], "b");
    assert_eq!(headers["x-type"], "application/json");
    assert_eq!(headers.get("content-type"), None);
    assert_eq!(headers["x-request"], "req-1");
    assert_eq!(headers["x-env"], "prod");
    // The body the mapping read is still the response's body.
    let echo: Value = serde_json::from_slice(&body_bytes(response).await).unwrap();
    assert_eq!(echo["backend"], "b");

    let mut req = request(Method::GET, "/r", "/r", Body::empty());
    req.headers_mut().insert("x-status", "500".parse().unwrap());
    let response = call(&service, req).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(response.headers()["x-error"], "mapped");
    assert_eq!(response.headers()["content-type"], "application/json");

    // A status with no mappings is passed through.
    let mut req = request(Method::GET, "/r", "/r", Body::empty());
    req.headers_mut().insert("x-status", "404".parse().unwrap());
    let response = call(&service, req).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(response.headers().get("x-error"), None);
}

#[tokio::test]
async fn a_mapped_status_that_is_not_a_status_answers_500() {
    let backend = Backend::echo("b").await;
    let mut integration = proxy(&backend, "/", &[]);
    integration.http_response_parameters = BTreeMap::from([(
        "200".to_owned(),
        params(&[("overwrite:statuscode", "$response.body.backend")]),
    )]);
    let service = compile_http(&route(RouteMethod::Any, "/r", integration));
    let response = call(&service, request(Method::GET, "/r", "/r", Body::empty())).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

fn compile_error(route: &Route) -> (String, String, String) {
    match try_compile_http(route) {
        Err(err @ CompileError::InvalidField { .. }) => {
            let message = err.to_string();
            let CompileError::InvalidField { field, reason, .. } = err else {
                unreachable!()
            };
            (field, reason, message)
        }
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("the route compiled"),
    }
}

#[tokio::test]
async fn reserved_headers_and_bad_keys_fail_the_compile_naming_the_field() {
    let backend = Backend::echo("b").await;
    let get = RouteMethod::Method(Method::GET);
    for header in [
        "Authorization",
        "x-amz-date",
        "X-Amzn-Trace-Id",
        "apigw-requestid",
        "access-control-allow-origin",
        "Content-Length",
        "X-Forwarded-For",
        "Via",
    ] {
        let key = format!("overwrite:header.{header}");
        let integration = proxy(&backend, "/", &[(&key, "x")]);
        let (field, reason, message) = compile_error(&route(get.clone(), "/pets", integration));
        assert_eq!(field, format!("requestParameters.{key}"));
        assert!(reason.contains("reserved"), "{reason}");
        assert!(message.starts_with("GET /pets: "), "{message}");
    }

    let mut integration = proxy(&backend, "/", &[]);
    integration.http_response_parameters = BTreeMap::from([(
        "200".to_owned(),
        params(&[("append:header.Access-Control-Allow-Origin", "*")]),
    )]);
    let (field, reason, _) = compile_error(&route(get.clone(), "/pets", integration));
    assert_eq!(
        field,
        "responseParameters.200.append:header.Access-Control-Allow-Origin"
    );
    assert!(reason.contains("reserved"), "{reason}");

    for (key, value, why) in [
        ("append:path", "/x", "overwritten"),
        (
            "overwrite:header.x",
            "$request.path.nope",
            "no path parameter",
        ),
        (
            "overwrite:header.x",
            "$request.body..id",
            "recursive descent",
        ),
        ("overwrite:header.x", "$response.header.etag", "cannot read"),
        (
            "integration.request.header.x",
            "'v'",
            "not an HTTP API mapping key",
        ),
        ("replace:header.x", "v", "not a mapping action"),
    ] {
        let integration = proxy(&backend, "/", &[(key, value)]);
        let (field, reason, _) = compile_error(&route(get.clone(), "/pets", integration));
        assert_eq!(field, format!("requestParameters.{key}"));
        assert!(reason.contains(why), "{key}: {reason}");
    }
}

#[tokio::test]
async fn rest_apis_keep_their_own_mapping_syntax() {
    let backend = Backend::echo("b").await;
    let integration = proxy(&backend, "/", &[("overwrite:header.x", "v")]);
    let route = route(RouteMethod::Any, "/x", integration);
    let variables = StageVariables::new();
    let client = HttpClient::new();
    let Err(err) = compile(
        &route,
        &CompileContext::new(&variables, &client, ApiProtocol::Rest),
    ) else {
        panic!("REST APIs refuse HTTP API keys");
    };
    assert!(
        err.to_string()
            .contains("requestParameters.overwrite:header.x"),
        "{err}"
    );
}

/// A function answering with its event as the body.
fn echo_function() -> SharedInvoker {
    let echo = InProcessFunction::new(tower::service_fn(|event: Value| async move {
        Ok::<_, Infallible>(json!({
            "statusCode": 200,
            "headers": {"x-fn": "echo", "content-type": "application/json"},
            "body": event.to_string(),
        }))
    }));
    Functions::new().with_function("echo", echo).shared()
}

#[tokio::test]
async fn lambda_proxy_routes_map_the_event_and_the_response() {
    let mut integration = Integration::new(IntegrationType::AwsProxy);
    integration.uri = Some("echo".to_owned());
    integration.request_parameters = params(&[
        ("overwrite:header.x-user", "$request.header.x-in"),
        ("remove:header.x-in", "''"),
        ("append:querystring.env", "$stageVariables.env"),
        ("overwrite:path", "/fn/${request.path.id}"),
    ]);
    integration.http_response_parameters = BTreeMap::from([(
        "200".to_owned(),
        params(&[
            ("overwrite:header.x-fn-copy", "$response.header.x-fn"),
            ("overwrite:header.x-path", "$response.body.rawPath"),
            ("overwrite:statuscode", "201"),
        ]),
    )]);
    let template = "/items/{id}";
    let route = route(RouteMethod::Any, template, integration);
    let invoker = echo_function();
    let variables = variables();
    let client = HttpClient::new();
    let ctx = CompileContext::new(&variables, &client, ApiProtocol::Http).with_invoker(&invoker);
    let service = compile(&route, &ctx).unwrap();

    let mut req = request(Method::GET, template, "/items/9?q=1", Body::empty());
    req.headers_mut().insert("x-in", "ada".parse().unwrap());
    let response = call(&service, req).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["x-fn-copy"], "echo");
    assert_eq!(response.headers()["x-path"], "/fn/9");
    let event = body_json(response).await;
    assert_eq!(event["headers"]["x-user"], "ada");
    assert!(event["headers"].get("x-in").is_none(), "{event}");
    assert_eq!(event["rawQueryString"], "q=1&env=prod");
    assert_eq!(
        event["queryStringParameters"],
        json!({"q": "1", "env": "prod"})
    );
    assert_eq!(event["rawPath"], "/fn/9");

    // A missing value answers 400 before the function is invoked.
    let req = request(Method::GET, template, "/items/9", Body::empty());
    let response = call(&service, req).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}
