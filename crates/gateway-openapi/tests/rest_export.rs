//! The REST PetStore export (YAML), mapped field by field.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gateway_core::error::{GatewayResponse, GatewayResponseType};
use gateway_core::model::{
    ApiKeySource, ApiProtocol, Authorization, Integration, IntegrationResponse, IntegrationType,
    MethodResponse, PassthroughBehavior, RequestValidator, Route, RouteMethod,
};
use gateway_openapi::{LoadOptions, Loaded, load_file, load_str};
use http::{Method, StatusCode};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn load() -> Loaded {
    load_file(&fixture("petstore-rest.yaml"), &LoadOptions::default())
        .unwrap_or_else(|err| panic!("{err}"))
}

fn map<const N: usize, V: Clone>(entries: [(&str, V); N]) -> BTreeMap<String, V> {
    entries
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
}

fn strings<const N: usize>(entries: [(&str, &str); N]) -> BTreeMap<String, String> {
    entries
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn get() -> RouteMethod {
    RouteMethod::Method(Method::GET)
}

fn cors_response(model: &str) -> MethodResponse {
    MethodResponse {
        response_parameters: map([("method.response.header.Access-Control-Allow-Origin", false)]),
        response_models: strings([("application/json", model)]),
    }
}

#[test]
fn api_settings() {
    let api = load().api;
    assert_eq!(api.name, "PetStore");
    assert_eq!(api.version.as_deref(), Some("2024-05-01T10:00:00Z"));
    assert_eq!(
        api.description.as_deref(),
        Some("A pet store behind HTTP proxy integrations.")
    );
    assert_eq!(api.protocol, ApiProtocol::Rest);
    assert_eq!(api.api_key_source, ApiKeySource::Header);
    assert_eq!(
        api.binary_media_types,
        ["image/png", "application/octet-stream"]
    );
    assert_eq!(
        api.request_validators,
        map([
            (
                "Validate body",
                RequestValidator {
                    validate_request_body: true,
                    validate_request_parameters: false,
                },
            ),
            (
                "params-only",
                RequestValidator {
                    validate_request_body: false,
                    validate_request_parameters: true,
                },
            ),
        ])
    );
    assert_eq!(
        api.default_request_validator.as_deref(),
        Some("params-only")
    );
}

#[test]
fn api_id_is_derived_from_the_title_unless_given() {
    let id = load().api.id;
    assert_eq!(id.len(), 10);
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
        "{id}"
    );
    assert_eq!(id, load().api.id, "the derived id is stable");

    let options = LoadOptions {
        api_id: Some("abc123defg".to_owned()),
        ..LoadOptions::default()
    };
    let loaded = load_file(&fixture("petstore-rest.yaml"), &options).unwrap();
    assert_eq!(loaded.api.id, "abc123defg");
}

#[test]
fn models_keep_their_references() {
    let api = load().api;
    let names: Vec<&str> = api.models.keys().map(String::as_str).collect();
    assert_eq!(names, ["Empty", "NewPet", "NewPetResponse", "Pet", "Pets"]);
    assert_eq!(
        api.models["Pets"],
        serde_json::json!({"type": "array", "items": {"$ref": "#/components/schemas/Pet"}})
    );
    assert_eq!(api.models["NewPet"]["properties"]["price"]["minimum"], 25.0);
}

#[test]
fn gateway_responses() {
    let api = load().api;
    let expected = BTreeMap::from([
        (
            GatewayResponseType::Default4xx,
            GatewayResponse {
                status_code: None,
                response_parameters: strings([(
                    "gatewayresponse.header.Access-Control-Allow-Origin",
                    "'*'",
                )]),
                response_templates: strings([(
                    "application/json",
                    "{\"message\":$context.error.messageString}",
                )]),
            },
        ),
        (
            GatewayResponseType::MissingAuthenticationToken,
            GatewayResponse {
                status_code: Some(StatusCode::NOT_FOUND),
                response_parameters: BTreeMap::new(),
                response_templates: strings([(
                    "application/json",
                    "{\"message\": \"No such resource\"}",
                )]),
            },
        ),
    ]);
    assert_eq!(api.gateway_responses, expected);
}

#[test]
fn routes_in_document_order() {
    let api = load().api;
    let keys: Vec<String> = api.routes.iter().map(Route::route_key).collect();
    assert_eq!(
        keys,
        [
            "GET /",
            "GET /pets",
            "POST /pets",
            "OPTIONS /pets",
            "GET /pets/{petId}"
        ]
    );
}

#[test]
fn root_mock_with_response_template() {
    let api = load().api;
    let route = api.route(&get(), "/").unwrap();

    let mut integration = Integration::new(IntegrationType::Mock);
    integration.request_templates = strings([("application/json", "{\"statusCode\": 200}")]);
    integration.passthrough_behavior = PassthroughBehavior::WhenNoMatch;
    let mut response = IntegrationResponse::new("default", "200");
    response.response_parameters =
        strings([("method.response.header.Content-Type", "'text/html'")]);
    response.response_templates = strings([(
        "text/html",
        "<html><body>Welcome to the pet store</body></html>",
    )]);
    integration.responses.push(response);

    let mut expected = Route::new(get(), "/").with_integration(integration);
    expected.method_responses = map([(
        "200",
        MethodResponse {
            response_parameters: map([("method.response.header.Content-Type", false)]),
            response_models: BTreeMap::new(),
        },
    )]);
    assert_eq!(route, &expected);
}

#[test]
fn list_pets_http_proxy_with_api_key_and_cache_settings() {
    let api = load().api;
    let route = api.route(&get(), "/pets").unwrap();

    let mut integration =
        Integration::http_proxy("http://${stageVariables.backendHost}/petstore/pets");
    integration.http_method = Some("GET".to_owned());
    integration.request_parameters = strings([
        (
            "integration.request.querystring.page",
            "method.request.querystring.page",
        ),
        (
            "integration.request.querystring.type",
            "method.request.querystring.type",
        ),
    ]);
    integration.timeout = Duration::from_millis(10_000);
    integration.cache_namespace = Some("pets".to_owned());
    integration.cache_key_parameters = vec!["method.request.querystring.type".to_owned()];

    let mut expected = Route::new(get(), "/pets").with_integration(integration);
    expected.operation_id = Some("ListPets".to_owned());
    expected.api_key_required = true;
    expected.authorization = Authorization::default();
    expected.request_parameters = map([
        ("method.request.querystring.page", true),
        ("method.request.querystring.type", false),
    ]);
    expected.method_responses = map([("200", cors_response("Pets"))]);
    assert_eq!(route, &expected);
}

#[test]
fn create_pet_has_a_body_model_and_its_own_validator() {
    let api = load().api;
    let route = api
        .route(&RouteMethod::Method(Method::POST), "/pets")
        .unwrap();
    assert_eq!(route.operation_id.as_deref(), Some("CreatePet"));
    assert_eq!(
        route.request_models,
        strings([("application/json", "NewPet")])
    );
    assert_eq!(route.request_validator.as_deref(), Some("Validate body"));
    assert!(route.request_parameters.is_empty());
    assert!(!route.api_key_required);
    assert_eq!(
        route.method_responses,
        map([("200", cors_response("NewPetResponse"))])
    );
    let integration = route.integration.as_ref().unwrap();
    assert_eq!(integration.kind, IntegrationType::HttpProxy);
    assert_eq!(integration.http_method.as_deref(), Some("POST"));
    assert_eq!(
        integration.timeout,
        gateway_core::model::DEFAULT_INTEGRATION_TIMEOUT
    );
    assert!(integration.responses.is_empty());
}

#[test]
fn cors_preflight_mock_maps_headers() {
    let api = load().api;
    let route = api
        .route(&RouteMethod::Method(Method::OPTIONS), "/pets")
        .unwrap();
    let integration = route.integration.as_ref().unwrap();
    assert_eq!(integration.kind, IntegrationType::Mock);
    assert_eq!(integration.uri, None);
    assert_eq!(integration.responses.len(), 1);
    let response = integration.default_response().unwrap();
    assert_eq!(response.status_code, "200");
    assert_eq!(
        response.response_parameters,
        strings([
            (
                "method.response.header.Access-Control-Allow-Headers",
                "'Content-Type,X-Amz-Date,Authorization,X-Api-Key'",
            ),
            (
                "method.response.header.Access-Control-Allow-Methods",
                "'POST,GET,OPTIONS'",
            ),
            ("method.response.header.Access-Control-Allow-Origin", "'*'"),
        ])
    );
    assert_eq!(
        route.method_responses["200"].response_parameters,
        map([
            ("method.response.header.Access-Control-Allow-Headers", false),
            ("method.response.header.Access-Control-Allow-Methods", false),
            ("method.response.header.Access-Control-Allow-Origin", false),
        ])
    );
    assert_eq!(
        route.method_responses["200"].response_models,
        strings([("application/json", "Empty")])
    );
}

#[test]
fn get_pet_maps_its_path_parameter() {
    let api = load().api;
    let route = api.route(&get(), "/pets/{petId}").unwrap();
    assert_eq!(
        route.request_parameters,
        map([("method.request.path.petId", true)])
    );
    let integration = route.integration.as_ref().unwrap();
    assert_eq!(
        integration.uri.as_deref(),
        Some("http://${stageVariables.backendHost}/petstore/pets/{petId}")
    );
    assert_eq!(
        integration.request_parameters,
        strings([(
            "integration.request.path.petId",
            "method.request.path.petId"
        )])
    );
}

#[test]
fn the_resource_policy_is_kept_as_written() {
    let loaded = load();
    assert_eq!(
        loaded.api.policy,
        Some(serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": "*",
                "Action": "execute-api:Invoke",
                "Resource": "execute-api:/*"
            }]
        }))
    );
    assert!(loaded.api.authorizers.is_empty());
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn strict_mode_accepts_the_export() {
    let options = LoadOptions {
        strict: true,
        ..LoadOptions::default()
    };
    let strict =
        load_file(&fixture("petstore-rest.yaml"), &options).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(strict, load());
}

#[test]
fn the_same_document_in_json_maps_to_the_same_api() {
    let text = std::fs::read_to_string(fixture("petstore-rest.yaml")).unwrap();
    let value: serde_json::Value = yaml_to_json(&text);
    let json = serde_json::to_string_pretty(&value).unwrap();
    let from_yaml = load_str(&text, "petstore.yaml", &LoadOptions::default()).unwrap();
    let from_json = load_str(&json, "petstore.json", &LoadOptions::default()).unwrap();
    assert_eq!(from_yaml.api, from_json.api);
    assert!(from_json.warnings.is_empty(), "{:?}", from_json.warnings);
}

fn yaml_to_json(text: &str) -> serde_json::Value {
    // The crate's own parser is not public; a round trip through load_str would beg
    // the question, so convert with the YAML library directly.
    yaml_serde::from_str(text).unwrap_or_else(|err| panic!("{err}"))
}
