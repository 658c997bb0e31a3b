//! The HTTP API export (JSON): protocol detection, `$default`, payload format versions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gateway_core::model::{
    ApiProtocol, AuthorizationType, AuthorizerType, IntegrationType, JwtConfiguration, Route,
    RouteMethod,
};
use gateway_openapi::{LoadError, LoadOptions, Loaded, load_file, load_str};
use http::Method;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn load() -> Loaded {
    load_file(&fixture("pets-http.json"), &LoadOptions::default())
        .unwrap_or_else(|err| panic!("{err}"))
}

#[test]
fn importexport_version_makes_an_http_api() {
    let api = load().api;
    assert_eq!(api.protocol, ApiProtocol::Http);
    assert_eq!(api.name, "pets-http");
    assert_eq!(api.version.as_deref(), Some("2024-05-01 10:00:00UTC"));
    assert_eq!(api.description, None);
    assert!(api.models.is_empty());
    assert!(api.gateway_responses.is_empty());
}

#[test]
fn routes_include_greedy_and_default() {
    let api = load().api;
    let keys: Vec<String> = api.routes.iter().map(Route::route_key).collect();
    assert_eq!(
        keys,
        [
            "GET /pets",
            "GET /pets/{petId}",
            "ANY /static/{proxy+}",
            "$default"
        ]
    );
    let default = api.route(&RouteMethod::Any, "$default").unwrap();
    let integration = default.integration.as_ref().unwrap();
    assert_eq!(integration.kind, IntegrationType::HttpProxy);
    assert_eq!(integration.http_method.as_deref(), Some("ANY"));
    assert_eq!(
        integration.uri.as_deref(),
        Some("https://fallback.example.com")
    );
    // `default` responses document "anything else"; they are no method response.
    assert!(default.method_responses.is_empty());
}

#[test]
fn lambda_route_with_jwt_authorizer() {
    let api = load().api;
    let route = api
        .route(&RouteMethod::Method(Method::GET), "/pets")
        .unwrap();
    assert_eq!(route.authorization.kind, AuthorizationType::Jwt);
    assert_eq!(route.authorization.authorizer.as_deref(), Some("jwt-auth"));
    assert_eq!(route.authorization.scopes, ["pets/read"]);
    assert!(route.method_responses.is_empty());
    let integration = route.integration.as_ref().unwrap();
    assert_eq!(integration.kind, IntegrationType::AwsProxy);
    assert_eq!(integration.payload_format_version.as_deref(), Some("2.0"));
    assert_eq!(integration.http_method.as_deref(), Some("POST"));
    // HTTP APIs allow up to 30 s, which their exports write out.
    assert_eq!(integration.timeout, Duration::from_secs(30));
    assert!(
        integration
            .uri
            .as_deref()
            .unwrap()
            .ends_with(":function:list-pets/invocations")
    );
}

#[test]
fn http_proxy_route_with_path_level_parameter() {
    let api = load().api;
    let route = api
        .route(&RouteMethod::Method(Method::GET), "/pets/{petId}")
        .unwrap();
    assert_eq!(
        route.request_parameters,
        BTreeMap::from([("method.request.path.petId".to_owned(), true)])
    );
    assert_eq!(route.authorization.kind, AuthorizationType::None);
    let integration = route.integration.as_ref().unwrap();
    assert_eq!(integration.payload_format_version.as_deref(), Some("1.0"));
    assert_eq!(
        integration.timeout,
        Duration::from_secs(30),
        "HTTP APIs default to 30 s"
    );
    assert_eq!(
        integration.request_parameters,
        BTreeMap::from([(
            "overwrite:header.x-pet-id".to_owned(),
            "$request.path.petId".to_owned()
        )])
    );
}

#[test]
fn response_parameters_are_kept_by_status_code() {
    let api = load().api;
    let route = api
        .route(&RouteMethod::Method(Method::GET), "/pets/{petId}")
        .unwrap();
    let integration = route.integration.as_ref().unwrap();
    let mapping = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    assert_eq!(
        integration.http_response_parameters,
        BTreeMap::from([
            (
                "404".to_owned(),
                mapping(&[
                    ("overwrite:statuscode", "410"),
                    ("append:header.x-request-id", "$context.requestId"),
                ])
            ),
            ("200".to_owned(), mapping(&[("remove:header.server", "''")])),
        ])
    );
}

fn http_api(integration: &str) -> String {
    format!(
        r#"{{"openapi": "3.0.1", "info": {{"title": "t", "version": "1"}},
  "x-amazon-apigateway-importexport-version": "1.0",
  "paths": {{"/a": {{"get": {{"x-amazon-apigateway-integration": {integration}}}}}}}}}"#
    )
}

#[test]
fn response_parameters_must_be_keyed_by_status_codes() {
    let cases = [
        (
            r#"{"2xx": {"overwrite:statuscode": "204"}}"#,
            ".responseParameters.2xx",
            "200 to 599",
        ),
        (r#"{"100": {}}"#, ".responseParameters.100", "200 to 599"),
        (r#"{"200": ["x"]}"#, ".responseParameters.200", "object"),
        (
            r#"{"200": {"append:header.a": true}}"#,
            ".responseParameters.200.append:header.a",
            "string",
        ),
        (r#"["x"]"#, ".responseParameters", "object"),
    ];
    for (parameters, location_end, message) in cases {
        let doc = http_api(&format!(
            r#"{{"type": "http_proxy", "httpMethod": "GET", "uri": "http://b.example", "responseParameters": {parameters}}}"#
        ));
        let err = load_str(&doc, "api.json", &LoadOptions::default()).unwrap_err();
        let LoadError::Invalid { location, .. } = &err else {
            panic!("{err}");
        };
        assert!(location.ends_with(location_end), "{location}");
        assert!(err.to_string().contains(message), "{err}");
    }
    let doc = http_api(
        r#"{"type": "http_proxy", "httpMethod": "GET", "uri": "http://b.example", "responseParameters": {"200": {"overwrite:statuscode": 204}}}"#,
    );
    let loaded = load_str(&doc, "api.json", &LoadOptions::default()).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let integration = loaded.api.routes[0].integration.as_ref().unwrap();
    assert_eq!(
        integration.http_response_parameters["200"]["overwrite:statuscode"],
        "204"
    );
}

#[test]
fn rest_apis_warn_about_integration_level_response_parameters() {
    let options = LoadOptions {
        protocol: Some(ApiProtocol::Rest),
        ..LoadOptions::default()
    };
    let doc = http_api(
        r#"{"type": "http_proxy", "httpMethod": "GET", "uri": "http://b.example", "responseParameters": {"200": {"overwrite:statuscode": "204"}}}"#,
    );
    let loaded = load_str(&doc, "api.json", &options).unwrap();
    let integration = loaded.api.routes[0].integration.as_ref().unwrap();
    assert!(integration.http_response_parameters.is_empty());
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    assert!(
        loaded.warnings[0]
            .location
            .ends_with("x-amazon-apigateway-integration.responseParameters"),
        "{:?}",
        loaded.warnings
    );
}

#[test]
fn warnings_name_their_locations() {
    let loaded = load();
    let locations: Vec<&str> = loaded
        .warnings
        .iter()
        .map(|w| w.location.as_str())
        .collect();
    assert_eq!(
        locations,
        [
            "tags[0].x-amazon-apigateway-tag-value",
            "x-amazon-apigateway-cors",
        ]
    );
    assert!(
        loaded
            .warnings
            .iter()
            .all(|w| w.file.ends_with("pets-http.json"))
    );
}

#[test]
fn the_jwt_authorizer_is_configured() {
    let api = load().api;
    let authorizer = &api.authorizers["jwt-auth"];
    assert_eq!(authorizer.kind, AuthorizerType::Jwt);
    assert_eq!(
        authorizer.identity_source,
        ["$request.header.Authorization"]
    );
    assert_eq!(
        authorizer.jwt,
        Some(JwtConfiguration {
            issuer: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example1".to_owned(),
            audience: vec!["pets-client".to_owned()],
        })
    );
    assert_eq!(api.authorizers.len(), 1);
    assert_eq!(api.policy, None);
}

#[test]
fn forcing_rest_applies_rest_rules() {
    let options = LoadOptions {
        protocol: Some(ApiProtocol::Rest),
        ..LoadOptions::default()
    };
    let err = load_file(&fixture("pets-http.json"), &options).unwrap_err();
    assert!(
        matches!(err, LoadError::Invalid { ref location, .. }
            if location == "components.securitySchemes.jwt-auth.x-amazon-apigateway-authorizer.type"),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("`jwt` authorizers belong to HTTP APIs"),
        "{message}"
    );
}

#[test]
fn strict_mode_lists_every_warning() {
    let options = LoadOptions {
        strict: true,
        ..LoadOptions::default()
    };
    let err = load_file(&fixture("pets-http.json"), &options).unwrap_err();
    let LoadError::Strict { warnings, .. } = &err else {
        panic!("expected a strict-mode error, got {err}");
    };
    assert_eq!(warnings.len(), 2);
    assert!(err.to_string().contains("1 more"), "{err}");
}
