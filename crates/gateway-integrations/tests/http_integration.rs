//! HTTP (non-proxy) integrations against real backends on 127.0.0.1: request
//! templates and parameter mappings, passthrough behaviours, integration response
//! selection, response templates and header mappings, binary payloads.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use gateway_core::body::Body;
use gateway_core::error::GatewayError;
use gateway_core::model::{
    ApiProtocol, ContentHandling, Integration, IntegrationResponse, IntegrationType,
    PassthroughBehavior, RouteMethod,
};
use gateway_core::stage::StageVariables;
use gateway_integrations::{CompileContext, HttpClient, IntegrationService, IntegrationStatus};
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use support::{Backend, TRACE, body_bytes, body_json, call, compile_route, request, route};

const TEMPLATE: &str = "/pets/{id}";

fn http(uri: String, method: &str) -> Integration {
    let mut integration = Integration::new(IntegrationType::Http);
    integration.uri = Some(uri);
    integration.http_method = Some(method.to_owned());
    integration
}

fn response(pattern: &str, status: &str) -> IntegrationResponse {
    IntegrationResponse::new(pattern, status)
}

fn with_template(
    mut r: IntegrationResponse,
    content_type: &str,
    text: &str,
) -> IntegrationResponse {
    r.response_templates
        .insert(content_type.to_owned(), text.to_owned());
    r
}

fn post(uri: &str, content_type: &str, body: &str) -> Request<Body> {
    let mut req = request(Method::POST, TEMPLATE, uri, Body::from(body.to_owned()));
    req.headers_mut()
        .insert("content-type", content_type.parse().unwrap());
    req
}

async fn text(response: Response<Body>) -> String {
    String::from_utf8(body_bytes(response).await.to_vec()).unwrap()
}

#[tokio::test]
async fn templates_and_mappings_shape_both_directions() {
    let backend = Backend::echo("b").await;
    let mut integration = http(
        format!("http://{}/store/{{petId}}?fixed=1", backend.addr),
        "PUT",
    );
    for (target, source) in [
        ("integration.request.path.petId", "method.request.path.id"),
        (
            "integration.request.querystring.kind",
            "method.request.querystring.type",
        ),
        ("integration.request.header.X-Tenant", "'acme'"),
        (
            "integration.request.header.X-Caller",
            "method.request.header.X-Caller",
        ),
        ("integration.request.header.X-Request", "context.requestId"),
        (
            "integration.request.header.X-Name",
            "method.request.body.name",
        ),
    ] {
        integration
            .request_parameters
            .insert(target.to_owned(), source.to_owned());
    }
    integration.request_templates.insert(
        "application/json".to_owned(),
        r#"{"pet": $input.json('$'), "id": "$input.params('id')", "q": "$input.params().querystring.type"}"#
            .to_owned(),
    );
    let mut ok = with_template(
        response("default", "201"),
        "application/json",
        r#"{"method": "$input.path('$.method')", "query": "$input.path('$.query')", "sent": $input.path('$.body')}"#,
    );
    ok.response_parameters.insert(
        "method.response.header.X-Backend".to_owned(),
        "integration.response.body.backend".to_owned(),
    );
    ok.response_parameters.insert(
        "method.response.header.X-Kind".to_owned(),
        "integration.response.header.Content-Type".to_owned(),
    );
    integration.responses.push(ok);
    let service = compile_route(&route(RouteMethod::Any, TEMPLATE, integration), &[]);

    let mut req = post(
        "/pets/7?type=cat&other=x",
        "application/json",
        r#"{"name":"Rex"}"#,
    );
    req.headers_mut()
        .insert("x-caller", "tester".parse().unwrap());
    req.headers_mut()
        .insert("x-unmapped", "dropped".parse().unwrap());
    let response = call(&service, req).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()["x-backend"], "b");
    assert_eq!(response.headers()["x-kind"], "application/json");
    assert_eq!(response.extensions().get(), Some(&IntegrationStatus(200)));
    let body = body_json(response).await;
    assert_eq!(body["method"], "PUT");
    assert_eq!(body["query"], "fixed=1&kind=cat");
    // The backend saw the rendered template as its body.
    assert_eq!(
        body["sent"],
        serde_json::json!({"pet": {"name": "Rex"}, "id": "7", "q": "cat"})
    );
}

#[tokio::test]
async fn only_mapped_headers_reach_the_backend() {
    let backend = Backend::echo("b").await;
    let mut integration = http(format!("http://{}/raw", backend.addr), "POST");
    integration.request_parameters.insert(
        "integration.request.header.X-Tenant".to_owned(),
        "'acme'".to_owned(),
    );
    integration.request_parameters.insert(
        "integration.request.header.X-Name".to_owned(),
        "method.request.body.name".to_owned(),
    );
    integration.responses.push(response("default", "200"));
    let service = compile_route(&route(RouteMethod::Any, TEMPLATE, integration), &[]);
    let mut req = post("/pets/1?q=1", "application/json", r#"{"name":"Rex"}"#);
    req.headers_mut()
        .insert("x-unmapped", "dropped".parse().unwrap());
    let response = call(&service, req).await;
    assert_eq!(response.status(), StatusCode::OK);
    // No response template: the backend's body passes through as JSON.
    assert_eq!(response.headers()["content-type"], "application/json");
    let seen = body_json(response).await;
    let headers = seen["headers"].as_object().unwrap();
    let mut names: Vec<&str> = headers.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "content-length",
            "content-type",
            "host",
            "user-agent",
            "x-amzn-trace-id",
            "x-name",
            "x-tenant"
        ]
    );
    assert_eq!(headers["x-tenant"][0], "acme");
    assert_eq!(headers["x-name"][0], "Rex");
    assert_eq!(headers["x-amzn-trace-id"][0], TRACE);
    assert!(
        headers["user-agent"][0]
            .as_str()
            .unwrap()
            .starts_with("AmazonAPIGateway_")
    );
    // Passthrough keeps the client's body and Content-Type; the query is not forwarded.
    assert_eq!(seen["body"], r#"{"name":"Rex"}"#);
    assert_eq!(seen["query"], serde_json::Value::Null);
}

/// An integration whose backend answers with the status in `x-status`.
fn status_service(backend: &Backend) -> IntegrationService {
    let mut integration = http(format!("http://{}/s", backend.addr), "GET");
    integration.request_parameters.insert(
        "integration.request.header.x-status".to_owned(),
        "method.request.header.x-want".to_owned(),
    );
    integration.responses = vec![
        with_template(response("2\\d{2}", "200"), "application/json", "ok"),
        with_template(
            response("4\\d{2}", "404"),
            "application/json",
            r#"{"missing": "$input.path('$.path')"}"#,
        ),
    ];
    compile_route(&route(RouteMethod::Any, TEMPLATE, integration), &[])
}

async fn get_with_status(service: &IntegrationService, status: &str) -> Response<Body> {
    let mut req = request(Method::GET, TEMPLATE, "/pets/1", Body::empty());
    req.headers_mut().insert("x-want", status.parse().unwrap());
    call(service, req).await
}

#[tokio::test]
async fn the_backend_status_selects_the_integration_response() {
    let backend = Backend::echo("b").await;
    let service = status_service(&backend);
    let ok = get_with_status(&service, "202").await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.extensions().get(), Some(&IntegrationStatus(202)));
    assert_eq!(text(ok).await, "ok");

    let missing = get_with_status(&service, "410").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        body_json(missing).await,
        serde_json::json!({"missing": "/s"})
    );

    // No pattern matches 500 and there is no default: AWS's configuration error.
    let unmatched = get_with_status(&service, "500").await;
    assert_eq!(unmatched.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(unmatched.extensions().get::<GatewayError>().is_some());
    assert_eq!(
        body_json(unmatched).await,
        serde_json::json!({"message": "Internal server error"})
    );
}

#[tokio::test]
async fn passthrough_behaviours_decide_unmapped_content_types() {
    let backend = Backend::echo("b").await;
    let compile = |behavior, templates: bool| {
        let mut integration = http(format!("http://{}/p", backend.addr), "POST");
        integration.passthrough_behavior = behavior;
        if templates {
            integration
                .request_templates
                .insert("application/json".to_owned(), "templated".to_owned());
        }
        integration.responses.push(with_template(
            response("default", "200"),
            "application/json",
            "$input.path('$.body')",
        ));
        compile_route(&route(RouteMethod::Any, TEMPLATE, integration), &[])
    };
    let send = |service: IntegrationService, content_type: &'static str| async move {
        call(&service, post("/pets/1", content_type, "plain words")).await
    };

    let matched = send(
        compile(PassthroughBehavior::Never, true),
        "application/json",
    )
    .await;
    assert_eq!(text(matched).await, "templated");
    let passed = send(
        compile(PassthroughBehavior::WhenNoMatch, true),
        "text/plain",
    )
    .await;
    assert_eq!(text(passed).await, "plain words");
    let no_templates = send(
        compile(PassthroughBehavior::WhenNoTemplates, false),
        "text/plain",
    )
    .await;
    assert_eq!(text(no_templates).await, "plain words");
    for (behavior, templates) in [
        (PassthroughBehavior::WhenNoTemplates, true),
        (PassthroughBehavior::Never, true),
        (PassthroughBehavior::Never, false),
    ] {
        let refused = send(compile(behavior, templates), "text/plain").await;
        assert_eq!(refused.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(
            body_json(refused).await,
            serde_json::json!({"message": "Unsupported Media Type"})
        );
    }
}

#[tokio::test]
async fn template_overrides_change_the_request_and_the_response() {
    let backend = Backend::echo("b").await;
    let mut integration = http(format!("http://{}/items/{{id}}", backend.addr), "GET");
    integration.request_templates.insert(
        "application/json".to_owned(),
        concat!(
            "#set($context.requestOverride.header.X-Override = 'yes')",
            "#set($context.requestOverride.querystring.page = '2')",
            "#set($context.requestOverride.path.id = 'over')",
        )
        .to_owned(),
    );
    integration.responses.push(with_template(
        response("default", "200"),
        "application/json",
        concat!(
            "#set($context.responseOverride.status = 299)",
            "#set($context.responseOverride.header.X-Seen = $input.path('$.headers.x-override[0]'))",
            "$input.path('$.path')?$input.path('$.query')",
        ),
    ));
    let service = compile_route(&route(RouteMethod::Any, TEMPLATE, integration), &[]);
    let response = call(
        &service,
        request(Method::GET, TEMPLATE, "/pets/1", Body::empty()),
    )
    .await;
    assert_eq!(response.status().as_u16(), 299);
    assert_eq!(response.headers()["x-seen"], "yes");
    assert_eq!(text(response).await, "/items/over?page=2");
}

async fn binary_backend() -> Backend {
    Backend::start(|req: Request<Incoming>| async move {
        let content_type = req.headers().get("content-type").cloned();
        let body = req.into_body().collect().await.unwrap().to_bytes();
        let mut response = Response::new(Body::from(body));
        if let Some(content_type) = content_type {
            response.headers_mut().insert("content-type", content_type);
        }
        response
    })
    .await
}

fn compile_binary(integration: Integration, types: &[&str]) -> IntegrationService {
    let variables = StageVariables::new();
    let client = HttpClient::new();
    let types: Vec<String> = types.iter().map(|t| (*t).to_owned()).collect();
    let ctx =
        CompileContext::new(&variables, &client, ApiProtocol::Rest).with_binary_media_types(&types);
    gateway_integrations::compile(&route(RouteMethod::Any, TEMPLATE, integration), &ctx).unwrap()
}

fn binary_post(accept: &str, body: &'static [u8]) -> Request<Body> {
    let mut req = request(Method::POST, TEMPLATE, "/pets/1", Body::from(body.to_vec()));
    req.headers_mut()
        .insert("content-type", "image/png".parse().unwrap());
    req.headers_mut().insert("accept", accept.parse().unwrap());
    req
}

const PNG: &[u8] = &[0x89, b'P', b'N', b'G', 0x00, 0xff];

#[tokio::test]
async fn binary_payloads_pass_through_or_convert() {
    let backend = binary_backend().await;
    let build = |request_handling, response_handling| {
        let mut integration = http(format!("http://{}/img", backend.addr), "POST");
        integration.content_handling = request_handling;
        integration.request_templates.insert(
            "image/png".to_owned(),
            r#"{"data": "$input.body"}"#.to_owned(),
        );
        let mut ok = response("default", "200");
        ok.content_handling = response_handling;
        ok.response_parameters.insert(
            "method.response.header.Content-Type".to_owned(),
            "integration.response.header.Content-Type".to_owned(),
        );
        integration.responses.push(ok);
        compile_binary(integration, &["image/png"])
    };

    // A binary request skips the template and reaches the backend as bytes; a
    // binary Accept gets the bytes back.
    let service = build(None, None);
    let response = call(&service, binary_post("image/png", PNG)).await;
    assert_eq!(response.headers()["content-type"], "image/png");
    assert_eq!(body_bytes(response).await.as_ref(), PNG);
    // A text Accept gets base64.
    let response = call(&service, binary_post("application/json", PNG)).await;
    assert_eq!(body_bytes(response).await.as_ref(), b"iVBORwD/");

    // CONVERT_TO_TEXT hands the template base64. The backend echoes the rendered
    // text as `image/png` (the template's type), a binary type, so a client
    // accepting JSON gets it base64-encoded, and one accepting PNG gets it as is.
    let service = build(Some(ContentHandling::ConvertToText), None);
    let response = call(&service, binary_post("application/json", PNG)).await;
    assert_eq!(text(response).await, "eyJkYXRhIjogImlWQk9Sd0QvIn0=");
    let response = call(&service, binary_post("image/png", PNG)).await;
    assert_eq!(text(response).await, r#"{"data": "iVBORwD/"}"#);

    // CONVERT_TO_BINARY on the response decodes the base64 text a backend returns;
    // text that is not base64 is the API's configuration error, not garbage.
    let service = build(None, Some(ContentHandling::ConvertToBinary));
    let mut req = post("/pets/1", "text/plain", "iVBORwD/");
    req.headers_mut()
        .insert("accept", "image/png".parse().unwrap());
    let response = call(&service, req).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_bytes(response).await.as_ref(), PNG);
    let response = call(&service, post("/pets/1", "text/plain", "not base64!")).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        body_json(response).await,
        serde_json::json!({"message": "Internal server error"})
    );
}

#[tokio::test]
async fn an_unreachable_backend_and_a_body_error_answer_as_aws() {
    let dead = support::dead_addr().await;
    let mut integration = http(format!("http://{dead}/x"), "GET");
    integration.responses.push(response("default", "200"));
    let service = compile_route(&route(RouteMethod::Any, TEMPLATE, integration), &[]);
    let unreachable = call(
        &service,
        request(Method::GET, TEMPLATE, "/pets/1", Body::empty()),
    )
    .await;
    assert_eq!(unreachable.status(), StatusCode::INTERNAL_SERVER_ERROR);

    let backend = binary_backend().await;
    let mut integration = http(format!("http://{}/x", backend.addr), "POST");
    integration.content_handling = Some(ContentHandling::ConvertToBinary);
    integration.responses.push(response("default", "200"));
    let service = compile_route(&route(RouteMethod::Any, TEMPLATE, integration), &[]);
    let response = call(&service, post("/pets/1", "text/plain", "not base64!")).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        body_json(response).await,
        serde_json::json!({"message": "Could not process payload"})
    );
}
