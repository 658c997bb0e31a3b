use std::collections::BTreeMap;

use http_body_util::BodyExt;
use tower::{ServiceBuilder, ServiceExt, service_fn};

use super::*;

async fn body_text(response: Response<Body>) -> String {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[test]
fn every_type_has_aws_name_status_and_error_type() {
    for kind in GatewayResponseType::ALL {
        assert_eq!(GatewayResponseType::from_name(kind.as_str()), Some(kind));
        assert!(kind.error_type().ends_with("Exception"));
        assert!(kind.default_status().is_client_error() || kind.default_status().is_server_error());
    }
    let expected = [
        ("ACCESS_DENIED", 403),
        ("BAD_REQUEST_BODY", 400),
        ("BAD_REQUEST_PARAMETERS", 400),
        ("EXPIRED_TOKEN", 403),
        ("INTEGRATION_TIMEOUT", 504),
        ("INVALID_API_KEY", 403),
        ("INVALID_SIGNATURE", 403),
        ("MISSING_AUTHENTICATION_TOKEN", 403),
        ("QUOTA_EXCEEDED", 429),
        ("REQUEST_TOO_LARGE", 413),
        ("RESOURCE_NOT_FOUND", 404),
        ("THROTTLED", 429),
        ("UNAUTHORIZED", 401),
        ("UNSUPPORTED_MEDIA_TYPE", 415),
        ("AUTHORIZER_FAILURE", 500),
        ("AUTHORIZER_CONFIGURATION_ERROR", 500),
        ("API_CONFIGURATION_ERROR", 500),
        ("WAF_FILTERED", 403),
    ];
    for (name, status) in expected {
        let kind = GatewayResponseType::from_name(name).unwrap();
        assert_eq!(kind.default_status().as_u16(), status, "{name}");
    }
    assert!(GatewayResponseType::from_name("NOPE").is_none());
}

#[tokio::test]
async fn default_response_has_message_and_error_type() {
    let response =
        GatewayError::new(GatewayResponseType::MissingAuthenticationToken).into_response();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        response.headers()[X_AMZN_ERROR_TYPE],
        "MissingAuthenticationTokenException"
    );
    assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
    assert_eq!(
        body_text(response).await,
        r#"{"message":"Missing Authentication Token"}"#
    );

    let null = GatewayError::new(GatewayResponseType::AuthorizerConfigurationError).into_response();
    assert_eq!(body_text(null).await, r#"{"message":null}"#);

    let quoted = GatewayError::new(GatewayResponseType::Default4xx)
        .with_message("say \"hi\"")
        .into_response();
    assert_eq!(body_text(quoted).await, r#"{"message":"say \"hi\""}"#);
}

fn customised() -> GatewayResponses {
    let mut entries = BTreeMap::new();
    entries.insert(
        GatewayResponseType::MissingAuthenticationToken,
        GatewayResponse {
            status_code: Some(StatusCode::NOT_FOUND),
            response_parameters: BTreeMap::from([
                (
                    "gatewayresponse.header.x-request-path".to_owned(),
                    "method.request.header.x-probe".to_owned(),
                ),
                (
                    "gatewayresponse.header.Access-Control-Allow-Origin".to_owned(),
                    "'*'".to_owned(),
                ),
            ]),
            response_templates: BTreeMap::from([(
                "application/json".to_owned(),
                r#"{"msg": $context.error.messageString, "type": "$context.error.responseType", "id": "$context.requestId", "env": "$stageVariables.env"}"#.to_owned(),
            )]),
        },
    );
    entries.insert(
        GatewayResponseType::Default4xx,
        GatewayResponse {
            status_code: None,
            response_parameters: BTreeMap::from([(
                "gatewayresponse.header.x-default".to_owned(),
                "'yes'".to_owned(),
            )]),
            response_templates: BTreeMap::from([(
                "application/json".to_owned(),
                r#"{"error": $context.error.messageString}"#.to_owned(),
            )]),
        },
    );
    entries.insert(
        GatewayResponseType::Default5xx,
        GatewayResponse {
            status_code: Some(StatusCode::SERVICE_UNAVAILABLE),
            ..GatewayResponse::default()
        },
    );
    GatewayResponses::compile(&entries).unwrap()
}

#[tokio::test]
async fn customised_type_uses_its_status_headers_and_template() {
    let responses = customised();
    assert!(responses.needs_request());
    let mut headers = HeaderMap::new();
    headers.insert("x-probe", HeaderValue::from_static("/a/b"));
    let context = RequestContext {
        request_id: "rid".into(),
        ..RequestContext::default()
    };
    let mut vars = StageVariables::new();
    vars.insert("env", "test").unwrap();
    let info = ErrorRequestInfo {
        context: Some(&context),
        stage_variables: Some(&vars),
        headers: Some(&headers),
        ..ErrorRequestInfo::default()
    };
    let response = responses.render(
        GatewayError::new(GatewayResponseType::MissingAuthenticationToken),
        &info,
    );
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(response.headers()["x-request-path"], "/a/b");
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    assert_eq!(response.headers()["x-default"], "yes");
    assert_eq!(
        body_text(response).await,
        r#"{"msg": "Missing Authentication Token", "type": "MISSING_AUTHENTICATION_TOKEN", "id": "rid", "env": "test"}"#
    );
}

#[tokio::test]
async fn uncustomised_types_fall_back_to_default_4xx_and_5xx() {
    let responses = customised();
    let info = ErrorRequestInfo::default();
    let throttled = responses.render(GatewayError::new(GatewayResponseType::Throttled), &info);
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(throttled.headers()["x-default"], "yes");
    assert_eq!(
        throttled.headers()[X_AMZN_ERROR_TYPE],
        "TooManyRequestsException"
    );
    assert_eq!(
        body_text(throttled).await,
        r#"{"error": "Too Many Requests"}"#
    );

    let timeout = responses.render(
        GatewayError::new(GatewayResponseType::IntegrationTimeout),
        &info,
    );
    assert_eq!(timeout.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body_text(timeout).await,
        r#"{"message":"Endpoint request timed out"}"#
    );

    let plain = GatewayResponses::default();
    let response = plain.render(GatewayError::new(GatewayResponseType::Throttled), &info);
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[test]
fn invalid_customisations_name_the_field() {
    let entries = BTreeMap::from([(
        GatewayResponseType::Unauthorized,
        GatewayResponse {
            response_parameters: BTreeMap::from([(
                "method.response.header.x".to_owned(),
                "'v'".to_owned(),
            )]),
            ..GatewayResponse::default()
        },
    )]);
    let err = GatewayResponses::compile(&entries).unwrap_err();
    assert!(err.contains("UNAUTHORIZED.responseParameters"), "{err}");

    let entries = BTreeMap::from([(
        GatewayResponseType::Unauthorized,
        GatewayResponse {
            response_parameters: BTreeMap::from([(
                "gatewayresponse.header.x".to_owned(),
                "method.request.body".to_owned(),
            )]),
            ..GatewayResponse::default()
        },
    )]);
    assert!(GatewayResponses::compile(&entries).is_err());
}

#[test]
fn template_choice_follows_accept() {
    let templates = vec![
        ("application/json".to_owned(), SimpleTemplate::compile("j")),
        ("application/xml".to_owned(), SimpleTemplate::compile("x")),
    ];
    assert_eq!(
        choose_template(&templates, Some("application/xml"))
            .unwrap()
            .0,
        "application/xml"
    );
    assert_eq!(
        choose_template(&templates, Some("text/html, */*"))
            .unwrap()
            .0,
        "application/json"
    );
    assert_eq!(
        choose_template(&templates, None).unwrap().0,
        "application/json"
    );
}

#[test]
fn simple_template_keeps_unknown_dollars() {
    let t = SimpleTemplate::compile("cost: $5 ${context.requestId} $input.body $context.");
    let ctx = RequestContext {
        request_id: "r".into(),
        ..RequestContext::default()
    };
    let info = ErrorRequestInfo {
        context: Some(&ctx),
        ..ErrorRequestInfo::default()
    };
    let out = t.render(&GatewayError::new(GatewayResponseType::Default4xx), &info);
    assert_eq!(out, "cost: $5 r $input.body $context.");
}

#[tokio::test]
async fn layer_turns_errors_into_responses_and_customises_rejections() {
    let failing = ServiceBuilder::new()
        .layer(GatewayResponseLayer::new())
        .service(service_fn(|_req: Request<Body>| async {
            Err::<Response<Body>, BoxError>("backend exploded".into())
        }));
    let response = failing.oneshot(Request::new(Body::empty())).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        body_text(response).await,
        r#"{"message":"Internal server error"}"#
    );

    let timeout = ServiceBuilder::new()
        .layer(GatewayResponseLayer::new())
        .service(service_fn(|_req: Request<Body>| async {
            Err::<Response<Body>, BoxError>(Box::new(tower::timeout::error::Elapsed::new()))
        }));
    let response = timeout.oneshot(Request::new(Body::empty())).await.unwrap();
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);

    let rejecting = ServiceBuilder::new()
        .layer(GatewayResponseLayer::new().responses(customised()))
        .service(service_fn(|_req: Request<Body>| async {
            Ok::<_, BoxError>(
                GatewayError::new(GatewayResponseType::MissingAuthenticationToken).into_response(),
            )
        }));
    let request = Request::builder()
        .header("x-probe", "/p")
        .body(Body::empty())
        .unwrap();
    let response = rejecting.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(response.headers()["x-request-path"], "/p");
    assert!(response.extensions().get::<GatewayError>().is_some());
}
