//! MOCK integrations.

mod support;

use gateway_core::body::Body;
use gateway_core::error::GatewayError;
use gateway_core::model::{
    Integration, IntegrationResponse, IntegrationType, PassthroughBehavior, RouteMethod,
};
use gateway_integrations::{CompileError, IntegrationStatus};
use http::{Method, Response, StatusCode};

use support::{body_bytes, body_json, call, compile_route, request, route};

const TEMPLATE: &str = "/pets/{id}";

fn mock(templates: &[(&str, &str)], responses: Vec<IntegrationResponse>) -> Integration {
    let mut integration = Integration::new(IntegrationType::Mock);
    for (content_type, text) in templates {
        integration
            .request_templates
            .insert((*content_type).to_owned(), (*text).to_owned());
    }
    integration.responses = responses;
    integration
}

fn response(pattern: &str, status: &str, templates: &[(&str, &str)]) -> IntegrationResponse {
    let mut response = IntegrationResponse::new(pattern, status);
    for (content_type, text) in templates {
        response
            .response_templates
            .insert((*content_type).to_owned(), (*text).to_owned());
    }
    response
}

/// Three responses: 2xx → 200 "ok", 4xx → 404 "missing", default → 500 "other".
fn standard_responses() -> Vec<IntegrationResponse> {
    vec![
        response("2\\d{2}", "200", &[("application/json", r#"{"r":"ok"}"#)]),
        response(
            "4\\d{2}",
            "404",
            &[("application/json", r#"{"r":"missing"}"#)],
        ),
        response(
            "default",
            "500",
            &[("application/json", r#"{"r":"other"}"#)],
        ),
    ]
}

async fn send(integration: Integration, req: http::Request<Body>) -> Response<Body> {
    let service = compile_route(
        &route(RouteMethod::Any, TEMPLATE, integration),
        &[("env", "prod")],
    );
    call(&service, req).await
}

fn get(uri: &str) -> http::Request<Body> {
    request(Method::GET, TEMPLATE, uri, Body::empty())
}

async fn aws_error(response: Response<Body>) -> (StatusCode, String, serde_json::Value) {
    let status = response.status();
    let kind = response
        .extensions()
        .get::<GatewayError>()
        .map(|e| e.kind().as_str().to_owned())
        .unwrap_or_default();
    (status, kind, body_json(response).await)
}

#[tokio::test]
async fn the_template_status_selects_the_integration_response() {
    let integration = mock(
        &[("application/json", r#"{"statusCode": 404}"#)],
        standard_responses(),
    );
    let response = send(integration, get("/pets/1")).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(response.extensions().get(), Some(&IntegrationStatus(404)));
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(body_bytes(response).await, r#"{"r":"missing"}"#);

    let integration = mock(
        &[("application/json", r#"{"statusCode": "204"}"#)],
        standard_responses(),
    );
    let response = send(integration, get("/pets/1")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_bytes(response).await, r#"{"r":"ok"}"#);
}

#[tokio::test]
async fn the_default_response_catches_unmatched_statuses() {
    let integration = mock(
        &[("application/json", r#"{"statusCode": 302}"#)],
        standard_responses(),
    );
    let response = send(integration, get("/pets/1")).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(response.extensions().get(), Some(&IntegrationStatus(302)));
    // A configured response, not a gateway error.
    assert!(response.extensions().get::<GatewayError>().is_none());
    assert_eq!(body_bytes(response).await, r#"{"r":"other"}"#);
}

#[tokio::test]
async fn no_matching_response_and_no_default_is_a_configuration_error() {
    let integration = mock(
        &[("application/json", r#"{"statusCode": 500}"#)],
        vec![response("2\\d{2}", "200", &[])],
    );
    let (status, kind, body) = aws_error(send(integration, get("/pets/1")).await).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(kind, "API_CONFIGURATION_ERROR");
    assert_eq!(
        body,
        serde_json::json!({"message": "Internal server error"})
    );

    let no_responses = mock(&[("application/json", r#"{"statusCode": 200}"#)], vec![]);
    let (status, kind, _) = aws_error(send(no_responses, get("/pets/1")).await).await;
    assert_eq!(
        (status.as_u16(), kind.as_str()),
        (500, "API_CONFIGURATION_ERROR")
    );
}

#[tokio::test]
async fn vtl_request_templates_choose_the_status() {
    let vtl = "#if($input.params('scope') == 'internal')\n{\"statusCode\": 200}\n#else\n{\"statusCode\": 403}\n#end";
    let integration = mock(&[("application/json", vtl)], standard_responses());
    let response = send(integration.clone(), get("/pets/1?scope=internal")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_json(response).await, serde_json::json!({"r": "ok"}));
    let response = send(integration, get("/pets/1?scope=public")).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        body_json(response).await,
        serde_json::json!({"r": "missing"})
    );
}

#[tokio::test]
async fn request_templates_read_the_payload() {
    let vtl = r#"{"statusCode": $input.json('$.code')}"#;
    let integration = mock(&[("application/json", vtl)], standard_responses());
    let req = request(
        Method::POST,
        TEMPLATE,
        "/pets/1",
        Body::from(r#"{"code": 404}"#),
    );
    assert_eq!(
        send(integration.clone(), req).await.status(),
        StatusCode::NOT_FOUND
    );
    // A payload the template cannot read as JSON is the client's error.
    let req = request(
        Method::POST,
        TEMPLATE,
        "/pets/1",
        Body::from(r#"{"code": "#),
    );
    let (status, kind, body) = aws_error(send(integration, req).await).await;
    assert_eq!(
        (status, kind.as_str()),
        (StatusCode::BAD_REQUEST, "BAD_REQUEST_BODY")
    );
    assert_eq!(
        body,
        serde_json::json!({"message": "Could not process payload"})
    );
}

#[tokio::test]
async fn a_template_output_that_is_not_json_is_a_configuration_error() {
    let vtl = "status=$input.params('scope')";
    let integration = mock(&[("application/json", vtl)], standard_responses());
    let (status, kind, body) = aws_error(send(integration, get("/pets/1?scope=x")).await).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(kind, "API_CONFIGURATION_ERROR");
    assert_eq!(
        body,
        serde_json::json!({"message": "Internal server error"})
    );
}

#[tokio::test]
async fn response_templates_render_with_the_aws_bindings_and_overrides() {
    let template = concat!(
        "#set($context.responseOverride.status = 201)\n",
        "#set($context.responseOverride.header.X-Pet = $input.params('id'))\n",
        r#"{"id": "$input.params('id')", "env": "$stageVariables.env", "#,
        r#""q": "$util.escapeJavaScript($input.params('q'))", "missing": "$context.identity.apiKey"}"#
    );
    let integration = mock(
        &[("application/json", r#"{"statusCode": 200}"#)],
        vec![response(
            "default",
            "200",
            &[("application/json", template)],
        )],
    );
    let response = send(integration, get("/pets/42?q=it's")).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["x-pet"], "42");
    // escapeJavaScript escapes `'` as `\'`, as AWS does (not valid JSON, as on AWS).
    let body = String::from_utf8(body_bytes(response).await.to_vec()).unwrap();
    assert_eq!(
        body,
        r#"{"id": "42", "env": "prod", "q": "it\'s", "missing": ""}"#
    );
}

#[test]
fn templates_that_do_not_compile_fail_with_their_position() {
    let integration = mock(
        &[("application/json", "#if($x)\n{\"statusCode\": 200}")],
        standard_responses(),
    );
    let err = compile_err(integration);
    let text = err.to_string();
    assert!(text.contains("requestTemplates.application/json"), "{text}");
    assert!(text.contains("line 1, column 1"), "{text}");

    let integration = mock(
        &[("application/json", r#"{"statusCode": 200}"#)],
        vec![response(
            "default",
            "200",
            &[("application/json", "$input.json(")],
        )],
    );
    let text = compile_err(integration).to_string();
    assert!(
        text.contains("responses.default.responseTemplates.application/json"),
        "{text}"
    );
}

#[tokio::test]
async fn no_template_or_no_status_code_means_200() {
    let none = mock(&[], standard_responses());
    let response = send(none, get("/pets/1")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.extensions().get(), Some(&IntegrationStatus(200)));

    let no_status = mock(
        &[("application/json", r#"{"other": true}"#)],
        standard_responses(),
    );
    assert_eq!(
        send(no_status, get("/pets/1")).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_request_template_is_chosen_by_content_type() {
    let templates = [
        ("application/json", r#"{"statusCode": 200}"#),
        ("application/xml", r#"{"statusCode": 404}"#),
        ("text/plain", r#"{"statusCode": 302}"#),
    ];
    let cases = [
        (Some("application/xml; charset=utf-8"), 404),
        (Some("Application/XML"), 404),
        (Some("text/plain"), 500),
        (Some("application/json"), 200),
        (None, 200),
        // Unmatched under WHEN_NO_MATCH: the application/json template.
        (Some("image/png"), 200),
    ];
    for (content_type, expected) in cases {
        let mut req = get("/pets/1");
        if let Some(ct) = content_type {
            req.headers_mut()
                .insert("content-type", ct.parse().unwrap());
        }
        let response = send(mock(&templates, standard_responses()), req).await;
        assert_eq!(response.status().as_u16(), expected, "{content_type:?}");
    }
}

#[tokio::test]
async fn without_a_json_template_the_first_is_used() {
    let templates = [
        ("application/xml", r#"{"statusCode": 404}"#),
        ("text/plain", r#"{"statusCode": 302}"#),
    ];
    let mut req = get("/pets/1");
    req.headers_mut()
        .insert("content-type", "image/png".parse().unwrap());
    let response = send(mock(&templates, standard_responses()), req).await;
    // The model keeps templates sorted by content type: application/xml is first.
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unmapped_content_types_are_415_when_passthrough_forbids_them() {
    for behavior in [
        PassthroughBehavior::Never,
        PassthroughBehavior::WhenNoTemplates,
    ] {
        let mut integration = mock(
            &[("application/json", r#"{"statusCode": 200}"#)],
            standard_responses(),
        );
        integration.passthrough_behavior = behavior;
        let mut req = get("/pets/1");
        req.headers_mut()
            .insert("content-type", "text/csv".parse().unwrap());
        let (status, kind, body) = aws_error(send(integration.clone(), req).await).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(kind, "UNSUPPORTED_MEDIA_TYPE");
        assert_eq!(
            body,
            serde_json::json!({"message": "Unsupported Media Type"})
        );
        // A mapped type still works.
        assert_eq!(
            send(integration, get("/pets/1")).await.status(),
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn the_response_template_is_chosen_by_accept() {
    let responses = vec![response(
        "default",
        "200",
        &[
            ("application/json", r#"{"kind":"json"}"#),
            ("text/html", "<p>html</p>"),
            ("application/xml", "<kind>xml</kind>"),
        ],
    )];
    let integration = mock(&[], responses);
    let cases = [
        (Some("text/html"), "text/html", "<p>html</p>"),
        (
            Some("image/webp, application/xml;q=0.8"),
            "application/xml",
            "<kind>xml</kind>",
        ),
        (Some("*/*"), "application/json", r#"{"kind":"json"}"#),
        (None, "application/json", r#"{"kind":"json"}"#),
    ];
    for (accept, content_type, body) in cases {
        let mut req = get("/pets/1");
        if let Some(accept) = accept {
            req.headers_mut().insert("accept", accept.parse().unwrap());
        }
        let response = send(integration.clone(), req).await;
        assert_eq!(
            response.headers()["content-type"],
            content_type,
            "{accept:?}"
        );
        assert_eq!(body_bytes(response).await, body, "{accept:?}");
    }
}

#[tokio::test]
async fn without_a_response_template_the_body_is_empty_json() {
    let integration = mock(&[], vec![response("default", "204", &[])]);
    let mut req = get("/pets/1");
    req.headers_mut()
        .insert("accept", "text/html".parse().unwrap());
    let response = send(integration, req).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert!(body_bytes(response).await.is_empty());
}

#[tokio::test]
async fn response_headers_come_from_static_and_request_values() {
    let mut default = response("default", "200", &[("application/json", "{}")]);
    for (header, source) in [
        ("Access-Control-Allow-Origin", "'*'"),
        ("X-From-Header", "method.request.header.X-In"),
        ("X-From-Multi", "method.request.multivalueheader.X-In"),
        ("X-From-Query", "method.request.querystring.q"),
        ("X-From-Path", "method.request.path.id"),
        ("X-Stage", "stageVariables.env"),
        ("X-Missing-Stage", "stageVariables.nope"),
        ("X-Request-Id", "context.requestId"),
        ("X-Source-Ip", "context.identity.sourceIp"),
        ("X-Integration", "integration.response.header.X-Backend"),
        ("X-Integration-Body", "integration.response.body.id"),
        ("X-Absent", "method.request.header.X-Not-Sent"),
    ] {
        default.response_parameters.insert(
            format!("method.response.header.{header}"),
            source.to_owned(),
        );
    }
    let integration = mock(&[], vec![default]);
    let mut req = get("/pets/a%20b?q=hello%20world");
    req.headers_mut().append("x-in", "one".parse().unwrap());
    req.headers_mut().append("x-in", "two".parse().unwrap());
    let response = send(integration, req).await;
    let headers = response.headers();
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert_eq!(headers["x-from-header"], "one");
    assert_eq!(headers["x-from-multi"], "one,two");
    assert_eq!(headers["x-from-query"], "hello world");
    assert_eq!(headers["x-from-path"], "a b");
    assert_eq!(headers["x-stage"], "prod");
    assert_eq!(headers["x-request-id"], "req-1");
    assert_eq!(headers["x-source-ip"], support::CLIENT_IP);
    for absent in [
        "x-missing-stage",
        "x-integration",
        "x-integration-body",
        "x-absent",
    ] {
        assert!(!headers.contains_key(absent), "{absent}");
    }
}

#[tokio::test]
async fn the_model_mock_helper_answers_its_status_and_body() {
    let integration = Integration::mock(201, r#"{"created":true}"#);
    let response = send(integration, get("/pets/1")).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(body_bytes(response).await, r#"{"created":true}"#);
}

#[tokio::test]
async fn the_request_body_is_not_needed() {
    let integration = Integration::mock(200, "ok");
    let req = request(
        Method::POST,
        TEMPLATE,
        "/pets/1",
        Body::new(support::PatternBody::new(1 << 20, 1 << 16)),
    );
    assert_eq!(send(integration, req).await.status(), StatusCode::OK);
}

#[test]
fn invalid_responses_name_the_route_and_field() {
    let bad_pattern = mock(&[], vec![response("(?<=2)00", "200", &[])]);
    let err = compile_err(bad_pattern);
    assert!(matches!(err, CompileError::InvalidField { .. }));
    assert!(
        err.to_string()
            .starts_with("ANY /pets/{id}: integration field `responses.(?<=2)00.selectionPattern`"),
        "{err}"
    );

    let mut bad_header = response("default", "200", &[]);
    bad_header
        .response_parameters
        .insert("method.response.body".into(), "'x'".into());
    let err = compile_err(mock(&[], vec![bad_header]));
    assert!(
        err.to_string()
            .contains("responses.default.responseParameters.method.response.body"),
        "{err}"
    );

    let err = compile_err(mock(&[], vec![response("default", "2000", &[])]));
    assert!(
        err.to_string().contains("responses.default.statusCode"),
        "{err}"
    );
}

fn compile_err(integration: Integration) -> CompileError {
    let variables = gateway_core::stage::StageVariables::new();
    let client = gateway_integrations::HttpClient::new();
    let ctx = gateway_integrations::CompileContext::new(
        &variables,
        &client,
        gateway_core::model::ApiProtocol::Rest,
    );
    match gateway_integrations::compile(&route(RouteMethod::Any, TEMPLATE, integration), &ctx) {
        Err(err) => err,
        Ok(_) => panic!("the integration compiled"),
    }
}
